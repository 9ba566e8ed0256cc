/* policy_load.c: strict loading of the policy file (format in
 * doc/policy.md). Every problem is reported with the JSON pointer of the
 * offending value, and loading goes on so that all of them are listed. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy.h"
#include "policy_int.h"
#include "xmalloc.h"

struct loader {
	struct jsonconf *jc;
	struct policy *p;
	json_t *scope_ids;	/* scope name -> id, while loading */
	json_t *schemas;	/* schema name -> true (usable) / false */
	json_t *names;		/* action name -> index */
	int scopes_full;	/* the scope table overflowed (reported once) */
};

static const struct jsonconf_key top_keys[] = {
	{ "comment", JC_STRING, 0 },
	{ "schemas_dir", JC_STRING, 0 },
	{ "covers", JC_OBJECT, 0 },
	{ "actions", JC_ARRAY, 1 },
	{ NULL, JC_ANY, 0 },
};

static const struct jsonconf_key action_keys[] = {
	{ "action", JC_STRING, 1 },
	{ "method", JC_STRING, 1 },
	{ "path", JC_STRING, 1 },
	{ "scopes", JC_ARRAY, 0 },
	{ "public", JC_BOOLEAN, 0 },
	{ "params", JC_OBJECT, 0 },
	{ "body", JC_OBJECT, 0 },
	{ "sse", JC_BOOLEAN, 0 },
	{ "bind", JC_ARRAY, 0 },
	{ "effects", JC_ARRAY, 0 },
	{ "creates_token", JC_OBJECT, 0 },
	{ "allow_query", JC_ARRAY, 0 },
	{ "max_body_bytes", JC_INTEGER, 0 },
	{ "comment", JC_STRING, 0 },
	{ NULL, JC_ANY, 0 },
};

static const struct jsonconf_key body_keys[] = {
	{ "schema", JC_STRING, 1 },
	{ NULL, JC_ANY, 0 },
};

static const struct jsonconf_key bind_keys[] = {
	{ "param", JC_STRING, 1 },
	{ "claim", JC_STRING, 1 },
	{ "match", JC_STRING, 0 },
	{ NULL, JC_ANY, 0 },
};

static const struct jsonconf_key effect_keys[] = {
	{ "on", JC_STRING, 1 },
	{ "revoke_param", JC_STRING, 1 },
	{ NULL, JC_ANY, 0 },
};

static const struct jsonconf_key creates_token_keys[] = {
	{ "scope_field", JC_STRING, 1 },
	{ "default_scopes", JC_ARRAY, 1 },
	{ NULL, JC_ANY, 0 },
};

/* A JSON string without NUL, as a C string; NULL otherwise. */
static const char *
cstring(const json_t *v)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Action, schema and parameter names: letters, digits and a few marks. */
static int
valid_name(const char *s, const char *extra)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!is_alpha(*s) && !is_digit(*s) && strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

/* A literal template segment: characters allowed raw in a canonical path
 * segment (no '%': an escaped literal could never be matched) and not a
 * dot segment. */
static int
valid_literal(const char *s, size_t len)
{
	size_t dots = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.')
			dots++;
		else if (!is_alpha(c) && !is_digit(c) &&
		    strchr("-_~!$&'()*+,;=:@", c) == NULL)
			return 0;
	}
	return len > 0 && dots < len;
}

/* RFC 6749 scope-token: visible ASCII but '"' and '\'. */
static int
valid_scope(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
			return 0;
	}
	return 1;
}

static int
param_index(const struct policy_action *a, const char *name)
{
	for (size_t i = 0; i < a->nparams; i++)
		if (strcmp(a->param_names[i], name) == 0)
			return (int)i;
	return -1;
}

/* Parse the path template into a's segments and parameters and into segs
 * (slices of a->path) for the trie. Returns 0, or -1 after reporting. */
static int
parse_template(struct loader *ld, const char *ptr, struct policy_action *a,
    struct route_seg *segs)
{
	const char *s = a->path, *end = s + strlen(s);
	int rc = -1;

