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

int xf_linear_forward(const struct xf_linear *l, const float *x, int64_t rows, float *y, int threads,
		      struct xf_err *err)
{
	int blas_threads;

	if (l->in < 1 || l->out < 1 || rows < 0)
		return xf_err_set(err, XF_E_USAGE, "linear: %lld inputs, %lld outputs and %lld rows are not valid",
				  (long long)l->in, (long long)l->out, (long long)rows);
	if (l->in > INT_MAX || l->out > INT_MAX)
		return xf_err_set(err, XF_E_LIMIT, "linear: %lld x %lld weight exceeds the BLAS integer type",
				  (long long)l->out, (long long)l->in);
	if (l->bias)
		fill_bias(l, rows, y);
	blas_threads = xf_nn_blas_threads(threads);
	for (int64_t r = 0; r < rows; r += INT_MAX) {
		int n = rows - r < INT_MAX ? (int)(rows - r) : INT_MAX;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, (int)l->out, (int)l->in, 1.0f, x + r * l->in,
			    (int)l->in, l->weight, (int)l->in, l->bias ? 1.0f : 0.0f, y + r * l->out, (int)l->out);
	}
	xf_linalg_set_threads(blas_threads);
	return 0;
}
