/* upstream.c: see upstream.h.
 *
 * Each connection carries one exchange at a time: the request is written
 * whole, the answer is fed to the connection's response parser as it
 * arrives, and the connection goes back to the idle list only when the
 * answer ended exactly at a message boundary with keep-alive allowed.
 * Anything else closes it: a connection whose state is in doubt is never
 * reused. An idle connection keeps reading so that a close (or stray
 * bytes) from the upstream is noticed at once; the close that crosses a
 * request on the wire is the one case retried (UPSTREAM_IDEMPOTENT). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "balance.h"
#include "defaults.h"
#include "log.h"
#include "tls.h"
#include "upstream.h"
#include "xmalloc.h"

struct upstream_conn {
	struct upstream_pool *pool;
	struct bufferevent *bev;	/* NULL: the slot is free */
	struct upstream_exchange *x;	/* NULL: idle (when bev is set) */
	struct uresp resp;
	int resp_ready;			/* resp initialised (its buffer allocated) */
	size_t addr;			/* index of the address it connects to */
	int connected;			/* connected (TLS: handshake done) */
	unsigned exchanges;		/* started on this connection (for the log) */
	int idle_listed;
	TAILQ_ENTRY(upstream_conn) idle_link;
	/* A connected plain connection is read here (conn_recv_cb), not by
	 * its bufferevent, whose reads ask the socket its readable bytes
	 * first (ioctl FIONREAD: one system call more an answer) and take at
	 * most 4 KB a loop pass. rd_on: rd is set up; its timeout is
	 * rd_timeout, what bufferevent_set_timeouts gave the read side. */
	struct event rd;
	int rd_on;
	struct timeval rd_timeout;
	struct timespec opened;		/* conn_open: the connect's wait started */
	int rd_short;			/* rd's timer is what was left of it */
};

struct upstream_exchange {
	struct upstream_pool *pool;
	struct upstream_conn *conn;	/* NULL while waiting */
	/* The request, until handed to a connection; kept after that while
	 * it may still be sent again (idempotent, on a reused connection). */
	struct evbuffer *req;
	int head_request;
	int idempotent;
	int retried;			/* sent again once already */
	int answered;			/* a byte of the answer arrived */
	int early;			/* ... before the request was all written */
	size_t addr_tries;		/* addresses that could not be connected */
	int got_head;
	int paused;
	int body_open;			/* streamed body: more may follow (upstream_write) */
	const struct upstream_cbs *cbs;
	void *arg;
	struct event timer;		/* waiting: timeout; or a deferred failure */
	enum upstream_error fail_err;
	int waiting;
	/* upstream_set_timeout: this exchange's own bound on the waits for
	 * the upstream (NULL: the pool's timeout). */
	struct timeval *timeout, timeout_tv;
	TAILQ_ENTRY(upstream_exchange) wait_link;
};

struct upstream_pool {
	struct event_base *base;
	char *host;
	uint16_t port;
	struct sockaddr_storage addrs[SG_UPSTREAM_MAX_ADDRS];
	socklen_t addrlens[SG_UPSTREAM_MAX_ADDRS];
	/* addrs as "host:port" for the access log, formatted on first use:
	 * getnameinfo and snprintf cost ~1,400 instructions a request. */
	char addr_text[SG_UPSTREAM_MAX_ADDRS][INET6_ADDRSTRLEN + 8];
	size_t naddrs;
	size_t cur;			/* the address new connections go to */
	char authority[300];
	struct timeval timeout;
	/* Connecting, when it has a bound of its own (else NULL: timeout). */
	struct timeval connect_tv, *connect_timeout;
	struct tls_client *tls;		/* https upstream: shared, refcounted */
	struct upstream_conn *conns;	/* max slots */
	size_t max;
	size_t busy;			/* connections with an exchange */
	TAILQ_HEAD(, upstream_conn) idle;
	TAILQ_HEAD(, upstream_exchange) waiting;
	/* Passive outlier ejection: kept with the pool so that it lives as
	 * long as the requests that report to it. */
	struct balance_outlier outlier;
	struct balance_health health;
	void *user;			/* upstream_pool_set_user */
	int64_t *conn_gauge;		/* upstream_pool_set_conn_gauge */
};

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void conn_recv_cb(evutil_socket_t fd, short what, void *arg);
static void pool_dispatch(struct upstream_pool *pool);

