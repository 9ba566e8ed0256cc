/* test_keys.c: loading PEM keys, HMAC secret files and JWKS (every refusal
 * named), and the "tokens" configuration section. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/hmac.h>

#include "errlist.h"
#include "jsonconf.h"
#include "keys.h"
#include "token_config.h"
#include "xmalloc.h"

static char tmpdir[] = "/tmp/sg-test-keysXXXXXX";

static char *
data_path(const char *name)
{
	const char *top = getenv("top_srcdir");
	char *p;

	xasprintf(&p, "%s/tests/data/keys/%s", top ? top : ".", name);
	return p;
}

/* Copy a test key into tmpdir with the given mode; returns its path. */
static char *
copy_key(const char *name, const char *as, mode_t mode)
{
	char *src = data_path(name), *dst, buf[8192];
	int in, out;
	ssize_t n;

	xasprintf(&dst, "%s/%s", tmpdir, as);
	in = open(src, O_RDONLY);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || out < 0) {
		fprintf(stderr, "cannot copy %s to %s\n", src, dst);
		exit(1);
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			exit(1);
	fchmod(out, mode);
	close(in);
	close(out);
	free(src);
	return dst;
}

static char *
write_file(const char *as, const char *text, mode_t mode)
{
	char *dst;
	int fd;

	xasprintf(&dst, "%s/%s", tmpdir, as);
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(1);
	fchmod(fd, mode);
	close(fd);
	return dst;
}

static int
suite_init(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	free(copy_key("hmac.key", "hmac.key", 0600));
	free(copy_key("hmac256.key", "hmac256.key", 0600));
	free(copy_key("rsa.pem", "rs.pem", 0644));
	free(copy_key("ec256.pem", "ec.pem", 0644));
	free(copy_key("jwks.json", "jwks.json", 0644));
	return 0;
}

