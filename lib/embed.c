/* embed: a model run over a samples stream in batches; see embed.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "net.h"
#include "nn_elementwise.h"

enum out_kind { OUT_LAYER, OUT_LOGITS, OUT_PROBS };

struct output {
	enum out_kind kind;
	int value;          /* value id in the graph */
	int64_t width;      /* floats per row in the field */
	bool pooled;        /* averaged over all but the first dimension */
};

struct xf_embedder {
	const struct xf_model *m;
	struct xf_embed_opts o;
	struct xf_net *net;
	struct xf_header h;             /* the output segment's */
	int n_in;                       /* fields of the input header */
	int *carried_to;                /* per input field: its output field, or -1 */
	int *bound;                     /* per graph input: the input field feeding it */
	char (*bound_name)[XF_MAX_NAME + 1];  /* per graph input: that field's name */
	struct xf_prep *prep;           /* per graph input */
	float **waiting;                /* per graph input: batch rows of its floats */
	struct xf_tensor_list *parts;   /* per output field that is carried: the waiting rows */
	struct output *outs;            /* the outputs, fields h.n_fields - n_outs onwards */
	int n_outs;
	int64_t pending;                /* rows waiting */
	int64_t done;                   /* rows written */
};

static int64_t value_count(const struct xf_graph *g, int v, int *ndim_out, int64_t *first)
{
	int ndim;
	const int64_t *s = xf_graph_value_shape(g, v, &ndim);

	*ndim_out = ndim, *first = ndim ? s[0] : 1;
	return xf_shape_count(ndim, s);
}

static void add_output(struct xf_embedder *e, enum out_kind kind, int value)
{
	struct output *out = &e->outs[e->n_outs++];
	int ndim;
	int64_t first, count = value_count(e->m->g, value, &ndim, &first);

	*out = (struct output){ kind, value, count, false };
	if (kind == OUT_LAYER && e->o.pool_avg && ndim >= 2)
		out->width = first, out->pooled = true;
}

