/* test_scan_diff.c: the raw HTTP scanners (reqscan.c, uresp.c) against
 * their reference copies (reqscan_ref.c, uresp_ref.c, the code before the
 * fast paths), on generated hostile inputs: valid requests and responses
 * with bytes replaced, inserted and deleted, soups of protocol tokens, and
 * random bytes from an alphabet of CR, LF, SP, HTAB, ':', NUL, DEL,
 * obs-text, tchars and digits. Each is fed whole, one byte at a time, cut
 * in two at every position and at random places, through reqscan_feed,
 * the guard's feed_some/feed_body and feed_some alone, with head limits
 * around its length; every return value and the whole state must be the
 * reference's after every call (scan_diff.c). The generator is seeded,
 * so a failure repeats. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "reqscan.h"
#include "scan_diff.h"
#include "scan_ref.h"
#include "scanrun.h"

#define MAXMSG 4096

struct tok {
	const char *s;
	size_t n;
};

#define T(s) {s, sizeof(s) - 1}

static const struct tok req_tok[] = {
	T("GET"), T("HEAD"), T("POST"), T("PUT"), T("DELETE"), T("OPTIONS"), T("PATCH"),
	T("TRACE"), T("get"), T("GETXXXXXXXXXXXXXXXX"), T(" "), T(" "), T(" "), T("/"),
	T("/a?b=c&d"), T("*"), T("/caf\xc3\xa9"), T("HTTP/1.1"), T("HTTP/1.1"), T("HTTP/1.0"),
	T("HTTP/2.0"), T("http/1.1"), T("HTTP/1.10"), T("HTTP/1.1HTTP/1.1HTTP/1.1"),
	T("\r\n"), T("\r\n"), T("\r\n"), T("\r\n"), T("\r\n\r\n"), T("\r"), T("\n"),
	T("Host"), T("Authorization"), T("X-A-Field-Name-Longer-Than-Thirty-Two-Bytes"),
	T("Content-Length"), T("content-length"), T("Transfer-Encoding"),
	T("TRANSFER-encoding"), T("Expect"), T("100-continue"), T("chunked"), T("Chunked"),
	T(":"), T(": "), T(":\t"), T("\t"), T("Bearer "), T("0"), T("5"), T("10"), T("ff"),
	T(";ext=1"), T("hello"), T("\x80\xff"), T("\x7f"), T("\0"), T("\x01"),
	T("  "), T(" , "), T("1, 1"), T("+1"), T("00000000000000000001"),
	T("0\r\n\r\n"), T("5\r\nhello\r\n"),
	T("Content-Length: 5\r\n"), T("Transfer-Encoding: chunked\r\n"),
	T("GET / HTTP/1.1\r\n"), T("POST /p HTTP/1.1\r\n"), T("Host: h\r\n"),
	T("\r\n b"), T("\r\n\tb"),
	/* Lines head_strip leaves out, or must not: with and without a colon. */
	T("\r\nExpect\r\n"), T("\r\nContent-Length\r\n"), T("\r\nTransfer-Encoding\r\n"),
	T("\r\nExpect: 100-continue\r\n"), T("\r\nexpect:\t100-Continue \r\n"),
	T("\r\nExpect: x\r\n"), T("\r\nExpectation: 1\r\n"), T("\r\nExp:ect: 1\r\n"),
};

static const struct tok resp_tok[] = {
	T("HTTP/1.1 "), T("HTTP/1.0 "), T("HTTP/1.1 200 "), T("HTTP/1.1 100 "), T("HTTP/2.0 "),
	T("200 "), T("100 "), T("101 "), T("204 "), T("304 "), T("099 "), T("600 "), T("200"),
	T("OK"), T(" "), T("\t"), T("\r\n"), T("\r\n"), T("\r\n"), T("\r"), T("\n"),
	T("\r\n\r\n"), T("Content-Length"), T("Transfer-Encoding"), T("chunked"),
	T("Connection"), T("close"), T("keep-alive, close"), T("Server"), T("nginx/1.22.1"),
	T(":"), T(": "), T("0"), T("5"), T("a"), T("fffffffffffffffff"), T(";e=1"),
	T("hello"), T("\0"), T("\x7f"), T("\x80\xfe"), T("\x01"), T("x y"),
	T("Content-Length: 5\r\n"), T("Transfer-Encoding: chunked\r\n"),
	T("5\r\nhello\r\n"), T("0\r\n\r\n"), T("0\r\nT: 1\r\n\r\n"),
};

