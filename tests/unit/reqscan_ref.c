/* reqscan_ref.c: the request scanner as it was before the whole-line fast
 * paths (src/reqscan.c at f58bf6c), kept verbatim with its exported names
 * prefixed ref_ so that the differential test (test_reqscan_diff) and
 * fuzz target (fuzz_reqscan_diff) can hold the new one to every decision,
 * refusal offset and counter of the old. Never linked into the daemon.
 * One change since, made the same way in both (a change of behaviour, not
 * of speed): the trailer section is bounded by max_head, counted in
 * trailer_bytes (in_trailer and its four uses in ref_reqscan_step). */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "chars.h"
#include "defaults.h"
#include "reqscan.h"
#include "scan_ref.h"

enum {
	S_IDLE,			/* between requests (CRLFs before a request are tolerated) */
	S_LINE,			/* request line */
	S_NAME,			/* field name */
	S_VALUE,		/* field value */
	S_BODY,			/* Content-Length body */
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_CR,		/* CRLF after chunk data */
	S_CHUNK_LF,
	S_TRAILER_NAME,
	S_TRAILER_VALUE,
	S_REFUSED,
};

static enum reqscan_result ref_reqscan_step(struct reqscan *s, const unsigned char *p,
    size_t avail, size_t *ip);

/* Bytes that may stand in a field value (RFC 9110 field-vchar, SP, HTAB,
 * obs-text) and in a request target (visible, 8-bit left to canon.c). */
