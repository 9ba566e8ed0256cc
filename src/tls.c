/* tls.c: see tls.h. The listener side: SSL_CTXs, SNI, ALPN, session cache
 * and ticket keys, and the evhttp bufferevent hook. */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>

#include "defaults.h"
#include "log.h"
#include "tls.h"
#include "tls_int.h"
#include "xmalloc.h"

#define TICKET_NAME_LEN	16
#define TICKET_KEY_LEN	32

struct ticket_key {
	unsigned char name[TICKET_NAME_LEN];
	unsigned char aes[TICKET_KEY_LEN];
	unsigned char hmac[TICKET_KEY_LEN];
	time_t created;
	int valid;
};

struct tls_server {
	int refs;			/* atomic */
	SSL_CTX **ctxs;			/* [0] is the default */
	size_t nctx;
	char **names;			/* SNI patterns, config order */
	size_t *name_ctx;		/* index into ctxs for each name */
	size_t nnames;
	unsigned char sid[32];		/* session id context: client-cert settings */

	pthread_mutex_t tk_lock;
	struct ticket_key tk[2];	/* [0] current, [1] previous */

	/* What it serves and trusts, with expiry dates, for /metrics. */
	struct tls_cert_info *certs;
	size_t ncerts;
};

/* Client handshakes that ended with a fatal alert, by who sent it ([0]
 * the gateway, [1] the client) and the alert's code: counted from every
 * listener's contexts by handshake_info_cb, read by /metrics. */
static uint64_t handshake_failures[2][256];

static void
handshake_info_cb(const SSL *ssl, int where, int ret)
{
	if (!(where & SSL_CB_ALERT) || SSL_is_init_finished(ssl) ||
	    (ret >> 8) != SSL3_AL_FATAL)
		return;
	__atomic_fetch_add(&handshake_failures[(where & SSL_CB_WRITE) ? 0 : 1][ret & 0xff], 1,
	    __ATOMIC_RELAXED);
}

size_t
tls_handshake_failures(struct tls_failure_count *out, size_t max)
{
	size_t n = 0;

	for (int side = 0; side < 2; side++)
		for (int code = 0; code < 256; code++) {
			uint64_t c = __atomic_load_n(&handshake_failures[side][code], __ATOMIC_RELAXED);
			if (c == 0 || n == max)
				continue;
			out[n].alert = SSL_alert_desc_string_long(SSL3_AL_FATAL << 8 | code);
			out[n].from = side == 0 ? "gateway" : "client";
			out[n].count = c;
			n++;
		}
	return n;
}

/* ASN1 time to seconds since the epoch (0 if unreadable). */
static int64_t
asn1_epoch(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return 0;
	}
	return (int64_t)timegm(&tm);
}

static void
note_cert(struct tls_server *ts, const char *kind, const char *name, const X509 *x)
{
	ts->certs = xreallocarray(ts->certs, ts->ncerts + 1, sizeof(*ts->certs));
	ts->certs[ts->ncerts].kind = kind;
	ts->certs[ts->ncerts].name = xstrdup(name);
	ts->certs[ts->ncerts].not_after = asn1_epoch(X509_get0_notAfter(x));
	ts->ncerts++;
}

/* The CA certificates trusted for client certificates, from the store
 * the handshake uses. */
static void
note_client_cas(struct tls_server *ts)
{
	STACK_OF(X509_OBJECT) *objs;
	char subject[256];

	if (ts->nctx == 0 || (objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ts->ctxs[0]))) == NULL)
		return;
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		if (x == NULL)
			continue;
		X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
		note_cert(ts, "client_ca", subject, x);
	}
}

size_t
tls_server_certs(const struct tls_server *ts, const struct tls_cert_info **out)
{
	*out = ts->certs;
	return ts->ncerts;
}

/*
 * Listener side.
 */

/* Each SSL made by tls_server_bevcb holds a reference to its server,
 * dropped when OpenSSL frees the SSL.
 *
 * libevent 2.1 frees an SSL without SSL_shutdown(), and OpenSSL then drops
 * the session from the server cache as "not closed properly", so no
 * session-id resumption would ever work. Since TLS 1.1 (RFC 4346 7.2.1) an
 * unclean close no longer forbids resumption; like nginx's quiet shutdown,
 * mark a connection that completed its handshake as shut down. This runs
 * inside SSL_free() before the session is looked at. */
