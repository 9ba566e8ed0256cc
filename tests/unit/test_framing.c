/* test_framing.c: the framing checks made on what libevent parsed, before
 * any routing: every refusal, its status and message, and the fields
 * found on the way. Header values are given as libevent 2.1.12 stores
 * them (leading spaces stripped, a leading tab kept). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <CUnit/Basic.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "framing.h"

struct result {
	int rc, status;
	const char *type, *message;
	struct framing_info fi;
};

/* HTTP/1.1 requires Host: the cases about other fields get one added at
 * the end unless they have one, or this is set (the Host tests). */
static int no_auto_host;

/* Check a header list given as name, value, ..., NULL. */
static void
run(struct result *r, int major, int minor, enum evhttp_cmd_type cmd, const char *const *kv)
{
	struct evkeyvalq h;
	int host = 0;

	TAILQ_INIT(&h);
	for (; kv[0] != NULL; kv += 2) {
		CU_ASSERT_FATAL(evhttp_add_header(&h, kv[0], kv[1]) == 0);
		host |= strcasecmp(kv[0], "Host") == 0;
	}
	if (!host && !no_auto_host && minor == 1)
		CU_ASSERT_FATAL(evhttp_add_header(&h, "Host", "t") == 0);
	r->rc = framing_check(&h, major, minor, cmd, &r->fi, &r->status, &r->type, &r->message);
	/* The values point into the list: keep what the tests read. */
	evhttp_clear_headers(&h);
}

#define H(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NOH ((const char *const[]){ NULL })

/* Assert a refusal with that status and message. */
static void
refused(int major, int minor, enum evhttp_cmd_type cmd, const char *const *kv, int status,
    const char *type, const char *message)
{
	struct result r;

	run(&r, major, minor, cmd, kv);
	CU_ASSERT_EQUAL(r.rc, -1);
	CU_ASSERT_EQUAL(r.status, status);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.type);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.message);
	CU_ASSERT_STRING_EQUAL(r.type, type);
	CU_ASSERT_STRING_EQUAL(r.message, message);
}

/* Assert acceptance; returns the framed flag. */
static int
accepted(int major, int minor, enum evhttp_cmd_type cmd, const char *const *kv)
{
	struct result r;

	run(&r, major, minor, cmd, kv);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_EQUAL(r.status, 0);
	return r.fi.framed;
}

static void
test_version(void)
{
	static const char *const msg = "Only HTTP/1.0 and HTTP/1.1 are supported";

	refused(2, 0, EVHTTP_REQ_GET, NOH, 505, "HTTPVersionNotSupported", msg);
	refused(1, 2, EVHTTP_REQ_GET, NOH, 505, "HTTPVersionNotSupported", msg);
	refused(0, 9, EVHTTP_REQ_GET, NOH, 505, "HTTPVersionNotSupported", msg);
	/* The version is checked before any field. */
	refused(2, 0, EVHTTP_REQ_GET, H("Bad Name", "x"), 505, "HTTPVersionNotSupported", msg);
	CU_ASSERT_EQUAL(accepted(1, 0, EVHTTP_REQ_GET, NOH), 0);
	CU_ASSERT_EQUAL(accepted(1, 1, EVHTTP_REQ_GET, NOH), 0);
}

static void
test_names(void)
{
	static const char *const msg = "Invalid header field name";

	refused(1, 1, EVHTTP_REQ_GET, H("X Foo", "1"), 400, "BadRequest", msg);
	refused(1, 1, EVHTTP_REQ_GET, H("", "1"), 400, "BadRequest", msg);
	refused(1, 1, EVHTTP_REQ_GET, H("Host", "a", "X-\x7f", "1"), 400, "BadRequest", msg);
	refused(1, 1, EVHTTP_REQ_GET, H("X(a)", "1"), 400, "BadRequest", msg);
	refused(1, 1, EVHTTP_REQ_GET, H("X\xc3\xa9", "1"), 400, "BadRequest", msg);
	/* A bad name wins over a framing conflict found later. */
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "1", "Transfer-Encoding", "chunked",
	    "X@Y", "1"), 400, "BadRequest", msg);
	accepted(1, 1, EVHTTP_REQ_GET, H("X-a!#$%&'*+-.^_`|~9", "1"));
}

static void
test_duplicates(void)
{
	refused(1, 1, EVHTTP_REQ_GET, H("Host", "a", "Host", "b"),
	    400, "BadRequest", "Duplicate Host");
	refused(1, 1, EVHTTP_REQ_GET, H("Host", "a", "host", "a"),
	    400, "BadRequest", "Duplicate Host");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Type", "application/json",
	    "content-type", "text/plain"), 400, "BadRequest", "Duplicate Content-Type");
	accepted(1, 1, EVHTTP_REQ_POST, H("Host", "a", "Content-Type", "application/json"));
}

/* RFC 9112 3.2: HTTP/1.1 needs Host; HTTP/1.0 may go without. After the
 * framing checks: a conflict there is what the answer names. */
