/*
 * nn_kernel: the kernel op of the model graph (schemas/stream.md 9.3, format version 2) in
 * float32: y[i, j] = k(x_i, c_j) for rows x_i [D] and centers c_j [D], with scikit-learn's
 * pairwise_kernels functions (graph.h, enum xf_kernel_fn). Forward and backward both start
 * from the product G = x C^T, by single-threaded SGEMMs on blocks fixed by the sizes and
 * shared by our own threads (as nn_linear.h, for the same reasons: no spinning OpenBLAS
 * threads, the same bits for any thread count). The RBF distance is expanded as
 * ||x||^2 + ||c||^2 - 2 x.c (norms in double) and clamped at 0 before the exp.
 */
#ifndef XF_NN_KERNEL_H
#define XF_NN_KERNEL_H

#include <stdint.h>

#include "err.h"
#include "graph.h"

/* A kernel node: its function, sizes and centers (borrowed, never freed here). */
struct xf_kernel {
	enum xf_kernel_fn fn;    /* linear, rbf or poly */
	int64_t d;               /* features of x and of each center */
	int64_t m;               /* centers: the output width */
	double gamma;            /* rbf, poly: > 0 */
	int64_t degree;          /* poly: >= 1 */
	double coef0;            /* poly */
	const float *centers;    /* [m, d] */
	const double *center_sq; /* rbf: [m] ||c_j||^2 (xf_kernel_center_sq), or NULL: computed per call */
};

/* sq[j] = ||c_j||^2 in double, for struct xf_kernel's center_sq. */
void xf_kernel_center_sq(const float *centers, int64_t m, int64_t d, double *sq);

/*
 * y [rows, m] = k(x_i, c_j) for x [rows, d], with `threads` threads (0 or less: all cores);
 * OpenBLAS is set to one thread for the call and restored after. y must not overlap x.
 * -1 with err: XF_E_USAGE for sizes below 1 (rows may be 0), XF_E_LIMIT for d or m beyond the
 * BLAS integer type, XF_E_NOMEM (rbf: 8 bytes per row, and per center without center_sq).
 */
int xf_kernel_forward(const struct xf_kernel *k, const float *x, int64_t rows, float *y, int threads,
		      struct xf_err *err);

/*
 * The backward of xf_kernel_forward (same k, x and rows) under the conventions of nn_grad.h
 * (accumulated, NULL for not wanted, parameter gradients summed over the rows):
 * dx [rows, d] += sum_j dy_ij dk/dx_i and dcenters [m, d] += sum_i dy_ij dk/dc_j, where
 *   linear: dk/dx = c,  dk/dc = x;
 *   poly:   dk/dx = degree gamma (gamma x.c + coef0)^(degree - 1) c, and symmetrically;
 *   rbf:    dk/dx = -2 gamma k(x, c) (x - c) = -dk/dc.
 * Recomputes x C^T (poly, rbf) rather than keeping the forward's output. -1 with err as the
 * forward, or XF_E_NOMEM (rows x m floats of scratch, unless linear).
 */
int xf_kernel_backward(const struct xf_kernel *k, const float *x, const float *dy, int64_t rows, float *dx,
		       float *dcenters, int threads, struct xf_err *err);

#endif
