/*
 * xfer-train: fit a model on a samples stream and write it as a model stream that xfer-embed
 * runs: linear heads (softmax regression by L-BFGS, closed-form ridge), kernel ridge regression,
 * MLPs, networks from an architecture file, or further training of a model (--init). See
 * xfer-train(1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "finetune.h"
#include "linalg.h"
#include "mlp.h"
#include "prog.h"
#include "train_data.h"
#include "train_kernel.h"
#include "train_linear.h"

static const char synopsis[] =
	"usage: xfer-train [--model softmax|ridge|krr|mlp|ARCH.json] [--init MODEL] [--field NAME]\n"
	"                  [--labels NAME] [--valid FILE | --valid-split F] [--class-weight none|balanced]\n"
	"                  [--classes C] [--l2 L] [--max-iter N] [--tol T]\n"
	"                  [--kernel linear|rbf|poly] [--gamma G] [--degree D] [--coef0 C]\n"
	"                  [--hidden N,...] [--activation relu|gelu] [--dropout P]\n"
	"                  [--epochs N] [--batch N] [--optimizer sgd|adamw] [--lr R] [--momentum M]\n"
	"                  [--nesterov] [--weight-decay W] [--warmup E] [--schedule cosine|constant]\n"
	"                  [--label-smoothing S] [--patience N] [--teacher FIELD[:W]]... [--temperature T]\n"
	"                  [--alpha A] [--sam RHO] [--new-head] [--freeze NODE] [--layer-decay D]\n"
	"                  [--reinit N] [--seed S] [-o FILE] [-j N] [FILE]\n";

static const char help_tail[] =
	"\n"
	"Fit a classifier on the feature field's rows (uint8 scaled by 1/255, as xfer-embed does)\n"
	"and their labels 0..C-1, and write it as a model stream whose first output is the logits\n"
	"(xfer-embed -m MODEL --probs gives the probabilities).\n"
	"\n"
	"Models:\n"
	"      --model softmax   multinomial logistic regression with an L2 penalty, by L-BFGS (default)\n"
	"      --model ridge     least squares on one-hot targets, closed form (N x N or D x D system)\n"
	"      --model krr       kernel ridge regression on one-hot targets, no intercept, as scikit-learn's\n"
	"                        KernelRidge (N x N system in double: N at most 16384, 8 N^2 bytes)\n"
	"      --model mlp       a multilayer perceptron (--hidden, --activation, --dropout)\n"
	"      --model ARCH.json a network from an architecture file: {\"graph\": ..., \"tensors\":\n"
	"                        {NAME: SHAPE}} (the model graph of the stream format), initialised\n"
	"                        as PyTorch initialises the same modules\n"
	"      --init MODEL      train this model further (e.g. from pipelines/torch-export.py)\n"
	"Linear heads:\n"
	"      --l2 L            softmax: (L/2)||W||^2 added to the mean cross-entropy (default 1/N,\n"
	"                        scikit-learn's C = 1; C = 1/(L N)); ridge: L ||W||^2 with the bias\n"
	"                        (default 1e-6 times the trace of the Gram matrix of [x 1], KRR-ST's);\n"
	"                        krr: alpha in (K + alpha I) A = Y (default 1, scikit-learn's)\n"
	"      --max-iter N      L-BFGS iterations at most (default 1000)\n"
	"      --tol T           stop when no gradient entry exceeds T (default 1e-5)\n"
	"Kernel ridge (--model krr):\n"
	"      --kernel K        rbf: exp(-G ||x - c||^2) (default); poly: (G x.c + C)^D; linear: x.c\n"
	"      --gamma G         rbf, poly: G > 0 (default 1/D for D features, scikit-learn's)\n"
	"      --degree D        poly: the exponent, D >= 1 (default 3)\n"
	"      --coef0 C         poly: the offset (default 1)\n"
	"Networks (mini-batch training; PyTorch's update rules):\n"
	"      --hidden N,...    hidden layer widths of the MLP (default 256)\n"
	"      --activation A    relu (default) or gelu\n"
	"      --dropout P       dropout after every activation while training (default 0)\n"
	"      --epochs N        passes over the data (default 10)\n"
	"      --batch N         rows per step (default 64)\n"
	"      --optimizer O     adamw (default) or sgd (with momentum)\n"
	"      --lr R            learning rate (default 1e-3 for adamw, 0.05 for sgd)\n"
	"      --momentum M      sgd momentum (default 0.9); --nesterov for Nesterov's form\n"
	"      --weight-decay W  on linear and conv weights (default 0.01 for adamw, 0 for sgd)\n"
	"      --warmup E        linear warm-up over the first E epochs (default 0)\n"
	"      --schedule S      cosine (default: annealed to 0 at the end) or constant\n"
	"      --label-smoothing S  cross-entropy against (1-S) one-hot + S uniform (default 0)\n"
	"      --patience N      stop after N epochs without a better validation accuracy and keep\n"
	"                        the best epoch's weights (default 0: all epochs, best kept)\n"
	"      --teacher F[:W]   distil from probability field F of the input (repeatable; weights W,\n"
	"                        default 1, normalised): their weighted mean is the soft target\n"
	"      --temperature T   distillation temperature (default 4)\n"
	"      --alpha A         weight of the hard labels against the soft targets (default 0.5)\n"
	"      --sam RHO         sharpness-aware minimisation: each step's gradient is taken again\n"
	"                        at the weights moved up the gradient by RHO (e.g. 0.05)\n"
	"      --seed S          initialisation, shuffling, dropout, validation split (default 0)\n"
	"Fine-tuning (with --init):\n"
	"      --new-head        replace the last linear layer by a fresh one for this data's classes\n"
	"      --freeze NODE     train nothing up to and including this node\n"
	"      --layer-decay D   learning rate times D^k for the layer k below the head (e.g. 0.8)\n"
	"      --reinit N        initialise the top N layers afresh before training\n"
	"Common:\n"
	"      --field NAME      the features (default x); --labels NAME: the labels (default y)\n"
	"      --valid FILE      labelled validation rows, reported (and used by --patience)\n"
	"      --valid-split F   hold out a random fraction F of the rows for validation instead\n"
	"      --class-weight W  none (default) or balanced: rows weighted by N / (C n_class)\n"
	"      --classes C       outputs for classes 0..C-1 even if some never occur (default: the\n"
	"                        largest label + 1), e.g. heads on other label subsets to merge\n"
	"  -o, --output FILE     write FILE (through a temporary, renamed on success)\n"
	"  -j, --threads N       threads (default: all cores)\n"
	"  -q, -v                no summary or training log; more detail;  -h, -V\n"
	"\n"
	"Examples:\n"
	"  xfer-train train.xs -o head.xs && xfer-embed -m head.xs --probs test.xs -o pred.xs\n"
	"  xfer-train --model ridge --field x.fc1 features.xs -o ridge.xs\n"
	"  xfer-train --model krr --kernel rbf --gamma 0.02 --l2 0.1 digits.xs -o krr.xs\n"
	"  xfer-train --model mlp --hidden 512,256 --epochs 20 --valid-split 0.1 digits.xs -o mlp.xs\n"
	"  xfer-train --model lenet.json --optimizer sgd --lr 0.05 --epochs 5 digits.xs -o lenet.xs\n"
	"  xfer-train --model mlp --teacher probs.a --teacher probs.b:2 feats.xs -o student.xs\n"
	"  xfer-train --init source.xs --new-head --freeze conv2 --lr 3e-4 target.xs -o tuned.xs\n";

enum { OPT_MODEL = PROG_OPT_FIRST_FREE, OPT_INIT, OPT_FIELD, OPT_LABELS, OPT_VALID, OPT_VALID_SPLIT, OPT_CLASS_WEIGHT, OPT_CLASSES,
       OPT_L2, OPT_MAX_ITER, OPT_TOL, OPT_HIDDEN, OPT_ACTIVATION, OPT_DROPOUT, OPT_EPOCHS, OPT_BATCH, OPT_OPTIMIZER,
       OPT_LR, OPT_MOMENTUM, OPT_NESTEROV, OPT_WEIGHT_DECAY, OPT_WARMUP, OPT_SCHEDULE, OPT_LABEL_SMOOTHING,
       OPT_PATIENCE, OPT_TEACHER, OPT_TEMPERATURE, OPT_ALPHA, OPT_SEED, OPT_SAM, OPT_NEW_HEAD, OPT_FREEZE,
       OPT_LAYER_DECAY, OPT_REINIT, OPT_KERNEL, OPT_GAMMA, OPT_DEGREE, OPT_COEF0 };

enum model_kind { MODEL_SOFTMAX, MODEL_RIDGE, MODEL_KRR, MODEL_MLP, MODEL_ARCH };

struct train_opts {
	struct prog_common common;
	enum model_kind kind;
	const char *arch, *init, *field, *labels, *valid, *input;
	double valid_split;
	bool balanced;
	int classes;                  /* --classes; 0: 1 + the largest label */
	double l2;                    /* < 0: the default */
	struct xf_lbfgs_opts lbfgs;
	struct xf_krr_opts krr;       /* kernel options; gamma only with --gamma (else 1/D); alpha, threads at the fit */
	bool kernel_set, gamma_set, degree_set, coef0_set;
	int64_t hidden[XF_MLP_MAX_LAYERS];
	int n_hidden;
	bool gelu;
	struct xf_fit_opts fit;       /* lr < 0 and weight decay < 0: the optimiser's default */
	struct xf_teachers teachers;
	bool new_head;
	const char *freeze;
	double layer_decay;           /* 0: off */
	int reinit;
};

