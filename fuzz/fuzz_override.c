/* fuzz_override.c: the method-override query scan on arbitrary bytes.
 * Beyond not crashing: a parameter more never hides one already there (a
 * query with "&_method" appended, or behind a harmless first parameter,
 * says the same or yes). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "override.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 16);
	int r;

	if (buf == NULL)
		abort();
	memcpy(buf, data, size);
	r = override_query_has_method(buf, size);
	memcpy(buf + size, "&_method", 8);
	if (override_query_has_method(buf, size + 8) != 1)
		abort();
	memcpy(buf, "x=1&", 4);
	memcpy(buf + 4, data, size);
	if (override_query_has_method(buf, size + 4) != r)
		abort();
	free(buf);
	return 0;
}
