/*
 * Unit tests for lib/knn_approx.c and lib/rptree.c: recall against xf_knn_exact on a 50-D
 * Gaussian mixture (printed as a TAP comment), the output contract (rows sorted by exact
 * distance then index, distinct neighbours, never the row itself), determinism for a seed
 * and across thread counts, exact duplicates, small n with k = n - 1, errors, xf_knn_recall,
 * and the random-projection trees on their own. Timings belong in tests/bench/knn.sh.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "knn_approx.h"
#include "rng.h"
#include "rptree.h"
#include "tap.h"

struct result {
	int64_t *idx;
	double *dist2;
};

static struct result alloc_result(int64_t n, int64_t k)
{
	struct result r = { malloc((size_t)(n * k) * sizeof(*r.idx)), malloc((size_t)(n * k) * sizeof(*r.dist2)) };

	if (!r.idx || !r.dist2) {
		fprintf(stderr, "test-knn-approx: out of memory\n");
		exit(1);
	}
	return r;
}

static void free_result(struct result *r)
{
	free(r->idx);
	free(r->dist2);
}

/* n rows from `clusters` isotropic unit Gaussians in d dimensions, centres N(0, 4^2) per coordinate. */
static double *mixture(int64_t n, int64_t d, int clusters, uint64_t seed)
{
	double *x = malloc((size_t)(n * d) * sizeof(*x)), *centre = malloc((size_t)(clusters * d) * sizeof(*centre));
	struct xf_rng r;

	xf_rng_init(&r, seed, 0);
	for (int64_t i = 0; i < clusters * d; i++)
		centre[i] = 4 * xf_rng_normal(&r);
	for (int64_t i = 0; i < n; i++) {
		int64_t c = (int64_t)xf_rng_below(&r, (uint64_t)clusters);

		for (int64_t j = 0; j < d; j++)
			x[i * d + j] = centre[c * d + j] + xf_rng_normal(&r);
	}
	free(centre);
	return x;
}

static double sqdist(const double *x, int64_t d, int64_t i, int64_t j)
{
	double s = 0;

	for (int64_t t = 0; t < d; t++)
		s += (x[i * d + t] - x[j * d + t]) * (x[i * d + t] - x[j * d + t]);
	return s;
}

/*
 * The output contract, row by row: indices in range, distinct, never the row itself; the
 * distances those of the pairs (to rounding: the library may sum in another order); rows
 * ascending by (distance, index). Returns the number of bad rows.
 */
static int64_t contract_violations(const double *x, int64_t n, int64_t d, int64_t k, const struct result *r)
{
	int64_t bad = 0;
	bool *seen = calloc((size_t)n, sizeof(*seen));

	for (int64_t i = 0; i < n; i++) {
		const int64_t *li = r->idx + i * k;
		const double *ld = r->dist2 + i * k;
		bool ok_row = true;

		for (int64_t j = 0; j < k && ok_row; j++) {
			ok_row = li[j] >= 0 && li[j] < n && li[j] != i && !seen[li[j]] &&
				 fabs(ld[j] - sqdist(x, d, i, li[j])) <= 1e-12 * (1 + ld[j]) &&
				 (j == 0 || ld[j - 1] < ld[j] || (ld[j - 1] == ld[j] && li[j - 1] < li[j]));
			if (ok_row)
				seen[li[j]] = true;
		}
		for (int64_t j = 0; j < k; j++)
			if (li[j] >= 0 && li[j] < n)
				seen[li[j]] = false;
		bad += !ok_row;
	}
	free(seen);
	return bad;
}

/* Mean over all rows of |approximate list ∩ exact list| / k. */
static double set_recall(int64_t n, int64_t k, const int64_t *approx, const int64_t *exact)
{
	int64_t hits = 0;

	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < k; j++)
			for (int64_t t = 0; t < k; t++)
				if (approx[i * k + j] == exact[i * k + t]) {
					hits++;
					break;
				}
	return (double)hits / ((double)n * (double)k);
}

static bool same_result(int64_t n, int64_t k, const struct result *a, const struct result *b)
{
	return !memcmp(a->idx, b->idx, (size_t)(n * k) * sizeof(*a->idx)) &&
	       !memcmp(a->dist2, b->dist2, (size_t)(n * k) * sizeof(*a->dist2));
}

static void test_recall_against_exact(void)
{
	int64_t n = 20000, d = 50, k = 30;
	double *x = mixture(n, d, 20, 1);
	struct result a = alloc_result(n, k), e = alloc_result(n, k);
	struct xf_err err = XF_ERR_INIT;
	double recall, sampled;

	ok(xf_knn_approx(x, n, d, k, 42, 0, a.idx, a.dist2, &err) == 0, "approximate search, n=%lld d=%lld k=%lld",
	   (long long)n, (long long)d, (long long)k);
	ok(xf_knn_exact(x, n, d, k, 0, e.idx, e.dist2, &err) == 0, "exact search for reference");
	recall = set_recall(n, k, a.idx, e.idx);
	printf("# recall@%lld against xf_knn_exact over all %lld rows: %.5f\n", (long long)k, (long long)n, recall);
	ok(recall >= 0.95, "recall >= 0.95 on a 50-D Gaussian mixture");
	is_int(contract_violations(x, n, d, k, &a), 0, "rows sorted by exact distance then index, distinct, never self");
	sampled = xf_knn_recall(x, n, d, k, a.idx, 500, 7);
	printf("# xf_knn_recall on 500 sampled rows: %.5f\n", sampled);
	ok(fabs(sampled - recall) < 0.02, "xf_knn_recall agrees with the full comparison");
	is_near(xf_knn_recall(x, n, d, k, e.idx, 500, 7), 1.0, 0, "xf_knn_recall of the exact lists is 1");
	free_result(&a);
	free_result(&e);
	free(x);
}