static int
suite_clean(void)
{
	char *cmd;

	xasprintf(&cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	free(cmd);
	return 0;
}

/* True when some message in el contains needle. */
static int
has_error(const struct errlist *el, const char *needle)
{
	for (size_t i = 0; i < el->n; i++)
		if (strstr(el->msgs[i], needle) != NULL)
			return 1;
	return 0;
}

static void
test_alg_names(void)
{
	enum keys_alg a;

	CU_ASSERT_EQUAL(keys_alg_from_name("ES512", &a), 0);
	CU_ASSERT_EQUAL(a, KEYS_ALG_ES512);
	CU_ASSERT_EQUAL(keys_alg_from_name("EdDSA", &a), 0);
	CU_ASSERT_EQUAL(a, KEYS_ALG_EDDSA);
	CU_ASSERT_EQUAL(keys_alg_from_name("none", &a), -1);
	CU_ASSERT_EQUAL(keys_alg_from_name("es256", &a), -1);
	CU_ASSERT_EQUAL(keys_alg_from_name("ES256K", &a), -1);
	CU_ASSERT_STRING_EQUAL(keys_alg_name(KEYS_ALG_PS384), "PS384");
	for (int i = 0; i < KEYS_ALG_COUNT; i++) {
		CU_ASSERT_EQUAL(keys_alg_from_name(keys_alg_name((enum keys_alg)i), &a), 0);
		CU_ASSERT_EQUAL(a, (enum keys_alg)i);
	}
}

static void
test_pem(void)
{
	static const struct { const char *file; unsigned algs; int ok; const char *err; } cases[] = {
		{ "rsa.pem", KEYS_ALG_BIT(KEYS_ALG_RS256) | KEYS_ALG_BIT(KEYS_ALG_PS512), 1, NULL },
		{ "rsa.pem", 0, 0, "must pin its algorithms" },
		{ "rsa.pem", KEYS_ALG_BIT(KEYS_ALG_ES256), 0, "cannot be used" },
		{ "rsa.pem", KEYS_ALG_BIT(KEYS_ALG_HS256), 0, "cannot be used" },
		{ "ec256.pem", 0, 1, NULL },
		{ "ec256.pem", KEYS_ALG_BIT(KEYS_ALG_ES256), 1, NULL },
		{ "ec256.pem", KEYS_ALG_BIT(KEYS_ALG_ES384), 0, "cannot be used" },
		{ "ec384.pem", 0, 1, NULL },
		{ "ec521.pem", KEYS_ALG_BIT(KEYS_ALG_ES512), 1, NULL },
		{ "ec521.pem", KEYS_ALG_BIT(KEYS_ALG_RS256), 0, "cannot be used" },
		{ "ed25519.pem", 0, 1, NULL },
		{ "ed25519.pem", KEYS_ALG_BIT(KEYS_ALG_ES256), 0, "cannot be used" },
		{ "k256.pem", 0, 0, "P-256, P-384 or P-521" },
		{ "rsa1024.pem", KEYS_ALG_BIT(KEYS_ALG_RS256), 0, "2048" },
		{ "rsa.key", KEYS_ALG_BIT(KEYS_ALG_RS256), 0, "not a PEM public key" },
		{ "jwks.json", KEYS_ALG_BIT(KEYS_ALG_RS256), 0, "not a PEM public key" },
		{ "missing.pem", KEYS_ALG_BIT(KEYS_ALG_RS256), 0, "cannot open" },
	};
	struct keys *ks = keys_new();
	size_t want = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct errlist el;
		char *p = data_path(cases[i].file);
		errlist_init(&el);
		CU_ASSERT_EQUAL(keys_load_pem(ks, p, "k", cases[i].algs, &el), cases[i].ok ? 0 : -1);
		want += cases[i].ok;
		CU_ASSERT_EQUAL(ks->n, want);
		if (!cases[i].ok) {
			CU_ASSERT_EQUAL(el.n, 1);
			CU_ASSERT(has_error(&el, cases[i].err));
			CU_ASSERT(has_error(&el, p));	/* the file is named */
		}
		errlist_free(&el);
		free(p);
	}
	/* Derived pins. */
	CU_ASSERT_EQUAL(ks->v[1]->algs, KEYS_ALG_BIT(KEYS_ALG_ES256));
	CU_ASSERT_EQUAL(ks->v[3]->algs, KEYS_ALG_BIT(KEYS_ALG_ES384));
	CU_ASSERT_EQUAL(ks->v[5]->algs, KEYS_ALG_BIT(KEYS_ALG_EDDSA));
	CU_ASSERT_EQUAL(ks->v[0]->kind, KEYS_KIND_RSA);
	keys_free(ks);
}

static void
test_hmac_files(void)
{
	struct keys *ks = keys_new();
	struct errlist el;
	char *p;

	errlist_init(&el);
	p = copy_key("hmac.key", "h-600", 0600);
	CU_ASSERT_EQUAL(keys_load_hmac(ks, p, "h", KEYS_ALGS_HMAC, &el), 0);
	CU_ASSERT_EQUAL(ks->v[0]->secret_len, 64);
	free(p);
	p = copy_key("hmac.key", "h-400", 0400);
	CU_ASSERT_EQUAL(keys_load_hmac(ks, p, "h", KEYS_ALGS_HMAC, &el), 0);
	free(p);
	CU_ASSERT_EQUAL(el.n, 0);
	/* Readable (or writable) by group or others: refused. */
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0602, 0620, 0601 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = copy_key("hmac.key", "h-bad", bad[i]);
		CU_ASSERT_EQUAL(keys_load_hmac(ks, p, "h", KEYS_ALGS_HMAC, &el), -1);
		CU_ASSERT(has_error(&el, "accessible by group or others"));
		CU_ASSERT(has_error(&el, p));
		free(p);
	}
	/* Too short for the hash; non-HMAC pins; no pin. */
	p = copy_key("hmac256.key", "h32", 0600);
	CU_ASSERT_EQUAL(keys_load_hmac(ks, p, "h", KEYS_ALG_BIT(KEYS_ALG_HS256), &el), 0);
	CU_ASSERT_EQUAL(keys_load_hmac(ks, p, "h", KEYS_ALG_BIT(KEYS_ALG_HS384), &el), -1);
	CU_ASSERT(has_error(&el, "too short for HS384"));
	CU_ASSERT_EQUAL(keys_load_hmac(ks, p, "h", KEYS_ALG_BIT(KEYS_ALG_RS256), &el), -1);
	CU_ASSERT(has_error(&el, "not RS256"));
	CU_ASSERT_EQUAL(keys_load_hmac(ks, p, "h", 0, &el), -1);
	free(p);
	p = write_file("empty", "", 0600);
	CU_ASSERT_EQUAL(keys_load_hmac(ks, p, "h", KEYS_ALG_BIT(KEYS_ALG_HS256), &el), -1);
	free(p);
	CU_ASSERT_EQUAL(keys_load_hmac(ks, tmpdir, "h", KEYS_ALG_BIT(KEYS_ALG_HS256), &el), -1);
	CU_ASSERT(has_error(&el, "not a regular file"));
	CU_ASSERT_EQUAL(ks->n, 3);
	errlist_free(&el);
	keys_free(ks);
}

