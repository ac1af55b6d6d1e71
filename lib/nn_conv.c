/* nn_conv: conv2d forward by im2col + GEMM (or nn_winograd.c), and batchnorm folding; see nn_conv.h. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "linalg.h"
#include "nn_conv.h"
#include "nn_gemm.h"
#include "nn_linear.h"
#include "nn_winograd.h"
#include "parallel.h"

/*
 * How one call splits its work. Work items are GEMMs of about XF_CONV2D_COLS columns:
 * nb whole samples when a sample has fewer output pixels than that, else a tile of
 * tile_rows output rows of one sample. Everything but the worker count derives from the
 * geometry and the batch, so the GEMMs and their rounding do not depend on the threads.
 */
struct plan {
	int oh, ow;            /* output size */
	int64_t ohw;           /* output pixels per sample */
	int64_t m;             /* GEMM rows: output channels per group */
	int64_t k;             /* GEMM depth: (in_c / groups) kh kw */
	int64_t nb;            /* samples per item; 1 when items are row tiles */
	int tile_rows;         /* output rows per item (all oh when nb > 1) */
	int64_t tiles;         /* items per sample when nb = 1, else 1 */
	int64_t n_items;       /* work items in the batch */
	int workers;           /* items run concurrently (each with single-threaded BLAS) */
	bool avx2;             /* xf_nn_gemm on packed weights, else SGEMM */
	bool direct_input;     /* 1x1, stride 1, no padding, nb = 1: x is its own column matrix */
	bool depthwise;        /* m = 1: direct loops instead of GEMMs */
	int64_t packed_floats; /* weights packed into scratch (AVX2 without c->packed) */
	int64_t col_floats;    /* column matrix per worker */
	int64_t out_floats;    /* GEMM output per worker before the scatter (nb > 1 only) */
};

int xf_conv2d_check(const struct xf_conv2d *c, struct xf_err *err)
{
	if (c->in_c < 1 || c->out_c < 1 || c->kh < 1 || c->kw < 1)
		return xf_err_set(err, XF_E_USAGE, "conv2d: channels (%d in, %d out) and kernel %dx%d must be >= 1",
				  c->in_c, c->out_c, c->kh, c->kw);
	if (c->stride[0] < 1 || c->stride[1] < 1 || c->dilation[0] < 1 || c->dilation[1] < 1)
		return xf_err_set(err, XF_E_USAGE, "conv2d: stride %dx%d and dilation %dx%d must be >= 1",
				  c->stride[0], c->stride[1], c->dilation[0], c->dilation[1]);
	if (c->pad[0] < 0 || c->pad[1] < 0)
		return xf_err_set(err, XF_E_USAGE, "conv2d: padding %dx%d must be >= 0", c->pad[0], c->pad[1]);
	if (c->groups < 1 || c->in_c % c->groups || c->out_c % c->groups)
		return xf_err_set(err, XF_E_USAGE, "conv2d: %d groups do not divide %d input and %d output channels",
				  c->groups, c->in_c, c->out_c);
	return 0;
}

/* One dimension of the window arithmetic; -1 when the dilated window is wider than the padded input. */
static int64_t window_out(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation)
{
	int64_t span = dilation * (k - 1) + 1;

	return in + 2 * pad < span ? -1 : (in + 2 * pad - span) / stride + 1;
}

