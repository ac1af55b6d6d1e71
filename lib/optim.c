/* optim: SGD with momentum, AdamW and the learning-rate schedule; see optim.h. */
#include <math.h>
#include <stdlib.h>

#include "optim.h"
#include "parallel.h"

/* Elements per work item: large enough to be worth a thread, small enough to share. */
#define CHUNK 16384

struct xf_optim {
	struct xf_optim_opts o;
	int n;
	int64_t *sizes;
	bool *decay;
	float **m, **v;     /* sgd: the momentum buffer in m; adamw: both moments */
	int64_t t;          /* steps taken */
	int64_t *first;     /* per tensor: its first work item of CHUNK elements; first[n]: the total */
	double *scale;      /* per tensor: learning-rate multiplier */
};

int xf_optim_new(const struct xf_optim_opts *opts, int n, const int64_t *sizes, const bool *decay,
		 const double *lr_scale, struct xf_optim **out, struct xf_err *err)
{
	struct xf_optim *o = calloc(1, sizeof(*o));
	bool ok = o != NULL;

	if (ok) {
		o->o = *opts, o->n = n;
		o->sizes = calloc((size_t)n + 1, sizeof(int64_t)), o->decay = calloc((size_t)n + 1, sizeof(bool));
		o->m = calloc((size_t)n + 1, sizeof(float *)), o->v = calloc((size_t)n + 1, sizeof(float *));
		o->first = calloc((size_t)n + 1, sizeof(int64_t)), o->scale = calloc((size_t)n + 1, sizeof(double));
		ok = o->sizes && o->decay && o->m && o->v && o->first && o->scale;
	}
	for (int i = 0; ok && i < n; i++) {
		o->sizes[i] = sizes[i], o->decay[i] = decay ? decay[i] : true, o->scale[i] = lr_scale ? lr_scale[i] : 1;
		o->first[i + 1] = o->first[i] + (sizes[i] + CHUNK - 1) / CHUNK;
		ok = (o->m[i] = calloc((size_t)sizes[i] + 1, sizeof(float))) != NULL;
		if (ok && opts->kind == XF_OPTIM_ADAMW)
			ok = (o->v[i] = calloc((size_t)sizes[i] + 1, sizeof(float))) != NULL;
	}
	if (!ok) {
		xf_optim_free(o);
		*out = NULL;
		return xf_err_nomem(err, 0);
	}
	*out = o;
	return 0;
}

static void sgd(const struct xf_optim *o, int i, float *p, const float *g, float lr, int64_t lo, int64_t hi)
{
	float mu = (float)o->o.momentum, wd = o->decay[i] ? (float)o->o.weight_decay : 0;
	float *b = o->m[i];

	for (int64_t j = lo; j < hi; j++) {
		float d = g[j] + wd * p[j];

		b[j] = o->t == 1 ? d : mu * b[j] + d;
		p[j] -= lr * (o->o.nesterov ? d + mu * b[j] : b[j]);
	}
}

static void adamw(const struct xf_optim *o, int i, float *p, const float *g, float lr, int64_t lo, int64_t hi)
{
	float b1 = (float)o->o.beta1, b2 = (float)o->o.beta2, eps = (float)o->o.eps;
	float wd = o->decay[i] ? (float)o->o.weight_decay : 0;
	float c1 = (float)(1 - pow(o->o.beta1, (double)o->t)), c2 = (float)sqrt(1 - pow(o->o.beta2, (double)o->t));
	float *m = o->m[i], *v = o->v[i];

	for (int64_t j = lo; j < hi; j++) {
		p[j] -= lr * wd * p[j];
		m[j] = b1 * m[j] + (1 - b1) * g[j];
		v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
		p[j] -= lr / c1 * m[j] / (sqrtf(v[j]) / c2 + eps);
	}
}

struct step_job {
	struct xf_optim *o;
	float *const *params, *const *grads;
	double lr;
	int64_t *first;     /* per tensor: its first work item; first[n]: the total */
};

static void step_chunk(void *ctx, int64_t begin, int64_t end)
{
	const struct step_job *j = ctx;
	int i = 0;

	for (int64_t item = begin; item < end; item++) {
		while (item >= j->first[i + 1])
			i++;
		int64_t lo = (item - j->first[i]) * CHUNK, hi = lo + CHUNK < j->o->sizes[i] ? lo + CHUNK : j->o->sizes[i];

		if (!j->grads[i])
			continue;
		if (j->o->o.kind == XF_OPTIM_SGD)
			sgd(j->o, i, j->params[i], j->grads[i], (float)(j->lr * j->o->scale[i]), lo, hi);
		else
			adamw(j->o, i, j->params[i], j->grads[i], (float)(j->lr * j->o->scale[i]), lo, hi);
	}
}

void xf_optim_step(struct xf_optim *o, float *const *params, float *const *grads, double lr)
{
	struct step_job job = { o, params, grads, lr, o->first };

	o->t++;
	xf_parallel_for(o->first[o->n], o->o.threads, 1, step_chunk, &job);
}

void xf_optim_free(struct xf_optim *o)
{
	if (!o)
		return;
	for (int i = 0; o->m && i < o->n; i++)
		free(o->m[i]), free(o->v ? o->v[i] : NULL);
	free(o->m), free(o->v), free(o->sizes), free(o->decay), free(o->first), free(o->scale);
	free(o);
}

double xf_lr_at(double base, int64_t t, int64_t warmup, int64_t total, bool cosine)
{
	const double pi = 3.14159265358979323846;

	if (t < warmup)
		return base * (double)(t + 1) / (double)warmup;
	if (!cosine || total <= warmup)
		return base;
	return 0.5 * base * (1 + cos(pi * (double)(t - warmup) / (double)(total - warmup)));
}
