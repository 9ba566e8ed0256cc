/* scan_diff.c: see scan_diff.h. A mismatch is reported with the piece,
 * the offset in it and the first field that differs. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reqscan.h"
#include "scan_diff.h"
#include "scan_ref.h"
#include "uresp.h"

struct ctx {
	char *why;
	size_t whylen;
	size_t piece, off;
	int bad;
};

static void
say(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->bad++)
		return;		/* the first difference is the one that matters */
	n = snprintf(c->why, c->whylen, "piece %zu offset %zu: ", c->piece, c->off);
	if (n < 0 || (size_t)n >= c->whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why + n, c->whylen - (size_t)n, fmt, ap);
	va_end(ap);
}

#define SAME(c, what, a, b) do {						\
	if ((a) != (b))								\
		say((c), "%s: %llu, reference %llu", (what),			\
		    (unsigned long long)(a), (unsigned long long)(b));		\
} while (0)
#define SAME_BYTES(c, what, a, b, n) do {					\
	if (memcmp((a), (b), (n)) != 0)						\
		say((c), "%s differs", (what));					\
} while (0)

static void
same_str(struct ctx *c, const char *what, const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		say(c, "%s: \"%s\", reference \"%s\"", what, a ? a : "(null)", b ? b : "(null)");
}

/* Every member of the request scanner's state. */
static void
same_reqscan(struct ctx *c, const struct reqscan *a, const struct reqscan *b)
{
	int ca, cb;
	uint64_t la, lb;

	SAME(c, "state", a->state, b->state);
	SAME(c, "head_bytes", a->head_bytes, b->head_bytes);
	SAME(c, "max_head", a->max_head, b->max_head);
	SAME(c, "max_body", a->max_body, b->max_body);
	SAME(c, "line_start", a->line_start, b->line_start);
	SAME(c, "cr", a->cr, b->cr);
	SAME(c, "seen_colon", a->seen_colon, b->seen_colon);
	SAME(c, "in_head", a->in_head, b->in_head);
	SAME(c, "spaces", a->spaces, b->spaces);
	SAME_BYTES(c, "method", a->method, b->method, sizeof(a->method));
	SAME(c, "method_len", a->method_len, b->method_len);
	SAME_BYTES(c, "version", a->version, b->version, sizeof(a->version));
	SAME(c, "version_len", a->version_len, b->version_len);
	SAME(c, "version_long", a->version_long, b->version_long);
	SAME_BYTES(c, "name", a->name, b->name, sizeof(a->name));
	SAME(c, "name_len", a->name_len, b->name_len);
	SAME(c, "value_kind", a->value_kind, b->value_kind);
	SAME_BYTES(c, "value", a->value, b->value, sizeof(a->value));
	SAME(c, "value_len", a->value_len, b->value_len);
	SAME(c, "value_overflow", a->value_overflow, b->value_overflow);
	SAME(c, "ncl", a->ncl, b->ncl);
	SAME(c, "nte", a->nte, b->nte);
	SAME(c, "content_length", a->content_length, b->content_length);
	SAME(c, "te_chunked", a->te_chunked, b->te_chunked);
	SAME(c, "te_bad", a->te_bad, b->te_bad);
	SAME(c, "remaining", a->remaining, b->remaining);
	SAME(c, "body_total", a->body_total, b->body_total);
	SAME(c, "chunk_digits", a->chunk_digits, b->chunk_digits);
	SAME(c, "chunk_ext", a->chunk_ext, b->chunk_ext);
	SAME(c, "trailer_bytes", a->trailer_bytes, b->trailer_bytes);
	SAME(c, "requests", a->requests, b->requests);
	SAME(c, "pos", a->pos, b->pos);
	SAME(c, "head_start", a->head_start, b->head_start);
	SAME(c, "refused_in_body", a->refused_in_body, b->refused_in_body);
	SAME(c, "status", a->status, b->status);
	same_str(c, "message", a->message, b->message);
	SAME(c, "reqscan_in_head", reqscan_in_head(a), ref_reqscan_in_head(b));
	SAME(c, "reqscan_in_body", reqscan_in_body(a), ref_reqscan_in_body(b));
	la = reqscan_body_length(a, &ca);
	lb = ref_reqscan_body_length(b, &cb);
	SAME(c, "reqscan_body_length", la, lb);
	SAME(c, "reqscan_body_length chunked", ca, cb);
}

