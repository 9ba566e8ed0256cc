/* test_jwt.c: JWS/JWT verification against the RFC 7515, RFC 7520 and
 * RFC 8037 example vectors (each also tampered), every algorithm with the
 * test keys, and every rejection of strict parsing, key choice and claims. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/ec.h>

#include "b64url.h"
#include "errlist.h"
#include "jwt.h"
#include "keys.h"
#include "xmalloc.h"

/* ---- helpers ---- */

static char *
data_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	char *p;

	xasprintf(&p, "%s/tests/data/keys/%s", top ? top : ".", name);
	return p;
}

/* Copy a test key to a private (0600) temporary file: git does not keep
 * modes and secret files must not be readable by others. */
static char *
private_copy(const char *name)
{
	char *src = data_path(name), *dst = xstrdup("/tmp/sg-test-keyXXXXXX"), buf[4096];
	int in = open(src, O_RDONLY), out = mkstemp(dst);
	ssize_t n;

	/* No CUnit assertions here: suite setup calls this too. */
	if (in < 0 || out < 0) {
		fprintf(stderr, "cannot copy %s\n", src);
		exit(1);
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			exit(1);
	fchmod(out, 0600);
	close(in);
	close(out);
	free(src);
	return dst;
}

static struct keys_signer *
signer(const char *name, enum keys_alg alg)
{
	struct keys_signer *s;
	struct errlist el;
	char *p;

	errlist_init(&el);
	if (keys_alg_kind(alg) == KEYS_KIND_HMAC)
		p = private_copy(name);
	else
		p = data_path(name);
	s = keys_signer_load(p, alg, &el);
	if (s == NULL)
		errlist_print(&el, stderr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	if (keys_alg_kind(alg) == KEYS_KIND_HMAC)
		unlink(p);
	free(p);
	errlist_free(&el);
	return s;
}

static char *
sign(const struct keys_signer *s, const char *header, const char *payload)
{
	char *t = jwt_sign_raw(s, header, strlen(header), payload, strlen(payload));

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	return t;
}

static struct keys *
jwks_keys(const char *jwks, unsigned algs)
{
	struct keys *ks = keys_new();
	struct errlist el;

	errlist_init(&el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ks);
	if (keys_load_jwks_buffer(ks, "test-jwks", jwks, strlen(jwks), algs, &el) != 0)
		errlist_print(&el, stderr);
	CU_ASSERT_EQUAL(el.n, 0);
	errlist_free(&el);
	return ks;
}

static enum jwt_status
verify(const struct keys *ks, const struct jwt_opts *o, const char *tok, time_t now)
{
	struct jwt_result *r = NULL;
	enum jwt_status st = jwt_verify(ks, o, tok, strlen(tok), now, &r);

	CU_ASSERT((st == JWT_OK) == (r != NULL));
	jwt_result_free(r);
	return st;
}

static enum jwt_status
verify_jws(const struct keys *ks, const char *tok)
{
	struct jwt_opts o;
	unsigned char *pl = NULL;
	json_t *h = NULL;
	size_t plen;
	enum jwt_status st;

	jwt_opts_init(&o);
	st = jwt_verify_jws(ks, &o, tok, strlen(tok), &h, &pl, &plen, NULL, NULL);
	json_decref(h);
	free(pl);
	return st;
}

/* Every one-character change (to another base64url character) in the
 * header, the payload and the signature must fail verification. */
static void
check_tampering(const struct keys *ks, const char *tok, int full_jwt, time_t now)
{
	size_t len = strlen(tok), d1 = strcspn(tok, "."), d2 = d1 + 1 + strcspn(tok + d1 + 1, ".");
	size_t pos[] = { 0, d1 / 2, d1 - 1, d1 + 1, (d1 + d2) / 2, d2 - 1, d2 + 1,
	    (d2 + len) / 2, len - 2 };
	struct jwt_opts o;

	jwt_opts_init(&o);
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		char *t = xstrdup(tok);
		t[pos[i]] = t[pos[i]] == 'A' ? 'B' : 'A';
		enum jwt_status st = full_jwt ? verify(ks, &o, t, now) : verify_jws(ks, t);
		CU_ASSERT_NOT_EQUAL(st, JWT_OK);
		free(t);
	}
}

/* ---- RFC vectors ---- */

static const char rfc7515_payload_b64[] =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
#define RFC7515_EXP 1300819380

static void
test_rfc7515_a1_hs256(void)
{
	struct keys *ks = jwks_keys("{\"keys\":[{\"kty\":\"oct\",\"k\":"
	    "\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}]}",
	    KEYS_ALG_BIT(KEYS_ALG_HS256));
	char tok[512];
	struct jwt_result *r = NULL;
	struct jwt_opts o;

	snprintf(tok, sizeof(tok), "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.%s.%s",
	    rfc7515_payload_b64, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(jwt_verify(ks, &o, tok, strlen(tok), RFC7515_EXP - 60, &r), JWT_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->alg, KEYS_ALG_HS256);
	CU_ASSERT_EQUAL(r->exp, RFC7515_EXP);
	CU_ASSERT(json_is_true(json_object_get(jwt_result_claims(r), "http://example.com/is_root")));
	CU_ASSERT(json_is_true(jwt_claim_path(jwt_result_claims(r), "http://example.com/is_root")));
	jwt_result_free(r);
	/* The clock matters: after exp + leeway the same token is expired. */
	CU_ASSERT_EQUAL(verify(ks, &o, tok, RFC7515_EXP + 30), JWT_EXPIRED);
	CU_ASSERT_EQUAL(verify(ks, &o, tok, RFC7515_EXP + 29), JWT_OK);
	check_tampering(ks, tok, 1, RFC7515_EXP - 60);
	keys_free(ks);
}

static void
test_rfc7515_a2_rs256(void)
{
	struct keys *ks = jwks_keys("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\""
	    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"
	    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs"
	    "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH"
	    "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV"
	    "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8"
	    "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\",\"e\":\"AQAB\"}]}", 0);
	char tok[1024];
	struct jwt_opts o;

	snprintf(tok, sizeof(tok), "eyJhbGciOiJSUzI1NiJ9.%s.%s", rfc7515_payload_b64,
	    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
	    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
	    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
	    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
	    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
	    "p0igcN_IoypGlUPQGe77Rw");
	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(verify(ks, &o, tok, RFC7515_EXP - 1), JWT_OK);
	check_tampering(ks, tok, 1, RFC7515_EXP - 1);
	keys_free(ks);
}

static void
test_rfc7515_a3_es256(void)
{
	struct keys *ks = jwks_keys("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}", 0);
	char tok[512];
	struct jwt_opts o;

	snprintf(tok, sizeof(tok), "eyJhbGciOiJFUzI1NiJ9.%s.%s", rfc7515_payload_b64,
	    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA"
	    "pmWQxfKTUJqPP3-Kg6NU1Q");
	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(verify(ks, &o, tok, RFC7515_EXP - 1), JWT_OK);
	check_tampering(ks, tok, 1, RFC7515_EXP - 1);
	keys_free(ks);
}

/* RFC 7520 section 3: the keys of "bilbo.baggins@hobbiton.example". */
static const char rfc7520_rsa[] = "{\"keys\":[{\"kty\":\"RSA\","
    "\"kid\":\"bilbo.baggins@hobbiton.example\",\"use\":\"sig\",\"n\":\""
    "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT"
    "-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqV"
    "wGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-"
    "oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde"
    "3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuC"
    "LqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5g"
    "HdrNP5zw\",\"e\":\"AQAB\"}]}";
static const char rfc7520_ec[] = "{\"keys\":[{\"kty\":\"EC\","
    "\"kid\":\"bilbo.baggins@hobbiton.example\",\"use\":\"sig\",\"crv\":\"P-521\","
    "\"x\":\"AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9"
    "A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt\","
    "\"y\":\"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVy"
    "SsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1\"}]}";
static const char rfc7520_oct[] = "{\"keys\":[{\"kty\":\"oct\","
    "\"kid\":\"018c0ae5-4d9b-471b-bfd6-eef314bc7037\",\"use\":\"sig\",\"alg\":\"HS256\","
    "\"k\":\"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg\"}]}";
static const char rfc7520_payload[] =
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IH"
    "lvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBk"
    "b24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcm"
    "UgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4";

/* All RFC 7520 keys in one set: the RSA and EC keys share a kid, so the
 * token's alg picks among the keys that kid names. */
static struct keys *
rfc7520_keys(void)
{
	struct keys *ks = keys_new();
	struct errlist el;

	errlist_init(&el);
	CU_ASSERT_EQUAL(keys_load_jwks_buffer(ks, "rsa", rfc7520_rsa, strlen(rfc7520_rsa),
	    KEYS_ALG_BIT(KEYS_ALG_RS256) | KEYS_ALG_BIT(KEYS_ALG_PS384), &el), 0);
	CU_ASSERT_EQUAL(keys_load_jwks_buffer(ks, "ec", rfc7520_ec, strlen(rfc7520_ec), 0, &el), 0);
	CU_ASSERT_EQUAL(keys_load_jwks_buffer(ks, "oct", rfc7520_oct, strlen(rfc7520_oct), 0, &el), 0);
	errlist_print(&el, stderr);
	CU_ASSERT_EQUAL(ks->n, 3);
	errlist_free(&el);
	return ks;
}

static void
check_rfc7520(const char *header, const char *sig, enum keys_alg want)
{
	struct keys *ks = rfc7520_keys();
	char *tok;
	unsigned char *pl = NULL;
	struct jwt_opts o;
	enum keys_alg alg = KEYS_ALG_COUNT;
	json_t *h = NULL;
	size_t plen = 0;

	xasprintf(&tok, "%s.%s.%s", header, rfc7520_payload, sig);
	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(jwt_verify_jws(ks, &o, tok, strlen(tok), &h, &pl, &plen, &alg, NULL), JWT_OK);
	CU_ASSERT_EQUAL(alg, want);
	CU_ASSERT(pl != NULL && plen > 20 && memcmp(pl, "It\xe2\x80\x99s a dangerous business", 25) == 0);
	/* The payload is text, not claims: a JWT it is not. */
	CU_ASSERT_EQUAL(verify(ks, &o, tok, 0), JWT_MALFORMED);
	check_tampering(ks, tok, 0, 0);
	json_decref(h);
	free(pl);
	free(tok);
	keys_free(ks);
}

static void
test_rfc7520_4_1_rs256(void)
{
	check_rfc7520("eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZX"
	    "hhbXBsZSJ9",
	    "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmK"
	    "ZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4J"
	    "IwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8w"
	    "W1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluP"
	    "xUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_f"
	    "cIe8u9ipH84ogoree7vjbU5y18kDquDg", KEYS_ALG_RS256);
}

static void
test_rfc7520_4_2_ps384(void)
{
	check_rfc7520("eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZX"
	    "hhbXBsZSJ9",
	    "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2I"
	    "pN6-tPid6VrklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXU"
	    "vdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRX"
	    "e8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT"
	    "0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a"
	    "6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw", KEYS_ALG_PS384);
}

static void
test_rfc7520_4_3_es512(void)
{
	check_rfc7520("eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZX"
	    "hhbXBsZSJ9",
	    "AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvb"
	    "u9Plon7KRTzoNEuT4Va2cmL1eJAQy3mtPBu_u_sDDyYjnAMDxXPn7XrT0lw-kv"
	    "AD890jl8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2", KEYS_ALG_ES512);
}

static void
test_rfc7520_4_4_hs256(void)
{
	check_rfc7520("eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LW"
	    "VlZjMxNGJjNzAzNyJ9",
	    "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0", KEYS_ALG_HS256);
}

static void
test_rfc8037_a4_ed25519(void)
{
	struct keys *ks = jwks_keys("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}", 0);
	const char *tok = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
	    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

	CU_ASSERT_EQUAL(verify_jws(ks, tok), JWT_OK);
	check_tampering(ks, tok, 0, 0);
	keys_free(ks);
}

/* ---- every algorithm with the test keys ---- */

static struct keys *
pem_keys(void)
{
	static const struct { const char *file; const char *kid; unsigned algs; } pk[] = {
		{ "rsa.pem", "rs", 0x1f8 },	/* RS256..PS512 */
		{ "ec256.pem", "e256", 0 },
		{ "ec384.pem", "e384", 0 },
		{ "ec521.pem", "e521", 0 },
		{ "ed25519.pem", "ed", 0 },
	};
	struct keys *ks = keys_new();
	struct errlist el;
	char *p;

	errlist_init(&el);
	for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
		p = data_path(pk[i].file);
		CU_ASSERT_EQUAL(keys_load_pem(ks, p, pk[i].kid, pk[i].algs, &el), 0);
		free(p);
	}
	p = private_copy("hmac.key");
	CU_ASSERT_EQUAL(keys_load_hmac(ks, p, "hs", KEYS_ALGS_HMAC, &el), 0);
	unlink(p);
	free(p);
	errlist_print(&el, stderr);
	errlist_free(&el);
	return ks;
}

static const struct {
	enum keys_alg alg;
	const char *key;
	const char *kid;
} all_algs[] = {
	{ KEYS_ALG_HS256, "hmac.key", "hs" }, { KEYS_ALG_HS384, "hmac.key", "hs" },
	{ KEYS_ALG_HS512, "hmac.key", "hs" }, { KEYS_ALG_RS256, "rsa.key", "rs" },
	{ KEYS_ALG_RS384, "rsa.key", "rs" }, { KEYS_ALG_RS512, "rsa.key", "rs" },
	{ KEYS_ALG_PS256, "rsa.key", "rs" }, { KEYS_ALG_PS384, "rsa.key", "rs" },
	{ KEYS_ALG_PS512, "rsa.key", "rs" }, { KEYS_ALG_ES256, "ec256.key", "e256" },
	{ KEYS_ALG_ES384, "ec384.key", "e384" }, { KEYS_ALG_ES512, "ec521.key", "e521" },
	{ KEYS_ALG_EDDSA, "ed25519.key", "ed" },
};

static void
test_all_algorithms(void)
{
	struct keys *ks = pem_keys();
	struct jwt_opts o;
	char hdr[128], hdr_nokid[128];

	jwt_opts_init(&o);
	for (size_t i = 0; i < sizeof(all_algs) / sizeof(all_algs[0]); i++) {
		struct keys_signer *s = signer(all_algs[i].key, all_algs[i].alg);
		const char *name = keys_alg_name(all_algs[i].alg);
		struct jwt_result *r = NULL;
		char *tok;

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}", name, all_algs[i].kid);
		snprintf(hdr_nokid, sizeof(hdr_nokid), "{\"alg\":\"%s\"}", name);
		tok = sign(s, hdr, "{\"exp\":2000,\"sub\":\"u1\",\"jti\":\"j1\",\"scope\":\"a b\"}");
		CU_ASSERT_EQUAL(jwt_verify(ks, &o, tok, strlen(tok), 1000, &r), JWT_OK);
		if (r != NULL) {
			CU_ASSERT_EQUAL(r->alg, all_algs[i].alg);
			CU_ASSERT_STRING_EQUAL(r->kid, all_algs[i].kid);
			CU_ASSERT_STRING_EQUAL(r->sub, "u1");
			CU_ASSERT_STRING_EQUAL(r->token_id, "j1");
			CU_ASSERT_EQUAL(r->nscopes, 2);
		}
		jwt_result_free(r);
		check_tampering(ks, tok, 1, 1000);
		free(tok);
		/* Without kid: tried against the keys pinning this alg. */
		tok = sign(s, hdr_nokid, "{\"exp\":2000}");
		CU_ASSERT_EQUAL(verify(ks, &o, tok, 1000), JWT_OK);
		free(tok);
		/* A kid naming a key of another type: alg not allowed there. */
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}", name,
		    all_algs[i].alg == KEYS_ALG_EDDSA ? "hs" : "ed");
		tok = sign(s, hdr, "{\"exp\":2000}");
		CU_ASSERT_EQUAL(verify(ks, &o, tok, 1000), JWT_ALG_NOT_ALLOWED);
		free(tok);
		keys_signer_free(s);
	}
	keys_free(ks);
}

