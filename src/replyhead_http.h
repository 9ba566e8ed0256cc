/* replyhead_http.h: evhttp glue for replyhead.h. An answer whose head the
 * gateway writes goes to evhttp as a reply it never framed: the head is
 * written into the connection's output buffer, the pieces that follow are
 * handed over with evhttp_send_reply_chunk_with_cb (which, for a reply
 * evhttp did not start, moves the bytes as they are and enables writing),
 * a chunked body's framing is added here, and evhttp_send_reply_end
 * completes it as usual (keep-alive or close by the output list, the
 * on-complete callback). Only for what replyhead reproduces: an HTTP/1.1
 * request in origin form that is not HEAD (evhttp drops every piece of a
 * HEAD reply). Public libevent API only. */
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
/* Write the prepared head as the reply's start, all of it but its last
 * CRLF straight into the connection's output buffer. The CRLF is held
 * back: it goes out with the first body piece (replyhead_http_piece with
 * held set, then evhttp_send_reply_chunk_with_cb), or alone
 * (replyhead_http_flush) when no body is in hand, or with the end. So the
 * head and a body that came with it are handed to evhttp once: each hand-
 * over re-arms the connection's write event and timeout (~1,400
 * instructions), and it needs bytes to hand over (evhttp ignores an empty
 * piece, and evhttp_send_reply_end does not enable writing). */
void replyhead_http_start(const struct replyhead *h, struct evhttp_request *req, int status,
    const char *reason);
/* Append a body piece of len (> 0) bytes to buf, as a chunk when chunked,
 * after the head's held-back CRLF when held. */
void replyhead_http_piece(struct evbuffer *buf, int held, int chunked, const char *data,
    size_t len);
/* Send the held-back CRLF now (writing enabled, no callback, as
 * evhttp_send_reply_start leaves it), through scratch (an evbuffer that is
 * empty, and is left empty). */
void replyhead_http_flush(struct evhttp_request *req, struct evbuffer *scratch);
/* Complete the reply: the held-back CRLF when held, the last chunk when
 * chunked, then evhttp_send_reply_end. scratch: as for
 * replyhead_http_flush. */
void replyhead_http_end(struct evhttp_request *req, int held, int chunked,
    struct evbuffer *scratch);

#endif
