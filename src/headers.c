/* headers.c: see headers.h. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "headers.h"

static int
has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int
headers_is_hop_by_hop(const char *name)
{
	/* Called for every field in both directions: dispatch on the length
	 * first so most names cost one strlen and no comparison. */
	switch (strlen(name)) {
	case 2:
		return strcasecmp(name, "TE") == 0;
	case 7:
		return strcasecmp(name, "Trailer") == 0 || strcasecmp(name, "Upgrade") == 0;
	case 8:
		return strcasecmp(name, "Trailers") == 0;
	case 10:
		return strcasecmp(name, "Connection") == 0 || strcasecmp(name, "Keep-Alive") == 0;
	case 17:
		if (strcasecmp(name, "Transfer-Encoding") == 0)
			return 1;
		break;
	}
	/* Proxy-Connection, Proxy-Authorization, Proxy-Authenticate, ... */
	return (name[0] == 'P' || name[0] == 'p') && has_prefix_ci(name, "Proxy-");
}

int
headers_connection_names(const char *value, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = value;

	while (*p) {
		const char *start, *end;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - start) == nlen && nlen > 0 &&
		    strncasecmp(start, name, nlen) == 0)
			return 1;
	}
	return 0;
}

/*
 * Fields that make an upstream framework act on another method, path or
 * host than the request line and Host the gateway checked: the upstream
 * would serve a route that was never authorized. Gathered from what
 * common stacks honour (the X-Forwarded-* family, Traefik's X-Forwarded-Uri
 * and X-Forwarded-Method and Spring's X-Forwarded-Prefix among them, is
 * dropped as a whole below):
 *   X-Original-URL, X-Rewrite-URL  IIS URL Rewrite / ISAPI_Rewrite, read by
 *                                  Symfony, Zend/Laminas, ASP.NET stacks
 *   X-Original-URI                 nginx auth_request convention
 *   X-Override-URL, X-Original-Path, X-Rewrite-Path  middlewares of the kind
 *   X-Script-Name                  WSGI mount-prefix recipes (Flask)
 *   X-Original-Host, X-Host, X-HTTP-Host-Override  host overrides
 *   X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override,
 *   X-Original-Method              method overrides (Express, Rails, .NET)
 */
#define FIELD(s)	{ s, sizeof(s) - 1 }
static const struct {
	const char *name;
	size_t len;
} override_fields[] = {
	FIELD("X-Original-URL"), FIELD("X-Rewrite-URL"), FIELD("X-Original-URI"),
	FIELD("X-Override-URL"), FIELD("X-Original-Path"), FIELD("X-Rewrite-Path"),
	FIELD("X-Script-Name"), FIELD("X-Original-Host"), FIELD("X-Host"),
	FIELD("X-HTTP-Host-Override"), FIELD("X-HTTP-Method-Override"), FIELD("X-HTTP-Method"),
	FIELD("X-Method-Override"), FIELD("X-Original-Method"),
};
#undef FIELD

/* Does name start with "X-" (any case)? Every override field and the
 * gateway's own namespace do: most fields are then settled by two byte
 * tests instead of a dozen string comparisons (they ran for every field
 * of every request). */
static int
is_x_dash(const char *name)
{
	return (name[0] == 'X' || name[0] == 'x') && name[1] == '-';
}

int
headers_is_override(const char *name)
{
	size_t n;

	if (!is_x_dash(name))
		return 0;
	/* Envoy trusts its whole x-envoy-* namespace from a peer it deems
	 * internal (x-envoy-original-path, retry and timeout controls). */
	if (has_prefix_ci(name, "X-Forwarded-") || has_prefix_ci(name, "X-Envoy-"))
		return 1;
	n = strlen(name);
	for (size_t i = 0; i < sizeof(override_fields) / sizeof(override_fields[0]); i++)
		if (override_fields[i].len == n && strcasecmp(name, override_fields[i].name) == 0)
			return 1;
	return 0;
}

int
headers_drop_from_client(const char *name)
{
	size_t n;

	if (headers_is_hop_by_hop(name))
		return 1;
	/* Names with '_' are read as '-' by CGI-style upstreams
	 * (X_Original_URL, X_Forwarded_For), as nginx drops them. */
	if (strchr(name, '_') != NULL)
		return 1;
	if (is_x_dash(name) && (has_prefix_ci(name, "X-Scopegate-") || headers_is_override(name)))
		return 1;
	/* The rest by length first, as headers_is_hop_by_hop does. */
	switch ((n = strlen(name))) {
	case 6:
		return strcasecmp(name, "Expect") == 0;
	case 9:
		return strcasecmp(name, "Forwarded") == 0;
	case 12:
		return strcasecmp(name, "X-Request-Id") == 0;
	case 14:
		return strcasecmp(name, "Content-Length") == 0;
	}
	return 0;
}

int
headers_drop_from_upstream(const char *name)
{
	/* The gateway's namespace and the name it gives the upstream's
	 * request id are the gateway's to set, never the upstream's. */
	return headers_is_hop_by_hop(name) ||
	    (is_x_dash(name) && (has_prefix_ci(name, "X-Scopegate-") ||
	    strcasecmp(name, HEADERS_UPSTREAM_REQUEST_ID) == 0));
}

int
headers_is_ratelimit(const char *name)
{
	/* Exact names only: RateLimit-Limitx or RateLimit-Policies are
	 * other fields, and X-RateLimit-* another family (headers.h). */
	if (strncasecmp(name, "RateLimit", 9) != 0)
		return 0;
	name += 9;
	return name[0] == '\0' || (name[0] == '-' &&
	    (strcasecmp(name + 1, "Limit") == 0 || strcasecmp(name + 1, "Remaining") == 0 ||
	    strcasecmp(name + 1, "Reset") == 0 || strcasecmp(name + 1, "Policy") == 0));
}

const char *
headers_upstream_rename(const char *name)
{
	return is_x_dash(name) && strcasecmp(name, "X-Request-Id") == 0 ?
	    HEADERS_UPSTREAM_REQUEST_ID : NULL;
}

const char *
headers_reason_phrase(int status)
{
	/* RFC 9110 section 15 (and RFC 6585 for 428, 429, 431, 511):
	 * libevent 2.1's own table stops at 417 for client errors, so a 429
	 * went out as "HTTP/1.1 429 Unknown Status". */
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 511: return "Network Authentication Required";
	default: return "Unknown";
	}
}
