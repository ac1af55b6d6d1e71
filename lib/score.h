/*
 * score: transferability metrics (xfer-score). The exact definitions, with the points where
 * papers and reference code disagree, are in docs/scores.md; every metric here follows the
 * variant named first there. Higher is better unless the metric's table entry says otherwise.
 *
 * Metrics read one struct xf_score_data (double precision) and share expensive work through
 * a struct xf_score_cache (centred Gram matrix, class means, eigendecompositions), computed
 * the first time a metric asks for it.
 */
#ifndef XF_SCORE_H
#define XF_SCORE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct xf_score_data {
	int64_t n;            /* rows */
	int64_t d;            /* feature dimensions; 0 when there are no features */
	const double *f;      /* n x d features, row-major, finite; NULL when d = 0 */
	const int64_t *y;     /* n labels in 0..c-1, or NULL */
	int64_t c;            /* number of classes: max(y) + 1 */
	const double *p;      /* n x cs source-model probabilities (rows sum to 1), or NULL */
	int64_t cs;           /* source classes */
	int threads;          /* workers for metrics that split their own loops (0: all cores) */
};

enum xf_score_needs { XF_NEEDS_F = 1 << 0, XF_NEEDS_Y = 1 << 1, XF_NEEDS_P = 1 << 2 };

struct xf_score_cache;

/* A metric: compute fills *out or returns -1 with err. */
struct xf_metric {
	const char *name;           /* as given to --metric */
	unsigned needs;             /* enum xf_score_needs bits */
	bool higher_is_better;
	const char *summary;        /* one line for --help and docs */
	int (*compute)(const struct xf_score_data *data, struct xf_score_cache *cache, double *out,
		       struct xf_err *err);
	bool reducible;             /* computable from merged partial statistics (xf_score_stats) */
};

/*
 * LEEP's expected empirical prediction of every row (n values into eep): the mean of its
 * logs is LEEP; ensembles of source models average or multiply them (score_ensemble.h).
 */
int xf_score_leep_eep(const struct xf_score_data *data, double *eep, struct xf_err *err);

/* The table of metrics, in the order --metric all computes them; NULL-name terminated. */
extern const struct xf_metric xf_metrics[];
const struct xf_metric *xf_metric_find(const char *name);

/*
 * Check data for a metric's needs: labels present and in range with at least two classes
 * populated, features finite, probabilities non-negative with rows summing to 1 within
 * XF_SCORE_P_TOLERANCE. Returns -1 with a message naming the problem.
 */
#define XF_SCORE_P_TOLERANCE 1e-3
int xf_score_check(const struct xf_score_data *data, unsigned needs, struct xf_err *err);

struct xf_score_cache *xf_score_cache_new(const struct xf_score_data *data, struct xf_err *err);
/* xf_score_check on the cache's data, each need checked once and its verdict remembered. */
int xf_score_cache_check(struct xf_score_cache *cache, unsigned needs, struct xf_err *err);
void xf_score_cache_free(struct xf_score_cache *cache);

/*
 * Shared pieces, computed on first request and kept until the cache is freed; NULL with err
 * on failure. Shapes: counts[c]; class_means[c x d] (zero rows for empty classes); mean[d];
 * centred[n x d] = F - mean; scatter[d x d] = centred^T centred (the centred Gram);
 * scatter_eig: eigenvalues ascending (w[d]) and eigenvectors as columns (v[d x d]) of scatter.
 */
const int64_t *xf_score_counts(struct xf_score_cache *cache, struct xf_err *err);
const double *xf_score_class_means(struct xf_score_cache *cache, struct xf_err *err);
const double *xf_score_mean(struct xf_score_cache *cache, struct xf_err *err);
const double *xf_score_centred(struct xf_score_cache *cache, struct xf_err *err);
const double *xf_score_scatter(struct xf_score_cache *cache, struct xf_err *err);
int xf_score_scatter_eig(struct xf_score_cache *cache, const double **w, const double **v, struct xf_err *err);
/*
 * sum_c n_c m_c^T pinv(a S + b I) m_c, with m_c the centred class means (empty classes add
 * nothing) and S the scatter; pinv drops eigenvalues below rcond times the largest, as numpy's
 * does. This is the trace of pinv(.) times the between-class scatter, shared by the H-scores.
 */
int xf_score_between_trace(struct xf_score_cache *cache, double a, double b, double rcond, double *out,
			   struct xf_err *err);
/* Per class and dimension, the sum of squared deviations from the class mean (c x d). */
const double *xf_score_class_m2(struct xf_score_cache *cache, struct xf_err *err);
/* Rows with label y and source prediction z (first argmax of p): c x cs counts. */
const int64_t *xf_score_joint(struct xf_score_cache *cache, struct xf_err *err);
/* The sum over rows of -log P[label] as nll clips it (one value; NaN if a label has no column in P). */
const double *xf_score_nll_sum(struct xf_score_cache *cache, struct xf_err *err);

/*
 * Sufficient statistics of one candidate's rows, for --partial and --reduce: what the
 * reducible metrics need, merged exactly (pairwise update of means and scatters) across
 * shards. Arrays are owned by the struct; absent parts are NULL (no features, no p).
 */
struct xf_score_stats {
	int64_t n, c, d, cs;        /* rows, classes (max label + 1), feature dims, source classes */
	int64_t *counts;            /* c */
	double *mean;               /* d */
	double *class_means;        /* c x d */
	double *scatter;            /* d x d, about mean */
	double *class_m2;           /* c x d, about each class mean */
	int64_t *joint;             /* c x cs */
	double *nll_sum;            /* 1: sum over rows of nll's term */
};

/* Take a candidate's statistics from its cache (computing what is missing). */
int xf_score_stats_take(struct xf_score_cache *cache, struct xf_score_stats *out, struct xf_err *err);
/* Merge b into a (class counts may differ; dimensions must agree). */
int xf_score_stats_merge(struct xf_score_stats *a, const struct xf_score_stats *b, struct xf_err *err);
void xf_score_stats_release(struct xf_score_stats *s);
/*
 * A cache answering from statistics (which it takes over; *s is emptied), with data describing
 * them (n, c, d, cs; no rows). Only reducible metrics may be computed from it.
 */
struct xf_score_cache *xf_score_cache_from_stats(struct xf_score_stats *s, struct xf_score_data *data,
						 struct xf_err *err);

/*
 * Eigenvalues w (ascending, d) of the uncentred Gram F^T F (= scatter + n mean mean^T), and
 * the class sums projected on its eigenvectors: z = V^T S^T (d x c, S[k] = sum of class k's
 * rows). All LogME needs of F when N > D, without forming V.
 */
int xf_score_gram_projection(struct xf_score_cache *cache, const double **w, const double **z, struct xf_err *err);

#endif
