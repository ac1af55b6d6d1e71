/*
 * Unit tests for lib/score_osborn.c (OSBORN, docs/scores.md section 12): two models on four
 * rows worked by hand, the refused inputs, then the fixtures of
 * tests/data/scores/make-osborn-fixtures.py (terms, every subset's score, greedy choices)
 * against tests/ref/ref_osborn.py's values in ref.json. Fixtures are found under
 * $XF_TEST_DATA (default tests/data), so run from the top directory.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score-fixtures.h"
#include "score_osborn.h"
#include "tap.h"

#define REL_TOL 1e-9

static int near(double got, double want)
{
	return fabs(got - want) <= fmax(REL_TOL * fabs(want), 1e-12);
}

/* ---- by hand ---- */

/*
 * y = 0 0 1 1.
 * Model 0, d = 1: target 0 1 2 3, source 4 1 3 2. In one dimension the sorted matching is
 * optimal for a convex cost: 0-1, 1-2, 2-3, 3-4, each costing 1, so W_D = 4 / 4 = 1.
 * Its predictions z0 = 0 0 1 1 equal y: W_T = H(Z0|Y) = 0.
 * Model 1, d = 2: target (0,0) (1,0) (0,1) (1,1) = b; six source rows, of which m =
 * min(300, 6, 4) = 4 are used: 3b in another order, (3,3) (0,0) (0,3) (3,0). For a = 3b
 * permuted, sum ||a - b_pi||^2 = 9 sum|b|^2 + sum|b|^2 - 6 sum b.b_pi is least when pi pairs
 * each a with the b it is 3 times: 9*4 + 4 - 6*4 = 16, so W_D = 4. The two far rows
 * (100,100) and (-50,7) would change that if they were read.
 * z1 = 0 1 0 1 (row 2 is [.5 .5], a tie: the first index): given either label, z1 is 0 or 1
 * half the time, so W_T = H(Z1|Y) = ln 2.
 * W_C = H(Z0|Z1) + H(Z1|Z0) = ln 2 + ln 2 (each z0 value meets both z1 values equally).
 * OSBORN: {0} = 1, {1} = 4 + ln 2, {0,1} = 1 + 4 + ln 2 + 2 ln 2 = 5 + 3 ln 2.
 */
static double hand_f0[] = { 0, 1, 2, 3 }, hand_s0[] = { 4, 1, 3, 2 };
static double hand_f1[] = { 0, 0, 1, 0, 0, 1, 1, 1 }, hand_s1[] = { 3, 3, 0, 0, 0, 3, 3, 0, 100, 100, -50, 7 };
static double hand_p0[] = { .9, .1, .8, .2, .3, .7, .4, .6 }, hand_p1[] = { .6, .4, .2, .8, .5, .5, .1, .9 };
static int64_t hand_y[] = { 0, 0, 1, 1 };

static void hand_data(struct xf_score_data *d, struct xf_osborn_model *models)
{
	d[0] = (struct xf_score_data){ .n = 4, .d = 1, .f = hand_f0, .y = hand_y, .c = 2, .p = hand_p0, .cs = 2 };
	d[1] = (struct xf_score_data){ .n = 4, .d = 2, .f = hand_f1, .y = hand_y, .c = 2, .p = hand_p1, .cs = 2 };
	models[0] = (struct xf_osborn_model){ &d[0], hand_s0, 4 };
	models[1] = (struct xf_osborn_model){ &d[1], hand_s1, 6 };
}

