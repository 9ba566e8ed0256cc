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

/* The value of c in the base64url alphabet, or -1: the reference the
 * decoder's tables are checked against. */
static int
ref_value(unsigned char c)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *p = c != '\0' ? strchr(alpha, c) : NULL;

	return p != NULL ? (int)(p - alpha) : -1;
}

/* Every byte value at every position of a full quartet, in the first and
 * in a later quartet: refused unless it is in the alphabet, and when it
 * is, its six bits land exactly where they belong. */
static void
test_every_byte_every_position(void)
{
	char s[12];
	unsigned char buf[16];

	for (size_t pos = 0; pos < 8; pos++) {
		for (unsigned c = 0; c < 256; c++) {
			int v = ref_value((unsigned char)c);
			ssize_t n;

			memcpy(s, "AAAAAAAA", 8);
			s[pos] = (char)c;
			n = b64url_decode(s, 8, buf, sizeof(buf));
			if (v < 0) {
				CU_ASSERT_EQUAL(n, -1);
				continue;
			}
			CU_ASSERT_EQUAL_FATAL(n, 6);
			/* The 48 bits are zero but the six of position pos. */
			unsigned long long bits = 0;
			for (size_t i = 0; i < 6; i++)
				bits = bits << 8 | buf[i];
			CU_ASSERT_EQUAL(bits, (unsigned long long)v << (6 * (7 - pos)));
		}
	}
}

/* Every byte value as each character of a 2- and 3-character tail (after
 * a full quartet): refused unless in the alphabet, and as the last one
 * refused too when its unused low bits are not zero. */
static void
test_every_byte_in_tail(void)
{
	char s[8];
	unsigned char buf[16];

	for (size_t tail = 2; tail <= 3; tail++) {
		for (size_t pos = 0; pos < tail; pos++) {
			for (unsigned c = 0; c < 256; c++) {
				int v = ref_value((unsigned char)c);
				int ok = v >= 0;
				ssize_t n;

				memcpy(s, "QUJDAAA", 7);
				s[4 + pos] = (char)c;
				if (ok && pos == tail - 1)
					ok = (v & (tail == 2 ? 0x0f : 0x03)) == 0;
				n = b64url_decode(s, 4 + tail, buf, sizeof(buf));
				if (!ok) {
					CU_ASSERT_EQUAL(n, -1);
					continue;
				}
				CU_ASSERT_EQUAL_FATAL(n, (ssize_t)(3 + tail - 1));
				CU_ASSERT(memcmp(buf, "ABC", 3) == 0);
				unsigned bits = 0;
				for (size_t i = 3; i < (size_t)n; i++)
					bits = bits << 8 | buf[i];
				/* v's six bits at their place in the 12 or 18 bits
				 * of the tail, the unused low ones dropped. */
				unsigned want = ((unsigned)v << (6 * (tail - 1 - pos))) >>
				    (tail == 2 ? 4 : 2);
				CU_ASSERT_EQUAL(bits, want);
			}
		}
	}
}

/* A bad character only in the last quartet, or only in the tail, of a
 * long input is still seen (the verdict is taken once, at the end). */
static void
test_bad_char_late(void)
{
	char s[402];
	unsigned char buf[400];

	memset(s, 'A', sizeof(s));
	CU_ASSERT_EQUAL(b64url_decode(s, 400, buf, sizeof(buf)), 300);
	CU_ASSERT_EQUAL(b64url_decode(s, 402, buf, sizeof(buf)), 301);
	s[399] = '=';
	CU_ASSERT_EQUAL(b64url_decode(s, 400, buf, sizeof(buf)), -1);
	s[399] = 'A';
	s[401] = '.';
	CU_ASSERT_EQUAL(b64url_decode(s, 402, buf, sizeof(buf)), -1);
	s[401] = 'A';
	s[0] = (char)0xff;
	CU_ASSERT_EQUAL(b64url_decode(s, 402, buf, sizeof(buf)), -1);
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
	CU_add_test(s, "every byte at every position", test_every_byte_every_position);
	CU_add_test(s, "every byte in a tail", test_every_byte_in_tail);
	CU_add_test(s, "a bad character late", test_bad_char_late);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails != 0;
}
