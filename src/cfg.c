/* cfg.c: the JSON configuration file. Every key is declared in a table
 * (name, type, required); values are range-checked; every problem is
 * reported with the file and a JSON pointer, and nothing is half-applied:
 * either the whole snapshot loads or cfg_load returns NULL. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <libgen.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "defaults.h"
#include "grant.h"
#include "admin.h"
#include "jsonconf.h"
#include "jsonschema.h"
#include "log.h"
#include "policy.h"
#include "qredact.h"
#include "realip.h"
#include "revoke.h"
#include "tls.h"
#include "ratelimits.h"
#include "token_config.h"
#include "xmalloc.h"

static const struct jsonconf_key top_keys[] = {
	{"listeners", JC_ARRAY, 1},
	{"upstream", JC_OBJECT, 0},	/* or "upstreams" (cfg_upstreams.c) */
	{"upstreams", JC_OBJECT, 0},
	{"default_upstream", JC_STRING, 0},
	{"upstream_routes", JC_ARRAY, 0},
	{"route_settings", JC_ARRAY, 0},
	{"limits", JC_OBJECT, 0},
	{"log", JC_OBJECT, 0},
	{"shutdown_grace_ms", JC_INTEGER, 0},
	{"policy", JC_STRING, 0},
	{"tokens", JC_OBJECT, 0},
	{"workers", JC_INTEGER, 0},
	{"admin", JC_OBJECT, 0},
	{"revocations", JC_OBJECT, 0},
	{"rate_limit", JC_OBJECT, 0},
	{"rate_limits", JC_ARRAY, 0},
	{"rate_limit_headers", JC_BOOLEAN, 0},
	{"trusted_proxies", JC_ARRAY, 0},
	{"report_only", JC_ARRAY, 0},	/* cfg_rollout.c */
	{"cors", JC_ANY, 0},		/* cfg_rollout.c: object or array */
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key rate_limit_keys[] = {
	{"key", JC_STRING, 1},
	{"per_second", JC_INTEGER, 0},
	{"per_minute", JC_INTEGER, 0},
	{"burst", JC_INTEGER, 0},
	{"max_keys", JC_INTEGER, 0},
	{"ipv6_prefix", JC_INTEGER, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key admin_keys[] = {
	{"address", JC_STRING, 1},
	{"port", JC_INTEGER, 1},
	{"token_file", JC_STRING, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key listener_keys[] = {
	{"address", JC_STRING, 1},
	{"port", JC_INTEGER, 1},
	{"tls", JC_OBJECT, 0},
	{"name", JC_STRING, 0},	/* listensock.c: socket activation */
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key upstream_keys[] = {
	{"url", JC_STRING, 1},
	{"tls", JC_OBJECT, 0},
	{"timeout_ms", JC_INTEGER, 0},
	{"max_connections", JC_INTEGER, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key limits_keys[] = {
	{"max_header_bytes", JC_INTEGER, 0},
	{"max_body_bytes", JC_INTEGER, 0},
	{"max_connections", JC_INTEGER, 0},
	{"header_timeout_ms", JC_INTEGER, 0},
	{"write_timeout_ms", JC_INTEGER, 0},
	{"max_connections_per_client", JC_INTEGER, 0},
	{"failed_auth_per_client", JC_INTEGER, 0},
	{"failed_auth_burst", JC_INTEGER, 0},
	{"body_timeout_ms", JC_INTEGER, 0},
	{"body_min_bytes_per_s", JC_INTEGER, 0},
	{"max_buffered_body_bytes", JC_INTEGER, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key log_keys[] = {
	{"access", JC_ANY, 0},		/* a path, "-" for stderr, or null for off */
	{"debug", JC_BOOLEAN, 0},
	{"redact_query", JC_ARRAY, 0},	/* qredact.c */
	{NULL, JC_ANY, 0},
};

static int
is_numeric_address(const char *a)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, a, buf) == 1 || inet_pton(AF_INET6, a, buf) == 1;
}

/* A listener's name as systemd writes it in LISTEN_FDNAMES
 * (FileDescriptorName=): 1 to 255 printable ASCII characters, no colon
 * (the separator there), unique among the listeners. */
static void
parse_listener_name(struct jsonconf *jc, const json_t *l, const char *ptr,
    const struct cfg *cf, struct cfg_listener *cl)
{
	const char *name = NULL;
	char *p;
	int bad = 0;

	/* A wrong type is reported by jsonconf_check_object already. */
	if (!json_is_string(json_object_get(l, "name")) ||
	    jsonconf_get_string(jc, l, ptr, "name", NULL, &name) != 0 || name == NULL)
		return;
	p = jsonconf_ptr_key(ptr, "name");
	for (const char *c = name; *c != '\0'; c++)
		bad |= *c < 0x21 || *c > 0x7e || *c == ':';
	if (bad || *name == '\0' || strlen(name) > 255)
		jsonconf_error(jc, p, "must be 1 to 255 printable ASCII characters "
		    "without spaces or ':' (a systemd FileDescriptorName=)");
	else {
		for (size_t i = 0; i + 1 < cf->nlisteners; i++)
			if (cf->listeners[i].name != NULL && strcmp(cf->listeners[i].name, name) == 0)
				bad = 1;
		if (bad)
			jsonconf_error(jc, p, "another listener is named \"%s\"", name);
		else
			cl->name = xstrdup(name);
	}
	free(p);
}

static void
parse_listeners(struct jsonconf *jc, const json_t *arr, struct cfg *cf)
{
	size_t i;
	json_t *l;

	if (json_array_size(arr) == 0) {
		jsonconf_error(jc, "/listeners", "at least one listener is required");
		return;
	}
	cf->listeners = xcalloc(json_array_size(arr), sizeof(*cf->listeners));
	json_array_foreach(arr, i, l) {
		char *ptr = jsonconf_ptr_index("/listeners", i);
		const char *addr;
		int64_t port;

		jsonconf_check_object(jc, l, ptr, listener_keys);
		if (json_is_object(l) &&
		    jsonconf_get_string(jc, l, ptr, "address", NULL, &addr) == 0 &&
		    jsonconf_get_int(jc, l, ptr, "port", 0, 65535, 0, &port) == 0 &&
		    addr != NULL && json_object_get(l, "port") != NULL) {
			if (!is_numeric_address(addr)) {
				char *p = jsonconf_ptr_key(ptr, "address");
				jsonconf_error(jc, p, "\"%s\" is not a numeric IPv4 or IPv6 address", addr);
				free(p);
			} else {
				struct cfg_listener *cl = &cf->listeners[cf->nlisteners++];
				json_t *tls = json_object_get(l, "tls");
				cl->address = xstrdup(addr);
				cl->port = (uint16_t)port;
				if (json_is_object(tls)) {
					char *tp = jsonconf_ptr_key(ptr, "tls");
					cl->tls = tls_listener_config_parse(jc, tls, tp, cf->dir);
					free(tp);
				}
				parse_listener_name(jc, l, ptr, cf, cl);
			}
		}
		free(ptr);
	}
}

/* Accept http://host[:port] with nothing after it but an optional "/":
 * the gateway forwards the client's path as is, so a path prefix here
 * would silently change what the policy matched. */
static void
parse_upstream_url(struct jsonconf *jc, const char *url, const char *ptr,
    struct cfg_upstream *up)
{
	const char *p = url, *host, *colon, *end;
	long port = 80;

	if (strncmp(p, "https://", 8) == 0) {
		up->https = 1;
		port = 443;
		host = p + 8;
	} else if (strncmp(p, "http://", 7) == 0)
		host = p + 7;
	else {
		jsonconf_error(jc, ptr, "must start with http:// or https://");
		return;
	}
	end = host + strcspn(host, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0) {
		jsonconf_error(jc, ptr, "must not have a path, query or fragment: the client's path is forwarded unchanged");
		return;
	}
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));
		if (rb == NULL) {
			jsonconf_error(jc, ptr, "unterminated IPv6 address");
			return;
		}
		up->host = xstrndup(host + 1, (size_t)(rb - host - 1));
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (rb + 1 < end && colon == NULL) {
			jsonconf_error(jc, ptr, "unexpected characters after the IPv6 address");
			return;
		}
	} else {
		colon = memchr(host, ':', (size_t)(end - host));
		up->host = xstrndup(host, (size_t)((colon ? colon : end) - host));
	}
	if (up->host[0] == '\0') {
		jsonconf_error(jc, ptr, "missing host");
		return;
	}
	if (colon != NULL) {
		char *e;
		errno = 0;
		port = strtol(colon + 1, &e, 10);
		if (e != end || e == colon + 1 || errno != 0 || port < 1 || port > 65535) {
			jsonconf_error(jc, ptr, "invalid port");
			return;
		}
	}
	up->port = (uint16_t)port;
	up->url = xstrdup(url);
}

/* Resolve the upstream host now, in the process that loads the
 * configuration, so that no worker ever blocks on DNS: the addresses are
 * part of the snapshot and a reload resolves the name again (as nginx
 * does without a resolver). A name that does not resolve is an error. */
static void
resolve_upstream(struct jsonconf *jc, const char *ptr, struct cfg_upstream *up)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", (unsigned)up->port);
	if ((rc = getaddrinfo(up->host, port, &hints, &res)) != 0) {
		jsonconf_error(jc, ptr, "cannot resolve \"%s\": %s", up->host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return;
	}
	for (ai = res; ai != NULL && up->naddrs < SG_UPSTREAM_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(up->addrs[0]))
			continue;
		memcpy(&up->addrs[up->naddrs], ai->ai_addr, ai->ai_addrlen);
		up->addrlens[up->naddrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (up->naddrs == 0)
		jsonconf_error(jc, ptr, "\"%s\" has no usable address", up->host);
}

void
cfg_upstream_parse_url(struct jsonconf *jc, const char *url, const char *ptr,
    struct cfg_upstream *up, int resolve)
{
	parse_upstream_url(jc, url, ptr, up);
	if (up->url != NULL && resolve)
		resolve_upstream(jc, ptr, up);
}

const char *
cfg_addr_str(const struct sockaddr_storage *sa, socklen_t salen, char *buf, size_t len)
{
	if (getnameinfo((const struct sockaddr *)sa, salen, buf, (socklen_t)len, NULL, 0,
	    NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
	return buf;
}

/* "a, b, ..." for the log: the upstream's resolved addresses. */
const char *
cfg_upstream_addrs_str(const struct cfg_upstream *up, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < up->naddrs && o < len; i++) {
		char host[NI_MAXHOST];

		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
		    cfg_addr_str(&up->addrs[i], up->addrlens[i], host, sizeof(host)));
	}
	return buf;
}

/* Same upstream addresses, in the same order. */
int
cfg_upstream_same_addrs(const struct cfg_upstream *a, const struct cfg_upstream *b)
{
	if (a->naddrs != b->naddrs)
		return 0;
	for (size_t i = 0; i < a->naddrs; i++)
		if (a->addrlens[i] != b->addrlens[i] ||
		    memcmp(&a->addrs[i], &b->addrs[i], a->addrlens[i]) != 0)
			return 0;
	return 1;
}

static void
parse_upstream(struct jsonconf *jc, const json_t *o, struct cfg *cf, int resolve)
{
	const char *url;

	jsonconf_check_object(jc, o, "/upstream", upstream_keys);
	if (jsonconf_get_string(jc, o, "/upstream", "url", NULL, &url) == 0 && url) {
		cfg_upstream_parse_url(jc, url, "/upstream/url", &cf->upstream, resolve);
	}
	json_t *tls = json_object_get(o, "tls");
	if (cf->upstream.https) {
		/* Verification against the system store by default. */
		json_t *empty = json_object();
		cf->upstream.tls = tls_client_config_parse(jc, json_is_object(tls) ? tls : empty,
		    "/upstream/tls", cf->dir);
		json_decref(empty);
	} else if (tls != NULL)
		jsonconf_error(jc, "/upstream/tls", "only for an https:// upstream");
	jsonconf_get_int(jc, o, "/upstream", "timeout_ms", 1, 3600 * 1000,
	    SG_DEFAULT_UPSTREAM_TIMEOUT_MS, &cf->upstream.timeout_ms);
	jsonconf_get_int(jc, o, "/upstream", "max_connections", 1, 65536,
	    SG_DEFAULT_UPSTREAM_MAX_CONNECTIONS, &cf->upstream.max_connections);
}

static void
parse_limits(struct jsonconf *jc, const json_t *o, struct cfg *cf)
{
	struct cfg_limits *l = &cf->limits;
	static const json_t *empty;

	if (o == NULL) {
		if (empty == NULL)
			empty = json_object();
		o = empty;
	} else
		jsonconf_check_object(jc, o, "/limits", limits_keys);
	jsonconf_get_int(jc, o, "/limits", "max_header_bytes", 256, 1024 * 1024,
	    SG_DEFAULT_MAX_HEADER_BYTES, &l->max_header_bytes);
	jsonconf_get_int(jc, o, "/limits", "max_body_bytes", 0, INT64_C(1) << 32,
	    SG_DEFAULT_MAX_BODY_BYTES, &l->max_body_bytes);
	jsonconf_get_int(jc, o, "/limits", "max_connections", 1, 1000000,
	    SG_DEFAULT_MAX_CONNECTIONS, &l->max_connections);
	jsonconf_get_int(jc, o, "/limits", "header_timeout_ms", 1, 3600 * 1000,
	    SG_DEFAULT_HEADER_TIMEOUT_MS, &l->header_timeout_ms);
	jsonconf_get_int(jc, o, "/limits", "write_timeout_ms", 1, 3600 * 1000,
	    SG_DEFAULT_WRITE_TIMEOUT_MS, &l->write_timeout_ms);
	/* By default a fraction of max_connections: it takes that many
	 * addresses to fill every slot. */
	jsonconf_get_int(jc, o, "/limits", "max_connections_per_client", 1, 1000000,
	    l->max_connections / SG_DEFAULT_CONNECTIONS_PER_CLIENT_DIV > 0 ?
	    l->max_connections / SG_DEFAULT_CONNECTIONS_PER_CLIENT_DIV : 1,
	    &l->max_connections_per_client);
	if (l->max_connections_per_client > l->max_connections)
		jsonconf_error(jc, "/limits/max_connections_per_client",
		    "must not exceed max_connections (%" PRId64 ")", l->max_connections);
	jsonconf_get_int(jc, o, "/limits", "failed_auth_per_client", 0, 1000000,
	    SG_DEFAULT_FAILED_AUTH_PER_S, &l->failed_auth_per_s);
	jsonconf_get_int(jc, o, "/limits", "failed_auth_burst", 1, 1000000,
	    SG_DEFAULT_FAILED_AUTH_BURST, &l->failed_auth_burst);
	jsonconf_get_int(jc, o, "/limits", "body_timeout_ms", 1, 3600 * 1000,
	    SG_DEFAULT_BODY_TIMEOUT_MS, &l->body_timeout_ms);
	jsonconf_get_int(jc, o, "/limits", "body_min_bytes_per_s", 0, INT64_C(1) << 32,
	    SG_DEFAULT_BODY_MIN_BYTES_PER_S, &l->body_min_bytes_per_s);
	jsonconf_get_int(jc, o, "/limits", "max_buffered_body_bytes", 1024, INT64_C(1) << 40,
	    SG_DEFAULT_MAX_BUFFERED_BODY_BYTES, &l->max_buffered_body_bytes);
}

static void
parse_log(struct jsonconf *jc, const json_t *o, struct cfg *cf)
{
	json_t *access;

	cf->access_log = xstrdup("-");
	cf->redact_query = qredact_from_json(jc, o ? json_object_get(o, "redact_query") : NULL,
	    "/log/redact_query");
	if (o == NULL)
		return;
	jsonconf_check_object(jc, o, "/log", log_keys);
	jsonconf_get_bool(jc, o, "/log", "debug", 0, &cf->debug);
	access = json_object_get(o, "access");
	if (access == NULL)
		return;
	free(cf->access_log);
	cf->access_log = NULL;
	if (json_is_null(access))
		return;
	if (!json_is_string(access) || json_string_length(access) == 0 ||
	    strlen(json_string_value(access)) != json_string_length(access)) {
		jsonconf_error(jc, "/log/access", "must be a file path, \"-\" for stderr, or null");
		return;
	}
	if (strcmp(json_string_value(access), "-") == 0)
		cf->access_log = xstrdup("-");
	else
		cf->access_log = cfg_resolve_path(cf, json_string_value(access));
}

/* Compile every action's body schema once (actions sharing a schema share
 * the compiled form), so that a schema that does not compile fails the
 * configuration check rather than a request. */
static void
compile_body_schemas(struct jsonconf *jc, struct cfg *cf)
{
	size_t nact = policy_action_count(cf->policy);
	const char *dir = policy_schemas_dir(cf->policy);

	cf->body_schema = xcalloc(nact ? nact : 1, sizeof(*cf->body_schema));
	cf->schemas = xcalloc(nact ? nact : 1, sizeof(*cf->schemas));
	for (size_t i = 0; i < nact; i++) {
		const struct policy_action *a = policy_action_at(cf->policy, i);
		struct jschema *js = NULL;
		char *file;

		if (a->body_schema == NULL || dir == NULL)
			continue;
		xasprintf(&file, "%s.json", a->body_schema);
		for (size_t k = 0; k < cf->nschemas && js == NULL; k++)
			if (strcmp(jschema_name(cf->schemas[k]), file) == 0)
				js = cf->schemas[k];
		if (js == NULL && (js = jschema_compile_file(dir, file, 0, jc->errs)) != NULL)
			cf->schemas[cf->nschemas++] = js;
		free(file);
		cf->body_schema[i] = js;
	}
}

/* The policy file (its own errors name it) and the token keys. A policy
 * with protected actions needs keys: without them every protected request
 * would be refused, which is a configuration mistake, not a policy. */
static void
parse_policy_and_tokens(struct jsonconf *jc, const json_t *root, struct cfg *cf)
{
	const char *pp = NULL;
	json_t *tokens = json_object_get(root, "tokens");

	if (json_is_object(tokens))
		cf->tokens = token_config_parse(jc, tokens, "/tokens", cf->dir);
	if (jsonconf_get_string(jc, root, "", "policy", NULL, &pp) != 0 || pp == NULL)
		return;
	cf->policy_path = cfg_resolve_path(cf, pp);
	struct jsonconf pjc = {.file = cf->policy_path, .errs = jc->errs};
	cf->policy = policy_load(&pjc, cf->policy_path);
	if (cf->policy == NULL)
		return;
	compile_body_schemas(&pjc, cf);
	cf->grants = grantmap_new(cf->policy);
	if (json_is_object(tokens))
		return;
	for (size_t i = 0; i < policy_action_count(cf->policy); i++) {
		if (!policy_action_at(cf->policy, i)->public) {
			jsonconf_error(jc, "/tokens", "required: the policy has protected actions");
			return;
		}
	}
}

/* The admin listener serves health, readiness, metrics and revocations;
 * it is meant for loopback, and a non-loopback address is refused so that
 * it cannot be exposed by accident. */
static void
parse_admin(struct jsonconf *jc, const json_t *o, struct cfg *cf)
{
	const char *addr = NULL, *tf = NULL;
	int64_t port = 0;

	if (o == NULL)
		return;
	jsonconf_check_object(jc, o, "/admin", admin_keys);
	if (jsonconf_get_string(jc, o, "/admin", "address", NULL, &addr) != 0 || addr == NULL ||
	    jsonconf_get_int(jc, o, "/admin", "port", 1, 65535, 0, &port) != 0)
		return;
	if (strcmp(addr, "127.0.0.1") != 0 && strcmp(addr, "::1") != 0 &&
	    strncmp(addr, "127.", 4) != 0) {
		jsonconf_error(jc, "/admin/address", "must be a loopback address");
		return;
	}
	cf->admin.address = xstrdup(addr);
	cf->admin.port = (uint16_t)port;
	if (jsonconf_get_string(jc, o, "/admin", "token_file", NULL, &tf) == 0 && tf != NULL) {
		char *path = cfg_resolve_path(cf, tf);
		cf->admin.token = admin_token_load(path, jc->errs);
		free(path);
	}
}

/* "rate_limit": {"key": "client" | "subject" | "token_id", "per_second" or
 * "per_minute" (exactly one), "burst" (default: the per_second or
 * per_minute figure), "max_keys", "ipv6_prefix"}. */
static void
parse_rate_limit(struct jsonconf *jc, const json_t *o, struct cfg *cf)
{
	struct cfg_rate_limit *rl = &cf->rate_limit;
	const char *key = NULL;
	int has_s = json_object_get(o, "per_second") != NULL;
	int has_m = json_object_get(o, "per_minute") != NULL;
	int64_t rate = 0, burst = 0;

	jsonconf_check_object(jc, o, "/rate_limit", rate_limit_keys);
	if (jsonconf_get_string(jc, o, "/rate_limit", "key", NULL, &key) == 0 && key != NULL) {
		if (strcmp(key, "client") == 0)
			rl->key = CFG_RATE_CLIENT;
		else if (strcmp(key, "subject") == 0)
			rl->key = CFG_RATE_SUBJECT;
		else if (strcmp(key, "token_id") == 0)
			rl->key = CFG_RATE_TOKEN_ID;
		else
			jsonconf_error(jc, "/rate_limit/key",
			    "must be \"client\", \"subject\" or \"token_id\"");
	}
	if (has_s == has_m)
		jsonconf_error(jc, "/rate_limit", "needs exactly one of \"per_second\" and \"per_minute\"");
	else if (has_s && jsonconf_get_int(jc, o, "/rate_limit", "per_second", 1, 1000000, 0,
	    &rate) == 0)
		rl->interval_us = 1000000 / (uint64_t)rate;
	else if (has_m && jsonconf_get_int(jc, o, "/rate_limit", "per_minute", 1, 1000000, 0,
	    &rate) == 0)
		rl->interval_us = 60000000 / (uint64_t)rate;
	if (jsonconf_get_int(jc, o, "/rate_limit", "burst", 1, 1000000, rate > 0 ? rate : 1,
	    &burst) == 0)
		rl->burst = (uint32_t)burst;
	jsonconf_get_int(jc, o, "/rate_limit", "max_keys", 1024, 10000000,
	    SG_DEFAULT_RATE_LIMIT_MAX_KEYS, &rl->max_keys);
	jsonconf_get_int(jc, o, "/rate_limit", "ipv6_prefix", 0, 128,
	    SG_DEFAULT_RATE_LIMIT_IPV6_PREFIX, &rl->ipv6_prefix);
	if (rl->interval_us == 0)
		rl->key = CFG_RATE_NONE;
}

/* "trusted_proxies": ["10.0.0.0/8", "::1", ...], each an address or a
 * CIDR prefix (realip_parse_net). */
static void
parse_trusted_proxies(struct jsonconf *jc, const json_t *a, struct cfg *cf)
{
	size_t i;
	json_t *v;

	if (json_array_size(a) > SG_MAX_TRUSTED_PROXIES) {
		jsonconf_error(jc, "/trusted_proxies", "more than %d entries", SG_MAX_TRUSTED_PROXIES);
		return;
	}
	cf->trusted_proxies = xcalloc(json_array_size(a) + 1, sizeof(*cf->trusted_proxies));
	json_array_foreach(a, i, v) {
		char *ptr = jsonconf_ptr_index("/trusted_proxies", i);
		const char *why = NULL;

		if (!json_is_string(v))
			jsonconf_error(jc, ptr, "must be a string");
		else if (realip_parse_net(json_string_value(v),
		    &cf->trusted_proxies[cf->ntrusted_proxies], &why) != 0)
			jsonconf_error(jc, ptr, "\"%s\": %s", json_string_value(v), why);
		else
			cf->ntrusted_proxies++;
		free(ptr);
	}
}

char *
cfg_resolve_path(const struct cfg *cf, const char *p)
{
	return jsonconf_resolve_path(cf->dir, p);
}

struct cfg *
cfg_load(const char *path, struct errlist *errs)
{
	return cfg_load_flags(path, errs, 0);
}

struct cfg *
cfg_load_flags(const char *path, struct errlist *errs, unsigned flags)
{
	struct jsonconf jc = {.file = path, .errs = errs};
	size_t nerr = errs->n;
	struct cfg *cf;
	json_t *root;
	char *tmp;

	if ((root = jsonconf_load_file(&jc, path)) == NULL)
		return NULL;
	cf = xcalloc(1, sizeof(*cf));
	cf->refcnt = 1;
	cf->rate_limit.max_keys = SG_DEFAULT_RATE_LIMIT_MAX_KEYS;
	cf->rate_limit.ipv6_prefix = SG_DEFAULT_RATE_LIMIT_IPV6_PREFIX;
	cf->path = xstrdup(path);
	tmp = xstrdup(path);
	cf->dir = xstrdup(dirname(tmp));
	free(tmp);

	/* Go on after a problem so that every error is reported at once. */
	jsonconf_check_object(&jc, root, "", top_keys);
	if (json_is_object(root)) {
		json_t *listeners = json_object_get(root, "listeners");
		json_t *upstream = json_object_get(root, "upstream");
		if (json_is_array(listeners))
			parse_listeners(&jc, listeners, cf);
		if (json_is_object(upstream))
			parse_upstream(&jc, upstream, cf, !(flags & CFG_LOAD_NO_RESOLVE));
		json_t *limits = json_object_get(root, "limits");
		json_t *log = json_object_get(root, "log");
		parse_limits(&jc, json_is_object(limits) ? limits : NULL, cf);
		parse_log(&jc, json_is_object(log) ? log : NULL, cf);
		jsonconf_get_int(&jc, root, "", "shutdown_grace_ms", 0, 3600 * 1000,
		    SG_DEFAULT_SHUTDOWN_GRACE_MS, &cf->shutdown_grace_ms);
		jsonconf_get_int(&jc, root, "", "workers", 0, 256, 0, &cf->workers);
		if (cf->workers == 0) {
			/* The cores this process may run on (taskset, cgroup
			 * cpusets), not all the machine's. */
			cpu_set_t set;
			long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) :
			    sysconf(_SC_NPROCESSORS_ONLN);
			cf->workers = n > 0 ? n : 1;
		}
		parse_admin(&jc, json_object_get(root, "admin"), cf);
		json_t *rate = json_object_get(root, "rate_limit");
		if (json_is_object(rate))
			parse_rate_limit(&jc, rate, cf);
		json_t *proxies = json_object_get(root, "trusted_proxies");
		if (json_is_array(proxies))
			parse_trusted_proxies(&jc, proxies, cf);
		json_t *rv = json_object_get(root, "revocations");
		cf->revocations = revoke_config_parse(&jc, json_is_object(rv) ? rv : NULL,
		    "/revocations", cf->dir);
	}
	if (json_is_object(root))
		parse_policy_and_tokens(&jc, root, cf);
	/* After the policy: routes name its actions. */
	if (json_is_object(root))
		cfg_upstreams_parse(&jc, root, cf, !(flags & CFG_LOAD_NO_RESOLVE));
	if (json_is_object(root))
		cfg_rollout_parse(&jc, root, cf);
	/* After the policy and revocations: limits name actions and use its
	 * Redis. */
	if (json_is_object(root)) {
		int headers = 0;

		cf->ratelimits = ratelimits_parse(&jc, json_object_get(root, "rate_limits"),
		    "/rate_limits", cf->policy, cf->revocations != NULL &&
		    cf->revocations->redis_host != NULL);
		jsonconf_get_bool(&jc, root, "", "rate_limit_headers", 0, &headers);
		if (cf->ratelimits != NULL)
			cf->ratelimits->headers = headers;
	}
	/* Tokens that cannot be revoked only when the operator says so. */
	if (cf->tokens != NULL && cf->tokens->require_id < 0)
		cf->tokens->require_id = cf->revocations != NULL && cf->revocations->present;
	/* The revocation store bounds entries of unknown expiry by how long
	 * an accepted token may live (revoke.h). */
	if (cf->tokens != NULL && cf->revocations != NULL && cf->tokens->opts.max_lifetime_s > 0)
		cf->revocations->token_life_s = cf->tokens->opts.max_lifetime_s +
		    2 * cf->tokens->opts.leeway_s;
	json_decref(root);
	if (errs->n != nerr) {
		cfg_free(cf);
		return NULL;
	}
	return cf;
}

void
cfg_free(struct cfg *cf)
{
	if (cf == NULL)
		return;
	for (size_t i = 0; i < cf->nlisteners; i++) {
		free(cf->listeners[i].address);
		free(cf->listeners[i].name);
		tls_listener_config_free(cf->listeners[i].tls);
	}
	free(cf->listeners);
	cfg_upstreams_free(&cf->ups);
	cfg_rollout_free(cf);
	tls_client_config_free(cf->upstream.tls);
	free(cf->upstream.url);
	free(cf->upstream.host);
	free(cf->trusted_proxies);
	free(cf->access_log);
	qredact_free(cf->redact_query);
	for (size_t i = 0; i < cf->nschemas; i++)
		jschema_free(cf->schemas[i]);
	free(cf->schemas);
	free(cf->body_schema);
	grantmap_free(cf->grants);
	policy_free(cf->policy);
	token_config_free(cf->tokens);
	free(cf->policy_path);
	free(cf->admin.address);
	admin_token_free(cf->admin.token);
	revoke_config_free(cf->revocations);
	ratelimits_free(cf->ratelimits);
	free(cf->path);
	free(cf->dir);
	free(cf);
}

struct cfg *
cfg_ref(struct cfg *cf)
{
	__atomic_add_fetch(&cf->refcnt, 1, __ATOMIC_RELAXED);
	return cf;
}

void
cfg_unref(struct cfg *cf)
{
	if (cf != NULL && __atomic_sub_fetch(&cf->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		cfg_free(cf);
}

int
cfg_unref_last(struct cfg *cf)
{
	return cf != NULL && __atomic_sub_fetch(&cf->refcnt, 1, __ATOMIC_ACQ_REL) == 0;
}

int
cfg_same_listeners(const struct cfg *a, const struct cfg *b)
{
	if (a->nlisteners != b->nlisteners)
		return 0;
	for (size_t i = 0; i < a->nlisteners; i++)
		if (a->listeners[i].port != b->listeners[i].port ||
		    (a->listeners[i].tls == NULL) != (b->listeners[i].tls == NULL) ||
		    strcmp(a->listeners[i].address, b->listeners[i].address) != 0)
			return 0;
	return 1;
}
