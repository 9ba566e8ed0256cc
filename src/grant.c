/* grant.c: see grant.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Can the caller do everything scope s allows: every action listing it,
 * and every scope the policy does not know that s covers? */
static int
grantable(const struct grantmap *g, const struct policy_scopeset *caller, size_t s)
{
	for (size_t i = 0; i < g->nactions[s]; i++)
		if (!policy_scopeset_intersects(&g->actions[s][i]->allow, caller))
			return 0;
	return policy_covers_within(g->policy, s, caller);
}

/* The caller holds exactly this scope string. */
static int
holds_name(const struct grant_caller *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->nnames; i++)
		if (strlen(c->names[i]) == len && memcmp(c->names[i], name, len) == 0)
			return 1;
	return 0;
}

/* Known scopes already judged in one check, so that a long list naming
 * the same broad scope again and again costs its actions once. */
struct grant_memo {
	struct policy_scopeset seen, ok;
};

static int
grantable_memo(const struct grantmap *g, const struct grant_caller *c,
    const char *name, size_t len, struct grant_memo *memo)
{
	int id = policy_scope_lookup(g->policy, name, len);

	/* A known scope (listed by some action) by the actions it allows;
	 * any other only by its holders and the umbrellas covering it. */
	if (id >= 0 && (size_t)id < g->nscopes && g->nactions[id] > 0) {
		if (memo == NULL)
			return grantable(g, c->set, (size_t)id);
		if (!policy_scopeset_has(&memo->seen, (size_t)id)) {
			policy_scopeset_add(&memo->seen, (size_t)id);
			if (grantable(g, c->set, (size_t)id))
				policy_scopeset_add(&memo->ok, (size_t)id);
		}
		return policy_scopeset_has(&memo->ok, (size_t)id);
	}
	return holds_name(c, name, len) ||
	    policy_scope_covered(g->policy, c->set, name, len) >= 0;
}

int
grantmap_grantable(const struct grantmap *g, const struct grant_caller *c,
    const char *name, size_t len)
{
	return grantable_memo(g, c, name, len, NULL);
}

/* Append name to the comma-separated list in msg. */
static void
list_add(char *msg, size_t size, size_t *used, const char *name, size_t len)
{
	int n;

	if (*used >= size)
		return;
	if (len == 0) {		/* an empty name, visibly */
		name = "\"\"";
		len = 2;
	}
	n = snprintf(msg + *used, size - *used, "%s%.*s", *used ? ", " : "",
	    (int)(len > 200 ? 200 : len), name);
	*used += n > 0 ? (size_t)n : 0;
}

/* A member whose name is the scope field in another case: an upstream
 * that binds members case-insensitively would take it for the field. */
static const char *
other_spelling(const json_t *body, const char *field)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)body, key, v)
		if (strcasecmp(key, field) == 0 && strcmp(key, field) != 0)
			return key;
	return NULL;
}

enum grant_status
grantmap_check(const struct grantmap *g, const struct grant_caller *c,
    const struct policy_action *a, const json_t *body, char *msg, size_t size)
{
	const char *field = a->token_scope_field ? a->token_scope_field : "scope";
	enum grant_status st = GRANT_BAD_REQUEST;
	struct grant_memo memo;
	const json_t *req;
	const char *other;
	size_t i, used = 0;
	json_t *v;

	if (size > 0)
		msg[0] = '\0';
	policy_scopeset_clear(&memo.seen);
	policy_scopeset_clear(&memo.ok);
	if (!json_is_object(body)) {
		snprintf(msg, size, "The body must be a JSON object");
		goto out;
	}
	if ((other = other_spelling(body, field)) != NULL) {
		snprintf(msg, size, "Member \"%.60s\": the scopes to grant are \"%s\"",
		    other, field);
		goto out;
	}
	req = json_object_get(body, field);
	if (req == NULL || json_is_null(req)) {
		/* The upstream fills in its defaults: they are what is granted. */
		st = GRANT_OK;
		for (i = 0; i < a->ntoken_default_scopes; i++) {
			const char *d = a->token_default_scopes[i];
			if (!grantable_memo(g, c, d, strlen(d), &memo)) {
				st = GRANT_ESCALATION;
				list_add(msg, size, &used, d, strlen(d));
			}
		}
		if (st == GRANT_ESCALATION && used < size)
			snprintf(msg + used, size - used, " (granted by default when \"%s\" "
			    "is absent or null)", field);
		goto out;
	}
	if (!json_is_array(req)) {
		snprintf(msg, size, "\"%s\" must be an array of scope names", field);
		goto out;
	}
	json_array_foreach(req, i, v) {
		if (!json_is_string(v)) {
			snprintf(msg, size, "\"%s\"/%zu must be a string", field, i);
			goto out;
		}
	}
	st = GRANT_OK;
	json_array_foreach(req, i, v) {
		if (!grantable_memo(g, c, json_string_value(v), json_string_length(v), &memo)) {
			st = GRANT_ESCALATION;
			list_add(msg, size, &used, json_string_value(v), json_string_length(v));
			if (used + 1 >= size)
				break;	/* refused either way; the message is full */
		}
	}
out:
	return st;
}
