/*
 * knn: exact k nearest neighbours; see knn.h. Each worker claims a block of rows, and for
 * every tile of columns computes -2 X_block X_tile^T with single-threaded GEMM and offers
 * the resulting distances to the block's rows' heaps, which live in the output arrays
 * themselves: a max-heap of k (distance, index) pairs per row whose root is the current k-th
 * nearest, so most candidates cost one comparison with the root. A row's heap only ever
 * sees that row's GEMM tiles, whoever computes them, hence results that do not depend on
 * the thread count.
 *
 * Why workers with single-threaded GEMM rather than one multi-threaded GEMM per block and
 * threaded selection: on 2 cores they tie at n = 10000, d = 1024 (GEMM-bound, 2.2 s), and
 * at n = 70000, d = 50, k = 90 the workers took 13 s against 16 s, likely because each
 * worker's selection reads a tile still in its cache rather than a block x n buffer.
 */
#include <cblas.h>      /* openblas_get_num_threads, to restore the caller's setting */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "knn.h"
#include "linalg.h"

#define KNN_MAX_THREADS 256

struct knn_job {
	const double *x;
	int64_t n, d, k;
	const double *norms;   /* n squared row norms */
	int64_t *idx;          /* n x k: heaps while searching, sorted lists after */
	double *dist2;
	atomic_llong next;     /* first row of the next unclaimed block */
	atomic_bool failed;
};

struct knn_worker {
	struct knn_job *job;
	double *tile;          /* XF_KNN_BLOCK x XF_KNN_TILE GEMM output */
	struct xf_err err;
	int rc;
};

/* Whether (da, ia) comes after (db, ib): farther, or as far with a higher index. */
static inline bool after(double da, int64_t ia, double db, int64_t ib)
{
	return da > db || (da == db && ia > ib);
}

/* Restore the max-heap order (by `after`) of hd/hi[0..k) below position p. */
static void sift_down(double *hd, int64_t *hi, int64_t k, int64_t p)
{
	double d = hd[p];
	int64_t id = hi[p];

	for (int64_t c; (c = 2 * p + 1) < k; p = c) {
		if (c + 1 < k && after(hd[c + 1], hi[c + 1], hd[c], hi[c]))
			c++;
		if (!after(hd[c], hi[c], d, id))
			break;
		hd[p] = hd[c];
		hi[p] = hi[c];
	}
	hd[p] = d;
	hi[p] = id;
}

/* Heap sort in place: the root is the largest, so repeatedly moving it to the end sorts ascending. */
static void sort_heap(double *hd, int64_t *hi, int64_t k)
{
	for (int64_t end = k - 1; end > 0; end--) {
		double d = hd[0];
		int64_t id = hi[0];

		hd[0] = hd[end];
		hi[0] = hi[end];
		hd[end] = d;
		hi[end] = id;
		sift_down(hd, hi, end, 0);
	}
}

/*
 * Offer row `self`'s distances to columns c0..c0+cols (g holds -2 a.b for each) to its heap.
 * Columns arrive in ascending order, so a candidate as far as the root enters only while
 * the root is still a sentinel (index INT64_MAX); `after` decides that case. The raw
 * value is never above the clipped one, so rejecting on it first is safe.
 */
static void offer_row(const double *g, const double *norms, int64_t c0, int64_t cols, double ni, int64_t self,
		      double *hd, int64_t *hi, int64_t k)
{
	for (int64_t j = 0; j < cols; j++) {
		double v = ni + norms[c0 + j] + g[j];

		if (!(v <= hd[0]))
			continue;
		v = v > 0 ? v : 0;
		if (c0 + j != self && after(hd[0], hi[0], v, c0 + j)) {
			hd[0] = v;
			hi[0] = c0 + j;
			sift_down(hd, hi, k, 0);
		}
	}
}

/* Rows r0..r0+rows against every column, tile by tile, then each row's heap sorted. */
static int search_block(struct knn_job *job, int64_t r0, int64_t rows, double *tile, struct xf_err *err)
{
	int64_t n = job->n, d = job->d, k = job->k, ld = d > 0 ? d : 1;

	for (int64_t c0 = 0; c0 < n; c0 += XF_KNN_TILE) {
		int64_t cols = n - c0 < XF_KNN_TILE ? n - c0 : XF_KNN_TILE;

		if (xf_linalg_gemm(false, true, rows, cols, d, -2.0, job->x + r0 * d, ld, job->x + c0 * d, ld, 0.0,
				   tile, XF_KNN_TILE, err) < 0)
			return -1;
		for (int64_t r = 0; r < rows; r++)
			offer_row(tile + r * XF_KNN_TILE, job->norms, c0, cols, job->norms[r0 + r], r0 + r,
				  job->dist2 + (r0 + r) * k, job->idx + (r0 + r) * k, k);
	}
	for (int64_t r = r0; r < r0 + rows; r++)
		sort_heap(job->dist2 + r * k, job->idx + r * k, k);
	return 0;
}

