/* loss: cross-entropy with label smoothing and distillation, with gradients; see loss.h. */
#include <math.h>
#include <stdlib.h>

#include "loss.h"

/* log softmax of z / t into lp; returns the argmax of z. */
static int log_softmax(const float *z, int c, double t, double *lp)
{
	double top = z[0], sum = 0;
	int best = 0;

	for (int k = 1; k < c; k++)
		if (z[k] > top)
			top = z[k], best = k;
	for (int k = 0; k < c; k++)
		sum += exp((z[k] - top) / t);
	for (int k = 0; k < c; k++)
		lp[k] = (z[k] - top) / t - log(sum);
	return best;
}

/* The teacher's distribution at temperature t from its probabilities p. */
static void teacher_at(const float *p, int c, double t, double *q)
{
	double sum = 0;

	for (int k = 0; k < c; k++)
		sum += q[k] = p[k] > 0 ? pow(p[k], 1 / t) : 0;
	for (int k = 0; k < c; k++)
		q[k] = sum > 0 ? q[k] / sum : 1.0 / c;
}

/* Row loss and its gradient (unweighted) into g. */
static double row_loss(const float *z, int c, int64_t y, const float *teacher, const struct xf_loss_opts *o,
		       double *lp, double *q, double *g, int *best)
{
	double s = o->smoothing, a = teacher ? o->alpha : 1, loss = 0;

	*best = log_softmax(z, c, 1, lp);
	for (int k = 0; k < c; k++) {
		double target = (1 - s) * (k == y) + s / c;

		loss -= a * target * lp[k];
		g[k] = a * (exp(lp[k]) - target);
	}
	if (teacher && a < 1) {
		double t = o->temperature;

		teacher_at(teacher, c, t, q);
		log_softmax(z, c, t, lp);
		for (int k = 0; k < c; k++) {
			if (q[k] > 0)
				loss += (1 - a) * t * t * q[k] * (log(q[k]) - lp[k]);
			g[k] += (1 - a) * t * (exp(lp[k]) - q[k]);
		}
	}
	return loss;
}

double xf_loss_softmax(const float *logits, int64_t batch, int c, const int64_t *y, const struct xf_loss_opts *o,
		       float *dlogits, int64_t *correct)
{
	double *work = malloc((size_t)(3 * c) * sizeof(double)), total = 0, weights = 0;

	*correct = 0;
	if (!work)
		return NAN;
	for (int64_t i = 0; i < batch; i++) {
		double w = o->class_weight ? o->class_weight[y[i]] : 1;
		int best;

		total += w * row_loss(logits + i * c, c, y[i], o->teacher ? o->teacher + i * c : NULL, o, work, work + c,
				      work + 2 * c, &best);
		weights += w;
		*correct += best == y[i];
		for (int k = 0; k < c; k++)
			dlogits[i * c + k] = (float)(w * work[2 * c + k]);
	}
	for (int64_t j = 0; weights > 0 && j < batch * c; j++)
		dlogits[j] = (float)(dlogits[j] / weights);
	free(work);
	return weights > 0 ? total / weights : 0;
}
