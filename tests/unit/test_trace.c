/* test_trace.c: the W3C traceparent parser against hostile values, the
 * next hop's context, and the trusted request id check. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "trace.h"

#define GOOD "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int
parse(const char *v)
{
	struct trace_ctx t;

	return trace_parse(v, strlen(v), &t);
}

static void
test_valid(void)
{
	struct trace_ctx t;
	char out[TRACE_PARENT_LEN + 1], id[TRACE_ID_HEX_LEN + 1];

	CU_ASSERT_EQUAL(trace_parse(GOOD, strlen(GOOD), &t), 0);
	CU_ASSERT_EQUAL(t.flags, 1);
	CU_ASSERT_EQUAL(t.trace_id[0], 0x4b);
	CU_ASSERT_EQUAL(t.parent_id[7], 0xb7);
	trace_format(&t, out);
	CU_ASSERT_STRING_EQUAL(out, GOOD);
	trace_id_hex(&t, id);
	CU_ASSERT_STRING_EQUAL(id, "4bf92f3577b34da6a3ce929d0e0e4736");
	/* The specification's other examples and a later version. */
	CU_ASSERT_EQUAL(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), 0);
	CU_ASSERT_EQUAL(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), 0);
	CU_ASSERT_EQUAL(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds"), 0);
	CU_ASSERT_EQUAL(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff"), 0);
}

static void
test_hostile(void)
{
	static const char *bad[] = {
		"",
		"00",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",	/* short */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",	/* 00 is exact */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",	/* 00 is exact */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* forbidden version */
		"FF-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* upper case */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",	/* zero trace id */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",	/* zero parent */
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* separators */
		"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
		"00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01",	/* shifted */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
		" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* whitespace */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",	/* later version: '-' */
		"00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01,"
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* two, combined */
	};
	struct trace_ctx t;
	char nul[TRACE_PARENT_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i]);
		if (rc == 0)
			fprintf(stderr, "\naccepted \"%s\"\n", bad[i]);
		CU_ASSERT_EQUAL(rc, -1);
	}
	/* A NUL where the length says there are bytes. */
	memcpy(nul, GOOD, sizeof(nul));
	nul[40] = '\0';
	CU_ASSERT_EQUAL(trace_parse(nul, sizeof(nul), &t), -1);
	CU_ASSERT_EQUAL(trace_parse(NULL, 0, &t), -1);
}

static void
test_next_hop(void)
{
	unsigned char rnd[24], zeros[24] = {0};
	struct trace_ctx in, out;
	char s[TRACE_PARENT_LEN + 1];

	for (int i = 0; i < 24; i++)
		rnd[i] = (unsigned char)(0xa0 + i);
	CU_ASSERT_EQUAL(trace_parse(GOOD, strlen(GOOD), &in), 0);
	in.flags = 0xff;
	trace_next_hop(&in, rnd, &out);
	trace_format(&out, s);
	/* Same trace, our span as parent, only "sampled" passed on. */
	CU_ASSERT_STRING_EQUAL(s, "00-4bf92f3577b34da6a3ce929d0e0e4736-b0b1b2b3b4b5b6b7-01");
	trace_next_hop(NULL, rnd, &out);
	trace_format(&out, s);
	CU_ASSERT_STRING_EQUAL(s, "00-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf-b0b1b2b3b4b5b6b7-00");
	CU_ASSERT_EQUAL(trace_parse(s, strlen(s), &in), 0);
	/* Random zeros never make an invalid value. */
	trace_next_hop(NULL, zeros, &out);
	trace_format(&out, s);
	CU_ASSERT_EQUAL(trace_parse(s, strlen(s), &in), 0);
}

static void
test_request_id(void)
{
	char longid[TRACE_REQUEST_ID_MAX + 2];

	CU_ASSERT(trace_request_id_valid("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
	CU_ASSERT(trace_request_id_valid("Root=1-67891233-abcdef012345678912345678"));
	CU_ASSERT(trace_request_id_valid("a"));
	CU_ASSERT(!trace_request_id_valid(""));
	CU_ASSERT(!trace_request_id_valid(NULL));
	CU_ASSERT(!trace_request_id_valid("a b"));
	CU_ASSERT(!trace_request_id_valid("a,b"));
	CU_ASSERT(!trace_request_id_valid("a\"b"));
	CU_ASSERT(!trace_request_id_valid("a\\b"));
	CU_ASSERT(!trace_request_id_valid("a\r\nX-Evil: 1"));
	CU_ASSERT(!trace_request_id_valid("caf\xc3\xa9"));
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	CU_ASSERT(!trace_request_id_valid(longid));
	longid[TRACE_REQUEST_ID_MAX] = '\0';
	CU_ASSERT(trace_request_id_valid(longid));
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("trace", NULL, NULL);
	CU_add_test(s, "valid", test_valid);
	CU_add_test(s, "hostile", test_hostile);
	CU_add_test(s, "next hop", test_next_hop);
	CU_add_test(s, "request id", test_request_id);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
