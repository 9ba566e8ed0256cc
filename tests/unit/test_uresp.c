/* test_uresp.c: the strict HTTP/1.1 response parser. Every case is fed
 * whole, one byte at a time and split in two at every position, each piece
 * in its own exactly-sized heap copy freed right after it was fed (so the
 * sanitizer build catches a field pointing into the caller's data or a
 * read past a piece); all runs must give the same events, head, fields
 * and body bytes. The nginx and Python vectors are the exact bytes those
 * servers sent (captured once with a raw socket; no server runs here). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "chars.h"
#include "uresp.h"

#define MAX_HEAD 8192

/* What a run produced, in a form that does not depend on the splitting. */
struct outcome {
	int heads;
	int status, minor, keep_alive, has_body, chunked;
	long long cl;
	char head[4096];	/* "reason|name=value|..." */
	size_t head_len;
	char body[8192];
	size_t body_len;
	int last;		/* URESP_DONE, URESP_ERROR or URESP_MORE */
	const char *error;
	size_t consumed;
	const char *misuse;	/* a broken calling-convention promise */
};

static void
app(char *dst, size_t *len, size_t cap, const char *s, size_t n)
{
	if (*len + n > cap)
		n = cap - *len;
	memcpy(dst + *len, s, n);
	*len += n;
}

/* Record the head from r (after the pieces were freed: the fields must
 * point into r's own copy). */
static void
snapshot(const struct uresp *r, struct outcome *o)
{
	o->status = r->status;
	o->minor = r->minor;
	o->keep_alive = r->keep_alive;
	o->has_body = r->has_body;
	o->chunked = r->chunked;
	o->cl = (long long)r->content_length;
	o->head_len = 0;
	app(o->head, &o->head_len, sizeof(o->head), r->reason, r->reason_len);
	for (size_t i = 0; i < r->nfields; i++) {
		app(o->head, &o->head_len, sizeof(o->head), "|", 1);
		app(o->head, &o->head_len, sizeof(o->head), r->fields[i].name, r->fields[i].name_len);
		app(o->head, &o->head_len, sizeof(o->head), "=", 1);
		app(o->head, &o->head_len, sizeof(o->head), r->fields[i].value,
		    r->fields[i].value_len);
	}
}

/*
 * Feed in[0..len) cut at cuts[0..ncuts) (increasing), then uresp_eof when
 * eof and the response is not finished. On a reused parser when r is not
 * NULL (after uresp_reset), else on a fresh one with max_head.
 */
static void
run(const char *in, size_t len, const size_t *cuts, size_t ncuts, int head_req, int eof,
    size_t max_head, struct outcome *o)
{
	struct uresp r;
	size_t start = 0;
	int ev = URESP_MORE, terminal = 0;

	memset(o, 0, sizeof(*o));
	uresp_init(&r, max_head);
	uresp_reset(&r, head_req);
	for (size_t k = 0; k <= ncuts && !terminal; k++) {
		size_t stop = k < ncuts ? cuts[k] : len, plen = stop - start, off = 0;
		char *piece = malloc(plen ? plen : 1);
		int guard = 0;

		memcpy(piece, in + start, plen);
		for (;;) {
			const char *body;
			size_t used, blen;

			ev = uresp_feed(&r, piece + off, plen - off, &used, &body, &blen);
			if (used > plen - off)
				o->misuse = "used past the input";
			if (++guard > 100000) {
				o->misuse = "no progress";
				break;
			}
			if (ev == URESP_BODY) {
				/* The piece ends where the consumed bytes end (chunk
				 * framing may precede it). */
				if (blen == 0 || blen > used || body != piece + off + used - blen)
					o->misuse = "body piece not inside the consumed input";
				app(o->body, &o->body_len, sizeof(o->body), body, blen);
			} else if (blen != 0 || body != NULL)
				o->misuse = "body set on a non-body event";
			off += used;
			o->consumed += used;
			if (ev == URESP_HEAD && ++o->heads > 1)
				o->misuse = "two heads";
			if (ev == URESP_MORE) {
				if (off != plen)
					o->misuse = "MORE without consuming everything";
				break;
			}
			if (ev == URESP_DONE || ev == URESP_ERROR) {
				terminal = 1;
				break;
			}
		}
		free(piece);
		start = stop;
	}
	if (!terminal && eof)
		ev = uresp_eof(&r);
	o->last = ev;
	o->error = ev == URESP_ERROR ? r.error : NULL;
	if (ev == URESP_ERROR && r.error == NULL)
		o->misuse = "error without a message";
	if (o->heads)
		snapshot(&r, o);
	uresp_free(&r);
}

static int
same(const struct outcome *a, const struct outcome *b)
{
	return a->heads == b->heads && a->status == b->status && a->minor == b->minor &&
	    a->keep_alive == b->keep_alive && a->has_body == b->has_body &&
	    a->chunked == b->chunked && a->cl == b->cl && a->head_len == b->head_len &&
	    memcmp(a->head, b->head, a->head_len) == 0 && a->body_len == b->body_len &&
	    memcmp(a->body, b->body, a->body_len) == 0 && a->last == b->last &&
	    a->error == b->error && a->misuse == NULL &&
	    (a->last == URESP_ERROR || a->consumed == b->consumed) &&
	    b->misuse == NULL;
}

/* Run whole, byte by byte and split at every position; all must agree.
 * Fills *whole; returns 0 when every run agreed. */
