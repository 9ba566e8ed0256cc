/* jsonschema_compile.c: turn a draft-04 schema document into the node
 * graph of jsonschema_int.h, resolving every $ref and compiling every
 * regex once. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chars.h"
#include "defaults.h"
#include "jsonconf.h"
#include "jsonschema_int.h"
#include "xmalloc.h"

struct nodemap_ent {
	const json_t *key;
	struct jnode *node;
};

struct idmap_ent {
	char *uri;		/* absolute, "" for an anonymous root */
	const json_t *schema;
	const char *docname;	/* for messages */
	char *ptr;		/* pointer of schema inside its document */
};

struct pending_ref {
	struct jnode *node;
	char *uri;		/* resolved against the base in effect */
	const char *docname;
	char *ptr;		/* where the $ref is, for messages */
};

struct cctx {
	struct jschema *js;
	struct errlist *errs;
	const struct jschema_options *opts;
	int nerr;
	struct nodemap_ent *map;
	size_t mapcap, mapn;
	struct idmap_ent *ids;
	size_t nids, idcap;
	struct pending_ref *refs;
	size_t nrefs, refcap;
	char **docnames;	/* parallel to js->docs */
	size_t ndocnames;
};

static struct jnode *compile_node(struct cctx *cc, const json_t *s, const char *base,
    const char *docname, const char *ptr, int depth);

/* Report "docname: ptr: message": an error, or with warn a warning after
 * which the keyword is ignored. */
