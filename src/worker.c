/* worker.c: see worker.h. The HTTP-facing glue: listeners, connection
 * accounting, the checks made before a request may go anywhere, and
 * draining. Decisions themselves live in pure modules. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "chars.h"
#include "connlimit.h"
#include "defaults.h"
#include "framing.h"
#include "gate.h"
#include "listensock.h"
#include "log.h"
#include "revoke.h"
#include "tls.h"
#include "upset.h"
#include "upstream.h"
#include "token_config.h"
#include "proxy.h"
#include "ratelimit.h"
#include "realip.h"
#include "reqscan.h"
#include "runtime.h"
#include "worker.h"
#include "xmalloc.h"

static void
ms_to_tv(int64_t ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

static void
client_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct client_conn *cc = arg;
	struct worker *w = cc->w;

	ptrmap_del(w->conns, evcon);
	metrics_connection_closed(w->metrics);
	__atomic_sub_fetch(&w->rt->connections, 1, __ATOMIC_ACQ_REL);
	if (cc->group_counted)
		connlimit_release(w->rt->connlimit, &cc->group);
	if (cc->deadline != NULL)
		event_free(cc->deadline);
	cc->deadline = NULL;
	if (cc->body_timer != NULL)
		event_free(cc->body_timer);
	if (cc->is_waiting)
		TAILQ_REMOVE(&w->body_waiting, cc, waiting);
	evbuffer_free(cc->hold);
	/* libevent frees the SSL without a close_notify; send it. */
	tls_connection_close_notify(evcon);
	if (cc->cur != NULL)
		proxy_client_closed(cc->cur);
	free(cc->cert_subject);
	free(cc->cert_sha256);
	free(cc);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg);

/* Count the connection against its address group's share of the slots
 * (limits.max_connections_per_client), from its accept. Connections from
 * a trusted proxy carry many clients and are not counted. Over the share,
 * the connection is marked to be closed at once (attach_cb): no TLS
 * handshake, no request read, no answer; refusals are logged once per
 * SG_CONNLIMIT_LOG_INTERVAL_S with how many there were. */
