/* net: a model graph run forward on batches; see net.h (and net_plan.h for the memory plan). */
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "net_plan.h"
#include "nn_conv.h"
#include "nn_elementwise.h"
#include "nn_kernel.h"
#include "nn_linear.h"
#include "nn_pool.h"
#include "nn_shape.h"

struct xf_net {
	const struct xf_model *m;   /* borrowed */
	const struct xf_graph *g;   /* m->g */
	struct xf_net_plan plan;
	int64_t max_batch;
	int threads;
	struct xf_conv2d *conv;     /* per node: conv2d geometry and the weights it runs with */
	float **owned;              /* per node: folded weights and bias, then packed weights; or NULL */
	double **center_sq;         /* per rbf kernel node: its centers' squared norms; or NULL */
	float **buffers;            /* plan.n_buffers activation buffers */
	const float **value;        /* per value: its data during and after a run */
	float *scratch;             /* for convolutions */
	size_t scratch_floats;
};

static const float *weight(const struct xf_net *net, const struct xf_graph_node *n, enum xf_role role)
{
	return n->weights[role] >= 0 ? net->m->weights[n->weights[role]] : NULL;
}

static const int64_t *input_shape(const struct xf_net *net, const struct xf_graph_node *n, int j, int *ndim)
{
	return xf_graph_value_shape(net->g, n->inputs[j], ndim);
}

static int node_error(const struct xf_graph_node *n, struct xf_err *err)
{
	return xf_err_prefix(err, "node '%s' (%s)", n->name, xf_op_name(n->op));
}

/* The batchnorm that folds into conv node i: the only reader of its output, by the plan. */
static const struct xf_graph_node *folded_batchnorm(const struct xf_net *net, int i)
{
	int v = net->g->n_inputs + i;

	for (int k = i + 1; k < net->g->n_nodes; k++)
		if (net->plan.folded[k] && net->g->nodes[k].inputs[0] == v)
			return &net->g->nodes[k];
	return NULL;
}

/* Conv node i's geometry, with the next batchnorm folded in and the weights packed, in owned memory. */
static int prepare_conv(struct xf_net *net, int i, struct xf_err *err)
{
	const struct xf_graph_node *n = &net->g->nodes[i], *bn = folded_batchnorm(net, i);
	const struct xf_graph_attrs *a = &n->attrs;
	int ndim;
	const int64_t *in = input_shape(net, n, 0, &ndim);
	struct xf_conv2d *c = &net->conv[i];
	size_t wn, packed;
	float *mem;

	*c = (struct xf_conv2d){ (int)in[0], (int)n->shape[0], (int)a->kernel[0], (int)a->kernel[1],
				 { (int)a->stride[0], (int)a->stride[1] }, { (int)a->padding[0], (int)a->padding[1] },
				 { (int)a->dilation[0], (int)a->dilation[1] }, (int)a->groups,
				 weight(net, n, XF_ROLE_WEIGHT), weight(net, n, XF_ROLE_BIAS), NULL };
	wn = (size_t)c->out_c * (c->in_c / c->groups) * c->kh * c->kw;
	packed = xf_conv2d_packed_size(c);
	if (!(mem = net->owned[i] = malloc((wn + c->out_c + packed + 1) * sizeof(float))))
		return xf_err_nomem(err, 0);
	if (bn) {
		if (xf_conv2d_fold_batchnorm(c, weight(net, bn, XF_ROLE_WEIGHT), weight(net, bn, XF_ROLE_BIAS),
					     weight(net, bn, XF_ROLE_RUNNING_MEAN), weight(net, bn, XF_ROLE_RUNNING_VAR),
					     bn->attrs.eps, mem, mem + wn, err) < 0)
			return node_error(bn, err);
		c->weight = mem, c->bias = mem + wn;
	}
	if (packed) {
		xf_conv2d_pack(c, mem + wn + c->out_c);
		c->packed = mem + wn + c->out_c;
	}
	return 0;
}

