/* worker.c: see worker.h. The HTTP-facing glue: listeners, connection
 * accounting, the checks made before a request may go anywhere, and
 * draining. Decisions themselves live in pure modules. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "gate.h"
#include "log.h"
#include "token_config.h"
#include "proxy.h"
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
	for (size_t i = 0; i < w->nbound; i++) {
		struct evconnlistener *l = evhttp_bound_socket_get_listener(w->bound[i]);
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
	if (cc->cur != NULL)
		proxy_client_closed(cc->cur);
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
	ptrmap_put(w->conns, evcon, cc);
	evhttp_connection_set_closecb(evcon, client_closed_cb, cc);
	/* At the limit, leave new connections in the kernel's backlog, as
	 * HAProxy does with maxconn, instead of accepting and dropping. */
	if (ptrmap_count(w->conns) >= (size_t)w->cf->limits.max_connections)
		set_accepting(w, 0);
	return cc;
}

/* Count header fields named `name`. */
static int
header_count(struct evkeyvalq *h, const char *name)
{
	struct evkeyval *kv;
	int n = 0;

	TAILQ_FOREACH(kv, h, next)
		if (strcasecmp(kv->key, name) == 0)
			n++;
	return n;
}

/* Refusals that come before any routing: message framing. Returns 0 when
 * the request may go on. (Target shape, Authorization and everything else
 * is decided by gate_decide.) */
static int
check_framing(struct proxy_req *pr)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(pr->req);

	/* RFC 9112 6.3: both framings at once is the classic smuggling
	 * vector; so are two lengths. */
	if (header_count(in, "Transfer-Encoding") > 0 && header_count(in, "Content-Length") > 0) {
		pr->reason = "framing";
		proxy_reply_error(pr, 400, "BadRequest",
		    "Content-Length and Transfer-Encoding together are not allowed", NULL);
		return -1;
	}
	if (header_count(in, "Content-Length") > 1) {
		pr->reason = "framing";
		proxy_reply_error(pr, 400, "BadRequest", "Duplicate Content-Length", NULL);
		return -1;
	}
	return 0;
}

/* Run the admission decision and either refuse or forward. */
static void
admit(struct worker *w, struct proxy_req *pr)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(pr->req);
	const char *uri = evhttp_request_get_uri(pr->req);
	struct gate_request rq = {
		.method = pr->method,
		.target = uri,
		.target_len = strlen(uri),
		.authorization = evhttp_find_header(in, "Authorization"),
		.content_type = evhttp_find_header(in, "Content-Type"),
		.nauthorization = header_count(in, "Authorization"),
		.now = time(NULL),
	};
	struct evbuffer *body = evhttp_request_get_input_buffer(pr->req);
	struct gate_decision d;

	/* Bodies are bounded by max_body_bytes: make it one piece for the
	 * JSON parser (a no-op when it already is). */
	rq.body_len = evbuffer_get_length(body);
	if (rq.body_len > 0)
		rq.body = (const char *)evbuffer_pullup(body, -1);
	gate_decide(w->cf, w->tcache, &rq, &d);
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
	struct worker *w = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct client_conn *cc;
	struct proxy_req *pr;

	if ((cc = client_conn_get(w, evcon)) == NULL) {
		log_warnx("connection limit (%lld) reached", (long long)w->cf->limits.max_connections);
		reply_plain_error(req, 503, "ServiceUnavailable", "Too many connections");
		return;
	}
	pr = proxy_req_new(w, cc, req);
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

int
worker_init(struct worker *w, struct event_base *base, const struct cfg *cf,
    struct accesslog *alog)
{
	memset(w, 0, sizeof(*w));
	w->base = base;
	w->cf = cf;
	w->alog = alog;
	w->conns = ptrmap_new();
	if (getrandom(&w->id_prefix, sizeof(w->id_prefix), 0) != sizeof(w->id_prefix))
		w->id_prefix = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	ms_to_tv(cf->limits.header_timeout_ms, &w->header_tv);
	ms_to_tv(cf->limits.write_timeout_ms, &w->write_tv);

	if ((w->http = evhttp_new(base)) == NULL) {
		log_warnx("evhttp_new failed");
		return -1;
	}
	evhttp_set_max_headers_size(w->http, cf->limits.max_header_bytes);
	evhttp_set_max_body_size(w->http, cf->limits.max_body_bytes);
	evhttp_set_timeout_tv(w->http, &w->header_tv);
	/* TRACE and CONNECT are never proxied: evhttp answers them 501. */
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(w->http, "application/json");
	evhttp_set_gencb(w->http, request_cb, w);

	w->bound = xcalloc(cf->nlisteners, sizeof(*w->bound));
	for (size_t i = 0; i < cf->nlisteners; i++) {
		const struct cfg_listener *l = &cf->listeners[i];
		struct evhttp_bound_socket *b;

		if ((b = evhttp_bind_socket_with_handle(w->http, l->address, l->port)) == NULL) {
			log_warn("cannot listen on %s port %u", l->address, (unsigned)l->port);
			return -1;
		}
		w->bound[w->nbound++] = b;
		log_info("listening on %s port %u", l->address, (unsigned)l->port);
	}
	w->accepting = 1;
	w->pool = upstream_pool_new(base, &cf->upstream);
	if (cf->tokens != NULL)
		w->tcache = token_config_new_cache(cf->tokens);
	return 0;
}

void
worker_free(struct worker *w)
{
	if (w->drain_timer != NULL)
		event_free(w->drain_timer);
	/* Frees every client connection: their close callbacks run now,
	 * while the pool and the map still exist. */
	if (w->http != NULL)
		evhttp_free(w->http);
	upstream_pool_free(w->pool);
	if (w->tcache != NULL)
		tokencache_free(w->tcache);
	ptrmap_free(w->conns);
	free(w->bound);
	memset(w, 0, sizeof(*w));
}

static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	log_warnx("shutdown grace period over with %zu request(s) in flight", w->inflight);
	event_base_loopexit(w->base, NULL);
}

void
worker_drain(struct worker *w)
{
	struct timeval tv;

	if (w->draining)
		return;
	for (size_t i = 0; i < w->nbound; i++)
		evhttp_del_accept_socket(w->http, w->bound[i]);
	w->nbound = 0;
	w->draining = 1;
	if (w->inflight == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	log_info("draining %zu request(s)", w->inflight);
	ms_to_tv(w->cf->shutdown_grace_ms, &tv);
	w->drain_timer = evtimer_new(w->base, drain_timeout_cb, w);
	evtimer_add(w->drain_timer, &tv);
}

void
worker_request_done(struct worker *w)
{
	if (w->inflight > 0)
		w->inflight--;
	if (w->draining && w->inflight == 0)
		event_base_loopexit(w->base, NULL);
}
