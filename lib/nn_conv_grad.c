/*
 * nn_conv_grad: conv2d's backward pass by the transposed products of im2col + SGEMM, with
 * direct loops for depthwise convolutions; see nn_conv_grad.h. The column layout and the
 * im2col tap copy follow nn_conv.c.
 */
#include <cblas.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "linalg.h"
#include "nn_conv_grad.h"
#include "nn_linear.h"
#include "parallel.h"

/*
 * The batch is cut into chunks of consecutive samples, each with its own partial dweight.
 * A chunk has ceil(batch / GRAD_CHUNKS) samples, between 1 and GRAD_CHUNK_MAX: small batches
 * still make up to GRAD_CHUNKS pieces of parallel work, large ones add few partials. Chunks
 * depend on the batch alone, never on `threads`. OpenBLAS always runs single-threaded here
 * (its own threads do not keep the same bits for every thread count), so the parallelism is
 * that of the chunks: none for a batch of one.
 */
#define GRAD_CHUNK_MAX 8  /* most samples per chunk */
#define GRAD_CHUNKS 16    /* chunks wanted before chunks grow past one sample */
#define GRAD_COLS 512     /* GEMM columns (samples x output pixels) per block, about: col and dcol near L2 size */

/*
 * How one call splits its work. Within a chunk, a block is either nb whole samples (when a
 * sample has fewer than GRAD_COLS output pixels; their dy is gathered into [m, nb ohw]) or
 * tile_rows output rows of one sample (dy read in place). Per block and group g:
 * col_g = im2col, dW_g += dY_g col_g^T, dcol_g = W_g^T dY_g, col2im(dcol_g) added into dx.
 */
