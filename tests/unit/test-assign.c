/*
 * Unit tests for lib/assign.c (minimum-cost assignment): 3 x 3 and 4 x 4 cases checked by
 * hand, m = 0 and 1, ties, the refused inputs, random matrices up to 7 x 7 against a brute
 * force over all permutations, and 300 x 300 matrices from an LCG shared with
 * tests/ref/ref_osborn.py against scipy's totals (tests/data/scores/osborn/assign.json).
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assign.h"
#include "score-fixtures.h"
#include "tap.h"

/* match is a permutation of 0..m-1 and its costs add up to total. */
static int valid_matching(const double *cost, int64_t m, const int64_t *match, double total)
{
	char seen[512] = { 0 };
	double sum = 0;

	for (int64_t i = 0; i < m; i++) {
		if (match[i] < 0 || match[i] >= m || seen[match[i]]++)
			return 0;
		sum += cost[i * m + match[i]];
	}
	return sum == total;
}

/*
 * [4 1 3; 2 0 5; 3 2 2]: the six permutations cost 6 11 5 9 7 6 (columns 012 021 102 120 201
 * 210), so the unique optimum is 1 0 2 with total 1 + 2 + 2 = 5.
 * [9 2 7 8; 6 4 3 7; 5 8 1 8; 7 6 9 4]: rows 2 and 3 take their minima 1 and 4 (columns 2, 3);
 * rows 0 and 1 then share columns 0 and 1: 9 + 4 or 2 + 6, so 1 0 2 3 with total 2 + 6 + 1 + 4
 * = 13. Of the 24 permutations the next best is 1 2 0 3 (2 + 3 + 5 + 4 = 14), then 17.
 */
static void test_by_hand(void)
{
	static const double a[] = { 4, 1, 3, 2, 0, 5, 3, 2, 2 };
	static const double b[] = { 9, 2, 7, 8, 6, 4, 3, 7, 5, 8, 1, 8, 7, 6, 9, 4 };
	int64_t match[4];
	double total = -1;
	struct xf_err err = XF_ERR_INIT;

	ok(xf_assign_min_cost(a, 3, match, &total, &err) == 0, "3 x 3 runs");
	is_near(total, 5, 0, "3 x 3 total 5");
	ok(match[0] == 1 && match[1] == 0 && match[2] == 2, "3 x 3 matching 1 0 2");
	ok(xf_assign_min_cost(b, 4, match, &total, &err) == 0, "4 x 4 runs");
	is_near(total, 13, 0, "4 x 4 total 13");
	ok(match[0] == 1 && match[1] == 0 && match[2] == 2 && match[3] == 3, "4 x 4 matching 1 0 2 3");
}

static void test_small_sizes(void)
{
	static const double one[] = { -2.5 };
	int64_t match[1] = { 7 };
	double total = -1;
	struct xf_err err = XF_ERR_INIT;

	ok(xf_assign_min_cost(NULL, 0, NULL, &total, &err) == 0 && total == 0, "m = 0: total 0");
	ok(xf_assign_min_cost(one, 1, match, &total, &err) == 0 && match[0] == 0 && total == -2.5,
	   "m = 1: the only cell, negative costs allowed");
	total = -1;
	ok(xf_assign_min_cost(one, 1, NULL, &total, &err) == 0 && total == -2.5, "match may be NULL");
	ok(xf_assign_min_cost(one, 1, match, NULL, &err) == 0, "total may be NULL");
}

/*
 * All-equal costs: every matching is optimal. The lowest-column rule gives row i column i
 * (row 1 finds column 1 first among the free ones, and so on); two runs agree.
 * [0 0; 0 0] with a 1 at [0,0] forces 1 0.
 */
static void test_ties(void)
{
	double flat[16], forced[] = { 1, 0, 0, 0 };
	int64_t m1[4], m2[4];
	double t1, t2;
	struct xf_err err = XF_ERR_INIT;

	for (int k = 0; k < 16; k++)
		flat[k] = 3;
	ok(xf_assign_min_cost(flat, 4, m1, &t1, &err) == 0 && xf_assign_min_cost(flat, 4, m2, &t2, &err) == 0,
	   "all-equal 4 x 4 runs twice");
	ok(t1 == 12 && !memcmp(m1, m2, sizeof(m1)), "all-equal: total 12, same matching each run");
	ok(m1[0] == 0 && m1[1] == 1 && m1[2] == 2 && m1[3] == 3, "all-equal: the identity (lowest columns)");
	ok(xf_assign_min_cost(forced, 2, m1, &t1, &err) == 0 && t1 == 0 && m1[0] == 1 && m1[1] == 0,
	   "a single non-zero cell is avoided");
}

