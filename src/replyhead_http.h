/* replyhead_http.h: evhttp glue for replyhead.h. An answer whose head the
 * gateway writes goes to evhttp as a reply it never framed: the head is
 * its first piece (evhttp_send_reply_chunk_with_cb, which for such a reply
 * moves the bytes as they are), a chunked body's framing is added here, and
 * evhttp_send_reply_end completes it as usual (keep-alive or close, the
 * on-complete callback). Only for what replyhead reproduces: an HTTP/1.1
 * request in origin form that is not HEAD (evhttp drops every piece of a
 * HEAD reply, the head included). */
#ifndef SCOPEGATE_REPLYHEAD_HTTP_H
#define SCOPEGATE_REPLYHEAD_HTTP_H

#include <stddef.h>

#include "replyhead.h"

struct evbuffer;
struct evhttp_request;

/* Start h with the fields already on req's output list (set before the
 * answer came: they are first in evhttp's head too). */
void replyhead_http_begin(struct replyhead *h, struct evhttp_request *req);
/* replyhead_finish for req (client_connection: the value of its first
 * Connection field, or NULL), then make evhttp's output list say
 * "Connection: close" exactly when h does (evhttp closes after the reply
 * by its list, and the caller may read it). -1, with nothing changed on
 * req, when h is full: send through evhttp instead. */
int replyhead_http_prepare(struct replyhead *h, struct evhttp_request *req, int status,
    const char *client_connection);
/* Write the prepared head as the reply's start, through scratch (an
 * evbuffer that is empty, and is left empty). */
void replyhead_http_start(const struct replyhead *h, struct evhttp_request *req, int status,
    const char *reason, struct evbuffer *scratch);
/* Append a body piece of len (> 0) bytes to buf, as a chunk when chunked. */
void replyhead_http_piece(struct evbuffer *buf, int chunked, const char *data, size_t len);
/* Complete the reply: the last chunk when chunked, then
 * evhttp_send_reply_end. scratch: as for replyhead_http_start, or NULL
 * to use a buffer of its own. */
void replyhead_http_end(struct evhttp_request *req, int chunked, struct evbuffer *scratch);

#endif
