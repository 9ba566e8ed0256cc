/* test_tls.c: the tls module. SNI name rules (pure functions), certificate
 * subject and fingerprint, strict parsing of listener and upstream "tls"
 * objects with every error listed (key hygiene, mismatched keys, missing
 * and broken files), and, in process over loopback, an evhttp TLS server
 * made with tls_server_bevcb talking to tls_upstream_bev_new
 * clients: verification of chain and name, the error string for the log,
 * reconnects on the same connection, session resumption, client
 * certificates. Test PKI: tests/data/tls (make-pki.sh). */
#include "config.h"

#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/pem.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "errlist.h"
#include "jsonconf.h"
#include "log.h"
#include "tls.h"


/* The daemon's upstream TLS bufferevent (tls_upstream_bev_new) under an
 * evhttp client connection: the test drives it with evhttp requests. */
static struct evhttp_connection *
upstream_evcon(struct tls_client *tc, struct event_base *base, const char *host,
    uint16_t port)
{
	struct bufferevent *bev = tls_upstream_bev_new(tc, base, host);

	return bev != NULL ? evhttp_connection_base_bufferevent_new(base, NULL, bev, host,
	    port) : NULL;
}

static const char *
upstream_evcon_error(struct evhttp_connection *evcon, char *buf, size_t len)
{
	return tls_upstream_error(evhttp_connection_get_bufferevent(evcon), buf, len);
}

static char datadir[4096];
static char tmpdir[4096];

/* Copy every test PKI file to tmpdir, keys with mode 0600 (git does not
 * keep modes). */
static int
copy_pki(void)
{
	DIR *d = opendir(datadir);
	struct dirent *de;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char src[8400], dst[8400], buf[8192];
		size_t n;
		FILE *in, *out;
		size_t len = strlen(de->d_name);

		if (len < 5 || (strcmp(de->d_name + len - 4, ".pem") != 0 &&
		    strcmp(de->d_name + len - 4, ".key") != 0 &&
		    strcmp(de->d_name + len - 7, ".sha256") != 0))
			continue;
		snprintf(src, sizeof(src), "%s/%s", datadir, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", tmpdir, de->d_name);
		if ((in = fopen(src, "r")) == NULL || (out = fopen(dst, "w")) == NULL)
			return -1;
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(in);
		fclose(out);
		chmod(dst, strcmp(de->d_name + len - 4, ".key") == 0 ? 0600 : 0644);
	}
	closedir(d);
	return 0;
}

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[8400];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	CU_ASSERT_FATAL(fp != NULL);
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
}

/* The test PKI's file from into tmpdir as to. */
static void
copy_data(const char *from, const char *to)
{
	char src[8400], dst[8400], buf[8192];
	FILE *in, *out;
	size_t n;

	snprintf(src, sizeof(src), "%s/%s", datadir, from);
	snprintf(dst, sizeof(dst), "%s/%s", tmpdir, to);
	in = fopen(src, "r");
	out = fopen(dst, "w");
	CU_ASSERT_FATAL(in != NULL && out != NULL);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
}

/*
 * SNI names.
 */

static void
test_name_valid(void)
{
	CU_ASSERT_TRUE(tls_name_valid("example.com"));
	CU_ASSERT_TRUE(tls_name_valid("localhost"));
	CU_ASSERT_TRUE(tls_name_valid("*.example.com"));
	CU_ASSERT_TRUE(tls_name_valid("*.test"));
	CU_ASSERT_TRUE(tls_name_valid("a-b.c_d.example"));
	CU_ASSERT_FALSE(tls_name_valid(""));
	CU_ASSERT_FALSE(tls_name_valid("*"));
	CU_ASSERT_FALSE(tls_name_valid("*."));
	CU_ASSERT_FALSE(tls_name_valid("*example.com"));
	CU_ASSERT_FALSE(tls_name_valid("a*.example.com"));
	CU_ASSERT_FALSE(tls_name_valid("*.*.example.com"));
	CU_ASSERT_FALSE(tls_name_valid("api.*.example.com"));
	CU_ASSERT_FALSE(tls_name_valid("a..b"));
	CU_ASSERT_FALSE(tls_name_valid(".example.com"));
	CU_ASSERT_FALSE(tls_name_valid("example.com."));
	CU_ASSERT_FALSE(tls_name_valid("exa mple.com"));
	CU_ASSERT_FALSE(tls_name_valid("ex\xc3\xa4mple.com"));
	CU_ASSERT_TRUE(tls_name_valid(
	    "a23456789012345678901234567890123456789012345678901234567890123.com"));
	CU_ASSERT_FALSE(tls_name_valid(
	    "a234567890123456789012345678901234567890123456789012345678901234.com"));
}

static void
test_name_match(void)
{
	CU_ASSERT_EQUAL(tls_name_match("api.example.com", "api.example.com"), 2);
	CU_ASSERT_EQUAL(tls_name_match("api.example.com", "API.Example.COM"), 2);
	CU_ASSERT_EQUAL(tls_name_match("api.example.com", "api.example.com."), 2);
	CU_ASSERT_EQUAL(tls_name_match("api.example.com", "api.example.co"), 0);
	CU_ASSERT_EQUAL(tls_name_match("api.example.com", "xapi.example.com"), 0);
	CU_ASSERT_EQUAL(tls_name_match("api.example.com", ""), 0);
	CU_ASSERT_EQUAL(tls_name_match("api.example.com", "."), 0);

	CU_ASSERT_EQUAL(tls_name_match("*.example.com", "api.example.com"), 1);
	CU_ASSERT_EQUAL(tls_name_match("*.example.com", "WWW.EXAMPLE.com"), 1);
	CU_ASSERT_EQUAL(tls_name_match("*.example.com", "www.example.com."), 1);
	CU_ASSERT_EQUAL(tls_name_match("*.example.com", "example.com"), 0);
	CU_ASSERT_EQUAL(tls_name_match("*.example.com", ".example.com"), 0);
	CU_ASSERT_EQUAL(tls_name_match("*.example.com", "a.b.example.com"), 0);
	CU_ASSERT_EQUAL(tls_name_match("*.example.com", "api.example.org"), 0);
	CU_ASSERT_EQUAL(tls_name_match("*.example.com", "apiexample.com"), 0);
	CU_ASSERT_EQUAL(tls_name_match("*.example.com", "api.xexample.com"), 0);
	CU_ASSERT_EQUAL(tls_name_match("*.example.com", "api.example.com.evil"), 0);
	CU_ASSERT_EQUAL(tls_name_match("*.test", "other.test"), 1);
	/* Not a wildcard pattern: "*" elsewhere only matches itself. */
	CU_ASSERT_EQUAL(tls_name_match("*x.example.com", "ax.example.com"), 0);
}

