/* test_qredact.c: the access log's query redaction, attacked with every
 * spelling of a listed name a server could read. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "qredact.h"

static struct qredact *q;

static void
expect(const char *in, const char *want)
{
	char out[512];
	size_t n = qredact_apply(q, in, out, sizeof(out));

	if (strcmp(out, want) != 0)
		fprintf(stderr, "\n%s -> %s, expected %s\n", in, out, want);
	CU_ASSERT_STRING_EQUAL(out, want);
	CU_ASSERT_EQUAL(n, strlen(out));
}

static void
test_plain(void)
{
	expect("", "");
	expect("a=1&b=2", "a=1&b=2");
	expect("token=s3cret", "token=" QREDACT_MARK);
	expect("a=1&token=s3cret&b=2", "a=1&token=" QREDACT_MARK "&b=2");
	expect("token=", "token=" QREDACT_MARK);
	expect("token", "token");			/* no value to hide */
	expect("token&x=1", "token&x=1");
	expect("tokens=1&mytoken=2", "tokens=1&mytoken=2");	/* other names */
	expect("a=token&b=token=x", "a=token&b=token=x");	/* a value, not a name */
	expect("&&token=x&&", "&&token=" QREDACT_MARK "&&");
	expect("key=1&key=2", "key=" QREDACT_MARK "&key=" QREDACT_MARK);	/* duplicates */
	expect("=x&=&==", "=x&=&==");
}

/* Every spelling the upstream could decode to a listed name. */
static void
test_spellings(void)
{
	expect("TOKEN=s", "TOKEN=" QREDACT_MARK);
	expect("ToKeN=s", "ToKeN=" QREDACT_MARK);
	expect("%74oken=s", "%74oken=" QREDACT_MARK);
	expect("%54%4F%4b%45%4e=s", "%54%4F%4b%45%4e=" QREDACT_MARK);
	expect("api+key=s", "api+key=s");		/* "api key", not listed */
	expect("api%5Fkey=s", "api%5Fkey=" QREDACT_MARK);
	expect("token[]=a&token[]=b", "token[]=" QREDACT_MARK "&token[]=" QREDACT_MARK);
	expect("token%5B%5D=a", "token%5B%5D=" QREDACT_MARK);
	expect("token[0]=a", "token[0]=" QREDACT_MARK);
	expect("[]=a", "[]=a");
	/* Bad escapes are kept as written, as servers do: not the name. */
	expect("%7oken=s", "%7oken=s");
	expect("tok%=s", "tok%=s");
	expect("token%=s", "token%=s");
	/* %00 decodes to a NUL, where a C server's name ends: hidden. */
	expect("token%00=s", "token%00=" QREDACT_MARK);
	expect("token%00x=s", "token%00x=" QREDACT_MARK);
}

/* Separators: ';' splits names for servers that take it, but a listed
 * name's value runs to the next '&' so neither reading leaks. */
static void
test_separators(void)
{
	expect("a=1;token=s&b=2", "a=1;token=" QREDACT_MARK "&b=2");
	expect("token=abc;def&b=2", "token=" QREDACT_MARK "&b=2");
	expect("token=abc;key=def", "token=" QREDACT_MARK);
	expect("x;token=s", "x;token=" QREDACT_MARK);
	expect("token=a#b", "token=" QREDACT_MARK);
}

/* A short buffer: cut at a pair, never a name without its mark, always
 * terminated. */
static void
test_short(void)
{
	char out[19];	/* "a=1&token=REDACTED" and its NUL, exactly */
	size_t n;

	n = qredact_apply(q, "a=1&token=secretvalue", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "a=1&token=" QREDACT_MARK);
	CU_ASSERT_EQUAL(n, strlen(out));
	n = qredact_apply(q, "abc=1&token=secretvalue", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "abc=1&");
	CU_ASSERT(strstr(out, "secret") == NULL);
	n = qredact_apply(q, "token=secret", out, 1);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(qredact_apply(q, "x", out, 0), 0);
	/* A long name is compared whole: not cut to a listed prefix. */
	{
		char in[400];
		memset(in, 'k', 300);
		memcpy(in, "key", 3);
		strcpy(in + 300, "=v");
		char big[512];
		qredact_apply(q, in, big, sizeof(big));
		CU_ASSERT(strcmp(big + 300, "=v") == 0);
	}
}

static void
test_new(void)
{
	const char *why = NULL;
	const char *ctl[] = {"tok\x01"};
	const char *empty[] = {""};
	char long_name[200];
	const char *lng[] = {long_name};
	struct qredact *none;
	char out[64];

	CU_ASSERT_PTR_NULL(qredact_new(ctl, 1, &why));
	CU_ASSERT_PTR_NOT_NULL(why);
	CU_ASSERT_PTR_NULL(qredact_new(empty, 1, &why));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	CU_ASSERT_PTR_NULL(qredact_new(lng, 1, &why));
	/* An empty list redacts nothing; NULL redacts nothing. */
	none = qredact_new(NULL, 0, &why);
	CU_ASSERT_PTR_NOT_NULL(none);
	qredact_apply(none, "token=s", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "token=s");
	qredact_apply(NULL, "token=s", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "token=s");
	qredact_free(none);
}

/* The configuration: defaults when absent, errors at JSON pointers. */
static void
test_json(void)
{
	struct errlist errs;
	struct jsonconf jc = {"x.json", &errs};
	struct qredact *d;
	json_t *v;
	char out[64];

	errlist_init(&errs);
	d = qredact_from_json(&jc, NULL, "/log/redact_query");
	CU_ASSERT_PTR_NOT_NULL(d);
	qredact_apply(d, "access_token=a&password=b&x=c", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "access_token=" QREDACT_MARK "&password=" QREDACT_MARK "&x=c");
	qredact_free(d);
	v = json_pack("[s,i]", "ok", 3);
	CU_ASSERT_PTR_NULL(qredact_from_json(&jc, v, "/log/redact_query"));
	CU_ASSERT_EQUAL(errs.n, 1);
	if (errs.n == 1)
		CU_ASSERT(strstr(errs.msgs[0], "x.json: /log/redact_query/1: ") != NULL);
	json_decref(v);
	v = json_string("token");
	CU_ASSERT_PTR_NULL(qredact_from_json(&jc, v, "/log/redact_query"));
	CU_ASSERT_EQUAL(errs.n, 2);
	json_decref(v);
	v = json_pack("[s]", "");
	CU_ASSERT_PTR_NULL(qredact_from_json(&jc, v, "/log/redact_query"));
	CU_ASSERT_EQUAL(errs.n, 3);
	json_decref(v);
	v = json_pack("[]");
	d = qredact_from_json(&jc, v, "/log/redact_query");
	CU_ASSERT_PTR_NOT_NULL(d);
	qredact_free(d);
	json_decref(v);
	errlist_free(&errs);
}

int
main(void)
{
	const char *names[] = {"token", "key", "api_key", "Password"};
	const char *why = NULL;
	CU_pSuite s;
	unsigned fails;

	q = qredact_new(names, 4, &why);
	if (q == NULL || CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("qredact", NULL, NULL);
	CU_add_test(s, "plain", test_plain);
	CU_add_test(s, "spellings", test_spellings);
	CU_add_test(s, "separators", test_separators);
	CU_add_test(s, "short buffer", test_short);
	CU_add_test(s, "new", test_new);
	CU_add_test(s, "configuration", test_json);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	qredact_free(q);
	return fails == 0 ? 0 : 1;
}
