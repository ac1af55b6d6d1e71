/* net_train: training-mode forward and backward over a model graph; see net_train.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_train.h"
#include "nn_conv.h"
#include "nn_conv_grad.h"
#include "nn_grad.h"
#include "nn_kernel.h"
#include "nn_shape.h"
#include "rng.h"

#define BN_MOMENTUM 0.1   /* torch.nn.BatchNorm's default */

struct xf_trainer {
	struct xf_model *m;         /* borrowed; weights are the parameters */
	const struct xf_graph *g;
	int64_t max_batch;
	int threads;
	int out_value;              /* the logits: the first output, or its input when it is a softmax */
	bool *runs;                 /* per node: on the way to out_value */
	float **act;                /* per value: its data (graph inputs: the caller's) */
	float **grad;               /* per node value: d(loss)/d(value) */
	float **param_grad;         /* per field: its gradient, or NULL */
	float **bn_mean, **bn_invstd;  /* per batchnorm node: the batch statistics of the last pass */
	double *drop;               /* per node: dropout probability on its output */
	uint8_t **mask;             /* per node with dropout: the kept elements of the last pass */
	struct xf_rng rng;
	float *scratch;
	size_t scratch_floats;
	bool trained;               /* the last forward was in training mode */
};

static int64_t value_count(const struct xf_graph *g, int v)
{
	int ndim;
	const int64_t *s = xf_graph_value_shape(g, v, &ndim);

	return xf_shape_count(ndim, s);
}

static float *weight(const struct xf_trainer *t, const struct xf_graph_node *n, enum xf_role r)
{
	return n->weights[r] >= 0 ? t->m->weights[n->weights[r]] : NULL;
}

static float *pgrad(const struct xf_trainer *t, const struct xf_graph_node *n, enum xf_role r)
{
	return n->weights[r] >= 0 ? t->param_grad[n->weights[r]] : NULL;
}

/*
 * A batchnorm whose weight and bias are not trained normalises with its running statistics
 * even in training mode and leaves them as they are: a frozen layer stays what it was.
 */
static bool frozen(const struct xf_trainer *t, const struct xf_graph_node *n)
{
	return !pgrad(t, n, XF_ROLE_WEIGHT) && !pgrad(t, n, XF_ROLE_BIAS);
}

/* dx += dy weight / sqrt(running_var + eps), per channel: the inference form's gradient. */
static void frozen_batchnorm_backward(const struct xf_batchnorm *bn, const float *dy, int64_t batch, int64_t inner,
				      float *dx)
{
	for (int64_t c = 0; c < bn->c; c++) {
		float scale = (float)(bn->weight[c] / sqrt((double)bn->var[c] + bn->eps));

		for (int64_t b = 0; b < batch; b++)
			for (int64_t k = (b * bn->c + c) * inner; k < (b * bn->c + c + 1) * inner; k++)
				dx[k] += dy[k] * scale;
	}
}

static int node_error(const struct xf_graph_node *n, struct xf_err *err)
{
	return xf_err_prefix(err, "node '%s' (%s)", n->name, xf_op_name(n->op));
}

/* Conv node n's geometry with the current weights (packed per call: they change every step). */
static struct xf_conv2d conv_of(const struct xf_trainer *t, const struct xf_graph_node *n)
{
	int ndim;
	const int64_t *in = xf_graph_value_shape(t->g, n->inputs[0], &ndim);
	const struct xf_graph_attrs *a = &n->attrs;

	return (struct xf_conv2d){ (int)in[0], (int)n->shape[0], (int)a->kernel[0], (int)a->kernel[1],
				   { (int)a->stride[0], (int)a->stride[1] }, { (int)a->padding[0], (int)a->padding[1] },
				   { (int)a->dilation[0], (int)a->dilation[1] }, (int)a->groups,
				   weight(t, n, XF_ROLE_WEIGHT), weight(t, n, XF_ROLE_BIAS), NULL };
}

static int logits_value(const struct xf_graph *g)
{
	const struct xf_graph_node *n = &g->nodes[g->outputs[0]];

	return n->op == XF_OP_SOFTMAX ? n->inputs[0] : g->n_inputs + g->outputs[0];
}

