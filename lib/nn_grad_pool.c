/*
 * nn_grad_pool: the backward pass of maxpool2d, avgpool2d and global_avgpool (nn_grad.h).
 * Planes (sample, channel) are independent and each is done by one worker in a fixed
 * order, so results do not depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "nn_grad.h"
#include "parallel.h"

#define MIN_PLANE_ELEMS 16384  /* input elements per worker chunk, as nn_pool.c */

/* xf_pool2d_out_size with the forward's messages, which name the op instead of "pool2d". */
static int out_size(const struct xf_pool2d *p, int h, int w, int *oh, int *ow, const char *op, struct xf_err *err)
{
	char msg[sizeof(err->msg)];
	const char *rest;

	if (xf_pool2d_out_size(p, h, w, oh, ow, err) == 0)
		return 0;
	if (!err)
		return -1;
	memcpy(msg, err->msg, sizeof(msg));
	rest = strncmp(msg, "pool2d", 6) ? msg : msg + 6;
	return xf_err_set(err, err->code, "%s%s%s", op, rest == msg ? ": " : "", rest);
}

/* The window's rows or columns [*lo, *hi) that lie inside [0, n), for output index o (as nn_pool.c). */
static void clip(int o, int stride, int pad, int k, int n, int *lo, int *hi)
{
	int start = o * stride - pad;

	*lo = start > 0 ? start : 0;
	*hi = start + k < n ? start + k : n;
}

/* The outputs [*lo, *hi) whose windows cover input index i (rows or columns). */
static void covering(int i, int stride, int pad, int k, int n_out, int *lo, int *hi)
{
	int first = i + pad - k + 1, last = (i + pad) / stride;

	*lo = first <= 0 ? 0 : (first + stride - 1) / stride;
	*hi = last < n_out ? last + 1 : n_out;
}

struct pool_job {
	const struct xf_pool2d *p;
	const float *x, *dy;
	int h, w, oh, ow;
	float *dx;
};

/*
 * The index in x of the window's maximum over rows [y0, y1) and columns [x0, x1): the first
 * in row-major order on ties, the first NaN if there is one (the forward's NaN wins).
 */
static int64_t window_argmax(const float *x, int w, int y0, int y1, int x0, int x1)
{
	int64_t best = (int64_t)y0 * w + x0;

	for (int iy = y0; iy < y1; iy++)
		for (int ix = x0; ix < x1; ix++) {
			int64_t i = (int64_t)iy * w + ix;

			if (isnan(x[i]))
				return i;
			if (x[i] > x[best])
				best = i;
		}
	return best;
}

static void max_plane(const struct pool_job *job, const float *x, const float *dy, float *dx)
{
	const struct xf_pool2d *p = job->p;

	for (int oy = 0; oy < job->oh; oy++) {
		int y0, y1;

		clip(oy, p->stride[0], p->pad[0], p->kh, job->h, &y0, &y1);
		for (int ox = 0; ox < job->ow; ox++) {
			int x0, x1;

			clip(ox, p->stride[1], p->pad[1], p->kw, job->w, &x0, &x1);
			dx[window_argmax(x, job->w, y0, y1, x0, x1)] += dy[(int64_t)oy * job->ow + ox];
		}
	}
}

/* The forward's divisor for output (oy, ox). */
static int avg_divisor(const struct pool_job *job, int oy, int ox)
{
	const struct xf_pool2d *p = job->p;
	int y0, y1, x0, x1;

	if (p->count_include_pad)
		return p->kh * p->kw;
	clip(oy, p->stride[0], p->pad[0], p->kh, job->h, &y0, &y1);
	clip(ox, p->stride[1], p->pad[1], p->kw, job->w, &x0, &x1);
	return (y1 - y0) * (x1 - x0);
}

/*
 * Gathered per input element rather than scattered per window, so that each dx element gets
 * one addition: the sum of dy / divisor over the windows that cover it, in double.
 */
