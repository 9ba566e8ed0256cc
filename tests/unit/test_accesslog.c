/* test_accesslog.c: the access-log line is valid JSON with every field,
 * escapes hostile values, and stays valid when truncated. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
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

/* The line holds no raw control byte but its final newline, and no raw
 * byte >= 0x80 unless allow_8bit. */
static int
line_is_clean(const char *buf, size_t n, int allow_8bit)
{
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char b = (unsigned char)buf[i];
		if (b < 0x20 || b == 0x7f || (b >= 0x80 && !allow_8bit))
			return 0;
	}
	return n > 0 && buf[n - 1] == '\n';
}

/* The UTF-8 form of U+00XX: how a byte that is no UTF-8 reads back. */
static char *
put_latin1(char *p, unsigned char b)
{
	if (b < 0x80) {
		*p++ = (char)b;
	} else {
		*p++ = (char)(0xc0 | (b >> 6));
		*p++ = (char)(0x80 | (b & 0x3f));
	}
	return p;
}

/* Format path and method; the line must parse (jansson checks that its
 * input is well-formed UTF-8: no overlong forms, surrogates or bytes past
 * U+10FFFF) and give the path back as `want`. */
static void
check_value(const char *value, const char *want, size_t want_len, int allow_8bit)
{
	struct accesslog_entry e = {.method = value, .path = value};
	char buf[4096];
	size_t n = accesslog_format(&e, buf, sizeof(buf));
	json_t *j = parse(buf, n);
	const char *got;

	CU_ASSERT(line_is_clean(buf, n, allow_8bit));
	CU_ASSERT_FATAL(j != NULL);
	got = json_string_value(json_object_get(j, "path"));
	CU_ASSERT_FATAL(got != NULL);
	CU_ASSERT(json_string_length(json_object_get(j, "path")) == want_len &&
	    memcmp(got, want, want_len) == 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "method")), got);
	json_decref(j);
}

/* Every byte value on its own in a path (and a method): the line parses,
 * holds no raw control or 8-bit byte, and reads back as the byte for
 * ASCII, as U+00XX for a byte that is no UTF-8. */
static void
test_every_byte(void)
{
	for (unsigned b = 1; b < 256; b++) {
		char in[4] = {'/', (char)b, 'z', 0}, want[8], *w = want;

		*w++ = '/';
		w = put_latin1(w, (unsigned char)b);
		*w++ = 'z';
		check_value(in, want, (size_t)(w - want), 0);
	}
}

/* Well-formed sequences are kept as they are (C1 controls escaped);
 * overlong forms, surrogates, code points past U+10FFFF, truncated
 * sequences and stray continuation bytes become one \u00XX per byte. */
