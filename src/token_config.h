/* token_config.h: the "tokens" section of the configuration (keys and
 * claim rules) and the verification entry point used per request. A
 * token_config is immutable after token_config_parse and may be shared by
 * every worker thread; each worker owns its own tokencache. */
#ifndef SCOPEGATE_TOKEN_CONFIG_H
#define SCOPEGATE_TOKEN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "jsonconf.h"
#include "jwt.h"
#include "keys.h"
#include "tokencache.h"

struct token_config {
	struct keys *keys;
	struct jwt_opts opts;		/* points into the fields below */
	char **issuers;
	size_t nissuers;
	char **audiences;
	size_t naudiences;
	char *scope_claim;
	char *id_claim;
	size_t cache_size;		/* per worker; 0 disables caching */
	/* "require_id": a token without a storable id claim is refused; -1
	 * when not set (cfg.c: true when revocations are configured). */
	int require_id;
	uint64_t generation;		/* unique per parsed config */
	/* Remote entries (jwks_url, issuer_discovery): their specs, and the
	 * set workers verify with once jwks_fetch published one (NULL when
	 * there are none). */
	struct jwks_spec **remote;
	size_t nremote;
	struct jwks_live *live;
	/* "introspection": opaque tokens read by an RFC 7662 endpoint
	 * (introspect.h), or NULL. */
	struct introspect_spec *introspection;
};

/* A generation number never handed out before (configs and key views
 * share the sequence, so a token cache notices either changing). */
uint64_t token_config_new_generation(void);

/* Parse the "tokens" object obj found at JSON pointer ptr of jc->file.
 * Relative key paths are resolved against base_dir. Every problem is added
 * to jc->errs (unknown keys and bad values at their JSON pointers; key file
 * errors name the file). Returns NULL when there was any error. */
struct token_config *token_config_parse(struct jsonconf *jc, const json_t *obj,
    const char *ptr, const char *base_dir);
void token_config_free(struct token_config *tc);

/* A cache sized for tc (NULL when tc->cache_size is 0). */
struct tokencache *token_config_new_cache(const struct token_config *tc);

/* Verify a bearer token at time now.
 * With a cache: a hit returns the cached result; a verified miss is
 * inserted. *out is then owned by the cache and valid until the next call
 * that modifies that cache (insert/evict/clear: i.e. the next token_verify
 * on it); do not free it. The caller may set (*out)->user/user_free once
 * to memoize per-token data; everything else is read-only.
 * Without a cache (NULL): on JWT_OK *out is a new result the caller frees
 * with jwt_result_free().
 * A cache filled under another token_config is cleared first. On failure
 * *out is NULL and the status says why. */
enum jwt_status token_verify(const struct token_config *tc, struct tokencache *cache,
    const char *token, size_t len, time_t now, struct jwt_result **out);

#endif