/* A head just completed (msg[head_start..pos)): its rewrite must agree. */
static void
same_strip(struct ctx *c, const struct reqscan *a, const unsigned char *msg)
{
	size_t hlen = (size_t)(a->pos - a->head_start), na, nb;
	char *h = malloc(hlen ? hlen : 1), *oa = malloc(hlen + 2), *ob = malloc(hlen + 2);
	int ea, eb;

	if (h == NULL || oa == NULL || ob == NULL)
		abort();
	memcpy(h, msg + a->head_start, hlen);
	na = reqscan_head_strip(h, hlen, oa, &ea);
	nb = ref_reqscan_head_strip(h, hlen, ob, &eb);
	SAME(c, "head_strip length", na, nb);
	SAME(c, "head_strip expect", ea, eb);
	if (na == nb)
		SAME_BYTES(c, "head_strip bytes", oa, ob, na);
	free(h);
	free(oa);
	free(ob);
}

int
scan_diff_reqscan(const struct scan_diff_req *o, const unsigned char *msg, size_t len,
    const size_t *cuts, size_t ncuts, char *why, size_t whylen)
{
	struct ctx c = {why, whylen, 0, 0, 0};
	struct reqscan a, b;
	size_t start = 0;
	int refused = 0;

	if (whylen > 0)
		why[0] = '\0';
	reqscan_init(&a, o->max_head, o->max_body);
	ref_reqscan_init(&b, o->max_head, o->max_body);
	same_reqscan(&c, &a, &b);
	for (size_t k = 0; k <= ncuts && !refused && !c.bad; k++) {
		size_t stop = k < ncuts ? cuts[k] : len, plen = stop - start;
		unsigned char *piece = malloc(plen ? plen : 1);

		if (piece == NULL)
			abort();
		memcpy(piece, msg + start, plen);
		c.piece = k;
		c.off = 0;
		if (o->mode == SCAN_DIFF_FEED) {
			enum reqscan_result ra = reqscan_feed(&a, piece, plen);
			enum reqscan_result rb = ref_reqscan_feed(&b, piece, plen);

			SAME(&c, "reqscan_feed", ra, rb);
			a.pos += (uint64_t)o->tamper;
			same_reqscan(&c, &a, &b);
			refused = ra != REQSCAN_MORE;
		}
		while (o->mode != SCAN_DIFF_FEED && c.off < plen && !refused && !c.bad) {
			enum reqscan_result ra, rb;
			size_t na, nb;
			int x1a, x1b, x2a, x2b, body = 0;

			if (o->mode == SCAN_DIFF_GUARD && reqscan_in_body(&a)) {
				body = 1;
				na = reqscan_feed_body(&a, piece + c.off, plen - c.off, &x1a, &x2a, &ra);
				nb = ref_reqscan_feed_body(&b, piece + c.off, plen - c.off, &x1b, &x2b,
				    &rb);
			} else {
				na = reqscan_feed_some(&a, piece + c.off, plen - c.off, &x1a, &x2a, &ra);
				nb = ref_reqscan_feed_some(&b, piece + c.off, plen - c.off, &x1b, &x2b,
				    &rb);
			}
			SAME(&c, body ? "feed_body taken" : "feed_some taken", na, nb);
			SAME(&c, body ? "feed_body is_data" : "feed_some in_head", x1a, x1b);
			SAME(&c, body ? "feed_body done" : "feed_some head_done", x2a, x2b);
			SAME(&c, "result", ra, rb);
			a.pos += (uint64_t)o->tamper;
			same_reqscan(&c, &a, &b);
			if (c.bad)
				break;
			refused = ra != REQSCAN_MORE;
			if (!body && x2a && !refused) {
				same_strip(&c, &a, msg);
				if (o->body_max_after != 0)
					a.max_body = b.max_body = o->body_max_after;
			}
			c.off += na;
			if (na == 0)
				break;
		}
		free(piece);
		start = stop;
	}
	return c.bad ? -1 : 0;
}

static long long
off_in(const char *p, const char *base)
{
	return p == NULL ? -1 : (long long)(p - base);
}

/* Every member of the response parser's state; pointers as offsets into
 * each one's own head copy. */
