/*
 * Unit tests for lib/score_prob.c, score_gbc.c and score_tmi.c: LEEP, NCE, accuracy, nll,
 * GBC and TMI on cases worked by hand, digamma against scipy, TMI's early-exit search
 * against a plain one and across thread counts, then the fixtures of
 * tests/data/scores/make-prob-fixtures.py against its numpy reference values (ref.json).
 * Fixtures are found under $XF_TEST_DATA (default tests/data), so run from the top directory.
 */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score-fixtures.h"
#include "score_metrics.h"
#include "tap.h"

#define REL_TOL 1e-6

/* ---- digamma ---- */

static void test_digamma(void)
{
	/* scipy.special.digamma 1.10.1 */
	static const double cases[][2] = {
		{ 0.001, -1000.5755719318103 }, { 0.5, -1.9635100260214235 }, { 1, -0.5772156649015329 },
		{ 1.4616321449683622, -9.241265521729427e-17 }, { 2, 0.42278433509846713 },
		{ 3, 0.9227843350984671 }, { 4, 1.2561176684318003 }, { 5, 1.5061176684318003 },
		{ 5.5, 1.611093148581751 }, { 6, 1.7061176684318005 }, { 9.99, 2.250700372831201 },
		{ 10, 2.251752589066721 }, { 37.25, 3.604169073005627 }, { 1000, 6.907255195648812 },
		{ 1e6, 13.81551005796419 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "digamma(%g)", cases[i][0]);
		is_near(xf_score_digamma(cases[i][0]), cases[i][1], 1e-14 * fmax(1, fabs(cases[i][1])), name);
	}
	ok(isnan(xf_score_digamma(0)) && isnan(xf_score_digamma(-2.5)), "digamma of x <= 0 is NaN");
}

/* ---- probabilities: LEEP, NCE, accuracy, nll ---- */

/*
 * P = [.8 .2; .6 .4; .7 .3; .1 .9], y = [0 0 1 1].
 * LEEP: column sums per class S0 = [1.4 .6], S1 = [.8 1.2]; pz = [2.2 1.8];
 * Q0 = [7/11 1/3], Q1 = [4/11 2/3]; eep = [19/33 17/33 15/33 21/33];
 * LEEP = (1/4) log(19 * 17 * 15 * 21 / 33^4).
 * NCE: z = [0 0 0 1]; n_z0 = 3 (labels 0 0 1), n_z1 = 1 (label 1);
 * NCE = (1/4) (2 log(2/3) + log(1/3) + log(1/1)) = (1/4) log(4/27).
 * accuracy = 3/4; nll = -(1/4) (log .8 + log .6 + log .3 + log .9).
 */
static void test_prob_by_hand(void)
{
	double p[] = { 0.8, 0.2, 0.6, 0.4, 0.7, 0.3, 0.1, 0.9 };
	int64_t y[] = { 0, 0, 1, 1 };
	struct xf_score_data d = { .n = 4, .y = y, .c = 2, .p = p, .cs = 2 };

	is_near(fixture_run("leep", &d), 0.25 * log(19.0 * 17 * 15 * 21 / pow(33, 4)), 1e-15, "leep by hand");
	is_near(fixture_run("nce", &d), 0.25 * log(4.0 / 27), 1e-15, "nce by hand");
	is_near(fixture_run("accuracy", &d), 0.75, 0, "accuracy by hand");
	is_near(fixture_run("nll", &d), -0.25 * (log(0.8) + log(0.6) + log(0.3) + log(0.9)), 1e-15, "nll by hand");

	/* ties go to the first index: row 2 becomes [.5 .5], argmax 0, label 1 */
	p[4] = p[5] = 0.5;
	is_near(fixture_run("accuracy", &d), 0.75, 0, "accuracy: ties take the first argmax");
	is_near(fixture_run("nce", &d), 0.25 * log(4.0 / 27), 1e-15, "nce: ties take the first argmax");

	/* a label with probability 0 costs -log(eps / (1 + eps)) rather than inf */
	p[6] = 0;
	p[7] = 1;
	y[3] = 0;
	is_near(fixture_run("nll", &d),
		-0.25 * (log(0.8) + log(0.6) + log(0.5) + log(DBL_EPSILON)),
		1e-13, "nll clips a zero probability to machine epsilon");
	/* rows are divided by their sum, as sklearn does: row 1 sums to .9995 */
	p[3] = 0.3995;
	is_near(fixture_run("nll", &d),
		-0.25 * (log(0.8) + log(0.6 / 0.9995) + log(0.5) + log(DBL_EPSILON)), 1e-13, "nll renormalises rows");
	y[3] = 2;
	d.c = 3;
	ok(isnan(fixture_run("nll", &d)), "nll: a label with no probability column is an error");
}

