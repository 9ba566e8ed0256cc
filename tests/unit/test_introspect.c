/* test_introspect.c: the pure part of opaque tokens (RFC 7662): which
 * tokens go to the endpoint, which are never sent, the request (token only
 * in the form body, client_secret_basic credentials form-encoded), the
 * answer reader against hostile answers, the cache bounds, and the
 * "tokens.introspection" entry's errors at their JSON pointers. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "errlist.h"
#include "introspect_parse.h"
#include "jsonconf.h"
#include "jwt.h"

#define NOW 1700000000

static enum introspect_verdict
parse(const char *text, const struct jwt_opts *o, enum jwt_status *st, struct jwt_result **r)
{
	char why[128];

	return introspect_answer_parse(text, strlen(text), o, NOW, st, r, why, sizeof(why));
}

static void
test_answer_active(void)
{
	struct jwt_opts o;
	struct jwt_result *r;
	enum jwt_status st;

	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(parse("{\"active\":true,\"scope\":\"read write\",\"sub\":\"u1\","
	    "\"jti\":\"j1\",\"exp\":1700000100,\"client_id\":\"c\",\"aud\":\"api\"}", &o, &st, &r),
	    INTROSPECT_ACTIVE);
	CU_ASSERT_EQUAL(st, JWT_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->nscopes, 2);
	CU_ASSERT_STRING_EQUAL(r->scopes[0], "read");
	CU_ASSERT_STRING_EQUAL(r->scopes[1], "write");
	CU_ASSERT_STRING_EQUAL(r->sub, "u1");
	CU_ASSERT_STRING_EQUAL(r->token_id, "j1");
	CU_ASSERT_EQUAL(r->exp, 1700000100);
	jwt_result_free(r);
	/* exp is optional in an answer even though tokens.require_exp is on. */
	CU_ASSERT_TRUE(o.require_exp);
	CU_ASSERT_EQUAL(parse("{\"active\":true}", &o, &st, &r), INTROSPECT_ACTIVE);
	CU_ASSERT_EQUAL(r->nscopes, 0);
	jwt_result_free(r);
}

static void
test_answer_refused(void)
{
	static const char *const iss[] = { "https://idp.example" };
	static const char *const aud[] = { "api" };
	static const struct { const char *text; enum jwt_status st; } cases[] = {
		{ "{\"active\":false}", JWT_INACTIVE },
		/* An inactive answer says nothing else (RFC 7662 2.2). */
		{ "{\"active\":false,\"scope\":\"admin\",\"sub\":\"root\"}", JWT_INACTIVE },
		/* Past exp and the clock leeway. */
		{ "{\"active\":true,\"exp\":1699990000}", JWT_EXPIRED },
		{ "{\"active\":true,\"nbf\":1700009999}", JWT_NOT_YET_VALID },
		{ "{\"active\":true,\"exp\":\"1700000100\"}", JWT_BAD_CLAIM },
		{ "{\"active\":true,\"sub\":7}", JWT_BAD_CLAIM },
		{ "{\"active\":true,\"jti\":[]}", JWT_BAD_CLAIM },
		{ "{\"active\":true,\"aud\":[1]}", JWT_BAD_CLAIM },
		/* RFC 7662: scope is a string; an array is not read as one. */
		{ "{\"active\":true,\"scope\":[\"admin\"]}", JWT_BAD_SCOPE },
		{ "{\"active\":true,\"scope\":\"read  admin\",\"iss\":\"https://idp.example\","
		  "\"aud\":\"api\"}", JWT_BAD_SCOPE },
		{ "{\"active\":true,\"scope\":\" admin\",\"iss\":\"https://idp.example\","
		  "\"aud\":\"api\"}", JWT_BAD_SCOPE },
		{ "{\"active\":true,\"scope\":\"read\",\"iss\":\"https://evil.example\","
		  "\"aud\":\"api\"}", JWT_WRONG_ISSUER },
		{ "{\"active\":true,\"scope\":\"read\",\"iss\":\"https://idp.example\"}",
		  JWT_WRONG_AUDIENCE },
		{ "{\"active\":true,\"scope\":\"read\",\"aud\":\"api\"}", JWT_WRONG_ISSUER },
	};
	struct jwt_opts o;
	struct jwt_result *r;
	enum jwt_status st;

	jwt_opts_init(&o);
	o.issuers = iss;
	o.nissuers = 1;
	o.audiences = aud;
	o.naudiences = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		enum introspect_verdict v = parse(cases[i].text, &o, &st, &r);
		if (v != INTROSPECT_REFUSED || st != cases[i].st)
			fprintf(stderr, "\n%s: verdict %d status %s\n", cases[i].text, (int)v,
			    jwt_status_str(st));
		CU_ASSERT_EQUAL(v, INTROSPECT_REFUSED);
		CU_ASSERT_EQUAL(st, cases[i].st);
		CU_ASSERT_PTR_NULL(r);
	}
	CU_ASSERT_EQUAL(parse("{\"active\":true,\"scope\":\"read\",\"iss\":\"https://idp.example\","
	    "\"aud\":[\"x\",\"api\"]}", &o, &st, &r), INTROSPECT_ACTIVE);
	jwt_result_free(r);
}