static void
srv_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	SSL *ssl = parent;

	if (ssl != NULL && SSL_is_init_finished(ssl))
		SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (ptr != NULL)
		tls_server_free(ptr);
}

static int srv_index = -1;	/* on SSL: a reference to the server */
static int ctx_index = -1;	/* on SSL_CTX: its server, no reference */
static pthread_once_t srv_once = PTHREAD_ONCE_INIT;

static void
srv_index_init(void)
{
	srv_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, srv_ex_free);
	ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int
srv_ex_index(void)
{
	pthread_once(&srv_once, srv_index_init);
	return srv_index;
}

static int
ctx_ex_index(void)
{
	pthread_once(&srv_once, srv_index_init);
	return ctx_index;
}

/* Fill one ticket key from the random generator. 0 or -1. */
static int
ticket_key_new(struct ticket_key *k)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1) {
		ERR_clear_error();
		OPENSSL_cleanse(k, sizeof(*k));
		return -1;
	}
	k->created = time(NULL);
	k->valid = 1;
	return 0;
}

/* Rotate with tk_lock held. */
static int
rotate_locked(struct tls_server *ts)
{
	struct ticket_key k;

	if (ticket_key_new(&k) != 0)
		return -1;
	OPENSSL_cleanse(&ts->tk[1], sizeof(ts->tk[1]));
	ts->tk[1] = ts->tk[0];
	ts->tk[0] = k;
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

int
tls_rotate_ticket_keys(struct tls_server *ts)
{
	int rc;

	pthread_mutex_lock(&ts->tk_lock);
	rc = rotate_locked(ts);
	pthread_mutex_unlock(&ts->tk_lock);
	if (rc != 0)
		log_warnx("tls: cannot make a new session ticket key");
	return rc;
}

void
tls_server_inherit_ticket_keys(struct tls_server *next, struct tls_server *prev)
{
	struct ticket_key k;

	if (next == NULL || prev == NULL || next == prev)
		return;
	pthread_mutex_lock(&prev->tk_lock);
	k = prev->tk[0];
	pthread_mutex_unlock(&prev->tk_lock);
	/* The old current key becomes the new previous one: old tickets
	 * still resume, and are renewed under the new key. */
	pthread_mutex_lock(&next->tk_lock);
	if (k.valid) {
		OPENSSL_cleanse(&next->tk[1], sizeof(next->tk[1]));
		next->tk[1] = k;
	}
	pthread_mutex_unlock(&next->tk_lock);
	OPENSSL_cleanse(&k, sizeof(k));
}

/* Session ticket encryption and decryption with our rotating keys
 * (AES-256-CBC + HMAC-SHA256, the layout OpenSSL itself uses). Returns 1
 * (ok), 2 (ok, but issue a fresh ticket), 0 (unknown key: full handshake)
 * or -1. */
static int
ticket_cb(SSL *ssl, unsigned char *key_name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	struct tls_server *ts = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_ex_index());
	struct ticket_key k;
	OSSL_PARAM params[3];
	int rc = -1, slot = -1;

	if (ts == NULL)
		return -1;
	memset(&k, 0, sizeof(k));
	pthread_mutex_lock(&ts->tk_lock);
	if (enc) {
		if (!ts->tk[0].valid ||
		    time(NULL) - ts->tk[0].created >= SG_TLS_TICKET_KEY_ROTATE_S)
			(void)rotate_locked(ts);
		if (ts->tk[0].valid) {
			k = ts->tk[0];
			slot = 0;
		}
	} else {
		for (int i = 0; i < 2; i++)
			if (ts->tk[i].valid &&
			    memcmp(ts->tk[i].name, key_name, TICKET_NAME_LEN) == 0) {
				k = ts->tk[i];
				slot = i;
				break;
			}
	}
	pthread_mutex_unlock(&ts->tk_lock);
	if (slot < 0) {
		rc = enc ? -1 : 0;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac,
	    sizeof(k.hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (enc) {
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
			goto out;
		memcpy(key_name, k.name, TICKET_NAME_LEN);
		if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 ||
		    EVP_MAC_CTX_set_params(hctx, params) != 1)
			goto out;
		rc = 1;
	} else {
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 ||
		    EVP_MAC_CTX_set_params(hctx, params) != 1)
			goto out;
		rc = slot == 0 ? 1 : 2;
	}
out:
	if (rc < 0)
		ERR_clear_error();
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

/* A session's ticket application data: when its client was authenticated
 * by a full handshake, then the earliest notAfter of the certificate chain
 * that handshake verified (0: no client certificate); seconds since the
 * epoch, 8 bytes big-endian each. It travels inside the encrypted ticket
 * (or with the cached session) and is copied to the session each
 * resumption makes: a resumed session has no verified chain of its own. */
#define AUTH_FIELD_LEN	8
#define AUTH_DATA_LEN	(2 * AUTH_FIELD_LEN)

static int
auth_data_get(const SSL_SESSION *sess, int64_t *t, int64_t *chain_end)
{
	const unsigned char *d;
	void *data = NULL;
	size_t len = 0;
	uint64_t a = 0, c = 0;

	if (SSL_SESSION_get0_ticket_appdata((SSL_SESSION *)sess, &data, &len) != 1 ||
	    len != AUTH_DATA_LEN)
		return -1;
	d = data;
	for (size_t i = 0; i < AUTH_FIELD_LEN; i++) {
		a = a << 8 | d[i];
		c = c << 8 | d[AUTH_FIELD_LEN + i];
	}
	*t = (int64_t)a;
	*chain_end = (int64_t)c;
	return 0;
}

/* The earliest notAfter of the chain a full handshake verified: the
 * client certificate, its intermediate CAs and the trust anchor. OpenSSL
 * checks their dates at the handshake only, and an intermediate CA may end
 * before the certificate it signed. -1 when one cannot be read or there is
 * no chain (the caller then trusts no one past now). */
static int64_t
verified_chain_end(SSL *ssl)
{
	STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
	int64_t end = -1;

	for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		int64_t t = asn1_epoch(X509_get0_notAfter(sk_X509_value(chain, i)));

		if (t == 0)
			return -1;
		if (end < 0 || t < end)
			end = t;
	}
	return end;
}

