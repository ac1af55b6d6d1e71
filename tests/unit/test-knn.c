/*
 * Unit tests for lib/knn.c: xf_knn_exact against a brute-force search (differences, not the
 * GEMM identity; a full sort by distance, then index) on random data of several shapes,
 * including shapes that cross the block and tile boundaries; small-integer data, where every
 * distance is exact, for duplicate rows and ties; independence of the thread count; errors.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "tap.h"

static uint64_t rng_state = 12345;

/* xorshift64*: deterministic data without depending on libc's rand. */
static uint64_t next_u64(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static double uniform(void)
{
	return (double)(next_u64() >> 11) / 9007199254740992.0;
}

/* n x d values: uniform in [-1, 1) plus an offset, or integers 0..levels-1 when levels > 0. */
static double *make_data(int64_t n, int64_t d, int levels, double offset)
{
	double *x = malloc((size_t)(n * d) * sizeof(*x));

	for (int64_t i = 0; i < n * d; i++)
		x[i] = levels > 0 ? (double)(next_u64() % (uint64_t)levels) : offset + 2 * uniform() - 1;
	return x;
}

struct pair { double d; int64_t j; };

static int by_distance_then_index(const void *a, const void *b)
{
	const struct pair *p = a, *q = b;

	if (p->d != q->d)
		return p->d < q->d ? -1 : 1;
	return p->j < q->j ? -1 : p->j > q->j;
}

/* The reference: every other row's squared distance from differences, fully sorted. */
static void brute_force(const double *x, int64_t n, int64_t d, int64_t k, int64_t *idx, double *dist2)
{
	struct pair *all = malloc((size_t)n * sizeof(*all));

	for (int64_t i = 0; i < n; i++) {
		int64_t m = 0;

		for (int64_t j = 0; j < n; j++) {
			double s = 0;

			if (j == i)
				continue;
			for (int64_t t = 0; t < d; t++)
				s += (x[i * d + t] - x[j * d + t]) * (x[i * d + t] - x[j * d + t]);
			all[m++] = (struct pair){ s, j };
		}
		qsort(all, (size_t)m, sizeof(*all), by_distance_then_index);
		for (int64_t t = 0; t < k; t++) {
			idx[i * k + t] = all[t].j;
			dist2[i * k + t] = all[t].d;
		}
	}
	free(all);
}

/*
 * Compare with the brute force: indices exactly, distances to tol relative to the row's
 * scale (0 for exact data). Prints the first mismatch.
 */
static int agrees(const double *x, int64_t n, int64_t d, int64_t k, int threads, double tol)
{
	int64_t *idx = malloc((size_t)(n * k) * sizeof(*idx)), *ref_idx = malloc((size_t)(n * k) * sizeof(*idx));
	double *dist2 = malloc((size_t)(n * k) * sizeof(*dist2)), *ref_d = malloc((size_t)(n * k) * sizeof(*dist2));
	struct xf_err err = XF_ERR_INIT;
	int good = xf_knn_exact(x, n, d, k, threads, idx, dist2, &err) == 0;

	if (!good)
		printf("# %s\n", err.msg);
	brute_force(x, n, d, k, ref_idx, ref_d);
	for (int64_t i = 0; good && i < n * k; i++)
		if (idx[i] != ref_idx[i] || fabs(dist2[i] - ref_d[i]) > tol * fmax(1, ref_d[i])) {
			printf("#   row %lld, neighbour %lld: got %lld at %.17g, want %lld at %.17g\n",
			       (long long)(i / k), (long long)(i % k), (long long)idx[i], dist2[i],
			       (long long)ref_idx[i], ref_d[i]);
			good = 0;
		}
	free(idx);
	free(ref_idx);
	free(dist2);
	free(ref_d);
	return good;
}

static void test_random(void)
{
	static const struct { int64_t n, d, k; double offset; } cases[] = {
		{ 2, 1, 1, 0 }, { 10, 3, 9, 0 }, { 50, 2, 5, 0 }, { 200, 17, 10, 0 }, { 300, 64, 1, 0 },
		{ 257, 5, 30, 0 },      /* one row past a block */
		{ 600, 40, 7, 0 },      /* three blocks, the last partial */
		{ 2100, 3, 12, 0 },     /* two column tiles */
		{ 120, 8, 5, 100 },     /* an offset of 100 */
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double *x = make_data(cases[c].n, cases[c].d, 0, cases[c].offset);

		ok(agrees(x, cases[c].n, cases[c].d, cases[c].k, 2, cases[c].offset ? 1e-9 : 1e-12),
		   "random n=%lld d=%lld k=%lld offset %g: same neighbours as brute force", (long long)cases[c].n,
		   (long long)cases[c].d, (long long)cases[c].k, cases[c].offset);
		free(x);
	}
}

/* Integers 0..2 in few dimensions: many duplicate rows and equal distances, all exact. */
static void test_ties(void)
{
	static const struct { int64_t n, d, k; int levels; } cases[] = {
		{ 40, 1, 10, 3 }, { 200, 2, 25, 3 }, { 300, 3, 8, 2 }, { 2300, 2, 40, 4 }, { 9, 2, 8, 2 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		double *x = make_data(cases[c].n, cases[c].d, cases[c].levels, 0);

		ok(agrees(x, cases[c].n, cases[c].d, cases[c].k, 2, 0),
		   "integers 0..%d, n=%lld d=%lld k=%lld: ties and duplicates as brute force, exactly",
		   cases[c].levels - 1, (long long)cases[c].n, (long long)cases[c].d, (long long)cases[c].k);
		free(x);
	}
}

/* Three identical rows and one apart: the duplicates are each other's nearest, never themselves. */
static void test_duplicates_by_hand(void)
{
	double x[] = { 1, 1, 5, 5, 1, 1, 1, 1 };
	int64_t idx[8];
	double dist2[8];
	struct xf_err err = XF_ERR_INIT;

	ok(xf_knn_exact(x, 4, 2, 2, 1, idx, dist2, &err) == 0, "four 2-D rows, k = 2");
	ok(idx[0] == 2 && idx[1] == 3 && idx[4] == 0 && idx[5] == 3 && idx[6] == 0 && idx[7] == 2,
	   "duplicates are neighbours at distance 0, lower index first, never the row itself");
	ok(idx[2] == 0 && idx[3] == 2 && dist2[2] == 32 && dist2[3] == 32,
	   "the row apart: its nearest are the first two duplicates, at 32");
	ok(dist2[0] == 0 && dist2[1] == 0 && dist2[4] == 0 && dist2[7] == 0, "distances of duplicates are exactly 0");
}

static void test_threads(void)
{
	int64_t n = 1500, d = 33, k = 20;
	double *x = make_data(n, d, 0, 3), *dist[3];
	int64_t *idx[3];
	int threads[3] = { 1, 2, 4 };
	struct xf_err err = XF_ERR_INIT;
	int rc = 0;

	for (int t = 0; t < 3; t++) {
		idx[t] = malloc((size_t)(n * k) * sizeof(*idx[t]));
		dist[t] = malloc((size_t)(n * k) * sizeof(*dist[t]));
		rc |= xf_knn_exact(x, n, d, k, threads[t], idx[t], dist[t], &err);
	}
	ok(rc == 0, "1, 2 and 4 threads run");
	for (int t = 1; t < 3; t++)
		ok(!memcmp(idx[0], idx[t], (size_t)(n * k) * sizeof(*idx[0])) &&
		   !memcmp(dist[0], dist[t], (size_t)(n * k) * sizeof(*dist[0])),
		   "%d threads give bit-identical results to 1", threads[t]);
	ok(xf_knn_exact(x, n, d, k, 0, idx[1], dist[1], &err) == 0 &&
	   !memcmp(idx[0], idx[1], (size_t)(n * k) * sizeof(*idx[0])), "0 threads (all cores) too");
	for (int t = 0; t < 3; t++) {
		free(idx[t]);
		free(dist[t]);
	}
	free(x);
}

static void test_errors(void)
{
	double x[] = { 0, 1, 2, 3 }, big[] = { 1e200, 0, 1, 2 }, dist2[16];
	int64_t idx[16];
	struct xf_err err = XF_ERR_INIT;

	ok(xf_knn_exact(x, 4, 1, 4, 1, idx, dist2, &err) < 0 && err.code == XF_E_USAGE, "k = n is refused");
	ok(strstr(err.msg, "1 <= k < rows") != NULL, "saying what k must be: %s", err.msg);
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_knn_exact(x, 4, 1, 5, 1, idx, dist2, &err) < 0 && err.code == XF_E_USAGE, "k > n is refused");
	ok(xf_knn_exact(x, 4, 1, 0, 1, idx, dist2, &err) < 0, "k = 0 is refused");
	ok(xf_knn_exact(x, 1, 1, 1, 1, idx, dist2, &err) < 0, "a single row has no neighbour");
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_knn_exact(big, 4, 1, 1, 1, idx, dist2, &err) < 0 && err.code == XF_E_FORMAT,
	   "a squared norm that overflows is refused: %s", err.msg);
	ok(xf_knn_exact(x, 4, 1, 3, 1, idx, dist2, &err) == 0 && idx[0] == 1 && idx[1] == 2 && idx[2] == 3 &&
	   dist2[2] == 9, "k = n - 1 lists every other row");
}

int main(void)
{
	test_random();
	test_ties();
	test_duplicates_by_hand();
	test_threads();
	test_errors();
	return done_testing();
}
