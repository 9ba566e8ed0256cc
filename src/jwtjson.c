/* jwtjson.c: see jwtjson.h. The subset: objects and arrays nested at most
 * JWTJSON_MAX_DEPTH deep, strings of printable ASCII without escapes,
 * integers of at most 18 digits (they fit json_int_t), true, false, null,
 * JSON whitespace. Every other byte sends the whole input to jansson. */
#include "config.h"

#include <string.h>

#include "jwtjson.h"

#define JWTJSON_MAX_DEPTH	8
/* At most this many digits: 10^18 - 1 fits a 64-bit json_int_t. */
#define JWTJSON_MAX_DIGITS	18
/* Names of one object compared without hashing up to this many members
 * (a token has about ten); past it jansson's lookup finds duplicates. */
#define JWTJSON_SCAN_NAMES	32

/* The bytes a string of the subset may hold: printable ASCII but '"'
 * (0x22, its end) and '\\' (0x5c, an escape). */
static const unsigned char plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};

struct cur {
	const unsigned char *p, *end;
	/* 0: read the grammar without building anything (jwtjson_scan_object):
	 * the same functions accept the same bytes, and each value is
	 * scan_mark instead of a new one. */
	int build;
};

/* What a value is when nothing is built: a static value that json_decref
 * leaves alone (refcount -1, as jansson's own true, false and null). */
static json_t scan_mark = { JSON_NULL, (size_t)-1 };

/* JSON whitespace (RFC 8259 2): one load to tell, as a token's JSON
 * usually has none and this runs between every two tokens of it. */
static const unsigned char ws[256] = {
	[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1,
};

static void
skip_ws(struct cur *c)
{
	while (c->p < c->end && ws[*c->p])
		c->p++;
}

/* Whether the n bytes at a and b are equal: the names compared here are
 * a few bytes long and usually differ in the first, where a call to
 * memcmp would cost more than the comparison. */
static int
same_bytes(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* A string at c->p ('"' there): its bytes in *s, *n. 0, or -1 when it is
 * outside the subset (an escape, a control or non-ASCII byte, no end). */
static int
fast_string(struct cur *c, const char **s, size_t *n)
{
	const unsigned char *q = c->p + 1;

	while (q < c->end && plain[*q])
		q++;
	if (q >= c->end || *q != '"')
		return -1;
	*s = (const char *)c->p + 1;
	*n = (size_t)(q - c->p - 1);
	c->p = q + 1;
	return 0;
}

/* An integer at c->p: no fraction, no exponent, no leading zero, at most
 * JWTJSON_MAX_DIGITS digits, into *v. 0, or -1 when outside the subset. */
static int
scan_integer(struct cur *c, json_int_t *v)
{
	const unsigned char *q = c->p;
	json_int_t acc = 0;
	int neg = 0;
	size_t nd = 0;

	if (*q == '-') {
		neg = 1;
		q++;
	}
	while (q < c->end && *q >= '0' && *q <= '9') {
		if (nd == JWTJSON_MAX_DIGITS)
			return -1;
		acc = acc * 10 + (*q - '0');
		q++;
		nd++;
	}
	if (nd == 0 || (nd > 1 && q[-(ptrdiff_t)nd] == '0'))
		return -1;
	if (q < c->end && (*q == '.' || *q == 'e' || *q == 'E'))
		return -1;
	c->p = q;
	*v = neg ? -acc : acc;
	return 0;
}

static json_t *
fast_integer(struct cur *c)
{
	json_int_t v;

	if (scan_integer(c, &v) != 0)
		return NULL;
	return c->build ? json_integer(v) : &scan_mark;
}

static json_t *fast_value(struct cur *c, int depth);

/* Whether name (n bytes) is among the first k names seen. */
static int
seen(const char *const *names, const size_t *lens, size_t k, const char *name, size_t n)
{
	for (size_t i = 0; i < k; i++)
		if (lens[i] == n && same_bytes(names[i], name, n))
			return 1;
	return 0;
}

/* An object at c->p ('{' there). A name given twice is outside the
 * subset: jansson refuses it. */
static json_t *
fast_object(struct cur *c, int depth)
{
	const char *names[JWTJSON_SCAN_NAMES], *k;
	size_t lens[JWTJSON_SCAN_NAMES], nk = 0, kn;
	json_t *o, *v;

	if (depth > JWTJSON_MAX_DEPTH || (o = c->build ? json_object() : &scan_mark) == NULL)
		return NULL;
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return o;
	}
	for (;;) {
		if (c->p >= c->end || *c->p != '"' || fast_string(c, &k, &kn) != 0)
			goto fail;
		/* Past JWTJSON_SCAN_NAMES names only the built object can
		 * tell a duplicate: a scan refuses (it is then parsed). */
		if (nk < JWTJSON_SCAN_NAMES ? seen(names, lens, nk, k, kn) :
		    !c->build || json_object_getn(o, k, kn) != NULL)
			goto fail;
		if (nk < JWTJSON_SCAN_NAMES) {
			names[nk] = k;
			lens[nk++] = kn;
		}
		skip_ws(c);
		if (c->p >= c->end || *c->p != ':')
			goto fail;
		c->p++;
		skip_ws(c);
		/* Takes v, also on failure. */
		if ((v = fast_value(c, depth)) == NULL ||
		    (c->build && json_object_setn_new_nocheck(o, k, kn, v) != 0))
			goto fail;
		skip_ws(c);
		if (c->p >= c->end)
			goto fail;
		if (*c->p == '}') {
			c->p++;
			return o;
		}
		if (*c->p != ',')
			goto fail;
		c->p++;
		skip_ws(c);
	}
fail:
	json_decref(o);
	return NULL;
}

/* An array at c->p ('[' there). */
static json_t *
fast_array(struct cur *c, int depth)
{
	json_t *a, *v;

	if (depth > JWTJSON_MAX_DEPTH || (a = c->build ? json_array() : &scan_mark) == NULL)
		return NULL;
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == ']') {
		c->p++;
		return a;
	}
	for (;;) {
		if ((v = fast_value(c, depth)) == NULL ||
		    (c->build && json_array_append_new(a, v) != 0))
			goto fail;
		skip_ws(c);
		if (c->p >= c->end)
			goto fail;
		if (*c->p == ']') {
			c->p++;
			return a;
		}
		if (*c->p != ',')
			goto fail;
		c->p++;
		skip_ws(c);
	}
fail:
	json_decref(a);
	return NULL;
}

