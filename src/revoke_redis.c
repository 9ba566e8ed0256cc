/* revoke_redis.c: see revoke_redis.h.
 *
 * Threads: everything here runs in the loop's thread except the store
 * listener (queue_change), which worker threads call: it appends to the
 * queue under qmu and writes a byte to a pipe that wakes the loop. No
 * libevent or hiredis object is touched from another thread, so the base
 * needs no evthread locking. Lock order: the store's writer lock, then
 * qmu; the loop never calls the store while holding qmu. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include <openssl/crypto.h>

#include "log.h"
#include "revoke_redis.h"
#include "xmalloc.h"

enum rr_state {
	RR_DOWN,		/* waiting to reconnect */
	RR_CONNECTING,		/* until the subscription is confirmed */
	RR_SYNCING,		/* reading the sets */
	RR_UP,
};

struct op {
	TAILQ_ENTRY(op) entry;
	uint64_t seq;
	char kind;		/* '+' or '-' */
	int sent;		/* on the current connection */
	int64_t exp;
	int64_t version;
	enum revoke_source source;
	size_t len;
	char id[];		/* NUL-terminated */
};
TAILQ_HEAD(opq, op);

/* A copied member of the state hash (or of the revoked set). */
struct member {
	char *id;
	size_t len;
	int64_t exp;
	int64_t version;
};

struct revoke_redis {
	struct revoke_store *st;
	const struct revoke_config *rc;
	char *tomb_key;
	char *state_key;		/* hash: id -> "op exp version source" */
	char endpoint[300];		/* host:port, for messages */

	struct event_base *base;
	int own_thread;
	pthread_t thread;

	redisAsyncContext *cmd;		/* commands */
	redisAsyncContext *sub;		/* subscribed to the channel */
	atomic_int state;
	int tearing_down;
	int closing;
	struct timespec since;		/* entered CONNECTING/SYNCING */
	int ping_out;
	struct timespec ping_at;
	unsigned ticks;
	int backoff_ms;
	int outage_logged;
	int ever_up;
	char down_why[256];		/* why the next teardown happens, or "" */

	struct member *snap;		/* the revoked set, for entries without state */
	size_t nsnap;
	int have_snap;

	struct event *retry;		/* one-shot reconnect */
	struct event *tick;		/* watchdog */
	struct event *wake;		/* pipe from other threads */
	int pipefd[2];

	pthread_mutex_t qmu;		/* the queue, the stats and the password */
	char *password;			/* or NULL: no AUTH */
	struct opq q;
	size_t qlen;
	uint64_t next_seq;
	struct revoke_redis_stats stats;
};

static void rr_connect(struct revoke_redis *r);
static void rr_flush(struct revoke_redis *r);

static int64_t
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void
set_state(struct revoke_redis *r, enum rr_state s)
{
	atomic_store(&r->state, (int)s);
	clock_gettime(CLOCK_MONOTONIC, &r->since);
}

/* Append a change to the queue. Caller holds qmu. */
static void
enqueue_locked(struct revoke_redis *r, char kind, const char *id, size_t len, int64_t exp,
    int64_t version, enum revoke_source source)
{
	struct op *o = xcalloc(1, sizeof(*o) + len + 1);

	o->seq = ++r->next_seq;
	o->kind = kind;
	o->exp = exp;
	o->version = version;
	o->source = source;
	o->len = len;
	memcpy(o->id, id, len);
	TAILQ_INSERT_TAIL(&r->q, o, entry);
	r->qlen++;
}

/* The store's listener: runs in whichever thread changed the store. */
static void
wake(struct revoke_redis *r, const char *what)
{
	ssize_t w;

	do
		w = write(r->pipefd[1], what, 1);
	while (w < 0 && errno == EINTR);
	/* EAGAIN: the pipe is full of wake-ups already; one is enough. */
}

static void
queue_change(void *arg, const struct revoke_change *c)
{
	struct revoke_redis *r = arg;

	pthread_mutex_lock(&r->qmu);
	enqueue_locked(r, c->op, c->id, c->len, c->expires_at, c->version, c->source);
	pthread_mutex_unlock(&r->qmu);
	wake(r, "w");
}

