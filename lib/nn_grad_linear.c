/*
 * nn_grad_linear: the backward pass of linear (nn_grad.h) as single-threaded SGEMMs on
 * blocks fixed by the sizes alone, shared by `threads` workers: each block is computed the
 * same way whichever worker runs it, so the bits do not depend on the thread count (one
 * multi-threaded SGEMM would not promise that: OpenBLAS splits its work by its own thread
 * count). dweight sums the batch in float within chunks of DW_ROWS rows (in the SGEMM),
 * and the chunks in double, in order.
 */
#include <cblas.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "linalg.h"
#include "nn_grad.h"
#include "parallel.h"

#define DX_ROWS 512       /* dx block: rows */
#define DX_COLS 256       /* dx block: columns */
#define DW_ROWS 1024      /* dweight: rows of the batch per SGEMM, summed in float */
#define DW_COLS 256       /* dweight block: rows and columns */
#define BIAS_COLS 64      /* dbias columns summed together */
#define MIN_WORK 1048576  /* multiply-adds per worker: below that a thread costs more than it saves */
#define MAX_SLOTS 256     /* concurrent chunks, at most: xf_parallel_for's thread limit */

struct lin_job {
	const struct xf_linear *l;
	const float *x, *dy;
	int64_t rows;
	int64_t dx_blocks, dw_blocks;   /* blocks of DX_COLS, DW_COLS columns across `in` */
	float *dx, *dweight, *dbias;
	void *work;             /* dweight over several chunks: per slot, DW_COLS^2 floats, then DW_COLS^2 doubles */
	atomic_int next_slot;   /* hands each concurrent chunk its own slot of work */
};

static int64_t min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Items are (row block, column block) of dx: dx block += dy rows W columns, K = out. */
static void dx_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct lin_job *job = ctx;
	const struct xf_linear *l = job->l;

	for (int64_t t = begin; t < end; t++) {
		int64_t r0 = t / job->dx_blocks * DX_ROWS, i0 = t % job->dx_blocks * DX_COLS;
		int nr = (int)min(DX_ROWS, job->rows - r0), ni = (int)min(DX_COLS, l->in - i0);

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, ni, (int)l->out, 1.0f, job->dy + r0 * l->out,
			    (int)l->out, l->weight + i0, (int)l->in, 1.0f, job->dx + r0 * l->in + i0, (int)l->in);
	}
}

/* C [no, ni] (row stride ldc) = beta C + the rows [r0, r0 + nr) of dy^T x, for block (o0, i0). */
static void dweight_gemm(const struct lin_job *job, int64_t o0, int64_t i0, int no, int ni, int64_t r0, int nr,
			 float beta, float *c, int ldc)
{
	const struct xf_linear *l = job->l;

	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, nr, 1.0f, job->dy + r0 * l->out + o0, (int)l->out,
		    job->x + r0 * l->in + i0, (int)l->in, beta, c, ldc);
}

/*
 * Items are (out block, in block) of dweight. With one chunk of rows, the SGEMM adds into
 * dweight itself; otherwise each chunk's product, in order, is added to a double sum, and
 * then dweight block += sum.
 */
static void dweight_chunk(void *ctx, int64_t begin, int64_t end)
{
	struct lin_job *job = ctx;
	const struct xf_linear *l = job->l;
	float *part = NULL;
	double *sum = NULL;

	if (job->work) {
		part = (float *)job->work + (size_t)atomic_fetch_add(&job->next_slot, 1) * DW_COLS * DW_COLS * 3;
		sum = (double *)(part + DW_COLS * DW_COLS);
	}
	for (int64_t t = begin; t < end; t++) {
		int64_t o0 = t / job->dw_blocks * DW_COLS, i0 = t % job->dw_blocks * DW_COLS;
		int no = (int)min(DW_COLS, l->out - o0), ni = (int)min(DW_COLS, l->in - i0);

		if (!job->work) {
			dweight_gemm(job, o0, i0, no, ni, 0, (int)job->rows, 1.0f, job->dweight + o0 * l->in + i0,
				     (int)l->in);
			continue;
		}
		for (int k = 0; k < no * ni; k++)
			sum[k] = 0;
		for (int64_t r0 = 0; r0 < job->rows; r0 += DW_ROWS) {
			dweight_gemm(job, o0, i0, no, ni, r0, (int)min(DW_ROWS, job->rows - r0), 0.0f, part, ni);
			for (int k = 0; k < no * ni; k++)
				sum[k] += part[k];
		}
		for (int o = 0; o < no; o++)
			for (int i = 0; i < ni; i++)
				job->dweight[(o0 + o) * l->in + i0 + i] += (float)sum[o * ni + i];
	}
}