	a->nsegs = 0;
	a->nparams = 0;
	if (*s != '/') {
		jsonconf_error(ld->jc, ptr, "must start with '/'");
		goto out;
	}
	if (strcmp(s, "/") == 0) {
		rc = 0;
		goto out;
	}
	for (const char *seg = s + 1;;) {
		const char *slash = strchr(seg, '/');
		const char *send = slash ? slash : end;
		size_t len = (size_t)(send - seg);

		if (len == 0) {
			jsonconf_error(ld->jc, ptr, "empty segment in \"%s\"%s", s,
			    slash ? "" : " (no trailing '/')");
			goto out;
		}
		if (a->nsegs == SG_MAX_PATH_SEGMENTS) {
			jsonconf_error(ld->jc, ptr, "more than %d segments",
			    SG_MAX_PATH_SEGMENTS);
			goto out;
		}
		if (seg[0] == '{') {
			char *name = xstrndup(seg + 1, len - 1);
			int ok = len > 2 && seg[len - 1] == '}';
			if (ok)
				name[len - 2] = '\0';
			if (!ok || !valid_name(name, "_") || is_digit(name[0])) {
				jsonconf_error(ld->jc, ptr, "bad parameter segment \"%.*s\": "
				    "want {name} with letters, digits, '_'", (int)len, seg);
				free(name);
				goto out;
			}
			if (param_index(a, name) >= 0) {
				jsonconf_error(ld->jc, ptr, "parameter {%s} appears twice", name);
				free(name);
				goto out;
			}
			if (a->nparams == SG_POLICY_MAX_PARAMS) {
				jsonconf_error(ld->jc, ptr, "more than %d parameters",
				    SG_POLICY_MAX_PARAMS);
				free(name);
				goto out;
			}
			a->param_names[a->nparams] = name;
			a->param_types[a->nparams] = POLICY_PARAM_STRING;
			a->param_pos[a->nparams] = a->nsegs;
			a->nparams++;
			segs[a->nsegs].lit = NULL;
			segs[a->nsegs].len = 0;
		} else {
			if (!valid_literal(seg, len)) {
				jsonconf_error(ld->jc, ptr, "bad literal segment \"%.*s\"",
				    (int)len, seg);
				goto out;
			}
			segs[a->nsegs].lit = seg;
			segs[a->nsegs].len = len;
		}
		a->nsegs++;
		if (slash == NULL)
			break;
		seg = slash + 1;
	}
	rc = 0;
out:
	return rc;
}

/* The id of a scope name, interning it on first sight; -1 when full. */
static int
intern_scope(struct loader *ld, const char *name)
{
	struct policy *p = ld->p;
	json_t *v = json_object_get(ld->scope_ids, name);

	if (v != NULL)
		return (int)json_integer_value(v);
	if (p->nscopes == SG_POLICY_MAX_SCOPES)
		return -1;
	p->scope_names = xreallocarray(p->scope_names, p->nscopes + 1,
	    sizeof(*p->scope_names));
	p->scope_names[p->nscopes] = xstrdup(name);
	if (json_object_set_new(ld->scope_ids, name,
	    json_integer((json_int_t)p->nscopes)) != 0)
		abort();	/* out of memory, as in xmalloc */
	return (int)p->nscopes++;
}

/* A "scopes" entry that is an array: at least two distinct scopes, all
 * of which a token must hold. */
static int
parse_all_of(struct loader *ld, const char *sp, const json_t *arr,
    struct policy_action *a)
{
	struct policy_scopeset set;
	size_t i, len = 1;
	json_t *v;
	char *name;
	int rc = 0;

	policy_scopeset_clear(&set);
	if (json_array_size(arr) < 2) {
		jsonconf_error(ld->jc, sp, "a set of scopes held together needs at "
		    "least two (a single scope is a string)");
		return -1;
	}
	json_array_foreach(arr, i, v) {
		char *ep = jsonconf_ptr_index(sp, i);
		const char *s = cstring(v);
		int id;

		if (s == NULL || !valid_scope(s)) {
			jsonconf_error(ld->jc, ep, "must be a scope name (visible "
			    "ASCII, no space, '\"' or '\\')");
			rc = -1;
		} else if ((id = intern_scope(ld, s)) < 0) {
			if (!ld->scopes_full++)
				jsonconf_error(ld->jc, ep, "more than %d distinct scopes",
				    SG_POLICY_MAX_SCOPES);
			rc = -1;
		} else if (policy_scopeset_has(&set, (size_t)id)) {
			jsonconf_error(ld->jc, ep, "duplicate scope \"%s\"", s);
			rc = -1;
		} else {
			policy_scopeset_add(&set, (size_t)id);
			len += strlen(s) + 1;
		}
		free(ep);
	}
	if (rc != 0)
		return rc;
	name = xmalloc(len);
	name[0] = '\0';
	json_array_foreach(arr, i, v) {
		if (i > 0)
			strcat(name, "+");
		strcat(name, json_string_value(v));
	}
	a->all_of = xreallocarray(a->all_of, a->nall_of + 1, sizeof(*a->all_of));
	a->all_of_names = xreallocarray(a->all_of_names, a->nall_of + 1,
	    sizeof(*a->all_of_names));
	a->all_of[a->nall_of] = set;
	a->all_of_names[a->nall_of++] = name;
	return 0;
}

