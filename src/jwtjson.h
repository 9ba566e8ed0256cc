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

#endif
