/*
 * score_tmi: TMI (Xu & Kang 2023), the conditional entropy H(X|Y) from Kozachenko-Leonenko
 * kNN entropies in the max-norm, exactly as the official code computes it (docs/scores.md
 * section 8): k = 3, distances floored at 1.0, classes with 2..k samples dropped, the sum
 * divided by the number of kept classes. The kNN search is brute force within each class,
 * made cheap by exact lower bounds: for each point, the dimensions where it lies furthest
 * from its class mean are compared first, and a candidate is dropped as soon as it cannot
 * be among the k nearest. Points are shared among threads; the value does not depend on them.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "score_metrics.h"

#define TMI_K 3               /* neighbours */
#define TMI_MIN_DIST 1.0      /* floor on the k-th neighbour distance (the official TMI default) */
#define TMI_BLOCK 16          /* dimensions between early-exit checks */
#define TMI_CHUNK 8           /* points a worker claims at a time */
#define TMI_LISTED 32         /* most deviant dimensions listed per point, compared first */
#define TMI_MAX_THREADS 8
#define TMI_THREAD_WORK (1 << 22)  /* n_c^2 d below which a class is searched in the calling thread */

/*
 * psi(x) for x > 0: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the
 * asymptotic series ln x - 1/(2x) - sum B_2k / (2k x^2k) to the x^-14 term (the next term
 * is below 5e-17 at x = 10; starting at x >= 6 would leave errors near 1e-13).
 */
double xf_score_digamma(double x)
{
	double shift = 0, z;

	if (!(x > 0))
		return NAN;
	for (; x < 10; x += 1)
		shift += 1 / x;
	z = 1 / (x * x);
	return log(x) - 0.5 / x - shift
	       - z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132
	       - z * (691.0 / 32760 - z * (1.0 / 12)))))));
}

#ifdef __SSE2__
/* max(m, max_j |a_j - b_j|) over one block of TMI_BLOCK dimensions, two at a time. */
static double block_max(const double *a, const double *b, double m)
{
	const __m128d sign = _mm_set1_pd(-0.0);
	__m128d m0 = _mm_set1_pd(m), m1 = m0;

	for (int u = 0; u < TMI_BLOCK; u += 4) {
		m0 = _mm_max_pd(m0, _mm_andnot_pd(sign, _mm_sub_pd(_mm_loadu_pd(a + u), _mm_loadu_pd(b + u))));
		m1 = _mm_max_pd(m1, _mm_andnot_pd(sign, _mm_sub_pd(_mm_loadu_pd(a + u + 2), _mm_loadu_pd(b + u + 2))));
	}
	m0 = _mm_max_pd(m0, m1);
	return _mm_cvtsd_f64(_mm_max_sd(m0, _mm_unpackhi_pd(m0, m0)));
}

/* lb[j] = max(lb[j], |v - col[j]|) for j < n, two at a time. */
static void raise_bounds(double *lb, const double *col, double v, int64_t n)
{
	const __m128d sign = _mm_set1_pd(-0.0), vv = _mm_set1_pd(v);
	int64_t j = 0;

	for (; j + 2 <= n; j += 2)
		_mm_storeu_pd(lb + j, _mm_max_pd(_mm_loadu_pd(lb + j),
						  _mm_andnot_pd(sign, _mm_sub_pd(vv, _mm_loadu_pd(col + j)))));
	for (; j < n; j++) {
		double t = fabs(v - col[j]);

		lb[j] = t > lb[j] ? t : lb[j];
	}
}
#else
static double block_max(const double *a, const double *b, double m)
{
	for (int u = 0; u < TMI_BLOCK; u++) {
		double v = fabs(a[u] - b[u]);

		m = v > m ? v : m;
	}
	return m;
}

static void raise_bounds(double *lb, const double *col, double v, int64_t n)
{
	for (int64_t j = 0; j < n; j++) {
		double t = fabs(v - col[j]);

		lb[j] = t > lb[j] ? t : lb[j];
	}
}
#endif

/*
 * max_j |a_j - b_j| given a lower bound m, or some value >= bound as soon as the running
 * maximum reaches it. The dimensions top_b (listed of them), where b deviates most, come first.
 */
static double chebyshev_until(const double *a, const double *b, int64_t d, const int32_t *top_b, int listed,
			      double m, double bound)
{
	int64_t j = 0;

	for (int t = 0; t < listed && m < bound; t++) {
		double v = fabs(a[top_b[t]] - b[top_b[t]]);

		m = v > m ? v : m;
	}
	if (m >= bound)
		return m;
	for (; j + TMI_BLOCK <= d; j += TMI_BLOCK)
		if ((m = block_max(a + j, b + j, m)) >= bound)
			return m;
	for (; j < d; j++) {
		double v = fabs(a[j] - b[j]);

		m = v > m ? v : m;
	}
	return m;
}

/* Put dist into best[0..TMI_K-1] (ascending) if it is smaller than the last entry. */
static void offer(double *best, double dist)
{
	int t;

	if (!(dist < best[TMI_K - 1]))
		return;
	for (t = TMI_K - 1; t > 0 && best[t - 1] > dist; t--)
		best[t] = best[t - 1];
	best[t] = dist;
}