static int
parse_scopes(struct loader *ld, const char *aptr, const json_t *arr,
    struct policy_action *a)
{
	char *ptr = jsonconf_ptr_key(aptr, "scopes");
	size_t n = arr ? json_array_size(arr) : 0, i;
	json_t *v;
	int rc = 0;

	if (a->public && n > 0) {
		jsonconf_error(ld->jc, ptr, "a public action takes no scopes");
		rc = -1;
		goto out;
	}
	if (!a->public && n == 0) {
		jsonconf_error(ld->jc, ptr, "must list at least one scope "
		    "(or mark the action public)");
		rc = -1;
		goto out;
	}
	a->scopes = xcalloc(n ? n : 1, sizeof(*a->scopes));
	a->scope_ids = xcalloc(n ? n : 1, sizeof(*a->scope_ids));
	json_array_foreach(arr, i, v) {
		char *sp = jsonconf_ptr_index(ptr, i);
		const char *name = cstring(v);
		int id;

		if (json_is_array(v)) {
			if (parse_all_of(ld, sp, v, a) != 0)
				rc = -1;
		} else if (name == NULL || !valid_scope(name)) {
			jsonconf_error(ld->jc, sp, "must be a scope name (visible "
			    "ASCII, no space, '\"' or '\\')");
			rc = -1;
		} else if ((id = intern_scope(ld, name)) < 0) {
			if (!ld->scopes_full++)
				jsonconf_error(ld->jc, sp, "more than %d distinct scopes",
				    SG_POLICY_MAX_SCOPES);
			rc = -1;
		} else if (policy_scopeset_has(&a->allow, (size_t)id)) {
			jsonconf_error(ld->jc, sp, "duplicate scope \"%s\"", name);
			rc = -1;
		} else {
			policy_scopeset_add(&a->allow, (size_t)id);
			a->scopes[a->nscopes] = ld->p->scope_names[id];
			a->scope_ids[a->nscopes] = (uint16_t)id;
			a->nscopes++;
		}
		free(sp);
	}
out:
	free(ptr);
	return rc;
}

/* "params": every template parameter declared with a known type. */
static int
parse_params(struct loader *ld, const char *aptr, const json_t *obj,
    struct policy_action *a)
{
	char *ptr = jsonconf_ptr_key(aptr, "params");
	int declared[SG_POLICY_MAX_PARAMS] = { 0 };
	const char *key;
	json_t *v;
	int rc = 0;

	if (obj != NULL) {
		json_object_foreach((json_t *)obj, key, v) {
			char *kp = jsonconf_ptr_key(ptr, key);
			const char *t = cstring(v);
			int idx = param_index(a, key);

			if (idx < 0) {
				jsonconf_error(ld->jc, kp, "no parameter {%s} in the path", key);
				rc = -1;
			} else if (t != NULL && strcmp(t, "objectid") == 0) {
				a->param_types[idx] = POLICY_PARAM_OBJECTID;
				declared[idx] = 1;
			} else if (t != NULL && strcmp(t, "string") == 0) {
				a->param_types[idx] = POLICY_PARAM_STRING;
				declared[idx] = 1;
			} else if (t != NULL && strcmp(t, "integer") == 0) {
				a->param_types[idx] = POLICY_PARAM_INTEGER;
				declared[idx] = 1;
			} else if (t != NULL && strcmp(t, "uuid") == 0) {
				a->param_types[idx] = POLICY_PARAM_UUID;
				declared[idx] = 1;
			} else {
				jsonconf_error(ld->jc, kp, "unknown parameter type (want "
				    "\"objectid\", \"integer\", \"uuid\" or \"string\")");
				rc = -1;
				declared[idx] = 1;	/* reported already */
			}
			free(kp);
		}
	}
	for (size_t i = 0; i < a->nparams; i++) {
		if (!declared[i]) {
			jsonconf_error(ld->jc, obj ? ptr : aptr,
			    "parameter {%s} has no type in \"params\"", a->param_names[i]);
			rc = -1;
		}
	}
	free(ptr);
	return rc;
}

/* Check that <schemas_dir>/<name>.json exists and is a JSON object; each
 * schema file is read once per load. */
