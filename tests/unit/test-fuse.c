/*
 * Unit tests for lib/fuse.c: mean and logit-mean on 2-model 3-class rows worked by hand (both
 * input kinds, with weights), identical models, the log floor, dynamic fusion against a brute
 * force over a grid of the simplex, against scipy's SLSQP (values below), its KKT conditions,
 * agreeing models, thread-count independence, and the refused inputs.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "rng.h"
#include "tap.h"

#define MAX_M 8
#define MAX_C 16

/* ---- an independent reference for the dynamic objective, written the plain way ---- */

/* One row of every model as logits z[i][k] and probabilities p[i][k], as fuse.h defines them. */
struct row {
	int m;
	int64_t c;
	double z[MAX_M][MAX_C];
	double p[MAX_M][MAX_C];
	double a[MAX_M];
};

static void load_ref_row(struct row *R, enum xf_fuse_kind kind, int m, const float *const *in, int64_t r,
			 int64_t c, const double *weights)
{
	double wsum = 0;

	R->m = m, R->c = c;
	for (int i = 0; i < m; i++) {
		const float *x = in[i] + r * c;
		double mx = -INFINITY, sum = 0;

		for (int64_t k = 0; k < c; k++) {
			if (kind == XF_FUSE_LOGITS) {
				R->z[i][k] = x[k];
				mx = fmax(mx, x[k]);
			}
			sum += kind == XF_FUSE_LOGITS ? 0 : x[k];
		}
		if (kind == XF_FUSE_LOGITS) {
			sum = 0;
			for (int64_t k = 0; k < c; k++)
				sum += exp(R->z[i][k] - mx);
			for (int64_t k = 0; k < c; k++)
				R->p[i][k] = exp(R->z[i][k] - mx) / sum;
		} else {
			for (int64_t k = 0; k < c; k++) {
				R->p[i][k] = x[k] / sum;
				R->z[i][k] = fmax(log(R->p[i][k]), XF_FUSE_LOG_FLOOR);
			}
		}
		R->a[i] = weights ? weights[i] : 1;
		wsum += R->a[i];
	}
	for (int i = 0; i < m; i++)
		R->a[i] /= wsum;
}

/* q = softmax(Σ w_j z_j). */
static void ref_mixture(const struct row *R, const double *w, double *q)
{
	double y[MAX_C], mx = -INFINITY, sum = 0;

	for (int64_t k = 0; k < R->c; k++) {
		y[k] = 0;
		for (int j = 0; j < R->m; j++)
			y[k] += w[j] * R->z[j][k];
		mx = fmax(mx, y[k]);
	}
	for (int64_t k = 0; k < R->c; k++)
		sum += q[k] = exp(y[k] - mx);
	for (int64_t k = 0; k < R->c; k++)
		q[k] /= sum;
}

/* F(w) = Σ_i a_i KL(p_i ‖ softmax(Σ_j w_j z_j)), with 0 log 0 = 0. */
static double ref_objective(const struct row *R, const double *w)
{
	double q[MAX_C], f = 0;

	ref_mixture(R, w, q);
	for (int i = 0; i < R->m; i++)
		for (int64_t k = 0; k < R->c; k++)
			if (R->p[i][k] > 0)
				f += R->a[i] * R->p[i][k] * (log(R->p[i][k]) - log(q[k]));
	return f;
}

/* The Frank-Wolfe gap Σ_j w_j g_j − min_i g_i with g = Zᵀ(q − p̄): 0 exactly at the optimum. */
static double ref_kkt_gap(const struct row *R, const double *w)
{
	double q[MAX_C], g[MAX_M], gmin = INFINITY, gw = 0;

	ref_mixture(R, w, q);
	for (int j = 0; j < R->m; j++) {
		g[j] = 0;
		for (int64_t k = 0; k < R->c; k++) {
			double pbar = 0;

			for (int i = 0; i < R->m; i++)
				pbar += R->a[i] * R->p[i][k];
			g[j] += R->z[j][k] * (q[k] - pbar);
		}
		gmin = fmin(gmin, g[j]);
		gw += w[j] * g[j];
	}
	return gw - gmin;
}

/* ---- random rows ---- */

/* n x c logits per model, model i with spread scale[i]; or their softmax when kind is probs. */
static float *random_preds(struct xf_rng *rng, enum xf_fuse_kind kind, int64_t n, int64_t c, double scale)
{
	float *x = malloc((size_t)(n * c) * sizeof(float));

	for (int64_t r = 0; r < n; r++) {
		float *row = x + r * c;
		double sum = 0;

		for (int64_t k = 0; k < c; k++)
			row[k] = (float)(scale * xf_rng_normal(rng));
		if (kind == XF_FUSE_LOGITS)
			continue;
		for (int64_t k = 0; k < c; k++)
			sum += exp(row[k]);
		for (int64_t k = 0; k < c; k++)
			row[k] = (float)(exp(row[k]) / sum);
	}
	return x;
}