int xf_conv2d_out_size(const struct xf_conv2d *c, int h, int w, int *oh, int *ow, struct xf_err *err)
{
	int64_t y, x;

	if (xf_conv2d_check(c, err) < 0)
		return -1;
	if (h < 1 || w < 1)
		return xf_err_set(err, XF_E_USAGE, "conv2d: input %dx%d is empty", h, w);
	y = window_out(h, c->kh, c->stride[0], c->pad[0], c->dilation[0]);
	x = window_out(w, c->kw, c->stride[1], c->pad[1], c->dilation[1]);
	if (y < 0 || x < 0)
		return xf_err_set(err, XF_E_USAGE,
				  "conv2d: the %dx%d window (dilation %dx%d) does not fit the %dx%d input padded by %dx%d",
				  c->kh, c->kw, c->dilation[0], c->dilation[1], h, w, c->pad[0], c->pad[1]);
	*oh = (int)y, *ow = (int)x;
	return 0;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int resolve_threads(int threads)
{
	return threads > 0 ? threads : xf_cores();
}

/* One output channel per group: direct loops, since a GEMM with one row wastes most of a tile. */
static bool is_depthwise(const struct xf_conv2d *c)
{
	return c->out_c == c->groups;
}

static bool uses_packing(const struct xf_conv2d *c)
{
	return !is_depthwise(c) && xf_nn_gemm_kernel() == XF_NN_KERNEL_AVX2;
}

size_t xf_conv2d_packed_size(const struct xf_conv2d *c)
{
	int64_t m = c->out_c / c->groups, k = (int64_t)(c->in_c / c->groups) * c->kh * c->kw;

	if (xf_winograd_applies(c))
		return xf_winograd_packed_size(c);
	return uses_packing(c) ? xf_nn_gemm_packed_size(m, k) * c->groups : 0;
}

void xf_conv2d_pack(const struct xf_conv2d *c, float *packed)
{
	int64_t m = c->out_c / c->groups, k = (int64_t)(c->in_c / c->groups) * c->kh * c->kw;

	if (xf_winograd_applies(c)) {
		xf_winograd_pack(c, packed);
		return;
	}
	if (!uses_packing(c))
		return;
	for (int g = 0; g < c->groups; g++)
		xf_nn_gemm_pack(c->weight + g * m * k, m, k, packed + g * xf_nn_gemm_packed_size(m, k));
}

/*
 * Work items (struct plan). With SGEMM, fewer than two items per thread run one at a time
 * with OpenBLAS threads instead; the AVX2 kernel has no threads of its own.
 */
static void plan_items(const struct xf_conv2d *c, int64_t batch, int threads, struct plan *p)
{
	int64_t rows = (int64_t)c->in_c * c->kh * c->kw;

	if (p->ohw < XF_CONV2D_COLS) {
		p->nb = min64((XF_CONV2D_COLS + p->ohw - 1) / p->ohw, batch > 0 ? batch : 1);
		p->tile_rows = p->oh, p->tiles = 1;
		p->n_items = (batch + p->nb - 1) / p->nb;
	} else {
		p->nb = 1;
		p->tile_rows = XF_CONV2D_COLS / p->ow > 1 ? XF_CONV2D_COLS / p->ow : 1;
		p->tiles = (p->oh + p->tile_rows - 1) / p->tile_rows;
		p->n_items = batch * p->tiles;
	}
	if (p->avx2)
		p->workers = (int)min64(threads, p->n_items > 0 ? p->n_items : 1);
	else
		p->workers = p->n_items >= 2 * threads ? threads : 1;
	p->direct_input = c->kh == 1 && c->kw == 1 && c->stride[0] == 1 && c->stride[1] == 1 && c->pad[0] == 0 &&
			  c->pad[1] == 0 && p->nb == 1;
	p->packed_floats = p->avx2 && !c->packed ? (int64_t)xf_conv2d_packed_size(c) : 0;
	p->col_floats = p->direct_input ? 0 : rows * p->nb * p->tile_rows * p->ow;
	p->out_floats = p->nb > 1 ? c->out_c * p->nb * p->ohw : 0;
}

static int make_plan(const struct xf_conv2d *c, int h, int w, int64_t batch, int threads, struct plan *p,
		     struct xf_err *err)
{
	if (xf_conv2d_out_size(c, h, w, &p->oh, &p->ow, err) < 0)
		return -1;
	p->ohw = (int64_t)p->oh * p->ow;
	p->m = c->out_c / c->groups;
	p->k = (int64_t)(c->in_c / c->groups) * c->kh * c->kw;
	p->depthwise = is_depthwise(c);
	p->avx2 = uses_packing(c);
	if (p->depthwise) {
		p->nb = 1, p->tile_rows = p->oh, p->tiles = 1, p->n_items = batch;
		p->workers = resolve_threads(threads);
		p->direct_input = false, p->packed_floats = p->col_floats = p->out_floats = 0;
		return 0;
	}
	plan_items(c, batch, resolve_threads(threads), p);
	if (p->k > INT_MAX || p->ohw * p->nb > INT_MAX || (int64_t)h * w > INT_MAX)
		return xf_err_set(err, XF_E_LIMIT, "conv2d: %lld x %lld GEMM exceeds the BLAS integer type",
				  (long long)p->k, (long long)(p->ohw * p->nb));
	return 0;
}

size_t xf_conv2d_scratch_size(const struct xf_conv2d *c, int h, int w, int64_t batch, int threads)
{
	struct plan p;

	if (xf_winograd_applies(c))
		return xf_winograd_scratch_size(c, h, w, batch, threads);
	if (make_plan(c, h, w, batch, threads, &p, NULL) < 0)
		return 0;
	return (size_t)(p.packed_floats + (p.col_floats + p.out_floats) * p.workers);
}

/*
 * The output columns [lo, hi) whose input column ox * stride + off lies inside [0, w):
 * the rest of a row falls in the padding.
 */
static void valid_range(int w, int ow, int stride, int off, int *lo, int *hi)
{
	*lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
	*hi = w - 1 - off < 0 ? 0 : (w - 1 - off) / stride + 1;
	*hi = *hi < ow ? *hi : ow;
	*lo = *lo < *hi ? *lo : *hi;
}

/*
 * dst[0..n) = src[0..n). Rows of small layers are a few floats long: a memcpy call per row
 * costs more than the copy, and -O2 does not vectorise a plain loop of unknown length,
 * so copy fixed 8-float chunks (which compile to vector moves) and finish one by one.
 */
static void copy_floats(float *dst, const float *src, int n)
{
	int k = 0;

	for (; k + 8 <= n; k += 8)
		memcpy(dst + k, src + k, 8 * sizeof(float));
	if (k + 4 <= n) {
		memcpy(dst + k, src + k, 4 * sizeof(float));
		k += 4;
	}
	for (; k < n; k++)
		dst[k] = src[k];
}

/* dst[0..n) = src[0..n) + b, in fixed chunks for the same reason; dst may be src. */
static void add_const(float *dst, const float *src, float b, int64_t n)
{
	int64_t k = 0;

	for (; k + 8 <= n; k += 8) {
		float t[8];

		memcpy(t, src + k, sizeof(t));
		for (int q = 0; q < 8; q++)
			t[q] += b;
		memcpy(dst + k, t, sizeof(t));
	}
	for (; k < n; k++)
		dst[k] = src[k] + b;
}

/* dst[0..n) += a src[0..n), in fixed chunks as above. */
static void axpy_floats(float *dst, const float *src, float a, int n)
{
	int k = 0;

	for (; k + 8 <= n; k += 8) {
		float s[8], d[8];

		memcpy(s, src + k, sizeof(s));
		memcpy(d, dst + k, sizeof(d));
		for (int q = 0; q < 8; q++)
			d[q] += a * s[q];
		memcpy(dst + k, d, sizeof(d));
	}
	for (; k < n; k++)
		dst[k] += a * src[k];
}

/*
 * Output rows [y0, y1) of tap (i, j) of one input plane: the (y1 - y0) x ow values it
 * meets, 0 in the padding, into dst. Rows are short in small layers, so the copies are
 * loops rather than memcpy calls; a tap that reads whole consecutive rows (the centre
 * column of a stride-1 "same" convolution) is one block copy.
 */
static void im2col_tap(const struct xf_conv2d *c, const struct plan *p, const float *plane, int h, int w, int i,
		       int j, int y0, int y1, float *dst)
{
	int sw = c->stride[1], ow = p->ow, off_y = i * c->dilation[0] - c->pad[0];
	int off_x = j * c->dilation[1] - c->pad[1], lo, hi, v0, v1;

	valid_range(w, ow, sw, off_x, &lo, &hi);
	valid_range(h, p->oh, c->stride[0], off_y, &v0, &v1);
	v0 = v0 < y0 ? y0 : v0 > y1 ? y1 : v0;
	v1 = v1 < v0 ? v0 : v1 > y1 ? y1 : v1;
	memset(dst, 0, (size_t)(v0 - y0) * ow * sizeof(float));
	memset(dst + (int64_t)(v1 - y0) * ow, 0, (size_t)(y1 - v1) * ow * sizeof(float));
	if (sw == 1 && c->stride[0] == 1 && off_x == 0 && ow == w && v1 > v0) {
		memcpy(dst + (int64_t)(v0 - y0) * ow, plane + (int64_t)(v0 + off_y) * w,
		       (size_t)(v1 - v0) * w * sizeof(float));
		return;
	}
	for (int oy = v0; oy < v1; oy++) {
		const float *row = plane + (int64_t)(oy * c->stride[0] + off_y) * w;
		float *d = dst + (int64_t)(oy - y0) * ow;

		for (int ox = 0; ox < lo; ox++)
			d[ox] = 0.0f;
		if (sw == 1)
			copy_floats(d + lo, row + lo + off_x, hi - lo);
		else
			for (int ox = lo; ox < hi; ox++)
				d[ox] = row[(int64_t)ox * sw + off_x];
		for (int ox = hi; ox < ow; ox++)
			d[ox] = 0.0f;
	}
}

/*
 * col [in_c kh kw, n (y1 - y0) ow] for output rows [y0, y1) of samples x[0..n):
 * row (ch, i, j), column (sample, oy - y0, ox).
 */
static void im2col(const struct xf_conv2d *c, const struct plan *p, const float *x, int64_t n, int h, int w,
		   int y0, int y1, float *col)
{
	int64_t per_sample = (int64_t)(y1 - y0) * p->ow, ncols = n * per_sample, plane = (int64_t)h * w;

	for (int ch = 0; ch < c->in_c; ch++)
		for (int i = 0; i < c->kh; i++)
			for (int j = 0; j < c->kw; j++) {
				float *row = col + ((int64_t)(ch * c->kh + i) * c->kw + j) * ncols;

				for (int64_t s = 0; s < n; s++)
					im2col_tap(c, p, x + (s * c->in_c + ch) * plane, h, w, i, j, y0, y1,
						   row + s * per_sample);
			}
}

struct conv_job {
	const struct xf_conv2d *c;
	const struct plan *p;
	const float *x;
	int64_t batch;
	int h, w;
	float *y;
	const float *packed;   /* packed weights (AVX2), from c->packed or the scratch */
	float *work;           /* per-worker scratch: col_floats + out_floats each */
	atomic_int next_slot;  /* hands each concurrent chunk its own slice of work */
};

/*
 * C [m, n] (row stride ldc) = group g's weights times B [k, n] (row stride ldb), plus the
 * bias when the AVX2 kernel can fuse it (SGEMM callers add it themselves).
 */
static void group_gemm(const struct conv_job *job, int g, int64_t n, const float *b, int64_t ldb, float *c,
		       int64_t ldc)
{
	const struct plan *p = job->p;

	if (p->avx2)
		xf_nn_gemm(job->packed + g * xf_nn_gemm_packed_size(p->m, p->k), p->m, n, p->k, b, ldb,
			   job->c->bias ? job->c->bias + g * p->m : NULL, c, ldc);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p->m, (int)n, (int)p->k, 1.0f,
			    job->c->weight + g * p->m * p->k, (int)p->k, b, (int)ldb, 0.0f, c, (int)ldc);
}