static int
check_schema(struct loader *ld, const char *ptr, const char *name, char **path)
{
	struct jsonconf sub;
	struct stat st;
	json_t *cached, *doc = NULL;
	int rc = -1;

	*path = NULL;
	if (!valid_name(name, "_-.") || name[0] == '.') {
		jsonconf_error(ld->jc, ptr, "bad schema name \"%s\"", name);
		goto out;
	}
	if (ld->p->schemas_dir == NULL) {
		jsonconf_error(ld->jc, ptr, "unknown schema \"%s\": no schemas_dir", name);
		goto out;
	}
	xasprintf(path, "%s/%s.json", ld->p->schemas_dir, name);
	if ((cached = json_object_get(ld->schemas, name)) != NULL) {
		if (json_is_true(cached))
			rc = 0;
		else
			jsonconf_error(ld->jc, ptr, "unusable schema \"%s\" (%s)", name, *path);
		goto out;
	}
	if (stat(*path, &st) != 0 || !S_ISREG(st.st_mode)) {
		jsonconf_error(ld->jc, ptr, "unknown schema \"%s\" (no file %s)", name, *path);
	} else {
		sub.file = *path;
		sub.errs = ld->jc->errs;
		if ((doc = jsonconf_load_file(&sub, *path)) == NULL)
			jsonconf_error(ld->jc, ptr, "schema \"%s\" is not valid JSON", name);
		else if (!json_is_object(doc))
			jsonconf_error(ld->jc, ptr, "schema \"%s\" is not a JSON object", name);
		else
			rc = 0;
	}
	json_object_set_new(ld->schemas, name, json_boolean(rc == 0));
out:
	json_decref(doc);
	if (rc != 0) {
		free(*path);
		*path = NULL;
	}
	return rc;
}

static int
parse_body(struct loader *ld, const char *aptr, const json_t *obj,
    struct policy_action *a)
{
	char *ptr = jsonconf_ptr_key(aptr, "body");
	char *sp = jsonconf_ptr_key(ptr, "schema");
	const char *name;
	int rc = -1;

	if (jsonconf_check_object(ld->jc, obj, ptr, body_keys) != 0)
		goto out;
	if ((name = cstring(json_object_get(obj, "schema"))) == NULL) {
		jsonconf_error(ld->jc, sp, "must be a string without NUL characters");
		goto out;
	}
	if (check_schema(ld, sp, name, &a->body_schema_path) != 0)
		goto out;
	a->body_schema = xstrdup(name);
	rc = 0;
out:
	free(sp);
	free(ptr);
	return rc;
}

/* Look up a template parameter named by member key of obj; report. */
static int
param_ref(struct loader *ld, const char *ptr, const json_t *obj, const char *key,
    const struct policy_action *a)
{
	const char *name = cstring(json_object_get(obj, key));
	char *kp = jsonconf_ptr_key(ptr, key);
	int idx = -1;

	if (name == NULL)
		jsonconf_error(ld->jc, kp, "must be a string without NUL characters");
	else if ((idx = param_index(a, name)) < 0)
		jsonconf_error(ld->jc, kp, "no parameter {%s} in the path", name);
	free(kp);
	return idx;
}

/* A binding's "match" and where its value comes from. "mtls.*" names the
 * verified client certificate and nothing else (a token claim of that name
 * never counts), so only its two members exist. Returns 0 or -1 after
 * reporting. */
static int
parse_bind_kind(struct loader *ld, const char *bp, const json_t *v,
    const char *claim, struct policy_bind *b)
{
	const json_t *match = json_object_get(v, "match");
	char *mp = jsonconf_ptr_key(bp, "match");
	char *cp = jsonconf_ptr_key(bp, "claim");
	int rc = -1;

	b->match = POLICY_BIND_EQUAL;
	b->source = POLICY_BIND_CLAIM;
	if (match != NULL && strcmp(json_string_value(match), "member") == 0)
		b->match = POLICY_BIND_MEMBER;
	else if (match != NULL && strcmp(json_string_value(match), "equal") != 0) {
		jsonconf_error(ld->jc, mp, "unknown match (want \"equal\" or \"member\")");
		goto out;
	}
	if (strcmp(claim, "mtls") == 0 || strncmp(claim, "mtls.", 5) == 0) {
		if (strcmp(claim, "mtls.subject") == 0)
			b->source = POLICY_BIND_MTLS_SUBJECT;
		else if (strcmp(claim, "mtls.fingerprint") == 0)
			b->source = POLICY_BIND_MTLS_FINGERPRINT;
		else {
			jsonconf_error(ld->jc, cp, "the client certificate offers only "
			    "mtls.subject and mtls.fingerprint");
			goto out;
		}
		if (b->match == POLICY_BIND_MEMBER) {
			jsonconf_error(ld->jc, mp, "\"member\" needs an array claim; "
			    "%s is a string", claim);
			goto out;
		}
	}
	rc = 0;
out:
	free(cp);
	free(mp);
	return rc;
}

static int
parse_binds(struct loader *ld, const char *aptr, const json_t *arr,
    struct policy_action *a)
{
	char *ptr = jsonconf_ptr_key(aptr, "bind");
	size_t i;
	json_t *v;
	int rc = 0;