static void test_terms_by_hand(const struct xf_osborn_terms *t)
{
	is_int(xf_osborn_count(t), 2, "two models");
	is_near(xf_osborn_domain(t, 0), 1, 1e-15, "W_D(0) = 1: the sorted matching in one dimension");
	is_near(xf_osborn_domain(t, 1), 4, 1e-14, "W_D(1) = 4: only the first 4 of 6 source rows");
	is_int(xf_osborn_domain_rows(t, 1), 4, "W_D(1) over m = 4 rows");
	is_near(xf_osborn_task(t, 0), 0, 0, "W_T(0) = 0 exactly: predictions are the labels");
	is_near(xf_osborn_task(t, 1), log(2), 1e-15, "W_T(1) = ln 2 (a tie takes the first index)");
	is_near(xf_osborn_cohesion(t, 0, 1), 2 * log(2), 1e-15, "W_C(0,1) = 2 ln 2");
	is_near(xf_osborn_cohesion(t, 1, 0), 2 * log(2), 1e-15, "W_C is symmetric");
	is_near(xf_osborn_cohesion(t, 1, 1), 0, 0, "W_C(1,1) = 0");
}

static void test_scores_by_hand(const struct xf_osborn_terms *t)
{
	static const int zero[] = { 0 }, one[] = { 1 }, both[] = { 0, 1 }, back[] = { 1, 0 };
	struct xf_osborn_weights entropy_only = { 0, 1, 1 };

	is_near(xf_osborn_score(t, NULL, zero, 1), 1, 1e-15, "OSBORN{0} = 1");
	is_near(xf_osborn_score(t, NULL, one, 1), 4 + log(2), 1e-14, "OSBORN{1} = 4 + ln 2");
	is_near(xf_osborn_score(t, NULL, both, 2), 5 + 3 * log(2), 1e-14, "OSBORN{0,1} = 5 + 3 ln 2");
	is_near(xf_osborn_score(t, NULL, back, 2), 5 + 3 * log(2), 1e-14, "OSBORN{1,0} is the same");
	is_near(xf_osborn_score(t, &entropy_only, both, 2), 3 * log(2), 1e-15, "weights 0 1 1: 3 ln 2");
	is_near(xf_osborn_score(t, NULL, NULL, 0), 0, 0, "the empty ensemble scores 0");
}

static void test_greedy_by_hand(const struct xf_osborn_terms *t)
{
	struct xf_osborn_weights cohesion_only = { 0, 0, 1 }, reward_domain = { -1, 0, 0 };
	struct xf_err err = XF_ERR_INIT;
	int chosen[2] = { -1, -1 };
	double out = NAN;

	ok(xf_osborn_greedy(t, NULL, 1, chosen, &out, &err) == 0 && chosen[0] == 0 && out == 1,
	   "greedy k=1 picks model 0 (OSBORN 1 against 4.69)");
	ok(xf_osborn_greedy(t, NULL, 2, chosen, &out, &err) == 0 && chosen[0] == 0 && chosen[1] == 1,
	   "greedy k=2 picks 0 then 1");
	is_near(out, 5 + 3 * log(2), 1e-14, "greedy k=2 reports 5 + 3 ln 2");
	ok(xf_osborn_greedy(t, &cohesion_only, 1, chosen, &out, &err) == 0 && chosen[0] == 0 && out == 0,
	   "a tie (both singletons score 0 on cohesion alone) takes the lowest index");
	ok(xf_osborn_greedy(t, &reward_domain, 1, chosen, &out, &err) == 0 && chosen[0] == 1 && out == -4,
	   "the smallest score wins: a negative domain weight picks model 1 (-4)");
}

static void test_by_hand(void)
{
	struct xf_score_data d[2];
	struct xf_osborn_model models[2];
	struct xf_err err = XF_ERR_INIT;
	struct xf_osborn_terms *t;

	hand_data(d, models);
	if (!ok((t = xf_osborn_terms_new(models, 2, &err)) != NULL, "hand case: terms computed")) {
		printf("# %s\n", err.msg);
		return;
	}
	test_terms_by_hand(t);
	test_scores_by_hand(t);
	test_greedy_by_hand(t);
	xf_osborn_terms_free(t);
}

/* ---- refused inputs ---- */

/* terms_new on the hand case after `spoil` changed it must fail with code and a message containing want. */
static void refused(const char *what, void (*spoil)(struct xf_score_data *, struct xf_osborn_model *), int code,
		    const char *want)
{
	struct xf_score_data d[2];
	struct xf_osborn_model models[2];
	struct xf_err err = XF_ERR_INIT;
	struct xf_osborn_terms *t;

	hand_data(d, models);
	spoil(d, models);
	t = xf_osborn_terms_new(models, 2, &err);
	ok(!t && err.code == code && strstr(err.msg, want), "%s refused: %s", what, err.msg);
	xf_osborn_terms_free(t);
}

