/* keys.c: see keys.h. All verification goes through OpenSSL 3 EVP. PEM
 * keys and HMAC secrets are loaded here; JWKS in keys_jwks.c, signing (for
 * the token tool) in keys_sign.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "keys_int.h"
#include "xmalloc.h"

/* HMAC secret files larger than this are refused (a secret is not a
 * document). */
#define KEYS_MAX_SECRET_BYTES	4096

static const struct keys_alg_info algs_table[KEYS_ALG_COUNT] = {
	[KEYS_ALG_HS256] = { "HS256", KEYS_KIND_HMAC, "SHA256", 32, 0, NULL, NULL, 0 },
	[KEYS_ALG_HS384] = { "HS384", KEYS_KIND_HMAC, "SHA384", 48, 0, NULL, NULL, 0 },
	[KEYS_ALG_HS512] = { "HS512", KEYS_KIND_HMAC, "SHA512", 64, 0, NULL, NULL, 0 },
	[KEYS_ALG_RS256] = { "RS256", KEYS_KIND_RSA, "SHA256", 32, 0, NULL, NULL, 0 },
	[KEYS_ALG_RS384] = { "RS384", KEYS_KIND_RSA, "SHA384", 48, 0, NULL, NULL, 0 },
	[KEYS_ALG_RS512] = { "RS512", KEYS_KIND_RSA, "SHA512", 64, 0, NULL, NULL, 0 },
	[KEYS_ALG_PS256] = { "PS256", KEYS_KIND_RSA, "SHA256", 32, 0, NULL, NULL, 1 },
	[KEYS_ALG_PS384] = { "PS384", KEYS_KIND_RSA, "SHA384", 48, 0, NULL, NULL, 1 },
	[KEYS_ALG_PS512] = { "PS512", KEYS_KIND_RSA, "SHA512", 64, 0, NULL, NULL, 1 },
	[KEYS_ALG_ES256] = { "ES256", KEYS_KIND_EC, "SHA256", 32, 32, "prime256v1", "P-256", 0 },
	[KEYS_ALG_ES384] = { "ES384", KEYS_KIND_EC, "SHA384", 48, 48, "secp384r1", "P-384", 0 },
	[KEYS_ALG_ES512] = { "ES512", KEYS_KIND_EC, "SHA512", 64, 66, "secp521r1", "P-521", 0 },
	[KEYS_ALG_EDDSA] = { "EdDSA", KEYS_KIND_ED25519, NULL, 0, 0, NULL, NULL, 0 },
};

const struct keys_alg_info *
keys_alg_info(enum keys_alg alg)
{
	return &algs_table[alg];
}

int
keys_alg_from_name(const char *name, enum keys_alg *out)
{
	for (int a = 0; a < KEYS_ALG_COUNT; a++) {
		if (strcmp(algs_table[a].name, name) == 0) {
			*out = (enum keys_alg)a;
			return 0;
		}
	}
	return -1;
}

const char *
keys_alg_name(enum keys_alg alg)
{
	return (unsigned)alg < KEYS_ALG_COUNT ? algs_table[alg].name : "?";
}

enum keys_kind
keys_alg_kind(enum keys_alg alg)
{
	return algs_table[alg].kind;
}

const char *
keys_kind_name(enum keys_kind kind)
{
	switch (kind) {
	case KEYS_KIND_HMAC: return "HMAC secret";
	case KEYS_KIND_RSA: return "RSA key";
	case KEYS_KIND_EC: return "EC key";
	case KEYS_KIND_ED25519: return "Ed25519 key";
	}
	return "key";
}