	if (a->public) {
		jsonconf_error(ld->jc, ptr, "a public action has no token to bind");
		rc = -1;
		goto out;
	}
	a->binds = xcalloc(json_array_size(arr) + 1, sizeof(*a->binds));
	json_array_foreach(arr, i, v) {
		char *bp = jsonconf_ptr_index(ptr, i);
		char *cp = jsonconf_ptr_key(bp, "claim");
		struct policy_bind *b = &a->binds[a->nbinds];
		const char *claim;
		int idx;

		if (jsonconf_check_object(ld->jc, v, bp, bind_keys) != 0) {
			rc = -1;
			goto next;
		}
		idx = param_ref(ld, bp, v, "param", a);
		claim = cstring(json_object_get(v, "claim"));
		if (claim == NULL || claim[0] == '\0' || claim[0] == '.' ||
		    claim[strlen(claim) - 1] == '.' || strstr(claim, "..") != NULL) {
			jsonconf_error(ld->jc, cp, "must be a claim name or a dotted "
			    "path (\"org.id\")");
			rc = -1;
			goto next;
		}
		if (idx < 0) {
			rc = -1;
			goto next;
		}
		if (parse_bind_kind(ld, bp, v, claim, b) != 0) {
			rc = -1;
			goto next;
		}
		b->param = (size_t)idx;
		b->param_name = a->param_names[idx];
		b->claim = xstrdup(claim);
		b->claim_depth = 1;
		for (const char *c = claim; *c; c++)
			b->claim_depth += *c == '.';
		b->claim_path = xcalloc(b->claim_depth, sizeof(*b->claim_path));
		for (size_t k = 0, off = 0; k < b->claim_depth; k++) {
			size_t len = strcspn(claim + off, ".");
			b->claim_path[k] = xstrndup(claim + off, len);
			off += len + 1;
		}
		a->nbinds++;
next:
		free(cp);
		free(bp);
	}
out:
	free(ptr);
	return rc;
}

static int
parse_effects(struct loader *ld, const char *aptr, const json_t *arr,
    struct policy_action *a)
{
	char *ptr = jsonconf_ptr_key(aptr, "effects");
	size_t i;
	json_t *v;
	int rc = 0;

	a->effects = xcalloc(json_array_size(arr) + 1, sizeof(*a->effects));
	json_array_foreach(arr, i, v) {
		char *ep = jsonconf_ptr_index(ptr, i);
		char *op = jsonconf_ptr_key(ep, "on");
		struct policy_effect *e = &a->effects[a->neffects];
		const char *on;
		int idx, ok = 1;

		if (jsonconf_check_object(ld->jc, v, ep, effect_keys) != 0) {
			rc = -1;
			goto next;
		}
		on = cstring(json_object_get(v, "on"));
		if (on != NULL && strcmp(on, "delete") == 0) {
			e->on = POLICY_EFFECT_DELETE;
			if (a->method != POLICY_M_DELETE) {
				jsonconf_error(ld->jc, op, "\"delete\" needs method DELETE");
				ok = 0;
			}
		} else if (on != NULL && strcmp(on, "patch_status") == 0) {
			e->on = POLICY_EFFECT_PATCH_STATUS;
			if (a->method != POLICY_M_PATCH) {
				jsonconf_error(ld->jc, op, "\"patch_status\" needs method PATCH");
				ok = 0;
			}
		} else {
			jsonconf_error(ld->jc, op, "unknown effect (want \"delete\" "
			    "or \"patch_status\")");
			ok = 0;
		}
		if ((idx = param_ref(ld, ep, v, "revoke_param", a)) < 0)
			ok = 0;
		if (!ok) {
			rc = -1;
			goto next;
		}
		e->param = (size_t)idx;
		e->param_name = a->param_names[idx];
		a->neffects++;
next:
		free(op);
		free(ep);
	}
	free(ptr);
	return rc;
}

/* creates_token.default_scopes: what the upstream grants when the request
 * names no scopes; checked like a requested list, so any scope name goes
 * (one the policy does not know is then grantable only by its holders). */
static int
parse_default_scopes(struct loader *ld, const char *cptr, const json_t *arr,
    struct policy_action *a)
{
	char *ptr = jsonconf_ptr_key(cptr, "default_scopes");
	size_t i;
	json_t *v;
	int rc = 0;

