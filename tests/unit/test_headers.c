/* test_headers.c: which header fields cross the gateway. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "headers.h"

static void
test_hop_by_hop(void)
{
	static const char *const hop[] = {"Connection", "connection", "Keep-Alive", "TE",
	    "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Authorization",
	    "proxy-connection", "Proxy-Authenticate", NULL};
	static const char *const e2e[] = {"Content-Type", "Authorization", "Accept",
	    "Tex", "Upgraded", "X-Proxy", "Host", NULL};

	for (const char *const *h = hop; *h; h++)
		CU_ASSERT(headers_is_hop_by_hop(*h));
	for (const char *const *h = e2e; *h; h++)
		CU_ASSERT(!headers_is_hop_by_hop(*h));
}

static void
test_connection_names(void)
{
	CU_ASSERT(headers_connection_names("keep-alive, X-Foo", "x-foo"));
	CU_ASSERT(headers_connection_names("X-Foo", "X-Foo"));
	CU_ASSERT(headers_connection_names(" ,x-a ,\tX-Foo\t", "X-Foo"));
	CU_ASSERT(!headers_connection_names("X-Foobar", "X-Foo"));
	CU_ASSERT(!headers_connection_names("X-Fo", "X-Foo"));
	CU_ASSERT(!headers_connection_names("", "X-Foo"));
	CU_ASSERT(!headers_connection_names(",,,", ""));
}

static void
test_client_drop(void)
{
	static const char *const drop[] = {"X-Forwarded-For", "x-forwarded-host",
	    "X-HTTP-Method-Override", "x-http-method", "X-Method-Override", "X_Forwarded_For",
	    "Expect",
	    "X-Forwarded-Proto", "X-Scopegate-Subject", "x-scopegate-", "Forwarded",
	    "X-Request-Id", "Content-Length", "Transfer-Encoding", "Connection", NULL};
	static const char *const keep[] = {"Authorization", "Content-Type", "X-Forwarded",
	    "X-Scopegate", "Host", "Accept", "X-Requested-With", NULL};

	for (const char *const *h = drop; *h; h++)
		CU_ASSERT(headers_drop_from_client(*h));
	for (const char *const *h = keep; *h; h++)
		CU_ASSERT(!headers_drop_from_client(*h));
	CU_ASSERT(!headers_drop_from_upstream("Content-Length"));
	CU_ASSERT(!headers_drop_from_upstream("X-Request-Id"));
	CU_ASSERT(headers_drop_from_upstream("X-Scopegate-Decision"));
	CU_ASSERT(headers_drop_from_upstream("x-upstream-request-id"));
	CU_ASSERT(headers_drop_from_upstream("Transfer-Encoding"));
	CU_ASSERT(headers_drop_from_upstream("Keep-Alive"));
}

/* Every path, method and host override, in any case and with '_' for
 * '-', is dropped; near misses and ordinary fields are not. */
static void
test_overrides(void)
{
	static const char *const over[] = {"X-Original-URL", "X-Rewrite-URL", "X-Original-URI",
	    "X-Override-URL", "X-Original-Path", "X-Rewrite-Path", "X-Script-Name",
	    "X-Forwarded-Path", "X-Forwarded-Prefix", "X-Forwarded-Uri", "X-Forwarded-Method",
	    "X-Forwarded-Host", "X-Envoy-Original-Path", "X-Original-Host", "X-Host",
	    "X-HTTP-Host-Override", "X-HTTP-Method-Override", "X-HTTP-Method",
	    "X-Method-Override", "X-Original-Method", NULL};
	static const char *const not_over[] = {"X-Original", "X-Original-URLs", "X-Rewrite",
	    "X-Forwarded", "X-Envoy", "Host", "X-Hosts", "Content-Type", "Accept", "", NULL};
	char buf[64];

	for (const char *const *h = over; *h; h++) {
		CU_ASSERT(headers_is_override(*h));
		CU_ASSERT(headers_drop_from_client(*h));
		/* lower case, upper case, underscores */
		for (size_t i = 0; i <= strlen(*h); i++)
			buf[i] = (char)tolower((unsigned char)(*h)[i]);
		CU_ASSERT(headers_drop_from_client(buf));
		for (size_t i = 0; i <= strlen(*h); i++)
			buf[i] = (char)toupper((unsigned char)(*h)[i]);
		CU_ASSERT(headers_drop_from_client(buf));
		for (size_t i = 0; i <= strlen(*h); i++)
			buf[i] = (*h)[i] == '-' ? '_' : (*h)[i];
		CU_ASSERT(headers_drop_from_client(buf));
	}
	for (const char *const *h = not_over; *h; h++)
		CU_ASSERT(!headers_is_override(*h));
}

