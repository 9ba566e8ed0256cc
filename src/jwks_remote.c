/* jwks_remote.c: see jwks_remote.h. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "defaults.h"
#include "jwks_remote.h"
#include "tls.h"
#include "xmalloc.h"

static const struct jsonconf_key remote_keys[] = {
	{ "jwks_url", JC_STRING, 0 },
	{ "issuer_discovery", JC_STRING, 0 },
	{ "algs", JC_ARRAY, 0 },
	{ "allow_http_loopback", JC_BOOLEAN, 0 },
	{ "ca_file", JC_STRING, 0 },
	{ "cache_file", JC_STRING, 0 },
	{ "refresh_s", JC_INTEGER, 0 },
	{ "min_refresh_s", JC_INTEGER, 0 },
	{ "max_refresh_s", JC_INTEGER, 0 },
	{ "fetch_timeout_ms", JC_INTEGER, 0 },
	{ "unknown_kid_cooldown_s", JC_INTEGER, 0 },
	{ "max_stale_s", JC_INTEGER, 0 },
	{ NULL, 0, 0 },
};

#define JWKS_MAX_S	(30LL * 86400)

int
jwks_spec_is_remote(const json_t *k)
{
	return json_is_object(k) && (json_object_get(k, "jwks_url") != NULL ||
	    json_object_get(k, "issuer_discovery") != NULL);
}

void
jwks_spec_free(struct jwks_spec *s)
{
	if (s == NULL)
		return;
	free(s->url);
	free(s->issuer);
	free(s->ca_file);
	free(s->cache_file);
	tls_client_config_free(s->tls);
	free(s->identity);
	free(s);
}

/* Report why url is refused at ptr/key; 0 when it is fine. */
static int
check_url(struct jsonconf *jc, const char *ptr, const char *key, const char *url,
    int allow_http)
{
	struct jwks_url u;
	const char *why;
	char *p;

	if ((why = jwks_url_parse(url, allow_http, &u)) == NULL)
		return 0;
	p = jsonconf_ptr_key(ptr, key);
	jsonconf_error(jc, p, "%s", why);
	free(p);
	return -1;
}

