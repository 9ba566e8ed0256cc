/* test_jsonschema.c: the JSON Schema validator beyond the official suite:
 * error pointers, limits (deep and huge instances, big numbers), cyclic
 * $ref, compile errors, regex dialect, formats, threads, and the Losant
 * schemas the gateway ships. */
#include "config.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "defaults.h"
#include "jsonschema.h"

static json_t *
parse(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);

	if (v == NULL)
		fprintf(stderr, "bad test JSON: %s: %s\n", text, jerr.text);
	return v;
}

static struct jschema *
compile(const char *text)
{
	struct errlist errs;
	struct jschema *js;
	json_t *s = parse(text);

	errlist_init(&errs);
	js = s ? jschema_compile(s, "t", &errs) : NULL;
	if (js == NULL)
		errlist_print(&errs, stderr);
	errlist_free(&errs);
	json_decref(s);
	return js;
}

/* Compile text expecting failure; 1 when some message contains needle. */
static int
compile_fails_with(const char *text, const char *needle)
{
	struct errlist errs;
	struct jschema *js;
	json_t *s = parse(text);
	int found = 0;

	errlist_init(&errs);
	js = jschema_compile(s, "t", &errs);
	for (size_t i = 0; i < errs.n; i++)
		if (strstr(errs.msgs[i], needle) != NULL)
			found = 1;
	if (js != NULL || !found) {
		printf("\n  compile of %s: %s; messages:\n", text, js ? "succeeded" : "failed");
		errlist_print(&errs, stdout);
	}
	jschema_free(js);
	errlist_free(&errs);
	json_decref(s);
	return js == NULL && found;
}

/* Validate instance text: returns the result, filling *err. */
static int
check(const struct jschema *js, const char *inst, struct jschema_error *err)
{
	json_t *v = parse(inst);
	int rc = v ? jschema_validate(js, v, err) : 99;

	json_decref(v);
	return rc;
}

