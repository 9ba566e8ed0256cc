/* keys_sign.c: signing with a private key or HMAC secret, for the token
 * tool (scopegate-token) and the tests; the daemon only verifies. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "keys_int.h"
#include "xmalloc.h"

struct keys_signer {
	enum keys_alg alg;
	EVP_PKEY *pkey;
	unsigned char *secret;
	size_t secret_len;
	EVP_MAC *hmac;
};

/* Passphrase callback that refuses: encrypted keys are not supported and
 * OpenSSL must never prompt on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

struct keys_signer *
keys_signer_load(const char *path, enum keys_alg alg, struct errlist *errs)
{
	struct keys_signer *s = xcalloc(1, sizeof(*s));
	enum keys_alg ec_alg = KEYS_ALG_ES256;
	enum keys_kind kind = KEYS_KIND_RSA;
	unsigned algs = KEYS_ALG_BIT(alg);
	const char *why;
	char buf[256];
	FILE *fp;

	s->alg = alg;
	if (keys_alg_info(alg)->kind == KEYS_KIND_HMAC) {
		if ((s->secret = keys_read_secret_file(path, &s->secret_len, errs)) == NULL)
			goto fail;
		if ((why = keys_hmac_check(algs, s->secret_len, buf, sizeof(buf))) != NULL) {
			errlist_add(errs, "%s: %s", path, why);
			goto fail;
		}
		if ((s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL) {
			ERR_clear_error();
			errlist_add(errs, "%s: HMAC unavailable", path);
			goto fail;
		}
		return s;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		errlist_add(errs, "%s: cannot open: %s", path, strerror(errno));
		goto fail;
	}
	s->pkey = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
	fclose(fp);
	if (s->pkey == NULL) {
		ERR_clear_error();
		errlist_add(errs, "%s: not an unencrypted PEM private key", path);
		goto fail;
	}
	if ((why = keys_classify_pkey(s->pkey, &kind, &ec_alg)) != NULL ||
	    (why = keys_check_algs(&algs, kind, ec_alg, 0, buf, sizeof(buf))) != NULL) {
		errlist_add(errs, "%s: %s", path, why);
		goto fail;
	}
	return s;
fail:
	keys_signer_free(s);
	return NULL;
}

void
keys_signer_free(struct keys_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->pkey);
	if (s->secret != NULL) {
		OPENSSL_cleanse(s->secret, s->secret_len);
		free(s->secret);
	}
	EVP_MAC_free(s->hmac);
	free(s);
}

int
keys_signer_sign(const struct keys_signer *s, const unsigned char *msg,
    size_t msglen, unsigned char **sig, size_t *siglen)
{
	unsigned char *der = NULL, *out = NULL;
	const unsigned char *p;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	ECDSA_SIG *es = NULL;
	size_t len = 0, n;
	int rc = -1, m;

	*sig = NULL;
	*siglen = 0;
	if (s->secret != NULL) {
		out = xmalloc(EVP_MAX_MD_SIZE);
		if ((m = keys_hmac_compute(s->hmac, s->alg, s->secret, s->secret_len,
		    msg, msglen, out)) < 0)
			goto out;
		len = (size_t)m;
		rc = 0;
		goto out;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, &pctx, keys_alg_md(s->alg), NULL, s->pkey) != 1 ||
	    !keys_set_rsa_padding(pctx, s->alg) ||
	    EVP_DigestSign(mctx, NULL, &len, msg, msglen) != 1)
		goto out;
	out = xmalloc(len);
	if (EVP_DigestSign(mctx, out, &len, msg, msglen) != 1)
		goto out;
	if (keys_alg_info(s->alg)->kind == KEYS_KIND_EC) {
		/* OpenSSL produces DER; JWS wants raw R||S. */
		n = keys_alg_info(s->alg)->ec_coord;
		der = out;
		p = der;
		out = xmalloc(2 * n);
		if ((es = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL ||
		    BN_bn2binpad(ECDSA_SIG_get0_r(es), out, (int)n) < 0 ||
		    BN_bn2binpad(ECDSA_SIG_get0_s(es), out + n, (int)n) < 0)
			goto out;
		len = 2 * n;
	}
	rc = 0;
out:
	if (rc == 0) {
		*sig = out;
		*siglen = len;
	} else {
		ERR_clear_error();
		free(out);
	}
	ECDSA_SIG_free(es);
	free(der);
	EVP_MD_CTX_free(mctx);
	return rc;
}