const EVP_MD *
keys_alg_md(enum keys_alg alg)
{
	switch (alg) {
	case KEYS_ALG_HS256: case KEYS_ALG_RS256: case KEYS_ALG_PS256: case KEYS_ALG_ES256:
		return EVP_sha256();
	case KEYS_ALG_HS384: case KEYS_ALG_RS384: case KEYS_ALG_PS384: case KEYS_ALG_ES384:
		return EVP_sha384();
	case KEYS_ALG_HS512: case KEYS_ALG_RS512: case KEYS_ALG_PS512: case KEYS_ALG_ES512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

struct keys *
keys_new(void)
{
	struct keys *ks = xcalloc(1, sizeof(*ks));

	if ((ks->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL) {
		ERR_clear_error();
		free(ks);
		return NULL;
	}
	return ks;
}

/*
 * Per-key verification templates. Setting up a verification from scratch
 * (EVP_DigestVerifyInit, EVP_MAC_init) costs more than hashing a token:
 * OpenSSL 3 fetches the digest, builds a provider context from the key and
 * sets the padding every time. So it is done once per key and algorithm
 * when the key is added, and each verification works on a copy. Copying
 * (EVP_MD_CTX_copy_ex, EVP_MAC_CTX_dup) only reads the source and takes
 * references with atomic counters, so one template serves every thread.
 */
struct keys_prep {
	EVP_MD_CTX *verify[KEYS_ALG_COUNT];	/* DigestVerify-initialised */
	/* HMAC (RFC 2104) as two digest states that have absorbed the key
	 * block XOR ipad and XOR opad: a verification copies each once. This
	 * is cheaper than EVP_MAC_CTX_dup of a keyed EVP_MAC_CTX, which
	 * copies three digest contexts through the provider (12k against 16k
	 * instructions for HS256 over 200 bytes; HMAC() and EVP_Q_mac fetch
	 * on every call and take 26k). The states are as secret as the key:
	 * OpenSSL wipes them when they are freed. */
	EVP_MD_CTX *hmac_in[KEYS_ALG_COUNT];
	EVP_MD_CTX *hmac_out[KEYS_ALG_COUNT];
};

static void
prep_free(struct keys_prep *p)
{
	if (p == NULL)
		return;
	for (int a = 0; a < KEYS_ALG_COUNT; a++) {
		EVP_MD_CTX_free(p->verify[a]);
		EVP_MD_CTX_free(p->hmac_in[a]);
		EVP_MD_CTX_free(p->hmac_out[a]);
	}
	free(p);
}

void
keys_entry_free(struct keys_entry *k)
{
	if (k == NULL)
		return;
	prep_free(k->prep);
	free(k->kid);
	EVP_PKEY_free(k->pkey);
	if (k->secret != NULL) {
		OPENSSL_cleanse(k->secret, k->secret_len);
		free(k->secret);
	}
	free(k->source);
	free(k);
}

void
keys_free(struct keys *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->n; i++)
		keys_entry_free(ks->v[i]);
	free(ks->v);
	EVP_MAC_free(ks->hmac);
	free(ks);
}


/* A DigestVerify context for key and alg that copies correctly, or NULL.
 * The digest is fetched here once (not EVP_sha256(), which OpenSSL 3
 * resolves again on every initialisation). */
static EVP_MD_CTX *
prep_verify(const struct keys_entry *k, enum keys_alg alg)
{
	EVP_MD_CTX *mctx = NULL, *probe = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD *md = NULL;

	if (algs_table[alg].digest != NULL &&
	    (md = EVP_MD_fetch(NULL, algs_table[alg].digest, NULL)) == NULL)
		goto fail;
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, &pctx, md, NULL, k->pkey) != 1 ||
	    !keys_set_rsa_padding(pctx, alg))
		goto fail;
	/* Not every provider can duplicate its signature context: find out
	 * now rather than on the first token. */
	if ((probe = EVP_MD_CTX_new()) == NULL || EVP_MD_CTX_copy_ex(probe, mctx) != 1)
		goto fail;
	EVP_MD_CTX_free(probe);
	EVP_MD_free(md);
	return mctx;
fail:
	ERR_clear_error();
	EVP_MD_CTX_free(probe);
	EVP_MD_CTX_free(mctx);
	EVP_MD_free(md);
	return NULL;
}

/* Prepare the inner and outer HMAC digest states of k for alg into p.
 * Returns 0, or -1 leaving both NULL. */
