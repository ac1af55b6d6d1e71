/*
 * test-merge: lib/merge.c (../shared/docs/merge.md) on hand-checked tensors for every method,
 * each point where the official code and mergekit disagree, the option and input checks, and
 * properties: TIES against a by-definition reference (sorted thresholds, per tensor and over
 * the whole model) on random data with ties, TIES at density 1 = task arithmetic, λ = 0 gives
 * the base, identical models average to themselves, DARE is unbiased over seeds (z-test), the
 * thread count changes nothing. Optional: tests/data/merge fixtures from tests/ref/ref_merge.py
 * (the TIES authors' functions run in torch; XF_TEST_DATA overrides tests/data).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "merge_common.h"   /* white box: the positions of the threshold sample, the retry counter */
#include "npy.h"
#include "rng.h"
#include "tap.h"

#define MAX_MODELS 8
#define MAX_TENSORS 8

/* A model set: K tensors of a base and T models; x[k][i] NULL where model i lacks tensor k. */
struct set {
	int n_models, n_tensors;
	int64_t n[MAX_TENSORS];
	float *base[MAX_TENSORS];
	float *x[MAX_TENSORS][MAX_MODELS];
};

static struct xf_merge_opts opts(enum xf_merge_method method, int n_models)
{
	struct xf_merge_opts o = XF_MERGE_OPTS_INIT;

	o.method = method;
	o.n_models = n_models;
	o.threads = 1;
	o.normalize = method == XF_MERGE_LINEAR || method == XF_MERGE_TIES;
	return o;
}

/* Every pass, then the merge of every tensor into out[k] (allocated here). -1 with err. */
static int run_set(const struct xf_merge_opts *o, const struct set *s, float **out, struct xf_err *err)
{
	struct xf_merger *m;
	int rc = 0;

	if (xf_merger_create(o, &m, err) < 0)
		return -1;
	for (int p = 0; rc == 0 && p < xf_merger_passes(m); p++) {
		for (int k = 0; rc == 0 && k < s->n_tensors; k++)
			rc = xf_merger_scan(m, p, s->base[k], (const float *const *)s->x[k], s->n[k], err);
		rc = rc ? rc : xf_merger_end_pass(m, p, err);
	}
	for (int k = 0; rc == 0 && k < s->n_tensors; k++) {
		char name[32];

		snprintf(name, sizeof(name), "t%d", k);
		out[k] = calloc((size_t)s->n[k] + 1, sizeof(float));
		rc = xf_merger_tensor(m, name, k, s->base[k], (const float *const *)s->x[k], s->n[k], out[k], err);
	}
	xf_merger_free(m);
	return rc;
}

/* One tensor of n: base (may be NULL) and models x[0..n_models). Returns the merged tensor or NULL. */
static float *run1(const struct xf_merge_opts *o, const float *base, const float *const *x, int64_t n,
		   struct xf_err *err)
{
	struct set s = { o->n_models, 1, { n }, { (float *)base }, { { NULL } } };
	float *out[1] = { NULL };

	for (int i = 0; i < o->n_models; i++)
		s.x[0][i] = (float *)x[i];
	if (run_set(o, &s, out, err) < 0) {
		free(out[0]);
		return NULL;
	}
	return out[0];
}

static int same(const float *a, const float *b, int64_t n)
{
	return a && b && !memcmp(a, b, (size_t)n * sizeof(float));
}

static int near_all(const float *got, const double *want, int64_t n, double tol)
{
	for (int64_t j = 0; got && j < n; j++)
		if (!(fabs(got[j] - want[j]) <= tol)) {
			printf("#   [%lld] got %.9g, want %.9g\n", (long long)j, got[j], want[j]);
			return 0;
		}
	return got != NULL;
}

/* ---- hand-checked cases ---- */

static void test_linear(void)
{
	float m1[] = { 1, 2 }, m2[] = { 3, 4 };
	const float *x[] = { m1, m2 }, *missing[] = { m1, NULL };
	double w[] = { 1, 3 }, zero[] = { 1, -1 };
	struct xf_merge_opts o = opts(XF_MERGE_LINEAR, 2);
	struct xf_merger *m;
	struct xf_err err = XF_ERR_INIT;
	float *out;

	o.weights = w;
	out = run1(&o, NULL, x, 2, &err);
	ok(near_all(out, (double[]){ 2.5, 3.5 }, 2, 0), "linear: (1*[1,2] + 3*[3,4]) / 4 = [2.5, 3.5]");
	free(out);
	out = run1(&o, NULL, missing, 2, &err);
	ok(near_all(out, (double[]){ 1, 2 }, 2, 0), "linear: a model without the tensor takes no part");
	free(out);
	o.normalize = false;
	out = run1(&o, NULL, x, 2, &err);
	ok(near_all(out, (double[]){ 10, 14 }, 2, 0), "linear without normalize: the weighted sum [10, 14]");
	free(out);
	o.normalize = true;
	o.weights = zero;
	ok(xf_merger_create(&o, &m, &err) < 0 && err.code == XF_E_USAGE, "linear: weights summing to 0 refused (%s)",
	   err.msg);
}

static void test_task_arithmetic(void)
{
	float base[] = { 1, 1 }, m1[] = { 2, 3 }, m2[] = { 0, 5 };
	const float *x[] = { m1, m2 };
	double cancel[] = { 1, -1 };
	struct xf_merge_opts o = opts(XF_MERGE_TASK_ARITHMETIC, 2);
	struct xf_err err = XF_ERR_INIT;
	float *out;

	o.lambda = 0.5;
	out = run1(&o, base, x, 2, &err);
	ok(near_all(out, (double[]){ 1, 4 }, 2, 0), "task arithmetic: [1,1] + 0.5 ([1,2] + [-1,4]) = [1, 4]");
	free(out);
	o.normalize = true;
	out = run1(&o, base, x, 2, &err);
	ok(near_all(out, (double[]){ 1, 2.5 }, 2, 0), "task arithmetic, normalize: divided by the weights' sum");
	free(out);
	o.weights = cancel;
	out = run1(&o, base, x, 2, &err);
	ok(near_all(out, (double[]){ 2, 0 }, 2, 0), "task arithmetic, normalize with weights summing to 0: divisor 1");
	free(out);
}

/* TIES of one model (base 0) at the given density: the kept entries come out unchanged. */
static float *ties1(enum xf_merge_compat compat, double density, const float *delta, int64_t n, struct xf_err *err)
{
	struct xf_merge_opts o = opts(XF_MERGE_TIES, 1);
	float *base = calloc((size_t)n, sizeof(float)), *out;
	const float *x[] = { delta };

	o.compat = compat;
	o.density = density;
	out = run1(&o, base, x, n, err);
	free(base);
	return out;
}