static int
run_all(const char *name, const char *in, size_t len, int head_req, int eof, size_t max_head,
    struct outcome *whole)
{
	static struct outcome other;
	size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));
	int bad = 0;

	run(in, len, NULL, 0, head_req, eof, max_head, whole);
	if (whole->misuse != NULL) {
		fprintf(stderr, "\n  %s: whole: %s\n", name, whole->misuse);
		bad = 1;
	}
	for (size_t i = 1; i < len; i++)
		cuts[i - 1] = i;
	run(in, len, cuts, len ? len - 1 : 0, head_req, eof, max_head, &other);
	if (!same(whole, &other)) {
		fprintf(stderr, "\n  %s: byte-by-byte differs (%s)\n", name,
		    other.misuse ? other.misuse : "outcome");
		bad = 1;
	}
	for (size_t i = 1; i < len && !bad; i++) {
		run(in, len, &i, 1, head_req, eof, max_head, &other);
		if (!same(whole, &other)) {
			fprintf(stderr, "\n  %s: split at %zu differs (%s)\n", name, i,
			    other.misuse ? other.misuse : "outcome");
			bad = 1;
		}
	}
	free(cuts);
	return bad ? -1 : 0;
}

/* ---- Real-world vectors (exact bytes, see the file comment). ---- */

/* nginx 1.22.1: location /ok { default_type application/json;
 * return 200 '{"success":true}'; } */
#define NGINX_200                                                       \
	"HTTP/1.1 200 OK\r\n"                                           \
	"Server: nginx/1.22.1\r\n"                                      \
	"Date: Sun, 29 Nov 2026 07:34:41 GMT\r\n"                       \
	"Content-Type: application/json\r\n"                            \
	"Content-Length: 16\r\n"                                        \
	"Connection: keep-alive\r\n"                                    \
	"\r\n"                                                          \
	"{\"success\":true}"
#define NGINX_200_FIELDS                                                \
	"OK|Server=nginx/1.22.1|Date=Sun, 29 Nov 2026 07:34:41 GMT"     \
	"|Content-Type=application/json|Content-Length=16|Connection=keep-alive"
/* The same location, HEAD request. */
#define NGINX_HEAD                                                      \
	"HTTP/1.1 200 OK\r\n"                                           \
	"Server: nginx/1.22.1\r\n"                                      \
	"Date: Sun, 29 Nov 2026 07:34:44 GMT\r\n"                       \
	"Content-Type: application/json\r\n"                            \
	"Content-Length: 16\r\n"                                        \
	"Connection: keep-alive\r\n"                                    \
	"\r\n"
/* location /nc { return 204; } */
#define NGINX_204                                                       \
	"HTTP/1.1 204 No Content\r\n"                                   \
	"Server: nginx/1.22.1\r\n"                                      \
	"Date: Sun, 29 Nov 2026 07:34:42 GMT\r\n"                       \
	"Connection: keep-alive\r\n"                                    \
	"\r\n"
/* A missing file: nginx's own 404 page. */
#define NGINX_404_BODY                                                  \
	"<html>\r\n"                                                    \
	"<head><title>404 Not Found</title></head>\r\n"                 \
	"<body>\r\n"                                                    \
	"<center><h1>404 Not Found</h1></center>\r\n"                   \
	"<hr><center>nginx/1.22.1</center>\r\n"                         \
	"</body>\r\n"                                                   \
	"</html>\r\n"
#define NGINX_404                                                       \
	"HTTP/1.1 404 Not Found\r\n"                                    \
	"Server: nginx/1.22.1\r\n"                                      \
	"Date: Sun, 29 Nov 2026 07:34:45 GMT\r\n"                       \
	"Content-Type: text/html\r\n"                                   \
	"Content-Length: 153\r\n"                                       \
	"Connection: keep-alive\r\n"                                    \
	"\r\n" NGINX_404_BODY
/* nginx chunks on its own when gzip drops the length: location /gz
 * { gzip on; gzip_min_length 1; gzip_types application/json; return 200
 * '{"success":true}'; }, request with Accept-Encoding: gzip. */
#define NGINX_GZ_BODY                                                   \
	"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\x03\xabV*.MNN-.V\xb2*)*M" \
	"\xad\x05\x00\xdf\xf7\xf6" "f\x10\x00\x00\x00"
#define NGINX_GZ                                                        \
	"HTTP/1.1 200 OK\r\n"                                           \
	"Server: nginx/1.22.1\r\n"                                      \
	"Date: Sun, 29 Nov 2026 07:34:48 GMT\r\n"                       \
	"Content-Type: application/json\r\n"                            \
	"Transfer-Encoding: chunked\r\n"                                \
	"Connection: keep-alive\r\n"                                    \
	"Content-Encoding: gzip\r\n"                                    \
	"\r\n"                                                          \
	"24\r\n" NGINX_GZ_BODY "\r\n"                                   \
	"0\r\n"                                                         \
	"\r\n"
/* Python 3.11 http.server, a handler writing two chunks itself. */
#define PYTHON_CHUNKED                                                  \
	"HTTP/1.1 200 OK\r\n"                                           \
	"Server: BaseHTTP/0.6 Python/3.11.7\r\n"                        \
	"Date: Sun, 29 Nov 2026 07:34:51 GMT\r\n"                       \
	"Content-Type: application/json\r\n"                            \
	"Transfer-Encoding: chunked\r\n"                                \
	"\r\n"                                                          \
	"b\r\n{\"success\":\r\n5\r\ntrue}\r\n0\r\n\r\n"

/* ---- The case table. ---- */

#define X_HEAD 1		/* the request was HEAD */
#define X_EOF 2			/* the upstream closes after the bytes */

