/* test_balance.c: server selection. Smooth round robin gives each server
 * its weight in every cycle, interleaved; 1:3 over 4,000 picks is 1,000
 * and 3,000; a down server is never chosen while another is up, and all
 * are candidates when all are down; least_request prefers the less loaded
 * of its two draws per unit of weight, never draws a down server, and
 * spreads evenly when loads are equal; hostile names are refused. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "balance.h"
#include "cfg.h"
#include "upstats.h"

static void
test_names(void)
{
	enum balance_kind k;

	CU_ASSERT_EQUAL(balance_kind_parse("round_robin", &k), 0);
	CU_ASSERT_EQUAL(k, BALANCE_ROUND_ROBIN);
	CU_ASSERT_EQUAL(balance_kind_parse("least_request", &k), 0);
	CU_ASSERT_EQUAL(k, BALANCE_LEAST_REQUEST);
	CU_ASSERT_EQUAL(balance_kind_parse("Round_Robin", &k), -1);
	CU_ASSERT_EQUAL(balance_kind_parse("round_robin ", &k), -1);
	CU_ASSERT_EQUAL(balance_kind_parse("", &k), -1);
	CU_ASSERT_EQUAL(balance_kind_parse("random", &k), -1);
	CU_ASSERT_STRING_EQUAL(balance_kind_name(BALANCE_LEAST_REQUEST), "least_request");
}

static void
test_rr_weights(void)
{
	struct balance_peer p[2] = {{.weight = 1}, {.weight = 3}};
	size_t count[2] = {0, 0};

	for (int i = 0; i < 4000; i++)
		count[balance_round_robin(p, 2)]++;
	/* Exact, not just within 5%: smooth round robin is deterministic. */
	CU_ASSERT_EQUAL(count[0], 1000);
	CU_ASSERT_EQUAL(count[1], 3000);
}

static void
test_rr_smooth(void)
{
	struct balance_peer p[3] = {{.weight = 5}, {.weight = 1}, {.weight = 1}};
	char seq[8] = {0};

	for (int i = 0; i < 7; i++)
		seq[i] = (char)('a' + balance_round_robin(p, 3));
	/* nginx's documented sequence for weights 5, 1, 1. */
	CU_ASSERT_STRING_EQUAL(seq, "aabacaa");
}

static void
test_rr_down(void)
{
	struct balance_peer p[3] = {{.weight = 1}, {.weight = 1}, {.weight = 1}};
	size_t count[3] = {0, 0, 0};

	p[1].down = 1;
	for (int i = 0; i < 3000; i++)
		count[balance_round_robin(p, 3)]++;
	CU_ASSERT_EQUAL(count[1], 0);
	CU_ASSERT_EQUAL(count[0], 1500);
	CU_ASSERT_EQUAL(count[2], 1500);
	/* Back up: it gets its share again. */
	p[1].down = 0;
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 3000; i++)
		count[balance_round_robin(p, 3)]++;
	CU_ASSERT(count[1] >= 990 && count[1] <= 1010);
	/* All down: all are candidates (never a pick of nothing). */
	p[0].down = p[1].down = p[2].down = 1;
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 3000; i++)
		count[balance_round_robin(p, 3)]++;
	CU_ASSERT(count[0] == 1000 && count[1] == 1000 && count[2] == 1000);
	/* One server: always it, up or down. */
	struct balance_peer one = {.weight = 7, .down = 1};
	CU_ASSERT_EQUAL(balance_round_robin(&one, 1), 0);
}

static size_t
load_of(void *arg, size_t i)
{
	return ((const size_t *)arg)[i];
}

