/* test_jwtjson.c: the fast path for token JSON against jansson itself.
 * Every input here is judged twice, by jwtjson_parse_object and by
 * json_loadb with JSON_REJECT_DUPLICATES: both refuse it, or both give
 * equal values; and the inputs a token really carries must take the fast
 * path (else the optimisation is silently gone). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "jwtjson.h"

/* jansson's verdict: the object, or NULL; any NUL byte is refused
 * (jansson 2.14 accepts one right after a number or literal). */
static json_t *
reference(const char *s, size_t len)
{
	json_error_t err;
	json_t *v = memchr(s, '\0', len) != NULL ? NULL : json_loadb(s, len, JSON_REJECT_DUPLICATES, &err);

	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* What jwtjson_scan_flat reads of s must be jansson's object exactly;
 * returns whether it read it. */
static int
scan_agrees(const char *s, size_t len)
{
	struct jwtjson_member m[8];
	json_t *ref = reference(s, len), *v;
	size_t n = 0;
	int took = jwtjson_scan_flat((const unsigned char *)s, len, m, 8, &n);

	if (took) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
		CU_ASSERT_EQUAL(json_object_size(ref), n);
		for (size_t i = 0; i < n; i++) {
			v = json_object_getn(ref, m[i].name, m[i].name_len);
			CU_ASSERT_PTR_NOT_NULL_FATAL(v);
			CU_ASSERT_EQUAL(json_typeof(v), m[i].type);
			if (m[i].type == JSON_STRING) {
				CU_ASSERT_EQUAL(json_string_length(v), m[i].str_len);
				CU_ASSERT_EQUAL(memcmp(json_string_value(v), m[i].str, m[i].str_len), 0);
			}
		}
	}
	json_decref(ref);
	return took;
}

/* Judge s (len bytes) both ways; returns whether the fast path took it. */
static int
agree(const char *s, size_t len)
{
	json_t *ref = reference(s, len), *got = jwtjson_parse_object((const unsigned char *)s, len);
	json_t *fast = NULL;
	int took = jwtjson_parse_fast((const unsigned char *)s, len, &fast);

	CU_ASSERT_EQUAL(got == NULL, ref == NULL);
	if (got != NULL && ref != NULL)
		CU_ASSERT_TRUE(json_equal(got, ref));
	if (took) {
		CU_ASSERT_PTR_NOT_NULL(ref);
		CU_ASSERT_TRUE(ref != NULL && json_equal(fast, ref));
	} else
		CU_ASSERT_PTR_NULL(fast);
	if ((got == NULL) != (ref == NULL))
		fprintf(stderr, "disagreement on: %.*s\n", (int)len, s);
	json_decref(ref);
	json_decref(got);
	json_decref(fast);
	(void)scan_agrees(s, len);
	return took;
}

static int
agree_str(const char *s)
{
	return agree(s, strlen(s));
}

static void
test_nul_refused(void)
{
#define NUL_CASE(lit) { lit, sizeof(lit) - 1 }
	static const struct {
		const char *s;
		size_t len;
	} cases[] = {
		NUL_CASE("{\"exp\":1\0}"), NUL_CASE("{\"a\":true\0}"), NUL_CASE("{\"a\":1.5\0}"),
		NUL_CASE("{\"a\":[1\0]}"), NUL_CASE("{\"a\":1}\0"), NUL_CASE("{\"a\":\"x\0\"}"),
	};
#undef NUL_CASE

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = jwtjson_parse_object((const unsigned char *)cases[i].s, cases[i].len);

		CU_ASSERT_PTR_NULL(v);
		json_decref(v);
	}
	/* jansson itself lets the first through: the reason for the check. */
	{
		json_error_t err;
		json_t *v = json_loadb("{\"exp\":1\0}", 10, JSON_REJECT_DUPLICATES, &err);

		if (v == NULL)
			fprintf(stderr, "note: this jansson refuses {\"exp\":1<NUL>} by itself\n");
		json_decref(v);
	}
}

static void
test_token_objects_fast(void)
{
	/* What scopegate-token and common issuers write. */
	CU_ASSERT_TRUE(agree_str("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"hs1\"}"));
	CU_ASSERT_TRUE(agree_str("{\"iss\":\"https://issuer.bench\",\"sub\":\"bench\","
	    "\"jti\":\"fresh-hs256-17\",\"iat\":1796661637,\"exp\":1796748037,"
	    "\"aud\":\"scopegate\",\"scope\":\"applicationApiToken.get\"}"));
	CU_ASSERT_TRUE(agree_str(" {\n\t\"aud\" : [\"a\", \"b\"], \"realm\": {\"scopes\": [\"x\"]},"
	    " \"admin\": true, \"x\": false, \"y\": null, \"n\": -5, \"z\": 0, \"e\": {}, \"f\": []}\r\n"));
	CU_ASSERT_TRUE(agree_str("{}"));
	CU_ASSERT_TRUE(agree_str("{\"\":\"\"}"));
	CU_ASSERT_TRUE(agree_str("{\"n\":999999999999999999,\"m\":-999999999999999999}"));
}