/* Bytes the hostile alphabet is drawn from. */
static const char alphabet[] = "\r\n \t:\0\x7f\x80\xff" "aZ09-!~._;/=,H\"(";

/* Values long enough for the 16-byte runs, with a bad byte now and then. */
static const char value_bytes[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "0123456789-._~+/=\x80\xfe \t\"(),;<>?@[]{}";

static unsigned rng_state = 20261207;

static unsigned
rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return n ? rng_state % n : 0;
}

static size_t
put(unsigned char *m, size_t len, const void *s, size_t n)
{
	if (len + n > MAXMSG)
		n = MAXMSG - len;
	memcpy(m + len, s, n);
	return len + n;
}

/* n value bytes; one in about 64 messages carries a CTL, DEL, NUL or CR. */
static size_t
put_value(unsigned char *m, size_t len, size_t n)
{
	int spoil = rnd(4) == 0;

	for (size_t i = 0; i < n && len < MAXMSG; i++) {
		m[len++] = (unsigned char)value_bytes[rnd(sizeof(value_bytes) - 1)];
		if (spoil && rnd((unsigned)n + 1) == 0)
			m[len - 1] = (unsigned char)"\0\x01\x7f\r\n\x1f"[rnd(6)];
	}
	return len;
}

static size_t
request(unsigned char *m, size_t len)
{
	/* Mostly what clients send; now and then a part at or past a bound
	 * (method 15 and 16 bytes, version 15, 16 and 24). */
	static const char *const method[] = {
		"GET", "POST", "HEAD", "DELETE", "PATCH", "OPTIONS", "PUT", "GET", "POST", "GET",
		"ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNOP", "get", "TRACE",
	};
	static const char *const target[] = {
		"/v1/items/42?x=1", "/", "*", "/p", "",
		"/abcdefghijklmnopqrstuvwxyz0123456789/abcdefghijklmnopqrstuvwxyz", "/caf\xc3\xa9",
	};
	static const char *const version[] = {
		"HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/1.1x",
		"HTTP/1.1HTTP/1.", "HTTP/1.1HTTP/1.1", "HTTP/1.1HTTP/1.1HTTP/1.1", "HTTP/1.1",
	};
	const char *me = method[rnd(sizeof(method) / sizeof(method[0]))];
	const char *ta = target[rnd(sizeof(target) / sizeof(target[0]))];
	const char *ve = version[rnd(sizeof(version) / sizeof(version[0]))];
	const char *l = me;
	int body = rnd(3);

	if (rnd(8) == 0)
		len = put(m, len, "\r\n", 2);
	len = put(m, len, me, strlen(me));
	len = put(m, len, " ", 1);
	len = put(m, len, ta, strlen(ta));
	len = put(m, len, " ", 1);
	len = put(m, len, ve, strlen(ve));
	len = put(m, len, "\r\n", 2);
	len = put(m, len, "Host: 127.0.0.1:8080\r\n", 22);
	if (rnd(3))
		len = put(m, len, "Accept-Encoding: identity\r\n", 27);
	if (rnd(4))
		len = put(m, len, "Authorization: Bearer ", 22), len = put_value(m, len, rnd(320)),
		len = put(m, len, "\r\n", 2);
	for (unsigned k = rnd(3); k > 0; k--) {
		/* Names up to, at and past the 31 bytes kept. */
		static const char *const name[] = {
			"X-Trace", "x", "A-Very-Long-Field-Name-Beyond-The-Kept-Prefix", "Expect",
			"Content-Length", "Transfer-Encoding", "Cookie", "Content-Lengt",
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123", "content-length", "TRANSFER-ENCODING",
		};
		const char *nm = name[rnd(sizeof(name) / sizeof(name[0]))];

		len = put(m, len, nm, strlen(nm));
		len = put(m, len, ":", 1);
		len = put(m, len, "  \t", rnd(4));
		len = put_value(m, len, rnd(80));
		len = put(m, len, " \t ", rnd(4));
		len = put(m, len, "\r\n", 2);
	}
	if (body == 1 && l[0] == 'P') {
		len = put(m, len, "Content-Length: 11\r\n\r\nhello world", 33);
	} else if (body == 2 && l[0] == 'P') {
		len = put(m, len, "Transfer-Encoding: chunked\r\n\r\n", 30);
		len = put(m, len, "5;a=b\r\nhello\r\n10\r\n", 18);
		len = put_value(m, len, 16);
		len = put(m, len, "\r\n0\r\n", 5);
		/* A trailer section of up to ~1,300 bytes, longer than the
		 * head now and then: its own limit is met in the sweep of
		 * head limits. */
		for (unsigned k = rnd(7); k > 0; k--) {
			len = put(m, len, k & 1 ? "X-T: " : "a:", k & 1 ? 5 : 2);
			len = put_value(m, len, rnd(200));
			len = put(m, len, "\r\n", 2);
		}
		len = put(m, len, "\r\n", 2);
	} else
		len = put(m, len, "\r\n", 2);
	return len;
}

