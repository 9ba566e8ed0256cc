/* admin.h: the admin listener (loopback): /healthz, /readyz, /metrics and
 * the revocation endpoints. It runs on the main thread's event loop,
 * apart from the traffic listeners. */
#ifndef SCOPEGATE_ADMIN_H
#define SCOPEGATE_ADMIN_H

struct runtime;
struct admin;

#include <stddef.h>

#include "errlist.h"

/* What an admin request must satisfy before any endpoint sees it (the
 * listener is on loopback, but a browser on the same host can be made to
 * talk to it, and a DNS-rebinding name can point at it):
 * - exactly one Host, naming the configured address or "localhost", with
 *   the configured port (port-less only when that port is 80): else 421;
 * - no Origin field at all (only browsers send one): else 403;
 * - with a token configured, exactly one "Authorization: Bearer <token>"
 *   matching it (compared in constant time): else 401;
 * - POST and DELETE carry "Content-Type: application/json" (a form or a
 *   text/plain body from a page cannot): else 415.
 * Pure; the fields are the request's, NULL when absent. */
struct admin_request {
	int is_mutating;		/* POST, DELETE */
	const char *host;
	int nhost;
	int norigin;
	const char *content_type;
	const char *authorization;
	int nauthorization;
};

struct admin_rules {
	const char *address;		/* the configured numeric address */
	unsigned port;
	const char *token;		/* NULL: no bearer secret */
};

/* 0 when the request may go on; else the status, with *type and *message
 * for the JSON error. */
int admin_check(const struct admin_rules *r, const struct admin_request *rq,
    const char **type, const char **message);

/* admin.token_file: read the secret from path (a regular file not
 * accessible by group or others, like key files; one trailing newline
 * dropped; SG_ADMIN_TOKEN_MIN_BYTES to _MAX_BYTES of printable ASCII).
 * NULL with the reason in errs. */
char *admin_token_load(const char *path, struct errlist *errs);
/* Wipe and free (NULL is fine). */
void admin_token_free(char *token);

/* Listen on the snapshot's admin address; NULL when none is configured
 * or on error (logged; *failed set). */
struct admin *admin_start(struct runtime *rt, int *failed);
void admin_free(struct admin *a);

#endif
