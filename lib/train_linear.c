/* train_linear: softmax regression and ridge heads; see train_linear.h. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "nn_gemm.h"
#include "nn_linear.h"
#include "parallel.h"
#include "train_linear.h"

#define SOFTMAX_BLOCK 256   /* rows per block: its slice of x stays in L2 between the two products */

#define SOFTMAX_TILE 8      /* rows per fused step of the AVX2 path: logits, residuals and gradient from L1 */
#define SOFTMAX_TILE_MAX_CLASSES 12     /* the tiled path for heads this narrow (measured: 10 wins, 16 loses) ... */
#define SOFTMAX_TILE_MAX_WEIGHTS 65536  /* ... and c d up to this: W and the gradient, read for every tile, stay in L2 */
#define SOFTMAX_GROUPS 64                /* parallel groups of blocks at most ... */
#define SOFTMAX_GROUPS_BYTES ((int64_t)1 << 30)  /* ... and fewer where their parts would pass this */

/*
 * The data in float32, read in blocks: per block, logits Z = X W^T + b, residuals R, and the
 * gradient's part R^T X, the losses in double. The blocks fall into n_groups runs fixed by the
 * problem's size alone; a group's blocks are summed in order into its part and the parts in
 * group order, so the result does not depend on the thread count, and the parts' memory is
 * bounded (groups_for) whatever the number of rows. With the AVX2 kernels a
 * block goes SOFTMAX_TILE rows at a time through all three steps, reading X in place and once
 * from memory; SGEMM would copy every block of X into its packed layout for each of its two
 * products, which cost more than the arithmetic (8,000 digits: 1.7 s against 2.1 s). Wider
 * heads, where SGEMM's register blocking over the classes wins (16 classes and more, measured
 * with tests/bench/head.sh and whole fits), and CPUs without AVX2 take two SGEMMs per block.
 */
struct softmax_problem {
	const float *x;
	const int64_t *y;
	int64_t n, d;
	int c;
	const struct xf_softmax_opts *o;
	int threads;
	bool tiles;         /* block_tiles (xf_nn_gemm_nt, xf_nn_gemm_tn_acc), else block_sgemm */
	int64_t n_blocks, n_groups;
	float *wf;          /* W as float, c x d, then b as float, c */
	double *parts;      /* per group: loss, then c d weight gradient, then c bias gradient */
	float *scratch;     /* per group: a block's logits and residuals (SOFTMAX_BLOCK x c), its c x d product */
};

/* Row i's logits into probabilities in place; returns its cross-entropy for label y. */
static double softmax_row(double *z, int c, int64_t y)
{
	double top = z[0], zy = z[y], sum = 0;

	for (int k = 1; k < c; k++)
		top = z[k] > top ? z[k] : top;
	for (int k = 0; k < c; k++) {
		z[k] = exp(z[k] - top);
		sum += z[k];
	}
	for (int k = 0; k < c; k++)
		z[k] /= sum;
	return top + log(sum) - zy;
}

static int64_t part_size(const struct softmax_problem *p)
{
	return 1 + (int64_t)p->c * p->d + p->c;
}

/*
 * Rows [i0, i0 + rows) of the data: their logits z (rows x c) become their weighted residuals
 * in place; their losses and bias gradients go into part.
 */
static void residuals(const struct softmax_problem *p, int64_t i0, int64_t rows, float *z, double *part)
{
	int64_t cd = (int64_t)p->c * p->d;
	double zi[XF_SOFTMAX_MAX_CLASSES];

	for (int64_t i = 0; i < rows; i++) {
		int64_t y = p->y[i0 + i];
		double s = p->o->class_weight ? p->o->class_weight[y] : 1;

		for (int k = 0; k < p->c; k++)
			zi[k] = z[i * p->c + k];
		part[0] += s * softmax_row(zi, p->c, y);
		zi[y] -= 1;
		for (int k = 0; k < p->c; k++) {
			part[1 + cd + k] += s * zi[k];
			z[i * p->c + k] = (float)(s * zi[k]);
		}
	}
}

/* b as float: it follows W in wf. */
static const float *bias_f(const struct softmax_problem *p)
{
	return p->wf + (int64_t)p->c * p->d;
}

/* The block's rows x [rows x d] through xf_nn_gemm_nt and xf_nn_gemm_tn_acc, a tile at a time; g gets R^T X. */
static void block_tiles(const struct softmax_problem *p, int64_t r0, const float *x, int64_t rows, float *z,
			float *g, double *part)
{

	memset(g, 0, (size_t)p->c * (size_t)p->d * sizeof(float));
	for (int64_t i = 0; i < rows; i += SOFTMAX_TILE) {
		int64_t tile = rows - i < SOFTMAX_TILE ? rows - i : SOFTMAX_TILE;
		const float *xt = x + i * p->d;

		xf_nn_gemm_nt(xt, p->d, p->wf, p->d, tile, p->c, p->d, bias_f(p), z, p->c);
		residuals(p, r0 + i, tile, z, part);
		xf_nn_gemm_tn_acc(z, p->c, xt, p->d, tile, p->c, p->d, g, p->d);
	}
}

