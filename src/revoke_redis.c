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
	size_t len;
	char id[];		/* NUL-terminated */
};
TAILQ_HEAD(opq, op);

/* A copied sorted-set member. */
struct member {
	char *id;
	size_t len;
	int64_t exp;
};

struct revoke_redis {
	struct revoke_store *st;
	const struct revoke_config *rc;
	char *tomb_key;
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

	struct member *snap;		/* ZRANGE of the revoked set */
	size_t nsnap;
	int have_snap;

	struct event *retry;		/* one-shot reconnect */
	struct event *tick;		/* watchdog */
	struct event *wake;		/* pipe from other threads */
	int pipefd[2];

	pthread_mutex_t qmu;		/* the queue and the stats */
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
enqueue_locked(struct revoke_redis *r, char kind, const char *id, size_t len, int64_t exp)
{
	struct op *o = xcalloc(1, sizeof(*o) + len + 1);

	o->seq = ++r->next_seq;
	o->kind = kind;
	o->exp = exp;
	o->len = len;
	memcpy(o->id, id, len);
	TAILQ_INSERT_TAIL(&r->q, o, entry);
	r->qlen++;
}

/* The store's listener: runs in whichever thread changed the store. */
static void
queue_change(void *arg, char op, const char *id, size_t len, int64_t expires_at)
{
	struct revoke_redis *r = arg;
	ssize_t w;

	pthread_mutex_lock(&r->qmu);
	enqueue_locked(r, op, id, len, expires_at);
	pthread_mutex_unlock(&r->qmu);
	do
		w = write(r->pipefd[1], "w", 1);
	while (w < 0 && errno == EINTR);
	/* EAGAIN: the pipe is full of wake-ups already; one is enough. */
}

/* 1 when a revocation of id is queued and not yet acknowledged. */
static int
pending_add(struct revoke_redis *r, const char *id, size_t len)
{
	struct op *o;
	int found = 0;

	pthread_mutex_lock(&r->qmu);
	TAILQ_FOREACH(o, &r->q, entry)
		if (o->len == len && memcmp(o->id, id, len) == 0)
			found = o->kind == '+';
	pthread_mutex_unlock(&r->qmu);
	return found;
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
			free(o);
			break;
		}
	}
	pthread_mutex_unlock(&r->qmu);
}

/* Send every queued change not yet sent on this connection. The
 * commands are idempotent, so a change sent twice (reconnect) is fine. */
