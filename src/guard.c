/* guard.c: see guard.h.
 *
 * The raw-bytes guard. libevent's parser accepts what a gateway must not
 * (obsolete line folding, NUL in a value, "0x" chunk sizes, chunk data
 * without its CRLF) and never shows it, and it reads a whole body before
 * the request callback runs. So every byte a client sends is taken out of
 * the connection's input buffer by an evbuffer callback (worker.c's
 * client_input_cb, then guard_input) before evhttp parses anything, into
 * the connection's hold, where the strict scanner (reqscan.c) checks it:
 *  - a complete request head is given to evhttp without its body framing
 *    (Content-Length, Transfer-Encoding, Expect): evhttp delivers it at
 *    once, and the whole head decision is made before any body byte is
 *    read (worker.c's admit); a refusal is answered there, in order, and
 *    closes the connection when a body was announced (it was never read);
 *  - the body of an allowed request is read from the hold by the gateway
 *    itself (guard_read_body): within body_timeout_ms and a minimum rate,
 *    within the action's size limit, and within the worker's memory cap
 *    (past it, reading waits for room);
 *  - bytes of the next request (pipelining) wait in the hold until the
 *    current request is answered (guard_next), and reading stops when
 *    too many wait;
 *  - what the scanner refuses before evhttp saw the head is answered
 *    through a synthetic request whose refusal lives in the connection's
 *    state (never in a header a client could send), in JSON, in order,
 *    and closes the connection. A head not complete within
 *    header_timeout_ms is refused 408 that way, however slowly its bytes
 *    trickle in.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/http_struct.h>

#include "chars.h"
#include "defaults.h"
#include "framing.h"
#include "guard.h"
#include "log.h"
#include "proxy.h"
#include "reqscan.h"
#include "runtime.h"
#include "upstream.h"
#include "worker.h"
#include "xmalloc.h"

static void guard_pump(struct client_conn *cc);

static void
ms_to_tv(int64_t ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

static struct bufferevent *
cc_bev(struct client_conn *cc)
{
	return evhttp_connection_get_bufferevent(cc->evcon);
}

/* Add bytes evhttp is to parse; our own callback ignores them. Outside a
 * read a socket bufferevent keeps the end of its input buffer frozen:
 * thawed for the add and frozen again. OpenSSL's never freezes it, and
 * one left frozen makes its every read fail before it reads the socket:
 * the connection was never read again, and its readable socket woke the
 * loop at every pass (a worker at 100% until header_timeout_ms, from one
 * TLS client pipelining a request). */
static void
guard_give(struct client_conn *cc, struct evbuffer *what)
{
	struct bufferevent *bev = cc_bev(cc);
	struct evbuffer *in = bufferevent_get_input(bev);
	int thaw = !cc->in_input_cb && bufferevent_openssl_get_ssl(bev) == NULL;

	cc->injecting = 1;
	if (thaw)
		evbuffer_unfreeze(in, 0);
	evbuffer_add_buffer(in, what);
	if (thaw)
		evbuffer_freeze(in, 0);
	cc->injecting = 0;
}

/* Refuse what the scanner found before evhttp got a head: evhttp gets a
 * synthetic request instead, which request_cb answers with the refusal
 * kept here. Nothing after it is ever read. */