int64_t
tls_server_chain_end(SSL *ssl)
{
	SSL_SESSION *sess;
	int64_t auth, end;

	if (!SSL_session_reused(ssl))
		return verified_chain_end(ssl);
	if ((sess = SSL_get_session(ssl)) == NULL || auth_data_get(sess, &auth, &end) != 0 ||
	    end == 0)
		return -1;
	return end;
}

/* Record in sess when its client was authenticated and bound its life
 * (tls_session_timeout). Each TLS 1.3 resumption that renews a ticket
 * gives it a fresh timeout, and OpenSSL checks no certificate's dates on
 * resumption, so without this a session could carry a client certificate
 * verified once, expired since, for an hour or (renewed) longer. 0 or -1. */
static int
session_bound(SSL *ssl, SSL_SESSION *sess)
{
	int64_t now = (int64_t)time(NULL), auth = now, not_after = 0, timeout;
	unsigned char buf[AUTH_DATA_LEN];
	X509 *peer = SSL_SESSION_get0_peer(sess);

	/* A resumed session carries its first handshake's time and chain
	 * end; one that does not (not ours) may not be renewed. */
	if (SSL_session_reused(ssl)) {
		if (auth_data_get(sess, &auth, &not_after) != 0) {
			auth = now - SG_TLS_SESSION_MAX_AGE_S;
			not_after = now;
		}
	} else if (peer != NULL)
		not_after = verified_chain_end(ssl);
	if (peer != NULL && not_after <= 0)
		not_after = now;	/* unreadable: no resumption */
	for (size_t i = 0; i < AUTH_FIELD_LEN; i++) {
		buf[i] = (unsigned char)((uint64_t)auth >> (8 * (AUTH_FIELD_LEN - 1 - i)));
		buf[AUTH_FIELD_LEN + i] =
		    (unsigned char)((uint64_t)not_after >> (8 * (AUTH_FIELD_LEN - 1 - i)));
	}
	timeout = tls_session_timeout((int64_t)SSL_SESSION_get_time(sess), auth, not_after,
	    SG_TLS_SESSION_TIMEOUT_S, SG_TLS_SESSION_MAX_AGE_S);
	if (SSL_SESSION_set1_ticket_appdata(sess, buf, sizeof(buf)) != 1 ||
	    SSL_SESSION_set_timeout(sess, (long)timeout) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* Called by OpenSSL before it puts a session in a ticket (TLS 1.3 without
 * tickets: in the cache). 0 means no ticket rather than one without
 * limits. */
static int
ticket_gen_cb(SSL *ssl, void *arg)
{
	SSL_SESSION *sess = SSL_get_session(ssl);

	(void)arg;
	return sess == NULL || session_bound(ssl, sess) == 0;
}

/* Called by OpenSSL when a full handshake put a new session in the
 * server-side cache (session ids, TLS 1.2): the same bounds, which a
 * cache lookup honours. Keeps no reference (returns 0). */
static int
cache_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	(void)session_bound(ssl, sess);
	return 0;
}

/* Called by OpenSSL with a ticket it decrypted: resume only within the
 * session's own timeout (OpenSSL 3.0 checks it for TLS 1.2 only) and the
 * limits above; otherwise a full handshake, which verifies the client
 * certificate again. */
static SSL_TICKET_RETURN
ticket_dec_cb(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname, size_t keyname_len,
    SSL_TICKET_STATUS status, void *arg)
{
	int64_t now = (int64_t)time(NULL), auth, not_after = 0;
	X509 *peer;
	int ok;

	(void)ssl;
	(void)keyname;
	(void)keyname_len;
	(void)arg;
	switch (status) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		break;
	case SSL_TICKET_FATAL_ERR_MALLOC:
	case SSL_TICKET_FATAL_ERR_OTHER:
		return SSL_TICKET_RETURN_ABORT;
	default:	/* none, or not ours: full handshake, new ticket */
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	}
	/* The end of the chain the full handshake verified (its client
	 * certificate's and every CA's above it). */
	peer = SSL_SESSION_get0_peer(sess);
	ok = auth_data_get(sess, &auth, &not_after) == 0 &&
	    now < (int64_t)SSL_SESSION_get_time(sess) + (int64_t)SSL_SESSION_get_timeout(sess) &&
	    now < auth + SG_TLS_SESSION_MAX_AGE_S &&
	    (peer == NULL || now < not_after);
	if (!ok)
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
}

