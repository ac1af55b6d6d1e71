/*
 * Unit tests for lib/graph.c: valid graphs with hand-computed shapes for every node, and one
 * case per error class, each checked for a message naming the node (schemas/stream.md); and
 * the format version that writers declare for a graph (1, or 2 with a kernel node) and that
 * readers hold a header to.
 */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "reader.h"
#include "tap.h"
#include "writer.h"

#define F4 XF_DTYPE_F32
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static struct xf_field cnn_fields[] = {
	{ "conv1.weight", F4, 4, { 16, 3, 3, 3 } },
	{ "conv1.bias", F4, 1, { 16 } },
	{ "bn1.weight", F4, 1, { 16 } },
	{ "bn1.bias", F4, 1, { 16 } },
	{ "bn1.running_mean", F4, 1, { 16 } },
	{ "bn1.running_var", F4, 1, { 16 } },
	{ "conv2.weight", XF_DTYPE_F16, 4, { 32, 8, 3, 3 } },
	{ "fc.weight", XF_DTYPE_BF16, 2, { 10, 32 } },
	{ "fc.bias", XF_DTYPE_F64, 1, { 10 } },
};

/* Non-square input to catch H/W swaps; conv2 mixes stride, dilation and groups. */
static const char cnn_json[] = "{"
	"\"inputs\": {\"image\": {\"shape\": [3, 32, 28], \"dtype\": \"<f4\"}},"
	"\"nodes\": ["
	" {\"name\": \"conv1\", \"op\": \"conv2d\", \"inputs\": [\"image\"], \"attrs\": {\"padding\": [1, 1]},"
	"  \"weights\": {\"weight\": \"conv1.weight\", \"bias\": \"conv1.bias\"}},"
	" {\"name\": \"bn1\", \"op\": \"batchnorm\", \"inputs\": [\"conv1\"], \"attrs\": {\"eps\": 0.001},"
	"  \"weights\": {\"weight\": \"bn1.weight\", \"bias\": \"bn1.bias\","
	"   \"running_mean\": \"bn1.running_mean\", \"running_var\": \"bn1.running_var\"}},"
	" {\"name\": \"relu1\", \"op\": \"relu\", \"inputs\": [\"bn1\"]},"
	" {\"name\": \"pool1\", \"op\": \"maxpool2d\", \"inputs\": [\"relu1\"], \"attrs\": {\"kernel\": [2, 2]}},"
	" {\"name\": \"conv2\", \"op\": \"conv2d\", \"inputs\": [\"pool1\"],"
	"  \"attrs\": {\"stride\": [2, 1], \"dilation\": [1, 2], \"groups\": 2},"
	"  \"weights\": {\"weight\": \"conv2.weight\"}},"
	" {\"name\": \"relu2\", \"op\": \"relu\", \"inputs\": [\"conv2\"]},"
	" {\"name\": \"gap\", \"op\": \"global_avgpool\", \"inputs\": [\"relu2\"]},"
	" {\"name\": \"fc\", \"op\": \"linear\", \"inputs\": [\"gap\"],"
	"  \"weights\": {\"weight\": \"fc.weight\", \"bias\": \"fc.bias\"}},"
	" {\"name\": \"prob\", \"op\": \"softmax\", \"inputs\": [\"fc\"]}"
	"],"
	"\"outputs\": [\"prob\"]}";

static struct xf_field mlp_fields[] = {
	{ "fc1.weight", F4, 2, { 128, 64 } },
	{ "fc1.bias", F4, 1, { 128 } },
	{ "fc2.weight", F4, 2, { 64, 128 } },
	{ "ln.weight", F4, 1, { 64 } },
	{ "ln.bias", F4, 1, { 64 } },
	{ "head.weight", F4, 2, { 5, 64 } },
};

static const char mlp_json[] = "{"
	"\"inputs\": {\"x\": {\"shape\": [64]}},"
	"\"nodes\": ["
	" {\"name\": \"fc1\", \"op\": \"linear\", \"inputs\": [\"x\"],"
	"  \"weights\": {\"weight\": \"fc1.weight\", \"bias\": \"fc1.bias\"}},"
	" {\"name\": \"act\", \"op\": \"gelu\", \"inputs\": [\"fc1\"], \"attrs\": {\"approximate\": \"tanh\"}},"
	" {\"name\": \"fc2\", \"op\": \"linear\", \"inputs\": [\"act\"], \"weights\": {\"weight\": \"fc2.weight\"}},"
	" {\"name\": \"res\", \"op\": \"add\", \"inputs\": [\"x\", \"fc2\"]},"
	" {\"name\": \"ln\", \"op\": \"layernorm\", \"inputs\": [\"res\"],"
	"  \"weights\": {\"weight\": \"ln.weight\", \"bias\": \"ln.bias\"}},"
	" {\"name\": \"head\", \"op\": \"linear\", \"inputs\": [\"ln\"], \"weights\": {\"weight\": \"head.weight\"}},"
	" {\"name\": \"out\", \"op\": \"softmax\", \"inputs\": [\"head\"], \"attrs\": {\"axis\": -1}}"
	"],"
	"\"outputs\": [\"out\", \"ln\"]}";

