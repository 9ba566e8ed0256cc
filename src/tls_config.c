/* tls_config.c: see tls.h. The "tls" objects of listeners and of the
 * upstream, checked strictly, then built, so that a configuration check
 * also loads every certificate and key. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "log.h"
#include "tls.h"
#include "tls_int.h"
#include "xmalloc.h"

static const struct jsonconf_key listener_keys[] = {
	{"certificates", JC_ARRAY, 1},
	{"min_version", JC_STRING, 0},
	{"ciphers", JC_STRING, 0},
	{"ciphersuites", JC_STRING, 0},
	{"client_auth", JC_STRING, 0},
	{"client_ca", JC_STRING, 0},
	{"client_crl", JC_STRING, 0},
	{"session_cache_size", JC_INTEGER, 0},
	{"tickets", JC_BOOLEAN, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key cert_keys[] = {
	{"cert", JC_STRING, 1},
	{"key", JC_STRING, 1},
	{"names", JC_ARRAY, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key client_keys[] = {
	{"ca", JC_STRING, 0},
	{"verify", JC_BOOLEAN, 0},
	{"server_name", JC_STRING, 0},
	{"cert", JC_STRING, 0},
	{"key", JC_STRING, 0},
	{NULL, JC_ANY, 0},
};

/* A string member that names a file: resolved, or NULL (absent or after
 * reporting). An empty string is an error. */
static char *
get_path(struct jsonconf *jc, const json_t *obj, const char *ptr, const char *key,
    const char *base_dir)
{
	const char *v = NULL;

	if (jsonconf_get_string(jc, obj, ptr, key, NULL, &v) != 0 || v == NULL)
		return NULL;
	if (v[0] == '\0') {
		char *p = jsonconf_ptr_key(ptr, key);
		jsonconf_error(jc, p, "must not be empty");
		free(p);
		return NULL;
	}
	return jsonconf_resolve_path(base_dir, v);
}

/* A "names" array of SNI patterns, lowercased. 0 or -1. */
static int
parse_names(struct jsonconf *jc, const json_t *arr, const char *ptr,
    struct tls_cert_config *cc)
{
	size_t i;
	json_t *v;
	int rc = 0;

	if (json_array_size(arr) == 0 || json_array_size(arr) > SG_TLS_MAX_NAMES) {
		jsonconf_error(jc, ptr, "must list 1 to %d names (omit it to use the "
		    "certificate's own names)", SG_TLS_MAX_NAMES);
		return -1;
	}
	cc->names = xcalloc(json_array_size(arr), sizeof(*cc->names));
	json_array_foreach(arr, i, v) {
		char *p = jsonconf_ptr_index(ptr, i);
		const char *s = json_string_value(v);

		if (s == NULL || strlen(s) != json_string_length(v)) {
			jsonconf_error(jc, p, "must be a string");
			rc = -1;
		} else if (!tls_name_valid(s)) {
			jsonconf_error(jc, p, "\"%s\" is not a DNS name or a \"*.domain\" wildcard", s);
			rc = -1;
		} else {
			char *n = xstrdup(s);
			for (char *c = n; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			cc->names[cc->nnames++] = n;
		}
		free(p);
	}
	return rc;
}

static int
parse_min_version(struct jsonconf *jc, const json_t *obj, const char *ptr, int *out)
{
	const char *v = NULL;
	char *p;

	*out = TLS1_2_VERSION;
	if (jsonconf_get_string(jc, obj, ptr, "min_version", NULL, &v) != 0)
		return -1;
	if (v == NULL || strcmp(v, "TLSv1.2") == 0)
		return 0;
	if (strcmp(v, "TLSv1.3") == 0) {
		*out = TLS1_3_VERSION;
		return 0;
	}
	p = jsonconf_ptr_key(ptr, "min_version");
	if (strcmp(v, "TLSv1") == 0 || strcmp(v, "TLSv1.0") == 0 || strcmp(v, "TLSv1.1") == 0 ||
	    strncmp(v, "SSL", 3) == 0)
		jsonconf_error(jc, p, "\"%s\" is not allowed: TLS 1.0 and 1.1 are obsolete "
		    "(RFC 8996); use \"TLSv1.2\" or \"TLSv1.3\"", v);
	else
		jsonconf_error(jc, p, "must be \"TLSv1.2\" or \"TLSv1.3\"");
	free(p);
	return -1;
}

static int
parse_client_auth(struct jsonconf *jc, const json_t *obj, const char *ptr,
    enum tls_client_auth *out)
{
	const char *v = NULL;
	char *p;

