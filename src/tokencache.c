/* tokencache.c: see tokencache.h. A power-of-two bucket array with chained
 * entries, plus a doubly linked list in recency order. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tokencache.h"
#include "xmalloc.h"

struct entry {
	struct entry *hnext;		/* bucket chain */
	struct entry *prev, *next;	/* LRU list, head = most recent */
	uint64_t hash;
	size_t len;
	struct jwt_result *res;
	char token[];			/* len bytes, same allocation */
};

struct tokencache {
	struct entry **buckets;
	size_t nbuckets;		/* power of two */
	size_t count, capacity;
	struct entry *head, *tail;
	uint64_t generation;
	struct tokencache_stats stats;
};

/* Every request hashes its token (a few hundred bytes). Only verified
 * tokens are stored, so an attacker cannot fill a chain with crafted
 * collisions; a lookup with any string walks chains of verified tokens
 * only. */
static uint64_t
hash_token(const char *s, size_t len)
{
	return tokencache_hash(s, len);
}

struct tokencache *
tokencache_new(size_t capacity)
{
	struct tokencache *c = xcalloc(1, sizeof(*c));

	c->capacity = capacity ? capacity : 1;
	c->nbuckets = 16;
	while (c->nbuckets < c->capacity && c->nbuckets < ((size_t)1 << 30))
		c->nbuckets <<= 1;
	c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	return c;
}

static void
lru_unlink(struct tokencache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push_front(struct tokencache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

/* Unlink e from its bucket and the LRU list and free it with its result. */
static void
entry_remove(struct tokencache *c, struct entry *e)
{
	struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->count--;
	jwt_result_free(e->res);
	free(e);
}

void
tokencache_clear(struct tokencache *c)
{
	while (c->head != NULL)
		entry_remove(c, c->head);
}

void
tokencache_free(struct tokencache *c)
{
	if (c == NULL)
		return;
	tokencache_clear(c);
	free(c->buckets);
	free(c);
}

static struct entry *
find(struct tokencache *c, const char *token, size_t len, uint64_t h)
{
	struct entry *e;

	for (e = c->buckets[h & (c->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->len == len && memcmp(e->token, token, len) == 0)
			return e;
	return NULL;
}

struct jwt_result *
tokencache_lookup(struct tokencache *c, const char *token, size_t len, time_t now)
{
	return tokencache_lookup_hashed(c, token, len, hash_token(token, len), now);
}

struct jwt_result *
tokencache_lookup_hashed(struct tokencache *c, const char *token, size_t len,
    uint64_t h, time_t now)
{
	struct entry *e = find(c, token, len, h);

	if (e == NULL) {
		c->stats.misses++;
		return NULL;
	}
	if ((int64_t)now >= e->res->valid_until) {
		entry_remove(c, e);
		c->stats.expired++;
		c->stats.misses++;
		return NULL;
	}
	lru_unlink(c, e);
	lru_push_front(c, e);
	c->stats.hits++;
	return e->res;
}

struct jwt_result *
tokencache_insert(struct tokencache *c, const char *token, size_t len,
    struct jwt_result *r)
{
	return tokencache_insert_hashed(c, token, len, hash_token(token, len), r);
}

struct jwt_result *
tokencache_insert_hashed(struct tokencache *c, const char *token, size_t len,
    uint64_t h, struct jwt_result *r)
{
	struct entry *e;
	size_t b;

	if ((e = find(c, token, len, h)) != NULL)
		entry_remove(c, e);
	while (c->count >= c->capacity) {
		entry_remove(c, c->tail);
		c->stats.evicted++;
	}
	/* One allocation per entry: fresh tokens arrive at request rate. */
	e = xmalloc(sizeof(*e) + len);
	e->hash = h;
	memcpy(e->token, token, len);
	e->len = len;
	e->res = r;
	b = h & (c->nbuckets - 1);
	e->hnext = c->buckets[b];
	c->buckets[b] = e;
	lru_push_front(c, e);
	c->count++;
	return r;
}

size_t
tokencache_evict_id(struct tokencache *c, const char *token_id)
{
	struct entry *e, *next;
	size_t n = 0;

	/* Revocation is rare: a linear walk keeps entries small. */
	for (e = c->head; e != NULL; e = next) {
		next = e->next;
		if (e->res->token_id != NULL && strcmp(e->res->token_id, token_id) == 0) {
			entry_remove(c, e);
			n++;
		}
	}
	c->stats.revoked += n;
	return n;
}

size_t
tokencache_count(const struct tokencache *c)
{
	return c->count;
}

void
tokencache_get_stats(const struct tokencache *c, struct tokencache_stats *st)
{
	*st = c->stats;
}

uint64_t
tokencache_generation(const struct tokencache *c)
{
	return c->generation;
}

void
tokencache_set_generation(struct tokencache *c, uint64_t gen)
{
	c->generation = gen;
}