struct upstream_pool *
upstream_pool_new(struct event_base *base, const struct cfg_upstream *cu)
{
	struct upstream_pool *pool = xcalloc(1, sizeof(*pool));

	pool->base = base;
	pool->host = xstrdup(cu->host);
	pool->port = cu->port;
	memcpy(pool->addrs, cu->addrs, sizeof(pool->addrs));
	memcpy(pool->addrlens, cu->addrlens, sizeof(pool->addrlens));
	pool->naddrs = cu->naddrs;
	snprintf(pool->authority, sizeof(pool->authority),
	    strchr(cu->host, ':') ? "[%s]:%u" : "%s:%u", cu->host, (unsigned)cu->port);
	pool->timeout.tv_sec = cu->timeout_ms / 1000;
	pool->timeout.tv_usec = (cu->timeout_ms % 1000) * 1000;
	if (cu->connect_timeout_ms > 0 && cu->connect_timeout_ms != cu->timeout_ms) {
		pool->connect_tv.tv_sec = cu->connect_timeout_ms / 1000;
		pool->connect_tv.tv_usec = (cu->connect_timeout_ms % 1000) * 1000;
		pool->connect_timeout = &pool->connect_tv;
	}
	pool->max = (size_t)cu->max_connections;
	pool->outlier.failures = (uint32_t)cu->outlier_failures;
	pool->outlier.window_ms = cu->outlier_window_ms;
	pool->outlier.base_ms = cu->outlier_base_ms;
	pool->outlier.max_ms = cu->outlier_max_ms;
	if (cu->tls != NULL)
		pool->tls = tls_client_ref(cu->tls->client);
	pool->conns = xcalloc(pool->max, sizeof(*pool->conns));
	for (size_t i = 0; i < pool->max; i++)
		pool->conns[i].pool = pool;
	TAILQ_INIT(&pool->idle);
	TAILQ_INIT(&pool->waiting);
	return pool;
}

static void
exchange_free(struct upstream_exchange *x)
{
	event_del(&x->timer);
	if (x->req != NULL)
		evbuffer_free(x->req);
	free(x);
}

static void
conn_close(struct upstream_conn *c)
{
	if (c->idle_listed) {
		TAILQ_REMOVE(&c->pool->idle, c, idle_link);
		c->idle_listed = 0;
	}
	if (c->rd_on) {
		event_del(&c->rd);
		c->rd_on = 0;
		c->rd_short = 0;
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		if (c->pool->conn_gauge != NULL)
			__atomic_sub_fetch(c->pool->conn_gauge, 1, __ATOMIC_RELAXED);
	}
}

/* What is left of *tv since `since` (CLOCK_MONOTONIC), at least nothing. */
static void
time_left(const struct timespec *since, struct timeval *tv)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)tv->tv_sec * 1000000 + tv->tv_usec -
	    ((int64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	    (now.tv_nsec - since->tv_nsec) / 1000);
	if (us < 0)
		us = 0;
	tv->tv_sec = (time_t)(us / 1000000);
	tv->tv_usec = (suseconds_t)(us % 1000000);
}

/* The bound on each wait for the upstream, both ways (a bufferevent's
 * read and write timeouts; conn_recv_cb's read event when it reads). */
static void
conn_set_timeouts(struct upstream_conn *c, const struct timeval *tv)
{
	bufferevent_set_timeouts(c->bev, tv, tv);
	c->rd_timeout = *tv;
	if (c->rd_on && event_pending(&c->rd, EV_READ, NULL)) {
		event_add(&c->rd, &c->rd_timeout);
		c->rd_short = 0;
	}
}

/* Read c: by its read event once it reads itself, else by its bufferevent.
 * (Re)starting counts the timeout from now, as bufferevent_enable does. */
static void
conn_read_on(struct upstream_conn *c, int on)
{
	if (!c->rd_on) {
		if (on)
			bufferevent_enable(c->bev, EV_READ);
		else
			bufferevent_disable(c->bev, EV_READ);
	} else if (on) {
		event_add(&c->rd, &c->rd_timeout);
		c->rd_short = 0;
	} else
		event_del(&c->rd);
}

