/* test_losant_policy.c: the shipped conf/policy.json against the source
 * data (data/losant-api/routes.json), action by action. The expectations
 * come from the data, not from the generated policy: for each action a
 * concrete path is built from its template, it must route to exactly that
 * action, a token holding any one of its listed scopes must pass, a token
 * holding every other scope of the API must get 403, public actions pass
 * without a token and protected ones get 401. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "authz.h"
#include "canon.h"
#include "errlist.h"
#include "grant.h"
#include "jsonconf.h"
#include "policy.h"

#define HEXID "5f0c8e1d2a3b4c5d6e7f8a9b"

/* Parameters that are not ObjectIds in Losant (losant-rest docs: "Version
 * ID or version name"); every other path parameter is a 24-hex id. */
static const char *const string_params[] = {
	"flowVersionId", "experienceVersionIdOrName", NULL,
};

static json_t *routes;
static struct policy *policy;
static const char *all_scopes[2048];
static size_t nall_scopes;

static size_t n_actions, n_public, n_protected, n_scope_allows, n_denies,
    n_param_checks;

static char *
datapath(const char *rel)
{
	const char *top = getenv("top_srcdir");
	char *p;

	if (asprintf(&p, "%s/%s", top ? top : ".", rel) < 0)
		abort();
	return p;
}

/* CU_ASSERT with a message naming the case on failure. */
static void
check(int cond, const char *fmt, ...)
{
	va_list ap;

	CU_ASSERT(cond);
	if (!cond) {
		va_start(ap, fmt);
		fprintf(stderr, "\n  FAIL: ");
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "\n");
		va_end(ap);
	}
}

static int
is_string_param(const char *name)
{
	for (size_t i = 0; string_params[i]; i++)
		if (strcmp(name, string_params[i]) == 0)
			return 1;
	return 0;
}

/* Build the concrete path: "{name}" -> value_for(name). */
static void
build_path(const char *tmpl, const char *special, const char *special_value,
    char *out, size_t size)
{
	size_t o = 0;

	for (const char *s = tmpl; *s && o + 1 < size;) {
		if (*s == '{') {
			const char *e = strchr(s, '}');
			size_t len = (size_t)(e - s - 1);
			const char *v = HEXID;
			if (special && strlen(special) == len && memcmp(special, s + 1, len) == 0)
				v = special_value;
			o += (size_t)snprintf(out + o, size - o, "%s", v);
			s = e + 1;
		} else
			out[o++] = *s++;
	}
	out[o < size ? o : size - 1] = '\0';
}

/* Canonicalise and match; returns 0 and fills *m, or -1. */
static int
route(const char *method, const char *target, struct canon_target *t,
    struct policy_match *m)
{
	if (canon_target(target, strlen(target), t) != CANON_OK)
		return -1;
	policy_match(policy, policy_method_parse(method, strlen(method)),
	    t->segs, t->nsegs, m);
	return 0;
}

static int
setup(void)
{
	struct errlist errs;
	struct jsonconf jc = { .errs = &errs };
	char *rp = datapath("data/losant-api/routes.json");
	char *pp = datapath("conf/policy.json");
	json_error_t jerr;
	json_t *seen;
	size_t i;
	json_t *a;

	errlist_init(&errs);
	jc.file = pp;
	routes = json_load_file(rp, JSON_REJECT_DUPLICATES, &jerr);
	policy = policy_load(&jc, pp);
	errlist_print(&errs, stderr);
	errlist_free(&errs);
	free(rp);
	free(pp);
	if (routes == NULL || policy == NULL)
		return -1;
	/* Every scope name the data mentions. */
	seen = json_object();
	json_array_foreach(json_object_get(routes, "actions"), i, a) {
		size_t k;
		json_t *s;
		json_array_foreach(json_object_get(a, "scopes"), k, s) {
			const char *name = json_string_value(s);
			if (json_object_get(seen, name) == NULL) {
				json_object_set_new(seen, name, json_true());
				if (nall_scopes < sizeof(all_scopes) / sizeof(all_scopes[0]))
					all_scopes[nall_scopes++] = name;
			}
		}
	}
	json_decref(seen);
	return 0;
}

