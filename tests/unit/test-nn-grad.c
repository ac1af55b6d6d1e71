/*
 * Unit tests for the backward kernels (lib/nn_grad.h). Every function, as a "case": its
 * gradients against central finite differences of L = sum(r * forward(x)) (r random, the
 * forward kernels in float32, L in double), accumulation (twice doubles, a nonzero start
 * adds), NULL outputs, and bit-identical results with 1, 2 and 3 threads on sizes that the
 * kernels do split. Then hand-worked cases: batchnorm's running statistics, maxpool's ties,
 * padding and NaN, avgpool's two divisors, relu at 0, gelu at 0 and 1, concat, errors,
 * linear's SGEMM blocks against a double reference, and the kernel op's forward against its
 * definition in double.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_grad.h"
#include "nn_kernel.h"
#include "nn_shape.h"
#include "nn-helpers.h"
#include "tap.h"

#define FD_STEP 1e-3   /* finite-difference step, relative to max(|v|, 1) */
#define FD_TOL 2e-3    /* max |analytic - finite difference| / max |finite difference| */
#define ACC_TOL 1e-6   /* accumulation: max |got - want| / max |want| (float rounding of repeated adds) */
#define REF_TOL 1e-5   /* linear against its double reference, normwise */

/* ---- helpers ---- */

static float *zeros(int64_t n)
{
	return calloc(n > 0 ? n : 1, sizeof(float));
}

static float *copy_floats(const float *a, int64_t n)
{
	float *b = malloc((n > 0 ? n : 1) * sizeof(float));

	memcpy(b, a, n * sizeof(float));
	return b;
}

/* n distinct values 0.01 apart around 0, shuffled: finite differences never swap a maximum, nor cross 0. */
static float *spaced_floats(int64_t n)
{
	float *a = malloc(n * sizeof(float));

	for (int64_t i = 0; i < n; i++)
		a[i] = (float)(0.01 * (i - n / 2) + 0.005);
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)((urand() + 1) / 2 * (i + 1));
		float t = a[i];

		j = j > i ? i : j;
		a[i] = a[j], a[j] = t;
	}
	return a;
}

/* max |got - want| / max |want| (NaN if any difference is NaN). */
static double rel_diff(const float *got, const double *want, int64_t n)
{
	double num = 0, den = 0;

	for (int64_t i = 0; i < n; i++) {
		double d = fabs(got[i] - want[i]);

		num = d > num || isnan(d) ? d : num;
		den = fmax(den, fabs(want[i]));
	}
	return den > 0 ? num / den : num;
}

static double max_abs(const float *a, int64_t n)
{
	double m = 0;

	for (int64_t i = 0; i < n; i++)
		m = fmax(m, fabs(a[i]));
	return m;
}

/* ---- a case: one backward function with its forward ---- */

enum act { RELU, TANH, SIGMOID, GELU };

struct gcase {
	char name[96];
	const char *gname[3];    /* names of the gradients */
	int64_t n[3];            /* their elements; 0: the function has no such output */
	float *var[3];           /* the arrays they are gradients of (perturbed by finite differences) */
	int64_t n_y;             /* forward output elements */
	float *r, *y, *tmp;      /* r: the loss weights = dy; y: forward(var); tmp: scratch output */
	void (*forward)(struct gcase *c, float *out);
	void (*backward)(struct gcase *c, float *const g[3], int threads);
	/* op parameters, as each op needs */
	enum act act;
	bool tanh_approx, max_pool;
	int64_t outer, dim, inner, rows, batch;
	int ch, h, w;
	struct xf_layernorm ln;
	struct xf_batchnorm bn;
	float *save_mean, *save_invstd;
	struct xf_pool2d p;
	struct xf_linear l;
	struct xf_kernel k;
	int64_t width[3];
};

static double loss(struct gcase *c)
{
	double s = 0;

	c->forward(c, c->tmp);
	for (int64_t i = 0; i < c->n_y; i++)
		s += (double)c->r[i] * c->tmp[i];
	return s;
}

/* After the op's parameters and vars are set: r, y and tmp. */
static void finish_case(struct gcase *c, int64_t n_y)
{
	c->n_y = n_y;
	c->r = random_floats(n_y, 1, 0);
	c->y = zeros(n_y);
	c->tmp = zeros(n_y);
	c->forward(c, c->y);
}

static void free_case(struct gcase *c)
{
	for (int k = 0; k < 3; k++)
		free(c->var[k]);
	free(c->r), free(c->y), free(c->tmp), free(c->save_mean), free(c->save_invstd);
	free(c);
}

/* Finite-difference error of gradient g of var k: max |g - fd| / max |fd|. */
static double fd_error(struct gcase *c, int k, const float *g)
{
	float *v = c->var[k];
	double num = 0, den = 0;

	for (int64_t i = 0; i < c->n[k]; i++) {
		float save = v[i], vp, vm;
		double h = FD_STEP * fmax(fabs(save), 1.0), lp, lm, fd;

		vp = (float)(save + h), vm = (float)(save - h);
		v[i] = vp, lp = loss(c);
		v[i] = vm, lm = loss(c);
		v[i] = save;
		fd = (lp - lm) / ((double)vp - vm);
		num = fabs(fd - g[i]) > num || isnan(g[i]) ? fabs(fd - g[i]) : num;
		den = fmax(den, fabs(fd));
	}
	return den > 0 ? num / den : num;
}