struct plan {
	int oh, ow;           /* output size */
	int64_t ohw;          /* output pixels per sample */
	int64_t m;            /* output channels per group */
	int cg;               /* input channels per group */
	int64_t kg;           /* cg kh kw: weight entries per output channel */
	int64_t wsize;        /* floats of the weight, out_c kg */
	int64_t chunk;        /* samples per chunk */
	int64_t n_chunks;     /* chunks in the batch */
	int64_t nb;           /* samples per block; 1 when blocks are row tiles */
	int tile_rows;        /* output rows per block (all oh when nb > 1) */
	int64_t ncols;        /* most GEMM columns of a block: nb tile_rows ow */
	int workers;          /* chunks run concurrently, each with single-threaded BLAS */
	bool depthwise;       /* m = 1: direct loops, no GEMMs */
	bool direct;          /* 1x1, stride 1, unpadded, nb = 1: x is col and dx takes dcol */
	int64_t work_floats;  /* per worker: col, dcol and gathered dy */
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int resolve_threads(int threads)
{
	return threads > 0 ? threads : xf_cores();
}

static void plan_blocks(const struct xf_conv2d *c, struct plan *p)
{
	if (p->ohw < GRAD_COLS) {
		p->nb = min64((GRAD_COLS + p->ohw - 1) / p->ohw, p->chunk);
		p->tile_rows = p->oh;
	} else {
		p->nb = 1;
		p->tile_rows = GRAD_COLS / p->ow > 1 ? GRAD_COLS / p->ow : 1;
	}
	p->ncols = p->nb * p->tile_rows * p->ow;
	p->direct = c->kh == 1 && c->kw == 1 && c->stride[0] == 1 && c->stride[1] == 1 && c->pad[0] == 0 &&
		    c->pad[1] == 0 && p->nb == 1;
	p->work_floats = (p->direct ? 0 : 2 * p->kg * p->ncols) + (p->nb > 1 ? p->m * p->ncols : 0);
}

static int make_plan(const struct xf_conv2d *c, int h, int w, int64_t batch, int threads, struct plan *p,
		     struct xf_err *err)
{
	if (xf_conv2d_out_size(c, h, w, &p->oh, &p->ow, err) < 0)
		return -1;
	p->ohw = (int64_t)p->oh * p->ow;
	p->m = c->out_c / c->groups;
	p->cg = c->in_c / c->groups;
	p->kg = (int64_t)p->cg * c->kh * c->kw;
	p->wsize = c->out_c * p->kg;
	p->chunk = batch > 0 ? (batch + GRAD_CHUNKS - 1) / GRAD_CHUNKS : 1;
	p->chunk = p->chunk < GRAD_CHUNK_MAX ? p->chunk : GRAD_CHUNK_MAX;
	p->n_chunks = batch > 0 ? (batch + p->chunk - 1) / p->chunk : 0;
	p->workers = (int)min64(resolve_threads(threads), p->n_chunks > 0 ? p->n_chunks : 1);
	p->depthwise = p->m == 1;
	if (p->depthwise) {
		p->nb = 1, p->tile_rows = p->oh, p->ncols = p->ohw;
		p->direct = false, p->work_floats = 0;
		return 0;
	}
	plan_blocks(c, p);
	if (p->kg > INT_MAX || p->ncols > INT_MAX || p->ohw > INT_MAX || (int64_t)h * w > INT_MAX)
		return xf_err_set(err, XF_E_LIMIT, "conv2d backward: %lld x %lld GEMM exceeds the BLAS integer type",
				  (long long)p->kg, (long long)p->ncols);
	return 0;
}

/*
 * Scratch: the double accumulator of dweight (2 wsize floats, read and written by memcpy so
 * that its alignment does not matter), then per worker a partial dweight (wsize) and its
 * work area (work_floats).
 */
size_t xf_conv2d_backward_scratch_size(const struct xf_conv2d *c, int h, int w, int64_t batch, int threads)
{
	struct plan p;

	if (make_plan(c, h, w, batch, threads, &p, NULL) < 0)
		return 0;
	return (size_t)(2 * p.wsize + p.workers * (p.wsize + p.work_floats));
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

/* The output rows of [y0, y1) that tap row i reads inside the input, as [*v0, *v1). */
static void valid_rows(const struct xf_conv2d *c, const struct plan *p, int h, int i, int y0, int y1, int *v0,
		       int *v1)
{
	valid_range(h, p->oh, c->stride[0], i * c->dilation[0] - c->pad[0], v0, v1);
	*v0 = *v0 < y0 ? y0 : *v0 > y1 ? y1 : *v0;
	*v1 = *v1 < *v0 ? *v0 : *v1 > y1 ? y1 : *v1;
}

/* Output rows [y0, y1) of tap (i, j) of one input plane: the values it meets, 0 in the padding. */
static void im2col_tap(const struct xf_conv2d *c, const struct plan *p, const float *plane, int h, int w, int i,
		       int j, int y0, int y1, float *dst)
{
	int sw = c->stride[1], ow = p->ow, off_y = i * c->dilation[0] - c->pad[0];
	int off_x = j * c->dilation[1] - c->pad[1], lo, hi, v0, v1;

	valid_range(w, ow, sw, off_x, &lo, &hi);
	valid_rows(c, p, h, i, y0, y1, &v0, &v1);
	memset(dst, 0, (size_t)(v0 - y0) * ow * sizeof(float));
	memset(dst + (int64_t)(v1 - y0) * ow, 0, (size_t)(y1 - v1) * ow * sizeof(float));
	for (int oy = v0; oy < v1; oy++) {
		const float *row = plane + (int64_t)(oy * c->stride[0] + off_y) * w;
		float *d = dst + (int64_t)(oy - y0) * ow;

		memset(d, 0, (size_t)lo * sizeof(float));
		if (sw == 1)
			memcpy(d + lo, row + lo + off_x, (size_t)(hi - lo) * sizeof(float));
		else
			for (int ox = lo; ox < hi; ox++)
				d[ox] = row[(int64_t)ox * sw + off_x];
		memset(d + hi, 0, (size_t)(ow - hi) * sizeof(float));
	}
}

/* The transpose of im2col_tap: the values of src that tap (i, j) took from the plane are added back into it. */
static void col2im_tap(const struct xf_conv2d *c, const struct plan *p, const float *src, int h, int w, int i,
		       int j, int y0, int y1, float *plane)
{
	int sw = c->stride[1], ow = p->ow, off_y = i * c->dilation[0] - c->pad[0];
	int off_x = j * c->dilation[1] - c->pad[1], lo, hi, v0, v1;

	valid_range(w, ow, sw, off_x, &lo, &hi);
	valid_rows(c, p, h, i, y0, y1, &v0, &v1);
	if (lo >= hi)
		return;
	for (int oy = v0; oy < v1; oy++) {
		float *row = plane + (int64_t)(oy * c->stride[0] + off_y) * w + (int64_t)lo * sw + off_x;
		const float *s = src + (int64_t)(oy - y0) * ow + lo;

		if (sw == 1)
			for (int k = 0; k < hi - lo; k++)
				row[k] += s[k];
		else
			for (int k = 0; k < hi - lo; k++)
				row[(int64_t)k * sw] += s[k];
	}
}

/*
 * col [(ch1 - ch0) kh kw, n (y1 - y0) ow] for input channels [ch0, ch1) and output rows
 * [y0, y1) of samples x[0..n): row (ch - ch0, i, j), column (sample, oy - y0, ox).
 */
static void im2col(const struct xf_conv2d *c, const struct plan *p, const float *x, int64_t n, int h, int w,
		   int ch0, int ch1, int y0, int y1, float *col)
{
	int64_t per_sample = (int64_t)(y1 - y0) * p->ow, ncols = n * per_sample, plane = (int64_t)h * w;

	for (int ch = ch0; ch < ch1; ch++)
		for (int i = 0; i < c->kh; i++)
			for (int j = 0; j < c->kw; j++) {
				float *row = col + ((int64_t)((ch - ch0) * c->kh + i) * c->kw + j) * ncols;

				for (int64_t s = 0; s < n; s++)
					im2col_tap(c, p, x + (s * c->in_c + ch) * plane, h, w, i, j, y0, y1,
						   row + s * per_sample);
			}
}

/* dx of samples [0, n) += col2im(col), col laid out as im2col's for the same arguments. */
static void col2im(const struct xf_conv2d *c, const struct plan *p, const float *col, int64_t n, int h, int w,
		   int ch0, int ch1, int y0, int y1, float *dx)
{
	int64_t per_sample = (int64_t)(y1 - y0) * p->ow, ncols = n * per_sample, plane = (int64_t)h * w;

	for (int ch = ch0; ch < ch1; ch++)
		for (int i = 0; i < c->kh; i++)
			for (int j = 0; j < c->kw; j++) {
				const float *row = col + ((int64_t)((ch - ch0) * c->kh + i) * c->kw + j) * ncols;

				for (int64_t s = 0; s < n; s++)
					col2im_tap(c, p, row + s * per_sample, h, w, i, j, y0, y1,
						   dx + (s * c->in_c + ch) * plane);
			}
}

struct grad_job {
	const struct xf_conv2d *c;
	const struct plan *p;
	const float *x, *dy;
	int64_t batch;
	int h, w;
	float *dx;             /* NULL: not wanted */
	bool want_dweight;     /* fill the partials */
	float *partials;       /* wsize per chunk of the current wave, in chunk order */
	float *work;           /* work_floats per worker */
	int64_t first_chunk;   /* chunk of index 0 in the current xf_parallel_for */
	atomic_int next_slot;  /* hands each concurrent range its own work area */
};

/* dy of samples [0, n), output channels [o0, o0 + m), gathered into [m, n ohw]. */
static void gather_dy(const struct plan *p, int out_c, const float *dy, int64_t n, int64_t o0, float *dst)
{
	for (int64_t o = 0; o < p->m; o++)
		for (int64_t s = 0; s < n; s++)
			memcpy(dst + o * n * p->ohw + s * p->ohw, dy + (s * out_c + o0 + o) * p->ohw,
			       (size_t)p->ohw * sizeof(float));
}

/*
 * One block: samples [s, s + n) and output rows [y0, y1) (all rows when n > 1). partial is
 * this chunk's dweight or NULL.
 */
static void grad_block(const struct grad_job *job, int64_t s, int64_t n, int y0, int y1, float *partial,
		       float *work)
{
	const struct xf_conv2d *c = job->c;
	const struct plan *p = job->p;
	int64_t in_sample = (int64_t)c->in_c * job->h * job->w, first = (int64_t)y0 * p->ow;
	int64_t ncols = n * (y1 - y0) * p->ow;
	const float *x = job->x + s * in_sample, *dy = job->dy + s * c->out_c * p->ohw;
	float *col = work, *dcol = work + p->kg * p->ncols, *gathered = work + 2 * p->kg * p->ncols;
	float *dx = job->dx ? job->dx + s * in_sample : NULL;

	for (int g = 0; g < c->groups; g++) {
		const float *wg = c->weight + g * p->m * p->kg, *dyg = dy + g * p->m * p->ohw + first;
		int64_t lddy = p->ohw, ch0 = (int64_t)g * p->cg;

		if (n > 1) {
			gather_dy(p, c->out_c, dy, n, g * p->m, gathered);
			dyg = gathered, lddy = ncols;
		}
		if (partial && p->direct) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->m, (int)p->kg, (int)ncols, 1.0f, dyg,
				    (int)lddy, x + ch0 * p->ohw + first, (int)p->ohw, 1.0f, partial + g * p->m * p->kg,
				    (int)p->kg);
		} else if (partial) {
			im2col(c, p, x, n, job->h, job->w, (int)ch0, (int)ch0 + p->cg, y0, y1, col);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->m, (int)p->kg, (int)ncols, 1.0f, dyg,
				    (int)lddy, col, (int)ncols, 1.0f, partial + g * p->m * p->kg, (int)p->kg);
		}
		if (dx && p->direct) {
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p->kg, (int)ncols, (int)p->m, 1.0f, wg,
				    (int)p->kg, dyg, (int)lddy, 1.0f, dx + ch0 * p->ohw + first, (int)p->ohw);
		} else if (dx) {
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p->kg, (int)ncols, (int)p->m, 1.0f, wg,
				    (int)p->kg, dyg, (int)lddy, 0.0f, dcol, (int)ncols);
			col2im(c, p, dcol, n, job->h, job->w, (int)ch0, (int)ch0 + p->cg, y0, y1, dx);
		}
	}
}

