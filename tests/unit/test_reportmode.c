/* test_reportmode.c: which refusals report mode turns into would_deny,
 * and only for actions in report_only: the reasons it relaxes, and every
 * other reason the gate gives (authentication, routing, parser
 * differentials, limits), which it must not. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "cfg.h"
#include "gate.h"
#include "reportmode.h"

static const char *const relaxed[] = {
	"bad_param", "insufficient_scope", "binding_mismatch", "body_schema", "scope_escalation",
};
static const char *const kept[] = {
	"no_route", "method_not_allowed", "no_token", "invalid_token", "expired", "not_yet_valid",
	"bad_signature", "malformed", "unknown_kid", "revoked", "token_id_missing",
	"token_id_invalid", "duplicate_authorization", "method_override", "token_scope",
	"content_type", "content_encoding", "body_json", "body_too_large", "framing",
	"rate_limited", "failed_auth_limited", "dot_segment", "encoded_slash", "", "scope",
	"public", "INSUFFICIENT_SCOPE", "insufficient_scope ", "body_schema\n",
};

/* A refusal of action a (index 1 of 3, or none) with reason, through
 * reportmode_apply with report_only = flags. */
static void
refuse(const uint8_t *flags, const struct policy_action *a, const char *reason,
    struct gate_decision *d)
{
	struct cfg cf;

	memset(&cf, 0, sizeof(cf));
	cf.report_only = (uint8_t *)flags;
	cf.nreport_only = flags != NULL ? 3 : 0;
	memset(d, 0, sizeof(*d));
	d->allow = 0;
	d->status = 403;
	d->error_type = "Forbidden";
	d->reason = reason;
	d->www_authenticate = "Bearer error=\"insufficient_scope\"";
	d->action = a;
	reportmode_apply(&cf, d);
}

static void
test_reasons(void)
{
	static const uint8_t flags[3] = { 0, 1, 0 };
	struct policy_action a;
	struct gate_decision d;

	memset(&a, 0, sizeof(a));
	a.index = 1;
	for (size_t i = 0; i < sizeof(relaxed) / sizeof(relaxed[0]); i++) {
		refuse(flags, &a, relaxed[i], &d);
		CU_ASSERT_EQUAL(d.allow, 1);
		CU_ASSERT_PTR_NOT_NULL(d.would_deny);
		if (d.would_deny != NULL)
			CU_ASSERT_STRING_EQUAL(d.would_deny, relaxed[i]);
		CU_ASSERT_EQUAL(d.would_status, 403);
		CU_ASSERT_PTR_NULL(d.www_authenticate);
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		refuse(flags, &a, kept[i], &d);
		if (d.allow)
			printf("\n  reason \"%s\" relaxed\n", kept[i]);
		CU_ASSERT_EQUAL(d.allow, 0);
		CU_ASSERT_PTR_NULL(d.would_deny);
	}
	refuse(flags, &a, NULL, &d);
	CU_ASSERT_EQUAL(d.allow, 0);
}

static void
test_actions(void)
{
	static const uint8_t flags[3] = { 0, 1, 0 };
	struct policy_action a, b, far;
	struct gate_decision d;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&far, 0, sizeof(far));
	a.index = 1;
	b.index = 2;
	far.index = 7;		/* past the table (another policy's index) */
	refuse(flags, &b, "insufficient_scope", &d);
	CU_ASSERT_EQUAL(d.allow, 0);		/* enforcing beside it */
	refuse(flags, &far, "insufficient_scope", &d);
	CU_ASSERT_EQUAL(d.allow, 0);
	refuse(flags, NULL, "insufficient_scope", &d);
	CU_ASSERT_EQUAL(d.allow, 0);		/* no action: nothing to report */
	refuse(NULL, &a, "insufficient_scope", &d);
	CU_ASSERT_EQUAL(d.allow, 0);		/* no report_only at all */
	CU_ASSERT_EQUAL(reportmode_is_report(NULL, &a), 0);

	/* The first refusal is the one reported (head, then body). */
	refuse(flags, &a, "insufficient_scope", &d);
	d.allow = 0;
	d.status = 400;
	d.reason = "body_schema";
	{
		struct cfg cf;
		memset(&cf, 0, sizeof(cf));
		cf.report_only = (uint8_t *)flags;
		cf.nreport_only = 3;
		reportmode_apply(&cf, &d);
	}
	CU_ASSERT_EQUAL(d.allow, 1);
	CU_ASSERT_STRING_EQUAL(d.would_deny, "insufficient_scope");
	CU_ASSERT_EQUAL(d.would_status, 403);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("reportmode", NULL, NULL);
	CU_add_test(s, "reasons", test_reasons);
	CU_add_test(s, "actions", test_actions);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
