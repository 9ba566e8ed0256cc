/* test_policy.c: strict policy loading (data-driven: every
 * tests/data/policy/bad/NAME.json must fail with each line of NAME.expect
 * among the errors), then matching and the authorization decision on a
 * small policy using every feature (tests/data/policy/good/features.json). */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "authz.h"
#include "canon.h"
#include "errlist.h"
#include "jsonconf.h"
#include "override.h"
#include "policy.h"

#define HEX "5f0c8e1d2a3b4c5d6e7f8a9b"
#define HEX2 "0123456789abcdefABCDEF00"

static char *
datapath(const char *rel)
{
	const char *top = getenv("top_srcdir");
	char *p;

	if (asprintf(&p, "%s/tests/data/policy/%s", top ? top : ".", rel) < 0)
		abort();
	return p;
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	char *out = NULL;
	size_t len = 0;

	if (fp == NULL)
		return NULL;
	while ((n = getline(&buf, &cap, fp)) > 0) {
		out = realloc(out, len + (size_t)n + 1);
		memcpy(out + len, buf, (size_t)n + 1);
		len += (size_t)n;
	}
	free(buf);
	fclose(fp);
	return out;
}

static int
has_error(const struct errlist *el, const char *want)
{
	for (size_t i = 0; i < el->n; i++)
		if (strstr(el->msgs[i], want) != NULL)
			return 1;
	return 0;
}

static void
test_bad_policies(void)
{
	char *dir = datapath("bad");
	struct dirent **ents;
	int n, ncases = 0, nexpect = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	CU_ASSERT_FATAL(n > 0);
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);
		char *path = NULL, *exp_path = NULL, *expect, *line, *save = NULL;
		struct errlist errs;
		struct jsonconf jc;
		struct policy *p;
		char shown[300];
		int ok = 1;

		if (len < 6 || strcmp(name + len - 5, ".json") != 0)
			goto next;
		ncases++;
		if (asprintf(&path, "%s/%s", dir, name) < 0 ||
		    asprintf(&exp_path, "%s/%.*s.expect", dir, (int)(len - 5), name) < 0)
			abort();
		snprintf(shown, sizeof(shown), "bad/%s", name);
		errlist_init(&errs);
		jc.file = shown;
		jc.errs = &errs;
		p = policy_load(&jc, path);
		CU_ASSERT_PTR_NULL(p);
		CU_ASSERT(errs.n > 0);
		if (p != NULL)
			ok = 0;
		policy_free(p);
		expect = slurp(exp_path);
		CU_ASSERT_PTR_NOT_NULL(expect);
		if (expect == NULL)
			ok = 0;
		for (line = expect ? strtok_r(expect, "\n", &save) : NULL; line;
		    line = strtok_r(NULL, "\n", &save)) {
			nexpect++;
			if (!has_error(&errs, line)) {
				fprintf(stderr, "\n  %s: missing error: %s", name, line);
				ok = 0;
			}
			CU_ASSERT(has_error(&errs, line));
		}
		if (!ok) {
			fprintf(stderr, "\n  %s: errors were:\n", name);
			errlist_print(&errs, stderr);
		}
		free(expect);
		errlist_free(&errs);
next:
		free(path);
		free(exp_path);
		free(ents[i]);
	}
	free(ents);
	free(dir);
	printf("\n  %d bad policies, %d expected errors\n", ncases, nexpect);
	CU_ASSERT(ncases >= 30);
}

static struct policy *features;

static int
setup(void)
{
	struct errlist errs;
	char *path = datapath("good/features.json");
	struct jsonconf jc = { .file = path, .errs = &errs };

	errlist_init(&errs);
	features = policy_load(&jc, path);
	errlist_print(&errs, stderr);
	errlist_free(&errs);
	free(path);
	return features ? 0 : -1;
}

static int
teardown(void)
{
	policy_free(features);
	return 0;
}

