/*
 * nn_kernel: the kernel op forward and backward as blocks of x C^T; see nn_kernel.h. The
 * backward turns dy into one factor q per (row, center) and hands q to linear's backward,
 * which gives q C and q^T x; rbf adds the terms of x and c that its distance carries.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "linalg.h"
#include "nn_grad.h"
#include "nn_kernel.h"
#include "parallel.h"

#define ROW_BLOCK 256       /* rows per SGEMM: their norms stay on the stack */
#define CENTER_BLOCK 128    /* centers per SGEMM */
#define SUM_COLS 64         /* dcenters: centers whose column sums one item takes */
#define MIN_WORK 1048576    /* multiply-adds per worker: below that a thread costs more than it saves */

/*
 * One pass over the blocks of x C^T. Forward: out = k(x, c). Backward (dy set): out = q, the
 * factor of dk/dg that the chain rule needs (see grad_factor).
 */
struct block_job {
	const struct xf_kernel *k;
	const float *x;
	int64_t rows;
	int64_t center_blocks;  /* blocks of CENTER_BLOCK across m */
	const float *dy;        /* backward: [rows, m]; NULL in the forward */
	float *out;             /* [rows, m] */
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static double sq_norm(const float *v, int64_t d)
{
	double s = 0;

	for (int64_t t = 0; t < d; t++)
		s += (double)v[t] * v[t];
	return s;
}

void xf_kernel_center_sq(const float *centers, int64_t m, int64_t d, double *sq)
{
	for (int64_t j = 0; j < m; j++)
		sq[j] = sq_norm(centers + j * d, d);
}

/* k(x, c) from g = x.c and, for rbf, the squared norms; the distance clamped at 0 against rounding. */
static double kernel_value(const struct xf_kernel *k, double g, double xsq, double csq)
{
	double d2;

	switch (k->fn) {
	case XF_KERNEL_RBF:
		d2 = xsq + csq - 2 * g;
		return exp(-k->gamma * (d2 > 0 ? d2 : 0));
	case XF_KERNEL_POLY:
		return pow(k->gamma * g + k->coef0, (double)k->degree);
	default:
		return g;
	}
}

/*
 * q with dL/dx_i = sum_j q_ij c_j and dL/dc_j = sum_i q_ij x_i, before rbf's own terms:
 * poly: dy dk/dg = dy degree gamma (gamma g + coef0)^(degree - 1); rbf: 2 gamma dy k.
 */
static double grad_factor(const struct xf_kernel *k, double g, double xsq, double csq, double dy)
{
	if (k->fn == XF_KERNEL_RBF)
		return 2 * k->gamma * dy * kernel_value(k, g, xsq, csq);
	return dy * (double)k->degree * k->gamma * pow(k->gamma * g + k->coef0, (double)(k->degree - 1));
}

/* Item t is (row block, center block): the block of x C^T by one SGEMM, then each entry mapped. */
static void block_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct block_job *job = ctx;
	const struct xf_kernel *k = job->k;
	double xsq[ROW_BLOCK], csq[CENTER_BLOCK];

	for (int64_t t = begin; t < end; t++) {
		int64_t r0 = t / job->center_blocks * ROW_BLOCK, j0 = t % job->center_blocks * CENTER_BLOCK;
		int nr = (int)min64(ROW_BLOCK, job->rows - r0), nc = (int)min64(CENTER_BLOCK, k->m - j0);
		float *out = job->out + r0 * k->m + j0;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nc, (int)k->d, 1.0f, job->x + r0 * k->d, (int)k->d,
			    k->centers + j0 * k->d, (int)k->d, 0.0f, out, (int)k->m);
		if (k->fn == XF_KERNEL_LINEAR)
			continue;   /* the forward's value is g itself; the backward does not come here */
		for (int i = 0; k->fn == XF_KERNEL_RBF && i < nr; i++)
			xsq[i] = sq_norm(job->x + (r0 + i) * k->d, k->d);
		for (int j = 0; k->fn == XF_KERNEL_RBF && j < nc; j++)
			csq[j] = k->center_sq ? k->center_sq[j0 + j] : sq_norm(k->centers + (j0 + j) * k->d, k->d);
		for (int i = 0; i < nr; i++)
			for (int j = 0; j < nc; j++) {
				float *o = out + (int64_t)i * k->m + j;

				*o = (float)(job->dy ? grad_factor(k, *o, xsq[i], csq[j], job->dy[(r0 + i) * k->m + j0 + j])
						     : kernel_value(k, *o, xsq[i], csq[j]));
			}
	}
}

static int check_sizes(const struct xf_kernel *k, int64_t rows, struct xf_err *err)
{
	if (k->d < 1 || k->m < 1 || rows < 0)
		return xf_err_set(err, XF_E_USAGE, "kernel: %lld features, %lld centers and %lld rows are not valid",
				  (long long)k->d, (long long)k->m, (long long)rows);
	if (k->d > INT_MAX || k->m > INT_MAX)
		return xf_err_set(err, XF_E_LIMIT, "kernel: %lld x %lld centers exceed the BLAS integer type",
				  (long long)k->m, (long long)k->d);
	return 0;
}

