/* jwt.c: see jwt.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64url.h"
#include "defaults.h"
#include "jwt.h"
#include "jwtjson.h"
#include "xmalloc.h"


static const char *const status_names[JWT_STATUS_COUNT] = {
	[JWT_OK] = "ok",
	[JWT_MALFORMED] = "malformed",
	[JWT_TOO_LARGE] = "too_large",
	[JWT_UNSUPPORTED_ALG] = "unsupported_alg",
	[JWT_ALG_NOT_ALLOWED] = "alg_not_allowed",
	[JWT_UNKNOWN_KID] = "unknown_kid",
	[JWT_BAD_SIGNATURE] = "bad_signature",
	[JWT_CRIT_UNSUPPORTED] = "crit_unsupported",
	[JWT_EXPIRED] = "expired",
	[JWT_NOT_YET_VALID] = "not_yet_valid",
	[JWT_ISSUED_IN_FUTURE] = "issued_in_future",
	[JWT_WRONG_ISSUER] = "wrong_issuer",
	[JWT_WRONG_AUDIENCE] = "wrong_audience",
	[JWT_MISSING_EXP] = "missing_exp",
	[JWT_LIFETIME_TOO_LONG] = "lifetime_too_long",
	[JWT_BAD_CLAIM] = "bad_claim",
	[JWT_BAD_SCOPE] = "bad_scope",
	[JWT_INTERNAL] = "internal_error",
	[JWT_INACTIVE] = "inactive",
};

const char *
jwt_status_str(enum jwt_status st)
{
	if ((unsigned)st >= JWT_STATUS_COUNT)
		return "unknown";
	return status_names[st];
}

void
jwt_opts_init(struct jwt_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_token_bytes = SG_DEFAULT_MAX_TOKEN_BYTES;
	o->max_untagged_tries = JWT_DEFAULT_MAX_UNTAGGED_TRIES;
	o->require_exp = 1;
	o->leeway_s = SG_DEFAULT_CLOCK_LEEWAY_S;
	o->scope_claim = "scope";
	o->scope_format = JWT_SCOPE_EITHER;
	o->id_claim = "jti";
}

enum jwt_status
jwt_verify_jws(const struct keys *ks, const struct jwt_opts *o,
    const char *token, size_t len, json_t **header, unsigned char **payload,
    size_t *payload_len, enum keys_alg *alg_out, const struct keys_entry **key_out)
{
	const char *dot1, *dot2, *alg_name, *kid = NULL;
	unsigned char *hdr = NULL, *pl = NULL, *sig = NULL, *scratch = NULL;
	unsigned char stackbuf[1024];
	const struct keys_entry *cand[16];
	size_t hlen, plen = 0, slen, hcap, scap, ncand = 0, tries;
	ssize_t n;
	enum jwt_status st = JWT_MALFORMED;
	int kid_seen = 0, internal = 0;
	enum keys_alg alg;
	json_t *h = NULL, *v;

	*header = NULL;
	*payload = NULL;
	*payload_len = 0;
	if (len > o->max_token_bytes) {
		st = JWT_TOO_LARGE;
		goto out;
	}
	/* Exactly three non-empty segments. */
	if ((dot1 = memchr(token, '.', len)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token))) == NULL ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL ||
	    dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == token + len)
		goto out;
	/* The header and signature are only needed here: decode both into
	 * one scratch buffer, on the stack when they fit (they nearly always
	 * do). The payload is returned, so it gets its own allocation. */
	hcap = B64URL_DECODED_MAX((size_t)(dot1 - token));
	scap = B64URL_DECODED_MAX((size_t)(token + len - dot2 - 1));
	hdr = hcap + scap <= sizeof(stackbuf) ? stackbuf :
	    (scratch = xmalloc(hcap + scap));
	sig = hdr + hcap;
	if ((n = b64url_decode(token, (size_t)(dot1 - token), hdr, hcap)) < 0)
		goto out;
	hlen = (size_t)n;
	if ((n = b64url_decode(dot2 + 1, (size_t)(token + len - dot2 - 1), sig, scap)) < 0)
		goto out;
	slen = (size_t)n;
	if ((pl = b64url_decode_alloc(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen)) == NULL)
		goto out;
	if ((h = jwtjson_parse_object(hdr, hlen)) == NULL)
		goto out;

	/* The header's alg only selects among the pinned algorithms of the
	 * configured keys; "none" is refused in any spelling. */
	if ((v = json_object_get(h, "alg")) == NULL || !json_is_string(v))
		goto out;
	alg_name = json_string_value(v);
	if (strcasecmp(alg_name, "none") == 0 || keys_alg_from_name(alg_name, &alg) != 0) {
		st = JWT_UNSUPPORTED_ALG;
		goto out;
	}
	/* No extension is implemented, so any "crit" is unsupported. */
	if (json_object_get(h, "crit") != NULL) {
		st = JWT_CRIT_UNSUPPORTED;
		goto out;
	}
	if ((v = json_object_get(h, "kid")) != NULL) {
		if (!json_is_string(v))
			goto out;
		kid = json_string_value(v);
	}
	/* jku, x5u, jwk and x5c are ignored: keys come from configuration. */

	tries = o->max_untagged_tries ? o->max_untagged_tries : 1;
	if (tries > sizeof(cand) / sizeof(cand[0]))
		tries = sizeof(cand) / sizeof(cand[0]);
	for (size_t i = 0; i < ks->n && ncand < tries; i++) {
		const struct keys_entry *k = ks->v[i];
		if (kid != NULL) {
			if (k->kid == NULL || strcmp(k->kid, kid) != 0)
				continue;
			kid_seen = 1;
		}
		if (k->algs & KEYS_ALG_BIT(alg))
			cand[ncand++] = k;
	}
	if (ncand == 0) {
		st = kid != NULL && !kid_seen ? JWT_UNKNOWN_KID : JWT_ALG_NOT_ALLOWED;
		goto out;
	}
	st = JWT_BAD_SIGNATURE;
	for (size_t i = 0; i < ncand; i++) {
		int r = keys_verify(ks, cand[i], alg, (const unsigned char *)token,
		    (size_t)(dot2 - token), sig, slen);
		if (r == 1) {
			st = JWT_OK;
			if (alg_out != NULL)
				*alg_out = alg;
			if (key_out != NULL)
				*key_out = cand[i];
			break;
		}
		if (r < 0)
			internal = 1;
	}
	if (st != JWT_OK && internal)
		st = JWT_INTERNAL;
