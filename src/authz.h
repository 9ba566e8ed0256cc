/* authz.h: the authorization decision for one request, a pure function of
 * the route match, the token's status, its scope set and its claims. The
 * order follows DESIGN.md: no route (404) / wrong method (405), public
 * (allow), no valid token (401), parameter types (400), scopes (403), claim
 * bindings (403). */
#ifndef SCOPEGATE_AUTHZ_H
#define SCOPEGATE_AUTHZ_H

#include <jansson.h>

#include "policy.h"

/* What the caller found out about the bearer token (it verifies tokens). */
enum authz_token {
	AUTHZ_TOKEN_NONE,	/* no Authorization header */
	AUTHZ_TOKEN_INVALID,	/* bad, expired or revoked */
	AUTHZ_TOKEN_VALID,
};

struct authz_decision {
	int allow;		/* 1: forward the request */
	int status;		/* HTTP status to answer; 0 when allowed */
	const char *error_type;	/* Losant error type: "Forbidden", NULL when allowed */
	const char *reason;	/* log token: "public", "scope", "no_token", ... */
	const char *scope;	/* the allowlist scope that matched, or NULL */
	const char *bearer_error; /* WWW-Authenticate error="...", or NULL */
	unsigned allowed_methods; /* 405: (1 << method) mask for Allow */
	char message[160];	/* short message for the error body */
};

/* The connection's verified client certificate (mTLS): the only source of
 * the bindings to mtls.subject and mtls.fingerprint. */
struct authz_peer {
	const char *subject;		/* RFC 2253 one-line */
	const char *fingerprint;	/* SHA-256 of the DER, lowercase hex */
};

/* Whether authz_decide reads the claims for this match: a claim binding
 * of its action (the callers build the claims object only then). */
int authz_reads_claims(const struct policy_match *m);

/* Decide. scopes and claims are only read for a valid token (they may be
 * NULL otherwise), claims only when authz_reads_claims says so (it may
 * be NULL otherwise); claims is the token's payload object; peer is NULL
 * without a verified client certificate. Fills *out; no allocation.
 * Reasons: "no_route", "method_not_allowed", "public", "no_token",
 * "invalid_token", "bad_param", "insufficient_scope", "binding_mismatch",
 * "scope". */
void authz_decide(const struct policy_match *m, enum authz_token token,
    const struct policy_scopeset *scopes, const json_t *claims,
    const struct authz_peer *peer, struct authz_decision *out);

#endif
