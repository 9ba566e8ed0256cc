/* jwtjson.h: the JSON objects of a JWS (header and claims), parsed into
 * jansson values. Tokens are nearly always small flat objects of plain
 * ASCII strings and integers; those are built here directly, which costs a
 * fraction of jansson's general parser. Anything else (an escape, a
 * non-ASCII byte, a fraction or exponent, a duplicate name, deep nesting,
 * any syntax error) goes to json_loadb with JSON_REJECT_DUPLICATES, which
 * stays the only judge of what is refused: the fast path never refuses,
 * and what it accepts jansson accepts as an equal value (fuzz_jwtjson
 * checks exactly that). Pure code. */
#ifndef SCOPEGATE_JWTJSON_H
#define SCOPEGATE_JWTJSON_H

#include <stddef.h>

#include <jansson.h>

/* Parse buf (len bytes, no NUL needed) as one JSON object. Returns a new
 * reference, or NULL when it is not valid JSON or not an object. */
json_t *jwtjson_parse_object(const unsigned char *buf, size_t len);

/* The fast path alone (tests, fuzzing): 1 with *out set when buf is in
 * the subset it handles, else 0 with *out NULL. */
int jwtjson_parse_fast(const unsigned char *buf, size_t len, json_t **out);

/* One member of a flat object: its name, and for a string its bytes. */
struct jwtjson_member {
	const char *name;
	size_t name_len;
	json_type type;		/* JSON_STRING, JSON_INTEGER, JSON_TRUE, ... */
	const char *str;	/* JSON_STRING: the bytes (no NUL, no escape) */
	size_t str_len;
};

/* Read buf as a flat object without building it (a JWS header: only a few
 * names are read): 1 with m[0..*n) pointing into buf when it is an object
 * of at most max members, no two of one name, whose values are all in the
 * fast path's subset and none an object or array; else 0, and the caller
 * parses it with jwtjson_parse_object. What it reads, jansson reads the
 * same (fuzz_jwtjson). */
int jwtjson_scan_flat(const unsigned char *buf, size_t len, struct jwtjson_member *m,
    size_t max, size_t *n);

#endif