static void find_runs(struct xf_trainer *t)
{
	const struct xf_graph *g = t->g;

	if (t->out_value >= g->n_inputs)
		t->runs[t->out_value - g->n_inputs] = true;
	for (int i = g->n_nodes - 1; i >= 0; i--)
		for (int j = 0; t->runs[i] && j < g->nodes[i].n_inputs; j++)
			if (g->nodes[i].inputs[j] >= g->n_inputs)
				t->runs[g->nodes[i].inputs[j] - g->n_inputs] = true;
}

/* Scratch for the forward and backward of every convolution at max_batch. */
static size_t conv_scratch(const struct xf_trainer *t)
{
	size_t most = 0;

	for (int i = 0; i < t->g->n_nodes; i++) {
		const struct xf_graph_node *n = &t->g->nodes[i];
		struct xf_conv2d c;
		int ndim;
		const int64_t *in;
		size_t f, b;

		if (!t->runs[i] || n->op != XF_OP_CONV2D)
			continue;
		c = conv_of(t, n);
		in = xf_graph_value_shape(t->g, n->inputs[0], &ndim);
		f = xf_conv2d_scratch_size(&c, (int)in[1], (int)in[2], t->max_batch, t->threads);
		b = xf_conv2d_backward_scratch_size(&c, (int)in[1], (int)in[2], t->max_batch, t->threads);
		most = f > most ? f : most;
		most = b > most ? b : most;
	}
	return most;
}

static float *alloc_floats(int64_t n)
{
	return malloc((size_t)n * sizeof(float) + 1);
}

static int alloc_node(struct xf_trainer *t, int i)
{
	const struct xf_graph_node *n = &t->g->nodes[i];
	int v = t->g->n_inputs + i;
	int64_t size = value_count(t->g, v) * t->max_batch;

	if (!(t->act[v] = alloc_floats(size)) || !(t->grad[v] = alloc_floats(size)))
		return -1;
	if (n->op == XF_OP_BATCHNORM &&
	    (!(t->bn_mean[i] = alloc_floats(n->shape[0])) || !(t->bn_invstd[i] = alloc_floats(n->shape[0]))))
		return -1;
	return 0;
}

static int alloc_params(struct xf_trainer *t, const bool *trainable)
{
	const struct xf_header *h = &t->m->h;

	for (int i = 0; i < t->g->n_nodes; i++)
		for (int r = 0; r < XF_ROLE_COUNT; r++) {
			int f = t->g->nodes[i].weights[r];

			if (f < 0 || t->param_grad[f] || r == XF_ROLE_RUNNING_MEAN || r == XF_ROLE_RUNNING_VAR ||
			    (trainable && !trainable[f]))
				continue;
			if (!(t->param_grad[f] = alloc_floats(xf_shape_count(h->fields[f].ndim, h->fields[f].shape))))
				return -1;
		}
	return 0;
}

int xf_trainer_new(struct xf_model *m, const bool *trainable, int64_t max_batch, int threads, uint64_t seed,
		   struct xf_trainer **out, struct xf_err *err)
{
	struct xf_trainer *t = calloc(1, sizeof(*t));
	const struct xf_graph *g = m->g;
	int nv = g->n_inputs + g->n_nodes, rc = 0;

	*out = NULL;
	if (!t)
		return xf_err_nomem(err, 0);
	t->m = m, t->g = g, t->max_batch = max_batch, t->threads = threads, t->out_value = logits_value(g);
	xf_rng_init(&t->rng, seed, 0x64726f70);
	t->runs = calloc((size_t)g->n_nodes, sizeof(bool));
	t->act = calloc((size_t)nv, sizeof(float *)), t->grad = calloc((size_t)nv, sizeof(float *));
	t->param_grad = calloc((size_t)m->h.n_fields + 1, sizeof(float *));
	t->bn_mean = calloc((size_t)g->n_nodes, sizeof(float *)), t->bn_invstd = calloc((size_t)g->n_nodes, sizeof(float *));
	t->drop = calloc((size_t)g->n_nodes, sizeof(double)), t->mask = calloc((size_t)g->n_nodes, sizeof(uint8_t *));
	if (!t->runs || !t->act || !t->grad || !t->param_grad || !t->bn_mean || !t->bn_invstd || !t->drop || !t->mask)
		rc = -1;
	if (rc == 0)
		find_runs(t);
	for (int i = 0; rc == 0 && i < g->n_nodes; i++)
		rc = t->runs[i] ? alloc_node(t, i) : 0;
	rc = rc ? rc : alloc_params(t, trainable);
	if (rc == 0) {
		t->scratch_floats = conv_scratch(t);
		rc = (t->scratch = alloc_floats((int64_t)t->scratch_floats)) ? 0 : -1;
	}
	if (rc < 0) {
		xf_trainer_free(t);
		return xf_err_nomem(err, 0);
	}
	*out = t;
	return 0;
}

