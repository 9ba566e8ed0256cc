/* override.c: see override.h. */
#include "config.h"

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

/* Does the name s[0..len) read as `want`? */
static int
name_is(const char *s, size_t len, const char *want)
{
	size_t i = 0, k = 0;
	unsigned char c = 0;

	/* PHP drops leading spaces from a parameter name. */
	while (i < len) {
		size_t at = i;
		c = next_char(s, &i, len);
		if (c != ' ') {
			i = at;
			break;
		}
	}
	for (k = 0; want[k] != '\0'; k++) {
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
