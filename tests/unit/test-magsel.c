/*
 * test-magsel: lib/magsel.c against qsort on random and adversarial keys (all equal, a few
 * distinct values, zeros, denormals, the extremes), its counts below and equal, the guessed
 * range and the collect passes against a naive filter (with and without room), and the
 * streaming radix select over pieces against a sort.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "magsel.h"
#include "rng.h"
#include "tap.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The rank-th smallest of keys by sorting a copy, with the numbers below and equal to it. */
static uint32_t sorted_rank(const uint32_t *keys, int64_t n, int64_t rank, int64_t *less, int64_t *equal)
{
	uint32_t *s = malloc((size_t)n * sizeof(*s)), key;

	memcpy(s, keys, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_u32);
	key = s[rank - 1];
	*less = *equal = 0;
	for (int64_t i = 0; i < n; i++) {
		*less += s[i] < key;
		*equal += s[i] == key;
	}
	free(s);
	return key;
}

/* xf_magsel_select at several ranks (first, last, middle, random) agrees with the sort. */
static int select_agrees(const uint32_t *keys, int64_t n, struct xf_rng *r)
{
	int64_t ranks[6] = { 1, n, (n + 1) / 2, (int64_t)(0.8 * (double)n) + 1, 0, 0 };
	uint32_t *work = malloc((size_t)n * sizeof(*work));
	int good = 1;

	ranks[4] = 1 + (int64_t)xf_rng_below(r, (uint64_t)n);
	ranks[5] = 1 + (int64_t)xf_rng_below(r, (uint64_t)n);
	for (int k = 0; k < 6; k++) {
		int64_t rank = ranks[k] > n ? n : ranks[k], less, equal, want_less, want_equal;
		uint32_t want = sorted_rank(keys, n, rank, &want_less, &want_equal), got;

		memcpy(work, keys, (size_t)n * sizeof(*work));
		got = xf_magsel_select(work, n, rank, &less, &equal);
		if (got != want || less != want_less || equal != want_equal) {
			printf("# n %lld rank %lld: got %u (%lld below, %lld equal), want %u (%lld, %lld)\n", (long long)n,
			       (long long)rank, got, (long long)less, (long long)equal, want, (long long)want_less,
			       (long long)want_equal);
			good = 0;
		}
	}
	free(work);
	return good;
}

enum pattern { RANDOM, MAGNITUDES, ALL_EQUAL, FEW_VALUES, ZEROS, DENORMALS, EXTREMES, SORTED, REVERSED };

static const char *const pattern_names[] = { "random", "normal magnitudes", "all equal", "5 distinct values",
					     "90% zeros", "denormals", "0 and UINT32_MAX", "sorted", "reversed" };

static uint32_t pattern_key(enum pattern p, int64_t i, int64_t n, struct xf_rng *r)
{
	switch (p) {
	case RANDOM: return (uint32_t)xf_rng_next(r);
	case MAGNITUDES: return xf_magsel_key((float)xf_rng_normal(r) * 1e-3f);
	case ALL_EQUAL: return 0x3a83126fu;
	case FEW_VALUES: return 0x3f800000u + (uint32_t)xf_rng_below(r, 5);
	case ZEROS: return xf_rng_uniform(r) < 0.9 ? 0 : xf_magsel_key((float)xf_rng_normal(r));
	case DENORMALS: return (uint32_t)xf_rng_below(r, 0x800000);
	case EXTREMES: return xf_rng_uniform(r) < 0.5 ? 0 : UINT32_MAX;
	case SORTED: return (uint32_t)(i * 7);
	case REVERSED: return (uint32_t)((n - i) * 3);
	}
	return 0;
}