/* ---- rejections ---- */

static struct keys *hs_keys;		/* hmac.key as "hs", HS256 */
static struct keys_signer *hs;

static int
suite_init(void)
{
	struct errlist el;
	char *p = private_copy("hmac.key");

	errlist_init(&el);
	hs_keys = keys_new();
	keys_load_hmac(hs_keys, p, "hs", KEYS_ALG_BIT(KEYS_ALG_HS256), &el);
	hs = keys_signer_load(p, KEYS_ALG_HS256, &el);
	unlink(p);
	free(p);
	errlist_print(&el, stderr);
	errlist_free(&el);
	return hs_keys->n == 1 && hs != NULL ? 0 : -1;
}

static int
suite_clean(void)
{
	keys_free(hs_keys);
	keys_signer_free(hs);
	return 0;
}

/* Verify header/payload signed with hs at now 1000 with opts o. */
static enum jwt_status
hs_status(const struct jwt_opts *o, const char *header, const char *payload)
{
	char *tok = sign(hs, header, payload);
	enum jwt_status st = verify(hs_keys, o, tok, 1000);

	free(tok);
	return st;
}

static enum jwt_status
hs_claims(const struct jwt_opts *o, const char *payload)
{
	return hs_status(o, "{\"alg\":\"HS256\",\"kid\":\"hs\"}", payload);
}