static double number(const char *opt, const char *arg, double lo, double hi)
{
	double v = prog_parse_double(opt, arg);

	if (!(v >= lo && v <= hi))
		usage_error("%s: '%s' is not between %g and %g", opt, arg, lo, hi);
	return v;
}

/* "512,256" into o->hidden. */
static void parse_hidden(const char *arg, struct train_opts *o)
{
	char *copy = strdup(arg), *save = NULL;

	if (!copy)
		die("out of memory");
	o->n_hidden = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->n_hidden == XF_MLP_MAX_LAYERS - 1)
			usage_error("--hidden: at most %d layers", XF_MLP_MAX_LAYERS - 1);
		o->hidden[o->n_hidden++] = prog_parse_int("--hidden", tok, 1, 1 << 24);
	}
	free(copy);
}

/* "probs.a:2" into the teachers. */
static void parse_teacher(char *arg, struct train_opts *o)
{
	char *colon = strrchr(arg, ':');

	if (o->teachers.n == XF_MAX_TEACHERS)
		usage_error("--teacher: at most %d", XF_MAX_TEACHERS);
	o->teachers.weights[o->teachers.n] = 1;
	if (colon) {
		*colon = 0;
		o->teachers.weights[o->teachers.n] = number("--teacher weight", colon + 1, 0, 1e300);
	}
	o->teachers.fields[o->teachers.n++] = arg;
}

