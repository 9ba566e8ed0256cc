/* jwks_fetch.h: key sets fetched from identity providers at run time.
 *
 * A token_config with remote entries ("jwks_url", "issuer_discovery") owns a
 * jwks_live: the key set workers verify with, i.e. the local keys followed
 * by every remote set in force, published as a refcounted view by one
 * pointer swap under a lock. The fetching itself lives in a jwks_registry
 * on the main thread's event loop, with the gateway's own HTTP client
 * (upstream.c) and TLS client (tls_client.c): workers never wait on it.
 * The registry keeps one source per distinct remote entry; a reload that
 * keeps an entry unchanged keeps its source, so the set in force, its ETag
 * and the refresh schedule survive the reload, and a fetch that completes
 * after the reload updates the new snapshot. */
#ifndef SCOPEGATE_JWKS_FETCH_H
#define SCOPEGATE_JWKS_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "keys.h"

struct jwks_live;
struct jwks_view;
struct jwks_registry;
struct token_config;

/* Worker side. */

/* An empty live set: until a registry binds it, verification uses the
 * local keys alone (as in -t and explain). */
struct jwks_live *jwks_live_new(void);
void jwks_live_free(struct jwks_live *l);
/* The keys to verify with now and their generation, with a reference on
 * *view (NULL while nothing was published: then the local keys). */
const struct keys *jwks_live_acquire(struct jwks_live *l, const struct keys *local,
    struct jwks_view **view, uint64_t *gen);
void jwks_view_release(struct jwks_view *v);
/* A token named a kid no key has: ask the main loop for one refetch (it
 * applies the cooldown and runs one fetch per source for all workers). */
void jwks_live_unknown_kid(struct jwks_live *l, time_t now);
/* The same, for a request that waits for the refetch: ev (the worker's,
 * on its loop) is activated once no fetch of the live set is in progress
 * any more (at once when every source is in its cooldown). 0 when no
 * registry fetches for l (then there is nothing to wait for). */
int jwks_live_wait_kid(struct jwks_live *l, struct event *ev);

/* Main thread. */

struct jwks_registry *jwks_registry_new(struct event_base *base);
/* Stop every fetch and free; call after the workers stopped. */
void jwks_registry_free(struct jwks_registry *r);
/* Make tc's remote entries the ones fetched (tc may be NULL or have none):
 * sources of equal entries are kept, new ones load their cache_file and
 * start fetching, others are dropped; tc's view is published. */
void jwks_registry_bind(struct jwks_registry *r, struct token_config *tc);
/* At start: run the loop until every source's first fetch ended or its
 * fetch_timeout_ms passed; sources still without a set use their
 * cache_file. -1 (logged) when one has neither. */
int jwks_registry_wait_initial(struct jwks_registry *r);
/* 0 when every source has a set in force; else -1 and why (JSON-safe). */
int jwks_registry_ready(struct jwks_registry *r, char *why, size_t len);
/* Prometheus text of the fetch counters and set ages; the caller frees. */
char *jwks_registry_metrics(struct jwks_registry *r, time_t now);

#endif