/* The literal lit (n bytes) at c->p: 0 and past it, or -1. */
static int
literal(struct cur *c, const char *lit, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return -1;
	c->p += n;
	return 0;
}

/* One value at c->p, depth being that of its container. */
static json_t *
fast_value(struct cur *c, int depth)
{
	const char *s;
	size_t n;

	if (c->p >= c->end)
		return NULL;
	switch (*c->p) {
	case '"':
		if (fast_string(c, &s, &n) != 0)
			return NULL;
		return c->build ? json_stringn_nocheck(s, n) : &scan_mark;
	case '{':
		return fast_object(c, depth + 1);
	case '[':
		return fast_array(c, depth + 1);
	case 't':
		return literal(c, "true", 4) == 0 ? json_true() : NULL;
	case 'f':
		return literal(c, "false", 5) == 0 ? json_false() : NULL;
	case 'n':
		return literal(c, "null", 4) == 0 ? json_null() : NULL;
	default:
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return fast_integer(c);
		return NULL;
	}
}

/* A value at c->p, read but not built: its type into m, for a string its
 * bytes, for an integer its value, for an object or array (only when
 * containers is set) its whole text. 0, or -1 when outside the subset. */
static int
scan_member_value(struct cur *c, struct jwtjson_member *m, int containers)
{
	const unsigned char *start = c->p;

	m->str = NULL;
	m->str_len = 0;
	m->integer = 0;
	if (c->p >= c->end)
		return -1;
	switch (*c->p) {
	case '"':
		m->type = JSON_STRING;
		return fast_string(c, &m->str, &m->str_len);
	case 't':
		m->type = JSON_TRUE;
		return literal(c, "true", 4);
	case 'f':
		m->type = JSON_FALSE;
		return literal(c, "false", 5);
	case 'n':
		m->type = JSON_NULL;
		return literal(c, "null", 4);
	case '{':
	case '[':
		/* depth 1: that of the top-level object holding it. */
		m->type = *c->p == '{' ? JSON_OBJECT : JSON_ARRAY;
		if (!containers || c->build || fast_value(c, 1) == NULL)
			return -1;
		m->str = (const char *)start;
		m->str_len = (size_t)(c->p - start);
		return 0;
	default:
		m->type = JSON_INTEGER;
		if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
			return scan_integer(c, &m->integer);
		return -1;
	}
}

