/*
 * Unit tests for lib/score_shrinkage.c and lib/score_sfda.c (docs/scores.md sections 6 and 9):
 * small cases checked by hand or against a scalar re-derivation, invariances, then the fixtures
 * of tests/data/scores/sfda (make-sfda-fixtures.py there, values from tests/ref/ref_sfda.py)
 * to 1e-6 relative. Fixtures are found under $XF_TEST_DATA (default tests/data): run from the top.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score-fixtures.h"
#include "tap.h"

#define FIXTURE_TOLERANCE 1e-6
#define INVARIANCE_TOLERANCE 1e-10

struct features {
	int64_t n, d;
	double *f;
	int64_t *y;
};

/* Run one metric through the table, the input check and a fresh cache; NAN on failure. */
static double run(const char *metric, int64_t n, int64_t d, const double *f, const int64_t *y)
{
	struct xf_score_data data = { n, d, f, y, fixture_classes(y, n), NULL, 0, 1 };

	return fixture_run(metric, &data);
}

static int rel_near(double got, double want, double tol)
{
	return fabs(got - want) <= tol * fmax(fabs(want), 1e-300);
}

static void is_rel(double got, double want, double tol, const char *name)
{
	if (!ok(rel_near(got, want, tol), "%s", name))
		printf("#   got %.17g, want %.17g (relative error %.3g)\n", got, want, fabs(got - want) / fabs(want));
}

static void test_table(void)
{
	const char *names[] = { "hscore_shrinkage", "sfda" };

	for (int i = 0; i < 2; i++) {
		const struct xf_metric *m = xf_metric_find(names[i]);

		ok(m && m->needs == (XF_NEEDS_F | XF_NEEDS_Y) && m->higher_is_better && m->summary && m->compute,
		   "table: %s needs F and y, higher is better", names[i]);
	}
}

/*
 * In 1-D Ledoit-Wolf's target is S itself, so alpha = 0 and H = tr(S^-1 cov G) with S biased
 * and cov G unbiased: Fc = (-6, -4, 4, 6), S = 104/4, centred class means -5 and 5,
 * cov G = 4 * 25 / 3, H = (100/3) / 26.
 */
static void test_shrinkage_1d(void)
{
	double f[] = { 0, 2, 10, 12 };
	int64_t y[] = { 0, 0, 1, 1 };

	is_near(run("hscore_shrinkage", 4, 1, f, y), 100.0 / 78.0, 1e-14, "hscore_shrinkage 1-D: alpha 0, H = 100/78");
}

/*
 * Rows (2,0), (0,1), (-2,0), (0,-1): S = diag(2, 1/2), mu = 5/4, sum |x|^4 = 34, |S|_F^2 = 17/4,
 * b = (34/4 - 17/4) / 8 = 17/32, d = |S - mu I|^2 / 2 = 9/16, alpha = 17/18;
 * Sigma = diag(93/72, 87/72). Class means (1, 1/2) and (-1, -1/2), cov G = 4/3 [1 1/2; 1/2 1/4].
 * With 1.5 for 2, b = (1.5^4 + 1) / 32 exceeds d = (1.5^2 - 1)^2 / 16: alpha = 1 and H = 0.
 */
static void test_shrinkage_2d(void)
{
	double f[] = { 2, 0, 0, 1, -2, 0, 0, -1 };
	int64_t y[] = { 0, 0, 1, 1 };
	double alpha = 17.0 / 18, want = (1 - alpha) * 4.0 / 3 * (72.0 / 93 + 0.25 * 72.0 / 87);

	is_near(run("hscore_shrinkage", 4, 2, f, y), want, 1e-14, "hscore_shrinkage 2-D: alpha 17/18 by hand");
	f[2] = -2, f[3] = 0, f[4] = 0, f[5] = 1;  /* swap rows 2 and 3: both class means are 0 */
	is_near(run("hscore_shrinkage", 4, 2, f, y), 0, 1e-15, "hscore_shrinkage: equal class means give 0");
	f[0] = 1.5, f[1] = 0, f[2] = 0, f[3] = 1, f[4] = -1.5, f[5] = 0;  /* b = 97/512 > d = 25/256 */
	is_near(run("hscore_shrinkage", 4, 2, f, y), 0, 0, "hscore_shrinkage: b clipped to d, alpha 1, H = 0");
}

