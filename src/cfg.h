/* cfg.h: the gateway's configuration, loaded strictly from one JSON file
 * into an immutable snapshot. */
#ifndef SCOPEGATE_CFG_H
#define SCOPEGATE_CFG_H

#include <stdint.h>

#include <sys/socket.h>

#include <jansson.h>

#include "errlist.h"

/* At most this many addresses of the upstream name are used. */
#define SG_UPSTREAM_MAX_ADDRS	8

struct tls_listener_config;
struct realip_net;
struct qredact;
struct tls_client_config;
struct cors_config;
struct jsonconf;

struct cfg_listener {
	char *address;		/* numeric IPv4/IPv6 address */
	uint16_t port;
	struct tls_listener_config *tls;	/* NULL: plain HTTP */
	/* The socket a service manager hands over under this name
	 * (LISTEN_FDNAMES, listensock.c); NULL: matched by address. */
	char *name;
};

struct cfg_upstream {
	char *url;		/* as written */
	int https;
	char *host;		/* numeric address or name */
	uint16_t port;
	/* host resolved once, when the configuration loads (a reload
	 * resolves it again): workers never wait for DNS. A connection
	 * that cannot be made moves on to the next address. */
	struct sockaddr_storage addrs[SG_UPSTREAM_MAX_ADDRS];
	socklen_t addrlens[SG_UPSTREAM_MAX_ADDRS];
	size_t naddrs;
	int64_t timeout_ms;	/* connect and inactivity while waiting: 504 */
	/* Connecting (TLS handshake included) when it has its own bound (a
	 * named upstream's connect_timeout_ms); 0: timeout_ms. */
	int64_t connect_timeout_ms;
	int64_t max_connections;	/* per worker keep-alive pool size */
	struct tls_client_config *tls;	/* https:// upstream, else NULL */
	/* Passive outlier ejection of a named upstream's server (balance.h;
	 * outlier_failures 0: off, as for the "upstream" shorthand). */
	int64_t outlier_failures;
	int64_t outlier_window_ms;
	int64_t outlier_base_ms;
	int64_t outlier_max_ms;
	/* A server of a named upstream made from one of several addresses
	 * of its url's name: "url (address)", for logs and /metrics; NULL
	 * otherwise (the url names it). */
	char *label;
};

struct cfg_limits {
	int64_t max_header_bytes;
	int64_t max_body_bytes;
	int64_t max_connections;
	int64_t header_timeout_ms;	/* client inactivity while reading a request, and keep-alive idle */
	int64_t write_timeout_ms;	/* client inactivity while we write the response */
	/* Open connections per client address group (connlimit.h), and the
	 * failed token verifications an address may cause: failed_auth_per_s
	 * per second after a burst (0: no budget). */
	int64_t max_connections_per_client;
	int64_t failed_auth_per_s;
	int64_t failed_auth_burst;
	int64_t body_timeout_ms;	/* a request body, whole, from the end of its head */
	int64_t body_min_bytes_per_s;	/* a body slower than this on average: 408 (0: off) */
	int64_t max_buffered_body_bytes;	/* per worker, bodies held at once */
};

/* Named upstreams (cfg_upstreams.c): "upstreams", "default_upstream" and
 * "upstream_routes". The "upstream" shorthand is the upstream named
 * "default" with one server, cf->upstream itself. */
#define CFG_UPSTREAM_NONE	UINT32_MAX

/* Active health checks of an upstream's servers (healthcheck.c): a GET
 * of path every interval_ms from the main thread; unhealthy consecutive
 * failures mark a server down for every worker, healthy consecutive
 * passes mark it up again. */
#define CFG_HEALTH_MAX_STATUS	16
struct cfg_health_check {
	char *path;			/* starts with '/' */
	char *host;			/* Host header; NULL: the server's host:port */
	int64_t interval_ms;
	int64_t timeout_ms;		/* the whole check, connect included */
	int64_t healthy;		/* passes in a row to come back */
	int64_t unhealthy;		/* failures in a row to go down */
	int status_lo[CFG_HEALTH_MAX_STATUS], status_hi[CFG_HEALTH_MAX_STATUS];
	size_t nstatus;
};

