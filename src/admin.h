/* admin.h: the admin listener (loopback): /healthz, /readyz, /metrics and
 * the revocation endpoints. It runs on the main thread's event loop,
 * apart from the traffic listeners. */
#ifndef SCOPEGATE_ADMIN_H
#define SCOPEGATE_ADMIN_H

struct runtime;
struct admin;

/* Listen on the snapshot's admin address; NULL when none is configured
 * or on error (logged; *failed set). */
struct admin *admin_start(struct runtime *rt, int *failed);
void admin_free(struct admin *a);

#endif
