/* upstream.h: a per-worker pool of keep-alive connections to the upstream
 * service (evhttp client connections). */
#ifndef SCOPEGATE_UPSTREAM_H
#define SCOPEGATE_UPSTREAM_H

#include <event2/event.h>
#include <event2/http.h>

#include "cfg.h"

struct upstream_conn {
	struct evhttp_connection *evcon;
	unsigned busy;		/* requests queued or in flight on it */
};

struct upstream_pool;

struct upstream_pool *upstream_pool_new(struct event_base *base,
    const struct cfg_upstream *cu);
void upstream_pool_free(struct upstream_pool *pool);

/* An idle connection, a new one while under the limit, or else the least
 * busy (evhttp queues requests on a connection in order). Never NULL. */
struct upstream_conn *upstream_pool_get(struct upstream_pool *pool);
void upstream_pool_put(struct upstream_pool *pool, struct upstream_conn *uc);

int upstream_pool_is_tls(const struct upstream_pool *pool);

/* Non-zero when no request uses any of the pool's connections. */
int upstream_pool_idle(const struct upstream_pool *pool);

/* "host:port" for Host headers and logs. */
const char *upstream_pool_authority(const struct upstream_pool *pool);

#endif