void xf_trainer_set_dropout(struct xf_trainer *t, int node, double p)
{
	t->drop[node] = p;
}

const float *xf_trainer_output(const struct xf_trainer *t, int64_t *count)
{
	*count = value_count(t->g, t->out_value);
	return t->act[t->out_value];
}

float *xf_trainer_output_grad(struct xf_trainer *t)
{
	return t->grad[t->out_value];
}

float *xf_trainer_param_grad(const struct xf_trainer *t, int f)
{
	return t->param_grad[f];
}

void xf_trainer_zero_grad(struct xf_trainer *t)
{
	const struct xf_header *h = &t->m->h;

	for (int f = 0; f < h->n_fields; f++)
		if (t->param_grad[f])
			memset(t->param_grad[f], 0, (size_t)xf_shape_count(h->fields[f].ndim, h->fields[f].shape) * sizeof(float));
}

void xf_trainer_free(struct xf_trainer *t)
{
	if (!t)
		return;
	for (int v = t->g->n_inputs; t->act && v < t->g->n_inputs + t->g->n_nodes; v++)
		free(t->act[v]), free(t->grad[v]);
	for (int f = 0; t->param_grad && f < t->m->h.n_fields; f++)
		free(t->param_grad[f]);
	for (int i = 0; t->bn_mean && t->bn_invstd && t->mask && i < t->g->n_nodes; i++)
		free(t->bn_mean[i]), free(t->bn_invstd[i]), free(t->mask[i]);
	free(t->runs), free(t->act), free(t->grad), free(t->param_grad), free(t->bn_mean), free(t->bn_invstd);
	free(t->drop), free(t->mask), free(t->scratch);
	free(t);
}

/* ---- forward ---- */

static const int64_t *in_shape(const struct xf_trainer *t, const struct xf_graph_node *n, int j, int *ndim)
{
	return xf_graph_value_shape(t->g, n->inputs[j], ndim);
}

static struct xf_batchnorm batchnorm_of(const struct xf_trainer *t, const struct xf_graph_node *n)
{
	return (struct xf_batchnorm){ n->shape[0], weight(t, n, XF_ROLE_WEIGHT), weight(t, n, XF_ROLE_BIAS),
				      weight(t, n, XF_ROLE_RUNNING_MEAN), weight(t, n, XF_ROLE_RUNNING_VAR), n->attrs.eps };
}

static struct xf_pool2d pool_of(const struct xf_graph_node *n)
{
	const struct xf_graph_attrs *a = &n->attrs;

	return (struct xf_pool2d){ (int)a->kernel[0], (int)a->kernel[1], { (int)a->stride[0], (int)a->stride[1] },
				   { (int)a->padding[0], (int)a->padding[1] }, a->count_include_pad };
}

static struct xf_layernorm layernorm_of(const struct xf_trainer *t, const struct xf_graph_node *n)
{
	return (struct xf_layernorm){ xf_shape_count(n->attrs.norm_ndim, n->shape + n->ndim - n->attrs.norm_ndim),
				      weight(t, n, XF_ROLE_WEIGHT), weight(t, n, XF_ROLE_BIAS), n->attrs.eps };
}

static struct xf_linear linear_of(const struct xf_trainer *t, const struct xf_graph_node *n, int64_t *rows_per_sample)
{
	int ndim;
	const int64_t *s = in_shape(t, n, 0, &ndim);
	struct xf_linear l;

	l = (struct xf_linear){ s[ndim - 1], n->shape[n->ndim - 1], weight(t, n, XF_ROLE_WEIGHT), weight(t, n, XF_ROLE_BIAS) };
	*rows_per_sample = xf_shape_count(ndim, s) / l.in;
	return l;
}

/* Centers change between steps, so their norms are computed by each call (center_sq NULL). */
static struct xf_kernel kernel_of(const struct xf_trainer *t, const struct xf_graph_node *n)
{
	const struct xf_graph_attrs *a = &n->attrs;
	int ndim;
	const int64_t *in = in_shape(t, n, 0, &ndim);

