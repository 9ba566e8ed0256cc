/* introspect_parse.c: see introspect_parse.h. */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "introspect_parse.h"
#include "jwks_remote.h"
#include "token_config.h"
#include "tls.h"
#include "xmalloc.h"

static const struct jsonconf_key introspection_keys[] = {
	{ "url", JC_STRING, 1 },
	{ "client_id", JC_STRING, 0 },
	{ "client_secret_file", JC_STRING, 0 },
	{ "client_cert", JC_STRING, 0 },
	{ "client_key", JC_STRING, 0 },
	{ "ca_file", JC_STRING, 0 },
	{ "allow_http_loopback", JC_BOOLEAN, 0 },
	{ "timeout_ms", JC_INTEGER, 0 },
	{ "cache_ttl_s", JC_INTEGER, 0 },
	{ "negative_ttl_s", JC_INTEGER, 0 },
	{ "max_inflight", JC_INTEGER, 0 },
	{ "all_tokens", JC_BOOLEAN, 0 },
	{ NULL, 0, 0 },
};

#define INTROSPECT_MAX_SECRET	4096

void
introspect_spec_free(struct introspect_spec *s)
{
	if (s == NULL)
		return;
	free(s->url);
	if (s->basic != NULL)
		OPENSSL_cleanse(s->basic, strlen(s->basic));
	free(s->basic);
	tls_client_config_free(s->tls);
	free(s);
}

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~';
}

/* application/x-www-form-urlencoded bytes of s (RFC 6749 2.3.1 asks for it
 * in the Basic credentials too), appended at *p. */
static void
form_encode(const char *s, size_t len, char **p)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c))
			*(*p)++ = (char)c;
		else {
			*(*p)++ = '%';
			*(*p)++ = hex[c >> 4];
			*(*p)++ = hex[c & 15];
		}
	}
}

/* The secret file's first line (a trailing newline is not part of it). */
static char *
read_secret(struct jsonconf *jc, const char *ptr, const char *path)
{
	char buf[INTROSPECT_MAX_SECRET + 2];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		jsonconf_error(jc, ptr, "cannot read %s: %m", path);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	n = strcspn(buf, "\r\n");
	if (n == 0 || n > INTROSPECT_MAX_SECRET || buf[n + strspn(buf + n, "\r\n")] != '\0') {
		OPENSSL_cleanse(buf, sizeof(buf));
		jsonconf_error(jc, ptr, "%s must hold the secret on one line (1 to %d bytes)",
		    path, INTROSPECT_MAX_SECRET);
		return NULL;
	}
	buf[n] = '\0';
	{
		char *s = xstrdup(buf);
		OPENSSL_cleanse(buf, sizeof(buf));
		return s;
	}
}

/* "Basic " base64(form(id) ":" form(secret)). */
static char *
basic_credentials(const char *id, const char *secret)
{
	size_t il = strlen(id), sl = strlen(secret), rawcap = 3 * (il + sl) + 2;
	char *raw = xmalloc(rawcap), *p = raw, *out;
	int n;

	form_encode(id, il, &p);
	*p++ = ':';
	form_encode(secret, sl, &p);
	out = xmalloc(6 + 4 * ((size_t)(p - raw) / 3 + 1) + 1);
	memcpy(out, "Basic ", 6);
	n = EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)raw, (int)(p - raw));
	out[6 + n] = '\0';
	OPENSSL_cleanse(raw, rawcap);
	free(raw);
	return out;
}

/* Resolve the host now, on the main thread; plain http only to loopback
 * addresses. 0, or -1 reported at ptr/url. */
static int
resolve(struct jsonconf *jc, const char *ptr, struct introspect_spec *s)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8], *p = jsonconf_ptr_key(ptr, "url");
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", (unsigned)s->port);
	if ((rc = getaddrinfo(s->host, port, &hints, &res)) != 0) {
		jsonconf_error(jc, p, "cannot resolve \"%s\": %s", s->host, gai_strerror(rc));
		free(p);
		return -1;
	}
	for (ai = res; ai != NULL && s->naddrs < SG_INTROSPECT_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(s->addrs[0]))
			continue;
		if (!s->https && !(ai->ai_family == AF_INET &&
		    (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127) &&
		    !(ai->ai_family == AF_INET6 &&
		    IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr)))
			continue;
		memcpy(&s->addrs[s->naddrs], ai->ai_addr, ai->ai_addrlen);
		s->addrlens[s->naddrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (s->naddrs == 0)
		jsonconf_error(jc, p, "\"%s\" has no usable address", s->host);
	free(p);
	return s->naddrs > 0 ? 0 : -1;
}