static void
client_group_count(struct worker *w, struct client_conn *cc)
{
	const struct cfg *cf = w->cf;
	struct timespec now;
	uint64_t since;
	char group[64];

	if (connlimit_key_parse(cc->client_ip, &cc->group) != 0)
		return;
	if (cf->ntrusted_proxies > 0 &&
	    realip_trusted(cf->trusted_proxies, cf->ntrusted_proxies, cc->client_ip))
		return;
	if (connlimit_acquire(w->rt->connlimit, &cc->group,
	    (uint32_t)cf->limits.max_connections_per_client)) {
		cc->group_counted = 1;
		return;
	}
	cc->group_refused = 1;
	/* Should it be read before it is closed, the guard answers 503. */
	cc->over_limit = 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (connlimit_refused(w->rt->connlimit,
	    (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000,
	    (uint64_t)SG_CONNLIMIT_LOG_INTERVAL_S * 1000000, &since))
		log_warnx("%s: connection refused: %s already holds "
		    "limits.max_connections_per_client (%lld) connections "
		    "(%llu more refused, from any address, since the last such line)",
		    cc->client, connlimit_key_str(&cc->group, group, sizeof(group)),
		    (long long)cf->limits.max_connections_per_client,
		    (unsigned long long)since);
}

/* The connection record for evcon, created right after the accept
 * (attach_cb) and counted against max_connections across all workers
 * until the connection closes. */
static struct client_conn *
client_conn_get(struct worker *w, struct evhttp_connection *evcon)
{
	struct client_conn *cc = ptrmap_get(w->conns, evcon);

	if (cc != NULL)
		return cc;
	cc = xcalloc(1, sizeof(*cc));
	cc->w = w;
	cc->evcon = evcon;
	reqscan_init(&cc->scan, (size_t)w->cf->limits.max_header_bytes, w->head_body_ceiling);
	if ((cc->hold = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	cc->deadline = evtimer_new(w->base, deadline_cb, cc);
	/* From the accept: the TLS handshake and the first request head
	 * must be done within header_timeout_ms, however slowly bytes come. */
	event_add(cc->deadline, &w->header_tv);
	if (__atomic_add_fetch(&w->rt->connections, 1, __ATOMIC_ACQ_REL) >
	    w->cf->limits.max_connections)
		cc->over_limit = 1;
	char *addr = NULL;
	ev_uint16_t port = 0;
	evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(cc->client_ip, sizeof(cc->client_ip), "%s", addr ? addr : "");
	snprintf(cc->client, sizeof(cc->client), addr && strchr(addr, ':') ? "[%s]:%u" : "%s:%u",
	    addr ? addr : "", (unsigned)port);
	client_group_count(w, cc);
	/* Answers go out in several writes (headers, then body pieces); with
	 * Nagle on, a keep-alive client's delayed ACK stalls each one. */
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ptrmap_put(w->conns, evcon, cc);
	metrics_connection_opened(w->metrics);
	evhttp_connection_set_closecb(evcon, client_closed_cb, cc);
	return cc;
}

static int
framing_refuse(struct proxy_req *pr, int status, const char *type, const char *message)
{
	/* The bytes after a request we could not frame cannot be trusted to
	 * start a request: never read another one on this connection. */
	pr->reason = "framing";
	evhttp_add_header(evhttp_request_get_output_headers(pr->req), "Connection", "close");
	proxy_reply_error(pr, status, type, message, NULL);
	return -1;
}

/* Refusals that come before any routing: message framing, checked on what
 * libevent parsed. These are the gateway's own checks, stricter than
 * libevent's parser (RFC 9112 section 6): anything two parsers could read
 * differently is refused and the connection closed. Returns 0 when the
 * request may go on. (The target, Authorization and the rest are decided
 * by gate_decide.) */
static int
check_framing(struct proxy_req *pr)
{
	struct evhttp_request *req = pr->req;
	struct framing_info fi;
	const char *type, *message;
	int status, rc;

	rc = framing_check(evhttp_request_get_input_headers(req), req->major, req->minor,
	    evhttp_request_get_command(req), &fi, &status, &type, &message);
	pr->h_authorization = fi.authorization;
	pr->n_authorization = fi.nauthorization;
	pr->h_content_type = fi.content_type;
	pr->h_host = fi.host;
	pr->h_connection = fi.connection;
	pr->n_connection = fi.nconnection;
	pr->h_forwarded_for = fi.forwarded_for;
	pr->n_forwarded_for = fi.nforwarded_for;
	if (rc != 0)
		return framing_refuse(pr, status, type, message);
	return 0;
}

/* Behind a trusted proxy, the client is the one its X-Forwarded-For names
 * (realip.c); one such field only: two are ambiguous, and then the peer
 * is the client and neither is forwarded. */
static void
find_client(struct proxy_req *pr)
{
	if (pr->cf->ntrusted_proxies == 0 || pr->cc == NULL || pr->n_forwarded_for != 1)
		return;
	if (realip_client(pr->cf->trusted_proxies, pr->cf->ntrusted_proxies, pr->cc->client_ip,
	    pr->h_forwarded_for, pr->real_ip, sizeof(pr->real_ip)) == 1) {
		pr->client_ip = pr->real_ip;
		pr->xff = pr->h_forwarded_for;
	}
}

/* 429 with Retry-After: the wait in whole seconds, rounded up, at least 1. */
static void
reply_429(struct proxy_req *pr, uint64_t retry_us, const char *reason, const char *message)
{
	uint64_t retry = (retry_us + 999999) / 1000000;
	char secs[24];

	snprintf(secs, sizeof(secs), "%llu", (unsigned long long)(retry > 0 ? retry : 1));
	evhttp_add_header(evhttp_request_get_output_headers(pr->req), "Retry-After", secs);
	pr->decision = "deny";
	pr->reason = reason;
	proxy_reply_error(pr, 429, "TooManyRequests", message, NULL);
}

/* Count this request against rate_limit under key (of kind 'c' client,
 * 's' subject, 't' token id). Over it: 429 with Retry-After (whole
 * seconds, at least 1), reason rate_limited; returns 1. */
static int
rate_limited(struct worker *w, struct proxy_req *pr, char kind, const char *key)
{
	const struct cfg_rate_limit *rl = &pr->cf->rate_limit;
	uint64_t now = (uint64_t)pr->mono.tv_sec * 1000000 + (uint64_t)pr->mono.tv_nsec / 1000;
	uint64_t retry;
	char ckey[RATELIMIT_CLIENT_KEY_MAX];
	size_t klen = strlen(key);

	/* An address counts by its allocation (IPv6 /64), not as text. */
	if (kind == 'c') {
		klen = ratelimit_client_key(key, (unsigned)rl->ipv6_prefix, ckey);
		key = ckey;
	}
	if (ratelimit_take(w->rt->ratelimit, kind, key, klen, now, rl->interval_us,
	    rl->burst, &retry))
		return 0;
	reply_429(pr, retry, "rate_limited", "Too many requests: the rate limit is exceeded");
	return 1;
}

/* The group a budget per client address counts in (IPv6 by /64, as for
 * connections), as the bytes of a ratelimit key; the address itself when
 * it is not numeric. */
static void
client_budget_key(const char *ip, struct connlimit_key *k, const char **key, size_t *len)
{
	if (connlimit_key_parse(ip, k) == 0) {
		*key = (const char *)k->b;
		*len = sizeof(k->b);
	} else {
		*key = ip;
		*len = strlen(ip);
	}
}

/*
 * limits.failed_auth_per_client: token verifications that fail spend a
 * budget per client address (a GCRA cell in a table shared by all workers,
 * apart from rate_limit's: failed_auth_burst at once, then failed_auth_per_client per
 * second). Each request carrying an Authorization field takes from it
 * before its token is looked at, and gives it back unless its token went
 * through verification and failed: taking first keeps concurrent requests
 * (on every worker) from all passing through one free slot. While it is
 * spent, such a request gets 429 before any signature is checked, whatever
 * rate_limit says: forged tokens cost their sender, not every other
 * client. Requests without the field cost no verification and go on.
 * Returns 1 when refused; else *taken says whether to settle afterwards.
 */
static int
failed_auth_take(struct worker *w, struct proxy_req *pr, int *taken)
{
	const struct cfg_limits *l = &pr->cf->limits;
	uint64_t now = (uint64_t)pr->mono.tv_sec * 1000000 + (uint64_t)pr->mono.tv_nsec / 1000;
	uint64_t retry;
	struct connlimit_key k;
	const char *key;
	size_t len;

	*taken = 0;
	if (l->failed_auth_per_s == 0 || pr->n_authorization == 0)
		return 0;
	client_budget_key(pr->client_ip, &k, &key, &len);
	if (ratelimit_take(w->rt->failed_auth, 'a', key, len, now,
	    1000000 / (uint64_t)l->failed_auth_per_s, (uint32_t)l->failed_auth_burst, &retry)) {
		*taken = 1;
		return 0;
	}
	reply_429(pr, retry, "failed_auth_limited",
	    "Too many requests: too many invalid tokens from this address");
	return 1;
}

/* Give the budget back unless this request's token was verified and
 * failed. */
static void
failed_auth_settle(struct worker *w, struct proxy_req *pr, const struct gate_decision *d)
{
	struct connlimit_key k;
	const char *key;
	size_t len;

	if (d->jwt_verified && d->jwt != JWT_OK)
		return;
	client_budget_key(pr->client_ip, &k, &key, &len);
	ratelimit_refund(w->rt->failed_auth, 'a', key, len,
	    1000000 / (uint64_t)pr->cf->limits.failed_auth_per_s);
}

/*
 * The raw-bytes guard. libevent's parser accepts what a gateway must not
 * (obsolete line folding, NUL in a value, "0x" chunk sizes, chunk data
 * without its CRLF) and never shows it, and it reads a whole body before
 * the request callback runs. So every byte a client sends is taken out of
 * the connection's input buffer by an evbuffer callback (client_input_cb)
 * before evhttp parses anything, into the connection's hold, where the
 * strict scanner (reqscan.c) checks it:
 *  - a complete request head is given to evhttp without its body framing
 *    (Content-Length, Transfer-Encoding, Expect): evhttp delivers it at
 *    once, and the whole head decision is made before any body byte is
 *    read (admit); a refusal is answered there, in order, and closes the
 *    connection when a body was announced (it was never read);
 *  - the body of an allowed request is read from the hold by the gateway
 *    itself (guard_read_body): within body_timeout_ms and a minimum rate,
 *    within the action's size limit, and within the worker's memory cap
 *    (past it, reading waits for room);
 *  - bytes of the next request (pipelining) wait in the hold until the
 *    current request is answered (worker_guard_next), and reading stops
 *    when too many wait;
 *  - what the scanner refuses before evhttp saw the head is answered
 *    through a synthetic request whose refusal lives in the connection's
 *    state (never in a header a client could send), in JSON, in order,
 *    and closes the connection. A head not complete within
 *    header_timeout_ms is refused 408 that way, however slowly its bytes
 *    trickle in.
 */
enum {
	GUARD_IDLE,	/* evhttp waits for a head: the hold is scanned for one */
	GUARD_GIVEN,	/* a head was given to evhttp, request_cb has not run */
	GUARD_BUSY,	/* a request is being served; its body (if any) is read */
	GUARD_BODY,	/* a request's body is being read from the hold */
	GUARD_CLOSED,	/* refused: nothing more is read; closes after the answer */
};

static void guard_pump(struct client_conn *cc);
static void admit_body(struct worker *w, struct proxy_req *pr);

static struct bufferevent *
cc_bev(struct client_conn *cc)
{
	return evhttp_connection_get_bufferevent(cc->evcon);
}

/* Add bytes evhttp is to parse. Outside a read the bufferevent keeps the
 * end of its input buffer frozen; our own callback ignores them. */
static void
guard_give(struct client_conn *cc, struct evbuffer *what)
{
	struct evbuffer *in = bufferevent_get_input(cc_bev(cc));

	cc->injecting = 1;
	if (!cc->in_input_cb)
		evbuffer_unfreeze(in, 0);
	evbuffer_add_buffer(in, what);
	if (!cc->in_input_cb)
		evbuffer_freeze(in, 0);
	cc->injecting = 0;
}

/* Refuse what the scanner found before evhttp got a head: evhttp gets a
 * synthetic request instead, which request_cb answers with the refusal
 * kept here. Nothing after it is ever read. */
static void
guard_refuse(struct client_conn *cc, int status, const char *message)
{
	static const char synthetic[] = "GET /.scopegate-refused HTTP/1.1\r\n"
	    "Host: scopegate\r\nConnection: close\r\n\r\n";
	int was = cc->phase;
	struct evbuffer *b;

	cc->refusal_status = status;
	cc->refusal_message = message;
	cc->phase = GUARD_CLOSED;
	event_del(cc->deadline);
	evbuffer_drain(cc->hold, evbuffer_get_length(cc->hold));
	log_info("%s: refused before routing: %d %s", cc->client, status, message);
	if (was != GUARD_IDLE)
		return;
	if ((b = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	evbuffer_add(b, synthetic, sizeof(synthetic) - 1);
	guard_give(cc, b);
	evbuffer_free(b);
}

/* A head is complete in the first cc->scanned bytes of the hold (the
 * scanner checked its grammar): give evhttp the head without its body
 * framing, and remember what the body is. */
static void
guard_give_head(struct client_conn *cc)
{
	size_t hlen = cc->scanned, eol;
	const char *h = (const char *)evbuffer_pullup(cc->hold, (ev_ssize_t)hlen);
	const char *sp1, *sp2;
	struct evbuffer_iovec iov;
	struct evbuffer *out;
	struct evhttp_uri *u;
	char *target;
	int chunked, expect;

	cc->scanned = 0;
	cc->body_length = reqscan_body_length(&cc->scan, &chunked);
	cc->body_chunked = chunked;
	cc->body_announced = reqscan_in_body(&cc->scan) ? 1 : 0;
	/* The request line ends at the first CRLF (bare ones are refused). */
	for (eol = 0; eol + 1 < hlen && !(h[eol] == '\r' && h[eol + 1] == '\n'); eol++)
		;
	/* evhttp refuses a target its URI parser cannot read with its own
	 * HTML page: refuse it here, in JSON. */
	sp1 = memchr(h, ' ', eol);
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', eol - (size_t)(sp1 + 1 - h)) : NULL;
	target = sp2 != NULL ? xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1)) : NULL;
	u = target != NULL ? evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT) : NULL;
	free(target);
	if (u == NULL) {
		evbuffer_drain(cc->hold, hlen);
		guard_refuse(cc, 400, "Malformed request target");
		return;
	}
	evhttp_uri_free(u);
	if ((out = evbuffer_new()) == NULL ||
	    evbuffer_reserve_space(out, (ev_ssize_t)hlen, &iov, 1) < 1 || iov.iov_len < hlen)
		fatalx("evbuffer: out of memory");
	iov.iov_len = reqscan_head_strip(h, hlen, iov.iov_base, &expect);
	evbuffer_commit_space(out, &iov, 1);
	cc->expect_continue = expect == 1;
	cc->expect_other = expect == 2;
	evbuffer_drain(cc->hold, hlen);
	cc->phase = GUARD_GIVEN;
	guard_give(cc, out);
	evbuffer_free(out);
}

/* GUARD_IDLE: scan the hold for the next head. */
static void
guard_scan_head(struct client_conn *cc)
{
	struct worker *w = cc->w;

	while (cc->phase == GUARD_IDLE && cc->scanned < evbuffer_get_length(cc->hold)) {
		struct evbuffer_ptr pos;
		struct evbuffer_iovec v;
		int in_head, done;
		enum reqscan_result res;
		size_t n;

		evbuffer_ptr_set(cc->hold, &pos, cc->scanned, EVBUFFER_PTR_SET);
		if (evbuffer_peek(cc->hold, -1, &pos, &v, 1) < 1)
			break;
		n = reqscan_feed_some(&cc->scan, v.iov_base, v.iov_len, &in_head, &done, &res);
		if (res != REQSCAN_MORE) {
			guard_refuse(cc, cc->scan.status, cc->scan.message);
			return;
		}
		if (!in_head)
			evbuffer_drain(cc->hold, n);	/* empty lines before a request */
		else
			cc->scanned += n;
		if (in_head && !done && !event_pending(cc->deadline, EV_TIMEOUT, NULL))
			event_add(cc->deadline, &w->header_tv);
		if (done) {
			event_del(cc->deadline);
			guard_give_head(cc);
			return;
		}
		if (n == 0)
			break;
	}
}

static uint64_t
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t->tv_sec) * 1000 +
	    (uint64_t)((now.tv_nsec - t->tv_nsec) / 1000000);
}

