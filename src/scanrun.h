/* scanrun.h: how many bytes at p (at most n) belong to one class, for the
 * raw HTTP scanners (reqscan.c, uresp.c), whose hot loops are the runs of
 * a bearer token, a target or a response field value. With SSE2 (every
 * x86-64) sixteen bytes are classified at once; elsewhere, and for what
 * is left, one byte at a time. Both give the same length: test_scanrun
 * holds them to it. Never reads outside p[0..n). */
#ifndef SCOPEGATE_SCANRUN_H
#define SCOPEGATE_SCANRUN_H

#include <stddef.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* RFC 9110 field-vchar, SP, HTAB and obs-text: all but CTLs other than
 * HTAB, and DEL. */
static inline int
scanrun_is_vchar(unsigned char c)
{
	return c >= 0x20 ? c != 0x7f : c == '\t';
}

/* A request target's bytes: visible ASCII and obs-text (no SP, no CTL;
 * what the 8-bit bytes mean is left to canon.c). */
static inline int
scanrun_is_target(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

static inline size_t
scanrun_vchar_bytes(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n && scanrun_is_vchar(p[i]))
		i++;
	return i;
}

static inline size_t
scanrun_target_bytes(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n && scanrun_is_target(p[i]))
		i++;
	return i;
}

#if defined(__SSE2__)
/* The bytes of v that end a run, one bit each: those <= lo but tab, and
 * DEL. With lo = 0x1f and tab = HTAB: the CTLs but HTAB (vchar); with
 * lo = 0x20 and tab = DEL (above lo, so no byte is let back in): the CTLs
 * and SP (target). Unsigned <= lo is min(v, lo) == v. */
static inline unsigned
scanrun_stop_mask(__m128i v, __m128i lo, __m128i tab, __m128i del)
{
	__m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, lo), v);

	low = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), low);
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(low, _mm_cmpeq_epi8(v, del)));
}

/* n >= 16. */
static inline size_t
scanrun_sse2(const unsigned char *p, size_t n, char lo_c, char tab_c)
{
	const __m128i lo = _mm_set1_epi8(lo_c), tab = _mm_set1_epi8(tab_c);
	const __m128i del = _mm_set1_epi8(0x7f);
	size_t i = 0;
	unsigned m;

	for (; i + 16 <= n; i += 16)
		if ((m = scanrun_stop_mask(_mm_loadu_si128((const __m128i *)(const void *)(p + i)),
		    lo, tab, del)) != 0)
			return i + (size_t)__builtin_ctz(m);
	if (i == n)
		return n;
	/* The last sixteen bytes, overlapping ones already known good. */
	m = scanrun_stop_mask(_mm_loadu_si128((const __m128i *)(const void *)(p + n - 16)), lo,
	    tab, del);
	return m != 0 ? n - 16 + (size_t)__builtin_ctz(m) : n;
}
#endif

static inline size_t
scanrun_vchar(const unsigned char *p, size_t n)
{
#if defined(__SSE2__)
	if (n >= 16)
		return scanrun_sse2(p, n, 0x1f, '\t');
#endif
	return scanrun_vchar_bytes(p, n);
}

static inline size_t
scanrun_target(const unsigned char *p, size_t n)
{
#if defined(__SSE2__)
	if (n >= 16)
		return scanrun_sse2(p, n, 0x20, 0x7f);
#endif
	return scanrun_target_bytes(p, n);
}

#endif
