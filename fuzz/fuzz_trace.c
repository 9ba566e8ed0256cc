/* fuzz_trace.c: traceparent parsing on arbitrary bytes. What parses
 * formats back to the same bytes for version 00 (one spelling per value),
 * the next hop always parses, and request ids accepted hold only the
 * allowed bytes. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char rnd[24] = {0};
	struct trace_ctx t, next, back;
	char out[TRACE_PARENT_LEN + 1], *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (trace_parse((const char *)data, size, &t) == 0) {
		trace_format(&t, out);
		if (size == TRACE_PARENT_LEN && data[0] == '0' && data[1] == '0' &&
		    memcmp(out, data, size) != 0)
			abort();
		if (memchr(data, '\0', TRACE_PARENT_LEN) != NULL)
			abort();
		trace_next_hop(&t, rnd, &next);
		trace_format(&next, out);
		if (trace_parse(out, strlen(out), &back) != 0 ||
		    memcmp(back.trace_id, t.trace_id, sizeof(t.trace_id)) != 0)
			abort();
	}
	if (trace_request_id_valid(s) &&
	    (strlen(s) > TRACE_REQUEST_ID_MAX || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/+=@") != strlen(s)))
		abort();
	free(s);
	return 0;
}
