/* keys.h: verification keys for JWS tokens, loaded once from files (PEM
 * public keys, HMAC secret files, JWKS) and then immutable, so one key set
 * can be shared read-only by every worker thread. Each key pins the
 * algorithms it may verify: the token's "alg" only selects among those, it
 * never chooses the key type. Also the signing side used by the token
 * tool, tests and benchmarks. */
#ifndef SCOPEGATE_KEYS_H
#define SCOPEGATE_KEYS_H

#include <stddef.h>

#include <openssl/evp.h>

#include "errlist.h"

/* JWS algorithms (RFC 7518, RFC 8037). "none" is deliberately absent. */
enum keys_alg {
	KEYS_ALG_HS256,
	KEYS_ALG_HS384,
	KEYS_ALG_HS512,
	KEYS_ALG_RS256,
	KEYS_ALG_RS384,
	KEYS_ALG_RS512,
	KEYS_ALG_PS256,
	KEYS_ALG_PS384,
	KEYS_ALG_PS512,
	KEYS_ALG_ES256,
	KEYS_ALG_ES384,
	KEYS_ALG_ES512,
	KEYS_ALG_EDDSA,
	KEYS_ALG_COUNT
};

#define KEYS_ALG_BIT(a)		(1u << (a))
#define KEYS_ALGS_HMAC		(KEYS_ALG_BIT(KEYS_ALG_HS256) | \
	KEYS_ALG_BIT(KEYS_ALG_HS384) | KEYS_ALG_BIT(KEYS_ALG_HS512))

enum keys_kind {
	KEYS_KIND_HMAC,
	KEYS_KIND_RSA,
	KEYS_KIND_EC,
	KEYS_KIND_ED25519,
};

/* RSA moduli below this are refused (RFC 7518 section 3.3). */
#define KEYS_RSA_MIN_BITS	2048

/* Verification state prepared when a key is added (private to keys.c). */
struct keys_prep;

/* One verification key. */
struct keys_entry {
	char *kid;			/* NULL when the key has none */
	unsigned algs;			/* KEYS_ALG_BIT set it may verify */
	enum keys_kind kind;
	EVP_PKEY *pkey;			/* RSA, EC, Ed25519 public key */
	unsigned char *secret;		/* HMAC secret, wiped on free */
	size_t secret_len;
	char *source;			/* file (and JWKS index) for messages */
	struct keys_prep *prep;		/* per-algorithm templates; only read
					 * (copied) once the key is in a set */
};

/* An ordered set of keys; immutable after loading. */
struct keys {
	struct keys_entry **v;
	size_t n;
	EVP_MAC *hmac;			/* fetched once, shared */
};

/* "HS256" etc. to the enum (exact, case-sensitive); -1 when unknown. */
int keys_alg_from_name(const char *name, enum keys_alg *out);
const char *keys_alg_name(enum keys_alg alg);
/* The kind of key an algorithm needs. */
enum keys_kind keys_alg_kind(enum keys_alg alg);
const char *keys_kind_name(enum keys_kind kind);

/* An empty set; NULL only when OpenSSL cannot provide HMAC. */
struct keys *keys_new(void);
void keys_free(struct keys *ks);

/* Load a PEM public key (RSA, EC P-256/384/521, Ed25519). algs == 0 means
 * "derive from the key": allowed for EC and Ed25519 only. kid may be NULL.
 * Errors ("file: message") go to errs. Returns 0 or -1. */
int keys_load_pem(struct keys *ks, const char *path, const char *kid,
    unsigned algs, struct errlist *errs);

/* Load an HMAC secret file: its bytes, exactly, are the secret. The file
 * must not be accessible by group or others (mode & 077 == 0), and must be
 * at least as long as the largest hash of the pinned algorithms. algs must
 * be HS* only and non-zero. Returns 0 or -1. */
int keys_load_hmac(struct keys *ks, const char *path, const char *kid,
    unsigned algs, struct errlist *errs);

/* Add an HMAC secret from memory (tests, fuzzing). Returns 0 or -1. */
int keys_add_hmac(struct keys *ks, const char *name, const char *kid,
    unsigned algs, const unsigned char *secret, size_t len, struct errlist *errs);

/* Load a JWKS file / buffer. Each JWK's algorithms come from its "alg"
 * member, else from algs (when non-zero), else are derived for EC and OKP
 * keys. Keys with "use" other than "sig" or an "alg" that is not a JWS
 * signature algorithm are skipped; malformed keys are errors. Every error
 * is reported ("name: /keys/2/x: message"). Returns 0 or -1 (nothing is
 * added on error). */
int keys_load_jwks_file(struct keys *ks, const char *path, unsigned algs,
    struct errlist *errs);
int keys_load_jwks_buffer(struct keys *ks, const char *name, const char *buf,
    size_t len, unsigned algs, struct errlist *errs);

/* Verify sig over msg with key for alg. ES* signatures must be raw R||S
 * of twice the curve's coordinate size (never DER). Returns 1 when valid,
 * 0 when not (or the key does not allow alg), -1 on an internal error. */
int keys_verify(const struct keys *ks, const struct keys_entry *key,
    enum keys_alg alg, const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen);

/* Read a secret file (a regular file of 1 to KEYS_MAX_SECRET_BYTES bytes
 * that only its owner may access). Returns a buffer (caller cleanses and
 * frees) or NULL after reporting "path: why". */
unsigned char *keys_read_secret_file(const char *path, size_t *len, struct errlist *errs);

/* A private key (or HMAC secret) able to sign for one algorithm. */
struct keys_signer;

/* Load a signer for alg from a PEM private key, or for HS* from an HMAC
 * secret file (same rules as keys_load_hmac). NULL after reporting. */
struct keys_signer *keys_signer_load(const char *path, enum keys_alg alg,
    struct errlist *errs);
/* Sign msg; *sig is allocated (ES*: raw R||S). Returns 0 or -1. */
int keys_signer_sign(const struct keys_signer *s, const unsigned char *msg,
    size_t msglen, unsigned char **sig, size_t *siglen);
void keys_signer_free(struct keys_signer *s);

#endif
