/*
 * Unit tests for conv2d's backward pass (lib/nn_conv_grad.c): dx, dweight and dbias against
 * naive loops written here from the definition (double accumulation; normwise relative error
 * max |got - ref| / max |ref| at most REL_TOL), against central differences of
 * L = sum(r . conv(x)) through xf_conv2d_forward (FD_TOL of the largest gradient entry),
 * accumulation into existing values, NULL outputs, the same bits for 1, 2 and 3 threads,
 * and the geometry errors.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_conv.h"
#include "nn_conv_grad.h"
#include "nn-helpers.h"
#include "tap.h"

#define REL_TOL 1e-5
#define FD_TOL 2e-3     /* of the largest gradient entry; float rounding in L gives about 1e-4 */
#define FD_EPS 1e-3
#define FD_ENTRIES 40   /* entries checked per tensor, spread over it */

/* ---- helpers ---- */

static float *copy_floats(const float *a, int64_t n)
{
	float *b = malloc((n > 0 ? n : 1) * sizeof(float));

	memcpy(b, a, n * sizeof(float));
	return b;
}

static double worst_ref, worst_fd;   /* over every check, reported at the end */

static void check_ref(const float *got, const double *ref, int64_t n, const char *what, const char *name)
{
	double e = rel_error(got, ref, n);

	worst_ref = e > worst_ref || isnan(e) ? e : worst_ref;
	if (!ok(e <= REL_TOL, "%s: %s matches the definition", name, what))
		printf("#   relative error %.3g > %g\n", e, REL_TOL);
}

/* ---- the cases ---- */

struct grad_case {
	const char *name;
	int in_c, out_c, kh, kw, sh, sw, ph, pw, dh, dw, groups, h, w;
	int64_t batch;
	bool bias;
};

static const struct grad_case cases[] = {
	{ "1x1", 4, 6, 1, 1, 1, 1, 0, 0, 1, 1, 1, 5, 6, 3, true },
	{ "3x3 pad 1", 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 5, 2, true },
	{ "5x5", 2, 3, 5, 5, 1, 1, 0, 0, 1, 1, 1, 9, 8, 2, true },
	{ "3x3 stride 2 pad 1", 3, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 9, 7, 4, true },
	{ "3x3 dilation 2 pad 2", 4, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 8, 8, 1, false },
	{ "2 groups, pad 1", 4, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 7, 9, 3, true },
	{ "depthwise 3x3 pad 1", 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5, 7, 6, 2, true },
	{ "depthwise stride 2 dilation 2 pad 2", 5, 5, 3, 3, 2, 2, 2, 2, 2, 2, 5, 9, 10, 5, false },
	{ "depthwise 2 in per group, 5x2 kernel, stride 1x2", 6, 3, 5, 2, 1, 2, 2, 1, 1, 1, 3, 8, 9, 2, true },
	{ "depthwise multiplier 2 (GEMM path)", 3, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3, 6, 6, 2, true },
	{ "3x1 kernel, stride 2x1, pad 1x0", 3, 4, 3, 1, 2, 1, 1, 0, 1, 1, 1, 7, 5, 3, true },
	{ "1x3 kernel, 4 groups, dilation 1x2", 8, 12, 1, 3, 1, 1, 0, 2, 1, 2, 4, 6, 7, 2, true },
	{ "odd sizes: 2x3 kernel, stride 3x2, pad 0x1", 3, 5, 2, 3, 3, 2, 0, 1, 1, 1, 1, 11, 9, 5, true },
	{ "5x5 over a 3x4 input, pad 1x2", 2, 3, 5, 5, 1, 1, 1, 2, 1, 1, 1, 3, 4, 2, true },
	{ "7x7 stride 2 pad 3 stem", 3, 8, 7, 7, 2, 2, 3, 3, 1, 1, 1, 20, 18, 2, true },
	{ "1x1 stride 2", 8, 16, 1, 1, 2, 2, 0, 0, 1, 1, 1, 9, 9, 3, true },
	{ "1x1 on 48x48 (x read in place, row tiles)", 4, 6, 1, 1, 1, 1, 0, 0, 1, 1, 1, 48, 48, 2, true },
	{ "1x1, 2 groups on 48x45 (in place)", 6, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, 48, 45, 2, false },
	{ "3x3 pad 1 on 50x46 (row tiles)", 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 50, 46, 1, true },
	{ "3x3 pad 1, batch 40 (14 chunks)", 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 6, 40, true },
	{ "2 groups, stride 2, batch 20 (2 samples per GEMM)", 4, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 7, 9, 20, true },
	{ "1x1 stride 2, batch 33 (3 samples per GEMM)", 8, 16, 1, 1, 2, 2, 0, 0, 1, 1, 1, 9, 9, 33, false },
	{ "depthwise, batch 17", 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, 5, 5, 17, true },
	{ "16 to 16, 3x3 pad 1 on 24x24, batch 1", 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 24, 24, 1, true },
};

