/* rlgate.c: see rlgate.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "cfg.h"
#include "gate.h"
#include "log.h"
#include "proxy.h"
#include "ratelimit.h"
#include "ratelimit_redis.h"
#include "ratelimits.h"
#include "rlgate.h"
#include "runtime.h"
#include "worker.h"
#include "xmalloc.h"

/* A request waiting for Redis (pr->rlw), freed when its answer comes (or
 * "no answer": the link went, or its shared_timeout_ms passed), or when
 * the request goes away first (its call cancelled). */
struct rlgate_wait {
	struct worker *w;
	struct proxy_req *pr;
	struct ratelimit_redis_call *call;
	struct ratelimits_result local;	/* what the local limits said */
	size_t nlocal;
	size_t n;			/* shared hits */
	struct ratelimits_hit hits[];	/* local ones, then shared ones */
};

static uint64_t g_shared, g_fallback, g_outage_denied;

/* The Redis names of the cells a worker used lately. A name is a SHA-256
 * of the key (ratelimits_redis_key), which cost a third of what a shared
 * limit added to a request, for the same few subjects or clients over and
 * over: a direct-mapped table by limit id, key kind and key bytes, whose
 * entries hold those inputs whole (a hit compares them all, and the
 * prefix, which a reload may change). */
#define RLNAME_SLOTS	256
#define RLNAME_MAX	128		/* a prefix of up to 73 bytes */
struct rlgate_name {
	char id[16];
	char kind;
	size_t len;
	char key[RATELIMITS_KEY_MAX];
	size_t plen;			/* of the prefix, at the name's start */
	size_t nlen;			/* of the name; 0: empty */
	char name[RLNAME_MAX];
};
/* What follows the prefix in a name: ":rl:", the 16 of the id, ":", 32
 * hex digits (ratelimits.h). */
#define RLNAME_SUFFIX	(4 + 16 + 1 + 32)

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* RateLimit-Limit/-Remaining/-Reset (draft-ietf-httpapi-ratelimit-headers):
 * the most constrained limit; Reset in whole seconds, rounded up. Marked
 * on pr, so that the upstream's own of that family are not passed on
 * (proxy.c): the client is to see one account of the limit, ours. */
static void
add_headers(struct proxy_req *pr, const struct ratelimits_result *res)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(pr->req);
	char v[24];

	if (!pr->cf->ratelimits->headers || res->limit == 0)
		return;
	snprintf(v, sizeof(v), "%u", res->limit);
	evhttp_add_header(out, "RateLimit-Limit", v);
	snprintf(v, sizeof(v), "%u", res->remaining);
	evhttp_add_header(out, "RateLimit-Remaining", v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)((res->reset_us + 999999) / 1000000));
	evhttp_add_header(out, "RateLimit-Reset", v);
	pr->rl_headers = 1;
}

static void
refuse_429(struct proxy_req *pr, const struct ratelimits_result *res)
{
	uint64_t retry = (res->retry_after_us + 999999) / 1000000;
	char secs[24];

	snprintf(secs, sizeof(secs), "%llu", (unsigned long long)(retry > 0 ? retry : 1));
	evhttp_add_header(evhttp_request_get_output_headers(pr->req), "Retry-After", secs);
	add_headers(pr, res);
	pr->decision = "deny";
	pr->reason = "rate_limited";
	proxy_reply_error(pr, 429, "TooManyRequests",
	    "Too many requests: the rate limit is exceeded", NULL);
}

/* Give back what the local limits took (the request was refused later). */
static void
refund_local(struct worker *w, const struct ratelimits_hit *hits, size_t n,
    const uint32_t *divide)
{
	char k[17 + RATELIMITS_KEY_MAX];

	for (size_t i = 0; i < n; i++) {
		uint32_t div = divide != NULL && divide[i] > 1 ? divide[i] : 1;

		memcpy(k, hits[i].lim->id, 16);
		k[16] = hits[i].kind;
		memcpy(k + 17, hits[i].key, hits[i].len);
		ratelimit_refund(w->rt->ratelimit, 'L', k, 17 + hits[i].len,
		    hits[i].lim->interval_us * div);
	}
}

/* Fold b into a (both allowed): the least remaining wins. */
static void
merge(struct ratelimits_result *a, const struct ratelimits_result *b)
{
	if (b->limit != 0 && (a->limit == 0 || b->remaining < a->remaining ||
	    (b->remaining == a->remaining && b->reset_us > a->reset_us))) {
		a->limit = b->limit;
		a->remaining = b->remaining;
		a->reset_us = b->reset_us;
	}
}

/* Each shared hit's fallback divisor: its expected_instances. */
static void
fallback_divide(const struct ratelimits_hit *sh, size_t n, uint32_t *divide)
{
	for (size_t i = 0; i < n; i++)
		divide[i] = (uint32_t)sh[i].lim->expected_instances;
}

/* The shared hits sh (n) could not be asked: on_outage deny refuses with
 * 503, else each counts locally at rate / expected_instances, in the
 * cell that every request Redis admitted here was charged to as well
 * (decide): a request without an answer in time gets only what is left
 * of this instance's share, never a second budget beside Redis's. Returns
 * 1 when the request was answered. */