/* Kernel node i's parameters, as the model and the graph give them. */
static struct xf_kernel kernel_of(const struct xf_net *net, int i)
{
	const struct xf_graph_node *n = &net->g->nodes[i];
	const struct xf_graph_attrs *a = &n->attrs;
	int ndim;
	const int64_t *in = input_shape(net, n, 0, &ndim);

	return (struct xf_kernel){ a->kernel_fn, in[0], n->shape[0], a->gamma, a->degree, a->coef0,
				   weight(net, n, XF_ROLE_CENTERS), net->center_sq[i] };
}

/* An rbf node's center norms, once: the weights do not change while the net lives. */
static int prepare_kernel(struct xf_net *net, int i, struct xf_err *err)
{
	struct xf_kernel k = kernel_of(net, i);

	if (k.fn != XF_KERNEL_RBF)
		return 0;
	if (!(net->center_sq[i] = malloc((size_t)k.m * sizeof(double))))
		return xf_err_nomem(err, (size_t)k.m * sizeof(double));
	xf_kernel_center_sq(k.centers, k.m, k.d, net->center_sq[i]);
	return 0;
}

static int alloc_memory(struct xf_net *net, struct xf_err *err)
{
	const struct xf_graph *g = net->g;

	if (!(net->buffers = calloc((size_t)net->plan.n_buffers + 1, sizeof(float *))))
		return xf_err_nomem(err, 0);
	for (int b = 0; b < net->plan.n_buffers; b++) {
		size_t floats = (size_t)net->plan.capacity[b] * (size_t)net->max_batch;

		if (net->plan.capacity[b] > (int64_t)(SIZE_MAX / 8 / net->max_batch))
			return xf_err_set(err, XF_E_LIMIT, "activations of %lld floats per sample are too large",
					  (long long)net->plan.capacity[b]);
		if (!(net->buffers[b] = malloc(floats * sizeof(float) + 1)))
			return xf_err_nomem(err, floats * sizeof(float));
	}
	for (int i = 0; i < g->n_nodes; i++) {
		int ndim;
		const int64_t *in = input_shape(net, &g->nodes[i], 0, &ndim);
		size_t need;

		if (!net->plan.runs[i] || g->nodes[i].op != XF_OP_CONV2D)
			continue;
		need = xf_conv2d_scratch_size(&net->conv[i], (int)in[1], (int)in[2], net->max_batch, net->threads);
		net->scratch_floats = need > net->scratch_floats ? need : net->scratch_floats;
	}
	if (!(net->scratch = malloc(net->scratch_floats * sizeof(float) + 1)))
		return xf_err_nomem(err, net->scratch_floats * sizeof(float));
	return 0;
}

int xf_net_new(const struct xf_model *m, const int *keep, int n_keep, int64_t max_batch, int threads,
	       struct xf_net **out, struct xf_err *err)
{
	struct xf_net *net = calloc(1, sizeof(*net));
	const struct xf_graph *g = m->g;
	int rc = 0;

	*out = NULL;
	if (n_keep < 1 || max_batch < 1)
		return free(net), xf_err_set(err, XF_E_USAGE, "nothing to compute");
	if (!net)
		return xf_err_nomem(err, 0);
	net->m = m, net->g = g, net->max_batch = max_batch, net->threads = threads;
	net->conv = calloc((size_t)g->n_nodes + 1, sizeof(*net->conv));
	net->owned = calloc((size_t)g->n_nodes + 1, sizeof(*net->owned));
	net->center_sq = calloc((size_t)g->n_nodes + 1, sizeof(*net->center_sq));
	net->value = calloc((size_t)(g->n_inputs + g->n_nodes) + 1, sizeof(*net->value));
	if (!net->conv || !net->owned || !net->center_sq || !net->value)
		rc = xf_err_nomem(err, 0);
	if (rc == 0)
		rc = xf_net_plan(g, keep, n_keep, &net->plan, err);
	for (int i = 0; rc == 0 && i < g->n_nodes; i++)
		if (net->plan.runs[i] && g->nodes[i].op == XF_OP_CONV2D)
			rc = prepare_conv(net, i, err);
		else if (net->plan.runs[i] && g->nodes[i].op == XF_OP_KERNEL)
			rc = prepare_kernel(net, i, err);
	if (rc == 0)
		rc = alloc_memory(net, err);
	if (rc < 0) {
		xf_net_free(net);
		return -1;
	}
	*out = net;
	return 0;
}

