/* forward.h: what the gateway sends upstream for an allowed request, as
 * pure functions: which header fields cross (and which the gateway adds),
 * and the bytes evhttp_make_request writes for them. proxy_forward() uses
 * the first; the request-path fuzz target uses both to re-parse exactly
 * what would be forwarded. */
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
	const char *client_ip;
	int tls;			/* the client came over TLS */
	const char *request_id;
	size_t body_len;		/* bytes of the request body */
	int framed;			/* Content-Length or Transfer-Encoding came */
};

/* Append to out (with evhttp_add_header) the fields of in that cross to
 * the upstream, in order, then Host (when the client sent none),
 * X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host (when it did),
 * X-Request-Id and, when there is a body or the request was framed,
 * Content-Length. Hop-by-hop fields, the fields named by Connection and
 * those headers_drop_from_client() refuses never cross. */
void forward_headers(const struct evkeyvalq *in, const struct forward_info *fi,
    struct evkeyvalq *out);

/* Append to dst the bytes evhttp_make_request() of libevent 2.1.12 writes
 * for a request of method cmd to uri with the header list hdrs and a body
 * of len bytes: the request line, the fields, the empty line, the body. */
void forward_serialize(struct evbuffer *dst, enum evhttp_cmd_type cmd, const char *uri,
    const struct evkeyvalq *hdrs, const void *body, size_t len);

#endif
