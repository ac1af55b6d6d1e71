/*
 * Driver for tests/bench/head.sh: the two products of a softmax head's evaluation on one core,
 * xfer's kernels (lib/nn_gemm.c) against OpenBLAS SGEMM on the same arrays: logits
 * Z = X W^T + b (xf_nn_gemm_nt) and the gradient G = R^T X (xf_nn_gemm_tn_acc, 8 rows at a time
 * as lib/train_linear.c calls it). Rows ROWS x D, C classes; X filled once, best of REPS.
 * Prints GFLOPS of each, the ratio, and the largest difference of the two results relative to
 * their largest value.
 * usage: head-driver ROWS D C REPS
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn_gemm.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* max |a - b| / max |b|: float32 sums in another order differ by rounding, relative to the values. */
static float rel_diff(const float *a, const float *b, long n)
{
	float worst = 0, top = 0;

	for (long i = 0; i < n; i++) {
		worst = fmaxf(worst, fabsf(a[i] - b[i]));
		top = fmaxf(top, fabsf(b[i]));
	}
	return top > 0 ? worst / top : worst;
}

int main(int argc, char **argv)
{
	long rows = argc > 4 ? atol(argv[1]) : 0, d = argc > 4 ? atol(argv[2]) : 0, c = argc > 4 ? atol(argv[3]) : 0;
	int reps = argc > 4 ? atoi(argv[4]) : 0;
	float *x, *w, *bias, *z1, *z2, *g1, *g2;
	double best[4] = { 1e30, 1e30, 1e30, 1e30 }, flops;

	if (rows < 8 || d < 1 || c < 1 || reps < 1) {
		fprintf(stderr, "usage: head-driver ROWS D C REPS\n");
		return 2;
	}
	if (xf_nn_set_kernel(XF_NN_KERNEL_AVX2) != XF_NN_KERNEL_AVX2) {
		printf("no AVX2 and FMA on this CPU: softmax heads use SGEMM here\n");
		return 0;
	}
	x = malloc(rows * d * sizeof(float)), w = malloc(c * d * sizeof(float)), bias = malloc(c * sizeof(float));
	z1 = malloc(rows * c * sizeof(float)), z2 = malloc(rows * c * sizeof(float));
	g1 = malloc(c * d * sizeof(float)), g2 = malloc(c * d * sizeof(float));
	if (!x || !w || !bias || !z1 || !z2 || !g1 || !g2) {
		fprintf(stderr, "head-driver: out of memory\n");
		return 1;
	}
	for (long i = 0; i < rows * d; i++)
		x[i] = (float)((i * 7919) % 255) / 255.0f;
	for (long i = 0; i < c * d; i++)
		w[i] = (float)((i * 104729) % 201 - 100) * 1e-3f;
	for (long k = 0; k < c; k++)
		bias[k] = (float)k * 0.1f;
	for (int r = 0; r < reps; r++) {
		double t = now();

		xf_nn_gemm_nt(x, d, w, d, rows, c, d, bias, z1, c);
		best[0] = fmin(best[0], now() - t);
		t = now();
		for (long i = 0; i < rows; i++)
			memcpy(z2 + i * c, bias, c * sizeof(float));
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, c, d, 1.0f, x, d, w, d, 1.0f, z2, c);
		best[1] = fmin(best[1], now() - t);
		t = now();
		memset(g1, 0, c * d * sizeof(float));
		for (long i = 0; i < rows; i += 8)
			xf_nn_gemm_tn_acc(z1 + i * c, c, x + i * d, d, rows - i < 8 ? rows - i : 8, c, d, g1, d);
		best[2] = fmin(best[2], now() - t);
		t = now();
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, d, rows, 1.0f, z1, c, x, d, 0.0f, g2, d);
		best[3] = fmin(best[3], now() - t);
	}
	flops = 2.0 * rows * d * c / 1e9;
	printf("%6ld x %-5ld C %-4ld logits   xfer %6.1f GFLOPS  SGEMM %6.1f GFLOPS  %5.2fx  rel diff %.2g\n", rows, d, c,
	       flops / best[0], flops / best[1], best[1] / best[0], rel_diff(z1, z2, rows * c));
	printf("%6ld x %-5ld C %-4ld gradient xfer %6.1f GFLOPS  SGEMM %6.1f GFLOPS  %5.2fx  rel diff %.2g\n", rows, d, c,
	       flops / best[2], flops / best[3], best[3] / best[2], rel_diff(g1, g2, c * d));
	free(x), free(w), free(bias), free(z1), free(z2), free(g1), free(g2);
	return 0;
}
