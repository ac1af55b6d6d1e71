/* train_kernel: kernel ridge regression and its model graph; see train_kernel.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "parallel.h"
#include "train_kernel.h"

int xf_krr_check(int64_t n, int64_t d, struct xf_err *err)
{
	double matrix = 8.0 * (double)n * (double)n, rows = 8.0 * (double)n * (double)d;

	if (n > XF_KRR_MAX_ROWS)
		return xf_err_set(err, XF_E_LIMIT,
				  "krr: %lld rows: the %lld x %lld kernel matrix would take %.1f GB of doubles (%.1f GB "
				  "with the rows); at most %d rows (%.1f GB): subsample the rows (xfer-cat --rows, "
				  "xfer-prune)", (long long)n, (long long)n, (long long)n, matrix / 1e9,
				  (matrix + rows) / 1e9, XF_KRR_MAX_ROWS, 8.0 * XF_KRR_MAX_ROWS * XF_KRR_MAX_ROWS / 1e9);
	return 0;
}

/* Turning the Gram matrix G = X X^T into K, row by row. */
struct gram_job {
	const struct xf_krr_opts *o;
	int64_t n;
	const double *sq;   /* rbf: ||x_i||^2, the diagonal of G */
	double *k;          /* G in, K out */
};

static void kernel_rows(void *ctx, int64_t begin, int64_t end)
{
	const struct gram_job *job = ctx;
	const struct xf_krr_opts *o = job->o;

	for (int64_t i = begin; i < end; i++)
		for (int64_t j = 0; j < job->n; j++) {
			double *v = &job->k[i * job->n + j], d2;

			if (o->fn == XF_KERNEL_RBF) {
				d2 = job->sq[i] + job->sq[j] - 2 * *v;
				*v = exp(-o->gamma * (d2 > 0 ? d2 : 0));
			} else if (o->fn == XF_KERNEL_POLY) {
				*v = pow(o->gamma * *v + o->coef0, (double)o->degree);
			}
		}
}

/*
 * K [n, n] from x, in double. The norms are G's own diagonal, so that the distance of a row to
 * itself is exactly 0 (scikit-learn sets that diagonal to 0 explicitly).
 */
static int kernel_matrix(const float *x, int64_t n, int64_t d, const struct xf_krr_opts *o, double *k,
			 struct xf_err *err)
{
	double *xd = malloc((size_t)(n * d) * sizeof(double) + 1), *sq = malloc((size_t)n * sizeof(double) + 1);
	struct gram_job job = { o, n, sq, k };
	int rc = xd && sq ? 0 : xf_err_nomem(err, (size_t)(n * d + n) * sizeof(double));

	for (int64_t i = 0; rc == 0 && i < n * d; i++)
		xd[i] = x[i];
	rc = rc ? rc : xf_linalg_gemm(false, true, n, n, d, 1, xd, d, xd, d, 0, k, n, err);
	for (int64_t i = 0; rc == 0 && i < n; i++)
		sq[i] = k[i * n + i];
	if (rc == 0)
		xf_parallel_for(n, o->threads, 64, kernel_rows, &job);
	free(xd), free(sq);
	return rc;
}

int xf_krr_fit(const float *x, const int64_t *y, int64_t n, int64_t d, int c, const struct xf_krr_opts *o,
	       double *dual, struct xf_err *err)
{
	double *k;
	int rc;

	if (xf_krr_check(n, d, err) < 0)
		return -1;
	if (!(k = malloc((size_t)(n * n) * sizeof(double) + 1)))
		return xf_err_nomem(err, (size_t)(n * n) * sizeof(double));
	rc = kernel_matrix(x, n, d, o, k, err);
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		k[i * n + i] += o->alpha;
		for (int j = 0; j < c; j++)
			dual[i * c + j] = y[i] == j;
	}
	if (rc == 0 && xf_linalg_cholesky(k, n, err) < 0)
		rc = xf_err_set(err, XF_E_FORMAT, "krr: the kernel matrix plus %g I is not positive definite "
				"(raise --l2%s)", o->alpha, o->fn == XF_KERNEL_POLY ? ", or use a coef0 >= 0" : "");
	rc = rc ? rc : xf_linalg_cholesky_solve(k, n, dual, c, err);
	free(k);
	return rc;
}

double xf_krr_train_accuracy(const int64_t *y, int64_t n, int c, double alpha, const double *dual)
{
	int64_t right = 0;

	for (int64_t i = 0; i < n; i++) {
		int best = 0;
		double top = -INFINITY;

		for (int j = 0; j < c; j++) {
			double f = (y[i] == j) - alpha * dual[i * c + j];

			if (f > top)
				top = f, best = j;
		}
		right += best == y[i];
	}
	return n ? (double)right / (double)n : 0;
}

/* The kernel node's attrs: exactly those its function uses (graph.c rejects the others). */
static json_t *kernel_attrs(const struct xf_krr_opts *o)
{
	json_t *a = json_pack("{s:s}", "kernel", xf_kernel_fn_name(o->fn));

	if (o->fn != XF_KERNEL_LINEAR)
		json_object_set_new(a, "gamma", json_real(o->gamma));
	if (o->fn == XF_KERNEL_POLY) {
		json_object_set_new(a, "degree", json_integer(o->degree));
		json_object_set_new(a, "coef0", json_real(o->coef0));
	}
	return a;
}

static json_t *krr_graph(int ndim, const int64_t *shape, const struct xf_krr_opts *o)
{
	json_t *dims = json_array(), *nodes = json_array();
	const char *from = "x";

	for (int i = 0; i < ndim; i++)
		json_array_append_new(dims, json_integer(shape[i]));
	if (ndim != 1) {
		json_array_append_new(nodes, json_pack("{s:s, s:s, s:[s]}", "name", "flatten", "op", "flatten", "inputs", "x"));
		from = "flatten";
	}
	json_array_append_new(nodes, json_pack("{s:s, s:s, s:[s], s:o, s:{s:s}}", "name", "kernel", "op", "kernel",
					       "inputs", from, "attrs", kernel_attrs(o), "weights", "centers",
					       "kernel.centers"));
	json_array_append_new(nodes, json_pack("{s:s, s:s, s:[s], s:{s:s}}", "name", "fc", "op", "linear", "inputs",
					       "kernel", "weights", "weight", "fc.weight"));
	return json_pack("{s:{s:{s:o}}, s:o, s:[s]}", "inputs", "x", "shape", dims, "nodes", nodes, "outputs", "fc");
}

int xf_krr_build(int ndim, const int64_t *shape, const float *x, int64_t n, int c, const struct xf_krr_opts *o,
		 const double *dual, struct xf_model *m, struct xf_err *err)
{
	int64_t d = xf_shape_count(ndim, shape), shapes[2][XF_MAX_DIMS] = { { n, d }, { c, n } };
	const char *names[2] = { "kernel.centers", "fc.weight" };
	int ndims[2] = { 2, 2 };
	json_t *graph = krr_graph(ndim, shape, o);

	if (!graph)
		return xf_err_nomem(err, 0);
	if (xf_model_create(graph, 2, names, ndims, shapes, m, err) < 0)
		return -1;
	memcpy(m->weights[0], x, (size_t)(n * d) * sizeof(float));
	for (int j = 0; j < c; j++)
		for (int64_t i = 0; i < n; i++)
			m->weights[1][j * n + i] = (float)dual[i * c + j];
	return 0;
}
