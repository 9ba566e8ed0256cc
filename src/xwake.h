/*
 * xwake.h: make an event of a worker's loop active from another thread.
 *
 * A worker's event base has no lock (EVENT_BASE_FLAG_NOLOCK): libevent's
 * base lock cost 23 lock/unlock pairs, ~1,900 instructions, per proxied
 * request, to protect against what happens a few times a minute (a
 * reload, an introspection answer for another worker, a key set fetched).
 * Those few cross-thread wake-ups go through the worker's mailbox instead:
 * the event is queued under the mailbox's own mutex and an eventfd wakes
 * the loop, which makes it active from its own thread.
 *
 * An event posted here must outlive the base's mailbox use of it: the
 * events that are posted (a worker's notify, introspection wake and
 * unknown-kid events) live as long as their worker, and a mailbox is
 * freed only after its worker's thread was joined.
 */
#ifndef SCOPEGATE_XWAKE_H
#define SCOPEGATE_XWAKE_H

#include <event2/event.h>

struct xwake;

/* The mailbox of base (a base without a lock, owned by one thread). At
 * most XWAKE_MAX_BASES at a time; NULL past that or when out of
 * descriptors. Register before any other thread may post to the base. */
struct xwake *xwake_new(struct event_base *base);
/* Once no thread will post any more (its worker joined). */
void xwake_free(struct xwake *xw);

/* event_active(ev, res, 0), from any thread: directly when ev's base is
 * lockable (has no mailbox), else through the mailbox of its base. */
void xwake_active(struct event *ev, short res);

#define XWAKE_MAX_BASES	1024

#endif
