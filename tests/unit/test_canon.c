/* test_canon.c: the canonical request target. Hostile targets must be
 * refused with the right reason; good ones must come back as exact slices
 * of the input. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "canon.h"

/* len 0 means strlen(target) (targets holding NUL give their length). */
struct refusal {
	const char *target;
	size_t len;
	enum canon_status want;
};

static const struct refusal refusals[] = {
	/* Not origin-form. */
	{ "*", 0, CANON_NOT_ORIGIN_FORM },
	{ "http://evil.example/applications", 0, CANON_NOT_ORIGIN_FORM },
	{ "applications/x", 0, CANON_NOT_ORIGIN_FORM },
	{ "?a=b", 0, CANON_NOT_ORIGIN_FORM },
	{ "%2Fapplications", 0, CANON_NOT_ORIGIN_FORM },
	{ "", 0, CANON_EMPTY },
	/* Encoded separators, any case. */
	{ "/applications%2Fx", 0, CANON_ENCODED_SEPARATOR },
	{ "/applications%2fx", 0, CANON_ENCODED_SEPARATOR },
	{ "/a/%2F", 0, CANON_ENCODED_SEPARATOR },
	{ "/a/b%5Cc", 0, CANON_ENCODED_SEPARATOR },
	{ "/a/b%5cc", 0, CANON_ENCODED_SEPARATOR },
	{ "/a/%2f%2f", 0, CANON_ENCODED_SEPARATOR },
	/* Dot segments, plain and encoded, any case and mix. */
	{ "/.", 0, CANON_DOT_SEGMENT },
	{ "/..", 0, CANON_DOT_SEGMENT },
	{ "/a/./b", 0, CANON_DOT_SEGMENT },
	{ "/a/../b", 0, CANON_DOT_SEGMENT },
	{ "/a/..", 0, CANON_DOT_SEGMENT },
	{ "/a/%2e/b", 0, CANON_DOT_SEGMENT },
	{ "/a/%2E/b", 0, CANON_DOT_SEGMENT },
	{ "/a/%2e%2e/b", 0, CANON_DOT_SEGMENT },
	{ "/a/%2E%2e/b", 0, CANON_DOT_SEGMENT },
	{ "/a/.%2e/b", 0, CANON_DOT_SEGMENT },
	{ "/a/%2e./b", 0, CANON_DOT_SEGMENT },
	{ "/a/.%2E", 0, CANON_DOT_SEGMENT },
	{ "/a/...", 0, CANON_DOT_SEGMENT },
	{ "/a/..?x=1", 0, CANON_DOT_SEGMENT },
	/* Empty segments. */
	{ "//", 0, CANON_EMPTY_SEGMENT },
	{ "//applications", 0, CANON_EMPTY_SEGMENT },
	{ "/applications//x", 0, CANON_EMPTY_SEGMENT },
	{ "/applications/", 0, CANON_EMPTY_SEGMENT },
	{ "/applications/?a=b", 0, CANON_EMPTY_SEGMENT },
	{ "/a///b", 0, CANON_EMPTY_SEGMENT },
	/* NUL, raw and encoded, in path and query. */
	{ "/a\0b", 4, CANON_NUL },
	{ "/a%00b", 0, CANON_NUL },
	{ "/a?b=%00", 0, CANON_NUL },
	{ "/a?b=\0", 6, CANON_NUL },
	{ "\0/a", 3, CANON_NOT_ORIGIN_FORM },
	/* Control characters, raw anywhere, encoded in the path. */
	{ "/a\rb", 0, CANON_CONTROL },
	{ "/a\nb", 0, CANON_CONTROL },
	{ "/a\tb", 0, CANON_CONTROL },
	{ "/a\x7f", 0, CANON_CONTROL },
	{ "/a%0d%0aSet-Cookie:x", 0, CANON_CONTROL },
	{ "/a%0A", 0, CANON_CONTROL },
	{ "/a%1f", 0, CANON_CONTROL },
	{ "/a%7F", 0, CANON_CONTROL },
	{ "/a?x=\r\n", 0, CANON_CONTROL },
	/* Backslash, fragments. */
	{ "/a\\b", 0, CANON_BACKSLASH },
	{ "/a\\..\\b", 0, CANON_BACKSLASH },
	{ "/a?x=\\", 0, CANON_BACKSLASH },
	{ "/a#frag", 0, CANON_FRAGMENT },
	{ "/a?x=1#frag", 0, CANON_FRAGMENT },
	{ "/#", 0, CANON_FRAGMENT },
	/* Raw bytes >= 0x80. */
	{ "/caf\xc3\xa9", 0, CANON_NON_ASCII },
	{ "/a\xff", 0, CANON_NON_ASCII },
	{ "/a?q=\xc3\xa9", 0, CANON_NON_ASCII },
	/* Characters not allowed raw in a path. */
	{ "/a b", 0, CANON_BAD_CHAR },
	{ "/a?x= ", 0, CANON_BAD_CHAR },
	{ "/a<script>", 0, CANON_BAD_CHAR },
	{ "/a/{applicationId}", 0, CANON_BAD_CHAR },
	{ "/a|b", 0, CANON_BAD_CHAR },
	{ "/a\"b", 0, CANON_BAD_CHAR },
	{ "/a[0]", 0, CANON_BAD_CHAR },
	{ "/a`b", 0, CANON_BAD_CHAR },
	{ "/a^b", 0, CANON_BAD_CHAR },
	/* Malformed escapes. */
	{ "/a%", 0, CANON_BAD_ESCAPE },
	{ "/a%2", 0, CANON_BAD_ESCAPE },
	{ "/a%zz", 0, CANON_BAD_ESCAPE },
	{ "/a%g0", 0, CANON_BAD_ESCAPE },
	{ "/a%%32%66", 0, CANON_BAD_ESCAPE },
	{ "/a%2/b", 0, CANON_BAD_ESCAPE },
	{ "/a?x=%", 0, CANON_BAD_ESCAPE },
	{ "/a?x=%4", 0, CANON_BAD_ESCAPE },
	{ "/a?x=%xy", 0, CANON_BAD_ESCAPE },
	{ "/a%c3%", 0, CANON_BAD_ESCAPE },
	/* Overlong and invalid UTF-8 in escapes. */
	{ "/a%c0%af", 0, CANON_BAD_UTF8 },		/* overlong '/' */
	{ "/a%c0%ae%c0%ae", 0, CANON_BAD_UTF8 },	/* overlong ".." */
	{ "/a%c1%9c", 0, CANON_BAD_UTF8 },		/* overlong '\' */
	{ "/a%e0%80%af", 0, CANON_BAD_UTF8 },		/* 3-byte overlong '/' */
	{ "/a%f0%80%80%af", 0, CANON_BAD_UTF8 },	/* 4-byte overlong */
	{ "/a%ed%a0%80", 0, CANON_BAD_UTF8 },		/* surrogate */
	{ "/a%f4%90%80%80", 0, CANON_BAD_UTF8 },	/* > U+10FFFF */
	{ "/a%f5%80%80%80", 0, CANON_BAD_UTF8 },
	{ "/a%ff", 0, CANON_BAD_UTF8 },
	{ "/a%80", 0, CANON_BAD_UTF8 },			/* lone continuation */
	{ "/a%c3", 0, CANON_BAD_UTF8 },			/* truncated */
	{ "/a%c3x", 0, CANON_BAD_UTF8 },
	{ "/a%c3%28", 0, CANON_BAD_UTF8 },		/* bad continuation */
	{ "/a%e2%82", 0, CANON_BAD_UTF8 },
	{ "/a?x=%c0%af", 0, CANON_BAD_UTF8 },
	/* Needlessly encoded unreserved characters. */
	{ "/applications/x/devices/tag%4Beys", 0, CANON_ENCODED_UNRESERVED },
	{ "/%61pplications", 0, CANON_ENCODED_UNRESERVED },
	{ "/a/b%2Dc", 0, CANON_ENCODED_UNRESERVED },
	{ "/a/b%5fc", 0, CANON_ENCODED_UNRESERVED },
	{ "/a/b%7Ec", 0, CANON_ENCODED_UNRESERVED },
	{ "/a/x%2e", 0, CANON_ENCODED_UNRESERVED },
	{ "/a/%30", 0, CANON_ENCODED_UNRESERVED },
};

