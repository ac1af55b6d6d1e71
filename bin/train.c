/*
 * xfer-train: fit a model on a samples stream and write it as a model stream that xfer-embed
 * runs. Linear heads for now: softmax regression (L-BFGS) and ridge regression on one-hot
 * targets (closed form). See xfer-train(1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "head_model.h"
#include "linalg.h"
#include "prog.h"
#include "samples.h"
#include "train_linear.h"

static const char synopsis[] =
	"usage: xfer-train [--model softmax|ridge] [--l2 L] [--field NAME] [--labels NAME]\n"
	"                  [--class-weight none|balanced] [--max-iter N] [--tol T] [--valid FILE]\n"
	"                  [-o FILE] [-j N] [FILE]\n";

static const char help_tail[] =
	"\n"
	"Fit a classifier on the feature field's rows (uint8 fields scaled by 1/255, as xfer-embed\n"
	"does) and their labels, and write it as a model stream: a linear node \"fc\" whose output\n"
	"is the logits (xfer-embed -m MODEL --probs gives the probabilities).\n"
	"\n"
	"Options:\n"
	"      --model M         softmax (default): multinomial logistic regression with an L2\n"
	"                        penalty, by L-BFGS; ridge: least squares on one-hot targets with an\n"
	"                        L2 penalty, in closed form (the N x N or D x D system, the smaller)\n"
	"      --l2 L            the penalty: softmax, (L/2)||W||^2 added to the mean cross-entropy\n"
	"                        (default 1/N: scikit-learn's LogisticRegression with C = 1; in\n"
	"                        general C = 1/(L N)); ridge, L ||W||^2 with the bias (default\n"
	"                        1e-6 times the trace of the Gram matrix of [x 1], as KRR-ST)\n"
	"      --field NAME      the features (default x), any numeric dtype and shape\n"
	"      --labels NAME     the labels (default y): integers 0 to C-1\n"
	"      --class-weight W  none (default) or balanced: each class's rows weighted by\n"
	"                        N / (C count), as scikit-learn's class_weight='balanced' (softmax)\n"
	"      --max-iter N      L-BFGS iterations at most (default 1000)\n"
	"      --tol T           stop when no gradient entry exceeds T (default 1e-5)\n"
	"      --valid FILE      also report the accuracy on this labelled stream\n"
	"  -o, --output FILE     write FILE (through a temporary, renamed on success)\n"
	"  -j, --threads N       threads for BLAS (default: all cores)\n"
	"  -q, -v                no summary line; the objective every iteration;  -h, -V\n"
	"\n"
	"Examples:\n"
	"  xfer-train train.xs -o head.xs && xfer-embed -m head.xs --probs test.xs -o pred.xs\n"
	"  xfer-train --model ridge --field x.fc1 features.xs -o ridge.xs\n"
	"  xfer-train --l2 1e-3 --class-weight balanced --valid valid.xs -v feats.xs -o head.xs\n";

enum { OPT_MODEL = PROG_OPT_FIRST_FREE, OPT_L2, OPT_FIELD, OPT_LABELS, OPT_CLASS_WEIGHT, OPT_MAX_ITER, OPT_TOL,
       OPT_VALID };

enum head_kind { HEAD_SOFTMAX, HEAD_RIDGE };

struct train_opts {
	struct prog_common common;
	enum head_kind kind;
	double l2;                /* < 0: the default */
	const char *field, *labels, *valid, *input;
	bool balanced;
	struct xf_lbfgs_opts lbfgs;
};

/* Labelled features of one stream: x as doubles (uint8 scaled), y, and the field's shape. */
struct labelled {
	struct xf_samples s;
	double *x;
	int64_t *y;
	int64_t n, d;
	int ndim;
	int64_t shape[XF_MAX_DIMS];
};

static void parse_option(int opt, const char *arg, struct train_opts *o)
{
	switch (opt) {
	case OPT_MODEL:
		if (strcmp(arg, "softmax") && strcmp(arg, "ridge"))
			usage_error("--model: softmax or ridge");
		o->kind = strcmp(arg, "softmax") ? HEAD_RIDGE : HEAD_SOFTMAX;
		break;
	case OPT_L2:
		o->l2 = prog_parse_double("--l2", arg);
		if (!(o->l2 >= 0) || !isfinite(o->l2))
			usage_error("--l2: '%s' is not a finite number >= 0", arg);
		break;
	case OPT_FIELD: o->field = arg; break;
	case OPT_LABELS: o->labels = arg; break;
	case OPT_CLASS_WEIGHT:
		if (strcmp(arg, "none") && strcmp(arg, "balanced"))
			usage_error("--class-weight: none or balanced");
		o->balanced = !strcmp(arg, "balanced");
		break;
	case OPT_MAX_ITER: o->lbfgs.max_iter = (int)prog_parse_int("--max-iter", arg, 0, 1 << 24); break;
	case OPT_TOL:
		o->lbfgs.gtol = prog_parse_double("--tol", arg);
		if (!(o->lbfgs.gtol >= 0))
			usage_error("--tol: must be >= 0");
		break;
	case OPT_VALID: o->valid = arg; break;
	}
}