/* The session lifetime: the usual timeout, cut by the age limit since
 * the full handshake and by the client certificate's end; never negative. */
static void
test_session_timeout(void)
{
	const int64_t t = 1800000000, hour = 3600, day = 86400;

	/* A fresh full handshake, no certificate: the timeout. */
	CU_ASSERT_EQUAL(tls_session_timeout(t, t, 0, hour, day), hour);
	/* A renewal 23.5 h after the full handshake: half an hour left. */
	CU_ASSERT_EQUAL(tls_session_timeout(t, t - day + hour / 2, 0, hour, day), hour / 2);
	/* At and past the age limit: nothing (never a negative timeout). */
	CU_ASSERT_EQUAL(tls_session_timeout(t, t - day, 0, hour, day), 0);
	CU_ASSERT_EQUAL(tls_session_timeout(t, t - 10 * day, 0, hour, day), 0);
	/* The certificate ends in 10 s, or ended: that bounds it. */
	CU_ASSERT_EQUAL(tls_session_timeout(t, t, t + 10, hour, day), 10);
	CU_ASSERT_EQUAL(tls_session_timeout(t, t, t, hour, day), 0);
	CU_ASSERT_EQUAL(tls_session_timeout(t, t, t - 1, hour, day), 0);
	/* A certificate valid for years changes nothing. */
	CU_ASSERT_EQUAL(tls_session_timeout(t, t, t + 400 * day, hour, day), hour);
	/* A session made earlier (TLS 1.2 ticket renewal keeps its time): the
	 * timeout counts from that time, and the limits still apply. */
	CU_ASSERT_EQUAL(tls_session_timeout(t - 600, t - 600, 0, hour, day), hour);
	CU_ASSERT_EQUAL(tls_session_timeout(t - 600, t - 600, t, hour, day), 600);
	/* Extremes do not wrap. */
	CU_ASSERT_EQUAL(tls_session_timeout(t, INT64_MIN / 2, 0, hour, day), 0);
	CU_ASSERT_EQUAL(tls_session_timeout(t, t, INT64_MAX / 2, hour, day), hour);
}

/* A request on a kept-alive connection: refused from the certificate's
 * notAfter on (inclusive, as OpenSSL's verification), and whenever the
 * client-certificate settings changed, certificate or not. */
static void
test_connection_standing(void)
{
	const int64_t t = 1800000000;

	CU_ASSERT_EQUAL(tls_connection_standing(t, 0, 1), TLS_STANDING_OK);
	CU_ASSERT_EQUAL(tls_connection_standing(t, t + 1, 1), TLS_STANDING_OK);
	CU_ASSERT_EQUAL(tls_connection_standing(t, t, 1), TLS_STANDING_CERT_EXPIRED);
	CU_ASSERT_EQUAL(tls_connection_standing(t, t - 1, 1), TLS_STANDING_CERT_EXPIRED);
	CU_ASSERT_EQUAL(tls_connection_standing(t, 1, 1), TLS_STANDING_CERT_EXPIRED);
	CU_ASSERT_EQUAL(tls_connection_standing(t, 0, 0), TLS_STANDING_SETTINGS_CHANGED);
	CU_ASSERT_EQUAL(tls_connection_standing(t, t + 1, 0), TLS_STANDING_SETTINGS_CHANGED);
	CU_ASSERT_EQUAL(tls_connection_standing(t, t - 1, 0), TLS_STANDING_SETTINGS_CHANGED);
	CU_ASSERT_EQUAL(tls_connection_standing(INT64_MAX, INT64_MAX, 1), TLS_STANDING_CERT_EXPIRED);
}

static void
test_name_choose(void)
{
	const char *p[] = {"*.example.com", "other.test", "api.example.com", "*.example.com",
	    "*.test"};

	CU_ASSERT_EQUAL(tls_name_choose(p, 5, "api.example.com"), 2);	/* exact wins */
	CU_ASSERT_EQUAL(tls_name_choose(p, 5, "www.example.com"), 0);	/* first wildcard */
	CU_ASSERT_EQUAL(tls_name_choose(p, 5, "other.test"), 1);
	CU_ASSERT_EQUAL(tls_name_choose(p, 5, "x.test"), 4);
	CU_ASSERT_EQUAL(tls_name_choose(p, 5, "example.com"), -1);
	CU_ASSERT_EQUAL(tls_name_choose(p, 5, "a.b.example.com"), -1);
	CU_ASSERT_EQUAL(tls_name_choose(p, 0, "api.example.com"), -1);
}

/*
 * Certificate details.
 */

static void
test_cert_subject_fingerprint(void)
{
	char path[8400], subj[256], fp[65], want[128] = "";
	X509 *x;
	FILE *f;

	snprintf(path, sizeof(path), "%s/client.pem", tmpdir);
	CU_ASSERT_FATAL((f = fopen(path, "r")) != NULL);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	CU_ASSERT_FATAL(x != NULL);
	CU_ASSERT_EQUAL(tls_cert_subject(x, subj, sizeof(subj)), 0);
	CU_ASSERT_STRING_EQUAL(subj, "CN=client.test,O=scopegate tests");
	CU_ASSERT_EQUAL(tls_cert_subject(x, subj, 10), -1);	/* does not fit */
	CU_ASSERT_EQUAL(tls_cert_fingerprint(x, fp), 0);
	CU_ASSERT_EQUAL(strlen(fp), 64);
	/* As the openssl command line computed it in make-pki.sh. */
	snprintf(path, sizeof(path), "%s/client.sha256", tmpdir);
	CU_ASSERT_FATAL((f = fopen(path, "r")) != NULL);
	CU_ASSERT_FATAL(fgets(want, sizeof(want), f) != NULL);
	fclose(f);
	want[strcspn(want, "\n")] = '\0';
	CU_ASSERT_STRING_EQUAL(fp, want);
	X509_free(x);
}

/*
 * Configuration.
 */

static struct tls_listener_config *
parse_listener(const char *json, struct errlist *errs)
{
	struct jsonconf jc = {.file = "test.json", .errs = errs};
	struct tls_listener_config *lc = NULL;
	json_t *root;

	errlist_init(errs);
	if ((root = jsonconf_load_buffer(&jc, json, strlen(json))) != NULL) {
		lc = tls_listener_config_parse(&jc, root, "/listeners/0/tls", tmpdir);
		json_decref(root);
	}
	return lc;
}

