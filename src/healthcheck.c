/* healthcheck.c: see healthcheck.h.
 *
 * A probe per checked server: a timer that starts a check, the check's
 * own deadline (the pool's inactivity timeout alone would let a server
 * that trickles bytes pass as alive), and a one-connection keep-alive
 * pool. A check passes when a complete answer with an expected status
 * arrived within timeout_ms; anything else fails it. Each check in
 * practice connects anew: an idle connection's timeout is the check's
 * timeout_ms, never longer than the interval, so it is gone by the next
 * check; that is what shows the server still accepts connections. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "healthcheck.h"
#include "log.h"
#include "upstats.h"
#include "upstream.h"
#include "xmalloc.h"

struct probe {
	struct hcheck *h;
	const struct cfg_upstream_group *g;	/* of h->cf */
	const char *label;			/* the server's url or label */
	struct cfg_upstream cu;			/* the server, with the check's timeout */
	struct upstats_server *st;
	struct upstream_pool *pool;
	struct upstream_exchange *x;		/* the check under way, or NULL */
	struct event *tick;			/* the next check */
	struct event *deadline;			/* the check's timeout_ms */
	int status;				/* of the answer's head, 0 before it */
	char why[160];				/* what failed the last check */
};

struct hcheck {
	struct event_base *base;
	struct upstats *stats;
	struct cfg *cf;
	struct probe **probes;
	size_t n;
};

static void probe_start(evutil_socket_t fd, short what, void *arg);

struct hcheck *
hcheck_new(struct event_base *base, struct upstats *stats)
{
	struct hcheck *h = xcalloc(1, sizeof(*h));

	h->base = base;
	h->stats = stats;
	return h;
}

static void
ms_tv(int64_t ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/* One check's outcome: the verdict, a log line when it changed, and the
 * next check in interval_ms. */
static void
probe_done(struct probe *p, int ok)
{
	const struct cfg_health_check *hc = p->g->health;
	struct timeval tv;
	int change;

	p->x = NULL;
	event_del(p->deadline);
	change = upstats_health_report(p->st, ok, hc->healthy, hc->unhealthy);
	if (change == 1)
		log_warnx("upstream %s: server %s failed %lld health checks in a row (last: %s): "
		    "down", p->g->name, p->label, (long long)hc->unhealthy, p->why);
	else if (change == 2)
		log_info("upstream %s: server %s passed %lld health checks in a row: up",
		    p->g->name, p->label, (long long)hc->healthy);
	else if (!ok)
		log_debug("upstream %s: server %s: health check failed: %s", p->g->name, p->label,
		    p->why);
	ms_tv(hc->interval_ms, &tv);
	event_add(p->tick, &tv);
}

static void
check_head(void *arg, const struct uresp *r)
{
	struct probe *p = arg;

	p->status = r->status;
}

static void
check_body(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
}

static void
check_done(void *arg)
{
	struct probe *p = arg;
	int ok = cfg_health_status_ok(p->g->health, p->status);

	if (!ok)
		snprintf(p->why, sizeof(p->why), "answered %d", p->status);
	probe_done(p, ok);
}

static void
check_error(void *arg, enum upstream_error err, const char *why)
{
	struct probe *p = arg;

	(void)err;
	snprintf(p->why, sizeof(p->why), "%s", why != NULL ? why : "no answer");
	probe_done(p, 0);
}

static const struct upstream_cbs check_cbs = {
	.head = check_head,
	.body = check_body,
	.done = check_done,
	.error = check_error,
};

static void
probe_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	(void)fd;
	(void)what;
	if (p->x == NULL)
		return;
	upstream_cancel(p->x);
	snprintf(p->why, sizeof(p->why), "no complete answer within %lld ms",
	    (long long)p->g->health->timeout_ms);
	probe_done(p, 0);
}