/* Refuse the request whose body is being read: answer it (in order: it
 * is the connection's current request) and close. */
static void
guard_body_refuse(struct client_conn *cc, int status, const char *reason, const char *message)
{
	struct proxy_req *pr = cc->cur;

	log_info("%s: request body refused: %d %s", cc->client, status, message);
	if (cc->body_timer != NULL)
		event_del(cc->body_timer);
	worker_guard_close(cc);
	if (pr == NULL)
		return;
	if (pr->ux != NULL) {
		/* A streamed body broke off: the upstream has part of it. */
		upstream_cancel(pr->ux);
		pr->ux = NULL;
	}
	pr->decision = "deny";
	pr->reason = reason;
	proxy_reply_error(pr, status, status == 408 ? "RequestTimeout" :
	    status == 413 ? "PayloadTooLarge" : status == 501 ? "NotImplemented" : "BadRequest",
	    message, NULL);
}

static void
body_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_conn *cc = arg;
	const struct cfg_limits *l = &cc->w->cf->limits;
	uint64_t ms;
	struct timeval tv = { 1, 0 };

	(void)fd;
	(void)what;
	if (cc->phase != GUARD_BODY || cc->cur == NULL)
		return;
	if (ms_since(&cc->cur->mono) >= (uint64_t)l->body_timeout_ms) {
		guard_body_refuse(cc, 408, "body_timeout", "Request body not received in time");
		return;
	}
	/* The average rate since reading began (or resumed after waiting
	 * for room), after a first second of grace. */
	ms = ms_since(&cc->body_since);
	if (!cc->is_waiting && !cc->stream_paused && l->body_min_bytes_per_s > 0 && ms >= 2000 &&
	    cc->body_raw * 1000 < (uint64_t)l->body_min_bytes_per_s * (ms - 1000)) {
		guard_body_refuse(cc, 408, "body_timeout", "Request body sent too slowly");
		return;
	}
	event_add(cc->body_timer, &tv);
}