out:
	free(scratch);
	if (st == JWT_OK) {
		*header = h;
		*payload = pl;
		*payload_len = plen;
	} else {
		json_decref(h);
		free(pl);
	}
	return st;
}

json_t *
jwt_claim_path(const json_t *payload, const char *path)
{
	const char *seg = path, *dot;
	json_t *cur = (json_t *)payload;
	char name[256];

	/* A top-level claim whose name contains dots wins (URIs as names). */
	if ((cur = json_object_get(payload, path)) != NULL || strchr(path, '.') == NULL)
		return cur;
	cur = (json_t *)payload;
	for (;;) {
		size_t n;
		dot = strchr(seg, '.');
		n = dot ? (size_t)(dot - seg) : strlen(seg);
		if (n == 0 || n >= sizeof(name) || !json_is_object(cur))
			return NULL;
		memcpy(name, seg, n);
		name[n] = '\0';
		if ((cur = json_object_get(cur, name)) == NULL)
			return NULL;
		if (dot == NULL)
			return cur;
		seg = dot + 1;
	}
}

/* Collect the scope claim into r. Returns JWT_OK or JWT_BAD_SCOPE. */
static enum jwt_status
collect_scopes(struct jwt_result *r, const json_t *v, enum jwt_scope_format fmt)
{
	size_t n = 0, bytes = 0, i;
	json_t *e;
	char *o;

	if (v == NULL)
		return JWT_OK;
	if (json_is_array(v) && fmt != JWT_SCOPE_STRING) {
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || json_string_length(e) == 0)
				return JWT_BAD_SCOPE;
			bytes += json_string_length(e) + 1;
		}
		n = json_array_size(v);
		r->scope_buf = o = xmalloc(bytes ? bytes : 1);
		r->scopes = xcalloc(n ? n : 1, sizeof(*r->scopes));
		json_array_foreach(v, i, e) {
			memcpy(o, json_string_value(e), json_string_length(e) + 1);
			r->scopes[i] = o;
			o += json_string_length(e) + 1;
		}
		r->nscopes = n;
		return JWT_OK;
	}
	if (json_is_string(v) && fmt != JWT_SCOPE_ARRAY) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);

		if (len == 0)
			return JWT_OK;
		/* RFC 6749 3.3: tokens separated by exactly one space; an empty
		 * token (leading, trailing or double space) is malformed. */
		if (s[0] == ' ' || s[len - 1] == ' ' || strstr(s, "  ") != NULL)
			return JWT_BAD_SCOPE;
		n = 1;
		for (i = 0; i < len; i++)
			if (s[i] == ' ')
				n++;
		r->scope_buf = xmalloc(len + 1);
		memcpy(r->scope_buf, s, len + 1);
		r->scopes = xcalloc(n, sizeof(*r->scopes));
		r->nscopes = 0;
		r->scopes[r->nscopes++] = r->scope_buf;
		for (i = 0; i < len; i++) {
			if (r->scope_buf[i] == ' ') {
				r->scope_buf[i] = '\0';
				r->scopes[r->nscopes++] = r->scope_buf + i + 1;
			}
		}
		return JWT_OK;
	}
	return JWT_BAD_SCOPE;
}