static void
probe_start(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	const struct cfg_health_check *hc = p->g->health;
	struct evbuffer *req = evbuffer_new();
	struct timeval tv;

	(void)fd;
	(void)what;
	if (req == NULL)
		fatalx("evbuffer_new: out of memory");
	p->status = 0;
	evbuffer_add_printf(req, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: scopegate-health-check\r\nAccept: */*\r\n\r\n", hc->path,
	    hc->host != NULL ? hc->host : upstream_pool_authority(p->pool));
	ms_tv(hc->timeout_ms, &tv);
	event_add(p->deadline, &tv);
	p->x = upstream_send(p->pool, req, UPSTREAM_IDEMPOTENT, &check_cbs, p);
	evbuffer_free(req);
}

static void
probe_free(struct probe *p)
{
	if (p->x != NULL)
		upstream_cancel(p->x);
	upstream_pool_free(p->pool);
	event_free(p->tick);
	event_free(p->deadline);
	free(p);
}

static void
unbind(struct hcheck *h)
{
	for (size_t i = 0; i < h->n; i++)
		probe_free(h->probes[i]);
	free(h->probes);
	h->probes = NULL;
	h->n = 0;
	if (h->cf != NULL)
		cfg_unref(h->cf);
	h->cf = NULL;
}

void
hcheck_bind(struct hcheck *h, struct cfg *cf)
{
	const struct cfg_upstreams *u = &cf->ups;
	size_t n = 0, nold = h->n;
	struct upstats_server **old = xcalloc(nold > 0 ? nold : 1, sizeof(*old));

	for (size_t i = 0; i < nold; i++)
		old[i] = h->probes[i]->st;
	unbind(h);
	h->cf = cfg_ref(cf);
	for (size_t g = 0; g < u->ngroups; g++)
		if (u->groups[g].health != NULL && !u->groups[g].shorthand)
			n += u->groups[g].nservers;
	h->probes = xcalloc(n > 0 ? n : 1, sizeof(*h->probes));
	for (size_t g = 0; g < u->ngroups; g++) {
		const struct cfg_upstream_group *cg = &u->groups[g];
		for (size_t i = 0; i < cg->nservers && !cg->shorthand; i++) {
			const char *label = cg->servers[i]->label != NULL ?
			    cg->servers[i]->label : cg->servers[i]->url;
			struct upstats_server *st = upstats_get(h->stats, cg->name, label);
			struct probe *p;

			/* Unchecked now: never held down by an old verdict. */
			upstats_health_checked(st, cg->health != NULL);
			if (cg->health == NULL)
				continue;
			p = h->probes[h->n++] = xcalloc(1, sizeof(*p));
			p->h = h;
			p->g = cg;
			p->label = label;
			p->st = st;
			p->cu = *cg->servers[i];
			p->cu.timeout_ms = cg->health->timeout_ms;
			p->cu.max_connections = 1;
			p->cu.outlier_failures = 0;
			p->pool = upstream_pool_new(h->base, &p->cu);
			p->tick = evtimer_new(h->base, probe_start, p);
			p->deadline = evtimer_new(h->base, probe_timeout, p);
			if (p->tick == NULL || p->deadline == NULL)
				fatalx("evtimer_new: out of memory");
			/* The first check at once: a reload that adds a
			 * server learns its state without waiting. */
			event_active(p->tick, EV_TIMEOUT, 0);
		}
	}
	/* Servers checked before and gone now: no verdict left standing
	 * (their /metrics entry stays, as its counters do). */
	for (size_t i = 0; i < nold; i++) {
		size_t j = 0;
		while (j < h->n && h->probes[j]->st != old[i])
			j++;
		if (j == h->n)
			upstats_health_checked(old[i], 0);
	}
	free(old);
}

void
hcheck_free(struct hcheck *h)
{
	if (h == NULL)
		return;
	unbind(h);
	free(h);
}

/* The upstream has routes: the default, or named by an action or a
 * path prefix rule. */
static int
routed(const struct cfg_upstreams *u, uint32_t g)
{
	if (g == u->default_group)
		return 1;
	for (size_t a = 0; a < u->nactions; a++)
		if (u->action_group[a] == g)
			return 1;
	for (size_t i = 0; i < u->npath_routes; i++)
		if (u->path_routes[i].group == g)
			return 1;
	return 0;
}

int
hcheck_ready(struct upstats *stats, const struct cfg *cf, char *why, size_t len)
{
	const struct cfg_upstreams *u = &cf->ups;
	int rc = 0;

	for (uint32_t g = 0; g < u->ngroups && rc == 0; g++) {
		const struct cfg_upstream_group *cg = &u->groups[g];
		size_t up = 0;

		if (cg->health == NULL || cg->shorthand || !routed(u, g))
			continue;
		for (size_t i = 0; i < cg->nservers; i++) {
			const struct upstats_server *st = upstats_find(stats, cg->name,
			    cg->servers[i]->label != NULL ? cg->servers[i]->label :
			    cg->servers[i]->url);
			up += st == NULL || !upstats_health_down(st);
		}
		if (up == 0) {
			snprintf(why, len, "upstream %s: no server passes its health check", cg->name);
			rc = -1;
		}
	}
	return rc;
}