static struct tls_client_config *
parse_client(const char *json, struct errlist *errs)
{
	struct jsonconf jc = {.file = "test.json", .errs = errs};
	struct tls_client_config *cc = NULL;
	json_t *root;

	errlist_init(errs);
	if ((root = jsonconf_load_buffer(&jc, json, strlen(json))) != NULL) {
		cc = tls_client_config_parse(&jc, root, "/upstream/tls", tmpdir);
		json_decref(root);
	}
	return cc;
}

static void
test_listener_good(void)
{
	struct errlist errs;
	struct tls_listener_config *lc;

	lc = parse_listener("{\"certificates\": ["
	    "{\"cert\": \"server-rsa.pem\", \"key\": \"server-rsa.key\"},"
	    "{\"cert\": \"server-ec.pem\", \"key\": \"server-ec.key\"},"
	    "{\"cert\": \"other.pem\", \"key\": \"other.key\", \"names\": [\"Other.Test\", \"*.other.test\"]}],"
	    "\"min_version\": \"TLSv1.3\", \"client_auth\": \"optional\","
	    "\"client_ca\": \"client-ca.pem\", \"session_cache_size\": 100, \"tickets\": false}", &errs);
	errlist_print(&errs, stderr);
	CU_ASSERT_EQUAL(errs.n, 0);
	CU_ASSERT_FATAL(lc != NULL);
	CU_ASSERT_PTR_NOT_NULL(lc->server);
	CU_ASSERT_EQUAL(lc->ncerts, 3);
	CU_ASSERT_EQUAL(lc->min_version, TLS1_3_VERSION);
	CU_ASSERT_EQUAL(lc->client_auth, TLS_CLIENT_AUTH_OPTIONAL);
	CU_ASSERT_EQUAL(lc->session_cache_size, 100);
	CU_ASSERT_EQUAL(lc->tickets, 0);
	CU_ASSERT_EQUAL(lc->certs[2].nnames, 2);
	CU_ASSERT_STRING_EQUAL(lc->certs[2].names[0], "other.test");
	CU_ASSERT_PTR_NOT_NULL(strstr(lc->client_ca, tmpdir));
	CU_ASSERT_EQUAL(tls_rotate_ticket_keys(lc->server), 0);
	CU_ASSERT_EQUAL(SSL_CTX_get_min_proto_version(tls_server_ctx(lc->server)), TLS1_3_VERSION);
	tls_listener_config_free(lc);
	errlist_free(&errs);

	/* Defaults. */
	lc = parse_listener("{\"certificates\": [{\"cert\": \"server-ec.pem\", "
	    "\"key\": \"server-ec.key\"}]}", &errs);
	CU_ASSERT_FATAL(lc != NULL);
	CU_ASSERT_EQUAL(lc->min_version, TLS1_2_VERSION);
	CU_ASSERT_EQUAL(lc->client_auth, TLS_CLIENT_AUTH_NONE);
	CU_ASSERT_EQUAL(lc->tickets, 1);
	CU_ASSERT_EQUAL(lc->session_cache_size, 20480);
	CU_ASSERT_EQUAL(SSL_CTX_get_min_proto_version(tls_server_ctx(lc->server)), TLS1_2_VERSION);
	CU_ASSERT_EQUAL(SSL_CTX_get_verify_mode(tls_server_ctx(lc->server)), SSL_VERIFY_NONE);
	tls_listener_config_free(lc);
	errlist_free(&errs);
}

/* Servers built from two configurations: the same client-certificate
 * settings (certificates or tickets may differ) or not (client_auth,
 * client_ca, or the contents of the same client_ca file). */
static void
test_same_client_auth(void)
{
	const char *base = "{\"certificates\": [{\"cert\": \"server-ec.pem\", \"key\": \"server-ec.key\"}]";
	const char *cases[] = {
		"}",
		", \"client_auth\": \"optional\", \"client_ca\": \"client-ca.pem\"}",
		", \"client_auth\": \"required\", \"client_ca\": \"client-ca.pem\"}",
		", \"client_auth\": \"required\", \"client_ca\": \"ca.pem\"}",
	};
	struct tls_listener_config *a[4], *b, *c;
	struct errlist errs;
	char json[512];

	for (size_t i = 0; i < 4; i++) {
		snprintf(json, sizeof(json), "%s%s", base, cases[i]);
		a[i] = parse_listener(json, &errs);
		errlist_free(&errs);
		CU_ASSERT_FATAL(a[i] != NULL);
	}
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++)
			CU_ASSERT_EQUAL(tls_server_same_client_auth(a[i]->server, a[j]->server), i == j);
	/* Another server for the same settings, tickets off: the same. */
	b = parse_listener("{\"certificates\": [{\"cert\": \"server-rsa.pem\", \"key\": \"server-rsa.key\"}], "
	    "\"tickets\": false, \"client_auth\": \"required\", \"client_ca\": \"client-ca.pem\"}", &errs);
	errlist_free(&errs);
	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_TRUE(b->server != a[2]->server);
	CU_ASSERT_TRUE(tls_server_same_client_auth(a[2]->server, b->server));
	/* One file name, its contents replaced by another CA's (a reload
	 * after the file changed): other settings. */
	copy_data("client-ca.pem", "swap-ca.pem");
	snprintf(json, sizeof(json), "%s%s", base,
	    ", \"client_auth\": \"required\", \"client_ca\": \"swap-ca.pem\"}");
	c = parse_listener(json, &errs);
	errlist_free(&errs);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_TRUE(tls_server_same_client_auth(a[2]->server, c->server));
	tls_listener_config_free(c);
	copy_data("ca.pem", "swap-ca.pem");
	c = parse_listener(json, &errs);
	errlist_free(&errs);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_FALSE(tls_server_same_client_auth(a[2]->server, c->server));
	CU_ASSERT_TRUE(tls_server_same_client_auth(a[3]->server, c->server));
	CU_ASSERT_FALSE(tls_server_same_client_auth(a[2]->server, NULL));
	CU_ASSERT_TRUE(tls_server_same_client_auth(NULL, NULL));
	tls_listener_config_free(c);
	tls_listener_config_free(b);
	for (size_t i = 0; i < 4; i++)
		tls_listener_config_free(a[i]);
}

struct bad_case {
	const char *json;
	const char *expect[4];	/* substrings of errs.msgs[i], in order */
};

#define EC "{\"cert\": \"server-ec.pem\", \"key\": \"server-ec.key\"}"

