/* test_accesslog.c: the access-log line is valid JSON with every field,
 * escapes hostile values, and stays valid when truncated. */
#include "config.h"

#include <string.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "accesslog.h"

static json_t *
parse(const char *line, size_t n)
{
	json_error_t err;
	json_t *j;

	CU_ASSERT(n > 0 && line[n - 1] == '\n');
	j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		fprintf(stderr, "\nnot JSON (%s): %.*s\n", err.text, (int)n, line);
	return j;
}

static void
test_fields(void)
{
	struct accesslog_entry e = {
		.time = {1700000000, 123456789},
		.request_id = "abc",
		.client = "127.0.0.1:5555",
		.method = "DELETE",
		.path = "/applications/x/tokens/y",
		.action = "applicationApiToken.delete",
		.decision = "allow",
		.reason = "scope",
		.status = 200,
		.subject = "user-1",
		.token_id = "t-1",
		.scope = "all.Application",
		.upstream_status = 200,
		.latency_us = 1234,
		.bytes_in = 5,
		.bytes_out = 17,
	};
	char buf[4096];
	size_t n = accesslog_format(&e, buf, sizeof(buf));
	json_t *j = parse(buf, n);

	CU_ASSERT_FATAL(j != NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "time")), "2023-11-14T22:13:20.123456Z");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "action")), "applicationApiToken.delete");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "status")), 200);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "latency_us")), 1234);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "bytes_out")), 17);
	CU_ASSERT_EQUAL(json_object_size(j), 16);
	json_decref(j);
}

static void
test_hostile_and_null(void)
{
	struct accesslog_entry e = {
		.path = "/a\"b\\c\n\r\x01\x7f{}",
		.method = "GET",
	};
	char buf[4096];
	size_t n = accesslog_format(&e, buf, sizeof(buf));
	json_t *j = parse(buf, n);

	CU_ASSERT_FATAL(j != NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "path")), e.path);
	CU_ASSERT(json_is_null(json_object_get(j, "action")));
	CU_ASSERT(json_is_null(json_object_get(j, "upstream_status")));
	CU_ASSERT(memchr(buf, '\n', n - 1) == NULL);
	json_decref(j);
}

static void
test_truncation(void)
{
	static char longpath[10000];
	struct accesslog_entry e = {.method = "GET", .path = longpath};
	char buf[512];

	memset(longpath, '"', sizeof(longpath) - 1);
	for (size_t size = 64; size <= sizeof(buf); size += 37) {
		size_t n = accesslog_format(&e, buf, size);
		CU_ASSERT(n < size);
		CU_ASSERT(buf[n - 1] == '\n');
		CU_ASSERT(buf[n - 2] == '}');
	}
}

int
main(void)
{
	CU_pSuite s;
	int fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("accesslog", NULL, NULL);
	CU_add_test(s, "fields", test_fields);
	CU_add_test(s, "hostile values and nulls", test_hostile_and_null);
	CU_add_test(s, "truncation", test_truncation);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