static int
fallback(struct worker *w, struct proxy_req *pr, const struct ratelimits_hit *local,
    size_t nlocal, const struct ratelimits_hit *sh, size_t n, struct ratelimits_result *res)
{
	uint32_t divide[SG_RATE_LIMITS_MAX];
	struct ratelimits_result fb;

	__atomic_add_fetch(&g_fallback, 1, __ATOMIC_RELAXED);
	for (size_t i = 0; i < n; i++) {
		if (sh[i].lim->deny_on_outage) {
			__atomic_add_fetch(&g_outage_denied, 1, __ATOMIC_RELAXED);
			refund_local(w, local, nlocal, NULL);
			pr->decision = "deny";
			pr->reason = "rate_limit_unavailable";
			proxy_reply_error(pr, 503, "ServiceUnavailable",
			    "The shared rate limit cannot be checked now; try again later", NULL);
			return 1;
		}
	}
	fallback_divide(sh, n, divide);
	ratelimits_take_local(w->rt->ratelimit, sh, n, divide, now_us(), &fb);
	if (!fb.allow) {
		refund_local(w, local, nlocal, NULL);
		refuse_429(pr, &fb);
		return 1;
	}
	merge(res, &fb);
	return 0;
}

/* The shared answer (cells, or NULL: none in time) for a waiting
 * request: refuse, or go on. */
static void
decide(struct rlgate_wait *wt, const struct rlanswer_cell *cells)
{
	struct proxy_req *pr = wt->pr;
	struct worker *w = wt->w;
	const struct ratelimits_hit *sh = wt->hits + wt->nlocal;
	struct ratelimits_result res = wt->local, r2;
	uint32_t divide[SG_RATE_LIMITS_MAX];

	pr->rlw = NULL;
	if (cells == NULL) {
		if (fallback(w, pr, wt->hits, wt->nlocal, sh, wt->n, &res))
			return;
	} else {
		__atomic_add_fetch(&g_shared, 1, __ATOMIC_RELAXED);
		ratelimits_result_init(&r2);
		for (size_t i = 0; i < wt->n; i++)
			ratelimits_result_add(&r2, i, sh[i].lim->burst, cells[i].ok, cells[i].wait_us,
			    cells[i].remaining);
		if (!r2.allow) {
			refund_local(w, wt->hits, wt->nlocal, NULL);
			refuse_429(pr, &r2);
			return;
		}
		/* Admitted: charged to the fallback's cells too (never refused
		 * there), which so hold this instance's recent traffic. Else a
		 * request answered late (a long loop pass, a slow Redis) would
		 * fall back to a budget that no admitted request ever spent,
		 * and a burst sent at once would get twice the limit. */
		fallback_divide(sh, wt->n, divide);
		ratelimits_charge_local(w->rt->ratelimit, sh, wt->n, divide, now_us());
		merge(&res, &r2);
	}
	add_headers(pr, &res);
	worker_admit_limited(w, pr);
}

static void
on_answer(void *arg, const struct rlanswer_cell *cells, size_t n)
{
	struct rlgate_wait *wt = arg;

	decide(wt, n == wt->n ? cells : NULL);
	free(wt);
}

/* h's cell name under prefix (plen bytes, plen + RLNAME_SUFFIX <
 * RLNAME_MAX) into out (RLNAME_MAX bytes): the same as
 * ratelimits_redis_key. */
static void
cell_name(struct worker *w, const char *prefix, size_t plen, const struct ratelimits_hit *h,
    char *out)
{
	uint64_t x = 14695981039346656037ULL;	/* FNV-1a */
	struct rlgate_name *e;

	for (size_t i = 0; i < 16; i++)
		x = (x ^ (unsigned char)h->lim->id[i]) * 1099511628211ULL;
	x = (x ^ (unsigned char)h->kind) * 1099511628211ULL;
	for (size_t i = 0; i < h->len; i++)
		x = (x ^ (unsigned char)h->key[i]) * 1099511628211ULL;
	if (w->rlnames == NULL)
		w->rlnames = xcalloc(RLNAME_SLOTS, sizeof(*w->rlnames));
	e = &w->rlnames[x % RLNAME_SLOTS];
	if (e->nlen == 0 || e->kind != h->kind || e->len != h->len || e->plen != plen ||
	    memcmp(e->id, h->lim->id, 16) != 0 || memcmp(e->key, h->key, h->len) != 0 ||
	    memcmp(e->name, prefix, plen) != 0) {
		memcpy(e->id, h->lim->id, 16);
		e->kind = h->kind;
		e->len = h->len;
		memcpy(e->key, h->key, h->len);
		e->plen = plen;
		e->nlen = ratelimits_redis_key(prefix, h, e->name, sizeof(e->name));
		if (e->nlen >= sizeof(e->name))
			fatalx("rate limits: a cell name is longer than expected");
	}
	memcpy(out, e->name, e->nlen + 1);
}