static void alloc_grads(const struct gcase *c, float *g[3])
{
	for (int k = 0; k < 3; k++)
		g[k] = c->n[k] ? zeros(c->n[k]) : NULL;
}

static void free_grads(float *g[3])
{
	for (int k = 0; k < 3; k++)
		free(g[k]);
}

/* got == a * base + start within ACC_TOL (start NULL: 0). */
static bool accumulated(const float *got, const float *base, double a, const float *start, int64_t n)
{
	double *want = malloc(n * sizeof(double)), e;

	for (int64_t i = 0; i < n; i++)
		want[i] = a * base[i] + (start ? start[i] : 0);
	e = rel_diff(got, want, n);
	free(want);
	return e <= ACC_TOL;
}

/*
 * The checks every function gets: finite differences (small cases), a nonzero gradient,
 * threads 1, 2, 3 bit for bit, twice from zero = 2 once, a nonzero start adds, and each
 * output alone (the others NULL) gives the same bits; all NULL must not crash.
 */
static void check_case(struct gcase *c, bool finite_differences)
{
	float *g1[3], *g[3], *start[3], *none[3] = { NULL, NULL, NULL };
	bool same = true, twice = true, adds = true, alone = true, nonzero = true;

	alloc_grads(c, g1);
	c->backward(c, g1, 1);
	for (int k = 0; k < 3; k++) {
		if (!c->n[k])
			continue;
		nonzero = nonzero && max_abs(g1[k], c->n[k]) > 0;
		if (finite_differences) {
			double e = fd_error(c, k, g1[k]);

			if (!ok(e <= FD_TOL, "%s: %s matches finite differences (error %.2g)", c->name, c->gname[k], e))
				printf("#   relative error %.3g > %g\n", e, FD_TOL);
		}
	}
	ok(nonzero, "%s: gradients are not zero", c->name);
	for (int threads = 2; threads <= 3; threads++) {
		alloc_grads(c, g);
		c->backward(c, g, threads);
		for (int k = 0; k < 3; k++)
			same = same && (!c->n[k] || same_bits(g[k], g1[k], c->n[k]));
		free_grads(g);
	}
	ok(same, "%s: 1, 2 and 3 threads agree bit for bit", c->name);

	alloc_grads(c, g);
	c->backward(c, g, 2);
	c->backward(c, g, 2);
	for (int k = 0; k < 3; k++)
		twice = twice && (!c->n[k] || accumulated(g[k], g1[k], 2, NULL, c->n[k]));
	ok(twice, "%s: calling twice doubles the gradients", c->name);
	free_grads(g);

	for (int k = 0; k < 3; k++) {
		start[k] = c->n[k] ? random_floats(c->n[k], 2, 0) : NULL;
		g[k] = c->n[k] ? copy_floats(start[k], c->n[k]) : NULL;
	}
	c->backward(c, g, 2);
	for (int k = 0; k < 3; k++)
		adds = adds && (!c->n[k] || accumulated(g[k], g1[k], 1, start[k], c->n[k]));
	ok(adds, "%s: gradients add to a nonzero start", c->name);
	free_grads(g), free_grads(start);

	for (int k = 0; k < 3; k++) {
		float *only[3] = { NULL, NULL, NULL };

		if (!c->n[k])
			continue;
		only[k] = zeros(c->n[k]);
		c->backward(c, only, 2);
		alone = alone && same_bits(only[k], g1[k], c->n[k]);
		free(only[k]);
	}
	c->backward(c, none, 2);
	ok(alone, "%s: each gradient alone (the others NULL) is the same; all NULL is fine", c->name);
	free_grads(g1);
}

/* ---- the cases ---- */

static void act_forward(struct gcase *c, float *out)
{
	switch (c->act) {
	case RELU: xf_relu_forward(c->var[0], c->n[0], out, 1); break;
	case TANH: xf_tanh_forward(c->var[0], c->n[0], out, 1); break;
	case SIGMOID: xf_sigmoid_forward(c->var[0], c->n[0], out, 1); break;
	case GELU: xf_gelu_forward(c->var[0], c->n[0], c->tanh_approx, out, 1); break;
	}
}

static void act_backward(struct gcase *c, float *const g[3], int threads)
{
	switch (c->act) {
	case RELU: xf_relu_backward(c->var[0], c->r, c->n[0], g[0], threads); break;
	case TANH: xf_tanh_backward(c->y, c->r, c->n[0], g[0], threads); break;
	case SIGMOID: xf_sigmoid_backward(c->y, c->r, c->n[0], g[0], threads); break;
	case GELU: xf_gelu_backward(c->var[0], c->r, c->n[0], c->tanh_approx, g[0], threads); break;
	}
}