static const struct bad_case listener_bad[] = {
	{"{\"certificates\": [" EC "], \"bogus\": 1}",
	 {"test.json: /listeners/0/tls/bogus: unknown key \"bogus\""}},
	{"{\"min_version\": \"TLSv1.2\"}",
	 {"test.json: /listeners/0/tls: missing required key \"certificates\""}},
	{"[]", {"test.json: /listeners/0/tls: must be an object"}},
	{"{\"certificates\": []}",
	 {"/listeners/0/tls/certificates: must list 1 to 64 certificates"}},
	{"{\"certificates\": [{\"cert\": \"server-ec.pem\"}]}",
	 {"/listeners/0/tls/certificates/0: missing required key \"key\""}},
	{"{\"certificates\": [{\"cert\": \"server-ec.pem\", \"key\": 3, \"x\": 1}]}",
	 {"/certificates/0/key: must be a string", "/certificates/0/x: unknown key"}},
	{"{\"certificates\": [" EC "], \"min_version\": \"TLSv1.1\"}",
	 {"/listeners/0/tls/min_version: \"TLSv1.1\" is not allowed: TLS 1.0 and 1.1 are obsolete"}},
	{"{\"certificates\": [" EC "], \"min_version\": \"1.3\"}",
	 {"/min_version: must be \"TLSv1.2\" or \"TLSv1.3\""}},
	{"{\"certificates\": [" EC "], \"client_auth\": \"maybe\"}",
	 {"/client_auth: must be \"none\", \"optional\" or \"required\""}},
	{"{\"certificates\": [" EC "], \"client_auth\": \"required\"}",
	 {"/listeners/0/tls: client_auth \"required\" needs \"client_ca\""}},
	{"{\"certificates\": [" EC "], \"client_ca\": \"client-ca.pem\"}",
	 {"/client_ca: is only used with client_auth"}},
	{"{\"certificates\": [" EC "], \"session_cache_size\": -1}",
	 {"/session_cache_size: must be between 0 and"}},
	{"{\"certificates\": [{\"cert\": \"server-ec.pem\", \"key\": \"server-ec.key\", "
	 "\"names\": [\"ok.test\", \"*.*.test\", 7]}]}",
	 {"/certificates/0/names/1: \"*.*.test\" is not a DNS name",
	  "/certificates/0/names/2: must be a string"}},
	{"{\"certificates\": [{\"cert\": \"server-ec.pem\", \"key\": \"server-ec.key\", \"names\": []}]}",
	 {"/certificates/0/names: must list 1 to"}},
	/* Every error is listed, in file order. */
	{"{\"certificates\": [" EC "], \"tickets\": \"yes\", \"min_version\": \"SSLv3\", "
	 "\"client_auth\": \"always\"}",
	 {"/tickets: must be a boolean", "/min_version: \"SSLv3\" is not allowed",
	  "/client_auth: must be \"none\""}},
	/* Files. */
	{"{\"certificates\": [{\"cert\": \"nope.pem\", \"key\": \"server-ec.key\"}]}",
	 {"test.json: /listeners/0/tls/certificates/0: ", "nope.pem: cannot open certificate: No such file"}},
	{"{\"certificates\": [{\"cert\": \"server-ec.pem\", \"key\": \"nope.key\"}]}",
	 {"nope.key: cannot open private key: No such file"}},
	{"{\"certificates\": [{\"cert\": \"server-ec.pem\", \"key\": \"readable.key\"}]}",
	 {"/certificates/0: ", "readable.key: private key file is accessible by group or others (mode 0644); chmod 600 it"}},
	{"{\"certificates\": [{\"cert\": \"server-ec.pem\", \"key\": \"group.key\"}]}",
	 {"group.key: private key file is accessible by group or others (mode 0640)"}},
	{"{\"certificates\": [{\"cert\": \"server-rsa.pem\", \"key\": \"other.key\"}]}",
	 {"other.key: private key does not match the certificate", "server-rsa.pem"}},
	{"{\"certificates\": [{\"cert\": \"server-rsa.pem\", \"key\": \"server-ec.key\"}]}",
	 {"server-ec.key: private key does not match the certificate"}},
	{"{\"certificates\": [{\"cert\": \"garbage.pem\", \"key\": \"server-ec.key\"}]}",
	 {"garbage.pem: no PEM certificate found"}},
	{"{\"certificates\": [{\"cert\": \"server-ec.pem\", \"key\": \"garbage.key\"}]}",
	 {"garbage.key: cannot read an unencrypted PEM private key"}},
	{"{\"certificates\": [{\"cert\": \"server-ec.pem\", \"key\": \"server-ec.pem\"}]}",
	 {"server-ec.pem: private key file is accessible by group or others (mode 0644)"}},
	/* Two certificates of one key type for the same names. */
	{"{\"certificates\": [{\"cert\": \"server-rsa.pem\", \"key\": \"server-rsa.key\"},"
	 "{\"cert\": \"other.pem\", \"key\": \"other.key\", \"names\": [\"localhost\"]}]}",
	 {"/certificates/1: ", "is there another RSA certificate for the same names?"}},
	{"{\"certificates\": [" EC ", {\"cert\": \"nope.pem\", \"key\": \"readable.key\"}]}",
	 {"/certificates/1: ", "nope.pem: cannot open certificate"}},
	{"{\"certificates\": [" EC "], \"ciphers\": \"NOPE\"}",
	 {"/listeners/0/tls/ciphers: no usable cipher in \"NOPE\""}},
	{"{\"certificates\": [" EC "], \"ciphersuites\": \"TLS_NOPE\"}",
	 {"/listeners/0/tls/ciphersuites: no usable TLS 1.3 suite"}},
	{"{\"certificates\": [" EC "], \"client_auth\": \"optional\", \"client_ca\": \"nope.pem\"}",
	 {"/listeners/0/tls/client_ca: ", "nope.pem: cannot load CA certificates"}},
};

/* Each expected string must occur, in order, in the errors: several may
 * fall in one message (a pointer, then the file and reason). */
static void
check_errors(const char *json, const struct errlist *errs, const char *const *expect)
{
	size_t m = 0;

	if (errs->n == 0) {
		fprintf(stderr, "\ncase %s: no error reported\n", json);
		CU_FAIL("no error reported");
		return;
	}
	for (size_t j = 0; j < 4 && expect[j] != NULL; j++) {
		while (m < errs->n && strstr(errs->msgs[m], expect[j]) == NULL)
			m++;
		if (m == errs->n) {
			fprintf(stderr, "\ncase %s\n  expected \"%s\" in:\n", json, expect[j]);
			errlist_print(errs, stderr);
			CU_FAIL("error message mismatch");
			return;
		}
	}
}

