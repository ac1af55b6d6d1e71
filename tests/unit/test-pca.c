/*
 * Unit tests for lib/pca.c: a hand-checked line, numpy SVD references (tests/data/pca/,
 * written by make-fixtures.py; XF_TEST_DATA overrides tests/data), randomized against exact
 * on a decaying spectrum, determinism, transform and errors.
 */
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "pca.h"
#include "rng.h"
#include "tap.h"

static const char *solver_name[] = { "auto", "exact", "randomized" };

/* ---- helpers ---- */

/* tests/data/pca/CASE-SUFFIX.npy as doubles (count in *len), or NULL with a diagnostic. */
static double *fixture(const char *case_name, const char *suffix, int64_t *rows, int64_t *cols)
{
	const char *dir = getenv("XF_TEST_DATA");
	struct xf_tensor t = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	char path[512];
	double *out;

	snprintf(path, sizeof(path), "%s/pca/%s-%s.npy", dir ? dir : "tests/data", case_name, suffix);
	if (xf_npy_load_file(path, &t, &err) < 0 || t.dtype != XF_DTYPE_F64) {
		printf("# %s: %s\n", path, err.code ? err.msg : "not float64");
		xf_tensor_release(&t);
		return NULL;
	}
	*rows = t.ndim > 0 ? t.shape[0] : 1;
	*cols = t.ndim > 1 ? t.shape[1] : 1;
	out = malloc((size_t)(*rows * *cols) * sizeof(double) + 1);
	memcpy(out, t.data, (size_t)(*rows * *cols) * sizeof(double));
	xf_tensor_release(&t);
	return out;
}

/* Largest |V V^T - I| over the k x d rows of v. */
static double orthonormality_error(const double *v, int64_t k, int64_t d)
{
	double worst = 0;

	for (int64_t a = 0; a < k; a++)
		for (int64_t b = 0; b < k; b++) {
			double dot = 0;

			for (int64_t j = 0; j < d; j++)
				dot += v[a * d + j] * v[b * d + j];
			worst = fmax(worst, fabs(dot - (a == b)));
		}
	return worst;
}

static double rel_err(double got, double want)
{
	return fabs(got - want) / fmax(fabs(want), 1e-300);
}

/* x_ij = (g_ij + 0.5) * sigma_j + offset_j with sigma_j = ratio^j: a spectrum decaying by ratio^2. */
static double *decaying(int64_t n, int64_t d, double ratio, uint64_t seed)
{
	double *x = malloc((size_t)(n * d) * sizeof(double)), sigma = 1;
	struct xf_rng rng;

	xf_rng_init(&rng, seed, 0);
	for (int64_t i = 0; i < n * d; i++)
		x[i] = xf_rng_normal(&rng);
	for (int64_t j = 0; j < d; j++, sigma *= ratio)
		for (int64_t i = 0; i < n; i++)
			x[i * d + j] = (x[i * d + j] + 0.5) * sigma + 3.0 + 0.01 * (double)j;
	return x;
}

/* ---- tests ---- */

/* Points (1 + t, -1 + 2t), t = 0..4: all variance along (1, 2)/sqrt(5), var(t) 5 = 12.5. */
static void test_line(enum xf_pca_solver solver)
{
	double x[10], y[10], s = 1 / sqrt(5);
	struct xf_err err = XF_ERR_INIT;
	struct xf_pca p;
	const char *name = solver_name[solver];

	for (int t = 0; t < 5; t++)
		x[2 * t] = 1 + t, x[2 * t + 1] = -1 + 2 * t;
	if (!ok(xf_pca_fit(x, 5, 2, 2, solver, 1, &p, &err) == 0, "line (%s): fit", name)) {
		printf("#   %s\n", err.msg);
		return;
	}
	is_near(p.variance[0], 12.5, 1e-12, "line: variance 12.5");
	is_near(p.variance[1], 0, 1e-12, "line: second variance 0");
	is_near(p.total_variance, 12.5, 1e-12, "line: total variance 12.5");
	ok(fabs(p.components[0] - s) < 1e-12 && fabs(p.components[1] - 2 * s) < 1e-12, "line (%s): axis (1, 2)/sqrt 5",
	   name);
	ok(fabs(p.components[2] - 2 * s) < 1e-12 && fabs(p.components[3] + s) < 1e-12,
	   "line (%s): second axis (2, -1)/sqrt 5 by the sign rule", name);
	ok(p.mean[0] == 3 && p.mean[1] == 3, "line (%s): mean (3, 3)", name);
	xf_pca_transform(&p, x, 5, y, &err);
	ok(fabs(y[0] + 2 * sqrt(5)) < 1e-12 && fabs(y[8] - 2 * sqrt(5)) < 1e-12, "line (%s): scores -+2 sqrt 5",
	   name);
	xf_pca_release(&p);
}