static void
test_error_pointer(void)
{
	struct jschema *js = compile("{\"type\":\"object\",\"properties\":{"
	    "\"scope\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"pattern\":\"^[a-z.*]+$\"}},"
	    "\"a/b~c\":{\"type\":\"integer\"},"
	    "\"n\":{\"type\":\"object\",\"required\":[\"id\"]}},"
	    "\"additionalProperties\":false}");
	struct jschema_error err;

	CU_ASSERT_FATAL(js != NULL);
	CU_ASSERT_EQUAL(check(js, "{\"scope\":[\"a\",\"b.*\"],\"a/b~c\":3}", &err), 0);
	CU_ASSERT_EQUAL(check(js, "{\"scope\":[\"a\",\"b\",\"C!\"]}", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/scope/2");
	CU_ASSERT_STRING_EQUAL(err.keyword, "pattern");
	CU_ASSERT_STRING_EQUAL(err.schema_ptr, "t#/properties/scope/items/pattern");
	CU_ASSERT_EQUAL(check(js, "{\"a/b~c\":\"x\"}", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/a~1b~0c");
	CU_ASSERT_STRING_EQUAL(err.keyword, "type");
	CU_ASSERT_STRING_EQUAL(err.message, "expected integer, got string");
	CU_ASSERT_EQUAL(check(js, "{\"n\":{}}", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/n");
	CU_ASSERT_STRING_EQUAL(err.keyword, "required");
	CU_ASSERT(strstr(err.message, "\"id\"") != NULL);
	CU_ASSERT_EQUAL(check(js, "{\"owner\":1}", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/owner");
	CU_ASSERT_STRING_EQUAL(err.keyword, "additionalProperties");
	CU_ASSERT_EQUAL(check(js, "[]", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "");
	CU_ASSERT_STRING_EQUAL(err.keyword, "type");
	/* A NULL error pointer is allowed. */
	CU_ASSERT_EQUAL(check(js, "[]", NULL), -1);
	jschema_free(js);

	/* Inside anyOf the branch errors stay silent; the anyOf is reported. */
	js = compile("{\"items\":{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":3}]}}");
	CU_ASSERT_FATAL(js != NULL);
	CU_ASSERT_EQUAL(check(js, "[\"x\",4,1]", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/2");
	CU_ASSERT_STRING_EQUAL(err.keyword, "anyOf");
	jschema_free(js);
}

static void
test_code_points(void)
{
	struct jschema *js = compile("{\"minLength\":2,\"maxLength\":3}");
	struct jschema_error err;

	CU_ASSERT_FATAL(js != NULL);
	/* é is 2 bytes, € 3, the dragon 4: lengths count code points. */
	CU_ASSERT_EQUAL(check(js, "\"\xc3\xa9\xc3\xa9\"", &err), 0);
	CU_ASSERT_EQUAL(check(js, "\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"", &err), 0);
	CU_ASSERT_EQUAL(check(js, "\"\xf0\x9f\x90\xb2\"", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "minLength");
	CU_ASSERT_EQUAL(check(js, "\"\\ud83d\\udc32\\ud83d\\udc32\"", &err), 0);
	CU_ASSERT_EQUAL(check(js, "\"\xf0\x9f\x90\xb2\xc3\xa9\xe2\x82\xac" "a\"", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "maxLength");
	jschema_free(js);
	/* jansson refuses invalid UTF-8, so an instance never carries it. */
	CU_ASSERT_PTR_NULL(json_loads("\"\xc3\x28\"", 0, NULL));
	CU_ASSERT_PTR_NULL(json_loads("\"\xed\xa0\x80\"", 0, NULL));
	CU_ASSERT_PTR_NULL(json_string("\xff"));
}

/* An array nested n levels deep, built without recursion. */
static json_t *
deep_array(size_t n)
{
	json_t *root = json_array(), *cur = root;

	for (size_t i = 1; i < n; i++) {
		json_t *child = json_array();
		json_array_append_new(cur, child);
		cur = child;
	}
	return root;
}

/* Free a deep_array without letting jansson recurse n levels. */
static void
free_deep(json_t *v)
{
	while (v != NULL) {
		json_t *next = json_array_get(v, 0);
		json_incref(next);
		json_decref(v);
		v = next;
	}
}

static void
test_deep_instance(void)
{
	struct jschema *any = compile("{}");
	struct jschema *rec = compile("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}");
	struct jschema *en = compile("{\"enum\":[[[1]]]}");
	struct jschema *en2;
	struct errlist errs;
	json_t *schema;
	struct jschema *uniq = compile("{\"uniqueItems\":true}");
	struct jschema_error err;
	char *text;
	json_t *v;
	size_t n = 2000;

	CU_ASSERT_FATAL(any && rec && en && uniq);
	/* Near jansson's own parse limit (2048). */
	text = malloc(2 * n + 1);
	memset(text, '[', n);
	memset(text + n, ']', n);
	text[2 * n] = '\0';
	v = json_loads(text, 0, NULL);
	CU_ASSERT_FATAL(v != NULL);
	CU_ASSERT_EQUAL(jschema_validate(any, v, &err), 0);
	CU_ASSERT_EQUAL(jschema_validate(rec, v, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "depth");
	CU_ASSERT(strlen(err.instance_ptr) > 2 * SG_SCHEMA_MAX_DEPTH - 4);
	/* Equality stops at the first difference... */
	CU_ASSERT_EQUAL(jschema_validate(en, v, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "enum");
	/* ...but comparing two deep values is bounded too. */
	errlist_init(&errs);
	schema = json_pack("{s:[O]}", "enum", v);
	en2 = jschema_compile(schema, "t", &errs);
	CU_ASSERT_FATAL(en2 != NULL);
	CU_ASSERT_EQUAL(jschema_validate(en2, v, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "depth");
	jschema_free(en2);
	json_decref(schema);
	errlist_free(&errs);
	json_decref(v);
	free(text);

	/* Far beyond it, built by hand: still a failure, not a crash. */
	v = deep_array(100000);
	CU_ASSERT_EQUAL(jschema_validate(any, v, &err), 0);
	CU_ASSERT_EQUAL(jschema_validate(rec, v, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "depth");
	CU_ASSERT_EQUAL(jschema_validate(en, v, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "enum");
	{
		json_t *pair = json_array();
		json_array_append(pair, v);
		json_array_append(pair, v);
		CU_ASSERT_EQUAL(jschema_validate(uniq, pair, &err), -1);
		CU_ASSERT_STRING_EQUAL(err.keyword, "depth");
		CU_ASSERT_EQUAL(jschema_json_equal(v, v), -1);
		json_array_clear(pair);
		json_decref(pair);
	}
	free_deep(v);

	/* Just within the bound is fine. */
	v = deep_array(SG_SCHEMA_MAX_DEPTH - 2);
	CU_ASSERT_EQUAL(jschema_validate(rec, v, &err), 0);
	free_deep(v);
	jschema_free(any);
	jschema_free(rec);
	jschema_free(en);
	jschema_free(uniq);
}

static void
test_huge_array(void)
{
	struct jschema *js = compile("{\"type\":\"array\",\"uniqueItems\":true,"
	    "\"items\":{\"type\":\"integer\",\"minimum\":0},\"maxItems\":200000}");
	struct jschema *small = compile("{\"uniqueItems\":true}");
	struct jschema_error err;
	json_t *a = json_array();
	clock_t t0 = clock();

	CU_ASSERT_FATAL(js && small);
	for (json_int_t i = 0; i < 100000; i++)
		json_array_append_new(a, json_integer(i));
	CU_ASSERT_EQUAL(jschema_validate(js, a, &err), 0);
	/* 5.0 equals 5: a duplicate, found through the hash path. */
	json_array_append_new(a, json_real(5.0));
	CU_ASSERT_EQUAL(jschema_validate(js, a, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "uniqueItems");
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/100000");
	CU_ASSERT_STRING_EQUAL(err.message, "same as item 5");
	json_array_set_new(a, 100000, json_integer(-1));
	CU_ASSERT_EQUAL(jschema_validate(js, a, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "minimum");
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/100000");
	/* Linear-ish, not quadratic: well under a second of CPU. */
	CU_ASSERT((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	json_decref(a);

	CU_ASSERT_EQUAL(check(small, "[1, 1.0]", &err), -1);
	CU_ASSERT_EQUAL(check(small, "[{\"a\":[1,{\"b\":2}]}, {\"a\":[1.0,{\"b\":2.0}]}]", &err), -1);
	CU_ASSERT_EQUAL(check(small, "[{\"a\":1,\"b\":2}, {\"b\":2,\"a\":1}]", &err), -1);
	CU_ASSERT_EQUAL(check(small, "[{\"a\":1}, {\"a\":1,\"b\":2}, 1.5, \"1\", true, 1]", &err), 0);
	jschema_free(js);
	jschema_free(small);
}

static void
test_numbers(void)
{
	struct jschema *max = compile("{\"maximum\":9007199254740993}");
	struct jschema *emax = compile("{\"maximum\":9223372036854775807,\"exclusiveMaximum\":true}");
	struct jschema *minr = compile("{\"minimum\":1e19}");
	struct jschema *mul = compile("{\"multipleOf\":3}");
	struct jschema *mulf = compile("{\"multipleOf\":0.01}");
	struct jschema *integer = compile("{\"type\":\"integer\"}");
	struct jschema_error err;

	CU_ASSERT_FATAL(max && emax && minr && mul && mulf && integer);
	/* Doubles cannot tell these apart; int64 comparison can. */
	CU_ASSERT_EQUAL(check(max, "9007199254740993", &err), 0);
	CU_ASSERT_EQUAL(check(max, "9007199254740994", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "maximum");
	CU_ASSERT_EQUAL(check(max, "9007199254740993.5", &err), -1);
	CU_ASSERT_EQUAL(check(emax, "9223372036854775806", &err), 0);
	CU_ASSERT_EQUAL(check(emax, "9223372036854775807", &err), -1);
	CU_ASSERT_EQUAL(check(minr, "9223372036854775807", &err), -1);
	CU_ASSERT_EQUAL(check(minr, "1e300", &err), 0);
	CU_ASSERT_EQUAL(check(mul, "9007199254740993", &err), 0);
	CU_ASSERT_EQUAL(check(mul, "9007199254740994", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "multipleOf");
	CU_ASSERT_EQUAL(check(mul, "-9223372036854775806", &err), 0);
	CU_ASSERT_EQUAL(check(mul, "-9223372036854775808", &err), -1);
	CU_ASSERT_EQUAL(check(mulf, "0.07", &err), 0);
	CU_ASSERT_EQUAL(check(mulf, "19.99", &err), 0);
	CU_ASSERT_EQUAL(check(mulf, "0.075", &err), -1);
	CU_ASSERT_EQUAL(check(integer, "1.0", &err), 0);
	CU_ASSERT_EQUAL(check(integer, "1e300", &err), 0);
	CU_ASSERT_EQUAL(check(integer, "1.5", &err), -1);
	/* jansson refuses numbers it cannot hold: never seen by the validator. */
	CU_ASSERT_PTR_NULL(json_loads("[18446744073709551616]", 0, NULL));
	CU_ASSERT_PTR_NULL(json_loads("[1e400]", 0, NULL));
	jschema_free(max);
	jschema_free(emax);
	jschema_free(minr);
	jschema_free(mul);
	jschema_free(mulf);
	jschema_free(integer);
}

static void
test_refs(void)
{
	struct jschema *js;
	struct jschema_error err;

	CU_ASSERT(compile_fails_with("{\"$ref\":\"#\"}", "cycle"));
	CU_ASSERT(compile_fails_with("{\"definitions\":{\"a\":{\"$ref\":\"#/definitions/b\"},"
	    "\"b\":{\"$ref\":\"#/definitions/a\"}},\"$ref\":\"#/definitions/a\"}", "cycle"));
	CU_ASSERT(compile_fails_with("{\"anyOf\":[{\"type\":\"string\"},{\"$ref\":\"#\"}]}", "cycle"));
	CU_ASSERT(compile_fails_with("{\"not\":{\"allOf\":[{\"$ref\":\"#\"}]}}", "cycle"));
	CU_ASSERT(compile_fails_with("{\"properties\":{\"x\":{\"$ref\":\"#/definitions/nope\"}}}",
	    "t: /properties/x/$ref: $ref: cannot resolve \"#/definitions/nope\""));
	CU_ASSERT(compile_fails_with("{\"items\":{\"$ref\":\"other.json#/a\"}}",
	    "not supported"));
	CU_ASSERT(compile_fails_with("{\"$ref\":\"#/definitions/a%zz\"}", "percent"));

	/* Recursion through the instance is fine, and bounded by its depth. */
	js = compile("{\"type\":\"object\",\"properties\":{\"child\":{\"$ref\":\"#\"},"
	    "\"v\":{\"$ref\":\"#/definitions/a~1b\"}},"
	    "\"definitions\":{\"a/b\":{\"$ref\":\"#/definitions/c%20d\"},\"c d\":{\"type\":\"integer\"}}}");
	CU_ASSERT_FATAL(js != NULL);
	CU_ASSERT_EQUAL(check(js, "{\"child\":{\"child\":{\"v\":1}}}", &err), 0);
	CU_ASSERT_EQUAL(check(js, "{\"child\":{\"child\":{\"v\":\"x\"}}}", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/child/child/v");
	CU_ASSERT_STRING_EQUAL(err.schema_ptr, "t#/definitions/c d/type");
	jschema_free(js);
}

static void
test_compile_errors(void)
{
	struct errlist errs;
	json_t *s = parse("{\"type\":\"strin\",\"minLength\":-1,\"pattern\":\"(a\","
	    "\"properties\":{\"x\":{\"required\":\"id\",\"items\":3}},\"enum\":[],"
	    "\"multipleOf\":0,\"allOf\":[],\"exclusiveMinimum\":\"yes\",\"foo\":{\"bar\":1}}");
	struct jschema *js;
	int pattern_msg = 0;

	errlist_init(&errs);
	js = jschema_compile(s, "bad.json", &errs);
	CU_ASSERT_PTR_NULL(js);
	/* Every problem is reported, not only the first. */
	CU_ASSERT_EQUAL(errs.n, 9);
	for (size_t i = 0; i < errs.n; i++) {
		CU_ASSERT(strncmp(errs.msgs[i], "bad.json: /", 11) == 0);
		if (strstr(errs.msgs[i], "bad.json: /: pattern: invalid regular expression") != NULL)
			pattern_msg = 1;
	}
	CU_ASSERT(pattern_msg);
	if (errs.n != 9)
		errlist_print(&errs, stdout);
	errlist_free(&errs);
	json_decref(s);
	CU_ASSERT(compile_fails_with("{\"properties\":{\"a\":{\"items\":[{},5]}}}",
	    "t: /properties/a/items/1: a schema must be an object"));
	CU_ASSERT(compile_fails_with("[]", "t: /: a schema must be an object"));
	/* Unknown keywords and formats are ignored. */
	js = compile("{\"format\":\"url\",\"x-anything\":[1],\"example\":{\"$ref\":\"#/nope\"}}");
	CU_ASSERT(js != NULL);
	CU_ASSERT_EQUAL(check(js, "\"not a url\"", NULL), 0);
	jschema_free(js);
}

static void
test_regex_dialect(void)
{
	struct jschema *dollar = compile("{\"pattern\":\"^abc$\"}");
	struct jschema *space = compile("{\"pattern\":\"^\\\\s[\\\\s]\\\\S$\"}");
	struct jschema *uni = compile("{\"pattern\":\"^\\\\u00e9[^]\\\\d\\\\w$\"}");
	struct jschema *redos = compile("{\"pattern\":\"^(a+)+$\"}");
	struct jschema_error err;
	char buf[200];

	CU_ASSERT_FATAL(dollar && space && uni && redos);
	CU_ASSERT_EQUAL(check(dollar, "\"abc\"", &err), 0);
	CU_ASSERT_EQUAL(check(dollar, "\"abc\\n\"", &err), -1);
	CU_ASSERT_EQUAL(check(space, "\"\\u00a0\\u2003x\"", &err), 0);
	CU_ASSERT_EQUAL(check(space, "\"  \\u00a0\"", &err), -1);
	CU_ASSERT_EQUAL(check(uni, "\"\\u00e9\\n1_\"", &err), 0);
	CU_ASSERT_EQUAL(check(uni, "\"\\u00e9x\\u0661_\"", &err), -1);
	/* Catastrophic backtracking hits the match limit: invalid, promptly. */
	memset(buf, 'a', 60);
	strcpy(buf + 60, "!");
	{
		json_t *v = json_string(buf);
		CU_ASSERT_EQUAL(jschema_validate(redos, v, &err), -1);
		CU_ASSERT_STRING_EQUAL(err.keyword, "pattern");
		json_decref(v);
	}
	jschema_free(dollar);
	jschema_free(space);
	jschema_free(uni);
	jschema_free(redos);
}

static void
test_formats(void)
{
#define DT(s) jschema_format_date_time(s, strlen(s))
#define EM(s) jschema_format_email(s, strlen(s))
#define UR(s) jschema_format_uri(s, strlen(s))
	CU_ASSERT(DT("2016-06-13T04:00:00.000Z"));
	CU_ASSERT(DT("1998-12-31T15:59:60.123-08:00"));
	CU_ASSERT(DT("2024-02-29t00:00:00+05:30"));
	CU_ASSERT(!DT("2023-02-29T00:00:00Z"));
	CU_ASSERT(!DT("1998-12-31T22:59:60Z"));
	CU_ASSERT(!DT("2016-06-13T04:00:00"));
	CU_ASSERT(!DT("2016-06-13 04:00:00Z"));
	CU_ASSERT(!DT("2016-06-13T04:00:00.Z"));
	CU_ASSERT(!DT("2016-06-13T24:00:00Z"));
	CU_ASSERT(EM("joe.bloggs@example.com"));
	CU_ASSERT(EM("a+b@[127.0.0.1]"));
	CU_ASSERT(!EM("joe@"));
	CU_ASSERT(!EM("joe..b@example.com"));
	CU_ASSERT(!EM("joe@exa mple.com"));
	CU_ASSERT(!EM("joe@-example.com"));
	CU_ASSERT(UR("https://example.com:8443/a/b?c=d#e"));
	CU_ASSERT(UR("urn:isbn:0451450523"));
	CU_ASSERT(UR("http://[::1]:80/"));
	CU_ASSERT(!UR("/relative/path"));
	CU_ASSERT(!UR("http://exa mple.com/"));
	CU_ASSERT(!UR("http://example.com/%zz"));
	CU_ASSERT(!UR("http://[::1/"));
#undef DT
#undef EM
#undef UR
}

struct thread_arg {
	const struct jschema *js;
	int bad;
};

static void *
thread_main(void *p)
{
	struct thread_arg *ta = p;
	json_t *ok = parse("{\"id\":\"575ec8687ae143cd83dc4a97\",\"tags\":[\"a\",\"b\"]}");
	json_t *ko = parse("{\"id\":\"575ec8687ae143cd83dc4a9Z\",\"tags\":[\"a\",\"b\"]}");

	for (int i = 0; i < 20000; i++) {
		struct jschema_error err;
		if (jschema_validate(ta->js, ok, &err) != 0 ||
		    jschema_validate(ta->js, ko, &err) != -1 || strcmp(err.instance_ptr, "/id") != 0)
			ta->bad++;
	}
	json_decref(ok);
	json_decref(ko);
	return NULL;
}

static void
test_threads(void)
{
	struct jschema *js = compile("{\"properties\":{\"id\":{\"pattern\":\"^[A-Fa-f\\\\d]{24}$\"},"
	    "\"tags\":{\"uniqueItems\":true,\"items\":{\"pattern\":\"^[a-z]$\"}}}}");
	pthread_t th[4];
	struct thread_arg ta[4];

	CU_ASSERT_FATAL(js != NULL);
	for (int i = 0; i < 4; i++) {
		ta[i].js = js;
		ta[i].bad = 0;
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, thread_main, &ta[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(ta[i].bad, 0);
	}
	jschema_free(js);
}

/* The Losant schema folder: conf/schemas, data/losant-api/schemas, or NULL. */
static const char *
losant_dir(void)
{
	static char dir[4096];
	static const char *subs[] = { "conf/schemas", "data/losant-api/schemas" };
	const char *top = getenv("top_srcdir");
	struct stat st;

	for (size_t i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/%s/apiTokenPatch.json", top ? top : ".", subs[i]);
		if (stat(dir, &st) == 0) {
			snprintf(dir, sizeof(dir), "%s/%s", top ? top : ".", subs[i]);
			return dir;
		}
	}
	printf("\n  Losant schemas not found under $top_srcdir/conf/schemas or "
	    "$top_srcdir/data/losant-api/schemas: skipped\n");
	return NULL;
}

/* Losant schemas with invalid keyword values ("type": "Number", a "type"
 * that is a $ref, an array inside anyOf): refused by a strict compile. */
static const char *losant_defective[] = {
	"dataTableRowsDelete.json", "eventsDeleted.json", "historicalSummaries.json",
	"instances.json", "validateContextError.json", "validateContextSuccess.json", NULL
};

/* Losant examples (apiExamples.json) that do not satisfy their own schema;
 * each was checked by hand to be a defect of the example, e.g. a truncated
 * certificate below minLength, a password not matching the pattern, an
 * "email" without '@', a value matching both branches of a oneOf. */
static const char *losant_bad_examples[] = {
	"application", "applicationApplyTemplatePatch", "applicationCertificateAuthorities",
	"applicationCertificateAuthority", "applicationCertificateAuthorityPost",
	"applicationCertificatePost", "applicationClonePost", "applicationCreationByTemplateResult",
	"applicationSearchResult", "applications", "changePassword", "dataTableRowInsertResult",
	"experienceBootstrapResult", "experienceDomainPatch", "experienceDomainPost",
	"experienceGroupPost", "experienceLinkedResources", "flowStorageMetadata", "flowVersion",
	"flowVersions", "flowsImportPost", "instanceOrgMember", "instancePatch", "mePatch",
	"multiDeviceCommand", "passwordResetFinish", "userPost", "validationErrors", NULL
};

static int
in_list(const char **list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

static void
test_losant_all_compile(void)
{
	const char *dir = losant_dir();
	struct dirent **ents;
	json_t *examples = NULL;
	int n, compiled = 0, failed = 0, strict_failed = 0, checked = 0, invalid = 0;

	if (dir == NULL)
		return;
	{
		char path[4200];
		snprintf(path, sizeof(path), "%s/apiExamples.json", dir);
		examples = json_load_file(path, 0, NULL);
	}
	n = scandir(dir, &ents, NULL, alphasort);
	CU_ASSERT_FATAL(n > 0);
	for (int i = 0; i < n; i++) {
		const char *f = ents[i]->d_name;
		size_t len = strlen(f);
		if (len > 5 && strcmp(f + len - 5, ".json") == 0 && strcmp(f, "routes.json") != 0) {
			struct errlist errs;
			struct jschema *js;
			char name[256];
			const json_t *ex;

			errlist_init(&errs);
			js = jschema_compile_file(dir, f, 0, &errs);
			if (js == NULL) {
				strict_failed++;
				/* Only the known defective files may fail strictly. */
				CU_ASSERT(in_list(losant_defective, f));
				if (!in_list(losant_defective, f))
					errlist_print(&errs, stdout);
			}
			jschema_free(js);
			errlist_free(&errs);
			js = jschema_compile_file(dir, f, JSCHEMA_LENIENT, &errs);
			if (js == NULL) {
				failed++;
				errlist_print(&errs, stdout);
			} else {
				compiled++;
				/* Lenient warnings only where strict mode failed. */
				CU_ASSERT(errs.n == 0 || in_list(losant_defective, f));
			}
			snprintf(name, sizeof(name), "%.*s", (int)(len - 5), f);
			if (js != NULL && examples && (ex = json_object_get(examples, name)) != NULL) {
				struct jschema_error err;
				checked++;
				if (jschema_validate(js, ex, &err) != 0) {
					invalid++;
					if (!in_list(losant_bad_examples, name)) {
						CU_FAIL("a Losant example fails validation");
						printf("\n  example %s: '%s': %s: %s", name, err.instance_ptr,
						    err.keyword, err.message);
					}
				} else {
					/* Fixed upstream? Then drop it from the list. */
					CU_ASSERT(!in_list(losant_bad_examples, name));
				}
			}
			jschema_free(js);
			errlist_free(&errs);
		}
		free(ents[i]);
	}
	free(ents);
	json_decref(examples);
	printf("\n  Losant: %d schemas compiled (lenient), %d failed; %d refused by a strict "
	    "compile; %d examples checked, %d invalid (known example defects)\n",
	    compiled, failed, strict_failed, checked, invalid);
	CU_ASSERT(compiled >= 240);
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT(checked >= 200);
}

static void
test_losant_cases(void)
{
	const char *dir = losant_dir();
	struct errlist errs;
	struct jschema *js;
	struct jschema_error err;

	if (dir == NULL)
		return;
	errlist_init(&errs);
	js = jschema_compile_file(dir, "apiTokenPatch.json", 0, &errs);
	errlist_print(&errs, stdout);
	CU_ASSERT_FATAL(js != NULL);
	CU_ASSERT_EQUAL(check(js, "{\"name\":\"x\",\"status\":\"inactive\"}", &err), 0);
	CU_ASSERT_EQUAL(check(js, "{}", &err), 0);
	CU_ASSERT_EQUAL(check(js, "{\"status\":\"deleted\"}", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/status");
	CU_ASSERT_STRING_EQUAL(err.keyword, "enum");
	/* The schema says name has minLength 1 and maxLength 255. */
	CU_ASSERT_EQUAL(check(js, "{\"name\":\"\"}", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/name");
	CU_ASSERT_STRING_EQUAL(err.keyword, "minLength");
	/* additionalProperties is false. */
	CU_ASSERT_EQUAL(check(js, "{\"owner\":\"x\"}", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/owner");
	CU_ASSERT_STRING_EQUAL(err.keyword, "additionalProperties");
	CU_ASSERT_EQUAL(check(js, "[]", &err), -1);
	CU_ASSERT_STRING_EQUAL(err.keyword, "type");
	jschema_free(js);

	/* "#/definitions/advancedDeviceQuery" is the sibling file, recursively. */
	js = jschema_compile_file(dir, "devicesPatch.json", 0, &errs);
	errlist_print(&errs, stdout);
	CU_ASSERT_FATAL(js != NULL);
	CU_ASSERT_EQUAL(check(js, "{\"query\":{\"$and\":[{\"$or\":[{\"name\":{\"$eq\":\"a\"}}]}]}}",
	    &err), 0);
	CU_ASSERT_EQUAL(check(js, "{\"query\":{\"$and\":[{\"$or\":[{\"name\":{\"$eq\":[1]}}]}]}}",
	    &err), -1);
	CU_ASSERT_STRING_EQUAL(err.instance_ptr, "/query/$and/0/$or/0/name");
	CU_ASSERT_STRING_EQUAL(err.keyword, "oneOf");
	CU_ASSERT(strncmp(err.schema_ptr, "advancedDeviceQuery.json#/", 26) == 0);
	jschema_free(js);

	/* Without the loader the Losant convention does not resolve. */
	{
		char path[4200];
		json_t *doc;
		snprintf(path, sizeof(path), "%s/devicesPatch.json", dir);
		doc = json_load_file(path, 0, NULL);
		CU_ASSERT_FATAL(doc != NULL);
		CU_ASSERT_PTR_NULL(jschema_compile(doc, "devicesPatch.json", &errs));
		CU_ASSERT(errs.n > 0);
		json_decref(doc);
	}
	/* The directory loader only reads sibling files. */
	CU_ASSERT_PTR_NULL(jschema_dir_loader((void *)dir, "../x.json", &errs));
	CU_ASSERT_PTR_NULL(jschema_dir_loader((void *)dir, "/etc/passwd", &errs));
	CU_ASSERT_PTR_NULL(jschema_dir_loader((void *)dir, "http://evil/x.json", &errs));
	errlist_free(&errs);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("jsonschema", NULL, NULL);
	CU_add_test(s, "error pointers", test_error_pointer);
	CU_add_test(s, "lengths in code points", test_code_points);
	CU_add_test(s, "deep instances", test_deep_instance);
	CU_add_test(s, "huge arrays, uniqueItems", test_huge_array);
	CU_add_test(s, "big numbers", test_numbers);
	CU_add_test(s, "$ref cycles and resolution", test_refs);
	CU_add_test(s, "compile errors", test_compile_errors);
	CU_add_test(s, "ECMA regex dialect", test_regex_dialect);
	CU_add_test(s, "formats", test_formats);
	CU_add_test(s, "shared between threads", test_threads);
	CU_add_test(s, "every Losant schema compiles", test_losant_all_compile);
	CU_add_test(s, "Losant apiTokenPatch and devicesPatch", test_losant_cases);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
