/* gate.c: see gate.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "defaults.h"
#include "gate.h"
#include "grant.h"
#include "introspect_parse.h"
#include "jsonschema.h"
#include "override.h"
#include "reportmode.h"
#include "revoke.h"
#include "token_config.h"
#include "xmalloc.h"

/* Does the Authorization value use the Bearer scheme (token or not)? */
static int
bearer_scheme(const char *auth)
{
	return auth != NULL && strncasecmp(auth, "Bearer", 6) == 0 &&
	    (auth[6] == ' ' || auth[6] == '\0');
}

int
gate_bearer_token(const char *auth, const char **token, size_t *len)
{
	const char *p;

	if (auth == NULL || strncasecmp(auth, "Bearer", 6) != 0 || auth[6] != ' ')
		return -1;
	for (p = auth + 6; *p == ' '; p++)
		;
	/* The token's alphabet (token68) is checked by token_verify before a
	 * token is first verified, not here on every request: one found in
	 * the cache is byte for byte a token that passed it. */
	*token = p;
	*len = strlen(p);
	return *len > 0 ? 0 : -1;
}

static void
deny(struct gate_decision *d, int status, const char *type, const char *reason,
    const char *message)
{
	d->allow = 0;
	d->status = status;
	d->error_type = type;
	d->reason = reason;
	snprintf(d->message, sizeof(d->message), "%s", message);
}

static void
free_scopeset(void *p)
{
	free(p);
}

/* The token's scopes as a bitset of this policy, memoized on the cached
 * verification result so a repeated token costs no string work at all. */
static const struct policy_scopeset *
token_scopes(const struct policy *pol, struct jwt_result *r)
{
	if (r->user == NULL) {
		struct policy_scopeset *s = xmalloc(sizeof(*s));
		policy_scopeset_from_names(pol, r->scopes, r->nscopes, s);
		r->user = s;
		r->user_free = free_scopeset;
	}
	return r->user;
}

/* application/json, whose only parameter may be charset=utf-8 (RFC 8259
 * 8.1: JSON between systems is UTF-8). The body is checked as UTF-8: an
 * upstream honouring another charset (Express's body-parser takes any
 * "utf-*" one, UTF-7 included, where "+ACI-" is a quote) would read other
 * members, a second "scope" among them, than the ones checked. */
static int
is_json_media_type(const char *ct)
{
	static const char json[] = "application/json", charset[] = "charset";

	if (ct == NULL || strncasecmp(ct, json, sizeof(json) - 1) != 0)
		return 0;
	ct += sizeof(json) - 1;
	for (;;) {
		while (*ct == ' ' || *ct == '\t')
			ct++;
		if (*ct == '\0')
			return 1;
		if (*ct++ != ';')
			return 0;
		while (*ct == ' ' || *ct == '\t')
			ct++;
		if (*ct == ';' || *ct == '\0')
			continue;	/* an empty parameter */
		if (strncasecmp(ct, charset, sizeof(charset) - 1) != 0 ||
		    ct[sizeof(charset) - 1] != '=')
			return 0;
		ct += sizeof(charset);
		if (strncasecmp(ct, "utf-8", 5) == 0)
			ct += 5;
		else if (strncasecmp(ct, "\"utf-8\"", 7) == 0)
			ct += 7;
		else
			return 0;
	}
}

/* Step 7 of the pipeline, for an allowed action: the body must be JSON
 * that satisfies the action's schema, and a token-creating action (schema
 * or not) may not grant more than the caller holds, even by leaving its
 * scope member out. Returns 0 to go on. */
