/*
 * train_linear: linear classification heads on feature rows, the closed-form and convex part
 * of xfer-train: multinomial logistic (softmax) regression with L2 by L-BFGS, and ridge
 * regression on one-hot targets in closed form. A head is W [c, d] and b [c]; it predicts
 * argmax_k (W x + b)_k, and softmax(W x + b) are its probabilities.
 */
#ifndef XF_TRAIN_LINEAR_H
#define XF_TRAIN_LINEAR_H

#include <stdint.h>

#include "lbfgs.h"

#define XF_SOFTMAX_MAX_CLASSES 65536

struct xf_softmax_opts {
	double l2;                   /* lambda, see xf_softmax_fit */
	int threads;                 /* 0 or less: all cores */
	const double *class_weight;  /* [c] weights of each class's rows, or NULL for 1 */
	struct xf_lbfgs_opts lbfgs;  /* stopping rules and reporting */
};

/*
 * Softmax regression: minimise
 *   (1/n) sum_i s_i (logsumexp(W x_i + b) - (W x_i + b)_{y_i}) + (lambda / 2) ||W||^2
 * (s_i the weight of row i's class; the bias is not penalised) from W = 0, b = 0, which is
 * scikit-learn's LogisticRegression(C = 1 / (lambda n), lbfgs, multinomial). x is n x d
 * row-major float32 (the products run in float32, the sums of losses and gradients in
 * double), labels y in 0..c-1, 2 <= c <= XF_SOFTMAX_MAX_CLASSES. w [c d] and b [c] receive the head; res the optimiser's
 * account. -1 with err (XF_E_NOMEM, or the optimiser's).
 */
int xf_softmax_fit(const float *x, const int64_t *y, int64_t n, int64_t d, int c, const struct xf_softmax_opts *o,
		   double *w, double *b, struct xf_lbfgs_result *res, struct xf_err *err);

/*
 * Ridge regression of one-hot targets on [x, 1] (the bias column regularised too, as in
 * KRR-ST's closed-form head): W~ = argmin ||[x 1] W~ - Y||^2 + lambda ||W~||^2, solved by
 * Cholesky in the primal ((d+1) x (d+1)) or, when n < d + 1, the dual (n x n) form, which
 * give the same head. lambda < 0 chooses 1e-6 trace([x 1][x 1]^T) = 1e-6 (sum ||x_i||^2 + n);
 * *lambda_used reports the value. -1 with err: XF_E_FORMAT when the system is singular
 * (lambda 0 with dependent features), XF_E_NOMEM.
 */
int xf_ridge_fit(const float *x, const int64_t *y, int64_t n, int64_t d, int c, double lambda, double *w, double *b,
		 double *lambda_used, struct xf_err *err);

/* Accuracy of the head (w, b) on rows x with labels y (ties go to the lowest class). */
double xf_head_accuracy(const float *x, const int64_t *y, int64_t n, int64_t d, int c, const double *w,
			const double *b);

#endif