/*
 * SFDA in 1-D with scalar algebra: Sw' = Sw whatever lambda is (the shrinkage target of a
 * 1 x 1 matrix is itself), and the power iteration returns Sw, so the logits are
 * x m_c / s - m_c^2 / (2 s) + log p_c. Written independently of score_sfda.c.
 */
static void fit_1d(const double *x, const int64_t *y, int n, int k, double *prob)
{
	double mean[8] = { 0 }, count[8] = { 0 }, sw = 0;

	for (int i = 0; i < n; i++)
		mean[y[i]] += x[i], count[y[i]]++;
	for (int c = 0; c < k; c++)
		mean[c] /= count[c];
	for (int i = 0; i < n; i++)
		sw += (x[i] - mean[y[i]]) * (x[i] - mean[y[i]]) / n;
	for (int i = 0; i < n; i++) {
		double z[8], top = -INFINITY, sum = 0;

		for (int c = 0; c < k; c++)
			top = fmax(top, z[c] = (x[i] * mean[c] - mean[c] * mean[c] / 2) / sw + log(count[c] / n));
		for (int c = 0; c < k; c++)
			sum += z[c] = exp(z[c] - top);
		for (int c = 0; c < k; c++)
			prob[i * k + c] = z[c] / sum;
	}
}

static double sfda_1d(const double *x0, const int64_t *y, int n, int k)
{
	double x[64], prob[64 * 8], mean[8] = { 0 }, count[8] = { 0 }, total = 0, score = 0;

	memcpy(x, x0, n * sizeof(double));
	fit_1d(x, y, n, k, prob);
	for (int i = 0; i < n; i++) {
		double sum = 0;

		for (int c = 0; c < k; c++)
			sum += exp(prob[i * k + c]);
		prob[i * k + y[i]] = exp(prob[i * k + y[i]]) / sum;
	}
	for (int i = 0; i < n; i++)
		mean[y[i]] += x[i], count[y[i]]++;
	for (int c = 0; c < k; c++)
		total += mean[c] /= count[c];
	for (int i = 0; i < n; i++) {
		double q = prob[i * k + y[i]];

		x[i] = q * x[i] + (1 - q) * (total - mean[y[i]]) / (k - 1);
	}
	fit_1d(x, y, n, k, prob);
	for (int i = 0; i < n; i++)
		score += prob[i * k + y[i]] / n;
	return score;
}

static void test_sfda_1d(void)
{
	double far[] = { -11, -9, 9, 11 };
	int64_t yfar[] = { 0, 0, 1, 1 };
	double x[] = { 0, 0.5, 1.2, -0.3, 1.0, 1.6, 2.5, 2.0, 3.1, 2.7, 3.5, 1.8 };
	int64_t y[] = { 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2 };
	double got = run("sfda", 4, 1, far, yfar);

	ok(got > 1 - 1e-12 && got <= 1, "sfda: two well-separated classes in 1-D score 1 (got %.17g)", got);
	is_rel(run("sfda", 12, 1, x, y), sfda_1d(x, y, 12, 3), 1e-13, "sfda 1-D, 3 overlapping classes: scalar derivation");
}

/*
 * Every class a single point: Sw = 0, the power iteration meets a zero vector (numpy: NaN),
 * lambda = 1 and Sw' = 0 cannot be factored. An error, not a number.
 */