static void
test_host_required(void)
{
	no_auto_host = 1;
	refused(1, 1, EVHTTP_REQ_GET, NOH, 400, "BadRequest", "Missing Host");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Type", "application/json"),
	    400, "BadRequest", "Missing Host");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "5", "Transfer-Encoding", "chunked"),
	    400, "BadRequest", "Content-Length and Transfer-Encoding together are not allowed");
	accepted(1, 0, EVHTTP_REQ_GET, NOH);
	accepted(1, 1, EVHTTP_REQ_GET, H("host", "a"));
	no_auto_host = 0;
}

/* The gateway's own field namespace, in any spelling, from a client. */
static void
test_own_fields(void)
{
	static const char *const msg = "X-Scopegate-* header fields are reserved for the gateway";

	refused(1, 1, EVHTTP_REQ_GET, H("X-Scopegate-Refusal", "x 400 y"), 400, "BadRequest", msg);
	refused(1, 1, EVHTTP_REQ_GET, H("x-scopegate-subject", "admin"), 400, "BadRequest", msg);
	refused(1, 0, EVHTTP_REQ_GET, H("X-SCOPEGATE-", ""), 400, "BadRequest", msg);
	accepted(1, 1, EVHTTP_REQ_GET, H("X-Scopegate", "1"));
	accepted(1, 1, EVHTTP_REQ_GET, H("X-Scopegates-x", "1"));
}

static void
test_lengths(void)
{
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "5", "Transfer-Encoding", "chunked"),
	    400, "BadRequest", "Content-Length and Transfer-Encoding together are not allowed");
	refused(1, 1, EVHTTP_REQ_POST, H("transfer-encoding", "chunked", "content-length", "0"),
	    400, "BadRequest", "Content-Length and Transfer-Encoding together are not allowed");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "5", "Content-Length", "5"),
	    400, "BadRequest", "Duplicate Content-Length");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "0", "content-length", "7"),
	    400, "BadRequest", "Duplicate Content-Length");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "+5"),
	    400, "BadRequest", "Invalid Content-Length");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "-1"),
	    400, "BadRequest", "Invalid Content-Length");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", ""),
	    400, "BadRequest", "Invalid Content-Length");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "0x10"),
	    400, "BadRequest", "Invalid Content-Length");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "\t5"),
	    400, "BadRequest", "Invalid Content-Length");
	refused(1, 1, EVHTTP_REQ_POST, H("Content-Length", "5, 5"),
	    400, "BadRequest", "Invalid Content-Length");
	CU_ASSERT_EQUAL(accepted(1, 1, EVHTTP_REQ_POST, H("Content-Length", "5")), 1);
	CU_ASSERT_EQUAL(accepted(1, 1, EVHTTP_REQ_POST, H("Content-Length", "0")), 1);
	CU_ASSERT_EQUAL(accepted(1, 0, EVHTTP_REQ_PUT, H("Content-Length", "007")), 1);
}

static void
test_codings(void)
{
	static const char *const msg = "Only the chunked transfer coding is supported";

	refused(1, 1, EVHTTP_REQ_POST, H("Transfer-Encoding", "gzip"), 501, "NotImplemented", msg);
	refused(1, 1, EVHTTP_REQ_POST, H("Transfer-Encoding", "chunked, identity"),
	    501, "NotImplemented", msg);
	refused(1, 1, EVHTTP_REQ_POST, H("Transfer-Encoding", "gzip, chunked"),
	    501, "NotImplemented", msg);
	refused(1, 1, EVHTTP_REQ_POST, H("Transfer-Encoding", "chunked",
	    "Transfer-Encoding", "chunked"), 501, "NotImplemented", msg);
	refused(1, 1, EVHTTP_REQ_POST, H("Transfer-Encoding", ""), 501, "NotImplemented", msg);
	refused(1, 1, EVHTTP_REQ_POST, H("Transfer-Encoding", "chunkedx"),
	    501, "NotImplemented", msg);
	/* HTTP/1.0 has no transfer codings. */
	refused(1, 0, EVHTTP_REQ_POST, H("Transfer-Encoding", "chunked"),
	    501, "NotImplemented", msg);
	/* Whitespace around the one coding and its case do not matter. */
	CU_ASSERT_EQUAL(accepted(1, 1, EVHTTP_REQ_POST, H("Transfer-Encoding", "\tchunked \t")), 1);
	CU_ASSERT_EQUAL(accepted(1, 1, EVHTTP_REQ_PATCH, H("Transfer-Encoding", "CHUNKED")), 1);
}

static void
test_head(void)
{
	static const char *const msg = "A body is not allowed with HEAD";

	refused(1, 1, EVHTTP_REQ_HEAD, H("Content-Length", "5"), 400, "BadRequest", msg);
	refused(1, 1, EVHTTP_REQ_HEAD, H("Transfer-Encoding", "chunked"), 400, "BadRequest", msg);
	/* A zero length is no body; the request still counts as framed. */
	CU_ASSERT_EQUAL(accepted(1, 1, EVHTTP_REQ_HEAD, H("Content-Length", "000")), 1);
	CU_ASSERT_EQUAL(accepted(1, 1, EVHTTP_REQ_HEAD, NOH), 0);
	CU_ASSERT_EQUAL(accepted(1, 1, EVHTTP_REQ_GET, H("Content-Length", "5")), 1);
}

