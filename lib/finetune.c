/* finetune: new heads, frozen layers, layer-wise learning rates, re-initialisation; see finetune.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "finetune.h"

int xf_finetune_layers(const struct xf_model *m, int *layer_of_node)
{
	int layers = 0;

	for (int i = 0; i < m->g->n_nodes; i++) {
		enum xf_op op = m->g->nodes[i].op;

		if (op == XF_OP_LINEAR || op == XF_OP_CONV2D)
			layers++;
		layer_of_node[i] = layers > 0 ? layers - 1 : 0;
	}
	return layers;
}

/* The node computing the logits. */
static const struct xf_graph_node *logits_node(const struct xf_model *m)
{
	const struct xf_graph *g = m->g;
	const struct xf_graph_node *n = &g->nodes[g->outputs[0]];

	if (n->op == XF_OP_SOFTMAX && n->inputs[0] >= g->n_inputs)
		n = &g->nodes[n->inputs[0] - g->n_inputs];
	return n;
}

/* Give field f the shape [rows, shape[1:]] and fresh zeroed memory. */
static int reshape_field(struct xf_model *m, int f, int64_t rows, struct xf_err *err)
{
	struct xf_field *fd = &m->h.fields[f];
	float *w;

	fd->shape[0] = rows;
	if (!(w = calloc((size_t)xf_shape_count(fd->ndim, fd->shape) + 1, sizeof(float))))
		return xf_err_nomem(err, 0);
	free(m->weights[f]);
	m->weights[f] = w;
	return 0;
}

int xf_finetune_new_head(struct xf_model *m, int classes, uint64_t seed, struct xf_err *err)
{
	const struct xf_graph_node *n = logits_node(m);
	int head = (int)(n - m->g->nodes), w = n->weights[XF_ROLE_WEIGHT], b = n->weights[XF_ROLE_BIAS];
	bool *only;
	struct xf_graph *g;

	if (n->op != XF_OP_LINEAR)
		return xf_err_set(err, XF_E_FORMAT, "the logits come from node '%s' (%s), not a linear layer: no head to replace",
				  n->name, xf_op_name(n->op));
	if (xf_model_user(m, w) != head || (b >= 0 && xf_model_user(m, b) != head))
		return xf_err_set(err, XF_E_FORMAT, "the head '%s' shares its weights with other nodes", n->name);
	if (reshape_field(m, w, classes, err) < 0 || (b >= 0 && reshape_field(m, b, classes, err) < 0))
		return -1;
	if (xf_graph_parse(m->h.graph, &m->h, &g, err) < 0)
		return -1;
	xf_graph_free(m->g);
	m->g = g;
	if (!(only = calloc((size_t)g->n_nodes, sizeof(bool))))
		return xf_err_nomem(err, 0);
	only[head] = true;
	xf_arch_init_nodes(m, only, seed);
	free(only);
	return 0;
}

int xf_finetune_freeze(const struct xf_model *m, const char *last, bool *trainable, struct xf_err *err)
{
	int v = xf_graph_find(m->g, last), upto = v - m->g->n_inputs;
	bool any = false;

	if (v < m->g->n_inputs)
		return xf_err_set(err, XF_E_USAGE, "--freeze: no node '%s' in the model", last);
	for (int f = 0; f < m->h.n_fields; f++)
		trainable[f] = true;
	for (int i = 0; i <= upto; i++)
		for (int r = 0; r < XF_ROLE_COUNT; r++)
			if (m->g->nodes[i].weights[r] >= 0)
				trainable[m->g->nodes[i].weights[r]] = false;
	for (int i = upto + 1; i < m->g->n_nodes; i++)
		for (int r = 0; r < XF_ROLE_COUNT; r++)
			any |= m->g->nodes[i].weights[r] >= 0 && trainable[m->g->nodes[i].weights[r]];
	if (!any)
		return xf_err_set(err, XF_E_USAGE, "--freeze %s leaves no weights to train", last);
	return 0;
}

int xf_finetune_reinit(struct xf_model *m, int count, uint64_t seed, struct xf_err *err)
{
	int *layer = calloc((size_t)m->g->n_nodes + 1, sizeof(int)), layers;
	bool *nodes = calloc((size_t)m->g->n_nodes + 1, sizeof(bool));

	if (!layer || !nodes) {
		free(layer), free(nodes);
		return xf_err_nomem(err, 0);
	}
	layers = xf_finetune_layers(m, layer);
	for (int i = 0; i < m->g->n_nodes; i++)
		nodes[i] = layers > 0 && layer[i] >= layers - count;
	xf_arch_init_nodes(m, nodes, seed);
	free(layer), free(nodes);
	return 0;
}

int xf_finetune_layer_decay(const struct xf_model *m, double decay, double *lr_scale, struct xf_err *err)
{
	int *layer = calloc((size_t)m->g->n_nodes + 1, sizeof(int)), layers;

	for (int f = 0; f < m->h.n_fields; f++)
		lr_scale[f] = 1;
	if (!layer)
		return xf_err_nomem(err, 0);
	layers = xf_finetune_layers(m, layer);
	for (int i = 0; i < m->g->n_nodes; i++)
		for (int r = 0; r < XF_ROLE_COUNT; r++)
			if (m->g->nodes[i].weights[r] >= 0)
				lr_scale[m->g->nodes[i].weights[r]] = pow(decay, (double)(layers - 1 - layer[i]));
	free(layer);
	return 0;
}
