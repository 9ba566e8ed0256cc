/* tls.h: TLS on OpenSSL 3 for the listeners (certificates with SNI, RSA and
 * ECDSA side by side, client certificates, session cache and rotating
 * ticket keys) and towards an https upstream (verification of the chain and
 * of the name, SNI, optional client certificate).
 *
 * Configuration is parsed and the SSL_CTXs are built in one step, so a
 * config check (-t) checks certificates and keys too, and a reload that
 * parses a new configuration gets fresh SSL_CTXs or a list of errors.
 *
 * Threads: a tls_server or tls_client may be shared by every worker; the
 * ticket keys and the client's session are guarded by their own locks. */
#ifndef SCOPEGATE_TLS_H
#define SCOPEGATE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "errlist.h"
#include "jsonconf.h"

enum tls_client_auth {
	TLS_CLIENT_AUTH_NONE,
	TLS_CLIENT_AUTH_OPTIONAL,	/* asked for; verified when presented */
	TLS_CLIENT_AUTH_REQUIRED,	/* handshake fails without a valid one */
};

/* One "certificates" entry of a listener. */
struct tls_cert_config {
	char *cert;		/* PEM chain file, leaf first (resolved path) */
	char *key;		/* PEM private key file, mode 0600 or stricter */
	char **names;		/* SNI names, may hold "*.example.com"; NULL when
				 * omitted: the certificate's DNS names are used */
	size_t nnames;
};

struct tls_server;
struct tls_client;

/* A listener's "tls" object. */
struct tls_listener_config {
	struct tls_cert_config *certs;	/* the first is the default */
	size_t ncerts;
	int min_version;		/* TLS1_2_VERSION or TLS1_3_VERSION */
	char *ciphers;			/* TLS 1.2 cipher list */
	char *ciphersuites;		/* TLS 1.3 suites */
	enum tls_client_auth client_auth;
	char *client_ca;		/* resolved path; set unless auth is none */
	char *client_crl;		/* resolved path of PEM CRLs, or NULL */
	long session_cache_size;	/* 0 turns the server-side cache off */
	int tickets;			/* stateless session tickets */

	/* For error messages: "file: /listeners/0/tls" (may be NULL). */
	char *errfile;
	char *errptr;

	struct tls_server *server;	/* built by the parser, owned here */
};

/* An upstream's "tls" object. */
struct tls_client_config {
	char *ca;		/* resolved path; NULL: the system store */
	int verify;		/* 0 only for tests against self-signed peers */
	char *server_name;	/* name to send and verify; NULL: the host */
	char *cert;		/* optional client certificate chain ... */
	char *key;		/* ... and its key */

	char *errfile;
	char *errptr;

	struct tls_client *client;	/* built by the parser, owned here */
};

/*
 * Configuration.
 */

/* Parse a listener's "tls" object at JSON pointer ptr; relative paths are
 * resolved against base_dir. Builds the tls_server too. NULL after every
 * problem was reported to jc (file problems name the file). */
struct tls_listener_config *tls_listener_config_parse(struct jsonconf *jc,
    const json_t *obj, const char *ptr, const char *base_dir);
void tls_listener_config_free(struct tls_listener_config *lc);

/* The same for an upstream's "tls" object; builds the tls_client. */
struct tls_client_config *tls_client_config_parse(struct jsonconf *jc,
    const json_t *obj, const char *ptr, const char *base_dir);
void tls_client_config_free(struct tls_client_config *cc);

/*
 * Listener side.
 */

/* Build fresh SSL_CTXs (one per distinct set of names, the default first)
 * from lc; NULL with every problem in errs. The result holds one
 * reference. Each SSL made from it holds another, so a server replaced by
 * a reload lives until its last connection is gone. */
struct tls_server *tls_server_new(const struct tls_listener_config *lc,
    struct errlist *errs);
struct tls_server *tls_server_ref(struct tls_server *ts);
void tls_server_free(struct tls_server *ts);	/* drops one reference */

