/* test_forward.c: the fields the gateway sends upstream (forward_headers)
 * and the bytes of the upstream request (forward_serialize), the latter
 * compared with what libevent's own evhttp_make_request() writes to a
 * loopback socket. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <CUnit/Basic.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "forward.h"

#define H(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void
fill(struct evkeyvalq *h, const char *const *kv)
{
	TAILQ_INIT(h);
	for (; kv[0] != NULL; kv += 2)
		CU_ASSERT_FATAL(evhttp_add_header(h, kv[0], kv[1]) == 0);
}

/* Assert the list is exactly name, value, ... in that order. */
static void
expect_list(const struct evkeyvalq *h, const char *const *kv)
{
	struct evkeyval *e;

	TAILQ_FOREACH(e, h, next) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(kv[0]);
		CU_ASSERT_STRING_EQUAL(e->key, kv[0]);
		CU_ASSERT_STRING_EQUAL(e->value, kv[1]);
		kv += 2;
	}
	CU_ASSERT_PTR_NULL(kv[0]);
}

static const struct forward_info base_fi = {
	.authority = "up.example:8080",
	.client_ip = "192.0.2.7",
	.request_id = "00112233445566778899aabbccddeeff",
};

/* forward_headers over a header list given as name, value, ..., NULL. */
static void
forward(const char *const *in_kv, const struct forward_info *fi, const char *const *want)
{
	struct evkeyvalq in, out;

	fill(&in, in_kv);
	TAILQ_INIT(&out);
	forward_headers(&in, fi, &out);
	expect_list(&out, want);
	evhttp_clear_headers(&in);
	evhttp_clear_headers(&out);
}

static void
test_plain(void)
{
	struct forward_info fi = base_fi;

	/* No Host from the client: the upstream's authority; no body, no
	 * framing: no Content-Length. */
	forward(H("Accept", "*/*"), &fi, H("Accept", "*/*", "Host", "up.example:8080",
	    "X-Forwarded-For", "192.0.2.7", "X-Forwarded-Proto", "http",
	    "X-Request-Id", "00112233445566778899aabbccddeeff"));
	fi.host = "api.example";
	fi.tls = 1;
	forward(H("Host", "api.example", "Accept", "*/*"), &fi, H("Host", "api.example",
	    "Accept", "*/*", "X-Forwarded-For", "192.0.2.7", "X-Forwarded-Proto", "https",
	    "X-Forwarded-Host", "api.example", "X-Request-Id", "00112233445566778899aabbccddeeff"));
}

static void
test_hop_by_hop(void)
{
	struct forward_info fi = base_fi;

	fi.host = "h";
	fi.h_connection = "keep-alive";
	fi.n_connection = 1;
	forward(H("Host", "h", "Connection", "keep-alive", "Keep-Alive", "timeout=5", "TE",
	    "trailers", "Trailer", "X-T", "Upgrade", "websocket", "Proxy-Authorization",
	    "Basic x", "Proxy-Connection", "close", "Transfer-Encoding", "chunked", "Expect",
	    "100-continue", "X-HTTP-Method-Override", "DELETE", "X-HTTP-Method", "DELETE",
	    "X-Method-Override", "DELETE", "X_Forwarded_For", "1.2.3.4", "X-Scopegate-Subject",
	    "admin", "Accept", "a"), &fi,
	    H("Host", "h", "Accept", "a", "X-Forwarded-For", "192.0.2.7", "X-Forwarded-Proto",
	    "http", "X-Forwarded-Host", "h", "X-Request-Id", "00112233445566778899aabbccddeeff"));
}