static int choose(const char *opt, const char *arg, const char *a, const char *b)
{
	if (strcmp(arg, a) && strcmp(arg, b))
		usage_error("%s: %s or %s", opt, a, b);
	return strcmp(arg, a) != 0;
}

static void parse_model(const char *arg, struct train_opts *o)
{
	static const char *const names[] = { [MODEL_SOFTMAX] = "softmax", [MODEL_RIDGE] = "ridge", [MODEL_KRR] = "krr",
					     [MODEL_MLP] = "mlp" };
	size_t n = strlen(arg);

	for (int k = MODEL_SOFTMAX; k <= MODEL_MLP; k++)
		if (!strcmp(arg, names[k])) {
			o->kind = (enum model_kind)k;
			return;
		}
	if (n > 5 && !strcmp(arg + n - 5, ".json"))
		o->kind = MODEL_ARCH, o->arch = arg;
	else
		usage_error("--model: softmax, ridge, krr, mlp or an architecture file ending in .json");
}

/* --kernel, --gamma, --degree, --coef0; which of them apply is checked with the kernel known. */
static void parse_kernel_option(int opt, const char *arg, struct train_opts *o)
{
	struct xf_krr_opts *k = &o->krr;

	switch (opt) {
	case OPT_KERNEL:
		if (xf_kernel_fn_parse(arg, &k->fn) < 0)
			usage_error("--kernel: '%s' is not linear, rbf or poly", arg);
		o->kernel_set = true;
		break;
	case OPT_GAMMA:
		k->gamma = prog_parse_double("--gamma", arg);
		if (!(k->gamma > 0) || !isfinite(k->gamma))
			usage_error("--gamma: '%s' is not a positive number", arg);
		o->gamma_set = true;
		break;
	case OPT_DEGREE:
		k->degree = prog_parse_int("--degree", arg, 1, 1 << 20);
		o->degree_set = true;
		break;
	case OPT_COEF0:
		k->coef0 = number("--coef0", arg, -1e300, 1e300);
		o->coef0_set = true;
		break;
	}
}

static void parse_net_option(int opt, char *arg, struct train_opts *o)
{
	struct xf_fit_opts *f = &o->fit;

	switch (opt) {
	case OPT_HIDDEN: parse_hidden(arg, o); break;
	case OPT_ACTIVATION: o->gelu = choose("--activation", arg, "relu", "gelu"); break;
	case OPT_DROPOUT: f->dropout = number("--dropout", arg, 0, 0.99); break;
	case OPT_EPOCHS: f->epochs = (int)prog_parse_int("--epochs", arg, 1, 1 << 20); break;
	case OPT_BATCH: f->batch = prog_parse_int("--batch", arg, 1, 1 << 20); break;
	case OPT_OPTIMIZER: f->optim.kind = choose("--optimizer", arg, "sgd", "adamw") ? XF_OPTIM_ADAMW : XF_OPTIM_SGD; break;
	case OPT_LR: f->lr = number("--lr", arg, 1e-12, 1e6); break;
	case OPT_MOMENTUM: f->optim.momentum = number("--momentum", arg, 0, 0.9999); break;
	case OPT_NESTEROV: f->optim.nesterov = true; break;
	case OPT_WEIGHT_DECAY: f->optim.weight_decay = number("--weight-decay", arg, 0, 1e3); break;
	case OPT_WARMUP: f->warmup = number("--warmup", arg, 0, 1e6); break;
	case OPT_SCHEDULE: f->cosine = !choose("--schedule", arg, "cosine", "constant"); break;
	case OPT_LABEL_SMOOTHING: f->loss.smoothing = number("--label-smoothing", arg, 0, 0.99); break;
	case OPT_PATIENCE: f->patience = (int)prog_parse_int("--patience", arg, 0, 1 << 20); break;
	case OPT_TEACHER: parse_teacher(arg, o); break;
	case OPT_TEMPERATURE: f->loss.temperature = number("--temperature", arg, 1e-3, 1e3); break;
	case OPT_ALPHA: f->loss.alpha = number("--alpha", arg, 0, 1); break;
	case OPT_SEED: f->seed = (uint64_t)prog_parse_int("--seed", arg, 0, INT64_MAX); break;
	case OPT_SAM: f->sam_rho = number("--sam", arg, 1e-9, 1e3); break;
	case OPT_NEW_HEAD: o->new_head = true; break;
	case OPT_FREEZE: o->freeze = arg; break;
	case OPT_LAYER_DECAY: o->layer_decay = number("--layer-decay", arg, 1e-6, 1); break;
	case OPT_REINIT: o->reinit = (int)prog_parse_int("--reinit", arg, 1, 1 << 20); break;
	}
}

