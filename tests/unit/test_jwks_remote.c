/* test_jwks_remote.c: the pure rules for key sets from identity providers:
 * URLs (https only, http to loopback only with the flag), Cache-Control
 * max-age and its clamping, the discovery document's issuer check, and a
 * fetched JWKS refused whole for each hostile shape. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "jsonconf.h"
#include "jwks_remote.h"
#include "keys.h"

#define EC_A "\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"-6WFwby7uQTu9AdL4ZmVOmnjZCMWG8Z-Q4Uql7ljA_w\"," \
	"\"y\":\"D5JFnx5qVfDF6v3UfP-3UyeZdgc6IPsxEnCOkcgoUIw\""

static void
test_url(void)
{
	static const char *good_https[] = {
		"https://idp.example/jwks", "https://idp.example", "https://idp.example:8443/a/b?x=1",
		"https://[2001:db8::1]:443/k",
	};
	static const char *bad[] = {
		"http://idp.example/jwks", "ftp://x/", "https://", "https:///x", "https://a b/",
		"https://u:p@idp.example/", "https://idp.example:0/", "https://idp.example:65536/",
		"https://idp.example:/x", "https://idp.example/#frag", "https://[::1/x",
		"https://idp.example\t/", "HTTPS://idp.example/", "https://idp.example/\xc3\xa9",
		"http://127.0.0.1.example.com/", "http://10.0.0.1/",
	};
	struct jwks_url u;

	for (size_t i = 0; i < sizeof(good_https) / sizeof(*good_https); i++)
		CU_ASSERT_PTR_NULL(jwks_url_parse(good_https[i], 0, &u));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		const char *why = jwks_url_parse(bad[i], 1, &u);
		if (why == NULL)
			fprintf(stderr, "\naccepted %s\n", bad[i]);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	CU_ASSERT_PTR_NULL(jwks_url_parse("https://idp.example:8443/a?b", 0, &u));
	CU_ASSERT_STRING_EQUAL(u.host, "idp.example");
	CU_ASSERT_EQUAL(u.port, 8443);
	CU_ASSERT_STRING_EQUAL(u.path, "/a?b");
	/* Plain http: loopback only, and only with the flag. */
	CU_ASSERT_PTR_NOT_NULL(jwks_url_parse("http://127.0.0.1:8080/jwks", 0, &u));
	CU_ASSERT_PTR_NULL(jwks_url_parse("http://127.0.0.1:8080/jwks", 1, &u));
	CU_ASSERT_PTR_NULL(jwks_url_parse("http://[::1]:8080/jwks", 1, &u));
	CU_ASSERT_STRING_EQUAL(u.host, "::1");
	CU_ASSERT_PTR_NULL(jwks_url_parse("http://localhost/", 1, &u));
	CU_ASSERT_STRING_EQUAL(u.path, "/");
}

static void
test_max_age(void)
{
	struct jwks_spec s = { .refresh_s = 300, .min_refresh_s = 60, .max_refresh_s = 3600 };
#define MA(v) jwks_cache_control_max_age(v, strlen(v))
	CU_ASSERT_EQUAL(MA("max-age=120"), 120);
	CU_ASSERT_EQUAL(MA("public, max-age=120, must-revalidate"), 120);
	CU_ASSERT_EQUAL(MA("MAX-AGE=7"), 7);
	CU_ASSERT_EQUAL(MA("max-age=\"9\""), 9);
	CU_ASSERT_EQUAL(MA("public"), -1);
	CU_ASSERT_EQUAL(MA("max-age="), -1);
	CU_ASSERT_EQUAL(MA("max-age=-5"), -1);
	CU_ASSERT_EQUAL(MA("no-store"), 0);
	CU_ASSERT_EQUAL(MA("max-age=10, no-cache"), 0);
	CU_ASSERT_TRUE(MA("max-age=99999999999999999999999999") > 0);
	CU_ASSERT_EQUAL(MA(""), -1);
#undef MA
	CU_ASSERT_EQUAL(jwks_next_refresh_s(&s, -1), 300);
	CU_ASSERT_EQUAL(jwks_next_refresh_s(&s, 0), 60);
	CU_ASSERT_EQUAL(jwks_next_refresh_s(&s, 120), 120);
	CU_ASSERT_EQUAL(jwks_next_refresh_s(&s, 86400), 3600);
}

