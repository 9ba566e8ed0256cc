/* test_xwake: cross-thread wake-ups of a lock-free worker loop, with
 * real threads and a real libevent loop. Four threads post to eight
 * events of a base made with EVENT_BASE_FLAG_NOLOCK, as the runtime, the
 * key fetcher and other workers post to a worker's events; each event's
 * callback records the newest post it has seen. No post may be lost: once
 * the posters are done, every event has run after its last post. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "xwake.h"

#define NEVENTS		8
#define NPOSTERS	4
#define NPOSTS		20000

struct target {
	struct event *ev;
	uint64_t posted;	/* posts so far (atomic) */
	uint64_t seen;		/* posts seen by the last callback run */
	uint64_t runs;
	short res;		/* what the callbacks were given, or-ed */
};

static struct target targets[NEVENTS];
static int posters_done;

static void
target_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target *t = arg;

	(void)fd;
	t->seen = __atomic_load_n(&t->posted, __ATOMIC_ACQUIRE);
	t->runs++;
	t->res |= what;
}

static void *
poster(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int i = 0; i < NPOSTS; i++) {
		struct target *t = &targets[(seed = seed * 1103515245u + 12345u) % NEVENTS];
		/* Counted before the post: a callback that runs after the
		 * post sees at least this count. */
		__atomic_add_fetch(&t->posted, 1, __ATOMIC_ACQ_REL);
		xwake_active(t->ev, (i & 1) ? EV_READ : EV_TIMEOUT);
	}
	return NULL;
}

/* The loop's own check, once a millisecond: stop when the posters are
 * done and every event ran after its last post, or after 10 s. */
static void
check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event_base *base = arg;
	static time_t t0;
	int all = __atomic_load_n(&posters_done, __ATOMIC_ACQUIRE);

	(void)fd;
	(void)what;
	for (int i = 0; all && i < NEVENTS; i++)
		all = targets[i].seen == __atomic_load_n(&targets[i].posted, __ATOMIC_ACQUIRE);
	if (t0 == 0)
		t0 = time(NULL);
	if (all || time(NULL) - t0 > 10)
		event_base_loopbreak(base);
}

static void *
join_all(void *arg)
{
	pthread_t *th = arg;

	for (int i = 0; i < NPOSTERS; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&posters_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void
test_no_lost_wakeup(void)
{
	struct event_config *ecfg = event_config_new();
	struct event_base *base;
	struct xwake *xw;
	struct event *check;
	struct timeval ms = { 0, 1000 };
	pthread_t th[NPOSTERS], joiner;
	uint64_t runs = 0, posts = 0;

	event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
	base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	xw = xwake_new(base);
	CU_ASSERT_PTR_NOT_NULL_FATAL(xw);
	for (int i = 0; i < NEVENTS; i++)
		targets[i].ev = event_new(base, -1, 0, target_cb, &targets[i]);
	check = event_new(base, -1, EV_PERSIST, check_cb, base);
	event_add(check, &ms);
	for (int i = 0; i < NPOSTERS; i++)
		pthread_create(&th[i], NULL, poster, (void *)(uintptr_t)(i + 1));
	pthread_create(&joiner, NULL, join_all, th);
	event_base_dispatch(base);
	pthread_join(joiner, NULL);
	for (int i = 0; i < NEVENTS; i++) {
		CU_ASSERT_EQUAL(targets[i].seen, targets[i].posted);
		CU_ASSERT_TRUE(targets[i].runs >= 1);
		/* Both kinds of post reached the callbacks. */
		CU_ASSERT_EQUAL(targets[i].res, EV_READ | EV_TIMEOUT);
		runs += targets[i].runs;
		posts += targets[i].posted;
	}
	CU_ASSERT_EQUAL(posts, (uint64_t)NPOSTERS * NPOSTS);
	/* Posts made while one was queued collapse into one run. */
	CU_ASSERT_TRUE(runs <= posts);
	for (int i = 0; i < NEVENTS; i++)
		event_free(targets[i].ev);
	event_free(check);
	xwake_free(xw);
	event_base_free(base);
}

static void
lockable_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void *
post_one(void *arg)
{
	xwake_active(arg, EV_READ);
	return NULL;
}

/* A base with libevent's lock and no mailbox: xwake_active is plain
 * event_active, from another thread too. */
static void
test_lockable_base(void)
{
	struct event_base *base = event_base_new();
	struct event *ev, *guard;
	struct timeval limit = { 20, 0 };
	pthread_t th;
	time_t t0 = time(NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(base);
	ev = event_new(base, -1, 0, lockable_cb, base);
	/* Keeps the loop waiting; it would end the test at 20 s. */
	guard = event_new(base, -1, 0, lockable_cb, base);
	event_add(guard, &limit);
	pthread_create(&th, NULL, post_one, ev);
	event_base_dispatch(base);
	pthread_join(th, NULL);
	CU_ASSERT_TRUE(time(NULL) - t0 < 10);
	event_free(ev);
	event_free(guard);
	event_base_free(base);
}

int
main(void)
{
	CU_pSuite su;
	int fails;

	if (evthread_use_pthreads() != 0)
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	su = CU_add_suite("xwake", NULL, NULL);
	CU_add_test(su, "no wake-up lost under four posting threads", test_no_lost_wakeup);
	CU_add_test(su, "a lockable base is woken directly", test_lockable_base);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
