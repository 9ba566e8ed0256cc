/* introspect.c: see introspect.h.
 *
 * Lock: one mutex (hub.lock) guards the cache, the calls in flight, every
 * client's list of waiters and the counters. A call belongs to the client
 * (worker) that started it and only that worker's loop touches its HTTP
 * exchange; when it ends, every waiter of it, on any worker, is marked
 * done under the lock and its worker woken (through its mailbox,
 * xwake.h: a worker's base has no lock). A worker resumes its done waiters on its own
 * loop, outside the lock. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "cfg.h"
#include "introspect.h"
#include "log.h"
#include "upstream.h"
#include "xmalloc.h"
#include "xwake.h"

#define HUB_BUCKETS	4096

struct introspect_entry {
	int refcnt;			/* atomic */
	enum jwt_status st;
	struct jwt_result *r;
};

struct cached {
	unsigned char key[32];
	uint64_t gen;
	time_t until;
	struct introspect_entry *e;
	struct cached *next;
};

struct flight {
	unsigned char key[32];
	uint64_t gen;
	struct introspect_client *owner;
	const struct introspect_spec *spec;
	const struct jwt_opts *opts;
	void *keep;
	struct upstream_pool *pool;
	struct upstream_exchange *x;
	struct evbuffer *body;
	int status;
	int failed;
	struct event *deadline;
	LIST_ENTRY(flight) link;
};

struct introspect_waiter {
	struct introspect_client *c;
	struct flight *f;		/* NULL once done */
	void *req;
	struct introspect_entry *e;	/* the answer, once done (or NULL: failed) */
	char why[160];
	TAILQ_ENTRY(introspect_waiter) link;
};

/* A worker's HTTP client to one endpoint (per spec generation): pools are
 * kept until idle, then freed. */
struct pool_slot {
	uint64_t gen;
	struct upstream_pool *pool;
	LIST_ENTRY(pool_slot) link;
};

struct introspect_client {
	struct event_base *base;
	introspect_resume_fn resume;
	void (*unkeep)(void *);
	struct event *wake;
	TAILQ_HEAD(, introspect_waiter) waiters;	/* hub.lock */
	LIST_HEAD(, pool_slot) pools;			/* this worker only */
	LIST_ENTRY(introspect_client) link;		/* hub.lock */
};

static struct {
	pthread_mutex_t lock;
	struct cached *bucket[HUB_BUCKETS];
	size_t ncached;
	LIST_HEAD(, flight) flights;
	size_t nflights;
	LIST_HEAD(, introspect_client) clients;
	/* Counters for /metrics. */
	uint64_t calls_ok, calls_error, calls_timeout, hits, coalesced, busy;
	uint64_t active, inactive;
} hub = { .lock = PTHREAD_MUTEX_INITIALIZER };

enum jwt_status
introspect_entry_status(const struct introspect_entry *e)
{
	return e->st;
}

const struct jwt_result *
introspect_entry_result(const struct introspect_entry *e)
{
	return e->st == JWT_OK ? e->r : NULL;
}

