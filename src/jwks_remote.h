/* jwks_remote.h: key sets from identity providers, the pure part. The
 * "jwks_url" / "issuer_discovery" entries of tokens.keys (parsed into a
 * jwks_spec), URL rules (https, or http to a loopback address only when the
 * entry allows it), the refresh arithmetic (Cache-Control max-age within
 * bounds, time injected), and the checks a fetched JWKS passes before it may
 * replace the set in force. No I/O here: jwks_fetch.c does that on the main
 * thread's loop. */
#ifndef SCOPEGATE_JWKS_REMOTE_H
#define SCOPEGATE_JWKS_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "errlist.h"
#include "jsonconf.h"
#include "keys.h"

struct tls_client_config;

/* One remote key entry of tokens.keys, immutable after parsing. */
struct jwks_spec {
	char *url;			/* jwks_url, or NULL */
	char *issuer;			/* issuer_discovery, or NULL */
	unsigned algs;			/* entry "algs" (0: each JWK's own alg) */
	int allow_http_loopback;
	char *ca_file;			/* resolved, or NULL: the system store */
	char *cache_file;		/* resolved, or NULL */
	int64_t refresh_s, min_refresh_s, max_refresh_s;
	int64_t fetch_timeout_ms, unknown_kid_cooldown_s, max_stale_s;
	struct tls_client_config *tls;	/* built at parse time (-t checks the CA) */
	char *identity;			/* canonical text: equal specs share state across reloads */
};

/* Whether entry object k is a remote one (has jwks_url or issuer_discovery). */
int jwks_spec_is_remote(const json_t *k);
/* Parse a remote entry at ptr; NULL after reporting to jc. */
struct jwks_spec *jwks_spec_parse(struct jsonconf *jc, const json_t *k, const char *ptr,
    const char *base_dir);
void jwks_spec_free(struct jwks_spec *s);

/* A parsed fetch URL. */
struct jwks_url {
	int https;
	char host[256];			/* without brackets */
	uint16_t port;
	char path[2048];		/* path and query, "/" at least */
};

/* Parse an http(s) URL. allow_http: plain http is accepted, but only to
 * a loopback host (127.0.0.0/8, ::1, "localhost"). NULL or why not. */
const char *jwks_url_parse(const char *url, int allow_http, struct jwks_url *out);

/* The max-age of a Cache-Control value in seconds, or -1 when there is
 * none (or no-cache / no-store: 0). */
int64_t jwks_cache_control_max_age(const char *v, size_t len);

/* Seconds until the next refresh after a successful fetch: max_age when
 * the answer gave one (>= 0), else refresh_s, clamped to [min, max]. */
int64_t jwks_next_refresh_s(const struct jwks_spec *s, int64_t max_age);

/* Build a key set from a fetched JWKS body: refused whole (NULL, reason in
 * why) when it is not a JSON object with a "keys" array, larger than
 * SG_JWKS_MAX_BYTES, holds a malformed key or a key of a type a provider
 * must not publish (symmetric "oct"), two keys with one kid, or no usable
 * signature key. name (the URL) prefixes messages. */
struct keys *jwks_set_build(const char *name, const char *buf, size_t len, unsigned algs,
    char *why, size_t whylen);

/* The "jwks_uri" of an OpenID discovery document whose "issuer" equals
 * issuer byte for byte (RFC 8414 3.3, OpenID Discovery 4.3). A new string,
 * or NULL with the reason in why. */
char *jwks_discovery_parse(const char *buf, size_t len, const char *issuer, char *why,
    size_t whylen);

#endif
