/*
 * train_kernel: kernel ridge regression (KRR) for xfer-train --model krr, as scikit-learn's
 * KernelRidge fits it: dual coefficients A [n, c] solving (K + alpha I) A = Y, with
 * K_ij = k(x_i, x_j) (graph.h's kernel functions), one-hot targets Y and no intercept;
 * predictions f(x) = sum_i A_i k(x, x_i). The model written is a graph (see xf_krr_build)
 * that xfer-embed runs: the kernel op against the training rows, then a linear node.
 * Memory: the n x n system in double, 8 n^2 bytes, so n is limited (XF_KRR_MAX_ROWS).
 */
#ifndef XF_TRAIN_KERNEL_H
#define XF_TRAIN_KERNEL_H

#include <stdint.h>

#include "graph.h"
#include "model.h"

#define XF_KRR_MAX_ROWS 16384   /* rows at most: the kernel matrix then takes 2 GiB */

struct xf_krr_opts {
	enum xf_kernel_fn fn;   /* linear, rbf or poly */
	double gamma;           /* rbf, poly: > 0 */
	int64_t degree;         /* poly: >= 1 */
	double coef0;           /* poly */
	double alpha;           /* the ridge penalty, >= 0 */
	int threads;            /* kernel values; 0 or less: all cores (OpenBLAS keeps its own count) */
};

/*
 * 0 when n rows of d features fit the limits, else -1 with err (XF_E_LIMIT) saying how much
 * memory the system would take. Check before allocating anything of size n.
 */
int xf_krr_check(int64_t n, int64_t d, struct xf_err *err);

/*
 * Fit: dual [n, c] receives A for rows x [n, d] (float32, row-major) with labels y in 0..c-1.
 * K is formed in double (one DGEMM, then the kernel function; the RBF distance is
 * ||x_i||^2 + ||x_j||^2 - 2 x_i.x_j clamped at 0, as scikit-learn's euclidean_distances),
 * and the system solved by Cholesky. -1 with err: xf_krr_check's errors; XF_E_FORMAT when
 * K + alpha I is not positive definite (alpha 0 with repeated rows, or a poly kernel with a
 * negative coef0); XF_E_NOMEM.
 */
int xf_krr_fit(const float *x, const int64_t *y, int64_t n, int64_t d, int c, const struct xf_krr_opts *o,
	       double *dual, struct xf_err *err);

/*
 * Accuracy of the fit on its own rows, free of kernel evaluations: K A = Y - alpha A by the
 * system itself (ties go to the lowest class).
 */
double xf_krr_train_accuracy(const int64_t *y, int64_t n, int c, double alpha, const double *dual);

/*
 * The fit as a model in m: graph input "x" of per-row shape (ndim, shape) with d = its
 * product, a "flatten" node when ndim != 1, the kernel node "kernel" (attrs from o, centers
 * "kernel.centers" = x [n, d]) and the linear node "fc" (weight "fc.weight" = A^T [c, n], no
 * bias), whose output, the predictions, is the graph's output. -1 with err (XF_E_NOMEM).
 */
int xf_krr_build(int ndim, const int64_t *shape, const float *x, int64_t n, int c, const struct xf_krr_opts *o,
		 const double *dual, struct xf_model *m, struct xf_err *err);

#endif
