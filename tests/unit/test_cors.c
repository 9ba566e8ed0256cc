/* test_cors.c: origin syntax and matching (exact origins and "*." domain
 * patterns), Access-Control-Request-Headers lists and the preflight
 * decision, with hostile spellings: other cases, trailing dots, default
 * ports, suffix tricks, "null", userinfo, paths, control characters. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cors.h"
#include "policy.h"

static struct cors_origin origins[8];
static char h_auth[] = "authorization", h_ct[] = "content-type";
static char *headers[] = { h_auth, h_ct };

/* A rule allowing the configured entries given. */
static struct cors_rule
rule(const char *const *conf, size_t n)
{
	struct cors_rule r;
	const char *why;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < n; i++) {
		int rc = cors_origin_parse_config(conf[i], &origins[i], &why);
		if (rc != 0)
			printf("\n  config %s refused: %s\n", conf[i], why);
		CU_ASSERT_EQUAL_FATAL(rc, 0);
	}
	r.origins = origins;
	r.norigins = n;
	r.headers = headers;
	r.nheaders = 2;
	return r;
}

static int
allowed(const struct cors_rule *r, const char *origin)
{
	return cors_origin_allowed(r, origin, strlen(origin));
}

static void
expect(const struct cors_rule *r, const char *origin, int want)
{
	int got = allowed(r, origin);

	if (got != want)
		printf("\n  origin \"%s\": got %d, want %d\n", origin, got, want);
	CU_ASSERT_EQUAL(got, want);
}

static void
test_config(void)
{
	static const char *good[] = {
		"https://example.com", "http://127.0.0.1:8080", "https://*.example.com",
		"HTTPS://App.Example.COM", "https://example.com:443", "http://[::1]:3000",
		"https://*.a.example.com:8443", "https://xn--bcher-kva.example",
		"https://localhost",
	};
	static const char *bad[] = {
		"", "null", "NULL", "*", "example.com", "ftp://example.com", "https://",
		"https://example.com/", "https://example.com/app", "https://example.com.",
		"https://user@example.com", "https://example.com:0", "https://example.com:65536",
		"https://example.com:", "https://example.com:80a", "https://*.com",
		"https://*", "https://*.", "https://**.example.com", "https://a.*.example.com",
		"https://*example.com", "https://exa mple.com", "https://example..com",
		"https://.example.com", "https://ex_ample.com", "https://[::1", "https://[]",
		"https://*.[::1]", "https:/example.com", "https://example.com?x",
		"https://example.com#x", "https://example.com\r\n", "https://example.com:123456",
		"javascript://example.com",
	};
	struct cors_origin o;
	const char *why;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = cors_origin_parse_config(good[i], &o, &why);
		if (rc != 0)
			printf("\n  good %s refused: %s\n", good[i], why);
		CU_ASSERT_EQUAL(rc, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		int rc = cors_origin_parse_config(bad[i], &o, &why);
		if (rc == 0)
			printf("\n  bad \"%s\" accepted\n", bad[i]);
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	/* Normalised: lowercase, the default port dropped. */
	CU_ASSERT_EQUAL(cors_origin_parse_config("HTTPS://App.Example.COM:443", &o, &why), 0);
	CU_ASSERT_STRING_EQUAL(o.scheme, "https");
	CU_ASSERT_STRING_EQUAL(o.host, "app.example.com");
	CU_ASSERT_EQUAL(o.port, 0);
}

static void
test_exact(void)
{
	static const char *conf[] = { "https://app.example.com", "http://127.0.0.1:8080" };
	struct cors_rule r = rule(conf, 2);

	expect(&r, "https://app.example.com", 1);
	expect(&r, "http://127.0.0.1:8080", 1);
	/* Other origins, and other spellings of the allowed ones. */
	expect(&r, "http://app.example.com", 0);		/* scheme */
	expect(&r, "https://app.example.com:8443", 0);	/* port */
	expect(&r, "https://app.example.com:443", 0);	/* never sent by a browser */
	expect(&r, "https://APP.example.com", 0);		/* case: never sent either */
	expect(&r, "HTTPS://app.example.com", 0);
	expect(&r, "https://app.example.com.", 0);		/* trailing dot */
	expect(&r, "https://app.example.com/", 0);
	expect(&r, "https://app.example.com.evil.com", 0);
	expect(&r, "https://evil-app.example.com", 0);
	expect(&r, "https://xapp.example.com", 0);
	expect(&r, "https://a.app.example.com", 0);		/* no pattern: no subdomain */
	expect(&r, "http://127.0.0.1:80800", 0);
	expect(&r, "http://127.0.0.1:08080", 0);
	expect(&r, "http://127.0.0.1", 0);
	expect(&r, "http://localhost:8080", 0);
	expect(&r, "null", 0);
	expect(&r, "", 0);
	expect(&r, " https://app.example.com", 0);
	expect(&r, "https://app.example.com ", 0);
	expect(&r, "https://user@app.example.com", 0);
	expect(&r, "https://app.example.com, https://evil.com", 0);
	/* A NUL inside: the length given is what is matched. */
	CU_ASSERT_EQUAL(cors_origin_allowed(&r, "https://app.example.com\0.evil", 30), 0);
	CU_ASSERT_EQUAL(cors_origin_allowed(&r, "https://app.example.com", 23), 1);
	CU_ASSERT_EQUAL(cors_origin_allowed(&r, "https://app.example.com", 22), 0);
}

static void
test_pattern(void)
{
	static const char *conf[] = { "https://*.example.com", "http://*.dev.example.org:3000" };
	struct cors_rule r = rule(conf, 2);

	expect(&r, "https://a.example.com", 1);
	expect(&r, "https://a.b.example.com", 1);		/* one or more labels */
	expect(&r, "https://evil.com.example.com", 1);	/* a subdomain of example.com */
	expect(&r, "https://example.com", 0);		/* no label for the star */
	expect(&r, "https://.example.com", 0);
	expect(&r, "https://a..example.com", 0);
	expect(&r, "https://example.com.evil.com", 0);
	expect(&r, "https://a.example.com.evil.com", 0);
	expect(&r, "https://aexample.com", 0);
	expect(&r, "https://a-example.com", 0);
	expect(&r, "https://a.example.com.", 0);
	expect(&r, "https://a.example.co", 0);
	expect(&r, "https://a.example.comm", 0);
	expect(&r, "http://a.example.com", 0);		/* the star is not the scheme */
	expect(&r, "https://a.example.com:444", 0);		/* ... nor the port */
	expect(&r, "https://A.example.com", 0);
	expect(&r, "https://a/.example.com", 0);
	expect(&r, "https://a%2e.example.com", 0);
	expect(&r, "https://[::1].example.com", 0);
	expect(&r, "http://x.dev.example.org:3000", 1);
	expect(&r, "http://x.dev.example.org", 0);
	expect(&r, "http://dev.example.org:3000", 0);
	expect(&r, "https://x.dev.example.org:3000", 0);
}

static void
test_headers(void)
{
	static const char *conf[] = { "https://app.example.com" };
	struct cors_rule r = rule(conf, 1);

	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, NULL), 1);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, ""), 1);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "authorization"), 1);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "authorization,content-type"), 1);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, " Authorization , Content-Type "), 1);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "authorization,,"), 1);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "authorization,x-evil"), 0);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "authorizationx"), 0);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "authorizatio"), 0);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "authorization content-type"), 0);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "authorization;content-type"), 0);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "author\x01ization"), 0);
	CU_ASSERT_EQUAL(cors_request_headers_allowed(&r, "authorization\r\nx-evil"), 0);
}