static void
test_alg_none(void)
{
	static const char *const spellings[] = { "none", "None", "NONE", "nOnE" };
	struct jwt_opts o;
	char hdr[64], *h, *tok;

	jwt_opts_init(&o);
	for (size_t i = 0; i < 4; i++) {
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", spellings[i]);
		h = b64url_encode_alloc(hdr, strlen(hdr));
		/* With an empty signature (the RFC 7515 A.5 form) ... */
		xasprintf(&tok, "%s.eyJleHAiOjIwMDB9.", h);
		CU_ASSERT_NOT_EQUAL(verify(hs_keys, &o, tok, 1000), JWT_OK);
		free(tok);
		/* ... and with some signature bytes. */
		xasprintf(&tok, "%s.eyJleHAiOjIwMDB9.AAAA", h);
		CU_ASSERT_EQUAL(verify(hs_keys, &o, tok, 1000), JWT_UNSUPPORTED_ALG);
		free(tok);
		/* Signed with the real secret still does not make "none" valid. */
		CU_ASSERT_EQUAL(hs_status(&o, hdr, "{\"exp\":2000}"), JWT_UNSUPPORTED_ALG);
		free(h);
	}
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":\"HS257\"}", "{\"exp\":2000}"), JWT_UNSUPPORTED_ALG);
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":\"hs256\"}", "{\"exp\":2000}"), JWT_UNSUPPORTED_ALG);
	CU_ASSERT_EQUAL(hs_status(&o, "{\"typ\":\"JWT\"}", "{\"exp\":2000}"), JWT_MALFORMED);
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":256}", "{\"exp\":2000}"), JWT_MALFORMED);
}

/* A flat header is read in place, any other through jansson: each verdict
 * is the same both ways (the second spelling of each case leaves the fast
 * path by an escape, a nested value or a fraction elsewhere). */
static void
test_header_paths(void)
{
	static const struct {
		const char *flat, *other;
		enum jwt_status want;
	} cases[] = {
		{ "{\"alg\":\"HS256\",\"kid\":\"hs\"}",
		  "{\"alg\":\"HS\\u0032\\u00356\",\"kid\":\"hs\",\"x\":[1]}", JWT_OK },
		{ "{\"alg\":\"HS256\"}", "{\"alg\":\"HS256\",\"x\":{}}", JWT_OK },
		{ "{\"alg\":\"none\",\"kid\":\"hs\"}", "{\"alg\":\"\\u006eone\",\"kid\":\"hs\"}",
		  JWT_UNSUPPORTED_ALG },
		{ "{\"alg\":\"NoNe\"}", "{\"alg\":\"NoNe\",\"x\":1.5}", JWT_UNSUPPORTED_ALG },
		{ "{\"alg\":\"HS256HS256\"}", "{\"alg\":\"HS256HS256\",\"x\":1.5}", JWT_UNSUPPORTED_ALG },
		{ "{\"alg\":\"\"}", "{\"alg\":\"\",\"x\":1.5}", JWT_UNSUPPORTED_ALG },
		{ "{\"alg\":\"HS256\",\"crit\":1}", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
		  JWT_CRIT_UNSUPPORTED },
		/* alg is judged before crit, crit before a bad kid. */
		{ "{\"alg\":\"none\",\"crit\":1}", "{\"alg\":\"none\",\"crit\":[]}", JWT_UNSUPPORTED_ALG },
		{ "{\"alg\":\"HS256\",\"kid\":5,\"crit\":1}", "{\"alg\":\"HS256\",\"kid\":[],\"crit\":1}",
		  JWT_CRIT_UNSUPPORTED },
		{ "{\"alg\":\"HS256\",\"kid\":5}", "{\"alg\":\"HS256\",\"kid\":{\"a\":1}}", JWT_MALFORMED },
		{ "{\"alg\":\"HS256\",\"kid\":null}", "{\"alg\":\"HS256\",\"kid\":null,\"x\":1.5}",
		  JWT_MALFORMED },
		{ "{\"alg\":true}", "{\"alg\":[\"HS256\"]}", JWT_MALFORMED },
		{ "{\"kid\":\"hs\"}", "{\"kid\":\"hs\",\"x\":1.5}", JWT_MALFORMED },
		{ "{\"alg\":\"HS256\",\"kid\":\"nobody\"}", "{\"alg\":\"HS256\",\"kid\":\"nob\\u006fdy\"}",
		  JWT_UNKNOWN_KID },
		{ "{\"alg\":\"HS256\",\"kid\":\"h\"}", "{\"alg\":\"HS256\",\"kid\":\"h\",\"x\":1.5}",
		  JWT_UNKNOWN_KID },
		{ "{\"alg\":\"HS256\",\"kid\":\"hss\"}", "{\"alg\":\"HS256\",\"kid\":\"hss\",\"x\":1.5}",
		  JWT_UNKNOWN_KID },
		{ "{\"alg\":\"ES256\",\"kid\":\"hs\"}", "{\"alg\":\"ES256\",\"kid\":\"hs\",\"x\":1.5}",
		  JWT_ALG_NOT_ALLOWED },
		/* Twice the same name: jansson refuses it, whatever follows. */
		{ "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"alg\":\"none\",\"\\u0061lg\":\"HS256\"}",
		  JWT_MALFORMED },
		{ "{\"alg\":\"HS256\",\"kid\":\"hs\"} x", "[\"HS256\"]", JWT_MALFORMED },
	};
	struct jwt_opts o;

	jwt_opts_init(&o);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_EQUAL(hs_status(&o, cases[i].flat, "{\"exp\":2000}"), cases[i].want);
		CU_ASSERT_EQUAL(hs_status(&o, cases[i].other, "{\"exp\":2000}"), cases[i].want);
		if (hs_status(&o, cases[i].flat, "{\"exp\":2000}") != cases[i].want ||
		    hs_status(&o, cases[i].other, "{\"exp\":2000}") != cases[i].want)
			fprintf(stderr, "header case %zu\n", i);
	}
}

static void
test_rsa_hmac_confusion(void)
{
	/* The classic attack: HS256 keyed with the RSA public key's PEM. */
	struct keys *ks = keys_new();
	struct keys_signer *s = signer("rsa.pem", KEYS_ALG_HS256);
	struct jwt_opts o;
	struct errlist el;
	char *p = data_path("rsa.pem"), *tok;

	errlist_init(&el);
	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(keys_load_pem(ks, p, "rs1", KEYS_ALG_BIT(KEYS_ALG_RS256), &el), 0);
	tok = sign(s, "{\"alg\":\"HS256\",\"kid\":\"rs1\"}", "{\"exp\":2000}");
	CU_ASSERT_EQUAL(verify(ks, &o, tok, 1000), JWT_ALG_NOT_ALLOWED);
	free(tok);
	tok = sign(s, "{\"alg\":\"HS256\"}", "{\"exp\":2000}");
	CU_ASSERT_EQUAL(verify(ks, &o, tok, 1000), JWT_ALG_NOT_ALLOWED);
	free(tok);
	/* And an HS256 pin cannot be put on an RSA key at all. */
	CU_ASSERT_EQUAL(keys_load_pem(ks, p, "rs2", KEYS_ALG_BIT(KEYS_ALG_HS256), &el), -1);
	CU_ASSERT_EQUAL(el.n, 1);
	free(p);
	errlist_free(&el);
	keys_signer_free(s);
	keys_free(ks);
}

