/* upset.c: see upset.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "upset.h"
#include "upstats.h"
#include "xmalloc.h"

struct upset_group {
	char *name;
	int outlier;			/* its servers may be ejected */
	int health;			/* its servers have active health checks */
	enum balance_kind kind;
	size_t n;
	struct upstream_pool **pools;
	struct balance_peer *peers;
};

struct upset {
	struct event_base *base;
	struct upstats *stats;
	size_t worker;
	struct upset_group *groups;
	size_t ngroups;
	uint64_t rnd;			/* least_request's draws */
};

static void
group_init(struct upset_group *ug, const struct cfg_upstream_group *g)
{
	ug->name = xstrdup(g->name);
	ug->kind = (enum balance_kind)g->balance;
	ug->n = g->nservers;
	/* Not for the shorthand: its pool has no /metrics entry to read. */
	ug->health = g->health != NULL && !g->shorthand;
	ug->pools = xcalloc(ug->n, sizeof(*ug->pools));
	ug->peers = xcalloc(ug->n, sizeof(*ug->peers));
	for (size_t i = 0; i < ug->n; i++) {
		ug->peers[i].weight = g->weights[i];
		ug->outlier |= g->servers[i]->outlier_failures > 0;
	}
}

static void
group_free(struct upset_group *ug)
{
	/* No pools when they moved to a newer set (upset_reload). */
	for (size_t i = 0; ug->pools != NULL && i < ug->n; i++)
		if (ug->pools[i] != NULL)
			upstream_pool_free(ug->pools[i]);
	free(ug->pools);
	free(ug->peers);
	free(ug->name);
}

static struct upset *
set_alloc(struct event_base *base, const struct cfg *cf, struct upstats *stats, size_t worker)
{
	struct upset *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->stats = stats;
	s->worker = worker;
	s->ngroups = cf->ups.ngroups;
	s->groups = xcalloc(s->ngroups > 0 ? s->ngroups : 1, sizeof(*s->groups));
	/* Only spreads the draws; not a secret. */
	s->rnd = (uint64_t)(uintptr_t)s ^ (uint64_t)cf->generation;
	return s;
}

/* A server's pool, with its /metrics entry (not for the shorthand,
 * whose figures are the gateway-wide upstream ones). */
static struct upstream_pool *
pool_new(struct upset *s, const struct cfg_upstream_group *cg, size_t i)
{
	struct upstream_pool *pool = upstream_pool_new(s->base, cg->servers[i]);

	if (!cg->shorthand && s->stats != NULL) {
		struct upstats_server *st = upstats_get(s->stats, cg->name,
		    cg->servers[i]->label != NULL ? cg->servers[i]->label : cg->servers[i]->url);
		upstream_pool_set_user(pool, st);
		upstream_pool_set_conn_gauge(pool, upstats_conn_gauge(st));
	}
	return pool;
}

struct upset *
upset_new(struct event_base *base, const struct cfg *cf, struct upstats *stats, size_t worker)
{
	struct upset *s = set_alloc(base, cf, stats, worker);

	for (size_t g = 0; g < s->ngroups; g++) {
		const struct cfg_upstream_group *cg = &cf->ups.groups[g];
		group_init(&s->groups[g], cg);
		for (size_t i = 0; i < cg->nservers; i++)
			s->groups[g].pools[i] = pool_new(s, cg, i);
	}
	return s;
}

struct upset *
upset_reload(struct upset *old, const struct cfg *old_cf, const struct cfg *cf,
    void (*retire)(void *arg, struct upstream_pool *pool), void *arg)
{
	struct upset *s = set_alloc(old->base, cf, old->stats, old->worker);

	for (size_t g = 0; g < s->ngroups; g++) {
		const struct cfg_upstream_group *cg = &cf->ups.groups[g];
		struct upset_group *ug = &s->groups[g];
		group_init(ug, cg);
		for (size_t o = 0; o < old->ngroups && o < old_cf->ups.ngroups; o++) {
			if (old->groups[o].pools == NULL ||
			    !cfg_upstream_group_same(&old_cf->ups.groups[o], cg))
				continue;
			/* Unchanged: the same pools and balance state. */
			memcpy(ug->pools, old->groups[o].pools, ug->n * sizeof(*ug->pools));
			memcpy(ug->peers, old->groups[o].peers, ug->n * sizeof(*ug->peers));
			free(old->groups[o].pools);
			old->groups[o].pools = NULL;
			break;
		}
		for (size_t i = 0; i < ug->n; i++)
			if (ug->pools[i] == NULL)
				ug->pools[i] = pool_new(s, cg, i);
	}
	/* What did not move over finishes its requests in flight first. */
	for (size_t o = 0; o < old->ngroups; o++) {
		for (size_t i = 0; old->groups[o].pools != NULL && i < old->groups[o].n; i++) {
			retire(arg, old->groups[o].pools[i]);
			old->groups[o].pools[i] = NULL;
		}
	}
	upset_free(old);
	return s;
}