/* Replies we do not wait for: only report errors. */
static void
on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply *rep = reply;

	(void)ac;
	(void)priv;
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		log_warnx("revocations: redis: %s", rep->str);
}

/* The last command of a pushed change: it is acknowledged. */
static void
on_ack(redisAsyncContext *ac, void *reply, void *priv)
{
	struct revoke_redis *r = ac->data;
	redisReply *rep = reply;
	uint64_t seq = (uint64_t)(uintptr_t)priv;
	struct op *o;

	if (rep == NULL)	/* connection lost: sent again on reconnect */
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		log_warnx("revocations: redis: %s", rep->str);
		return;
	}
	pthread_mutex_lock(&r->qmu);
	TAILQ_FOREACH(o, &r->q, entry) {
		if (o->seq == seq) {
			TAILQ_REMOVE(&r->q, o, entry);
			r->qlen--;
			r->stats.pushed++;
			break;
		}
	}
	pthread_mutex_unlock(&r->qmu);
	/* Redis holds it (or something newer): no longer pending. Outside
	 * qmu: the store's lock comes first. */
	if (o != NULL) {
		revoke_mark_pushed(r->st, o->id, o->len, o->version);
		free(o);
	}
}

/* Apply one change in Redis unless its state hash holds a newer one for
 * the id (same rule as the store: newest version, a revocation wins a
 * tie), then publish a hint. Atomic, so instances racing on one id end
 * with the newest change. KEYS: revoked set, tombstone set, state hash;
 * ARGV: id, op, expiry, version, source, channel, score. */
static const char push_script[] =
    "local cur = redis.call('HGET', KEYS[3], ARGV[1])\n"
    "local v = tonumber(ARGV[4])\n"
    "if cur then\n"
    "  local cop, cv = string.match(cur, '^(%S) %d+ (%d+) ')\n"
    "  cv = tonumber(cv)\n"
    "  if cv and (cv > v or (cv == v and (cop == '+' or ARGV[2] == '-'))) then return 0 end\n"
    "end\n"
    "redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. ARGV[5])\n"
    "if ARGV[2] == '+' then\n"
    "  redis.call('ZADD', KEYS[1], ARGV[7], ARGV[1])\n"
    "  redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "else\n"
    "  redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "  redis.call('ZADD', KEYS[2], ARGV[7], ARGV[1])\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[6], ARGV[2] .. ' ' .. ARGV[1])\n"
    "return 1\n";

/* Drop what has expired from both sets, with its state (unless the
 * state is of the other kind). KEYS as above; ARGV: now. */
static const char expire_script[] =
    "for i, k in ipairs({KEYS[1], KEYS[2]}) do\n"
    "  local op = i == 1 and '+' or '-'\n"
    "  for _, id in ipairs(redis.call('ZRANGEBYSCORE', k, '-inf', ARGV[1], 'LIMIT', 0, 10000)) do\n"
    "    redis.call('ZREM', k, id)\n"
    "    local cur = redis.call('HGET', KEYS[3], id)\n"
    "    if cur and string.sub(cur, 1, 1) == op then redis.call('HDEL', KEYS[3], id) end\n"
    "  end\n"
    "end\n"
    "return 0\n";

static void
rr_expire(struct revoke_redis *r)
{
	redisAsyncCommand(r->cmd, on_reply, NULL, "EVAL %s 3 %s %s %s %lld", expire_script,
	    r->rc->redis_key, r->tomb_key, r->state_key, (long long)time(NULL));
}

/* Send every queued change not yet sent on this connection. The script
 * keeps the newest version, so a change sent twice (reconnect) is fine. */
