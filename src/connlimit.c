/* connlimit.c: see connlimit.h. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "connlimit.h"
#include "hash64.h"
#include "log.h"
#include "xmalloc.h"

#define CL_SHARDS	64	/* a power of two */
#define CL_BUCKETS	256	/* per shard, a power of two */

struct cl_entry {
	struct connlimit_key key;
	uint32_t count;
	struct cl_entry *next;
};

struct cl_shard {
	pthread_mutex_t lock;
	struct cl_entry *buckets[CL_BUCKETS];
	size_t groups;
};

struct connlimit {
	uint64_t seed;
	struct cl_shard shards[CL_SHARDS];
	pthread_mutex_t log_lock;
	uint64_t last_log_us;
	int logged;
	uint64_t unlogged;
	uint64_t refused;	/* atomic */
};

struct connlimit *
connlimit_new(void)
{
	struct connlimit *cl = xcalloc(1, sizeof(*cl));

	if (getrandom(&cl->seed, sizeof(cl->seed), 0) != sizeof(cl->seed))
		fatalx("getrandom failed");
	for (size_t i = 0; i < CL_SHARDS; i++)
		pthread_mutex_init(&cl->shards[i].lock, NULL);
	pthread_mutex_init(&cl->log_lock, NULL);
	return cl;
}

void
connlimit_free(struct connlimit *cl)
{
	if (cl == NULL)
		return;
	for (size_t i = 0; i < CL_SHARDS; i++) {
		for (size_t b = 0; b < CL_BUCKETS; b++) {
			struct cl_entry *e = cl->shards[i].buckets[b], *next;

			for (; e != NULL; e = next) {
				next = e->next;
				free(e);
			}
		}
		pthread_mutex_destroy(&cl->shards[i].lock);
	}
	pthread_mutex_destroy(&cl->log_lock);
	free(cl);
}

int
connlimit_key_parse(const char *addr, struct connlimit_key *k)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char buf[INET6_ADDRSTRLEN + 1];
	size_t n = strcspn(addr, "%");	/* a link-local zone: same host */

	memset(k, 0, sizeof(*k));
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, addr, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, k->b + 12) == 1) {
		memcpy(k->b, mapped, sizeof(mapped));
		return 0;
	}
	if (inet_pton(AF_INET6, buf, k->b) != 1) {
		memset(k, 0, sizeof(*k));
		return -1;
	}
	/* IPv4-mapped: the IPv4 address it is. Anything else: its /64. */
	if (memcmp(k->b, mapped, sizeof(mapped)) != 0)
		memset(k->b + 8, 0, 8);
	return 0;
}

const char *
connlimit_key_str(const struct connlimit_key *k, char *buf, size_t len)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char a[INET6_ADDRSTRLEN];

	if (memcmp(k->b, mapped, sizeof(mapped)) == 0) {
		inet_ntop(AF_INET, k->b + 12, a, sizeof(a));
		snprintf(buf, len, "%s", a);
	} else {
		inet_ntop(AF_INET6, k->b, a, sizeof(a));
		snprintf(buf, len, "%s/64", a);
	}
	return buf;
}

/* The shard and bucket of k; the shard's lock is taken. */
static struct cl_entry **
lock_bucket(struct connlimit *cl, const struct connlimit_key *k, struct cl_shard **shp)
{
	uint64_t h = hash64(cl->seed, (const char *)k->b, sizeof(k->b));
	struct cl_shard *sh = &cl->shards[h & (CL_SHARDS - 1)];

	pthread_mutex_lock(&sh->lock);
	*shp = sh;
	return &sh->buckets[(h >> 6) & (CL_BUCKETS - 1)];
}

int
connlimit_acquire(struct connlimit *cl, const struct connlimit_key *k, uint32_t max)
{
	struct cl_shard *sh;
	struct cl_entry **b = lock_bucket(cl, k, &sh), *e;
	int ok = 0;

	for (e = *b; e != NULL; e = e->next)
		if (memcmp(&e->key, k, sizeof(*k)) == 0)
			break;
	if (e == NULL && max > 0) {
		/* Entries exist only while a connection does, so the table is
		 * bounded by the open connections. */
		e = xcalloc(1, sizeof(*e));
		e->key = *k;
		e->next = *b;
		*b = e;
		sh->groups++;
	}
	if (e != NULL && e->count < max) {
		e->count++;
		ok = 1;
	}
	pthread_mutex_unlock(&sh->lock);
	return ok;
}

void
connlimit_release(struct connlimit *cl, const struct connlimit_key *k)
{
	struct cl_shard *sh;
	struct cl_entry **b = lock_bucket(cl, k, &sh), **pe, *e;

	for (pe = b; (e = *pe) != NULL; pe = &e->next) {
		if (memcmp(&e->key, k, sizeof(*k)) != 0)
			continue;
		if (e->count > 0)
			e->count--;
		if (e->count == 0) {
			*pe = e->next;
			free(e);
			sh->groups--;
		}
		break;
	}
	pthread_mutex_unlock(&sh->lock);
}

uint32_t
connlimit_count(struct connlimit *cl, const struct connlimit_key *k)
{
	struct cl_shard *sh;
	struct cl_entry **b = lock_bucket(cl, k, &sh), *e;
	uint32_t n = 0;

	for (e = *b; e != NULL; e = e->next)
		if (memcmp(&e->key, k, sizeof(*k)) == 0) {
			n = e->count;
			break;
		}
	pthread_mutex_unlock(&sh->lock);
	return n;
}

size_t
connlimit_groups(struct connlimit *cl)
{
	size_t n = 0;

	for (size_t i = 0; i < CL_SHARDS; i++) {
		pthread_mutex_lock(&cl->shards[i].lock);
		n += cl->shards[i].groups;
		pthread_mutex_unlock(&cl->shards[i].lock);
	}
	return n;
}

int
connlimit_refused(struct connlimit *cl, uint64_t now_us, uint64_t interval_us, uint64_t *since)
{
	int log_now = 0;

	__atomic_add_fetch(&cl->refused, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&cl->log_lock);
	if (!cl->logged || now_us - cl->last_log_us >= interval_us) {
		*since = cl->unlogged;
		cl->unlogged = 0;
		cl->last_log_us = now_us;
		cl->logged = 1;
		log_now = 1;
	} else
		cl->unlogged++;
	pthread_mutex_unlock(&cl->log_lock);
	return log_now;
}

uint64_t
connlimit_refused_total(struct connlimit *cl)
{
	return __atomic_load_n(&cl->refused, __ATOMIC_RELAXED);
}