/* sum of a[k] b[k stride] over k < n, in double. */
static double dot_strided(const float *a, const float *b, int n, int stride)
{
	double s = 0;

	for (int k = 0; k < n; k++)
		s += (double)a[k] * b[(int64_t)k * stride];
	return s;
}

/*
 * One sample of a convolution with one output channel per group: for each weight tap, dx
 * takes the tap times dy and the partial dweight the dot product of dy with what it read.
 */
static void depthwise_sample(const struct grad_job *job, const float *x, const float *dy, float *dx,
			     float *partial)
{
	const struct xf_conv2d *c = job->c;
	const struct plan *p = job->p;
	int h = job->h, w = job->w, sw = c->stride[1];

	for (int o = 0; o < c->out_c; o++)
		for (int ci = 0; ci < p->cg; ci++) {
			int64_t ch = (int64_t)o * p->cg + ci;
			const float *plane = x + ch * h * w, *wt = c->weight + ch * c->kh * c->kw;
			float *dplane = dx ? dx + ch * h * w : NULL;

			for (int i = 0; i < c->kh; i++)
				for (int j = 0; j < c->kw; j++) {
					int off_x = j * c->dilation[1] - c->pad[1], lo, hi, v0, v1;
					float k = wt[i * c->kw + j];
					double sum = 0;

					valid_range(w, p->ow, sw, off_x, &lo, &hi);
					valid_rows(c, p, h, i, 0, p->oh, &v0, &v1);
					for (int oy = v0; oy < v1 && lo < hi; oy++) {
						int64_t at = (int64_t)(oy * c->stride[0] + i * c->dilation[0] - c->pad[0]) * w +
							     (int64_t)lo * sw + off_x;
						const float *g = dy + (int64_t)o * p->ohw + (int64_t)oy * p->ow + lo;

						if (partial)
							sum += dot_strided(g, plane + at, hi - lo, sw);
						if (dplane)
							for (int q = 0; q < hi - lo; q++)
								dplane[at + (int64_t)q * sw] += k * g[q];
					}
					if (partial)
						partial[ch * c->kh * c->kw + i * c->kw + j] += (float)sum;
				}
		}
}

