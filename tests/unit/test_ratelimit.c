/* test_ratelimit.c: the GCRA limiter with an injected clock: burst, steady
 * rate, retry-after, kinds of keys apart, bounded table under a flood of
 * keys (an active key is not the one forgotten), and concurrent workers
 * never letting more through than the limit allows. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "ratelimit.h"

#define SEC 1000000ULL

static int
take(struct ratelimit *rl, const char *key, uint64_t now, uint64_t interval, uint32_t burst,
    uint64_t *retry)
{
	return ratelimit_take(rl, 's', key, strlen(key), now, interval, burst, retry);
}

static void
test_burst_then_rate(void)
{
	struct ratelimit *rl = ratelimit_new(1024);
	uint64_t retry = 99, t0 = 1000 * SEC;
	int i;

	/* 10 per second, burst 5: five at once, the sixth waits 100 ms. */
	for (i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(take(rl, "alice", t0, SEC / 10, 5, &retry), 1);
		CU_ASSERT_EQUAL(retry, 0);
	}
	CU_ASSERT_EQUAL(take(rl, "alice", t0, SEC / 10, 5, &retry), 0);
	CU_ASSERT_EQUAL(retry, SEC / 10);
	/* A refusal is not counted: still 100 ms from t0. */
	CU_ASSERT_EQUAL(take(rl, "alice", t0 + SEC / 20, SEC / 10, 5, &retry), 0);
	CU_ASSERT_EQUAL(retry, SEC / 20);
	CU_ASSERT_EQUAL(take(rl, "alice", t0 + SEC / 10, SEC / 10, 5, &retry), 1);
	CU_ASSERT_EQUAL(take(rl, "alice", t0 + SEC / 10, SEC / 10, 5, &retry), 0);
	/* Steady: one every 100 ms goes through for as long as it lasts. */
	for (i = 2; i < 100; i++)
		CU_ASSERT_EQUAL(take(rl, "alice", t0 + (uint64_t)i * SEC / 10, SEC / 10, 5, &retry), 1);
	/* Idle for a second: the whole burst again, and no more. */
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(take(rl, "alice", t0 + 20 * SEC, SEC / 10, 5, &retry), 1);
	CU_ASSERT_EQUAL(take(rl, "alice", t0 + 20 * SEC, SEC / 10, 5, &retry), 0);
	ratelimit_free(rl);
}

static void
test_burst_one(void)
{
	struct ratelimit *rl = ratelimit_new(1024);
	uint64_t retry, t0 = 5 * SEC;

	/* One per minute. */
	CU_ASSERT_EQUAL(take(rl, "k", t0, 60 * SEC, 1, &retry), 1);
	CU_ASSERT_EQUAL(take(rl, "k", t0 + 1, 60 * SEC, 1, &retry), 0);
	CU_ASSERT_EQUAL(retry, 60 * SEC - 1);
	CU_ASSERT_EQUAL(take(rl, "k", t0 + 60 * SEC - 1, 60 * SEC, 1, &retry), 0);
	CU_ASSERT_EQUAL(retry, 1);
	CU_ASSERT_EQUAL(take(rl, "k", t0 + 60 * SEC, 60 * SEC, 1, &retry), 1);
	ratelimit_free(rl);
}

