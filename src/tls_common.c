/* tls_common.c: see tls.h and tls_int.h. What both sides share: reading
 * certificate chains and private keys (with the file-mode check), error
 * reporting, SNI name rules (pure), and connection and peer details. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "tls.h"
#include "tls_int.h"

/*
 * Shared helpers.
 */

void
tls_report(struct errlist *errs, const char *errfile, const char *errptr,
    const char *sub, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (errptr == NULL)
		errptr = "";
	if (errfile != NULL)
		errlist_add(errs, "%s: %s%s%s: %s", errfile,
		    errptr[0] == '\0' && sub == NULL ? "/" : errptr, sub ? "/" : "",
		    sub ? sub : "", msg ? msg : "(out of memory)");
	else
		errlist_add(errs, "%s", msg ? msg : "(out of memory)");
	free(msg);
}

const char *
tls_openssl_error(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_peek_error();
	const char *r;

	if (e != 0 && (r = ERR_reason_error_string(e)) != NULL)
		snprintf(buf, len, "%s", r);
	else
		snprintf(buf, len, "%s", fallback);
	ERR_clear_error();
	return buf;
}

int
tls_is_ip_literal(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* Refuse to prompt for a passphrase: encrypted keys are not supported. */
static int
no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

EVP_PKEY *
tls_load_private_key(const char *path, char *why, size_t whylen)
{
	EVP_PKEY *pk = NULL;
	struct stat st;
	BIO *bio = NULL;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "%s: cannot open private key: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: private key is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(why, whylen, "%s: private key file is accessible by group or "
		    "others (mode %04o); chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((bio = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL) {
		snprintf(why, whylen, "%s: out of memory", path);
		ERR_clear_error();
		goto out;
	}
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, NULL)) == NULL) {
		char e[128];
		snprintf(why, whylen, "%s: cannot read an unencrypted PEM private key (%s)",
		    path, tls_openssl_error(e, sizeof(e), "no key found"));
	}
out:
	BIO_free(bio);
	close(fd);
	return pk;
}

int
tls_load_chain(const char *path, X509 **leaf, STACK_OF(X509) **chain, char *why,
    size_t whylen)
{
	STACK_OF(X509) *sk = NULL;
	X509 *x = NULL, *c;
	BIO *bio = NULL;
	FILE *fp;
	int rc = -1;
	char e[128];

	*leaf = NULL;
	*chain = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(why, whylen, "%s: cannot open certificate: %s", path, strerror(errno));
		return -1;
	}
	if ((bio = BIO_new_fp(fp, BIO_CLOSE)) == NULL) {
		fclose(fp);
		snprintf(why, whylen, "%s: out of memory", path);
		goto out;
	}
	if ((x = PEM_read_bio_X509(bio, NULL, no_passphrase_cb, NULL)) == NULL) {
		snprintf(why, whylen, "%s: no PEM certificate found (%s)", path,
		    tls_openssl_error(e, sizeof(e), "empty file"));
		goto out;
	}
	if ((sk = sk_X509_new_null()) == NULL)
		goto oom;
	while ((c = PEM_read_bio_X509(bio, NULL, no_passphrase_cb, NULL)) != NULL) {
		if (!sk_X509_push(sk, c)) {
			X509_free(c);
			goto oom;
		}
	}
	/* The loop ends at the end of the file (no start line) or at junk. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		snprintf(why, whylen, "%s: bad certificate after the first (%s)", path,
		    tls_openssl_error(e, sizeof(e), "unreadable"));
		goto out;
	}
	ERR_clear_error();
	*leaf = x;
	*chain = sk;
	x = NULL;
	sk = NULL;
	rc = 0;
	goto out;
oom:
	snprintf(why, whylen, "%s: out of memory", path);
	ERR_clear_error();
out:
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	return rc;
}

/*
 * SNI names.
 */

int
tls_name_valid(const char *p)
{
	size_t len = strlen(p), label = 0;

	if (len == 0 || len > 253)
		return 0;
	if (p[0] == '*') {
		if (p[1] != '.' || p[2] == '\0')
			return 0;
		p += 2;
	}
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

int
tls_name_match(const char *pattern, const char *host)
{
	size_t hlen = strlen(host), plen = strlen(pattern);
	const char *dot;

	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (hlen == 0 || plen == 0)
		return 0;
	if (pattern[0] != '*')
		return plen == hlen && strncasecmp(pattern, host, hlen) == 0 ? 2 : 0;
	/* "*.rest": host must be one non-empty label, a dot, then "rest". */
	if (pattern[1] != '.' || plen < 3)
		return 0;
	if ((dot = memchr(host, '.', hlen)) == NULL || dot == host)
		return 0;
	if ((size_t)(host + hlen - dot) != plen - 1)
		return 0;
	return strncasecmp(dot, pattern + 1, plen - 1) == 0 ? 1 : 0;
}

long
tls_name_choose(const char *const *patterns, size_t n, const char *host)
{
	long wild = -1;

	for (size_t i = 0; i < n; i++) {
		int m = tls_name_match(patterns[i], host);
		if (m == 2)
			return (long)i;
		if (m == 1 && wild < 0)
			wild = (long)i;
	}
	return wild;
}

/*
 * Peer details.
 */

int
tls_cert_subject(X509 *x, char *buf, size_t len)
{
	BIO *b;
	BUF_MEM *m;
	int rc = -1;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) < 0)
		goto out;
	BIO_get_mem_ptr(b, &m);
	if (m->length >= len)
		goto out;
	memcpy(buf, m->data, m->length);
	buf[m->length] = '\0';
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	BIO_free(b);
	return rc;
}

