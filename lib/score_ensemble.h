/*
 * score_ensemble: transferability of ensembles of source models (Agostinelli et al. 2022,
 * docs/metrics.md), from each model's probabilities on the same target rows:
 *  ms_leep  log of the mean over models of each row's LEEP expected empirical prediction;
 *  e_leep   LEEP of the product model, whose labels are tuples of the models' labels
 *           (cost grows as the product of their label counts, so it is bounded);
 * and the greedy choice of the best ensemble of K models from a pool.
 */
#ifndef XF_SCORE_ENSEMBLE_H
#define XF_SCORE_ENSEMBLE_H

#include "score.h"

#define XF_E_LEEP_MAX_CELLS ((int64_t)1 << 25)  /* rows x product of label counts */

enum xf_ensemble_metric { XF_ENSEMBLE_MS_LEEP, XF_ENSEMBLE_E_LEEP, XF_ENSEMBLE_COUNT };

const char *xf_ensemble_name(enum xf_ensemble_metric m);
int xf_ensemble_parse(const char *name, enum xf_ensemble_metric *out);

/* The metric over models[0..k): same rows and labels, each with probabilities. */
int xf_ensemble_score(enum xf_ensemble_metric m, const struct xf_score_data *const *models, int k, double *out,
		      struct xf_err *err);

/*
 * Greedy selection of k of the n models: start empty and add, k times, the model that gives
 * the highest score (lowest index on ties). chosen[0..k) receives the indices in the order
 * picked, and *out the final ensemble's score.
 */
int xf_ensemble_greedy(enum xf_ensemble_metric m, const struct xf_score_data *const *models, int n, int k,
		       int *chosen, double *out, struct xf_err *err);

#endif
