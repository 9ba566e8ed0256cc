/* upset.h: a worker's upstreams: for each named upstream of the
 * configuration, one keep-alive pool (upstream.h) per server and the
 * balancing state that picks among them (balance.h). A reload keeps the
 * pools of upstreams whose servers and settings did not change, so their
 * warm connections stay; the others are handed back to be retired once
 * their requests in flight finish. */
#ifndef SCOPEGATE_UPSET_H
#define SCOPEGATE_UPSET_H

#include <stdint.h>

#include <event2/event.h>

#include "cfg.h"
#include "upstream.h"

struct upset;

struct upstats;

/* Pools for every upstream of cf, for worker number worker, counting
 * into stats (upstats.h; named upstreams only). Never NULL. */
struct upset *upset_new(struct event_base *base, const struct cfg *cf, struct upstats *stats,
    size_t worker);
/* The set for cf, built from old (made for old_cf): pools of unchanged
 * upstreams move over; every other pool of old goes to retire(arg, pool),
 * which now owns it. old is freed. */
struct upset *upset_reload(struct upset *old, const struct cfg *old_cf, const struct cfg *cf,
    void (*retire)(void *arg, struct upstream_pool *pool), void *arg);
/* Frees every pool (at exit). */
void upset_free(struct upset *s);
/* The pool of the server that gets the next request of upstream group
 * (an index into the configuration's cf->ups.groups), never exclude (the
 * server a retry comes from, or NULL) nor an ejected one: NULL when no
 * server is left (the caller answers 503). */
struct upstream_pool *upset_pick(struct upset *s, uint32_t group,
    const struct upstream_pool *exclude);
/* The same, but when every server is ejected one of them all the same
 * (not exclude; NULL only when exclude was the only server): for a
 * request whose body is already on its way. */
struct upstream_pool *upset_pick_any(struct upset *s, uint32_t group,
    const struct upstream_pool *exclude);
/* Report a request's outcome on pool: kind is an enum upstats_kind, or
 * UPSET_OK for an answer below 500 (upstream_pool_report at the loop's
 * cached time), with the latency of its head (-1: no answer came); 1
 * when this ejected the server. */
#define UPSET_OK	(-1)
int upset_report(struct upset *s, struct upstream_pool *pool, int kind, int64_t latency_us);
/* A request goes out to pool (counted for /metrics). */
void upset_sent(struct upstream_pool *pool);
/* The upstream's name, for logs. */
const char *upset_group_name(const struct upset *s, uint32_t group);

#endif
