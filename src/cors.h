/* cors.h: CORS for browser clients, the pure part: origin syntax and
 * matching against the configured list (exact origins, and patterns
 * whose host starts with "*."), the Access-Control-Request-Headers list,
 * and the preflight decision. No libevent types: the evhttp glue is
 * cors_http.c. CORS is not access control: the token is. It only decides
 * which web pages may read the gateway's answers. */
#ifndef SCOPEGATE_CORS_H
#define SCOPEGATE_CORS_H

#include <stddef.h>
#include <stdint.h>

/* One configured allowed origin, parsed. A pattern's host is the suffix
 * after "*." (the wildcard stands for one or more whole labels). */
struct cors_origin {
	char scheme[8];			/* "http" or "https" */
	char host[256];			/* lowercase; [v6] kept bracketed */
	unsigned port;			/* 0: none written (the default) */
	int wildcard;			/* "*." before host */
};

/* One rule of the "cors" configuration. */
struct cors_rule {
	struct cors_origin *origins;
	size_t norigins;
	unsigned methods;		/* (1 << policy_method); 0: what the route has */
	char **headers;			/* allowed request headers, lowercase */
	size_t nheaders;
	char *allow_headers;		/* the same, joined for the answer */
	char *expose_headers;		/* joined, or NULL */
	int credentials;
	int64_t max_age_s;		/* -1: no Access-Control-Max-Age */
};

/* Every rule, and which one applies to each policy action. */
struct cors_config {
	struct cors_rule *rules;
	size_t nrules;
	uint32_t *action_rule;		/* per action index; CORS_NO_RULE: none */
	size_t nactions;
};
#define CORS_NO_RULE	UINT32_MAX

/* Parse an origin as configured: "scheme://host[:port]", or a
 * pattern whose host is "*.suffix" (the suffix at least two labels), scheme
 * http or https, host a DNS name (letters, digits, '-', labels not empty)
 * or a bracketed IPv6 address, any case (stored lowercase). No path,
 * userinfo, query, trailing dot or "null". Returns 0, or -1 with a reason
 * in *why. */
int cors_origin_parse_config(const char *s, struct cors_origin *o, const char **why);

/* Is the Origin field value (len bytes, as the client sent it) one the
 * rule allows? Only the exact serialization browsers send matches: a
 * lowercase scheme and host, no default port, nothing else; "null" never
 * does. 1 when allowed. */
int cors_origin_allowed(const struct cors_rule *r, const char *origin, size_t len);

/* Access-Control-Request-Headers: a comma-separated list of field names
 * (optional spaces and tabs around them, empty elements ignored). 1 when
 * every name is a valid token the rule allows (case-insensitively), 0 when
 * one is not (or the list is malformed). NULL (absent) is allowed. */
int cors_request_headers_allowed(const struct cors_rule *r, const char *list);

/* The preflight decision, once the route is known. */
enum cors_preflight {
	CORS_PREFLIGHT_OK,
	CORS_PREFLIGHT_ORIGIN,		/* the origin is not allowed */
	CORS_PREFLIGHT_METHOD,		/* the method is not allowed */
	CORS_PREFLIGHT_HEADERS,		/* a requested header is not allowed */
};

/* method: the requested method's policy_method number, which the route
 * serves; headers: Access-Control-Request-Headers or NULL. */
enum cors_preflight cors_preflight_check(const struct cors_rule *r, const char *origin,
    size_t origin_len, unsigned method, const char *headers);
const char *cors_preflight_reason(enum cors_preflight p);

/* The rule for a policy action index, or NULL. */
const struct cors_rule *cors_rule_for(const struct cors_config *c, size_t action_idx);

void cors_config_free(struct cors_config *c);

#endif
