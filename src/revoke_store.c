/* revoke_store.c: the revocation store's persistence and life (see
 * revoke.h): the journal (append and sync, replay, compaction), the ids
 * file and its reload, opening and closing. The table is revoke.c's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include "revoke_int.h"
#include "xmalloc.h"

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
int
revoke_journal_append(struct revoke_store *st, const char *line, size_t len, int sync)
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
int
revoke_format_line(char *buf, size_t cap, char op, const char *id, size_t len, int64_t exp,
    int64_t version, enum revoke_source src, int pending)
{
	return snprintf(buf, cap, "%c %.*s %lld %lld %s%s\n", op, (int)len, id, (long long)exp,
	    (long long)version, revoke_source_str(src), pending ? " p" : "");
}

void
revoke_maybe_autocompact(struct revoke_store *st)
{
	if (st->jfd >= 0 && st->jlines > REVOKE_AUTOCOMPACT_SLACK &&
	    st->jlines > 4 * st->njournal)
		(void)revoke_compact_locked(st, time(NULL));
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
int
revoke_compact_locked(struct revoke_store *st, time_t now)
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
		blen += (size_t)revoke_format_line(buf + blen, bcap - blen, e->revoked ? '+' : '-',
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
		struct revoke_mchange drop = { .op = 0 };
		revoke_mem_set(st, expired[i]->id, expired[i]->len, &drop);
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
	rc = revoke_compact_locked(st, now);
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
	struct revoke_mchange c = { .op = ev->op, .exp = ev->expires_at, .version = ev->version,
	    .source = ev->source, .pending = ev->pending };
	struct rentry *e;
	size_t len = revoke_id_canon(ev->id, ev->len, id);

	st->jlines++;
	if (ev->op == 'a') {
		e = revoke_writer_get(st, id, len);
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
	revoke_mem_set(st, id, len, &c);
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
		uint64_t h = revoke_id_hash(st, l->ids[i], l->lens[i]);
		ssize_t k = revoke_table_find(st, h, l->ids[i], l->lens[i]);
		struct rentry *e;
		if (k < 0) {
			e = revoke_rentry_new(l->ids[i], l->lens[i]);
			revoke_table_insert(st, h, e);
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
			count += revoke_entry_is_revoked(e);
	}
	for (size_t i = 0; i < ngone; i++) {
		ssize_t k = revoke_table_find(st, revoke_id_hash(st, gone[i]->id, gone[i]->len), gone[i]->id,
		    gone[i]->len);
		if (k >= 0) {
			revoke_remote_adjust(st, gone[i], -1);
			revoke_table_delete(st, (size_t)k);
		}
	}
	atomic_store(&st->count, count);
	revoke_bump_generation(st);
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
revoke_ids_file_check(const struct revoke_config *rc, struct errlist *errs)
{
	struct idlist l;

	if (rc == NULL || rc->ids_file == NULL)
		return 0;
	if (ids_file_read(rc->ids_file, &l, errs) != 0)
		return -1;
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
	/* A new bound applies to changes from now on; entries already held
	 * keep their expiry. Shortening one to the new bound could free a
	 * token accepted under the old, longer (or absent) bound, which may
	 * still verify; lengthening is not needed: a token of that id that
	 * verified at the revocation stops verifying by the expiry it got.
	 * Under the table's lock too: revoke_holds reads it with only that. */
	pthread_rwlock_wrlock(&st->lock);
	st->rc->token_life_s = rc->token_life_s;
	pthread_rwlock_unlock(&st->lock);
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
	if (revoke_compact_locked(st, time(NULL)) != 0) {
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
