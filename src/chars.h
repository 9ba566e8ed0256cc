/* chars.h: character classes shared by the parsers (RFC 3986 / 9110). */
#ifndef SCOPEGATE_CHARS_H
#define SCOPEGATE_CHARS_H

#include <string.h>

/* The value of a hex digit, or -1. */
static inline int
chars_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 9110 tchar: the characters of a token (method, field name). */
static inline int
chars_is_tchar(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Non-zero when s is a non-empty RFC 9110 token (a field name, a method). */
static inline int
chars_is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!chars_is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* The index of the first CRLF in h[i..hlen) (its CR), or, when there is
 * none, hlen - 1 (i itself when fewer than two bytes are left): the same
 * as stepping byte by byte, but memchr finds the CRs several bytes at a
 * time (head scans ran at ~6 instructions a byte). */
static inline size_t
chars_crlf_from(const char *h, size_t i, size_t hlen)
{
	while (i + 1 < hlen) {
		const char *cr = memchr(h + i, '\r', hlen - 1 - i);

		if (cr == NULL)
			return hlen - 1;
		i = (size_t)(cr - h);
		if (h[i + 1] == '\n')
			return i;
		i++;
	}
	return i;
}

#endif
