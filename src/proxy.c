/* proxy.c: see proxy.h.
 *
 * Ownership: a proxy_req lives from the request callback until exactly one
 * of (a) evhttp's on-complete callback after the answer was written, or
 * (b) the client connection's close callback, calls proxy_finish(). The
 * upstream request is cancelled in (b), so its callbacks never see a freed
 * context. */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "cors_http.h"
#include "defaults.h"
#include "forward.h"
#include "guard.h"
#include "headers.h"
#include "introspect.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "runtime.h"
#include "tls.h"
#include "proxy.h"
#include "rlgate.h"
#include "qredact.h"
#include "realip.h"
#include "replyhead_http.h"
#include "trace.h"
#include "upset.h"
#include "upstats.h"
#include "upstream.h"
#include "xmalloc.h"

static void proxy_finish(struct proxy_req *pr);

/* Copy at most max bytes of s (NULL: none) to *dst, NUL-terminated, and
 * point *field at it; advances *dst. */
static void
log_copy(char **dst, const char *s, size_t max, const char **field)
{
	size_t n;

	if (s == NULL) {
		*field = NULL;
		return;
	}
	n = strnlen(s, max);
	memcpy(*dst, s, n);
	(*dst)[n] = '\0';
	*field = *dst;
	*dst += n + 1;
}

/* What the access log takes from the request and its connection, copied
 * into one allocation. */
static void
capture_log_fields(struct proxy_req *pr, struct evhttp_request *req,
    struct evhttp_connection *evcon, const char *uri)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *q = uri != NULL ? strchr(uri, '?') : NULL;
	char redacted[SG_LOG_QUERY_MAX + 1];
	SSL *ssl = evcon != NULL ? tls_connection_ssl(evcon) : NULL;
	const char *host = evhttp_find_header(in, "Host");
	const char *ua = evhttp_find_header(in, "User-Agent");
	const char *sni = ssl != NULL ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
	size_t need = 0;
	char *p;

	if (q != NULL)
		need += qredact_apply(pr->cf->redact_query, q + 1, redacted, sizeof(redacted)) + 1;
	need += (host ? strnlen(host, SG_LOG_FIELD_MAX) + 1 : 0) +
	    (ua ? strnlen(ua, SG_LOG_FIELD_MAX) + 1 : 0) + (sni ? strnlen(sni, SG_LOG_FIELD_MAX) + 1 : 0);
	p = pr->log_strings = need > 0 ? xmalloc(need) : NULL;
	log_copy(&p, q != NULL ? redacted : NULL, SG_LOG_QUERY_MAX, &pr->log_query);
	log_copy(&p, host, SG_LOG_FIELD_MAX, &pr->log_host);
	log_copy(&p, ua, SG_LOG_FIELD_MAX, &pr->log_user_agent);
	log_copy(&p, sni, SG_LOG_FIELD_MAX, &pr->log_sni);
	if (ssl != NULL) {
		pr->tls_version = SSL_get_version(ssl);
		pr->tls_cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
	}
	pr->http_version[0] = (char)('0' + (unsigned char)req->major % 10);
	pr->http_version[1] = '.';
	pr->http_version[2] = (char)('0' + (unsigned char)req->minor % 10);
	pr->http_version[3] = '\0';
	pr->upstream_latency_us = -1;
}

static uint64_t
elapsed_us(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - since->tv_sec) * 1000000u +
	    (uint64_t)((now.tv_nsec - since->tv_nsec) / 1000);
}

static void
on_complete(struct evhttp_request *req, void *arg)
{
	(void)req;
	proxy_finish(arg);
}

/* n (at most SG_RANDOM_POOL_BYTES) bytes from OpenSSL's generator, drawn
 * SG_RANDOM_POOL_BYTES at a time per worker thread: each RAND_bytes call
 * costs ~6,800 instructions (a DRBG generate with its AES set-up) however
 * few bytes it returns, and a request needs 24. The bytes are the same
 * generator's output, each handed out once. Returns 0, or -1 when the
 * generator failed. */