/* Worst relative variance error, with zero reference variances compared to the largest. */
static double variance_error(const struct xf_pca *p, const double *var)
{
	double worst = 0;

	for (int64_t i = 0; i < p->k; i++)
		worst = fmax(worst, var[i] > 1e-9 * var[0] ? rel_err(p->variance[i], var[i])
							       : fabs(p->variance[i] - var[i]) / var[0]);
	return worst;
}

/* Worst entry difference of the components whose variance is not ~0 (those have no axis). */
static double component_error(const struct xf_pca *p, const double *comps, const double *var)
{
	double worst = 0;

	for (int64_t i = 0; i < p->k; i++)
		for (int64_t j = 0; var[i] > 1e-9 * var[0] && j < p->d; j++)
			worst = fmax(worst, fabs(p->components[i * p->d + j] - comps[i * p->d + j]));
	return worst;
}

static void compare_fixture(const char *name, enum xf_pca_solver solver, const double *x, int64_t n, int64_t d,
			    int64_t k, const double *mean, const double *comps, const double *var, double total)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_pca p;
	double mean_err = 0;
	const char *sn = solver_name[solver];

	if (!ok(xf_pca_fit(x, n, d, k, solver, 42, &p, &err) == 0, "%s (%s): fit %lld x %lld, k = %lld", name, sn,
		(long long)n, (long long)d, (long long)k)) {
		printf("#   %s\n", err.msg);
		return;
	}
	for (int64_t j = 0; j < d; j++)
		mean_err = fmax(mean_err, rel_err(p.mean[j], mean[j]));
	ok(mean_err < 1e-14, "%s (%s): mean within 1e-14 relative (%.2g)", name, sn, mean_err);
	ok(variance_error(&p, var) < 1e-9, "%s (%s): variances within 1e-9 relative (%.2g)", name, sn,
	   variance_error(&p, var));
	ok(component_error(&p, comps, var) < 1e-7, "%s (%s): components within 1e-7 (%.2g)", name, sn,
	   component_error(&p, comps, var));
	ok(orthonormality_error(p.components, k, d) < 1e-12, "%s (%s): components orthonormal (%.2g)", name, sn,
	   orthonormality_error(p.components, k, d));
	ok(rel_err(p.total_variance, total) < 1e-12, "%s (%s): total variance (%.2g)", name, sn,
	   rel_err(p.total_variance, total));
	xf_pca_release(&p);
}

static void test_fixture(const char *name)
{
	int64_t n, d, k, one, r, c;
	double *x = fixture(name, "x", &n, &d), *mean = fixture(name, "mean", &r, &c);
	double *comps = fixture(name, "components", &k, &c), *var = fixture(name, "variance", &r, &c);
	double *total = fixture(name, "total", &one, &c);

	if (ok(x && mean && comps && var && total, "%s: fixtures load", name)) {
		compare_fixture(name, XF_PCA_EXACT, x, n, d, k, mean, comps, var, *total);
		compare_fixture(name, XF_PCA_RANDOMIZED, x, n, d, k, mean, comps, var, *total);
	}
	free(x), free(mean), free(comps), free(var), free(total);
}

/* Randomized and exact agree on the top k of a fast-decaying spectrum (sigma ratio 0.8). */
static void test_randomized_vs_exact(int64_t n, int64_t d, int64_t k)
{
	double *x = decaying(n, d, 0.8, 7), worst_var = 0, worst_axis = 0;
	struct xf_err err = XF_ERR_INIT;
	struct xf_pca e, r;

	if (!ok(xf_pca_fit(x, n, d, k, XF_PCA_EXACT, 0, &e, &err) == 0 &&
		xf_pca_fit(x, n, d, k, XF_PCA_RANDOMIZED, 3, &r, &err) == 0, "decaying %lld x %lld: both fit",
		(long long)n, (long long)d)) {
		printf("#   %s\n", err.msg);
		free(x);
		return;
	}
	for (int64_t i = 0; i < k; i++) {
		double dot = 0;

		for (int64_t j = 0; j < d; j++)
			dot += e.components[i * d + j] * r.components[i * d + j];
		worst_var = fmax(worst_var, rel_err(r.variance[i], e.variance[i]));
		worst_axis = fmax(worst_axis, 1 - dot);
	}
	ok(worst_var < 1e-6, "decaying %lld x %lld, k = %lld: randomized variances within 1e-6 of exact (%.2g)",
	   (long long)n, (long long)d, (long long)k, worst_var);
	ok(worst_axis < 1e-6, "decaying %lld x %lld: randomized axes match exact, same signs (1 - cos %.2g)",
	   (long long)n, (long long)d, worst_axis);
	ok(rel_err(r.total_variance, e.total_variance) < 1e-12, "decaying %lld x %lld: same total variance",
	   (long long)n, (long long)d);
	xf_pca_release(&e), xf_pca_release(&r);
	free(x);
}