static void
test_duplicates_refused(void)
{
	char buf[4096];
	size_t o = 0;

	CU_ASSERT_FALSE(agree_str("{\"a\":1,\"a\":2}"));
	CU_ASSERT_FALSE(agree_str("{\"exp\":1,\"sub\":\"x\",\"exp\":99999999999}"));
	/* The other spelling of the same name. */
	CU_ASSERT_FALSE(agree_str("{\"exp\":1,\"\\u0065xp\":2}"));
	CU_ASSERT_FALSE(agree_str("{\"a\":{\"b\":1,\"b\":1}}"));
	/* Past the names compared without hashing. */
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"k%d\":%d,", i, i);
	buf[o - 1] = '}';
	CU_ASSERT_TRUE(agree(buf, o));
	snprintf(buf + o - 1, sizeof(buf) - o + 1, ",\"k35\":0}");
	CU_ASSERT_FALSE(agree_str(buf));
	snprintf(buf + o - 1, sizeof(buf) - o + 1, ",\"k3\":0}");
	CU_ASSERT_FALSE(agree_str(buf));
}

static void
test_outside_subset(void)
{
	static const char *const cases[] = {
		"{\"a\":\"\\u0061\"}", "{\"a\":\"\\\"\"}", "{\"a\":\"\xc3\xa9\"}",
		"{\"a\":\"\xc3\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\x7f\"}", "{\"a\":\"\x01\"}",
		"{\"a\":\"\t\"}", "{\"\\u0000\":1}", "{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":1E3}",
		"{\"a\":-0.0}", "{\"a\":1234567890123456789}", "{\"a\":12345678901234567890123}",
		"{\"a\":-9223372036854775808}", "{\"a\":01}", "{\"a\":-01}", "{\"a\":00}",
		"{\"a\":-}", "{\"a\":+1}", "{\"a\":.5}", "{\"a\":1.}", "{\"a\":tru}",
		"{\"a\":truex}", "{\"a\":nul}", "{\"a\":NaN}", "{\"a\":Infinity}",
		"{\"a\":1,}", "{,}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
		"{\"a\":[1,]}", "{\"a\":[,1]}", "{\"a\":[1 2]}", "{\"a\":1}}", "{\"a\":1}x",
		"{\"a\":1} {}", "{", "{\"a", "{\"a\":\"b", "{\"a\":[", "{'a':1}", "{a:1}",
		"[]", "\"x\"", "1", "null", "", "   ", "\xef\xbb\xbf{}", "{\"a\":1}\f",
		"{\"a\":\"b\"\x0b}", "{/*c*/}", "{\"a\":0x10}", "{\"a\":-1-2}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		agree_str(cases[i]);
	/* Bytes after or inside the object that a C string cannot show. */
	agree("{}\0", 3);
	agree("{\"a\":\"\0\"}", 8);
	agree("{\"a\0\":1}", 8);
	agree("\0{}", 3);
}

static int
scan_str(const char *s)
{
	return scan_agrees(s, strlen(s));
}

static void
test_scan_flat(void)
{
	const char *three = "{\"a\":1,\"b\":2,\"c\":3}", *two = "{\"a\":1,\"b\":\"x\"}";
	struct jwtjson_member m[2];
	size_t n = 9;

	CU_ASSERT_TRUE(scan_str("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"hs1\"}"));
	CU_ASSERT_TRUE(scan_str(" { \"a\" : 1 , \"b\":true,\"c\":null,\"d\":false,\"e\":-7} "));
	CU_ASSERT_TRUE(scan_str("{}"));
	/* Not read: nested values, escapes, duplicates, too many members. */
	CU_ASSERT_FALSE(scan_str("{\"crit\":[\"exp\"]}"));
	CU_ASSERT_FALSE(scan_str("{\"a\":{}}"));
	CU_ASSERT_FALSE(scan_str("{\"kid\":\"a\\u0000b\"}"));
	CU_ASSERT_FALSE(scan_str("{\"alg\":\"HS256\",\"alg\":\"none\"}"));
	CU_ASSERT_FALSE(scan_str("{\"alg\":1.0}"));
	CU_ASSERT_FALSE(jwtjson_scan_flat((const unsigned char *)three, strlen(three), m, 2, &n));
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_TRUE(jwtjson_scan_flat((const unsigned char *)two, strlen(two), m, 2, &n));
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(m[1].type, JSON_STRING);
	CU_ASSERT_EQUAL(m[1].str_len, 1);
	CU_ASSERT_EQUAL(m[0].type, JSON_INTEGER);
}

