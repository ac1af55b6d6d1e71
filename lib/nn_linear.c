/* nn_linear: the linear layer as one SGEMM; see nn_linear.h. */
#include <cblas.h>
#include <limits.h>

#include "linalg.h"
#include "nn_linear.h"
#include "parallel.h"

int xf_nn_blas_threads(int threads)
{
	int old = openblas_get_num_threads();

	xf_linalg_set_threads(threads > 0 ? threads : xf_cores());
	return old;
}

/* y rows start as the bias so that the GEMM can accumulate onto them (beta = 1). */
static void fill_bias(const struct xf_linear *l, int64_t rows, float *y)
{
	for (int64_t r = 0; r < rows; r++)
		for (int64_t o = 0; o < l->out; o++)
			y[r * l->out + o] = l->bias[o];
}

#define OUT_BLOCK 64           /* output features per work item */
#define ROW_BLOCK (1 << 20)    /* rows per SGEMM call, within the BLAS integer type */

struct forward_job {
	const struct xf_linear *l;
	const float *x;
	int64_t rows;
	float *y;
};

/* Output features [OUT_BLOCK item, ...) of every row, by single-threaded SGEMM. */
static void forward_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct forward_job *j = ctx;
	const struct xf_linear *l = j->l;

	for (int64_t item = begin; item < end; item++) {
		int64_t o0 = item * OUT_BLOCK, width = l->out - o0 < OUT_BLOCK ? l->out - o0 : OUT_BLOCK;

		for (int64_t r = 0; r < j->rows; r += ROW_BLOCK) {
			int n = (int)(j->rows - r < ROW_BLOCK ? j->rows - r : ROW_BLOCK);

			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, (int)width, (int)l->in, 1.0f,
				    j->x + r * l->in, (int)l->in, l->weight + o0 * l->in, (int)l->in, l->bias ? 1.0f : 0.0f,
				    j->y + r * l->out + o0, (int)l->out);
		}
	}
}

int xf_linear_forward(const struct xf_linear *l, const float *x, int64_t rows, float *y, int threads,
		      struct xf_err *err)
{
	struct forward_job job = { l, x, rows, y };
	int64_t items = (l->out + OUT_BLOCK - 1) / OUT_BLOCK;
	int blas_threads;

	if (l->in < 1 || l->out < 1 || rows < 0)
		return xf_err_set(err, XF_E_USAGE, "linear: %lld inputs, %lld outputs and %lld rows are not valid",
				  (long long)l->in, (long long)l->out, (long long)rows);
	if (l->in > INT_MAX || l->out > INT_MAX)
		return xf_err_set(err, XF_E_LIMIT, "linear: %lld x %lld weight exceeds the BLAS integer type",
				  (long long)l->out, (long long)l->in);
	if (l->bias)
		fill_bias(l, rows, y);
	blas_threads = xf_nn_blas_threads(1);
	xf_parallel_for(items, threads, 1, forward_chunk, &job);
	xf_linalg_set_threads(blas_threads);
	return 0;
}