static void
test_ecdsa_signature_forms(void)
{
	struct keys *ks = pem_keys();
	struct keys_signer *s = signer("ec256.key", KEYS_ALG_ES256);
	const char *hdr = "{\"alg\":\"ES256\",\"kid\":\"e256\"}";
	char *tok = sign(s, hdr, "{\"exp\":2000}"), *dot, *sig64, *bad;
	unsigned char *raw, *der = NULL, longer[65];
	size_t rawlen;
	struct jwt_opts o;
	ECDSA_SIG *es;
	int derlen;

	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(verify(ks, &o, tok, 1000), JWT_OK);
	dot = strrchr(tok, '.');
	raw = b64url_decode_alloc(dot + 1, strlen(dot + 1), &rawlen);
	CU_ASSERT_EQUAL_FATAL(rawlen, 64);
	*dot = '\0';

	/* The same signature as DER is refused. */
	es = ECDSA_SIG_new();
	ECDSA_SIG_set0(es, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
	derlen = i2d_ECDSA_SIG(es, &der);
	CU_ASSERT(derlen > 0);
	sig64 = b64url_encode_alloc(der, (size_t)derlen);
	xasprintf(&bad, "%s.%s", tok, sig64);
	CU_ASSERT_EQUAL(verify(ks, &o, bad, 1000), JWT_BAD_SIGNATURE);
	free(bad);
	free(sig64);
	/* Wrong lengths: one byte short, one byte more. */
	sig64 = b64url_encode_alloc(raw, 63);
	xasprintf(&bad, "%s.%s", tok, sig64);
	CU_ASSERT_EQUAL(verify(ks, &o, bad, 1000), JWT_BAD_SIGNATURE);
	free(bad);
	free(sig64);
	memcpy(longer, raw, 64);
	longer[64] = 0;
	sig64 = b64url_encode_alloc(longer, 65);
	xasprintf(&bad, "%s.%s", tok, sig64);
	CU_ASSERT_EQUAL(verify(ks, &o, bad, 1000), JWT_BAD_SIGNATURE);
	free(bad);
	free(sig64);
	/* R and S swapped. */
	memcpy(longer, raw + 32, 32);
	memcpy(longer + 32, raw, 32);
	sig64 = b64url_encode_alloc(longer, 64);
	xasprintf(&bad, "%s.%s", tok, sig64);
	CU_ASSERT_EQUAL(verify(ks, &o, bad, 1000), JWT_BAD_SIGNATURE);
	free(bad);
	free(sig64);
	/* All zero. */
	memset(longer, 0, 64);
	sig64 = b64url_encode_alloc(longer, 64);
	xasprintf(&bad, "%s.%s", tok, sig64);
	CU_ASSERT_EQUAL(verify(ks, &o, bad, 1000), JWT_BAD_SIGNATURE);
	free(bad);
	free(sig64);

	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	free(raw);
	free(tok);
	keys_signer_free(s);
	keys_free(ks);
}

static void
test_structure(void)
{
	char *tok = sign(hs, "{\"alg\":\"HS256\",\"kid\":\"hs\"}", "{\"exp\":2000}");
	size_t len = strlen(tok), d1 = strcspn(tok, "."), d2 = d1 + 1 + strcspn(tok + d1 + 1, ".");
	struct jwt_opts o;
	char *t;

	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, tok, 1000), JWT_OK);
	/* Padding on any segment. */
	xasprintf(&t, "%s=", tok);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
	free(t);
	xasprintf(&t, "%.*s=%s", (int)d1, tok, tok + d1);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
	free(t);
	/* '+' and '/' in place of '-' and '_' or any character. */
	for (const char *c = "+/ \t\n=%"; *c; c++) {
		t = xstrdup(tok);
		t[d2 + 3] = *c;
		CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
		t[d2 + 3] = tok[d2 + 3];
		t[2] = *c;
		CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
		free(t);
	}
	/* Whitespace around the token. */
	xasprintf(&t, " %s", tok);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
	free(t);
	xasprintf(&t, "%s\n", tok);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
	free(t);
	/* Two and four segments, empty segments. */
	xasprintf(&t, "%.*s", (int)d2, tok);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
	free(t);
	xasprintf(&t, "%s.%s", tok, tok + d2 + 1);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
	free(t);
	xasprintf(&t, "%s.", tok);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
	free(t);
	xasprintf(&t, "%.*s.%s", (int)d1, tok, tok + d2);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, t, 1000), JWT_MALFORMED);
	free(t);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, "", 1000), JWT_MALFORMED);
	CU_ASSERT_EQUAL(verify(hs_keys, &o, "..", 1000), JWT_MALFORMED);
	/* A NUL inside the given length. */
	t = xstrdup(tok);
	t[d1 + 2] = '\0';
	{
		struct jwt_result *r = NULL;
		CU_ASSERT_EQUAL(jwt_verify(hs_keys, &o, t, len, 1000, &r), JWT_MALFORMED);
		CU_ASSERT_PTR_NULL(r);
	}
	free(t);
	/* Oversize. */
	o.max_token_bytes = len - 1;
	CU_ASSERT_EQUAL(verify(hs_keys, &o, tok, 1000), JWT_TOO_LARGE);
	o.max_token_bytes = len;
	CU_ASSERT_EQUAL(verify(hs_keys, &o, tok, 1000), JWT_OK);
	jwt_opts_init(&o);
	{
		char *big = xmalloc(8193 + 1);
		memset(big, 'A', 8193);
		big[8193] = '\0';
		CU_ASSERT_EQUAL(verify(hs_keys, &o, big, 1000), JWT_TOO_LARGE);
		free(big);
	}
	free(tok);
}

static void
test_json_strictness(void)
{
	struct jwt_opts o;

	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{\"exp\":2000}"),
	    JWT_MALFORMED);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"exp\":2000}"), JWT_MALFORMED);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"sub\":\"a\",\"sub\":\"b\"}"), JWT_MALFORMED);
	CU_ASSERT_EQUAL(hs_claims(&o, "[1,2]"), JWT_MALFORMED);
	CU_ASSERT_EQUAL(hs_claims(&o, "\"exp\""), JWT_MALFORMED);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000} x"), JWT_MALFORMED);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000"), JWT_MALFORMED);
	CU_ASSERT_EQUAL(hs_status(&o, "[\"HS256\"]", "{\"exp\":2000}"), JWT_MALFORMED);
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":\"HS256\",\"kid\":7}", "{\"exp\":2000}"), JWT_MALFORMED);
	/* Whitespace inside the JSON is fine (RFC 7515 A.1 has CRLFs). */
	CU_ASSERT_EQUAL(hs_status(&o, "{ \"alg\" : \"HS256\" }", "{\r\n\"exp\":2000}"), JWT_OK);
}

static void
test_crit_and_key_headers(void)
{
	struct jwt_opts o;

	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
	    "{\"exp\":2000}"), JWT_CRIT_UNSUPPORTED);
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}",
	    "{\"exp\":2000}"), JWT_CRIT_UNSUPPORTED);
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":\"HS256\",\"crit\":[]}", "{\"exp\":2000}"),
	    JWT_CRIT_UNSUPPORTED);
	/* jku / x5u / jwk are ignored: a token signed by the configured key
	 * still verifies, one signed by the key it points to does not. */
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":\"HS256\",\"jku\":\"https://evil.example/jwks\","
	    "\"x5u\":\"https://evil.example/c\"}", "{\"exp\":2000}"), JWT_OK);
	{
		struct keys_signer *ed = signer("ed25519.key", KEYS_ALG_EDDSA);
		char *tok = sign(ed, "{\"alg\":\"EdDSA\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
		    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
		    "\"jku\":\"file:///tmp/jwks.json\"}", "{\"exp\":2000}");
		CU_ASSERT_EQUAL(verify(hs_keys, &o, tok, 1000), JWT_ALG_NOT_ALLOWED);
		free(tok);
		keys_signer_free(ed);
	}
	CU_ASSERT_EQUAL(hs_status(&o, "{\"alg\":\"HS256\",\"kid\":\"other\"}", "{\"exp\":2000}"),
	    JWT_UNKNOWN_KID);
}

