/* revoke.c: see revoke.h. The in-memory set is an open-addressing hash
 * table (linear probing, backward-shift deletion, so no tombstones) keyed
 * with SipHash-2-4 under a random key: ids are chosen by others (token
 * issuers, API callers) and must not be able to degrade lookups. Readers
 * take a read lock; the rare writers serialize on wmu (journal, table,
 * listener) and take the write lock only to touch the table. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "revoke.h"
#include "xmalloc.h"

#define REVOKE_MIN_SLOTS	64
/* Compact on our own when the journal holds this many more lines than
 * live entries (re-revocations and reinstatements pile up). */
#define REVOKE_AUTOCOMPACT_SLACK	1024

/* An id's state. The journal part (in_journal) is either a revocation
 * (revoked: until expires_at) or a tombstone (!revoked: remembered until
 * expires_at so that an older revocation arriving later loses). */
struct rentry {
	int64_t expires_at;		/* journal part; meaningless if !in_journal */
	int64_t version;		/* journal part */
	unsigned char source;		/* enum revoke_source of the journal part */
	unsigned in_journal:1;
	unsigned revoked:1;
	unsigned pending:1;		/* not yet acknowledged by Redis */
	unsigned remote:1;		/* created by a change from Redis */
	unsigned in_file:1;
	size_t len;
	char id[];			/* NUL-terminated */
};

struct slot {
	uint64_t hash;
	struct rentry *e;		/* NULL: free */
};

struct revoke_store {
	struct revoke_config *rc;

	pthread_rwlock_t lock;		/* the table */
	struct slot *slots;
	size_t cap;			/* power of two */
	size_t n;
	atomic_size_t count;		/* revoked ids, readable without the lock */
	atomic_uint_fast64_t gen;
	uint64_t k0, k1;		/* SipHash key */

	pthread_mutex_t wmu;		/* writers: everything below */
	int jfd;			/* journal, O_APPEND; -1: memory only */
	int lockfd;
	char *tmp_path;
	char *dir;
	off_t jsize;			/* bytes of complete lines */
	size_t jlines;			/* lines in the journal file */
	size_t njournal;		/* entries with in_journal */
	size_t nremote;			/* entries with remote */
	int64_t last_version;
	int upgrade;			/* format 1 replayed: rewrite it */
	int64_t legacy_seq;		/* versions of format 1 lines */
	int full_logged;
	atomic_uint_fast64_t refused;	/* REVOKE_FULL results */
	revoke_listener_fn *lfn;
	void *larg;
};

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

static uint64_t
id_hash(const struct revoke_store *st, const char *id, size_t len)
{
	return siphash(st->k0, st->k1, (const unsigned char *)id, len);
}

/* Index of the slot holding id, or -1. Caller holds a lock. */
static ssize_t
table_find(const struct revoke_store *st, uint64_t h, const char *id, size_t len)
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
static void
table_insert(struct revoke_store *st, uint64_t h, struct rentry *e)
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
static void
table_delete(struct revoke_store *st, size_t i)
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

static struct rentry *
rentry_new(const char *id, size_t len)
{
	struct rentry *e = xcalloc(1, sizeof(*e) + len + 1);

	memcpy(e->id, id, len);
	e->len = len;
	return e;
}

static void
bump_generation(struct revoke_store *st)
{
	atomic_fetch_add(&st->gen, 1);
}

static int
is_revoked_entry(const struct rentry *e)
{
	return e->in_file || (e->in_journal && e->revoked);
}

/* A change to apply to the table. */
struct mchange {
	char op;			/* '+', '-', or 0: drop the journal part */
	int64_t exp, version;
	enum revoke_source source;
	int pending, remote;
};

/* Set (or drop) the journal part of id. Caller holds wmu; the write lock
 * is taken here. */