void
upstream_pool_free(struct upstream_pool *pool)
{
	struct upstream_exchange *x;

	if (pool == NULL)
		return;
	while ((x = TAILQ_FIRST(&pool->waiting)) != NULL) {
		TAILQ_REMOVE(&pool->waiting, x, wait_link);
		exchange_free(x);
	}
	for (size_t i = 0; i < pool->max; i++) {
		struct upstream_conn *c = &pool->conns[i];
		if (c->x != NULL) {
			c->x->conn = NULL;
			exchange_free(c->x);
			c->x = NULL;
		}
		conn_close(c);
		if (c->resp_ready)
			uresp_free(&c->resp);
	}
	free(pool->conns);
	free(pool->host);
	if (pool->tls != NULL)
		tls_client_free(pool->tls);
	free(pool);
}

/* A new connection in the free slot c (connecting: the request waits in
 * the output buffer). -1 when it cannot even start. */
static int
conn_open(struct upstream_conn *c)
{
	struct upstream_pool *pool = c->pool;

	if (pool->naddrs == 0)
		return -1;
	c->bev = pool->tls != NULL ? tls_upstream_bev_new(pool->tls, pool->base, pool->host) :
	    bufferevent_socket_new(pool->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		return -1;
	if (pool->conn_gauge != NULL)
		__atomic_add_fetch(pool->conn_gauge, 1, __ATOMIC_RELAXED);
	c->exchanges = 0;
	c->connected = 0;
	c->addr = pool->cur;
	clock_gettime(CLOCK_MONOTONIC, &c->opened);
	if (!c->resp_ready) {
		uresp_init(&c->resp, SG_UPSTREAM_MAX_HEAD_BYTES);
		c->resp_ready = 1;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	/* One timeout covers connecting and each wait for the upstream (a
	 * write that cannot go on, an answer that does not come): 504. */
	conn_set_timeouts(c, pool->connect_timeout != NULL ? pool->connect_timeout : &pool->timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* The name was resolved when the configuration loaded (cfg.c). */
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&pool->addrs[c->addr],
	    (int)pool->addrlens[c->addr]) != 0) {
		conn_close(c);
		return -1;
	}
	return 0;
}

/* Send what it can of a whole request (no body left to stream) on a
 * connected plain connection at once, and return how many bytes went.
 * Through the bufferevent, the request would go on the next loop pass,
 * after EV_WRITE was armed and before it is disarmed again: two
 * epoll_ctl and one more wakeup per request. A failure sends nothing
 * here; the bufferevent then meets the same error and reports it as
 * before (the retry of a reused connection included). */
static size_t
write_now(struct upstream_conn *c, const struct upstream_exchange *x, const unsigned char *data,
    size_t len)
{
	evutil_socket_t fd;
	ssize_t n;

	if (!c->connected || c->pool->tls != NULL || x->body_open || len == 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 ||
	    (fd = bufferevent_getfd(c->bev)) < 0)
		return 0;
	do
		n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n > 0 ? (size_t)n : 0;
}

/* Put x on connection c and send its request. */
static void
conn_start(struct upstream_conn *c, struct upstream_exchange *x)
{
	if (c->idle_listed) {
		TAILQ_REMOVE(&c->pool->idle, c, idle_link);
		c->idle_listed = 0;
	}
	c->x = x;
	x->conn = c;
	c->pool->busy++;
	uresp_reset(&c->resp, x->head_request);
	x->answered = 0;
	x->early = 0;
	if (c->exchanges > 0 && x->idempotent && !x->retried) {
		/* A reused connection may have been closed by the upstream as
		 * this goes out: keep the request to send it again. */
		size_t len = evbuffer_get_length(x->req);
		const unsigned char *data = evbuffer_pullup(x->req, -1);
		size_t sent = write_now(c, x, data, len);

		if (sent < len)
			bufferevent_write(c->bev, data + sent, len - sent);
	} else {
		size_t len = evbuffer_get_length(x->req);

		if (write_now(c, x, evbuffer_pullup(x->req, -1), len) < len)
			bufferevent_write_buffer(c->bev, x->req);
		evbuffer_free(x->req);
		x->req = NULL;
	}
	c->exchanges++;
	/* Its own bound; a connection still connecting gets it once
	 * connected (conn_event_cb). */
	if (x->timeout != NULL && c->connected)
		conn_set_timeouts(c, x->timeout);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		bufferevent_enable(c->bev, EV_WRITE);
	conn_read_on(c, 1);
}

/* Detach x from its connection (which is closed unless keep says it
 * may serve again). */
static void
conn_release(struct upstream_conn *c, int keep)
{
	struct upstream_pool *pool = c->pool;

	if (c->x != NULL) {
		/* The pool's bound again for whatever comes next on it. */
		if (c->x->timeout != NULL && keep && c->bev != NULL)
			conn_set_timeouts(c, &pool->timeout);
		c->x->conn = NULL;
		c->x = NULL;
		pool->busy--;
	}
	if (keep && c->bev != NULL) {
		TAILQ_INSERT_TAIL(&pool->idle, c, idle_link);
		c->idle_listed = 1;
	} else
		conn_close(c);
}

static void
exchange_fail(struct upstream_exchange *x, enum upstream_error err, const char *why)
{
	const struct upstream_cbs *cbs = x->cbs;
	void *arg = x->arg;

	exchange_free(x);
	cbs->error(arg, err, why);
}

/* The connection broke or the answer broke the rules: close, report. */
static void
conn_fail(struct upstream_conn *c, enum upstream_error err, const char *why)
{
	struct upstream_exchange *x = c->x;
	struct upstream_pool *pool = c->pool;

	conn_release(c, 0);
	if (x != NULL)
		exchange_fail(x, err, why);
	pool_dispatch(pool);
}

/* Connecting to c's address failed (refused, unreachable, timed out, TLS
 * handshake): nothing of the request left the gateway, so whatever the
 * method, put it on a new connection to the next address of the name, each
 * address once per exchange. New connections then start at that address.
 * Returns 1 when it did. */
static int
conn_next_addr(struct upstream_conn *c, const char *why)
{
	struct upstream_exchange *x = c->x;
	struct upstream_pool *pool = c->pool;
	char host[NI_MAXHOST];
	size_t failed = c->addr;

	if (x == NULL || c->connected || x->addr_tries + 1 >= pool->naddrs)
		return 0;
	x->addr_tries++;
	if (x->req == NULL) {
		/* Not connected: the request is still whole in the output. */
		if ((x->req = evbuffer_new()) == NULL)
			fatalx("upstream: out of memory");
		evbuffer_add_buffer(x->req, bufferevent_get_output(c->bev));
	}
	log_warnx("upstream %s: cannot connect to %s: %s; trying its next address",
	    pool->authority, cfg_addr_str(&pool->addrs[failed], pool->addrlens[failed], host,
	    sizeof(host)), why);
	conn_release(c, 0);
	if (pool->cur == failed)
		pool->cur = (failed + 1) % pool->naddrs;
	if (conn_open(c) != 0) {
		x->fail_err = UPSTREAM_ERR_CONNECT;
		event_active(&x->timer, EV_TIMEOUT, 0);
	} else
		conn_start(c, x);
	pool_dispatch(pool);
	return 1;
}

/* A reused connection ended (closed, reset) before any byte of the answer:
 * the upstream most likely closed it as idle while the request was on its
 * way, and never read it. Send an idempotent request once more, on a new
 * connection in the same slot. Returns 1 when it did. */
static int
conn_retry(struct upstream_conn *c, const char *why)
{
	struct upstream_exchange *x = c->x;
	struct upstream_pool *pool = c->pool;
	char reason[300];

	if (x == NULL || x->req == NULL || x->answered || x->got_head)
		return 0;
	snprintf(reason, sizeof(reason), "%s (reused connection, exchange %u on it)", why,
	    c->exchanges);
	conn_release(c, 0);
	x->retried = 1;
	if (conn_open(c) != 0) {
		x->fail_err = UPSTREAM_ERR_CONNECT;
		event_active(&x->timer, EV_TIMEOUT, 0);
	} else
		conn_start(c, x);
	if (x->cbs->retried != NULL)
		x->cbs->retried(x->arg, reason);
	pool_dispatch(pool);
	return 1;
}

/* The answer ended at a message boundary. */
static void
conn_done(struct upstream_conn *c)
{
	struct upstream_exchange *x = c->x;
	struct upstream_pool *pool = c->pool;
	/* Bytes after the answer were never asked for, and an answer that
	 * began (or ended) before the request was all written, a streamed
	 * body included, leaves the rest of the body to be read as the next
	 * request: either way the connection's state is in doubt, so it is
	 * not reused (as nginx does with an early upstream response). */
	int keep = c->resp.keep_alive && !x->early && !x->body_open &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
	const struct upstream_cbs *cbs = x->cbs;
	void *arg = x->arg;

	if (x->early)
		log_debug("upstream %s: answered before the request was all sent; "
		    "connection closed", pool->authority);

	conn_release(c, keep);
	exchange_free(x);
	cbs->done(arg);
	pool_dispatch(pool);
}

/* Feed what has arrived to the parser and report it, until the input is
 * used up, the exchange pauses, or it ends. The callbacks may cancel the
 * exchange (then the connection is closed and nothing here is touched
 * again). */
static void
conn_process(struct upstream_conn *c)
{
	struct upstream_exchange *x = c->x;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (x == NULL) {
		/* A run asked for by upstream_pause after the answer ended. */
		if (evbuffer_get_length(in) == 0)
			return;
		/* Bytes on an idle connection: nothing was asked. */
		log_debug("upstream %s: unexpected bytes on an idle connection", c->pool->authority);
		conn_close(c);
		return;
	}
	if (!x->answered && evbuffer_get_length(in) > 0) {
		/* The upstream answers: this request is never sent again. */
		x->answered = 1;
		/* Before it had all of the request: what it did not read of
		 * the body would be taken for the next request's start. */
		x->early = evbuffer_get_length(bufferevent_get_output(c->bev)) > 0 || x->body_open;
		if (x->req != NULL) {
			evbuffer_free(x->req);
			x->req = NULL;
		}
	}
	while (!x->paused) {
		struct evbuffer_iovec v = { NULL, 0 };
		const char *body = NULL;
		size_t used = 0, blen = 0;
		enum uresp_event ev;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			v.iov_len = 0;
		ev = uresp_feed(&c->resp, v.iov_base, v.iov_len, &used, &body, &blen);
		switch (ev) {
		case URESP_MORE:
			evbuffer_drain(in, used);
			if (evbuffer_get_length(in) == 0) {
				if (x->got_head && x->cbs->idle != NULL)
					x->cbs->idle(x->arg);
				return;
			}
			break;
		case URESP_HEAD:
			evbuffer_drain(in, used);
			x->got_head = 1;
			x->cbs->head(x->arg, &c->resp);
			if (c->x != x)
				return;
			break;
		case URESP_BODY:
			x->cbs->body(x->arg, body, blen);
			if (c->x != x)
				return;
			evbuffer_drain(in, used);
			break;
		case URESP_DONE:
			evbuffer_drain(in, used);
			conn_done(c);
			return;
		case URESP_ERROR:
			log_warnx("upstream %s: %s", c->pool->authority, c->resp.error);
			conn_fail(c, UPSTREAM_ERR_PROTOCOL, c->resp.error);
			return;
		}
	}
}

/* The request's bytes went out: a streamed body may send more. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct upstream_conn *c = arg;

	(void)bev;
	if (c->x != NULL && c->x->body_open && c->x->cbs->drained != NULL)
		c->x->cbs->drained(c->x->arg);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

/* Up to this much a read (a bufferevent's largest single read). */
#define RECV_MAX 16384

/* c's socket is readable, or its wait timed out: read what is there into
 * the bufferevent's input and go on as its callbacks would. Through a
 * buffer on the stack: space reserved in the input for a whole read would
 * be a 32 KB chain an answer, most of it unused. */
static void
conn_recv_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	char buf[RECV_MAX];
	ssize_t n;
	int err;

	if (what & EV_TIMEOUT) {
		event_del(&c->rd);
		conn_event_cb(c->bev, BEV_EVENT_TIMEOUT | BEV_EVENT_READING, c);
		return;
	}
	do
		n = recv(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	err = errno;
	if (n > 0) {
		/* A persistent event's timer runs again with the interval it
		 * was added with: the whole timeout from now on. */
		if (c->rd_short) {
			c->rd_short = 0;
			event_add(&c->rd, &c->rd_timeout);
		}
		/* A socket bufferevent keeps the end of its input frozen
		 * except while it reads itself (bufferevent_sock.c). */
		evbuffer_unfreeze(in, 0);
		if (evbuffer_add(in, buf, (size_t)n) != 0)
			fatalx("evbuffer_add: out of memory");
		evbuffer_freeze(in, 0);
		conn_process(c);
		return;
	}
	if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK))
		return;
	/* The close or the error, as the bufferevent reports them: reading
	 * stops, then the event callback (which reads errno). */
	event_del(&c->rd);
	errno = err;
	conn_event_cb(c->bev, n == 0 ? BEV_EVENT_EOF | BEV_EVENT_READING :
	    BEV_EVENT_ERROR | BEV_EVENT_READING, c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_conn *c = arg;
	struct upstream_exchange *x = c->x;
	char buf[256];
	const char *why = NULL, *err;

	if (what & BEV_EVENT_CONNECTED) {
		struct timeval left;
		int restarted = 1;

		c->connected = 1;
		/* Connected (TLS: handshake done): from now on the waits. */
		if (x != NULL && x->timeout != NULL)
			conn_set_timeouts(c, x->timeout);
		else if (c->pool->connect_timeout != NULL)
			conn_set_timeouts(c, &c->pool->timeout);
		else
			restarted = 0;
		/* A plain connection is read by conn_recv_cb from now on (a
		 * TLS one's bytes are OpenSSL's to read). */
		if (c->pool->tls == NULL) {
			event_assign(&c->rd, c->pool->base, bufferevent_getfd(bev),
			    EV_READ | EV_PERSIST, conn_recv_cb, c);
			bufferevent_disable(bev, EV_READ);
			c->rd_on = 1;
			/* One timeout_ms for connecting and the first wait
			 * when connecting has no bound of its own: what the
			 * bufferevent's read timer, started with the connect,
			 * has left. */
			left = c->rd_timeout;
			if (!restarted) {
				time_left(&c->opened, &left);
				c->rd_short = 1;
			}
			if (x == NULL || !x->paused)
				event_add(&c->rd, &left);
		}
		return;
	}
	if (x == NULL) {
		/* An idle connection closed, failed or timed out: forget it. */
		conn_close(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		/* What the connection was doing says who was waiting for whom. */
		int waiting = -1;
		(void)ioctl(bufferevent_getfd(bev), FIONREAD, &waiting);
		snprintf(buf, sizeof(buf), "timeout %s (exchange %u on this connection, "
		    "%zu request bytes unsent, %zu answer bytes unread, %d bytes waiting in "
		    "the socket, head %s)",
		    (what & BEV_EVENT_READING) ? "reading" : "writing", c->exchanges,
		    evbuffer_get_length(bufferevent_get_output(bev)),
		    evbuffer_get_length(bufferevent_get_input(bev)), waiting,
		    x->got_head ? "received" : "not received");
		if (!c->connected)
			snprintf(buf, sizeof(buf), "timeout connecting%s",
			    c->pool->tls != NULL ? " (TLS handshake included)" : "");
		if (conn_next_addr(c, "timeout"))
			return;
		conn_fail(c, UPSTREAM_ERR_TIMEOUT, buf);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		/* Whatever was read before the close is in the input first. */
		conn_process(c);
		if (c->x != x || c->bev == NULL)
			return;
		if (!x->paused && uresp_eof(&c->resp) == URESP_DONE) {
			conn_done(c);
			return;
		}
		if (conn_next_addr(c, "connection closed") ||
		    conn_retry(c, "connection closed before an answer"))
			return;
		conn_fail(c, x->got_head ? UPSTREAM_ERR_CLOSED :
		    c->connected ? UPSTREAM_ERR_RESET : UPSTREAM_ERR_CONNECT,
		    x->got_head ? "connection closed in the middle of the answer" :
		    "connection closed before an answer");
		return;
	}
	if (c->pool->tls != NULL)
		why = tls_upstream_error(bev, buf, sizeof(buf));
	err = why != NULL ? why : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
	if (conn_next_addr(c, err) || conn_retry(c, err))
		return;
	if (why != NULL)
		conn_fail(c, UPSTREAM_ERR_TLS, why);
	else
		conn_fail(c, x->got_head ? UPSTREAM_ERR_CLOSED :
		    c->connected ? UPSTREAM_ERR_RESET : UPSTREAM_ERR_CONNECT, err);
}

/* A waiting exchange timed out, or one failed before it could start. */
static void
exchange_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_exchange *x = arg;

	(void)fd;
	(void)what;
	if (x->waiting) {
		TAILQ_REMOVE(&x->pool->waiting, x, wait_link);
		x->waiting = 0;
		exchange_fail(x, UPSTREAM_ERR_TIMEOUT, "no upstream connection free in time");
	} else
		exchange_fail(x, x->fail_err, "cannot connect");
}

