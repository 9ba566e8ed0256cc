/* uresp_ref.c: the upstream response parser as it was before the
 * whole-field-line fast path (src/uresp.c at f58bf6c), kept verbatim with
 * its exported names prefixed ref_ so that the differential test
 * (test_uresp_diff) and fuzz target (fuzz_uresp_diff) can hold the new one
 * to every event, error and offset of the old. Never linked into the daemon. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "chars.h"
#include "uresp.h"
#include "scan_ref.h"
#include "xmalloc.h"

enum {
	ST_STATUS,		/* the fixed "HTTP/1.x NNN " prefix, r->k bytes in */
	ST_REASON,
	ST_STATUS_LF,
	ST_FIELDS,		/* header section, sub-state r->fstate */
	ST_BODY_CL,
	ST_BODY_CLOSE,
	ST_CHUNK_SIZE,
	ST_CHUNK_EXT,
	ST_CHUNK_SIZE_LF,
	ST_CHUNK_DATA,
	ST_CHUNK_CR,
	ST_CHUNK_LF,
	ST_TRAILERS,		/* sub-state r->fstate */
	ST_DONE,
	ST_ERROR,
};

enum {
	F_LINE,			/* at the start of a field line (or the empty line) */
	F_NAME,
	F_OWS,			/* after the colon */
	F_VALUE,
	F_LF,			/* saw the CR ending a field line */
	F_END_LF,		/* saw the CR of the empty line */
};

#define MAX_INTERIM 8		/* 1xx heads before the final one */
#define CHUNK_DIGITS 15		/* 16^15 = 2^60 */
#define CL_MAX ((int64_t)1 << 62)
#define STATUS_PREFIX 13	/* "HTTP/1.1 200 " */

#define C_T 1			/* RFC 9110 tchar */
#define C_V 2			/* field-value byte: HTAB, SP, VCHAR, obs-text */
#define C_W 4			/* OWS: SP, HTAB */
#define T_ (C_T | C_V)
#define V_ C_V
#define W_ (C_V | C_W)

/* Byte classes (GNU range designators; no two ranges overlap). */
static const unsigned char cls[256] = {
	['\t'] = W_, [' '] = W_,
	['!'] = T_, ['"'] = V_, ['#' ... '\''] = T_, ['('] = V_, [')'] = V_,
	['*'] = T_, ['+'] = T_, [','] = V_, ['-'] = T_, ['.'] = T_, ['/'] = V_,
	['0' ... '9'] = T_, [':' ... '@'] = V_, ['A' ... 'Z'] = T_,
	['['] = V_, ['\\'] = V_, [']'] = V_, ['^'] = T_, ['_'] = T_, ['`'] = T_,
	['a' ... 'z'] = T_, ['{'] = V_, ['|'] = T_, ['}'] = V_, ['~'] = T_,
	[0x80 ... 0xff] = V_,
};

#define CLS(p) cls[(unsigned char)*(p)]

/* Enter the error state; returns NULL for the scanners' convenience. */
static const char *
fail(struct uresp *r, const char *msg)
{
	r->state = ST_ERROR;
	r->error = msg;
	return NULL;
}

/* Case-insensitive comparison of s[0..n) with a lowercase literal. */
static int
lc_equal(const char *s, size_t n, const char *lit, size_t litlen)
{
	if (n != litlen)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != lit[i])
			return 0;
	}
	return 1;
}

#define LC_EQUAL(s, n, lit) lc_equal((s), (n), (lit), sizeof(lit) - 1)

/*
 * The field-section machine (header fields when store, else trailer fields)
 * over [p, lim). With store, a byte at q will live at r->buf + r->hlen +
 * (q - chunk) once the caller copies [chunk, returned pointer); field
 * pointers are recorded there. Returns where it stopped: lim, or just past
 * the empty line ending the section (*done set); NULL on error.
 */