	return (struct xf_kernel){ a->kernel_fn, in[0], n->shape[0], a->gamma, a->degree, a->coef0,
				   weight(t, n, XF_ROLE_CENTERS), NULL };
}

static void concat_widths(const struct xf_trainer *t, const struct xf_graph_node *n, int64_t *width, int64_t *outer)
{
	for (int j = 0; j < n->n_inputs; j++) {
		int ndim;
		const int64_t *s = in_shape(t, n, j, &ndim);
		int64_t dim, inner;

		xf_nn_split_axis(ndim, s, n->attrs.axis, outer, &dim, &inner);
		width[j] = dim * inner;
	}
}

static int forward_node(struct xf_trainer *t, int i, int64_t batch, bool training, struct xf_err *err)
{
	const struct xf_graph_node *n = &t->g->nodes[i];
	const float *x[XF_GRAPH_MAX_INPUTS];
	float *y = t->act[t->g->n_inputs + i];
	int ndim;
	const int64_t *s = in_shape(t, n, 0, &ndim);
	int64_t count, rows, outer, dim, inner, width[XF_GRAPH_MAX_INPUTS];

	count = batch * xf_shape_count(ndim, s);
	for (int j = 0; j < n->n_inputs; j++)
		x[j] = t->act[n->inputs[j]];
	switch (n->op) {
	case XF_OP_LINEAR: {
		struct xf_linear l = linear_of(t, n, &rows);
		return xf_linear_forward(&l, x[0], batch * rows, y, t->threads, err);
	}
	case XF_OP_CONV2D: {
		struct xf_conv2d c = conv_of(t, n);
		return xf_conv2d_forward(&c, x[0], batch, (int)s[1], (int)s[2], y, t->scratch, t->threads, err);
	}
	case XF_OP_BATCHNORM: {
		struct xf_batchnorm bn = batchnorm_of(t, n);
		if (training && !frozen(t, n))
			xf_batchnorm_train_forward(&bn, BN_MOMENTUM, x[0], batch, count / batch / s[0], y,
						   weight(t, n, XF_ROLE_RUNNING_MEAN), weight(t, n, XF_ROLE_RUNNING_VAR),
						   t->bn_mean[i], t->bn_invstd[i], t->threads);
		else
			xf_batchnorm_forward(&bn, x[0], batch, count / batch / s[0], y, t->threads);
		return 0;
	}
	case XF_OP_MAXPOOL2D: case XF_OP_AVGPOOL2D: {
		struct xf_pool2d p = pool_of(n);
		return (n->op == XF_OP_MAXPOOL2D ? xf_maxpool2d_forward : xf_avgpool2d_forward)(
			&p, x[0], batch, (int)s[0], (int)s[1], (int)s[2], y, t->threads, err);
	}
	case XF_OP_KERNEL: {
		struct xf_kernel k = kernel_of(t, n);
		return xf_kernel_forward(&k, x[0], batch, y, t->threads, err);
	}
	case XF_OP_GLOBAL_AVGPOOL: xf_global_avgpool_forward(x[0], batch, s[0], s[1] * s[2], y, t->threads); break;
	case XF_OP_RELU: xf_relu_forward(x[0], count, y, t->threads); break;
	case XF_OP_TANH: xf_tanh_forward(x[0], count, y, t->threads); break;
	case XF_OP_SIGMOID: xf_sigmoid_forward(x[0], count, y, t->threads); break;
	case XF_OP_GELU: xf_gelu_forward(x[0], count, n->attrs.gelu_tanh, y, t->threads); break;
	case XF_OP_FLATTEN: memcpy(y, x[0], (size_t)count * sizeof(float)); break;
	case XF_OP_ADD: xf_add_forward(n->n_inputs, x, count, y, t->threads); break;
	case XF_OP_CONCAT:
		concat_widths(t, n, width, &outer);
		xf_concat_forward(n->n_inputs, x, width, batch * outer, y, t->threads);
		break;
	case XF_OP_LAYERNORM: {
		struct xf_layernorm ln = layernorm_of(t, n);
		xf_layernorm_forward(&ln, x[0], count / ln.n, y, t->threads);
		break;
	}
	case XF_OP_SOFTMAX:
		xf_nn_split_axis(ndim, s, n->attrs.axis, &outer, &dim, &inner);
		xf_softmax_forward(x[0], batch * outer, dim, inner, y, t->threads);
		break;
	case XF_OP_COUNT: break;
	}
	return 0;
}

