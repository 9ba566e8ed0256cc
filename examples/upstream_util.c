/* upstream_util.c: small helpers of example-upstream (allocation, jansson
 * wrappers that abort on out-of-memory, JSON replies in the Losant shapes).
 * The program does not link libscopegate.a, so it carries its own. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "upstream.h"

void
upstream_oom(void)
{
	fprintf(stderr, "example-upstream: out of memory\n");
	abort();
}

void *
upstream_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		upstream_oom();
	return p;
}

char *
upstream_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		upstream_oom();
	return p;
}

json_t *
upstream_jmust(json_t *v)
{
	if (v == NULL)
		upstream_oom();
	return v;
}

void
upstream_jset(json_t *obj, const char *key, json_t *val)
{
	if (val == NULL || json_object_set_new(obj, key, val) != 0)
		upstream_oom();
}

void
upstream_jappend(json_t *arr, json_t *val)
{
	if (val == NULL || json_array_append_new(arr, val) != 0)
		upstream_oom();
}

json_t *
upstream_jbytes(const char *p, size_t n, int *latin1)
{
	json_t *v;
	char *u;
	size_t i, o = 0;

	if (latin1 != NULL)
		*latin1 = 0;
	if ((v = json_stringn(p, n)) != NULL)
		return v;
	if (latin1 != NULL)
		*latin1 = 1;
	u = upstream_xcalloc(2 * n + 1, 1);
	for (i = 0; i < n; i++) {
		unsigned char b = (unsigned char)p[i];

		if (b < 0x80)
			u[o++] = (char)b;
		else {
			u[o++] = (char)(0xc0 | (b >> 6));
			u[o++] = (char)(0x80 | (b & 0x3f));
		}
	}
	v = upstream_jmust(json_stringn(u, o));
	free(u);
	return v;
}

void
upstream_reply_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = NULL;
	char *s;

	if ((s = json_dumps(body, JSON_COMPACT)) == NULL ||
	    (buf = evbuffer_new()) == NULL)
		upstream_oom();
	if (evbuffer_add(buf, s, strlen(s)) != 0)
		upstream_oom();
	evhttp_remove_header(hdrs, "Content-Type");
	evhttp_add_header(hdrs, "Content-Type", "application/json");
	evhttp_send_reply(req, code, NULL, buf);
	evbuffer_free(buf);
	free(s);
	json_decref(body);
}

void
upstream_reply_error(struct evhttp_request *req, int code, const char *type,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = upstream_jmust(json_object());
	upstream_jset(o, "type", json_string(type));
	upstream_jset(o, "message", upstream_jbytes(msg, strlen(msg), NULL));
	upstream_reply_json(req, code, o);
}

const char *
upstream_method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
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
