/* override.h: method-override parameters in a request's query. Frameworks
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
 * '&' and ';') is named "_method", or "_method" followed by anything but a
 * letter or digit ("_method[]", "_method.x"); 0 otherwise. */
int override_query_has_method(const char *query, size_t len);

#endif
