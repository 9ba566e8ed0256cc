/* fuzz_canon.c: the canonical target check on arbitrary bytes. Beyond not
 * crashing, an accepted target must satisfy the invariants callers rely on:
 * the slices lie inside the input, the path is exactly the segments joined
 * by '/', and no segment is empty or a dot segment. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct canon_target t;
	size_t off;

	if (canon_target(in, size, &t) != CANON_OK)
		return 0;
	if (t.path != in || t.path_len == 0 || in[0] != '/')
		abort();
	if (t.path_len + (t.has_query ? 1 + t.query_len : 0) != size)
		abort();
	if (t.has_query && (t.query != in + t.path_len + 1 || in[t.path_len] != '?'))
		abort();
	if (t.nsegs == 0 && t.path_len != 1)
		abort();
	off = 0;
	for (size_t i = 0; i < t.nsegs; i++) {
		const struct canon_segment *s = &t.segs[i];
		if (s->ptr != t.path + off + 1 || s->len == 0 || in[off] != '/')
			abort();
		if (memchr(s->ptr, '/', s->len) || memchr(s->ptr, '?', s->len) ||
		    memchr(s->ptr, '\\', s->len) || memchr(s->ptr, '\0', s->len))
			abort();
		if ((s->len == 1 && s->ptr[0] == '.') ||
		    (s->len == 2 && memcmp(s->ptr, "..", 2) == 0))
			abort();
		off += 1 + s->len;
	}
	if (t.nsegs > 0 && off != t.path_len)
		abort();
	return 0;
}