static void
test_keys_apart(void)
{
	struct ratelimit *rl = ratelimit_new(1024);
	uint64_t retry, t0 = SEC;

	CU_ASSERT_EQUAL(take(rl, "alice", t0, SEC, 1, &retry), 1);
	CU_ASSERT_EQUAL(take(rl, "alice", t0, SEC, 1, &retry), 0);
	CU_ASSERT_EQUAL(take(rl, "bob", t0, SEC, 1, &retry), 1);
	CU_ASSERT_EQUAL(take(rl, "alicE", t0, SEC, 1, &retry), 1);
	CU_ASSERT_EQUAL(take(rl, "alice ", t0, SEC, 1, &retry), 1);
	CU_ASSERT_EQUAL(take(rl, "", t0, SEC, 1, &retry), 1);
	CU_ASSERT_EQUAL(take(rl, "", t0, SEC, 1, &retry), 0);
	/* The same string as another kind of key is another key. */
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'c', "alice", 5, t0, SEC, 1, &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 't', "alice", 5, t0, SEC, 1, &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'c', "alice", 5, t0, SEC, 1, &retry), 0);
	/* Bytes past a NUL, long keys: compared whole. */
	CU_ASSERT_EQUAL(ratelimit_take(rl, 's', "ab\0x", 4, t0, SEC, 1, &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 's', "ab\0y", 4, t0, SEC, 1, &retry), 1);
	{
		char a[300], b[300];
		memset(a, 'x', sizeof(a));
		memcpy(b, a, sizeof(b));
		b[299] = 'y';
		CU_ASSERT_EQUAL(ratelimit_take(rl, 's', a, sizeof(a), t0, SEC, 1, &retry), 1);
		CU_ASSERT_EQUAL(ratelimit_take(rl, 's', b, sizeof(b), t0, SEC, 1, &retry), 1);
		CU_ASSERT_EQUAL(ratelimit_take(rl, 's', a, sizeof(a), t0, SEC, 1, &retry), 0);
	}
	ratelimit_free(rl);
}

/* A flood of new keys fills the table; it stays bounded, and a key that
 * keeps being refused (its arrival time far ahead) is not the one
 * forgotten while idle ones are there. */
static void
test_bounded(void)
{
	struct ratelimit *rl = ratelimit_new(1024);
	uint64_t retry, t0 = 100 * SEC;
	char key[32];
	int i, refused = 0;

	/* The hot key spends a large burst: it is 1000 s ahead of the clock. */
	for (i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL(take(rl, "hot", t0, SEC, 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(rl, "hot", t0, SEC, 1000, &retry), 0);
	for (i = 0; i < 50000; i++) {
		snprintf(key, sizeof(key), "flood-%d", i);
		CU_ASSERT_EQUAL(take(rl, key, t0 + 1, SEC, 1, &retry), 1);
	}
	CU_ASSERT(ratelimit_count(rl) <= 1024);
	CU_ASSERT(ratelimit_count(rl) >= 512);
	/* The flood's keys are each due 1 s from now, the hot key 1000 s:
	 * the flood's own keys were forgotten first. */
	if (take(rl, "hot", t0 + 2, SEC, 1000, &retry) == 0)
		refused = 1;
	CU_ASSERT_EQUAL(refused, 1);
	ratelimit_free(rl);
}

struct racer {
	struct ratelimit *rl;
	uint64_t now;
	int allowed;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	uint64_t retry;

	for (int i = 0; i < 20000; i++)
		r->allowed += ratelimit_take(r->rl, 's', "shared", 6, r->now, SEC, 100, &retry);
	return NULL;
}

static void
test_threads(void)
{
	struct ratelimit *rl = ratelimit_new(1024);
	struct racer r[4];
	pthread_t t[4];
	int total = 0;

	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){rl, 7 * SEC, 0};
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		total += r[i].allowed;
	}
	/* At one instant: exactly the burst, whoever got there. */
	CU_ASSERT_EQUAL(total, 100);
	ratelimit_free(rl);
}

/* Do two addresses make the same client key at prefix p? */
static int
same_key(const char *a, const char *b, unsigned p)
{
	char ka[RATELIMIT_CLIENT_KEY_MAX], kb[RATELIMIT_CLIENT_KEY_MAX];
	size_t na = ratelimit_client_key(a, p, ka), nb = ratelimit_client_key(b, p, kb);

	return na == nb && memcmp(ka, kb, na) == 0;
}

/* The client key: an IPv6 client is its /64 (rotating the interface id
 * does not make a new client), IPv4-mapped IPv6 is the IPv4 address, and
 * every other spelling of one address is the same key. */