/* Give x a connection: an idle one, else a new one in a free slot.
 * Returns 0, 1 when every slot is busy, -1 when connecting failed. */
static int
exchange_place(struct upstream_pool *pool, struct upstream_exchange *x)
{
	struct upstream_conn *c = TAILQ_FIRST(&pool->idle);

	if (c == NULL) {
		for (size_t i = 0; i < pool->max && c == NULL; i++)
			if (pool->conns[i].bev == NULL)
				c = &pool->conns[i];
		if (c == NULL)
			return 1;
		if (conn_open(c) != 0)
			return -1;
	}
	conn_start(c, x);
	return 0;
}

/* Start waiting exchanges while connections are available. */
static void
pool_dispatch(struct upstream_pool *pool)
{
	struct upstream_exchange *x;

	while ((x = TAILQ_FIRST(&pool->waiting)) != NULL) {
		int rc;

		TAILQ_REMOVE(&pool->waiting, x, wait_link);
		x->waiting = 0;
		event_del(&x->timer);
		if ((rc = exchange_place(pool, x)) == 1) {
			TAILQ_INSERT_HEAD(&pool->waiting, x, wait_link);
			x->waiting = 1;
			event_add(&x->timer, &pool->timeout);
			return;
		}
		if (rc < 0) {
			/* Reported from the loop, not from inside whoever
			 * released the connection. */
			x->fail_err = UPSTREAM_ERR_CONNECT;
			event_active(&x->timer, EV_TIMEOUT, 0);
		}
	}
}