static int64_t nonzero(const float *x, int64_t n)
{
	int64_t c = 0;

	for (int64_t j = 0; x && j < n; j++)
		c += x[j] != 0;
	return c;
}

static void test_ties_trim(void)
{
	float d16[16], d100[100], tied[] = { 1, -2, 3, -3, 3, 4 };
	struct xf_err err = XF_ERR_INIT;
	float *out;
	double want[16] = { 0 };

	for (int j = 0; j < 16; j++)
		d16[j] = (float)((j % 2 ? -1 : 1) * (j + 1));
	for (int j = 12; j < 16; j++)
		want[j] = d16[j];
	out = ties1(XF_MERGE_OFFICIAL, 0.2, d16, 16, &err);
	ok(near_all(out, want, 16, 0), "ties official, D = 16, d = 0.2: m = 3, keeps |δ| >= 13th smallest: 4 = m + 1");
	free(out);
	want[12] = 0;
	out = ties1(XF_MERGE_MERGEKIT, 0.2, d16, 16, &err);
	ok(near_all(out, want, 16, 0), "ties mergekit, D = 16, d = 0.2: exactly k = 3 kept");
	free(out);
	for (int j = 0; j < 100; j++)
		d100[j] = (float)(j + 1) * 0.01f;
	out = ties1(XF_MERGE_OFFICIAL, 0.29, d100, 100, &err);
	is_int(nonzero(out, 100), 29, "ties official, n = 100, d = 0.29: int(28.999999999999996) = 28, keeps 29");
	free(out);
	out = ties1(XF_MERGE_MERGEKIT, 0.29, d100, 100, &err);
	is_int(nonzero(out, 100), 28, "ties mergekit, n = 100, d = 0.29: keeps exactly 28");
	free(out);
	out = ties1(XF_MERGE_OFFICIAL, 0.5, tied, 6, &err);
	ok(near_all(out, (double[]){ 0, 0, 3, -3, 3, 4 }, 6, 0),
	   "ties official, |δ| 1 2 3 3 3 4 at d = 0.5: every tie at the threshold kept (4 > m + 1)");
	free(out);
	out = ties1(XF_MERGE_MERGEKIT, 0.5, tied, 6, &err);
	ok(near_all(out, (double[]){ 0, 0, 3, -3, 0, 4 }, 6, 0),
	   "ties mergekit, the same: k = 3, the tie broken towards the lower positions");
	free(out);
}

static void test_ties_small_tensors(void)
{
	float one[] = { 0.5f }, four[] = { 1, 2, 3, 4 };
	struct xf_err err = XF_ERR_INIT;
	float *out;

	out = ties1(XF_MERGE_OFFICIAL, 0.5, one, 1, &err);
	ok(near_all(out, (double[]){ 0.5 }, 1, 0), "ties official keeps the entry of a 1-element tensor");
	free(out);
	out = ties1(XF_MERGE_MERGEKIT, 0.5, one, 1, &err);
	ok(!out && err.code == XF_E_USAGE && strstr(err.msg, "'t0'") && strstr(err.msg, "mergekit refuses"),
	   "ties mergekit refuses a 1-element tensor, naming it (%s)", err.msg);
	free(out);
	out = ties1(XF_MERGE_MERGEKIT, 0.2, four, 4, &err);
	ok(!out && err.code == XF_E_USAGE, "ties mergekit refuses a 4-element tensor at d = 0.2 (int(0.8) = 0)");
	free(out);
	out = ties1(XF_MERGE_MERGEKIT, 0.25, four, 4, &err);
	ok(near_all(out, (double[]){ 0, 0, 0, 4 }, 4, 0), "ties mergekit, 4 elements at d = 0.25 keep 1");
	free(out);
}

/* Three models with deltas +1, -1, 0 at position 0 over base 0.25 (merge.md §3b), plus `rest` at position 1. */
static float *zero_sum(enum xf_merge_compat compat, float rest, int64_t n)
{
	float base[] = { 0.25f, 0.25f }, a[] = { 1.25f, 0.25f + rest }, b[] = { -0.75f, 0.25f + rest },
	      c[] = { 0.25f, 0.25f + rest };
	const float *x[] = { a, b, c };
	struct xf_merge_opts o = opts(XF_MERGE_TIES, 3);
	struct xf_err err = XF_ERR_INIT;

	o.compat = compat;
	o.density = 1;
	return run1(&o, base, x, n, &err);
}

static void test_ties_zero_sum(void)
{
	float *out;

	out = zero_sum(XF_MERGE_OFFICIAL, 0, 1);
	ok(near_all(out, (double[]){ -0.75 }, 1, 0),
	   "zero election sum, official: no majority, the negative entry is selected: -0.75");
	free(out);
	out = zero_sum(XF_MERGE_MERGEKIT, 0, 1);
	ok(near_all(out, (double[]){ 1.25 }, 1, 0), "zero election sum, mergekit: +1 elected: 1.25");
	free(out);
	out = zero_sum(XF_MERGE_OFFICIAL, 1, 2);
	ok(near_all(out, (double[]){ 1.25, 1.25 }, 2, 0),
	   "zero election sum, official: the tensor's majority (+) elects the positive entry");
	free(out);
	out = zero_sum(XF_MERGE_OFFICIAL, -1, 2);
	ok(near_all(out, (double[]){ -0.75, -0.75 }, 2, 0), "zero election sum, official: a negative majority");
	free(out);
	out = zero_sum(XF_MERGE_MERGEKIT, -1, 2);
	ok(near_all(out, (double[]){ 1.25, -0.75 }, 2, 0), "zero election sum, mergekit: +1 whatever the majority");
	free(out);
}

/* The majority of the official code's global scope comes from the whole model: another tensor decides. */
/* Deltas 1, 2^-30, -1: a float sum rounds to 0; the election sum is double, so + is elected. */
static void test_ties_exact_sum(void)
{
	float base[] = { 0 }, a[] = { 1 }, b[] = { 0x1p-30f }, c[] = { -1 };
	const float *x[] = { a, b, c };
	struct xf_merge_opts o = opts(XF_MERGE_TIES, 3);
	struct xf_err err = XF_ERR_INIT;
	float *out;

	o.density = 1;
	out = run1(&o, base, x, 1, &err);
	ok(near_all(out, (double[]){ 0.5 }, 1, 0), "ties: deltas 1, 2^-30, -1 elect + (a float sum would say 0): 0.5");
	free(out);
}