static void
test_depth(void)
{
	char buf[8192];
	size_t n;

	/* Nested a few deep: fast; deeper: jansson's; far deeper than
	 * jansson allows: refused by both. */
	for (int d = 1; d <= 12; d++) {
		n = 0;
		for (int i = 0; i < d; i++)
			n += (size_t)sprintf(buf + n, "%s", i % 2 ? "[" : "{\"k\":");
		buf[n++] = '1';
		for (int i = d - 1; i >= 0; i--)
			buf[n++] = i % 2 ? ']' : '}';
		CU_ASSERT_EQUAL(agree(buf, n), d <= 8);
	}
	n = 0;
	buf[n++] = '{';
	n += (size_t)sprintf(buf + n, "\"k\":");
	for (int i = 0; i < 3000; i++)
		buf[n++] = '[';
	for (int i = 0; i < 3000; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	CU_ASSERT_FALSE(agree(buf, n));
}

/* Every byte value where whitespace may stand (before and after the
 * object, around names, colons, commas and values, in arrays): the fast
 * path and the header scan agree with jansson on each, so only the four
 * JSON whitespace bytes are skipped (not \f, \v, NUL or 0xa0). */
static void
test_every_byte_as_whitespace(void)
{
	static const char *const tmpl[] = {
		"%c{\"a\":1}", "{\"a\":1}%c", "{%c\"a\":1}", "{\"a\"%c:1}", "{\"a\":%c1}",
		"{\"a\":1%c}", "{\"a\":1,%c\"b\":2}", "{\"a\":[1%c,2]}", "{\"a\":[%c]}",
	};
	char buf[32];

	for (size_t t = 0; t < sizeof(tmpl) / sizeof(tmpl[0]); t++) {
		for (unsigned c = 0; c < 256; c++) {
			const char *mark = strstr(tmpl[t], "%c");
			size_t pre = (size_t)(mark - tmpl[t]), len = strlen(tmpl[t]) - 1;
			int is_ws = c == ' ' || c == '\t' || c == '\n' || c == '\r';

			memcpy(buf, tmpl[t], pre);
			buf[pre] = (char)c;
			memcpy(buf + pre + 1, mark + 2, len - pre - 1);
			/* agree() checks both parsers and the scan against
			 * jansson; the fast path must take whitespace. */
			int took = agree(buf, len);

			if (is_ws)
				CU_ASSERT_TRUE(took);
		}
	}
}

/* Names that differ only late, or only in length, are two names; the
 * same name after several others is a duplicate. */
static void
test_names_compared_whole(void)
{
	CU_ASSERT_TRUE(agree_str("{\"abc\":1,\"abd\":2,\"ab\":3,\"abcd\":4,\"Abc\":5}"));
	CU_ASSERT_FALSE(agree_str("{\"abc\":1,\"abd\":2,\"ab\":3,\"abcd\":4,\"abd\":5}"));
	CU_ASSERT_FALSE(agree_str("{\"iss\":1,\"sub\":2,\"iat\":3,\"exp\":4,\"scope\":5,\"iat\":6}"));
	CU_ASSERT_TRUE(scan_str("{\"alg\":\"HS256\",\"alh\":1,\"al\":2,\"algx\":3}"));
	CU_ASSERT_FALSE(scan_str("{\"alg\":\"HS256\",\"alh\":1,\"al\":2,\"alh\":3}"));
	CU_ASSERT_TRUE(agree_str("{\"\":1,\"a\":2}"));
	CU_ASSERT_FALSE(agree_str("{\"\":1,\"a\":2,\"\":3}"));
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("jwtjson", NULL, NULL);
	CU_add_test(s, "token objects take the fast path", test_token_objects_fast);
	CU_add_test(s, "duplicate names refused", test_duplicates_refused);
	CU_add_test(s, "every byte as whitespace", test_every_byte_as_whitespace);
	CU_add_test(s, "names compared whole", test_names_compared_whole);
	CU_add_test(s, "outside the subset: jansson decides", test_outside_subset);
	CU_add_test(s, "nesting depth", test_depth);
	CU_add_test(s, "flat scan (headers)", test_scan_flat);
	CU_add_test(s, "a NUL byte is refused where jansson lets it through", test_nul_refused);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
