/* guard.h: the raw-bytes guard on every client connection (see guard.c):
 * every byte a client sends goes to the connection's hold and through the
 * strict scanner (reqscan.c) before evhttp sees anything; evhttp gets only
 * whole, checked request heads without their body framing; the body of an
 * allowed request is read by the guard itself, within its limits, held
 * whole or streamed to the upstream. worker.c glues it to evhttp and makes
 * the decisions; proxy.c tells it when an answer is done. */
#ifndef SCOPEGATE_GUARD_H
#define SCOPEGATE_GUARD_H

#include <stddef.h>

#include <event2/event.h>

struct client_conn;
struct evbuffer;
struct proxy_req;
struct worker;

/* struct client_conn's phase. */
enum guard_phase {
	GUARD_IDLE,	/* evhttp waits for a head: the hold is scanned for one */
	GUARD_GIVEN,	/* a head was given to evhttp, request_cb has not run */
	GUARD_BUSY,	/* a request is being served; its body (if any) is read */
	GUARD_BODY,	/* a request's body is being read from the hold */
	GUARD_CLOSED,	/* refused: nothing more is read; closes after the answer */
};

/* n_added bytes arrived at the end of buf, the connection's input buffer
 * (evbuffer callback, not while the guard itself adds to it): take them
 * into the hold and go on with whatever the connection is at. */
void guard_input(struct client_conn *cc, struct evbuffer *buf, size_t n_added);
/* The connection's deadline (cc->deadline): header_timeout_ms passed. */
void guard_deadline_cb(evutil_socket_t fd, short what, void *arg);
/* Answer the synthetic request the guard gave evhttp for a refusal it
 * made before routing (cc->refusal_status), in order, and close. */
void guard_answer_refusal(struct proxy_req *pr);
/* The head decision allowed a request with a body: read it, then
 * worker_admit_body (held) or upstream_write_end (streamed). */
void guard_body_start(struct worker *w, struct proxy_req *pr);

/* The answer on cc is complete: the next request head must come within
 * header_timeout_ms from now (unless one is already on its way). */
void guard_await_head(struct client_conn *cc);
/* The request on cc is complete (its answer is written): the guard may
 * give evhttp the next request head. closing: the answer said
 * Connection: close (evhttp closes the connection itself). */
void guard_next(struct client_conn *cc, int closing);
/* The request on cc is refused while its body was not read: nothing more
 * is read from this connection, which closes after the answer. */
void guard_close(struct client_conn *cc);
/* A streamed body's bytes went out to the upstream: read more. */
void guard_stream_drained(struct client_conn *cc);
/* A request's buffered body of n bytes is gone (forwarded or freed). */
void guard_body_release(struct worker *w, size_t n);

#endif
