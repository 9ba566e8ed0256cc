/* proxy.h: the life of one client request in the gateway: the per-request
 * context, error replies, forwarding to the upstream and streaming the
 * answer back, and the access-log line at the end. */
#ifndef SCOPEGATE_PROXY_H
#define SCOPEGATE_PROXY_H

#include <stdint.h>
#include <time.h>

#include <event2/event_struct.h>
#include <event2/http.h>

#include "connlimit.h"
#include "gate.h"
#include "reqscan.h"
#include "revoke.h"
#include "trace.h"
#include "worker.h"

struct upstream_exchange;

/* One per accepted client connection; lets a close of the client's
 * connection reach the request being served on it. */
struct client_conn {
	struct worker *w;
	struct evhttp_connection *evcon;
	struct proxy_req *cur;		/* request in progress, or NULL */
	char client[64];		/* peer address:port, formatted once */
	char client_ip[48];
	char *cert_subject;		/* verified client certificate (mTLS), or NULL */
	char *cert_sha256;
	/* Checked at each request (tls_connection_standing): the settings
	 * its handshake ran under (no reference: the SSL holds one), NULL
	 * for a plain connection, and the certificate's notAfter, 0 if none. */
	const struct tls_server *tls_server;
	int64_t cert_not_after;
	/* The raw-bytes guard (guard.c): every byte the client sends goes
	 * to hold first; evhttp gets only whole, checked heads without their
	 * body, and bodies go to the request's own reader. */
	struct reqscan scan;
	struct evbuffer *hold;		/* received, not yet given to evhttp or a body */
	size_t scanned;			/* bytes of hold in the head being scanned */
	int phase;			/* enum guard_phase (guard.h) */
	uint64_t received;		/* bytes added to the input buffer so far */
	struct event *deadline;		/* the current request head must be complete by then */
	struct event *body_timer;	/* body_timeout_ms and the minimum rate */
	struct timespec body_since;	/* body reading started (or resumed) */
	uint64_t body_raw;		/* body bytes (with chunk framing) since then */
	/* The head given to evhttp: what its body is (evhttp never sees it). */
	uint64_t body_length;		/* Content-Length, 0 when none */
	int refusal_status;		/* the guard refused: the answer, in order */
	const char *refusal_message;
	TAILQ_ENTRY(client_conn) waiting;	/* in the worker's queue for body room */
	unsigned body_announced:1;	/* Content-Length > 0 or chunked */
	unsigned body_chunked:1;
	unsigned expect_continue:1;	/* Expect: 100-continue */
	unsigned expect_other:1;	/* an Expect evhttp would answer 417 in HTML */
	unsigned is_waiting:1;		/* queued for room under max_buffered_body_bytes */
	unsigned stream_paused:1;	/* streamed body: the upstream is behind */
	unsigned in_input_cb:1;
	unsigned injecting:1;
	unsigned over_limit:1;
	unsigned peer_checked:1;	/* cert_* filled in (after the handshake) */
	unsigned fresh:1;		/* counted in worker.fresh: no request yet */
	/* limits.max_connections_per_client (connlimit.h): the address
	 * group this connection is counted in, if counted. */
	struct connlimit_key group;
	unsigned group_counted:1;
	unsigned group_parsed:1;	/* group holds client_ip's key (parsed at accept) */
	unsigned group_refused:1;	/* over it: closed at accept */
	/* Keeps the socket in the event loop's epoll set while evhttp does
	 * not read it (worker.c client_watch_cb); reads nothing. */
	struct event watch;
	unsigned watch_on:1;
	unsigned watch_strikes:2;	/* passes in a row it fired unread */
	uint64_t watch_tls_read;	/* TLS: bytes read when it last fired */
};

struct proxy_req {
	struct worker *w;
	struct cfg *cf;			/* the snapshot this request is served with (ref) */
	struct client_conn *cc;
	struct evhttp_request *req;	/* client side; owned by evhttp */
	struct upstream_exchange *ux;	/* upstream side while in flight */
	struct upstream_pool *pool;	/* the server it went to (upset_pick) */
	/* The request as sent, kept to send again to another server (an
	 * idempotent request to an upstream with several servers and
	 * retries); NULL otherwise. */
	struct evbuffer *retry_wire;
	unsigned retry_flags;
	int retries_left;
	struct evbuffer *piece;		/* an answer's body piece on its way out */

