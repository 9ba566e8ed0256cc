/* policy.h: the authorization policy: actions (method + path template),
 * their scope allowlists, parameter types, body schemas, claim bindings and
 * token lifecycle effects, loaded strictly from JSON (see doc/policy.md).
 *
 * A struct policy is immutable after policy_load() and may be shared
 * read-only between threads. Per request, policy_match() and the scope set
 * functions do no allocation: results go to caller-provided structs. */
#ifndef SCOPEGATE_POLICY_H
#define SCOPEGATE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "canon.h"
#include "defaults.h"
#include "jsonconf.h"

enum policy_method {
	POLICY_M_GET,
	POLICY_M_HEAD,
	POLICY_M_POST,
	POLICY_M_PUT,
	POLICY_M_PATCH,
	POLICY_M_DELETE,
	POLICY_M_OPTIONS,
	POLICY_M_COUNT,
	POLICY_M_OTHER = POLICY_M_COUNT	/* any other method: never matches */
};

enum policy_param_type {
	POLICY_PARAM_STRING,	/* any non-empty canonical segment */
	POLICY_PARAM_OBJECTID,	/* exactly 24 hex digits */
	POLICY_PARAM_INTEGER,	/* decimal digits, optional leading "-", at most 19 */
	POLICY_PARAM_UUID,	/* 8-4-4-4-12 hex digits (RFC 9562 text form) */
};

/* When the upstream confirms a lifecycle change, revoke the token named by
 * a path parameter (the work itself belongs to the revocation module). */
enum policy_effect_on {
	POLICY_EFFECT_DELETE,		/* "delete": a successful DELETE */
	POLICY_EFFECT_PATCH_STATUS,	/* "patch_status": PATCH to status inactive */
};

struct policy_effect {
	enum policy_effect_on on;
	size_t param;			/* index into the action's params */
	const char *param_name;
};

/* How a binding compares the path parameter with its claim. */
enum policy_bind_match {
	POLICY_BIND_EQUAL,		/* "equal": the claim is that string */
	POLICY_BIND_MEMBER,		/* "member": an array claim has it */
};

/* Where a binding's value comes from: the token's claims, or the verified
 * client certificate (claims "mtls.subject" / "mtls.fingerprint", which a
 * token can never supply). */
enum policy_bind_source {
	POLICY_BIND_CLAIM,
	POLICY_BIND_MTLS_SUBJECT,
	POLICY_BIND_MTLS_FINGERPRINT,
};

/* A path parameter must equal a claim of the token (tenant isolation). */
struct policy_bind {
	size_t param;			/* index into the action's params */
	const char *param_name;
	char *claim;			/* as written: "org.id" */
	char **claim_path;		/* split at dots: {"org", "id"} */
	size_t claim_depth;
	enum policy_bind_match match;
	enum policy_bind_source source;
};

/* A set of interned scopes (a token's scopes, an action's allowlist). Plain
 * data: declare it on the stack and fill it with policy_scopeset_*(). */
struct policy_scopeset {
	uint64_t w[(SG_POLICY_MAX_SCOPES + 63) / 64];
};

/* One action of the policy; read-only for callers. */
struct policy_action {
	char *name;			/* "applicationApiToken.delete" */
	size_t index;			/* position in the policy file */
	enum policy_method method;
	char *path;			/* the template as written */
	size_t nsegs;			/* template segments */
	size_t nparams;
	char *param_names[SG_POLICY_MAX_PARAMS];	/* in path order */
	enum policy_param_type param_types[SG_POLICY_MAX_PARAMS];
	size_t param_pos[SG_POLICY_MAX_PARAMS];	/* segment index of each */
	int public;			/* no token needed */
	int sse;			/* responds with Server-Sent Events */
	int64_t max_body_bytes;		/* request body limit; -1: limits.max_body_bytes */
	char *body_schema;		/* schema name, NULL without a body */
	char *body_schema_path;		/* <schemas_dir>/<name>.json */
	struct policy_bind *binds;
	size_t nbinds;
	struct policy_effect *effects;
	size_t neffects;
	int creates_token;		/* mints tokens: no scope escalation */
	char *token_scope_field;	/* body member listing the new scopes */
	/* What the upstream grants when scope_field is absent or null. */
	char **token_default_scopes;
	size_t ntoken_default_scopes;
	int allow_query_method;		/* "_method" may be in the query */
	const char **scopes;		/* allowlist, file order (interned) */
	uint16_t *scope_ids;
	size_t nscopes;
	struct policy_scopeset allow;	/* the allowlist as a bitset */
	/* "scopes" entries that are arrays: sets a token must hold all of
	 * (an OpenAPI requirement naming several scopes), each also as a
	 * display name "a+b". */
	struct policy_scopeset *all_of;
	char **all_of_names;
	size_t nall_of;
};