/* One class's search, shared by its workers, which claim points TMI_CHUNK at a time. */
struct knn_class {
	double *x;             /* n x d class points, row by row */
	double *xt;            /* the same points dimension by dimension (d x n) */
	double *mu;            /* d class means */
	int64_t n, d;
	int listed;            /* dimensions listed per point; 0 when d is too small to bother */
	int32_t *top;          /* n x listed: each point's dimensions by decreasing |x - mu| */
	double *eps;           /* n results */
	atomic_llong next;     /* first point not yet claimed in the current phase */
};

struct knn_worker {
	struct knn_class *k;
	double *lb;            /* n lower bounds on the distances from the current point */
};

/* The `listed` dimensions where point i lies furthest from its class mean, furthest first. */
static void list_deviant_dims(const struct knn_class *k, int64_t i)
{
	const double *row = k->x + i * k->d;
	int32_t *top = k->top + i * k->listed;
	double dev[TMI_LISTED];
	int filled = 0;

	for (int64_t j = 0; j < k->d; j++) {
		double v = fabs(row[j] - k->mu[j]);
		int t;

		if (filled == k->listed && !(v > dev[k->listed - 1]))
			continue;
		for (t = filled < k->listed ? filled++ : k->listed - 1; t > 0 && dev[t - 1] < v; t--) {
			dev[t] = dev[t - 1];
			top[t] = top[t - 1];
		}
		dev[t] = v;
		top[t] = (int32_t)j;
	}
}

/*
 * eps_i = max(distance from point i to its k-th nearest other point, TMI_MIN_DIST).
 * First a lower bound on every distance from the dimensions where point i deviates most,
 * which is where a distant candidate most likely shows it; those columns are contiguous in
 * xt, so this pass streams. Then the candidates in order: one whose bound is no smaller
 * than the current k-th best is skipped, the others are measured with an early exit, and
 * the scan stops once the k-th best is at or below the floor, since nothing can change
 * eps_i after that. The result is exact whatever the scan order.
 */
static double search_point(const struct knn_class *k, int64_t i, double *lb)
{
	const double *a = k->x + i * k->d;
	double best[TMI_K];

	memset(lb, 0, (size_t)k->n * sizeof(*lb));
	for (int t = 0; t < k->listed; t++) {
		int32_t j = k->top[i * k->listed + t];

		raise_bounds(lb, k->xt + j * k->n, a[j], k->n);
	}
	for (int t = 0; t < TMI_K; t++)
		best[t] = INFINITY;
	for (int64_t j = 0; j < k->n && best[TMI_K - 1] > TMI_MIN_DIST; j++)
		if (j != i && lb[j] < best[TMI_K - 1])
			offer(best, chebyshev_until(a, k->x + j * k->d, k->d, k->top + j * k->listed, k->listed, lb[j],
						    best[TMI_K - 1]));
	return fmax(best[TMI_K - 1], TMI_MIN_DIST);
}

static void *list_worker(void *arg)
{
	struct knn_class *k = ((struct knn_worker *)arg)->k;
	long long start;

	while ((start = atomic_fetch_add(&k->next, TMI_CHUNK)) < k->n)
		for (int64_t i = start; i < k->n && i < start + TMI_CHUNK; i++)
			list_deviant_dims(k, i);
	return NULL;
}

static void *search_worker(void *arg)
{
	struct knn_worker *w = arg;
	struct knn_class *k = w->k;
	long long start;

	while ((start = atomic_fetch_add(&k->next, TMI_CHUNK)) < k->n)
		for (int64_t i = start; i < k->n && i < start + TMI_CHUNK; i++)
			k->eps[i] = search_point(k, i, w->lb);
	return NULL;
}

/*
 * Run fn with up to `threads` workers (w[0] in the calling thread). Each point's result is
 * independent of who computes it, so the output does not depend on the thread count; a
 * thread that cannot be started leaves its share to the others.
 */
static void run_workers(void *(*fn)(void *), struct knn_worker *w, int threads)
{
	pthread_t tid[TMI_MAX_THREADS];
	int started[TMI_MAX_THREADS] = { 0 };

	atomic_store(&w[0].k->next, 0);
	for (int t = 1; t < threads; t++)
		started[t] = !pthread_create(&tid[t], NULL, fn, &w[t]);
	fn(&w[0]);
	for (int t = 1; t < threads; t++)
		if (started[t])
			pthread_join(tid[t], NULL);
}

static void knn_search(struct knn_worker *w, int threads)
{
	struct knn_class *k = w[0].k;

	if ((double)k->n * (double)k->n * (double)k->d < TMI_THREAD_WORK)
		threads = 1;
	if (k->listed)
		run_workers(list_worker, w, threads);
	run_workers(search_worker, w, threads);
}

/*
 * Copy the class's rows, centred by the global mean as the official code does, into
 * k->x and k->xt, and their mean into k->mu.
 */
