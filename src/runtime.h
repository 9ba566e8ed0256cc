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
struct upstats;
struct hcheck;
struct listensock_env;

/* At most this many settings are reported as needing a restart at once. */
#define RUNTIME_RESTART_MAX	16

/* What the process started with among the settings only a restart
 * changes. Each reload compares the file with it, not with the previous
 * reload, so a change stays reported until the restart (or until the file
 * is changed back). */
struct revoke_config;

struct runtime_boot {
	char **listeners;	/* "address port tls|plain name", one per listener */
	size_t nlisteners;
	int64_t workers;
	char *access_log;	/* NULL: none */
	char *admin;		/* "address port", NULL: none */
	int64_t rate_limit_max_keys;
	struct revoke_config *revocations;	/* journal, Redis endpoint; NULL: none */
};

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
	int stop_signal;		/* the signal that stopped it, 0 before */
	double start_time;		/* wall clock at start, for process_start_time_seconds */
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
	/* The listeners' sockets (listensock.c), one per cf->listeners[i],
	 * shared by every worker; taken out of listening once every worker
	 * has stopped accepting (stop_ev), closed at exit. */
	int *listen_fds;
	size_t nlisten_fds;
	int listen_inherited;		/* they came from systemd (socket activation) */
	int accepting;			/* workers still accepting (atomic) */
	struct event *stop_ev;
	/* limits.failed_auth_per_client budgets, one per address group, all
	 * workers: a table of its own, so that neither fills the other. */
	struct ratelimit *failed_auth;
	/* Open connections per client address group, all workers. */
	struct connlimit *connlimit;
	/* Connections closed with no request head within header_timeout_ms
	 * (a handshake or an idle keep-alive), all workers (atomic). */
	uint64_t head_timeouts;
	struct runtime_boot boot;
	/* Settings of the current file not in force until a restart, as
	 * reported by runtime_needs_restart during the last good reload. */
	const char *restart_needed[RUNTIME_RESTART_MAX];
	size_t nrestart_needed;
	/* Key sets fetched from identity providers (jwks_fetch.h): bound
	 * to each new snapshot, fetched on this thread's loop. */
	struct jwks_registry *jwks;
	struct upstats *upstats;	/* per named upstream and server (upstats.h) */
	struct hcheck *hcheck;		/* active health checks (healthcheck.h) */
};

/* Start everything from an already loaded configuration (ownership of cf
 * passes to the runtime) and serve until stopped. Returns the exit status;
 * why (whysize bytes) says why it stopped, for the daemon's last line. A
 * start that fails is logged as fatal here. lenv: the sockets systemd
 * passed (listensock_env_take), or NULL to bind the listeners; it stays
 * the caller's. */
int runtime_run(const char *conffile, struct cfg *cf, struct accesslog *alog,
    struct listensock_env *lenv, char *why, size_t whysize);

/* The current snapshot, with a reference the caller drops (cfg_unref). */
struct cfg *runtime_acquire(struct runtime *rt);

/* Drop a worker's reference to cf. The last one does not free it there:
 * freeing a policy and its compiled schemas takes a while, and the
 * worker's requests would wait; the main thread does it. */
void runtime_cfg_release(struct runtime *rt, struct cfg *cf);

/* Load the configuration again and publish it, or keep the current one and
 * log every error. Returns 0 or -1. */
int runtime_reload(struct runtime *rt);

/* During a reload (main thread): the new file changes setting what (a
 * name with static storage, e.g. "listeners"), which only a restart
 * applies. Logs it once per reload, and the reload is then reported as
 * "restart needed" (log line, notify STATUS, /metrics
 * scopegate_config_restart_required{setting}) instead of applied. */
void runtime_needs_restart(struct runtime *rt, const char *what);

/* The Prometheus text of every worker's metrics; the caller frees. */
char *runtime_metrics_text(struct runtime *rt);

struct evhttp_request;
/* The admin revocation endpoints (GET/POST /revocations, DELETE
 * /revocations/{id}). */
void runtime_admin_revocations(struct runtime *rt, struct evhttp_request *req);

/* A worker removed its listeners (draining; on that worker's thread). */
void runtime_worker_stopped_accepting(struct runtime *rt);

/* A worker left its loop (called on that worker's thread). */
void runtime_worker_exited(struct runtime *rt);

#endif