/* Room under max_buffered_body_bytes for n more bytes of pr's body? A
 * body alone in the worker may always grow (up to its own limit), so
 * that one larger than the cap is not stuck. */
static size_t
body_room(struct worker *w, const struct proxy_req *pr, size_t n)
{
	size_t cap = (size_t)w->cf->limits.max_buffered_body_bytes;

	if (w->body_bytes == pr->body_held)
		return n;
	if (w->body_bytes >= cap)
		return 0;
	return n < cap - w->body_bytes ? n : cap - w->body_bytes;
}

/* GUARD_BODY: move body bytes from the hold to the request. */
static void
guard_read_body(struct client_conn *cc)
{
	struct worker *w = cc->w;
	struct proxy_req *pr = cc->cur;

	while (cc->phase == GUARD_BODY && evbuffer_get_length(cc->hold) > 0) {
		struct evbuffer_iovec v;
		enum reqscan_result res;
		int is_data, done;
		size_t n, room;

		if (evbuffer_peek(cc->hold, -1, NULL, &v, 1) < 1)
			break;
		if (pr->streaming && pr->ux != NULL &&
		    upstream_write_pending(pr->ux) > SG_STREAM_BODY_HIGH_WATER) {
			/* The upstream is behind: stop reading the client
			 * until what is queued went out (backpressure). */
			cc->stream_paused = 1;
			bufferevent_disable(cc_bev(cc), EV_READ);
			return;
		}
		room = pr->streaming ? v.iov_len : body_room(w, pr, v.iov_len);
		if (room == 0) {
			/* Wait for room: stop reading (the kernel's buffers
			 * hold the rest), bounded by the body timeout. */
			if (!cc->is_waiting) {
				TAILQ_INSERT_TAIL(&w->body_waiting, cc, waiting);
				cc->is_waiting = 1;
			}
			bufferevent_disable(cc_bev(cc), EV_READ);
			return;
		}
		n = reqscan_feed_body(&cc->scan, v.iov_base, room, &is_data, &done, &res);
		if (res != REQSCAN_MORE) {
			guard_body_refuse(cc, cc->scan.status, cc->scan.status == 413 ?
			    "body_too_large" : "framing", cc->scan.message);
			return;
		}
		cc->body_raw += n;
		if (is_data && pr->streaming) {
			pr->bytes_in += n;
			if (pr->ux != NULL) {
				evbuffer_remove_buffer(cc->hold, pr->body, n);
				upstream_write(pr->ux, pr->body);
			} else
				evbuffer_drain(cc->hold, n);
		} else if (is_data) {
			evbuffer_remove_buffer(cc->hold, pr->body, n);
			pr->body_held += n;
			w->body_bytes += n;
			metrics_body_bytes_held(w->metrics, (int64_t)n);
		} else
			evbuffer_drain(cc->hold, n);
		if (done) {
			event_del(cc->body_timer);
			pr->body_read = 1;
			cc->phase = GUARD_BUSY;
			/* Back to evhttp's callbacks and the write timeout. */
			evhttp_connection_set_timeout_tv(cc->evcon, &w->write_tv);
			if (!pr->streaming)
				admit_body(w, pr);
			else if (pr->ux != NULL)
				upstream_write_end(pr->ux);
			return;
		}
	}
	/* No room left for a next read: do not make one (each costs up to a
	 * socket read of memory before it could be refused room). */
	if (cc->phase == GUARD_BODY && !pr->streaming && body_room(w, pr, 1) == 0 &&
	    !cc->is_waiting) {
		TAILQ_INSERT_TAIL(&w->body_waiting, cc, waiting);
		cc->is_waiting = 1;
		bufferevent_disable(cc_bev(cc), EV_READ);
	}
}

