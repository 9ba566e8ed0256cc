/* grant.c: see grant.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grant.h"
#include "xmalloc.h"

struct grantmap {
	const struct policy *policy;
	size_t nscopes;
	/* For scope id s: the actions listing it, actions[s][0..nactions[s]). */
	const struct policy_action ***actions;
	size_t *nactions;
};

struct grantmap *
grantmap_new(const struct policy *p)
{
	struct grantmap *g = xcalloc(1, sizeof(*g));
	size_t nact = policy_action_count(p);

	g->policy = p;
	g->nscopes = policy_scope_count(p);
	g->actions = xcalloc(g->nscopes ? g->nscopes : 1, sizeof(*g->actions));
	g->nactions = xcalloc(g->nscopes ? g->nscopes : 1, sizeof(*g->nactions));
	for (size_t s = 0; s < g->nscopes; s++) {
		for (size_t i = 0; i < nact; i++) {
			const struct policy_action *a = policy_action_at(p, i);
			if (!a->public && policy_scopeset_has(&a->allow, s)) {
				g->actions[s] = xreallocarray(g->actions[s], g->nactions[s] + 1,
				    sizeof(*g->actions[s]));
				g->actions[s][g->nactions[s]++] = a;
			}
		}
	}
	return g;
}

void
grantmap_free(struct grantmap *g)
{
	if (g == NULL)
		return;
	for (size_t s = 0; s < g->nscopes; s++)
		free(g->actions[s]);
	free(g->actions);
	free(g->nactions);
	free(g);
}

/* Can the caller do everything scope s allows? */
static int
grantable(const struct grantmap *g, const struct policy_scopeset *caller, size_t s)
{
	for (size_t i = 0; i < g->nactions[s]; i++)
		if (!policy_scopeset_intersects(&g->actions[s][i]->allow, caller))
			return 0;
	return 1;
}

int
grantmap_check(const struct grantmap *g, const struct policy_scopeset *caller,
    const json_t *requested, char *bad, size_t size)
{
	size_t i, used = 0;
	json_t *v;
	int rc = 0;

	if (size > 0)
		bad[0] = '\0';
	if (!json_is_array(requested))
		return 0;
	json_array_foreach(requested, i, v) {
		int id;

		if (!json_is_string(v))
			continue;
		id = policy_scope_lookup(g->policy, json_string_value(v), json_string_length(v));
		if (id < 0 || grantable(g, caller, (size_t)id))
			continue;
		rc = -1;
		if (used < size) {
			int n = snprintf(bad + used, size - used, "%s%s", used ? ", " : "",
			    json_string_value(v));
			used += n > 0 ? (size_t)n : 0;
		}
	}
	return rc;
}