/* Per-sample element count of node n's input j. */
static int64_t input_count(const struct xf_net *net, const struct xf_graph_node *n, int j)
{
	int ndim;
	const int64_t *s = input_shape(net, n, j, &ndim);

	return xf_shape_count(ndim, s);
}

static int run_linear(const struct xf_net *net, const struct xf_graph_node *n, const float *x, int64_t batch,
		      float *y, struct xf_err *err)
{
	struct xf_linear l = { n->shape[n->ndim - 1], n->shape[n->ndim - 1], weight(net, n, XF_ROLE_WEIGHT),
			       weight(net, n, XF_ROLE_BIAS) };
	int ndim;
	const int64_t *s = input_shape(net, n, 0, &ndim);

	l.in = s[ndim - 1];
	return xf_linear_forward(&l, x, batch * (xf_shape_count(ndim, s) / l.in), y, net->threads, err);
}

static int run_pool(const struct xf_net *net, const struct xf_graph_node *n, const float *x, int64_t batch,
		    float *y, struct xf_err *err)
{
	const struct xf_graph_attrs *a = &n->attrs;
	struct xf_pool2d p = { (int)a->kernel[0], (int)a->kernel[1], { (int)a->stride[0], (int)a->stride[1] },
			       { (int)a->padding[0], (int)a->padding[1] }, a->count_include_pad };
	int ndim;
	const int64_t *s = input_shape(net, n, 0, &ndim);

	if (n->op == XF_OP_MAXPOOL2D)
		return xf_maxpool2d_forward(&p, x, batch, (int)s[0], (int)s[1], (int)s[2], y, net->threads, err);
	return xf_avgpool2d_forward(&p, x, batch, (int)s[0], (int)s[1], (int)s[2], y, net->threads, err);
}

static void run_concat(const struct xf_net *net, const struct xf_graph_node *n, const float *const *x,
		       int64_t batch, float *y)
{
	int64_t width[XF_GRAPH_MAX_INPUTS], outer = 1, dim, inner;

	for (int j = 0; j < n->n_inputs; j++) {
		int ndim;
		const int64_t *s = input_shape(net, n, j, &ndim);

		xf_nn_split_axis(ndim, s, n->attrs.axis, &outer, &dim, &inner);
		width[j] = dim * inner;
	}
	xf_concat_forward(n->n_inputs, x, width, batch * outer, y, net->threads);
}

static void run_normalisation(const struct xf_net *net, const struct xf_graph_node *n, const float *x,
			      int64_t batch, float *y)
{
	int64_t count = input_count(net, n, 0);

	if (n->op == XF_OP_BATCHNORM) {
		struct xf_batchnorm bn = { n->shape[0], weight(net, n, XF_ROLE_WEIGHT), weight(net, n, XF_ROLE_BIAS),
					   weight(net, n, XF_ROLE_RUNNING_MEAN), weight(net, n, XF_ROLE_RUNNING_VAR),
					   n->attrs.eps };
		xf_batchnorm_forward(&bn, x, batch, count / n->shape[0], y, net->threads);
	} else {
		struct xf_layernorm ln = { xf_shape_count(n->attrs.norm_ndim, n->shape + n->ndim - n->attrs.norm_ndim),
					   weight(net, n, XF_ROLE_WEIGHT), weight(net, n, XF_ROLE_BIAS), n->attrs.eps };
		xf_layernorm_forward(&ln, x, batch * (count / ln.n), y, net->threads);
	}
}