static struct gcase *new_case(const char *name, bool big)
{
	struct gcase *c = calloc(1, sizeof(*c));

	snprintf(c->name, sizeof(c->name), "%s%s", name, big ? " (large)" : "");
	c->gname[0] = "dx", c->gname[1] = "dweight", c->gname[2] = "dbias";
	return c;
}

static struct gcase *act_case(const char *name, enum act act, bool tanh_approx, bool big)
{
	struct gcase *c = new_case(name, big);
	int64_t n = big ? 60000 : 150;

	c->act = act, c->tanh_approx = tanh_approx;
	c->n[0] = n;
	c->var[0] = big ? random_floats(n, 4, 0) : spaced_floats(n);   /* small: -0.745 to 0.745, never 0 */
	for (int64_t i = 0; !big && i < n; i++)
		c->var[0][i] *= 5;   /* -3.7 to 3.7: the tails of tanh, sigmoid and gelu too */
	c->forward = act_forward, c->backward = act_backward;
	finish_case(c, n);
	return c;
}

static void softmax_forward(struct gcase *c, float *out)
{
	xf_softmax_forward(c->var[0], c->outer, c->dim, c->inner, out, 1);
}

static void softmax_backward(struct gcase *c, float *const g[3], int threads)
{
	xf_softmax_backward(c->y, c->r, c->outer, c->dim, c->inner, g[0], threads);
}

/* Per-sample shape s (3 dims), batch b, along axis. */
static struct gcase *softmax_case(const char *name, const int64_t *s, int axis, int64_t b, bool big)
{
	struct gcase *c = new_case(name, big);

	xf_nn_split_axis(3, s, axis, &c->outer, &c->dim, &c->inner);
	c->outer *= b;
	c->n[0] = c->outer * c->dim * c->inner;
	c->var[0] = random_floats(c->n[0], 3, 0);
	c->forward = softmax_forward, c->backward = softmax_backward;
	finish_case(c, c->n[0]);
	return c;
}

static void layernorm_forward(struct gcase *c, float *out)
{
	xf_layernorm_forward(&c->ln, c->var[0], c->rows, out, 1);
}

static void layernorm_backward(struct gcase *c, float *const g[3], int threads)
{
	xf_layernorm_backward(&c->ln, c->var[0], c->r, c->rows, g[0], g[1], g[2], threads);
}

/* rows rows of n elements (the trailing dims), weight and bias. */
static struct gcase *layernorm_case(const char *name, int64_t rows, int64_t n, bool big)
{
	struct gcase *c = new_case(name, big);

	c->rows = rows;
	c->n[0] = rows * n, c->n[1] = c->n[2] = n;
	c->var[0] = random_floats(rows * n, 2, 0.5);
	c->var[1] = random_floats(n, 0.5, 1);
	c->var[2] = random_floats(n, 0.5, 0);
	c->ln = (struct xf_layernorm){ n, c->var[1], c->var[2], 1e-5 };
	c->forward = layernorm_forward, c->backward = layernorm_backward;
	finish_case(c, rows * n);
	return c;
}

/* The training forward, without touching running statistics. */
static void batchnorm_forward(struct gcase *c, float *out)
{
	xf_batchnorm_train_forward(&c->bn, 0.1, c->var[0], c->batch, c->inner, out, NULL, NULL, NULL, NULL, 1);
}

static void batchnorm_backward(struct gcase *c, float *const g[3], int threads)
{
	xf_batchnorm_train_backward(&c->bn, c->var[0], c->r, c->batch, c->inner, c->save_mean, c->save_invstd, g[0],
				    g[1], g[2], threads);
}

static struct gcase *batchnorm_case(const char *name, int64_t batch, int ch, int64_t inner, bool big)
{
	struct gcase *c = new_case(name, big);

	c->batch = batch, c->inner = inner;
	c->n[0] = batch * ch * inner, c->n[1] = c->n[2] = ch;
	c->var[0] = random_floats(c->n[0], 2, 0.3);
	c->var[1] = random_floats(ch, 0.5, 1);
	c->var[2] = random_floats(ch, 0.5, 0);
	c->save_mean = zeros(ch), c->save_invstd = zeros(ch);
	c->bn = (struct xf_batchnorm){ ch, c->var[1], c->var[2], NULL, NULL, 1e-5 };
	c->forward = batchnorm_forward, c->backward = batchnorm_backward;
	finish_case(c, c->n[0]);
	xf_batchnorm_train_forward(&c->bn, 0.1, c->var[0], batch, inner, c->tmp, NULL, NULL, c->save_mean,
				   c->save_invstd, 1);
	return c;
}

static void pool_forward(struct gcase *c, float *out)
{
	struct xf_err err = XF_ERR_INIT;

	if (c->max_pool)
		xf_maxpool2d_forward(&c->p, c->var[0], c->batch, c->ch, c->h, c->w, out, 1, &err);
	else
		xf_avgpool2d_forward(&c->p, c->var[0], c->batch, c->ch, c->h, c->w, out, 1, &err);
}

