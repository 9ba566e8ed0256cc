/* grant.h: no privilege escalation through token creation. Granting scope
 * S gives power over every action whose allowlist contains S, so a caller
 * may grant S only if it is itself allowed every one of those actions. The
 * actions of each scope are listed once at load; a check is then bitset
 * work. A scope no action lists has powers the policy cannot see: it is
 * grantable only by a caller holding exactly that scope or an umbrella the
 * policy declares as covering it ("covers"); and granting an umbrella
 * grants what it covers, so that takes umbrellas of the caller covering as
 * much. What the upstream grants when the request names no scopes
 * (creates_token.default_scopes) is checked the same way. Pure code. */
#ifndef SCOPEGATE_GRANT_H
#define SCOPEGATE_GRANT_H

#include <stddef.h>

#include <jansson.h>

#include "policy.h"

struct grantmap;

struct grantmap *grantmap_new(const struct policy *p);
void grantmap_free(struct grantmap *g);

/* The caller: its scopes the policy knows, as a set, and every scope
 * string of its token (for scopes the policy does not know). */
struct grant_caller {
	const struct policy_scopeset *set;
	const char *const *names;
	size_t nnames;
};

enum grant_status {
	GRANT_OK,
	GRANT_ESCALATION,	/* 403: would grant more than the caller holds */
	GRANT_BAD_REQUEST,	/* 400: the scope member is not a list of names */
};

/* Check the request body (parsed JSON) of token-creating action a. The
 * member a->token_scope_field lists the scopes requested; absent or null,
 * the upstream grants a->token_default_scopes, which are checked instead.
 * Any other non-array value, a non-string entry, a body that is not an
 * object, or a member spelled like the field in another case, is
 * GRANT_BAD_REQUEST. `msg` gets the scopes that would escalate (comma-
 * separated, truncated to size) or what is wrong with the body. */
enum grant_status grantmap_check(const struct grantmap *g,
    const struct grant_caller *caller, const struct policy_action *a,
    const json_t *body, char *msg, size_t size);

/* Whether the caller may grant one scope name (len bytes), as above. */
int grantmap_grantable(const struct grantmap *g, const struct grant_caller *caller,
    const char *name, size_t len);

#endif