int
tls_cert_fingerprint(X509 *x, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';
	if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32) {
		ERR_clear_error();
		return -1;
	}
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

SSL *
tls_connection_ssl(struct evhttp_connection *evcon)
{
	struct bufferevent *bev;

	if (evcon == NULL || (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return NULL;
	return bufferevent_openssl_get_ssl(bev);
}

/*
 * The bufferevent writes its output on the pass after EV_WRITE is armed:
 * an EPOLL_CTL_MOD to arm it, a wakeup, the write, an EPOLL_CTL_MOD to
 * disarm it, a request. Done here instead, the same records go out (one
 * SSL_write a chain of at most 16 KB, as its do_write), and evhttp finds
 * the output empty. Only on an open connection whose last SSL_read or
 * SSL_write was not stopped by the socket (SSL_want): libevent keeps its
 * own state of a write waiting for a read (or a read for a write), which
 * it clears only through its own calls; a connection the client began
 * to close is left to it too. On a stop (WANT_WRITE, an error) the rest
 * stays in the output: the bufferevent retries the same bytes from the
 * same start, at least as many (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
 * tls_server_bevcb), and meets an error again and reports it as before.
 */
/* What libevent's bufferevent writes at most at a time without a rate
 * limit (MAX_TO_WRITE_DEFAULT): a chain longer goes out in pieces this long. */
#define BEV_WRITE_MAX 16384

void
tls_write_now(struct bufferevent *bev, SSL *ssl)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	struct evbuffer_iovec v;
	int r;

	if (!SSL_is_init_finished(ssl) || SSL_get_shutdown(ssl) != 0 || SSL_want(ssl) != SSL_NOTHING)
		return;
	while (evbuffer_peek(out, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
		r = SSL_write(ssl, v.iov_base, v.iov_len > BEV_WRITE_MAX ? BEV_WRITE_MAX : (int)v.iov_len);
		if (r <= 0) {
			ERR_clear_error();
			break;
		}
		evbuffer_drain(out, (size_t)r);
	}
}

int
tls_read_progress(SSL *ssl, uint64_t *seen)
{
	uint64_t n = BIO_number_read(SSL_get_rbio(ssl));
	int moved = n != *seen;

	*seen = n;
	return moved;
}

void
tls_connection_close_notify(struct evhttp_connection *evcon)
{
	SSL *ssl = tls_connection_ssl(evcon);

	if (ssl == NULL || !SSL_is_init_finished(ssl) ||
	    (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		return;
	/* Non-blocking: the alert goes out now or not at all; we do not wait
	 * for the peer's (RFC 8446 6.1 allows closing right after). */
	if (SSL_shutdown(ssl) < 0)
		ERR_clear_error();
}

int
tls_peer_info(SSL *ssl, struct tls_peer_info *info)
{
	struct tm tm;
	X509 *x;

	memset(info, 0, sizeof(*info));
	info->version = SSL_get_version(ssl);
	info->cipher = SSL_get_cipher_name(ssl);
	info->resumed = SSL_session_reused(ssl);
	if ((x = SSL_get0_peer_certificate(ssl)) == NULL)
		return 1;
	info->present = 1;
	info->verified = SSL_get_verify_result(ssl) == X509_V_OK;
	/* Kept per connection so that each request costs one comparison
	 * (tls_connection_standing); a certificate whose end cannot be read
	 * names no one. Worked out before the names below, which may not fit
	 * (a subject of 512 characters or more): the connection's end does
	 * not depend on them. */
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		info->not_after = (int64_t)timegm(&tm);
	else
		ERR_clear_error();
	/* An intermediate CA (or the anchor) ending first ends the trust in
	 * the certificate with it. */
	if (info->verified && info->not_after != 0) {
		int64_t chain = tls_server_chain_end(ssl);

		if (chain <= 0)
			info->not_after = 0;
		else if (chain < info->not_after)
			info->not_after = chain;
	}
	if (tls_cert_subject(x, info->subject, sizeof(info->subject)) != 0 ||
	    tls_cert_fingerprint(x, info->fingerprint) != 0)
		info->verified = 0;
	if (info->not_after == 0)
		info->verified = 0;
	return info->verified ? 0 : 1;
}

enum tls_standing
tls_connection_standing(int64_t now, int64_t not_after, int same_settings)
{
	enum tls_standing st = TLS_STANDING_OK;

	if (!same_settings)
		st = TLS_STANDING_SETTINGS_CHANGED;
	else if (not_after != 0 && now >= not_after)
		st = TLS_STANDING_CERT_EXPIRED;
	return st;
}

int64_t
tls_session_timeout(int64_t sess_time, int64_t authenticated, int64_t not_after,
    int64_t timeout, int64_t max_age)
{
	int64_t end = sess_time + timeout;

	if (authenticated + max_age < end)
		end = authenticated + max_age;
	if (not_after != 0 && not_after < end)
		end = not_after;
	return end > sess_time ? end - sess_time : 0;
}
