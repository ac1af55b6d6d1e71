/* train_loop: epochs of mini-batch training with validation and early stopping; see train_loop.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net_train.h"
#include "rng.h"
#include "train_loop.h"

struct loop {
	struct xf_model *m;
	int c;
	const struct xf_fit_opts *o;
	struct xf_trainer *t;
	struct xf_optim *opt;
	float **grads;           /* per field: the trainer's gradient, or NULL */
	float **best;            /* per field: the weights of the best epoch */
	float **saved;           /* per trained field: its weights before SAM's ascent, or NULL */
	float *xb, *tb;          /* a batch of rows and of teacher probabilities */
	int64_t *yb, *order;
	int64_t step, total_steps, warmup_steps;
};

static int64_t field_size(const struct xf_model *m, int f)
{
	return xf_shape_count(m->h.fields[f].ndim, m->h.fields[f].shape);
}

/* Weight decay applies to the weights of linear and conv2d nodes, not to biases or norms. */
static bool *decay_mask(const struct xf_model *m)
{
	bool *decay = calloc((size_t)m->h.n_fields + 1, sizeof(bool));

	for (int i = 0; decay && i < m->g->n_nodes; i++)
		if (m->g->nodes[i].op == XF_OP_LINEAR || m->g->nodes[i].op == XF_OP_CONV2D)
			decay[m->g->nodes[i].weights[XF_ROLE_WEIGHT]] = true;
	return decay;
}

static int setup(struct loop *l, const struct xf_dataset *d, struct xf_err *err)
{
	int64_t n = d->n;
	const struct xf_fit_opts *o = l->o;
	int nf = l->m->h.n_fields;
	int64_t *sizes = calloc((size_t)nf + 1, sizeof(int64_t)), batches = (n + o->batch - 1) / o->batch;
	bool *decay = decay_mask(l->m);
	int rc = sizes && decay ? 0 : xf_err_nomem(err, 0);

	rc = rc ? rc : xf_trainer_new(l->m, o->trainable, o->batch, o->threads, o->seed, &l->t, err);
	for (int f = 0; rc == 0 && f < nf; f++)
		sizes[f] = field_size(l->m, f);
	rc = rc ? rc : xf_optim_new(&o->optim, nf, sizes, decay, o->lr_scale, &l->opt, err);
	l->grads = calloc((size_t)nf + 1, sizeof(float *)), l->best = calloc((size_t)nf + 1, sizeof(float *));
	l->xb = malloc((size_t)(o->batch * d->count) * sizeof(float) + 1);
	l->tb = d->teacher ? malloc((size_t)(o->batch * l->c) * sizeof(float) + 1) : NULL;
	l->yb = calloc((size_t)o->batch, sizeof(int64_t)), l->order = calloc((size_t)n + 1, sizeof(int64_t));
	if (rc == 0 && (!l->grads || !l->best || !l->xb || !l->yb || !l->order || (d->teacher && !l->tb)))
		rc = xf_err_nomem(err, 0);
	if (rc == 0 && !(l->saved = calloc((size_t)nf + 1, sizeof(float *))))
		rc = xf_err_nomem(err, 0);
	for (int f = 0; rc == 0 && f < nf; f++) {
		l->grads[f] = xf_trainer_param_grad(l->t, f);
		if (!(l->best[f] = malloc((size_t)sizes[f] * sizeof(float) + 1)))
			rc = xf_err_nomem(err, 0);
		if (rc == 0 && o->sam_rho > 0 && l->grads[f] && !(l->saved[f] = malloc((size_t)sizes[f] * sizeof(float) + 1)))
			rc = xf_err_nomem(err, 0);
	}
	for (int i = 0; rc == 0 && o->dropout > 0 && i < l->m->g->n_nodes; i++)
		if (l->m->g->nodes[i].op == XF_OP_RELU || l->m->g->nodes[i].op == XF_OP_GELU)
			xf_trainer_set_dropout(l->t, i, o->dropout);
	l->total_steps = batches * o->epochs;
	l->warmup_steps = (int64_t)llround(o->warmup * (double)batches);
	free(sizes), free(decay);
	return rc;
}