static void
guard_refuse(struct client_conn *cc, int status, const char *message)
{
	static const char synthetic[] = "GET /.scopegate-refused HTTP/1.1\r\n"
	    "Host: scopegate\r\nConnection: close\r\n\r\n";
	int was = cc->phase;
	struct evbuffer *b;

	cc->refusal_status = status;
	cc->refusal_message = message;
	cc->phase = GUARD_CLOSED;
	event_del(cc->deadline);
	evbuffer_drain(cc->hold, evbuffer_get_length(cc->hold));
	log_info("%s: refused before routing: %d %s", cc->client, status, message);
	if (was != GUARD_IDLE)
		return;
	if ((b = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	evbuffer_add(b, synthetic, sizeof(synthetic) - 1);
	guard_give(cc, b);
	evbuffer_free(b);
}

/* A head is complete in the first cc->scanned bytes of the hold (the
 * scanner checked its grammar): give evhttp the head without its body
 * framing, and remember what the body is. */
static void
guard_give_head(struct client_conn *cc)
{
	size_t hlen = cc->scanned, eol;
	const char *h = (const char *)evbuffer_pullup(cc->hold, (ev_ssize_t)hlen);
	const char *sp1, *sp2;
	struct evbuffer_iovec iov;
	struct evbuffer *out;
	struct evhttp_uri *u;
	char *target, tbuf[SG_GUARD_TARGET_STACK_BYTES];
	int chunked, expect, plain;

	cc->scanned = 0;
	cc->body_length = reqscan_body_length(&cc->scan, &chunked);
	cc->body_chunked = chunked;
	cc->body_announced = reqscan_in_body(&cc->scan) ? 1 : 0;
	/* The request line ends at the first CRLF (bare ones are refused). */
	eol = chars_crlf_from(h, 0, hlen);
	/* evhttp refuses a target its URI parser cannot read with its own
	 * HTML page: refuse it here, in JSON. */
	sp1 = memchr(h, ' ', eol);
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', eol - (size_t)(sp1 + 1 - h)) : NULL;
	/* A target of one '/' then anything but a second '/' (origin form,
	 * nearly every request) is one that parser always reads: no scheme
	 * (':' comes after a '/'), no authority, with EVHTTP_URI_NONCONFORMANT
	 * the path runs to '?' or '#' and the rest is query and fragment.
	 * Only other targets are parsed here (~1,300 instructions). The
	 * target as a C string: on the stack when it fits, else allocated. */
	target = NULL;
	plain = sp2 != NULL && sp2 - sp1 >= 2 && sp1[1] == '/' && (sp2 - sp1 == 2 || sp1[2] != '/');
	if (plain)
		;
	else if (sp2 != NULL && (size_t)(sp2 - sp1 - 1) < sizeof(tbuf)) {
		memcpy(tbuf, sp1 + 1, (size_t)(sp2 - sp1 - 1));
		tbuf[sp2 - sp1 - 1] = '\0';
		target = tbuf;
	} else if (sp2 != NULL)
		target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	if (target != NULL) {
		u = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
		if (target != tbuf)
			free(target);
		if (u == NULL) {
			evbuffer_drain(cc->hold, hlen);
			guard_refuse(cc, 400, "Malformed request target");
			return;
		}
		evhttp_uri_free(u);
	} else if (!plain) {
		/* No target at all (the scanner refuses that first). */
		evbuffer_drain(cc->hold, hlen);
		guard_refuse(cc, 400, "Malformed request target");
		return;
	}
	/* The worker's scratch buffer when it is empty (it always is between
	 * uses): no evbuffer made and freed per request. */
	out = evbuffer_get_length(cc->w->scratch) == 0 ? cc->w->scratch : evbuffer_new();
	if (out == NULL ||
	    evbuffer_reserve_space(out, (ev_ssize_t)hlen, &iov, 1) < 1 || iov.iov_len < hlen)
		fatalx("evbuffer: out of memory");
	iov.iov_len = reqscan_head_strip(h, hlen, iov.iov_base, &expect);
	evbuffer_commit_space(out, &iov, 1);
	cc->expect_continue = expect == 1;
	cc->expect_other = expect == 2;
	evbuffer_drain(cc->hold, hlen);
	cc->phase = GUARD_GIVEN;
	guard_give(cc, out);
	if (out == cc->w->scratch)
		evbuffer_drain(out, evbuffer_get_length(out));
	else
		evbuffer_free(out);
}

/* GUARD_IDLE: scan the hold for the next head. */
static void
guard_scan_head(struct client_conn *cc)
{
	struct worker *w = cc->w;

	while (cc->phase == GUARD_IDLE && cc->scanned < evbuffer_get_length(cc->hold)) {
		struct evbuffer_ptr pos;
		struct evbuffer_iovec v;
		int in_head, done;
		enum reqscan_result res;
		size_t n;

		evbuffer_ptr_set(cc->hold, &pos, cc->scanned, EVBUFFER_PTR_SET);
		if (evbuffer_peek(cc->hold, -1, &pos, &v, 1) < 1)
			break;
		n = reqscan_feed_some(&cc->scan, v.iov_base, v.iov_len, &in_head, &done, &res);
		if (res != REQSCAN_MORE) {
			guard_refuse(cc, cc->scan.status, cc->scan.message);
			return;
		}
		if (!in_head)
			evbuffer_drain(cc->hold, n);	/* empty lines before a request */
		else
			cc->scanned += n;
		if (in_head && !done && !event_pending(cc->deadline, EV_TIMEOUT, NULL))
			event_add(cc->deadline, &w->header_tv);
		if (done) {
			event_del(cc->deadline);
			guard_give_head(cc);
			return;
		}
		if (n == 0)
			break;
	}
}

static uint64_t
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t->tv_sec) * 1000 +
	    (uint64_t)((now.tv_nsec - t->tv_nsec) / 1000000);
}