static void test_refused(void)
{
	double c[] = { 1, 2, 3, 4 };
	int64_t match[2] = { -5, -5 };
	double total = -7;
	struct xf_err err = XF_ERR_INIT;

	c[2] = NAN;
	ok(xf_assign_min_cost(c, 2, match, &total, &err) < 0 && err.code == XF_E_FORMAT, "NaN refused: %s", err.msg);
	ok(match[0] == -5 && total == -7, "outputs untouched on error");
	c[2] = INFINITY;
	ok(xf_assign_min_cost(c, 2, match, &total, &err) < 0 && err.code == XF_E_FORMAT, "inf refused: %s", err.msg);
	c[2] = -INFINITY;
	ok(xf_assign_min_cost(c, 2, match, &total, &err) < 0 && err.code == XF_E_FORMAT, "-inf refused: %s", err.msg);
	c[2] = 1e308;
	ok(xf_assign_min_cost(c, 2, match, &total, &err) < 0 && err.code == XF_E_LIMIT, "1e308 refused: %s",
	   err.msg);
	c[2] = 3;
	ok(xf_assign_min_cost(c, -1, match, &total, &err) < 0 && err.code == XF_E_LIMIT, "m < 0 refused: %s",
	   err.msg);
	ok(xf_assign_min_cost(c, INT64_MAX / 2, match, &total, &err) < 0 && err.code == XF_E_LIMIT,
	   "m x m overflow refused: %s", err.msg);
}

/* ---- random matrices ---- */

/* The LCG of tests/ref/ref_osborn.py lcg_matrix, with its kinds of cost. */
static void lcg_matrix(uint64_t seed, int64_t m, const char *kind, double *out)
{
	uint64_t x = seed;

	for (int64_t k = 0; k < m * m; k++) {
		double u;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		u = (double)(x >> 11) * 0x1p-53;
		if (!strcmp(kind, "integer"))
			u = floor(u * 50);
		else if (!strcmp(kind, "binary"))
			u = floor(u * 2);
		else if (!strcmp(kind, "signed"))
			u = (u - 0.5) * 1e6;
		out[k] = u;
	}
}

/* Smallest sum over the permutations of columns perm[at..m). */
static double brute_force(const double *cost, int64_t m, int64_t *perm, int64_t at, double partial)
{
	double best = INFINITY;

	if (at == m)
		return partial;
	for (int64_t k = at; k < m; k++) {
		int64_t t = perm[at];
		double v;

		perm[at] = perm[k], perm[k] = t;
		v = brute_force(cost, m, perm, at + 1, partial + cost[at * m + perm[at]]);
		best = v < best ? v : best;
		perm[k] = perm[at], perm[at] = t;
	}
	return best;
}

static void test_brute_force(void)
{
	static const char *const kinds[] = { "uniform", "integer", "binary", "signed" };
	double cost[49], total;
	int64_t match[7], perm[7];
	int bad = 0, runs = 0;
	struct xf_err err = XF_ERR_INIT;

	for (int64_t m = 1; m <= 7; m++)
		for (int kind = 0; kind < 4; kind++)
			for (uint64_t seed = 1; seed <= 6; seed++, runs++) {
				double want;

				lcg_matrix(seed * 1000 + (uint64_t)m, m, kinds[kind], cost);
				for (int64_t j = 0; j < m; j++)
					perm[j] = j;
				want = brute_force(cost, m, perm, 0, 0);
				if (xf_assign_min_cost(cost, m, match, &total, &err) < 0 || !valid_matching(cost, m, match, total) ||
				    fabs(total - want) > 1e-12 * fmax(1, fabs(want))) {
					if (!bad++)
						printf("# m %lld %s seed %llu: got %.17g, want %.17g\n", (long long)m, kinds[kind],
						       (unsigned long long)seed, total, want);
				}
			}
	ok(bad == 0, "%d random matrices of 1..7 rows match the brute force (%d wrong)", runs, bad);
}

static void test_scipy_totals(void)
{
	json_error_t jerr;
	json_t *ref = json_load_file(fixture_path("osborn", "assign.json"), 0, &jerr), *c;
	double *cost = malloc(300 * 300 * sizeof(double)), total;
	int64_t match[300];
	struct xf_err err = XF_ERR_INIT;
	size_t i;

	if (!ok(ref && cost, "assign.json loads")) {
		printf("# %s: %s\n", fixture_path("osborn", "assign.json"), jerr.text);
		free(cost);
		return;
	}
	json_array_foreach(json_object_get(ref, "cases"), i, c) {
		const char *kind = json_string_value(json_object_get(c, "kind"));
		int64_t m = json_integer_value(json_object_get(c, "m"));
		double want = json_number_value(json_object_get(c, "total"));

		lcg_matrix((uint64_t)json_integer_value(json_object_get(c, "seed")), m, kind, cost);
		if (!ok(xf_assign_min_cost(cost, m, match, &total, &err) == 0, "%s %lld x %lld runs", kind, (long long)m,
			(long long)m))
			printf("# %s\n", err.msg);
		ok(valid_matching(cost, m, match, total), "%s %lld: a permutation whose costs sum to the total", kind,
		   (long long)m);
		ok(fabs(total - want) <= 1e-12 * fmax(1, fabs(want)), "%s %lld: total %.17g, scipy %.17g", kind,
		   (long long)m, total, want);
	}
	ok(i == 6, "six scipy cases");
	json_decref(ref);
	free(cost);
}

int main(void)
{
	test_by_hand();
	test_small_sizes();
	test_ties();
	test_refused();
	test_brute_force();
	test_scipy_totals();
	return done_testing();
}
