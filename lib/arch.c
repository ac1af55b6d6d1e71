/* arch: models from architecture files, initialised as PyTorch does; see arch.h. */
#include <math.h>
#include <stdlib.h>

#include "arch.h"
#include "rng.h"

static int64_t field_size(const struct xf_model *m, int f)
{
	return xf_shape_count(m->h.fields[f].ndim, m->h.fields[f].shape);
}

static void fill(float *v, int64_t n, float value)
{
	for (int64_t j = 0; j < n; j++)
		v[j] = value;
}

static void uniform(float *v, int64_t n, double bound, uint64_t seed, int f)
{
	struct xf_rng rng;

	xf_rng_init(&rng, seed, (uint64_t)f);
	for (int64_t j = 0; j < n; j++)
		v[j] = (float)((2 * xf_rng_uniform(&rng) - 1) * bound);
}

static void init_node(struct xf_model *m, const struct xf_graph_node *n, uint64_t seed, bool *done)
{
	int w = n->weights[XF_ROLE_WEIGHT];
	double fan_in = w >= 0 ? (double)field_size(m, w) / (double)m->h.fields[w].shape[0] : 1;

	for (int r = 0; r < XF_ROLE_COUNT; r++) {
		int f = n->weights[r];
		bool affine = n->op == XF_OP_LINEAR || n->op == XF_OP_CONV2D;

		if (f < 0 || done[f])
			continue;
		done[f] = true;
		if (affine)
			uniform(m->weights[f], field_size(m, f), 1 / sqrt(fan_in), seed, f);
		else
			fill(m->weights[f], field_size(m, f), r == XF_ROLE_WEIGHT || r == XF_ROLE_RUNNING_VAR ? 1 : 0);
	}
}

void xf_arch_init_nodes(struct xf_model *m, const bool *nodes, uint64_t seed)
{
	bool *done = calloc((size_t)m->h.n_fields + 1, sizeof(bool));

	for (int i = 0; done && i < m->g->n_nodes; i++)
		if (!nodes || nodes[i])
			init_node(m, &m->g->nodes[i], seed, done);
	free(done);
}

/* The "tensors" map as names, ranks and shapes. */
static int read_tensors(const json_t *tensors, const char **names, int *ndims, int64_t (*shapes)[XF_MAX_DIMS],
			struct xf_err *err)
{
	const char *name;
	json_t *dims;
	int n = 0;

	json_object_foreach((json_t *)tensors, name, dims) {
		size_t k;
		json_t *v;

		if (!json_is_array(dims) || json_array_size(dims) < 1 || json_array_size(dims) >= XF_MAX_DIMS)
			return xf_err_set(err, XF_E_FORMAT, "tensor '%s': the shape must be an array of 1 to %d sizes", name,
					  XF_MAX_DIMS - 1);
		json_array_foreach(dims, k, v) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > XF_GRAPH_MAX_DIM)
				return xf_err_set(err, XF_E_FORMAT, "tensor '%s': sizes must be integers from 1 to 2^31-1", name);
			shapes[n][k] = json_integer_value(v);
		}
		names[n] = name, ndims[n] = (int)json_array_size(dims);
		n++;
	}
	return n;
}

int xf_arch_load(const char *path, uint64_t seed, struct xf_model *m, struct xf_err *err)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *graph, *tensors;
	size_t n;
	const char **names = NULL;
	int *ndims = NULL, rc = -1;
	int64_t (*shapes)[XF_MAX_DIMS] = NULL;

	*m = (struct xf_model)XF_MODEL_INIT;
	if (!root)
		return xf_err_set(err, XF_E_FORMAT, "%s: line %d: %s", path, jerr.line, jerr.text);
	graph = json_object_get(root, "graph"), tensors = json_object_get(root, "tensors");
	if (!json_is_object(graph) || !json_is_object(tensors) || json_object_size(root) != 2) {
		json_decref(root);
		return xf_err_set(err, XF_E_FORMAT, "%s: an architecture is an object with exactly \"graph\" and \"tensors\"",
				  path);
	}
	n = json_object_size(tensors);
	names = calloc(n + 1, sizeof(*names)), ndims = calloc(n + 1, sizeof(int)), shapes = calloc(n + 1, sizeof(*shapes));
	if (!names || !ndims || !shapes)
		xf_err_nomem(err, 0);
	else if (read_tensors(tensors, names, ndims, shapes, err) >= 0)
		rc = xf_model_create(json_incref(graph), (int)n, names, ndims, shapes, m, err);
	if (rc < 0)
		xf_err_prefix(err, "%s", path);
	else
		xf_arch_init_nodes(m, NULL, seed);
	free(names), free(ndims), free(shapes);
	json_decref(root);
	return rc;
}