static void test_determinism(void)
{
	int64_t n = 6000, d = 20, k = 15;     /* more rows than one join block */
	double *x = mixture(n, d, 8, 2);
	struct result r[4];
	int threads[4] = { 1, 1, 2, 3 };
	struct xf_err err = XF_ERR_INIT;
	int rc = 0;

	for (int t = 0; t < 4; t++) {
		r[t] = alloc_result(n, k);
		rc |= xf_knn_approx(x, n, d, k, 9, threads[t], r[t].idx, r[t].dist2, &err);
	}
	is_int(rc, 0, "four runs succeed");
	ok(same_result(n, k, &r[0], &r[1]), "same seed, same result");
	ok(same_result(n, k, &r[0], &r[2]), "2 threads give what 1 gives");
	ok(same_result(n, k, &r[0], &r[3]), "3 threads give what 1 gives");
	for (int t = 0; t < 4; t++)
		free_result(&r[t]);
	free(x);
}

/* 400 distinct points, each repeated 5 times, shuffled: every row's 4 copies are its nearest. */
static void test_duplicates(void)
{
	int64_t distinct = 400, copies = 5, n = distinct * copies, d = 8, k = 10, bad = 0;
	double *base = mixture(distinct, d, 4, 3), *x = malloc((size_t)(n * d) * sizeof(*x));
	int64_t *from = malloc((size_t)n * sizeof(*from));
	struct result r = alloc_result(n, k);
	struct xf_err err = XF_ERR_INIT;
	struct xf_rng g;

	for (int64_t i = 0; i < n; i++)
		from[i] = i % distinct;
	xf_rng_init(&g, 5, 0);
	xf_rng_shuffle(&g, from, n);
	for (int64_t i = 0; i < n; i++)
		memcpy(x + i * d, base + from[i] * d, (size_t)d * sizeof(*x));
	ok(xf_knn_approx(x, n, d, k, 1, 2, r.idx, r.dist2, &err) == 0, "search with 5 copies of every row");
	is_int(contract_violations(x, n, d, k, &r), 0, "contract holds with duplicates (never self)");
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < copies - 1; j++)
			bad += r.dist2[i * k + j] != 0 || from[r.idx[i * k + j]] != from[i];
	is_int(bad, 0, "each row's first 4 neighbours are its copies, at distance 0");
	free_result(&r);
	free(base);
	free(x);
	free(from);
}

/* Every row the same: all distances 0, any k others will do, never the row itself. */
static void test_all_identical(void)
{
	int64_t n = 300, d = 3, k = 20;
	double *x = calloc((size_t)(n * d), sizeof(*x));
	struct result r = alloc_result(n, k);
	struct xf_err err = XF_ERR_INIT;

	for (int64_t i = 0; i < n * d; i++)
		x[i] = 1.5;
	ok(xf_knn_approx(x, n, d, k, 1, 2, r.idx, r.dist2, &err) == 0, "search among identical rows");
	is_int(contract_violations(x, n, d, k, &r), 0, "contract holds among identical rows");
	free_result(&r);
	free(x);
}

/* k = n - 1: every other row, in order; small enough for one leaf, and larger than a leaf. */
static void test_all_others(void)
{
	int64_t sizes[] = { 2, 3, 10, 61, 300 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		int64_t n = sizes[s], d = 4, k = n - 1;
		double *x = mixture(n, d, 3, 10 + s);
		struct result r = alloc_result(n, k);
		struct xf_err err = XF_ERR_INIT;

		ok(xf_knn_approx(x, n, d, k, 1, 2, r.idx, r.dist2, &err) == 0 &&
			   contract_violations(x, n, d, k, &r) == 0,
		   "n=%lld, k=n-1: all other rows, sorted", (long long)n);
		free_result(&r);
		free(x);
	}
}

/* Few rows: a single leaf holds them all, so the result is the exact one. */
static void test_small_exact(void)
{
	int64_t n = 200, d = 6, k = 40;     /* leaves of 5k = 200 rows */
	double *x = mixture(n, d, 3, 4);
	struct result a = alloc_result(n, k), e = alloc_result(n, k);
	struct xf_err err = XF_ERR_INIT;

	ok(xf_knn_approx(x, n, d, k, 3, 1, a.idx, a.dist2, &err) == 0 &&
		   xf_knn_exact(x, n, d, k, 1, e.idx, e.dist2, &err) == 0,
	   "n=200 k=40, approximate and exact");
	is_int(memcmp(a.idx, e.idx, (size_t)(n * k) * sizeof(*a.idx)), 0, "same neighbours as the exact search");
	free_result(&a);
	free_result(&e);
	free(x);
}

