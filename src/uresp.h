/* uresp.h: a strict, incremental HTTP/1.1 response parser for the upstream
 * leg (RFC 9112, read strictly). Pure code: no I/O, no allocation after
 * uresp_init. It reads what an upstream server sends back, so anything two
 * HTTP implementations could frame differently (CL with TE, two CLs, a
 * coding other than "chunked", obs-fold, bare CR/LF, "0x" chunk sizes,
 * a missing CRLF after chunk data, CTLs in fields) is an error and the
 * connection must be closed.
 *
 * Calling convention: feed bytes and act on the event; *used says how much
 * of data was consumed, call again with the rest. One event per call:
 *   MORE  all of data was consumed, read more from the socket;
 *   HEAD  status/reason/fields/framing are valid (until uresp_reset);
 *   BODY  *body, *body_len is a piece of the decoded body, inside data;
 *   DONE  the response is complete, the bytes after it were not consumed;
 *   ERROR r->error says why (a static string).
 * After URESP_HEAD with no body to read (HEAD request, 1xx/204/304,
 * Content-Length: 0), and after the URESP_BODY that ends a Content-Length
 * body, the next call returns URESP_DONE without consuming anything, even
 * uresp_feed(r, NULL, 0, ...): the caller loops until MORE, DONE or ERROR.
 * DONE and ERROR are sticky until uresp_reset.
 *
 * Decisions beyond the RFC grammar: "HTTP/1.1 200\r\n" (no SP after the
 * status code) is refused, "HTTP/1.1 200 \r\n" (empty reason) accepted;
 * no whitespace between a chunk size and ";" or CRLF; a chunk size has at
 * most 15 hex digits, leading zeros included; a chunk extension line is
 * bounded by max_head; Transfer-Encoding in an HTTP/1.0 response is an
 * error (RFC 9112 6.1: faulty framing); framing fields are checked on
 * every final response, also those without a body; max_head bounds each
 * head on its own, interim ones included, and at most 8 interim (1xx)
 * heads may precede the final one; trailers obey the header syntax and
 * count (URESP_MAX_FIELDS), are bounded by max_head bytes and discarded. */
#ifndef SCOPEGATE_URESP_H
#define SCOPEGATE_URESP_H

#include <stddef.h>
#include <stdint.h>

#define URESP_MAX_FIELDS 100

enum uresp_event {
	URESP_MORE,	/* all input consumed, need more bytes */
	URESP_HEAD,	/* a final (non-1xx) response head is complete */
	URESP_BODY,	/* *body, *body_len: a piece of the decoded body (in data) */
	URESP_DONE,	/* the response is complete; bytes after it not consumed */
	URESP_ERROR,	/* r->error says why; the connection must be closed */
};

struct uresp_field {
	const char *name;
	size_t name_len;
	const char *value;	/* OWS trimmed on both sides */
	size_t value_len;
};

struct uresp {
	/* After URESP_HEAD: */
	int status;		/* 200..599 (100..599 while parsing) */
	int minor;		/* HTTP/1.<minor> */
	const char *reason;
	size_t reason_len;
	struct uresp_field fields[URESP_MAX_FIELDS];	/* point into r's head copy */
	size_t nfields;
	int keep_alive;		/* the connection may carry another request after DONE */
	int has_body;		/* 0 for HEAD requests, 1xx/204/304 */
	int chunked;		/* body is chunked (decoded for you); 0 when !has_body */
	int64_t content_length;	/* -1 when not given (also set when !has_body) */
	const char *error;

	/* Private. */
	char *buf;		/* head copy, cap bytes, allocated once */
	size_t cap;		/* max_head */
	size_t hlen;		/* bytes of the current head in buf */
	int state;
	int fstate;		/* field-section sub-state (head and trailers) */
	int head_request;
	int ninterim;		/* 1xx heads skipped */
	unsigned k;		/* position in the fixed status-line prefix */
	size_t reason_off;
	size_t vbeg, vend;	/* current value, offsets into buf (head only) */
	size_t nsect;		/* fields so far in the current section (head or trailers) */
	size_t tbytes;		/* bytes of the current trailer section / chunk line */
	unsigned ndigits;	/* chunk-size digits */
	uint64_t remaining;	/* body or chunk bytes left */
};

/* Allocate the head buffer (max_head bytes, at least 1) and reset. */
void uresp_init(struct uresp *r, size_t max_head);
/* Prepare for the next response; head_request: the request was HEAD. */
void uresp_reset(struct uresp *r, int head_request);
/* Feed bytes; see the calling convention above. */
enum uresp_event uresp_feed(struct uresp *r, const char *data, size_t len, size_t *used,
    const char **body, size_t *body_len);
/* The upstream closed the connection: URESP_DONE when the body is delimited
 * by the close (or the response was already complete), else URESP_ERROR. */
enum uresp_event uresp_eof(struct uresp *r);
/* Free the head buffer. */
void uresp_free(struct uresp *r);

#endif