struct introspect_spec *
introspect_spec_parse(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *base_dir)
{
	struct introspect_spec *s = xcalloc(1, sizeof(*s));
	const char *url = NULL, *id = NULL, *secret_file = NULL, *cert = NULL, *key = NULL,
	    *ca = NULL, *why;
	size_t before = jc->errs->n;
	struct jwks_url u;
	json_t *tlsobj;
	char *p;

	if (jsonconf_check_object(jc, obj, ptr, introspection_keys) != 0 || !json_is_object(obj))
		goto fail;
	jsonconf_get_string(jc, obj, ptr, "url", NULL, &url);
	jsonconf_get_string(jc, obj, ptr, "client_id", NULL, &id);
	jsonconf_get_string(jc, obj, ptr, "client_secret_file", NULL, &secret_file);
	jsonconf_get_string(jc, obj, ptr, "client_cert", NULL, &cert);
	jsonconf_get_string(jc, obj, ptr, "client_key", NULL, &key);
	jsonconf_get_string(jc, obj, ptr, "ca_file", NULL, &ca);
	jsonconf_get_bool(jc, obj, ptr, "allow_http_loopback", 0, &s->allow_http_loopback);
	jsonconf_get_bool(jc, obj, ptr, "all_tokens", 0, &s->all_tokens);
	jsonconf_get_int(jc, obj, ptr, "timeout_ms", 50, 60000, SG_INTROSPECT_TIMEOUT_MS,
	    &s->timeout_ms);
	jsonconf_get_int(jc, obj, ptr, "cache_ttl_s", 0, 86400, SG_INTROSPECT_CACHE_TTL_S,
	    &s->cache_ttl_s);
	jsonconf_get_int(jc, obj, ptr, "negative_ttl_s", 0, 86400, SG_INTROSPECT_NEGATIVE_TTL_S,
	    &s->negative_ttl_s);
	jsonconf_get_int(jc, obj, ptr, "max_inflight", 1, 100000, SG_INTROSPECT_MAX_INFLIGHT,
	    &s->max_inflight);
	if (jc->errs->n != before || url == NULL)
		goto fail;
	if ((why = jwks_url_parse(url, s->allow_http_loopback, &u)) != NULL) {
		p = jsonconf_ptr_key(ptr, "url");
		jsonconf_error(jc, p, "%s", why);
		free(p);
		goto fail;
	}
	if (strchr(url, '#') != NULL) {
		p = jsonconf_ptr_key(ptr, "url");
		jsonconf_error(jc, p, "must not have a fragment");
		free(p);
		goto fail;
	}
	s->url = xstrdup(url);
	s->https = u.https;
	s->port = u.port;
	snprintf(s->host, sizeof(s->host), "%s", u.host);
	snprintf(s->path, sizeof(s->path), "%s", u.path);
	/* The endpoint must know who asks (RFC 7662 2.1): a client secret
	 * (client_secret_basic) or a client certificate (tls_client_auth). */
	if ((secret_file != NULL) != (id != NULL)) {
		jsonconf_error(jc, ptr, "\"client_id\" and \"client_secret_file\" go together");
		goto fail;
	}
	if ((cert != NULL) != (key != NULL)) {
		jsonconf_error(jc, ptr, "\"client_cert\" and \"client_key\" go together");
		goto fail;
	}
	if (secret_file == NULL && cert == NULL) {
		jsonconf_error(jc, ptr, "needs client authentication: \"client_id\" and "
		    "\"client_secret_file\", or \"client_cert\" and \"client_key\"");
		goto fail;
	}
	if (cert != NULL && !s->https) {
		p = jsonconf_ptr_key(ptr, "client_cert");
		jsonconf_error(jc, p, "a client certificate needs an https:// url");
		free(p);
		goto fail;
	}
	if (secret_file != NULL) {
		char *path = jsonconf_resolve_path(base_dir, secret_file), *secret;
		p = jsonconf_ptr_key(ptr, "client_secret_file");
		secret = read_secret(jc, p, path);
		free(p);
		free(path);
		if (secret == NULL)
			goto fail;
		s->basic = basic_credentials(id, secret);
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	if (s->https) {
		tlsobj = json_object();
		if (ca != NULL)
			json_object_set_new(tlsobj, "ca", json_string(ca));
		if (cert != NULL) {
			json_object_set_new(tlsobj, "cert", json_string(cert));
			json_object_set_new(tlsobj, "key", json_string(key));
		}
		s->tls = tls_client_config_parse(jc, tlsobj, ptr, base_dir);
		json_decref(tlsobj);
		if (s->tls == NULL)
			goto fail;
	}
	if (resolve(jc, ptr, s) != 0)
		goto fail;
	s->generation = token_config_new_generation();
	return s;
fail:
	if (jc->errs->n == before)
		jsonconf_error(jc, ptr, "must be an object with a \"url\"");
	introspect_spec_free(s);
	return NULL;
}

int
introspect_wants(const struct introspect_spec *s, const char *token, size_t len)
{
	size_t dots = 0;

	if (s->all_tokens)
		return 1;
	for (size_t i = 0; i < len; i++)
		dots += token[i] == '.';
	return dots != 2;
}

int
introspect_token_ok(const char *token, size_t len, size_t max_bytes)
{
	size_t i = 0;

	if (len == 0 || len > max_bytes)
		return 0;
	/* token68: ALPHA DIGIT - . _ ~ + / then any '=' padding. */
	while (i < len && (unreserved((unsigned char)token[i]) || token[i] == '+' ||
	    token[i] == '/'))
		i++;
	if (i == 0)
		return 0;
	while (i < len && token[i] == '=')
		i++;
	return i == len;
}

char *
introspect_request(const struct introspect_spec *s, const char *token, size_t tlen,
    size_t *len)
{
	static const char hint[] = "&token_type_hint=access_token";
	char *body = xmalloc(6 + 3 * tlen + sizeof(hint)), *p = body, *out;
	int n;

	memcpy(p, "token=", 6);
	p += 6;
	form_encode(token, tlen, &p);
	memcpy(p, hint, sizeof(hint));
	p += sizeof(hint) - 1;
	n = xasprintf(&out, "POST %s HTTP/1.1\r\nHost: %s%s%s:%u\r\n%s%s%s"
	    "Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n"
	    "User-Agent: scopegate/%s\r\nContent-Length: %zu\r\n\r\n%.*s", s->path,
	    strchr(s->host, ':') ? "[" : "", s->host, strchr(s->host, ':') ? "]" : "",
	    (unsigned)s->port, s->basic ? "Authorization: " : "", s->basic ? s->basic : "",
	    s->basic ? "\r\n" : "", PACKAGE_VERSION, (size_t)(p - body), (int)(p - body), body);
	OPENSSL_cleanse(body, (size_t)(p - body));
	free(body);
	*len = (size_t)n;
	return out;
}

static void
set_why(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
}

enum introspect_verdict
introspect_answer_parse(const char *buf, size_t len, const struct jwt_opts *o, time_t now,
    enum jwt_status *st, struct jwt_result **out, char *why, size_t whylen)
{
	struct jwt_opts io = *o;
	struct jwt_result *r;
	json_error_t jerr;
	json_t *doc, *active, *scope;

	*out = NULL;
	*st = JWT_INTERNAL;
	why[0] = '\0';
	if (len > SG_INTROSPECT_MAX_BYTES) {
		set_why(why, whylen, "answer too large");
		return INTROSPECT_UNUSABLE;
	}
	doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc)) {
		json_decref(doc);
		set_why(why, whylen, doc == NULL ? "answer is not JSON" : "answer is not a JSON object");
		return INTROSPECT_UNUSABLE;
	}
	active = json_object_get(doc, "active");
	if (!json_is_boolean(active)) {
		json_decref(doc);
		set_why(why, whylen, "answer has no boolean \"active\"");
		return INTROSPECT_UNUSABLE;
	}
	if (!json_is_true(active)) {
		json_decref(doc);
		*st = JWT_INACTIVE;
		return INTROSPECT_REFUSED;
	}
	/* RFC 7662 2.2: "scope" is a space-separated string, whatever the
	 * JWT options say; "exp" is optional (the endpoint vouches for the
	 * token now). */
	scope = json_object_get(doc, "scope");
	if (scope != NULL && (!json_is_string(scope) ||
	    strlen(json_string_value(scope)) != json_string_length(scope))) {
		json_decref(doc);
		*st = JWT_BAD_SCOPE;
		return INTROSPECT_REFUSED;
	}
	io.scope_claim = "scope";
	io.scope_format = JWT_SCOPE_STRING;
	io.require_exp = 0;
	io.max_lifetime_s = 0;
	r = xcalloc(1, sizeof(*r));
	*st = jwt_claims_check(r, doc, &io, now);
	if (*st != JWT_OK) {
		jwt_result_free(r);
		return INTROSPECT_REFUSED;
	}
	*out = r;
	return INTROSPECT_ACTIVE;
}

time_t
introspect_cache_until(const struct introspect_spec *s, enum jwt_status st,
    const struct jwt_result *r, time_t now)
{
	time_t until;

	if (st != JWT_OK || r == NULL)
		return now + (time_t)s->negative_ttl_s;
	until = now + (time_t)s->cache_ttl_s;
	if (r->has_exp && r->exp < (int64_t)until)
		until = (time_t)r->exp;
	return until;
}
