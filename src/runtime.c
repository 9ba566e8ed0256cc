/* runtime.c: see runtime.h. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/time.h>

#include <jansson.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "admin.h"
#include "connlimit.h"
#include "defaults.h"
#include "errlist.h"
#include "listensock.h"
#include "keys.h"
#include "jwks_fetch.h"
#include "introspect.h"
#include "log.h"
#include "procstat.h"
#include "ratelimit.h"
#include "rlgate.h"
#include "runtime.h"
#include "upstats.h"
#include "healthcheck.h"
#include "revoke.h"
#include "revoke_redis.h"
#include "sdnotify.h"
#include "tls.h"
#include "token_config.h"
#include "worker.h"
#include "xmalloc.h"

struct cfg *
runtime_acquire(struct runtime *rt)
{
	struct cfg *cf;

	pthread_mutex_lock(&rt->lock);
	cf = cfg_ref(rt->current);
	pthread_mutex_unlock(&rt->lock);
	return cf;
}

/* Free the snapshots workers handed over. */
static void
retire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runtime *rt = arg;
	struct cfg **list;
	size_t n;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&rt->retired_lock);
	list = rt->retired;
	n = rt->nretired;
	rt->retired = NULL;
	rt->nretired = 0;
	pthread_mutex_unlock(&rt->retired_lock);
	for (size_t i = 0; i < n; i++)
		cfg_free(list[i]);
	free(list);
}

void
runtime_cfg_release(struct runtime *rt, struct cfg *cf)
{
	if (!cfg_unref_last(cf))
		return;
	pthread_mutex_lock(&rt->retired_lock);
	rt->retired = xreallocarray(rt->retired, rt->nretired + 1, sizeof(*rt->retired));
	rt->retired[rt->nretired++] = cf;
	pthread_mutex_unlock(&rt->retired_lock);
	/* Thread-safe: the bases are lockable (evthread_use_pthreads). */
	event_active(rt->retire_ev, EV_TIMEOUT, 0);
}

/* The revocation sources of a reload: the ids file, its retention and
 * bounds, and the Redis password are applied (the ids file first, so that
 * a bad one fails the reload with the old configuration kept); the
 * journal and the Redis endpoint need a restart (check_restart_only).
 * Returns -1 (errors in errs) when the reload must fail, else 0. */
static int
reload_revocations(struct runtime *rt, const struct cfg *cf, struct errlist *errs)
{
	if (revoke_store_reload(rt->revocations, cf->revocations, errs) != 0)
		return -1;
	revoke_redis_reload(rt->redis, cf->revocations);
	return 0;
}

/* "address port tls|plain": what identifies a bound listener. */
static char *
listener_shape(const struct cfg_listener *l)
{
	char *s;

	xasprintf(&s, "%s %u %s %s", l->address, (unsigned)l->port, l->tls ? "tls" : "plain",
	    l->name ? l->name : "-");
	return s;
}

