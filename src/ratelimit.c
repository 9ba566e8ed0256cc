/* ratelimit.c: see ratelimit.h. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hash64.h"
#include "log.h"
#include "ratelimit.h"
#include "xmalloc.h"

#define RL_SHARDS	64	/* a power of two */
#define RL_PROBE	8	/* slots looked at for one key */

struct rl_slot {
	uint64_t hash;		/* 0: empty */
	uint64_t tat_us;	/* theoretical arrival time of the next request */
};

struct rl_shard {
	pthread_mutex_t lock;
	struct rl_slot *slots;
	size_t count;
};

struct ratelimit {
	uint64_t seed;
	size_t nslots;		/* per shard, a power of two */
	struct rl_shard shards[RL_SHARDS];
};

struct ratelimit *
ratelimit_new(size_t max_keys)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));
	size_t per = 16;

	while (per * RL_SHARDS < max_keys)
		per *= 2;
	rl->nslots = per;
	if (getrandom(&rl->seed, sizeof(rl->seed), 0) != sizeof(rl->seed))
		fatalx("getrandom failed");
	for (size_t i = 0; i < RL_SHARDS; i++) {
		pthread_mutex_init(&rl->shards[i].lock, NULL);
		rl->shards[i].slots = xcalloc(per, sizeof(struct rl_slot));
	}
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	for (size_t i = 0; i < RL_SHARDS; i++) {
		pthread_mutex_destroy(&rl->shards[i].lock);
		free(rl->shards[i].slots);
	}
	free(rl);
}

/* Seeded with a secret per process: keys may be chosen by clients
 * (addresses) and are compared by hash only. Never 0 (an empty slot). */
static uint64_t
hash_key(uint64_t seed, const char *s, size_t len)
{
	uint64_t h = hash64(seed, s, len);

	return h != 0 ? h : 1;
}

/* h's slot in sh (locked), made (forgetting another) when not held: a
 * new key starts with its whole burst. */
static struct rl_slot *
slot_get(struct ratelimit *rl, struct rl_shard *sh, uint64_t h, uint64_t now_us)
{
	struct rl_slot *slot = NULL, *victim = NULL;

	for (size_t i = 0; i < RL_PROBE; i++) {
		struct rl_slot *s = &sh->slots[((h >> 6) + i) & (rl->nslots - 1)];

		if (s->hash == h) {
			slot = s;
			break;
		}
		/* Forget first an empty slot, else the key closest to having
		 * its whole burst again (the smallest arrival time). */
		if (victim == NULL || (victim->hash != 0 &&
		    (s->hash == 0 || s->tat_us < victim->tat_us)))
			victim = s;
	}
	if (slot == NULL) {
		slot = victim;
		if (slot->hash == 0)
			sh->count++;
		slot->hash = h;
		slot->tat_us = now_us;
	}
	return slot;
}

int
ratelimit_take(struct ratelimit *rl, char kind, const char *key, size_t len,
    uint64_t now_us, uint64_t interval_us, uint32_t burst, uint64_t *retry_after_us)
{
	uint64_t tat;

	return ratelimit_take_tat(rl, kind, key, len, now_us, interval_us, burst, retry_after_us,
	    &tat);
}

int
ratelimit_take_tat(struct ratelimit *rl, char kind, const char *key, size_t len,
    uint64_t now_us, uint64_t interval_us, uint32_t burst, uint64_t *retry_after_us,
    uint64_t *tat_out)
{
	uint64_t h = hash_key(rl->seed + (uint64_t)(unsigned char)kind * 0x9e3779b97f4a7c15ULL,
	    key, len);
	struct rl_shard *sh = &rl->shards[h & (RL_SHARDS - 1)];
	/* A key may be ahead of the clock by this much: burst - 1 requests
	 * beyond the one that is due now. */
	uint64_t tolerance = interval_us * (uint64_t)(burst - 1);
	struct rl_slot *slot;
	uint64_t tat;
	int ok;

	pthread_mutex_lock(&sh->lock);
	slot = slot_get(rl, sh, h, now_us);
	tat = slot->tat_us > now_us ? slot->tat_us : now_us;
	if (tat - now_us > tolerance) {
		*retry_after_us = tat - now_us - tolerance;
		ok = 0;
	} else {
		slot->tat_us = tat + interval_us;
		*retry_after_us = 0;
		ok = 1;
	}
	*tat_out = slot->tat_us;
	pthread_mutex_unlock(&sh->lock);
	return ok;
}