/* The error type (Losant's shape) of a refusal the guard answers. */
static const char *
refusal_type(int status)
{
	switch (status) {
	case 408: return "RequestTimeout";
	case 413: return "PayloadTooLarge";
	case 431: return "RequestHeaderFieldsTooLarge";
	case 501: return "NotImplemented";
	case 503: return "ServiceUnavailable";
	case 505: return "HTTPVersionNotSupported";
	}
	return "BadRequest";
}

/* Refuse the request whose body is being read: answer it (in order: it
 * is the connection's current request) and close. */
static void
guard_body_refuse(struct client_conn *cc, int status, const char *reason, const char *message)
{
	struct proxy_req *pr = cc->cur;

	log_info("%s: request body refused: %d %s", cc->client, status, message);
	if (cc->body_timer != NULL)
		event_del(cc->body_timer);
	guard_close(cc);
	if (pr == NULL)
		return;
	if (pr->ux != NULL) {
		/* A streamed body broke off: the upstream has part of it. */
		upstream_cancel(pr->ux);
		pr->ux = NULL;
	}
	pr->decision = "deny";
	pr->reason = reason;
	proxy_reply_error(pr, status, refusal_type(status), message, NULL);
}

static void
body_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_conn *cc = arg;
	const struct cfg_limits *l = &cc->w->cf->limits;
	uint64_t ms;
	struct timeval tv = { 1, 0 };

	(void)fd;
	(void)what;
	if (cc->phase != GUARD_BODY || cc->cur == NULL)
		return;
	if (ms_since(&cc->cur->mono) >= (uint64_t)l->body_timeout_ms) {
		guard_body_refuse(cc, 408, "body_timeout", "Request body not received in time");
		return;
	}
	/* The average rate since reading began (or resumed after waiting
	 * for room), after a first second of grace. */
	ms = ms_since(&cc->body_since);
	if (!cc->is_waiting && !cc->stream_paused && l->body_min_bytes_per_s > 0 && ms >= 2000 &&
	    cc->body_raw * 1000 < (uint64_t)l->body_min_bytes_per_s * (ms - 1000)) {
		guard_body_refuse(cc, 408, "body_timeout", "Request body sent too slowly");
		return;
	}
	event_add(cc->body_timer, &tv);
}

/* Room under max_buffered_body_bytes for n more bytes of pr's body? A
 * body alone in the worker may always grow (up to its own limit), so
 * that one larger than the cap is not stuck. */
static size_t
body_room(struct worker *w, const struct proxy_req *pr, size_t n)
{
	size_t cap = (size_t)w->cf->limits.max_buffered_body_bytes;

	if (w->body_bytes == pr->body_held)
		return n;
	if (w->body_bytes >= cap)
		return 0;
	return n < cap - w->body_bytes ? n : cap - w->body_bytes;
}

/* Pass the next n bytes of the hold, body data the scanner decoded, to
 * the upstream of a streamed body: as they are for a Content-Length body;
 * for a chunked one, as one chunk of the gateway's own framing, so that
 * nothing of the client's framing (sizes with leading zeros, extensions,
 * trailers) reaches the upstream, only the data it framed. */
