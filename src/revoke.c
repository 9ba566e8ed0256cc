/* revoke.c: see revoke.h. The in-memory set and its changes: an
 * open-addressing hash table (linear probing, backward-shift deletion, so
 * the table itself needs no deleted-slot markers) keyed with SipHash-2-4
 * under a random key: ids are chosen by others (token issuers, API
 * callers) and must not be able to degrade lookups. Readers take a read
 * lock; the rare writers serialize on wmu (journal, table, listener) and
 * take the write lock only to touch the table. The journal, the ids file
 * and the store's life are in revoke_store.c. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "revoke.h"
#include "revoke_int.h"
#include "xmalloc.h"

/* SipHash-2-4 (Aumasson, Bernstein), 64-bit output. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static uint64_t
siphash(uint64_t k0, uint64_t k1, const unsigned char *in, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = 0;
		for (int j = 0; j < 8; j++)
			m |= (uint64_t)in[i + j] << (8 * j);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < tail; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
revoke_id_hash(const struct revoke_store *st, const char *id, size_t len)
{
	return siphash(st->k0, st->k1, (const unsigned char *)id, len);
}

/* Index of the slot holding id, or -1. Caller holds a lock. */
ssize_t
revoke_table_find(const struct revoke_store *st, uint64_t h, const char *id, size_t len)
{
	size_t mask = st->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct slot *s = &st->slots[i];
		if (s->e == NULL)
			return -1;
		if (s->hash == h && s->e->len == len && memcmp(s->e->id, id, len) == 0)
			return (ssize_t)i;
	}
}

static void
table_place(struct slot *slots, size_t cap, uint64_t h, struct rentry *e)
{
	size_t i = h & (cap - 1);

	while (slots[i].e != NULL)
		i = (i + 1) & (cap - 1);
	slots[i].hash = h;
	slots[i].e = e;
}

/* Insert e (not present), growing to keep the load under one half.
 * Caller holds the write lock. */
void
revoke_table_insert(struct revoke_store *st, uint64_t h, struct rentry *e)
{
	if ((st->n + 1) * 2 > st->cap) {
		size_t ncap = st->cap * 2;
		struct slot *ns = xcalloc(ncap, sizeof(*ns));
		for (size_t i = 0; i < st->cap; i++)
			if (st->slots[i].e != NULL)
				table_place(ns, ncap, st->slots[i].hash, st->slots[i].e);
		free(st->slots);
		st->slots = ns;
		st->cap = ncap;
	}
	table_place(st->slots, st->cap, h, e);
	st->n++;
}

/* Remove the entry at slot i and free it; backward-shift the cluster.
 * Caller holds the write lock. */