/* LEEP's Q[:, z] = 0 when the whole column z is 0 (thuml would divide 0 by 0). */
static void test_leep_zero_column(void)
{
	double p[] = { 0.5, 0.5, 0, 0.25, 0.75, 0, 1, 0, 0 };
	int64_t y[] = { 0, 1, 1 };
	struct xf_score_data d = { .n = 3, .y = y, .c = 2, .p = p, .cs = 3 };
	/* S0 = [.5 .5 0], S1 = [1.25 .75 0]; Q0 = [2/7 .4 0], Q1 = [5/7 .6 0];
	 * eep = [.5 (2/7 + .4), .25 * 5/7 + .75 * .6, 5/7] */
	double want = (log(0.5 * (2.0 / 7 + 0.4)) + log(0.25 * 5 / 7 + 0.75 * 0.6) + log(5.0 / 7)) / 3;

	is_near(fixture_run("leep", &d), want, 1e-15, "leep: an all-zero probability column is ignored");
}

/* ---- GBC ---- */

/*
 * 1-D: class 0 = {0, 2} (mean 1, variance 1), class 1 = {5, 9} (mean 7, variance 4);
 * s = 2.5, D_B = 36 / 2.5 / 8 + (1/2) (log 2.5 - (1/2) log 1 - (1/2) log 4) = 1.8 + (1/2) log 1.25,
 * GBC = -2 exp(-D_B) over the two ordered pairs; the spherical form is the same in 1-D.
 * 2-D: second coordinates {0, 0} and {0, 2}: variances (1, 0 -> 1e-4) and (4, 1), means (1, 0), (7, 1).
 */
static void test_gbc_by_hand(void)
{
	double f1[] = { 0, 2, 5, 9 }, f2[] = { 0, 0, 2, 0, 5, 0, 9, 2 };
	int64_t y[] = { 0, 0, 1, 1 };
	struct xf_score_data d = { .n = 4, .d = 1, .f = f1, .y = y, .c = 2 };
	double want = -2 * exp(-(1.8 + 0.5 * log(1.25))), db, s;

	is_near(fixture_run("gbc", &d), want, 1e-15, "gbc of two 1-D classes by hand");
	is_near(fixture_run("gbc_spherical", &d), want, 1e-15, "gbc_spherical of two 1-D classes by hand");
	d.d = 2;
	d.f = f2;
	want = -2 * exp(-((36 / 2.5 + 1 / 0.50005) / 8
			  + 0.5 * (log(2.5) + log(0.50005) - 0.5 * log(1e-4) - 0.5 * log(4))));
	is_near(fixture_run("gbc", &d), want, 1e-15, "gbc: a zero variance is floored at 1e-4");
	/* spherical: s0 = (1 + 1e-4) / 2, s1 = (4 + 1) / 2; the log terms once, without a factor D */
	s = (0.50005 + 2.5) / 2;
	db = (36 / s + 1 / s) / 8 + 0.5 * (log(s) - 0.5 * log(0.50005) - 0.5 * log(2.5));
	is_near(fixture_run("gbc_spherical", &d), -2 * exp(-db), 1e-15, "gbc_spherical: the official formula");

	/* an empty label value in between is skipped: the same two classes as labels 0 and 2 */
	y[2] = y[3] = 2;
	d.c = 3;
	is_near(fixture_run("gbc", &d), want, 1e-15, "gbc: an empty label value is skipped");
}

/* ---- TMI ---- */