/* The remaining ops: concat, avgpool2d, flatten, tanh, sigmoid, layernorm over 2 dims. */
static struct xf_field misc_fields[] = {
	{ "ln.weight", F4, 2, { 8, 8 } },
};

static const char misc_json[] = "{"
	"\"inputs\": {\"a\": {\"shape\": [4, 8, 8]}, \"b\": {\"shape\": [2, 8, 8], \"dtype\": \"<f8\"}},"
	"\"nodes\": ["
	" {\"name\": \"cat\", \"op\": \"concat\", \"inputs\": [\"a\", \"b\"]},"
	" {\"name\": \"ln\", \"op\": \"layernorm\", \"inputs\": [\"cat\"], \"weights\": {\"weight\": \"ln.weight\"}},"
	" {\"name\": \"avg\", \"op\": \"avgpool2d\", \"inputs\": [\"ln\"],"
	"  \"attrs\": {\"kernel\": [3, 3], \"stride\": [2, 2], \"padding\": [1, 1], \"count_include_pad\": false}},"
	" {\"name\": \"flat\", \"op\": \"flatten\", \"inputs\": [\"avg\"]},"
	" {\"name\": \"t\", \"op\": \"tanh\", \"inputs\": [\"flat\"]},"
	" {\"name\": \"s\", \"op\": \"sigmoid\", \"inputs\": [\"flat\"]},"
	" {\"name\": \"both\", \"op\": \"concat\", \"inputs\": [\"s\", \"t\", \"s\"], \"attrs\": {\"axis\": -1}}"
	"],"
	"\"outputs\": [\"both\"]}";

/* Kernel ridge regression's graph: 6 features against 4 centers, then 3 outputs. */
static struct xf_field krr_fields[] = {
	{ "k.centers", F4, 2, { 4, 6 } },
	{ "fc.weight", F4, 2, { 3, 4 } },
};

static const char krr_json[] = "{"
	"\"inputs\": {\"x\": {\"shape\": [6]}},"
	"\"nodes\": ["
	" {\"name\": \"k\", \"op\": \"kernel\", \"inputs\": [\"x\"], \"attrs\": {\"kernel\": \"rbf\", \"gamma\": 0.5},"
	"  \"weights\": {\"centers\": \"k.centers\"}},"
	" {\"name\": \"fc\", \"op\": \"linear\", \"inputs\": [\"k\"], \"weights\": {\"weight\": \"fc.weight\"}}"
	"],"
	"\"outputs\": [\"fc\"]}";

static struct xf_header make_header(struct xf_field *fields, int n_fields)
{
	struct xf_header h = XF_HEADER_INIT;

	h.kind = XF_KIND_MODEL;
	h.fields = fields;
	h.n_fields = n_fields;
	return h;
}

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

	if (!j)
		printf("# json error: %s (line %d)\n", jerr.text, jerr.line);
	return j;
}

/* Node `name` of g has per-sample shape want[0..ndim). */
static void check_node(const struct xf_graph *g, const char *name, int ndim, const int64_t *want)
{
	int v = xf_graph_find(g, name), got_ndim = -1;
	const int64_t *got = v >= g->n_inputs ? xf_graph_value_shape(g, v, &got_ndim) : NULL;
	char a[160], b[160];

	ok(got && got_ndim == ndim && !memcmp(got, want, ndim * sizeof(*want)), "node '%s' has shape %s", name,
	   xf_shape_str(ndim, want, a, sizeof(a)));
	if (got && (got_ndim != ndim || memcmp(got, want, ndim * sizeof(*want))))
		printf("#   got %s\n", xf_shape_str(got_ndim, got, b, sizeof(b)));
}

#define NODE(g, name, ...) do { \
	const int64_t want_[] = { __VA_ARGS__ }; \
	check_node(g, name, N_OF(want_), want_); \
} while (0)

static struct xf_graph *parse_ok(const char *text, struct xf_field *fields, int n_fields, const char *what)
{
	struct xf_header h = make_header(fields, n_fields);
	struct xf_err err = XF_ERR_INIT;
	struct xf_graph *g = NULL;
	json_t *j = load(text);

	if (!ok(j && xf_graph_parse(j, &h, &g, &err) == 0, "%s parses", what))
		printf("#   %s\n", err.msg);
	ok(xf_graph_check(j, &h, &err) == 0, "%s checks", what);
	json_decref(j);
	return g;
}

