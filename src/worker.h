/* worker.h: one event loop (thread) with its HTTP server, its upstream
 * pool, its token cache and its bookkeeping. Workers share only the
 * read-only configuration snapshot, the access log and the runtime. */
#ifndef SCOPEGATE_WORKER_H
#define SCOPEGATE_WORKER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "accesslog.h"
#include "cfg.h"
#include "metrics.h"
#include "ptrmap.h"
#include "tokencache.h"
#include "upset.h"
#include "upstream.h"

struct client_conn;
struct runtime;
struct tls_server;
struct worker;

/* One HTTP server per listener: libevent 2.1 sets the TLS hook per evhttp,
 * not per socket. */
struct worker_http {
	struct worker *w;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;	/* NULL once draining */
	struct tls_server *tls;			/* our reference, or NULL */
};

/* Commands another thread posts to a worker (worker_notify). */
#define WORKER_CMD_RELOAD	0x1	/* take the runtime's current snapshot */
#define WORKER_CMD_DRAIN	0x2	/* stop accepting, finish, leave the loop */

struct xwake;

struct worker {
	struct runtime *rt;
	size_t index;
	pthread_t thread;
	int started;

	struct event_base *base;
	struct xwake *xw;		/* wakes from other threads */
	struct worker_http *hs;		/* one per listener */
	size_t nhs;
	struct cfg *cf;			/* snapshot for new requests; we hold a ref */
	struct accesslog *alog;		/* shared; may be NULL */
	struct accesslog_batch *alb;	/* this worker's unwritten lines, or NULL */
	struct event *log_flush_ev;
	struct upset *ups;		/* the upstreams' pools (upset.h) */
	struct evbuffer *scratch;	/* an upstream request being written */
	struct upstream_pool **retired;	/* pools of an older upstream, until idle */
	size_t nretired;
	/* sweep_retired runs from the loop: a request can finish inside
	 * upstream.c's callbacks, which go on using the pool after them. */
	struct event *sweep_ev;
	struct tokencache *tcache;	/* verified tokens, this worker's own */
	struct introspect_client *intro;	/* opaque tokens' calls, or NULL */
	/* Requests whose token named an unknown kid, waiting for the
	 * refetch (jwks_live_wait_kid activates kid_ev). */
	TAILQ_HEAD(, proxy_req) kid_waiting;
	struct event *kid_ev;
	struct metrics_shard *metrics;	/* written by this worker only */
	struct ratelimit_redis *rlr;	/* shared rate limits' link (rlgate.h), or NULL */
	struct rlgate_name *rlnames;	/* their cells' Redis names (rlgate.c), or NULL */


	struct ptrmap *conns;		/* evhttp_connection -> struct client_conn */
	struct bufferevent **accepted;	/* new connections, referenced until attach_cb */
	size_t naccepted, accepted_cap;
	struct event *attach_ev;
	size_t inflight;		/* requests not yet completed */
	/* Connections accepted whose first request has not begun: a drain
	 * waits for them too, since their client has already been let in
	 * (their request is on its way, or in a TLS handshake); the header
	 * timeout bounds them. Closed unanswered, each would be a lost
	 * connection attempt at every restart. */
	size_t fresh;
	int draining;
	struct event *drain_timer;
	struct event *notify_ev;
	int cmd;			/* WORKER_CMD_* bits, atomic */

	/* Request bodies held in memory (max_buffered_body_bytes), and the
	 * connections waiting for room. */
	size_t body_bytes;
	TAILQ_HEAD(, client_conn) body_waiting;
	uint64_t head_body_ceiling;	/* the largest body limit of the snapshot */

	uint64_t id_prefix;		/* random, per worker */
	uint64_t id_seq;
	struct timeval header_tv;
	struct timeval write_tv;

	/* The last freed request context and gate decision, reused by the
	 * next request (proxy.c): both are over 1 KB, past glibc's per-thread
	 * cache, and every malloc of that size consolidated the fast bins. */
	struct proxy_req *spare_pr;
	struct gate_decision *spare_gd;
};

/* Set up the worker's loop, HTTP server and listeners (the runtime's
 * sockets, shared by every worker: see listensock.h). Called on the main
 * thread; takes a reference to cf.
 * 0 or -1 (logged). */
int worker_init(struct worker *w, struct runtime *rt, size_t index, struct cfg *cf,
    struct accesslog *alog);
/* Run the loop in a new thread. 0 or -1. */
int worker_start(struct worker *w);
/* From any thread: post WORKER_CMD_* bits. */
void worker_notify(struct worker *w, int cmd);
/* Wait for the thread, then free everything. */
void worker_join(struct worker *w);

/* Log one request (batched: written at the end of this loop pass). */
void worker_log(struct worker *w, const struct accesslog_entry *e);

/* A request waiting for a key set refetch ends (proxy.c, when it
 * completes): no more waiting. */
void worker_kid_done(struct worker *w, struct proxy_req *pr);

/* Called by a request when it completes, whatever the outcome. */
void worker_request_done(struct worker *w);

/* The body of an allowed request was read whole by the guard (or there
 * is none): the body rules, then forward. */
struct proxy_req;
void worker_admit_body(struct worker *w, struct proxy_req *pr);
/* The head was allowed and its rate limits (rlgate.h) too: refuse what
 * the head refused, else read the body or forward. */
void worker_admit_limited(struct worker *w, struct proxy_req *pr);

#endif