int
rlgate_check(struct worker *w, struct proxy_req *pr, const struct gate_decision *d,
    const json_t *claims)
{
	const struct ratelimits *rls = pr->cf->ratelimits;
	struct ratelimits_hit hits[SG_RATE_LIMITS_MAX], *sorted;
	char ckey[RATELIMIT_CLIENT_KEY_MAX];
	struct ratelimits_request rq = {
		.method = policy_method_parse(pr->method, strlen(pr->method)),
		.match = &d->match,
		.subject = d->subject,
		.token_id = d->token_id,
		.claims = claims,
	};
	struct ratelimits_result res;
	struct rlgate_wait *wt;
	size_t n, nlocal = 0, nshared = 0;
	int64_t wait_ms = 0;
	int rc = 1;

	rq.client_len = ratelimit_client_key(pr->client_ip,
	    (unsigned)pr->cf->rate_limit.ipv6_prefix, ckey);
	rq.client = ckey;
	if ((n = ratelimits_match(rls, &rq, hits, SG_RATE_LIMITS_MAX)) == 0)
		return 0;
	/* Local ones first (decided now), shared ones after them. */
	wt = xcalloc(1, sizeof(*wt) + n * sizeof(wt->hits[0]));
	sorted = wt->hits;
	for (size_t i = 0; i < n; i++)
		if (!hits[i].lim->shared)
			sorted[nlocal++] = hits[i];
	for (size_t i = 0; i < n; i++)
		if (hits[i].lim->shared) {
			sorted[nlocal + nshared++] = hits[i];
			if (hits[i].lim->shared_timeout_ms > wait_ms)
				wait_ms = hits[i].lim->shared_timeout_ms;
		}
	ratelimits_take_local(w->rt->ratelimit, sorted, nlocal, NULL, now_us(), &res);
	if (!res.allow) {
		refuse_429(pr, &res);
		goto out;
	}
	if (nshared > 0) {
		char *keys[SG_RATE_LIMITS_MAX];
		char names[SG_RATE_LIMITS_MAX][RLNAME_MAX];
		uint64_t iv[SG_RATE_LIMITS_MAX];
		uint32_t burst[SG_RATE_LIMITS_MAX];
		const char *prefix = pr->cf->revocations->redis_key;
		size_t plen = strlen(prefix);

		for (size_t i = 0; i < nshared; i++) {
			const struct ratelimits_hit *h = &sorted[nlocal + i];

			if (plen + RLNAME_SUFFIX < RLNAME_MAX) {
				cell_name(w, prefix, plen, h, names[i]);
				keys[i] = names[i];
			} else {
				size_t len = ratelimits_redis_key(prefix, h, NULL, 0) + 1;

				keys[i] = xmalloc(len);
				ratelimits_redis_key(prefix, h, keys[i], len);
			}
			iv[i] = h->lim->interval_us;
			burst[i] = h->lim->burst;
		}
		wt->w = w;
		wt->pr = pr;
		wt->local = res;
		wt->nlocal = nlocal;
		wt->n = nshared;
		wt->call = ratelimit_redis_eval(w->rlr, keys, iv, burst, nshared, wait_ms,
		    on_answer, wt);
		for (size_t i = 0; i < nshared; i++)
			if (keys[i] != names[i])
				free(keys[i]);
		if (wt->call != NULL) {
			pr->rlw = wt;
			return 1;	/* on_answer frees wt */
		}
		if (fallback(w, pr, sorted, nlocal, sorted + nlocal, nshared, &res))
			goto out;
	}
	add_headers(pr, &res);
	rc = 0;
out:
	free(wt);
	return rc;
}

void
rlgate_abandon(struct proxy_req *pr)
{
	struct rlgate_wait *wt = pr->rlw;

	if (wt == NULL)
		return;
	pr->rlw = NULL;
	ratelimit_redis_cancel(wt->call);
	free(wt);
}

void
rlgate_configure(struct worker *w)
{
	const struct cfg *cf = w->cf;
	/* The Redis endpoint the process started with, as for revocations: a
	 * reload that moves it is "restart needed" (runtime.c), and shared
	 * limits moving alone would leave instances counting in two places
	 * until every one of them had reloaded. */
	const struct revoke_config *rc = w->rt->boot.revocations;
	int want = cf->ratelimits != NULL && cf->ratelimits->nshared > 0;

	if (want && ratelimit_redis_same(w->rlr, rc))
		return;
	ratelimit_redis_free(w->rlr);
	w->rlr = want ? ratelimit_redis_new(w->base, rc) : NULL;
}

void
rlgate_worker_free(struct worker *w)
{
	ratelimit_redis_free(w->rlr);
	w->rlr = NULL;
	free(w->rlnames);
	w->rlnames = NULL;
}

void
rlgate_get_stats(struct rlgate_stats *out)
{
	struct ratelimit_redis_stats rs;

	ratelimit_redis_get_stats(&rs);
	out->shared = __atomic_load_n(&g_shared, __ATOMIC_RELAXED);
	out->fallback = __atomic_load_n(&g_fallback, __ATOMIC_RELAXED);
	out->outage_denied = __atomic_load_n(&g_outage_denied, __ATOMIC_RELAXED);
	out->links_up = rs.links_up;
	out->outages = rs.outages;
}