static void test_ties_global_majority(void)
{
	float b0[] = { 0.25f }, a0[] = { 1.25f }, c0[] = { -0.75f }, d0[] = { 0.25f };
	float b1[] = { 0, 0, 0 }, a1[] = { 1, 1, -1 }, c1[] = { 1, 1, -1 }, d1[] = { 1, 1, -1 };
	struct set s = { 3, 2, { 1, 3 }, { b0, b1 }, { { a0, c0, d0 }, { a1, c1, d1 } } };
	struct xf_merge_opts o = opts(XF_MERGE_TIES, 3);
	struct xf_err err = XF_ERR_INIT;
	float *out[2] = { NULL, NULL };
	int rc;

	o.density = 1;
	o.scope = XF_MERGE_SCOPE_GLOBAL;
	rc = run_set(&o, &s, out, &err);
	ok(rc == 0 && near_all(out[0], (double[]){ 1.25 }, 1, 0),
	   "ties official, global scope: the majority over the model (2 + vs 1 -) elects + in a 1-element tensor");
	free(out[0]);
	free(out[1]);
}

static void test_ties_disjoint_mean(void)
{
	float base[] = { 0, 0 }, a[] = { 2, 1 }, b[] = { 4, -2 };
	const float *x[] = { a, b };
	double w[] = { 1, 3 };
	struct xf_merge_opts o = opts(XF_MERGE_TIES, 2);
	struct xf_err err = XF_ERR_INIT;
	float *out;

	o.weights = w;
	o.density = 1;
	out = run1(&o, base, x, 2, &err);
	ok(near_all(out, (double[]){ 7, -6 }, 2, 0), "ties official: unweighted disjoint mean (2 + 12) / 2 = 7; -6 alone");
	free(out);
	o.compat = XF_MERGE_MERGEKIT;
	out = run1(&o, base, x, 2, &err);
	ok(near_all(out, (double[]){ 3.5, -2 }, 2, 0), "ties mergekit: weighted disjoint mean (2 + 12) / (1 + 3) = 3.5");
	free(out);
	o.normalize = false;
	out = run1(&o, base, x, 2, &err);
	ok(near_all(out, (double[]){ 14, -6 }, 2, 0), "ties without normalize: the sum of the agreeing entries");
	free(out);
}

/* ---- DARE ---- */

/* One model, base 0, delta given; returns the merged tensor. */
static float *dare1(enum xf_merge_compat compat, double density, uint64_t seed, const float *delta, int64_t n,
		    int threads)
{
	struct xf_merge_opts o = opts(XF_MERGE_DARE, 1);
	float *base = calloc((size_t)n, sizeof(float)), *out;
	const float *x[] = { delta };
	struct xf_err err = XF_ERR_INIT;

	o.compat = compat;
	o.density = density;
	o.seed = seed;
	o.threads = threads;
	out = run1(&o, base, x, n, &err);
	free(base);
	return out;
}

static void test_dare_rescale(void)
{
	int64_t n = 10000, kept = 0;
	float *delta = malloc((size_t)n * sizeof(float)), *out, tiny[10];
	int official_ok = 1, mergekit_ok = 1;
	double l1 = 0, l1_kept = 0;

	for (int64_t j = 0; j < n; j++)
		delta[j] = (j % 3 ? 1.5f : -0.75f);
	out = dare1(XF_MERGE_OFFICIAL, 0.5, 1, delta, n, 1);
	for (int64_t j = 0; j < n; j++) {
		official_ok &= out[j] == 0 || out[j] == delta[j] * 2;
		kept += out[j] != 0;
	}
	ok(official_ok && llabs(kept - n / 2) < 4 * 50, "dare official: survivors x 1/d, %lld of %lld kept", (long long)kept,
	   (long long)n);
	free(out);
	out = dare1(XF_MERGE_MERGEKIT, 0.5, 1, delta, n, 1);
	for (int64_t j = 0; j < n; j++) {
		l1 += fabs(delta[j]);
		l1_kept += out[j] != 0 ? fabs(delta[j]) : 0;
	}
	for (int64_t j = 0; j < n; j++)
		mergekit_ok &= out[j] == 0 || out[j] == delta[j] * (float)(l1 / l1_kept);
	ok(mergekit_ok, "dare mergekit: survivors x ‖δ‖₁/‖kept‖₁ = %.6f, not 1/d", l1 / l1_kept);
	free(out);
	for (int j = 0; j < 10; j++)
		tiny[j] = 1e-9f;
	out = dare1(XF_MERGE_MERGEKIT, 0.5, 1, tiny, 10, 1);
	mergekit_ok = 1;
	for (int j = 0; j < 10; j++)
		mergekit_ok &= out[j] == 0 || out[j] == 1e-9f;
	ok(mergekit_ok && nonzero(out, 10) > 0, "dare mergekit: no rescale when ‖δ‖₁ < 1e-7");
	free(out);
	free(delta);
}

/*
 * E[DARE(δ)] = δ with the 1/d rescale: the mean over S seeds at each position has standard
 * deviation |δ| sqrt((1 - d) / (d S)). With S = 4000 and 64 positions we require every |z| < 5
 * (a false alarm about once in 30000 runs; the seeds are fixed, so the outcome is too) and
 * the z of the sum over positions below 4.
 */
static void test_dare_unbiased(void)
{
	enum { N = 64, S = 4000 };
	float delta[N];
	double mean[N] = { 0 }, d = 0.3, worst = 0, total = 0;

	for (int j = 0; j < N; j++)
		delta[j] = (float)(j % 5 - 2) + 0.5f;
	for (int s = 0; s < S; s++) {
		float *out = dare1(XF_MERGE_OFFICIAL, d, (uint64_t)s, delta, N, 1);

		for (int j = 0; j < N; j++)
			mean[j] += out[j] / (double)S;
		free(out);
	}
	for (int j = 0; j < N; j++) {
		double z = (mean[j] - delta[j]) / (fabs(delta[j]) * sqrt((1 - d) / (d * S)));

		worst = fabs(z) > worst ? fabs(z) : worst;
		total += z;
	}
	ok(worst < 5 && fabs(total / sqrt(N)) < 4, "dare official is unbiased over %d seeds: max |z| %.2f, pooled z %.2f",
	   S, worst, total / sqrt(N));
}

static void test_dare_streams(void)
{
	int64_t n = 300007;
	float *delta = malloc((size_t)n * sizeof(float)), *a, *b, *c, *t2;

	for (int64_t j = 0; j < n; j++)
		delta[j] = 1;
	a = dare1(XF_MERGE_OFFICIAL, 0.5, 9, delta, n, 1);
	b = dare1(XF_MERGE_OFFICIAL, 0.5, 9, delta, n, 1);
	c = dare1(XF_MERGE_OFFICIAL, 0.5, 10, delta, n, 1);
	t2 = dare1(XF_MERGE_OFFICIAL, 0.5, 9, delta, n, 2);
	ok(same(a, b, n) && !same(a, c, n) && same(a, t2, n), "dare: a seed repeats its drops, another changes them, "
	   "threads do not");
	free(a);
	free(b);
	free(c);
	free(t2);
	free(delta);
}