static void pool_backward(struct gcase *c, float *const g[3], int threads)
{
	struct xf_err err = XF_ERR_INIT;
	int rc;

	if (c->max_pool)
		rc = xf_maxpool2d_backward(&c->p, c->var[0], c->batch, c->ch, c->h, c->w, c->r, g[0], threads, &err);
	else
		rc = xf_avgpool2d_backward(&c->p, c->batch, c->ch, c->h, c->w, c->r, g[0], threads, &err);
	if (rc < 0)
		printf("# %s: %s\n", c->name, err.msg);
}

static struct gcase *pool_case(const char *name, bool max, struct xf_pool2d p, int64_t batch, int ch, int h, int w,
			       bool big)
{
	struct gcase *c = new_case(name, big);
	int oh, ow;

	c->max_pool = max;
	c->p = p, c->batch = batch, c->ch = ch, c->h = h, c->w = w;
	c->n[0] = batch * ch * h * w;
	c->var[0] = spaced_floats(c->n[0]);
	xf_pool2d_out_size(&p, h, w, &oh, &ow, NULL);
	c->forward = pool_forward, c->backward = pool_backward;
	finish_case(c, batch * ch * oh * ow);
	return c;
}

static void gap_forward(struct gcase *c, float *out)
{
	xf_global_avgpool_forward(c->var[0], c->batch, c->ch, c->inner, out, 1);
}

static void gap_backward(struct gcase *c, float *const g[3], int threads)
{
	xf_global_avgpool_backward(c->r, c->batch, c->ch, c->inner, g[0], threads);
}

static struct gcase *gap_case(int64_t batch, int ch, int64_t hw, bool big)
{
	struct gcase *c = new_case("global_avgpool", big);

	c->batch = batch, c->ch = ch, c->inner = hw;
	c->n[0] = batch * ch * hw;
	c->var[0] = random_floats(c->n[0], 1, 0);
	c->forward = gap_forward, c->backward = gap_backward;
	finish_case(c, batch * ch);
	return c;
}

static void linear_forward(struct gcase *c, float *out)
{
	struct xf_err err = XF_ERR_INIT;

	xf_linear_forward(&c->l, c->var[0], c->rows, out, 1, &err);
}

static void linear_backward(struct gcase *c, float *const g[3], int threads)
{
	struct xf_err err = XF_ERR_INIT;

	if (xf_linear_backward(&c->l, c->var[0], c->r, c->rows, g[0], g[1], g[2], threads, &err) < 0)
		printf("# %s: %s\n", c->name, err.msg);
}

static struct gcase *linear_case(const char *name, int64_t rows, int64_t in, int64_t out, bool big)
{
	struct gcase *c = new_case(name, big);

	c->rows = rows;
	c->n[0] = rows * in, c->n[1] = out * in, c->n[2] = out;
	c->var[0] = random_floats(rows * in, 1, 0);
	c->var[1] = random_floats(out * in, 0.5, 0);
	c->var[2] = random_floats(out, 0.5, 0);
	c->l = (struct xf_linear){ in, out, c->var[1], c->var[2] };
	c->forward = linear_forward, c->backward = linear_backward;
	finish_case(c, rows * out);
	return c;
}

static void concat_forward(struct gcase *c, float *out)
{
	const float *x[3] = { c->var[0], c->var[1], c->var[2] };

	xf_concat_forward(3, x, c->width, c->rows, out, 1);
}

static void concat_backward(struct gcase *c, float *const g[3], int threads)
{
	xf_concat_backward(3, g, c->width, c->rows, c->r, threads);
}

static struct gcase *concat_case(int64_t rows, const int64_t *width, bool big)
{
	struct gcase *c = new_case("concat", big);

	c->rows = rows;
	c->gname[0] = "dx[0]", c->gname[1] = "dx[1]", c->gname[2] = "dx[2]";
	for (int k = 0; k < 3; k++) {
		c->width[k] = width[k];
		c->n[k] = rows * width[k];
		c->var[k] = random_floats(c->n[k], 1, 0);
	}
	c->forward = concat_forward, c->backward = concat_backward;
	finish_case(c, rows * (width[0] + width[1] + width[2]));
	return c;
}

static void kernel_forward(struct gcase *c, float *out)
{
	struct xf_err err = XF_ERR_INIT;

	xf_kernel_forward(&c->k, c->var[0], c->rows, out, 1, &err);
}

static void kernel_backward(struct gcase *c, float *const g[3], int threads)
{
	struct xf_err err = XF_ERR_INIT;

	if (xf_kernel_backward(&c->k, c->var[0], c->r, c->rows, g[0], g[1], threads, &err) < 0)
		printf("# %s: %s\n", c->name, err.msg);
}

/*
 * rows x [d] against m centers; k carries the function and its parameters. The centers are
 * the var perturbed by finite differences, so their norms are computed per call (center_sq NULL).
 */
static struct gcase *kernel_case(const char *name, struct xf_kernel k, int64_t rows, bool big)
{
	struct gcase *c = new_case(name, big);

