/* forward.c: see forward.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "forward.h"
#include "headers.h"
#include "log.h"
#include "xmalloc.h"

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

/* One field line in the making: its pieces are copied in one go. A
 * value may come in two parts, "pre, value" (a forwarded list). */
struct line {
	const char *name, *pre, *value;
	size_t nlen, plen, vlen;
};

static void
add_line2(struct line *l, size_t *n, const char *name, const char *pre, const char *value)
{
	l[*n].name = name;
	l[*n].nlen = strlen(name);
	l[*n].pre = pre;
	l[*n].plen = pre != NULL ? strlen(pre) : 0;
	l[*n].value = value;
	l[*n].vlen = strlen(value);
	(*n)++;
}

static void
add_line(struct line *l, size_t *n, const char *name, const char *value)
{
	add_line2(l, n, name, NULL, value);
}

const char *
forward_method_name(enum evhttp_cmd_type cmd)
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
	return "UNKNOWN";
}

void
forward_request(struct evbuffer *dst, enum evhttp_cmd_type cmd, const char *uri,
    const struct evkeyvalq *in, const struct forward_info *fi, struct evbuffer *body)
{
	const char *conn = fi->h_connection, *method = forward_method_name(cmd);
	size_t nin = 0, n = 0, total, mlen = strlen(method), ulen = strlen(uri);
	struct evbuffer_iovec v;
	struct evkeyval *kv;
	struct line *lines;
	char clen[24];
	char *p;

	TAILQ_FOREACH(kv, in, next)
		nin++;
	lines = xreallocarray(NULL, nin + 7, sizeof(*lines));
	/* Our own framing: only end-to-end fields cross, then the fields
	 * the gateway vouches for. */
	TAILQ_FOREACH(kv, in, next) {
		if (headers_drop_from_client(kv->key) ||
		    (conn != NULL && !decided_on(kv->key) && named_by_connection(fi, in, kv->key)))
			continue;
		/* (Both names start with a 't': one byte test for the rest.) */
		if (fi->traceparent != NULL && (kv->key[0] | 0x20) == 't' &&
		    (strcasecmp(kv->key, "traceparent") == 0 ||
		    (!fi->keep_tracestate && strcasecmp(kv->key, "tracestate") == 0)))
			continue;
		add_line(lines, &n, kv->key, kv->value);
	}
	if (fi->host == NULL)
		add_line(lines, &n, "Host", fi->authority);
	add_line2(lines, &n, "X-Forwarded-For", fi->xff_chain, fi->client_ip);
	add_line(lines, &n, "X-Forwarded-Proto", fi->tls ? "https" : "http");
	if (fi->host != NULL)
		add_line(lines, &n, "X-Forwarded-Host", fi->host);
	add_line(lines, &n, "X-Request-Id", fi->request_id);
	if (fi->traceparent != NULL)
		add_line(lines, &n, "traceparent", fi->traceparent);
	/* A body's length, always; and an explicit 0 where a body could be
	 * expected, so the upstream never waits for one. */
	if (fi->chunked)
		add_line(lines, &n, "Transfer-Encoding", "chunked");
	else if (fi->body_len > 0 || fi->framed || cmd == EVHTTP_REQ_POST ||
	    cmd == EVHTTP_REQ_PUT || cmd == EVHTTP_REQ_PATCH) {
		snprintf(clen, sizeof(clen), "%zu", fi->body_len);
		add_line(lines, &n, "Content-Length", clen);
	}
	/* The head in one piece of dst: "METHOD URI HTTP/1.1", the fields,
	 * the empty line. */
	total = mlen + 1 + ulen + 11 + 2;
	for (size_t i = 0; i < n; i++)
		total += lines[i].nlen + 2 + (lines[i].pre ? lines[i].plen + 2 : 0) + lines[i].vlen + 2;
	if (evbuffer_reserve_space(dst, (ev_ssize_t)total, &v, 1) < 1 || v.iov_len < total)
		fatalx("forward_request: out of memory");
	p = v.iov_base;
	memcpy(p, method, mlen);
	p += mlen;
	*p++ = ' ';
	memcpy(p, uri, ulen);
	p += ulen;
	memcpy(p, " HTTP/1.1\r\n", 11);
	p += 11;
	for (size_t i = 0; i < n; i++) {
		memcpy(p, lines[i].name, lines[i].nlen);
		p += lines[i].nlen;
		*p++ = ':';
		*p++ = ' ';
		if (lines[i].pre != NULL) {
			memcpy(p, lines[i].pre, lines[i].plen);
			p += lines[i].plen;
			*p++ = ',';
			*p++ = ' ';
		}
		memcpy(p, lines[i].value, lines[i].vlen);
		p += lines[i].vlen;
		*p++ = '\r';
		*p++ = '\n';
	}
	*p++ = '\r';
	*p++ = '\n';
	v.iov_len = total;
	evbuffer_commit_space(dst, &v, 1);
	free(lines);
	if (body != NULL)
		evbuffer_add_buffer(dst, body);
}