static void parse_option(int opt, char *arg, struct train_opts *o)
{
	switch (opt) {
	case OPT_MODEL: parse_model(arg, o); break;
	case OPT_INIT: o->init = arg; break;
	case OPT_FIELD: o->field = arg; break;
	case OPT_LABELS: o->labels = arg; break;
	case OPT_VALID: o->valid = arg; break;
	case OPT_VALID_SPLIT: o->valid_split = number("--valid-split", arg, 1e-6, 0.999); break;
	case OPT_CLASS_WEIGHT: o->balanced = choose("--class-weight", arg, "none", "balanced"); break;
	case OPT_CLASSES: o->classes = (int)prog_parse_int("--classes", arg, 2, 1 << 20); break;
	case OPT_L2: o->l2 = number("--l2", arg, 0, 1e300); break;
	case OPT_MAX_ITER: o->lbfgs.max_iter = (int)prog_parse_int("--max-iter", arg, 0, 1 << 24); break;
	case OPT_TOL: o->lbfgs.gtol = number("--tol", arg, 0, 1e300); break;
	case OPT_KERNEL: case OPT_GAMMA: case OPT_DEGREE: case OPT_COEF0: parse_kernel_option(opt, arg, o); break;
	default: parse_net_option(opt, arg, o);
	}
}

/* The kernel options go with --model krr, and each with a kernel that uses it (as the graph's attrs). */
static void check_kernel_options(const struct train_opts *o)
{
	enum xf_kernel_fn fn = o->krr.fn;

	if (o->kind != MODEL_KRR && (o->kernel_set || o->gamma_set || o->degree_set || o->coef0_set))
		usage_error("--kernel, --gamma, --degree and --coef0 are for --model krr");
	if (o->gamma_set && fn == XF_KERNEL_LINEAR)
		usage_error("--gamma does not apply to --kernel linear");
	if ((o->degree_set || o->coef0_set) && fn != XF_KERNEL_POLY)
		usage_error("--degree and --coef0 apply to --kernel poly only");
}

static void check_options(struct train_opts *o)
{
	bool linear = o->kind == MODEL_SOFTMAX || o->kind == MODEL_RIDGE || o->kind == MODEL_KRR;

	if (o->valid && o->valid_split > 0)
		usage_error("--valid and --valid-split: one of them");
	check_kernel_options(o);
	if (o->init && (o->kind == MODEL_RIDGE || o->kind == MODEL_KRR || o->kind == MODEL_ARCH || o->n_hidden))
		usage_error("--init trains the given model; --model and --hidden do not go with it");
	if ((o->new_head || o->freeze || o->layer_decay > 0 || o->reinit) && !o->init)
		usage_error("--new-head, --freeze, --layer-decay and --reinit fine-tune an --init model");
	if (o->init)
		o->kind = MODEL_MLP, linear = false;
	if (linear && (o->teachers.n || o->fit.dropout > 0 || o->n_hidden || o->fit.sam_rho > 0))
		usage_error("--teacher, --dropout, --hidden and --sam are for networks (--model mlp, ARCH.json, --init)");
	if (o->balanced && (o->kind == MODEL_RIDGE || o->kind == MODEL_KRR))
		usage_error("--class-weight does not go with --model %s", o->kind == MODEL_KRR ? "krr" : "ridge");
	if (o->fit.lr < 0)
		o->fit.lr = o->fit.optim.kind == XF_OPTIM_ADAMW ? 1e-3 : 0.05;
	if (o->fit.optim.weight_decay < 0)
		o->fit.optim.weight_decay = o->fit.optim.kind == XF_OPTIM_ADAMW ? 0.01 : 0;
	if (!o->n_hidden)
		o->hidden[0] = 256, o->n_hidden = o->kind == MODEL_MLP && !o->init ? 1 : 0;
}

