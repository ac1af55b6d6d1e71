/*
 * preprocess: samples as a model's input wants them. Rows of a numeric field become float32
 * rows of a graph input's shape: uint8 values scaled to [0, 1] (v / 255, as torchvision's
 * ToTensor), and for image inputs [C, H, W] (fields [C', H', W'] or [H', W']) gray/RGB
 * conversion, bilinear resizing and per-channel normalisation, in that order.
 *
 *	struct xf_prep p = XF_PREP_INIT;
 *	p.color = XF_COLOR_RGB; p.height = p.width = 32; p.n_mean = 3; ...
 *	if (xf_prep_bind(&p, field, input, &err) < 0) return -1;   (field and input checked)
 *	if (xf_prep_rows(&p, &column, begin, end, out, &err) < 0) ...  (end - begin rows into out)
 */
#ifndef XF_PREPROCESS_H
#define XF_PREPROCESS_H

#include <stdint.h>

#include "graph.h"
#include "header.h"

#define XF_PREP_MAX_CHANNELS 16   /* entries of --mean and --std */

enum xf_color { XF_COLOR_KEEP, XF_COLOR_GRAY, XF_COLOR_RGB };

struct xf_prep {
	/* Asked for (before xf_prep_bind): */
	enum xf_color color;            /* channel conversion allowed: 3 -> 1 (luma) or 1 -> 3 (copies) */
	int height, width;              /* resize to this (0: keep; must then match the input) */
	int n_mean, n_std;              /* 0, 1 (every channel) or C entries */
	double mean[XF_PREP_MAX_CHANNELS], std[XF_PREP_MAX_CHANNELS];
	/* Worked out by xf_prep_bind: */
	int image;                      /* 1 when the input is [C, H, W] */
	int64_t src_c, src_h, src_w;    /* the field's image geometry */
	int64_t dst_c, dst_h, dst_w;    /* the input's */
	int64_t count;                  /* floats per row of the input */
	double scale;                   /* 1/255 for uint8 fields, else 1 */
};

#define XF_PREP_INIT { XF_COLOR_KEEP, 0, 0, 0, 0, { 0 }, { 0 }, 0, 0, 0, 0, 0, 0, 0, 0, 1 }

/*
 * Check that field f can feed graph input `in` with p's settings and work out the
 * conversion. -1 with err (XF_E_FORMAT) saying what does not fit and what would, e.g.
 *   input 'x' is [3, 32, 32]; field 'x' rows are [1, 28, 28] (use --rgb and --size 32x32)
 * or XF_E_USAGE for settings that do not apply (--mean with 3 values for 1 channel).
 */
int xf_prep_bind(struct xf_prep *p, const struct xf_field *f, const struct xf_graph_input *in, struct xf_err *err);

/*
 * Rows [begin, end) of column col (the bound field's, [n, field shape]) into out, (end - begin)
 * rows of p->count floats. -1 with err (XF_E_FORMAT) for a NaN or infinity, naming the row
 * (counted from `begin`'s row number first_row), or XF_E_NOMEM.
 */
int xf_prep_rows(const struct xf_prep *p, const struct xf_tensor *col, int64_t begin, int64_t end, int64_t first_row,
		 float *out, struct xf_err *err);

/*
 * Bilinear resize of one float32 plane src [h, w] into dst [oh, ow] by the convention of
 * torch.nn.functional.interpolate(mode="bilinear", align_corners=False) (see image.h).
 */
void xf_resize_plane(const float *src, int64_t h, int64_t w, float *dst, int64_t oh, int64_t ow);

#endif