/* Inverted dropout on node i's output, with a fresh mask. */
static int dropout(struct xf_trainer *t, int i, int64_t batch)
{
	int64_t n = batch * value_count(t->g, t->g->n_inputs + i);
	float *y = t->act[t->g->n_inputs + i], keep = (float)(1 / (1 - t->drop[i]));

	if (!t->mask[i] && !(t->mask[i] = malloc((size_t)(t->max_batch * value_count(t->g, t->g->n_inputs + i)))))
		return -1;
	for (int64_t k = 0; k < n; k++) {
		t->mask[i][k] = xf_rng_uniform(&t->rng) >= t->drop[i];
		y[k] = t->mask[i][k] ? y[k] * keep : 0;
	}
	return 0;
}

int xf_trainer_forward(struct xf_trainer *t, const float *const *inputs, int64_t batch, bool training,
		       struct xf_err *err)
{
	if (batch < 1 || batch > t->max_batch)
		return xf_err_set(err, XF_E_USAGE, "batch of %lld samples; the trainer takes 1 to %lld", (long long)batch,
				  (long long)t->max_batch);
	for (int v = 0; v < t->g->n_inputs; v++)
		t->act[v] = (float *)inputs[v];
	for (int i = 0; i < t->g->n_nodes; i++) {
		if (!t->runs[i])
			continue;
		if (forward_node(t, i, batch, training, err) < 0)
			return node_error(&t->g->nodes[i], err);
		if (training && t->drop[i] > 0 && dropout(t, i, batch) < 0)
			return xf_err_nomem(err, 0);
	}
	t->trained = training;
	return 0;
}

/* ---- backward ---- */

static void add_into(float *dx, const float *dy, int64_t n)
{
	for (int64_t k = 0; k < n; k++)
		dx[k] += dy[k];
}

/* The gradient buffer of node n's input j, or NULL for a graph input (no gradient wanted). */
static float *input_grad(const struct xf_trainer *t, const struct xf_graph_node *n, int j)
{
	return n->inputs[j] >= t->g->n_inputs ? t->grad[n->inputs[j]] : NULL;
}

static int backward_weighted(struct xf_trainer *t, const struct xf_graph_node *n, int i, int64_t batch,
			     const float *dy, struct xf_err *err)
{
	const float *x = t->act[n->inputs[0]];
	float *dx = input_grad(t, n, 0);
	int ndim;
	const int64_t *s = in_shape(t, n, 0, &ndim);
	int64_t rows, inner = xf_shape_count(ndim, s) / s[0];

	switch (n->op) {
	case XF_OP_LINEAR: {
		struct xf_linear l = linear_of(t, n, &rows);
		return xf_linear_backward(&l, x, dy, batch * rows, dx, pgrad(t, n, XF_ROLE_WEIGHT), pgrad(t, n, XF_ROLE_BIAS),
					  t->threads, err);
	}
	case XF_OP_CONV2D: {
		struct xf_conv2d c = conv_of(t, n);
		return xf_conv2d_backward(&c, x, batch, (int)s[1], (int)s[2], dy, dx, pgrad(t, n, XF_ROLE_WEIGHT),
					  pgrad(t, n, XF_ROLE_BIAS), t->scratch, t->threads, err);
	}
	case XF_OP_BATCHNORM: {
		struct xf_batchnorm bn = batchnorm_of(t, n);
		if (frozen(t, n)) {
			if (dx)
				frozen_batchnorm_backward(&bn, dy, batch, inner, dx);
			return 0;
		}
		xf_batchnorm_train_backward(&bn, x, dy, batch, inner, t->bn_mean[i], t->bn_invstd[i], dx,
					    pgrad(t, n, XF_ROLE_WEIGHT), pgrad(t, n, XF_ROLE_BIAS), t->threads);
		return 0;
	}
	case XF_OP_KERNEL: {
		struct xf_kernel k = kernel_of(t, n);
		return xf_kernel_backward(&k, x, dy, batch, dx, pgrad(t, n, XF_ROLE_CENTERS), t->threads, err);
	}
	default: {
		struct xf_layernorm ln = layernorm_of(t, n);
		xf_layernorm_backward(&ln, x, dy, batch * xf_shape_count(ndim, s) / ln.n, dx, pgrad(t, n, XF_ROLE_WEIGHT),
				      pgrad(t, n, XF_ROLE_BIAS), t->threads);
		return 0;
	}
	}
}