static char *
admin_shape(const struct cfg *cf)
{
	char *s = NULL;

	if (cf->admin.address != NULL)
		xasprintf(&s, "%s %u", cf->admin.address, (unsigned)cf->admin.port);
	return s;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Remember the restart-only settings the process starts with. */
static void
boot_record(struct runtime_boot *b, const struct cfg *cf)
{
	b->nlisteners = cf->nlisteners;
	b->listeners = xcalloc(cf->nlisteners ? cf->nlisteners : 1, sizeof(*b->listeners));
	for (size_t i = 0; i < cf->nlisteners; i++)
		b->listeners[i] = listener_shape(&cf->listeners[i]);
	b->workers = cf->workers;
	b->access_log = cf->access_log ? xstrdup(cf->access_log) : NULL;
	b->admin = admin_shape(cf);
	b->rate_limit_max_keys = cf->rate_limit.max_keys;
	b->revocations = cf->revocations != NULL ? revoke_config_dup(cf->revocations) : NULL;
}

static void
boot_free(struct runtime_boot *b)
{
	for (size_t i = 0; i < b->nlisteners; i++)
		free(b->listeners[i]);
	free(b->listeners);
	free(b->access_log);
	free(b->admin);
	if (b->revocations != NULL)
		revoke_config_free(b->revocations);
}

static int
boot_same_listeners(const struct runtime_boot *b, const struct cfg *cf)
{
	int same = b->nlisteners == cf->nlisteners;

	for (size_t i = 0; same && i < cf->nlisteners; i++) {
		char *shape = listener_shape(&cf->listeners[i]);
		same = strcmp(shape, b->listeners[i]) == 0;
		free(shape);
	}
	return same;
}

void
runtime_needs_restart(struct runtime *rt, const char *what)
{
	for (size_t i = 0; i < rt->nrestart_needed; i++)
		if (strcmp(rt->restart_needed[i], what) == 0)
			return;
	log_warnx("reload: %s changed; not applied live, restart to apply it", what);
	if (rt->nrestart_needed < RUNTIME_RESTART_MAX)
		rt->restart_needed[rt->nrestart_needed++] = what;
}

/* The settings of "restart needed" as one text ("listeners, workers"). */
static const char *
restart_list(const struct runtime *rt, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < rt->nrestart_needed && off < size; i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", rt->restart_needed[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	return buf;
}

/* Compare the new file with what the process started with; every
 * difference a restart alone applies is reported (runtime_needs_restart). */
static void
check_restart_only(struct runtime *rt, const struct cfg *cf)
{
	const struct runtime_boot *b = &rt->boot;
	char *admin = admin_shape(cf);

	/* Sockets are bound once per worker at start; changing them live
	 * would mean a moment with fewer listeners. */
	if (!boot_same_listeners(b, cf)) {
		runtime_needs_restart(rt, "listeners");
		if (rt->listen_inherited)
			log_warnx("reload: the listeners' sockets come from systemd: change "
			    "the socket unit to match, then restart both");
	}
	if (b->workers != cf->workers)
		runtime_needs_restart(rt, "workers");
	if (!same_str(b->access_log, cf->access_log))
		runtime_needs_restart(rt, "log.access");
	if (!same_str(b->admin, admin))
		runtime_needs_restart(rt, "admin");
	if (b->rate_limit_max_keys != cf->rate_limit.max_keys)
		runtime_needs_restart(rt, "rate_limit.max_keys");
	if (b->revocations != NULL && cf->revocations != NULL) {
		const char *names[8];
		size_t n = revoke_config_restart_needed(b->revocations, cf->revocations, names, 8);
		for (size_t i = 0; i < n; i++)
			runtime_needs_restart(rt, names[i]);
	}
	free(admin);
}

/* A reload that failed (errors in errs, freed here): every error logged,
 * the old configuration kept and said to be; returns -1. */
static int
reload_failed(struct runtime *rt, struct errlist *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		log_warnx("reload: %s", errs->msgs[i]);
	log_warnx("reload failed with %zu error(s); still serving configuration generation %llu",
	    errs->n, (unsigned long long)rt->generation);
	/* systemctl status shows one line: the first error says where. */
	sdnotify_status("reload failed (%zu error(s): %s); serving generation %llu",
	    errs->n, errs->n > 0 ? errs->msgs[0] : "?", (unsigned long long)rt->generation);
	errlist_free(errs);
	metrics_reload_done(&rt->mg, METRICS_RELOAD_FAILED, (int64_t)time(NULL));
	sdnotify_ready();
	return -1;
}

int
runtime_reload(struct runtime *rt)
{
	struct errlist errs;
	struct cfg *cf, *old;
	char pending[512];

	errlist_init(&errs);
	sdnotify_reloading();
	log_info("reloading %s", rt->conffile);
	if ((cf = cfg_load(rt->conffile, &errs)) == NULL)
		return reload_failed(rt, &errs);
	errlist_free(&errs);
	old = runtime_acquire(rt);
	errlist_init(&errs);
	if (reload_revocations(rt, cf, &errs) < 0) {
		cfg_unref(old);
		cfg_free(cf);
		return reload_failed(rt, &errs);
	}
	errlist_free(&errs);
	rt->nrestart_needed = 0;
	check_restart_only(rt, cf);
	/* Tickets issued before the reload still resume after it. */
	if (cfg_same_listeners(old, cf))
		for (size_t i = 0; i < cf->nlisteners; i++)
			if (cf->listeners[i].tls != NULL && old->listeners[i].tls != NULL)
				tls_server_inherit_ticket_keys(cf->listeners[i].tls->server,
				    old->listeners[i].tls->server);
	if (!cfg_upstream_same_addrs(cfg_upstreams_first(old), cfg_upstreams_first(cf))) {
		char addrs[512];
		log_info("reload: upstream %s now at %s", cfg_upstreams_first(cf)->url,
		    cfg_upstream_addrs_str(cfg_upstreams_first(cf), addrs, sizeof(addrs)));
	}
	cfg_unref(old);
	/* Remote key sets: unchanged entries keep their set in force. */
	jwks_registry_bind(rt->jwks, cf->tokens);

	pthread_mutex_lock(&rt->lock);
	cf->generation = ++rt->generation;
	old = rt->current;
	rt->current = cf;
	pthread_mutex_unlock(&rt->lock);
	cfg_unref(old);
	hcheck_bind(rt->hcheck, cf);
	for (size_t i = 0; i < rt->nworkers; i++)
		worker_notify(&rt->workers[i], WORKER_CMD_RELOAD);
	metrics_set_generation(&rt->mg, cf->generation);
	if (rt->nrestart_needed > 0) {
		/* The rest is live; these are not, and are not called so. */
		restart_list(rt, pending, sizeof(pending));
		metrics_reload_done(&rt->mg, METRICS_RELOAD_RESTART_NEEDED, (int64_t)time(NULL));
		log_warnx("configuration generation %llu in force except %s: restart needed",
		    (unsigned long long)cf->generation, pending);
		sdnotify_status("generation %llu in force except %s: restart needed",
		    (unsigned long long)cf->generation, pending);
	} else {
		metrics_reload_done(&rt->mg, METRICS_RELOAD_OK, (int64_t)time(NULL));
		log_info("configuration generation %llu in force", (unsigned long long)cf->generation);
		sdnotify_status("serving, generation %llu", (unsigned long long)cf->generation);
	}
	sdnotify_ready();
	return 0;
}

/* The certificates of every TLS listener of cf, for /metrics; listener
 * names are written into names (n * 64 bytes). Returns how many. */
static size_t
gather_certs(const struct cfg *cf, struct metrics_cert **out, char **names)
{
	struct metrics_cert *v = NULL;
	size_t n = 0;

	*names = xcalloc(cf->nlisteners ? cf->nlisteners : 1, 64);
	for (size_t i = 0; i < cf->nlisteners; i++) {
		const struct tls_cert_info *ci;
		char *name = *names + 64 * i;
		size_t k;

		if (cf->listeners[i].tls == NULL || cf->listeners[i].tls->server == NULL)
			continue;
		snprintf(name, 64, strchr(cf->listeners[i].address, ':') ? "[%s]:%u" : "%s:%u",
		    cf->listeners[i].address, (unsigned)cf->listeners[i].port);
		k = tls_server_certs(cf->listeners[i].tls->server, &ci);
		v = xreallocarray(v, n + k + 1, sizeof(*v));
		for (size_t j = 0; j < k; j++, n++) {
			v[n].listener = name;
			v[n].kind = ci[j].kind;
			v[n].name = ci[j].name;
			v[n].not_after = ci[j].not_after;
		}
	}
	*out = v;
	return n;
}

char *
runtime_metrics_text(struct runtime *rt)
{
	const struct metrics_shard **shards = xcalloc(rt->nworkers ? rt->nworkers : 1,
	    sizeof(*shards));
	struct tls_failure_count tf[64];
	struct metrics_count2 failures[64];
	struct metrics_cert *certs = NULL;
	char *names = NULL, *text;
	struct cfg *cf = runtime_acquire(rt);
	size_t nf;

	for (size_t i = 0; i < rt->nworkers; i++)
		shards[i] = rt->workers[i].metrics;
	rt->mg.rate_limit_keys = rt->ratelimit != NULL ? ratelimit_count(rt->ratelimit) : 0;
	{
		struct rlgate_stats rs;

		rlgate_get_stats(&rs);
		rt->mg.rl_shared = rs.shared;
		rt->mg.rl_fallback = rs.fallback;
		rt->mg.rl_outage_denied = rs.outage_denied;
		rt->mg.rl_links_up = rs.links_up;
		rt->mg.rl_outages = rs.outages;
	}
	if (rt->revocations != NULL) {
		rt->mg.revocations_remote = revoke_remote_count(rt->revocations);
		rt->mg.revocations_refused = revoke_remote_refused(rt->revocations);
	}
	rt->mg.conn_refused_per_client = rt->connlimit != NULL ?
	    connlimit_refused_total(rt->connlimit) : 0;
	rt->mg.conn_head_timeouts = __atomic_load_n(&rt->head_timeouts, __ATOMIC_RELAXED);
	rt->mg.restart_needed = rt->restart_needed;
	rt->mg.nrestart_needed = rt->nrestart_needed;
	rt->mg.now = (int64_t)time(NULL);
	procstat_read(&rt->mg.process, rt->start_time);
	rt->mg.ncerts = gather_certs(cf, &certs, &names);
	rt->mg.certs = certs;
	nf = tls_handshake_failures(tf, sizeof(tf) / sizeof(tf[0]));
	for (size_t i = 0; i < nf; i++) {
		failures[i].a = tf[i].alert;
		failures[i].b = tf[i].from;
		failures[i].count = tf[i].count;
	}
	rt->mg.tls_failures = failures;
	rt->mg.ntls_failures = nf;
	rt->mg.revocations = rt->revocations != NULL ? (int64_t)revoke_count(rt->revocations) : -1;
	rt->mg.nrevocation_sources = 0;
	if (rt->revocations != NULL) {
		size_t by[REVOKE_NSOURCES];
		revoke_count_by_source(rt->revocations, by);
		for (size_t i = 0; i < REVOKE_NSOURCES && i < METRICS_MAX_REVOKE_SOURCES; i++) {
			rt->mg.revocation_sources[i] = revoke_source_str((enum revoke_source)i);
			rt->mg.revocations_by_source[i] = (int64_t)by[i];
			rt->mg.nrevocation_sources = i + 1;
		}
	}
	rt->mg.redis_link = rt->redis != NULL ? (revoke_redis_up(rt->redis) ? 1 : 0) : -1;
	rt->mg.token_keys = cf->tokens != NULL && cf->tokens->keys != NULL ?
	    (int64_t)cf->tokens->keys->n : -1;
	text = metrics_render(shards, rt->nworkers, &rt->mg, NULL);
	rt->mg.certs = NULL;
	rt->mg.ncerts = 0;
	rt->mg.tls_failures = NULL;
	rt->mg.ntls_failures = 0;
	free(certs);
	free(names);
	cfg_unref(cf);
	free(shards);
	{
		/* Opaque tokens (tokens.introspection): zeros until used. */
		char *im = introspect_metrics(), *all;
		xasprintf(&all, "%s%s", text, im);
		free(text);
		free(im);
		text = all;
	}
	if (rt->jwks != NULL) {
		char *jw = jwks_registry_metrics(rt->jwks, time(NULL)), *all;
		xasprintf(&all, "%s%s", text, jw);
		free(text);
		free(jw);
		text = all;
	}
	if (rt->upstats != NULL) {
		struct timeval tv;
		char *us, *all;
		gettimeofday(&tv, NULL);
		us = upstats_render(rt->upstats, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
		xasprintf(&all, "%s%s", text, us);
		free(text);
		free(us);
		text = all;
	}
	return text;
}

void
runtime_admin_revocations(struct runtime *rt, struct evhttp_request *req)
{
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *b;
	json_t *reply = NULL;
	int status;

	if (strcmp(uri, "/revocations") == 0 && m == EVHTTP_REQ_GET)
		status = revoke_admin_list(rt->revocations, &reply);
	else if (strcmp(uri, "/revocations") == 0 && m == EVHTTP_REQ_POST)
		status = revoke_admin_post(rt->revocations,
		    (const char *)evbuffer_pullup(in, -1), evbuffer_get_length(in), &reply);
	else if (strncmp(uri, "/revocations/", 13) == 0 && m == EVHTTP_REQ_DELETE)
		status = revoke_admin_delete(rt->revocations, uri + 13, strlen(uri + 13), &reply);
	else {
		status = 404;
		reply = json_pack("{s:s,s:s}", "type", "NotFound", "message", "No such admin endpoint");
	}
	b = evbuffer_new();
	if (reply != NULL) {
		char *text = json_dumps(reply, JSON_COMPACT);
		evbuffer_add_printf(b, "%s\n", text ? text : "{}");
		free(text);
		json_decref(reply);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		    "application/json");
	}
	evhttp_send_reply(req, status, NULL, b);
	evbuffer_free(b);
}

static void
compact_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runtime *rt = arg;

	(void)fd;
	(void)what;
	revoke_compact(rt->revocations, time(NULL));
}

