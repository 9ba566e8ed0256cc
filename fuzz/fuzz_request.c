/* fuzz_request.c: raw request bytes through the daemon's whole request
 * path, in-process and without sockets, with the shipped Losant policy:
 *
 *   the raw-bytes guard (reqscan, daemon limits, fed as worker.c's
 *   client_input_cb feeds it) -> libevent 2.1.12's own request parser
 *   (evhttp_parse_firstline_ / evhttp_parse_headers_) -> the body as the
 *   accepted framing delimits it -> framing_check (worker.c's
 *   check_framing) -> canon_target -> policy_match -> authz_decide with a
 *   fixed scope set -> forward_request (what proxy_forward hands to the
 *   gateway's upstream client, byte for byte) -> a fresh guard and libevent's parser again
 *   over the bytes the upstream would receive.
 *
 * Only the first request of an input is followed. The invariants:
 *
 *  - every refusal (guard, framing, target, decision) has a status the
 *    daemon can answer (4xx/5xx; 400 or 414 for a target);
 *  - the guard and libevent agree on where the head ends;
 *  - an accepted target keeps canon's promises (see check_accepted_target)
 *    and a route match agrees with its template; authz allows only what
 *    the fixed scopes reach with a valid token, or public actions;
 *  - what is forwarded passes a fresh guard as exactly one request, parses
 *    with libevent to the same method, the same URI byte for byte (whose
 *    canonical form and route are the same), exactly one Content-Length
 *    equal to the body length when there is a body and no
 *    Transfer-Encoding, the same body bytes after the head; no field the
 *    gateway sets (X-Forwarded-For/-Proto/-Host, X-Request-Id) twice, no
 *    method-override field; and framing_check accepts it.
 *
 * The token is taken as valid (with the fixed scopes) when the request
 * carries exactly one Authorization field and its value is "Bearer valid";
 * any other Authorization is a token that failed verification.
 * The policy is loaded once from $top_srcdir/conf/policy.json (top_srcdir
 * defaults to "."). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "authz.h"
#include "canon.h"
#include "chars.h"
#include "defaults.h"
#include "errlist.h"
#include "forward.h"
#include "framing.h"
#include "jsonconf.h"
#include "policy.h"
#include "proxy.h"
#include "reqscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * libevent 2.1.12 exports its parser's entry points (http-internal.h,
 * not installed): they read the first line, then the header lines, of an
 * evhttp_request of kind EVHTTP_REQUEST from an evbuffer, consuming them.
 * With req->evcon NULL they skip the max_headers_size checks (the guard
 * enforces the daemon's limit first) and need nothing else but for an
 * absolute-form http(s) target, where evhttp_parse_request_line looks the
 * host up among req->evcon->http_server's vhosts: such targets are kept
 * away from the parser (see proxy_form). The enum is http-internal.h's.
 */
enum message_read_status {
	ALL_DATA_READ = 1,
	MORE_DATA_EXPECTED = 0,
	DATA_CORRUPTED = -1,
	REQUEST_CANCELED = -2,
	DATA_TOO_LONG = -3
};
enum message_read_status evhttp_parse_firstline_(struct evhttp_request *, struct evbuffer *);
enum message_read_status evhttp_parse_headers_(struct evhttp_request *, struct evbuffer *);

/* The methods worker.c lets evhttp pass (the rest are answered 501). */
#define ALLOWED_METHODS (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | \
	EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH)

/* The forwarded head grows by the fields the gateway adds; X-Forwarded-Host
 * repeats the Host value, so it may double. */
#define REPARSE_MAX_HEAD (2 * SG_DEFAULT_MAX_HEADER_BYTES + 1024)

static struct policy *pol;
static struct policy_scopeset fixed_scopes;
static json_t *fixed_claims;

/* Where inputs stopped, printed at exit when FUZZ_REQUEST_STATS is set. */
enum { ST_GUARD, ST_PROXY, ST_PARSER, ST_FRAMING, ST_TARGET, ST_DENIED, ST_FORWARDED,
	ST_MAX };
