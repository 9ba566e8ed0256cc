/* upstats.h: /metrics figures per named upstream and server: requests
 * sent (retries included), failures by kind, ejections, and how many
 * workers have the server ejected now. One entry per (upstream, url),
 * made when a worker first builds a pool for it and kept until exit, so
 * that counters survive reloads and a pool never holds a dangling one.
 * Counters are relaxed atomic adds from any worker; the ejection slot of
 * a worker is written by that worker only. Pure: no libevent types. */
#ifndef SCOPEGATE_UPSTATS_H
#define SCOPEGATE_UPSTATS_H

#include <stddef.h>
#include <stdint.h>

enum upstats_kind {
	UPSTATS_CONNECT,	/* no connection could be made (TLS included) */
	UPSTATS_RESET,		/* lost before the answer began */
	UPSTATS_TIMEOUT,
	UPSTATS_INVALID,	/* the answer broke HTTP framing */
	UPSTATS_5XX,		/* answered 500 to 599 */
	UPSTATS_KINDS
};

struct upstats;
struct upstats_server;

struct upstats *upstats_new(void);
void upstats_free(struct upstats *u);
/* The entry for url in upstream name, made on first use (any thread). */
struct upstats_server *upstats_get(struct upstats *u, const char *name, const char *url);
void upstats_sent(struct upstats_server *s);
void upstats_failed(struct upstats_server *s, enum upstats_kind k);
/* Worker (0 to SG_MAX_WORKERS - 1) ejected it until until_ms (wall
 * clock, milliseconds). */
void upstats_ejected(struct upstats_server *s, size_t worker, int64_t until_ms);
/* An answer's head came latency_us after the request went out (the
 * server's latency histogram, the same buckets as metrics.h's). */
void upstats_observe(struct upstats_server *s, uint64_t latency_us);
/* The server's open connections gauge, counted by upstream.c (any
 * worker's pool; atomic). */
int64_t *upstats_conn_gauge(struct upstats_server *s);
/* Active health checks (healthcheck.c, main thread only, but read by
 * every worker): whether the server is checked, and its state. A server
 * newly checked starts up; health_report counts one check's outcome and
 * returns 1 when the server just went down, 2 when it just came back
 * (healthy and unhealthy are the thresholds), else 0. */
void upstats_health_checked(struct upstats_server *s, int on);
int upstats_health_report(struct upstats_server *s, int ok, int64_t healthy, int64_t unhealthy);
/* Marked down by its health check (the workers' test: one relaxed load). */
int upstats_health_down(const struct upstats_server *s);
/* The entry for url in upstream name, NULL when none was made. */
struct upstats_server *upstats_find(struct upstats *u, const char *name, const char *url);
/* The metric families as Prometheus text; the caller frees. */
char *upstats_render(struct upstats *u, int64_t now_ms);

#endif
