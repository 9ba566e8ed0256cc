/* test_forward.c: the upstream request the gateway writes
 * (forward_request): which fields cross, which it adds, and the exact
 * bytes of the request line, the head and the body. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <CUnit/Basic.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "forward.h"

#define H(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOH_FWD ((const char *const[]){ NULL })

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

/* The header list of a serialized request: after "GET /x HTTP/1.1",
 * each "name: value" line up to the empty line, which must end it. */
static void
parse_head(struct evbuffer *wire, struct evkeyvalq *out)
{
	size_t n = evbuffer_get_length(wire);
	char *p = (char *)evbuffer_pullup(wire, -1), *end = p + n, *eol;
	static const char line1[] = "GET /x HTTP/1.1\r\n";

	TAILQ_INIT(out);
	CU_ASSERT_FATAL(n >= sizeof(line1) - 1 && memcmp(p, line1, sizeof(line1) - 1) == 0);
	p += sizeof(line1) - 1;
	while ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) != NULL && eol != p) {
		char *colon = memchr(p, ':', (size_t)(eol - p));
		CU_ASSERT_FATAL(colon != NULL && colon[1] == ' ');
		*colon = '\0';
		*eol = '\0';
		evhttp_add_header(out, p, colon + 2);
		p = eol + 2;
	}
	CU_ASSERT_FATAL(eol == p && eol + 2 == end);
}

/* forward_request over a header list given as name, value, ..., NULL
 * (GET /x, no body): the fields written must be want, in order. */
static void
forward(const char *const *in_kv, const struct forward_info *fi, const char *const *want)
{
	struct evkeyvalq in, out;
	struct evbuffer *wire = evbuffer_new();

	fill(&in, in_kv);
	forward_request(wire, EVHTTP_REQ_GET, "/x", &in, fi, NULL);
	parse_head(wire, &out);
	expect_list(&out, want);
	evhttp_clear_headers(&in);
	evhttp_clear_headers(&out);
	evbuffer_free(wire);
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
	/* From a trusted proxy: its list goes on, with the peer appended
	 * (the incoming field itself is still dropped, never sent twice). */
	fi.xff_chain = "198.51.100.1, 203.0.113.7";
	forward(H("X-Forwarded-For", "198.51.100.1, 203.0.113.7", "Host", "real.example"), &fi,
	    H("Host", "real.example", "X-Forwarded-For", "198.51.100.1, 203.0.113.7, 192.0.2.7",
	    "X-Forwarded-Proto", "http", "X-Forwarded-Host", "real.example", "X-Request-Id",
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

/* The whole request, byte for byte. */
static void
same_bytes(enum evhttp_cmd_type cmd, const char *uri, const char *const *kv,
    const struct forward_info *fi, const char *body, const char *want)
{
	struct evkeyvalq h;
	struct evbuffer *wire = evbuffer_new(), *b = evbuffer_new();
	size_t len;

	fill(&h, kv);
	if (body != NULL)
		evbuffer_add(b, body, strlen(body));
	forward_request(wire, cmd, uri, &h, fi, b);
	len = evbuffer_get_length(wire);
	CU_ASSERT_EQUAL(evbuffer_get_length(b), 0);	/* the body was moved */
	if (len != strlen(want) || memcmp(evbuffer_pullup(wire, -1), want, len) != 0) {
		CU_FAIL("forward_request wrote other bytes");
		fprintf(stderr, "\nwant: [%s]\ngot:  [%.*s]\n", want, (int)len,
		    evbuffer_pullup(wire, -1));
	}
	evbuffer_free(wire);
	evbuffer_free(b);
	evhttp_clear_headers(&h);
}

#define GW "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n"
#define RID "X-Request-Id: 00112233445566778899aabbccddeeff\r\n"

static void
test_bytes(void)
{
	struct forward_info fi = base_fi;

	fi.host = "h";
	same_bytes(EVHTTP_REQ_GET, "/a/b?c=d&e", H("Host", "h", "Accept", "*/*"), &fi, NULL,
	    "GET /a/b?c=d&e HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n" GW
	    "X-Forwarded-Host: h\r\n" RID "\r\n");
	fi.body_len = 5;
	fi.framed = 1;
	same_bytes(EVHTTP_REQ_POST, "/p", H("Host", "h", "Content-Length", "5"), &fi, "hello",
	    "POST /p HTTP/1.1\r\nHost: h\r\n" GW "X-Forwarded-Host: h\r\n" RID
	    "Content-Length: 5\r\n\r\nhello");
	/* POST, PUT and PATCH without a body: an explicit 0. */
	fi.host = NULL;
	fi.body_len = 0;
	fi.framed = 0;
	same_bytes(EVHTTP_REQ_PUT, "/p", H("X-A", "1"), &fi, NULL,
	    "PUT /p HTTP/1.1\r\nX-A: 1\r\nHost: up.example:8080\r\n" GW RID
	    "Content-Length: 0\r\n\r\n");
	same_bytes(EVHTTP_REQ_PATCH, "/p", H("X-A", "1"), &fi, NULL,
	    "PATCH /p HTTP/1.1\r\nX-A: 1\r\nHost: up.example:8080\r\n" GW RID
	    "Content-Length: 0\r\n\r\n");
	same_bytes(EVHTTP_REQ_HEAD, "/", H("X-A", "1"), &fi, NULL,
	    "HEAD / HTTP/1.1\r\nX-A: 1\r\nHost: up.example:8080\r\n" GW RID "\r\n");
	same_bytes(EVHTTP_REQ_DELETE, "/d", NOH_FWD, &fi, NULL,
	    "DELETE /d HTTP/1.1\r\nHost: up.example:8080\r\n" GW RID "\r\n");
	/* A chunked body streamed in the gateway's framing: the head says
	 * so and nothing else; the client's Transfer-Encoding (and any
	 * Content-Length) never crosses, nor does a body length. */
	fi.body_len = 0;
	fi.framed = 1;
	fi.chunked = 1;
	same_bytes(EVHTTP_REQ_POST, "/p", H("Transfer-Encoding", "gzip, chunked", "TE",
	    "trailers", "Content-Length", "7", "X-A", "1"), &fi, NULL,
	    "POST /p HTTP/1.1\r\nX-A: 1\r\nHost: up.example:8080\r\n" GW RID
	    "Transfer-Encoding: chunked\r\n\r\n");
	fi.body_len = 5;
	same_bytes(EVHTTP_REQ_PUT, "/p", H("X-A", "1"), &fi, NULL,
	    "PUT /p HTTP/1.1\r\nX-A: 1\r\nHost: up.example:8080\r\n" GW RID
	    "Transfer-Encoding: chunked\r\n\r\n");
	fi.chunked = 0;
	fi.framed = 0;
	fi.body_len = 0;
	/* Values as they come, odd bytes included; never reformatted. */
	same_bytes(EVHTTP_REQ_GET, "/%41?x=%25s", H("X-A", "%s %n", "X-B", "",
	    "X-C", "\t v\xc3\xa9"), &fi, NULL,
	    "GET /%41?x=%25s HTTP/1.1\r\nX-A: %s %n\r\nX-B: \r\nX-C: \t v\xc3\xa9\r\n"
	    "Host: up.example:8080\r\n" GW RID "\r\n");
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
	CU_add_test(s, "the request, byte for byte", test_bytes);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