static int
random_take(unsigned char *out, size_t n)
{
	static _Thread_local unsigned char pool[SG_RANDOM_POOL_BYTES];
	static _Thread_local size_t left;

	if (left < n) {
		if (RAND_bytes(pool, sizeof(pool)) != 1)
			return -1;
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	/* Not kept once handed out. */
	OPENSSL_cleanse(pool + sizeof(pool) - left, n);
	left -= n;
	return 0;
}

/* The caller's trace context and request id: one valid traceparent is
 * continued (same trace, our span as the parent the upstream sees), any
 * other starts a new trace and its tracestate is dropped; an X-Request-Id
 * is kept only from a peer in trusted_proxies, one field with a sane
 * value (trace_request_id_valid), else ours stays. */
static void
take_trace(struct proxy_req *pr, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *tp = NULL, *rid = NULL;
	int ntp = 0, nrid = 0;
	struct trace_ctx caller, hop;
	unsigned char rnd[24];
	struct evkeyval *kv;

	TAILQ_FOREACH(kv, in, next) {
		/* The first byte settles most fields (one test, no call). */
		unsigned char c0 = (unsigned char)kv->key[0] | 0x20;

		if (c0 == 't' && strcasecmp(kv->key, "traceparent") == 0) {
			tp = kv->value;
			ntp++;
		} else if (c0 == 'x' && strcasecmp(kv->key, "X-Request-Id") == 0) {
			rid = kv->value;
			nrid++;
		}
	}
	if (random_take(rnd, sizeof(rnd)) != 0) {
		/* Unique if not random: the worker's prefix and sequence. */
		ERR_clear_error();
		memset(rnd, 0, sizeof(rnd));
		memcpy(rnd, &pr->w->id_prefix, sizeof(pr->w->id_prefix));
		memcpy(rnd + 8, &pr->w->id_seq, sizeof(pr->w->id_seq));
		memcpy(rnd + 16, &pr->w->id_seq, sizeof(pr->w->id_seq));
	}
	pr->keep_tracestate = ntp == 1 && trace_parse(tp, strlen(tp), &caller) == 0;
	trace_next_hop(pr->keep_tracestate ? &caller : NULL, rnd, &hop);
	trace_format(&hop, pr->traceparent);
	trace_id_hex(&hop, pr->trace_id);
	if (nrid == 1 && pr->cc != NULL && pr->cf->ntrusted_proxies > 0 &&
	    realip_trusted(pr->cf->trusted_proxies, pr->cf->ntrusted_proxies, pr->cc->client_ip) &&
	    trace_request_id_valid(rid))
		snprintf(pr->request_id, sizeof(pr->request_id), "%s", rid);
}

/* A freed context is kept for the next request, except under
 * AddressSanitizer, which must see any use of a finished request. */
#if defined(__SANITIZE_ADDRESS__)
#define PROXY_KEEP_SPARES	0
#else
#define PROXY_KEEP_SPARES	1
#endif

struct gate_decision *
proxy_decision_new(struct worker *w)
{
	struct gate_decision *d = w->spare_gd;

	if (d == NULL)
		return xcalloc(1, sizeof(*d));
	w->spare_gd = NULL;
	memset(d, 0, sizeof(*d));
	return d;
}

void
proxy_worker_free_spares(struct worker *w)
{
	free(w->spare_pr);
	free(w->spare_gd);
	w->spare_pr = NULL;
	w->spare_gd = NULL;
}

struct proxy_req *
proxy_req_new(struct worker *w, struct client_conn *cc, struct evhttp_request *req)
{
	struct proxy_req *pr = w->spare_pr;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const char *uri = evhttp_request_get_uri(req);
	static const char hex[] = "0123456789abcdef";
	uint64_t hi = w->id_prefix, lo = ++w->id_seq;

	/* The last request's context, all zeros again, as calloc gives. */
	if (pr == NULL)
		pr = xcalloc(1, sizeof(*pr));
	else {
		w->spare_pr = NULL;
		memset(pr, 0, sizeof(*pr));
	}
	pr->w = w;
	pr->cf = cfg_ref(w->cf);
	pr->cc = cc;
	pr->req = req;
	clock_gettime(CLOCK_REALTIME, &pr->wall);
	clock_gettime(CLOCK_MONOTONIC, &pr->mono);
	/* 32 hex digits: the worker's random prefix, then its sequence. */
	for (int i = 15; i >= 0; i--, hi >>= 4, lo >>= 4) {
		pr->request_id[i] = hex[hi & 15];
		pr->request_id[16 + i] = hex[lo & 15];
	}
	pr->request_id[32] = '\0';
	pr->client = cc->client;
	pr->client_ip = cc->client_ip;
	pr->method = forward_method_name(evhttp_request_get_command(req));
	if (uri != NULL)
		pr->path = xstrndup(uri, strcspn(uri, "?"));
	pr->decision = "allow";
	pr->reason = "no policy";
	pr->action_idx = METRICS_ACTION_NONE;
	capture_log_fields(pr, req, evcon, uri);
	take_trace(pr, req);
	cc->cur = pr;
	evhttp_request_set_on_complete_cb(req, on_complete, pr);
	/* While we answer, the connection's timer guards the writes. */
	evhttp_connection_set_timeout_tv(evcon, &w->write_tv);
	w->inflight++;
	return pr;
}

/* Write the log line and free the context; see the ownership note. */
static void
proxy_finish(struct proxy_req *pr)
{
	struct accesslog_entry e = {
		.time = pr->wall,
		.request_id = pr->request_id,
		.client = pr->client,
		.method = pr->method,
		.path = pr->path,
		.action = pr->action,
		.decision = pr->decision,
		.reason = pr->reason,
		.status = pr->status,
		.subject = pr->subject,
		.token_id = pr->token_id,
		.scope = pr->scope,
		.upstream_status = pr->upstream_status,
		.latency_us = elapsed_us(&pr->mono),
		.bytes_in = pr->bytes_in,
		.bytes_out = pr->bytes_out,
		.forwarded_client = pr->xff != NULL ? pr->client_ip : NULL,
		.client_cert_subject = pr->cc ? pr->cc->cert_subject : NULL,
		.client_cert_sha256 = pr->cc ? pr->cc->cert_sha256 : NULL,
		.query = pr->log_query,
		.host = pr->log_host,
		.user_agent = pr->log_user_agent,
		.http_version = pr->http_version,
		.upstream_addr = pr->upstream_addr[0] ? pr->upstream_addr : NULL,
		.upstream_latency_us = pr->upstream_latency_us,
		.tls_version = pr->tls_version,
		.tls_cipher = pr->tls_cipher,
		.sni = pr->log_sni,
		.trace_id = pr->trace_id,
	};
	struct worker *w = pr->w;

	if (pr->finished)
		return;
	pr->finished = 1;
	rlgate_abandon(pr);
	worker_log(w, &e);
	metrics_observe_request(w->metrics, pr->action_idx, pr->action,
	    metrics_decision_from_str(pr->decision), pr->status, e.latency_us);
	if (pr->gd != NULL && pr->gd->would_deny != NULL && strcmp(pr->decision, "deny") != 0)
		metrics_would_deny(w->metrics, pr->action_idx, pr->action, pr->gd->would_deny);
	if (pr->body != NULL) {
		guard_body_release(w, pr->body_held);
		evbuffer_free(pr->body);
	}
	if (pr->gd != NULL) {
		gate_decision_release(pr->gd);
		if (PROXY_KEEP_SPARES && w->spare_gd == NULL)
			w->spare_gd = pr->gd;
		else
			free(pr->gd);
	}
	if (pr->cc != NULL) {
		pr->cc->cur = NULL;
		/* Back to the keep-alive/header timer for the next request. */
		evhttp_connection_set_timeout_tv(pr->cc->evcon, &w->header_tv);
		guard_await_head(pr->cc);
		const char *conn = evhttp_find_header(evhttp_request_get_output_headers(pr->req),
		    "Connection");
		guard_next(pr->cc, conn != NULL && strcasecmp(conn, "close") == 0);
	}
	if (pr->ux != NULL)
		upstream_cancel(pr->ux);
	/* Gone while its token was being introspected: no resume for it. */
	if (pr->iwait != NULL)
		introspect_cancel(w->intro, pr->iwait);
	worker_kid_done(w, pr);
	introspect_entry_release(pr->ientry);
	if (pr->piece != NULL)
		evbuffer_free(pr->piece);
	if (pr->retry_wire != NULL)
		evbuffer_free(pr->retry_wire);
	free(pr->path);
	free(pr->log_strings);
	free(pr->subject);
	free(pr->token_id);
	runtime_cfg_release(w->rt, pr->cf);
	if (PROXY_KEEP_SPARES && w->spare_pr == NULL)
		w->spare_pr = pr;
	else
		free(pr);
	worker_request_done(w);
}

static void
add_common_reply_headers(struct proxy_req *pr, struct evkeyvalq *out)
{
	/* Ours alone: the upstream's own arrives renamed (upstream_head_cb). */
	evhttp_remove_header(out, "X-Request-Id");
	evhttp_add_header(out, "X-Request-Id", pr->request_id);
	cors_http_reply_headers(pr, out);
	/* While draining, tell keep-alive clients to go elsewhere. */
	if (pr->w->draining) {
		evhttp_remove_header(out, "Connection");
		evhttp_add_header(out, "Connection", "close");
	}
}

/* Append s to buf as a JSON string. */
static void
append_json_string(struct evbuffer *buf, const char *s)
{
	evbuffer_add(buf, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			evbuffer_add_printf(buf, "\\%c", c);
		else if (c < 0x20)
			evbuffer_add_printf(buf, "\\u%04x", c);
		else
			evbuffer_add(buf, s, 1);
	}
	evbuffer_add(buf, "\"", 1);
}

void
proxy_reply_error(struct proxy_req *pr, int status, const char *type,
    const char *message, const char *www_auth)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(pr->req);
	struct evbuffer *body = evbuffer_new();

	if (body == NULL)
		fatalx("evbuffer_new: out of memory");
	evbuffer_add_printf(body, "{\"type\":");
	append_json_string(body, type);
	evbuffer_add_printf(body, ",\"message\":");
	append_json_string(body, message);
	evbuffer_add_printf(body, "}\n");
	evhttp_add_header(out, "Content-Type", "application/json");
	evhttp_add_header(out, "Cache-Control", "no-store");
	/* Refused before its body was read: the bytes that follow cannot be
	 * told from the next request, so none is read. */
	if (pr->cc != NULL && pr->body_announced && !pr->body_read) {
		if (evhttp_find_header(out, "Connection") == NULL)
			evhttp_add_header(out, "Connection", "close");
		guard_close(pr->cc);
	}
	if (www_auth != NULL)
		evhttp_add_header(out, "WWW-Authenticate", www_auth);
	add_common_reply_headers(pr, out);
	pr->status = status;
	/* No body for HEAD: a client would read it as the next response. */
	if (evhttp_request_get_command(pr->req) == EVHTTP_REQ_HEAD)
		evbuffer_drain(body, evbuffer_get_length(body));
	pr->bytes_out = evbuffer_get_length(body);
	pr->reply_started = 1;
	evhttp_send_reply(pr->req, status, headers_reason_phrase(status), body);
	evbuffer_free(body);
}