static void
test_answer_unusable(void)
{
	static const char *const bad[] = {
		"", "active=true", "true", "[{\"active\":true}]", "{\"active\":\"true\"}",
		"{\"active\":1}", "{}", "{\"scope\":\"admin\"}", "{\"active\":null}",
		/* Two readers of a duplicated member could disagree. */
		"{\"active\":false,\"active\":true}", "{\"active\":true", "{\"active\":true}x",
		/* A NUL would end a scope early for a C reader. */
		"{\"active\":true,\"scope\":\"read\\u0000admin\"}",
	};
	struct jwt_opts o;
	struct jwt_result *r;
	enum jwt_status st;
	char *big;

	jwt_opts_init(&o);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		CU_ASSERT_EQUAL(parse(bad[i], &o, &st, &r), INTROSPECT_UNUSABLE);
		CU_ASSERT_PTR_NULL(r);
	}
	big = malloc(SG_INTROSPECT_MAX_BYTES + 64);
	strcpy(big, "{\"active\":true,\"x\":\"");
	memset(big + strlen(big), 'a', SG_INTROSPECT_MAX_BYTES);
	strcpy(big + 20 + SG_INTROSPECT_MAX_BYTES, "\"}");
	CU_ASSERT_EQUAL(parse(big, &o, &st, &r), INTROSPECT_UNUSABLE);
	free(big);
}

static void
test_tokens(void)
{
	struct introspect_spec s;

	memset(&s, 0, sizeof(s));
	CU_ASSERT_TRUE(introspect_wants(&s, "opaque-token_123", 16));
	CU_ASSERT_FALSE(introspect_wants(&s, "a.b.c", 5));
	CU_ASSERT_TRUE(introspect_wants(&s, "a.b.c.d.e", 9));	/* a JWE: not ours */
	s.all_tokens = 1;
	CU_ASSERT_TRUE(introspect_wants(&s, "a.b.c", 5));
	CU_ASSERT_TRUE(introspect_token_ok("abc-._~+/==", 11, 100));
	CU_ASSERT_FALSE(introspect_token_ok("", 0, 100));
	CU_ASSERT_FALSE(introspect_token_ok("abc", 3, 2));
	CU_ASSERT_FALSE(introspect_token_ok("a=b", 3, 100));
	CU_ASSERT_FALSE(introspect_token_ok("===", 3, 100));
	CU_ASSERT_FALSE(introspect_token_ok("a&token=b", 9, 100));
	CU_ASSERT_FALSE(introspect_token_ok("a%26b", 5, 100));
	CU_ASSERT_FALSE(introspect_token_ok("a b", 3, 100));
	CU_ASSERT_FALSE(introspect_token_ok("a\r\nX: y", 7, 100));
	CU_ASSERT_FALSE(introspect_token_ok("a\0b", 3, 100));
}

