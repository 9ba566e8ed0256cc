/* upstream.h: the gateway's own HTTP/1.1 client to the upstream service.
 * A per-worker pool of keep-alive connections (plain or TLS bufferevents),
 * one request at a time on each; requests wait in order for a connection
 * when all max_connections are busy. The request goes out as the caller
 * serialized it (forward.c); the answer is read by the strict response
 * parser (uresp.c) and handed back piece by piece, so large and streamed
 * answers pass through without piling up. */
#ifndef SCOPEGATE_UPSTREAM_H
#define SCOPEGATE_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "cfg.h"
#include "uresp.h"

enum upstream_error {
	UPSTREAM_ERR_CONNECT,		/* no connection could be made */
	UPSTREAM_ERR_RESET,		/* connected, then closed or reset before an answer */
	UPSTREAM_ERR_TIMEOUT,		/* timeout_ms passed waiting for the upstream */
	UPSTREAM_ERR_TLS,		/* the TLS handshake failed (why says how) */
	UPSTREAM_ERR_PROTOCOL,		/* the answer broke HTTP/1.1 framing rules */
	UPSTREAM_ERR_CLOSED,		/* the connection ended in the middle of the answer */
};

/* What an exchange reports, in this order: head once, body zero or more
 * times, then done; or error at any point (after which nothing more).
 * The callbacks may call upstream_cancel and upstream_pause. */
struct upstream_cbs {
	void (*head)(void *arg, const struct uresp *r);
	void (*body)(void *arg, const char *data, size_t len);
	void (*done)(void *arg);
	void (*error)(void *arg, enum upstream_error err, const char *why);
	/* Optional: the request went out again on a new connection (see
	 * UPSTREAM_IDEMPOTENT); why says what happened to the first one. */
	void (*retried)(void *arg, const char *why);
	/* Optional, for UPSTREAM_STREAM: what was written went out (the
	 * connection's output is empty): more of the body may follow. */
	void (*drained)(void *arg);
	/* Optional: every byte of the answer read so far was handed over
	 * (head and body callbacks) and more must be read: what the caller
	 * held back to send with the next piece should go now. */
	void (*idle)(void *arg);
};

/* upstream_send flags. */
#define UPSTREAM_HEAD		0x1	/* a HEAD request: the answer has no body */
/* The method is idempotent (RFC 9110 9.2.2): when a reused keep-alive
 * connection is found closed before a single byte of the answer came (the
 * upstream closed it as idle just as the request went out), the request is
 * sent once more on a new connection instead of failing with 502. Never
 * for POST or PATCH: the upstream may have acted on them (nginx's rule). */
#define UPSTREAM_IDEMPOTENT	0x2
/* The request's body follows with upstream_write (its length is in the
 * head the caller serialized), ended by upstream_write_end; never sent
 * again, and its connection is not reused when the answer came before the
 * whole body went out. */
#define UPSTREAM_STREAM		0x4

struct upstream_pool;
struct upstream_exchange;

struct upstream_pool *upstream_pool_new(struct event_base *base,
    const struct cfg_upstream *cu);
/* Closes every connection; exchanges still waiting are dropped without a
 * callback (call it only when upstream_pool_idle, or at exit). */
void upstream_pool_free(struct upstream_pool *pool);

/* Send request (whole serialized bytes, moved out of the buffer) and report
 * the answer through cbs. flags: UPSTREAM_HEAD, UPSTREAM_IDEMPOTENT. Never
 * NULL; callbacks never run before this returns. */
struct upstream_exchange *upstream_send(struct upstream_pool *pool, struct evbuffer *request,
    unsigned flags, const struct upstream_cbs *cbs, void *arg);
/* Bound this exchange's waits for the upstream (connection slot, each
 * read and write once connected) by ms instead of the pool's timeout_ms:
 * a route's own timeout. Call right after upstream_send. */
void upstream_set_timeout(struct upstream_exchange *x, int64_t ms);
/* More of a streamed request body (moved out of data), in order. */
void upstream_write(struct upstream_exchange *x, struct evbuffer *data);
/* The streamed body is all written. */
void upstream_write_end(struct upstream_exchange *x);
/* Request bytes queued and not yet sent (for backpressure). */
size_t upstream_write_pending(const struct upstream_exchange *x);
/* Give the exchange up (the client went away): no more callbacks; a
 * connection in the middle of it is closed. */
void upstream_cancel(struct upstream_exchange *x);
/* Stop (1) or resume (0) reading the answer: backpressure from a slow
 * client. */
void upstream_pause(struct upstream_exchange *x, int paused);

/* Non-zero when no exchange uses or waits for any of the pool's
 * connections. */
int upstream_pool_idle(const struct upstream_pool *pool);

/* An outcome of a request on the pool's server (ok: an answer below 500)
 * for passive outlier ejection; 1 when this one ejected it. Down: ejected
 * at now_ms (never when ejection is off). */
int upstream_pool_report(struct upstream_pool *pool, int ok, int64_t now_ms);
int upstream_pool_down(const struct upstream_pool *pool, int64_t now_ms);
int upstream_pool_ejects(const struct upstream_pool *pool);
int64_t upstream_pool_ejected_until(const struct upstream_pool *pool);
/* A pointer the pool keeps for its owner (upset.c: the server's
 * /metrics entry). */
void upstream_pool_set_user(struct upstream_pool *pool, void *user);
void *upstream_pool_user(const struct upstream_pool *pool);
/* A counter of open connections the pool keeps up to date (atomic
 * adds: several workers' pools may share it), or NULL. */
void upstream_pool_set_conn_gauge(struct upstream_pool *pool, int64_t *gauge);
/* Connections in use: least_request's measure of a server's load. */
size_t upstream_pool_load(const struct upstream_pool *pool);

/* "host:port" for Host headers and logs. */
const char *upstream_pool_authority(const struct upstream_pool *pool);

/* The numeric address:port of the connection the exchange uses, in buf
 * ("[v6]:port" for IPv6); NULL while it has none. For the access log. */
const char *upstream_exchange_addr(const struct upstream_exchange *x, char *buf, size_t len);

#endif