static void
test_untagged_tries(void)
{
	struct keys *ks = keys_new();
	struct errlist el;
	unsigned char secret[32];
	struct jwt_opts o;
	char *tok;

	/* Five HS256 keys without kid; the token is signed with the last
	 * (hmac256.key). Only max_untagged_tries of them are tried. */
	errlist_init(&el);
	for (int i = 0; i < 4; i++) {
		memset(secret, 'a' + i, sizeof(secret));
		CU_ASSERT_EQUAL(keys_add_hmac(ks, "mem", NULL, KEYS_ALG_BIT(KEYS_ALG_HS256),
		    secret, sizeof(secret), &el), 0);
	}
	char *p = private_copy("hmac256.key");
	CU_ASSERT_EQUAL(keys_load_hmac(ks, p, NULL, KEYS_ALG_BIT(KEYS_ALG_HS256), &el), 0);
	struct keys_signer *s = keys_signer_load(p, KEYS_ALG_HS256, &el);
	unlink(p);
	free(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	tok = sign(s, "{\"alg\":\"HS256\"}", "{\"exp\":2000}");
	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(o.max_untagged_tries, 4);
	CU_ASSERT_EQUAL(verify(ks, &o, tok, 1000), JWT_BAD_SIGNATURE);
	o.max_untagged_tries = 5;
	CU_ASSERT_EQUAL(verify(ks, &o, tok, 1000), JWT_OK);
	free(tok);
	keys_signer_free(s);
	errlist_free(&el);
	keys_free(ks);
}

static void
test_time_claims(void)
{
	struct jwt_opts o;

	jwt_opts_init(&o);	/* now = 1000, leeway 30 */
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":1031}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":971}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":970}"), JWT_EXPIRED);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":1}"), JWT_EXPIRED);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":970.5}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"sub\":\"x\"}"), JWT_MISSING_EXP);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":\"2000\"}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":null}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"nbf\":1030}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"nbf\":1031}"), JWT_NOT_YET_VALID);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"nbf\":true}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iat\":1030}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iat\":1031}"), JWT_ISSUED_IN_FUTURE);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iat\":\"now\"}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":1e300}"), JWT_OK);
	o.leeway_s = 0;
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":1001}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":1000}"), JWT_EXPIRED);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"nbf\":1001}"), JWT_NOT_YET_VALID);
	o.require_exp = 0;
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"sub\":\"x\"}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":999}"), JWT_EXPIRED);
}

/* tokens.max_lifetime_s: exp no later than now + max + leeway (now =
 * 1000), exp required whatever require_exp says, and a token whose own
 * iat says it lives longer refused too. */
static void
test_max_lifetime(void)
{
	struct jwt_opts o;

	jwt_opts_init(&o);		/* leeway 30 */
	o.max_lifetime_s = 3600;	/* bound: exp <= 4630 */
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4630}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4631}"), JWT_LIFETIME_TOO_LONG);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4630.5}"), JWT_LIFETIME_TOO_LONG);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4629}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":1e300}"), JWT_LIFETIME_TOO_LONG);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":9223372036854775807}"), JWT_LIFETIME_TOO_LONG);
	/* Beyond int64: jansson refuses the document (malformed). */
	CU_ASSERT_NOT_EQUAL(hs_claims(&o, "{\"exp\":18446744073709551616}"), JWT_OK);
	/* Expiry is still checked first; a negative exp is just expired. */
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":-1}"), JWT_EXPIRED);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":-1e300}"), JWT_EXPIRED);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":\"4000\"}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"sub\":\"x\"}"), JWT_MISSING_EXP);
	o.require_exp = 0;		/* the bound needs an exp anyway */
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"sub\":\"x\"}"), JWT_MISSING_EXP);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4630}"), JWT_OK);
	/* iat never lengthens: an old iat does not let a far exp in. */
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":9000,\"iat\":5400}"), JWT_LIFETIME_TOO_LONG);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4631,\"iat\":1000}"), JWT_LIFETIME_TOO_LONG);
	/* A token issued to live longer than the bound is refused even in its
	 * last hour (else it would outlive revocations of its id). */
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4000,\"iat\":399}"), JWT_LIFETIME_TOO_LONG);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4000,\"iat\":400}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4000,\"iat\":-1e300}"), JWT_LIFETIME_TOO_LONG);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4000,\"iat\":null}"), JWT_BAD_CLAIM);
	/* The leeway widens the now-based bound. */
	o.leeway_s = 0;
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4600}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":4601}"), JWT_LIFETIME_TOO_LONG);
	o.leeway_s = 3600;
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":8200}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":8201}"), JWT_LIFETIME_TOO_LONG);
	/* 0: no bound, as before. */
	o.max_lifetime_s = 0;
	o.leeway_s = 30;
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":1e300}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"sub\":\"x\"}"), JWT_OK);
	CU_ASSERT_STRING_EQUAL(jwt_status_str(JWT_LIFETIME_TOO_LONG), "lifetime_too_long");
}

static void
test_iss_aud(void)
{
	static const char *const iss[] = { "https://a.example", "https://b.example" };
	static const char *const aud[] = { "scopegate", "other" };
	struct jwt_opts o;

	jwt_opts_init(&o);
	/* Not configured: any iss / aud (of the right type). */
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"x\",\"aud\":\"y\"}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":1}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"aud\":[\"a\",2]}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"aud\":{}}"), JWT_BAD_CLAIM);
	o.issuers = iss;
	o.nissuers = 2;
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://b.example\"}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://c.example\"}"), JWT_WRONG_ISSUER);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://B.example\"}"), JWT_WRONG_ISSUER);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://b.example \"}"), JWT_WRONG_ISSUER);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000}"), JWT_WRONG_ISSUER);
	o.audiences = aud;
	o.naudiences = 2;
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://a.example\","
	    "\"aud\":\"scopegate\"}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://a.example\","
	    "\"aud\":[\"x\",\"other\"]}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://a.example\","
	    "\"aud\":[\"x\",\"y\"]}"), JWT_WRONG_AUDIENCE);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://a.example\","
	    "\"aud\":[]}"), JWT_WRONG_AUDIENCE);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://a.example\","
	    "\"aud\":\"Scopegate\"}"), JWT_WRONG_AUDIENCE);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":\"https://a.example\"}"),
	    JWT_WRONG_AUDIENCE);
}

/* Verify and return the scopes joined by '|' (or the status name). */
static char *
scopes_of(const struct jwt_opts *o, const char *payload)
{
	char *tok = sign(hs, "{\"alg\":\"HS256\"}", payload), *out = NULL, *tmp;
	struct jwt_result *r = NULL;
	enum jwt_status st = jwt_verify(hs_keys, o, tok, strlen(tok), 1000, &r);

	if (st != JWT_OK)
		out = xstrdup(jwt_status_str(st));
	else {
		out = xstrdup("");
		for (size_t i = 0; i < r->nscopes; i++) {
			xasprintf(&tmp, "%s%s%s", out, i ? "|" : "", r->scopes[i]);
			free(out);
			out = tmp;
		}
	}
	jwt_result_free(r);
	free(tok);
	return out;
}

#define CHECK_SCOPES(o, payload, want) do {			\
	char *got_ = scopes_of((o), (payload));			\
	CU_ASSERT_STRING_EQUAL(got_, (want));			\
	free(got_);						\
} while (0)

static void
test_scopes(void)
{
	struct jwt_opts o;

	jwt_opts_init(&o);
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":\"a b.c all.User\"}", "a|b.c|all.User");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":[\"a\",\"b c\",\"D\"]}", "a|b c|D");
	CHECK_SCOPES(&o, "{\"exp\":2000}", "");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":\"\"}", "");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":[]}", "");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":\"a  b\"}", "bad_scope");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":\" a\"}", "bad_scope");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":\"a \"}", "bad_scope");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":\"a\\tb\"}", "a\tb");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":[\"a\",1]}", "bad_scope");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":[\"a\",null]}", "bad_scope");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":[\"a\",[\"b\"]]}", "bad_scope");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":[\"\"]}", "bad_scope");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":7}", "bad_scope");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":{\"a\":1}}", "bad_scope");
	/* Exact bytes: no case folding or trimming. */
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":[\" A \"]}", " A ");
	o.scope_format = JWT_SCOPE_ARRAY;
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":[\"a\",\"b\"]}", "a|b");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":\"a b\"}", "bad_scope");
	o.scope_format = JWT_SCOPE_STRING;
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":\"a b\"}", "a|b");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scope\":[\"a\",\"b\"]}", "bad_scope");
	o.scope_format = JWT_SCOPE_EITHER;
	o.scope_claim = "realm.scopes";
	CHECK_SCOPES(&o, "{\"exp\":2000,\"realm\":{\"scopes\":[\"x\",\"y\"]},\"scope\":\"z\"}", "x|y");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"realm\":{\"other\":1}}", "");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"realm\":\"scopes\"}", "");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"realm\":{\"scopes\":5}}", "bad_scope");
	o.scope_claim = "scp";
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scp\":\"q\",\"scope\":\"z\"}", "q");
	/* A top-level member named by the whole dotted path wins, before or
	 * after the object the path walks through. */
	o.scope_claim = "realm.scopes";
	CHECK_SCOPES(&o, "{\"exp\":2000,\"realm.scopes\":\"f\",\"realm\":{\"scopes\":[\"x\"]}}", "f");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"realm\":{\"scopes\":[\"x\"]},\"realm.scopes\":\"f\"}", "f");
	/* Only that exact name: a prefix or a longer name is another claim. */
	o.scope_claim = "scp";
	CHECK_SCOPES(&o, "{\"exp\":2000,\"sc\":\"a\",\"scpx\":\"b\",\"Scp\":\"c\"}", "");
	CHECK_SCOPES(&o, "{\"exp\":2000,\"scpx\":\"c\",\"scp\":\"q\",\"sc\":\"d\"}", "q");
	/* The scope claim may be a registered claim too. */
	o.scope_claim = "sub";
	CHECK_SCOPES(&o, "{\"exp\":2000,\"sub\":\"a b\"}", "a|b");
}