/*
 * Row r's weights, put back on the simplex: float32 rounding leaves Σ w off 1 by ~1e-8, and off
 * the simplex F is no longer shift-invariant, so that error would be multiplied by the size of
 * the gradient (~30 with floored logits) and hide the solver's own accuracy.
 */
static void w_of_row(const float *row_weights, int64_t r, int m, double *w)
{
	double sum = 0;

	for (int i = 0; i < m; i++)
		sum += w[i] = row_weights[r * m + i];
	for (int i = 0; i < m; i++)
		w[i] /= sum;
}

/* ---- mean and logit-mean by hand ---- */

/*
 * p1 = [1/2 1/4 1/4], p2 = [1/4 1/4 1/2]; as logits z1 = [ln 2, 0, 0], z2 = [0, 0, ln 2].
 * mean: [3/8 1/4 3/8], logits their logs.
 * logit-mean of the probabilities: ½(ln p1 + ln p2) = [½ ln ⅛, ln ¼, ½ ln ⅛] = [−1.5 ln 2, −2 ln 2,
 * −1.5 ln 2]; its softmax is ∝ [√2, 1, √2]: [√2, 1, √2] / (1 + 2√2).
 * logit-mean of the logits: [½ ln 2, 0, ½ ln 2], the same softmax.
 * Weights 3 : 1 (a = ¾, ¼): mean [7/16 1/4 5/16]; logit-mean of logits [¾ ln 2, 0, ¼ ln 2], softmax
 * ∝ [2^¾, 1, 2^¼].
 */
static const float hand_p1[] = { 0.5f, 0.25f, 0.25f }, hand_p2[] = { 0.25f, 0.25f, 0.5f };

static void test_mean_by_hand(void)
{
	const float *probs[] = { hand_p1, hand_p2 };
	float z1[3] = { (float)M_LN2, 0, 0 }, z2[3] = { 0, 0, (float)M_LN2 };
	const float *logits[] = { z1, z2 };
	const double w31[] = { 3, 1 };
	float lo[3], pr[3], rw[2];
	struct xf_err err = XF_ERR_INIT;

	ok(xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, probs, NULL, 1, 3, 1, lo, pr, rw, &err) == 0, "mean of probs runs");
	is_near(pr[0], 0.375, 1e-7, "mean probs [0] = 3/8");
	is_near(pr[1], 0.25, 1e-7, "mean probs [1] = 1/4");
	is_near(pr[2], 0.375, 1e-7, "mean probs [2] = 3/8");
	is_near(lo[0], log(0.375), 1e-6, "mean logits [0] = ln 3/8");
	is_near(lo[1], log(0.25), 1e-6, "mean logits [1] = ln 1/4");
	ok(rw[0] == 0.5f && rw[1] == 0.5f, "mean row weights 1/2 1/2");

	ok(xf_fuse(XF_FUSE_MEAN, XF_FUSE_LOGITS, 2, logits, NULL, 1, 3, 1, lo, pr, NULL, &err) == 0,
	   "mean of logits runs");
	ok(fabs(pr[0] - 0.375) < 1e-7 && fabs(pr[1] - 0.25) < 1e-7 && fabs(pr[2] - 0.375) < 1e-7,
	   "mean of logits: softmax first, then [3/8 1/4 3/8]");
	is_near(lo[2], log(0.375), 1e-6, "mean of logits: out logits ln 3/8");

	ok(xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, probs, w31, 1, 3, 1, lo, pr, rw, &err) == 0, "weighted mean runs");
	ok(fabs(pr[0] - 7 / 16.) < 1e-7 && fabs(pr[1] - 0.25) < 1e-7 && fabs(pr[2] - 5 / 16.) < 1e-7,
	   "weights 3:1: [7/16 1/4 5/16]");
	ok(rw[0] == 0.75f && rw[1] == 0.25f, "weights 3:1: row weights 3/4 1/4");
}