static void
same_uresp(struct ctx *c, const struct uresp *a, const struct uresp *b)
{
	SAME(c, "status", a->status, b->status);
	SAME(c, "minor", a->minor, b->minor);
	SAME(c, "reason", off_in(a->reason, a->buf), off_in(b->reason, b->buf));
	SAME(c, "reason_len", a->reason_len, b->reason_len);
	for (size_t i = 0; i < URESP_MAX_FIELDS; i++) {
		const struct uresp_field *fa = &a->fields[i], *fb = &b->fields[i];

		SAME(c, "field name", off_in(fa->name, a->buf), off_in(fb->name, b->buf));
		SAME(c, "field name_len", fa->name_len, fb->name_len);
		SAME(c, "field value", off_in(fa->value, a->buf), off_in(fb->value, b->buf));
		SAME(c, "field value_len", fa->value_len, fb->value_len);
	}
	SAME(c, "nfields", a->nfields, b->nfields);
	SAME(c, "keep_alive", a->keep_alive, b->keep_alive);
	SAME(c, "has_body", a->has_body, b->has_body);
	SAME(c, "chunked", a->chunked, b->chunked);
	SAME(c, "content_length", a->content_length, b->content_length);
	same_str(c, "error", a->error, b->error);
	SAME(c, "cap", a->cap, b->cap);
	SAME(c, "hlen", a->hlen, b->hlen);
	if (a->hlen == b->hlen && a->hlen <= a->cap)
		SAME_BYTES(c, "head copy", a->buf, b->buf, a->hlen);
	SAME(c, "state", a->state, b->state);
	SAME(c, "fstate", a->fstate, b->fstate);
	SAME(c, "head_request", a->head_request, b->head_request);
	SAME(c, "ninterim", a->ninterim, b->ninterim);
	SAME(c, "k", a->k, b->k);
	SAME(c, "reason_off", a->reason_off, b->reason_off);
	SAME(c, "vbeg", a->vbeg, b->vbeg);
	SAME(c, "vend", a->vend, b->vend);
	SAME(c, "nsect", a->nsect, b->nsect);
	SAME(c, "tbytes", a->tbytes, b->tbytes);
	SAME(c, "ndigits", a->ndigits, b->ndigits);
	SAME(c, "remaining", a->remaining, b->remaining);
}

int
scan_diff_uresp(const struct scan_diff_resp *o, const unsigned char *msg, size_t len,
    const size_t *cuts, size_t ncuts, char *why, size_t whylen)
{
	struct ctx c = {why, whylen, 0, 0, 0};
	struct uresp a, b;
	size_t start = 0;
	int over = 0;

	if (whylen > 0)
		why[0] = '\0';
	uresp_init(&a, o->max_head);
	ref_uresp_init(&b, o->max_head);
	uresp_reset(&a, o->head_request);
	ref_uresp_reset(&b, o->head_request);
	same_uresp(&c, &a, &b);
	for (size_t k = 0; k <= ncuts && !over && !c.bad; k++) {
		size_t stop = k < ncuts ? cuts[k] : len, plen = stop - start;
		char *piece = malloc(plen ? plen : 1);

		if (piece == NULL)
			abort();
		memcpy(piece, msg + start, plen);
		c.piece = k;
		c.off = 0;
		/* As upstream.c: call again after HEAD and BODY (also with
		 * nothing left), stop at MORE. */
		for (int calls = 0; !over && !c.bad; calls++) {
			const char *ba, *bb;
			size_t ua, ub, la, lb;
			enum uresp_event ea, eb;

			if (calls > 4 * (int)plen + 16) {
				say(&c, "no progress");
				break;
			}
			ea = uresp_feed(&a, piece + c.off, plen - c.off, &ua, &ba, &la);
			eb = ref_uresp_feed(&b, piece + c.off, plen - c.off, &ub, &bb, &lb);
			SAME(&c, "event", ea, eb);
			SAME(&c, "used", ua, ub);
			SAME(&c, "body", off_in(ba, piece), off_in(bb, piece));
			SAME(&c, "body_len", la, lb);
			a.vend += (size_t)o->tamper;
			same_uresp(&c, &a, &b);
			if (c.bad)
				break;
			c.off += ua;
			if (ea == URESP_MORE)
				break;
			if (ea == URESP_ERROR)
				over = 1;
			else if (ea == URESP_DONE) {
				if (!o->keep_alive)
					over = 1;
				else {
					uresp_reset(&a, o->next_head);
					ref_uresp_reset(&b, o->next_head);
					same_uresp(&c, &a, &b);
					if (c.off == plen)
						break;
				}
			}
		}
		free(piece);
		start = stop;
	}
	if (o->eof && !c.bad) {
		enum uresp_event ea = uresp_eof(&a), eb = ref_uresp_eof(&b);

		c.off = 0;
		SAME(&c, "uresp_eof", ea, eb);
		same_uresp(&c, &a, &b);
	}
	uresp_free(&a);
	ref_uresp_free(&b);
	return c.bad ? -1 : 0;
}

size_t
scan_diff_cuts(unsigned seed, size_t len, size_t *cuts, size_t max)
{
	size_t n = 0;

	if (seed == 0 || len < 2)
		return 0;
	if (seed == 1) {
		for (size_t i = 1; i < len && n < max; i++)
			cuts[n++] = i;
		return n;
	}
	/* A few distinct cuts (xorshift from the seed), sorted. */
	for (unsigned x = seed * 2654435761u, k = 0; k < 8 && n < max; k++) {
		size_t at, j;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		at = 1 + x % (len - 1);
		for (j = n; j > 0 && cuts[j - 1] > at; j--)
			cuts[j] = cuts[j - 1];
		if (j > 0 && cuts[j - 1] == at) {
			memmove(cuts + j, cuts + j + 1, (n - j) * sizeof(*cuts));
			continue;
		}
		cuts[j] = at;
		n++;
	}
	return n;
}
