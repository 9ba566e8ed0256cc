/* connlimit.h: open connections per client address, counted across every
 * worker from the accept to the close, so that one address cannot take
 * every connection slot (limits.max_connections_per_client).
 *
 * Addresses are grouped as an attacker would have to spend them: an IPv4
 * address counts by itself (also when it arrives IPv4-mapped, as
 * "::ffff:a.b.c.d" on a dual-stack socket); any other IPv6 address counts
 * with its /64, the smallest allocation a site gets, inside which its
 * owner may pick addresses at will. The table holds one entry per group
 * with an open connection (freed at the last close), in shards with a
 * lock each; groups are hashed with a per-process random seed. Pure: no
 * libevent, the caller passes the time. */
#ifndef SCOPEGATE_CONNLIMIT_H
#define SCOPEGATE_CONNLIMIT_H

#include <stddef.h>
#include <stdint.h>

/* A group of addresses: IPv4 as its IPv4-mapped IPv6 form, other IPv6
 * with the low 64 bits zero. */
struct connlimit_key {
	unsigned char b[16];
};

struct connlimit;

struct connlimit *connlimit_new(void);
void connlimit_free(struct connlimit *cl);

/* The group of a numeric address ("192.0.2.1", "2001:db8::1",
 * "::ffff:192.0.2.1", "fe80::1%eth0"). 0, or -1 when it is none. */
int connlimit_key_parse(const char *addr, struct connlimit_key *k);

/* The group as text: "192.0.2.1" or "2001:db8::/64"; returns buf. */
const char *connlimit_key_str(const struct connlimit_key *k, char *buf, size_t len);

/* One more connection of k's group, if it holds fewer than max: returns 1
 * (counted: call connlimit_release at its close), or 0 (over: not
 * counted). */
int connlimit_acquire(struct connlimit *cl, const struct connlimit_key *k, uint32_t max);
void connlimit_release(struct connlimit *cl, const struct connlimit_key *k);

/* Connections k's group holds now; groups with one open now. */
uint32_t connlimit_count(struct connlimit *cl, const struct connlimit_key *k);
size_t connlimit_groups(struct connlimit *cl);

/* Bookkeeping of refusals, for one log line per interval rather than one
 * per connection: count a refusal at now_us; returns 1 when the caller
 * should log now (the first refusal after interval_us without a line),
 * with *since the refusals not logged before this one. */
int connlimit_refused(struct connlimit *cl, uint64_t now_us, uint64_t interval_us,
    uint64_t *since);
/* Refusals since start (the metric). */
uint64_t connlimit_refused_total(struct connlimit *cl);

#endif
