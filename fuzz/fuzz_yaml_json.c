/* fuzz_yaml_json.c: the YAML reader on arbitrary bytes. Whatever it
 * accepts is a JSON value that serialises and parses back equal, so
 * nothing JSON cannot hold (NaN, non-string keys, NUL in strings) gets
 * through; whatever it refuses comes with a "line:column: " message. A
 * parse also goes through the OpenAPI converter, which must not crash. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "jsonconf.h"
#include "openapi.h"
#include "yaml_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *v = yaml_json_parse((const char *)data, size, err, sizeof(err));

	if (v == NULL) {
		if (err[0] < '1' || err[0] > '9' || strchr(err, ':') == NULL)
			abort();
	} else {
		char *s = json_dumps(v, JSON_ENCODE_ANY);
		json_t *back = s ? json_loads(s, JSON_DECODE_ANY |
		    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL) : NULL;
		struct errlist e, w;
		struct jsonconf jc = { "fuzz", &e }, wj = { "fuzz", &w };
		json_t *pol;

		if (back == NULL || !json_equal(v, back))
			abort();
		errlist_init(&e);
		errlist_init(&w);
		pol = openapi_convert(v, NULL, NULL, &jc, &wj);
		if ((pol == NULL) == (e.n == 0))
			abort();
		json_decref(pol);
		errlist_free(&e);
		errlist_free(&w);
		json_decref(back);
		free(s);
		json_decref(v);
	}
	return 0;
}
