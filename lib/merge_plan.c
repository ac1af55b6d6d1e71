/*
 * merge_plan: the tensors of a merge, checked across inputs; see merge_plan.h.
 */
#include <stdlib.h>
#include <string.h>

#include "merge_plan.h"

static bool same_shape(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b)
{
	return ndim_a == ndim_b && !memcmp(a, b, (size_t)ndim_a * sizeof(*a));
}

static bool planned_before(struct xf_model_source *const *inputs, int a, const char *name)
{
	for (int b = 0; b < a; b++)
		if (xf_model_source_find(inputs[b], name) >= 0)
			return true;
	return false;
}

static int mismatch(const struct xf_merge_entry *e, struct xf_model_source *first, struct xf_model_source *other,
		    int idx, struct xf_err *err)
{
	char s1[96], s2[96];
	int64_t shape[XF_MAX_DIMS];
	int ndim;

	if (idx < 0)
		return xf_err_set(err, XF_E_FORMAT, "tensor '%s' is in %s but not in %s (--partial intersect "
				  "leaves it out, --partial union merges the inputs that have it)", e->name,
				  xf_model_source_path(first), xf_model_source_path(other));
	xf_model_source_info(other, idx, NULL, &ndim, shape);
	return xf_err_set(err, XF_E_FORMAT, "tensor '%s' is %s in %s but %s in %s", e->name,
			  xf_shape_str(e->ndim, e->shape, s1, sizeof(s1)), xf_model_source_path(first),
			  xf_shape_str(ndim, shape, s2, sizeof(s2)), xf_model_source_path(other));
}

/* Fill e->index for every input; 1 when the entry is kept, 0 when intersect drops it. */
static int match_inputs(struct xf_merge_entry *e, int n, struct xf_model_source *const *inputs, int first,
			enum xf_merge_partial partial, struct xf_err *err)
{
	for (int c = 0; c < n; c++) {
		int idx = c == first ? e->index[c] : xf_model_source_find(inputs[c], e->name);
		int64_t shape[XF_MAX_DIMS];
		int ndim;

		e->index[c] = -1;
		if (idx >= 0) {
			xf_model_source_info(inputs[c], idx, NULL, &ndim, shape);
			if (same_shape(ndim, shape, e->ndim, e->shape)) {
				e->index[c] = idx;
				continue;
			}
		}
		if (partial == XF_PARTIAL_ERROR)
			return mismatch(e, inputs[first], inputs[c], idx, err);
		if (partial == XF_PARTIAL_INTERSECT)
			return 0;
		e->n_left_out += idx >= 0;
	}
	return 1;
}

static int add_entry(struct xf_merge_plan *p, struct xf_model_source *const *inputs, int a, int t,
		     enum xf_merge_partial partial, int required_input, struct xf_err *err)
{
	struct xf_merge_entry *e = &p->entries[p->n];
	int kept;

	memset(e, 0, sizeof(*e));
	e->name = xf_model_source_name(inputs[a], t);
	xf_model_source_info(inputs[a], t, &e->dtype, &e->ndim, e->shape);
	e->count = xf_shape_count(e->ndim, e->shape);
	if (!(e->index = malloc((size_t)p->n_inputs * sizeof(*e->index))))
		return xf_err_nomem(err, (size_t)p->n_inputs * sizeof(*e->index));
	e->index[a] = t;
	kept = match_inputs(e, p->n_inputs, inputs, a, partial, err);
	if (kept == 1 && required_input >= 0 && e->index[required_input] < 0)
		kept = xf_err_set(err, XF_E_FORMAT, "tensor '%s' is not in the base %s, which this method needs",
				  e->name, xf_model_source_path(inputs[required_input]));
	if (kept != 1) {
		free(e->index);
		p->n_dropped += kept == 0;
		return kept;
	}
	p->n++;
	p->total += e->count;
	if (e->count > p->max_count)
		p->max_count = e->count;
	return 0;
}

int xf_merge_plan_build(int n, struct xf_model_source *const *inputs, enum xf_merge_partial partial,
			int required_input, struct xf_merge_plan *plan, struct xf_err *err)
{
	int cap = 0;

	*plan = (struct xf_merge_plan)XF_MERGE_PLAN_INIT;
	plan->n_inputs = n;
	for (int a = 0; a < n; a++)
		cap += xf_model_source_count(inputs[a]);
	if (!(plan->entries = calloc(cap ? cap : 1, sizeof(*plan->entries))))
		return xf_err_nomem(err, (size_t)cap * sizeof(*plan->entries));
	for (int a = 0; a < n; a++)
		for (int t = 0; t < xf_model_source_count(inputs[a]); t++) {
			const char *name = xf_model_source_name(inputs[a], t);

			if (planned_before(inputs, a, name))
				continue;
			if (add_entry(plan, inputs, a, t, partial, required_input, err) < 0) {
				xf_merge_plan_release(plan);
				return -1;
			}
		}
	return 0;
}

void xf_merge_plan_release(struct xf_merge_plan *plan)
{
	for (int i = 0; i < plan->n; i++)
		free(plan->entries[i].index);
	free(plan->entries);
	*plan = (struct xf_merge_plan)XF_MERGE_PLAN_INIT;
}
