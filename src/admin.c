/* admin.c: see admin.h. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "defaults.h"
#include "gate.h"
#include "keys.h"
#include "headers.h"
#include "healthcheck.h"
#include "jwks_fetch.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "xmalloc.h"

struct admin {
	struct runtime *rt;
	struct evhttp *http;
};

/* One pending readiness probe: a TCP connect to the upstream. */
/* A /readyz probe: connect to the upstream's addresses (resolved when the
 * configuration loaded) in turn until one accepts. */
struct probe {
	struct evhttp_request *req;
	struct event_base *base;
	struct bufferevent *bev;
	uint64_t generation;
	struct sockaddr_storage addrs[SG_UPSTREAM_MAX_ADDRS];
	socklen_t addrlens[SG_UPSTREAM_MAX_ADDRS];
	size_t naddrs, next;
};

static int probe_next(struct probe *p);

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
	evhttp_send_reply(req, status, headers_reason_phrase(status), b);
	evbuffer_free(b);
}

static void
probe_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct probe *p = arg;

	(void)bev;
	bufferevent_free(p->bev);
	p->bev = NULL;
	if (what & BEV_EVENT_CONNECTED)
		reply_json(p->req, 200, "{\"status\":\"ready\",\"generation\":%llu}\n",
		    (unsigned long long)p->generation);
	else if (probe_next(p) == 0)
		return;
	else
		reply_json(p->req, 503, "{\"status\":\"not ready\",\"reason\":\"%s\"}\n",
		    (what & BEV_EVENT_TIMEOUT) ? "upstream connect timeout" : "upstream unreachable");
	free(p);
}

/* Start connecting to the next address: 0, or -1 when none is left. */
static int
probe_next(struct probe *p)
{
	struct timeval tv = {2, 0};

	while (p->next < p->naddrs) {
		size_t i = p->next++;

		p->bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (p->bev == NULL)
			return -1;
		bufferevent_setcb(p->bev, NULL, NULL, probe_event_cb, p);
		bufferevent_set_timeouts(p->bev, &tv, &tv);
		if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&p->addrs[i],
		    (int)p->addrlens[i]) == 0)
			return 0;
		bufferevent_free(p->bev);
		p->bev = NULL;
	}
	return -1;
}

/* Ready: a configuration is in force and the upstream accepts a TCP
 * connection now. */