static void
rr_flush(struct revoke_redis *r)
{
	struct op *o;

	if (r->cmd == NULL)
		return;
	pthread_mutex_lock(&r->qmu);
	TAILQ_FOREACH(o, &r->q, entry) {
		char op[2] = { o->kind, '\0' }, exp[24], ver[24], score[24];

		if (o->sent)
			continue;
		o->sent = 1;
		snprintf(exp, sizeof(exp), "%lld", (long long)o->exp);
		snprintf(ver, sizeof(ver), "%lld", (long long)o->version);
		if (o->exp == REVOKE_NEVER)
			snprintf(score, sizeof(score), "+inf");
		else
			snprintf(score, sizeof(score), "%lld", (long long)o->exp);
		redisAsyncCommand(r->cmd, on_ack, (void *)(uintptr_t)o->seq,
		    "EVAL %s 3 %s %s %s %b %s %s %s %s %s %s", push_script, r->rc->redis_key,
		    r->tomb_key, r->state_key, o->id, o->len, op, exp, ver,
		    revoke_source_str(o->source), r->rc->redis_channel, score);
	}
	pthread_mutex_unlock(&r->qmu);
}

static void
free_snap(struct revoke_redis *r)
{
	for (size_t i = 0; i < r->nsnap; i++)
		free(r->snap[i].id);
	free(r->snap);
	r->snap = NULL;
	r->nsnap = 0;
	r->have_snap = 0;
}

static int
member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->id, y->id, n);

	return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}


/* Copy the members and scores of a ZRANGE WITHSCORES reply, keeping only
 * storable ids; sorted for lookups. A score of +inf is REVOKE_NEVER. */
static struct member *
copy_members(const redisReply *rep, size_t *n)
{
	size_t k = 0;
	struct member *v = xcalloc(rep->elements / 2 + 1, sizeof(*v));

	for (size_t i = 0; i + 2 <= rep->elements; i += 2) {
		const redisReply *m = rep->element[i], *s = rep->element[i + 1];
		double d;

		if (m->type != REDIS_REPLY_STRING || !revoke_id_valid(m->str, m->len) ||
		    s->type != REDIS_REPLY_STRING)
			continue;
		d = strtod(s->str, NULL);
		if (!(d >= 1))
			continue;
		v[k].id = xstrndup(m->str, m->len);
		v[k].len = m->len;
		v[k].exp = d < 9.2e18 ? (int64_t)d : REVOKE_NEVER;
		k++;
	}
	qsort(v, k, sizeof(*v), member_cmp);
	*n = k;
	return v;
}

static const struct member *
find_member(const struct member *v, size_t n, const char *id, size_t len)
{
	struct member key = { .id = (char *)id, .len = len };

	return n > 0 ? bsearch(&key, v, n, sizeof(*v), member_cmp) : NULL;
}

/* Parse a state hash value ("op exp version source") of id into *c (id
 * pointing into line, a buffer of SG_REVOKE_MAX_ID_BYTES + 80 bytes).
 * 0 or -1. */
static int
parse_state(const char *id, size_t len, const char *val, size_t vlen, char *line,
    struct revoke_change *c)
{
	struct revoke_event ev;
	int n;

	if (vlen < 3 || vlen > 70 || val[1] != ' ' || !revoke_id_valid(id, len))
		return -1;
	n = snprintf(line, SG_REVOKE_MAX_ID_BYTES + 80, "%c %.*s %.*s", val[0], (int)len, id,
	    (int)(vlen - 2), val + 2);
	if (revoke_event_parse(line, (size_t)n, 2, &ev) != 0 || ev.op == 'a' || ev.pending)
		return -1;
	c->op = ev.op;
	c->id = ev.id;
	c->len = ev.len;
	c->expires_at = ev.expires_at;
	c->version = ev.version;
	c->source = ev.source;
	return 0;
}

static void
on_snap_revoked(redisAsyncContext *ac, void *reply, void *priv)
{
	struct revoke_redis *r = ac->data;
	redisReply *rep = reply;

	(void)priv;
	if (rep == NULL)
		return;
	if (rep->type != REDIS_REPLY_ARRAY) {
		log_warnx("revocations: redis: cannot read %s: %s", r->rc->redis_key,
		    rep->type == REDIS_REPLY_ERROR ? rep->str : "not a sorted set");
		return;
	}
	free_snap(r);
	r->snap = copy_members(rep, &r->nsnap);
	r->have_snap = 1;
}