static int same_fit(const struct xf_pca *a, const struct xf_pca *b)
{
	return a->k == b->k && a->d == b->d && a->total_variance == b->total_variance &&
	       !memcmp(a->mean, b->mean, a->d * sizeof(double)) &&
	       !memcmp(a->variance, b->variance, a->k * sizeof(double)) &&
	       !memcmp(a->components, b->components, a->k * a->d * sizeof(double));
}

static void test_determinism(void)
{
	int64_t n = 500, d = 120, k = 6;
	double *x = decaying(n, d, 0.9, 11);
	struct xf_err err = XF_ERR_INIT;
	struct xf_pca a, b;

	for (int solver = XF_PCA_EXACT; solver <= XF_PCA_RANDOMIZED; solver++) {
		xf_pca_fit(x, n, d, k, solver, 99, &a, &err);
		xf_pca_fit(x, n, d, k, solver, 99, &b, &err);
		ok(same_fit(&a, &b), "%s: the same seed twice gives identical bits", solver_name[solver]);
		xf_pca_release(&a), xf_pca_release(&b);
	}
	xf_pca_fit(x, d, n, k, XF_PCA_RANDOMIZED, 99, &a, &err); /* n < d: the transposed range finder */
	xf_pca_fit(x, d, n, k, XF_PCA_RANDOMIZED, 99, &b, &err);
	ok(same_fit(&a, &b), "randomized, n < d: the same seed twice gives identical bits");
	xf_pca_release(&a), xf_pca_release(&b);
	free(x);
}

/* Scores of the training rows: column means 0 and column variances equal to the variances. */
static void check_scores(const char *name, enum xf_pca_solver solver, const double *x, int64_t n, int64_t d,
			 int64_t k)
{
	double *y = malloc((size_t)(n * k) * sizeof(double)), worst_var = 0, worst_mean = 0;
	struct xf_err err = XF_ERR_INIT;
	struct xf_pca p;

	xf_pca_fit(x, n, d, k, solver, 5, &p, &err);
	ok(xf_pca_transform(&p, x, n, y, &err) == 0, "%s (%s): transform", name, solver_name[solver]);
	for (int64_t c = 0; c < k; c++) {
		double m = 0, v = 0;

		for (int64_t i = 0; i < n; i++)
			m += y[i * k + c];
		m /= (double)n;
		for (int64_t i = 0; i < n; i++)
			v += (y[i * k + c] - m) * (y[i * k + c] - m);
		worst_var = fmax(worst_var, rel_err(v / (double)(n - 1), p.variance[c]));
		worst_mean = fmax(worst_mean, fabs(m) / sqrt(p.variance[0]));
	}
	/* randomized axes are approximate: A v has a little more variance than the s^2 found in Q Q^T A */
	ok(worst_var < (solver == XF_PCA_EXACT ? 1e-9 : 1e-6), "%s (%s): score variances equal the variances (%.2g)",
	   name, solver_name[solver], worst_var);
	ok(worst_mean < 1e-9, "%s (%s): scores centred (%.2g)", name, solver_name[solver], worst_mean);
	xf_pca_release(&p);
	free(y);
}

static void test_transform(void)
{
	int64_t n, d, r, c;
	double *x = fixture("offset", "x", &n, &d), *w = fixture("wideoffset", "x", &r, &c);
	double *dec = decaying(800, 60, 0.9, 3);

	if (x && w) {
		check_scores("offset", XF_PCA_EXACT, x, n, d, 2);
		check_scores("wideoffset", XF_PCA_EXACT, w, r, c, 4);
	}
	check_scores("decaying 800 x 60", XF_PCA_EXACT, dec, 800, 60, 8);
	check_scores("decaying 800 x 60", XF_PCA_RANDOMIZED, dec, 800, 60, 8);
	free(x), free(w), free(dec);
}