static void
test_utf8_sequences(void)
{
	static const struct {
		const char *in;
		int valid;
	} cases[] = {
		{"\xc3\xa9", 1},			/* U+00E9 */
		{"\xc2\xa0", 1},			/* U+00A0, the first after C1 */
		{"\xdf\xbf", 1},			/* U+07FF */
		{"\xe0\xa0\x80", 1},		/* U+0800 */
		{"\xe2\x82\xac", 1},		/* U+20AC */
		{"\xed\x9f\xbf", 1},		/* U+D7FF, below the surrogates */
		{"\xee\x80\x80", 1},		/* U+E000, above them */
		{"\xef\xbf\xbf", 1},		/* U+FFFF */
		{"\xf0\x90\x80\x80", 1},	/* U+10000 */
		{"\xf0\x9f\x98\x80", 1},	/* U+1F600 */
		{"\xf4\x8f\xbf\xbf", 1},	/* U+10FFFF */
		{"\xc0\xaf", 0},			/* overlong '/' */
		{"\xc1\xbf", 0},			/* overlong U+007F */
		{"\xe0\x80\xaf", 0},		/* overlong '/' */
		{"\xe0\x9f\xbf", 0},		/* overlong U+07FF */
		{"\xf0\x80\x80\xaf", 0},	/* overlong '/' */
		{"\xf0\x8f\xbf\xbf", 0},	/* overlong U+FFFF */
		{"\xed\xa0\x80", 0},		/* U+D800, a surrogate */
		{"\xed\xbf\xbf", 0},		/* U+DFFF */
		{"\xed\xa0\xbd\xed\xb8\x80", 0},	/* a surrogate pair (CESU-8) */
		{"\xf4\x90\x80\x80", 0},	/* U+110000 */
		{"\xf5\x80\x80\x80", 0},
		{"\xf8\x88\x80\x80\x80", 0},	/* 5-byte form */
		{"\xfe\xff", 0},
		{"\x80", 0},			/* stray continuation */
		{"\xbf\x80", 0},
		{"\xe2\x82", 0},			/* truncated at the end */
		{"\xe2\x82" "A", 0},		/* ... before ASCII */
		{"\xf0\x9f\x98", 0},
		{"\xc3", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const unsigned char *c = (const unsigned char *)cases[i].in;
		char want[64], *w = want;

		if (cases[i].valid) {
			strcpy(want, cases[i].in);
			w = want + strlen(want);
		} else
			for (; *c; c++)
				w = put_latin1(w, *c);
		check_value(cases[i].in, want, (size_t)(w - want), cases[i].valid);
	}
	/* C1 controls are escaped, not copied: the line holds no raw byte. */
	for (unsigned b = 0x80; b <= 0x9f; b++) {
		char in[3] = {(char)0xc2, (char)b, 0};
		check_value(in, in, 2, 0);
	}
	/* Invalid then valid: one escape per bad byte, the valid copied. */
	check_value("\xff\xc3\xa9\x80", "\xc3\xbf\xc3\xa9\xc2\x80", 6, 1);
}

/* Every pair of bytes with an 8-bit lead, and every triple with a lead
 * of a 3- or 4-byte form and a continuation second: the line always
 * parses as UTF-8 JSON and holds no raw control. */
static void
test_utf8_exhaustive(void)
{
	char buf[ACCESSLOG_LINE_MAX];
	int bad = 0;

	for (unsigned a = 0x80; a < 0x100; a++)
		for (unsigned b = 1; b < 0x100; b++)
			for (unsigned c = 0; c < (a >= 0xe0 && b >= 0x80 && b <= 0xbf ? 0x100u : 1u);
			    c++) {
				char in[5] = {(char)a, (char)b, (char)c, c ? 'z' : 0, 0};
				struct accesslog_entry e = {.path = in};
				size_t n = accesslog_format(&e, buf, sizeof(buf));
				json_error_t err;
				json_t *j = json_loadb(buf, n, 0, &err);

				if (j == NULL || !line_is_clean(buf, n, 1))
					bad++;
				json_decref(j);
			}
	CU_ASSERT_EQUAL(bad, 0);
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
	/* A path cut at its cap, wherever the cap falls in a multi-byte
	 * character: cut before it, the line stays UTF-8 JSON. */
	for (size_t len = ACCESSLOG_PATH_MAX - 12; len <= ACCESSLOG_PATH_MAX + 12; len++) {
		char line[ACCESSLOG_LINE_MAX];
		size_t n;
		json_t *j;

		memset(longpath, 0, sizeof(longpath));
		for (size_t i = 0; i + 9 <= len; i += 9)
			memcpy(longpath + i, "\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9", 9);
		n = accesslog_format(&e, line, sizeof(line));
		j = parse(line, n);
		CU_ASSERT_FATAL(j != NULL);
		CU_ASSERT(json_string_length(json_object_get(j, "path")) <= ACCESSLOG_PATH_MAX);
		json_decref(j);
	}
}

/* Every string field at 10,000 bytes that escape to six each: cut at
 * their caps, the line still holds every field and is valid JSON. */
static void
test_every_field_at_cap(void)
{
	static char big[10001];
	struct accesslog_entry e = {
		.time = {1700000000, 0}, .request_id = big, .client = big, .method = big,
		.path = big, .action = big, .decision = big, .reason = big, .status = 599,
		.subject = big, .token_id = big, .scope = big, .upstream_status = 599,
		.latency_us = INT64_MAX, .bytes_in = INT64_MAX, .bytes_out = INT64_MAX,
		.forwarded_client = big, .client_cert_subject = big, .client_cert_sha256 = big,
		.query = big, .host = big, .user_agent = big, .http_version = big,
		.upstream_addr = big, .upstream_latency_us = INT64_MAX, .tls_version = big,
		.tls_cipher = big, .sni = big, .trace_id = big,
	};
	char line[ACCESSLOG_LINE_MAX];
	size_t n;
	json_t *j;

	for (int pass = 0; pass < 3; pass++) {
		/* control bytes (6 out each), 8-bit (6), plain (1) */
		memset(big, pass == 0 ? '\x01' : pass == 1 ? '\xff' : 'a', sizeof(big) - 1);
		n = accesslog_format(&e, line, sizeof(line));
		j = parse(line, n);
		CU_ASSERT_FATAL(j != NULL);
		CU_ASSERT_EQUAL(json_object_size(j), 29);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "upstream_status")), 599);
		CU_ASSERT(json_is_string(json_object_get(j, "client_cert_sha256")));
		json_decref(j);
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
	CU_add_test(s, "every byte value", test_every_byte);
	CU_add_test(s, "UTF-8: valid, overlong, surrogates, truncated", test_utf8_sequences);
	CU_add_test(s, "UTF-8: every pair and lead triple", test_utf8_exhaustive);
	CU_add_test(s, "truncation", test_truncation);
	CU_add_test(s, "every field at its cap", test_every_field_at_cap);
	CU_add_test(s, "batch to a file", test_batch_file);
	CU_add_test(s, "batch to a pipe", test_batch_fifo);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = (int)CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
