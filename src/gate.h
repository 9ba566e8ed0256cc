/* gate.h: the whole admission decision for one request, as a pure
 * function of plain data: canonical target -> route -> token -> authz.
 * The daemon's evhttp glue and the offline `scopegate explain` both call
 * it, so what explain says is what the daemon does. */
#ifndef SCOPEGATE_GATE_H
#define SCOPEGATE_GATE_H

#include <stddef.h>
#include <time.h>

#include "authz.h"
#include "canon.h"
#include "jwt.h"
#include "policy.h"
#include "tokencache.h"

struct revoke_store;

struct cfg;

struct gate_request {
	const char *method;		/* exact, case-sensitive */
	const char *target;		/* raw request-target */
	size_t target_len;
	const char *authorization;	/* the Authorization value, or NULL */
	const char *content_type;	/* or NULL */
	const char *content_encoding;	/* or NULL */
	int ncontent_encoding;
	const char *body;		/* the whole request body (len bytes) */
	size_t body_len;
	int nauthorization;		/* how many Authorization fields came */
	time_t now;
	const struct revoke_store *revocations;	/* or NULL */
	/* The verified client certificate (mTLS), or NULL: policy bindings
	 * to mtls.subject and mtls.fingerprint read these, and only these. */
	const char *tls_subject;
	const char *tls_fingerprint;
	/* explain --scopes: take these scopes as a valid token's, skipping
	 * verification. Never set by the daemon. */
	const char *const *assume_scopes;
	size_t nassume;
	int assume_token;
	/* explain without --body: decide on everything but the body (its
	 * content type, JSON, schema and token-creation rules). Never set by
	 * the daemon. */
	int skip_body;
	/* tokens.introspection: the endpoint's answer for this request's
	 * opaque token, once the caller has it (introspect.h): its status
	 * (JWT_OK, JWT_INACTIVE or a failed claim) and, for JWT_OK, the
	 * claims. Until then the head asks for it (need_introspection). */
	int introspected;
	enum jwt_status introspect_status;
	const struct jwt_result *introspect_result;
};

struct gate_decision {
	int allow;
	int status;			/* HTTP status when denied */
	const char *error_type;		/* Losant error type when denied */
	char message[320];
	const char *reason;		/* log token */
	const char *www_authenticate;	/* header value, or NULL */
	char allow_header[80];		/* 405: methods, "" otherwise */
	const struct policy_action *action;
	const char *scope;		/* matched scope */
	/* From the verified token; they point into the token cache entry (or
	 * the result below), valid until the next gate_decide on the same
	 * cache: copy what must outlive that. */
	const char *subject;
	const char *token_id;
	/* The verified token's result, for its claims: read them with
	 * gate_decision_claims (built on first use). After gate_decide_head,
	 * until the caller returns to its loop (then cleared). */
	struct jwt_result *claims_from_;
	enum jwt_status jwt;		/* JWT_OK when no token was needed */
	int token_checked;		/* the action needed a token */
	int jwt_verified;		/* a bearer token went through token_verify */
	int cache_hit;			/* ... and the cache answered */
	int revoked;			/* a valid token whose id is revoked */
	const char *id_refused;		/* tokens.require_id: why its id claim
					 * is refused ("token_id_missing",
					 * "token_id_invalid"), or NULL */
	struct canon_target target;
	struct policy_match match;
	/* The caller, for the body's token-creation check: its scopes the
	 * policy knows and, for a token-creating action, every scope name of
	 * its token (for scopes the policy does not know). Copies: the cache
	 * entry may be gone by the time the body has arrived. */
	struct policy_scopeset caller;
	int has_caller;
	char **caller_names;
	size_t ncaller_names;
	struct jwt_result *owned;	/* result to free when no cache was used */
	/* Report mode (reportmode.h): the refusal that was only reported
	 * (its reason and status), NULL when none; allow is then 1. */
	const char *would_deny;
	int would_status;
	/* The token goes to the introspection endpoint and rq carried no
	 * answer: the caller asks, then decides again with it (denied 503
	 * meanwhile, for a caller that cannot: explain). */
	int need_introspection;
};

/*
 * The decision comes in two phases, so that a request that will be
 * refused is refused before its body is read:
 *  - gate_decide_head: everything the head decides (target, route,
 *    token, parameters, scopes, bindings, revocation); rq->body unused.
 *    The claims are not kept past it (bindings are checked inside).
 *  - gate_decide_body: for a request the head allowed, the body rules
 *    (schema, token creation) on the whole body. Returns d->allow.
 * gate_decide runs both (explain, the fuzzer). cache may be NULL
 * (explain). Call gate_decision_release after.
 */
void gate_decide_head(const struct cfg *cf, struct tokencache *cache,
    const struct gate_request *rq, struct gate_decision *d);
int gate_decide_body(const struct cfg *cf, const struct gate_request *rq,
    struct gate_decision *d);
void gate_decide(const struct cfg *cf, struct tokencache *cache,
    const struct gate_request *rq, struct gate_decision *d);
/* The verified token's claims as a JSON object, built on the first call
 * (jwt_result_claims); NULL without a valid token or once cleared. Valid
 * as d->claims_from_ is. */
const json_t *gate_decision_claims(struct gate_decision *d);
/* From now on gate_decision_claims gives NULL (the token's result may
 * leave the cache before the decision is done with). */
static inline void
gate_decision_forget_claims(struct gate_decision *d)
{
	d->claims_from_ = NULL;
}
/* Non-zero when the action the head matched has body rules (a schema, or
 * token creation, schema or not): its body is read whole. */
int gate_needs_body(const struct cfg *cf, const struct gate_decision *d);
void gate_decision_release(struct gate_decision *d);

/* Extract the token from "Bearer <token>" (scheme case-insensitive, one or
 * more spaces): everything after the spaces, not empty. Returns 0 and the
 * slice, or -1. Its characters are token_verify's to check. */
int gate_bearer_token(const char *authorization, const char **token, size_t *len);

#endif