static void
test_refusals(void)
{
	size_t n = sizeof(refusals) / sizeof(refusals[0]);
	struct canon_target t;

	for (size_t i = 0; i < n; i++) {
		const struct refusal *r = &refusals[i];
		size_t len = r->len ? r->len : strlen(r->target);
		enum canon_status st = canon_target(r->target, len, &t);
		CU_ASSERT_EQUAL(st, r->want);
		CU_ASSERT_EQUAL(canon_status_http(st), 400);
		if (st != r->want)
			fprintf(stderr, "\n  case %zu (%.*s): got %s, want %s\n", i,
			    (int)len, r->target, canon_status_name(st),
			    canon_status_name(r->want));
	}
	printf("\n  %zu hostile targets refused\n", n);
	CU_ASSERT(n >= 50);
}

static void
test_too_long(void)
{
	char *buf = malloc(SG_MAX_TARGET_BYTES + 2);
	struct canon_target t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	/* Exactly at the limit: accepted. */
	buf[0] = '/';
	memset(buf + 1, 'a', SG_MAX_TARGET_BYTES);
	CU_ASSERT_EQUAL(canon_target(buf, SG_MAX_TARGET_BYTES, &t), CANON_OK);
	CU_ASSERT_EQUAL(t.path_len, SG_MAX_TARGET_BYTES);
	/* One byte more: 414, even though the rest is fine. */
	CU_ASSERT_EQUAL(canon_target(buf, SG_MAX_TARGET_BYTES + 1, &t), CANON_TOO_LONG);
	CU_ASSERT_EQUAL(canon_status_http(CANON_TOO_LONG), 414);
	/* Length is checked before anything else. */
	buf[1] = '\0';
	CU_ASSERT_EQUAL(canon_target(buf, SG_MAX_TARGET_BYTES + 1, &t), CANON_TOO_LONG);
	free(buf);
}

