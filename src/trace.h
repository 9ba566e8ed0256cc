/* trace.h: W3C Trace Context (https://www.w3.org/TR/trace-context/) for
 * the hop through the gateway: a strict traceparent parser, and the value
 * the upstream gets (the caller's trace id, or a new one, with the
 * gateway's own span as parent). Pure: no libevent, no I/O; the caller
 * supplies the random bytes. */
#ifndef SCOPEGATE_TRACE_H
#define SCOPEGATE_TRACE_H

#include <stddef.h>

/* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define TRACE_PARENT_LEN	55
#define TRACE_ID_HEX_LEN	32

struct trace_ctx {
	unsigned char trace_id[16];
	unsigned char parent_id[8];
	unsigned char flags;
};

/* Parse one traceparent value as the specification's section 3.2 says, and
 * nothing more lenient: version two lowercase hex digits other than "ff";
 * version 00 exactly 55 bytes, a later version at least 55 with '-' after
 * them; trace-id 32 and parent-id 16 lowercase hex digits, neither all
 * zeros; flags two lowercase hex digits. No whitespace. Returns 0, or -1
 * when the value is not a valid traceparent (the caller starts a new
 * trace and drops tracestate). */
int trace_parse(const char *value, size_t len, struct trace_ctx *out);

/* The context the upstream gets: the incoming trace id and sampled flag
 * (when in is not NULL), or a new trace id from rnd[0..15] (never all
 * zeros) and no flags; always a new parent id, our span, from rnd[16..23].
 * rnd holds 24 random bytes. */
void trace_next_hop(const struct trace_ctx *in, const unsigned char rnd[24],
    struct trace_ctx *out);

/* Format t as a version-00 traceparent into out (TRACE_PARENT_LEN + 1
 * bytes), and its trace id alone as 32 hex digits into id (33 bytes). */
void trace_format(const struct trace_ctx *t, char *out);
void trace_id_hex(const struct trace_ctx *t, char *id);

/* A request id a trusted proxy sent (X-Request-Id) is kept when it is 1 to
 * TRACE_REQUEST_ID_MAX bytes of letters, digits and "-._~:/+=@" (UUIDs,
 * nginx's $request_id, Envoy's, AWS's): nothing that could split a log
 * line, a header or a JSON string. Returns 1 when v is such an id. */
#define TRACE_REQUEST_ID_MAX	128
int trace_request_id_valid(const char *v);

#endif