/*
 * 1-D, k = 3. Class 0 = {0, 3, 7, 12, 20}: distances to the 3rd nearest other point are
 * 12, 9, 7, 9, 17. Class 1 = {100}: H = 0, counted. Class 2 = {30, 31}: dropped. Label 3:
 * empty, H = 0, counted. Class 4 = {50, 50.2, 50.4, 50.6, 55}: 3rd distances .6 .4 .4 .6 4.8,
 * the first four floored to 1. psi(5) - psi(3) = 1/3 + 1/4 = 7/12.
 * H0 = 7/12 + (1/5) log(24 * 18 * 14 * 18 * 34), H4 = 7/12 + (1/5) (4 log 2 + log 9.6);
 * N = 13, kept classes 0, 1, 3, 4: TMI = (5/13 H0 + 5/13 H4) / 4.
 */
static void test_tmi_by_hand(void)
{
	double f[] = { 0, 3, 100, 7, 30, 12, 31, 20, 50, 50.2, 50.4, 50.6, 55 };
	int64_t y[] = { 0, 0, 1, 0, 2, 0, 2, 0, 4, 4, 4, 4, 4 };
	struct xf_score_data d = { .n = 13, .d = 1, .f = f, .y = y, .c = 5 };
	double h0 = 7.0 / 12 + log(24.0 * 18 * 14 * 18 * 34) / 5, h4 = 7.0 / 12 + (4 * log(2) + log(9.6)) / 5;

	is_near(fixture_run("tmi", &d), (5.0 / 13 * h0 + 5.0 / 13 * h4) / 4, 1e-14, "tmi by hand");

	/* every class of 2..3 samples: nothing left to average */
	for (int i = 0; i < 13; i++)
		y[i] = i < 3 ? 0 : i < 5 ? 1 : i < 7 ? 2 : i < 10 ? 3 : 4;
	ok(isnan(fixture_run("tmi", &d)), "tmi: an error when every class has 2..k samples");
}

/* Deterministic uniform numbers in [0, 1) (a 64-bit LCG), for the larger cases. */
static double uniform(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*state >> 11) / 9007199254740992.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* TMI the slow way: every distance, sorted, no early exit and no threads; counts floored distances. */
static double tmi_plain(const struct xf_score_data *d, int64_t *floored)
{
	double *dist = malloc((size_t)d->n * sizeof(*dist)), sum = 0;
	int64_t kept = 0;

	for (int64_t c = 0; c < d->c; c++) {
		int64_t n_c = 0;
		double sum_log = 0;

		for (int64_t i = 0; i < d->n; i++)
			n_c += d->y[i] == c;
		kept += n_c <= 1 || n_c > 3;
		for (int64_t i = 0; n_c > 3 && i < d->n; i++) {
			int64_t m = 0;

			for (int64_t j = 0; d->y[i] == c && j < d->n; j++) {
				double dd = 0;

				for (int64_t t = 0; d->y[j] == c && j != i && t < d->d; t++)
					dd = fmax(dd, fabs(d->f[i * d->d + t] - d->f[j * d->d + t]));
				if (d->y[j] == c && j != i)
					dist[m++] = dd;
			}
			if (d->y[i] != c)
				continue;
			qsort(dist, (size_t)m, sizeof(*dist), cmp_double);
			*floored += dist[2] < 1;
			sum_log += log(2 * fmax(dist[2], 1.0));
		}
		if (n_c > 3)
			sum += (double)n_c / (double)d->n *
			       (-xf_score_digamma(3) + xf_score_digamma((double)n_c) + (double)d->d / (double)n_c * sum_log);
	}
	free(dist);
	return sum / (double)kept;
}

/*
 * A case large enough for two threads (n_c^2 d above the threshold) and for the lists of
 * deviant dimensions (d >= 64), with distances on both sides of the floor.
 */
