/* revoke_config.c: the "revocations" section of the configuration (see
 * revoke.h). */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keys.h"
#include "revoke.h"
#include "xmalloc.h"

static const struct jsonconf_key revoke_keys[] = {
	{ "journal", JC_STRING, 0 },
	{ "ids_file", JC_STRING, 0 },
	{ "retention_s", JC_INTEGER, 0 },
	{ "redis", JC_STRING, 0 },
	{ "redis_key", JC_STRING, 0 },
	{ "redis_channel", JC_STRING, 0 },
	{ "redis_password_file", JC_STRING, 0 },
	{ "redis_max_entries", JC_INTEGER, 0 },
	{ NULL, 0, 0 },
};

/* Parse "redis://host[:port][/db]" (host may be a bracketed IPv6
 * address) into rc. 0 or -1 with *why set. */
static int
parse_redis_url(struct revoke_config *rc, const char *url, const char **why)
{
	const char *p, *hend, *q;
	long port = 6379, db = 0;
	char *end;

	if (strncmp(url, "redis://", 8) != 0) {
		*why = "must start with redis://";
		return -1;
	}
	p = url + 8;
	if (strchr(p, '@') != NULL) {
		*why = "credentials are not supported";
		return -1;
	}
	if (*p == '[') {
		if ((hend = strchr(p, ']')) == NULL || hend == p + 1) {
			*why = "bad IPv6 address";
			return -1;
		}
		if (strspn(p + 1, "0123456789abcdefABCDEF:.") != (size_t)(hend - p - 1)) {
			*why = "bad IPv6 address";
			return -1;
		}
		rc->redis_host = xstrndup(p + 1, (size_t)(hend - p - 1));
		q = hend + 1;
	} else {
		hend = p + strcspn(p, ":/");
		if (hend == p) {
			*why = "missing host";
			return -1;
		}
		for (const char *c = p; c < hend; c++) {
			if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_') {
				*why = "bad host name";
				return -1;
			}
		}
		rc->redis_host = xstrndup(p, (size_t)(hend - p));
		q = hend;
	}
	if (*q == ':') {
		if (q[1] < '0' || q[1] > '9') {
			*why = "bad port";
			return -1;
		}
		port = strtol(q + 1, &end, 10);
		if (port < 1 || port > 65535 || (*end != '\0' && *end != '/')) {
			*why = "bad port";
			return -1;
		}
		q = end;
	}
	if (*q == '/' && q[1] != '\0') {
		if (q[1] < '0' || q[1] > '9') {
			*why = "bad database number";
			return -1;
		}
		db = strtol(q + 1, &end, 10);
		if (db < 0 || db > 1000000 || *end != '\0') {
			*why = "bad database number";
			return -1;
		}
	} else if (*q == '/')
		;
	else if (*q != '\0') {
		*why = "unexpected characters after the host";
		return -1;
	}
	rc->redis_port = (uint16_t)port;
	rc->redis_db = (int)db;
	return 0;
}

/* A Redis key or channel name: non-empty printable ASCII without spaces. */
static int
name_valid(const char *s)
{
	return revoke_id_valid(s, strlen(s));
}

/* Report msg at ptr/key. */
static void
key_error(struct jsonconf *jc, const char *ptr, const char *key, const char *msg)
{
	char *p = jsonconf_ptr_key(ptr, key);

	jsonconf_error(jc, p, "%s", msg);
	free(p);
}

/* A configured path: non-empty, resolved against base_dir. */
static void
get_path(struct jsonconf *jc, const json_t *obj, const char *ptr, const char *key,
    const char *base_dir, char **out)
{
	const char *v = NULL;

	if (jsonconf_get_string(jc, obj, ptr, key, NULL, &v) != 0 || v == NULL)
		return;
	if (v[0] == '\0')
		key_error(jc, ptr, key, "empty path");
	else
		*out = jsonconf_resolve_path(base_dir, v);
}

/* The Redis password: the file's bytes without a final newline (a file
 * only its owner may read; never in the JSON, which is world-readable). */