/* Is name listed in one of the answer's Connection fields? */
static int
named_by_upstream(const struct uresp *r, const char *name)
{
	char value[1024];

	for (size_t i = 0; i < r->nfields; i++) {
		const struct uresp_field *f = &r->fields[i];
		size_t n;

		if (f->name_len != 10 || strncasecmp(f->name, "Connection", 10) != 0)
			continue;
		/* As snprintf "%.*s" would, without its ~600 instructions. */
		n = f->value_len == 0 ? 0 :
		    strnlen(f->value, f->value_len < sizeof(value) ? f->value_len : sizeof(value) - 1);
		memcpy(value, f->value, n);
		value[n] = '\0';
		if (headers_connection_names(value, name))
			return 1;
	}
	return 0;
}

/* The names the answer's Connection fields list, gathered once per answer
 * (named_by_upstream copies and parses every Connection value for every
 * field passed on), read as it reads them: each value up to its first
 * 1023 bytes, names between commas, blanks around them dropped. */
#define CONN_NAMES_MAX	16
struct conn_names {
	size_t n;
	int many;		/* more than CONN_NAMES_MAX: named_by_upstream decides */
	struct {
		const char *p;
		size_t len;
	} t[CONN_NAMES_MAX];
};

static void
conn_names_gather(const struct uresp *r, struct conn_names *cn)
{
	cn->n = 0;
	cn->many = 0;
	for (size_t i = 0; i < r->nfields && !cn->many; i++) {
		const struct uresp_field *f = &r->fields[i];
		const char *p = f->value, *e, *start, *end;

		if (f->name_len != 10 || strncasecmp(f->name, "Connection", 10) != 0)
			continue;
		e = p + (f->value_len == 0 ? 0 : strnlen(p, f->value_len < 1024 ? f->value_len : 1023));
		while (p < e) {
			while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
				p++;
			start = p;
			while (p < e && *p != ',')
				p++;
			end = p;
			while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			if (end == start)
				continue;
			if (cn->n == CONN_NAMES_MAX) {
				cn->many = 1;
				break;
			}
			cn->t[cn->n].p = start;
			cn->t[cn->n].len = (size_t)(end - start);
			cn->n++;
		}
	}
}

