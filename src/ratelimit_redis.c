/* ratelimit_redis.c: see ratelimit_redis.h. Everything runs in the loop's
 * thread but the process-wide counters (atomics). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "defaults.h"
#include "log.h"
#include "ratelimit_redis.h"
#include "xmalloc.h"

/*
 * GCRA for a batch of requests, with Redis's clock, all or nothing per
 * request. KEYS: every request's cells, request after request. ARGV[1]:
 * the number of requests; ARGV[1 + j]: request j's number of cells; then
 * interval_us and burst of every cell, in KEYS order. Returns one line
 * per request (rlanswer.h): "0 i wait_us" when its cell i refuses (it
 * takes nothing), else "1" and, for each cell, the time until its burst
 * is whole again and what remains. The requests are taken in order, each
 * seeing what the earlier ones took: the same as one script call each
 * (TIME is read once, and a script runs alone). A cell (the theoretical
 * arrival time in µs, as a decimal integer) is read once and written
 * once per batch, and expires when its burst is whole again: an idle
 * key costs Redis nothing. Numbers are written with %.0f: Lua's own
 * tostring would switch to an exponent past 14 digits.
 */
static const char gcra_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local nreq = tonumber(ARGV[1])\n"
    "local p = nreq + 1\n"
    "local tat, dirty, out, k = {}, {}, {}, 0\n"
    "for j = 1, nreq do\n"
    "  local n = tonumber(ARGV[1 + j])\n"
    "  local new, res = {}, nil\n"
    "  for i = 1, n do\n"
    "    local key = KEYS[k + i]\n"
    "    local iv = tonumber(ARGV[p + 2 * (k + i) - 1])\n"
    "    local tol = iv * (tonumber(ARGV[p + 2 * (k + i)]) - 1)\n"
    "    local v = tat[key]\n"
    "    if v == nil then\n"
    "      v = tonumber(redis.call('GET', key) or '0') or 0\n"
    "      tat[key] = v\n"
    "    end\n"
    "    if v < now then v = now end\n"
    "    if v - now > tol then res = string.format('0 %d %.0f', i, v - now - tol) break end\n"
    "    new[i] = v + iv\n"
    "  end\n"
    "  if res == nil then\n"
    "    local parts = {'1'}\n"
    "    for i = 1, n do\n"
    "      local key = KEYS[k + i]\n"
    "      local iv = tonumber(ARGV[p + 2 * (k + i) - 1])\n"
    "      local ahead = new[i] - now\n"
    "      if dirty[key] == nil then dirty[key] = true dirty[#dirty + 1] = key end\n"
    "      tat[key] = new[i]\n"
    "      parts[#parts + 1] = string.format('%.0f %.0f', ahead,\n"
    "          math.floor((tonumber(ARGV[p + 2 * (k + i)]) * iv - ahead) / iv))\n"
    "    end\n"
    "    res = table.concat(parts, ' ')\n"
    "  end\n"
    "  out[j] = res\n"
    "  k = k + n\n"
    "end\n"
    "for _, key in ipairs(dirty) do\n"
    "  redis.call('SET', key, string.format('%.0f', tat[key]), 'PX',\n"
    "      math.floor((tat[key] - now) / 1000) + 1)\n"
    "end\n"
    "return table.concat(out, '\\n')\n";

enum rlr_state {
	RLR_DOWN,
	RLR_CONNECTING,		/* until SCRIPT LOAD answered */
	RLR_UP,
};

struct ratelimit_redis {
	struct event_base *base;
	char *host;
	uint16_t port;
	int db;
	char *password;
	char endpoint[300];
	char sha[41];			/* the script's SHA-1, as Redis names it */

	redisAsyncContext *ac;
	enum rlr_state state;
	int closing;
	int counted_up;			/* in links_up */
	struct timespec since;		/* entered CONNECTING, or the PING went */
	int ping_out;
	int backoff_ms;
	struct event *retry;
	struct event *tick;
	/* The batches this loop pass fills (the last one open, the others
	 * full), sent by flush (made active by the first request), or NULL. */
	struct batch *open, *open_last;
	struct event *flush;
	/* A batch answered, kept with its buffers and timer for the next
	 * one: one is enough when the link keeps up with the loop. */
	struct batch *spare;
};

