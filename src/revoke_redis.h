/* revoke_redis.h: sharing the revocation set between gateway instances
 * through Redis (hiredis, asynchronous, on a libevent loop).
 *
 * State in Redis: a sorted set <redis_key> (member: token id, score: its
 * expiry, unix time) and a sorted set <redis_key>:reinstated of tombstones
 * for reinstated ids (score: when the tombstone may go). Changes are also
 * published on <redis_channel> as journal lines ("+ id exp" / "- id"), so
 * that other instances learn them at once.
 *
 * Every local change (revoke_add/revoke_remove, from any thread) is queued
 * and pushed; it stays queued until Redis acknowledges it. When Redis is
 * unreachable the store keeps enforcing what it knows (its journal), the
 * outage is logged once, and the link reconnects with a doubling backoff.
 * On each (re)connection it subscribes first, pushes what is queued, then
 * reads both sets and merges: ids revoked in Redis are revoked locally,
 * tombstoned ids are reinstated locally (unless revoked locally since),
 * and local entries Redis does not know are pushed (so a Redis that lost
 * its data is repopulated). An id in both sets counts as revoked.
 * Changes learnt from Redis are journaled locally. */
#ifndef SCOPEGATE_REVOKE_REDIS_H
#define SCOPEGATE_REVOKE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "revoke.h"

struct revoke_redis;

/* Link st to the Redis of its configuration, running in base's loop (the
 * thread that runs base). Returns NULL when no Redis is configured or on
 * a setup error (logged). Connecting happens in the loop; until it
 * succeeds the store works alone. revoke_redis_free() must then be
 * called from that thread, or once the loop no longer runs. */
struct revoke_redis *revoke_redis_attach(struct revoke_store *st, struct event_base *base);

/* The same on a dedicated thread with its own event_base (recommended in
 * the daemon: Redis I/O and the journaling of remote changes never stall
 * a request loop). revoke_redis_free() stops and joins it. */
struct revoke_redis *revoke_redis_start(struct revoke_store *st);

/* Detach from the store, disconnect, free. NULL is fine. */
void revoke_redis_free(struct revoke_redis *r);

/* 1 while connected and synchronized. Any thread. */
int revoke_redis_up(const struct revoke_redis *r);

/* Local changes not yet acknowledged by Redis. Any thread. */
size_t revoke_redis_pending(struct revoke_redis *r);

struct revoke_redis_stats {
	uint64_t pushed;		/* changes acknowledged by Redis */
	uint64_t received;		/* pub/sub messages applied */
	uint64_t syncs;			/* completed (re)synchronizations */
	uint64_t outages;		/* times Redis became unavailable */
};
void revoke_redis_get_stats(struct revoke_redis *r, struct revoke_redis_stats *out);

#endif