static void test_cnn(void)
{
	struct xf_graph *g = parse_ok(cnn_json, cnn_fields, N_OF(cnn_fields), "small CNN");
	const struct xf_graph_node *n;

	if (!g)
		return;
	is_int(g->n_inputs, 1, "one input");
	is_int(g->n_nodes, 9, "nine nodes");
	NODE(g, "conv1", 16, 32, 28);  /* (32 + 2 - 2 - 1)/1 + 1 = 32, (28 + 2 - 3)/1 + 1 = 28 */
	NODE(g, "bn1", 16, 32, 28);
	NODE(g, "relu1", 16, 32, 28);
	NODE(g, "pool1", 16, 16, 14);  /* (32 - 2)/2 + 1, (28 - 2)/2 + 1 */
	NODE(g, "conv2", 32, 7, 10);   /* H: (16 - 1*2 - 1)/2 + 1 = 7; W: (14 - 2*2 - 1)/1 + 1 = 10 */
	NODE(g, "relu2", 32, 7, 10);
	NODE(g, "gap", 32);
	NODE(g, "fc", 10);
	NODE(g, "prob", 10);
	n = &g->nodes[0];
	ok(n->op == XF_OP_CONV2D && n->inputs[0] == 0 && n->weights[XF_ROLE_WEIGHT] == 0 &&
	   n->weights[XF_ROLE_BIAS] == 1 && n->attrs.padding[1] == 1 && n->attrs.stride[0] == 1 &&
	   n->attrs.kernel[0] == 3 && n->attrs.groups == 1, "conv1: resolved input, weights, attrs with defaults");
	n = &g->nodes[1];
	is_near(n->attrs.eps, 0.001, 1e-12, "bn1: eps");
	ok(n->weights[XF_ROLE_RUNNING_VAR] == 5, "bn1: running_var is field 5");
	n = &g->nodes[3];
	ok(n->op == XF_OP_MAXPOOL2D && n->attrs.stride[0] == 2 && n->attrs.stride[1] == 2 && n->attrs.padding[0] == 0,
	   "pool1: stride defaults to the kernel");
	n = &g->nodes[4];
	ok(n->attrs.groups == 2 && n->attrs.dilation[1] == 2 && n->attrs.stride[0] == 2 &&
	   n->weights[XF_ROLE_BIAS] == -1 && n->inputs[0] == 1 + 3, "conv2: attrs, no bias, input is pool1");
	is_near(g->nodes[8].attrs.axis, 0, 0, "prob: default axis -1 becomes 0");
	ok(g->n_outputs == 1 && g->outputs[0] == 8, "output is node 8");
	is_str(xf_graph_value_name(g, 0), "image", "value 0 is the input");
	is_int(xf_graph_find(g, "nope"), -1, "find an unknown name");
	xf_graph_free(g);
}

static void test_mlp(void)
{
	struct xf_graph *g = parse_ok(mlp_json, mlp_fields, N_OF(mlp_fields), "MLP with residual and layernorm");

	if (!g)
		return;
	NODE(g, "fc1", 128);
	NODE(g, "act", 128);
	NODE(g, "fc2", 64);
	NODE(g, "res", 64);
	NODE(g, "ln", 64);
	NODE(g, "head", 5);
	NODE(g, "out", 5);
	ok(g->nodes[1].attrs.gelu_tanh, "act: approximate tanh");
	ok(g->nodes[3].n_inputs == 2 && g->nodes[3].inputs[0] == 0 && g->nodes[3].inputs[1] == 3,
	   "res: inputs x and fc2");
	ok(g->nodes[4].attrs.norm_ndim == 1 && g->nodes[4].attrs.eps == 1e-5, "ln: one dim, default eps");
	ok(g->inputs[0].dtype == XF_DTYPE_F32 && g->inputs[0].ndim == 1, "input dtype defaults to <f4");
	ok(g->n_outputs == 2 && g->outputs[0] == 6 && g->outputs[1] == 4, "two outputs in order");
	xf_graph_free(g);
}

static void test_misc(void)
{
	struct xf_graph *g = parse_ok(misc_json, misc_fields, N_OF(misc_fields), "concat/avgpool/flatten graph");

	if (!g)
		return;
	NODE(g, "cat", 6, 8, 8);
	NODE(g, "ln", 6, 8, 8);
	NODE(g, "avg", 6, 4, 4);   /* (8 + 2 - 3)/2 + 1 = 4 */
	NODE(g, "flat", 96);
	NODE(g, "t", 96);
	NODE(g, "s", 96);
	NODE(g, "both", 288);
	ok(g->nodes[1].attrs.norm_ndim == 2 && g->nodes[1].weights[XF_ROLE_BIAS] == -1, "ln: two dims, no bias");
	ok(!g->nodes[2].attrs.count_include_pad, "avg: count_include_pad false");
	ok(g->nodes[6].attrs.axis == 0, "both: axis -1 becomes 0");
	ok(g->inputs[1].dtype == XF_DTYPE_F64, "input b is <f8");
	xf_graph_free(g);
}