static int
prep_hmac(struct keys_prep *p, const struct keys_entry *k, enum keys_alg alg)
{
	unsigned char key[EVP_MAX_MD_SIZE * 2], pad[EVP_MAX_MD_SIZE * 2];
	unsigned int klen = 0;
	EVP_MD_CTX *in = NULL, *out = NULL;
	EVP_MD *md = NULL;
	size_t bs;
	int rc = -1;

	if ((md = EVP_MD_fetch(NULL, algs_table[alg].digest, NULL)) == NULL ||
	    (bs = (size_t)EVP_MD_get_block_size(md)) > sizeof(pad) ||
	    bs < (size_t)EVP_MD_get_size(md))
		goto out;
	/* RFC 2104 section 2: a key longer than the block is hashed first. */
	memset(key, 0, sizeof(key));
	if (k->secret_len > bs) {
		if (EVP_Digest(k->secret, k->secret_len, key, &klen, md, NULL) != 1)
			goto out;
	} else
		memcpy(key, k->secret, k->secret_len);
	if ((in = EVP_MD_CTX_new()) == NULL || (out = EVP_MD_CTX_new()) == NULL)
		goto out;
	for (size_t i = 0; i < bs; i++)
		pad[i] = key[i] ^ 0x36;
	if (EVP_DigestInit_ex(in, md, NULL) != 1 || EVP_DigestUpdate(in, pad, bs) != 1)
		goto out;
	for (size_t i = 0; i < bs; i++)
		pad[i] = key[i] ^ 0x5c;
	if (EVP_DigestInit_ex(out, md, NULL) != 1 || EVP_DigestUpdate(out, pad, bs) != 1)
		goto out;
	p->hmac_in[alg] = in;
	p->hmac_out[alg] = out;
	in = out = NULL;
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(pad, sizeof(pad));
	EVP_MD_CTX_free(in);
	EVP_MD_CTX_free(out);
	EVP_MD_free(md);
	return rc;
}

/* Prepare the templates of every algorithm k may verify. A template that
 * cannot be made is left NULL: keys_verify then sets up from scratch, so a
 * provider without context duplication still works, only slower. */
static void
prep_entry(struct keys_entry *k)
{
	struct keys_prep *p = xcalloc(1, sizeof(*p));

	for (int a = 0; a < KEYS_ALG_COUNT; a++) {
		if (!(k->algs & KEYS_ALG_BIT(a)) || algs_table[a].kind != k->kind)
			continue;
		if (k->kind == KEYS_KIND_HMAC)
			(void)prep_hmac(p, k, (enum keys_alg)a);
		else
			p->verify[a] = prep_verify(k, (enum keys_alg)a);
	}
	k->prep = p;
}

/* Add k to ks, preparing its verification templates. */
void
keys_append(struct keys *ks, struct keys_entry *k)
{
	if (k->prep == NULL)
		prep_entry(k);
	ks->v = xreallocarray(ks->v, ks->n + 1, sizeof(*ks->v));
	ks->v[ks->n++] = k;
}

/* Format a set of algorithms as "RS256, PS256" into buf. */
static const char *
algs_str(unsigned algs, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int a = 0; a < KEYS_ALG_COUNT; a++) {
		if (algs & KEYS_ALG_BIT(a)) {
			int n = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", algs_table[a].name);
			if (n < 0 || (size_t)n >= len - o)
				break;
			o += (size_t)n;
		}
	}
	return buf;
}

/* Inspect a public key: its kind, and for EC the one ES* algorithm its
 * curve allows. Returns NULL when usable, else why not. */
const char *
keys_classify_pkey(EVP_PKEY *pk, enum keys_kind *kind, enum keys_alg *ec_alg)
{
	EVP_PKEY_CTX *ctx = NULL;
	const char *why = NULL;
	char group[64];
	size_t glen;

	if (EVP_PKEY_is_a(pk, "RSA")) {
		*kind = KEYS_KIND_RSA;
		if (EVP_PKEY_get_bits(pk) < KEYS_RSA_MIN_BITS)
			why = "RSA key shorter than 2048 bits";
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		*kind = KEYS_KIND_EC;
		why = "EC curve is not P-256, P-384 or P-521";
		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
		    group, sizeof(group), &glen) == 1) {
			for (int a = KEYS_ALG_ES256; a <= KEYS_ALG_ES512; a++) {
				if (strcmp(group, algs_table[a].curve) == 0 ||
				    strcmp(group, algs_table[a].jwk_crv) == 0) {
					*ec_alg = (enum keys_alg)a;
					why = NULL;
				}
			}
		}
	} else if (EVP_PKEY_is_a(pk, "ED25519")) {
		*kind = KEYS_KIND_ED25519;
	} else
		why = "unsupported key type (need RSA, EC or Ed25519)";
	if (why == NULL) {
		ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
		if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1)
			why = "public key fails validation";
	}
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return why;
}

