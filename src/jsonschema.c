/* jsonschema.c: validation against a compiled draft-04 schema (see
 * jsonschema.h); compilation is in jsonschema_compile.c. */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "jsonschema_int.h"
#include "xmalloc.h"

/* One step of the path from the instance root, kept on the C stack so that
 * the JSON pointer is only rendered when a violation is reported. */
struct vpath {
	const struct vpath *up;
	const char *key;	/* object member, or NULL for an array index */
	size_t index;
};

struct vctx {
	const struct jschema *js;
	struct jschema_error *err;
	int quiet;		/* inside anyOf/oneOf/not: failures are expected */
	pcre2_match_data *md;
};

static int validate(struct vctx *vc, const struct jnode *n, const json_t *inst,
    const struct vpath *path, int depth);

void
jschema_free(struct jschema *js)
{
	if (js == NULL)
		return;
	for (size_t i = 0; i < js->nnodes; i++) {
		struct jnode *n = js->nodes[i];
		pcre2_code_free(n->pattern.re);
		for (size_t j = 0; j < n->npatprops; j++)
			pcre2_code_free(n->patprops[j].pat.re);
		for (size_t j = 0; j < n->ndeps; j++)
			free(n->deps[j].names);
		free(n->patprops);
		free(n->props);
		free(n->deps);
		free(n->required);
		free(n->items_tuple);
		free(n->all_of);
		free(n->any_of);
		free(n->one_of);
		free(n->ptr);
		free(n);
	}
	free(js->nodes);
	for (size_t i = 0; i < js->ndocs; i++)
		json_decref(js->docs[i]);
	free(js->docs);
	pcre2_match_context_free(js->mctx);
	free(js->name);
	free(js);
}

const char *
jschema_name(const struct jschema *js)
{
	return js->name;
}

/* Append s to buf (size JSCHEMA_PTR_MAX) at *o, escaping for a JSON
 * pointer when esc is set; 0, or -1 when it does not fit. */
static int
ptr_append(char *buf, size_t *o, const char *s, int esc)
{
	for (; *s; s++) {
		const char *rep = NULL;
		char one[2] = { *s, '\0' };
		if (esc && *s == '~')
			rep = "~0";
		else if (esc && *s == '/')
			rep = "~1";
		else
			rep = one;
		if (*o + strlen(rep) + 4 > JSCHEMA_PTR_MAX)
			return -1;
		memcpy(buf + *o, rep, strlen(rep));
		*o += strlen(rep);
	}
	buf[*o] = '\0';
	return 0;
}

/* Render path as a JSON pointer into buf, ending in "..." if truncated. */
static void
render_path(char *buf, const struct vpath *path)
{
	const struct vpath *steps[SG_SCHEMA_MAX_DEPTH + 8];
	size_t n = 0, o = 0;

	for (; path != NULL && n < sizeof(steps) / sizeof(steps[0]); path = path->up)
		steps[n++] = path;
	buf[0] = '\0';
	while (n-- > 0) {
		char idx[24];
		if (ptr_append(buf, &o, "/", 0) != 0)
			goto trunc;
		if (steps[n]->key == NULL)
			snprintf(idx, sizeof(idx), "%zu", steps[n]->index);
		if (ptr_append(buf, &o, steps[n]->key ? steps[n]->key : idx, 1) != 0)
			goto trunc;
	}
	return;
trunc:
	memcpy(buf + o, "...", 4);
}

/* Record a violation (the first one only, and not inside anyOf & co.);
 * always returns -1 so callers can "return fail(...)". */
