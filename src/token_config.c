/* token_config.c: see token_config.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "jwks_fetch.h"
#include "jwks_remote.h"
#include "introspect_parse.h"
#include "token_config.h"
#include "xmalloc.h"

#define TOKEN_MAX_LEEWAY_S		3600
/* 100 years: far beyond any real token, small enough that now plus it
 * never overflows. */
#define TOKEN_MAX_LIFETIME_S		3153600000LL
#define TOKEN_MIN_TOKEN_BYTES		256
#define TOKEN_MAX_TOKEN_BYTES		(1024 * 1024)
#define TOKEN_MAX_CACHE_SIZE		(16 * 1024 * 1024)
#define TOKEN_MAX_UNTAGGED_TRIES	16

static uint64_t token_config_next_generation;

uint64_t
token_config_new_generation(void)
{
	return __atomic_add_fetch(&token_config_next_generation, 1, __ATOMIC_RELAXED);
}

static const struct jsonconf_key tokens_keys[] = {
	{ "keys", JC_ARRAY, 0 },
	{ "issuers", JC_ANY, 0 },
	{ "audiences", JC_ANY, 0 },
	{ "require_exp", JC_BOOLEAN, 0 },
	{ "leeway_s", JC_INTEGER, 0 },
	{ "max_lifetime_s", JC_INTEGER, 0 },
	{ "max_token_bytes", JC_INTEGER, 0 },
	{ "scope_claim", JC_STRING, 0 },
	{ "scope_format", JC_STRING, 0 },
	{ "id_claim", JC_STRING, 0 },
	{ "cache_size", JC_INTEGER, 0 },
	{ "max_untagged_tries", JC_INTEGER, 0 },
	{ "require_id", JC_BOOLEAN, 0 },
	{ "introspection", JC_OBJECT, 0 },
	{ NULL, 0, 0 },
};

static const struct jsonconf_key key_keys[] = {
	{ "file", JC_STRING, 0 },
	{ "jwks", JC_STRING, 0 },
	{ "kid", JC_STRING, 0 },
	{ "algs", JC_ARRAY, 0 },
	{ "type", JC_STRING, 0 },
	{ NULL, 0, 0 },
};

/* Parse a string or an array of non-empty strings into a new vector. */
static int
parse_strings(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *key, char ***out, size_t *n)
{
	json_t *v = json_object_get(obj, key), *e;
	char *p = jsonconf_ptr_key(ptr, key);
	int rc = -1;
	size_t i;

	*out = NULL;
	*n = 0;
	if (v == NULL) {
		rc = 0;
		goto out;
	}
	if (json_is_string(v) && json_string_length(v) > 0 &&
	    strlen(json_string_value(v)) == json_string_length(v)) {
		*out = xcalloc(1, sizeof(**out));
		(*out)[(*n)++] = xstrdup(json_string_value(v));
		rc = 0;
		goto out;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		jsonconf_error(jc, p, "must be a non-empty string or a non-empty array of strings");
		goto out;
	}
	*out = xcalloc(json_array_size(v), sizeof(**out));
	rc = 0;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			char *pe = jsonconf_ptr_index(p, i);
			jsonconf_error(jc, pe, "must be a non-empty string");
			free(pe);
			rc = -1;
			continue;
		}
		(*out)[(*n)++] = xstrdup(json_string_value(e));
	}
out:
	free(p);
	return rc;
}

/* Parse an "algs" array into a bit set (0 when absent). */
static int
parse_algs(struct jsonconf *jc, const json_t *obj, const char *ptr, unsigned *algs)
{
	json_t *v = json_object_get(obj, "algs"), *e;
	char *p = jsonconf_ptr_key(ptr, "algs");
	enum keys_alg a;
	int rc = 0;
	size_t i;

	*algs = 0;
	if (v != NULL && json_array_size(v) == 0) {
		jsonconf_error(jc, p, "must list at least one algorithm");
		rc = -1;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || keys_alg_from_name(json_string_value(e), &a) != 0) {
			char *pe = jsonconf_ptr_index(p, i);
			jsonconf_error(jc, pe, "unknown algorithm (HS256/384/512, RS256/384/512, "
			    "PS256/384/512, ES256/384/512 or EdDSA)");
			free(pe);
			rc = -1;
			continue;
		}
		*algs |= KEYS_ALG_BIT(a);
	}
	free(p);
	return rc;
}