static void
read_password(struct jsonconf *jc, const char *ptr, struct revoke_config *rc)
{
	struct errlist errs;
	unsigned char *pw;
	size_t len = 0;

	errlist_init(&errs);
	if ((pw = keys_read_secret_file(rc->redis_password_file, &len, &errs)) == NULL) {
		key_error(jc, ptr, "redis_password_file", errs.n > 0 ? errs.msgs[0] :
		    "cannot read");
		errlist_free(&errs);
		return;
	}
	errlist_free(&errs);
	if (len > 0 && pw[len - 1] == '\n')
		len--;
	if (len > 0 && pw[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(pw, '\n', len) != NULL || memchr(pw, '\0', len) != NULL)
		key_error(jc, ptr, "redis_password_file",
		    "the file must hold one password on one line");
	else {
		rc->redis_password = xmalloc(len + 1);
		memcpy(rc->redis_password, pw, len);
		rc->redis_password[len] = '\0';
	}
	OPENSSL_cleanse(pw, len);
	free(pw);
}

struct revoke_config *
revoke_config_parse(struct jsonconf *jc, const json_t *obj, const char *ptr,
    const char *base_dir)
{
	struct revoke_config *rc = xcalloc(1, sizeof(*rc));
	const char *redis = NULL, *key, *chan, *why;
	size_t nerr = jc->errs->n;

	/* obj == NULL (no section): json_object_get() finds nothing, so
	 * every getter below yields its default. */
	if (obj != NULL && jsonconf_check_object(jc, obj, ptr, revoke_keys) != 0)
		goto out;
	rc->present = obj != NULL;
	get_path(jc, obj, ptr, "journal", base_dir, &rc->journal);
	get_path(jc, obj, ptr, "ids_file", base_dir, &rc->ids_file);
	(void)jsonconf_get_int(jc, obj, ptr, "retention_s", 1, SG_REVOKE_MAX_RETENTION_S,
	    SG_DEFAULT_REVOKE_RETENTION_S, &rc->retention_s);
	if (jsonconf_get_string(jc, obj, ptr, "redis", NULL, &redis) == 0 && redis != NULL) {
		rc->redis_url = xstrdup(redis);
		if (parse_redis_url(rc, redis, &why) != 0)
			key_error(jc, ptr, "redis", why);
	}
	if (jsonconf_get_string(jc, obj, ptr, "redis_key", SG_DEFAULT_REVOKE_REDIS_KEY,
	    &key) == 0) {
		if (!name_valid(key) || strlen(key) > 200)
			key_error(jc, ptr, "redis_key",
			    "must be 1 to 200 printable characters without spaces");
		else
			rc->redis_key = xstrdup(key);
	}
	if (jsonconf_get_string(jc, obj, ptr, "redis_channel",
	    SG_DEFAULT_REVOKE_REDIS_CHANNEL, &chan) == 0) {
		if (!name_valid(chan))
			key_error(jc, ptr, "redis_channel",
			    "must be 1 to 256 printable characters without spaces");
		else
			rc->redis_channel = xstrdup(chan);
	}
	(void)jsonconf_get_int(jc, obj, ptr, "redis_max_entries", 1,
	    SG_REVOKE_MAX_REDIS_ENTRIES, SG_DEFAULT_REVOKE_REDIS_MAX_ENTRIES,
	    &rc->redis_max_entries);
	get_path(jc, obj, ptr, "redis_password_file", base_dir, &rc->redis_password_file);
	if (rc->redis_password_file != NULL)
		read_password(jc, ptr, rc);
out:
	if (jc->errs->n != nerr) {
		revoke_config_free(rc);
		rc = NULL;
	}
	return rc;
}

static int
differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

size_t
revoke_config_restart_needed(const struct revoke_config *a, const struct revoke_config *b,
    const char **names, size_t max)
{
	const struct {
		const char *name, *x, *y;
	} keys[] = {
		{ "revocations.journal", a->journal, b->journal },
		{ "revocations.redis", a->redis_url, b->redis_url },
		{ "revocations.redis_key", a->redis_key, b->redis_key },
		{ "revocations.redis_channel", a->redis_channel, b->redis_channel },
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (differ(keys[i].x, keys[i].y) && n < max)
			names[n++] = keys[i].name;
	return n;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct revoke_config *
revoke_config_dup(const struct revoke_config *rc)
{
	struct revoke_config *d = xcalloc(1, sizeof(*d));

	*d = *rc;
	d->journal = dup_or_null(rc->journal);
	d->ids_file = dup_or_null(rc->ids_file);
	d->redis_url = dup_or_null(rc->redis_url);
	d->redis_host = dup_or_null(rc->redis_host);
	d->redis_key = dup_or_null(rc->redis_key);
	d->redis_channel = dup_or_null(rc->redis_channel);
	d->redis_password_file = dup_or_null(rc->redis_password_file);
	d->redis_password = dup_or_null(rc->redis_password);
	return d;
}

void
revoke_config_free(struct revoke_config *rc)
{
	if (rc == NULL)
		return;
	free(rc->journal);
	free(rc->ids_file);
	free(rc->redis_url);
	free(rc->redis_host);
	free(rc->redis_key);
	free(rc->redis_channel);
	free(rc->redis_password_file);
	if (rc->redis_password != NULL) {
		OPENSSL_cleanse(rc->redis_password, strlen(rc->redis_password));
		free(rc->redis_password);
	}
	free(rc);
}