static void
test_too_many_segments(void)
{
	char buf[4 * SG_MAX_PATH_SEGMENTS + 8];
	struct canon_target t;
	size_t o = 0;

	for (int i = 0; i < SG_MAX_PATH_SEGMENTS; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "/s");
	CU_ASSERT_EQUAL(canon_target(buf, o, &t), CANON_OK);
	CU_ASSERT_EQUAL(t.nsegs, SG_MAX_PATH_SEGMENTS);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "/s");
	CU_ASSERT_EQUAL(canon_target(buf, o, &t), CANON_TOO_MANY_SEGMENTS);
}

/* Accepted targets: expected segments joined by '|', and the query. */
static const struct {
	const char *target;
	const char *segs;
	const char *query;	/* NULL: no '?' */
} accepted[] = {
	{ "/", "", NULL },
	{ "/?", "", "" },
	{ "/?a=b", "", "a=b" },
	{ "/applications", "applications", NULL },
	{ "/applications/5f0c8e1d2a3b4c5d6e7f8a9b/devices",
	  "applications|5f0c8e1d2a3b4c5d6e7f8a9b|devices", NULL },
	{ "/a/b?", "a|b", "" },
	{ "/a/b?x=1&y=%2F../..//?#", NULL, NULL },	/* '#' refused: see below */
	{ "/a/b?x=1&y=%2F..//?z", "a|b", "x=1&y=%2F..//?z" },
	{ "/a/b?filter[name]={\"x\":1}|~", "a|b", "filter[name]={\"x\":1}|~" },
	{ "/a/b?q=%0A%09%7f", "a|b", "q=%0A%09%7f" },
	{ "/a/.b/b.", "a|.b|b.", NULL },
	{ "/a/..b/b..", "a|..b|b..", NULL },
	{ "/a/a.b.c", "a|a.b.c", NULL },
	{ "/a/caf%C3%A9", "a|caf%C3%A9", NULL },
	{ "/a/%E2%82%AC%F0%9F%98%80", "a|%E2%82%AC%F0%9F%98%80", NULL },
	{ "/a/x%20y%25z%3Fw%23", "a|x%20y%25z%3Fw%23", NULL },
	{ "/a/!$&'()*+,;=:@", "a|!$&'()*+,;=:@", NULL },
	{ "/a/-._~", "a|-._~", NULL },
	{ "/a?q=caf%c3%a9", "a", "q=caf%c3%a9" },
};

