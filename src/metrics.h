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

struct metrics_shard;

/* Process-wide values, written by the thread that reloads (through the
 * functions below) and read by the renderer. */
struct metrics_globals {
	const char *version;		/* build_info label; borrowed */
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	uint64_t config_generation;
	uint64_t rate_limit_keys;	/* set by the caller before rendering */
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

/* "allow" -> METRICS_ALLOW, "deny" -> METRICS_DENY, anything else (NULL,
 * "error") -> METRICS_ERROR: the access log's decision words. */
enum metrics_decision metrics_decision_from_str(const char *decision);

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

/* Reload bookkeeping on the globals (relaxed atomics: reload is rare). */
void metrics_reload_done(struct metrics_globals *g, int ok);
void metrics_set_generation(struct metrics_globals *g, uint64_t generation);

/* Render every metric family, summing the n shards (NULL entries are
 * skipped). Returns a new NUL-terminated text the caller frees, its length
 * in *len when len is not NULL. Never NULL. */
char *metrics_render(const struct metrics_shard *const *shards, size_t n,
    const struct metrics_globals *g, size_t *len);

#endif