static void
guard_stream_data(struct client_conn *cc, struct proxy_req *pr, size_t n)
{
	char line[FRAMING_CHUNK_LINE_MAX];
	size_t len = 0;

	if (n == 0)
		return;		/* a chunk of nothing would end the body */
	if (cc->body_chunked) {
		len = framing_chunk_line(n, line);
		evbuffer_add(pr->body, line, len);
	}
	evbuffer_remove_buffer(cc->hold, pr->body, n);
	if (cc->body_chunked)
		evbuffer_add(pr->body, "\r\n", 2);
	upstream_write(pr->ux, pr->body);
}

/* GUARD_BODY: move body bytes from the hold to the request. */
static void
guard_read_body(struct client_conn *cc)
{
	struct worker *w = cc->w;
	struct proxy_req *pr = cc->cur;

	while (cc->phase == GUARD_BODY && evbuffer_get_length(cc->hold) > 0) {
		struct evbuffer_iovec v;
		enum reqscan_result res;
		int is_data, done;
		size_t n, room;

		if (evbuffer_peek(cc->hold, -1, NULL, &v, 1) < 1)
			break;
		if (pr->streaming && pr->ux != NULL &&
		    upstream_write_pending(pr->ux) > SG_STREAM_BODY_HIGH_WATER) {
			/* The upstream is behind: stop reading the client
			 * until what is queued went out (backpressure). */
			cc->stream_paused = 1;
			bufferevent_disable(cc_bev(cc), EV_READ);
			return;
		}
		room = pr->streaming ? v.iov_len : body_room(w, pr, v.iov_len);
		if (room == 0) {
			/* Wait for room: stop reading (the kernel's buffers
			 * hold the rest), bounded by the body timeout. */
			if (!cc->is_waiting) {
				TAILQ_INSERT_TAIL(&w->body_waiting, cc, waiting);
				cc->is_waiting = 1;
			}
			bufferevent_disable(cc_bev(cc), EV_READ);
			return;
		}
		n = reqscan_feed_body(&cc->scan, v.iov_base, room, &is_data, &done, &res);
		if (res != REQSCAN_MORE) {
			guard_body_refuse(cc, cc->scan.status, cc->scan.status == 413 ?
			    "body_too_large" : cc->scan.status == 431 ? "trailer_too_large" :
			    "framing", cc->scan.message);
			return;
		}
		cc->body_raw += n;
		if (is_data && pr->streaming) {
			pr->bytes_in += n;
			if (pr->ux != NULL)
				guard_stream_data(cc, pr, n);
			else
				evbuffer_drain(cc->hold, n);
		} else if (is_data) {
			evbuffer_remove_buffer(cc->hold, pr->body, n);
			pr->body_held += n;
			w->body_bytes += n;
			metrics_body_bytes_held(w->metrics, (int64_t)n);
		} else
			evbuffer_drain(cc->hold, n);
		if (done) {
			event_del(cc->body_timer);
			pr->body_read = 1;
			cc->phase = GUARD_BUSY;
			/* Back to evhttp's callbacks and the write timeout. */
			evhttp_connection_set_timeout_tv(cc->evcon, &w->write_tv);
			if (!pr->streaming)
				worker_admit_body(w, pr);
			else if (pr->ux != NULL) {
				/* The client's last chunk and trailers were
				 * only for the scanner: ours, without any. */
				if (cc->body_chunked) {
					evbuffer_add(pr->body, FRAMING_LAST_CHUNK,
					    sizeof(FRAMING_LAST_CHUNK) - 1);
					upstream_write(pr->ux, pr->body);
				}
				upstream_write_end(pr->ux);
			}
			return;
		}
	}
	/* No room left for a next read: do not make one (each costs up to a
	 * socket read of memory before it could be refused room). */
	if (cc->phase == GUARD_BODY && !pr->streaming && body_room(w, pr, 1) == 0 &&
	    !cc->is_waiting) {
		TAILQ_INSERT_TAIL(&w->body_waiting, cc, waiting);
		cc->is_waiting = 1;
		bufferevent_disable(cc_bev(cc), EV_READ);
	}
}

