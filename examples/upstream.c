/* upstream.c: example-upstream, a small single-threaded HTTP server that
 * stands in for the Losant API behind scopegate in the demo and in the
 * integration tests. It serves the Application API Token resource (see
 * upstream_tokens.c) and test endpoints under /__test/:
 *
 *   ANY  /__test/echo[/...]      200 {"method","uri","headers","body",
 *                                "body_length","conn"} of the request as
 *                                received (uri raw, headers in order)
 *   GET  /__test/big?bytes=N[&chunk=M]
 *                                N bytes, chunked encoding, chunks of M bytes
 *                                (default 16384, at most 1048576), produced as
 *                                the socket drains; byte i is 'a' + i % 26
 *   GET  /__test/bigcl?bytes=N   the same bytes with Content-Length
 *   GET  /__test/sse?events=N&interval_ms=M
 *                                text/event-stream: "data: event i\n\n" for
 *                                i = 1..N, the first at once, then one every
 *                                M ms (defaults 3 and 100), then the end
 *   ANY  /__test/slow?ms=N       200 {"slow":N} after N ms (timer)
 *   ANY  /__test/status?code=N   status N with an error-shaped body
 *   GET  /__test/stats           {"connections":C,"requests":R}: C counts
 *                                TCP connections accepted, R requests
 *                                received, both since start or reset;
 *                                /__test/stats itself is not counted
 *   POST /__test/reset-stats     zero both counters
 *
 * "conn" is the serial number (1, 2, ...) of the connection a request came
 * on; it never resets. Strings that are not valid UTF-8 (uri, header
 * values, body) are given byte by byte as U+0000..U+00FF, and "body" then
 * comes with "body_encoding":"latin1". With --record FILE every request but
 * /__test/stats is appended to FILE before it is answered, as one JSON line
 * {"method","uri","headers","body","body_length","conn"}, flushed at once
 * (a body over 4 MiB is given as "body_crc32", its CRC-32 as zlib's).
 * Only the methods libevent's evhttp knows are accepted (GET, POST, HEAD,
 * PUT, DELETE, OPTIONS, TRACE, CONNECT, PATCH); others get evhttp's 400.
 * Request bodies may be up to 64 MiB, headers up to 1 MiB.
 *
 * usage: example-upstream [--listen ADDR:PORT] [--record FILE]
 *            [--port-file FILE] [--timeout SEC] [--quiet]
 *            [--add-header "Name: value"]...
 * --listen defaults to 127.0.0.1:8081 ([::1]:PORT for IPv6); port 0 binds a
 * free port, and --port-file then tells which: "PORT\n" is written to a
 * temporary file renamed to FILE once listening. --timeout is evhttp's
 * read/write timeout (default 120 s; it does not cut answers in progress).
 * --quiet drops the one stderr line per request. --add-header (repeatable)
 * adds the field to every answer, in the order given, before the answer's
 * own (a test's upstream that states its own RateLimit-*, say); the name
 * ends at the first colon, blanks after it are skipped, an empty value is
 * allowed, an empty name or one with a space or tab is refused. SIGTERM
 * and SIGINT end the program with status 0. */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

#include "upstream.h"

#define DEFAULT_LISTEN "127.0.0.1:8081"
#define DEFAULT_TIMEOUT_SEC 120
#define MAX_BODY_SIZE (64UL * 1024 * 1024)
#define MAX_HEADERS_SIZE (1024UL * 1024)
#define CONN_BUCKETS 1024
#define BIG_CHUNK_DEFAULT 16384
#define BIG_CHUNK_MAX (1024 * 1024)
#define BIG_BYTES_MAX (UINT64_C(1) << 40)
#define BIG_PIECE 65536 /* largest single evbuffer_add of the pattern */
#define BIG_BATCH 65536 /* bytes queued each time the output drains */
#define SSE_EVENTS_MAX 100000
#define SSE_INTERVAL_MAX 60000
#define SLOW_MS_MAX 600000

enum job_kind { JOB_SLOW, JOB_BIG, JOB_SSE };

struct upstream;
struct conn;