/* Load one entry of "keys". Returns 0 or -1 after reporting. */
static int
parse_key(struct jsonconf *jc, struct keys *ks, const json_t *k, const char *ptr,
    const char *base_dir)
{
	const char *file = NULL, *jwks = NULL, *kid = NULL, *type = NULL;
	struct errlist el;
	unsigned algs;
	char *path = NULL;
	int rc = -1;

	errlist_init(&el);
	if (jsonconf_check_object(jc, k, ptr, key_keys) != 0)
		goto out;
	jsonconf_get_string(jc, k, ptr, "file", NULL, &file);
	jsonconf_get_string(jc, k, ptr, "jwks", NULL, &jwks);
	jsonconf_get_string(jc, k, ptr, "kid", NULL, &kid);
	jsonconf_get_string(jc, k, ptr, "type", NULL, &type);
	if (parse_algs(jc, k, ptr, &algs) != 0)
		goto out;
	if ((file == NULL) == (jwks == NULL)) {
		jsonconf_error(jc, ptr, "needs exactly one of \"file\" or \"jwks\"");
		goto out;
	}
	if (jwks != NULL && (kid != NULL || type != NULL)) {
		jsonconf_error(jc, ptr, "a \"jwks\" entry takes its kids from the JWKS; "
		    "\"kid\" and \"type\" are not allowed");
		goto out;
	}
	if (type != NULL && strcmp(type, "pem") != 0 && strcmp(type, "hmac") != 0) {
		char *p = jsonconf_ptr_key(ptr, "type");
		jsonconf_error(jc, p, "must be \"pem\" or \"hmac\"");
		free(p);
		goto out;
	}
	if (kid != NULL && kid[0] == '\0') {
		char *p = jsonconf_ptr_key(ptr, "kid");
		jsonconf_error(jc, p, "must not be empty");
		free(p);
		goto out;
	}
	path = jsonconf_resolve_path(base_dir, file ? file : jwks);
	if (jwks != NULL)
		rc = keys_load_jwks_file(ks, path, algs, &el);
	else if (type != NULL && strcmp(type, "hmac") == 0)
		rc = keys_load_hmac(ks, path, kid, algs, &el);
	else
		rc = keys_load_pem(ks, path, kid, algs, &el);
	/* Name both the config location and the key file. */
	for (size_t i = 0; i < el.n; i++)
		jsonconf_error(jc, ptr, "%s", el.msgs[i]);
out:
	errlist_free(&el);
	free(path);
	return rc;
}