/* Is name (len bytes) listed in the answer's Connection fields? */
static int
conn_names_has(const struct uresp *r, const struct conn_names *cn, const char *name, size_t len)
{
	if (cn->many)
		return named_by_upstream(r, name);
	for (size_t i = 0; i < cn->n; i++)
		if (cn->t[i].len == len && strncasecmp(cn->t[i].p, name, len) == 0)
			return 1;
	return 0;
}

static const struct upstream_cbs upstream_callbacks;
static uint32_t proxy_route(const struct proxy_req *pr);

/* The action's own upstream timeout (route_settings), when it has one:
 * one pointer test for configurations without any. */
static void
proxy_route_timeout(struct proxy_req *pr)
{
	const struct cfg_upstreams *u = &pr->cf->ups;

	if (u->action_timeout_ms != NULL && pr->action_idx < u->nactions &&
	    u->action_timeout_ms[pr->action_idx] > 0)
		upstream_set_timeout(pr->ux, u->action_timeout_ms[pr->action_idx]);
}
static int proxy_retry(struct proxy_req *pr, enum upstream_error err, const char *why);

/* Before the client hears of a successful token deletion or deactivation,
 * the revocation is on disk (synced). */
static void
proxy_revoke_learn(struct proxy_req *pr)
{
	if (pr->revoke.op != REVOKE_OP_NONE &&
	    revoke_learn_apply(pr->w->rt->revocations, &pr->revoke, pr->upstream_status) != REVOKE_OK)
		log_warnx("request %s: could not record the token lifecycle change for %s",
		    pr->request_id, pr->revoke.id);
}

/* The longest upstream field name and value passed on (the C string
 * copies head_through_evhttp makes for evhttp). */
#define PASSED_NAME_MAX		256
#define PASSED_VALUE_MAX	8192

/* The upstream's field f of the answer to pr, as evhttp's list would get
 * it (upstream_head_cb): NULL when it is not passed on, else the name to
 * give it (its own or the gateway's rename); name is scratch for a C
 * string copy of the name. */
static const char *
upstream_field_name(const struct proxy_req *pr, const struct uresp *r,
    const struct uresp_field *f, const struct conn_names *cn,
    char *name, size_t name_size, size_t value_size)
{
	const char *rename;

	/* evhttp wants C strings; the parser bounds what it passes (a field
	 * longer than these copies is not one to pass on). */
	if (f->name_len >= name_size || f->value_len >= value_size)
		return NULL;
	memcpy(name, f->name, f->name_len);
	name[f->name_len] = '\0';
	if (headers_drop_from_upstream(name) ||
	    (cn != NULL && conn_names_has(r, cn, name, f->name_len)))
		return NULL;
	/* The gateway states the rate limit on this answer: a second,
	 * contradicting account from the upstream is not passed on. */
	if (pr->rl_headers && headers_is_ratelimit(name))
		return NULL;
	/* A 204 has no body (RFC 9110 8.6: no Content-Length either): a
	 * client honouring the upstream's would take the start of the next
	 * answer on the connection as this one's body. */
	if (r->status == 204 && strcasecmp(name, "Content-Length") == 0)
		return NULL;
	rename = headers_upstream_rename(name);
	return rename != NULL ? rename : f->name;
}

/* Can this answer's head be written by the gateway (replyhead.h) rather
 * than by evhttp_send_reply_start? For what replyhead reproduces: an
 * HTTP/1.1 client, not HEAD (evhttp would drop the head as a body), a
 * target in origin form (evhttp treats an absolute one as a proxy request,
 * with other Connection rules), and no CORS rule (cors_http works on
 * evhttp's list). */
