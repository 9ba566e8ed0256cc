/* ratelimit.h: request rate limits per key (a token's subject or id, or a
 * client address), shared by all workers.
 *
 * Each key is a GCRA cell (the generic cell rate algorithm, as in ATM
 * traffic shaping and many API gateways): one "theoretical arrival time"
 * per key, no timers. A key may send `burst` requests at once and then one
 * every `interval_us`. The table holds a bounded number of keys, in shards
 * with a lock each; when a shard's probe window is full, the key that
 * would have its whole burst again soonest is forgotten first (a flood of
 * new keys can only make the oldest idle ones start over, never block a
 * key). Keys are hashed with a per-process random seed and compared by
 * hash only (64 bits). Pure: the caller passes the time. */
#ifndef SCOPEGATE_RATELIMIT_H
#define SCOPEGATE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* A table for up to about max_keys keys (at least 1024). */
struct ratelimit *ratelimit_new(size_t max_keys);
void ratelimit_free(struct ratelimit *rl);

/* One request of key at now_us (a monotonic clock). kind keeps kinds of
 * keys apart (a subject and an address that are the same string are not
 * the same key). Returns 1 when it is within the limit (and counts it), 0
 * when it is over: *retry_after_us then says when the next one would be
 * allowed. interval_us > 0, burst >= 1. */
int ratelimit_take(struct ratelimit *rl, char kind, const char *key, size_t len,
    uint64_t now_us, uint64_t interval_us, uint32_t burst, uint64_t *retry_after_us);

/* The same, and *tat_out is the key's theoretical arrival time after it
 * (for how many more fit now, and when its whole burst is back). */
int ratelimit_take_tat(struct ratelimit *rl, char kind, const char *key, size_t len,
    uint64_t now_us, uint64_t interval_us, uint32_t burst, uint64_t *retry_after_us,
    uint64_t *tat_out);

/* Count one request of key at now_us that was admitted elsewhere (a
 * shared limit's answer from Redis): never refused, but the key's cell
 * goes no further than empty (its whole burst spent). */
void ratelimit_charge(struct ratelimit *rl, char kind, const char *key, size_t len,
    uint64_t now_us, uint64_t interval_us, uint32_t burst);

/* Longest key ratelimit_client_key writes. */
#define RATELIMIT_CLIENT_KEY_MAX	64

/* The rate-limit key of a client address (text, as the peer or
 * X-Forwarded-For gives it) into out: an IPv4 address is itself; an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d, a dual-stack listener's IPv4
 * client) is that IPv4 address; any other IPv6 address is its first
 * ipv6_prefix bits (0..128), so that the addresses of one allocation (a
 * /64 by default) share one key however often the client rotates them.
 * A zone (%eth0) is ignored; text that is no address is its own key (cut
 * at RATELIMIT_CLIENT_KEY_MAX). Returns the key's length. */
size_t ratelimit_client_key(const char *addr, unsigned ipv6_prefix,
    char out[RATELIMIT_CLIENT_KEY_MAX]);
/* Give back one request taken by ratelimit_take (interval_us as given
 * there), for budgets that only some outcomes spend: take before the work
 * (so that concurrent requests cannot all pass one free slot), refund when
 * the outcome does not count. No-op when the key is not held (forgotten
 * meanwhile). */
void ratelimit_refund(struct ratelimit *rl, char kind, const char *key, size_t len,
    uint64_t interval_us);

/* Keys held now (for tests and metrics). */
size_t ratelimit_count(struct ratelimit *rl);

#endif
