/* mlp: multilayer perceptrons with torch's default initialisation; see mlp.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlp.h"
#include "rng.h"

static void layer_name(int k, int layers, char *buf, size_t size)
{
	if (layers == 1)
		snprintf(buf, size, "fc");
	else
		snprintf(buf, size, "fc%d", k + 1);
}

static json_t *mlp_graph(int ndim, const int64_t *shape, int layers, bool gelu)
{
	json_t *dims = json_array(), *nodes = json_array();
	char from[32] = "x", name[32], act[32], w[48], b[48];

	for (int i = 0; i < ndim; i++)
		json_array_append_new(dims, json_integer(shape[i]));
	if (ndim != 1) {
		json_array_append_new(nodes, json_pack("{s:s, s:s, s:[s]}", "name", "flatten", "op", "flatten", "inputs", "x"));
		strcpy(from, "flatten");
	}
	for (int k = 0; k < layers; k++) {
		layer_name(k, layers, name, sizeof(name));
		snprintf(w, sizeof(w), "%s.weight", name), snprintf(b, sizeof(b), "%s.bias", name);
		json_array_append_new(nodes, json_pack("{s:s, s:s, s:[s], s:{s:s, s:s}}", "name", name, "op", "linear",
						       "inputs", from, "weights", "weight", w, "bias", b));
		strcpy(from, name);
		if (k + 1 < layers) {
			snprintf(act, sizeof(act), "%s%d", gelu ? "gelu" : "relu", k + 1);
			json_array_append_new(nodes, json_pack("{s:s, s:s, s:[s]}", "name", act, "op", gelu ? "gelu" : "relu",
							       "inputs", from));
			strcpy(from, act);
		}
	}
	return json_pack("{s:{s:{s:o}}, s:o, s:[s]}", "inputs", "x", "shape", dims, "nodes", nodes, "outputs", from);
}

int xf_mlp_build(int ndim, const int64_t *shape, const int64_t *hidden, int n_hidden, bool gelu, int classes,
		 uint64_t seed, struct xf_model *m, struct xf_err *err)
{
	int layers = n_hidden + 1, ndims[2 * XF_MLP_MAX_LAYERS];
	int64_t shapes[2 * XF_MLP_MAX_LAYERS][XF_MAX_DIMS] = { { 0 } }, in = xf_shape_count(ndim, shape);
	char names[2 * XF_MLP_MAX_LAYERS][48], layer[32];
	const char *name_ptrs[2 * XF_MLP_MAX_LAYERS];

	if (layers > XF_MLP_MAX_LAYERS)
		return xf_err_set(err, XF_E_USAGE, "at most %d hidden layers", XF_MLP_MAX_LAYERS - 1);
	for (int k = 0; k < layers; k++) {
		int64_t out = k < n_hidden ? hidden[k] : classes;

		layer_name(k, layers, layer, sizeof(layer));
		snprintf(names[2 * k], sizeof(names[0]), "%s.weight", layer);
		snprintf(names[2 * k + 1], sizeof(names[0]), "%s.bias", layer);
		name_ptrs[2 * k] = names[2 * k], name_ptrs[2 * k + 1] = names[2 * k + 1];
		ndims[2 * k] = 2, shapes[2 * k][0] = out, shapes[2 * k][1] = in;
		ndims[2 * k + 1] = 1, shapes[2 * k + 1][0] = out;
		in = out;
	}
	if (xf_model_create(mlp_graph(ndim, shape, layers, gelu), 2 * layers, name_ptrs, ndims, shapes, m, err) < 0)
		return -1;
	for (int f = 0; f < 2 * layers; f++) {
		struct xf_rng rng;
		double bound = 1 / sqrt((double)shapes[f & ~1][1]);
		int64_t count = xf_shape_count(ndims[f], shapes[f]);

		xf_rng_init(&rng, seed, (uint64_t)f);
		for (int64_t j = 0; j < count; j++)
			m->weights[f][j] = (float)((2 * xf_rng_uniform(&rng) - 1) * bound);
	}
	return 0;
}

int xf_mlp_activations(const struct xf_model *m, int *nodes)
{
	int n = 0;

	for (int i = 0; i < m->g->n_nodes; i++)
		if (m->g->nodes[i].op == XF_OP_RELU || m->g->nodes[i].op == XF_OP_GELU)
			nodes[n++] = i;
	return n;
}
