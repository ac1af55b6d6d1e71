/*
 * Unit tests for lib/nn_winograd.c through nn_conv.h's API: 3x3 stride-1 convolutions of many
 * sizes (odd ones whose last tiles hang over the edge), paddings 0 to 2, channel counts and
 * batches, with and without bias, against a direct convolution in double (normwise relative
 * error max |got - ref| / max |ref| at most REL_TOL); the same bits for 1, 2 and 3 threads
 * and for packed and unpacked weights; agreement with the im2col path; and convolutions
 * that do not qualify (stride 2, 5x5, 2 groups, dilation 2, padding 3) left to im2col,
 * bit for bit. Without the AVX2 kernel only the last part applies.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn_conv.h"
#include "nn_gemm.h"
#include "nn_winograd.h"
#include "nn-helpers.h"
#include "tap.h"

#define REL_TOL 1e-5

/* Forward through nn_conv.h with scratch of exactly the size asked for; y starts as NaN. */
static int run_conv(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w, float *y,
		    int64_t n_y, int threads)
{
	size_t n = xf_conv2d_scratch_size(c, h, w, batch, threads);
	float *scratch = n ? malloc(n * sizeof(float)) : NULL;
	struct xf_err err = XF_ERR_INIT;
	int rc;

	for (int64_t i = 0; i < n_y; i++)
		y[i] = NAN;
	rc = xf_conv2d_forward(c, x, batch, h, w, y, scratch, threads, &err);
	if (rc < 0)
		printf("#   %s\n", err.msg);
	free(scratch);
	return rc;
}

/* The same straight through nn_winograd.h, whether or not nn_conv.c would choose it. */
static int run_winograd(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w, float *y,
			int64_t n_y, int threads)
{
	size_t n = xf_winograd_scratch_size(c, h, w, batch, threads);
	float *scratch = n ? malloc(n * sizeof(float)) : NULL;
	struct xf_err err = XF_ERR_INIT;
	int rc;

	for (int64_t i = 0; i < n_y; i++)
		y[i] = NAN;
	rc = xf_winograd_forward(c, x, batch, h, w, y, scratch, threads, &err);
	if (rc < 0)
		printf("#   %s\n", err.msg);
	free(scratch);
	return rc;
}

struct shape {
	int h, w, pad_h, pad_w, in_c, out_c;
	int64_t batch;
	bool bias;
};

static double worst_error;   /* over every case, reported at the end */

/*
 * One shape through nn_winograd.h: matches the definition, the same bits for 1, 2 and 3
 * threads and with the weights packed beforehand. Then through nn_conv.h: with 8 input
 * channels or more Winograd is chosen (its packed size, its scratch, its very bits), with
 * fewer im2col (still matching the definition).
 */
static void test_shape(const struct shape *s)
{
	struct xf_conv2d c = { s->in_c, s->out_c, 3, 3, { 1, 1 }, { s->pad_h, s->pad_w }, { 1, 1 }, 1, NULL, NULL, NULL };
	struct xf_err err = XF_ERR_INIT;
	char name[160];
	int oh, ow;

	snprintf(name, sizeof(name), "%dx%d pad %dx%d, %d -> %d channels, batch %lld%s", s->h, s->w, s->pad_h,
		 s->pad_w, s->in_c, s->out_c, (long long)s->batch, s->bias ? ", bias" : "");
	if (!ok(xf_conv2d_out_size(&c, s->h, s->w, &oh, &ow, &err) == 0, "%s: output size", name))
		return;

	int64_t n_w = (int64_t)s->out_c * s->in_c * 9, n_x = s->batch * s->in_c * s->h * s->w;
	int64_t n_y = s->batch * s->out_c * oh * ow;
	float *wt = random_floats(n_w, 0.5, 0), *bias = random_floats(s->out_c, 1, 0);
	float *x = random_floats(n_x, 1, 0.25), *y1 = malloc(n_y * sizeof(float));
	float *y2 = malloc(n_y * sizeof(float)), *y3 = malloc(n_y * sizeof(float));
	float *packed = malloc(xf_winograd_packed_size(&c) * sizeof(float));
	double *ref = malloc(n_y * sizeof(double)), e;
	bool threads_agree, packed_agree, via_conv;

	c.weight = wt, c.bias = s->bias ? bias : NULL;
	ref_conv(&c, x, s->batch, s->h, s->w, oh, ow, ref);
	run_winograd(&c, x, s->batch, s->h, s->w, y1, n_y, 1);
	e = rel_error(y1, ref, n_y);
	worst_error = e > worst_error || isnan(e) ? e : worst_error;
	run_winograd(&c, x, s->batch, s->h, s->w, y2, n_y, 2);
	run_winograd(&c, x, s->batch, s->h, s->w, y3, n_y, 3);
	threads_agree = same_bits(y1, y2, n_y) && same_bits(y1, y3, n_y);
	xf_winograd_pack(&c, packed);
	c.packed = packed;
	run_winograd(&c, x, s->batch, s->h, s->w, y2, n_y, 2);
	packed_agree = same_bits(y1, y2, n_y);
	c.packed = NULL;
	run_conv(&c, x, s->batch, s->h, s->w, y3, n_y, 2);
	if (s->in_c >= 8)
		via_conv = xf_winograd_applies(&c) && xf_conv2d_packed_size(&c) == xf_winograd_packed_size(&c) &&
			   xf_conv2d_scratch_size(&c, s->h, s->w, s->batch, 2) ==
				   xf_winograd_scratch_size(&c, s->h, s->w, s->batch, 2) &&
			   same_bits(y1, y3, n_y);
	else
		via_conv = !xf_winograd_applies(&c) && rel_error(y3, ref, n_y) <= REL_TOL;
	if (!ok(xf_winograd_supports(&c) && e <= REL_TOL && threads_agree && packed_agree && via_conv, "%s", name))
		printf("#   relative error %.3g (tolerance %g), threads agree %d, packed agrees %d, nn_conv agrees %d\n",
		       e, REL_TOL, threads_agree, packed_agree, via_conv);
	free(wt), free(bias), free(x), free(y1), free(y2), free(y3), free(packed), free(ref);
}

