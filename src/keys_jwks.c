/* keys_jwks.c: JWK and JWKS files (RFC 7517/7518/8037) into key entries,
 * each public key built through OSSL_PARAM, each checked like a PEM key
 * (keys_int.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "b64url.h"
#include "jsonconf.h"
#include "keys_int.h"
#include "xmalloc.h"

/* Build a public key of type name from an OSSL_PARAM builder. */
static EVP_PKEY *
pkey_fromdata(const char *name, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(pk);
		pk = NULL;
		ERR_clear_error();
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pk;
}

/* Fetch a required base64url member of a JWK; reports and returns NULL
 * when missing or invalid. The caller frees. */
static unsigned char *
jwk_b64(struct jsonconf *jc, const json_t *jwk, const char *ptr,
    const char *member, size_t *len)
{
	json_t *v = json_object_get(jwk, member);
	unsigned char *out;
	char *p;

	if (v == NULL) {
		jsonconf_error(jc, ptr, "missing \"%s\"", member);
		return NULL;
	}
	p = jsonconf_ptr_key(ptr, member);
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    (out = b64url_decode_alloc(json_string_value(v), json_string_length(v), len)) == NULL) {
		jsonconf_error(jc, p, "must be a non-empty base64url string");
		out = NULL;
	}
	free(p);
	return out;
}

/* Parse one JWK at ptr into a new entry. Returns 1 on success, 0 when the
 * key is skipped (not for signatures / unknown algorithm), -1 after
 * reporting an error. */
static int
jwk_parse(struct jsonconf *jc, const json_t *jwk,
    const char *ptr, unsigned cfg_algs, struct keys_entry **out)
{
	const char *kty, *kid = NULL, *alg_name = NULL, *use = NULL, *crv = NULL;
	unsigned char *a = NULL, *b = NULL, *pt = NULL;
	enum keys_alg ec_alg = KEYS_ALG_ES256, alg;
	enum keys_kind kind;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	EVP_PKEY *pk = NULL;
	unsigned algs = cfg_algs;
	size_t alen = 0, blen = 0;
	const char *why;
	char buf[256];
	int rc = -1;

	*out = NULL;
	if (!json_is_object(jwk)) {
		jsonconf_error(jc, ptr, "must be an object");
		goto out;
	}
	if (jsonconf_get_string(jc, jwk, ptr, "kty", NULL, &kty) != 0 ||
	    jsonconf_get_string(jc, jwk, ptr, "kid", NULL, &kid) != 0 ||
	    jsonconf_get_string(jc, jwk, ptr, "alg", NULL, &alg_name) != 0 ||
	    jsonconf_get_string(jc, jwk, ptr, "use", NULL, &use) != 0 ||
	    jsonconf_get_string(jc, jwk, ptr, "crv", NULL, &crv) != 0)
		goto out;
	if (kty == NULL) {
		jsonconf_error(jc, ptr, "missing \"kty\"");
		goto out;
	}
	/* Encryption keys and algorithms we do not verify share JWKS
	 * documents with signing keys: skip them rather than fail. */
	if ((use != NULL && strcmp(use, "sig") != 0) ||
	    (alg_name != NULL && keys_alg_from_name(alg_name, &alg) != 0)) {
		rc = 0;
		goto out;
	}
	if (alg_name != NULL)
		algs = KEYS_ALG_BIT(alg);

	if (strcmp(kty, "oct") == 0) {
		if ((a = jwk_b64(jc, jwk, ptr, "k", &alen)) == NULL)
			goto out;
		if ((why = keys_hmac_check(algs, alen, buf, sizeof(buf))) != NULL) {
			jsonconf_error(jc, ptr, "%s", why);
			goto out;
		}
		*out = keys_entry_new(kid, algs, KEYS_KIND_HMAC, ptr);
		(*out)->secret = a;
		(*out)->secret_len = alen;
		a = NULL;
		rc = 1;
		goto out;
	} else if (strcmp(kty, "RSA") == 0) {
		if ((a = jwk_b64(jc, jwk, ptr, "n", &alen)) == NULL ||
		    (b = jwk_b64(jc, jwk, ptr, "e", &blen)) == NULL)
			goto out;
		bn_n = BN_bin2bn(a, (int)alen, NULL);
		bn_e = BN_bin2bn(b, (int)blen, NULL);
		if ((bld = OSSL_PARAM_BLD_new()) == NULL || bn_n == NULL || bn_e == NULL ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
		    (pk = pkey_fromdata("RSA", bld)) == NULL) {
			ERR_clear_error();
			jsonconf_error(jc, ptr, "invalid RSA key");
			goto out;
		}
	} else if (strcmp(kty, "EC") == 0) {
		int found = 0;
		for (int i = KEYS_ALG_ES256; i <= KEYS_ALG_ES512; i++) {
			if (crv != NULL && strcmp(crv, keys_alg_info(i)->jwk_crv) == 0) {
				ec_alg = (enum keys_alg)i;
				found = 1;
			}
		}
		if (!found) {
			jsonconf_error(jc, ptr, "\"crv\" must be P-256, P-384 or P-521");
			goto out;
		}
		size_t n = keys_alg_info(ec_alg)->ec_coord;
		if ((a = jwk_b64(jc, jwk, ptr, "x", &alen)) == NULL ||
		    (b = jwk_b64(jc, jwk, ptr, "y", &blen)) == NULL)
			goto out;
		/* RFC 7518 6.2.1.2: coordinates are always full length. */
		if (alen != n || blen != n) {
			jsonconf_error(jc, ptr, "\"x\" and \"y\" must be %zu bytes for %s", n, crv);
			goto out;
		}
		pt = xmalloc(1 + 2 * n);
		pt[0] = POINT_CONVERSION_UNCOMPRESSED;
		memcpy(pt + 1, a, n);
		memcpy(pt + 1 + n, b, n);
		if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
		    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
		    keys_alg_info(ec_alg)->curve, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * n) ||
		    (pk = pkey_fromdata("EC", bld)) == NULL) {
			ERR_clear_error();
			jsonconf_error(jc, ptr, "invalid EC key (point not on the curve?)");
			goto out;
		}
	} else if (strcmp(kty, "OKP") == 0) {
		if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
			/* X25519/X448 are not signature keys; Ed448 unsupported. */
			rc = 0;
			goto out;
		}
		if ((a = jwk_b64(jc, jwk, ptr, "x", &alen)) == NULL)
			goto out;
		if (alen != 32) {
			jsonconf_error(jc, ptr, "\"x\" must be 32 bytes for Ed25519");
			goto out;
		}
		if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, a, alen) ||
		    (pk = pkey_fromdata("ED25519", bld)) == NULL) {
			ERR_clear_error();
			jsonconf_error(jc, ptr, "invalid Ed25519 key");
			goto out;
		}
	} else {
		rc = 0;		/* unknown key type: not ours to verify with */
		goto out;
	}

	if ((why = keys_classify_pkey(pk, &kind, &ec_alg)) != NULL ||
	    (why = keys_check_algs(&algs, kind, ec_alg, 0, buf, sizeof(buf))) != NULL) {
		jsonconf_error(jc, ptr, "%s", why);
		goto out;
	}
	*out = keys_entry_new(kid, algs, kind, ptr);
	(*out)->pkey = pk;
	pk = NULL;
	rc = 1;
