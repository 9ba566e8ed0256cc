/* override.c: see override.h. */
#include "config.h"

#include <string.h>

#include "chars.h"
#include "override.h"

/* The next character of a name at *i (< end), decoded: "%XX" as its byte
 * (a malformed escape stands for itself), '+' as a space; lower-cased. */
static unsigned char
next_char(const char *s, size_t *i, size_t end)
{
	unsigned char c = (unsigned char)s[*i];
	int hi, lo;

	if (c == '%' && *i + 2 < end && (hi = chars_hexval((unsigned char)s[*i + 1])) >= 0 &&
	    (lo = chars_hexval((unsigned char)s[*i + 2])) >= 0) {
		c = (unsigned char)(hi << 4 | lo);
		*i += 3;
	} else {
		if (c == '+')
			c = ' ';
		*i += 1;
	}
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	return c;
}

/* A name character as the lenient reading compares it: lower case, and
 * PHP's ' ', '.', '[' as '_'. */
static unsigned char
fold(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	if (c == ' ' || c == '.' || c == '[')
		c = '_';
	return c;
}

/* Does s[i..len) read as `want`, then end (or go on with a character
 * that is no letter or digit: "scope[]", "_method.x")? */
static int
name_from(const char *s, size_t i, size_t len, const char *want)
{
	unsigned char c;

	for (size_t k = 0; want[k] != '\0'; k++) {
		if (i >= len)
			return 0;
		c = next_char(s, &i, len);
		if (fold(c) != fold((unsigned char)want[k]))
			return 0;
	}
	if (i >= len)
		return 1;
	c = next_char(s, &i, len);
	return !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
}

/* Skip leading characters of s[*i..len) that are in set. */
static void
skip_leading(const char *s, size_t *i, size_t len, const char *set)
{
	while (*i < len) {
		size_t at = *i;
		unsigned char c = next_char(s, i, len);
		if (c == '\0' || strchr(set, c) == NULL) {
			*i = at;
			break;
		}
	}
}

/* Does the name s[0..len) read as `want`? PHP drops leading spaces from
 * a parameter name (and reads '[' as '_': "[method"); Rack drops leading
 * '[' and ']', and Node's qs reads "[name]" as name (Express's query
 * parser: "[scope][]=x" is {scope: ["x"]}). */
static int
name_is(const char *s, size_t len, const char *want)
{
	size_t i = 0;

	skip_leading(s, &i, len, " ");
	if (name_from(s, i, len, want))
		return 1;
	skip_leading(s, &i, len, " []");
	return name_from(s, i, len, want);
}

int
override_query_has_name(const char *q, size_t len, const char *name)
{
	size_t start = 0;

	if (q == NULL || name == NULL || name[0] == '\0')
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && q[i] != '&' && q[i] != ';')
			continue;
		/* One parameter: its name ends at the first '='. */
		size_t end = start;
		while (end < i && q[end] != '=')
			end++;
		if (name_is(q + start, end - start, name))
			return 1;
		start = i + 1;
	}
	return 0;
}

int
override_query_has_method(const char *q, size_t len)
{
	return override_query_has_name(q, len, "_method");
}