struct jwks_spec *
jwks_spec_parse(struct jsonconf *jc, const json_t *k, const char *ptr, const char *base_dir)
{
	struct jwks_spec *s = xcalloc(1, sizeof(*s));
	const char *url = NULL, *iss = NULL, *ca = NULL, *cache = NULL;
	size_t before = jc->errs->n;
	json_t *algs, *e, *tlsobj;
	size_t i;

	if (jsonconf_check_object(jc, k, ptr, remote_keys) != 0)
		goto fail;
	jsonconf_get_string(jc, k, ptr, "jwks_url", NULL, &url);
	jsonconf_get_string(jc, k, ptr, "issuer_discovery", NULL, &iss);
	jsonconf_get_string(jc, k, ptr, "ca_file", NULL, &ca);
	jsonconf_get_string(jc, k, ptr, "cache_file", NULL, &cache);
	jsonconf_get_bool(jc, k, ptr, "allow_http_loopback", 0, &s->allow_http_loopback);
	jsonconf_get_int(jc, k, ptr, "refresh_s", 1, JWKS_MAX_S, SG_JWKS_REFRESH_S, &s->refresh_s);
	jsonconf_get_int(jc, k, ptr, "min_refresh_s", 1, JWKS_MAX_S,
	    s->refresh_s < SG_JWKS_MIN_REFRESH_S ? s->refresh_s : SG_JWKS_MIN_REFRESH_S,
	    &s->min_refresh_s);
	jsonconf_get_int(jc, k, ptr, "max_refresh_s", 1, JWKS_MAX_S,
	    s->refresh_s > SG_JWKS_MAX_REFRESH_S ? s->refresh_s : SG_JWKS_MAX_REFRESH_S,
	    &s->max_refresh_s);
	jsonconf_get_int(jc, k, ptr, "fetch_timeout_ms", 100, 120000, SG_JWKS_FETCH_TIMEOUT_MS,
	    &s->fetch_timeout_ms);
	jsonconf_get_int(jc, k, ptr, "unknown_kid_cooldown_s", 0, JWKS_MAX_S,
	    SG_JWKS_UNKNOWN_KID_COOLDOWN_S, &s->unknown_kid_cooldown_s);
	jsonconf_get_int(jc, k, ptr, "max_stale_s", 1, JWKS_MAX_S, SG_JWKS_MAX_STALE_S,
	    &s->max_stale_s);
	if (jc->errs->n != before)
		goto fail;
	if ((url == NULL) == (iss == NULL)) {
		jsonconf_error(jc, ptr, "needs exactly one of \"jwks_url\" or \"issuer_discovery\"");
		goto fail;
	}
	if (!(s->min_refresh_s <= s->refresh_s && s->refresh_s <= s->max_refresh_s)) {
		jsonconf_error(jc, ptr, "needs min_refresh_s <= refresh_s <= max_refresh_s");
		goto fail;
	}
	if (url != NULL && check_url(jc, ptr, "jwks_url", url, s->allow_http_loopback) != 0)
		goto fail;
	if (iss != NULL) {
		if (check_url(jc, ptr, "issuer_discovery", iss, s->allow_http_loopback) != 0)
			goto fail;
		if (strchr(iss, '?') != NULL || strchr(iss, '#') != NULL) {
			char *p = jsonconf_ptr_key(ptr, "issuer_discovery");
			jsonconf_error(jc, p, "an issuer has no query or fragment");
			free(p);
			goto fail;
		}
	}
	algs = json_object_get(k, "algs");
	json_array_foreach(algs, i, e) {
		enum keys_alg a;
		if (!json_is_string(e) || keys_alg_from_name(json_string_value(e), &a) != 0 ||
		    keys_alg_kind(a) == KEYS_KIND_HMAC) {
			char *p = jsonconf_ptr_key(ptr, "algs"), *pe = jsonconf_ptr_index(p, i);
			jsonconf_error(jc, pe, "must be an asymmetric algorithm (RS*, PS*, ES*, EdDSA)");
			free(pe);
			free(p);
			goto fail;
		}
		s->algs |= KEYS_ALG_BIT(a);
	}
	if (algs != NULL && s->algs == 0) {
		char *p = jsonconf_ptr_key(ptr, "algs");
		jsonconf_error(jc, p, "must list at least one algorithm");
		free(p);
		goto fail;
	}
	s->url = url ? xstrdup(url) : NULL;
	s->issuer = iss ? xstrdup(iss) : NULL;
	s->ca_file = ca ? jsonconf_resolve_path(base_dir, ca) : NULL;
	s->cache_file = cache ? jsonconf_resolve_path(base_dir, cache) : NULL;
	/* The TLS client is built now, so that -t and a reload check the CA
	 * file; a CA given as an absolute path is not re-resolved. */
	tlsobj = json_object();
	if (s->ca_file != NULL)
		json_object_set_new(tlsobj, "ca", json_string(s->ca_file));
	{
		char *p = jsonconf_ptr_key(ptr, "ca_file");
		s->tls = tls_client_config_parse(jc, tlsobj, p, NULL);
		free(p);
	}
	json_decref(tlsobj);
	if (jc->errs->n != before || s->tls == NULL)
		goto fail;
	{
		/* Two entries that read alike share fetch state across a
		 * reload: the set in force survives it. */
		json_t *copy = json_deep_copy(k);
		char *text;
		if (s->ca_file)
			json_object_set_new(copy, "ca_file", json_string(s->ca_file));
		if (s->cache_file)
			json_object_set_new(copy, "cache_file", json_string(s->cache_file));
		text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(copy);
		s->identity = xstrdup(text ? text : "");
		free(text);
	}
	return s;
fail:
	jwks_spec_free(s);
	return NULL;
}