struct ratelimit_redis_call {
	ratelimit_redis_cb cb;		/* NULL once answered or cancelled */
	void *arg;
	size_t n;			/* its cells */
	uint64_t timeout_us;
	uint64_t deadline_us;		/* monotonic: sent + timeout_us */
};

/* A growing buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

/* One script call: filled during a loop pass, then sent, then answered
 * (a reply, or NULL when the link goes: hiredis answers every call it
 * took exactly once) and freed. Its arguments are kept to send the
 * script whole after a NOSCRIPT. */
struct batch {
	struct ratelimit_redis *r;
	struct batch *next;		/* in r's open list */
	struct event *timer;		/* the earliest deadline still waiting */
	int retried;
	size_t ncalls;
	struct ratelimit_redis_call calls[SG_RATE_LIMIT_REDIS_BATCH_MAX];
	/* The command in Redis's protocol, as hiredis would have formatted it
	 * (its formatting cost more than the rest of the batch): the cells'
	 * names and their intervals and bursts as they come, then the whole
	 * command when it goes. */
	size_t ncells;
	struct buf keys;
	struct buf nums;
	struct buf cmd;
	size_t tail;			/* cmd from numkeys on (after the digest) */
};

static uint64_t g_links_up, g_outages, g_script_loads;
/* The process's shared counting: 1 while some link is up. Transitions
 * are logged once, by whichever worker sees them first. */
static int g_shared_up = -1;

static void rlr_connect(struct ratelimit_redis *r);
static void flush_all(struct ratelimit_redis *r);
static void batch_free(struct batch *b);
static void flush_cb(evutil_socket_t fd, short what, void *arg);

