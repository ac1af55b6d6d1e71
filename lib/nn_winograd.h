/*
 * nn_winograd: 3x3, stride-1 convolutions by Winograd's F(2x2, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016), used by nn_conv.c in place of im2col
 * + GEMM where it applies; callers normally go through xf_conv2d_* and never call this.
 *
 * Every 2x2 block of outputs (a tile) comes from the 4x4 input patch d around it as
 * Y = A^T [U . V] A, with V = B^T d B per input channel and U = G g G^T per (output, input)
 * pair of 3x3 kernels g, summed over input channels. Seen per transform point xi (16 of
 * them), the sum over channels is a GEMM, M[xi] [out_c, tiles] = U[xi] [out_c, in_c]
 * V[xi] [in_c, tiles]: 16 GEMMs of nn_gemm.h's kernel that do 16 multiply-adds per tile and
 * channel pair where im2col does 36, at the price of the transforms around them (which is
 * why nn_conv.c leaves convolutions with few input channels to im2col).
 *
 * The weights are transformed once (xf_winograd_pack; per call when c->packed is NULL) into
 * the 16 U[xi], each packed with xf_nn_gemm_pack. A work item is a run of consecutive tiles
 * of the batch (sample, tile row, tile column), sized by the channel counts so that its V
 * and M stay in L2 (or, for deep layers where they cannot, so that each pass over U serves
 * many tiles): gather and transform the patches, run the GEMMs, transform back into y (only
 * the valid outputs of edge tiles). The transforms work on 8 tiles at a time, side by side
 * in a tile row, or gathered from several rows and samples when the image is narrower than
 * 8 tiles. The items depend on the geometry and the batch, never on `threads`, so the
 * results are the same bit for bit for any thread count. The transforms round in float32:
 * about 1e-6 relative to the largest output.
 */
#ifndef XF_NN_WINOGRAD_H
#define XF_NN_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "nn_conv.h"

/*
 * Whether xf_winograd_forward can compute convolutions of c's geometry: kernel 3x3, stride
 * 1x1, dilation 1x1, one group, padding 0 to 2 on each side, with the AVX2 kernel in
 * effect (nn_gemm.h); any channel counts.
 */
bool xf_winograd_supports(const struct xf_conv2d *c);

/*
 * Whether nn_conv.c runs c here: it is supported, pays (at least 8 input channels; with
 * fewer, im2col is faster) and Winograd is not switched off with xf_winograd_set_enabled.
 */
bool xf_winograd_applies(const struct xf_conv2d *c);

/*
 * Switch Winograd on (the default) or off, process-wide, e.g. to compare it with im2col in
 * tests and benchmarks. Returns the previous setting. Not thread-safe: set it before
 * running convolutions, and repack weights packed under the other setting.
 */
bool xf_winograd_set_enabled(bool on);

/* Floats that xf_winograd_pack writes: 16 xf_nn_gemm_packed_size(out_c, in_c). */
size_t xf_winograd_packed_size(const struct xf_conv2d *c);

/* The 16 transformed weight matrices U[xi] of c->weight, packed, into `packed`. */
void xf_winograd_pack(const struct xf_conv2d *c, float *packed);

/*
 * Floats of scratch that xf_winograd_forward needs for `batch` samples of h x w with the
 * same `threads` and c->packed (NULL or not); 0 for a bad geometry.
 */
size_t xf_winograd_scratch_size(const struct xf_conv2d *c, int h, int w, int64_t batch, int threads);

/*
 * y [batch, out_c, oh, ow] = conv(x [batch, in_c, h, w]) + bias, as xf_conv2d_forward, for a
 * c that xf_winograd_supports, with c->packed NULL or from xf_winograd_pack. scratch holds
 * xf_winograd_scratch_size floats; threads <= 0 means all cores. 0, or -1 with err for a
 * bad geometry (as xf_conv2d_out_size).
 */
int xf_winograd_forward(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w, float *y,
			float *scratch, int threads, struct xf_err *err);

#endif