static void
test_request(void)
{
	struct introspect_spec s;
	char *req, basic[] = "Basic Z3c6cyUzQQ==";
	size_t len;

	memset(&s, 0, sizeof(s));
	snprintf(s.host, sizeof(s.host), "idp.example");
	s.port = 8443;
	snprintf(s.path, sizeof(s.path), "/token/introspection");
	s.basic = basic;
	req = introspect_request(&s, "ab+/c=", 6, &len);
	CU_ASSERT_EQUAL(len, strlen(req));
	/* The target never carries the token; the body does, form-encoded. */
	CU_ASSERT_PTR_NOT_NULL(strstr(req, "POST /token/introspection HTTP/1.1\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(req, "Host: idp.example:8443\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(req, "Authorization: Basic Z3c6cyUzQQ==\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(req, "Content-Type: application/x-www-form-urlencoded\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(req, "Content-Length: 47\r\n\r\n"
	    "token=ab%2B%2Fc%3D&token_type_hint=access_token"));
	CU_ASSERT_PTR_NULL(strstr(req, "ab+/c="));
	free(req);
}

static void
test_cache_until(void)
{
	struct introspect_spec s;
	struct jwt_result r;

	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	s.cache_ttl_s = 60;
	s.negative_ttl_s = 5;
	CU_ASSERT_EQUAL(introspect_cache_until(&s, JWT_OK, &r, NOW), NOW + 60);
	r.has_exp = 1;
	r.exp = NOW + 10;
	CU_ASSERT_EQUAL(introspect_cache_until(&s, JWT_OK, &r, NOW), NOW + 10);
	r.exp = NOW + 1000;
	CU_ASSERT_EQUAL(introspect_cache_until(&s, JWT_OK, &r, NOW), NOW + 60);
	CU_ASSERT_EQUAL(introspect_cache_until(&s, JWT_INACTIVE, NULL, NOW), NOW + 5);
	s.cache_ttl_s = 0;
	CU_ASSERT_EQUAL(introspect_cache_until(&s, JWT_OK, &r, NOW), NOW);
}

static struct introspect_spec *
spec(const char *text, struct errlist *el)
{
	struct jsonconf jc = { "c.json", el };
	json_t *v = json_loads(text, 0, NULL);
	struct introspect_spec *s;

	s = introspect_spec_parse(&jc, v, "/tokens/introspection", "/tmp");
	json_decref(v);
	return s;
}

static void
test_spec(void)
{
	static const struct { const char *text, *where; } bad[] = {
		{ "{\"url\":\"http://idp.example/i\",\"client_id\":\"a\","
		  "\"client_secret_file\":\"sg-test-secret\"}", "/tokens/introspection/url" },
		{ "{\"url\":\"http://127.0.0.1/i\",\"client_id\":\"a\","
		  "\"client_secret_file\":\"sg-test-secret\"}", "/tokens/introspection/url" },
		{ "{\"url\":\"https://127.0.0.1/i#x\",\"client_id\":\"a\","
		  "\"client_secret_file\":\"sg-test-secret\"}", "/tokens/introspection/url" },
		{ "{\"url\":\"https://127.0.0.1/i\"}", "/tokens/introspection:" },
		{ "{\"url\":\"https://127.0.0.1/i\",\"client_id\":\"a\"}", "/tokens/introspection:" },
		{ "{\"url\":\"https://127.0.0.1/i\",\"client_cert\":\"x.pem\"}",
		  "/tokens/introspection:" },
		{ "{\"url\":\"https://127.0.0.1/i\",\"client_id\":\"a\","
		  "\"client_secret_file\":\"nonexistent-secret\"}",
		  "/tokens/introspection/client_secret_file" },
		{ "{\"url\":\"https://127.0.0.1/i\",\"client_id\":\"a\","
		  "\"client_secret_file\":\"sg-test-secret\",\"timeout_ms\":0}",
		  "/tokens/introspection/timeout_ms" },
		{ "{\"url\":\"https://127.0.0.1/i\",\"client_id\":\"a\","
		  "\"client_secret_file\":\"sg-test-secret\",\"max_inflight\":0}",
		  "/tokens/introspection/max_inflight" },
		{ "{\"url\":\"https://127.0.0.1/i\",\"client_id\":\"a\","
		  "\"client_secret_file\":\"sg-test-secret\",\"token\":1}",
		  "/tokens/introspection/token" },
		{ "{\"url\":\"https://127.0.0.1/i\",\"client_id\":\"a\","
		  "\"client_secret_file\":\"sg-test-secret\",\"ca_file\":\"/nonexistent/ca.pem\"}",
		  "/tokens/introspection" },
		{ "[]", "/tokens/introspection" },
	};
	struct introspect_spec *s;
	struct errlist el;
	FILE *f = fopen("/tmp/sg-test-secret", "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("s:3cr\xc3\xa9t\n", f);
	fclose(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		errlist_init(&el);
		s = spec(bad[i].text, &el);
		if (s != NULL || el.n == 0 || strstr(el.msgs[0], bad[i].where) == NULL)
			fprintf(stderr, "\n%s: %s\n", bad[i].text, el.n ? el.msgs[0] : "accepted");
		CU_ASSERT_PTR_NULL(s);
		CU_ASSERT_TRUE(el.n > 0);
		if (el.n > 0)
			CU_ASSERT_PTR_NOT_NULL(strstr(el.msgs[0], bad[i].where));
		introspect_spec_free(s);
		errlist_free(&el);
	}
	errlist_init(&el);
	s = spec("{\"url\":\"http://127.0.0.1:9/i?x=1\",\"allow_http_loopback\":true,"
	    "\"client_id\":\"g w\",\"client_secret_file\":\"sg-test-secret\"}", &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->naddrs, 1);
	CU_ASSERT_STRING_EQUAL(s->path, "/i?x=1");
	CU_ASSERT_EQUAL(s->timeout_ms, SG_INTROSPECT_TIMEOUT_MS);
	CU_ASSERT_FALSE(s->all_tokens);
	/* RFC 6749 2.3.1: "g%20w:s%3A3cr%C3%A9t", base64. */
	CU_ASSERT_STRING_EQUAL(s->basic, "Basic ZyUyMHc6cyUzQTNjciVDMyVBOXQ=");
	introspect_spec_free(s);
	errlist_free(&el);
	unlink("/tmp/sg-test-secret");
}

int
main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("introspect", NULL, NULL);
	CU_add_test(s, "active answers", test_answer_active);
	CU_add_test(s, "refused answers", test_answer_refused);
	CU_add_test(s, "unusable answers", test_answer_unusable);
	CU_add_test(s, "tokens sent or not", test_tokens);
	CU_add_test(s, "request", test_request);
	CU_add_test(s, "cache bounds", test_cache_until);
	CU_add_test(s, "config entry", test_spec);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)(CU_get_number_of_failures() + CU_get_number_of_suites_failed());
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
