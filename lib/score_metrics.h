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

#endif
