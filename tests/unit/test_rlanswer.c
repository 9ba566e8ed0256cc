/* test_rlanswer.c: the shared-limit script's answer (rlanswer.h): what the
 * script writes is read back exactly; anything else (a sign, a leading
 * zero, an overflow, a missing or extra number, a refusing cell out of
 * range, stray bytes, an empty line) is refused, and the cursor always
 * moves past the line, so one bad line never shifts the next one's answer
 * onto another request. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "rlanswer.h"

static int
one(const char *s, size_t n, struct rlanswer_cell *cells)
{
	size_t pos = 0;
	int rc = rlanswer_next(s, strlen(s), &pos, n, cells);

	CU_ASSERT_EQUAL(pos, strlen(s));
	return rc;
}

static void
test_allowed(void)
{
	struct rlanswer_cell c[3];

	CU_ASSERT_EQUAL(one("1 100000 9", 1, c), 0);
	CU_ASSERT(c[0].ok);
	CU_ASSERT_EQUAL(c[0].wait_us, 100000);
	CU_ASSERT_EQUAL(c[0].remaining, 9);
	CU_ASSERT_EQUAL(one("1 0 0 18446744073709551615 4294967295 7 1", 3, c), 0);
	CU_ASSERT(c[0].ok && c[1].ok && c[2].ok);
	CU_ASSERT_EQUAL(c[1].wait_us, UINT64_MAX);
	CU_ASSERT_EQUAL(c[1].remaining, UINT32_MAX);
	CU_ASSERT_EQUAL(c[2].wait_us, 7);
	CU_ASSERT_EQUAL(c[2].remaining, 1);
}

static void
test_refused(void)
{
	struct rlanswer_cell c[3];

	CU_ASSERT_EQUAL(one("0 2 3600000000", 3, c), 0);
	CU_ASSERT(c[0].ok && !c[1].ok && c[2].ok);
	CU_ASSERT_EQUAL(c[1].wait_us, 3600000000ULL);
	CU_ASSERT_EQUAL(one("0 1 0", 1, c), 0);
	CU_ASSERT(!c[0].ok);
	/* The refusing cell: 1 to n. */
	CU_ASSERT_EQUAL(one("0 0 5", 3, c), -1);
	CU_ASSERT_EQUAL(one("0 4 5", 3, c), -1);
	CU_ASSERT_EQUAL(one("0 18446744073709551617 5", 3, c), -1);
}

static void
test_hostile(void)
{
	static const char *bad[] = {
		"", "1", "1 5", "1 5 1 2", "1 5 1 ", " 1 5 1", "1  5 1", "1 5  1",
		"2 5 1", "10 5 1", "01 5 1", "1 05 1", "1 -5 1", "1 +5 1", "1 5 -1",
		"1 18446744073709551616 1", "1 5 4294967296", "1 99999999999999999999 1",
		"1 5 1\r", "1 5 1 x", "1 5.0 1", "1 5e3 1", "1 0x5 1", "0 1", "0 1 2 3",
		"0 1 -2", "0 a 2", "1\t5 1",
	};
	struct rlanswer_cell c[1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(one(bad[i], 1, c), -1);
	/* An embedded NUL is a stray byte. */
	{
		const char s[] = "1 5 1\0";
		size_t pos = 0;

		CU_ASSERT_EQUAL(rlanswer_next(s, sizeof(s) - 1, &pos, 1, c), -1);
		CU_ASSERT_EQUAL(pos, sizeof(s) - 1);
	}
	/* n 0: never an answer. */
	CU_ASSERT_EQUAL(one("1", 0, c), -1);
}

static void
test_lines(void)
{
	const char *s = "1 5 1\n0 1 7\nbogus\n1 9 0 8 2";
	struct rlanswer_cell c[2];
	size_t pos = 0, len = strlen(s);

	CU_ASSERT_EQUAL(rlanswer_lines(s, len), 4);
	CU_ASSERT_EQUAL(rlanswer_lines("", 0), 1);
	CU_ASSERT_EQUAL(rlanswer_lines("\n", 1), 2);
	CU_ASSERT_EQUAL(rlanswer_next(s, len, &pos, 1, c), 0);
	CU_ASSERT(c[0].ok && c[0].wait_us == 5);
	CU_ASSERT_EQUAL(rlanswer_next(s, len, &pos, 1, c), 0);
	CU_ASSERT(!c[0].ok && c[0].wait_us == 7);
	/* A bad line is skipped whole: the next one is still the next one. */
	CU_ASSERT_EQUAL(rlanswer_next(s, len, &pos, 1, c), -1);
	CU_ASSERT_EQUAL(rlanswer_next(s, len, &pos, 2, c), 0);
	CU_ASSERT(c[1].ok && c[1].wait_us == 8 && c[1].remaining == 2);
	CU_ASSERT_EQUAL(pos, len);
	/* Past the end: no answer, and the cursor stays. */
	CU_ASSERT_EQUAL(rlanswer_next(s, len, &pos, 1, c), -1);
	CU_ASSERT_EQUAL(pos, len);
	/* A line with the wrong number of cells for its request. */
	pos = 0;
	CU_ASSERT_EQUAL(rlanswer_next("1 5 1 6 2\n1 5 1", 15, &pos, 1, c), -1);
	CU_ASSERT_EQUAL(pos, 10);
	CU_ASSERT_EQUAL(rlanswer_next("1 5 1 6 2\n1 5 1", 15, &pos, 2, c), -1);
	CU_ASSERT_EQUAL(pos, 15);
	/* An empty last line ("...\n"). */
	pos = 0;
	CU_ASSERT_EQUAL(rlanswer_next("1 5 1\n", 6, &pos, 1, c), 0);
	CU_ASSERT_EQUAL(pos, 6);
	CU_ASSERT_EQUAL(rlanswer_next("1 5 1\n", 6, &pos, 1, c), -1);
}

int
main(void)
{
	CU_pSuite s;
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("rlanswer", NULL, NULL);
	CU_add_test(s, "allowed", test_allowed);
	CU_add_test(s, "refused", test_refused);
	CU_add_test(s, "hostile", test_hostile);
	CU_add_test(s, "lines", test_lines);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