static const char *
fields_scan(struct uresp *r, const char *p, const char *lim, const char *chunk, int store,
    int *done)
{
	struct uresp_field *f;
	const char *seg, *last;
	unsigned char c;

#define OFF(q) (r->hlen + (size_t)((q) - chunk))
	while (p < lim) {
		switch (r->fstate) {
		case F_LINE:
			c = (unsigned char)*p;
			if (c == '\r') {
				r->fstate = F_END_LF;
				p++;
				break;
			}
			if (cls[c] & C_T) {
				if (r->nsect == URESP_MAX_FIELDS)
					return fail(r, "too many fields");
				if (store)
					r->fields[r->nsect].name = r->buf + OFF(p);
				r->fstate = F_NAME;
				p++;
				break;
			}
			if (c == ' ' || c == '\t')
				return fail(r, "obs-fold (field line starting with whitespace)");
			if (c == '\n')
				return fail(r, "bare LF");
			return fail(r, "invalid character in field name");
		case F_NAME:
			while (p < lim && (CLS(p) & C_T))
				p++;
			if (p == lim)
				break;
			if (*p == ':') {
				if (store) {
					f = &r->fields[r->nsect];
					f->name_len = (size_t)(r->buf + OFF(p) - f->name);
				}
				r->fstate = F_OWS;
				p++;
				break;
			}
			if (*p == ' ' || *p == '\t')
				return fail(r, "whitespace between field name and colon");
			if (*p == '\r' || *p == '\n')
				return fail(r, "field line without colon");
			return fail(r, "invalid character in field name");
		case F_OWS:
			while (p < lim && (*p == ' ' || *p == '\t'))
				p++;
			if (p == lim)
				break;
			if (store)
				r->vbeg = r->vend = OFF(p);
			r->fstate = F_VALUE;
			break;
		case F_VALUE:
			seg = p;
			while (p < lim && (CLS(p) & C_V))
				p++;
			if (store) {
				/* Trailing OWS: only the bytes of this call are
				 * looked at again, r->vend covers the earlier ones. */
				for (last = p; last > seg && (CLS(last - 1) & C_W); last--)
					;
				if (last > seg)
					r->vend = OFF(last);
			}
			if (p == lim)
				break;
			if (*p == '\r') {
				if (store) {
					f = &r->fields[r->nsect];
					f->value = r->buf + r->vbeg;
					f->value_len = r->vend - r->vbeg;
				}
				r->fstate = F_LF;
				p++;
				break;
			}
			if (*p == '\n')
				return fail(r, "bare LF");
			if (*p == '\0')
				return fail(r, "NUL in field value");
			return fail(r, "control character in field value");
		case F_LF:
			if (*p != '\n')
				return fail(r, "bare CR");
			p++;
			r->nsect++;
			r->fstate = F_LINE;
			break;
		case F_END_LF:
			if (*p != '\n')
				return fail(r, "bare CR");
			*done = 1;
			return p + 1;
		}
	}
	return p;
#undef OFF
}

/* The usual case: a whole, valid "HTTP/1.x NNN " at p. Sets minor and
 * status and returns 1, else 0 (the byte-by-byte path then says why). */
static int
status_fast(struct uresp *r, const char *p)
{
	if (memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    p[12] != ' ')
		return 0;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	r->minor = p[7] - '0';
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	return 1;
}

/*
 * The status line, then the header section, over [p, lim), copying nothing
 * (see fields_scan for chunk). Returns where it stopped, NULL on error.
 */