static int
own_head_possible(const struct proxy_req *pr)
{
	const char *uri = evhttp_request_get_uri(pr->req);

	return strcmp(pr->http_version, "1.1") == 0 && uri != NULL && uri[0] == '/' &&
	    evhttp_request_get_command(pr->req) != EVHTTP_REQ_HEAD &&
	    (pr->cf == NULL || pr->cf->cors == NULL) &&
	    evhttp_request_get_connection(pr->req) != NULL;
}

/* Does the answer to pr carry a body (RFC 9110 6.4.1)? */
static int
answer_has_body(const struct proxy_req *pr)
{
	return evhttp_request_get_command(pr->req) != EVHTTP_REQ_HEAD &&
	    replyhead_status_has_body(pr->status);
}

/* An HTTP/1.0 client that asked for keep-alive, and an answer of a length
 * not known ahead (chunked or close-delimited upstream): evhttp would say
 * "Content-Length: 0" (its empty output buffer) and keep the connection,
 * so the client would take the body for the start of the next answer. The
 * connection ends with the answer instead and the close delimits the body,
 * as HTTP/1.0 frames it: evhttp decides keep-alive for a 1.0 client by its
 * request's Connection field, which is dropped here (it was forwarded and
 * logged already). */
static void
end_with_answer(struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	while (evhttp_remove_header(in, "Connection") == 0)
		;
	while (evhttp_remove_header(out, "Connection") == 0)
		;
	evhttp_add_header(out, "Connection", "close");
}

/* The answer's head, the upstream's fields passed on with the gateway's,
 * through evhttp's list and evhttp_send_reply_start. */
static void
head_through_evhttp(struct proxy_req *pr, const struct uresp *r, const struct conn_names *cn,
    const char *reason)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(pr->req);
	char name[PASSED_NAME_MAX], value[PASSED_VALUE_MAX];

	for (size_t i = 0; i < r->nfields; i++) {
		const struct uresp_field *f = &r->fields[i];
		const char *as = upstream_field_name(pr, r, f, cn, name, sizeof(name), sizeof(value));

		if (as == NULL)
			continue;
		if (as == f->name)
			as = name;
		memcpy(value, f->value, f->value_len);
		value[f->value_len] = '\0';
		evhttp_add_header(out, as, value);
	}
	add_common_reply_headers(pr, out);
	/* The upstream answered before the whole (streamed) body came: the
	 * rest of it is not read, and the connection ends with the answer. */
	if (pr->cc != NULL && pr->body_announced && !pr->body_read) {
		evhttp_remove_header(out, "Connection");
		evhttp_add_header(out, "Connection", "close");
		guard_close(pr->cc);
	}
	if (strcmp(pr->http_version, "1.0") == 0 && evhttp_find_header(out, "Content-Length") == NULL &&
	    answer_has_body(pr))
		end_with_answer(pr->req);
	proxy_revoke_learn(pr);
	pr->reply_started = 1;
	evhttp_send_reply_start(pr->req, pr->status, reason);
}

/* The same head, written by the gateway (replyhead.h): the same steps on
 * the same list, evhttp_send_reply_start's own added by replyhead_finish,
 * then handed to evhttp as the first piece of a reply it does not frame
 * (replyhead_http.h). */
static void
head_own(struct proxy_req *pr, const struct uresp *r, const struct conn_names *cn,
    const char *reason)
{
	struct replyhead h;
	char name[PASSED_NAME_MAX];
	int cut = pr->cc != NULL && pr->body_announced && !pr->body_read;

	replyhead_http_begin(&h, pr->req);
	for (size_t i = 0; i < r->nfields; i++) {
		const struct uresp_field *f = &r->fields[i];
		const char *as = upstream_field_name(pr, r, f, cn, name, sizeof(name), PASSED_VALUE_MAX);

		if (as != NULL)
			replyhead_add(&h, as, as == f->name ? f->name_len : strlen(as),
			    f->value, f->value_len);
	}
	/* add_common_reply_headers, with no CORS rule (own_head_possible). */
	replyhead_remove(&h, "X-Request-Id");
	replyhead_add(&h, "X-Request-Id", 12, pr->request_id, strlen(pr->request_id));
	if (pr->w->draining) {
		replyhead_remove(&h, "Connection");
		replyhead_add(&h, "Connection", 10, "close", 5);
	}
	/* The body is not read to its end: as in head_through_evhttp. */
	if (cut) {
		replyhead_remove(&h, "Connection");
		replyhead_add(&h, "Connection", 10, "close", 5);
	}
	if (replyhead_http_prepare(&h, pr->req, pr->status, pr->h_connection) != 0) {
		/* More fields than the list holds: nothing was changed yet. */
		head_through_evhttp(pr, r, cn, reason);
		return;
	}
	if (cut)
		guard_close(pr->cc);
	proxy_revoke_learn(pr);
	pr->reply_started = 1;
	pr->own_head = 1;
	pr->own_chunked = (unsigned)h.chunked;
	pr->own_held = 1;
	replyhead_http_start(&h, pr->req, pr->status, reason);
}

/* Upstream answered with a status line and headers: pass them on and
 * start the streamed reply. */
