/* introspect_parse.h: opaque tokens read by an OAuth 2.0 token
 * introspection endpoint (RFC 7662), the pure part: the
 * "tokens.introspection" configuration (parsed into an introspect_spec),
 * which bearer tokens go to the endpoint, the request body and client
 * authentication sent, and the reading of its answer into the same result
 * a verified JWT gives (claims, scopes, subject, id). No I/O here:
 * introspect.c runs the calls on the workers' loops. */
#ifndef SCOPEGATE_INTROSPECT_PARSE_H
#define SCOPEGATE_INTROSPECT_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>

#include "defaults.h"
#include "jsonconf.h"
#include "jwt.h"

struct tls_client_config;

/* The "tokens.introspection" object, immutable after parsing. */
struct introspect_spec {
	char *url;
	int https;
	char host[256];
	uint16_t port;
	char path[2048];
	/* Resolved when the configuration is loaded (on the main thread):
	 * a worker never waits on a name lookup. */
	struct sockaddr_storage addrs[SG_INTROSPECT_MAX_ADDRS];
	socklen_t addrlens[SG_INTROSPECT_MAX_ADDRS];
	size_t naddrs;
	char *basic;			/* "Basic ..." (client_secret_basic), or NULL */
	struct tls_client_config *tls;	/* https: CA, client_cert/client_key */
	int64_t timeout_ms, cache_ttl_s, negative_ttl_s, max_inflight;
	int all_tokens;
	int allow_http_loopback;
	uint64_t generation;		/* unique per parsed spec: cache entries of
					 * another configuration never answer */
};

/* Parse the object at ptr; relative paths against base_dir. NULL after
 * every problem was reported to jc at its JSON pointer. */
struct introspect_spec *introspect_spec_parse(struct jsonconf *jc, const json_t *obj,
    const char *ptr, const char *base_dir);
void introspect_spec_free(struct introspect_spec *s);

/* Whether this bearer token goes to the endpoint: every token with
 * all_tokens, else one that is not a JWS compact serialization (three
 * segments: two dots). */
int introspect_wants(const struct introspect_spec *s, const char *token, size_t len);

/* Whether a token may be sent at all: 1 to max_bytes characters of the
 * token68 alphabet (RFC 6750 2.1). Anything else is refused unsent. */
int introspect_token_ok(const char *token, size_t len, size_t max_bytes);

/* The POST request for token (whole bytes, to send as is): the token only
 * in the form body, never in the target. A new string; *len its length. */
char *introspect_request(const struct introspect_spec *s, const char *token, size_t tlen,
    size_t *len);

/* How an answer reads. */
enum introspect_verdict {
	INTROSPECT_ACTIVE,		/* active, and its claims pass: *out set */
	INTROSPECT_REFUSED,		/* inactive, or active with claims that
					 * fail (*st says which) */
	INTROSPECT_UNUSABLE,		/* not an answer (why): fail closed, 503 */
};

/*
 * Read an introspection answer (the body of a 200) at time now. It must
 * be one JSON object (no duplicate members, at most SG_INTROSPECT_MAX_BYTES)
 * with a boolean "active". An active answer's members are checked like a
 * JWT's claims under o (types, exp/nbf/iat, issuers, audiences, id claim),
 * except that "exp" may be absent and "scope" is the RFC 7662
 * space-separated string. *st is JWT_OK for INTROSPECT_ACTIVE, JWT_INACTIVE
 * or the failed claim for INTROSPECT_REFUSED.
 */
enum introspect_verdict introspect_answer_parse(const char *buf, size_t len,
    const struct jwt_opts *o, time_t now, enum jwt_status *st, struct jwt_result **out,
    char *why, size_t whylen);

/* Until when (time_t) a verdict may be reused: an active one until the
 * earliest of now + cache_ttl_s and its exp; a refused one for
 * negative_ttl_s. */
time_t introspect_cache_until(const struct introspect_spec *s, enum jwt_status st,
    const struct jwt_result *r, time_t now);

#endif
