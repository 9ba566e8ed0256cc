/* evhttp_floor.c: the cost floor of the fixed stack. The least a libevent
 * 2.1 evhttp program can do per request, to compare with scopegate and
 * nginx instruction for instruction (bench/callgrind-request):
 *
 *   evhttp_floor PORT                    answer 200 {"success":true}
 *   evhttp_floor PORT UPSTREAM_PORT      plain keep-alive reverse proxy:
 *                                        request headers copied to one
 *                                        pooled upstream connection, the
 *                                        answer's headers and body copied
 *                                        back; no checks, no log
 *
 * One thread, 127.0.0.1 only, runs until SIGTERM/SIGINT. Not installed. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static struct evhttp_connection *upstream;

static void
answer_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *body = evbuffer_new();

	(void)arg;
	evbuffer_add(body, "{\"success\":true}", 16);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/json");
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
}

/* The upstream answered: copy it to the client request (arg). */
static void
upstream_done_cb(struct evhttp_request *ureq, void *arg)
{
	struct evhttp_request *req = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evkeyval *kv;

	if (ureq == NULL || evhttp_request_get_response_code(ureq) == 0) {
		evhttp_send_error(req, 502, NULL);
		return;
	}
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(ureq), next)
		if (evutil_ascii_strcasecmp(kv->key, "Connection") != 0)
			evhttp_add_header(out, kv->key, kv->value);
	evhttp_send_reply(req, evhttp_request_get_response_code(ureq),
	    evhttp_request_get_response_code_line(ureq), evhttp_request_get_input_buffer(ureq));
}

static void
proxy_cb(struct evhttp_request *req, void *arg)
{
	struct evhttp_request *ureq = evhttp_request_new(upstream_done_cb, req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(ureq);
	struct evkeyval *kv;

	(void)arg;
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
		evhttp_add_header(out, kv->key, kv->value);
	evhttp_make_request(upstream, ureq, evhttp_request_get_command(req),
	    evhttp_request_get_uri(req));
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct evhttp *http;
	struct event *term, *intr;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: evhttp_floor PORT [UPSTREAM_PORT]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = evhttp_new(base);
	if (base == NULL || http == NULL ||
	    evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)atoi(argv[1])) != 0) {
		fprintf(stderr, "evhttp_floor: cannot listen on 127.0.0.1:%s\n", argv[1]);
		return 1;
	}
	if (argc == 3) {
		upstream = evhttp_connection_base_new(base, NULL, "127.0.0.1",
		    (ev_uint16_t)atoi(argv[2]));
		evhttp_set_gencb(http, proxy_cb, NULL);
	} else
		evhttp_set_gencb(http, answer_cb, NULL);
	term = evsignal_new(base, SIGTERM, stop_cb, base);
	intr = evsignal_new(base, SIGINT, stop_cb, base);
	event_add(term, NULL);
	event_add(intr, NULL);
	event_base_dispatch(base);
	event_free(term);
	event_free(intr);
	if (upstream != NULL)
		evhttp_connection_free(upstream);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