static void parse_options(int argc, char **argv, struct train_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "model", required_argument, NULL, OPT_MODEL }, { "l2", required_argument, NULL, OPT_L2 },
		{ "field", required_argument, NULL, OPT_FIELD }, { "labels", required_argument, NULL, OPT_LABELS },
		{ "class-weight", required_argument, NULL, OPT_CLASS_WEIGHT },
		{ "max-iter", required_argument, NULL, OPT_MAX_ITER }, { "tol", required_argument, NULL, OPT_TOL },
		{ "valid", required_argument, NULL, OPT_VALID }, { NULL, 0, NULL, 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, PROG_COMMON_SHORT, longopts, NULL)) != -1)
		if (!prog_common_option(opt, optarg, &o->common))
			parse_option(opt, optarg, o);
	if (optind < argc - 1)
		usage_error("one input at a time (got %d)", argc - optind);
	if (o->balanced && o->kind == HEAD_RIDGE)
		usage_error("--class-weight goes with --model softmax");
	o->input = optind < argc ? argv[optind] : "-";
}

/* Read path's features and labels; classes > 0 bounds the labels (validation data). */
static void read_labelled(const struct train_opts *o, const char *path, struct labelled *l)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_reader *r = prog_open_reader(path);
	const char *field = o->field ? o->field : "x", *labels = o->labels ? o->labels : "y";
	int f;

	*l = (struct labelled){ XF_SAMPLES_INIT, NULL, NULL, 0, 0, 0, { 0 } };
	if (xf_samples_read(r, &l->s, &err) < 0 || xf_samples_f64(&l->s, field, &l->x, &l->d, &err) < 0 ||
	    xf_samples_labels(&l->s, labels, &l->y, &err) < 0)
		die("%s: %s", path, err.msg);
	xf_reader_close(r);
	f = xf_header_find(&l->s.h, field);
	l->n = l->s.n, l->ndim = l->s.h.fields[f].ndim;
	memcpy(l->shape, l->s.h.fields[f].shape, sizeof(l->shape));
	if (l->ndim == 0)
		l->ndim = 1, l->shape[0] = 1;
	for (int64_t i = 0; i < l->n * l->d; i++) {
		if (l->s.h.fields[f].dtype == XF_DTYPE_U8)
			l->x[i] /= 255;
		if (!isfinite(l->x[i]))
			die("%s: field '%s': row %lld holds NaN or infinity", path, field, (long long)(i / l->d));
	}
}

/* The number of classes: labels must be 0..C-1 with at least two present. */
static int count_classes(const struct labelled *l, const char *path, const char *labels)
{
	int64_t top = -1, first = l->n ? l->y[0] : 0;
	bool two = false;

	if (l->n == 0)
		die("%s: no rows", path);
	for (int64_t i = 0; i < l->n; i++) {
		if (l->y[i] < 0 || l->y[i] >= (1 << 20))
			die("%s: label %lld of row %lld is out of range (0 to 2^20-1)", path, (long long)l->y[i], (long long)i);
		top = l->y[i] > top ? l->y[i] : top;
		two |= l->y[i] != first;
	}
	if (!two)
		die("%s: every row has label %lld; a classifier needs two classes or more (field '%s')", path,
		    (long long)first, labels ? labels : "y");
	return (int)top + 1;
}

static double *balanced_weights(const struct labelled *l, int c)
{
	double *w = calloc((size_t)c, sizeof(double));

	if (!w)
		die("out of memory");
	for (int64_t i = 0; i < l->n; i++)
		w[l->y[i]] += 1;
	for (int k = 0; k < c; k++)
		w[k] = w[k] > 0 ? (double)l->n / (c * w[k]) : 0;
	return w;
}

static void show_iteration(void *ctx, int iter, double f, double gmax)
{
	prog_progress_update(ctx, iter);
	note(2, "iteration %d: objective %.8f, largest gradient entry %.3g", iter, f, gmax);
}