/* Replace the first `from` in src by `to` (static buffer; one at a time). */
static const char *edit(const char *src, const char *from, const char *to)
{
	static char buf[8192];
	const char *at = strstr(src, from);

	if (!at || strlen(src) - strlen(from) + strlen(to) >= sizeof(buf)) {
		printf("# edit: '%s' not found\n", from);
		return "";
	}
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
	return buf;
}

/* Parsing must fail with XF_E_FORMAT and a message containing `want`. */
static void fails(const char *text, struct xf_field *fields, int n_fields, const char *want, const char *what)
{
	struct xf_header h = make_header(fields, n_fields);
	struct xf_err err = XF_ERR_INIT;
	struct xf_graph *g = (struct xf_graph *)&h;   /* must be reset to NULL */
	json_t *j = load(text);
	int ret = j ? xf_graph_parse(j, &h, &g, &err) : 0;

	if (!ok(j && ret < 0 && g == NULL && err.code == XF_E_FORMAT && strstr(err.msg, want), "%s", what))
		printf("#   got '%s', want '%s'\n", err.msg, want);
	else
		printf("#   %s\n", err.msg);
	json_decref(j);
}

static void test_kernel(void)
{
	struct xf_graph *g = parse_ok(krr_json, krr_fields, N_OF(krr_fields), "kernel ridge graph (rbf)");
	char *krr_poly = strdup(edit(krr_json, "\"rbf\"", "\"poly\""));   /* edit's buffer is reused */
	const struct xf_graph_attrs *a;

	if (!g)
		return free(krr_poly);
	NODE(g, "k", 4);
	NODE(g, "fc", 3);
	a = &g->nodes[0].attrs;
	ok(g->nodes[0].op == XF_OP_KERNEL && a->kernel_fn == XF_KERNEL_RBF && a->gamma == 0.5 &&
	   g->nodes[0].weights[XF_ROLE_CENTERS] == 0 && g->nodes[0].weights[XF_ROLE_WEIGHT] == -1,
	   "k: rbf, gamma 0.5, centers are field 0");
	xf_graph_free(g);
	g = parse_ok(edit(krr_json, "\"kernel\": \"rbf\"", "\"kernel\": \"poly\""), krr_fields, N_OF(krr_fields),
		     "kernel poly without degree and coef0");
	ok(g && g->nodes[0].attrs.kernel_fn == XF_KERNEL_POLY && g->nodes[0].attrs.degree == 3 &&
	   g->nodes[0].attrs.coef0 == 1, "poly: degree 3 and coef0 1 by default");
	xf_graph_free(g);
	g = parse_ok(edit(krr_poly, "\"gamma\": 0.5", "\"gamma\": 2, \"degree\": 2, \"coef0\": -1.5"), krr_fields,
		     N_OF(krr_fields), "kernel poly with every attr");
	ok(g && g->nodes[0].attrs.degree == 2 && g->nodes[0].attrs.coef0 == -1.5 && g->nodes[0].attrs.gamma == 2,
	   "poly: degree 2, coef0 -1.5, gamma 2");
	xf_graph_free(g);
	g = parse_ok(edit(krr_json, "\"kernel\": \"rbf\", \"gamma\": 0.5", "\"kernel\": \"linear\""), krr_fields,
		     N_OF(krr_fields), "kernel linear");
	ok(g && g->nodes[0].attrs.kernel_fn == XF_KERNEL_LINEAR, "linear: no attrs but kernel");
	xf_graph_free(g);
	free(krr_poly);
}