static void
shared_transition(struct ratelimit_redis *r, int up, const char *why)
{
	int was = __atomic_load_n(&g_shared_up, __ATOMIC_ACQUIRE);

	if (up) {
		if (!r->counted_up) {
			r->counted_up = 1;
			__atomic_add_fetch(&g_links_up, 1, __ATOMIC_RELAXED);
		}
		if (was != 1 && __atomic_compare_exchange_n(&g_shared_up, &was, 1, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			log_info("rate limits: redis %s: shared limits counted in Redis%s",
			    r->endpoint, was == 0 ? " again" : "");
		return;
	}
	if (r->counted_up) {
		r->counted_up = 0;
		__atomic_sub_fetch(&g_links_up, 1, __ATOMIC_RELAXED);
	}
	if (was != 0 && __atomic_compare_exchange_n(&g_shared_up, &was, 0, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&g_outages, 1, __ATOMIC_RELAXED);
		log_warnx("rate limits: redis %s unavailable (%s): shared limits fall back to "
		    "local ones (rate / expected_instances) or deny (on_outage), retrying",
		    r->endpoint, why != NULL ? why : "connection lost");
	}
}

/* Drop the connection (its pending calls get NULL answers) and plan the
 * next attempt. */
static void
rlr_down(struct ratelimit_redis *r, const char *why)
{
	redisAsyncContext *ac = r->ac;
	struct timeval tv;

	r->ac = NULL;
	r->state = RLR_DOWN;
	r->ping_out = 0;
	if (ac != NULL)
		redisAsyncFree(ac);
	if (r->closing)
		return;
	shared_transition(r, 0, why);
	tv.tv_sec = r->backoff_ms / 1000;
	tv.tv_usec = (r->backoff_ms % 1000) * 1000;
	evtimer_add(r->retry, &tv);
	r->backoff_ms = r->backoff_ms * 2 > SG_RATE_LIMIT_REDIS_BACKOFF_MAX_MS ?
	    SG_RATE_LIMIT_REDIS_BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static void
on_connect(const redisAsyncContext *cac, int status)
{
	struct ratelimit_redis *r = cac->data;

	if (status != REDIS_OK && r->ac == cac) {
		/* hiredis frees it after this callback. */
		r->ac = NULL;
		rlr_down(r, cac->errstr[0] ? cac->errstr : "connect failed");
	}
}

static void
on_disconnect(const redisAsyncContext *cac, int status)
{
	struct ratelimit_redis *r = cac->data;

	(void)status;
	if (r->ac == cac) {
		r->ac = NULL;
		rlr_down(r, cac->errstr[0] ? cac->errstr : "connection closed");
	}
}

/* AUTH and SELECT: a refusal is an outage (logged once, retried). */
static void
on_setup(redisAsyncContext *ac, void *reply, void *priv)
{
	redisReply *rep = reply;

	(void)priv;
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
		log_debug("rate limits: redis: %s", rep->str);
		redisAsyncDisconnect(ac);
	}
}

static void
on_script_load(redisAsyncContext *ac, void *reply, void *priv)
{
	struct ratelimit_redis *r = ac->data;
	redisReply *rep = reply;

	(void)priv;
	if (rep == NULL || r->ac != ac)
		return;
	if (rep->type != REDIS_REPLY_STRING) {
		log_debug("rate limits: redis: SCRIPT LOAD: %s",
		    rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected answer");
		redisAsyncDisconnect(ac);
		return;
	}
	__atomic_add_fetch(&g_script_loads, 1, __ATOMIC_RELAXED);
	snprintf(r->sha, sizeof(r->sha), "%s", rep->str);
	r->state = RLR_UP;
	r->backoff_ms = SG_RATE_LIMIT_REDIS_BACKOFF_MS;
	shared_transition(r, 1, NULL);
}

static void
rlr_connect(struct ratelimit_redis *r)
{
	redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);

	r->state = RLR_CONNECTING;
	clock_gettime(CLOCK_MONOTONIC, &r->since);
	if (ac == NULL || ac->err) {
		char why[128];

		snprintf(why, sizeof(why), "%s", ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		rlr_down(r, why);
		return;
	}
	ac->data = r;
	if (redisLibeventAttach(ac, r->base) != REDIS_OK) {
		redisAsyncFree(ac);
		rlr_down(r, "cannot attach to the event loop");
		return;
	}
	r->ac = ac;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	/* Answered in order: AUTH first. */
	if (r->password != NULL)
		redisAsyncCommand(ac, on_setup, NULL, "AUTH %s", r->password);
	if (r->db != 0)
		redisAsyncCommand(ac, on_setup, NULL, "SELECT %d", r->db);
	redisAsyncCommand(ac, on_script_load, NULL, "SCRIPT LOAD %s", gcra_script);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rlr_connect(arg);
}

static int64_t
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void
on_pong(redisAsyncContext *ac, void *reply, void *priv)
{
	struct ratelimit_redis *r = ac->data;

	(void)priv;
	if (reply != NULL && r->ac == ac)
		r->ping_out = 0;
}

/* Watchdog: hiredis 0.14 has no timeouts of its own; a Redis that stops
 * answering (or a connect that hangs) is found here. Requests never wait
 * for it: each has its own shared_timeout_ms. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ratelimit_redis *r = arg;

	(void)fd;
	(void)what;
	if (r->state == RLR_CONNECTING && ms_since(&r->since) > 2 * SG_RATE_LIMIT_REDIS_PING_MS) {
		rlr_down(r, "connect timed out");
		return;
	}
	if (r->state != RLR_UP)
		return;
	if (r->ping_out) {
		if (ms_since(&r->since) > 2 * SG_RATE_LIMIT_REDIS_PING_MS)
			rlr_down(r, "no answer to PING");
		return;
	}
	r->ping_out = 1;
	clock_gettime(CLOCK_MONOTONIC, &r->since);
	redisAsyncCommand(r->ac, on_pong, NULL, "PING");
}

struct ratelimit_redis *
ratelimit_redis_new(struct event_base *base, const struct revoke_config *rc)
{
	struct ratelimit_redis *r;
	struct timeval tv = { SG_RATE_LIMIT_REDIS_PING_MS / 1000,
	    (SG_RATE_LIMIT_REDIS_PING_MS % 1000) * 1000 };

	if (rc == NULL || rc->redis_host == NULL)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->host = xstrdup(rc->redis_host);
	r->port = rc->redis_port;
	r->db = rc->redis_db;
	if (rc->redis_password != NULL)
		r->password = xstrdup(rc->redis_password);
	snprintf(r->endpoint, sizeof(r->endpoint), strchr(r->host, ':') ? "[%s]:%u" : "%s:%u",
	    r->host, (unsigned)r->port);
	r->backoff_ms = SG_RATE_LIMIT_REDIS_BACKOFF_MS;
	r->retry = evtimer_new(base, retry_cb, r);
	r->tick = event_new(base, -1, EV_PERSIST, tick_cb, r);
	r->flush = event_new(base, -1, 0, flush_cb, r);
	if (r->retry == NULL || r->tick == NULL || r->flush == NULL ||
	    event_add(r->tick, &tv) != 0)
		fatalx("rate limits: cannot set up the Redis events");
	rlr_connect(r);
	return r;
}

void
ratelimit_redis_free(struct ratelimit_redis *r)
{
	if (r == NULL)
		return;
	r->closing = 1;
	/* Pending calls are answered NULL (their requests fall back), the
	 * open batch's too. */
	rlr_down(r, NULL);
	flush_all(r);
	if (r->spare != NULL) {
		struct batch *b = r->spare;

		r->spare = NULL;
		batch_free(b);
	}
	if (r->counted_up)
		__atomic_sub_fetch(&g_links_up, 1, __ATOMIC_RELAXED);
	event_free(r->retry);
	event_free(r->tick);
	event_free(r->flush);
	free(r->host);
	if (r->password != NULL) {
		OPENSSL_cleanse(r->password, strlen(r->password));
		free(r->password);
	}
	free(r);
}

int
ratelimit_redis_same(const struct ratelimit_redis *r, const struct revoke_config *rc)
{
	return r != NULL && rc != NULL && rc->redis_host != NULL &&
	    strcmp(r->host, rc->redis_host) == 0 && r->port == rc->redis_port &&
	    r->db == rc->redis_db && (r->password == NULL) == (rc->redis_password == NULL) &&
	    (r->password == NULL || strcmp(r->password, rc->redis_password) == 0);
}

int
ratelimit_redis_up(const struct ratelimit_redis *r)
{
	return r != NULL && r->state == RLR_UP;
}

/* Room for len more bytes at the end of v. */
static char *
buf_room(struct buf *v, size_t len)
{
	if (v->len + len > v->cap) {
		while (v->len + len > v->cap)
			v->cap = v->cap ? 2 * v->cap : 1024;
		v->p = xreallocarray(v->p, v->cap, 1);
	}
	return v->p + v->len;
}

static void
buf_add(struct buf *v, const char *str, size_t len)
{
	memcpy(buf_room(v, len), str, len);
	v->len += len;
}

/* x in decimal at the end of out (24 bytes); returns where it starts. */
static char *
u64_dec(uint64_t x, char out[24])
{
	char *p = out + 24;

	do
		*--p = (char)('0' + x % 10);
	while ((x /= 10) != 0);
	return p;
}

/* One argument in Redis's protocol: "$<len>\r\n<bytes>\r\n" (written in
 * place: this runs a few times per request). */
static void
buf_arg(struct buf *v, const char *str, size_t len)
{
	char d[24], *n = u64_dec(len, d), *w = buf_room(v, len + 30);
	size_t nl = (size_t)(d + sizeof(d) - n);

	*w++ = '$';
	memcpy(w, n, nl);
	w += nl;
	*w++ = '\r';
	*w++ = '\n';
	memcpy(w, str, len);
	w += len;
	*w++ = '\r';
	*w++ = '\n';
	v->len = (size_t)(w - v->p);
}

static void
buf_num(struct buf *v, uint64_t x)
{
	char d[24], *n = u64_dec(x, d);

	buf_arg(v, n, (size_t)(d + sizeof(d) - n));
}

/* The command's head: "*<argc>", then the script by digest (EVALSHA) or
 * whole (EVAL). */
static void
batch_head(struct batch *b, struct buf *v, int whole)
{
	char d[24], *n = u64_dec(4 + b->ncalls + 3 * b->ncells, d);

	buf_add(v, "*", 1);
	buf_add(v, n, (size_t)(d + sizeof(d) - n));
	buf_add(v, "\r\n", 2);
	if (whole) {
		buf_arg(v, "EVAL", 4);
		buf_arg(v, gcra_script, sizeof(gcra_script) - 1);
	} else {
		buf_arg(v, "EVALSHA", 7);
		buf_arg(v, b->r->sha, strlen(b->r->sha));
	}
}

static void
batch_free(struct batch *b)
{
	struct ratelimit_redis *r = b->r;

	/* Kept for the next batch, unless the link goes away. */
	if (r->spare == NULL && !r->closing) {
		if (b->timer != NULL)
			evtimer_del(b->timer);
		b->next = NULL;
		b->retried = 0;
		b->ncalls = 0;
		b->ncells = 0;
		b->keys.len = 0;
		b->nums.len = 0;
		b->cmd.len = 0;
		r->spare = b;
		return;
	}
	if (b->timer != NULL)
		event_free(b->timer);
	free(b->keys.p);
	free(b->nums.p);
	free(b->cmd.p);
	free(b);
}

/* No answer for the calls of b still waiting (those due by due_us, or
 * all with 0): their requests fall back. */
static void
batch_fail(struct batch *b, uint64_t due_us)
{
	for (size_t i = 0; i < b->ncalls; i++) {
		struct ratelimit_redis_call *c = &b->calls[i];
		ratelimit_redis_cb cb = c->cb;

		if (cb == NULL || (due_us != 0 && c->deadline_us > due_us))
			continue;
		c->cb = NULL;
		cb(c->arg, NULL, 0);
	}
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Wake at the earliest deadline of b's calls still waiting (none: stay
 * asleep; the batch goes with its answer). */
static void
batch_arm(struct batch *b, uint64_t now)
{
	uint64_t first = UINT64_MAX;
	struct timeval tv;

	for (size_t i = 0; i < b->ncalls; i++)
		if (b->calls[i].cb != NULL && b->calls[i].deadline_us < first)
			first = b->calls[i].deadline_us;
	if (first == UINT64_MAX)
		return;
	first = first > now ? first - now : 0;
	tv.tv_sec = (time_t)(first / 1000000);
	tv.tv_usec = (suseconds_t)(first % 1000000);
	evtimer_add(b->timer, &tv);
}

/* A deadline came: its calls go without an answer (each request waits
 * its own shared_timeout_ms, whatever the others in its batch wait). */
static void
batch_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	uint64_t now = mono_us();

	(void)fd;
	(void)what;
	batch_fail(b, now);
	batch_arm(b, now);
}

static void on_batch(redisAsyncContext *ac, void *reply, void *priv);

/* Send b's command. */
static int
batch_send(struct ratelimit_redis *r, struct batch *b)
{
	return redisAsyncFormattedCommand(r->ac, on_batch, b, b->cmd.p, b->cmd.len) ==
	    REDIS_OK ? 0 : -1;
}

/* The script's answer (or NULL: the link went): one per call. */
static void
on_batch(redisAsyncContext *ac, void *reply, void *priv)
{
	struct batch *b = priv;
	struct ratelimit_redis *r = ac->data;
	redisReply *rep = reply;
	struct rlanswer_cell cells[SG_RATE_LIMITS_MAX];

	/* NOSCRIPT (a Redis restarted or flushed): send the script whole;
	 * EVAL also caches it for the next EVALSHA. */
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR && !b->retried &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0 && r->ac == ac && !r->closing) {
		struct buf whole = { 0 };

		b->retried = 1;
		batch_head(b, &whole, 1);
		buf_add(&whole, b->cmd.p + b->tail, b->cmd.len - b->tail);
		free(b->cmd.p);
		b->cmd = whole;
		__atomic_add_fetch(&g_script_loads, 1, __ATOMIC_RELAXED);
		if (batch_send(r, b) == 0)
			return;
		rep = NULL;
	}
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		log_debug("rate limits: redis: %s", rep->str);
	/* One line per call, or none is believed. */
	if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
	    rlanswer_lines(rep->str, (size_t)rep->len) == b->ncalls) {
		size_t pos = 0;

		for (size_t i = 0; i < b->ncalls; i++) {
			struct ratelimit_redis_call *c = &b->calls[i];
			ratelimit_redis_cb cb = c->cb;
			int ok = rlanswer_next(rep->str, (size_t)rep->len, &pos, c->n, cells);

			if (cb == NULL)
				continue;
			c->cb = NULL;
			if (ok == 0)
				cb(c->arg, cells, c->n);
			else
				cb(c->arg, NULL, 0);
		}
	}
	batch_fail(b, 0);
	batch_free(b);
}

