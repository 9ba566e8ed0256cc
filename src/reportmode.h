/* reportmode.h: report-only rollout of the authorization policy. An
 * action in report mode (config "report_only": action globs) has the
 * refusals of its *authorization* rules turned into "would_deny": the
 * request is forwarded and the refusal logged and counted. What protects
 * the gateway, authenticates the caller or keeps two parsers from reading
 * different requests is never relaxed (see reportmode_relaxable). */
#ifndef SCOPEGATE_REPORTMODE_H
#define SCOPEGATE_REPORTMODE_H

struct cfg;
struct gate_decision;
struct policy_action;

/* Is a refusal with this reason (gate_decision.reason) one report mode
 * may turn into would_deny? Only: bad_param, insufficient_scope,
 * binding_mismatch, body_schema, scope_escalation. */
int reportmode_relaxable(const char *reason);

/* Is the action in report mode in this configuration? */
int reportmode_is_report(const struct cfg *cf, const struct policy_action *a);

/* After a refusal by the gate: when the action is in report mode and the
 * reason relaxable, record it (d->would_deny, d->would_status) and allow
 * the request. The first such refusal is the one reported. */
void reportmode_apply(const struct cfg *cf, struct gate_decision *d);

#endif
