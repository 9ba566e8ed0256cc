/* framing.h: the gateway's own message-framing checks on what libevent's
 * parser made of a request head (RFC 9112 section 6), stricter than
 * libevent: anything two HTTP parsers could read differently is refused.
 * Pure code over the parsed header list; the evhttp glue (worker.c)
 * answers the refusal and closes the connection. */
#ifndef SCOPEGATE_FRAMING_H
#define SCOPEGATE_FRAMING_H

#include <stddef.h>
#include <stdint.h>

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

/*
 * A chunked request body the gateway streams to the upstream is framed by
 * the gateway itself (RFC 9112 7.1), from the data the strict scanner
 * (reqscan.c) decoded: the client's chunk sizes (leading zeros and all),
 * extensions and trailers never cross. Each piece of data goes as one
 * chunk: framing_chunk_line, the data, CRLF; the body ends with
 * FRAMING_LAST_CHUNK (no trailer).
 */
#define FRAMING_CHUNK_LINE_MAX	19	/* 16 hex digits, CRLF, NUL */
#define FRAMING_LAST_CHUNK	"0\r\n\r\n"
/* Write to out (FRAMING_CHUNK_LINE_MAX bytes) the size line of a chunk of
 * n bytes: lowercase hex without leading zeros, CRLF, no extension (and
 * NUL-terminate it). Returns its length; 0, writing nothing, for n == 0:
 * a chunk of no bytes would be the last chunk and end the body early. */
size_t framing_chunk_line(uint64_t n, char *out);

#endif
