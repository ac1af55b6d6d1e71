/*
 * Unit tests for lib/score_ncti.c (NCTI, docs/scores.md section 10): the min-max combination by
 * hand, the error paths, then the model sets of tests/data/scores/ncti (make-ncti-fixtures.py
 * there, values from tests/ref/ref_ncti.py): every model's three parts and the combined scores to
 * 1e-8 relative. Fixtures are found under $XF_TEST_DATA (default tests/data): run from the top.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score-fixtures.h"
#include "score_ncti.h"
#include "tap.h"

#define FIXTURE_TOLERANCE 1e-8
#define MAX_MODELS 8

/* Within tol relative to |want|, or absolute below 1 (combined scores can be 0). */
static void is_rel(double got, double want, double tol, const char *name)
{
	if (!ok(fabs(got - want) <= tol * fmax(fabs(want), 1.0), "%s", name))
		printf("#   got %.17g, want %.17g (difference %.3g)\n", got, want, got - want);
}

/* The parts through a fresh cache; -1 with err on failure. */
static int parts_of(int64_t n, int64_t d, const double *f, const int64_t *y, struct xf_ncti_parts *out,
		    struct xf_err *err)
{
	struct xf_score_data data = { n, d, f, y, fixture_classes(y, n), NULL, 0, 1 };
	struct xf_score_cache *cache = xf_score_cache_new(&data, err);
	int rc = cache ? xf_score_ncti_parts(&data, cache, out, err) : -1;

	xf_score_cache_free(cache);
	return rc;
}

/*
 * seli 1 2 3 -> 0 .5 1; ncc .5 .7 .6 -> 0 1 .5; vc 2 2 2 is constant -> 0: scores 0 1.5 1.5.
 * With vc 1 3 2 -> 0 1 .5: 0 .5 1. One model: every part constant, score 0. No models: no-op.
 */
static void test_combine(void)
{
	struct xf_ncti_parts p[3] = { { 1, .5, 2 }, { 2, .7, 2 }, { 3, .6, 2 } };
	double s[3];

	xf_score_ncti_combine(p, 3, s);
	ok(s[0] == 0 && s[1] == 1.5 && s[2] == 1.5, "combine: constant vc contributes 0 (got %g %g %g)", s[0], s[1],
	   s[2]);
	p[0].vc = 1, p[1].vc = 3;
	xf_score_ncti_combine(p, 3, s);
	ok(s[0] == 0 && s[1] == 0.5 && s[2] == 1, "combine: mm(seli) + mm(ncc) - mm(vc) (got %g %g %g)", s[0], s[1],
	   s[2]);
	s[0] = NAN;
	xf_score_ncti_combine(p, 1, s);
	ok(s[0] == 0, "combine: a single model scores 0");
	s[0] = 7;
	xf_score_ncti_combine(NULL, 0, s);
	ok(s[0] == 7, "combine: no models, nothing written");
}

static void expect_error(int64_t n, int64_t d, const double *f, const int64_t *y, const char *needle,
			 const char *name)
{
	struct xf_ncti_parts parts;
	struct xf_err err = XF_ERR_INIT;
	int rc = parts_of(n, d, f, y, &parts, &err);

	ok(rc == -1 && err.code != XF_E_OK && strstr(err.msg, needle), "%s", name);
	printf("#   %s\n", err.msg);
}

/*
 * One class; as many rows as classes; every class a single point, at small scale (eigen
 * solver: Sw' = 0 whatever the shrinkage) and at large scale (svd solver: no within-class
 * direction); and a gap in the labels that leaves fewer rows than present classes + 1.
 */
static void test_errors(void)
{
	double f[] = { 1, 1, 3, 3 }, big[] = { 0, 0, 100, 100 }, three[] = { 1, 2, 3 };
	int64_t one[] = { 0, 0, 0, 0 }, y[] = { 0, 0, 1, 1 }, y3[] = { 0, 1, 4 };

	expect_error(4, 1, f, one, "at least two classes", "error: a single class");
	expect_error(3, 1, three, y3, "3 rows for 3 classes", "error: no more rows than (populated) classes");
	expect_error(4, 1, f, y, "ncti: shrunk within-class covariance", "error: eigen solver, singular Sw'");
	expect_error(4, 1, big, y, "no within-class variance", "error: svd solver, zero within-class scatter");
}

/*
 * Two classes with the same mean, x = -a a -a a. Either way the probabilities are the priors:
 * ncc = 1/2, and each class's rows (1/2, 1/2) have nuclear norm 1, so vc = log 2. At a = 100
 * (svd solver) the between-class SVD is exactly 0 and keeps no direction: seli = 0. At a = 0.1
 * (eigen solver, shrinkage exp(-4a^2/3)) Sb' = 0 still gives V = Sw'^(-1/2) = 1/a: the
 * projection is +-1 and seli = 2.
 */
