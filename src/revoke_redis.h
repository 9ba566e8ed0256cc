/* revoke_redis.h: sharing the revocation set between gateway instances
 * through Redis (hiredis, asynchronous, on a libevent loop).
 *
 * State in Redis: a hash <redis_key>:state (field: token id in canonical
 * form, value: "<op> <expiry> <version> <source>", the id's last change,
 * the truth), and, for people and expiry, a sorted set <redis_key>
 * (member: revoked id, score: its expiry, +inf for never) and a sorted
 * set <redis_key>:reinstated of tombstones (score: when it may go). A
 * change is applied in Redis by a Lua script that keeps the newest
 * version (a revocation wins a tie), so instances racing on one id agree.
 * It then publishes "<op> <id>" on <redis_channel>: a hint only. An
 * instance that receives it reads the id's state from the hash and merges
 * that; a forged PUBLISH changes nothing the hash does not say.
 *
 * Every local change (from any thread) is queued and pushed; it stays
 * queued until Redis acknowledges it, and is marked pending in the journal
 * until then, so a change made during an outage is pushed after a
 * restart too. When Redis is unreachable the store keeps enforcing what it
 * knows (its journal), the outage is logged once, and the link reconnects
 * with a doubling backoff. On each (re)connection it subscribes first,
 * pushes what is queued, then reads the state hash and merges it, newest
 * version on each side: newer states there are applied locally (at most
 * redis_max_entries new entries come from Redis), newer (or unknown) ones
 * here are pushed, so a Redis that lost its data is repopulated. Members
 * of the revoked set without a state (an older gateway, or by hand) count
 * as revocations older than any versioned change. Changes learnt from
 * Redis are journaled locally. */
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

/* A reload: take the password of rc (a copy) and, when it changed,
 * reconnect with it at once (a wrong one is then logged as an outage).
 * Any thread; NULL is fine. */
void revoke_redis_reload(struct revoke_redis *r, const struct revoke_config *rc);

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