static void test_logit_mean_by_hand(void)
{
	const float *probs[] = { hand_p1, hand_p2 };
	float z1[3] = { (float)M_LN2, 0, 0 }, z2[3] = { 0, 0, (float)M_LN2 };
	const float *logits[] = { z1, z2 };
	const double w31[] = { 3, 1 };
	double r2 = sqrt(2), den = 1 + 2 * r2, e34 = pow(2, 0.75), e14 = pow(2, 0.25);
	float lo[3], pr[3], rw[2];
	struct xf_err err = XF_ERR_INIT;

	ok(xf_fuse(XF_FUSE_LOGIT_MEAN, XF_FUSE_PROBS, 2, probs, NULL, 1, 3, 1, lo, pr, rw, &err) == 0,
	   "logit-mean of probs runs");
	is_near(lo[0], -1.5 * M_LN2, 1e-6, "logit-mean of probs: logits [0] = -1.5 ln 2");
	is_near(lo[1], -2 * M_LN2, 1e-6, "logit-mean of probs: logits [1] = -2 ln 2");
	is_near(lo[2], -1.5 * M_LN2, 1e-6, "logit-mean of probs: logits [2] = -1.5 ln 2");
	is_near(pr[0], r2 / den, 1e-7, "logit-mean of probs: probs [0] = sqrt 2 / (1 + 2 sqrt 2)");
	is_near(pr[1], 1 / den, 1e-7, "logit-mean of probs: probs [1] = 1 / (1 + 2 sqrt 2)");
	is_near(pr[2], r2 / den, 1e-7, "logit-mean of probs: probs [2]");

	ok(xf_fuse(XF_FUSE_LOGIT_MEAN, XF_FUSE_LOGITS, 2, logits, NULL, 1, 3, 1, lo, pr, NULL, &err) == 0,
	   "logit-mean of logits runs");
	ok(fabs(lo[0] - M_LN2 / 2) < 1e-7 && lo[1] == 0 && fabs(lo[2] - M_LN2 / 2) < 1e-7,
	   "logit-mean of logits: [ln 2 / 2, 0, ln 2 / 2]");
	is_near(pr[1], 1 / den, 1e-7, "logit-mean of logits: same softmax as of the probs");

	ok(xf_fuse(XF_FUSE_LOGIT_MEAN, XF_FUSE_LOGITS, 2, logits, w31, 1, 3, 1, lo, pr, NULL, &err) == 0,
	   "weighted logit-mean runs");
	is_near(lo[0], 0.75 * M_LN2, 1e-7, "weights 3:1: logits [0] = 3/4 ln 2");
	is_near(lo[2], 0.25 * M_LN2, 1e-7, "weights 3:1: logits [2] = 1/4 ln 2");
	is_near(pr[0], e34 / (e34 + 1 + e14), 1e-7, "weights 3:1: probs [0] = 2^3/4 / (2^3/4 + 1 + 2^1/4)");
	is_near(pr[1], 1 / (e34 + 1 + e14), 1e-7, "weights 3:1: probs [1]");
}

/*
 * A zero probability: mean's log is floored where both models say 0; logit-mean of probs uses
 * the floor for the model that says 0, so that class keeps a finite, tiny logit.
 */
static void test_floor(void)
{
	static const float q1[] = { 0.5f, 0.5f, 0 }, q2[] = { 1, 0, 0 };
	const float *probs[] = { q1, q2 };
	float lo[3], pr[3];
	struct xf_err err = XF_ERR_INIT;
	int rc;

	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, probs, NULL, 1, 3, 1, lo, pr, NULL, &err);
	ok(rc == 0 && lo[2] == (float)XF_FUSE_LOG_FLOOR && pr[2] == 0 && fabs(lo[1] - log(0.25)) < 1e-6,
	   "mean: log 0 is floored at log(FLT_MIN) = %g", lo[2]);
	ok(fabs(XF_FUSE_LOG_FLOOR - log(FLT_MIN)) < 1e-12, "the floor is log(FLT_MIN)");
	rc = xf_fuse(XF_FUSE_LOGIT_MEAN, XF_FUSE_PROBS, 2, probs, NULL, 1, 3, 1, lo, pr, NULL, &err);
	ok(rc == 0 && isfinite(lo[1]) && fabs(lo[1] - (log(0.5) + XF_FUSE_LOG_FLOOR) / 2) < 1e-5 && pr[1] < 1e-18 &&
	   pr[0] > 0.999999f, "logit-mean: one model's 0 gives the floored mean %g", lo[1]);
}

/* Probability rows off by less than 1e-3 are accepted and divided by their sum. */
static void test_sum_tolerance(void)
{
	static const float q1[] = { 0.5004f, 0.5f }, q2[] = { 0.25f, 0.7505f };
	const float *probs[] = { q1, q2 };
	float pr[2];
	struct xf_err err = XF_ERR_INIT;

	ok(xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, probs, NULL, 1, 2, 1, NULL, pr, NULL, &err) == 0,
	   "sums 1.0004 and 1.0005 accepted");
	is_near(pr[0] + pr[1], 1, 1e-7, "and renormalised");
	is_near(pr[0], (0.5004 / 1.0004 + 0.25 / 1.0005) / 2, 1e-7, "mean of the renormalised rows");
}

