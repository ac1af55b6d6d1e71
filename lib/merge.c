/* merge: options, the merger's scratch and dispatch by method; see merge.h and ../shared/docs/merge.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "merge_common.h"
#include "parallel.h"

#define TILE XF_MERGE_TILE

static const char *const method_names[] = {
	[XF_MERGE_LINEAR] = "linear",
	[XF_MERGE_TASK_ARITHMETIC] = "task-arithmetic",
	[XF_MERGE_TIES] = "ties",
	[XF_MERGE_DARE] = "dare",
	[XF_MERGE_SLERP] = "slerp",
	[XF_MERGE_MODEL_STOCK] = "model-stock",
};

bool xf_merge_needs_base(enum xf_merge_method method)
{
	return method == XF_MERGE_TASK_ARITHMETIC || method == XF_MERGE_TIES || method == XF_MERGE_DARE ||
	       method == XF_MERGE_MODEL_STOCK;
}

static int check_counts(const struct xf_merge_opts *o, const char *name, struct xf_err *err)
{
	if (o->method == XF_MERGE_SLERP && o->n_models != 1 && o->n_models != 2)
		return xf_err_set(err, XF_E_USAGE, "slerp takes a base and one model, or two models (got %d models)",
				  o->n_models);
	if (o->method == XF_MERGE_MODEL_STOCK && o->n_models < 2)
		return xf_err_set(err, XF_E_USAGE, "model-stock needs at least 2 models besides the base (got %d)",
				  o->n_models);
	if (o->n_models < 1)
		return xf_err_set(err, XF_E_USAGE, "%s needs at least one model", name);
	return 0;
}

static int check_numbers(const struct xf_merge_opts *o, const char *name, struct xf_err *err)
{
	double sum = 0;

	for (int i = 0; o->weights && i < o->n_models; i++) {
		if (!isfinite(o->weights[i]))
			return xf_err_set(err, XF_E_USAGE, "weight %d is not a finite number", i + 1);
		sum += o->weights[i];
	}
	if (!o->weights)
		sum = o->n_models;
	if (o->method == XF_MERGE_LINEAR && o->normalize && fabs(sum) < 1e-8)
		return xf_err_set(err, XF_E_USAGE, "linear: the weights sum to %g; cannot normalize by it", sum);
	if ((o->method == XF_MERGE_TIES || o->method == XF_MERGE_DARE) && !(o->density > 0 && o->density <= 1))
		return xf_err_set(err, XF_E_USAGE, "%s: density must be in (0, 1] (got %g)", name, o->density);
	if (!isfinite(o->lambda))
		return xf_err_set(err, XF_E_USAGE, "lambda is not a finite number");
	if (o->method == XF_MERGE_SLERP && !isfinite(o->t))
		return xf_err_set(err, XF_E_USAGE, "slerp: t is not a finite number");
	return 0;
}

static int check_opts(const struct xf_merge_opts *o, struct xf_err *err)
{
	const char *name;

	if ((unsigned)o->method > XF_MERGE_MODEL_STOCK)
		return xf_err_set(err, XF_E_USAGE, "unknown merge method %d", (int)o->method);
	name = method_names[o->method];
	if ((unsigned)o->compat > XF_MERGE_MERGEKIT || (unsigned)o->scope > XF_MERGE_SCOPE_GLOBAL)
		return xf_err_set(err, XF_E_USAGE, "%s: unknown compat or scope", name);
	if (o->scope == XF_MERGE_SCOPE_GLOBAL && o->method != XF_MERGE_TIES)
		return xf_err_set(err, XF_E_USAGE, "%s: only ties trims over the whole model (global scope)", name);
	if (check_counts(o, name, err) < 0)
		return -1;
	return check_numbers(o, name, err);
}

static void *aligned(size_t bytes)
{
	void *p;

	return posix_memalign(&p, 64, bytes ? bytes : 64) ? NULL : p;
}

/* One allocation per slot, carved into its arrays (each a multiple of 64 bytes long, but the last two). */
static int slot_alloc(struct xf_merge_slot *s, int t, bool hist, struct xf_err *err)
{
	size_t floats = (size_t)(t + 4) * TILE + (size_t)(t + 2) * TILE, words = 2 * TILE;
	size_t bytes = TILE * sizeof(double) + floats * sizeof(float) + words * sizeof(uint32_t) +
		       (size_t)t * (2 * sizeof(int64_t) + sizeof(struct xf_rng));
	char *p = aligned(bytes);

	if (!p)
		return xf_err_nomem(err, bytes);
	s->sum = (double *)(void *)p;
	s->u = (float *)(void *)(s->sum + TILE);
	s->side = s->u + (size_t)t * TILE;
	s->acc = s->side + TILE;
	s->div = s->acc + TILE;
	s->stage = s->div + TILE;
	s->pad = s->stage + TILE;
	s->keys = (uint32_t *)(void *)(s->pad + (size_t)(t + 2) * TILE);
	s->draws = s->keys + TILE;
	s->below = (int64_t *)(void *)(s->draws + TILE);
	s->inside = s->below + t;
	s->rng = (struct xf_rng *)(void *)(s->inside + t);
	if (!hist)
		return 0;
	s->hist = aligned((size_t)t * XF_MAGSEL_HIGH * sizeof(uint64_t));
	if (!s->hist)
		return xf_err_nomem(err, (size_t)t * XF_MAGSEL_HIGH * sizeof(uint64_t));
	return 0;
}