	*out = TLS_CLIENT_AUTH_NONE;
	if (jsonconf_get_string(jc, obj, ptr, "client_auth", NULL, &v) != 0)
		return -1;
	if (v == NULL || strcmp(v, "none") == 0)
		return 0;
	if (strcmp(v, "optional") == 0) {
		*out = TLS_CLIENT_AUTH_OPTIONAL;
		return 0;
	}
	if (strcmp(v, "required") == 0) {
		*out = TLS_CLIENT_AUTH_REQUIRED;
		return 0;
	}
	p = jsonconf_ptr_key(ptr, "client_auth");
	jsonconf_error(jc, p, "must be \"none\", \"optional\" or \"required\"");
	free(p);
	return -1;
}

/* The "certificates" array. */
static void
parse_certificates(struct jsonconf *jc, const json_t *arr, const char *ptr,
    const char *base_dir, struct tls_listener_config *lc)
{
	char *aptr = jsonconf_ptr_key(ptr, "certificates");
	size_t i;
	json_t *v;

	if (!json_is_array(arr))
		goto out;
	if (json_array_size(arr) == 0 || json_array_size(arr) > SG_TLS_MAX_CERTIFICATES) {
		jsonconf_error(jc, aptr, "must list 1 to %d certificates (the first is the default)",
		    SG_TLS_MAX_CERTIFICATES);
		goto out;
	}
	lc->certs = xcalloc(json_array_size(arr), sizeof(*lc->certs));
	json_array_foreach(arr, i, v) {
		struct tls_cert_config *cc = &lc->certs[lc->ncerts++];
		char *p = jsonconf_ptr_index(aptr, i);
		json_t *names;

		if (jsonconf_check_object(jc, v, p, cert_keys) == 0 || json_is_object(v)) {
			cc->cert = get_path(jc, v, p, "cert", base_dir);
			cc->key = get_path(jc, v, p, "key", base_dir);
			if ((names = json_object_get(v, "names")) != NULL && json_is_array(names)) {
				char *np = jsonconf_ptr_key(p, "names");
				parse_names(jc, names, np, cc);
				free(np);
			}
		}
		free(p);
	}
out:
	free(aptr);
}

struct tls_listener_config *
tls_listener_config_parse(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *base_dir)
{
	struct tls_listener_config *lc = xcalloc(1, sizeof(*lc));
	size_t nerr = jc->errs->n;
	const char *s;
	int64_t n;
	char *p;

	lc->errfile = xstrdup(jc->file);
	lc->errptr = xstrdup(ptr);
	if (jsonconf_check_object(jc, obj, ptr, listener_keys) != 0 && !json_is_object(obj))
		goto out;
	parse_certificates(jc, json_object_get(obj, "certificates"), ptr, base_dir, lc);
	parse_min_version(jc, obj, ptr, &lc->min_version);
	if (jsonconf_get_string(jc, obj, ptr, "ciphers", SG_TLS_CIPHERS, &s) == 0)
		lc->ciphers = xstrdup(s);
	if (jsonconf_get_string(jc, obj, ptr, "ciphersuites", SG_TLS_CIPHERSUITES, &s) == 0)
		lc->ciphersuites = xstrdup(s);
	parse_client_auth(jc, obj, ptr, &lc->client_auth);
	lc->client_ca = get_path(jc, obj, ptr, "client_ca", base_dir);
	if (lc->client_auth != TLS_CLIENT_AUTH_NONE && lc->client_ca == NULL &&
	    json_object_get(obj, "client_ca") == NULL)
		jsonconf_error(jc, ptr, "client_auth \"%s\" needs \"client_ca\", the CA file that "
		    "signs client certificates",
		    lc->client_auth == TLS_CLIENT_AUTH_REQUIRED ? "required" : "optional");
	if (lc->client_auth == TLS_CLIENT_AUTH_NONE && lc->client_ca != NULL) {
		p = jsonconf_ptr_key(ptr, "client_ca");
		jsonconf_error(jc, p, "is only used with client_auth \"optional\" or \"required\"");
		free(p);
	}
	lc->client_crl = get_path(jc, obj, ptr, "client_crl", base_dir);
	if (lc->client_auth == TLS_CLIENT_AUTH_NONE && lc->client_crl != NULL) {
		p = jsonconf_ptr_key(ptr, "client_crl");
		jsonconf_error(jc, p, "is only used with client_auth \"optional\" or \"required\"");
		free(p);
	}
	if (jsonconf_get_int(jc, obj, ptr, "session_cache_size", 0, 10 * 1000 * 1000,
	    SG_TLS_SESSION_CACHE_SIZE, &n) == 0)
		lc->session_cache_size = (long)n;
	jsonconf_get_bool(jc, obj, ptr, "tickets", 1, &lc->tickets);
	/* Build only from a clean description: every file problem is then
	 * reported against the entry that names it. */
	if (jc->errs->n == nerr)
		lc->server = tls_server_new(lc, jc->errs);
out:
	if (jc->errs->n != nerr) {
		tls_listener_config_free(lc);
		lc = NULL;
	}
	return lc;
}

void
tls_listener_config_free(struct tls_listener_config *lc)
{
	if (lc == NULL)
		return;
	for (size_t i = 0; i < lc->ncerts; i++) {
		free(lc->certs[i].cert);
		free(lc->certs[i].key);
		for (size_t j = 0; j < lc->certs[i].nnames; j++)
			free(lc->certs[i].names[j]);
		free(lc->certs[i].names);
	}
	free(lc->certs);
	free(lc->ciphers);
	free(lc->ciphersuites);
	free(lc->client_ca);
	free(lc->client_crl);
	free(lc->errfile);
	free(lc->errptr);
	tls_server_free(lc->server);
	free(lc);
}

struct tls_client_config *
tls_client_config_parse(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *base_dir)
{
	struct tls_client_config *cc = xcalloc(1, sizeof(*cc));
	size_t nerr = jc->errs->n;
	const char *s = NULL;
	char *p;

	cc->errfile = xstrdup(jc->file);
	cc->errptr = xstrdup(ptr);
	if (jsonconf_check_object(jc, obj, ptr, client_keys) != 0 && !json_is_object(obj))
		goto out;
	cc->ca = get_path(jc, obj, ptr, "ca", base_dir);
	jsonconf_get_bool(jc, obj, ptr, "verify", 1, &cc->verify);
	if (jsonconf_get_string(jc, obj, ptr, "server_name", NULL, &s) == 0 && s != NULL) {
		if ((s[0] == '*' || !tls_name_valid(s)) && !tls_is_ip_literal(s)) {
			p = jsonconf_ptr_key(ptr, "server_name");
			jsonconf_error(jc, p, "\"%s\" is not a DNS name or an IP address", s);
			free(p);
		} else
			cc->server_name = xstrdup(s);
	}
	cc->cert = get_path(jc, obj, ptr, "cert", base_dir);
	cc->key = get_path(jc, obj, ptr, "key", base_dir);
	if ((json_object_get(obj, "cert") == NULL) != (json_object_get(obj, "key") == NULL))
		jsonconf_error(jc, ptr, "\"cert\" and \"key\" go together");
	if (jc->errs->n == nerr) {
		if (!cc->verify)
			log_warnx("%s: %s: upstream certificate verification is off", jc->file,
			    ptr[0] ? ptr : "/");
		cc->client = tls_client_new(cc, jc->errs);
	}
out:
	if (jc->errs->n != nerr) {
		tls_client_config_free(cc);
		cc = NULL;
	}
	return cc;
}

void
tls_client_config_free(struct tls_client_config *cc)
{
	if (cc == NULL)
		return;
	free(cc->ca);
	free(cc->server_name);
	free(cc->cert);
	free(cc->key);
	free(cc->errfile);
	free(cc->errptr);
	tls_client_free(cc->client);
	free(cc);
}