/* Three identical models: every method gives back the input, and dynamic keeps w = a. */
static void test_identical_models(void)
{
	struct xf_rng rng;
	const int64_t n = 20, c = 5;
	const double w[] = { 1, 2, 5 };
	float lo[100], pr[100], rw[60];
	struct xf_err err = XF_ERR_INIT;

	xf_rng_init(&rng, 11, 0);
	float *p = random_preds(&rng, XF_FUSE_PROBS, n, c, 1.5);
	const float *in[] = { p, p, p };

	for (int method = XF_FUSE_MEAN; method <= XF_FUSE_DYNAMIC; method++) {
		double dp = 0, dl = 0, dw = 0;

		ok(xf_fuse(method, XF_FUSE_PROBS, 3, in, w, n, c, 1, lo, pr, rw, &err) == 0,
		   "%s of identical models runs", xf_fuse_method_name(method));
		for (int64_t k = 0; k < n * c; k++) {
			dp = fmax(dp, fabs(pr[k] - p[k]));
			dl = fmax(dl, fabs(lo[k] - log(p[k])));
		}
		for (int64_t r = 0; r < n; r++)
			for (int i = 0; i < 3; i++)
				dw = fmax(dw, fabs(rw[r * 3 + i] - w[i] / 8));
		ok(dp < 1e-7 && dl < 1e-5, "%s of identical models is the identity (probs %.2g, logits %.2g)",
		   xf_fuse_method_name(method), dp, dl);
		ok(dw < 1e-7, "%s of identical models: row weights are the model weights", xf_fuse_method_name(method));
	}
	free(p);
}

/* ---- dynamic ---- */

/* F at every point of the grid {w = k / steps} on the simplex of m ≤ 3 models, the minimum. */
static double grid_min(const struct row *R, int steps)
{
	double best = INFINITY, w[3];

	for (int k0 = 0; k0 <= steps; k0++)
		for (int k1 = 0; k1 <= (R->m == 3 ? steps - k0 : 0); k1++) {
			w[0] = (double)k0 / steps;
			if (R->m == 2) {
				w[1] = 1 - w[0];
			} else {
				w[1] = (double)k1 / steps;
				w[2] = (double)(steps - k0 - k1) / steps;
			}
			best = fmin(best, ref_objective(R, w));
		}
	return best;
}

/*
 * Random rows, models of different confidence: F at our weights is no worse than anywhere on a
 * grid (step 1/1000 for 2 models, 1/200 for 3), the weights are on the simplex, and the outputs
 * are the mixture they define.
 */
static void test_dynamic_grid(int m, enum xf_fuse_kind kind, int64_t c, uint64_t seed)
{
	const int64_t n = 12;
	const double weights[] = { 1, 2, 0.5 };
	float *in[3], lo[12 * MAX_C], pr[12 * MAX_C], rw[12 * 3];
	double worst = -INFINITY, out_err = 0, simplex_err = 0;
	struct xf_rng rng;
	struct xf_err err = XF_ERR_INIT;

	xf_rng_init(&rng, seed, 0);
	for (int i = 0; i < m; i++)
		in[i] = random_preds(&rng, kind, n, c, 0.5 + 1.5 * i);
	ok(xf_fuse(XF_FUSE_DYNAMIC, kind, m, (const float *const *)in, weights, n, c, 2, lo, pr, rw, &err) == 0,
	   "dynamic, %d models, %s, c = %lld runs", m, kind == XF_FUSE_PROBS ? "probs" : "logits", (long long)c);
	for (int64_t r = 0; r < n; r++) {
		struct row R;
		double w[3], q[MAX_C], sum = 0, y;

		load_ref_row(&R, kind, m, (const float *const *)in, r, c, weights);
		w_of_row(rw, r, m, w);
		worst = fmax(worst, ref_objective(&R, w) - grid_min(&R, m == 2 ? 1000 : 200));
		ref_mixture(&R, w, q);
		for (int i = 0; i < m; i++) {
			sum += w[i];
			simplex_err = fmax(simplex_err, w[i] < 0 ? -w[i] : 0);
		}
		simplex_err = fmax(simplex_err, fabs(sum - 1));
		for (int64_t k = 0; k < c; k++) {
			y = 0;
			for (int i = 0; i < m; i++)
				y += w[i] * R.z[i][k];
			out_err = fmax(out_err, fabs(pr[r * c + k] - q[k]));
			out_err = fmax(out_err, fabs(lo[r * c + k] - y) / fmax(1, fabs(y)));
		}
	}
	ok(worst <= 1e-6, "dynamic, %d models, %s: F(ours) - min over grid = %.3g <= 1e-6", m,
	   kind == XF_FUSE_PROBS ? "probs" : "logits", worst);
	ok(simplex_err < 1e-6, "dynamic, %d models: weights on the simplex (%.2g)", m, simplex_err);
	ok(out_err < 1e-5, "dynamic, %d models: outputs are softmax(sum w_i z_i) and sum w_i z_i (%.2g)", m, out_err);
	for (int i = 0; i < m; i++)
		free(in[i]);
}

