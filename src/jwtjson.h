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

/* One member of an object (or element of an array: name NULL): its name,
 * its type and for a string its bytes. */
struct jwtjson_member {
	const char *name;
	size_t name_len;
	json_type type;		/* JSON_STRING, JSON_INTEGER, JSON_TRUE, ... */
	const char *str;	/* JSON_STRING: the bytes (no NUL, no escape);
				 * JSON_OBJECT, JSON_ARRAY: the value's text */
	size_t str_len;
	json_int_t integer;	/* JSON_INTEGER: the value */
};

/* Read buf as a flat object without building it (a JWS header: only a few
 * names are read): 1 with m[0..*n) pointing into buf when it is an object
 * of at most max members, no two of one name, whose values are all in the
 * fast path's subset and none an object or array; else 0, and the caller
 * parses it with jwtjson_parse_object. What it reads, jansson reads the
 * same (fuzz_jwtjson). */
int jwtjson_scan_flat(const unsigned char *buf, size_t len, struct jwtjson_member *m,
    size_t max, size_t *n);

/* Read buf as a token's claims without building them: 1 with m[0..*n)
 * its top-level members (objects and arrays as their text) when the whole
 * of buf is in the fast path's subset, no object in it has two members of
 * one name and the top level at most max (and at most 32) members; else
 * 0. When it says 1, jwtjson_parse_fast(buf, len) succeeds (the same
 * functions read it): a token whose claims are only built later was
 * judged whole now (fuzz_jwtjson checks it). */
int jwtjson_scan_object(const unsigned char *buf, size_t len, struct jwtjson_member *m,
    size_t max, size_t *n);

/* The elements of an array text (an m->str of JSON_ARRAY type from
 * jwtjson_scan_object, len bytes): *pos 0 at first, then as left. 1 with
 * the next element in m (name NULL), 0 at the end. */
int jwtjson_array_next(const char *text, size_t len, size_t *pos, struct jwtjson_member *m);

#endif
