/* reqscan.h: a strict, incremental check of the raw bytes a client sends,
 * run before libevent's HTTP parser sees them. libevent 2.1 is lenient
 * where a gateway must not be (obsolete line folding, NUL in values,
 * "0x" chunk sizes, missing chunk CRLFs, "+1" lengths, field names with
 * spaces, HTTP/0.9, a body on HEAD, several Content-Length fields, codings
 * other than chunked): anything two HTTP parsers could read differently is
 * refused here, with the status to answer, before any routing. The
 * scanner only validates; it never changes the bytes. Pure code. */
#ifndef SCOPEGATE_REQSCAN_H
#define SCOPEGATE_REQSCAN_H

#include <stddef.h>
#include <stdint.h>

enum reqscan_result {
	REQSCAN_MORE = 0,	/* all bytes fine so far */
	REQSCAN_REFUSE,		/* see status / message; close after answering */
};

struct reqscan {
	int state;
	size_t head_bytes;	/* bytes of the current request head */
	size_t max_head;	/* limit of a head, and of a trailer section: 431 past it */
	uint64_t max_body;	/* limit: 413 past it */
	int line_start;		/* at the first byte of a line */
	int cr;			/* saw CR, expecting LF */
	int seen_colon;
	int in_head;		/* a request head has started */
	int spaces;		/* request line: separators seen */
	char method[16];
	size_t method_len;
	char version[16];
	size_t version_len;
	int version_long;	/* longer than any HTTP-version */
	char name[32];		/* current field name (truncated) */
	size_t name_len;
	int value_kind;		/* 0 other, 1 Content-Length, 2 Transfer-Encoding */
	char value[64];		/* value of a framing field (truncated) */
	size_t value_len;
	int value_overflow;
	int ncl, nte;
	uint64_t content_length;
	int te_chunked;		/* the only coding was "chunked" */
	int te_bad;
	uint64_t remaining;	/* body bytes, or chunk bytes, left */
	uint64_t body_total;
	int chunk_digits;
	int chunk_ext;		/* bytes of a chunk extension so far (0: none) */
	size_t trailer_bytes;	/* bytes of the trailer section so far, line ends included */
	int requests;		/* request heads completed */
	uint64_t pos;		/* bytes fed so far */
	uint64_t head_start;	/* pos of the current (or last) head's first byte */
	int refused_in_body;	/* the refusal came in a body (chunk framing) */

	/* On REQSCAN_REFUSE. */
	int status;
	const char *message;
};

void reqscan_init(struct reqscan *s, size_t max_head, uint64_t max_body);
/* Feed the next bytes; once refused, stays refused. */
enum reqscan_result reqscan_feed(struct reqscan *s, const unsigned char *p, size_t n);

/* The same, but stop at head boundaries so that the caller can hold a
 * request head back until it is complete: returns how many bytes were
 * taken, all of one kind (*in_head: part of a request head, or not), and
 * sets *head_done when those bytes completed a head. */
size_t reqscan_feed_some(struct reqscan *s, const unsigned char *p, size_t n,
    int *in_head, int *head_done, enum reqscan_result *res);
/* Once a head is complete: take the next bytes of its body (a run of
 * body data, *is_data set, or of chunk framing and trailers, which only
 * the scanner needs). Returns how many were taken; *done once the body
 * ended (bytes after it belong to the next request). */
size_t reqscan_feed_body(struct reqscan *s, const unsigned char *p, size_t n,
    int *is_data, int *done, enum reqscan_result *res);
/* A complete head as the scanner accepted it (from its request line to
 * its empty line, hlen bytes): write to out (at least hlen bytes) the
 * same head without its body framing (Content-Length, Transfer-Encoding)
 * and without Expect, which the gateway answers itself: *expect is 0
 * without one, 1 for 100-continue, 2 for anything else (two: the worst).
 * Returns the length written. The fields left are byte for byte the
 * client's, in order. */
size_t reqscan_head_strip(const char *h, size_t hlen, char *out, int *expect);
/* The head just completed: its Content-Length (0 when none), and
 * whether the body is chunked instead. */
uint64_t reqscan_body_length(const struct reqscan *s, int *chunked);
/* Non-zero while a request head is partly received (for the deadline). */
int reqscan_in_head(const struct reqscan *s);
/* Non-zero while a request body (or chunked trailer) is being received. */
int reqscan_in_body(const struct reqscan *s);

#endif