static void
test_preflight(void)
{
	static const char *conf[] = { "https://app.example.com" };
	struct cors_rule r = rule(conf, 1);
	const char *o = "https://app.example.com", *evil = "https://evil.example.com";

	CU_ASSERT_EQUAL(cors_preflight_check(&r, o, strlen(o), POLICY_M_DELETE, "authorization"),
	    CORS_PREFLIGHT_OK);
	CU_ASSERT_EQUAL(cors_preflight_check(&r, evil, strlen(evil), POLICY_M_GET, NULL),
	    CORS_PREFLIGHT_ORIGIN);
	CU_ASSERT_EQUAL(cors_preflight_check(&r, o, strlen(o), POLICY_M_GET, "x-evil"),
	    CORS_PREFLIGHT_HEADERS);
	r.methods = 1u << POLICY_M_GET;
	CU_ASSERT_EQUAL(cors_preflight_check(&r, o, strlen(o), POLICY_M_GET, NULL),
	    CORS_PREFLIGHT_OK);
	CU_ASSERT_EQUAL(cors_preflight_check(&r, o, strlen(o), POLICY_M_DELETE, NULL),
	    CORS_PREFLIGHT_METHOD);
	CU_ASSERT_STRING_EQUAL(cors_preflight_reason(CORS_PREFLIGHT_ORIGIN), "cors_origin");
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("cors", NULL, NULL);
	CU_add_test(s, "configured origins", test_config);
	CU_add_test(s, "exact origins", test_exact);
	CU_add_test(s, "patterns", test_pattern);
	CU_add_test(s, "request headers", test_headers);
	CU_add_test(s, "preflight", test_preflight);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
