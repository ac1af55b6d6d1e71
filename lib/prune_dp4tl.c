/*
 * prune_dp4tl: the target-aware source pruning of "Selectivity Drives Productivity" (DP4TL):
 * label mapping and feature mapping, as specified in docs/prune.md (from the authors'
 * lm_selection_for_imagenet.py and moderate_selection.py --v ffm; not from the released
 * fm_selection_for_imagenet.py, whose vote indexes the wrong array). See prune.h.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "nn_linear.h"
#include "prune.h"

/* Keep every row whose group is among the `keep` groups with the most votes (ties: lower group). */
static int keep_top_groups(struct xf_prune_data *p, const int64_t *group_of_row, const int64_t *votes, int groups,
			   int keep, struct xf_err *err)
{
	bool *chosen = calloc((size_t)groups + 1, sizeof(bool));

	if (!chosen)
		return xf_err_nomem(err, 0);
	for (int k = 0; k < keep && k < groups; k++) {
		int best = -1;

		for (int g = 0; g < groups; g++)
			if (!chosen[g] && (best < 0 || votes[g] > votes[best]))
				best = g;
		chosen[best] = true;
	}
	for (int64_t i = 0; i < p->n; i++) {
		p->keep[i] = chosen[group_of_row[i]];
		p->group[i] = group_of_row[i];
		p->score[i] = (double)votes[group_of_row[i]];
	}
	free(chosen);
	return 0;
}

int xf_prune_lm(struct xf_prune_data *p, const float *target_pred, int64_t n_target, int keep_classes,
		struct xf_err *err)
{
	int64_t *votes = calloc((size_t)p->classes + 1, sizeof(int64_t));
	int rc;

	if (!p->y)
		return free(votes), xf_err_set(err, XF_E_USAGE, "label mapping needs the source labels");
	if (keep_classes < 1 || keep_classes > p->classes)
		return free(votes), xf_err_set(err, XF_E_USAGE, "--keep: %d classes of %d", keep_classes, p->classes);
	if (!votes)
		return xf_err_nomem(err, 0);
	for (int64_t t = 0; t < n_target; t++) {
		const float *row = target_pred + t * p->classes;
		int best = 0;

		for (int c = 1; c < p->classes; c++)
			if (row[c] > row[best])
				best = c;
		votes[best]++;
	}
	rc = keep_top_groups(p, p->y, votes, p->classes, keep_classes, err);
	free(votes);
	return rc;
}

/* Centroids [groups x d] as the mean of each group's rows (in double); empty groups get counts 0. */
static int centroids(const struct xf_prune_data *p, const int64_t *group, int groups, float *cent, int64_t *count,
		     struct xf_err *err)
{
	double *sum = calloc((size_t)(groups * p->d) + 1, sizeof(double));

	if (!sum)
		return xf_err_nomem(err, 0);
	memset(count, 0, (size_t)groups * sizeof(int64_t));
	for (int64_t i = 0; i < p->n; i++) {
		count[group[i]]++;
		for (int64_t j = 0; j < p->d; j++)
			sum[group[i] * p->d + j] += p->x[i * p->d + j];
	}
	for (int64_t g = 0; g < groups; g++)
		for (int64_t j = 0; j < p->d; j++)
			cent[g * p->d + j] = count[g] ? (float)(sum[g * p->d + j] / (double)count[g]) : 0;
	free(sum);
	return 0;
}

/* Each target row votes for the nearest non-empty centroid: ||c||^2 - 2 t.c, blocks of 256 rows. */
static int vote(const struct xf_prune_data *p, const float *target, int64_t n_target, const float *cent,
		const int64_t *count, int groups, int64_t *votes, struct xf_err *err)
{
	enum { BLOCK = 256 };
	float *dots = malloc((size_t)(BLOCK * groups) * sizeof(float) + 1);
	double *norm = calloc((size_t)groups + 1, sizeof(double));
	int blas;

	if (!dots || !norm)
		return free(dots), free(norm), xf_err_nomem(err, 0);
	for (int g = 0; g < groups; g++)
		for (int64_t j = 0; j < p->d; j++)
			norm[g] += (double)cent[g * p->d + j] * cent[g * p->d + j];
	memset(votes, 0, (size_t)groups * sizeof(int64_t));
	blas = xf_nn_blas_threads(1);
	for (int64_t t0 = 0; t0 < n_target; t0 += BLOCK) {
		int rows = (int)(n_target - t0 < BLOCK ? n_target - t0 : BLOCK);

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, groups, (int)p->d, 1.0f, target + t0 * p->d,
			    (int)p->d, cent, (int)p->d, 0.0f, dots, groups);
		for (int r = 0; r < rows; r++) {
			int best = -1;
			double best_d = INFINITY;

			for (int g = 0; g < groups; g++) {
				double dist = norm[g] - 2.0 * dots[r * groups + g];

				if (count[g] && dist < best_d)
					best_d = dist, best = g;
			}
			votes[best]++;
		}
	}
	xf_linalg_set_threads(blas);
	free(dots), free(norm);
	return 0;
}

int xf_prune_fm(struct xf_prune_data *p, const float *target_x, int64_t n_target, int keep_groups, bool use_labels,
		const struct xf_kmeans_opts *km, struct xf_err *err)
{
	int groups = use_labels ? p->classes : (int)km->k;
	int64_t *assign = use_labels ? NULL : malloc((size_t)p->n * sizeof(int64_t) + 1);
	int64_t *count = calloc((size_t)groups + 1, sizeof(int64_t)), *votes = calloc((size_t)groups + 1, sizeof(int64_t));
	float *cent = malloc((size_t)(groups * p->d) * sizeof(float) + 1);
	const int64_t *group = use_labels ? p->y : assign;
	struct xf_kmeans_result res;
	int rc = 0;

	if (use_labels && !p->y)
		rc = xf_err_set(err, XF_E_USAGE, "feature mapping by classes needs the source labels");
	else if (keep_groups < 1 || keep_groups > groups)
		rc = xf_err_set(err, XF_E_USAGE, "--keep: %d groups of %d", keep_groups, groups);
	else if ((!use_labels && !assign) || !count || !votes || !cent)
		rc = xf_err_nomem(err, 0);
	if (rc == 0 && !use_labels)
		rc = xf_kmeans(p->x, p->n, p->d, km, cent, assign, &res, err);
	rc = rc ? rc : centroids(p, group, groups, cent, count, err);
	rc = rc ? rc : vote(p, target_x, n_target, cent, count, groups, votes, err);
	rc = rc ? rc : keep_top_groups(p, group, votes, groups, keep_groups, err);
	free(assign), free(count), free(votes), free(cent);
	return rc;
}