/* Rows idx[0..k) of d into the batch buffers. */
static void gather(struct loop *l, const struct xf_dataset *d, const int64_t *idx, int64_t k)
{
	for (int64_t i = 0; i < k; i++) {
		memcpy(l->xb + i * d->count, d->x + idx[i] * d->count, (size_t)d->count * sizeof(float));
		l->yb[i] = d->y[idx[i]];
		if (l->tb)
			memcpy(l->tb + i * l->c, d->teacher + idx[i] * l->c, (size_t)l->c * sizeof(float));
	}
}

/* Loss and parameter gradients of the gathered batch of k rows at the current weights. */
static int gradients(struct loop *l, int64_t k, double *loss, int64_t *correct, struct xf_err *err)
{
	struct xf_loss_opts lo = l->o->loss;
	const float *inputs[1] = { l->xb };
	int64_t count;

	if (xf_trainer_forward(l->t, inputs, k, true, err) < 0)
		return -1;
	lo.teacher = l->tb;
	*loss = xf_loss_softmax(xf_trainer_output(l->t, &count), k, l->c, l->yb, &lo, xf_trainer_output_grad(l->t),
				correct);
	if (!isfinite(*loss))
		return xf_err_set(err, XF_E_FORMAT, "the loss is not finite at step %lld (lower --lr?)", (long long)l->step + 1);
	xf_trainer_zero_grad(l->t);
	return xf_trainer_backward(l->t, k, err);
}

/* Keep the trained weights in l->saved, then move them up the gradient by rho g / ||g||. */
static void sam_ascend(struct loop *l)
{
	double norm = 0, scale;

	for (int f = 0; f < l->m->h.n_fields; f++)
		for (int64_t j = 0; l->grads[f] && j < field_size(l->m, f); j++)
			norm += (double)l->grads[f][j] * l->grads[f][j];
	scale = l->o->sam_rho / (sqrt(norm) + 1e-12);
	for (int f = 0; f < l->m->h.n_fields; f++) {
		if (!l->grads[f])
			continue;
		memcpy(l->saved[f], l->m->weights[f], (size_t)field_size(l->m, f) * sizeof(float));
		for (int64_t j = 0; j < field_size(l->m, f); j++)
			l->m->weights[f][j] += (float)(scale * l->grads[f][j]);
	}
}

static void sam_restore(struct loop *l)
{
	for (int f = 0; f < l->m->h.n_fields; f++)
		if (l->grads[f])
			memcpy(l->m->weights[f], l->saved[f], (size_t)field_size(l->m, f) * sizeof(float));
}

/*
 * One optimisation step on the gathered batch; its loss and correct rows. With SAM (Foret et
 * al. 2021) the gradient is taken again at the weights moved up the gradient by rho, and that
 * gradient steps from the original weights.
 */
