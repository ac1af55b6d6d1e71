/*
 * nn_elementwise: the model graph ops that work element by element or along one axis
 * (schemas/stream.md 9.3, with the semantics of the PyTorch modules of the same names), in
 * float32: relu, tanh, sigmoid, gelu, add, softmax, layernorm, and batchnorm in inference
 * form for when it cannot be folded into a preceding convolution (nn_conv.h).
 *
 * Sizes count elements of the whole batch: for a node of per-sample shape s, n = batch
 * prod(s). Work is split over `threads` workers (0 or less: all cores) only when there is
 * enough of it; each output element is computed the same way whatever the split, so results
 * do not depend on the thread count. Unless stated otherwise y may be x (in place), but
 * must not otherwise overlap it.
 */
#ifndef XF_NN_ELEMENTWISE_H
#define XF_NN_ELEMENTWISE_H

#include <stdbool.h>
#include <stdint.h>

/* y = max(x, 0) (NaN stays NaN). */
void xf_relu_forward(const float *x, int64_t n, float *y, int threads);

/* y = tanh(x). */
void xf_tanh_forward(const float *x, int64_t n, float *y, int threads);

/* y = 1 / (1 + exp(-x)), saturating to 0 and 1 without overflow trouble. */
void xf_sigmoid_forward(const float *x, int64_t n, float *y, int threads);

/*
 * GELU. tanh_approx false: 0.5 x (1 + erf(x / sqrt 2)), computed as 0.5 x erfc(-x / sqrt 2);
 * true: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), computed as x / (1 + exp(-2u)).
 * The rewritten forms are the same functions without the cancellation of 1 + erf and 1 + tanh
 * for negative x, so small outputs keep their relative accuracy.
 */
void xf_gelu_forward(const float *x, int64_t n, bool tanh_approx, float *y, int threads);

/*
 * y = x[0] + x[1] + ... + x[n_inputs - 1], summed left to right in float (as chained torch
 * adds), n elements each; n_inputs >= 1. y may be any of the inputs.
 */
void xf_add_forward(int n_inputs, const float *const *x, int64_t n, float *y, int threads);

/*
 * Softmax along one axis of x viewed as [outer, dim, inner] (for per-sample shape s and axis
 * a: outer = batch prod(s[:a]), dim = s[a], inner = prod(s[a+1:]); see xf_nn_split_axis in
 * nn_shape.h). Stable: the maximum along the axis is subtracted before exp, and the sums
 * are in double. A NaN along the axis makes the whole slice NaN, as in PyTorch.
 */
void xf_softmax_forward(const float *x, int64_t outer, int64_t dim, int64_t inner, float *y, int threads);

/* Layer normalisation over the trailing dimensions (weights borrowed). */
struct xf_layernorm {
	int64_t n;            /* elements normalised together: the product of the last k dims */
	const float *weight;  /* [n] (the last k dims of the input, C order) */
	const float *bias;    /* [n], or NULL for none */
	double eps;           /* added to the variance, > 0 */
};

/*
 * For each of `rows` rows of ln->n elements (rows = batch prod(s[:-k])): mean and biased
 * variance in double (two passes), y = (x - mean) / sqrt(var + eps) weight + bias.
 */
void xf_layernorm_forward(const struct xf_layernorm *ln, const float *x, int64_t rows, float *y, int threads);

/* Inference batch normalisation over dimension 0 of the per-sample shape (weights borrowed). */
struct xf_batchnorm {
	int64_t c;                   /* channels: s[0] */
	const float *weight, *bias;  /* [c] each: gamma and beta */
	const float *mean, *var;     /* [c] each: running_mean and running_var */
	double eps;                  /* added to the variance, > 0 */
};

/* y[0..n) = x[0..n) scale + shift in float (y may be x): batchnorm's per-channel step. */
void xf_scale_shift(const float *x, float *y, int64_t n, float scale, float shift);

/*
 * y = (x - mean) / sqrt(var + eps) weight + bias per channel, for x [batch, c, inner] (inner =
 * prod(s[1:]), 1 for BatchNorm1d on [C]); the per-channel scale and shift are computed in
 * double and applied in float (y = x scale + shift). A channel with var + eps <= 0 gives NaN or
 * infinities, as in PyTorch.
 */
void xf_batchnorm_forward(const struct xf_batchnorm *bn, const float *x, int64_t batch, int64_t inner, float *y,
			  int threads);

#endif
