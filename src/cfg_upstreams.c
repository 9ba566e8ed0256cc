/* cfg_upstreams.c: the "upstreams", "default_upstream" and
 * "upstream_routes" configuration keys (see cfg.h). Everything a request
 * needs to find its upstream is decided here, once per load: the action
 * rules become an array indexed by action, so routing costs the request
 * path one array read (path prefix rules, when there are any, a compare
 * per rule for requests no action rule placed). */
#include "config.h"

#include <fnmatch.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "balance.h"
#include "cfg.h"
#include "defaults.h"
#include "jsonconf.h"
#include "policy.h"
#include "tls.h"
#include "xmalloc.h"

static const struct jsonconf_key group_keys[] = {
	{"servers", JC_ARRAY, 1},
	{"balance", JC_STRING, 0},
	{"timeout_ms", JC_INTEGER, 0},
	{"connect_timeout_ms", JC_INTEGER, 0},
	{"max_connections", JC_INTEGER, 0},
	{"tls", JC_OBJECT, 0},
	{"retries", JC_INTEGER, 0},
	{"outlier", JC_OBJECT, 0},
	{"health_check", JC_OBJECT, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key health_keys[] = {
	{"path", JC_STRING, 1},
	{"interval_ms", JC_INTEGER, 0},
	{"timeout_ms", JC_INTEGER, 0},
	{"healthy_threshold", JC_INTEGER, 0},
	{"unhealthy_threshold", JC_INTEGER, 0},
	{"expected_status", JC_ARRAY, 0},
	{"host", JC_STRING, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key outlier_keys[] = {
	{"consecutive_failures", JC_INTEGER, 0},
	{"window_ms", JC_INTEGER, 0},
	{"base_ejection_ms", JC_INTEGER, 0},
	{"max_ejection_ms", JC_INTEGER, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key server_keys[] = {
	{"url", JC_STRING, 1},
	{"weight", JC_INTEGER, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key setting_keys[] = {
	{"actions", JC_ARRAY, 1},
	{"timeout_ms", JC_INTEGER, 0},
	{"max_body_bytes", JC_INTEGER, 0},
	{NULL, JC_ANY, 0},
};

static const struct jsonconf_key route_keys[] = {
	{"actions", JC_ARRAY, 0},
	{"path_prefix", JC_STRING, 0},
	{"upstream", JC_STRING, 1},
	{NULL, JC_ANY, 0},
};

/* Names appear in logs, metrics labels and explain output: keep them
 * plain. */
static int
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SG_UPSTREAM_NAME_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") == n;
}

static uint32_t
group_find(const struct cfg_upstreams *u, const char *name)
{
	for (size_t i = 0; i < u->ngroups; i++)
		if (strcmp(u->groups[i].name, name) == 0)
			return (uint32_t)i;
	return CFG_UPSTREAM_NONE;
}

/* Two entries for the same host and port (the host compared without
 * case, as DNS does) would be one server counted twice in the balance. */
static int
same_server(const struct cfg_upstream *a, const struct cfg_upstream *b)
{
	return a->host != NULL && b->host != NULL && a->https == b->https &&
	    a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

/* A name with several addresses gives one server per address (balanced,
 * ejected and retried on its own, as nginx does for a name in an
 * upstream block), each with the entry's weight; re-resolved on reload.
 * Past SG_UPSTREAM_MAX_SERVERS the entry stays one server whose
 * addresses are tried in turn. */
static void
expand_addresses(struct cfg_upstream_group *g)
{
	struct cfg_upstream **servers;
	int64_t *weights;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < g->nservers; i++)
		n += g->servers[i]->naddrs > 1 ? g->servers[i]->naddrs : 1;
	if (n == g->nservers || n > SG_UPSTREAM_MAX_SERVERS)
		return;
	servers = xcalloc(n, sizeof(*servers));
	weights = xcalloc(n, sizeof(*weights));
	for (size_t i = 0; i < g->nservers; i++) {
		struct cfg_upstream *src = g->servers[i];

		if (src->naddrs <= 1) {
			weights[k] = g->weights[i];
			servers[k++] = src;
			continue;
		}
		for (size_t a = 0; a < src->naddrs; a++) {
			struct cfg_upstream *cu = xcalloc(1, sizeof(*cu));
			char host[NI_MAXHOST];

			*cu = *src;
			cu->url = xstrdup(src->url);
			cu->host = xstrdup(src->host);
			memset(cu->addrs, 0, sizeof(cu->addrs));
			memset(cu->addrlens, 0, sizeof(cu->addrlens));
			memcpy(&cu->addrs[0], &src->addrs[a], src->addrlens[a]);
			cu->addrlens[0] = src->addrlens[a];
			cu->naddrs = 1;
			xasprintf(&cu->label, "%s (%s)", src->url,
			    cfg_addr_str(&src->addrs[a], src->addrlens[a], host, sizeof(host)));
			weights[k] = g->weights[i];
			servers[k++] = cu;
		}
		free(src->url);
		free(src->host);
		free(src);
	}
	free(g->servers);
	free(g->weights);
	g->servers = servers;
	g->weights = weights;
	g->nservers = n;
}

/* The request line and Host header of a check are written as given:
 * printable ASCII without spaces, so nothing can be smuggled into them. */
static int
plain_token(const char *s, int path)
{
	size_t n = strlen(s);

	if (n == 0 || n > 1024 || (path && s[0] != '/'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    (path && s[i] == '#') || (!path && strchr("/?#@\\", s[i]) != NULL))
			return 0;
	return 1;
}

/* One entry of expected_status: a status (200) or a range ("200-399"). */
static int
parse_status(const json_t *v, int *lo, int *hi)
{
	const char *s = json_string_value(v);
	char *end;
	long a, b;

	if (json_is_integer(v)) {
		*lo = *hi = (int)json_integer_value(v);
		return json_integer_value(v) >= 100 && json_integer_value(v) <= 599 ? 0 : -1;
	}
	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	a = strtol(s, &end, 10);
	if (*end != '-' || end[1] < '0' || end[1] > '9')
		return -1;
	b = strtol(end + 1, &end, 10);
	if (*end != '\0' || a < 100 || b > 599 || a > b)
		return -1;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
}

static struct cfg_health_check *
parse_health(struct jsonconf *jc, const json_t *o, const char *gptr)
{
	char *ptr = jsonconf_ptr_key(gptr, "health_check");
	struct cfg_health_check *h = xcalloc(1, sizeof(*h));
	const json_t *st = json_object_get(o, "expected_status");
	const char *path = NULL, *host = NULL;

	jsonconf_check_object(jc, o, ptr, health_keys);
	if (jsonconf_get_string(jc, o, ptr, "path", NULL, &path) == 0 && path != NULL) {
		if (!plain_token(path, 1)) {
			char *pp = jsonconf_ptr_key(ptr, "path");
			jsonconf_error(jc, pp, "must start with '/' and be printable ASCII "
			    "without spaces or '#'");
			free(pp);
		}
		h->path = xstrdup(path);
	}
	if (jsonconf_get_string(jc, o, ptr, "host", NULL, &host) == 0 && host != NULL) {
		if (!plain_token(host, 0)) {
			char *hp = jsonconf_ptr_key(ptr, "host");
			jsonconf_error(jc, hp, "must be a host name (and port): printable ASCII "
			    "without spaces, '/', '?', '#', '@' or '\\'");
			free(hp);
		}
		h->host = xstrdup(host);
	}
	jsonconf_get_int(jc, o, ptr, "interval_ms", 100, 3600 * 1000,
	    SG_DEFAULT_HEALTH_INTERVAL_MS, &h->interval_ms);
	jsonconf_get_int(jc, o, ptr, "timeout_ms", 10, 600 * 1000,
	    SG_DEFAULT_HEALTH_TIMEOUT_MS, &h->timeout_ms);
	jsonconf_get_int(jc, o, ptr, "healthy_threshold", 1, 100,
	    SG_DEFAULT_HEALTH_HEALTHY, &h->healthy);
	jsonconf_get_int(jc, o, ptr, "unhealthy_threshold", 1, 100,
	    SG_DEFAULT_HEALTH_UNHEALTHY, &h->unhealthy);
	if (h->timeout_ms > h->interval_ms)
		jsonconf_error(jc, ptr, "timeout_ms is more than interval_ms");
	if (st == NULL) {
		/* Any answer that is not an error or a redirect gone wrong. */
		h->status_lo[0] = 200;
		h->status_hi[0] = 399;
		h->nstatus = 1;
	} else if (json_is_array(st)) {
		char *sp = jsonconf_ptr_key(ptr, "expected_status");
		if (json_array_size(st) == 0 || json_array_size(st) > CFG_HEALTH_MAX_STATUS)
			jsonconf_error(jc, sp, "1 to %d statuses or ranges", CFG_HEALTH_MAX_STATUS);
		for (size_t i = 0; i < json_array_size(st) && i < CFG_HEALTH_MAX_STATUS; i++) {
			if (parse_status(json_array_get(st, i), &h->status_lo[h->nstatus],
			    &h->status_hi[h->nstatus]) == 0) {
				h->nstatus++;
				continue;
			}
			char *ip = jsonconf_ptr_index(sp, i);
			jsonconf_error(jc, ip, "must be a status 100 to 599 or a range such as "
			    "\"200-299\"");
			free(ip);
		}
		free(sp);
	}
	free(ptr);
	return h;
}

void
cfg_health_check_free(struct cfg_health_check *h)
{
	if (h == NULL)
		return;
	free(h->path);
	free(h->host);
	free(h);
}

int
cfg_health_status_ok(const struct cfg_health_check *h, int status)
{
	for (size_t i = 0; i < h->nstatus; i++)
		if (status >= h->status_lo[i] && status <= h->status_hi[i])
			return 1;
	return 0;
}

static void
parse_group(struct jsonconf *jc, const char *name, const json_t *o, struct cfg *cf,
    int resolve, struct cfg_upstream_group *g)
{
	char *ptr = jsonconf_ptr_key("/upstreams", name);
	char *sptr = jsonconf_ptr_key(ptr, "servers");
	const char *bal;
	const json_t *servers = json_object_get(o, "servers"), *tls = json_object_get(o, "tls");
	int64_t timeout_ms, connect_ms, max_conns, ofail = SG_DEFAULT_OUTLIER_FAILURES,
	    owin = SG_DEFAULT_OUTLIER_WINDOW_MS, obase = SG_DEFAULT_OUTLIER_BASE_MS,
	    omax = SG_DEFAULT_OUTLIER_MAX_MS;
	const json_t *outlier = json_object_get(o, "outlier");
	const json_t *health = json_object_get(o, "health_check");
	int any_https = 0;
	enum balance_kind kind = BALANCE_ROUND_ROBIN;

	g->name = xstrdup(name);
	if (!valid_name(name))
		jsonconf_error(jc, ptr, "an upstream name is 1 to %d letters, digits, '_', '.' or '-'",
		    SG_UPSTREAM_NAME_MAX);
	if (jsonconf_check_object(jc, o, ptr, group_keys) != 0 && !json_is_array(servers))
		goto out;
	if (jsonconf_get_string(jc, o, ptr, "balance", "round_robin", &bal) == 0 &&
	    balance_kind_parse(bal, &kind) != 0) {
		char *bptr = jsonconf_ptr_key(ptr, "balance");
		jsonconf_error(jc, bptr, "\"%s\" is not supported (round_robin, least_request)", bal);
		free(bptr);
	}
	g->balance = (int)kind;
	jsonconf_get_int(jc, o, ptr, "timeout_ms", 1, 3600 * 1000,
	    SG_DEFAULT_UPSTREAM_TIMEOUT_MS, &timeout_ms);
	/* Unset: timeout_ms bounds connecting too, as for "upstream". */
	jsonconf_get_int(jc, o, ptr, "connect_timeout_ms", 1, 3600 * 1000, 0, &connect_ms);
	jsonconf_get_int(jc, o, ptr, "max_connections", 1, 65536,
	    SG_DEFAULT_UPSTREAM_MAX_CONNECTIONS, &max_conns);
	jsonconf_get_int(jc, o, ptr, "retries", 0, SG_UPSTREAM_MAX_RETRIES,
	    SG_DEFAULT_UPSTREAM_RETRIES, &g->retries);
	if (json_is_object(outlier)) {
		char *optr = jsonconf_ptr_key(ptr, "outlier");
		jsonconf_check_object(jc, outlier, optr, outlier_keys);
		jsonconf_get_int(jc, outlier, optr, "consecutive_failures", 0, 1000,
		    SG_DEFAULT_OUTLIER_FAILURES, &ofail);
		jsonconf_get_int(jc, outlier, optr, "window_ms", 1, 3600 * 1000,
		    SG_DEFAULT_OUTLIER_WINDOW_MS, &owin);
		jsonconf_get_int(jc, outlier, optr, "base_ejection_ms", 1, 3600 * 1000,
		    SG_DEFAULT_OUTLIER_BASE_MS, &obase);
		jsonconf_get_int(jc, outlier, optr, "max_ejection_ms", 1, 3600 * 1000,
		    SG_DEFAULT_OUTLIER_MAX_MS, &omax);
		if (omax < obase)
			jsonconf_error(jc, optr, "max_ejection_ms is less than base_ejection_ms");
		free(optr);
	}
	if (json_is_object(health))
		g->health = parse_health(jc, health, ptr);
	if (!json_is_array(servers))
		goto out;
	if (json_array_size(servers) == 0 || json_array_size(servers) > SG_UPSTREAM_MAX_SERVERS) {
		jsonconf_error(jc, sptr, "1 to %d servers", SG_UPSTREAM_MAX_SERVERS);
		goto out;
	}
	g->nservers = json_array_size(servers);
	g->servers = xcalloc(g->nservers, sizeof(*g->servers));
	g->weights = xcalloc(g->nservers, sizeof(*g->weights));
	for (size_t i = 0; i < g->nservers; i++) {
		const json_t *so = json_array_get(servers, i);
		char *optr = jsonconf_ptr_index(sptr, i), *uptr = jsonconf_ptr_key(optr, "url");
		struct cfg_upstream *cu = g->servers[i] = xcalloc(1, sizeof(*cu));
		const char *url;

		cu->timeout_ms = timeout_ms;
		cu->connect_timeout_ms = connect_ms;
		cu->max_connections = max_conns;
		cu->outlier_failures = ofail;
		cu->outlier_window_ms = owin;
		cu->outlier_base_ms = obase;
		cu->outlier_max_ms = omax;
		g->weights[i] = 1;
		if (jsonconf_check_object(jc, so, optr, server_keys) == 0 || json_is_object(so)) {
			jsonconf_get_int(jc, so, optr, "weight", 1, SG_UPSTREAM_MAX_WEIGHT, 1,
			    &g->weights[i]);
			if (jsonconf_get_string(jc, so, optr, "url", NULL, &url) == 0 && url != NULL)
				cfg_upstream_parse_url(jc, url, uptr, cu, resolve);
		}
		any_https |= cu->https;
		for (size_t j = 0; j < i; j++)
			if (same_server(g->servers[j], cu)) {
				char *dptr = jsonconf_ptr_index(sptr, j);
				jsonconf_error(jc, uptr, "the same server as %s", dptr);
				free(dptr);
				break;
			}
		free(uptr);
		free(optr);
	}
	expand_addresses(g);
	if (any_https) {
		/* Verification against the system store by default. */
		json_t *empty = json_object();
		char *tptr = jsonconf_ptr_key(ptr, "tls");
		g->tls = tls_client_config_parse(jc, json_is_object(tls) ? tls : empty, tptr, cf->dir);
		free(tptr);
		json_decref(empty);
		for (size_t i = 0; i < g->nservers; i++)
			if (g->servers[i]->https)
				g->servers[i]->tls = g->tls;
	} else if (tls != NULL) {
		char *tptr = jsonconf_ptr_key(ptr, "tls");
		jsonconf_error(jc, tptr, "only for https:// servers");
		free(tptr);
	}
out:
	free(sptr);
	free(ptr);
}

/* An action glob: the characters of action names plus '*'. */
static int
valid_glob(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-*") == n;
}

/* A path prefix compared with the request target byte for byte: no
 * query, fragment, percent-encoding or dot segments, which would make
 * a prefix that never matches what it seems to. */
static int
valid_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || s[0] != '/' || strstr(s, "/.") != NULL || strstr(s, "//") != NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    strchr("?#%\\", s[i]) != NULL)
			return 0;
	return 1;
}

static void
parse_routes(struct jsonconf *jc, const json_t *routes, struct cfg *cf)
{
	struct cfg_upstreams *u = &cf->ups;
	size_t n = json_array_size(routes), nact = cf->policy != NULL ?
	    policy_action_count(cf->policy) : 0;

	u->nactions = nact;
	u->action_group = xcalloc(nact > 0 ? nact : 1, sizeof(*u->action_group));
	for (size_t a = 0; a < nact; a++)
		u->action_group[a] = CFG_UPSTREAM_NONE;
	u->path_routes = xcalloc(n > 0 ? n : 1, sizeof(*u->path_routes));
	for (size_t i = 0; i < n; i++) {
		const json_t *r = json_array_get(routes, i);
		char *ptr = jsonconf_ptr_index("/upstream_routes", i);
		const json_t *acts = json_object_get(r, "actions");
		const char *name = NULL, *prefix = NULL;
		uint32_t g = CFG_UPSTREAM_NONE;

		if (jsonconf_check_object(jc, r, ptr, route_keys) != 0 && !json_is_object(r))
			goto next;
		if (jsonconf_get_string(jc, r, ptr, "upstream", NULL, &name) == 0 && name != NULL &&
		    (g = group_find(u, name)) == CFG_UPSTREAM_NONE) {
			char *nptr = jsonconf_ptr_key(ptr, "upstream");
			jsonconf_error(jc, nptr, "no upstream named \"%s\"", name);
			free(nptr);
		}
		jsonconf_get_string(jc, r, ptr, "path_prefix", NULL, &prefix);
		if ((acts != NULL) == (prefix != NULL)) {
			jsonconf_error(jc, ptr, "needs exactly one of \"actions\" and \"path_prefix\"");
			goto next;
		}
		if (prefix != NULL) {
			if (!valid_prefix(prefix)) {
				char *pptr = jsonconf_ptr_key(ptr, "path_prefix");
				jsonconf_error(jc, pptr, "must start with '/' and have no query, "
				    "fragment, %%-escape, '\\', empty or dot segment");
				free(pptr);
			} else if (g != CFG_UPSTREAM_NONE) {
				struct cfg_path_route *pr = &u->path_routes[u->npath_routes++];
				pr->prefix = xstrdup(prefix);
				pr->len = strlen(prefix);
				pr->group = g;
			}
			goto next;
		}
		if (!json_is_array(acts))
			goto next;
		char *aptr = jsonconf_ptr_key(ptr, "actions");
		if (json_array_size(acts) == 0)
			jsonconf_error(jc, aptr, "names no action");
		else if (cf->policy == NULL)
			jsonconf_error(jc, aptr, "actions need a policy");
		for (size_t j = 0; cf->policy != NULL && j < json_array_size(acts); j++) {
			const char *glob = json_string_value(json_array_get(acts, j));
			char *gptr = jsonconf_ptr_index(aptr, j);
			size_t hits = 0;

			if (glob == NULL || !valid_glob(glob))
				jsonconf_error(jc, gptr, "must be an action name or a glob with '*'");
			else {
				for (size_t a = 0; a < nact; a++) {
					if (fnmatch(glob, policy_action_at(cf->policy, a)->name, 0) != 0)
						continue;
					hits++;
					/* The first rule naming an action wins. */
					if (u->action_group[a] == CFG_UPSTREAM_NONE)
						u->action_group[a] = g;
				}
				/* Most likely a typo: say so rather than route
				 * nothing. */
				if (hits == 0)
					jsonconf_error(jc, gptr, "matches no action of the policy");
			}
			free(gptr);
		}
		free(aptr);
next:
		free(ptr);
	}
}

/* "route_settings": per action (name or glob) settings, worked out at
 * load into per-action values: the upstream timeout into
 * action_timeout_ms, the body limit into the policy's own per-action
 * limit (which it overrides), so that a request pays nothing to find
 * them. The first entry naming an action wins, as in upstream_routes. */
static void
parse_settings(struct jsonconf *jc, const json_t *list, struct cfg *cf)
{
	struct cfg_upstreams *u = &cf->ups;
	size_t nact = cf->policy != NULL ? policy_action_count(cf->policy) : 0;
	unsigned char *set_t = xcalloc(nact > 0 ? nact : 1, 1);
	unsigned char *set_b = xcalloc(nact > 0 ? nact : 1, 1);

	if (!json_is_array(list)) {
		if (list != NULL)
			jsonconf_error(jc, "/route_settings", "must be an array");
		goto out;
	}
	if (cf->policy == NULL && json_array_size(list) > 0) {
		jsonconf_error(jc, "/route_settings", "actions need a policy");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *r = json_array_get(list, i), *acts;
		char *ptr = jsonconf_ptr_index("/route_settings", i), *aptr;
		int64_t timeout_ms = 0, max_body = -1;

		if (jsonconf_check_object(jc, r, ptr, setting_keys) != 0 && !json_is_object(r))
			goto next;
		jsonconf_get_int(jc, r, ptr, "timeout_ms", 1, 3600 * 1000, 0, &timeout_ms);
		jsonconf_get_int(jc, r, ptr, "max_body_bytes", 0, INT64_C(1) << 40, -1, &max_body);
		if (json_object_get(r, "timeout_ms") == NULL &&
		    json_object_get(r, "max_body_bytes") == NULL)
			jsonconf_error(jc, ptr, "sets nothing (timeout_ms, max_body_bytes)");
		acts = json_object_get(r, "actions");
		if (!json_is_array(acts))
			goto next;
		aptr = jsonconf_ptr_key(ptr, "actions");
		if (json_array_size(acts) == 0)
			jsonconf_error(jc, aptr, "names no action");
		for (size_t j = 0; j < json_array_size(acts); j++) {
			const char *glob = json_string_value(json_array_get(acts, j));
			char *gptr = jsonconf_ptr_index(aptr, j);
			size_t hits = 0;

			if (glob == NULL || !valid_glob(glob)) {
				jsonconf_error(jc, gptr, "must be an action name or a glob with '*'");
				free(gptr);
				continue;
			}
			for (size_t a = 0; a < nact; a++) {
				if (fnmatch(glob, policy_action_at(cf->policy, a)->name, 0) != 0)
					continue;
				hits++;
				if (timeout_ms > 0 && !set_t[a]) {
					if (u->action_timeout_ms == NULL)
						u->action_timeout_ms = xcalloc(nact,
						    sizeof(*u->action_timeout_ms));
					u->action_timeout_ms[a] = timeout_ms;
					set_t[a] = 1;
				}
				if (max_body >= 0 && !set_b[a]) {
					policy_action_set_max_body(cf->policy, a, max_body);
					set_b[a] = 1;
				}
			}
			if (hits == 0)
				jsonconf_error(jc, gptr, "matches no action of the policy");
			free(gptr);
		}
		free(aptr);
next:
		free(ptr);
	}
out:
	free(set_t);
	free(set_b);
}

void
cfg_upstreams_parse(struct jsonconf *jc, const json_t *root, struct cfg *cf, int resolve)
{
	struct cfg_upstreams *u = &cf->ups;
	const json_t *ups = json_object_get(root, "upstreams");
	const json_t *routes = json_object_get(root, "upstream_routes");
	const char *def = NULL, *name;
	const json_t *o;
	size_t n = 0;

	if (cf->upstream.url == NULL && json_object_get(root, "upstream") == NULL && ups == NULL) {
		jsonconf_error(jc, "/", "missing required key \"upstream\" (or \"upstreams\")");
		return;
	}
	n = (json_object_get(root, "upstream") != NULL ? 1 : 0) +
	    (json_is_object(ups) ? json_object_size(ups) : 0);
	u->groups = xcalloc(n > 0 ? n : 1, sizeof(*u->groups));
	if (json_object_get(root, "upstream") != NULL) {
		struct cfg_upstream_group *g = &u->groups[u->ngroups++];
		g->name = xstrdup("default");
		g->balance = BALANCE_ROUND_ROBIN;
		g->servers = xcalloc(1, sizeof(*g->servers));
		g->weights = xcalloc(1, sizeof(*g->weights));
		g->servers[0] = &cf->upstream;
		g->weights[0] = 1;
		g->nservers = 1;
		g->shorthand = 1;
	}
	if (json_is_object(ups)) {
		if (json_object_size(ups) == 0)
			jsonconf_error(jc, "/upstreams", "names no upstream");
		json_object_foreach((json_t *)ups, name, o) {
			if (group_find(u, name) != CFG_UPSTREAM_NONE) {
				char *ptr = jsonconf_ptr_key("/upstreams", name);
				jsonconf_error(jc, ptr, "\"%s\" is the \"upstream\" object's name", name);
				free(ptr);
				continue;
			}
			if (!json_is_object(o)) {
				char *ptr = jsonconf_ptr_key("/upstreams", name);
				jsonconf_error(jc, ptr, "must be an object");
				free(ptr);
				continue;
			}
			parse_group(jc, name, o, cf, resolve, &u->groups[u->ngroups++]);
		}
	}
	u->default_group = 0;
	if (jsonconf_get_string(jc, root, "", "default_upstream", NULL, &def) == 0 && def != NULL) {
		if ((u->default_group = group_find(u, def)) == CFG_UPSTREAM_NONE) {
			jsonconf_error(jc, "/default_upstream", "no upstream named \"%s\"", def);
			u->default_group = 0;
		}
	} else if (u->ngroups > 1 && !u->groups[0].shorthand)
		jsonconf_error(jc, "/default_upstream", "required with several upstreams "
		    "and no \"upstream\" object");
	parse_routes(jc, json_is_array(routes) ? routes : NULL, cf);
	parse_settings(jc, json_object_get(root, "route_settings"), cf);
}

void
cfg_upstreams_free(struct cfg_upstreams *u)
{
	for (size_t i = 0; i < u->ngroups; i++) {
		struct cfg_upstream_group *g = &u->groups[i];
		for (size_t j = 0; j < g->nservers && !g->shorthand; j++) {
			if (g->servers[j] == NULL)
				continue;
			free(g->servers[j]->url);
			free(g->servers[j]->host);
			free(g->servers[j]->label);
			free(g->servers[j]);
		}
		tls_client_config_free(g->tls);
		cfg_health_check_free(g->health);
		free(g->servers);
		free(g->weights);
		free(g->name);
	}
	free(u->groups);
	for (size_t i = 0; i < u->npath_routes; i++)
		free(u->path_routes[i].prefix);
	free(u->path_routes);
	free(u->action_group);
	free(u->action_timeout_ms);
	memset(u, 0, sizeof(*u));
}

uint32_t
cfg_upstreams_route(const struct cfg_upstreams *u, size_t action_idx, const char *target)
{
	uint32_t g = CFG_UPSTREAM_NONE;

	if (action_idx < u->nactions)
		g = u->action_group[action_idx];
	for (size_t i = 0; g == CFG_UPSTREAM_NONE && i < u->npath_routes; i++) {
		const struct cfg_path_route *r = &u->path_routes[i];
		/* At a segment boundary: "/devices" is not a prefix of
		 * "/devicesX". */
		if (strncmp(target, r->prefix, r->len) == 0 &&
		    (r->prefix[r->len - 1] == '/' || target[r->len] == '\0' ||
		    target[r->len] == '/' || target[r->len] == '?'))
			g = r->group;
	}
	return g == CFG_UPSTREAM_NONE ? u->default_group : g;
}

int
cfg_upstream_group_same(const struct cfg_upstream_group *a, const struct cfg_upstream_group *b)
{
	if (a->nservers != b->nservers || a->balance != b->balance || a->retries != b->retries ||
	    strcmp(a->name, b->name) != 0)
		return 0;
	for (size_t i = 0; i < a->nservers; i++) {
		const struct cfg_upstream *x = a->servers[i], *y = b->servers[i];
		if (a->weights[i] != b->weights[i] || strcmp(x->url, y->url) != 0 ||
		    !cfg_upstream_same_addrs(x, y) || x->timeout_ms != y->timeout_ms ||
		    x->connect_timeout_ms != y->connect_timeout_ms ||
		    x->max_connections != y->max_connections ||
		    x->outlier_failures != y->outlier_failures ||
		    x->outlier_window_ms != y->outlier_window_ms ||
		    x->outlier_base_ms != y->outlier_base_ms || x->outlier_max_ms != y->outlier_max_ms)
			return 0;
	}
	return 1;
}

const struct cfg_upstream *
cfg_upstreams_first(const struct cfg *cf)
{
	return cf->ups.ngroups > 0 ? cf->ups.groups[cf->ups.default_group].servers[0] : &cf->upstream;
}