static void
rr_flush(struct revoke_redis *r)
{
	struct op *o;
	int64_t now = (int64_t)time(NULL);

	if (r->cmd == NULL)
		return;
	pthread_mutex_lock(&r->qmu);
	TAILQ_FOREACH(o, &r->q, entry) {
		char msg[SG_REVOKE_MAX_ID_BYTES + 32];
		int n;

		if (o->sent)
			continue;
		o->sent = 1;
		if (o->kind == '+') {
			redisAsyncCommand(r->cmd, on_reply, NULL, "ZADD %s %lld %b",
			    r->rc->redis_key, (long long)o->exp, o->id, o->len);
			redisAsyncCommand(r->cmd, on_reply, NULL, "ZREM %s %b", r->tomb_key,
			    o->id, o->len);
			n = snprintf(msg, sizeof(msg), "+ %s %lld", o->id, (long long)o->exp);
		} else {
			redisAsyncCommand(r->cmd, on_reply, NULL, "ZREM %s %b", r->rc->redis_key,
			    o->id, o->len);
			redisAsyncCommand(r->cmd, on_reply, NULL, "ZADD %s %lld %b", r->tomb_key,
			    (long long)(now + r->rc->retention_s), o->id, o->len);
			n = snprintf(msg, sizeof(msg), "- %s", o->id);
		}
		redisAsyncCommand(r->cmd, on_ack, (void *)(uintptr_t)o->seq, "PUBLISH %s %b",
		    r->rc->redis_channel, msg, (size_t)n);
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

static int
in_sorted(const struct member *v, size_t n, const char *id, size_t len)
{
	struct member key = { .id = (char *)id, .len = len };

	return n > 0 && bsearch(&key, v, n, sizeof(*v), member_cmp) != NULL;
}

/* Copy the members (and scores, with_scores) of a ZRANGE reply, keeping
 * only storable ids; sorted for lookups. */
static struct member *
copy_members(const redisReply *rep, int with_scores, size_t *n)
{
	size_t step = with_scores ? 2 : 1, k = 0;
	struct member *v = xcalloc(rep->elements / step + 1, sizeof(*v));

	for (size_t i = 0; i + step <= rep->elements; i += step) {
		const redisReply *m = rep->element[i];
		int64_t exp = 0;

		if (m->type != REDIS_REPLY_STRING || !revoke_id_valid(m->str, m->len))
			continue;
		if (with_scores) {
			const redisReply *s = rep->element[i + 1];
			double d;
			if (s->type != REDIS_REPLY_STRING)
				continue;
			d = strtod(s->str, NULL);
			if (!(d >= 1 && d < 9.2e18))
				continue;
			exp = (int64_t)d;
		}
		v[k].id = xstrndup(m->str, m->len);
		v[k].len = m->len;
		v[k].exp = exp;
		k++;
	}
	qsort(v, k, sizeof(*v), member_cmp);
	*n = k;
	return v;
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
	r->snap = copy_members(rep, 1, &r->nsnap);
	r->have_snap = 1;
}

/* Both sets are read: merge them with the store (see revoke_redis.h). */
static void
on_snap_tomb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct revoke_redis *r = ac->data;
	redisReply *rep = reply;
	struct member *tomb = NULL;
	struct revoke_entry *local = NULL;
	size_t ntomb = 0, nlocal = 0, added = 0, reinstated = 0, pushed = 0;

	(void)priv;
	if (rep == NULL)
		return;
	if (rep->type != REDIS_REPLY_ARRAY || !r->have_snap) {
		log_warnx("revocations: redis: cannot read %s", r->tomb_key);
		goto out;
	}
	tomb = copy_members(rep, 0, &ntomb);
	for (size_t i = 0; i < r->nsnap; i++) {
		uint64_t g = revoke_generation(r->st);
		if (revoke_add_remote(r->st, r->snap[i].id, r->snap[i].len, r->snap[i].exp) ==
		    REVOKE_OK && revoke_generation(r->st) != g)
			added++;
	}
	for (size_t i = 0; i < ntomb; i++) {
		if (in_sorted(r->snap, r->nsnap, tomb[i].id, tomb[i].len) ||
		    pending_add(r, tomb[i].id, tomb[i].len))
			continue;
		if (revoke_remove_remote(r->st, tomb[i].id, tomb[i].len) == REVOKE_OK)
			reinstated++;
	}
	nlocal = revoke_snapshot(r->st, &local);
	pthread_mutex_lock(&r->qmu);
	for (size_t i = 0; i < nlocal; i++) {
		if (in_sorted(r->snap, r->nsnap, local[i].id, local[i].len) ||
		    in_sorted(tomb, ntomb, local[i].id, local[i].len))
			continue;
		enqueue_locked(r, '+', local[i].id, local[i].len, local[i].expires_at);
		pushed++;
	}
	pthread_mutex_unlock(&r->qmu);
	rr_flush(r);

	set_state(r, RR_UP);
	r->backoff_ms = SG_REVOKE_REDIS_BACKOFF_MIN_MS;
	pthread_mutex_lock(&r->qmu);
	r->stats.syncs++;
	pthread_mutex_unlock(&r->qmu);
	log_info("revocations: redis %s %s: %zu revoked there, %zu learnt, %zu reinstated, "
	    "%zu pushed", r->endpoint, r->outage_logged ? "is back, synchronized" :
	    "synchronized", r->nsnap, added, reinstated, pushed);
	r->outage_logged = 0;
	r->ever_up = 1;
out:
	revoke_snapshot_free(local, nlocal);
	for (size_t i = 0; i < ntomb; i++)
		free(tomb[i].id);
	free(tomb);
	free_snap(r);
}

/* Subscribed: push what is queued, then read both sets. Sent on one
 * connection, so Redis sees our queued changes before the reads. */
static void
rr_start_sync(struct revoke_redis *r)
{
	long long now = (long long)time(NULL);

	set_state(r, RR_SYNCING);
	rr_flush(r);
	redisAsyncCommand(r->cmd, on_reply, NULL, "ZREMRANGEBYSCORE %s -inf %lld",
	    r->rc->redis_key, now);
	redisAsyncCommand(r->cmd, on_reply, NULL, "ZREMRANGEBYSCORE %s -inf %lld",
	    r->tomb_key, now);
	redisAsyncCommand(r->cmd, on_snap_revoked, NULL, "ZRANGE %s 0 -1 WITHSCORES",
	    r->rc->redis_key);
	redisAsyncCommand(r->cmd, on_snap_tomb, NULL, "ZRANGE %s 0 -1", r->tomb_key);
}

/* Everything arriving on the subscribed connection. */
static void
on_sub(redisAsyncContext *ac, void *reply, void *priv)
{
	struct revoke_redis *r = ac->data;
	redisReply *rep = reply, *kind, *payload;
	struct revoke_event ev;

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
	if (revoke_event_parse(payload->str, payload->len, &ev) != 0) {
		log_warnx("revocations: redis: ignoring a malformed message on %s",
		    r->rc->redis_channel);
		return;
	}
	if (ev.op == '+')
		(void)revoke_add_remote(r->st, ev.id, ev.len, ev.expires_at);
	else
		(void)revoke_remove_remote(r->st, ev.id, ev.len);
	pthread_mutex_lock(&r->qmu);
	r->stats.received++;
	pthread_mutex_unlock(&r->qmu);
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
	if (r->rc->redis_password != NULL) {
		redisAsyncCommand(r->cmd, on_auth, NULL, "AUTH %s", r->rc->redis_password);
		redisAsyncCommand(r->sub, on_auth, NULL, "AUTH %s", r->rc->redis_password);
	}
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
	if (r->ticks % 60 == 0) {
		long long now = (long long)time(NULL);
		redisAsyncCommand(r->cmd, on_reply, NULL, "ZREMRANGEBYSCORE %s -inf %lld",
		    r->rc->redis_key, now);
		redisAsyncCommand(r->cmd, on_reply, NULL, "ZREMRANGEBYSCORE %s -inf %lld",
		    r->tomb_key, now);
	}
}

/* Woken by queue_change (or by revoke_redis_free: 'q'). */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct revoke_redis *r = arg;
	char buf[64];
	ssize_t n;
	int quit = 0;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (memchr(buf, 'q', (size_t)n) != NULL)
			quit = 1;
	if (quit) {
		event_base_loopbreak(r->base);
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
	free(r);
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