	a->token_default_scopes = xcalloc(json_array_size(arr) + 1,
	    sizeof(*a->token_default_scopes));
	json_array_foreach(arr, i, v) {
		char *sp = jsonconf_ptr_index(ptr, i);
		const char *name = cstring(v);

		if (name == NULL || !valid_scope(name)) {
			jsonconf_error(ld->jc, sp, "must be a scope name (visible "
			    "ASCII, no space, '\"' or '\\')");
			rc = -1;
		} else {
			for (size_t k = 0; k < a->ntoken_default_scopes; k++)
				if (strcmp(a->token_default_scopes[k], name) == 0) {
					jsonconf_error(ld->jc, sp, "duplicate scope \"%s\"", name);
					rc = -1;
				}
			a->token_default_scopes[a->ntoken_default_scopes++] = xstrdup(name);
		}
		free(sp);
	}
	free(ptr);
	return rc;
}

static int
parse_creates_token(struct loader *ld, const char *aptr, const json_t *obj,
    struct policy_action *a)
{
	char *ptr = jsonconf_ptr_key(aptr, "creates_token");
	char *fp = jsonconf_ptr_key(ptr, "scope_field");
	const char *field;
	int rc = -1;

	if (jsonconf_check_object(ld->jc, obj, ptr, creates_token_keys) != 0)
		goto out;
	field = cstring(json_object_get(obj, "scope_field"));
	if (field == NULL || !valid_name(field, "_-")) {
		jsonconf_error(ld->jc, fp, "must be a body member name");
		goto out;
	}
	a->creates_token = 1;
	a->token_scope_field = xstrdup(field);
	rc = parse_default_scopes(ld, ptr, json_object_get(obj, "default_scopes"), a);
out:
	free(fp);
	free(ptr);
	return rc;
}

/* "allow_query": the reserved query parameters the action lets through.
 * The gateway reserves "_method", which frameworks take as a method
 * override (the upstream would serve another route than the one checked). */
static void
parse_allow_query(struct loader *ld, const char *aptr, const json_t *arr,
    struct policy_action *a)
{
	char *ptr = jsonconf_ptr_key(aptr, "allow_query");
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		const char *name = cstring(v);

		if (name != NULL && strcmp(name, "_method") == 0) {
			a->allow_query_method = 1;
		} else {
			char *ip = jsonconf_ptr_index(ptr, i);
			jsonconf_error(ld->jc, ip, "not a reserved query parameter "
			    "(the only one is \"_method\")");
			free(ip);
		}
	}
	free(ptr);
}

/* Parse actions[i] into p->actions[i] and add its route. Problems are
 * reported; the caller counts errors. */
static void
parse_action(struct loader *ld, const json_t *v, size_t i)
{
	struct policy_action *a = &ld->p->actions[i];
	struct route_seg segs[SG_MAX_PATH_SEGMENTS];
	char *ptr = jsonconf_ptr_index("/actions", i);
	char *kp = NULL;
	const char *name, *method, *path;
	json_t *member, *prev;
	int routable = 1, template_ok = 0;

	a->index = i;
	if (jsonconf_check_object(ld->jc, v, ptr, action_keys) != 0 &&
	    !json_is_object(v))
		goto out;

	name = cstring(json_object_get(v, "action"));
	kp = jsonconf_ptr_key(ptr, "action");
	if (name != NULL && !valid_name(name, "_-.:")) {
		jsonconf_error(ld->jc, kp, "bad action name \"%s\"", name);
		name = NULL;
	}
	if (name != NULL) {
		a->name = xstrdup(name);
		if ((prev = json_object_get(ld->names, name)) != NULL)
			jsonconf_error(ld->jc, kp, "duplicate action \"%s\" (also "
			    "/actions/%" JSON_INTEGER_FORMAT ")", name,
			    json_integer_value(prev));
		else
			json_object_set_new(ld->names, name, json_integer((json_int_t)i));
	} else
		a->name = xstrdup("");
	free(kp);

	method = cstring(json_object_get(v, "method"));
	kp = jsonconf_ptr_key(ptr, "method");
	if (method == NULL ||
	    (a->method = policy_method_parse(method, strlen(method))) == POLICY_M_OTHER) {
		if (json_is_string(json_object_get(v, "method")))
			jsonconf_error(ld->jc, kp, "unknown method (want GET, HEAD, "
			    "POST, PUT, PATCH, DELETE or OPTIONS)");
		routable = 0;
	}
	free(kp);

	path = cstring(json_object_get(v, "path"));
	kp = jsonconf_ptr_key(ptr, "path");
	a->path = xstrdup(path ? path : "");
	if (path != NULL && parse_template(ld, kp, a, segs) == 0)
		template_ok = 1;
	else
		routable = 0;
	free(kp);
	kp = NULL;

	/* Types were checked with action_keys: a member of the wrong type
	 * has been reported and is skipped below. */
	a->public = json_is_true(json_object_get(v, "public"));
	a->sse = json_is_true(json_object_get(v, "sse"));
	/* The body limit of this action; -1: limits.max_body_bytes. */
	jsonconf_get_int(ld->jc, v, ptr, "max_body_bytes", 0, INT64_C(1) << 40, -1,
	    &a->max_body_bytes);
	member = json_object_get(v, "scopes");
	if (json_is_array(member) || (member == NULL && !a->public))
		parse_scopes(ld, ptr, member, a);
	if (json_is_object(member = json_object_get(v, "body")))
		parse_body(ld, ptr, member, a);
	if (json_is_object(member = json_object_get(v, "creates_token")))
		parse_creates_token(ld, ptr, member, a);
	if (json_is_array(member = json_object_get(v, "allow_query")))
		parse_allow_query(ld, ptr, member, a);

	/* Without a usable template, parameter references cannot be
	 * checked; their errors would only be noise. */
	if (!template_ok)
		goto out;
	member = json_object_get(v, "params");
	if (member == NULL || json_is_object(member))
		parse_params(ld, ptr, member, a);
	if (json_is_array(member = json_object_get(v, "bind")))
		parse_binds(ld, ptr, member, a);
	if (json_is_array(member = json_object_get(v, "effects")) && routable)
		parse_effects(ld, ptr, member, a);

	if (routable) {
		int other = route_insert(ld->p->routes, segs, a->nsegs,
		    (unsigned)a->method, (int)i);
		if (other >= 0) {
			const struct policy_action *o = &ld->p->actions[other];
			if (strcmp(o->path, a->path) == 0)
				jsonconf_error(ld->jc, ptr, "duplicate route %s %s "
				    "(also /actions/%d)", method, a->path, other);
			else
				jsonconf_error(ld->jc, ptr, "route %s %s matches the same "
				    "paths as %s (/actions/%d)", method, a->path,
				    o->path, other);
		}
	}
out:
	free(kp);
	free(ptr);
}

