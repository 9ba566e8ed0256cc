/* test_admin.c: the admin listener's request checks (admin_check) with
 * hostile inputs: Host spellings a rebinding name or a confused parser
 * could produce, Origin in any form, bearer tokens that are almost the
 * secret, Content-Types a form or a simple request can send; and the
 * token file loader. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "admin.h"
#include "errlist.h"

static const char secret[] = "0123456789abcdef-SECRET";

static int
check(const struct admin_rules *r, const char *host, int norigin, const char *auth,
    int mutating, const char *ct)
{
	struct admin_request rq = {
		.is_mutating = mutating,
		.host = host,
		.nhost = host != NULL,
		.norigin = norigin,
		.content_type = ct,
		.authorization = auth,
		.nauthorization = auth != NULL,
	};
	const char *type = NULL, *message = NULL;
	int st = admin_check(r, &rq, &type, &message);

	if (st != 0)
		CU_ASSERT(type != NULL && message != NULL);
	return st;
}

static void
test_host(void)
{
	struct admin_rules r = {"127.0.0.1", 9901, NULL};
	struct admin_rules r6 = {"::1", 9901, NULL};
	struct admin_rules r80 = {"127.0.0.1", 80, NULL};
	const char *ok[] = {"127.0.0.1:9901", "localhost:9901", "LOCALHOST:9901"};
	const char *bad[] = {"evil.example:9901", "evil.example", "127.0.0.1", "localhost",
	    "127.0.0.1:9902", "127.0.0.1:09901", "127.0.0.1:9901 ", " 127.0.0.1:9901",
	    "127.0.0.1:9901:9901", "127.0.0.1:", "127.0.0.1.:9901", "localhost.:9901",
	    "127.0.0.1.evil.example:9901", "localhost.evil.example:9901",
	    "evil@127.0.0.1:9901", "127.0.0.2:9901", "0x7f.0.0.1:9901", "2130706433:9901",
	    "[127.0.0.1]:9901", "[::1]:9901", "", ":9901", "127.0.0.1:+9901",
	    "127.0.0.1:9901/", "localhost:99010", "localhost:9901\t"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CU_ASSERT_EQUAL(check(&r, ok[i], 0, NULL, 0, NULL), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (check(&r, bad[i], 0, NULL, 0, NULL) != 421)
			fprintf(stderr, "\naccepted Host \"%s\"\n", bad[i]);
		CU_ASSERT_EQUAL(check(&r, bad[i], 0, NULL, 0, NULL), 421);
	}
	CU_ASSERT_EQUAL(check(&r, NULL, 0, NULL, 0, NULL), 421);	/* none */
	/* IPv6 in brackets, hex digits in any case; never bare. */
	CU_ASSERT_EQUAL(check(&r6, "[::1]:9901", 0, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(check(&r6, "localhost:9901", 0, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(check(&r6, "::1:9901", 0, NULL, 0, NULL), 421);
	CU_ASSERT_EQUAL(check(&r6, "[::1]", 0, NULL, 0, NULL), 421);
	CU_ASSERT_EQUAL(check(&r6, "[::1", 0, NULL, 0, NULL), 421);
	CU_ASSERT_EQUAL(check(&r6, "[::2]:9901", 0, NULL, 0, NULL), 421);
	CU_ASSERT_EQUAL(check(&r6, "[::1]x:9901", 0, NULL, 0, NULL), 421);
	CU_ASSERT_EQUAL(check(&r6, "127.0.0.1:9901", 0, NULL, 0, NULL), 421);
	/* Port 80: the port may be left out. */
	CU_ASSERT_EQUAL(check(&r80, "127.0.0.1", 0, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(check(&r80, "localhost", 0, NULL, 0, NULL), 0);
	CU_ASSERT_EQUAL(check(&r80, "127.0.0.1:80", 0, NULL, 0, NULL), 0);
	/* Two Host fields, even both right. */
	struct admin_request two = {.host = "127.0.0.1:9901", .nhost = 2};
	const char *t, *m;
	CU_ASSERT_EQUAL(admin_check(&r, &two, &t, &m), 421);
}

static void
test_origin_and_type(void)
{
	struct admin_rules r = {"127.0.0.1", 9901, NULL};
	const char *json[] = {"application/json", "Application/JSON",
	    "application/json; charset=utf-8", "application/json;charset=utf-8"};
	const char *notjson[] = {"text/plain", "application/x-www-form-urlencoded",
	    "multipart/form-data; boundary=x", "application/jsonp", "application/json-seq",
	    "text/plain; application/json", "", " application/json", "application/"};

	CU_ASSERT_EQUAL(check(&r, "127.0.0.1:9901", 1, NULL, 0, NULL), 403);
	CU_ASSERT_EQUAL(check(&r, "127.0.0.1:9901", 3, NULL, 1, "application/json"), 403);
	/* GET needs no type; POST and DELETE do. */
	CU_ASSERT_EQUAL(check(&r, "127.0.0.1:9901", 0, NULL, 0, "text/plain"), 0);
	CU_ASSERT_EQUAL(check(&r, "127.0.0.1:9901", 0, NULL, 1, NULL), 415);
	for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++)
		CU_ASSERT_EQUAL(check(&r, "127.0.0.1:9901", 0, NULL, 1, json[i]), 0);
	for (size_t i = 0; i < sizeof(notjson) / sizeof(notjson[0]); i++)
		CU_ASSERT_EQUAL(check(&r, "127.0.0.1:9901", 0, NULL, 1, notjson[i]), 415);
	/* Order: Host before Origin before type. */
	CU_ASSERT_EQUAL(check(&r, "evil.example", 1, NULL, 1, "text/plain"), 421);
	CU_ASSERT_EQUAL(check(&r, "localhost:9901", 1, NULL, 1, "text/plain"), 403);
}

static void
test_token(void)
{
	struct admin_rules r = {"127.0.0.1", 9901, secret};
	const char *h = "127.0.0.1:9901";
	char buf[128];

	snprintf(buf, sizeof(buf), "Bearer %s", secret);
	CU_ASSERT_EQUAL(check(&r, h, 0, buf, 0, NULL), 0);
	snprintf(buf, sizeof(buf), "bEARER   %s", secret);
	CU_ASSERT_EQUAL(check(&r, h, 0, buf, 0, NULL), 0);
	CU_ASSERT_EQUAL(check(&r, h, 0, NULL, 0, NULL), 401);
	CU_ASSERT_EQUAL(check(&r, h, 0, "Bearer", 0, NULL), 401);
	CU_ASSERT_EQUAL(check(&r, h, 0, "Bearer ", 0, NULL), 401);
	snprintf(buf, sizeof(buf), "Bearer %.*s", (int)strlen(secret) - 1, secret);
	CU_ASSERT_EQUAL(check(&r, h, 0, buf, 0, NULL), 401);		/* a prefix */
	snprintf(buf, sizeof(buf), "Bearer %sx", secret);
	CU_ASSERT_EQUAL(check(&r, h, 0, buf, 0, NULL), 401);		/* longer */
	snprintf(buf, sizeof(buf), "Bearer %s ", secret);
	CU_ASSERT_EQUAL(check(&r, h, 0, buf, 0, NULL), 401);		/* trailing space */
	snprintf(buf, sizeof(buf), "Basic %s", secret);
	CU_ASSERT_EQUAL(check(&r, h, 0, buf, 0, NULL), 401);
	snprintf(buf, sizeof(buf), "Bearer%s", secret);
	CU_ASSERT_EQUAL(check(&r, h, 0, buf, 0, NULL), 401);
	snprintf(buf, sizeof(buf), "Bearer %s", secret);
	buf[7] ^= 0x20;							/* case of one byte */
	CU_ASSERT_EQUAL(check(&r, h, 0, buf, 0, NULL), 401);
	/* Two Authorization fields, even both right. */
	snprintf(buf, sizeof(buf), "Bearer %s", secret);
	struct admin_request two = {.host = h, .nhost = 1, .authorization = buf,
	    .nauthorization = 2};
	const char *t, *m;
	CU_ASSERT_EQUAL(admin_check(&r, &two, &t, &m), 401);
	/* The token is checked before the type: an unauthenticated caller
	 * learns nothing about what a request would need. */
	CU_ASSERT_EQUAL(check(&r, h, 0, NULL, 1, "text/plain"), 401);
}

/* write FILE with mode, then load it. */
static char *
load(const char *text, size_t len, mode_t mode, struct errlist *errs)
{
	char path[] = "/tmp/test_admin.XXXXXX";
	int fd = mkstemp(path);
	char *tok;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	fchmod(fd, mode);
	close(fd);
	tok = admin_token_load(path, errs);
	unlink(path);
	return tok;
}

static void
test_token_file(void)
{
	struct errlist errs;
	char *t;

	errlist_init(&errs);
	t = load("0123456789abcdef\n", 17, 0600, &errs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(t, "0123456789abcdef");
	admin_token_free(t);
	t = load("0123456789abcdef\r\n", 18, 0400, &errs);
	CU_ASSERT_PTR_NOT_NULL(t);
	admin_token_free(t);
	CU_ASSERT_EQUAL(errs.n, 0);
	/* Readable by others; too short; a space; a NUL; two newlines. */
	CU_ASSERT_PTR_NULL(load("0123456789abcdef\n", 17, 0644, &errs));
	CU_ASSERT_PTR_NULL(load("0123456789abcdef\n", 17, 0640, &errs));
	CU_ASSERT_PTR_NULL(load("0123456789abcde\n", 16, 0600, &errs));
	CU_ASSERT_PTR_NULL(load("0123456789 abcdef\n", 18, 0600, &errs));
	CU_ASSERT_PTR_NULL(load("0123456789\0abcdef\n", 18, 0600, &errs));
	CU_ASSERT_PTR_NULL(load("0123456789abcdef\n\n", 18, 0600, &errs));
	CU_ASSERT_PTR_NULL(load("0123456789abcdef\xc3\xa9\n", 19, 0600, &errs));
	CU_ASSERT_EQUAL(errs.n, 7);
	CU_ASSERT(strstr(errs.msgs[0], "chmod 600") != NULL);
	CU_ASSERT(strstr(errs.msgs[2], "16 to 1024 bytes") != NULL);
	errlist_free(&errs);
	admin_token_free(NULL);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("admin", NULL, NULL);
	CU_add_test(s, "Host", test_host);
	CU_add_test(s, "Origin and Content-Type", test_origin_and_type);
	CU_add_test(s, "bearer token", test_token);
	CU_add_test(s, "token file", test_token_file);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
