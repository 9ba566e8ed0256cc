/* test_connlimit.c: connections per address group, with hostile inputs:
 * the grouping (IPv4, IPv4-mapped IPv6 as IPv4 and never as the ::/64,
 * IPv6 by /64, zones, junk), the cap, release to zero freeing the group,
 * many addresses at once, threads racing on one group never exceeding
 * the cap, and the once-per-interval refusal log bookkeeping. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "connlimit.h"

static int
same_group(const char *a, const char *b)
{
	struct connlimit_key ka, kb;

	if (connlimit_key_parse(a, &ka) != 0 || connlimit_key_parse(b, &kb) != 0)
		return -1;
	return memcmp(&ka, &kb, sizeof(ka)) == 0;
}

static const char *
group(const char *a)
{
	static char buf[64];
	struct connlimit_key k;

	if (connlimit_key_parse(a, &k) != 0)
		return "(none)";
	return connlimit_key_str(&k, buf, sizeof(buf));
}

static void
test_groups(void)
{
	/* IPv4 by itself. */
	CU_ASSERT_EQUAL(same_group("192.0.2.1", "192.0.2.1"), 1);
	CU_ASSERT_EQUAL(same_group("192.0.2.1", "192.0.2.2"), 0);
	CU_ASSERT_STRING_EQUAL(group("192.0.2.1"), "192.0.2.1");
	/* IPv4-mapped is the IPv4 address, in any spelling. */
	CU_ASSERT_EQUAL(same_group("::ffff:192.0.2.1", "192.0.2.1"), 1);
	CU_ASSERT_EQUAL(same_group("::FFFF:c000:0201", "192.0.2.1"), 1);
	CU_ASSERT_EQUAL(same_group("0:0:0:0:0:ffff:192.0.2.1", "192.0.2.1"), 1);
	/* ... and never lumped with every other mapped address (they all
	 * share the ::/64), nor with ::/64 itself. */
	CU_ASSERT_EQUAL(same_group("::ffff:192.0.2.1", "::ffff:192.0.2.2"), 0);
	CU_ASSERT_EQUAL(same_group("::ffff:192.0.2.1", "::1"), 0);
	CU_ASSERT_EQUAL(same_group("::ffff:0.0.0.0", "::"), 0);
	/* IPv4-compatible (deprecated) and NAT64 forms are IPv6: by /64. */
	CU_ASSERT_EQUAL(same_group("::192.0.2.1", "::192.0.2.2"), 1);
	CU_ASSERT_EQUAL(same_group("64:ff9b::192.0.2.1", "64:ff9b::1"), 1);
	/* IPv6 by /64: rotating inside an allocation does not escape. */
	CU_ASSERT_EQUAL(same_group("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"), 1);
	CU_ASSERT_EQUAL(same_group("2001:db8:1:2::1", "2001:db8:1:3::1"), 0);
	CU_ASSERT_EQUAL(same_group("2001:DB8:1:2::1", "2001:db8:1:2::9"), 1);
	CU_ASSERT_STRING_EQUAL(group("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
	/* A zone names an interface of this host, not another client. */
	CU_ASSERT_EQUAL(same_group("fe80::1%eth0", "fe80::2%lo"), 1);
	/* Not numeric addresses. */
	struct connlimit_key k;
	const char *bad[] = {"", "localhost", "192.0.2.1 ", "192.0.2", "192.0.2.256",
	    "0x7f.1", "::ffff:192.0.2.1:80", "[::1]", "1:2:3:4:5:6:7:8:9",
	    "%eth0", "2001:db8::1%"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(connlimit_key_parse(bad[i], &k), bad[i][0] == '2' ? 0 : -1);
}

static void
test_cap(void)
{
	struct connlimit *cl = connlimit_new();
	struct connlimit_key a, b, m;

	connlimit_key_parse("198.51.100.7", &a);
	connlimit_key_parse("198.51.100.8", &b);
	connlimit_key_parse("::ffff:198.51.100.7", &m);
	CU_ASSERT_EQUAL(connlimit_acquire(cl, &a, 3), 1);
	CU_ASSERT_EQUAL(connlimit_acquire(cl, &m, 3), 1);	/* same group */
	CU_ASSERT_EQUAL(connlimit_acquire(cl, &a, 3), 1);
	CU_ASSERT_EQUAL(connlimit_acquire(cl, &m, 3), 0);	/* over: refused ... */
	CU_ASSERT_EQUAL(connlimit_count(cl, &a), 3);		/* ... not counted */
	CU_ASSERT_EQUAL(connlimit_acquire(cl, &b, 3), 1);	/* others unaffected */
	CU_ASSERT_EQUAL(connlimit_groups(cl), 2);
	connlimit_release(cl, &a);
	CU_ASSERT_EQUAL(connlimit_acquire(cl, &a, 3), 1);
	for (int i = 0; i < 3; i++)
		connlimit_release(cl, &a);
	CU_ASSERT_EQUAL(connlimit_count(cl, &a), 0);
	CU_ASSERT_EQUAL(connlimit_groups(cl), 1);		/* freed at zero */
	connlimit_release(cl, &a);				/* extra release: harmless */
	CU_ASSERT_EQUAL(connlimit_count(cl, &a), 0);
	CU_ASSERT_EQUAL(connlimit_acquire(cl, &a, 0), 0);	/* a cap of 0 holds nothing */
	CU_ASSERT_EQUAL(connlimit_groups(cl), 1);
	connlimit_release(cl, &b);
	CU_ASSERT_EQUAL(connlimit_groups(cl), 0);
	connlimit_free(cl);
}

/* Many addresses at once (a botnet, or one /48 spread over /64s): each is
 * its own group, each capped, all freed again. */
static void
test_many(void)
{
	struct connlimit *cl = connlimit_new();
	char a[64];
	struct connlimit_key k;

	for (int i = 0; i < 50000; i++) {
		snprintf(a, sizeof(a), "2001:db8:%x:%x::%x", i >> 12, i & 0xfff, i);
		connlimit_key_parse(a, &k);
		CU_ASSERT_EQUAL(connlimit_acquire(cl, &k, 2), 1);
		CU_ASSERT_EQUAL(connlimit_acquire(cl, &k, 2), 1);
		if (connlimit_acquire(cl, &k, 2) != 0)
			CU_FAIL("third connection of a group accepted");
	}
	CU_ASSERT_EQUAL(connlimit_groups(cl), 50000);
	/* One /64, 50000 addresses: one group. */
	for (int i = 0; i < 50000; i++) {
		snprintf(a, sizeof(a), "2001:db8:ffff:1:%x:%x::1", i >> 12, i);
		connlimit_key_parse(a, &k);
		if (connlimit_acquire(cl, &k, 2) != (i < 2))
			CU_FAIL("one /64 got more than its share");
	}
	CU_ASSERT_EQUAL(connlimit_groups(cl), 50001);
	for (int i = 0; i < 50000; i++) {
		snprintf(a, sizeof(a), "2001:db8:%x:%x::%x", i >> 12, i & 0xfff, i);
		connlimit_key_parse(a, &k);
		connlimit_release(cl, &k);
		connlimit_release(cl, &k);
	}
	CU_ASSERT_EQUAL(connlimit_groups(cl), 1);
	connlimit_free(cl);
}

struct racer {
	struct connlimit *cl;
	int got;
};

/* Four threads (workers) open and close connections of one address: the
 * group never holds more than the cap, and ends at zero. */
static void *
race(void *arg)
{
	struct racer *r = arg;
	struct connlimit_key k;

	connlimit_key_parse("203.0.113.9", &k);
	for (int i = 0; i < 20000; i++) {
		if (connlimit_acquire(r->cl, &k, 10)) {
			r->got++;
			if (connlimit_count(r->cl, &k) > 10)
				CU_FAIL("over the cap");
			connlimit_release(r->cl, &k);
		}
	}
	return NULL;
}

static void
test_threads(void)
{
	struct connlimit *cl = connlimit_new();
	struct racer r[4];
	pthread_t t[4];
	struct connlimit_key k;

	connlimit_key_parse("203.0.113.9", &k);
	for (int i = 0; i < 4; i++) {
		r[i].cl = cl;
		r[i].got = 0;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT(r[0].got + r[1].got + r[2].got + r[3].got > 0);
	CU_ASSERT_EQUAL(connlimit_count(cl, &k), 0);
	CU_ASSERT_EQUAL(connlimit_groups(cl), 0);
	/* At one instant, with nothing released: exactly the cap. */
	int held = 0;
	for (int i = 0; i < 100; i++)
		held += connlimit_acquire(cl, &k, 10);
	CU_ASSERT_EQUAL(held, 10);
	connlimit_free(cl);
}

static void
test_refusal_log(void)
{
	struct connlimit *cl = connlimit_new();
	uint64_t since = 99, s = 1000000;

	CU_ASSERT_EQUAL(connlimit_refused(cl, 100 * s, 10 * s, &since), 1);	/* first: log */
	CU_ASSERT_EQUAL(since, 0);
	for (int i = 0; i < 500; i++)
		CU_ASSERT_EQUAL(connlimit_refused(cl, 100 * s + (uint64_t)i, 10 * s, &since), 0);
	CU_ASSERT_EQUAL(connlimit_refused(cl, 109 * s, 10 * s, &since), 0);
	CU_ASSERT_EQUAL(connlimit_refused(cl, 110 * s, 10 * s, &since), 1);	/* next interval */
	CU_ASSERT_EQUAL(since, 501);
	CU_ASSERT_EQUAL(connlimit_refused_total(cl), 503);
	connlimit_free(cl);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("connlimit", NULL, NULL);
	CU_add_test(s, "address groups", test_groups);
	CU_add_test(s, "the cap", test_cap);
	CU_add_test(s, "many addresses", test_many);
	CU_add_test(s, "threads", test_threads);
	CU_add_test(s, "refusals logged once per interval", test_refusal_log);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
