/* headers.h: pure decisions about which HTTP header fields cross the
 * gateway. No libevent types, so they are unit-tested on their own. */
#ifndef SCOPEGATE_HEADERS_H
#define SCOPEGATE_HEADERS_H

#include <stddef.h>

/* Hop-by-hop fields (RFC 9110 7.6.1 plus the de-facto Keep-Alive and
 * Proxy-*): never forwarded in either direction. */
int headers_is_hop_by_hop(const char *name);

/* Non-zero when `name` is one of the comma-separated tokens of a
 * Connection header value (case-insensitive, optional whitespace). */
int headers_connection_names(const char *connection_value, const char *name);

/* Fields a client may not send through: hop-by-hop, the gateway's own
 * namespace (X-Scopegate-*), X-Forwarded-*, Forwarded, X-Request-Id (we
 * set them), the framing fields the gateway recomputes (Content-Length,
 * Transfer-Encoding), Expect (the body is already read), method overrides
 * and names with '_'. Returns non-zero to drop. */
int headers_drop_from_client(const char *name);

/* Fields of an upstream response that are not passed to the client:
 * hop-by-hop ones; Content-Length is kept (it frames the streamed body). */
int headers_drop_from_upstream(const char *name);

#endif