/* KKT: the Frank-Wolfe gap (an upper bound on F(w) − min F) is ~0 for 4 and 6 models. */
static void test_dynamic_kkt(int m, uint64_t seed)
{
	const int64_t n = 50, c = 7;
	float *in[MAX_M], *rw = malloc((size_t)(n * m) * sizeof(float));
	double gap = 0;
	struct xf_rng rng;
	struct xf_err err = XF_ERR_INIT;

	xf_rng_init(&rng, seed, 0);
	for (int i = 0; i < m; i++)
		in[i] = random_preds(&rng, XF_FUSE_LOGITS, n, c, 0.3 + i);
	ok(xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_LOGITS, m, (const float *const *)in, NULL, n, c, 1, NULL, NULL, rw, &err)
	   == 0, "dynamic, %d models, no fused outputs, only weights", m);
	for (int64_t r = 0; r < n; r++) {
		struct row R;
		double w[MAX_M];

		load_ref_row(&R, XF_FUSE_LOGITS, m, (const float *const *)in, r, c, NULL);
		w_of_row(rw, r, m, w);
		gap = fmax(gap, ref_kkt_gap(&R, w));
	}
	ok(gap <= 1e-6, "dynamic, %d models: KKT gap %.3g <= 1e-6 on every row", m, gap);
	for (int i = 0; i < m; i++)
		free(in[i]);
	free(rw);
}

/*
 * Rows checked against scipy 1.10.1 SLSQP (ftol 1e-16, best of several starts) on the float32
 * inputs; the script, for the record:
 *	Z = float32 logits (or max(log(p / Σp), log(FLT_MIN)) for probs), P = softmax(Z), a = w / Σw,
 *	pbar = a @ P, F = lambda w: -pbar @ (w @ Z) + logsumexp(w @ Z) + Σ a_i Σ p log p,
 *	minimize(F, a, jac=lambda w: Z @ (softmax(w @ Z) - pbar), method='SLSQP', bounds=[(0, 1)] * m,
 *	         constraints=[{'type': 'eq', 'fun': lambda w: w.sum() - 1}])
 * Row E has its optimum on the boundary (w_2 = 0: the model with weight 0 disagrees). Rows G and
 * H are hard: G has probabilities with zeros (floored logits, saturated softmax), H has 8
 * models on 3 classes, so its optimum is not unique; for those only F is compared.
 */
struct oracle_case {
	const char *name;
	enum xf_fuse_kind kind;
	int m;
	int64_t c;
	float x[8][5];
	double weights[8];
	double w[8];      /* the optimum, or all 0 where it is not unique */
	double f;
};

