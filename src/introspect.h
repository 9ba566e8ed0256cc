/* introspect.h: opaque bearer tokens read by the identity provider's
 * introspection endpoint (RFC 7662), the running part.
 *
 * Answers are shared by every worker: one cache keyed by the SHA-256 of
 * the token (the token itself is never kept), and one call in flight per
 * token whatever the number of requests and workers waiting on it. A call
 * runs on the loop of the worker that first needed it, with the gateway's
 * own HTTP client (upstream.c) and TLS client; no worker ever blocks: a
 * request waiting on an answer is suspended and resumed on its own worker
 * (introspect_resume_fn) once the answer (or the failure) is known. */
#ifndef SCOPEGATE_INTROSPECT_H
#define SCOPEGATE_INTROSPECT_H

#include <stddef.h>
#include <time.h>

#include <event2/event.h>

#include "introspect_parse.h"
#include "jwt.h"

/* One answer, shared and refcounted: JWT_OK with a result, else the
 * reason the token is refused. */
struct introspect_entry;
enum jwt_status introspect_entry_status(const struct introspect_entry *e);
/* Read-only, valid while the entry is held. NULL unless JWT_OK. */
const struct jwt_result *introspect_entry_result(const struct introspect_entry *e);
void introspect_entry_release(struct introspect_entry *e);
/* A refusal decided without asking (a token that is never sent). */
struct introspect_entry *introspect_entry_refused(enum jwt_status st);

/* A worker's side: its loop, its HTTP clients, its waiting requests. */
struct introspect_client;
struct introspect_waiter;

/* e is the answer (the caller owns a reference), or NULL when the
 * endpoint gave none (why: for the log): fail closed. */
typedef void (*introspect_resume_fn)(void *req, struct introspect_entry *e, const char *why);

/* unkeep releases the keep pointer given to introspect_lookup (the
 * configuration whose spec and opts a call uses, held until it ends). */
struct introspect_client *introspect_client_new(struct event_base *base,
    introspect_resume_fn resume, void (*unkeep)(void *));
/* After the loop stopped: calls in flight are dropped. */
void introspect_client_free(struct introspect_client *c);

enum introspect_lookup {
	INTROSPECT_HIT,		/* *e is the cached answer (a reference) */
	INTROSPECT_WAIT,	/* req is suspended: resume will be called; *w
				 * cancels it */
	INTROSPECT_BUSY,	/* max_inflight calls already: 503 */
};

/* The answer for token under spec at time now (opts: the claim rules).
 * keep() is called to hold what spec and opts live in when a call starts. */
enum introspect_lookup introspect_lookup(struct introspect_client *c,
    const struct introspect_spec *spec, const struct jwt_opts *opts, const char *token,
    size_t len, time_t now, void *req, void *(*keep)(void *), void *keep_arg,
    struct introspect_entry **e, struct introspect_waiter **w);
/* The request went away while waiting: resume is not called for it. */
void introspect_cancel(struct introspect_client *c, struct introspect_waiter *w);

/* Prometheus text of the counters (all workers); the caller frees. */
char *introspect_metrics(void);

#endif
