/* fuzz_policy.c: the policy loader on arbitrary bytes (no schemas
 * directory, so nothing is read from disk). A policy that loads must then
 * answer matches for each of its own templates without crashing, and each
 * token-creating action's defaults (a body without its scope member) must
 * be grantable by a caller holding every scope and the defaults, and by
 * nobody holding nothing. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "grant.h"
#include "jsonconf.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_defaults(const struct policy *p)
{
	struct grantmap *g = grantmap_new(p);
	struct policy_scopeset all, none;
	json_t *body = json_object();
	char msg[64];

	policy_scopeset_clear(&all);
	policy_scopeset_clear(&none);
	for (size_t s = 0; s < policy_scope_count(p); s++)
		policy_scopeset_add(&all, s);
	for (size_t i = 0; i < policy_action_count(p); i++) {
		const struct policy_action *a = policy_action_at(p, i);
		struct grant_caller c = { &all, (const char *const *)a->token_default_scopes,
		    a->ntoken_default_scopes };
		struct grant_caller nobody = { &none, NULL, 0 };

		if (!a->creates_token)
			continue;
		if (grantmap_check(g, &c, a, body, msg, sizeof(msg)) != GRANT_OK)
			abort();
		if (grantmap_check(g, &nobody, a, body, msg, sizeof(msg)) !=
		    (a->ntoken_default_scopes ? GRANT_ESCALATION : GRANT_OK))
			abort();
	}
	json_decref(body);
	grantmap_free(g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errlist errs;
	struct jsonconf jc = { .file = "fuzz", .errs = &errs };
	struct policy *p;

	errlist_init(&errs);
	p = policy_load_buffer(&jc, (const char *)data, size, NULL);
	if (p == NULL && errs.n == 0)
		abort();	/* a failure must say why */
	if (p != NULL && errs.n != 0)
		abort();
	for (size_t i = 0; p != NULL && i < policy_action_count(p); i++) {
		const struct policy_action *a = policy_action_at(p, i);
		struct canon_segment segs[SG_MAX_PATH_SEGMENTS];
		struct policy_match m;
		const char *s = a->path + 1;
		size_t n = 0;

		/* Its own template, "{name}" segments included, must route:
		 * a parameter matches any segment and '{' is never part of a
		 * literal. */
		while (n < a->nsegs) {
			const char *e = strchr(s, '/');
			segs[n].ptr = s;
			segs[n].len = e ? (size_t)(e - s) : strlen(s);
			n++;
			if (e == NULL)
				break;
			s = e + 1;
		}
		policy_match(p, a->method, segs, n, &m);
		if (m.status != POLICY_MATCH_OK)
			abort();
	}
	if (p != NULL)
		check_defaults(p);
	policy_free(p);
	errlist_free(&errs);
	return 0;
}
