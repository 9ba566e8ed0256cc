/* revoke_api.c: the two ways token ids reach the revocation store from
 * outside: operators (the admin listener's /revocations, as pure
 * functions returning a status and a JSON body) and the protected API
 * itself (policy lifecycle effects confirmed by a 2xx answer). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "policy.h"
#include "revoke.h"

/* Percent-decode raw into out (cap bytes). 0, or -1 on a bad escape or
 * when it does not fit. */
static int
pct_decode(const char *raw, size_t len, char *out, size_t cap, size_t *outlen)
{
	static const char hex[] = "0123456789abcdef0123456789ABCDEF";
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (c == '%') {
			const char *h, *l;
			if (i + 2 >= len || (h = memchr(hex, raw[i + 1], 32)) == NULL ||
			    (l = memchr(hex, raw[i + 2], 32)) == NULL)
				return -1;
			c = (unsigned char)((((h - hex) & 15) << 4) | ((l - hex) & 15));
			i += 2;
		}
		if (n == cap)
			return -1;
		out[n++] = (char)c;
	}
	*outlen = n;
	return 0;
}

/* A Losant-shaped error body. */
static json_t *
error_body(const char *type, const char *message)
{
	json_t *o = json_pack("{s:s, s:s}", "type", type, "message", message);

	if (o == NULL)
		fatalx("revocations: out of memory");
	return o;
}

/* The reply for a failed write. */
static int
result_reply(enum revoke_result r, json_t **reply)
{
	switch (r) {
	case REVOKE_OK:
		break;
	case REVOKE_INVALID_ID: {
		char msg[128];
		snprintf(msg, sizeof(msg), "The token id must be 1 to %d printable ASCII "
		    "characters without spaces", SG_REVOKE_MAX_ID_BYTES);
		*reply = error_body("BadRequest", msg);
		return 400;
	}
	case REVOKE_FORBIDDEN:
	case REVOKE_FULL:
		break;
	case REVOKE_NOT_FOUND:
		*reply = error_body("NotFound", "This token id is not revoked");
		return 404;
	case REVOKE_READONLY:
		*reply = error_body("Conflict",
		    "This token id is revoked by the ids file and cannot be reinstated here");
		return 409;
	case REVOKE_IO:
		*reply = error_body("InternalError", "The revocation journal could not be written");
		return 500;
	}
	*reply = error_body("InternalError", "Unexpected result");
	return 500;
}

int
revoke_admin_post(struct revoke_store *st, const char *body, size_t len, json_t **reply)
{
	json_error_t jerr;
	json_t *doc = NULL, *id, *exp;
	const char *key;
	json_t *v;
	int64_t expires_at = 0;
	enum revoke_result r;
	char canon[SG_REVOKE_MAX_ID_BYTES];
	size_t n;
	int status = 400;

	*reply = NULL;
	doc = json_loadb(body != NULL ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL || !json_is_object(doc)) {
		*reply = error_body("BadRequest", "The body must be a JSON object");
		goto out;
	}
	json_object_foreach(doc, key, v) {
		if (strcmp(key, "id") != 0 && strcmp(key, "expires_at") != 0) {
			*reply = error_body("BadRequest", "Unknown member (allowed: id, expires_at)");
			goto out;
		}
	}
	id = json_object_get(doc, "id");
	exp = json_object_get(doc, "expires_at");
	if (!json_is_string(id)) {
		*reply = error_body("BadRequest", "\"id\" must be a string");
		goto out;
	}
	if (exp != NULL) {
		if (!json_is_integer(exp) || json_integer_value(exp) <= 0) {
			*reply = error_body("BadRequest",
			    "\"expires_at\" must be a positive integer (unix time)");
			goto out;
		}
		expires_at = json_integer_value(exp);
	}
	r = revoke_add(st, json_string_value(id), json_string_length(id), expires_at);
	if (r != REVOKE_OK) {
		status = result_reply(r, reply);
		goto out;
	}
	n = revoke_id_canon(json_string_value(id), json_string_length(id), canon);
	log_info("revocations: %.*s revoked by an operator", (int)n, canon);
	/* The id as stored: the caller sees which spelling counts. */
	*reply = json_pack("{s:s%, s:b}", "id", canon, n, "revoked", 1);
	if (*reply == NULL)
		fatalx("revocations: out of memory");
	status = 201;
out:
	json_decref(doc);
	return status;
}

