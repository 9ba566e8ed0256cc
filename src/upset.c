/* upset.c: see upset.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "upset.h"
#include "xmalloc.h"

struct upset_group {
	char *name;
	int outlier;			/* its servers may be ejected */
	enum balance_kind kind;
	size_t n;
	struct upstream_pool **pools;
	struct balance_peer *peers;
};

struct upset {
	struct event_base *base;
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
set_alloc(struct event_base *base, const struct cfg *cf)
{
	struct upset *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->ngroups = cf->ups.ngroups;
	s->groups = xcalloc(s->ngroups > 0 ? s->ngroups : 1, sizeof(*s->groups));
	/* Only spreads the draws; not a secret. */
	s->rnd = (uint64_t)(uintptr_t)s ^ (uint64_t)cf->generation;
	return s;
}

struct upset *
upset_new(struct event_base *base, const struct cfg *cf)
{
	struct upset *s = set_alloc(base, cf);

	for (size_t g = 0; g < s->ngroups; g++) {
		const struct cfg_upstream_group *cg = &cf->ups.groups[g];
		group_init(&s->groups[g], cg);
		for (size_t i = 0; i < cg->nservers; i++)
			s->groups[g].pools[i] = upstream_pool_new(base, cg->servers[i]);
	}
	return s;
}

struct upset *
upset_reload(struct upset *old, const struct cfg *old_cf, const struct cfg *cf,
    void (*retire)(void *arg, struct upstream_pool *pool), void *arg)
{
	struct upset *s = set_alloc(old->base, cf);

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
				ug->pools[i] = upstream_pool_new(s->base, cg->servers[i]);
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
	if (ug->n == 1 && !ug->outlier)
		return ug->pools[0] == exclude ? NULL : ug->pools[0];
	if (ug->outlier)
		now = now_ms(s);
	for (size_t j = 0; j < ug->n; j++) {
		ug->peers[j].down = ug->pools[j] == exclude ||
		    (ug->outlier && upstream_pool_down(ug->pools[j], now));
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
upset_report(struct upset *s, struct upstream_pool *pool, int ok)
{
	/* Ejection off (the shorthand): no clock read. */
	if (!upstream_pool_ejects(pool))
		return 0;
	return upstream_pool_report(pool, ok, now_ms(s));
}

const char *
upset_group_name(const struct upset *s, uint32_t group)
{
	return s->groups[group].name;
}