static void
upstream_head_cb(void *arg, const struct uresp *r)
{
	struct proxy_req *pr = arg;
	char reason[128];
	struct conn_names names, *cn = NULL;
	size_t n;

	pr->upstream_status = r->status;
	pr->status = r->status;
	pr->upstream_latency_us = (int64_t)elapsed_us(&pr->upstream_sent);
	upset_report(pr->w->ups, pr->pool, r->status < 500 ? UPSET_OK : UPSTATS_5XX,
	    pr->upstream_latency_us);
	metrics_observe_upstream(pr->w->metrics, (uint64_t)pr->upstream_latency_us);
	upstream_exchange_addr(pr->ux, pr->upstream_addr, sizeof(pr->upstream_addr));
	for (size_t i = 0; i < r->nfields && cn == NULL; i++)
		if (r->fields[i].name_len == 10 &&
		    strncasecmp(r->fields[i].name, "Connection", 10) == 0)
			conn_names_gather(r, cn = &names);
	n = r->reason_len == 0 ? 0 :
	    strnlen(r->reason, r->reason_len < sizeof(reason) ? r->reason_len : sizeof(reason) - 1);
	memcpy(reason, r->reason, n);
	reason[n] = '\0';
	/* The phrase is optional on the wire (RFC 9112 4); give ours. */
	if (own_head_possible(pr))
		head_own(pr, r, cn, reason[0] != '\0' ? reason : headers_reason_phrase(pr->status));
	else
		head_through_evhttp(pr, r, cn,
		    reason[0] != '\0' ? reason : headers_reason_phrase(pr->status));
}

/*
 * The client took everything we had queued: read from the upstream again.
 * The argument is the connection (struct client_conn), not the request:
 * evhttp keeps this callback on the connection after the answer ends, and
 * OpenSSL's bufferevent runs its write callback deferred, so a call can
 * come after the request it was set for is over and freed (proxy_finish)
 * or while the connection serves the next one. The request is looked up
 * at the call, and only an output that is really empty resumes it (a late
 * call finds a later answer's bytes still queued; the real drain calls
 * again).
 */
static void
client_drained_cb(struct evhttp_connection *evcon, void *arg)
{
	struct client_conn *cc = arg;
	struct proxy_req *pr = cc->cur;

	if (pr == NULL || evbuffer_get_length(bufferevent_get_output(
	    evhttp_connection_get_bufferevent(evcon))) != 0)
		return;
	if (pr->paused && pr->ux != NULL) {
		pr->paused = 0;
		upstream_pause(pr->ux, 0);
	}
}

/* A piece of the upstream's body: pass it on at once (SSE events must not
 * wait), and stop reading from the upstream while the client is behind, so
 * a large answer to a slow client does not pile up in memory. */
static void
upstream_body_cb(void *arg, const char *data, size_t len)
{
	struct proxy_req *pr = arg;
	struct evhttp_connection *cevcon = evhttp_request_get_connection(pr->req);

	pr->bytes_out += len;
	/* evhttp sends nothing for an empty piece; a chunk of our own
	 * framing would be the last one. */
	if (cevcon == NULL || len == 0)
		return;
	/* Through the worker's scratch buffer (empty between uses) rather
	 * than an evbuffer made per request; emptied again whatever evhttp
	 * took, so that nothing of this answer can reach another use. */
	if (evbuffer_get_length(pr->w->scratch) == 0) {
		replyhead_http_piece(pr->w->scratch, pr->own_held, pr->own_chunked, data, len);
		evhttp_send_reply_chunk_with_cb(pr->req, pr->w->scratch, client_drained_cb, pr->cc);
		evbuffer_drain(pr->w->scratch, evbuffer_get_length(pr->w->scratch));
	} else {
		if (pr->piece == NULL && (pr->piece = evbuffer_new()) == NULL)
			fatalx("evbuffer_new: out of memory");
		replyhead_http_piece(pr->piece, pr->own_held, pr->own_chunked, data, len);
		evhttp_send_reply_chunk_with_cb(pr->req, pr->piece, client_drained_cb, pr->cc);
	}
	pr->own_held = 0;
	if (evbuffer_get_length(bufferevent_get_output(
	    evhttp_connection_get_bufferevent(cevcon))) > SG_STREAM_HIGH_WATER) {
		pr->paused = 1;
		upstream_pause(pr->ux, 1);
	}
}

static void
upstream_done_cb(void *arg)
{
	struct proxy_req *pr = arg;

	pr->ux = NULL;
	if (pr->own_head)
		replyhead_http_end(pr->req, pr->own_held, pr->own_chunked, pr->w->scratch);
	else
		evhttp_send_reply_end(pr->req);
}

/* Everything the upstream sent so far was passed on: the head's last
 * CRLF, held back to go with the body (replyhead_http_start), goes now. */
static void
upstream_idle_cb(void *arg)
{
	struct proxy_req *pr = arg;

	if (pr->own_held && evhttp_request_get_connection(pr->req) != NULL) {
		replyhead_http_flush(pr->req, pr->w->scratch);
		pr->own_held = 0;
	}
}

