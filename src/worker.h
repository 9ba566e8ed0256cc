/* worker.h: one event loop with its HTTP server, its upstream pool and its
 * bookkeeping. Issue 6 runs one per core; everything a request needs is
 * reached from its worker, so there are no hidden globals. */
#ifndef SCOPEGATE_WORKER_H
#define SCOPEGATE_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "accesslog.h"
#include "cfg.h"
#include "ptrmap.h"
#include "tokencache.h"
#include "upstream.h"

struct worker {
	struct event_base *base;
	struct evhttp *http;
	const struct cfg *cf;		/* the snapshot requests are served with */
	struct accesslog *alog;		/* shared; may be NULL */
	struct upstream_pool *pool;
	struct tokencache *tcache;	/* verified tokens, this worker's own */

	struct evhttp_bound_socket **bound;
	size_t nbound;
	int accepting;

	struct ptrmap *conns;		/* evhttp_connection -> struct client_conn */
	size_t inflight;		/* requests not yet completed */
	int draining;
	struct event *drain_timer;

	uint64_t id_prefix;		/* random, per worker */
	uint64_t id_seq;
	struct timeval header_tv;
	struct timeval write_tv;
};

/* Bind the listeners and set up the HTTP server. 0 or -1 (logged). */
int worker_init(struct worker *w, struct event_base *base, const struct cfg *cf,
    struct accesslog *alog);
void worker_free(struct worker *w);

/* Stop accepting, let in-flight requests finish within the configured
 * grace period, then leave the event loop. */
void worker_drain(struct worker *w);

/* Called by a request when it completes, whatever the outcome. */
void worker_request_done(struct worker *w);

#endif
