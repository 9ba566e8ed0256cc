/* upstream.h: internals shared by the files of example-upstream, the
 * stand-alone example upstream used by the demo and the integration tests.
 * It does not link libscopegate.a, so it carries its own small helpers. */
#ifndef EXAMPLE_UPSTREAM_H
#define EXAMPLE_UPSTREAM_H

#include <stddef.h>

#include <event2/http.h>
#include <jansson.h>

#define UPSTREAM_ATTR_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Report out-of-memory on stderr and abort. */
void upstream_oom(void) __attribute__((noreturn));

/* Allocation helpers: abort with a message on out-of-memory. */
void *upstream_xcalloc(size_t nmemb, size_t size);
char *upstream_xstrdup(const char *s);

/* Return v, or abort when a jansson constructor returned NULL (OOM). */
json_t *upstream_jmust(json_t *v);

/* Set key in obj to val (reference stolen); abort on failure. */
void upstream_jset(json_t *obj, const char *key, json_t *val);

/* Append val (reference stolen) to the array arr; abort on failure. */
void upstream_jappend(json_t *arr, json_t *val);

/* A JSON string holding the n bytes at p: verbatim when they are valid
 * UTF-8, else each byte mapped to U+0000..U+00FF (Latin-1). Never NULL. */
json_t *upstream_jbytes(const char *p, size_t n, int *latin1);

/* Answer req with code and the compact serialization of body (reference
 * stolen), Content-Type: application/json. */
void upstream_reply_json(struct evhttp_request *req, int code, json_t *body);

/* Answer req with code and a Losant error body {"type":..,"message":..}. */
void upstream_reply_error(struct evhttp_request *req, int code,
    const char *type, const char *fmt, ...) UPSTREAM_ATTR_PRINTF(4, 5);

/* The request method as text ("GET", ...), "UNKNOWN" when unmapped. */
const char *upstream_method_name(struct evhttp_request *req);

/* The in-memory Losant Application API Token resource. */
struct upstream_tokens;

/* Create the store, seeded with the demo application and its two tokens. */
struct upstream_tokens *upstream_tokens_new(void);
void upstream_tokens_free(struct upstream_tokens *ts);

/* Answer req when path is under /applications/{id}/tokens; return 1 when
 * answered, 0 when the path is not this resource's (nothing sent). */
int upstream_tokens_handle(struct upstream_tokens *ts,
    struct evhttp_request *req, const char *path);

#endif