static int
jwks_load(struct keys *ks, const char *text, unsigned algs, struct errlist *el)
{
	return keys_load_jwks_buffer(ks, "t.json", text, strlen(text), algs, el);
}

static void
test_jwks_file(void)
{
	struct keys *ks = keys_new();
	struct errlist el;
	char *p = data_path("jwks.json");
	static const char *const kids[] = { "jwks-rs", "jwks-es256", "jwks-es384",
	    "jwks-es512", "jwks-ed", "jwks-hs" };

	errlist_init(&el);
	CU_ASSERT_EQUAL(keys_load_jwks_file(ks, p, 0, &el), 0);
	errlist_print(&el, stderr);
	CU_ASSERT_EQUAL_FATAL(ks->n, 6);
	for (size_t i = 0; i < 6; i++)
		CU_ASSERT_STRING_EQUAL(ks->v[i]->kid, kids[i]);
	CU_ASSERT_EQUAL(ks->v[0]->algs, KEYS_ALG_BIT(KEYS_ALG_RS256));
	CU_ASSERT_EQUAL(ks->v[3]->algs, KEYS_ALG_BIT(KEYS_ALG_ES512));
	CU_ASSERT_EQUAL(ks->v[5]->kind, KEYS_KIND_HMAC);
	CU_ASSERT_EQUAL(ks->v[5]->secret_len, 32);
	CU_ASSERT_EQUAL(keys_load_jwks_file(ks, "/nonexistent/jwks.json", 0, &el), -1);
	CU_ASSERT(has_error(&el, "/nonexistent/jwks.json"));
	free(p);
	errlist_free(&el);
	keys_free(ks);
}

static void
test_jwks_errors(void)
{
	static const struct { const char *jwks; const char *err; } bad[] = {
		{ "[]", "must be an object with a \"keys\" array" },
		{ "{\"keys\":{}}", "must be an object with a \"keys\" array" },
		{ "{\"keys\":[1]}", "/keys/0: must be an object" },
		{ "{\"keys\":[{\"kid\":\"a\"}]}", "missing \"kty\"" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}",
		    "must be 32 bytes" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
		    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
		    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}]}", "base64url" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
		    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
		    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4\"}]}", "invalid EC key" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AA\",\"y\":\"AA\"}]}",
		    "P-256, P-384 or P-521" },
		{ "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\","
		    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
		    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}", "cannot be used" },
		{ "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"e\":\"AQAB\"}]}", "missing \"n\"" },
		{ "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
		    "" },
		{ "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"AQ==\",\"e\":\"AQAB\"}]}",
		    "base64url" },
		{ "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"AAAA\"}]}", "too short" },
		{ "{\"keys\":[{\"kty\":\"oct\",\"k\":\"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg\"}]}",
		    "HS256, HS384 or HS512" },
		{ "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"RS256\","
		    "\"k\":\"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg\"}]}", "HS256, HS384 or HS512" },
		{ "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}", "32 bytes" },
		{ "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":7,"
		    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}", "/keys/0/kid" },
		{ "{\"keys\":[], \"keys\":[]}", "t.json:1:" },
		{ "{\"keys\":[", "t.json:1:" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct keys *ks = keys_new();
		struct errlist el;
		errlist_init(&el);
		CU_ASSERT_EQUAL(jwks_load(ks, bad[i].jwks, 0, &el), -1);
		CU_ASSERT(el.n >= 1);
		if (!has_error(&el, bad[i].err)) {
			fprintf(stderr, "case %zu: want \"%s\", got:\n", i, bad[i].err);
			errlist_print(&el, stderr);
			CU_FAIL("error message");
		}
		CU_ASSERT(has_error(&el, "t.json"));
		CU_ASSERT_EQUAL(ks->n, 0);
		errlist_free(&el);
		keys_free(ks);
	}
}

