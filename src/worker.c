/* worker.c: see worker.h. The HTTP-facing glue: listeners, connection
 * accounting, the checks made before a request may go anywhere, and
 * draining. What the client's raw bytes go through first is the guard
 * (guard.c); decisions themselves live in pure modules. */
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
#include "cors_http.h"
#include "defaults.h"
#include "framing.h"
#include "gate.h"
#include "guard.h"
#include "headers.h"
#include "listensock.h"
#include "log.h"
#include "revoke.h"
#include "tls.h"
#include "upset.h"
#include "upstream.h"
#include "token_config.h"
#include "introspect.h"
#include "jwks_fetch.h"
#include "jwks_remote.h"
#include "token_config.h"
#include "proxy.h"
#include "ratelimit.h"
#include "ratelimits.h"
#include "realip.h"
#include "rlgate.h"
#include "reqscan.h"
#include "runtime.h"
#include "worker.h"
#include "xwake.h"
#include "xmalloc.h"

static void
ms_to_tv(int64_t ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

/* Draining, and nothing left to wait for: no request in flight, no
 * connection yet to send one, attached or accepted in this loop pass
 * (attach_cb queued: the drain order against an accept in the same pass
 * is not fixed, the wake-up comes through the mailbox's descriptor,
 * ready in the same epoll_wait as the listener). */
static int
drained(const struct worker *w)
{
	return w->draining && w->inflight == 0 && w->fresh == 0 && w->naccepted == 0;
}

static void
client_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct client_conn *cc = arg;
	struct worker *w = cc->w;

	ptrmap_del(w->conns, evcon);
	metrics_connection_closed(w->metrics);
	if (cc->fresh && --w->fresh == 0 && drained(w))
		event_base_loopexit(w->base, NULL);
	__atomic_sub_fetch(&w->rt->connections, 1, __ATOMIC_ACQ_REL);
	if (cc->group_counted)
		connlimit_release(w->rt->connlimit, &cc->group);
	/* Before the descriptor is closed (evhttp calls this first): the
	 * loop must not keep watching a number the next accept may reuse. */
	if (cc->watch_on)
		event_del(&cc->watch);
	cc->watch_on = 0;
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
	cc->group_parsed = 1;
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

/*
 * evhttp stops reading a connection while it serves a request and reads it
 * again once the answer is out: with its epoll backend, an EPOLL_CTL_DEL
 * and an EPOLL_CTL_ADD a request. This event, on the same descriptor,
 * keeps it in the epoll set meanwhile (libevent changes the set only when
 * the last event on a descriptor goes); it reads nothing, so evhttp still
 * sees no byte until it reads again. Should the client send while a
 * request is served (pipelining, a close, a body waiting for room), the
 * socket stays readable and would wake the loop at every pass: at the
 * second pass in a row that finds it readable and unread, the watch goes
 * (an EPOLL_CTL_DEL, as before), and comes back with the next request.
 * Read enabled is read pending on a plain socket bufferevent (no
 * watermarks, no rate limit here). Not on a TLS one: OpenSSL's bufferevent
 * stops its own read event while a read waits to write (its enabled flags
 * do not say so); there a pass counts as read only if the connection took
 * bytes from the socket since the watch last fired (tls_read_progress).
 */
static void
client_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_conn *cc = arg;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(cc->evcon);
	SSL *ssl;

	(void)fd;
	(void)what;
	if ((bufferevent_get_enabled(bev) & EV_READ) &&
	    ((ssl = tls_connection_ssl(cc->evcon)) == NULL ||
	    tls_read_progress(ssl, &cc->watch_tls_read))) {
		cc->watch_strikes = 0;
		return;
	}
	if (++cc->watch_strikes < 2)
		return;
	event_del(&cc->watch);
	cc->watch_on = 0;
}

/* (Re)start the watch with a request: in the pass where evhttp stopped
 * reading, so that the two changes cancel out without a system call. */