/* DARE at density 1 drops nothing: with election it is TIES at density 1, without it task arithmetic. */
static void test_dare_density_one(void)
{
	float base[] = { 0.25f, 1, -1, 0 }, a[] = { 1.25f, 2, -3, 0.5f }, b[] = { -0.75f, 0.5f, 1, -0.25f };
	const float *x[] = { a, b };
	struct xf_merge_opts o = opts(XF_MERGE_DARE, 2), t = opts(XF_MERGE_TIES, 2);
	struct xf_err err = XF_ERR_INIT;
	float *p, *q;

	for (int compat = XF_MERGE_OFFICIAL; compat <= XF_MERGE_MERGEKIT; compat++) {
		o.compat = t.compat = (enum xf_merge_compat)compat;
		o.density = t.density = 1;
		o.elect = true;
		o.normalize = t.normalize = compat == XF_MERGE_OFFICIAL;
		p = run1(&o, base, x, 4, &err);
		q = run1(&t, base, x, 4, &err);
		ok(same(p, q, 4), "dare --elect at d = 1 = ties at d = 1 (%s)", compat ? "mergekit" : "official");
		free(p);
		free(q);
	}
	o.elect = false;
	o.normalize = false;
	t = opts(XF_MERGE_TASK_ARITHMETIC, 2);
	p = run1(&o, base, x, 4, &err);
	q = run1(&t, base, x, 4, &err);
	ok(same(p, q, 4), "dare without election at d = 1 = task arithmetic");
	free(p);
	free(q);
}

/* ---- slerp and model stock ---- */

static float *slerp2(const float *v0, const float *v1, int64_t n, double t, bool with_base)
{
	struct xf_merge_opts o = opts(XF_MERGE_SLERP, with_base ? 1 : 2);
	const float *one[] = { v1 }, *two[] = { v0, v1 };
	struct xf_err err = XF_ERR_INIT;

	o.t = t;
	return with_base ? run1(&o, v0, one, n, &err) : run1(&o, NULL, two, n, &err);
}

static void test_slerp(void)
{
	float a[] = { 1, 0 }, b[] = { 1, 0.01f }, c[] = { 2, 0 }, d[] = { 0, 3 }, z[] = { 0, 0 }, e[] = { 1, 2 };
	float s1[] = { 2 }, s2[] = { -3 };
	double h = sqrt(0.5), q = sin(0.3 * M_PI / 2);
	const float *pair[] = { a, b }, *missing[] = { NULL, b };
	struct xf_merge_opts o = opts(XF_MERGE_SLERP, 2);
	struct xf_err err = XF_ERR_INIT;
	float *out;

	out = slerp2(a, b, 2, 0.5, true);
	ok(near_all(out, (double[]){ 1, 0.005f }, 2, 0), "slerp: cos 0.99995 > 0.9995 falls back to lerp");
	free(out);
	out = slerp2(c, d, 2, 0.5, true);
	ok(near_all(out, (double[]){ 2 * h, 3 * h }, 2, 1e-6), "slerp: orthogonal, sin weights on the unnormalised tensors");
	free(out);
	out = slerp2(z, e, 2, 0.3, false);
	ok(near_all(out, (double[]){ q, 2 * q }, 2, 1e-6),
	   "slerp: an all-zero tensor is not normalised: cos 0, weight sin(0.3 pi/2), not lerp");
	free(out);
	out = slerp2(s1, s2, 1, 0.25, true);
	ok(near_all(out, (double[]){ 0.75 }, 1, 0), "slerp: a 1-element tensor (cos -1) is a lerp");
	free(out);
	out = run1(&o, a, pair, 2, &err);
	ok(!out && err.code == XF_E_USAGE, "slerp of two models refuses a base");
	out = run1(&o, NULL, missing, 2, &err);
	ok(near_all(out, (double[]){ 1, 0.01f }, 2, 0), "slerp of two models: a tensor only one has is copied");
	free(out);
	o.n_models = 1;
	out = run1(&o, NULL, missing + 1, 2, &err);
	ok(!out && err.code == XF_E_USAGE && strstr(err.msg, "base"), "slerp of one model without the base's tensor: "
	   "usage error (%s)", err.msg);
}

static float *stock(const float *base, const float *const *x, int n_models, int64_t n, struct xf_err *err)
{
	struct xf_merge_opts o = opts(XF_MERGE_MODEL_STOCK, n_models);

	return run1(&o, base, x, n, err);
}

static void test_model_stock(void)
{
	float base[] = { 0, 0 }, a[] = { 1, 0 }, b[] = { 1, 1 }, opposite[] = { -2, 0 };
	float b1[] = { 0.5f }, p[] = { 1.5f }, neg[] = { -0.5f };
	const float *x[] = { a, b }, *flip[] = { a, opposite }, *three[] = { p, p, neg }, *one[] = { a, NULL };
	double c = sqrt(0.5), t = 2 * c / (1 + c);
	struct xf_err err = XF_ERR_INIT;
	float *out;

	out = stock(base, x, 2, 2, &err);
	ok(near_all(out, (double[]){ t, t * 0.5 }, 2, 1e-6), "model stock: cos 1/sqrt 2, t = 2c / (1 + c) = %.6f", t);
	free(out);
	out = stock(b1, three, 3, 1, &err);
	ok(near_all(out, (double[]){ -0.5 }, 1, 1e-7),
	   "model stock, 1-element tensor, deltas 1 1 -1: c = -1/3, t = -3 extrapolates to -0.5");
	free(out);
	out = stock(base, flip, 2, 2, &err);
	ok(!out && err.code == XF_E_USAGE && strstr(err.msg, "'t0'"), "model stock: c = -1/(N-1) is an error (%s)",
	   err.msg);
	out = stock(base, one, 2, 2, &err);
	ok(!out && err.code == XF_E_USAGE, "model stock: a tensor in one model only is an error");
}

/* ---- options, inputs, passes ---- */

static int refused(struct xf_merge_opts o)
{
	struct xf_merger *m = NULL;
	struct xf_err err = XF_ERR_INIT;
	int rc = xf_merger_create(&o, &m, &err);

	xf_merger_free(m);
	return rc < 0 && err.code == XF_E_USAGE && m == NULL;
}