static void
test_jwks_skips_and_all_errors(void)
{
	struct keys *ks = keys_new();
	struct errlist el;

	errlist_init(&el);
	/* Encryption keys, unknown algorithms, X25519 and unknown kty are
	 * skipped; the one Ed25519 signing key is loaded. */
	CU_ASSERT_EQUAL(jwks_load(ks, "{\"keys\":["
	    "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
	    "{\"kty\":\"RSA\",\"alg\":\"RSA-OAEP\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
	    "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"},"
	    "{\"kty\":\"PQC\",\"x\":\"AAAA\"},"
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\",\"use\":\"sig\",\"x5t\":\"zz\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}],\"extra\":1}", 0, &el), 0);
	CU_ASSERT_EQUAL(el.n, 0);
	CU_ASSERT_EQUAL_FATAL(ks->n, 1);
	CU_ASSERT_STRING_EQUAL(ks->v[0]->kid, "ed");
	CU_ASSERT_EQUAL(ks->v[0]->algs, KEYS_ALG_BIT(KEYS_ALG_EDDSA));
	/* Two bad keys: both reported, nothing added (all or nothing). */
	CU_ASSERT_EQUAL(jwks_load(ks, "{\"keys\":["
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}]}", 0, &el), -1);
	CU_ASSERT_EQUAL(el.n, 2);
	CU_ASSERT(has_error(&el, "/keys/1"));
	CU_ASSERT(has_error(&el, "/keys/2"));
	CU_ASSERT_EQUAL(ks->n, 1);
	/* Config-given algs apply to JWKs without "alg". */
	CU_ASSERT_EQUAL(jwks_load(ks, "{\"keys\":[{\"kty\":\"oct\","
	    "\"k\":\"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg\"}]}",
	    KEYS_ALG_BIT(KEYS_ALG_HS256), &el), 0);
	CU_ASSERT_EQUAL(ks->n, 2);
	CU_ASSERT_EQUAL(ks->v[1]->algs, KEYS_ALG_BIT(KEYS_ALG_HS256));
	errlist_free(&el);
	keys_free(ks);
}

/* ---- token_config ---- */

static struct token_config *
parse_tokens(const char *json, struct errlist *el)
{
	struct jsonconf jc = { "conf.json", el };
	struct token_config *tc;
	json_t *root = jsonconf_load_buffer(&jc, json, strlen(json));

	if (root == NULL)
		return NULL;
	tc = token_config_parse(&jc, json_object_get(root, "tokens"), "/tokens", tmpdir);
	json_decref(root);
	return tc;
}