static int64_t other_y[] = { 0, 1, 1, 1 }, bad_y[] = { 0, 0, 1, 2 };
static double nan_source[] = { 4, 1, NAN, 2 }, inf_target[] = { 0, 1, INFINITY, 3 };

static void no_source(struct xf_score_data *d, struct xf_osborn_model *m) { (void)d, m[1].source_f = NULL; }
static void no_source_rows(struct xf_score_data *d, struct xf_osborn_model *m) { (void)d, m[0].source_n = 0; }
static void no_p(struct xf_score_data *d, struct xf_osborn_model *m) { (void)m, d[0].p = NULL; }
static void no_f(struct xf_score_data *d, struct xf_osborn_model *m) { (void)m, d[1].f = NULL, d[1].d = 0; }
static void no_y(struct xf_score_data *d, struct xf_osborn_model *m) { (void)m, d[1].y = NULL; }
static void no_target(struct xf_score_data *d, struct xf_osborn_model *m) { (void)d, m[1].target = NULL; }
static void fewer_rows(struct xf_score_data *d, struct xf_osborn_model *m) { (void)m, d[1].n = 3; }
static void other_labels(struct xf_score_data *d, struct xf_osborn_model *m) { (void)m, d[1].y = other_y; }
static void label_range(struct xf_score_data *d, struct xf_osborn_model *m) { (void)m, d[0].y = bad_y; }
static void nan_src(struct xf_score_data *d, struct xf_osborn_model *m) { (void)d, m[0].source_f = nan_source; }
static void inf_tgt(struct xf_score_data *d, struct xf_osborn_model *m) { (void)m, d[0].f = inf_target; }

static void test_refused_terms(void)
{
	struct xf_err err = XF_ERR_INIT;

	ok(!xf_osborn_terms_new(NULL, 0, &err) && err.code == XF_E_USAGE, "no models refused: %s", err.msg);
	refused("missing source features", no_source, XF_E_USAGE, "model 1: no source-domain features");
	refused("zero source rows", no_source_rows, XF_E_USAGE, "model 0: no source-domain features");
	refused("missing probabilities", no_p, XF_E_USAGE, "model 0: no probabilities");
	refused("missing target features", no_f, XF_E_USAGE, "model 1: no features");
	refused("missing labels", no_y, XF_E_USAGE, "model 1: no labels");
	refused("missing target data", no_target, XF_E_USAGE, "model 1 has no target data");
	refused("different row counts", fewer_rows, XF_E_FORMAT, "model 1 has 3 target rows, model 0 has 4");
	refused("different labels", other_labels, XF_E_FORMAT, "label of target row 1 is 1, model 0 has 0");
	refused("a label out of range", label_range, XF_E_FORMAT, "model 0: label 2 of row 3");
	refused("a NaN source feature", nan_src, XF_E_FORMAT, "model 0: source-domain feature 0 of row 2 is NaN");
	refused("an infinite target feature", inf_tgt, XF_E_FORMAT, "model 0: feature 0 of row 2 is infinite");
}