static void test_equal_means(void)
{
	double big[] = { -100, 100, -100, 100 }, small[] = { -0.1, 0.1, -0.1, 0.1 };
	int64_t y[] = { 0, 0, 1, 1 };
	struct xf_ncti_parts p;
	struct xf_err err = XF_ERR_INIT;

	if (ok(parts_of(4, 1, big, y, &p, &err) == 0, "equal means, svd solver: parts computed"))
		ok(p.seli == 0 && p.ncc == 0.5 && fabs(p.vc - log(2)) < 1e-15,
		   "equal means, svd solver: seli 0, ncc 1/2, vc log 2 (got %.17g %.17g %.17g)", p.seli, p.ncc, p.vc);
	if (ok(parts_of(4, 1, small, y, &p, &err) == 0, "equal means, eigen solver: parts computed"))
		ok(fabs(p.seli - 2) < 1e-14 && fabs(p.ncc - 0.5) < 1e-15 && fabs(p.vc - log(2)) < 1e-15,
		   "equal means, eigen solver: seli 2, ncc 1/2, vc log 2 (got %.17g %.17g %.17g)", p.seli, p.ncc,
		   p.vc);
}

struct model {
	const char *name;
	json_t *ref;
	struct xf_ncti_parts parts;
};

/* Labels 0, 1, 3 against 0, 1, 2: the unused id changes nothing. */
static void check_gap(int64_t n, int64_t d, const double *f, const int64_t *y, const struct xf_ncti_parts *want)
{
	int64_t *packed = malloc(n * sizeof(int64_t));
	struct xf_ncti_parts got;
	struct xf_err err = XF_ERR_INIT;

	for (int64_t i = 0; i < n; i++)
		packed[i] = y[i] == 3 ? 2 : y[i];
	if (ok(parts_of(n, d, f, packed, &got, &err) == 0, "label gap: packed labels score"))
		ok(fabs(got.seli - want->seli) <= 1e-12 * want->seli && fabs(got.ncc - want->ncc) <= 1e-14 &&
		   fabs(got.vc - want->vc) <= 1e-14, "label gap: parts as with labels 0, 1, 2");
	free(packed);
}

static void check_model(const char *set, const int64_t *y, int64_t n, struct model *m)
{
	char name[96];
	int64_t rows, d;
	double *f;
	struct xf_err err = XF_ERR_INIT;

	snprintf(name, sizeof(name), "%s-%s", set, m->name);
	f = fixture_load("ncti", name, "x", &rows, &d);
	if (!ok(f && rows == n, "%s loads", name))
		goto done;
	if (!ok(parts_of(n, d, f, y, &m->parts, &err) == 0, "%s: parts computed (%s solver)", name,
		json_string_value(json_object_get(m->ref, "solver"))))
		printf("#   %s\n", err.msg);
	is_rel(m->parts.seli, json_number_value(json_object_get(m->ref, "seli")), FIXTURE_TOLERANCE, "  seli");
	is_rel(m->parts.ncc, json_number_value(json_object_get(m->ref, "ncc")), FIXTURE_TOLERANCE, "  ncc");
	is_rel(m->parts.vc, json_number_value(json_object_get(m->ref, "vc")), FIXTURE_TOLERANCE, "  vc");
	if (!strcmp(set, "gap"))
		check_gap(n, d, f, y, &m->parts);
done:
	free(f);
}

/* Every model of the set, then the set's combined scores. Returns the solvers seen (bit 0 svd, 1 eigen). */
static unsigned check_set(json_t *jset)
{
	const char *set = json_string_value(json_object_get(jset, "name"));
	json_t *jmodels = json_object_get(jset, "models"), *jm;
	struct model models[MAX_MODELS];
	struct xf_ncti_parts parts[MAX_MODELS];
	double scores[MAX_MODELS];
	int64_t n, one, *y = fixture_load("ncti", set, "y", &n, &one);
	int count = 0;
	unsigned solvers = 0;
	size_t i;

	if (!ok(y && json_array_size(jmodels) >= 2 && json_array_size(jmodels) <= MAX_MODELS, "set %s loads", set))
		goto done;
	json_array_foreach(jmodels, i, jm) {
		const char *solver = json_string_value(json_object_get(jm, "solver"));

		models[count] = (struct model){ json_string_value(json_object_get(jm, "name")), jm, { NAN, NAN, NAN } };
		check_model(set, y, n, &models[count]);
		solvers |= solver && !strcmp(solver, "svd") ? 1u : solver && !strcmp(solver, "eigen") ? 2u : 0u;
		count++;
	}
	for (int k = 0; k < count; k++)
		parts[k] = models[k].parts;
	xf_score_ncti_combine(parts, count, scores);
	for (int k = 0; k < count; k++) {
		char name[96];

		snprintf(name, sizeof(name), "%s: combined score of %s", set, models[k].name);
		is_rel(scores[k], json_number_value(json_object_get(models[k].ref, "ncti")), FIXTURE_TOLERANCE, name);
	}
done:
	free(y);
	return solvers;
}

static void test_fixtures(void)
{
	json_error_t jerr;
	json_t *root = json_load_file(fixture_path("ncti", "ref.json"), 0, &jerr), *sets = json_object_get(root, "sets");
	json_t *jset;
	unsigned solvers = 0;
	size_t i;

	if (!ok(json_array_size(sets) >= 3, "ref.json lists the model sets"))
		printf("# %s: %s\n", fixture_path("ncti", "ref.json"), jerr.text);
	json_array_foreach(sets, i, jset) {
		printf("# set %s: %s\n", json_string_value(json_object_get(jset, "name")),
		       json_string_value(json_object_get(jset, "note")));
		solvers |= check_set(jset);
	}
	ok(solvers == 3, "the fixtures cover both LDA solvers");
	json_decref(root);
}

int main(void)
{
	test_combine();
	test_errors();
	test_equal_means();
	test_fixtures();
	return done_testing();
}
