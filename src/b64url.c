/* b64url.c: see b64url.h. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "xmalloc.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decoding tables, four characters at a time (the modp/Chromium way): the
 * value of each base64url character already shifted to its place in the
 * 24-bit group (d0 for the first character of a quartet ... d3 for the
 * last), so a quartet is four loads ORed together. Every other byte has
 * B64_BAD (bit 24, above the group), so one test on the OR of all the
 * quartets rejects a bad character anywhere. Built by the preprocessor:
 * no run-time initialisation. */
#define B64_BAD		UINT32_C(0x01000000)
#define B64V(c)		((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' : \
			 (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 : \
			 (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 : \
			 (c) == '-' ? 62 : (c) == '_' ? 63 : -1)
#define B64D(c, sh)	(B64V(c) < 0 ? B64_BAD : (uint32_t)B64V(c) << (sh))
#define B64R4(c, sh)	B64D(c, sh), B64D((c) + 1, sh), B64D((c) + 2, sh), B64D((c) + 3, sh)
#define B64R16(c, sh)	B64R4(c, sh), B64R4((c) + 4, sh), B64R4((c) + 8, sh), B64R4((c) + 12, sh)
#define B64R64(c, sh)	B64R16(c, sh), B64R16((c) + 16, sh), B64R16((c) + 32, sh), \
			B64R16((c) + 48, sh)
#define B64TABLE(sh)	{ B64R64(0, sh), B64R64(64, sh), B64R64(128, sh), B64R64(192, sh) }
static const uint32_t d0[256] = B64TABLE(18), d1[256] = B64TABLE(12),
    d2[256] = B64TABLE(6), d3[256] = B64TABLE(0);
#undef B64TABLE
#undef B64R64
#undef B64R16
#undef B64R4
#undef B64D
#undef B64V

ssize_t
b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i, o = 0, rem = len % 4;
	uint32_t acc, bad = 0;

	/* One leftover character cannot carry a whole byte. */
	if (rem == 1)
		return -1;
	if ((len / 4) * 3 + (rem ? rem - 1 : 0) > outcap)
		return -1;
	/* Bytes are written before the verdict (out has room for them all);
	 * on a bad character the result is -1 whatever out holds. */
	for (i = 0; i + 4 <= len; i += 4) {
		acc = d0[p[i]] | d1[p[i + 1]] | d2[p[i + 2]] | d3[p[i + 3]];
		bad |= acc;
		out[o] = (unsigned char)(acc >> 16);
		out[o + 1] = (unsigned char)(acc >> 8);
		out[o + 2] = (unsigned char)acc;
		o += 3;
	}
	if (rem == 2) {
		acc = d0[p[i]] | d1[p[i + 1]];
		/* The unused low bits of the last character must be zero,
		 * otherwise several strings would decode to the same bytes. */
		bad |= acc | (acc & 0xffff ? B64_BAD : 0);
		out[o++] = (unsigned char)(acc >> 16);
	} else if (rem == 3) {
		acc = d0[p[i]] | d1[p[i + 1]] | d2[p[i + 2]];
		bad |= acc | (acc & 0xff ? B64_BAD : 0);
		out[o++] = (unsigned char)(acc >> 16);
		out[o++] = (unsigned char)(acc >> 8);
	}
	if (bad & B64_BAD)
		return -1;
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