/* The blocks of one chunk, in order. */
static void grad_chunk(const struct grad_job *job, int64_t chunk, float *partial, float *work)
{
	const struct plan *p = job->p;
	int64_t s0 = chunk * p->chunk, s1 = min64(s0 + p->chunk, job->batch);
	int64_t in_sample = (int64_t)job->c->in_c * job->h * job->w, out_sample = job->c->out_c * p->ohw;

	if (partial)
		memset(partial, 0, (size_t)p->wsize * sizeof(float));
	for (int64_t s = s0; s < s1; s += p->nb) {
		if (p->depthwise)
			depthwise_sample(job, job->x + s * in_sample, job->dy + s * out_sample,
					 job->dx ? job->dx + s * in_sample : NULL, partial);
		else if (p->nb > 1)
			grad_block(job, s, min64(p->nb, s1 - s), 0, p->oh, partial, work);
		else
			for (int y0 = 0; y0 < p->oh; y0 += p->tile_rows)
				grad_block(job, s, 1, y0, (int)min64(y0 + p->tile_rows, p->oh), partial, work);
	}
}

static void grad_range(void *ctx, int64_t begin, int64_t end)
{
	struct grad_job *job = ctx;
	float *work = job->work + atomic_fetch_add(&job->next_slot, 1) * job->p->work_floats;

	for (int64_t t = begin; t < end; t++)
		grad_chunk(job, job->first_chunk + t, job->want_dweight ? job->partials + t * job->p->wsize : NULL,
			   work);
}

