/* healthcheck.h: active health checks of named upstreams' servers. They
 * run from one place, the main thread's event loop, never in a worker:
 * each checked server gets a GET of its upstream's health_check path every
 * interval_ms on the gateway's own HTTP client (upstream.h, so https
 * servers are checked over TLS as requests go to them). The verdict is
 * the server's /metrics entry (upstats.h): one atomic flag that every
 * worker's balancer reads (upset.c) and that survives reloads, as the
 * entry does. */
#ifndef SCOPEGATE_HEALTHCHECK_H
#define SCOPEGATE_HEALTHCHECK_H

#include <stddef.h>

#include <event2/event.h>

#include "cfg.h"

struct hcheck;
struct upstats;

struct hcheck *hcheck_new(struct event_base *base, struct upstats *stats);
/* Check what cf says from now on (at start and after each reload, main
 * thread): checks of the previous configuration stop, those of cf start
 * at once; servers checked in both keep their verdict. Holds a reference
 * to cf. */
void hcheck_bind(struct hcheck *h, struct cfg *cf);
void hcheck_free(struct hcheck *h);

/* /readyz: 0 when every upstream with routes (the default included) has
 * a server its health check does not hold down, else -1 with why naming
 * the first that has none. Upstreams without checks count as ready. */
int hcheck_ready(struct upstats *stats, const struct cfg *cf, char *why, size_t len);

#endif
