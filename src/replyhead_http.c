/* replyhead_http.c: see replyhead_http.h. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "headers.h"
#include "log.h"
#include "replyhead_http.h"
#include "tls.h"

void
replyhead_http_begin(struct replyhead *h, struct evhttp_request *req)
{
	struct evkeyval *kv;

	replyhead_init(h);
	TAILQ_FOREACH(kv, evhttp_request_get_output_headers(req), next)
		replyhead_add(h, kv->key, strlen(kv->key), kv->value, strlen(kv->value));
}

/* evhttp's Date value (evhttp_maybe_add_date_header). */
static size_t
date_now(char *buf, size_t size)
{
	int n = evutil_date_rfc1123(buf, size, NULL);

	return n > 0 ? (size_t)n : 0;
}

int
replyhead_http_prepare(struct replyhead *h, struct evhttp_request *req, int status,
    const char *client_connection)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *conn;
	int rc = -1;

	replyhead_finish(h, status, client_connection, HEADERS_DEFAULT_CONTENT_TYPE, date_now);
	if (h->full)
		goto out;
	conn = evhttp_find_header(out, "Connection");
	if ((conn != NULL && strcasecmp(conn, "close") == 0) != h->close) {
		while (evhttp_remove_header(out, "Connection") == 0)
			;
		if (h->close)
			evhttp_add_header(out, "Connection", "close");
	}
	rc = 0;
out:
	return rc;
}

void
replyhead_http_start(const struct replyhead *h, struct evhttp_request *req, int status,
    const char *reason)
{
	struct evbuffer *out = bufferevent_get_output(
	    evhttp_connection_get_bufferevent(evhttp_request_get_connection(req)));
	size_t rlen = strlen(reason), size = replyhead_size(h, reason, rlen);
	struct evbuffer_iovec v;

	/* Written in place; the reply is evhttp's to send from here on. */
	if (evbuffer_reserve_space(out, (ev_ssize_t)size, &v, 1) != 1 || v.iov_len < size)
		fatalx("evbuffer_reserve_space: out of memory");
	v.iov_len = replyhead_write(h, status, reason, rlen, v.iov_base) - 2;
	if (evbuffer_commit_space(out, &v, 1) != 0)
		fatalx("evbuffer_commit_space failed");
}

void
replyhead_http_piece(struct evbuffer *buf, int held, int chunked, const char *data, size_t len)
{
	char line[20];

	if (held)
		evbuffer_add(buf, "\r\n", 2);
	if (chunked)
		evbuffer_add(buf, line, replyhead_chunk_line(len, line));
	evbuffer_add(buf, data, len);
	if (chunked)
		evbuffer_add(buf, "\r\n", 2);
}

/* Hand the bytes added to buf over to evhttp as a piece of the reply: it
 * moves them, enables writing and sets no callback. buf is scratch when
 * that is empty (it is between uses), else a buffer of its own. */
static struct evbuffer *
piece_buffer(struct evbuffer *scratch)
{
	struct evbuffer *b = scratch;

	if (evbuffer_get_length(b) != 0 && (b = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	return b;
}

static void
piece_send(struct evhttp_request *req, struct evbuffer *b, struct evbuffer *scratch)
{
	evhttp_send_reply_chunk_with_cb(req, b, NULL, NULL);
	if (b == scratch)
		evbuffer_drain(b, evbuffer_get_length(b));
	else
		evbuffer_free(b);
}

void
replyhead_http_flush(struct evhttp_request *req, struct evbuffer *scratch)
{
	struct evbuffer *b = piece_buffer(scratch);

	evbuffer_add(b, "\r\n", 2);
	piece_send(req, b, scratch);
}

/*
 * Write what the connection's output holds now, on a plain connection,
 * rather than on the next loop pass: through the bufferevent the answer
 * waits for EV_WRITE, armed now and disarmed once it is written (two
 * epoll_ctl and a wakeup a request). When it all went out,
 * evhttp_send_reply_end finds the output empty and ends the request at
 * once, and the write event armed by the last piece is disarmed in the
 * same pass (the changelist makes no system call of it). What does not go
 * out (EAGAIN, a short write) stays for the bufferevent, as before; on an
 * error nothing is taken and the bufferevent meets the same error on its
 * next write and reports it to evhttp as it did. A TLS connection's output
 * is plaintext for OpenSSL: tls_write_now encrypts and writes it.
 */
static void
write_now(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct evbuffer *out;
	evutil_socket_t fd;
	SSL *ssl;

	if (evcon == NULL)
		return;
	bev = evhttp_connection_get_bufferevent(evcon);
	out = bufferevent_get_output(bev);
	if (evbuffer_get_length(out) == 0)
		return;
	if ((ssl = bufferevent_openssl_get_ssl(bev)) != NULL) {
		tls_write_now(bev, ssl);
		return;
	}
	if ((fd = bufferevent_getfd(bev)) < 0)
		return;
	/* A socket bufferevent keeps the start of its output frozen except
	 * while it writes itself (bufferevent_sock.c): do the same. */
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write(out, fd);
	evbuffer_freeze(out, 1);
}

void
replyhead_http_end(struct evhttp_request *req, int held, int chunked, struct evbuffer *scratch)
{
	/* The held-back CRLF, and as evhttp_send_reply_end ends a reply it
	 * framed, the last chunk; then the request is done once everything
	 * is written. */
	if ((held || chunked) && evhttp_request_get_connection(req) != NULL) {
		struct evbuffer *b = piece_buffer(scratch);

		if (held)
			evbuffer_add(b, "\r\n", 2);
		if (chunked)
			evbuffer_add(b, "0\r\n\r\n", 5);
		piece_send(req, b, scratch);
	}
	write_now(req);
	evhttp_send_reply_end(req);
}
