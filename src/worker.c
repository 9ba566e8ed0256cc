/* worker.c: see worker.h. The HTTP-facing glue: listeners, connection
 * accounting, the checks made before a request may go anywhere, and
 * draining. Decisions themselves live in pure modules. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
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

#include "gate.h"
#include "log.h"
#include "revoke.h"
#include "tls.h"
#include "token_config.h"
#include "proxy.h"
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
set_accepting(struct worker *w, int on)
{
	if (w->accepting == on || w->draining)
		return;
	for (size_t i = 0; i < w->nhs; i++) {
		struct evconnlistener *l;
		if (w->hs[i].bound == NULL)
			continue;
		l = evhttp_bound_socket_get_listener(w->hs[i].bound);
		if (on)
			evconnlistener_enable(l);
		else
			evconnlistener_disable(l);
	}
	w->accepting = on;
}

static void
client_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct client_conn *cc = arg;
	struct worker *w = cc->w;

	ptrmap_del(w->conns, evcon);
	metrics_connection_closed(w->metrics);
	/* libevent frees the SSL without a close_notify; send it. */
	tls_connection_close_notify(evcon);
	if (cc->cur != NULL)
		proxy_client_closed(cc->cur);
	free(cc->cert_subject);
	free(cc->cert_sha256);
	free(cc);
	if (ptrmap_count(w->conns) < (size_t)w->cf->limits.max_connections)
		set_accepting(w, 1);
}

/* The connection record for evcon, created on its first request. NULL when
 * the connection is over the limit. */
static struct client_conn *
client_conn_get(struct worker *w, struct evhttp_connection *evcon)
{
	struct client_conn *cc = ptrmap_get(w->conns, evcon);

	if (cc != NULL)
		return cc;
	if (ptrmap_count(w->conns) >= (size_t)w->cf->limits.max_connections)
		return NULL;
	cc = xcalloc(1, sizeof(*cc));
	cc->w = w;
	cc->evcon = evcon;
	char *addr = NULL;
	ev_uint16_t port = 0;
	evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(cc->client_ip, sizeof(cc->client_ip), "%s", addr ? addr : "");
	snprintf(cc->client, sizeof(cc->client), addr && strchr(addr, ':') ? "[%s]:%u" : "%s:%u",
	    addr ? addr : "", (unsigned)port);
	/* Answers go out in several writes (headers, then body pieces); with
	 * Nagle on, a keep-alive client's delayed ACK stalls each one. */
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* mTLS: who the verified client certificate names, once per
	 * connection, for the access log. */
	SSL *ssl = tls_connection_ssl(evcon);
	struct tls_peer_info peer;
	if (ssl != NULL && tls_peer_info(ssl, &peer) == 0 && peer.present && peer.verified) {
		cc->cert_subject = xstrdup(peer.subject);
		cc->cert_sha256 = xstrdup(peer.fingerprint);
	}
	ptrmap_put(w->conns, evcon, cc);
	metrics_connection_opened(w->metrics);
	evhttp_connection_set_closecb(evcon, client_closed_cb, cc);
	/* At the limit, leave new connections in the kernel's backlog, as
	 * HAProxy does with maxconn, instead of accepting and dropping. */
	if (ptrmap_count(w->conns) >= (size_t)w->cf->limits.max_connections)
		set_accepting(w, 0);
	return cc;
}

