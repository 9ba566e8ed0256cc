/* fuzz_uresp_diff.c: the upstream response parser against its reference
 * copy (tests/unit/uresp_ref.c, the code before the fast path) on
 * arbitrary bytes. The first three bytes choose the options (HEAD request,
 * responses after the first one on the same connection and whether they
 * answer HEAD, EOF at the end), max_head and the cuts (whole, every byte,
 * a few pseudo-random ones); the rest is the upstream's bytes. Every event,
 * offset and the whole parser state must be the reference's after every
 * call (tests/unit/scan_diff.c). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "scan_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_diff_resp o;
	size_t *cuts, ncuts;
	char why[256];

	if (size < 3)
		return 0;
	o.head_request = data[0] & 1;
	o.keep_alive = (data[0] >> 1) & 1;
	o.next_head = (data[0] >> 2) & 1;
	o.eof = (data[0] >> 3) & 1;
	o.max_head = data[1] == 255 ? 8192 : 1 + (size_t)data[1] * 3;
	o.tamper = 0;
	data += 3;
	size -= 3;
	if ((cuts = malloc((size ? size : 1) * sizeof(*cuts))) == NULL)
		abort();
	ncuts = scan_diff_cuts(data[-1], size, cuts, size);
	if (scan_diff_uresp(&o, data, size, cuts, ncuts, why, sizeof(why)) != 0) {
		fprintf(stderr, "fuzz_uresp_diff: %s\n", why);
		abort();
	}
	free(cuts);
	return 0;
}