static const struct oracle_case oracle_cases[] = {
	{ "A", XF_FUSE_LOGITS, 2, 4, { { 2, 0.5, -1, 0 }, { -0.5, 1.5, 0.25, 0 } }, { 1, 1 },
	  { 0.5812041835450205, 0.4187958164549796 }, 0.24461967630785098 },
	{ "B", XF_FUSE_LOGITS, 3, 5, { { 3, 0, 0, -1, 0.5 }, { 0, 2, -1, 0, 0.5 }, { 0.5, 0.5, 2.5, -2, 0 } },
	  { 1, 2, 1 }, { 0.19500977815865547, 0.4170658824662794, 0.38792433937506515 }, 0.510886556767485 },
	{ "C", XF_FUSE_PROBS, 3, 4,
	  { { 0.7f, 0.1f, 0.1f, 0.1f }, { 0.1f, 0.6f, 0.2f, 0.1f }, { 0.25, 0.25, 0.25, 0.25 } },
	  { 1, 1, 1 }, { 0.4581833878700348, 0.4344719163864747, 0.10734469574349059 }, 0.18907747144636078 },
	{ "E", XF_FUSE_LOGITS, 3, 3, { { 2, 0, 0 }, { 1.5, 0.5, 0 }, { -3, 4, 0 } }, { 1, 1, 0 },
	  { 0.4399941612862154, 0.5600058387137846, 0 }, 0.017438125320850206 },
	{ "F", XF_FUSE_LOGITS, 3, 4, { { 2, 0, 0, 1 }, { 0, 2, 0, 1 }, { 1, 1, 1, 1 } }, { 1, 1, 1 },
	  { 0.3650306602164834, 0.36503066021648334, 0.2699386795670333 }, 0.18737519065411679 },
	{ "G", XF_FUSE_PROBS, 6, 5,
	  { { 0, 0, 0.6f, 0.4f, 0 }, { 0, 0.825f, 0.15f, 0, 0.025f }, { 0.967f, 0, 0.033f, 0, 0 }, { 0, 0, 1, 0, 0 },
	    { 0.035f, 0, 0.965f, 0, 0 }, { 0.27f, 0.22f, 0.51f, 0, 0 } },
	  { 1, 2, 3, 4, 5, 6 }, { 0 }, 2.313693059962846 },
	{ "H", XF_FUSE_LOGITS, 8, 3,
	  { { 3, 0, -1 }, { 0, 2, 1 }, { -2, 1, 4 }, { 1, 1, 1 }, { 0.5, -3, 2 }, { 6, -6, 0 }, { 0, 0, 5 }, { -1, 4, 0 } },
	  { 1, 1, 1, 1, 1, 1, 1, 1 }, { 0 }, 0.6858781814547767 },
};

static void test_dynamic_scipy(void)
{
	for (size_t t = 0; t < sizeof(oracle_cases) / sizeof(oracle_cases[0]); t++) {
		const struct oracle_case *o = &oracle_cases[t];
		const float *in[8];
		float rw[8];
		double w[8], dw = 0, wsum = 0;
		struct row R;
		struct xf_err err = XF_ERR_INIT;

		for (int i = 0; i < o->m; i++)
			in[i] = o->x[i];
		ok(xf_fuse(XF_FUSE_DYNAMIC, o->kind, o->m, in, o->weights, 1, o->c, 1, NULL, NULL, rw, &err) == 0,
		   "scipy row %s runs", o->name);
		load_ref_row(&R, o->kind, o->m, in, 0, o->c, o->weights);
		w_of_row(rw, 0, o->m, w);
		for (int i = 0; i < o->m; i++) {
			dw = fmax(dw, fabs(w[i] - o->w[i]));
			wsum += o->w[i];
		}
		if (wsum > 0)
			ok(dw < 1e-5, "scipy row %s: weights within %.2g of SLSQP's", o->name, dw);
		ok(ref_objective(&R, w) <= o->f + 1e-9, "scipy row %s: F %.17g <= SLSQP's %.17g", o->name,
		   ref_objective(&R, w), o->f);
		for (int i = 0; wsum > 0 && i < o->m; i++)
			if (o->w[i] == 0)
				ok(rw[i] == 0, "scipy row %s: w_%d is exactly 0 on the boundary", o->name, i);
	}
}

/*
 * All models agree on a row: F = 0 is reached at the start, w = a is kept and the output is that
 * distribution. A weight-0 model that disagrees is left out (w = 0 exactly) when the others
 * agree, because any weight on it would move q away from p̄.
 */
static void test_dynamic_agreeing(void)
{
	static const float agree[] = { 0.6f, 0.3f, 0.1f }, other[] = { 0.05f, 0.05f, 0.9f };
	const float *same[] = { agree, agree, agree }, *outlier[] = { agree, agree, other };
	const double w_same[] = { 1, 1, 2 }, w_out[] = { 1, 3, 0 };
	float pr[3], rw[3];
	struct xf_err err = XF_ERR_INIT;
	int rc;

	rc = xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_PROBS, 3, same, w_same, 1, 3, 1, NULL, pr, rw, &err);
	ok(rc == 0 && rw[0] == 0.25f && rw[1] == 0.25f && rw[2] == 0.5f, "agreeing models: w = a");
	ok(fabs(pr[0] - 0.6) < 1e-7 && fabs(pr[1] - 0.3) < 1e-7 && fabs(pr[2] - 0.1) < 1e-7,
	   "agreeing models: their distribution");
	rc = xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_PROBS, 3, outlier, w_out, 1, 3, 1, NULL, pr, rw, &err);
	ok(rc == 0 && rw[2] == 0 && fabs(rw[0] + rw[1] - 1) < 1e-7, "weight-0 outlier gets w = 0 (%g %g %g)", rw[0],
	   rw[1], rw[2]);
	ok(fabs(pr[0] - 0.6) < 1e-6 && fabs(pr[2] - 0.1) < 1e-6, "weight-0 outlier: the agreeing distribution");
}

