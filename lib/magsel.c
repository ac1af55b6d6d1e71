/* magsel: exact k-th smallest of uint32 keys (float magnitudes); see magsel.h. */
#include <math.h>
#include <stdbool.h>

#include "magsel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX512_COLLECT 1
#include <immintrin.h>
#endif

#define DIGIT_BITS 11   /* bits per pass of the in-memory select: a 16 KiB histogram on the stack */
#define SMALL 32        /* below this many keys, insertion sort */
#define GROUP 16        /* keys per test in collect: one branch per group, not per key */

/* Insertion sort, then the rank-th key and the numbers below and equal to it. */
static uint32_t small_select(uint32_t *keys, int64_t n, int64_t rank, int64_t *n_less, int64_t *n_equal)
{
	int64_t first, last;

	for (int64_t i = 1; i < n; i++) {
		uint32_t k = keys[i];
		int64_t j = i;

		for (; j > 0 && keys[j - 1] > k; j--)
			keys[j] = keys[j - 1];
		keys[j] = k;
	}
	for (first = rank - 1; first > 0 && keys[first - 1] == keys[rank - 1]; first--)
		;
	for (last = rank; last < n && keys[last] == keys[rank - 1]; last++)
		;
	*n_less += first;
	*n_equal = last - first;
	return keys[rank - 1];
}

/* Bits below the common prefix of all keys: 0 when they are all equal. */
static int spread_bits(const uint32_t *keys, int64_t n)
{
	uint32_t lo = keys[0], hi = keys[0];

	for (int64_t i = 1; i < n; i++) {
		lo = keys[i] < lo ? keys[i] : lo;
		hi = keys[i] > hi ? keys[i] : hi;
	}
	return lo == hi ? 0 : 32 - __builtin_clz(lo ^ hi);
}

/* Keep in keys[0..) only those whose digit at `shift` is `digit`; returns how many. */
static int64_t compact(uint32_t *keys, int64_t n, int shift, uint32_t mask, uint32_t digit)
{
	int64_t w = 0;

	for (int64_t i = 0; i < n; i++) {
		uint32_t k = keys[i];

		keys[w] = k;
		w += ((k >> shift) & mask) == digit;
	}
	return w;
}

/*
 * MSD radix select: each pass histograms the next digit below the common prefix, finds the
 * digit holding the rank and keeps only those keys, so ties and adversarial orders cost the
 * same as anything else (at most ceil(32 / 11) passes plus the spread scan).
 */
uint32_t xf_magsel_select(uint32_t *keys, int64_t n, int64_t rank, int64_t *n_less, int64_t *n_equal)
{
	int shift = spread_bits(keys, n);
	int64_t less = 0, equal = n;
	uint32_t key;

	while (shift > 0 && n > SMALL) {
		int64_t hist[1 << DIGIT_BITS] = { 0 }, before = 0;
		int width = shift < DIGIT_BITS ? shift : DIGIT_BITS;
		uint32_t mask = (1u << width) - 1, digit = 0;

		shift -= width;
		for (int64_t i = 0; i < n; i++)
			hist[(keys[i] >> shift) & mask]++;
		while (before + hist[digit] < rank)
			before += hist[digit++];
		n = compact(keys, n, shift, mask, digit);
		rank -= before;
		less += before;
		equal = n;
	}
	key = shift == 0 ? keys[0] : small_select(keys, n, rank, &less, &equal);
	if (n_less)
		*n_less = less;
	if (n_equal)
		*n_equal = equal;
	return key;
}

void xf_magsel_count(const uint32_t *keys, int64_t n, uint32_t key, int64_t *n_less, int64_t *n_equal)
{
	int64_t less = 0, equal = 0;

	for (int64_t i = 0; i < n; i++) {
		less += keys[i] < key;
		equal += keys[i] == key;
	}
	*n_less = less;
	*n_equal = equal;
}

/* The (i+1)-th smallest of sample[0..s), from a copy in tmp. */
static uint32_t order_stat(const uint32_t *sample, uint32_t *tmp, int64_t s, int64_t i)
{
	memcpy(tmp, sample, (size_t)s * sizeof(*tmp));
	return xf_magsel_select(tmp, s, i + 1, NULL, NULL);
}