struct token_config *
token_config_parse(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *base_dir)
{
	struct token_config *tc = xcalloc(1, sizeof(*tc));
	const char *scope_claim, *id_claim, *fmt;
	int64_t leeway, maxbytes, cache, tries, maxlife;
	int require_exp, require_id, bad = 0;
	size_t before = jc->errs->n, i;
	json_t *keys, *k;

	jwt_opts_init(&tc->opts);
	if ((tc->keys = keys_new()) == NULL) {
		jsonconf_error(jc, ptr, "OpenSSL has no HMAC implementation");
		goto fail;
	}
	if (jsonconf_check_object(jc, obj, ptr, tokens_keys) != 0)
		bad = 1;
	if (!json_is_object(obj))
		goto fail;
	bad |= jsonconf_get_bool(jc, obj, ptr, "require_exp", 1, &require_exp) != 0;
	bad |= jsonconf_get_bool(jc, obj, ptr, "require_id", -1, &require_id) != 0;
	bad |= jsonconf_get_int(jc, obj, ptr, "leeway_s", 0, TOKEN_MAX_LEEWAY_S,
	    SG_DEFAULT_CLOCK_LEEWAY_S, &leeway) != 0;
	bad |= jsonconf_get_int(jc, obj, ptr, "max_lifetime_s", 0, TOKEN_MAX_LIFETIME_S,
	    SG_DEFAULT_TOKEN_MAX_LIFETIME_S, &maxlife) != 0;
	bad |= jsonconf_get_int(jc, obj, ptr, "max_token_bytes", TOKEN_MIN_TOKEN_BYTES,
	    TOKEN_MAX_TOKEN_BYTES, SG_DEFAULT_MAX_TOKEN_BYTES, &maxbytes) != 0;
	bad |= jsonconf_get_int(jc, obj, ptr, "cache_size", 0, TOKEN_MAX_CACHE_SIZE,
	    SG_DEFAULT_TOKEN_CACHE_SIZE, &cache) != 0;
	bad |= jsonconf_get_int(jc, obj, ptr, "max_untagged_tries", 1,
	    TOKEN_MAX_UNTAGGED_TRIES, JWT_DEFAULT_MAX_UNTAGGED_TRIES, &tries) != 0;
	bad |= jsonconf_get_string(jc, obj, ptr, "scope_claim", "scope", &scope_claim) != 0;
	bad |= jsonconf_get_string(jc, obj, ptr, "id_claim", "jti", &id_claim) != 0;
	bad |= jsonconf_get_string(jc, obj, ptr, "scope_format", "either", &fmt) != 0;
	bad |= parse_strings(jc, obj, ptr, "issuers", &tc->issuers, &tc->nissuers) != 0;
	bad |= parse_strings(jc, obj, ptr, "audiences", &tc->audiences, &tc->naudiences) != 0;

	if (scope_claim == NULL || scope_claim[0] == '\0' ||
	    id_claim == NULL || id_claim[0] == '\0') {
		jsonconf_error(jc, ptr, "\"scope_claim\" and \"id_claim\" must not be empty");
		bad = 1;
	}
	if (fmt != NULL && strcmp(fmt, "either") == 0)
		tc->opts.scope_format = JWT_SCOPE_EITHER;
	else if (fmt != NULL && strcmp(fmt, "array") == 0)
		tc->opts.scope_format = JWT_SCOPE_ARRAY;
	else if (fmt != NULL && strcmp(fmt, "string") == 0)
		tc->opts.scope_format = JWT_SCOPE_STRING;
	else {
		char *p = jsonconf_ptr_key(ptr, "scope_format");
		jsonconf_error(jc, p, "must be \"array\", \"string\" or \"either\"");
		free(p);
		bad = 1;
	}

	if (json_object_get(obj, "introspection") != NULL) {
		char *p = jsonconf_ptr_key(ptr, "introspection");
		tc->introspection = introspect_spec_parse(jc, json_object_get(obj, "introspection"),
		    p, base_dir);
		free(p);
		bad |= tc->introspection == NULL;
	}
	keys = json_object_get(obj, "keys");
	/* Only opaque tokens (introspection) need no key. */
	if (keys == NULL && tc->introspection == NULL && json_object_get(obj, "introspection") == NULL) {
		jsonconf_error(jc, ptr, "missing required key \"keys\"");
		bad = 1;
	}
	if (json_is_array(keys) && json_array_size(keys) == 0) {
		char *p = jsonconf_ptr_key(ptr, "keys");
		jsonconf_error(jc, p, "at least one key is required");
		free(p);
		bad = 1;
	}
	if (json_is_array(keys)) {
		char *kp = jsonconf_ptr_key(ptr, "keys");
		json_array_foreach(keys, i, k) {
			char *p = jsonconf_ptr_index(kp, i);
			if (jwks_spec_is_remote(k)) {
				/* Fetched at run time (jwks_fetch.c). */
				struct jwks_spec *rs = jwks_spec_parse(jc, k, p, base_dir);
				if (rs == NULL)
					bad = 1;
				else {
					tc->remote = xreallocarray(tc->remote, tc->nremote + 1,
					    sizeof(*tc->remote));
					tc->remote[tc->nremote++] = rs;
				}
			} else if (parse_key(jc, tc->keys, k, p, base_dir) != 0)
				bad = 1;
			free(p);
		}
		if (!bad && tc->keys->n == 0 && tc->nremote == 0) {
			jsonconf_error(jc, kp, "no usable signature key was loaded");
			bad = 1;
		}
		free(kp);
	}
	if (bad || jc->errs->n != before)
		goto fail;

	tc->scope_claim = xstrdup(scope_claim);
	tc->id_claim = xstrdup(id_claim);
	tc->cache_size = (size_t)cache;
	tc->require_id = require_id;
	tc->opts.require_exp = require_exp;
	tc->opts.leeway_s = leeway;
	tc->opts.max_lifetime_s = maxlife;
	tc->opts.max_token_bytes = (size_t)maxbytes;
	tc->opts.max_untagged_tries = (unsigned)tries;
	tc->opts.scope_claim = tc->scope_claim;
	tc->opts.id_claim = tc->id_claim;
	tc->opts.issuers = (const char *const *)tc->issuers;
	tc->opts.nissuers = tc->nissuers;
	tc->opts.audiences = (const char *const *)tc->audiences;
	tc->opts.naudiences = tc->naudiences;
	tc->generation = token_config_new_generation();
	if (tc->nremote > 0)
		tc->live = jwks_live_new();
	return tc;
fail:
	token_config_free(tc);
	return NULL;
}