struct upstream_exchange *
upstream_send(struct upstream_pool *pool, struct evbuffer *request, unsigned flags,
    const struct upstream_cbs *cbs, void *arg)
{
	struct upstream_exchange *x = xcalloc(1, sizeof(*x));
	int rc;

	x->pool = pool;
	x->head_request = (flags & UPSTREAM_HEAD) != 0;
	/* A streamed body cannot be sent twice: never retried. */
	x->body_open = (flags & UPSTREAM_STREAM) != 0;
	x->idempotent = (flags & UPSTREAM_IDEMPOTENT) != 0 && !x->body_open;
	x->cbs = cbs;
	x->arg = arg;
	/* The timer lives in the exchange: one allocation less a request. */
	evtimer_assign(&x->timer, pool->base, exchange_timer_cb, x);
	if ((x->req = evbuffer_new()) == NULL)
		fatalx("upstream: out of memory");
	evbuffer_add_buffer(x->req, request);
	if ((rc = exchange_place(pool, x)) == 1) {
		/* Every connection is busy: wait, in order, up to timeout_ms. */
		TAILQ_INSERT_TAIL(&pool->waiting, x, wait_link);
		x->waiting = 1;
		event_add(&x->timer, &pool->timeout);
	} else if (rc < 0) {
		x->fail_err = UPSTREAM_ERR_CONNECT;
		event_active(&x->timer, EV_TIMEOUT, 0);
	}
	return x;
}

