/* cfg_rollout.c: the configuration of rolling a policy out to clients:
 * "report_only" (action globs whose authorization refusals are only
 * reported, reportmode.h) and "cors" (browser clients, cors.h). Both name
 * policy actions, so they are read after the policy. */
#include "config.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "chars.h"
#include "cors.h"
#include "defaults.h"
#include "policy.h"
#include "xmalloc.h"

static const struct jsonconf_key cors_keys[] = {
	{"actions", JC_ARRAY, 0},
	{"allowed_origins", JC_ARRAY, 1},
	{"allowed_methods", JC_ARRAY, 0},
	{"allowed_headers", JC_ARRAY, 0},
	{"expose_headers", JC_ARRAY, 0},
	{"allow_credentials", JC_BOOLEAN, 0},
	{"max_age_s", JC_INTEGER, 0},
	{"comment", JC_STRING, 0},
	{NULL, JC_ANY, 0},
};

/* An action glob: the characters of action names plus '*'. */
static int
valid_glob(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-*") == n;
}

/* Call mark(arg, action index) for each action a glob of the array at ptr
 * names. A glob that names nothing is an error (a typo would otherwise
 * silently leave the actions it meant as they were). */
static void
each_action(struct jsonconf *jc, const struct cfg *cf, const json_t *arr, const char *ptr,
    void (*mark)(void *, size_t), void *arg)
{
	size_t nact = cf->policy != NULL ? policy_action_count(cf->policy) : 0;

	/* A policy that failed to load has said so already. */
	if (cf->policy == NULL) {
		if (cf->policy_path == NULL)
			jsonconf_error(jc, ptr, "names actions: needs a policy");
		return;
	}
	if (json_array_size(arr) == 0)
		jsonconf_error(jc, ptr, "names no action");
	for (size_t j = 0; j < json_array_size(arr); j++) {
		const char *glob = json_string_value(json_array_get(arr, j));
		char *gptr = jsonconf_ptr_index(ptr, j);
		size_t hits = 0;

		if (glob == NULL || !valid_glob(glob))
			jsonconf_error(jc, gptr, "must be an action name or a glob with '*'");
		else {
			for (size_t a = 0; a < nact; a++)
				if (fnmatch(glob, policy_action_at(cf->policy, a)->name, 0) == 0) {
					hits++;
					mark(arg, a);
				}
			if (hits == 0)
				jsonconf_error(jc, gptr, "matches no action of the policy");
		}
		free(gptr);
	}
}

static void
mark_report(void *arg, size_t a)
{
	((uint8_t *)arg)[a] = 1;
}

struct rule_mark {
	struct cors_config *c;
	uint32_t rule;
};

/* The first rule naming an action wins. */
static void
mark_cors(void *arg, size_t a)
{
	struct rule_mark *m = arg;

	if (m->c->action_rule[a] == CORS_NO_RULE)
		m->c->action_rule[a] = m->rule;
}

/* An array of strings at ptr/key, each checked by ok(); NULL when absent.
 * Returns the strings (pointers into the JSON) and their count. */
static const char **
string_list(struct jsonconf *jc, const json_t *o, const char *ptr, const char *key,
    int (*ok)(const char *), const char *what, size_t *n)
{
	const json_t *arr = json_object_get(o, key);
	const char **out;
	char *kptr;

	*n = 0;
	if (!json_is_array(arr))
		return NULL;
	kptr = jsonconf_ptr_key(ptr, key);
	out = xcalloc(json_array_size(arr) + 1, sizeof(*out));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));
		if (s == NULL || !ok(s)) {
			char *iptr = jsonconf_ptr_index(kptr, i);
			jsonconf_error(jc, iptr, "must be %s", what);
			free(iptr);
			continue;
		}
		out[(*n)++] = s;
	}
	free(kptr);
	return out;
}

static int
is_method(const char *s)
{
	return policy_method_parse(s, strlen(s)) != POLICY_M_OTHER;
}

static char *
join(const char *const *v, size_t n)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 2;
	s = xcalloc(1, len);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, ", ");
		strcat(s, v[i]);
	}
	return s;
}

static void
parse_cors_rule(struct jsonconf *jc, const struct cfg *cf, const json_t *o, const char *ptr,
    struct cors_config *c, uint32_t idx)
{
	static const char *const default_headers[] = { SG_DEFAULT_CORS_HEADERS };
	struct cors_rule *r = &c->rules[idx];
	struct rule_mark m = { c, idx };
	const json_t *origins = json_object_get(o, "allowed_origins"), *acts;
	const char **list;
	size_t n;