static int
is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return 0;
	return 1;
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
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	int ncl = 0, nte = 0, te_ok = 1;
	struct evkeyval *kv;
	const char *cl = NULL;

	if (req->major != 1 || req->minor > 1)
		return framing_refuse(pr, 505, "HTTPVersionNotSupported",
		    "Only HTTP/1.0 and HTTP/1.1 are supported");
	TAILQ_FOREACH(kv, in, next) {
		if (!is_token(kv->key))
			return framing_refuse(pr, 400, "BadRequest", "Invalid header field name");
		/* The fields later steps need, found in this one pass. */
		if (strcasecmp(kv->key, "Authorization") == 0) {
			pr->h_authorization = kv->value;
			pr->n_authorization++;
		} else if (strcasecmp(kv->key, "Content-Type") == 0)
			pr->h_content_type = kv->value;
		else if (strcasecmp(kv->key, "Host") == 0)
			pr->h_host = kv->value;
		else if (strcasecmp(kv->key, "Connection") == 0) {
			if (pr->h_connection == NULL)
				pr->h_connection = kv->value;
			pr->n_connection++;
		}
		else if (strcasecmp(kv->key, "Content-Length") == 0) {
			ncl++;
			cl = kv->value;
		} else if (strcasecmp(kv->key, "Transfer-Encoding") == 0) {
			const char *v = kv->value;
			size_t n;
			nte++;
			while (*v == ' ' || *v == '\t')
				v++;
			n = strlen(v);
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n != 7 || strncasecmp(v, "chunked", 7) != 0)
				te_ok = 0;
		}
	}
	/* RFC 9112 6.3: both framings at once is the classic smuggling
	 * vector; so are two lengths. */
	pr->h_framed = nte > 0 || ncl > 0;
	if (nte > 0 && ncl > 0)
		return framing_refuse(pr, 400, "BadRequest",
		    "Content-Length and Transfer-Encoding together are not allowed");
	if (ncl > 1)
		return framing_refuse(pr, 400, "BadRequest", "Duplicate Content-Length");
	if (cl != NULL && (cl[0] == '\0' || strspn(cl, "0123456789") != strlen(cl)))
		return framing_refuse(pr, 400, "BadRequest", "Invalid Content-Length");
	if (nte > 1 || !te_ok || (nte > 0 && req->minor == 0))
		return framing_refuse(pr, 501, "NotImplemented",
		    "Only the chunked transfer coding is supported");
	/* libevent reads no body for HEAD: a body there would be taken for
	 * the next request. */
	if ((nte > 0 || (cl != NULL && strspn(cl, "0") != strlen(cl))) &&
	    evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
		return framing_refuse(pr, 400, "BadRequest", "A body is not allowed with HEAD");
	return 0;
}

/* Run the admission decision and either refuse or forward. */
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
	};
	struct evbuffer *body = evhttp_request_get_input_buffer(pr->req);
	struct gate_decision d;

	/* Bodies are bounded by max_body_bytes: make it one piece for the
	 * JSON parser (a no-op when it already is). */
	rq.body_len = evbuffer_get_length(body);
	if (rq.body_len > 0)
		rq.body = (const char *)evbuffer_pullup(body, -1);
	gate_decide(pr->cf, w->tcache, &rq, &d);
	if (d.token_checked && d.jwt_verified) {
		metrics_token_verified(w->metrics, d.jwt);
		metrics_token_cache(w->metrics, d.cache_hit);
		if (d.revoked)
			metrics_token_revoked(w->metrics);
	}
	/* Token lifecycle effects: decide now what a success answer will
	 * mean (the body goes to the upstream next). */
	if (d.allow && d.action != NULL && d.action->neffects > 0)
		revoke_learn_plan(&d.match, rq.body, rq.body_len, &pr->revoke);
	pr->action_idx = d.action != NULL ? d.action->index : METRICS_ACTION_NONE;
	pr->action = d.action != NULL ? d.action->name : NULL;
	pr->reason = d.reason;
	pr->scope = d.scope;
	if (d.subject != NULL)
		pr->subject = xstrdup(d.subject);
	if (d.token_id != NULL)
		pr->token_id = xstrdup(d.token_id);
	if (d.allow) {
		pr->decision = "allow";
		proxy_forward(pr);
	} else {
		pr->decision = "deny";
		if (d.allow_header[0] != '\0')
			evhttp_add_header(evhttp_request_get_output_headers(pr->req), "Allow",
			    d.allow_header);
		proxy_reply_error(pr, d.status, d.error_type, d.message, d.www_authenticate);
	}
	gate_decision_release(&d);
}

static void
reply_plain_error(struct evhttp_request *req, int status, const char *type, const char *msg)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "{\"type\":\"%s\",\"message\":\"%s\"}\n", type, msg);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	evhttp_send_reply(req, status, NULL, b);
	evbuffer_free(b);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct worker_http *wh = arg;
	struct worker *w = wh->w;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct client_conn *cc;
	struct proxy_req *pr;

	if ((cc = client_conn_get(w, evcon)) == NULL) {
		log_warnx("connection limit (%lld) reached", (long long)w->cf->limits.max_connections);
		reply_plain_error(req, 503, "ServiceUnavailable", "Too many connections");
		return;
	}
	pr = proxy_req_new(w, cc, req);
	pr->tls = wh->tls != NULL;
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
	admit(w, pr);
}