/* The kernel op's shape and attr rules, each error naming the node. */
static void test_kernel_errors(void)
{
	int nk = N_OF(krr_fields);
	struct xf_field narrow[] = { { "k.centers", F4, 2, { 4, 5 } }, { "fc.weight", F4, 2, { 3, 4 } } };
	struct xf_field flat[] = { { "k.centers", F4, 1, { 6 } }, { "fc.weight", F4, 2, { 3, 4 } } };
	char *krr_poly = strdup(edit(krr_json, "\"rbf\"", "\"poly\""));

	fails(krr_json, narrow, nk,
	      "graph: node 'k' (kernel): centers 'k.centers' has shape [4, 5], input has 6 features (expected [M, 6])",
	      "kernel: centers of another width than the input");
	fails(krr_json, flat, nk, "node 'k' (kernel): centers 'k.centers' has shape [6], input has 6 features",
	      "kernel: centers not [M, D]");
	fails(edit(krr_json, "\"shape\": [6]", "\"shape\": [2, 3]"), krr_fields, nk,
	      "node 'k' (kernel): needs an input of shape [D], input 'x' has shape [2, 3]", "kernel: a 2-D input");
	fails(edit(krr_json, "\"weights\": {\"centers\": \"k.centers\"}", "\"weights\": {}"), krr_fields, nk,
	      "node 'k' (kernel): missing weight 'centers'", "kernel: no centers");
	fails(edit(krr_json, "\"centers\": \"k.centers\"", "\"weight\": \"k.centers\""), krr_fields, nk,
	      "node 'k' (kernel): unknown weight role 'weight'", "kernel: a weight role of another op");
	fails(edit(krr_json, "\"kernel\": \"rbf\", ", ""), krr_fields, nk,
	      "node 'k' (kernel): missing attr 'kernel'", "kernel: no kernel attr");
	fails(edit(krr_json, "\"rbf\"", "\"sigmoid\""), krr_fields, nk,
	      "node 'k' (kernel): attr 'kernel' must be \"linear\", \"rbf\" or \"poly\"", "kernel: an unknown function");
	fails(edit(krr_json, ", \"gamma\": 0.5", ""), krr_fields, nk,
	      "node 'k' (kernel): missing attr 'gamma' (the rbf kernel needs it)", "kernel rbf: no gamma");
	fails(edit(krr_json, "\"gamma\": 0.5", "\"gamma\": 0"), krr_fields, nk,
	      "node 'k' (kernel): attr 'gamma' must be a positive number", "kernel: gamma 0");
	fails(edit(krr_json, "\"gamma\": 0.5", "\"gamma\": \"0.5\""), krr_fields, nk,
	      "node 'k' (kernel): attr 'gamma' must be a positive number", "kernel: gamma a string");
	fails(edit(krr_poly, "\"gamma\": 0.5", "\"gamma\": 0.5, \"degree\": 0"), krr_fields, nk, "node 'k' (kernel): attr 'degree' must be an integer from 1", "kernel poly: degree 0");
	fails(edit(krr_poly, "\"gamma\": 0.5", "\"gamma\": 0.5, \"degree\": 2.5"), krr_fields, nk, "node 'k' (kernel): attr 'degree' must be an integer", "kernel poly: degree 2.5");
	fails(edit(krr_json, "\"gamma\": 0.5", "\"gamma\": 0.5, \"degree\": 2"), krr_fields, nk,
	      "node 'k' (kernel): attr 'degree' does not apply to the rbf kernel", "kernel rbf: a degree");
	fails(edit(krr_json, "\"kernel\": \"rbf\", \"gamma\": 0.5", "\"kernel\": \"linear\", \"gamma\": 0.5"),
	      krr_fields, nk, "node 'k' (kernel): attr 'gamma' does not apply to the linear kernel", "kernel linear: a gamma");
	fails(edit(krr_json, "\"gamma\": 0.5", "\"gamma\": 0.5, \"scale\": 2"), krr_fields, nk,
	      "node 'k' (kernel): unknown attr 'scale'", "kernel: an unknown attr");
	free(krr_poly);
}

/* Collects what a writer writes. */
struct membuf {
	char data[4096];
	size_t len;
};

static int mem_write(void *ctx, const void *buf, size_t n, struct xf_err *err)
{
	struct membuf *m = ctx;

	if (m->len + n > sizeof(m->data))
		return xf_err_set(err, XF_E_IO, "membuf full");
	memcpy(m->data + m->len, buf, n);
	m->len += n;
	return 0;
}

/*
 * A model segment of graph `text` with zero tensors of the given fields, as a writer writes it
 * into m; the declared version, from the bytes after the header's key "xfer" (a positive fixint);
 * -1 when the write fails.
 */
static int written_version(const char *text, struct xf_field *fields, int n_fields, struct membuf *m)
{
	struct xf_header h = make_header(fields, n_fields);
	struct xf_err err = XF_ERR_INIT;
	struct xf_sink *sink = xf_sink_callback(mem_write, m, "memory", NULL, &err);
	struct xf_writer *w = sink ? xf_writer_new(sink, &err) : NULL;
	int rc = w ? 0 : -1;
	char *at;

	h.graph = load(text);
	m->len = 0;
	rc = rc ? rc : xf_writer_begin(w, &h, &err);
	for (int i = 0; rc == 0 && i < n_fields; i++) {
		struct xf_tensor t = XF_TENSOR_INIT;

		t.dtype = F4, t.ndim = fields[i].ndim;
		t.data = calloc(xf_shape_count(t.ndim, fields[i].shape), sizeof(float));
		memcpy(t.shape, fields[i].shape, sizeof(t.shape));
		xf_tensor_set_contiguous_strides(&t);
		rc = xf_writer_tensor(w, i, &t, &err);
		free(t.data);
	}
	rc = rc ? rc : xf_writer_end(w, &err);
	xf_writer_free(w);
	if (sink && xf_sink_close(sink, &err) < 0)
		rc = -1;
	json_decref(h.graph);
	if (rc < 0) {
		printf("# write: %s\n", err.msg);
		return -1;
	}
	at = memmem(m->data, m->len, "\xa4xfer", 5);
	return at && at + 5 < m->data + m->len ? (unsigned char)at[5] : -1;
}