static void expect_error(const double *x, int64_t n, int64_t d, int64_t k, int code, const char *text,
			 const char *name)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_pca p;

	p.components = (double *)x; /* must be emptied */
	ok(xf_pca_fit(x, n, d, k, XF_PCA_AUTO, 0, &p, &err) < 0 && err.code == code && strstr(err.msg, text) &&
	   !p.components && !p.mean && !p.variance, "%s: error", name);
	printf("#   %s\n", err.msg);
}

static void test_errors(void)
{
	double x[24], y[12];
	struct xf_err err = XF_ERR_INIT;
	struct xf_pca p = { 0 };

	for (int i = 0; i < 24; i++)
		x[i] = i * i % 7;
	expect_error(x, 1, 4, 1, XF_E_USAGE, "got 1", "one row");
	expect_error(x, 6, 4, 0, XF_E_USAGE, "cannot keep 0 principal components of 6 rows x 4 columns", "k = 0");
	expect_error(x, 6, 4, 5, XF_E_USAGE, "need 1 <= k <= 4", "k > d");
	expect_error(x, 3, 8, 4, XF_E_USAGE, "need 1 <= k <= 3", "k > n");
	x[3 * 4 + 2] = NAN;
	expect_error(x, 6, 4, 2, XF_E_FORMAT, "row 3 column 2 is NaN", "NaN");
	x[3 * 4 + 2] = -INFINITY;
	expect_error(x, 6, 4, 2, XF_E_FORMAT, "row 3 column 2 is infinite", "infinity");
	x[3 * 4 + 2] = 1;
	ok(xf_pca_transform(&p, x, 6, y, &err) < 0 && err.code == XF_E_USAGE, "transform before fit: error");
	xf_pca_fit(x, 6, 4, 2, XF_PCA_EXACT, 0, &p, &err);
	x[5 * 4] = NAN;
	ok(xf_pca_transform(&p, x, 6, y, &err) < 0 && err.code == XF_E_FORMAT && strstr(err.msg, "row 5 column 0"),
	   "transform of a NaN: error naming it");
	ok(xf_pca_transform(&p, x, 0, y, &err) == 0, "transform of 0 rows");
	xf_pca_release(&p);
	xf_pca_release(&p);
	ok(!p.components, "release twice is safe");
}

/* The AUTO rule picks the exact solver for d <= 1000: its result equals XF_PCA_EXACT's bits. */
static void test_auto(void)
{
	double *x = decaying(300, 50, 0.9, 17);
	struct xf_err err = XF_ERR_INIT;
	struct xf_pca a, e;

	xf_pca_fit(x, 300, 50, 5, XF_PCA_AUTO, 1, &a, &err);
	xf_pca_fit(x, 300, 50, 5, XF_PCA_EXACT, 1, &e, &err);
	ok(same_fit(&a, &e), "auto with d = 50 is exact");
	xf_pca_release(&a), xf_pca_release(&e);
	free(x);
}

/* Identical rows: every variance 0, and still k orthonormal axes (no division by a zero s). */
static void test_constant(void)
{
	double x[27];
	struct xf_err err = XF_ERR_INIT;
	struct xf_pca p;

	for (int solver = XF_PCA_EXACT; solver <= XF_PCA_RANDOMIZED; solver++)
		for (int wide = 0; wide < 2; wide++) {
			int64_t n = wide ? 3 : 9, d = wide ? 9 : 3, k = 3;

			for (int64_t i = 0; i < n * d; i++)
				x[i] = 1e3 + 0.1 * (double)(i % d);
			if (!ok(xf_pca_fit(x, n, d, k, solver, 0, &p, &err) == 0, "constant %lld x %lld (%s): fit",
				(long long)n, (long long)d, solver_name[solver]))
				continue;
			ok(p.variance[0] < 1e-20 && p.total_variance < 1e-20 &&
			   orthonormality_error(p.components, k, d) < 1e-12,
			   "constant %lld x %lld (%s): variances 0, axes orthonormal", (long long)n, (long long)d,
			   solver_name[solver]);
			xf_pca_release(&p);
		}
}

int main(void)
{
	test_line(XF_PCA_EXACT);
	test_line(XF_PCA_RANDOMIZED);
	test_fixture("basic");
	test_fixture("offset");
	test_fixture("full");
	test_fixture("wide");
	test_fixture("wideoffset");
	test_fixture("widefull");
	test_randomized_vs_exact(2000, 300, 10);
	test_randomized_vs_exact(150, 400, 10);
	test_determinism();
	test_transform();
	test_auto();
	test_constant();
	test_errors();
	return done_testing();
}
