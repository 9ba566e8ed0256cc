/* fuzz_jsonschema.c: compile a schema and validate an instance. The input
 * is "schema JSON" NUL "instance JSON"; without a NUL the schema is
 * validated against itself. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "jsonschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t slen = nul ? (size_t)(nul - data) : size;
	struct jschema_error err;
	struct errlist errs;
	struct jschema *js;
	json_t *schema, *inst;

	schema = json_loadb((const char *)data, slen, JSON_DECODE_ANY, NULL);
	if (schema == NULL)
		return 0;
	inst = nul ? json_loadb((const char *)nul + 1, size - slen - 1,
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : json_incref(schema);
	errlist_init(&errs);
	js = jschema_compile(schema, "fuzz", &errs);
	if (js == NULL && errs.n == 0)
		__builtin_trap();	/* a failed compile always says why */
	if (js != NULL && inst != NULL) {
		int rc = jschema_validate(js, inst, &err);
		/* A failure always names a keyword; a pass leaves err clean. */
		if ((rc != 0 && err.keyword[0] == '\0') || (rc == 0 && err.keyword[0] != '\0'))
			__builtin_trap();
	}
	/* The lenient mode takes the same inputs. */
	{
		struct jschema_options o = { NULL, NULL, 0, JSCHEMA_LENIENT };
		struct jschema *lj = jschema_compile_opts(schema, "fuzz", &o, &errs);
		if (lj != NULL && inst != NULL)
			(void)jschema_validate(lj, inst, NULL);
		jschema_free(lj);
	}
	jschema_free(js);
	errlist_free(&errs);
	json_decref(inst);
	json_decref(schema);
	return 0;
}