	c->rows = rows;
	c->gname[1] = "dcenters";
	c->n[0] = rows * k.d, c->n[1] = k.m * k.d;
	c->var[0] = random_floats(c->n[0], 1, 0);
	c->var[1] = random_floats(c->n[1], 1, 0);
	k.centers = c->var[1], k.center_sq = NULL;
	c->k = k;
	c->forward = kernel_forward, c->backward = kernel_backward;
	finish_case(c, rows * k.m);
	return c;
}

/* Each case small (with finite differences) and large (split over threads). */
static void test_cases(void)
{
	static const int64_t s345[3] = { 3, 4, 5 }, s_big[3] = { 8, 50, 30 }, widths[3] = { 2, 3, 1 },
			     widths_big[3] = { 20, 30, 10 };
	struct xf_pool2d overlap = { 3, 3, { 2, 2 }, { 1, 1 }, true }, tiles = { 2, 2, { 2, 2 }, { 0, 0 }, true };
	struct xf_pool2d avg_excl = { 3, 2, { 2, 1 }, { 1, 1 }, false }, avg_incl = avg_excl;

	avg_incl.count_include_pad = true;
	for (int big = 0; big <= 1; big++) {
		int64_t pb = big ? 4 : 2;                                     /* pools: batch, */
		int pc = big ? 16 : 2, ph = big ? 31 : 7, pw = big ? 31 : 6;  /* channels, height, width */
		int64_t kr = big ? 600 : 6, kd = big ? 40 : 5, km = big ? 300 : 4;  /* kernel: rows, features, centers */
		struct xf_kernel rbf = { XF_KERNEL_RBF, kd, km, 1.0 / (double)kd, 3, 1, NULL, NULL };
		struct xf_kernel poly = { XF_KERNEL_POLY, kd, km, 0.5, 3, 1, NULL, NULL };
		struct xf_kernel poly2 = { XF_KERNEL_POLY, kd, km, 0.3, 2, -0.5, NULL, NULL };
		struct xf_kernel lin = { XF_KERNEL_LINEAR, kd, km, 0, 3, 1, NULL, NULL };
		struct gcase *cases[] = {
			kernel_case("kernel rbf", rbf, kr, big),
			kernel_case("kernel poly degree 3", poly, kr, big),
			kernel_case("kernel poly degree 2, coef0 -0.5", poly2, kr, big),
			kernel_case("kernel linear", lin, kr, big),
			act_case("relu", RELU, false, big),
			act_case("tanh", TANH, false, big),
			act_case("sigmoid", SIGMOID, false, big),
			act_case("gelu", GELU, false, big),
			act_case("gelu tanh", GELU, true, big),
			softmax_case("softmax along the middle axis of [3, 4, 5]", big ? s_big : s345, 1, big ? 8 : 2,
				     big),
			softmax_case("softmax along the last axis", big ? s_big : s345, -1, big ? 8 : 2, big),
			layernorm_case("layernorm over 2 trailing dims [4, 5] of [3, 4, 5]", big ? 120 : 2 * 3,
				       big ? 600 : 20, big),
			layernorm_case("layernorm over 1 dim", big ? 2000 : 5, big ? 30 : 7, big),
			batchnorm_case("batchnorm [C, H, W]", big ? 8 : 3, big ? 12 : 4, big ? 500 : 6, big),
			batchnorm_case("batchnorm [C]", big ? 4000 : 5, big ? 12 : 3, 1, big),
			pool_case("maxpool2d 3x3 stride 2 pad 1", true, overlap, pb, pc, ph, pw, big),
			pool_case("maxpool2d 2x2", true, tiles, pb, pc, ph - 2, pw, big),
			pool_case("avgpool2d 3x2 stride 2x1 pad 1, count_include_pad false", false, avg_excl, pb, pc,
				  ph, pw, big),
			pool_case("avgpool2d 3x2 stride 2x1 pad 1, count_include_pad true", false, avg_incl, pb, pc,
				  ph, pw, big),
			gap_case(big ? 8 : 2, big ? 64 : 3, big ? 100 : 5, big),
			linear_case("linear on [B, L, in], rows = B L", big ? 600 : 6, big ? 300 : 5, big ? 200 : 4,
				    big),
			linear_case("linear, out > in (large: rows in several chunks)", big ? 2100 : 3, big ? 40 : 4,
				    big ? 300 : 6, big),
			concat_case(big ? 4000 : 4, big ? widths_big : widths, big),
		};

		for (int i = 0; i < N_OF(cases); i++) {
			check_case(cases[i], !big);
			free_case(cases[i]);
		}
	}
}

/* ---- hand-worked cases ---- */

static void test_relu_gelu_points(void)
{
	float x[5] = { -1, 0, 2, 0, 1 }, dy[5] = { 1, 1, 1, 1, 1 }, dx[5] = { 0 }, g[2] = { 0 };
	float zero_one[2] = { 0, 1 };

	xf_relu_backward(x, dy, 3, dx, 1);
	ok(dx[0] == 0 && dx[1] == 0 && dx[2] == 1, "relu: gradient 0 for x < 0 and x = 0, dy for x > 0");
	xf_gelu_backward(zero_one, dy, 2, false, g, 1);
	is_near(g[0], 0.5, 1e-7, "gelu'(0) = 0.5");
	is_near(g[1], 0.8413447460685429 + 0.24197072451914337, 1e-6, "gelu'(1) = Phi(1) + phi(1)");
	g[0] = 0;
	xf_gelu_backward(zero_one, dy, 1, true, g, 1);
	is_near(g[0], 0.5, 1e-7, "gelu tanh'(0) = 0.5");
}