static int64_t
clamp_i64(double d)
{
	if (d >= 9.2e18)
		return INT64_MAX;
	if (d <= -9.2e18)
		return INT64_MIN;
	return (int64_t)d;
}

/* max_lifetime_s (exp is present): a token accepted at time t stops
 * verifying by t + max_lifetime_s + 2 * leeway_s at the latest, whatever
 * it claims, which is what lets a revocation of unknown expiry end (see
 * revoke.h). The rule only gets easier as t grows, so a cached result
 * stays right until its valid_until. iat is not trusted to shorten
 * anything (whoever holds the key writes it), but a token whose own iat
 * says it was issued to live longer is refused too: otherwise such a
 * token, refused today, would be accepted in its last max_lifetime_s,
 * possibly after the revocation of its id has been dropped. */
static enum jwt_status
check_lifetime(const json_t *p, const struct jwt_opts *o, double t)
{
	double exp = json_number_value(json_object_get(p, "exp"));
	double max = (double)o->max_lifetime_s;
	const json_t *iat = json_object_get(p, "iat");

	if (exp > t + max + (double)o->leeway_s)
		return JWT_LIFETIME_TOO_LONG;
	if (iat != NULL && exp - json_number_value(iat) > max)
		return JWT_LIFETIME_TOO_LONG;
	return JWT_OK;
}

/* Check the claims of a verified payload at time now. */
static enum jwt_status
check_claims(struct jwt_result *r, const struct jwt_opts *o, time_t now)
{
	const json_t *p = r->payload;
	double t = (double)now, leeway = (double)o->leeway_s;
	enum jwt_status st;
	json_t *v, *e;
	size_t i, j;
	int ok;

	/* Types first, so a wrong type is never mistaken for a time or
	 * audience failure. */
	static const char *const numeric[] = { "exp", "nbf", "iat" };
	for (i = 0; i < 3; i++)
		if ((v = json_object_get(p, numeric[i])) != NULL && !json_is_number(v))
			return JWT_BAD_CLAIM;
	if ((v = json_object_get(p, "iss")) != NULL && !json_is_string(v))
		return JWT_BAD_CLAIM;
	if ((v = json_object_get(p, "sub")) != NULL && !json_is_string(v))
		return JWT_BAD_CLAIM;
	r->sub = v ? json_string_value(v) : NULL;
	if ((v = json_object_get(p, "aud")) != NULL && !json_is_string(v)) {
		if (!json_is_array(v))
			return JWT_BAD_CLAIM;
		json_array_foreach(v, i, e)
			if (!json_is_string(e))
				return JWT_BAD_CLAIM;
	}
	if ((v = jwt_claim_path(p, o->id_claim ? o->id_claim : "jti")) != NULL &&
	    !json_is_string(v))
		return JWT_BAD_CLAIM;
	r->token_id = v ? json_string_value(v) : NULL;

	if ((v = json_object_get(p, "exp")) != NULL) {
		double exp = json_number_value(v);
		r->has_exp = 1;
		r->exp = clamp_i64(exp);
		r->valid_until = clamp_i64(exp + leeway);
		/* RFC 7519 4.1.4: valid only while now is before exp. */
		if (t >= exp + leeway)
			return JWT_EXPIRED;
	} else if (o->require_exp || o->max_lifetime_s > 0)
		return JWT_MISSING_EXP;
	if (o->max_lifetime_s > 0 && (st = check_lifetime(p, o, t)) != JWT_OK)
		return st;
	if ((v = json_object_get(p, "nbf")) != NULL && t + leeway < json_number_value(v))
		return JWT_NOT_YET_VALID;
	if ((v = json_object_get(p, "iat")) != NULL && json_number_value(v) > t + leeway)
		return JWT_ISSUED_IN_FUTURE;

	if (o->nissuers > 0) {
		v = json_object_get(p, "iss");
		ok = 0;
		for (i = 0; v != NULL && i < o->nissuers && !ok; i++)
			ok = strcmp(json_string_value(v), o->issuers[i]) == 0;
		if (!ok)
			return JWT_WRONG_ISSUER;
	}
	if (o->naudiences > 0) {
		v = json_object_get(p, "aud");
		ok = 0;
		for (j = 0; v != NULL && j < o->naudiences && !ok; j++) {
			if (json_is_string(v))
				ok = strcmp(json_string_value(v), o->audiences[j]) == 0;
			else
				json_array_foreach(v, i, e)
					if (strcmp(json_string_value(e), o->audiences[j]) == 0)
						ok = 1;
		}
		if (!ok)
			return JWT_WRONG_AUDIENCE;
	}
	return collect_scopes(r, jwt_claim_path(p, o->scope_claim ? o->scope_claim : "scope"),
	    o->scope_format);
}

