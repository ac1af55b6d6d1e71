/*
 * score_ncti: NCTI (Wang et al., ICCV 2023), docs/scores.md section 10, as the official code
 * (BUserName/NCTI, scikit-learn 1.2.1) computes it. NCTI ranks a set of models that embed the
 * same rows, so it comes in two steps: the three parts of each model, then their combination
 * over the set:
 *
 *	struct xf_ncti_parts parts[M];
 *	for (int m = 0; m < M; m++)
 *		if (xf_score_ncti_parts(&data[m], cache[m], &parts[m], &err) < 0)
 *			return -1;
 *	xf_score_ncti_combine(parts, M, scores);     higher is better, in [-1, 2]
 */
#ifndef XF_SCORE_NCTI_H
#define XF_SCORE_NCTI_H

#include "score.h"

struct xf_ncti_parts {
	double seli;  /* nuclear norm of the centred LDA projection (larger: classes spread out) */
	double ncc;   /* mean LDA probability of the true class, no log */
	double vc;    /* log of the summed nuclear norms of each class's probability rows (smaller: collapsed) */
};

/*
 * The parts of one model: features data->f (n x d) and labels data->y, through an exact PCA to
 * k = min(64, n, d) components (data from cache: the centred scatter and its eigenvectors) and
 * scikit-learn's LDA on them, solver 'eigen' with shrinkage exp(-(variance of the first 32
 * components)) or 'svd' when that falls to its floor 1e-10. Classes are the labels that occur
 * (np.unique, as scikit-learn sees them): an unused label in 0..c-1 is ignored, where the
 * official code would index probabilities by the raw label.
 *
 * Returns 0, or -1 with err: the input check of score.h (labels, at least two populated
 * classes, finite features), no more rows than populated classes, a singular shrunk
 * within-class covariance (eigen solver), no within-class variance above the svd solver's
 * tolerance, or a failed allocation or decomposition. The rows are not modified.
 *
 * When n <= 64 < d, or with collinear features, some of the k components carry no variance and
 * the svd solver scales their round-off up to unit variance: the parts then depend on rounding,
 * in the official code as here.
 */
int xf_score_ncti_parts(const struct xf_score_data *data, struct xf_score_cache *cache, struct xf_ncti_parts *out,
			struct xf_err *err);

/*
 * scores[i] = mm(seli)_i + mm(ncc)_i - mm(vc)_i for the n models of parts, with
 * mm(x)_i = (x_i - min x) / (max x - min x) over the set. A part equal across every model
 * (max == min, so always when n == 1) contributes 0, where the official code divides by zero.
 */
void xf_score_ncti_combine(const struct xf_ncti_parts *parts, int n, double *scores);

#endif