/* The bias that group_gemm left out (SGEMM), or 0. */
static float pending_bias(const struct conv_job *job, int o)
{
	return job->c->bias && !job->p->avx2 ? job->c->bias[o] : 0.0f;
}

/* n whole samples x[0..n) into y[0..n): one GEMM per group, then scattered into NCHW. */
static void run_block(const struct conv_job *job, const float *x, int64_t n, float *y, float *col, float *tmp)
{
	const struct xf_conv2d *c = job->c;
	const struct plan *p = job->p;
	int64_t ncols = n * p->ohw;

	im2col(c, p, x, n, job->h, job->w, 0, p->oh, col);
	for (int g = 0; g < c->groups; g++)
		group_gemm(job, g, ncols, col + g * p->k * ncols, ncols, tmp + g * p->m * ncols, ncols);
	for (int64_t s = 0; s < n; s++)
		for (int o = 0; o < c->out_c; o++)
			add_const(y + (s * c->out_c + o) * p->ohw, tmp + o * ncols + s * p->ohw, pending_bias(job, o),
				  p->ohw);
}

/*
 * Output rows [y0, y1) of one sample: the GEMMs write straight into y (row stride ohw),
 * and read x itself when it is its own column matrix.
 */
static void run_tile(const struct conv_job *job, const float *x, int y0, int y1, float *y, float *col)
{
	const struct xf_conv2d *c = job->c;
	const struct plan *p = job->p;
	int64_t ncols = (int64_t)(y1 - y0) * p->ow, first = (int64_t)y0 * p->ow;
	const float *b = p->direct_input ? x + first : col;
	int64_t ldb = p->direct_input ? p->ohw : ncols;

	if (!p->direct_input)
		im2col(c, p, x, 1, job->h, job->w, y0, y1, col);
	for (int g = 0; g < c->groups; g++)
		group_gemm(job, g, ncols, b + g * p->k * ldb, ldb, y + g * p->m * p->ohw + first, p->ohw);
	if (c->bias && !p->avx2)
		for (int o = 0; o < c->out_c; o++)
			add_const(y + o * p->ohw + first, y + o * p->ohw + first, c->bias[o], ncols);
}