/* For evhttp_set_bevcb(http, tls_server_bevcb, ts): an OpenSSL bufferevent
 * in accepting state for a new client connection. In libevent 2.1 the bevcb
 * belongs to the whole evhttp, so a TLS listener needs its own evhttp. */
struct bufferevent *tls_server_bevcb(struct event_base *base, void *arg);

/* Make new session tickets with a fresh key; the previous key still
 * decrypts (and such tickets are renewed). Keys also rotate by themselves
 * once older than SG_TLS_TICKET_KEY_ROTATE_S; calling this from a timer
 * just makes it exact. 0 or -1 (no randomness). */
int tls_rotate_ticket_keys(struct tls_server *ts);

/* Let next keep decrypting prev's tickets (call after a reload, before next
 * serves), so resumption survives a reload. */
/* A certificate a server presents (kind "server", name: its file) or a
 * CA it trusts for client certificates ("client_ca", name: its subject). */
struct tls_cert_info {
	const char *kind;
	char *name;
	int64_t not_after;	/* seconds since the epoch; 0 if unreadable */
};
/* Those of ts (valid while ts lives); returns how many. */
size_t tls_server_certs(const struct tls_server *ts, const struct tls_cert_info **out);

/* Client handshakes that failed with a fatal TLS alert, process-wide, by
 * alert (OpenSSL's long description, e.g. "unknown CA") and by who sent
 * it ("gateway" or "client"); fills at most max, returns how many. */
struct tls_failure_count {
	const char *alert;
	const char *from;
	uint64_t count;
};
size_t tls_handshake_failures(struct tls_failure_count *out, size_t max);

void tls_server_inherit_ticket_keys(struct tls_server *next,
    struct tls_server *prev);

/* The default SSL_CTX (tests, diagnostics). */
SSL_CTX *tls_server_ctx(const struct tls_server *ts);

/*
 * Connection details for the access log and for bindings.
 */

struct tls_peer_info {
	int present;		/* the client sent a certificate */
	int verified;		/* ... and it verified against client_ca */
	char subject[512];	/* RFC 2253 one-line, "" if none */
	char fingerprint[65];	/* SHA-256 of the DER, lowercase hex */
	const char *version;	/* "TLSv1.3"; static strings */
	const char *cipher;
	int resumed;
	/* The earliest notAfter (Unix time) of the certificate and the CAs
	 * it was verified through, 0 if none. */
	int64_t not_after;
};

/* The earliest notAfter (Unix time) of the client certificate chain that
 * ssl's full handshake verified, kept in the session for a resumed one;
 * -1 when unknown or unreadable. */
int64_t tls_server_chain_end(SSL *ssl);

/* The SSL of a client connection made by tls_server_bevcb (or of an
 * evhttp connection over tls_upstream_bev_new); NULL for a plain one. */
SSL *tls_connection_ssl(struct evhttp_connection *evcon);

/* Encrypt and write what a client connection's output (bev, made by
 * tls_server_bevcb) holds now, as its bufferevent would on the next
 * EV_WRITE: see tls_common.c. What does not go out stays for it. */
void tls_write_now(struct bufferevent *bev, SSL *ssl);

/* Whether ssl took bytes from its socket since *seen, which it updates
 * (worker.c client_watch_cb). */
int tls_read_progress(SSL *ssl, uint64_t *seen);

/* Send a TLS close_notify on a connection that evhttp is about to close
 * (call it from the evhttp_connection_set_closecb callback). libevent 2.1
 * closes the socket without one, which OpenSSL 3 clients report as
 * "unexpected eof" and treat as a truncation, dropping the session. No-op
 * for a plain connection or one whose handshake did not finish. */
void tls_connection_close_notify(struct evhttp_connection *evcon);

/* Fill info from an established SSL. Returns 0 when a peer certificate was
 * presented and verified, 1 when there is none or it did not verify. */