/* An answer that outlives its request callback: a timer or a stream. */
struct job {
	LIST_ENTRY(job) entry;
	struct upstream *up;
	struct evhttp_request *req;
	struct conn *conn; /* NULL when unknown */
	struct event *timer;
	enum job_kind kind;
	uint64_t remaining; /* BIG: bytes still to send */
	uint64_t offset;    /* BIG: offset of the next byte */
	size_t chunk;       /* BIG: bytes per chunk */
	uint64_t ms;        /* SLOW: delay; SSE: interval */
	uint64_t events;    /* SSE: total */
	uint64_t sent;      /* SSE: sent so far */
};

/* One accepted connection, found again through its bufferevent. */
struct conn {
	struct conn *next; /* hash chain */
	struct upstream *up;
	struct bufferevent *bev;
	uint64_t serial;
	struct job *job; /* evhttp answers one request at a time */
};

struct upstream {
	struct event_base *base;
	struct evhttp *http;
	FILE *record;
	int quiet;
	uint64_t connections;
	uint64_t requests;
	uint64_t next_serial;
	struct conn *conns[CONN_BUCKETS];
	LIST_HEAD(, job) jobs;
	struct upstream_tokens *tokens;
	size_t nadd;		/* --add-header: fields added to every answer */
	char **add_name;
	char **add_value;
};

/* Byte i of the pattern is 'a' + i % 26. */
static char big_pattern[26 + BIG_PIECE];

/*
 * Connections. evhttp offers no per-connection user data, so each accepted
 * connection is registered by its bufferevent in the bevcb (called exactly
 * once per accepted socket: that is what "connections" counts) and looked
 * up from a request. The entry is removed by the connection's close
 * callback. An entry whose connection closed before its first request
 * stays until the allocator hands the same bufferevent address to a new
 * connection, whose registration then replaces it.
 */

static size_t
conn_hash(const struct bufferevent *bev)
{
	return ((uintptr_t)bev >> 4) % CONN_BUCKETS;
}

static struct conn *
conn_lookup(struct upstream *up, const struct bufferevent *bev)
{
	struct conn *c;

	for (c = up->conns[conn_hash(bev)]; c != NULL; c = c->next)
		if (c->bev == bev)
			return c;
	return NULL;
}

static void
job_free(struct job *job);

/* Register a new connection on bev under the next serial number. */
static struct conn *
conn_register(struct upstream *up, struct bufferevent *bev)
{
	struct conn *c = conn_lookup(up, bev);
	size_t h = conn_hash(bev);

	if (c == NULL) {
		c = upstream_xcalloc(1, sizeof(*c));
		c->up = up;
		c->bev = bev;
		c->next = up->conns[h];
		up->conns[h] = c;
	} else if (c->job != NULL) {
		/* Stale: its connection died unseen, taking the request. */
		c->job->conn = NULL;
		c->job = NULL;
	}
	c->serial = ++up->next_serial;
	up->connections++;
	return c;
}

static void
conn_unregister(struct upstream *up, struct conn *conn)
{
	struct conn **pp;

	for (pp = &up->conns[conn_hash(conn->bev)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == conn) {
			*pp = conn->next;
			break;
		}
	}
	free(conn);
}

/* evhttp bevcb: make the bufferevent of an accepted connection. */
static struct bufferevent *
conn_bevcb(struct event_base *base, void *arg)
{
	struct upstream *up = arg;
	struct bufferevent *bev;

	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		conn_register(up, bev);
	return bev; /* on NULL evhttp makes one: conn_of() registers it */
}

/* Close callback of a connection we have seen a request on. */
static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct conn *conn = arg;
	struct job *job = conn->job;

	if (job != NULL) {
		/* A request whose client went away while it was being answered
		 * has been detached from the connection and is ours to free;
		 * during evhttp_free() it is still attached and libevent frees
		 * it right after this callback. */
		if (evhttp_request_get_connection(job->req) == NULL)
			evhttp_request_free(job->req);
		job_free(job);
	}
	conn_unregister(conn->up, conn);
}

/* The connection record of req, registering it when unknown. */
static struct conn *
conn_of(struct upstream *up, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	struct conn *conn;

	if ((conn = conn_lookup(up, bev)) == NULL)
		conn = conn_register(up, bev);
	evhttp_connection_set_closecb(evcon, conn_closed, conn);
	return conn;
}