/* Switch to the context whose names match the client's SNI; without a
 * match (or without SNI) the default context serves. */
static int
sni_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_server *ts = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	long i;

	(void)al;
	if (host == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if ((i = tls_name_choose((const char *const *)ts->names, ts->nnames, host)) < 0)
		return SSL_TLSEXT_ERR_NOACK;
	if (SSL_get_SSL_CTX(ssl) != ts->ctxs[ts->name_ctx[i]] &&
	    SSL_set_SSL_CTX(ssl, ts->ctxs[ts->name_ctx[i]]) == NULL) {
		ERR_clear_error();
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/* ALPN: we speak HTTP/1.1 only; per RFC 7301 a client that offers
 * protocols but not this one gets a no_application_protocol alert. */
static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char protos[] = "\x08http/1.1";
	unsigned char *sel = NULL;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, protos, sizeof(protos) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* The session id context: sessions made under one client-certificate
 * policy (mode and CA file contents) must not resume under another, e.g.
 * after a reload that made client certificates required. */
static void
session_id_context(const struct tls_listener_config *lc, unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[4096];
	unsigned int n = 32;
	FILE *fp;
	size_t got;

	memset(out, 0, 32);
	memcpy(out, "scopegate", 9);
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	EVP_DigestUpdate(md, "scopegate", 9);
	EVP_DigestUpdate(md, &lc->client_auth, sizeof(lc->client_auth));
	if (lc->client_ca != NULL && (fp = fopen(lc->client_ca, "r")) != NULL) {
		while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
			EVP_DigestUpdate(md, buf, got);
		fclose(fp);
	}
	/* A new CRL must not be sidestepped by resuming a session that was
	 * verified before it: another context, no resumption. */
	if (lc->client_crl != NULL && (fp = fopen(lc->client_crl, "r")) != NULL) {
		while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
			EVP_DigestUpdate(md, buf, got);
		fclose(fp);
	}
	EVP_DigestFinal_ex(md, out, &n);
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
}

/* Is crl signed by one of the CA certificates in st (client_ca) and still
 * current? Checked at load so that a wrong or stale file is a
 * configuration error, not every client refused. 0, or -1 after reporting. */
static int
crl_check(X509_STORE *st, X509_CRL *crl, const struct tls_listener_config *lc,
    struct errlist *errs)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
	const X509_NAME *issuer = X509_CRL_get_issuer(crl);
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
	char name[256], when[64] = "";
	int signed_by_ca = 0;

	for (int i = 0; i < sk_X509_OBJECT_num(objs) && !signed_by_ca; i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		EVP_PKEY *pk;

		if (ca == NULL || X509_NAME_cmp(X509_get_subject_name(ca), issuer) != 0)
			continue;
		if ((pk = X509_get0_pubkey(ca)) != NULL && X509_CRL_verify(crl, pk) == 1)
			signed_by_ca = 1;
	}
	ERR_clear_error();
	X509_NAME_oneline(issuer, name, sizeof(name));
	if (!signed_by_ca) {
		tls_report(errs, lc->errfile, lc->errptr, "client_crl",
		    "%s: the CRL of \"%s\" is not signed by a certificate in client_ca",
		    lc->client_crl, name);
		return -1;
	}
	if (next != NULL && X509_cmp_current_time(next) <= 0) {
		BIO *b = BIO_new(BIO_s_mem());
		int got = 0;

		if (b != NULL && ASN1_TIME_print(b, next) == 1)
			got = BIO_read(b, when, (int)sizeof(when) - 1);
		when[got > 0 ? got : 0] = '\0';
		BIO_free(b);
		tls_report(errs, lc->errfile, lc->errptr, "client_crl",
		    "%s: the CRL of \"%s\" expired (next update was due %s); every client "
		    "certificate it covers would be refused", lc->client_crl, name, when);
		return -1;
	}
	return 0;
}

/* Load client_crl into the context's store and check client certificates
 * against it, along the whole chain (as nginx's ssl_crl: one CRL per CA).
 * 0, or -1 after reporting. */
static int
load_crls(SSL_CTX *ctx, const struct tls_listener_config *lc, struct errlist *errs)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	BIO *bio = BIO_new_file(lc->client_crl, "r");
	X509_CRL *crl;
	unsigned long err;
	char e[128];
	int n = 0;

	if (bio == NULL) {
		tls_report(errs, lc->errfile, lc->errptr, "client_crl", "%s: %s", lc->client_crl,
		    tls_openssl_error(e, sizeof(e), "cannot open"));
		return -1;
	}
	while ((crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) != NULL) {
		if (crl_check(st, crl, lc, errs) != 0 || X509_STORE_add_crl(st, crl) != 1) {
			X509_CRL_free(crl);
			BIO_free(bio);
			return -1;
		}
		X509_CRL_free(crl);
		n++;
	}
	BIO_free(bio);
	/* The loop ends with "no start line" at the end of the file; any
	 * other error is a broken entry. */
	err = ERR_peek_last_error();
	if (n == 0 || (err != 0 && ERR_GET_REASON(err) != PEM_R_NO_START_LINE)) {
		tls_report(errs, lc->errfile, lc->errptr, "client_crl", "%s: %s", lc->client_crl,
		    n == 0 ? "no CRL found (PEM \"X509 CRL\" blocks expected)" :
		    tls_openssl_error(e, sizeof(e), "unreadable CRL"));
		ERR_clear_error();
		return -1;
	}
	ERR_clear_error();
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	return 0;
}