static void
test_config_ok(void)
{
	struct errlist el;
	struct token_config *tc, *tc2;

	errlist_init(&el);
	tc = parse_tokens("{\"tokens\":{"
	    "\"keys\":[{\"file\":\"rs.pem\",\"kid\":\"rs1\",\"algs\":[\"RS256\",\"PS256\"]},"
	    "{\"file\":\"hmac.key\",\"kid\":\"h1\",\"algs\":[\"HS256\"],\"type\":\"hmac\"},"
	    "{\"file\":\"ec.pem\",\"type\":\"pem\"},"
	    "{\"jwks\":\"jwks.json\"}],"
	    "\"issuers\":[\"https://issuer.example\"],\"audiences\":\"scopegate\","
	    "\"require_exp\":false,\"leeway_s\":5,\"max_token_bytes\":4096,"
	    "\"scope_claim\":\"realm.scopes\",\"scope_format\":\"array\",\"id_claim\":\"sub\","
	    "\"cache_size\":10,\"max_untagged_tries\":2}}", &el);
	errlist_print(&el, stderr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
	CU_ASSERT_EQUAL(tc->keys->n, 9);
	CU_ASSERT_STRING_EQUAL(tc->keys->v[0]->kid, "rs1");
	CU_ASSERT_EQUAL(tc->keys->v[0]->algs,
	    KEYS_ALG_BIT(KEYS_ALG_RS256) | KEYS_ALG_BIT(KEYS_ALG_PS256));
	CU_ASSERT_PTR_NULL(tc->keys->v[2]->kid);
	CU_ASSERT_EQUAL(tc->opts.nissuers, 1);
	CU_ASSERT_STRING_EQUAL(tc->opts.issuers[0], "https://issuer.example");
	CU_ASSERT_EQUAL(tc->opts.naudiences, 1);
	CU_ASSERT_STRING_EQUAL(tc->opts.audiences[0], "scopegate");
	CU_ASSERT_EQUAL(tc->opts.require_exp, 0);
	CU_ASSERT_EQUAL(tc->opts.leeway_s, 5);
	CU_ASSERT_EQUAL(tc->opts.max_token_bytes, 4096);
	CU_ASSERT_STRING_EQUAL(tc->opts.scope_claim, "realm.scopes");
	CU_ASSERT_EQUAL(tc->opts.scope_format, JWT_SCOPE_ARRAY);
	CU_ASSERT_STRING_EQUAL(tc->opts.id_claim, "sub");
	CU_ASSERT_EQUAL(tc->cache_size, 10);
	CU_ASSERT_EQUAL(tc->opts.max_untagged_tries, 2);
	CU_ASSERT_EQUAL(el.n, 0);

	/* Defaults. */
	tc2 = parse_tokens("{\"tokens\":{\"keys\":[{\"file\":\"ec.pem\"}]}}", &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tc2);
	CU_ASSERT_EQUAL(tc2->opts.require_exp, 1);
	CU_ASSERT_EQUAL(tc2->opts.leeway_s, 30);
	CU_ASSERT_EQUAL(tc2->opts.max_token_bytes, 8192);
	CU_ASSERT_STRING_EQUAL(tc2->opts.scope_claim, "scope");
	CU_ASSERT_EQUAL(tc2->opts.scope_format, JWT_SCOPE_EITHER);
	CU_ASSERT_STRING_EQUAL(tc2->opts.id_claim, "jti");
	CU_ASSERT_EQUAL(tc2->cache_size, 65536);
	CU_ASSERT_EQUAL(tc2->opts.max_untagged_tries, 4);
	CU_ASSERT_EQUAL(tc2->opts.nissuers, 0);
	CU_ASSERT_NOT_EQUAL(tc->generation, tc2->generation);
	token_config_free(tc);
	token_config_free(tc2);
	errlist_free(&el);
}

static void
test_config_errors(void)
{
	struct errlist el;
	struct token_config *tc;
	char *p = copy_key("hmac.key", "open.key", 0644);

	free(p);
	errlist_init(&el);
	tc = parse_tokens("{\"tokens\":{"
	    "\"keys\":[{\"file\":\"rs.pem\",\"kid\":\"rs1\",\"algs\":[\"RS256\",\"none\"]},"
	    "{\"file\":\"open.key\",\"kid\":\"h1\",\"algs\":[\"HS256\"],\"type\":\"hmac\"},"
	    "{\"file\":\"nope.pem\",\"algs\":[\"ES256\"]},"
	    "{\"file\":\"ec.pem\",\"jwks\":\"jwks.json\"},"
	    "{\"file\":\"ec.pem\",\"colour\":\"red\"},"
	    "{\"jwks\":\"jwks.json\",\"kid\":\"x\"}],"
	    "\"issuers\":[\"\"],\"audiences\":7,\"leeway_s\":-1,\"max_token_bytes\":10,"
	    "\"scope_format\":\"list\",\"cache_size\":\"big\",\"max_untagged_tries\":0,"
	    "\"require_exp\":\"yes\",\"bogus\":1}}", &el);
	CU_ASSERT_PTR_NULL(tc);
	CU_ASSERT(has_error(&el, "conf.json: /tokens/keys/0/algs/1: unknown algorithm"));
	CU_ASSERT(has_error(&el, "/tokens/keys/1"));
	CU_ASSERT(has_error(&el, "open.key: secret file is accessible by group or others"));
	CU_ASSERT(has_error(&el, "nope.pem: cannot open"));
	CU_ASSERT(has_error(&el, "/tokens/keys/3: needs exactly one of"));
	CU_ASSERT(has_error(&el, "/tokens/keys/4/colour: unknown key"));
	CU_ASSERT(has_error(&el, "/tokens/keys/5: a \"jwks\" entry"));
	CU_ASSERT(has_error(&el, "/tokens/issuers/0: must be a non-empty string"));
	CU_ASSERT(has_error(&el, "/tokens/audiences: must be"));
	CU_ASSERT(has_error(&el, "/tokens/leeway_s: must be between"));
	CU_ASSERT(has_error(&el, "/tokens/max_token_bytes: must be between"));
	CU_ASSERT(has_error(&el, "/tokens/scope_format: must be"));
	CU_ASSERT(has_error(&el, "/tokens/cache_size: must be an integer"));
	CU_ASSERT(has_error(&el, "/tokens/max_untagged_tries: must be between"));
	CU_ASSERT(has_error(&el, "/tokens/require_exp: must be a boolean"));
	CU_ASSERT(has_error(&el, "/tokens/bogus: unknown key"));
	errlist_free(&el);

	errlist_init(&el);
	CU_ASSERT_PTR_NULL(parse_tokens("{\"tokens\":{\"keys\":[]}}", &el));
	CU_ASSERT(has_error(&el, "/tokens/keys: at least one key"));
	CU_ASSERT_PTR_NULL(parse_tokens("{\"tokens\":{}}", &el));
	CU_ASSERT(has_error(&el, "missing required key \"keys\""));
	CU_ASSERT_PTR_NULL(parse_tokens("{\"tokens\":[]}", &el));
	CU_ASSERT(has_error(&el, "/tokens: must be an object"));
	CU_ASSERT_PTR_NULL(parse_tokens("{\"tokens\":{\"keys\":[{\"file\":\"rs.pem\"}]}}", &el));
	CU_ASSERT(has_error(&el, "must pin its algorithms"));
	errlist_free(&el);
}

/* ---- verification paths (prepared templates, DER conversion) ---- */

/* keys_verify through the prepared templates and, with the templates
 * hidden, through the set-up-every-time path; both must agree. Returns
 * the common answer, or 99 when they differ. */
static int
verify_both(const struct keys *ks, struct keys_entry *k, enum keys_alg alg,
    const unsigned char *msg, size_t msglen, const unsigned char *sig,
    size_t siglen)
{
	struct keys_prep *prep = k->prep;
	int a, b;

	CU_ASSERT_PTR_NOT_NULL(prep);
	a = keys_verify(ks, k, alg, msg, msglen, sig, siglen);
	k->prep = NULL;
	b = keys_verify(ks, k, alg, msg, msglen, sig, siglen);
	k->prep = prep;
	return a == b ? a : 99;
}

static void
test_hmac_against_openssl(void)
{
	static const size_t lens[] = { 64, 65, 100, 127, 128, 129, 131, 300, 4096 };
	static const enum keys_alg hs[] = { KEYS_ALG_HS256, KEYS_ALG_HS384, KEYS_ALG_HS512 };
	static const char *const rfc4231_6[] = {
		"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
		"4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
		"0c2ef6ab4030fe8296248df163f44952",
		"80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
		"6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
	};
	const char *msg6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	unsigned char secret[4096], msg[333], mac[EVP_MAX_MD_SIZE];
	struct keys *ks = keys_new();
	struct errlist el;
	unsigned maclen;
	int n = 0;

	errlist_init(&el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ks);
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (unsigned char)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 13 + 1);
	/* Keys shorter than, equal to and longer than the 64- and 128-byte
	 * blocks (a longer key is hashed first, RFC 2104), and messages of
	 * every length around a block: the prepared HMAC must agree with
	 * OpenSSL's HMAC() byte for byte. */
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(keys_add_hmac(ks, "mem", NULL, KEYS_ALGS_HMAC,
		    secret, lens[i], &el), 0);
		struct keys_entry *k = ks->v[ks->n - 1];
		for (size_t a = 0; a < 3; a++) {
			const EVP_MD *md = a == 0 ? EVP_sha256() : a == 1 ? EVP_sha384() : EVP_sha512();
			for (size_t m = 0; m <= sizeof(msg); m += 37) {
				CU_ASSERT_PTR_NOT_NULL_FATAL(HMAC(md, secret, (int)lens[i],
				    msg, m, mac, &maclen));
				CU_ASSERT_EQUAL(verify_both(ks, k, hs[a], msg, m, mac, maclen), 1);
				mac[maclen - 1] ^= 1;
				CU_ASSERT_EQUAL(verify_both(ks, k, hs[a], msg, m, mac, maclen), 0);
				mac[maclen - 1] ^= 1;
				CU_ASSERT_EQUAL(verify_both(ks, k, hs[a], msg, m, mac, maclen - 1), 0);
				n++;
			}
		}
	}
	CU_ASSERT(n > 200);
	/* RFC 4231 test case 6: 131 bytes of 0xaa. */
	memset(secret, 0xaa, 131);
	CU_ASSERT_EQUAL_FATAL(keys_add_hmac(ks, "rfc4231", NULL, KEYS_ALGS_HMAC,
	    secret, 131, &el), 0);
	for (size_t a = 0; a < 3; a++) {
		size_t len = strlen(rfc4231_6[a]) / 2;
		for (size_t i = 0; i < len; i++) {
			unsigned v;
			sscanf(rfc4231_6[a] + 2 * i, "%2x", &v);
			mac[i] = (unsigned char)v;
		}
		CU_ASSERT_EQUAL(verify_both(ks, ks->v[ks->n - 1], hs[a],
		    (const unsigned char *)msg6, strlen(msg6), mac, len), 1);
	}
	errlist_free(&el);
	keys_free(ks);
}

