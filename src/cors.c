/* cors.c: see cors.h. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chars.h"
#include "cors.h"

/*
 * One parser for both sides. The configured list is parsed leniently
 * (any case, a default port written out) and normalised; what a client
 * sends is matched only in the one form browsers serialize an origin in
 * (lowercase, no default port): any other spelling is not one a browser
 * sends, so refusing it costs no browser anything and leaves no second
 * way to write an allowed origin.
 */
static int
origin_parse(const char *s, size_t len, int config, struct cors_origin *o, const char **why)
{
	const char *p = s, *end = s + len, *h;
	size_t hlen = 0, labels = 0, lab = 0;
	unsigned long port = 0;

	memset(o, 0, sizeof(*o));
	*why = "must be http:// or https:// followed by a host";
	if ((size_t)(end - p) > 8 && (config ? strncasecmp(p, "https://", 8) : strncmp(p, "https://", 8)) == 0) {
		strcpy(o->scheme, "https");
		p += 8;
	} else if ((size_t)(end - p) > 7 &&
	    (config ? strncasecmp(p, "http://", 7) : strncmp(p, "http://", 7)) == 0) {
		strcpy(o->scheme, "http");
		p += 7;
	} else
		return -1;
	if (config && end - p >= 2 && p[0] == '*' && p[1] == '.') {
		o->wildcard = 1;
		p += 2;
	}
	h = p;
	if (p < end && *p == '[') {
		*why = "a bracketed IPv6 address must hold hex digits, ':' and '.'";
		if (o->wildcard)
			return -1;
		for (p++; p < end && *p != ']'; p++)
			if (!(isxdigit((unsigned char)*p) || *p == ':' || *p == '.') ||
			    (!config && *p >= 'A' && *p <= 'F'))
				return -1;
		if (p == end || p == h + 1)
			return -1;
		p++;
		labels = 1;
	} else {
		*why = "the host must be dot-separated labels of letters, digits and '-' "
		    "(no empty label, no trailing dot)";
		for (; p < end && *p != ':'; p++) {
			unsigned char c = (unsigned char)*p;
			if (c == '.') {
				if (lab == 0)
					return -1;
				lab = 0;
				continue;
			}
			if (!(islower(c) || isdigit(c) || c == '-' || (config && isupper(c))))
				return -1;
			if (lab++ == 0)
				labels++;
			if (lab > 63)
				return -1;
		}
		if (labels == 0 || lab == 0)
			return -1;
	}
	hlen = (size_t)(p - h);
	if (hlen >= sizeof(o->host))
		return -1;
	for (size_t i = 0; i < hlen; i++)
		o->host[i] = (char)tolower((unsigned char)h[i]);
	o->host[hlen] = '\0';
	if (o->wildcard && labels < 2) {
		*why = "a pattern needs at least two labels after \"*.\" (\"*.com\" is every site)";
		return -1;
	}
	if (p < end) {
		*why = "the port must be 1-65535 and nothing may follow it (no path, query or '/')";
		if (*p++ != ':' || p == end || end - p > 5 || (!config && *p == '0'))
			return -1;
		for (; p < end; p++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			return -1;
		/* The default port is no port: browsers leave it out. */
		if ((port == 443 && o->scheme[4] == 's') || (port == 80 && o->scheme[4] == '\0')) {
			if (!config)
				return -1;
			port = 0;
		}
	}
	o->port = (unsigned)port;
	return 0;
}

int
cors_origin_parse_config(const char *s, struct cors_origin *o, const char **why)
{
	if (strcasecmp(s, "null") == 0) {
		*why = "\"null\" is the origin of sandboxed frames, file: pages and "
		    "redirects: any page can take it; list real origins";
		return -1;
	}
	if (strcmp(s, "*") == 0) {
		*why = "\"*\" is not supported: list the origins (or https://*.domain patterns)";
		return -1;
	}
	return origin_parse(s, strlen(s), 1, o, why);
}

/* Does the (strictly parsed) origin o match the configured entry c? */
static int
origin_matches(const struct cors_origin *c, const struct cors_origin *o)
{
	size_t hl, sl;

	if (strcmp(c->scheme, o->scheme) != 0 || c->port != o->port)
		return 0;
	if (!c->wildcard)
		return strcmp(c->host, o->host) == 0;
	/* One or more whole labels, then ".suffix": the parser made sure
	 * the host has no empty label, so what comes before is labels. */
	hl = strlen(o->host);
	sl = strlen(c->host);
	return o->host[0] != '[' && hl > sl + 1 && o->host[hl - sl - 1] == '.' &&
	    strcmp(o->host + hl - sl, c->host) == 0;
}

int
cors_origin_allowed(const struct cors_rule *r, const char *origin, size_t len)
{
	struct cors_origin o;
	const char *why;

	if (r == NULL || origin == NULL || origin_parse(origin, len, 0, &o, &why) != 0)
		return 0;
	for (size_t i = 0; i < r->norigins; i++)
		if (origin_matches(&r->origins[i], &o))
			return 1;
	return 0;
}

int
cors_request_headers_allowed(const struct cors_rule *r, const char *list)
{
	const char *p = list;

	if (list == NULL)
		return 1;
	while (*p != '\0') {
		const char *name;
		size_t n;
		int found = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		name = p;
		while (chars_is_tchar((unsigned char)*p))
			p++;
		n = (size_t)(p - name);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != '\0')
			return 0;	/* not a token */
		if (*p == ',')
			p++;
		if (n == 0)
			continue;
		for (size_t i = 0; i < r->nheaders && !found; i++)
			found = strlen(r->headers[i]) == n && strncasecmp(r->headers[i], name, n) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

enum cors_preflight
cors_preflight_check(const struct cors_rule *r, const char *origin, size_t origin_len,
    unsigned method, const char *headers)
{
	if (!cors_origin_allowed(r, origin, origin_len))
		return CORS_PREFLIGHT_ORIGIN;
	if (r->methods != 0 && !(r->methods & (1u << method)))
		return CORS_PREFLIGHT_METHOD;
	if (!cors_request_headers_allowed(r, headers))
		return CORS_PREFLIGHT_HEADERS;
	return CORS_PREFLIGHT_OK;
}

const char *
cors_preflight_reason(enum cors_preflight p)
{
	switch (p) {
	case CORS_PREFLIGHT_OK:
		return "cors_preflight";
	case CORS_PREFLIGHT_ORIGIN:
		return "cors_origin";
	case CORS_PREFLIGHT_METHOD:
		return "cors_method";
	case CORS_PREFLIGHT_HEADERS:
		return "cors_headers";
	}
	return "cors_origin";
}

const struct cors_rule *
cors_rule_for(const struct cors_config *c, size_t action_idx)
{
	if (c == NULL || action_idx >= c->nactions || c->action_rule[action_idx] == CORS_NO_RULE)
		return NULL;
	return &c->rules[c->action_rule[action_idx]];
}

void
cors_config_free(struct cors_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nrules; i++) {
		struct cors_rule *r = &c->rules[i];
		free(r->origins);
		for (size_t j = 0; j < r->nheaders; j++)
			free(r->headers[j]);
		free(r->headers);
		free(r->allow_headers);
		free(r->expose_headers);
	}
	free(c->rules);
	free(c->action_rule);
	free(c);
}