/*
 * The sample rank of the answer is binomial(s, p) around p s; 4 standard deviations plus a
 * few keys either side miss it with probability about 1e-4, and a miss costs only speed.
 */
double xf_magsel_guess(const uint32_t *sample, uint32_t *tmp, int64_t s, int64_t n, int64_t rank, uint32_t *lo,
		       uint32_t *hi)
{
	double p = ((double)rank - 0.5) / (double)n, centre = p * (double)s;
	double margin = 4.0 * sqrt((double)s * p * (1.0 - p)) + 4.0;
	double a = floor(centre - margin), b = ceil(centre + margin);
	int64_t inside = 0;

	*lo = a < 0 ? 0 : order_stat(sample, tmp, s, (int64_t)a);
	*hi = b >= (double)s ? UINT32_MAX : order_stat(sample, tmp, s, (int64_t)b);
	for (int64_t i = 0; i < s; i++)         /* counted, not b - a: ties can widen the range a lot */
		inside += sample[i] - *lo <= *hi - *lo;
	return (double)inside / (double)s;
}

/* One group of up to GROUP keys of which some are in range: store while there is room. */
static int64_t collect_group(const uint32_t *keys, int64_t m, uint32_t lo, uint32_t width, uint32_t *buf,
			     int64_t cap, int64_t inside)
{
	for (int64_t i = 0; i < m; i++) {
		uint32_t k = keys[i];

		if (k - lo <= width) {
			if (inside < cap)
				buf[inside] = k;
			inside++;
		}
	}
	return inside;
}

int64_t xf_magsel_collect(const uint32_t *keys, int64_t n, uint32_t lo, uint32_t hi, uint32_t *buf, int64_t cap,
			  int64_t *below)
{
	uint32_t width = hi - lo;
	int64_t inside = 0, nb = 0;

	for (int64_t j = 0; j < n; j += GROUP) {
		int64_t m = n - j < GROUP ? n - j : GROUP;
		int hits = 0;

		for (int64_t i = 0; i < m; i++) {
			nb += keys[j + i] < lo;
			hits += keys[j + i] - lo <= width;
		}
		if (hits)
			inside = collect_group(keys + j, m, lo, width, buf, cap, inside);
	}
	*below += nb;
	return inside;
}

/* Portable collect_diff: groups of GROUP keys, a branch per group, branch-free copying inside one. */
static int64_t collect_diff_groups(const float *restrict b, const float *restrict x, int64_t n, uint32_t lo,
				   uint32_t width, uint32_t *restrict buf, int64_t cap, int64_t *below)
{
	int64_t inside = 0, nb = 0, j = 0;

	for (; j + GROUP <= n; j += GROUP) {
		uint32_t keys[GROUP];
		int hits = 0;

		for (int i = 0; i < GROUP; i++) {
			keys[i] = xf_magsel_key(x[j + i] - b[j + i]);
			nb += keys[i] < lo;
			hits |= keys[i] - lo <= width;
		}
		if (!hits)
			continue;
		if (inside + GROUP <= cap) {
			for (int i = 0; i < GROUP; i++) {
				buf[inside] = keys[i];
				inside += keys[i] - lo <= width;
			}
		} else {
			inside = collect_group(keys, GROUP, lo, width, buf, cap, inside);
		}
	}
	for (; j < n; j++) {
		uint32_t k = xf_magsel_key(x[j] - b[j]);

		nb += k < lo;
		inside = collect_group(&k, 1, lo, width, buf, cap, inside);
	}
	*below += nb;
	return inside;
}

#ifdef HAVE_AVX512_COLLECT
/*
 * 16 keys at a time: compare into masks, compress the ones in range to the front of a register
 * and store all 16 lanes (a compress straight to memory is slow on some CPUs), so it needs 16
 * spare slots; near cap and for the tail the portable code takes over. No branch on whether
 * any key is in range: mispredicting it would stall the stream from memory.
 */
