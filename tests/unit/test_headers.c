/* test_headers.c: which header fields cross the gateway. */
#include "config.h"

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
	CU_ASSERT(headers_drop_from_upstream("Transfer-Encoding"));
	CU_ASSERT(headers_drop_from_upstream("Keep-Alive"));
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
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
