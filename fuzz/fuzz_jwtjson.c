/* fuzz_jwtjson.c: the fast path for token JSON never disagrees with
 * jansson. Any bytes: jwtjson_parse_object refuses them exactly when
 * json_loadb (JSON_REJECT_DUPLICATES, an object) does, and otherwise gives
 * an equal value; whatever the fast path alone accepts, jansson accepts as
 * an equal value; and what jwtjson_scan_flat reads (names, types, string
 * bytes) is exactly jansson's object. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwtjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	json_decref(fast);
	json_decref(got);
	json_decref(ref);
	return 0;
}