/*
 * Channel 0 holds 1..6 (mean 3.5, biased variance 17.5 / 6, unbiased 3.5), channel 1 holds
 * 2, 2, 2, -2, -2, -2 (mean 0, variance 4, unbiased 4.8); momentum 0.1.
 */
static void test_batchnorm_running(void)
{
	float x[12] = { 1, 2, 3, 2, 2, 2, 4, 5, 6, -2, -2, -2 }, y[12], w[2] = { 2, 1 }, b[2] = { 0, 3 };
	float rm[2] = { 0.5f, -1 }, rv[2] = { 1, 2 }, sm[2], si[2];
	struct xf_batchnorm bn = { 2, w, b, rm, rv, 1e-5 };
	float x1 = 7, y1, rm1 = 1, rv1 = 3, w1 = 1.5f, b1 = 0.25f;
	struct xf_batchnorm bn1 = { 1, &w1, &b1, &rm1, &rv1, 1e-5 };

	xf_batchnorm_train_forward(&bn, 0.1, x, 2, 3, y, rm, rv, sm, si, 2);
	is_near(rm[0], 0.9 * 0.5 + 0.1 * 3.5, 1e-6, "batchnorm: running_mean channel 0 = 0.8");
	is_near(rm[1], 0.9 * -1 + 0.1 * 0, 1e-6, "batchnorm: running_mean channel 1 = -0.9");
	is_near(rv[0], 0.9 * 1 + 0.1 * 3.5, 1e-6, "batchnorm: running_var channel 0 = 1.25 (unbiased)");
	is_near(rv[1], 0.9 * 2 + 0.1 * 4.8, 1e-6, "batchnorm: running_var channel 1 = 2.28 (unbiased)");
	is_near(sm[0], 3.5, 0, "batchnorm: saved mean 0");
	is_near(sm[1], 0, 0, "batchnorm: saved mean 1");
	is_near(si[0], 1 / sqrt(17.5 / 6 + 1e-5), 1e-7, "batchnorm: saved invstd 0 from the biased variance");
	is_near(si[1], 1 / sqrt(4 + 1e-5), 1e-7, "batchnorm: saved invstd 1");
	is_near(y[0], (1 - 3.5) / sqrt(17.5 / 6 + 1e-5) * 2, 1e-6, "batchnorm: y normalised by batch statistics");
	is_near(y[9], -2 / sqrt(4 + 1e-5) + 3, 1e-6, "batchnorm: y with bias");

	xf_batchnorm_train_forward(&bn1, 0.1, &x1, 1, 1, &y1, &rm1, &rv1, NULL, NULL, 1);
	is_near(rm1, 0.9 * 1 + 0.1 * 7, 1e-6, "batchnorm, one value: running_mean updated");
	ok(rv1 == 3, "batchnorm, one value: running_var unchanged");
	is_near(y1, 0.25, 1e-3, "batchnorm, one value: y = bias (up to the rounding of x scale + shift)");
}

static void test_maxpool_ties(void)
{
	float nan = NAN, inf = INFINITY;
	float x[16] = { 7, 7, 1, 9,  7, 7, 9, 0,  -inf, -inf, 3, 2,  -inf, -inf, nan, nan };
	float x2[4] = { 5, nan, nan, 8 }, dy[4] = { 1, 2, 4, 8 }, dx[16] = { 0 }, dx2[4] = { 0 };
	float want[16] = { 1, 0, 0, 2,  0, 0, 0, 0,  4, 0, 0, 0,  0, 0, 8, 0 }, y[4];
	struct xf_pool2d p = { 2, 2, { 2, 2 }, { 0, 0 }, true };
	struct xf_err err = XF_ERR_INIT;

	ok(xf_maxpool2d_backward(&p, x, 1, 1, 4, 4, dy, dx, 1, &err) == 0, "maxpool2d ties: runs");
	ok(same_bits(dx, want, 16), "maxpool2d: ties go to the first maximum, all -inf to the first element, "
	   "NaN to the first NaN");
	xf_maxpool2d_forward(&p, x, 1, 1, 4, 4, y, 1, &err);
	ok(isnan(y[3]) && y[0] == 7 && y[1] == 9 && y[2] == -inf, "maxpool2d: the forward agrees on the maxima");
	xf_maxpool2d_backward(&p, x2, 1, 1, 2, 2, dy, dx2, 1, &err);
	ok(dx2[0] == 0 && dx2[1] == 1 && dx2[2] == 0 && dx2[3] == 0, "maxpool2d: a NaN after a number wins");
}