static void
test_id_claim(void)
{
	struct jwt_opts o;
	struct jwt_result *r = NULL;
	char *tok = sign(hs, "{\"alg\":\"HS256\"}",
	    "{\"exp\":2000,\"sub\":\"user-1\",\"jti\":\"tok-1\",\"tenant\":{\"id\":\"t9\"}}");

	jwt_opts_init(&o);
	CU_ASSERT_EQUAL_FATAL(jwt_verify(hs_keys, &o, tok, strlen(tok), 1000, &r), JWT_OK);
	CU_ASSERT_STRING_EQUAL(r->token_id, "tok-1");
	CU_ASSERT_STRING_EQUAL(r->sub, "user-1");
	CU_ASSERT_PTR_NULL(r->kid);
	CU_ASSERT_EQUAL(r->exp, 2000);
	CU_ASSERT_EQUAL(r->valid_until, 2030);
	CU_ASSERT_STRING_EQUAL(json_string_value(jwt_claim_path(jwt_result_claims(r), "tenant.id")), "t9");
	jwt_result_free(r);
	o.id_claim = "sub";
	CU_ASSERT_EQUAL_FATAL(jwt_verify(hs_keys, &o, tok, strlen(tok), 1000, &r), JWT_OK);
	CU_ASSERT_STRING_EQUAL(r->token_id, "user-1");
	jwt_result_free(r);
	o.id_claim = "tenant.id";
	CU_ASSERT_EQUAL_FATAL(jwt_verify(hs_keys, &o, tok, strlen(tok), 1000, &r), JWT_OK);
	CU_ASSERT_STRING_EQUAL(r->token_id, "t9");
	jwt_result_free(r);
	free(tok);
	/* A top-level member named "tenant.id" wins over the walk. */
	tok = sign(hs, "{\"alg\":\"HS256\"}",
	    "{\"exp\":2000,\"tenant\":{\"id\":\"t9\"},\"tenant.id\":\"flat\"}");
	CU_ASSERT_EQUAL_FATAL(jwt_verify(hs_keys, &o, tok, strlen(tok), 1000, &r), JWT_OK);
	CU_ASSERT_STRING_EQUAL(r->token_id, "flat");
	jwt_result_free(r);
	free(tok);
	jwt_opts_init(&o);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"jti\":5}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"sub\":[]}"), JWT_BAD_CLAIM);
	/* Registered claims by their exact names only: a longer, shorter or
	 * otherwise spelt name is another claim. */
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"expx\":2000,\"ex\":2000,\"EXP\":2000}"), JWT_MISSING_EXP);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"subx\":5,\"jtix\":[],\"Aud\":1,"
	    "\"is\":1,\"nbf \":\"x\",\"iatt\":\"x\"}"), JWT_OK);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"nbf\":\"x\"}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iat\":\"x\"}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"iss\":1}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":2000,\"aud\":1}"), JWT_BAD_CLAIM);
	CU_ASSERT_EQUAL(hs_claims(&o, "{\"exp\":\"2000\"}"), JWT_BAD_CLAIM);
}

static void
test_status_strings(void)
{
	CU_ASSERT_STRING_EQUAL(jwt_status_str(JWT_OK), "ok");
	CU_ASSERT_STRING_EQUAL(jwt_status_str(JWT_BAD_SIGNATURE), "bad_signature");
	CU_ASSERT_STRING_EQUAL(jwt_status_str(JWT_EXPIRED), "expired");
	CU_ASSERT_STRING_EQUAL(jwt_status_str(JWT_STATUS_COUNT), "unknown");
	for (int i = 0; i < JWT_STATUS_COUNT; i++) {
		const char *s = jwt_status_str((enum jwt_status)i);
		CU_ASSERT(s != NULL && s[0] != '\0' && strcmp(s, "unknown") != 0);
		for (const char *c = s; *c; c++)
			CU_ASSERT((*c >= 'a' && *c <= 'z') || *c == '_');
	}
}

/* ---- lazy claims ---- */

/* The claims object built on first use must be the one jwt_verify built
 * for every token before, and a payload must be refused or accepted the
 * same way: JWT_CLAIMS_LAZY (what jwt_verify does) against
 * JWT_CLAIMS_EAGER (what it did) on the same payload and options. */
struct lazy_stats {
	size_t checked, ok, deferred;
};

static const char *const lazy_iss[] = { "https://issuer.example", "i2" };
static const char *const lazy_aud[] = { "scopegate", "other" };