void
upset_free(struct upset *s)
{
	if (s == NULL)
		return;
	for (size_t g = 0; g < s->ngroups; g++)
		group_free(&s->groups[g]);
	free(s->groups);
	free(s);
}

static size_t
pool_load(void *arg, size_t i)
{
	struct upstream_pool **pools = arg;

	return upstream_pool_load(pools[i]);
}

static int64_t
now_ms(struct upset *s)
{
	struct timeval tv;

	event_base_gettimeofday_cached(s->base, &tv);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static struct upstream_pool *
pick(struct upset *s, uint32_t group, const struct upstream_pool *exclude, int any)
{
	struct upset_group *ug = &s->groups[group];
	struct upstream_pool *pick = NULL;
	int64_t now = 0;
	size_t i = 0, nup = 0;

	/* One server without ejection (the "upstream" shorthand): nothing
	 * to decide, and no clock read. */
	if (ug->n == 1 && !ug->outlier && !ug->health)
		return ug->pools[0] == exclude ? NULL : ug->pools[0];
	if (ug->outlier)
		now = now_ms(s);
	for (size_t j = 0; j < ug->n; j++) {
		ug->peers[j].down = ug->pools[j] == exclude ||
		    (ug->outlier && upstream_pool_down(ug->pools[j], now)) ||
		    (ug->health && upstream_pool_user(ug->pools[j]) != NULL &&
		    upstats_health_down(upstream_pool_user(ug->pools[j])));
		nup += !ug->peers[j].down;
	}
	/* Every server ejected: refuse at once rather than send to one that
	 * keeps failing (the ejection ends by itself). */
	if (nup == 0 && any) {
		for (size_t j = 0; j < ug->n; j++) {
			ug->peers[j].down = ug->pools[j] == exclude;
			nup += !ug->peers[j].down;
		}
	}
	if (nup == 0)
		goto out;
	if (ug->n > 1)
		i = ug->kind == BALANCE_LEAST_REQUEST ?
		    balance_least_request(ug->peers, ug->n, balance_rand(&s->rnd), pool_load,
		    ug->pools) : balance_round_robin(ug->peers, ug->n);
	pick = ug->pools[i];
out:
	return pick;
}

struct upstream_pool *
upset_pick(struct upset *s, uint32_t group, const struct upstream_pool *exclude)
{
	return pick(s, group, exclude, 0);
}

struct upstream_pool *
upset_pick_any(struct upset *s, uint32_t group, const struct upstream_pool *exclude)
{
	return pick(s, group, exclude, 1);
}

int
upset_report(struct upset *s, struct upstream_pool *pool, int kind, int64_t latency_us)
{
	struct upstats_server *st = upstream_pool_user(pool);
	int ejected = 0;

	if (st != NULL) {
		if (kind != UPSET_OK)
			upstats_failed(st, (enum upstats_kind)kind);
		if (latency_us >= 0)
			upstats_observe(st, (uint64_t)latency_us);
	}
	/* Ejection off (the shorthand): no clock read. */
	if (!upstream_pool_ejects(pool))
		goto out;
	ejected = upstream_pool_report(pool, kind == UPSET_OK, now_ms(s));
	if (ejected && st != NULL)
		upstats_ejected(st, s->worker, upstream_pool_ejected_until(pool));
out:
	return ejected;
}

void
upset_sent(struct upstream_pool *pool)
{
	struct upstats_server *st = upstream_pool_user(pool);

	if (st != NULL)
		upstats_sent(st);
}

const char *
upset_group_name(const struct upset *s, uint32_t group)
{
	return s->groups[group].name;
}