/* The head decision allowed a request with a body: read it. */
static void
guard_body_start(struct worker *w, struct proxy_req *pr)
{
	struct client_conn *cc = pr->cc;
	struct bufferevent *bev = cc_bev(cc);
	bufferevent_event_cb eventcb = NULL;
	struct timeval tv = { 1, 0 }, whole;
	void *arg = NULL;

	if ((pr->body = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	cc->phase = GUARD_BODY;
	cc->scan.max_body = pr->body_max;
	cc->body_raw = 0;
	clock_gettime(CLOCK_MONOTONIC, &cc->body_since);
	/* evhttp thinks the request is read and is waiting for our answer:
	 * while we read, it must not see input (its read callback would
	 * take it for a protocol error), and what we write (100 Continue)
	 * is not one of its writes. Its event callback stays: a client that
	 * goes away still ends the request. evhttp sets its own callbacks
	 * back when it writes the answer. */
	bufferevent_getcb(bev, NULL, NULL, &eventcb, &arg);
	bufferevent_setcb(bev, NULL, NULL, eventcb, arg);
	if (cc->expect_continue && pr->req->minor >= 1) {
		bufferevent_write(bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		bufferevent_enable(bev, EV_WRITE);
	}
	/* evhttp's own inactivity timer: past our deadline, which answers. */
	ms_to_tv(w->cf->limits.body_timeout_ms + 5000, &whole);
	evhttp_connection_set_timeout_tv(cc->evcon, &whole);
	if (cc->body_timer == NULL)
		cc->body_timer = evtimer_new(w->base, body_timer_cb, cc);
	event_add(cc->body_timer, &tv);
	bufferevent_enable(bev, EV_READ);
	guard_read_body(cc);
}

static void
guard_pump(struct client_conn *cc)
{
	size_t ahead;

	switch (cc->phase) {
	case GUARD_CLOSED:
		evbuffer_drain(cc->hold, evbuffer_get_length(cc->hold));
		return;
	case GUARD_IDLE:
		guard_scan_head(cc);
		return;
	case GUARD_BODY:
		guard_read_body(cc);
		return;
	default:
		/* The next request waits for this one's answer; stop reading
		 * while too much of it waits. (evhttp turns reading on when
		 * it writes, to see a close: each write can add one read.) */
		ahead = (size_t)cc->w->cf->limits.max_header_bytes + SG_GUARD_AHEAD_BYTES;
		if (evbuffer_get_length(cc->hold) > ahead)
			bufferevent_disable(cc_bev(cc), EV_READ);
		if (evbuffer_get_length(cc->hold) > 4 * ahead) {
			log_info("%s: too many bytes sent ahead of an answer", cc->client);
			worker_guard_close(cc);
		}
		return;
	}
}

void
worker_guard_close(struct client_conn *cc)
{
	if (cc->is_waiting) {
		TAILQ_REMOVE(&cc->w->body_waiting, cc, waiting);
		cc->is_waiting = 0;
	}
	cc->phase = GUARD_CLOSED;
	evbuffer_drain(cc->hold, evbuffer_get_length(cc->hold));
}

void
worker_guard_next(struct client_conn *cc, int closing)
{
	if (cc->phase == GUARD_CLOSED) {
		/* Refused with its body unread (the answer said Connection:
		 * close), or too much sent ahead while an answer was already
		 * on its way: then end the connection as a client EOF would. */
		if (!closing)
			bufferevent_trigger_event(cc_bev(cc), BEV_EVENT_EOF | BEV_EVENT_READING,
			    BEV_TRIG_DEFER_CALLBACKS);
		return;
	}
	if (cc->body_timer != NULL)
		event_del(cc->body_timer);
	cc->phase = GUARD_IDLE;
	cc->scan.max_body = cc->w->head_body_ceiling;
	/* evhttp turns reading on again itself (it reads the next head). */
	guard_pump(cc);
}

void
worker_guard_stream_drained(struct client_conn *cc)
{
	if (!cc->stream_paused || cc->phase != GUARD_BODY)
		return;
	cc->stream_paused = 0;
	clock_gettime(CLOCK_MONOTONIC, &cc->body_since);
	cc->body_raw = 0;
	bufferevent_enable(cc_bev(cc), EV_READ);
	guard_read_body(cc);
}

void
worker_body_release(struct worker *w, size_t n)
{
	struct client_conn *cc;

	if (n > w->body_bytes)
		n = w->body_bytes;
	w->body_bytes -= n;
	metrics_body_bytes_held(w->metrics, -(int64_t)n);
	/* Wake those waiting for room, in order, while there is some. */
	while ((cc = TAILQ_FIRST(&w->body_waiting)) != NULL &&
	    (cc->cur == NULL || cc->phase != GUARD_BODY || body_room(w, cc->cur, 1) > 0)) {
		TAILQ_REMOVE(&w->body_waiting, cc, waiting);
		cc->is_waiting = 0;
		if (cc->cur == NULL || cc->phase != GUARD_BODY)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &cc->body_since);
		cc->body_raw = 0;
		bufferevent_enable(cc_bev(cc), EV_READ);
		guard_read_body(cc);
	}
}

/* The body of an allowed request is complete (or there is none): the
 * body rules, then forward. */
static void
admit_body(struct worker *w, struct proxy_req *pr)
{
	struct gate_decision *d = pr->gd;
	struct gate_request rq = {
		.method = pr->method,
		.content_type = pr->h_content_type,
		.now = time(NULL),
	};

	(void)w;
	if (pr->body != NULL && (rq.body_len = evbuffer_get_length(pr->body)) > 0)
		rq.body = (const char *)evbuffer_pullup(pr->body, -1);
	if (!gate_decide_body(pr->cf, &rq, d)) {
		pr->decision = "deny";
		pr->reason = d->reason;
		proxy_reply_error(pr, d->status, d->error_type, d->message, d->www_authenticate);
		return;
	}
	/* Token lifecycle effects: decide now what a success answer will
	 * mean (the body goes to the upstream next). */
	if (d->action != NULL && d->action->neffects > 0)
		revoke_learn_plan(&d->match, rq.body, rq.body_len, &pr->revoke);
	pr->decision = "allow";
	proxy_forward(pr);
}

/* Run the head's admission decision: refuse, or read the body (when one
 * was announced) and forward. */
static void
admit(struct worker *w, struct proxy_req *pr)
{
	const char *uri = evhttp_request_get_uri(pr->req);
	struct gate_request rq = {
		.method = pr->method,
		.target = uri,
		.target_len = strlen(uri),
		.authorization = pr->h_authorization,
		.content_type = pr->h_content_type,
		.nauthorization = pr->n_authorization,
		.now = time(NULL),
		.revocations = w->rt->revocations,
		.tls_subject = pr->cc ? pr->cc->cert_subject : NULL,
		.tls_fingerprint = pr->cc ? pr->cc->cert_sha256 : NULL,
	};
	enum cfg_rate_key rkey = pr->cf->rate_limit.key;
	struct gate_decision *d;
	int fa_taken;

	/* By client address: every request counts, before any signature is
	 * checked (a flood of bad tokens costs its sender, not the gateway). */
	if (rkey == CFG_RATE_CLIENT && rate_limited(w, pr, 'c', pr->client_ip))
		return;
	if (failed_auth_take(w, pr, &fa_taken))
		return;
	d = pr->gd = xcalloc(1, sizeof(*pr->gd));
	gate_decide_head(pr->cf, w->tcache, &rq, d);
	if (fa_taken)
		failed_auth_settle(w, pr, d);
	if (d->token_checked && d->jwt_verified) {
		metrics_token_verified(w->metrics, d->jwt);
		metrics_token_cache(w->metrics, d->cache_hit);
		if (d->revoked)
			metrics_token_revoked(w->metrics);
	}
	pr->action_idx = d->action != NULL ? d->action->index : METRICS_ACTION_NONE;
	pr->action = d->action != NULL ? d->action->name : NULL;
	pr->scope = d->scope;
	if (d->subject != NULL)
		pr->subject = xstrdup(d->subject);
	if (d->token_id != NULL)
		pr->token_id = xstrdup(d->token_id);
	d->subject = pr->subject;
	d->token_id = pr->token_id;
	/* By token: what the policy allowed counts (a request without a
	 * subject or token id, e.g. on a public route, by its address). */
	if (d->allow && (rkey == CFG_RATE_SUBJECT || rkey == CFG_RATE_TOKEN_ID)) {
		const char *k = rkey == CFG_RATE_SUBJECT ? d->subject : d->token_id;
		int limited = k != NULL ? rate_limited(w, pr, rkey == CFG_RATE_SUBJECT ? 's' : 't', k) :
		    rate_limited(w, pr, 'c', pr->client_ip);

		if (limited)
			return;
	}
	pr->reason = d->reason;
	if (!d->allow) {
		pr->decision = "deny";
		if (d->allow_header[0] != '\0')
			evhttp_add_header(evhttp_request_get_output_headers(pr->req), "Allow",
			    d->allow_header);
		proxy_reply_error(pr, d->status, d->error_type, d->message, d->www_authenticate);
		return;
	}
	if (!pr->body_announced) {
		pr->body_read = 1;
		admit_body(w, pr);
		return;
	}
	pr->body_max = d->action != NULL && d->action->max_body_bytes >= 0 ?
	    (uint64_t)d->action->max_body_bytes : (uint64_t)pr->cf->limits.max_body_bytes;
	if (!pr->cc->body_chunked && pr->cc->body_length > pr->body_max) {
		pr->decision = "deny";
		pr->reason = "body_too_large";
		proxy_reply_error(pr, 413, "PayloadTooLarge", "Request body too large", NULL);
		return;
	}
	/* A body no rule reads (no schema, no token creation, no lifecycle
	 * effect) goes to the upstream as it comes, with backpressure, so an
	 * upload does not cost its size in memory. Chunked bodies are
	 * buffered: the upstream gets them with a Content-Length. */
	pr->streaming = !pr->cc->body_chunked && !gate_needs_body(pr->cf, d) &&
	    (d->action == NULL || d->action->neffects == 0);
	pr->reason = d->reason;
	if (pr->streaming) {
		pr->decision = "allow";
		proxy_forward_stream(pr, 1);
	}
	guard_body_start(w, pr);
}

/* header_timeout_ms passed with no request head begun: since the accept
 * (a TLS handshake not finished, or no byte at all) or since the last
 * answer on a keep-alive connection. There is no request to answer:
 * close (deferred: evhttp frees the connection). */
static void
idle_deadline(struct client_conn *cc)
{
	__atomic_add_fetch(&cc->w->rt->head_timeouts, 1, __ATOMIC_RELAXED);
	log_debug("%s: no request within header_timeout_ms; closing", cc->client);
	bufferevent_trigger_event(evhttp_connection_get_bufferevent(cc->evcon),
	    BEV_EVENT_EOF | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
}

void
worker_conn_await_head(struct client_conn *cc)
{
	/* A head already on its way keeps the deadline of its first byte;
	 * a pipelined request's body is timed by evhttp. Otherwise the
	 * deadline starts now, also when one was pending from an earlier
	 * answer (pipelined requests: each answer restarts it). */
	if (cc->deadline == NULL || cc->phase == GUARD_CLOSED || reqscan_in_head(&cc->scan))
		return;
	event_add(cc->deadline, &cc->w->header_tv);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_conn *cc = arg;

	(void)fd;
	(void)what;
	if (cc->phase != GUARD_IDLE)
		return;		/* a request is being served, or refused */
	if (!reqscan_in_head(&cc->scan)) {
		idle_deadline(cc);
		return;
	}
	guard_refuse(cc, 408, "Request header not received in time");
	/* evhttp reads the synthetic request now (no socket read will). */
	bufferevent_trigger(cc_bev(cc), EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

static __thread struct worker *this_worker;

static void
client_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct bufferevent *bev = arg;
	struct worker *w = this_worker;
	struct client_conn *cc;
	void *evcon = NULL;
	size_t len;

	if (info->n_added == 0 || w == NULL)
		return;
	bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
	if (evcon == NULL)
		return;
	cc = client_conn_get(w, evcon);
	if (cc->injecting)
		return;
	cc->received += info->n_added;
	metrics_client_bytes_read(w->metrics, info->n_added);
	/* The new bytes are the tail of the buffer (before them, at most a
	 * head given to evhttp that it has not parsed yet): into the hold. */
	len = evbuffer_get_length(buf);
	cc->injecting = 1;
	if (len > info->n_added) {
		struct evbuffer *given = evbuffer_new();
		if (given == NULL)
			fatalx("evbuffer_new: out of memory");
		evbuffer_remove_buffer(buf, given, len - info->n_added);
		evbuffer_add_buffer(cc->hold, buf);
		evbuffer_add_buffer(buf, given);
		evbuffer_free(given);
	} else
		evbuffer_add_buffer(cc->hold, buf);
	cc->injecting = 0;
	cc->in_input_cb = 1;
	if (cc->over_limit && cc->phase == GUARD_IDLE)
		guard_refuse(cc, 503, "Too many connections");
	else
		guard_pump(cc);
	cc->in_input_cb = 0;
}

/*
 * Connections are counted from their accept, so that one that never sends
 * a byte still takes its place under max_connections. libevent 2.1 has no
 * accept hook: client_bevcb runs inside evhttp's accept, before the
 * connection object exists. It keeps a reference on the new bufferevent
 * and wakes attach_cb, which runs once evhttp's accept has returned and
 * finds the connection through the bufferevent's callback argument. The
 * reference keeps the memory valid even if evhttp gave the connection up
 * in between (then the callbacks are cleared and it is skipped).
 */
static void
attach_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	size_t n = w->naccepted;

	(void)fd;
	(void)what;
	w->naccepted = 0;
	for (size_t i = 0; i < n; i++) {
		struct bufferevent *bev = w->accepted[i];
		void *evcon = NULL;

		bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
		/* Over its address's share: closed before any byte is read
		 * (safe here: no evhttp callback of it is running). */
		if (evcon != NULL && client_conn_get(w, evcon)->group_refused)
			evhttp_connection_free(evcon);
		bufferevent_decref(bev);
	}
}

/* Every client connection: plain or TLS, with the guard on its input. */
static struct bufferevent *
client_bevcb(struct event_base *base, void *arg)
{
	struct worker_http *wh = arg;
	struct worker *w = wh->w;
	struct bufferevent *bev = wh->tls != NULL ? tls_server_bevcb(base, wh->tls) :
	    bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (bev == NULL)
		return NULL;
	evbuffer_add_cb(bufferevent_get_input(bev), client_input_cb, bev);
	if (w->naccepted == w->accepted_cap) {
		w->accepted_cap = w->accepted_cap ? 2 * w->accepted_cap : 16;
		w->accepted = xreallocarray(w->accepted, w->accepted_cap, sizeof(*w->accepted));
	}
	bufferevent_incref(bev);
	w->accepted[w->naccepted++] = bev;
	event_active(w->attach_ev, EV_READ, 0);
	return bev;
}

/* The guard refused what came before this (synthetic) request: answer
 * with the refusal it kept, in order, and close. */
static void
guard_refusal(struct proxy_req *pr)
{
	int status = pr->cc->refusal_status;

	pr->decision = "deny";
	pr->reason = status == 503 ? "connection_limit" : status == 431 ? "header_too_large" :
	    status == 413 ? "body_too_large" : status == 408 ? "header_timeout" : "framing";
	evhttp_add_header(evhttp_request_get_output_headers(pr->req), "Connection", "close");
	proxy_reply_error(pr, status, status == 408 ? "RequestTimeout" :
	    status == 503 ? "ServiceUnavailable" :
	    status == 413 ? "PayloadTooLarge" : status == 431 ? "RequestHeaderFieldsTooLarge" :
	    status == 501 ? "NotImplemented" : status == 505 ? "HTTPVersionNotSupported" :
	    "BadRequest", pr->cc->refusal_message, NULL);
}

/* A pool of an upstream that changed: freed once its requests finish
 * (sweep_retired). */
static void
retire_pool(void *arg, struct upstream_pool *pool)
{
	struct worker *w = arg;

	w->retired = xreallocarray(w->retired, w->nretired + 1, sizeof(*w->retired));
	w->retired[w->nretired++] = pool;
}

static void take_snapshot(struct worker *w);

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct worker_http *wh = arg;
	struct worker *w = wh->w;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct client_conn *cc;
	struct proxy_req *pr;

	/* A reload the runtime announced ("in force") before this request
	 * was read applies to it, even if this worker's notify event has not
	 * run yet (it queues behind ready I/O on a busy loop). */
	if (__atomic_load_n(&w->cmd, __ATOMIC_ACQUIRE) & WORKER_CMD_RELOAD) {
		__atomic_fetch_and(&w->cmd, ~WORKER_CMD_RELOAD, __ATOMIC_ACQ_REL);
		take_snapshot(w);
	}
	cc = client_conn_get(w, evcon);
	if (!cc->peer_checked) {
		/* mTLS: who the verified client certificate names, once per
		 * connection (the handshake is over by its first request),
		 * for the policy and the access log. */
		SSL *ssl = tls_connection_ssl(evcon);
		struct tls_peer_info peer;
		cc->peer_checked = 1;
		if (ssl != NULL && tls_peer_info(ssl, &peer) == 0 && peer.present && peer.verified) {
			cc->cert_subject = xstrdup(peer.subject);
			cc->cert_sha256 = xstrdup(peer.fingerprint);
		}
	}
	pr = proxy_req_new(w, cc, req);
	pr->tls = wh->tls != NULL;
	if (cc->refusal_status != 0) {
		guard_refusal(pr);
		return;
	}
	if (cc->phase != GUARD_GIVEN) {
		/* Every head evhttp parses is one the guard gave it. */
		log_warnx("%s: a request the guard did not give", cc->client);
		worker_guard_close(cc);
		pr->decision = "error";
		pr->reason = "internal";
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		proxy_reply_error(pr, 500, "InternalServerError", "Internal error", NULL);
		return;
	}
	cc->phase = GUARD_BUSY;
	pr->body_announced = cc->body_announced;
	pr->h_framed = cc->body_announced;
	if (w->draining) {
		pr->decision = "deny";
		pr->reason = "draining";
		proxy_reply_error(pr, 503, "ServiceUnavailable", "The gateway is shutting down", NULL);
		return;
	}
	if (check_framing(pr) != 0) {
		pr->decision = "deny";
		return;
	}
	/* The guard took Expect off the head: evhttp would answer any other
	 * expectation 417 itself, in HTML. */
	if (cc->expect_other) {
		pr->decision = "deny";
		pr->reason = "framing";
		proxy_reply_error(pr, 417, "ExpectationFailed",
		    "Only the 100-continue expectation is supported", NULL);
		return;
	}
	find_client(pr);
	admit(w, pr);
}

/* Apply the parts of a snapshot that live in this worker's objects. */
static void
apply_limits(struct worker *w)
{
	const struct cfg *cf = w->cf;

	ms_to_tv(cf->limits.header_timeout_ms, &w->header_tv);
	/* A Content-Length over every body limit (the default and each
	 * action's) is refused by the scanner with the head; within it, the
	 * action's own limit is checked once the head is decided. */
	w->head_body_ceiling = (uint64_t)cf->limits.max_body_bytes;
	for (size_t i = 0; cf->policy != NULL && i < policy_action_count(cf->policy); i++) {
		const struct policy_action *a = policy_action_at(cf->policy, i);
		if (a->max_body_bytes > 0 && (uint64_t)a->max_body_bytes > w->head_body_ceiling)
			w->head_body_ceiling = (uint64_t)a->max_body_bytes;
	}
	ms_to_tv(cf->limits.write_timeout_ms, &w->write_tv);
	for (size_t i = 0; i < w->nhs; i++) {
		evhttp_set_max_headers_size(w->hs[i].http, cf->limits.max_header_bytes);
		evhttp_set_max_body_size(w->hs[i].http, cf->limits.max_body_bytes);
		evhttp_set_timeout_tv(w->hs[i].http, &w->header_tv);
	}
}

/* Serve each listener's socket (made once by the runtime, listensock.c)
 * from this worker's loop. The descriptors stay the runtime's: every
 * worker registers the same ones, and they are closed only after all
 * workers have stopped. */
static int
bind_listeners(struct worker *w)
{
	const struct cfg *cf = w->cf;

	w->hs = xcalloc(cf->nlisteners, sizeof(*w->hs));
	for (size_t i = 0; i < cf->nlisteners; i++) {
		const struct cfg_listener *l = &cf->listeners[i];
		char spec[80];
		struct evconnlistener *lev;
		struct evhttp_bound_socket *b;

		listensock_spec(l->address, l->port, spec, sizeof(spec));
		/* backlog -1: listen() was called already. */
		lev = evconnlistener_new(w->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, -1,
		    w->rt->listen_fds[i]);
		if (lev == NULL) {
			log_warn("cannot listen on %s", spec);
			return -1;
		}
		struct worker_http *wh = &w->hs[w->nhs++];
		wh->w = w;
		if ((wh->http = evhttp_new(w->base)) == NULL) {
			evconnlistener_free(lev);
			log_warnx("evhttp_new failed");
			return -1;
		}
		/* The guard answers any other method 501 (JSON) before evhttp
		 * parses it; this list is the second line behind it. */
		evhttp_set_allowed_methods(wh->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
		    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
		    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
		evhttp_set_default_content_type(wh->http, "application/json");
		evhttp_set_gencb(wh->http, request_cb, wh);
		if (l->tls != NULL)
			wh->tls = tls_server_ref(l->tls->server);
		evhttp_set_bevcb(wh->http, client_bevcb, wh);
		if ((b = evhttp_bind_listener(wh->http, lev)) == NULL) {
			evconnlistener_free(lev);
			log_warnx("cannot serve HTTP on %s", spec);
			return -1;
		}
		wh->bound = b;
		if (w->index == 0)
			log_info("listening on %s%s", spec, l->tls ? " (TLS)" : "");
	}
	return 0;
}

/* The runtime published a new snapshot: switch to it for new requests.
 * Requests in flight keep the snapshot they started with. */
static void
take_snapshot(struct worker *w)
{
	struct cfg *old = w->cf, *cf = runtime_acquire(w->rt);

	if (cf == old) {
		runtime_cfg_release(w->rt, cf);
		return;
	}
	w->cf = cf;
	apply_limits(w);
	/* New certificates for new connections; a listener that changed
	 * shape keeps its old ones (the runtime said a restart is needed). */
	if (cfg_same_listeners(old, cf)) {
		for (size_t i = 0; i < w->nhs; i++) {
			struct tls_listener_config *tl = cf->listeners[i].tls;
			if (tl == NULL || w->hs[i].tls == NULL)
				continue;
			tls_server_free(w->hs[i].tls);
			w->hs[i].tls = tls_server_ref(tl->server);
		}
	}
	/* Requests in flight hold connections of the old pools. */
	w->ups = upset_reload(w->ups, old, cf, retire_pool, w);
	if (w->tcache == NULL && cf->tokens != NULL)
		w->tcache = token_config_new_cache(cf->tokens);
	runtime_cfg_release(w->rt, old);
}

static void drain(struct worker *w);

static void
notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	int cmd = __atomic_exchange_n(&w->cmd, 0, __ATOMIC_ACQ_REL);

	(void)fd;
	(void)what;
	if (cmd & WORKER_CMD_RELOAD)
		take_snapshot(w);
	if (cmd & WORKER_CMD_DRAIN)
		drain(w);
}

/* Runs once the loop pass that logged the first line of the batch has
 * handled its other ready events: their lines go out in the same write. */
static void
log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	accesslog_batch_flush(w->alb);
}

void
worker_log(struct worker *w, const struct accesslog_entry *e)
{
	if (w->alb != NULL && accesslog_batch_add(w->alb, e))
		event_active(w->log_flush_ev, EV_TIMEOUT, 0);
}

int
worker_init(struct worker *w, struct runtime *rt, size_t index, struct cfg *cf,
    struct accesslog *alog)
{
	memset(w, 0, sizeof(*w));
	w->metrics = metrics_shard_new();
	w->rt = rt;
	w->index = index;
	w->cf = cfg_ref(cf);
	w->alog = alog;
	w->conns = ptrmap_new();
	TAILQ_INIT(&w->body_waiting);
	if (getrandom(&w->id_prefix, sizeof(w->id_prefix), 0) != sizeof(w->id_prefix))
		w->id_prefix = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16) ^ index;

	/* epoll changes are batched until the next epoll_wait: evhttp turns
	 * reading and writing on and off several times per request (10
	 * epoll_ctl calls for a forwarded request, measured with strace),
	 * and most of those changes cancel out within one loop pass. The
	 * changelist is only unsafe with dup()ed descriptors, never made here. */
	struct event_config *ecfg = event_config_new();
	if (ecfg == NULL)
		fatalx("event_config_new: out of memory");
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (w->base == NULL) {
		log_warnx("event_base_new failed");
		return -1;
	}
	if (bind_listeners(w) != 0)
		return -1;
	apply_limits(w);
	w->ups = upset_new(w->base, cf, rt->upstats, index);
	if ((w->scratch = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	if (cf->tokens != NULL)
		w->tcache = token_config_new_cache(cf->tokens);
	w->notify_ev = event_new(w->base, -1, EV_PERSIST, notify_cb, w);
	event_add(w->notify_ev, NULL);
	w->attach_ev = event_new(w->base, -1, 0, attach_cb, w);
	if (alog != NULL) {
		w->alb = accesslog_batch_new(alog);
		w->log_flush_ev = event_new(w->base, -1, 0, log_flush_cb, w);
	}
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	this_worker = w;
	event_base_dispatch(w->base);
	if (w->alb != NULL)
		accesslog_batch_flush(w->alb);
	runtime_worker_exited(w->rt);
	return NULL;
}

int
worker_start(struct worker *w)
{
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		log_warn("pthread_create");
		return -1;
	}
	w->started = 1;
	return 0;
}

void
worker_notify(struct worker *w, int cmd)
{
	__atomic_fetch_or(&w->cmd, cmd, __ATOMIC_ACQ_REL);
	/* event_active is thread-safe once evthread_use_pthreads() ran. */
	event_active(w->notify_ev, EV_READ, 0);
}

void
worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	if (w->notify_ev != NULL)
		event_free(w->notify_ev);
	if (w->drain_timer != NULL)
		event_free(w->drain_timer);
	/* Frees every client connection: their close callbacks run now,
	 * while the pools and the map still exist. */
	for (size_t i = 0; i < w->nhs; i++) {
		if (w->hs[i].http != NULL)
			evhttp_free(w->hs[i].http);
		if (w->hs[i].tls != NULL)
			tls_server_free(w->hs[i].tls);
	}
	free(w->hs);
	for (size_t i = 0; i < w->naccepted; i++)
		bufferevent_decref(w->accepted[i]);
	free(w->accepted);
	if (w->attach_ev != NULL)
		event_free(w->attach_ev);
	/* Lines logged while the connections above were freed, too. */
	accesslog_batch_free(w->alb);
	if (w->log_flush_ev != NULL)
		event_free(w->log_flush_ev);
	upset_free(w->ups);
	if (w->scratch != NULL)
		evbuffer_free(w->scratch);
	for (size_t i = 0; i < w->nretired; i++)
		upstream_pool_free(w->retired[i]);
	free(w->retired);
	if (w->tcache != NULL)
		tokencache_free(w->tcache);
	ptrmap_free(w->conns);
	if (w->base != NULL)
		event_base_free(w->base);
	cfg_unref(w->cf);
	metrics_shard_free(w->metrics);
	memset(w, 0, sizeof(*w));
}