/* The same by two SGEMMs over the whole block. */
static void block_sgemm(const struct softmax_problem *p, int64_t r0, const float *x, int64_t rows, float *z,
			float *g, double *part)
{
	for (int64_t i = 0; i < rows; i++)
		memcpy(z + i * p->c, bias_f(p), (size_t)p->c * sizeof(float));
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, p->c, (int)p->d, 1.0f, x, (int)p->d, p->wf,
		    (int)p->d, 1.0f, z, p->c);
	residuals(p, r0, rows, z, part);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p->c, (int)p->d, (int)rows, 1.0f, z, p->c, x, (int)p->d,
		    0.0f, g, (int)p->d);
}

static int64_t scratch_size(const struct softmax_problem *p)
{
	return SOFTMAX_BLOCK * (int64_t)p->c + (int64_t)p->c * p->d;
}

/* Group k's blocks, one after another, summed into its part. */
static void softmax_group(struct softmax_problem *p, int64_t k)
{
	int64_t cd = (int64_t)p->c * p->d, b0 = p->n_blocks * k / p->n_groups, b1 = p->n_blocks * (k + 1) / p->n_groups;
	float *z = p->scratch + k * scratch_size(p), *g = z + SOFTMAX_BLOCK * p->c;
	double *part = p->parts + k * part_size(p);

	memset(part, 0, (size_t)part_size(p) * sizeof(double));
	for (int64_t blk = b0; blk < b1; blk++) {
		int64_t r0 = blk * SOFTMAX_BLOCK, rows = p->n - r0 < SOFTMAX_BLOCK ? p->n - r0 : SOFTMAX_BLOCK;

		(p->tiles ? block_tiles : block_sgemm)(p, r0, p->x + r0 * p->d, rows, z, g, part);
		for (int64_t j = 0; j < cd; j++)
			part[1 + j] += g[j];
	}
}

static void group_range(void *ctx, int64_t begin, int64_t end)
{
	for (int64_t k = begin; k < end; k++)
		softmax_group(ctx, k);
}

/* The objective at theta = [W (c x d), b (c)], and its gradient. */
static double softmax_objective(void *ctx, const double *theta, double *grad)
{
	struct softmax_problem *p = ctx;
	int64_t cd = (int64_t)p->c * p->d, size = part_size(p);
	const double *w = theta;
	double loss = 0, penalty = 0;
	int blas = xf_nn_blas_threads(1);

	for (int64_t j = 0; j < cd + p->c; j++)
		p->wf[j] = (float)theta[j];
	xf_parallel_for(p->n_groups, p->threads, 1, group_range, p);
	xf_linalg_set_threads(blas);
	for (int64_t j = 0; j < cd; j++) {
		grad[j] = p->o->l2 * w[j];
		penalty += w[j] * w[j];
	}
	memset(grad + cd, 0, (size_t)p->c * sizeof(double));
	for (int64_t k = 0; k < p->n_groups; k++) {
		const double *part = p->parts + k * size;

		loss += part[0];
		for (int64_t j = 0; j < cd + p->c; j++)
			grad[j] += part[1 + j] / (double)p->n;
	}
	return loss / (double)p->n + 0.5 * p->o->l2 * penalty;
}

/* Groups of blocks: SOFTMAX_GROUPS, fewer for few blocks or where the parts and scratch would pass SOFTMAX_GROUPS_BYTES. */
static int64_t groups_for(const struct softmax_problem *p)
{
	int64_t each = part_size(p) * (int64_t)sizeof(double) + scratch_size(p) * (int64_t)sizeof(float);
	int64_t groups = p->n_blocks < SOFTMAX_GROUPS ? p->n_blocks : SOFTMAX_GROUPS;

	if (groups * each > SOFTMAX_GROUPS_BYTES)
		groups = SOFTMAX_GROUPS_BYTES / each;
	return groups > 1 ? groups : 1;
}