/* 3x3 of -5 with a 3x3 window, stride 1, pad 1: each window's first real element, never padding. */
static void test_maxpool_padding(void)
{
	float x[9], dy[9], dx[9] = { 0 }, want[9] = { 27, 36, 0, 192, 256, 0, 0, 0, 0 };
	struct xf_pool2d p = { 3, 3, { 1, 1 }, { 1, 1 }, true };
	struct xf_err err = XF_ERR_INIT;

	for (int i = 0; i < 9; i++)
		x[i] = -5, dy[i] = (float)(1 << i);
	xf_maxpool2d_backward(&p, x, 1, 1, 3, 3, dy, dx, 2, &err);
	ok(same_bits(dx, want, 9), "maxpool2d: padding is never chosen; overlapping windows add up");
}

/* 2x2 input, 2x2 window, stride 1, pad 1, dy = 1: each input is in 4 windows. */
static void test_avgpool_divisors(void)
{
	float dy[9], dx[4] = { 0 };
	struct xf_pool2d p = { 2, 2, { 1, 1 }, { 1, 1 }, false };
	struct xf_err err = XF_ERR_INIT;

	for (int i = 0; i < 9; i++)
		dy[i] = 1;
	xf_avgpool2d_backward(&p, 1, 1, 2, 2, dy, dx, 1, &err);
	ok(dx[0] == 2.25f && dx[1] == 2.25f && dx[2] == 2.25f && dx[3] == 2.25f,
	   "avgpool2d, count_include_pad false: 1 + 1/2 + 1/2 + 1/4 per input");
	p.count_include_pad = true;
	memset(dx, 0, sizeof(dx));
	xf_avgpool2d_backward(&p, 1, 1, 2, 2, dy, dx, 1, &err);
	ok(dx[0] == 1 && dx[1] == 1 && dx[2] == 1 && dx[3] == 1, "avgpool2d, count_include_pad true: 4 times 1/4");
}