/* Settings every context of a listener shares (the SNI callback may move
 * a connection to any of them). 0, or -1 after reporting. */
static int
ctx_common(struct tls_server *ts, SSL_CTX *ctx, const struct tls_listener_config *lc,
    const unsigned char sid[32], struct errlist *errs)
{
	char e[128];
	int mode = SSL_VERIFY_NONE;

	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	    (lc->tickets ? 0 : SSL_OP_NO_TICKET));
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_info_callback(ctx, handshake_info_cb);
	if (SSL_CTX_set_min_proto_version(ctx, lc->min_version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		tls_report(errs, lc->errfile, lc->errptr, "min_version", "%s",
		    tls_openssl_error(e, sizeof(e), "unsupported protocol version"));
		return -1;
	}
	if (SSL_CTX_set_cipher_list(ctx, lc->ciphers) != 1) {
		tls_report(errs, lc->errfile, lc->errptr, "ciphers", "no usable cipher in \"%s\" (%s)",
		    lc->ciphers, tls_openssl_error(e, sizeof(e), "bad list"));
		return -1;
	}
	if (SSL_CTX_set_ciphersuites(ctx, lc->ciphersuites) != 1) {
		tls_report(errs, lc->errfile, lc->errptr, "ciphersuites",
		    "no usable TLS 1.3 suite in \"%s\" (%s)", lc->ciphersuites,
		    tls_openssl_error(e, sizeof(e), "bad list"));
		return -1;
	}
	if (SSL_CTX_set1_groups_list(ctx, SG_TLS_GROUPS) != 1 ||
	    SSL_CTX_set_dh_auto(ctx, 1) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid, 32) != 1) {
		tls_report(errs, lc->errfile, lc->errptr, NULL, "cannot set up TLS: %s",
		    tls_openssl_error(e, sizeof(e), "internal error"));
		return -1;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	if (lc->session_cache_size > 0) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, lc->session_cache_size);
		SSL_CTX_sess_set_new_cb(ctx, cache_new_cb);
	} else
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, SG_TLS_SESSION_TIMEOUT_S);
	SSL_CTX_set_num_tickets(ctx, 1);
	if (lc->tickets)
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
	if (SSL_CTX_set_session_ticket_cb(ctx, ticket_gen_cb, ticket_dec_cb, NULL) != 1) {
		tls_report(errs, lc->errfile, lc->errptr, NULL, "cannot set up TLS: %s",
		    tls_openssl_error(e, sizeof(e), "session ticket callbacks"));
		return -1;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, ts);

	if (lc->client_auth != TLS_CLIENT_AUTH_NONE) {
		STACK_OF(X509_NAME) *names;

		if (SSL_CTX_load_verify_locations(ctx, lc->client_ca, NULL) != 1) {
			tls_report(errs, lc->errfile, lc->errptr, "client_ca",
			    "%s: cannot load CA certificates (%s)", lc->client_ca,
			    tls_openssl_error(e, sizeof(e), "unreadable"));
			return -1;
		}
		if ((names = SSL_load_client_CA_file(lc->client_ca)) == NULL) {
			tls_report(errs, lc->errfile, lc->errptr, "client_ca",
			    "%s: no CA certificate found", lc->client_ca);
			ERR_clear_error();
			return -1;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		if (lc->client_crl != NULL && load_crls(ctx, lc, errs) != 0)
			return -1;
		mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
		if (lc->client_auth == TLS_CLIENT_AUTH_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify_depth(ctx, SG_TLS_VERIFY_DEPTH);
	}
	SSL_CTX_set_verify(ctx, mode, NULL);
	return 0;
}

static void
lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The DNS names of a certificate (subjectAltName, else the common name),
 * appended to *names. */
static void
cert_dns_names(X509 *x, char ***names, size_t *n)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char cn[256];

	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *d;
		int len;

		if (g->type != GEN_DNS)
			continue;
		d = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		if (len <= 0 || memchr(d, '\0', (size_t)len) != NULL)
			continue;
		*names = xreallocarray(*names, *n + 1, sizeof(**names));
		(*names)[(*n)++] = xstrndup((const char *)d, (size_t)len);
	}
	if (gens == NULL && X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof(cn)) > 0) {
		*names = xreallocarray(*names, *n + 1, sizeof(**names));
		(*names)[(*n)++] = xstrdup(cn);
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
}

