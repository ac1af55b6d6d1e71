/*
 * graph: validate a model header's "graph", resolve names to indices, type the attrs and
 * infer every node's per-sample output shape. The rules are those of schemas/stream.md,
 * "The model graph"; each check here corresponds to a sentence there.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static const char *const op_names[XF_OP_COUNT] = {
	[XF_OP_LINEAR] = "linear",
	[XF_OP_CONV2D] = "conv2d",
	[XF_OP_BATCHNORM] = "batchnorm",
	[XF_OP_RELU] = "relu",
	[XF_OP_TANH] = "tanh",
	[XF_OP_SIGMOID] = "sigmoid",
	[XF_OP_GELU] = "gelu",
	[XF_OP_MAXPOOL2D] = "maxpool2d",
	[XF_OP_AVGPOOL2D] = "avgpool2d",
	[XF_OP_GLOBAL_AVGPOOL] = "global_avgpool",
	[XF_OP_FLATTEN] = "flatten",
	[XF_OP_ADD] = "add",
	[XF_OP_CONCAT] = "concat",
	[XF_OP_LAYERNORM] = "layernorm",
	[XF_OP_SOFTMAX] = "softmax",
	[XF_OP_KERNEL] = "kernel",
};

/* The format version that introduced each op (schemas/stream.md, change log). */
static const int op_versions[XF_OP_COUNT] = {
	[XF_OP_LINEAR] = 1, [XF_OP_CONV2D] = 1, [XF_OP_BATCHNORM] = 1, [XF_OP_RELU] = 1, [XF_OP_TANH] = 1,
	[XF_OP_SIGMOID] = 1, [XF_OP_GELU] = 1, [XF_OP_MAXPOOL2D] = 1, [XF_OP_AVGPOOL2D] = 1,
	[XF_OP_GLOBAL_AVGPOOL] = 1, [XF_OP_FLATTEN] = 1, [XF_OP_ADD] = 1, [XF_OP_CONCAT] = 1, [XF_OP_LAYERNORM] = 1,
	[XF_OP_SOFTMAX] = 1, [XF_OP_KERNEL] = 2,
};

static const char *const kernel_fn_names[XF_KERNEL_COUNT] = {
	[XF_KERNEL_LINEAR] = "linear",
	[XF_KERNEL_RBF] = "rbf",
	[XF_KERNEL_POLY] = "poly",
};

static const char *const role_names[XF_ROLE_COUNT] = {
	[XF_ROLE_WEIGHT] = "weight",
	[XF_ROLE_BIAS] = "bias",
	[XF_ROLE_RUNNING_MEAN] = "running_mean",
	[XF_ROLE_RUNNING_VAR] = "running_var",
	[XF_ROLE_CENTERS] = "centers",
};

#define ROLE(r) (1u << (r))
#define MAX_ATTRS 6

/* What each op accepts: input count range, attr names (NULL-terminated), weight roles. */
static const struct op_info {
	int min_inputs, max_inputs;
	const char *attrs[MAX_ATTRS];
	unsigned roles;
} op_table[XF_OP_COUNT] = {
	[XF_OP_LINEAR] = { 1, 1, { NULL }, ROLE(XF_ROLE_WEIGHT) | ROLE(XF_ROLE_BIAS) },
	[XF_OP_CONV2D] = { 1, 1, { "stride", "padding", "dilation", "groups", NULL },
			   ROLE(XF_ROLE_WEIGHT) | ROLE(XF_ROLE_BIAS) },
	[XF_OP_BATCHNORM] = { 1, 1, { "eps", NULL },
			      ROLE(XF_ROLE_WEIGHT) | ROLE(XF_ROLE_BIAS) | ROLE(XF_ROLE_RUNNING_MEAN) |
			      ROLE(XF_ROLE_RUNNING_VAR) },
	[XF_OP_RELU] = { 1, 1, { NULL }, 0 },
	[XF_OP_TANH] = { 1, 1, { NULL }, 0 },
	[XF_OP_SIGMOID] = { 1, 1, { NULL }, 0 },
	[XF_OP_GELU] = { 1, 1, { "approximate", NULL }, 0 },
	[XF_OP_MAXPOOL2D] = { 1, 1, { "kernel", "stride", "padding", "ceil_mode", NULL }, 0 },
	[XF_OP_AVGPOOL2D] = { 1, 1, { "kernel", "stride", "padding", "ceil_mode", "count_include_pad", NULL },
			      0 },
	[XF_OP_GLOBAL_AVGPOOL] = { 1, 1, { NULL }, 0 },
	[XF_OP_FLATTEN] = { 1, 1, { NULL }, 0 },
	[XF_OP_ADD] = { 2, XF_GRAPH_MAX_INPUTS, { NULL }, 0 },
	[XF_OP_CONCAT] = { 2, XF_GRAPH_MAX_INPUTS, { "axis", NULL }, 0 },
	[XF_OP_LAYERNORM] = { 1, 1, { "eps", NULL }, ROLE(XF_ROLE_WEIGHT) | ROLE(XF_ROLE_BIAS) },
	[XF_OP_SOFTMAX] = { 1, 1, { "axis", NULL }, 0 },
	[XF_OP_KERNEL] = { 1, 1, { "kernel", "gamma", "degree", "coef0", NULL }, ROLE(XF_ROLE_CENTERS) },
};

/* State of one xf_graph_parse call. */
struct ctx {
	const struct xf_header *h;
	struct xf_graph *g;
	json_t *names;            /* input and node name -> value id */
	json_t *fields;           /* declared field name -> index in h->fields */
	bool *used;               /* per declared field: named by some node */
	struct xf_graph_node *node; /* the node being parsed, for messages */
	struct xf_err *err;
};