static void
client_watch_start(struct client_conn *cc)
{
	cc->watch_strikes = 0;
	if (!cc->watch_on && event_initialized(&cc->watch)) {
		event_add(&cc->watch, NULL);
		cc->watch_on = 1;
	}
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
	cc->deadline = evtimer_new(w->base, guard_deadline_cb, cc);
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
	if (fd >= 0) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		event_assign(&cc->watch, w->base, fd, EV_READ | EV_PERSIST, client_watch_cb, cc);
		client_watch_start(cc);
	}
	ptrmap_put(w->conns, evcon, cc);
	cc->fresh = 1;
	w->fresh++;
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

/* RFC 9112 9.6: a "close" option in any Connection field of the request
 * ends the connection after its answer. evhttp acts only on a first
 * Connection field that is "close" exactly ("keep-alive, close" or a
 * second field were ignored): the answer says "Connection: close", which
 * evhttp (and the gateway's own reply head) then honour. */
static void
close_if_asked(struct evhttp_request *req)
{
	struct evkeyval *kv;
	int first = 1;

	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) {
		if (strcasecmp(kv->key, "Connection") != 0)
			continue;
		if (headers_connection_names(kv->value, "close") &&
		    !(first && strcasecmp(kv->value, "close") == 0)) {
			struct evkeyvalq *out = evhttp_request_get_output_headers(req);

			while (evhttp_remove_header(out, "Connection") == 0)
				;
			evhttp_add_header(out, "Connection", "close");
			break;
		}
		first = 0;
	}
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
	pr->h_content_encoding = fi.content_encoding;
	pr->n_content_encoding = fi.ncontent_encoding;
	pr->h_host = fi.host;
	pr->h_connection = fi.connection;
	pr->n_connection = fi.nconnection;
	pr->h_forwarded_for = fi.forwarded_for;
	pr->n_forwarded_for = fi.nforwarded_for;
	if (rc != 0)
		return framing_refuse(pr, status, type, message);
	if (fi.nconnection > 0)
		close_if_asked(req);
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
client_budget_key(const struct proxy_req *pr, struct connlimit_key *k, const char **key,
    size_t *len)
{
	const char *ip = pr->client_ip;

	/* The connection's own address: parsed once, at its accept (two
	 * inet_pton a request otherwise). */
	if (pr->cc != NULL && pr->cc->group_parsed && ip == pr->cc->client_ip) {
		*key = (const char *)pr->cc->group.b;
		*len = sizeof(pr->cc->group.b);
	} else if (connlimit_key_parse(ip, k) == 0) {
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
	client_budget_key(pr, &k, &key, &len);
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
	client_budget_key(pr, &k, &key, &len);
	ratelimit_refund(w->rt->failed_auth, 'a', key, len,
	    1000000 / (uint64_t)pr->cf->limits.failed_auth_per_s);
}




/* The body of an allowed request is complete (or there is none): the
 * body rules, then forward. */
void
worker_admit_body(struct worker *w, struct proxy_req *pr)
{
	struct gate_decision *d = pr->gd;
	struct gate_request rq = {
		.method = pr->method,
		.content_type = pr->h_content_type,
		.content_encoding = pr->h_content_encoding,
		.ncontent_encoding = pr->n_content_encoding,
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
	pr->decision = d->would_deny != NULL ? "would_deny" : "allow";
	pr->reason = d->would_deny != NULL ? d->would_deny : d->reason;
	proxy_forward(pr);
}

static void admit_decide(struct worker *w, struct proxy_req *pr);

/* tokens.introspection: the answer came (e), or none could be had. */
static void
introspect_resumed(void *req, struct introspect_entry *e, const char *why)
{
	struct proxy_req *pr = req;

	(void)why;
	pr->iwait = NULL;
	if (e == NULL) {
		/* Fail closed: never forwarded without an answer. */
		if (pr->fa_taken)
			failed_auth_settle(pr->w, pr, pr->gd);
		if (pr->gd->action != NULL) {
			pr->action_idx = pr->gd->action->index;
			pr->action = pr->gd->action->name;
		}
		pr->decision = "deny";
		pr->reason = "introspection_unavailable";
		proxy_reply_error(pr, 503, "ServiceUnavailable",
		    "Service Unavailable: the token cannot be checked now", NULL);
		return;
	}
	pr->ientry = e;
	admit_decide(pr->w, pr);
}

static void *
keep_cfg(void *cf)
{
	return cfg_ref(cf);
}

static void
unkeep_cfg(void *cf)
{
	cfg_unref(cf);
}

/* Ask for the answer of the request's opaque token: decided again at once
 * when it was cached, else suspended, or refused 503. */
static int
worker_introspect(struct worker *w, struct proxy_req *pr)
{
	const struct token_config *tc = pr->cf->tokens;
	struct introspect_entry *e;
	const char *t;
	size_t tlen;

	if (w->intro == NULL)
		w->intro = introspect_client_new(w->base, introspect_resumed, unkeep_cfg);
	(void)gate_bearer_token(pr->h_authorization, &t, &tlen);
	/* A token no endpoint could have issued is not sent anywhere. */
	if (!introspect_token_ok(t, tlen, tc->opts.max_token_bytes)) {
		pr->ientry = introspect_entry_refused(tlen > tc->opts.max_token_bytes ?
		    JWT_TOO_LARGE : JWT_MALFORMED);
		admit_decide(w, pr);
		return 1;
	}
	switch (introspect_lookup(w->intro, tc->introspection, &tc->opts, t, tlen, time(NULL),
	    pr, keep_cfg, pr->cf, &e, &pr->iwait)) {
	case INTROSPECT_HIT:
		pr->ientry = e;
		admit_decide(w, pr);
		return 1;
	case INTROSPECT_WAIT:
		return 1;
	case INTROSPECT_BUSY:
		break;
	}
	log_warnx("introspection %s: max_inflight (%lld) calls already: 503",
	    tc->introspection->url, (long long)tc->introspection->max_inflight);
	introspect_resumed(pr, NULL, NULL);
	return 1;
}

/* Stop waiting for the key set (decided, or the client went away). */
void
worker_kid_done(struct worker *w, struct proxy_req *pr)
{
	if (pr->kid_timer == NULL)
		return;
	event_free(pr->kid_timer);
	pr->kid_timer = NULL;
	TAILQ_REMOVE(&w->kid_waiting, pr, kid_link);
}

/* The refetch settled: every waiting request decides again, with the set
 * now in force (unknown_kid if it still has no such key). */
static void
kid_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct proxy_req *pr;

	(void)fd;
	(void)what;
	while ((pr = TAILQ_FIRST(&w->kid_waiting)) != NULL) {
		worker_kid_done(w, pr);
		admit_decide(w, pr);
	}
}

/* fetch_timeout_ms passed: decide with what is in force. */
static void
kid_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_req *pr = arg;

	(void)fd;
	(void)what;
	worker_kid_done(pr->w, pr);
	admit_decide(pr->w, pr);
}

