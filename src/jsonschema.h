/* jsonschema.h: a JSON Schema draft-04 validator on jansson and PCRE2.
 *
 * A schema is compiled once (every $ref resolved, every regex compiled) into
 * an immutable struct jschema that any number of threads may use at once.
 * Validation stops at the first violation and reports where it is in the
 * instance (a JSON pointer), which keyword failed and why, in fixed buffers:
 * it allocates nothing except one small PCRE2 match block per call when the
 * schema has patterns (and a hash table for uniqueItems on long arrays).
 *
 * Supported: type, properties, required, additionalProperties,
 * patternProperties, items (both forms), additionalItems, min/maxItems,
 * uniqueItems, min/maxLength (code points), pattern, enum, minimum, maximum,
 * exclusiveMinimum/Maximum (draft-04 booleans), multipleOf,
 * min/maxProperties, dependencies (both forms), allOf, anyOf, oneOf, not,
 * $ref (JSON pointers with ~0 ~1 and %-decoding, "id" base URIs and
 * "#name" anchors inside the document, other documents through a loader),
 * format date-time (RFC 3339), email and uri. Unknown keywords and formats
 * are ignored, as draft-04 says.
 *
 * Regexes follow ECMA-262 as far as PCRE2 allows: UTF mode, "$" only at
 * the very end, \d \w ASCII only, \s Unicode white space, \uXXXX escapes,
 * "[^]" matches any character, long \p{Letter} names are shortened. Not
 * translated: "." excludes only \n (ECMA also excludes \r, U+2028 and
 * U+2029), \S inside a class is ASCII, and PCRE2-only syntax (possessive
 * quantifiers, \A, \z, (?i)) is accepted. Each match is bounded by
 * SG_SCHEMA_REGEX_MATCH_LIMIT; hitting it counts as a violation.
 */
#ifndef SCOPEGATE_JSONSCHEMA_H
#define SCOPEGATE_JSONSCHEMA_H

#include <jansson.h>

#include "errlist.h"

struct jschema;

#define JSCHEMA_PTR_MAX		512	/* instance/schema pointers, truncated with "..." */
#define JSCHEMA_KEYWORD_MAX	32
#define JSCHEMA_MESSAGE_MAX	160

/* The first violation found; every field is a NUL-terminated string. */
struct jschema_error {
	char instance_ptr[JSCHEMA_PTR_MAX];	/* "" is the whole instance, "/scope/2" */
	char schema_ptr[JSCHEMA_PTR_MAX];	/* "name#/properties/scope/items/pattern" */
	char keyword[JSCHEMA_KEYWORD_MAX];	/* "pattern", "required", ... */
	char message[JSCHEMA_MESSAGE_MAX];	/* short, no instance data echoed */
};

/*
 * A loader returns a new reference to the document named by uri (the part
 * of a $ref before '#', resolved against the referring document's base), or
 * NULL after adding a message to errs.
 */
typedef json_t *(*jschema_loader_fn)(void *ctx, const char *uri, struct errlist *errs);

struct jschema_options {
	jschema_loader_fn loader;	/* NULL: a $ref to another document is an error */
	void *loader_ctx;
	/*
	 * Losant's schemas say "#/definitions/advancedDeviceQuery" for the
	 * sibling file advancedDeviceQuery.json and carry no "definitions".
	 * When set, a "#/definitions/NAME..." that does not resolve in its own
	 * document is loaded as "NAME.json#..." through the loader.
	 */
	int definitions_are_files;
	unsigned flags;			/* JSCHEMA_* */
};

/*
 * Lenient: a known keyword with an invalid value ("type": "Number", an
 * array where a schema belongs) is ignored after adding
 * "name: /pointer: warning: ... (ignored)" to errs, instead of failing the
 * compilation. That subschema then accepts more than its author meant, so
 * it is for third-party schemas (several Losant response schemas have such
 * defects); unresolvable $refs, bad regexes and cycles stay errors.
 */
#define JSCHEMA_LENIENT	0x01

/*
 * Compile a draft-04 schema. The result holds its own reference to schema
 * (and to loaded documents); free it with jschema_free. On error returns
 * NULL after adding every problem found to errs as "name: /pointer: message".
 */
struct jschema *jschema_compile(const json_t *schema, const char *name, struct errlist *errs);
struct jschema *jschema_compile_opts(const json_t *schema, const char *name,
    const struct jschema_options *opts, struct errlist *errs);

/*
 * Load dir/file (strict JSON) and compile it with flags; other documents
 * are loaded from the same directory only (a uri with '/' or a leading '.'
 * is refused) and "#/definitions/NAME" falls back to dir/NAME.json as
 * described above. The schema's name in messages is file.
 */
struct jschema *jschema_compile_file(const char *dir, const char *file, unsigned flags,
    struct errlist *errs);

/* The loader used by jschema_compile_file; ctx is the directory (char *). */
json_t *jschema_dir_loader(void *ctx, const char *uri, struct errlist *errs);

void jschema_free(struct jschema *js);

/*
 * Validate instance; 0 when valid, -1 when not, with the first violation in
 * *err when err is not NULL. An instance nested deeper than
 * SG_SCHEMA_MAX_DEPTH levels (counting in-place subschemas too) is invalid
 * (keyword "depth"), never a stack overflow. Thread-safe.
 */
int jschema_validate(const struct jschema *js, const json_t *instance, struct jschema_error *err);

/* The name given at compile time. */
const char *jschema_name(const struct jschema *js);

/* JSON equality as JSON Schema means it (1 and 1.0 are equal); 1, 0, or -1
 * when nested deeper than SG_SCHEMA_MAX_DEPTH. */
int jschema_json_equal(const json_t *a, const json_t *b);

/* Format checkers, exported for tests: 1 when s (len bytes) is valid. */
int jschema_format_date_time(const char *s, size_t len);
int jschema_format_email(const char *s, size_t len);
int jschema_format_uri(const char *s, size_t len);

#endif
