/*
 * nn_conv_grad: the backward pass of conv2d (nn_conv.h) for training: the gradients with
 * respect to the input, the weight and the bias, by the transposed products of the forward's
 * im2col + GEMM: dW_g += dY_g col_g^T and col_grad = W_g^T dY_g scattered back (col2im).
 *
 * Conventions as nn_grad.h: gradients ACCUMULATE (dx += ..., dweight += ..., dbias += ...),
 * any of them may be NULL when not wanted; dweight and dbias are sums over the batch,
 * computed so that the result does not depend on `threads` (fixed chunks of samples, each
 * with its own partial sums, added in chunk order).
 *
 *	scratch = malloc(xf_conv2d_backward_scratch_size(&c, h, w, batch, threads) * sizeof(float));
 *	xf_conv2d_backward(&c, x, batch, h, w, dy, dx, dweight, dbias, scratch, threads, &err);
 */
#ifndef XF_NN_CONV_GRAD_H
#define XF_NN_CONV_GRAD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "nn_conv.h"

/* Floats of scratch for xf_conv2d_backward with these sizes (0 for a bad geometry). */
size_t xf_conv2d_backward_scratch_size(const struct xf_conv2d *c, int h, int w, int64_t batch, int threads);

/*
 * Given x [batch, in_c, h, w] and dy [batch, out_c, oh, ow] (oh, ow from xf_conv2d_out_size),
 * accumulate dx [batch, in_c, h, w], dweight [out_c, in_c / groups, kh, kw] and dbias
 * [out_c]. c->weight is read (for dx); c->packed is ignored. -1 with err as
 * xf_conv2d_forward for a bad geometry or sizes beyond BLAS integers.
 */
int xf_conv2d_backward(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w, const float *dy,
		       float *dx, float *dweight, float *dbias, float *scratch, int threads, struct xf_err *err);

#endif