/* Check that algs suit a key of this kind (and EC curve / HMAC length);
 * fill in the derived default when algs is 0. Returns NULL or why not. */
const char *
keys_check_algs(unsigned *algs, enum keys_kind kind, enum keys_alg ec_alg,
    size_t secret_len, char *buf, size_t buflen)
{
	if (*algs == 0) {
		if (kind == KEYS_KIND_EC)
			*algs = KEYS_ALG_BIT(ec_alg);
		else if (kind == KEYS_KIND_ED25519)
			*algs = KEYS_ALG_BIT(KEYS_ALG_EDDSA);
		else
			return "no algorithm given: an RSA key or HMAC secret must pin its algorithms";
	}
	for (int a = 0; a < KEYS_ALG_COUNT; a++) {
		if (!(*algs & KEYS_ALG_BIT(a)))
			continue;
		if (algs_table[a].kind != kind ||
		    (kind == KEYS_KIND_EC && a != (int)ec_alg)) {
			snprintf(buf, buflen, "algorithm %s cannot be used with this %s "
			    "(allowed here: %s)", algs_table[a].name, keys_kind_name(kind),
			    kind == KEYS_KIND_EC ? algs_table[ec_alg].name :
			    kind == KEYS_KIND_ED25519 ? "EdDSA" :
			    kind == KEYS_KIND_RSA ? "RS256..PS512" : "HS256..HS512");
			return buf;
		}
		if (kind == KEYS_KIND_HMAC && secret_len < algs_table[a].hash_len) {
			snprintf(buf, buflen, "HMAC secret of %zu bytes is too short for %s "
			    "(at least %zu bytes)", secret_len, algs_table[a].name,
			    algs_table[a].hash_len);
			return buf;
		}
	}
	return NULL;
}

/* Check algorithms and length for an HMAC secret. NULL or why not. */
const char *
keys_hmac_check(unsigned algs, size_t len, char *buf, size_t buflen)
{
	char names[128];

	if (algs == 0 || (algs & ~KEYS_ALGS_HMAC) != 0) {
		algs_str(algs & ~KEYS_ALGS_HMAC, names, sizeof(names));
		snprintf(buf, buflen, "an HMAC secret can only verify HS256, HS384 or "
		    "HS512%s%s", names[0] ? ", not " : "", names);
		return buf;
	}
	return keys_check_algs(&algs, KEYS_KIND_HMAC, KEYS_ALG_ES256, len, buf, buflen);
}

struct keys_entry *
keys_entry_new(const char *kid, unsigned algs, enum keys_kind kind, const char *source)
{
	struct keys_entry *k = xcalloc(1, sizeof(*k));

	k->kid = kid ? xstrdup(kid) : NULL;
	k->algs = algs;
	k->kind = kind;
	k->source = xstrdup(source);
	return k;
}