struct tcase {
	const char *name;
	const char *in;
	size_t len;
	int flags;
	size_t max_head;	/* 0: MAX_HEAD */
	int want;		/* URESP_DONE, URESP_ERROR or URESP_MORE */
	const char *err;	/* URESP_ERROR: a substring of r->error */
	int status;		/* 0: no head expected */
	const char *body;	/* NULL: "" */
	size_t body_len;
	int ka, hb, ch;
	long long cl;
	size_t rest;		/* bytes left unconsumed after DONE */
	const char *head;	/* NULL: not checked; else "reason|name=value..." */
};

#define B(s) s, sizeof(s) - 1
/* A complete response: status, body, keep-alive, has_body, chunked, CL. */
#define OK(n, in, st, body, ka, hb, ch, cl) \
	{ n, B(in), 0, 0, URESP_DONE, NULL, st, B(body), ka, hb, ch, cl, 0, NULL }
#define OKF(n, in, fl, st, body, ka, hb, ch, cl, rest) \
	{ n, B(in), fl, 0, URESP_DONE, NULL, st, B(body), ka, hb, ch, cl, rest, NULL }
#define OKH(n, in, st, body, ka, hb, ch, cl, head) \
	{ n, B(in), 0, 0, URESP_DONE, NULL, st, B(body), ka, hb, ch, cl, 0, head }
#define ERR(n, in, msg) { n, B(in), 0, 0, URESP_ERROR, msg, 0, B(""), 0, 0, 0, 0, 0, NULL }
/* An error after a valid head. */
#define ERRB(n, in, fl, msg, st, body) \
	{ n, B(in), fl, 0, URESP_ERROR, msg, st, B(body), -1, -1, -1, -2, 0, NULL }

#define H11 "HTTP/1.1 200 OK\r\n"
#define TE "Transfer-Encoding: chunked\r\n"
#define F10 "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\nJ: 10\r\n"
#define F100 F10 F10 F10 F10 F10 F10 F10 F10 F10 F10
#define C100 "HTTP/1.1 100 Continue\r\n\r\n"
#define S16 "0123456789abcdef"