static void test_select(void)
{
	const int64_t sizes[] = { 1, 2, 31, 33, 1000, 100003 };
	struct xf_rng r;

	xf_rng_init(&r, 42, 0);
	for (int p = RANDOM; p <= REVERSED; p++) {
		int good = 1;

		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			int64_t n = sizes[s];
			uint32_t *keys = malloc((size_t)n * sizeof(*keys));

			for (int64_t i = 0; i < n; i++)
				keys[i] = pattern_key((enum pattern)p, i, n, &r);
			good &= select_agrees(keys, n, &r);
			free(keys);
		}
		ok(good, "select = qsort on %s keys, sizes 1 to 100003, 6 ranks each", pattern_names[p]);
	}
}

static void test_keys(void)
{
	ok(xf_magsel_key(-2.0f) == xf_magsel_key(2.0f) && xf_magsel_key(-0.0f) == 0, "key ignores the sign");
	ok(xf_magsel_key(1e-45f) < xf_magsel_key(1.2e-38f) && xf_magsel_key(1.2e-38f) < xf_magsel_key(1.0f) &&
	   xf_magsel_key(1.0f) < xf_magsel_key(INFINITY), "keys order like magnitudes (denormal, normal, inf)");
	ok(xf_magsel_value(xf_magsel_key(-0.25f)) == 0.25f, "value inverts key");
}

/* collect against a naive filter, with room for everything and with too little room. */
static void test_collect(void)
{
	int64_t n = 5000, naive_in = 0, naive_below = 0;
	uint32_t *keys = malloc((size_t)n * 4), *buf = malloc((size_t)n * 4), *want = malloc((size_t)n * 4);
	float *b = malloc((size_t)n * 4), *x = malloc((size_t)n * 4);
	uint32_t lo = xf_magsel_key(0.5f), hi = xf_magsel_key(0.75f);
	struct xf_rng r;
	int64_t below = 0, got;

	xf_rng_init(&r, 7, 0);
	for (int64_t i = 0; i < n; i++) {
		b[i] = (float)xf_rng_normal(&r);
		x[i] = b[i] + (i % 97 == 0 ? 0.5f : (float)xf_rng_normal(&r) * 0.6f);
		keys[i] = xf_magsel_key(x[i] - b[i]);
		naive_below += keys[i] < lo;
		if (keys[i] >= lo && keys[i] <= hi)
			want[naive_in++] = keys[i];
	}
	got = xf_magsel_collect(keys, n, lo, hi, buf, n, &below);
	ok(got == naive_in && below == naive_below && !memcmp(buf, want, (size_t)got * 4),
	   "collect: %lld of %lld in range, in order, below counted", (long long)got, (long long)n);
	below = 0;
	got = xf_magsel_collect_diff(b, x, n, lo, hi, buf, n, &below);
	ok(got == naive_in && below == naive_below && !memcmp(buf, want, (size_t)got * 4),
	   "collect_diff: the same from x - b");
	below = 0;
	got = xf_magsel_collect_diff_portable(b, x, n, lo, hi, buf, n, &below);
	ok(got == naive_in && below == naive_below && !memcmp(buf, want, (size_t)got * 4),
	   "collect_diff, portable code: the same");
	for (int portable = 0; portable < 2; portable++) {
		for (int64_t cap = 0; cap < naive_in; cap += naive_in / 7 + 1) {
			int64_t fill = cap + 1;

			below = 0;
			memset(buf, 0xff, (size_t)n * 4);
			got = (portable ? xf_magsel_collect_diff_portable : xf_magsel_collect_diff)(b, x, n, lo, hi, buf,
												    cap, &below);
			for (int64_t i = cap; i < n && fill == cap + 1; i++)
				fill = buf[i] == UINT32_MAX ? fill : i;
			if (!ok(got == naive_in && below == naive_below && !memcmp(buf, want, (size_t)cap * 4) &&
				fill == cap + 1, "collect_diff%s with room for %lld: counts all, writes only cap",
				portable ? " (portable)" : "", (long long)cap))
				break;
		}
	}
	below = 0;
	got = xf_magsel_collect_diff(b, x, 13, 0, UINT32_MAX, buf, 13, &below);
	ok(got == 13 && below == 0 && !memcmp(buf, keys, 13 * 4), "collect_diff of a short run, full range");
	free(keys);
	free(buf);
	free(want);
	free(b);
	free(x);
}