static void conv_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct conv_job *job = ctx;
	const struct plan *p = job->p;
	int64_t in_sample = (int64_t)job->c->in_c * job->h * job->w, out_sample = job->c->out_c * p->ohw;
	float *col = job->work + atomic_fetch_add(&job->next_slot, 1) * (p->col_floats + p->out_floats);

	for (int64_t t = begin; t < end; t++) {
		int64_t s = p->nb > 1 ? t * p->nb : t / p->tiles;
		const float *x = job->x + s * in_sample;
		float *y = job->y + s * out_sample;
		int y0 = (int)(t % p->tiles) * p->tile_rows;

		if (p->nb > 1)
			run_block(job, x, min64(p->nb, job->batch - s), y, col, col + p->col_floats);
		else
			run_tile(job, x, y0, (int)min64(y0 + p->tile_rows, p->oh), y, col);
	}
}

/*
 * One output plane of a convolution with one output channel per group: the taps of its
 * group's input channels accumulated straight into y, a row segment at a time.
 */
static void depthwise_plane(const struct xf_conv2d *c, const struct plan *p, const float *x, int h, int w,
			    int o, float *y)
{
	int cg = c->in_c / c->groups, sw = c->stride[1];
	const float *wt = c->weight + (int64_t)o * cg * c->kh * c->kw;

	for (int64_t q = 0; q < p->ohw; q++)
		y[q] = c->bias ? c->bias[o] : 0.0f;
	for (int ci = 0; ci < cg; ci++) {
		const float *plane = x + (int64_t)(o * cg + ci) * h * w;

		for (int i = 0; i < c->kh; i++)
			for (int j = 0; j < c->kw; j++) {
				int off_x = j * c->dilation[1] - c->pad[1], lo, hi;
				float k = *wt++;

				valid_range(w, p->ow, sw, off_x, &lo, &hi);
				for (int oy = 0; oy < p->oh; oy++) {
					int iy = oy * c->stride[0] + i * c->dilation[0] - c->pad[0];
					const float *src;
					float *dst = y + (int64_t)oy * p->ow;

					if (iy < 0 || iy >= h)
						continue;
					src = plane + (int64_t)iy * w + (int64_t)lo * sw + off_x;
					if (sw == 1)
						axpy_floats(dst + lo, src, k, hi - lo);
					else
						for (int ox = lo; ox < hi; ox++)
							dst[ox] += k * src[(int64_t)(ox - lo) * sw];
				}
			}
	}
}