/* Sign with key file priv for alg until signatures whose R or S starts
 * with a zero byte (shortened INTEGER) and with the top bit set (INTEGER
 * with a 0x00 prefix) have been seen, checking every one through both
 * paths, and tampered copies as refused. */
static void
check_ecdsa_forms(const char *priv, const char *pub, enum keys_alg alg, size_t n)
{
	char *pp = data_path(priv), *pk = data_path(pub);
	struct keys *ks = keys_new();
	struct keys_signer *s;
	struct errlist el;
	unsigned char *sig, msg[32];
	size_t siglen;
	int zero = 0, high = 0, both_zero = 0;

	errlist_init(&el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ks);
	s = keys_signer_load(pp, alg, &el);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(keys_load_pem(ks, pk, NULL, 0, &el), 0);
	/* Bounded: with random signatures, all forms show up within a few
	 * hundred (the rarest, zero then top bit, has odds 1/256 per try). */
	for (int i = 0; i < 10000 && !(n == 66 ? zero : zero && high && both_zero); i++) {
		snprintf((char *)msg, sizeof(msg), "message %d", i);
		CU_ASSERT_EQUAL_FATAL(keys_signer_sign(s, msg, sizeof(msg), &sig, &siglen), 0);
		CU_ASSERT_EQUAL_FATAL(siglen, 2 * n);
		zero |= sig[0] == 0 || sig[n] == 0;
		both_zero |= (sig[0] == 0 && sig[1] >= 0x80) ||
		    (sig[n] == 0 && sig[n + 1] >= 0x80);
		high |= sig[0] >= 0x80 || sig[n] >= 0x80;
		CU_ASSERT_EQUAL(verify_both(ks, ks->v[0], alg, msg, sizeof(msg), sig, siglen), 1);
		sig[siglen - 1] ^= 1;
		CU_ASSERT_EQUAL(verify_both(ks, ks->v[0], alg, msg, sizeof(msg), sig, siglen), 0);
		free(sig);
	}
	/* P-521 coordinates are 66 bytes for 521 bits: the top bit is never
	 * set, and a zero first byte is common. */
	CU_ASSERT(zero);
	CU_ASSERT(n == 66 ? !high : high && both_zero);
	keys_signer_free(s);
	keys_free(ks);
	errlist_free(&el);
	free(pp);
	free(pk);
}

