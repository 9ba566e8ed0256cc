/* fuzz_jwtjson.c: the fast path for token JSON never disagrees with
 * jansson. Any bytes: jwtjson_parse_object refuses them exactly when
 * json_loadb (JSON_REJECT_DUPLICATES, an object) does, and otherwise gives
 * an equal value; whatever the fast path alone accepts, jansson accepts as
 * an equal value; what jwtjson_scan_flat and jwtjson_scan_object read
 * (names, types, string bytes, integers, a container's text) is exactly
 * jansson's object, and what jwtjson_scan_object accepts the fast path
 * builds. The same bytes as a token's payload: jwt_check_payload decides
 * the same lazily (checked from the text, the object built on demand) as
 * eagerly, with the same result and the same object. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "jwtjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether member m is v: same type, string bytes, integer, or for a
 * container a text that parses to an equal value. */
static int
member_is(const struct jwtjson_member *m, const json_t *v)
{
	json_error_t err;
	json_t *c;
	int same;

	if (v == NULL || json_typeof(v) != m->type)
		return 0;
	switch (m->type) {
	case JSON_STRING:
		return json_string_length(v) == m->str_len &&
		    memcmp(json_string_value(v), m->str, m->str_len) == 0;
	case JSON_INTEGER:
		return json_integer_value(v) == m->integer;
	case JSON_OBJECT:
	case JSON_ARRAY:
		c = json_loadb(m->str, m->str_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
		same = c != NULL && json_equal(c, v);
		json_decref(c);
		return same;
	default:
		return 1;
	}
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* jwt_check_payload on data, lazily and eagerly, under option set v. */
static void
lazy_eager(const uint8_t *data, size_t size, unsigned v)
{
	static const char *const iss[] = { "https://issuer.example" };
	static const char *const aud[] = { "scopegate", "a" };
	struct jwt_result *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct jwt_opts o;
	enum jwt_status sa, sb;

	if (a == NULL || b == NULL)
		abort();
	jwt_opts_init(&o);
	if (v & 1) {
		o.issuers = iss;
		o.nissuers = 1;
		o.audiences = aud;
		o.naudiences = 2;
	}
	if (v & 2)
		o.scope_format = (v & 4) ? JWT_SCOPE_STRING : JWT_SCOPE_ARRAY;
	if (v & 8)
		o.scope_claim = "realm.scopes";
	if (v & 16)
		o.id_claim = "a.b";
	if (v & 32)
		o.require_exp = 0;
	if (v & 64)
		o.max_lifetime_s = 3600;
	sa = jwt_check_payload(a, &o, 1000, data, size, JWT_CLAIMS_LAZY);
	sb = jwt_check_payload(b, &o, 1000, data, size, JWT_CLAIMS_EAGER);
	if (sa != sb)
		abort();
	if (sa == JWT_OK) {
		const json_t *ca, *cb;
		char *da, *db;

		if (!same_str(a->sub, b->sub) || !same_str(a->token_id, b->token_id) ||
		    a->token_id_len != b->token_id_len || a->has_exp != b->has_exp ||
		    a->exp != b->exp || a->valid_until != b->valid_until || a->nscopes != b->nscopes)
			abort();
		for (size_t i = 0; i < a->nscopes; i++)
			if (strcmp(a->scopes[i], b->scopes[i]) != 0)
				abort();
		ca = jwt_result_claims(a);
		cb = jwt_result_claims(b);
		if (ca == NULL || ca != jwt_result_claims(a))
			abort();
		da = json_dumps(ca, JSON_COMPACT);
		db = json_dumps(cb, JSON_COMPACT);
		if (da == NULL || db == NULL || strcmp(da, db) != 0)
			abort();
		free(da);
		free(db);
	}
	jwt_result_free(a);
	jwt_result_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	/* Any NUL byte is refused (jansson 2.14 lets one through after a
	 * number or literal; jwtjson_parse_object does not). */
	json_t *ref = memchr(data, '\0', size) != NULL ? NULL :
	    json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	json_t *got = jwtjson_parse_object(data, size), *fast = NULL;

	if (ref != NULL && !json_is_object(ref)) {
		json_decref(ref);
		ref = NULL;
	}
	if ((got == NULL) != (ref == NULL) || (got != NULL && !json_equal(got, ref)))
		abort();
	if (jwtjson_parse_fast(data, size, &fast) && (ref == NULL || !json_equal(fast, ref)))
		abort();
	{
		struct jwtjson_member m[8];
		size_t n = 0;

		if (jwtjson_scan_flat(data, size, m, 8, &n)) {
			if (ref == NULL || json_object_size(ref) != n)
				abort();
			for (size_t i = 0; i < n; i++) {
				json_t *v = json_object_getn(ref, m[i].name, m[i].name_len);
				if (v == NULL || json_typeof(v) != m[i].type ||
				    (m[i].type == JSON_STRING && (json_string_length(v) != m[i].str_len ||
				    memcmp(json_string_value(v), m[i].str, m[i].str_len) != 0)))
					abort();
			}
		}
	}
	{
		struct jwtjson_member m[40];
		size_t n = 0;
		json_t *built = NULL;

		if (jwtjson_scan_object(data, size, m, 40, &n)) {
			if (ref == NULL || json_object_size(ref) != n || n > 32 ||
			    !jwtjson_parse_fast(data, size, &built) || !json_equal(built, ref))
				abort();
			for (size_t i = 0; i < n; i++)
				if (!member_is(&m[i], json_object_getn(ref, m[i].name, m[i].name_len)))
					abort();
			json_decref(built);
		}
	}
	lazy_eager(data, size, (unsigned)size);
	lazy_eager(data, size, (unsigned)(size >> 3) ^ 0x55);
	json_decref(fast);
	json_decref(got);
	json_decref(ref);
	return 0;
}
