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

#endif