static void
test_listener_bad(void)
{
	write_file("readable.key", "", 0644);
	write_file("group.key", "", 0640);
	write_file("garbage.pem", "hello\n", 0644);
	write_file("garbage.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	    0600);
	for (size_t i = 0; i < sizeof(listener_bad) / sizeof(listener_bad[0]); i++) {
		const struct bad_case *bc = &listener_bad[i];
		struct errlist errs;
		struct tls_listener_config *lc = parse_listener(bc->json, &errs);

		CU_ASSERT_PTR_NULL(lc);
		tls_listener_config_free(lc);
		check_errors(bc->json, &errs, bc->expect);
		errlist_free(&errs);
	}
}

static void
test_key_never_logged(void)
{
	struct errlist errs;
	struct tls_listener_config *lc;
	char path[8400], line[256];
	FILE *fp;

	/* A readable key is refused before it is read: the message names the
	 * file and its mode, never its contents. */
	snprintf(path, sizeof(path), "%s/server-ec.key", tmpdir);
	chmod(path, 0644);
	lc = parse_listener("{\"certificates\": [" EC "]}", &errs);
	chmod(path, 0600);
	CU_ASSERT_PTR_NULL(lc);
	CU_ASSERT_EQUAL_FATAL(errs.n, 1);
	CU_ASSERT_FATAL((fp = fopen(path, "r")) != NULL);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "-----", 5) != 0 && line[0] != '\0')
			CU_ASSERT_PTR_NULL(strstr(errs.msgs[0], line));
	}
	fclose(fp);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs.msgs[0], "server-ec.key"));
	errlist_free(&errs);
}

static const struct bad_case client_bad[] = {
	{"{\"ca\": \"ca.pem\", \"verfy\": true}", {"/upstream/tls/verfy: unknown key \"verfy\""}},
	{"{\"cert\": \"client.pem\"}", {"/upstream/tls: \"cert\" and \"key\" go together"}},
	{"{\"server_name\": \"*.example.com\"}",
	 {"/upstream/tls/server_name: \"*.example.com\" is not a DNS name or an IP address"}},
	{"{\"ca\": \"nope.pem\"}", {"/upstream/tls/ca: ", "nope.pem: cannot load CA certificates"}},
	{"{\"ca\": \"\"}", {"/upstream/tls/ca: must not be empty"}},
	{"{\"verify\": 1}", {"/upstream/tls/verify: must be a boolean"}},
	{"{\"cert\": \"client.pem\", \"key\": \"readable.key\"}",
	 {"/upstream/tls/key: ", "readable.key: private key file is accessible by group or others"}},
	{"{\"cert\": \"client.pem\", \"key\": \"upstream.key\"}",
	 {"/upstream/tls/key: ", "upstream.key: private key does not match the certificate"}},
};

static void
test_client_config(void)
{
	struct errlist errs;
	struct tls_client_config *cc;

	cc = parse_client("{\"ca\": \"ca.pem\", \"server_name\": \"upstream.test\", "
	    "\"cert\": \"client.pem\", \"key\": \"client.key\"}", &errs);
	errlist_print(&errs, stderr);
	CU_ASSERT_FATAL(cc != NULL);
	CU_ASSERT_PTR_NOT_NULL(cc->client);
	CU_ASSERT_EQUAL(cc->verify, 1);
	CU_ASSERT_STRING_EQUAL(cc->server_name, "upstream.test");
	tls_client_config_free(cc);
	errlist_free(&errs);

	/* Omitted ca: the system store. */
	cc = parse_client("{}", &errs);
	CU_ASSERT_FATAL(cc != NULL);
	CU_ASSERT_PTR_NULL(cc->ca);
	CU_ASSERT_PTR_NOT_NULL(cc->client);
	tls_client_config_free(cc);
	errlist_free(&errs);

	for (size_t i = 0; i < sizeof(client_bad) / sizeof(client_bad[0]); i++) {
		const struct bad_case *bc = &client_bad[i];

		cc = parse_client(bc->json, &errs);
		CU_ASSERT_PTR_NULL(cc);
		tls_client_config_free(cc);
		check_errors(bc->json, &errs, bc->expect);
		errlist_free(&errs);
	}
}

/*
 * Server and upstream client over loopback, in one event loop.
 */

struct loop {
	struct event_base *base;
	struct evhttp *http;
	struct tls_listener_config *lc;
	uint16_t port;
	int close_each;		/* server answers with Connection: close */
	int nconns;		/* bufferevents made by the server */
	char last_subject[512];
	char last_resumed[4];
	int done;
	int code;
};

static struct bufferevent *
counting_bevcb(struct event_base *base, void *arg)
{
	struct loop *l = arg;

	l->nconns++;
	return tls_server_bevcb(base, l->lc->server);
}

static void
server_cb(struct evhttp_request *req, void *arg)
{
	struct loop *l = arg;
	SSL *ssl = tls_connection_ssl(evhttp_request_get_connection(req));
	struct tls_peer_info pi;
	struct evbuffer *b = evbuffer_new();

	l->last_subject[0] = '\0';
	if (ssl != NULL && tls_peer_info(ssl, &pi) == 0)
		snprintf(l->last_subject, sizeof(l->last_subject), "%s", pi.subject);
	if (l->close_each)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	evbuffer_add(b, "ok", 2);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static int
loop_start(struct loop *l, const char *tls_json)
{
	struct errlist errs;
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	memset(l, 0, sizeof(*l));
	if ((l->lc = parse_listener(tls_json, &errs)) == NULL) {
		errlist_print(&errs, stderr);
		errlist_free(&errs);
		return -1;
	}
	errlist_free(&errs);
	l->base = event_base_new();
	l->http = evhttp_new(l->base);
	evhttp_set_bevcb(l->http, counting_bevcb, l);
	evhttp_set_gencb(l->http, server_cb, l);
	if ((bs = evhttp_bind_socket_with_handle(l->http, "127.0.0.1", 0)) == NULL)
		return -1;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl) != 0)
		return -1;
	l->port = ntohs(sin.sin_port);
	return 0;
}

static void
loop_stop(struct loop *l)
{
	evhttp_free(l->http);
	event_base_free(l->base);
	tls_listener_config_free(l->lc);
}

