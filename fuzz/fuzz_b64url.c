/* fuzz_b64url.c: strict base64url both ways. Any bytes: encoding then
 * decoding gives them back. Any text that decodes: it is the one and only
 * encoding of what it decodes to (re-encoding gives the same text), and
 * the allocating decoder agrees with the buffer one. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = B64URL_DECODED_MAX(size), n2 = 0;
	/* Room for data as text to decode into, and for data itself back. */
	unsigned char *out = malloc((cap > size ? cap : size) + 1), *alloc;
	char *enc = malloc(B64URL_ENCODED_LEN(size) + 1), *re;
	ssize_t n;

	if (out == NULL || enc == NULL)
		abort();
	/* Bytes -> text -> the same bytes. */
	if (b64url_encode(data, size, enc) != B64URL_ENCODED_LEN(size))
		abort();
	n = b64url_decode(enc, B64URL_ENCODED_LEN(size), out, size);
	if (n != (ssize_t)size || memcmp(out, data, size) != 0)
		abort();
	/* Text -> bytes -> the same text, or refused by both decoders. */
	n = b64url_decode((const char *)data, size, out, cap);
	alloc = b64url_decode_alloc((const char *)data, size, &n2);
	if ((n < 0) != (alloc == NULL))
		abort();
	if (n >= 0) {
		if ((size_t)n != n2 || memcmp(out, alloc, n2) != 0 || alloc[n2] != '\0')
			abort();
		if ((re = b64url_encode_alloc(out, (size_t)n)) == NULL)
			abort();
		if (strlen(re) != size || memcmp(re, data, size) != 0)
			abort();	/* two encodings of the same bytes */
		free(re);
	}
	free(alloc);
	free(enc);
	free(out);
	return 0;
}