/* The guessed range holds the wanted rank nearly always and is a few per cent of the keys. */
static void test_guess(void)
{
	int64_t n = 1 << 20, s = 16384, rank = n - n / 5, hits = 0, trials = 40;
	uint32_t *keys = malloc((size_t)n * 4), *sample = malloc((size_t)s * 4), *tmp = malloc((size_t)s * 4);
	double frac = 0, widest = 0;
	struct xf_rng r;

	xf_rng_init(&r, 3, 0);
	for (int64_t i = 0; i < n; i++)
		keys[i] = xf_magsel_key((float)xf_rng_normal(&r));
	for (int t = 0; t < trials; t++) {
		uint32_t lo, hi;
		int64_t below = 0, inside;

		for (int64_t i = 0; i < s; i++)
			sample[i] = keys[xf_rng_below(&r, (uint64_t)n)];
		frac = xf_magsel_guess(sample, tmp, s, n, rank, &lo, &hi);
		inside = xf_magsel_collect(keys, n, lo, hi, NULL, 0, &below);
		hits += rank > below && rank <= below + inside;
		widest = (double)inside / (double)n > widest ? (double)inside / (double)n : widest;
	}
	ok(hits == trials, "guess: the range held the 80%% rank in %lld of %lld samples", (long long)hits,
	   (long long)trials);
	ok(widest < 0.04 && frac < 0.04, "guess: ranges are narrow (widest %.4f of the keys, expected %.4f)", widest,
	   frac);
	free(keys);
	free(sample);
	free(tmp);
}

/* The two-pass radix select over keys fed in uneven pieces agrees with a sort. */
static void test_radix(void)
{
	int64_t n = 200000;
	uint32_t *keys = malloc((size_t)n * 4);
	uint64_t *hist = malloc((size_t)XF_MAGSEL_HIGH * 8);
	struct xf_rng r;
	int good = 1;

	xf_rng_init(&r, 11, 0);
	for (int p = MAGNITUDES; p <= DENORMALS; p++) {
		for (int64_t i = 0; i < n; i++)
			keys[i] = pattern_key((enum pattern)p, i, n, &r);
		for (int k = 0; k < 4; k++) {
			struct xf_magsel_radix rs = { 0 };
			int64_t less, equal;
			uint32_t want;

			rs.rank = k == 0 ? 1 : k == 1 ? n : 1 + (int64_t)xf_rng_below(&r, (uint64_t)n);
			want = sorted_rank(keys, n, rs.rank, &less, &equal);
			memset(hist, 0, (size_t)XF_MAGSEL_HIGH * 8);
			for (int64_t i = 0; i < n; i += 777)
				xf_magsel_hist_high(hist, keys + i, n - i < 777 ? n - i : 777);
			good &= xf_magsel_radix_high(&rs, hist) == 0;
			memset(hist, 0, (size_t)XF_MAGSEL_LOW * 8);
			for (int64_t i = 0; i < n; i += 1000)
				xf_magsel_hist_low(hist, keys + i, n - i < 1000 ? n - i : 1000, rs.bucket);
			good &= xf_magsel_radix_low(&rs, hist) == 0 && rs.key == want && rs.n_less == less &&
				rs.n_equal == equal;
		}
	}
	ok(good, "radix select over pieces = qsort (normal, all equal, few values, zeros, denormals)");
	memset(hist, 0, (size_t)XF_MAGSEL_HIGH * 8);
	xf_magsel_hist_high(hist, keys, 10);
	ok(xf_magsel_radix_high(&(struct xf_magsel_radix){ .rank = 11 }, hist) < 0, "radix: a rank beyond the keys fails");
	free(keys);
	free(hist);
}

int main(void)
{
	test_keys();
	test_select();
	test_collect();
	test_guess();
	test_radix();
	return done_testing();
}