static int
strptrcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A canonical key for a set of names: sorted, lowercased, joined. */
static char *
names_key(char **names, size_t n)
{
	char **v = xcalloc(n + 1, sizeof(*v));
	size_t len = 1;
	char *key;

	for (size_t i = 0; i < n; i++) {
		v[i] = names[i];
		len += strlen(names[i]) + 1;
	}
	qsort(v, n, sizeof(*v), strptrcmp);
	key = xcalloc(1, len);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		strcat(key, v[i]);
		strcat(key, ",");
	}
	free(v);
	return key;
}

static const char *
key_type_name(EVP_PKEY *pk)
{
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA: return "RSA";
	case EVP_PKEY_RSA_PSS: return "RSA-PSS";
	case EVP_PKEY_EC: return "ECDSA";
	case EVP_PKEY_ED25519: return "Ed25519";
	case EVP_PKEY_ED448: return "Ed448";
	}
	return NULL;
}

/* Warn (not fail: a reload must not stop serving because of it) about a
 * certificate outside its validity period. */
static void
warn_validity(const char *path, X509 *x)
{
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		log_warnx("tls: %s: certificate has expired", path);
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		log_warnx("tls: %s: certificate is not valid yet", path);
}

struct tls_server *
tls_server_new(const struct tls_listener_config *lc, struct errlist *errs)
{
	struct tls_server *ts = xcalloc(1, sizeof(*ts));
	unsigned char sid[32];
	char **keys = xcalloc(lc->ncerts + 1, sizeof(*keys));
	size_t *group = xcalloc(lc->ncerts + 1, sizeof(*group));
	size_t nerr = errs->n;
	char why[1024], e[128];

	ts->refs = 1;
	pthread_mutex_init(&ts->tk_lock, NULL);
	ts->ctxs = xcalloc(lc->ncerts + 1, sizeof(*ts->ctxs));
	session_id_context(lc, sid);
	memcpy(ts->sid, sid, sizeof(ts->sid));
	if (lc->ncerts == 0) {
		tls_report(errs, lc->errfile, lc->errptr, "certificates",
		    "at least one certificate is required");
		goto out;
	}
	for (size_t i = 0; i < lc->ncerts; i++) {
		const struct tls_cert_config *cc = &lc->certs[i];
		STACK_OF(X509) *chain = NULL;
		X509 *leaf = NULL;
		EVP_PKEY *pk = NULL;
		char **names = NULL, sub[64];
		size_t nnames = 0, g;
		SSL_CTX *ctx;
		const char *kt;

		snprintf(sub, sizeof(sub), "certificates/%zu", i);
		if (tls_load_chain(cc->cert, &leaf, &chain, why, sizeof(why)) != 0) {
			tls_report(errs, lc->errfile, lc->errptr, sub, "%s", why);
			goto next;
		}
		if ((pk = tls_load_private_key(cc->key, why, sizeof(why))) == NULL) {
			tls_report(errs, lc->errfile, lc->errptr, sub, "%s", why);
			goto next;
		}
		if (X509_check_private_key(leaf, pk) != 1) {
			ERR_clear_error();
			tls_report(errs, lc->errfile, lc->errptr, sub,
			    "%s: private key does not match the certificate %s", cc->key, cc->cert);
			goto next;
		}
		if ((kt = key_type_name(pk)) == NULL) {
			tls_report(errs, lc->errfile, lc->errptr, sub,
			    "%s: unsupported key type", cc->key);
			goto next;
		}
		warn_validity(cc->cert, leaf);
		note_cert(ts, "server", cc->cert, leaf);
		if (cc->names != NULL) {
			for (size_t j = 0; j < cc->nnames; j++) {
				names = xreallocarray(names, nnames + 1, sizeof(*names));
				names[nnames++] = xstrdup(cc->names[j]);
			}
		} else
			cert_dns_names(leaf, &names, &nnames);
		for (size_t j = 0; j < nnames; j++)
			lower(names[j]);
		keys[i] = names_key(names, nnames);
		/* Entries with the same names share a context, so that an RSA
		 * and an ECDSA certificate for one site sit side by side and
		 * the handshake picks what the client supports. */
		for (g = 0; g < i; g++)
			if (keys[g] != NULL && strcmp(keys[g], keys[i]) == 0)
				break;
		if (g < i) {
			group[i] = group[g];
			ctx = ts->ctxs[group[i]];
		} else {
			group[i] = ts->nctx;
			if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
				tls_report(errs, lc->errfile, lc->errptr, sub, "SSL_CTX_new: %s",
				    tls_openssl_error(e, sizeof(e), "failed"));
				goto next;
			}
			ts->ctxs[ts->nctx++] = ctx;
			SSL_CTX_set_ex_data(ctx, ctx_ex_index(), ts);
			if (ctx_common(ts, ctx, lc, sid, errs) != 0)
				goto next;
			for (size_t j = 0; j < nnames; j++) {
				ts->names = xreallocarray(ts->names, ts->nnames + 1, sizeof(*ts->names));
				ts->name_ctx = xreallocarray(ts->name_ctx, ts->nnames + 1,
				    sizeof(*ts->name_ctx));
				ts->names[ts->nnames] = xstrdup(names[j]);
				ts->name_ctx[ts->nnames++] = group[i];
			}
		}
		/* override 0: a second certificate of the same key type for
		 * the same names is refused, not silently replacing the first. */
		if (SSL_CTX_use_cert_and_key(ctx, leaf, pk, chain, 0) != 1) {
			tls_report(errs, lc->errfile, lc->errptr, sub,
			    "%s: cannot use this %s certificate (%s); is there another %s "
			    "certificate for the same names?", cc->cert, kt,
			    tls_openssl_error(e, sizeof(e), "refused"), kt);
			goto next;
		}
next:
		for (size_t j = 0; j < nnames; j++)
			free(names[j]);
		free(names);
		EVP_PKEY_free(pk);
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
	}
	if (lc->client_ca != NULL)
		note_client_cas(ts);
	if (errs->n == nerr && ticket_key_new(&ts->tk[0]) != 0)
		tls_report(errs, lc->errfile, lc->errptr, NULL, "cannot make a session ticket key");