static void parse_options(int argc, char **argv, struct train_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "model", required_argument, NULL, OPT_MODEL }, { "init", required_argument, NULL, OPT_INIT },
		{ "field", required_argument, NULL, OPT_FIELD }, { "labels", required_argument, NULL, OPT_LABELS },
		{ "valid", required_argument, NULL, OPT_VALID }, { "valid-split", required_argument, NULL, OPT_VALID_SPLIT },
		{ "class-weight", required_argument, NULL, OPT_CLASS_WEIGHT }, { "l2", required_argument, NULL, OPT_L2 },
		{ "classes", required_argument, NULL, OPT_CLASSES },
		{ "max-iter", required_argument, NULL, OPT_MAX_ITER }, { "tol", required_argument, NULL, OPT_TOL },
		{ "hidden", required_argument, NULL, OPT_HIDDEN }, { "activation", required_argument, NULL, OPT_ACTIVATION },
		{ "dropout", required_argument, NULL, OPT_DROPOUT }, { "epochs", required_argument, NULL, OPT_EPOCHS },
		{ "batch", required_argument, NULL, OPT_BATCH }, { "optimizer", required_argument, NULL, OPT_OPTIMIZER },
		{ "lr", required_argument, NULL, OPT_LR }, { "momentum", required_argument, NULL, OPT_MOMENTUM },
		{ "nesterov", no_argument, NULL, OPT_NESTEROV },
		{ "weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY },
		{ "warmup", required_argument, NULL, OPT_WARMUP }, { "schedule", required_argument, NULL, OPT_SCHEDULE },
		{ "label-smoothing", required_argument, NULL, OPT_LABEL_SMOOTHING },
		{ "patience", required_argument, NULL, OPT_PATIENCE }, { "teacher", required_argument, NULL, OPT_TEACHER },
		{ "temperature", required_argument, NULL, OPT_TEMPERATURE }, { "alpha", required_argument, NULL, OPT_ALPHA },
		{ "seed", required_argument, NULL, OPT_SEED }, { "sam", required_argument, NULL, OPT_SAM },
		{ "new-head", no_argument, NULL, OPT_NEW_HEAD }, { "freeze", required_argument, NULL, OPT_FREEZE },
		{ "layer-decay", required_argument, NULL, OPT_LAYER_DECAY }, { "reinit", required_argument, NULL, OPT_REINIT },
		{ "kernel", required_argument, NULL, OPT_KERNEL }, { "gamma", required_argument, NULL, OPT_GAMMA },
		{ "degree", required_argument, NULL, OPT_DEGREE }, { "coef0", required_argument, NULL, OPT_COEF0 },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, PROG_COMMON_SHORT, longopts, NULL)) != -1)
		if (!prog_common_option(opt, optarg, &o->common))
			parse_option(opt, optarg, o);
	o->input = prog_single_input(argc, argv);
	check_options(o);
}

/* ---- data ---- */

static void read_data(const struct train_opts *o, const char *path, struct xf_train_data *d)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_reader *r = prog_open_reader(path);

	if (xf_train_data_read(r, o->field ? o->field : "x", o->labels ? o->labels : "y", &o->teachers, d, &err) < 0)
		die_input(path, &err);
	xf_reader_close(r);
	if (d->set.n == 0)
		die("%s: no rows", path);
}

/* At least two labels present; --classes widens the head to classes no row has. */
static void check_classes(const struct train_opts *o, struct xf_train_data *d)
{
	if (o->classes && d->classes > o->classes)
		die("%s: label %d is not below --classes %d", o->input, d->classes - 1, o->classes);
	if (o->classes && o->teachers.n && d->classes != o->classes)
		die("%s: the teachers give %d classes, --classes says %d", o->input, d->classes, o->classes);
	if (o->classes)
		d->classes = o->classes;
	for (int64_t i = 1; i < d->set.n; i++)
		if (d->y[i] != d->y[0])
			return;
	die("%s: every row has label %lld; a classifier needs two classes or more (field '%s')", o->input,
	    (long long)d->y[0], o->labels ? o->labels : "y");
}

/* The validation rows: --valid (checked against the training data) or --valid-split; NULL without. */
static struct xf_train_data *validation(const struct train_opts *o, struct xf_train_data *tr, struct xf_train_data *va)
{
	struct xf_err err = XF_ERR_INIT;

	if (o->valid_split > 0) {
		if (xf_train_data_split(tr, o->valid_split, o->fit.seed, va, &err) < 0)
			die_input(o->input, &err);
		return va;
	}
	if (!o->valid)
		return NULL;
	read_data(o, o->valid, va);
	if (va->set.count != tr->set.count)
		die("%s: %lld features per row; the training data has %lld", o->valid, (long long)va->set.count,
		    (long long)tr->set.count);
	for (int64_t i = 0; i < va->set.n; i++)
		if (va->y[i] >= tr->classes)
			die("%s: label %lld of row %lld is not a class of the training data (0 to %d)", o->valid,
			    (long long)va->y[i], (long long)i, tr->classes - 1);
	return va;
}