/* The state hash is read (after the revoked set): merge it with the
 * store, newest version first on each side (see revoke_redis.h). */
static void
on_snap_state(redisAsyncContext *ac, void *reply, void *priv)
{
	struct revoke_redis *r = ac->data;
	redisReply *rep = reply;
	struct member *known = NULL;
	struct revoke_entry *local = NULL;
	size_t nknown = 0, nlocal = 0, added = 0, reinstated = 0, pushed = 0, refused = 0;
	char line[SG_REVOKE_MAX_ID_BYTES + 80];

	(void)priv;
	if (rep == NULL)
		return;
	if (rep->type != REDIS_REPLY_ARRAY || !r->have_snap) {
		log_warnx("revocations: redis: cannot read %s", r->state_key);
		goto out;
	}
	known = xcalloc(rep->elements / 2 + 1, sizeof(*known));
	for (size_t i = 0; i + 2 <= rep->elements; i += 2) {
		const redisReply *f = rep->element[i], *v = rep->element[i + 1];
		struct revoke_change c;
		int applied = 0;

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    parse_state(f->str, f->len, v->str, v->len, line, &c) != 0)
			continue;
		if (revoke_apply_remote(r->st, &c, &applied) == REVOKE_FULL)
			refused++;
		if (applied)
			*(c.op == '+' ? &added : &reinstated) += 1;
		known[nknown].id = xcalloc(1, SG_REVOKE_MAX_ID_BYTES + 1);
		known[nknown].len = revoke_id_canon(c.id, c.len, known[nknown].id);
		known[nknown].version = c.version;
		nknown++;
	}
	qsort(known, nknown, sizeof(*known), member_cmp);
	/* Members without a state (written by an older gateway, or by
	 * hand): revocations older than anything versioned. */
	for (size_t i = 0; i < r->nsnap; i++) {
		struct revoke_change c = { .op = '+', .id = r->snap[i].id, .len = r->snap[i].len,
		    .expires_at = r->snap[i].exp, .version = 0, .source = REVOKE_SRC_OPERATOR };
		char cid[SG_REVOKE_MAX_ID_BYTES];
		size_t n = revoke_id_canon(c.id, c.len, cid);
		int applied = 0;

		if (n == 0 || find_member(known, nknown, cid, n) != NULL)
			continue;
		if (revoke_apply_remote(r->st, &c, &applied) == REVOKE_FULL)
			refused++;
		added += applied;
	}
	/* What this instance knows better (newer, or unknown there) goes up:
	 * a Redis that lost its data, or changes made during an outage. */
	nlocal = revoke_snapshot(r->st, 0, &local);
	pthread_mutex_lock(&r->qmu);
	for (size_t i = 0; i < nlocal; i++) {
		const struct member *m = find_member(known, nknown, local[i].id, local[i].len);
		if (m != NULL && m->version >= local[i].version)
			continue;
		enqueue_locked(r, local[i].op, local[i].id, local[i].len, local[i].expires_at,
		    local[i].version, local[i].source);
		pushed++;
	}
	pthread_mutex_unlock(&r->qmu);
	rr_flush(r);

	set_state(r, RR_UP);
	r->backoff_ms = SG_REVOKE_REDIS_BACKOFF_MIN_MS;
	pthread_mutex_lock(&r->qmu);
	r->stats.syncs++;
	pthread_mutex_unlock(&r->qmu);
	log_info("revocations: redis %s %s: %zu states there, %zu revoked, %zu reinstated, "
	    "%zu pushed%s", r->endpoint, r->outage_logged ? "is back, synchronized" :
	    "synchronized", nknown, added, reinstated, pushed, refused ? " (some refused: "
	    "redis_max_entries reached)" : "");
	r->outage_logged = 0;
	r->ever_up = 1;