void
upstream_cancel(struct upstream_exchange *x)
{
	struct upstream_pool *pool = x->pool;

	if (x->waiting) {
		TAILQ_REMOVE(&pool->waiting, x, wait_link);
		x->waiting = 0;
	} else if (x->conn != NULL)
		/* In the middle of an exchange: the connection cannot be
		 * trusted to be at a message boundary. */
		conn_release(x->conn, 0);
	exchange_free(x);
	pool_dispatch(pool);
}

void
upstream_set_timeout(struct upstream_exchange *x, int64_t ms)
{
	struct upstream_conn *c = x->conn;

	x->timeout_tv.tv_sec = (time_t)(ms / 1000);
	x->timeout_tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	x->timeout = &x->timeout_tv;
	if (x->waiting)
		event_add(&x->timer, x->timeout);
	else if (c != NULL && c->bev != NULL && c->connected)
		conn_set_timeouts(c, x->timeout);
}

void
upstream_write(struct upstream_exchange *x, struct evbuffer *data)
{
	struct upstream_conn *c = x->conn;

	if (c != NULL && c->bev != NULL && x->req == NULL) {
		bufferevent_write_buffer(c->bev, data);
		/* The wait for the answer starts when the body is all sent:
		 * until then the upstream's silence is the client's pace
		 * (bounded by body_timeout_ms), not a slow upstream. */
		conn_set_timeouts(c, x->timeout != NULL ? x->timeout : &x->pool->timeout);
	} else {
		/* Still waiting for a connection (or the request is kept to
		 * be sent again): after what is queued. */
		if (x->req == NULL && (x->req = evbuffer_new()) == NULL)
			fatalx("upstream: out of memory");
		evbuffer_add_buffer(x->req, data);
	}
}

