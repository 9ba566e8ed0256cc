/* upset.c: see upset.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "upset.h"
#include "xmalloc.h"

struct upset_group {
	char *name;
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
	for (size_t i = 0; i < ug->n; i++)
		ug->peers[i].weight = g->weights[i];
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

struct upstream_pool *
upset_pick(struct upset *s, uint32_t group)
{
	struct upset_group *ug = &s->groups[group];
	size_t i = 0;

	/* One server (the one-upstream case): nothing to decide. */
	if (ug->n > 1)
		i = ug->kind == BALANCE_LEAST_REQUEST ?
		    balance_least_request(ug->peers, ug->n, balance_rand(&s->rnd), pool_load,
		    ug->pools) : balance_round_robin(ug->peers, ug->n);
	return ug->pools[i];
}

const char *
upset_group_name(const struct upset *s, uint32_t group)
{
	return s->groups[group].name;
}