static size_t
response(unsigned char *m, size_t len)
{
	static const char *const line[] = {
		"HTTP/1.1 200 OK\r\n", "HTTP/1.0 200 OK\r\n", "HTTP/1.1 204 No Content\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n", "HTTP/1.1 404 \r\n",
		"HTTP/1.1 500 Internal Server Error\r\n",
	};
	const char *l = line[rnd(6)];
	int body = rnd(3);

	len = put(m, len, l, strlen(l));
	len = put(m, len, "Server: nginx/1.22.1\r\n", 22);
	len = put(m, len, "Date: Mon, 07 Dec 2026 23:12:08 GMT\r\n", 37);
	for (unsigned k = rnd(4); k > 0; k--) {
		static const char *const name[] = {
			"Content-Type", "X", "Connection", "ETag", "Cache-Control", "Set-Cookie",
		};
		const char *nm = name[rnd(6)];

		len = put(m, len, nm, strlen(nm));
		len = put(m, len, ":", 1);
		len = put(m, len, "  \t", rnd(4));
		len = put_value(m, len, rnd(100));
		len = put(m, len, " \t ", rnd(4));
		len = put(m, len, "\r\n", 2);
	}
	/* Framing names and values in other cases, and near misses, each
	 * differing in one byte (first, middle, last). */
	for (unsigned k = rnd(3); k > 0; k--) {
		static const char *const framing[] = {
			"CONNECTION: CLOSE\r\n", "connection: Close\r\n", "Connectiom: close\r\n",
			"Connection: closf\r\n", "Connection: dlose, x\r\n", "Connection: keep-alive, close\r\n",
			"Content-Lengtx: 5\r\n", "Dontent-Length: 5\r\n", "Content_Length: 5\r\n",
			"CONTENT-LENGTH: 5\r\n", "Transfer-Encodinf: chunked\r\n",
			"TRANSFER-ENCODING: CHUNKED\r\n", "Transfer-Encoding: chunkee\r\n",
			"Transfer-Encoding: Chunked\r\n", "Transfer-Encoding: xhunked\r\n",
			"Transfer-Encoding: chunked\r\n", "Content-Length: 5\r\n",
		};
		const char *l2 = framing[rnd(sizeof(framing) / sizeof(framing[0]))];

		len = put(m, len, l2, strlen(l2));
	}
	/* Up to and past URESP_MAX_FIELDS fields. */
	if (rnd(12) == 0)
		for (unsigned k = 90 + rnd(15); k > 0; k--)
			len = put(m, len, "A: b\r\n", 6);
	if (body == 0)
		len = put(m, len, "Content-Length: 5\r\n\r\nhello", 26);
	else if (body == 1) {
		len = put(m, len, "Transfer-Encoding: chunked\r\n\r\n5;e\r\nhello\r\n", 42);
		len = put(m, len, "0\r\nT: 1\r\nU:v\r\n\r\n", 16);
	} else
		len = put(m, len, "\r\nrest of the body", 18);
	return len;
}

