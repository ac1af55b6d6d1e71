/*
 * score_metrics: the metric functions behind xf_metrics[] (score.c), one file per family.
 * Internal to lib/; programs use the table in score.h.
 */
#ifndef XF_SCORE_METRICS_H
#define XF_SCORE_METRICS_H

#include "score.h"

/* Index of the largest of p[0..n), the first on ties (numpy's argmax). */
int64_t xf_score_argmax(const double *p, int64_t n);

#define XF_METRIC_FN(name) \
	int name(const struct xf_score_data *data, struct xf_score_cache *cache, double *out, struct xf_err *err)

/* score_logme.c */
XF_METRIC_FN(xf_metric_logme);
XF_METRIC_FN(xf_metric_logme_exact);
/* score_hscore.c */
XF_METRIC_FN(xf_metric_hscore);
/* score_shrinkage.c */
XF_METRIC_FN(xf_metric_hscore_shrinkage);
/* score_sfda.c */
XF_METRIC_FN(xf_metric_sfda);
/* score_prob.c */
XF_METRIC_FN(xf_metric_leep);
XF_METRIC_FN(xf_metric_nce);
XF_METRIC_FN(xf_metric_accuracy);
XF_METRIC_FN(xf_metric_nll);
/* nll's sum over the rows of data (NaN when a label has no column in P). */
double xf_score_nll_rows(const struct xf_score_data *data);
/* score_nleep.c */
XF_METRIC_FN(xf_metric_nleep);
/* PCA dimensions N-LEEP keeps: the fewest top eigenvalues of w (d, ascending) whose share of the sum is > 0.8. */
int64_t xf_score_pca_keep(const double *w, int64_t d);
/*
 * N-LEEP's farthest-point initialisation of m centres over the n x k rows x: centre row indices
 * into centres[m], each row's nearest centre (first on ties) into assign[n]; scratch: n + k doubles.
 */
void xf_score_nleep_init(const double *x, int64_t n, int64_t k, int64_t m, double *scratch, int64_t *centres,
			 int64_t *assign);
/* The n x m posteriors of N-LEEP's mixture fitted to x (n x k), and the EM iterations run. */
int xf_score_nleep_posteriors(const double *x, int64_t n, int64_t k, int64_t m, double *post, int *iters,
			      struct xf_err *err);
/* score_gbc.c */
XF_METRIC_FN(xf_metric_gbc);
XF_METRIC_FN(xf_metric_gbc_spherical);
/* score_tmi.c */
XF_METRIC_FN(xf_metric_tmi);
/* TMI searched with at most `threads` threads (the caller included); the value does not depend on it. */
int xf_score_tmi(const struct xf_score_data *data, struct xf_score_cache *cache, int threads, double *out,
		 struct xf_err *err);
/* Digamma psi(x) for x > 0, to about 1e-15 relative away from its root near 1.46; NaN for x <= 0. */
double xf_score_digamma(double x);
/* score_probe.c */
XF_METRIC_FN(xf_metric_knn);
XF_METRIC_FN(xf_metric_linprobe);

#endif