static int fail(struct vctx *vc, const struct jnode *n, const struct vpath *path,
    const char *keyword, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
fail(struct vctx *vc, const struct jnode *n, const struct vpath *path, const char *keyword,
    const char *fmt, ...)
{
	struct jschema_error *e = vc->err;
	va_list ap;
	size_t o = 0;

	if (vc->quiet || e == NULL)
		return -1;
	render_path(e->instance_ptr, path);
	e->schema_ptr[0] = '\0';
	if (ptr_append(e->schema_ptr, &o, n->ptr, 0) != 0 ||
	    ptr_append(e->schema_ptr, &o, "/", 0) != 0 ||
	    ptr_append(e->schema_ptr, &o, keyword, 1) != 0)
		memcpy(e->schema_ptr + o, "...", 4);
	snprintf(e->keyword, sizeof(e->keyword), "%s", keyword);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	/* Report once: the outermost caller sees the first violation. */
	vc->quiet = 1;
	return -1;
}

/* Compare two JSON numbers exactly (int64 against double included). */
static int
num_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_integer(a) || json_is_integer(b)) {
		int swap = json_is_real(a);
		json_int_t i = json_integer_value(swap ? b : a);
		double r = json_real_value(swap ? a : b), fl;
		int c;
		if (r >= 9223372036854775808.0)
			c = -1;
		else if (r < -9223372036854775808.0)
			c = 1;
		else {
			fl = floor(r);
			c = i < (json_int_t)fl ? -1 : i > (json_int_t)fl ? 1 : (r > fl ? -1 : 0);
		}
		return swap ? -c : c;
	}
	{
		double x = json_real_value(a), y = json_real_value(b);
		return x < y ? -1 : x > y;
	}
}

static int
is_multiple(const json_t *x, const json_t *m)
{
	double xv, mv, q, r;

	if (json_is_integer(x) && json_is_integer(m))
		return json_integer_value(x) % json_integer_value(m) == 0;
	xv = json_number_value(x);
	mv = json_number_value(m);
	/* fmod is exact: it settles large quotients (1e308 / 0.5). */
	r = fmod(fabs(xv), mv);
	if (r == 0)
		return 1;
	/* Otherwise allow the rounding of a decimal divisor: 0.07 / 0.01. */
	q = xv / mv;
	if (!isfinite(q))
		return 0;
	return fabs(q - nearbyint(q)) <= 4 * DBL_EPSILON * fmax(1.0, fabs(q));
}

static int
eq_depth(const json_t *a, const json_t *b, int depth)
{
	if (depth > SG_SCHEMA_MAX_DEPTH)
		return -1;
	if (json_is_number(a) && json_is_number(b))
		return num_cmp(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++) {
			int r = eq_depth(json_array_get(a, i), json_array_get(b, i), depth + 1);
			if (r != 1)
				return r;
		}
		return 1;
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, v) {
			const json_t *w = json_object_get(b, k);
			int r = w ? eq_depth(v, w, depth + 1) : 0;
			if (r != 1)
				return r;
		}
		return 1;
	}
	default:
		return 1;	/* null, true, false: same type is same value */
	}
}

int
jschema_json_equal(const json_t *a, const json_t *b)
{
	return eq_depth(a, b, 0);
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static uint64_t
bytes_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

/* A hash consistent with eq_depth (1 and 1.0 hash alike); -1 in *bad when
 * nested too deep. */
static uint64_t
json_hash(const json_t *v, int depth, int *bad)
{
	uint64_t h = (uint64_t)json_typeof(v);

	if (depth > SG_SCHEMA_MAX_DEPTH) {
		*bad = 1;
		return 0;
	}
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		return mix(JSON_INTEGER, (uint64_t)json_integer_value(v));
	case JSON_REAL: {
		double r = json_real_value(v);
		uint64_t bits;
		if (r == floor(r) && r >= -9223372036854775808.0 && r < 9223372036854775808.0)
			return mix(JSON_INTEGER, (uint64_t)(json_int_t)r);
		memcpy(&bits, &r, sizeof(bits));
		return mix(JSON_REAL, bits);
	}
	case JSON_STRING:
		return mix(h, bytes_hash(json_string_value(v), json_string_length(v)));
	case JSON_ARRAY:
		for (size_t i = 0; i < json_array_size(v); i++)
			h = mix(h, json_hash(json_array_get(v, i), depth + 1, bad));
		return h;
	case JSON_OBJECT: {
		const char *k;
		json_t *e;
		uint64_t sum = 0;
		/* Member order does not matter: combine commutatively. */
		json_object_foreach((json_t *)v, k, e)
			sum += mix(bytes_hash(k, strlen(k)), json_hash(e, depth + 1, bad));
		return mix(h, sum);
	}
	default:
		return h;
	}
}

struct hidx {
	uint64_t h;
	size_t i;
};