static void
test_loaded_fields(void)
{
	const struct policy_action *a;
	const char *const *names;
	size_t n;

	CU_ASSERT_EQUAL(policy_action_count(features), 16);
	a = policy_action_find(features, "thing.patch");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->method, POLICY_M_PATCH);
	CU_ASSERT_STRING_EQUAL(a->body_schema, "thing");
	CU_ASSERT(strstr(a->body_schema_path, "/schemas/thing.json") != NULL);
	CU_ASSERT_EQUAL(a->nparams, 2);
	CU_ASSERT_STRING_EQUAL(a->param_names[1], "thingId");
	CU_ASSERT_EQUAL(a->param_types[1], POLICY_PARAM_OBJECTID);
	CU_ASSERT_EQUAL(a->param_pos[1], 3);
	CU_ASSERT_EQUAL(a->neffects, 1);
	CU_ASSERT_EQUAL(a->effects[0].on, POLICY_EFFECT_PATCH_STATUS);
	CU_ASSERT_EQUAL(a->effects[0].param, 1);
	a = policy_action_find(features, "thing.delete");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->effects[0].on, POLICY_EFFECT_DELETE);
	CU_ASSERT_STRING_EQUAL(a->effects[0].param_name, "id");
	a = policy_action_find(features, "tokens.post");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT(a->creates_token);
	CU_ASSERT_STRING_EQUAL(a->token_scope_field, "scope");
	CU_ASSERT_EQUAL_FATAL(a->ntoken_default_scopes, 1);
	CU_ASSERT_STRING_EQUAL(a->token_default_scopes[0], "all.App");
	CU_ASSERT_FALSE(a->allow_query_method);
	CU_ASSERT(policy_action_find(features, "thing.get")->allow_query_method);
	a = policy_action_find(features, "member.get");
	CU_ASSERT_EQUAL(a->binds[0].match, POLICY_BIND_MEMBER);
	CU_ASSERT_EQUAL(a->binds[0].source, POLICY_BIND_CLAIM);
	CU_ASSERT_EQUAL(policy_action_find(features, "cert.get")->binds[0].source,
	    POLICY_BIND_MTLS_FINGERPRINT);
	CU_ASSERT_EQUAL(policy_action_find(features, "certsub.get")->binds[0].source,
	    POLICY_BIND_MTLS_SUBJECT);
	a = policy_action_find(features, "tokens.post");
	CU_ASSERT_FALSE(a->sse);
	CU_ASSERT(policy_action_find(features, "events.stream")->sse);
	a = policy_action_find(features, "things.get");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->nbinds, 1);
	CU_ASSERT_EQUAL(a->binds[0].claim_depth, 2);
	CU_ASSERT_STRING_EQUAL(a->binds[0].claim_path[0], "app");
	CU_ASSERT_STRING_EQUAL(a->binds[0].claim_path[1], "id");
	names = policy_scopes_allowing(features, policy_action_find(features, "thing.get"), &n);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(names[0], "all.App");
	CU_ASSERT_STRING_EQUAL(names[2], "thing.get");
	policy_scopes_allowing(features, policy_action_find(features, "auth.login"), &n);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT(policy_action_find(features, "auth.login")->public);
	CU_ASSERT_PTR_NULL(policy_action_find(features, "nope"));
	CU_ASSERT_PTR_NULL(policy_action_at(features, 16));
	CU_ASSERT(strstr(policy_schemas_dir(features), "good/../schemas") != NULL);
}

static void
test_scopes(void)
{
	const char *names[] = { "thing.*", "unknown.scope", "all.App" };
	struct policy_scopeset s, t;
	int id;

	/* 5 distinct names in features.json. */
	CU_ASSERT_EQUAL(policy_scope_count(features), 5);
	id = policy_scope_lookup(features, "thing.*", 7);
	CU_ASSERT(id >= 0);
	CU_ASSERT_STRING_EQUAL(policy_scope_name(features, (size_t)id), "thing.*");
	/* Lookups by length, not by terminator; prefixes do not match. */
	CU_ASSERT_EQUAL(policy_scope_lookup(features, "thing.*xyz", 7), id);
	CU_ASSERT_EQUAL(policy_scope_lookup(features, "thing.", 6), -1);
	CU_ASSERT_EQUAL(policy_scope_lookup(features, "thing.*x", 8), -1);
	CU_ASSERT_EQUAL(policy_scope_lookup(features, "all.app", 7), -1);	/* exact case */
	CU_ASSERT_EQUAL(policy_scope_lookup(features, "thing\0*", 7), -1);
	CU_ASSERT_PTR_NULL(policy_scope_name(features, 99));
	for (size_t i = 0; i < policy_scope_count(features); i++) {
		const char *nm = policy_scope_name(features, i);
		CU_ASSERT_EQUAL(policy_scope_lookup(features, nm, strlen(nm)), (int)i);
	}
	policy_scopeset_from_names(features, names, 3, &s);
	CU_ASSERT(policy_scopeset_has(&s, (size_t)id));
	CU_ASSERT(policy_scopeset_has(&s, (size_t)policy_scope_lookup(features, "all.App", 7)));
	CU_ASSERT_FALSE(policy_scopeset_has(&s,
	    (size_t)policy_scope_lookup(features, "things.get", 10)));
	policy_scopeset_clear(&t);
	CU_ASSERT_FALSE(policy_scopeset_intersects(&s, &t));
	policy_scopeset_add(&t, SG_POLICY_MAX_SCOPES - 1);
	CU_ASSERT(policy_scopeset_has(&t, SG_POLICY_MAX_SCOPES - 1));
	CU_ASSERT_FALSE(policy_scopeset_intersects(&s, &t));
	policy_scopeset_add(&t, SG_POLICY_MAX_SCOPES);	/* out of range: ignored */
	CU_ASSERT_FALSE(policy_scopeset_has(&t, SG_POLICY_MAX_SCOPES));
	policy_scopeset_add(&t, (size_t)id);
	CU_ASSERT(policy_scopeset_intersects(&s, &t));
}

