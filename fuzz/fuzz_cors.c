/* fuzz_cors.c: CORS origins and request-header lists on arbitrary bytes.
 * The input is split at its first newline: a configured origin to parse,
 * then an Origin value to match (and, as a header list, to check). A
 * parsed entry matches its own browser serialization; a matched Origin is
 * printable and free of '/', '@' and spaces; "null" never matches. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *nl, self[300];
	static char auth[] = "authorization";
	static char *hdrs[] = { auth };
	struct cors_origin o;
	struct cors_rule r;
	const char *why = NULL, *origin;
	size_t olen;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if ((nl = memchr(s, '\n', size)) != NULL)
		*nl = '\0';
	origin = nl != NULL ? nl + 1 : "";
	olen = nl != NULL ? size - (size_t)(nl + 1 - s) : 0;
	memset(&r, 0, sizeof(r));
	r.headers = hdrs;
	r.nheaders = 1;
	if (cors_origin_parse_config(s, &o, &why) == 0) {
		r.origins = &o;
		r.norigins = 1;
		/* Its own serialization (a label for the star) matches. */
		snprintf(self, sizeof(self), o.port ? "%s://%s%s:%u" : "%s://%s%s", o.scheme,
		    o.wildcard ? "x." : "", o.host, o.port);
		if (strlen(o.host) < 200 && !cors_origin_allowed(&r, self, strlen(self)))
			abort();
		if (cors_origin_allowed(&r, "null", 4))
			abort();
		if (cors_origin_allowed(&r, origin, olen)) {
			for (size_t i = 0; i < olen; i++)
				if (origin[i] <= ' ' || origin[i] >= 0x7f || origin[i] == '@' ||
				    (i > 8 && origin[i] == '/'))
					abort();
		}
	} else if (why == NULL)
		abort();		/* refused without a reason */
	(void)cors_request_headers_allowed(&r, origin);
	free(s);
	return 0;
}