	struct timespec wall;		/* arrival, for the log */
	struct timespec mono;		/* arrival, for the latency */
	/* Ours (32 hex digits), or the one a trusted proxy sent. */
	char request_id[TRACE_REQUEST_ID_MAX + 1];
	/* W3C trace context: what the upstream gets, the trace id for the
	 * log, and whether the caller's tracestate goes along (only with the
	 * valid traceparent it belongs to). */
	char traceparent[TRACE_PARENT_LEN + 1];
	char trace_id[TRACE_ID_HEX_LEN + 1];
	int keep_tracestate;
	const char *client;		/* the connection's, see struct client_conn */
	/* The client's address: the peer's, or the one a trusted proxy's
	 * X-Forwarded-For gives (real_ip, and xff is that field's value, to
	 * forward with the peer appended). */
	const char *client_ip;
	char real_ip[48];
	const char *xff;
	const char *method;
	char *path;			/* path part of the target, for the log */
	/* Request fields found in one pass over the headers (check_framing);
	 * they point into evhttp's header list. */
	const char *h_authorization;
	int n_authorization;
	const char *h_content_type;
	const char *h_content_encoding;
	int n_content_encoding;
	const char *h_host;
	const char *h_connection;	/* the first; n_connection counts them */
	int n_connection;
	const char *h_forwarded_for;	/* the last; n_forwarded_for counts them */
	int n_forwarded_for;
	int h_framed;			/* Content-Length or Transfer-Encoding came */

	size_t action_idx;		/* METRICS_ACTION_NONE when none matched */
	const char *action;		/* points into the policy */
	const char *scope;		/* points into the policy */
	char *subject;
	char *token_id;
	const char *decision;
	const char *reason;
	int status;
	int upstream_status;
	uint64_t bytes_in;
	uint64_t bytes_out;
	struct revoke_intent revoke;	/* what a 2xx answer revokes or reinstates */
	/* Access-log fields, copied when the request arrives: in the close
	 * path the request may be gone when the line is written. */
	char *log_strings;		/* one allocation holding the four below */
	const char *log_query;		/* redacted (log.redact_query), or NULL */
	const char *log_host;
	const char *log_user_agent;
	const char *log_sni;
	const char *tls_version;	/* OpenSSL's static names, or NULL */
	const char *tls_cipher;
	char http_version[8];
	char upstream_addr[80];		/* "" until an answer came */
	int64_t upstream_latency_us;	/* -1 until an answer came */
	struct timespec upstream_sent;	/* when the request went to the upstream */
	/* The head's decision (gate_decide_head), kept while the body is
	 * read; then the body's. Heap: the match points into it. */
	struct gate_decision *gd;
	struct rlgate_wait *rlw;	/* waiting for a shared rate limit (rlgate.h) */
	struct evbuffer *body;		/* the body read so far (buffered), or NULL */
	size_t body_held;		/* of it, counted against max_buffered_body_bytes */
	uint64_t body_max;		/* the action's max_body_bytes */

	/* tokens.introspection: the wait for the opaque token's answer,
	 * and the answer (a reference) once it came. */
	struct introspect_waiter *iwait;
	struct introspect_entry *ientry;
	/* An unknown kid: waiting for the key set's refetch (at most until
	 * kid_timer), once per request. */
	struct event *kid_timer;
	TAILQ_ENTRY(proxy_req) kid_link;
	unsigned kid_waited:1;
	unsigned fa_taken:1;		/* took from limits.failed_auth_per_client */
	unsigned tls:1;			/* came in over TLS */
	unsigned reply_started:1;	/* status line and headers are out */
	unsigned paused:1;		/* upstream reads stopped for a slow client */
	unsigned finished:1;
	unsigned body_announced:1;	/* the head said a body follows */
	unsigned body_read:1;		/* ... and all of it was read */
	unsigned streaming:1;		/* ... and it goes to the upstream as it comes */
	/* The answer's head was written by the gateway (replyhead.h): evhttp
	 * sees an unframed reply, and a chunked body is framed here. */
	unsigned own_head:1;
	unsigned own_chunked:1;
	unsigned own_held:1;	/* ... and its last CRLF waits for the first piece */
	/* The gateway's RateLimit-* are on the answer (rlgate.c): the
	 * upstream's of that family are not passed (headers_is_ratelimit). */
	unsigned rl_headers:1;
};

/* Create the context for a new request; never NULL. */
struct proxy_req *proxy_req_new(struct worker *w, struct client_conn *cc,
    struct evhttp_request *req);
/* A zeroed gate decision for a request's pr->gd (freed with the request);
 * never NULL. */
struct gate_decision *proxy_decision_new(struct worker *w);
/* Free the worker's spare request context and decision (worker_join). */
void proxy_worker_free_spares(struct worker *w);

/* Answer with a Losant-shaped JSON error {"type","message"}. `www_auth`
 * (may be NULL) becomes a WWW-Authenticate header. The request completes. */
void proxy_reply_error(struct proxy_req *pr, int status, const char *type,
    const char *message, const char *www_auth);

/* Send the request to the upstream; the answer streams back and the
 * request completes by itself. */
void proxy_forward(struct proxy_req *pr);

/* The same for a request whose body is streamed (stream non-zero): the
 * head goes now with the body's Content-Length (or, for a chunked body,
 * Transfer-Encoding: chunked), the body follows through upstream_write as
 * the guard reads it (re-framed by the guard when chunked). */
void proxy_forward_stream(struct proxy_req *pr, int stream);

/* The client's connection went away (see struct client_conn). */
void proxy_client_closed(struct proxy_req *pr);


#endif