/* Canonicalise and match against features.json. */
static void
match(const char *method, const char *target, struct canon_target *t,
    struct policy_match *m)
{
	CU_ASSERT_EQUAL_FATAL(canon_target(target, strlen(target), t), CANON_OK);
	policy_match(features, policy_method_parse(method, strlen(method)), t->segs,
	    t->nsegs, m);
}

static void
test_matching(void)
{
	static const struct {
		const char *method, *target, *action;
	} cases[] = {
		{ "GET", "/apps/" HEX "/things", "things.get" },
		{ "GET", "/apps/" HEX "/things/search", "things.search" },
		{ "GET", "/apps/" HEX "/things/" HEX2, "thing.get" },
		{ "DELETE", "/apps/" HEX "/things/" HEX2, "thing.delete" },
		{ "PATCH", "/apps/" HEX "/things/" HEX2 "?x=1", "thing.patch" },
		{ "GET", "/apps/" HEX "/things/byName/foo%20bar", "thing.byName" },
		{ "GET", "/apps/" HEX "/things/byName/search", "thing.byName" },
		{ "POST", "/auth/login", "auth.login" },
		{ "GET", "/", "root" },
		{ "GET", "/?q", "root" },
		/* Backtracking: the literal "lit" leads nowhere for "y". */
		{ "GET", "/x/lit/y", "deep" },
		{ "GET", "/x/lit/z", "deep2" },
		{ "GET", "/x/other/y", "deep" },
		/* HEAD: GET's action wherever GET is, unless HEAD has its own. */
		{ "HEAD", "/apps/" HEX "/things", "things.get" },
		{ "HEAD", "/apps/" HEX "/things/" HEX2, "thing.get" },
		{ "HEAD", "/apps/" HEX "/things/search", "things.search.head" },
		{ "HEAD", "/apps/" HEX "/things/byName/search", "thing.byName" },
	};
	struct canon_target t;
	struct policy_match m;
	char allow[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		match(cases[i].method, cases[i].target, &t, &m);
		CU_ASSERT_EQUAL(m.status, POLICY_MATCH_OK);
		CU_ASSERT(m.action != NULL && strcmp(m.action->name, cases[i].action) == 0);
		if (m.action == NULL || strcmp(m.action->name, cases[i].action) != 0)
			fprintf(stderr, "\n  %s %s: got %s\n", cases[i].method,
			    cases[i].target, m.action ? m.action->name : "nothing");
	}

	/* Parameter values are raw slices of the target. */
	match("GET", "/apps/" HEX "/things/byName/foo%20bar", &t, &m);
	CU_ASSERT_EQUAL_FATAL(m.nparams, 2);
	CU_ASSERT_EQUAL(m.params[1].len, 9);
	CU_ASSERT_NSTRING_EQUAL(m.params[1].ptr, "foo%20bar", 9);
	CU_ASSERT_PTR_EQUAL(m.params[0].ptr, t.segs[1].ptr);
	CU_ASSERT_EQUAL(m.bad_param, -1);
	match("GET", "/x/lit/y", &t, &m);
	CU_ASSERT_EQUAL(m.nparams, 1);
	CU_ASSERT_NSTRING_EQUAL(m.params[0].ptr, "lit", 3);

	/* Types: a bad id still matches, flagged for a 400. */
	match("GET", "/apps/" HEX "/things/" HEX "0", &t, &m);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_OK);
	CU_ASSERT_EQUAL(m.bad_param, 1);
	match("GET", "/apps/xyz/things", &t, &m);
	CU_ASSERT_EQUAL(m.bad_param, 0);

	/* 405 with Allow, 404. */
	match("PUT", "/apps/" HEX "/things/" HEX, &t, &m);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_METHOD_NOT_ALLOWED);
	CU_ASSERT_PTR_NULL(m.action);
	CU_ASSERT_STRING_EQUAL(policy_allow_header(m.allowed, allow, sizeof(allow)),
	    "GET, HEAD, PATCH, DELETE");
	/* Where GET is allowed, Allow names HEAD too; where it is not, HEAD
	 * is not implied by anything else. */
	match("POST", "/apps/" HEX "/things", &t, &m);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_METHOD_NOT_ALLOWED);
	CU_ASSERT_STRING_EQUAL(policy_allow_header(m.allowed, allow, sizeof(allow)), "GET, HEAD");
	match("HEAD", "/auth/login", &t, &m);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_METHOD_NOT_ALLOWED);
	CU_ASSERT_STRING_EQUAL(policy_allow_header(m.allowed, allow, sizeof(allow)), "POST");
	match("HEAD", "/apps/" HEX, &t, &m);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_NO_ROUTE);
	match("get", "/auth/login", &t, &m);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_METHOD_NOT_ALLOWED);
	match("GET", "/apps/" HEX, &t, &m);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_NO_ROUTE);
	CU_ASSERT_EQUAL(m.allowed, 0);
	match("GET", "/apps/" HEX "/things/" HEX "/more", &t, &m);
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_NO_ROUTE);
	match("GET", "/Apps/" HEX "/things", &t, &m);	/* literals are exact */
	CU_ASSERT_EQUAL(m.status, POLICY_MATCH_NO_ROUTE);

	/* Allow header formatting and truncation. */
	CU_ASSERT_STRING_EQUAL(policy_allow_header(0, allow, sizeof(allow)), "");
	CU_ASSERT_STRING_EQUAL(policy_allow_header(1u << POLICY_M_GET | 1u << POLICY_M_DELETE,
	    allow, 9), "GET");
	CU_ASSERT_EQUAL(policy_method_parse("OPTIONS", 7), POLICY_M_OPTIONS);
	CU_ASSERT_EQUAL(policy_method_parse("GETX", 3), POLICY_M_GET);
	CU_ASSERT_EQUAL(policy_method_parse("GETX", 4), POLICY_M_OTHER);
	CU_ASSERT_STRING_EQUAL(policy_method_name(POLICY_M_PATCH), "PATCH");
}