int xf_softmax_fit(const float *x, const int64_t *y, int64_t n, int64_t d, int c, const struct xf_softmax_opts *o,
		   double *w, double *b, struct xf_lbfgs_result *res, struct xf_err *err)
{
	int64_t cd = (int64_t)c * d, size = cd + c;
	struct softmax_problem p = { x, y, n, d, c, o, o->threads, xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2 &&
				     c <= SOFTMAX_TILE_MAX_CLASSES && cd <= SOFTMAX_TILE_MAX_WEIGHTS,
				     (n + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK, 0, NULL, NULL, NULL };
	double *theta = NULL;
	int rc;

	if (c > XF_SOFTMAX_MAX_CLASSES || d > INT_MAX || c < 2)
		return xf_err_set(err, XF_E_LIMIT, "softmax: %d classes and %lld features (2 to %d classes, features below 2^31)",
				  c, (long long)d, XF_SOFTMAX_MAX_CLASSES);
	p.n_groups = groups_for(&p);
	p.wf = malloc((size_t)size * sizeof(float));
	p.parts = malloc((size_t)(p.n_groups * part_size(&p)) * sizeof(double));
	p.scratch = malloc((size_t)(p.n_groups * scratch_size(&p)) * sizeof(float));
	theta = calloc((size_t)size, sizeof(double));
	if (!p.wf || !p.parts || !p.scratch || !theta)
		rc = xf_err_nomem(err, (size_t)(p.n_groups * part_size(&p)) * sizeof(double));
	else
		rc = xf_lbfgs(size, theta, softmax_objective, &p, &o->lbfgs, res, err);
	if (rc == 0) {
		memcpy(w, theta, (size_t)cd * sizeof(double));
		memcpy(b, theta + cd, (size_t)c * sizeof(double));
	}
	free(p.wf), free(p.parts), free(p.scratch), free(theta);
	return rc;
}

/* [x 1] as a new n x (d + 1) matrix of doubles. */
static double *with_ones(const float *x, int64_t n, int64_t d)
{
	double *a = malloc((size_t)(n * (d + 1)) * sizeof(double) + 1);

	for (int64_t i = 0; a && i < n; i++) {
		for (int64_t j = 0; j < d; j++)
			a[i * (d + 1) + j] = x[i * d + j];
		a[i * (d + 1) + d] = 1;
	}
	return a;
}

/* Solve (K + lambda I) X = B by Cholesky, K symmetric m x m (destroyed), B m x c (overwritten). */
static int solve_regularised(double *k, int64_t m, double lambda, double *rhs, int c, struct xf_err *err)
{
	for (int64_t i = 0; i < m; i++)
		k[i * m + i] += lambda;
	if (xf_linalg_cholesky(k, m, err) < 0)
		return xf_err_set(err, XF_E_FORMAT, "the ridge system is singular (raise --l2)");
	return xf_linalg_cholesky_solve(k, m, rhs, c, err);
}

int xf_ridge_fit(const float *x, const int64_t *y, int64_t n, int64_t d, int c, double lambda, double *w, double *b,
		 double *lambda_used, struct xf_err *err)
{
	int64_t e = d + 1, m = n < e ? n : e;
	double *a = with_ones(x, n, d), *k = malloc((size_t)(m * m) * sizeof(double) + 1);
	double *rhs = calloc((size_t)(m * c) + 1, sizeof(double)), *wt = calloc((size_t)(e * c) + 1, sizeof(double));
	double trace = 0;
	int rc = a && k && rhs && wt ? 0 : xf_err_nomem(err, 0);

	for (int64_t i = 0; rc == 0 && i < n * e; i++)
		trace += a[i] * a[i];
	*lambda_used = lambda = lambda < 0 ? 1e-6 * trace : lambda;
	if (rc == 0 && n < e) { /* dual: (A A^T + lambda I) alpha = Y, W~ = A^T alpha */
		rc = xf_linalg_gemm(false, true, n, n, e, 1, a, e, a, e, 0, k, n, err);
		for (int64_t i = 0; rc == 0 && i < n; i++)
			rhs[i * c + y[i]] = 1;
		rc = rc ? rc : solve_regularised(k, n, lambda, rhs, c, err);
		rc = rc ? rc : xf_linalg_gemm(true, false, e, c, n, 1, a, e, rhs, c, 0, wt, c, err);
	} else if (rc == 0) { /* primal: (A^T A + lambda I) W~ = A^T Y */
		rc = xf_linalg_gram(n, e, 1, a, e, 0, k, err);
		for (int64_t i = 0; rc == 0 && i < n; i++)
			for (int64_t j = 0; j < e; j++)
				wt[j * c + y[i]] += a[i * e + j];
		rc = rc ? rc : solve_regularised(k, e, lambda, wt, c, err);
	}
	for (int kk = 0; rc == 0 && kk < c; kk++) {
		for (int64_t j = 0; j < d; j++)
			w[kk * d + j] = wt[j * c + kk];
		b[kk] = wt[d * c + kk];
	}
	free(a), free(k), free(rhs), free(wt);
	return rc;
}

double xf_head_accuracy(const float *x, const int64_t *y, int64_t n, int64_t d, int c, const double *w,
			const double *b)
{
	int64_t right = 0;

	for (int64_t i = 0; i < n; i++) {
		int best = 0;
		double top = -INFINITY;

		for (int k = 0; k < c; k++) {
			double z = b[k];

			for (int64_t j = 0; j < d; j++)
				z += w[k * d + j] * x[i * d + j];
			if (z > top)
				top = z, best = k;
		}
		right += best == y[i];
	}
	return n ? (double)right / (double)n : 0;
}