static int run_node(struct xf_net *net, int i, int64_t batch, struct xf_err *err)
{
	const struct xf_graph_node *n = &net->g->nodes[i];
	const float *x[XF_GRAPH_MAX_INPUTS];
	float *y = (float *)net->value[net->g->n_inputs + i];
	int64_t count = batch * input_count(net, n, 0), outer, dim, inner;
	int ndim;
	const int64_t *s = input_shape(net, n, 0, &ndim);

	for (int j = 0; j < n->n_inputs; j++)
		x[j] = net->value[n->inputs[j]];
	switch (n->op) {
	case XF_OP_LINEAR: return run_linear(net, n, x[0], batch, y, err);
	case XF_OP_CONV2D:
		return xf_conv2d_forward(&net->conv[i], x[0], batch, (int)s[1], (int)s[2], y, net->scratch, net->threads,
					 err);
	case XF_OP_MAXPOOL2D: case XF_OP_AVGPOOL2D: return run_pool(net, n, x[0], batch, y, err);
	case XF_OP_KERNEL: {
		struct xf_kernel k = kernel_of(net, i);
		return xf_kernel_forward(&k, x[0], batch, y, net->threads, err);
	}
	case XF_OP_GLOBAL_AVGPOOL: xf_global_avgpool_forward(x[0], batch, s[0], s[1] * s[2], y, net->threads); break;
	case XF_OP_RELU: xf_relu_forward(x[0], count, y, net->threads); break;
	case XF_OP_TANH: xf_tanh_forward(x[0], count, y, net->threads); break;
	case XF_OP_SIGMOID: xf_sigmoid_forward(x[0], count, y, net->threads); break;
	case XF_OP_GELU: xf_gelu_forward(x[0], count, n->attrs.gelu_tanh, y, net->threads); break;
	case XF_OP_ADD: xf_add_forward(n->n_inputs, x, count, y, net->threads); break;
	case XF_OP_CONCAT: run_concat(net, n, x, batch, y); break;
	case XF_OP_BATCHNORM: case XF_OP_LAYERNORM: run_normalisation(net, n, x[0], batch, y); break;
	case XF_OP_SOFTMAX:
		xf_nn_split_axis(ndim, s, n->attrs.axis, &outer, &dim, &inner);
		xf_softmax_forward(x[0], batch * outer, dim, inner, y, net->threads);
		break;
	case XF_OP_FLATTEN: case XF_OP_COUNT: break;
	}
	return 0;
}

int xf_net_run(struct xf_net *net, const float *const *inputs, int64_t batch, struct xf_err *err)
{
	const struct xf_graph *g = net->g;
	const struct xf_net_plan *p = &net->plan;

	if (batch < 1 || batch > net->max_batch)
		return xf_err_set(err, XF_E_USAGE, "batch of %lld samples; this net runs 1 to %lld", (long long)batch,
				  (long long)net->max_batch);
	for (int v = 0; v < g->n_inputs; v++)
		net->value[v] = inputs[v];
	for (int v = g->n_inputs; v < p->n_values; v++)
		if (p->buffer[p->root[v]] >= 0)
			net->value[v] = net->buffers[p->buffer[p->root[v]]];
		else
			net->value[v] = p->root[v] < g->n_inputs ? inputs[p->root[v]] : NULL;
	for (int i = 0; i < g->n_nodes; i++)
		if (p->runs[i] && run_node(net, i, batch, err) < 0)
			return node_error(&g->nodes[i], err);
	return 0;
}

const float *xf_net_value(const struct xf_net *net, int v)
{
	return net->value[v];
}

size_t xf_net_memory(const struct xf_net *net)
{
	size_t floats = net->scratch_floats;

	for (int b = 0; b < net->plan.n_buffers; b++)
		floats += (size_t)net->plan.capacity[b] * (size_t)net->max_batch;
	return floats * sizeof(float);
}

void xf_net_free(struct xf_net *net)
{
	if (!net)
		return;
	for (int i = 0; net->owned && i < net->g->n_nodes; i++)
		free(net->owned[i]);
	for (int i = 0; net->center_sq && i < net->g->n_nodes; i++)
		free(net->center_sq[i]);
	for (int b = 0; net->buffers && b < net->plan.n_buffers; b++)
		free(net->buffers[b]);
	free(net->buffers), free(net->owned), free(net->center_sq), free(net->conv), free(net->value), free(net->scratch);
	xf_net_plan_release(&net->plan);
	free(net);
}