/* The head decision allowed a request with a body: read it. */
void
guard_body_start(struct worker *w, struct proxy_req *pr)
{
	struct client_conn *cc = pr->cc;
	struct bufferevent *bev = cc_bev(cc);
	bufferevent_event_cb eventcb = NULL;
	struct timeval tv = { 1, 0 }, whole;
	void *arg = NULL;

	if ((pr->body = evbuffer_new()) == NULL)
		fatalx("evbuffer_new: out of memory");
	cc->phase = GUARD_BODY;
	cc->scan.max_body = pr->body_max;
	cc->body_raw = 0;
	clock_gettime(CLOCK_MONOTONIC, &cc->body_since);
	/* evhttp thinks the request is read and is waiting for our answer:
	 * while we read, it must not see input (its read callback would
	 * take it for a protocol error), and what we write (100 Continue)
	 * is not one of its writes. Its event callback stays: a client that
	 * goes away still ends the request. evhttp sets its own callbacks
	 * back when it writes the answer. */
	bufferevent_getcb(bev, NULL, NULL, &eventcb, &arg);
	bufferevent_setcb(bev, NULL, NULL, eventcb, arg);
	if (cc->expect_continue && pr->req->minor >= 1) {
		bufferevent_write(bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		bufferevent_enable(bev, EV_WRITE);
	}
	/* evhttp's own inactivity timer: past our deadline, which answers. */
	ms_to_tv(w->cf->limits.body_timeout_ms + 5000, &whole);
	evhttp_connection_set_timeout_tv(cc->evcon, &whole);
	if (cc->body_timer == NULL)
		cc->body_timer = evtimer_new(w->base, body_timer_cb, cc);
	event_add(cc->body_timer, &tv);
	bufferevent_enable(bev, EV_READ);
	guard_read_body(cc);
}

static void
guard_pump(struct client_conn *cc)
{
	size_t ahead;

	switch (cc->phase) {
	case GUARD_CLOSED:
		evbuffer_drain(cc->hold, evbuffer_get_length(cc->hold));
		return;
	case GUARD_IDLE:
		guard_scan_head(cc);
		return;
	case GUARD_BODY:
		guard_read_body(cc);
		return;
	default:
		/* The next request waits for this one's answer; stop reading
		 * while too much of it waits. (evhttp turns reading on when
		 * it writes, to see a close: each write can add one read.) */
		ahead = (size_t)cc->w->cf->limits.max_header_bytes + SG_GUARD_AHEAD_BYTES;
		if (evbuffer_get_length(cc->hold) > ahead)
			bufferevent_disable(cc_bev(cc), EV_READ);
		if (evbuffer_get_length(cc->hold) > 4 * ahead) {
			log_info("%s: too many bytes sent ahead of an answer", cc->client);
			guard_close(cc);
		}
		return;
	}
}

void
guard_close(struct client_conn *cc)
{
	if (cc->is_waiting) {
		TAILQ_REMOVE(&cc->w->body_waiting, cc, waiting);
		cc->is_waiting = 0;
	}
	cc->phase = GUARD_CLOSED;
	evbuffer_drain(cc->hold, evbuffer_get_length(cc->hold));
}

void
guard_next(struct client_conn *cc, int closing)
{
	if (cc->phase == GUARD_CLOSED) {
		/* Refused with its body unread (the answer said Connection:
		 * close), or too much sent ahead while an answer was already
		 * on its way: then end the connection as a client EOF would. */
		if (!closing)
			bufferevent_trigger_event(cc_bev(cc), BEV_EVENT_EOF | BEV_EVENT_READING,
			    BEV_TRIG_DEFER_CALLBACKS);
		return;
	}
	if (cc->body_timer != NULL)
		event_del(cc->body_timer);
	cc->phase = GUARD_IDLE;
	cc->scan.max_body = cc->w->head_body_ceiling;
	/* evhttp turns reading on again itself (it reads the next head). */
	guard_pump(cc);
}

void
guard_stream_drained(struct client_conn *cc)
{
	if (!cc->stream_paused || cc->phase != GUARD_BODY)
		return;
	cc->stream_paused = 0;
	clock_gettime(CLOCK_MONOTONIC, &cc->body_since);
	cc->body_raw = 0;
	bufferevent_enable(cc_bev(cc), EV_READ);
	guard_read_body(cc);
}

void
guard_body_release(struct worker *w, size_t n)
{
	struct client_conn *cc;

	if (n > w->body_bytes)
		n = w->body_bytes;
	w->body_bytes -= n;
	metrics_body_bytes_held(w->metrics, -(int64_t)n);
	/* Wake those waiting for room, in order, while there is some. */
	while ((cc = TAILQ_FIRST(&w->body_waiting)) != NULL &&
	    (cc->cur == NULL || cc->phase != GUARD_BODY || body_room(w, cc->cur, 1) > 0)) {
		TAILQ_REMOVE(&w->body_waiting, cc, waiting);
		cc->is_waiting = 0;
		if (cc->cur == NULL || cc->phase != GUARD_BODY)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &cc->body_since);
		cc->body_raw = 0;
		bufferevent_enable(cc_bev(cc), EV_READ);
		guard_read_body(cc);
	}
}

