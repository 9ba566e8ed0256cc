/* openapi.c: OpenAPI 3.0, 3.1 and Swagger 2.0 to scopegate's policy.
 *
 * Every operation becomes an action; what the policy cannot express is
 * either an error (naming the JSON pointer in the document) or, where
 * leaving the operation out is the safe reading, a warning: a route the
 * policy does not list is answered 404, so an operation is never made
 * more open than its document says. A security requirement naming one
 * scope is a policy scope, one naming several a set held together
 * (["a", "b"]); one that uses another scheme (an API key: scopegate only
 * checks bearer tokens) or none of its scopes is dropped (warned).
 *
 * Request body schemas keep their "$ref"s: the referenced component
 * schemas are copied into the schema file's "definitions", which the
 * draft-04 validator resolves (recursive schemas included). A chain of
 * references that leads back to itself without a schema in between is
 * an error. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "openapi.h"
#include "xmalloc.h"

#define MAX_SCHEMA_DEPTH	64
#define MAX_REF_HOPS		32

enum oa_version { OA_SWAGGER2, OA_30, OA_31 };

struct conv {
	const json_t *doc;
	enum oa_version ver;
	const char *scheme;	/* the oauth2/openIdConnect scheme, or NULL */
	char *base;		/* the API's base path, "" or "/v2" */
	struct jsonconf *errs;
	struct jsonconf *warns;
	json_t *ops;		/* operationId -> pointer of its first use */
	json_t *routes;		/* "METHOD /shape" -> [template, pointer] */
	json_t *actions;
	json_t *schemas;
	int failed;
};

static const char *const methods[] = {
	"get", "put", "post", "delete", "options", "head", "patch", NULL
};

/* 2020-12 keywords draft-04 cannot say; refused wherever they appear. */
static const char *const unsupported[] = {
	"prefixItems", "unevaluatedProperties", "unevaluatedItems", "contains",
	"minContains", "maxContains", "if", "then", "else", "propertyNames",
	"$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
	"$defs", "$anchor", "$id", "id", "$schema", "contentSchema",
	"definitions", NULL
};

static void
conv_error(struct conv *c, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
conv_error(struct conv *c, const char *ptr, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jsonconf_error(c->errs, ptr, "%s", msg);
	c->failed = 1;
}

static int
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* The value at a local reference "#/a/b~1c", or NULL. */
static const json_t *
deref(const json_t *doc, const char *ref)
{
	const json_t *v = doc;
	const char *p;

	if (ref[0] != '#')
		return NULL;
	p = ref + 1;
	while (*p == '/' && v != NULL) {
		const char *end = strchr(p + 1, '/');
		size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
		char *tok = xmalloc(n + 1), *o = tok;

		for (size_t i = 0; i < n; i++) {
			char ch = p[1 + i];

			if (ch == '~' && i + 1 < n && p[2 + i] == '1') {
				*o++ = '/';
				i++;
			} else if (ch == '~' && i + 1 < n && p[2 + i] == '0') {
				*o++ = '~';
				i++;
			} else
				*o++ = ch;
		}
		*o = '\0';
		if (json_is_object(v))
			v = json_object_get(v, tok);
		else if (json_is_array(v)) {
			char *e;
			unsigned long idx = strtoul(tok, &e, 10);

			v = (*tok != '\0' && *e == '\0') ? json_array_get(v, idx) : NULL;
		} else
			v = NULL;
		free(tok);
		p = end ? end : p + 1 + n;
	}
	return *p == '\0' ? v : NULL;
}

/* Follow "$ref"s of a non-schema object (parameter, request body); *ptr
 * (owned) becomes the pointer of what was found. NULL after an error. */
static const json_t *
follow(struct conv *c, const json_t *v, char **ptr)
{
	for (int hops = 0; json_is_object(v) && json_object_get(v, "$ref"); hops++) {
		const char *ref = json_string_value(json_object_get(v, "$ref"));

		if (hops >= MAX_REF_HOPS) {
			conv_error(c, *ptr, "more than %d references in a row "
			    "(a reference cycle?)", MAX_REF_HOPS);
			return NULL;
		}
		if (ref == NULL || (v = deref(c->doc, ref)) == NULL) {
			conv_error(c, *ptr, "$ref %s: not found in the document "
			    "(only local references \"#/...\" are supported)",
			    ref ? ref : "(not a string)");
			return NULL;
		}
		free(*ptr);
		*ptr = xstrdup(ref + 1);
	}
	return v;
}

/* ---- schemas ---- */

struct sconv {
	struct conv *c;
	json_t *needed;		/* component name -> true, to copy */
};

static json_t *schema(struct sconv *, const json_t *, const char *, int);

/* The component prefix schema "$ref"s may point into. */
static const char *
ref_prefix(const struct conv *c)
{
	return c->ver == OA_SWAGGER2 ? "#/definitions/" : "#/components/schemas/";
}

/* Rewrite a schema reference into the output's "#/definitions/...". */
static json_t *
schema_ref(struct sconv *s, const char *ref, const char *ptr)
{
	const char *pre = ref_prefix(s->c);
	size_t plen = strlen(pre);
	const char *name = ref + plen, *slash;
	char *comp, *out;
	json_t *r;

	if (strncmp(ref, pre, plen) != 0 || *name == '\0') {
		conv_error(s->c, ptr, "$ref %s: only references into %s are "
		    "supported in schemas", ref, pre);
		return NULL;
	}
	slash = strchr(name, '/');
	comp = xmalloc(plen + strlen(name) + 1);
	snprintf(comp, plen + strlen(name) + 1, "%.*s", (int)(slash ?
	    (size_t)(slash - ref) : strlen(ref)), ref);
	if (deref(s->c->doc, comp) == NULL || deref(s->c->doc, ref) == NULL) {
		conv_error(s->c, ptr, "$ref %s: not found in the document", ref);
		free(comp);
		return NULL;
	}
	/* the component's name, still pointer-escaped */
	json_object_set_new(s->needed, comp + plen, json_true());
	free(comp);
	out = xmalloc(strlen(name) + sizeof("#/definitions/"));
	snprintf(out, strlen(name) + sizeof("#/definitions/"), "#/definitions/%s", name);
	r = json_pack("{s:s}", "$ref", out);
	free(out);
	return r;
}

/* A map of schemas (properties, patternProperties, ...). */
static json_t *
schema_map(struct sconv *s, const json_t *m, const char *ptr, int depth,
    int allow_arrays)
{
	json_t *out = json_object(), *v;
	const char *k;

	if (!json_is_object(m)) {
		conv_error(s->c, ptr, "must be an object");
		json_decref(out);
		return NULL;
	}
	json_object_foreach((json_t *)m, k, v) {
		char *kp = jsonconf_ptr_key(ptr, k);
		json_t *sub = allow_arrays && json_is_array(v) ? json_deep_copy(v) :
		    schema(s, v, kp, depth + 1);

		free(kp);
		if (sub == NULL) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, k, sub);
	}
	return out;
}