/* Apply the parts of a snapshot that live in this worker's objects. */
static void
apply_limits(struct worker *w)
{
	const struct cfg *cf = w->cf;

	ms_to_tv(cf->limits.header_timeout_ms, &w->header_tv);
	ms_to_tv(cf->limits.write_timeout_ms, &w->write_tv);
	for (size_t i = 0; i < w->nhs; i++) {
		evhttp_set_max_headers_size(w->hs[i].http, cf->limits.max_header_bytes);
		evhttp_set_max_body_size(w->hs[i].http, cf->limits.max_body_bytes);
		evhttp_set_timeout_tv(w->hs[i].http, &w->header_tv);
	}
}

static int
bind_listeners(struct worker *w)
{
	const struct cfg *cf = w->cf;

	w->hs = xcalloc(cf->nlisteners, sizeof(*w->hs));
	for (size_t i = 0; i < cf->nlisteners; i++) {
		const struct cfg_listener *l = &cf->listeners[i];
		struct sockaddr_storage ss;
		int sslen = sizeof(ss);
		char spec[80];
		struct evconnlistener *lev;
		struct evhttp_bound_socket *b;

		snprintf(spec, sizeof(spec), strchr(l->address, ':') ? "[%s]:%u" : "%s:%u",
		    l->address, (unsigned)l->port);
		if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) != 0) {
			log_warnx("cannot parse listener address %s", spec);
			return -1;
		}
		lev = evconnlistener_new_bind(w->base, NULL, NULL,
		    LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE |
		    LEV_OPT_CLOSE_ON_EXEC, 1024, (struct sockaddr *)&ss, sslen);
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
		/* TRACE and CONNECT are never proxied: evhttp answers them 501. */
		evhttp_set_allowed_methods(wh->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
		    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
		    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
		evhttp_set_default_content_type(wh->http, "application/json");
		evhttp_set_gencb(wh->http, request_cb, wh);
		if (l->tls != NULL) {
			wh->tls = tls_server_ref(l->tls->server);
			evhttp_set_bevcb(wh->http, tls_server_bevcb, wh->tls);
		}
		if ((b = evhttp_bind_listener(wh->http, lev)) == NULL) {
			evconnlistener_free(lev);
			log_warnx("cannot serve HTTP on %s", spec);
			return -1;
		}
		wh->bound = b;
		if (w->index == 0)
			log_info("listening on %s%s", spec, l->tls ? " (TLS)" : "");
	}
	w->accepting = 1;
	return 0;
}

/* The runtime published a new snapshot: switch to it for new requests.
 * Requests in flight keep the snapshot they started with. */
static void
take_snapshot(struct worker *w)
{
	struct cfg *old = w->cf, *cf = runtime_acquire(w->rt);

	if (cf == old) {
		cfg_unref(cf);
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
			evhttp_set_bevcb(w->hs[i].http, tls_server_bevcb, w->hs[i].tls);
		}
	}
	if (strcmp(cf->upstream.url, old->upstream.url) != 0 ||
	    cf->upstream.timeout_ms != old->upstream.timeout_ms ||
	    cf->upstream.max_connections != old->upstream.max_connections) {
		/* Requests in flight hold connections of the old pool. */
		w->retired = xreallocarray(w->retired, w->nretired + 1, sizeof(*w->retired));
		w->retired[w->nretired++] = w->pool;
		w->pool = upstream_pool_new(w->base, &cf->upstream);
	}
	if (w->tcache == NULL && cf->tokens != NULL)
		w->tcache = token_config_new_cache(cf->tokens);
	cfg_unref(old);
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
	if (getrandom(&w->id_prefix, sizeof(w->id_prefix), 0) != sizeof(w->id_prefix))
		w->id_prefix = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16) ^ index;

	if ((w->base = event_base_new()) == NULL) {
		log_warnx("event_base_new failed");
		return -1;
	}
	if (bind_listeners(w) != 0)
		return -1;
	apply_limits(w);
	w->pool = upstream_pool_new(w->base, &cf->upstream);
	if (cf->tokens != NULL)
		w->tcache = token_config_new_cache(cf->tokens);
	w->notify_ev = event_new(w->base, -1, EV_PERSIST, notify_cb, w);
	event_add(w->notify_ev, NULL);
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
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
	upstream_pool_free(w->pool);
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