/* The RateLimit family: the five names whole, in any letter case; not a
 * prefix, an extension, another family or the names of other fields. */
static void
test_ratelimit(void)
{
	static const char *const family[] = {"RateLimit-Limit", "RateLimit-Remaining",
	    "RateLimit-Reset", "RateLimit", "RateLimit-Policy", "ratelimit-limit",
	    "RATELIMIT-REMAINING", "rAtElImIt-rEsEt", "ratelimit", "RATELIMIT",
	    "ratelimit-policy", "RateLimit-POLICY", NULL};
	static const char *const other[] = {"RateLimit-Limitx", "RateLimit-Limit ",
	    "RateLimit-Limit-", "RateLimit-Lim", "RateLimit-", "RateLimit-Policies",
	    "RateLimit-Remain", "RateLimit-Resets", "RateLimits", "RateLimitx", "RateLimi",
	    "Rate-Limit", "Rate-Limit-Limit", "RateLimit_Limit", "RateLimit Limit",
	    "RateLimit--Limit", "RateLimit-Retry-After", "Retry-After",
	    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit",
	    "x-ratelimit-limit", "XRateLimit-Limit", " RateLimit", "-RateLimit-Limit",
	    "Limit", "", NULL};
	char buf[] = "RateLimit-Limit";

	for (const char *const *h = family; *h; h++)
		CU_ASSERT(headers_is_ratelimit(*h));
	for (const char *const *h = other; *h; h++)
		CU_ASSERT(!headers_is_ratelimit(*h));
	/* A name cut inside "RateLimit" or after the dash is no member. */
	for (size_t i = 0; i < sizeof(buf) - 1; i++) {
		char c = buf[i];

		buf[i] = '\0';
		CU_ASSERT(headers_is_ratelimit(buf) == (i == 9));
		buf[i] = c;
	}
	/* Only while the gateway states its own (proxy.c): not among what
	 * headers_drop_from_upstream always drops. */
	for (const char *const *h = family; *h; h++)
		CU_ASSERT(!headers_drop_from_upstream(*h));
}

static void
test_upstream_rename(void)
{
	CU_ASSERT_STRING_EQUAL(headers_upstream_rename("X-Request-Id"), "X-Upstream-Request-Id");
	CU_ASSERT_STRING_EQUAL(headers_upstream_rename("x-request-ID"), "X-Upstream-Request-Id");
	CU_ASSERT_PTR_NULL(headers_upstream_rename("X-Request-Ids"));
	CU_ASSERT_PTR_NULL(headers_upstream_rename("Content-Type"));
}

static void
test_reason_phrase(void)
{
	CU_ASSERT_STRING_EQUAL(headers_reason_phrase(429), "Too Many Requests");
	CU_ASSERT_STRING_EQUAL(headers_reason_phrase(431), "Request Header Fields Too Large");
	CU_ASSERT_STRING_EQUAL(headers_reason_phrase(413), "Content Too Large");
	CU_ASSERT_STRING_EQUAL(headers_reason_phrase(414), "URI Too Long");
	CU_ASSERT_STRING_EQUAL(headers_reason_phrase(504), "Gateway Timeout");
	CU_ASSERT_STRING_EQUAL(headers_reason_phrase(200), "OK");
	CU_ASSERT_STRING_EQUAL(headers_reason_phrase(499), "Unknown");
	CU_ASSERT_STRING_EQUAL(headers_reason_phrase(-1), "Unknown");
}

int
main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("headers", NULL, NULL);
	CU_add_test(s, "hop-by-hop", test_hop_by_hop);
	CU_add_test(s, "Connection tokens", test_connection_names);
	CU_add_test(s, "client and upstream drops", test_client_drop);
	CU_add_test(s, "path, method and host overrides", test_overrides);
	CU_add_test(s, "upstream X-Request-Id renamed", test_upstream_rename);
	CU_add_test(s, "the RateLimit family", test_ratelimit);
	CU_add_test(s, "reason phrases", test_reason_phrase);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