static json_t *
schema_list(struct sconv *s, const json_t *a, const char *ptr, int depth)
{
	json_t *out = json_array(), *v;
	size_t i;

	if (!json_is_array(a)) {
		conv_error(s->c, ptr, "must be an array");
		json_decref(out);
		return NULL;
	}
	json_array_foreach(a, i, v) {
		char *ip = jsonconf_ptr_index(ptr, i);
		json_t *sub = schema(s, v, ip, depth + 1);

		free(ip);
		if (sub == NULL) {
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, sub);
	}
	return out;
}

/* 3.1's numeric exclusiveMinimum/Maximum as draft-04's boolean form. */
static int
exclusive_bound(struct sconv *s, const json_t *in, json_t *out, const char *kw,
    const char *plain, const char *ptr)
{
	const json_t *v = json_object_get(in, kw);

	if (v == NULL || json_is_boolean(v))
		return 0;
	if (!json_is_number(v)) {
		conv_error(s->c, ptr, "%s must be a number", kw);
		return -1;
	}
	if (json_object_get(in, plain) != NULL) {
		conv_error(s->c, ptr, "%s together with %s: draft-04 cannot say "
		    "both bounds at once", kw, plain);
		return -1;
	}
	json_object_set_new(out, plain, json_deep_copy(v));
	json_object_set_new(out, kw, json_true());
	return 0;
}

/* Keywords after which 2020-12's unevaluatedProperties differs from
 * additionalProperties (they evaluate properties elsewhere). */
static const char *const applicators[] = {
	"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref",
	"dependentSchemas", "$dynamicRef", NULL
};

static int
has_applicator(const json_t *in)
{
	for (size_t i = 0; applicators[i] != NULL; i++)
		if (json_object_get(in, applicators[i]) != NULL)
			return 1;
	return 0;
}

/* A property the document marks readOnly: its "required" holds for
 * responses only (OpenAPI 3.0.3, 4.7.25), so a request may leave it out. */
static int
read_only(const struct conv *c, const json_t *prop)
{
	const json_t *r = json_object_get(prop, "$ref");

	if (json_is_string(r) && (r = deref(c->doc, json_string_value(r))) != NULL)
		prop = r;
	return json_is_true(json_object_get(prop, "readOnly"));
}

