/* jsonconf.c: see jsonconf.h. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonconf.h"
#include "xmalloc.h"

/* Refuse duplicates; keep big integers exact; refuse a NUL inside strings. */
#define JSONCONF_FLAGS (JSON_REJECT_DUPLICATES)

static void
report_syntax(struct jsonconf *jc, const json_error_t *err)
{
	if (err->line > 0)
		errlist_add(jc->errs, "%s:%d:%d: %s", jc->file, err->line, err->column, err->text);
	else
		errlist_add(jc->errs, "%s: %s", jc->file, err->text);
}

json_t *
jsonconf_load_file(struct jsonconf *jc, const char *path)
{
	json_error_t err;
	json_t *root;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		errlist_add(jc->errs, "%s: cannot open: %m", path);
		return NULL;
	}
	root = json_loadf(fp, JSONCONF_FLAGS, &err);
	fclose(fp);
	if (root == NULL)
		report_syntax(jc, &err);
	return root;
}

json_t *
jsonconf_load_buffer(struct jsonconf *jc, const char *buf, size_t len)
{
	json_error_t err;
	json_t *root;

	root = json_loadb(buf, len, JSONCONF_FLAGS, &err);
	if (root == NULL)
		report_syntax(jc, &err);
	return root;
}

void
jsonconf_error(struct jsonconf *jc, const char *ptr, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	errlist_add(jc->errs, "%s: %s: %s", jc->file, ptr[0] ? ptr : "/",
	    msg ? msg : "(out of memory)");
	free(msg);
}

const char *
jsonconf_type_name(enum jsonconf_type t)
{
	switch (t) {
	case JC_STRING: return "a string";
	case JC_INTEGER: return "an integer";
	case JC_NUMBER: return "a number";
	case JC_BOOLEAN: return "a boolean";
	case JC_OBJECT: return "an object";
	case JC_ARRAY: return "an array";
	case JC_ANY: break;
	}
	return "any value";
}

static int
type_matches(const json_t *v, enum jsonconf_type t)
{
	switch (t) {
	case JC_ANY: return 1;
	case JC_STRING: return json_is_string(v);
	case JC_INTEGER: return json_is_integer(v);
	case JC_NUMBER: return json_is_number(v);
	case JC_BOOLEAN: return json_is_boolean(v);
	case JC_OBJECT: return json_is_object(v);
	case JC_ARRAY: return json_is_array(v);
	}
	return 0;
}

int
jsonconf_check_object(struct jsonconf *jc, const json_t *v, const char *ptr,
    const struct jsonconf_key *keys)
{
	const struct jsonconf_key *k;
	const char *name;
	json_t *member;
	int rc = 0;

	if (!json_is_object(v)) {
		jsonconf_error(jc, ptr, "must be an object");
		return -1;
	}
	/* jansson iterates objects in insertion order, so errors come out in
	 * file order. */
	json_object_foreach((json_t *)v, name, member) {
		for (k = keys; k->name != NULL; k++)
			if (strcmp(k->name, name) == 0)
				break;
		char *p = jsonconf_ptr_key(ptr, name);
		if (k->name == NULL) {
			jsonconf_error(jc, p, "unknown key \"%s\"", name);
			rc = -1;
		} else if (!type_matches(member, k->type)) {
			jsonconf_error(jc, p, "must be %s", jsonconf_type_name(k->type));
			rc = -1;
		}
		free(p);
	}
	for (k = keys; k->name != NULL; k++) {
		if (k->required && json_object_get(v, k->name) == NULL) {
			jsonconf_error(jc, ptr, "missing required key \"%s\"", k->name);
			rc = -1;
		}
	}
	return rc;
}

char *
jsonconf_ptr_key(const char *parent, const char *key)
{
	size_t plen = strlen(parent), klen = strlen(key), extra = 0;
	char *out, *o;

	for (const char *c = key; *c; c++)
		if (*c == '~' || *c == '/')
			extra++;
	out = xmalloc(plen + 1 + klen + extra + 1);
	memcpy(out, parent, plen);
	o = out + plen;
	*o++ = '/';
	for (const char *c = key; *c; c++) {
		if (*c == '~') {
			*o++ = '~';
			*o++ = '0';
		} else if (*c == '/') {
			*o++ = '~';
			*o++ = '1';
		} else
			*o++ = *c;
	}
	*o = '\0';
	return out;
}

char *
jsonconf_ptr_index(const char *parent, size_t index)
{
	char *out;

	xasprintf(&out, "%s/%zu", parent, index);
	return out;
}

int
jsonconf_get_int(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *key, int64_t min, int64_t max, int64_t def, int64_t *out)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	*out = def;
	if (v == NULL)
		return 0;
	char *p = jsonconf_ptr_key(ptr, key);
	int rc = -1;
	if (!json_is_integer(v)) {
		jsonconf_error(jc, p, "must be an integer");
		goto out;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		jsonconf_error(jc, p, "must be between %" PRId64 " and %" PRId64, min, max);
		goto out;
	}
	*out = n;
	rc = 0;
out:
	free(p);
	return rc;
}

int
jsonconf_get_bool(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *key, int def, int *out)
{
	json_t *v = json_object_get(obj, key);

	*out = def;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		char *p = jsonconf_ptr_key(ptr, key);
		jsonconf_error(jc, p, "must be a boolean");
		free(p);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int
jsonconf_get_string(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *key, const char *def, const char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = def;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		char *p = jsonconf_ptr_key(ptr, key);
		jsonconf_error(jc, p, "must be a string without NUL characters");
		free(p);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

char *
jsonconf_resolve_path(const char *base_dir, const char *path)
{
	char *out;

	if (path[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
		return xstrdup(path);
	xasprintf(&out, "%s/%s", base_dir, path);
	return out;
}