static void
client_done(struct evhttp_request *req, void *arg)
{
	struct loop *l = arg;

	l->code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	l->done = 1;
	event_base_loopbreak(l->base);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* One GET on evcon; the response code, 0 when the request failed. */
static int
get(struct loop *l, struct evhttp_connection *evcon)
{
	struct evhttp_request *req = evhttp_request_new(client_done, l);
	struct timeval tv = {5, 0};
	struct event *t = evtimer_new(l->base, timeout_cb, l->base);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "upstream.test");
	l->done = 0;
	l->code = -1;
	evtimer_add(t, &tv);
	if (evhttp_make_request(evcon, req, EVHTTP_REQ_GET, "/") != 0)
		l->code = 0;
	else
		while (!l->done && event_base_dispatch(l->base) == 0 && !l->done)
			;
	event_free(t);
	return l->code;
}

static struct tls_client_config *
client_for(const char *json)
{
	struct errlist errs;
	struct tls_client_config *cc = parse_client(json, &errs);

	errlist_print(&errs, stderr);
	errlist_free(&errs);
	return cc;
}

#define UPSTREAM_TLS "{\"certificates\": [{\"cert\": \"upstream.pem\", \"key\": \"upstream.key\"}]}"

static void
test_upstream_verified(void)
{
	struct loop l;
	struct tls_client_config *cc;
	struct evhttp_connection *evcon, *evcon2;
	char buf[256];
	SSL *ssl;

	CU_ASSERT_FATAL(loop_start(&l, UPSTREAM_TLS) == 0);
	cc = client_for("{\"ca\": \"ca.pem\", \"server_name\": \"upstream.test\"}");
	CU_ASSERT_FATAL(cc != NULL);
	evcon = upstream_evcon(cc->client, l.base, "127.0.0.1", l.port);
	CU_ASSERT_FATAL(evcon != NULL);
	CU_ASSERT_EQUAL(get(&l, evcon), 200);
	CU_ASSERT_EQUAL(get(&l, evcon), 200);	/* keep-alive */
	CU_ASSERT_EQUAL(l.nconns, 1);
	CU_ASSERT_FATAL((ssl = tls_connection_ssl(evcon)) != NULL);
	CU_ASSERT_EQUAL(SSL_get_verify_result(ssl), X509_V_OK);
	CU_ASSERT_PTR_NULL(upstream_evcon_error(evcon, buf, sizeof(buf)));

	/* The upstream closes after each answer: evhttp reconnects on the same
	 * bufferevent and SSL, with a new, verified handshake each time. */
	l.close_each = 1;
	CU_ASSERT_EQUAL(get(&l, evcon), 200);
	CU_ASSERT_EQUAL(get(&l, evcon), 200);
	CU_ASSERT_EQUAL(get(&l, evcon), 200);
	CU_ASSERT_EQUAL(l.nconns, 3);
	l.close_each = 0;

	/* A second pool connection resumes the session of the first. */
	evcon2 = upstream_evcon(cc->client, l.base, "127.0.0.1", l.port);
	CU_ASSERT_FATAL(evcon2 != NULL);
	CU_ASSERT_EQUAL(get(&l, evcon2), 200);
	CU_ASSERT_FATAL((ssl = tls_connection_ssl(evcon2)) != NULL);
	CU_ASSERT_TRUE(SSL_session_reused(ssl));

	evhttp_connection_free(evcon);
	evhttp_connection_free(evcon2);
	/* The client config may go (reload) while connections live on: the
	 * connections keep their own references. */
	tls_client_config_free(cc);
	loop_stop(&l);
}

/* A handshake that must fail: the request gets no answer and the error
 * string says why. */
static void
expect_failure(const char *server_tls, const char *client_json, const char *why)
{
	struct loop l;
	struct tls_client_config *cc;
	struct evhttp_connection *evcon;
	char buf[256];
	const char *err;

	CU_ASSERT_FATAL(loop_start(&l, server_tls) == 0);
	cc = client_for(client_json);
	CU_ASSERT_FATAL(cc != NULL);
	evcon = upstream_evcon(cc->client, l.base, "127.0.0.1", l.port);
	CU_ASSERT_FATAL(evcon != NULL);
	CU_ASSERT_EQUAL(get(&l, evcon), 0);
	err = upstream_evcon_error(evcon, buf, sizeof(buf));
	CU_ASSERT_PTR_NOT_NULL(err);
	if (err == NULL || strstr(err, why) == NULL) {
		fprintf(stderr, "\nerror is \"%s\", expected \"%s\"\n", err ? err : "(null)", why);
		CU_FAIL("unexpected upstream error");
	}
	/* Still failing, for the same reason, on the next attempt. */
	CU_ASSERT_EQUAL(get(&l, evcon), 0);
	err = upstream_evcon_error(evcon, buf, sizeof(buf));
	CU_ASSERT(err != NULL && strstr(err, why) != NULL);
	evhttp_connection_free(evcon);
	tls_client_config_free(cc);
	loop_stop(&l);
}

static void
test_upstream_wrong_name(void)
{
	expect_failure(UPSTREAM_TLS, "{\"ca\": \"ca.pem\", \"server_name\": \"other.test\"}",
	    "certificate verify failed for other.test: hostname mismatch");
	expect_failure("{\"certificates\": [{\"cert\": \"wrongname.pem\", \"key\": \"wrongname.key\"}]}",
	    "{\"ca\": \"ca.pem\", \"server_name\": \"upstream.test\"}",
	    "certificate verify failed for upstream.test: hostname mismatch");
	/* No name override: the address itself must be in the certificate. */
	expect_failure(UPSTREAM_TLS, "{\"ca\": \"ca.pem\"}", "IP address mismatch");
}

static void
test_upstream_unknown_ca(void)
{
	expect_failure(UPSTREAM_TLS, "{\"ca\": \"client-ca.pem\", \"server_name\": \"upstream.test\"}",
	    "unable to get local issuer certificate");
}

static void
test_upstream_no_verify(void)
{
	struct loop l;
	struct tls_client_config *cc;
	struct evhttp_connection *evcon;

	CU_ASSERT_FATAL(loop_start(&l, UPSTREAM_TLS) == 0);
	cc = client_for("{\"ca\": \"client-ca.pem\", \"server_name\": \"x.test\", \"verify\": false}");
	CU_ASSERT_FATAL(cc != NULL);
	evcon = upstream_evcon(cc->client, l.base, "127.0.0.1", l.port);
	CU_ASSERT_EQUAL(get(&l, evcon), 200);
	evhttp_connection_free(evcon);
	tls_client_config_free(cc);
	loop_stop(&l);
}

