/* forward.c: see forward.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "forward.h"
#include "headers.h"

/* Is name listed in the request's Connection field(s)? With one field its
 * value is enough; with several every one is looked at. */
static int
named_by_connection(const struct forward_info *fi, const struct evkeyvalq *in,
    const char *name)
{
	struct evkeyval *kv;

	if (fi->n_connection <= 1)
		return headers_connection_names(fi->h_connection, name);
	TAILQ_FOREACH(kv, in, next)
		if (strcasecmp(kv->key, "Connection") == 0 && headers_connection_names(kv->value, name))
			return 1;
	return 0;
}

/* Fields the gateway made its decision on (the target's authority, the
 * token, the body's type): a Connection field naming them must not take
 * them away from the upstream, which would then read the request
 * differently from how it was checked. */
static int
decided_on(const char *name)
{
	return strcasecmp(name, "Host") == 0 || strcasecmp(name, "Authorization") == 0 ||
	    strcasecmp(name, "Content-Type") == 0;
}

void
forward_headers(const struct evkeyvalq *in, const struct forward_info *fi,
    struct evkeyvalq *out)
{
	const char *conn = fi->h_connection;
	struct evkeyval *kv;

	/* Our own framing: only end-to-end fields cross, then the fields
	 * the gateway vouches for. */
	TAILQ_FOREACH(kv, in, next) {
		if (headers_drop_from_client(kv->key) ||
		    (conn != NULL && !decided_on(kv->key) && named_by_connection(fi, in, kv->key)))
			continue;
		evhttp_add_header(out, kv->key, kv->value);
	}
	if (fi->host == NULL)
		evhttp_add_header(out, "Host", fi->authority);
	evhttp_add_header(out, "X-Forwarded-For", fi->client_ip);
	evhttp_add_header(out, "X-Forwarded-Proto", fi->tls ? "https" : "http");
	if (fi->host != NULL)
		evhttp_add_header(out, "X-Forwarded-Host", fi->host);
	evhttp_add_header(out, "X-Request-Id", fi->request_id);
	if (fi->body_len > 0 || fi->framed) {
		char len[24];
		snprintf(len, sizeof(len), "%zu", fi->body_len);
		evhttp_add_header(out, "Content-Length", len);
	}
}

/* The method names of libevent 2.1.12's evhttp_method(). */
static const char *
method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "NULL";
}

/*
 * libevent 2.1.12, http.c: evhttp_make_request() sets the version to 1.1
 * (a new request has none) and evhttp_make_header() writes, through
 * evhttp_make_header_request():
 *   - evhttp_remove_header(output_headers, "Proxy-Connection"): the first
 *     such field is dropped;
 *   - "%s %s HTTP/%d.%d\r\n" with evhttp_method(type) ("NULL" when
 *     unknown) and the URI string as given;
 *   - for POST and PUT without a Content-Length field, one is added at the
 *     end of the list with the output buffer's length;
 * then every field "%s: %s\r\n" in list order, "\r\n", and the body
 * unless evhttp_have_expect(req, 0) is CONTINUE (an HTTP/1.1 request
 * whose own fields carry "Expect: 100-continue": the body waits for the
 * upstream's 100). Nothing else is added: no Host, no Connection.
 * test_forward.c compares this with what evhttp_make_request sends.
 */
void
forward_serialize(struct evbuffer *dst, enum evhttp_cmd_type cmd, const char *uri,
    const struct evkeyvalq *hdrs, const void *body, size_t len)
{
	struct evkeyval *kv, *proxy_conn = NULL;
	int have_cl = 0, expect_continue = 0;

	TAILQ_FOREACH(kv, hdrs, next) {
		if (proxy_conn == NULL && strcasecmp(kv->key, "Proxy-Connection") == 0)
			proxy_conn = kv;
	}
	evbuffer_add_printf(dst, "%s %s HTTP/%d.%d\r\n", method_name(cmd), uri, 1, 1);
	TAILQ_FOREACH(kv, hdrs, next) {
		if (kv == proxy_conn)
			continue;
		/* evhttp_find_header: the first field of that name decides. */
		if (!have_cl && strcasecmp(kv->key, "Content-Length") == 0)
			have_cl = 1;
		if (strcasecmp(kv->key, "Expect") == 0 && expect_continue == 0)
			expect_continue = strcasecmp(kv->value, "100-continue") == 0 ? 1 : -1;
		evbuffer_add_printf(dst, "%s: %s\r\n", kv->key, kv->value);
	}
	if ((cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_PUT) && !have_cl)
		evbuffer_add_printf(dst, "Content-Length: %zu\r\n", len);
	evbuffer_add(dst, "\r\n", 2);
	if (expect_continue != 1 && len > 0)
		evbuffer_add(dst, body, len);
}
