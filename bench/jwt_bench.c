/* jwt_bench.c: verifications per second for every algorithm, cold (full
 * parse + signature + claims) and from the token cache. Keys come from
 * tests/data/keys under $top_srcdir (or "."). Usage: jwt_bench [seconds] */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errlist.h"
#include "jwt.h"
#include "keys.h"
#include "tokencache.h"
#include "xmalloc.h"

static const struct {
	enum keys_alg alg;
	const char *priv;
	const char *pub;
} cases[] = {
	{ KEYS_ALG_HS256, "hmac.key", NULL }, { KEYS_ALG_HS512, "hmac.key", NULL },
	{ KEYS_ALG_RS256, "rsa.key", "rsa.pem" }, { KEYS_ALG_PS256, "rsa.key", "rsa.pem" },
	{ KEYS_ALG_ES256, "ec256.key", "ec256.pem" }, { KEYS_ALG_ES384, "ec384.key", "ec384.pem" },
	{ KEYS_ALG_ES512, "ec521.key", "ec521.pem" }, { KEYS_ALG_EDDSA, "ed25519.key", "ed25519.pem" },
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Copy a secret into a private temporary file (git keeps no modes). */
static char *
private_copy(const char *src)
{
	char *dst = xstrdup("/tmp/sg-bench-keyXXXXXX"), buf[4096];
	int in = open(src, O_RDONLY), out = mkstemp(dst);
	ssize_t n;

	if (in < 0 || out < 0)
		return NULL;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return NULL;
	fchmod(out, 0600);
	close(in);
	close(out);
	return dst;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	struct errlist el;
	int rc = 0;

	errlist_init(&el);
	printf("%-6s %14s %14s\n", "alg", "cold/s", "cached/s");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct keys *ks = keys_new();
		struct keys_signer *s;
		struct tokencache *c = tokencache_new(16);
		struct jwt_opts o;
		char *priv, *pub = NULL, *tok, hdr[64];
		const char *payload = "{\"exp\":4000000000,\"sub\":\"bench\",\"jti\":\"b1\","
		    "\"scope\":\"all.User all.Organization applicationApiToken.delete\"}";
		unsigned long n;
		double t0, cold, cached;

		xasprintf(&priv, "%s/tests/data/keys/%s", top ? top : ".", cases[i].priv);
		if (cases[i].pub == NULL) {
			char *p = private_copy(priv);
			free(priv);
			priv = p;
		} else
			xasprintf(&pub, "%s/tests/data/keys/%s", top ? top : ".", cases[i].pub);
		if (priv == NULL || (s = keys_signer_load(priv, cases[i].alg, &el)) == NULL ||
		    (pub ? keys_load_pem(ks, pub, "k", KEYS_ALG_BIT(cases[i].alg), &el) :
		    keys_load_hmac(ks, priv, "k", KEYS_ALG_BIT(cases[i].alg), &el)) != 0) {
			errlist_print(&el, stderr);
			return 1;
		}
		if (cases[i].pub == NULL)
			unlink(priv);
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"k\"}",
		    keys_alg_name(cases[i].alg));
		tok = jwt_sign_raw(s, hdr, strlen(hdr), payload, strlen(payload));
		jwt_opts_init(&o);

		t0 = now_s();
		for (n = 0; now_s() - t0 < secs; n++) {
			struct jwt_result *r;
			if (jwt_verify(ks, &o, tok, strlen(tok), 1700000000, &r) != JWT_OK) {
				fprintf(stderr, "verify failed\n");
				rc = 1;
				break;
			}
			jwt_result_free(r);
		}
		cold = (double)n / (now_s() - t0);

		{
			struct jwt_result *r;
			jwt_verify(ks, &o, tok, strlen(tok), 1700000000, &r);
			tokencache_insert(c, tok, strlen(tok), r);
		}
		t0 = now_s();
		for (n = 0; now_s() - t0 < secs; n++)
			if (tokencache_lookup(c, tok, strlen(tok), 1700000000) == NULL) {
				rc = 1;
				break;
			}
		cached = (double)n / (now_s() - t0);
		printf("%-6s %14.0f %14.0f\n", keys_alg_name(cases[i].alg), cold, cached);

		tokencache_free(c);
		free(tok);
		free(priv);
		free(pub);
		keys_signer_free(s);
		keys_free(ks);
	}
	errlist_free(&el);
	return rc;
}