static const char *
head_scan(struct uresp *r, const char *p, const char *lim, const char *chunk, int *done)
{
	unsigned char c;

	while (p < lim) {
		switch (r->state) {
		case ST_STATUS:
			if (r->k == 0 && (size_t)(lim - p) >= STATUS_PREFIX && status_fast(r, p)) {
				p += STATUS_PREFIX;
				r->k = STATUS_PREFIX;
				goto prefix_done;
			}
			/* Byte by byte (split or malformed): the errors come from here. */
			c = (unsigned char)*p;
			if (r->k < 7) {
				if (c != (unsigned char)"HTTP/1."[r->k])
					return fail(r, "malformed status line (expected \"HTTP/1.\")");
			} else if (r->k == 7) {
				if (c != '0' && c != '1')
					return fail(r, "unsupported HTTP version");
				r->minor = c - '0';
			} else if (r->k == 8) {
				if (c != ' ')
					return fail(r, "malformed status line (expected SP after version)");
			} else if (r->k == 12) {
				if (c != ' ')
					return fail(r, "malformed status line (expected SP after status code)");
			} else {
				if (c < '0' || c > '9')
					return fail(r, "malformed status code");
				r->status = r->status * 10 + (c - '0');
			}
			p++;
			if (++r->k < STATUS_PREFIX)
				break;
prefix_done:
			if (r->status < 100 || r->status > 599)
				return fail(r, "status code out of range");
			if (r->status == 101)
				return fail(r, "101 Switching Protocols refused");
			r->reason_off = r->hlen + (size_t)(p - chunk);
			r->state = ST_REASON;
			break;
		case ST_REASON:
			while (p < lim && (CLS(p) & C_V))
				p++;
			if (p == lim)
				break;
			if (*p == '\r') {
				r->reason_len = r->hlen + (size_t)(p - chunk) - r->reason_off;
				r->state = ST_STATUS_LF;
				p++;
				break;
			}
			if (*p == '\n')
				return fail(r, "bare LF");
			return fail(r, "control character in reason phrase");
		case ST_STATUS_LF:
			if (*p != '\n')
				return fail(r, "bare CR");
			p++;
			r->state = ST_FIELDS;
			r->fstate = F_LINE;
			r->nsect = 0;
			break;
		default:
			return fields_scan(r, p, lim, chunk, 1, done);
		}
	}
	return p;
}

