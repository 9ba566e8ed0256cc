/* b64url.h: strict base64url (RFC 4648 section 5) without padding, as JWS
 * compact serialization requires. Decoding refuses '=', '+', '/',
 * whitespace, impossible lengths and non-canonical final characters, so
 * every byte string has exactly one accepted encoding. */
#ifndef SCOPEGATE_B64URL_H
#define SCOPEGATE_B64URL_H

#include <stddef.h>
#include <sys/types.h>

/* Largest number of bytes that len encoded characters can decode to. */
#define B64URL_DECODED_MAX(len)	(((len) / 4) * 3 + 2)
/* Characters needed to encode len bytes (without a terminating NUL). */
#define B64URL_ENCODED_LEN(len)	(((len) / 3) * 4 + ((len) % 3 ? (len) % 3 + 1 : 0))

/* Decode len characters of in into out (room for outcap bytes). Returns the
 * decoded length, or -1 when the input is not strict base64url or does not
 * fit (out may then hold anything within its outcap bytes). */
ssize_t b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap);

/* Decode into a new buffer (NUL-terminated for convenience; *outlen excludes
 * the NUL). Returns NULL when the input is invalid; the caller frees. */
unsigned char *b64url_decode_alloc(const char *in, size_t len, size_t *outlen);

/* Encode len bytes into out, which has room for B64URL_ENCODED_LEN(len) + 1
 * characters; the result is NUL-terminated. Returns its length. */
size_t b64url_encode(const void *in, size_t len, char *out);

/* Encode into a new NUL-terminated string the caller frees. */
char *b64url_encode_alloc(const void *in, size_t len);

#endif