static void
test_upstream_client_cert(void)
{
	const char *mtls = "{\"certificates\": [{\"cert\": \"upstream.pem\", \"key\": \"upstream.key\"}],"
	    "\"client_auth\": \"required\", \"client_ca\": \"client-ca.pem\"}";
	struct loop l;
	struct tls_client_config *cc;
	struct evhttp_connection *evcon;

	CU_ASSERT_FATAL(loop_start(&l, mtls) == 0);
	cc = client_for("{\"ca\": \"ca.pem\", \"server_name\": \"upstream.test\", "
	    "\"cert\": \"client.pem\", \"key\": \"client.key\"}");
	CU_ASSERT_FATAL(cc != NULL);
	evcon = upstream_evcon(cc->client, l.base, "127.0.0.1", l.port);
	CU_ASSERT_EQUAL(get(&l, evcon), 200);
	CU_ASSERT_STRING_EQUAL(l.last_subject, "CN=client.test,O=scopegate tests");
	evhttp_connection_free(evcon);
	tls_client_config_free(cc);
	loop_stop(&l);

	expect_failure(mtls, "{\"ca\": \"ca.pem\", \"server_name\": \"upstream.test\"}",
	    "alert from the upstream: ");
	/* Signed by the server CA, not the client CA. */
	expect_failure(mtls, "{\"ca\": \"ca.pem\", \"server_name\": \"upstream.test\", "
	    "\"cert\": \"client-rogue.pem\", \"key\": \"client-rogue.key\"}",
	    "alert from the upstream: ");
}

/* Reload: a new server for the same evhttp; connections made before keep
 * their server alive after the old configuration is freed. */
static void
test_server_replace(void)
{
	struct loop l;
	struct tls_client_config *cc;
	struct evhttp_connection *evcon;
	struct tls_listener_config *next;
	struct errlist errs;

	CU_ASSERT_FATAL(loop_start(&l, UPSTREAM_TLS) == 0);
	cc = client_for("{\"ca\": \"ca.pem\", \"server_name\": \"upstream.test\"}");
	CU_ASSERT_FATAL(cc != NULL);
	evcon = upstream_evcon(cc->client, l.base, "127.0.0.1", l.port);
	CU_ASSERT_EQUAL(get(&l, evcon), 200);
	next = parse_listener(UPSTREAM_TLS, &errs);
	errlist_free(&errs);
	CU_ASSERT_FATAL(next != NULL);
	tls_server_inherit_ticket_keys(next->server, l.lc->server);
	tls_listener_config_free(l.lc);
	l.lc = next;
	CU_ASSERT_EQUAL(get(&l, evcon), 200);	/* old connection, old server */
	l.close_each = 1;
	CU_ASSERT_EQUAL(get(&l, evcon), 200);
	CU_ASSERT_EQUAL(get(&l, evcon), 200);	/* new connection, new server */
	CU_ASSERT_EQUAL(l.nconns, 2);
	evhttp_connection_free(evcon);
	tls_client_config_free(cc);
	loop_stop(&l);
}

/* A reconnect verifies the upstream again: after the upstream switched to
 * a certificate for another name, the next connect on the same evhttp
 * connection fails. */
static void
test_upstream_reconnect_verifies(void)
{
	struct loop l;
	struct tls_client_config *cc;
	struct evhttp_connection *evcon;
	struct tls_listener_config *next;
	struct errlist errs;
	char buf[256];
	const char *err;

	CU_ASSERT_FATAL(loop_start(&l, UPSTREAM_TLS) == 0);
	cc = client_for("{\"ca\": \"ca.pem\", \"server_name\": \"upstream.test\"}");
	CU_ASSERT_FATAL(cc != NULL);
	evcon = upstream_evcon(cc->client, l.base, "127.0.0.1", l.port);
	l.close_each = 1;
	CU_ASSERT_EQUAL(get(&l, evcon), 200);
	next = parse_listener("{\"certificates\": [{\"cert\": \"wrongname.pem\", "
	    "\"key\": \"wrongname.key\"}]}", &errs);
	errlist_free(&errs);
	CU_ASSERT_FATAL(next != NULL);
	tls_listener_config_free(l.lc);
	l.lc = next;
	CU_ASSERT_EQUAL(get(&l, evcon), 0);
	err = upstream_evcon_error(evcon, buf, sizeof(buf));
	CU_ASSERT(err != NULL && strstr(err, "hostname mismatch") != NULL);
	CU_ASSERT_EQUAL(l.nconns, 2);
	evhttp_connection_free(evcon);
	tls_client_config_free(cc);
	loop_stop(&l);
}

/* Connect once more through a new pool connection; whether it resumed. */
static int
resumed_on_new_connection(struct loop *l, struct tls_client *tc)
{
	struct evhttp_connection *evcon = upstream_evcon(tc, l->base, "127.0.0.1",
	    l->port);
	int r = -1;

	if (get(l, evcon) == 200)
		r = SSL_session_reused(tls_connection_ssl(evcon));
	evhttp_connection_free(evcon);
	return r;
}

/* Tickets only (no server cache): a rotation keeps the previous key for
 * decryption; a second rotation retires it. */
static void
test_ticket_rotation(void)
{
	struct loop l;
	struct tls_client_config *cc;

	CU_ASSERT_FATAL(loop_start(&l, "{\"certificates\": [{\"cert\": \"upstream.pem\", "
	    "\"key\": \"upstream.key\"}], \"session_cache_size\": 0}") == 0);
	cc = client_for("{\"ca\": \"ca.pem\", \"server_name\": \"upstream.test\"}");
	CU_ASSERT_FATAL(cc != NULL);
	CU_ASSERT_EQUAL(resumed_on_new_connection(&l, cc->client), 0);
	CU_ASSERT_EQUAL(resumed_on_new_connection(&l, cc->client), 1);
	CU_ASSERT_EQUAL(tls_rotate_ticket_keys(l.lc->server), 0);
	CU_ASSERT_EQUAL(resumed_on_new_connection(&l, cc->client), 1);	/* previous key */
	CU_ASSERT_EQUAL(resumed_on_new_connection(&l, cc->client), 1);	/* renewed ticket */
	CU_ASSERT_EQUAL(tls_rotate_ticket_keys(l.lc->server), 0);
	CU_ASSERT_EQUAL(tls_rotate_ticket_keys(l.lc->server), 0);
	CU_ASSERT_EQUAL(resumed_on_new_connection(&l, cc->client), 0);	/* key retired */
	CU_ASSERT_EQUAL(resumed_on_new_connection(&l, cc->client), 1);
	tls_client_config_free(cc);
	loop_stop(&l);
}