/* Parse a Content-Length value: 1*DIGIT, at most 2^62. 0 or -1. */
static int
parse_cl(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int d = (unsigned char)s[i] - '0';

		if (d < 0 || d > 9 || v > (CL_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Does a Connection value (a token list) hold "close"? */
static int
lists_close(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t b, e;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		b = i;
		while (i < n && s[i] != ',')
			i++;
		e = i;
		while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
			e--;
		if (LC_EQUAL(s + b, e - b, "close"))
			return 1;
	}
	return 0;
}

/* A final head is complete: check the framing fields, set the framing and
 * the next state. 0, or -1 with r->error set. */
static int
head_done(struct uresp *r)
{
	int ncl = 0, nte = 0, close = 0;
	int64_t cl = -1;

	r->nfields = r->nsect;
	r->reason = r->buf + r->reason_off;
	for (size_t i = 0; i < r->nfields; i++) {
		const struct uresp_field *f = &r->fields[i];

		switch (f->name_len) {
		case 14:
			if (!LC_EQUAL(f->name, f->name_len, "content-length"))
				break;
			if (++ncl > 1) {
				fail(r, "more than one Content-Length field");
				return -1;
			}
			if (parse_cl(f->value, f->value_len, &cl) == -1) {
				fail(r, "invalid Content-Length");
				return -1;
			}
			break;
		case 17:
			if (!LC_EQUAL(f->name, f->name_len, "transfer-encoding"))
				break;
			if (++nte > 1) {
				fail(r, "more than one Transfer-Encoding field");
				return -1;
			}
			if (!LC_EQUAL(f->value, f->value_len, "chunked")) {
				fail(r, "Transfer-Encoding other than \"chunked\"");
				return -1;
			}
			break;
		case 10:
			if (LC_EQUAL(f->name, f->name_len, "connection") &&
			    lists_close(f->value, f->value_len))
				close = 1;
			break;
		}
	}
	if (ncl && nte) {
		fail(r, "both Content-Length and Transfer-Encoding");
		return -1;
	}
	if (nte && r->minor == 0) {
		fail(r, "Transfer-Encoding in an HTTP/1.0 response");
		return -1;
	}
	r->content_length = cl;
	r->keep_alive = r->minor == 1 && !close;
	r->has_body = !(r->head_request || r->status == 204 || r->status == 304);
	r->chunked = 0;
	if (!r->has_body)
		r->state = ST_DONE;
	else if (nte) {
		r->chunked = 1;
		r->state = ST_CHUNK_SIZE;
		r->ndigits = 0;
		r->remaining = 0;
	} else if (ncl) {
		r->remaining = (uint64_t)cl;
		r->state = cl ? ST_BODY_CL : ST_DONE;
	} else {
		r->state = ST_BODY_CLOSE;
		r->keep_alive = 0;
	}
	return 0;
}

/* Clear the per-head state (for a new response or after a 1xx head). */
static void
head_clear(struct uresp *r)
{
	r->state = ST_STATUS;
	r->hlen = 0;
	r->k = 0;
	r->status = 0;
	r->nsect = 0;
	r->nfields = 0;
}

/* Head states: scan and copy into r->buf, skip 1xx heads. */
static enum uresp_event
feed_head(struct uresp *r, const char *p, const char *end, const char **stop)
{
	for (;;) {
		const char *chunk = p, *lim, *q;
		size_t room = r->cap - r->hlen;
		int done = 0;

		lim = (size_t)(end - p) > room ? p + room : end;
		if ((q = head_scan(r, p, lim, chunk, &done)) == NULL) {
			*stop = p;
			return URESP_ERROR;
		}
		if (!done) {
			if (q < end) {
				fail(r, "response head too large");
				*stop = q;
				return URESP_ERROR;
			}
			memcpy(r->buf + r->hlen, chunk, (size_t)(q - chunk));
			r->hlen += (size_t)(q - chunk);
			*stop = q;
			return URESP_MORE;
		}
		p = q;
		if (r->status < 200) {
			/* Interim: its fields are of no use to the gateway. */
			if (++r->ninterim > MAX_INTERIM) {
				fail(r, "too many interim (1xx) responses");
				*stop = p;
				return URESP_ERROR;
			}
			head_clear(r);
			if (p == end) {
				*stop = p;
				return URESP_MORE;
			}
			continue;
		}
		memcpy(r->buf + r->hlen, chunk, (size_t)(p - chunk));
		r->hlen += (size_t)(p - chunk);
		*stop = p;
		return head_done(r) == 0 ? URESP_HEAD : URESP_ERROR;
	}
}

/* Chunked body states: at most one URESP_BODY piece per call. */
static enum uresp_event
feed_chunked(struct uresp *r, const char *p, const char *end, const char **stop,
    const char **body, size_t *body_len)
{
	enum uresp_event ev = URESP_MORE;
	const char *q, *lim;
	size_t n;
	int v, done;

	while (p < end) {
		switch (r->state) {
		case ST_CHUNK_SIZE:
			while (p < end && (v = chars_hexval((unsigned char)*p)) >= 0) {
				if (++r->ndigits > CHUNK_DIGITS) {
					fail(r, "chunk size too large");
					goto err;
				}
				r->remaining = r->remaining << 4 | (unsigned)v;
				p++;
			}
			if (p == end)
				break;
			if (r->ndigits == 0) {
				fail(r, "invalid chunk size");
				goto err;
			}
			if (*p == ';') {
				r->state = ST_CHUNK_EXT;
				r->tbytes = 0;
			} else if (*p == '\r')
				r->state = ST_CHUNK_SIZE_LF;
			else {
				fail(r, "invalid chunk size");
				goto err;
			}
			p++;
			break;
		case ST_CHUNK_EXT:
			q = p;
			while (p < end && (CLS(p) & C_V))
				p++;
			r->tbytes += (size_t)(p - q);
			if (r->tbytes > r->cap) {
				fail(r, "chunk extension too long");
				goto err;
			}
			if (p == end)
				break;
			if (*p != '\r') {
				fail(r, *p == '\n' ? "bare LF" : "control character in chunk extension");
				goto err;
			}
			r->state = ST_CHUNK_SIZE_LF;
			p++;
			break;
		case ST_CHUNK_SIZE_LF:
			if (*p != '\n') {
				fail(r, "bare CR");
				goto err;
			}
			p++;
			if (r->remaining == 0) {
				r->state = ST_TRAILERS;
				r->fstate = F_LINE;
				r->nsect = 0;
				r->tbytes = 0;
			} else
				r->state = ST_CHUNK_DATA;
			break;
		case ST_CHUNK_DATA:
			n = (size_t)(end - p);
			if (n > r->remaining)
				n = (size_t)r->remaining;
			*body = p;
			*body_len = n;
			p += n;
			if ((r->remaining -= n) == 0)
				r->state = ST_CHUNK_CR;
			ev = URESP_BODY;
			goto out;
		case ST_CHUNK_CR:
		case ST_CHUNK_LF:
			if (*p != (r->state == ST_CHUNK_CR ? '\r' : '\n')) {
				fail(r, "missing CRLF after chunk data");
				goto err;
			}
			p++;
			if (r->state == ST_CHUNK_CR)
				r->state = ST_CHUNK_LF;
			else {
				r->state = ST_CHUNK_SIZE;
				r->ndigits = 0;
			}
			break;
		case ST_TRAILERS:
			done = 0;
			n = r->cap - r->tbytes;
			lim = (size_t)(end - p) > n ? p + n : end;
			if ((q = fields_scan(r, p, lim, NULL, 0, &done)) == NULL)
				goto err;
			r->tbytes += (size_t)(q - p);
			p = q;
			if (done) {
				r->state = ST_DONE;
				ev = URESP_DONE;
				goto out;
			}
			if (p < end) {
				fail(r, "trailer section too large");
				goto err;
			}
			break;
		}
	}
	goto out;
err:
	ev = URESP_ERROR;
out:
	*stop = p;
	return ev;
}

void
ref_uresp_init(struct uresp *r, size_t max_head)
{
	memset(r, 0, sizeof(*r));
	r->cap = max_head;
	r->buf = xmalloc(max_head ? max_head : 1);
	ref_uresp_reset(r, 0);
}

void
ref_uresp_reset(struct uresp *r, int head_request)
{
	/* Field by field: clearing fields[] would cost more than a response. */
	head_clear(r);
	r->head_request = head_request;
	r->ninterim = 0;
	r->minor = 0;
	r->reason = NULL;
	r->reason_len = 0;
	r->keep_alive = 0;
	r->has_body = 0;
	r->chunked = 0;
	r->content_length = -1;
	r->error = NULL;
	r->remaining = 0;
}

enum uresp_event
ref_uresp_feed(struct uresp *r, const char *data, size_t len, size_t *used, const char **body,
    size_t *body_len)
{
	const char *p = data, *end;
	enum uresp_event ev;
	size_t n;

	*used = 0;
	*body = NULL;
	*body_len = 0;
	if (r->state == ST_ERROR)
		return URESP_ERROR;
	if (r->state == ST_DONE)
		return URESP_DONE;
	if (len == 0)
		return URESP_MORE;
	end = data + len;
	switch (r->state) {
	case ST_STATUS:
	case ST_REASON:
	case ST_STATUS_LF:
	case ST_FIELDS:
		ev = feed_head(r, data, end, &p);
		break;
	case ST_BODY_CL:
		n = len > r->remaining ? (size_t)r->remaining : len;
		*body = data;
		*body_len = n;
		p = data + n;
		if ((r->remaining -= n) == 0)
			r->state = ST_DONE;
		ev = URESP_BODY;
		break;
	case ST_BODY_CLOSE:
		*body = data;
		*body_len = len;
		p = end;
		ev = URESP_BODY;
		break;
	default:
		ev = feed_chunked(r, data, end, &p, body, body_len);
		break;
	}
	*used = (size_t)(p - data);
	return ev;
}

enum uresp_event
ref_uresp_eof(struct uresp *r)
{
	switch (r->state) {
	case ST_DONE:
		return URESP_DONE;
	case ST_ERROR:
		return URESP_ERROR;
	case ST_BODY_CLOSE:
		r->state = ST_DONE;
		return URESP_DONE;
	case ST_STATUS:
		if (r->k == 0 && r->ninterim == 0) {
			fail(r, "upstream closed before responding");
			return URESP_ERROR;
		}
		/* FALLTHROUGH */
	case ST_REASON:
	case ST_STATUS_LF:
	case ST_FIELDS:
		fail(r, "upstream closed mid-response (head)");
		return URESP_ERROR;
	case ST_BODY_CL:
		fail(r, "upstream closed mid-response (Content-Length body)");
		return URESP_ERROR;
	default:
		fail(r, "upstream closed mid-response (chunked body)");
		return URESP_ERROR;
	}
}

void
ref_uresp_free(struct uresp *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}
