/* runtime.h: the process: the current configuration snapshot, the worker
 * threads, and the main thread's loop that handles signals (stop, reload,
 * reopen logs) and the admin listener. */
#ifndef SCOPEGATE_RUNTIME_H
#define SCOPEGATE_RUNTIME_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "accesslog.h"
#include "cfg.h"
#include "metrics.h"

struct worker;

struct runtime {
	const char *conffile;
	struct event_base *base;	/* main thread */
	pthread_mutex_t lock;		/* guards current */
	struct cfg *current;		/* the snapshot new requests get */
	uint64_t generation;
	struct accesslog *alog;
	struct worker *workers;
	size_t nworkers;
	int running;			/* workers still in their loop (atomic) */
	int connections;		/* client connections (atomic, all workers) */
	struct metrics_globals mg;	/* reloads, generation (main thread) */
	struct admin *admin;
	/* Revoked token ids: opened once at start (a changed "revocations"
	 * section needs a restart), shared by every worker. */
	struct revoke_store *revocations;
	struct revoke_redis *redis;
	/* Rate-limit counters: made once at start, kept across reloads (a
	 * reload may change the rate, the burst and the key; max_keys needs a
	 * restart), shared by every worker. */
	struct ratelimit *ratelimit;
	struct event *compact_timer;
	/* Snapshots whose last reference a worker dropped, freed here on
	 * the main thread (runtime_cfg_release). */
	pthread_mutex_t retired_lock;
	struct cfg **retired;
	size_t nretired;
	struct event *retire_ev;
	/* Key sets fetched from identity providers (jwks_fetch.h): bound
	 * to each new snapshot, fetched on this thread's loop. */
	struct jwks_registry *jwks;
};

/* Start everything from an already loaded configuration (ownership of cf
 * passes to the runtime) and serve until stopped. Returns the exit status. */
int runtime_run(const char *conffile, struct cfg *cf, struct accesslog *alog);

/* The current snapshot, with a reference the caller drops (cfg_unref). */
struct cfg *runtime_acquire(struct runtime *rt);

/* Drop a worker's reference to cf. The last one does not free it there:
 * freeing a policy and its compiled schemas takes a while, and the
 * worker's requests would wait; the main thread does it. */
void runtime_cfg_release(struct runtime *rt, struct cfg *cf);

/* Load the configuration again and publish it, or keep the current one and
 * log every error. Returns 0 or -1. */
int runtime_reload(struct runtime *rt);

/* The Prometheus text of every worker's metrics; the caller frees. */
char *runtime_metrics_text(struct runtime *rt);

struct evhttp_request;
/* The admin revocation endpoints (GET/POST /revocations, DELETE
 * /revocations/{id}). */
void runtime_admin_revocations(struct runtime *rt, struct evhttp_request *req);

/* A worker left its loop (called on that worker's thread). */
void runtime_worker_exited(struct runtime *rt);

#endif