const char *xf_op_name(enum xf_op op)
{
	return (unsigned)op < XF_OP_COUNT ? op_names[op] : "?";
}

int xf_op_parse(const char *name, enum xf_op *out)
{
	for (int i = 0; i < XF_OP_COUNT; i++)
		if (!strcmp(name, op_names[i])) {
			*out = (enum xf_op)i;
			return 0;
		}
	return -1;
}

const char *xf_role_name(enum xf_role role)
{
	return (unsigned)role < XF_ROLE_COUNT ? role_names[role] : "?";
}

const char *xf_kernel_fn_name(enum xf_kernel_fn fn)
{
	return (unsigned)fn < XF_KERNEL_COUNT ? kernel_fn_names[fn] : "?";
}

int xf_kernel_fn_parse(const char *name, enum xf_kernel_fn *out)
{
	for (int i = 0; i < XF_KERNEL_COUNT; i++)
		if (!strcmp(name, kernel_fn_names[i])) {
			*out = (enum xf_kernel_fn)i;
			return 0;
		}
	return -1;
}

int xf_graph_format_version(const json_t *graph)
{
	const json_t *nodes = json_object_get(graph, "nodes"), *node;
	int version = 1;
	size_t i;

	json_array_foreach(nodes, i, node) {
		const json_t *op = json_object_get(node, "op");
		enum xf_op k;

		if (json_is_string(op) && xf_op_parse(json_string_value(op), &k) == 0 && op_versions[k] > version)
			version = op_versions[k];
	}
	return version;
}

void xf_graph_free(struct xf_graph *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n_nodes; i++)
		free(g->nodes[i].inputs);
	free(g->nodes);
	free(g->inputs);
	free(g->outputs);
	free(g);
}

const char *xf_graph_value_name(const struct xf_graph *g, int v)
{
	return v < g->n_inputs ? g->inputs[v].name : g->nodes[v - g->n_inputs].name;
}

const int64_t *xf_graph_value_shape(const struct xf_graph *g, int v, int *ndim)
{
	if (v < g->n_inputs) {
		*ndim = g->inputs[v].ndim;
		return g->inputs[v].shape;
	}
	*ndim = g->nodes[v - g->n_inputs].ndim;
	return g->nodes[v - g->n_inputs].shape;
}

int xf_graph_find(const struct xf_graph *g, const char *name)
{
	for (int v = 0; v < g->n_inputs + g->n_nodes; v++)
		if (!strcmp(xf_graph_value_name(g, v), name))
			return v;
	return -1;
}

/* An error about the current node: "graph: node 'NAME' (OP): ...". Returns -1. */
__attribute__((format(printf, 2, 3)))
static int node_err(struct ctx *c, const char *fmt, ...)
{
	char msg[sizeof(c->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return xf_err_set(c->err, XF_E_FORMAT, "graph: node '%s' (%s): %s", c->node->name,
			  xf_op_name(c->node->op), msg);
}

/* "[2, 3]" in one of a few rotating buffers, so one message can hold several shapes. */
static const char *shape_str(int ndim, const int64_t *shape)
{
	static _Thread_local char bufs[4][160];
	static _Thread_local int next;
	char *buf = bufs[next++ % 4];

	return xf_shape_str(ndim, shape, buf, sizeof(bufs[0]));
}

static int check_name(struct ctx *c, const char *where, const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return xf_err_set(c->err, XF_E_FORMAT, "graph: %s: name is empty", where);
	if (len > XF_MAX_NAME)
		return xf_err_set(c->err, XF_E_FORMAT, "graph: %s: name is %zu bytes (at most %d)", where,
				  len, XF_MAX_NAME);
	return 0;
}

/*
 * Reject keys of obj not in the NULL-terminated list `known`. `what` is "key" or "attr";
 * `where` locates obj outside a node (NULL at the top level).
 */
static int check_keys(struct ctx *c, const json_t *obj, const char *const *known, const char *what,
		      const char *where)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)obj, key, val) {
		int k = 0;

		while (known[k] && strcmp(known[k], key))
			k++;
		if (!known[k])
		{
			if (c->node)
				return node_err(c, "unknown %s '%s'", what, key);
			return xf_err_set(c->err, XF_E_FORMAT, "graph: %s%sunknown %s '%s'", where ? where : "",
					  where ? ": " : "", what, key);
		}
	}
	return 0;
}

static int register_name(struct ctx *c, const char *name, int v)
{
	if (json_object_set_new(c->names, name, json_integer(v)) < 0)
		return xf_err_nomem(c->err, strlen(name) + 64);
	return 0;
}

/*
 * "inputs": {name: {"shape": [dims], "dtype": float dtype (default "<f4")}}. Shapes are per
 * sample, so they leave one dimension for the batch.
 */