void
revoke_table_delete(struct revoke_store *st, size_t i)
{
	size_t mask = st->cap - 1, j = i;

	free(st->slots[i].e);
	st->slots[i].e = NULL;
	for (;;) {
		size_t k;
		j = (j + 1) & mask;
		if (st->slots[j].e == NULL)
			break;
		k = st->slots[j].hash & mask;
		/* Leave j alone when its home k lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		st->slots[i] = st->slots[j];
		st->slots[j].e = NULL;
		i = j;
	}
	st->n--;
}

struct rentry *
revoke_rentry_new(const char *id, size_t len)
{
	struct rentry *e = xcalloc(1, sizeof(*e) + len + 1);

	memcpy(e->id, id, len);
	e->len = len;
	return e;
}

void
revoke_bump_generation(struct revoke_store *st)
{
	atomic_fetch_add(&st->gen, 1);
}

int
revoke_entry_is_revoked(const struct rentry *e)
{
	return e->in_file || (e->in_journal && e->revoked);
}


/* Set (or drop) the journal part of id. Caller holds wmu; the write lock
 * is taken here. */
void
revoke_mem_set(struct revoke_store *st, const char *id, size_t len, const struct revoke_mchange *c)
{
	uint64_t h = revoke_id_hash(st, id, len);
	struct rentry *e;
	ssize_t i;
	int was;

	pthread_rwlock_wrlock(&st->lock);
	if ((i = revoke_table_find(st, h, id, len)) < 0) {
		if (c->op == 0)
			goto unlock;
		e = revoke_rentry_new(id, len);
		e->remote = c->remote != 0;
		e->remote_op = e->remote && c->source == REVOKE_SRC_OPERATOR;
		revoke_remote_adjust(st, e, 1);
		revoke_table_insert(st, h, e);
		i = revoke_table_find(st, h, id, len);
	} else
		e = st->slots[i].e;
	was = revoke_entry_is_revoked(e);
	if (c->op == 0) {
		if (e->in_journal)
			st->njournal--;
		e->in_journal = 0;
	} else {
		if (!e->in_journal)
			st->njournal++;
		e->in_journal = 1;
		e->revoked = c->op == '+';
		e->expires_at = c->exp;
		e->version = c->version;
		e->source = (unsigned char)c->source;
		e->pending = c->pending != 0;
	}
	if (c->version > st->last_version)
		st->last_version = c->version;
	if (was != revoke_entry_is_revoked(e))
		atomic_store(&st->count, atomic_load(&st->count) + (was ? (size_t)-1 : 1));
	if (!e->in_journal && !e->in_file) {
		revoke_remote_adjust(st, e, -1);
		revoke_table_delete(st, (size_t)i);
	}
	revoke_bump_generation(st);
unlock:
	pthread_rwlock_unlock(&st->lock);
}

/* The entry for id, read without the lock: caller holds wmu (the only
 * place the table changes). */
struct rentry *
revoke_writer_get(const struct revoke_store *st, const char *id, size_t len)
{
	ssize_t i = revoke_table_find(st, revoke_id_hash(st, id, len), id, len);

	return i < 0 ? NULL : st->slots[i].e;
}

int
revoke_is_revoked(const struct revoke_store *st, const char *token_id, size_t len)
{
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&st->lock;
	char id[SG_REVOKE_MAX_ID_BYTES];
	uint64_t h;
	ssize_t i;
	int hit = 0;

	if (atomic_load_explicit(&st->count, memory_order_acquire) == 0 ||
	    (len = revoke_id_canon(token_id, len, id)) == 0)
		return 0;
	h = revoke_id_hash(st, id, len);
	pthread_rwlock_rdlock(lock);
	if ((i = revoke_table_find(st, h, id, len)) >= 0)
		hit = revoke_entry_is_revoked(st->slots[i].e);
	pthread_rwlock_unlock(lock);
	return hit;
}

int
revoke_holds(const struct revoke_store *st, const char *id, size_t len,
    enum revoke_source src)
{
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&st->lock;
	char cid[SG_REVOKE_MAX_ID_BYTES];
	const struct rentry *e;
	int64_t life;
	ssize_t i;
	int held = 0;

	if (atomic_load_explicit(&st->count, memory_order_acquire) == 0 ||
	    (len = revoke_id_canon(id, len, cid)) == 0)
		return 0;
	pthread_rwlock_rdlock(lock);
	if ((i = revoke_table_find(st, revoke_id_hash(st, cid, len), cid, len)) >= 0) {
		e = st->slots[i].e;
		/* Held when the entry lasts as long as learning it now would
		 * need: for ever, or token_life_s from now (it was made up to
		 * REVOKE_RELEARN_SLACK_S ago). */
		life = st->rc->token_life_s;
		held = e->in_journal && e->revoked && e->source >= (unsigned char)src &&
		    (e->expires_at == REVOKE_NEVER ||
		    (life > 0 && e->expires_at >= (int64_t)time(NULL) + life));
	}
	pthread_rwlock_unlock(lock);
	return held;
}

uint64_t
revoke_generation(const struct revoke_store *st)
{
	return atomic_load(&((struct revoke_store *)st)->gen);
}

size_t
revoke_count(const struct revoke_store *st)
{
	return atomic_load(&((struct revoke_store *)st)->count);
}

void
revoke_count_by_source(const struct revoke_store *st, size_t by[REVOKE_NSOURCES])
{
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&st->lock;

	memset(by, 0, REVOKE_NSOURCES * sizeof(*by));
	pthread_rwlock_rdlock(lock);
	for (size_t i = 0; i < st->cap; i++) {
		const struct rentry *e = st->slots[i].e;
		if (e == NULL)
			continue;
		if (e->in_journal && e->revoked && e->source < REVOKE_NSOURCES)
			by[e->source]++;
		else if (e->in_file)
			by[REVOKE_SRC_FILE]++;
	}
	pthread_rwlock_unlock(lock);
}

uint64_t
revoke_remote_refused(const struct revoke_store *st)
{
	return atomic_load(&((struct revoke_store *)st)->refused);
}

size_t
revoke_remote_count(const struct revoke_store *st)
{
	return st->nremote + st->nremote_op;
}

void
revoke_remote_adjust(struct revoke_store *st, const struct rentry *e, int sign)
{
	size_t *n = e->remote_op ? &st->nremote_op : &st->nremote;

	if (!e->remote)
		return;
	*n = sign > 0 ? *n + 1 : *n - 1;
}

const struct revoke_config *
revoke_store_config(const struct revoke_store *st)
{
	return st->rc;
}

const char *
revoke_result_str(enum revoke_result r)
{
	switch (r) {
	case REVOKE_OK: return "ok";
	case REVOKE_INVALID_ID: return "invalid token id";
	case REVOKE_NOT_FOUND: return "not revoked";
	case REVOKE_READONLY: return "revoked by the ids file";
	case REVOKE_IO: return "journal write failed";
	case REVOKE_FORBIDDEN: return "revoked by a stronger source";
	case REVOKE_FULL: return "too many entries from Redis";
	}
	return "unknown";
}

/* A version newer than every one this store has seen: the clock in
 * microseconds, or one more than the last when the clock is behind. */
static int64_t
next_version(struct revoke_store *st)
{
	struct timespec ts;
	int64_t v;

	clock_gettime(CLOCK_REALTIME, &ts);
	v = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	/* A journal written before remote versions were bounded may hold
	 * INT64_MAX: stay there (a revocation wins a tie) rather than wrap. */
	if (v <= st->last_version)
		v = st->last_version < INT64_MAX ? st->last_version + 1 : INT64_MAX;
	return v;
}

/* The latest version taken from Redis: SG_REVOKE_MAX_VERSION_AHEAD_S
 * ahead of this clock. */
static int64_t
latest_remote_version(void)
{
	return ((int64_t)time(NULL) + SG_REVOKE_MAX_VERSION_AHEAD_S) * 1000000;
}
/* The expiry of a revocation whose token expiry is unknown, made now:
 * every token of that id that verifies now stops verifying within
 * token_life_s; without that bound, never. The slack lets revoke_holds
 * skip the same revocation learnt again within it (a repeated DELETE)
 * without a journal write, while the entry still covers token_life_s
 * from then. */
static int64_t
bounded_expiry(const struct revoke_store *st)
{
	if (st->rc->token_life_s <= 0)
		return REVOKE_NEVER;
	return (int64_t)time(NULL) + st->rc->token_life_s + REVOKE_RELEARN_SLACK_S;
}

/* A local change (operator or the API) of id to op. */
static enum revoke_result
local_change(struct revoke_store *st, char op, const char *raw, size_t rawlen, int64_t exp,
    enum revoke_source src)
{
	char id[SG_REVOKE_MAX_ID_BYTES], line[SG_REVOKE_MAX_ID_BYTES + 80];
	struct revoke_mchange c = { .op = op, .source = src };
	struct revoke_change lc;
	struct rentry *e;
	enum revoke_result res = REVOKE_OK;
	size_t len;
	int n;

	if ((len = revoke_id_canon(raw, rawlen, id)) == 0 || src == REVOKE_SRC_FILE)
		return REVOKE_INVALID_ID;
	pthread_mutex_lock(&st->wmu);
	e = revoke_writer_get(st, id, len);
	if (op == '+') {
		c.exp = exp > 0 ? exp : bounded_expiry(st);
		if (e != NULL && e->in_journal && e->revoked) {
			/* Again: the later expiry and the stronger source. */
			if (e->expires_at > c.exp)
				c.exp = e->expires_at;
			if (e->source > c.source)
				c.source = (enum revoke_source)e->source;
			if (c.exp == e->expires_at && c.source == e->source)
				goto out;
		}
	} else {
		if (e == NULL || !revoke_entry_is_revoked(e)) {
			res = REVOKE_NOT_FOUND;
			goto out;
		}
		if (e->in_file) {
			res = REVOKE_READONLY;
			goto out;
		}
		if (src < e->source) {
			res = REVOKE_FORBIDDEN;
			goto out;
		}
		c.exp = (int64_t)time(NULL) + st->rc->retention_s;
	}
	c.version = next_version(st);
	c.pending = st->rc->redis_host != NULL;
	n = revoke_format_line(line, sizeof(line), op, id, len, c.exp, c.version, c.source, c.pending);
	if (revoke_journal_append(st, line, (size_t)n, 1) != 0) {
		res = REVOKE_IO;
		/* A revocation is enforced even when the journal failed
		 * (fail closed); a reinstatement is not done. */
		if (op == '-')
			goto out;
	}
	revoke_mem_set(st, id, len, &c);
	if (st->lfn != NULL) {
		lc.op = op;
		lc.id = id;
		lc.len = len;
		lc.expires_at = c.exp;
		lc.version = c.version;
		lc.source = c.source;
		st->lfn(st->larg, &lc);
	}
	revoke_maybe_autocompact(st);
out:
	pthread_mutex_unlock(&st->wmu);
	return res;
}

enum revoke_result
revoke_add_src(struct revoke_store *st, const char *id, size_t len, int64_t expires_at,
    enum revoke_source src)
{
	return local_change(st, '+', id, len, expires_at, src);
}

enum revoke_result
revoke_add(struct revoke_store *st, const char *id, size_t len, int64_t expires_at)
{
	return local_change(st, '+', id, len, expires_at, REVOKE_SRC_OPERATOR);
}

enum revoke_result
revoke_remove_src(struct revoke_store *st, const char *id, size_t len, enum revoke_source src)
{
	return local_change(st, '-', id, len, 0, src);
}

enum revoke_result
revoke_remove(struct revoke_store *st, const char *id, size_t len)
{
	return local_change(st, '-', id, len, 0, REVOKE_SRC_OPERATOR);
}

/* 1 when change (op, version) is newer than e's journal part. On equal
 * versions a revocation wins: fail closed. */
static int
newer(const struct rentry *e, char op, int64_t version)
{
	if (e == NULL || !e->in_journal)
		return 1;
	if (version != e->version)
		return version > e->version;
	return op == '+' && !e->revoked;
}

/* The expiry a change from Redis is stored with. Anyone who can write to
 * Redis could claim 2^63; with a bound on token lifetimes no token this
 * gateway accepts from now on outlives now + token_life_s, so a
 * revocation need not last longer. A tombstone is kept at least
 * retention_s, as a local one (it only has to outlast the revocations it
 * beat, which are capped the same way). Without a bound, as sent. */
static int64_t
remote_expiry(const struct revoke_store *st, char op, int64_t exp)
{
	int64_t life = st->rc->token_life_s, cap;

	if (life <= 0)
		return exp;
	if (op == '-' && st->rc->retention_s > life)
		life = st->rc->retention_s;
	cap = (int64_t)time(NULL) + life;
	return exp > cap ? cap : exp;
}

enum revoke_result
revoke_apply_remote(struct revoke_store *st, const struct revoke_change *rc, int *applied)
{
	char id[SG_REVOKE_MAX_ID_BYTES], line[SG_REVOKE_MAX_ID_BYTES + 80];
	struct revoke_mchange c = { .op = rc->op, .exp = rc->expires_at, .version = rc->version,
	    .source = rc->source, .remote = 1 };
	struct rentry *e;
	enum revoke_result res = REVOKE_OK;
	size_t len;
	int n;

	if (applied != NULL)
		*applied = 0;
	if ((len = revoke_id_canon(rc->id, rc->len, id)) == 0 || rc->version < 0 ||
	    (rc->op != '+' && rc->op != '-') || (unsigned)rc->source >= REVOKE_SRC_FILE)
		return REVOKE_INVALID_ID;
	if (rc->version > latest_remote_version()) {
		/* Dated too far ahead (see SG_REVOKE_MAX_VERSION_AHEAD_S): a
		 * reinstatement is refused, a revocation kept but dated at
		 * the bound, so that neither fails open. Logged once: each
		 * message naming such an id would log it again. */
		static atomic_int logged;
		if (atomic_exchange(&logged, 1) == 0)
			log_warnx("revocations: a change of %.*s from Redis is dated %lld s "
			    "ahead of this clock: %s (logged once)", (int)len, id,
			    (long long)(rc->version / 1000000 - (int64_t)time(NULL)),
			    rc->op == '-' ? "refused" : "kept, dated at the bound");
		if (rc->op == '-') {
			atomic_fetch_add(&st->refused, 1);
			return REVOKE_INVALID_ID;
		}
		c.version = latest_remote_version();
	}
	pthread_mutex_lock(&st->wmu);
	c.exp = remote_expiry(st, c.op, c.exp);
	e = revoke_writer_get(st, id, len);
	/* A tombstone for an id we do not hold changes nothing. */
	if (!newer(e, rc->op, rc->version) || (rc->op == '-' && (e == NULL || !e->in_journal)))
		goto out;
	if (rc->op == '+' && (e == NULL || !e->in_journal) &&
	    (rc->source == REVOKE_SRC_OPERATOR ? st->nremote_op : st->nremote) >=
	    (size_t)st->rc->redis_max_entries) {
		atomic_fetch_add(&st->refused, 1);
		if (!st->full_logged)
			log_warnx("revocations: %lld %s entries learnt from Redis, the most "
			    "redis_max_entries allows: refusing more",
			    (long long)(rc->source == REVOKE_SRC_OPERATOR ? st->nremote_op : st->nremote),
			    rc->source == REVOKE_SRC_OPERATOR ? "operator" : "API");
		st->full_logged = 1;
		res = REVOKE_FULL;
		goto out;
	}
	n = revoke_format_line(line, sizeof(line), c.op, id, len, c.exp, c.version, c.source, 0);
	if (revoke_journal_append(st, line, (size_t)n, 1) != 0) {
		res = REVOKE_IO;
		if (c.op == '-')
			goto out;
	}
	revoke_mem_set(st, id, len, &c);
	if (applied != NULL)
		*applied = 1;
	revoke_maybe_autocompact(st);
out:
	pthread_mutex_unlock(&st->wmu);
	return res;
}

void
revoke_mark_pushed(struct revoke_store *st, const char *raw, size_t rawlen, int64_t version)
{
	char id[SG_REVOKE_MAX_ID_BYTES], line[SG_REVOKE_MAX_ID_BYTES + 40];
	struct rentry *e;
	size_t len;
	int n;

	if ((len = revoke_id_canon(raw, rawlen, id)) == 0)
		return;
	pthread_mutex_lock(&st->wmu);
	e = revoke_writer_get(st, id, len);
	if (e != NULL && e->in_journal && e->pending && e->version == version) {
		n = snprintf(line, sizeof(line), "a %.*s %lld\n", (int)len, id, (long long)version);
		(void)revoke_journal_append(st, line, (size_t)n, 0);
		pthread_rwlock_wrlock(&st->lock);
		e->pending = 0;
		pthread_rwlock_unlock(&st->lock);
		revoke_maybe_autocompact(st);
	}
	pthread_mutex_unlock(&st->wmu);
}

void
revoke_store_set_listener(struct revoke_store *st, revoke_listener_fn *fn, void *arg)
{
	pthread_mutex_lock(&st->wmu);
	st->lfn = fn;
	st->larg = arg;
	pthread_mutex_unlock(&st->wmu);
}
size_t
revoke_snapshot(const struct revoke_store *st, int pending_only, struct revoke_entry **out)
{
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&st->lock;
	struct revoke_entry *v = NULL;
	size_t n = 0;

	pthread_rwlock_rdlock(lock);
	if (st->n > 0)
		v = xcalloc(st->n, sizeof(*v));
	for (size_t i = 0; i < st->cap; i++) {
		const struct rentry *e = st->slots[i].e;
		if (e == NULL || !e->in_journal || (pending_only && !e->pending))
			continue;
		v[n].id = xstrndup(e->id, e->len);
		v[n].len = e->len;
		v[n].op = e->revoked ? '+' : '-';
		v[n].expires_at = e->expires_at;
		v[n].version = e->version;
		v[n].source = (enum revoke_source)e->source;
		v[n].pending = e->pending;
		n++;
	}
	pthread_rwlock_unlock(lock);
	*out = v;
	return n;
}

void
revoke_snapshot_free(struct revoke_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].id);
	free(v);
}

