/* fuzz_jwt.c: the JWT parser and verifier (structure, header, key choice,
 * signature, claims) and the token cache, against a fixed key set: the
 * public test keys of tests/data/keys/jwks.json (RS256, ES256/384/512,
 * EdDSA, HS256), embedded so the target needs no files. Seeds are tokens
 * minted by scopegate-token with those keys at --now 1700000000. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "jwt.h"
#include "keys.h"
#include "tokencache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"jwks-rs\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"1"
    "5nkvNn9GEyCbMrEOiZ64J7qM9tXhi7jUa_Pdr0U2WM9rN5k1HNvS9atwxkfIBJrAnv_L0W"
    "o7lcrxsd0hudywZ0IwSNKgsj8UJraWcLod0quy4Nx3utz5OLYGWAg0_dWRWqZ0dorHazHg"
    "s0jH-BUXBRxiatvBbn_uiJorFQ64xRfNnp8L48-yU7zZlZSmHLf2Ol70nX4Ic3H0WJmjpF"
    "9KUs3WlECVFQltNoFSLqB6CDQLE_KibAL2rrUsKRCL9S2avev_L8kiWpytEruI8aWE9EvP"
    "ChfOfzNJkQGTh6cAqaHnaRHizkk5Gx2wSNq_UCjPL8_OeEcSQIpqYty_DGHTQ\",\"e\":\"AQ"
    "AB\"},{\"kty\":\"EC\",\"kid\":\"jwks-es256\",\"alg\":\"ES256\",\"crv\":\"P-256\",\"x\":\"-"
    "6WFwby7uQTu9AdL4ZmVOmnjZCMWG8Z-Q4Uql7ljA_w\",\"y\":\"D5JFnx5qVfDF6v3UfP-3U"
    "yeZdgc6IPsxEnCOkcgoUIw\"},{\"kty\":\"EC\",\"kid\":\"jwks-es384\",\"alg\":\"ES384\","
    "\"crv\":\"P-384\",\"x\":\"ob62tInaWFtu7XGLLJ_BwNFWeMJQuTsRfLPO-cHoNcVDf7z40El"
    "ARBnuPi2ED5Fl\",\"y\":\"m_tGsct0ZSvSe3m3EZ55kWH4UEUJkRn59XeBHW36nWB1isNSpZ"
    "JPmph5l8ybCB3T\"},{\"kty\":\"EC\",\"kid\":\"jwks-es512\",\"alg\":\"ES512\",\"crv\":\"P"
    "-521\",\"x\":\"AZDm7ow9qQVWl6ncHXX59twDjejKAVa3Z8TccxxZ5jJ0unHHOF_yf7TQjsz"
    "rnzRj-P3_PL8fFjJcar0bCmwwyJjG\",\"y\":\"AYN0GF_uEdDNZltbSvDAoazOXYxrrU2LgU"
    "B3K-EWQAzMH2ZGpLUkaPYk_4OEtmKYz7tf5aNHrsnYXwNkljM4hXHH\"},{\"kty\":\"OKP\","
    "\"kid\":\"jwks-ed\",\"alg\":\"EdDSA\",\"crv\":\"Ed25519\",\"x\":\"9uDj1Gwa--QqPt3BPK6"
    "6dB9fuRRcMkCCrDCMm3XNLVY\"},{\"kty\":\"oct\",\"kid\":\"jwks-hs\",\"alg\":\"HS256\","
    "\"k\":\"KLzyqHxdcvJPl_Pv1yjdyGyFV0y1IGUZrENjBJFrpuo\"}]}";

static struct keys *ks;
static struct tokencache *cache;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const iss[] = { "https://issuer.example" };
	static const char *const aud[] = { "scopegate" };
	struct jwt_result *r = NULL;
	struct jwt_opts o;
	enum jwt_status st;

	if (ks == NULL) {
		struct errlist el;
		errlist_init(&el);
		ks = keys_new();
		if (ks == NULL || keys_load_jwks_buffer(ks, "fuzz", fuzz_jwks,
		    strlen(fuzz_jwks), 0, &el) != 0 || ks->n != 6)
			abort();
		errlist_free(&el);
		cache = tokencache_new(64);
	}
	jwt_opts_init(&o);
	/* Vary the policy with the input length so every branch is reached. */
	if (size & 1) {
		o.issuers = iss;
		o.nissuers = 1;
		o.audiences = aud;
		o.naudiences = 1;
	}
	if (size & 2)
		o.scope_format = JWT_SCOPE_ARRAY;
	if (size & 4)
		o.scope_claim = "realm.scopes";
	if (size & 8)
		o.require_exp = 0;
	st = jwt_verify(ks, &o, (const char *)data, size, 1700000000, &r);
	if ((st == JWT_OK) != (r != NULL) || jwt_status_str(st)[0] == '\0')
		abort();
	if (r != NULL) {
		for (size_t i = 0; i < r->nscopes; i++)
			if (r->scopes[i] == NULL || r->scopes[i][0] == '\0')
				abort();
		tokencache_insert(cache, (const char *)data, size, r);
		if (tokencache_lookup(cache, (const char *)data, size, 1700000000) != r)
			abort();
		if (r->token_id != NULL)
			tokencache_evict_id(cache, r->token_id);
	}
	return 0;
}
