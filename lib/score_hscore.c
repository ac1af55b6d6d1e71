/*
 * score_hscore: H-score (Bao et al. 2019), docs/scores.md section 5: tr(pinv(cov F) cov G),
 * G holding each row's class mean. cov G is the between-class scatter over N-1 and cov F the
 * centred scatter over N-1; the factors cancel, leaving xf_score_between_trace with pinv's
 * cut-off at TLlib's rcond 1e-15.
 */
#include "score_metrics.h"

#define HSCORE_RCOND 1e-15

XF_METRIC_FN(xf_metric_hscore)
{
	(void)data;
	return xf_score_between_trace(cache, 1.0, 0.0, HSCORE_RCOND, out, err);
}
