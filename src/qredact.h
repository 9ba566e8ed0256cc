/* qredact.h: a request's query string as the access log writes it, with
 * the values of named parameters (secrets: tokens, keys, passwords)
 * replaced by QREDACT_MARK. Pure: no libevent, no I/O. */
#ifndef SCOPEGATE_QREDACT_H
#define SCOPEGATE_QREDACT_H

#include <stddef.h>

#include <jansson.h>

#include "jsonconf.h"

#define QREDACT_MARK		"REDACTED"
#define QREDACT_MAX_NAMES	64
#define QREDACT_MAX_NAME_LEN	128

struct qredact;

/* The names to redact (copied, compared case-insensitively); NULL when a
 * name is empty, longer than QREDACT_MAX_NAME_LEN, or holds a byte that no
 * decoded parameter name can match (control bytes), or n is over
 * QREDACT_MAX_NAMES; *why then says which. */
struct qredact *qredact_new(const char *const *names, size_t n, const char **why);
void qredact_free(struct qredact *q);

/* "log.redact_query" from the configuration: an array of names, or NULL
 * (absent) for the default list (SG_DEFAULT_REDACT_QUERY). Problems are
 * reported at ptr; returns NULL then. */
struct qredact *qredact_from_json(struct jsonconf *jc, const json_t *v, const char *ptr);

/*
 * Copy query (the part after '?', without it) into out, replacing the value
 * of every parameter whose name is listed. A name matches in any spelling a
 * server could read it as: after percent-decoding ('+' as a space; a bad
 * escape kept as written), ASCII case-folded, and with a trailing "[...]"
 * (array syntax, "token[]") removed. Parameters are split at '&' and at
 * ';' (some servers take both); a listed name's value runs to the next '&'
 * so that neither reading leaks a part of it. Always NUL-terminates when
 * size > 0; a cut copy never ends inside a value that was to be redacted.
 * Returns the length written.
 */
size_t qredact_apply(const struct qredact *q, const char *query, char *out, size_t size);

#endif