static void
upstream_error_cb(void *arg, enum upstream_error err, const char *why)
{
	struct proxy_req *pr = arg;
	const char *up = upstream_pool_authority(pr->pool);

	pr->ux = NULL;
	if (upset_report(pr->w->ups, pr->pool, err == UPSTREAM_ERR_TIMEOUT ? UPSTATS_TIMEOUT :
	    err == UPSTREAM_ERR_RESET || err == UPSTREAM_ERR_CLOSED ? UPSTATS_RESET :
	    err == UPSTREAM_ERR_PROTOCOL ? UPSTATS_INVALID : UPSTATS_CONNECT, -1))
		log_warnx("upstream %s: ejected after consecutive failures (last: %s)", up, why);
	if (!pr->reply_started && proxy_retry(pr, err, why))
		return;
	if (!pr->reply_started) {
		pr->decision = "error";
		if (err == UPSTREAM_ERR_TIMEOUT) {
			metrics_upstream_error(pr->w->metrics, METRICS_UPSTREAM_TIMEOUT);
			pr->reason = "upstream_timeout";
			log_warnx("request %s: upstream %s timed out: %s", pr->request_id, up, why);
			proxy_reply_error(pr, 504, "GatewayTimeout",
			    "The upstream service did not answer in time", NULL);
		} else if (err == UPSTREAM_ERR_TLS) {
			metrics_upstream_error(pr->w->metrics, METRICS_UPSTREAM_CONNECT);
			pr->reason = "upstream_tls";
			log_warnx("request %s: upstream %s TLS: %s", pr->request_id, up, why);
			proxy_reply_error(pr, 502, "BadGateway",
			    "The upstream service could not be reached securely", NULL);
		} else if (err == UPSTREAM_ERR_PROTOCOL) {
			metrics_upstream_error(pr->w->metrics, METRICS_UPSTREAM_CONNECT);
			pr->reason = "upstream_invalid";
			log_warnx("request %s: upstream %s answered invalid HTTP: %s",
			    pr->request_id, up, why);
			proxy_reply_error(pr, 502, "BadGateway",
			    "The upstream service sent an invalid answer", NULL);
		} else {
			/* Connected, then lost before an answer: "reset";
			 * never connected: "connect". */
			metrics_upstream_error(pr->w->metrics, err == UPSTREAM_ERR_RESET ?
			    METRICS_UPSTREAM_RESET : METRICS_UPSTREAM_CONNECT);
			pr->reason = "upstream_unavailable";
			log_warnx("request %s: upstream %s failed: %s", pr->request_id, up, why);
			proxy_reply_error(pr, 502, "BadGateway",
			    "The upstream service could not be reached", NULL);
		}
		return;
	}
	/* The answer broke off after we started passing it on: the only
	 * honest signal left is to abort the client's connection, never to
	 * end the response as if it were complete. */
	metrics_upstream_error(pr->w->metrics, METRICS_UPSTREAM_ABORTED);
	pr->reason = "upstream_aborted";
	log_warnx("request %s: upstream response broke off after %" PRIu64 " bytes (%s)",
	    pr->request_id, pr->bytes_out, why);
	evhttp_connection_free(evhttp_request_get_connection(pr->req));
}

/* A connection to the server could not be made, or was lost before a
 * byte of the answer: send an idempotent request (kept in retry_wire)
 * once more to another server of its upstream, up to its retries. Never
 * after a timeout (the server may be acting on it) nor for POST or
 * PATCH (no retry_wire). 1 when sent again. */
static int
proxy_retry(struct proxy_req *pr, enum upstream_error err, const char *why)
{
	struct upstream_pool *next;
	int rc = 0;

	if (pr->retry_wire == NULL || pr->retries_left <= 0 ||
	    (err != UPSTREAM_ERR_CONNECT && err != UPSTREAM_ERR_RESET))
		goto out;
	if ((next = upset_pick(pr->w->ups, proxy_route(pr), pr->pool)) == NULL)
		goto out;
	pr->retries_left--;
	metrics_upstream_retried(pr->w->metrics);
	log_info("request %s: upstream %s: %s; sent again to %s", pr->request_id,
	    upstream_pool_authority(pr->pool), why, upstream_pool_authority(next));
	pr->pool = next;
	evbuffer_add(pr->w->scratch, evbuffer_pullup(pr->retry_wire, -1),
	    evbuffer_get_length(pr->retry_wire));
	clock_gettime(CLOCK_MONOTONIC, &pr->upstream_sent);
	upset_sent(next);
	pr->ux = upstream_send(next, pr->w->scratch, pr->retry_flags, &upstream_callbacks, pr);
	proxy_route_timeout(pr);
	rc = 1;
out:
	return rc;
}

static void
upstream_retried_cb(void *arg, const char *why)
{
	struct proxy_req *pr = arg;

	metrics_upstream_retried(pr->w->metrics);
	log_info("request %s: upstream %s: %s; sent again on a new connection",
	    pr->request_id, upstream_pool_authority(pr->pool), why);
}

/* A streamed request body's bytes went out to the upstream. */
static void
upstream_drained_cb(void *arg)
{
	struct proxy_req *pr = arg;

	if (pr->cc != NULL)
		guard_stream_drained(pr->cc);
}

static const struct upstream_cbs upstream_callbacks = {
	.head = upstream_head_cb,
	.body = upstream_body_cb,
	.done = upstream_done_cb,
	.error = upstream_error_cb,
	.retried = upstream_retried_cb,
	.drained = upstream_drained_cb,
	.idle = upstream_idle_cb,
};