static int parse_inputs(struct ctx *c, const json_t *inputs)
{
	static const char *const keys[] = { "shape", "dtype", NULL };
	struct xf_graph *g = c->g;
	const char *name;
	json_t *spec;

	if (!json_is_object(inputs) || json_object_size(inputs) == 0)
		return xf_err_set(c->err, XF_E_FORMAT, "graph: 'inputs' must be a non-empty map");
	if (json_object_size(inputs) > XF_GRAPH_MAX_INPUTS)
		return xf_err_set(c->err, XF_E_LIMIT, "graph: %zu inputs (at most %d)",
				  json_object_size(inputs), XF_GRAPH_MAX_INPUTS);
	g->inputs = calloc(json_object_size(inputs), sizeof(*g->inputs));
	if (!g->inputs)
		return xf_err_nomem(c->err, json_object_size(inputs) * sizeof(*g->inputs));
	json_object_foreach((json_t *)inputs, name, spec) {
		struct xf_graph_input *in = &g->inputs[g->n_inputs];
		char where[XF_MAX_NAME + 32];
		json_t *shape, *dtype, *dim;
		size_t i;

		snprintf(where, sizeof(where), "input '%s'", name);
		if (check_name(c, where, name) < 0)
			return -1;
		if (!json_is_object(spec))
			return xf_err_set(c->err, XF_E_FORMAT, "graph: %s must be a map", where);
		if (check_keys(c, spec, keys, "key", where) < 0)
			return -1;
		strcpy(in->name, name);
		shape = json_object_get(spec, "shape");
		if (!json_is_array(shape))
			return xf_err_set(c->err, XF_E_FORMAT, "graph: %s: 'shape' must be an array", where);
		if (json_array_size(shape) > XF_MAX_DIMS - 1)
			return xf_err_set(c->err, XF_E_LIMIT, "graph: %s: %zu dimensions (at most %d per sample)",
					  where, json_array_size(shape), XF_MAX_DIMS - 1);
		json_array_foreach(shape, i, dim) {
			if (!json_is_integer(dim) || json_integer_value(dim) < 1 ||
			    json_integer_value(dim) > XF_GRAPH_MAX_DIM)
				return xf_err_set(c->err, XF_E_FORMAT,
						  "graph: %s: shape entries must be integers from 1 to %d", where,
						  XF_GRAPH_MAX_DIM);
			in->shape[i] = json_integer_value(dim);
		}
		in->ndim = (int)json_array_size(shape);
		if (xf_shape_count(in->ndim, in->shape) < 0)
			return xf_err_set(c->err, XF_E_FORMAT, "graph: %s: shape %s has too many elements", where,
					  shape_str(in->ndim, in->shape));
		in->dtype = XF_DTYPE_F32;
		dtype = json_object_get(spec, "dtype");
		if (dtype && (!json_is_string(dtype) || xf_dtype_parse(json_string_value(dtype), &in->dtype) < 0 ||
			      !xf_dtype_table[in->dtype].is_float))
			return xf_err_set(c->err, XF_E_FORMAT,
					  "graph: %s: 'dtype' must be a float dtype (<f4, <f8, <f2, bf16)", where);
		if (register_name(c, name, g->n_inputs) < 0)
			return -1;
		g->n_inputs++;
	}
	return 0;
}

/*
 * First pass over "nodes": every entry is a map with a valid, unique "name". Registering all
 * names before resolving inputs lets an input that names a later node be reported as such.
 */
static int prescan_nodes(struct ctx *c, const json_t *nodes)
{
	struct xf_graph *g = c->g;
	json_t *node;
	size_t i;

	if (!json_is_array(nodes) || json_array_size(nodes) == 0)
		return xf_err_set(c->err, XF_E_FORMAT, "graph: 'nodes' must be a non-empty array");
	if (json_array_size(nodes) > XF_GRAPH_MAX_NODES)
		return xf_err_set(c->err, XF_E_LIMIT, "graph: %zu nodes (at most %d)", json_array_size(nodes),
				  XF_GRAPH_MAX_NODES);
	g->nodes = calloc(json_array_size(nodes), sizeof(*g->nodes));
	if (!g->nodes)
		return xf_err_nomem(c->err, json_array_size(nodes) * sizeof(*g->nodes));
	json_array_foreach(nodes, i, node) {
		struct xf_graph_node *n = &g->nodes[i];
		json_t *name = json_object_get(node, "name"), *op = json_object_get(node, "op"), *prev;
		char where[32];

		g->n_nodes++;
		for (int r = 0; r < XF_ROLE_COUNT; r++)
			n->weights[r] = -1;
		snprintf(where, sizeof(where), "nodes[%zu]", i);
		if (!json_is_object(node))
			return xf_err_set(c->err, XF_E_FORMAT, "graph: %s is not a map", where);
		if (!json_is_string(name))
			return xf_err_set(c->err, XF_E_FORMAT, "graph: %s: 'name' must be a string", where);
		if (check_name(c, where, json_string_value(name)) < 0)
			return -1;
		strcpy(n->name, json_string_value(name));
		n->op = XF_OP_COUNT;
		if (json_is_string(op))
			xf_op_parse(json_string_value(op), &n->op);
		prev = json_object_get(c->names, n->name);
		if (prev) {
			int v = (int)json_integer_value(prev);

			c->node = n;
			if (v < g->n_inputs)
				return node_err(c, "duplicate name '%s' (also a graph input)", n->name);
			return node_err(c, "duplicate name '%s' (also nodes[%d])", n->name, v - g->n_inputs);
		}
		if (register_name(c, n->name, g->n_inputs + (int)i) < 0)
			return -1;
	}
	return 0;
}

static int parse_node_inputs(struct ctx *c, const json_t *inputs, int self)
{
	const struct op_info *info = &op_table[c->node->op];
	struct xf_graph_node *n = c->node;
	json_t *in;
	size_t i, count;

	if (!json_is_array(inputs))
		return node_err(c, "'inputs' must be an array of names");
	count = json_array_size(inputs);
	if (info->min_inputs == info->max_inputs && count != (size_t)info->min_inputs)
		return node_err(c, "takes %d input%s, got %zu", info->min_inputs, info->min_inputs == 1 ? "" : "s",
				count);
	if (count < (size_t)info->min_inputs)
		return node_err(c, "takes at least %d inputs, got %zu", info->min_inputs, count);
	if (count > (size_t)info->max_inputs)
		return node_err(c, "takes at most %d inputs, got %zu", info->max_inputs, count);
	n->inputs = malloc(count * sizeof(*n->inputs));
	if (!n->inputs)
		return xf_err_nomem(c->err, count * sizeof(*n->inputs));
	json_array_foreach(inputs, i, in) {
		json_t *v;
		int id;

		if (!json_is_string(in))
			return node_err(c, "'inputs' must be an array of names");
		v = json_object_get(c->names, json_string_value(in));
		if (!v)
			return node_err(c, "input '%s' is not a graph input or node", json_string_value(in));
		id = (int)json_integer_value(v);
		if (id == self)
			return node_err(c, "input '%s' is the node itself", json_string_value(in));
		if (id > self)
			return node_err(c, "input '%s' is a later node (nodes must be in topological order)",
					json_string_value(in));
		n->inputs[n->n_inputs++] = id;
	}
	return 0;
}