static void
test_client_key(void)
{
	char k[RATELIMIT_CLIENT_KEY_MAX];
	char long_text[200];

	/* IPv6: one /64, any interface id, any spelling */
	CU_ASSERT(same_key("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 64));
	CU_ASSERT(same_key("2001:db8:1:2::1", "2001:0DB8:0001:0002:0:0:0:9", 64));
	CU_ASSERT(same_key("2001:db8:1:2::1", "2001:db8:1:2:a:b:c:d", 64));
	CU_ASSERT(!same_key("2001:db8:1:2::1", "2001:db8:1:3::1", 64));
	CU_ASSERT(!same_key("2001:db8:1:2::1", "2001:db8:1:2::2", 128));
	CU_ASSERT(same_key("2001:db8:1:2::1", "2001:db8:1:ff::1", 48));
	CU_ASSERT(!same_key("2001:db8:1:2::1", "2001:db8:2:2::1", 48));
	/* a prefix not on a byte boundary: /61 keeps 3 bits of the 8th byte */
	CU_ASSERT(same_key("2001:db8:1:8::1", "2001:db8:1:f::1", 61));
	CU_ASSERT(!same_key("2001:db8:1:8::1", "2001:db8:1:10::1", 61));
	CU_ASSERT(same_key("::1", "ffff::1", 0));	/* /0: every IPv6 client */
	CU_ASSERT(!same_key("::1", "127.0.0.1", 0));	/* ... but not IPv4 */
	/* a zone does not make another client */
	CU_ASSERT(same_key("fe80::1%eth0", "fe80::2%eth1", 64));
	/* IPv4-mapped IPv6 is the IPv4 address, whatever the prefix */
	CU_ASSERT(same_key("::ffff:198.51.100.7", "198.51.100.7", 64));
	CU_ASSERT(same_key("::FFFF:c633:6407", "198.51.100.7", 0));
	CU_ASSERT(!same_key("::ffff:198.51.100.7", "198.51.100.8", 64));
	/* IPv4 is the whole address */
	CU_ASSERT(!same_key("198.51.100.7", "198.51.100.8", 64));
	/* not IPv4-mapped: the IPv4-compatible and NAT64 forms are IPv6 */
	CU_ASSERT(!same_key("::198.51.100.7", "198.51.100.7", 64));
	CU_ASSERT(!same_key("64:ff9b::198.51.100.7", "198.51.100.7", 64));
	/* a prefix above 128 counts as 128 */
	CU_ASSERT(same_key("2001:db8::1", "2001:db8::1", 500));
	CU_ASSERT(!same_key("2001:db8::1", "2001:db8::2", 500));
	/* text that is no address is its own key, cut, never overflowing */
	CU_ASSERT(!same_key("not-an-address", "not-an-addresS", 64));
	CU_ASSERT(!same_key("not-an-address", "", 64));
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	CU_ASSERT(ratelimit_client_key(long_text, 64, k) <= RATELIMIT_CLIENT_KEY_MAX);
	CU_ASSERT_EQUAL(ratelimit_client_key("2001:db8::1", 64, k), 18);
	CU_ASSERT_EQUAL(ratelimit_client_key("10.0.0.1", 64, k), 5);
}

/* ratelimit_refund gives a taken request back: a budget spent only by
 * failures is taken before the work and refunded when it succeeded. */
static void
test_refund(void)
{
	struct ratelimit *rl = ratelimit_new(1024);
	uint64_t retry = 99, t0 = 1000 * SEC;

	/* Successes, taken and refunded, never spend it. */
	for (int i = 0; i < 100; i++) {
		CU_ASSERT_EQUAL(ratelimit_take(rl, 'f', "a", 1, t0, SEC / 10, 3, &retry), 1);
		ratelimit_refund(rl, 'f', "a", 1, SEC / 10);
	}
	/* Three failures at once spend a burst of 3 ... */
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(ratelimit_take(rl, 'f', "a", 1, t0, SEC / 10, 3, &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'f', "a", 1, t0, SEC / 10, 3, &retry), 0);
	CU_ASSERT_EQUAL(retry, SEC / 10);
	/* ... a refused take is not refunded (it did not count) ... */
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'f', "a", 1, t0, SEC / 10, 3, &retry), 0);
	/* ... and one refund frees exactly one slot. */
	ratelimit_refund(rl, 'f', "a", 1, SEC / 10);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'f', "a", 1, t0, SEC / 10, 3, &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'f', "a", 1, t0, SEC / 10, 3, &retry), 0);
	/* A refund of a key never taken, or of another kind, changes nothing. */
	ratelimit_refund(rl, 'f', "b", 1, SEC / 10);
	ratelimit_refund(rl, 'c', "a", 1, SEC / 10);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'f', "a", 1, t0, SEC / 10, 3, &retry), 0);
	CU_ASSERT_EQUAL(ratelimit_count(rl), 1);
	/* Refunds never bank credit beyond a full burst. */
	for (int i = 0; i < 50; i++)
		ratelimit_refund(rl, 'f', "a", 1, SEC / 10);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(ratelimit_take(rl, 'f', "a", 1, t0 + SEC, SEC / 10, 3, &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'f', "a", 1, t0 + SEC, SEC / 10, 3, &retry), 0);
	ratelimit_free(rl);
}