/* One generated message: kind 0 a valid one, 1 two or three of them,
 * 2 a token soup, 3 alphabet bytes (after a valid start, sometimes);
 * then up to three mutations. */
static size_t
generate(unsigned char *m, int resp)
{
	const struct tok *toks = resp ? resp_tok : req_tok;
	size_t ntok = resp ? sizeof(resp_tok) / sizeof(resp_tok[0]) :
	    sizeof(req_tok) / sizeof(req_tok[0]);
	size_t len = 0;

	switch (rnd(4)) {
	case 0:
		len = resp ? response(m, 0) : request(m, 0);
		break;
	case 1:
		for (unsigned k = 2 + rnd(2); k > 0; k--)
			len = resp ? response(m, len) : request(m, len);
		break;
	case 2:
		for (unsigned k = 5 + rnd(60); k > 0; k--) {
			const struct tok *t = &toks[rnd((unsigned)ntok)];

			if (rnd(10) == 0)
				len = put_value(m, len, rnd(40));
			else
				len = put(m, len, t->s, t->n);
		}
		break;
	default:
		if (rnd(2))
			len = resp ? put(m, 0, "HTTP/1.1 200 OK\r\n", 17) :
			    put(m, 0, "GET / HTTP/1.1\r\n", 16);
		for (unsigned k = 1 + rnd(200); k > 0; k--)
			len = put(m, len, &alphabet[rnd(sizeof(alphabet) - 1)], 1);
		break;
	}
	for (unsigned k = rnd(4); k > 0 && len > 0; k--) {
		size_t at = rnd((unsigned)len);
		unsigned char c = (unsigned char)alphabet[rnd(sizeof(alphabet) - 1)];

		switch (rnd(3)) {
		case 0:
			m[at] = c;
			break;
		case 1:
			if (len < MAXMSG) {
				memmove(m + at + 1, m + at, len - at);
				m[at] = c;
				len++;
			}
			break;
		default:
			memmove(m + at, m + at + 1, len - at - 1);
			len--;
			break;
		}
	}
	return len;
}

static int failures;

static void
check_req(const struct scan_diff_req *o, const unsigned char *m, size_t len, const size_t *cuts,
    size_t ncuts)
{
	char why[256];

	if (scan_diff_reqscan(o, m, len, cuts, ncuts, why, sizeof(why)) != 0 && failures++ < 5) {
		fprintf(stderr, "\nreqscan differs (mode %d, max_head %zu, %zu cuts, first %zu): %s\n"
		    "input (%zu bytes): ", o->mode, o->max_head, ncuts, ncuts ? cuts[0] : 0, why, len);
		for (size_t i = 0; i < len; i++)
			fprintf(stderr, m[i] >= 0x20 && m[i] < 0x7f && m[i] != '\\' ? "%c" : "\\x%02x",
			    m[i]);
		fputc('\n', stderr);
	}
}

static void
check_resp(const struct scan_diff_resp *o, const unsigned char *m, size_t len,
    const size_t *cuts, size_t ncuts)
{
	char why[256];

	if (scan_diff_uresp(o, m, len, cuts, ncuts, why, sizeof(why)) != 0 && failures++ < 5) {
		fprintf(stderr, "\nuresp differs (max_head %zu, %zu cuts, first %zu): %s\n"
		    "input (%zu bytes): ", o->max_head, ncuts, ncuts ? cuts[0] : 0, why, len);
		for (size_t i = 0; i < len; i++)
			fprintf(stderr, m[i] >= 0x20 && m[i] < 0x7f && m[i] != '\\' ? "%c" : "\\x%02x",
			    m[i]);
		fputc('\n', stderr);
	}
}

static size_t cuts[MAXMSG];

/* Every way of cutting one message: whole, every byte, every single cut,
 * random ones. */
