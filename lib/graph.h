/*
 * graph: the model architecture carried in a model header's "graph" key, validated and
 * parsed with per-node shape inference. The wire form, the ops, their attrs, weight roles
 * and shape rules are specified in schemas/stream.md ("The model graph").
 *
 *	struct xf_graph *g;
 *	if (xf_graph_parse(h->graph, h, &g, &err) < 0) return -1;
 *	for (int i = 0; i < g->n_nodes; i++) run(&g->nodes[i]);   (topological order)
 *	xf_graph_free(g);
 *
 * Values: node inputs are "value ids". An id below g->n_inputs names graph input `id`;
 * an id v >= g->n_inputs names node v - g->n_inputs. Shapes are per sample (no batch
 * dimension); images are [C, H, W] and weights use PyTorch layouts.
 */
#ifndef XF_GRAPH_H
#define XF_GRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "header.h"
#include "tensor.h"

#define XF_GRAPH_MAX_NODES 65536   /* nodes in one graph */
#define XF_GRAPH_MAX_INPUTS 4096   /* graph inputs, and inputs of one node */
#define XF_GRAPH_MAX_DIM 2147483647 /* any per-sample dimension or integer attr (2^31 - 1) */

/* Ops, in the order of schemas/stream.md. Not wire codes: the wire names them by string. */
enum xf_op {
	XF_OP_LINEAR,
	XF_OP_CONV2D,
	XF_OP_BATCHNORM,
	XF_OP_RELU,
	XF_OP_TANH,
	XF_OP_SIGMOID,
	XF_OP_GELU,
	XF_OP_MAXPOOL2D,
	XF_OP_AVGPOOL2D,
	XF_OP_GLOBAL_AVGPOOL,
	XF_OP_FLATTEN,
	XF_OP_ADD,
	XF_OP_CONCAT,
	XF_OP_LAYERNORM,
	XF_OP_SOFTMAX,
	XF_OP_KERNEL,         /* format version 2 */
	XF_OP_COUNT
};

/* Weight roles: the keys of a node's "weights" map. */
enum xf_role {
	XF_ROLE_WEIGHT,       /* "weight" */
	XF_ROLE_BIAS,         /* "bias" */
	XF_ROLE_RUNNING_MEAN, /* "running_mean" (batchnorm) */
	XF_ROLE_RUNNING_VAR,  /* "running_var" (batchnorm) */
	XF_ROLE_CENTERS,      /* "centers" (kernel) */
	XF_ROLE_COUNT
};

/* The kernel op's functions (attr "kernel"), scikit-learn's pairwise_kernels definitions. */
enum xf_kernel_fn {
	XF_KERNEL_LINEAR,     /* "linear": x . c */
	XF_KERNEL_RBF,        /* "rbf": exp(-gamma ||x - c||^2) */
	XF_KERNEL_POLY,       /* "poly": (gamma x . c + coef0)^degree */
	XF_KERNEL_COUNT
};

/* A node's attrs with defaults filled in; only the members its op uses are meaningful. */
struct xf_graph_attrs {
	int64_t kernel[2];      /* pools: window [kh, kw]; conv2d: copied from the weight's shape */
	int64_t stride[2];      /* conv2d, pools: [sh, sw] */
	int64_t padding[2];     /* conv2d, pools: zeros added on each side, [ph, pw] */
	int64_t dilation[2];    /* conv2d: [dh, dw] */
	int64_t groups;         /* conv2d: channel groups */
	double eps;             /* batchnorm, layernorm: added to the variance */
	int axis;               /* concat, softmax: per-sample axis, made non-negative */
	int norm_ndim;          /* layernorm: trailing dims normalised (= the weight's ndim) */
	bool count_include_pad; /* avgpool2d: padding zeros count in the divisor */
	bool gelu_tanh;         /* gelu: approximate is "tanh" (else the exact erf form) */
	enum xf_kernel_fn kernel_fn; /* kernel: which function */
	double gamma;           /* kernel rbf, poly: scale (> 0); 0 for linear */
	int64_t degree;         /* kernel poly: exponent (>= 1), default 3 */
	double coef0;           /* kernel poly: offset, default 1 */
};