static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	log_warnx("worker %zu: shutdown grace period over with %zu request(s) in flight",
	    w->index, w->inflight);
	event_base_loopexit(w->base, NULL);
}

/* Stop accepting, let in-flight requests finish within the grace period,
 * then leave the loop. */
static void
drain(struct worker *w)
{
	struct timeval tv;

	if (w->draining)
		return;
	for (size_t i = 0; i < w->nhs; i++) {
		if (w->hs[i].bound != NULL)
			evhttp_del_accept_socket(w->hs[i].http, w->hs[i].bound);
		w->hs[i].bound = NULL;
	}
	runtime_worker_stopped_accepting(w->rt);
	w->draining = 1;
	if (w->inflight == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	log_info("worker %zu: draining %zu request(s)", w->index, w->inflight);
	ms_to_tv(w->cf->shutdown_grace_ms, &tv);
	w->drain_timer = evtimer_new(w->base, drain_timeout_cb, w);
	evtimer_add(w->drain_timer, &tv);
}

/* Free retired pools whose last request finished. */
static void
sweep_retired(struct worker *w)
{
	for (size_t i = 0; i < w->nretired;) {
		if (upstream_pool_idle(w->retired[i])) {
			upstream_pool_free(w->retired[i]);
			w->retired[i] = w->retired[--w->nretired];
		} else
			i++;
	}
}

void
worker_request_done(struct worker *w)
{
	if (w->inflight > 0)
		w->inflight--;
	if (w->nretired > 0)
		sweep_retired(w);
	if (w->draining && w->inflight == 0)
		event_base_loopexit(w->base, NULL);
}
