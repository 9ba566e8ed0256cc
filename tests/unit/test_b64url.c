/* test_b64url.c: strict base64url against RFC 4648 vectors and every
 * rejection (padding, other alphabets, whitespace, bad lengths,
 * non-canonical trailing bits). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "b64url.h"

static ssize_t
dec(const char *s, unsigned char *out, size_t cap)
{
	return b64url_decode(s, strlen(s), out, cap);
}

static void
test_rfc4648_vectors(void)
{
	/* RFC 4648 section 10, without padding. */
	static const char *plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *enc[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	unsigned char buf[16];
	char out[16];

	for (size_t i = 0; i < 7; i++) {
		ssize_t n = dec(enc[i], buf, sizeof(buf));
		CU_ASSERT_EQUAL(n, (ssize_t)strlen(plain[i]));
		CU_ASSERT(n >= 0 && memcmp(buf, plain[i], (size_t)n) == 0);
		CU_ASSERT_EQUAL(b64url_encode(plain[i], strlen(plain[i]), out), strlen(enc[i]));
		CU_ASSERT_STRING_EQUAL(out, enc[i]);
		CU_ASSERT_EQUAL(B64URL_ENCODED_LEN(strlen(plain[i])), strlen(enc[i]));
	}
}

static void
test_url_alphabet(void)
{
	static const unsigned char raw[] = { 0xfb, 0xff, 0xbf };
	unsigned char buf[8];
	char out[8];

	b64url_encode(raw, 3, out);
	CU_ASSERT_STRING_EQUAL(out, "-_-_");
	CU_ASSERT_EQUAL(dec("-_-_", buf, sizeof(buf)), 3);
	CU_ASSERT(memcmp(buf, raw, 3) == 0);
	/* Standard alphabet characters are refused. */
	CU_ASSERT_EQUAL(dec("+/+/", buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(dec("-_+_", buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(dec("-_/_", buf, sizeof(buf)), -1);
}

static void
test_rejections(void)
{
	unsigned char buf[32];

	CU_ASSERT_EQUAL(dec("Zg==", buf, sizeof(buf)), -1);	/* padding */
	CU_ASSERT_EQUAL(dec("Zm8=", buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(dec("Zm9v ", buf, sizeof(buf)), -1);	/* whitespace */
	CU_ASSERT_EQUAL(dec("Zm 9v", buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(dec("Zm9v\n", buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(dec("Zm9\tv", buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(dec("Z", buf, sizeof(buf)), -1);	/* len % 4 == 1 */
	CU_ASSERT_EQUAL(dec("Zm9vY", buf, sizeof(buf)), -1);
	/* Non-zero unused bits: "Zg" is canonical for "f", "Zh" is not; "Zm8"
	 * is canonical for "fo", "Zm9" and "Zm-" are not. */
	CU_ASSERT_EQUAL(dec("Zh", buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(dec("Zm8", buf, sizeof(buf)), 2);
	CU_ASSERT_EQUAL(dec("Zm9", buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(dec("Zm-", buf, sizeof(buf)), -1);
	CU_ASSERT_EQUAL(dec("Zm9vYmF", buf, sizeof(buf)), -1);
	/* NUL inside the given length. */
	CU_ASSERT_EQUAL(b64url_decode("Zm\0v", 4, buf, sizeof(buf)), -1);
	/* Output too small. */
	CU_ASSERT_EQUAL(dec("Zm9vYmFy", buf, 5), -1);
	CU_ASSERT_EQUAL(dec("Zm9vYmFy", buf, 6), 6);
}

static void
test_roundtrip(void)
{
	unsigned char in[300], back[300];
	char enc[420];
	size_t elen, dlen;
	unsigned char *d;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len < sizeof(in); len++) {
		elen = b64url_encode(in, len, enc);
		CU_ASSERT_EQUAL(elen, B64URL_ENCODED_LEN(len));
		CU_ASSERT(strchr(enc, '=') == NULL);
		CU_ASSERT_EQUAL(b64url_decode(enc, elen, back, sizeof(back)), (ssize_t)len);
		CU_ASSERT(memcmp(in, back, len) == 0);
	}
	d = b64url_decode_alloc("Zm9vYmE", 7, &dlen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(dlen, 5);
	CU_ASSERT_STRING_EQUAL((char *)d, "fooba");
	free(d);
	CU_ASSERT_PTR_NULL(b64url_decode_alloc("Zm9vYmE=", 8, &dlen));
	char *e = b64url_encode_alloc("foob", 4);
	CU_ASSERT_STRING_EQUAL(e, "Zm9vYg");
	free(e);
}

int
main(void)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("b64url", NULL, NULL);
	CU_add_test(s, "RFC 4648 vectors", test_rfc4648_vectors);
	CU_add_test(s, "URL alphabet only", test_url_alphabet);
	CU_add_test(s, "strict rejections", test_rejections);
	CU_add_test(s, "round trip", test_roundtrip);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
