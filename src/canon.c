/* canon.c: see canon.h.
 *
 * The gateway refuses ambiguity instead of normalising it: whatever the
 * upstream would decode differently from what we matched is a 400. In the
 * path that means no dot segments, no empty segments, no encoded separators
 * and no encoded unreserved characters (RFC 3986 6.2.2.2 says those are
 * equivalent to the plain character, so "/devices/tag%4Beys" would reach the
 * upstream as the literal "tagKeys" while we matched a parameter). The query
 * is not interpreted by the gateway and is forwarded unchanged, so it only
 * has to be well-formed: no raw controls, NUL, backslash, non-ASCII or '#',
 * valid escapes decoding to valid UTF-8 without NUL. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "chars.h"
#include "canon.h"

/* Character classes as tables: these run for every byte of every path
 * (a strchr per byte cost ~25 instructions). 1: unreserved, ALPHA DIGIT
 * - . _ ~ (RFC 3986 2.3); 2: the rest of pchar, sub-delims ':' '@'. */
static const unsigned char uri_class[256] = {
	['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1,
	['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1,
	['!'] = 2, ['$'] = 2, ['&'] = 2, ['\''] = 2, ['('] = 2, [')'] = 2, ['*'] = 2,
	['+'] = 2, [','] = 2, [';'] = 2, ['='] = 2, [':'] = 2, ['@'] = 2,
};

static int
is_unreserved(unsigned char c)
{
	return uri_class[c] == 1;
}

/* Allowed raw in a path segment: unreserved, sub-delims, ':' and '@'. */
static int
is_pchar(unsigned char c)
{
	return uri_class[c] != 0;
}

/* Allowed raw in the query: any visible ASCII but '#', backslash and '%' (which
 * starts an escape). Clients send "filter[a]=b" or "{json}" unencoded all
 * the time; that is harmless because the query is opaque to the gateway. */
static int
is_querychar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '#' && c != '\\' && c != '%';
}

/* Decode the escape at p[0..2] (p[0] == '%') within end; -1 if malformed. */
static int
escape_at(const char *p, const char *end)
{
	int hi, lo;

	if (end - p < 3)
		return -1;
	if ((hi = chars_hexval((unsigned char)p[1])) < 0 ||
	    (lo = chars_hexval((unsigned char)p[2])) < 0)
		return -1;
	return hi << 4 | lo;
}

/* Validate a multi-byte UTF-8 sequence whose lead byte `lead` was decoded
 * from the escape before *pp; the continuation bytes must be escapes too
 * (raw bytes >= 0x80 are refused anyway). Advances *pp past them. */
static enum canon_status
utf8_tail(int lead, const char **pp, const char *end)
{
	int need, lo = 0x80, hi = 0xbf, b;

	if (lead >= 0xc2 && lead <= 0xdf)
		need = 1;
	else if (lead >= 0xe0 && lead <= 0xef) {
		need = 2;
		if (lead == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (lead == 0xed)
			hi = 0x9f;	/* UTF-16 surrogates */
	} else if (lead >= 0xf0 && lead <= 0xf4) {
		need = 3;
		if (lead == 0xf0)
			lo = 0x90;	/* overlong */
		else if (lead == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return CANON_BAD_UTF8;	/* stray continuation, C0/C1, F5+ */
	for (int i = 0; i < need; i++) {
		if (*pp >= end || **pp != '%')
			return CANON_BAD_UTF8;
		if ((b = escape_at(*pp, end)) < 0)
			return CANON_BAD_ESCAPE;
		if (b < lo || b > hi)
			return CANON_BAD_UTF8;
		lo = 0x80;
		hi = 0xbf;
		*pp += 3;
	}
	return CANON_OK;
}

/* Classify a raw byte that is not allowed where it stands. */
static enum canon_status
raw_refusal(unsigned char c)
{
	if (c == 0)
		return CANON_NUL;
	if (c < 0x20 || c == 0x7f)
		return CANON_CONTROL;
	if (c >= 0x80)
		return CANON_NON_ASCII;
	if (c == '#')
		return CANON_FRAGMENT;
	if (c == '\\')
		return CANON_BACKSLASH;
	return CANON_BAD_CHAR;
}

/* A segment made of dots only, plain or encoded, in any mix: ".", "..",
 * "%2e", ".%2E", and "..." which some file systems fold to "..". */
static int
is_dot_segment(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (p[i] == '.')
			i++;
		else if (i + 2 < len && p[i] == '%' && p[i + 1] == '2' &&
		    (p[i + 2] == 'e' || p[i + 2] == 'E'))
			i += 3;
		else
			return 0;
	}
	return len > 0;
}

/* Check one non-empty path segment. */
static enum canon_status
check_segment(const char *p, size_t len)
{
	const char *end = p + len;
	enum canon_status st;
	int b;

	if (is_dot_segment(p, len))
		return CANON_DOT_SEGMENT;
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c != '%') {
			if (!is_pchar(c))
				return raw_refusal(c);
			p++;
			continue;
		}
		if ((b = escape_at(p, end)) < 0)
			return CANON_BAD_ESCAPE;
		p += 3;
		if (b == 0)
			return CANON_NUL;
		if (b < 0x20 || b == 0x7f)
			return CANON_CONTROL;
		if (b == '/' || b == '\\')
			return CANON_ENCODED_SEPARATOR;
		if (b < 0x80 && is_unreserved((unsigned char)b))
			return CANON_ENCODED_UNRESERVED;
		if (b >= 0x80 && (st = utf8_tail(b, &p, end)) != CANON_OK)
			return st;
	}
	return CANON_OK;
}

/* Check the query (everything after the first '?'). */
static enum canon_status
check_query(const char *p, size_t len)
{
	const char *end = p + len;
	enum canon_status st;
	int b;

	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c != '%') {
			if (!is_querychar(c))
				return raw_refusal(c);
			p++;
			continue;
		}
		if ((b = escape_at(p, end)) < 0)
			return CANON_BAD_ESCAPE;
		p += 3;
		if (b == 0)
			return CANON_NUL;
		if (b >= 0x80 && (st = utf8_tail(b, &p, end)) != CANON_OK)
			return st;
	}
	return CANON_OK;
}