/* A case's tensors: inputs, dy (also the r of the finite differences) and sizes. */
struct grad_data {
	struct xf_conv2d c;
	const struct grad_case *k;
	int oh, ow;
	int64_t n_x, n_w, n_y;
	float *x, *wt, *bias, *dy;
};

static bool setup(const struct grad_case *k, struct grad_data *d)
{
	struct xf_err err = XF_ERR_INIT;

	d->k = k;
	d->c = (struct xf_conv2d){ k->in_c, k->out_c, k->kh, k->kw, { k->sh, k->sw }, { k->ph, k->pw },
				   { k->dh, k->dw }, k->groups, NULL, NULL, NULL };
	if (xf_conv2d_out_size(&d->c, k->h, k->w, &d->oh, &d->ow, &err) < 0) {
		ok(0, "%s: output size", k->name);
		printf("#   %s\n", err.msg);
		return false;
	}
	d->n_x = k->batch * k->in_c * k->h * k->w;
	d->n_w = (int64_t)k->out_c * (k->in_c / k->groups) * k->kh * k->kw;
	d->n_y = k->batch * k->out_c * d->oh * d->ow;
	d->x = random_floats(d->n_x, 1, 0);
	d->wt = random_floats(d->n_w, 0.5, 0);
	d->bias = random_floats(k->out_c, 1, 0);
	d->dy = random_floats(d->n_y, 1, 0);
	d->c.weight = d->wt, d->c.bias = k->bias ? d->bias : NULL;
	return true;
}

static void teardown(struct grad_data *d)
{
	free(d->x), free(d->wt), free(d->bias), free(d->dy);
}

static int run_backward(const struct grad_data *d, float *dx, float *dw, float *db, int threads)
{
	const struct grad_case *k = d->k;
	struct xf_err err = XF_ERR_INIT;
	size_t n = xf_conv2d_backward_scratch_size(&d->c, k->h, k->w, k->batch, threads);
	float *scratch = malloc((n ? n : 1) * sizeof(float));
	int rc = xf_conv2d_backward(&d->c, d->x, k->batch, k->h, k->w, d->dy, dx, dw, db, scratch, threads, &err);

	if (rc < 0)
		printf("#   %s\n", err.msg);
	free(scratch);
	return rc;
}

/* ---- against the definition ---- */

/*
 * The gradients by the definition, added to dx, dw and db: every (sample, output, tap)
 * term dy x of dweight and dy w of dx, in double.
 */
static void ref_backward(const struct grad_data *d, double *dx, double *dw, double *db)
{
	const struct xf_conv2d *c = &d->c;
	const struct grad_case *k = d->k;
	int cg = c->in_c / c->groups, m = c->out_c / c->groups;

	for (int64_t b = 0; b < k->batch; b++)
		for (int o = 0; o < c->out_c; o++)
			for (int oy = 0; oy < d->oh; oy++)
				for (int ox = 0; ox < d->ow; ox++) {
					double g = d->dy[((b * c->out_c + o) * d->oh + oy) * d->ow + ox];

					db[o] += g;
					for (int ci = 0; ci < cg; ci++)
						for (int i = 0; i < c->kh; i++)
							for (int j = 0; j < c->kw; j++) {
								int iy = oy * c->stride[0] - c->pad[0] + i * c->dilation[0];
								int ix = ox * c->stride[1] - c->pad[1] + j * c->dilation[1];
								int64_t wi = ((int64_t)(o * cg + ci) * c->kh + i) * c->kw + j;
								int64_t xi = ((b * c->in_c + o / m * cg + ci) * k->h + iy) * k->w + ix;

								if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
									continue;
								dw[wi] += g * d->x[xi];
								dx[xi] += g * c->weight[wi];
							}
				}
}