static const char *const stage_names[ST_MAX] = {
	"guard refused/incomplete", "proxy-form target", "evhttp refused", "framing refused",
	"target refused", "denied", "forwarded and re-parsed",
};
static unsigned long stages[ST_MAX];

static void
print_stats(void)
{
	for (int i = 0; i < ST_MAX; i++)
		fprintf(stderr, "fuzz_request: %-26s %lu\n", stage_names[i], stages[i]);
}

/* Load the policy and the fixed scope set once; abort when the policy does
 * not load (the harness is misconfigured, not the input). */
static void
init_once(void)
{
	static const char *const names[] = {
		"all.User.read", "applicationApiToken.*", "device.export",
	};
	struct errlist errs;
	struct jsonconf jc = { .file = NULL, .errs = &errs };
	const char *top = getenv("top_srcdir");
	char path[4096];

	if (pol != NULL)
		return;
	snprintf(path, sizeof(path), "%s/conf/policy.json", top ? top : ".");
	jc.file = path;
	errlist_init(&errs);
	if ((pol = policy_load(&jc, path)) == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "fuzz_request: %s\n", errs.msgs[i]);
		fprintf(stderr, "fuzz_request: cannot load %s (set top_srcdir)\n", path);
		abort();
	}
	errlist_free(&errs);
	policy_scopeset_from_names(pol, names, sizeof(names) / sizeof(names[0]), &fixed_scopes);
	fixed_claims = json_object();
	if (getenv("FUZZ_REQUEST_STATS") != NULL)
		atexit(print_stats);
}

/* What the guard made of the first request. */
struct guarded {
	size_t head_start;	/* offset of the request line (after empty lines) */
	size_t head_end;	/* offset just past the head's empty line */
	size_t req_end;		/* past the body (or head) and CRLFs the guard took after it */
	uint64_t content_length;
	int chunked;
};

/* Run the guard over the input as client_input_cb does. Returns 1 when the
 * first request went through it whole, 0 when it was refused or is
 * incomplete (the daemon answers or waits; nothing is forwarded). A
 * refusal after the first request does not concern it. */
static int
guard(struct reqscan *s, const unsigned char *p, size_t size, struct guarded *g)
{
	size_t at = 0;
	int head_seen = 0;

	memset(g, 0, sizeof(*g));
	while (at < size) {
		int in_head, done;
		enum reqscan_result res;
		size_t n = reqscan_feed_some(s, p + at, size - at, &in_head, &done, &res);

		if (res != REQSCAN_MORE) {
			if (head_seen && g->req_end != 0)
				break;
			if (s->status < 400 || s->status > 599 || s->message == NULL)
				abort();
			return 0;
		}
		if (done && !head_seen) {
			head_seen = 1;
			g->head_start = (size_t)s->head_start;
			g->head_end = at + n;
			g->content_length = s->content_length;
			g->chunked = s->nte > 0;
		}
		at += n;
		if (head_seen && g->req_end == 0 && !reqscan_in_body(s))
			g->req_end = at;
		if (n == 0)
			break;
	}
	return head_seen && g->req_end != 0;
}

/* Non-zero when the request line's target is one evhttp would take for a
 * proxy request (an http or https URI with a host): evhttp_parse_request_line
 * then reads req->evcon, which the harness has not. */