static const unsigned char value_ok[256] = {
	['\t'] = 1, [0x20 ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};
static const unsigned char target_ok[256] = {
	[0x21 ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};
static const unsigned char tchar_ok[256] = {
	['0' ... '9'] = 1, ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['!'] = 1, ['#'] = 1,
	['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1,
	['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

static enum reqscan_result
refuse(struct reqscan *s, int status, const char *message)
{
	s->refused_in_body = ref_reqscan_in_body(s);
	s->state = S_REFUSED;
	s->status = status;
	s->message = message;
	return REQSCAN_REFUSE;
}

void
ref_reqscan_init(struct reqscan *s, size_t max_head, uint64_t max_body)
{
	memset(s, 0, sizeof(*s));
	s->state = S_IDLE;
	s->max_head = max_head;
	s->max_body = max_body;
	s->line_start = 1;
}

int
ref_reqscan_in_head(const struct reqscan *s)
{
	return s->in_head;
}

int
ref_reqscan_in_body(const struct reqscan *s)
{
	return s->state == S_BODY || s->state == S_CHUNK_SIZE || s->state == S_CHUNK_DATA ||
	    s->state == S_CHUNK_CR || s->state == S_CHUNK_LF || s->state == S_TRAILER_NAME ||
	    s->state == S_TRAILER_VALUE;
}

/* Added with the trailer bound (as in reqscan.c): the trailer section. */
static int
in_trailer(const struct reqscan *s)
{
	return s->state == S_TRAILER_NAME || s->state == S_TRAILER_VALUE;
}

static void
new_head(struct reqscan *s)
{
	int requests = s->requests;
	size_t max_head = s->max_head;
	uint64_t max_body = s->max_body, pos = s->pos;

	memset(s, 0, sizeof(*s));
	s->requests = requests;
	s->max_head = max_head;
	s->max_body = max_body;
	s->pos = pos;
	s->head_start = pos;
	s->state = S_LINE;
	s->in_head = 1;
}

/* A Content-Length or Transfer-Encoding field is complete. */
static enum reqscan_result
end_framing_field(struct reqscan *s)
{
	const char *v = s->value;
	size_t n = s->value_len;

	/* Trim OWS at the end (the start was skipped already). */
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (s->value_kind == 1) {
		uint64_t cl = 0;

		if (++s->ncl > 1)
			return refuse(s, 400, "More than one Content-Length");
		if (n == 0 || s->value_overflow)
			return refuse(s, 400, "Invalid Content-Length");
		for (size_t i = 0; i < n; i++) {
			if (v[i] < '0' || v[i] > '9' || i >= 18)
				return refuse(s, 400, "Invalid Content-Length");
			cl = cl * 10 + (uint64_t)(v[i] - '0');
		}
		s->content_length = cl;
	} else if (s->value_kind == 2) {
		/* Exactly one coding, "chunked": every other coding means the
		 * upstream and we could disagree on where the body ends. */
		if (++s->nte > 1 || s->value_overflow || n != 7 || strncasecmp(v, "chunked", 7) != 0)
			s->te_bad = 1;
		else
			s->te_chunked = 1;
	}
	return REQSCAN_MORE;
}

static int
supported_method(const char *m)
{
	static const char *const methods[] = {
		"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i]) == 0)
			return 1;
	return 0;
}

/* The empty line after the fields: decide how the body is framed. */
static enum reqscan_result
end_head(struct reqscan *s)
{
	int http10;

	s->in_head = 0;
	s->requests++;
	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive: anything
	 * else is a malformed request line; a well-formed other version is
	 * answered 505. */
	if (s->version_long || s->version_len != 8 || strncmp(s->version, "HTTP/", 5) != 0 ||
	    s->version[5] < '0' || s->version[5] > '9' || s->version[6] != '.' ||
	    s->version[7] < '0' || s->version[7] > '9')
		return refuse(s, 400, "Malformed request line");
	if (s->version[5] != '1' || (s->version[7] != '0' && s->version[7] != '1'))
		return refuse(s, 505, "Only HTTP/1.0 and HTTP/1.1 are supported");
	http10 = s->version[7] == '0';
	if (s->nte > 0 && s->ncl > 0)
		return refuse(s, 400, "Content-Length and Transfer-Encoding together are not allowed");
	if (s->nte > 0 && (s->te_bad || http10))
		return refuse(s, 501, "Only the chunked transfer coding is supported");
	/* libevent reads no body for HEAD: a body there would be taken for
	 * the next request. */
	if ((s->nte > 0 || s->content_length > 0) &&
	    (strcmp(s->method, "HEAD") == 0 || strcmp(s->method, "TRACE") == 0))
		return refuse(s, 400, "A body is not allowed with this method");
	if (s->content_length > s->max_body)
		return refuse(s, 413, "Request body too large");
	/* Methods are case-sensitive; the gateway proxies these and no
	 * others (TRACE would echo credentials, CONNECT opens a tunnel).
	 * Refused here, libevent would answer them itself, in HTML. */
	if (!supported_method(s->method))
		return refuse(s, 501, "Method not implemented");
	if (s->nte > 0) {
		s->state = S_CHUNK_SIZE;
		s->body_total = 0;
		s->chunk_digits = 0;
		s->chunk_ext = 0;
		s->remaining = 0;
	} else if (s->content_length > 0) {
		s->state = S_BODY;
		s->remaining = s->content_length;
	} else
		s->state = S_IDLE;
	s->line_start = 1;
	return REQSCAN_MORE;
}

/* CR LF handling shared by the line states: returns 1 when c ended a
 * line, 0 when c is an ordinary byte, -1 after a refusal. */
static int
line_end(struct reqscan *s, unsigned char c)
{
	if (s->cr) {
		s->cr = 0;
		if (c != '\n') {
			refuse(s, 400, "Bare CR in the request");
			return -1;
		}
		return 1;
	}
	if (c == '\r') {
		s->cr = 1;
		return 2;	/* swallowed, wait for LF */
	}
	if (c == '\n') {
		refuse(s, 400, "Line ends must be CRLF");
		return -1;
	}
	return 0;
}

size_t
ref_reqscan_feed_some(struct reqscan *s, const unsigned char *p, size_t n,
    int *in_head, int *head_done, enum reqscan_result *res)
{
	size_t i;

	*head_done = 0;
	*res = REQSCAN_MORE;
	if (s->state == S_REFUSED) {
		*res = REQSCAN_REFUSE;
		return 0;
	}
	/* A request starts with this byte: the run is a head. */
	if (n > 0 && s->state == S_IDLE && !s->cr && p[0] != '\r' && p[0] != '\n') {
		new_head(s);
		s->head_bytes = 0;
	}
	*in_head = s->in_head;
	for (i = 0; i < n; i++) {
		int was = s->in_head;

		/* Not in a head: stop before the byte that starts one. */
		if (!was && s->state == S_IDLE && !s->cr && p[i] != '\r' && p[i] != '\n')
			break;
		if (ref_reqscan_step(s, p + i, n - i, &i) != REQSCAN_MORE) {
			*res = REQSCAN_REFUSE;
			return i;
		}
		if (was && !s->in_head) {
			*head_done = 1;
			return i + 1;
		}
	}
	return i;
}

size_t
ref_reqscan_feed_body(struct reqscan *s, const unsigned char *p, size_t n, int *is_data,
    int *done, enum reqscan_result *res)
{
	size_t i;

	*res = REQSCAN_MORE;
	*is_data = s->state == S_BODY || s->state == S_CHUNK_DATA;
	*done = 0;
	if (s->state == S_REFUSED) {
		*res = REQSCAN_REFUSE;
		return 0;
	}
	for (i = 0; i < n && ref_reqscan_in_body(s); i++) {
		if ((s->state == S_BODY || s->state == S_CHUNK_DATA) != *is_data)
			break;
		if (ref_reqscan_step(s, p + i, n - i, &i) != REQSCAN_MORE) {
			*res = REQSCAN_REFUSE;
			return i;
		}
	}
	*done = !ref_reqscan_in_body(s);
	return i;
}

/* Does the field line at p (name up to colon) have that name? */
static int
field_is(const char *p, size_t namelen, const char *name)
{
	return namelen == strlen(name) && strncasecmp(p, name, namelen) == 0;
}

size_t
ref_reqscan_head_strip(const char *h, size_t hlen, char *out, int *expect)
{
	size_t i, eol, o = 0;

	*expect = 0;
	/* The request line ends at the first CRLF (bare ones were refused). */
	eol = chars_crlf_from(h, 0, hlen);
	memcpy(out, h, eol + 2);
	o = eol + 2;
	for (i = eol + 2; i + 1 < hlen;) {
		size_t end = chars_crlf_from(h, i, hlen), colon;
		const char *c;

		if (end == i)
			break;		/* the empty line */
		c = memchr(h + i, ':', end - i);
		colon = c != NULL ? (size_t)(c - (h + i)) : end - i;
		if (field_is(h + i, colon, "Expect")) {
			size_t v = i + colon + 1, ve = end;
			while (v < ve && (h[v] == ' ' || h[v] == '\t'))
				v++;
			while (ve > v && (h[ve - 1] == ' ' || h[ve - 1] == '\t'))
				ve--;
			if (*expect != 2)
				*expect = ve - v == 12 && strncasecmp(h + v, "100-continue", 12) == 0 ?
				    1 : 2;
		} else if (!field_is(h + i, colon, "Content-Length") &&
		    !field_is(h + i, colon, "Transfer-Encoding")) {
			memcpy(out + o, h + i, end + 2 - i);
			o += end + 2 - i;
		}
		i = end + 2;
	}
	out[o++] = '\r';
	out[o++] = '\n';
	return o;
}

uint64_t
ref_reqscan_body_length(const struct reqscan *s, int *chunked)
{
	*chunked = s->te_chunked && s->nte > 0;
	return s->content_length;
}

enum reqscan_result
ref_reqscan_feed(struct reqscan *s, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s->state == S_REFUSED)
			return REQSCAN_REFUSE;
		if (ref_reqscan_step(s, p + i, n - i, &i) != REQSCAN_MORE)
			return REQSCAN_REFUSE;
	}
	return s->state == S_REFUSED ? REQSCAN_REFUSE : REQSCAN_MORE;
}

/* One byte (or, in a body, a run of bytes: *i advances past all but the
 * last of them). */
static enum reqscan_result
ref_reqscan_step(struct reqscan *s, const unsigned char *p, size_t avail, size_t *ip)
{
	{
		unsigned char c = p[0];
		size_t n = avail, i = 0;
		int le;

		if (s->state == S_REFUSED)
			return REQSCAN_REFUSE;
		/* Most bytes of a head are field values (a bearer token) and
		 * the target: take a run of plain ones at once. */
		{
			const unsigned char *ok = NULL;
			if ((s->state == S_VALUE || s->state == S_TRAILER_VALUE) &&
			    s->value_kind == 0 && !s->cr)
				ok = value_ok;
			else if (s->state == S_LINE && s->spaces == 1 && !s->cr)
				ok = target_ok;
			else if ((s->state == S_NAME || s->state == S_TRAILER_NAME) && !s->cr)
				ok = tchar_ok;
			if (ok != NULL && ok[c]) {
				size_t j = 1;
				/* Four at a time (the table holds 0 or 1): half the
				 * instructions of a byte-by-byte loop. */
				while (j + 4 <= n && (ok[p[j]] & ok[p[j + 1]] & ok[p[j + 2]] & ok[p[j + 3]]))
					j += 4;
				while (j < n && ok[p[j]])
					j++;
				if (s->in_head && s->head_bytes + j > s->max_head)
					return refuse(s, 431, "Request header fields too large");
				if (in_trailer(s) && s->trailer_bytes + j > s->max_head)
					return refuse(s, 431, "Request trailer fields too large");
				if (ok == tchar_ok) {
					/* Keep what fits: enough to know the framing fields. */
					for (size_t k = 0; k < j && s->name_len + k < sizeof(s->name) - 1; k++)
						s->name[s->name_len + k] = (char)p[k];
					s->name_len += j;
				}
				if (s->in_head)
					s->head_bytes += j;
				else if (in_trailer(s))
					s->trailer_bytes += j;
				s->pos += j;
				*ip += j - 1;
				return REQSCAN_MORE;
			}
		}
		s->pos++;
		if (s->in_head && ++s->head_bytes > s->max_head)
			return refuse(s, 431, "Request header fields too large");
		if (in_trailer(s) && ++s->trailer_bytes > s->max_head)
			return refuse(s, 431, "Request trailer fields too large");

		switch (s->state) {
		case S_IDLE:
			/* RFC 9112 2.2: tolerate empty lines before a request. */
			if ((le = line_end(s, c)) < 0)
				return REQSCAN_REFUSE;
			if (le)
				break;
			new_head(s);
			s->head_start = s->pos - 1;
			s->head_bytes = 1;
			/* fall through: c is the request line's first byte */
			/* FALLTHROUGH */
		case S_LINE:
			if ((le = line_end(s, c)) < 0)
				return REQSCAN_REFUSE;
			if (le == 2)
				break;
			if (le == 1) {
				if (s->spaces != 2 || s->method_len == 0)
					return refuse(s, 400, "Malformed request line");
				s->state = S_NAME;
				s->line_start = 1;
				s->name_len = 0;
				s->seen_colon = 0;
				break;
			}
			if (c == ' ') {
				if (++s->spaces > 2)
					return refuse(s, 400, "Malformed request line");
				break;
			}
			if (c < 0x21 || c == 0x7f)
				return refuse(s, 400, "Control character in the request line");
			if (s->spaces == 0) {
				if (!chars_is_tchar(c) || s->method_len + 1 >= sizeof(s->method))
					return refuse(s, 400, "Malformed method");
				s->method[s->method_len++] = (char)c;
			} else if (s->spaces == 2) {
				if (s->version_len + 1 >= sizeof(s->version))
					s->version_long = 1;
				else
					s->version[s->version_len++] = (char)c;
			}
			break;

		case S_NAME:
		case S_TRAILER_NAME:
			if ((le = line_end(s, c)) < 0)
				return REQSCAN_REFUSE;
			if (le == 2)
				break;
			if (le == 1) {
				if (s->name_len != 0)
					return refuse(s, 400, "Field line without a colon");
				if (s->state == S_TRAILER_NAME) {
					s->state = S_IDLE;
					break;
				}
				if (end_head(s) != REQSCAN_MORE)
					return REQSCAN_REFUSE;
				break;
			}
			if (s->name_len == 0 && (c == ' ' || c == '\t'))
				return refuse(s, 400, "Obsolete line folding is not accepted");
			if (c == ':') {
				if (s->name_len == 0)
					return refuse(s, 400, "Empty field name");
				s->name[s->name_len < sizeof(s->name) ? s->name_len : sizeof(s->name) - 1] = '\0';
				s->value_kind = 0;
				if (s->state == S_NAME) {
					if (s->name_len == 14 && strcasecmp(s->name, "Content-Length") == 0)
						s->value_kind = 1;
					else if (s->name_len == 17 && strcasecmp(s->name, "Transfer-Encoding") == 0)
						s->value_kind = 2;
				}
				s->value_len = 0;
				s->value_overflow = 0;
				s->state = s->state == S_NAME ? S_VALUE : S_TRAILER_VALUE;
				break;
			}
			if (!chars_is_tchar(c))
				return refuse(s, 400, "Invalid character in a field name");
			if (s->name_len < sizeof(s->name) - 1)
				s->name[s->name_len] = (char)c;
			s->name_len++;
			break;

		case S_VALUE:
		case S_TRAILER_VALUE:
			if ((le = line_end(s, c)) < 0)
				return REQSCAN_REFUSE;
			if (le == 2)
				break;
			if (le == 1) {
				if (end_framing_field(s) != REQSCAN_MORE)
					return REQSCAN_REFUSE;
				s->state = s->state == S_VALUE ? S_NAME : S_TRAILER_NAME;
				s->name_len = 0;
				break;
			}
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return refuse(s, 400, "Control character in a field value");
			if (s->value_kind != 0) {
				if (s->value_len == 0 && (c == ' ' || c == '\t'))
					break;	/* leading OWS */
				if (s->value_len < sizeof(s->value))
					s->value[s->value_len++] = (char)c;
				else
					s->value_overflow = 1;
			}
			break;

		case S_BODY: {
			size_t take = n - i;
			if (take > s->remaining)
				take = (size_t)s->remaining;
			s->remaining -= take;
			*ip += take - 1;
			s->pos += take - 1;
			if (s->remaining == 0)
				s->state = S_IDLE;
			break;
		}

		case S_CHUNK_SIZE:
			if ((le = line_end(s, c)) < 0)
				return REQSCAN_REFUSE;
			if (le == 2)
				break;
			if (le == 1) {
				if (s->chunk_digits == 0)
					return refuse(s, 400, "Invalid chunk size");
				if (s->remaining == 0) {
					s->state = S_TRAILER_NAME;
					s->name_len = 0;
					s->trailer_bytes = 0;
				} else
					s->state = S_CHUNK_DATA;
				break;
			}
			if (s->chunk_ext) {
				/* Never read, only skipped: bounded, so that a size
				 * line cannot go on for ever. */
				if ((c < 0x20 && c != '\t') || c == 0x7f ||
				    ++s->chunk_ext > SG_CHUNK_EXT_MAX_BYTES)
					return refuse(s, 400, "Invalid chunk extension");
				break;
			}
			if (c == ';' && s->chunk_digits > 0) {
				s->chunk_ext = 1;
				break;
			}
			if (chars_hexval(c) < 0 || s->chunk_digits >= 15)
				return refuse(s, 400, "Invalid chunk size");
			s->remaining = s->remaining * 16 + (uint64_t)chars_hexval(c);
			s->chunk_digits++;
			if (s->body_total + s->remaining > s->max_body)
				return refuse(s, 413, "Request body too large");
			break;

		case S_CHUNK_DATA: {
			size_t take = n - i;
			if (take > s->remaining)
				take = (size_t)s->remaining;
			s->remaining -= take;
			s->body_total += take;
			*ip += take - 1;
			s->pos += take - 1;
			if (s->remaining == 0)
				s->state = S_CHUNK_CR;
			break;
		}

		case S_CHUNK_CR:
			if (c != '\r')
				return refuse(s, 400, "Chunk data must end with CRLF");
			s->state = S_CHUNK_LF;
			break;

		case S_CHUNK_LF:
			if (c != '\n')
				return refuse(s, 400, "Chunk data must end with CRLF");
			s->state = S_CHUNK_SIZE;
			s->chunk_digits = 0;
			s->chunk_ext = 0;
			s->remaining = 0;
			break;
		}
	}
	return s->state == S_REFUSED ? REQSCAN_REFUSE : REQSCAN_MORE;
}