struct cfg_upstream_group {
	char *name;
	int balance;			/* enum balance_kind */
	struct cfg_upstream **servers;	/* owned, except the shorthand's */
	int64_t *weights;
	size_t nservers;
	int shorthand;			/* servers[0] is &cf->upstream */
	/* Idempotent requests sent again to another server when a connection
	 * could not be made or was lost before any answer byte. */
	int64_t retries;
	struct tls_client_config *tls;	/* shared by its https servers */
	struct cfg_health_check *health;	/* NULL: no active checks */
};

struct cfg_path_route {
	char *prefix;			/* starts with '/' */
	size_t len;
	uint32_t group;
};

struct cfg_upstreams {
	struct cfg_upstream_group *groups;
	size_t ngroups;
	uint32_t default_group;
	/* The upstream of each policy action, decided when the configuration
	 * loads so that a request costs one array read: CFG_UPSTREAM_NONE
	 * when no action rule names one (path rules, then the default). */
	uint32_t *action_group;
	size_t nactions;
	struct cfg_path_route *path_routes;	/* in file order */
	size_t npath_routes;
	/* "route_settings": each action's own upstream timeout_ms (0: its
	 * upstream's); NULL when none is set, so that a request costs one
	 * pointer test. */
	int64_t *action_timeout_ms;
};

struct policy;
struct token_config;
struct jschema;
struct grantmap;
struct revoke_config;

struct cfg_admin {
	char *address;		/* NULL: no admin listener */
	uint16_t port;
	/* admin.token_file's secret, required as a bearer token on every
	 * admin request; NULL when not set. Wiped when freed. */
	char *token;
};

/* What a rate limit counts requests by. */
enum cfg_rate_key {
	CFG_RATE_NONE,		/* no "rate_limit": no limit */
	CFG_RATE_CLIENT,	/* the client address: every request, before the token */
	CFG_RATE_SUBJECT,	/* the token's sub claim: allowed requests */
	CFG_RATE_TOKEN_ID,	/* the token id claim: allowed requests */
};

struct cfg_rate_limit {
	enum cfg_rate_key key;
	uint64_t interval_us;	/* one request per this, on average */
	uint32_t burst;		/* requests that may come at once */
	int64_t max_keys;	/* keys remembered (fixed at start) */
	int64_t ipv6_prefix;	/* bits of an IPv6 client address that count */
};

/* A configuration snapshot: immutable once loaded, shared read-only by
 * every worker thread and every request in flight, freed when the last
 * reference goes (cfg_ref / cfg_unref). */
struct cfg {
	int refcnt;		/* atomic */
	uint64_t generation;	/* set by the runtime when published */
	char *path;		/* the file it was read from */
	char *dir;		/* its folder, for relative paths */

	struct cfg_listener *listeners;
	size_t nlisteners;
	struct cfg_upstream upstream;
	struct cfg_limits limits;
	struct cfg_rate_limit rate_limit;
	/* Proxies whose X-Forwarded-For is believed (realip.h); none: the
	 * TCP peer is the client. */
	struct realip_net *trusted_proxies;
	size_t ntrusted_proxies;

	char *policy_path;		/* NULL: passthrough, every request forwarded */
	struct policy *policy;
	struct token_config *tokens;	/* NULL: no token can be valid */
	/* Compiled request-body schemas: body_schema[i] for action i (NULL
	 * when it takes no body), each compiled once in schemas[]. */
	struct jschema **body_schema;
	struct jschema **schemas;
	size_t nschemas;
	struct grantmap *grants;	/* token-creation escalation check */
	struct revoke_config *revocations;	/* always set (defaults: memory only) */
	/* "rate_limits" (ratelimits.h), NULL when none; then a request
	 * costs nothing more. */
	struct ratelimits *ratelimits;