void
upstream_write_end(struct upstream_exchange *x)
{
	x->body_open = 0;
}

size_t
upstream_write_pending(const struct upstream_exchange *x)
{
	size_t n = x->req != NULL ? evbuffer_get_length(x->req) : 0;

	if (x->conn != NULL && x->conn->bev != NULL)
		n += evbuffer_get_length(bufferevent_get_output(x->conn->bev));
	return n;
}

void
upstream_pause(struct upstream_exchange *x, int paused)
{
	struct upstream_conn *c = x->conn;

	x->paused = paused;
	if (c == NULL || c->bev == NULL)
		return;
	if (paused)
		conn_read_on(c, 0);
	else {
		conn_read_on(c, 1);
		/* What arrived before the pause is already buffered: no read
		 * event will announce it. Run it from the loop, even with
		 * nothing buffered: the pause may have come with the body's
		 * last bytes, and the parser says the answer is complete only
		 * when fed again (a wait for timeout_ms, then a cut answer). */
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
		    BEV_TRIG_DEFER_CALLBACKS);
	}
}

int
upstream_pool_report(struct upstream_pool *pool, int ok, int64_t now_ms)
{
	return balance_health_report(&pool->health, &pool->outlier, ok, now_ms);
}

void
upstream_pool_set_user(struct upstream_pool *pool, void *user)
{
	pool->user = user;
}