static void
test_discovery(void)
{
	const char *iss = "https://issuer.example";
	char why[512], *u;
	struct {
		const char *doc;
		int ok;
	} cases[] = {
		{ "{\"issuer\":\"https://issuer.example\",\"jwks_uri\":\"https://issuer.example/k\"}", 1 },
		{ "{\"issuer\":\"https://issuer.example/\",\"jwks_uri\":\"https://issuer.example/k\"}", 0 },
		{ "{\"issuer\":\"https://ISSUER.example\",\"jwks_uri\":\"https://issuer.example/k\"}", 0 },
		{ "{\"issuer\":\"https://issuer.example\\u0000x\",\"jwks_uri\":\"https://i/k\"}", 0 },
		{ "{\"issuer\":\"https://issuer.example\",\"issuer\":\"https://issuer.example\","
		  "\"jwks_uri\":\"https://issuer.example/k\"}", 0 },
		{ "{\"issuer\":\"https://issuer.example\"}", 0 },
		{ "{\"issuer\":\"https://issuer.example\",\"jwks_uri\":\"\"}", 0 },
		{ "{\"issuer\":\"https://issuer.example\",\"jwks_uri\":7}", 0 },
		{ "{\"jwks_uri\":\"https://issuer.example/k\"}", 0 },
		{ "[\"https://issuer.example\"]", 0 },
		{ "{\"issuer\":\"https://issuer.example\",\"jwks_uri\":\"https://issuer.example/k\"", 0 },
		{ "", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		why[0] = '\0';
		u = jwks_discovery_parse(cases[i].doc, strlen(cases[i].doc), iss, why, sizeof(why));
		CU_ASSERT_EQUAL(u != NULL, cases[i].ok);
		if (u == NULL)
			CU_ASSERT_TRUE(why[0] != '\0');
		free(u);
	}
	u = jwks_discovery_parse(cases[0].doc, strlen(cases[0].doc), iss, why, sizeof(why));
	CU_ASSERT_STRING_EQUAL(u, "https://issuer.example/k");
	free(u);
}

static void
test_set(void)
{
	char why[512], *big;
	struct keys *ks;
	struct {
		const char *doc;
		unsigned algs;
		size_t nkeys;		/* 0: refused */
		const char *reason;
	} cases[] = {
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\",\"alg\":\"ES256\"}]}", 0, 1, NULL },
		/* No alg and no entry algs: skipped, so nothing usable. */
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\"}]}", 0, 0, "no usable" },
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\"}]}", KEYS_ALG_BIT(KEYS_ALG_ES256), 1, NULL },
		/* Encryption keys are skipped, the rest stays. */
		{ "{\"keys\":[{" EC_A ",\"kid\":\"e\",\"use\":\"enc\",\"alg\":\"ES256\"},{" EC_A
		  ",\"kid\":\"a\",\"alg\":\"ES256\",\"use\":\"sig\"}]}", 0, 1, NULL },
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\",\"alg\":\"ES256\"},{" EC_A
		  ",\"kid\":\"a\",\"alg\":\"ES256\"}]}", 0, 0, "duplicate kid" },
		/* Also a duplicate kid on a key that would be skipped. */
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\",\"alg\":\"ES256\"},{" EC_A
		  ",\"kid\":\"a\",\"use\":\"enc\"}]}", 0, 0, "duplicate kid" },
		{ "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\",\"k\":"
		  "\"KLzyqHxdcvJPl_Pv1yjdyGyFV0y1IGUZrENjBJFrpuo\"}]}", 0, 0, "unsupported key type" },
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\",\"alg\":\"ES256\"},{\"kty\":\"XYZ\"}]}", 0, 0,
		  "unsupported key type" },
		/* kty/crv must match the pinned alg. */
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\",\"alg\":\"ES384\"}]}", 0, 0, NULL },
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\",\"alg\":\"RS256\"}]}", 0, 0, NULL },
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\",\"alg\":\"ES256\"}],\"keys\":[]}", 0, 0, "not JSON" },
		{ "{\"keys\":{}}", 0, 0, "\"keys\" array" },
		{ "{\"keys\":[]}", 0, 0, "no usable" },
		{ "[]", 0, 0, "not a JSON object" },
		{ "{\"keys\":[{" EC_A ",\"kid\":\"a\",\"alg\":\"ES256\"}]", 0, 0, "not JSON" },
		{ "{\"keys\":[{\"kid\":\"a\"}]}", 0, 0, "kty" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		why[0] = '\0';
		ks = jwks_set_build("t", cases[i].doc, strlen(cases[i].doc), cases[i].algs, why,
		    sizeof(why));
		if ((ks ? ks->n : 0) != cases[i].nkeys)
			fprintf(stderr, "\ncase %zu: %s\n", i, why);
		CU_ASSERT_EQUAL(ks ? ks->n : 0, cases[i].nkeys);
		if (ks == NULL)
			CU_ASSERT_TRUE(why[0] != '\0');
		if (ks == NULL && cases[i].reason != NULL && strstr(why, cases[i].reason) == NULL) {
			fprintf(stderr, "\ncase %zu: '%s' lacks '%s'\n", i, why, cases[i].reason);
			CU_FAIL("reason");
		}
		keys_free(ks);
	}
	/* Too large: refused before parsing. */
	big = calloc(1, 600 * 1024 + 1);
	memset(big, ' ', 600 * 1024);
	memcpy(big, "{\"keys\":[]}", 11);
	ks = jwks_set_build("t", big, strlen(big), 0, why, sizeof(why));
	CU_ASSERT_PTR_NULL(ks);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "larger"));
	free(big);
}