static void
test_ecdsa_der_conversion(void)
{
	check_ecdsa_forms("ec256.key", "ec256.pem", KEYS_ALG_ES256, 32);
	check_ecdsa_forms("ec521.key", "ec521.pem", KEYS_ALG_ES512, 66);
}

/* Every asymmetric kind verifies through a prepared template, and agrees
 * with the unprepared path on good and bad signatures. */
static void
test_prepared_asymmetric(void)
{
	static const struct { const char *priv, *pub; enum keys_alg alg; } c[] = {
		{ "rsa.key", "rsa.pem", KEYS_ALG_RS256 },
		{ "rsa.key", "rsa.pem", KEYS_ALG_RS512 },
		{ "rsa.key", "rsa.pem", KEYS_ALG_PS256 },
		{ "rsa.key", "rsa.pem", KEYS_ALG_PS384 },
		{ "ec384.key", "ec384.pem", KEYS_ALG_ES384 },
		{ "ed25519.key", "ed25519.pem", KEYS_ALG_EDDSA },
	};
	const unsigned char msg[] = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9";

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *pp = data_path(c[i].priv), *pk = data_path(c[i].pub);
		struct keys *ks = keys_new();
		struct keys_signer *s;
		struct errlist el;
		unsigned char *sig;
		size_t siglen;

		errlist_init(&el);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ks);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s = keys_signer_load(pp, c[i].alg, &el));
		/* RSA pins every RS and PS algorithm: one template each. */
		CU_ASSERT_EQUAL_FATAL(keys_load_pem(ks, pk, NULL,
		    keys_alg_kind(c[i].alg) == KEYS_KIND_RSA ? 0x1f8 : 0, &el), 0);
		CU_ASSERT_EQUAL_FATAL(keys_signer_sign(s, msg, sizeof(msg) - 1, &sig, &siglen), 0);
		CU_ASSERT_EQUAL(verify_both(ks, ks->v[0], c[i].alg, msg, sizeof(msg) - 1,
		    sig, siglen), 1);
		CU_ASSERT_EQUAL(verify_both(ks, ks->v[0], c[i].alg, msg, sizeof(msg) - 2,
		    sig, siglen), 0);
		if (keys_alg_kind(c[i].alg) == KEYS_KIND_RSA)	/* another padding */
			CU_ASSERT_EQUAL(verify_both(ks, ks->v[0], c[i].alg < KEYS_ALG_PS256 ?
			    c[i].alg + 3 : c[i].alg - 3, msg, sizeof(msg) - 1, sig, siglen), 0);
		sig[0] ^= 0x40;
		CU_ASSERT_EQUAL(verify_both(ks, ks->v[0], c[i].alg, msg, sizeof(msg) - 1,
		    sig, siglen), 0);
		free(sig);
		keys_signer_free(s);
		keys_free(ks);
		errlist_free(&el);
		free(pp);
		free(pk);
	}
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("keys", suite_init, suite_clean);
	CU_add_test(s, "algorithm names", test_alg_names);
	CU_add_test(s, "PEM public keys", test_pem);
	CU_add_test(s, "HMAC secret files", test_hmac_files);
	CU_add_test(s, "JWKS file", test_jwks_file);
	CU_add_test(s, "JWKS errors", test_jwks_errors);
	CU_add_test(s, "JWKS skips, all errors", test_jwks_skips_and_all_errors);
	CU_add_test(s, "tokens config", test_config_ok);
	CU_add_test(s, "tokens config errors", test_config_errors);
	CU_add_test(s, "prepared HMAC against HMAC()", test_hmac_against_openssl);
	CU_add_test(s, "ECDSA raw to DER", test_ecdsa_der_conversion);
	CU_add_test(s, "prepared RSA, EC, Ed25519", test_prepared_asymmetric);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