enum jwt_status
jwt_verify(const struct keys *ks, const struct jwt_opts *o, const char *token,
    size_t len, time_t now, struct jwt_result **out)
{
	struct jwt_result *r = xcalloc(1, sizeof(*r));
	unsigned char *payload = NULL;
	size_t plen = 0;
	enum jwt_status st;
	json_t *v;

	*out = NULL;
	r->valid_until = INT64_MAX;
	st = jwt_verify_jws(ks, o, token, len, &r->header, &payload, &plen,
	    &r->alg, &r->key);
	if (st != JWT_OK)
		goto out;
	if ((r->payload = jwtjson_parse_object(payload, plen)) == NULL) {
		st = JWT_MALFORMED;
		goto out;
	}
	if ((v = json_object_get(r->header, "kid")) != NULL)
		r->kid = json_string_value(v);
	st = check_claims(r, o, now);
out:
	free(payload);
	if (st == JWT_OK)
		*out = r;
	else
		jwt_result_free(r);
	return st;
}

enum jwt_status
jwt_claims_check(struct jwt_result *r, const struct jwt_opts *o, time_t now)
{
	r->valid_until = INT64_MAX;
	return check_claims(r, o, now);
}

void
jwt_result_free(struct jwt_result *r)
{
	if (r == NULL)
		return;
	if (r->user_free != NULL)
		r->user_free(r->user);
	json_decref(r->header);
	json_decref(r->payload);
	free(r->scopes);
	free(r->scope_buf);
	free(r);
}

char *
jwt_sign_raw(const struct keys_signer *s, const char *header, size_t header_len,
    const char *payload, size_t payload_len)
{
	size_t hl = B64URL_ENCODED_LEN(header_len), pl = B64URL_ENCODED_LEN(payload_len);
	unsigned char *sig = NULL;
	char *out, *res = NULL;
	size_t siglen;

	out = xmalloc(hl + 1 + pl + 1);
	b64url_encode(header, header_len, out);
	out[hl] = '.';
	b64url_encode(payload, payload_len, out + hl + 1);
	if (keys_signer_sign(s, (unsigned char *)out, hl + 1 + pl, &sig, &siglen) != 0)
		goto fail;
	res = xmalloc(hl + 1 + pl + 1 + B64URL_ENCODED_LEN(siglen) + 1);
	memcpy(res, out, hl + 1 + pl);
	res[hl + 1 + pl] = '.';
	b64url_encode(sig, siglen, res + hl + 1 + pl + 1);
fail:
	free(sig);
	free(out);
	return res;
}
