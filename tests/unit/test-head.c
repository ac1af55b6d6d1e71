/*
 * Unit tests for the softmax head's products and fit: xf_nn_gemm_nt and xf_nn_gemm_tn_acc
 * (lib/nn_gemm.c) against double loops over awkward sizes, then xf_softmax_fit
 * (lib/train_linear.c) on both of its paths, the AVX2 kernels and SGEMM: each solution's
 * gradient, recomputed here in double from the definition in train_linear.h, is near zero,
 * and the two paths agree.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_gemm.h"
#include "train_linear.h"
#include "nn-helpers.h"
#include "tap.h"

/* C = A B^T + bias and C' = C0 + A^T B' by the kernels, over sizes around the tile edges. */
static void test_products(void)
{
	static const int64_t ms[] = { 1, 3, 4, 5, 8, 9, 13 }, ns[] = { 1, 2, 3, 4, 7, 10 }, ks[] = { 1, 7, 8, 9, 37 };
	int shapes = N_OF(ms) * N_OF(ns) * N_OF(ks);
	double worst_nt = 0, worst_tn = 0;

	for (int a = 0; a < N_OF(ms); a++)
		for (int b = 0; b < N_OF(ns); b++)
			for (int q = 0; q < N_OF(ks); q++) {
				int64_t m = ms[a], n = ns[b], k = ks[q];
				float *x = random_floats(m * k, 1, 0), *w = random_floats(n * k, 1, 0), *bias = random_floats(n, 1, 0);
				float *c = malloc((size_t)(m * n) * sizeof(float)), *g = random_floats(n * k, 1, 0);
				double *ref = malloc((size_t)(m * n + n * k) * sizeof(double)), *gref = ref + m * n;

				for (int64_t i = 0; i < m; i++)
					for (int64_t j = 0; j < n; j++) {
						ref[i * n + j] = bias[j];
						for (int64_t p = 0; p < k; p++)
							ref[i * n + j] += (double)x[i * k + p] * w[j * k + p];
					}
				for (int64_t j = 0; j < n; j++)
					for (int64_t p = 0; p < k; p++) {
						gref[j * k + p] = g[j * k + p];
						for (int64_t i = 0; i < m; i++)   /* A = C as computed, m x n; B' = x */
							gref[j * k + p] += ref[i * n + j] * x[i * k + p];
					}
				xf_nn_gemm_nt(x, k, w, k, m, n, k, bias, c, n);
				worst_nt = fmax(worst_nt, rel_error(c, ref, m * n));
				xf_nn_gemm_tn_acc(c, n, x, k, m, n, k, g, k);
				worst_tn = fmax(worst_tn, rel_error(g, gref, n * k));
				free(x), free(w), free(bias), free(c), free(g), free(ref);
			}
	ok(worst_nt < 1e-5, "xf_nn_gemm_nt: %d shapes (m 1-13, n 1-10, k 1-37) match double loops (%.2g)", shapes,
	   worst_nt);
	ok(worst_tn < 1e-5, "xf_nn_gemm_tn_acc: the same shapes, accumulated into C (%.2g)", worst_tn);
}

/* Blobs: n rows of d features around c class centres; labels 0..c-1 in turn. */
static void blobs(int64_t n, int64_t d, int c, float *x, int64_t *y)
{
	float *centres = random_floats((int64_t)c * d, 1.5, 0);

	for (int64_t i = 0; i < n; i++) {
		y[i] = i % c;
		for (int64_t j = 0; j < d; j++)
			x[i * d + j] = centres[y[i] * d + j] + (float)urand();
	}
	free(centres);
}

/* max |gradient| of train_linear.h's objective at (w, b), in double from its definition. */
static double gradient_max(const float *x, const int64_t *y, int64_t n, int64_t d, int c, double l2,
			   const double *cw, const double *w, const double *b)
{
	double *grad = calloc((size_t)(c * d + c), sizeof(double)), z[16], worst = 0;

	for (int64_t i = 0; i < n; i++) {
		double top = -INFINITY, sum = 0, s = cw ? cw[y[i]] : 1;

		for (int k = 0; k < c; k++) {
			z[k] = b[k];
			for (int64_t j = 0; j < d; j++)
				z[k] += w[k * d + j] * x[i * d + j];
			top = fmax(top, z[k]);
		}
		for (int k = 0; k < c; k++)
			sum += exp(z[k] - top);
		for (int k = 0; k < c; k++) {
			double resid = s * (exp(z[k] - top) / sum - (k == y[i])) / (double)n;

			for (int64_t j = 0; j < d; j++)
				grad[k * d + j] += resid * x[i * d + j];
			grad[c * d + k] += resid;
		}
	}
	for (int64_t j = 0; j < c * d + c; j++)
		worst = fmax(worst, fabs(grad[j] + (j < c * d ? l2 * w[j] : 0)));
	free(grad);
	return worst;
}

/*
 * 17,001 rows (67 blocks of 256 in 64 groups, so some groups sum two blocks; blocks and tiles
 * of 8 both end part-way), 37 features (not a multiple of the 8 lanes), 5 classes with
 * weights, on each path.
 */
static void test_fit(void)
{
	enum { N = 17001, D = 37, C = 5 };
	static const double cw[C] = { 1, 2, 0.5, 1, 3 };
	enum xf_nn_kernel kernels[2] = { XF_NN_KERNEL_AVX2, XF_NN_KERNEL_BLAS };
	float *x = malloc(N * D * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	double w[2][C * D], b[2][C], diff = 0;

	blobs(N, D, C, x, y);
	for (int p = 0; p < 2; p++) {
		struct xf_softmax_opts o = { 0.01, 2, cw, XF_LBFGS_OPTS_INIT };
		struct xf_lbfgs_result res;
		struct xf_err err = XF_ERR_INIT;
		enum xf_nn_kernel got = xf_nn_set_kernel(kernels[p]);
		const char *name = got == XF_NN_KERNEL_AVX2 ? "AVX2" : "SGEMM";

		o.lbfgs.gtol = 1e-7;
		ok(xf_softmax_fit(x, y, N, D, C, &o, w[p], b[p], &res, &err) == 0, "softmax fit, %s path: runs%s%s",
		   name, err.msg[0] ? ": " : "", err.msg);
		ok(gradient_max(x, y, N, D, C, 0.01, cw, w[p], b[p]) < 1e-5,
		   "softmax fit, %s path: the gradient in double at its solution is %.2g", name,
		   gradient_max(x, y, N, D, C, 0.01, cw, w[p], b[p]));
	}
	xf_nn_set_kernel(XF_NN_KERNEL_AUTO);
	for (int j = 0; j < C * D; j++)
		diff = fmax(diff, fabs(w[0][j] - w[1][j]));
	ok(diff < 1e-3, "softmax fit: the two paths give the same weights (max difference %.2g)", diff);
	free(x), free(y);
}

int main(void)
{
	if (xf_nn_set_kernel(XF_NN_KERNEL_AVX2) == XF_NN_KERNEL_AVX2)
		test_products();
	else
		ok(1, "# SKIP no AVX2 and FMA: the kernels are not used");
	xf_nn_set_kernel(XF_NN_KERNEL_AUTO);
	test_fit();
	return done_testing();
}
