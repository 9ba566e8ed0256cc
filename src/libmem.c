/* libmem.c: the allocation functions OpenSSL uses.
 *
 * Why: the daemon runs on jemalloc, whose free(NULL) misses its fast path
 * (~46 instructions), and OpenSSL frees NULL a lot: ERR_clear_error(),
 * which libevent's OpenSSL bufferevent calls before every SSL_read and
 * SSL_write, frees the file and function names of all 16 error slots
 * whether set or not (32 CRYPTO_free(NULL) a call, 2 calls a request on a
 * kept-alive TLS connection). The same allocator underneath (these only
 * call malloc, realloc and free), so a block from either side may be
 * freed by the other. */
#include "config.h"

#include <stdlib.h>

#include <openssl/crypto.h>

#include "libmem.h"

/* OpenSSL's own CRYPTO_malloc: NULL for 0 bytes. */
static void *
ossl_malloc(size_t num, const char *file, int line)
{
	(void)file;
	(void)line;
	return num == 0 ? NULL : malloc(num);
}

/* OpenSSL's own CRYPTO_realloc: a NULL block is malloc, 0 bytes frees. */
static void *
ossl_realloc(void *p, size_t num, const char *file, int line)
{
	void *r = NULL;

	if (p == NULL)
		r = ossl_malloc(num, file, line);
	else if (num == 0)
		free(p);
	else
		r = realloc(p, num);
	return r;
}

static void
ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p != NULL)
		free(p);
}

int
libmem_install(void)
{
	return CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) == 1 ? 0 : -1;
}
