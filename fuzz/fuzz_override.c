/* fuzz_override.c: the method-override query scan on arbitrary bytes.
 * Beyond not crashing: a parameter more never hides one already there (a
 * query with "&_method" appended, or behind a harmless first parameter,
 * says the same or yes), and the plain name a query begins with is
 * found. */
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
	/* Any other name (letters, digits, '_', '-', like a policy's
	 * scope_field): the input's first bytes up to '=', '&' or ';'. */
	memcpy(buf, data, size);
	buf[size] = '\0';
	buf[strcspn(buf, "=&;")] = '\0';
	if (buf[0] != '\0' && buf[strspn(buf, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")] == '\0' &&
	    override_query_has_name((const char *)data, size, buf) != 1)
		abort();
	free(buf);
	return 0;
}