static int alloc_merger(struct xf_merger *m, struct xf_err *err)
{
	int t = m->o.n_models;
	bool global = m->o.method == XF_MERGE_TIES && m->o.scope == XF_MERGE_SCOPE_GLOBAL;
	size_t sample = m->o.method == XF_MERGE_TIES ? (size_t)(t + 1) * XF_MERGE_SAMPLE : 1;

	m->w = malloc((size_t)t * sizeof(double));
	m->slots = calloc((size_t)m->n_slots, sizeof(*m->slots));
	m->mod = calloc((size_t)t, sizeof(*m->mod));
	m->cand_off = calloc((size_t)t * (size_t)(m->n_slots + 1), sizeof(int64_t));
	m->sample = malloc(sample * sizeof(uint32_t));
	if (!m->w || !m->slots || !m->mod || !m->cand_off || !m->sample)
		return xf_err_nomem(err, sample * sizeof(uint32_t));
	for (int s = 0; s < m->n_slots; s++)
		if (slot_alloc(&m->slots[s], t, global && s < XF_MERGE_HIST_SLOTS, err) < 0)
			return -1;
	return global ? xf_merge_global_create(m, err) : 0;
}

int xf_merger_create(const struct xf_merge_opts *o, struct xf_merger **out, struct xf_err *err)
{
	struct xf_merger *m;

	*out = NULL;
	if (check_opts(o, err) < 0)
		return -1;
	m = calloc(1, sizeof(*m));
	if (!m)
		return xf_err_nomem(err, sizeof(*m));
	m->o = *o;
	m->o.weights = NULL;
	m->threads = o->threads > 0 ? o->threads : xf_cores();
	m->n_slots = m->threads < XF_MERGE_MAX_SLOTS ? m->threads : XF_MERGE_MAX_SLOTS;
	if (alloc_merger(m, err) < 0) {
		xf_merger_free(m);
		return -1;
	}
	for (int i = 0; i < o->n_models; i++)
		m->w[i] = o->weights ? o->weights[i] : 1.0;
	*out = m;
	return 0;
}

void xf_merger_free(struct xf_merger *m)
{
	if (!m)
		return;
	xf_merge_global_free(m);
	for (int s = 0; m->slots && s < m->n_slots; s++) {
		free(m->slots[s].sum);
		free(m->slots[s].hist);
	}
	for (int i = 0; i < 4; i++)
		free(m->grow[i]);
	free(m->slots);
	free(m->mod);
	free(m->cand_off);
	free(m->sample);
	free(m->w);
	free(m);
}