/* Integer attr in [min, XF_GRAPH_MAX_DIM]; *out keeps its default when the attr is absent. */
static int attr_int(struct ctx *c, const json_t *attrs, const char *key, int64_t min, int64_t *out)
{
	json_t *v = attrs ? json_object_get(attrs, key) : NULL;

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > XF_GRAPH_MAX_DIM)
		return node_err(c, "attr '%s' must be an integer from %lld to %d", key, (long long)min,
				XF_GRAPH_MAX_DIM);
	*out = json_integer_value(v);
	return 0;
}

/* Attr [a, b] of integers in [min, XF_GRAPH_MAX_DIM]; out keeps its default when absent. */
static int attr_pair(struct ctx *c, const json_t *attrs, const char *key, int64_t min, int64_t out[2])
{
	json_t *v = attrs ? json_object_get(attrs, key) : NULL;

	if (!v)
		return 0;
	if (!json_is_array(v) || json_array_size(v) != 2)
		return node_err(c, "attr '%s' must be an array of 2 integers", key);
	for (size_t i = 0; i < 2; i++) {
		json_t *x = json_array_get(v, i);

		if (!json_is_integer(x) || json_integer_value(x) < min || json_integer_value(x) > XF_GRAPH_MAX_DIM)
			return node_err(c, "attr '%s' must be an array of 2 integers from %lld to %d", key,
					(long long)min, XF_GRAPH_MAX_DIM);
		out[i] = json_integer_value(x);
	}
	return 0;
}

static int attr_bool(struct ctx *c, const json_t *attrs, const char *key, bool *out)
{
	json_t *v = attrs ? json_object_get(attrs, key) : NULL;

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return node_err(c, "attr '%s' must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int attr_eps(struct ctx *c, const json_t *attrs, double *out)
{
	json_t *v = attrs ? json_object_get(attrs, "eps") : NULL;

	*out = 1e-5;
	if (!v)
		return 0;
	if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) <= 0)
		return node_err(c, "attr 'eps' must be a positive number");
	*out = json_number_value(v);
	return 0;
}

/* Axis attr (default def) for an input of ndim dimensions, made non-negative. */
static int attr_axis(struct ctx *c, const json_t *attrs, int def, int ndim, int *out)
{
	json_t *v = attrs ? json_object_get(attrs, "axis") : NULL;
	json_int_t axis = def;

	if (v && !json_is_integer(v))
		return node_err(c, "attr 'axis' must be an integer");
	if (v)
		axis = json_integer_value(v);
	if (axis < -ndim || axis >= ndim)
		return node_err(c, "axis %lld is out of range for an input of %d dimension%s", (long long)axis,
				ndim, ndim == 1 ? "" : "s");
	*out = (int)(axis < 0 ? axis + ndim : axis);
	return 0;
}

/* A finite number attr, which must be present; `positive` also requires > 0. */
static int attr_number(struct ctx *c, const json_t *attrs, const char *key, bool positive, double *out)
{
	json_t *v = json_object_get(attrs, key);

	if (!json_is_number(v) || !isfinite(json_number_value(v)) || (positive && json_number_value(v) <= 0))
		return node_err(c, "attr '%s' must be a %s number", key, positive ? "positive" : "finite");
	*out = json_number_value(v);
	return 0;
}

/*
 * The kernel op's attrs: "kernel" (required) says which of gamma, degree and coef0 apply; an
 * attr its function does not use is an error rather than ignored, since a model that carries
 * one was most likely meant to use another function.
 */
static int attr_kernel(struct ctx *c, const json_t *attrs)
{
	static const char *const params[3] = { "gamma", "degree", "coef0" };
	static const int used[XF_KERNEL_COUNT] = { [XF_KERNEL_LINEAR] = 0, [XF_KERNEL_RBF] = 1, [XF_KERNEL_POLY] = 3 };
	struct xf_graph_attrs *a = &c->node->attrs;
	json_t *fn = attrs ? json_object_get(attrs, "kernel") : NULL;

	if (!fn)
		return node_err(c, "missing attr 'kernel' (\"linear\", \"rbf\" or \"poly\")");
	if (!json_is_string(fn) || xf_kernel_fn_parse(json_string_value(fn), &a->kernel_fn) < 0)
		return node_err(c, "attr 'kernel' must be \"linear\", \"rbf\" or \"poly\"");
	for (int k = 0; k < 3; k++) {
		bool present = json_object_get(attrs, params[k]) != NULL;

		if (present && k >= used[a->kernel_fn])
			return node_err(c, "attr '%s' does not apply to the %s kernel", params[k],
					xf_kernel_fn_name(a->kernel_fn));
		if (!present && k == 0 && used[a->kernel_fn] > 0)
			return node_err(c, "missing attr 'gamma' (the %s kernel needs it)", xf_kernel_fn_name(a->kernel_fn));
	}
	a->gamma = 0, a->degree = 3, a->coef0 = 1;
	if (a->kernel_fn == XF_KERNEL_LINEAR)
		return 0;
	if (attr_number(c, attrs, "gamma", true, &a->gamma) < 0 || attr_int(c, attrs, "degree", 1, &a->degree) < 0)
		return -1;
	return json_object_get(attrs, "coef0") ? attr_number(c, attrs, "coef0", false, &a->coef0) : 0;
}