__attribute__((target("avx512f")))
static int64_t collect_diff_avx512(const float *b, const float *x, int64_t n, uint32_t lo, uint32_t width,
				   uint32_t *buf, int64_t cap, int64_t *below)
{
	__m512i vlo = _mm512_set1_epi32((int)lo), vwidth = _mm512_set1_epi32((int)width);
	__m512i magnitude = _mm512_set1_epi32(0x7fffffff), count = _mm512_setzero_si512();
	int64_t inside = 0, j = 0;

	for (; j + 16 <= n && inside + 16 <= cap; j += 16) {
		__m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(b + j));
		__m512i k = _mm512_and_si512(_mm512_castps_si512(d), magnitude);
		__mmask16 less = _mm512_cmplt_epu32_mask(k, vlo);
		__mmask16 in = _mm512_cmple_epu32_mask(_mm512_sub_epi32(k, vlo), vwidth);

		count = _mm512_mask_sub_epi32(count, less, count, _mm512_set1_epi32(-1));
		_mm512_storeu_si512(buf + inside, _mm512_maskz_compress_epi32(in, k));
		inside += __builtin_popcount(in);
		if ((j & 0xffff) == 0xfff0) {       /* flush before 32-bit lanes could overflow */
			*below += _mm512_reduce_add_epi32(count);
			count = _mm512_setzero_si512();
		}
	}
	*below += _mm512_reduce_add_epi32(count);
	return inside + collect_diff_groups(b + j, x + j, n - j, lo, width, buf + inside, cap - inside, below);
}

static bool have_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f");
}
#endif

int64_t xf_magsel_collect_diff(const float *b, const float *x, int64_t n, uint32_t lo, uint32_t hi, uint32_t *buf,
			       int64_t cap, int64_t *below)
{
#ifdef HAVE_AVX512_COLLECT
	if (have_avx512())
		return collect_diff_avx512(b, x, n, lo, hi - lo, buf, cap, below);
#endif
	return collect_diff_groups(b, x, n, lo, hi - lo, buf, cap, below);
}

int64_t xf_magsel_collect_diff_portable(const float *b, const float *x, int64_t n, uint32_t lo, uint32_t hi,
					uint32_t *buf, int64_t cap, int64_t *below)
{
	return collect_diff_groups(b, x, n, lo, hi - lo, buf, cap, below);
}

void xf_magsel_hist_high(uint64_t *hist, const uint32_t *keys, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		hist[(keys[i] >> 15) & 0xffff]++;
}

/* Few keys fall in the bucket: test GROUP at a time (vectorised), count one by one only in a group that has some. */
void xf_magsel_hist_low(uint64_t *hist, const uint32_t *keys, int64_t n, uint32_t bucket)
{
	int64_t j = 0;

	for (; j + GROUP <= n; j += GROUP) {
		int hits = 0;

		for (int i = 0; i < GROUP; i++)
			hits |= keys[j + i] >> 15 == bucket;
		for (int i = 0; hits && i < GROUP; i++)
			if (keys[j + i] >> 15 == bucket)
				hist[keys[j + i] & 0x7fff]++;
	}
	for (; j < n; j++)
		if (keys[j] >> 15 == bucket)
			hist[keys[j] & 0x7fff]++;
}

/* The bucket of hist[0..size) that holds the rank-th key; -1 if there are fewer keys. */
static int64_t find_bucket(const uint64_t *hist, int64_t size, int64_t rank, int64_t *before)
{
	int64_t cum = 0;

	for (int64_t b = 0; b < size; b++) {
		if (cum + (int64_t)hist[b] >= rank) {
			*before = cum;
			return b;
		}
		cum += (int64_t)hist[b];
	}
	return -1;
}

int xf_magsel_radix_high(struct xf_magsel_radix *r, const uint64_t *hist)
{
	int64_t b = r->rank < 1 ? -1 : find_bucket(hist, XF_MAGSEL_HIGH, r->rank, &r->below);

	if (b < 0)
		return -1;
	r->bucket = (uint32_t)b;
	return 0;
}

int xf_magsel_radix_low(struct xf_magsel_radix *r, const uint64_t *hist)
{
	int64_t before, l = find_bucket(hist, XF_MAGSEL_LOW, r->rank - r->below, &before);

	if (l < 0)
		return -1;
	r->key = r->bucket << 15 | (uint32_t)l;
	r->n_less = r->below + before;
	r->n_equal = (int64_t)hist[l];
	return 0;
}
