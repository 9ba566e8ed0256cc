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

/* Fields by which an upstream framework could be told to serve another
 * path, method or host than the request line and Host say (X-Original-URL,
 * X-Rewrite-URL, X-HTTP-Method-Override, X-Forwarded-*, ...; the list and
 * where each comes from is in headers.c). Non-zero for one of them. */
int headers_is_override(const char *name);

/* Fields a client may not send through: hop-by-hop, the gateway's own
 * namespace (X-Scopegate-*), X-Forwarded-*, Forwarded, X-Request-Id (we
 * set them), the framing fields the gateway recomputes (Content-Length,
 * Transfer-Encoding), Expect (the body is already read), method, path and
 * host overrides (headers_is_override) and names with '_'. Returns
 * non-zero to drop. */
int headers_drop_from_client(const char *name);

/* The name under which the upstream's own X-Request-Id reaches the
 * client: X-Request-Id in an answer is always the gateway's. */
#define HEADERS_UPSTREAM_REQUEST_ID	"X-Upstream-Request-Id"
/* The Content-Type of an answer that gives none (evhttp's default, set by
 * worker.c; proxy.c adds it to the heads it writes itself). */
#define HEADERS_DEFAULT_CONTENT_TYPE	"application/json"

/* Fields of an upstream response that are not passed to the client:
 * hop-by-hop ones, the gateway's namespace (X-Scopegate-*) and
 * HEADERS_UPSTREAM_REQUEST_ID; Content-Length is kept (it frames the
 * streamed body). */
int headers_drop_from_upstream(const char *name);

/* Non-zero for a field of the RateLimit family the gateway states when
 * rate_limit_headers is on (draft-ietf-httpapi-ratelimit-headers: the
 * older drafts' RateLimit-Limit, -Remaining, -Reset, the newer RateLimit
 * and RateLimit-Policy), in any letter case, names only whole: an
 * upstream's are dropped from an answer that carries the gateway's
 * (proxy.c), two sets would contradict. X-RateLimit-* (GitHub's,
 * Twitter's) are not of it: other names, read by clients as the
 * upstream's own account, and passed on. */
int headers_is_ratelimit(const char *name);

/* The name a passed field of an upstream response takes instead of its
 * own (X-Request-Id -> HEADERS_UPSTREAM_REQUEST_ID), or NULL to keep it. */
const char *headers_upstream_rename(const char *name);

/* The standard reason phrase of a status code (RFC 9110 section 15,
 * RFC 6585), "Unknown" for codes without one. Static storage. */
const char *headers_reason_phrase(int status);

#endif