/* Parse all attrs of the current node; attrs is NULL when the node has none. */
static int parse_attrs(struct ctx *c, const json_t *attrs, int in_ndim)
{
	struct xf_graph_node *n = c->node;
	struct xf_graph_attrs *a = &n->attrs;
	bool ceil_mode = false;
	json_t *approx;

	a->stride[0] = a->stride[1] = 1;
	a->dilation[0] = a->dilation[1] = 1;
	a->groups = 1;
	a->count_include_pad = true;
	if (attrs && !json_is_object(attrs))
		return node_err(c, "'attrs' must be a map");
	if (attrs && check_keys(c, attrs, op_table[n->op].attrs, "attr", NULL) < 0)
		return -1;
	switch (n->op) {
	case XF_OP_CONV2D:
		if (attr_pair(c, attrs, "stride", 1, a->stride) < 0 || attr_pair(c, attrs, "padding", 0, a->padding) < 0 ||
		    attr_pair(c, attrs, "dilation", 1, a->dilation) < 0 || attr_int(c, attrs, "groups", 1, &a->groups) < 0)
			return -1;
		break;
	case XF_OP_BATCHNORM:
	case XF_OP_LAYERNORM:
		return attr_eps(c, attrs, &a->eps);
	case XF_OP_GELU:
		approx = attrs ? json_object_get(attrs, "approximate") : NULL;
		if (approx && (!json_is_string(approx) || (strcmp(json_string_value(approx), "none") &&
							   strcmp(json_string_value(approx), "tanh"))))
			return node_err(c, "attr 'approximate' must be \"none\" or \"tanh\"");
		a->gelu_tanh = approx && !strcmp(json_string_value(approx), "tanh");
		break;
	case XF_OP_MAXPOOL2D:
	case XF_OP_AVGPOOL2D:
		if (!attrs || !json_object_get(attrs, "kernel"))
			return node_err(c, "missing attr 'kernel'");
		if (attr_pair(c, attrs, "kernel", 1, a->kernel) < 0)
			return -1;
		a->stride[0] = a->kernel[0], a->stride[1] = a->kernel[1];
		if (attr_pair(c, attrs, "stride", 1, a->stride) < 0 || attr_pair(c, attrs, "padding", 0, a->padding) < 0 ||
		    attr_bool(c, attrs, "ceil_mode", &ceil_mode) < 0 ||
		    attr_bool(c, attrs, "count_include_pad", &a->count_include_pad) < 0)
			return -1;
		if (ceil_mode)
			return node_err(c, "attr 'ceil_mode' must be false (ceil mode is not supported)");
		if (2 * a->padding[0] > a->kernel[0] || 2 * a->padding[1] > a->kernel[1])
			return node_err(c, "padding %s is more than half of kernel %s", shape_str(2, a->padding),
					shape_str(2, a->kernel));
		break;
	case XF_OP_CONCAT:
		return attr_axis(c, attrs, 0, in_ndim, &a->axis);
	case XF_OP_SOFTMAX:
		return attr_axis(c, attrs, -1, in_ndim, &a->axis);
	case XF_OP_KERNEL:
		return attr_kernel(c, attrs);
	default:
		break;
	}
	return 0;
}

/*
 * "weights": {role: declared field name}. Each named field must exist, be float and have
 * positive dimensions no larger than XF_GRAPH_MAX_DIM; shapes are checked by the op's rule.
 */
static int parse_weights(struct ctx *c, const json_t *weights)
{
	struct xf_graph_node *n = c->node;
	const char *role;
	json_t *val;

	if (!json_is_object(weights))
		return node_err(c, "'weights' must be a map of role to tensor name");
	json_object_foreach((json_t *)weights, role, val) {
		const struct xf_field *f;
		json_t *idx;
		int r = 0;

		while (r < XF_ROLE_COUNT && strcmp(role_names[r], role))
			r++;
		if (r == XF_ROLE_COUNT || !(op_table[n->op].roles & ROLE(r)))
			return op_table[n->op].roles ? node_err(c, "unknown weight role '%s'", role)
						     : node_err(c, "takes no weights, got '%s'", role);
		if (!json_is_string(val))
			return node_err(c, "weight role '%s' must name a tensor", role);
		idx = json_object_get(c->fields, json_string_value(val));
		if (!idx)
			return node_err(c, "%s '%s' is not a declared tensor", role, json_string_value(val));
		n->weights[r] = (int)json_integer_value(idx);
		f = &c->h->fields[n->weights[r]];
		c->used[n->weights[r]] = true;
		if ((unsigned)f->dtype >= XF_DTYPE_COUNT || !xf_dtype_table[f->dtype].is_float)
			return node_err(c, "%s '%s' has dtype %s, weights must be float (<f4, <f8, <f2, bf16)", role,
					f->name, xf_dtype_name(f->dtype));
		for (int i = 0; i < f->ndim; i++)
			if (f->shape[i] < 1 || f->shape[i] > XF_GRAPH_MAX_DIM)
				return node_err(c, "%s '%s' has shape %s, dimensions must be from 1 to %d", role,
						f->name, shape_str(f->ndim, f->shape), XF_GRAPH_MAX_DIM);
	}
	return 0;
}

/* The field for role r of the current node, or NULL; with `required`, absence is an error. */
static const struct xf_field *weight(struct ctx *c, enum xf_role r, bool required, int *fail)
{
	int idx = c->node->weights[r];

	if (idx < 0 && required)
		*fail = node_err(c, "missing weight '%s'", role_names[r]);
	return idx < 0 ? NULL : &c->h->fields[idx];
}