struct policy;

/* Load a policy file: NULL on error, with every problem added to jc->errs
 * (jc->file names the file in messages). schemas_dir is relative to the
 * directory of path. The caller owns the result (policy_free). */
struct policy *policy_load(struct jsonconf *jc, const char *path);
/* The same from memory; basedir resolves a relative schemas_dir (NULL:
 * body schemas cannot be resolved and are errors). */
struct policy *policy_load_buffer(struct jsonconf *jc, const char *buf,
    size_t len, const char *basedir);
void policy_free(struct policy *p);

/* The actions, in file order; NULL when out of range / not found. */
size_t policy_action_count(const struct policy *p);
const struct policy_action *policy_action_at(const struct policy *p, size_t i);
/* The configuration's route_settings (cfg_upstreams.c), at load only. */
void policy_action_set_max_body(struct policy *p, size_t i, int64_t max);
const struct policy_action *policy_action_find(const struct policy *p,
    const char *name);
/* The resolved schemas directory, or NULL when the policy has none. */
const char *policy_schemas_dir(const struct policy *p);

/* Methods: parse an exact (case-sensitive, RFC 9110) method token of len
 * bytes, POLICY_M_OTHER when unknown; and back to its name. */
enum policy_method policy_method_parse(const char *s, size_t len);
const char *policy_method_name(enum policy_method m);
/* Write "GET, PATCH" for a mask of (1 << method) bits into buf (always
 * NUL-terminated when size > 0); returns buf. */
char *policy_allow_header(unsigned mask, char *buf, size_t size);

/* Interned scopes. policy_scope_lookup returns the id of the scope name
 * (len bytes) or -1 when no action mentions it. */
size_t policy_scope_count(const struct policy *p);
const char *policy_scope_name(const struct policy *p, size_t id);
int policy_scope_lookup(const struct policy *p, const char *name, size_t len);

void policy_scopeset_clear(struct policy_scopeset *s);
void policy_scopeset_add(struct policy_scopeset *s, size_t id);
int policy_scopeset_has(const struct policy_scopeset *s, size_t id);
/* The first of a's all-of scope sets that s holds whole, or -1. */
int policy_all_of_held(const struct policy_action *a,
    const struct policy_scopeset *s);
int policy_scopeset_intersects(const struct policy_scopeset *a,
    const struct policy_scopeset *b);
/* A token's scope strings to a set, once per token: names unknown to the
 * policy are ignored (they cannot match anything). */
void policy_scopeset_from_names(const struct policy *p,
    const char *const *names, size_t n, struct policy_scopeset *out);
/* Does an umbrella scope of the set cover the scope name (len bytes) by
 * the policy's "covers"? Meant for names the policy does not know: a known
 * scope is judged by the actions it allows. Returns the umbrella's id, or
 * -1. */
int policy_scope_covered(const struct policy *p, const struct policy_scopeset *s,
    const char *name, size_t len);
/* Does the set cover every name that scope `umbrella` covers (it holds
 * the umbrella, or umbrellas whose patterns take in each of its own)?
 * Granting an umbrella grants what it covers. */
int policy_covers_within(const struct policy *p, size_t umbrella,
    const struct policy_scopeset *s);
/* The scopes that allow the action, in allowlist order (for `explain`);
 * *n gets the count (0 for public actions). */
const char *const *policy_scopes_allowing(const struct policy *p,
    const struct policy_action *a, size_t *n);

/* Route matching. */
enum policy_match_status {
	POLICY_MATCH_OK,
	POLICY_MATCH_NO_ROUTE,		/* 404 */
	POLICY_MATCH_METHOD_NOT_ALLOWED,	/* 405, see allowed */
};

/* A parameter value: a slice of the request target, still percent-encoded. */
struct policy_param_value {
	const char *ptr;
	size_t len;
};

struct policy_match {
	enum policy_match_status status;
	const struct policy_action *action;	/* POLICY_MATCH_OK only */
	size_t nparams;
	struct policy_param_value params[SG_POLICY_MAX_PARAMS]; /* action order */
	int bad_param;		/* first param failing its type, or -1 */
	unsigned allowed;	/* methods for the Allow header (405) */
};

/* Match method and canonical target segments. Parameters are type-checked
 * here but a bad one does not fail the match (bad_param is set): the
 * decision order puts 401 before 400 (see authz_decide()). */
void policy_match(const struct policy *p, enum policy_method method,
    const struct canon_segment *segs, size_t nsegs, struct policy_match *out);

/* Type check one raw (percent-encoded) parameter value; 1 when valid. */
int policy_param_valid(enum policy_param_type type, const char *v, size_t len);
const char *policy_param_type_name(enum policy_param_type type);

#endif
