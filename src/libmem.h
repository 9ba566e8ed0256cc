/* libmem.h: the allocation functions OpenSSL uses in the daemon. */
#ifndef SCOPEGATE_LIBMEM_H
#define SCOPEGATE_LIBMEM_H

/* libmem_install: hands OpenSSL allocation functions that return at once
 * on free(NULL). Only before OpenSSL allocated anything (first thing in
 * main()): 0, or -1 when it already had (its own functions then stay,
 * which only costs instructions). */
int libmem_install(void);

#endif