/* 0 when a reader takes the whole stream in m, else -1 with err. */
static int read_back(const struct membuf *m, struct xf_err *err)
{
	struct xf_reader *r = xf_reader_from_source(xf_source_memory(m->data, m->len, "memory", err), err);
	struct xf_frame f = XF_FRAME_INIT;
	int rc = r ? 1 : -1;

	while (rc > 0) {
		rc = xf_reader_next(r, &f, err);
		xf_frame_release(&f);
	}
	xf_reader_close(r);
	return rc;
}

static void test_versions(void)
{
	struct membuf m;
	struct xf_err err = XF_ERR_INIT;
	json_t *cnn = load(cnn_json), *krr = load(krr_json);
	char *at;

	is_int(xf_graph_format_version(cnn), 1, "a graph of version-1 ops needs format version 1");
	is_int(xf_graph_format_version(krr), 2, "a graph with a kernel node needs format version 2");
	is_int(xf_graph_format_version(NULL), 1, "no graph: version 1");
	json_decref(cnn), json_decref(krr);
	is_int(written_version(misc_json, misc_fields, N_OF(misc_fields), &m), 1,
	       "the writer declares version 1 for a graph without a kernel node");
	ok(read_back(&m, &err) == 0, "... which reads back");
	is_int(written_version(krr_json, krr_fields, N_OF(krr_fields), &m), 2,
	       "the writer declares version 2 for a graph with a kernel node");
	if (!ok(read_back(&m, &err) == 0, "... which reads back"))
		printf("#   %s\n", err.msg);
	at = memmem(m.data, m.len, "\xa4xfer\x02", 6);
	if (at)
		at[5] = 1;
	ok(at && read_back(&m, &err) < 0 && strstr(err.msg, "the graph uses ops of format version 2, the header "
						   "declares version 1"), "a version-1 header with a kernel node is refused");
	printf("#   %s\n", err.msg);
	if (at)
		at[5] = 3;
	ok(at && read_back(&m, &err) < 0 && strstr(err.msg, "format version 3 is newer"), "version 3 is refused");
}

