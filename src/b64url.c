/* b64url.c: see b64url.h. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "xmalloc.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of each base64url character; 0x40 marks every other byte, so one
 * test on the OR of four values rejects a bad quartet. */
#define X	0x40
static const unsigned char b64_values[256] = {
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, 62, X, X,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

ssize_t
b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i, o = 0, rem = len % 4;
	unsigned a, b, c, d;
	uint32_t acc;

	/* One leftover character cannot carry a whole byte. */
	if (rem == 1)
		return -1;
	if ((len / 4) * 3 + (rem ? rem - 1 : 0) > outcap)
		return -1;
	for (i = 0; i + 4 <= len; i += 4) {
		a = b64_values[p[i]];
		b = b64_values[p[i + 1]];
		c = b64_values[p[i + 2]];
		d = b64_values[p[i + 3]];
		if ((a | b | c | d) & 0x40)
			return -1;
		acc = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
		out[o++] = (unsigned char)(acc >> 16);
		out[o++] = (unsigned char)(acc >> 8);
		out[o++] = (unsigned char)acc;
	}
	if (rem) {
		acc = 0;
		for (size_t j = 0; j < rem; j++) {
			if ((a = b64_values[p[i + j]]) & 0x40)
				return -1;
			acc = (acc << 6) | a;
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
