/* jsonschema_format.c: "format" checkers (date-time, email, uri) and the
 * ECMA-262 to PCRE2 regex glue for the JSON Schema validator. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "jsonschema_int.h"
#include "xmalloc.h"

/*
 * ECMA-262 \s: white space (Zs, TAB, VT, FF, NBSP, BOM) and line
 * terminators. Written with \uXXXX because PCRE2_ALT_BSUX is on.
 */
#define ECMA_SPACE \
	"\\t\\n\\u000b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029" \
	"\\u202f\\u205f\\u3000\\ufeff"

/* ECMA-262 long General_Category names that PCRE2 10.42 does not know. */
static const struct {
	const char *ecma, *pcre;
} gc_names[] = {
	{ "Letter", "L" }, { "Cased_Letter", "L&" }, { "Uppercase_Letter", "Lu" },
	{ "Lowercase_Letter", "Ll" }, { "Titlecase_Letter", "Lt" },
	{ "Modifier_Letter", "Lm" }, { "Other_Letter", "Lo" }, { "Mark", "M" },
	{ "Number", "N" }, { "Decimal_Number", "Nd" }, { "digit", "Nd" },
	{ "Letter_Number", "Nl" }, { "Other_Number", "No" }, { "Punctuation", "P" },
	{ "punct", "P" }, { "Symbol", "S" }, { "Separator", "Z" },
	{ "Space_Separator", "Zs" }, { "Other", "C" }, { "Control", "Cc" },
};

/* Copy src into a new string with \s and \S spelled out as ECMA classes
 * and long \p{...} category names shortened; the caller frees. */
static char *
ecma_translate(const char *src)
{
	size_t len = strlen(src), cap = len * 8 + 64, o = 0;
	char *out = xmalloc(cap);
	int in_class = 0;

	for (size_t i = 0; i < len; i++) {
		const char *ins = NULL;
		char c = src[i];

		/* Worst case one replacement per two input bytes: grow early. */
		if (o + sizeof("[^" ECMA_SPACE "]") + 2 >= cap) {
			cap *= 2;
			out = xreallocarray(out, cap, 1);
		}
		if (c == '\\' && i + 1 < len) {
			char n = src[i + 1];
			if (n == 's')
				ins = in_class ? ECMA_SPACE : "[" ECMA_SPACE "]";
			else if (n == 'S' && !in_class)
				ins = "[^" ECMA_SPACE "]";
			else if ((n == 'p' || n == 'P') && i + 2 < len && src[i + 2] == '{') {
				const char *name = src + i + 3;
				size_t nl = strcspn(name, "}");
				for (size_t k = 0; k < sizeof(gc_names) / sizeof(gc_names[0]); k++)
					if (name[nl] == '}' && strlen(gc_names[k].ecma) == nl &&
					    strncmp(name, gc_names[k].ecma, nl) == 0) {
						o += (size_t)sprintf(out + o, "\\%c{%s}", n, gc_names[k].pcre);
						i += 3 + nl;
						goto next;
					}
			}
			if (ins != NULL) {
				memcpy(out + o, ins, strlen(ins));
				o += strlen(ins);
			} else {
				out[o++] = c;
				out[o++] = n;
			}
			i++;
			continue;
		}
		if (!in_class && c == '[') {
			in_class = 1;
			out[o++] = c;
			/* A leading '^' and then ']' (empty class) are not the end. */
			if (i + 1 < len && src[i + 1] == '^')
				out[o++] = src[++i];
			if (i + 1 < len && src[i + 1] == ']') {
				out[o++] = src[++i];
				in_class = 0;
			}
			continue;
		}
		if (in_class && c == ']')
			in_class = 0;
		out[o++] = c;
next:
		;
	}
	out[o] = '\0';
	return out;
}

pcre2_code *
jschema_regex_compile(const char *src, char *msg, size_t msgsize)
{
	pcre2_code *re;
	PCRE2_SIZE off;
	char *pat;
	int rc;

	pat = ecma_translate(src);
	re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX |
	    PCRE2_ALLOW_EMPTY_CLASS | PCRE2_NEVER_BACKSLASH_C, &rc, &off, NULL);
	if (re == NULL) {
		PCRE2_UCHAR buf[120];
		pcre2_get_error_message(rc, buf, sizeof(buf));
		snprintf(msg, msgsize, "invalid regular expression: %s", (char *)buf);
	} else {
		/* JIT is an optimisation only (it may be unavailable). */
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	}
	free(pat);
	return re;
}