void
proxy_client_closed(struct proxy_req *pr)
{
	if (pr->ux != NULL) {
		/* The upstream connection is closed; no more callbacks. */
		upstream_cancel(pr->ux);
		pr->ux = NULL;
	}
	if (pr->reason == NULL || strcmp(pr->reason, "upstream_aborted") != 0)
		pr->reason = "client_closed";
	if (!pr->reply_started)
		pr->status = 499;	/* nginx's "client closed request" */
	pr->cc = NULL;
	/* Detached by evhttp (client EOF before we were done): it is ours to
	 * free, which ending the reply does. Otherwise evhttp frees it. */
	if (evhttp_request_get_connection(pr->req) == NULL)
		evhttp_send_reply_end(pr->req);
	proxy_finish(pr);
}

/* RFC 9110 9.2.2: GET, HEAD, OPTIONS, PUT and DELETE may be sent again when
 * a reused upstream connection was closed under them; POST and PATCH not. */
static unsigned
upstream_flags(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_HEAD:
		return UPSTREAM_HEAD | UPSTREAM_IDEMPOTENT;
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_OPTIONS:
	case EVHTTP_REQ_PUT:
	case EVHTTP_REQ_DELETE:
		return UPSTREAM_IDEMPOTENT;
	default:
		return 0;
	}
}

/* The upstream group of the request, in the worker's current
 * configuration (the one its pools were made for). */
static uint32_t
proxy_route(const struct proxy_req *pr)
{
	const struct cfg *cf = pr->w->cf;
	size_t idx = pr->action_idx;

	/* Begun before a reload: its action index is the old policy's, so
	 * look the action up by name in the new one (rare; never on the
	 * usual path). */
	if (pr->cf != cf && pr->action != NULL) {
		const struct policy_action *a = cf->policy != NULL ?
		    policy_action_find(cf->policy, pr->action) : NULL;
		idx = a != NULL ? a->index : METRICS_ACTION_NONE;
	}
	return cfg_upstreams_route(&cf->ups, idx, evhttp_request_get_uri(pr->req));
}

void
proxy_forward(struct proxy_req *pr)
{
	proxy_forward_stream(pr, 0);
}

void
proxy_forward_stream(struct proxy_req *pr, int stream)
{
	struct evhttp_request *req = pr->req;
	struct evbuffer *body = stream ? NULL : pr->body;
	struct forward_info fi;
	uint32_t group = proxy_route(pr);
	const struct cfg_upstream_group *cg = &pr->w->cf->ups.groups[group];

	/* A streamed body is on its way: a server all the same (the answer
	 * is then the server's, or 502). */
	pr->pool = stream ? upset_pick_any(pr->w->ups, group, NULL) :
	    upset_pick(pr->w->ups, group, NULL);
	if (pr->pool == NULL) {
		/* Every server ejected: say so at once, never wait. */
		metrics_upstream_error(pr->w->metrics, METRICS_UPSTREAM_CONNECT);
		pr->decision = "error";
		pr->reason = "upstream_unavailable";
		log_warnx("request %s: upstream %s: every server is ejected or down", pr->request_id,
		    cg->name);
		proxy_reply_error(pr, 503, "ServiceUnavailable",
		    "No server of the upstream service is available", NULL);
		return;
	}
	fi = (struct forward_info){
		.h_connection = pr->h_connection,
		.n_connection = pr->n_connection,
		.host = pr->h_host,
		.authority = upstream_pool_authority(pr->pool),
		.client_ip = pr->cc != NULL ? pr->cc->client_ip : pr->client_ip,
		.xff_chain = pr->xff,
		.tls = pr->tls,
		.request_id = pr->request_id,
		.body_len = stream ? (size_t)pr->cc->body_length :
		    body != NULL ? evbuffer_get_length(body) : 0,
		.framed = pr->h_framed,
		.chunked = stream && pr->cc->body_chunked,
		.traceparent = pr->traceparent,
		.keep_tracestate = pr->keep_tracestate,
	};
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evbuffer *wire = pr->w->scratch;

	pr->bytes_in = stream ? 0 : fi.body_len;
	forward_request(wire, cmd, evhttp_request_get_uri(req),
	    evhttp_request_get_input_headers(req), &fi, body);
	/* The body is the upstream connection's to write now. */
	if (pr->body_held > 0) {
		guard_body_release(pr->w, pr->body_held);
		pr->body_held = 0;
	}
	pr->retry_flags = upstream_flags(cmd) | (stream ? UPSTREAM_STREAM : 0);
	/* Kept to send again to another server: a copy only where it may be
	 * used (never for the one-server upstream). */
	if (!stream && (pr->retry_flags & UPSTREAM_IDEMPOTENT) && cg->retries > 0 &&
	    cg->nservers > 1) {
		if ((pr->retry_wire = evbuffer_new()) == NULL)
			fatalx("evbuffer_new: out of memory");
		evbuffer_add(pr->retry_wire, evbuffer_pullup(wire, -1), evbuffer_get_length(wire));
		pr->retries_left = (int)cg->retries;
	}
	clock_gettime(CLOCK_MONOTONIC, &pr->upstream_sent);
	upset_sent(pr->pool);
	pr->ux = upstream_send(pr->pool, wire, pr->retry_flags, &upstream_callbacks, pr);
	proxy_route_timeout(pr);
}