static void
readyz(struct admin *a, struct evhttp_request *req)
{
	struct cfg *cf = runtime_acquire(a->rt);
	struct probe *p;
	char why[400];

	/* A key set dropped past max_stale_s (or never fetched): tokens it
	 * signed are refused, so this instance is not ready. */
	if (a->rt->jwks != NULL && jwks_registry_ready(a->rt->jwks, why, sizeof(why)) != 0) {
		reply_json(req, 503, "{\"status\":\"not ready\",\"reason\":\"%s\"}\n", why);
		cfg_unref(cf);
		return;
	}
	/* Active health checks: an upstream with routes and no server up. */
	if (a->rt->upstats != NULL && hcheck_ready(a->rt->upstats, cf, why, sizeof(why)) != 0) {
		reply_json(req, 503, "{\"status\":\"not ready\",\"reason\":\"%s\"}\n", why);
		cfg_unref(cf);
		return;
	}
	/* The default upstream's servers are checked: that verdict, not one
	 * connect to its first server, says whether requests can go out. */
	if (cf->ups.ngroups > 0 && cf->ups.groups[cf->ups.default_group].health != NULL &&
	    !cf->ups.groups[cf->ups.default_group].shorthand) {
		reply_json(req, 200, "{\"status\":\"ready\",\"generation\":%llu}\n",
		    (unsigned long long)cf->generation);
		cfg_unref(cf);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->req = req;
	p->base = evhttp_connection_get_base(evhttp_request_get_connection(req));
	p->generation = cf->generation;
	/* The default upstream's first server (named upstreams: see
	 * cfg_upstreams_first). */
	const struct cfg_upstream *up = cfg_upstreams_first(cf);
	memcpy(p->addrs, up->addrs, sizeof(p->addrs));
	memcpy(p->addrlens, up->addrlens, sizeof(p->addrlens));
	p->naddrs = up->naddrs;
	if (probe_next(p) != 0) {
		free(p);
		reply_json(req, 503, "{\"status\":\"not ready\",\"reason\":\"upstream unreachable\"}\n");
	}
	cfg_unref(cf);
}

/* Host names the configured address ("[addr]" for IPv6) or localhost,
 * with the configured port; without a port only when that is 80. */
static int
host_ok(const struct admin_rules *r, const char *host)
{
	char port[8];
	const char *p;
	size_t n;

	snprintf(port, sizeof(port), "%u", r->port);
	if (host[0] == '[') {
		if ((p = strchr(host, ']')) == NULL || strchr(r->address, ':') == NULL)
			return 0;
		n = (size_t)(p - host - 1);
		if (n != strlen(r->address) || strncasecmp(host + 1, r->address, n) != 0)
			return 0;
		p++;
	} else {
		n = strcspn(host, ":");
		if (!((n == strlen(r->address) && strchr(r->address, ':') == NULL &&
		    strncmp(host, r->address, n) == 0) ||
		    (n == 9 && strncasecmp(host, "localhost", 9) == 0)))
			return 0;
		p = host + n;
	}
	if (*p == '\0')
		return r->port == 80;
	return p[0] == ':' && strcmp(p + 1, port) == 0;
}

static int
is_json_type(const char *ct)
{
	static const char json[] = "application/json";

	if (ct == NULL || strncasecmp(ct, json, sizeof(json) - 1) != 0)
		return 0;
	ct += sizeof(json) - 1;
	return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}

/* Constant time in the secret and the candidate: both are hashed first,
 * so neither their bytes nor their lengths steer the comparison. */
static int
token_ok(const char *token, const char *authorization)
{
	unsigned char a[32], b[32];
	const char *cand;
	size_t len;
	int ok;

	if (gate_bearer_token(authorization, &cand, &len) != 0)
		return 0;
	if (EVP_Digest(token, strlen(token), a, NULL, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(cand, len, b, NULL, EVP_sha256(), NULL) != 1)
		return 0;
	ok = CRYPTO_memcmp(a, b, sizeof(a)) == 0;
	OPENSSL_cleanse(b, sizeof(b));
	return ok;
}

int
admin_check(const struct admin_rules *r, const struct admin_request *rq,
    const char **type, const char **message)
{
	if (rq->nhost != 1 || rq->host == NULL || !host_ok(r, rq->host)) {
		*type = "MisdirectedRequest";
		*message = "The admin listener answers only to its own address or localhost, "
		    "with its port, in Host";
		return 421;
	}
	if (rq->norigin > 0) {
		*type = "Forbidden";
		*message = "The admin listener does not answer requests made by a web page (Origin)";
		return 403;
	}
	if (r->token != NULL &&
	    (rq->nauthorization != 1 || !token_ok(r->token, rq->authorization))) {
		*type = "Unauthorized";
		*message = "The admin token is missing or wrong";
		return 401;
	}
	if (rq->is_mutating && !is_json_type(rq->content_type)) {
		*type = "UnsupportedMediaType";
		*message = "Content-Type must be application/json";
		return 415;
	}
	return 0;
}

char *
admin_token_load(const char *path, struct errlist *errs)
{
	unsigned char *buf;
	char *token = NULL;
	size_t len = 0;

	if ((buf = keys_read_secret_file(path, &len, errs)) == NULL)
		return NULL;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len < SG_ADMIN_TOKEN_MIN_BYTES || len > SG_ADMIN_TOKEN_MAX_BYTES) {
		errlist_add(errs, "%s: the admin token must be %d to %d bytes", path,
		    SG_ADMIN_TOKEN_MIN_BYTES, SG_ADMIN_TOKEN_MAX_BYTES);
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		/* What a client can send after "Bearer " unchanged. */
		if (buf[i] <= ' ' || buf[i] >= 0x7f) {
			errlist_add(errs, "%s: the admin token must be printable ASCII "
			    "without spaces", path);
			goto out;
		}
	}
	token = xmalloc(len + 1);
	memcpy(token, buf, len);
	token[len] = '\0';
out:
	OPENSSL_cleanse(buf, len);
	free(buf);
	return token;
}

void
admin_token_free(char *token)
{
	if (token == NULL)
		return;
	OPENSSL_cleanse(token, strlen(token));
	free(token);
}

/* The fields admin_check looks at, in one pass over the header list. */
static int
admin_gate(struct admin *a, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct admin_request rq = {.is_mutating = m == EVHTTP_REQ_POST || m == EVHTTP_REQ_DELETE};
	struct cfg *cf = runtime_acquire(a->rt);
	struct admin_rules r = {cf->admin.address, cf->admin.port, cf->admin.token};
	const char *type, *message;
	struct evkeyval *h;
	int status;

	TAILQ_FOREACH(h, in, next) {
		if (strcasecmp(h->key, "Host") == 0) {
			rq.host = h->value;
			rq.nhost++;
		} else if (strcasecmp(h->key, "Origin") == 0)
			rq.norigin++;
		else if (strcasecmp(h->key, "Content-Type") == 0 && rq.content_type == NULL)
			rq.content_type = h->value;
		else if (strcasecmp(h->key, "Authorization") == 0) {
			rq.authorization = h->value;
			rq.nauthorization++;
		}
	}
	status = admin_check(&r, &rq, &type, &message);
	if (status != 0) {
		if (status == 401)
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "WWW-Authenticate", "Bearer realm=\"scopegate-admin\"");
		reply_json(req, status, "{\"type\":\"%s\",\"message\":\"%s\"}\n", type, message);
	}
	cfg_unref(cf);
	return status;
}

static void
admin_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (admin_gate(a, req) != 0)
		return;

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
