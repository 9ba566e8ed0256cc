/* jsonschema_int.h: the compiled form of a schema, shared by
 * jsonschema_compile.c (builds it), jsonschema.c (walks it) and
 * jsonschema_format.c (formats and regexes). Not for other modules. */
#ifndef SCOPEGATE_JSONSCHEMA_INT_H
#define SCOPEGATE_JSONSCHEMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#include "jsonschema.h"

/* Type bits for "type". */
#define JT_NULL		0x01
#define JT_BOOLEAN	0x02
#define JT_OBJECT	0x04
#define JT_ARRAY	0x08
#define JT_NUMBER	0x10
#define JT_STRING	0x20
#define JT_INTEGER	0x40

enum jformat {
	JF_NONE,
	JF_DATE_TIME,
	JF_EMAIL,
	JF_URI,
};

struct jnode;

struct jprop {
	const char *key;	/* points into the schema document */
	struct jnode *schema;
};

struct jpattern {
	pcre2_code *re;
	const char *source;	/* points into the schema document */
};

struct jpatprop {
	struct jpattern pat;
	struct jnode *schema;
};

struct jdep {
	const char *key;
	struct jnode *schema;		/* schema form, or */
	const char **names;		/* array form */
	size_t nnames;
};

struct jnode {
	char *ptr;			/* "name#/json/pointer", for messages */
	int mark;			/* compile time only: cycle search */
	struct jnode *ref;		/* $ref: every other keyword ignored */

	unsigned types;			/* JT_* bits; 0 means any */

	/* numbers; limits kept as json_t so int64 compare exactly */
	const json_t *minimum, *maximum;
	int excl_min, excl_max;
	const json_t *multiple_of;

	/* strings */
	int64_t min_length, max_length;	/* -1: absent */
	struct jpattern pattern;	/* re == NULL: absent */
	enum jformat format;

	/* arrays */
	struct jnode *items;		/* schema form */
	struct jnode **items_tuple;	/* array form */
	size_t nitems_tuple;
	int items_is_tuple;
	struct jnode *additional_items;	/* only with the array form */
	int additional_items_false;
	int64_t min_items, max_items;
	int unique_items;

	/* objects */
	struct jprop *props;		/* sorted by key */
	size_t nprops;
	struct jpatprop *patprops;
	size_t npatprops;
	struct jnode *additional_props;
	int additional_props_false;
	const char **required;
	size_t nrequired;
	struct jdep *deps;
	size_t ndeps;
	int64_t min_props, max_props;

	/* any */
	const json_t *enumv;		/* array */
	struct jnode **all_of, **any_of, **one_of;
	size_t nall_of, nany_of, none_of;
	struct jnode *not;
};

struct jschema {
	char *name;
	struct jnode *root;
	struct jnode **nodes;		/* every node, for jschema_free */
	size_t nnodes;
	json_t **docs;			/* held references: the schema, loaded documents */
	size_t ndocs;
	int has_patterns;
	pcre2_match_context *mctx;	/* read-only after compile: limits */
};

/* Compile an ECMA-262 flavoured pattern; NULL after writing a message. */
pcre2_code *jschema_regex_compile(const char *src, char *msg, size_t msgsize);

/* 1 on match, 0 on no match, -1 on a match error (limit hit). */
int jschema_regex_match(const struct jschema *js, const pcre2_code *re,
    pcre2_match_data **md, const char *s, size_t len);

/* Check a string against a known format: 1 valid, 0 not. */
int jschema_format_check(enum jformat f, const char *s, size_t len);

#endif
