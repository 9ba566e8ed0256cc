/* yaml_json.h: a YAML document (libyaml) as a jansson value, for the
 * OpenAPI importer. Only what JSON can say is accepted: one document,
 * string keys, no aliases, no tags beyond YAML's core ones. */
#ifndef SCOPEGATE_YAML_JSON_H
#define SCOPEGATE_YAML_JSON_H

#include <stddef.h>

#include <jansson.h>

/* Parse len bytes of YAML into a new reference, or NULL with a message
 * "line:column: what" (1-based) in err. Bounded by SG_YAML_MAX_DEPTH
 * nesting levels and SG_YAML_MAX_NODES nodes. */
json_t *yaml_json_parse(const char *buf, size_t len, char *err, size_t errlen);

#endif
