/* ratelimit_redis.h: shared rate limits (scope shared) kept in Redis.
 *
 * One link per worker, on the worker's own event loop (hiredis async on
 * libevent, as revoke_redis.c): a request never blocks its worker, and
 * its answer comes back on the loop that serves it, with no thread hop.
 * The Redis is the one revocations.redis names (same database and
 * password file).
 *
 * Each request sends ONE script call (EVALSHA; the script is loaded with
 * SCRIPT LOAD on every (re)connection, and sent whole by EVAL after a
 * NOSCRIPT, e.g. a Redis that restarted or was flushed) with every shared
 * limit that matched it: the script runs GCRA on each cell with Redis's
 * own clock (instances' clocks may differ), all or nothing, and returns
 * per limit whether it allowed, the wait, and what remains. Cells expire
 * once their burst is whole again.
 *
 * While the link is down, ratelimit_redis_eval refuses at once (the
 * caller falls back to its local limit); it reconnects with a doubling
 * backoff. The transitions of the process's shared counting (down: first
 * link lost; up: a link back) are logged once each. */
#ifndef SCOPEGATE_RATELIMIT_REDIS_H
#define SCOPEGATE_RATELIMIT_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "revoke.h"

struct ratelimit_redis;

/* A link to rc's Redis (its host, port, db and password are copied),
 * connecting from base's loop. NULL when rc names no Redis. Free it from
 * that loop's thread. */
struct ratelimit_redis *ratelimit_redis_new(struct event_base *base,
    const struct revoke_config *rc);
void ratelimit_redis_free(struct ratelimit_redis *r);

/* 1 when r talks to the Redis rc names, with the same password. */
int ratelimit_redis_same(const struct ratelimit_redis *r, const struct revoke_config *rc);

/* 1 while connected with the script loaded. */
int ratelimit_redis_up(const struct ratelimit_redis *r);

/* One answer per cell: allowed, and the wait (refused: until allowed;
 * allowed: until its whole burst is back), and what remains. */
struct ratelimit_redis_cell {
	int ok;
	uint64_t wait_us;
	uint32_t remaining;
};

/* Called once per ratelimit_redis_eval that returned 0: cells (n of them,
 * in the order given) or NULL when the link failed before the answer. */
typedef void (*ratelimit_redis_cb)(void *arg, const struct ratelimit_redis_cell *cells,
    size_t n);

/* Take one request from each of the n cells (keys[i]: a Redis key,
 * interval and burst its limit's) in one script call. -1 at once when the
 * link is not up (cb is not called); 0 when sent. */
int ratelimit_redis_eval(struct ratelimit_redis *r, char *const *keys,
    const uint64_t *interval_us, const uint32_t *burst, size_t n, ratelimit_redis_cb cb,
    void *arg);

/* Process-wide: links up now (a gauge), and the count of transitions. */
struct ratelimit_redis_stats {
	uint64_t links_up;
	uint64_t outages;
	uint64_t script_loads;
};
void ratelimit_redis_get_stats(struct ratelimit_redis_stats *out);

#endif