static int
proxy_form(const char *in, size_t head_len, char **target)
{
	const char *eol = memmem(in, head_len, "\r\n", 2), *sp1, *sp2;
	struct evhttp_uri *u;
	int r = 0;

	*target = NULL;
	if (eol == NULL || (sp1 = memchr(in, ' ', (size_t)(eol - in))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL)
		return 0;
	*target = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	if (*target == NULL)
		abort();
	if ((u = evhttp_uri_parse_with_flags(*target, EVHTTP_URI_NONCONFORMANT)) != NULL) {
		const char *scheme = evhttp_uri_get_scheme(u);
		r = scheme != NULL && (strcasecmp(scheme, "http") == 0 ||
		    strcasecmp(scheme, "https") == 0) && evhttp_uri_get_host(u) != NULL;
		evhttp_uri_free(u);
	}
	return r;
}

/* Decode the chunked body the guard accepted, independently of the
 * guard's body reader: hex size (extensions skipped) to the end of its
 * line, the data, its CRLF; trailers are dropped. Returns 0 with a
 * malloc'd *body. */
static int
dechunk(const unsigned char *p, size_t len, unsigned char **body, size_t *blen)
{
	size_t at = 0;

	*blen = 0;
	if ((*body = malloc(len + 1)) == NULL)
		abort();
	for (;;) {
		uint64_t n = 0;
		size_t digits = 0;

		while (at < len && p[at] != '\r') {
			int v = chars_hexval(p[at]);
			if (v < 0) {
				if (p[at] == ';' && digits > 0) {
					while (at < len && p[at] != '\r')
						at++;
					break;
				}
				abort();		/* the guard let it through */
			}
			n = n * 16 + (uint64_t)v;
			digits++;
			at++;
		}
		if (digits == 0 || len - at < 2 || p[at + 1] != '\n')
			abort();
		at += 2;
		if (n == 0)
			return 0;
		if (n > len - at || len - at - n < 2 || p[at + n] != '\r' || p[at + n + 1] != '\n')
			abort();
		memcpy(*body + *blen, p + at, n);
		*blen += n;
		at += n + 2;
	}
}

/* The body as the daemon's guard reads it (worker.c guard_read_body):
 * the same scanner, from the head on, then reqscan_feed_body. Aborts
 * unless it ends exactly where the guard said and gives want. */
static void
check_body_reader(const unsigned char *p, const struct guarded *g, const unsigned char *want,
    size_t want_len)
{
	struct reqscan s;
	size_t at = 0, o = 0;
	int in_head, done = 0, is_data;
	enum reqscan_result res;
	unsigned char *got = malloc(g->req_end + 1);

	if (got == NULL)
		abort();
	reqscan_init(&s, SG_DEFAULT_MAX_HEADER_BYTES, SG_DEFAULT_MAX_BODY_BYTES);
	while (!done && at < g->head_end) {
		at += reqscan_feed_some(&s, p + at, g->head_end - at, &in_head, &done, &res);
		if (res != REQSCAN_MORE)
			abort();
	}
	if (at != g->head_end)
		abort();
	done = !reqscan_in_body(&s);
	while (!done) {
		size_t n = reqscan_feed_body(&s, p + at, g->req_end - at, &is_data, &done, &res);
		if (res != REQSCAN_MORE || (n == 0 && !done))
			abort();
		if (is_data) {
			memcpy(got + o, p + at, n);
			o += n;
		}
		at += n;
	}
	if (o != want_len || (o > 0 && memcmp(got, want, o) != 0))
		abort();
	free(got);
}

/* Non-zero when the segment, with %2E decoded, is "." or "..". */
static int
is_dot_segment(const struct canon_segment *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->len; n++) {
		if (s->ptr[i] == '.')
			i++;
		else if (s->len - i >= 3 && s->ptr[i] == '%' && s->ptr[i + 1] == '2' &&
		    (s->ptr[i + 2] == 'e' || s->ptr[i + 2] == 'E'))
			i += 3;
		else
			return 0;
	}
	return n == 1 || n == 2;
}