	char *access_log;	/* path, "-" for stderr, or NULL for off */
	struct qredact *redact_query;	/* log.redact_query (the default list when absent) */
	int debug;
	int64_t shutdown_grace_ms;
	int64_t workers;	/* event loops (threads); 0 in the file = one per core */
	struct cfg_admin admin;
	struct cfg_upstreams ups;
	/* Rollout (cfg_rollout.c): per action index, 1 when its
	 * authorization refusals are only reported ("report_only"); NULL
	 * when no action is. CORS rules for browser clients, or NULL. */
	uint8_t *report_only;
	size_t nreport_only;
	struct cors_config *cors;
};

/* Read and check path; NULL when anything is wrong, with every problem
 * added to errs. */
struct cfg *cfg_load(const char *path, struct errlist *errs);
/* cfg_load with flags: CFG_LOAD_NO_RESOLVE leaves the upstream name
 * unresolved (naddrs 0), for tools that never connect to it (explain). */
#define CFG_LOAD_NO_RESOLVE	0x1
struct cfg *cfg_load_flags(const char *path, struct errlist *errs, unsigned flags);
void cfg_free(struct cfg *cf);
struct cfg *cfg_ref(struct cfg *cf);
void cfg_unref(struct cfg *cf);
/* Drop a reference without freeing: returns 1 when it was the last one
 * (the caller then owns cf and must cfg_free it), else 0. */
int cfg_unref_last(struct cfg *cf);

/* Non-zero when b listens on exactly the same sockets as a. */
int cfg_same_listeners(const struct cfg *a, const struct cfg *b);
/* A numeric address as text in buf ("?" if it cannot be); returns buf. */
const char *cfg_addr_str(const struct sockaddr_storage *sa, socklen_t salen, char *buf,
    size_t len);
/* The resolved addresses as text ("a, b") in buf; returns buf. */
const char *cfg_upstream_addrs_str(const struct cfg_upstream *up, char *buf, size_t len);
/* Non-zero when both resolved to the same addresses, in the same order. */
int cfg_upstream_same_addrs(const struct cfg_upstream *a, const struct cfg_upstream *b);

struct jsonconf;
/* Parse an upstream URL into up (errors at ptr) and resolve its host when
 * resolve is set. */
void cfg_upstream_parse_url(struct jsonconf *jc, const char *url, const char *ptr,
    struct cfg_upstream *up, int resolve);
/* cfg_upstreams.c: parse the upstreams and their routes of root into
 * cf->ups (the policy is loaded already); free them. */
void cfg_upstreams_parse(struct jsonconf *jc, const json_t *root, struct cfg *cf,
    int resolve);
void cfg_upstreams_free(struct cfg_upstreams *u);
void cfg_health_check_free(struct cfg_health_check *h);
/* status is one that h expects of a healthy server. */
int cfg_health_status_ok(const struct cfg_health_check *h, int status);
/* The upstream a request goes to: its action's (action_idx, or
 * SIZE_MAX without one), else the first path rule whose prefix the
 * request target starts with (at a segment boundary), else the default. */
uint32_t cfg_upstreams_route(const struct cfg_upstreams *u, size_t action_idx,
    const char *target);
/* Non-zero when the upstream group's servers, addresses and settings are
 * the same in both (a reload keeps its pools). */
int cfg_upstream_group_same(const struct cfg_upstream_group *a,
    const struct cfg_upstream_group *b);
/* The default upstream's first server (readiness probe, startup log). */
const struct cfg_upstream *cfg_upstreams_first(const struct cfg *cf);

/* Resolve a path from the config relative to its folder; caller frees. */
char *cfg_resolve_path(const struct cfg *cf, const char *p);

/* cfg_rollout.c: "report_only" and "cors", read after the policy. */
void cfg_rollout_parse(struct jsonconf *jc, const json_t *root, struct cfg *cf);
void cfg_rollout_free(struct cfg *cf);

#endif
