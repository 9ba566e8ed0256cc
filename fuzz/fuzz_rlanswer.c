/* fuzz_rlanswer.c: the shared-limit script's answer (rlanswer.h). The
 * first byte picks the number of cells per request (1 to 64), the rest is
 * the answer. Every line is consumed whole (the cursor moves forward, to
 * the end at most); a line accepted is the one canonical spelling of what
 * it was parsed into (written again, it gives the same bytes), with one
 * refusing cell at most; rlanswer_lines agrees with the lines walked. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlanswer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rlanswer_cell cells[64];
	const char *s = (const char *)data + 1;
	size_t n, len, pos = 0, lines = 0;
	char out[64 * 48 + 8];

	if (size == 0)
		return 0;
	n = (size_t)data[0] % 64 + 1;
	len = size - 1;
	do {
		size_t start = pos, w = 0, refused = 0;
		int rc = rlanswer_next(s, len, &pos, n, cells);

		if (pos <= start && !(start == len && pos == len))
			abort();
		if (pos > len)
			abort();
		lines++;
		if (rc != 0)
			continue;
		for (size_t i = 0; i < n; i++)
			refused += !cells[i].ok;
		if (refused > 1)
			abort();
		if (refused == 1) {
			for (size_t i = 0; i < n; i++)
				if (!cells[i].ok)
					w = (size_t)snprintf(out, sizeof(out), "0 %zu %llu", i + 1,
					    (unsigned long long)cells[i].wait_us);
		} else {
			w = (size_t)snprintf(out, sizeof(out), "1");
			for (size_t i = 0; i < n; i++)
				w += (size_t)snprintf(out + w, sizeof(out) - w, " %llu %u",
				    (unsigned long long)cells[i].wait_us, cells[i].remaining);
		}
		/* The line, without its "\n". */
		if (pos - start - (pos > start && s[pos - 1] == '\n') != w ||
		    memcmp(s + start, out, w) != 0)
			abort();
	} while (pos < len);
	if (len > 0 && s[len - 1] == '\n')
		lines++;	/* the empty last line, never walked */
	if (lines != rlanswer_lines(s, len))
		abort();
	return 0;
}
