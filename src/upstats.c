/* upstats.c: see upstats.h. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "log.h"
#include "metrics.h"
#include "upstats.h"
#include "xmalloc.h"

struct upstats_server {
	char *name;
	char *url;
	uint64_t sent;
	uint64_t failed[UPSTATS_KINDS];
	uint64_t ejections;
	int64_t ejected_until[SG_MAX_WORKERS];
	/* Active health checks: checked and down are read by any thread;
	 * the run and the check counts are the main thread's. */
	int checked;
	int down;
	int64_t run;			/* passes (> 0) or failures (< 0) in a row */
	uint64_t checks_ok, checks_failed;
	int64_t conns;			/* open connections, all workers */
	uint64_t lat[METRICS_LATENCY_BUCKETS + 1];	/* last: +Inf; per bucket */
	uint64_t lat_sum_us;
	struct upstats_server *next;
};

struct upstats {
	pthread_mutex_t lock;		/* guards the list's links */
	struct upstats_server *head, *tail;
};

static const char *const kind_names[UPSTATS_KINDS] = {
	"connect", "reset", "timeout", "invalid", "5xx",
};

struct upstats *
upstats_new(void)
{
	struct upstats *u = xcalloc(1, sizeof(*u));

	pthread_mutex_init(&u->lock, NULL);
	return u;
}

void
upstats_free(struct upstats *u)
{
	struct upstats_server *s, *next;

	if (u == NULL)
		return;
	for (s = u->head; s != NULL; s = next) {
		next = s->next;
		free(s->name);
		free(s->url);
		free(s);
	}
	pthread_mutex_destroy(&u->lock);
	free(u);
}

struct upstats_server *
upstats_get(struct upstats *u, const char *name, const char *url)
{
	struct upstats_server *s;

	pthread_mutex_lock(&u->lock);
	for (s = u->head; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0 && strcmp(s->url, url) == 0)
			break;
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->name = xstrdup(name);
		s->url = xstrdup(url);
		/* Published whole: the renderer walks the list unlocked. */
		if (u->tail != NULL)
			__atomic_store_n(&u->tail->next, s, __ATOMIC_RELEASE);
		else
			__atomic_store_n(&u->head, s, __ATOMIC_RELEASE);
		u->tail = s;
	}
	pthread_mutex_unlock(&u->lock);
	return s;
}

struct upstats_server *
upstats_find(struct upstats *u, const char *name, const char *url)
{
	struct upstats_server *s;

	for (s = __atomic_load_n(&u->head, __ATOMIC_ACQUIRE); s != NULL;
	    s = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE))
		if (strcmp(s->name, name) == 0 && strcmp(s->url, url) == 0)
			break;
	return s;
}