static int
hidx_cmp(const void *a, const void *b)
{
	const struct hidx *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Find two equal items: 1 with their indexes, 0 when all differ, -1 when
 * too deep. Short arrays compare pairwise; long ones sort by hash first. */
static int
find_duplicate(const json_t *a, size_t *i1, size_t *i2)
{
	size_t n = json_array_size(a);
	struct hidx *hs;
	int bad = 0, rc = 0;

	if (n <= 32) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				int r = eq_depth(json_array_get(a, i), json_array_get(a, j), 1);
				if (r != 0) {
					*i1 = i;
					*i2 = j;
					return r;
				}
			}
		return 0;
	}
	hs = xreallocarray(NULL, n, sizeof(*hs));
	for (size_t i = 0; i < n; i++) {
		hs[i].h = json_hash(json_array_get(a, i), 1, &bad);
		hs[i].i = i;
	}
	if (bad) {
		rc = -1;
		goto out;
	}
	qsort(hs, n, sizeof(*hs), hidx_cmp);
	for (size_t s = 0; s < n && rc == 0; s++)
		for (size_t t = s + 1; t < n && hs[t].h == hs[s].h && rc == 0; t++) {
			rc = eq_depth(json_array_get(a, hs[s].i), json_array_get(a, hs[t].i), 1);
			*i1 = hs[s].i;
			*i2 = hs[t].i;
		}
out:
	free(hs);
	return rc;
}

static unsigned
type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return JT_OBJECT;
	case JSON_ARRAY: return JT_ARRAY;
	case JSON_STRING: return JT_STRING;
	case JSON_INTEGER: return JT_INTEGER | JT_NUMBER;
	case JSON_REAL: {
		/* draft-04 suite: 1.0 is an integer (a number with no fraction). */
		double r = json_real_value(v);
		return JT_NUMBER | (r == floor(r) && isfinite(r) ? JT_INTEGER : 0);
	}
	case JSON_TRUE:
	case JSON_FALSE: return JT_BOOLEAN;
	case JSON_NULL: return JT_NULL;
	}
	return 0;
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

static void
types_text(unsigned t, char *buf, size_t size)
{
	static const char *names[] = { "null", "boolean", "object", "array", "number",
		"string", "integer" };
	size_t o = 0;

	buf[0] = '\0';
	if (t & JT_NUMBER)
		t &= ~JT_INTEGER;
	for (int i = 0; i < 7; i++)
		if ((t & (1u << i)) && o < size)
			o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? " or " : "", names[i]);
}

static int
check_number(struct vctx *vc, const struct jnode *n, const json_t *inst,
    const struct vpath *path)
{
	int c;

	if (n->minimum != NULL) {
		c = num_cmp(inst, n->minimum);
		if (c < 0 || (c == 0 && n->excl_min))
			return fail(vc, n, path, "minimum", "must be %s %g",
			    n->excl_min ? ">" : ">=", json_number_value(n->minimum));
	}
	if (n->maximum != NULL) {
		c = num_cmp(inst, n->maximum);
		if (c > 0 || (c == 0 && n->excl_max))
			return fail(vc, n, path, "maximum", "must be %s %g",
			    n->excl_max ? "<" : "<=", json_number_value(n->maximum));
	}
	if (n->multiple_of != NULL && !is_multiple(inst, n->multiple_of))
		return fail(vc, n, path, "multipleOf", "must be a multiple of %g",
		    json_number_value(n->multiple_of));
	return 0;
}

static int
check_string(struct vctx *vc, const struct jnode *n, const json_t *inst,
    const struct vpath *path)
{
	const char *s = json_string_value(inst);
	size_t len = json_string_length(inst);

	if (n->min_length >= 0 || n->max_length >= 0) {
		size_t cps = 0;
		/* Code points: count every byte that does not continue one. */
		for (size_t i = 0; i < len; i++)
			cps += ((unsigned char)s[i] & 0xc0) != 0x80;
		if (n->min_length >= 0 && cps < (uint64_t)n->min_length)
			return fail(vc, n, path, "minLength", "shorter than %lld characters",
			    (long long)n->min_length);
		if (n->max_length >= 0 && cps > (uint64_t)n->max_length)
			return fail(vc, n, path, "maxLength", "longer than %lld characters",
			    (long long)n->max_length);
	}
	if (n->pattern.re != NULL) {
		int m = jschema_regex_match(vc->js, n->pattern.re, &vc->md, s, len);
		if (m < 0)
			return fail(vc, n, path, "pattern", "pattern match failed (limit)");
		if (m == 0)
			return fail(vc, n, path, "pattern", "does not match the pattern");
	}
	if (n->format != JF_NONE && !jschema_format_check(n->format, s, len))
		return fail(vc, n, path, "format", "not a valid %s",
		    n->format == JF_DATE_TIME ? "date-time" : n->format == JF_EMAIL ? "email" : "uri");
	return 0;
}

