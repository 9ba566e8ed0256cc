/* jwks_fetch.c: see jwks_fetch.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "cfg.h"
#include "defaults.h"
#include "jwks_fetch.h"
#include "jwks_remote.h"
#include "log.h"
#include "token_config.h"
#include "upstream.h"
#include "xmalloc.h"
#include "xwake.h"

/* One fetched key set; immutable, shared by the source and the views. */
struct jwks_set {
	int refcnt;
	struct keys *ks;
};

/* What workers verify with: local entries then every set's (borrowed). */
struct jwks_view {
	int refcnt;
	uint64_t gen;
	struct keys ks;
	struct jwks_set **sets;
	size_t nsets;
};

struct jwks_live {
	pthread_mutex_t lock;
	struct jwks_view *view;
	struct event *kid_ev;		/* the registry's, once bound */
	time_t last_poke;		/* atomic */
	/* Workers' events to activate when the unknown-kid refetch has
	 * settled (under lock). */
	struct event **kid_waiters;
	size_t nkid_waiters, kid_waiters_cap;
};

enum phase { PH_IDLE, PH_DISCOVERY, PH_JWKS };

struct jwks_source {
	struct jwks_registry *reg;
	const struct jwks_spec *spec;	/* of the bound token_config */
	const char *name;		/* spec->url or spec->issuer */
	struct jwks_set *set;		/* in force, or NULL */
	time_t set_time;		/* fetched (or confirmed by a 304) */
	char *etag;
	char *jwks_uri;			/* discovered (or the configured URL) */
	/* The HTTP clients of the hosts asked: one for discovery, one for
	 * the JWKS (they may differ, and a pool must not be replaced from
	 * inside its own callback). */
	char pool_key[2][300];
	struct upstream_pool *pool[2];
	int reresolve;			/* a fetch failed: resolve names again */
	struct upstream_exchange *x;
	enum phase phase;
	struct evbuffer *body;
	int status;
	int64_t max_age;
	char *new_etag;
	struct event *timer;		/* next refresh */
	struct event *deadline;		/* the fetch in progress */
	time_t last_kid_fetch;
	int settled;			/* the first fetch ended */
	int keep;			/* seen by the current bind */
	char last_error[256];
	uint64_t n_ok, n_not_modified, n_error;
};

struct jwks_registry {
	struct event_base *base;
	struct event *kid_ev;
	struct jwks_source **src;	/* in the order of the bound entries */
	size_t nsrc;
	struct jwks_live *live;		/* of the bound token_config */
	const struct keys *local;
	int waiting;
};

static const struct upstream_cbs fetch_cbs;
static void fetch_start(struct jwks_source *s);
static void publish(struct jwks_registry *r);

/*
 * Views and the live set (any thread).
 */