static void
lazy_opts(struct jwt_opts *o, unsigned v)
{
	jwt_opts_init(o);
	if (v & 1) {
		o->issuers = lazy_iss;
		o->nissuers = 2;
		o->audiences = lazy_aud;
		o->naudiences = 2;
	}
	if (v & 2)
		o->scope_format = JWT_SCOPE_ARRAY;
	if (v & 4)
		o->scope_format = JWT_SCOPE_STRING;
	if (v & 8)
		o->scope_claim = "realm.scopes";
	if (v & 16)
		o->id_claim = "tenant.id";
	if (v & 32)
		o->require_exp = 0;
	if (v & 64)
		o->max_lifetime_s = 3600;
	if (v & 128) {
		o->id_claim = "sub";
		o->scope_claim = "scp";
	}
	if (v & 256)
		o->leeway_s = 0;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
lazy_compare(const unsigned char *pl, size_t len, unsigned v, struct lazy_stats *stats)
{
	struct jwt_result *a = xcalloc(1, sizeof(*a)), *b = xcalloc(1, sizeof(*b));
	struct jwt_opts o;
	enum jwt_status sa, sb;
	int same = 1;

	lazy_opts(&o, v);
	sa = jwt_check_payload(a, &o, 1000, pl, len, JWT_CLAIMS_LAZY);
	sb = jwt_check_payload(b, &o, 1000, pl, len, JWT_CLAIMS_EAGER);
	stats->checked++;
	if (sa != sb)
		same = 0;
	else if (sa == JWT_OK) {
		const json_t *ca, *cb;
		char *da, *db;

		stats->ok++;
		/* The eager path has its object at once; the lazy one only
		 * for a payload it could not check from the text. */
		CU_ASSERT_PTR_NOT_NULL(b->claims_obj_);
		if (a->claims_obj_ == NULL)
			stats->deferred++;
		same = same_str(a->sub, b->sub) && same_str(a->token_id, b->token_id) &&
		    a->token_id_len == b->token_id_len && a->has_exp == b->has_exp &&
		    a->exp == b->exp && a->valid_until == b->valid_until &&
		    a->nscopes == b->nscopes && (a->scopes == NULL) == (b->scopes == NULL);
		for (size_t i = 0; same && i < a->nscopes; i++)
			same = strcmp(a->scopes[i], b->scopes[i]) == 0;
		ca = jwt_result_claims(a);
		cb = jwt_result_claims(b);
		/* Built at most once: the second call gives the same object. */
		CU_ASSERT(ca != NULL && ca == jwt_result_claims(a));
		da = json_dumps(ca, JSON_COMPACT | JSON_ENCODE_ANY);
		db = json_dumps(cb, JSON_COMPACT | JSON_ENCODE_ANY);
		if (da == NULL || db == NULL || strcmp(da, db) != 0 || !json_equal(ca, cb))
			same = 0;
		free(da);
		free(db);
	}
	if (!same) {
		fprintf(stderr, "lazy/eager differ (opts %u: %s / %s): %.*s\n", v,
		    jwt_status_str(sa), jwt_status_str(sb), (int)len, (const char *)pl);
		CU_FAIL("lazy and eager claims differ");
	}
	jwt_result_free(a);
	jwt_result_free(b);
}

/* Hand-written hostile payloads, each under every option set. */
static const char *const lazy_cases[] = {
	"{\"exp\":2000}",
	"{\"exp\":2000,\"sub\":\"u\",\"jti\":\"j\",\"scope\":\"a b c\",\"iss\":\"https://issuer.example\",\"aud\":\"scopegate\"}",
	"{\"exp\":2000,\"aud\":[\"x\",\"other\"],\"iss\":\"i2\",\"scope\":[\"a\",\"b\"]}",
	"{\"exp\":2000,\"aud\":[\"x\",5]}",
	"{\"exp\":2000,\"aud\":[]}",
	"{\"exp\":2000,\"aud\":{}}",
	"{\"exp\":2000,\"sub\":\"a\",\"sub\":\"b\"}",
	"{\"exp\":2000,\"x\":{\"a\":1,\"a\":2}}",
	"{\"exp\":2000,\"x\":[{\"a\":1,\"b\":{\"a\":1,\"a\":1}}]}",
	"{\"exp\":2000.5}",
	"{\"exp\":2e3}",
	"{\"exp\":2000,\"nbf\":1E3,\"iat\":999.999}",
	"{\"exp\":123456789012345678}",
	"{\"exp\":1234567890123456789}",
	"{\"exp\":12345678901234567890}",
	"{\"exp\":-0,\"nbf\":-1}",
	"{\"exp\":02000}",
	"{\"exp\":-}",
	"{\"exp\":2000,\"iat\":-9223372036854775808}",
	"{\"exp\":99999999999999999999999999999999999999}",
	"{\"exp\":1e400}",
	"{\"exp\":\"2000\"}",
	"{\"exp\":true}",
	"{\"exp\":null}",
	"{\"exp\":2000,\"sub\":\"\\u0075\"}",
	"{\"exp\":2000,\"sub\":\"a\\u0000b\",\"jti\":\"x\\u0000y\"}",
	"{\"exp\":2000,\"jti\":\"\\ud800\"}",
	"{\"exp\":2000,\"jti\":\"\\ud83d\\ude00\"}",
	"{\"exp\":2000,\"sub\":\"\xc3\xa9\"}",
	"{\"exp\":2000,\"sub\":\"\xff\"}",
	"{\"exp\":2000,\"sub\":\"\xc0\xaf\"}",
	"{\"exp\":2000,\"sub\":\"\xed\xa0\x80\"}",
	"{\"exp\":2000,\"s\xc3\xa9\":1}",
	"{\"exp\":2000,\"sub\":\"tab\there\"}",
	"{\"exp\":2000,\"sub\":\"a\\\"b\\\\c\\/d\\n\"}",
	"{\"exp\":2000,\"scope\":\" a\"}",
	"{\"exp\":2000,\"scope\":\"a \"}",
	"{\"exp\":2000,\"scope\":\"a  b\"}",
	"{\"exp\":2000,\"scope\":\"\"}",
	"{\"exp\":2000,\"scope\":\" \"}",
	"{\"exp\":2000,\"scope\":\"a\\u0020\\u0020b\"}",
	"{\"exp\":2000,\"scope\":\"a\\u0000 b\"}",
	"{\"exp\":2000,\"scope\":[\"\"]}",
	"{\"exp\":2000,\"scope\":[]}",
	"{\"exp\":2000,\"scope\":[\"a\",1]}",
	"{\"exp\":2000,\"scope\":[\"a\\u0000\"]}",
	"{\"exp\":2000,\"scope\":5}",
	"{\"exp\":2000,\"scope\":{\"a\":1}}",
	"{\"exp\":2000,\"realm\":{\"scopes\":[\"x\",\"y\"]},\"tenant\":{\"id\":\"t9\"}}",
	"{\"exp\":2000,\"realm.scopes\":\"f\",\"tenant.id\":\"g\"}",
	"{\"exp\":2000,\"realm\":{\"scopes\":5},\"tenant\":{\"id\":[]}}",
	"{\"exp\":2000,\"scp\":\"q r\",\"sub\":\"s\"}",
	"{\"exp\":2000,\"sub\":5}",
	"{\"exp\":2000,\"jti\":5}",
	"{\"exp\":2000,\"iss\":[\"https://issuer.example\"]}",
	"{\"exp\":2000,\"iss\":\"https://issuer.example\\u0000x\",\"aud\":\"scopegate\\u0000\"}",
	"{\"exp\":5000,\"iat\":900}",
	"{\"exp\":4600,\"iat\":1000}",
	"{\"exp\":1000,\"nbf\":1031}",
	"{\"exp\":1031,\"nbf\":1030,\"iat\":1030}",
	"{\"exp\":970}",
	"{\"exp\":969}",
	"{}",
	"[]",
	"\"x\"",
	"5",
	"",
	"{",
	"{\"exp\":2000",
	"{\"exp\":2000}x",
	"{\"exp\":2000} ",
	" \t\r\n{ \"exp\" : 2000 , \"sub\" : \"u\" } \n",
	"{\"exp\":2000,}",
	"{\"exp\" 2000}",
	"{exp:2000}",
	"{\"exp\":2000,\"a\":[1,2,]}",
	"{\"exp\":2000,\"a\":tru}",
	"{\"exp\":2000,\"a\":True}",
	"{\"exp\":2000,\"a\":[[[[[[[[[1]]]]]]]]]}",
	"{\"exp\":2000,\"a\":[[[[[[[1]]]]]]]}",
	"{\"exp\":2000,\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{}}}}}}}}}",
	"{\"exp\":2000,\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{}}}}}}}}",
	"{\"exp\":2000,\"\":1}",
	"{\"exp\":2000,\"a\":\"\\x\"}",
	"{\"exp\":2000,\"a\":\"\\u12\"}",
	"{\"exp\":2000,\"a\":\"\x01\"}",
	"{\"exp\":2000,\"a\":\"\x7f\"}",
};

/* A token's payload made at random from pieces that cover every JSON
 * type, the claims the checks read and the shapes the fast path leaves to
 * jansson, then perhaps damaged. */
static uint64_t lazy_rng = 0x9e3779b97f4a7c15ull;

static unsigned
lazy_rand(unsigned n)
{
	lazy_rng ^= lazy_rng << 13;
	lazy_rng ^= lazy_rng >> 7;
	lazy_rng ^= lazy_rng << 17;
	return (unsigned)(lazy_rng % n);
}

static void
lazy_value(char *buf, size_t cap, size_t *len, int depth)
{
	static const char *const scalars[] = {
		"2000", "1000", "1031", "969", "0", "-1", "2000.0", "2e3", "-0", "1e400",
		"123456789012345678", "1234567890123456789", "99999999999999999999",
		"true", "false", "null", "\"\"", "\"u\"", "\"a b\"", "\" a\"", "\"a  b\"",
		"\"scopegate\"", "\"other\"", "\"https://issuer.example\"", "\"i2\"",
		"\"\\u0041\"", "\"a\\u0000b\"", "\"\\ud800\"", "\"\\ud83d\\ude00\"", "\"\xc3\xa9\"",
		"\"\xff\"", "\"\xe2\x82\"", "\"\\/\"", "\"a\\\"b\"", "\"x y z\"",
	};
	unsigned k = lazy_rand(depth > 9 ? 1 : 8);

	if (*len + 64 >= cap)
		k = 0;
	if (k < 5) {
		const char *s = scalars[lazy_rand(sizeof(scalars) / sizeof(scalars[0]))];
		size_t n = strlen(s);
		if (*len + n < cap) {
			memcpy(buf + *len, s, n);
			*len += n;
		}
	} else if (k < 7) {
		unsigned n = lazy_rand(4);
		buf[(*len)++] = '[';
		for (unsigned i = 0; i < n && *len + 64 < cap; i++) {
			if (i > 0)
				buf[(*len)++] = ',';
			lazy_value(buf, cap, len, depth + 1);
		}
		buf[(*len)++] = ']';
	} else {
		static const char *const names[] = { "a", "b", "id", "scopes", "a" };
		unsigned n = lazy_rand(4);
		buf[(*len)++] = '{';
		for (unsigned i = 0; i < n && *len + 64 < cap; i++) {
			*len += (size_t)snprintf(buf + *len, cap - *len, "%s\"%s\":", i > 0 ? "," : "",
			    names[lazy_rand(5)]);
			lazy_value(buf, cap, len, depth + 1);
		}
		buf[(*len)++] = '}';
	}
}

static size_t
lazy_payload(char *buf, size_t cap)
{
	static const char *const names[] = {
		"exp", "nbf", "iat", "iss", "sub", "aud", "jti", "scope", "scp", "realm",
		"tenant", "realm.scopes", "tenant.id", "x", "y", "\\u0065xp", "s\xc3\xa9", "",
	};
	size_t len = 0;
	unsigned n = lazy_rand(12), m;
	static const char junk[] = "{}[]\",:\\ 09-.eEtu\x00\x80\xff\xc3\t\n";

	buf[len++] = '{';
	for (unsigned i = 0; i < n && len + 128 < cap; i++) {
		/* exp first most of the time: most tokens then pass the checks */
		const char *name = i == 0 && lazy_rand(4) != 0 ? "exp" :
		    names[lazy_rand(sizeof(names) / sizeof(names[0]))];
		len += (size_t)snprintf(buf + len, cap - len, "%s%s\"%s\"%s:%s", i > 0 ? "," : "",
		    lazy_rand(8) == 0 ? " " : "", name, lazy_rand(8) == 0 ? "\t" : "",
		    lazy_rand(8) == 0 ? "\n" : "");
		if (i == 0 && strcmp(name, "exp") == 0 && lazy_rand(4) != 0)
			len += (size_t)snprintf(buf + len, cap - len, "2000");
		else
			lazy_value(buf, cap, &len, 1);
	}
	buf[len++] = '}';
	/* Damage one in four: a byte changed, inserted, dropped, or the end
	 * cut. */
	for (m = lazy_rand(8) == 0 ? 1 + lazy_rand(3) : 0; m > 0 && len > 1; m--) {
		size_t at = lazy_rand((unsigned)len);
		switch (lazy_rand(4)) {
		case 0:
			buf[at] = junk[lazy_rand(sizeof(junk) - 1)];
			break;
		case 1:
			if (len + 1 < cap) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = junk[lazy_rand(sizeof(junk) - 1)];
				len++;
			}
			break;
		case 2:
			memmove(buf + at, buf + at + 1, len - at - 1);
			len--;
			break;
		default:
			len = at;
			break;
		}
	}
	return len;
}