static int
check_array(struct vctx *vc, const struct jnode *n, const json_t *inst,
    const struct vpath *path, int depth)
{
	size_t size = json_array_size(inst);

	if (n->min_items >= 0 && size < (uint64_t)n->min_items)
		return fail(vc, n, path, "minItems", "fewer than %lld items",
		    (long long)n->min_items);
	if (n->max_items >= 0 && size > (uint64_t)n->max_items)
		return fail(vc, n, path, "maxItems", "more than %lld items",
		    (long long)n->max_items);
	if (n->items != NULL || n->items_is_tuple) {
		for (size_t i = 0; i < size; i++) {
			struct vpath p = { path, NULL, i };
			const struct jnode *s;
			if (!n->items_is_tuple)
				s = n->items;
			else if (i < n->nitems_tuple)
				s = n->items_tuple[i];
			else if (n->additional_items_false)
				return fail(vc, n, &p, "additionalItems", "no more than %zu items allowed",
				    n->nitems_tuple);
			else if ((s = n->additional_items) == NULL)
				break;
			if (validate(vc, s, json_array_get(inst, i), &p, depth + 1) != 0)
				return -1;
		}
	}
	if (n->unique_items && size > 1) {
		size_t i1 = 0, i2 = 0;
		int r = find_duplicate(inst, &i1, &i2);
		if (r < 0)
			return fail(vc, n, path, "depth", "nested deeper than %d levels",
			    SG_SCHEMA_MAX_DEPTH);
		if (r > 0) {
			struct vpath p = { path, NULL, i2 };
			return fail(vc, n, &p, "uniqueItems", "same as item %zu", i1);
		}
	}
	return 0;
}

