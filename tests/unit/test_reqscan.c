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

/*
 * The trailer section of a chunked body (after the last chunk's size line,
 * to the empty line that ends it, both line ends included) is bounded by
 * max_head, counted on its own: exactly max_head bytes pass, one more is
 * 431, whatever the shape of its lines and however the bytes are split.
 */

#define TR_HEAD "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
#define TR_NEXT "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"

/* A trailer section of exactly size bytes (size >= 8) at out, of one
 * shape: 0 one long value, 1 lines "a:" (4 bytes each, half of them line
 * ends), 2 one long name, 3 lines "x:" HTAB obs-text (6 bytes). Returns
 * size. */
static size_t
trailer_section(char *out, size_t size, int shape)
{
	size_t o = 0;
	static const char *const line[] = { NULL, "a:\r\n", NULL, "x:\t\xff\r\n" };

	if (shape == 1 || shape == 3) {
		size_t ll = strlen(line[shape]);

		/* Whole lines while a last line of at least "a:CRLF" and the
		 * empty line still fit, then that last line padded. */
		while (o + ll + 4 + 2 <= size) {
			memcpy(out + o, line[shape], ll);
			o += ll;
		}
		out[o++] = 'a';
		out[o++] = ':';
		memset(out + o, 'b', size - o - 4);
		o = size - 4;
	} else if (shape == 0) {
		memcpy(out, "X: ", 3);
		memset(out + 3, 'v', size - 7);
		o = size - 4;
	} else {
		memset(out, 'N', size - 5);
		out[size - 5] = ':';
		o = size - 4;
	}
	memcpy(out + o, "\r\n\r\n", 4);
	return size;
}

/* Feed msg[0..len) as the guard does (feed_some to a head's end, then
 * feed_body while in a body), cut at cuts[0..ncuts). Returns the refusal
 * status, 0 when all was taken and no request is left open, -1 when one
 * is. */
static int
guard_feed(struct reqscan *s, size_t max_head, const char *msg, size_t len, const size_t *cuts,
    size_t ncuts)
{
	const unsigned char *p = (const unsigned char *)msg;
	size_t start = 0;

	reqscan_init(s, max_head, 1024 * 1024);
	for (size_t k = 0; k <= ncuts; k++) {
		size_t stop = k < ncuts ? cuts[k] : len, at = start;

		while (at < stop) {
			enum reqscan_result res;
			int x1, x2;
			size_t n = reqscan_in_body(s) ?
			    reqscan_feed_body(s, p + at, stop - at, &x1, &x2, &res) :
			    reqscan_feed_some(s, p + at, stop - at, &x1, &x2, &res);

			if (res != REQSCAN_MORE)
				return s->status;
			CU_ASSERT_FATAL(n > 0);
			at += n;
		}
		start = stop;
	}
	return reqscan_in_head(s) || reqscan_in_body(s) ? -1 : 0;
}

/* One request, TR_HEAD then a trailer section of tsize bytes of a shape,
 * then TR_NEXT: accepted at max_head, 431 past it, refused no later than
 * the byte past the limit, fed whole, byte by byte and as the guard does
 * (whole and one byte per call). */
static void
trailer_case(size_t max_head, size_t tsize, int shape)
{
	size_t hl = sizeof(TR_HEAD) - 1, len, *cuts;
	char *msg = malloc(hl + tsize + sizeof(TR_NEXT));
	int want = tsize > max_head ? 431 : 0;
	struct reqscan s;

	memcpy(msg, TR_HEAD, hl);
	len = hl + trailer_section(msg + hl, tsize, shape);
	memcpy(msg + len, TR_NEXT, sizeof(TR_NEXT) - 1);
	len += sizeof(TR_NEXT) - 1;
	cuts = malloc(len * sizeof(*cuts));
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	for (int way = 0; way < 4; way++) {
		int got = 0;

		reqscan_init(&s, max_head, 1024 * 1024);
		if (way == 0 && reqscan_feed(&s, (const unsigned char *)msg, len) != REQSCAN_MORE)
			got = s.status;
		for (size_t i = 0; way == 1 && i < len && got == 0; i++)
			if (reqscan_feed(&s, (const unsigned char *)msg + i, 1) != REQSCAN_MORE)
				got = s.status;
		if (way >= 2)
			got = guard_feed(&s, max_head, msg, len, cuts, way == 2 ? 0 : len - 1);
		if (got != want)
			fprintf(stderr, "\ntrailer max_head %zu size %zu shape %d way %d: got %d\n",
			    max_head, tsize, shape, way, got);
		CU_ASSERT_EQUAL(got, want);
		if (want == 431 && got == 431) {
			CU_ASSERT_STRING_EQUAL(s.message, "Request trailer fields too large");
			CU_ASSERT(s.refused_in_body);
			CU_ASSERT(s.pos <= hl + max_head + 1);
		} else
			CU_ASSERT_EQUAL(s.requests, 2);	/* the next request's head */
	}
	free(cuts);
	free(msg);
}

static void
test_trailer_bound(void)
{
	static const size_t limits[] = { 256, 1000, 4096, 16384 };

	for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
		for (int shape = 0; shape < 4; shape++)
			for (size_t d = 0; d < 3; d++)
				trailer_case(limits[l], limits[l] - 1 + d, shape);
}

/* A trailer section that never ends (one endless value, an endless name,
 * endless short lines): refused within max_head + 1 of its bytes, as one
 * piece and one byte at a time. Both limits are separate: a head and a
 * trailer section of max_head bytes each pass, and each request of a
 * connection has its own. */
