/* ratelimits.h: several rate limits, chosen per action ("rate_limits" in
 * the configuration), and the decision they make for one request.
 *
 * Each limit matches requests by action (globs over the policy's action
 * names) and method, counts them under a key (the client address, the
 * token's subject or id, a claim, or a path parameter), and allows
 * `burst` at once then one per interval (GCRA, as ratelimit.h). A request
 * counts against every limit that matches it; when one refuses, the
 * first that refuses (in file order) decides and the request counts
 * against none (all or nothing). A limit is kept in this process
 * (scope local) or in Redis, shared by every instance (scope shared,
 * ratelimit_redis.h); the decision over a local table is here, pure: the
 * caller passes the time. The old single "rate_limit" object is another
 * thing (cfg.h) and stays as it was. */
#ifndef SCOPEGATE_RATELIMITS_H
#define SCOPEGATE_RATELIMITS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jsonconf.h"
#include "policy.h"

struct ratelimit;

enum ratelimits_key {
	RATELIMITS_KEY_CLIENT,
	RATELIMITS_KEY_SUBJECT,
	RATELIMITS_KEY_TOKEN_ID,
	RATELIMITS_KEY_CLAIM,
	RATELIMITS_KEY_PARAM,
};

struct ratelimits_limit {
	size_t index;			/* position in "rate_limits" */
	unsigned char *actions;		/* one byte per policy action: matches */
	int any_action;			/* no "actions": every request */
	unsigned methods;		/* (1 << policy_method) bits; 0: any */
	enum ratelimits_key key;
	char *name;			/* claim or parameter name, or NULL */
	uint64_t interval_us;		/* one request per this, on average */
	uint32_t burst;			/* requests that may come at once */
	int shared;			/* scope: shared (Redis) */
	int deny_on_outage;		/* on_outage: deny (503) */
	int64_t expected_instances;	/* fallback: interval * this */
	int64_t shared_timeout_ms;	/* the longest wait for Redis */
	/* Stable across instances with the same limit (a digest of its
	 * definition): names its cells in Redis. */
	char id[17];
};

struct ratelimits {
	struct ratelimits_limit *v;
	size_t n;
	size_t nshared;			/* of them, scope shared */
	int headers;			/* rate_limit_headers: RateLimit-* fields */
};

/* Parse the "rate_limits" array a (may be NULL: none) at ptr (e.g.
 * "/rate_limits") against policy p (NULL: passthrough, no action can be
 * named). have_redis says whether revocations.redis is configured (scope
 * shared needs it). Every problem goes to jc at its pointer. Returns the
 * limits (NULL when there are none or on errors). */
struct ratelimits *ratelimits_parse(struct jsonconf *jc, const json_t *a, const char *ptr,
    const struct policy *p, int have_redis);
void ratelimits_free(struct ratelimits *rls);

/* What one request offers to key limits by. Strings may be NULL (no
 * token: a public action); claims may be NULL. */
struct ratelimits_request {
	enum policy_method method;
	const struct policy_match *match;	/* the route (params), or NULL */
	const char *client;		/* the client address key (ratelimit_client_key) */
	size_t client_len;
	const char *subject;
	const char *token_id;
	const json_t *claims;
};

/* Whether a limit is keyed by a claim (only then does ratelimits_match
 * read rq->claims). */
int ratelimits_reads_claims(const struct ratelimits *rls);

/* One limit that applies to a request, with the key it counts under: the
 * limit's index, the key kind actually used (a request that lacks the
 * limit's key counts under its client address, so that leaving a claim
 * out never escapes a limit), and the key's bytes. */
#define RATELIMITS_KEY_MAX	256
struct ratelimits_hit {
	const struct ratelimits_limit *lim;
	char kind;			/* 'c' client, 's', 't', 'm' claim, 'p' param */
	size_t len;
	char key[RATELIMITS_KEY_MAX];	/* longer values: their SHA-256 */
};

/* The limits that match rq, in file order, at most cap of them into hits
 * (cap >= rls->n finds all). Returns how many. */
size_t ratelimits_match(const struct ratelimits *rls, const struct ratelimits_request *rq,
    struct ratelimits_hit *hits, size_t cap);

/* The outcome for one request. */
struct ratelimits_result {
	int allow;
	size_t refused_by;		/* index into hits of the first refusal */
	uint64_t retry_after_us;	/* refused: when it would be allowed */
	/* The most constrained limit (least remaining), for RateLimit-*. */
	uint32_t limit;			/* its burst */
	uint32_t remaining;
	uint64_t reset_us;		/* until its whole burst is back */
};

/* GCRA over hits in a local table at now_us: all or nothing (a refused
 * request is given back to the limits it was taken from). divide[i] > 1
 * divides hit i's rate (the fallback of a shared limit: rate /
 * expected_instances); divide may be NULL. */
void ratelimits_take_local(struct ratelimit *table, const struct ratelimits_hit *hits,
    size_t n, const uint32_t *divide, uint64_t now_us, struct ratelimits_result *res);

/* Count hits in the same cells as ratelimits_take_local (divide alike)
 * for a request admitted elsewhere: never refuses, a cell goes no
 * further than empty. A shared limit's fallback cell so sees what Redis
 * admitted on this instance (rlgate.c). */
void ratelimits_charge_local(struct ratelimit *table, const struct ratelimits_hit *hits,
    size_t n, const uint32_t *divide, uint64_t now_us);

/* Fold one limit's answer (allowed, retry or reset time, remaining) into
 * res, in hit order; res starts with ratelimits_result_init. */
void ratelimits_result_init(struct ratelimits_result *res);
void ratelimits_result_add(struct ratelimits_result *res, size_t i, uint32_t burst, int ok,
    uint64_t wait_us, uint32_t remaining);

/* The name of hit's cell in Redis: "<prefix>:rl:<limit id>:<hex of the
 * SHA-256 of kind and key>" (no raw token, claim or address in Redis key
 * names). Returns the length written (always NUL-terminated). */
size_t ratelimits_redis_key(const char *prefix, const struct ratelimits_hit *hit, char *out,
    size_t outsize);

#endif