int
keys_load_pem(struct keys *ks, const char *path, const char *kid,
    unsigned algs, struct errlist *errs)
{
	enum keys_kind kind = KEYS_KIND_RSA;
	enum keys_alg ec_alg = KEYS_ALG_ES256;
	struct keys_entry *k;
	EVP_PKEY *pk = NULL;
	const char *why;
	char buf[256];
	FILE *fp;
	int rc = -1;

	if ((fp = fopen(path, "r")) == NULL) {
		errlist_add(errs, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pk == NULL) {
		ERR_clear_error();
		errlist_add(errs, "%s: not a PEM public key (\"BEGIN PUBLIC KEY\")", path);
		goto out;
	}
	if ((why = keys_classify_pkey(pk, &kind, &ec_alg)) != NULL ||
	    (why = keys_check_algs(&algs, kind, ec_alg, 0, buf, sizeof(buf))) != NULL) {
		errlist_add(errs, "%s: %s", path, why);
		goto out;
	}
	k = keys_entry_new(kid, algs, kind, path);
	k->pkey = pk;
	pk = NULL;
	keys_append(ks, k);
	rc = 0;
out:
	EVP_PKEY_free(pk);
	return rc;
}

unsigned char *
keys_read_secret_file(const char *path, size_t *len, struct errlist *errs)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		errlist_add(errs, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		errlist_add(errs, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_mode & 077) {
		errlist_add(errs, "%s: secret file is accessible by group or others "
		    "(mode %04o); chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size <= 0 || st.st_size > KEYS_MAX_SECRET_BYTES) {
		errlist_add(errs, "%s: secret file must hold 1 to %d bytes", path,
		    KEYS_MAX_SECRET_BYTES);
		goto fail;
	}
	buf = xmalloc((size_t)st.st_size);
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			errlist_add(errs, "%s: read error", path);
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
fail:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, got);
		free(buf);
	}
	close(fd);
	return NULL;
}

int
keys_add_hmac(struct keys *ks, const char *name, const char *kid,
    unsigned algs, const unsigned char *secret, size_t len, struct errlist *errs)
{
	struct keys_entry *k;
	const char *why;
	char buf[256];

	if ((why = keys_hmac_check(algs, len, buf, sizeof(buf))) != NULL) {
		errlist_add(errs, "%s: %s", name, why);
		return -1;
	}
	k = keys_entry_new(kid, algs, KEYS_KIND_HMAC, name);
	k->secret = xmalloc(len);
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	keys_append(ks, k);
	return 0;
}

int
keys_load_hmac(struct keys *ks, const char *path, const char *kid,
    unsigned algs, struct errlist *errs)
{
	unsigned char *secret;
	size_t len = 0;
	int rc;

	if ((secret = keys_read_secret_file(path, &len, errs)) == NULL)
		return -1;
	rc = keys_add_hmac(ks, path, kid, algs, secret, len, errs);
	OPENSSL_cleanse(secret, len);
	free(secret);
	return rc;
}

/* Largest DER ECDSA-Sig-Value for P-521 (66-byte R and S): a SEQUENCE
 * with a two-byte length around two INTEGERs of up to 67 bytes. */
#define KEYS_ECDSA_DER_MAX	(3 + 2 * (2 + 67))

/* Append the DER INTEGER for the unsigned big-endian v (n bytes) at out:
 * leading zeros dropped, one zero byte put back when the top bit is set.
 * Returns the bytes written. */
static size_t
der_uint(const unsigned char *v, size_t n, unsigned char *out)
{
	size_t o = 0;

	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	out[o++] = 0x02;
	out[o++] = (unsigned char)(n + (v[0] & 0x80 ? 1 : 0));
	if (v[0] & 0x80)
		out[o++] = 0;
	memcpy(out + o, v, n);
	return o + n;
}

/* Convert a raw R||S signature (2 * n bytes, n <= 66) to DER into der
 * (KEYS_ECDSA_DER_MAX bytes), as i2d_ECDSA_SIG would. Returns its length. */
static size_t
ecdsa_raw_to_der(const unsigned char *sig, size_t n, unsigned char *der)
{
	unsigned char body[KEYS_ECDSA_DER_MAX];
	size_t blen, o = 0;

	blen = der_uint(sig, n, body);
	blen += der_uint(sig + n, n, body + blen);
	der[o++] = 0x30;
	if (blen >= 0x80)
		der[o++] = 0x81;	/* at most 138 bytes: one length byte */
	der[o++] = (unsigned char)blen;
	memcpy(der + o, body, blen);
	return o + blen;
}

/* HMAC of msg with secret into out (at least EVP_MAX_MD_SIZE bytes).
 * Returns the MAC length or -1. */