static struct jwks_spec *
spec(const char *text, struct errlist *el)
{
	struct jsonconf jc = { "c.json", el };
	json_t *v = json_loads(text, 0, NULL);
	struct jwks_spec *s;

	s = jwks_spec_parse(&jc, v, "/tokens/keys/0", "/tmp");
	json_decref(v);
	return s;
}

static void
test_spec(void)
{
	static const char *bad[] = {
		"{\"jwks_url\":\"http://idp.example/k\"}",
		"{\"jwks_url\":\"http://127.0.0.1/k\"}",
		"{\"jwks_url\":\"http://10.1.1.1/k\",\"allow_http_loopback\":true}",
		"{\"jwks_url\":\"https://a/k\",\"issuer_discovery\":\"https://a\"}",
		"{\"jwks_url\":\"https://a/k\",\"kid\":\"x\"}",
		"{\"jwks_url\":\"https://a/k\",\"algs\":[\"HS256\"]}",
		"{\"jwks_url\":\"https://a/k\",\"algs\":[]}",
		"{\"jwks_url\":\"https://a/k\",\"refresh_s\":10,\"min_refresh_s\":20}",
		"{\"jwks_url\":\"https://a/k\",\"refresh_s\":0}",
		"{\"issuer_discovery\":\"https://a/?x\"}",
		"{\"jwks_url\":\"https://a/k\",\"ca_file\":\"/nonexistent/ca.pem\"}",
	};
	struct jwks_spec *s, *t;
	struct errlist el;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		errlist_init(&el);
		s = spec(bad[i], &el);
		if (s != NULL)
			fprintf(stderr, "\naccepted %s\n", bad[i]);
		CU_ASSERT_PTR_NULL(s);
		CU_ASSERT_TRUE(el.n > 0);
		if (el.n > 0)
			CU_ASSERT_PTR_NOT_NULL(strstr(el.msgs[0], "c.json: /tokens/keys/0"));
		jwks_spec_free(s);
		errlist_free(&el);
	}
	errlist_init(&el);
	s = spec("{\"issuer_discovery\":\"https://a\",\"refresh_s\":30}", &el);
	t = spec("{\"refresh_s\":30,\"issuer_discovery\":\"https://a\"}", &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(s->min_refresh_s, 30);
	CU_ASSERT_EQUAL(s->max_refresh_s, 86400);
	/* Equal entries, other member order: one source across a reload. */
	CU_ASSERT_STRING_EQUAL(s->identity, t->identity);
	jwks_spec_free(s);
	jwks_spec_free(t);
	errlist_free(&el);
}

int
main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("jwks_remote", NULL, NULL);
	CU_add_test(s, "URLs", test_url);
	CU_add_test(s, "max-age", test_max_age);
	CU_add_test(s, "discovery", test_discovery);
	CU_add_test(s, "fetched set", test_set);
	CU_add_test(s, "config entry", test_spec);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)(CU_get_number_of_failures() + CU_get_number_of_suites_failed());
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