	if (jsonconf_check_object(jc, o, ptr, cors_keys) != 0 && !json_is_object(o))
		return;
	r->origins = xcalloc(json_array_size(origins) + 1, sizeof(*r->origins));
	if (json_is_array(origins) && json_array_size(origins) == 0) {
		char *optr = jsonconf_ptr_key(ptr, "allowed_origins");
		jsonconf_error(jc, optr, "lists no origin");
		free(optr);
	}
	for (size_t i = 0; i < json_array_size(origins); i++) {
		const char *s = json_string_value(json_array_get(origins, i)), *why = "must be a string";
		if (s == NULL || cors_origin_parse_config(s, &r->origins[r->norigins], &why) != 0) {
			char *optr = jsonconf_ptr_key(ptr, "allowed_origins"), *iptr;
			iptr = jsonconf_ptr_index(optr, i);
			jsonconf_error(jc, iptr, "%s", why);
			free(iptr);
			free(optr);
			continue;
		}
		r->norigins++;
	}
	list = string_list(jc, o, ptr, "allowed_methods", is_method,
	    "a method (GET, HEAD, POST, PUT, PATCH, DELETE)", &n);
	for (size_t i = 0; i < n; i++)
		r->methods |= 1u << policy_method_parse(list[i], strlen(list[i]));
	free(list);
	list = string_list(jc, o, ptr, "allowed_headers", chars_is_token, "a header field name", &n);
	if (json_object_get(o, "allowed_headers") == NULL) {
		free(list);
		list = xcalloc(2, sizeof(*list));
		n = 2;
		list[0] = default_headers[0];
		list[1] = default_headers[1];
	}
	r->headers = xcalloc(n + 1, sizeof(*r->headers));
	for (size_t i = 0; i < n; i++) {
		r->headers[i] = xstrdup(list[i]);
		for (char *p = r->headers[i]; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	}
	r->nheaders = n;
	r->allow_headers = n > 0 ? join((const char *const *)r->headers, n) : NULL;
	free(list);
	list = string_list(jc, o, ptr, "expose_headers", chars_is_token, "a header field name", &n);
	r->expose_headers = n > 0 ? join(list, n) : NULL;
	free(list);
	jsonconf_get_bool(jc, o, ptr, "allow_credentials", 0, &r->credentials);
	jsonconf_get_int(jc, o, ptr, "max_age_s", 0, SG_CORS_MAX_AGE_MAX_S,
	    SG_DEFAULT_CORS_MAX_AGE_S, &r->max_age_s);
	if (json_is_array(acts = json_object_get(o, "actions"))) {
		char *aptr = jsonconf_ptr_key(ptr, "actions");
		each_action(jc, cf, acts, aptr, mark_cors, &m);
		free(aptr);
	} else if (acts == NULL) {
		/* No "actions": every action. */
		for (size_t a = 0; a < c->nactions; a++)
			mark_cors(&m, a);
		if (cf->policy_path == NULL)
			jsonconf_error(jc, ptr, "CORS needs a policy (its routes answer preflights)");
	}
}

void
cfg_rollout_parse(struct jsonconf *jc, const json_t *root, struct cfg *cf)
{
	const json_t *rep = json_object_get(root, "report_only"), *cors = json_object_get(root, "cors");
	size_t nact = cf->policy != NULL ? policy_action_count(cf->policy) : 0;

	if (json_is_array(rep)) {
		cf->nreport_only = nact;
		cf->report_only = xcalloc(nact > 0 ? nact : 1, 1);
		each_action(jc, cf, rep, "/report_only", mark_report, cf->report_only);
	}
	if (cors == NULL)
		return;
	if (!json_is_object(cors) && !json_is_array(cors)) {
		jsonconf_error(jc, "/cors", "must be an object (one rule) or an array of rules");
		return;
	}
	struct cors_config *c = xcalloc(1, sizeof(*c));
	size_t nrules = json_is_array(cors) ? json_array_size(cors) : 1;

	c->nactions = nact;
	c->action_rule = xcalloc(nact > 0 ? nact : 1, sizeof(*c->action_rule));
	for (size_t a = 0; a < nact; a++)
		c->action_rule[a] = CORS_NO_RULE;
	c->rules = xcalloc(nrules > 0 ? nrules : 1, sizeof(*c->rules));
	c->nrules = nrules;
	if (nrules == 0)
		jsonconf_error(jc, "/cors", "lists no rule");
	if (json_is_object(cors))
		parse_cors_rule(jc, cf, cors, "/cors", c, 0);
	else
		for (size_t i = 0; i < nrules; i++) {
			char *ptr = jsonconf_ptr_index("/cors", i);
			parse_cors_rule(jc, cf, json_array_get(cors, i), ptr, c, (uint32_t)i);
			free(ptr);
		}
	cf->cors = c;
}

void
cfg_rollout_free(struct cfg *cf)
{
	free(cf->report_only);
	cors_config_free(cf->cors);
}