static void
set_unref(struct jwks_set *set)
{
	if (set != NULL && __atomic_sub_fetch(&set->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
		keys_free(set->ks);
		free(set);
	}
}

void
jwks_view_release(struct jwks_view *v)
{
	if (v == NULL || __atomic_sub_fetch(&v->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < v->nsets; i++)
		set_unref(v->sets[i]);
	free(v->sets);
	free(v->ks.v);
	free(v);
}

struct jwks_live *
jwks_live_new(void)
{
	struct jwks_live *l = xcalloc(1, sizeof(*l));

	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void
jwks_live_free(struct jwks_live *l)
{
	if (l == NULL)
		return;
	jwks_view_release(l->view);
	free(l->kid_waiters);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

const struct keys *
jwks_live_acquire(struct jwks_live *l, const struct keys *local, struct jwks_view **view,
    uint64_t *gen)
{
	struct jwks_view *v;

	pthread_mutex_lock(&l->lock);
	if ((v = l->view) != NULL)
		__atomic_add_fetch(&v->refcnt, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l->lock);
	*view = v;
	*gen = v != NULL ? v->gen : 0;
	return v != NULL ? &v->ks : local;
}

void
jwks_live_unknown_kid(struct jwks_live *l, time_t now)
{
	struct event *ev = __atomic_load_n(&l->kid_ev, __ATOMIC_ACQUIRE);
	time_t last = __atomic_load_n(&l->last_poke, __ATOMIC_RELAXED);

	/* At most one wake-up a second whatever a client sends; the main
	 * loop applies each source's cooldown. */
	if (ev == NULL || last == now ||
	    !__atomic_compare_exchange_n(&l->last_poke, &last, now, 0, __ATOMIC_RELAXED,
	    __ATOMIC_RELAXED))
		return;
	event_active(ev, EV_TIMEOUT, 0);
}

int
jwks_live_wait_kid(struct jwks_live *l, struct event *ev)
{
	struct event *kid;
	size_t i;

	pthread_mutex_lock(&l->lock);
	if ((kid = __atomic_load_n(&l->kid_ev, __ATOMIC_ACQUIRE)) == NULL) {
		pthread_mutex_unlock(&l->lock);
		return 0;
	}
	for (i = 0; i < l->nkid_waiters && l->kid_waiters[i] != ev; i++)
		;
	if (i == l->nkid_waiters) {
		if (l->nkid_waiters == l->kid_waiters_cap) {
			l->kid_waiters_cap = l->kid_waiters_cap ? 2 * l->kid_waiters_cap : 8;
			l->kid_waiters = xreallocarray(l->kid_waiters, l->kid_waiters_cap,
			    sizeof(*l->kid_waiters));
		}
		l->kid_waiters[l->nkid_waiters++] = ev;
	}
	pthread_mutex_unlock(&l->lock);
	/* Always: the main loop must answer this waiter, refetch or not
	 * (an already active event is not queued twice). */
	event_active(kid, EV_TIMEOUT, 0);
	return 1;
}

/* Wake the workers waiting on an unknown kid. */
static void
kid_wake(struct jwks_live *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->nkid_waiters; i++)
		xwake_active(l->kid_waiters[i], EV_READ);	/* a worker's */
	l->nkid_waiters = 0;
	pthread_mutex_unlock(&l->lock);
}

/* Once no source is fetching, the refetch asked for has settled: a new
 * set was published, or none will come now. */
static void
kid_settle(struct jwks_registry *r)
{
	for (size_t i = 0; i < r->nsrc; i++)
		if (r->src[i]->phase != PH_IDLE)
			return;
	kid_wake(r->live);
}

/* Build a view of the local keys and every set in force, publish it. */
static void
publish(struct jwks_registry *r)
{
	struct jwks_view *v, *old;
	size_t n;

	if (r->live == NULL)
		return;
	v = xcalloc(1, sizeof(*v));
	v->refcnt = 1;
	v->gen = token_config_new_generation();
	n = r->local->n;
	for (size_t i = 0; i < r->nsrc; i++)
		if (r->src[i]->set != NULL)
			n += r->src[i]->set->ks->n;
	v->ks.v = xcalloc(n ? n : 1, sizeof(*v->ks.v));
	v->ks.hmac = r->local->hmac;
	for (size_t i = 0; i < r->local->n; i++)
		v->ks.v[v->ks.n++] = r->local->v[i];
	v->sets = xcalloc(r->nsrc ? r->nsrc : 1, sizeof(*v->sets));
	for (size_t i = 0; i < r->nsrc; i++) {
		struct jwks_set *set = r->src[i]->set;
		if (set == NULL)
			continue;
		__atomic_add_fetch(&set->refcnt, 1, __ATOMIC_RELAXED);
		v->sets[v->nsets++] = set;
		for (size_t j = 0; j < set->ks->n; j++)
			v->ks.v[v->ks.n++] = set->ks->v[j];
	}
	pthread_mutex_lock(&r->live->lock);
	old = r->live->view;
	r->live->view = v;
	pthread_mutex_unlock(&r->live->lock);
	jwks_view_release(old);
}

/*
 * Sources (main thread).
 */

static void
source_set(struct jwks_source *s, struct jwks_set *set, time_t when)
{
	set_unref(s->set);
	s->set = set;
	s->set_time = when;
}

/* Write the body as the new cache file: a temporary file in the same
 * folder, 0600, synced, renamed over the old one. */
static void
cache_write(const struct jwks_source *s, const char *buf, size_t len)
{
	char *tmp = NULL;
	int fd = -1;

	if (s->spec->cache_file == NULL)
		return;
	xasprintf(&tmp, "%s.XXXXXX", s->spec->cache_file);
	if ((fd = mkstemp(tmp)) < 0) {
		log_warn("jwks %s: cache file %s", s->name, tmp);
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) {
		log_warn("jwks %s: writing cache file %s", s->name, tmp);
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, s->spec->cache_file) != 0) {
		log_warn("jwks %s: renaming %s", s->name, tmp);
		unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
}

/* Load the cache file into the source. 0, or -1 with why. */
static int
cache_load(struct jwks_source *s, time_t now, char *why, size_t len)
{
	struct jwks_set *set;
	struct stat st;
	struct keys *ks;
	char *buf = NULL;
	int fd, rc = -1;
	ssize_t n;

	if (s->spec->cache_file == NULL) {
		snprintf(why, len, "no cache_file");
		return -1;
	}
	if ((fd = open(s->spec->cache_file, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, len, "cache file %s: %s", s->spec->cache_file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SG_JWKS_MAX_BYTES) {
		snprintf(why, len, "cache file %s: not a regular file of at most %d bytes",
		    s->spec->cache_file, SG_JWKS_MAX_BYTES);
		goto out;
	}
	if (now - st.st_mtime >= s->spec->max_stale_s) {
		snprintf(why, len, "cache file %s is older than max_stale_s (%lld s)",
		    s->spec->cache_file, (long long)s->spec->max_stale_s);
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	if ((n = read(fd, buf, (size_t)st.st_size)) != st.st_size) {
		snprintf(why, len, "cache file %s: short read", s->spec->cache_file);
		goto out;
	}
	if ((ks = jwks_set_build(s->name, buf, (size_t)n, s->spec->algs, why, len)) == NULL)
		goto out;
	set = xcalloc(1, sizeof(*set));
	set->refcnt = 1;
	set->ks = ks;
	source_set(s, set, st.st_mtime);
	log_info("jwks %s: %zu key(s) from cache file %s, %lld s old", s->name, ks->n,
	    s->spec->cache_file, (long long)(now - st.st_mtime));
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jwks_source *s = arg;

	(void)fd;
	(void)what;
	fetch_start(s);
}

static void
schedule(struct jwks_source *s, int64_t secs)
{
	struct timeval tv = { (time_t)secs, 0 };

	evtimer_add(s->timer, &tv);
}

static void
check_waiters(struct jwks_registry *r)
{
	if (!r->waiting)
		return;
	for (size_t i = 0; i < r->nsrc; i++)
		if (!r->src[i]->settled)
			return;
	event_base_loopbreak(r->base);
}

/* End the fetch in progress (if any) without a callback. */
static void
fetch_stop(struct jwks_source *s)
{
	if (s->x != NULL)
		upstream_cancel(s->x);
	s->x = NULL;
	s->phase = PH_IDLE;
	evtimer_del(s->deadline);
	if (s->body != NULL)
		evbuffer_free(s->body);
	s->body = NULL;
	free(s->new_etag);
	s->new_etag = NULL;
}

/* A fetch failed: keep the set in force until max_stale_s, then drop it
 * (fail closed); retry after min_refresh_s. */
static void
fetch_failed(struct jwks_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fetch_failed(struct jwks_source *s, const char *fmt, ...)
{
	time_t now = time(NULL);
	int64_t retry = s->spec->min_refresh_s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
	/* The reason may quote the provider's bytes (a kid, a kty, a JSON
	 * error's context): no control character reaches the log. */
	for (char *c = s->last_error; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	fetch_stop(s);
	s->n_error++;
	s->reresolve = 1;
	/* The provider may have moved its keys: discover again next time. */
	if (s->spec->issuer != NULL) {
		free(s->jwks_uri);
		s->jwks_uri = NULL;
	}
	if (s->set != NULL && now - s->set_time >= s->spec->max_stale_s) {
		log_warnx("jwks %s: %s; the set fetched %lld s ago is past max_stale_s: "
		    "its keys are dropped", s->name, s->last_error, (long long)(now - s->set_time));
		source_set(s, NULL, 0);
		publish(s->reg);
	} else if (s->set != NULL) {
		int64_t left = s->spec->max_stale_s - (now - s->set_time);
		log_warnx("jwks %s: %s; keeping the set fetched %lld s ago (%zu key(s))",
		    s->name, s->last_error, (long long)(now - s->set_time), s->set->ks->n);
		if (left < retry)
			retry = left > 0 ? left : 1;
	} else
		log_warnx("jwks %s: %s; no key set in force", s->name, s->last_error);
	s->settled = 1;
	schedule(s, retry);
	check_waiters(s->reg);
	kid_settle(s->reg);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jwks_source *s = arg;

	(void)fd;
	(void)what;
	fetch_failed(s, "no complete answer within fetch_timeout_ms (%lld ms)",
	    (long long)s->spec->fetch_timeout_ms);
}

/* Point HTTP client i (0 discovery, 1 JWKS) at u's host, resolving it
 * (on the main thread: workers never wait on it). NULL or why not. */
static const char *
pool_for(struct jwks_source *s, int i, const struct jwks_url *u)
{
	static char why[300];
	struct addrinfo hints, *res = NULL, *ai;
	char key[sizeof(s->pool_key[0])], port[8];
	struct cfg_upstream cu;
	int rc;

	snprintf(key, sizeof(key), "%d|%s|%u", u->https, u->host, (unsigned)u->port);
	if (s->pool[i] != NULL && strcmp(key, s->pool_key[i]) == 0)
		return NULL;
	if (s->pool[i] != NULL)
		upstream_pool_free(s->pool[i]);
	s->pool[i] = NULL;
	s->pool_key[i][0] = '\0';
	memset(&cu, 0, sizeof(cu));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", (unsigned)u->port);
	if ((rc = getaddrinfo(u->host, port, &hints, &res)) != 0) {
		snprintf(why, sizeof(why), "cannot resolve \"%s\": %s", u->host, gai_strerror(rc));
		return why;
	}
	for (ai = res; ai != NULL && cu.naddrs < SG_UPSTREAM_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(cu.addrs[0]))
			continue;
		/* Plain http was allowed for loopback only: a name must
		 * not lead anywhere else. */
		if (!u->https && !(ai->ai_family == AF_INET &&
		    (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127) &&
		    !(ai->ai_family == AF_INET6 &&
		    IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr)))
			continue;
		memcpy(&cu.addrs[cu.naddrs], ai->ai_addr, ai->ai_addrlen);
		cu.addrlens[cu.naddrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (cu.naddrs == 0) {
		snprintf(why, sizeof(why), "\"%s\" has no usable address", u->host);
		return why;
	}
	/* The pool copies what it needs (and takes a TLS reference). */
	cu.host = (char *)u->host;
	cu.port = u->port;
	cu.https = u->https;
	cu.timeout_ms = s->spec->fetch_timeout_ms;
	cu.max_connections = 1;
	cu.tls = u->https ? s->spec->tls : NULL;
	s->pool[i] = upstream_pool_new(s->reg->base, &cu);
	snprintf(s->pool_key[i], sizeof(s->pool_key[i]), "%s", key);
	return NULL;
}

/* Send a GET for url (discovery or JWKS). */
static void
request(struct jwks_source *s, const char *url, enum phase ph)
{
	struct jwks_url u;
	struct evbuffer *req;
	const char *why;

	if ((why = jwks_url_parse(url, s->spec->allow_http_loopback, &u)) != NULL) {
		fetch_failed(s, "%s: %s", url, why);
		return;
	}
	if ((why = pool_for(s, ph == PH_JWKS, &u)) != NULL) {
		fetch_failed(s, "%s: %s", url, why);
		return;
	}
	if ((req = evbuffer_new()) == NULL || (s->body = evbuffer_new()) == NULL)
		fatalx("jwks: out of memory");
	evbuffer_add_printf(req, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
	    "User-Agent: scopegate/%s\r\n", u.path, upstream_pool_authority(s->pool[ph == PH_JWKS]),
	    PACKAGE_VERSION);
	if (ph == PH_JWKS && s->etag != NULL && s->set != NULL)
		evbuffer_add_printf(req, "If-None-Match: %s\r\n", s->etag);
	evbuffer_add_printf(req, "\r\n");
	s->phase = ph;
	s->status = 0;
	s->max_age = -1;
	s->x = upstream_send(s->pool[ph == PH_JWKS], req, UPSTREAM_IDEMPOTENT, &fetch_cbs, s);
	evbuffer_free(req);
}

static void
fetch_start(struct jwks_source *s)
{
	struct timeval tv = { (time_t)(s->spec->fetch_timeout_ms / 1000),
	    (suseconds_t)(s->spec->fetch_timeout_ms % 1000) * 1000 };
	time_t now = time(NULL);

	if (s->phase != PH_IDLE)
		return;
	evtimer_del(s->timer);
	/* Past max_stale_s without a successful fetch: fail closed even
	 * while the provider keeps us waiting. */
	if (s->set != NULL && now - s->set_time >= s->spec->max_stale_s) {
		log_warnx("jwks %s: the set fetched %lld s ago is past max_stale_s: its keys "
		    "are dropped", s->name, (long long)(now - s->set_time));
		source_set(s, NULL, 0);
		publish(s->reg);
	}
	/* Not from inside a pool's callback: here the pools may go. After a
	 * failure the names are resolved again (the provider may have moved). */
	if (s->reresolve)
		for (int i = 0; i < 2; i++) {
			if (s->pool[i] != NULL)
				upstream_pool_free(s->pool[i]);
			s->pool[i] = NULL;
			s->pool_key[i][0] = '\0';
		}
	s->reresolve = 0;
	evtimer_add(s->deadline, &tv);
	if (s->jwks_uri == NULL && s->spec->issuer != NULL) {
		char *url = NULL;
		size_t l = strlen(s->spec->issuer);
		xasprintf(&url, "%s%s.well-known/openid-configuration", s->spec->issuer,
		    l > 0 && s->spec->issuer[l - 1] == '/' ? "" : "/");
		request(s, url, PH_DISCOVERY);
		free(url);
	} else
		request(s, s->jwks_uri ? s->jwks_uri : s->spec->url, PH_JWKS);
}

static void
on_head(void *arg, const struct uresp *r)
{
	struct jwks_source *s = arg;

	s->status = r->status;
	for (size_t i = 0; i < r->nfields; i++) {
		const struct uresp_field *f = &r->fields[i];
		if (f->name_len == 4 && strncasecmp(f->name, "ETag", 4) == 0 &&
		    f->value_len > 0 && f->value_len < 256 && s->new_etag == NULL)
			s->new_etag = xstrndup(f->value, f->value_len);
		else if (f->name_len == 13 && strncasecmp(f->name, "Cache-Control", 13) == 0)
			s->max_age = jwks_cache_control_max_age(f->value, f->value_len);
	}
	if (r->content_length > SG_JWKS_MAX_BYTES) {
		fetch_failed(s, "%s refused: answer larger than %d bytes",
		    s->phase == PH_DISCOVERY ? "discovery document" : "JWKS", SG_JWKS_MAX_BYTES);
	}
}

static void
on_body(void *arg, const char *data, size_t len)
{
	struct jwks_source *s = arg;

	if (evbuffer_get_length(s->body) + len > SG_JWKS_MAX_BYTES) {
		fetch_failed(s, "%s refused: answer larger than %d bytes",
		    s->phase == PH_DISCOVERY ? "discovery document" : "JWKS", SG_JWKS_MAX_BYTES);
		return;
	}
	evbuffer_add(s->body, data, len);
}

static void
on_error(void *arg, enum upstream_error err, const char *why)
{
	struct jwks_source *s = arg;

	(void)err;
	s->x = NULL;
	fetch_failed(s, "%s: %s", s->phase == PH_DISCOVERY ? "discovery" : "fetch",
	    why ? why : "failed");
}

static void
on_done(void *arg)
{
	struct jwks_source *s = arg;
	time_t now = time(NULL);
	size_t len = evbuffer_get_length(s->body);
	const char *buf = (const char *)evbuffer_pullup(s->body, -1);
	char why[512];

	s->x = NULL;
	if (s->phase == PH_DISCOVERY) {
		char *uri;
		struct jwks_url u;
		const char *bad;
		if (s->status != 200) {
			fetch_failed(s, "discovery: HTTP status %d", s->status);
			return;
		}
		if ((uri = jwks_discovery_parse(buf ? buf : "", len, s->spec->issuer, why,
		    sizeof(why))) == NULL) {
			fetch_failed(s, "discovery document refused: %s", why);
			return;
		}
		if ((bad = jwks_url_parse(uri, s->spec->allow_http_loopback, &u)) != NULL) {
			fetch_failed(s, "discovery document refused: jwks_uri %s: %s", uri, bad);
			free(uri);
			return;
		}
		free(s->jwks_uri);
		s->jwks_uri = uri;
		evbuffer_free(s->body);
		s->body = NULL;
		free(s->new_etag);
		s->new_etag = NULL;
		request(s, s->jwks_uri, PH_JWKS);
		return;
	}
	if (s->status == 304 && s->set != NULL) {
		s->set_time = now;
		s->n_not_modified++;
		log_info("jwks %s: not modified, %zu key(s) in force, next refresh in %lld s",
		    s->name, s->set->ks->n, (long long)jwks_next_refresh_s(s->spec, s->max_age));
	} else if (s->status != 200) {
		fetch_failed(s, "HTTP status %d", s->status);
		return;
	} else {
		struct keys *ks;
		struct jwks_set *set;
		if ((ks = jwks_set_build(s->jwks_uri ? s->jwks_uri : s->spec->url, buf ? buf : "",
		    len, s->spec->algs, why, sizeof(why))) == NULL) {
			fetch_failed(s, "JWKS refused: %s", why);
			return;
		}
		set = xcalloc(1, sizeof(*set));
		set->refcnt = 1;
		set->ks = ks;
		source_set(s, set, now);
		free(s->etag);
		s->etag = s->new_etag;
		s->new_etag = NULL;
		cache_write(s, buf, len);
		s->n_ok++;
		log_info("jwks %s: %zu key(s) in force, next refresh in %lld s", s->name, ks->n,
		    (long long)jwks_next_refresh_s(s->spec, s->max_age));
		publish(s->reg);
	}
	s->last_error[0] = '\0';
	/* Never later than max_stale_s: a set must be confirmed before it
	 * would be dropped. */
	schedule(s, jwks_next_refresh_s(s->spec, s->max_age) < s->spec->max_stale_s ?
	    jwks_next_refresh_s(s->spec, s->max_age) : s->spec->max_stale_s);
	fetch_stop(s);
	s->settled = 1;
	check_waiters(s->reg);
	kid_settle(s->reg);
}

static const struct upstream_cbs fetch_cbs = {
	.head = on_head,
	.body = on_body,
	.done = on_done,
	.error = on_error,
};

static struct jwks_source *
source_new(struct jwks_registry *r, const struct jwks_spec *spec)
{
	struct jwks_source *s = xcalloc(1, sizeof(*s));

	s->reg = r;
	s->spec = spec;
	s->name = spec->url ? spec->url : spec->issuer;
	if ((s->timer = evtimer_new(r->base, timer_cb, s)) == NULL ||
	    (s->deadline = evtimer_new(r->base, deadline_cb, s)) == NULL)
		fatalx("jwks: event_new failed");
	return s;
}

static void
source_free(struct jwks_source *s)
{
	fetch_stop(s);
	event_free(s->timer);
	event_free(s->deadline);
	for (int i = 0; i < 2; i++)
		if (s->pool[i] != NULL)
			upstream_pool_free(s->pool[i]);
	source_set(s, NULL, 0);
	free(s->etag);
	free(s->jwks_uri);
	free(s);
}

/* A token named an unknown kid: refetch every source out of its cooldown
 * and not already fetching (one fetch serves every worker). */
static void
kid_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jwks_registry *r = arg;
	time_t now = time(NULL);

	(void)fd;
	(void)what;
	for (size_t i = 0; i < r->nsrc; i++) {
		struct jwks_source *s = r->src[i];
		if (s->phase != PH_IDLE || now - s->last_kid_fetch < s->spec->unknown_kid_cooldown_s)
			continue;
		s->last_kid_fetch = now;
		log_info("jwks %s: a token names an unknown kid: fetching again", s->name);
		fetch_start(s);
	}
	/* Every source in its cooldown (or done already): waiters decide now. */
	kid_settle(r);
}

struct jwks_registry *
jwks_registry_new(struct event_base *base)
{
	struct jwks_registry *r = xcalloc(1, sizeof(*r));

	r->base = base;
	if ((r->kid_ev = event_new(base, -1, 0, kid_cb, r)) == NULL)
		fatalx("jwks: event_new failed");
	return r;
}

void
jwks_registry_free(struct jwks_registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nsrc; i++)
		source_free(r->src[i]);
	free(r->src);
	event_free(r->kid_ev);
	free(r);
}

void
jwks_registry_bind(struct jwks_registry *r, struct token_config *tc)
{
	struct jwks_source **next = NULL, **started = NULL;
	size_t n = tc != NULL ? tc->nremote : 0, nstarted = 0;
	time_t now = time(NULL);

	for (size_t i = 0; i < r->nsrc; i++)
		r->src[i]->keep = 0;
	if (n > 0) {
		next = xcalloc(n, sizeof(*next));
		started = xcalloc(n, sizeof(*started));
	}
	for (size_t i = 0; i < n; i++) {
		const struct jwks_spec *spec = tc->remote[i];
		struct jwks_source *s = NULL;
		for (size_t j = 0; j < r->nsrc && s == NULL; j++)
			if (!r->src[j]->keep && strcmp(r->src[j]->spec->identity, spec->identity) == 0)
				s = r->src[j];
		if (s == NULL) {
			char why[512];
			s = source_new(r, spec);
			if (spec->cache_file != NULL && cache_load(s, now, why, sizeof(why)) != 0)
				log_debug("jwks %s: %s", s->name, why);
			started[nstarted++] = s;
		}
		/* The old snapshot's spec goes away with it. */
		s->spec = spec;
		s->name = spec->url ? spec->url : spec->issuer;
		s->keep = 1;
		next[i] = s;
	}
	for (size_t i = 0; i < r->nsrc; i++)
		if (!r->src[i]->keep)
			source_free(r->src[i]);
	free(r->src);
	r->src = next;
	r->nsrc = n;
	/* Requests waiting on the previous set decide again (with the new
	 * one once their worker takes the new snapshot, else at their own
	 * deadline). */
	if (r->live != NULL && (tc == NULL || r->live != tc->live)) {
		/* No longer fetched for: its workers decide without waiting. */
		__atomic_store_n(&r->live->kid_ev, NULL, __ATOMIC_RELEASE);
		kid_wake(r->live);
	}
	r->live = tc != NULL ? tc->live : NULL;
	r->local = tc != NULL ? tc->keys : NULL;
	if (r->live != NULL) {
		__atomic_store_n(&r->live->kid_ev, r->kid_ev, __ATOMIC_RELEASE);
		publish(r);
	}
	for (size_t i = 0; i < nstarted; i++)
		fetch_start(started[i]);
	free(started);
}

static void
wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int
jwks_registry_wait_initial(struct jwks_registry *r)
{
	int64_t ms = 0;
	struct event *t;
	struct timeval tv;
	time_t now;
	int rc = 0;

	for (size_t i = 0; i < r->nsrc; i++)
		if (r->src[i]->spec->fetch_timeout_ms > ms)
			ms = r->src[i]->spec->fetch_timeout_ms;
	if (r->nsrc == 0)
		return 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if ((t = evtimer_new(r->base, wait_cb, r->base)) == NULL)
		fatalx("jwks: event_new failed");
	evtimer_add(t, &tv);
	/* A break asked for before the loop runs is forgotten by libevent:
	 * only run it when a first fetch is still going. */
	r->waiting = 1;
	for (size_t i = 0; i < r->nsrc; i++)
		if (!r->src[i]->settled) {
			event_base_dispatch(r->base);
			break;
		}
	r->waiting = 0;
	event_free(t);
	now = time(NULL);
	for (size_t i = 0; i < r->nsrc; i++) {
		struct jwks_source *s = r->src[i];
		char why[512];
		if (s->set != NULL)
			continue;
		if (cache_load(s, now, why, sizeof(why)) == 0) {
			publish(r);
			continue;
		}
		log_warnx("jwks %s: no key set at start: %s; and %s", s->name,
		    s->last_error[0] ? s->last_error : "the first fetch did not finish in time",
		    why);
		rc = -1;
	}
	return rc;
}

/* Copy s into buf with quotes, backslashes and controls replaced. */
static const char *
safe(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = s[i] == '"' || s[i] == '\\' || (unsigned char)s[i] < 0x20 ? '_' : s[i];
	buf[i] = '\0';
	return buf;
}

int
jwks_registry_ready(struct jwks_registry *r, char *why, size_t len)
{
	char name[300];

	for (size_t i = 0; i < r->nsrc; i++)
		if (r->src[i]->set == NULL) {
			snprintf(why, len, "no key set in force from %s",
			    safe(r->src[i]->name, name, sizeof(name)));
			return -1;
		}
	return 0;
}

char *
jwks_registry_metrics(struct jwks_registry *r, time_t now)
{
	struct evbuffer *b = evbuffer_new();
	char *out;
	size_t len;

	if (b == NULL)
		fatalx("jwks: out of memory");
	if (r->nsrc > 0)
		evbuffer_add_printf(b,
		    "# HELP scopegate_jwks_fetches_total Key set fetches by result.\n"
		    "# TYPE scopegate_jwks_fetches_total counter\n");
	for (size_t i = 0; i < r->nsrc; i++) {
		struct jwks_source *s = r->src[i];
		char name[300];
		safe(s->name, name, sizeof(name));
		evbuffer_add_printf(b, "scopegate_jwks_fetches_total{source=\"%s\",result=\"ok\"} %llu\n"
		    "scopegate_jwks_fetches_total{source=\"%s\",result=\"not_modified\"} %llu\n"
		    "scopegate_jwks_fetches_total{source=\"%s\",result=\"error\"} %llu\n",
		    name, (unsigned long long)s->n_ok, name,
		    (unsigned long long)s->n_not_modified, name, (unsigned long long)s->n_error);
	}
	if (r->nsrc > 0)
		evbuffer_add_printf(b,
		    "# HELP scopegate_jwks_keys Keys in force from each source (0: none, fail closed).\n"
		    "# TYPE scopegate_jwks_keys gauge\n");
	for (size_t i = 0; i < r->nsrc; i++) {
		char name[300];
		evbuffer_add_printf(b, "scopegate_jwks_keys{source=\"%s\"} %zu\n",
		    safe(r->src[i]->name, name, sizeof(name)),
		    r->src[i]->set ? r->src[i]->set->ks->n : 0);
	}
	if (r->nsrc > 0)
		evbuffer_add_printf(b,
		    "# HELP scopegate_jwks_age_seconds Age of the set in force (since fetched or confirmed).\n"
		    "# TYPE scopegate_jwks_age_seconds gauge\n");
	for (size_t i = 0; i < r->nsrc; i++) {
		char name[300];
		if (r->src[i]->set != NULL)
			evbuffer_add_printf(b, "scopegate_jwks_age_seconds{source=\"%s\"} %lld\n",
			    safe(r->src[i]->name, name, sizeof(name)),
			    (long long)(now - r->src[i]->set_time));
	}
	len = evbuffer_get_length(b);
	out = xmalloc(len + 1);
	evbuffer_remove(b, out, len);
	out[len] = '\0';
	evbuffer_free(b);
	return out;
}