static void depthwise_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct conv_job *job = ctx;
	const struct xf_conv2d *c = job->c;
	int64_t in_sample = (int64_t)c->in_c * job->h * job->w;

	for (int64_t t = begin; t < end; t++) {
		int64_t s = t / c->out_c;
		int o = (int)(t % c->out_c);

		depthwise_plane(c, job->p, job->x + s * in_sample, job->h, job->w, o, job->y + t * job->p->ohw);
	}
}

int xf_conv2d_forward(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w, float *y,
		      float *scratch, int threads, struct xf_err *err)
{
	struct plan p;
	struct conv_job job = { c, &p, x, batch, h, w, y, c->packed, scratch, 0 };
	int blas_threads;

	if (xf_winograd_applies(c))
		return xf_winograd_forward(c, x, batch, h, w, y, scratch, threads, err);
	if (make_plan(c, h, w, batch, threads, &p, err) < 0)
		return -1;
	if (batch <= 0)
		return 0;
	if (p.depthwise) {
		xf_parallel_for(batch * c->out_c, p.workers, 16, depthwise_chunk, &job);
		return 0;
	}
	if (p.packed_floats) {
		xf_conv2d_pack(c, scratch);
		job.packed = scratch, job.work = scratch + p.packed_floats;
	}
	if (p.avx2) {
		xf_parallel_for(p.n_items, p.workers, 1, conv_chunk, &job);
		return 0;
	}
	blas_threads = xf_nn_blas_threads(p.workers > 1 ? 1 : resolve_threads(threads));
	xf_parallel_for(p.n_items, p.workers, 1, conv_chunk, &job);
	xf_linalg_set_threads(blas_threads);
	return 0;
}