static void test_sfda_degenerate(void)
{
	double f[] = { 1, 1, 3, 3 };
	int64_t y[] = { 0, 0, 1, 1 };
	struct xf_score_data data = { 4, 1, f, y, 2, NULL, 0, 1 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_score_cache *cache = xf_score_cache_new(&data, &err);
	double out = 0;

	ok(xf_metric_find("sfda")->compute(&data, cache, &out, &err) == -1 && err.code == XF_E_FORMAT &&
	   strstr(err.msg, "sfda: shrunk within-class covariance"), "sfda: zero within-class covariance is an error");
	printf("#   %s\n", err.msg);
	xf_score_cache_free(cache);
}

static int load_case(const char *name, struct features *out)
{
	struct xf_tensor x = XF_TENSOR_INIT, y = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	char file[128];
	int rc = -1;

	snprintf(file, sizeof(file), "%s-x.npy", name);
	if (xf_npy_load_file(fixture_path("sfda", file), &x, &err) == 0) {
		snprintf(file, sizeof(file), "%s-y.npy", name);
		rc = xf_npy_load_file(fixture_path("sfda", file), &y, &err);
	}
	if (rc == 0 && (x.dtype != XF_DTYPE_F32 || x.ndim != 2 || y.dtype != XF_DTYPE_I64 || y.ndim != 1 ||
			y.shape[0] != x.shape[0]))
		rc = xf_err_set(&err, XF_E_FORMAT, "unexpected dtype or shape");
	if (rc == 0) {
		out->n = x.shape[0], out->d = x.shape[1];
		out->f = malloc(out->n * out->d * sizeof(double));
		out->y = malloc(out->n * sizeof(int64_t));
		if (!out->f || !out->y)
			abort();
		for (int64_t i = 0; i < out->n * out->d; i++)
			out->f[i] = ((const float *)x.data)[i];
		memcpy(out->y, y.data, out->n * sizeof(int64_t));
	} else {
		printf("# %s: %s\n", name, err.msg);
	}
	xf_tensor_release(&x);
	xf_tensor_release(&y);
	return rc;
}

static void free_case(struct features *c)
{
	free(c->f), free(c->y);
}

/* Translation invariance at 1e-10, far tighter than the fixture tolerance. */
static void check_offset(const struct features *c, double h, double s)
{
	double *shifted = malloc(c->n * c->d * sizeof(double));

	for (int64_t i = 0; i < c->n * c->d; i++)
		shifted[i] = c->f[i] - 1000.0;  /* exact: float32 values near 1000 */
	is_rel(h, run("hscore_shrinkage", c->n, c->d, shifted, c->y), INVARIANCE_TOLERANCE,
	       "offset: hscore_shrinkage unchanged by -1000");
	is_rel(s, run("sfda", c->n, c->d, shifted, c->y), INVARIANCE_TOLERANCE, "offset: sfda unchanged by -1000");
	free(shifted);
}

/* Labels 0, 1, 3 against 0, 1, 2: an empty class changes neither score. */
static void check_gap(const struct features *c, double h, double s)
{
	int64_t *packed = malloc(c->n * sizeof(int64_t));

	for (int64_t i = 0; i < c->n; i++)
		packed[i] = c->y[i] == 3 ? 2 : c->y[i];
	is_rel(h, run("hscore_shrinkage", c->n, c->d, c->f, packed), 1e-13, "label-gap: hscore_shrinkage as if packed");
	is_rel(s, run("sfda", c->n, c->d, c->f, packed), 1e-13, "label-gap: sfda as if packed");
	free(packed);
}

static void test_case(json_t *entry)
{
	const char *name = json_string_value(json_object_get(entry, "name"));
	struct features c = { 0 };
	double h, s, *copy;

	if (!ok(name && load_case(name, &c) == 0, "fixture %s loads", name ? name : "?"))
		return;
	copy = malloc(c.n * c.d * sizeof(double));
	memcpy(copy, c.f, c.n * c.d * sizeof(double));
	h = run("hscore_shrinkage", c.n, c.d, c.f, c.y);
	s = run("sfda", c.n, c.d, c.f, c.y);
	is_rel(h, json_real_value(json_object_get(entry, "hscore_shrinkage")), FIXTURE_TOLERANCE,
	       "fixture hscore_shrinkage matches the numpy reference");
	is_rel(s, json_real_value(json_object_get(entry, "sfda")), FIXTURE_TOLERANCE,
	       "fixture sfda matches the numpy reference");
	ok(!memcmp(copy, c.f, c.n * c.d * sizeof(double)), "%s: features untouched (ConfMix works on a copy)", name);
	if (!strcmp(name, "offset"))
		check_offset(&c, h, s);
	if (!strcmp(name, "label-gap"))
		check_gap(&c, h, s);
	free(copy);
	free_case(&c);
}

static void test_fixtures(void)
{
	json_error_t jerr;
	json_t *root = json_load_file(fixture_path("sfda", "ref.json"), 0, &jerr), *cases = json_object_get(root, "cases");
	size_t i;
	json_t *entry;

	if (!ok(json_array_size(cases) >= 7, "ref.json lists the fixture cases"))
		printf("# %s: %s\n", fixture_path("sfda", "ref.json"), jerr.text);
	json_array_foreach(cases, i, entry) {
		printf("# case %s\n", json_string_value(json_object_get(entry, "name")));
		test_case(entry);
	}
	json_decref(root);
}

int main(void)
{
	test_table();
	test_shrinkage_1d();
	test_shrinkage_2d();
	test_sfda_1d();
	test_sfda_degenerate();
	test_fixtures();
	return done_testing();
}
