/*
 * fuse: combine the predictions of several models for the same rows (xfer-merge --fuse).
 * No I/O: the caller hands over n x c float32 matrices, one per model, all of one kind.
 *
 *	const float *in[2] = { probs_a, probs_b };
 *	if (xf_fuse(XF_FUSE_DYNAMIC, XF_FUSE_PROBS, 2, in, NULL, n, c, 0, logits, probs, NULL, &err) < 0)
 *		return -1;
 *
 * Notation for one row: model i gives logits z_i and probabilities p_i = softmax(z_i), with
 * normalised model weights a_i = weight_i / Σ weight (Σ a = 1).
 *
 *  - mean:       p = Σ a_i p_i;   logits = max(log p, XF_FUSE_LOG_FLOOR).
 *  - logit-mean: z = Σ a_i z_i;   probs = softmax(z). A product of experts: classes that any
 *                model rules out stay ruled out.
 *  - dynamic:    z = Σ w_i z_i with per-row weights w on the simplex {w ≥ 0, Σ w = 1} that minimise
 *
 *                    F(w) = Σ_i a_i KL(p_i ‖ softmax(Z w)),   Z = [z_1 … z_m] (c x m),
 *
 *                probs = softmax(z). Why: among all logit mixtures of the models, this is the
 *                distribution closest to all of them at once (in the spirit of dynamic logit
 *                fusion, which picks per-sample weights to minimise disagreement). Where the models
 *                agree it changes nothing; where one model is confidently off, its weight shrinks.
 *                Expanding the KL terms, F(w) = −p̄ᵀ Z w + lse(Z w) + const with p̄ = Σ a_i p_i, so F
 *                is convex (lse is convex, the rest is linear), with
 *
 *                    ∇F = Zᵀ (q − p̄),   ∇²F = Zᵀ (diag q − q qᵀ) Z,   q = softmax(Z w).
 *
 *                F is unchanged when a constant is added to all logits of one model (because
 *                Σ w = 1 and Σ p̄ = 1), so the solver works on logits shifted to a maximum of 0.
 *                Solver: start from w = a. Each step minimises the Newton model
 *                gᵀd + ½ dᵀ ∇²F d over w + d on the simplex (a primal active-set method; a
 *                ridge of 1e-11 of the mean curvature covers flat directions), then minimises F
 *                exactly along d over [0, 1]; when rounding leaves that no progress, it moves
 *                weight from the support's worst model to the best one (g largest and smallest),
 *                again with an exact line search. It stops when the KKT violation
 *                max_{w_j > 0} g_j − min_i g_i is at most XF_FUSE_TOL, or after
 *                XF_FUSE_MAX_STEPS steps. The violation bounds F(w) − min F from above (by
 *                convexity, F(w) − F(w*) ≤ gᵀ(w − w*) ≤ Σ_j w_j g_j − min_i g_i ≤ the violation).
 *                Rows take 3–10 steps, 40 at most in tests built to be hard (many models, few
 *                classes, probabilities with zeros); each step costs O(m² c).
 *                When w = a is already optimal (models that agree, identical models) it is
 *                returned as it is.
 *
 * Probability inputs are divided by their row sum (which may be off by up to 1e-3) before use,
 * and log p is floored at XF_FUSE_LOG_FLOOR, so that a probability of 0 gives a finite logit.
 * Softmax and log are computed per row in double, after subtracting the row maximum.
 * Each row is computed on its own by the same code, so the result does not depend on the
 * number of threads.
 */
#ifndef XF_FUSE_H
#define XF_FUSE_H

#include <stdint.h>

#include "err.h"

/* log(FLT_MIN): the smallest normal float32, so exp(floor) is still a normal float32. */
#define XF_FUSE_LOG_FLOOR (-87.336544750553102)
/* Dynamic: stop when the KKT violation (an upper bound on F(w) − min F, in nats) is this small. */
#define XF_FUSE_TOL 1e-9
/* Dynamic: at most this many steps per row (a safety net; each costs O(n_models² c)). */
#define XF_FUSE_MAX_STEPS 200
/* At most this many models (the dynamic solver factors an n_models² matrix per step). */
#define XF_FUSE_MAX_MODELS 1024
/* Probability rows must sum to 1 within this. */
#define XF_FUSE_SUM_TOL 1e-3

enum xf_fuse_method { XF_FUSE_MEAN, XF_FUSE_LOGIT_MEAN, XF_FUSE_DYNAMIC };
enum xf_fuse_kind { XF_FUSE_PROBS, XF_FUSE_LOGITS };   /* what the input fields hold */

/*
 * Fuse n_models predictions of the same n rows and c classes. inputs[i] is row-major n x c
 * (float32) of kind `kind`; weights: n_models non-negative finite model weights (NULL: equal),
 * not all zero; they are normalised to sum 1 (a model of weight 0 still takes part in the
 * dynamic mixture, but not in the target p̄). threads: 0 for all cores.
 * Writes out_logits and out_probs (each n x c; either may be NULL; neither may alias an input):
 *  - mean: out_probs = Σ a_i p_i (softmax of the logits first when kind is logits),
 *    out_logits = its log, floored at XF_FUSE_LOG_FLOOR;
 *  - logit-mean: out_logits = Σ a_i z_i (z_i = max(log p_i, XF_FUSE_LOG_FLOOR) when kind is
 *    probs), out_probs = its softmax;
 *  - dynamic: per-row weights w_r as above, out_logits = Σ_i w_ri z_ri, out_probs its softmax.
 * row_weights (n x n_models, may be NULL) receives the per-row weights used (the normalised
 * model weights, repeated, for mean and logit-mean); rounded to float32 they sum to 1 only
 * within about 1e-7.
 * n = 0 is fine and writes nothing. Returns 0, or -1 with err:
 *  - XF_E_FORMAT for a non-finite input value, a probability outside [0, 1], or a probability
 *    row not summing to 1 within XF_FUSE_SUM_TOL; the message names the model index and the row
 *    (both 0-based; the first bad value in model order, then row order). Outputs are untouched.
 *  - XF_E_USAGE for bad weights (negative, non-finite, all zero), n_models < 1, c < 1, n < 0,
 *    a NULL input, or a method or kind outside the enums. Outputs are untouched.
 *  - XF_E_LIMIT for more than XF_FUSE_MAX_MODELS models, or when n x c, n x n_models or the
 *    scratch size overflows.
 *  - XF_E_NOMEM when per-thread scratch ((n_models + 5) x c + 2 n_models² doubles, about)
 *    cannot be had; the outputs are then partly written.
 * Messages carry no file names (the caller knows which file model i came from) and no prefix.
 */
int xf_fuse(enum xf_fuse_method method, enum xf_fuse_kind kind, int n_models, const float *const *inputs,
	    const double *weights, int64_t n, int64_t c, int threads, float *out_logits, float *out_probs,
	    float *row_weights, struct xf_err *err);

/* "mean", "logit-mean", "dynamic" → the method; -1 for anything else. For option parsing. */
int xf_fuse_method_parse(const char *name);
/* The name of a method, as xf_fuse_method_parse takes it ("?" for an unknown value). */
const char *xf_fuse_method_name(enum xf_fuse_method method);

#endif
