/* authz.c: see authz.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "authz.h"

static void
deny(struct authz_decision *d, int status, const char *type,
    const char *reason, const char *bearer_error)
{
	d->allow = 0;
	d->status = status;
	d->error_type = type;
	d->reason = reason;
	d->bearer_error = bearer_error;
}

static int
same(const json_t *v, const struct policy_param_value *pv)
{
	return json_is_string(v) && json_string_length(v) == pv->len &&
	    memcmp(json_string_value(v), pv->ptr, pv->len) == 0;
}

/* Does the binding hold for the parameter value? A claim binding reads
 * the token's claim at its dotted path; "member" wants an array claim with
 * the value among its strings. An mtls binding reads the verified client
 * certificate only, whatever the token claims. */
static int
binding_holds(const struct policy_bind *b, const struct policy_param_value *v,
    const json_t *claims, const struct authz_peer *peer)
{
	const json_t *cur = claims;
	const char *cert;
	size_t i;
	json_t *item;

	if (b->source != POLICY_BIND_CLAIM) {
		if (peer == NULL)
			return 0;
		cert = b->source == POLICY_BIND_MTLS_SUBJECT ? peer->subject : peer->fingerprint;
		return cert != NULL && strlen(cert) == v->len && memcmp(cert, v->ptr, v->len) == 0;
	}
	for (size_t k = 0; k < b->claim_depth && cur != NULL; k++)
		cur = json_is_object(cur) ? json_object_get(cur, b->claim_path[k]) : NULL;
	if (b->match == POLICY_BIND_EQUAL)
		return same(cur, v);
	json_array_foreach(cur, i, item)
		if (same(item, v))
			return 1;
	return 0;
}

int
authz_reads_claims(const struct policy_match *m)
{
	const struct policy_action *a = m->status == POLICY_MATCH_OK ? m->action : NULL;

	for (size_t i = 0; a != NULL && i < a->nbinds; i++)
		if (a->binds[i].source == POLICY_BIND_CLAIM)
			return 1;
	return 0;
}

void
authz_decide(const struct policy_match *m, enum authz_token token,
    const struct policy_scopeset *scopes, const json_t *claims,
    const struct authz_peer *peer, struct authz_decision *out)
{
	int all_of = -1;

	const struct policy_action *a = m->action;

	memset(out, 0, sizeof(*out));
	if (m->status == POLICY_MATCH_METHOD_NOT_ALLOWED) {
		deny(out, 405, "MethodNotAllowed", "method_not_allowed", NULL);
		out->allowed_methods = m->allowed;
		snprintf(out->message, sizeof(out->message), "Method not allowed");
		return;
	}
	if (m->status != POLICY_MATCH_OK || a == NULL) {
		deny(out, 404, "NotFound", "no_route", NULL);
		snprintf(out->message, sizeof(out->message), "No such resource");
		return;
	}
	if (a->public) {
		out->allow = 1;
		out->reason = "public";
		return;
	}
	if (token != AUTHZ_TOKEN_VALID || scopes == NULL) {
		int none = token == AUTHZ_TOKEN_NONE;
		deny(out, 401, "Unauthorized", none ? "no_token" : "invalid_token",
		    "invalid_token");
		snprintf(out->message, sizeof(out->message), "%s",
		    none ? "A bearer token is required" : "Invalid or expired token");
		return;
	}
	if (m->bad_param >= 0 && (size_t)m->bad_param < a->nparams) {
		size_t i = (size_t)m->bad_param;
		deny(out, 400, "BadRequest", "bad_param", NULL);
		snprintf(out->message, sizeof(out->message), "Invalid %s%s",
		    a->param_names[i], a->param_types[i] == POLICY_PARAM_OBJECTID ?
		    ": must be a 24-character hex id" :
		    a->param_types[i] == POLICY_PARAM_INTEGER ? ": must be an integer" :
		    a->param_types[i] == POLICY_PARAM_UUID ? ": must be a UUID" : "");
		return;
	}
	if (!policy_scopeset_intersects(&a->allow, scopes) &&
	    (all_of = policy_all_of_held(a, scopes)) < 0) {
		deny(out, 403, "Forbidden", "insufficient_scope", "insufficient_scope");
		snprintf(out->message, sizeof(out->message),
		    "Token scopes do not allow %s", a->name);
		return;
	}
	if (all_of >= 0)
		out->scope = a->all_of_names[all_of];
	for (size_t i = 0; i < a->nscopes; i++)
		if (policy_scopeset_has(scopes, a->scope_ids[i])) {
			out->scope = a->scopes[i];
			break;
		}
	for (size_t i = 0; i < a->nbinds; i++) {
		const struct policy_bind *b = &a->binds[i];
		if (b->param >= m->nparams || !binding_holds(b, &m->params[b->param], claims, peer)) {
			deny(out, 403, "Forbidden", "binding_mismatch", NULL);
			snprintf(out->message, sizeof(out->message),
			    "Token is not valid for this %s", b->param_name);
			return;
		}
	}
	out->allow = 1;
	out->reason = "scope";
}