/* Jobs: answers that wait for a timer or for the socket to drain. */

static struct job *
job_new(struct upstream *up, struct evhttp_request *req, struct conn *conn,
    enum job_kind kind, void (*timer_cb)(evutil_socket_t, short, void *))
{
	struct job *job = upstream_xcalloc(1, sizeof(*job));

	job->up = up;
	job->req = req;
	job->kind = kind;
	job->conn = conn;
	if (conn != NULL)
		conn->job = job;
	if (timer_cb != NULL &&
	    (job->timer = evtimer_new(up->base, timer_cb, job)) == NULL)
		upstream_oom();
	LIST_INSERT_HEAD(&up->jobs, job, entry);
	return job;
}

static void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	LIST_REMOVE(job, entry);
	if (job->conn != NULL)
		job->conn->job = NULL;
	if (job->timer != NULL)
		event_free(job->timer);
	free(job);
}

/* Finish a streamed answer and free the job. */
static void
job_end_stream(struct job *job)
{
	struct evhttp_request *req = job->req;

	job_free(job);
	evhttp_send_reply_end(req);
}

static void
timer_after(struct event *ev, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/* Read the decimal query parameter name into *out, def when absent;
 * return -1 when present but malformed or outside [min, max]. */
static int
query_uint(const struct evkeyvalq *params, const char *name, uint64_t min,
    uint64_t max, uint64_t def, uint64_t *out)
{
	const char *s = evhttp_find_header(params, name);
	char *end;
	unsigned long long v;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
is_head(struct evhttp_request *req)
{
	return evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
}

/* Before evhttp_send_reply_start() without Content-Length: an HTTP/1.0
 * client cannot take chunks, and for one asking for keep-alive libevent 2.1
 * would announce "Content-Length: 0". Forget its keep-alive wish so that
 * the body is delimited by closing the connection. */
static void
stream_prepare(struct evhttp_request *req)
{
	if (req->major == 1 && req->minor == 0)
		evhttp_remove_header(evhttp_request_get_input_headers(req),
		    "Connection");
}

/* Bodies larger than this are described by their CRC-32 ("body_crc32",
 * as zlib computes it) instead of "body". */
#define BIG_BODY	(4 * 1024 * 1024)

/* The request as JSON: method, raw uri, headers in order, body, conn. */
static json_t *
request_json(struct evhttp_request *req, const struct conn *conn)
{
	struct evkeyvalq *hdrs = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *uri = evhttp_request_get_uri(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	struct evkeyval *kv;
	json_t *o, *list, *pair;
	int latin1;

	o = upstream_jmust(json_object());
	upstream_jset(o, "method", json_string(upstream_method_name(req)));
	upstream_jset(o, "uri", upstream_jbytes(uri, strlen(uri), NULL));
	list = upstream_jmust(json_array());
	TAILQ_FOREACH(kv, hdrs, next) {
		pair = upstream_jmust(json_array());
		upstream_jappend(pair, upstream_jbytes(kv->key, strlen(kv->key),
		    NULL));
		upstream_jappend(pair, upstream_jbytes(kv->value,
		    strlen(kv->value), NULL));
		upstream_jappend(list, pair);
	}
	upstream_jset(o, "headers", list);
	if (len > BIG_BODY) {
		/* A big upload (a gateway memory test): its length and a
		 * checksum (CRC-32, zlib's), not megabytes of JSON. */
		uint32_t crc = 0xffffffffu;
		char hex[9];

		for (size_t i = 0; i < len; i++) {
			crc ^= (unsigned char)body[i];
			for (int k = 0; k < 8; k++)
				crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
		}
		snprintf(hex, sizeof(hex), "%08" PRIx32, crc ^ 0xffffffffu);
		upstream_jset(o, "body_crc32", json_string(hex));
	} else {
		upstream_jset(o, "body", upstream_jbytes(body, len, &latin1));
		if (latin1)
			upstream_jset(o, "body_encoding", json_string("latin1"));
	}
	upstream_jset(o, "body_length", json_integer((json_int_t)len));
	upstream_jset(o, "conn", json_integer((json_int_t)(conn ? conn->serial : 0)));
	return o;
}

/* Append one line describing req to the record file and flush it. */
static void
record_request(struct upstream *up, struct evhttp_request *req,
    const struct conn *conn)
{
	json_t *o = request_json(req, conn);
	char *line = json_dumps(o, JSON_COMPACT);

	if (line == NULL)
		upstream_oom();
	if (fprintf(up->record, "%s\n", line) < 0 || fflush(up->record) != 0)
		fprintf(stderr, "example-upstream: record: %s\n",
		    strerror(errno));
	free(line);
	json_decref(o);
}

/* /__test/big and /__test/bigcl: queue up to BIG_BATCH bytes; the last
 * chunk of a batch asks to be called back once the output has drained. */
static void big_written(struct evhttp_connection *evcon, void *arg);

static void
big_pump(struct job *job)
{
	struct evbuffer *buf;
	size_t batch = 0, n, piece, off;

	if ((buf = evbuffer_new()) == NULL)
		upstream_oom();
	while (job->remaining > 0 && batch < BIG_BATCH) {
		n = job->chunk;
		if (n > job->remaining)
			n = (size_t)job->remaining;
		for (off = 0; off < n; off += piece) {
			piece = n - off > BIG_PIECE ? BIG_PIECE : n - off;
			if (evbuffer_add(buf,
			    big_pattern + (job->offset + off) % 26, piece) != 0)
				upstream_oom();
		}
		job->offset += n;
		job->remaining -= n;
		batch += n;
		if (job->remaining > 0 && batch >= BIG_BATCH)
			evhttp_send_reply_chunk_with_cb(job->req, buf,
			    big_written, job);
		else
			evhttp_send_reply_chunk(job->req, buf);
	}
	evbuffer_free(buf);
	if (job->remaining == 0)
		job_end_stream(job);
}

static void
big_written(struct evhttp_connection *evcon, void *arg)
{
	big_pump(arg);
}

static void
test_big(struct upstream *up, struct evhttp_request *req, struct conn *conn,
    const struct evkeyvalq *params, int with_length)
{
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	uint64_t bytes, chunk;
	char cl[32];
	struct job *job;

	if (query_uint(params, "bytes", 0, BIG_BYTES_MAX, UINT64_MAX, &bytes) ||
	    bytes == UINT64_MAX ||
	    query_uint(params, "chunk", 1, BIG_CHUNK_MAX, BIG_CHUNK_DEFAULT,
	    &chunk)) {
		upstream_reply_error(req, 400, "Validation",
		    "want bytes=0..%" PRIu64 " and chunk=1..%d", BIG_BYTES_MAX,
		    BIG_CHUNK_MAX);
		return;
	}
	evhttp_add_header(hdrs, "Content-Type", "application/octet-stream");
	if (with_length) {
		snprintf(cl, sizeof(cl), "%" PRIu64, bytes);
		evhttp_add_header(hdrs, "Content-Length", cl);
	} else
		stream_prepare(req);
	evhttp_send_reply_start(req, 200, "OK");
	if (is_head(req) || bytes == 0) {
		evhttp_send_reply_end(req);
		return;
	}
	job = job_new(up, req, conn, JOB_BIG, NULL);
	job->remaining = bytes;
	job->chunk = (size_t)chunk;
	big_pump(job);
}

/* /__test/sse: one event now, then one per interval, then the end. */
static void
sse_tick(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;
	struct evbuffer *buf;

	if ((buf = evbuffer_new()) == NULL)
		upstream_oom();
	job->sent++;
	if (evbuffer_add_printf(buf, "data: event %" PRIu64 "\n\n", job->sent) < 0)
		upstream_oom();
	evhttp_send_reply_chunk(job->req, buf);
	evbuffer_free(buf);
	if (job->sent >= job->events)
		job_end_stream(job);
	else
		timer_after(job->timer, job->ms);
}

static void
test_sse(struct upstream *up, struct evhttp_request *req, struct conn *conn,
    const struct evkeyvalq *params)
{
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	uint64_t events, interval;
	struct job *job;

	if (query_uint(params, "events", 0, SSE_EVENTS_MAX, 3, &events) ||
	    query_uint(params, "interval_ms", 0, SSE_INTERVAL_MAX, 100,
	    &interval)) {
		upstream_reply_error(req, 400, "Validation",
		    "want events=0..%d and interval_ms=0..%d", SSE_EVENTS_MAX,
		    SSE_INTERVAL_MAX);
		return;
	}
	evhttp_add_header(hdrs, "Content-Type", "text/event-stream");
	evhttp_add_header(hdrs, "Cache-Control", "no-cache");
	stream_prepare(req);
	evhttp_send_reply_start(req, 200, "OK");
	if (is_head(req) || events == 0) {
		evhttp_send_reply_end(req);
		return;
	}
	job = job_new(up, req, conn, JOB_SSE, sse_tick);
	job->events = events;
	job->ms = interval;
	timer_after(job->timer, 0);
}

/* /__test/slow: answer once the timer fires. */
static void
slow_fire(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;
	struct evhttp_request *req = job->req;
	json_t *o = upstream_jmust(json_object());

	upstream_jset(o, "slow", json_integer((json_int_t)job->ms));
	job_free(job);
	upstream_reply_json(req, 200, o);
}

static void
test_slow(struct upstream *up, struct evhttp_request *req, struct conn *conn,
    const struct evkeyvalq *params)
{
	uint64_t ms;
	struct job *job;

	if (query_uint(params, "ms", 0, SLOW_MS_MAX, 1000, &ms)) {
		upstream_reply_error(req, 400, "Validation",
		    "want ms=0..%d", SLOW_MS_MAX);
		return;
	}
	job = job_new(up, req, conn, JOB_SLOW, slow_fire);
	job->ms = ms;
	timer_after(job->timer, ms);
}

static const char *
status_type(uint64_t code)
{
	switch (code) {
	case 400: return "Validation";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "Conflict";
	case 429: return "TooManyRequests";
	case 500: return "InternalServerError";
	case 502: return "BadGateway";
	case 503: return "ServiceUnavailable";
	case 504: return "GatewayTimeout";
	}
	return code < 400 ? "Status" : "Error";
}

static void
test_status(struct evhttp_request *req, const struct evkeyvalq *params)
{
	uint64_t code;

	if (query_uint(params, "code", 200, 599, 0, &code) || code == 0) {
		upstream_reply_error(req, 400, "Validation", "want code=200..599");
		return;
	}
	upstream_reply_error(req, (int)code, status_type(code),
	    "status %" PRIu64 " as requested", code);
}

static void
test_stats(struct upstream *up, struct evhttp_request *req)
{
	json_t *o = upstream_jmust(json_object());

	upstream_jset(o, "connections", json_integer((json_int_t)up->connections));
	upstream_jset(o, "requests", json_integer((json_int_t)up->requests));
	upstream_reply_json(req, 200, o);
}

static void
method_not_allowed(struct evhttp_request *req, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	upstream_reply_error(req, 405, "MethodNotAllowed",
	    "%s is not allowed here", upstream_method_name(req));
}

/* Dispatch a request under /__test/; name is the path after that prefix. */
static void
test_endpoint(struct upstream *up, struct evhttp_request *req,
    struct conn *conn, const char *name)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	struct evkeyvalq params;

	TAILQ_INIT(&params);
	if (strcmp(name, "echo") == 0 || strncmp(name, "echo/", 5) == 0) {
		upstream_reply_json(req, 200, request_json(req, conn));
		goto out;
	}
	if (q != NULL && evhttp_parse_query_str(q, &params) != 0) {
		upstream_reply_error(req, 400, "Validation", "malformed query");
		goto out;
	}
	if (strcmp(name, "big") == 0 || strcmp(name, "bigcl") == 0) {
		if (!get)
			method_not_allowed(req, "GET, HEAD");
		else
			test_big(up, req, conn, &params, name[3] == 'c');
	} else if (strcmp(name, "sse") == 0) {
		if (!get)
			method_not_allowed(req, "GET, HEAD");
		else
			test_sse(up, req, conn, &params);
	} else if (strcmp(name, "slow") == 0)
		test_slow(up, req, conn, &params);
	else if (strcmp(name, "status") == 0)
		test_status(req, &params);
	else if (strcmp(name, "stats") == 0) {
		if (!get)
			method_not_allowed(req, "GET, HEAD");
		else
			test_stats(up, req);
	} else if (strcmp(name, "reset-stats") == 0) {
		if (cmd != EVHTTP_REQ_POST)
			method_not_allowed(req, "POST");
		else {
			up->connections = 0;
			up->requests = 0;
			test_stats(up, req);
		}
	} else
		upstream_reply_error(req, 404, "NotFound",
		    "no test endpoint /__test/%s", name);
out:
	evhttp_clear_headers(&params);
}

/* evhttp generic callback: count, record, log and dispatch a request. */
static void
handle_request(struct evhttp_request *req, void *arg)
{
	struct upstream *up = arg;
	struct conn *conn = conn_of(up, req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

	if (path == NULL)
		path = "";
	if (strcmp(path, "/__test/stats") != 0) {
		up->requests++;
		if (up->record != NULL)
			record_request(up, req, conn);
	}
	if (!up->quiet)
		fprintf(stderr, "example-upstream: conn=%" PRIu64 " %s %s\n",
		    conn->serial, upstream_method_name(req),
		    evhttp_request_get_uri(req));

	for (size_t i = 0; i < up->nadd; i++)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    up->add_name[i], up->add_value[i]);
	if (strncmp(path, "/__test/", 8) == 0)
		test_endpoint(up, req, conn, path + 8);
	else if (!upstream_tokens_handle(up->tokens, req, path))
		upstream_reply_error(req, 404, "NotFound", "no route for %s %s",
		    upstream_method_name(req), path);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct upstream *up = arg;

	event_base_loopbreak(up->base);
}

/* Write "port\n" to path through a temporary file and rename(2). */
static int
write_port_file(const char *path, unsigned port)
{
	char tmp[4096];
	FILE *f;
	int rv = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp)) {
		fprintf(stderr, "example-upstream: %s: name too long\n", path);
		return -1;
	}
	if ((f = fopen(tmp, "w")) == NULL) {
		fprintf(stderr, "example-upstream: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	if (fprintf(f, "%u\n", port) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fprintf(stderr, "example-upstream: %s: %s\n", tmp, strerror(errno));
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "example-upstream: %s: %s\n", path, strerror(errno));
		goto out;
	}
	rv = 0;
out:
	if (rv != 0)
		unlink(tmp);
	return rv;
}

