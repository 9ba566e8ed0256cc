/* policy_write.h: the one writer of policy files, shared by the OpenAPI
 * importer and the Losant generator (tools/gen-policy.py hands it a
 * neutral list of operations through `scopegate-policy from-actions`). */
#ifndef SCOPEGATE_POLICY_WRITE_H
#define SCOPEGATE_POLICY_WRITE_H

#include <jansson.h>

#include "jsonconf.h"

/* Write doc as the policy file out: {"comment", "schemas_dir", "covers",
 * "actions": [...], "schemas": {name: schema}}. Actions are checked
 * (known keys, unique names, public or scopes), sorted by name and written
 * with their keys in one fixed order, so equal input gives equal bytes.
 * "schemas" (not part of the policy) are written to
 * <dir of out>/<schemas_dir>/<name>.json. Files are replaced atomically.
 * Returns 0, or -1 with every problem in jc. */
int policy_write(const json_t *doc, const char *out, struct jsonconf *jc);

/* The policy text alone (what policy_write puts in out), or NULL with
 * problems in jc; the caller frees. */
char *policy_write_text(const json_t *doc, struct jsonconf *jc);

#endif