/* Every worker stopped accepting: refuse new connections now rather than
 * let them wait in the listen queue until the process exits. */
static void
stop_listening_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runtime *rt = arg;

	(void)fd;
	(void)what;
	listensock_stop_all(rt->listen_fds, rt->nlisten_fds, rt->listen_inherited);
}

void
runtime_worker_stopped_accepting(struct runtime *rt)
{
	if (__atomic_sub_fetch(&rt->accepting, 1, __ATOMIC_ACQ_REL) == 0)
		event_active(rt->stop_ev, EV_TIMEOUT, 0);
}

void
runtime_worker_exited(struct runtime *rt)
{
	if (__atomic_sub_fetch(&rt->running, 1, __ATOMIC_ACQ_REL) == 0)
		event_base_loopexit(rt->base, NULL);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct runtime *rt = arg;

	(void)what;
	log_info("signal %d: draining and stopping", (int)sig);
	rt->stop_signal = (int)sig;
	sdnotify_stopping();
	for (size_t i = 0; i < rt->nworkers; i++)
		worker_notify(&rt->workers[i], WORKER_CMD_DRAIN);
}

static void
on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct runtime *rt = arg;

	(void)sig;
	(void)what;
	if (rt->alog != NULL && accesslog_reopen(rt->alog) == 0)
		log_info("access log reopened");
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	runtime_reload(arg);
}

