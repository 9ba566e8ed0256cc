/* test_accesslog.c: the access-log line is valid JSON with every field,
 * escapes hostile values, and stays valid when truncated. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Count the lines of path, each of which must be a JSON object. */
static size_t
count_json_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	size_t n = 0;

	CU_ASSERT_FATAL(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *j = parse(line, strlen(line));
		CU_ASSERT(json_is_object(j));
		json_decref(j);
		n++;
	}
	fclose(f);
	return n;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* A batch writes nothing until flushed (or full), then whole lines. */
static void
test_batch_file(void)
{
	char path[] = "/tmp/test_accesslog.XXXXXX";
	int fd = mkstemp(path);
	struct errlist errs;
	struct accesslog *al;
	struct accesslog_batch *b;
	static char longpath[3000];
	struct accesslog_entry e = { .method = "GET", .path = "/a", .status = 200 };

	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	errlist_init(&errs);
	al = accesslog_open(path, &errs);
	CU_ASSERT_FATAL(al != NULL);
	b = accesslog_batch_new(al);
	CU_ASSERT(accesslog_batch_add(b, &e) == 1);
	CU_ASSERT(accesslog_batch_add(b, &e) == 0);
	CU_ASSERT(accesslog_batch_add(b, &e) == 0);
	CU_ASSERT(file_size(path) == 0);
	accesslog_batch_flush(b);
	CU_ASSERT(count_json_lines(path) == 3);
	CU_ASSERT(accesslog_batch_add(b, &e) == 1);
	/* Long lines: the batch fills and writes itself out. */
	memset(longpath, 'x', sizeof(longpath) - 1);
	e.path = longpath;
	for (int i = 0; i < 100; i++)
		accesslog_batch_add(b, &e);
	CU_ASSERT(file_size(path) > 3 * 4096);
	accesslog_batch_free(b);
	CU_ASSERT(count_json_lines(path) == 104);
	accesslog_close(al);
	errlist_free(&errs);
	unlink(path);
}

/* Not a regular file (a pipe, like stderr under systemd): line by line. */
static void
test_batch_fifo(void)
{
	char dir[] = "/tmp/test_accesslog.XXXXXX", path[64], buf[8192];
	struct errlist errs;
	struct accesslog *al;
	struct accesslog_batch *b;
	struct accesslog_entry e = { .method = "GET", .path = "/fifo", .status = 200 };
	int rfd;
	ssize_t n;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/log", dir);
	CU_ASSERT_FATAL(mkfifo(path, 0600) == 0);
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	CU_ASSERT_FATAL(rfd >= 0);
	errlist_init(&errs);
	al = accesslog_open(path, &errs);
	CU_ASSERT_FATAL(al != NULL);
	b = accesslog_batch_new(al);
	CU_ASSERT(accesslog_batch_add(b, &e) == 0);
	n = read(rfd, buf, sizeof(buf));
	CU_ASSERT(n > 0 && buf[n - 1] == '\n' && memmem(buf, (size_t)n, "/fifo", 5) != NULL);
	accesslog_batch_free(b);
	accesslog_close(al);
	errlist_free(&errs);
	close(rfd);
	unlink(path);
	rmdir(dir);
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
	CU_add_test(s, "batch to a file", test_batch_file);
	CU_add_test(s, "batch to a pipe", test_batch_fifo);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