static void test_errors(void)
{
	double x[12] = { 0 };
	int64_t idx[12];
	double dist2[12];
	struct xf_err err = XF_ERR_INIT;

	ok(xf_knn_approx(x, 4, 3, 4, 1, 1, idx, dist2, &err) < 0 && err.code == XF_E_USAGE, "k = n is refused");
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_knn_approx(x, 4, 3, 5, 1, 1, idx, dist2, &err) < 0 && err.code == XF_E_USAGE, "k > n is refused");
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_knn_approx(x, 1, 3, 1, 1, 1, idx, dist2, &err) < 0 && err.code == XF_E_USAGE, "n = 1 is refused");
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_knn_approx(x, 4, 3, 0, 1, 1, idx, dist2, &err) < 0 && err.code == XF_E_USAGE, "k = 0 is refused");
	err = (struct xf_err)XF_ERR_INIT;
	x[7] = NAN;
	ok(xf_knn_approx(x, 4, 3, 2, 1, 1, idx, dist2, &err) < 0 && err.code == XF_E_FORMAT, "NaN is refused: %s",
	   err.msg);
	ok(isnan(xf_knn_recall(x, 4, 3, 4, idx, 10, 1)), "xf_knn_recall: k = n gives NaN");
	ok(isnan(xf_knn_recall(x, 4, 3, 2, idx, 0, 1)), "xf_knn_recall: no sample gives NaN");
}

/* A wrong list scores what it deserves: here every row's list holds its farthest rows. */
static void test_recall_of_bad_lists(void)
{
	int64_t n = 500, d = 5, k = 10;
	double *x = mixture(n, d, 2, 6);
	struct result e = alloc_result(n, n - 1);
	int64_t *far = malloc((size_t)(n * k) * sizeof(*far));
	struct xf_err err = XF_ERR_INIT;

	ok(xf_knn_exact(x, n, d, n - 1, 1, e.idx, e.dist2, &err) == 0, "all rows ranked exactly");
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < k; j++)
			far[i * k + j] = e.idx[i * (n - 1) + n - 2 - j];
	is_near(xf_knn_recall(x, n, d, k, far, n, 1), 0.0, 0, "the farthest rows score 0");
	is_near(xf_knn_recall(x, n, d, n - 1, e.idx, 50, 1), 1.0, 0, "k = n - 1 exact lists score 1");
	free_result(&e);
	free(far);
	free(x);
}

/* The trees alone: a partition of all rows into leaves of at most leaf_size, the same for a seed. */
static void test_rptree(void)
{
	int64_t n = 5000, ld = 8, leaf = 60, bad = 0, biggest = 0;
	float *x = calloc((size_t)(n * ld), sizeof(*x));
	struct xf_rptree a = XF_RPTREE_INIT, b = XF_RPTREE_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_rng g;
	bool *seen = calloc((size_t)n, sizeof(*seen));

	xf_rng_init(&g, 8, 0);
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < 5; j++)     /* 5 coordinates, 3 of padding; a quarter duplicated */
			x[i * ld + j] = i % 4 == 3 ? x[(i - 1) * ld + j] : (float)xf_rng_normal(&g);
	ok(xf_rptree_build(&a, x, n, ld, leaf, 3, 7, &err) == 0 && xf_rptree_build(&b, x, n, ld, leaf, 3, 7, &err) == 0,
	   "two trees from one seed and stream");
	for (int64_t l = 0; l < a.n_leaves; l++) {
		int64_t size = a.start[l + 1] - a.start[l];

		bad += size < 1;
		biggest = size > biggest ? size : biggest;
	}
	for (int64_t i = 0; i < n; i++) {
		bad += a.perm[i] < 0 || a.perm[i] >= n || seen[a.perm[i]];
		if (a.perm[i] >= 0 && a.perm[i] < n)
			seen[a.perm[i]] = true;
	}
	ok(a.start[0] == 0 && a.start[a.n_leaves] == n && bad == 0, "the leaves partition the rows (%lld leaves)",
	   (long long)a.n_leaves);
	ok(biggest <= leaf, "no leaf above %lld rows (largest %lld)", (long long)leaf, (long long)biggest);
	ok(a.n_leaves == b.n_leaves && !memcmp(a.perm, b.perm, (size_t)n * sizeof(*a.perm)) &&
		   !memcmp(a.start, b.start, (size_t)(a.n_leaves + 1) * sizeof(*a.start)),
	   "the same seed and stream give the same tree");
	xf_rptree_release(&a);
	xf_rptree_release(&b);
	free(x);
	free(seen);
}

int main(void)
{
	test_recall_against_exact();
	test_determinism();
	test_duplicates();
	test_all_identical();
	test_all_others();
	test_small_exact();
	test_errors();
	test_recall_of_bad_lists();
	test_rptree();
	return done_testing();
}