void
introspect_entry_release(struct introspect_entry *e)
{
	if (e == NULL || __atomic_sub_fetch(&e->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	jwt_result_free(e->r);
	free(e);
}

struct introspect_entry *
introspect_entry_refused(enum jwt_status st)
{
	struct introspect_entry *e = xcalloc(1, sizeof(*e));

	e->refcnt = 1;
	e->st = st;
	return e;
}

static struct introspect_entry *
entry_ref(struct introspect_entry *e)
{
	__atomic_add_fetch(&e->refcnt, 1, __ATOMIC_RELAXED);
	return e;
}

static size_t
bucket_of(const unsigned char key[32])
{
	return ((size_t)key[0] | (size_t)key[1] << 8) % HUB_BUCKETS;
}

/* Under the lock: the live cached answer, dropping expired ones met. */
static struct introspect_entry *
cache_find(const unsigned char key[32], uint64_t gen, time_t now)
{
	struct cached **pp = &hub.bucket[bucket_of(key)], *c;

	while ((c = *pp) != NULL) {
		if (c->until <= now || c->gen != gen) {
			/* Expired, or of a configuration no longer loaded
			 * (a newer one has another generation). */
			if (c->until <= now || c->gen < gen) {
				*pp = c->next;
				introspect_entry_release(c->e);
				free(c);
				hub.ncached--;
				continue;
			}
		} else if (memcmp(c->key, key, 32) == 0)
			return c->e;
		pp = &c->next;
	}
	return NULL;
}

/* Under the lock: drop every expired entry and every entry of an older
 * configuration (a reload leaves them behind in buckets no lookup may
 * visit again). */
static void
cache_sweep(uint64_t gen, time_t now)
{
	for (size_t b = 0; b < HUB_BUCKETS; b++) {
		struct cached **pp = &hub.bucket[b], *c;
		while ((c = *pp) != NULL) {
			if (c->until <= now || c->gen < gen) {
				*pp = c->next;
				introspect_entry_release(c->e);
				free(c);
				hub.ncached--;
			} else
				pp = &c->next;
		}
	}
}

/* Under the lock. Full even after a sweep: the answer is not kept (the
 * next request asks again): memory stays bounded whatever tokens clients
 * send. */
static void
cache_put(const unsigned char key[32], uint64_t gen, time_t until, struct introspect_entry *e,
    time_t now)
{
	struct cached *c;

	if (hub.ncached >= SG_INTROSPECT_CACHE_MAX)
		cache_sweep(gen, now);
	if (until <= now || hub.ncached >= SG_INTROSPECT_CACHE_MAX)
		return;
	c = xcalloc(1, sizeof(*c));
	memcpy(c->key, key, 32);
	c->gen = gen;
	c->until = until;
	c->e = entry_ref(e);
	c->next = hub.bucket[bucket_of(key)];
	hub.bucket[bucket_of(key)] = c;
	hub.ncached++;
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct introspect_client *c = arg;
	TAILQ_HEAD(, introspect_waiter) done = TAILQ_HEAD_INITIALIZER(done);
	struct introspect_waiter *w, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&hub.lock);
	for (w = TAILQ_FIRST(&c->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (w->f == NULL) {
			TAILQ_REMOVE(&c->waiters, w, link);
			TAILQ_INSERT_TAIL(&done, w, link);
		}
	}
	pthread_mutex_unlock(&hub.lock);
	while ((w = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, w, link);
		c->resume(w->req, w->e, w->why);
		free(w);
	}
}

struct introspect_client *
introspect_client_new(struct event_base *base, introspect_resume_fn resume,
    void (*unkeep)(void *))
{
	struct introspect_client *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->resume = resume;
	c->unkeep = unkeep;
	if ((c->wake = event_new(base, -1, 0, wake_cb, c)) == NULL)
		fatalx("introspection: out of memory");
	TAILQ_INIT(&c->waiters);
	LIST_INIT(&c->pools);
	pthread_mutex_lock(&hub.lock);
	LIST_INSERT_HEAD(&hub.clients, c, link);
	pthread_mutex_unlock(&hub.lock);
	return c;
}

static void flight_end(struct flight *f, struct introspect_entry *e, const char *why);

void
introspect_client_free(struct introspect_client *c)
{
	struct introspect_waiter *w;
	struct pool_slot *ps;
	struct flight *f;

	if (c == NULL)
		return;
	/* Its calls end as failures for the waiters of other workers. */
	for (;;) {
		pthread_mutex_lock(&hub.lock);
		LIST_FOREACH(f, &hub.flights, link)
			if (f->owner == c)
				break;
		pthread_mutex_unlock(&hub.lock);
		if (f == NULL)
			break;
		flight_end(f, NULL, "the gateway is stopping");
	}
	pthread_mutex_lock(&hub.lock);
	LIST_REMOVE(c, link);
	while ((w = TAILQ_FIRST(&c->waiters)) != NULL) {
		TAILQ_REMOVE(&c->waiters, w, link);
		introspect_entry_release(w->e);
		free(w);
	}
	pthread_mutex_unlock(&hub.lock);
	while ((ps = LIST_FIRST(&c->pools)) != NULL) {
		LIST_REMOVE(ps, link);
		upstream_pool_free(ps->pool);
		free(ps);
	}
	event_free(c->wake);
	free(c);
}

/* This worker's client for spec; pools of older specs go once idle. */
static struct upstream_pool *
pool_for(struct introspect_client *c, const struct introspect_spec *spec)
{
	struct pool_slot *ps, *next, *found = NULL;
	struct cfg_upstream cu;

	for (ps = LIST_FIRST(&c->pools); ps != NULL; ps = next) {
		next = LIST_NEXT(ps, link);
		if (ps->gen == spec->generation)
			found = ps;
		else if (upstream_pool_idle(ps->pool)) {
			LIST_REMOVE(ps, link);
			upstream_pool_free(ps->pool);
			free(ps);
		}
	}
	if (found != NULL)
		return found->pool;
	memset(&cu, 0, sizeof(cu));
	for (size_t i = 0; i < spec->naddrs && i < SG_UPSTREAM_MAX_ADDRS; i++) {
		memcpy(&cu.addrs[i], &spec->addrs[i], spec->addrlens[i]);
		cu.addrlens[i] = spec->addrlens[i];
		cu.naddrs++;
	}
	cu.host = (char *)spec->host;
	cu.port = spec->port;
	cu.https = spec->https;
	cu.timeout_ms = spec->timeout_ms;
	cu.max_connections = spec->max_inflight;
	cu.tls = spec->tls;
	ps = xcalloc(1, sizeof(*ps));
	ps->gen = spec->generation;
	ps->pool = upstream_pool_new(c->base, &cu);
	LIST_INSERT_HEAD(&c->pools, ps, link);
	return ps->pool;
}

/* The call ended (e: the answer, a reference given up here; NULL: failed
 * for why). On the owner's loop. */
static void
flight_end(struct flight *f, struct introspect_entry *e, const char *why)
{
	struct introspect_client *c;
	struct introspect_waiter *w;
	time_t now = time(NULL);

	if (f->x != NULL)
		upstream_cancel(f->x);
	f->x = NULL;
	if (e == NULL)
		log_warnx("introspection %s: %s; requests waiting on it get 503", f->spec->url, why);
	pthread_mutex_lock(&hub.lock);
	LIST_REMOVE(f, link);
	hub.nflights--;
	if (e != NULL) {
		hub.calls_ok++;
		if (e->st == JWT_OK)
			hub.active++;
		else
			hub.inactive++;
		cache_put(f->key, f->gen, introspect_cache_until(f->spec, e->st, e->r, now), e, now);
	} else
		hub.calls_error++;
	LIST_FOREACH(c, &hub.clients, link) {
		int woken = 0;
		TAILQ_FOREACH(w, &c->waiters, link) {
			if (w->f != f)
				continue;
			w->f = NULL;
			w->e = e != NULL ? entry_ref(e) : NULL;
			snprintf(w->why, sizeof(w->why), "%s", e != NULL ? "" : why);
			woken = 1;
		}
		if (woken)
			xwake_active(c->wake, EV_READ);
	}
	pthread_mutex_unlock(&hub.lock);
	introspect_entry_release(e);
	if (f->deadline != NULL)
		event_free(f->deadline);
	if (f->body != NULL)
		evbuffer_free(f->body);
	f->owner->unkeep(f->keep);
	free(f);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flight *f = arg;
	char why[96];

	(void)fd;
	(void)what;
	__atomic_add_fetch(&hub.calls_timeout, 1, __ATOMIC_RELAXED);
	snprintf(why, sizeof(why), "no answer within timeout_ms (%lld ms)",
	    (long long)f->spec->timeout_ms);
	flight_end(f, NULL, why);
}

static void
on_head(void *arg, const struct uresp *r)
{
	struct flight *f = arg;

	f->status = r->status;
	if (r->content_length > SG_INTROSPECT_MAX_BYTES)
		f->failed = 1;
}

static void
on_body(void *arg, const char *data, size_t len)
{
	struct flight *f = arg;

	if (evbuffer_get_length(f->body) + len > SG_INTROSPECT_MAX_BYTES)
		f->failed = 1;
	else
		evbuffer_add(f->body, data, len);
}

static void
on_error(void *arg, enum upstream_error err, const char *why)
{
	struct flight *f = arg;
	char buf[160];

	(void)err;
	f->x = NULL;
	snprintf(buf, sizeof(buf), "call failed: %s", why ? why : "error");
	flight_end(f, NULL, buf);
}

static void
on_done(void *arg)
{
	struct flight *f = arg;
	size_t len = evbuffer_get_length(f->body);
	const char *buf = (const char *)evbuffer_pullup(f->body, -1);
	struct introspect_entry *e;
	struct jwt_result *r = NULL;
	enum jwt_status st;
	char why[128], msg[200];

	f->x = NULL;
	if (f->failed) {
		snprintf(msg, sizeof(msg), "answer larger than %d bytes", SG_INTROSPECT_MAX_BYTES);
		flight_end(f, NULL, msg);
		return;
	}
	if (f->status != 200) {
		snprintf(msg, sizeof(msg), "HTTP status %d", f->status);
		flight_end(f, NULL, msg);
		return;
	}
	if (introspect_answer_parse(buf ? buf : "", len, f->opts, time(NULL), &st, &r, why,
	    sizeof(why)) == INTROSPECT_UNUSABLE) {
		snprintf(msg, sizeof(msg), "answer refused: %s", why);
		flight_end(f, NULL, msg);
		return;
	}
	e = xcalloc(1, sizeof(*e));
	e->refcnt = 1;
	e->st = st;
	e->r = r;
	flight_end(f, e, NULL);
}

static const struct upstream_cbs flight_cbs = {
	.head = on_head,
	.body = on_body,
	.done = on_done,
	.error = on_error,
};

static struct introspect_waiter *
waiter_new(struct introspect_client *c, struct flight *f, void *req)
{
	struct introspect_waiter *w = xcalloc(1, sizeof(*w));

	w->c = c;
	w->f = f;
	w->req = req;
	TAILQ_INSERT_TAIL(&c->waiters, w, link);
	return w;
}

enum introspect_lookup
introspect_lookup(struct introspect_client *c, const struct introspect_spec *spec,
    const struct jwt_opts *opts, const char *token, size_t len, time_t now, void *req,
    void *(*keep)(void *), void *keep_arg, struct introspect_entry **e,
    struct introspect_waiter **wp)
{
	unsigned char key[32];
	struct introspect_entry *hit;
	struct flight *f;
	struct evbuffer *wire;
	struct timeval tv = { (time_t)(spec->timeout_ms / 1000),
	    (suseconds_t)(spec->timeout_ms % 1000) * 1000 };
	char *text;
	size_t tlen;

	*e = NULL;
	*wp = NULL;
	/* The token's hash is the only form of it kept anywhere. */
	if (EVP_Digest(token, len, key, NULL, EVP_sha256(), NULL) != 1)
		fatalx("introspection: SHA-256 failed");
	pthread_mutex_lock(&hub.lock);
	if ((hit = cache_find(key, spec->generation, now)) != NULL) {
		hub.hits++;
		*e = entry_ref(hit);
		pthread_mutex_unlock(&hub.lock);
		return INTROSPECT_HIT;
	}
	LIST_FOREACH(f, &hub.flights, link)
		if (f->gen == spec->generation && memcmp(f->key, key, 32) == 0) {
			hub.coalesced++;
			*wp = waiter_new(c, f, req);
			pthread_mutex_unlock(&hub.lock);
			return INTROSPECT_WAIT;
		}
	if (hub.nflights >= (size_t)spec->max_inflight) {
		hub.busy++;
		pthread_mutex_unlock(&hub.lock);
		return INTROSPECT_BUSY;
	}
	f = xcalloc(1, sizeof(*f));
	memcpy(f->key, key, 32);
	f->gen = spec->generation;
	f->owner = c;
	f->spec = spec;
	f->opts = opts;
	f->keep = keep(keep_arg);
	LIST_INSERT_HEAD(&hub.flights, f, link);
	hub.nflights++;
	*wp = waiter_new(c, f, req);
	pthread_mutex_unlock(&hub.lock);

	if ((f->body = evbuffer_new()) == NULL || (wire = evbuffer_new()) == NULL ||
	    (f->deadline = evtimer_new(c->base, deadline_cb, f)) == NULL)
		fatalx("introspection: out of memory");
	text = introspect_request(spec, token, len, &tlen);
	evbuffer_add(wire, text, tlen);
	OPENSSL_cleanse(text, tlen);
	free(text);
	f->pool = pool_for(c, spec);
	evtimer_add(f->deadline, &tv);
	/* A POST: never sent twice by the client on its own. */
	f->x = upstream_send(f->pool, wire, 0, &flight_cbs, f);
	evbuffer_free(wire);
	return INTROSPECT_WAIT;
}

void
introspect_cancel(struct introspect_client *c, struct introspect_waiter *w)
{
	pthread_mutex_lock(&hub.lock);
	TAILQ_REMOVE(&c->waiters, w, link);
	pthread_mutex_unlock(&hub.lock);
	introspect_entry_release(w->e);
	free(w);
}

char *
introspect_metrics(void)
{
	char *out;

	pthread_mutex_lock(&hub.lock);
	xasprintf(&out,
	    "# HELP scopegate_introspection_calls_total Calls to the token introspection endpoint by outcome.\n"
	    "# TYPE scopegate_introspection_calls_total counter\n"
	    "scopegate_introspection_calls_total{result=\"ok\"} %llu\n"
	    "scopegate_introspection_calls_total{result=\"error\"} %llu\n"
	    "# HELP scopegate_introspection_timeouts_total Calls given up after timeout_ms (also counted as errors).\n"
	    "# TYPE scopegate_introspection_timeouts_total counter\n"
	    "scopegate_introspection_timeouts_total %llu\n"
	    "# HELP scopegate_introspection_answers_total Answers by verdict.\n"
	    "# TYPE scopegate_introspection_answers_total counter\n"
	    "scopegate_introspection_answers_total{active=\"true\"} %llu\n"
	    "scopegate_introspection_answers_total{active=\"false\"} %llu\n"
	    "# HELP scopegate_introspection_lookups_total Requests with an opaque token by how they were answered.\n"
	    "# TYPE scopegate_introspection_lookups_total counter\n"
	    "scopegate_introspection_lookups_total{result=\"cache_hit\"} %llu\n"
	    "scopegate_introspection_lookups_total{result=\"coalesced\"} %llu\n"
	    "scopegate_introspection_lookups_total{result=\"busy\"} %llu\n"
	    "# HELP scopegate_introspection_cached Answers held in the cache.\n"
	    "# TYPE scopegate_introspection_cached gauge\n"
	    "scopegate_introspection_cached %zu\n",
	    (unsigned long long)hub.calls_ok, (unsigned long long)hub.calls_error,
	    (unsigned long long)__atomic_load_n(&hub.calls_timeout, __ATOMIC_RELAXED),
	    (unsigned long long)hub.active, (unsigned long long)hub.inactive,
	    (unsigned long long)hub.hits, (unsigned long long)hub.coalesced,
	    (unsigned long long)hub.busy, hub.ncached);
	pthread_mutex_unlock(&hub.lock);
	return out;
}
