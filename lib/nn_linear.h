/*
 * nn_linear: the linear op of the model graph (schemas/stream.md 9.3, torch.nn.Linear) in
 * float32: y = x W^T + b over the last dimension, through one SGEMM per call (rows beyond
 * the BLAS integer range are done in slices). Also the OpenBLAS thread switch that the
 * GEMM-based kernels (nn_conv.c) share.
 */
#ifndef XF_NN_LINEAR_H
#define XF_NN_LINEAR_H

#include <stdint.h>

#include "err.h"

/* A linear layer: sizes and weights (borrowed, never freed here). */
struct xf_linear {
	int64_t in;           /* input features: the last dimension of x */
	int64_t out;          /* output features */
	const float *weight;  /* [out, in] (PyTorch layout) */
	const float *bias;    /* [out], or NULL for none */
};

/*
 * y [rows, out] = x [rows, in] W^T + b, where rows is the batch times the product of all
 * per-sample dimensions but the last (a [B, L, in] input has rows = B L). OpenBLAS runs with
 * `threads` threads (0 or less: all cores) for the call and its setting is restored after.
 * y must not overlap x. 0, or -1 with err: XF_E_USAGE for sizes below 1, XF_E_LIMIT for in
 * or out beyond the BLAS integer type.
 */
int xf_linear_forward(const struct xf_linear *l, const float *x, int64_t rows, float *y, int threads,
		      struct xf_err *err);

/*
 * Set OpenBLAS's thread count to `threads` (0 or less: all cores) and return the previous
 * count, to be restored with xf_linalg_set_threads. Not thread-safe: OpenBLAS's count is global.
 */
int xf_nn_blas_threads(int threads);

#endif
