/*
 * Unit tests for lib/score_nleep.c (N-LEEP, docs/scores.md section 3): the PCA k rule, the
 * farthest-point initialisation and a two-cluster mixture checked by hand, the size guard,
 * then the fixtures of tests/data/scores/make-nleep-fixtures.py against its numpy reference
 * values (ref.json). Fixtures are found under $XF_TEST_DATA (default tests/data).
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "score-fixtures.h"
#include "score_metrics.h"
#include "tap.h"

#define REL_TOL 1e-6

/*
 * Eigenvalues ascending. [1 1 2 4 8]/16: .5, .75, .875 -> 3. [1 3 12]/16: .75, .9375 -> 2.
 * [1 4]/5: exactly .8 is not above .8 -> 2. [0 0 0 1] -> 1.
 * Data on the axes, (+-4,0,0), (0,+-2,0), (0,0,+-1): scatter diag(32, 8, 2), 32/42 = .76 -> 2.
 */
static void test_pca_keep(void)
{
	static const double a[] = { 1, 1, 2, 4, 8 }, b[] = { 1, 3, 12 }, c[] = { 1, 4 }, d[] = { 0, 0, 0, 1 };
	double f[] = { 4, 0, 0, -4, 0, 0, 0, 2, 0, 0, -2, 0, 0, 0, 1, 0, 0, -1 };
	int64_t y[] = { 0, 1, 0, 1, 0, 1 };
	struct xf_score_data data = { .n = 6, .d = 3, .f = f, .y = y, .c = 2 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_score_cache *cache = xf_score_cache_new(&data, &err);
	const double *w, *v;

	is_int(xf_score_pca_keep(a, 5), 3, "pca k: 8+4+2 of 16 is the first share above .8");
	is_int(xf_score_pca_keep(b, 3), 2, "pca k: 12+3 of 16");
	is_int(xf_score_pca_keep(c, 2), 2, "pca k: a share of exactly .8 is not enough (strictly greater)");
	is_int(xf_score_pca_keep(d, 4), 1, "pca k: one non-zero eigenvalue");
	if (ok(cache && xf_score_scatter_eig(cache, &w, &v, &err) == 0, "diagonal scatter decomposes"))
		is_int(xf_score_pca_keep(w, 3), 2, "pca k of diagonal data with variances 32, 8, 2");
	xf_score_cache_free(cache);
}

/*
 * x = 0 1 2 10 11 (mean 4.8): nearest the mean is row 2 (x = 2); farthest from it row 4 (11);
 * distances to {2, 11} are 4 1 0 1 0, so row 0; then 0 1 0 1 0, a tie: row 1.
 * Rows go to their nearest centre: 0 -> centre 2 (x=0), 1 -> 3, 2 -> 0, 10 and 11 -> 1.
 * x = 2 0 4 1 (mean 1.75): row 0, then rows 1 and 2 tie at 4: row 1; x = 1 is 1 from both
 * centres and goes to the first.
 */
static void test_farthest_init(void)
{
	static const double x[] = { 0, 1, 2, 10, 11 }, x2[] = { 2, 0, 4, 1 };
	double scratch[6];
	int64_t centres[4], assign[5];

	xf_score_nleep_init(x, 5, 1, 4, scratch, centres, assign);
	ok(centres[0] == 2 && centres[1] == 4 && centres[2] == 0 && centres[3] == 1,
	   "farthest-point centres 2 4 0 1 (got %lld %lld %lld %lld)", (long long)centres[0], (long long)centres[1],
	   (long long)centres[2], (long long)centres[3]);
	ok(assign[0] == 2 && assign[1] == 3 && assign[2] == 0 && assign[3] == 1 && assign[4] == 1,
	   "hard assignment 2 3 0 1 1");
	xf_score_nleep_init(x2, 4, 1, 2, scratch, centres, assign);
	ok(centres[0] == 0 && centres[1] == 1, "ties in distance take the lowest row");
	ok(assign[0] == 0 && assign[1] == 1 && assign[2] == 0 && assign[3] == 0,
	   "a row equidistant from two centres goes to the first");
}

/*
 * Two clusters on a line, 20 rows near 0 and 20 near 100, labelled by cluster: no component
 * takes mass from both (posteriors one-hot across clusters), so every eep is 1 and N-LEEP
 * reaches its bound 0.
 */
static void test_two_clusters(void)
{
	double f[40], post[40 * 10];
	int64_t y[40];
	struct xf_score_data data = { .n = 40, .d = 1, .f = f, .y = y, .c = 2 };
	struct xf_err err = XF_ERR_INIT;
	double worst = 0;
	int iters;

	for (int i = 0; i < 40; i++) {
		y[i] = i % 2;
		f[i] = 100.0 * y[i] + 0.1 * i + 0.013 * (i % 7);
	}
	if (!ok(xf_score_nleep_posteriors(f, 40, 1, 10, post, &iters, &err) == 0, "two clusters: EM runs"))
		printf("# %s\n", err.msg);
	for (int j = 0; j < 10; j++) {
		double mass[2] = { 0, 0 };

		for (int i = 0; i < 40; i++)
			mass[y[i]] += post[i * 10 + j];
		worst = fmax(worst, fmin(mass[0], mass[1]));
	}
	ok(worst < 1e-12, "two clusters: no component straddles them (worst shared mass %g)", worst);
	ok(iters >= 1 && iters <= 100, "two clusters: %d EM iterations", iters);
	is_near(fixture_run("nleep", &data), 0, 1e-12, "two clusters: N-LEEP is at its bound 0");
}

static void test_limits(void)
{
	struct xf_err err = XF_ERR_INIT;
	double x[2] = { 0, 1 }, post[2];
	int iters;

	ok(xf_score_nleep_posteriors(x, 2, 1000, 100, post, &iters, &err) < 0 && err.code == XF_E_LIMIT,
	   "100 components of 1000 x 1000 covariances are refused: %s", err.msg);
	err = (struct xf_err)XF_ERR_INIT;
	ok(xf_score_nleep_posteriors(x, 2, 1, 10, post, &iters, &err) < 0 && err.code == XF_E_FORMAT,
	   "fewer rows than components are refused: %s", err.msg);
}

/* ---- fixtures ---- */

static void check_case(json_t *jcase)
{
	const char *name = json_string_value(json_object_get(jcase, "name"));
	double want = json_number_value(json_object_get(json_object_get(jcase, "values"), "nleep"));
	int64_t n, dim, ny, one;
	double *f = fixture_load("nleep", name, "x", &n, &dim);
	int64_t *y = fixture_load("nleep", name, "y", &ny, &one);
	struct xf_score_data d = { .n = n, .d = dim, .f = f, .y = y, .c = json_integer_value(json_object_get(jcase, "c")) };
	char label[128];

	if (ok(f && y && ny == n && one == 1, "%s: fixture arrays load", name)) {
		snprintf(label, sizeof(label), "%s: nleep (relative tolerance %g)", name, REL_TOL);
		is_near(fixture_run("nleep", &d), want, fmax(REL_TOL * fabs(want), 1e-15), label);
	}
	free(f);
	free(y);
}

static void test_fixtures(void)
{
	json_error_t jerr;
	json_t *ref = json_load_file(fixture_path("nleep", "ref.json"), 0, &jerr), *jcase;
	size_t i;

	if (!ok(ref != NULL, "ref.json loads")) {
		printf("# %s: %s\n", fixture_path("nleep", "ref.json"), jerr.text);
		return;
	}
	json_array_foreach(json_object_get(ref, "cases"), i, jcase)
		check_case(jcase);
	ok(i == 3, "three fixture cases");
	json_decref(ref);
}

int main(void)
{
	test_pca_keep();
	test_farthest_init();
	test_two_clusters();
	test_limits();
	test_fixtures();
	return done_testing();
}