static int train_step(struct loop *l, int64_t k, double *loss, int64_t *correct, struct xf_err *err)
{
	double lr, sam_loss;
	int64_t sam_correct;

	if (gradients(l, k, loss, correct, err) < 0)
		return -1;
	if (l->o->sam_rho > 0) {
		sam_ascend(l);
		if (gradients(l, k, &sam_loss, &sam_correct, err) < 0)
			return -1;
		sam_restore(l);
	}
	lr = xf_lr_at(l->o->lr, l->step++, l->warmup_steps, l->total_steps, l->o->cosine);
	xf_optim_step(l->opt, l->m->weights, l->grads, lr);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run_epoch(struct loop *l, const struct xf_dataset *d, int epoch, struct xf_epoch_log *log,
		     struct xf_err *err)
{
	struct xf_rng rng;
	double sum = 0, t0 = now();
	int64_t right = 0;

	for (int64_t i = 0; i < d->n; i++)
		l->order[i] = i;
	xf_rng_init(&rng, l->o->seed, 1000 + (uint64_t)epoch);
	xf_rng_shuffle(&rng, l->order, d->n);
	for (int64_t b = 0; b < d->n; b += l->o->batch) {
		int64_t k = d->n - b < l->o->batch ? d->n - b : l->o->batch, correct;
		double loss;

		gather(l, d, l->order + b, k);
		if (train_step(l, k, &loss, &correct, err) < 0)
			return -1;
		sum += loss * (double)k, right += correct;
		if (l->o->on_step)
			l->o->on_step(l->o->ctx, l->step);
	}
	*log = (struct xf_epoch_log){ epoch, sum / (double)d->n, (double)right / (double)d->n, NAN, NAN,
				      xf_lr_at(l->o->lr, l->step - 1, l->warmup_steps, l->total_steps, l->o->cosine),
				      now() - t0, false };
	return 0;
}

/* Loss and accuracy on d with inference semantics, through the loop's trainer. */
static int evaluate_with(struct xf_trainer *t, int c, const struct xf_dataset *d, int64_t batch,
			 double *loss, double *accuracy, struct xf_err *err)
{
	struct xf_loss_opts lo = { 0, NULL, 1, 1, NULL };
	double sum = 0;
	int64_t right = 0, count;

	for (int64_t b = 0; b < d->n; b += batch) {
		int64_t k = d->n - b < batch ? d->n - b : batch, correct;
		const float *inputs[1] = { d->x + b * d->count };

		if (xf_trainer_forward(t, inputs, k, false, err) < 0)
			return -1;
		sum += (double)k * xf_loss_softmax(xf_trainer_output(t, &count), k, c, d->y + b, &lo,
						   xf_trainer_output_grad(t), &correct);
		right += correct;
	}
	*loss = d->n ? sum / (double)d->n : NAN, *accuracy = d->n ? (double)right / (double)d->n : NAN;
	return 0;
}

static void keep_best(struct loop *l)
{
	for (int f = 0; f < l->m->h.n_fields; f++)
		memcpy(l->best[f], l->m->weights[f], (size_t)field_size(l->m, f) * sizeof(float));
}

static void restore_best(struct loop *l)
{
	for (int f = 0; f < l->m->h.n_fields; f++)
		memcpy(l->m->weights[f], l->best[f], (size_t)field_size(l->m, f) * sizeof(float));
}

static void cleanup(struct loop *l)
{
	for (int f = 0; l->best && f < l->m->h.n_fields; f++)
		free(l->best[f]), free(l->saved ? l->saved[f] : NULL);
	free(l->saved);
	xf_trainer_free(l->t);
	xf_optim_free(l->opt);
	free(l->grads), free(l->best), free(l->xb), free(l->tb), free(l->yb), free(l->order);
}

int xf_fit(struct xf_model *m, int c, const struct xf_dataset *train, const struct xf_dataset *valid,
	   const struct xf_fit_opts *o, struct xf_fit_result *res, struct xf_err *err)
{
	struct loop l = { m, c, o, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0 };
	double best_acc = -1;
	int rc = setup(&l, train, err), stale = 0;

	*res = (struct xf_fit_result){ 0, 0, NAN };
	for (int e = 1; rc == 0 && e <= o->epochs; e++) {
		struct xf_epoch_log log;

		rc = run_epoch(&l, train, e, &log, err);
		if (rc == 0 && valid)
			rc = evaluate_with(l.t, c, valid, o->batch, &log.valid_loss, &log.valid_accuracy, err);
		if (rc < 0)
			break;
		res->epochs = e;
		log.best = !valid || log.valid_accuracy > best_acc;
		if (log.best) {
			best_acc = valid ? log.valid_accuracy : best_acc;
			res->best_epoch = e, res->valid_accuracy = log.valid_accuracy, stale = 0;
			if (valid)
				keep_best(&l);
		}
		if (o->on_epoch)
			o->on_epoch(o->ctx, &log);
		if (!log.best && o->patience > 0 && ++stale >= o->patience)
			break;
	}
	if (rc == 0 && valid && res->best_epoch > 0)
		restore_best(&l);
	cleanup(&l);
	return rc;
}

int xf_evaluate(struct xf_model *m, int c, const struct xf_dataset *d, int64_t batch, int threads, double *loss,
		double *accuracy, struct xf_err *err)
{
	struct xf_trainer *t;
	int rc;

	if (xf_trainer_new(m, NULL, batch, threads, 0, &t, err) < 0)
		return -1;
	rc = evaluate_with(t, c, d, batch, loss, accuracy, err);
	xf_trainer_free(t);
	return rc;
}
