/* tls_int.h: what tls.c, tls_client.c and tls_config.c share; not for
 * other modules. */
#ifndef SCOPEGATE_TLS_INT_H
#define SCOPEGATE_TLS_INT_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "errlist.h"

/* A private key from a PEM file that only its owner may access (like
 * sshd). NULL with a reason in why (never any key material). */
EVP_PKEY *tls_load_private_key(const char *path, char *why, size_t whylen);

/* The first certificate of a PEM file and the ones after it. 0, or -1 with
 * a reason in why. */
int tls_load_chain(const char *path, X509 **leaf, STACK_OF(X509) **chain,
    char *why, size_t whylen);

/* The first queued OpenSSL error as text (or fallback); clears the queue. */
const char *tls_openssl_error(char *buf, size_t len, const char *fallback);

/* Report "errfile: errptr[/sub]: message" (or just the message when
 * errfile is NULL). */
void tls_report(struct errlist *errs, const char *errfile, const char *errptr,
    const char *sub, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Whether s is a numeric IPv4 or IPv6 address. */
int tls_is_ip_literal(const char *s);

#endif
