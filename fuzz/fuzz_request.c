/* fuzz_request.c: raw request bytes through the gateway's pure decision
 * code, with the shipped Losant policy: canon_target -> policy_method_parse
 * / policy_match -> authz_decide with a fixed scope set. No sockets and no
 * HTTP parser of our own: the harness only cuts the input the simplest way
 * (see split_request) so the fuzzer reaches the decision code with
 * request-shaped data, and then checks invariants the daemon relies on:
 *
 *  - an accepted target never holds what canon promises to refuse (NUL,
 *    '\', '#', controls, 8-bit bytes, %2F/%5C/%00, dot segments however
 *    encoded, empty segments) and re-parses, from its segments, to exactly
 *    the same segments and query;
 *  - a refused target maps to 400 or 414;
 *  - a route match agrees with the matched template (method, segment
 *    count, literal segments) and a 405 never allows the method it refused;
 *  - authz allows only matched actions, public ones or those the fixed
 *    scopes reach with a valid token and well-typed parameters; without a
 *    valid token a protected action is never allowed; every refusal has a
 *    4xx status the daemon can answer.
 *
 * The policy is loaded once from $top_srcdir/conf/policy.json (top_srcdir
 * defaults to "."). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "authz.h"
#include "canon.h"
#include "errlist.h"
#include "jsonconf.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy *pol;
static struct policy_scopeset fixed_scopes;
static json_t *fixed_claims;

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
}

struct rawreq {
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	int nauth;			/* Authorization field lines */
	const char *auth;		/* value of the first, after OWS */
	size_t auth_len;
};

/* Cut the input like this, and nothing more: the request line ends at the
 * first "\r\n" (or at the end); the method is what precedes its first
 * space, the target lies between that space and the line's last space
 * (which starts the version), as libevent cuts it. Field lines follow,
 * one per "\r\n", up to an empty line; only "Authorization:" lines
 * (name case-insensitive) are looked at. Returns 0 when there is a
 * method and a target. */
static int
split_request(const char *in, size_t size, struct rawreq *r)
{
	const char *end = in + size, *eol, *sp1, *sp2, *p;

	memset(r, 0, sizeof(*r));
	eol = memmem(in, size, "\r\n", 2);
	if (eol == NULL)
		eol = end;
	if ((sp1 = memchr(in, ' ', (size_t)(eol - in))) == NULL)
		return -1;
	for (sp2 = eol; sp2 > sp1 && sp2[-1] != ' '; sp2--)
		;
	sp2--;		/* the last space of the line */
	if (sp2 <= sp1)
		return -1;
	r->method = in;
	r->method_len = (size_t)(sp1 - in);
	r->target = sp1 + 1;
	r->target_len = (size_t)(sp2 - sp1 - 1);
	for (p = eol; p < end && end - p >= 2; ) {
		const char *line = p + 2, *le = memmem(line, (size_t)(end - line), "\r\n", 2);
		size_t len;

		if (le == NULL)
			le = end;
		len = (size_t)(le - line);
		if (len == 0)
			break;
		if (len >= 14 && strncasecmp(line, "Authorization:", 14) == 0) {
			if (r->nauth++ == 0) {
				const char *v = line + 14;
				while (v < le && (*v == ' ' || *v == '\t'))
					v++;
				r->auth = v;
				r->auth_len = (size_t)(le - v);
			}
		}
		p = le;
	}
	return 0;
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct rawreq r;
	struct canon_target t;
	struct policy_match pm;
	struct authz_decision ad;
	enum canon_status cs;
	enum policy_method m;
	enum authz_token tok;

	init_once();
	if (split_request(in, size, &r) != 0)
		return 0;
	cs = canon_target(r.target, r.target_len, &t);
	if (cs != CANON_OK) {
		int st = canon_status_http(cs);
		if (st != 400 && st != 414)
			abort();
		if ((st == 414) != (r.target_len > SG_MAX_TARGET_BYTES))
			abort();
		return 0;
	}
	check_accepted_target(r.target_len, &t);

	m = policy_method_parse(r.method, r.method_len);
	if (m != POLICY_M_OTHER) {
		/* Methods are exact tokens: "get" or "GET " never parse. */
		const char *name = policy_method_name(m);
		if (strlen(name) != r.method_len || memcmp(name, r.method, r.method_len) != 0)
			abort();
	}
	policy_match(pol, m, t.segs, t.nsegs, &pm);
	check_match(m, &t, &pm);

	/* The token's status comes from the Authorization lines: none, one
	 * "Bearer valid" (taken as verified, with the fixed scopes), or
	 * anything else (a token that failed verification). */
	if (r.nauth == 0)
		tok = AUTHZ_TOKEN_NONE;
	else if (r.nauth == 1 && r.auth_len == 12 && memcmp(r.auth, "Bearer valid", 12) == 0)
		tok = AUTHZ_TOKEN_VALID;
	else
		tok = AUTHZ_TOKEN_INVALID;
	authz_decide(&pm, tok, tok == AUTHZ_TOKEN_VALID ? &fixed_scopes : NULL,
	    tok == AUTHZ_TOKEN_VALID ? fixed_claims : NULL, &ad);
	check_decision(&pm, tok, &ad);
	return 0;
}
