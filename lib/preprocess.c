/* preprocess: field rows to a graph input's float32 rows; see preprocess.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"

/* torchvision's rgb_to_grayscale weights (ITU-R 601 luma). */
static const float luma[3] = { 0.2989f, 0.587f, 0.114f };

void xf_resize_plane(const float *src, int64_t h, int64_t w, float *dst, int64_t oh, int64_t ow)
{
	for (int64_t y = 0; y < oh; y++) {
		double sy = ((double)y + 0.5) * (double)h / (double)oh - 0.5;
		int64_t y0, y1;
		float ly;

		sy = sy < 0 ? 0 : sy;
		y0 = (int64_t)sy, y1 = y0 + 1 < h ? y0 + 1 : h - 1, ly = (float)(sy - (double)y0);
		for (int64_t x = 0; x < ow; x++) {
			double sx = ((double)x + 0.5) * (double)w / (double)ow - 0.5;
			int64_t x0, x1;
			float lx;

			sx = sx < 0 ? 0 : sx;
			x0 = (int64_t)sx, x1 = x0 + 1 < w ? x0 + 1 : w - 1, lx = (float)(sx - (double)x0);
			dst[y * ow + x] = (1 - ly) * ((1 - lx) * src[y0 * w + x0] + lx * src[y0 * w + x1]) +
					  ly * ((1 - lx) * src[y1 * w + x0] + lx * src[y1 * w + x1]);
		}
	}
}

static int check_norm(const struct xf_prep *p, int64_t channels, const struct xf_graph_input *in, struct xf_err *err)
{
	int n[2] = { p->n_mean, p->n_std };

	for (int k = 0; k < 2; k++)
		if (n[k] > 1 && n[k] != channels)
			return xf_err_set(err, XF_E_USAGE, "--%s has %d values; input '%s' has %lld channel%s",
					  k ? "std" : "mean", n[k], in->name, (long long)channels, channels == 1 ? "" : "s");
	for (int k = 0; k < p->n_std; k++)
		if (!(p->std[k] > 0) || !isfinite(p->std[k]))
			return xf_err_set(err, XF_E_USAGE, "--std: values must be positive");
	return 0;
}

/* The hint that would make the field fit: "--rgb and --size 32x32". */
static void hint(const struct xf_prep *p, const struct xf_graph_input *in, char *buf, size_t size)
{
	int rgb = p->src_c == 1 && in->shape[0] == 3, gray = p->src_c == 3 && in->shape[0] == 1;
	int64_t h = p->height ? p->height : p->src_h, w = p->height ? p->width : p->src_w;
	int resize = h != in->shape[1] || w != in->shape[2];

	snprintf(buf, size, " (use %s%s%s%.0lld%s%.0lld)", rgb ? "--rgb" : gray ? "--gray" : "",
		 (rgb || gray) && resize ? " and " : "", resize ? "--size " : "", resize ? (long long)in->shape[1] : 0,
		 resize ? "x" : "", resize ? (long long)in->shape[2] : 0);
	if (!rgb && !gray && !resize)
		buf[0] = 0;
}

static int bind_image(struct xf_prep *p, const struct xf_field *f, const struct xf_graph_input *in, struct xf_err *err)
{
	int64_t c = in->shape[0], h = p->height ? p->height : f->shape[f->ndim - 2];
	int64_t w = p->height ? p->width : f->shape[f->ndim - 1];
	bool channels_ok;
	char shape[2][96], why[64];

	p->image = 1;
	p->dst_c = c, p->dst_h = in->shape[1], p->dst_w = in->shape[2];
	p->src_c = f->ndim == 3 ? f->shape[0] : 1, p->src_h = f->shape[f->ndim - 2], p->src_w = f->shape[f->ndim - 1];
	channels_ok = p->src_c == c || (p->src_c == 1 && c == 3 && p->color == XF_COLOR_RGB) ||
		      (p->src_c == 3 && c == 1 && p->color == XF_COLOR_GRAY);
	if (!channels_ok || h != in->shape[1] || w != in->shape[2]) {
		hint(p, in, why, sizeof(why));
		return xf_err_set(err, XF_E_FORMAT, "input '%s' is %s; field '%s' rows are %s%s", in->name,
				  xf_shape_str(in->ndim, in->shape, shape[0], sizeof(shape[0])), f->name,
				  xf_shape_str(f->ndim, f->shape, shape[1], sizeof(shape[1])), why);
	}
	return check_norm(p, c, in, err);
}