static void
test_connection_named(void)
{
	struct forward_info fi = base_fi;

	/* One Connection field: its tokens name fields to drop. */
	fi.h_connection = "close, X-Secret ,\tx-other";
	fi.n_connection = 1;
	forward(H("Connection", "close, X-Secret ,\tx-other", "X-Secret", "1", "X-Other", "2",
	    "X-Kept", "3"), &fi, H("X-Kept", "3", "Host", "up.example:8080", "X-Forwarded-For",
	    "192.0.2.7", "X-Forwarded-Proto", "http", "X-Request-Id",
	    "00112233445566778899aabbccddeeff"));
	/* Several: every one counts, not only the first. */
	fi.h_connection = "X-A";
	fi.n_connection = 2;
	forward(H("Connection", "X-A", "X-A", "1", "X-B", "2", "Connection", "X-B", "X-C", "3"),
	    &fi, H("X-C", "3", "Host", "up.example:8080", "X-Forwarded-For", "192.0.2.7",
	    "X-Forwarded-Proto", "http", "X-Request-Id", "00112233445566778899aabbccddeeff"));
	/* Nor can it take away what the decision was made on: the Host,
	 * the token, the body's type. */
	fi.h_connection = "Host, Authorization, Content-Type, X-Gone";
	fi.n_connection = 1;
	fi.host = "real.example";
	forward(H("Connection", "Host, Authorization, Content-Type, X-Gone", "Host",
	    "real.example", "Authorization", "Bearer t", "Content-Type", "application/json",
	    "X-Gone", "1"), &fi, H("Host", "real.example", "Authorization", "Bearer t",
	    "Content-Type", "application/json", "X-Forwarded-For", "192.0.2.7",
	    "X-Forwarded-Proto", "http", "X-Forwarded-Host", "real.example", "X-Request-Id",
	    "00112233445566778899aabbccddeeff"));
	fi.host = NULL;
	/* A Connection naming Content-Length cannot remove the gateway's own. */
	fi.h_connection = "Content-Length";
	fi.n_connection = 1;
	fi.body_len = 2;
	fi.framed = 1;
	forward(H("Connection", "Content-Length", "Content-Length", "2"), &fi,
	    H("Host", "up.example:8080", "X-Forwarded-For", "192.0.2.7", "X-Forwarded-Proto",
	    "http", "X-Request-Id", "00112233445566778899aabbccddeeff", "Content-Length", "2"));
}

static void
test_forwarded_replaced(void)
{
	struct forward_info fi = base_fi;

	fi.host = "real.example";
	forward(H("X-Forwarded-For", "10.0.0.1", "x-forwarded-proto", "https",
	    "X-Forwarded-Host", "evil.example", "Forwarded", "for=10.0.0.1", "X-Request-Id",
	    "forged", "Host", "real.example", "X-Forwarded-Port", "1"), &fi,
	    H("Host", "real.example", "X-Forwarded-For", "192.0.2.7", "X-Forwarded-Proto",
	    "http", "X-Forwarded-Host", "real.example", "X-Request-Id",
	    "00112233445566778899aabbccddeeff"));
}

static void
test_content_length(void)
{
	struct forward_info fi = base_fi;
	const char *const *tail;

	/* The client's length is never passed on: ours counts the body. */
	fi.body_len = 5;
	fi.framed = 1;
	tail = H("Host", "up.example:8080", "X-Forwarded-For", "192.0.2.7", "X-Forwarded-Proto",
	    "http", "X-Request-Id", "00112233445566778899aabbccddeeff", "Content-Length", "5");
	forward(H("Content-Length", "999"), &fi, tail);
	forward(H("Transfer-Encoding", "chunked"), &fi, tail);
	/* Framed but empty: "0"; not framed and empty: none. */
	fi.body_len = 0;
	forward(H("Content-Length", "0"), &fi, H("Host", "up.example:8080", "X-Forwarded-For",
	    "192.0.2.7", "X-Forwarded-Proto", "http", "X-Request-Id",
	    "00112233445566778899aabbccddeeff", "Content-Length", "0"));
	fi.framed = 0;
	forward(H("Accept", "a"), &fi, H("Accept", "a", "Host", "up.example:8080",
	    "X-Forwarded-For", "192.0.2.7", "X-Forwarded-Proto", "http", "X-Request-Id",
	    "00112233445566778899aabbccddeeff"));
	fi.body_len = 1048576;
	fi.framed = 1;
	forward(H("Accept", "a"), &fi, H("Accept", "a", "Host", "up.example:8080",
	    "X-Forwarded-For", "192.0.2.7", "X-Forwarded-Proto", "http", "X-Request-Id",
	    "00112233445566778899aabbccddeeff", "Content-Length", "1048576"));
}

/* What libevent's evhttp_make_request writes for the request, read from
 * a loopback listener. Returns a malloc'd buffer (*len bytes), NULL on a
 * socket failure. */
static unsigned char *
libevent_writes(enum evhttp_cmd_type cmd, const char *uri, const char *const *kv,
    const char *body, size_t *len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct event_base *base = NULL;
	struct evhttp_connection *evcon = NULL;
	struct evhttp_request *req;
	unsigned char *got = NULL;
	size_t cap = 65536;
	int lfd, cfd = -1, idle = 0;

	*len = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0)
		goto out;
	if ((base = event_base_new()) == NULL ||
	    (evcon = evhttp_connection_base_new(base, NULL, "127.0.0.1", ntohs(sa.sin_port))) == NULL ||
	    (req = evhttp_request_new(NULL, NULL)) == NULL || (got = malloc(cap)) == NULL)
		goto out;
	for (; kv[0] != NULL; kv += 2)
		evhttp_add_header(evhttp_request_get_output_headers(req), kv[0], kv[1]);
	if (body != NULL)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	if (evhttp_make_request(evcon, req, cmd, uri) != 0)
		goto out;
	/* Run the loop until the bytes stop coming (0.1 s of silence). */
	for (int i = 0; i < 400 && idle < 10; i++) {
		struct pollfd p;
		ssize_t r;

		event_base_loop(base, EVLOOP_NONBLOCK);
		if (cfd < 0)
			cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		if (cfd < 0) {
			usleep(10000);
			continue;
		}
		p.fd = cfd;
		p.events = POLLIN;
		if (poll(&p, 1, 10) == 1 && (r = read(cfd, got + *len, cap - *len)) > 0) {
			*len += (size_t)r;
			idle = 0;
		} else
			idle++;
	}
