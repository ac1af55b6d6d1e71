/*
 * nn_grad: the backward pass of the model graph ops other than conv2d (nn_conv_grad.h) and
 * kernel (nn_kernel.h), for training (xfer-train), beside their forward kernels
 * (nn_elementwise.h, nn_pool.h, nn_linear.h, nn_shape.h); and batchnorm's training-mode
 * forward, which normalises with the batch's own statistics.
 *
 * Conventions, for every function here:
 *  - Shapes and sizes are those of the matching forward call; x is the forward's input, y its
 *    output (when the gradient is cheaper from y), dy the gradient of the loss with respect to
 *    y, all float32, batched, C order.
 *  - Gradients are ACCUMULATED: dx += ..., dweight += ..., dbias += ...; the caller zeroes them
 *    first. So a value read by several nodes, or a weight tied between nodes, sums its parts.
 *    Any of dx, dweight, dbias may be NULL: that gradient is not wanted (frozen weights, graph
 *    inputs). dx never overlaps x, y or dy.
 *  - Parameter gradients are sums over the batch (not means): the loss's own 1/batch is in dy.
 *  - Sums that run over the batch are done in double in an order that does not depend on
 *    `threads` (0 or less: all cores), so results are the same bits for any thread count.
 */
#ifndef XF_NN_GRAD_H
#define XF_NN_GRAD_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "nn_elementwise.h"
#include "nn_linear.h"
#include "nn_pool.h"

/* relu: dx += dy where x > 0 (0 at x = 0, as torch). */
void xf_relu_backward(const float *x, const float *dy, int64_t n, float *dx, int threads);
/* tanh: dx += dy (1 - y^2), from the forward's output y. */
void xf_tanh_backward(const float *y, const float *dy, int64_t n, float *dx, int threads);
/* sigmoid: dx += dy y (1 - y). */
void xf_sigmoid_backward(const float *y, const float *dy, int64_t n, float *dx, int threads);
/* gelu, exact (erf) or tanh form as xf_gelu_forward: dx += dy gelu'(x). */
void xf_gelu_backward(const float *x, const float *dy, int64_t n, bool tanh_approx, float *dx, int threads);
/* softmax along [outer, dim, inner] (xf_softmax_forward): dx += y (dy - sum_dim(dy y)). */
void xf_softmax_backward(const float *y, const float *dy, int64_t outer, int64_t dim, int64_t inner, float *dx,
			 int threads);
/*
 * layernorm (xf_layernorm_forward, same ln and rows): dx, and dweight/dbias [ln->n] summed over
 * the rows. Recomputes each row's mean and variance from x.
 */
void xf_layernorm_backward(const struct xf_layernorm *ln, const float *x, const float *dy, int64_t rows, float *dx,
			   float *dweight, float *dbias, int threads);

/*
 * Batch normalisation in training mode, over [batch, c, inner]: per channel, the mean and the
 * biased variance over batch x inner values (in double), y = (x - mean) / sqrt(var + eps)
 * weight + bias; saves mean and invstd = 1 / sqrt(var + eps) ([c] each, for the backward),
 * and updates running_mean and running_var in place as torch.nn.BatchNorm does:
 * r = (1 - momentum) r + momentum s, with the UNBIASED variance for running_var (n / (n - 1)
 * times the biased one; with n = batch inner = 1 the running variance is left unchanged).
 * bn->mean and bn->var are the running statistics here (not const in effect: cast away).
 * The function writes running_mean and running_var (normally bn->mean and bn->var), and
 * does not read bn->mean or bn->var; any of running_mean, running_var, save_mean and
 * save_invstd may be NULL (not wanted). y may be x.
 */
void xf_batchnorm_train_forward(const struct xf_batchnorm *bn, double momentum, const float *x, int64_t batch,
				int64_t inner, float *y, float *running_mean, float *running_var, float *save_mean,
				float *save_invstd, int threads);
/* Its backward, from the saved statistics: dx, dweight (gamma) and dbias (beta) [c]. */
void xf_batchnorm_train_backward(const struct xf_batchnorm *bn, const float *x, const float *dy, int64_t batch,
				 int64_t inner, const float *save_mean, const float *save_invstd, float *dx,
				 float *dweight, float *dbias, int threads);

/*
 * maxpool2d: dx += dy routed to each window's maximum (the first one in row-major window
 * order on ties, padding never chosen), recomputed from x. Overlapping windows add up.
 * -1 with err as the forward for a bad window.
 */
int xf_maxpool2d_backward(const struct xf_pool2d *p, const float *x, int64_t batch, int c, int h, int w,
			  const float *dy, float *dx, int threads, struct xf_err *err);
/* avgpool2d: dx += dy / divisor over each window's real elements (divisor as the forward). */
int xf_avgpool2d_backward(const struct xf_pool2d *p, int64_t batch, int c, int h, int w, const float *dy,
			  float *dx, int threads, struct xf_err *err);
/* global_avgpool: dx[b, c, i] += dy[b, c] / hw. */
void xf_global_avgpool_backward(const float *dy, int64_t batch, int64_t c, int64_t hw, float *dx, int threads);

/*
 * linear (xf_linear_forward, same l and rows): dx [rows, in] += dy W; dweight [out, in] +=
 * dy^T x; dbias [out] += column sums of dy (in double). Through single-threaded SGEMMs on
 * blocks fixed by the sizes, shared by `threads` workers (OpenBLAS is set to one thread and
 * restored after), so that no result depends on the thread count; dweight sums the rows in
 * float within chunks of 1024 (in the SGEMM), and the chunks in double. -1 with err as the
 * forward, or XF_E_NOMEM (dweight over more than 1024 rows takes 768 KB of scratch per worker).
 */
int xf_linear_backward(const struct xf_linear *l, const float *x, const float *dy, int64_t rows, float *dx,
		       float *dweight, float *dbias, int threads, struct xf_err *err);

/* concat (xf_concat_forward, same widths and rows): each dx[k] (may be NULL) += its slice of dy. */
void xf_concat_backward(int n_inputs, float *const *dx, const int64_t *width, int64_t rows, const float *dy,
			int threads);

#endif
