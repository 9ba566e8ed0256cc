/* scan_diff.h: differential drivers that feed the same bytes, cut the
 * same way, to a raw HTTP scanner and to its reference copy (scan_ref.h),
 * and compare every return value and the whole scanner state after every
 * call. Used by test_scan_diff and the fuzz_*_diff targets. */
#ifndef SCOPEGATE_SCAN_DIFF_H
#define SCOPEGATE_SCAN_DIFF_H

#include <stddef.h>
#include <stdint.h>

enum scan_diff_mode {
	SCAN_DIFF_FEED,		/* reqscan_feed on every piece */
	SCAN_DIFF_GUARD,	/* as guard.c: feed_some to a head's end, then feed_body */
	SCAN_DIFF_SOME,		/* reqscan_feed_some only (bodies too, as fuzz_reqscan) */
	SCAN_DIFF_MODES,
};

struct scan_diff_req {
	int mode;		/* enum scan_diff_mode */
	size_t max_head;
	uint64_t max_body;
	uint64_t body_max_after;	/* guard mode: max_body set after each head, 0: kept */
	int tamper;		/* test of the driver: bump the scanner's pos after a call */
};

struct scan_diff_resp {
	size_t max_head;
	int head_request;
	int keep_alive;		/* after URESP_DONE: reset and go on with the rest */
	int next_head;		/* head_request for those next responses */
	int eof;		/* uresp_eof once all is fed */
	int tamper;		/* test of the driver: bump the parser's vend after a call */
};

/* Feed msg[0..len) cut at cuts[0..ncuts) (increasing, each piece in an
 * exactly-sized heap copy) to both scanners. 0 when they agree on
 * everything, else -1 with why set. */
int scan_diff_reqscan(const struct scan_diff_req *o, const unsigned char *msg, size_t len,
    const size_t *cuts, size_t ncuts, char *why, size_t whylen);
int scan_diff_uresp(const struct scan_diff_resp *o, const unsigned char *msg, size_t len,
    const size_t *cuts, size_t ncuts, char *why, size_t whylen);

/* The cut positions for a seed: 0 none (whole), 1 every byte, else up to
 * 8 pseudo-random ones. Returns how many were written (at most max). */
size_t scan_diff_cuts(unsigned seed, size_t len, size_t *cuts, size_t max);

#endif
