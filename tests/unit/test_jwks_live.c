/* test_jwks_live.c: how a request that named an unknown kid waits on a
 * live key set (jwks_fetch.h): nothing to wait for before a registry binds
 * the set; a ticket that says whether this set's refetch settled (one
 * worker event serves every set, so a wake-up alone does not); and after a
 * reload binds another set, the old one answers "replaced" and is never
 * woken again, so its waiters wait for the new snapshot instead of being
 * decided against a set that gets no more keys. Runs a real event loop. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <event2/event.h>

#include "jwks_fetch.h"
#include "keys.h"
#include "token_config.h"

static int woken;

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	woken++;
}

/* A token_config with no remote entry but a live set: what the registry
 * binds (the entries themselves are fetched by the integration tests). */
static void
tc_init(struct token_config *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->keys = keys_new();
	tc->live = jwks_live_new();
}

static void
tc_fini(struct token_config *tc)
{
	jwks_live_free(tc->live);
	keys_free(tc->keys);
}

static void
test_wait(void)
{
	struct event_base *base = event_base_new();
	struct event *ev = event_new(base, -1, 0, wake_cb, NULL);
	struct jwks_registry *r = jwks_registry_new(base);
	struct token_config a, b;
	uint64_t t1, t2, t3, t4;

	tc_init(&a);
	tc_init(&b);
	woken = 0;
	/* Not bound: no registry fetches for it, nothing to wait for. */
	CU_ASSERT_EQUAL(jwks_live_wait_kid(a.live, ev, &t1), JWKS_WAIT_NONE);
	CU_ASSERT_FALSE(jwks_live_replaced(a.live));

	jwks_registry_bind(r, &a);
	CU_ASSERT_EQUAL(jwks_live_wait_kid(a.live, ev, &t1), JWKS_WAIT_FETCH);
	CU_ASSERT_FALSE(jwks_live_settled(a.live, t1));
	/* The main loop answers (no source fetching: settled at once). */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CU_ASSERT_EQUAL(woken, 1);
	CU_ASSERT_TRUE(jwks_live_settled(a.live, t1));

	/* Waiting again; then a reload binds b: a's waiters are woken... */
	CU_ASSERT_EQUAL(jwks_live_wait_kid(a.live, ev, &t2), JWKS_WAIT_FETCH);
	CU_ASSERT_FALSE(jwks_live_settled(a.live, t2));
	jwks_registry_bind(r, &b);
	CU_ASSERT_TRUE(jwks_live_replaced(a.live));
	CU_ASSERT_FALSE(jwks_live_replaced(b.live));
	CU_ASSERT_TRUE(jwks_live_settled(a.live, t2));
	/* ... and a replaced set is never waited on, nor settled again. */
	CU_ASSERT_EQUAL(jwks_live_wait_kid(a.live, ev, &t3), JWKS_WAIT_REPLACED);
	CU_ASSERT_FALSE(jwks_live_settled(a.live, t3));
	/* b's own waiter: its ticket is not moved by a's wake-ups. */
	CU_ASSERT_EQUAL(jwks_live_wait_kid(b.live, ev, &t4), JWKS_WAIT_FETCH);
	CU_ASSERT_FALSE(jwks_live_settled(b.live, t4));
	woken = 0;
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CU_ASSERT_TRUE(woken >= 1);
	CU_ASSERT_TRUE(jwks_live_settled(b.live, t4));
	CU_ASSERT_FALSE(jwks_live_settled(a.live, t3));

	/* A reload without remote keys replaces b too. */
	jwks_registry_bind(r, NULL);
	CU_ASSERT_TRUE(jwks_live_replaced(b.live));
	CU_ASSERT_EQUAL(jwks_live_wait_kid(b.live, ev, &t4), JWKS_WAIT_REPLACED);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CU_ASSERT_FALSE(jwks_live_settled(b.live, t4));

	jwks_registry_free(r);
	tc_fini(&b);
	tc_fini(&a);
	event_free(ev);
	event_base_free(base);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("jwks_live", NULL, NULL);
	CU_add_test(s, "unknown-kid waits across a reload", test_wait);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