static void test_tmi_search(void)
{
	int64_t n = 900, dim = 80, floored = 0;
	double *f = malloc((size_t)(n * dim) * sizeof(*f)), one, two;
	int64_t *y = malloc((size_t)n * sizeof(*y));
	uint64_t state = 42;
	struct xf_score_data d = { .n = n, .d = dim, .f = f, .y = y, .c = 3 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_score_cache *cache = xf_score_cache_new(&d, &err);

	for (int64_t i = 0; i < n; i++) {
		y[i] = i % 3;
		for (int64_t t = 0; t < dim; t++)
			f[i * dim + t] = (uniform(&state) - 0.5) * (y[i] == 0 ? 1.32 : y[i] == 1 ? 2.4 : 3.5) + (double)y[i];
	}
	ok(xf_score_tmi(&d, cache, 1, &one, &err) == 0 && xf_score_tmi(&d, cache, 2, &two, &err) == 0,
	   "tmi with one and two threads");
	ok(one == two, "tmi: the same bits with one and two threads (%.17g, %.17g)", one, two);
	is_near(one, tmi_plain(&d, &floored), 1e-12 * fabs(one), "tmi: early exits agree with the plain search");
	ok(floored > 0 && floored < n, "tmi: %lld of %lld distances below the floor", (long long)floored, (long long)n);
	xf_score_cache_free(cache);
	free(f);
	free(y);
}

/* ---- fixtures ---- */

/* Every metric in the case's "values" against the reference: relative, or absolute where abs_tol says. */
static void check_case(json_t *jcase)
{
	const char *name = json_string_value(json_object_get(jcase, "name")), *metric;
	json_t *values = json_object_get(jcase, "values"), *abs_tol = json_object_get(jcase, "abs_tol"), *want;
	int64_t n, dim, ny, one, np_, cs;
	double *f = fixture_load("prob", name, "x", &n, &dim), *p = fixture_load("prob", name, "p", &np_, &cs);
	int64_t *y = fixture_load("prob", name, "y", &ny, &one);
	struct xf_score_data d = { .n = n, .d = dim, .f = f, .y = y, .p = p, .cs = cs };

	if (!ok(f && y && p && ny == n && np_ == n && one == 1, "%s: fixture arrays load", name))
		goto out;
	d.c = fixture_classes(y, n);
	is_int(d.c, json_integer_value(json_object_get(jcase, "c")), "classes as the generator saw them");
	json_object_foreach(values, metric, want) {
		json_t *abs = json_object_get(abs_tol, metric);
		double ref = json_number_value(want), got = fixture_run(metric, &d);
		double tol = abs ? json_number_value(abs) : fmax(REL_TOL * fabs(ref), 1e-15);
		char label[128];

		snprintf(label, sizeof(label), "%s: %s (%s tolerance)", name, metric, abs ? "absolute" : "relative");
		is_near(got, ref, tol, label);
	}
out:
	free(f);
	free(y);
	free(p);
}

/* The small case's features are all within the floor: TMI = mean over classes of p_c (psi(n_c) - psi(3) + D log 2). */
static void check_floor_formula(void)
{
	int64_t n, dim, one, counts[3] = { 0 };
	double *f = fixture_load("prob", "small", "x", &n, &dim), want = 0;
	int64_t *y = fixture_load("prob", "small", "y", &n, &one);
	struct xf_score_data d = { .n = n, .d = dim, .f = f, .y = y, .c = 3 };

	if (f && y) {
		for (int64_t i = 0; i < n; i++)
			counts[y[i]]++;
		for (int c = 0; c < 3; c++)
			want += (double)counts[c] / (double)n *
				(xf_score_digamma((double)counts[c]) - xf_score_digamma(3) + (double)dim * log(2));
		is_near(fixture_run("tmi", &d), want / 3, 1e-12, "small: TMI depends only on D and the class sizes");
	} else {
		ok(0, "small: fixture arrays load");
	}
	free(f);
	free(y);
}

static void test_fixtures(void)
{
	json_error_t jerr;
	json_t *ref = json_load_file(fixture_path("prob", "ref.json"), 0, &jerr), *jcase;
	size_t i;

	if (!ok(ref != NULL, "ref.json loads")) {
		printf("# %s: %s\n", fixture_path("prob", "ref.json"), jerr.text);
		return;
	}
	json_array_foreach(json_object_get(ref, "cases"), i, jcase)
		check_case(jcase);
	ok(i == 5, "five fixture cases");
	json_decref(ref);
	check_floor_formula();
}

int main(void)
{
	test_digamma();
	test_prob_by_hand();
	test_leep_zero_column();
	test_gbc_by_hand();
	test_tmi_by_hand();
	test_tmi_search();
	test_fixtures();
	return done_testing();
}