static void gather_class(const struct xf_score_data *data, const double *mean, int64_t label, struct knn_class *k)
{
	int64_t d = data->d, r = 0;

	memset(k->mu, 0, (size_t)d * sizeof(*k->mu));
	for (int64_t i = 0; i < data->n; i++) {
		if (data->y[i] != label)
			continue;
		for (int64_t j = 0; j < d; j++) {
			double v = data->f[i * d + j] - mean[j];

			k->x[r * d + j] = k->xt[j * k->n + r] = v;
			k->mu[j] += v;
		}
		r++;
	}
	for (int64_t j = 0; j < d; j++)
		k->mu[j] /= (double)k->n;
}

/* H_c = -psi(k) + psi(n_c) + (d / n_c) sum_i log(2 eps_i), summed in point order. */
static double class_entropy(const double *eps, int64_t n_c, int64_t d)
{
	double sum_log = 0;

	for (int64_t i = 0; i < n_c; i++)
		sum_log += log(2 * eps[i]);
	return -xf_score_digamma(TMI_K) + xf_score_digamma((double)n_c) + ((double)d / (double)n_c) * sum_log;
}

/* Buffers for the largest class and `threads` workers; false (some left NULL) when an allocation failed. */
static bool knn_alloc(struct knn_class *k, struct knn_worker *w, int64_t largest, int threads)
{
	size_t points = (size_t)largest * (size_t)k->d;
	bool all;

	k->x = malloc(points * sizeof(*k->x));
	k->xt = malloc(points * sizeof(*k->xt));
	k->mu = malloc((size_t)k->d * sizeof(*k->mu));
	k->top = malloc((size_t)largest * (size_t)k->listed * sizeof(*k->top) + 1);
	k->eps = malloc((size_t)largest * sizeof(*k->eps));
	all = k->x && k->xt && k->mu && k->top && k->eps;
	for (int t = 0; t < threads; t++) {
		w[t] = (struct knn_worker){ k, malloc((size_t)largest * sizeof(*w[t].lb)) };
		all &= w[t].lb != NULL;
	}
	return all;
}

static void knn_free(struct knn_class *k, struct knn_worker *w, int threads)
{
	free(k->x);
	free(k->xt);
	free(k->mu);
	free(k->top);
	free(k->eps);
	for (int t = 0; t < threads; t++)
		free(w[t].lb);
}

/* Sum of p_c H_c over the classes with more than k samples; the largest class sizes the buffers. */
static int tmi_sum(const struct xf_score_data *data, const double *mean, const int64_t *counts, int threads,
		   double *sum, struct xf_err *err)
{
	struct knn_class k = { .d = data->d };
	struct knn_worker w[TMI_MAX_THREADS];
	int64_t largest = 0;

	if (data->d >= 2 * TMI_LISTED && data->d <= INT32_MAX)
		k.listed = TMI_LISTED;
	for (int64_t c = 0; c < data->c; c++)
		largest = counts[c] > largest ? counts[c] : largest;
	threads = threads < 1 ? 1 : threads > TMI_MAX_THREADS ? TMI_MAX_THREADS : threads;
	if (!knn_alloc(&k, w, largest, threads)) {
		knn_free(&k, w, threads);
		return xf_err_nomem(err, 2 * (size_t)largest * (size_t)data->d * sizeof(double));
	}
	*sum = 0;
	for (int64_t c = 0; c < data->c; c++) {
		if ((k.n = counts[c]) <= TMI_K)
			continue;
		gather_class(data, mean, c, &k);
		knn_search(w, threads);
		*sum += ((double)counts[c] / (double)data->n) * class_entropy(k.eps, counts[c], data->d);
	}
	knn_free(&k, w, threads);
	return 0;
}

int xf_score_tmi(const struct xf_score_data *data, struct xf_score_cache *cache, int threads, double *out,
		 struct xf_err *err)
{
	const int64_t *counts = xf_score_counts(cache, err);
	const double *mean = counts ? xf_score_mean(cache, err) : NULL;
	int64_t kept = 0;
	double sum = 0;

	if (!mean)
		return -1;
	/* classes with 0 or 1 samples count with H_c = 0; with 2..k the official H_c is inf and they drop out */
	for (int64_t c = 0; c < data->c; c++)
		kept += counts[c] <= 1 || counts[c] > TMI_K;
	if (!kept)
		return xf_err_set(err, XF_E_FORMAT,
				  "every class has 2 to %d samples, too few for the k = %d nearest neighbours",
				  TMI_K, TMI_K);
	if (tmi_sum(data, mean, counts, threads, &sum, err) < 0)
		return -1;
	*out = sum / (double)kept;
	return 0;
}

XF_METRIC_FN(xf_metric_tmi)
{
	long cpus = data->threads > 0 ? data->threads : sysconf(_SC_NPROCESSORS_ONLN);

	return xf_score_tmi(data, cache, cpus < 1 ? 1 : cpus > TMI_MAX_THREADS ? TMI_MAX_THREADS : (int)cpus, out, err);
}