out:
	for (size_t i = 0; i < lc->ncerts; i++)
		free(keys[i]);
	free(keys);
	free(group);
	OPENSSL_cleanse(sid, sizeof(sid));
	if (errs->n != nerr) {
		tls_server_free(ts);
		ts = NULL;
	}
	return ts;
}

const struct tls_server *
tls_connection_server(SSL *ssl)
{
	return ssl != NULL ? SSL_get_ex_data(ssl, srv_ex_index()) : NULL;
}

int
tls_server_same_client_auth(const struct tls_server *a, const struct tls_server *b)
{
	return a == b || (a != NULL && b != NULL && memcmp(a->sid, b->sid, sizeof(a->sid)) == 0);
}

struct tls_server *
tls_server_ref(struct tls_server *ts)
{
	__atomic_add_fetch(&ts->refs, 1, __ATOMIC_RELAXED);
	return ts;
}

void
tls_server_free(struct tls_server *ts)
{
	if (ts == NULL || __atomic_sub_fetch(&ts->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < ts->nctx; i++)
		SSL_CTX_free(ts->ctxs[i]);
	free(ts->ctxs);
	for (size_t i = 0; i < ts->nnames; i++)
		free(ts->names[i]);
	free(ts->names);
	free(ts->name_ctx);
	OPENSSL_cleanse(ts->tk, sizeof(ts->tk));
	pthread_mutex_destroy(&ts->tk_lock);
	for (size_t i = 0; i < ts->ncerts; i++)
		free(ts->certs[i].name);
	free(ts->certs);
	free(ts);
}

SSL_CTX *
tls_server_ctx(const struct tls_server *ts)
{
	return ts->ctxs[0];
}

/* Output callback of a client connection: join small pending output into
 * one piece. libevent 2.1 calls SSL_write once per piece of the output
 * buffer, and evhttp queues an answer's head and body as separate pieces,
 * so a small answer would cost two TLS records (two encryptions, two
 * write() calls, twice the record overhead on the wire) where one holds
 * it. Only up to SG_TLS_COALESCE_BYTES, so the copy stays small; larger
 * output is written as it is. The write itself happens later, from the
 * socket's write event, so both pieces are there by then. */
static void
coalesce_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	size_t len;

	(void)arg;
	if (info->n_added == 0 || (len = evbuffer_get_length(buf)) > SG_TLS_COALESCE_BYTES ||
	    evbuffer_get_contiguous_space(buf) == len)
		return;
	/* On failure (no memory) the pieces just stay as they are. */
	(void)evbuffer_pullup(buf, (ev_ssize_t)len);
}

struct bufferevent *
tls_server_bevcb(struct event_base *base, void *arg)
{
	struct tls_server *ts = arg;
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = SSL_new(ts->ctxs[0])) == NULL) {
		ERR_clear_error();
		log_warnx("tls: SSL_new failed");
		return NULL;
	}
	if (SSL_set_ex_data(ssl, srv_ex_index(), tls_server_ref(ts)) != 1) {
		tls_server_free(ts);
		SSL_free(ssl);
		ERR_clear_error();
		log_warnx("tls: SSL_set_ex_data failed");
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		log_warnx("tls: cannot create an OpenSSL bufferevent");
		return NULL;
	}
	/* Clients commonly close without close_notify; that is an end of
	 * stream to evhttp, not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	/* coalesce_cb may move bytes that a write waiting to be retried
	 * (SSL_ERROR_WANT_WRITE) passed to SSL_write: same bytes, same
	 * order, another address, which OpenSSL accepts only in this mode. */
	SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (evbuffer_add_cb(bufferevent_get_output(bev), coalesce_cb, NULL) == NULL)
		log_warnx("tls: cannot watch a connection's output; answers go out in more records");
	return bev;
}