static const int sizes[] = { 1, 2, 3, 4, 5, 7, 8, 13, 32 };
static const int channels[] = { 1, 3, 6, 7, 16, 17, 64 };

/*
 * Every height and width with every padding (the symmetric ones and two mixed), where the
 * window fits; the channel counts, batch and bias cycle through their values, smaller on
 * the big images so that the reference stays quick.
 */
static void test_sizes(void)
{
	static const int pads[][2] = { { 0, 0 }, { 1, 1 }, { 2, 2 }, { 0, 2 }, { 2, 1 } };
	int i = 0;

	for (int a = 0; a < N_OF(sizes); a++)
		for (int b = 0; b < N_OF(sizes); b++)
			for (int p = 0; p < N_OF(pads); p++) {
				int h = sizes[a], w = sizes[b], n_ch = h * w >= 256 ? 5 : N_OF(channels);
				struct shape s = { h, w, pads[p][0], pads[p][1], channels[(i * 3) % n_ch],
						   channels[(i * 5 + 1) % n_ch], 1 + i % 3, i % 2 == 0 };

				if (h + 2 * s.pad_h < 3 || w + 2 * s.pad_w < 3)
					continue;
				test_shape(&s);
				i++;
			}
}

/* Every pair of channel counts on a small odd image, and the ResNet-sized ones on 32x32. */
static void test_channels(void)
{
	for (int a = 0; a < N_OF(channels); a++)
		for (int b = 0; b < N_OF(channels); b++) {
			struct shape s = { 7, 5, 1, 1, channels[a], channels[b], 1 + (a + b) % 3, (a + b) % 2 == 1 };

			test_shape(&s);
		}
	test_shape(&(struct shape){ 32, 32, 1, 1, 64, 64, 3, true });
	test_shape(&(struct shape){ 13, 32, 1, 1, 64, 17, 2, false });
	test_shape(&(struct shape){ 8, 8, 1, 1, 256, 64, 5, true });
	test_shape(&(struct shape){ 4, 4, 1, 1, 300, 70, 9, true });
	test_shape(&(struct shape){ 3, 200, 0, 2, 5, 9, 2, true });   /* tile rows longer than a block */
	test_shape(&(struct shape){ 9, 20, 1, 1, 12, 10, 2, true });  /* 10 tiles across: a ragged vector */
	test_shape(&(struct shape){ 6, 27, 2, 0, 9, 11, 3, false });
	test_shape(&(struct shape){ 16, 16, 1, 1, 128, 32, 2, true }); /* 8 tiles across, exactly a vector */
}