/* Column blocks of BIAS_COLS: dbias += the column sums of dy, in double, in row order. */
static void dbias_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct lin_job *job = ctx;
	int64_t out = job->l->out;

	for (int64_t b = begin; b < end; b++) {
		int64_t o0 = b * BIAS_COLS, no = min(BIAS_COLS, out - o0);
		double sum[BIAS_COLS] = { 0 };

		for (int64_t r = 0; r < job->rows; r++)
			for (int64_t o = 0; o < no; o++)
				sum[o] += job->dy[r * out + o0 + o];
		for (int64_t o = 0; o < no; o++)
			job->dbias[o0 + o] += (float)sum[o];
	}
}

/* Items per worker so that each has at least MIN_WORK multiply-adds. */
static int64_t items_per_chunk(int64_t work_per_item)
{
	int64_t n = MIN_WORK / (work_per_item > 0 ? work_per_item : 1);

	return n > 1 ? n : 1;
}

int xf_linear_backward(const struct xf_linear *l, const float *x, const float *dy, int64_t rows, float *dx,
		       float *dweight, float *dbias, int threads, struct xf_err *err)
{
	struct lin_job job = { l, x, dy, rows, (l->in + DX_COLS - 1) / DX_COLS, (l->in + DW_COLS - 1) / DW_COLS,
			       dx, dweight, dbias, NULL, 0 };
	int64_t dx_items = (rows + DX_ROWS - 1) / DX_ROWS * job.dx_blocks;
	int64_t dw_items = (l->out + DW_COLS - 1) / DW_COLS * job.dw_blocks;
	int blas_threads;

	if (l->in < 1 || l->out < 1 || rows < 0)
		return xf_err_set(err, XF_E_USAGE, "linear: %lld inputs, %lld outputs and %lld rows are not valid",
				  (long long)l->in, (long long)l->out, (long long)rows);
	if (l->in > INT_MAX || l->out > INT_MAX)
		return xf_err_set(err, XF_E_LIMIT, "linear: %lld x %lld weight exceeds the BLAS integer type",
				  (long long)l->out, (long long)l->in);
	if (rows == 0)
		return 0;
	if (dweight && rows > DW_ROWS) {
		int64_t slots = min(min(threads > 0 ? threads : xf_cores(), MAX_SLOTS), dw_items);
		size_t bytes = (size_t)slots * DW_COLS * DW_COLS * (sizeof(float) + sizeof(double));

		if (!(job.work = malloc(bytes)))
			return xf_err_nomem(err, bytes);
	}
	blas_threads = xf_nn_blas_threads(1);
	if (dx)
		xf_parallel_for(dx_items, threads, items_per_chunk(min(rows, DX_ROWS) * min(l->in, DX_COLS) * l->out),
				dx_chunk, &job);
	if (dweight)
		xf_parallel_for(dw_items, threads, items_per_chunk(rows * min(l->out, DW_COLS) * min(l->in, DW_COLS)),
				dweight_chunk, &job);
	xf_linalg_set_threads(blas_threads);
	if (dbias)
		xf_parallel_for((l->out + BIAS_COLS - 1) / BIAS_COLS, threads, items_per_chunk(rows * BIAS_COLS),
				dbias_chunk, &job);
	free(job.work);
	return 0;
}