/* Check that field f (role r) has exactly shape want[0..ndim); `why` (or NULL) explains want. */
static int expect_shape(struct ctx *c, const struct xf_field *f, enum xf_role r, int ndim, const int64_t *want,
			const char *why)
{
	bool same = f->ndim == ndim;

	for (int i = 0; same && i < ndim; i++)
		same = f->shape[i] == want[i];
	if (!same)
		return node_err(c, "%s '%s' has shape %s, expected %s%s%s%s", role_names[r], f->name,
				shape_str(f->ndim, f->shape), shape_str(ndim, want), why ? " (" : "", why ? why : "",
				why ? ")" : "");
	return 0;
}

static int need_ndim(struct ctx *c, int v, bool exact, int ndim, const char *layout)
{
	int got;
	const int64_t *shape = xf_graph_value_shape(c->g, v, &got);

	if (exact ? got != ndim : got < ndim)
		return node_err(c, "needs an input of shape %s, input '%s' has shape %s", layout,
				xf_graph_value_name(c->g, v), shape_str(got, shape));
	return 0;
}

static int infer_linear(struct ctx *c, int ndim, const int64_t *in)
{
	struct xf_graph_node *n = c->node;
	const struct xf_field *w, *b;
	char why[96];
	int fail = 0;

	if (need_ndim(c, n->inputs[0], false, 1, "[..., in]") < 0)
		return -1;
	if (!(w = weight(c, XF_ROLE_WEIGHT, true, &fail)))
		return fail;
	snprintf(why, sizeof(why), "input has %lld feature%s", (long long)in[ndim - 1], in[ndim - 1] == 1 ? "" : "s");
	if (w->ndim != 2 || w->shape[1] != in[ndim - 1])
		return node_err(c, "weight '%s' has shape %s, %s (expected [out, %lld])", w->name,
				shape_str(w->ndim, w->shape), why, (long long)in[ndim - 1]);
	if ((b = weight(c, XF_ROLE_BIAS, false, &fail)) && expect_shape(c, b, XF_ROLE_BIAS, 1, w->shape,
									 NULL) < 0)
		return -1;
	n->ndim = ndim;
	memcpy(n->shape, in, ndim * sizeof(*in));
	n->shape[ndim - 1] = w->shape[0];
	return 0;
}

/* floor((size + 2 pad - dilation (k - 1) - 1) / stride) + 1, or 0 when the window does not fit. */
static int64_t window_out(int64_t size, int64_t k, int64_t stride, int64_t pad, int64_t dilation)
{
	int64_t span = dilation * (k - 1) + 1;

	if (size + 2 * pad < span)
		return 0;
	return (size + 2 * pad - span) / stride + 1;
}

static int infer_window(struct ctx *c, const int64_t *in)
{
	struct xf_graph_node *n = c->node;
	struct xf_graph_attrs *a = &n->attrs;

	n->ndim = 3;
	n->shape[1] = window_out(in[1], a->kernel[0], a->stride[0], a->padding[0], a->dilation[0]);
	n->shape[2] = window_out(in[2], a->kernel[1], a->stride[1], a->padding[1], a->dilation[1]);
	if (n->shape[1] < 1 || n->shape[2] < 1)
		return node_err(c, "kernel %s%s does not fit in input %s with padding %s", shape_str(2, a->kernel),
				n->op == XF_OP_CONV2D && (a->dilation[0] > 1 || a->dilation[1] > 1)
					? " (dilated)" : "",
				shape_str(3, in), shape_str(2, a->padding));
	return 0;
}

static int infer_conv2d(struct ctx *c, const int64_t *in)
{
	struct xf_graph_node *n = c->node;
	const struct xf_field *w, *b;
	int64_t groups = n->attrs.groups;
	int fail = 0;

	if (need_ndim(c, n->inputs[0], true, 3, "[C, H, W]") < 0)
		return -1;
	if (!(w = weight(c, XF_ROLE_WEIGHT, true, &fail)))
		return fail;
	if (w->ndim != 4)
		return node_err(c, "weight '%s' has shape %s, expected [out, in/groups, kh, kw]", w->name,
				shape_str(w->ndim, w->shape));
	if (in[0] % groups || w->shape[0] % groups)
		return node_err(c, "groups %lld does not divide the input's %lld channels and the weight's %lld "
				"output channels", (long long)groups, (long long)in[0], (long long)w->shape[0]);
	if (w->shape[1] * groups != in[0]) {
		if (groups == 1)
			return node_err(c, "weight '%s' has shape %s, input has %lld channel%s", w->name,
					shape_str(w->ndim, w->shape), (long long)in[0], in[0] == 1 ? "" : "s");
		return node_err(c, "weight '%s' has shape %s, input has %lld channels in %lld groups", w->name,
				shape_str(w->ndim, w->shape), (long long)in[0], (long long)groups);
	}
	if ((b = weight(c, XF_ROLE_BIAS, false, &fail)) && expect_shape(c, b, XF_ROLE_BIAS, 1, w->shape,
									 NULL) < 0)
		return -1;
	n->attrs.kernel[0] = w->shape[2];
	n->attrs.kernel[1] = w->shape[3];
	if (infer_window(c, in) < 0)
		return -1;
	n->shape[0] = w->shape[0];
	return 0;
}

static int infer_batchnorm(struct ctx *c, int ndim, const int64_t *in)
{
	struct xf_graph_node *n = c->node;
	char why[64];
	int fail = 0;

	if (need_ndim(c, n->inputs[0], false, 1, "[C, ...]") < 0)
		return -1;
	snprintf(why, sizeof(why), "input has %lld channel%s", (long long)in[0], in[0] == 1 ? "" : "s");
	for (int r = XF_ROLE_WEIGHT; r <= XF_ROLE_RUNNING_VAR; r++) {
		const struct xf_field *f = weight(c, (enum xf_role)r, true, &fail);

		if (!f || expect_shape(c, f, (enum xf_role)r, 1, in, why) < 0)
			return -1;
	}
	n->ndim = ndim;
	memcpy(n->shape, in, ndim * sizeof(*in));
	return 0;
}