int
jschema_regex_match(const struct jschema *js, const pcre2_code *re,
    pcre2_match_data **md, const char *s, size_t len)
{
	int rc;

	if (*md == NULL && (*md = pcre2_match_data_create(1, NULL)) == NULL)
		return -1;
	rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, *md, js->mctx);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	return -1;
}

static int
digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

/* RFC 3339 date-time: full-date "T" full-time, a leap second only at
 * 23:59:60 UTC. */
int
jschema_format_date_time(const char *s, size_t len)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t i;

	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return 0;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
		return 0;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 60)
		return 0;
	i = 19;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
	}
	if (i == len)
		return 0;
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		if (len - i != 6 || s[i + 3] != ':' || digits(s + i + 1, 2, &oh) ||
		    digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return 0;
		i += 6;
	} else {
		return 0;
	}
	if (i != len)
		return 0;
	if (sec == 60) {
		/* Local time minus the offset must be 23:59 UTC. */
		int utc = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
		if (utc != 23 * 60 + 59)
			return 0;
	}
	return 1;
}

static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/*
 * email: dot-atom "@" domain (RFC 5322 without quoted strings and
 * comments); the domain is dot-separated labels of letters, digits and '-'
 * (non-ASCII allowed for IDN), or an address literal in brackets.
 */
int
jschema_format_email(const char *s, size_t len)
{
	const char *at = NULL;
	size_t i, label = 0;

	for (i = 0; i < len; i++)
		if (s[i] == '@')
			at = s + i;
	if (at == NULL || at == s || at == s + len - 1)
		return 0;
	for (i = 0; s + i < at; i++) {
		if (s[i] == '.') {
			if (i == 0 || s + i + 1 == at || s[i + 1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)s[i])) {
			return 0;
		}
	}
	i++;
	if (s[i] == '[')
		return s[len - 1] == ']' && len - i > 2 &&
		    strspn(s + i + 1, "0123456789abcdefABCDEF:.") >= len - i - 2;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c >= 0x80 || (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && s[len - 1] != '-';
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 unreserved / sub-delims / ':' '@' plus extra allowed bytes. */
static int
uri_char(unsigned char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL) ||
	    (c != '\0' && strchr(extra, c) != NULL);
}

/* Check s[0..n) is made of allowed characters and valid %XX escapes. */
static int
uri_span(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n)
				return 0;
			if (!is_hex((unsigned char)s[i + 1]) || !is_hex((unsigned char)s[i + 2]))
				return 0;
			i += 2;
		} else if (!uri_char((unsigned char)s[i], extra)) {
			return 0;
		}
	}
	return 1;
}

/*
 * uri: an absolute URI per RFC 3986 (scheme ":" hier-part [? query]
 * [# fragment]); relative references are not URIs. An IP literal host in
 * brackets is checked for its character set only.
 */
int
jschema_format_uri(const char *s, size_t len)
{
	size_t i = 0, end, hash;
	const char *p;

	if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	    (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i == len || s[i] != ':')
		return 0;
	i++;
	p = memchr(s + i, '#', len - i);
	hash = p ? (size_t)(p - s) : len;
	if (p != NULL && !uri_span(p + 1, len - hash - 1, "/?"))
		return 0;
	if (hash - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
		/* authority: [userinfo@]host[:port], host may be [IP-literal] */
		i += 2;
		end = i;
		while (end < hash && s[end] != '/' && s[end] != '?')
			end++;
		p = memchr(s + i, '[', end - i);
		if (p != NULL) {
			const char *q = memchr(p, ']', (size_t)(s + end - p));
			size_t plen;
			if (q == NULL || !uri_span(s + i, (size_t)(p - s) - i, "") ||
			    (p > s + i && p[-1] != '@'))
				return 0;
			plen = (size_t)(q - p) - 1;
			if (plen == 0 || strspn(p + 1, "0123456789abcdefABCDEFvV:.") < plen)
				return 0;
			if (q + 1 < s + end && (q[1] != ':' ||
			    strspn(q + 2, "0123456789") != (size_t)(s + end - q - 2)))
				return 0;
		} else if (!uri_span(s + i, end - i, "")) {
			return 0;
		}
		i = end;
	}
	return uri_span(s + i, hash - i, "/?");
}

int
jschema_format_check(enum jformat f, const char *s, size_t len)
{
	switch (f) {
	case JF_DATE_TIME:
		return jschema_format_date_time(s, len);
	case JF_EMAIL:
		return jschema_format_email(s, len);
	case JF_URI:
		return jschema_format_uri(s, len);
	case JF_NONE:
		break;
	}
	return 1;
}
