/* reportmode.c: see reportmode.h. */
#include "config.h"

#include <string.h>

#include "cfg.h"
#include "gate.h"
#include "reportmode.h"

/*
 * Report mode is for rolling out who may do what, not for switching the
 * gateway off. So it relaxes exactly the rules a new policy may have got
 * wrong about an authenticated caller: parameter types, scopes, bindings,
 * the body schema and token-creation escalation. It never relaxes:
 *  - authentication (no_token, invalid_token, expired, revoked, ...): an
 *    unauthenticated request is refused in every mode, or report mode
 *    would open a protected API to anyone during the rollout;
 *  - routing (no_route, method_not_allowed): without an action there is
 *    no rule to report against, and forwarding would open every path the
 *    upstream serves, the unlisted ones included;
 *  - what keeps the gateway and the upstream reading the same request:
 *    framing, the canonical target, method overrides, scopes to grant in
 *    the query, content type and encoding of checked bodies, malformed or
 *    duplicate-key JSON, duplicate Authorization;
 *  - limits (header and body sizes, timeouts, connections, rate limits,
 *    failed-auth budgets) and the raw-bytes guard, which run before or
 *    apart from the policy decision anyway.
 */
static const char *const relaxable[] = {
	"bad_param", "insufficient_scope", "binding_mismatch", "body_schema",
	"scope_escalation",
};

int
reportmode_relaxable(const char *reason)
{
	if (reason == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(relaxable) / sizeof(relaxable[0]); i++)
		if (strcmp(reason, relaxable[i]) == 0)
			return 1;
	return 0;
}

int
reportmode_is_report(const struct cfg *cf, const struct policy_action *a)
{
	return cf != NULL && a != NULL && cf->report_only != NULL &&
	    a->index < cf->nreport_only && cf->report_only[a->index];
}

void
reportmode_apply(const struct cfg *cf, struct gate_decision *d)
{
	if (d->allow || !reportmode_is_report(cf, d->action) || !reportmode_relaxable(d->reason))
		return;
	if (d->would_deny == NULL) {
		d->would_deny = d->reason;
		d->would_status = d->status;
	}
	d->allow = 1;
	d->status = 0;
	d->error_type = NULL;
	d->www_authenticate = NULL;
}
