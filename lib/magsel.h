/*
 * magsel: exact k-th smallest magnitude, without sorting (merge's TIES trim,
 * ../shared/docs/merge.md §3).
 * The IEEE-754 bit pattern of a float with its sign bit cleared, read as an unsigned integer,
 * orders like |x|, so everything here works on uint32 keys:
 *  - xf_magsel_select: in memory, MSD radix select (O(n), at most three digit passes);
 *  - xf_magsel_guess + xf_magsel_collect: one streaming pass that counts the keys below a
 *    range guessed from a sample and keeps the few inside it;
 *  - the radix histograms: two streaming passes in O(2^16) memory, for data that is never in
 *    memory at once (a whole model).
 * All functions are pure: no allocation, no global state.
 */
#ifndef XF_MAGSEL_H
#define XF_MAGSEL_H

#include <stdint.h>
#include <string.h>

#define XF_MAGSEL_HIGH ((int64_t)1 << 16) /* buckets of the first radix pass: key >> 15 */
#define XF_MAGSEL_LOW ((int64_t)1 << 15)  /* buckets of the second pass: key & 0x7fff in one high bucket */

/* The key of |x|: its bit pattern without the sign; NaN orders above +inf. */
static inline uint32_t xf_magsel_key(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof(u));
	return u & 0x7fffffffu;
}

/* The magnitude whose key is `key`. */
static inline float xf_magsel_value(uint32_t key)
{
	float x;

	memcpy(&x, &key, sizeof(x));
	return x;
}

/*
 * The rank-th smallest (1-based, 1 <= rank <= n) of keys[0..n), and how many keys are below
 * it and equal to it (either pointer may be NULL). keys is clobbered (the search compacts it
 * in place). Any uint32 keys work, not only magnitudes.
 */
uint32_t xf_magsel_select(uint32_t *keys, int64_t n, int64_t rank, int64_t *n_less, int64_t *n_equal);

/* Keys of keys[0..n) below `key` and equal to it (one pass). */
void xf_magsel_count(const uint32_t *keys, int64_t n, uint32_t key, int64_t *n_less, int64_t *n_equal);

/*
 * A range [*lo, *hi] that holds the rank-th smallest of n keys with high probability (about
 * 4 standard deviations either side), from a random sample of them: sample[0..s), with
 * tmp[0..s) as scratch. An open end becomes 0 or UINT32_MAX. Returns the fraction of the
 * sample inside the range (what to expect of the n keys).
 */
double xf_magsel_guess(const uint32_t *sample, uint32_t *tmp, int64_t s, int64_t n, int64_t rank, uint32_t *lo,
		       uint32_t *hi);

/*
 * Adds to *below the keys < lo, and copies those in [lo, hi] to buf while fewer than cap are
 * there, in order. Returns the number in [lo, hi] (which may exceed cap).
 */
int64_t xf_magsel_collect(const uint32_t *keys, int64_t n, uint32_t lo, uint32_t hi, uint32_t *buf, int64_t cap,
			  int64_t *below);

/*
 * The same over the keys of |x[j] - b[j]| (the difference taken in float32) for j < n, without
 * storing them. Uses AVX-512 compress where the CPU has it (about 0.1 ns a key).
 */
int64_t xf_magsel_collect_diff(const float *b, const float *x, int64_t n, uint32_t lo, uint32_t hi, uint32_t *buf,
			       int64_t cap, int64_t *below);
/* The same without SIMD intrinsics (what other CPUs run; for the tests). */
int64_t xf_magsel_collect_diff_portable(const float *b, const float *x, int64_t n, uint32_t lo, uint32_t hi,
					uint32_t *buf, int64_t cap, int64_t *below);

/*
 * Streaming radix select over keys seen in any number of pieces, in any order:
 * pass 0 adds every key to a XF_MAGSEL_HIGH histogram (xf_magsel_hist_high), then
 * xf_magsel_radix_high finds the bucket of the rank; pass 1 adds the keys of that bucket to a
 * XF_MAGSEL_LOW histogram (xf_magsel_hist_low), then xf_magsel_radix_low gives the key and the
 * numbers below and equal to it. Counts are exact, so pieces may be counted by different
 * threads into different histograms and summed.
 */
struct xf_magsel_radix {
	int64_t rank;     /* wanted, 1-based among all keys; set by the caller */
	uint32_t bucket;  /* after pass 0: the high bucket of the answer */
	int64_t below;    /* after pass 0: keys in lower high buckets */
	uint32_t key;     /* after pass 1: the answer */
	int64_t n_less;   /* after pass 1: keys below the answer */
	int64_t n_equal;  /* after pass 1: keys equal to it */
};

/* Keys must be magnitude keys (below 2^31). */
void xf_magsel_hist_high(uint64_t *hist, const uint32_t *keys, int64_t n);
void xf_magsel_hist_low(uint64_t *hist, const uint32_t *keys, int64_t n, uint32_t bucket);
/* Both return -1 if the histogram holds fewer than rank keys, else 0. */
int xf_magsel_radix_high(struct xf_magsel_radix *r, const uint64_t *hist);
int xf_magsel_radix_low(struct xf_magsel_radix *r, const uint64_t *hist);

#endif