static int
teardown(void)
{
	policy_free(policy);
	json_decref(routes);
	return 0;
}

static int
in_list(const json_t *arr, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

/* The parameter checks of one action: wrong ids are 400 naming the
 * parameter, words pass for string parameters. */
static void
check_params(const json_t *a, const char *name, const char *method,
    const char *tmpl, const struct policy_scopeset *ok)
{
	static const char *const bad_ids[] = {
		"5f0c8e1d2a3b4c5d6e7f8a9",	/* 23 */
		"5f0c8e1d2a3b4c5d6e7f8a9b0",	/* 25 */
		"5f0c8e1d2a3b4c5d6e7f8a9g",	/* not hex */
		"word",
	};
	size_t i;
	json_t *pn;

	json_array_foreach(json_object_get(a, "path_params"), i, pn) {
		const char *param = json_string_value(pn);
		char target[1024];
		struct canon_target t;
		struct policy_match m;
		struct authz_decision d;

		for (size_t b = 0; b < sizeof(bad_ids) / sizeof(bad_ids[0]); b++) {
			build_path(tmpl, param, bad_ids[b], target, sizeof(target));
			if (route(method, target, &t, &m) != 0 || m.status != POLICY_MATCH_OK) {
				check(0, "%s: %s %s does not route", name, method, target);
				continue;
			}
			authz_decide(&m, AUTHZ_TOKEN_VALID, ok, NULL, NULL, &d);
			n_param_checks++;
			if (is_string_param(param)) {
				/* Any segment will do; it may route to another
				 * action only if a literal sibling exists, which
				 * these values never are. */
				check(strcmp(m.action->name, name) == 0 && d.allow,
				    "%s: string param %s=%s refused", name, param, bad_ids[b]);
			} else if (json_is_true(json_object_get(a, "public"))) {
				check(d.allow, "%s: public action refused", name);
			} else {
				check(!d.allow && d.status == 400 &&
				    strcmp(d.reason, "bad_param") == 0 &&
				    m.bad_param >= 0 &&
				    strcmp(m.action->param_names[m.bad_param], param) == 0,
				    "%s: %s=%s not refused with 400 (status %d)", name,
				    param, bad_ids[b], d.status);
			}
		}
	}
}

static void
test_every_action(void)
{
	json_t *actions = json_object_get(routes, "actions"), *a;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(json_array_size(actions), 273);
	CU_ASSERT_EQUAL(policy_action_count(policy), 273);
	json_array_foreach(actions, i, a) {
		const char *name = json_string_value(json_object_get(a, "action"));
		const char *method = json_string_value(json_object_get(a, "method"));
		const char *tmpl = json_string_value(json_object_get(a, "path"));
		const json_t *allow = json_object_get(a, "scopes");
		int public = json_is_true(json_object_get(a, "public"));
		struct policy_scopeset set;
		struct canon_target t;
		struct policy_match m;
		struct authz_decision d;
		char target[1024];

		n_actions++;
		build_path(tmpl, NULL, NULL, target, sizeof(target));
		strcat(target, "?_embedded=true");
		if (route(method, target, &t, &m) != 0) {
			check(0, "%s: %s is not canonical", name, target);
			continue;
		}
		check(m.status == POLICY_MATCH_OK && m.action != NULL &&
		    strcmp(m.action->name, name) == 0,
		    "%s: %s %s routes to %s", name, method, target,
		    m.action ? m.action->name : "nothing");
		if (m.status != POLICY_MATCH_OK)
			continue;
		check(m.bad_param == -1, "%s: a 24-hex id refused", name);
		check(strcmp(policy_method_name(m.action->method), method) == 0,
		    "%s: method", name);

		/* No token at all. */
		authz_decide(&m, AUTHZ_TOKEN_NONE, NULL, NULL, NULL, &d);
		if (public) {
			n_public++;
			check(d.allow && strcmp(d.reason, "public") == 0,
			    "%s: public action refused without a token", name);
			check(json_array_size(allow) == 0, "%s: public with scopes", name);
			check_params(a, name, method, tmpl, NULL);
			continue;
		}
		n_protected++;
		check(!d.allow && d.status == 401 && strcmp(d.error_type, "Unauthorized") == 0,
		    "%s: no token not 401", name);
		authz_decide(&m, AUTHZ_TOKEN_INVALID, NULL, NULL, NULL, &d);
		check(!d.allow && d.status == 401, "%s: invalid token not 401", name);

		/* Each allowed scope alone. */
		size_t k;
		json_t *s;
		json_array_foreach(allow, k, s) {
			const char *one = json_string_value(s);
			policy_scopeset_from_names(policy, &one, 1, &set);
			authz_decide(&m, AUTHZ_TOKEN_VALID, &set, NULL, NULL, &d);
			check(d.allow && d.scope != NULL && strcmp(d.scope, one) == 0 &&
			    strcmp(d.reason, "scope") == 0,
			    "%s: scope %s refused", name, one);
			n_scope_allows++;
		}

		/* Every scope of the API but the allowed ones. */
		const char *others[2048];
		size_t nothers = 0;
		for (size_t j = 0; j < nall_scopes; j++)
			if (!in_list(allow, all_scopes[j]))
				others[nothers++] = all_scopes[j];
		policy_scopeset_from_names(policy, others, nothers, &set);
		authz_decide(&m, AUTHZ_TOKEN_VALID, &set, NULL, NULL, &d);
		check(!d.allow && d.status == 403 && strcmp(d.error_type, "Forbidden") == 0 &&
		    strcmp(d.reason, "insufficient_scope") == 0 && d.scope == NULL,
		    "%s: %zu other scopes not refused with 403", name, nothers);
		n_denies++;

		/* Parameters are checked after the token, before scopes. */
		policy_scopeset_from_names(policy, (const char *const *)&all_scopes[0],
		    nall_scopes, &set);
		check_params(a, name, method, tmpl, &set);
	}
	printf("\n  losant: %zu actions (%zu public, %zu protected), %zu single-scope "
	    "allows, %zu other-scope denials, %zu parameter checks, %zu scopes\n",
	    n_actions, n_public, n_protected, n_scope_allows, n_denies,
	    n_param_checks, nall_scopes);
	CU_ASSERT_EQUAL(n_actions, 273);
	CU_ASSERT_EQUAL(n_public, 9);
	CU_ASSERT_EQUAL(n_protected, 264);
}

/* The generated policy carries what the data and the issue call for. */
static void
test_generated_extras(void)
{
	static const struct {
		const char *action;
		enum policy_effect_on on;
	} revoking[] = {
		{ "applicationApiToken.delete", POLICY_EFFECT_DELETE },
		{ "applicationApiToken.patch", POLICY_EFFECT_PATCH_STATUS },
		{ "userApiToken.delete", POLICY_EFFECT_DELETE },
		{ "userApiToken.patch", POLICY_EFFECT_PATCH_STATUS },
		{ "instanceApiToken.delete", POLICY_EFFECT_DELETE },
		{ "instanceApiToken.patch", POLICY_EFFECT_PATCH_STATUS },
	};
	static const char *const minting[] = {
		"applicationApiTokens.post", "userApiTokens.post", "instanceApiTokens.post",
	};
	size_t neffects = 0, ncreates = 0, nbodies = 0, i;
	json_t *a;

	for (size_t r = 0; r < sizeof(revoking) / sizeof(revoking[0]); r++) {
		const struct policy_action *pa = policy_action_find(policy, revoking[r].action);
		CU_ASSERT_PTR_NOT_NULL_FATAL(pa);
		CU_ASSERT_EQUAL(pa->neffects, 1);
		CU_ASSERT_EQUAL(pa->effects[0].on, revoking[r].on);
		CU_ASSERT_STRING_EQUAL(pa->effects[0].param_name, "apiTokenId");
		CU_ASSERT_STRING_EQUAL(pa->param_names[pa->effects[0].param], "apiTokenId");
	}
	for (size_t c = 0; c < 3; c++) {
		const struct policy_action *pa = policy_action_find(policy, minting[c]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(pa);
		CU_ASSERT(pa->creates_token);
		CU_ASSERT_STRING_EQUAL(pa->token_scope_field, "scope");
	}
	for (i = 0; i < policy_action_count(policy); i++) {
		const struct policy_action *pa = policy_action_at(policy, i);
		neffects += pa->neffects;
		ncreates += pa->creates_token != 0;
	}
	CU_ASSERT_EQUAL(neffects, 6);
	CU_ASSERT_EQUAL(ncreates, 3);

	/* Body schemas as in the data, resolved to existing files. */
	json_array_foreach(json_object_get(routes, "actions"), i, a) {
		const struct policy_action *pa = policy_action_find(policy,
		    json_string_value(json_object_get(a, "action")));
		json_t *body = json_object_get(a, "body");
		CU_ASSERT_PTR_NOT_NULL_FATAL(pa);
		if (json_is_object(body)) {
			const char *schema = json_string_value(json_object_get(body, "schema"));
			check(pa->body_schema && strcmp(pa->body_schema, schema) == 0,
			    "%s: body schema", pa->name);
			check(pa->body_schema_path && access(pa->body_schema_path, R_OK) == 0,
			    "%s: schema path", pa->name);
			nbodies++;
		} else
			check(pa->body_schema == NULL, "%s: unexpected body", pa->name);
		check(pa->sse == json_is_true(json_object_get(a, "sse")), "%s: sse", pa->name);
	}
	CU_ASSERT_EQUAL(nbodies, 116);
}

/* Every scope name of a JSON value's "enum" arrays, into names[]. */
static void
collect_enums(const json_t *v, const char **names, size_t *n, size_t max)
{
	const char *key;
	json_t *e, *item;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, e) {
			if (strcmp(key, "enum") == 0 && json_is_array(e)) {
				json_array_foreach(e, i, item)
					if (json_is_string(item) && *n < max)
						names[(*n)++] = json_string_value(item);
			} else
				collect_enums(e, names, n, max);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			collect_enums(e, names, n, max);
	}
}

/* May a caller holding exactly `scopes` (space-separated) grant name? */
static int
can_grant(const struct grantmap *g, const char *scopes, const char *name)
{
	const char *names[8];
	char *copy = strdup(scopes), *tok, *save = NULL;
	struct policy_scopeset set;
	struct grant_caller c;
	size_t n = 0;
	int ok;

	for (tok = strtok_r(copy, " ", &save); tok && n < 8; tok = strtok_r(NULL, " ", &save))
		names[n++] = tok;
	policy_scopeset_from_names(policy, names, n, &set);
	c.set = &set;
	c.names = names;
	c.nnames = n;
	ok = grantmap_grantable(g, &c, name, strlen(name));
	free(copy);
	return ok;
}

/* Token creation: the upstream's defaults, and every scope Losant's token
 * schema accepts (conf/schemas/apiTokenPost.json), known to the policy or
 * not. A user's full access grants all of them; a scope no action lists
 * needs its holder or a covering umbrella, never a restricted one. */
static void
test_token_grants(void)
{
	static const struct {
		const char *action, *def;
	} minting[] = {
		{ "applicationApiTokens.post", "all.Application" },
		{ "userApiTokens.post", "all.User" },
		{ "instanceApiTokens.post", "all.Instance" },
	};
	static const struct {
		const char *scope, *umbrella;
		int covered;
	} unknown[] = {
		{ "application.debug", "all.Application", 1 },
		{ "application.debug", "application.*", 1 },
		{ "application.debug", "all.Organization", 1 },
		{ "application.debug", "all.Application.read", 0 },
		{ "application.debug", "all.Application.cli", 0 },
		{ "application.debug", "applications.*", 0 },
		{ "device.debug", "all.Application", 1 },
		{ "device.debug", "all.Device", 0 },
		{ "device.debug", "device.*", 1 },
		{ "device.debug", "devices.*", 0 },
		{ "flow.debug", "all.Application", 1 },
		{ "flow.debug", "flowVersion.*", 0 },
		{ "org.invoices", "all.Organization", 1 },
		{ "org.invoices", "all.Application", 0 },
		{ "org.invoices", "all.Organization.read", 0 },
		{ "me.connectGithub", "all.User", 1 },
		{ "me.connectGithub", "all.Organization", 0 },
		{ "applications.detailedSummary", "all.Organization", 1 },
		{ "applications.detailedSummary", "all.Application", 0 },
	};
	const char *names[1024];
	size_t n = 0, nunknown = 0;
	struct grantmap *g = grantmap_new(policy);
	char *path = datapath("conf/schemas/apiTokenPost.json");
	json_t *schema = json_load_file(path, 0, NULL);

	for (size_t c = 0; c < 3; c++) {
		const struct policy_action *pa = policy_action_find(policy, minting[c].action);
		CU_ASSERT_PTR_NOT_NULL_FATAL(pa);
		CU_ASSERT_EQUAL_FATAL(pa->ntoken_default_scopes, 1);
		CU_ASSERT_STRING_EQUAL(pa->token_default_scopes[0], minting[c].def);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
	collect_enums(json_object_get(json_object_get(schema, "properties"), "scope"),
	    names, &n, 1024);
	CU_ASSERT(n > 300);
	for (size_t i = 0; i < n; i++) {
		int known = policy_scope_lookup(policy, names[i], strlen(names[i])) >= 0;

		check(can_grant(g, "all.User", names[i]), "all.User grants %s", names[i]);
		if (known)
			continue;
		nunknown++;
		check(can_grant(g, names[i], names[i]), "%s grants itself", names[i]);
		check(!can_grant(g, "applicationApiTokens.post all.User.read", names[i]),
		    "a read umbrella does not grant %s", names[i]);
		check(!can_grant(g, "all.Device", names[i]), "all.Device does not grant %s",
		    names[i]);
	}
	/* The scopes the data's actions never list (losant-rest 2.8.1). */
	CU_ASSERT_EQUAL(nunknown, 14);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		CU_ASSERT(policy_scope_lookup(policy, unknown[i].scope,
		    strlen(unknown[i].scope)) < 0);
		check(can_grant(g, unknown[i].umbrella, unknown[i].scope) == unknown[i].covered,
		    "%s %s %s", unknown[i].umbrella, unknown[i].covered ? "covers" :
		    "does not cover", unknown[i].scope);
	}

	/* Granting an umbrella grants what it covers: a caller holding the
	 * own scope of every action all.Application allows (application.get,
	 * ..., never an X.*) may call them all, yet may not grant
	 * all.Application, which would hand out application.debug. With the
	 * family umbrellas all.Application covers, it may. */
	{
		const char *own[512];
		size_t nown = 0;
		struct policy_scopeset set;
		struct grant_caller c;
		int id = policy_scope_lookup(policy, "all.Application", 15);

		CU_ASSERT_FATAL(id >= 0);
		for (size_t i = 0; i < policy_action_count(policy); i++) {
			const struct policy_action *pa = policy_action_at(policy, i);
			if (policy_scopeset_has(&pa->allow, (size_t)id) && nown < 512)
				own[nown++] = pa->scopes[pa->nscopes - 1];
		}
		CU_ASSERT(nown > 150);
		policy_scopeset_from_names(policy, own, nown, &set);
		for (size_t i = 0; i < policy_action_count(policy); i++) {
			const struct policy_action *pa = policy_action_at(policy, i);
			if (policy_scopeset_has(&pa->allow, (size_t)id))
				check(policy_scopeset_intersects(&pa->allow, &set),
				    "own scopes allow %s", pa->name);
		}
		c.set = &set;
		c.names = own;
		c.nnames = nown;
		CU_ASSERT_FALSE(grantmap_grantable(g, &c, "all.Application", 15));
		CU_ASSERT_FALSE(grantmap_grantable(g, &c, "application.*", 13));
		CU_ASSERT_FALSE(grantmap_grantable(g, &c, "application.debug", 17));
		CU_ASSERT(grantmap_grantable(g, &c, "application.get", 15));
		for (size_t i = 0; i < policy_scope_count(policy); i++) {
			const char *name = policy_scope_name(policy, i);
			size_t len = strlen(name);
			if (len > 2 && strcmp(name + len - 2, ".*") == 0 &&
			    can_grant(g, "all.Application", name) && nown < 512) {
				own[nown++] = name;
				policy_scopeset_add(&set, i);
			}
		}
		c.nnames = nown;
		CU_ASSERT(grantmap_grantable(g, &c, "all.Application", 15));
		CU_ASSERT(grantmap_grantable(g, &c, "application.debug", 17));
		CU_ASSERT_FALSE(grantmap_grantable(g, &c, "org.invoices", 12));
	}
	json_decref(schema);
	free(path);
	grantmap_free(g);
}

/* Literal segments win; methods select among same-shaped templates. */
static void
test_precedence(void)
{
	static const struct {
		const char *method, *target, *action;
	} cases[] = {
		{ "GET", "/applications/" HEXID "/devices/tagKeys", "devices.tagKeys" },
		{ "GET", "/applications/" HEXID "/devices/" HEXID, "device.get" },
		{ "POST", "/applications/" HEXID "/devices/delete", "devices.delete" },
		{ "DELETE", "/applications/" HEXID "/devices/" HEXID, "device.delete" },
		{ "GET", "/applicationTemplates/categories", "applicationTemplates.getCategories" },
		{ "POST", "/applications/import", "applications.import" },
		{ "GET", "/applications/" HEXID, "application.get" },
		/* Method-aware: a version named "delete" is a flow version. */
		{ "GET", "/applications/" HEXID "/flows/" HEXID "/versions/delete", "flowVersion.get" },
		{ "POST", "/applications/" HEXID "/flows/" HEXID "/versions/delete", "flowVersions.delete" },
		{ "POST", "/auth/user", "auth.authenticateUser" },
		{ "GET", "/invites", "orgInvites.get" },
	};
	struct canon_target t;
	struct policy_match m;
	char allow[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(route(cases[i].method, cases[i].target, &t, &m), 0);
		check(m.status == POLICY_MATCH_OK && m.action &&
		    strcmp(m.action->name, cases[i].action) == 0, "%s %s -> %s, got %s",
		    cases[i].method, cases[i].target, cases[i].action,
		    m.action ? m.action->name : "nothing");
	}
	/* 405 with the methods of every template the path matches. */
	CU_ASSERT_EQUAL(route("PUT", "/applications/" HEXID "/devices/tagKeys", &t, &m), 0);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_METHOD_NOT_ALLOWED);
	CU_ASSERT_STRING_EQUAL(policy_allow_header(m.allowed, allow, sizeof(allow)),
	    "GET, HEAD, PATCH, DELETE");
	CU_ASSERT_EQUAL(route("DELETE", "/auth/user", &t, &m), 0);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_METHOD_NOT_ALLOWED);
	CU_ASSERT_STRING_EQUAL(policy_allow_header(m.allowed, allow, sizeof(allow)), "POST");
	CU_ASSERT_EQUAL(route("TRACE", "/auth/user", &t, &m), 0);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_METHOD_NOT_ALLOWED);
	/* 404s: unknown path, too short, too long, root. */
	CU_ASSERT_EQUAL(route("GET", "/nope", &t, &m), 0);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_NO_ROUTE);
	CU_ASSERT_EQUAL(route("GET", "/applications/" HEXID "/devices/" HEXID "/x/y", &t, &m), 0);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_NO_ROUTE);
	CU_ASSERT_EQUAL(route("GET", "/", &t, &m), 0);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_NO_ROUTE);
	/* A wrongly typed id where a literal is expected is no literal. */
	CU_ASSERT_EQUAL(route("DELETE", "/applications/" HEXID "/devices/tagKeys", &t, &m), 0);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_OK);
	CU_ASSERT_STRING_EQUAL(m.action->name, "device.delete");
	CU_ASSERT_EQUAL(m.bad_param, 1);
}

int
main(void)
{
	CU_pSuite s;
	int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("losant_policy", setup, teardown);
	CU_add_test(s, "every action", test_every_action);
	CU_add_test(s, "generated extras", test_generated_extras);
	CU_add_test(s, "precedence", test_precedence);
	CU_add_test(s, "token grants", test_token_grants);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = (int)CU_get_number_of_failures();
	if (CU_get_number_of_suites_failed() > 0)
		failures++;
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
