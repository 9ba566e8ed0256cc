/* forward.h: what the gateway sends upstream for an allowed request, as
 * pure functions: which header fields cross (and which the gateway adds),
 * and the bytes the gateway's own client (upstream.c) sends. proxy_forward()
 * uses it; the request-path fuzz target re-parses exactly what it writes. */
#ifndef SCOPEGATE_FORWARD_H
#define SCOPEGATE_FORWARD_H

#include <stddef.h>

#include <event2/http.h>

struct evbuffer;
struct evkeyvalq;

/* What the gateway knows about a request besides its header list. */
struct forward_info {
	const char *h_connection;	/* the first Connection value, or NULL */
	int n_connection;		/* how many Connection fields came */
	const char *host;		/* the client's Host value, or NULL */
	const char *authority;		/* the upstream's host[:port], Host when host is NULL */
	const char *client_ip;		/* the peer's address */
	/* X-Forwarded-For as a trusted proxy sent it (NULL: none or not
	 * trusted): forwarded with the peer appended. */
	const char *xff_chain;
	int tls;			/* the client came over TLS */
	const char *request_id;
	size_t body_len;		/* bytes of the request body */
	int framed;			/* Content-Length or Transfer-Encoding came */
	/* The body follows in the gateway's own chunked framing (a chunked
	 * body streamed as it comes, see framing_chunk_line): the head says
	 * Transfer-Encoding: chunked instead of a Content-Length. */
	int chunked;
	/* W3C trace context: the traceparent the upstream gets (the
	 * client's are never passed on), and whether the client's tracestate
	 * goes along. NULL: neither is touched. */
	const char *traceparent;
	int keep_tracestate;
};

/* The method's name as it goes on the request line (and in the log);
 * "UNKNOWN" for none of libevent's (the guard lets none through). */
const char *forward_method_name(enum evhttp_cmd_type cmd);

/* Append to dst the whole request the upstream gets: "METHOD URI
 * HTTP/1.1", the fields of in that cross (in order; hop-by-hop fields,
 * those headers_drop_from_client() refuses and those a Connection field
 * names never do, except Host, Authorization and Content-Type, which the
 * decision was made on), then Host (when the client sent none),
 * X-Forwarded-For (the peer, after xff_chain when set), X-Forwarded-Proto, X-Forwarded-Host (when it did),
 * X-Request-Id, and Content-Length when there is a body, the request was
 * framed, or the method is POST, PUT or PATCH (Transfer-Encoding: chunked
 * instead when fi->chunked); the empty line; then the
 * body, moved out of body (NULL: none). */
void forward_request(struct evbuffer *dst, enum evhttp_cmd_type cmd, const char *uri,
    const struct evkeyvalq *in, const struct forward_info *fi, struct evbuffer *body);

#endif
