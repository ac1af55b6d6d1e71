/*
 * Unit tests for the forward kernels of the model graph ops (lib/nn_conv.c, nn_pool.c,
 * nn_elementwise.c, nn_linear.c, nn_shape.c): every kernel against naive loops written here
 * from the definitions of schemas/stream.md 9.3 (double accumulation), a convolution worked
 * by hand, batchnorm folding, error messages, and thread-count independence; then the
 * PyTorch outputs of tests/data/nn/make-nn-fixtures.py (found under $XF_TEST_DATA, default
 * tests/data, so run from the top directory). Accuracy is the normwise relative error
 * max |got - ref| / max |ref|, at most REL_TOL. Timings of a ResNet-sized convolution are
 * printed as TAP comments, not checked.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn_conv.h"
#include "nn_elementwise.h"
#include "nn_gemm.h"
#include "nn_linear.h"
#include "nn_pool.h"
#include "nn_shape.h"
#include "npy.h"
#include "nn-helpers.h"
#include "tap.h"

#define REL_TOL 1e-5

/* ---- helpers ---- */

static double worst_error;   /* over every check, reported at the end */

/* One TAP line: the normwise relative error of got against ref. */
static void check(const float *got, const double *ref, int64_t n, const char *fmt, const char *name)
{
	double e = rel_error(got, ref, n);

	worst_error = e > worst_error || isnan(e) ? e : worst_error;
	if (!ok(e <= REL_TOL, fmt, name))
		printf("#   relative error %.3g > %g\n", e, REL_TOL);
}

/* ---- conv2d ---- */

/* Forward with freshly sized scratch; y must hold the output. */
static int run_conv(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w, float *y, int threads,
		    struct xf_err *err)
{
	size_t n = xf_conv2d_scratch_size(c, h, w, batch, threads);
	float *scratch = n ? malloc(n * sizeof(float)) : NULL;
	int rc = xf_conv2d_forward(c, x, batch, h, w, y, scratch, threads, err);

	free(scratch);
	return rc;
}

struct conv_case {
	const char *name;
	int in_c, out_c, kh, kw, sh, sw, ph, pw, dh, dw, groups, h, w;
	bool bias;
};

static const struct conv_case conv_cases[] = {
	{ "3x3 pad 1", 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 5, 6, true },
	{ "2x3 kernel, stride 2x1, pad 0x2, dilation 1x2", 3, 5, 2, 3, 2, 1, 0, 2, 1, 2, 1, 9, 7, true },
	{ "stride 3, no bias", 2, 3, 3, 3, 3, 3, 0, 0, 1, 1, 1, 11, 10, false },
	{ "dilation 2, pad 2", 4, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 8, 8, true },
	{ "2 groups, stride 2", 4, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 7, 9, true },
	{ "4 groups, 1x3 kernel", 8, 12, 1, 3, 1, 1, 0, 1, 1, 1, 4, 6, 5, true },
	{ "depthwise 3x3 pad 1", 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5, 7, 6, true },
	{ "depthwise 3x3 stride 2, dilation 2", 5, 5, 3, 3, 2, 2, 2, 2, 2, 2, 5, 9, 10, false },
	{ "depthwise, 2 in per group, 5x2 kernel", 6, 3, 5, 2, 1, 2, 2, 1, 1, 1, 3, 8, 9, true },
	{ "depthwise multiplier 2", 3, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3, 6, 6, true },
	{ "1x1", 8, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1, 7, 7, true },
	{ "1x1 on 40x33 (x read in place)", 6, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, 40, 33, true },
	{ "1x1, 2 groups on 40x33", 6, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, 40, 33, false },
	{ "1x1 stride 2", 8, 16, 1, 1, 2, 2, 0, 0, 1, 1, 1, 9, 9, true },
	{ "5x5 kernel over a 3x4 input, pad 1x2", 2, 3, 5, 5, 1, 1, 1, 2, 1, 1, 1, 3, 4, true },
	{ "3x3 on 36x40 (one sample per GEMM)", 3, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 36, 40, true },
	{ "7x7 stride 2 pad 3 stem", 3, 8, 7, 7, 2, 2, 3, 3, 1, 1, 1, 20, 18, true },
};

static void conv_geometry(const struct conv_case *k, struct xf_conv2d *c)
{
	*c = (struct xf_conv2d){ k->in_c, k->out_c, k->kh, k->kw, { k->sh, k->sw }, { k->ph, k->pw },
				 { k->dh, k->dw }, k->groups, NULL, NULL, NULL };
}

static const char *kernel_name(void)
{
	return xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2 ? "avx2" : "blas";
}

/*
 * One case against the definition, with 1 and 2 threads (bit for bit the same: the work
 * items do not depend on the thread count) and, where the kernel packs, prepacked weights.
 */
static void test_conv_case(const struct conv_case *k, int64_t batch)
{
	struct xf_conv2d c;
	struct xf_err err = XF_ERR_INIT;
	int oh, ow;
	int64_t n_w = (int64_t)k->out_c * (k->in_c / k->groups) * k->kh * k->kw;

	conv_geometry(k, &c);
	if (!ok(xf_conv2d_out_size(&c, k->h, k->w, &oh, &ow, &err) == 0, "conv2d %s: output size", k->name)) {
		printf("#   %s\n", err.msg);
		return;
	}
	float *wt = random_floats(n_w, 0.5, 0), *bias = random_floats(k->out_c, 1, 0);
	float *x = random_floats(batch * k->in_c * k->h * k->w, 1, 0.25);
	int64_t n_y = batch * k->out_c * oh * ow;
	float *y1 = random_floats(n_y, 1, 0), *y2 = random_floats(n_y, 1, 0);   /* garbage must be overwritten */
	double *ref = doubles(n_y);

	c.weight = wt, c.bias = k->bias ? bias : NULL;
	ref_conv(&c, x, batch, k->h, k->w, oh, ow, ref);
	ok(run_conv(&c, x, batch, k->h, k->w, y1, 1, &err) == 0 && run_conv(&c, x, batch, k->h, k->w, y2, 2, &err) == 0,
	   "conv2d %s, batch %lld, %s: runs", k->name, (long long)batch, kernel_name());
	check(y1, ref, n_y, "conv2d %s: matches the definition", k->name);
	ok(same_bits(y1, y2, n_y), "conv2d %s: 1 and 2 threads agree bit for bit", k->name);
	if (xf_conv2d_packed_size(&c)) {
		float *packed = malloc(xf_conv2d_packed_size(&c) * sizeof(float));

		xf_conv2d_pack(&c, packed);
		c.packed = packed;
		run_conv(&c, x, batch, k->h, k->w, y2, 2, &err);
		ok(same_bits(y1, y2, n_y), "conv2d %s: prepacked weights give the same output", k->name);
		free(packed);
	}
	free(wt), free(bias), free(x), free(y1), free(y2), free(ref);
}