static void
test_least_request(void)
{
	struct balance_peer p[4] = {{.weight = 1}, {.weight = 1}, {.weight = 1}, {.weight = 1}};
	size_t load[4] = {0, 0, 0, 0}, count[4] = {0, 0, 0, 0};
	uint64_t st = 42;

	/* Equal loads: even spread (each within 5% of 1,000). */
	for (int i = 0; i < 4000; i++)
		count[balance_least_request(p, 4, balance_rand(&st), load_of, load)]++;
	for (int i = 0; i < 4; i++)
		CU_ASSERT(count[i] >= 950 && count[i] <= 1050);
	/* Server 2 is busy: it only wins when drawn with itself, never (the
	 * two draws are distinct), so it gets nothing. */
	load[2] = 100;
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 4000; i++)
		count[balance_least_request(p, 4, balance_rand(&st), load_of, load)]++;
	CU_ASSERT_EQUAL(count[2], 0);
	/* Down: never drawn, even when it is the least loaded. */
	load[2] = 0;
	load[0] = load[1] = load[3] = 50;
	p[2].down = 1;
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 4000; i++)
		count[balance_least_request(p, 4, balance_rand(&st), load_of, load)]++;
	CU_ASSERT_EQUAL(count[2], 0);
	/* Only one up: always it. */
	p[0].down = p[1].down = 1;
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(balance_least_request(p, 4, balance_rand(&st), load_of, load), 3);
	/* All down: every one is a candidate again. */
	p[3].down = 1;
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 4000; i++)
		count[balance_least_request(p, 4, balance_rand(&st), load_of, load)]++;
	CU_ASSERT(count[2] > 0 && count[0] > 0);
	/* Weight counts: 3 in flight on weight 4 is less loaded than 1 on weight 1. */
	struct balance_peer w[2] = {{.weight = 1}, {.weight = 4}};
	size_t wl[2] = {1, 3};
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(balance_least_request(w, 2, balance_rand(&st), load_of, wl), 1);
}

static void
test_health(void)
{
	struct balance_outlier o = {.failures = 3, .window_ms = 1000, .base_ms = 100, .max_ms = 350};
	struct balance_outlier off = {.failures = 0};
	struct balance_health h = {0};

	/* Two failures, a success: the count starts again. */
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 0), 0);
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 10), 0);
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 1, 20), 0);
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 30), 0);
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 40), 0);
	CU_ASSERT_FALSE(balance_health_down(&h, 40));
	/* Failures spread wider than the window do not add up. */
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 2000), 0);
	CU_ASSERT_FALSE(balance_health_down(&h, 2000));
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 2100), 0);
	/* The third in a row within the window ejects, for base_ms. */
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 2200), 1);
	CU_ASSERT_TRUE(balance_health_down(&h, 2200));
	CU_ASSERT_TRUE(balance_health_down(&h, 2299));
	CU_ASSERT_FALSE(balance_health_down(&h, 2300));
	/* Failures of requests in flight while down change nothing. */
	h.ejected_until_ms = 2300;
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 2250), 0);
	CU_ASSERT_EQUAL(h.ejected_until_ms, 2300);
	/* Back and failing again: 200, then 350 (the cap), then 350. */
	for (int i = 0; i < 2; i++)
		balance_health_report(&h, &o, 0, 2300);
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 2300), 1);
	CU_ASSERT_EQUAL(h.ejected_until_ms, 2500);
	for (int i = 0; i < 2; i++)
		balance_health_report(&h, &o, 0, 2500);
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 2500), 1);
	CU_ASSERT_EQUAL(h.ejected_until_ms, 2850);
	for (int i = 0; i < 2; i++)
		balance_health_report(&h, &o, 0, 2850);
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 2850), 1);
	CU_ASSERT_EQUAL(h.ejected_until_ms, 3200);
	/* A success while up resets the backoff: the next is base_ms. */
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 1, 3200), 0);
	for (int i = 0; i < 2; i++)
		balance_health_report(&h, &o, 0, 3300);
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 0, 3300), 1);
	CU_ASSERT_EQUAL(h.ejected_until_ms, 3400);
	/* A success reported while down does not shorten the ejection. */
	CU_ASSERT_EQUAL(balance_health_report(&h, &o, 1, 3350), 0);
	CU_ASSERT_TRUE(balance_health_down(&h, 3399));
	/* Ejection off: never down. */
	struct balance_health z = {0};
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(balance_health_report(&z, &off, 0, i), 0);
	CU_ASSERT_FALSE(balance_health_down(&z, 50));
}