/* Logits of ±1e4 and a one-hot row: finite outputs, weights on the simplex, F no worse than at a. */
static void test_dynamic_extreme(void)
{
	static const float big1[] = { 1e4f, -1e4f, 0 }, big2[] = { -1e4f, 1e4f, 3 }, big3[] = { 0, 0, 0 };
	static const float hot[] = { 1, 0, 0 }, soft[] = { 0.4f, 0.3f, 0.3f };
	const float *in[] = { big1, big2, big3 }, *pin[] = { hot, soft };
	float lo[3], pr[3], rw[3];
	double w[3], a[3] = { 1. / 3, 1. / 3, 1. / 3 };
	struct row R;
	struct xf_err err = XF_ERR_INIT;
	int rc;
	double f;

	ok(xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_LOGITS, 3, in, NULL, 1, 3, 1, lo, pr, rw, &err) == 0, "logits of 1e4 run");
	load_ref_row(&R, XF_FUSE_LOGITS, 3, in, 0, 3, NULL);
	w_of_row(rw, 0, 3, w);
	f = ref_objective(&R, w);
	ok(isfinite(lo[0]) && isfinite(lo[1]) && isfinite(lo[2]) && fabs(pr[0] + pr[1] + pr[2] - 1) < 1e-6 &&
	   fabs(rw[0] + rw[1] + rw[2] - 1) < 1e-6 && f <= ref_objective(&R, a),
	   "logits of 1e4: finite, on the simplex, F %g <= F(a) %g", f, ref_objective(&R, a));
	ok(f <= grid_min(&R, 200) * (1 + 1e-12), "logits of 1e4: F %.17g no worse than the grid's %.17g", f,
	   grid_min(&R, 200));
	rc = xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_PROBS, 2, pin, NULL, 1, 3, 1, lo, pr, rw, &err);
	ok(rc == 0 && isfinite(lo[1]) && lo[1] >= (float)XF_FUSE_LOG_FLOOR && fabs(rw[0] + rw[1] - 1) < 1e-6,
	   "one-hot probabilities: finite logits, weights %g %g", rw[0], rw[1]);
	load_ref_row(&R, XF_FUSE_PROBS, 2, pin, 0, 3, NULL);
	w_of_row(rw, 0, 2, w);
	ok(ref_objective(&R, w) <= grid_min(&R, 1000) + 1e-6, "one-hot probabilities: optimal on the grid");
}

/* The same rows with 1, 2, 3 and 7 threads (and all cores): bit-identical outputs. */
static void test_threads(void)
{
	const int64_t n = 16000, c = 10;   /* mean and logit-mean take 2185 rows a chunk here */
	const int m = 3;
	float *in[3], *out[5][3];
	struct xf_rng rng;
	int same = 1;
	const int threads[] = { 1, 2, 3, 7, 0 };

	xf_rng_init(&rng, 99, 0);
	for (int i = 0; i < m; i++)
		in[i] = random_preds(&rng, XF_FUSE_PROBS, n, c, 1 + i);
	for (int method = XF_FUSE_MEAN; method <= XF_FUSE_DYNAMIC; method++) {
		for (int t = 0; t < 5; t++) {
			struct xf_err err = XF_ERR_INIT;

			out[t][0] = malloc((size_t)(n * c) * sizeof(float));
			out[t][1] = malloc((size_t)(n * c) * sizeof(float));
			out[t][2] = malloc((size_t)(n * m) * sizeof(float));
			if (xf_fuse(method, XF_FUSE_PROBS, m, (const float *const *)in, NULL, n, c, threads[t],
				    out[t][0], out[t][1], out[t][2], &err) < 0)
				same = 0;
		}
		for (int t = 1; t < 5; t++)
			same &= !memcmp(out[0][0], out[t][0], (size_t)(n * c) * sizeof(float)) &&
				!memcmp(out[0][1], out[t][1], (size_t)(n * c) * sizeof(float)) &&
				!memcmp(out[0][2], out[t][2], (size_t)(n * m) * sizeof(float));
		ok(same, "%s: 1, 2, 3, 7 and all threads give identical outputs", xf_fuse_method_name(method));
		for (int t = 0; t < 5; t++)
			for (int k = 0; k < 3; k++)
				free(out[t][k]);
	}
	for (int i = 0; i < m; i++)
		free(in[i]);
}

/* ---- refused inputs ---- */

