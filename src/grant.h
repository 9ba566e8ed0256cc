/* grant.h: no privilege escalation through token creation. Granting scope
 * S gives power over every action whose allowlist contains S, so a caller
 * may grant S only if it is itself allowed every one of those actions. The
 * actions of each scope are listed once at load; a check is then bitset
 * work. Pure code. */
#ifndef SCOPEGATE_GRANT_H
#define SCOPEGATE_GRANT_H

#include <stddef.h>

#include <jansson.h>

#include "policy.h"

struct grantmap;

struct grantmap *grantmap_new(const struct policy *p);
void grantmap_free(struct grantmap *g);

/* Check every string of the JSON array `requested` against the caller's
 * scopes. Returns 0 when all are grantable; otherwise -1 with the scopes
 * that would escalate, comma-separated, in `bad` (truncated to size).
 * Scopes that no action lists grant nothing here and are accepted;
 * non-string entries are left to the body schema. */
int grantmap_check(const struct grantmap *g, const struct policy_scopeset *caller,
    const json_t *requested, char *bad, size_t size);

#endif
