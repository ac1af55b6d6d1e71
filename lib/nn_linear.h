/*
 * nn_linear: the linear op of the model graph (schemas/stream.md 9.3, torch.nn.Linear) in
 * float32: y = x W^T + b over the last dimension, by single-threaded SGEMMs on blocks of output
 * features shared by our own threads. Not OpenBLAS's threads: after a call they spin waiting
 * for more work, taking the cores from the convolutions that follow; and fixed blocks give the
 * same bits for any thread count. Also the OpenBLAS thread switch that the
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
 * per-sample dimensions but the last (a [B, L, in] input has rows = B L), with `threads` threads
 * (0 or less: all cores); OpenBLAS is set to one thread for the call and restored after.
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