out:
	revoke_snapshot_free(local, nlocal);
	for (size_t i = 0; i < nknown; i++)
		free(known[i].id);
	free(known);
	free_snap(r);
}

/* Subscribed: push what is queued, then read the sets. Sent on one
 * connection, so Redis sees our queued changes before the reads. */
static void
rr_start_sync(struct revoke_redis *r)
{
	set_state(r, RR_SYNCING);
	rr_flush(r);
	rr_expire(r);
	redisAsyncCommand(r->cmd, on_snap_revoked, NULL, "ZRANGE %s 0 -1 WITHSCORES",
	    r->rc->redis_key);
	redisAsyncCommand(r->cmd, on_snap_state, NULL, "HGETALL %s", r->state_key);
}

/* The state of one id, read because a message named it. */
static void
on_hint_state(redisAsyncContext *ac, void *reply, void *priv)
{
	struct revoke_redis *r = ac->data;
	redisReply *rep = reply;
	struct op *o = priv;
	struct revoke_change c;
	char line[SG_REVOKE_MAX_ID_BYTES + 80];

	if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
	    parse_state(o->id, o->len, rep->str, rep->len, line, &c) == 0) {
		int applied = 0;
		(void)revoke_apply_remote(r->st, &c, &applied);
		pthread_mutex_lock(&r->qmu);
		r->stats.received += applied;
		pthread_mutex_unlock(&r->qmu);
	}
	free(o);
}

/* Everything arriving on the subscribed connection. A message only says
 * which id changed: anyone who can PUBLISH could send one, so what is
 * applied is the id's state read back from the hash (the truth), never
 * the message. */
static void
on_sub(redisAsyncContext *ac, void *reply, void *priv)
{
	struct revoke_redis *r = ac->data;
	redisReply *rep = reply, *kind, *payload;
	const char *id, *sp;
	size_t len;
	struct op *o;

	(void)priv;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
		return;
	kind = rep->element[0];
	payload = rep->element[2];
	if (kind->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(kind->str, "subscribe") == 0) {
		if (atomic_load(&r->state) == RR_CONNECTING && r->cmd != NULL)
			rr_start_sync(r);
		return;
	}
	if (strcmp(kind->str, "message") != 0 || payload->type != REDIS_REPLY_STRING)
		return;
	/* "<op> <id>[ ...]" */
	if (payload->len < 3 || payload->str[1] != ' ')
		goto bad;
	id = payload->str + 2;
	sp = memchr(id, ' ', payload->len - 2);
	len = sp != NULL ? (size_t)(sp - id) : payload->len - 2;
	if (!revoke_id_valid(id, len) || r->cmd == NULL)
		goto bad;
	o = xcalloc(1, sizeof(*o) + len + 1);
	memcpy(o->id, id, len);
	o->len = len;
	redisAsyncCommand(r->cmd, on_hint_state, o, "HGET %s %b", r->state_key, id, len);
	return;
bad:
	log_debug("revocations: redis: ignoring a malformed message on %s",
	    r->rc->redis_channel);
}