/* The object at buf (whitespace around it allowed), its members read into
 * m as jwtjson_scan_flat and jwtjson_scan_object say. */
static int
scan_object(const unsigned char *buf, size_t len, struct jwtjson_member *m,
    size_t max, size_t *n, int containers)
{
	struct cur c = { buf, buf + len, 0 };
	size_t k = 0;

	*n = 0;
	skip_ws(&c);
	if (c.p >= c.end || *c.p != '{')
		return 0;
	c.p++;
	skip_ws(&c);
	if (c.p < c.end && *c.p == '}')
		c.p++;
	else {
		for (;;) {
			if (k == max || c.p >= c.end || *c.p != '"' ||
			    fast_string(&c, &m[k].name, &m[k].name_len) != 0)
				return 0;
			for (size_t i = 0; i < k; i++)
				if (m[i].name_len == m[k].name_len &&
				    same_bytes(m[i].name, m[k].name, m[k].name_len))
					return 0;
			skip_ws(&c);
			if (c.p >= c.end || *c.p != ':')
				return 0;
			c.p++;
			skip_ws(&c);
			if (scan_member_value(&c, &m[k], containers) != 0)
				return 0;
			k++;
			skip_ws(&c);
			if (c.p >= c.end)
				return 0;
			if (*c.p == '}') {
				c.p++;
				break;
			}
			if (*c.p != ',')
				return 0;
			c.p++;
			skip_ws(&c);
		}
	}
	skip_ws(&c);
	if (c.p != c.end)
		return 0;
	*n = k;
	return 1;
}

int
jwtjson_scan_flat(const unsigned char *buf, size_t len, struct jwtjson_member *m,
    size_t max, size_t *n)
{
	return scan_object(buf, len, m, max, n, 0);
}

int
jwtjson_scan_object(const unsigned char *buf, size_t len, struct jwtjson_member *m,
    size_t max, size_t *n)
{
	/* Never more names than the fast path compares without a hash, so
	 * that what is accepted here the fast path builds. */
	if (max > JWTJSON_SCAN_NAMES)
		max = JWTJSON_SCAN_NAMES;
	return scan_object(buf, len, m, max, n, 1);
}

int
jwtjson_array_next(const char *text, size_t len, size_t *pos, struct jwtjson_member *m)
{
	struct cur c = { (const unsigned char *)text + *pos, (const unsigned char *)text + len, 0 };

	/* At '[' the first time, then after the previous element. */
	if (*pos == 0)
		c.p++;
	skip_ws(&c);
	if (c.p < c.end && *c.p == ',') {
		c.p++;
		skip_ws(&c);
	}
	if (c.p >= c.end || *c.p == ']')
		return 0;
	m->name = NULL;
	m->name_len = 0;
	if (scan_member_value(&c, m, 1) != 0)
		return 0;
	*pos = (size_t)(c.p - (const unsigned char *)text);
	return 1;
}

int
jwtjson_parse_fast(const unsigned char *buf, size_t len, json_t **out)
{
	struct cur c = { buf, buf + len, 1 };
	json_t *v = NULL;

	*out = NULL;
	skip_ws(&c);
	if (c.p >= c.end || *c.p != '{' || (v = fast_object(&c, 1)) == NULL)
		return 0;
	/* Only whitespace may follow, as for json_loadb. */
	skip_ws(&c);
	if (c.p != c.end) {
		json_decref(v);
		return 0;
	}
	*out = v;
	return 1;
}

json_t *
jwtjson_parse_object(const unsigned char *buf, size_t len)
{
	json_error_t err;
	json_t *v;

	if (jwtjson_parse_fast(buf, len, &v))
		return v;
	/* JSON text never holds a raw NUL (control characters in strings
	 * must be escaped, and NUL is no whitespace), but jansson 2.14 lets
	 * one through right after a number or literal ({"exp":1<NUL>}):
	 * refused here, whoever signed it (red-team observation). */
	if (memchr(buf, '\0', len) != NULL)
		return NULL;
	if ((v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err)) == NULL)
		return NULL;
	if (!json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}