/* Abort unless the accepted target keeps canon's promises. */
static void
check_accepted_target(size_t len, const struct canon_target *t)
{
	static const char *const banned[] = { "%2F", "%2f", "%5C", "%5c", "%00" };
	struct canon_target again;
	char buf[SG_MAX_TARGET_BYTES + 2];
	size_t off = 0;

	for (size_t i = 0; i < t->path_len; i++) {
		unsigned char c = (unsigned char)t->path[i];
		if (c < 0x20 || c == 0x7f || c >= 0x80 || c == '\\' || c == '#')
			abort();
	}
	for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		if (memmem(t->path, t->path_len, banned[i], 3) != NULL)
			abort();
	if (t->has_query && memchr(t->query, '#', t->query_len) != NULL)
		abort();
	for (size_t i = 0; i < t->nsegs; i++)
		if (t->segs[i].len == 0 || is_dot_segment(&t->segs[i]))
			abort();
	/* Re-serialize from the segments and parse again: same result. */
	if (t->nsegs == 0)
		buf[off++] = '/';
	for (size_t i = 0; i < t->nsegs; i++) {
		buf[off++] = '/';
		memcpy(buf + off, t->segs[i].ptr, t->segs[i].len);
		off += t->segs[i].len;
	}
	if (off != t->path_len || memcmp(buf, t->path, off) != 0)
		abort();
	if (t->has_query) {
		if (off + 1 + t->query_len != len)
			abort();
		buf[off++] = '?';
		memcpy(buf + off, t->query, t->query_len);
		off += t->query_len;
	}
	if (canon_target(buf, off, &again) != CANON_OK || again.nsegs != t->nsegs ||
	    again.has_query != t->has_query)
		abort();
	for (size_t i = 0; i < t->nsegs; i++)
		if (again.segs[i].len != t->segs[i].len ||
		    memcmp(again.segs[i].ptr, t->segs[i].ptr, t->segs[i].len) != 0)
			abort();
}

/* Abort unless the match agrees with the policy. */
static void
check_match(enum policy_method m, const struct canon_target *t, const struct policy_match *pm)
{
	if (pm->status == POLICY_MATCH_OK) {
		const struct policy_action *a = pm->action;
		const char *tp;
		size_t seg = 0;

		if (a == NULL || a->method != m || a->nsegs != t->nsegs || pm->nparams != a->nparams)
			abort();
		/* Every literal segment of the template equals the request's. */
		for (tp = a->path + 1; seg < a->nsegs; seg++) {
			const char *e = strchr(tp, '/');
			size_t l = e ? (size_t)(e - tp) : strlen(tp);
			if (tp[0] != '{' && (l != t->segs[seg].len || memcmp(tp, t->segs[seg].ptr, l) != 0))
				abort();
			tp = e ? e + 1 : tp + l;
		}
		for (size_t i = 0; i < pm->nparams; i++) {
			const struct canon_segment *s = &t->segs[a->param_pos[i]];
			if (pm->params[i].ptr != s->ptr || pm->params[i].len != s->len)
				abort();
		}
	} else if (pm->status == POLICY_MATCH_METHOD_NOT_ALLOWED) {
		if (pm->allowed == 0 || (m != POLICY_M_OTHER && (pm->allowed & (1u << m))))
			abort();
	}
}

/* Abort unless the authorization decision is one the daemon may make. */
static void
check_decision(const struct policy_match *pm, enum authz_token tok,
    const struct authz_decision *ad)
{
	if (ad->allow) {
		const struct policy_action *a = pm->action;

		if (pm->status != POLICY_MATCH_OK || ad->status != 0)
			abort();
		if (!a->public && (tok != AUTHZ_TOKEN_VALID || pm->bad_param != -1 ||
		    !policy_scopeset_intersects(&fixed_scopes, &a->allow)))
			abort();
		return;
	}
	if (ad->status != 400 && ad->status != 401 && ad->status != 403 &&
	    ad->status != 404 && ad->status != 405)
		abort();
	if (ad->error_type == NULL || ad->reason == NULL)
		abort();
	if (pm->status == POLICY_MATCH_NO_ROUTE && ad->status != 404)
		abort();
	if (pm->status == POLICY_MATCH_METHOD_NOT_ALLOWED && ad->status != 405)
		abort();
}

/* How many fields of that name (case-insensitive) the list holds; *value
 * is the first one's. */
