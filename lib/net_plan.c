/* net_plan: which nodes run, which values share memory, and the buffers; see net_plan.h. */
#include <limits.h>
#include <stdlib.h>

#include "net_plan.h"

struct planner {
	const struct xf_graph *g;
	struct xf_net_plan *p;
	bool *needed;     /* per node: leads to a kept value */
	bool *kept;       /* per value */
	int *readers;     /* per value: needed nodes reading it (a node reading it twice counts twice) */
	int *last_read;   /* per value: the last needed node reading it, -1 for none */
	int *live_until;  /* per owner value: last node that reads it or a view of it; INT_MAX if kept */
	bool *is_free;    /* per buffer: given back */
};

static int node_value(const struct xf_graph *g, int node)
{
	return g->n_inputs + node;
}

static void find_needed(struct planner *s, const int *keep, int n_keep)
{
	const struct xf_graph *g = s->g;

	for (int k = 0; k < n_keep; k++) {
		s->kept[keep[k]] = true;
		if (keep[k] >= g->n_inputs)
			s->needed[keep[k] - g->n_inputs] = true;
	}
	for (int i = g->n_nodes - 1; i >= 0; i--)
		for (int j = 0; s->needed[i] && j < g->nodes[i].n_inputs; j++)
			if (g->nodes[i].inputs[j] >= g->n_inputs)
				s->needed[g->nodes[i].inputs[j] - g->n_inputs] = true;
	for (int i = 0; i < g->n_nodes; i++)
		for (int j = 0; s->needed[i] && j < g->nodes[i].n_inputs; j++) {
			s->readers[g->nodes[i].inputs[j]]++;
			s->last_read[g->nodes[i].inputs[j]] = i;
		}
}

/* Make value w a view of owner r, which must then live as long as w does. */
static void share(struct planner *s, int w, int r)
{
	int until = s->kept[w] ? INT_MAX : s->last_read[w];

	s->p->root[w] = r;
	if (until > s->live_until[r])
		s->live_until[r] = until;
}

/* Ops that may write their output over an input (nn_elementwise.h). */
static bool in_place_op(enum xf_op op)
{
	return op == XF_OP_RELU || op == XF_OP_TANH || op == XF_OP_SIGMOID || op == XF_OP_GELU ||
	       op == XF_OP_BATCHNORM || op == XF_OP_SOFTMAX || op == XF_OP_LAYERNORM || op == XF_OP_ADD;
}

/* The owner of an input of node i that nothing reads after i, or -1. */
static int dead_input(const struct planner *s, int i)
{
	const struct xf_graph_node *n = &s->g->nodes[i];

	for (int j = 0; j < n->n_inputs; j++) {
		int r = s->p->root[n->inputs[j]];

		if (r >= s->g->n_inputs && s->live_until[r] == i)
			return r;
	}
	return -1;
}

static bool foldable(const struct planner *s, int i)
{
	const struct xf_graph *g = s->g;
	int v = g->nodes[i].inputs[0];

	return g->nodes[i].op == XF_OP_BATCHNORM && v >= g->n_inputs && g->nodes[v - g->n_inputs].op == XF_OP_CONV2D &&
	       s->readers[v] == 1 && !s->kept[v];
}

/* Decide, node by node, which values are views of earlier ones. */
static void find_views(struct planner *s)
{
	const struct xf_graph *g = s->g;

	for (int v = 0; v < s->p->n_values; v++) {
		s->p->root[v] = v;
		s->live_until[v] = s->kept[v] ? INT_MAX : s->last_read[v];
	}
	for (int i = 0; i < g->n_nodes; i++) {
		int w = node_value(g, i), r;

		if (!s->needed[i])
			continue;
		s->p->runs[i] = true;
		if (g->nodes[i].op == XF_OP_FLATTEN || (s->p->folded[i] = foldable(s, i)))
			s->p->runs[i] = false, share(s, w, s->p->root[g->nodes[i].inputs[0]]);
		else if (in_place_op(g->nodes[i].op) && (r = dead_input(s, i)) >= 0)
			share(s, w, r);
	}
}

/* A free buffer for `floats` per sample: the smallest that fits, else the largest grown, else a new one. */
static int take_buffer(struct planner *s, int64_t floats)
{
	struct xf_net_plan *p = s->p;
	int best = -1;

	for (int b = 0; b < p->n_buffers; b++) {
		if (!s->is_free[b])
			continue;
		bool fits = p->capacity[b] >= floats, best_fits = best >= 0 && p->capacity[best] >= floats;
		if (best < 0 || (fits && (!best_fits || p->capacity[b] < p->capacity[best])) ||
		    (!fits && !best_fits && p->capacity[b] > p->capacity[best]))
			best = b;
	}
	if (best < 0) {
		best = p->n_buffers++;
		p->capacity[best] = 0;
	}
	s->is_free[best] = false;
	if (p->capacity[best] < floats)
		p->capacity[best] = floats;
	return best;
}

static void assign_buffers(struct planner *s)
{
	const struct xf_graph *g = s->g;
	struct xf_net_plan *p = s->p;

	for (int i = 0; i < g->n_nodes; i++) {
		const struct xf_graph_node *n = &g->nodes[i];
		int w = node_value(g, i);

		if (!s->needed[i])
			continue;
		if (p->root[w] == w)
			p->buffer[w] = take_buffer(s, xf_shape_count(n->ndim, n->shape));
		for (int j = 0; j < n->n_inputs; j++) {
			int r = p->root[n->inputs[j]];

			if (r >= g->n_inputs && s->live_until[r] == i && p->buffer[r] >= 0)
				s->is_free[p->buffer[r]] = true;
		}
	}
}

static void free_planner(struct planner *s)
{
	free(s->needed), free(s->kept), free(s->readers), free(s->last_read), free(s->live_until), free(s->is_free);
}

int xf_net_plan(const struct xf_graph *g, const int *keep, int n_keep, struct xf_net_plan *p, struct xf_err *err)
{
	int nv = g->n_inputs + g->n_nodes;
	struct planner s = { g, p, calloc(g->n_nodes, sizeof(bool)), calloc(nv, sizeof(bool)), calloc(nv, sizeof(int)),
			     malloc(nv * sizeof(int)), malloc(nv * sizeof(int)), calloc(g->n_nodes, sizeof(bool)) };

	*p = (struct xf_net_plan){ nv, calloc(g->n_nodes, sizeof(bool)), calloc(g->n_nodes, sizeof(bool)),
				   malloc(nv * sizeof(int)), malloc(nv * sizeof(int)), 0,
				   calloc(g->n_nodes + 1, sizeof(int64_t)) };
	if (!s.needed || !s.kept || !s.readers || !s.last_read || !s.live_until || !s.is_free || !p->runs ||
	    !p->folded || !p->root || !p->buffer || !p->capacity) {
		free_planner(&s), xf_net_plan_release(p);
		return xf_err_nomem(err, 0);
	}
	for (int k = 0; k < n_keep; k++)
		if (keep[k] < 0 || keep[k] >= nv) {
			free_planner(&s), xf_net_plan_release(p);
			return xf_err_set(err, XF_E_USAGE, "value id %d is not in the graph", keep[k]);
		}
	for (int v = 0; v < nv; v++)
		s.last_read[v] = -1, p->buffer[v] = -1;
	find_needed(&s, keep, n_keep);
	find_views(&s);
	assign_buffers(&s);
	free_planner(&s);
	return 0;
}

void xf_net_plan_release(struct xf_net_plan *p)
{
	free(p->runs), free(p->folded), free(p->root), free(p->buffer), free(p->capacity);
	*p = (struct xf_net_plan){ 0 };
}
