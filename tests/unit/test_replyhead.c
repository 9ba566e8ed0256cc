/* test_replyhead.c: the heads the gateway writes itself (replyhead.h,
 * replyhead_http.h) against what libevent's evhttp writes for the same
 * fields. A real evhttp server on 127.0.0.1 answers every case twice, once
 * through evhttp's list and evhttp_send_reply_start/chunk/end (the oracle:
 * what scopegate sent before), once through replyhead; a real socket client
 * sends the same bytes both times, the case's request followed by a
 * pipelined "Connection: close" one, and reads until the server closes.
 * The two byte streams must be equal, Date values aside (the clock), both
 * for the answer and for what evhttp does after it: keep the connection
 * for the next request or close it. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <CUnit/Basic.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "headers.h"
#include "replyhead.h"
#include "replyhead_http.h"

struct tcase {
	const char *what;
	const char *method;
	const char *extra;		/* request fields, CRLF-terminated */
	int status;
	const char *reason;
	const char *pre[8];		/* on evhttp's list before the answer: name, value, ... */
	const char *fields[24];		/* the answer's: name, value, ... */
	int draining;			/* "Connection: close" replaces the list's */
	const char *body[4];
	int delay_body;			/* body pieces 150 ms after the head */
};

static const struct tcase cases[] = {
	{ "nginx-like 200 with Content-Length", "GET", "", 200, "OK", { NULL },
	  { "Server", "nginx/1.22.1", "Date", "Mon, 07 Dec 2026 16:00:00 GMT",
	    "Content-Type", "application/json", "Content-Length", "17", NULL },
	  0, { "{\"success\":true}\n", NULL }, 0 },
	{ "client asks close", "GET", "Connection: close\r\n", 200, "OK", { NULL },
	  { "Date", "Mon, 07 Dec 2026 16:00:00 GMT", "Content-Length", "2", NULL },
	  0, { "ok", NULL }, 0 },
	{ "client asks close in capitals", "GET", "connection: CLOSE\r\n", 200, "OK", { NULL },
	  { "Content-Length", "2", NULL }, 0, { "ok", NULL }, 0 },
	{ "close not alone in the client's Connection", "GET",
	  "Connection: keep-alive, close\r\n", 200, "OK", { NULL },
	  { "Content-Length", "2", NULL }, 0, { "ok", NULL }, 0 },
	{ "second Connection field of the client says close", "GET",
	  "Connection: keep-alive\r\nConnection: close\r\n", 200, "OK", { NULL },
	  { "Content-Length", "2", NULL }, 0, { "ok", NULL }, 0 },
	{ "no Content-Length: chunked", "GET", "", 200, "OK", { NULL },
	  { "Date", "Mon, 07 Dec 2026 16:00:00 GMT", "Content-Type", "text/plain", NULL },
	  0, { "first piece", "second, longer piece of the body: 0123456789abcdef", NULL }, 0 },
	{ "chunked, client asks close", "POST", "Content-Length: 0\r\nConnection: close\r\n",
	  201, "Created", { NULL }, { "Location", "/x/1", NULL }, 0, { "made", NULL }, 0 },
	{ "chunked, no body at all", "GET", "", 200, "OK", { NULL }, { NULL }, 0, { NULL }, 0 },
	{ "no Date, no Content-Type: evhttp's", "DELETE", "", 200, "OK", { NULL },
	  { "Content-Length", "4", NULL }, 0, { "done", NULL }, 0 },
	{ "204 without length", "DELETE", "", 204, "No Content", { NULL },
	  { "Date", "Mon, 07 Dec 2026 16:00:00 GMT", "X-Thing", "1", NULL }, 0, { NULL }, 0 },
	{ "304 with ETag", "GET", "If-None-Match: \"a\"\r\n", 304, "Not Modified", { NULL },
	  { "ETag", "\"a\"", "Cache-Control", "max-age=60", NULL }, 0, { NULL }, 0 },
	{ "fields set before, X-Request-Id replaced", "GET", "", 200, "OK",
	  { "RateLimit-Limit", "10", "X-Request-Id", "early", NULL },
	  { "Content-Length", "2", "X-Request-Id", "ours", NULL }, 0, { "ok", NULL }, 0 },
	{ "draining: Connection: close on a keep-alive connection", "GET", "", 200, "OK",
	  { NULL }, { "Content-Length", "2", NULL }, 1, { "ok", NULL }, 0 },
	{ "draining, client asks close too", "GET", "Connection: close\r\n", 200, "OK",
	  { NULL }, { "Content-Length", "2", NULL }, 1, { "ok", NULL }, 0 },
	{ "Connection: close set before the answer", "GET", "", 200, "OK",
	  { "Connection", "close", NULL }, { "Content-Length", "2", NULL }, 0, { "ok", NULL }, 0 },
	{ "Proxy-Connection taken out when the client asks close", "GET",
	  "Connection: close\r\n", 200, "OK", { "Proxy-Connection", "keep-alive", NULL },
	  { "Content-Length", "2", "Proxy-Connection", "second", NULL }, 0, { "ok", NULL }, 0 },
	{ "404 with a reason of the upstream's", "GET", "", 404, "Nothing Here, Sorry", { NULL },
	  { "Content-Type", "application/problem+json", "Content-Length", "3", NULL },
	  0, { "{}\n", NULL }, 0 },
	{ "duplicate fields keep their order", "GET", "", 200, "OK", { NULL },
	  { "Set-Cookie", "a=1", "Vary", "Accept", "Set-Cookie", "b=2", "set-cookie", "c=3",
	    "Content-Length", "2", NULL }, 0, { "ok", NULL }, 0 },
	{ "empty value", "GET", "", 200, "OK", { NULL },
	  { "X-Empty", "", "Content-Length", "2", NULL }, 0, { "ok", NULL }, 0 },
	{ "slow body: the head goes out before it", "GET", "", 200, "OK", { NULL },
	  { "Content-Type", "text/event-stream", NULL }, 0,
	  { "data: one\n\n", "data: two\n\n", NULL }, 1 },
	{ "slow body with a length", "GET", "", 200, "OK", { NULL },
	  { "Content-Length", "11", NULL }, 0, { "hello world", NULL }, 1 },
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static struct event_base *base;
static int port;
static struct evbuffer *scratch;

/* A request's pending answer (for the delayed body). */
struct pending {
	struct evhttp_request *req;
	const struct tcase *c;
	int own, chunked;
};

/* The body pieces and the end, as proxy.c sends them: in own mode the
 * head's held-back CRLF goes with the first piece, or with the end. */
static void
send_body(const struct tcase *c, struct evhttp_request *req, int own, int held, int chunked)
{
	for (size_t i = 0; c->body[i] != NULL; i++) {
		if (own) {
			replyhead_http_piece(scratch, held, chunked, c->body[i], strlen(c->body[i]));
			held = 0;
		} else
			evbuffer_add(scratch, c->body[i], strlen(c->body[i]));
		evhttp_send_reply_chunk(req, scratch);
		evbuffer_drain(scratch, evbuffer_get_length(scratch));
	}
	if (own)
		replyhead_http_end(req, held, chunked, scratch);
	else
		evhttp_send_reply_end(req);
}

static void
delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	send_body(p->c, p->req, p->own, 0, p->chunked);
	free(p);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const struct tcase *c;
	struct replyhead h;
	unsigned idx, own;
	int chunked = 0;

	(void)arg;
	if (strcmp(uri, "/end") == 0) {
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	if (sscanf(uri, "/%u/%u", &idx, &own) != 2 || idx >= NCASES) {
		evhttp_send_error(req, 400, NULL);
		return;
	}
	c = &cases[idx];
	for (size_t i = 0; c->pre[i] != NULL; i += 2)
		evhttp_add_header(out, c->pre[i], c->pre[i + 1]);
	if (!own) {
		for (size_t i = 0; c->fields[i] != NULL; i += 2) {
			if (strcmp(c->fields[i], "X-Request-Id") == 0)
				evhttp_remove_header(out, "X-Request-Id");
			evhttp_add_header(out, c->fields[i], c->fields[i + 1]);
		}
		if (c->draining) {
			evhttp_remove_header(out, "Connection");
			evhttp_add_header(out, "Connection", "close");
		}
		evhttp_send_reply_start(req, c->status, c->reason);
	} else {
		replyhead_http_begin(&h, req);
		for (size_t i = 0; c->fields[i] != NULL; i += 2) {
			if (strcmp(c->fields[i], "X-Request-Id") == 0)
				replyhead_remove(&h, "X-Request-Id");
			replyhead_add(&h, c->fields[i], strlen(c->fields[i]),
			    c->fields[i + 1], strlen(c->fields[i + 1]));
		}
		if (c->draining) {
			replyhead_remove(&h, "Connection");
			replyhead_add(&h, "Connection", 10, "close", 5);
		}
		CU_ASSERT_FATAL(replyhead_http_prepare(&h, req, c->status,
		    evhttp_find_header(evhttp_request_get_input_headers(req), "Connection")) == 0);
		replyhead_http_start(&h, req, c->status, c->reason);
		chunked = h.chunked;
		/* No body in hand: the upstream's idle callback sends the
		 * head's last CRLF at once. */
		if (c->delay_body)
			replyhead_http_flush(req, scratch);
		CU_ASSERT(evbuffer_get_length(scratch) == 0);
	}
	if (c->delay_body) {
		struct pending *p = calloc(1, sizeof(*p));
		struct timeval tv = { 0, 150000 };

		CU_ASSERT_FATAL(p != NULL);
		p->req = req;
		p->c = c;
		p->own = (int)own;
		p->chunked = chunked;
		event_base_once(base, -1, EV_TIMEOUT, delayed_cb, p, &tv);
		return;
	}
	send_body(c, req, (int)own, (int)own, chunked);
}

struct exchange {
	char data[16384];
	size_t len;
	char first[4096];	/* the first read's bytes */
	size_t first_len;
};

static void
converse(unsigned idx, unsigned own, struct exchange *x)
{
	const struct tcase *c = &cases[idx];
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };
	char req[1024];
	int fd, n;
	ssize_t r;

	memset(x, 0, sizeof(*x));
	n = snprintf(req, sizeof(req), "%s /%u/%u HTTP/1.1\r\nHost: test\r\n%s\r\n"
	    "GET /end HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
	    c->method, idx, own, c->extra);
	/* In the client thread: no CU_ASSERT_FATAL (it jumps). */
	CU_ASSERT(n > 0 && (size_t)n < sizeof(req));
	if (n <= 0 || (size_t)n >= sizeof(req) || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		CU_FAIL("socket");
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || write(fd, req, (size_t)n) != n) {
		CU_FAIL("connect or write");
		close(fd);
		return;
	}
	while ((r = read(fd, x->data + x->len, sizeof(x->data) - x->len)) > 0) {
		if (x->first_len == 0) {
			x->first_len = (size_t)r < sizeof(x->first) ? (size_t)r : sizeof(x->first);
			memcpy(x->first, x->data, x->first_len);
		}
		x->len += (size_t)r;
	}
	CU_ASSERT(r == 0);	/* closed by the server, not timed out */
	close(fd);
}