/* Fit the head; returns a JSON record of how. */
static json_t *fit(struct train_opts *o, const struct labelled *l, int c, double *w, double *b)
{
	struct xf_err err = XF_ERR_INIT;

	if (o->kind == HEAD_RIDGE) {
		double used;

		if (xf_ridge_fit(l->x, l->y, l->n, l->d, c, o->l2, w, b, &used, &err) < 0)
			die("%s: %s", o->input, err.msg);
		return json_pack("{s:s, s:f}", "model", "ridge", "l2", used);
	}
	struct xf_softmax_opts so = { o->l2 < 0 ? 1.0 / (double)l->n : o->l2, prog_threads(&o->common),
				      o->balanced ? balanced_weights(l, c) : NULL, o->lbfgs };
	struct xf_lbfgs_result res;
	float *xf = malloc((size_t)(l->n * l->d) * sizeof(float) + 1);

	if (!xf)
		die("out of memory");
	for (int64_t i = 0; i < l->n * l->d; i++)
		xf[i] = (float)l->x[i];

	so.lbfgs.report = show_iteration;
	so.lbfgs.report_ctx = prog_progress_start(&o->common, "L-BFGS iterations", o->lbfgs.max_iter);
	if (xf_softmax_fit(xf, l->y, l->n, l->d, c, &so, w, b, &res, &err) < 0)
		die("%s: %s", o->input, err.msg);
	free(xf);
	prog_progress_done(so.lbfgs.report_ctx);
	note(2, "%d iterations, %d evaluations: %s", res.iterations, res.evaluations, xf_lbfgs_stop_name(res.stop));
	free((void *)so.class_weight);
	return json_pack("{s:s, s:f, s:s, s:i, s:f, s:s}", "model", "softmax", "l2", so.l2, "class_weight",
			 o->balanced ? "balanced" : "none", "iterations", res.iterations, "objective", res.f, "stop",
			 xf_lbfgs_stop_name(res.stop));
}

static void add_accuracy(json_t *record, const char *key, double acc, const char *what)
{
	json_object_set_new(record, key, json_real(acc));
	note(1, "%s accuracy %.4f", what, acc);
}

/* This run in meta.history (inherited from the training data's, so the model says where it came from). */
static void add_history(json_t *meta)
{
	struct xf_header h = XF_HEADER_INIT;

	h.meta = meta;
	prog_add_history(&h);
}

static void run(struct train_opts *o, struct prog_output *out)
{
	struct labelled tr, va;
	struct xf_err err = XF_ERR_INIT;
	int c;
	double *w, *b;
	json_t *record, *meta;

	read_labelled(o, o->input, &tr);
	c = count_classes(&tr, o->input, o->labels);
	if (!(w = calloc((size_t)(c * tr.d) + 1, sizeof(double))) || !(b = calloc((size_t)c, sizeof(double))))
		die("out of memory");
	record = fit(o, &tr, c, w, b);
	add_accuracy(record, "train_accuracy", xf_head_accuracy(tr.x, tr.y, tr.n, tr.d, c, w, b), "train");
	if (o->valid) {
		read_labelled(o, o->valid, &va);
		if (va.d != tr.d)
			die("%s: %lld features per row; the training data has %lld", o->valid, (long long)va.d, (long long)tr.d);
		for (int64_t i = 0; i < va.n; i++)
			if (va.y[i] < 0 || va.y[i] >= c)
				die("%s: label %lld of row %lld is not a class of the training data (0 to %d)", o->valid,
				    (long long)va.y[i], (long long)i, c - 1);
		add_accuracy(record, "valid_accuracy", xf_head_accuracy(va.x, va.y, va.n, va.d, c, w, b), "valid");
		free(va.x), free(va.y), xf_samples_release(&va.s);
	}
	meta = json_object();
	if (json_object_get(tr.s.h.meta, "history"))
		json_object_set_new(meta, "history", json_deep_copy(json_object_get(tr.s.h.meta, "history")));
	if (json_object_get(tr.s.h.meta, "classes"))
		json_object_set(meta, "classes", json_object_get(tr.s.h.meta, "classes"));
	json_object_set_new(meta, "train", record);
	add_history(meta);
	if (xf_head_model_write(prog_output_writer(out), tr.ndim, tr.shape, w, b, tr.d, c, meta, &err) < 0)
		die_err(&err);
	json_decref(meta);
	free(w), free(b), free(tr.x), free(tr.y);
	xf_samples_release(&tr.s);
}

int main(int argc, char **argv)
{
	static char help[sizeof(synopsis) + sizeof(help_tail)];
	struct train_opts o = { PROG_COMMON_INIT, HEAD_SOFTMAX, -1, NULL, NULL, NULL, NULL, false, XF_LBFGS_OPTS_INIT };
	struct prog_output *out;

	snprintf(help, sizeof(help), "%s%s", synopsis, help_tail);
	prog_init("xfer-train", synopsis, help);
	prog_set_args(argc, argv);
	parse_options(argc, argv, &o);
	xf_linalg_set_threads(prog_threads(&o.common));
	out = prog_open_output(&o.common, true);
	run(&o, out);
	prog_close_output(out);
	return 0;
}
