/* jsonconf.h: strict JSON loading for configuration-like files (config,
 * policy, JWKS). Syntax errors are reported as "file:line:column: message",
 * meaning errors as "file: /json/pointer: message"; all errors are collected
 * in an errlist. Duplicate object keys are refused. */
#ifndef SCOPEGATE_JSONCONF_H
#define SCOPEGATE_JSONCONF_H

#include <stdint.h>

#include <jansson.h>

#include "errlist.h"

struct jsonconf {
	const char *file;	/* name used in messages */
	struct errlist *errs;
};

enum jsonconf_type {
	JC_ANY,
	JC_STRING,
	JC_INTEGER,
	JC_NUMBER,
	JC_BOOLEAN,
	JC_OBJECT,
	JC_ARRAY,
};

/* One allowed key of an object; a table ends with name == NULL. */
struct jsonconf_key {
	const char *name;
	enum jsonconf_type type;
	int required;
};

/* Parse a file / buffer; NULL on error (reported with line:column). */
json_t *jsonconf_load_file(struct jsonconf *jc, const char *path);
json_t *jsonconf_load_buffer(struct jsonconf *jc, const char *buf, size_t len);

/* Add "file: ptr: message" to the error list. */
void jsonconf_error(struct jsonconf *jc, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Check that v is an object whose keys are all in the table, with the
 * declared types, and that required keys are present. Every violation is
 * reported. Returns 0 when clean, -1 otherwise. */
int jsonconf_check_object(struct jsonconf *jc, const json_t *v, const char *ptr,
    const struct jsonconf_key *keys);

/* Build child JSON pointers (RFC 6901 escaping); the caller frees. */
char *jsonconf_ptr_key(const char *parent, const char *key);
char *jsonconf_ptr_index(const char *parent, size_t index);

/* Fetch optional members with range checks; when absent *out = def.
 * Return 0, or -1 after reporting a problem. */
int jsonconf_get_int(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *key, int64_t min, int64_t max, int64_t def, int64_t *out);
int jsonconf_get_bool(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *key, int def, int *out);
/* Returns a pointer into obj (valid while obj lives), or def. */
int jsonconf_get_string(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *key, const char *def, const char **out);

const char *jsonconf_type_name(enum jsonconf_type t);

/* A path from a configuration file, resolved against base_dir (the file's
 * folder) unless absolute or base_dir is NULL/empty; the caller frees. */
char *jsonconf_resolve_path(const char *base_dir, const char *path);

#endif
