/* b64url.c: see b64url.h. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "xmalloc.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of one base64url character, or -1 for anything else. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

ssize_t
b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	size_t i, o = 0, rem = len % 4;
	uint32_t acc = 0;
	int v;

	/* One leftover character cannot carry a whole byte. */
	if (rem == 1)
		return -1;
	if ((len / 4) * 3 + (rem ? rem - 1 : 0) > outcap)
		return -1;
	for (i = 0; i + 4 <= len; i += 4) {
		acc = 0;
		for (size_t j = 0; j < 4; j++) {
			if ((v = b64_value((unsigned char)in[i + j])) < 0)
				return -1;
			acc = (acc << 6) | (uint32_t)v;
		}
		out[o++] = (unsigned char)(acc >> 16);
		out[o++] = (unsigned char)(acc >> 8);
		out[o++] = (unsigned char)acc;
	}
	if (rem) {
		acc = 0;
		for (size_t j = 0; j < rem; j++) {
			if ((v = b64_value((unsigned char)in[i + j])) < 0)
				return -1;
			acc = (acc << 6) | (uint32_t)v;
		}
		/* The unused low bits of the last character must be zero,
		 * otherwise several strings would decode to the same bytes. */
		if (rem == 2) {
			if (acc & 0x0f)
				return -1;
			out[o++] = (unsigned char)(acc >> 4);
		} else {
			if (acc & 0x03)
				return -1;
			out[o++] = (unsigned char)(acc >> 10);
			out[o++] = (unsigned char)(acc >> 2);
		}
	}
	return (ssize_t)o;
}

unsigned char *
b64url_decode_alloc(const char *in, size_t len, size_t *outlen)
{
	size_t cap = B64URL_DECODED_MAX(len);
	unsigned char *out = xmalloc(cap + 1);
	ssize_t n;

	if ((n = b64url_decode(in, len, out, cap)) < 0) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*outlen = (size_t)n;
	return out;
}

size_t
b64url_encode(const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	size_t i, o = 0;
	uint32_t acc;

	for (i = 0; i + 3 <= len; i += 3) {
		acc = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
		out[o++] = alphabet[(acc >> 18) & 63];
		out[o++] = alphabet[(acc >> 12) & 63];
		out[o++] = alphabet[(acc >> 6) & 63];
		out[o++] = alphabet[acc & 63];
	}
	if (len - i == 1) {
		acc = (uint32_t)p[i] << 16;
		out[o++] = alphabet[(acc >> 18) & 63];
		out[o++] = alphabet[(acc >> 12) & 63];
	} else if (len - i == 2) {
		acc = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
		out[o++] = alphabet[(acc >> 18) & 63];
		out[o++] = alphabet[(acc >> 12) & 63];
		out[o++] = alphabet[(acc >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

char *
b64url_encode_alloc(const void *in, size_t len)
{
	char *out = xmalloc(B64URL_ENCODED_LEN(len) + 1);

	b64url_encode(in, len, out);
	return out;
}