/*
 * A token named a kid no key has, and keys are fetched from a provider:
 * a new key may have just been published. Rather than refusing at once,
 * the request waits (suspended, the worker goes on) for the refetch the
 * main loop runs once for all workers, at most the entries' longest
 * fetch_timeout_ms, then decides again. 1 when it waits.
 */
static int
worker_kid_wait(struct worker *w, struct proxy_req *pr)
{
	const struct token_config *tc = pr->cf->tokens;
	int64_t ms = 0;
	struct timeval tv;

	if (pr->kid_waited || tc == NULL || tc->live == NULL)
		return 0;
	pr->kid_waited = 1;
	if (w->kid_ev == NULL && (w->kid_ev = event_new(w->base, -1, 0, kid_wake_cb, w)) == NULL)
		return 0;
	for (size_t i = 0; i < tc->nremote; i++)
		if (tc->remote[i]->fetch_timeout_ms > ms)
			ms = tc->remote[i]->fetch_timeout_ms;
	if ((pr->kid_timer = evtimer_new(w->base, kid_timeout_cb, pr)) == NULL)
		return 0;
	ms_to_tv(ms, &tv);
	evtimer_add(pr->kid_timer, &tv);
	TAILQ_INSERT_TAIL(&w->kid_waiting, pr, kid_link);
	if (!jwks_live_wait_kid(tc->live, w->kid_ev)) {
		worker_kid_done(w, pr);
		return 0;
	}
	return 1;
}

