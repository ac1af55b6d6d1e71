/*
 * nn_conv: the conv2d op of the model graph (schemas/stream.md 9.3, torch.nn.Conv2d) in
 * float32 on batched NCHW data, plus folding an inference batchnorm into the convolution.
 *
 *	struct xf_conv2d c = { .in_c = 64, .out_c = 64, .kh = 3, .kw = 3, .stride = { 1, 1 },
 *			       .pad = { 1, 1 }, .dilation = { 1, 1 }, .groups = 1, .weight = w, .bias = b };
 *	if (xf_conv2d_out_size(&c, h, w, &oh, &ow, &err) < 0) return -1;
 *	scratch = malloc(xf_conv2d_scratch_size(&c, h, w, batch, threads) * sizeof(float));
 *	if (xf_conv2d_forward(&c, x, batch, h, w, y, scratch, threads, &err) < 0) ...
 *
 * Method: im2col + GEMM. The input patches of a work item are unrolled into a column
 * matrix col [in_c kh kw, columns] (row (ch, i, j), column (sample, oy, ox)), and group g's
 * output channels are W_g [out_c / groups, in_c / groups kh kw] times its slice of rows.
 * A work item has about XF_CONV2D_COLS columns, so that col stays in cache for the GEMM:
 * a tile of output rows of one sample, written straight into y, or several whole samples
 * when they are small (deep layers), scattered into NCHW after. A 1x1, stride-1, unpadded
 * convolution tile reads x as its own column matrix. The GEMM is nn_gemm.h's AVX2 kernel
 * (weights packed once per call, or once for all with xf_conv2d_pack; bias fused) when the
 * CPU has AVX2 and FMA, else OpenBLAS SGEMM. Convolutions with one output channel per group
 * (depthwise) run direct loops instead.
 *
 * With the AVX2 kernel, 3x3 convolutions of stride 1, dilation 1, one group, padding up to 2
 * and at least 8 input channels (xf_winograd_applies) run Winograd's F(2x2, 3x3) instead,
 * nn_winograd.h, with the same API: xf_conv2d_packed_size, xf_conv2d_pack and
 * xf_conv2d_scratch_size then give its transformed weights and its scratch. It does 2.25
 * times fewer multiplications, and rounds differently from im2col (about 1e-6 relative to
 * the largest output). xf_winograd_set_enabled(false) turns it off, e.g. to compare.
 *
 * Threads: work items are shared by `threads` workers (0 or less: all cores), each with
 * its own slice of scratch. With SGEMM, fewer than two items per thread (batch 1 on small
 * images) run one at a time with OpenBLAS using `threads` threads; OpenBLAS's thread count
 * is changed for the call and restored after, so do not call BLAS concurrently from other
 * threads meanwhile. The work items do not depend on `threads`, so neither do the results
 * (bit for bit with the AVX2 kernel; with SGEMM as far as OpenBLAS's threads keep to that).
 *
 * The backward kernels will live beside these and reuse the same column layout.
 */
#ifndef XF_NN_CONV_H
#define XF_NN_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define XF_CONV2D_COLS 256  /* GEMM columns (samples x output pixels) per work item, about */

/* A convolution: its geometry and weights (borrowed, never freed here). */
struct xf_conv2d {
	int in_c;             /* input channels C */
	int out_c;            /* output channels */
	int kh, kw;           /* kernel height and width: the weight's last two dimensions */
	int stride[2];        /* [h, w], >= 1 */
	int pad[2];           /* zeros added on each side, [h, w], >= 0 */
	int dilation[2];      /* [h, w], >= 1 */
	int groups;           /* >= 1, divides in_c and out_c */
	const float *weight;  /* [out_c, in_c / groups, kh, kw] (PyTorch layout) */
	const float *bias;    /* [out_c], or NULL for none */
	const float *packed;  /* weight as xf_conv2d_pack left it, or NULL to pack per call */
};

/*
 * Check c's geometry: every size in range and groups dividing both channel counts.
 * 0, or -1 with err (XF_E_USAGE) saying which rule fails.
 */
int xf_conv2d_check(const struct xf_conv2d *c, struct xf_err *err);

/*
 * Output size for an h x w input by the window arithmetic of schemas/stream.md 9.3:
 * oh = floor((h + 2 pad - dilation (k - 1) - 1) / stride) + 1. Checks c (xf_conv2d_check)
 * and that the window fits the padded input; -1 with err (XF_E_USAGE) otherwise, e.g.
 *   conv2d: the 5x5 window (dilation 1x1) does not fit the 3x8 input padded by 0x0
 */
int xf_conv2d_out_size(const struct xf_conv2d *c, int h, int w, int *oh, int *ow, struct xf_err *err);

/*
 * Floats that xf_conv2d_pack writes for c's weight: 0 when the kernel in effect
 * (nn_gemm.h) does not pack, or for depthwise convolutions.
 */
size_t xf_conv2d_packed_size(const struct xf_conv2d *c);

/*
 * Pack c->weight for the kernel in effect into `packed` (xf_conv2d_packed_size floats), so
 * that a model run many times packs once: set c->packed to it afterwards. Repack if the
 * weight changes, the kernel is switched with xf_nn_set_kernel or Winograd with
 * xf_winograd_set_enabled.
 */
void xf_conv2d_pack(const struct xf_conv2d *c, float *packed);

/*
 * Floats of scratch that xf_conv2d_forward needs for `batch` samples of h x w with the same
 * `threads` (and c->packed, NULL or not); may be 0. Only meaningful when
 * xf_conv2d_out_size succeeds (0 otherwise).
 */
size_t xf_conv2d_scratch_size(const struct xf_conv2d *c, int h, int w, int64_t batch, int threads);

/*
 * y [batch, out_c, oh, ow] = conv(x [batch, in_c, h, w]) + bias, cross-correlation with zero
 * padding as torch.nn.Conv2d. scratch holds xf_conv2d_scratch_size(c, h, w, batch, threads)
 * floats (NULL when that is 0); y must not overlap x or scratch. 0 on success; -1 with err
 * for a bad geometry (as xf_conv2d_out_size) or XF_E_LIMIT for sizes beyond BLAS integers.
 */
int xf_conv2d_forward(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w, float *y,
		      float *scratch, int threads, struct xf_err *err);

/*
 * Fold an inference batchnorm that follows convolution c into new weights: with
 * s = gamma / sqrt(var + eps) per output channel, weight' = weight s and
 * bias' = (bias - mean) s + beta (bias 0 when c->bias is NULL), computed in double and
 * rounded once. gamma, beta, mean and var have out_c entries; weight_out has as many
 * floats as c->weight and bias_out out_c; they may be c->weight and c->bias themselves.
 * -1 with err: XF_E_USAGE for a bad c, XF_E_FORMAT naming the channel whose var + eps is
 * not positive or whose scale is not finite.
 */
int xf_conv2d_fold_batchnorm(const struct xf_conv2d *c, const float *gamma, const float *beta, const float *mean,
			     const float *var, double eps, float *weight_out, float *bias_out, struct xf_err *err);

#endif
