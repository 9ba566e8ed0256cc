/* rlanswer.h: the answer of the shared-limit script (ratelimit_redis.c)
 * for one batch of requests, parsed. Pure: no Redis, no libevent.
 *
 * The script answers one bulk string, one line per request of the batch,
 * in the order they were sent, "\n" between lines:
 *   "0 <i> <wait_us>"   refused by its cell i (1 to n): it took nothing,
 *                       and would be allowed in wait_us;
 *   "1" then " <reset_us> <remaining>" for each of its n cells: allowed,
 *                       each cell's burst whole again in reset_us, with
 *                       remaining requests left in it.
 * Numbers are decimal digits with no sign and no leading zero (but "0"),
 * at most 2^64 - 1 (remaining: 2^32 - 1). One string rather than an array
 * of integers: hiredis would allocate (and free) an object per number. */
#ifndef SCOPEGATE_RLANSWER_H
#define SCOPEGATE_RLANSWER_H

#include <stddef.h>
#include <stdint.h>

/* One cell's answer: allowed, and the wait (refused: until allowed;
 * allowed: until its whole burst is back), and what remains. */
struct rlanswer_cell {
	int ok;
	uint64_t wait_us;
	uint32_t remaining;
};

/* The number of lines in s (len bytes): 1 + the number of "\n". */
size_t rlanswer_lines(const char *s, size_t len);

/* The line at *pos of s (len bytes) as the answer for a request of n
 * cells (1 <= n) into cells[0..n). 0 when it is one; -1 when it is not
 * (cells then undefined). Either way *pos moves past the line and its
 * "\n" (at most to len). */
int rlanswer_next(const char *s, size_t len, size_t *pos, size_t n,
    struct rlanswer_cell *cells);

#endif