/* One schema converted to draft-04; NULL after an error. */
static json_t *
schema(struct sconv *s, const json_t *in, const char *ptr, int depth)
{
	static const char *const maps[] = { "properties", "patternProperties", NULL };
	static const char *const singles[] = { "additionalProperties",
		"additionalItems", "not", NULL };
	static const char *const lists[] = { "allOf", "anyOf", "oneOf", NULL };
	struct conv *c = s->c;
	json_t *out = NULL, *v;
	const char *k;
	int nullable = 0;

	if (json_is_boolean(in) && c->ver == OA_31)
		return json_is_true(in) ? json_object() :
		    json_pack("{s:{}}", "not");
	if (!json_is_object(in)) {
		conv_error(c, ptr, "a schema must be an object");
		return NULL;
	}
	if (depth > MAX_SCHEMA_DEPTH) {
		conv_error(c, ptr, "schema nested deeper than %d levels",
		    MAX_SCHEMA_DEPTH);
		return NULL;
	}
	if ((v = json_object_get(in, "$ref")) != NULL) {
		json_t *ref, *rest;
		size_t extra = 0;

		if (!json_is_string(v)) {
			conv_error(c, ptr, "$ref must be a string");
			return NULL;
		}
		if ((ref = schema_ref(s, json_string_value(v), ptr)) == NULL)
			return NULL;
		/* Siblings of $ref are ignored before 3.1 and by draft-04;
		 * 3.1 applies them, so they go beside it in an allOf. */
		json_object_foreach((json_t *)in, k, v)
			if (strcmp(k, "$ref") != 0 && strcmp(k, "description") != 0 &&
			    strcmp(k, "summary") != 0 && strcmp(k, "title") != 0)
				extra++;
		if (c->ver != OA_31 || extra == 0)
			return ref;
		rest = json_deep_copy(in);
		json_object_del(rest, "$ref");
		out = schema(s, rest, ptr, depth);
		json_decref(rest);
		if (out == NULL) {
			json_decref(ref);
			return NULL;
		}
		return json_pack("{s:[o,o]}", "allOf", ref, out);
	}
	out = json_object();
	json_object_foreach((json_t *)in, k, v) {
		char *kp = jsonconf_ptr_key(ptr, k);
		const char *okey = k;
		json_t *sub = NULL;

		if (strcmp(k, "unevaluatedProperties") == 0 && !has_applicator(in) &&
		    json_object_get(in, "additionalProperties") == NULL) {
			/* nothing else evaluates properties here: the same */
			okey = "additionalProperties";
			sub = json_is_boolean(v) ? json_deep_copy(v) :
			    schema(s, v, kp, depth + 1);
		} else if (in_list(unsupported, k)) {
			conv_error(c, kp, "keyword \"%s\" cannot be expressed in "
			    "JSON Schema draft-04", k);
		} else if (in_list(maps, k)) {
			sub = schema_map(s, v, kp, depth, 0);
		} else if (strcmp(k, "dependencies") == 0 ||
		    strcmp(k, "dependentSchemas") == 0 ||
		    strcmp(k, "dependentRequired") == 0) {
			if (c->ver != OA_31 && strcmp(k, "dependencies") != 0)
				sub = json_deep_copy(v);	/* not a keyword here */
			else if ((sub = schema_map(s, v, kp, depth, 1)) != NULL) {
				json_t *deps = json_object_get(out, "dependencies");
				const char *dk;
				json_t *dv;

				if (deps == NULL) {
					json_object_set(out, "dependencies", sub);
				} else {
					json_object_foreach(sub, dk, dv) {
						if (json_object_get(deps, dk) != NULL)
							conv_error(c, kp, "\"%s\" depends twice "
							    "(draft-04 has one dependency per "
							    "property)", dk);
						json_object_set(deps, dk, dv);
					}
				}
				json_decref(sub);
				sub = NULL;
				free(kp);
				continue;
			}
		} else if (in_list(singles, k)) {
			sub = json_is_boolean(v) && strcmp(k, "not") != 0 ?
			    json_deep_copy(v) : schema(s, v, kp, depth + 1);
		} else if (in_list(lists, k)) {
			sub = schema_list(s, v, kp, depth);
		} else if (strcmp(k, "items") == 0) {
			sub = json_is_array(v) ? schema_list(s, v, kp, depth) :
			    schema(s, v, kp, depth + 1);
		} else if (strcmp(k, "nullable") == 0 && c->ver == OA_30) {
			nullable = json_is_true(v);
			free(kp);
			continue;
		} else if (strcmp(k, "const") == 0 && c->ver == OA_31) {
			if (json_object_get(in, "enum") != NULL)
				conv_error(c, kp, "const together with enum is not "
				    "supported");
			json_object_set_new(out, "enum", json_pack("[O]", v));
			free(kp);
			continue;
		} else if (strcmp(k, "examples") == 0 && c->ver == OA_31) {
			free(kp);
			continue;	/* an annotation */
		} else if ((strcmp(k, "exclusiveMinimum") == 0 ||
		    strcmp(k, "exclusiveMaximum") == 0) && !json_is_boolean(v)) {
			if (c->ver == OA_31)
				exclusive_bound(s, in, out, k, k[9] == 'M' && k[10] == 'i' ?
				    "minimum" : "maximum", kp);
			else
				conv_error(c, kp, "must be a boolean");
			free(kp);
			continue;
		} else if (strcmp(k, "type") == 0 && json_is_string(v) &&
		    strcmp(json_string_value(v), "file") == 0) {
			conv_error(c, kp, "type \"file\" is not a JSON body");
		} else {
			sub = json_deep_copy(v);
		}
		free(kp);
		if (sub == NULL)
			goto fail;
		if (json_object_get(out, okey) == NULL)
			json_object_set_new(out, okey, sub);
		else
			json_decref(sub);
	}
	if (c->failed)
		goto fail;
	if (json_is_array(v = json_object_get(out, "required"))) {
		const json_t *props = json_object_get(in, "properties");
		json_t *keep = json_array(), *name;
		size_t i;

		json_array_foreach(v, i, name)
			if (!json_is_string(name) || !read_only(c,
			    json_object_get(props, json_string_value(name))))
				json_array_append(keep, name);
		if (json_array_size(keep) == 0)
			json_object_del(out, "required");	/* draft-04: not empty */
		else
			json_object_set(out, "required", keep);
		json_decref(keep);
	}
	if (nullable) {
		json_t *t = json_object_get(out, "type");

		if (json_is_string(t)) {
			json_object_set_new(out, "type", json_pack("[O,s]", t, "null"));
		} else if (json_is_array(t)) {
			json_t *tv;
			size_t i, has = 0;

			json_array_foreach(t, i, tv)
				has |= json_is_string(tv) &&
				    strcmp(json_string_value(tv), "null") == 0;
			if (!has)
				json_array_append_new(t, json_string("null"));
		} else {
			/* no type to widen: null or whatever the rest says */
			return json_pack("{s:[{s:s},o]}", "anyOf", "type", "null", out);
		}
		if (json_is_array(json_object_get(out, "enum")))
			json_array_append_new(json_object_get(out, "enum"), json_null());
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* A pure reference: a schema that is only a "$ref" (and annotations). */
static const char *
pure_ref(const json_t *sch)
{
	const json_t *r = json_object_get(sch, "$ref");

	return json_is_string(r) && json_object_size(sch) == 1 ?
	    json_string_value(r) : NULL;
}

/* Refuse a chain of pure references that comes back to where it started
 * (it validates nothing and the validator would loop on it). */
static int
check_ref_cycle(struct conv *c, const char *start_ref)
{
	const char *ref = start_ref;
	char chain[1024] = "";
	size_t len = 0;

	for (int hops = 0; hops <= MAX_REF_HOPS; hops++) {
		const json_t *t = deref(c->doc, ref);
		int n;

		if (t == NULL)
			return 0;
		n = snprintf(chain + len, sizeof(chain) - len, "%s%s",
		    hops ? " -> " : "", ref + 1);
		if (n > 0 && (size_t)n < sizeof(chain) - len)
			len += (size_t)n;
		if ((ref = pure_ref(t)) == NULL)
			return 0;
		if (strcmp(ref, start_ref) == 0 || hops == MAX_REF_HOPS) {
			conv_error(c, start_ref + 1, "reference cycle: %s -> %s",
			    chain, ref + 1);
			return -1;
		}
	}
	return 0;
}

/* The body schema with the components it uses as "definitions". */
static json_t *
body_schema(struct conv *c, const json_t *in, const char *ptr)
{
	struct sconv s = { c, json_object() };
	json_t *out = NULL, *defs = json_object(), *done = json_object(), *body;
	const char *pre = ref_prefix(c);
	int again = 1;

	if (json_is_string(json_object_get(in, "$ref")) &&
	    check_ref_cycle(c, json_string_value(json_object_get(in, "$ref"))) != 0)
		goto out;
	if ((body = schema(&s, in, ptr, 0)) == NULL)
		goto out;
	while (again) {
		const char *name;
		json_t *v;

		again = 0;
		json_object_foreach(s.needed, name, v) {
			char *ref, *cp, *un, *o;
			const json_t *comp;
			json_t *conv;

			if (json_object_get(done, name) != NULL)
				continue;
			json_object_set_new(done, name, json_true());
			ref = xmalloc(strlen(pre) + strlen(name) + 1);
			snprintf(ref, strlen(pre) + strlen(name) + 1, "%s%s", pre, name);
			comp = deref(c->doc, ref);
			if (check_ref_cycle(c, ref) != 0) {
				free(ref);
				json_decref(body);
				goto out;
			}
			cp = xstrdup(ref + 1);
			conv = comp ? schema(&s, comp, cp, 0) : NULL;
			free(cp);
			free(ref);
			if (conv == NULL) {
				json_decref(body);
				goto out;
			}
			/* "definitions" holds the unescaped name */
			un = o = xmalloc(strlen(name) + 1);
			for (const char *p = name; *p; p++) {
				if (p[0] == '~' && (p[1] == '1' || p[1] == '0')) {
					*o++ = p[1] == '1' ? '/' : '~';
					p++;
				} else
					*o++ = *p;
			}
			*o = '\0';
			json_object_set_new(defs, un, conv);
			free(un);
			again = 1;
			break;	/* s.needed may have grown */
		}
	}
	if (json_object_size(defs) > 0) {
		if (!json_is_object(body)) {
			json_decref(body);
			goto out;
		}
		if (json_object_get(body, "$ref") != NULL) {
			/* siblings of $ref are ignored: nest it */
			json_t *wrap = json_pack("{s:[o]}", "allOf", body);

			body = wrap;
		}
		json_object_set(body, "definitions", defs);
	}
	out = body;
out:
	json_decref(done);
	json_decref(defs);
	json_decref(s.needed);
	return out;
}

/* ---- operations ---- */

/* An action or schema name from s: characters outside letters, digits
 * and the allowed punctuation become '_'. */
static char *
clean_name(const char *s, const char *punct)
{
	char *out = xstrdup(s);

	for (char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(punct, *p) != NULL))
			*p = '_';
	return out;
}

/* "post.bookings.bookingId.payment" for POST /bookings/{bookingId}/payment */
static char *
made_name(const char *method, const char *path)
{
	size_t n = strlen(method) + strlen(path) + 8;
	char *out = xmalloc(n), *o;

	o = out + snprintf(out, n, "%s", method);
	for (const char *p = path; *p; p++) {
		if (*p == '/') {
			if (p[1] != '\0')
				*o++ = '.';
		} else if (*p != '{' && *p != '}')
			*o++ = *p;
	}
	if (strcmp(path, "/") == 0)
		o += snprintf(o, n - (size_t)(o - out), ".root");
	*o = '\0';
	o = clean_name(out, "_-.:");
	free(out);
	return o;
}

/* A path parameter's type from its declaration (its schema in 3.x, the
 * parameter itself in 2.0). A pattern that is exactly a 24-hex-digit id
 * gives "objectid"; other patterns are left to the upstream (the policy
 * has no pattern type) and give "string". */
static const char *
param_type(const json_t *decl, int v2)
{
	const json_t *sch = v2 ? decl : json_object_get(decl, "schema");
	const char *t = json_string_value(json_object_get(sch, "type"));
	const char *f = json_string_value(json_object_get(sch, "format"));
	const char *pat = json_string_value(json_object_get(sch, "pattern"));

	if (t != NULL && strcmp(t, "integer") == 0)
		return "integer";
	if (f != NULL && strcmp(f, "uuid") == 0)
		return "uuid";
	if (pat != NULL && (strcmp(pat, "^[0-9a-fA-F]{24}$") == 0 ||
	    strcmp(pat, "^[a-fA-F0-9]{24}$") == 0 ||
	    strcmp(pat, "^[0-9a-f]{24}$") == 0 || strcmp(pat, "^[a-f0-9]{24}$") == 0))
		return "objectid";
	return "string";
}

/* The path parameter declaration named name: the operation's own over
 * the path item's. */
static const json_t *
find_param(struct conv *c, const json_t *lists[2], const char *lptrs[2],
    const char *name)
{
	for (int l = 0; l < 2; l++) {
		const json_t *p;
		size_t i;

		json_array_foreach(lists[l], i, p) {
			char *ip = jsonconf_ptr_index(lptrs[l], i);
			const json_t *d = follow(c, p, &ip);
			const char *in = json_string_value(json_object_get(d, "in"));
			const char *n = json_string_value(json_object_get(d, "name"));

			free(ip);
			if (d != NULL && in != NULL && n != NULL &&
			    strcmp(in, "path") == 0 && strcmp(n, name) == 0)
				return d;
		}
	}
	return NULL;
}

/* Swagger 2.0's "in": "body" parameter's schema. */
static const json_t *
body_param(struct conv *c, const json_t *lists[2], const char *lptrs[2],
    char **bptr)
{
	for (int l = 0; l < 2; l++) {
		const json_t *p;
		size_t i;

		json_array_foreach(lists[l], i, p) {
			char *ip = jsonconf_ptr_index(lptrs[l], i);
			const json_t *d = follow(c, p, &ip);
			const char *in = json_string_value(json_object_get(d, "in"));

			if (d != NULL && in != NULL && strcmp(in, "body") == 0) {
				*bptr = jsonconf_ptr_key(ip, "schema");
				free(ip);
				return json_object_get(d, "schema");
			}
			free(ip);
		}
	}
	return NULL;
}

/* OpenAPI 3's JSON request body schema: application/json first, else the
 * first "+json" media type. */
static const json_t *
request_body(struct conv *c, const json_t *op, const char *optr, char **bptr)
{
	char *rp = jsonconf_ptr_key(optr, "requestBody");
	const json_t *rb = follow(c, json_object_get(op, "requestBody"), &rp);
	const json_t *content = json_object_get(rb, "content"), *mt, *found = NULL;
	const char *k, *fk = NULL;

	json_object_foreach((json_t *)content, k, mt) {
		size_t n = strlen(k);

		if (strcmp(k, "application/json") == 0) {
			found = mt;
			fk = k;
			break;
		}
		if (found == NULL && n > 5 && strcmp(k + n - 5, "+json") == 0) {
			found = mt;
			fk = k;
		}
	}
	if (found == NULL || json_object_get(found, "schema") == NULL) {
		free(rp);
		return NULL;
	}
	{
		char *cp = jsonconf_ptr_key(rp, "content"), *mp = jsonconf_ptr_key(cp, fk);

		*bptr = jsonconf_ptr_key(mp, "schema");
		free(cp);
		free(mp);
	}
	free(rp);
	return json_object_get(found, "schema");
}

/* The scopes allowing an operation into act, or public; returns 0, 1 when
 * the operation must be left out (warned), -1 on error. */
static int
security(struct conv *c, const json_t *op, const char *optr, json_t *act)
{
	const json_t *sec = json_object_get(op, "security"), *req;
	char *sp = jsonconf_ptr_key(optr, "security");
	json_t *scopes = json_array();
	size_t i;
	int rc = 0;

	if (sec == NULL) {
		free(sp);
		sp = xstrdup("/security");
		sec = json_object_get(c->doc, "security");
	}
	if (sec == NULL || (json_is_array(sec) && json_array_size(sec) == 0)) {
		json_object_set_new(act, "public", json_true());
		goto out;
	}
	if (!json_is_array(sec)) {
		conv_error(c, sp, "must be an array of security requirements");
		rc = -1;
		goto out;
	}
	json_array_foreach(sec, i, req) {
		char *rp = jsonconf_ptr_index(sp, i);
		const json_t *list = c->scheme ? json_object_get(req, c->scheme) : NULL;
		const json_t *s;
		size_t j;

		if (!json_is_object(req)) {
			conv_error(c, rp, "must be an object");
			rc = -1;
		} else if (json_object_size(req) == 0) {
			/* {}: anonymous access is one of the alternatives */
			json_object_set_new(act, "public", json_true());
			free(rp);
			json_array_clear(scopes);
			goto out;
		} else if (list == NULL) {
			jsonconf_error(c->warns, rp, "uses no scopes of %s%s; "
			    "alternative dropped", c->scheme ? "scheme " : "",
			    c->scheme ? c->scheme : "an oauth2/openIdConnect scheme");
		} else if (!json_is_array(list)) {
			conv_error(c, rp, "scopes must be an array");
			rc = -1;
		} else if (json_array_size(list) == 0) {
			jsonconf_error(c->warns, rp, "asks for a token of %s without "
			    "scopes, which the policy cannot say; alternative dropped",
			    c->scheme);
		} else {
			json_t *entry = json_array(), *have;
			int dup = 0;

			/* Other schemes required together with this one (an API
			 * key as well as the token) are the upstream's to check:
			 * the policy keeps only the scopes, and says so. */
			if (json_object_size(req) > 1)
				jsonconf_error(c->warns, rp, "also requires %zu other "
				    "scheme(s), which scopegate does not check; only the "
				    "scopes of %s are kept", json_object_size(req) - 1,
				    c->scheme);
			/* one scope: a string; several: all of them together */
			json_array_foreach(list, j, s) {
				int seen = 0;
				size_t k;

				if (!json_is_string(s)) {
					conv_error(c, rp, "scopes must be strings");
					rc = -1;
				}
				json_array_foreach(entry, k, have)
					seen |= json_equal(have, s);
				if (!seen)
					json_array_append(entry, (json_t *)s);
			}
			if (json_array_size(entry) == 1) {
				json_t *one = json_incref(json_array_get(entry, 0));

				json_decref(entry);
				entry = one;
			}
			json_array_foreach(scopes, j, have)
				dup |= json_equal(have, entry);
			if (!dup && rc == 0)
				json_array_append(scopes, entry);
			json_decref(entry);
		}
		free(rp);
		if (rc != 0)
			goto out;
	}
	if (json_array_size(scopes) == 0) {
		jsonconf_error(c->warns, optr, "no security requirement scopegate "
		    "can check; operation left out (its route answers 404)");
		rc = 1;
		goto out;
	}
	json_object_set(act, "scopes", scopes);
out:
	json_decref(scopes);
	free(sp);
	return rc;
}

/* The shape of a template, parameters as "{}", for collisions. */
static char *
route_key(const char *method, const char *path)
{
	size_t n = strlen(method) + strlen(path) + 2;
	char *out = xmalloc(n), *o;
	int inparam = 0;

	o = out + snprintf(out, n, "%s ", method);
	for (const char *p = path; *p; p++) {
		if (*p == '{') {
			inparam = 1;
			*o++ = '{';
		} else if (*p == '}') {
			inparam = 0;
			*o++ = '}';
		} else if (!inparam)
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Rewrite the path template for the policy: parameters must be whole
 * segments named by letters, digits and '_'. */
static char *
policy_path(struct conv *c, const char *path, const char *pptr, json_t *names)
{
	size_t n = strlen(c->base) + strlen(path);
	char *out = xmalloc(n + 1), *o = out;
	const char *p = path;

	if (path[0] != '/') {
		conv_error(c, pptr, "path must start with '/'");
		goto fail;
	}
	o += sprintf(o, "%s", c->base);
	if (c->base[0] != '\0' && strcmp(path, "/") == 0)
		p++;	/* the API's root is the base path itself */
	while (*p) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			char *raw, *clean;

			if (end == NULL || p[-1] != '/' || (end[1] != '/' && end[1] != '\0')) {
				conv_error(c, pptr, "parameter must be a whole path segment");
				goto fail;
			}
			raw = xmalloc((size_t)(end - p));
			memcpy(raw, p + 1, (size_t)(end - p - 1));
			raw[end - p - 1] = '\0';
			clean = clean_name(raw, "_");
			if (clean[0] >= '0' && clean[0] <= '9')
				clean[0] = '_';
			json_array_append_new(names, json_pack("[s,s]", raw, clean));
			o += sprintf(o, "{%s}", clean);
			free(raw);
			free(clean);
			p = end + 1;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	n = strlen(out);
	if (n > 1 && out[n - 1] == '/')
		out[n - 1] = '\0';	/* "/pets/" is "/pets" to the policy */
	return out;
fail:
	free(out);
	return NULL;
}

static void
operation(struct conv *c, const char *path, const char *pptr, const json_t *item,
    const char *method, const json_t *op)
{
	char *optr = jsonconf_ptr_key(pptr, method), *name = NULL, *tmpl = NULL;
	char *rkey = NULL, *bptr = NULL, *mup = xstrdup(method);
	const json_t *opid = json_object_get(op, "operationId"), *body = NULL;
	const json_t *lists[2] = { json_object_get(op, "parameters"),
		json_object_get(item, "parameters") };
	char *lp0 = jsonconf_ptr_key(optr, "parameters");
	char *lp1 = jsonconf_ptr_key(pptr, "parameters");
	const char *lptrs[2] = { lp0, lp1 };
	json_t *act = json_object(), *names = json_array(), *params, *prev, *nm;
	size_t i;

	for (char *m = mup; *m; m++)
		*m = (char)(*m - 'a' + 'A');
	if (!json_is_object(op)) {
		conv_error(c, optr, "must be an object");
		goto out;
	}
	if (opid != NULL) {
		char *ip = jsonconf_ptr_key(optr, "operationId");

		if (!json_is_string(opid) || json_string_length(opid) == 0) {
			conv_error(c, ip, "must be a non-empty string");
		} else if ((prev = json_object_get(c->ops, json_string_value(opid))) != NULL) {
			conv_error(c, ip, "duplicate operationId \"%s\" (also %s)",
			    json_string_value(opid), json_string_value(prev));
		} else {
			json_object_set_new(c->ops, json_string_value(opid),
			    json_string(ip));
			name = clean_name(json_string_value(opid), "_-.:");
		}
		free(ip);
		if (name == NULL)
			goto out;
	} else
		name = made_name(method, path);
	if ((prev = json_object_get(c->ops, name)) != NULL &&
	    (opid == NULL || strcmp(name, json_string_value(opid)) != 0)) {
		conv_error(c, optr, "action name \"%s\" made for this operation is "
		    "taken (%s)", name, json_string_value(prev));
		goto out;
	}
	if (prev == NULL)
		json_object_set_new(c->ops, name, json_string(optr));
	if ((tmpl = policy_path(c, path, pptr, names)) == NULL)
		goto out;
	rkey = route_key(mup, tmpl);
	if ((prev = json_object_get(c->routes, rkey)) != NULL) {
		conv_error(c, optr, "%s %s matches the same paths as %s (%s)", mup,
		    path, json_string_value(json_array_get(prev, 0)),
		    json_string_value(json_array_get(prev, 1)));
		goto out;
	}
	json_object_set_new(c->routes, rkey, json_pack("[s,s]", path, optr));
	json_object_set_new(act, "action", json_string(name));
	json_object_set_new(act, "method", json_string(mup));
	json_object_set_new(act, "path", json_string(tmpl));
	switch (security(c, op, optr, act)) {
	case 0:
		break;
	default:
		goto out;
	}
	params = json_object();
	json_array_foreach(names, i, nm) {
		const char *raw = json_string_value(json_array_get(nm, 0));
		const char *clean = json_string_value(json_array_get(nm, 1));
		const json_t *d = find_param(c, lists, lptrs, raw);

		if (json_object_get(params, clean) != NULL) {
			conv_error(c, pptr, "path parameter {%s} appears twice", clean);
			break;
		}
		if (d == NULL)
			jsonconf_error(c->warns, optr, "path parameter {%s} is not "
			    "declared; typed \"string\"", raw);
		json_object_set_new(params, clean, json_string(d ? param_type(d,
		    c->ver == OA_SWAGGER2) : "string"));
	}
	if (json_object_size(params) > 0)
		json_object_set_new(act, "params", params);
	else
		json_decref(params);
	body = c->ver == OA_SWAGGER2 ? body_param(c, lists, lptrs, &bptr) :
	    request_body(c, op, optr, &bptr);
	if (body != NULL && !c->failed) {
		char *sname = clean_name(name, "_-.");
		json_t *sch = body_schema(c, body, bptr);

		if (sname[0] == '.')
			sname[0] = '_';
		if (sch != NULL && json_object_get(c->schemas, sname) != NULL) {
			conv_error(c, optr, "schema name \"%s\" made for this "
			    "operation's body is taken", sname);
			json_decref(sch);
		} else if (sch != NULL) {
			json_object_set_new(c->schemas, sname, sch);
			json_object_set_new(act, "body", json_pack("{s:s}", "schema", sname));
		}
		free(sname);
	}
	if (!c->failed)
		json_array_append(c->actions, act);
out:
	json_decref(act);
	json_decref(names);
	free(lp0);
	free(lp1);
	free(bptr);
	free(rkey);
	free(tmpl);
	free(name);
	free(mup);
	free(optr);
}

/* A base path as the policy writes it: "" for the root, else "/a/b"
 * without a trailing '/'. NULL when it has server variables. */
static char *
clean_base(const char *p)
{
	size_t n;
	char *out;

	if (strchr(p, '{') != NULL)
		return NULL;
	while (*p == '/' && p[1] == '/')
		p++;
	n = strlen(p);
	out = xmalloc(n + 2);
	snprintf(out, n + 2, "%s%s", p[0] == '/' || n == 0 ? "" : "/", p);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	return out;
}

/* The path requests carry before the document's paths: want when given,
 * else Swagger 2.0's basePath or the path of OpenAPI 3's servers (all of
 * them the same). */
static int
pick_base(struct conv *c, const char *want)
{
	const json_t *servers = json_object_get(c->doc, "servers"), *sv;
	char *found = NULL;
	size_t i;

	if (want != NULL || c->ver == OA_SWAGGER2) {
		const char *b = want ? want :
		    json_string_value(json_object_get(c->doc, "basePath"));

		if ((c->base = clean_base(b ? b : "")) == NULL)
			conv_error(c, want ? "" : "/basePath", "base path %s has "
			    "variables", b);
		return c->base ? 0 : -1;
	}
	json_array_foreach(servers, i, sv) {
		const char *url = json_string_value(json_object_get(sv, "url"));
		const char *p = url, *scheme;
		char *ptr = jsonconf_ptr_index("/servers", i), *b;

		if (url != NULL && (scheme = strstr(url, "://")) != NULL)
			p = strchr(scheme + 3, '/') ? strchr(scheme + 3, '/') : "";
		b = url ? clean_base(p) : NULL;
		if (b == NULL) {
			conv_error(c, ptr, "server URL %s: path not known (variables?); "
			    "give --base-path", url ? url : "(none)");
		} else if (found != NULL && strcmp(found, b) != 0) {
			conv_error(c, ptr, "servers with different paths (%s, %s): "
			    "choose one with --base-path", found, b);
		}
		free(ptr);
		if (found == NULL)
			found = b;
		else
			free(b);
	}
	c->base = found ? found : xstrdup("");
	return c->failed ? -1 : 0;
}

/* The oauth2/openIdConnect scheme whose scopes count. */
static int
pick_scheme(struct conv *c, const char *want)
{
	const json_t *defs = c->ver == OA_SWAGGER2 ?
	    json_object_get(c->doc, "securityDefinitions") :
	    json_object_get(json_object_get(c->doc, "components"), "securitySchemes");
	const char *k, *found = NULL;
	const json_t *v;
	int n = 0;

	if (want != NULL) {
		const char *t = json_string_value(json_object_get(
		    json_object_get(defs, want), "type"));

		if (t == NULL || (strcmp(t, "oauth2") != 0 &&
		    strcmp(t, "openIdConnect") != 0)) {
			conv_error(c, c->ver == OA_SWAGGER2 ? "/securityDefinitions" :
			    "/components/securitySchemes", "no oauth2 or "
			    "openIdConnect security scheme named \"%s\"", want);
			return -1;
		}
		c->scheme = want;
		return 0;
	}
	json_object_foreach((json_t *)defs, k, v) {
		const char *t = json_string_value(json_object_get(v, "type"));

		if (t != NULL && (strcmp(t, "oauth2") == 0 ||
		    strcmp(t, "openIdConnect") == 0)) {
			n++;
			found = k;
		}
	}
	if (n > 1) {
		conv_error(c, c->ver == OA_SWAGGER2 ? "/securityDefinitions" :
		    "/components/securitySchemes", "%d oauth2/openIdConnect "
		    "schemes: choose one with --security-scheme", n);
		return -1;
	}
	c->scheme = found;
	return 0;
}

json_t *
openapi_convert(const json_t *doc, const char *scheme, const char *base_path,
    struct jsonconf *errs, struct jsonconf *warns)
{
	struct conv c;
	const json_t *paths, *item, *v;
	const char *path, *ver;
	json_t *out = NULL;

	memset(&c, 0, sizeof(c));
	c.doc = doc;
	c.errs = errs;
	c.warns = warns;
	c.ops = json_object();
	c.routes = json_object();
	c.actions = json_array();
	c.schemas = json_object();
	if (!json_is_object(doc)) {
		conv_error(&c, "", "not an OpenAPI document (not an object)");
		goto out;
	}
	if ((ver = json_string_value(json_object_get(doc, "openapi"))) != NULL) {
		if (strncmp(ver, "3.0.", 4) == 0)
			c.ver = OA_30;
		else if (strncmp(ver, "3.1.", 4) == 0)
			c.ver = OA_31;
		else {
			conv_error(&c, "/openapi", "unsupported version \"%s\" "
			    "(want 3.0.x or 3.1.x)", ver);
			goto out;
		}
	} else if ((ver = json_string_value(json_object_get(doc, "swagger"))) != NULL &&
	    strcmp(ver, "2.0") == 0) {
		c.ver = OA_SWAGGER2;
	} else {
		conv_error(&c, "", "neither \"openapi\": \"3.x\" nor \"swagger\": \"2.0\"");
		goto out;
	}
	if (pick_scheme(&c, scheme) != 0 || pick_base(&c, base_path) != 0)
		goto out;
	if (!json_is_object(paths = json_object_get(doc, "paths"))) {
		conv_error(&c, "/paths", "must be an object");
		goto out;
	}
	json_object_foreach((json_t *)paths, path, item) {
		char *pptr = jsonconf_ptr_key("/paths", path);
		const char *m;

		if (!json_is_object(item)) {
			conv_error(&c, pptr, "must be an object");
		} else if (json_object_get(item, "$ref") != NULL) {
			conv_error(&c, pptr, "path item $ref is not supported");
		} else {
			json_object_foreach((json_t *)item, m, v) {
				if (in_list(methods, m))
					operation(&c, path, pptr, item, m, v);
				else if (strcmp(m, "trace") == 0) {
					char *tp = jsonconf_ptr_key(pptr, m);

					jsonconf_error(warns, tp, "TRACE is not a "
					    "policy method; operation left out");
					free(tp);
				}
			}
		}
		free(pptr);
	}
	if (c.failed)
		goto out;
	if (json_array_size(c.actions) == 0) {
		conv_error(&c, "/paths", "no operation the policy can express");
		goto out;
	}
	out = json_pack("{s:s,s:O,s:O}", "comment", "", "actions", c.actions,
	    "schemas", c.schemas);
out:
	free(c.base);
	json_decref(c.ops);
	json_decref(c.routes);
	json_decref(c.actions);
	json_decref(c.schemas);
	return out;
}