int
revoke_admin_delete(struct revoke_store *st, const char *raw, size_t len, json_t **reply)
{
	char id[SG_REVOKE_MAX_ID_BYTES];
	size_t n = 0;
	enum revoke_result r;

	*reply = NULL;
	if (pct_decode(raw, len, id, sizeof(id), &n) != 0)
		return result_reply(REVOKE_INVALID_ID, reply);
	if ((r = revoke_remove(st, id, n)) != REVOKE_OK)
		return result_reply(r, reply);
	n = revoke_id_canon(id, n, id);
	log_info("revocations: %.*s reinstated by an operator", (int)n, id);
	return 204;
}

int
revoke_admin_list(const struct revoke_store *st, json_t **reply)
{
	*reply = revoke_list_json(st);
	return 200;
}

/* The "status" member of a JSON object body: REVOKE_OP_REVOKE for
 * "inactive", REVOKE_OP_REINSTATE for "active", else REVOKE_OP_NONE. */
static enum revoke_op
patch_status_op(const char *body, size_t len)
{
	json_error_t jerr;
	json_t *doc, *s;
	enum revoke_op op = REVOKE_OP_NONE;

	if (body == NULL || len == 0)
		return REVOKE_OP_NONE;
	/* Duplicates refused: with two "status" members the upstream and we
	 * might not agree on which one counts. */
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return REVOKE_OP_NONE;
	s = json_object_get(doc, "status");
	if (json_is_string(s)) {
		if (strcmp(json_string_value(s), "inactive") == 0)
			op = REVOKE_OP_REVOKE;
		else if (strcmp(json_string_value(s), "active") == 0)
			op = REVOKE_OP_REINSTATE;
	}
	json_decref(doc);
	return op;
}

enum revoke_op
revoke_learn_plan(const struct policy_match *m, const char *body, size_t body_len,
    struct revoke_intent *out)
{
	const struct policy_action *a;

	memset(out, 0, sizeof(*out));
	out->op = REVOKE_OP_NONE;
	if (m == NULL || m->status != POLICY_MATCH_OK || (a = m->action) == NULL)
		return REVOKE_OP_NONE;
	for (size_t i = 0; i < a->neffects; i++) {
		const struct policy_effect *e = &a->effects[i];
		enum revoke_op op;
		size_t n;

		if (e->param >= m->nparams)
			continue;
		op = e->on == POLICY_EFFECT_DELETE ? REVOKE_OP_REVOKE :
		    patch_status_op(body, body_len);
		if (op == REVOKE_OP_NONE)
			continue;
		if (pct_decode(m->params[e->param].ptr, m->params[e->param].len, out->id,
		    sizeof(out->id) - 1, &n) != 0 || (n = revoke_id_canon(out->id, n, out->id)) == 0)
			continue;
		out->id[n] = '\0';
		out->len = n;
		out->op = op;
		out->source = e->on == POLICY_EFFECT_DELETE ? REVOKE_SRC_DELETE : REVOKE_SRC_STATUS;
		break;
	}
	return out->op;
}

enum revoke_result
revoke_learn_apply(struct revoke_store *st, const struct revoke_intent *in,
    int upstream_status)
{
	enum revoke_result r = REVOKE_OK;

	if (st == NULL || in == NULL || in->op == REVOKE_OP_NONE ||
	    upstream_status < 200 || upstream_status > 299)
		return REVOKE_OK;
	if (in->op == REVOKE_OP_REVOKE) {
		/* Known already (a DELETE repeated, a benchmark's loop): it
		 * costs a lookup, never a journal write or a log line. */
		if (revoke_holds(st, in->id, in->len, in->source))
			return REVOKE_OK;
		r = revoke_add_src(st, in->id, in->len, 0, in->source);
		log_info("revocations: %s revoked (confirmed by the upstream, %d)%s", in->id,
		    upstream_status, r == REVOKE_OK ? "" : ": journal write FAILED");
	} else {
		r = revoke_remove_src(st, in->id, in->len, in->source);
		if (r == REVOKE_NOT_FOUND)
			r = REVOKE_OK;
		else if (r == REVOKE_FORBIDDEN || r == REVOKE_READONLY) {
			/* The upstream reactivated it; the gateway keeps
			 * refusing what an operator or a deletion revoked. */
			log_warnx("revocations: %s stays revoked: reactivated through the API "
			    "(%d) but %s; only the admin API reinstates it", in->id,
			    upstream_status, revoke_result_str(r));
			r = REVOKE_OK;
		} else
			log_info("revocations: %s reinstated (confirmed by the upstream, %d)%s",
			    in->id, upstream_status, r == REVOKE_OK ? "" : ": FAILED");
	}
	return r;
}
