/* token_tool.c: scopegate-token, mint a signed JWT from a private key (PEM
 * RSA/EC/Ed25519) or an HMAC secret file, for demos and tests. There is no
 * way to make an unsigned ("none") token. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "errlist.h"
#include "jwt.h"
#include "keys.h"
#include "xmalloc.h"

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: scopegate-token --key FILE --alg ALG [--kid K] [--sub S] [--jti J]\n"
	    "           [--iss I] [--aud A]... [--scope \"a b c\" | --scope-array a,b,c]\n"
	    "           [--scope-claim NAME] [--exp-in SECONDS | --no-exp] [--nbf-in S]\n"
	    "           [--iat-offset S | --no-iat] [--claim name=JSON]... [--now T]\n"
	    "           [--header-json '{...}'] [--raw-payload '...']\n"
	    "ALG: HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512\n"
	    "     ES256 ES384 ES512 EdDSA (HS* take a secret file with mode 0600)\n");
	exit(status);
}

/* Parse a signed decimal integer option or exit. */
static int64_t
num_arg(const char *opt, const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "scopegate-token: %s: not an integer: %s\n", opt, s);
		exit(2);
	}
	return v;
}

/* Set a claim; a dotted name ("realm.scopes") creates nested objects. */
static void
set_claim(json_t *payload, const char *name, json_t *value)
{
	char *copy = xstrdup(name), *dot, *seg = copy;
	json_t *obj = payload, *child;

	while ((dot = strchr(seg, '.')) != NULL && dot != seg && dot[1] != '\0') {
		*dot = '\0';
		if ((child = json_object_get(obj, seg)) == NULL || !json_is_object(child)) {
			child = json_object();
			json_object_set_new(obj, seg, child);
		}
		obj = child;
		seg = dot + 1;
	}
	json_object_set_new(obj, seg, value);
	free(copy);
}

