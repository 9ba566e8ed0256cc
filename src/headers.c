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

int
headers_drop_from_client(const char *name)
{
	/* Method overrides would let the upstream act on another method
	 * than the one authorized; names with '_' are read as '-' by
	 * CGI-style upstreams (X_Forwarded_For), as nginx drops them. */
	return headers_is_hop_by_hop(name) ||
	    strchr(name, '_') != NULL ||
	    strcasecmp(name, "X-HTTP-Method-Override") == 0 ||
	    strcasecmp(name, "X-HTTP-Method") == 0 ||
	    strcasecmp(name, "X-Method-Override") == 0 ||
	    strcasecmp(name, "Expect") == 0 ||
	    has_prefix_ci(name, "X-Scopegate-") ||
	    has_prefix_ci(name, "X-Forwarded-") ||
	    strcasecmp(name, "Forwarded") == 0 ||
	    strcasecmp(name, "X-Request-Id") == 0 ||
	    strcasecmp(name, "Content-Length") == 0;
}

int
headers_drop_from_upstream(const char *name)
{
	return headers_is_hop_by_hop(name);
}
