/* tls_client.c: see tls.h. The upstream side: a client SSL_CTX that
 * verifies the chain and the name, and evhttp connections over it.
 *
 * Reconnects: evhttp keeps one bufferevent per connection and, after the
 * upstream closed it, connects again through bufferevent_setfd(). In
 * libevent 2.1.12 the OpenSSL bufferevent answers that by SSL_clear() on
 * the same SSL and a new handshake in connecting state; SSL_clear keeps the
 * SNI name and the verification parameters, so a reconnect verifies the
 * upstream exactly like the first connect (tests/unit/test_tls.c checks
 * it). SSL_clear also resets the verification result, before evhttp runs
 * the request's callbacks, which is why failures are recorded here, per
 * SSL, as they happen. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent_ssl.h>

#include "defaults.h"
#include "log.h"
#include "tls.h"
#include "tls_int.h"
#include "xmalloc.h"

struct tls_client {
	int refs;			/* atomic */
	SSL_CTX *ctx;
	char *server_name;		/* NULL: the host given per connection */
	int verify;

	pthread_mutex_t lock;		/* guards the two below */
	SSL_SESSION *session;		/* the latest, for resumption */
	char *session_name;		/* the name it was made for */
};

/* Per SSL: what the last handshake went through. */
struct upstream_ssl {
	struct tls_client *tc;		/* a reference */
	struct bufferevent *bev;
	char *name;			/* name verified */
	int verify_err;			/* X509_V_OK or the first failure */
	int verify_depth;
	char alert[96];			/* alert received from the upstream */
};

struct tls_client *
tls_client_ref(struct tls_client *tc)
{
	__atomic_add_fetch(&tc->refs, 1, __ATOMIC_RELAXED);
	return tc;
}

void
tls_client_free(struct tls_client *tc)
{
	if (tc == NULL || __atomic_sub_fetch(&tc->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	SSL_CTX_free(tc->ctx);
	SSL_SESSION_free(tc->session);
	free(tc->session_name);
	free(tc->server_name);
	pthread_mutex_destroy(&tc->lock);
	free(tc);
}

static void
up_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct upstream_ssl *us = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (us == NULL)
		return;
	tls_client_free(us->tc);
	free(us->name);
	free(us);
}

static int up_index = -1;
static pthread_once_t up_once = PTHREAD_ONCE_INIT;

static void
up_index_init(void)
{
	up_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, up_ex_free);
}

static int
up_ex_index(void)
{
	pthread_once(&up_once, up_index_init);
	return up_index;
}

/* Keep the first verification failure of the handshake for the log. */
static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct upstream_ssl *us = ssl ? SSL_get_ex_data(ssl, up_ex_index()) : NULL;

	if (!ok && us != NULL && us->tc->verify && us->verify_err == X509_V_OK) {
		us->verify_err = X509_STORE_CTX_get_error(xs);
		us->verify_depth = X509_STORE_CTX_get_error_depth(xs);
	}
	return ok;
}

/* Forget the previous attempt when a handshake starts; note alerts. */
static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct upstream_ssl *us = SSL_get_ex_data(ssl, up_ex_index());

	if (us == NULL)
		return;
	if (where & SSL_CB_HANDSHAKE_START) {
		us->verify_err = X509_V_OK;
		us->verify_depth = 0;
		us->alert[0] = '\0';
		/* libevent keeps at most three errors and drops later ones:
		 * empty its queue so this attempt's errors are the ones kept. */
		if (us->bev != NULL)
			while (bufferevent_get_openssl_error(us->bev) != 0)
				continue;
	}
	if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ) && us->alert[0] == '\0')
		snprintf(us->alert, sizeof(us->alert), "%s alert from the upstream: %s",
		    SSL_alert_type_string_long(ret), SSL_alert_desc_string_long(ret));
}