int
main(int argc, char **argv)
{
	enum {
		O_KEY = 256, O_ALG, O_KID, O_SUB, O_JTI, O_ISS, O_AUD, O_SCOPE,
		O_SCOPE_ARRAY, O_SCOPE_CLAIM, O_EXP_IN, O_NO_EXP, O_NBF_IN,
		O_IAT_OFFSET, O_NO_IAT, O_CLAIM, O_NOW, O_HEADER_JSON, O_RAW_PAYLOAD,
		O_HELP, O_NONE,
	};
	static const struct option opts[] = {
		{ "key", required_argument, NULL, O_KEY },
		{ "alg", required_argument, NULL, O_ALG },
		{ "kid", required_argument, NULL, O_KID },
		{ "sub", required_argument, NULL, O_SUB },
		{ "jti", required_argument, NULL, O_JTI },
		{ "iss", required_argument, NULL, O_ISS },
		{ "aud", required_argument, NULL, O_AUD },
		{ "scope", required_argument, NULL, O_SCOPE },
		{ "scope-array", required_argument, NULL, O_SCOPE_ARRAY },
		{ "scope-claim", required_argument, NULL, O_SCOPE_CLAIM },
		{ "exp-in", required_argument, NULL, O_EXP_IN },
		{ "no-exp", no_argument, NULL, O_NO_EXP },
		{ "nbf-in", required_argument, NULL, O_NBF_IN },
		{ "iat-offset", required_argument, NULL, O_IAT_OFFSET },
		{ "no-iat", no_argument, NULL, O_NO_IAT },
		{ "claim", required_argument, NULL, O_CLAIM },
		{ "now", required_argument, NULL, O_NOW },
		{ "header-json", required_argument, NULL, O_HEADER_JSON },
		{ "raw-payload", required_argument, NULL, O_RAW_PAYLOAD },
		{ "none", no_argument, NULL, O_NONE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *alg_name = NULL, *kid = NULL, *header_json = NULL;
	const char *raw_payload = NULL, *scope_claim = "scope";
	json_t *payload = json_object(), *scope = NULL, *aud = json_array();
	int64_t now = (int64_t)time(NULL), exp_in = 3600, nbf_in = 0, iat_off = 0;
	int no_exp = 0, has_nbf = 0, no_iat = 0, ch, rc = 1;
	struct keys_signer *signer = NULL;
	char *hdr = NULL, *pl = NULL, *tok = NULL;
	json_error_t jerr;
	struct errlist errs;
	enum keys_alg alg;
	json_t *v;

	errlist_init(&errs);
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case O_KEY: key = optarg; break;
		case O_ALG: alg_name = optarg; break;
		case O_KID: kid = optarg; break;
		case O_SUB: json_object_set_new(payload, "sub", json_string(optarg)); break;
		case O_JTI: json_object_set_new(payload, "jti", json_string(optarg)); break;
		case O_ISS: json_object_set_new(payload, "iss", json_string(optarg)); break;
		case O_AUD: json_array_append_new(aud, json_string(optarg)); break;
		case O_SCOPE:
			json_decref(scope);
			scope = json_string(optarg);
			break;
		case O_SCOPE_ARRAY: {
			char *copy = xstrdup(optarg), *save = NULL, *t;
			json_decref(scope);
			scope = json_array();
			for (t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
				json_array_append_new(scope, json_string(t));
			free(copy);
			break;
		}
		case O_SCOPE_CLAIM: scope_claim = optarg; break;
		case O_EXP_IN: exp_in = num_arg("--exp-in", optarg); break;
		case O_NO_EXP: no_exp = 1; break;
		case O_NBF_IN: nbf_in = num_arg("--nbf-in", optarg); has_nbf = 1; break;
		case O_IAT_OFFSET: iat_off = num_arg("--iat-offset", optarg); break;
		case O_NO_IAT: no_iat = 1; break;
		case O_NOW: now = num_arg("--now", optarg); break;
		case O_CLAIM: {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg) {
				fprintf(stderr, "scopegate-token: --claim wants name=JSON\n");
				goto out;
			}
			*eq = '\0';
			if ((v = json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
			    &jerr)) == NULL) {
				fprintf(stderr, "scopegate-token: --claim %s: %s\n", optarg, jerr.text);
				goto out;
			}
			set_claim(payload, optarg, v);
			break;
		}
		case O_HEADER_JSON: header_json = optarg; break;
		case O_RAW_PAYLOAD: raw_payload = optarg; break;
		case O_NONE:
			fprintf(stderr, "scopegate-token: unsigned tokens are not supported\n");
			goto out;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind != argc || key == NULL || alg_name == NULL)
		usage(2);
	if (keys_alg_from_name(alg_name, &alg) != 0) {
		fprintf(stderr, "scopegate-token: unsupported algorithm \"%s\"\n", alg_name);
		goto out;
	}
	if ((signer = keys_signer_load(key, alg, &errs)) == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "scopegate-token: %s\n", errs.msgs[i]);
		goto out;
	}

	if (header_json != NULL)
		hdr = xstrdup(header_json);
	else {
		json_t *h = json_object();
		json_object_set_new(h, "alg", json_string(keys_alg_name(alg)));
		json_object_set_new(h, "typ", json_string("JWT"));
		if (kid != NULL)
			json_object_set_new(h, "kid", json_string(kid));
		hdr = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(h);
	}
	if (raw_payload != NULL)
		pl = xstrdup(raw_payload);
	else {
		/* A --claim given explicitly wins over the computed times. */
		if (!no_iat && json_object_get(payload, "iat") == NULL)
			json_object_set_new(payload, "iat", json_integer(now + iat_off));
		if (!no_exp && json_object_get(payload, "exp") == NULL)
			json_object_set_new(payload, "exp", json_integer(now + exp_in));
		if (has_nbf && json_object_get(payload, "nbf") == NULL)
			json_object_set_new(payload, "nbf", json_integer(now + nbf_in));
		if (json_array_size(aud) == 1)
			json_object_set(payload, "aud", json_array_get(aud, 0));
		else if (json_array_size(aud) > 1)
			json_object_set(payload, "aud", aud);
		if (scope != NULL) {
			set_claim(payload, scope_claim, scope);
			scope = NULL;
		}
		pl = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	}
	if (hdr == NULL || pl == NULL ||
	    (tok = jwt_sign_raw(signer, hdr, strlen(hdr), pl, strlen(pl))) == NULL) {
		fprintf(stderr, "scopegate-token: signing failed\n");
		goto out;
	}
	printf("%s\n", tok);
	rc = 0;
out:
	free(tok);
	free(hdr);
	free(pl);
	json_decref(scope);
	json_decref(aud);
	json_decref(payload);
	keys_signer_free(signer);
	errlist_free(&errs);
	return rc;
}