static int
list_item_cmp(const void *a, const void *b)
{
	const struct rentry *x = *(const struct rentry *const *)a;
	const struct rentry *y = *(const struct rentry *const *)b;

	return strcmp(x->id, y->id);
}

json_t *
revoke_list_json(const struct revoke_store *st)
{
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&st->lock;
	const struct rentry **items;
	json_t *arr = json_array(), *obj = NULL;
	size_t n = 0;

	if (arr == NULL)
		fatalx("revocations: out of memory");
	pthread_rwlock_rdlock(lock);
	items = xcalloc(st->n + 1, sizeof(*items));
	for (size_t i = 0; i < st->cap; i++)
		if (st->slots[i].e != NULL && revoke_entry_is_revoked(st->slots[i].e))
			items[n++] = st->slots[i].e;
	qsort(items, n, sizeof(*items), list_item_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct rentry *e = items[i];
		int file = e->in_file;
		json_t *it = json_pack("{s:s, s:o, s:s, s:o}", "id", e->id, "expires_at",
		    file || e->expires_at == REVOKE_NEVER ? json_null() :
		    json_integer(e->expires_at), "source",
		    revoke_source_str(file ? REVOKE_SRC_FILE : (enum revoke_source)e->source),
		    "version", file ? json_null() : json_integer(e->version));
		if (it == NULL || json_array_append_new(arr, it) != 0)
			fatalx("revocations: out of memory");
	}
	obj = json_pack("{s:o, s:I, s:I}", "revocations", arr, "count", (json_int_t)n,
	    "generation", (json_int_t)revoke_generation(st));
	pthread_rwlock_unlock(lock);
	free(items);
	if (obj == NULL)
		fatalx("revocations: out of memory");
	return obj;
}