static void test_refused_use(void)
{
	struct xf_score_data d[2];
	struct xf_osborn_model models[2];
	struct xf_osborn_weights nan_weight = { 1, NAN, 1 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_osborn_terms *t;
	int chosen[3] = { 0, 1, 2 }, negative[] = { -1 };
	double out = 42;

	hand_data(d, models);
	if (!(t = xf_osborn_terms_new(models, 2, &err)))
		return;
	ok(xf_osborn_greedy(t, NULL, 3, chosen, &out, &err) < 0 && err.code == XF_E_USAGE && out == 42,
	   "k above the pool refused: %s", err.msg);
	ok(xf_osborn_greedy(t, NULL, 0, chosen, &out, &err) < 0 && err.code == XF_E_USAGE, "k = 0 refused: %s",
	   err.msg);
	ok(xf_osborn_greedy(t, NULL, -1, chosen, &out, &err) < 0, "k < 0 refused: %s", err.msg);
	ok(xf_osborn_greedy(t, &nan_weight, 1, chosen, &out, &err) < 0 && err.code == XF_E_USAGE,
	   "a NaN weight refused: %s", err.msg);
	ok(xf_osborn_greedy(NULL, NULL, 1, chosen, &out, &err) < 0, "no terms refused: %s", err.msg);
	ok(isnan(xf_osborn_score(t, NULL, chosen, 3)), "score: an index beyond the pool is NaN");
	ok(isnan(xf_osborn_score(t, NULL, negative, 1)), "score: a negative index is NaN");
	ok(isnan(xf_osborn_score(t, NULL, chosen, -1)), "score: k < 0 is NaN");
	ok(isnan(xf_osborn_domain(t, 2)) && isnan(xf_osborn_task(t, -1)) && isnan(xf_osborn_cohesion(t, 0, 2)) &&
	   xf_osborn_domain_rows(t, 5) == -1, "accessors out of range give NaN (rows: -1)");
	xf_osborn_terms_free(t);
	xf_osborn_terms_free(NULL);
}

/* ---- fixtures ---- */

struct pool {
	int n;
	struct xf_score_data data[8];
	struct xf_osborn_model models[8];
	int64_t *y;
	double *arrays[8][3];   /* target features, source features, probabilities */
};

static void pool_free(struct pool *p)
{
	for (int s = 0; s < p->n; s++)
		for (int k = 0; k < 3; k++)
			free(p->arrays[s][k]);
	free(p->y);
}

/* Load CASE's models; 0 when every array loaded with consistent shapes. */
static int pool_load(struct pool *p, const char *name, int n)
{
	static const char *const suffix[3] = { "x", "src", "p" };
	int64_t rows, one, r[3], cols[3];
	int good = 1;

	memset(p, 0, sizeof(*p));
	p->y = fixture_load("osborn", name, "y", &rows, &one);
	for (int s = 0; s < n && s < 8; s++, p->n++) {
		for (int k = 0; k < 3; k++) {
			char what[16];

			snprintf(what, sizeof(what), "m%d-%s", s, suffix[k]);
			p->arrays[s][k] = fixture_load("osborn", name, what, &r[k], &cols[k]);
			good = good && p->arrays[s][k];
		}
		good = good && p->y && r[0] == rows && r[2] == rows && cols[1] == cols[0];
		p->data[s] = (struct xf_score_data){ .n = rows, .d = cols[0], .f = p->arrays[s][0], .y = p->y,
						     .c = p->y ? fixture_classes(p->y, rows) : 0, .p = p->arrays[s][2],
						     .cs = cols[2] };
		p->models[s] = (struct xf_osborn_model){ &p->data[s], p->arrays[s][1], r[1] };
	}
	return good && n <= 8 ? 0 : -1;
}

static void check_terms(const char *name, const struct xf_osborn_terms *t, json_t *jt)
{
	int n = xf_osborn_count(t), bad = 0;

	for (int s = 0; s < n; s++) {
		bad += !near(xf_osborn_domain(t, s), json_number_value(json_array_get(json_object_get(jt, "domain"), s)));
		bad += xf_osborn_domain_rows(t, s) != json_integer_value(json_array_get(json_object_get(jt, "rows"), s));
		bad += !near(xf_osborn_task(t, s), json_number_value(json_array_get(json_object_get(jt, "task"), s)));
		for (int j = 0; j < n; j++)
			bad += !near(xf_osborn_cohesion(t, s, j),
				     json_number_value(json_array_get(json_array_get(json_object_get(jt, "cohesion"), s), j)));
	}
	ok(bad == 0, "%s: W_D, its m, W_T and W_C of %d models match numpy/scipy (%d differ)", name, n, bad);
	for (int s = 0; bad && s < n; s++)
		printf("#   model %d: W_D %.17g (m %lld), W_T %.17g\n", s, xf_osborn_domain(t, s),
		       (long long)xf_osborn_domain_rows(t, s), xf_osborn_task(t, s));
}

static int chosen_of(json_t *list, int *chosen)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		chosen[i] = (int)json_integer_value(v);
	return (int)json_array_size(list);
}