static int
count_fields(const struct evkeyvalq *h, const char *name, const char **value)
{
	struct evkeyval *kv;
	int n = 0;

	if (value != NULL)
		*value = NULL;
	TAILQ_FOREACH(kv, h, next)
		if (strcasecmp(kv->key, name) == 0 && n++ == 0 && value != NULL)
			*value = kv->value;
	return n;
}

/* The request as the daemon authorized it. */
struct authorized {
	enum evhttp_cmd_type cmd;
	const char *uri;
	const struct canon_target *target;
	const struct policy_match *match;
	enum policy_method method;
	const unsigned char *body;
	size_t body_len;
};

/* Serialize what proxy_forward would send for the allowed request, then
 * read it back as the upstream would, and abort unless it is the request
 * that was authorized. */
static void
check_forwarded(struct evhttp_request *req, const struct framing_info *fi,
    const struct authorized *az)
{
	static const char *const once[] = {
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-Id",
	};
	static const char *const overrides[] = {
		"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
	};
	struct forward_info fwi = {
		.h_connection = fi->connection,
		.n_connection = fi->nconnection,
		.host = fi->host,
		.authority = "upstream.test:8080",
		.client_ip = "192.0.2.1",
		.tls = 0,
		.request_id = "0123456789abcdef0123456789abcdef",
		.body_len = az->body_len,
		.framed = fi->framed,
	};
	struct evbuffer *wire = evbuffer_new(), *buf = evbuffer_new(), *body = evbuffer_new();
	struct evhttp_request *up = evhttp_request_new(NULL, NULL);
	struct reqscan s;
	struct guarded g;
	struct framing_info fi2;
	struct canon_target t2;
	struct policy_match pm2;
	const unsigned char *bytes;
	const char *cl, *ty, *msg;
	size_t n;
	int ncl, st;

	if (wire == NULL || buf == NULL || body == NULL || up == NULL)
		abort();
	/* Exactly what proxy_forward hands to the upstream client. */
	if (az->body_len > 0)
		evbuffer_add(body, az->body, az->body_len);
	forward_request(wire, az->cmd, az->uri, req->input_headers, &fwi, body);
	n = evbuffer_get_length(wire);
	bytes = evbuffer_pullup(wire, -1);

	/* A fresh guard takes it as exactly one whole request. */
	reqscan_init(&s, REPARSE_MAX_HEAD, SG_DEFAULT_MAX_BODY_BYTES);
	if (!guard(&s, bytes, n, &g) || g.req_end != n || s.requests != 1)
		abort();

	/* libevent reads the same method and URI, then the head ends where
	 * the guard says. */
	up->kind = EVHTTP_REQUEST;
	evbuffer_add(buf, bytes, g.head_end);
	if (evhttp_parse_firstline_(up, buf) != ALL_DATA_READ ||
	    evhttp_parse_headers_(up, buf) != ALL_DATA_READ || evbuffer_get_length(buf) != 0)
		abort();
	if (up->type != az->cmd || strcmp(up->uri, az->uri) != 0)
		abort();
	if (canon_target(up->uri, strlen(up->uri), &t2) != CANON_OK ||
	    t2.nsegs != az->target->nsegs || t2.path_len != az->target->path_len ||
	    memcmp(t2.path, az->target->path, t2.path_len) != 0 ||
	    t2.has_query != az->target->has_query || t2.query_len != az->target->query_len ||
	    (t2.has_query && memcmp(t2.query, az->target->query, t2.query_len) != 0))
		abort();
	for (size_t i = 0; i < t2.nsegs; i++)
		if (t2.segs[i].len != az->target->segs[i].len ||
		    memcmp(t2.segs[i].ptr, az->target->segs[i].ptr, t2.segs[i].len) != 0)
			abort();
	policy_match(pol, az->method, t2.segs, t2.nsegs, &pm2);
	if (pm2.status != az->match->status || pm2.action != az->match->action)
		abort();

	/* Framing: our own Content-Length, never a Transfer-Encoding. */
	if (count_fields(up->input_headers, "Transfer-Encoding", NULL) != 0)
		abort();
	ncl = count_fields(up->input_headers, "Content-Length", &cl);
	if (az->body_len > 0) {
		char want[24];
		snprintf(want, sizeof(want), "%zu", az->body_len);
		if (ncl != 1 || strcmp(cl, want) != 0 || g.chunked ||
		    g.content_length != az->body_len)
			abort();
	} else if (ncl > 1 || (ncl == 1 && strcmp(cl, "0") != 0))
		abort();
	if (framing_check(up->input_headers, up->major, up->minor, up->type, &fi2, &st, &ty,
	    &msg) != 0)
		abort();
	/* The body bytes follow the head, unchanged. */
	if (n - g.head_end != az->body_len ||
	    (az->body_len > 0 && memcmp(bytes + g.head_end, az->body, az->body_len) != 0))
		abort();
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		if (count_fields(up->input_headers, once[i], NULL) > 1)
			abort();
	/* What the decision was made on reaches the upstream unchanged: the
	 * body's type and the Host (ours when the client sent none). */
	if (count_fields(up->input_headers, "Content-Type", &cl) != (fi->content_type != NULL) ||
	    (fi->content_type != NULL && strcmp(cl, fi->content_type) != 0))
		abort();
	if (count_fields(up->input_headers, "Host", &cl) != 1 ||
	    strcmp(cl, fi->host != NULL ? fi->host : fwi.authority) != 0)
		abort();
	for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++)
		if (count_fields(up->input_headers, overrides[i], NULL) != 0)
			abort();

	evhttp_request_free(up);
	evbuffer_free(buf);
	evbuffer_free(wire);
	evbuffer_free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct reqscan scan;
	struct guarded g;
	struct evhttp_request *req = NULL;
	struct evbuffer *buf = NULL;
	struct framing_info fi;
	struct canon_target t;
	struct policy_match pm;
	struct authz_decision ad;
	enum canon_status cs;
	enum policy_method m;
	enum authz_token tok;
	unsigned char *body = NULL;
	size_t body_len = 0, target_len;
	const char *type, *message, *mname;
	char *target = NULL, *stripped = NULL;
	struct evhttp_uri *uri;
	size_t stripped_len;
	int status, stage = ST_GUARD, expect_kind;

	init_once();
	reqscan_init(&scan, SG_DEFAULT_MAX_HEADER_BYTES, SG_DEFAULT_MAX_BODY_BYTES);
	if (!guard(&scan, data, size, &g))
		goto out;
	stage = ST_PROXY;
	if (proxy_form(in + g.head_start, g.head_end - g.head_start, &target)) {
		/* evhttp flags it a proxy request; canon refuses it. */
		if (canon_target(target, strlen(target), &t) == CANON_OK)
			abort();
		goto out;
	}

	/* The target evhttp's URI parser refuses is refused by the guard
	 * (JSON 400), never handed to evhttp (HTML). */
	if (target == NULL ||
	    (uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT)) == NULL)
		goto out;
	evhttp_uri_free(uri);

	/* libevent's parser over the head the guard gives it: without its
	 * body framing and Expect, without the empty lines before it. */
	if ((req = evhttp_request_new(NULL, NULL)) == NULL || (buf = evbuffer_new()) == NULL ||
	    (stripped = malloc(g.head_end - g.head_start)) == NULL)
		abort();
	stripped_len = reqscan_head_strip(in + g.head_start, g.head_end - g.head_start, stripped,
	    &expect_kind);
	if (stripped_len > g.head_end - g.head_start)
		abort();
	stage = ST_PARSER;
	req->kind = EVHTTP_REQUEST;
	evbuffer_add(buf, stripped, stripped_len);
	if (evhttp_parse_firstline_(req, buf) != ALL_DATA_READ)
		goto out;	/* evhttp answers 400 (or it is an empty line) */
	switch (evhttp_parse_headers_(req, buf)) {
	case ALL_DATA_READ:
		break;
	case DATA_CORRUPTED:
		goto out;	/* evhttp answers 400 */
	default:
		abort();	/* the guard and libevent disagree on the head's end */
	}
	if (evbuffer_get_length(buf) != 0)
		abort();
	if ((req->type & ALLOWED_METHODS) == 0)
		abort();	/* the guard answers 501 */
	/* evhttp reads no body: the head has no framing left. */
	if (count_fields(req->input_headers, "Content-Length", NULL) != 0 ||
	    count_fields(req->input_headers, "Transfer-Encoding", NULL) != 0 ||
	    count_fields(req->input_headers, "Expect", NULL) != 0)
		abort();
	if (expect_kind == 2)
		goto out;	/* request_cb answers 417 */

	/* The body (the guard refused one on HEAD and TRACE). */
	if ((g.chunked || g.content_length > 0) && req->type == EVHTTP_REQ_HEAD)
		abort();
	if (g.chunked) {
		if (dechunk(data + g.head_end, g.req_end - g.head_end, &body, &body_len) != 0)
			abort();
	} else {
		/* The guard's run may go on over CRLFs it tolerates before a
		 * next request (evhttp does not: it answers that one 400). */
		if (g.req_end - g.head_end < g.content_length)
			abort();
		for (size_t i = g.head_end + (size_t)g.content_length; i < g.req_end; i++)
			if (data[i] != '\r' && data[i] != '\n')
				abort();
		body_len = (size_t)g.content_length;
		if ((body = malloc(body_len + 1)) == NULL)
			abort();
		memcpy(body, data + g.head_end, body_len);
	}
	/* The gateway's own body reader gives exactly these bytes. */
	check_body_reader(data, &g, body, body_len);

	/* worker.c: check_framing, then the admission decision. */
	stage = ST_FRAMING;
	if (framing_check(req->input_headers, req->major, req->minor, req->type, &fi, &status,
	    &type, &message) != 0) {
		if (status < 400 || status > 599 || type == NULL || message == NULL)
			abort();
		goto out;
	}
	fi.framed = g.chunked || g.content_length > 0;	/* request_cb: as announced */
	stage = ST_TARGET;
	target_len = strlen(req->uri);
	cs = canon_target(req->uri, target_len, &t);
	if (cs != CANON_OK) {
		int st = canon_status_http(cs);
		if (st != 400 && st != 414)
			abort();
		if ((st == 414) != (target_len > SG_MAX_TARGET_BYTES))
			abort();
		goto out;
	}
	check_accepted_target(target_len, &t);

	mname = forward_method_name(req->type);
	m = policy_method_parse(mname, strlen(mname));
	policy_match(pol, m, t.segs, t.nsegs, &pm);
	check_match(m, &t, &pm);

	if (fi.nauthorization == 0)
		tok = AUTHZ_TOKEN_NONE;
	else if (fi.nauthorization == 1 && strcmp(fi.authorization, "Bearer valid") == 0)
		tok = AUTHZ_TOKEN_VALID;
	else
		tok = AUTHZ_TOKEN_INVALID;
	authz_decide(&pm, tok, tok == AUTHZ_TOKEN_VALID ? &fixed_scopes : NULL,
	    tok == AUTHZ_TOKEN_VALID ? fixed_claims : NULL, NULL, &ad);
	check_decision(&pm, tok, &ad);
	stage = ST_DENIED;
	if (ad.allow) {
		struct authorized az = {
			.cmd = req->type, .uri = req->uri, .target = &t, .match = &pm,
			.method = m, .body = body, .body_len = body_len,
		};
		check_forwarded(req, &fi, &az);
		stage = ST_FORWARDED;
	}
out:
	stages[stage]++;
	free(body);
	free(target);
	free(stripped);
	if (buf != NULL)
		evbuffer_free(buf);
	if (req != NULL)
		evhttp_request_free(req);
	return 0;
}
