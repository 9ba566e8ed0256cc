/* test_realip.c: trusted proxy prefixes and the client address behind
 * them, hostile X-Forwarded-For values included. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "realip.h"

static void
test_parse(void)
{
	static const char *good[] = {
		"127.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "192.168.1.128/25", "::1", "::/0",
		"2001:db8::/32", "fe80::/10", "1.2.3.4/32", "::ffff:1.2.3.4",
	};
	static const char *bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.1/8", "2001:db8::1/32",
		"10.0.0.0/08", "10.0.0.0/+8", "10.0.0.0/-8", "10.0.0.0/8/8", "10.0.0.0/ 8",
		" 10.0.0.0/8", "10.0.0.0 ", "10.0.0", "256.0.0.0", "1.2.3.4.5", "[::1]", "::1%lo",
		"localhost", "10.0.0.0/4294967304", "10.0.0.0/99999999999999999999", "1.2.3.4:80",
	};
	struct realip_net net;
	const char *why = NULL;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = realip_parse_net(good[i], &net, &why);
		if (rc != 0)
			fprintf(stderr, "\nrefused %s: %s\n", good[i], why);
		CU_ASSERT_EQUAL(rc, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		int rc = realip_parse_net(bad[i], &net, &why);
		if (rc == 0)
			fprintf(stderr, "\naccepted %s\n", bad[i]);
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	CU_ASSERT_EQUAL(realip_parse_net("10.0.0.0/8", &net, &why), 0);
	CU_ASSERT_EQUAL(net.prefix, 8);
	CU_ASSERT_EQUAL(realip_parse_net("::1", &net, &why), 0);
	CU_ASSERT_EQUAL(net.prefix, 128);
}

static void
test_trusted(void)
{
	struct realip_net nets[3];
	const char *why;

	CU_ASSERT_EQUAL_FATAL(realip_parse_net("10.0.0.0/8", &nets[0], &why), 0);
	CU_ASSERT_EQUAL_FATAL(realip_parse_net("192.168.1.128/25", &nets[1], &why), 0);
	CU_ASSERT_EQUAL_FATAL(realip_parse_net("2001:db8::/32", &nets[2], &why), 0);
	CU_ASSERT(realip_trusted(nets, 3, "10.255.1.2"));
	CU_ASSERT(!realip_trusted(nets, 3, "11.0.0.1"));
	CU_ASSERT(realip_trusted(nets, 3, "192.168.1.200"));
	CU_ASSERT(!realip_trusted(nets, 3, "192.168.1.127"));
	CU_ASSERT(realip_trusted(nets, 3, "2001:db8:ffff::1"));
	CU_ASSERT(!realip_trusted(nets, 3, "2001:db9::1"));
	/* Families apart: an IPv4-mapped address is not the IPv4 address. */
	CU_ASSERT(!realip_trusted(nets, 3, "::ffff:10.0.0.1"));
	CU_ASSERT(!realip_trusted(nets, 3, ""));
	CU_ASSERT(!realip_trusted(nets, 3, "10.0.0.1 "));
	CU_ASSERT(!realip_trusted(nets, 0, "10.0.0.1"));
}

/* client PEER XFF -> expected client and whether it came from XFF. */
static void
expect(const struct realip_net *nets, size_t n, const char *peer, const char *xff,
    const char *want, int want_rc)
{
	char out[REALIP_ADDR_MAX + 1];
	int rc = realip_client(nets, n, peer, xff, out, sizeof(out));

	if (rc != want_rc || strcmp(out, want) != 0)
		fprintf(stderr, "\npeer %s xff \"%s\": got %s (%d), want %s (%d)\n", peer,
		    xff ? xff : "(none)", out, rc, want, want_rc);
	CU_ASSERT_EQUAL(rc, want_rc);
	CU_ASSERT_STRING_EQUAL(out, want);
}

static void
test_client(void)
{
	struct realip_net nets[2];
	const char *why;
	char big[20000];

	CU_ASSERT_EQUAL_FATAL(realip_parse_net("127.0.0.1", &nets[0], &why), 0);
	CU_ASSERT_EQUAL_FATAL(realip_parse_net("10.0.0.0/8", &nets[1], &why), 0);
	/* An untrusted peer's X-Forwarded-For proves nothing. */
	expect(nets, 2, "203.0.113.9", "1.1.1.1", "203.0.113.9", 0);
	expect(nets, 2, "127.0.0.1", NULL, "127.0.0.1", 0);
	expect(nets, 0, "127.0.0.1", "1.1.1.1", "127.0.0.1", 0);
	/* The rightmost address that is not a trusted proxy. */
	expect(nets, 2, "127.0.0.1", "1.1.1.1", "1.1.1.1", 1);
	expect(nets, 2, "127.0.0.1", "6.6.6.6, 1.1.1.1", "1.1.1.1", 1);
	expect(nets, 2, "127.0.0.1", "6.6.6.6, 1.1.1.1, 10.1.2.3", "1.1.1.1", 1);
	expect(nets, 2, "127.0.0.1", "6.6.6.6,1.1.1.1,10.1.2.3,10.9.9.9", "1.1.1.1", 1);
	expect(nets, 2, "127.0.0.1", " \t1.1.1.1 \t", "1.1.1.1", 1);
	expect(nets, 2, "127.0.0.1", "2001:DB8::0:1", "2001:db8::1", 1);	/* normalized */
	/* Every element trusted: the leftmost of them. */
	expect(nets, 2, "127.0.0.1", "10.0.0.5, 10.0.0.6", "10.0.0.5", 1);
	/* A malformed element stops the walk: what was walked past counts. */
	expect(nets, 2, "127.0.0.1", "1.1.1.1, garbage", "127.0.0.1", 0);
	expect(nets, 2, "127.0.0.1", "1.1.1.1, garbage, 10.0.0.7", "10.0.0.7", 1);
	expect(nets, 2, "127.0.0.1", "1.1.1.1,,", "127.0.0.1", 0);
	expect(nets, 2, "127.0.0.1", "", "127.0.0.1", 0);
	expect(nets, 2, "127.0.0.1", ",", "127.0.0.1", 0);
	expect(nets, 2, "127.0.0.1", "1.1.1.1:4711", "127.0.0.1", 0);
	expect(nets, 2, "127.0.0.1", "[2001:db8::1]", "127.0.0.1", 0);
	expect(nets, 2, "127.0.0.1", "unknown", "127.0.0.1", 0);
	expect(nets, 2, "127.0.0.1", "1.1.1.1 2.2.2.2", "127.0.0.1", 0);
	/* Long values: bounded work, no overflow. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect(nets, 2, "127.0.0.1", big, "127.0.0.1", 0);
	for (size_t i = 0; i + 10 < sizeof(big); i += 10)
		memcpy(big + i, "10.0.0.1, ", 10);
	big[sizeof(big) - 12] = '\0';	/* "10.0.0.1, ... 10.0.0.1" */
	expect(nets, 2, "127.0.0.1", big, "10.0.0.1", 1);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("realip", NULL, NULL);
	CU_add_test(s, "prefixes", test_parse);
	CU_add_test(s, "trusted", test_trusted);
	CU_add_test(s, "client behind proxies", test_client);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
