/* metrics.h: counters for the admin /metrics endpoint, rendered in the
 * Prometheus text exposition format 0.0.4.
 *
 * Each worker thread owns one struct metrics_shard and is its only writer:
 * updates are plain single-writer increments (a relaxed atomic load and a
 * relaxed atomic store, which compile to ordinary loads and stores: no lock
 * prefix, no contention). Any thread may render a set of shards at any time;
 * it sums them with relaxed loads, so it sees each counter at some recent
 * value and never a torn one. Pure code: no libevent types. */
#ifndef SCOPEGATE_METRICS_H
#define SCOPEGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "jwt.h"

/* The Content-Type the endpoint answers with. */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* action_idx for a request that matched no action (label action="none"). */
#define METRICS_ACTION_NONE	SIZE_MAX

enum metrics_decision {
	METRICS_ALLOW,
	METRICS_DENY,
	METRICS_ERROR,
	METRICS_WOULD_DENY,	/* report mode: forwarded, the policy refuses it */
	METRICS_DECISION_COUNT
};

enum metrics_upstream_error {
	METRICS_UPSTREAM_CONNECT,	/* could not connect / send */
	METRICS_UPSTREAM_TIMEOUT,	/* no answer in time (504) */
	METRICS_UPSTREAM_RESET,		/* connection lost before the answer began */
	METRICS_UPSTREAM_ABORTED,	/* answer broke off after it began */
	METRICS_UPSTREAM_ERROR_COUNT
};

/* Histogram bucket upper bounds, in microseconds (le = 0.0005 .. 10 s). */
#define METRICS_LATENCY_BUCKETS	14
extern const uint64_t metrics_latency_bounds_us[METRICS_LATENCY_BUCKETS];

/* At least REVOKE_NSOURCES (revoke.h). */
#define METRICS_MAX_REVOKE_SOURCES	8

struct metrics_shard;

/* A certificate the gateway serves, or a CA it trusts for client
 * certificates (scopegate_tls_certificate_expiry_seconds). */
struct metrics_cert {
	const char *listener;		/* "address:port" */
	const char *kind;		/* "server" or "client_ca" */
	const char *name;		/* the file (server) or the subject (CA) */
	int64_t not_after;		/* seconds since the epoch */
};

/* A counter with two labels (TLS handshake failures by alert and side). */
struct metrics_count2 {
	const char *a, *b;
	uint64_t count;
};

/* The process_* figures (Prometheus client conventions); ok is 0 when
 * they could not be read (then none is written). */
struct metrics_process {
	int ok;
	double cpu_seconds;
	double start_time;		/* seconds since the epoch */
	uint64_t resident_bytes;
	uint64_t virtual_bytes;
	uint64_t open_fds;
	uint64_t max_fds;
};

/* Process-wide values, written by the thread that reloads (through the
 * functions below) and read by the renderer. */
struct metrics_globals {
	const char *version;		/* build_info label; borrowed */
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	uint64_t reloads_restart;	/* applied but for what needs a restart */
	uint64_t config_generation;
	uint64_t rate_limit_keys;	/* set by the caller before rendering */
	/* "rate_limits" (rlgate.h), set by the caller before rendering. */
	uint64_t rl_shared, rl_fallback, rl_outage_denied, rl_links_up, rl_outages;
	/* The revocation store, set by the caller before rendering (the
	 * number held is revocations, below). */
	uint64_t revocations_remote;	/* entries learnt from Redis */
	uint64_t revocations_refused;	/* refused: revocations.redis_max_entries */
	/* Set by the caller before rendering: connections closed at accept
	 * over limits.max_connections_per_client, and closed with no request
	 * head within header_timeout_ms. */
	uint64_t conn_refused_per_client;
	uint64_t conn_head_timeouts;
	/* The last reload (or the start, before any): 1 when everything in
	 * the file is in force, 0 when it failed or a part needs a restart;
	 * its wall-clock time in seconds since the epoch. */
	int last_reload_success;
	int64_t last_reload_time;
	/* Settings changed in the file that only a restart applies (names
	 * with static storage), set by the caller before rendering. */
	const char *const *restart_needed;
	size_t nrestart_needed;
	/* Set by the caller before rendering (the renderer reads nothing
	 * itself): the wall clock for the certificates' time to expiry, the
	 * process, certificates, TLS handshake failures, revocations held
	 * (-1: no store), the Redis link (-1: none configured, 0 down, 1 up),
	 * token verification keys in force (-1: no "tokens"). */
	int64_t now;
	struct metrics_process process;
	const struct metrics_cert *certs;
	size_t ncerts;
	const struct metrics_count2 *tls_failures;
	size_t ntls_failures;
	int64_t revocations;
	int redis_link;
	int64_t token_keys;
	/* The revocations held by who made them (source names with static
	 * storage, "delete", "operator", ...); nrevocation_sources 0: no
	 * store. */
	const char *revocation_sources[METRICS_MAX_REVOKE_SOURCES];
	int64_t revocations_by_source[METRICS_MAX_REVOKE_SOURCES];
	size_t nrevocation_sources;
};

