/*
 * loss: the classification losses of xfer-train on a batch of logits, with their gradient.
 *
 * For row i with logits z (c classes), p = softmax(z):
 *   hard part: cross-entropy with label smoothing s (torch.nn.CrossEntropyLoss's
 *     label_smoothing): -(1 - s) log p_y - (s / c) sum_k log p_k;
 *   soft part (distillation, Hinton et al. 2015): T^2 KL(q || softmax(z / T)), where q is the
 *     teacher's distribution at temperature T, made from its probabilities t as
 *     q = t^(1/T) / sum t^(1/T) (the softmax of its logits / T);
 *   loss_i = alpha hard + (1 - alpha) soft (alpha = 1 without a teacher).
 * The batch loss is the mean over rows (rows may be weighted by their class, as
 * CrossEntropyLoss(weight=...) with reduction mean: sum w_i loss_i / sum w_i).
 */
#ifndef XF_LOSS_H
#define XF_LOSS_H

#include <stdint.h>

struct xf_loss_opts {
	double smoothing;             /* s in [0, 1) */
	const float *teacher;         /* [batch, c] probabilities, or NULL */
	double alpha;                 /* weight of the hard part with a teacher */
	double temperature;           /* T > 0 */
	const double *class_weight;   /* [c], or NULL */
};

/*
 * The mean loss of `batch` rows of logits [batch, c] with labels y (each 0..c-1); the gradient
 * of that mean with respect to the logits into dlogits [batch, c] (overwritten); the number of
 * rows whose argmax is the label into *correct. Sums in double.
 */
double xf_loss_softmax(const float *logits, int64_t batch, int c, const int64_t *y, const struct xf_loss_opts *o,
		       float *dlogits, int64_t *correct);

#endif
