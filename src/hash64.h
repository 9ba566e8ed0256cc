/* hash64.h: a fast 64-bit hash of a byte string, eight bytes at a time
 * (multiply-rotate mixing of each little-endian word, the tail
 * zero-padded, the length folded in, then the MurmurHash3 finalizer so
 * that any bits of the result can pick a bucket). Not a PRF: tables keyed
 * by attacker-chosen strings give it a secret random seed and bound their
 * chains. */
#ifndef SCOPEGATE_HASH64_H
#define SCOPEGATE_HASH64_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t
hash64(uint64_t seed, const char *s, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = seed ^ ((uint64_t)len * k), w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ (w * k)) * 0xff51afd7ed558ccdULL;
		h = (h << 31) | (h >> 33);
	}
	if (i < len) {
		w = 0;
		memcpy(&w, s + i, len - i);
		h = (h ^ (w * k)) * 0xff51afd7ed558ccdULL;
	}
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

#endif