static void test_options(void)
{
	struct xf_merge_opts o = opts(XF_MERGE_TIES, 2);
	double nan_w[] = { 1, NAN };

	o.density = 0;
	ok(refused(o), "density 0 refused");
	o.density = 1.5;
	ok(refused(o), "density 1.5 refused");
	o.density = NAN;
	ok(refused(o), "density NaN refused");
	o = opts(XF_MERGE_TIES, 2);
	o.weights = nan_w;
	ok(refused(o), "a NaN weight refused");
	ok(refused(opts(XF_MERGE_SLERP, 3)), "slerp of 3 models refused");
	ok(refused(opts(XF_MERGE_MODEL_STOCK, 1)), "model stock of 1 model refused");
	ok(refused(opts(XF_MERGE_LINEAR, 0)), "no model refused");
	o = opts(XF_MERGE_LINEAR, 2);
	o.scope = XF_MERGE_SCOPE_GLOBAL;
	ok(refused(o), "global scope outside ties refused");
	ok(xf_merge_needs_base(XF_MERGE_TIES) && xf_merge_needs_base(XF_MERGE_MODEL_STOCK) &&
	   !xf_merge_needs_base(XF_MERGE_LINEAR) && !xf_merge_needs_base(XF_MERGE_SLERP), "needs_base");
}

static int passes(enum xf_merge_compat compat, double density, enum xf_merge_scope scope)
{
	struct xf_merge_opts o = opts(XF_MERGE_TIES, 2);
	struct xf_merger *m;
	struct xf_err err = XF_ERR_INIT;
	int p;

	o.compat = compat;
	o.density = density;
	o.scope = scope;
	if (xf_merger_create(&o, &m, &err) < 0)
		return -1;
	p = xf_merger_passes(m);
	xf_merger_free(m);
	return p;
}

static void test_inputs_and_passes(void)
{
	float base[] = { 0, 0 }, a[] = { 1, 2 }, out[2];
	const float *x[] = { a, NULL }, *none[] = { NULL, NULL };
	struct xf_merge_opts o = opts(XF_MERGE_TIES, 2);
	struct xf_merger *m;
	struct xf_err err = XF_ERR_INIT;

	ok(passes(XF_MERGE_OFFICIAL, 0.2, XF_MERGE_SCOPE_GLOBAL) == 3 && passes(XF_MERGE_OFFICIAL, 1, XF_MERGE_SCOPE_GLOBAL) == 1 &&
	   passes(XF_MERGE_MERGEKIT, 0.2, XF_MERGE_SCOPE_GLOBAL) == 2 && passes(XF_MERGE_MERGEKIT, 1, XF_MERGE_SCOPE_GLOBAL) == 0 &&
	   passes(XF_MERGE_OFFICIAL, 0.2, XF_MERGE_SCOPE_TENSOR) == 0, "passes: official global 3 (1 at d = 1), "
	   "mergekit global 2 (0 at d = 1), tensor scope 0");
	xf_merger_create(&o, &m, &err);
	ok(xf_merger_tensor(m, "w", 0, NULL, x, 2, out, &err) < 0 && err.code == XF_E_USAGE && strstr(err.msg, "'w'"),
	   "ties without the base's tensor: usage error naming it (%s)", err.msg);
	ok(xf_merger_tensor(m, "w", 0, base, none, 2, out, &err) < 0 && err.code == XF_E_USAGE,
	   "no model has the tensor: usage error (%s)", err.msg);
	ok(xf_merger_scan(m, 0, base, x, 2, &err) < 0, "a scan without passes is refused");
	xf_merger_free(m);
	o.scope = XF_MERGE_SCOPE_GLOBAL;
	xf_merger_create(&o, &m, &err);
	ok(xf_merger_tensor(m, "w", 0, base, x, 2, out, &err) < 0, "global scope: merging before the passes is refused");
	ok(xf_merger_scan(m, 1, base, x, 2, &err) < 0, "global scope: pass 1 before pass 0 is refused");
	xf_merger_scan(m, 0, base, x, 2, &err);
	xf_merger_end_pass(m, 0, &err);
	ok(xf_merger_scan(m, 1, base, x, 1, &err) < 0 && strstr(err.msg, "first pass"),
	   "global scope: a pass that sees another tensor size is refused (%s)", err.msg);
	xf_merger_free(m);
}

/* ---- TIES against a by-definition reference with sorted thresholds ---- */

struct keyed {
	uint32_t key;
	int64_t at;     /* flat position over the scope */
};

/* Larger |δ| first, then the lower position: the order in which exactly-k keeps entries. */
static int by_key_desc(const void *a, const void *b)
{
	const struct keyed *p = a, *q = b;

	if (p->key != q->key)
		return p->key < q->key ? 1 : -1;
	return (p->at > q->at) - (p->at < q->at);
}

static uint32_t delta_key(const struct set *s, int k, int i, int64_t j)
{
	float d = s->x[k][i][j] - s->base[k][j];
	uint32_t u;

	memcpy(&u, &d, 4);
	return u & 0x7fffffffu;
}

/*
 * keep[k][i][j] for model i over tensors [k0, k1) as one scope: official keeps every key >=
 * the (D - int(d D))-th smallest; mergekit the int(d D) first in by_key_desc order.
 */
static void ref_keep(const struct xf_merge_opts *o, const struct set *s, int i, int k0, int k1, bool *keep[][MAX_MODELS])
{
	int64_t total = 0, at = 0, m;
	struct keyed *all;

	for (int k = k0; k < k1; k++)
		total += s->x[k][i] ? s->n[k] : 0;
	all = malloc((size_t)(total + 1) * sizeof(*all));
	for (int k = k0; k < k1; k++)
		for (int64_t j = 0; s->x[k][i] && j < s->n[k]; j++, at++)
			all[at] = (struct keyed){ delta_key(s, k, i, j), at };
	qsort(all, (size_t)total, sizeof(*all), by_key_desc);
	m = (int64_t)(o->density * (double)total);
	at = 0;
	for (int k = k0; k < k1; k++)
		for (int64_t j = 0; s->x[k][i] && j < s->n[k]; j++, at++)
			keep[k][i][j] = o->density >= 1 || m >= total;
	for (int64_t r = 0; o->density < 1 && m < total && r < total; r++) {
		bool kept = o->compat == XF_MERGE_OFFICIAL ? all[r].key >= all[m].key : r < m;

		at = all[r].at;
		for (int k = k0; k < k1 && kept; k++) {
			int64_t size = s->x[k][i] ? s->n[k] : 0;

			if (at < size) {
				keep[k][i][at] = true;
				break;
			}
			at -= size;
		}
	}
	free(all);
}

/* Σ u over the models that have tensor k at position j, in double; u[i] = w δ trimmed (float). */
static double ref_sum(const struct xf_merge_opts *o, const struct set *s, bool *keep[][MAX_MODELS], int k,
		      int64_t j, float *u)
{
	double sum = 0;

	for (int i = 0; i < s->n_models; i++) {
		float d = s->x[k][i] ? s->x[k][i][j] - s->base[k][j] : 0;

		u[i] = s->x[k][i] && keep[k][i][j] ? (float)(o->weights ? o->weights[i] : 1) * d : 0;
		sum += (double)u[i];
	}
	return sum;
}