enum canon_status
canon_target(const char *target, size_t len, struct canon_target *out)
{
	const char *q, *seg, *pend;
	enum canon_status st;

	memset(out, 0, offsetof(struct canon_target, segs));
	if (len > SG_MAX_TARGET_BYTES)
		return CANON_TOO_LONG;
	if (len == 0)
		return CANON_EMPTY;
	if (target[0] != '/')
		return CANON_NOT_ORIGIN_FORM;

	q = memchr(target, '?', len);
	pend = q ? q : target + len;
	out->path = target;
	out->path_len = (size_t)(pend - target);

	/* The root "/" alone has no segment; anywhere else an empty segment
	 * ("//", trailing "/") is refused: Losant paths never end with '/'. */
	if (out->path_len > 1) {
		seg = target + 1;
		for (;;) {
			const char *slash = memchr(seg, '/', (size_t)(pend - seg));
			const char *send = slash ? slash : pend;
			size_t slen = (size_t)(send - seg);
			if (slen == 0)
				return CANON_EMPTY_SEGMENT;
			if ((st = check_segment(seg, slen)) != CANON_OK)
				return st;
			if (out->nsegs == SG_MAX_PATH_SEGMENTS)
				return CANON_TOO_MANY_SEGMENTS;
			out->segs[out->nsegs].ptr = seg;
			out->segs[out->nsegs].len = slen;
			out->nsegs++;
			if (slash == NULL)
				break;
			seg = slash + 1;
		}
	}
	if (q != NULL) {
		out->has_query = 1;
		out->query = q + 1;
		out->query_len = len - (size_t)(q + 1 - target);
		if ((st = check_query(out->query, out->query_len)) != CANON_OK)
			return st;
	}
	return CANON_OK;
}

const char *
canon_status_message(enum canon_status st)
{
	switch (st) {
	case CANON_OK: return "ok";
	case CANON_TOO_LONG: return "request target too long";
	case CANON_EMPTY: return "empty request target";
	case CANON_NOT_ORIGIN_FORM: return "request target must be an absolute path";
	case CANON_FRAGMENT: return "fragment in request target";
	case CANON_NUL: return "NUL in request target";
	case CANON_CONTROL: return "control character in request target";
	case CANON_BACKSLASH: return "backslash in request target";
	case CANON_NON_ASCII: return "non-ASCII byte in request target";
	case CANON_BAD_CHAR: return "character not allowed in request target";
	case CANON_BAD_ESCAPE: return "malformed percent escape";
	case CANON_BAD_UTF8: return "percent escapes are not valid UTF-8";
	case CANON_ENCODED_SEPARATOR: return "encoded slash or backslash in path";
	case CANON_ENCODED_UNRESERVED: return "needlessly percent-encoded character in path";
	case CANON_DOT_SEGMENT: return "dot segment in path";
	case CANON_EMPTY_SEGMENT: return "empty path segment";
	case CANON_TOO_MANY_SEGMENTS: return "too many path segments";
	}
	return "invalid request target";
}

const char *
canon_status_name(enum canon_status st)
{
	switch (st) {
	case CANON_OK: return "ok";
	case CANON_TOO_LONG: return "target_too_long";
	case CANON_EMPTY: return "empty_target";
	case CANON_NOT_ORIGIN_FORM: return "not_origin_form";
	case CANON_FRAGMENT: return "fragment";
	case CANON_NUL: return "nul";
	case CANON_CONTROL: return "control_char";
	case CANON_BACKSLASH: return "backslash";
	case CANON_NON_ASCII: return "non_ascii";
	case CANON_BAD_CHAR: return "bad_char";
	case CANON_BAD_ESCAPE: return "bad_escape";
	case CANON_BAD_UTF8: return "bad_utf8";
	case CANON_ENCODED_SEPARATOR: return "encoded_separator";
	case CANON_ENCODED_UNRESERVED: return "encoded_unreserved";
	case CANON_DOT_SEGMENT: return "dot_segment";
	case CANON_EMPTY_SEGMENT: return "empty_segment";
	case CANON_TOO_MANY_SEGMENTS: return "too_many_segments";
	}
	return "bad_target";
}

int
canon_status_http(enum canon_status st)
{
	if (st == CANON_OK)
		return 0;
	return st == CANON_TOO_LONG ? 414 : 400;
}