/* Winograd and im2col agree within the tolerance; the switch turns Winograd off and on. */
static void test_against_im2col(void)
{
	struct xf_conv2d c = { 16, 24, 3, 3, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, NULL, NULL, NULL };
	int64_t batch = 3, n_y = batch * 24 * 11 * 9;
	float *wt = random_floats(24 * 16 * 9, 0.5, 0), *bias = random_floats(24, 1, 0);
	float *x = random_floats(batch * 16 * 11 * 9, 1, 0);
	float *yw = malloc(n_y * sizeof(float)), *yi = malloc(n_y * sizeof(float));
	double *ref = malloc(n_y * sizeof(double));
	bool was;

	c.weight = wt, c.bias = bias;
	ref_conv(&c, x, batch, 11, 9, 11, 9, ref);
	run_conv(&c, x, batch, 11, 9, yw, n_y, 2);
	was = xf_winograd_set_enabled(false);
	ok(was && !xf_winograd_applies(&c), "%s", "xf_winograd_set_enabled(false) turns Winograd off");
	run_conv(&c, x, batch, 11, 9, yi, n_y, 2);
	xf_winograd_set_enabled(true);
	ok(xf_winograd_applies(&c), "%s", "xf_winograd_set_enabled(true) turns it back on");
	ok(rel_error(yi, ref, n_y) <= REL_TOL && rel_error(yw, ref, n_y) <= REL_TOL && !same_bits(yw, yi, n_y),
	   "%s", "Winograd and im2col both match the definition, by different roundings");
	free(wt), free(bias), free(x), free(yw), free(yi), free(ref);
}

/*
 * Convolutions that Winograd does not take: not chosen, packed as im2col packs, and the same
 * bits whether Winograd is on or off (their path does not change), matching the definition.
 */
static void test_not_qualifying(void)
{
	struct xf_conv2d few = { 7, 8, 3, 3, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, NULL, NULL, NULL };
	size_t im2col_few = xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2 ? xf_nn_gemm_packed_size(8, 7 * 9) : 0;

	ok(xf_winograd_supports(&few) == (xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2) && !xf_winograd_applies(&few) &&
		   xf_conv2d_packed_size(&few) == im2col_few,
	   "%s", "7 input channels: Winograd could, but im2col is faster and is chosen");

	static const struct {
		const char *name;
		int in_c, out_c, kh, kw, sh, sw, ph, pw, dh, dw, groups, h, w;
	} cases[] = {
		{ "stride 2", 6, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 9, 10 },
		{ "stride 1x2", 6, 8, 3, 3, 1, 2, 1, 1, 1, 1, 1, 9, 10 },
		{ "5x5", 6, 8, 5, 5, 1, 1, 2, 2, 1, 1, 1, 9, 10 },
		{ "3x1", 6, 8, 3, 1, 1, 1, 1, 0, 1, 1, 1, 9, 10 },
		{ "2 groups", 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2, 9, 10 },
		{ "dilation 2", 6, 8, 3, 3, 1, 1, 2, 2, 2, 2, 1, 9, 10 },
		{ "padding 3", 6, 8, 3, 3, 1, 1, 3, 3, 1, 1, 1, 9, 10 },
		{ "depthwise", 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, 9, 10 },
	};

	for (int i = 0; i < N_OF(cases); i++) {
		struct xf_conv2d c = { cases[i].in_c, cases[i].out_c, cases[i].kh, cases[i].kw,
				       { cases[i].sh, cases[i].sw }, { cases[i].ph, cases[i].pw },
				       { cases[i].dh, cases[i].dw }, cases[i].groups, NULL, NULL, NULL };
		int oh, ow, h = cases[i].h, w = cases[i].w;
		struct xf_err err = XF_ERR_INIT;

		xf_conv2d_out_size(&c, h, w, &oh, &ow, &err);

		int64_t batch = 2, n_y = batch * c.out_c * oh * ow, m = c.out_c / c.groups;
		int64_t k = (int64_t)(c.in_c / c.groups) * c.kh * c.kw;
		float *wt = random_floats(c.out_c * k, 0.5, 0), *bias = random_floats(c.out_c, 1, 0);
		float *x = random_floats(batch * c.in_c * h * w, 1, 0);
		float *y_on = malloc(n_y * sizeof(float)), *y_off = malloc(n_y * sizeof(float));
		double *ref = malloc(n_y * sizeof(double));
		size_t im2col_packed = xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2 && m > 1 ?
					       xf_nn_gemm_packed_size(m, k) * c.groups : 0;
		bool packed_same;

		c.weight = wt, c.bias = bias;
		packed_same = xf_conv2d_packed_size(&c) == im2col_packed;
		ref_conv(&c, x, batch, h, w, oh, ow, ref);
		run_conv(&c, x, batch, h, w, y_on, n_y, 2);
		xf_winograd_set_enabled(false);
		run_conv(&c, x, batch, h, w, y_off, n_y, 2);
		xf_winograd_set_enabled(true);
		ok(!xf_winograd_supports(&c) && !xf_winograd_applies(&c) && packed_same && same_bits(y_on, y_off, n_y) &&
			   rel_error(y_on, ref, n_y) <= REL_TOL,
		   "not for Winograd: %s (im2col's packing and output)", cases[i].name);
		free(wt), free(bias), free(x), free(y_on), free(y_off), free(ref);
	}
}