/* Items per worker so that each has at least MIN_WORK multiply-adds. */
static int64_t items_per_chunk(int64_t work_per_item)
{
	int64_t n = MIN_WORK / (work_per_item > 0 ? work_per_item : 1);

	return n > 1 ? n : 1;
}

/* The pass of block_job over all blocks, with OpenBLAS on one thread. */
static void run_blocks(const struct block_job *job, int threads)
{
	const struct xf_kernel *k = job->k;
	int64_t items = (job->rows + ROW_BLOCK - 1) / ROW_BLOCK * job->center_blocks;
	int blas_threads = xf_nn_blas_threads(1);

	xf_parallel_for(items, threads, items_per_chunk(min64(job->rows, ROW_BLOCK) * min64(k->m, CENTER_BLOCK) * k->d),
			block_chunk, (void *)job);
	xf_linalg_set_threads(blas_threads);
}

int xf_kernel_forward(const struct xf_kernel *k, const float *x, int64_t rows, float *y, int threads,
		      struct xf_err *err)
{
	struct block_job job = { k, x, rows, (k->m + CENTER_BLOCK - 1) / CENTER_BLOCK, NULL, y };

	if (check_sizes(k, rows, err) < 0)
		return -1;
	if (rows > 0)
		run_blocks(&job, threads);
	return 0;
}

/* rbf's terms beside q C and q^T x. */
struct rbf_job {
	const struct xf_kernel *k;
	const float *x, *q;
	int64_t rows;
	float *dx, *dcenters;
};

/* dx_i -= x_i sum_j q_ij, per row, the sum in double in center order. */
static void rbf_dx_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct rbf_job *job = ctx;
	int64_t m = job->k->m, d = job->k->d;

	for (int64_t i = begin; i < end; i++) {
		double s = 0;

		for (int64_t j = 0; j < m; j++)
			s += job->q[i * m + j];
		for (int64_t t = 0; t < d; t++)
			job->dx[i * d + t] -= (float)(s * job->x[i * d + t]);
	}
}

/* dc_j -= c_j sum_i q_ij, for SUM_COLS centers per item, the sums in double in row order. */
static void rbf_dcenters_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct rbf_job *job = ctx;
	const struct xf_kernel *k = job->k;

	for (int64_t b = begin; b < end; b++) {
		int64_t j0 = b * SUM_COLS, nc = min64(SUM_COLS, k->m - j0);
		double s[SUM_COLS] = { 0 };

		for (int64_t i = 0; i < job->rows; i++)
			for (int64_t j = 0; j < nc; j++)
				s[j] += job->q[i * k->m + j0 + j];
		for (int64_t j = 0; j < nc; j++)
			for (int64_t t = 0; t < k->d; t++)
				job->dcenters[(j0 + j) * k->d + t] -= (float)(s[j] * k->centers[(j0 + j) * k->d + t]);
	}
}

int xf_kernel_backward(const struct xf_kernel *k, const float *x, const float *dy, int64_t rows, float *dx,
		       float *dcenters, int threads, struct xf_err *err)
{
	struct xf_linear lin = { k->d, k->m, k->centers, NULL };
	struct block_job job = { k, x, rows, (k->m + CENTER_BLOCK - 1) / CENTER_BLOCK, dy, NULL };
	struct rbf_job rbf = { k, x, NULL, rows, dx, dcenters };
	size_t bytes = (size_t)rows * (size_t)k->m * sizeof(float);
	int rc;

	if (check_sizes(k, rows, err) < 0)
		return -1;
	if (rows == 0 || (!dx && !dcenters))
		return 0;
	if (k->fn == XF_KERNEL_LINEAR)   /* y = x C^T: linear's own backward */
		return xf_linear_backward(&lin, x, dy, rows, dx, dcenters, NULL, threads, err);
	if (!(job.out = malloc(bytes)))
		return xf_err_nomem(err, bytes);
	run_blocks(&job, threads);
	rc = xf_linear_backward(&lin, x, job.out, rows, dx, dcenters, NULL, threads, err);
	rbf.q = job.out;
	if (rc == 0 && k->fn == XF_KERNEL_RBF && dx)
		xf_parallel_for(rows, threads, items_per_chunk(k->m + k->d), rbf_dx_chunk, &rbf);
	if (rc == 0 && k->fn == XF_KERNEL_RBF && dcenters)
		xf_parallel_for((k->m + SUM_COLS - 1) / SUM_COLS, threads, items_per_chunk(rows * SUM_COLS),
				rbf_dcenters_chunk, &rbf);
	free(job.out);
	return rc;
}