/* header_timeout_ms passed with no request head begun: since the accept
 * (a TLS handshake not finished, or no byte at all) or since the last
 * answer on a keep-alive connection. There is no request to answer:
 * close (deferred: evhttp frees the connection). */
static void
idle_deadline(struct client_conn *cc)
{
	__atomic_add_fetch(&cc->w->rt->head_timeouts, 1, __ATOMIC_RELAXED);
	log_debug("%s: no request within header_timeout_ms; closing", cc->client);
	bufferevent_trigger_event(evhttp_connection_get_bufferevent(cc->evcon),
	    BEV_EVENT_EOF | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
}

void
guard_await_head(struct client_conn *cc)
{
	/* A head already on its way keeps the deadline of its first byte;
	 * a pipelined request's body is timed by evhttp. Otherwise the
	 * deadline starts now, also when one was pending from an earlier
	 * answer (pipelined requests: each answer restarts it). */
	if (cc->deadline == NULL || cc->phase == GUARD_CLOSED || reqscan_in_head(&cc->scan))
		return;
	event_add(cc->deadline, &cc->w->header_tv);
}

void
guard_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_conn *cc = arg;

	(void)fd;
	(void)what;
	if (cc->phase != GUARD_IDLE)
		return;		/* a request is being served, or refused */
	if (!reqscan_in_head(&cc->scan)) {
		idle_deadline(cc);
		return;
	}
	guard_refuse(cc, 408, "Request header not received in time");
	/* evhttp reads the synthetic request now (no socket read will). */
	bufferevent_trigger(cc_bev(cc), EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

/* The guard refused what came before this (synthetic) request: answer
 * with the refusal it kept, in order, and close. */
void
guard_answer_refusal(struct proxy_req *pr)
{
	int status = pr->cc->refusal_status;

	pr->decision = "deny";
	pr->reason = status == 503 ? "connection_limit" : status == 431 ? "header_too_large" :
	    status == 413 ? "body_too_large" : status == 408 ? "header_timeout" : "framing";
	evhttp_add_header(evhttp_request_get_output_headers(pr->req), "Connection", "close");
	proxy_reply_error(pr, status, refusal_type(status), pr->cc->refusal_message, NULL);
}

void
guard_input(struct client_conn *cc, struct evbuffer *buf, size_t n_added)
{
	size_t len;

	cc->received += n_added;
	metrics_client_bytes_read(cc->w->metrics, n_added);
	/* The new bytes are the tail of the buffer (before them, at most a
	 * head given to evhttp that it has not parsed yet): into the hold. */
	len = evbuffer_get_length(buf);
	cc->injecting = 1;
	if (len > n_added) {
		struct evbuffer *given = evbuffer_new();
		if (given == NULL)
			fatalx("evbuffer_new: out of memory");
		evbuffer_remove_buffer(buf, given, len - n_added);
		evbuffer_add_buffer(cc->hold, buf);
		evbuffer_add_buffer(buf, given);
		evbuffer_free(given);
	} else
		evbuffer_add_buffer(cc->hold, buf);
	cc->injecting = 0;
	cc->in_input_cb = 1;
	if (cc->over_limit && cc->phase == GUARD_IDLE)
		guard_refuse(cc, 503, "Too many connections");
	else
		guard_pump(cc);
	cc->in_input_cb = 0;
}