int xf_prep_bind(struct xf_prep *p, const struct xf_field *f, const struct xf_graph_input *in, struct xf_err *err)
{
	char shape[2][96];

	if (f->dtype == XF_DTYPE_STR)
		return xf_err_set(err, XF_E_FORMAT, "field '%s' holds strings; input '%s' takes numbers", f->name, in->name);
	p->count = xf_shape_count(in->ndim, in->shape);
	p->scale = f->dtype == XF_DTYPE_U8 ? 1.0 / 255 : 1;
	if (in->ndim == 3 && (f->ndim == 3 || f->ndim == 2))
		return bind_image(p, f, in, err);
	if (p->color != XF_COLOR_KEEP || p->height)
		return xf_err_set(err, XF_E_USAGE, "--gray, --rgb and --size are for image inputs [C, H, W]; input '%s' is %s",
				  in->name, xf_shape_str(in->ndim, in->shape, shape[0], sizeof(shape[0])));
	if (xf_shape_count(f->ndim, f->shape) != p->count)
		return xf_err_set(err, XF_E_FORMAT, "input '%s' is %s; field '%s' rows are %s", in->name,
				  xf_shape_str(in->ndim, in->shape, shape[0], sizeof(shape[0])), f->name,
				  xf_shape_str(f->ndim, f->shape, shape[1], sizeof(shape[1])));
	return check_norm(p, 1, in, err);
}

/* One image row: channels converted at the source size into plane, then resized into out. */
static void image_row(const struct xf_prep *p, const float *src, float *plane, float *out)
{
	int64_t hw = p->src_h * p->src_w, c_out = p->dst_c, h = p->dst_h, w = p->dst_w;

	for (int64_t c = 0; c < c_out; c++) {
		const float *from = src + (p->src_c == c_out ? c : 0) * hw;

		if (p->src_c == 3 && c_out == 1) {
			for (int64_t i = 0; i < hw; i++)
				plane[i] = luma[0] * src[i] + luma[1] * src[hw + i] + luma[2] * src[2 * hw + i];
			from = plane;
		}
		if (h == p->src_h && w == p->src_w)
			memcpy(out + c * h * w, from, (size_t)hw * sizeof(float));
		else
			xf_resize_plane(from, p->src_h, p->src_w, out + c * h * w, h, w);
	}
}

/* Scale, normalise and check one row of `count` floats in `channels` equal parts. */
static int finish_row(const struct xf_prep *p, float *row, int64_t channels, int64_t row_number, struct xf_err *err)
{
	int64_t per = p->count / channels;

	for (int64_t c = 0; c < channels; c++) {
		double mean = p->n_mean ? p->mean[p->n_mean > 1 ? c : 0] : 0;
		double std = p->n_std ? p->std[p->n_std > 1 ? c : 0] : 1;
		float a = (float)(p->scale / std), b = (float)(-mean / std);

		for (int64_t i = c * per; i < (c + 1) * per; i++) {
			row[i] = row[i] * a + b;
			if (!isfinite(row[i]))
				return xf_err_set(err, XF_E_FORMAT, "row %lld holds NaN or infinity", (long long)row_number);
		}
	}
	return 0;
}

int xf_prep_rows(const struct xf_prep *p, const struct xf_tensor *col, int64_t begin, int64_t end, int64_t first_row,
		 float *out, struct xf_err *err)
{
	struct xf_tensor view, f32 = XF_TENSOR_INIT;
	int64_t src_count = p->image ? p->src_c * p->src_h * p->src_w : p->count;
	float *plane = NULL;
	int rc = 0;

	xf_tensor_rows(col, begin, end, &view);
	if (xf_tensor_convert(&view, XF_DTYPE_F32, &f32, err) < 0)
		return -1;
	if (p->image && !(plane = malloc((size_t)(p->src_h * p->src_w) * sizeof(float))))
		rc = xf_err_nomem(err, 0);
	for (int64_t i = 0; rc == 0 && i < end - begin; i++) {
		const float *src = (const float *)f32.data + i * src_count;
		float *row = out + i * p->count;

		if (p->image)
			image_row(p, src, plane, row);
		else
			memcpy(row, src, (size_t)p->count * sizeof(float));
		rc = finish_row(p, row, p->image ? p->dst_c : 1, first_row + i, err);
	}
	free(plane);
	xf_tensor_release(&f32);
	return rc;
}