static int unknown_layer(const struct xf_graph *g, const char *name, struct xf_err *err)
{
	char list[512] = "";
	size_t used = 0;

	for (int i = 0; i < g->n_nodes && used + 4 < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", g->nodes[i].name);
	if (used >= sizeof(list) - 4)
		strcpy(list + sizeof(list) - 5, "...");
	return xf_err_set(err, XF_E_USAGE, "--layer: no node '%s' in the model (nodes: %s)", name, list);
}

/* The value that holds the logits: the first output, or its input when it is a softmax. */
static int logits_value(const struct xf_graph *g)
{
	const struct xf_graph_node *n = &g->nodes[g->outputs[0]];

	return n->op == XF_OP_SOFTMAX ? n->inputs[0] : g->n_inputs + g->outputs[0];
}

static int choose_outputs(struct xf_embedder *e, struct xf_err *err)
{
	const struct xf_graph *g = e->m->g;
	int n = e->o.n_layers ? e->o.n_layers : (e->o.logits || e->o.probs ? 0 : g->n_outputs);

	if (!(e->outs = calloc((size_t)n + 3, sizeof(*e->outs))))
		return xf_err_nomem(err, 0);
	for (int k = 0; k < e->o.n_layers; k++) {
		int v = xf_graph_find(g, e->o.layers[k]);

		if (v < 0)
			return unknown_layer(g, e->o.layers[k], err);
		add_output(e, OUT_LAYER, v);
	}
	for (int k = 0; !e->o.n_layers && n && k < g->n_outputs; k++)
		add_output(e, OUT_LAYER, g->n_inputs + g->outputs[k]);
	if (e->o.logits)
		add_output(e, OUT_LOGITS, logits_value(g));
	if (e->o.probs)
		add_output(e, OUT_PROBS, logits_value(g));
	return 0;
}

static void output_name(const struct xf_embedder *e, int k, char *buf, size_t size)
{
	const struct output *out = &e->outs[k];
	int layers = 0;

	for (int j = 0; j < e->n_outs; j++)
		layers += e->outs[j].kind == OUT_LAYER;
	if (out->kind == OUT_LAYER)
		snprintf(buf, size, layers == 1 ? "x" : "x.%s", xf_graph_value_name(e->m->g, out->value));
	else
		snprintf(buf, size, "%s", out->kind == OUT_LOGITS ? "logits" : "probs");
}

/* The field for graph input gi: --field, or a field named like the input, or x. */
static int bind_input(struct xf_embedder *e, const struct xf_header *in, int gi, struct xf_err *err)
{
	const struct xf_graph *g = e->m->g;
	const struct xf_graph_input *gin = &g->inputs[gi];
	const char *name = g->n_inputs == 1 && e->o.field ? e->o.field
			 : xf_header_find(in, gin->name) >= 0 || g->n_inputs > 1 ? gin->name : "x";
	int f = xf_header_find(in, name);

	if (f < 0)
		return xf_err_set(err, XF_E_FORMAT, "no field '%s' to feed the model's input '%s'%s", name, gin->name,
				  g->n_inputs == 1 ? " (choose one with --field)" : "");
	e->bound[gi] = f;
	strcpy(e->bound_name[gi], name);
	e->prep[gi] = e->o.prep;
	if (xf_prep_bind(&e->prep[gi], &in->fields[f], gin, err) < 0)
		return -1;
	if (!(e->waiting[gi] = malloc((size_t)(e->prep[gi].count * e->o.batch) * sizeof(float) + 1)))
		return xf_err_nomem(err, 0);
	return 0;
}

static bool is_bound(const struct xf_embedder *e, int field)
{
	for (int gi = 0; gi < e->m->g->n_inputs; gi++)
		if (e->bound[gi] == field)
			return true;
	return false;
}

/* Carried fields (not bound, not named like an output), then the outputs. */
static int make_header(struct xf_embedder *e, const struct xf_header *in, struct xf_err *err)
{
	char names[3][XF_MAX_NAME + 8];
	int rc = 0;

	e->h.kind = in->kind == XF_KIND_TABLE ? XF_KIND_TABLE : XF_KIND_SAMPLES;
	if (!(e->h.meta = json_deep_copy(in->meta)) || (in->extra && !(e->h.extra = json_deep_copy(in->extra))))
		return xf_err_nomem(err, 0);
	for (int i = 0; rc == 0 && i < in->n_fields; i++) {
		bool clash = false;

		for (int k = 0; k < e->n_outs; k++) {
			output_name(e, k, names[0], sizeof(names[0]));
			clash |= !strcmp(names[0], in->fields[i].name);
		}
		e->carried_to[i] = -1;
		if (clash || is_bound(e, i))
			continue;
		e->carried_to[i] = e->h.n_fields;
		rc = xf_header_add_field(&e->h, in->fields[i].name, in->fields[i].dtype, in->fields[i].ndim,
					 in->fields[i].shape, err);
	}
	for (int k = 0; rc == 0 && k < e->n_outs; k++) {
		output_name(e, k, names[1], sizeof(names[1]));
		if (strlen(names[1]) > XF_MAX_NAME)
			return xf_err_set(err, XF_E_USAGE, "field name '%.40s...' is too long", names[1]);
		rc = xf_header_add_field(&e->h, names[1], XF_DTYPE_F32, 1, &e->outs[k].width, err);
	}
	return rc;
}

static int alloc_embedder(struct xf_embedder *e, const struct xf_header *in, struct xf_err *err)
{
	int gn = e->m->g->n_inputs;

	e->n_in = in->n_fields;
	e->carried_to = calloc((size_t)in->n_fields + 1, sizeof(int));
	e->parts = calloc((size_t)in->n_fields + 1, sizeof(*e->parts));
	e->bound = calloc((size_t)gn, sizeof(int));
	e->bound_name = calloc((size_t)gn, sizeof(*e->bound_name));
	e->prep = calloc((size_t)gn, sizeof(*e->prep));
	e->waiting = calloc((size_t)gn, sizeof(float *));
	if (!e->carried_to || !e->parts || !e->bound || !e->bound_name || !e->prep || !e->waiting)
		return xf_err_nomem(err, 0);
	return 0;
}

int xf_embedder_new(const struct xf_model *m, const struct xf_embed_opts *o, const struct xf_header *in,
		    struct xf_embedder **out, struct xf_err *err)
{
	struct xf_embedder *e = calloc(1, sizeof(*e));
	int *keep = NULL, rc;

	*out = NULL;
	if (!e)
		return xf_err_nomem(err, 0);
	e->m = m, e->o = *o, e->h = (struct xf_header)XF_HEADER_INIT;
	rc = o->batch >= 1 && o->batch <= (1 << 24) ? alloc_embedder(e, in, err)
						      : xf_err_set(err, XF_E_USAGE, "batch of %lld rows", (long long)o->batch);
	rc = rc ? rc : choose_outputs(e, err);
	for (int gi = 0; rc == 0 && gi < m->g->n_inputs; gi++)
		rc = bind_input(e, in, gi, err);
	rc = rc ? rc : make_header(e, in, err);
	if (rc == 0 && !(keep = calloc((size_t)e->n_outs + 1, sizeof(int))))
		rc = xf_err_nomem(err, 0);
	for (int k = 0; rc == 0 && k < e->n_outs; k++)
		keep[k] = e->outs[k].value;
	rc = rc ? rc : xf_net_new(m, keep, e->n_outs, o->batch, o->threads, &e->net, err);
	free(keep);
	if (rc < 0) {
		xf_embedder_free(e);
		return -1;
	}
	*out = e;
	return 0;
}

struct xf_header *xf_embedder_header(struct xf_embedder *e)
{
	return &e->h;
}

size_t xf_embedder_memory(const struct xf_embedder *e)
{
	return xf_net_memory(e->net);
}

/* Rows [off, off + k) of the input columns join the waiting batch. */
static int take_rows(struct xf_embedder *e, const struct xf_tensor *cols, int64_t off, int64_t k, struct xf_err *err)
{
	const struct xf_graph *g = e->m->g;

	for (int gi = 0; gi < g->n_inputs; gi++) {
		const struct xf_prep *p = &e->prep[gi];

		if (xf_prep_rows(p, &cols[e->bound[gi]], off, off + k, e->done + e->pending,
				 e->waiting[gi] + e->pending * p->count, err) < 0)
			return xf_err_prefix(err, "field '%s'", e->bound_name[gi]);
	}
	for (int i = 0; i < e->n_in; i++) {
		struct xf_tensor view, copy = XF_TENSOR_INIT;

		if (e->carried_to[i] < 0)
			continue;
		xf_tensor_rows(&cols[i], off, off + k, &view);
		if (xf_tensor_copy(&view, &copy, err) < 0 || xf_tensor_list_take(&e->parts[i], &copy, err) < 0) {
			xf_tensor_release(&copy);
			return -1;
		}
	}
	e->pending += k;
	return 0;
}

int xf_embedder_rows(struct xf_embedder *e, int64_t n, const struct xf_tensor *cols, struct xf_writer *w,
		     struct xf_err *err)
{
	for (int64_t off = 0; off < n;) {
		int64_t k = n - off < e->o.batch - e->pending ? n - off : e->o.batch - e->pending;

		if (take_rows(e, cols, off, k, err) < 0)
			return -1;
		off += k;
		if (e->pending == e->o.batch && xf_embedder_flush(e, w, err) < 0)
			return -1;
	}
	return 0;
}

/* Output k for the pending rows, from the net's value. */
static void fill_output(const struct xf_embedder *e, const struct output *out, float *y)
{
	const struct xf_graph *g = e->m->g;
	const float *x = xf_net_value(e->net, out->value);
	int ndim;
	int64_t first, count = value_count(g, out->value, &ndim, &first), rows = e->pending;

	if (out->kind == OUT_PROBS) {
		const int64_t *s = xf_graph_value_shape(g, out->value, &ndim);
		int64_t last = ndim ? s[ndim - 1] : 1;

		xf_softmax_forward(x, rows * (count / last), last, 1, y, e->o.threads);
	} else if (out->pooled) {
		int64_t inner = count / first;

		for (int64_t r = 0; r < rows * first; r++) {
			double sum = 0;

			for (int64_t i = 0; i < inner; i++)
				sum += x[r * inner + i];
			y[r] = (float)(sum / (double)inner);
		}
	} else {
		memcpy(y, x, (size_t)(rows * count) * sizeof(float));
	}
}

/* Column j of the output: the carried rows stacked, or an output computed. */
static int make_column(struct xf_embedder *e, int j, struct xf_tensor *col, struct xf_err *err)
{
	int n_carried = e->h.n_fields - e->n_outs;

	if (j >= n_carried) {
		const struct output *out = &e->outs[j - n_carried];
		int64_t shape[2] = { e->pending, out->width };

		if (xf_tensor_alloc_uninit(col, XF_DTYPE_F32, 2, shape, err) < 0)
			return -1;
		fill_output(e, out, col->data);
		return 0;
	}
	for (int i = 0; i < e->n_in; i++)
		if (e->carried_to[i] == j)
			return xf_tensor_concat_rows(e->parts[i].items, e->parts[i].n, col, err);
	return xf_err_set(err, XF_E_FORMAT, "internal: output field %d has no source", j);
}

int xf_embedder_flush(struct xf_embedder *e, struct xf_writer *w, struct xf_err *err)
{
	struct xf_tensor *cols;
	int rc = 0;

	if (e->pending == 0)
		return 0;
	if (!(cols = calloc((size_t)e->h.n_fields + 1, sizeof(*cols))))
		return xf_err_nomem(err, 0);
	rc = xf_net_run(e->net, (const float *const *)e->waiting, e->pending, err);
	for (int j = 0; rc == 0 && j < e->h.n_fields; j++)
		rc = make_column(e, j, &cols[j], err);
	if (rc == 0)
		rc = xf_writer_rows(w, e->pending, cols, err);
	for (int j = 0; j < e->h.n_fields; j++)
		xf_tensor_release(&cols[j]);
	free(cols);
	for (int i = 0; i < e->n_in; i++)
		xf_tensor_list_release(&e->parts[i]);
	e->done += e->pending, e->pending = 0;
	if (rc == 0 && e->o.on_batch)
		e->o.on_batch(e->o.ctx, e->done);
	return rc;
}

void xf_embedder_free(struct xf_embedder *e)
{
	if (!e)
		return;
	for (int gi = 0; e->waiting && gi < e->m->g->n_inputs; gi++)
		free(e->waiting[gi]);
	for (int i = 0; e->parts && i < e->n_in; i++)
		xf_tensor_list_release(&e->parts[i]);
	xf_net_free(e->net);
	xf_header_release(&e->h);
	free(e->carried_to), free(e->parts), free(e->bound), free(e->bound_name), free(e->prep), free(e->waiting);
	free(e->outs);
	free(e);
}