/* A window that does not fit fails as on the im2col path; batch 0 writes nothing. */
static void test_edges(void)
{
	struct xf_conv2d c = { 2, 3, 3, 3, { 1, 1 }, { 0, 0 }, { 1, 1 }, 1, NULL, NULL, NULL };
	float *wt = random_floats(3 * 2 * 9, 0.5, 0), x[2 * 2 * 2] = { 0 }, y[3] = { 7, 7, 7 };
	struct xf_err err = XF_ERR_INIT;

	c.weight = wt;
	ok(xf_conv2d_forward(&c, x, 1, 2, 2, y, NULL, 1, &err) < 0 && err.code == XF_E_USAGE &&
		   strstr(err.msg, "does not fit"),
	   "%s", "a 3x3 window on an unpadded 2x2 input is refused");
	ok(xf_conv2d_scratch_size(&c, 2, 2, 1, 1) == 0, "%s", "and has no scratch size");
	c.pad[0] = c.pad[1] = 1;
	ok(xf_conv2d_forward(&c, x, 0, 2, 2, y, NULL, 1, &err) == 0 && y[0] == 7 && y[1] == 7 && y[2] == 7, "%s",
	   "batch 0 writes nothing");
	free(wt);
}

/* The yardstick of test-nn-ops: ResNet-18's 64->64 3x3 layer on 32x32, batch 64, both ways (a comment, not a check). */
static void time_layer(int in_c, int size, int threads)
{
	struct xf_conv2d c = { in_c, in_c, 3, 3, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, NULL, NULL, NULL };
	int64_t batch = 64, n_x = batch * in_c * size * size;
	float *wt = random_floats((int64_t)in_c * in_c * 9, 0.1, 0), *x = random_floats(n_x, 1, 0);
	float *y = malloc(n_x * sizeof(float)), *packed;
	double best[2] = { INFINITY, INFINITY };

	c.weight = wt;
	for (int way = 0; way < 2; way++) {
		size_t n;
		float *scratch;

		xf_winograd_set_enabled(way == 0);
		packed = malloc((xf_conv2d_packed_size(&c) + 1) * sizeof(float));
		xf_conv2d_pack(&c, packed);
		c.packed = packed;
		n = xf_conv2d_scratch_size(&c, size, size, batch, threads);
		scratch = malloc((n + 1) * sizeof(float));
		for (int rep = 0; rep < 3; rep++) {
			struct timespec t0, t1;
			struct xf_err err = XF_ERR_INIT;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			xf_conv2d_forward(&c, x, batch, size, size, y, scratch, threads, &err);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			best[way] = fmin(best[way], (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
		}
		c.packed = NULL;
		free(packed), free(scratch);
	}
	xf_winograd_set_enabled(true);
	printf("# conv2d %d->%d 3x3 pad 1, %dx%d, batch 64, %d thread%s: Winograd %.1f ms, im2col %.1f ms\n", in_c,
	       in_c, size, size, threads, threads > 1 ? "s" : "", best[0] * 1e3, best[1] * 1e3);
	free(wt), free(x), free(y);
}

int main(void)
{
	rng_state = 0x9e3779b97f4a7c15ULL;
	if (xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2) {
		test_sizes();
		test_channels();
		test_against_im2col();
		test_edges();
		printf("# worst normwise relative error: %.2g (tolerance %g)\n", worst_error, REL_TOL);
	} else {
		struct xf_conv2d c = { 4, 4, 3, 3, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, NULL, NULL, NULL };

		ok(!xf_winograd_applies(&c), "%s", "no AVX2 kernel: Winograd is not used");
	}
	test_not_qualifying();
	if (xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2)
		for (int threads = 1; threads <= 2; threads++) {
			time_layer(64, 32, threads);
			time_layer(512, 4, threads);
		}
	return done_testing();
}