int
keys_hmac_compute(EVP_MAC *mac, enum keys_alg alg, const unsigned char *secret,
    size_t secret_len, const unsigned char *msg, size_t msglen, unsigned char *out)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t outl = 0;
	int rc = -1;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)algs_table[alg].digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, secret, secret_len, params) != 1 ||
	    EVP_MAC_update(ctx, msg, msglen) != 1 ||
	    EVP_MAC_final(ctx, out, &outl, EVP_MAX_MD_SIZE) != 1) {
		ERR_clear_error();
		goto out;
	}
	rc = (int)outl;
out:
	EVP_MAC_CTX_free(ctx);
	return rc;
}

/* Set RSA padding on a signing/verification context for alg. */
int
keys_set_rsa_padding(EVP_PKEY_CTX *pctx, enum keys_alg alg)
{
	if (algs_table[alg].kind != KEYS_KIND_RSA)
		return 1;
	if (!algs_table[alg].pss)
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
	/* RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash. */
	return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, keys_alg_md(alg)) > 0;
}

/* Verify with a copy of a prepared template (see struct keys_prep).
 * Returns 1, 0 or -1 as keys_verify. */
static int
verify_prepared(const struct keys_entry *key, enum keys_alg alg,
    const unsigned char *msg, size_t msglen, const unsigned char *sig,
    size_t siglen)
{
	unsigned char inner[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
	unsigned int ilen = 0, mlen = 0;
	EVP_MD_CTX *mctx;
	int rc = -1;

	if ((mctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (key->kind == KEYS_KIND_HMAC) {
		if (EVP_MD_CTX_copy_ex(mctx, key->prep->hmac_in[alg]) != 1 ||
		    EVP_DigestUpdate(mctx, msg, msglen) != 1 ||
		    EVP_DigestFinal_ex(mctx, inner, &ilen) != 1 ||
		    EVP_MD_CTX_copy_ex(mctx, key->prep->hmac_out[alg]) != 1 ||
		    EVP_DigestUpdate(mctx, inner, ilen) != 1 ||
		    EVP_DigestFinal_ex(mctx, mac, &mlen) != 1)
			goto out;
		rc = mlen == siglen && CRYPTO_memcmp(mac, sig, siglen) == 0;
		goto out;
	}
	if (EVP_MD_CTX_copy_ex(mctx, key->prep->verify[alg]) != 1)
		goto out;
	rc = EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1;
out:
	if (rc != 1)
		ERR_clear_error();
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(mac, sizeof(mac));
	EVP_MD_CTX_free(mctx);
	return rc;
}

int
keys_verify(const struct keys *ks, const struct keys_entry *key,
    enum keys_alg alg, const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen)
{
	unsigned char mac[EVP_MAX_MD_SIZE], der[KEYS_ECDSA_DER_MAX];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	int rc = 0, n;

	if ((unsigned)alg >= KEYS_ALG_COUNT || !(key->algs & KEYS_ALG_BIT(alg)) ||
	    algs_table[alg].kind != key->kind)
		return 0;
	if (key->kind == KEYS_KIND_EC) {
		/* Only the fixed-size raw form is a JWS signature; a DER
		 * signature has another length and is refused here. */
		if (siglen != 2 * algs_table[alg].ec_coord)
			return 0;
		siglen = ecdsa_raw_to_der(sig, algs_table[alg].ec_coord, der);
		sig = der;
	}
	if (key->prep != NULL && (key->prep->hmac_in[alg] != NULL ||
	    key->prep->verify[alg] != NULL))
		return verify_prepared(key, alg, msg, msglen, sig, siglen);
	if (key->kind == KEYS_KIND_HMAC) {
		if ((n = keys_hmac_compute(ks->hmac, alg, key->secret, key->secret_len,
		    msg, msglen, mac)) < 0)
			return -1;
		rc = (size_t)n == siglen && CRYPTO_memcmp(mac, sig, siglen) == 0;
		OPENSSL_cleanse(mac, sizeof(mac));
		return rc;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, &pctx, keys_alg_md(alg), NULL, key->pkey) != 1 ||
	    !keys_set_rsa_padding(pctx, alg)) {
		rc = -1;
		goto out;
	}
	rc = EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1;
out:
	if (rc != 1)
		ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	return rc;
}
