/* tls_echo_server.c: a tiny HTTPS server for tests/integration/tls.sh, built
 * on the tls module exactly as the gateway uses it (evhttp_set_bevcb with
 * tls_server_bevcb). It answers 200 "ok" to everything, with headers that
 * describe the TLS connection (X-TLS-Version, X-TLS-Resumed,
 * X-Client-Subject, X-Client-Fingerprint, X-Client-Verified).
 *
 *   tls_echo_server CONFIG.json PORT
 *
 * CONFIG.json holds one listener "tls" object. PORT 0 picks a free port;
 * the port is printed as "port N" on stdout once listening. SIGHUP reloads
 * CONFIG.json (a broken one is reported and the old certificates keep
 * serving); SIGTERM/SIGINT exit. */
#include "config.h"

#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "errlist.h"
#include "jsonconf.h"
#include "log.h"
#include "tls.h"

struct echo {
	struct event_base *base;
	struct evhttp *http;
	const char *path;
	struct tls_listener_config *lc;
};

static struct tls_listener_config *
load(const char *path)
{
	struct errlist errs;
	struct jsonconf jc = {.file = path, .errs = &errs};
	struct tls_listener_config *lc = NULL;
	char *dup = strdup(path);
	json_t *root;

	errlist_init(&errs);
	if ((root = jsonconf_load_file(&jc, path)) != NULL) {
		lc = tls_listener_config_parse(&jc, root, "", dirname(dup));
		json_decref(root);
	}
	errlist_print(&errs, stderr);
	errlist_free(&errs);
	free(dup);
	return lc;
}

/* What the gateway's connection close callback does for TLS. */
static void
close_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)arg;
	tls_connection_close_notify(evcon);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	SSL *ssl = tls_connection_ssl(evhttp_request_get_connection(req));
	struct tls_peer_info pi;
	struct evbuffer *b = evbuffer_new();

	(void)arg;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), close_cb, NULL);
	if (ssl != NULL) {
		tls_peer_info(ssl, &pi);
		evhttp_add_header(out, "X-TLS-Version", pi.version);
		evhttp_add_header(out, "X-TLS-Cipher", pi.cipher);
		evhttp_add_header(out, "X-TLS-Resumed", pi.resumed ? "1" : "0");
		if (pi.present) {
			evhttp_add_header(out, "X-Client-Subject", pi.subject);
			evhttp_add_header(out, "X-Client-Fingerprint", pi.fingerprint);
			evhttp_add_header(out, "X-Client-Verified", pi.verified ? "1" : "0");
		}
	}
	evhttp_add_header(out, "Content-Type", "text/plain");
	evbuffer_add(b, "ok\n", 3);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
hup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct echo *e = arg;
	struct tls_listener_config *lc;

	(void)fd;
	(void)what;
	if ((lc = load(e->path)) == NULL) {
		log_warnx("reload failed; the old certificates keep serving");
		return;
	}
	tls_server_inherit_ticket_keys(lc->server, e->lc->server);
	evhttp_set_bevcb(e->http, tls_server_bevcb, lc->server);
	/* Connections in progress hold their own reference. */
	tls_listener_config_free(e->lc);
	e->lc = lc;
	log_info("reloaded %s", e->path);
}

static void
term_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char *argv[])
{
	struct echo e = {0};
	struct evhttp_bound_socket *bs;
	struct event *ev_hup, *ev_term, *ev_int;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int port;

	if (argc != 3) {
		fprintf(stderr, "usage: tls_echo_server CONFIG.json PORT\n");
		return 2;
	}
	log_init(1, getenv("DEBUG") != NULL);
	signal(SIGPIPE, SIG_IGN);
	e.path = argv[1];
	port = atoi(argv[2]);
	if ((e.lc = load(e.path)) == NULL)
		return 1;
	e.base = event_base_new();
	e.http = evhttp_new(e.base);
	evhttp_set_bevcb(e.http, tls_server_bevcb, e.lc->server);
	evhttp_set_gencb(e.http, request_cb, &e);
	if ((bs = evhttp_bind_socket_with_handle(e.http, "127.0.0.1", (uint16_t)port)) == NULL) {
		log_warn("cannot listen on port %d", port);
		return 1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) != 0)
		return 1;
	printf("port %u\n", (unsigned)ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	ev_hup = evsignal_new(e.base, SIGHUP, hup_cb, &e);
	ev_term = evsignal_new(e.base, SIGTERM, term_cb, e.base);
	ev_int = evsignal_new(e.base, SIGINT, term_cb, e.base);
	evsignal_add(ev_hup, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	event_base_dispatch(e.base);
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	evhttp_free(e.http);
	tls_listener_config_free(e.lc);
	event_base_free(e.base);
	return 0;
}
