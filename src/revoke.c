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
#include <unistd.h>

#include "log.h"
#include "revoke.h"
#include "xmalloc.h"

#define REVOKE_MIN_SLOTS	64
/* Compact on our own when the journal holds this many more lines than
 * live entries (re-revocations and reinstatements pile up). */
#define REVOKE_AUTOCOMPACT_SLACK	1024

struct rentry {
	int64_t expires_at;		/* journal part; meaningless if !in_journal */
	unsigned in_journal:1;
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
	atomic_size_t count;		/* == n, readable without the lock */
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
	atomic_store(&st->count, st->n);
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
	atomic_store(&st->count, st->n);
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

/* Mark id as revoked in the table (journal part until exp, or from the
 * ids file). Returns 1 when the set or an expiry changed. Caller holds
 * wmu; the write lock is taken here. */
static int
mem_add(struct revoke_store *st, const char *id, size_t len, int64_t exp, int from_file)
{
	uint64_t h = id_hash(st, id, len);
	struct rentry *e;
	ssize_t i;
	int changed = 0;

	pthread_rwlock_wrlock(&st->lock);
	if ((i = table_find(st, h, id, len)) < 0) {
		e = rentry_new(id, len);
		table_insert(st, h, e);
		changed = 1;
	} else
		e = st->slots[i].e;
	if (from_file) {
		e->in_file = 1;
	} else if (!e->in_journal || e->expires_at < exp) {
		if (!e->in_journal)
			st->njournal++;
		e->in_journal = 1;
		e->expires_at = exp;
		changed = 1;
	}
	pthread_rwlock_unlock(&st->lock);
	if (changed)
		bump_generation(st);
	return changed;
}

/* Drop the journal part of id (and the entry unless the ids file holds
 * it). Caller holds wmu. */
static void
mem_remove(struct revoke_store *st, const char *id, size_t len)
{
	uint64_t h = id_hash(st, id, len);
	ssize_t i;

	pthread_rwlock_wrlock(&st->lock);
	if ((i = table_find(st, h, id, len)) >= 0 && st->slots[i].e->in_journal) {
		st->slots[i].e->in_journal = 0;
		st->njournal--;
		if (!st->slots[i].e->in_file)
			table_delete(st, (size_t)i);
		bump_generation(st);
	}
	pthread_rwlock_unlock(&st->lock);
}

/* The entry for id, read without the lock: caller holds wmu (the only
 * place the table changes). */
static const struct rentry *
writer_get(const struct revoke_store *st, const char *id, size_t len)
{
	ssize_t i = table_find(st, id_hash(st, id, len), id, len);

	return i < 0 ? NULL : st->slots[i].e;
}

int
revoke_is_revoked(const struct revoke_store *st, const char *token_id, size_t len)
{
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&st->lock;
	uint64_t h;
	int hit;

	if (atomic_load_explicit(&st->count, memory_order_acquire) == 0 ||
	    len == 0 || len > SG_REVOKE_MAX_ID_BYTES)
		return 0;
	h = id_hash(st, token_id, len);
	pthread_rwlock_rdlock(lock);
	hit = table_find(st, h, token_id, len) >= 0;
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

/* Append one line to the journal and sync it. On a failed write the file
 * is cut back to its last complete line, so a later append never leaves a
 * corrupt line in the middle. Caller holds wmu. 0 or -1 (logged). */
static int
journal_append(struct revoke_store *st, const char *line, size_t len)
{
	if (st->jfd < 0)
		return 0;
	if (write_all(st->jfd, line, len) != 0) {
		log_warn("revocations: %s: write", st->rc->journal);
		if (ftruncate(st->jfd, st->jsize) != 0)
			log_warn("revocations: %s: truncate", st->rc->journal);
		return -1;
	}
	if (fdatasync(st->jfd) != 0) {
		log_warn("revocations: %s: fdatasync", st->rc->journal);
		st->jsize += (off_t)len;
		st->jlines++;
		return -1;
	}
	st->jsize += (off_t)len;
	st->jlines++;
	return 0;
}

static int compact_locked(struct revoke_store *st, time_t now);

static enum revoke_result
do_add(struct revoke_store *st, const char *id, size_t len, int64_t exp, int remote)
{
	const struct rentry *e;
	enum revoke_result res = REVOKE_OK;
	char line[SG_REVOKE_MAX_ID_BYTES + 32];
	int n;

	if (!revoke_id_valid(id, len))
		return REVOKE_INVALID_ID;
	if (exp <= 0)
		exp = (int64_t)time(NULL) + st->rc->retention_s;
	pthread_mutex_lock(&st->wmu);
	e = writer_get(st, id, len);
	if (e == NULL || !e->in_journal || e->expires_at < exp) {
		n = snprintf(line, sizeof(line), "+ %.*s %lld\n", (int)len, id, (long long)exp);
		if (journal_append(st, line, (size_t)n) != 0)
			res = REVOKE_IO;
		/* Even when the journal failed: enforce what we know. */
		mem_add(st, id, len, exp, 0);
	} else
		exp = e->expires_at;
	if (!remote && st->lfn != NULL)
		st->lfn(st->larg, '+', id, len, exp);
	if (st->jfd >= 0 && st->jlines > REVOKE_AUTOCOMPACT_SLACK &&
	    st->jlines > 4 * st->njournal)
		(void)compact_locked(st, time(NULL));
	pthread_mutex_unlock(&st->wmu);
	return res;
}

static enum revoke_result
do_remove(struct revoke_store *st, const char *id, size_t len, int remote)
{
	const struct rentry *e;
	enum revoke_result res = REVOKE_OK;
	char line[SG_REVOKE_MAX_ID_BYTES + 8];
	int n;

	if (!revoke_id_valid(id, len))
		return REVOKE_INVALID_ID;
	pthread_mutex_lock(&st->wmu);
	e = writer_get(st, id, len);
	if (e == NULL || (!e->in_journal && !e->in_file)) {
		res = REVOKE_NOT_FOUND;
		goto out;
	}
	if (e->in_file) {
		res = REVOKE_READONLY;
		goto out;
	}
	n = snprintf(line, sizeof(line), "- %.*s\n", (int)len, id);
	if (journal_append(st, line, (size_t)n) != 0) {
		res = REVOKE_IO;
		goto out;
	}
	mem_remove(st, id, len);
	if (!remote && st->lfn != NULL)
		st->lfn(st->larg, '-', id, len, 0);
out:
	pthread_mutex_unlock(&st->wmu);
	return res;
}

enum revoke_result
revoke_add(struct revoke_store *st, const char *id, size_t len, int64_t expires_at)
{
	return do_add(st, id, len, expires_at, 0);
}

enum revoke_result
revoke_remove(struct revoke_store *st, const char *id, size_t len)
{
	return do_remove(st, id, len, 0);
}

enum revoke_result
revoke_add_remote(struct revoke_store *st, const char *id, size_t len, int64_t expires_at)
{
	return do_add(st, id, len, expires_at, 1);
}

enum revoke_result
revoke_remove_remote(struct revoke_store *st, const char *id, size_t len)
{
	return do_remove(st, id, len, 1);
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

/* Rewrite the journal with the live entries (expiry > now) and drop the
 * expired ones from memory. Caller holds wmu. 0 or -1 (logged). */
static int
compact_locked(struct revoke_store *st, time_t now)
{
	char *buf = NULL;
	size_t blen = 0, bcap = 0, live = 0, nexp = 0;
	struct rentry **expired = NULL;
	int fd = -1, nfd = -1, rc = -1;

	for (size_t i = 0; i < st->cap; i++) {
		struct rentry *e = st->slots[i].e;
		if (e == NULL || !e->in_journal)
			continue;
		if (e->expires_at <= (int64_t)now) {
			expired = xreallocarray(expired, nexp + 1, sizeof(*expired));
			expired[nexp++] = e;
			continue;
		}
		if (bcap - blen < e->len + 32) {
			bcap = (bcap + e->len + 32) * 2;
			buf = xreallocarray(buf, bcap, 1);
		}
		blen += (size_t)snprintf(buf + blen, bcap - blen, "+ %s %lld\n", e->id,
		    (long long)e->expires_at);
		live++;
	}
	if (nexp == 0 && (st->jfd < 0 || st->jlines == live)) {
		rc = 0;
		goto out;
	}
	if (st->jfd >= 0) {
		fd = open(st->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write_all(fd, buf ? buf : "", blen) != 0 || fsync(fd) != 0) {
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
	}
	for (size_t i = 0; i < nexp; i++)
		mem_remove(st, expired[i]->id, expired[i]->len);
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

static int
replay_event(void *arg, const struct revoke_event *ev)
{
	struct revoke_store *st = arg;

	st->jlines++;
	if (ev->op == '+')
		mem_add(st, ev->id, ev->len, ev->expires_at, 0);
	else
		mem_remove(st, ev->id, ev->len);
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
	if (used < len) {
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

/* Load the read-only ids file: one id per line, blank lines and lines
 * starting with '#' ignored, surrounding blanks trimmed, and an id may be
 * followed by blanks and a '#' comment. 0 or -1 (in errs). */
static int
ids_file_load(struct revoke_store *st, const char *path, struct errlist *errs)
{
	char *buf = NULL;
	size_t len = 0, lineno = 0, off = 0, nids = 0;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || read_fd(fd, &buf, &len) != 0) {
		errlist_add(errs, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
	while (off < len) {
		const char *l = buf + off, *nl = memchr(l, '\n', len - off);
		size_t n = nl ? (size_t)(nl - l) : len - off, a = 0, b, c;

		off += n + (nl != NULL);
		lineno++;
		while (a < n && (l[a] == ' ' || l[a] == '\t' || l[a] == '\r'))
			a++;
		if (a == n || l[a] == '#')
			continue;
		for (b = a; b < n && l[b] != ' ' && l[b] != '\t' && l[b] != '\r'; b++)
			;
		for (c = b; c < n && (l[c] == ' ' || l[c] == '\t' || l[c] == '\r'); c++)
			;
		if ((c < n && (l[c] != '#' || c == b)) || !revoke_id_valid(l + a, b - a)) {
			errlist_add(errs, "%s:%zu: not a valid token id", path, lineno);
			rc = -1;
			continue;
		}
		mem_add(st, l + a, b - a, INT64_MAX, 1);
		nids++;
	}
	if (rc == 0)
		log_debug("revocations: %zu id(s) from %s", nids, path);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
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
revoke_snapshot(const struct revoke_store *st, struct revoke_entry **out)
{
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&st->lock;
	struct revoke_entry *v = NULL;
	size_t n = 0;

	pthread_rwlock_rdlock(lock);
	if (st->n > 0)
		v = xcalloc(st->n, sizeof(*v));
	for (size_t i = 0; i < st->cap; i++) {
		const struct rentry *e = st->slots[i].e;
		if (e == NULL || !e->in_journal)
			continue;
		v[n].id = xstrndup(e->id, e->len);
		v[n].len = e->len;
		v[n].expires_at = e->expires_at;
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

struct list_item {
	const char *id;
	int64_t exp;
	int file;
};

static int
list_item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_item *)a)->id, ((const struct list_item *)b)->id);
}

json_t *
revoke_list_json(const struct revoke_store *st)
{
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&st->lock;
	struct list_item *items;
	json_t *arr = json_array(), *obj = NULL;
	size_t n = 0;

	if (arr == NULL)
		fatalx("revocations: out of memory");
	pthread_rwlock_rdlock(lock);
	items = xcalloc(st->n + 1, sizeof(*items));
	for (size_t i = 0; i < st->cap; i++) {
		const struct rentry *e = st->slots[i].e;
		if (e == NULL)
			continue;
		items[n].id = e->id;
		items[n].exp = e->expires_at;
		items[n].file = e->in_file;
		n++;
	}
	qsort(items, n, sizeof(*items), list_item_cmp);
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_pack("{s:s, s:o, s:s}", "id", items[i].id, "expires_at",
		    items[i].file ? json_null() : json_integer(items[i].exp),
		    "source", items[i].file ? "file" : "journal");
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