static void
req_cuttings(const struct scan_diff_req *o, const unsigned char *m, size_t len, int every)
{
	size_t n;

	check_req(o, m, len, NULL, 0);
	n = scan_diff_cuts(1, len, cuts, MAXMSG);
	check_req(o, m, len, cuts, n);
	for (unsigned seed = 2; seed < 6; seed++) {
		n = scan_diff_cuts(seed + rnd(1000000), len, cuts, MAXMSG);
		check_req(o, m, len, cuts, n);
	}
	for (size_t at = 1; every && at < len; at++)
		check_req(o, m, len, &at, 1);
}

/* reqscan_head_strip on any bytes ending in an empty line, accepted as
 * a head or not (scan_diff.c compares it on the heads accepted). */
static void
strip_raw(const unsigned char *m, size_t len)
{
	char *h = malloc(len + 4), *a = malloc(len + 6), *b = malloc(len + 6);
	size_t na, nb;
	int ea, eb;

	if (h == NULL || a == NULL || b == NULL)
		abort();
	memcpy(h, m, len);
	memcpy(h + len, "\r\n\r\n", 4);
	na = reqscan_head_strip(h, len + 4, a, &ea);
	nb = ref_reqscan_head_strip(h, len + 4, b, &eb);
	if ((na != nb || ea != eb || memcmp(a, b, na) != 0) && failures++ < 5)
		fprintf(stderr, "\nhead_strip differs: %zu/%d, reference %zu/%d\n", na, ea, nb, eb);
	free(h);
	free(a);
	free(b);
}