static int
check_body(const struct cfg *cf, const struct gate_request *rq, struct gate_decision *d)
{
	const struct policy_action *a = d->action;
	struct grant_caller caller = { d->has_caller ? &d->caller : NULL,
	    (const char *const *)d->caller_names, d->ncaller_names };
	const struct jschema *js = cf->body_schema ? cf->body_schema[a->index] : NULL;
	struct jschema_error verr;
	json_error_t jerr;
	json_t *body;
	int rc = -1, schema_failed = 0;

	if (js == NULL && !a->creates_token)
		return 0;
	/* The bytes checked must be the JSON the upstream reads: a coded
	 * body (gzip, deflate, br: body-parser inflates them) is something
	 * else to it. */
	if (rq->ncontent_encoding > 1 || (rq->content_encoding != NULL &&
	    strcasecmp(rq->content_encoding, "identity") != 0)) {
		deny(d, 415, "UnsupportedMediaType", "content_encoding",
		    "A checked JSON body may not carry a Content-Encoding");
		return -1;
	}
	if (!is_json_media_type(rq->content_type)) {
		deny(d, 400, "BadRequest", "content_type",
		    "Content-Type must be application/json (charset utf-8, if any)");
		return -1;
	}
	/* Duplicate keys are refused: the upstream's parser might keep the
	 * other one. */
	body = json_loadb(rq->body ? rq->body : "", rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL) {
		deny(d, 400, "BadRequest", "body_json", "");
		snprintf(d->message, sizeof(d->message), "Malformed JSON body: %d:%d: %s",
		    jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (js != NULL && jschema_validate(js, body, &verr) != 0) {
		deny(d, 400, "BadRequest", "body_schema", "");
		snprintf(d->message, sizeof(d->message), "Request body invalid at %.100s: %.31s: %.60s",
		    verr.instance_ptr[0] ? verr.instance_ptr : "/", verr.keyword, verr.message);
		/* Report mode forwards a body that fails the schema: the
		 * scopes to grant must still be read as the upstream reads
		 * them (token_scope is never relaxed), so the grant check
		 * runs too; the schema stays the refusal reported. */
		schema_failed = 1;
		if (!a->creates_token || !reportmode_is_report(cf, a))
			goto out;
	}
	if (a->creates_token && caller.set != NULL && cf->grants != NULL) {
		char msg[200];

		switch (grantmap_check(cf->grants, &caller, a, body, msg, sizeof(msg))) {
		case GRANT_OK:
			break;
		case GRANT_BAD_REQUEST:
			deny(d, 400, "BadRequest", "token_scope", msg);
			goto out;
		case GRANT_ESCALATION:
			if (schema_failed)
				goto out;	/* reported as the schema's */
			deny(d, 403, "Forbidden", "scope_escalation", "");
			snprintf(d->message, sizeof(d->message),
			    "Cannot grant scopes beyond your own: %s", msg);
			d->www_authenticate = "Bearer error=\"insufficient_scope\"";
			goto out;
		}
	}
	rc = schema_failed ? -1 : 0;
out:
	json_decref(body);
	return rc;
}

/* tokens.require_id: NULL when the id claim can be revoked (present, and
 * what the revocation store can hold: revoke_id_canon), else the reason
 * for the log. */
static const char *
token_id_refusal(const struct token_config *tc, const struct jwt_result *r)
{
	char canon[SG_REVOKE_MAX_ID_BYTES];

	if (r->token_id == NULL)
		return "token_id_missing";
	/* A NUL inside the claim would cut the id short. */
	if (r->token_id_len != strlen(r->token_id) ||
	    revoke_id_canon(r->token_id, strlen(r->token_id), canon) == 0)
		return "token_id_invalid";
	return NULL;
}

/* For a token-creating action, keep the caller's scope names (copies):
 * a scope the policy does not know is grantable only by its holder. */
static void
keep_caller_names(struct gate_decision *d, const char *const *names, size_t n)
{
	if (d->match.status != POLICY_MATCH_OK || !d->match.action->creates_token || n == 0)
		return;
	d->caller_names = xcalloc(n, sizeof(*d->caller_names));
	for (size_t i = 0; i < n; i++)
		d->caller_names[i] = xstrdup(names[i]);
	d->ncaller_names = n;
}

void
gate_decide_head(const struct cfg *cf, struct tokencache *cache,
    const struct gate_request *rq, struct gate_decision *d)
{
	enum canon_status cs;
	enum authz_token tok = AUTHZ_TOKEN_NONE;
	const struct policy_scopeset *scopes = NULL;
	struct policy_scopeset assumed, introspected;
	struct authz_peer peer;
	struct authz_decision ad;
	enum policy_method m;

	memset(d, 0, sizeof(*d));
	d->jwt = JWT_OK;
	cs = canon_target(rq->target, rq->target_len, &d->target);
	if (cs != CANON_OK) {
		deny(d, canon_status_http(cs), canon_status_http(cs) == 414 ?
		    "URITooLong" : "BadRequest", canon_status_name(cs),
		    canon_status_message(cs));
		return;
	}
	if (rq->nauthorization > 1) {
		deny(d, 400, "BadRequest", "duplicate_authorization",
		    "More than one Authorization header");
		return;
	}
	if (cf->policy == NULL) {
		/* Passthrough mode: the operator configured no policy. */
		d->allow = 1;
		d->reason = "no policy";
		return;
	}
	m = policy_method_parse(rq->method, strlen(rq->method));
	policy_match(cf->policy, m, d->target.segs, d->target.nsegs, &d->match);
	/* A method override in the query would let a framework upstream serve
	 * another route than the one matched: refused unless the action lets
	 * it through, before any token work. */
	if (d->match.status == POLICY_MATCH_OK && !d->match.action->allow_query_method &&
	    override_query_has_method(d->target.query, d->target.query_len)) {
		d->action = d->match.action;
		deny(d, 400, "BadRequest", "method_override",
		    "The query may not carry _method (a method override)");
		return;
	}
	/* Frameworks that merge the query into the body would read the scopes
	 * to grant from it, where no grant check looks. */
	if (d->match.status == POLICY_MATCH_OK && d->match.action->creates_token &&
	    override_query_has_name(d->target.query, d->target.query_len,
	    d->match.action->token_scope_field)) {
		d->action = d->match.action;
		deny(d, 400, "BadRequest", "token_scope", "");
		snprintf(d->message, sizeof(d->message), "The query may not name \"%s\": "
		    "the scopes to grant go in the body", d->match.action->token_scope_field);
		return;
	}

	/* Only verify when the decision depends on it: a matched, protected
	 * action. 404/405 and public routes never cost a signature. */
	if (d->match.status == POLICY_MATCH_OK && !d->match.action->public) {
		const char *t;
		size_t tlen;

		d->token_checked = 1;
		if (rq->assume_token) {
			policy_scopeset_from_names(cf->policy, rq->assume_scopes, rq->nassume, &assumed);
			scopes = &assumed;
			d->caller = assumed;
			d->has_caller = 1;
			keep_caller_names(d, rq->assume_scopes, rq->nassume);
			tok = AUTHZ_TOKEN_VALID;
		} else if (rq->authorization == NULL) {
			tok = AUTHZ_TOKEN_NONE;
		} else if (gate_bearer_token(rq->authorization, &t, &tlen) != 0) {
			tok = AUTHZ_TOKEN_INVALID;
			d->jwt = JWT_MALFORMED;
		} else if (cf->tokens == NULL) {
			tok = AUTHZ_TOKEN_INVALID;
			d->jwt = JWT_UNKNOWN_KID;
		} else if (cf->tokens->introspection != NULL && !rq->introspected &&
		    introspect_wants(cf->tokens->introspection, t, tlen)) {
			d->need_introspection = 1;
			d->action = d->match.action;
			deny(d, 503, "ServiceUnavailable", "introspection_unavailable",
			    "Service Unavailable: the token cannot be checked now");
			return;
		} else {
			struct jwt_result *r = NULL;
			struct tokencache_stats before, after;
			/* An opaque token's claims come from the endpoint's
			 * answer, shared by every worker: read-only here. */
			int from_endpoint = cf->tokens->introspection != NULL && rq->introspected &&
			    introspect_wants(cf->tokens->introspection, t, tlen);

			if (from_endpoint) {
				d->jwt = rq->introspect_status;
				r = d->jwt == JWT_OK ? (struct jwt_result *)rq->introspect_result : NULL;
				if (r == NULL && d->jwt == JWT_OK)
					d->jwt = JWT_INTERNAL;
				/* Never past exp, whatever the cache held. */
				if (d->jwt == JWT_OK && r->has_exp && (int64_t)rq->now >= r->valid_until)
					d->jwt = JWT_EXPIRED;
			} else {
				if (cache != NULL)
					tokencache_get_stats(cache, &before);
				d->jwt = token_verify(cf->tokens, cache, t, tlen, rq->now, &r);
				if (cache != NULL) {
					tokencache_get_stats(cache, &after);
					d->cache_hit = after.hits > before.hits;
				}
			}
			d->jwt_verified = 1;
			if (d->jwt == JWT_OK && cf->tokens->require_id > 0)
				d->id_refused = token_id_refusal(cf->tokens, r);
			if (d->jwt == JWT_OK && (d->id_refused != NULL || (r->token_id != NULL &&
			    rq->revocations != NULL && revoke_is_revoked(rq->revocations,
			    r->token_id, strlen(r->token_id))))) {
				/* Checked on every request, after the cache: a
				 * revocation takes effect on the very next one. */
				d->revoked = d->id_refused == NULL;
				tok = AUTHZ_TOKEN_INVALID;
				if (cache == NULL && !from_endpoint)
					jwt_result_free(r);
			} else if (d->jwt == JWT_OK) {
				if (cache == NULL && !from_endpoint)
					d->owned = r;
				tok = AUTHZ_TOKEN_VALID;
				if (from_endpoint) {
					policy_scopeset_from_names(cf->policy,
					    (const char *const *)r->scopes, r->nscopes, &introspected);
					scopes = &introspected;
				} else
					scopes = token_scopes(cf->policy, r);
				/* A copy: the cache entry may be gone by the time
				 * the body (token creation) is checked. */
				d->caller = *scopes;
				d->has_caller = 1;
				keep_caller_names(d, (const char *const *)r->scopes, r->nscopes);
				d->subject = r->sub;
				d->token_id = r->token_id;
				d->claims_from_ = r;
			} else
				tok = AUTHZ_TOKEN_INVALID;
		}
	}

	/* Bindings to mtls.* read the verified client certificate, never a
	 * token claim of that name. */
	peer.subject = rq->tls_subject ? rq->tls_subject : "";
	peer.fingerprint = rq->tls_fingerprint;
	/* The claims object only when a binding reads it: built then, from
	 * the verified payload (jwt_result_claims). Most actions have no
	 * binding at all: told without a call. */
	authz_decide(&d->match, tok, scopes, d->claims_from_ != NULL &&
	    d->match.action->nbinds > 0 && authz_reads_claims(&d->match) ?
	    gate_decision_claims(d) : NULL,
	    rq->tls_fingerprint != NULL ? &peer : NULL, &ad);
	d->action = d->match.status == POLICY_MATCH_OK ? d->match.action : NULL;
	d->allow = ad.allow;
	d->status = ad.status;
	d->error_type = ad.error_type;
	d->reason = ad.reason;
	d->scope = ad.scope;
	/* As snprintf "%s" would (cut to fit), without its ~500 instructions. */
	{
		size_t n = strnlen(ad.message, sizeof(ad.message) < sizeof(d->message) ?
		    sizeof(ad.message) : sizeof(d->message) - 1);

		memcpy(d->message, ad.message, n);
		d->message[n] = '\0';
	}
	/* The log says precisely why a token failed; the client only learns
	 * that it did. */
	if (tok == AUTHZ_TOKEN_INVALID && !ad.allow && ad.status == 401)
		d->reason = d->revoked ? "revoked" : d->id_refused != NULL ? d->id_refused :
		    jwt_status_str(d->jwt);
	/* RFC 6750 3.1: a request without credentials (no Authorization, or
	 * another scheme than Bearer) gets the bare challenge; the error code
	 * is for credentials that were sent and failed. */
	if (ad.status == 401 && (tok == AUTHZ_TOKEN_NONE || !bearer_scheme(rq->authorization)))
		d->www_authenticate = "Bearer realm=\"" SG_AUTH_REALM "\"";
	else if (ad.bearer_error != NULL)
		d->www_authenticate = strcmp(ad.bearer_error, "insufficient_scope") == 0 ?
		    "Bearer error=\"insufficient_scope\"" : "Bearer error=\"invalid_token\"";
	if (ad.status == 405)
		policy_allow_header(ad.allowed_methods, d->allow_header, sizeof(d->allow_header));
	/* The claims served the bindings; the caller may still key rate
	 * limits by them, at once, and must clear them after (the token's
	 * claims may leave the cache before the body is read). */
	reportmode_apply(cf, d);
}

int
gate_decide_body(const struct cfg *cf, const struct gate_request *rq, struct gate_decision *d)
{
	if (d->allow && d->action != NULL && !rq->skip_body && check_body(cf, rq, d) != 0)
		reportmode_apply(cf, d);
	return d->allow;
}

int
gate_needs_body(const struct cfg *cf, const struct gate_decision *d)
{
	return d->action != NULL && (d->action->creates_token ||
	    (cf->body_schema != NULL && cf->body_schema[d->action->index] != NULL));
}

void
gate_decide(const struct cfg *cf, struct tokencache *cache,
    const struct gate_request *rq, struct gate_decision *d)
{
	gate_decide_head(cf, cache, rq, d);
	(void)gate_decide_body(cf, rq, d);
}

const json_t *
gate_decision_claims(struct gate_decision *d)
{
	return d->claims_from_ != NULL ? jwt_result_claims(d->claims_from_) : NULL;
}

void
gate_decision_release(struct gate_decision *d)
{
	for (size_t i = 0; i < d->ncaller_names; i++)
		free(d->caller_names[i]);
	free(d->caller_names);
	d->caller_names = NULL;
	d->ncaller_names = 0;
	if (d->owned != NULL) {
		jwt_result_free(d->owned);
		d->owned = NULL;
	}
}
