/* rlanswer.c: see rlanswer.h. */
#include "config.h"

#include <string.h>

#include "rlanswer.h"

size_t
rlanswer_lines(const char *s, size_t len)
{
	size_t n = 1;
	const char *p = s, *end = s + len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p = nl + 1;
	}
	return n;
}

/* A number at *p (before end): digits, no leading zero but "0", at most
 * max. Moves *p past it. */
static int
number(const char **p, const char *end, uint64_t max, uint64_t *out)
{
	const char *q = *p;
	uint64_t v = 0;

	if (q == end || *q < '0' || *q > '9')
		return -1;
	if (*q == '0' && q + 1 < end && q[1] >= '0' && q[1] <= '9')
		return -1;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		unsigned d = (unsigned)(*q - '0');

		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*p = q;
	*out = v;
	return 0;
}

/* " <number>" at *p. */
static int
spaced(const char **p, const char *end, uint64_t max, uint64_t *out)
{
	if (*p == end || **p != ' ')
		return -1;
	(*p)++;
	return number(p, end, max, out);
}

int
rlanswer_next(const char *s, size_t len, size_t *pos, size_t n,
    struct rlanswer_cell *cells)
{
	const char *p, *end, *nl;
	uint64_t flag, a, b;
	int rc = -1;

	if (*pos >= len) {
		*pos = len;
		return -1;
	}
	p = s + *pos;
	nl = memchr(p, '\n', len - *pos);
	end = nl != NULL ? nl : s + len;
	*pos = nl != NULL ? (size_t)(nl - s) + 1 : len;
	if (n == 0 || number(&p, end, 1, &flag) != 0)
		goto out;
	if (flag == 0) {
		if (spaced(&p, end, n, &a) != 0 || a == 0 || spaced(&p, end, UINT64_MAX, &b) != 0)
			goto out;
		for (size_t i = 0; i < n; i++) {
			cells[i].ok = 1;
			cells[i].wait_us = 0;
			cells[i].remaining = 0;
		}
		cells[a - 1].ok = 0;
		cells[a - 1].wait_us = b;
	} else {
		for (size_t i = 0; i < n; i++) {
			if (spaced(&p, end, UINT64_MAX, &a) != 0 || spaced(&p, end, UINT32_MAX, &b) != 0)
				goto out;
			cells[i].ok = 1;
			cells[i].wait_us = a;
			cells[i].remaining = (uint32_t)b;
		}
	}
	if (p == end)
		rc = 0;
out:
	return rc;
}
