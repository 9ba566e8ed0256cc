/* runtime.c: see runtime.h. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "admin.h"
#include "errlist.h"
#include "jwks_fetch.h"
#include "log.h"
#include "ratelimit.h"
#include "runtime.h"
#include "revoke.h"
#include "revoke_redis.h"
#include "sdnotify.h"
#include "tls.h"
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

int
runtime_reload(struct runtime *rt)
{
	struct errlist errs;
	struct cfg *cf, *old;

	errlist_init(&errs);
	sdnotify_reloading();
	log_info("reloading %s", rt->conffile);
	if ((cf = cfg_load(rt->conffile, &errs)) == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			log_warnx("reload: %s", errs.msgs[i]);
		log_warnx("reload failed with %zu error(s); still serving configuration generation %llu",
		    errs.n, (unsigned long long)rt->generation);
		errlist_free(&errs);
		metrics_reload_done(&rt->mg, 0);
		sdnotify_status("reload failed; serving generation %llu", (unsigned long long)rt->generation);
		sdnotify_ready();
		return -1;
	}
	errlist_free(&errs);
	old = runtime_acquire(rt);
	/* Sockets are bound once per worker at start; changing them live
	 * would mean a moment with fewer listeners. Say so; apply the rest. */
	if (!cfg_same_listeners(old, cf))
		log_warnx("reload: listener changes are not applied live; restart to apply them");
	else
		/* Tickets issued before the reload still resume after it. */
		for (size_t i = 0; i < cf->nlisteners; i++)
			if (cf->listeners[i].tls != NULL && old->listeners[i].tls != NULL)
				tls_server_inherit_ticket_keys(cf->listeners[i].tls->server,
				    old->listeners[i].tls->server);
	if ((old->access_log == NULL) != (cf->access_log == NULL) ||
	    (old->access_log && strcmp(old->access_log, cf->access_log) != 0))
		log_warnx("reload: access log path changes are not applied live; restart to apply them");
	if (old->workers != cf->workers)
		log_warnx("reload: the worker count is not changed live; restart to apply it");
	if (!cfg_upstream_same_addrs(&old->upstream, &cf->upstream)) {
		char addrs[512];
		log_info("reload: upstream %s now at %s", cf->upstream.url,
		    cfg_upstream_addrs_str(&cf->upstream, addrs, sizeof(addrs)));
	}
	if (old->rate_limit.max_keys != cf->rate_limit.max_keys)
		log_warnx("reload: rate_limit.max_keys is not changed live; restart to apply it");
	cfg_unref(old);
	/* Remote key sets: unchanged entries keep their set in force. */
	jwks_registry_bind(rt->jwks, cf->tokens);

	pthread_mutex_lock(&rt->lock);
	cf->generation = ++rt->generation;
	old = rt->current;
	rt->current = cf;
	pthread_mutex_unlock(&rt->lock);
	cfg_unref(old);
	for (size_t i = 0; i < rt->nworkers; i++)
		worker_notify(&rt->workers[i], WORKER_CMD_RELOAD);
	metrics_reload_done(&rt->mg, 1);
	metrics_set_generation(&rt->mg, cf->generation);
	log_info("configuration generation %llu in force", (unsigned long long)cf->generation);
	sdnotify_status("serving, generation %llu", (unsigned long long)cf->generation);
	sdnotify_ready();
	return 0;
}

char *
runtime_metrics_text(struct runtime *rt)
{
	const struct metrics_shard **shards = xcalloc(rt->nworkers ? rt->nworkers : 1,
	    sizeof(*shards));
	char *text;

	for (size_t i = 0; i < rt->nworkers; i++)
		shards[i] = rt->workers[i].metrics;
	rt->mg.rate_limit_keys = rt->ratelimit != NULL ? ratelimit_count(rt->ratelimit) : 0;
	text = metrics_render(shards, rt->nworkers, &rt->mg, NULL);
	free(shards);
	if (rt->jwks != NULL) {
		char *jw = jwks_registry_metrics(rt->jwks, time(NULL)), *all;
		xasprintf(&all, "%s%s", text, jw);
		free(text);
		free(jw);
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
runtime_run(const char *conffile, struct cfg *cf, struct accesslog *alog)
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
	pthread_mutex_init(&rt.lock, NULL);
	/* Must come before any event_base exists: it makes the bases
	 * lockable so that other threads may wake a worker. */
	if (evthread_use_pthreads() != 0)
		fatalx("evthread_use_pthreads failed");
	signal(SIGPIPE, SIG_IGN);
	if ((rt.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	pthread_mutex_init(&rt.retired_lock, NULL);
	if ((rt.retire_ev = event_new(rt.base, -1, 0, retire_cb, &rt)) == NULL)
		fatalx("event_new failed");

	{
		struct errlist errs;
		errlist_init(&errs);
		rt.ratelimit = ratelimit_new((size_t)cf->rate_limit.max_keys);
		rt.revocations = revoke_store_open(cf->revocations, &errs);
		if (rt.revocations == NULL) {
			for (size_t i = 0; i < errs.n; i++)
				log_warnx("%s", errs.msgs[i]);
			errlist_free(&errs);
			goto out;
		}
		errlist_free(&errs);
		/* Its own thread: workers only queue changes for it. */
		if (cf->revocations->redis_host != NULL &&
		    (rt.redis = revoke_redis_start(rt.revocations)) == NULL) {
			log_warnx("cannot start the Redis link");
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
		log_warnx("cannot start without the key sets above");
		goto out;
	}

	rt.workers = xcalloc(n, sizeof(*rt.workers));
	for (size_t i = 0; i < n; i++) {
		if (worker_init(&rt.workers[i], &rt, i, cf, alog) != 0) {
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
	if (admin_failed)
		goto out;

	rt.running = (int)n;
	for (size_t i = 0; i < n; i++)
		if (worker_start(&rt.workers[i]) != 0)
			fatalx("cannot start worker %zu", i);
	{
		char addrs[512];
		log_info("scopegate %s started: %zu worker(s), upstream %s (%s)", PACKAGE_VERSION, n,
		    cf->upstream.url, cfg_upstream_addrs_str(&cf->upstream, addrs, sizeof(addrs)));
	}
	sdnotify_status("serving, generation %llu", (unsigned long long)rt.generation);
	sdnotify_ready();
	event_base_dispatch(rt.base);
	log_info("stopped");
	rc = 0;
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
out:
	admin_free(rt.admin);
	for (size_t i = 0; i < rt.nworkers; i++)
		worker_join(&rt.workers[i]);
	free(rt.workers);
	jwks_registry_free(rt.jwks);
	/* What the workers handed over last, after the loop stopped. */
	retire_cb(-1, 0, &rt);
	event_free(rt.retire_ev);
	pthread_mutex_destroy(&rt.retired_lock);
	if (rt.compact_timer != NULL)
		event_free(rt.compact_timer);
	revoke_redis_free(rt.redis);
	revoke_store_close(rt.revocations);
	ratelimit_free(rt.ratelimit);
	event_base_free(rt.base);
	cfg_unref(rt.current);
	pthread_mutex_destroy(&rt.lock);
	return rc;
}