/* Resolve schemas_dir against basedir (the policy file's directory). */
static void
resolve_schemas_dir(struct loader *ld, const json_t *root, const char *basedir)
{
	const char *dir;

	if (jsonconf_get_string(ld->jc, root, "", "schemas_dir", NULL, &dir) != 0 ||
	    dir == NULL)
		return;
	if (dir[0] == '\0') {
		jsonconf_error(ld->jc, "/schemas_dir", "must not be empty");
		return;
	}
	if (dir[0] == '/' || basedir != NULL)
		ld->p->schemas_dir = jsonconf_resolve_path(basedir, dir);
	else
		jsonconf_error(ld->jc, "/schemas_dir", "relative path but no base "
		    "directory to resolve it");
}

/* "covers": {"umbrella": ["name", "prefix.*", ...]}. An umbrella must be a
 * scope some action lists (a scope that allows nothing would cover by
 * mistake); a trailing '*' makes a prefix pattern. */
static void
parse_covers(struct loader *ld, const json_t *obj)
{
	struct policy *p = ld->p;
	const char *key;
	json_t *arr;

	json_object_foreach((json_t *)obj, key, arr) {
		char *kp = jsonconf_ptr_key("/covers", key);
		json_t *id = json_object_get(ld->scope_ids, key);
		size_t i;
		json_t *v;

		if (id == NULL) {
			jsonconf_error(ld->jc, kp, "\"%s\" is in no action's scopes", key);
			goto next;
		}
		if (!json_is_array(arr)) {
			jsonconf_error(ld->jc, kp, "must be an array of scope names or "
			    "prefixes (\"application.*\")");
			goto next;
		}
		json_array_foreach(arr, i, v) {
			const char *name = cstring(v);
			struct policy_cover *c;

			const char *star = name ? strchr(name, '*') : NULL;

			if (name == NULL || !valid_scope(name) || name[0] == '*' ||
			    (star != NULL && star[1] != '\0')) {
				char *ip = jsonconf_ptr_index(kp, i);
				jsonconf_error(ld->jc, ip, "must be a scope name, or a prefix "
				    "ending in '*' (\"application.*\")");
				free(ip);
				continue;
			}
			p->covers = xreallocarray(p->covers, p->ncovers + 1, sizeof(*p->covers));
			c = &p->covers[p->ncovers++];
			c->umbrella = (size_t)json_integer_value(id);
			c->len = strlen(name);
			c->prefix = name[c->len - 1] == '*';
			if (c->prefix)
				c->len--;
			c->pattern = xstrndup(name, c->len);
		}
next:
		free(kp);
	}
}

struct scope_ref {
	const char *name;
	size_t id;
};