static int infer_layernorm(struct ctx *c, int ndim, const int64_t *in)
{
	struct xf_graph_node *n = c->node;
	const struct xf_field *w, *b;
	int fail = 0, k;

	if (!(w = weight(c, XF_ROLE_WEIGHT, true, &fail)))
		return fail;
	k = w->ndim;
	if (k < 1 || k > ndim || memcmp(w->shape, in + ndim - k, k * sizeof(*in)))
		return node_err(c, "weight '%s' has shape %s, not trailing dims of input %s", w->name,
				shape_str(w->ndim, w->shape), shape_str(ndim, in));
	if ((b = weight(c, XF_ROLE_BIAS, false, &fail)) && expect_shape(c, b, XF_ROLE_BIAS, k, w->shape,
									 NULL) < 0)
		return -1;
	n->attrs.norm_ndim = k;
	n->ndim = ndim;
	memcpy(n->shape, in, ndim * sizeof(*in));
	return 0;
}

/* kernel: [D] and centers [M, D] give [M], one value per center. */
static int infer_kernel(struct ctx *c, const int64_t *in)
{
	struct xf_graph_node *n = c->node;
	const struct xf_field *w;
	int fail = 0;

	if (need_ndim(c, n->inputs[0], true, 1, "[D]") < 0)
		return -1;
	if (!(w = weight(c, XF_ROLE_CENTERS, true, &fail)))
		return fail;
	if (w->ndim != 2 || w->shape[1] != in[0])
		return node_err(c, "centers '%s' has shape %s, input has %lld feature%s (expected [M, %lld])", w->name,
				shape_str(w->ndim, w->shape), (long long)in[0], in[0] == 1 ? "" : "s", (long long)in[0]);
	n->ndim = 1;
	n->shape[0] = w->shape[0];
	return 0;
}

/* add (equal shapes) and concat (equal but along axis): inputs agree with the first one. */
static int infer_join(struct ctx *c, int ndim, const int64_t *in)
{
	struct xf_graph_node *n = c->node;
	int axis = n->op == XF_OP_CONCAT ? n->attrs.axis : -1;

	n->ndim = ndim;
	memcpy(n->shape, in, ndim * sizeof(*in));
	for (int i = 1; i < n->n_inputs; i++) {
		int other_ndim;
		const int64_t *other = xf_graph_value_shape(c->g, n->inputs[i], &other_ndim);
		bool same = other_ndim == ndim;

		for (int d = 0; same && d < ndim; d++)
			same = d == axis || other[d] == in[d];
		if (!same)
			return node_err(c, "input '%s' has shape %s, input '%s' has shape %s (%s)",
					xf_graph_value_name(c->g, n->inputs[i]), shape_str(other_ndim, other),
					xf_graph_value_name(c->g, n->inputs[0]), shape_str(ndim, in),
					axis < 0 ? "add needs equal shapes" : "concat needs equal dims off its axis");
		if (axis >= 0)
			n->shape[axis] += other[axis];
	}
	return 0;
}

/* Fill the current node's shape from its op, input shapes and weights. */
static int infer_shape(struct ctx *c)
{
	struct xf_graph_node *n = c->node;
	int ndim;
	const int64_t *in = xf_graph_value_shape(c->g, n->inputs[0], &ndim);
	int64_t count;

	switch (n->op) {
	case XF_OP_LINEAR:
		return infer_linear(c, ndim, in);
	case XF_OP_CONV2D:
		return infer_conv2d(c, in);
	case XF_OP_BATCHNORM:
		return infer_batchnorm(c, ndim, in);
	case XF_OP_LAYERNORM:
		return infer_layernorm(c, ndim, in);
	case XF_OP_MAXPOOL2D:
	case XF_OP_AVGPOOL2D:
		if (need_ndim(c, n->inputs[0], true, 3, "[C, H, W]") < 0 || infer_window(c, in) < 0)
			return -1;
		n->shape[0] = in[0];
		return 0;
	case XF_OP_GLOBAL_AVGPOOL:
		if (need_ndim(c, n->inputs[0], true, 3, "[C, H, W]") < 0)
			return -1;
		n->ndim = 1;
		n->shape[0] = in[0];
		return 0;
	case XF_OP_FLATTEN:
		count = xf_shape_count(ndim, in);
		if (count < 0 || count > XF_GRAPH_MAX_DIM)
			return node_err(c, "input shape %s has more than %d elements", shape_str(ndim, in),
					XF_GRAPH_MAX_DIM);
		n->ndim = 1;
		n->shape[0] = count;
		return 0;
	case XF_OP_ADD:
	case XF_OP_CONCAT:
		return infer_join(c, ndim, in);
	case XF_OP_KERNEL:
		return infer_kernel(c, in);
	default: /* elementwise: relu, tanh, sigmoid, gelu, softmax */
		n->ndim = ndim;
		memcpy(n->shape, in, ndim * sizeof(*in));
		return 0;
	}
}