/* Date values are the clock's: the same 29 characters in both. */
static void
mask_dates(struct exchange *x)
{
	char *p = x->data;

	while ((p = memmem(p, x->len - (size_t)(p - x->data), "\r\nDate: ", 8)) != NULL) {
		p += 8;
		if ((size_t)(p - x->data) + 29 <= x->len)
			memset(p, 'D', 29);
	}
}

static void *
client_main(void *arg)
{
	static struct exchange a, b;

	(void)arg;
	for (unsigned i = 0; i < NCASES; i++) {
		converse(i, 0, &a);
		converse(i, 1, &b);
		mask_dates(&a);
		mask_dates(&b);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			fprintf(stderr, "case %u (%s) differs:\n--- evhttp\n%.*s\n--- replyhead\n%.*s\n",
			    i, cases[i].what, (int)a.len, a.data, (int)b.len, b.data);
		CU_ASSERT(a.len > 0);
		CU_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
		/* A body that comes later: the head was out before it. */
		if (cases[i].delay_body) {
			const char *end = memmem(b.first, b.first_len, "\r\n\r\n", 4);

			CU_ASSERT(end != NULL && (size_t)(end + 4 - b.first) == b.first_len);
		}
	}
	event_base_loopexit(base, NULL);
	return NULL;
}