static void avg_plane(const struct pool_job *job, const float *dy, float *dx)
{
	const struct xf_pool2d *p = job->p;

	for (int iy = 0; iy < job->h; iy++) {
		int oy0, oy1;

		covering(iy, p->stride[0], p->pad[0], p->kh, job->oh, &oy0, &oy1);
		for (int ix = 0; ix < job->w; ix++) {
			int ox0, ox1;
			double sum = 0;

			covering(ix, p->stride[1], p->pad[1], p->kw, job->ow, &ox0, &ox1);
			for (int oy = oy0; oy < oy1; oy++)
				for (int ox = ox0; ox < ox1; ox++)
					sum += (double)dy[(int64_t)oy * job->ow + ox] / avg_divisor(job, oy, ox);
			dx[(int64_t)iy * job->w + ix] += (float)sum;
		}
	}
}

/*
 * max_plane for the common 2x2, stride 2, unpadded window (LeNet's, VGG's), where every window
 * lies inside the plane: the same choice (first NaN, else the first maximum in row-major
 * window order) without the general window arithmetic.
 */
static void max_plane_2x2(const struct pool_job *job, const float *x, const float *dy, float *dx)
{
	int64_t w = job->w;

	for (int oy = 0; oy < job->oh; oy++)
		for (int ox = 0; ox < job->ow; ox++) {
			int64_t i = (int64_t)2 * oy * w + 2 * ox, cand[4] = { i, i + 1, i + w, i + w + 1 }, best = i;

			for (int k = 0; k < 4; k++) {
				if (isnan(x[cand[k]])) {
					best = cand[k];
					break;
				}
				if (x[cand[k]] > x[best])
					best = cand[k];
			}
			dx[best] += dy[(int64_t)oy * job->ow + ox];
		}
}

static bool is_2x2(const struct xf_pool2d *p)
{
	return p->kh == 2 && p->kw == 2 && p->stride[0] == 2 && p->stride[1] == 2 && !p->pad[0] && !p->pad[1];
}

static void max_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct pool_job *job = ctx;
	int64_t in = (int64_t)job->h * job->w, out = (int64_t)job->oh * job->ow;

	for (int64_t t = begin; t < end; t++)
		if (is_2x2(job->p))
			max_plane_2x2(job, job->x + t * in, job->dy + t * out, job->dx + t * in);
		else
			max_plane(job, job->x + t * in, job->dy + t * out, job->dx + t * in);
}

static void avg_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct pool_job *job = ctx;
	int64_t in = (int64_t)job->h * job->w, out = (int64_t)job->oh * job->ow;

	for (int64_t t = begin; t < end; t++)
		avg_plane(job, job->dy + t * out, job->dx + t * in);
}

static int64_t planes_per_chunk(int64_t plane)
{
	int64_t n = MIN_PLANE_ELEMS / (plane > 0 ? plane : 1);

	return n > 1 ? n : 1;
}

int xf_maxpool2d_backward(const struct xf_pool2d *p, const float *x, int64_t batch, int c, int h, int w,
			  const float *dy, float *dx, int threads, struct xf_err *err)
{
	struct pool_job job = { p, x, dy, h, w, 0, 0, dx };

	if (out_size(p, h, w, &job.oh, &job.ow, "maxpool2d", err) < 0)
		return -1;
	if (dx)
		xf_parallel_for(batch * c, threads, planes_per_chunk((int64_t)h * w), max_chunk, &job);
	return 0;
}

int xf_avgpool2d_backward(const struct xf_pool2d *p, int64_t batch, int c, int h, int w, const float *dy,
			  float *dx, int threads, struct xf_err *err)
{
	struct pool_job job = { p, NULL, dy, h, w, 0, 0, dx };

	if (out_size(p, h, w, &job.oh, &job.ow, "avgpool2d", err) < 0)
		return -1;
	if (dx)
		xf_parallel_for(batch * c, threads, planes_per_chunk((int64_t)h * w), avg_chunk, &job);
	return 0;
}

struct gap_job {
	const float *dy;
	int64_t hw;
	float *dx;
};

static void gap_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct gap_job *job = ctx;

	for (int64_t t = begin; t < end; t++) {
		float g = (float)((double)job->dy[t] / job->hw), *dx = job->dx + t * job->hw;

		for (int64_t q = 0; q < job->hw; q++)
			dx[q] += g;
	}
}

void xf_global_avgpool_backward(const float *dy, int64_t batch, int64_t c, int64_t hw, float *dx, int threads)
{
	struct gap_job job = { dy, hw, dx };

	if (dx)
		xf_parallel_for(batch * c, threads, planes_per_chunk(hw), gap_chunk, &job);
}
