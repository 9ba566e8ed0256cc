/* canon.h: the canonical request target. The raw request-target bytes as
 * received are checked (never rewritten): only origin-form (`/path?query`)
 * with an unambiguous path is accepted, and the result points into the
 * input, so the path that is matched is byte for byte the path forwarded.
 * Pure code: no allocation, no libevent types. */
#ifndef SCOPEGATE_CANON_H
#define SCOPEGATE_CANON_H

#include <stddef.h>

#include "defaults.h"

/* Why a target was refused. Every status but CANON_OK is a refusal the
 * caller answers with canon_status_http() (400, or 414 for CANON_TOO_LONG). */
enum canon_status {
	CANON_OK = 0,
	CANON_TOO_LONG,			/* longer than SG_MAX_TARGET_BYTES */
	CANON_EMPTY,			/* no target at all */
	CANON_NOT_ORIGIN_FORM,		/* "*", "http://host/...", "a/b" */
	CANON_FRAGMENT,			/* '#' anywhere */
	CANON_NUL,			/* raw NUL or %00 */
	CANON_CONTROL,			/* raw < 0x20 or 0x7F; encoded in the path */
	CANON_BACKSLASH,		/* raw '\' */
	CANON_NON_ASCII,		/* raw byte >= 0x80 */
	CANON_BAD_CHAR,			/* a byte not allowed raw (space, '<', '{', ...) */
	CANON_BAD_ESCAPE,		/* '%' not followed by two hex digits */
	CANON_BAD_UTF8,			/* escapes decode to invalid or overlong UTF-8 */
	CANON_ENCODED_SEPARATOR,	/* %2F or %5C in a segment */
	CANON_ENCODED_UNRESERVED,	/* %41, %2D, ...: an unreserved char encoded */
	CANON_DOT_SEGMENT,		/* ".", "..", "%2e", ".%2E", "..." */
	CANON_EMPTY_SEGMENT,		/* "//" or a trailing '/' (the root "/" is fine) */
	CANON_TOO_MANY_SEGMENTS,	/* more than SG_MAX_PATH_SEGMENTS */
};

/* One path segment: a slice of the input, still percent-encoded. */
struct canon_segment {
	const char *ptr;
	size_t len;
};

/* The accepted target; every pointer points into the caller's input. */
struct canon_target {
	const char *path;	/* from the leading '/' up to '?' or the end */
	size_t path_len;
	int has_query;		/* a '?' was present (even with nothing after it) */
	const char *query;	/* after the '?', unchanged; NULL when !has_query */
	size_t query_len;
	size_t nsegs;		/* 0 for the root "/" */
	struct canon_segment segs[SG_MAX_PATH_SEGMENTS];
};

/* Check the raw target (len bytes, need not be NUL-terminated) and fill *out
 * with slices of it. Returns CANON_OK or the first reason to refuse. */
enum canon_status canon_target(const char *target, size_t len,
    struct canon_target *out);

/* A short human message for the status ("encoded slash in path"). */
const char *canon_status_message(enum canon_status st);
/* A stable token for the log ("encoded_separator"). */
const char *canon_status_name(enum canon_status st);
/* The HTTP status to answer: 414 for CANON_TOO_LONG, 400 otherwise, 0 for OK. */
int canon_status_http(enum canon_status st);

#endif