/*
 * tls_write_now: an answer larger than the socket takes at once, to a
 * client that reads only later. The write stops with the socket full
 * (asserted: else this would test nothing), the bufferevent sends the
 * rest, the client gets every byte in order, and the connection serves
 * the next request.
 */

#define LATE_BYTES (300 * 1000)

struct late {
	struct loop *l;
	int want_after;		/* SSL_want() after tls_write_now, first answer */
	int answers;
	size_t got;		/* body bytes the client read, all in order */
	int second_ok;
	volatile int done;
};

static void
late_server_cb(struct evhttp_request *req, void *arg)
{
	struct late *lt = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	SSL *ssl = tls_connection_ssl(evcon);
	struct evbuffer *b = evbuffer_new();
	int small = 4096;
	char len[32];
	size_t n = lt->answers++ == 0 ? LATE_BYTES : 10;

	(void)setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	for (size_t i = 0; i < n; i++) {
		char c = (char)('a' + i % 26);
		evbuffer_add(b, &c, 1);
	}
	snprintf(len, sizeof(len), "%zu", n);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", len);
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_send_reply_chunk(req, b);
	tls_write_now(bev, ssl);
	if (n == LATE_BYTES)
		lt->want_after = SSL_want(ssl);
	evhttp_send_reply_end(req);
	evbuffer_free(b);
}

/* Read one answer's head and its body of n bytes; the body bytes in the
 * pattern, in order ('a' + i % 26), or -1. */
static long
late_read_answer(SSL *ssl, size_t n)
{
	char buf[16384];
	size_t head = 0, body = 0;
	int r;
	char last4[4] = {0};

	while (head < 4 || memcmp(last4, "\r\n\r\n", 4) != 0) {
		if (SSL_read(ssl, buf, 1) != 1)
			return -1;
		memmove(last4, last4 + 1, 3);
		last4[3] = buf[0];
		head++;
	}
	while (body < n) {
		size_t want = n - body < sizeof(buf) ? n - body : sizeof(buf);
		if ((r = SSL_read(ssl, buf, (int)want)) <= 0)
			return -1;
		for (int i = 0; i < r; i++)
			if (buf[i] != (char)('a' + (body + (size_t)i) % 26))
				return -1;
		body += (size_t)r;
	}
	return (long)body;
}

static void *
late_client(void *arg)
{
	struct late *lt = arg;
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
	struct timeval limit = {5, 0};	/* a lost byte fails, not hangs */
	long got;
	SSL *ssl;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(lt->l->port);
	ssl = SSL_new(ctx);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && SSL_set_fd(ssl, fd) == 1 &&
	    SSL_connect(ssl) == 1 && SSL_write(ssl, get, sizeof(get) - 1) > 0) {
		usleep(300 * 1000);	/* the server meets a full socket */
		got = late_read_answer(ssl, LATE_BYTES);
		lt->got = got > 0 ? (size_t)got : 0;
		if (SSL_write(ssl, get, sizeof(get) - 1) > 0)
			lt->second_ok = late_read_answer(ssl, 10) == 10;
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	lt->done = 1;
	return NULL;
}

static void
late_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct late *lt = arg;

	(void)fd;
	(void)what;
	if (lt->done)
		event_base_loopbreak(lt->l->base);
}

static void
test_write_now_late_reader(void)
{
	struct loop l;
	struct late lt = {.l = &l};
	struct timeval tick = {0, 10000};
	struct event *poll;
	pthread_t t;
	int i;

	CU_ASSERT_FATAL(loop_start(&l, UPSTREAM_TLS) == 0);
	evhttp_set_gencb(l.http, late_server_cb, &lt);
	poll = event_new(l.base, -1, EV_PERSIST, late_poll_cb, &lt);
	event_add(poll, &tick);
	CU_ASSERT_FATAL(pthread_create(&t, NULL, late_client, &lt) == 0);
	for (i = 0; i < 1000 && !lt.done; i++)	/* 10 s at most */
		event_base_loop(l.base, EVLOOP_ONCE);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(lt.want_after, SSL_WRITING);
	CU_ASSERT_EQUAL(lt.got, LATE_BYTES);
	CU_ASSERT_TRUE(lt.second_ok);
	CU_ASSERT_EQUAL(lt.answers, 2);
	event_free(poll);
	loop_stop(&l);
}

static int
remove_tmp(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char p[8400];
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	return rmdir(tmpdir);
}

int
main(void)
{
	const char *top = getenv("top_srcdir");
	const char *tmp = getenv("TMPDIR");
	CU_pSuite s;
	unsigned nfail;

	log_init(1, 0);
	snprintf(datadir, sizeof(datadir), "%s/tests/data/tls", top ? top : ".");
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_tls.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(tmpdir) == NULL || copy_pki() != 0) {
		fprintf(stderr, "cannot set up the test PKI from %s in %s\n", datadir, tmpdir);
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("tls", NULL, NULL);
	CU_add_test(s, "SNI name validity", test_name_valid);
	CU_add_test(s, "SNI name matching", test_name_match);
	CU_add_test(s, "SNI name choice", test_name_choose);
	CU_add_test(s, "session lifetime bounds", test_session_timeout);
	CU_add_test(s, "kept-alive connection standing", test_connection_standing);
	CU_add_test(s, "client-certificate settings compared", test_same_client_auth);
	CU_add_test(s, "certificate subject and fingerprint", test_cert_subject_fingerprint);
	CU_add_test(s, "listener config, good", test_listener_good);
	CU_add_test(s, "listener config, errors", test_listener_bad);
	CU_add_test(s, "key material never in messages", test_key_never_logged);
	CU_add_test(s, "upstream config", test_client_config);
	CU_add_test(s, "upstream verified, reconnects, resumption", test_upstream_verified);
	CU_add_test(s, "upstream with a wrong name fails", test_upstream_wrong_name);
	CU_add_test(s, "upstream with an unknown CA fails", test_upstream_unknown_ca);
	CU_add_test(s, "upstream without verification", test_upstream_no_verify);
	CU_add_test(s, "upstream client certificate", test_upstream_client_cert);
	CU_add_test(s, "server replaced under live connections", test_server_replace);
	CU_add_test(s, "a reconnect verifies the upstream again", test_upstream_reconnect_verifies);
	CU_add_test(s, "session ticket key rotation", test_ticket_rotation);
	CU_add_test(s, "an answer written at once to a late reader", test_write_now_late_reader);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	nfail = CU_get_number_of_failures();
	CU_cleanup_registry();
	remove_tmp();
	return nfail != 0;
}
