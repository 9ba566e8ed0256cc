/* override.h: parameters in a request's query that frameworks read as
 * something else: a method override, or a body member (a token's scopes,
 * for frameworks that merge the query into the body). Frameworks
 * (Express's method-override, Laravel, Symfony, Rails' Rack::MethodOverride
 * and others) let a "_method" parameter replace the request's method, so
 * an upstream could serve another route than the one the gateway checked.
 * The scan reads a name as the most lenient of them would: percent-decoded,
 * '+' as a space, any case, leading spaces dropped and ' ', '.' or '['
 * standing for '_' (PHP). Pure code, no allocation. */
#ifndef SCOPEGATE_OVERRIDE_H
#define SCOPEGATE_OVERRIDE_H

#include <stddef.h>

/* 1 when some parameter of the query (len bytes, after the '?', split at
 * '&' and ';') is named `name` as read above, or that name followed by
 * anything but a letter or digit ("scope[]", "scope.x"); 0 otherwise. */
int override_query_has_name(const char *query, size_t len, const char *name);
/* The same for "_method". */
int override_query_has_method(const char *query, size_t len);

#endif
