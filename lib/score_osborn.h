/*
 * score_osborn: OSBORN (K B et al., ICCV 2023, "Building a Winning Team"), the transferability
 * of an ensemble of source models; LOWER is better. The authors' code is unpublished, so this
 * follows the reconstruction of docs/scores.md section 12, where every choice is flagged:
 *
 *   OSBORN(S) = sum_{s in S} (w.domain W_D(s) + w.task W_T(s)) + w.cohesion sum_{i<j in S} W_C(i,j)
 *
 *   W_D(s)   = (1/m) min_pi sum_r ||a_r - b_pi(r)||^2: exact optimal transport (an assignment)
 *              between the first m source-domain rows a and the first m target rows b of model
 *              s's features, m = min(XF_OSBORN_SAMPLE, source rows, target rows);
 *   W_T(s)   = H(Z_s | Y), Z_s the first argmax of model s's probabilities on the target rows;
 *   W_C(i,j) = H(Z_i | Z_j) + H(Z_j | Z_i);
 *
 * entropies in nats over empirical counts on the target rows. The terms are computed once for a
 * pool of models (struct xf_osborn_terms); scoring an ensemble is then a sum over them.
 *
 *   struct xf_osborn_terms *t = xf_osborn_terms_new(models, n, &err);
 *   xf_osborn_greedy(t, NULL, 3, chosen, &best, &err);     -- NULL: the unweighted recipe
 *   xf_osborn_terms_free(t);
 */
#ifndef XF_SCORE_OSBORN_H
#define XF_SCORE_OSBORN_H

#include <stdint.h>

#include "err.h"
#include "score.h"

#define XF_OSBORN_SAMPLE 300   /* rows of each side in W_D's transport problem */

/*
 * One model of the pool. Nothing is copied; the arrays need only last through
 * xf_osborn_terms_new. source_f has no column count of its own: it is read as source_n x
 * target->d, so the caller checks that the source features it loaded have that many columns.
 */
struct xf_osborn_model {
	const struct xf_score_data *target;  /* target rows: f (n x d features), y labels, p (n x cs probabilities) */
	const double *source_f;              /* source-domain features of the same model, source_n x target->d */
	int64_t source_n;                    /* source-domain rows (at least 1) */
};

/* Multipliers of the three terms; { 1, 1, 1 } is the paper's unweighted recipe. */
struct xf_osborn_weights {
	double domain, task, cohesion;
};

#define XF_OSBORN_WEIGHTS_INIT { 1, 1, 1 }

/* W_D[s], W_T[s] and W_C[i][j] of a pool of models. */
struct xf_osborn_terms;

/*
 * Compute the terms of models[0..n). Every model must pass xf_score_check for features, labels
 * and probabilities; all must share the target rows (same n, same labels); each model's
 * source features (with its target's dimension, which may differ between models) must be
 * present and finite. Returns NULL with err (naming the model) on any violation or allocation failure.
 * Cost: per model an m x m x d product and an O(m^3) assignment, plus O(n_rows + classes) per
 * entropy, n + n(n-1) of them.
 */
struct xf_osborn_terms *xf_osborn_terms_new(const struct xf_osborn_model *models, int n, struct xf_err *err);
void xf_osborn_terms_free(struct xf_osborn_terms *t);

/* Models in the pool. */
int xf_osborn_count(const struct xf_osborn_terms *t);

/*
 * OSBORN of the ensemble chosen[0..k) (indices into the pool), w NULL for { 1, 1, 1 }. Unary
 * terms are added in the order given, then the pairs, so equal inputs give bit-equal sums.
 * An empty ensemble scores 0; a repeated model adds its unary terms again (W_C(s,s) = 0).
 * NAN if an index is out of range or k < 0.
 */
double xf_osborn_score(const struct xf_osborn_terms *t, const struct xf_osborn_weights *w, const int *chosen, int k);

/*
 * Greedy selection (docs/scores.md section 12): start empty and add, k times, the model that
 * gives the smallest OSBORN (lowest index on ties). chosen[0..k) receives the indices in the
 * order picked and *out the final ensemble's OSBORN. w NULL for { 1, 1, 1 }. Errors: k < 1 or
 * k above the pool size, non-finite weights (XF_E_USAGE).
 */
int xf_osborn_greedy(const struct xf_osborn_terms *t, const struct xf_osborn_weights *w, int k, int *chosen,
		     double *out, struct xf_err *err);

/*
 * The terms, for -v diagnostics and tests; NAN for an index out of range. domain_rows gives
 * the m of W_D(s) (-1 out of range). Cohesion is symmetric with a zero diagonal.
 */
double xf_osborn_domain(const struct xf_osborn_terms *t, int s);
int64_t xf_osborn_domain_rows(const struct xf_osborn_terms *t, int s);
double xf_osborn_task(const struct xf_osborn_terms *t, int s);
double xf_osborn_cohesion(const struct xf_osborn_terms *t, int i, int j);

#endif