static void
test_lazy_claims(void)
{
	struct lazy_stats st = { 0, 0, 0 }, hand;
	char buf[4096];
	size_t len;

	for (size_t i = 0; i < sizeof(lazy_cases) / sizeof(lazy_cases[0]); i++)
		for (unsigned v = 0; v < 512; v++)
			lazy_compare((const unsigned char *)lazy_cases[i], strlen(lazy_cases[i]), v, &st);
	hand = st;
	/* More than 32 members: parsed at once, the same. */
	len = (size_t)snprintf(buf, sizeof(buf), "{\"exp\":2000");
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, ",\"m%d\":%d", i, i);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, ",\"m3\":1}");
	lazy_compare((const unsigned char *)buf, len, 0, &st);
	buf[len - 8] = '}';
	lazy_compare((const unsigned char *)buf, len - 7, 0, &st);
	for (int i = 0; i < 200000; i++) {
		len = lazy_payload(buf, sizeof(buf));
		lazy_compare((const unsigned char *)buf, len, lazy_rand(512), &st);
	}
	fprintf(stderr, "lazy claims: %zu checks (%zu hand-written: %zu accepted, %zu of them "
	    "deferred), %zu accepted, %zu of them deferred\n", st.checked, hand.checked,
	    hand.ok, hand.deferred, st.ok, st.deferred);
	/* The test means something only if both paths were taken often. */
	CU_ASSERT(hand.deferred > 1000 && hand.ok - hand.deferred > 1000);
	CU_ASSERT(st.deferred - hand.deferred > 2000 && st.checked - st.ok > 5000);
	CU_ASSERT(st.ok - st.deferred - (hand.ok - hand.deferred) > 2000);
}

/* Through jwt_verify: a signed token's claims are deferred when its
 * payload is plain, parsed at once otherwise, and equal either way. */
static void
test_lazy_verify(void)
{
	static const char *const pls[] = {
		"{\"exp\":2000,\"sub\":\"u\",\"jti\":\"j\",\"scope\":\"a b\",\"tenant\":{\"id\":\"t\"}}",
		"{\"exp\":2000,\"sub\":\"\\u0075\",\"jti\":\"j\",\"scope\":\"a b\"}",
		"{\"exp\":2000.5,\"sub\":\"u\"}",
		"{\"exp\":2000,\"sub\":\"u\",\"sub\":\"v\"}",
		"{\"exp\":2000,\"x\":{\"a\":1,\"a\":2}}",
		"{\"exp\":2000,\"x\":\"\xff\"}",
	};
	static const enum jwt_status want[] = {
		JWT_OK, JWT_OK, JWT_OK, JWT_MALFORMED, JWT_MALFORMED, JWT_MALFORMED,
	};
	static const int deferred[] = { 1, 0, 0, 0, 0, 0 };
	struct jwt_opts o;

	jwt_opts_init(&o);
	for (size_t i = 0; i < sizeof(pls) / sizeof(pls[0]); i++) {
		struct jwt_result *r = NULL, *e = xcalloc(1, sizeof(*e));
		char *tok = sign(hs, "{\"alg\":\"HS256\",\"kid\":\"hs\"}", pls[i]), *da, *db;

		CU_ASSERT_EQUAL(jwt_verify(hs_keys, &o, tok, strlen(tok), 1000, &r), want[i]);
		CU_ASSERT_EQUAL(jwt_check_payload(e, &o, 1000, (const unsigned char *)pls[i],
		    strlen(pls[i]), JWT_CLAIMS_EAGER), want[i]);
		if (r != NULL) {
			CU_ASSERT_EQUAL(r->claims_obj_ == NULL, deferred[i]);
			CU_ASSERT_STRING_EQUAL(r->kid, "hs");
			da = json_dumps(jwt_result_claims(r), JSON_COMPACT);
			db = json_dumps(jwt_result_claims(e), JSON_COMPACT);
			CU_ASSERT(da != NULL && db != NULL && strcmp(da, db) == 0);
			free(da);
			free(db);
		}
		jwt_result_free(r);
		jwt_result_free(e);
		free(tok);
	}
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("rfc vectors", NULL, NULL);
	CU_add_test(s, "RFC 7515 A.1 HS256", test_rfc7515_a1_hs256);
	CU_add_test(s, "RFC 7515 A.2 RS256", test_rfc7515_a2_rs256);
	CU_add_test(s, "RFC 7515 A.3 ES256", test_rfc7515_a3_es256);
	CU_add_test(s, "RFC 7520 4.1 RS256", test_rfc7520_4_1_rs256);
	CU_add_test(s, "RFC 7520 4.2 PS384", test_rfc7520_4_2_ps384);
	CU_add_test(s, "RFC 7520 4.3 ES512", test_rfc7520_4_3_es512);
	CU_add_test(s, "RFC 7520 4.4 HS256", test_rfc7520_4_4_hs256);
	CU_add_test(s, "RFC 8037 A.4 Ed25519", test_rfc8037_a4_ed25519);
	CU_add_test(s, "all algorithms with test keys", test_all_algorithms);
	s = CU_add_suite("rejections", suite_init, suite_clean);
	CU_add_test(s, "alg none in any spelling", test_alg_none);
	CU_add_test(s, "header read in place or through jansson", test_header_paths);
	CU_add_test(s, "RSA public key as HMAC secret", test_rsa_hmac_confusion);
	CU_add_test(s, "ECDSA DER / wrong length", test_ecdsa_signature_forms);
	CU_add_test(s, "compact structure", test_structure);
	CU_add_test(s, "JSON strictness", test_json_strictness);
	CU_add_test(s, "crit, jku, jwk, kid", test_crit_and_key_headers);
	CU_add_test(s, "bounded untagged tries", test_untagged_tries);
	CU_add_test(s, "exp nbf iat leeway", test_time_claims);
	CU_add_test(s, "max_lifetime_s", test_max_lifetime);
	CU_add_test(s, "iss aud", test_iss_aud);
	CU_add_test(s, "scope claim forms", test_scopes);
	CU_add_test(s, "id claim, sub, claim paths", test_id_claim);
	CU_add_test(s, "status strings", test_status_strings);
	CU_add_test(s, "lazy claims equal eager ones", test_lazy_claims);
	CU_add_test(s, "lazy claims through jwt_verify", test_lazy_verify);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