static void test_concat_values(void)
{
	int64_t width[3] = { 2, 1, 3 };
	float dy[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	float a[4] = { 100, 100, 100, 100 }, c[6] = { 0 };
	float *dx[3] = { a, NULL, c };
	float want_a[4] = { 101, 102, 107, 108 }, want_c[6] = { 4, 5, 6, 10, 11, 12 };

	xf_concat_backward(3, dx, width, 2, dy, 2);
	ok(same_bits(a, want_a, 4) && same_bits(c, want_c, 6), "concat: slices added, a NULL input skipped");
}

static void test_errors(void)
{
	struct xf_pool2d p = { 3, 3, { 1, 1 }, { 0, 0 }, true };
	struct xf_linear l = { 0, 3, NULL, NULL };
	struct xf_err err = XF_ERR_INIT;
	float v[4] = { 0 };

	ok(xf_maxpool2d_backward(&p, v, 1, 1, 2, 2, v, v, 1, &err) == -1 && err.code == XF_E_USAGE &&
	   !strncmp(err.msg, "maxpool2d: ", 11), "maxpool2d backward: a window that does not fit is refused");
	printf("# %s\n", err.msg);
	ok(xf_avgpool2d_backward(&p, 1, 1, 2, 2, v, v, 1, &err) == -1 && !strncmp(err.msg, "avgpool2d: ", 11),
	   "avgpool2d backward: the same, named avgpool2d");
	ok(xf_avgpool2d_backward(&p, 1, 1, 2, 2, v, v, 1, NULL) == -1, "avgpool2d backward: err may be NULL");
	ok(xf_linear_backward(&l, v, v, 1, v, v, v, 1, &err) == -1 && err.code == XF_E_USAGE,
	   "linear backward: 0 inputs are refused");
}

/*
 * Linear's blocks against double loops: partial blocks everywhere, and rows in one chunk
 * (SGEMM into dweight) or in three (sums of the chunks in double).
 */
static void test_linear_reference(int64_t rows, int64_t in, int64_t out)
{
	float *x = random_floats(rows * in, 1, 0), *w = random_floats(out * in, 0.5, 0);
	float *dy = random_floats(rows * out, 1, 0);
	float *dx = zeros(rows * in), *dw = zeros(out * in), *db = zeros(out);
	double *rx = calloc(rows * in, sizeof(double)), *rw = calloc(out * in, sizeof(double));
	double *rb = calloc(out, sizeof(double));
	struct xf_linear l = { in, out, w, NULL };
	struct xf_err err = XF_ERR_INIT;

	for (int64_t r = 0; r < rows; r++)
		for (int64_t o = 0; o < out; o++) {
			double d = dy[r * out + o];

			rb[o] += d;
			for (int64_t i = 0; i < in; i++) {
				rx[r * in + i] += d * w[o * in + i];
				rw[o * in + i] += d * x[r * in + i];
			}
		}
	ok(xf_linear_backward(&l, x, dy, rows, dx, dw, db, 3, &err) == 0, "linear %lld x %lld -> %lld: runs",
	   (long long)rows, (long long)in, (long long)out);
	ok(rel_diff(dx, rx, rows * in) <= REF_TOL, "linear: dx = dy W (error %.2g)", rel_diff(dx, rx, rows * in));
	ok(rel_diff(dw, rw, out * in) <= REF_TOL, "linear: dweight = dy^T x (error %.2g)", rel_diff(dw, rw, out * in));
	ok(rel_diff(db, rb, out) <= 1e-7, "linear: dbias = column sums of dy (error %.2g)", rel_diff(db, rb, out));
	free(x), free(w), free(dy), free(dx), free(dw), free(db), free(rx), free(rw), free(rb);
}

/* k(x_i, c_j) in double, from the definitions (scikit-learn's pairwise_kernels). */
static double ref_kernel(const struct xf_kernel *k, const float *x, const float *c)
{
	double dot = 0, d2 = 0;

	for (int64_t t = 0; t < k->d; t++) {
		dot += (double)x[t] * c[t];
		d2 += ((double)x[t] - c[t]) * ((double)x[t] - c[t]);
	}
	if (k->fn == XF_KERNEL_RBF)
		return exp(-k->gamma * d2);
	return k->fn == XF_KERNEL_POLY ? pow(k->gamma * dot + k->coef0, (double)k->degree) : dot;
}

/*
 * The forward against the definition on digit-like data (784 features in [0, 1]), with the
 * center norms given or computed per call (the same bits).
 */
static void test_kernel_reference(enum xf_kernel_fn fn, double gamma, double tol)
{
	int64_t rows = 300, d = 784, m = 200;
	float *x = random_floats(rows * d, 0.5, 0.5), *c = random_floats(m * d, 0.5, 0.5);
	float *y = zeros(rows * m), *y2 = zeros(rows * m);
	double *ref = doubles(rows * m), *sq = doubles(m), e;
	struct xf_kernel k = { fn, d, m, gamma, 3, 1, c, NULL };
	struct xf_err err = XF_ERR_INIT;

	for (int64_t i = 0; i < rows; i++)
		for (int64_t j = 0; j < m; j++)
			ref[i * m + j] = ref_kernel(&k, x + i * d, c + j * d);
	ok(xf_kernel_forward(&k, x, rows, y, 3, &err) == 0, "kernel %s forward: runs", xf_kernel_fn_name(fn));
	e = rel_error(y, ref, rows * m);
	ok(e <= tol, "kernel %s forward: the definition in double (error %.2g)", xf_kernel_fn_name(fn), e);
	xf_kernel_center_sq(c, m, d, sq);
	k.center_sq = sq;
	xf_kernel_forward(&k, x, rows, y2, 1, &err);
	ok(same_bits(y, y2, rows * m), "kernel %s forward: precomputed center norms, 1 thread: the same bits",
	   xf_kernel_fn_name(fn));
	free(x), free(c), free(y), free(y2), free(ref), free(sq);
}

/*
 * Rows equal to centers: ||x||^2 + ||c||^2 - 2 x.c rounds to about +-2e-4 here, which gamma 100
 * would turn into values up to 1.02 without the clamp at 0; with it, none is above 1.
 */
static void test_kernel_clamp(void)
{
	int64_t n = 64, d = 784;
	float *c = random_floats(n * d, 0.5, 0.5), *y = zeros(n * n), top = 0, low = 1;
	struct xf_kernel k = { XF_KERNEL_RBF, d, n, 100, 3, 1, c, NULL };
	struct xf_err err = XF_ERR_INIT;

	xf_kernel_forward(&k, c, n, y, 2, &err);
	for (int64_t i = 0; i < n; i++) {
		top = fmaxf(top, y[i * n + i]);
		low = fminf(low, y[i * n + i]);
	}
	ok(top <= 1.0f && low > 0.95f, "kernel rbf: a row against itself gives 1 or just below, never above "
	   "(%.9g to %.9g)", low, top);
	free(c), free(y);
}

static void test_kernel_errors(void)
{
	struct xf_kernel k = { XF_KERNEL_RBF, 0, 3, 1, 3, 1, NULL, NULL };
	struct xf_err err = XF_ERR_INIT;
	float v[4] = { 0 };

	ok(xf_kernel_forward(&k, v, 1, v, 1, &err) == -1 && err.code == XF_E_USAGE && !strncmp(err.msg, "kernel: ", 8),
	   "kernel forward: 0 features are refused (%s)", err.msg);
	ok(xf_kernel_backward(&k, v, v, 1, v, v, 1, &err) == -1 && err.code == XF_E_USAGE,
	   "kernel backward: the same");
}

int main(void)
{
	test_cases();
	test_relu_gelu_points();
	test_batchnorm_running();
	test_maxpool_ties();
	test_maxpool_padding();
	test_avgpool_divisors();
	test_concat_values();
	test_errors();
	test_linear_reference(600, 300, 200);
	test_linear_reference(2100, 140, 300);
	test_kernel_reference(XF_KERNEL_RBF, 1.0 / 784, 1e-6);
	test_kernel_reference(XF_KERNEL_POLY, 1.0 / 784, 1e-6);
	test_kernel_reference(XF_KERNEL_LINEAR, 0, 1e-6);
	test_kernel_clamp();
	test_kernel_errors();
	return done_testing();
}