/* ratelimit_charge counts a request admitted elsewhere: never refused,
 * spends what a take would, and stops at empty (no debt). */
static void
test_charge(void)
{
	struct ratelimit *rl = ratelimit_new(1024);
	uint64_t retry = 99, t0 = 1000 * SEC;

	/* Two charged of a burst of 3: one take left. */
	ratelimit_charge(rl, 'L', "a", 1, t0, SEC / 10, 3);
	ratelimit_charge(rl, 'L', "a", 1, t0, SEC / 10, 3);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "a", 1, t0, SEC / 10, 3, &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "a", 1, t0, SEC / 10, 3, &retry), 0);
	CU_ASSERT_EQUAL(retry, SEC / 10);
	/* 1000 more (traffic admitted elsewhere, far above this rate): the
	 * cell is empty, not in debt: one comes back after one interval. */
	for (int i = 0; i < 1000; i++)
		ratelimit_charge(rl, 'L', "a", 1, t0, SEC / 10, 3);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "a", 1, t0 + SEC / 10 - 1, SEC / 10, 3, &retry),
	    0);
	CU_ASSERT_EQUAL(retry, 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "a", 1, t0 + SEC / 10, SEC / 10, 3, &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "a", 1, t0 + SEC / 10, SEC / 10, 3, &retry), 0);
	/* Charges while empty keep it empty as time goes: a steady stream
	 * admitted elsewhere leaves nothing for a take. */
	for (int i = 2; i < 50; i++) {
		ratelimit_charge(rl, 'L', "a", 1, t0 + (uint64_t)i * SEC / 10, SEC / 10, 3);
		CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "a", 1, t0 + (uint64_t)i * SEC / 10,
		    SEC / 10, 3, &retry), 0);
	}
	/* Another key, another kind: untouched. */
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "b", 1, t0, SEC / 10, 3, &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'c', "a", 1, t0, SEC / 10, 1, &retry), 1);
	/* The whole burst back once the clock passes: a fresh cell. */
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "a", 1, t0 + 100 * SEC, SEC / 10, 3,
		    &retry), 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "a", 1, t0 + 100 * SEC, SEC / 10, 3, &retry), 0);
	/* A charge of a new key makes it (one spent). */
	ratelimit_charge(rl, 'L', "n", 1, t0, SEC, 1);
	CU_ASSERT_EQUAL(ratelimit_take(rl, 'L', "n", 1, t0, SEC, 1, &retry), 0);
	ratelimit_free(rl);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("ratelimit", NULL, NULL);
	CU_add_test(s, "burst, then the rate", test_burst_then_rate);
	CU_add_test(s, "burst 1, per minute", test_burst_one);
	CU_add_test(s, "keys and kinds apart", test_keys_apart);
	CU_add_test(s, "bounded under a flood of keys", test_bounded);
	CU_add_test(s, "threads", test_threads);
	CU_add_test(s, "client key: IPv6 /64, IPv4-mapped", test_client_key);
	CU_add_test(s, "refund", test_refund);
	CU_add_test(s, "charge: never refused, no debt", test_charge);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