static void
test_trailer_endless(void)
{
	size_t hl = sizeof(TR_HEAD) - 1, big = 200000, len;
	char *msg = malloc(hl + big + 64), *p;
	struct reqscan s;

	for (int shape = 0; shape < 3; shape++) {
		memcpy(msg, TR_HEAD, hl);
		if (shape == 0) {
			memcpy(msg + hl, "X: ", 3);
			memset(msg + hl + 3, 'v', big - 3);
		} else if (shape == 1)
			memset(msg + hl, 'N', big);
		else
			for (size_t i = 0; i < big; i += 4)
				memcpy(msg + hl + i, "a:\r\n", 4);
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			enum reqscan_result r = REQSCAN_MORE;
			size_t i = 0;

			reqscan_init(&s, 1024, 1024 * 1024);
			if (!bytewise)
				r = reqscan_feed(&s, (const unsigned char *)msg, hl + big);
			for (; bytewise && i < hl + big && r == REQSCAN_MORE; i++)
				r = reqscan_feed(&s, (const unsigned char *)msg + i, 1);
			CU_ASSERT_EQUAL(r, REQSCAN_REFUSE);
			CU_ASSERT_EQUAL(s.status, 431);
			CU_ASSERT(s.pos <= hl + 1024 + 1);
			if (bytewise)
				CU_ASSERT_EQUAL(i, hl + 1024 + 1);
		}
	}

	/* A head of 1024 bytes exactly and a trailer section of 1024, twice;
	 * then the second trailer section one byte longer. */
	for (int over = 0; over < 2; over++) {
		p = msg;
		for (int r = 0; r < 2; r++) {
			static const char h[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX: ";
			size_t pad = 1024 - (sizeof(h) - 1) - 4;

			memcpy(p, h, sizeof(h) - 1);
			p += sizeof(h) - 1;
			memset(p, 'h', pad);
			p += pad;
			memcpy(p, "\r\n\r\n0\r\n", 7);
			p += 7;
			p += trailer_section(p, 1024 + (size_t)(over && r == 1), r);
		}
		len = (size_t)(p - msg);
		for (size_t cut = 0; cut < len; cut += 97) {
			size_t c = cut;

			CU_ASSERT_EQUAL(guard_feed(&s, 1024, msg, len, &c, cut ? 1 : 0), over ? 431 : 0);
			CU_ASSERT_EQUAL(s.requests, 2);
		}
	}
	free(msg);
}

/* A small case split in two and in three at every position, through the
 * guard's calls: limits, line ends and field rules in a trailer section
 * decide the same whatever the cuts (a client writing one byte at a time
 * included). */
static void
test_trailer_splits(void)
{
	static const struct {
		const char *trailer;
		int status;
	} tc[] = {
		{ "A: b\r\nC: d\r\n\r\n", 0 },			/* 14 bytes: fits 64 */
		{ "a:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:bb\r\n\r\n", 0 },
		{ "a:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:\r\na:bbb\r\n\r\n", 431 },
		{ "X-Long: 0123456789012345678901234567890123456789012345678901\r\n\r\n", 0 },	/* 64 */
		{ "X-Long: 01234567890123456789012345678901234567890123456789012\r\n\r\n", 431 },
		{ "A: b\nC: d\r\n\r\n", 400 },			/* bare LF */
		{ "A: b\r\n\n", 400 },				/* bare LF as the end */
		{ "A: b\r\rC: d\r\n\r\n", 400 },		/* bare CR */
		{ "nocolon\r\n\r\n", 400 },
		{ "A: b\r\n c\r\n\r\n", 400 },			/* obs-fold */
		{ "A: b\r\n\tc\r\n\r\n", 400 },
		{ " A: b\r\n\r\n", 400 },
		/* Lines that look empty: whitespace, a lone colon, a lone CR. */
		{ " \r\n\r\n", 400 },
		{ "\t\r\n\r\n", 400 },
		{ ":\r\n\r\n", 400 },
		{ "\r\r\n", 400 },
		{ "a:\r\n\r\n\r\n\r\n", 0 },	/* the first empty line ends it */
		{ ": b\r\n\r\n", 400 },
		{ "A : b\r\n\r\n", 400 },
		{ "A: b\x01\r\n\r\n", 400 },
		{ "Content-Length: 5\r\nTransfer-Encoding: x\r\n\r\n", 0 },	/* never read */
	};
	static const char head[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n";
	char msg[256];

	for (size_t t = 0; t < sizeof(tc) / sizeof(tc[0]); t++) {
		size_t len = (size_t)snprintf(msg, sizeof(msg), "%s%s%s", head, tc[t].trailer, TR_NEXT);
		struct reqscan s;

		for (size_t a = 0; a < len; a++)
			for (size_t b = a; b < len; b++) {
				size_t cuts[2] = { a, b };
				int got = guard_feed(&s, 64, msg, len, cuts + (a == 0), (a > 0) + (b > a));

				if (got != tc[t].status && a < 2 && b < 2)
					fprintf(stderr, "\ntrailer split case %zu: got %d\n", t, got);
				CU_ASSERT_EQUAL(got, tc[t].status);
				if (got == 0)
					CU_ASSERT_EQUAL(s.requests, 2);
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
	CU_add_test(su, "trailer section bound", test_trailer_bound);
	CU_add_test(su, "endless trailer sections", test_trailer_endless);
	CU_add_test(su, "trailer sections split anywhere", test_trailer_splits);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