static int
scope_sort_cmp(const void *a, const void *b)
{
	const struct scope_ref *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* The id table sorted by name, for policy_scope_lookup(). */
static void
sort_scopes(struct policy *p)
{
	struct scope_ref *tmp = xcalloc(p->nscopes + 1, sizeof(*tmp));

	p->scope_sorted = xcalloc(p->nscopes + 1, sizeof(*p->scope_sorted));
	for (size_t i = 0; i < p->nscopes; i++) {
		tmp[i].name = p->scope_names[i];
		tmp[i].id = i;
	}
	qsort(tmp, p->nscopes, sizeof(*tmp), scope_sort_cmp);
	for (size_t i = 0; i < p->nscopes; i++)
		p->scope_sorted[i] = tmp[i].id;
	free(tmp);
}

/* Build a policy from a parsed document; NULL after reporting. */
static struct policy *
policy_build(struct jsonconf *jc, const json_t *root, const char *basedir)
{
	struct loader ld = { .jc = jc };
	size_t nerr0 = jc->errs->n, i;
	const json_t *actions;
	json_t *v;
	struct policy *p;

	p = xcalloc(1, sizeof(*p));
	p->routes = route_tree_new();
	ld.p = p;
	ld.scope_ids = json_object();
	ld.schemas = json_object();
	ld.names = json_object();
	if (ld.scope_ids == NULL || ld.schemas == NULL || ld.names == NULL)
		abort();	/* out of memory, as in xmalloc */

	if (jsonconf_check_object(jc, root, "", top_keys) != 0 && !json_is_object(root))
		goto out;
	resolve_schemas_dir(&ld, root, basedir);
	actions = json_object_get(root, "actions");
	if (!json_is_array(actions))
		goto out;
	if (json_array_size(actions) > SG_POLICY_MAX_ACTIONS) {
		jsonconf_error(jc, "/actions", "more than %d actions", SG_POLICY_MAX_ACTIONS);
		goto out;
	}
	if (json_array_size(actions) == 0)
		jsonconf_error(jc, "/actions", "no actions");
	p->nactions = json_array_size(actions);
	p->actions = xcalloc(p->nactions + 1, sizeof(*p->actions));
	json_array_foreach(actions, i, v)
		parse_action(&ld, v, i);
	if (json_is_object(json_object_get(root, "covers")))
		parse_covers(&ld, json_object_get(root, "covers"));
	sort_scopes(p);
out:
	json_decref(ld.scope_ids);
	json_decref(ld.schemas);
	json_decref(ld.names);
	if (jc->errs->n > nerr0) {
		policy_free(p);
		p = NULL;
	}
	return p;
}

struct policy *
policy_load_buffer(struct jsonconf *jc, const char *buf, size_t len,
    const char *basedir)
{
	struct policy *p = NULL;
	json_t *root;

	if ((root = jsonconf_load_buffer(jc, buf, len)) != NULL)
		p = policy_build(jc, root, basedir);
	json_decref(root);
	return p;
}

struct policy *
policy_load(struct jsonconf *jc, const char *path)
{
	struct policy *p = NULL;
	const char *slash;
	char *basedir;
	json_t *root;

	if ((root = jsonconf_load_file(jc, path)) == NULL)
		return NULL;
	if ((slash = strrchr(path, '/')) == NULL)
		basedir = xstrdup(".");
	else if (slash == path)
		basedir = xstrdup("/");
	else
		basedir = xstrndup(path, (size_t)(slash - path));
	p = policy_build(jc, root, basedir);
	free(basedir);
	json_decref(root);
	return p;
}

static void
action_free(struct policy_action *a)
{
	free(a->name);
	free(a->path);
	for (size_t i = 0; i < a->nparams; i++)
		free(a->param_names[i]);
	free(a->body_schema);
	free(a->body_schema_path);
	for (size_t i = 0; i < a->nbinds; i++) {
		free(a->binds[i].claim);
		for (size_t k = 0; k < a->binds[i].claim_depth; k++)
			free(a->binds[i].claim_path[k]);
		free(a->binds[i].claim_path);
	}
	free(a->binds);
	free(a->effects);
	free(a->token_scope_field);
	for (size_t i = 0; i < a->ntoken_default_scopes; i++)
		free(a->token_default_scopes[i]);
	free(a->token_default_scopes);
	free(a->scopes);
	free(a->scope_ids);
	for (size_t i = 0; i < a->nall_of; i++)
		free(a->all_of_names[i]);
	free(a->all_of_names);
	free(a->all_of);
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nactions; i++)
		action_free(&p->actions[i]);
	free(p->actions);
	for (size_t i = 0; i < p->nscopes; i++)
		free(p->scope_names[i]);
	free(p->scope_names);
	free(p->scope_sorted);
	route_tree_free(p->routes);
	free(p->schemas_dir);
	for (size_t i = 0; i < p->ncovers; i++)
		free(p->covers[i].pattern);
	free(p->covers);
	free(p);
}