static void expect_refused(int rc, const struct xf_err *err, int code, const char *part, const char *name)
{
	ok(rc < 0 && err->code == code && (!part || strstr(err->msg, part)), "%s: %s", name, err->msg);
}

static void test_refused(void)
{
	float p1[] = { 0.5f, 0.25f, 0.25f, 0.2f, 0.3f, 0.5f }, p2[] = { 0.25f, 0.25f, 0.5f, 0.1f, 0.1f, 0.8f };
	const float *in[] = { p1, p2 };
	float out[6] = { 42, 42, 42, 42, 42, 42 };
	const double zero[] = { 0, 0 }, neg[] = { 1, -1 }, nanw[] = { NAN, 1 };
	struct xf_err err = XF_ERR_INIT;
	int rc;

	p2[4] = NAN;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_LOGITS, 2, in, NULL, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_FORMAT, "model 1 row 1", "NaN logit refused, naming model and row");
	ok(out[0] == 42 && out[5] == 42, "outputs untouched on error");
	p2[4] = INFINITY;
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_LOGIT_MEAN, XF_FUSE_LOGITS, 2, in, NULL, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_FORMAT, "model 1 row 1", "infinite logit refused");
	p2[4] = 0.1f;

	p1[1] = -0.25f, p1[2] = 0.75f;
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_PROBS, 2, in, NULL, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_FORMAT, "model 0 row 0", "negative probability refused");
	ok(xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_LOGITS, 2, in, NULL, 2, 3, 1, NULL, NULL, NULL, &err) == 0,
	   "the same values are fine as logits");
	p1[1] = 0.25f, p1[2] = 0.25f;

	p2[3] = 1.1f, p2[5] = 0.8f;   /* row 1 of model 1 sums to 2 */
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, in, NULL, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_FORMAT, "model 1 row 1", "probability above 1 refused");
	p2[3] = 1, p2[4] = 0.2f;
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, in, NULL, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_FORMAT, "model 1 row 1: probabilities sum to 2", "row summing to 2 refused");
	p2[3] = 0.1f, p2[4] = 0.1f;
	p1[0] = 0.502f;
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, in, NULL, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_FORMAT, "model 0 row 0", "row summing to 1.002 refused");
	p1[0] = 0.5f;

	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, in, zero, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_USAGE, "zero", "all-zero weights refused");
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, in, neg, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_USAGE, "model 1", "negative weight refused");
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, in, nanw, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_USAGE, "model 0", "NaN weight refused");
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 0, in, NULL, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_USAGE, NULL, "no models refused");
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, XF_FUSE_MAX_MODELS + 1, in, NULL, 2, 3, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_LIMIT, NULL, "too many models refused");
	err = (struct xf_err)XF_ERR_INIT;
	rc = xf_fuse(XF_FUSE_MEAN, XF_FUSE_PROBS, 2, in, NULL, 2, 0, 1, out, NULL, NULL, &err);
	expect_refused(rc, &err, XF_E_USAGE, NULL, "zero classes refused");
	ok(out[0] == 42 && out[5] == 42, "outputs still untouched");

	ok(xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_PROBS, 2, in, NULL, 0, 3, 1, NULL, NULL, NULL, &err) == 0,
	   "n = 0 is fine");
	ok(xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_PROBS, 2, in, NULL, 2, 3, 1, NULL, NULL, NULL, &err) == 0,
	   "no outputs at all is fine");
}

static void test_names(void)
{
	ok(xf_fuse_method_parse("mean") == XF_FUSE_MEAN && xf_fuse_method_parse("logit-mean") == XF_FUSE_LOGIT_MEAN &&
	   xf_fuse_method_parse("dynamic") == XF_FUSE_DYNAMIC && xf_fuse_method_parse("median") == -1,
	   "method names parse");
	is_str(xf_fuse_method_name(XF_FUSE_LOGIT_MEAN), "logit-mean", "method name");
}

int main(void)
{
	test_mean_by_hand();
	test_logit_mean_by_hand();
	test_floor();
	test_sum_tolerance();
	test_identical_models();
	test_dynamic_grid(2, XF_FUSE_LOGITS, 3, 1);
	test_dynamic_grid(2, XF_FUSE_PROBS, 6, 2);
	test_dynamic_grid(3, XF_FUSE_LOGITS, 4, 3);
	test_dynamic_grid(3, XF_FUSE_PROBS, 10, 4);
	test_dynamic_kkt(4, 5);
	test_dynamic_kkt(6, 6);
	test_dynamic_scipy();
	test_dynamic_agreeing();
	test_dynamic_extreme();
	test_threads();
	test_refused();
	test_names();
	return done_testing();
}
