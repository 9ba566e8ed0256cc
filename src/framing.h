/* framing.h: the gateway's own message-framing checks on what libevent's
 * parser made of a request head (RFC 9112 section 6), stricter than
 * libevent: anything two HTTP parsers could read differently is refused.
 * Pure code over the parsed header list; the evhttp glue (worker.c)
 * answers the refusal and closes the connection. */
#ifndef SCOPEGATE_FRAMING_H
#define SCOPEGATE_FRAMING_H

#include <event2/http.h>

struct evkeyvalq;

/* The request fields later steps need, found in the same pass. Values
 * point into the header list given to framing_check. */
struct framing_info {
	const char *authorization;	/* the last Authorization value, or NULL */
	int nauthorization;		/* how many Authorization fields came */
	const char *content_type;	/* the last Content-Type value, or NULL */
	const char *content_encoding;	/* the last Content-Encoding value, or NULL */
	int ncontent_encoding;
	const char *host;		/* the last Host value, or NULL */
	const char *connection;		/* the first Connection value, or NULL */
	int nconnection;		/* how many Connection fields came */
	const char *forwarded_for;	/* the last X-Forwarded-For value, or NULL */
	int nforwarded_for;		/* how many X-Forwarded-For fields came */
	int framed;			/* Content-Length or Transfer-Encoding came */
};

/* Check the framing of a request with the given header list, HTTP version
 * and method. Returns 0 when the request may go on; -1 when it must be
 * refused, with the HTTP status, the Losant error type and the message to
 * answer (static strings). *out is filled as far as the scan got (all of
 * it when 0 is returned). */
int framing_check(const struct evkeyvalq *in, int major, int minor,
    enum evhttp_cmd_type cmd, struct framing_info *out, int *status,
    const char **type, const char **message);

#endif
