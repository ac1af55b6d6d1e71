/* nn_shape: axis splitting and concat; see nn_shape.h. */
#include <string.h>

#include "nn_shape.h"
#include "parallel.h"

#define MIN_CHUNK_FLOATS 65536  /* floats copied per worker: below that a thread is not worth it */

void xf_nn_split_axis(int ndim, const int64_t *shape, int axis, int64_t *outer, int64_t *dim, int64_t *inner)
{
	int a = axis < 0 ? axis + ndim : axis;

	*outer = *inner = 1;
	for (int i = 0; i < a; i++)
		*outer *= shape[i];
	*dim = shape[a];
	for (int i = a + 1; i < ndim; i++)
		*inner *= shape[i];
}

struct concat_job {
	int n_inputs;
	const float *const *x;
	const int64_t *width;
	int64_t total;  /* floats per output row */
	float *y;
};

static void concat_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct concat_job *job = ctx;

	for (int64_t r = begin; r < end; r++) {
		float *dst = job->y + r * job->total;

		for (int k = 0; k < job->n_inputs; k++) {
			memcpy(dst, job->x[k] + r * job->width[k], job->width[k] * sizeof(float));
			dst += job->width[k];
		}
	}
}

void xf_concat_forward(int n_inputs, const float *const *x, const int64_t *width, int64_t rows, float *y,
		       int threads)
{
	struct concat_job job = { n_inputs, x, width, 0, y };
	int64_t min_rows;

	for (int k = 0; k < n_inputs; k++)
		job.total += width[k];
	min_rows = MIN_CHUNK_FLOATS / (job.total > 0 ? job.total : 1);
	xf_parallel_for(rows, threads, min_rows > 1 ? min_rows : 1, concat_chunk, &job);
}