static void
test_params(void)
{
	CU_ASSERT(policy_param_valid(POLICY_PARAM_OBJECTID, HEX, 24));
	CU_ASSERT(policy_param_valid(POLICY_PARAM_OBJECTID, HEX2, 24));
	CU_ASSERT_FALSE(policy_param_valid(POLICY_PARAM_OBJECTID, HEX, 23));
	CU_ASSERT_FALSE(policy_param_valid(POLICY_PARAM_OBJECTID, HEX "0", 25));
	CU_ASSERT_FALSE(policy_param_valid(POLICY_PARAM_OBJECTID, "5f0c8e1d2a3b4c5d6e7f8a9g", 24));
	CU_ASSERT_FALSE(policy_param_valid(POLICY_PARAM_OBJECTID, "5f0c8e1d2a3b4c5d6e7f8%39", 24));
	CU_ASSERT_FALSE(policy_param_valid(POLICY_PARAM_OBJECTID, "", 0));
	CU_ASSERT(policy_param_valid(POLICY_PARAM_STRING, "x", 1));
	CU_ASSERT_FALSE(policy_param_valid(POLICY_PARAM_STRING, "", 0));
	CU_ASSERT_STRING_EQUAL(policy_param_type_name(POLICY_PARAM_OBJECTID), "objectid");
}

/* Scope set from a space-separated list. */
static void
scopes_of(const char *list, struct policy_scopeset *s)
{
	const char *names[16];
	char *copy = strdup(list), *tok, *save = NULL;
	size_t n = 0;

	for (tok = strtok_r(copy, " ", &save); tok && n < 16; tok = strtok_r(NULL, " ", &save))
		names[n++] = tok;
	policy_scopeset_from_names(features, names, n, s);
	free(copy);
}