/* The official majority over tensors [k0, k1): sign of #(sum > 0) - #(sum < 0). */
static int ref_majority(const struct xf_merge_opts *o, const struct set *s, bool *keep[][MAX_MODELS], int k0, int k1)
{
	int64_t balance = 0;
	float u[MAX_MODELS];

	for (int k = k0; k < k1; k++)
		for (int64_t j = 0; j < s->n[k]; j++) {
			double sum = ref_sum(o, s, keep, k, j, u);

			balance += (sum > 0) - (sum < 0);
		}
	return (balance > 0) - (balance < 0);
}

static float ref_position(const struct xf_merge_opts *o, const struct set *s, bool *keep[][MAX_MODELS], int k,
			  int64_t j, int majority)
{
	float u[MAX_MODELS], acc = 0, div = 0;
	double sum = ref_sum(o, s, keep, k, j, u);
	bool pos = o->compat == XF_MERGE_OFFICIAL ? sum > 0 || (sum == 0 && majority > 0) : sum >= 0;

	for (int i = 0; i < s->n_models; i++) {
		if (!s->x[k][i] || !(pos ? u[i] > 0 : u[i] < 0))
			continue;
		acc += u[i];
		div += !o->normalize ? 0 : o->compat == XF_MERGE_OFFICIAL ? 1 : (float)(o->weights ? o->weights[i] : 1);
	}
	return s->base[k][j] + (float)o->lambda * (acc / (div == 0 ? 1 : div));
}

static void ref_ties(const struct xf_merge_opts *o, const struct set *s, float **out)
{
	bool *keep[MAX_TENSORS][MAX_MODELS] = { { NULL } };
	bool global = o->scope == XF_MERGE_SCOPE_GLOBAL;
	int majority = 0;

	for (int k = 0; k < s->n_tensors; k++)
		for (int i = 0; i < s->n_models; i++)
			keep[k][i] = calloc((size_t)s->n[k] + 1, sizeof(bool));
	for (int i = 0; i < s->n_models; i++)
		for (int k = 0; k < s->n_tensors; k += global ? s->n_tensors : 1)
			ref_keep(o, s, i, k, global ? s->n_tensors : k + 1, keep);
	if (global)
		majority = ref_majority(o, s, keep, 0, s->n_tensors);
	for (int k = 0; k < s->n_tensors; k++) {
		if (!global)
			majority = ref_majority(o, s, keep, k, k + 1);
		out[k] = malloc((size_t)s->n[k] * sizeof(float) + 1);
		for (int64_t j = 0; j < s->n[k]; j++)
			out[k][j] = ref_position(o, s, keep, k, j, majority);
	}
	for (int k = 0; k < s->n_tensors; k++)
		for (int i = 0; i < s->n_models; i++)
			free(keep[k][i]);
}

/*
 * Random tensors. tied: base and deltas on a 2^-10 grid (δ exact, many equal |δ| and zeros);
 * else continuous. Model i lacks tensor k where (k + i) % missing == 1 (missing 0: never).
 */
static void fill_set(struct set *s, int n_models, int n_tensors, const int64_t *sizes, bool tied, int missing,
		     uint64_t seed)
{
	struct xf_rng r;

	xf_rng_init(&r, seed, 0);
	*s = (struct set){ n_models, n_tensors, { 0 }, { NULL }, { { NULL } } };
	for (int k = 0; k < n_tensors; k++) {
		s->n[k] = sizes[k];
		s->base[k] = malloc((size_t)sizes[k] * sizeof(float));
		for (int64_t j = 0; j < sizes[k]; j++)
			s->base[k][j] = tied ? (float)(round(xf_rng_normal(&r) * 20) / 1024) : (float)xf_rng_normal(&r) * 0.02f;
		for (int i = 0; i < n_models; i++) {
			if (missing && (k + i) % missing == 1 && i > 0)
				continue;
			s->x[k][i] = malloc((size_t)sizes[k] * sizeof(float));
			for (int64_t j = 0; j < sizes[k]; j++) {
				double g = xf_rng_normal(&r) * (1 + i % 3);

				s->x[k][i][j] = s->base[k][j] + (tied ? (float)(round(g * 3) / 1024) : (float)(g * 1e-3));
			}
		}
	}
}

static void free_set(struct set *s)
{
	for (int k = 0; k < s->n_tensors; k++) {
		free(s->base[k]);
		for (int i = 0; i < s->n_models; i++)
			free(s->x[k][i]);
	}
}

/* The merger against the reference on every tensor, bit for bit; says where they first differ. */
static int agrees(const struct xf_merge_opts *o, const struct set *s)
{
	float *got[MAX_TENSORS] = { NULL }, *want[MAX_TENSORS] = { NULL };
	struct xf_err err = XF_ERR_INIT;
	int good = run_set(o, s, got, &err) == 0;

	if (!good)
		printf("# %s\n", err.msg);
	ref_ties(o, s, want);
	for (int k = 0; k < s->n_tensors; k++) {
		for (int64_t j = 0; good && j < s->n[k]; j++)
			if (memcmp(&got[k][j], &want[k][j], sizeof(float))) {
				printf("#   tensor %d [%lld]: got %.9g, want %.9g\n", k, (long long)j, got[k][j], want[k][j]);
				good = 0;
			}
		free(got[k]);
		free(want[k]);
	}
	return good;
}

static void test_ties_reference(void)
{
	const int64_t sizes[] = { 37, 70001, 200003, 5 };
	static const double w3[] = { 0.5, 2, 1.5, 1, 0.25, 3 };
	struct set tied, smooth, many;
	struct xf_merge_opts o;

	fill_set(&tied, 3, 4, sizes, true, 3, 1);
	fill_set(&smooth, 3, 3, sizes, false, 0, 2);
	fill_set(&many, 6, 3, sizes, true, 4, 3);
	for (int global = 0; global < 2; global++) {
		const char *scope = global ? "global" : "tensor";

		o = opts(XF_MERGE_TIES, 3);
		o.scope = global ? XF_MERGE_SCOPE_GLOBAL : XF_MERGE_SCOPE_TENSOR;
		ok(agrees(&o, &tied), "ties official, %s scope, d = 0.2: = reference on tied data, models missing tensors",
		   scope);
		ok(agrees(&o, &smooth), "ties official, %s scope: = reference on continuous data", scope);
		o.weights = w3;
		o.density = 0.3;
		o.lambda = 0.7;
		o.normalize = false;
		o.threads = 2;
		ok(agrees(&o, &tied), "ties official, %s scope, weights, d = 0.3, λ = 0.7, sum, 2 threads: = reference",
		   scope);
		o = opts(XF_MERGE_TIES, 3);
		o.scope = global ? XF_MERGE_SCOPE_GLOBAL : XF_MERGE_SCOPE_TENSOR;
		o.compat = XF_MERGE_MERGEKIT;
		o.density = 0.3;
		o.weights = w3;
		ok(agrees(&o, &tied), "ties mergekit, %s scope, weights, d = 0.3: exactly k, ties by position: = reference",
		   scope);
		ok(agrees(&o, &smooth), "ties mergekit, %s scope: = reference on continuous data", scope);
		o.threads = 2;
		o.normalize = false;
		ok(agrees(&o, &tied), "ties mergekit, %s scope, sum, 2 threads: = reference", scope);
		o = opts(XF_MERGE_TIES, 6);
		o.scope = global ? XF_MERGE_SCOPE_GLOBAL : XF_MERGE_SCOPE_TENSOR;
		o.weights = w3;
		ok(agrees(&o, &many), "ties official, %s scope, 6 models (the generic kernel): = reference", scope);
		o.compat = XF_MERGE_MERGEKIT;
		ok(agrees(&o, &many), "ties mergekit, %s scope, 6 models: = reference", scope);
	}
	free_set(&tied);
	free_set(&smooth);
	free_set(&many);
}