void
token_config_free(struct token_config *tc)
{
	if (tc == NULL)
		return;
	/* The view borrows the local keys: it goes first. */
	jwks_live_free(tc->live);
	introspect_spec_free(tc->introspection);
	for (size_t i = 0; i < tc->nremote; i++)
		jwks_spec_free(tc->remote[i]);
	free(tc->remote);
	keys_free(tc->keys);
	for (size_t i = 0; i < tc->nissuers; i++)
		free(tc->issuers[i]);
	free(tc->issuers);
	for (size_t i = 0; i < tc->naudiences; i++)
		free(tc->audiences[i]);
	free(tc->audiences);
	free(tc->scope_claim);
	free(tc->id_claim);
	free(tc);
}

struct tokencache *
token_config_new_cache(const struct token_config *tc)
{
	if (tc->cache_size == 0)
		return NULL;
	return tokencache_new(tc->cache_size);
}

enum jwt_status
token_verify(const struct token_config *tc, struct tokencache *cache,
    const char *token, size_t len, time_t now, struct jwt_result **out)
{
	struct jwks_view *view = NULL;
	const struct keys *ks = tc->keys;
	uint64_t gen = tc->generation, vgen = 0;
	struct jwt_result *r;
	enum jwt_status st;
	uint64_t h = 0;

	*out = NULL;
	/* Refuse oversize input before hashing it for the cache. */
	if (len > tc->opts.max_token_bytes)
		return JWT_TOO_LARGE;
	if (tc->live != NULL) {
		/* Both numbers come from one sequence: the larger changes
		 * whenever the config or the fetched keys change. */
		ks = jwks_live_acquire(tc->live, tc->keys, &view, &vgen);
		if (vgen > gen)
			gen = vgen;
	}
	if (cache != NULL) {
		if (tokencache_generation(cache) != gen) {
			tokencache_clear(cache);
			tokencache_set_generation(cache, gen);
		}
		h = tokencache_hash(token, len);
		if ((r = tokencache_lookup_hashed(cache, token, len, h, now)) != NULL) {
			*out = r;
			st = JWT_OK;
			goto out;
		}
	}
	/* token68 (RFC 7235 2.1) needs no pass of its own: jwt_verify
	 * decodes all three segments as strict base64url before anything
	 * else, so a byte outside [A-Za-z0-9_-.] is JWT_MALFORMED there, and
	 * every token in the cache is made of those bytes only. */
	st = jwt_verify(ks, &tc->opts, token, len, now, &r);
	if (st == JWT_OK)
		*out = cache != NULL ? tokencache_insert_hashed(cache, token, len, h, r) : r;
	else if (st == JWT_UNKNOWN_KID && tc->live != NULL)
		jwks_live_unknown_kid(tc->live, now);
out:
	/* The result does not point into the keys (r->key is not read
	 * after verification), so the view may go now. */
	jwks_view_release(view);
	return st;
}