/* The double accumulator of dweight in scratch, by memcpy (scratch is only float-aligned). */
struct acc_job {
	unsigned char *acc;   /* wsize doubles */
	const float *partials;
	int64_t n_partials, wsize;
	float *dweight;       /* NULL while adding partials; set for the final dweight += acc */
};

static void acc_range(void *ctx, int64_t begin, int64_t end)
{
	struct acc_job *a = ctx;

	for (int64_t i = begin; i < end; i++) {
		double v;

		memcpy(&v, a->acc + i * sizeof(double), sizeof(double));
		for (int64_t t = 0; t < a->n_partials; t++)
			v += a->partials[t * a->wsize + i];
		if (a->dweight)
			a->dweight[i] = (float)((double)a->dweight[i] + v);
		else
			memcpy(a->acc + i * sizeof(double), &v, sizeof(double));
	}
}

struct bias_job {
	const float *dy;
	int64_t batch, out_c, ohw;
	float *dbias;
};

/* dbias[o] += the sum of dy over the batch and the plane, in double, for channels [begin, end). */
static void bias_range(void *ctx, int64_t begin, int64_t end)
{
	struct bias_job *b = ctx;

	for (int64_t o = begin; o < end; o++) {
		double s = 0;

		for (int64_t n = 0; n < b->batch; n++) {
			const float *g = b->dy + (n * b->out_c + o) * b->ohw;

			for (int64_t q = 0; q < b->ohw; q++)
				s += g[q];
		}
		b->dbias[o] = (float)((double)b->dbias[o] + s);
	}
}

/*
 * Chunks run in waves of `workers`, each into its own partial; after a wave the partials are
 * added to the accumulator in chunk order, element by element. So every dweight entry is
 * ((0 + p_0) + p_1) + ... in double for any thread count, and each p_k is fixed by the chunk.
 */
static void weight_waves(struct grad_job *job, float *scratch, float *dweight, int threads)
{
	const struct plan *p = job->p;
	struct acc_job a = { (unsigned char *)scratch, job->partials, 0, p->wsize, NULL };
	int64_t grain = 4096;

	memset(scratch, 0, (size_t)p->wsize * sizeof(double));
	for (int64_t c0 = 0; c0 < p->n_chunks; c0 += p->workers) {
		a.n_partials = min64(p->workers, p->n_chunks - c0);
		job->first_chunk = c0;
		atomic_store(&job->next_slot, 0);
		xf_parallel_for(a.n_partials, p->workers, 1, grad_range, job);
		xf_parallel_for(p->wsize, threads, grain, acc_range, &a);
	}
	a.n_partials = 0, a.dweight = dweight;
	xf_parallel_for(p->wsize, threads, grain, acc_range, &a);
}

int xf_conv2d_backward(const struct xf_conv2d *c, const float *x, int64_t batch, int h, int w, const float *dy,
		       float *dx, float *dweight, float *dbias, float *scratch, int threads, struct xf_err *err)
{
	struct plan p;
	struct grad_job job = { c, &p, x, dy, batch, h, w, dx, dweight != NULL, NULL, NULL, 0, 0 };
	int blas_threads;

	if (make_plan(c, h, w, batch, threads, &p, err) < 0)
		return -1;
	if (batch <= 0)
		return 0;
	threads = resolve_threads(threads);
	if (dbias) {
		struct bias_job b = { dy, batch, c->out_c, p.ohw, dbias };

		xf_parallel_for(c->out_c, threads, 1 + 65536 / (batch * p.ohw), bias_range, &b);
	}
	if (!dx && !dweight)
		return 0;
	job.partials = scratch + 2 * p.wsize;
	job.work = job.partials + p.workers * p.wsize;
	blas_threads = xf_nn_blas_threads(1);
	if (dweight)
		weight_waves(&job, scratch, dweight, threads);
	else
		xf_parallel_for(p.n_chunks, p.workers, 1, grad_range, &job);
	xf_linalg_set_threads(blas_threads);
	return 0;
}
