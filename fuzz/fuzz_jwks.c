/* fuzz_jwks.c: the JWKS parser (JSON, JWK members, base64url, key
 * construction through OSSL_PARAM_BLD / EVP_PKEY_fromdata and validation),
 * then keys_verify with every key it accepts. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char msg[] = "header.payload";
	static const unsigned char sig[132];
	struct keys *ks = keys_new();
	struct errlist el;
	int rc;

	if (ks == NULL)
		abort();
	errlist_init(&el);
	/* Without and with configured algorithms. */
	rc = keys_load_jwks_buffer(ks, "fuzz", (const char *)data, size,
	    (size & 1) ? KEYS_ALG_BIT(KEYS_ALG_HS256) : 0, &el);
	if ((rc == 0) != (el.n == 0))
		abort();
	for (size_t i = 0; i < ks->n; i++) {
		const struct keys_entry *k = ks->v[i];
		if (k->algs == 0)
			abort();
		for (int a = 0; a < KEYS_ALG_COUNT; a++) {
			if (!(k->algs & KEYS_ALG_BIT(a)))
				continue;
			/* Exercise verification with every accepted key. (No
			 * assertion on the outcome: a small-order Ed25519 key
			 * could accept a zero signature.) */
			for (size_t len = 0; len <= sizeof(sig); len += 32)
				(void)keys_verify(ks, k, (enum keys_alg)a, msg,
				    sizeof(msg) - 1, sig, len);
		}
	}
	errlist_free(&el);
	keys_free(ks);
	return 0;
}