/*
 * A tensor the threshold sample misjudges for model 0: the lines the fixed sample reads get
 * |δ| 1000 times smaller (or larger) than all others, so the guessed range misses the rank and
 * the search takes its exact second round; model 1 (few distinct |δ|, ties at the threshold)
 * is settled in the first round, before the second reuses the candidate buffer.
 */
static void test_ties_bad_guess(void)
{
	const int64_t sizes[] = { 1 << 17 };
	int64_t n = sizes[0];
	struct set s;
	struct xf_rng r;
	bool *in_sample = calloc((size_t)n, sizeof(bool));

	xf_rng_init(&r, XF_MERGE_SAMPLE_SEED, (uint64_t)n);
	for (int64_t q = 0; q < XF_MERGE_SAMPLE; q += XF_MERGE_SAMPLE_RUN) {
		int64_t p = (int64_t)xf_rng_below(&r, (uint64_t)(n / XF_MERGE_SAMPLE_RUN)) * XF_MERGE_SAMPLE_RUN;

		for (int64_t j = p; j < p + XF_MERGE_SAMPLE_RUN; j++)
			in_sample[j] = true;
	}
	fill_set(&s, 2, 1, sizes, false, 0, 8);
	for (int below = 0; below < 2; below++) {
		for (int compat = XF_MERGE_OFFICIAL; compat <= XF_MERGE_MERGEKIT; compat++) {
			struct xf_merge_opts o = opts(XF_MERGE_TIES, 2);
			float *got, *want[1];
			struct xf_merger *m;
			struct xf_err err = XF_ERR_INIT;
			int64_t retries;

			for (int64_t j = 0; j < n; j++) {
				s.x[0][0][j] = s.base[0][j] + (float)((j % 2 ? 1 : -1) * (1 + (double)(j % 9973) / 9973) *
								      (in_sample[j] == (bool)below ? 1.0 : 1e-3));
				s.x[0][1][j] = s.base[0][j] + (float)((j % 7 - 3) * 0.25);      /* ties, well sampled */
			}
			o.compat = (enum xf_merge_compat)compat;
			got = malloc((size_t)n * sizeof(float));
			xf_merger_create(&o, &m, &err);
			xf_merger_tensor(m, "t0", 0, s.base[0], (const float *const *)s.x[0], n, got, &err);
			retries = m->retries;
			xf_merger_free(m);
			ref_ties(&o, &s, want);
			ok(retries == 1 && same(got, want[0], n), "ties %s: a guess %s the rank, then the exact pass: = reference",
			   compat ? "mergekit" : "official", below ? "above" : "below");
			free(got);
			free(want[0]);
		}
	}
	free_set(&s);
	free(in_sample);
}

/* ---- the TIES authors' code and mergekit, run in torch (tests/ref/ref_merge.py) ---- */

/* tests/data/merge/NAME (XF_TEST_DATA overrides tests/data) as float32 or float64 values; NULL if absent. */
static void *load_fixture(const char *name, int64_t *count, bool f64)
{
	const char *dir = getenv("XF_TEST_DATA");
	struct xf_tensor t = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	char path[512];
	void *out;

	snprintf(path, sizeof(path), "%s/merge/%s", dir ? dir : "tests/data", name);
	if (xf_npy_load_file(path, &t, &err) < 0 || t.dtype != (f64 ? XF_DTYPE_F64 : XF_DTYPE_F32)) {
		printf("# %s: %s\n", path, err.msg);
		xf_tensor_release(&t);
		return NULL;
	}
	*count = 1;
	for (int d = 0; d < t.ndim; d++)
		*count *= t.shape[d];
	out = malloc((size_t)*count * (f64 ? 8 : 4) + 1);
	memcpy(out, t.data, (size_t)*count * (f64 ? 8 : 4));
	xf_tensor_release(&t);
	return out;
}

static void test_torch_fixtures(void)
{
	static const struct {
		const char *name;
		enum xf_merge_compat compat;
		enum xf_merge_scope scope;
	} cases[] = {
		{ "official-global", XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_GLOBAL },
		{ "official-tensor", XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_TENSOR },
		{ "mergekit", XF_MERGE_MERGEKIT, XF_MERGE_SCOPE_TENSOR },
	};
	struct set s = { 3, 3, { 0 }, { NULL }, { { NULL } } };
	int64_t count;
	char f[64];
	bool loaded = true;

	for (int k = 0; k < 3; k++) {
		snprintf(f, sizeof(f), "base-%d.npy", k);
		loaded &= (s.base[k] = load_fixture(f, &s.n[k], false)) != NULL;
		for (int i = 0; i < 3; i++) {
			snprintf(f, sizeof(f), "model-%d-%d.npy", i, k);
			loaded &= (s.x[k][i] = load_fixture(f, &count, false)) != NULL && count == s.n[k];
		}
	}
	for (size_t c = 0; loaded && c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct xf_merge_opts o = opts(XF_MERGE_TIES, 3);
		float *got[3] = { NULL }, *want;
		double *info;
		struct xf_err err = XF_ERR_INIT;
		int good;

		snprintf(f, sizeof(f), "%s-info.npy", cases[c].name);
		info = load_fixture(f, &count, true);
		o.compat = cases[c].compat;
		o.scope = cases[c].scope;
		o.density = info ? info[0] : 0;
		o.lambda = info ? info[1] : 0;
		o.weights = info ? info + 2 : NULL;
		good = info && run_set(&o, &s, got, &err) == 0;
		for (int k = 0; k < 3; k++) {
			snprintf(f, sizeof(f), "%s-out-%d.npy", cases[c].name, k);
			want = load_fixture(f, &count, false);
			for (int64_t j = 0; good && want && j < count; j++)
				if (!(fabs(got[k][j] - want[j]) <= 1e-8)) {
					printf("#   tensor %d [%lld]: got %.9g, torch %.9g\n", k, (long long)j, got[k][j], want[j]);
					good = 0;
				}
			good &= want != NULL;
			free(want);
			free(got[k]);
		}
		ok(good, "ties %s = the torch reference (tests/ref/ref_merge.py)", cases[c].name);
		free(info);
	}
	if (!loaded)
		ok(0, "torch fixtures load from tests/data/merge");
	free_set(&s);
}