int
runtime_run(const char *conffile, struct cfg *cf, struct accesslog *alog,
    struct listensock_env *lenv, char *why, size_t whysize)
{
	struct runtime rt;
	struct event *sigs[4];
	size_t n = (size_t)cf->workers;
	int rc = 1;

	memset(&rt, 0, sizeof(rt));
	rt.conffile = conffile;
	rt.alog = alog;
	rt.current = cf;
	rt.generation = cf->generation = 1;
	rt.mg.version = PACKAGE_VERSION;
	metrics_set_generation(&rt.mg, 1);
	{
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		rt.start_time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	}
	rt.mg.last_reload_success = 1;
	rt.mg.last_reload_time = (int64_t)time(NULL);
	boot_record(&rt.boot, cf);
	pthread_mutex_init(&rt.lock, NULL);
	/* Must come before any event_base exists: it makes the main loop's
	 * base lockable, so that workers may wake it. (A worker's own base
	 * is made without a lock; others wake it through xwake.h.) */
	if (evthread_use_pthreads() != 0)
		fatalx("evthread_use_pthreads failed");
	signal(SIGPIPE, SIG_IGN);
	if ((rt.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((rt.stop_ev = event_new(rt.base, -1, 0, stop_listening_cb, &rt)) == NULL)
		fatalx("event_new failed");
	pthread_mutex_init(&rt.retired_lock, NULL);
	if ((rt.retire_ev = event_new(rt.base, -1, 0, retire_cb, &rt)) == NULL)
		fatalx("event_new failed");
	/* Bound once here, before anything else is started (the revocation
	 * journal, Redis): a port in use is fatal, never shared. */
	{
		char msg[384];
		if (listensock_open_all(cf, lenv, &rt.listen_fds, msg, sizeof(msg)) != 0) {
			log_warnx("%s", msg);
			snprintf(why, whysize, "cannot %s the listeners: %s", lenv != NULL ?
			    "take" : "bind", msg);
			goto out;
		}
	}
	rt.nlisten_fds = cf->nlisteners;
	rt.listen_inherited = lenv != NULL;
	if (lenv != NULL)
		log_info("socket activation: %d listener socket(s) from the service manager",
		    listensock_env_count(lenv));

	{
		struct errlist errs;
		errlist_init(&errs);
		rt.ratelimit = ratelimit_new((size_t)cf->rate_limit.max_keys);
		rt.connlimit = connlimit_new();
		rt.failed_auth = ratelimit_new(SG_FAILED_AUTH_MAX_KEYS);
		rt.revocations = revoke_store_open(cf->revocations, &errs);
		if (rt.revocations == NULL) {
			for (size_t i = 0; i < errs.n; i++)
				log_warnx("%s", errs.msgs[i]);
			snprintf(why, whysize, "cannot open the revocation store%s%s",
			    errs.n > 0 ? ": " : "", errs.n > 0 ? errs.msgs[0] : "");
			errlist_free(&errs);
			goto out;
		}
		errlist_free(&errs);
		/* Its own thread: workers only queue changes for it. */
		if (cf->revocations->redis_host != NULL &&
		    (rt.redis = revoke_redis_start(rt.revocations)) == NULL) {
			snprintf(why, whysize, "cannot start the Redis link");
			goto out;
		}
		struct timeval hour = {3600, 0};
		rt.compact_timer = event_new(rt.base, -1, EV_PERSIST, compact_cb, &rt);
		event_add(rt.compact_timer, &hour);
	}

	/* Remote key sets: the first fetch (or the cache file) before any
	 * request is served. */
	rt.jwks = jwks_registry_new(rt.base);
	jwks_registry_bind(rt.jwks, cf->tokens);
	if (jwks_registry_wait_initial(rt.jwks) != 0) {
		snprintf(why, whysize, "cannot start without the key sets (above)");
		goto out;
	}

	rt.accepting = (int)n;
	rt.upstats = upstats_new();
	rt.hcheck = hcheck_new(rt.base, rt.upstats);
	hcheck_bind(rt.hcheck, cf);
	rt.workers = xcalloc(n, sizeof(*rt.workers));
	for (size_t i = 0; i < n; i++) {
		if (worker_init(&rt.workers[i], &rt, i, cf, alog) != 0) {
			/* The reason (e.g. a port in use) is the warning above. */
			snprintf(why, whysize, "cannot set up worker %zu (its listeners, above)", i);
			rt.nworkers = i + 1;
			goto out;
		}
	}
	rt.nworkers = n;

	sigs[0] = evsignal_new(rt.base, SIGTERM, on_stop, &rt);
	sigs[1] = evsignal_new(rt.base, SIGINT, on_stop, &rt);
	sigs[2] = evsignal_new(rt.base, SIGUSR1, on_usr1, &rt);
	sigs[3] = evsignal_new(rt.base, SIGHUP, on_hup, &rt);
	for (int i = 0; i < 4; i++)
		evsignal_add(sigs[i], NULL);

	int admin_failed;
	rt.admin = admin_start(&rt, &admin_failed);
	if (admin_failed) {
		snprintf(why, whysize, "cannot start the admin listener (above)");
		goto out;
	}

	rt.running = (int)n;
	for (size_t i = 0; i < n; i++)
		if (worker_start(&rt.workers[i]) != 0)
			fatalx("cannot start worker %zu", i);
	{
		char addrs[512];
		log_info("scopegate %s started: %zu worker(s), upstream %s (%s)", PACKAGE_VERSION, n,
		    cfg_upstreams_first(cf)->url,
		    cfg_upstream_addrs_str(cfg_upstreams_first(cf), addrs, sizeof(addrs)));
	}
	sdnotify_status("serving, generation %llu", (unsigned long long)rt.generation);
	sdnotify_ready();
	event_base_dispatch(rt.base);
	log_info("stopped");
	if (rt.stop_signal != 0)
		snprintf(why, whysize, "stopped by signal %d (%s)", rt.stop_signal,
		    rt.stop_signal == SIGTERM ? "SIGTERM" : rt.stop_signal == SIGINT ? "SIGINT" : "?");
	else
		snprintf(why, whysize, "stopped");
	rc = 0;
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
out:
	if (rc != 0)
		log_fatal("%s", why);
	admin_free(rt.admin);
	for (size_t i = 0; i < rt.nworkers; i++)
		worker_join(&rt.workers[i]);
	free(rt.workers);
	listensock_close_all(rt.listen_fds, rt.nlisten_fds);
	if (rt.stop_ev != NULL)
		event_free(rt.stop_ev);
	jwks_registry_free(rt.jwks);
	hcheck_free(rt.hcheck);
	upstats_free(rt.upstats);
	/* What the workers handed over last, after the loop stopped. */
	retire_cb(-1, 0, &rt);
	event_free(rt.retire_ev);
	pthread_mutex_destroy(&rt.retired_lock);
	if (rt.compact_timer != NULL)
		event_free(rt.compact_timer);
	revoke_redis_free(rt.redis);
	revoke_store_close(rt.revocations);
	ratelimit_free(rt.ratelimit);
	connlimit_free(rt.connlimit);
	ratelimit_free(rt.failed_auth);
	event_base_free(rt.base);
	cfg_unref(rt.current);
	boot_free(&rt.boot);
	pthread_mutex_destroy(&rt.lock);
	return rc;
}