/* ref = base + times grad, from float base. */
static void scaled_plus(double *ref, const float *base, const double *grad, int64_t n, double times)
{
	for (int64_t i = 0; i < n; i++)
		ref[i] = base[i] + times * grad[i];
}

/*
 * Outputs start at random values (they accumulate): once against the definition; then 2 and
 * 3 threads give the same bits; each output alone (the others NULL) gives the same bits as
 * with all three; and a second call adds the gradients again.
 */
static void test_against_definition(const struct grad_data *d)
{
	const char *name = d->k->name;
	int out_c = d->c.out_c;
	double *gx = doubles(d->n_x), *gw = doubles(d->n_w), *gb = doubles(out_c);
	double *rx = doubles(d->n_x), *rw = doubles(d->n_w), *rb = doubles(out_c);
	float *x0 = random_floats(d->n_x, 1, 0), *w0 = random_floats(d->n_w, 1, 0), *b0 = random_floats(out_c, 1, 0);
	float *dx = copy_floats(x0, d->n_x), *dw = copy_floats(w0, d->n_w), *db = copy_floats(b0, out_c);
	float *dx2, *dw2, *db2;
	bool same = true;

	ref_backward(d, gx, gw, gb);
	ok(run_backward(d, dx, dw, db, 1) == 0, "%s, batch %lld: runs", name, (long long)d->k->batch);
	scaled_plus(rx, x0, gx, d->n_x, 1), scaled_plus(rw, w0, gw, d->n_w, 1), scaled_plus(rb, b0, gb, out_c, 1);
	check_ref(dx, rx, d->n_x, "dx", name);
	check_ref(dw, rw, d->n_w, "dweight", name);
	check_ref(db, rb, out_c, "dbias", name);

	for (int threads = 2; threads <= 3; threads++) {
		dx2 = copy_floats(x0, d->n_x), dw2 = copy_floats(w0, d->n_w), db2 = copy_floats(b0, out_c);
		run_backward(d, dx2, dw2, db2, threads);
		same = same && same_bits(dx, dx2, d->n_x) && same_bits(dw, dw2, d->n_w) && same_bits(db, db2, out_c);
		free(dx2), free(dw2), free(db2);
	}
	ok(same, "%s: 1, 2 and 3 threads agree bit for bit", name);

	dx2 = copy_floats(x0, d->n_x), dw2 = copy_floats(w0, d->n_w), db2 = copy_floats(b0, out_c);
	run_backward(d, dx2, NULL, NULL, 2);
	run_backward(d, NULL, dw2, NULL, 2);
	run_backward(d, NULL, NULL, db2, 2);
	ok(same_bits(dx, dx2, d->n_x) && same_bits(dw, dw2, d->n_w) && same_bits(db, db2, out_c),
	   "%s: dx, dweight and dbias alone (others NULL) give the same bits", name);
	free(dx2), free(dw2), free(db2);

	run_backward(d, dx, dw, db, 2);
	scaled_plus(rx, x0, gx, d->n_x, 2), scaled_plus(rw, w0, gw, d->n_w, 2), scaled_plus(rb, b0, gb, out_c, 2);
	ok(rel_error(dx, rx, d->n_x) <= REL_TOL && rel_error(dw, rw, d->n_w) <= REL_TOL &&
	   rel_error(db, rb, out_c) <= REL_TOL, "%s: a second call adds the gradients again", name);

	free(gx), free(gw), free(gb), free(rx), free(rw), free(rb);
	free(x0), free(w0), free(b0), free(dx), free(dw), free(db);
}

/* ---- against central differences ---- */

struct fd_ctx {
	struct grad_data *d;
	float *y, *scratch;
};

/* L = sum r . conv(x) in double, r being dy, by the forward. */
static double loss(struct fd_ctx *f)
{
	const struct grad_case *k = f->d->k;
	struct xf_err err = XF_ERR_INIT;
	double l = 0;

	if (xf_conv2d_forward(&f->d->c, f->d->x, k->batch, k->h, k->w, f->y, f->scratch, 1, &err) < 0)
		return NAN;
	for (int64_t i = 0; i < f->d->n_y; i++)
		l += (double)f->d->dy[i] * f->y[i];
	return l;
}

/*
 * got against (L(v + eps) - L(v - eps)) / (the float step actually taken) at FD_ENTRIES
 * entries of v spread over it, the first and last included. L is linear in each tensor, so
 * the only error is float rounding in the forward.
 */