static int
is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

const char *
jwks_url_parse(const char *url, int allow_http, struct jwks_url *out)
{
	const char *host, *end, *colon = NULL;
	size_t hlen;
	long port;

	memset(out, 0, sizeof(*out));
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return "must not contain spaces, control or non-ASCII characters";
	if (strncmp(url, "https://", 8) == 0) {
		out->https = 1;
		port = 443;
		host = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		port = 80;
		host = url + 7;
	} else
		return "must be an https:// URL";
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)) != NULL)
		return "must not carry credentials";
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));
		if (rb == NULL)
			return "unterminated IPv6 address";
		hlen = (size_t)(rb - host - 1);
		if (hlen == 0 || hlen >= sizeof(out->host))
			return "bad host";
		memcpy(out->host, host + 1, hlen);
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return "unexpected characters after the IPv6 address";
			colon = rb + 1;
		}
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
		hlen = (size_t)((colon ? colon : end) - host);
		if (hlen == 0 || hlen >= sizeof(out->host))
			return "missing or overlong host";
		memcpy(out->host, host, hlen);
	}
	if (colon != NULL) {
		char *e;
		errno = 0;
		port = strtol(colon + 1, &e, 10);
		if (e != end || e == colon + 1 || errno != 0 || port < 1 || port > 65535)
			return "invalid port";
	}
	out->port = (uint16_t)port;
	if (*end == '#')
		return "must not have a fragment";
	if (strchr(end, '#') != NULL)
		return "must not have a fragment";
	if (strlen(end) + 2 > sizeof(out->path))
		return "path too long";
	snprintf(out->path, sizeof(out->path), "%s%s", *end == '/' ? "" : "/", end);
	if (!out->https) {
		if (!allow_http)
			return "must be an https:// URL (plain http only to a loopback "
			    "address, with \"allow_http_loopback\": true)";
		if (!is_loopback(out->host))
			return "plain http is allowed to loopback addresses only";
	}
	return NULL;
}

int64_t
jwks_cache_control_max_age(const char *v, size_t len)
{
	int64_t age = -1;
	size_t i = 0;

	while (i < len) {
		size_t b, e;
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		b = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if ((e - b == 8 && strncasecmp(v + b, "no-cache", 8) == 0) ||
		    (e - b == 8 && strncasecmp(v + b, "no-store", 8) == 0))
			return 0;
		if (e - b > 8 && strncasecmp(v + b, "max-age=", 8) == 0) {
			int64_t n = 0;
			size_t j = b + 8;
			if (j < e && v[j] == '"')
				j++;
			if (j >= e || !isdigit((unsigned char)v[j]))
				continue;
			for (; j < e && isdigit((unsigned char)v[j]); j++)
				n = n > JWKS_MAX_S ? n : n * 10 + (v[j] - '0');
			if (age < 0)
				age = n;
		}
	}
	return age;
}

int64_t
jwks_next_refresh_s(const struct jwks_spec *s, int64_t max_age)
{
	int64_t n = max_age >= 0 ? max_age : s->refresh_s;

	if (n < s->min_refresh_s)
		n = s->min_refresh_s;
	if (n > s->max_refresh_s)
		n = s->max_refresh_s;
	return n;
}

/* Parse buf as one JSON object (duplicates refused); NULL with why. */
static json_t *
load_object(const char *buf, size_t len, const char *what, char *why, size_t whylen)
{
	json_error_t err;
	json_t *v;

	if (len > SG_JWKS_MAX_BYTES) {
		snprintf(why, whylen, "%s larger than %d bytes", what, SG_JWKS_MAX_BYTES);
		return NULL;
	}
	if ((v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err)) == NULL) {
		snprintf(why, whylen, "%s is not JSON: %d:%d: %s", what, err.line, err.column,
		    err.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		snprintf(why, whylen, "%s is not a JSON object", what);
		json_decref(v);
		return NULL;
	}
	return v;
}

