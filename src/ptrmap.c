/* ptrmap.c: separate chaining, power-of-two buckets, grown at load 1. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "ptrmap.h"
#include "xmalloc.h"

struct ptrmap_node {
	const void *key;
	void *value;
	struct ptrmap_node *next;
};

struct ptrmap {
	struct ptrmap_node **buckets;
	size_t nbuckets;	/* power of two */
	size_t count;
};

static size_t
hash_ptr(const void *p, size_t nbuckets)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	/* Pointers are aligned: mix the high bits down (splitmix64 finaliser). */
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return (size_t)x & (nbuckets - 1);
}

struct ptrmap *
ptrmap_new(void)
{
	struct ptrmap *m = xcalloc(1, sizeof(*m));

	m->nbuckets = 64;
	m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
	return m;
}

void
ptrmap_free(struct ptrmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct ptrmap_node *n = m->buckets[i], *next;
		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(m->buckets);
	free(m);
}

void *
ptrmap_get(const struct ptrmap *m, const void *key)
{
	for (struct ptrmap_node *n = m->buckets[hash_ptr(key, m->nbuckets)]; n; n = n->next)
		if (n->key == key)
			return n->value;
	return NULL;
}

static void
grow(struct ptrmap *m)
{
	size_t nb = m->nbuckets * 2;
	struct ptrmap_node **b = xcalloc(nb, sizeof(*b));

	for (size_t i = 0; i < m->nbuckets; i++) {
		struct ptrmap_node *n = m->buckets[i], *next;
		for (; n; n = next) {
			size_t h = hash_ptr(n->key, nb);
			next = n->next;
			n->next = b[h];
			b[h] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
}

void
ptrmap_put(struct ptrmap *m, const void *key, void *value)
{
	size_t h = hash_ptr(key, m->nbuckets);
	struct ptrmap_node *n;

	for (n = m->buckets[h]; n; n = n->next)
		if (n->key == key) {
			n->value = value;
			return;
		}
	n = xmalloc(sizeof(*n));
	n->key = key;
	n->value = value;
	n->next = m->buckets[h];
	m->buckets[h] = n;
	if (++m->count > m->nbuckets)
		grow(m);
}

void *
ptrmap_del(struct ptrmap *m, const void *key)
{
	struct ptrmap_node **pp = &m->buckets[hash_ptr(key, m->nbuckets)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->key == key) {
			struct ptrmap_node *n = *pp;
			void *v = n->value;
			*pp = n->next;
			free(n);
			m->count--;
			return v;
		}
	return NULL;
}

size_t
ptrmap_count(const struct ptrmap *m)
{
	return m->count;
}