static void check_fd(struct fd_ctx *f, float *v, int64_t n, const float *got, const char *what)
{
	int64_t count = n < FD_ENTRIES ? n : FD_ENTRIES;
	double scale = 0, worst = 0;

	for (int64_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(got[i]));
	for (int64_t e = 0; e < count; e++) {
		int64_t i = count > 1 ? e * (n - 1) / (count - 1) : 0;
		float keep = v[i], up = (float)(keep + FD_EPS), down = (float)(keep - FD_EPS);
		double lu, ld;

		v[i] = up, lu = loss(f);
		v[i] = down, ld = loss(f);
		v[i] = keep;
		worst = fmax(worst, fabs((lu - ld) / ((double)up - down) - got[i]));
	}
	worst = scale > 0 ? worst / scale : worst;
	worst_fd = worst > worst_fd || isnan(worst) ? worst : worst_fd;
	if (!ok(worst <= FD_TOL, "%s: %s matches central differences", f->d->k->name, what))
		printf("#   error %.3g of the largest entry > %g\n", worst, FD_TOL);
}

static void test_finite_differences(struct grad_data *d)
{
	const struct grad_case *k = d->k;
	float *dx = calloc(d->n_x, sizeof(float)), *dw = calloc(d->n_w, sizeof(float));
	float *db = calloc(k->out_c, sizeof(float));
	size_t n = xf_conv2d_scratch_size(&d->c, k->h, k->w, k->batch, 1);
	struct fd_ctx f = { d, malloc(d->n_y * sizeof(float)), malloc((n ? n : 1) * sizeof(float)) };

	run_backward(d, dx, dw, db, 0);
	check_fd(&f, d->x, d->n_x, dx, "dx");
	check_fd(&f, d->wt, d->n_w, dw, "dweight");
	if (k->bias)
		check_fd(&f, d->bias, k->out_c, db, "dbias");
	free(dx), free(dw), free(db), free(f.y), free(f.scratch);
}

/* ---- edge cases ---- */

static void test_errors(void)
{
	struct xf_conv2d c = { 4, 6, 3, 3, { 1, 1 }, { 0, 0 }, { 1, 1 }, 4, NULL, NULL, NULL };
	struct xf_err err = XF_ERR_INIT;
	float x[16] = { 0 }, dy[16] = { 0 }, dx[16] = { 0 }, scratch[16];

	ok(xf_conv2d_backward_scratch_size(&c, 4, 4, 1, 1) == 0, "error: scratch size 0 for a bad geometry");
	ok(xf_conv2d_backward(&c, x, 1, 4, 4, dy, dx, NULL, NULL, scratch, 1, &err) < 0 && err.code == XF_E_USAGE &&
	   strstr(err.msg, "groups do not divide"), "error: groups that do not divide the channels");
	c.groups = 1, c.in_c = 1, c.out_c = 1, err = (struct xf_err)XF_ERR_INIT;
	ok(xf_conv2d_backward(&c, x, 1, 2, 8, dy, dx, NULL, NULL, scratch, 1, &err) < 0 && err.code == XF_E_USAGE &&
	   strstr(err.msg, "does not fit"), "error: a window larger than the padded input");
}

/* batch 0 is a valid call that changes nothing. */
static void test_empty_batch(void)
{
	float wt[9] = { 1 }, dw[9] = { 0 }, db[1] = { 0 }, zero[9] = { 0 };
	struct xf_conv2d c = { 1, 1, 3, 3, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, wt, NULL, NULL };
	size_t n = xf_conv2d_backward_scratch_size(&c, 5, 5, 0, 2);
	float *scratch = malloc((n ? n : 1) * sizeof(float));
	struct xf_err err = XF_ERR_INIT;

	ok(xf_conv2d_backward(&c, NULL, 0, 5, 5, NULL, NULL, dw, db, scratch, 2, &err) == 0 &&
	   same_bits(dw, zero, 9) && db[0] == 0, "batch 0: succeeds and adds nothing");
	free(scratch);
}

int main(void)
{
	for (int i = 0; i < N_OF(cases); i++) {
		struct grad_data d;

		if (!setup(&cases[i], &d))
			continue;
		test_against_definition(&d);
		test_finite_differences(&d);
		teardown(&d);
	}
	test_errors();
	test_empty_batch();
	printf("# worst relative error against the definition %.3g, against central differences %.3g\n",
	       worst_ref, worst_fd);
	return done_testing();
}