static void test_errors(void)
{
	struct xf_field bad_conv[N_OF(cnn_fields)], int_fc[N_OF(cnn_fields)], extra[N_OF(cnn_fields) + 1];
	struct xf_field small_pool[] = { { "w", F4, 2, { 2, 4 } } };
	struct xf_header samples = make_header(cnn_fields, N_OF(cnn_fields));
	struct xf_err err = XF_ERR_INIT;
	struct xf_graph *g;
	json_t *j;
	int nc = N_OF(cnn_fields), nm = N_OF(mlp_fields);

	memcpy(bad_conv, cnn_fields, sizeof(cnn_fields));
	bad_conv[0].shape[0] = 8, bad_conv[1].shape[0] = 8;
	fails(edit(cnn_json, "[3, 32, 28]", "[1, 32, 28]"), cnn_fields, nc,
	      "graph: node 'conv1' (conv2d): weight 'conv1.weight' has shape [16, 3, 3, 3], input has 1 channel",
	      "wrong weight shape (conv channels)");
	fails(cnn_json, bad_conv, nc, "graph: node 'bn1' (batchnorm): weight 'bn1.weight' has shape [16], expected [8]",
	      "wrong weight shape (batchnorm after a narrower conv)");
	fails(mlp_json, (struct xf_field[]){
		      { "fc1.weight", F4, 2, { 128, 32 } }, { "fc1.bias", F4, 1, { 128 } },
		      { "fc2.weight", F4, 2, { 64, 128 } }, { "ln.weight", F4, 1, { 64 } }, { "ln.bias", F4, 1, { 64 } },
		      { "head.weight", F4, 2, { 5, 64 } } }, nm,
	      "node 'fc1' (linear): weight 'fc1.weight' has shape [128, 32], input has 64 features",
	      "wrong weight shape (linear)");
	fails(edit(cnn_json, ", \"bias\": \"fc.bias\"", ""), cnn_fields, nc,
	      "graph: tensor 'fc.bias' is declared but not used by any node", "unused tensor");
	fails(edit(cnn_json, "\"weights\": {\"weight\": \"conv2.weight\"}", "\"weights\": {}"), cnn_fields, nc,
	      "node 'conv2' (conv2d): missing weight 'weight'", "missing weight");
	fails(edit(cnn_json, "\"running_mean\": \"bn1.running_mean\",", ""), cnn_fields, nc,
	      "node 'bn1' (batchnorm): missing weight 'running_mean'", "missing batchnorm statistic");
	fails(edit(cnn_json, "\"op\": \"relu\"", "\"op\": \"leaky_relu\""), cnn_fields, nc,
	      "graph: node 'relu1' (leaky_relu): unknown op 'leaky_relu'", "unknown op");
	fails(edit(cnn_json, "\"padding\": [1, 1]", "\"pading\": [1, 1]"), cnn_fields, nc,
	      "node 'conv1' (conv2d): unknown attr 'pading'", "unknown attr");
	fails(edit(mlp_json, "\"approximate\": \"tanh\"", "\"approximate\": true"), mlp_fields, nm,
	      "node 'act' (gelu): attr 'approximate' must be", "ill-typed attr");
	fails(edit(cnn_json, "\"inputs\": [\"bn1\"]", "\"inputs\": [\"pool1\"]"), cnn_fields, nc,
	      "node 'relu1' (relu): input 'pool1' is a later node", "input not earlier");
	fails(edit(cnn_json, "\"inputs\": [\"bn1\"]", "\"inputs\": [\"relu1\"]"), cnn_fields, nc,
	      "node 'relu1' (relu): input 'relu1' is the node itself", "input is the node itself");
	fails(edit(cnn_json, "\"inputs\": [\"bn1\"]", "\"inputs\": [\"bn2\"]"), cnn_fields, nc,
	      "node 'relu1' (relu): input 'bn2' is not a graph input or node", "input unknown");
	fails(edit(cnn_json, "\"name\": \"relu2\"", "\"name\": \"relu1\""), cnn_fields, nc,
	      "node 'relu1' (relu): duplicate name 'relu1' (also nodes[2])", "duplicate node name");
	fails(edit(cnn_json, "\"name\": \"prob\"", "\"name\": \"image\""), cnn_fields, nc,
	      "node 'image' (softmax): duplicate name 'image' (also a graph input)", "node named like an input");
	fails(edit(misc_json, "[2, 8, 8]", "[2, 8, 9]"), misc_fields, 1,
	      "node 'cat' (concat): input 'b' has shape [2, 8, 9], input 'a' has shape [4, 8, 8]", "concat mismatch");
	fails(edit(mlp_json, "[\"x\", \"fc2\"]", "[\"x\", \"fc1\"]"), mlp_fields, nm,
	      "node 'res' (add): input 'fc1' has shape [128], input 'x' has shape [64]", "add mismatch");
	fails(edit(misc_json, "\"kernel\": [3, 3], \"stride\": [2, 2], \"padding\": [1, 1]", "\"kernel\": [9, 9]"),
	      misc_fields, 1, "node 'avg' (avgpool2d): kernel [9, 9] does not fit in input [6, 8, 8]",
	      "pool bigger than input");
	fails("{\"inputs\": {\"x\": {\"shape\": [1, 4, 4]}}, \"nodes\": ["
	      "{\"name\": \"c\", \"op\": \"conv2d\", \"inputs\": [\"x\"], \"weights\": {\"weight\": \"w\"}}],"
	      "\"outputs\": [\"c\"]}", (struct xf_field[]){ { "w", F4, 4, { 2, 1, 5, 5 } } }, 1,
	      "node 'c' (conv2d): kernel [5, 5] does not fit in input [1, 4, 4]", "conv kernel bigger than input");
	memcpy(int_fc, cnn_fields, sizeof(cnn_fields));
	int_fc[7].dtype = XF_DTYPE_I32;
	fails(cnn_json, int_fc, nc, "node 'fc' (linear): weight 'fc.weight' has dtype <i4, weights must be float",
	      "non-float weight");
	fails(edit(cnn_json, "\"fc.bias\"}", "\"fc.bogus\"}"), cnn_fields, nc,
	      "node 'fc' (linear): bias 'fc.bogus' is not a declared tensor", "weight names no declared tensor");
	fails(edit(cnn_json, "\"bias\": \"fc.bias\"", "\"gamma\": \"fc.bias\""), cnn_fields, nc,
	      "node 'fc' (linear): unknown weight role 'gamma'", "unknown weight role");
	fails(edit(cnn_json, "\"op\": \"relu\", \"inputs\": [\"bn1\"]",
		   "\"op\": \"relu\", \"inputs\": [\"bn1\"], \"weights\": {\"weight\": \"fc.bias\"}"), cnn_fields, nc,
	      "node 'relu1' (relu): takes no weights, got 'weight'", "weights on a weightless op");
	fails(edit(cnn_json, "\"inputs\": [\"fc\"]", "\"inputs\": [\"fc\", \"gap\"]"), cnn_fields, nc,
	      "node 'prob' (softmax): takes 1 input, got 2", "arity");
	fails(edit(mlp_json, "[\"x\", \"fc2\"]", "[\"fc2\"]"), mlp_fields, nm,
	      "node 'res' (add): takes at least 2 inputs, got 1", "add needs two inputs");
	fails(edit(cnn_json, "\"kernel\": [2, 2]", "\"kernel\": [2, 2], \"ceil_mode\": true"), cnn_fields, nc,
	      "node 'pool1' (maxpool2d): attr 'ceil_mode' must be false", "ceil_mode true refused");
	fails(edit(cnn_json, "\"kernel\": [2, 2]", "\"stride\": [2, 2]"), cnn_fields, nc,
	      "node 'pool1' (maxpool2d): missing attr 'kernel'", "pool without kernel");
	fails(edit(cnn_json, "\"kernel\": [2, 2]", "\"kernel\": [2, 2], \"padding\": [2, 0]"), cnn_fields, nc,
	      "node 'pool1' (maxpool2d): padding [2, 0] is more than half of kernel [2, 2]", "pool padding");
	fails(edit(mlp_json, "\"axis\": -1", "\"axis\": 1"), mlp_fields, nm,
	      "node 'out' (softmax): axis 1 is out of range", "axis out of range");
	fails(edit(cnn_json, "\"groups\": 2", "\"groups\": 3"), cnn_fields, nc,
	      "node 'conv2' (conv2d): groups 3 does not divide", "groups");
	fails(edit(cnn_json, "\"inputs\": [\"relu2\"]", "\"inputs\": [\"fc\"]"), cnn_fields, nc,
	      "node 'gap' (global_avgpool): input 'fc' is a later node", "later node");
	fails(edit(mlp_json, "\"inputs\": [\"ln\"], \"weights\"", "\"inputs\": [\"ln\"], \"wieghts\""), mlp_fields, nm,
	      "node 'head' (linear): unknown key 'wieghts'", "unknown node key");
	fails(edit(cnn_json, "\"outputs\": [\"prob\"]", "\"outputs\": [\"image\"]"), cnn_fields, nc,
	      "graph: output 'image' is not a node", "output names an input");
	fails(edit(cnn_json, "\"outputs\": [\"prob\"]", "\"outputs\": [\"prob\"], \"version\": 2"), cnn_fields, nc,
	      "graph: unknown key 'version'", "unknown top-level key");
	fails(edit(cnn_json, "\"dtype\": \"<f4\"", "\"dtype\": \"|u1\""), cnn_fields, nc,
	      "graph: input 'image': 'dtype' must be a float dtype", "integer graph input");
	fails("{\"inputs\": {\"x\": {\"shape\": [4]}}, \"nodes\": [{\"name\": \"p\", \"op\": \"maxpool2d\","
	      "\"inputs\": [\"x\"], \"attrs\": {\"kernel\": [2, 2]}}], \"outputs\": [\"p\"]}", small_pool, 0,
	      "node 'p' (maxpool2d): needs an input of shape [C, H, W], input 'x' has shape [4]", "pool on 1-D input");
	memcpy(extra, cnn_fields, sizeof(cnn_fields));
	extra[nc] = (struct xf_field){ "spare", F4, 1, { 3 } };
	fails(cnn_json, extra, nc + 1, "graph: tensor 'spare' is declared but not used", "extra declared tensor");

	samples.kind = XF_KIND_SAMPLES;
	j = load(cnn_json);
	ok(xf_graph_check(j, &samples, &err) < 0 && strstr(err.msg, "needs kind 'model'"), "samples header refused");
	ok(xf_graph_parse(NULL, &samples, &g, &err) < 0 && g == NULL, "no graph refused");
	json_decref(j);
}

static void test_names(void)
{
	enum xf_op op;

	for (int i = 0; i < XF_OP_COUNT; i++)
		ok(xf_op_parse(xf_op_name((enum xf_op)i), &op) == 0 && (int)op == i, "op %s round-trips",
		   xf_op_name((enum xf_op)i));
	for (int i = 0; i < XF_ROLE_COUNT; i++)
		ok(strcmp(xf_role_name((enum xf_role)i), "?") != 0, "role %d has a name", i);
	xf_graph_free(NULL);
}

int main(void)
{
	test_names();
	test_cnn();
	test_mlp();
	test_misc();
	test_errors();
	test_kernel();
	test_kernel_errors();
	test_versions();
	return done_testing();
}