static void
test_reqscan_diff(void)
{
	static unsigned char m[MAXMSG];

	failures = 0;
	for (int i = 0; i < 1500; i++) {
		size_t len = generate(m, 0);
		struct scan_diff_req o = {i % SCAN_DIFF_MODES, 8192, 1 << 20, 0, 0};

		if (i % 7 == 0)
			o.body_max_after = 1 + rnd(64);
		if (i % 5 == 0)
			o.max_body = rnd(40);
		req_cuttings(&o, m, len, i % 3 == 0);
		strip_raw(m, len);
		/* The head limit at every length around the message's. */
		if (i % 10 == 0) {
			for (size_t mh = 1; mh <= len + 2; mh++) {
				size_t at = 1 + rnd((unsigned)(len > 1 ? len - 1 : 1));

				o.max_head = mh;
				check_req(&o, m, len, NULL, 0);
				if (at < len)
					check_req(&o, m, len, &at, 1);
			}
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
}

/* Chunked requests whose trailer section (lines of every shape, now and
 * then a bad byte) is longer than their head, the head limit swept from
 * the head's length to past the whole: the trailer bound refuses at the
 * same byte, with the same counters, as the reference. */
static void
test_reqscan_diff_trailers(void)
{
	static const char head[] = "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char *const name[] = { "a", "X-T", "Content-Length", "Expect", "N!#$%&'*+-.^_`|~" };
	static unsigned char m[MAXMSG];

	failures = 0;
	for (int i = 0; i < 150; i++) {
		size_t len = put(m, 0, head, sizeof(head) - 1), n;

		len = put(m, len, "3;e\r\nabc\r\n0\r\n", 13);
		for (unsigned k = 1 + rnd(12); k > 0; k--) {
			const char *nm = name[rnd(5)];

			len = put(m, len, nm, strlen(nm));
			len = put(m, len, ": \t", 1 + rnd(3));
			len = put_value(m, len, rnd(120));
			len = put(m, len, "\r\n", 2);
		}
		len = put(m, len, "\r\n", 2);
		if (rnd(2))
			len = put(m, len, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 27);
		for (size_t mh = sizeof(head) - 1; mh <= len + 2; mh++) {
			struct scan_diff_req o = {(int)(mh % SCAN_DIFF_MODES), mh, 1 << 20, 0, 0};
			size_t at = 1 + rnd((unsigned)(len - 1));

			check_req(&o, m, len, NULL, 0);
			check_req(&o, m, len, &at, 1);
			if (mh % 16 == 0) {
				n = scan_diff_cuts(1, len, cuts, MAXMSG);
				check_req(&o, m, len, cuts, n);
			}
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
}

static void
test_uresp_diff(void)
{
	static unsigned char m[MAXMSG];

	failures = 0;
	for (int i = 0; i < 1500; i++) {
		size_t len = generate(m, 1), n;
		struct scan_diff_resp o = {8192, i % 11 == 0, i % 2, i % 4 == 1, i % 3 != 0, 0};

		check_resp(&o, m, len, NULL, 0);
		n = scan_diff_cuts(1, len, cuts, MAXMSG);
		check_resp(&o, m, len, cuts, n);
		for (unsigned seed = 2; seed < 6; seed++) {
			n = scan_diff_cuts(seed + rnd(1000000), len, cuts, MAXMSG);
			check_resp(&o, m, len, cuts, n);
		}
		for (size_t at = 1; i % 3 == 0 && at < len; at++)
			check_resp(&o, m, len, &at, 1);
		if (i % 10 == 0) {
			for (size_t mh = 1; mh <= len + 2; mh++) {
				size_t at = 1 + rnd((unsigned)(len > 1 ? len - 1 : 1));

				o.max_head = mh;
				check_resp(&o, m, len, NULL, 0);
				if (at < len)
					check_resp(&o, m, len, &at, 1);
			}
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
}

/* The runs (scanrun.h), 16 bytes at a time or one by one, against the
 * classes as RFC 9110 words them: every byte value at every place of
 * every length up to 48 (past two vectors and a tail), in an
 * exactly-sized buffer so that the sanitizers see any read past it. */
static void
test_runs(void)
{
	int bad = 0;

	for (size_t len = 0; len <= 48; len++) {
		for (size_t at = 0; at <= len; at++) {
			for (int b = 0; b < 256; b++) {
				unsigned char *p = malloc(len ? len : 1);
				size_t want_v = len, want_t = len;

				if (p == NULL)
					abort();
				for (size_t i = 0; i < len; i++)
					p[i] = (unsigned char)"aZ9~!\x80\xff-"[i % 8];
				if (at < len) {
					p[at] = (unsigned char)b;
					/* field-vchar / SP / HTAB / obs-text */
					if (!(b == '\t' || b == ' ' || (b >= 0x21 && b <= 0x7e) || b >= 0x80))
						want_v = at;
					/* visible ASCII / obs-text */
					if (!((b >= 0x21 && b <= 0x7e) || b >= 0x80))
						want_t = at;
				}
				bad += scanrun_vchar(p, len) != want_v;
				bad += scanrun_vchar_bytes(p, len) != want_v;
				bad += scanrun_target(p, len) != want_t;
				bad += scanrun_target_bytes(p, len) != want_t;
				free(p);
			}
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* The driver must see a difference: one in a counter no return value
 * shows (pos), or in a stale member (vend), is reported by name. */
static void
test_driver_catches(void)
{
	static const unsigned char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	static const unsigned char resp[] = "HTTP/1.1 200 OK\r\nA: b\r\n\r\n";
	struct scan_diff_req o = {SCAN_DIFF_GUARD, 8192, 1 << 20, 0, 0};
	struct scan_diff_resp r = {8192, 0, 0, 0, 0, 0};
	char why[256];

	CU_ASSERT_EQUAL(scan_diff_reqscan(&o, req, sizeof(req) - 1, NULL, 0, why, sizeof(why)), 0);
	o.tamper = 1;
	CU_ASSERT_EQUAL(scan_diff_reqscan(&o, req, sizeof(req) - 1, NULL, 0, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "pos: 28, reference 27"));
	CU_ASSERT_EQUAL(scan_diff_uresp(&r, resp, sizeof(resp) - 1, NULL, 0, why, sizeof(why)), 0);
	r.tamper = 1;
	CU_ASSERT_EQUAL(scan_diff_uresp(&r, resp, sizeof(resp) - 1, NULL, 0, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "vend"));
}

int
main(void)
{
	CU_pSuite su;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	su = CU_add_suite("scan_diff", NULL, NULL);
	CU_add_test(su, "reqscan against its reference", test_reqscan_diff);
	CU_add_test(su, "reqscan against its reference: trailer sections", test_reqscan_diff_trailers);
	CU_add_test(su, "uresp against its reference", test_uresp_diff);
	CU_add_test(su, "driver", test_driver_catches);
	CU_add_test(su, "runs of one class", test_runs);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