/* Split ADDR:PORT (or [V6ADDR]:PORT) into host and port; 0 or -1. */
static int
parse_listen(const char *s, char *host, size_t hostsz, uint16_t *port)
{
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	unsigned long p;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= hostsz || colon[1] < '0' || colon[1] > '9')
		return -1;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || p > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* Take "Name: value" (--add-header) into up's list; 0 or -1. */
static int
add_header_option(struct upstream *up, const char *s)
{
	const char *colon = strchr(s, ':'), *v;
	size_t n;

	if (colon == NULL || colon == s)
		return -1;
	n = (size_t)(colon - s);
	if (strcspn(s, " \t") < n)
		return -1;
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if ((up->add_name = realloc(up->add_name, (up->nadd + 1) * sizeof(char *))) == NULL ||
	    (up->add_value = realloc(up->add_value, (up->nadd + 1) * sizeof(char *))) == NULL)
		upstream_oom();
	up->add_name[up->nadd] = upstream_xstrdup(s);
	up->add_name[up->nadd][n] = '\0';
	up->add_value[up->nadd] = upstream_xstrdup(v);
	up->nadd++;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: example-upstream [--listen ADDR:PORT] "
	    "[--record FILE] [--port-file FILE] [--timeout SEC] [--quiet]\n"
	    "           [--add-header \"Name: value\"]...\n"
	    "  ADDR:PORT defaults to %s; port 0 picks a free port.\n"
	    "  --add-header (repeatable) adds the field to every answer.\n",
	    DEFAULT_LISTEN);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "record", required_argument, NULL, 'r' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "add-header", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct upstream up;
	const char *listen_spec = DEFAULT_LISTEN, *record = NULL;
	const char *port_file = NULL;
	struct evhttp_bound_socket *bound;
	struct event *sigterm = NULL, *sigint = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[256], serv[NI_MAXSERV];
	uint16_t port;
	unsigned long timeout = DEFAULT_TIMEOUT_SEC;
	struct conn *c;
	char *end;
	size_t i;
	int ch, rv = 1;

	memset(&up, 0, sizeof(up));
	LIST_INIT(&up.jobs);
	while ((ch = getopt_long(argc, argv, "l:r:p:t:qa:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_spec = optarg; break;
		case 'r': record = optarg; break;
		case 'p': port_file = optarg; break;
		case 'q': up.quiet = 1; break;
		case 'a':
			if (add_header_option(&up, optarg) != 0) {
				fprintf(stderr, "example-upstream: --add-header "
				    "\"%s\": want \"Name: value\"\n", optarg);
				usage();
				goto out_args;
			}
			break;
		case 't':
			timeout = strtoul(optarg, &end, 10);
			if (*end != '\0' || timeout == 0 || timeout > 86400) {
				usage();
				goto out_args;
			}
			break;
		case 'h': usage(); rv = 0; goto out_args;
		default: usage(); goto out_args;
		}
	}
	if (optind != argc || parse_listen(listen_spec, host, sizeof(host),
	    &port) != 0) {
		usage();
		goto out_args;
	}
	for (i = 0; i < sizeof(big_pattern); i++)
		big_pattern[i] = (char)('a' + i % 26);
	signal(SIGPIPE, SIG_IGN);

	if ((up.base = event_base_new()) == NULL ||
	    (up.http = evhttp_new(up.base)) == NULL)
		upstream_oom();
	up.tokens = upstream_tokens_new();
	evhttp_set_allowed_methods(up.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(up.http, MAX_BODY_SIZE);
	evhttp_set_max_headers_size(up.http, MAX_HEADERS_SIZE);
	evhttp_set_timeout(up.http, (int)timeout);
	evhttp_set_bevcb(up.http, conn_bevcb, &up);
	evhttp_set_gencb(up.http, handle_request, &up);

	if (record != NULL && (up.record = fopen(record, "a")) == NULL) {
		fprintf(stderr, "example-upstream: %s: %s\n", record,
		    strerror(errno));
		goto out;
	}
	if ((bound = evhttp_bind_socket_with_handle(up.http, host, port)) == NULL) {
		fprintf(stderr, "example-upstream: cannot listen on %s\n",
		    listen_spec);
		goto out;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)&ss, &sslen) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sslen, NULL, 0, serv,
	    sizeof(serv), NI_NUMERICSERV) != 0) {
		fprintf(stderr, "example-upstream: getsockname: %s\n",
		    strerror(errno));
		goto out;
	}
	if (port_file != NULL &&
	    write_port_file(port_file, (unsigned)strtoul(serv, NULL, 10)) != 0)
		goto out;
	if ((sigterm = evsignal_new(up.base, SIGTERM, on_signal, &up)) == NULL ||
	    (sigint = evsignal_new(up.base, SIGINT, on_signal, &up)) == NULL ||
	    evsignal_add(sigterm, NULL) != 0 || evsignal_add(sigint, NULL) != 0) {
		fprintf(stderr, "example-upstream: cannot install signals\n");
		goto out;
	}
	if (!up.quiet)
		fprintf(stderr, "example-upstream: listening on %s port %s\n",
		    host, serv);
	if (event_base_dispatch(up.base) != 0)
		goto out;
	rv = 0;
out:
	/* evhttp_free() closes every connection: their close callbacks free
	 * the jobs and records of connections that saw a request. */
	evhttp_free(up.http);
	while (!LIST_EMPTY(&up.jobs))
		job_free(LIST_FIRST(&up.jobs));
	for (i = 0; i < CONN_BUCKETS; i++) {
		while ((c = up.conns[i]) != NULL) {
			up.conns[i] = c->next;
			free(c);
		}
	}
	upstream_tokens_free(up.tokens);
	if (up.record != NULL)
		fclose(up.record);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	event_base_free(up.base);
out_args:
	for (i = 0; i < up.nadd; i++) {
		free(up.add_name[i]);
		free(up.add_value[i]);
	}
	free(up.add_name);
	free(up.add_value);
	return rv;
}
