/* fuzz_reqscan_diff.c: the request scanner against its reference copy
 * (tests/unit/reqscan_ref.c, the code before the fast paths) on arbitrary
 * bytes. The first four bytes choose how they are fed (reqscan_feed, the
 * guard's feed_some/feed_body, feed_some alone; a max_body set after each
 * head), the head and body limits and the cuts (whole, every byte, a few
 * pseudo-random ones); the rest is the client's bytes. Every return value
 * and the whole scanner state must be the reference's after every call
 * (tests/unit/scan_diff.c). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "scan_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_diff_req o;
	size_t *cuts, ncuts;
	char why[256];

	if (size < 4)
		return 0;
	o.mode = (data[0] & 3) % SCAN_DIFF_MODES;
	o.body_max_after = data[0] & 4 ? (uint64_t)(data[0] >> 3) : 0;
	o.max_head = data[1] == 255 ? 8192 : 1 + (size_t)data[1] * 3;
	o.max_body = data[2] == 255 ? 1 << 20 : (uint64_t)data[2] * 7;
	o.tamper = 0;
	data += 4;
	size -= 4;
	if ((cuts = malloc((size ? size : 1) * sizeof(*cuts))) == NULL)
		abort();
	ncuts = scan_diff_cuts(data[-1], size, cuts, size);
	if (scan_diff_reqscan(&o, data, size, cuts, ncuts, why, sizeof(why)) != 0) {
		fprintf(stderr, "fuzz_reqscan_diff: %s\n", why);
		abort();
	}
	free(cuts);
	return 0;
}
