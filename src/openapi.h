/* openapi.h: an OpenAPI 3.0/3.1 or Swagger 2.0 document as the neutral
 * list of operations that policy_write() turns into a scopegate policy.
 * Pure: jansson in, jansson out, messages into errlists. */
#ifndef SCOPEGATE_OPENAPI_H
#define SCOPEGATE_OPENAPI_H

#include <jansson.h>

#include "jsonconf.h"

/* Convert doc. scheme names the oauth2/openIdConnect security scheme whose
 * scopes count (NULL: the document's only one); base_path is put before
 * every path (NULL: Swagger 2.0's basePath, or the path of OpenAPI 3's
 * servers, which must agree). Errors go to errs as
 * "file: /json/pointer: message", operations the policy cannot express
 * and therefore leaves out (their routes answer 404) to warns. Returns a
 * new {"comment", "actions", "schemas"} object for policy_write(), or
 * NULL when anything is in errs. */
json_t *openapi_convert(const json_t *doc, const char *scheme,
    const char *base_path, struct jsonconf *errs, struct jsonconf *warns);

#endif