static int backward_node(struct xf_trainer *t, int i, int64_t batch, struct xf_err *err)
{
	const struct xf_graph_node *n = &t->g->nodes[i];
	const float *x = t->act[n->inputs[0]], *y = t->act[t->g->n_inputs + i], *dy = t->grad[t->g->n_inputs + i];
	float *dx = input_grad(t, n, 0), *dxs[XF_GRAPH_MAX_INPUTS];
	int ndim;
	const int64_t *s = in_shape(t, n, 0, &ndim);
	int64_t count = batch * xf_shape_count(ndim, s), outer, dim, inner, width[XF_GRAPH_MAX_INPUTS];

	switch (n->op) {
	case XF_OP_LINEAR: case XF_OP_CONV2D: case XF_OP_BATCHNORM: case XF_OP_LAYERNORM: case XF_OP_KERNEL:
		return backward_weighted(t, n, i, batch, dy, err);
	case XF_OP_MAXPOOL2D: case XF_OP_AVGPOOL2D: {
		struct xf_pool2d p = pool_of(n);
		if (!dx)
			return 0;
		if (n->op == XF_OP_MAXPOOL2D)
			return xf_maxpool2d_backward(&p, x, batch, (int)s[0], (int)s[1], (int)s[2], dy, dx, t->threads, err);
		return xf_avgpool2d_backward(&p, batch, (int)s[0], (int)s[1], (int)s[2], dy, dx, t->threads, err);
	}
	case XF_OP_GLOBAL_AVGPOOL: if (dx) xf_global_avgpool_backward(dy, batch, s[0], s[1] * s[2], dx, t->threads); break;
	case XF_OP_RELU: if (dx) xf_relu_backward(x, dy, count, dx, t->threads); break;
	case XF_OP_TANH: if (dx) xf_tanh_backward(y, dy, count, dx, t->threads); break;
	case XF_OP_SIGMOID: if (dx) xf_sigmoid_backward(y, dy, count, dx, t->threads); break;
	case XF_OP_GELU: if (dx) xf_gelu_backward(x, dy, count, n->attrs.gelu_tanh, dx, t->threads); break;
	case XF_OP_FLATTEN: if (dx) add_into(dx, dy, count); break;
	case XF_OP_ADD:
		for (int j = 0; j < n->n_inputs; j++)
			if (input_grad(t, n, j))
				add_into(input_grad(t, n, j), dy, count);
		break;
	case XF_OP_CONCAT:
		concat_widths(t, n, width, &outer);
		for (int j = 0; j < n->n_inputs; j++)
			dxs[j] = input_grad(t, n, j);
		xf_concat_backward(n->n_inputs, dxs, width, batch * outer, dy, t->threads);
		break;
	case XF_OP_SOFTMAX:
		xf_nn_split_axis(ndim, s, n->attrs.axis, &outer, &dim, &inner);
		if (dx)
			xf_softmax_backward(y, dy, batch * outer, dim, inner, dx, t->threads);
		break;
	case XF_OP_COUNT: break;
	}
	return 0;
}

/* The gradient through node i's dropout: zero where dropped, scaled where kept. */
static void undrop(struct xf_trainer *t, int i, int64_t batch)
{
	int64_t n = batch * value_count(t->g, t->g->n_inputs + i);
	float *dy = t->grad[t->g->n_inputs + i], keep = (float)(1 / (1 - t->drop[i]));

	for (int64_t k = 0; k < n; k++)
		dy[k] = t->mask[i][k] ? dy[k] * keep : 0;
}

int xf_trainer_backward(struct xf_trainer *t, int64_t batch, struct xf_err *err)
{
	const struct xf_graph *g = t->g;

	if (!t->trained)
		return xf_err_set(err, XF_E_USAGE, "backward without a training-mode forward");
	for (int i = 0; i < g->n_nodes; i++) {
		int v = g->n_inputs + i;

		if (t->runs[i] && v != t->out_value)
			memset(t->grad[v], 0, (size_t)(batch * value_count(g, v)) * sizeof(float));
	}
	for (int i = g->n_nodes - 1; i >= 0; i--) {
		if (!t->runs[i])
			continue;
		if (t->drop[i] > 0)
			undrop(t, i, batch);
		if (backward_node(t, i, batch, err) < 0)
			return node_error(&g->nodes[i], err);
	}
	return 0;
}
