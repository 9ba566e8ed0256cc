/* jwt.h: strict verification of JWS compact JWTs (RFC 7515/7519) against
 * a key set, and claim checks with an injected clock. Pure code: plain C
 * data in, a precise status out. */
#ifndef SCOPEGATE_JWT_H
#define SCOPEGATE_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "defaults.h"
#include "keys.h"

enum jwt_status {
	JWT_OK = 0,
	JWT_MALFORMED,		/* not three strict base64url segments of JSON */
	JWT_TOO_LARGE,		/* longer than max_token_bytes */
	JWT_UNSUPPORTED_ALG,	/* "none" (any spelling) or unknown alg */
	JWT_ALG_NOT_ALLOWED,	/* no key pins this alg (for this kid) */
	JWT_UNKNOWN_KID,	/* kid names no configured key */
	JWT_BAD_SIGNATURE,
	JWT_CRIT_UNSUPPORTED,	/* "crit" header present: no extension is implemented */
	JWT_EXPIRED,
	JWT_NOT_YET_VALID,	/* nbf in the future */
	JWT_ISSUED_IN_FUTURE,	/* iat in the future */
	JWT_WRONG_ISSUER,
	JWT_WRONG_AUDIENCE,
	JWT_MISSING_EXP,
	JWT_LIFETIME_TOO_LONG,	/* exp further ahead than max_lifetime_s allows */
	JWT_BAD_CLAIM,		/* a registered claim of the wrong type */
	JWT_BAD_SCOPE,		/* scope claim of the wrong form */
	JWT_INTERNAL,		/* OpenSSL failure */
	JWT_INACTIVE,		/* introspection (RFC 7662) said "active": false */
	JWT_STATUS_COUNT
};

/* Short snake_case reason for logs and metrics ("bad_signature"). */
const char *jwt_status_str(enum jwt_status st);

enum jwt_scope_format {
	JWT_SCOPE_EITHER,	/* JSON array of strings or space-separated string */
	JWT_SCOPE_ARRAY,
	JWT_SCOPE_STRING,
};

/* Verification policy. Strings are borrowed and must outlive its use. */
struct jwt_opts {
	size_t max_token_bytes;
	unsigned max_untagged_tries;	/* keys tried for a token without kid */
	int require_exp;
	int64_t leeway_s;
	/* > 0: a token must have exp, exp <= now + max_lifetime_s + leeway_s,
	 * and, when it has iat, exp - iat <= max_lifetime_s (0: no bound). */
	int64_t max_lifetime_s;
	const char *const *issuers;	/* accepted iss values; none = any */
	size_t nissuers;
	const char *const *audiences;	/* accepted aud values; none = not checked */
	size_t naudiences;
	const char *scope_claim;	/* dotted path, e.g. "realm.scopes" */
	enum jwt_scope_format scope_format;
	const char *id_claim;		/* dotted path; "jti" by default */
};

#define JWT_DEFAULT_MAX_UNTAGGED_TRIES	SG_DEFAULT_MAX_UNTAGGED_TRIES

/* Fill opts with the defaults (defaults.h). */
void jwt_opts_init(struct jwt_opts *o);

/* The outcome of a successful verification. Strings point into the
 * claims (their JSON or their text), or into scope_buf, or are kid, all
 * owned by the result. */
struct jwt_result {
	/* The claims object is built on first use (jwt_result_claims): most
	 * requests read none of it, and building then freeing it was about
	 * a tenth of a fresh token's cost. Read only through the accessor;
	 * the names say so (jwt.c alone touches them). */
	json_t *claims_obj_;		/* NULL until built */
	char *claims_text_;		/* the payload's bytes (claims_len_),
					 * NUL, then sub and the id claim when
					 * they were read from it */
	size_t claims_len_;
	enum keys_alg alg;
	char *kid;			/* the header's kid; NULL when absent */
	const struct keys_entry *key;	/* the key that verified it */
	const char *token_id;		/* id claim, NULL when absent */
	size_t token_id_len;		/* its length as JSON gives it (a NUL
					 * inside makes it longer than strlen) */
	const char *sub;		/* NULL when absent */
	int has_exp;
	int64_t exp;			/* seconds (fraction dropped) */
	int64_t valid_until;		/* exp + leeway, INT64_MAX without exp */
	const char **scopes;		/* nscopes entries, exact bytes */
	size_t nscopes;
	char *scope_buf;		/* in the scopes allocation */
	/* One opaque pointer for the caller (e.g. a memoized scope bitset),
	 * freed with user_free when the result is freed. */
	void *user;
	void (*user_free)(void *);
};

/* Parse and verify a token: structure, header, key choice, signature, then
 * claims at time now. On JWT_OK *out is a new result the caller frees with
 * jwt_result_free; otherwise *out is NULL. */
enum jwt_status jwt_verify(const struct keys *ks, const struct jwt_opts *o,
    const char *token, size_t len, time_t now, struct jwt_result **out);

/* The JWS layer alone: structure, header, key choice and signature, with
 * no requirement on the payload (RFC 7520 payloads are plain text). On
 * JWT_OK, *header (owned) and *payload (malloc'd, NUL-terminated, length in
 * *payload_len) are returned; otherwise they are NULL. */
enum jwt_status jwt_verify_jws(const struct keys *ks, const struct jwt_opts *o,
    const char *token, size_t len, json_t **header, unsigned char **payload,
    size_t *payload_len, enum keys_alg *alg, const struct keys_entry **key);

void jwt_result_free(struct jwt_result *r);

/* The token's claims as a JSON object (claim bindings, rate limits keyed
 * by a claim): built from the verified payload on the first call, the same
 * object jwt_verify built for every token before (the payload was judged
 * whole at verification: this never fails). The result is written only
 * then, by the thread that owns it (a worker's token cache, a decision's
 * own result); a result made from an introspection answer comes with its
 * object and is never written. */
const json_t *jwt_result_claims(struct jwt_result *r);

/* How jwt_check_payload reads the claims: LAZY as jwt_verify does (a
 * payload in jwtjson's fast subset is checked from its text, its object
 * left for jwt_result_claims; any other is parsed at once), EAGER as it
 * did before (always parsed at once, checked from the object): kept for
 * the test that proves the two the same. */
enum jwt_claims_mode {
	JWT_CLAIMS_LAZY,
	JWT_CLAIMS_EAGER,
};

/* The claims step of jwt_verify alone, on a verified payload (pl, plen
 * bytes) into r (zeroed, or with alg, kid, key set): JWT_MALFORMED when
 * it is no JSON object, else the claim checks at time now. */
enum jwt_status jwt_check_payload(struct jwt_result *r, const struct jwt_opts *o, time_t now,
    const unsigned char *pl, size_t plen, enum jwt_claims_mode mode);

/* The claim checks jwt_verify runs on a verified payload, for claims that
 * came another way (an introspection answer): r takes doc (a JSON object,
 * its reference), the rest is filled in. */
enum jwt_status jwt_claims_check(struct jwt_result *r, json_t *doc, const struct jwt_opts *o,
    time_t now);

/* Find a claim by dotted path ("realm.scopes"); NULL when absent. */
json_t *jwt_claim_path(const json_t *payload, const char *path);

/* Build a compact JWS: header and payload are taken byte for byte (already
 * serialized JSON, or anything for negative tests); the signature is made
 * by s. Returns a new string the caller frees, or NULL. */
char *jwt_sign_raw(const struct keys_signer *s, const char *header,
    size_t header_len, const char *payload, size_t payload_len);

#endif
