/* admin.c: see admin.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

#include "admin.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "xmalloc.h"

struct admin {
	struct runtime *rt;
	struct evhttp *http;
};

/* One pending readiness probe: a TCP connect to the upstream. */
struct probe {
	struct evhttp_request *req;
	struct bufferevent *bev;
	uint64_t generation;
};

static void
reply_json(struct evhttp_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply_json(struct evhttp_request *req, int status, const char *fmt, ...)
{
	struct evbuffer *b = evbuffer_new();
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(b, fmt, ap);
	va_end(ap);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evhttp_send_reply(req, status, NULL, b);
	evbuffer_free(b);
}

static void
probe_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct probe *p = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		reply_json(p->req, 200, "{\"status\":\"ready\",\"generation\":%llu}\n",
		    (unsigned long long)p->generation);
	else
		reply_json(p->req, 503, "{\"status\":\"not ready\",\"reason\":\"%s\"}\n",
		    (what & BEV_EVENT_TIMEOUT) ? "upstream connect timeout" : "upstream unreachable");
	bufferevent_free(p->bev);
	free(p);
}

/* Ready: a configuration is in force and the upstream accepts a TCP
 * connection now. */
static void
readyz(struct admin *a, struct evhttp_request *req)
{
	struct cfg *cf = runtime_acquire(a->rt);
	struct probe *p = xcalloc(1, sizeof(*p));
	struct timeval tv = {2, 0};
	char port[8];
	struct evutil_addrinfo hints, *ai = NULL;

	p->req = req;
	p->generation = cf->generation;
	snprintf(port, sizeof(port), "%u", (unsigned)cf->upstream.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	if (evutil_getaddrinfo(cf->upstream.host, port, &hints, &ai) != 0 || ai == NULL) {
		reply_json(req, 503, "{\"status\":\"not ready\",\"reason\":\"upstream address\"}\n");
		free(p);
		goto out;
	}
	p->bev = bufferevent_socket_new(evhttp_connection_get_base(
	    evhttp_request_get_connection(req)), -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(p->bev, NULL, NULL, probe_event_cb, p);
	bufferevent_set_timeouts(p->bev, &tv, &tv);
	if (bufferevent_socket_connect(p->bev, ai->ai_addr, (int)ai->ai_addrlen) != 0) {
		bufferevent_free(p->bev);
		free(p);
		reply_json(req, 503, "{\"status\":\"not ready\",\"reason\":\"upstream unreachable\"}\n");
	}
	evutil_freeaddrinfo(ai);
out:
	cfg_unref(cf);
}

static void
admin_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (strcmp(uri, "/healthz") == 0 && m == EVHTTP_REQ_GET)
		reply_json(req, 200, "{\"status\":\"ok\"}\n");
	else if (strcmp(uri, "/readyz") == 0 && m == EVHTTP_REQ_GET)
		readyz(a, req);
	else if (strcmp(uri, "/metrics") == 0 && m == EVHTTP_REQ_GET) {
		struct evbuffer *b = evbuffer_new();
		char *text = runtime_metrics_text(a->rt);
		evbuffer_add(b, text, strlen(text));
		free(text);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		    METRICS_CONTENT_TYPE);
		evhttp_send_reply(req, 200, NULL, b);
		evbuffer_free(b);
	} else if (strncmp(uri, "/revocations", 12) == 0)
		runtime_admin_revocations(a->rt, req);
	else
		reply_json(req, 404, "{\"type\":\"NotFound\",\"message\":\"No such admin endpoint\"}\n");
}

struct admin *
admin_start(struct runtime *rt, int *failed)
{
	struct cfg *cf = runtime_acquire(rt);
	struct admin *a = NULL;

	*failed = 0;
	if (cf->admin.address == NULL)
		goto out;
	a = xcalloc(1, sizeof(*a));
	a->rt = rt;
	a->http = evhttp_new(rt->base);
	evhttp_set_gencb(a->http, admin_cb, a);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	evhttp_set_max_body_size(a->http, 65536);
	if (evhttp_bind_socket(a->http, cf->admin.address, cf->admin.port) != 0) {
		log_warn("cannot listen on admin address %s port %u", cf->admin.address,
		    (unsigned)cf->admin.port);
		admin_free(a);
		a = NULL;
		*failed = 1;
		goto out;
	}
	log_info("admin listener on %s port %u", cf->admin.address, (unsigned)cf->admin.port);
out:
	cfg_unref(cf);
	return a;
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	if (a->http != NULL)
		evhttp_free(a->http);
	free(a);
}
