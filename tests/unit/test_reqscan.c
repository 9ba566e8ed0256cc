/* test_reqscan.c: the raw-bytes request scanner, with the byte sequences
 * that libevent 2.1's parser would let through, fed whole and one byte at
 * a time. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "defaults.h"
#include "chars.h"
#include "reqscan.h"

struct rcase {
	const char *name;
	const char *bytes;
	size_t len;		/* 0: strlen */
	int status;		/* 0: accepted */
};

#define R(name, bytes, status) {name, bytes, 0, status}

static const struct rcase cases[] = {
	R("simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0),
	R("HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", 0),
	R("leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0),
	R("pipelined", "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", 0),
	R("content-length body", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 0),
	R("chunked body", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0),
	R("chunk extension", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n", 0),
	R("trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n", 0),
	R("TE case and spaces", "POST / HTTP/1.1\r\nTransfer-Encoding:  Chunked \r\n\r\n0\r\n\r\n", 0),
	R("obs-text in a value", "GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", 0),
	R("obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),
	R("obs-fold with tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 400),
	R("bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400),
	R("bare CR", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
	R("space before colon", "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello", 400),
	R("empty field name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 400),
	R("field without colon", "GET / HTTP/1.1\r\nnocolon\r\n\r\n", 400),
	R("control char in value", "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", 400),
	R("DEL in value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400),
	R("two CL", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400),
	R("CL list", "POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\nx", 400),
	R("CL plus", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx", 400),
	R("CL empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400),
	R("CL huge", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
	R("CL and TE", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
	R("TE identity", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 501),
	R("TE gzip, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
	R("TE twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
	R("TE xchunked", "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
	R("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
	R("chunk 0x", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
	R("chunk negative", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400),
	R("chunk huge", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 413),
	R("chunk over the body limit", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413),
	R("chunk data without CRLF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n", 400),
	R("empty chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400),
	R("body on HEAD", "HEAD / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400),
	R("CL over the limit", "POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 413),
	R("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505),
	R("HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505),
	R("lowercase version", "GET / http/1.1\r\n\r\n", 400),
	R("no version", "GET /\r\n\r\n", 400),
	R("two spaces", "GET  / HTTP/1.1\r\n\r\n", 400),
	R("extra word", "GET / HTTP/1.1 x\r\n\r\n", 400),
	R("tab separator", "GET\t/ HTTP/1.1\r\n\r\n", 400),
	R("NUL in target", "GET /a\0b HTTP/1.1\r\n\r\n", 400),
	R("TRACE", "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
	R("CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501),
	R("lowercase method", "delete / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
	R("unknown method", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
	R("method prefix", "GETX / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
	R("every proxied method", "GET / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n"
	    "POST / HTTP/1.1\r\n\r\nPUT / HTTP/1.1\r\n\r\nDELETE / HTTP/1.1\r\n\r\n"
	    "OPTIONS / HTTP/1.1\r\n\r\nPATCH / HTTP/1.1\r\n\r\n", 0),
	R("smuggled request after CL", "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /x HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),
};

static int scan(const char *bytes, size_t len, int bytewise, struct reqscan *s);

/* A chunk extension is skipped up to SG_CHUNK_EXT_MAX_BYTES, refused past. */
static void
test_chunk_ext_bound(void)
{
	static const char head[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;";
	char *req = malloc(sizeof(head) + SG_CHUNK_EXT_MAX_BYTES + 64);
	struct reqscan s;
	size_t n;

	for (int over = 0; over <= 1; over++) {
		n = sizeof(head) - 1;
		memcpy(req, head, n);
		/* ';' counts as the first byte of the extension. */
		memset(req + n, 'a', SG_CHUNK_EXT_MAX_BYTES - 1 + (size_t)over);
		n += SG_CHUNK_EXT_MAX_BYTES - 1 + (size_t)over;
		memcpy(req + n, "\r\nhello\r\n0\r\n\r\n", 14);
		n += 14;
		CU_ASSERT_EQUAL(scan(req, n, 0, &s), over ? 400 : 0);
		CU_ASSERT_EQUAL(scan(req, n, 1, &s), over ? 400 : 0);
	}
	free(req);
}

static int
scan(const char *bytes, size_t len, int bytewise, struct reqscan *s)
{
	reqscan_init(s, 4096, 1024 * 1024);
	if (!bytewise)
		return reqscan_feed(s, (const unsigned char *)bytes, len) == REQSCAN_MORE ? 0 : s->status;
	for (size_t i = 0; i < len; i++)
		if (reqscan_feed(s, (const unsigned char *)bytes + i, 1) != REQSCAN_MORE)
			return s->status;
	return 0;
}

static void
test_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->bytes);
		struct reqscan s;

		/* The NUL case is written with an embedded \0: measure it. */
		if (strcmp(c->name, "NUL in target") == 0)
			len = sizeof("GET /a\0b HTTP/1.1\r\n\r\n") - 1;
		for (int bytewise = 0; bytewise <= 1; bytewise++) {
			int got = scan(c->bytes, len, bytewise, &s);
			if (got != c->status)
				fprintf(stderr, "\n%s (%s): got %d, want %d\n", c->name,
				    bytewise ? "bytewise" : "whole", got, c->status);
			CU_ASSERT_EQUAL(got, c->status);
		}
	}
}

/* feed_some stops at head boundaries and says which bytes are a head. */
static void
test_feed_some(void)
{
	static const char two[] = "GET /a HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET";
	const unsigned char *p = (const unsigned char *)two;
	size_t len = sizeof(two) - 1, at = 0;
	struct reqscan s;
	int in_head, done, heads = 0, pieces = 0;
	enum reqscan_result res;

	reqscan_init(&s, 4096, 1024);
	while (at < len) {
		size_t n = reqscan_feed_some(&s, p + at, len - at, &in_head, &done, &res);
		CU_ASSERT_EQUAL_FATAL(res, REQSCAN_MORE);
		CU_ASSERT_FATAL(n > 0);
		if (done) {
			heads++;
			CU_ASSERT(in_head);
		}
		at += n;
		pieces++;
	}
	CU_ASSERT_EQUAL(heads, 2);
	CU_ASSERT(reqscan_in_head(&s));	/* "GET" of a third request */
	CU_ASSERT_EQUAL(s.head_start, len - 3);
	CU_ASSERT_EQUAL(pieces, 4);
}

static void
test_head_limit(void)
{
	char big[6000];
	struct reqscan s;

	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memset(big + 19, 'a', sizeof(big) - 19);
	reqscan_init(&s, 4096, 1024);
	CU_ASSERT_EQUAL(reqscan_feed(&s, (const unsigned char *)big, sizeof(big)), REQSCAN_REFUSE);
	CU_ASSERT_EQUAL(s.status, 431);
}

/* Scan a head, then read its body as the guard does, one byte at a time
 * when `step` (every split must give the same result); returns the data
 * bytes in out (NUL-terminated), the refusal status, or 0, and how many
 * input bytes followed the body. */
static int
read_body(const char *in, int step, char *out, size_t *after)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t len = strlen(in), at = 0, o = 0;
	struct reqscan s;
	int in_head, done = 0, is_data;
	enum reqscan_result res;

	reqscan_init(&s, 4096, 64);
	while (!done && at < len) {
		at += reqscan_feed_some(&s, p + at, len - at, &in_head, &done, &res);
		if (res != REQSCAN_MORE)
			return s.status;
	}
	CU_ASSERT_FATAL(done);
	done = !reqscan_in_body(&s);
	while (!done && at < len) {
		size_t n = reqscan_feed_body(&s, p + at, step ? 1 : len - at, &is_data, &done, &res);
		if (res != REQSCAN_MORE)
			return s.status;
		if (is_data) {
			memcpy(out + o, p + at, n);
			o += n;
		}
		CU_ASSERT_FATAL(n > 0 || done);
		at += n;
	}
	out[o] = '\0';
	*after = len - at;
	return done ? 0 : -1;
}

/* The body reader: data runs apart from chunk framing and trailers, the
 * end of the body exactly (what follows is the next request's), refusals
 * inside the body, whatever the split. */
static void
test_feed_body(void)
{
	static const struct {
		const char *in, *data;
		int status;
		size_t after;
	} bc[] = {
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET", "hello", 0, 3 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nGET", "helloabc", 0, 3 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", 0, 0 },
		/* A request hidden in chunk data is data. */
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "13\r\nGET /x HTTP/1.1\r\n\r\n\r\n0\r\n\r\n", "GET /x HTTP/1.1\r\n\r\n", 0, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX", NULL, 400, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", NULL, 400, 0 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello", NULL, 400, 0 },
		/* Over the body limit (64 here) across chunks. */
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "20\r\n0123456789abcdef0123456789abcdef\r\n21\r\n", NULL, 413, 0 },
		/* Trailers: field rules hold there too. */
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\r\n b\r\n\r\n", NULL, 400, 0 },
	};
	char out[256];

	for (size_t i = 0; i < sizeof(bc) / sizeof(bc[0]); i++)
		for (int step = 0; step < 2; step++) {
			size_t after = 0;
			int st = read_body(bc[i].in, step, out, &after);

			CU_ASSERT_EQUAL(st, bc[i].status);
			if (st != bc[i].status)
				fprintf(stderr, "body case %zu (step %d): %d\n", i, step, st);
			if (bc[i].data != NULL && st == 0) {
				CU_ASSERT_STRING_EQUAL(out, bc[i].data);
				CU_ASSERT_EQUAL(after, bc[i].after);
			}
		}
}

/* The head evhttp is given: framing and Expect gone, every other byte
 * the client's. */
static void
test_head_strip(void)
{
	static const struct {
		const char *in, *out;
		int expect;
	} hc[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
		{ "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\nX: 1\r\n\r\n",
		  "POST / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n", 0 },
		{ "POST / HTTP/1.1\r\nTRANSFER-ENCODING: chunked\r\nExpect: 100-Continue \r\n\r\n",
		  "POST / HTTP/1.1\r\n\r\n", 1 },
		{ "POST / HTTP/1.1\r\nExpect: 100-continue\r\nExpect: 200-ok\r\n\r\n",
		  "POST / HTTP/1.1\r\n\r\n", 2 },
		{ "POST / HTTP/1.1\r\nExpect:\r\nContent-Length-X: 1\r\nX-Content-Length: 2\r\n\r\n",
		  "POST / HTTP/1.1\r\nContent-Length-X: 1\r\nX-Content-Length: 2\r\n\r\n", 2 },
	};
	char out[256];

	for (size_t i = 0; i < sizeof(hc) / sizeof(hc[0]); i++) {
		int expect;
		size_t n = reqscan_head_strip(hc[i].in, strlen(hc[i].in), out, &expect);

		CU_ASSERT_EQUAL(n, strlen(hc[i].out));
		CU_ASSERT(n == strlen(hc[i].out) && memcmp(out, hc[i].out, n) == 0);
		CU_ASSERT_EQUAL(expect, hc[i].expect);
	}
}

/* chars_crlf_from (memchr for the CRs) against the byte-by-byte loop it
 * replaced, on every string of up to 7 bytes of 'a', CR and LF, from
 * every start. */
static void
test_crlf_from(void)
{
	static const char alpha[] = "a\r\n";
	char h[8];

	for (size_t len = 0; len <= 7; len++) {
		size_t combos = 1;

		for (size_t k = 0; k < len; k++)
			combos *= 3;
		for (size_t c = 0; c < combos; c++) {
			size_t v = c;

			for (size_t k = 0; k < len; k++, v /= 3)
				h[k] = alpha[v % 3];
			for (size_t i = 0; i <= len; i++) {
				size_t ref = i;

				while (ref + 1 < len && !(h[ref] == '\r' && h[ref + 1] == '\n'))
					ref++;
				CU_ASSERT_EQUAL(chars_crlf_from(h, i, len), ref);
			}
		}
	}
}

/* Runs of plain bytes are taken several at a time: a bad byte at any
 * position of a long value or target, and any split of the bytes, is
 * still refused, with the same status as byte by byte. */
static void
test_runs(void)
{
	char req[600];
	const char *bad[] = { "\x01", "\x7f", "\n", "\r" };

	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++)
		for (size_t at = 0; at < 300; at++) {
			char tok[301], path[301];
			struct reqscan whole, bytes;
			enum reqscan_result rw, rb = REQSCAN_MORE;
			size_t n;

			memset(tok, 'A', 300);
			tok[300] = '\0';
			tok[at] = bad[b][0];
			memset(path, 'p', 300);
			path[300] = '\0';
			for (int target = 0; target < 2; target++) {
				n = (size_t)snprintf(req, sizeof(req), target ?
				    "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n" :
				    "GET / HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n",
				    target ? (path[at] = bad[b][0], path) : tok);
				reqscan_init(&whole, 8192, 0);
				reqscan_init(&bytes, 8192, 0);
				rw = reqscan_feed(&whole, (const unsigned char *)req, n);
				for (size_t i = 0; i < n && rb == REQSCAN_MORE; i++)
					rb = reqscan_feed(&bytes, (const unsigned char *)req + i, 1);
				CU_ASSERT_EQUAL(rw, REQSCAN_REFUSE);
				CU_ASSERT_EQUAL(rb, REQSCAN_REFUSE);
				CU_ASSERT_EQUAL(whole.status, 400);
				CU_ASSERT_EQUAL(bytes.status, 400);
				rb = REQSCAN_MORE;
			}
		}
}

int
main(void)
{
	CU_pSuite su;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	su = CU_add_suite("reqscan", NULL, NULL);
	CU_add_test(su, "hostile and valid byte sequences", test_cases);
	CU_add_test(su, "chunk extension bound", test_chunk_ext_bound);
	CU_add_test(su, "head boundaries", test_feed_some);
	CU_add_test(su, "head size limit", test_head_limit);
	CU_add_test(su, "body reader", test_feed_body);
	CU_add_test(su, "head without its framing", test_head_strip);
	CU_add_test(su, "CRLF search", test_crlf_from);
	CU_add_test(su, "runs of plain bytes", test_runs);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