static void
test_decisions(void)
{
	static const struct {
		const char *method, *target;
		enum authz_token token;
		const char *scopes;	/* space-separated */
		const char *claims;	/* JSON */
		int status;		/* 0: allowed */
		const char *reason;
		const char *type;	/* error type, or the matched scope */
	} cases[] = {
		/* Route first. */
		{ "GET", "/nothing", AUTHZ_TOKEN_NONE, "", "{}", 404, "no_route", "NotFound" },
		{ "PUT", "/auth/login", AUTHZ_TOKEN_VALID, "all.App", "{}", 405,
		  "method_not_allowed", "MethodNotAllowed" },
		/* Public needs nothing, even with a bad token. */
		{ "POST", "/auth/login", AUTHZ_TOKEN_NONE, "", "{}", 0, "public", NULL },
		{ "POST", "/auth/login", AUTHZ_TOKEN_INVALID, "", "{}", 0, "public", NULL },
		/* Token before parameters, parameters before scopes. */
		{ "GET", "/apps/bad/things/" HEX, AUTHZ_TOKEN_NONE, "", "{}", 401,
		  "no_token", "Unauthorized" },
		{ "GET", "/apps/bad/things/" HEX, AUTHZ_TOKEN_INVALID, "", "{}", 401,
		  "invalid_token", "Unauthorized" },
		{ "GET", "/apps/bad/things/" HEX, AUTHZ_TOKEN_VALID, "nothing", "{}", 400,
		  "bad_param", "BadRequest" },
		{ "GET", "/apps/" HEX "/things/" HEX, AUTHZ_TOKEN_VALID, "things.get", "{}", 403,
		  "insufficient_scope", "Forbidden" },
		{ "GET", "/apps/" HEX "/things/" HEX, AUTHZ_TOKEN_VALID, "", "{}", 403,
		  "insufficient_scope", "Forbidden" },
		{ "GET", "/apps/" HEX "/things/" HEX, AUTHZ_TOKEN_VALID, "THING.GET thing.getx", "{}", 403,
		  "insufficient_scope", "Forbidden" },
		/* The first allowlist scope the token holds is reported. */
		{ "GET", "/apps/" HEX "/things/" HEX, AUTHZ_TOKEN_VALID, "thing.get", "{}", 0,
		  "scope", "thing.get" },
		{ "GET", "/apps/" HEX "/things/" HEX, AUTHZ_TOKEN_VALID, "thing.get thing.* x", "{}", 0,
		  "scope", "thing.*" },
		{ "GET", "/apps/" HEX "/things/" HEX, AUTHZ_TOKEN_VALID, "thing.get all.App", "{}", 0,
		  "scope", "all.App" },
		/* Claim bindings. */
		{ "GET", "/apps/" HEX "/things", AUTHZ_TOKEN_VALID, "things.get",
		  "{\"app\": {\"id\": \"" HEX "\"}}", 0, "scope", "things.get" },
		{ "GET", "/apps/" HEX "/things", AUTHZ_TOKEN_VALID, "things.get",
		  "{\"app\": {\"id\": \"" HEX2 "\"}}", 403, "binding_mismatch", "Forbidden" },
		{ "GET", "/apps/" HEX "/things", AUTHZ_TOKEN_VALID, "things.get",
		  "{\"app\": {\"id\": \"5F0C8E1D2A3B4C5D6E7F8A9B\"}}", 403, "binding_mismatch",
		  "Forbidden" },
		{ "GET", "/apps/" HEX "/things", AUTHZ_TOKEN_VALID, "things.get",
		  "{\"app\": {\"id\": \"" HEX "x\"}}", 403, "binding_mismatch", "Forbidden" },
		{ "GET", "/apps/" HEX "/things", AUTHZ_TOKEN_VALID, "things.get",
		  "{}", 403, "binding_mismatch", "Forbidden" },
		{ "GET", "/apps/" HEX "/things", AUTHZ_TOKEN_VALID, "things.get",
		  "{\"app\": \"" HEX "\"}", 403, "binding_mismatch", "Forbidden" },
		{ "GET", "/apps/" HEX "/things", AUTHZ_TOKEN_VALID, "things.get",
		  "{\"app\": {\"id\": [\"" HEX "\"]}}", 403, "binding_mismatch", "Forbidden" },
		{ "GET", "/apps/" HEX "/things", AUTHZ_TOKEN_VALID, "things.get",
		  "{\"app.id\": \"" HEX "\"}", 403, "binding_mismatch", "Forbidden" },
		/* Scopes are checked before bindings. */
		{ "GET", "/apps/" HEX "/things", AUTHZ_TOKEN_VALID, "thing.*",
		  "{\"app\": {\"id\": \"" HEX2 "\"}}", 403, "insufficient_scope", "Forbidden" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct canon_target t;
		struct policy_match m;
		struct policy_scopeset s;
		struct authz_decision d;
		json_t *claims = json_loads(cases[i].claims, 0, NULL);
		int ok;

		CU_ASSERT_PTR_NOT_NULL_FATAL(claims);
		match(cases[i].method, cases[i].target, &t, &m);
		scopes_of(cases[i].scopes, &s);
		authz_decide(&m, cases[i].token, &s, claims, NULL, &d);
		ok = d.allow == (cases[i].status == 0) && d.status == cases[i].status &&
		    strcmp(d.reason, cases[i].reason) == 0;
		if (cases[i].status == 0)
			ok = ok && (cases[i].type == NULL ? d.scope == NULL :
			    d.scope != NULL && strcmp(d.scope, cases[i].type) == 0) &&
			    d.error_type == NULL;
		else
			ok = ok && d.error_type && strcmp(d.error_type, cases[i].type) == 0 &&
			    d.message[0] != '\0';
		CU_ASSERT(ok);
		if (!ok)
			fprintf(stderr, "\n  case %zu %s %s: allow %d status %d reason %s "
			    "type %s scope %s msg %s\n", i, cases[i].method, cases[i].target,
			    d.allow, d.status, d.reason, d.error_type ? d.error_type : "-",
			    d.scope ? d.scope : "-", d.message);
		json_decref(claims);
	}
}

static void
test_decision_details(void)
{
	struct canon_target t;
	struct policy_match m;
	struct policy_scopeset s;
	struct authz_decision d;
	char allow[64];

	match("GET", "/apps/" HEX "/things/" HEX, &t, &m);
	authz_decide(&m, AUTHZ_TOKEN_NONE, NULL, NULL, NULL, &d);
	CU_ASSERT_STRING_EQUAL(d.bearer_error, "invalid_token");
	scopes_of("things.get", &s);
	authz_decide(&m, AUTHZ_TOKEN_VALID, &s, NULL, NULL, &d);
	CU_ASSERT_STRING_EQUAL(d.bearer_error, "insufficient_scope");
	CU_ASSERT(strstr(d.message, "thing.get") != NULL);
	match("GET", "/apps/" HEX "/things/" HEX "ff", &t, &m);
	scopes_of("thing.get", &s);
	authz_decide(&m, AUTHZ_TOKEN_VALID, &s, NULL, NULL, &d);
	CU_ASSERT_EQUAL(d.status, 400);
	CU_ASSERT(strstr(d.message, "thingId") != NULL);
	CU_ASSERT_PTR_NULL(d.bearer_error);
	match("POST", "/apps/" HEX "/things", &t, &m);
	authz_decide(&m, AUTHZ_TOKEN_VALID, &s, NULL, NULL, &d);
	CU_ASSERT_EQUAL(d.status, 405);
	CU_ASSERT_STRING_EQUAL(policy_allow_header(d.allowed_methods, allow, sizeof(allow)),
	    "GET, HEAD");
	/* A binding with no claims object at all is a mismatch, not a crash. */
	match("GET", "/apps/" HEX "/things", &t, &m);
	authz_decide(&m, AUTHZ_TOKEN_VALID, &s, NULL, NULL, &d);
	CU_ASSERT_EQUAL(d.status, 403);
	scopes_of("things.get", &s);
	authz_decide(&m, AUTHZ_TOKEN_VALID, &s, NULL, NULL, &d);
	CU_ASSERT_STRING_EQUAL(d.reason, "binding_mismatch");
}

/* Array claims ("member") and the client certificate (mtls.*), which a
 * token claim named "mtls" never stands in for. */
static void
test_bindings(void)
{
	static const struct {
		const char *target, *claims;
		int peer;		/* a verified client certificate */
		int allow;
	} cases[] = {
		{ "/member/" HEX, "{\"apps\": [\"" HEX2 "\", \"" HEX "\"]}", 0, 1 },
		{ "/member/" HEX, "{\"apps\": [\"" HEX2 "\"]}", 0, 0 },
		{ "/member/" HEX, "{\"apps\": []}", 0, 0 },
		{ "/member/" HEX, "{\"apps\": \"" HEX "\"}", 0, 0 },	/* not an array */
		{ "/member/" HEX, "{\"apps\": [[\"" HEX "\"]]}", 0, 0 },	/* nested */
		{ "/member/" HEX, "{\"apps\": [{\"id\": \"" HEX "\"}]}", 0, 0 },
		{ "/member/" HEX, "{\"apps\": [\"5F0C8E1D2A3B4C5D6E7F8A9B\"]}", 0, 0 },
		{ "/member/" HEX, "{\"apps\": [\"" HEX "x\"]}", 0, 0 },
		{ "/member/" HEX, "{}", 0, 0 },
		{ "/cert/abcd", "{}", 1, 1 },
		{ "/cert/abcd", "{}", 0, 0 },
		{ "/cert/abcd", "{\"mtls\": {\"fingerprint\": \"abcd\"}}", 0, 0 },
		{ "/cert/ABCD", "{\"mtls\": {\"fingerprint\": \"ABCD\"}}", 1, 0 },
		{ "/certsub/CN=x", "{}", 1, 1 },
		{ "/certsub/CN=x", "{\"mtls\": {\"subject\": \"CN=x\"}}", 0, 0 },
		{ "/certsub/CN=y", "{\"mtls\": {\"subject\": \"CN=y\"}}", 1, 0 },
	};
	const struct authz_peer peer = { "CN=x", "abcd" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct canon_target t;
		struct policy_match m;
		struct policy_scopeset s;
		struct authz_decision d;
		json_t *claims = json_loads(cases[i].claims, 0, NULL);

		CU_ASSERT_PTR_NOT_NULL_FATAL(claims);
		match("GET", cases[i].target, &t, &m);
		scopes_of("things.get", &s);
		authz_decide(&m, AUTHZ_TOKEN_VALID, &s, claims, cases[i].peer ? &peer : NULL, &d);
		CU_ASSERT_EQUAL(d.allow, cases[i].allow);
		if (d.allow != cases[i].allow)
			fprintf(stderr, "\n  binding case %zu: allow %d\n", i, d.allow);
		if (!cases[i].allow)
			CU_ASSERT_STRING_EQUAL(d.reason, "binding_mismatch");
		json_decref(claims);
	}
}

/* The method-override scan reads names the way the most lenient
 * framework would. */
static void
test_method_override(void)
{
	static const struct {
		const char *q;
		int found;
	} cases[] = {
		{ "_method=DELETE", 1 },
		{ "_method", 1 },
		{ "_method=", 1 },
		{ "a=1&_method=PUT", 1 },
		{ "a=1;_method=PUT", 1 },
		{ "_METHOD=PUT", 1 },
		{ "_MeThOd=PUT", 1 },
		{ "%5Fmethod=PUT", 1 },
		{ "%5fmethod=PUT", 1 },
		{ "_%6Dethod=PUT", 1 },
		{ "_metho%64", 1 },
		{ "_metho%44", 1 },
		{ "+_method=PUT", 1 },
		{ "%20%20_method=PUT", 1 },
		{ ".method=PUT", 1 },
		{ "%2Emethod=PUT", 1 },
		{ "+method=PUT", 0 },	/* PHP drops the leading space */
		{ "[method=PUT", 1 },
		{ "_method[]=PUT", 1 },
		{ "_method%5B%5D=PUT", 1 },
		{ "_method.x=PUT", 1 },
		{ "_method+=PUT", 1 },
		{ "_method_x=1", 1 },
		{ "x=1&&_method", 1 },
		{ "", 0 },
		{ "a=_method", 0 },
		{ "a=1&b=_method", 0 },
		{ "_methods=1", 0 },
		{ "_method2=1", 0 },
		{ "method=PUT", 0 },
		{ "x_method=PUT", 0 },
		{ "__method=PUT", 0 },
		{ "_metho=PUT", 0 },
		{ "_metho%", 0 },
		{ "_metho%6", 0 },
		{ "%", 0 },
		{ "&;&;", 0 },
		{ "_method%6", 1 },	/* '%' is not a letter or digit */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = override_query_has_method(cases[i].q, strlen(cases[i].q));
		CU_ASSERT_EQUAL(got, cases[i].found);
		if (got != cases[i].found)
			fprintf(stderr, "\n  override case %zu \"%s\": %d\n", i, cases[i].q, got);
	}
	/* Only len bytes are read: the name is cut before "od". */
	CU_ASSERT_EQUAL(override_query_has_method("_method", 5), 0);
	CU_ASSERT_EQUAL(override_query_has_method(NULL, 0), 0);
	/* A NUL byte is just another character. */
	CU_ASSERT_EQUAL(override_query_has_method("a\0&_method", 10), 1);
	CU_ASSERT_EQUAL(override_query_has_method("_method\0", 8), 1);
	CU_ASSERT_EQUAL(override_query_has_method("\0_method", 8), 0);
	/* Other names, read the same way. */
	CU_ASSERT(override_query_has_name("a=1&scope=all.Application", 25, "scope"));
	CU_ASSERT(override_query_has_name("Scope[]=x", 9, "scope"));
	CU_ASSERT(override_query_has_name("%73cope[0]=x", 12, "scope"));
	/* A leading bracket (qs, Rack) hides nothing (red team). */
	CU_ASSERT(override_query_has_name("[scope]=x", 9, "scope"));
	CU_ASSERT(override_query_has_name("a=1&[scope][]=x", 15, "scope"));
	CU_ASSERT(override_query_has_name("%5Bscope%5D=x", 13, "scope"));
	CU_ASSERT(override_query_has_name("]][[scope=x", 11, "scope"));
	CU_ASSERT(override_query_has_method("[_method]=DELETE", 16));
	CU_ASSERT(override_query_has_method("%5b_method%5d=DELETE", 20));
	CU_ASSERT(!override_query_has_name("a[scope]=x", 10, "scope"));
	CU_ASSERT(!override_query_has_name("[scopes]=x", 10, "scope"));
	CU_ASSERT(override_query_has_name("scope", 5, "Scope"));
	CU_ASSERT(override_query_has_name("my_field=1", 10, "my-field") == 0);
	CU_ASSERT(override_query_has_name("my-field=1", 10, "my-field"));
	CU_ASSERT_FALSE(override_query_has_name("scopes=x", 8, "scope"));
	CU_ASSERT_FALSE(override_query_has_name("x=scope", 7, "scope"));
	CU_ASSERT_FALSE(override_query_has_name("scope=x", 7, ""));
	CU_ASSERT_FALSE(override_query_has_name("scope=x", 7, NULL));
}

static void
test_load_buffer(void)
{
	static const char good[] = "{\"actions\": [{\"action\": \"a\", \"method\": \"GET\", "
	    "\"path\": \"/a/{x}\", \"scopes\": [\"s\"], \"params\": {\"x\": \"string\"}}]}";
	static const char rel[] = "{\"schemas_dir\": \"s\", \"actions\": [{\"action\": \"a\", "
	    "\"method\": \"GET\", \"path\": \"/a\", \"public\": true}]}";
	struct errlist errs;
	struct jsonconf jc = { .file = "mem", .errs = &errs };
	struct policy *p;

	errlist_init(&errs);
	p = policy_load_buffer(&jc, good, sizeof(good) - 1, NULL);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_EQUAL(errs.n, 0);
	CU_ASSERT_PTR_NULL(p ? policy_schemas_dir(p) : "x");
	policy_free(p);
	p = policy_load_buffer(&jc, rel, sizeof(rel) - 1, NULL);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT(has_error(&errs, "mem: /schemas_dir: relative path"));
	policy_free(p);
	p = policy_load_buffer(&jc, rel, sizeof(rel) - 1, "/etc/scopegate");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(policy_schemas_dir(p), "/etc/scopegate/s");
	policy_free(p);
	errlist_free(&errs);
	/* A missing file. */
	errlist_init(&errs);
	CU_ASSERT_PTR_NULL(policy_load(&jc, "/nonexistent/policy.json"));
	CU_ASSERT(has_error(&errs, "cannot open"));
	errlist_free(&errs);
}

int
main(void)
{
	CU_pSuite s;
	int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("policy_load", NULL, NULL);
	CU_add_test(s, "bad policies", test_bad_policies);
	CU_add_test(s, "method override", test_method_override);
	CU_add_test(s, "load from buffer", test_load_buffer);
	CU_add_test(s, "param types", test_params);
	s = CU_add_suite("policy_match", setup, teardown);
	CU_add_test(s, "loaded fields", test_loaded_fields);
	CU_add_test(s, "scopes", test_scopes);
	CU_add_test(s, "matching", test_matching);
	CU_add_test(s, "decisions", test_decisions);
	CU_add_test(s, "decision details", test_decision_details);
	CU_add_test(s, "bindings", test_bindings);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = (int)CU_get_number_of_failures();
	if (CU_get_number_of_suites_failed() > 0)
		failures++;
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