static void
test_accepted(void)
{
	struct canon_target t;

	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		const char *in = accepted[i].target;
		size_t len = strlen(in);
		enum canon_status st = canon_target(in, len, &t);
		char joined[512];
		size_t o = 0;

		if (accepted[i].segs == NULL) {
			CU_ASSERT_EQUAL(st, CANON_FRAGMENT);
			continue;
		}
		CU_ASSERT_EQUAL(st, CANON_OK);
		if (st != CANON_OK) {
			fprintf(stderr, "\n  %s: %s\n", in, canon_status_name(st));
			continue;
		}
		/* Slices of the input, no copies. */
		CU_ASSERT_PTR_EQUAL(t.path, in);
		joined[0] = '\0';
		for (size_t k = 0; k < t.nsegs; k++) {
			CU_ASSERT(t.segs[k].ptr > in && t.segs[k].ptr + t.segs[k].len <= in + len);
			o += (size_t)snprintf(joined + o, sizeof(joined) - o, "%s%.*s",
			    k ? "|" : "", (int)t.segs[k].len, t.segs[k].ptr);
		}
		CU_ASSERT_STRING_EQUAL(joined, accepted[i].segs);
		if (accepted[i].query == NULL) {
			CU_ASSERT_FALSE(t.has_query);
			CU_ASSERT_PTR_NULL(t.query);
			CU_ASSERT_EQUAL(t.path_len, len);
		} else {
			CU_ASSERT_TRUE(t.has_query);
			CU_ASSERT_EQUAL(t.query_len, strlen(accepted[i].query));
			CU_ASSERT(t.query != NULL && t.query_len == strlen(accepted[i].query) &&
			    memcmp(t.query, accepted[i].query, t.query_len) == 0);
			CU_ASSERT_PTR_EQUAL(t.query, in + t.path_len + 1);
		}
	}
}

/* The input need not be NUL-terminated: bytes past len are never read. */
static void
test_not_terminated(void)
{
	const char in[] = { '/', 'a', '/', 'b', '%', '2', '0', 'X', 'Y' };
	struct canon_target t;

	CU_ASSERT_EQUAL(canon_target(in, 7, &t), CANON_OK);
	CU_ASSERT_EQUAL(t.nsegs, 2);
	CU_ASSERT_EQUAL(t.segs[1].len, 4);
	/* Cut inside an escape: malformed, not read past the end. */
	CU_ASSERT_EQUAL(canon_target(in, 6, &t), CANON_BAD_ESCAPE);
	CU_ASSERT_EQUAL(canon_target(in, 5, &t), CANON_BAD_ESCAPE);
}

static void
test_messages(void)
{
	for (int st = CANON_OK; st <= CANON_TOO_MANY_SEGMENTS; st++) {
		CU_ASSERT_PTR_NOT_NULL(canon_status_message((enum canon_status)st));
		CU_ASSERT_PTR_NOT_NULL(canon_status_name((enum canon_status)st));
		/* Distinct names, so logs can tell reasons apart. */
		for (int o = CANON_OK; o < st; o++)
			CU_ASSERT(strcmp(canon_status_name((enum canon_status)st),
			    canon_status_name((enum canon_status)o)) != 0);
	}
	CU_ASSERT_STRING_EQUAL(canon_status_name(CANON_ENCODED_SEPARATOR), "encoded_separator");
	CU_ASSERT_EQUAL(canon_status_http(CANON_OK), 0);
}

/* Every byte raw in a path segment: accepted exactly when RFC 3986 pchar
 * allows it (unreserved, sub-delims, ':', '@'), '%' and '/' aside. The
 * classes are tables now; this is the definition they must match. */
static void
test_every_byte(void)
{
	for (int c = 1; c < 256; c++) {
		char target[8] = {'/', 'a', (char)c, 'b', '\0'};
		struct canon_target t;
		int pchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~!$&'()*+,;=:@", c) != NULL;
		enum canon_status st;

		if (c == '%' || c == '/' || c == '?' || c == '.')
			continue;
		st = canon_target(target, 4, &t);
		if ((st == CANON_OK) != pchar)
			fprintf(stderr, "byte 0x%02x: status %d\n", c, st);
		CU_ASSERT_EQUAL(st == CANON_OK, pchar);
	}
}

int
main(void)
{
	CU_pSuite s;
	int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("canon", NULL, NULL);
	CU_add_test(s, "hostile targets", test_refusals);
	CU_add_test(s, "too long", test_too_long);
	CU_add_test(s, "too many segments", test_too_many_segments);
	CU_add_test(s, "accepted targets", test_accepted);
	CU_add_test(s, "not NUL-terminated", test_not_terminated);
	CU_add_test(s, "messages", test_messages);
	CU_add_test(s, "every byte raw in a segment", test_every_byte);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