struct keys *
jwks_set_build(const char *name, const char *buf, size_t len, unsigned algs, char *why,
    size_t whylen)
{
	struct keys *ks = NULL, *out = NULL;
	json_t *root, *arr, *jwk, *keep = NULL;
	struct errlist el;
	char *text = NULL;
	size_t i, j;

	errlist_init(&el);
	if ((root = load_object(buf, len, "the JWKS", why, whylen)) == NULL)
		goto out;
	if (!json_is_array(arr = json_object_get(root, "keys"))) {
		snprintf(why, whylen, "a JWKS must be an object with a \"keys\" array");
		goto out;
	}
	keep = json_array();
	json_array_foreach(arr, i, jwk) {
		const char *kty = json_string_value(json_object_get(jwk, "kty"));
		const char *kid = json_string_value(json_object_get(jwk, "kid"));
		const char *use = json_string_value(json_object_get(jwk, "use"));

		if (kty == NULL) {
			snprintf(why, whylen, "/keys/%zu: missing \"kty\"", i);
			goto out;
		}
		/* A provider publishes public keys; a symmetric key in a
		 * JWKS is a leak or a forgery aid, never a key to trust. */
		if (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0 && strcmp(kty, "OKP") != 0) {
			snprintf(why, whylen, "/keys/%zu: unsupported key type \"%.32s\"", i, kty);
			goto out;
		}
		if (kid != NULL)
			for (j = 0; j < i; j++) {
				const char *o = json_string_value(json_object_get(
				    json_array_get(arr, j), "kid"));
				if (o != NULL && strcmp(o, kid) == 0) {
					snprintf(why, whylen, "/keys/%zu: duplicate kid \"%.64s\"", i, kid);
					goto out;
				}
			}
		if (use != NULL && strcmp(use, "sig") != 0)
			continue;
		/* The algorithm is pinned by the JWK or by the entry, never
		 * guessed from a token. */
		if (algs == 0 && !json_is_string(json_object_get(jwk, "alg")))
			continue;
		json_array_append(keep, jwk);
	}
	json_object_set(root, "keys", keep);
	if ((text = json_dumps(root, JSON_COMPACT)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if ((ks = keys_new()) == NULL) {
		snprintf(why, whylen, "OpenSSL has no HMAC implementation");
		goto out;
	}
	if (keys_load_jwks_buffer(ks, name, text, strlen(text), algs, &el) != 0) {
		snprintf(why, whylen, "%s", el.n ? el.msgs[0] : "bad JWKS");
		goto out;
	}
	if (ks->n == 0) {
		snprintf(why, whylen, "no usable signature key (each needs \"alg\", or the "
		    "entry's \"algs\")");
		goto out;
	}
	out = ks;
	ks = NULL;
out:
	keys_free(ks);
	free(text);
	json_decref(keep);
	json_decref(root);
	errlist_free(&el);
	return out;
}

char *
jwks_discovery_parse(const char *buf, size_t len, const char *issuer, char *why,
    size_t whylen)
{
	json_t *root, *v;
	char *out = NULL;

	if ((root = load_object(buf, len, "the discovery document", why, whylen)) == NULL)
		goto out;
	v = json_object_get(root, "issuer");
	/* Byte for byte, embedded NULs included: a look-alike issuer is an
	 * impersonation (OpenID Connect Discovery 4.3). */
	if (!json_is_string(v) || json_string_length(v) != strlen(issuer) ||
	    memcmp(json_string_value(v), issuer, strlen(issuer)) != 0) {
		snprintf(why, whylen, "its \"issuer\" is not \"%s\"", issuer);
		goto out;
	}
	v = json_object_get(root, "jwks_uri");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(why, whylen, "no \"jwks_uri\" string");
		goto out;
	}
	out = xstrdup(json_string_value(v));
out:
	json_decref(root);
	return out;
}