out:
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	if (evcon != NULL)
		evhttp_connection_free(evcon);
	if (base != NULL)
		event_base_free(base);
	if (*len == 0) {
		free(got);
		got = NULL;
	}
	return got;
}

/* Assert forward_serialize writes what libevent writes. */
static void
same_bytes(enum evhttp_cmd_type cmd, const char *uri, const char *const *kv, const char *body)
{
	struct evkeyvalq h;
	struct evbuffer *mine = evbuffer_new();
	unsigned char *theirs;
	size_t len, blen = body != NULL ? strlen(body) : 0;

	fill(&h, kv);
	forward_serialize(mine, cmd, uri, &h, body, blen);
	theirs = libevent_writes(cmd, uri, kv, body, &len);
	CU_ASSERT_PTR_NOT_NULL(theirs);
	if (theirs != NULL) {
		CU_ASSERT_EQUAL(len, evbuffer_get_length(mine));
		if (len != evbuffer_get_length(mine) ||
		    memcmp(theirs, evbuffer_pullup(mine, -1), len) != 0) {
			CU_FAIL("forward_serialize differs from evhttp_make_request");
			fprintf(stderr, "\nlibevent: [%.*s]\nours: [%.*s]\n", (int)len, theirs,
			    (int)evbuffer_get_length(mine), evbuffer_pullup(mine, -1));
		}
	}
	free(theirs);
	evbuffer_free(mine);
	evhttp_clear_headers(&h);
}

static void
test_serialize_like_libevent(void)
{
	same_bytes(EVHTTP_REQ_GET, "/a/b?c=d&e", H("Host", "h", "Accept", "*/*"), NULL);
	same_bytes(EVHTTP_REQ_GET, "/a", H("Host", "h", "Content-Length", "3"), "abc");
	same_bytes(EVHTTP_REQ_DELETE, "/x", H("Content-Length", "2"), "{}");
	same_bytes(EVHTTP_REQ_POST, "/p", H("Host", "h", "Content-Length", "5"), "hello");
	/* POST and PUT without a Content-Length get one, last. */
	same_bytes(EVHTTP_REQ_POST, "/p", H("Host", "h", "X-A", "1"), "abc");
	same_bytes(EVHTTP_REQ_PUT, "/p", H("Host", "h"), NULL);
	same_bytes(EVHTTP_REQ_PATCH, "/p", H("Host", "h"), "{\"a\":1}");
	same_bytes(EVHTTP_REQ_PATCH, "/p", H("content-length", "7", "Host", "h"), "{\"a\":1}");
	same_bytes(EVHTTP_REQ_HEAD, "/", H("Host", "h"), NULL);
	same_bytes(EVHTTP_REQ_OPTIONS, "/o", H("Host", "h", "Connection", "close"), NULL);
	/* Only the first Proxy-Connection is removed. */
	same_bytes(EVHTTP_REQ_GET, "/", H("Proxy-Connection", "a", "X", "1",
	    "proxy-connection", "b"), NULL);
	/* Expect: 100-continue holds the body back. */
	same_bytes(EVHTTP_REQ_POST, "/p", H("Expect", "100-continue", "Content-Length", "5"),
	    "hello");
	same_bytes(EVHTTP_REQ_POST, "/p", H("Expect", "other", "Content-Length", "5"), "hello");
	/* Values as they come, odd bytes included. */
	same_bytes(EVHTTP_REQ_GET, "/%41?x=%25s", H("X-A", "%s %n", "X-B", "",
	    "X-C", "\t v\xc3\xa9"), NULL);
}

int
main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("forward", NULL, NULL);
	CU_add_test(s, "gateway fields", test_plain);
	CU_add_test(s, "hop-by-hop and client-forbidden fields", test_hop_by_hop);
	CU_add_test(s, "fields named by Connection", test_connection_named);
	CU_add_test(s, "X-Forwarded-* and X-Request-Id replaced", test_forwarded_replaced);
	CU_add_test(s, "Content-Length recomputed", test_content_length);
	CU_add_test(s, "bytes as evhttp_make_request writes them", test_serialize_like_libevent);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