void
upstats_health_checked(struct upstats_server *s, int on)
{
	/* Checks turned off (or on again): no verdict carried over. */
	if (__atomic_load_n(&s->checked, __ATOMIC_RELAXED) != on) {
		s->run = 0;
		__atomic_store_n(&s->down, 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&s->checked, on, __ATOMIC_RELAXED);
}

int
upstats_health_report(struct upstats_server *s, int ok, int64_t healthy, int64_t unhealthy)
{
	int down = __atomic_load_n(&s->down, __ATOMIC_RELAXED), change = 0;

	__atomic_add_fetch(ok ? &s->checks_ok : &s->checks_failed, 1, __ATOMIC_RELAXED);
	if (ok)
		s->run = s->run > 0 ? s->run + 1 : 1;
	else
		s->run = s->run < 0 ? s->run - 1 : -1;
	if (!down && s->run <= -unhealthy) {
		__atomic_store_n(&s->down, 1, __ATOMIC_RELAXED);
		change = 1;
	} else if (down && s->run >= healthy) {
		__atomic_store_n(&s->down, 0, __ATOMIC_RELAXED);
		change = 2;
	}
	return change;
}

int
upstats_health_down(const struct upstats_server *s)
{
	return __atomic_load_n(&s->down, __ATOMIC_RELAXED);
}

void
upstats_observe(struct upstats_server *s, uint64_t latency_us)
{
	size_t b = 0;

	while (b < METRICS_LATENCY_BUCKETS && latency_us > metrics_latency_bounds_us[b])
		b++;
	__atomic_add_fetch(&s->lat[b], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->lat_sum_us, latency_us, __ATOMIC_RELAXED);
}

int64_t *
upstats_conn_gauge(struct upstats_server *s)
{
	return &s->conns;
}

void
upstats_sent(struct upstats_server *s)
{
	__atomic_add_fetch(&s->sent, 1, __ATOMIC_RELAXED);
}

void
upstats_failed(struct upstats_server *s, enum upstats_kind k)
{
	__atomic_add_fetch(&s->failed[k], 1, __ATOMIC_RELAXED);
}

void
upstats_ejected(struct upstats_server *s, size_t worker, int64_t until_ms)
{
	__atomic_add_fetch(&s->ejections, 1, __ATOMIC_RELAXED);
	if (worker < SG_MAX_WORKERS)
		__atomic_store_n(&s->ejected_until[worker], until_ms, __ATOMIC_RELAXED);
}

static void
family(FILE *fp, const char *metric, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
}

/* {upstream="...",server="..." with the text format's escapes (a URL is
 * the operator's text); the caller closes the brace. */
static void
labels(FILE *fp, const struct upstats_server *s)
{
	const char *v[2] = {s->name, s->url}, *k[2] = {"upstream", "server"};

	for (int i = 0; i < 2; i++) {
		fprintf(fp, "%s%s=\"", i ? "," : "{", k[i]);
		for (const char *p = v[i]; *p != '\0'; p++) {
			if (*p == '\\' || *p == '"')
				fprintf(fp, "\\%c", *p);
			else if (*p == '\n')
				fputs("\\n", fp);
			else
				fputc(*p, fp);
		}
		fputc('"', fp);
	}
}

char *
upstats_render(struct upstats *u, int64_t now_ms)
{
	struct upstats_server *head = __atomic_load_n(&u->head, __ATOMIC_ACQUIRE), *s;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		fatalx("open_memstream: out of memory");
	if (head == NULL)
		goto out;
	family(fp, "scopegate_upstream_server_requests_total", "counter",
	    "Requests sent to a server of a named upstream, retries included.");
	for (s = head; s != NULL; s = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE)) {
		fputs("scopegate_upstream_server_requests_total", fp);
		labels(fp, s);
		fprintf(fp, "} %llu\n", (unsigned long long)__atomic_load_n(&s->sent, __ATOMIC_RELAXED));
	}
	family(fp, "scopegate_upstream_server_errors_total", "counter",
	    "Failed requests to a server of a named upstream, by kind.");
	for (s = head; s != NULL; s = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE))
		for (int k = 0; k < UPSTATS_KINDS; k++) {
			fputs("scopegate_upstream_server_errors_total", fp);
			labels(fp, s);
			fprintf(fp, ",kind=\"%s\"} %llu\n", kind_names[k],
			    (unsigned long long)__atomic_load_n(&s->failed[k], __ATOMIC_RELAXED));
		}
	family(fp, "scopegate_upstream_server_ejections_total", "counter",
	    "Times a worker ejected the server after consecutive failures.");
	for (s = head; s != NULL; s = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE)) {
		fputs("scopegate_upstream_server_ejections_total", fp);
		labels(fp, s);
		fprintf(fp, "} %llu\n",
		    (unsigned long long)__atomic_load_n(&s->ejections, __ATOMIC_RELAXED));
	}
	family(fp, "scopegate_upstream_server_ejected", "gauge",
	    "Workers that have the server ejected now (0: up everywhere).");
	for (s = head; s != NULL; s = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE)) {
		unsigned n = 0;
		for (size_t w = 0; w < SG_MAX_WORKERS; w++)
			n += now_ms < __atomic_load_n(&s->ejected_until[w], __ATOMIC_RELAXED);
		fputs("scopegate_upstream_server_ejected", fp);
		labels(fp, s);
		fprintf(fp, "} %u\n", n);
	}
	family(fp, "scopegate_upstream_server_connections", "gauge",
	    "Connections open to the server now, all workers.");
	for (s = head; s != NULL; s = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE)) {
		fputs("scopegate_upstream_server_connections", fp);
		labels(fp, s);
		fprintf(fp, "} %lld\n", (long long)__atomic_load_n(&s->conns, __ATOMIC_RELAXED));
	}
	family(fp, "scopegate_upstream_server_duration_seconds", "histogram",
	    "Request sent to the server until the head of its answer.");
	for (s = head; s != NULL; s = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE)) {
		uint64_t cum = 0, sum = __atomic_load_n(&s->lat_sum_us, __ATOMIC_RELAXED);
		for (size_t b = 0; b <= METRICS_LATENCY_BUCKETS; b++) {
			cum += __atomic_load_n(&s->lat[b], __ATOMIC_RELAXED);
			fputs("scopegate_upstream_server_duration_seconds_bucket", fp);
			labels(fp, s);
			if (b < METRICS_LATENCY_BUCKETS)
				fprintf(fp, ",le=\"%llu.%06llu\"} %llu\n",
				    (unsigned long long)(metrics_latency_bounds_us[b] / 1000000),
				    (unsigned long long)(metrics_latency_bounds_us[b] % 1000000),
				    (unsigned long long)cum);
			else
				fprintf(fp, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		/* _count is the +Inf bucket, read once: consistent even while
		 * workers add. */
		fputs("scopegate_upstream_server_duration_seconds_sum", fp);
		labels(fp, s);
		fprintf(fp, "} %llu.%06llu\n", (unsigned long long)(sum / 1000000),
		    (unsigned long long)(sum % 1000000));
		fputs("scopegate_upstream_server_duration_seconds_count", fp);
		labels(fp, s);
		fprintf(fp, "} %llu\n", (unsigned long long)cum);
	}
	family(fp, "scopegate_upstream_server_healthy", "gauge",
	    "Active health check verdict: 1 up, 0 down, -1 not checked.");
	for (s = head; s != NULL; s = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE)) {
		fputs("scopegate_upstream_server_healthy", fp);
		labels(fp, s);
		fprintf(fp, "} %d\n", !__atomic_load_n(&s->checked, __ATOMIC_RELAXED) ? -1 :
		    !__atomic_load_n(&s->down, __ATOMIC_RELAXED));
	}
	family(fp, "scopegate_upstream_server_health_checks_total", "counter",
	    "Active health checks of the server, by result.");
	for (s = head; s != NULL; s = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE)) {
		fputs("scopegate_upstream_server_health_checks_total", fp);
		labels(fp, s);
		fprintf(fp, ",result=\"ok\"} %llu\n",
		    (unsigned long long)__atomic_load_n(&s->checks_ok, __ATOMIC_RELAXED));
		fputs("scopegate_upstream_server_health_checks_total", fp);
		labels(fp, s);
		fprintf(fp, ",result=\"failed\"} %llu\n",
		    (unsigned long long)__atomic_load_n(&s->checks_failed, __ATOMIC_RELAXED));
	}
out:
	fclose(fp);
	return buf;
}
