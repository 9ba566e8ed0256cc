/* rlgate.h: the "rate_limits" of a request in the worker (evhttp glue
 * around ratelimits.h and ratelimit_redis.h).
 *
 * Local limits are decided at once, from the process's table; shared ones
 * in Redis on the worker's own link (with the other requests of the loop
 * pass, in one script call: ratelimit_redis.h), waiting at most
 * the longest shared_timeout_ms of the limits that matched. No answer in
 * time, or no link: each shared limit falls back to a local limit of its
 * rate / expected_instances, or refuses with 503 when it says on_outage
 * deny. A request over a limit gets 429 TooManyRequests with Retry-After
 * and is never forwarded. Local limits are taken first; a request refused
 * anywhere counts nowhere. */
#ifndef SCOPEGATE_RLGATE_H
#define SCOPEGATE_RLGATE_H

#include <stdint.h>

#include <jansson.h>

struct worker;
struct proxy_req;
struct gate_decision;
struct rlgate_wait;

/* The limits of an allowed request pr (head decision d, and the token's
 * claims, read now, never later). 0: no limit refuses, go on now. 1: answered
 * (429 or 503), or waiting for Redis: the request then goes on by
 * worker_admit_limited or is answered. */
int rlgate_check(struct worker *w, struct proxy_req *pr, const struct gate_decision *d,
    const json_t *claims);

/* The request completes while waiting for Redis: forget it (the answer
 * is dropped when it comes). */
void rlgate_abandon(struct proxy_req *pr);

/* The worker's snapshot changed (or it starts): keep a Redis link when
 * shared limits are configured, to the Redis they name. */
void rlgate_configure(struct worker *w);
void rlgate_worker_free(struct worker *w);

/* Process-wide counters for /metrics. */
struct rlgate_stats {
	uint64_t shared;		/* requests decided by Redis */
	uint64_t fallback;		/* requests decided by the fallback */
	uint64_t outage_denied;		/* refused with 503 (on_outage deny) */
	uint64_t links_up;		/* Redis links up now */
	uint64_t outages;		/* shared counting lost */
};
void rlgate_get_stats(struct rlgate_stats *out);

#endif