/* Remember the newest session so new pool connections resume it. We keep
 * a copy: evhttp closes connections without close_notify, and OpenSSL then
 * marks the connection's own session object as not resumable. */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct upstream_ssl *us = SSL_get_ex_data(ssl, up_ex_index());
	struct tls_client *tc;
	SSL_SESSION *old, *copy;
	char *oldname;

	if (us == NULL || (copy = SSL_SESSION_dup(sess)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	tc = us->tc;
	pthread_mutex_lock(&tc->lock);
	old = tc->session;
	oldname = tc->session_name;
	tc->session = copy;
	tc->session_name = xstrdup(us->name);
	pthread_mutex_unlock(&tc->lock);
	SSL_SESSION_free(old);
	free(oldname);
	return 0;	/* the library keeps its own reference */
}

struct tls_client *
tls_client_new(const struct tls_client_config *cc, struct errlist *errs)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	struct tls_client *tc = xcalloc(1, sizeof(*tc));
	EVP_PKEY *pk = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	size_t nerr = errs->n;
	char why[1024], e[128];

	tc->refs = 1;
	tc->verify = cc->verify;
	pthread_mutex_init(&tc->lock, NULL);
	if (cc->server_name != NULL)
		tc->server_name = xstrdup(cc->server_name);
	if ((tc->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_report(errs, cc->errfile, cc->errptr, NULL, "SSL_CTX_new: %s",
		    tls_openssl_error(e, sizeof(e), "failed"));
		goto out;
	}
	SSL_CTX_set_options(tc->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(tc->ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_min_proto_version(tc->ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(tc->ctx, SG_TLS_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(tc->ctx, SG_TLS_CIPHERSUITES) != 1 ||
	    SSL_CTX_set1_groups_list(tc->ctx, SG_TLS_GROUPS) != 1 ||
	    SSL_CTX_set_alpn_protos(tc->ctx, alpn, sizeof(alpn) - 1) != 0) {
		tls_report(errs, cc->errfile, cc->errptr, NULL, "cannot set up TLS: %s",
		    tls_openssl_error(e, sizeof(e), "internal error"));
		goto out;
	}
	if (cc->ca != NULL) {
		if (SSL_CTX_load_verify_locations(tc->ctx, cc->ca, NULL) != 1)
			tls_report(errs, cc->errfile, cc->errptr, "ca",
			    "%s: cannot load CA certificates (%s)", cc->ca,
			    tls_openssl_error(e, sizeof(e), "unreadable"));
	} else if (SSL_CTX_set_default_verify_paths(tc->ctx) != 1)
		tls_report(errs, cc->errfile, cc->errptr, NULL,
		    "cannot load the system's CA certificates (%s)",
		    tls_openssl_error(e, sizeof(e), "failed"));
	SSL_CTX_set_verify(tc->ctx, cc->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, verify_cb);
	SSL_CTX_set_verify_depth(tc->ctx, SG_TLS_VERIFY_DEPTH);
	SSL_CTX_set_session_cache_mode(tc->ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(tc->ctx, new_session_cb);

	if (cc->cert != NULL) {
		if (tls_load_chain(cc->cert, &leaf, &chain, why, sizeof(why)) != 0)
			tls_report(errs, cc->errfile, cc->errptr, "cert", "%s", why);
		else if ((pk = tls_load_private_key(cc->key, why, sizeof(why))) == NULL)
			tls_report(errs, cc->errfile, cc->errptr, "key", "%s", why);
		else if (X509_check_private_key(leaf, pk) != 1) {
			ERR_clear_error();
			tls_report(errs, cc->errfile, cc->errptr, "key",
			    "%s: private key does not match the certificate %s", cc->key, cc->cert);
		} else if (SSL_CTX_use_cert_and_key(tc->ctx, leaf, pk, chain, 1) != 1)
			tls_report(errs, cc->errfile, cc->errptr, "cert", "%s: %s", cc->cert,
			    tls_openssl_error(e, sizeof(e), "cannot use the certificate"));
	}
out:
	EVP_PKEY_free(pk);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	if (errs->n != nerr) {
		tls_client_free(tc);
		tc = NULL;
	}
	return tc;
}

struct bufferevent *
tls_upstream_bev_new(struct tls_client *tc, struct event_base *base, const char *host)
{
	const char *name = tc->server_name != NULL ? tc->server_name : host;
	struct bufferevent *bev = NULL;
	struct upstream_ssl *us;
	X509_VERIFY_PARAM *param;
	SSL_SESSION *sess = NULL;
	SSL *ssl;

	if ((ssl = SSL_new(tc->ctx)) == NULL)
		goto fail;
	us = xcalloc(1, sizeof(*us));
	us->tc = tls_client_ref(tc);
	us->name = xstrdup(name);
	if (SSL_set_ex_data(ssl, up_ex_index(), us) != 1) {
		up_ex_free(NULL, us, NULL, 0, 0, NULL);
		goto fail;
	}
	param = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (tls_is_ip_literal(name)) {
		/* RFC 6066: no SNI for addresses; verify the IP SAN. */
		if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1)
			goto fail;
	} else if (SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1)
		goto fail;
	/* A copy again, for the same reason as in new_session_cb. */
	pthread_mutex_lock(&tc->lock);
	if (tc->session != NULL && strcmp(tc->session_name, name) == 0 &&
	    SSL_SESSION_is_resumable(tc->session))
		sess = SSL_SESSION_dup(tc->session);
	pthread_mutex_unlock(&tc->lock);
	if (sess != NULL) {
		if (SSL_set_session(ssl, sess) != 1)
			ERR_clear_error();
		SSL_SESSION_free(sess);
	}
	SSL_set_info_callback(ssl, info_cb);

	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL)
		goto fail;
	ssl = NULL;	/* the bufferevent owns it now */
	us->bev = bev;
	/* Many servers close without close_notify after a response. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
fail:
	ERR_clear_error();
	if (bev != NULL)
		bufferevent_free(bev);
	SSL_free(ssl);
	log_warnx("tls: cannot create an upstream TLS connection to %s", name);
	return NULL;
}

const char *
tls_upstream_error(struct bufferevent *bev, char *buf, size_t len)
{
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct upstream_ssl *us;
	unsigned long err, first = 0;

	if (ssl == NULL || (us = SSL_get_ex_data(ssl, up_ex_index())) == NULL)
		return NULL;
	/* libevent queues the SSL_get_error() code and then the library's
	 * errors; popping yields the last first, so keep the earliest real
	 * error (a library code, not a small SSL_ERROR_* number). */
	while ((err = bufferevent_get_openssl_error(us->bev)) != 0)
		if (ERR_GET_LIB(err) != 0)
			first = err;
	if (us->verify_err != X509_V_OK) {
		snprintf(buf, len, "certificate verify failed for %s: %s (depth %d)", us->name,
		    X509_verify_cert_error_string(us->verify_err), us->verify_depth);
		return buf;
	}
	if (us->alert[0] != '\0') {
		snprintf(buf, len, "%s", us->alert);
		return buf;
	}
	if (first != 0) {
		const char *r = ERR_reason_error_string(first);
		snprintf(buf, len, "TLS error: %s", r != NULL ? r : "unknown");
		return buf;
	}
	return NULL;
}
