/* nn_pool: max, average and global average pooling; see nn_pool.h. */
#include <math.h>

#include "nn_pool.h"
#include "parallel.h"

#define AVG_COLS 256           /* output columns whose sums avgpool2d keeps at a time */
#define MIN_PLANE_ELEMS 16384  /* input elements per worker chunk: below that a thread costs more than it saves */

/* xf_pool2d_out_size with messages that start with `op`. */
static int out_size(const struct xf_pool2d *p, int h, int w, int *oh, int *ow, const char *op, struct xf_err *err)
{
	if (p->kh < 1 || p->kw < 1 || p->stride[0] < 1 || p->stride[1] < 1)
		return xf_err_set(err, XF_E_USAGE, "%s: kernel %dx%d and stride %dx%d must be >= 1", op, p->kh, p->kw,
				  p->stride[0], p->stride[1]);
	if (p->pad[0] < 0 || p->pad[1] < 0 || 2 * p->pad[0] > p->kh || 2 * p->pad[1] > p->kw)
		return xf_err_set(err, XF_E_USAGE, "%s: padding %dx%d must be from 0 to half the %dx%d kernel",
				  op, p->pad[0], p->pad[1], p->kh, p->kw);
	if (h < 1 || w < 1)
		return xf_err_set(err, XF_E_USAGE, "%s: input %dx%d is empty", op, h, w);
	if ((int64_t)h + 2 * p->pad[0] < p->kh || (int64_t)w + 2 * p->pad[1] < p->kw)
		return xf_err_set(err, XF_E_USAGE, "%s: the %dx%d window does not fit the %dx%d input padded by %dx%d",
				  op, p->kh, p->kw, h, w, p->pad[0], p->pad[1]);
	*oh = (int)(((int64_t)h + 2 * p->pad[0] - p->kh) / p->stride[0] + 1);
	*ow = (int)(((int64_t)w + 2 * p->pad[1] - p->kw) / p->stride[1] + 1);
	return 0;
}

int xf_pool2d_out_size(const struct xf_pool2d *p, int h, int w, int *oh, int *ow, struct xf_err *err)
{
	return out_size(p, h, w, oh, ow, "pool2d", err);
}

/* The window's rows or columns [*lo, *hi) that lie inside [0, n), for output index o. */
static void clip(int o, int stride, int pad, int k, int n, int *lo, int *hi)
{
	int start = o * stride - pad;

	*lo = start > 0 ? start : 0;
	*hi = start + k < n ? start + k : n;
}

struct pool_job {
	const struct xf_pool2d *p;
	const float *x;
	int h, w, oh, ow;
	float *y;
};

/*
 * The window columns j of output column ox read input column ox * stride + j - pad; for a
 * given j, the outputs [lo, hi) read inside the row (the rest is padding).
 */
static void valid_cols(const struct pool_job *job, int j, int *lo, int *hi)
{
	int st = job->p->stride[1], off = j - job->p->pad[1];

	*lo = off >= 0 ? 0 : (-off + st - 1) / st;
	*hi = job->w - 1 - off < 0 ? 0 : (job->w - 1 - off) / st + 1;
	*hi = *hi < job->ow ? *hi : job->ow;
	*lo = *lo < *hi ? *lo : *hi;
}

/*
 * The larger of m and v, NaN if either is (PyTorch's rule). Written without || so that it
 * compiles to a select: data-dependent branches here are mispredicted half the time.
 */
static inline float max_nan(float m, float v)
{
	int keep = (m > v) | (m != m);

	return keep ? m : v;
}

/* Divisor of output column ox of a row whose window covers `rows` real rows. */
static int avg_divisor(const struct pool_job *job, int rows, int ox)
{
	const struct xf_pool2d *p = job->p;
	int x0, x1;

	if (p->count_include_pad)
		return p->kh * p->kw;
	clip(ox, p->stride[1], p->pad[1], p->kw, job->w, &x0, &x1);
	return rows * (x1 - x0);
}

/*
 * Row by row and window column by window column, so that the inner loops run over output
 * columns without clipping each window: every window has a real element (2 pad <= k).
 */
