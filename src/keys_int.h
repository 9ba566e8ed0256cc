/* keys_int.h: what keys.c shares with keys_jwks.c (JWK/JWKS parsing) and
 * keys_sign.c (the token tool's signer); not for other modules. */
#ifndef SCOPEGATE_KEYS_INT_H
#define SCOPEGATE_KEYS_INT_H

#include <stddef.h>

#include <openssl/evp.h>

#include "keys.h"

/* What an algorithm needs from OpenSSL and from a JWK. */
struct keys_alg_info {
	const char *name;
	enum keys_kind kind;
	const char *digest;	/* OpenSSL digest name, NULL for EdDSA */
	size_t hash_len;
	size_t ec_coord;	/* ES*: bytes of one coordinate / of R and S */
	const char *curve;	/* ES*: OpenSSL group name */
	const char *jwk_crv;	/* ES*: JWK "crv" */
	int pss;
};

const struct keys_alg_info *keys_alg_info(enum keys_alg alg);
/* The digest of alg (NULL for EdDSA). */
const EVP_MD *keys_alg_md(enum keys_alg alg);

/* A new entry of kind with the given algorithms; source names it in
 * messages. keys_append takes it over (preparing its verification
 * templates); keys_entry_free frees one that was not appended. */
struct keys_entry *keys_entry_new(const char *kid, unsigned algs, enum keys_kind kind,
    const char *source);
void keys_append(struct keys *ks, struct keys_entry *k);
void keys_entry_free(struct keys_entry *k);

/* The kind of pk and, for EC, the one algorithm its curve allows. NULL
 * when usable, else why not. */
const char *keys_classify_pkey(EVP_PKEY *pk, enum keys_kind *kind, enum keys_alg *ec_alg);
/* Check algs against the key's kind (and curve, HMAC secret length);
 * fill in the derived default when algs is 0. NULL or why not (in buf). */
const char *keys_check_algs(unsigned *algs, enum keys_kind kind, enum keys_alg ec_alg,
    size_t secret_len, char *buf, size_t buflen);
/* Algorithms and length for an HMAC secret: NULL or why not. */
const char *keys_hmac_check(unsigned algs, size_t len, char *buf, size_t buflen);

/* HMAC of msg into out (at least EVP_MAX_MD_SIZE bytes): its length or -1. */
int keys_hmac_compute(EVP_MAC *mac, enum keys_alg alg, const unsigned char *secret,
    size_t secret_len, const unsigned char *msg, size_t msglen, unsigned char *out);
/* RSA padding for alg on a signing/verification context (1 = ok). */
int keys_set_rsa_padding(EVP_PKEY_CTX *pctx, enum keys_alg alg);

#endif
