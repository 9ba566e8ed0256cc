/* jwt.c: see jwt.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64url.h"
#include "defaults.h"
#include "jwt.h"
#include "jwtjson.h"
#include "log.h"
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

/* What a JWS header says. alg is NUL-terminated (id: the algorithm it
 * names); kid (kid_len bytes) is NULL when absent. Both point into the
 * header's bytes or its JSON. */
struct jws_header {
	const char *alg;
	const char *kid;
	size_t kid_len;
	int crit;
	enum keys_alg id;
	char algbuf[8];		/* longer than any algorithm name */
};

/* The member called name among m[0..n), or NULL. */
static const struct jwtjson_member *
member(const struct jwtjson_member *m, size_t n, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (m[i].name_len == len && memcmp(m[i].name, name, len) == 0)
			return &m[i];
	return NULL;
}

/* Read alg, kid and crit from the decoded header (hlen bytes): a flat
 * header is read in place, anything else through its JSON (*h, which the
 * caller frees). JWT_OK, or the first thing wrong in the order alg, none,
 * crit, kid. */
static enum jwt_status
read_header(const unsigned char *hdr, size_t hlen, struct jws_header *jh, json_t **h)
{
	struct jwtjson_member m[16];
	const struct jwtjson_member *e;
	size_t n;
	json_t *v;

	memset(jh, 0, sizeof(*jh));
	if (jwtjson_scan_flat(hdr, hlen, m, sizeof(m) / sizeof(m[0]), &n)) {
		if ((e = member(m, n, "alg")) == NULL || e->type != JSON_STRING)
			return JWT_MALFORMED;
		/* A longer value names no algorithm, "none" included. */
		if (e->str_len >= sizeof(jh->algbuf))
			return JWT_UNSUPPORTED_ALG;
		memcpy(jh->algbuf, e->str, e->str_len);
		jh->algbuf[e->str_len] = '\0';
		jh->alg = jh->algbuf;
		jh->crit = member(m, n, "crit") != NULL;
		/* A kid that is not a string is malformed, found after crit. */
		if ((e = member(m, n, "kid")) != NULL) {
			jh->kid = e->type == JSON_STRING ? e->str : NULL;
			jh->kid_len = e->type == JSON_STRING ? e->str_len : SIZE_MAX;
		}
	} else {
		if ((*h = jwtjson_parse_object(hdr, hlen)) == NULL)
			return JWT_MALFORMED;
		if ((v = json_object_get(*h, "alg")) == NULL || !json_is_string(v))
			return JWT_MALFORMED;
		jh->alg = json_string_value(v);
		jh->crit = json_object_get(*h, "crit") != NULL;
		if ((v = json_object_get(*h, "kid")) != NULL) {
			jh->kid = json_string_value(v);
			/* As a C string, as it always was compared. */
			jh->kid_len = jh->kid != NULL ? strlen(jh->kid) : SIZE_MAX;
		}
	}
	/* The header's alg only selects among the pinned algorithms of the
	 * configured keys; "none" is refused in any spelling. */
	if (strcasecmp(jh->alg, "none") == 0 || keys_alg_from_name(jh->alg, &jh->id) != 0)
		return JWT_UNSUPPORTED_ALG;
	/* No extension is implemented, so any "crit" is unsupported. */
	if (jh->crit)
		return JWT_CRIT_UNSUPPORTED;
	if (jh->kid_len == SIZE_MAX)
		return JWT_MALFORMED;
	/* jku, x5u, jwk and x5c are ignored: keys come from configuration. */
	return JWT_OK;
}

/* What verify_jws is asked for and gives back. */
struct jws_result {
	/* in */
	int want_header;		/* header: its JSON */
	int want_claims;		/* claims: the payload's claims checked
					 * into r (jwt_check_payload at now);
					 * else payload: its bytes, malloc'd */
	struct jwt_result *r;
	time_t now;
	/* out */
	json_t *header;
	unsigned char *payload;
	size_t payload_len;
	char *kid;			/* a copy, when want_claims */
	enum keys_alg alg;
	const struct keys_entry *key;
};

