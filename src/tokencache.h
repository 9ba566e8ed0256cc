/* tokencache.h: a bounded LRU cache of verified tokens, one per worker
 * thread (no locking inside). Keyed by a hash of the whole token string;
 * a hit compares the whole token. An entry never outlives the moment its
 * token would stop verifying (exp + leeway), checked on lookup against the
 * clock passed in. Failures are never cached. */
#ifndef SCOPEGATE_TOKENCACHE_H
#define SCOPEGATE_TOKENCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hash64.h"
#include "jwt.h"

struct tokencache;

/* A cache holding at most capacity tokens (at least 1). */
struct tokencache *tokencache_new(size_t capacity);
/* Free the cache and every result in it (user_free is called). */
void tokencache_free(struct tokencache *c);

/* The cached result for token, or NULL. An entry whose valid_until has
 * passed is dropped. A hit becomes most recently used. The result stays
 * owned by the cache: valid until the next insert, evict or clear. */
struct jwt_result *tokencache_lookup(struct tokencache *c, const char *token,
    size_t len, time_t now);

/* Take ownership of r, cached under token (replacing an equal token),
 * evicting the least recently used entry when full. Returns r. */
struct jwt_result *tokencache_insert(struct tokencache *c, const char *token,
    size_t len, struct jwt_result *r);

/* A miss is followed by an insert of the same token: the caller hashes
 * it once with tokencache_hash and passes h to both (a token of a few
 * hundred bytes costs a few hundred instructions to hash). h must be
 * tokencache_hash(token, len); otherwise as the two above. */
static inline uint64_t
tokencache_hash(const char *token, size_t len)
{
	return hash64(0xcbf29ce484222325ULL, token, len);
}

struct jwt_result *tokencache_lookup_hashed(struct tokencache *c, const char *token,
    size_t len, uint64_t h, time_t now);
struct jwt_result *tokencache_insert_hashed(struct tokencache *c, const char *token,
    size_t len, uint64_t h, struct jwt_result *r);

/* Drop every entry whose token id equals token_id (revocation). Returns
 * how many were dropped. */
size_t tokencache_evict_id(struct tokencache *c, const char *token_id);

/* Drop everything (e.g. when the keys or claim rules changed). */
void tokencache_clear(struct tokencache *c);

size_t tokencache_count(const struct tokencache *c);

struct tokencache_stats {
	uint64_t hits, misses, expired, evicted, revoked;
};
void tokencache_get_stats(const struct tokencache *c, struct tokencache_stats *st);

/* The config generation whose results the cache holds (token_config uses
 * this to clear a cache that was filled under an older configuration). */
uint64_t tokencache_generation(const struct tokencache *c);
void tokencache_set_generation(struct tokencache *c, uint64_t gen);

#endif
