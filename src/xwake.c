/* xwake.c: see xwake.h.
 *
 * No wake-up is lost: a poster that finds the queue empty writes the
 * eventfd after queuing, and the loop reads the eventfd before it takes
 * the queue; what is queued after the take finds the queue empty again
 * and writes again. A spurious wake-up (the take already had it) finds
 * an empty queue and costs one read. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "log.h"
#include "xmalloc.h"
#include "xwake.h"

struct xwake_item {
	struct event *ev;
	short res;
};

struct xwake {
	struct event_base *base;
	size_t slot;			/* in reg */
	int fd;				/* eventfd */
	struct event ev;		/* its read event, on base */
	pthread_mutex_t lock;		/* guards items */
	struct xwake_item *items;
	size_t n, cap;
	struct xwake_item *taken;	/* the loop's copy, drained outside the lock */
	size_t taken_cap;
};

/* Every mailbox, looked up by base. Slots change under reg_lock, before
 * any post to the base and after the last; posters read them without it. */
static struct xwake *reg[XWAKE_MAX_BASES];
static size_t reg_hi;			/* slots in use are below */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xwake *xw = arg;
	uint64_t count;
	size_t n;

	(void)what;
	while (read(fd, &count, sizeof(count)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&xw->lock);
	n = xw->n;
	if (n > xw->taken_cap) {
		xw->taken = xreallocarray(xw->taken, n, sizeof(*xw->taken));
		xw->taken_cap = n;
	}
	if (n > 0)
		memcpy(xw->taken, xw->items, n * sizeof(*xw->items));
	xw->n = 0;
	pthread_mutex_unlock(&xw->lock);
	for (size_t i = 0; i < n; i++)
		event_active(xw->taken[i].ev, xw->taken[i].res, 0);
}

struct xwake *
xwake_new(struct event_base *base)
{
	struct xwake *xw = xcalloc(1, sizeof(*xw));
	size_t i;

	xw->base = base;
	pthread_mutex_init(&xw->lock, NULL);
	if ((xw->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("eventfd");
		goto fail;
	}
	event_assign(&xw->ev, base, xw->fd, EV_READ | EV_PERSIST, drain_cb, xw);
	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < XWAKE_MAX_BASES && reg[i] != NULL; i++)
		;
	if (i < XWAKE_MAX_BASES) {
		xw->slot = i;
		__atomic_store_n(&reg[i], xw, __ATOMIC_RELEASE);
		if (i + 1 > reg_hi)
			__atomic_store_n(&reg_hi, i + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&reg_lock);
	if (i == XWAKE_MAX_BASES) {
		log_warnx("xwake: more than %d loops", XWAKE_MAX_BASES);
		close(xw->fd);
		goto fail;
	}
	event_add(&xw->ev, NULL);
	return xw;
fail:
	pthread_mutex_destroy(&xw->lock);
	free(xw);
	return NULL;
}

void
xwake_free(struct xwake *xw)
{
	if (xw == NULL)
		return;
	pthread_mutex_lock(&reg_lock);
	__atomic_store_n(&reg[xw->slot], NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&reg_lock);
	event_del(&xw->ev);
	close(xw->fd);
	pthread_mutex_destroy(&xw->lock);
	free(xw->items);
	free(xw->taken);
	free(xw);
}

static struct xwake *
lookup(const struct event_base *base)
{
	size_t hi = __atomic_load_n(&reg_hi, __ATOMIC_ACQUIRE);

	for (size_t i = 0; i < hi; i++) {
		struct xwake *xw = __atomic_load_n(&reg[i], __ATOMIC_ACQUIRE);
		if (xw != NULL && xw->base == base)
			return xw;
	}
	return NULL;
}

void
xwake_active(struct event *ev, short res)
{
	struct xwake *xw = lookup(event_get_base(ev));
	uint64_t one = 1;
	size_t i, before;

	if (xw == NULL) {
		/* A lockable base: libevent wakes it itself. */
		event_active(ev, res, 0);
		return;
	}
	pthread_mutex_lock(&xw->lock);
	before = xw->n;
	/* Posted twice before the loop took it: active once, as
	 * event_active would have made it. */
	for (i = 0; i < xw->n && xw->items[i].ev != ev; i++)
		;
	if (i < xw->n)
		xw->items[i].res |= res;
	else {
		if (xw->n == xw->cap) {
			xw->cap = xw->cap ? 2 * xw->cap : 8;
			xw->items = xreallocarray(xw->items, xw->cap, sizeof(*xw->items));
		}
		xw->items[xw->n].ev = ev;
		xw->items[xw->n].res = res;
		xw->n++;
	}
	pthread_mutex_unlock(&xw->lock);
	/* Only the post that found the queue empty wakes the loop; the
	 * eventfd's counter cannot overflow from these. */
	if (before == 0)
		while (write(xw->fd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
}
