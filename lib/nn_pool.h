/*
 * nn_pool: the pooling ops of the model graph (schemas/stream.md 9.3): maxpool2d, avgpool2d
 * (torch.nn.MaxPool2d, AvgPool2d in floor mode) and global_avgpool, in float32 on batched
 * NCHW data. Every plane (sample, channel) is independent, so the planes are shared by
 * `threads` workers (0 or less: all cores); results do not depend on the thread count.
 */
#ifndef XF_NN_POOL_H
#define XF_NN_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* A pooling window. The graph's default stride is the kernel; callers fill it in. */
struct xf_pool2d {
	int kh, kw;              /* window height and width, >= 1 */
	int stride[2];           /* [h, w], >= 1 */
	int pad[2];              /* [h, w], >= 0 and at most half the window (2 pad <= k) */
	bool count_include_pad;  /* avgpool2d: divide by kh kw (true) or by the window's real elements */
};

/*
 * Output size for an h x w input: oh = floor((h + 2 pad - k) / stride) + 1 (floor mode).
 * -1 with err (XF_E_USAGE; the message starts with "pool2d", or the op name in the
 * forward functions) for a bad window, padding above half the window, or a window
 * that does not fit the padded input, e.g.
 *   maxpool2d: the 3x3 window does not fit the 2x2 input padded by 0x0
 */
int xf_pool2d_out_size(const struct xf_pool2d *p, int h, int w, int *oh, int *ow, struct xf_err *err);

/*
 * y [batch, c, oh, ow] = the maximum of each window of x [batch, c, h, w]; padding counts as
 * -infinity (every window holds at least one real element), and a NaN in a window wins, as
 * in PyTorch. -1 with err as xf_pool2d_out_size. y must not overlap x.
 */
int xf_maxpool2d_forward(const struct xf_pool2d *p, const float *x, int64_t batch, int c, int h, int w, float *y,
			 int threads, struct xf_err *err);

/*
 * y = the mean of each window (sums in double); the divisor is kh kw when
 * p->count_include_pad, else the number of window elements inside the input. -1 with err
 * as xf_pool2d_out_size. y must not overlap x.
 */
int xf_avgpool2d_forward(const struct xf_pool2d *p, const float *x, int64_t batch, int c, int h, int w, float *y,
			 int threads, struct xf_err *err);

/* y [batch, c] = the mean over each plane of hw elements of x [batch, c, hw] (sums in double). */
void xf_global_avgpool_forward(const float *x, int64_t batch, int64_t c, int64_t hw, float *y, int threads);

#endif