/* The JWS layer: structure, header, key choice, signature; then, when
 * asked, the claims checked into res->r (JWT_MALFORMED if not a JSON
 * object). On anything but JWT_OK, res holds nothing to free (res->r is
 * the caller's). */
static enum jwt_status
verify_jws(const struct keys *ks, const struct jwt_opts *o, const char *token,
    size_t len, struct jws_result *res)
{
	const char *dot1, *dot2;
	unsigned char *hdr = NULL, *pl = NULL, *sig = NULL, *scratch = NULL;
	unsigned char stackbuf[2048];
	const struct keys_entry *cand[16];
	size_t hlen, plen = 0, slen, hcap, scap, pcap, ncand = 0, tries;
	ssize_t n;
	enum jwt_status st = JWT_MALFORMED;
	int kid_seen = 0, internal = 0;
	struct jws_header jh;
	enum keys_alg alg;
	json_t *h = NULL;

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
	/* Header, signature and (when only its JSON is wanted) payload are
	 * decoded into one scratch buffer, on the stack when they fit (they
	 * nearly always do); a payload that is returned gets its own. */
	hcap = B64URL_DECODED_MAX((size_t)(dot1 - token));
	scap = B64URL_DECODED_MAX((size_t)(token + len - dot2 - 1));
	pcap = res->want_claims ? B64URL_DECODED_MAX((size_t)(dot2 - dot1 - 1)) : 0;
	hdr = hcap + scap + pcap <= sizeof(stackbuf) ? stackbuf :
	    (scratch = xmalloc(hcap + scap + pcap));
	sig = hdr + hcap;
	if ((n = b64url_decode(token, (size_t)(dot1 - token), hdr, hcap)) < 0)
		goto out;
	hlen = (size_t)n;
	if ((n = b64url_decode(dot2 + 1, (size_t)(token + len - dot2 - 1), sig, scap)) < 0)
		goto out;
	slen = (size_t)n;
	if (res->want_claims) {
		pl = sig + scap;
		if ((n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), pl, pcap)) < 0)
			goto out;
		plen = (size_t)n;
	} else if ((pl = b64url_decode_alloc(dot1 + 1, (size_t)(dot2 - dot1 - 1), &plen)) == NULL)
		goto out;
	if ((st = read_header(hdr, hlen, &jh, &h)) != JWT_OK)
		goto out;
	alg = jh.id;

	tries = o->max_untagged_tries ? o->max_untagged_tries : 1;
	if (tries > sizeof(cand) / sizeof(cand[0]))
		tries = sizeof(cand) / sizeof(cand[0]);
	for (size_t i = 0; i < ks->n && ncand < tries; i++) {
		const struct keys_entry *k = ks->v[i];
		if (jh.kid != NULL) {
			if (k->kid == NULL || strlen(k->kid) != jh.kid_len ||
			    memcmp(k->kid, jh.kid, jh.kid_len) != 0)
				continue;
			kid_seen = 1;
		}
		if (k->algs & KEYS_ALG_BIT(alg))
			cand[ncand++] = k;
	}
	if (ncand == 0) {
		st = jh.kid != NULL && !kid_seen ? JWT_UNKNOWN_KID : JWT_ALG_NOT_ALLOWED;
		goto out;
	}
	st = JWT_BAD_SIGNATURE;
	for (size_t i = 0; i < ncand; i++) {
		int r = keys_verify(ks, cand[i], alg, (const unsigned char *)token,
		    (size_t)(dot2 - token), sig, slen);
		if (r == 1) {
			st = JWT_OK;
			res->alg = alg;
			res->key = cand[i];
			break;
		}
		if (r < 0)
			internal = 1;
	}
	if (st != JWT_OK && internal)
		st = JWT_INTERNAL;
	if (st != JWT_OK)
		goto out;
	if (res->want_claims) {
		if ((st = jwt_check_payload(res->r, o, res->now, pl, plen,
		    JWT_CLAIMS_LAZY)) != JWT_OK)
			goto out;
		if (jh.kid != NULL)
			res->kid = xstrndup(jh.kid, jh.kid_len);
	} else {
		res->payload = pl;
		res->payload_len = plen;
		pl = NULL;
	}
	if (res->want_header) {
		/* A flat header was read in place: its JSON is made now. */
		if (h == NULL && (h = jwtjson_parse_object(hdr, hlen)) == NULL) {
			st = JWT_INTERNAL;
			goto out;
		}
		res->header = h;
		h = NULL;
	}