static int parse_node(struct ctx *c, const json_t *node, int i)
{
	static const char *const keys[] = { "name", "op", "inputs", "attrs", "weights", NULL };
	struct xf_graph_node *n = &c->g->nodes[i];
	json_t *op = json_object_get(node, "op"), *weights = json_object_get(node, "weights");
	int ndim;

	c->node = n;
	if (!json_is_string(op))
		return node_err(c, "'op' must be a string");
	if (n->op == XF_OP_COUNT)
		return xf_err_set(c->err, XF_E_FORMAT, "graph: node '%s' (%s): unknown op '%s'", n->name,
				  json_string_value(op), json_string_value(op));
	if (check_keys(c, node, keys, "key", NULL) < 0 ||
	    parse_node_inputs(c, json_object_get(node, "inputs"), c->g->n_inputs + i) < 0)
		return -1;
	xf_graph_value_shape(c->g, n->inputs[0], &ndim);
	if (parse_attrs(c, json_object_get(node, "attrs"), ndim) < 0)
		return -1;
	if (weights && parse_weights(c, weights) < 0)
		return -1;
	if (infer_shape(c) < 0)
		return -1;
	for (int d = 0; d < n->ndim; d++)
		if (n->shape[d] > XF_GRAPH_MAX_DIM)
			return node_err(c, "output shape %s has a dimension above %d", shape_str(n->ndim, n->shape),
					XF_GRAPH_MAX_DIM);
	if (xf_shape_count(n->ndim, n->shape) < 0)
		return node_err(c, "output shape %s has too many elements", shape_str(n->ndim, n->shape));
	return 0;
}

static int parse_outputs(struct ctx *c, const json_t *outputs)
{
	struct xf_graph *g = c->g;
	json_t *out;
	size_t i;

	if (!json_is_array(outputs) || json_array_size(outputs) == 0)
		return xf_err_set(c->err, XF_E_FORMAT, "graph: 'outputs' must be a non-empty array of node names");
	g->outputs = malloc(json_array_size(outputs) * sizeof(*g->outputs));
	if (!g->outputs)
		return xf_err_nomem(c->err, json_array_size(outputs) * sizeof(*g->outputs));
	json_array_foreach(outputs, i, out) {
		json_t *v = json_is_string(out) ? json_object_get(c->names, json_string_value(out)) : NULL;
		int id = v ? (int)json_integer_value(v) : -1;

		if (!json_is_string(out))
			return xf_err_set(c->err, XF_E_FORMAT, "graph: 'outputs' must be an array of node names");
		if (id < g->n_inputs)
			return xf_err_set(c->err, XF_E_FORMAT, "graph: output '%s' is not a node",
					  json_string_value(out));
		for (int k = 0; k < g->n_outputs; k++)
			if (g->outputs[k] == id - g->n_inputs)
				return xf_err_set(c->err, XF_E_FORMAT, "graph: output '%s' is listed twice",
						  json_string_value(out));
		g->outputs[g->n_outputs++] = id - g->n_inputs;
	}
	return 0;
}

static int index_fields(struct ctx *c)
{
	const struct xf_header *h = c->h;

	c->used = calloc(h->n_fields ? h->n_fields : 1, sizeof(*c->used));
	if (!c->used)
		return xf_err_nomem(c->err, h->n_fields * sizeof(*c->used));
	for (int i = 0; i < h->n_fields; i++)
		if (json_object_set_new_nocheck(c->fields, h->fields[i].name, json_integer(i)) < 0)
			return xf_err_nomem(c->err, 64);
	return 0;
}

static const char *kind_name(enum xf_kind kind)
{
	static const char *const names[XF_KIND_COUNT] = { "samples", "model", "table" };

	return (unsigned)kind < XF_KIND_COUNT ? names[kind] : "?";
}

static int parse_graph(struct ctx *c, const json_t *graph)
{
	static const char *const keys[] = { "inputs", "nodes", "outputs", NULL };
	const json_t *nodes;

	if (c->h->kind != XF_KIND_MODEL)
		return xf_err_set(c->err, XF_E_FORMAT, "graph: header kind is '%s', a graph needs kind 'model'",
				  kind_name(c->h->kind));
	if (!graph)
		return xf_err_set(c->err, XF_E_FORMAT, "graph: the model header has no 'graph'");
	if (!json_is_object(graph))
		return xf_err_set(c->err, XF_E_FORMAT, "graph: not a map");
	if (check_keys(c, graph, keys, "key", NULL) < 0 || index_fields(c) < 0 ||
	    parse_inputs(c, json_object_get(graph, "inputs")) < 0)
		return -1;
	nodes = json_object_get(graph, "nodes");
	if (prescan_nodes(c, nodes) < 0)
		return -1;
	for (int i = 0; i < c->g->n_nodes; i++)
		if (parse_node(c, json_array_get(nodes, i), i) < 0)
			return -1;
	c->node = NULL;
	if (parse_outputs(c, json_object_get(graph, "outputs")) < 0)
		return -1;
	for (int i = 0; i < c->h->n_fields; i++)
		if (!c->used[i])
			return xf_err_set(c->err, XF_E_FORMAT, "graph: tensor '%s' is declared but not used by any node",
					  c->h->fields[i].name);
	return 0;
}

int xf_graph_parse(const json_t *graph, const struct xf_header *h, struct xf_graph **out,
		   struct xf_err *err)
{
	struct ctx c = { .h = h, .err = err };
	int ret = -1;

	*out = NULL;
	c.g = calloc(1, sizeof(*c.g));
	c.names = json_object();
	c.fields = json_object();
	if (!c.g || !c.names || !c.fields)
		xf_err_nomem(err, sizeof(*c.g));
	else
		ret = parse_graph(&c, graph);
	json_decref(c.names);
	json_decref(c.fields);
	free(c.used);
	if (ret < 0) {
		xf_graph_free(c.g);
		return -1;
	}
	*out = c.g;
	return 0;
}

int xf_graph_check(const json_t *graph, const struct xf_header *h, struct xf_err *err)
{
	struct xf_graph *g;

	if (xf_graph_parse(graph, h, &g, err) < 0)
		return -1;
	xf_graph_free(g);
	return 0;
}