/* gamma / sqrt(var + eps) for channel o, or NaN when that is not a finite number. */
static double bn_scale(const float *gamma, const float *var, double eps, int o)
{
	double v = (double)var[o] + eps, s = v > 0 ? (double)gamma[o] / sqrt(v) : NAN;

	return isfinite(s) ? s : NAN;
}

/* All channels are checked before anything is written, so that an in-place fold is all or nothing. */
int xf_conv2d_fold_batchnorm(const struct xf_conv2d *c, const float *gamma, const float *beta, const float *mean,
			     const float *var, double eps, float *weight_out, float *bias_out, struct xf_err *err)
{
	int64_t per_out;

	if (xf_conv2d_check(c, err) < 0)
		return -1;
	for (int o = 0; o < c->out_c; o++)
		if (isnan(bn_scale(gamma, var, eps, o)))
			return xf_err_set(err, XF_E_FORMAT,
					  "batchnorm: channel %d: weight %g, running_var %g and eps %g give no finite scale",
					  o, (double)gamma[o], (double)var[o], eps);
	per_out = (int64_t)(c->in_c / c->groups) * c->kh * c->kw;
	for (int o = 0; o < c->out_c; o++) {
		double s = bn_scale(gamma, var, eps, o), b = c->bias ? (double)c->bias[o] : 0.0;

		for (int64_t q = 0; q < per_out; q++)
			weight_out[o * per_out + q] = (float)((double)c->weight[o * per_out + q] * s);
		bias_out[o] = (float)((b - (double)mean[o]) * s + (double)beta[o]);
	}
	return 0;
}