/* Drop both connections and plan the next attempt. why may be NULL. */
static void
rr_down(struct revoke_redis *r, const char *why)
{
	redisAsyncContext *ac;
	struct op *o;
	struct timeval tv;

	if (r->tearing_down)
		return;
	/* A reason found before the connection closed says more. */
	if (r->down_why[0] != '\0')
		why = r->down_why;
	r->tearing_down = 1;
	if ((ac = r->cmd) != NULL) {
		r->cmd = NULL;
		redisAsyncFree(ac);
	}
	if ((ac = r->sub) != NULL) {
		r->sub = NULL;
		redisAsyncFree(ac);
	}
	r->tearing_down = 0;
	free_snap(r);
	r->ping_out = 0;
	set_state(r, RR_DOWN);
	pthread_mutex_lock(&r->qmu);
	TAILQ_FOREACH(o, &r->q, entry)
		o->sent = 0;
	pthread_mutex_unlock(&r->qmu);
	if (r->closing)
		return;
	if (!r->outage_logged) {
		log_warnx("revocations: redis %s unavailable (%s): enforcing the local set, "
		    "retrying", r->endpoint, why ? why : "connection lost");
		r->outage_logged = 1;
		pthread_mutex_lock(&r->qmu);
		r->stats.outages++;
		pthread_mutex_unlock(&r->qmu);
	} else
		log_debug("revocations: redis %s: %s", r->endpoint, why ? why : "failed");
	r->down_why[0] = '\0';
	tv.tv_sec = r->backoff_ms / 1000;
	tv.tv_usec = (r->backoff_ms % 1000) * 1000;
	evtimer_add(r->retry, &tv);
	r->backoff_ms = r->backoff_ms * 2 > SG_REVOKE_REDIS_BACKOFF_MAX_MS ?
	    SG_REVOKE_REDIS_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* Forget ac (hiredis frees it after this callback) and go down. */
static void
lost(redisAsyncContext *ac, const char *why)
{
	struct revoke_redis *r = ac->data;

	if (r->cmd == ac)
		r->cmd = NULL;
	if (r->sub == ac)
		r->sub = NULL;
	rr_down(r, why);
}

static void
on_connect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;

	if (status != REDIS_OK)
		lost(ac, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void
on_disconnect(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;

	(void)status;
	lost(ac, ac->errstr[0] ? ac->errstr : "connection closed");
}

/* A new async connection attached to the loop, or NULL (why set). */
static redisAsyncContext *
open_ctx(struct revoke_redis *r, char *why, size_t whylen)
{
	redisAsyncContext *ac = redisAsyncConnect(r->rc->redis_host, r->rc->redis_port);

	if (ac == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (ac->err) {
		snprintf(why, whylen, "%s", ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = r;
	if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
		snprintf(why, whylen, "cannot attach to the event loop");
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	return ac;
}

/* The answer to AUTH: a refusal is an outage like any other (logged
 * once, retried with backoff), and it says why. */
static void
on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
	struct revoke_redis *r = ac->data;
	redisReply *rep = reply;

	(void)priv;
	if (rep == NULL || rep->type != REDIS_REPLY_ERROR)
		return;
	snprintf(r->down_why, sizeof(r->down_why), "authentication refused: %s", rep->str);
	/* Closed after this callback; on_disconnect then goes down. */
	redisAsyncDisconnect(ac);
}

static void
rr_connect(struct revoke_redis *r)
{
	char why[256] = "";

	set_state(r, RR_CONNECTING);
	if ((r->cmd = open_ctx(r, why, sizeof(why))) == NULL ||
	    (r->sub = open_ctx(r, why, sizeof(why))) == NULL) {
		rr_down(r, why);
		return;
	}
	/* Commands are answered in order: AUTH goes first on both. */
	pthread_mutex_lock(&r->qmu);
	if (r->password != NULL) {
		redisAsyncCommand(r->cmd, on_auth, NULL, "AUTH %s", r->password);
		redisAsyncCommand(r->sub, on_auth, NULL, "AUTH %s", r->password);
	}
	pthread_mutex_unlock(&r->qmu);
	if (r->rc->redis_db != 0)
		redisAsyncCommand(r->cmd, on_reply, NULL, "SELECT %d", r->rc->redis_db);
	redisAsyncCommand(r->sub, on_sub, NULL, "SUBSCRIBE %s", r->rc->redis_channel);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rr_connect(arg);
}

static void
on_pong(redisAsyncContext *ac, void *reply, void *priv)
{
	struct revoke_redis *r = ac->data;

	(void)priv;
	if (reply != NULL)
		r->ping_out = 0;
}

/* Watchdog: hiredis 0.14 has no timeouts of its own, so a Redis that
 * stops answering (or a connect that hangs) is detected here. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct revoke_redis *r = arg;
	int s = atomic_load(&r->state);

	(void)fd;
	(void)what;
	r->ticks++;
	if ((s == RR_CONNECTING || s == RR_SYNCING) &&
	    ms_since(&r->since) > SG_REVOKE_REDIS_TIMEOUT_MS) {
		rr_down(r, "timed out");
		return;
	}
	if (s != RR_UP || r->cmd == NULL)
		return;
	if (r->ping_out) {
		if (ms_since(&r->ping_at) > SG_REVOKE_REDIS_TIMEOUT_MS)
			rr_down(r, "no answer to PING");
		return;
	}
	r->ping_out = 1;
	clock_gettime(CLOCK_MONOTONIC, &r->ping_at);
	redisAsyncCommand(r->cmd, on_pong, NULL, "PING");
	/* Expired members go from Redis now and then (any instance may). */
	if (r->ticks % 60 == 0)
		rr_expire(r);
}

/* Woken by queue_change (or by revoke_redis_free: 'q'). */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct revoke_redis *r = arg;
	char buf[64];
	ssize_t n;
	int quit = 0, reconnect = 0;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (memchr(buf, 'q', (size_t)n) != NULL)
			quit = 1;
		if (memchr(buf, 'r', (size_t)n) != NULL)
			reconnect = 1;
	}
	if (quit) {
		event_base_loopbreak(r->base);
		return;
	}
	if (reconnect && atomic_load(&r->state) != RR_DOWN) {
		/* A new password: prove it now, not at the next outage. */
		snprintf(r->down_why, sizeof(r->down_why), "reconnecting with the new password");
		rr_down(r, NULL);
		return;
	}
	if (atomic_load(&r->state) == RR_UP || atomic_load(&r->state) == RR_SYNCING)
		rr_flush(r);
}

struct revoke_redis *
revoke_redis_attach(struct revoke_store *st, struct event_base *base)
{
	const struct revoke_config *rc = revoke_store_config(st);
	struct revoke_redis *r;
	struct timeval tv = { SG_REVOKE_REDIS_PING_MS / 1000,
	    (SG_REVOKE_REDIS_PING_MS % 1000) * 1000 };

	if (rc->redis_host == NULL)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->st = st;
	r->rc = rc;
	r->base = base;
	r->pipefd[0] = r->pipefd[1] = -1;
	r->backoff_ms = SG_REVOKE_REDIS_BACKOFF_MIN_MS;
	xasprintf(&r->tomb_key, "%s:reinstated", rc->redis_key);
	xasprintf(&r->state_key, "%s:state", rc->redis_key);
	if (rc->redis_password != NULL)
		r->password = xstrdup(rc->redis_password);
	snprintf(r->endpoint, sizeof(r->endpoint), strchr(rc->redis_host, ':') ?
	    "[%s]:%u" : "%s:%u", rc->redis_host, (unsigned)rc->redis_port);
	TAILQ_INIT(&r->q);
	pthread_mutex_init(&r->qmu, NULL);
	atomic_init(&r->state, RR_DOWN);
	if (pipe2(r->pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
		log_warn("revocations: pipe");
		goto fail;
	}
	r->retry = evtimer_new(base, retry_cb, r);
	r->tick = event_new(base, -1, EV_PERSIST, tick_cb, r);
	r->wake = event_new(base, r->pipefd[0], EV_READ | EV_PERSIST, wake_cb, r);
	if (r->retry == NULL || r->tick == NULL || r->wake == NULL ||
	    event_add(r->tick, &tv) != 0 || event_add(r->wake, NULL) != 0) {
		log_warnx("revocations: cannot set up the Redis events");
		goto fail;
	}
	/* Changes a previous run made that never reached Redis (marked in
	 * the journal) go first; then everything new. A change made between
	 * the two (the daemon attaches before its workers start) would still
	 * be pushed by the first synchronization: it is newer than Redis. */
	{
		struct revoke_entry *v = NULL;
		size_t n = revoke_snapshot(st, 1, &v);
		pthread_mutex_lock(&r->qmu);
		for (size_t i = 0; i < n; i++)
			enqueue_locked(r, v[i].op, v[i].id, v[i].len, v[i].expires_at,
			    v[i].version, v[i].source);
		pthread_mutex_unlock(&r->qmu);
		if (n > 0)
			log_info("revocations: %zu change(s) not yet in Redis, to be pushed", n);
		revoke_snapshot_free(v, n);
	}
	revoke_store_set_listener(st, queue_change, r);
	/* First attempt from the loop, like every later one. */
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	evtimer_add(r->retry, &tv);
	return r;
fail:
	revoke_redis_free(r);
	return NULL;
}

static void *
thread_main(void *arg)
{
	struct revoke_redis *r = arg;

	event_base_dispatch(r->base);
	return NULL;
}

struct revoke_redis *
revoke_redis_start(struct revoke_store *st)
{
	struct event_base *base;
	struct revoke_redis *r;

	if (revoke_store_config(st)->redis_host == NULL)
		return NULL;
	if ((base = event_base_new()) == NULL) {
		log_warnx("revocations: event_base_new failed");
		return NULL;
	}
	if ((r = revoke_redis_attach(st, base)) == NULL) {
		event_base_free(base);
		return NULL;
	}
	r->own_thread = 1;
	if (pthread_create(&r->thread, NULL, thread_main, r) != 0) {
		log_warnx("revocations: cannot start the Redis thread");
		r->own_thread = 0;
		revoke_redis_free(r);
		event_base_free(base);
		return NULL;
	}
	return r;
}

void
revoke_redis_free(struct revoke_redis *r)
{
	struct event_base *own = NULL;
	struct op *o;

	if (r == NULL)
		return;
	/* After this no worker thread calls queue_change any more. */
	if (r->st != NULL)
		revoke_store_set_listener(r->st, NULL, NULL);
	if (r->own_thread) {
		ssize_t w;
		do
			w = write(r->pipefd[1], "q", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(r->thread, NULL);
		own = r->base;
	}
	r->closing = 1;
	rr_down(r, NULL);
	if (r->retry != NULL)
		event_free(r->retry);
	if (r->tick != NULL)
		event_free(r->tick);
	if (r->wake != NULL)
		event_free(r->wake);
	if (r->pipefd[0] >= 0)
		close(r->pipefd[0]);
	if (r->pipefd[1] >= 0)
		close(r->pipefd[1]);
	while ((o = TAILQ_FIRST(&r->q)) != NULL) {
		TAILQ_REMOVE(&r->q, o, entry);
		free(o);
	}
	if (own != NULL)
		event_base_free(own);
	pthread_mutex_destroy(&r->qmu);
	free(r->tomb_key);
	free(r->state_key);
	if (r->password != NULL) {
		OPENSSL_cleanse(r->password, strlen(r->password));
		free(r->password);
	}
	free(r);
}

void
revoke_redis_reload(struct revoke_redis *r, const struct revoke_config *rc)
{
	int changed;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->qmu);
	changed = (r->password == NULL) != (rc->redis_password == NULL) ||
	    (r->password != NULL && strcmp(r->password, rc->redis_password) != 0);
	if (changed) {
		if (r->password != NULL) {
			OPENSSL_cleanse(r->password, strlen(r->password));
			free(r->password);
		}
		r->password = rc->redis_password != NULL ? xstrdup(rc->redis_password) : NULL;
	}
	pthread_mutex_unlock(&r->qmu);
	if (changed) {
		log_info("revocations: redis password changed: reconnecting");
		wake(r, "r");
	}
}

int
revoke_redis_up(const struct revoke_redis *r)
{
	return r != NULL && atomic_load(&((struct revoke_redis *)r)->state) == RR_UP;
}

size_t
revoke_redis_pending(struct revoke_redis *r)
{
	size_t n;

	pthread_mutex_lock(&r->qmu);
	n = r->qlen;
	pthread_mutex_unlock(&r->qmu);
	return n;
}

void
revoke_redis_get_stats(struct revoke_redis *r, struct revoke_redis_stats *out)
{
	pthread_mutex_lock(&r->qmu);
	*out = r->stats;
	pthread_mutex_unlock(&r->qmu);
}