static double *balanced_weights(const struct xf_train_data *d)
{
	double *w = calloc((size_t)d->classes + 1, sizeof(double));

	if (!w)
		die("out of memory");
	for (int64_t i = 0; i < d->set.n; i++)
		w[d->y[i]] += 1;
	for (int k = 0; k < d->classes; k++)
		w[k] = w[k] > 0 ? (double)d->set.n / (d->classes * w[k]) : 0;
	return w;
}

/* ---- linear heads ---- */

static void show_iteration(void *ctx, int iter, double f, double gmax)
{
	prog_progress_update(ctx, iter);
	note(3, "iteration %d: objective %.8f, largest gradient entry %.3g", iter, f, gmax);
}

/* Fit the head into w [c d], b [c]; returns a JSON record of how. */
static json_t *fit_head(struct train_opts *o, const struct xf_train_data *d, const double *class_weight, double *w,
			double *b)
{
	struct xf_err err = XF_ERR_INIT;
	const struct xf_dataset *s = &d->set;

	if (o->kind == MODEL_RIDGE) {
		double used;

		if (xf_ridge_fit(s->x, s->y, s->n, s->count, d->classes, o->l2, w, b, &used, &err) < 0)
			die_input(o->input, &err);
		return json_pack("{s:s, s:f}", "model", "ridge", "l2", used);
	}
	struct xf_softmax_opts so = { o->l2 < 0 ? 1.0 / (double)s->n : o->l2, prog_threads(&o->common), class_weight,
				      o->lbfgs };
	struct xf_lbfgs_result res;

	so.lbfgs.report = show_iteration;
	so.lbfgs.report_ctx = prog_progress_start(&o->common, "L-BFGS iterations", o->lbfgs.max_iter);
	if (xf_softmax_fit(s->x, s->y, s->n, s->count, d->classes, &so, w, b, &res, &err) < 0)
		die_input(o->input, &err);
	prog_progress_done(so.lbfgs.report_ctx);
	note(2, "%d iterations, %d evaluations: %s", res.iterations, res.evaluations, xf_lbfgs_stop_name(res.stop));
	return json_pack("{s:s, s:f, s:s, s:i, s:f, s:s}", "model", "softmax", "l2", so.l2, "class_weight",
			 o->balanced ? "balanced" : "none", "iterations", res.iterations, "objective", res.f, "stop",
			 xf_lbfgs_stop_name(res.stop));
}

static void add_accuracy(json_t *record, const char *key, double acc, const char *what)
{
	json_object_set_new(record, key, json_real(acc));
	note(1, "%s accuracy %.4f", what, acc);
}

/* The head as a model: flatten when needed, then the linear node "fc". */
static json_t *train_head(struct train_opts *o, const struct xf_train_data *tr, const struct xf_train_data *va,
			  const double *class_weight, struct xf_model *m)
{
	struct xf_err err = XF_ERR_INIT;
	int c = tr->classes;
	int64_t d = tr->set.count;
	double *w = calloc((size_t)(c * d) + 1, sizeof(double)), *b = calloc((size_t)c, sizeof(double));
	json_t *record;

	if (!w || !b)
		die("out of memory");
	record = fit_head(o, tr, class_weight, w, b);
	add_accuracy(record, "train_accuracy", xf_head_accuracy(tr->x, tr->y, tr->set.n, d, c, w, b), "train");
	if (va)
		add_accuracy(record, "valid_accuracy", xf_head_accuracy(va->x, va->y, va->set.n, d, c, w, b), "valid");
	if (xf_mlp_build(tr->ndim, tr->shape, NULL, 0, false, c, 0, m, &err) < 0)
		die_err(&err);
	for (int64_t j = 0; j < c * d; j++)
		m->weights[0][j] = (float)w[j];
	for (int k = 0; k < c; k++)
		m->weights[1][k] = (float)b[k];
	free(w), free(b);
	return record;
}

/* ---- kernel ridge regression ---- */

/* The settings of the fit, for the model's record. */
static json_t *krr_record(const struct xf_krr_opts *k)
{
	json_t *r = json_pack("{s:s, s:s, s:f}", "model", "krr", "kernel", xf_kernel_fn_name(k->fn), "l2", k->alpha);

	if (k->fn != XF_KERNEL_LINEAR)
		json_object_set_new(r, "gamma", json_real(k->gamma));
	if (k->fn == XF_KERNEL_POLY) {
		json_object_set_new(r, "degree", json_integer(k->degree));
		json_object_set_new(r, "coef0", json_real(k->coef0));
	}
	return r;
}

/* Fit on every row (the kernel node keeps them all as centers); validation through the model itself. */
static json_t *train_krr(struct train_opts *o, const struct xf_train_data *tr, const struct xf_train_data *va,
			 struct xf_model *m)
{
	struct xf_err err = XF_ERR_INIT;
	const struct xf_dataset *s = &tr->set;
	struct xf_krr_opts k = o->krr;
	double *dual, loss, acc;
	json_t *record;