/* The end of the loop pass: send b (or, the link gone meanwhile, answer
 * its calls "no answer"). */
static void
batch_flush(struct ratelimit_redis *r, struct batch *b)
{
	uint64_t now;

	if (r->state != RLR_UP || r->ac == NULL) {
		batch_fail(b, 0);
		batch_free(b);
		return;
	}
	/* KEYS: numkeys, the cells' names; ARGV: the number of requests, the
	 * cells of each, then interval and burst of every cell. */
	b->cmd.len = 0;
	batch_head(b, &b->cmd, 0);
	b->tail = b->cmd.len;
	buf_num(&b->cmd, b->ncells);
	buf_add(&b->cmd, b->keys.p, b->keys.len);
	buf_num(&b->cmd, b->ncalls);
	for (size_t i = 0; i < b->ncalls; i++)
		buf_num(&b->cmd, b->calls[i].n);
	buf_add(&b->cmd, b->nums.p, b->nums.len);
	if (b->timer == NULL)
		b->timer = evtimer_new(r->base, batch_timeout, b);
	/* The wait is for Redis, from now: a long loop pass (many requests
	 * at once, a slow handshake beside them) is no late answer, and
	 * counted from the read it would send the pass's first requests to
	 * the fallback while Redis counts them too. A request that does fall
	 * back finds its cell charged by what Redis admitted here (rlgate.c),
	 * so a late answer never lends a second budget. */
	now = mono_us();
	for (size_t i = 0; i < b->ncalls; i++)
		b->calls[i].deadline_us = now + b->calls[i].timeout_us;
	if (b->timer == NULL || batch_send(r, b) != 0) {
		batch_fail(b, 0);
		batch_free(b);
		return;
	}
	batch_arm(b, now);
}

