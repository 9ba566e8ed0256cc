/* upstream.c: see upstream.h. An evhttp_connection reconnects by itself
 * when the upstream closed it, so pool slots are created once and reused
 * for the life of the worker. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "log.h"
#include "tls.h"
#include "upstream.h"
#include "xmalloc.h"

struct upstream_pool {
	struct event_base *base;
	char *host;
	uint16_t port;
	char authority[300];
	struct timeval timeout;
	struct tls_client *tls;		/* https upstream: shared, refcounted */
	struct upstream_conn *conns;
	size_t n;
	size_t max;
};

struct upstream_pool *
upstream_pool_new(struct event_base *base, const struct cfg_upstream *cu)
{
	struct upstream_pool *pool = xcalloc(1, sizeof(*pool));

	pool->base = base;
	pool->host = xstrdup(cu->host);
	pool->port = cu->port;
	snprintf(pool->authority, sizeof(pool->authority),
	    strchr(cu->host, ':') ? "[%s]:%u" : "%s:%u", cu->host, (unsigned)cu->port);
	pool->timeout.tv_sec = cu->timeout_ms / 1000;
	pool->timeout.tv_usec = (cu->timeout_ms % 1000) * 1000;
	pool->max = (size_t)cu->max_connections;
	if (cu->tls != NULL)
		pool->tls = tls_client_ref(cu->tls->client);
	pool->conns = xcalloc(pool->max, sizeof(*pool->conns));
	return pool;
}

void
upstream_pool_free(struct upstream_pool *pool)
{
	if (pool == NULL)
		return;
	for (size_t i = 0; i < pool->n; i++)
		evhttp_connection_free(pool->conns[i].evcon);
	free(pool->conns);
	free(pool->host);
	if (pool->tls != NULL)
		tls_client_free(pool->tls);
	free(pool);
}

static struct upstream_conn *
pool_add(struct upstream_pool *pool)
{
	struct upstream_conn *uc = &pool->conns[pool->n];

	uc->evcon = pool->tls != NULL ?
	    tls_upstream_connection_new(pool->tls, pool->base, pool->host, pool->port) :
	    evhttp_connection_base_new(pool->base, NULL, pool->host, pool->port);
	if (uc->evcon == NULL)
		fatalx("cannot create upstream connection to %s", pool->authority);
	/* One timer covers connect and each wait for the upstream; when it
	 * fires the request fails with EVREQ_HTTP_TIMEOUT (answered 504). */
	evhttp_connection_set_timeout_tv(uc->evcon, &pool->timeout);
	evhttp_connection_set_retries(uc->evcon, 0);
	pool->n++;
	return uc;
}

struct upstream_conn *
upstream_pool_get(struct upstream_pool *pool)
{
	struct upstream_conn *best = NULL;

	for (size_t i = 0; i < pool->n; i++) {
		if (pool->conns[i].busy == 0) {
			best = &pool->conns[i];
			break;
		}
		if (best == NULL || pool->conns[i].busy < best->busy)
			best = &pool->conns[i];
	}
	if ((best == NULL || best->busy > 0) && pool->n < pool->max)
		best = pool_add(pool);
	best->busy++;
	return best;
}

void
upstream_pool_put(struct upstream_pool *pool, struct upstream_conn *uc)
{
	(void)pool;
	if (uc->busy > 0)
		uc->busy--;
}

const char *
upstream_pool_authority(const struct upstream_pool *pool)
{
	return pool->authority;
}

int
upstream_pool_idle(const struct upstream_pool *pool)
{
	for (size_t i = 0; i < pool->n; i++)
		if (pool->conns[i].busy > 0)
			return 0;
	return 1;
}

int
upstream_pool_is_tls(const struct upstream_pool *pool)
{
	return pool->tls != NULL;
}
