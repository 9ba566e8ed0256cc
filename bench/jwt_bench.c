/* jwt_bench.c: verifications per second for every algorithm, cold (full
 * parse + signature + claims) and from the token cache. Keys come from
 * tests/data/keys under $top_srcdir (or ".").
 *
 * Usage: jwt_bench [seconds]
 *        jwt_bench --fresh [-n tokens] [-a alg] [seconds]
 *
 * --fresh mints n distinct tokens (distinct jti) per algorithm and verifies
 * each of them in turn, as a gateway does when every request carries a new
 * token: "fresh/s" without any cache, "fresh+cache/s" also inserting every
 * result into a full token cache (so each insert evicts). -a restricts the
 * run to one algorithm, e.g. under
 *   valgrind --tool=callgrind --toggle-collect=jwt_verify \
 *       bench/jwt_bench --fresh -n 200 -a ES256 0
 * where the instruction count divided by n is the cost of one verification
 * (seconds 0 = one pass over the tokens). */
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

/* Load the signer and verification key of case i into *s and ks. */
static int
load_case(size_t i, const char *top, struct keys *ks, struct keys_signer **s,
    struct errlist *el)
{
	char *priv, *pub = NULL;
	int rc = -1;

	xasprintf(&priv, "%s/tests/data/keys/%s", top ? top : ".", cases[i].priv);
	if (cases[i].pub == NULL) {
		char *p = private_copy(priv);
		free(priv);
		priv = p;
	} else
		xasprintf(&pub, "%s/tests/data/keys/%s", top ? top : ".", cases[i].pub);
	if (priv != NULL && (*s = keys_signer_load(priv, cases[i].alg, el)) != NULL &&
	    (pub ? keys_load_pem(ks, pub, "k", KEYS_ALG_BIT(cases[i].alg), el) :
	    keys_load_hmac(ks, priv, "k", KEYS_ALG_BIT(cases[i].alg), el)) == 0)
		rc = 0;
	if (priv != NULL && cases[i].pub == NULL)
		unlink(priv);
	free(priv);
	free(pub);
	return rc;
}

/* Mint a token for case i whose jti is jti. The caller frees. */
static char *
mint(const struct keys_signer *s, size_t i, unsigned long jti)
{
	char hdr[64], payload[256];

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"k\"}",
	    keys_alg_name(cases[i].alg));
	snprintf(payload, sizeof(payload), "{\"exp\":4000000000,\"sub\":\"bench\","
	    "\"jti\":\"b%lu\",\"scope\":\"all.User all.Organization "
	    "applicationApiToken.delete\"}", jti);
	return jwt_sign_raw(s, hdr, strlen(hdr), payload, strlen(payload));
}

/* Verify every token of toks in turn, for at least secs seconds (one pass
 * when secs is 0), inserting each result into c when c is not NULL.
 * Returns verifications per second, or -1 when one fails. */
static double
run_fresh(const struct keys *ks, const struct jwt_opts *o, char **toks,
    size_t ntoks, struct tokencache *c, double secs)
{
	double t0 = now_s();
	unsigned long n = 0;

	do {
		for (size_t j = 0; j < ntoks; j++, n++) {
			struct jwt_result *r;
			size_t len = strlen(toks[j]);
			if (jwt_verify(ks, o, toks[j], len, 1700000000, &r) != JWT_OK)
				return -1;
			if (c != NULL)
				tokencache_insert(c, toks[j], len, r);
			else
				jwt_result_free(r);
		}
	} while (now_s() - t0 < secs);
	return (double)n / (now_s() - t0);
}

/* The --fresh mode: distinct tokens, no cache hits. */
static int
bench_fresh(const char *top, size_t ntoks, const char *only, double secs)
{
	struct errlist el;
	int rc = 0;

	errlist_init(&el);
	printf("%-6s %14s %14s\n", "alg", "fresh/s", "fresh+cache/s");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && rc == 0; i++) {
		struct keys *ks;
		struct keys_signer *s = NULL;
		struct tokencache *c;
		struct jwt_opts o;
		double plain, cached;
		char **toks;

		if (only != NULL && strcmp(only, keys_alg_name(cases[i].alg)) != 0)
			continue;
		ks = keys_new();
		if (ks == NULL || load_case(i, top, ks, &s, &el) != 0) {
			errlist_print(&el, stderr);
			return 1;
		}
		toks = xcalloc(ntoks, sizeof(*toks));
		for (size_t j = 0; j < ntoks; j++)
			if ((toks[j] = mint(s, i, j)) == NULL) {
				fprintf(stderr, "signing failed\n");
				return 1;
			}
		jwt_opts_init(&o);
		/* The cache holds a quarter of the tokens: every insert of a
		 * fresh token evicts the oldest one, as under a flood. */
		c = tokencache_new(ntoks / 4 ? ntoks / 4 : 1);
		plain = run_fresh(ks, &o, toks, ntoks, NULL, secs);
		cached = run_fresh(ks, &o, toks, ntoks, c, secs);
		if (plain < 0 || cached < 0) {
			fprintf(stderr, "%s: verify failed\n", keys_alg_name(cases[i].alg));
			rc = 1;
		} else
			printf("%-6s %14.0f %14.0f\n", keys_alg_name(cases[i].alg), plain, cached);
		tokencache_free(c);
		for (size_t j = 0; j < ntoks; j++)
			free(toks[j]);
		free(toks);
		keys_signer_free(s);
		keys_free(ks);
	}
	errlist_free(&el);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir"), *only = NULL;
	double secs = 0.5;
	size_t ntoks = 1000;
	struct errlist el;
	int rc = 0, fresh = 0, ch;

	if (argc > 1 && strcmp(argv[1], "--fresh") == 0) {
		fresh = 1;
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	while ((ch = getopt(argc, argv, "a:n:")) != -1) {
		switch (ch) {
		case 'a':
			only = optarg;
			break;
		case 'n':
			ntoks = (size_t)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: jwt_bench [--fresh] [-n tokens] "
			    "[-a alg] [seconds]\n");
			return 2;
		}
	}
	if (optind < argc)
		secs = atof(argv[optind]);
	if (fresh)
		return bench_fresh(top, ntoks ? ntoks : 1, only, secs);

	errlist_init(&el);
	printf("%-6s %14s %14s\n", "alg", "cold/s", "cached/s");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct keys *ks = keys_new();
		struct keys_signer *s = NULL;
		struct tokencache *c = tokencache_new(16);
		struct jwt_opts o;
		char *tok;
		unsigned long n;
		double t0, cold, cached;

		if (only != NULL && strcmp(only, keys_alg_name(cases[i].alg)) != 0) {
			tokencache_free(c);
			keys_free(ks);
			continue;
		}
		if (ks == NULL || load_case(i, top, ks, &s, &el) != 0) {
			errlist_print(&el, stderr);
			return 1;
		}
		tok = mint(s, i, 1);
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
		keys_signer_free(s);
		keys_free(ks);
	}
	errlist_free(&el);
	return rc;
}