/* Send every open batch, in the order their requests came. */
static void
flush_all(struct ratelimit_redis *r)
{
	struct batch *b;

	while ((b = r->open) != NULL) {
		r->open = b->next;
		if (r->open == NULL)
			r->open_last = NULL;
		batch_flush(r, b);
	}
}

/* Made active by a pass's first request, this event runs after every
 * callback the loop pass had already queued: all the reads that epoll
 * reported together, hence every request they carried, come before it
 * (libevent 2.1 runs an active queue until it is empty, newly activated
 * events at its tail). So the batch holds the whole pass and goes at its
 * end, when hiredis would have written a lone command anyway (its
 * libevent adapter writes on the next EV_WRITE): no request waits
 * longer than it did with a call of its own. */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ratelimit_redis *r = arg;

	(void)fd;
	(void)what;
	flush_all(r);
}

struct ratelimit_redis_call *
ratelimit_redis_eval(struct ratelimit_redis *r, char *const *keys, const uint64_t *interval_us,
    const uint32_t *burst, size_t n, int64_t timeout_ms, ratelimit_redis_cb cb, void *arg)
{
	struct ratelimit_redis_call *c;
	struct batch *b;

	if (r == NULL || r->state != RLR_UP || r->ac == NULL || n == 0)
		return NULL;
	/* A full batch stays full; the pass's later requests start another,
	 * sent with it at the end of the pass (never from here: a send that
	 * fails answers its calls, and cb is never called from here). */
	if (r->open_last == NULL || r->open_last->ncalls == SG_RATE_LIMIT_REDIS_BATCH_MAX) {
		if ((b = r->spare) != NULL)
			r->spare = NULL;
		else {
			b = xcalloc(1, sizeof(*b));
			b->r = r;
		}
		if (r->open_last != NULL)
			r->open_last->next = b;
		else {
			r->open = b;
			event_active(r->flush, EV_TIMEOUT, 0);
		}
		r->open_last = b;
	}
	b = r->open_last;
	c = &b->calls[b->ncalls++];
	c->cb = cb;
	c->arg = arg;
	c->n = n;
	c->timeout_us = (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
	for (size_t i = 0; i < n; i++) {
		buf_arg(&b->keys, keys[i], strlen(keys[i]));
		buf_num(&b->nums, interval_us[i]);
		buf_num(&b->nums, burst[i]);
	}
	b->ncells += n;
	return c;
}

void
ratelimit_redis_cancel(struct ratelimit_redis_call *c)
{
	if (c != NULL)
		c->cb = NULL;
}

void
ratelimit_redis_get_stats(struct ratelimit_redis_stats *out)
{
	out->links_up = __atomic_load_n(&g_links_up, __ATOMIC_RELAXED);
	out->outages = __atomic_load_n(&g_outages, __ATOMIC_RELAXED);
	out->script_loads = __atomic_load_n(&g_script_loads, __ATOMIC_RELAXED);
}