static void
mem_set(struct revoke_store *st, const char *id, size_t len, const struct mchange *c)
{
	uint64_t h = id_hash(st, id, len);
	struct rentry *e;
	ssize_t i;
	int was;

	pthread_rwlock_wrlock(&st->lock);
	if ((i = table_find(st, h, id, len)) < 0) {
		if (c->op == 0)
			goto unlock;
		e = rentry_new(id, len);
		e->remote = c->remote != 0;
		st->nremote += e->remote;
		table_insert(st, h, e);
		i = table_find(st, h, id, len);
	} else
		e = st->slots[i].e;
	was = is_revoked_entry(e);
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
	if (was != is_revoked_entry(e))
		atomic_store(&st->count, atomic_load(&st->count) + (was ? (size_t)-1 : 1));
	if (!e->in_journal && !e->in_file) {
		st->nremote -= e->remote;
		table_delete(st, (size_t)i);
	}
	bump_generation(st);
unlock:
	pthread_rwlock_unlock(&st->lock);
}

/* The entry for id, read without the lock: caller holds wmu (the only
 * place the table changes). */
static struct rentry *
writer_get(const struct revoke_store *st, const char *id, size_t len)
{
	ssize_t i = table_find(st, id_hash(st, id, len), id, len);

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
	h = id_hash(st, id, len);
	pthread_rwlock_rdlock(lock);
	if ((i = table_find(st, h, id, len)) >= 0)
		hit = is_revoked_entry(st->slots[i].e);
	pthread_rwlock_unlock(lock);
	return hit;
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

uint64_t
revoke_remote_refused(const struct revoke_store *st)
{
	return atomic_load(&((struct revoke_store *)st)->refused);
}

size_t
revoke_remote_count(const struct revoke_store *st)
{
	return st->nremote;
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

/* Write all of buf to fd. 0 or -1 (errno set). */
static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Append one line to the journal and (sync) fdatasync it. On a failed
 * write the file is cut back to its last complete line, so a later
 * append never leaves a corrupt line in the middle. Caller holds wmu. 0
 * or -1 (logged). */
static int
journal_append(struct revoke_store *st, const char *line, size_t len, int sync)
{
	if (st->jfd < 0)
		return 0;
	if (write_all(st->jfd, line, len) != 0) {
		log_warn("revocations: %s: write", st->rc->journal);
		if (ftruncate(st->jfd, st->jsize) != 0)
			log_warn("revocations: %s: truncate", st->rc->journal);
		return -1;
	}
	st->jsize += (off_t)len;
	st->jlines++;
	if (sync && fdatasync(st->jfd) != 0) {
		log_warn("revocations: %s: fdatasync", st->rc->journal);
		return -1;
	}
	return 0;
}

/* The journal line of a change (format 2), with its newline. */
static int
format_line(char *buf, size_t cap, char op, const char *id, size_t len, int64_t exp,
    int64_t version, enum revoke_source src, int pending)
{
	return snprintf(buf, cap, "%c %.*s %lld %lld %s%s\n", op, (int)len, id, (long long)exp,
	    (long long)version, revoke_source_str(src), pending ? " p" : "");
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
	if (v <= st->last_version)
		v = st->last_version + 1;
	return v;
}

static int compact_locked(struct revoke_store *st, time_t now);

static void
maybe_autocompact(struct revoke_store *st)
{
	if (st->jfd >= 0 && st->jlines > REVOKE_AUTOCOMPACT_SLACK &&
	    st->jlines > 4 * st->njournal)
		(void)compact_locked(st, time(NULL));
}

/* A local change (operator or the API) of id to op. */
static enum revoke_result
local_change(struct revoke_store *st, char op, const char *raw, size_t rawlen, int64_t exp,
    enum revoke_source src)
{
	char id[SG_REVOKE_MAX_ID_BYTES], line[SG_REVOKE_MAX_ID_BYTES + 80];
	struct mchange c = { .op = op, .source = src };
	struct revoke_change lc;
	struct rentry *e;
	enum revoke_result res = REVOKE_OK;
	size_t len;
	int n;

	if ((len = revoke_id_canon(raw, rawlen, id)) == 0 || src == REVOKE_SRC_FILE)
		return REVOKE_INVALID_ID;
	pthread_mutex_lock(&st->wmu);
	e = writer_get(st, id, len);
	if (op == '+') {
		c.exp = exp > 0 ? exp : REVOKE_NEVER;
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
		if (e == NULL || !is_revoked_entry(e)) {
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
	n = format_line(line, sizeof(line), op, id, len, c.exp, c.version, c.source, c.pending);
	if (journal_append(st, line, (size_t)n, 1) != 0) {
		res = REVOKE_IO;
		/* A revocation is enforced even when the journal failed
		 * (fail closed); a reinstatement is not done. */
		if (op == '-')
			goto out;
	}
	mem_set(st, id, len, &c);
	if (st->lfn != NULL) {
		lc.op = op;
		lc.id = id;
		lc.len = len;
		lc.expires_at = c.exp;
		lc.version = c.version;
		lc.source = c.source;
		st->lfn(st->larg, &lc);
	}
	maybe_autocompact(st);
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

enum revoke_result
revoke_apply_remote(struct revoke_store *st, const struct revoke_change *rc, int *applied)
{
	char id[SG_REVOKE_MAX_ID_BYTES], line[SG_REVOKE_MAX_ID_BYTES + 80];
	struct mchange c = { .op = rc->op, .exp = rc->expires_at, .version = rc->version,
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
	pthread_mutex_lock(&st->wmu);
	e = writer_get(st, id, len);
	/* A tombstone for an id we do not hold changes nothing. */
	if (!newer(e, rc->op, rc->version) || (rc->op == '-' && (e == NULL || !e->in_journal)))
		goto out;
	if (rc->op == '+' && (e == NULL || !e->in_journal) &&
	    st->nremote >= (size_t)st->rc->redis_max_entries) {
		atomic_fetch_add(&st->refused, 1);
		if (!st->full_logged)
			log_warnx("revocations: %lld entries learnt from Redis, the most "
			    "redis_max_entries allows: refusing more", (long long)st->nremote);
		st->full_logged = 1;
		res = REVOKE_FULL;
		goto out;
	}
	n = format_line(line, sizeof(line), c.op, id, len, c.exp, c.version, c.source, 0);
	if (journal_append(st, line, (size_t)n, 1) != 0) {
		res = REVOKE_IO;
		if (c.op == '-')
			goto out;
	}
	mem_set(st, id, len, &c);
	if (applied != NULL)
		*applied = 1;
	maybe_autocompact(st);
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
	e = writer_get(st, id, len);
	if (e != NULL && e->in_journal && e->pending && e->version == version) {
		n = snprintf(line, sizeof(line), "a %.*s %lld\n", (int)len, id, (long long)version);
		(void)journal_append(st, line, (size_t)n, 0);
		pthread_rwlock_wrlock(&st->lock);
		e->pending = 0;
		pthread_rwlock_unlock(&st->lock);
		maybe_autocompact(st);
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

/* fsync the folder holding the journal so a rename in it is durable. */
static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = -1;

	if (fd < 0)
		goto out;
	if (fsync(fd) != 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Rewrite the journal (format 2) with the live entries: revocations
 * whose expiry is > now, tombstones not yet past their time, with their
 * pending marks; drop the others from memory. Caller holds wmu. 0 or -1
 * (logged). */
static int
compact_locked(struct revoke_store *st, time_t now)
{
	const size_t hlen = strlen(REVOKE_JOURNAL_HEADER);
	char *buf = xmalloc(hlen + 1);
	size_t blen = hlen, bcap = hlen + 1, live = 0, nexp = 0;
	struct rentry **expired = NULL;
	int fd = -1, nfd = -1, rc = -1;

	memcpy(buf, REVOKE_JOURNAL_HEADER, hlen);
	for (size_t i = 0; i < st->cap; i++) {
		struct rentry *e = st->slots[i].e;
		if (e == NULL || !e->in_journal)
			continue;
		if (e->expires_at <= (int64_t)now) {
			expired = xreallocarray(expired, nexp + 1, sizeof(*expired));
			expired[nexp++] = e;
			continue;
		}
		if (bcap - blen < e->len + 80) {
			bcap = (bcap + e->len + 80) * 2;
			buf = xreallocarray(buf, bcap, 1);
		}
		blen += (size_t)format_line(buf + blen, bcap - blen, e->revoked ? '+' : '-',
		    e->id, e->len, e->expires_at, e->version, (enum revoke_source)e->source,
		    e->pending);
		live++;
	}
	if (nexp == 0 && !st->upgrade && (st->jfd < 0 || st->jlines == live)) {
		rc = 0;
		goto out;
	}
	if (st->jfd >= 0) {
		fd = open(st->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write_all(fd, buf, blen) != 0 || fsync(fd) != 0) {
			log_warn("revocations: compaction: %s", st->tmp_path);
			unlink(st->tmp_path);
			goto out;
		}
		close(fd);
		fd = -1;
		if (rename(st->tmp_path, st->rc->journal) != 0) {
			log_warn("revocations: compaction: rename to %s", st->rc->journal);
			unlink(st->tmp_path);
			goto out;
		}
		if (sync_dir(st->dir) != 0)
			log_warn("revocations: compaction: fsync %s", st->dir);
		nfd = open(st->rc->journal, O_RDWR | O_APPEND | O_CLOEXEC);
		if (nfd < 0) {
			/* The new journal is in place but we cannot append to
			 * it: keep appending to the old file would lose lines,
			 * so stop being durable and say so loudly. */
			log_warn("revocations: %s: reopen after compaction; NOT DURABLE",
			    st->rc->journal);
			close(st->jfd);
			st->jfd = -1;
			goto out;
		}
		close(st->jfd);
		st->jfd = nfd;
		st->jsize = (off_t)blen;
		st->jlines = live;
		if (st->upgrade)
			log_info("revocations: %s rewritten in format 2", st->rc->journal);
		st->upgrade = 0;
	}
	for (size_t i = 0; i < nexp; i++) {
		struct mchange drop = { .op = 0 };
		mem_set(st, expired[i]->id, expired[i]->len, &drop);
	}
	if (nexp > 0)
		log_info("revocations: compacted %zu expired entr%s, %zu left", nexp,
		    nexp == 1 ? "y" : "ies", live);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(expired);
	free(buf);
	return rc;
}

int
revoke_compact(struct revoke_store *st, time_t now)
{
	int rc;

	pthread_mutex_lock(&st->wmu);
	rc = compact_locked(st, now);
	pthread_mutex_unlock(&st->wmu);
	return rc;
}

/* Read a whole file into a new buffer. 0 or -1 (errno set). */
static int
read_fd(int fd, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);

	for (;;) {
		ssize_t r;
		if (n == cap)
			buf = xreallocarray(buf, cap *= 2, 1);
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* One journal line into the table: format 2 lines are the changes in
 * the order they were applied; format 1 lines get versions in line order
 * (all older than any format 2 one) and are an operator's. */
static int
replay_event(void *arg, const struct revoke_event *ev)
{
	struct revoke_store *st = arg;
	char id[SG_REVOKE_MAX_ID_BYTES];
	struct mchange c = { .op = ev->op, .exp = ev->expires_at, .version = ev->version,
	    .source = ev->source, .pending = ev->pending };
	struct rentry *e;
	size_t len = revoke_id_canon(ev->id, ev->len, id);

	st->jlines++;
	if (ev->op == 'a') {
		e = writer_get(st, id, len);
		if (e != NULL && e->in_journal && e->version == ev->version)
			e->pending = 0;
		return 0;
	}
	if (ev->format == 1) {
		st->upgrade = 1;
		c.version = ++st->legacy_seq;
		if (ev->op == '-') {
			/* A format 1 reinstatement: forget the id. */
			c.op = 0;
		}
	}
	mem_set(st, id, len, &c);
	return 0;
}

/* Take the lock file, open and replay the journal. 0 or -1 (in errs). */
static int
journal_open(struct revoke_store *st, struct errlist *errs)
{
	const char *path = st->rc->journal;
	char *lockpath = NULL, *buf = NULL, *slash;
	size_t len = 0, used = 0;
	int rc = -1;

	xasprintf(&lockpath, "%s.lock", path);
	xasprintf(&st->tmp_path, "%s.tmp", path);
	st->dir = xstrdup(path);
	if ((slash = strrchr(st->dir, '/')) == NULL) {
		free(st->dir);
		st->dir = xstrdup(".");
	} else if (slash == st->dir)
		slash[1] = '\0';
	else
		*slash = '\0';

	if ((st->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		errlist_add(errs, "%s: %s", lockpath, strerror(errno));
		goto out;
	}
	if (flock(st->lockfd, LOCK_EX | LOCK_NB) != 0) {
		errlist_add(errs, "%s: %s", lockpath, errno == EWOULDBLOCK ?
		    "the journal is in use by another process" : strerror(errno));
		goto out;
	}
	if ((st->jfd = open(path, O_RDWR | O_APPEND | O_CLOEXEC)) < 0 && errno == ENOENT) {
		/* A new journal: its name must be durable too. */
		st->jfd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (st->jfd >= 0 && sync_dir(st->dir) != 0) {
			errlist_add(errs, "%s: fsync: %s", st->dir, strerror(errno));
			goto out;
		}
	}
	if (st->jfd < 0) {
		errlist_add(errs, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (read_fd(st->jfd, &buf, &len) != 0) {
		errlist_add(errs, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (revoke_journal_parse(buf, len, path, replay_event, st, &used, errs) != 0)
		goto out;
	if (used == 0) {
		/* New or empty (or only a torn line): start in format 2. */
		const char *h = REVOKE_JOURNAL_HEADER;
		used = strlen(h);
		st->upgrade = 0;
		if (ftruncate(st->jfd, 0) != 0 || write_all(st->jfd, h, used) != 0 ||
		    fsync(st->jfd) != 0) {
			errlist_add(errs, "%s: %s", path, strerror(errno));
			goto out;
		}
	} else if (used < len) {
		/* A crash in the middle of an append: the event was never
		 * acknowledged, so dropping it is right. */
		log_warnx("revocations: %s: dropping a torn last line (%zu bytes)", path,
		    len - used);
		if (ftruncate(st->jfd, (off_t)used) != 0 || fsync(st->jfd) != 0) {
			errlist_add(errs, "%s: truncate: %s", path, strerror(errno));
			goto out;
		}
	}
	st->jsize = (off_t)used;
	rc = 0;
out:
	free(buf);
	free(lockpath);
	return rc;
}

struct idlist {
	char **ids;
	size_t *lens;
	size_t n;
};

static void
idlist_free(struct idlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->ids[i]);
	free(l->ids);
	free(l->lens);
	memset(l, 0, sizeof(*l));
}

/* Read the ids file: one id per line, blank lines and lines starting with
 * '#' ignored, surrounding blanks trimmed, and an id may be followed by
 * blanks and a '#' comment. Ids in canonical form into l. 0 or -1 (in
 * errs; l empty). */
static int
ids_file_read(const char *path, struct idlist *l, struct errlist *errs)
{
	char *buf = NULL, id[SG_REVOKE_MAX_ID_BYTES];
	size_t len = 0, lineno = 0, off = 0, idlen;
	int fd, rc = -1;

	memset(l, 0, sizeof(*l));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || read_fd(fd, &buf, &len) != 0) {
		errlist_add(errs, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
	while (off < len) {
		const char *ln = buf + off, *nl = memchr(ln, '\n', len - off);
		size_t n = nl ? (size_t)(nl - ln) : len - off, a = 0, b, c;

		off += n + (nl != NULL);
		lineno++;
		while (a < n && (ln[a] == ' ' || ln[a] == '\t' || ln[a] == '\r'))
			a++;
		if (a == n || ln[a] == '#')
			continue;
		for (b = a; b < n && ln[b] != ' ' && ln[b] != '\t' && ln[b] != '\r'; b++)
			;
		for (c = b; c < n && (ln[c] == ' ' || ln[c] == '\t' || ln[c] == '\r'); c++)
			;
		if ((c < n && (ln[c] != '#' || c == b)) ||
		    (idlen = revoke_id_canon(ln + a, b - a, id)) == 0) {
			errlist_add(errs, "%s:%zu: not a valid token id", path, lineno);
			rc = -1;
			continue;
		}
		l->ids = xreallocarray(l->ids, l->n + 1, sizeof(*l->ids));
		l->lens = xreallocarray(l->lens, l->n + 1, sizeof(*l->lens));
		l->ids[l->n] = xstrndup(id, idlen);
		l->lens[l->n++] = idlen;
	}
out:
	if (rc != 0)
		idlist_free(l);
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* Make l the ids file's entries, replacing the previous ones, in one step
 * under the write lock (no moment where an id listed in both files is
 * not revoked). Caller holds wmu. */
static void
ids_file_apply(struct revoke_store *st, const struct idlist *l)
{
	struct rentry **gone = NULL;
	size_t ngone = 0, count = 0;

	pthread_rwlock_wrlock(&st->lock);
	for (size_t i = 0; i < st->cap; i++)
		if (st->slots[i].e != NULL)
			st->slots[i].e->in_file = 0;
	for (size_t i = 0; i < l->n; i++) {
		uint64_t h = id_hash(st, l->ids[i], l->lens[i]);
		ssize_t k = table_find(st, h, l->ids[i], l->lens[i]);
		struct rentry *e;
		if (k < 0) {
			e = rentry_new(l->ids[i], l->lens[i]);
			table_insert(st, h, e);
		} else
			e = st->slots[k].e;
		e->in_file = 1;
	}
	for (size_t i = 0; i < st->cap; i++) {
		struct rentry *e = st->slots[i].e;
		if (e == NULL)
			continue;
		if (!e->in_file && !e->in_journal) {
			gone = xreallocarray(gone, ngone + 1, sizeof(*gone));
			gone[ngone++] = e;
		} else
			count += is_revoked_entry(e);
	}
	for (size_t i = 0; i < ngone; i++) {
		ssize_t k = table_find(st, id_hash(st, gone[i]->id, gone[i]->len), gone[i]->id,
		    gone[i]->len);
		if (k >= 0) {
			st->nremote -= gone[i]->remote;
			table_delete(st, (size_t)k);
		}
	}
	atomic_store(&st->count, count);
	bump_generation(st);
	pthread_rwlock_unlock(&st->lock);
	free(gone);
}

/* Load the ids file into the store. 0 or -1 (in errs). */
static int
ids_file_load(struct revoke_store *st, const char *path, struct errlist *errs)
{
	struct idlist l;

	if (ids_file_read(path, &l, errs) != 0)
		return -1;
	ids_file_apply(st, &l);
	log_debug("revocations: %zu id(s) from %s", l.n, path);
	idlist_free(&l);
	return 0;
}

int
revoke_store_reload(struct revoke_store *st, const struct revoke_config *rc,
    struct errlist *errs)
{
	struct idlist l = { 0 };
	char *path = NULL;

	if (rc->ids_file != NULL && ids_file_read(rc->ids_file, &l, errs) != 0)
		return -1;
	pthread_mutex_lock(&st->wmu);
	ids_file_apply(st, &l);
	path = st->rc->ids_file;
	st->rc->ids_file = rc->ids_file != NULL ? xstrdup(rc->ids_file) : NULL;
	st->rc->retention_s = rc->retention_s;
	st->rc->redis_max_entries = rc->redis_max_entries;
	st->full_logged = 0;
	pthread_mutex_unlock(&st->wmu);
	if (rc->ids_file != NULL)
		log_info("revocations: %zu id(s) from %s", l.n, rc->ids_file);
	else if (path != NULL)
		log_info("revocations: no ids file any more");
	free(path);
	idlist_free(&l);
	return 0;
}

/* Read the journal without taking its lock and without changing it (a
 * torn last line, which the daemon may be writing, is just left out). */
static int
journal_read_only(struct revoke_store *st, struct errlist *errs)
{
	const char *path = st->rc->journal;
	char *buf = NULL;
	size_t len = 0, used = 0;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;	/* nothing revoked yet */
		errlist_add(errs, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (read_fd(fd, &buf, &len) != 0)
		errlist_add(errs, "%s: %s", path, strerror(errno));
	else if (revoke_journal_parse(buf, len, path, replay_event, st, &used, errs) == 0)
		rc = 0;
	close(fd);
	free(buf);
	return rc;
}

/* A store with its locks and hash key, nothing loaded; NULL (in errs). */
static struct revoke_store *
store_new(const struct revoke_config *rc, struct errlist *errs)
{
	struct revoke_store *st = xcalloc(1, sizeof(*st));
	pthread_rwlockattr_t attr;
	uint64_t key[2];

	st->rc = revoke_config_dup(rc);
	st->jfd = -1;
	st->lockfd = -1;
	st->cap = REVOKE_MIN_SLOTS;
	st->slots = xcalloc(st->cap, sizeof(*st->slots));
	/* glibc's default rwlock prefers readers: with every worker looking
	 * up all the time a revocation could wait indefinitely. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&st->wmu, NULL);
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		errlist_add(errs, "revocations: getrandom: %s", strerror(errno));
		goto out;
	}
	st->k0 = key[0];
	st->k1 = key[1];
	return st;
out:
	revoke_store_close(st);
	return NULL;
}

struct revoke_store *
revoke_store_open_read_only(const struct revoke_config *rc, struct errlist *errs)
{
	struct revoke_store *st = store_new(rc, errs);

	if (st == NULL)
		return NULL;
	if ((st->rc->journal != NULL && journal_read_only(st, errs) != 0) ||
	    (st->rc->ids_file != NULL && ids_file_load(st, st->rc->ids_file, errs) != 0)) {
		revoke_store_close(st);
		return NULL;
	}
	return st;
}

struct revoke_store *
revoke_store_open(const struct revoke_config *rc, struct errlist *errs)
{
	struct revoke_store *st = store_new(rc, errs), *ret = NULL;

	if (st == NULL)
		return NULL;
	pthread_mutex_lock(&st->wmu);
	if (st->rc->journal != NULL && journal_open(st, errs) != 0)
		goto unlock;
	if (st->rc->ids_file != NULL && ids_file_load(st, st->rc->ids_file, errs) != 0)
		goto unlock;
	if (compact_locked(st, time(NULL)) != 0) {
		errlist_add(errs, "%s: compaction failed", st->rc->journal);
		goto unlock;
	}
	if (st->rc->journal == NULL)
		log_info("revocations: no journal configured: kept in memory only");
	else
		log_info("revocations: %zu entr%s from %s", st->njournal,
		    st->njournal == 1 ? "y" : "ies", st->rc->journal);
	ret = st;
unlock:
	pthread_mutex_unlock(&st->wmu);
	if (ret == NULL)
		revoke_store_close(st);
	return ret;
}

void
revoke_store_close(struct revoke_store *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->cap; i++)
		free(st->slots[i].e);
	free(st->slots);
	if (st->jfd >= 0)
		close(st->jfd);
	if (st->lockfd >= 0)
		close(st->lockfd);	/* releases the flock */
	free(st->tmp_path);
	free(st->dir);
	revoke_config_free(st->rc);
	pthread_rwlock_destroy(&st->lock);
	pthread_mutex_destroy(&st->wmu);
	free(st);
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
		if (st->slots[i].e != NULL && is_revoked_entry(st->slots[i].e))
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