	k.gamma = k.fn == XF_KERNEL_LINEAR ? 0 : o->gamma_set ? k.gamma : 1.0 / (double)s->count;
	k.alpha = o->l2 < 0 ? 1 : o->l2;
	k.threads = prog_threads(&o->common);
	if (xf_krr_check(s->n, s->count, &err) < 0)
		die_input(o->input, &err);
	if (!(dual = malloc((size_t)(s->n * tr->classes) * sizeof(double) + 1)))
		die("out of memory");
	if (xf_krr_fit(s->x, s->y, s->n, s->count, tr->classes, &k, dual, &err) < 0)
		die_input(o->input, &err);
	record = krr_record(&k);
	add_accuracy(record, "train_accuracy", xf_krr_train_accuracy(s->y, s->n, tr->classes, k.alpha, dual), "train");
	if (xf_krr_build(tr->ndim, tr->shape, s->x, s->n, tr->classes, &k, dual, m, &err) < 0)
		die_err(&err);
	free(dual);
	if (va && xf_evaluate(m, tr->classes, &va->set, 256, k.threads, &loss, &acc, &err) < 0)
		die("%s: %s", o->valid ? o->valid : o->input, err.msg);
	if (va)
		add_accuracy(record, "valid_accuracy", acc, "valid");
	return record;
}

/* ---- networks ---- */

static void load_network(const struct train_opts *o, const struct xf_train_data *tr, struct xf_model *m)
{
	struct xf_err err = XF_ERR_INIT;
	int rc = 0;

	if (o->init) {
		struct xf_reader *r = prog_open_reader(o->init);

		rc = xf_model_read(r, m, &err);
		xf_reader_close(r);
	} else if (o->kind == MODEL_ARCH) {
		rc = xf_arch_load(o->arch, o->fit.seed, m, &err);
	} else {
		rc = xf_mlp_build(tr->ndim, tr->shape, o->hidden, o->n_hidden, o->gelu, tr->classes, o->fit.seed, m, &err);
	}
	if (rc < 0)
		die("%s: %s", o->init ? o->init : o->arch ? o->arch : o->input, err.msg);
}

/* The model fits the data: one input of the rows' size, logits for every class. Returns the classes. */
static int check_network(const struct train_opts *o, const struct xf_model *m, const struct xf_train_data *tr)
{
	const struct xf_graph *g = m->g;
	const char *name = o->init ? o->init : o->arch ? o->arch : "mlp";
	int ndim;
	const int64_t *s = xf_graph_value_shape(g, 0, &ndim);
	const struct xf_graph_node *out = &g->nodes[g->outputs[0]];
	int64_t logits;

	if (g->n_inputs != 1)
		die("%s: the model has %d inputs; xfer-train feeds one", name, g->n_inputs);
	if (xf_shape_count(ndim, s) != tr->set.count)
		die("%s: the model's input '%s' takes %lld values per row, field '%s' has %lld", name, g->inputs[0].name,
		    (long long)xf_shape_count(ndim, s), o->field ? o->field : "x", (long long)tr->set.count);
	s = out->op == XF_OP_SOFTMAX ? xf_graph_value_shape(g, out->inputs[0], &ndim) : out->shape;
	ndim = out->op == XF_OP_SOFTMAX ? ndim : out->ndim;
	logits = xf_shape_count(ndim, s);
	if (logits < tr->classes)
		die("%s: the model has %lld outputs, the labels go up to %d (--new-head replaces its head)", name,
		    (long long)logits, tr->classes - 1);
	return (int)logits;
}

/* --new-head, --reinit, --freeze and --layer-decay on the --init model. */
static void prepare_finetune(const struct train_opts *o, const struct xf_train_data *tr, struct xf_model *m,
			     bool **trainable, double **lr_scale)
{
	struct xf_err err = XF_ERR_INIT;

	*trainable = NULL, *lr_scale = NULL;
	if (o->new_head && xf_finetune_new_head(m, tr->classes, o->fit.seed, &err) < 0)
		die_input(o->init, &err);
	if (o->reinit && xf_finetune_reinit(m, o->reinit, o->fit.seed + 1, &err) < 0)
		die_err(&err);
	if (o->freeze && (!(*trainable = calloc((size_t)m->h.n_fields + 1, sizeof(bool))) ||
			  xf_finetune_freeze(m, o->freeze, *trainable, &err) < 0))
		die_err(&err);
	if (o->layer_decay > 0 && (!(*lr_scale = calloc((size_t)m->h.n_fields + 1, sizeof(double))) ||
				   xf_finetune_layer_decay(m, o->layer_decay, *lr_scale, &err) < 0))
		die_err(&err);
}

/* What the epoch log and the progress bar need. */
struct fit_view {
	int epochs;
	struct prog_progress *bar;
};

static void show_step(void *ctx, int64_t step)
{
	prog_progress_update(((struct fit_view *)ctx)->bar, step);
}

