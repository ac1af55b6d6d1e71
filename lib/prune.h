/*
 * prune: choosing which rows of a data set to keep (xfer-prune). Every method takes feature
 * rows and/or labels in memory and marks the kept rows in keep[0..n) (true = kept), and where
 * it has one, a per-row reason: `group` (the class or cluster that decided) and `score` (the
 * method's number for the row; NAN when it has none). The methods and their sources are in
 * docs/prune.md and xfer-prune(1); ties are always broken by the lower row index, and every random step is
 * seeded, so results are deterministic (and do not depend on the thread count).
 *
 * Budgets: a positive `count` of rows to keep wins; otherwise `fraction` in (0, 1] is turned
 * into one by xf_prune_budget; a count above n, or neither, is XF_E_USAGE. per_class needs
 * labels and a fraction: xf_prune_budget(fraction, n_c) rows within each class c. Every row's
 * outputs are reset first (not kept, group -1, score NAN); group and score may be NULL. NaN
 * or infinity in x, or a label out of range, is XF_E_FORMAT naming the row. The methods'
 * common checks are in prune_common.h.
 */
#ifndef XF_PRUNE_H
#define XF_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "kmeans.h"

/* The rows and the answer: inputs borrowed, outputs filled by the methods. */
struct xf_prune_data {
	const float *x;        /* n x d features, or NULL for methods that need none */
	int64_t n, d;
	const int64_t *y;      /* n labels 0..classes-1, or NULL */
	int classes;           /* 1 + the largest label (0 without labels) */
	bool *keep;            /* n: out */
	int64_t *group;        /* n: out, the deciding class or cluster (-1: none) */
	double *score;         /* n: out, the method's score (NAN: none) */
};

/* round(fraction n) (ties to even, as Python's round, which DeepCore uses), at least 1 when fraction > 0. */
int64_t xf_prune_budget(double fraction, int64_t n);

/* Uniform without replacement; per_class: within each class, round(fraction n_c) rows. */
int xf_prune_random(struct xf_prune_data *p, int64_t count, double fraction, bool per_class, uint64_t seed,
		    struct xf_err *err);

/*
 * Herding (iCaRL's rule; Welling's with welling = true): with mu the mean of the rows (of the
 * class), pick for i = 1..count the unpicked row x minimising ||i mu - (S + x)|| (S: the sum of
 * those picked), or, for Welling's, maximising <(i) mu - S, x>. score: the pick order.
 */
int xf_prune_herding(struct xf_prune_data *p, int64_t count, double fraction, bool per_class, bool welling,
		     struct xf_err *err);

/*
 * k-center greedy (Sener and Savarese): from one seeded random row, repeatedly pick the row
 * farthest (Euclidean) from every picked row. score: that distance when picked (NAN for the
 * first). Rows whose distance cannot shrink are skipped by the triangle inequality between
 * centres and a bfloat16 copy with its exact error bound; the answer is brute force's, bit for bit.
 */
int xf_prune_kcenter(struct xf_prune_data *p, int64_t count, double fraction, bool per_class, uint64_t seed,
		     int threads, struct xf_err *err);

/*
 * Moderate coreset (Xia et al. 2023): score = Euclidean distance to the coordinate-wise median
 * of the row's class; keep the middle band of the scores, rows ranked round(N (0.5 - r/2)) to
 * round(N (0.5 + r/2)) with r = count / N, over all rows (per_class false: the official code)
 * or within each class (DP4TL's variant). Needs labels.
 */
int xf_prune_moderate(struct xf_prune_data *p, int64_t count, double fraction, bool per_class, struct xf_err *err);

/*
 * Codebook selection (TL;DR reduced to features): k-means with `clusters` centres, then in each
 * cluster keep ceil(fraction n_c) members at evenly spaced positions of the cluster's members in
 * row order (positions floor(j n_c / m)). group: the cluster; score: distance to its centre.
 */
int xf_prune_codebook(struct xf_prune_data *p, double fraction, const struct xf_kmeans_opts *km, struct xf_err *err);

/*
 * SemDeDup (Abbas et al. 2023): spherical k-means; in each cluster, members in order of cosine
 * distance to the centre, farthest first; a member is dropped when its cosine similarity to an
 * earlier member (dropped or not, as the official code) exceeds 1 - eps. With eps < 0, eps is
 * chosen exactly from the sorted scores so that as many rows as possible but at most `count`
 * remain (ties can leave fewer; the clusters' first members always stay); *eps_used reproduces
 * the choice.
 * group: the cluster; score: the row's largest similarity to an earlier member.
 */
int xf_prune_semdedup(struct xf_prune_data *p, double eps, int64_t count, const struct xf_kmeans_opts *km,
		      double *eps_used, struct xf_err *err);

/*
 * DP4TL label mapping (Selectivity Drives Productivity, NeurIPS 2023): freq[c] = the target rows
 * whose predicted source class (argmax of target_pred [n_target, classes]) is c; keep every row
 * of the `keep_classes` source classes with the highest freq (ties: lower class). group: the row's
 * class; score: its class's freq. Needs labels.
 */
int xf_prune_lm(struct xf_prune_data *p, const float *target_pred, int64_t n_target, int keep_classes,
		struct xf_err *err);

/*
 * DP4TL feature mapping: groups are the source classes (labels, when use_labels) or k-means
 * clusters of the source features; each target feature row (n_target x d) votes for the nearest
 * group centroid (Euclidean; ties: lower group); keep every row of the `keep_groups` groups with
 * the most votes (ties: lower group). group: the row's group; score: its group's votes.
 */
int xf_prune_fm(struct xf_prune_data *p, const float *target_x, int64_t n_target, int keep_groups, bool use_labels,
		const struct xf_kmeans_opts *km, struct xf_err *err);

#endif