static void
test_fields(void)
{
	struct result r;

	run(&r, 1, 1, EVHTTP_REQ_POST, H("Authorization", "Bearer a", "Connection", "X-A",
	    "Host", "h1", "authorization", "Bearer b", "connection", "X-B",
	    "content-type", "application/json", "Content-Length", "2"));
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_EQUAL(r.fi.nauthorization, 2);
	CU_ASSERT_EQUAL(r.fi.nconnection, 2);
	CU_ASSERT_EQUAL(r.fi.framed, 1);
	/* The values themselves were freed with the list; check them live. */
	{
		struct evkeyvalq h;
		struct framing_info fi;
		const char *type, *message;
		int status;

		TAILQ_INIT(&h);
		evhttp_add_header(&h, "Authorization", "Bearer a");
		evhttp_add_header(&h, "Connection", "X-A");
		evhttp_add_header(&h, "authorization", "Bearer b");
		evhttp_add_header(&h, "connection", "X-B");
		evhttp_add_header(&h, "HOST", "h2");
		evhttp_add_header(&h, "Content-Type", "application/json");
		CU_ASSERT_EQUAL(framing_check(&h, 1, 1, EVHTTP_REQ_GET, &fi, &status, &type,
		    &message), 0);
		CU_ASSERT_STRING_EQUAL(fi.authorization, "Bearer b");	/* the last */
		CU_ASSERT_STRING_EQUAL(fi.host, "h2");
		CU_ASSERT_STRING_EQUAL(fi.connection, "X-A");		/* the first */
		CU_ASSERT_STRING_EQUAL(fi.content_type, "application/json");
		CU_ASSERT_EQUAL(fi.framed, 0);
		evhttp_clear_headers(&h);
	}
	run(&r, 1, 0, EVHTTP_REQ_GET, NOH);
	CU_ASSERT_PTR_NULL(r.fi.authorization);
	CU_ASSERT_PTR_NULL(r.fi.host);
	CU_ASSERT_PTR_NULL(r.fi.connection);
	CU_ASSERT_PTR_NULL(r.fi.content_type);
	CU_ASSERT_EQUAL(r.fi.nauthorization, 0);
}

/* Content-Encoding is found (the last) and counted, for gate.c. */
static void
test_content_encoding(void)
{
	struct result r;

	run(&r, 1, 1, EVHTTP_REQ_POST, H("content-encoding", "identity",
	    "Content-Encoding", "gzip"));
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_EQUAL(r.fi.ncontent_encoding, 2);
}

/* The size line of each chunk the gateway writes upstream: the shortest
 * lowercase hex, CRLF, nothing else; never one for 0 bytes (that is the
 * last chunk, which would end the body early). */
static void
test_chunk_line(void)
{
	static const struct {
		uint64_t n;
		const char *want;
	} cases[] = {
		{ 1, "1\r\n" },
		{ 9, "9\r\n" },
		{ 10, "a\r\n" },
		{ 15, "f\r\n" },
		{ 16, "10\r\n" },
		{ 255, "ff\r\n" },
		{ 4096, "1000\r\n" },
		{ 16384, "4000\r\n" },
		{ 65535, "ffff\r\n" },
		{ 1048576, "100000\r\n" },
		{ 0xdeadbeefULL, "deadbeef\r\n" },
		{ 0x0fffffffffffffffULL, "fffffffffffffff\r\n" },
		{ UINT64_MAX, "ffffffffffffffff\r\n" },
	};
	char out[FRAMING_CHUNK_LINE_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;

		memset(out, 'X', sizeof(out));
		len = framing_chunk_line(cases[i].n, out);
		CU_ASSERT_EQUAL(len, strlen(cases[i].want));
		CU_ASSERT_STRING_EQUAL(out, cases[i].want);
		/* A strict parser reads back the size it was given. */
		CU_ASSERT_EQUAL(strtoull(out, NULL, 16), cases[i].n);
	}
	memset(out, 'X', sizeof(out));
	CU_ASSERT_EQUAL(framing_chunk_line(0, out), 0);
	CU_ASSERT_EQUAL(out[0], '\0');
	CU_ASSERT_STRING_EQUAL(FRAMING_LAST_CHUNK, "0\r\n\r\n");
}

int
main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("framing", NULL, NULL);
	CU_add_test(s, "HTTP version", test_version);
	CU_add_test(s, "field names", test_names);
	CU_add_test(s, "Host and Content-Type once", test_duplicates);
	CU_add_test(s, "Host required in HTTP/1.1", test_host_required);
	CU_add_test(s, "X-Scopegate-* fields refused", test_own_fields);
	CU_add_test(s, "Content-Length", test_lengths);
	CU_add_test(s, "Transfer-Encoding", test_codings);
	CU_add_test(s, "HEAD bodies", test_head);
	CU_add_test(s, "fields found on the way", test_fields);
	CU_add_test(s, "Content-Encoding found and counted", test_content_encoding);
	CU_add_test(s, "chunk size lines the gateway writes", test_chunk_line);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