/* Contents are not kept when the buffer grows; a quarter of slack spares reallocations. */
void *xf_merge_scratch(struct xf_merger *m, enum xf_merge_scratch_id id, size_t bytes, struct xf_err *err)
{
	size_t want = bytes + bytes / 4;

	if (bytes <= m->grow_size[id])
		return m->grow[id];
	free(m->grow[id]);
	m->grow_size[id] = 0;
	m->grow[id] = aligned(want);
	if (!m->grow[id]) {
		xf_err_nomem(err, want);
		return NULL;
	}
	m->grow_size[id] = want;
	return m->grow[id];
}

int xf_merger_passes(const struct xf_merger *m)
{
	return m->n_passes;
}

static int check_pass(const struct xf_merger *m, int pass, struct xf_err *err)
{
	if (pass != m->pass || pass >= m->n_passes)
		return xf_err_set(err, XF_E_USAGE, "merge pass %d out of order (next is %d of %d)", pass, m->pass,
				  m->n_passes);
	return 0;
}

int xf_merger_scan(struct xf_merger *m, int pass, const float *base, const float *const *models, int64_t n,
		   struct xf_err *err)
{
	if (check_pass(m, pass, err) < 0)
		return -1;
	if (n < 0 || !base)
		return xf_err_set(err, XF_E_USAGE, "merge pass %d: a tensor without base or with %lld entries", pass,
				  (long long)n);
	return xf_merge_global_scan(m, pass, base, models, n, err);
}

int xf_merger_end_pass(struct xf_merger *m, int pass, struct xf_err *err)
{
	if (check_pass(m, pass, err) < 0 || xf_merge_global_end_pass(m, pass, err) < 0)
		return -1;
	m->pass++;
	return 0;
}

static int check_inputs(const struct xf_merger *m, const char *name, const float *base, const float *const *models,
			int64_t n, struct xf_err *err)
{
	const char *method = method_names[m->o.method];
	int present = 0;

	if (m->pass < m->n_passes)
		return xf_err_set(err, XF_E_USAGE, "tensor '%s': %s needs %d passes over the models first", name, method,
				  m->n_passes);
	if (n < 0)
		return xf_err_set(err, XF_E_USAGE, "tensor '%s': %lld entries", name, (long long)n);
	for (int i = 0; i < m->o.n_models; i++)
		present += models[i] != NULL;
	if (present == 0)
		return xf_err_set(err, XF_E_USAGE, "tensor '%s': no model has it", name);
	if (xf_merge_needs_base(m->o.method) && !base)
		return xf_err_set(err, XF_E_USAGE, "tensor '%s': the base model lacks it (%s needs the base)", name,
				  method);
	return 0;
}

int xf_merger_tensor(struct xf_merger *m, const char *name, int64_t index, const float *base,
		     const float *const *models, int64_t n, float *out, struct xf_err *err)
{
	if (check_inputs(m, name, base, models, n, err) < 0)
		return -1;
	switch (m->o.method) {
	case XF_MERGE_LINEAR:
		return xf_merge_linear(m, name, models, n, out, err);
	case XF_MERGE_TASK_ARITHMETIC:
		return xf_merge_task_arithmetic(m, base, models, n, out, err);
	case XF_MERGE_TIES:
		return xf_merge_ties(m, name, base, models, n, out, err);
	case XF_MERGE_DARE:
		return xf_merge_dare(m, index, base, models, n, out, err);
	case XF_MERGE_SLERP:
		return xf_merge_slerp(m, name, base, models, n, out, err);
	case XF_MERGE_MODEL_STOCK:
		return xf_merge_model_stock(m, name, base, models, n, out, err);
	}
	return xf_err_set(err, XF_E_USAGE, "unknown merge method %d", (int)m->o.method);
}