/* ---- properties ---- */

static int equal_values(const float *a, const float *b, int64_t n)
{
	for (int64_t j = 0; a && b && j < n; j++)
		if (a[j] != b[j])
			return 0;
	return a && b;
}

static void test_properties(void)
{
	const int64_t sizes[] = { 1000 };
	struct set s;
	const float *one[1], *two[2], *four[4];
	struct xf_merge_opts o, t;
	struct xf_err err = XF_ERR_INIT;
	float *p, *q;

	fill_set(&s, 1, 1, sizes, false, 0, 5);
	one[0] = two[0] = two[1] = s.x[0][0];
	for (int i = 0; i < 4; i++)
		four[i] = s.x[0][0];
	for (int compat = XF_MERGE_OFFICIAL; compat <= XF_MERGE_MERGEKIT; compat++) {
		o = opts(XF_MERGE_TIES, 1);
		o.compat = (enum xf_merge_compat)compat;
		o.density = 1;
		o.lambda = t.lambda = 0.7;
		t = opts(XF_MERGE_TASK_ARITHMETIC, 1);
		t.lambda = 0.7;
		p = run1(&o, s.base[0], one, 1000, &err);
		q = run1(&t, s.base[0], one, 1000, &err);
		ok(same(p, q, 1000), "ties of one model at d = 1 = task arithmetic (%s)", compat ? "mergekit" : "official");
		free(p);
		free(q);
	}
	for (int method = XF_MERGE_TASK_ARITHMETIC; method <= XF_MERGE_DARE; method++) {
		o = opts((enum xf_merge_method)method, 1);
		o.lambda = 0;
		p = run1(&o, s.base[0], one, 1000, &err);
		ok(equal_values(p, s.base[0], 1000), "λ = 0 gives the base (%s)",
		   method == XF_MERGE_TIES ? "ties" : method == XF_MERGE_DARE ? "dare" : "task arithmetic");
		free(p);
	}
	o = opts(XF_MERGE_LINEAR, 2);
	p = run1(&o, NULL, two, 1000, &err);
	ok(same(p, s.x[0][0], 1000), "linear of two identical models is the model");
	free(p);
	o = opts(XF_MERGE_LINEAR, 4);
	p = run1(&o, NULL, four, 1000, &err);
	ok(same(p, s.x[0][0], 1000), "linear of four identical models is the model (to the bit, for these values)");
	free(p);
	o = opts(XF_MERGE_MODEL_STOCK, 2);
	p = run1(&o, s.base[0], two, 1000, &err);
	ok(same(p, s.x[0][0], 1000), "model stock of two identical models is the model (t = 1)");
	free(p);
	o = opts(XF_MERGE_TIES, 2);
	o.density = 1;
	t = opts(XF_MERGE_TASK_ARITHMETIC, 1);
	p = run1(&o, s.base[0], two, 1000, &err);
	q = run1(&t, s.base[0], one, 1000, &err);
	ok(same(p, q, 1000), "ties of two identical models at d = 1 = base + δ");
	free(p);
	free(q);
	free_set(&s);
}

/* Every method with 1, 2 and 3 threads on a tensor long enough to be split: the same bits. */
static void test_threads(void)
{
	const int64_t sizes[] = { 300007 };
	struct set s;
	struct {
		enum xf_merge_method method;
		enum xf_merge_compat compat;
		enum xf_merge_scope scope;
		bool elect;
		const char *name;
	} cases[] = {
		{ XF_MERGE_LINEAR, XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_TENSOR, false, "linear" },
		{ XF_MERGE_TASK_ARITHMETIC, XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_TENSOR, false, "task arithmetic" },
		{ XF_MERGE_TIES, XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_TENSOR, false, "ties official" },
		{ XF_MERGE_TIES, XF_MERGE_MERGEKIT, XF_MERGE_SCOPE_TENSOR, false, "ties mergekit" },
		{ XF_MERGE_TIES, XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_GLOBAL, false, "ties official global" },
		{ XF_MERGE_TIES, XF_MERGE_MERGEKIT, XF_MERGE_SCOPE_GLOBAL, false, "ties mergekit global" },
		{ XF_MERGE_DARE, XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_TENSOR, false, "dare official" },
		{ XF_MERGE_DARE, XF_MERGE_MERGEKIT, XF_MERGE_SCOPE_TENSOR, false, "dare mergekit" },
		{ XF_MERGE_DARE, XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_TENSOR, true, "dare official --elect" },
		{ XF_MERGE_DARE, XF_MERGE_MERGEKIT, XF_MERGE_SCOPE_TENSOR, true, "dare mergekit --elect" },
		{ XF_MERGE_SLERP, XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_TENSOR, false, "slerp" },
		{ XF_MERGE_MODEL_STOCK, XF_MERGE_OFFICIAL, XF_MERGE_SCOPE_TENSOR, false, "model stock" },
	};

	fill_set(&s, 3, 1, sizes, true, 0, 6);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct xf_merge_opts o = opts(cases[c].method, cases[c].method == XF_MERGE_SLERP ? 1 : 3);
		float *out[3][1];
		struct xf_err err = XF_ERR_INIT;
		int good = 1;

		o.compat = cases[c].compat;
		o.scope = cases[c].scope;
		o.elect = cases[c].elect;
		o.density = cases[c].method == XF_MERGE_DARE ? 0.5 : 0.2;
		for (int t = 0; t < 3; t++) {
			o.threads = t + 1;
			good &= run_set(&o, &s, out[t], &err) == 0;
		}
		ok(good && same(out[0][0], out[1][0], sizes[0]) && same(out[0][0], out[2][0], sizes[0]),
		   "%s: 1, 2 and 3 threads give the same bits", cases[c].name);
		for (int t = 0; t < 3; t++)
			free(out[t][0]);
	}
	free_set(&s);
}

int main(void)
{
	test_linear();
	test_task_arithmetic();
	test_ties_trim();
	test_ties_small_tensors();
	test_ties_zero_sum();
	test_ties_exact_sum();
	test_ties_global_majority();
	test_ties_disjoint_mean();
	test_dare_rescale();
	test_dare_unbiased();
	test_dare_streams();
	test_dare_density_one();
	test_slerp();
	test_model_stock();
	test_options();
	test_inputs_and_passes();
	test_ties_reference();
	test_ties_bad_guess();
	test_torch_fixtures();
	test_properties();
	test_threads();
	return done_testing();
}