/*
 * x = [1 2 3; 4 5 6; 7 8 9], w = [1 2; 3 4], bias 0.5.
 * Stride 1, no padding: y00 = 1+4+12+20 = 37, y01 = 2+6+15+24 = 47, y10 = 4+10+21+32 = 67,
 * y11 = 5+12+24+36 = 77, each + 0.5.
 * Stride 2, padding 1 (windows start at rows/cols -1 and 1): y00 = x00 w11 = 4;
 * y01 = x01 w10 + x02 w11 = 6 + 12 = 18; y10 = x10 w01 + x20 w11 = 8 + 28 = 36;
 * y11 = 5 + 12 + 24 + 36 = 77; each + 0.5.
 */
static void test_conv_by_hand(void)
{
	const float x[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, w[] = { 1, 2, 3, 4 }, b[] = { 0.5f };
	const float want1[] = { 37.5f, 47.5f, 67.5f, 77.5f }, want2[] = { 4.5f, 18.5f, 36.5f, 77.5f };
	struct xf_conv2d c = { 1, 1, 2, 2, { 1, 1 }, { 0, 0 }, { 1, 1 }, 1, w, b, NULL };
	struct xf_err err = XF_ERR_INIT;
	float y[4];
	int oh, ow;

	ok(xf_conv2d_out_size(&c, 3, 3, &oh, &ow, &err) == 0 && oh == 2 && ow == 2, "conv2d by hand: 2x2 output");
	ok(run_conv(&c, x, 1, 3, 3, y, 1, &err) == 0 && !memcmp(y, want1, sizeof(y)), "conv2d by hand: stride 1");
	c.stride[0] = c.stride[1] = 2, c.pad[0] = c.pad[1] = 1;
	ok(xf_conv2d_out_size(&c, 3, 3, &oh, &ow, &err) == 0 && oh == 2 && ow == 2, "conv2d by hand: padded 2x2");
	ok(run_conv(&c, x, 1, 3, 3, y, 1, &err) == 0 && !memcmp(y, want2, sizeof(y)),
	   "conv2d by hand: stride 2, padding 1");
}

static void ref_batchnorm(const double *x, int64_t batch, int64_t c, int64_t inner, const float *gamma,
			  const float *beta, const float *mean, const float *var, double eps, double *y)
{
	for (int64_t b = 0; b < batch; b++)
		for (int64_t ch = 0; ch < c; ch++)
			for (int64_t i = 0; i < inner; i++, x++, y++)
				*y = (*x - mean[ch]) / sqrt((double)var[ch] + eps) * gamma[ch] + beta[ch];
}

/* conv then batchnorm (the reference, in double) equals the conv with folded weights. */
static void test_conv_fold(void)
{
	const struct conv_case k = { "fold", 4, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 6, 5, true };
	struct xf_conv2d c;
	struct xf_err err = XF_ERR_INIT;
	int64_t batch = 3, n_w = 6 * 2 * 9, n_y = batch * 6 * 6 * 5;
	float *wt = random_floats(n_w, 0.5, 0), *bias = random_floats(6, 1, 0), *x = random_floats(batch * 4 * 30, 1, 0);
	float *gamma = random_floats(6, 0.5, 1), *beta = random_floats(6, 1, 0), *mean = random_floats(6, 0.5, 0);
	float *var = random_floats(6, 0.4, 0.6), fw[108], fb[6], *y = malloc(n_y * sizeof(float));
	double *conv = doubles(n_y), *ref = doubles(n_y);

	conv_geometry(&k, &c);
	c.weight = wt, c.bias = bias;
	ref_conv(&c, x, batch, 6, 5, 6, 5, conv);
	ref_batchnorm(conv, batch, 6, 30, gamma, beta, mean, var, 1e-3, ref);
	ok(xf_conv2d_fold_batchnorm(&c, gamma, beta, mean, var, 1e-3, fw, fb, &err) == 0, "fold batchnorm: runs");
	c.weight = fw, c.bias = fb;
	run_conv(&c, x, batch, 6, 5, y, 1, &err);
	check(y, ref, n_y, "%s", "fold batchnorm: conv with folded weights = conv then batchnorm");

	c.weight = wt, c.bias = NULL;           /* no conv bias: the folded bias is beta - mean s */
	ref_conv(&c, x, batch, 6, 5, 6, 5, conv);
	ref_batchnorm(conv, batch, 6, 30, gamma, beta, mean, var, 1e-3, ref);
	memcpy(fw, wt, sizeof(fw));
	c.weight = fw;
	ok(xf_conv2d_fold_batchnorm(&c, gamma, beta, mean, var, 1e-3, fw, fb, &err) == 0, "fold batchnorm in place");
	c.bias = fb;
	run_conv(&c, x, batch, 6, 5, y, 1, &err);
	check(y, ref, n_y, "%s", "fold batchnorm without conv bias, in place");

	var[4] = -1;
	ok(xf_conv2d_fold_batchnorm(&c, gamma, beta, mean, var, 1e-3, fw, fb, &err) < 0 &&
	   strstr(err.msg, "channel 4"), "fold batchnorm: negative running_var is refused, naming the channel");
	printf("#   %s\n", err.msg);
	free(wt), free(bias), free(x), free(gamma), free(beta), free(mean), free(var), free(y), free(conv), free(ref);
}

static void expect_conv_error(struct xf_conv2d c, int h, int w, const char *want, const char *name)
{
	struct xf_err err = XF_ERR_INIT;
	int oh, ow;

	ok(xf_conv2d_out_size(&c, h, w, &oh, &ow, &err) < 0 && err.code == XF_E_USAGE && strstr(err.msg, want),
	   "conv2d error: %s", name);
	printf("#   %s\n", err.msg);
}

static void test_conv_errors(void)
{
	struct xf_conv2d c = { 4, 6, 5, 5, { 1, 1 }, { 0, 0 }, { 1, 1 }, 1, NULL, NULL, NULL };
	struct xf_err err = XF_ERR_INIT;
	float x[16], y[16];

	expect_conv_error(c, 3, 8, "the 5x5 window (dilation 1x1) does not fit the 3x8 input padded by 0x0",
			  "window taller than the input");
	c.kh = c.kw = 3, c.dilation[1] = 4;
	expect_conv_error(c, 8, 8, "does not fit the 8x8 input", "dilated window wider than the input");
	c.dilation[1] = 1, c.groups = 3;
	expect_conv_error(c, 8, 8, "3 groups do not divide 4 input and 6 output channels", "groups not dividing");
	c.groups = 2, c.stride[0] = 0;
	expect_conv_error(c, 8, 8, "stride 0x1", "stride 0");
	c.stride[0] = 1, c.pad[1] = -1;
	expect_conv_error(c, 8, 8, "padding 0x-1", "negative padding");
	c.pad[1] = 0;
	ok(xf_conv2d_forward(&c, x, 1, 1, 2, y, NULL, 1, &err) < 0 && strstr(err.msg, "does not fit"),
	   "conv2d error: forward checks the window too");
	ok(xf_conv2d_scratch_size(&c, 1, 2, 4, 1) == 0, "conv2d error: no scratch size for a bad geometry");
}

/* The yardstick: ResNet-18's 64->64 3x3 convolution on 32x32, batch 64. */
static void time_conv(int threads)
{
	struct xf_conv2d c = { 64, 64, 3, 3, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, NULL, NULL, NULL };
	int64_t batch = 64, n_x = batch * 64 * 32 * 32;
	float *wt = random_floats(64 * 64 * 9, 0.1, 0), *bias = random_floats(64, 1, 0), *x = random_floats(n_x, 1, 0);
	float *y = malloc(n_x * sizeof(float));
	struct xf_err err = XF_ERR_INIT;
	double best = INFINITY, worst = 0, flops = 2.0 * batch * 64 * 1024 * 64 * 9;

	c.weight = wt, c.bias = bias;
	for (int rep = 0; rep < 4; rep++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		run_conv(&c, x, batch, 32, 32, y, threads, &err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		best = fmin(best, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
	}
	for (int s = 0; s < 200; s++) {     /* spot checks: the full reference would take seconds */
		int64_t b = (int64_t)((urand() + 1) * 32) % batch;
		int o = (int)((urand() + 1) * 32) % 64, oy = (int)((urand() + 1) * 16) % 32, ox = s % 32;
		double r = ref_conv_at(&c, x, 32, 32, b, o, oy, ox);

		worst = fmax(worst, fabs(y[((b * 64 + o) * 32 + oy) * 32 + ox] - r) / fmax(1, fabs(r)));
	}
	ok(worst <= REL_TOL, "conv2d 64->64 3x3 on 32x32, batch 64, %d thread%s, %s: 200 spot checks", threads,
	   threads > 1 ? "s" : "", kernel_name());
	printf("# conv2d 64->64 3x3 pad 1, 32x32, batch 64, %d thread%s, %s: %.1f ms, %.1f GFLOP/s\n", threads,
	       threads > 1 ? "s" : "", kernel_name(), best * 1e3, flops / best * 1e-9);
	free(wt), free(bias), free(x), free(y);
}

/* C = A B + bias through the packed kernel, against plain loops: edges in m, n and k. */
static void test_gemm(void)
{
	static const int64_t shapes[][3] = { { 1, 1, 1 }, { 6, 16, 7 }, { 7, 17, 300 }, { 13, 40, 513 }, { 64, 33, 9 } };

	for (int i = 0; i < N_OF(shapes); i++) {
		int64_t m = shapes[i][0], n = shapes[i][1], k = shapes[i][2], ldb = n + 3, ldc = n + 5;
		float *a = random_floats(m * k, 1, 0), *b = random_floats(k * ldb, 1, 0), *bias = random_floats(m, 1, 0);
		float *packed = malloc(xf_nn_gemm_packed_size(m, k) * sizeof(float)), *c = random_floats(m * ldc, 1, 0);
		double *ref = doubles(m * n);
		float *got = malloc(m * n * sizeof(float));

		for (int64_t r = 0; r < m; r++)
			for (int64_t j = 0; j < n; j++) {
				ref[r * n + j] = i % 2 ? 0 : bias[r];
				for (int64_t p = 0; p < k; p++)
					ref[r * n + j] += (double)a[r * k + p] * b[p * ldb + j];
			}
		xf_nn_gemm_pack(a, m, k, packed);
		xf_nn_gemm(packed, m, n, k, b, ldb, i % 2 ? NULL : bias, c, ldc);
		for (int64_t r = 0; r < m; r++)
			memcpy(got + r * n, c + r * ldc, n * sizeof(float));
		check(got, ref, m * n, "nn_gemm %s", (const char *[]){ "1x1x1 with bias", "6x16x7 without bias",
			"7x17x300 with bias", "13x40x513 without bias", "64x33x9 with bias" }[i]);
		free(a), free(b), free(bias), free(packed), free(c), free(ref), free(got);
	}
}

/* Every case with each kernel: the AVX2 one where the CPU has it, and SGEMM. */
static void test_conv(void)
{
	enum xf_nn_kernel kernels[] = { XF_NN_KERNEL_AUTO, XF_NN_KERNEL_BLAS };

	for (int kk = 0; kk < 2; kk++) {
		if (xf_nn_set_kernel(kernels[kk]) == XF_NN_KERNEL_AVX2)
			test_gemm();
		else if (kk == 0)
			printf("ok %d # SKIP no AVX2 and FMA: the packed kernel is not tested\n", ++tap_count);
		for (int i = 0; i < N_OF(conv_cases); i++) {
			test_conv_case(&conv_cases[i], 1);
			test_conv_case(&conv_cases[i], 3);
		}
	}
	xf_nn_set_kernel(XF_NN_KERNEL_AUTO);
	test_conv_by_hand();
	test_conv_fold();
	test_conv_errors();
}

/* ---- pools ---- */

/* Max or mean of window (oy, ox) of one plane, from the definition: padding is -inf or 0. */
static double ref_pool_at(const struct xf_pool2d *p, bool max, const float *x, int h, int w, int oy, int ox)
{
	double m = -INFINITY, sum = 0;
	int count = 0;

	for (int i = 0; i < p->kh; i++)
		for (int j = 0; j < p->kw; j++) {
			int iy = oy * p->stride[0] - p->pad[0] + i, ix = ox * p->stride[1] - p->pad[1] + j;

			if (iy < 0 || iy >= h || ix < 0 || ix >= w)
				continue;
			m = fmax(m, x[iy * w + ix]);
			sum += x[iy * w + ix];
			count++;
		}
	return max ? m : sum / (p->count_include_pad ? p->kh * p->kw : count);
}

static void ref_pool(const struct xf_pool2d *p, bool max, const float *x, int64_t planes, int h, int w, int oh,
		     int ow, double *y)
{
	for (int64_t t = 0; t < planes; t++)
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++)
				*y++ = ref_pool_at(p, max, x + t * h * w, h, w, oy, ox);
}

struct pool_case {
	const char *name;
	int kh, kw, sh, sw, ph, pw, h, w;
};

static const struct pool_case pool_cases[] = {
	{ "2x2 stride 2", 2, 2, 2, 2, 0, 0, 6, 7 },
	{ "3x3 stride 2 pad 1", 3, 3, 2, 2, 1, 1, 7, 8 },
	{ "2x3 stride 1x2 pad 1x1", 2, 3, 1, 2, 1, 1, 5, 9 },
	{ "3x3 stride 1 pad 1", 3, 3, 1, 1, 1, 1, 4, 4 },
	{ "4x2 stride 3x1 pad 2x0", 4, 2, 3, 1, 2, 0, 10, 3 },
};

static void test_pool_case(const struct pool_case *k, int64_t batch, int c)
{
	struct xf_pool2d p = { k->kh, k->kw, { k->sh, k->sw }, { k->ph, k->pw }, true };
	struct xf_err err = XF_ERR_INIT;
	int oh, ow;

	ok(xf_pool2d_out_size(&p, k->h, k->w, &oh, &ow, &err) == 0, "pool %s: output size", k->name);
	int64_t n_y = batch * c * oh * ow;
	float *x = random_floats(batch * c * k->h * k->w, 1, 0), *y = malloc(n_y * sizeof(float));
	float *y2 = malloc(n_y * sizeof(float));
	double *ref = doubles(n_y);

	ref_pool(&p, true, x, batch * c, k->h, k->w, oh, ow, ref);
	ok(xf_maxpool2d_forward(&p, x, batch, c, k->h, k->w, y, 1, &err) == 0, "maxpool2d %s: runs", k->name);
	check(y, ref, n_y, "maxpool2d %s: matches the definition", k->name);
	for (int inc = 1; inc >= 0; inc--) {
		p.count_include_pad = inc;
		ref_pool(&p, false, x, batch * c, k->h, k->w, oh, ow, ref);
		xf_avgpool2d_forward(&p, x, batch, c, k->h, k->w, y, 1, &err);
		xf_avgpool2d_forward(&p, x, batch, c, k->h, k->w, y2, 2, &err);
		check(y, ref, n_y, inc ? "avgpool2d %s, count_include_pad: matches the definition"
				      : "avgpool2d %s, count_include_pad false: matches the definition", k->name);
		ok(same_bits(y, y2, n_y), "avgpool2d %s: 1 and 2 threads agree", k->name);
	}
	free(x), free(y), free(y2), free(ref);
}

static void test_pool_special(void)
{
	struct xf_pool2d p = { 2, 2, { 2, 2 }, { 0, 0 }, true };
	float x[] = { 1, NAN, 3, 4, 5, 6, 7, 8 }, neg[] = { -5, -6, -7, -8 }, y[2];
	struct xf_err err = XF_ERR_INIT;
	int oh, ow;

	xf_maxpool2d_forward(&p, x, 1, 1, 2, 4, y, 1, &err);
	ok(isnan(y[0]) && y[1] == 8, "maxpool2d: a NaN in the window wins, as in PyTorch");
	p.kh = p.kw = 3, p.stride[0] = p.stride[1] = 1, p.pad[0] = p.pad[1] = 1;
	xf_maxpool2d_forward(&p, neg, 1, 1, 2, 2, x, 1, &err);
	ok(x[0] == -5 && x[3] == -5, "maxpool2d: padding is -inf, not 0");
	p.pad[0] = 2;
	ok(xf_pool2d_out_size(&p, 5, 5, &oh, &ow, &err) < 0 && strstr(err.msg, "padding 2x1 must be from 0 to half"),
	   "pool error: padding above half the kernel");
	printf("#   %s\n", err.msg);
	p.pad[0] = 0;
	ok(xf_maxpool2d_forward(&p, neg, 1, 1, 2, 2, y, 1, &err) < 0 &&
	   !strcmp(err.msg, "maxpool2d: the 3x3 window does not fit the 2x2 input padded by 0x1"),
	   "pool error: window does not fit");
	printf("#   %s\n", err.msg);
	p.stride[1] = 0;
	ok(xf_avgpool2d_forward(&p, neg, 1, 1, 2, 2, y, 1, &err) < 0 && strstr(err.msg, "avgpool2d: kernel 3x3"),
	   "pool error: stride 0");
	printf("#   %s\n", err.msg);
}

static void test_global_avgpool(void)
{
	int64_t batch = 3, c = 5, hw = 49;
	float *x = random_floats(batch * c * hw, 1, 3), y[15];
	double ref[15] = { 0 };

	for (int64_t t = 0; t < batch * c; t++) {
		for (int64_t q = 0; q < hw; q++)
			ref[t] += x[t * hw + q];
		ref[t] /= hw;
	}
	xf_global_avgpool_forward(x, batch, c, hw, y, 2);
	check(y, ref, batch * c, "%s", "global_avgpool: the mean of each 7x7 plane");
	free(x);
}

static void test_pool(void)
{
	for (int i = 0; i < N_OF(pool_cases); i++) {
		test_pool_case(&pool_cases[i], 1, 2);
		test_pool_case(&pool_cases[i], 3, 4);
	}
	test_pool_special();
	test_global_avgpool();
}

/* ---- elementwise ---- */

static double ref_unary(int op, double x)
{
	switch (op) {
	case 0:
		return x > 0 ? x : 0;
	case 1:
		return tanh(x);
	case 2:
		return 1 / (1 + exp(-x));
	case 3:
		return 0.5 * x * (1 + erf(x / sqrt(2)));
	default:
		return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
	}
}

static void run_unary(int op, const float *x, int64_t n, float *y, int threads)
{
	if (op == 0)
		xf_relu_forward(x, n, y, threads);
	else if (op == 1)
		xf_tanh_forward(x, n, y, threads);
	else if (op == 2)
		xf_sigmoid_forward(x, n, y, threads);
	else
		xf_gelu_forward(x, n, op == 4, y, threads);
}

/* Big enough for several worker chunks, with values up to +-12 and a few extremes. */
static void test_unary(void)
{
	static const char *names[] = { "relu", "tanh", "sigmoid", "gelu none", "gelu tanh" };
	int64_t n = 100003;
	float *x = random_floats(n, 12, 0), *y1 = malloc(n * sizeof(float)), *y2 = malloc(n * sizeof(float));
	double *ref = doubles(n), worst_neg = 0;

	x[0] = 100, x[1] = -100, x[2] = 0, x[3] = 1e30f, x[4] = -1e30f;
	for (int op = 0; op < 5; op++) {
		for (int64_t i = 0; i < n; i++)
			ref[i] = ref_unary(op, x[i]);
		run_unary(op, x, n, y1, 1);
		run_unary(op, x, n, y2, 2);
		check(y1, ref, n, "%s: matches the definition", names[op]);
		ok(same_bits(y1, y2, n), "%s: 1 and 2 threads agree", names[op]);
	}
	/* gelu's negative tail keeps its relative accuracy (no 1 + erf cancellation) */
	for (int op = 3; op < 5; op++) {
		float t[] = { -3, -4, -5, -6 }, u[4];

		run_unary(op, t, 4, u, 1);
		for (int i = 0; i < 4; i++)
			worst_neg = fmax(worst_neg, fabs(u[i] / ref_unary(op, t[i]) - 1));
	}
	ok(worst_neg < 1e-5, "gelu: relative error %.2g on the tail x = -3..-6", worst_neg);
	memcpy(y1, x, n * sizeof(float));
	xf_sigmoid_forward(y1, n, y1, 2);
	xf_sigmoid_forward(x, n, y2, 2);
	ok(same_bits(y1, y2, n), "sigmoid in place");
	free(x), free(y1), free(y2), free(ref);
}

static void test_add(void)
{
	int64_t n = 40000;
	float *a = random_floats(n, 1, 0), *b = random_floats(n, 1, 0), *c = random_floats(n, 1, 0);
	float *y = malloc(n * sizeof(float)), *y2 = malloc(n * sizeof(float));
	const float *in[] = { a, b, c };
	double *ref = doubles(n);

	for (int64_t i = 0; i < n; i++)
		ref[i] = (double)a[i] + b[i] + c[i];
	xf_add_forward(3, in, n, y, 2);
	check(y, ref, n, "%s", "add of 3 inputs");
	xf_add_forward(3, in, n, y2, 1);
	ok(same_bits(y, y2, n), "add: 1 and 2 threads agree");
	xf_add_forward(3, in, n, c, 2);
	ok(same_bits(y, c, n), "add: the output may be the last input");
	free(a), free(b), free(c), free(y), free(y2), free(ref);
}

static void ref_softmax(const float *x, int64_t outer, int64_t dim, int64_t inner, double *y)
{
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			const float *xs = x + o * dim * inner + i;
			double *ys = y + o * dim * inner + i, m = -INFINITY, sum = 0;

			for (int64_t d = 0; d < dim; d++)
				m = fmax(m, xs[d * inner]);
			for (int64_t d = 0; d < dim; d++)
				sum += exp(xs[d * inner] - m);
			for (int64_t d = 0; d < dim; d++)
				ys[d * inner] = exp(xs[d * inner] - m) / sum;
		}
}

/* [batch 3, 4, 5, 6] along every axis, with values around 1000 (exp would overflow). */
static void test_softmax(void)
{
	const int64_t shape[] = { 4, 5, 6 }, batch = 3, n = batch * 120;
	float *x = random_floats(n, 20, 1000), *y = malloc(n * sizeof(float));
	double *ref = doubles(n);

	for (int axis = -3; axis < 3; axis++) {
		int64_t outer, dim, inner;

		xf_nn_split_axis(3, shape, axis, &outer, &dim, &inner);
		ref_softmax(x, batch * outer, dim, inner, ref);
		xf_softmax_forward(x, batch * outer, dim, inner, y, 2);
		check(y, ref, n, axis < 0 ? "softmax along axis %s (from the end), values near 1000"
					  : "softmax along axis %s, values near 1000",
		      (const char *[]){ "0", "1", "2", "-3", "-2", "-1" }[axis < 0 ? axis + 6 : axis]);
	}
	x[7] = -INFINITY;
	xf_softmax_forward(x, batch * 20, 6, 1, y, 1);
	ok(y[7] == 0 && !isnan(y[6]), "softmax: -inf gives probability 0");
	x[7] = NAN;
	xf_softmax_forward(x, batch * 20, 6, 1, y, 1);
	ok(isnan(y[6]) && isnan(y[11]) && !isnan(y[12]), "softmax: a NaN spoils its own slice only");
	free(x), free(y), free(ref);
}

static void ref_layernorm(const float *x, int64_t rows, int64_t n, const float *w, const float *b, double eps,
			  double *y)
{
	for (int64_t r = 0; r < rows; r++, x += n, y += n) {
		double mean = 0, var = 0;

		for (int64_t i = 0; i < n; i++)
			mean += x[i];
		mean /= n;
		for (int64_t i = 0; i < n; i++)
			var += (x[i] - mean) * (x[i] - mean);
		var /= n;
		for (int64_t i = 0; i < n; i++)
			y[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + (b ? b[i] : 0);
	}
}

/* [batch 3, 4, 5, 8] normalised over the last 1 and 2 dims, with an offset of 50. */
static void test_layernorm(void)
{
	int64_t batch = 3, n = batch * 160;
	float *x = random_floats(n, 2, 50), *w = random_floats(40, 0.5, 1), *b = random_floats(40, 1, 0);
	float *y = malloc(n * sizeof(float)), *y2 = malloc(n * sizeof(float));
	double *ref = doubles(n);

	for (int k = 1; k <= 2; k++) {
		struct xf_layernorm ln = { k == 1 ? 8 : 40, w, b, 1e-5 };
		int64_t rows = n / ln.n;

		ref_layernorm(x, rows, ln.n, w, b, 1e-5, ref);
		xf_layernorm_forward(&ln, x, rows, y, 1);
		check(y, ref, n, "layernorm over the last %s, with bias", k == 1 ? "dim" : "2 dims");
		ln.bias = NULL, ln.eps = 0.1;
		ref_layernorm(x, rows, ln.n, w, NULL, 0.1, ref);
		xf_layernorm_forward(&ln, x, rows, y, 2);
		memcpy(y2, x, n * sizeof(float));
		xf_layernorm_forward(&ln, y2, rows, y2, 1);
		check(y, ref, n, "layernorm over the last %s, no bias, eps 0.1", k == 1 ? "dim" : "2 dims");
		ok(same_bits(y, y2, n), "layernorm: in place and 1 thread agree");
	}
	free(x), free(w), free(b), free(y), free(y2), free(ref);
}

static void test_batchnorm(void)
{
	int64_t batch = 3, c = 6, n = batch * c * 20;
	float *x = random_floats(n, 2, 1), *gamma = random_floats(c, 0.5, 1), *beta = random_floats(c, 1, 0);
	float *mean = random_floats(c, 1, 1), *var = random_floats(c, 0.5, 1), *y = malloc(n * sizeof(float));
	double *xd = doubles(n), *ref = doubles(n);
	struct xf_batchnorm bn = { c, gamma, beta, mean, var, 1e-5 };

	for (int64_t i = 0; i < n; i++)
		xd[i] = x[i];
	ref_batchnorm(xd, batch, c, 20, gamma, beta, mean, var, 1e-5, ref);
	xf_batchnorm_forward(&bn, x, batch, 20, y, 2);
	check(y, ref, n, "%s", "batchnorm on [3, 6, 4, 5]");
	ref_batchnorm(xd, batch * 20, c, 1, gamma, beta, mean, var, 1e-5, ref);
	xf_batchnorm_forward(&bn, x, batch * 20, 1, y, 1);
	check(y, ref, n, "%s", "batchnorm on [60, 6] (BatchNorm1d)");
	free(x), free(gamma), free(beta), free(mean), free(var), free(y), free(xd), free(ref);
}

/* ---- linear ---- */

static void test_linear(void)
{
	int64_t batch = 3, len = 5, in = 7, out = 4, rows = batch * len;
	float *x = random_floats(rows * in, 1, 0), *w = random_floats(out * in, 1, 0), *b = random_floats(out, 1, 0);
	float *y = malloc(rows * out * sizeof(float));
	double *ref = doubles(rows * out);
	struct xf_err err = XF_ERR_INIT;

	for (int with_bias = 1; with_bias >= 0; with_bias--) {
		struct xf_linear l = { in, out, w, with_bias ? b : NULL };

		for (int64_t r = 0; r < rows; r++)
			for (int64_t o = 0; o < out; o++) {
				double s = with_bias ? b[o] : 0;

				for (int64_t i = 0; i < in; i++)
					s += (double)x[r * in + i] * w[o * in + i];
				ref[r * out + o] = s;
			}
		ok(xf_linear_forward(&l, x, rows, y, 2, &err) == 0, "linear %s bias: runs", with_bias ? "with" : "without");
		check(y, ref, rows * out, "linear on [3, 5, 7] -> [3, 5, 4] %s bias", with_bias ? "with" : "without");
	}
	ok(xf_linear_forward(&(struct xf_linear){ 0, 4, w, NULL }, x, rows, y, 1, &err) < 0 && err.code == XF_E_USAGE,
	   "linear error: 0 inputs");
	free(x), free(w), free(b), free(y), free(ref);
}

/* ---- concat ---- */

/* Concatenate per-sample shapes s_k (3 dims) along axis by index arithmetic, for the reference. */
static void ref_concat(int n, const float *const *x, const int64_t (*s)[3], int axis, int64_t batch, double *y)
{
	int64_t total = 0;

	for (int k = 0; k < n; k++)
		total += s[k][axis];
	for (int k = 0, off = 0; k < n; off += (int)s[k][axis], k++)
		for (int64_t b = 0; b < batch; b++)
			for (int64_t i = 0; i < s[k][0]; i++)
				for (int64_t j = 0; j < s[k][1]; j++)
					for (int64_t l = 0; l < s[k][2]; l++) {
						int64_t idx[3] = { i, j, l }, dim[3] = { s[k][0], s[k][1], s[k][2] };

						idx[axis] += off, dim[axis] = total;
						y[((b * dim[0] + idx[0]) * dim[1] + idx[1]) * dim[2] + idx[2]] =
							x[k][((b * s[k][0] + i) * s[k][1] + j) * s[k][2] + l];
					}
}

static void test_concat_case(const int64_t (*s)[3], int axis, const char *name)
{
	int64_t batch = 2, rows = 0, width[3], n = 0;
	float *x[3];
	int a = axis < 0 ? axis + 3 : axis;

	for (int k = 0; k < 3; k++) {
		int64_t outer, dim, inner;

		xf_nn_split_axis(3, s[k], axis, &outer, &dim, &inner);
		rows = batch * outer, width[k] = dim * inner;
		x[k] = random_floats(batch * s[k][0] * s[k][1] * s[k][2], 1, 0);
		n += batch * s[k][0] * s[k][1] * s[k][2];
	}
	float *y = malloc(n * sizeof(float));
	double *ref = doubles(n);

	ref_concat(3, (const float *const *)x, s, a, batch, ref);
	xf_concat_forward(3, (const float *const *)x, width, rows, y, 2);
	check(y, ref, n, "%s", name);
	for (int k = 0; k < 3; k++)
		free(x[k]);
	free(y), free(ref);
}

static void test_concat(void)
{
	static const int64_t s0[3][3] = { { 2, 3, 4 }, { 1, 3, 4 }, { 3, 3, 4 } };
	static const int64_t s1[3][3] = { { 2, 3, 4 }, { 2, 3, 1 }, { 2, 3, 2 } };
	static const int64_t s2[3][3] = { { 2, 1, 4 }, { 2, 3, 4 }, { 2, 2, 4 } };

	test_concat_case(s0, 0, "concat along axis 0: [2,3,4] [1,3,4] [3,3,4]");
	test_concat_case(s1, -1, "concat along axis -1: [2,3,4] [2,3,1] [2,3,2]");
	test_concat_case(s2, 1, "concat along axis 1: [2,1,4] [2,3,4] [2,2,4]");
}

/* ---- PyTorch fixtures ---- */

struct fixture {
	json_t *attrs;             /* the case's attrs (borrowed from the listing) */
	struct xf_tensor x, y;     /* input and PyTorch's output */
	struct xf_tensor w[4];     /* weight, bias, running_mean, running_var; data NULL when absent */
	int64_t batch;             /* x.shape[0] */
	int64_t per_sample;        /* elements of a sample of x */
};

static const char *const fixture_roles[4] = { "weight", "bias", "running_mean", "running_var" };

static int load_array(json_t *files, const char *role, struct xf_tensor *t)
{
	const char *dir = getenv("XF_TEST_DATA"), *file = json_string_value(json_object_get(files, role));
	struct xf_err err = XF_ERR_INIT;
	char path[512];

	if (!file)
		return 0;
	snprintf(path, sizeof(path), "%s/nn/%s", dir ? dir : "tests/data", file);
	if (xf_npy_load_file(path, t, &err) < 0 || t->dtype != XF_DTYPE_F32) {
		printf("# %s: %s\n", path, err.code ? err.msg : "not float32");
		return -1;
	}
	return 0;
}

static int load_fixture(json_t *c, struct fixture *f)
{
	json_t *files = json_object_get(c, "files");
	int rc = load_array(files, "x", &f->x) | load_array(files, "y", &f->y);

	for (int r = 0; r < 4; r++)
		rc |= load_array(files, fixture_roles[r], &f->w[r]);
	f->attrs = json_object_get(c, "attrs");
	f->batch = f->x.shape[0];
	f->per_sample = 1;
	for (int i = 1; i < f->x.ndim; i++)
		f->per_sample *= f->x.shape[i];
	return rc || !f->x.data || !f->y.data ? -1 : 0;
}

/* attrs[key][i] (or attrs[key] when i < 0), else def. */
static int attr_int(const struct fixture *f, const char *key, int i, int def)
{
	json_t *v = json_object_get(f->attrs, key);

	if (v && i >= 0)
		v = json_array_get(v, i);
	return v ? (int)json_integer_value(v) : def;
}

static const float *role(const struct fixture *f, int r)
{
	return f->w[r].data;
}

static void run_conv_fixture(const struct fixture *f, float *y, struct xf_err *err)
{
	const struct xf_tensor *w = &f->w[0];
	struct xf_conv2d c = { (int)f->x.shape[1], (int)w->shape[0], (int)w->shape[2], (int)w->shape[3],
			       { attr_int(f, "stride", 0, 1), attr_int(f, "stride", 1, 1) },
			       { attr_int(f, "padding", 0, 0), attr_int(f, "padding", 1, 0) },
			       { attr_int(f, "dilation", 0, 1), attr_int(f, "dilation", 1, 1) },
			       attr_int(f, "groups", -1, 1), role(f, 0), role(f, 1), NULL };

	run_conv(&c, f->x.data, f->batch, (int)f->x.shape[2], (int)f->x.shape[3], y, 2, err);
}

static void run_pool_fixture(const struct fixture *f, bool max, float *y, struct xf_err *err)
{
	int kh = attr_int(f, "kernel", 0, 1), kw = attr_int(f, "kernel", 1, 1);
	json_t *inc = json_object_get(f->attrs, "count_include_pad");
	struct xf_pool2d p = { kh, kw, { attr_int(f, "stride", 0, kh), attr_int(f, "stride", 1, kw) },
			       { attr_int(f, "padding", 0, 0), attr_int(f, "padding", 1, 0) }, !inc || json_is_true(inc) };
	int c = (int)f->x.shape[1], h = (int)f->x.shape[2], w = (int)f->x.shape[3];

	if (max)
		xf_maxpool2d_forward(&p, f->x.data, f->batch, c, h, w, y, 2, err);
	else
		xf_avgpool2d_forward(&p, f->x.data, f->batch, c, h, w, y, 2, err);
}

static double attr_eps(const struct fixture *f)
{
	json_t *v = json_object_get(f->attrs, "eps");

	return v ? json_number_value(v) : 1e-5;
}

static void run_norm_fixture(const char *op, const struct fixture *f, float *y)
{
	if (!strcmp(op, "batchnorm")) {
		struct xf_batchnorm bn = { f->x.shape[1], role(f, 0), role(f, 1), role(f, 2), role(f, 3), attr_eps(f) };

		xf_batchnorm_forward(&bn, f->x.data, f->batch, f->per_sample / bn.c, y, 2);
	} else {
		int64_t n = 1;

		for (int i = 0; i < f->w[0].ndim; i++)
			n *= f->w[0].shape[i];
		xf_layernorm_forward(&(struct xf_layernorm){ n, role(f, 0), role(f, 1), attr_eps(f) }, f->x.data,
				     f->batch * f->per_sample / n, y, 2);
	}
}

/* The op named in the listing on the fixture's arrays; -1 for an op this test does not know. */
static int run_fixture(const char *op, const struct fixture *f, float *y, struct xf_err *err)
{
	int64_t n = f->batch * f->per_sample;

	if (!strcmp(op, "conv2d"))
		run_conv_fixture(f, y, err);
	else if (!strcmp(op, "maxpool2d") || !strcmp(op, "avgpool2d"))
		run_pool_fixture(f, op[0] == 'm', y, err);
	else if (!strcmp(op, "global_avgpool"))
		xf_global_avgpool_forward(f->x.data, f->batch, f->x.shape[1], f->x.shape[2] * f->x.shape[3], y, 2);
	else if (!strcmp(op, "batchnorm") || !strcmp(op, "layernorm"))
		run_norm_fixture(op, f, y);
	else if (!strcmp(op, "gelu"))
		xf_gelu_forward(f->x.data, n, !strcmp(json_string_value(json_object_get(f->attrs, "approximate")), "tanh"),
				y, 2);
	else if (!strcmp(op, "softmax")) {
		int64_t outer, dim, inner;

		xf_nn_split_axis(f->x.ndim - 1, f->x.shape + 1, attr_int(f, "axis", -1, -1), &outer, &dim, &inner);
		xf_softmax_forward(f->x.data, f->batch * outer, dim, inner, y, 2);
	} else if (!strcmp(op, "linear")) {
		const struct xf_tensor *w = &f->w[0];

		xf_linear_forward(&(struct xf_linear){ w->shape[1], w->shape[0], role(f, 0), role(f, 1) }, f->x.data,
				  n / w->shape[1], y, 2, err);
	} else
		return -1;
	return 0;
}

static void compare_fixture(const char *name, const char *op, const struct fixture *f)
{
	struct xf_err err = XF_ERR_INIT;
	int64_t n_y = xf_tensor_count(&f->y);
	float *y = malloc(n_y * sizeof(float));
	double *ref = doubles(n_y);

	for (int64_t i = 0; i < n_y; i++)
		ref[i] = ((const float *)f->y.data)[i];
	ok(run_fixture(op, f, y, &err) == 0 && err.code == XF_E_OK, "torch fixture %s: %s runs", name, op);
	check(y, ref, n_y, "torch fixture %s: matches PyTorch", name);
	free(y), free(ref);
}

static void test_one_fixture(json_t *c)
{
	const char *name = json_string_value(json_object_get(c, "name")), *op = json_string_value(json_object_get(c, "op"));
	struct fixture f = { 0 };

	if (ok(load_fixture(c, &f) == 0, "torch fixture %s: loads", name))
		compare_fixture(name, op, &f);
	xf_tensor_release(&f.x), xf_tensor_release(&f.y);
	for (int r = 0; r < 4; r++)
		xf_tensor_release(&f.w[r]);
}

static void test_torch_fixtures(void)
{
	const char *dir = getenv("XF_TEST_DATA");
	char path[512];
	json_error_t jerr;
	json_t *root, *cases;

	snprintf(path, sizeof(path), "%s/nn/cases.json", dir ? dir : "tests/data");
	root = json_load_file(path, 0, &jerr);
	cases = json_object_get(root, "cases");
	if (!ok(json_array_size(cases) > 0, "torch fixtures: %s lists cases", path))
		printf("#   %s\n", jerr.text);
	for (size_t i = 0; i < json_array_size(cases); i++)
		test_one_fixture(json_array_get(cases, i));
	json_decref(root);
}

int main(void)
{
	test_conv();
	test_pool();
	test_unary();
	test_add();
	test_softmax();
	test_layernorm();
	test_batchnorm();
	test_linear();
	test_concat();
	test_torch_fixtures();
	printf("# worst normwise relative error of all checks: %.2g (tolerance %g)\n", worst_error, REL_TOL);
	time_conv(1);
	time_conv(2);
	if (xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2) {    /* and the SGEMM path, for comparison */
		xf_nn_set_kernel(XF_NN_KERNEL_BLAS);
		time_conv(1);
		time_conv(2);
		xf_nn_set_kernel(XF_NN_KERNEL_AUTO);
	}
	return done_testing();
}