void
upstream_pool_set_conn_gauge(struct upstream_pool *pool, int64_t *gauge)
{
	pool->conn_gauge = gauge;
}

void *
upstream_pool_user(const struct upstream_pool *pool)
{
	return pool->user;
}

int64_t
upstream_pool_ejected_until(const struct upstream_pool *pool)
{
	return pool->health.ejected_until_ms;
}

int
upstream_pool_ejects(const struct upstream_pool *pool)
{
	return pool->outlier.failures > 0;
}

int
upstream_pool_down(const struct upstream_pool *pool, int64_t now_ms)
{
	return balance_health_down(&pool->health, now_ms);
}

size_t
upstream_pool_load(const struct upstream_pool *pool)
{
	return pool->busy;
}

const char *
upstream_pool_authority(const struct upstream_pool *pool)
{
	return pool->authority;
}

int
upstream_pool_idle(const struct upstream_pool *pool)
{
	return pool->busy == 0 && TAILQ_EMPTY(&pool->waiting);
}

const char *
upstream_exchange_addr(const struct upstream_exchange *x, char *buf, size_t len)
{
	const struct sockaddr_storage *sa;
	char host[NI_MAXHOST], *text;
	unsigned port;
	size_t n;

	if (x == NULL || x->conn == NULL)
		return NULL;
	sa = &x->pool->addrs[x->conn->addr];
	text = x->pool->addr_text[x->conn->addr];
	if (text[0] == '\0') {
		cfg_addr_str(sa, x->pool->addrlens[x->conn->addr], host, sizeof(host));
		port = sa->ss_family == AF_INET6 ?
		    ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port) :
		    ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
		snprintf(text, sizeof(x->pool->addr_text[0]),
		    sa->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
	}
	n = len > 0 ? strnlen(text, len - 1) : 0;
	memcpy(buf, text, n);
	if (len > 0)
		buf[n] = '\0';
	return buf;
}
