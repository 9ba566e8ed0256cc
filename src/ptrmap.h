/* ptrmap.h: a small hash map from pointers to pointers, for per-worker
 * bookkeeping keyed by libevent objects that carry no user data slot. */
#ifndef SCOPEGATE_PTRMAP_H
#define SCOPEGATE_PTRMAP_H

#include <stddef.h>

struct ptrmap;

struct ptrmap *ptrmap_new(void);
void ptrmap_free(struct ptrmap *m);
void *ptrmap_get(const struct ptrmap *m, const void *key);
/* Insert or replace. */
void ptrmap_put(struct ptrmap *m, const void *key, void *value);
/* Remove; returns the old value or NULL. */
void *ptrmap_del(struct ptrmap *m, const void *key);
size_t ptrmap_count(const struct ptrmap *m);

#endif