static const struct jnode *
prop_find(const struct jnode *n, const char *key)
{
	size_t lo = 0, hi = n->nprops;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(key, n->props[mid].key);
		if (c == 0)
			return n->props[mid].schema;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
check_object(struct vctx *vc, const struct jnode *n, const json_t *inst,
    const struct vpath *path, int depth)
{
	size_t size = json_object_size(inst);
	const char *key;
	json_t *v;

	for (size_t i = 0; i < n->nrequired; i++)
		if (json_object_get(inst, n->required[i]) == NULL)
			return fail(vc, n, path, "required", "missing required property \"%.80s\"",
			    n->required[i]);
	if (n->min_props >= 0 && size < (uint64_t)n->min_props)
		return fail(vc, n, path, "minProperties", "fewer than %lld properties",
		    (long long)n->min_props);
	if (n->max_props >= 0 && size > (uint64_t)n->max_props)
		return fail(vc, n, path, "maxProperties", "more than %lld properties",
		    (long long)n->max_props);
	if (n->nprops || n->npatprops || n->additional_props || n->additional_props_false) {
		json_object_foreach((json_t *)inst, key, v) {
			struct vpath p = { path, key, 0 };
			const struct jnode *s = prop_find(n, key);
			int matched = s != NULL;
			if (s != NULL && validate(vc, s, v, &p, depth + 1) != 0)
				return -1;
			for (size_t i = 0; i < n->npatprops; i++) {
				int m = jschema_regex_match(vc->js, n->patprops[i].pat.re, &vc->md,
				    key, strlen(key));
				if (m < 0)
					return fail(vc, n, &p, "patternProperties",
					    "pattern match failed (limit)");
				if (m == 0)
					continue;
				matched = 1;
				if (validate(vc, n->patprops[i].schema, v, &p, depth + 1) != 0)
					return -1;
			}
			if (matched)
				continue;
			if (n->additional_props_false)
				return fail(vc, n, &p, "additionalProperties", "property not allowed");
			if (n->additional_props != NULL &&
			    validate(vc, n->additional_props, v, &p, depth + 1) != 0)
				return -1;
		}
	}
	for (size_t i = 0; i < n->ndeps; i++) {
		const struct jdep *d = &n->deps[i];
		if (json_object_get(inst, d->key) == NULL)
			continue;
		if (d->schema != NULL && validate(vc, d->schema, inst, path, depth + 1) != 0)
			return -1;
		for (size_t j = 0; j < d->nnames; j++)
			if (json_object_get(inst, d->names[j]) == NULL)
				return fail(vc, n, path, "dependencies",
				    "property \"%.60s\" requires property \"%.60s\"", d->key, d->names[j]);
	}
	return 0;
}

/* Does inst validate against n? Errors inside are not reported. */
static int
quiet_ok(struct vctx *vc, const struct jnode *n, const json_t *inst,
    const struct vpath *path, int depth)
{
	int rc;

	vc->quiet++;
	rc = validate(vc, n, inst, path, depth + 1);
	vc->quiet--;
	return rc == 0;
}

static int
check_combinators(struct vctx *vc, const struct jnode *n, const json_t *inst,
    const struct vpath *path, int depth)
{
	for (size_t i = 0; i < n->nall_of; i++)
		if (validate(vc, n->all_of[i], inst, path, depth + 1) != 0)
			return -1;
	if (n->nany_of > 0) {
		size_t i;
		for (i = 0; i < n->nany_of; i++)
			if (quiet_ok(vc, n->any_of[i], inst, path, depth))
				break;
		if (i == n->nany_of)
			return fail(vc, n, path, "anyOf", "does not match any of the %zu schemas",
			    n->nany_of);
	}
	if (n->none_of > 0) {
		size_t ok = 0;
		for (size_t i = 0; i < n->none_of && ok < 2; i++)
			ok += (size_t)quiet_ok(vc, n->one_of[i], inst, path, depth);
		if (ok != 1)
			return fail(vc, n, path, "oneOf", "matches %s of the %zu schemas",
			    ok ? "more than one" : "none", n->none_of);
	}
	if (n->not != NULL && quiet_ok(vc, n->not, inst, path, depth))
		return fail(vc, n, path, "not", "must not match the schema");
	return 0;
}

/* Validate inst (at path) against n: 0 valid, -1 not (reported). */
static int
validate(struct vctx *vc, const struct jnode *n, const json_t *inst,
    const struct vpath *path, int depth)
{
	unsigned t;

	/* Compilation refuses $ref cycles, so this chain ends. */
	while (n->ref != NULL)
		n = n->ref;
	if (depth > SG_SCHEMA_MAX_DEPTH)
		return fail(vc, n, path, "depth", "nested deeper than %d levels",
		    SG_SCHEMA_MAX_DEPTH);
	t = type_of(inst);
	if (n->types != 0 && (n->types & t) == 0) {
		char want[80];
		types_text(n->types, want, sizeof(want));
		return fail(vc, n, path, "type", "expected %s, got %s", want, type_name(inst));
	}
	if (n->enumv != NULL) {
		size_t i;
		int r = 0;
		for (i = 0; i < json_array_size(n->enumv); i++)
			if ((r = eq_depth(inst, json_array_get(n->enumv, i), depth)) != 0)
				break;
		if (r < 0)
			return fail(vc, n, path, "depth", "nested deeper than %d levels",
			    SG_SCHEMA_MAX_DEPTH);
		if (r == 0)
			return fail(vc, n, path, "enum", "not one of the allowed values");
	}
	switch (json_typeof(inst)) {
	case JSON_INTEGER:
	case JSON_REAL:
		if (check_number(vc, n, inst, path) != 0)
			return -1;
		break;
	case JSON_STRING:
		if (check_string(vc, n, inst, path) != 0)
			return -1;
		break;
	case JSON_ARRAY:
		if (check_array(vc, n, inst, path, depth) != 0)
			return -1;
		break;
	case JSON_OBJECT:
		if (check_object(vc, n, inst, path, depth) != 0)
			return -1;
		break;
	default:
		break;
	}
	return check_combinators(vc, n, inst, path, depth);
}

int
jschema_validate(const struct jschema *js, const json_t *instance, struct jschema_error *err)
{
	struct vctx vc = { js, err, 0, NULL };
	int rc;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	rc = validate(&vc, js->root, instance, NULL, 0);
	pcre2_match_data_free(vc.md);
	return rc;
}