out:
	if (st != JWT_OK) {
		free(res->kid);
		res->kid = NULL;
		free(res->payload);
		res->payload = NULL;
		res->payload_len = 0;
	}
	json_decref(h);
	if (!res->want_claims)
		free(pl);
	free(scratch);
	return st;
}

enum jwt_status
jwt_verify_jws(const struct keys *ks, const struct jwt_opts *o,
    const char *token, size_t len, json_t **header, unsigned char **payload,
    size_t *payload_len, enum keys_alg *alg_out, const struct keys_entry **key_out)
{
	struct jws_result res;
	enum jwt_status st;

	memset(&res, 0, sizeof(res));
	res.want_header = 1;
	st = verify_jws(ks, o, token, len, &res);
	*header = res.header;
	*payload = res.payload;
	*payload_len = res.payload_len;
	if (st == JWT_OK && alg_out != NULL)
		*alg_out = res.alg;
	if (st == JWT_OK && key_out != NULL)
		*key_out = res.key;
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

/* One allocation for r's scopes (n pointers, zeroed) followed by its
 * scope_buf (bytes bytes): a fresh token costs one malloc and one free
 * less. Returns scope_buf. */
static char *
scopes_alloc(struct jwt_result *r, size_t n, size_t bytes)
{
	size_t np = n ? n : 1;

	r->scopes = xcalloc(1, np * sizeof(*r->scopes) + (bytes ? bytes : 1));
	r->scope_buf = (char *)(r->scopes + np);
	return r->scope_buf;
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
		o = scopes_alloc(r, n, bytes);
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
		memcpy(scopes_alloc(r, n, len + 1), s, len + 1);
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
check_lifetime(double exp, int has_iat, double iat, const struct jwt_opts *o, double t)
{
	double max = (double)o->max_lifetime_s;

	if (exp > t + max + (double)o->leeway_s)
		return JWT_LIFETIME_TOO_LONG;
	if (has_iat && exp - iat > max)
		return JWT_LIFETIME_TOO_LONG;
	return JWT_OK;
}

/* The claims check_claims reads, each NULL when absent. */
struct claim_refs {
	const json_t *exp, *nbf, *iat, *iss, *sub, *aud;
	json_t *id, *scope;
};

/* Find the claims check_claims reads in one walk over the payload's
 * members instead of a hashed lookup each (a token has about ten): a
 * member matches a name when it has exactly its bytes, as
 * json_object_get would find it. The id and scope claims are found as
 * jwt_claim_path finds them: the top-level member of that exact name,
 * else, for a dotted path, the walk down. */
static void
find_claims(const json_t *p, const char *id_claim, const char *scope_claim,
    struct claim_refs *c)
{
	size_t idlen = strlen(id_claim), scopelen = strlen(scope_claim);

	memset(c, 0, sizeof(*c));
	for (void *it = json_object_iter((json_t *)p); it != NULL;
	    it = json_object_iter_next((json_t *)p, it)) {
		const char *k = json_object_iter_key(it);
		size_t kl = json_object_iter_key_len(it);
		json_t *v = json_object_iter_value(it);

		if (kl == 3) {
			if (memcmp(k, "exp", 3) == 0)
				c->exp = v;
			else if (memcmp(k, "nbf", 3) == 0)
				c->nbf = v;
			else if (memcmp(k, "iat", 3) == 0)
				c->iat = v;
			else if (memcmp(k, "iss", 3) == 0)
				c->iss = v;
			else if (memcmp(k, "sub", 3) == 0)
				c->sub = v;
			else if (memcmp(k, "aud", 3) == 0)
				c->aud = v;
		}
		/* Not else: a configured claim may share a registered name.
		 * The first byte before a call to memcmp (keys and claim
		 * names are NUL-terminated, so k[0] is there when kl is 0). */
		if (kl == idlen && k[0] == id_claim[0] && memcmp(k, id_claim, kl) == 0)
			c->id = v;
		if (kl == scopelen && k[0] == scope_claim[0] && memcmp(k, scope_claim, kl) == 0)
			c->scope = v;
	}
	if (c->id == NULL && strchr(id_claim, '.') != NULL)
		c->id = jwt_claim_path(p, id_claim);
	if (c->scope == NULL && strchr(scope_claim, '.') != NULL)
		c->scope = jwt_claim_path(p, scope_claim);
}

/* Check the claims of a verified payload at time now. Each registered
 * claim is looked up once. */
static enum jwt_status
check_claims(struct jwt_result *r, const struct jwt_opts *o, time_t now)
{
	const json_t *p = r->claims_obj_;
	struct claim_refs c;
	const json_t *expv, *nbf, *iat, *iss, *sub, *aud;
	double t = (double)now, leeway = (double)o->leeway_s;
	enum jwt_status st;
	json_t *v, *e;
	size_t i, j;
	int ok;

	find_claims(p, o->id_claim ? o->id_claim : "jti",
	    o->scope_claim ? o->scope_claim : "scope", &c);
	expv = c.exp;
	nbf = c.nbf;
	iat = c.iat;
	iss = c.iss;
	sub = c.sub;
	aud = c.aud;

	/* Types first, so a wrong type is never mistaken for a time or
	 * audience failure. */
	if ((expv != NULL && !json_is_number(expv)) || (nbf != NULL && !json_is_number(nbf)) ||
	    (iat != NULL && !json_is_number(iat)))
		return JWT_BAD_CLAIM;
	if (iss != NULL && !json_is_string(iss))
		return JWT_BAD_CLAIM;
	if (sub != NULL && !json_is_string(sub))
		return JWT_BAD_CLAIM;
	r->sub = sub ? json_string_value(sub) : NULL;
	if (aud != NULL && !json_is_string(aud)) {
		if (!json_is_array(aud))
			return JWT_BAD_CLAIM;
		json_array_foreach(aud, i, e)
			if (!json_is_string(e))
				return JWT_BAD_CLAIM;
	}
	if ((v = c.id) != NULL && !json_is_string(v))
		return JWT_BAD_CLAIM;
	r->token_id = v ? json_string_value(v) : NULL;
	r->token_id_len = v ? json_string_length(v) : 0;

	if (expv != NULL) {
		double exp = json_number_value(expv);
		r->has_exp = 1;
		r->exp = clamp_i64(exp);
		r->valid_until = clamp_i64(exp + leeway);
		/* RFC 7519 4.1.4: valid only while now is before exp. */
		if (t >= exp + leeway)
			return JWT_EXPIRED;
	} else if (o->require_exp || o->max_lifetime_s > 0)
		return JWT_MISSING_EXP;
	if (o->max_lifetime_s > 0 && (st = check_lifetime(json_number_value(expv),
	    iat != NULL, json_number_value(iat), o, t)) != JWT_OK)
		return st;
	if (nbf != NULL && t + leeway < json_number_value(nbf))
		return JWT_NOT_YET_VALID;
	if (iat != NULL && json_number_value(iat) > t + leeway)
		return JWT_ISSUED_IN_FUTURE;

	if (o->nissuers > 0) {
		ok = 0;
		for (i = 0; iss != NULL && i < o->nissuers && !ok; i++)
			ok = strcmp(json_string_value(iss), o->issuers[i]) == 0;
		if (!ok)
			return JWT_WRONG_ISSUER;
	}
	if (o->naudiences > 0) {
		ok = 0;
		for (j = 0; aud != NULL && j < o->naudiences && !ok; j++) {
			if (json_is_string(aud))
				ok = strcmp(json_string_value(aud), o->audiences[j]) == 0;
			else
				json_array_foreach(aud, i, e)
					if (strcmp(json_string_value(e), o->audiences[j]) == 0)
						ok = 1;
		}
		if (!ok)
			return JWT_WRONG_AUDIENCE;
	}
	return collect_scopes(r, c.scope, o->scope_format);
}

/* Top-level members a token's claims may have and still be checked from
 * their text (jwtjson_scan_object reads at most 32); more are parsed. */
#define JWT_FLAT_MEMBERS	32

/* Whether the string member m holds exactly the bytes of s. The text of
 * the fast subset holds no NUL, so this is strcmp on the built string. */
static int
flat_equal(const struct jwtjson_member *m, const char *s)
{
	size_t n = strlen(s);

	return m->str_len == n && memcmp(m->str, s, n) == 0;
}

/* collect_scopes on a member of the claims' text. */
static enum jwt_status
flat_scopes(struct jwt_result *r, const struct jwtjson_member *v, enum jwt_scope_format fmt)
{
	struct jwtjson_member e;
	size_t n = 0, bytes = 0, pos = 0, i;
	char *o;

	if (v == NULL)
		return JWT_OK;
	if (v->type == JSON_ARRAY && fmt != JWT_SCOPE_STRING) {
		while (jwtjson_array_next(v->str, v->str_len, &pos, &e)) {
			if (e.type != JSON_STRING || e.str_len == 0)
				return JWT_BAD_SCOPE;
			bytes += e.str_len + 1;
			n++;
		}
		o = scopes_alloc(r, n, bytes);
		for (pos = 0, i = 0; jwtjson_array_next(v->str, v->str_len, &pos, &e); i++) {
			memcpy(o, e.str, e.str_len);
			o[e.str_len] = '\0';
			r->scopes[i] = o;
			o += e.str_len + 1;
		}
		r->nscopes = n;
		return JWT_OK;
	}
	if (v->type == JSON_STRING && fmt != JWT_SCOPE_ARRAY) {
		const char *s = v->str;
		size_t len = v->str_len;

		if (len == 0)
			return JWT_OK;
		/* RFC 6749 3.3, as collect_scopes. */
		if (s[0] == ' ' || s[len - 1] == ' ')
			return JWT_BAD_SCOPE;
		n = 1;
		for (i = 0; i < len; i++) {
			if (s[i] == ' ' && s[i + 1] == ' ')
				return JWT_BAD_SCOPE;
			if (s[i] == ' ')
				n++;
		}
		o = scopes_alloc(r, n, len + 1);
		memcpy(o, s, len);
		o[len] = '\0';
		r->nscopes = 0;
		r->scopes[r->nscopes++] = o;
		for (i = 0; i < len; i++) {
			if (o[i] == ' ') {
				o[i] = '\0';
				r->scopes[r->nscopes++] = o + i + 1;
			}
		}
		return JWT_OK;
	}
	return JWT_BAD_SCOPE;
}

/* check_claims on the members m[0..n) of the claims' text (pl, plen
 * bytes), read by jwtjson_scan_object: the same checks in the same order,
 * on the same values (the fast subset's numbers are integers, its strings
 * plain ASCII), without building the object. r keeps the text for
 * jwt_result_claims, and sub and the id claim after it. JWT_STATUS_COUNT,
 * r untouched, when the id or scope claim is a path below the top level
 * (jwt_claim_path on the object finds those). */
static enum jwt_status
check_flat(struct jwt_result *r, const struct jwt_opts *o, time_t now,
    const unsigned char *pl, size_t plen, const struct jwtjson_member *m, size_t n)
{
	const char *id_claim = o->id_claim ? o->id_claim : "jti";
	const char *scope_claim = o->scope_claim ? o->scope_claim : "scope";
	size_t idlen = strlen(id_claim), scopelen = strlen(scope_claim), pos, j, i;
	const struct jwtjson_member *expv = NULL, *nbf = NULL, *iat = NULL, *iss = NULL,
	    *sub = NULL, *aud = NULL, *id = NULL, *scope = NULL;
	double t = (double)now, leeway = (double)o->leeway_s;
	struct jwtjson_member e;
	enum jwt_status st;
	char *q;
	int ok;

	for (i = 0; i < n; i++) {
		const char *k = m[i].name;
		size_t kl = m[i].name_len;

		/* Three-byte names compared in place, the others by their
		 * first byte before a call (as find_claims; names here are
		 * a few bytes and differ early). */
		if (kl == 3) {
			const struct jwtjson_member **to =
			    k[0] == 'e' && k[1] == 'x' && k[2] == 'p' ? &expv :
			    k[0] == 'n' && k[1] == 'b' && k[2] == 'f' ? &nbf :
			    k[0] == 'i' && k[1] == 'a' && k[2] == 't' ? &iat :
			    k[0] == 'i' && k[1] == 's' && k[2] == 's' ? &iss :
			    k[0] == 's' && k[1] == 'u' && k[2] == 'b' ? &sub :
			    k[0] == 'a' && k[1] == 'u' && k[2] == 'd' ? &aud : NULL;
			if (to != NULL)
				*to = &m[i];
		}
		if (kl == idlen && (kl == 0 || (k[0] == id_claim[0] && memcmp(k, id_claim, kl) == 0)))
			id = &m[i];
		if (kl == scopelen && (kl == 0 ||
		    (k[0] == scope_claim[0] && memcmp(k, scope_claim, kl) == 0)))
			scope = &m[i];
	}
	if ((id == NULL && strchr(id_claim, '.') != NULL) ||
	    (scope == NULL && strchr(scope_claim, '.') != NULL))
		return JWT_STATUS_COUNT;

	/* Types first, as check_claims; the only numbers here are integers. */
	if ((expv != NULL && expv->type != JSON_INTEGER) ||
	    (nbf != NULL && nbf->type != JSON_INTEGER) ||
	    (iat != NULL && iat->type != JSON_INTEGER))
		return JWT_BAD_CLAIM;
	if (iss != NULL && iss->type != JSON_STRING)
		return JWT_BAD_CLAIM;
	if (sub != NULL && sub->type != JSON_STRING)
		return JWT_BAD_CLAIM;
	if (aud != NULL && aud->type != JSON_STRING) {
		if (aud->type != JSON_ARRAY)
			return JWT_BAD_CLAIM;
		for (pos = 0; jwtjson_array_next(aud->str, aud->str_len, &pos, &e); )
			if (e.type != JSON_STRING)
				return JWT_BAD_CLAIM;
	}
	if (id != NULL && id->type != JSON_STRING)
		return JWT_BAD_CLAIM;
	/* The text, then sub and the id as C strings, in one allocation. */
	r->claims_text_ = q = xmalloc(plen + 1 + (sub != NULL ? sub->str_len + 1 : 0) +
	    (id != NULL ? id->str_len + 1 : 0));
	r->claims_len_ = plen;
	memcpy(q, pl, plen);
	q[plen] = '\0';
	q += plen + 1;
	if (sub != NULL) {
		memcpy(q, sub->str, sub->str_len);
		q[sub->str_len] = '\0';
		r->sub = q;
		q += sub->str_len + 1;
	}
	if (id != NULL) {
		memcpy(q, id->str, id->str_len);
		q[id->str_len] = '\0';
		r->token_id = q;
		r->token_id_len = id->str_len;
	}

	if (expv != NULL) {
		double exp = (double)expv->integer;
		r->has_exp = 1;
		r->exp = clamp_i64(exp);
		r->valid_until = clamp_i64(exp + leeway);
		if (t >= exp + leeway)
			return JWT_EXPIRED;
	} else if (o->require_exp || o->max_lifetime_s > 0)
		return JWT_MISSING_EXP;
	if (o->max_lifetime_s > 0 && (st = check_lifetime((double)expv->integer,
	    iat != NULL, iat != NULL ? (double)iat->integer : 0.0, o, t)) != JWT_OK)
		return st;
	if (nbf != NULL && t + leeway < (double)nbf->integer)
		return JWT_NOT_YET_VALID;
	if (iat != NULL && (double)iat->integer > t + leeway)
		return JWT_ISSUED_IN_FUTURE;

	if (o->nissuers > 0) {
		ok = 0;
		for (i = 0; iss != NULL && i < o->nissuers && !ok; i++)
			ok = flat_equal(iss, o->issuers[i]);
		if (!ok)
			return JWT_WRONG_ISSUER;
	}
	if (o->naudiences > 0) {
		ok = 0;
		for (j = 0; aud != NULL && j < o->naudiences && !ok; j++) {
			if (aud->type == JSON_STRING)
				ok = flat_equal(aud, o->audiences[j]);
			else
				for (pos = 0; jwtjson_array_next(aud->str, aud->str_len, &pos, &e); )
					if (flat_equal(&e, o->audiences[j]))
						ok = 1;
		}
		if (!ok)
			return JWT_WRONG_AUDIENCE;
	}
	return flat_scopes(r, scope, o->scope_format);
}

enum jwt_status
jwt_check_payload(struct jwt_result *r, const struct jwt_opts *o, time_t now,
    const unsigned char *pl, size_t plen, enum jwt_claims_mode mode)
{
	struct jwtjson_member m[JWT_FLAT_MEMBERS];
	enum jwt_status st = JWT_STATUS_COUNT;
	size_t n;

	r->valid_until = INT64_MAX;
	/* A payload in the fast subset, judged whole by the scan (so that
	 * jwt_result_claims can never fail later), is checked from its
	 * text; any other is parsed now, as it always was. */
	if (mode == JWT_CLAIMS_LAZY && jwtjson_scan_object(pl, plen, m, JWT_FLAT_MEMBERS, &n))
		st = check_flat(r, o, now, pl, plen, m, n);
	if (st != JWT_STATUS_COUNT)
		return st;
	if ((r->claims_obj_ = jwtjson_parse_object(pl, plen)) == NULL)
		return JWT_MALFORMED;
	return check_claims(r, o, now);
}

enum jwt_status
jwt_verify(const struct keys *ks, const struct jwt_opts *o, const char *token,
    size_t len, time_t now, struct jwt_result **out)
{
	struct jwt_result *r = xcalloc(1, sizeof(*r));
	struct jws_result res;
	enum jwt_status st;

	*out = NULL;
	r->valid_until = INT64_MAX;
	memset(&res, 0, sizeof(res));
	res.want_claims = 1;
	res.r = r;
	res.now = now;
	if ((st = verify_jws(ks, o, token, len, &res)) != JWT_OK)
		goto out;
	r->kid = res.kid;
	r->alg = res.alg;
	r->key = res.key;
out:
	if (st == JWT_OK)
		*out = r;
	else
		jwt_result_free(r);
	return st;
}

enum jwt_status
jwt_claims_check(struct jwt_result *r, json_t *doc, const struct jwt_opts *o, time_t now)
{
	r->claims_obj_ = doc;
	r->valid_until = INT64_MAX;
	return check_claims(r, o, now);
}

const json_t *
jwt_result_claims(struct jwt_result *r)
{
	/* Only a result holding the text lacks the object: one built from
	 * an object (an introspection answer, shared between workers) is
	 * never written here. */
	if (r->claims_obj_ == NULL && r->claims_text_ != NULL &&
	    (r->claims_obj_ = jwtjson_parse_object((const unsigned char *)r->claims_text_,
	    r->claims_len_)) == NULL)
		fatalx("jwt: claims judged at verification no longer parse");
	return r->claims_obj_;
}

void
jwt_result_free(struct jwt_result *r)
{
	if (r == NULL)
		return;
	if (r->user_free != NULL)
		r->user_free(r->user);
	free(r->kid);
	json_decref(r->claims_obj_);
	free(r->claims_text_);
	free(r->scopes);		/* scope_buf with it */
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