static void check_subsets(const char *name, const struct xf_osborn_terms *t, json_t *subsets,
			  const struct xf_osborn_weights *weighted)
{
	int bad = 0, chosen[8];
	size_t i;
	json_t *c;

	json_array_foreach(subsets, i, c) {
		int k = chosen_of(json_object_get(c, "chosen"), chosen);

		bad += !near(xf_osborn_score(t, NULL, chosen, k), json_number_value(json_object_get(c, "unit")));
		bad += !near(xf_osborn_score(t, weighted, chosen, k), json_number_value(json_object_get(c, "weighted")));
	}
	ok(bad == 0 && i > 0, "%s: OSBORN of %zu ensembles, unit and weighted (%d differ)", name, i, bad);
}

static void check_greedy(const char *name, const struct xf_osborn_terms *t, json_t *greedy,
			 const struct xf_osborn_weights *weighted)
{
	size_t i;
	json_t *g;

	json_array_foreach(greedy, i, g) {
		int k = (int)json_integer_value(json_object_get(g, "k")), want[8], got[8];
		const char *label = json_string_value(json_object_get(g, "weights"));
		double out = NAN, score = json_number_value(json_object_get(g, "score"));
		struct xf_err err = XF_ERR_INIT;

		chosen_of(json_object_get(g, "chosen"), want);
		if (xf_osborn_greedy(t, strcmp(label, "unit") ? weighted : NULL, k, got, &out, &err) < 0)
			printf("# %s\n", err.msg);
		ok(!memcmp(got, want, (size_t)k * sizeof(int)) && near(out, score),
		   "%s: greedy k=%d (%s) picks as numpy, score %.12g (got %.12g)", name, k, label, score, out);
	}
}

static void check_case(json_t *jc, const struct xf_osborn_weights *weighted)
{
	const char *name = json_string_value(json_object_get(jc, "name"));
	int n = (int)json_integer_value(json_object_get(jc, "models"));
	struct xf_err err = XF_ERR_INIT;
	struct xf_osborn_terms *t = NULL;
	struct pool p;

	if (ok(pool_load(&p, name, n) == 0, "%s: fixture arrays of %d models load", name, n) &&
	    !ok((t = xf_osborn_terms_new(p.models, n, &err)) != NULL, "%s: terms computed", name))
		printf("# %s\n", err.msg);
	if (t) {
		check_terms(name, t, json_object_get(jc, "terms"));
		check_subsets(name, t, json_object_get(jc, "subsets"), weighted);
		check_greedy(name, t, json_object_get(jc, "greedy"), weighted);
	}
	xf_osborn_terms_free(t);
	pool_free(&p);
}

static void test_fixtures(void)
{
	json_error_t jerr;
	json_t *ref = json_load_file(fixture_path("osborn", "ref.json"), 0, &jerr), *jc, *jw;
	struct xf_osborn_weights weighted;
	size_t i;

	if (!ok(ref != NULL, "ref.json loads")) {
		printf("# %s: %s\n", fixture_path("osborn", "ref.json"), jerr.text);
		return;
	}
	jw = json_object_get(ref, "weighted");
	weighted = (struct xf_osborn_weights){ json_number_value(json_array_get(jw, 0)),
					       json_number_value(json_array_get(jw, 1)),
					       json_number_value(json_array_get(jw, 2)) };
	json_array_foreach(json_object_get(ref, "cases"), i, jc)
		check_case(jc, &weighted);
	ok(i == 2, "two fixture cases");
	json_decref(ref);
}

int main(void)
{
	test_by_hand();
	test_refused_terms();
	test_refused_use();
	test_fixtures();
	return done_testing();
}