/* Active health check verdicts (upstats.c): unhealthy failures in a row
 * to go down, healthy passes in a row to come back; a pass or a failure
 * in between starts the count again; checks turned off forget the
 * verdict; the expected status ranges (cfg_upstreams.c). */
static void
test_health_verdict(void)
{
	struct upstats *u = upstats_new();
	struct upstats_server *s = upstats_get(u, "a", "http://x");
	struct cfg_health_check h = {.nstatus = 2, .status_lo = {200, 418}, .status_hi = {299, 418}};

	CU_ASSERT_PTR_EQUAL(upstats_find(u, "a", "http://x"), s);
	CU_ASSERT_PTR_NULL(upstats_find(u, "a", "http://y"));
	upstats_health_checked(s, 1);
	CU_ASSERT_FALSE(upstats_health_down(s));
	CU_ASSERT_EQUAL(upstats_health_report(s, 0, 2, 3), 0);
	CU_ASSERT_EQUAL(upstats_health_report(s, 0, 2, 3), 0);
	CU_ASSERT_EQUAL(upstats_health_report(s, 1, 2, 3), 0);	/* run broken */
	CU_ASSERT_EQUAL(upstats_health_report(s, 0, 2, 3), 0);
	CU_ASSERT_EQUAL(upstats_health_report(s, 0, 2, 3), 0);
	CU_ASSERT_FALSE(upstats_health_down(s));
	CU_ASSERT_EQUAL(upstats_health_report(s, 0, 2, 3), 1);
	CU_ASSERT_TRUE(upstats_health_down(s));
	CU_ASSERT_EQUAL(upstats_health_report(s, 0, 2, 3), 0);	/* already down */
	CU_ASSERT_EQUAL(upstats_health_report(s, 1, 2, 3), 0);
	CU_ASSERT_EQUAL(upstats_health_report(s, 0, 2, 3), 0);	/* run broken */
	CU_ASSERT_EQUAL(upstats_health_report(s, 1, 2, 3), 0);
	CU_ASSERT_TRUE(upstats_health_down(s));
	CU_ASSERT_EQUAL(upstats_health_report(s, 1, 2, 3), 2);
	CU_ASSERT_FALSE(upstats_health_down(s));
	CU_ASSERT_EQUAL(upstats_health_report(s, 0, 2, 1), 1);
	upstats_health_checked(s, 0);
	CU_ASSERT_FALSE(upstats_health_down(s));
	/* Thresholds of 1: every check decides. */
	upstats_health_checked(s, 1);
	CU_ASSERT_EQUAL(upstats_health_report(s, 0, 1, 1), 1);
	CU_ASSERT_EQUAL(upstats_health_report(s, 1, 1, 1), 2);
	upstats_free(u);

	CU_ASSERT_TRUE(cfg_health_status_ok(&h, 200));
	CU_ASSERT_TRUE(cfg_health_status_ok(&h, 299));
	CU_ASSERT_TRUE(cfg_health_status_ok(&h, 418));
	CU_ASSERT_FALSE(cfg_health_status_ok(&h, 199));
	CU_ASSERT_FALSE(cfg_health_status_ok(&h, 300));
	CU_ASSERT_FALSE(cfg_health_status_ok(&h, 417));
	CU_ASSERT_FALSE(cfg_health_status_ok(&h, 0));
}

int
main(void)
{
	CU_pSuite s;
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("balance", NULL, NULL);
	CU_add_test(s, "names", test_names);
	CU_add_test(s, "round robin weights", test_rr_weights);
	CU_add_test(s, "round robin smooth", test_rr_smooth);
	CU_add_test(s, "round robin down", test_rr_down);
	CU_add_test(s, "least request", test_least_request);
	CU_add_test(s, "outlier ejection", test_health);
	CU_add_test(s, "health check verdicts", test_health_verdict);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;
}
