/* cors_http.c: see cors_http.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "canon.h"
#include "cfg.h"
#include "cors.h"
#include "cors_http.h"
#include "gate.h"
#include "guard.h"
#include "headers.h"
#include "metrics.h"
#include "policy.h"
#include "proxy.h"

/* The only value of the field name, or NULL when absent; *n counts the
 * fields (two Origins are ambiguous and never allowed). */
static const char *
field(const struct evkeyvalq *h, const char *name, int *n)
{
	const struct evkeyval *kv;
	const char *v = NULL;

	*n = 0;
	TAILQ_FOREACH(kv, h, next)
		if (strcasecmp(kv->key, name) == 0) {
			v = kv->value;
			(*n)++;
		}
	return *n == 1 ? v : NULL;
}

static int
is_preflight(struct evhttp_request *req)
{
	int n;

	return evhttp_request_get_command(req) == EVHTTP_REQ_OPTIONS &&
	    (field(evhttp_request_get_input_headers(req), "Access-Control-Request-Method", &n),
	    n > 0) && (field(evhttp_request_get_input_headers(req), "Origin", &n), n > 0);
}

static void
refuse(struct proxy_req *pr, int status, const char *type, const char *reason,
    const char *message)
{
	pr->decision = "deny";
	pr->reason = reason;
	proxy_reply_error(pr, status, type, message, NULL);
}

int
cors_http_preflight(struct proxy_req *pr)
{
	const struct cfg *cf = pr->cf;
	struct evhttp_request *req = pr->req;
	const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *uri = evhttp_request_get_uri(req), *origin, *acrm, *acrh;
	const struct cors_rule *r;
	struct canon_target t;
	struct policy_match m;
	enum canon_status cs;
	enum cors_preflight p;
	int norigin, nacrm, nacrh;
	char buf[64];

	if (cf->cors == NULL || cf->policy == NULL || !is_preflight(req))
		return 0;
	origin = field(in, "Origin", &norigin);
	acrm = field(in, "Access-Control-Request-Method", &nacrm);
	acrh = field(in, "Access-Control-Request-Headers", &nacrh);
	/* The route is the one the real request will take: the target as
	 * the gate reads it, with the method the browser asks about. */
	cs = canon_target(uri, strlen(uri), &t);
	if (cs != CANON_OK) {
		refuse(pr, canon_status_http(cs), canon_status_http(cs) == 414 ? "URITooLong" :
		    "BadRequest", canon_status_name(cs), canon_status_message(cs));
		return 1;
	}
	policy_match(cf->policy, acrm != NULL ? policy_method_parse(acrm, strlen(acrm)) :
	    POLICY_M_OTHER, t.segs, t.nsegs, &m);
	if (m.status == POLICY_MATCH_METHOD_NOT_ALLOWED) {
		char allow[80];
		policy_allow_header(m.allowed, allow, sizeof(allow));
		evhttp_add_header(out, "Allow", allow);
		refuse(pr, 405, "MethodNotAllowed", "method_not_allowed", "Method not allowed");
		return 1;
	}
	if (m.status != POLICY_MATCH_OK) {
		refuse(pr, 404, "NotFound", "no_route", "No such resource");
		return 1;
	}
	pr->action_idx = m.action->index;
	pr->action = m.action->name;
	if ((r = cors_rule_for(cf->cors, m.action->index)) == NULL) {
		refuse(pr, 403, "Forbidden", "cors_not_enabled",
		    "Cross-origin requests are not enabled for this resource");
		return 1;
	}
	p = norigin != 1 ? CORS_PREFLIGHT_ORIGIN : nacrh > 1 ? CORS_PREFLIGHT_HEADERS :
	    cors_preflight_check(r, origin, strlen(origin), (unsigned)m.action->method, acrh);
	if (p != CORS_PREFLIGHT_OK) {
		refuse(pr, 403, "Forbidden", cors_preflight_reason(p),
		    p == CORS_PREFLIGHT_ORIGIN ? "Origin not allowed" :
		    p == CORS_PREFLIGHT_METHOD ? "Method not allowed for cross-origin requests" :
		    "A requested header is not allowed for cross-origin requests");
		return 1;
	}
	evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
	evhttp_add_header(out, "Access-Control-Allow-Methods", acrm);
	if (r->allow_headers != NULL)
		evhttp_add_header(out, "Access-Control-Allow-Headers", r->allow_headers);
	if (r->credentials)
		evhttp_add_header(out, "Access-Control-Allow-Credentials", "true");
	snprintf(buf, sizeof(buf), "%lld", (long long)r->max_age_s);
	evhttp_add_header(out, "Access-Control-Max-Age", buf);
	evhttp_add_header(out, "Vary", "Origin, Access-Control-Request-Method, "
	    "Access-Control-Request-Headers");
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_add_header(out, "X-Request-Id", pr->request_id);
	/* A preflight has no body; one that came anyway is not read, so the
	 * bytes after it cannot be trusted to start the next request. */
	if (pr->cc != NULL && pr->body_announced && !pr->body_read) {
		evhttp_add_header(out, "Connection", "close");
		guard_close(pr->cc);
	}
	pr->decision = "allow";
	pr->reason = cors_preflight_reason(p);
	pr->status = 204;
	pr->reply_started = 1;
	evhttp_send_reply(req, 204, "No Content", NULL);
	return 1;
}

void
cors_http_reply_headers(struct proxy_req *pr, struct evkeyvalq *out)
{
	static const char *const ours[] = {
		"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
		"Access-Control-Expose-Headers", "Access-Control-Allow-Methods",
		"Access-Control-Allow-Headers", "Access-Control-Max-Age",
	};
	const struct cors_rule *r;
	const char *origin;
	int n;

	if (pr->cf == NULL || pr->cf->cors == NULL || pr->action_idx == METRICS_ACTION_NONE ||
	    (r = cors_rule_for(pr->cf->cors, pr->action_idx)) == NULL || is_preflight(pr->req))
		return;
	/* The gateway answers for CORS on this action: an upstream's own
	 * fields would contradict it (two Allow-Origin values fail in every
	 * browser, a "*" from it would open what the rule closes). */
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		while (evhttp_remove_header(out, ours[i]) == 0)
			;
	/* The answer depends on Origin whether or not this one is allowed:
	 * a cache must not give one origin's answer to another. */
	evhttp_add_header(out, "Vary", "Origin");
	origin = field(evhttp_request_get_input_headers(pr->req), "Origin", &n);
	if (origin == NULL || !cors_origin_allowed(r, origin, strlen(origin)))
		return;
	/* A method the rule does not list gets no Allow-Origin either: a
	 * simple request (GET, HEAD, POST) is sent without a preflight, and
	 * its answer must not become readable to the page the preflight
	 * would have refused. The action's method, as the preflight checks
	 * (HEAD served as GET's action counts as GET). */
	if (r->methods != 0 && (pr->gd == NULL || pr->gd->action == NULL ||
	    !(r->methods & (1u << pr->gd->action->method))))
		return;
	evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
	if (r->credentials)
		evhttp_add_header(out, "Access-Control-Allow-Credentials", "true");
	if (r->expose_headers != NULL)
		evhttp_add_header(out, "Access-Control-Expose-Headers", r->expose_headers);
}