out:
	EVP_PKEY_free(pk);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	if (a != NULL) {
		OPENSSL_cleanse(a, alen);
		free(a);
	}
	free(b);
	free(pt);
	return rc;
}

/* Parse a JWKS document; on success move its keys into ks. */
static int
jwks_parse(struct keys *ks, struct jsonconf *jc, const json_t *root,
    unsigned algs)
{
	struct keys_entry **got = NULL;
	size_t ngot = 0, i;
	json_t *jwk;
	int rc = 0;

	/* Other top-level members are allowed by RFC 7517; only "keys"
	 * matters, so check it by hand instead of refusing unknown keys. */
	if (!json_is_object(root) || !json_is_array(json_object_get(root, "keys"))) {
		jsonconf_error(jc, "", "a JWKS must be an object with a \"keys\" array");
		return -1;
	}
	json_array_foreach(json_object_get(root, "keys"), i, jwk) {
		struct keys_entry *k;
		char *p = jsonconf_ptr_index("/keys", i);
		char *src;
		int r = jwk_parse(jc, jwk, p, algs, &k);
		free(p);
		if (r < 0)
			rc = -1;
		else if (r > 0) {
			xasprintf(&src, "%s: /keys/%zu", jc->file, i);
			free(k->source);
			k->source = src;
			got = xreallocarray(got, ngot + 1, sizeof(*got));
			got[ngot++] = k;
		}
	}
	for (i = 0; i < ngot; i++) {
		if (rc == 0)
			keys_append(ks, got[i]);
		else
			keys_entry_free(got[i]);
	}
	free(got);
	return rc;
}

int
keys_load_jwks_buffer(struct keys *ks, const char *name, const char *buf,
    size_t len, unsigned algs, struct errlist *errs)
{
	struct jsonconf jc = { name, errs };
	json_t *root;
	int rc;

	if ((root = jsonconf_load_buffer(&jc, buf, len)) == NULL)
		return -1;
	rc = jwks_parse(ks, &jc, root, algs);
	json_decref(root);
	return rc;
}

int
keys_load_jwks_file(struct keys *ks, const char *path, unsigned algs,
    struct errlist *errs)
{
	struct jsonconf jc = { path, errs };
	json_t *root;
	int rc;

	if ((root = jsonconf_load_file(&jc, path)) == NULL)
		return -1;
	rc = jwks_parse(ks, &jc, root, algs);
	json_decref(root);
	return rc;
}