static void *worker_run(void *arg)
{
	struct knn_worker *w = arg;
	struct knn_job *job = w->job;
	long long r0;

	while (!atomic_load(&job->failed) && (r0 = atomic_fetch_add(&job->next, XF_KNN_BLOCK)) < job->n) {
		int64_t rows = job->n - r0 < XF_KNN_BLOCK ? job->n - r0 : XF_KNN_BLOCK;

		if ((w->rc = search_block(job, r0, rows, w->tile, &w->err)) < 0)
			atomic_store(&job->failed, true);
	}
	return NULL;
}

/*
 * Run the workers (w[0] in the calling thread) with OpenBLAS single-threaded, so that they
 * do not compete with its pool and every GEMM takes the same path; the caller's setting is
 * restored after. A thread that cannot be started leaves its blocks to the others.
 */
static int run_workers(struct knn_worker *w, int threads, struct xf_err *err)
{
	pthread_t tid[KNN_MAX_THREADS];
	bool started[KNN_MAX_THREADS] = { false };
	int blas_threads = openblas_get_num_threads();

	xf_linalg_set_threads(1);
	for (int t = 1; t < threads; t++)
		started[t] = !pthread_create(&tid[t], NULL, worker_run, &w[t]);
	worker_run(&w[0]);
	for (int t = 1; t < threads; t++)
		if (started[t])
			pthread_join(tid[t], NULL);
	xf_linalg_set_threads(blas_threads);
	for (int t = 0; t < threads; t++)
		if (w[t].rc < 0) {
			*err = w[t].err;
			return -1;
		}
	return 0;
}

/* Squared row norms; refused when one is not finite or a sum of two could overflow. */
static double *row_norms(const double *x, int64_t n, int64_t d, struct xf_err *err)
{
	double *norms = malloc((size_t)n * sizeof(*norms));

	if (!norms) {
		xf_err_nomem(err, (size_t)n * sizeof(*norms));
		return NULL;
	}
	for (int64_t i = 0; i < n; i++) {
		double s = 0;

		for (int64_t j = 0; j < d; j++)
			s += x[i * d + j] * x[i * d + j];
		if (!(s <= DBL_MAX / 4)) {
			xf_err_set(err, XF_E_FORMAT, "row %lld: its squared norm is %s", (long long)i,
				   isnan(s) ? "NaN" : "too large");
			free(norms);
			return NULL;
		}
		norms[i] = s;
	}
	return norms;
}

/* 0 means all cores; never more workers than blocks. */
static int worker_count(int threads, int64_t n)
{
	int64_t blocks = (n + XF_KNN_BLOCK - 1) / XF_KNN_BLOCK;
	long t = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);

	t = t < 1 ? 1 : t > KNN_MAX_THREADS ? KNN_MAX_THREADS : t;
	return (int)(t < blocks ? t : blocks);
}

static int search(struct knn_job *job, int threads, struct xf_err *err)
{
	struct knn_worker *w = calloc((size_t)threads, sizeof(*w));
	size_t tile = (size_t)XF_KNN_BLOCK * XF_KNN_TILE * sizeof(double);
	int rc = 0;

	if (!w)
		return xf_err_nomem(err, (size_t)threads * sizeof(*w));
	for (int t = 0; t < threads && rc == 0; t++) {
		w[t] = (struct knn_worker){ .job = job, .tile = malloc(tile), .err = XF_ERR_INIT };
		if (!w[t].tile)
			rc = xf_err_nomem(err, tile);
	}
	if (rc == 0)
		rc = run_workers(w, threads, err);
	for (int t = 0; t < threads; t++)
		free(w[t].tile);
	free(w);
	return rc;
}

int xf_knn_exact(const double *x, int64_t n, int64_t d, int64_t k, int threads, int64_t *idx, double *dist2,
		 struct xf_err *err)
{
	struct knn_job job = { .x = x, .n = n, .d = d, .k = k, .idx = idx, .dist2 = dist2 };
	double *norms;
	int rc;

	if (k < 1 || k >= n)
		return xf_err_set(err, XF_E_USAGE, "%lld nearest neighbours of %lld rows: need 1 <= k < rows",
				  (long long)k, (long long)n);
	if (d < 0 || d > INT_MAX || n > INT_MAX)
		return xf_err_set(err, XF_E_LIMIT, "%lld x %lld rows are too large for the BLAS integer type",
				  (long long)n, (long long)d);
	if (!(norms = row_norms(x, n, d, err)))
		return -1;
	job.norms = norms;
	/* sentinels: farther than anything, so the first k real candidates replace them */
	for (int64_t i = 0; i < n * k; i++) {
		dist2[i] = INFINITY;
		idx[i] = INT64_MAX;
	}
	rc = search(&job, worker_count(threads, n), err);
	free(norms);
	return rc;
}