static void
cc_vreport(struct cctx *cc, int warn, const char *docname, const char *ptr,
    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void
cc_vreport(struct cctx *cc, int warn, const char *docname, const char *ptr,
    const char *fmt, va_list ap)
{
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	errlist_add(cc->errs, warn ? "%s: %s: warning: %s (ignored)" : "%s: %s: %s", docname,
	    ptr[0] ? ptr : "/", msg ? msg : "(out of memory)");
	free(msg);
	if (!warn)
		cc->nerr++;
}

static void
cc_error(struct cctx *cc, const char *docname, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
cc_error(struct cctx *cc, const char *docname, const char *ptr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cc_vreport(cc, 0, docname, ptr, fmt, ap);
	va_end(ap);
}

/* A defect in a keyword's value: an error, or in lenient mode a warning
 * after which the keyword is ignored. */
static void
cc_defect(struct cctx *cc, const char *docname, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
cc_defect(struct cctx *cc, const char *docname, const char *ptr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cc_vreport(cc, (cc->opts->flags & JSCHEMA_LENIENT) != 0, docname, ptr, fmt, ap);
	va_end(ap);
}

static size_t
ptr_hash(const void *p, size_t cap)
{
	uintptr_t v = (uintptr_t)p;

	v ^= v >> 17;
	v *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(v >> 7) & (cap - 1);
}

static struct jnode *
map_get(struct cctx *cc, const json_t *key)
{
	if (cc->mapcap == 0)
		return NULL;
	for (size_t i = ptr_hash(key, cc->mapcap);; i = (i + 1) & (cc->mapcap - 1)) {
		if (cc->map[i].key == NULL)
			return NULL;
		if (cc->map[i].key == key)
			return cc->map[i].node;
	}
}

static void
map_put(struct cctx *cc, const json_t *key, struct jnode *node)
{
	if (2 * (cc->mapn + 1) > cc->mapcap) {
		struct nodemap_ent *old = cc->map;
		size_t oldcap = cc->mapcap;

		cc->mapcap = oldcap ? oldcap * 2 : 64;
		cc->map = xcalloc(cc->mapcap, sizeof(*cc->map));
		cc->mapn = 0;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].key != NULL)
				map_put(cc, old[i].key, old[i].node);
		free(old);
	}
	for (size_t i = ptr_hash(key, cc->mapcap);; i = (i + 1) & (cc->mapcap - 1)) {
		if (cc->map[i].key == NULL) {
			cc->map[i].key = key;
			cc->map[i].node = node;
			cc->mapn++;
			return;
		}
	}
}

/* Length of the scheme of uri including ':', or 0 when it has none. */
static size_t
uri_scheme_len(const char *uri)
{
	size_t i = 0;

	if (!((uri[0] >= 'a' && uri[0] <= 'z') || (uri[0] >= 'A' && uri[0] <= 'Z')))
		return 0;
	while (uri[i] && (isalnum((unsigned char)uri[i]) || uri[i] == '+' || uri[i] == '-' ||
	    uri[i] == '.'))
		i++;
	return uri[i] == ':' ? i + 1 : 0;
}

/*
 * Resolve ref against base (RFC 3986 section 5.2, without removing dot
 * segments); the caller frees the result.
 */
static char *
uri_resolve(const char *base, const char *ref)
{
	size_t blen = strcspn(base, "#"), slen;
	const char *p;
	char *out;

	if (uri_scheme_len(ref) > 0)
		return xstrdup(ref);
	if (ref[0] == '#' || ref[0] == '\0') {
		xasprintf(&out, "%.*s%s", (int)blen, base, ref);
		return out;
	}
	slen = uri_scheme_len(base);
	if (ref[0] == '/' && ref[1] == '/') {
		xasprintf(&out, "%.*s%s", (int)slen, base, ref);
		return out;
	}
	if (ref[0] == '/') {
		size_t alen = slen;
		if (strncmp(base + slen, "//", 2) == 0)
			alen = slen + 2 + strcspn(base + slen + 2, "/?#");
		xasprintf(&out, "%.*s%s", (int)alen, base, ref);
		return out;
	}
	/* Merge: keep base up to its last '/' (before any query). */
	blen = strcspn(base, "?#");
	for (p = base + blen; p > base && p[-1] != '/'; p--)
		;
	if (p == base && slen > 0 && strncmp(base + slen, "//", 2) == 0) {
		xasprintf(&out, "%.*s/%s", (int)blen, base, ref);
		return out;
	}
	xasprintf(&out, "%.*s%s", (int)(p - base), base, ref);
	return out;
}

/* Strip an empty fragment so "x#" and "x" name the same document. */
static void
uri_normalize(char *uri)
{
	size_t n = strlen(uri);

	if (n > 0 && uri[n - 1] == '#')
		uri[n - 1] = '\0';
}

static void
id_add(struct cctx *cc, const char *uri, const json_t *schema, const char *docname,
    const char *ptr)
{
	if (cc->nids == cc->idcap) {
		cc->idcap = cc->idcap ? cc->idcap * 2 : 8;
		cc->ids = xreallocarray(cc->ids, cc->idcap, sizeof(*cc->ids));
	}
	cc->ids[cc->nids].uri = xstrdup(uri);
	uri_normalize(cc->ids[cc->nids].uri);
	cc->ids[cc->nids].schema = schema;
	cc->ids[cc->nids].docname = docname;
	cc->ids[cc->nids].ptr = xstrdup(ptr);
	cc->nids++;
}

static const struct idmap_ent *
id_find(struct cctx *cc, const char *uri)
{
	for (size_t i = 0; i < cc->nids; i++)
		if (strcmp(cc->ids[i].uri, uri) == 0)
			return &cc->ids[i];
	return NULL;
}

/* Percent-decode in place; -1 on a bad escape or an encoded NUL. */
static int
pct_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%') {
			int h = chars_hexval((unsigned char)s[1]), l = h < 0 ? -1 : chars_hexval((unsigned char)s[2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return -1;
			*o++ = (char)(h * 16 + l);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

/*
 * Follow a decoded JSON pointer (RFC 6901) from root; NULL when it does
 * not resolve.
 */
static const json_t *
pointer_get(const json_t *root, const char *ptr)
{
	const json_t *v = root;
	char tok[1024];

	if (*ptr == '\0')
		return root;
	if (*ptr != '/')
		return NULL;
	while (*ptr == '/' && v != NULL) {
		size_t n = 0;
		ptr++;
		for (; *ptr && *ptr != '/'; ptr++) {
			char c = *ptr;
			if (c == '~') {
				if (ptr[1] == '0')
					c = '~';
				else if (ptr[1] == '1')
					c = '/';
				else
					return NULL;
				ptr++;
			}
			if (n + 1 >= sizeof(tok))
				return NULL;
			tok[n++] = c;
		}
		tok[n] = '\0';
		if (json_is_object(v)) {
			v = json_object_get(v, tok);
		} else if (json_is_array(v)) {
			char *end;
			unsigned long idx;
			if (n == 0 || (n > 1 && tok[0] == '0') || tok[0] < '0' || tok[0] > '9')
				return NULL;
			errno = 0;
			idx = strtoul(tok, &end, 10);
			if (*end != '\0' || errno != 0)
				return NULL;
			v = json_array_get(v, idx);
		} else {
			return NULL;
		}
	}
	return v;
}

static size_t
doc_add(struct cctx *cc, json_t *doc, const char *docname)
{
	struct jschema *js = cc->js;

	js->docs = xreallocarray(js->docs, js->ndocs + 1, sizeof(*js->docs));
	cc->docnames = xreallocarray(cc->docnames, js->ndocs + 1, sizeof(*cc->docnames));
	js->docs[js->ndocs] = doc;
	cc->docnames[js->ndocs] = xstrdup(docname);
	cc->ndocnames = js->ndocs + 1;
	return js->ndocs++;
}

/*
 * Find the schema a resolved $ref uri names, loading another document
 * through the loader when needed. Returns the node (compiled on demand) or
 * NULL after reporting.
 */
static struct jnode *
resolve_ref(struct cctx *cc, const struct pending_ref *pr)
{
	const struct idmap_ent *id;
	const json_t *target = NULL;
	const char *hash = strchr(pr->uri, '#');
	char *docuri, *frag, *msgptr = NULL;
	struct jnode *node = NULL;
	int loaded = 0;

	docuri = xstrndup(pr->uri, hash ? (size_t)(hash - pr->uri) : strlen(pr->uri));
	frag = xstrdup(hash ? hash + 1 : "");
	if (pct_decode(frag) != 0) {
		cc_error(cc, pr->docname, pr->ptr, "$ref: bad percent-encoding");
		goto out;
	}
again:
	if (frag[0] != '\0' && frag[0] != '/') {
		/* A location-independent "#name" from an id. */
		if ((id = id_find(cc, pr->uri)) != NULL) {
			target = id->schema;
			xasprintf(&msgptr, "%s", id->ptr);
		}
	} else if ((id = id_find(cc, docuri)) != NULL) {
		target = pointer_get(id->schema, frag);
		xasprintf(&msgptr, "%s%s", id->ptr, frag);
		if (target == NULL && cc->opts->definitions_are_files && cc->opts->loader &&
		    !loaded && strncmp(frag, "/definitions/", 13) == 0) {
			/* Losant: "#/definitions/NAME/rest" means NAME.json#/rest. */
			const char *name = frag + 13, *rest = name + strcspn(name, "/");
			char *nuri;
			xasprintf(&nuri, "%.*s.json", (int)(rest - name), name);
			free(docuri);
			docuri = uri_resolve(id->uri, nuri);
			free(nuri);
			memmove(frag, rest, strlen(rest) + 1);
			free(msgptr);
			msgptr = NULL;
			goto load;
		}
	} else {
		goto load;
	}
	if (target == NULL) {
		cc_error(cc, pr->docname, pr->ptr, "$ref: cannot resolve \"%s\"", pr->uri);
		goto out;
	}
	node = compile_node(cc, target, docuri, id->docname, msgptr, 0);
	goto out;
load:
	if ((id = id_find(cc, docuri)) != NULL) {
		loaded = 1;
		goto again;
	}
	if (cc->opts->loader == NULL || loaded) {
		cc_error(cc, pr->docname, pr->ptr, "$ref: \"%s\": %s", pr->uri,
		    loaded ? "cannot resolve" : "references to other documents are not supported");
		goto out;
	} else if (cc->js->ndocs >= SG_SCHEMA_MAX_DOCUMENTS) {
		cc_error(cc, pr->docname, pr->ptr, "$ref: more than %d documents",
		    SG_SCHEMA_MAX_DOCUMENTS);
		goto out;
	} else {
		json_t *doc = cc->opts->loader(cc->opts->loader_ctx, docuri, cc->errs);
		size_t di;
		if (doc == NULL) {
			cc_error(cc, pr->docname, pr->ptr, "$ref: cannot load \"%s\"", docuri);
			goto out;
		}
		di = doc_add(cc, doc, docuri);
		id_add(cc, docuri, doc, cc->docnames[di], "");
		/* Compile the whole document so its ids are known. */
		(void)compile_node(cc, doc, docuri, cc->docnames[di], "", 0);
		loaded = 1;
		goto again;
	}
out:
	free(msgptr);
	free(frag);
	free(docuri);
	return node;
}

static int
get_count(struct cctx *cc, const json_t *s, const char *key, const char *docname,
    const char *ptr, int64_t *out)
{
	const json_t *v = json_object_get(s, key);

	*out = -1;
	if (v == NULL)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9e18 &&
	    json_real_value(v) == (double)(int64_t)json_real_value(v)) {
		*out = (int64_t)json_real_value(v);
		return 0;
	}
	cc_defect(cc, docname, ptr, "%s: must be a non-negative integer", key);
	return -1;
}

static int
get_bool(struct cctx *cc, const json_t *s, const char *key, const char *docname,
    const char *ptr, int *out)
{
	const json_t *v = json_object_get(s, key);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		cc_defect(cc, docname, ptr, "%s: must be a boolean", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static unsigned
type_bit(const char *name)
{
	static const struct {
		const char *name;
		unsigned bit;
	} t[] = {
		{ "null", JT_NULL }, { "boolean", JT_BOOLEAN }, { "object", JT_OBJECT },
		{ "array", JT_ARRAY }, { "number", JT_NUMBER }, { "string", JT_STRING },
		{ "integer", JT_INTEGER },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(name, t[i].name) == 0)
			return t[i].bit;
	return 0;
}

static int
prop_cmp(const void *a, const void *b)
{
	return strcmp(((const struct jprop *)a)->key, ((const struct jprop *)b)->key);
}

/* Compile the subschema s[key] (which must be an object). */
static struct jnode *
sub(struct cctx *cc, const json_t *v, const char *base, const char *docname,
    const char *ptr, const char *key, int depth)
{
	char *p = jsonconf_ptr_key(ptr, key);
	struct jnode *n = compile_node(cc, v, base, docname, p, depth + 1);

	free(p);
	return n;
}

/* Compile an array of subschemas (allOf, anyOf, oneOf, items). */
static struct jnode **
sub_array(struct cctx *cc, const json_t *a, const char *base, const char *docname,
    const char *ptr, const char *key, int depth, size_t *n, int nonempty)
{
	struct jnode **v;
	char *kp;

	*n = 0;
	if (!json_is_array(a) || (nonempty && json_array_size(a) == 0)) {
		cc_defect(cc, docname, ptr, "%s: must be a%s array of schemas", key,
		    nonempty ? " non-empty" : "n");
		return NULL;
	}
	kp = jsonconf_ptr_key(ptr, key);
	v = xcalloc(json_array_size(a) + 1, sizeof(*v));
	for (size_t i = 0; i < json_array_size(a); i++) {
		char *p = jsonconf_ptr_index(kp, i);
		v[i] = compile_node(cc, json_array_get(a, i), base, docname, p, depth + 1);
		free(p);
	}
	free(kp);
	*n = json_array_size(a);
	return v;
}

static void
compile_types(struct cctx *cc, struct jnode *n, const json_t *t, const char *docname,
    const char *ptr)
{
	if (json_is_string(t)) {
		if ((n->types = type_bit(json_string_value(t))) == 0)
			cc_defect(cc, docname, ptr, "type: unknown type \"%s\"", json_string_value(t));
	} else if (json_is_array(t) && json_array_size(t) > 0) {
		for (size_t i = 0; i < json_array_size(t); i++) {
			const json_t *e = json_array_get(t, i);
			unsigned b = json_is_string(e) ? type_bit(json_string_value(e)) : 0;
			if (b == 0 || (n->types & b)) {
				cc_defect(cc, docname, ptr, "type: item %zu: not a distinct type name", i);
				continue;
			}
			n->types |= b;
		}
	} else {
		cc_defect(cc, docname, ptr, "type: must be a type name or an array of them");
	}
	/* "number" includes "integer". */
	if (n->types & JT_NUMBER)
		n->types |= JT_INTEGER;
}

static void
compile_pattern(struct cctx *cc, struct jpattern *pat, const char *src, const char *docname,
    const char *ptr, const char *what)
{
	char msg[200];

	pat->source = src;
	if ((pat->re = jschema_regex_compile(src, msg, sizeof(msg))) == NULL)
		cc_error(cc, docname, ptr, "%s: %s", what, msg);
	cc->js->has_patterns = 1;
}

static void
compile_object_kw(struct cctx *cc, struct jnode *n, const json_t *s, const char *base,
    const char *docname, const char *ptr, int depth)
{
	const json_t *v, *e;
	const char *key;
	size_t i;

	if ((v = json_object_get(s, "properties")) != NULL) {
		char *kp = jsonconf_ptr_key(ptr, "properties");
		if (!json_is_object(v))
			cc_defect(cc, docname, ptr, "properties: must be an object");
		else if (json_object_size(v) > 0) {
			n->props = xcalloc(json_object_size(v), sizeof(*n->props));
			json_object_foreach((json_t *)v, key, e) {
				n->props[n->nprops].key = key;
				n->props[n->nprops++].schema = sub(cc, e, base, docname, kp, key, depth);
			}
			qsort(n->props, n->nprops, sizeof(*n->props), prop_cmp);
		}
		free(kp);
	}
	if ((v = json_object_get(s, "patternProperties")) != NULL) {
		char *kp = jsonconf_ptr_key(ptr, "patternProperties");
		if (!json_is_object(v))
			cc_defect(cc, docname, ptr, "patternProperties: must be an object");
		else if (json_object_size(v) > 0) {
			n->patprops = xcalloc(json_object_size(v), sizeof(*n->patprops));
			json_object_foreach((json_t *)v, key, e) {
				struct jpatprop *pp = &n->patprops[n->npatprops++];
				char *p = jsonconf_ptr_key(kp, key);
				compile_pattern(cc, &pp->pat, key, docname, p, "patternProperties");
				free(p);
				pp->schema = sub(cc, e, base, docname, kp, key, depth);
			}
		}
		free(kp);
	}
	if ((v = json_object_get(s, "additionalProperties")) != NULL) {
		if (json_is_false(v))
			n->additional_props_false = 1;
		else if (json_is_object(v))
			n->additional_props = sub(cc, v, base, docname, ptr, "additionalProperties", depth);
		else if (!json_is_true(v))
			cc_defect(cc, docname, ptr, "additionalProperties: must be a boolean or a schema");
	}
	if ((v = json_object_get(s, "required")) != NULL) {
		if (!json_is_array(v)) {
			cc_defect(cc, docname, ptr, "required: must be an array of strings");
		} else {
			n->required = xcalloc(json_array_size(v) + 1, sizeof(*n->required));
			json_array_foreach(v, i, e) {
				if (!json_is_string(e))
					cc_defect(cc, docname, ptr, "required: item %zu: must be a string", i);
				else
					n->required[n->nrequired++] = json_string_value(e);
			}
		}
	}
	if ((v = json_object_get(s, "dependencies")) != NULL) {
		char *kp = jsonconf_ptr_key(ptr, "dependencies");
		if (!json_is_object(v))
			cc_defect(cc, docname, ptr, "dependencies: must be an object");
		else if (json_object_size(v) > 0) {
			n->deps = xcalloc(json_object_size(v), sizeof(*n->deps));
			json_object_foreach((json_t *)v, key, e) {
				struct jdep *d = &n->deps[n->ndeps++];
				d->key = key;
				if (json_is_object(e)) {
					d->schema = sub(cc, e, base, docname, kp, key, depth);
				} else if (json_is_array(e)) {
					const json_t *nm;
					size_t j;
					d->names = xcalloc(json_array_size(e) + 1, sizeof(*d->names));
					json_array_foreach(e, j, nm) {
						if (json_is_string(nm))
							d->names[d->nnames++] = json_string_value(nm);
						else
							cc_defect(cc, docname, kp, "%s: item %zu: must be a string",
							    key, j);
					}
				} else {
					cc_defect(cc, docname, kp, "%s: must be a schema or an array", key);
				}
			}
		}
		free(kp);
	}
	get_count(cc, s, "minProperties", docname, ptr, &n->min_props);
	get_count(cc, s, "maxProperties", docname, ptr, &n->max_props);
}

static void
compile_array_kw(struct cctx *cc, struct jnode *n, const json_t *s, const char *base,
    const char *docname, const char *ptr, int depth)
{
	const json_t *v;

	if ((v = json_object_get(s, "items")) != NULL) {
		if (json_is_object(v)) {
			n->items = sub(cc, v, base, docname, ptr, "items", depth);
		} else if (json_is_array(v)) {
			n->items_is_tuple = 1;
			n->items_tuple = sub_array(cc, v, base, docname, ptr, "items", depth,
			    &n->nitems_tuple, 0);
		} else {
			cc_defect(cc, docname, ptr, "items: must be a schema or an array of schemas");
		}
	}
	if ((v = json_object_get(s, "additionalItems")) != NULL) {
		if (json_is_false(v))
			n->additional_items_false = 1;
		else if (json_is_object(v))
			n->additional_items = sub(cc, v, base, docname, ptr, "additionalItems", depth);
		else if (!json_is_true(v))
			cc_defect(cc, docname, ptr, "additionalItems: must be a boolean or a schema");
	}
	get_count(cc, s, "minItems", docname, ptr, &n->min_items);
	get_count(cc, s, "maxItems", docname, ptr, &n->max_items);
	get_bool(cc, s, "uniqueItems", docname, ptr, &n->unique_items);
}

static void
compile_scalar_kw(struct cctx *cc, struct jnode *n, const json_t *s, const char *docname,
    const char *ptr)
{
	const json_t *v;

	if ((v = json_object_get(s, "minimum")) != NULL && !json_is_number(v))
		cc_defect(cc, docname, ptr, "minimum: must be a number");
	else
		n->minimum = v;
	if ((v = json_object_get(s, "maximum")) != NULL && !json_is_number(v))
		cc_defect(cc, docname, ptr, "maximum: must be a number");
	else
		n->maximum = v;
	get_bool(cc, s, "exclusiveMinimum", docname, ptr, &n->excl_min);
	get_bool(cc, s, "exclusiveMaximum", docname, ptr, &n->excl_max);
	if ((v = json_object_get(s, "multipleOf")) != NULL) {
		if (!json_is_number(v) || json_number_value(v) <= 0)
			cc_defect(cc, docname, ptr, "multipleOf: must be a number above 0");
		else
			n->multiple_of = v;
	}
	get_count(cc, s, "minLength", docname, ptr, &n->min_length);
	get_count(cc, s, "maxLength", docname, ptr, &n->max_length);
	if ((v = json_object_get(s, "pattern")) != NULL) {
		if (!json_is_string(v))
			cc_defect(cc, docname, ptr, "pattern: must be a string");
		else
			compile_pattern(cc, &n->pattern, json_string_value(v), docname, ptr, "pattern");
	}
	if ((v = json_object_get(s, "format")) != NULL) {
		const char *f = json_string_value(v);
		if (f == NULL)
			cc_defect(cc, docname, ptr, "format: must be a string");
		else if (strcmp(f, "date-time") == 0)
			n->format = JF_DATE_TIME;
		else if (strcmp(f, "email") == 0)
			n->format = JF_EMAIL;
		else if (strcmp(f, "uri") == 0)
			n->format = JF_URI;
	}
	if ((v = json_object_get(s, "enum")) != NULL) {
		if (!json_is_array(v) || json_array_size(v) == 0)
			cc_defect(cc, docname, ptr, "enum: must be a non-empty array");
		else
			n->enumv = v;
	}
}

/*
 * Compile schema s (found at docname#ptr, base URI base) into a node, or
 * return the node already made for it. Never NULL: a broken schema yields
 * a node after reporting, so compilation goes on and reports everything.
 */
static struct jnode *
compile_node(struct cctx *cc, const json_t *s, const char *base, const char *docname,
    const char *ptr, int depth)
{
	struct jschema *js = cc->js;
	const json_t *v;
	struct jnode *n;
	char *nbase = NULL;

	if ((n = map_get(cc, s)) != NULL)
		return n;
	n = xcalloc(1, sizeof(*n));
	n->min_length = n->max_length = n->min_items = n->max_items = -1;
	n->min_props = n->max_props = -1;
	xasprintf(&n->ptr, "%s#%s", docname, ptr);
	js->nodes = xreallocarray(js->nodes, js->nnodes + 1, sizeof(*js->nodes));
	js->nodes[js->nnodes++] = n;
	map_put(cc, s, n);
	if (!json_is_object(s)) {
		cc_defect(cc, docname, ptr, "a schema must be an object");
		goto out;
	}
	if (depth > SG_SCHEMA_MAX_DEPTH) {
		cc_error(cc, docname, ptr, "schema nested deeper than %d levels",
		    SG_SCHEMA_MAX_DEPTH);
		goto out;
	}
	if ((v = json_object_get(s, "$ref")) != NULL && json_is_string(v)) {
		/* draft-04: every sibling of $ref, "id" included, is ignored. */
		struct pending_ref *pr;
		if (cc->nrefs == cc->refcap) {
			cc->refcap = cc->refcap ? cc->refcap * 2 : 16;
			cc->refs = xreallocarray(cc->refs, cc->refcap, sizeof(*cc->refs));
		}
		pr = &cc->refs[cc->nrefs++];
		pr->node = n;
		pr->uri = uri_resolve(base, json_string_value(v));
		pr->docname = docname;
		pr->ptr = jsonconf_ptr_key(ptr, "$ref");
		goto out;
	}
	if ((v = json_object_get(s, "id")) != NULL && json_is_string(v)) {
		nbase = uri_resolve(base, json_string_value(v));
		id_add(cc, nbase, s, docname, ptr);
		base = nbase;
	}
	if ((v = json_object_get(s, "type")) != NULL)
		compile_types(cc, n, v, docname, ptr);
	compile_scalar_kw(cc, n, s, docname, ptr);
	compile_array_kw(cc, n, s, base, docname, ptr, depth);
	compile_object_kw(cc, n, s, base, docname, ptr, depth);
	if ((v = json_object_get(s, "allOf")) != NULL)
		n->all_of = sub_array(cc, v, base, docname, ptr, "allOf", depth, &n->nall_of, 1);
	if ((v = json_object_get(s, "anyOf")) != NULL)
		n->any_of = sub_array(cc, v, base, docname, ptr, "anyOf", depth, &n->nany_of, 1);
	if ((v = json_object_get(s, "oneOf")) != NULL)
		n->one_of = sub_array(cc, v, base, docname, ptr, "oneOf", depth, &n->none_of, 1);
	if ((v = json_object_get(s, "not")) != NULL)
		n->not = sub(cc, v, base, docname, ptr, "not", depth);
	if ((v = json_object_get(s, "definitions")) != NULL) {
		/* Compiled so their errors are reported and their ids known. */
		char *kp = jsonconf_ptr_key(ptr, "definitions");
		const char *key;
		const json_t *e;
		if (!json_is_object(v))
			cc_defect(cc, docname, ptr, "definitions: must be an object");
		else
			json_object_foreach((json_t *)v, key, e)
				(void)sub(cc, e, base, docname, kp, key, depth);
		free(kp);
	}
out:
	free(nbase);
	return n;
}

enum { WHITE, GREY, BLACK };

/*
 * Depth-first search over the edges that apply a subschema to the same
 * instance ($ref, allOf, anyOf, oneOf, not, dependencies): a cycle there
 * would make validation recurse forever without consuming the instance.
 * Returns -1 after reporting such a cycle.
 */
static int
find_inplace_cycle(struct cctx *cc, struct jnode *n, int depth)
{
	int rc = 0;

	if (n->mark == BLACK)
		return 0;
	if (n->mark == GREY || depth > SG_SCHEMA_MAX_DEPTH) {
		errlist_add(cc->errs, "%s: %s", n->ptr, n->mark == GREY ?
		    "$ref cycle that never descends into the instance" :
		    "subschemas applied in place nested too deep");
		cc->nerr++;
		return -1;
	}
	n->mark = GREY;
	if (n->ref)
		rc = find_inplace_cycle(cc, n->ref, depth + 1);
	for (size_t i = 0; i < n->nall_of && rc == 0; i++)
		rc = find_inplace_cycle(cc, n->all_of[i], depth + 1);
	for (size_t i = 0; i < n->nany_of && rc == 0; i++)
		rc = find_inplace_cycle(cc, n->any_of[i], depth + 1);
	for (size_t i = 0; i < n->none_of && rc == 0; i++)
		rc = find_inplace_cycle(cc, n->one_of[i], depth + 1);
	if (n->not && rc == 0)
		rc = find_inplace_cycle(cc, n->not, depth + 1);
	for (size_t i = 0; i < n->ndeps && rc == 0; i++)
		if (n->deps[i].schema)
			rc = find_inplace_cycle(cc, n->deps[i].schema, depth + 1);
	n->mark = BLACK;
	return rc;
}

struct jschema *
jschema_compile_opts(const json_t *schema, const char *name,
    const struct jschema_options *opts, struct errlist *errs)
{
	static const struct jschema_options noopts;
	struct jschema *js = xcalloc(1, sizeof(*js));
	struct cctx cc;
	struct jschema *ret = NULL;

	memset(&cc, 0, sizeof(cc));
	cc.js = js;
	cc.errs = errs;
	cc.opts = opts ? opts : &noopts;
	js->name = xstrdup(name);
	doc_add(&cc, json_incref((json_t *)schema), name);
	id_add(&cc, "", schema, cc.docnames[0], "");
	/* With a loader, name is also the uri of the document itself. */
	if (cc.opts->loader != NULL)
		id_add(&cc, name, schema, cc.docnames[0], "");
	js->root = compile_node(&cc, schema, "", cc.docnames[0], "", 0);
	/* Resolving a $ref may compile more nodes, adding more refs. */
	for (size_t i = 0; i < cc.nrefs; i++) {
		struct pending_ref pr = cc.refs[i];
		pr.node->ref = resolve_ref(&cc, &pr);
	}
	for (size_t i = 0; i < js->nnodes && cc.nerr == 0; i++)
		find_inplace_cycle(&cc, js->nodes[i], 0);
	if (cc.nerr == 0 && js->has_patterns) {
		js->mctx = pcre2_match_context_create(NULL);
		if (js->mctx == NULL) {
			errlist_add(errs, "%s: out of memory", name);
			cc.nerr++;
		} else {
			pcre2_set_match_limit(js->mctx, SG_SCHEMA_REGEX_MATCH_LIMIT);
			pcre2_set_heap_limit(js->mctx, SG_SCHEMA_REGEX_HEAP_LIMIT_KB);
		}
	}
	if (cc.nerr == 0) {
		ret = js;
		js = NULL;
	}
	for (size_t i = 0; i < cc.nids; i++) {
		free(cc.ids[i].uri);
		free(cc.ids[i].ptr);
	}
	free(cc.ids);
	for (size_t i = 0; i < cc.nrefs; i++) {
		free(cc.refs[i].uri);
		free(cc.refs[i].ptr);
	}
	free(cc.refs);
	free(cc.map);
	for (size_t i = 0; i < cc.ndocnames; i++)
		free(cc.docnames[i]);
	free(cc.docnames);
	jschema_free(js);
	return ret;
}

struct jschema *
jschema_compile(const json_t *schema, const char *name, struct errlist *errs)
{
	return jschema_compile_opts(schema, name, NULL, errs);
}

json_t *
jschema_dir_loader(void *ctx, const char *uri, struct errlist *errs)
{
	const char *dir = ctx;
	struct jsonconf jc;
	char *path;
	json_t *doc;

	if (uri[0] == '\0' || uri[0] == '.' || strchr(uri, '/') != NULL ||
	    uri_scheme_len(uri) > 0) {
		errlist_add(errs, "%s: only sibling schema files can be referenced", uri);
		return NULL;
	}
	xasprintf(&path, "%s/%s", dir, uri);
	jc.file = path;
	jc.errs = errs;
	doc = jsonconf_load_file(&jc, path);
	free(path);
	return doc;
}

struct jschema *
jschema_compile_file(const char *dir, const char *file, unsigned flags, struct errlist *errs)
{
	struct jschema_options o = { jschema_dir_loader, (void *)(uintptr_t)dir, 1, flags };
	struct jsonconf jc;
	struct jschema *js;
	json_t *doc;
	char *path;

	xasprintf(&path, "%s/%s", dir, file);
	jc.file = path;
	jc.errs = errs;
	doc = jsonconf_load_file(&jc, path);
	free(path);
	if (doc == NULL)
		return NULL;
	js = jschema_compile_opts(doc, file, &o, errs);
	json_decref(doc);
	return js;
}
