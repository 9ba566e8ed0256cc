/* ratelimit_redis.h: shared rate limits (scope shared) kept in Redis.
 *
 * One link per worker, on the worker's own event loop (hiredis async on
 * libevent, as revoke_redis.c): a request never blocks its worker, and
 * its answer comes back on the loop that serves it, with no thread hop.
 * The Redis is the one revocations.redis names (same database and
 * password file).
 *
 * The requests a worker's loop pass brings share ONE script call
 * (EVALSHA; the script is loaded with SCRIPT LOAD on every
 * (re)connection, and sent whole by EVAL after a NOSCRIPT, e.g. a Redis
 * that restarted or was flushed): each request joins the worker's open
 * batch, and the batch goes when the pass ends (or when it holds
 * SG_RATE_LIMIT_REDIS_BATCH_MAX requests). The script takes the requests
 * in the order they came, each with every shared limit that matched it:
 * GCRA on each cell with Redis's own clock (instances' clocks may
 * differ), all or nothing per request, exactly as if each had been its
 * own script call (a refused request takes nothing; a later request of
 * the batch sees what an earlier one took); one answer per request: per
 * limit whether it allowed, the wait, and what remains. Cells expire once
 * their burst is whole again. Redis does one command per batch, the
 * worker one write and one reply per batch.
 *
 * While the link is down, ratelimit_redis_eval refuses at once (the
 * caller falls back to its local limit; a batch whose link went before it
 * was sent is answered "no answer" at the end of the pass); it reconnects with a doubling
 * backoff. The transitions of the process's shared counting (down: first
 * link lost; up: a link back) are logged once each. */
#ifndef SCOPEGATE_RATELIMIT_REDIS_H
#define SCOPEGATE_RATELIMIT_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "revoke.h"
#include "rlanswer.h"

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


/* Called once per ratelimit_redis_eval that did not return NULL, unless
 * cancelled first: cells (n of them, in the order given), or NULL (n 0)
 * when there is no answer: the link failed, or timeout_ms passed. Never
 * from within ratelimit_redis_eval. */
typedef void (*ratelimit_redis_cb)(void *arg, const struct rlanswer_cell *cells,
    size_t n);

/* One request's place in a batch. */
struct ratelimit_redis_call;

/* Take one request from each of the n cells (keys[i]: a Redis key,
 * interval and burst its limit's), all or nothing, in the worker's next
 * script call (the end of this loop pass), waiting at most timeout_ms
 * for the answer from when that call is sent. NULL at once when the link is not up (cb is
 * not called). */
struct ratelimit_redis_call *ratelimit_redis_eval(struct ratelimit_redis *r,
    char *const *keys, const uint64_t *interval_us, const uint32_t *burst, size_t n,
    int64_t timeout_ms, ratelimit_redis_cb cb, void *arg);

/* The caller no longer wants c's answer (its request went away): cb is
 * not called. The request still counts in Redis (it may be on its way,
 * or counted already). Only before cb was called. */
void ratelimit_redis_cancel(struct ratelimit_redis_call *c);

/* Process-wide: links up now (a gauge), and the count of transitions. */
struct ratelimit_redis_stats {
	uint64_t links_up;
	uint64_t outages;
	uint64_t script_loads;
};
void ratelimit_redis_get_stats(struct ratelimit_redis_stats *out);

#endif
