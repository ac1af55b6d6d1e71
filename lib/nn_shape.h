/*
 * nn_shape: the model graph ops that only move data (schemas/stream.md 9.3), on batched
 * float32 tensors in C order.
 *
 * flatten needs no kernel: a sample of shape s is prod(s) contiguous floats either way, so
 * the output is the input buffer with the per-sample shape [prod(s)].
 * concat along a per-sample axis copies row segments: see xf_concat_forward.
 */
#ifndef XF_NN_SHAPE_H
#define XF_NN_SHAPE_H

#include <stdint.h>

/*
 * View a per-sample shape (ndim dims) as [outer, dim, inner] around `axis` (negative counts
 * from the end; -ndim <= axis < ndim): outer = prod(shape[:axis]), dim = shape[axis],
 * inner = prod(shape[axis+1:]). Multiply outer by the batch for the whole tensor.
 */
void xf_nn_split_axis(int ndim, const int64_t *shape, int axis, int64_t *outer, int64_t *dim, int64_t *inner);

/*
 * Concatenate n_inputs tensors along a per-sample axis. Viewed as 2-D, input k is
 * x[k] [rows, width[k]] and y is [rows, sum of width], where, by xf_nn_split_axis of input
 * k's shape, rows = batch outer (the same for every input) and width[k] = dim inner.
 * Copies row segments in order; y must not overlap any input. Threads as elsewhere (0 or
 * less: all cores), used only when there is enough to copy.
 */
void xf_concat_forward(int n_inputs, const float *const *x, const int64_t *width, int64_t rows, float *y,
		       int threads);

#endif
