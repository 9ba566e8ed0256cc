/* fuzz_reqscan.c: the raw-bytes request scanner on arbitrary input. The
 * verdict must not depend on how the bytes are split (whole, one byte at
 * a time, or at head boundaries with reqscan_feed_some). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "reqscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reqscan whole, bytes, some;
	enum reqscan_result rw, rb = REQSCAN_MORE, rs = REQSCAN_MORE;
	size_t at = 0;

	reqscan_init(&whole, 2048, 65536);
	reqscan_init(&bytes, 2048, 65536);
	reqscan_init(&some, 2048, 65536);
	rw = reqscan_feed(&whole, data, size);
	for (size_t i = 0; i < size && rb == REQSCAN_MORE; i++)
		rb = reqscan_feed(&bytes, data + i, 1);
	while (at < size && rs == REQSCAN_MORE) {
		int in_head, done;
		size_t n = reqscan_feed_some(&some, data + at, size - at, &in_head, &done, &rs);
		if (n == 0 && rs == REQSCAN_MORE)
			abort();	/* no progress */
		at += n;
	}
	if (rw != rb || rw != rs)
		abort();
	if (rw == REQSCAN_REFUSE && (whole.status != bytes.status || whole.status != some.status))
		abort();
	return 0;
}