int tls_peer_info(SSL *ssl, struct tls_peer_info *info);

/*
 * A kept-alive connection against the certificate and settings its
 * handshake verified: OpenSSL checks a client certificate once, at the
 * handshake, so without this a connection kept busy outlives the
 * certificate's notAfter and a reload that revokes it (a new CRL).
 */

/* The server (a listener's TLS settings) whose tls_server_bevcb made ssl,
 * or NULL; no reference: ssl holds one for its whole life. */
const struct tls_server *tls_connection_server(SSL *ssl);

/* Whether a connection made under a may go on under b: the same
 * client-certificate settings (client_auth, the contents of client_ca and
 * client_crl: what the session id context hashes). */
int tls_server_same_client_auth(const struct tls_server *a, const struct tls_server *b);

enum tls_standing {
	TLS_STANDING_OK,
	TLS_STANDING_CERT_EXPIRED,	/* past the client certificate's notAfter */
	TLS_STANDING_SETTINGS_CHANGED,	/* a reload changed client_auth/client_ca/client_crl */
};

/* Whether a request on a TLS connection may be served (pure). now and
 * not_after in Unix time, not_after 0 without a verified certificate;
 * same_settings from tls_server_same_client_auth. Expired at notAfter
 * itself, as OpenSSL's verification has it. */
enum tls_standing tls_connection_standing(int64_t now, int64_t not_after, int same_settings);

/* RFC 2253 subject of x into buf; 0, or -1 when it does not fit. */
int tls_cert_subject(X509 *x, char *buf, size_t len);
/* SHA-256 fingerprint of x as 64 lowercase hex digits; 0 or -1. */
int tls_cert_fingerprint(X509 *x, char out[65]);

/*
 * SNI names (pure).
 */

/* Whether name is a valid SNI pattern: a DNS name, optionally with "*." as
 * its whole first label. */
int tls_name_valid(const char *pattern);

/* Match host (case-insensitive, one trailing dot ignored) against pattern:
 * 2 exact, 1 by a one-label wildcard ("*.example.com" matches
 * "api.example.com", not "example.com" nor "a.b.example.com"), 0 no. */
int tls_name_match(const char *pattern, const char *host);

/* Index of the best pattern for host (an exact match before any wildcard,
 * then the earliest), or -1. */
long tls_name_choose(const char *const *patterns, size_t n, const char *host);

/*
 * Session lifetime (pure).
 */

/* The timeout to give a session (seconds after its time, sess_time) that
 * is about to be put in a ticket or the cache: it ends timeout seconds
 * after sess_time, but no later than max_age after authenticated (its full
 * handshake) nor than not_after (its client certificate's end, 0 without
 * one). 0 when that end has passed: the session no longer resumes. All
 * times in seconds since the epoch. */
int64_t tls_session_timeout(int64_t sess_time, int64_t authenticated, int64_t not_after,
    int64_t timeout, int64_t max_age);

/*
 * Upstream side.
 */

/* Build the client SSL_CTX from cc; NULL with every problem in errs. */
struct tls_client *tls_client_new(const struct tls_client_config *cc,
    struct errlist *errs);
/* Take one more reference (a pool outliving its snapshot holds one). */
struct tls_client *tls_client_ref(struct tls_client *tc);
void tls_client_free(struct tls_client *tc);

/* A bufferevent for one connection to host over TLS (fd -1, to be
 * connected with bufferevent_socket_connect*), verifying the name from the
 * config (or host), resuming the last session when it can. NULL on
 * failure (logged). */
struct bufferevent *tls_upstream_bev_new(struct tls_client *tc, struct event_base *base,
    const char *host);

/* Why the handshake on an upstream bufferevent failed, for the log: e.g.
 * "certificate verify failed: hostname mismatch (depth 0)"; NULL when
 * nothing is known (not TLS, or no TLS failure). Points into buf. */
const char *tls_upstream_error(struct bufferevent *bev, char *buf, size_t len);

#endif