static void
test_same_bytes_as_evhttp(void)
{
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	pthread_t t;

	CU_ASSERT_FATAL(evthread_use_pthreads() == 0);
	base = event_base_new();
	CU_ASSERT_FATAL(base != NULL);
	http = evhttp_new(base);
	CU_ASSERT_FATAL(http != NULL);
	evhttp_set_default_content_type(http, HEADERS_DEFAULT_CONTENT_TYPE);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(http, request_cb, NULL);
	bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	CU_ASSERT_FATAL(bound != NULL);
	CU_ASSERT_FATAL(getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)&sin, &slen) == 0);
	port = ntohs(sin.sin_port);
	scratch = evbuffer_new();
	CU_ASSERT_FATAL(pthread_create(&t, NULL, client_main, NULL) == 0);
	event_base_dispatch(base);
	pthread_join(t, NULL);
	evbuffer_free(scratch);
	evhttp_free(http);
	event_base_free(base);
}

static size_t
fixed_date(char *buf, size_t size)
{
	return (size_t)snprintf(buf, size, "Mon, 07 Dec 2026 16:00:00 GMT");
}

/* The pure part on its own: list semantics and the bytes. */
static void
test_list_and_bytes(void)
{
	struct replyhead h;
	char out[512], line[20];
	size_t n;

	replyhead_init(&h);
	replyhead_add(&h, "A", 1, "1", 1);
	replyhead_add(&h, "b", 1, "2", 1);
	replyhead_add(&h, "a", 1, "3", 1);
	CU_ASSERT(replyhead_find(&h, "B") == &h.f[1]);
	CU_ASSERT(replyhead_remove(&h, "a") == 0);	/* the first one */
	CU_ASSERT(h.n == 2 && h.f[0].name[0] == 'b' && h.f[1].value[0] == '3');
	CU_ASSERT(replyhead_remove(&h, "c") == -1);
	CU_ASSERT(replyhead_remove(&h, "aa") == -1);
	replyhead_finish(&h, 200, NULL, "application/json", fixed_date);
	CU_ASSERT(h.chunked == 1 && h.close == 0);
	n = replyhead_write(&h, 200, "OK", 2, out);
	CU_ASSERT(n == replyhead_size(&h, "OK", 2));
	out[n] = '\0';
	CU_ASSERT_STRING_EQUAL(out, "HTTP/1.1 200 OK\r\nb: 2\r\na: 3\r\n"
	    "Transfer-Encoding: chunked\r\nDate: Mon, 07 Dec 2026 16:00:00 GMT\r\n"
	    "Content-Type: application/json\r\n\r\n");
	/* Full: the add that does not fit is dropped and says so. */
	replyhead_init(&h);
	for (size_t i = 0; i < REPLYHEAD_MAX_FIELDS; i++)
		replyhead_add(&h, "X", 1, "y", 1);
	CU_ASSERT(h.full == 0);
	replyhead_add(&h, "X", 1, "y", 1);
	CU_ASSERT(h.full == 1 && h.n == REPLYHEAD_MAX_FIELDS);
	n = replyhead_chunk_line(0x1a2b, line);
	CU_ASSERT(n == 6 && memcmp(line, "1a2b\r\n", 6) == 0);
	n = replyhead_chunk_line(1, line);
	CU_ASSERT(n == 3 && memcmp(line, "1\r\n", 3) == 0);
}

int
main(void)
{
	CU_pSuite s;
	int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("replyhead", NULL, NULL);
	CU_add_test(s, "list and bytes", test_list_and_bytes);
	CU_add_test(s, "same bytes as evhttp", test_same_bytes_as_evhttp);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;
}