/* How a reload ended (metrics_reload_done). */
enum metrics_reload_result {
	METRICS_RELOAD_FAILED,		/* nothing applied, old configuration kept */
	METRICS_RELOAD_OK,		/* everything applied */
	METRICS_RELOAD_RESTART_NEEDED,	/* applied except what needs a restart */
};

/* A new, zeroed shard; never NULL. Free it with metrics_shard_free once no
 * thread writes or renders it any more. */
struct metrics_shard *metrics_shard_new(void);
void metrics_shard_free(struct metrics_shard *s);

/* One completed request. action_name is copied on the first occurrence of
 * (action, decision, status) only; NULL or METRICS_ACTION_NONE mean
 * action="none". action_idx (the action's position in the policy) only
 * speeds up the lookup: the labels come from action_name, so indexes that
 * change across reloads are harmless. status is clamped to 0..999. */
void metrics_observe_request(struct metrics_shard *s, size_t action_idx,
    const char *action_name, enum metrics_decision decision, int status,
    uint64_t latency_us);

/* Report mode: a request forwarded that the policy would have refused,
 * for scopegate_would_deny_total{action,reason}. reason must be a string
 * that lives as long as the shard (the gate's reasons are literals). */
void metrics_would_deny(struct metrics_shard *s, size_t action_idx,
    const char *action_name, const char *reason);

/* "allow" -> METRICS_ALLOW, "deny" -> METRICS_DENY, "would_deny" ->
 * METRICS_WOULD_DENY, anything else (NULL,
 * "error") -> METRICS_ERROR: the access log's decision words. */
enum metrics_decision metrics_decision_from_str(const char *decision);

/* The upstream's time to answer one request (sent -> head of the answer):
 * scopegate_upstream_duration_seconds. */
void metrics_observe_upstream(struct metrics_shard *s, uint64_t latency_us);

void metrics_upstream_error(struct metrics_shard *s, enum metrics_upstream_error kind);
/* A request sent again on a new connection (a reused one was closed under
 * it before any answer): scopegate_upstream_retries_total. */
void metrics_upstream_retried(struct metrics_shard *s);

/* One presented token's verification outcome (from the cache or not). */
void metrics_token_verified(struct metrics_shard *s, enum jwt_status st);
/* A token that verified but is revoked: result="revoked". */
void metrics_token_revoked(struct metrics_shard *s);
/* Token cache lookup: hit non-zero for a hit, zero for a miss. */
void metrics_token_cache(struct metrics_shard *s, int hit);

/* Client connections of this worker (the scopegate_connections gauge is
 * the sum over the shards). */
void metrics_connection_opened(struct metrics_shard *s);
/* Bytes read from a client socket; request body bytes held (+) or let
 * go (-). */
void metrics_client_bytes_read(struct metrics_shard *s, uint64_t n);
void metrics_body_bytes_held(struct metrics_shard *s, int64_t delta);
void metrics_connection_closed(struct metrics_shard *s);

/* Reload bookkeeping on the globals (relaxed atomics: reload is rare);
 * when is the wall-clock time of the reload in seconds. */
void metrics_reload_done(struct metrics_globals *g, enum metrics_reload_result r,
    int64_t when);
void metrics_set_generation(struct metrics_globals *g, uint64_t generation);

/* Render every metric family, summing the n shards (NULL entries are
 * skipped). Returns a new NUL-terminated text the caller frees, its length
 * in *len when len is not NULL. Never NULL. */
char *metrics_render(const struct metrics_shard *const *shards, size_t n,
    const struct metrics_globals *g, size_t *len);

#endif