struct xf_graph_input {
	char name[XF_MAX_NAME + 1]; /* unique among inputs and nodes */
	enum xf_dtype dtype;        /* a float dtype; "<f4" unless declared */
	int ndim;                   /* per-sample dimensions, 0..XF_MAX_DIMS-1 */
	int64_t shape[XF_MAX_DIMS]; /* per-sample shape, every dimension >= 1 */
};

struct xf_graph_node {
	char name[XF_MAX_NAME + 1];  /* unique among inputs and nodes */
	enum xf_op op;               /* what the node computes */
	int n_inputs;                /* entries in inputs */
	int *inputs;                 /* value ids (see above), each earlier than this node; owned */
	int weights[XF_ROLE_COUNT];  /* index into the header's fields, or -1 when absent */
	struct xf_graph_attrs attrs; /* typed attrs, defaults applied */
	int ndim;                    /* inferred per-sample output dimensions */
	int64_t shape[XF_MAX_DIMS];  /* inferred per-sample output shape */
};

struct xf_graph {
	int n_inputs;                  /* entries in inputs */
	struct xf_graph_input *inputs; /* in the wire map's order; owned */
	int n_nodes;                   /* entries in nodes */
	struct xf_graph_node *nodes;   /* in topological (wire) order; owned */
	int n_outputs;                 /* entries in outputs */
	int *outputs;                  /* node indices (not value ids), in wire order; owned */
};

/* "linear", "conv2d", ...; xf_op_parse returns -1 for an unknown name. */
const char *xf_op_name(enum xf_op op);
int xf_op_parse(const char *name, enum xf_op *out);
/* "weight", "bias", "running_mean", "running_var", "centers". */
const char *xf_role_name(enum xf_role role);
/* "linear", "rbf", "poly"; xf_kernel_fn_parse returns -1 for an unknown name. */
const char *xf_kernel_fn_name(enum xf_kernel_fn fn);
int xf_kernel_fn_parse(const char *name, enum xf_kernel_fn *out);

/*
 * The format version a header carrying `graph` (a header's "graph" value, valid or not) must
 * declare: the highest version among the ops its nodes name (1 for every op but kernel, which
 * is 2; unknown ops and malformed graphs count as 1). Writers declare exactly this, so that a
 * segment an older reader could read keeps the version it knows (schemas/stream.md 5.1).
 */
int xf_graph_format_version(const json_t *graph);

/*
 * Validate `graph` (the header's "graph" value) against header h and build its parsed form.
 * h->kind must be XF_KIND_MODEL. Checks: known keys only (unknown keys and attrs are errors,
 * so typos are caught); names unique and at most XF_MAX_NAME bytes; every node input is a
 * graph input or an earlier node; attrs well-typed and in range; every weight names a
 * declared float field (f4, f8, f2, bf16) whose shape fits the op's rule for the inferred
 * input shapes; every declared field used by some node; outputs name nodes.
 * On success *out is a new graph owned by the caller (free with xf_graph_free) and 0 is
 * returned. On failure *out is NULL, err is filled (XF_E_FORMAT for a bad graph, XF_E_NOMEM)
 * with a message naming the node, e.g.
 *   graph: node 'conv1' (conv2d): weight 'conv1.weight' has shape [8, 3, 3, 3], input has 1 channel
 * and -1 is returned.
 */
int xf_graph_parse(const json_t *graph, const struct xf_header *h, struct xf_graph **out,
		   struct xf_err *err);

/* xf_graph_parse, keeping only the verdict. */
int xf_graph_check(const json_t *graph, const struct xf_header *h, struct xf_err *err);

/* Frees g and everything it owns; NULL is fine. */
void xf_graph_free(struct xf_graph *g);

/* Value id of the input or node called name, or -1. */
int xf_graph_find(const struct xf_graph *g, const char *name);

/* Name, ndim and per-sample shape of value id v (a graph input or a node). */
const char *xf_graph_value_name(const struct xf_graph *g, int v);
const int64_t *xf_graph_value_shape(const struct xf_graph *g, int v, int *ndim);

#endif