static void show_epoch(void *ctx, const struct xf_epoch_log *l)
{
	const int *epochs = &((struct fit_view *)ctx)->epochs;

	if (isnan(l->valid_accuracy))
		note(1, "epoch %d/%d: loss %.4f, accuracy %.4f, lr %.3g, %.1f s", l->epoch, *epochs, l->loss, l->accuracy,
		     l->lr, l->seconds);
	else
		note(1, "epoch %d/%d: loss %.4f, accuracy %.4f | valid loss %.4f, accuracy %.4f%s | lr %.3g, %.1f s",
		     l->epoch, *epochs, l->loss, l->accuracy, l->valid_loss, l->valid_accuracy, l->best ? " *" : "", l->lr,
		     l->seconds);
}

static json_t *train_network(struct train_opts *o, const struct xf_train_data *tr, const struct xf_train_data *va,
			     const double *class_weight, struct xf_model *m)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_fit_opts f = o->fit;
	struct xf_fit_result res;
	double loss, acc;
	int c;

	bool *trainable;
	double *lr_scale;

	load_network(o, tr, m);
	prepare_finetune(o, tr, m, &trainable, &lr_scale);
	c = check_network(o, m, tr);
	f.threads = f.optim.threads = prog_threads(&o->common), f.loss.class_weight = class_weight;
	f.trainable = trainable, f.lr_scale = lr_scale;
	struct fit_view view = { f.epochs, prog_progress_start(&o->common, "training steps",
							    f.epochs * ((tr->set.n + f.batch - 1) / f.batch)) };

	f.on_epoch = show_epoch, f.on_step = show_step, f.ctx = &view;
	if (xf_fit(m, c, &tr->set, va ? &va->set : NULL, &f, &res, &err) < 0)
		die_input(o->input, &err);
	prog_progress_done(view.bar);
	if (xf_evaluate(m, c, &tr->set, f.batch, f.threads, &loss, &acc, &err) < 0)
		die_input(o->input, &err);
	json_t *record = json_pack("{s:s, s:i, s:i, s:s, s:f, s:f, s:f}", "model", o->init ? "init" : o->arch ? "arch" : "mlp",
				   "epochs", res.epochs, "best_epoch", res.best_epoch, "optimizer",
				   f.optim.kind == XF_OPTIM_ADAMW ? "adamw" : "sgd", "lr", f.lr, "weight_decay",
				   f.optim.weight_decay, "train_loss", loss);
	add_accuracy(record, "train_accuracy", acc, "train");
	if (va)
		add_accuracy(record, "valid_accuracy", res.valid_accuracy, "valid");
	free(trainable), free(lr_scale);
	return record;
}

/* ---- output ---- */

/* meta: the data's class names and history, this run, and the record of the fit (taken over). */
static void set_meta(struct xf_model *m, const struct xf_train_data *tr, json_t *record)
{
	struct xf_header h = XF_HEADER_INIT;
	json_t *meta = json_object();

	if (json_object_get(tr->meta, "history"))
		json_object_set_new(meta, "history", json_deep_copy(json_object_get(tr->meta, "history")));
	if (json_object_get(tr->meta, "classes"))
		json_object_set(meta, "classes", json_object_get(tr->meta, "classes"));
	json_object_set_new(meta, "train", record);
	h.meta = meta;
	prog_add_history(&h);
	json_decref(m->h.meta);
	m->h.meta = meta;
}

static void run(struct train_opts *o, struct prog_output *out)
{
	struct xf_train_data tr, va_data, *va;
	struct xf_model m = XF_MODEL_INIT;
	struct xf_err err = XF_ERR_INIT;
	double *class_weight;
	json_t *record;

	read_data(o, o->input, &tr);
	check_classes(o, &tr);
	va = validation(o, &tr, &va_data);
	class_weight = o->balanced ? balanced_weights(&tr) : NULL;
	if (o->kind == MODEL_SOFTMAX || o->kind == MODEL_RIDGE)
		record = train_head(o, &tr, va, class_weight, &m);
	else if (o->kind == MODEL_KRR)
		record = train_krr(o, &tr, va, &m);
	else
		record = train_network(o, &tr, va, class_weight, &m);
	set_meta(&m, &tr, record);
	if (xf_model_write(prog_output_writer(out), &m, &err) < 0)
		die_err(&err);
	xf_model_release(&m);
	free(class_weight);
	if (va)
		xf_train_data_release(va);
	xf_train_data_release(&tr);
}

int main(int argc, char **argv)
{
	static char help[sizeof(synopsis) + sizeof(help_tail)];
	struct train_opts o = { .common = PROG_COMMON_INIT, .kind = MODEL_SOFTMAX, .l2 = -1, .lbfgs = XF_LBFGS_OPTS_INIT,
				.krr = { .fn = XF_KERNEL_RBF, .degree = 3, .coef0 = 1 },
				.fit = { .epochs = 10, .batch = 64, .lr = -1, .optim = XF_OPTIM_OPTS_INIT, .cosine = true,
					 .loss = { 0, NULL, 0.5, 4, NULL } } };
	struct prog_output *out;

	o.fit.optim.kind = XF_OPTIM_ADAMW, o.fit.optim.weight_decay = -1;
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