static void max_plane(const struct pool_job *job, const float *x, float *y)
{
	const struct xf_pool2d *p = job->p;

	for (int oy = 0; oy < job->oh; oy++, y += job->ow) {
		int y0, y1;

		clip(oy, p->stride[0], p->pad[0], p->kh, job->h, &y0, &y1);
		for (int ox = 0; ox < job->ow; ox++)
			y[ox] = -INFINITY;
		for (int iy = y0; iy < y1; iy++)
			for (int j = 0; j < p->kw; j++) {
				int64_t base = (int64_t)iy * job->w + j - p->pad[1];   /* may be < 0; base + ox st is not */
				int lo, hi;

				valid_cols(job, j, &lo, &hi);
				for (int ox = lo; ox < hi; ox++)
					y[ox] = max_nan(y[ox], x[base + (int64_t)ox * p->stride[1]]);
			}
	}
}

/*
 * As max_plane, with sums in double over AVG_COLS output columns at a time. Floor mode with
 * 2 pad <= k keeps every window inside the padded input, so the count-include-pad divisor
 * is always kh kw.
 */
static void avg_plane(const struct pool_job *job, const float *x, float *y)
{
	const struct xf_pool2d *p = job->p;
	double sum[AVG_COLS];

	for (int oy = 0; oy < job->oh; oy++, y += job->ow) {
		int y0, y1;

		clip(oy, p->stride[0], p->pad[0], p->kh, job->h, &y0, &y1);
		for (int c0 = 0; c0 < job->ow; c0 += AVG_COLS) {
			int c1 = c0 + AVG_COLS < job->ow ? c0 + AVG_COLS : job->ow;

			for (int ox = c0; ox < c1; ox++)
				sum[ox - c0] = 0;
			for (int iy = y0; iy < y1; iy++)
				for (int j = 0; j < p->kw; j++) {
					int64_t base = (int64_t)iy * job->w + j - p->pad[1];   /* may be < 0; base + ox st is not */
					int lo, hi;

					valid_cols(job, j, &lo, &hi);
					for (int ox = lo > c0 ? lo : c0; ox < (hi < c1 ? hi : c1); ox++)
						sum[ox - c0] += x[base + (int64_t)ox * p->stride[1]];
				}
			for (int ox = c0; ox < c1; ox++)
				y[ox] = (float)(sum[ox - c0] / avg_divisor(job, y1 - y0, ox));
		}
	}
}

static void max_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct pool_job *job = ctx;

	for (int64_t t = begin; t < end; t++)
		max_plane(job, job->x + t * job->h * job->w, job->y + t * job->oh * job->ow);
}

static void avg_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct pool_job *job = ctx;

	for (int64_t t = begin; t < end; t++)
		avg_plane(job, job->x + t * job->h * job->w, job->y + t * job->oh * job->ow);
}

static int64_t planes_per_chunk(int h, int w)
{
	int64_t n = MIN_PLANE_ELEMS / ((int64_t)h * w);

	return n > 1 ? n : 1;
}

int xf_maxpool2d_forward(const struct xf_pool2d *p, const float *x, int64_t batch, int c, int h, int w, float *y,
			 int threads, struct xf_err *err)
{
	struct pool_job job = { p, x, h, w, 0, 0, y };

	if (out_size(p, h, w, &job.oh, &job.ow, "maxpool2d", err) < 0)
		return -1;
	xf_parallel_for(batch * c, threads, planes_per_chunk(h, w), max_chunk, &job);
	return 0;
}

int xf_avgpool2d_forward(const struct xf_pool2d *p, const float *x, int64_t batch, int c, int h, int w, float *y,
			 int threads, struct xf_err *err)
{
	struct pool_job job = { p, x, h, w, 0, 0, y };

	if (out_size(p, h, w, &job.oh, &job.ow, "avgpool2d", err) < 0)
		return -1;
	xf_parallel_for(batch * c, threads, planes_per_chunk(h, w), avg_chunk, &job);
	return 0;
}

struct gap_job {
	const float *x;
	int64_t hw;
	float *y;
};

static void gap_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct gap_job *job = ctx;

	for (int64_t t = begin; t < end; t++) {
		const float *x = job->x + t * job->hw;
		double sum = 0;

		for (int64_t q = 0; q < job->hw; q++)
			sum += x[q];
		job->y[t] = (float)(sum / job->hw);
	}
}

void xf_global_avgpool_forward(const float *x, int64_t batch, int64_t c, int64_t hw, float *y, int threads)
{
	struct gap_job job = { x, hw, y };
	int64_t min_chunk = MIN_PLANE_ELEMS / (hw > 0 ? hw : 1);

	xf_parallel_for(batch * c, threads, min_chunk > 1 ? min_chunk : 1, gap_chunk, &job);
}