static const struct tcase cases[] = {
	/* Real servers. */
	OKH("nginx 200 JSON", NGINX_200, 200, "{\"success\":true}", 1, 1, 0, 16, NGINX_200_FIELDS),
	OKF("nginx HEAD", NGINX_HEAD, X_HEAD, 200, "", 1, 0, 0, 16, 0),
	OK("nginx 204", NGINX_204, 204, "", 1, 0, 0, -1),
	OK("nginx 404 page", NGINX_404, 404, NGINX_404_BODY, 1, 1, 0, 153),
	OK("nginx chunked (gzip)", NGINX_GZ, 200, NGINX_GZ_BODY, 1, 1, 1, -1),
	OK("python chunked", PYTHON_CHUNKED, 200, "{\"success\":true}", 1, 1, 1, -1),

	/* Status line. */
	OKH("empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 200, "", 1, 1, 0, 0,
	    "|Content-Length=0"),
	OKH("reason with HTAB and obs-text", "HTTP/1.1 200 All\tgood \xc3\xa9 \r\n"
	    "Content-Length: 0\r\n\r\n", 200, "", 1, 1, 0, 0,
	    "All\tgood \xc3\xa9 |Content-Length=0"),
	OK("status 599", "HTTP/1.1 599 X\r\nContent-Length: 1\r\n\r\nx", 599, "x", 1, 1, 0, 1),
	OK("HTTP/1.0 with length", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", 200, "hi",
	    0, 1, 0, 2),
	ERR("HTTP/1.1 200 without SP", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	    "expected SP after status code"),
	ERR("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", "unsupported HTTP version"),
	ERR("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", "malformed status line"),
	ERR("HTTP/1.10", "HTTP/1.10 200 OK\r\n\r\n", "expected SP after version"),
	ERR("lowercase version", "http/1.1 200 OK\r\n\r\n", "malformed status line"),
	ERR("leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n", "malformed status line"),
	ERR("two spaces", "HTTP/1.1  200 OK\r\n\r\n", "malformed status code"),
	ERR("status not digits", "HTTP/1.1 2x0 OK\r\n\r\n", "malformed status code"),
	ERR("four digits", "HTTP/1.1 2000 OK\r\n\r\n", "expected SP after status code"),
	ERR("status 099", "HTTP/1.1 099 X\r\n\r\n", "out of range"),
	ERR("status 600", "HTTP/1.1 600 X\r\n\r\n", "out of range"),
	ERR("101 upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
	    "101"),
	ERR("bare LF after status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
	    "bare LF"),
	ERR("bare CR after status line", "HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n",
	    "bare CR"),
	ERR("CTL in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", "control character in reason"),
	{ "NUL in reason", B("HTTP/1.1 200 O\0K\r\n\r\n"), 0, 0, URESP_ERROR,
	  "control character in reason", 0, B(""), 0, 0, 0, 0, 0, NULL },
	ERR("DEL in reason", "HTTP/1.1 200 O\x7fK\r\n\r\n", "control character in reason"),

	/* Interim responses. */
	OKH("100 Continue then 200", C100 H11 "Content-Length: 2\r\n\r\nok", 200, "ok", 1, 1, 0,
	    2, "OK|Content-Length=2"),
	OKH("103 Early Hints fields discarded", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
	    H11 "X: y\r\nContent-Length: 0\r\n\r\n", 200, "", 1, 1, 0, 0, "OK|X=y|Content-Length=0"),
	OK("two 100 then 204", C100 C100 "HTTP/1.1 204 No Content\r\n\r\n", 204, "", 1, 0, 0, -1),
	ERR("nine interim heads", C100 C100 C100 C100 C100 C100 C100 C100 C100 H11 "\r\n",
	    "interim"),
	ERR("bad field in an interim head", "HTTP/1.1 100 Continue\r\nX : y\r\n\r\n" H11 "\r\n",
	    "whitespace between field name and colon"),

	/* Bodies that end with the head. */
	OKF("HEAD with CL and pipelined bytes", H11 "Content-Length: 16\r\n\r\nHTTP/1.1", X_HEAD,
	    200, "", 1, 0, 0, 16, 8),
	OKF("HEAD with TE", H11 TE "\r\n", X_HEAD, 200, "", 1, 0, 0, -1, 0),
	OKF("204 with CL", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", 0, 204,
	    "", 1, 0, 0, 5, 5),
	OKF("304 with CL", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\nxx", 0, 304, "",
	    1, 0, 0, 99, 2),
	OK("CL 0", H11 "Content-Length: 0\r\n\r\n", 200, "", 1, 1, 0, 0),
	ERR("204 with CL and TE", "HTTP/1.1 204 No\r\nContent-Length: 0\r\n" TE "\r\n",
	    "both Content-Length and Transfer-Encoding"),

	/* Content-Length. */
	OKF("pipelined bytes after CL body not consumed", H11 "Content-Length: 3\r\n\r\nabcHTTP/1.1 200",
	    0, 200, "abc", 1, 1, 0, 3, 12),
	OKF("smuggled second response after CL 0", H11 "Content-Length: 0\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 200, "", 1, 1, 0, 0, 38),
	OK("CL leading zeros and OWS", H11 "Content-Length: \t 0003 \r\n\r\nabc", 200, "abc", 1, 1,
	    0, 3),
	{ "CL 2^62 accepted", B(H11 "Content-Length: 4611686018427387904\r\n\r\nab"), 0, 0,
	  URESP_MORE, NULL, 200, B("ab"), 1, 1, 0, 4611686018427387904LL, 0, NULL },
	ERR("CL 2^62+1", H11 "Content-Length: 4611686018427387905\r\n\r\n", "invalid Content-Length"),
	ERR("CL 20 digits", H11 "Content-Length: 99999999999999999999\r\n\r\n",
	    "invalid Content-Length"),
	ERR("two CL, same value", H11 "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx",
	    "more than one Content-Length"),
	ERR("two CL, other case", H11 "content-length: 1\r\nCONTENT-LENGTH: 2\r\n\r\nx",
	    "more than one Content-Length"),
	ERR("CL list", H11 "Content-Length: 5, 5\r\n\r\nhello", "invalid Content-Length"),
	ERR("CL plus", H11 "Content-Length: +5\r\n\r\nhello", "invalid Content-Length"),
	ERR("CL negative", H11 "Content-Length: -1\r\n\r\n", "invalid Content-Length"),
	ERR("CL empty", H11 "Content-Length:\r\n\r\n", "invalid Content-Length"),
	ERR("CL hex", H11 "Content-Length: 0x10\r\n\r\n", "invalid Content-Length"),
	ERR("CL inner space", H11 "Content-Length: 1 2\r\n\r\n", "invalid Content-Length"),

	/* Transfer-Encoding and smuggling. */
	ERR("CL then TE", H11 "Content-Length: 5\r\n" TE "\r\n0\r\n\r\n",
	    "both Content-Length and Transfer-Encoding"),
	ERR("TE then CL", H11 TE "Content-Length: 5\r\n\r\n0\r\n\r\n",
	    "both Content-Length and Transfer-Encoding"),
	ERR("TE chunked, chunked", H11 "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
	    "other than \"chunked\""),
	ERR("two TE fields", H11 TE TE "\r\n0\r\n\r\n", "more than one Transfer-Encoding"),
	ERR("TE x-chunked", H11 "Transfer-Encoding: x-chunked\r\n\r\n", "other than"),
	ERR("TE chunkedx", H11 "Transfer-Encoding: chunkedx\r\n\r\n", "other than"),
	ERR("TE gzip, chunked", H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", "other than"),
	ERR("TE identity", H11 "Transfer-Encoding: identity\r\n\r\nabc", "other than"),
	ERR("TE empty", H11 "Transfer-Encoding:\r\n\r\n", "other than"),
	ERR("TE in HTTP/1.0", "HTTP/1.0 200 OK\r\n" TE "\r\n0\r\n\r\n", "HTTP/1.0"),
	OK("TE with OWS and case", H11 "Transfer-Encoding: \t ChUnKeD \r\n\r\n0\r\n\r\n", 200, "",
	    1, 1, 1, -1),
	ERR("space before colon", H11 "Content-Length : 5\r\n\r\nhello",
	    "whitespace between field name and colon"),
	ERR("tab before colon", H11 "Transfer-Encoding\t: chunked\r\n\r\n",
	    "whitespace between field name and colon"),
	ERR("obs-fold SP", H11 "X: a\r\n b\r\nContent-Length: 0\r\n\r\n", "obs-fold"),
	ERR("obs-fold HTAB", H11 "Transfer-Encoding:\r\n\tchunked\r\n\r\n", "obs-fold"),
	ERR("obs-fold first line", H11 " X: a\r\n\r\n", "obs-fold"),
	{ "NUL in value", B(H11 "X: a\0b\r\nContent-Length: 0\r\n\r\n"), 0, 0, URESP_ERROR,
	  "NUL in field value", 0, B(""), 0, 0, 0, 0, 0, NULL },
	ERR("CTL in value", H11 "X: a\x01\r\n\r\n", "control character in field value"),
	ERR("DEL in value", H11 "X: a\x7f\r\n\r\n", "control character in field value"),
	ERR("bare CR in value", H11 "X: a\rContent-Length: 0\r\n\r\n", "bare CR"),
	ERR("bare CR at line end", H11 "X: a\r\r\n\r\n", "bare CR"),
	ERR("bare LF after field", H11 "X: a\nContent-Length: 0\r\n\r\n", "bare LF"),
	ERR("bare LF ending the head", H11 "Content-Length: 0\r\n\n", "bare LF"),
	ERR("CR CR LF ending the head", H11 "Content-Length: 0\r\n\r\r\n", "bare CR"),
	ERR("empty field name", H11 ": a\r\n\r\n", "invalid character in field name"),
	ERR("field without colon", H11 "nocolon\r\n\r\n", "without colon"),
	ERR("non-token name", H11 "X(y): 1\r\n\r\n", "invalid character in field name"),
	ERR("obs-text in name", H11 "X\xc3\xa9: 1\r\n\r\n", "invalid character in field name"),
	OKH("value OWS trimmed, inner kept", H11 "X-A:  a \t b \t\r\nX-B:\r\nX-C: \t \r\n"
	    "X-D:\xff\r\nContent-Length: 0\r\n\r\n", 200, "", 1, 1, 0, 0,
	    "OK|X-A=a \t b|X-B=|X-C=|X-D=\xff|Content-Length=0"),

	/* Connection. */
	OK("Connection: close", H11 "Connection: close\r\nContent-Length: 0\r\n\r\n", 200, "", 0,
	    1, 0, 0),
	OK("Connection list with Close", H11 "Connection: keep-alive , Close\r\n"
	    "Content-Length: 0\r\n\r\n", 200, "", 0, 1, 0, 0),
	OK("second Connection field", H11 "Connection: foo\r\nconnection: close\r\n"
	    "Content-Length: 0\r\n\r\n", 200, "", 0, 1, 0, 0),
	OK("Connection: closed is not close", H11 "Connection: closed, xclose\r\n"
	    "Content-Length: 0\r\n\r\n", 200, "", 1, 1, 0, 0),
	OK("HTTP/1.0 keep-alive ignored", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
	    "Content-Length: 0\r\n\r\n", 200, "", 0, 1, 0, 0),

	/* Body delimited by the close. */
	OKF("body until close", H11 "Content-Type: text/plain\r\n\r\nall of it", X_EOF, 200,
	    "all of it", 0, 1, 0, -1, 0),
	OKF("HTTP/1.0 body until close", "HTTP/1.0 200 OK\r\n\r\nx", X_EOF, 200, "x", 0, 1, 0, -1,
	    0),
	OKF("empty body until close", H11 "\r\n", X_EOF, 200, "", 0, 1, 0, -1, 0),
	{ "body until close, no EOF yet", B(H11 "\r\nabc"), 0, 0, URESP_MORE, NULL, 200, B("abc"),
	  0, 1, 0, -1, 0, NULL },

	/* EOF before the end. */
	{ "EOF before any byte", B(""), X_EOF, 0, URESP_ERROR, "before responding", 0, B(""), 0,
	  0, 0, 0, 0, NULL },
	{ "EOF mid status line", B("HTTP/1.1 2"), X_EOF, 0, URESP_ERROR, "mid-response (head)", 0,
	  B(""), 0, 0, 0, 0, 0, NULL },
	{ "EOF mid head", B(H11 "Content-Le"), X_EOF, 0, URESP_ERROR, "mid-response (head)", 0,
	  B(""), 0, 0, 0, 0, 0, NULL },
	{ "EOF after an interim head", B(C100), X_EOF, 0, URESP_ERROR, "mid-response (head)", 0,
	  B(""), 0, 0, 0, 0, 0, NULL },
	ERRB("EOF mid CL body", H11 "Content-Length: 10\r\n\r\nabc", X_EOF,
	     "mid-response (Content-Length body)", 200, "abc"),
	ERRB("EOF mid chunk", H11 TE "\r\n5\r\nabc", X_EOF, "mid-response (chunked body)", 200,
	     "abc"),
	ERRB("EOF before last chunk", H11 TE "\r\n3\r\nabc\r\n", X_EOF,
	     "mid-response (chunked body)", 200, "abc"),
	ERRB("EOF in trailers", H11 TE "\r\n0\r\nX: 1\r\n", X_EOF,
	     "mid-response (chunked body)", 200, ""),

	/* Chunked. */
	OK("uppercase hex", H11 TE "\r\nA\r\n0123456789\r\n0\r\n\r\n", 200, "0123456789", 1, 1, 1,
	   -1),
	OK("leading zeros", H11 TE "\r\n0003\r\nabc\r\n000\r\n\r\n", 200, "abc", 1, 1, 1, -1),
	OK("15 hex digits", H11 TE "\r\n000000000000003\r\nabc\r\n0\r\n\r\n", 200, "abc", 1, 1, 1,
	   -1),
	OK("chunk extensions", H11 TE "\r\n3;a=b;c=\"d e\"\r\nabc\r\n0;last\r\n\r\n", 200, "abc",
	   1, 1, 1, -1),
	OK("empty extension", H11 TE "\r\n3;\r\nabc\r\n0\r\n\r\n", 200, "abc", 1, 1, 1, -1),
	OK("trailers", H11 TE "\r\n3\r\nabc\r\n0\r\nX-Checksum: 1\r\nY:\r\n\r\n", 200, "abc", 1, 1,
	   1, -1),
	OK("many chunks", H11 TE "\r\n1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n1\r\n\r\r\n0\r\n\r\n", 200,
	   "abcdef\r", 1, 1, 1, -1),
	OK("fake response inside chunk data", H11 TE "\r\n13\r\nHTTP/1.1 200 OK\r\n\r\n\r\n0\r\n\r\n",
	   200, "HTTP/1.1 200 OK\r\n\r\n", 1, 1, 1, -1),
	OKF("pipelined bytes after last chunk", H11 TE "\r\n0\r\n\r\nHTTP", 0, 200, "", 1, 1, 1,
	    -1, 4),
	ERRB("chunk size 0x5", H11 TE "\r\n0x5\r\nhello\r\n0\r\n\r\n", 0, "invalid chunk size",
	     200, ""),
	ERRB("chunk size negative", H11 TE "\r\n-5\r\nhello\r\n0\r\n\r\n", 0, "invalid chunk size",
	     200, ""),
	ERRB("chunk size plus", H11 TE "\r\n+5\r\nhello\r\n0\r\n\r\n", 0, "invalid chunk size", 200,
	     ""),
	ERRB("chunk size leading space", H11 TE "\r\n 5\r\nhello\r\n0\r\n\r\n", 0,
	     "invalid chunk size", 200, ""),
	ERRB("chunk size trailing space", H11 TE "\r\n5 \r\nhello\r\n0\r\n\r\n", 0,
	     "invalid chunk size", 200, ""),
	ERRB("space before extension", H11 TE "\r\n5 ;a\r\nhello\r\n0\r\n\r\n", 0,
	     "invalid chunk size", 200, ""),
	ERRB("empty chunk size", H11 TE "\r\n\r\n", 0, "invalid chunk size", 200, ""),
	ERRB("16 hex digits", H11 TE "\r\n0000000000000005\r\nhello\r\n0\r\n\r\n", 0,
	     "chunk size too large", 200, ""),
	ERRB("chunk size overflow", H11 TE "\r\nffffffffffffffffffff\r\n", 0,
	     "chunk size too large", 200, ""),
	ERRB("chunk data without CRLF", H11 TE "\r\n5\r\nhelloX\r\n0\r\n\r\n", 0,
	     "missing CRLF after chunk data", 200, "hello"),
	ERRB("chunk data with LF only", H11 TE "\r\n5\r\nhello\n0\r\n\r\n", 0,
	     "missing CRLF after chunk data", 200, "hello"),
	ERRB("chunk data with CR only", H11 TE "\r\n5\r\nhello\r0\r\n\r\n", 0,
	     "missing CRLF after chunk data", 200, "hello"),
	ERRB("chunk longer than its size", H11 TE "\r\n3\r\nhello\r\n0\r\n\r\n", 0,
	     "missing CRLF after chunk data", 200, "hel"),
	ERRB("bare LF after chunk size", H11 TE "\r\n5\nhello\r\n0\r\n\r\n", 0,
	     "invalid chunk size", 200, ""),
	ERRB("bare CR after chunk size", H11 TE "\r\n5\rhello\r\n0\r\n\r\n", 0, "bare CR", 200, ""),
	ERRB("CTL in extension", H11 TE "\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", 0,
	     "control character in chunk extension", 200, ""),
	ERRB("bare LF in extension", H11 TE "\r\n5;a\nhello\r\n0\r\n\r\n", 0, "bare LF", 200, ""),
	ERRB("trailer obs-fold", H11 TE "\r\n0\r\nX: a\r\n b\r\n\r\n", 0, "obs-fold", 200, ""),
	ERRB("trailer without colon", H11 TE "\r\n0\r\nX\r\n\r\n", 0, "without colon", 200, ""),
	ERRB("trailer space before colon", H11 TE "\r\n0\r\nX : a\r\n\r\n", 0,
	     "whitespace between field name and colon", 200, ""),
	{ "trailer NUL", B(H11 TE "\r\n0\r\nX: \0\r\n\r\n"), 0, 0, URESP_ERROR,
	  "NUL in field value", 200, B(""), -1, -1, -1, -2, 0, NULL },
	ERRB("trailer bare LF", H11 TE "\r\n0\r\nX: a\n\r\n", 0, "bare LF", 200, ""),
	ERRB("trailers end with bare LF", H11 TE "\r\n0\r\n\n", 0, "bare LF", 200, ""),
	ERRB("101 trailer fields", H11 TE "\r\n0\r\n" F100 "K: 1\r\n\r\n", 0, "too many fields",
	     200, ""),

	/* Limits. */
	OKF("100 fields", H11 F100 "\r\n", X_EOF, 200, "", 0, 1, 0, -1, 0),
	ERR("101 fields", H11 F100 "K: 1\r\n\r\n", "too many fields"),
	{ "head of exactly max_head bytes", B(H11 "Content-Length: 1\r\n\r\nx"), 0, 38, URESP_DONE,
	  NULL, 200, B("x"), 1, 1, 0, 1, 0, NULL },
	{ "head one byte over max_head", B(H11 "Content-Length: 1\r\n\r\nx"), 0, 37, URESP_ERROR,
	  "response head too large", 0, B(""), 0, 0, 0, 0, 0, NULL },
	{ "big status line", B("HTTP/1.1 200 OOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOO"), 0, 32,
	  URESP_ERROR, "response head too large", 0, B(""), 0, 0, 0, 0, 0, NULL },
	{ "each interim head has its own limit", B(C100 C100 H11 "\r\n"), X_EOF, 26, URESP_DONE,
	  NULL, 200, B(""), 0, 1, 0, -1, 0, NULL },
	{ "trailer section of exactly max_head bytes", B(H11 TE "\r\n0\r\nX-T: " S16 S16 S16
	  "1234567\r\n\r\n"), 0, 64, URESP_DONE, NULL, 200, B(""), 1, 1, 1, -1, 0, NULL },
	{ "trailer section one byte over max_head", B(H11 TE "\r\n0\r\nX-T: " S16 S16 S16
	  "12345678\r\n\r\n"), 0, 64, URESP_ERROR, "trailer section too large", 200, B(""),
	  -1, -1, -1, -2, 0, NULL },
	{ "chunk extension of max_head bytes", B(H11 TE "\r\n1;" S16 S16 S16 S16 "\r\nx\r\n"
	  "0\r\n\r\n"), 0, 64, URESP_DONE, NULL, 200, B("x"), 1, 1, 1, -1, 0, NULL },
	{ "chunk extension over max_head", B(H11 TE "\r\n1;" S16 S16 S16 S16 "a\r\nx\r\n"
	  "0\r\n\r\n"), 0, 64, URESP_ERROR, "chunk extension too long", 200, B(""), -1, -1,
	  -1, -2, 0, NULL },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Compare an outcome with the expectations of its case. */
static int
expected(const struct tcase *c, const struct outcome *o)
{
	const char *why = NULL;

	if (o->last != c->want)
		why = "event";
	else if (c->want == URESP_ERROR && (o->error == NULL || strstr(o->error, c->err) == NULL))
		why = "error message";
	else if (o->heads != (c->status != 0))
		why = "head count";
	else if (o->body_len != c->body_len || memcmp(o->body, c->body, c->body_len) != 0)
		why = "body";
	else if (c->status && o->status != c->status)
		why = "status";
	else if (c->status && c->ka >= 0 &&
	    (o->keep_alive != c->ka || o->has_body != c->hb || o->chunked != c->ch))
		why = "keep_alive/has_body/chunked";
	else if (c->status && c->cl != -2 && o->cl != c->cl)
		why = "content_length";
	else if (c->want == URESP_DONE && o->consumed != c->len - c->rest)
		why = "consumed";
	else if (c->want == URESP_MORE && o->consumed != c->len)
		why = "consumed";
	else if (c->head != NULL &&
	    (o->head_len != strlen(c->head) || memcmp(o->head, c->head, o->head_len) != 0))
		why = "reason/fields";
	if (why != NULL)
		fprintf(stderr, "\n  %s: wrong %s (event %d, error %s)\n", c->name, why, o->last,
		    o->error ? o->error : "-");
	return why == NULL;
}

static void
test_cases(void)
{
	static struct outcome o;

	for (size_t i = 0; i < NCASES; i++) {
		const struct tcase *c = &cases[i];
		int ok = run_all(c->name, c->in, c->len, (c->flags & X_HEAD) != 0,
		    (c->flags & X_EOF) != 0, c->max_head ? c->max_head : MAX_HEAD, &o) == 0;

		CU_ASSERT(ok);
		CU_ASSERT(expected(c, &o));
	}
}

/* Every byte, in a field name and in a field value, in the head and in
 * the trailers: the same verdict in both places, and the RFC's classes. */
static void
test_byte_classes(void)
{
	static struct outcome o;
	char in[128];

	for (int b = 0; b < 256; b++) {
		for (int where = 0; where < 2; where++) {
			/* "X:Y: v" is the field X with the value "Y: v". */
			int name_ok = chars_is_tchar(b) || b == ':';
			int value_ok = b == '\t' || b == ' ' || (b >= 0x21 && b <= 0x7e) || b >= 0x80;
			int n;

			/* In a name: "X<b>Y: v". */
			n = snprintf(in, sizeof(in), where ? H11 TE "\r\n0\r\nX%cY: v\r\n\r\n" :
			    H11 "X%cY: v\r\nContent-Length: 0\r\n\r\n", b);
			run(in, (size_t)n, NULL, 0, 0, 0, MAX_HEAD, &o);
			if ((o.last == URESP_DONE) != name_ok)
				fprintf(stderr, "\n  byte 0x%02x in a %s name: %d\n", b,
				    where ? "trailer" : "header", o.last);
			CU_ASSERT((o.last == URESP_DONE) == name_ok);

			/* In a value: "X: a<b>z". */
			n = snprintf(in, sizeof(in), where ? H11 TE "\r\n0\r\nX: a%cz\r\n\r\n" :
			    H11 "X: a%cz\r\nContent-Length: 0\r\n\r\n", b);
			run(in, (size_t)n, NULL, 0, 0, 0, MAX_HEAD, &o);
			if ((o.last == URESP_DONE) != value_ok)
				fprintf(stderr, "\n  byte 0x%02x in a %s value: %d\n", b,
				    where ? "trailer" : "header", o.last);
			CU_ASSERT((o.last == URESP_DONE) == value_ok);
		}
	}
}

/* Zero-length feeds: NULL after a bodiless head gives DONE, DONE and ERROR
 * stick and consume nothing, MORE on an empty feed mid-body. */
static void
test_calling_convention(void)
{
	static const char head[] = H11 "Content-Length: 0\r\n\r\nNEXT";
	static const char bad[] = "HTTP/1.1 200 OK\nX";
	struct uresp r;
	const char *body;
	size_t used, blen;

	uresp_init(&r, MAX_HEAD);
	uresp_reset(&r, 0);
	CU_ASSERT_EQUAL(uresp_feed(&r, NULL, 0, &used, &body, &blen), URESP_MORE);
	CU_ASSERT_EQUAL(uresp_feed(&r, head, sizeof(head) - 1, &used, &body, &blen), URESP_HEAD);
	CU_ASSERT_EQUAL(used, sizeof(head) - 1 - 4);
	CU_ASSERT_EQUAL(uresp_feed(&r, NULL, 0, &used, &body, &blen), URESP_DONE);
	CU_ASSERT_EQUAL(used, 0);
	CU_ASSERT_EQUAL(uresp_feed(&r, "NEXT", 4, &used, &body, &blen), URESP_DONE);
	CU_ASSERT_EQUAL(used, 0);
	CU_ASSERT_EQUAL(uresp_eof(&r), URESP_DONE);

	/* Reuse after reset: a second response on the same connection. */
	uresp_reset(&r, 0);
	CU_ASSERT_EQUAL(uresp_feed(&r, NGINX_200, sizeof(NGINX_200) - 1, &used, &body, &blen),
	    URESP_HEAD);
	CU_ASSERT_EQUAL(r.nfields, 5);
	CU_ASSERT_EQUAL(r.fields[3].value_len, 2);
	CU_ASSERT_NSTRING_EQUAL(r.fields[3].value, "16", 2);
	CU_ASSERT_EQUAL(uresp_feed(&r, &NGINX_200[used], 3, &used, &body, &blen), URESP_BODY);
	CU_ASSERT_EQUAL(blen, 3);
	CU_ASSERT_EQUAL(uresp_feed(&r, NULL, 0, &used, &body, &blen), URESP_MORE);
	CU_ASSERT_EQUAL(uresp_eof(&r), URESP_ERROR);
	CU_ASSERT_PTR_NOT_NULL(r.error);
	CU_ASSERT_EQUAL(uresp_feed(&r, "x", 1, &used, &body, &blen), URESP_ERROR);
	CU_ASSERT_EQUAL(used, 0);

	/* An error sticks until reset. */
	uresp_reset(&r, 0);
	CU_ASSERT_PTR_NULL(r.error);
	CU_ASSERT_EQUAL(uresp_feed(&r, bad, sizeof(bad) - 1, &used, &body, &blen), URESP_ERROR);
	CU_ASSERT_STRING_EQUAL(r.error, "bare LF");
	CU_ASSERT_EQUAL(uresp_feed(&r, H11, sizeof(H11) - 1, &used, &body, &blen), URESP_ERROR);
	CU_ASSERT_EQUAL(uresp_eof(&r), URESP_ERROR);

	/* HEAD request then a GET on the same parser. */
	uresp_reset(&r, 1);
	CU_ASSERT_EQUAL(uresp_feed(&r, NGINX_HEAD, sizeof(NGINX_HEAD) - 1, &used, &body, &blen),
	    URESP_HEAD);
	CU_ASSERT_EQUAL(r.has_body, 0);
	CU_ASSERT_EQUAL(r.content_length, 16);
	CU_ASSERT_EQUAL(uresp_feed(&r, NULL, 0, &used, &body, &blen), URESP_DONE);
	uresp_reset(&r, 0);
	CU_ASSERT_EQUAL(uresp_feed(&r, NGINX_HEAD, sizeof(NGINX_HEAD) - 1, &used, &body, &blen),
	    URESP_HEAD);
	CU_ASSERT_EQUAL(r.has_body, 1);
	CU_ASSERT_EQUAL(uresp_feed(&r, NULL, 0, &used, &body, &blen), URESP_MORE);
	uresp_free(&r);
}

/* A chunk split across feeds comes out as pieces inside each feed's data. */
static void
test_body_pieces(void)
{
	static const char a[] = H11 TE "\r\n0a\r\n01234", b[] = "56789\r\n0\r\n\r\n";
	struct uresp r;
	const char *body;
	size_t used, blen;

	uresp_init(&r, MAX_HEAD);
	uresp_reset(&r, 0);
	CU_ASSERT_EQUAL(uresp_feed(&r, a, sizeof(a) - 1, &used, &body, &blen), URESP_HEAD);
	CU_ASSERT_EQUAL(uresp_feed(&r, a + used, sizeof(a) - 1 - used, &used, &body, &blen),
	    URESP_BODY);
	CU_ASSERT_EQUAL(blen, 5);
	CU_ASSERT_PTR_EQUAL(body, a + sizeof(a) - 1 - 5);
	CU_ASSERT_EQUAL(uresp_feed(&r, b, sizeof(b) - 1, &used, &body, &blen), URESP_BODY);
	CU_ASSERT_PTR_EQUAL(body, b);
	CU_ASSERT_EQUAL(blen, 5);
	CU_ASSERT_EQUAL(used, 5);
	CU_ASSERT_EQUAL(uresp_feed(&r, b + 5, sizeof(b) - 1 - 5, &used, &body, &blen), URESP_DONE);
	CU_ASSERT_EQUAL(used, sizeof(b) - 1 - 5);
	CU_ASSERT_EQUAL(r.chunked, 1);
	uresp_free(&r);
}

int
main(void)
{
	CU_pSuite su;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	su = CU_add_suite("uresp", NULL, NULL);
	CU_add_test(su, "response cases (whole, bytewise, every split)", test_cases);
	CU_add_test(su, "every byte in names and values, head and trailers", test_byte_classes);
	CU_add_test(su, "calling convention and reuse", test_calling_convention);
	CU_add_test(su, "chunk pieces point into the caller's data", test_body_pieces);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	printf("%zu table cases\n", NCASES);
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