void
ratelimit_charge(struct ratelimit *rl, char kind, const char *key, size_t len,
    uint64_t now_us, uint64_t interval_us, uint32_t burst)
{
	uint64_t h = hash_key(rl->seed + (uint64_t)(unsigned char)kind * 0x9e3779b97f4a7c15ULL,
	    key, len);
	struct rl_shard *sh = &rl->shards[h & (RL_SHARDS - 1)];
	/* Empty: the whole burst spent, the next take refused for one
	 * interval. No further: traffic admitted elsewhere may exceed this
	 * cell's rate, and a debt would refuse for as long after it. */
	uint64_t empty = now_us + interval_us * (uint64_t)burst;
	struct rl_slot *slot;
	uint64_t tat;

	pthread_mutex_lock(&sh->lock);
	slot = slot_get(rl, sh, h, now_us);
	tat = (slot->tat_us > now_us ? slot->tat_us : now_us) + interval_us;
	if (tat > empty)
		tat = empty;
	if (tat > slot->tat_us)
		slot->tat_us = tat;
	pthread_mutex_unlock(&sh->lock);
}

void
ratelimit_refund(struct ratelimit *rl, char kind, const char *key, size_t len,
    uint64_t interval_us)
{
	uint64_t h = hash_key(rl->seed + (uint64_t)(unsigned char)kind * 0x9e3779b97f4a7c15ULL,
	    key, len);
	struct rl_shard *sh = &rl->shards[h & (RL_SHARDS - 1)];

	pthread_mutex_lock(&sh->lock);
	for (size_t i = 0; i < RL_PROBE; i++) {
		struct rl_slot *s = &sh->slots[((h >> 6) + i) & (rl->nslots - 1)];

		if (s->hash != h)
			continue;
		/* Below the clock is the same as at it: a full burst. */
		s->tat_us = s->tat_us > interval_us ? s->tat_us - interval_us : 0;
		break;
	}
	pthread_mutex_unlock(&sh->lock);
}

size_t
ratelimit_client_key(const char *addr, unsigned ipv6_prefix, char out[RATELIMIT_CLIENT_KEY_MAX])
{
	char text[RATELIMIT_CLIENT_KEY_MAX];
	unsigned char a[16];
	size_t len = strcspn(addr, "%");
	size_t n;

	if (ipv6_prefix > 128)
		ipv6_prefix = 128;
	/* The first byte keeps the forms apart: '4' + 4 bytes, '6' + the
	 * prefix length + 16 bytes, 't' + text. */
	if (len < sizeof(text)) {
		memcpy(text, addr, len);
		text[len] = '\0';
		if (inet_pton(AF_INET, text, a) == 1) {
			out[0] = '4';
			memcpy(out + 1, a, 4);
			n = 5;
			goto out;
		}
		if (inet_pton(AF_INET6, text, a) == 1) {
			if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
				out[0] = '4';
				memcpy(out + 1, a + 12, 4);
				n = 5;
				goto out;
			}
			for (unsigned bit = ipv6_prefix; bit < 128; bit++)
				a[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
			out[0] = '6';
			out[1] = (char)ipv6_prefix;
			memcpy(out + 2, a, 16);
			n = 18;
			goto out;
		}
	}
	n = strlen(addr);
	if (n > RATELIMIT_CLIENT_KEY_MAX - 1)
		n = RATELIMIT_CLIENT_KEY_MAX - 1;
	out[0] = 't';
	memcpy(out + 1, addr, n);
	n++;
out:
	return n;
}

size_t
ratelimit_count(struct ratelimit *rl)
{
	size_t n = 0;

	for (size_t i = 0; i < RL_SHARDS; i++) {
		pthread_mutex_lock(&rl->shards[i].lock);
		n += rl->shards[i].count;
		pthread_mutex_unlock(&rl->shards[i].lock);
	}
	return n;
}