/* Run the head's admission decision: refuse, or read the body (when one
 * was announced) and forward. */
static void
admit(struct worker *w, struct proxy_req *pr)
{
	enum cfg_rate_key rkey = pr->cf->rate_limit.key;
	int fa_taken;

	/* By client address: every request counts, before any signature is
	 * checked (a flood of bad tokens costs its sender, not the gateway). */
	if (rkey == CFG_RATE_CLIENT && rate_limited(w, pr, 'c', pr->client_ip))
		return;
	/* A CORS preflight carries no token: the gateway answers it. */
	if (cors_http_preflight(pr))
		return;
	if (failed_auth_take(w, pr, &fa_taken))
		return;
	pr->fa_taken = fa_taken;
	admit_decide(w, pr);
}

/* The head's decision, once the token's answer (introspection) is known
 * when it needs one. */
static void
admit_decide(struct worker *w, struct proxy_req *pr)
{
	const char *uri = evhttp_request_get_uri(pr->req);
	struct gate_request rq = {
		.method = pr->method,
		.target = uri,
		.target_len = strlen(uri),
		.authorization = pr->h_authorization,
		.content_type = pr->h_content_type,
		.content_encoding = pr->h_content_encoding,
		.ncontent_encoding = pr->n_content_encoding,
		.nauthorization = pr->n_authorization,
		.now = time(NULL),
		.revocations = w->rt->revocations,
		.tls_subject = pr->cc ? pr->cc->cert_subject : NULL,
		.tls_fingerprint = pr->cc ? pr->cc->cert_sha256 : NULL,
	};
	enum cfg_rate_key rkey = pr->cf->rate_limit.key;
	struct gate_decision *d;
	const json_t *claims;

	if (pr->ientry != NULL) {
		rq.introspected = 1;
		rq.introspect_status = introspect_entry_status(pr->ientry);
		rq.introspect_result = introspect_entry_result(pr->ientry);
	}
	if (pr->gd == NULL)
		pr->gd = proxy_decision_new(w);
	else
		gate_decision_release(pr->gd);
	d = pr->gd;
	gate_decide_head(pr->cf, w->tcache, &rq, d);
	/* An opaque token: suspended until the endpoint answered (or the
	 * answer is in the cache: decided again at once). */
	if (d->need_introspection && worker_introspect(w, pr) != 0)
		return;
	if (d->jwt_verified && d->jwt == JWT_UNKNOWN_KID && worker_kid_wait(w, pr))
		return;
	if (pr->fa_taken)
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
	/* "rate_limits": what the policy allowed counts (rlgate.h); may
	 * wait for Redis and go on in worker_admit_limited. */
	/* The claims object only for a limit keyed by a claim: built then
	 * (gate_decision_claims), read now, never after this call. */
	if (d->allow && pr->cf->ratelimits != NULL) {
		claims = ratelimits_reads_claims(pr->cf->ratelimits) ? gate_decision_claims(d) : NULL;
		gate_decision_forget_claims(d);
		if (rlgate_check(w, pr, d, claims))
			return;
	}
	gate_decision_forget_claims(d);
	worker_admit_limited(w, pr);
}

void
worker_admit_limited(struct worker *w, struct proxy_req *pr)
{
	struct gate_decision *d = pr->gd;

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
		worker_admit_body(w, pr);
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
	 * upload does not cost its size in memory: with its Content-Length,
	 * or chunked in the gateway's own framing (guard.c). A body a rule
	 * reads is held whole; the upstream gets its length. */
	pr->streaming = !gate_needs_body(pr->cf, d) &&
	    (d->action == NULL || d->action->neffects == 0);
	pr->reason = d->reason;
	if (pr->streaming) {
		pr->decision = d->would_deny != NULL ? "would_deny" : "allow";
		pr->reason = d->would_deny != NULL ? d->would_deny : d->reason;
		proxy_forward_stream(pr, 1);
	}
	guard_body_start(w, pr);
}


