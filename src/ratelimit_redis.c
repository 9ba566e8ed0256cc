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
 * GCRA on every cell, with Redis's clock, all or nothing. KEYS: the cells;
 * ARGV: interval_us and burst of each. Returns {0, i, wait_us} when cell
 * i refuses (nothing is taken), else {1, 0, 0, then for each cell: the
 * time until its burst is whole again, what remains}. A cell (the
 * theoretical arrival time in µs, as a decimal integer) expires when its
 * burst is whole again: an idle key costs Redis nothing.
 */
static const char gcra_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local tats = {}\n"
    "for i = 1, #KEYS do\n"
    "  local iv = tonumber(ARGV[2 * i - 1])\n"
    "  local tol = iv * (tonumber(ARGV[2 * i]) - 1)\n"
    "  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0\n"
    "  if tat < now then tat = now end\n"
    "  if tat - now > tol then return {0, i, tat - now - tol} end\n"
    "  tats[i] = tat + iv\n"
    "end\n"
    "local out = {1, 0, 0}\n"
    "for i = 1, #KEYS do\n"
    "  local iv = tonumber(ARGV[2 * i - 1])\n"
    "  local ahead = tats[i] - now\n"
    "  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.floor(ahead / 1000) + 1)\n"
    "  out[#out + 1] = ahead\n"
    "  out[#out + 1] = math.floor((tonumber(ARGV[2 * i]) * iv - ahead) / iv)\n"
    "end\n"
    "return out\n";

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
};

/* A script call waiting for its answer; its arguments are kept to send
 * the script whole after a NOSCRIPT. */
struct pending {
	struct ratelimit_redis *r;
	ratelimit_redis_cb cb;
	void *arg;
	size_t n;
	int retried;
	int argc;
	char **argv;
	size_t *argvlen;
};

static uint64_t g_links_up, g_outages, g_script_loads;
/* The process's shared counting: 1 while some link is up. Transitions
 * are logged once, by whichever worker sees them first. */
static int g_shared_up = -1;

static void rlr_connect(struct ratelimit_redis *r);

static void
pending_free(struct pending *p)
{
	for (int i = 0; i < p->argc; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->argvlen);
	free(p);
}

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
	if (r->retry == NULL || r->tick == NULL || event_add(r->tick, &tv) != 0)
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
	/* Pending calls are answered NULL (their requests fall back). */
	rlr_down(r, NULL);
	if (r->counted_up)
		__atomic_sub_fetch(&g_links_up, 1, __ATOMIC_RELAXED);
	event_free(r->retry);
	event_free(r->tick);
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

static void on_eval(redisAsyncContext *ac, void *reply, void *priv);

/* Send p (argv[0] is "EVALSHA" with the digest, or "EVAL" with the
 * script). */
static int
send_pending(struct ratelimit_redis *r, struct pending *p)
{
	return redisAsyncCommandArgv(r->ac, on_eval, p, p->argc, (const char **)p->argv,
	    p->argvlen) == REDIS_OK ? 0 : -1;
}

/* The script's answer: parse it for the caller. */
static void
on_eval(redisAsyncContext *ac, void *reply, void *priv)
{
	struct pending *p = priv;
	struct ratelimit_redis *r = ac->data;
	redisReply *rep = reply;
	struct ratelimit_redis_cell *cells = NULL;

	/* NOSCRIPT (a Redis restarted or flushed): send the script whole;
	 * EVAL also caches it for the next EVALSHA. */
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR && !p->retried &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0 && r->ac == ac && !r->closing) {
		p->retried = 1;
		free(p->argv[0]);
		free(p->argv[1]);
		p->argv[0] = xstrdup("EVAL");
		p->argv[1] = xstrdup(gcra_script);
		p->argvlen[0] = 4;
		p->argvlen[1] = strlen(gcra_script);
		__atomic_add_fetch(&g_script_loads, 1, __ATOMIC_RELAXED);
		if (send_pending(r, p) == 0)
			return;
		rep = NULL;
	}
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 3) {
		int ok = (int)rep->element[0]->integer;
		size_t bad = (size_t)rep->element[1]->integer;

		cells = xcalloc(p->n, sizeof(*cells));
		if (!ok && bad >= 1 && bad <= p->n) {
			for (size_t i = 0; i < p->n; i++)
				cells[i].ok = 1;
			cells[bad - 1].ok = 0;
			cells[bad - 1].wait_us = (uint64_t)rep->element[2]->integer;
		} else if (ok && rep->elements == 3 + 2 * p->n) {
			for (size_t i = 0; i < p->n; i++) {
				cells[i].ok = 1;
				cells[i].wait_us = (uint64_t)rep->element[3 + 2 * i]->integer;
				cells[i].remaining = (uint32_t)rep->element[4 + 2 * i]->integer;
			}
		} else {
			free(cells);
			cells = NULL;
		}
	} else if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		log_debug("rate limits: redis: %s", rep->str);
	p->cb(p->arg, cells, cells != NULL ? p->n : 0);
	free(cells);
	pending_free(p);
}

int
ratelimit_redis_eval(struct ratelimit_redis *r, char *const *keys, const uint64_t *interval_us,
    const uint32_t *burst, size_t n, ratelimit_redis_cb cb, void *arg)
{
	struct pending *p;
	char num[32];
	int k = 0;

	if (r == NULL || r->state != RLR_UP || r->ac == NULL || n == 0)
		return -1;
	p = xcalloc(1, sizeof(*p));
	p->r = r;
	p->cb = cb;
	p->arg = arg;
	p->n = n;
	p->argc = (int)(3 + 3 * n);
	p->argv = xcalloc((size_t)p->argc, sizeof(*p->argv));
	p->argvlen = xcalloc((size_t)p->argc, sizeof(*p->argvlen));
	p->argv[k++] = xstrdup("EVALSHA");
	p->argv[k++] = xstrdup(r->sha);
	snprintf(num, sizeof(num), "%zu", n);
	p->argv[k++] = xstrdup(num);
	for (size_t i = 0; i < n; i++)
		p->argv[k++] = xstrdup(keys[i]);
	for (size_t i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)interval_us[i]);
		p->argv[k++] = xstrdup(num);
		snprintf(num, sizeof(num), "%u", burst[i]);
		p->argv[k++] = xstrdup(num);
	}
	for (int i = 0; i < p->argc; i++)
		p->argvlen[i] = strlen(p->argv[i]);
	if (send_pending(r, p) != 0) {
		pending_free(p);
		return -1;
	}
	return 0;
}

void
ratelimit_redis_get_stats(struct ratelimit_redis_stats *out)
{
	out->links_up = __atomic_load_n(&g_links_up, __ATOMIC_RELAXED);
	out->outages = __atomic_load_n(&g_outages, __ATOMIC_RELAXED);
	out->script_loads = __atomic_load_n(&g_script_loads, __ATOMIC_RELAXED);
}
