/* policy_int.h: the inside of struct policy, shared by the loader
 * (policy_load.c) and the runtime (policy.c); not for other modules. */
#ifndef SCOPEGATE_POLICY_INT_H
#define SCOPEGATE_POLICY_INT_H

#include "policy.h"
#include "route.h"

/* One "covers" pattern: scope `umbrella` covers the names equal to
 * `pattern` or, when `prefix` is set, starting with it. */
struct policy_cover {
	size_t umbrella;		/* scope id */
	char *pattern;			/* without the trailing '*' */
	size_t len;
	int prefix;
};

struct policy {
	struct policy_action *actions;
	size_t nactions;
	char **scope_names;		/* by id, in order of first use */
	size_t nscopes;
	size_t *scope_sorted;		/* ids sorted by name, for lookups */
	struct route_tree *routes;	/* value: action index */
	char *schemas_dir;		/* resolved, or NULL */
	struct policy_cover *covers;
	size_t ncovers;
};

#endif