static __thread struct worker *this_worker;

static void
client_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct bufferevent *bev = arg;
	struct worker *w = this_worker;
	struct client_conn *cc;
	void *evcon = NULL;

	if (info->n_added == 0 || w == NULL)
		return;
	bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
	if (evcon == NULL)
		return;
	cc = client_conn_get(w, evcon);
	if (cc->injecting)
		return;
	guard_input(cc, buf, info->n_added);
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
	/* Draining, and what was accepted is gone already. */
	if (drained(w))
		event_base_loopexit(w->base, NULL);
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
static void sweep_cb(evutil_socket_t fd, short what, void *arg);

/* A request on a TLS connection whose client certificate has expired
 * since its handshake, or whose listener's client-certificate settings a
 * reload changed (a new CRL, CA or client_auth), is not served under what
 * that handshake verified: 421 and the connection closes, so the client
 * reconnects and its certificate is verified again (a new connection with
 * an expired or revoked certificate fails its handshake). 0: serve it. */
static int
tls_refuse_stale(struct proxy_req *pr, const struct worker_http *wh)
{
	struct client_conn *cc = pr->cc;
	enum tls_standing st = tls_connection_standing(
	    cc->cert_not_after != 0 ? (int64_t)time(NULL) : 0, cc->cert_not_after,
	    tls_server_same_client_auth(cc->tls_server, wh->tls));

	if (st != TLS_STANDING_OK) {
		guard_close(cc);
		pr->decision = "deny";
		pr->reason = st == TLS_STANDING_CERT_EXPIRED ? "client_cert_expired" :
		    "tls_settings_changed";
		evhttp_add_header(evhttp_request_get_output_headers(pr->req), "Connection", "close");
		proxy_reply_error(pr, 421, "MisdirectedRequest", st == TLS_STANDING_CERT_EXPIRED ?
		    "The client certificate of this connection has expired" :
		    "The client certificate settings changed since this connection's handshake; "
		    "reconnect", NULL);
	}
	return st == TLS_STANDING_OK ? 0 : -1;
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct worker_http *wh = arg;
	struct worker *w = wh->w;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct client_conn *cc;
	struct proxy_req *pr;
	int first;

	/* A reload the runtime announced ("in force") before this request
	 * was read applies to it, even if this worker's notify event has not
	 * run yet (it queues behind ready I/O on a busy loop). */
	if (__atomic_load_n(&w->cmd, __ATOMIC_ACQUIRE) & WORKER_CMD_RELOAD) {
		__atomic_fetch_and(&w->cmd, ~WORKER_CMD_RELOAD, __ATOMIC_ACQ_REL);
		take_snapshot(w);
	}
	cc = client_conn_get(w, evcon);
	client_watch_start(cc);
	if (!cc->peer_checked) {
		/* mTLS: who the verified client certificate names, once per
		 * connection (the handshake is over by its first request),
		 * for the policy and the access log. */
		SSL *ssl = tls_connection_ssl(evcon);
		struct tls_peer_info peer;
		cc->peer_checked = 1;
		cc->tls_server = tls_connection_server(ssl);
		if (ssl != NULL && tls_peer_info(ssl, &peer) == 0 && peer.present && peer.verified) {
			cc->cert_subject = xstrdup(peer.subject);
			cc->cert_sha256 = xstrdup(peer.fingerprint);
		}
		/* Any certificate the handshake took ends the connection's
		 * standing at its chain's end, whether or not it names
		 * someone here (a subject too long to keep names no one but
		 * was let in by client_auth); one whose end is unknown has
		 * ended (1: long past). */
		if (ssl != NULL && peer.present)
			cc->cert_not_after = peer.not_after != 0 ? peer.not_after : 1;
	}
	first = cc->fresh;
	if (cc->fresh) {
		cc->fresh = 0;
		w->fresh--;
	}
	pr = proxy_req_new(w, cc, req);	/* in flight from here */
	pr->tls = wh->tls != NULL;
	if (cc->refusal_status != 0) {
		guard_answer_refusal(pr);
		return;
	}
	if (cc->phase != GUARD_GIVEN) {
		/* Every head evhttp parses is one the guard gave it. */
		log_warnx("%s: a request the guard did not give", cc->client);
		guard_close(cc);
		pr->decision = "error";
		pr->reason = "internal";
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		proxy_reply_error(pr, 500, "InternalServerError", "Internal error", NULL);
		return;
	}
	if (cc->tls_server != NULL && tls_refuse_stale(pr, wh) != 0)
		return;
	cc->phase = GUARD_BUSY;
	pr->body_announced = cc->body_announced;
	pr->h_framed = cc->body_announced;
	/* A connection's first request is served: it was accepted before the
	 * drain began. Later ones on a kept-alive connection go elsewhere. */
	if (w->draining && !first) {
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
		evhttp_set_default_content_type(wh->http, HEADERS_DEFAULT_CONTENT_TYPE);
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
	rlgate_configure(w);
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
	TAILQ_INIT(&w->kid_waiting);
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
	/* Only this worker's thread runs its loop; other threads wake its
	 * events through its mailbox (xwake.h), not libevent's lock. */
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (w->base == NULL) {
		log_warnx("event_base_new failed");
		return -1;
	}
	if ((w->xw = xwake_new(w->base)) == NULL)
		return -1;
	if (bind_listeners(w) != 0)
		return -1;
	apply_limits(w);
	w->ups = upset_new(w->base, cf, rt->upstats, index);
	if ((w->scratch = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	if (cf->tokens != NULL)
		w->tcache = token_config_new_cache(cf->tokens);
	rlgate_configure(w);
	w->notify_ev = event_new(w->base, -1, EV_PERSIST, notify_cb, w);
	event_add(w->notify_ev, NULL);
	w->attach_ev = event_new(w->base, -1, 0, attach_cb, w);
	w->sweep_ev = event_new(w->base, -1, 0, sweep_cb, w);
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
	/* From the runtime's thread: through the worker's mailbox. */
	xwake_active(w->notify_ev, EV_READ);
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
	if (w->sweep_ev != NULL)
		event_free(w->sweep_ev);
	/* Lines logged while the connections above were freed, too. */
	accesslog_batch_free(w->alb);
	if (w->log_flush_ev != NULL)
		event_free(w->log_flush_ev);
	/* After the connections: no request waits for it any more. */
	rlgate_worker_free(w);
	upset_free(w->ups);
	if (w->scratch != NULL)
		evbuffer_free(w->scratch);
	for (size_t i = 0; i < w->nretired; i++)
		upstream_pool_free(w->retired[i]);
	free(w->retired);
	if (w->tcache != NULL)
		tokencache_free(w->tcache);
	introspect_client_free(w->intro);
	w->intro = NULL;
	if (w->kid_ev != NULL)
		event_free(w->kid_ev);
	/* No thread posts to this loop any more: its worker is joined,
	 * its introspection client gone. */
	xwake_free(w->xw);
	ptrmap_free(w->conns);
	if (w->base != NULL)
		event_base_free(w->base);
	cfg_unref(w->cf);
	metrics_shard_free(w->metrics);
	proxy_worker_free_spares(w);
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
	if (drained(w)) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	log_info("worker %zu: draining %zu request(s), %zu connection(s) yet to send one",
	    w->index, w->inflight, w->fresh + w->naccepted);
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

/* Not from worker_request_done itself: the request may end inside an
 * upstream callback (an answer written at once ends it there), and
 * upstream.c still uses the pool when the callback returns. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sweep_retired(arg);
}

void
worker_request_done(struct worker *w)
{
	if (w->inflight > 0)
		w->inflight--;
	if (w->nretired > 0)
		event_active(w->sweep_ev, EV_TIMEOUT, 0);
	if (drained(w))
		event_base_loopexit(w->base, NULL);
}
