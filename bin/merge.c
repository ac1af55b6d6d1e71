/*
 * xfer-merge: merge fine-tuned models into one without training (weighted averages, task
 * arithmetic, TIES, DARE, SLERP, model stock), tensor by tensor so that a model larger than
 * memory merges; or fuse several models' predictions for the same rows (--fuse).
 * See xfer-merge(1) and docs/merge.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_stream.h"
#include "graph.h"
#include "merge_run.h"
#include "prog.h"

static const char synopsis[] =
	"usage: xfer-merge --method linear|task-arithmetic|ties|dare|slerp|model-stock [--base BASE]\n"
	"                  [--weights W,...] [--lambda L] [--density D] [--elect] [--scope tensor|global]\n"
	"                  [--compat official|mergekit] [--normalize | --no-normalize] [--t T] [--seed S]\n"
	"                  [--dtype f32|f16|bf16] [--partial error|intersect|union] [-o FILE] [-j N] MODEL...\n"
	"       xfer-merge --fuse mean|logit-mean|dynamic [--field NAME] [--weights W,...] [-o FILE] PRED...\n";

static const char help_tail[] =
	"\n"
	"Merge the models (model streams, or .safetensors files) tensor by tensor and write the\n"
	"result as a model stream, or as safetensors when -o names a .safetensors file. Only one\n"
	"tensor of each input is in memory at a time.\n"
	"\n"
	"Methods (delta = model - base, per tensor):\n"
	"  linear           weighted average of the models (model soups); no base\n"
	"  task-arithmetic  base + lambda * sum of weight * delta\n"
	"  ties             TIES-Merging: trim each delta to its largest --density fraction, elect a\n"
	"                   sign per entry by total mass, average the deltas of that sign,\n"
	"                   base + lambda * result\n"
	"  dare             drop each delta entry with probability 1 - density and rescale the rest\n"
	"                   (1/density), then task arithmetic, or TIES's election with --elect\n"
	"  slerp            spherical interpolation from the base (or the first model, t = 0) to\n"
	"                   the other model (t = 1)\n"
	"  model-stock      mergekit's model stock: the average pulled towards the base by the\n"
	"                   angle between the deltas; a base and at least two models\n"
	"\n"
	"Options:\n"
	"      --base FILE       the pre-trained model the fine-tuned ones start from\n"
	"      --weights W,...   one weight per model (default 1 each)\n"
	"      --lambda L        scale of the merged delta (default 1)\n"
	"      --density D       fraction kept: ties (default 0.2) and dare (default 0.5)\n"
	"      --elect           dare: TIES sign election and disjoint merge after the drop\n"
	"      --scope S         ties: tensor (default: each tensor trimmed on its own) or global\n"
	"                        (one threshold over the whole model, as the TIES code; reads the\n"
	"                        inputs several times, so they must be files)\n"
	"      --compat C        official (default: the papers' code) or mergekit (its conventions;\n"
	"                        docs/merge.md lists every difference)\n"
	"      --normalize       average rather than sum: linear and ties (default), dare --elect\n"
	"                        (default under official), task-arithmetic, dare; --no-normalize\n"
	"      --t T             slerp position (default 0.5)\n"
	"      --seed S          dare's random drops (default 0)\n"
	"      --dtype T         output dtype: f32, f16 or bf16 (default: each tensor's dtype in the\n"
	"                        base, or in the first model); arithmetic is always float32\n"
	"      --partial P       tensors missing from some inputs or of another shape: error\n"
	"                        (default), intersect (leave them out) or union (merge the inputs\n"
	"                        that have them with the same shape)\n"
	"Prediction fusion (samples streams with the same rows):\n"
	"      --fuse M          mean of probabilities, logit-mean, or dynamic (per-row weights\n"
	"                        that minimise the disagreement with every model)\n"
	"      --field NAME      the predictions (default: probs, else logits); the first input's\n"
	"                        other fields are carried through\n"
	"  -o, --output FILE     write FILE (through a temporary, renamed on success)\n"
	"  -j, --threads N       threads (default: all cores)\n"
	"  -q, -v                no summary; more detail;  -h, -V\n"
	"\n"
	"Examples:\n"
	"  xfer-merge --method ties --base base.safetensors ft1.safetensors ft2.safetensors -o m.safetensors\n"
	"  xfer-merge --method linear --weights 1,2 head-a.xs head-b.xs > soup.xs\n"
	"  xfer-merge --method dare --density 0.3 --elect --seed 1 --base base.xs a.xs b.xs -o m.xs\n"
	"  xfer-merge --fuse logit-mean preds-a.xs preds-b.xs | xfer-cat --to csv\n";

static const char *const method_names[] = { "linear", "task-arithmetic", "ties", "dare", "slerp", "model-stock" };

enum { OPT_METHOD = PROG_OPT_FIRST_FREE, OPT_BASE, OPT_WEIGHTS, OPT_LAMBDA, OPT_DENSITY, OPT_ELECT, OPT_SCOPE,
       OPT_COMPAT, OPT_NORMALIZE, OPT_NO_NORMALIZE, OPT_T, OPT_SEED, OPT_DTYPE, OPT_PARTIAL, OPT_FUSE, OPT_FIELD };

struct merge_opts {
	struct prog_common common;
	struct xf_merge_opts m;
	int method;                    /* -1 until given */
	int normalize;                 /* -1: the method's default */
	bool density_given, scope_given;
	const char *base, *dtype_name, *field;
	double *weights;
	int n_weights;
	enum xf_merge_partial partial;
	int fuse;                      /* -1, or enum xf_fuse_method */
	char **inputs;
	int n_inputs;
};

static int pick(const char *opt, const char *arg, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(arg, names[i]))
			return i;
	usage_error("%s: '%s' is not one of the choices (see --help)", opt, arg);
}

static void parse_weights(const char *arg, struct merge_opts *o)
{
	char *copy = strdup(arg), *save = NULL;

	free(o->weights);
	o->weights = calloc(strlen(arg) / 2 + 2, sizeof(double));
	o->n_weights = 0;
	if (!copy || !o->weights)
		die("out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		o->weights[o->n_weights++] = prog_parse_double("--weights", tok);
	free(copy);
}

static void parse_option(int opt, const char *arg, struct merge_opts *o)
{
	static const char *const scopes[] = { "tensor", "global" }, *const compats[] = { "official", "mergekit" };
	static const char *const partials[] = { "error", "intersect", "union" };
	static const char *const fusions[] = { "mean", "logit-mean", "dynamic" };

	switch (opt) {
	case OPT_METHOD: o->method = pick("--method", arg, method_names, 6); break;
	case OPT_BASE: o->base = arg; break;
	case OPT_WEIGHTS: parse_weights(arg, o); break;
	case OPT_LAMBDA: o->m.lambda = prog_parse_double("--lambda", arg); break;
	case OPT_DENSITY: o->m.density = prog_parse_double("--density", arg), o->density_given = true; break;
	case OPT_ELECT: o->m.elect = true; break;
	case OPT_SCOPE: o->m.scope = pick("--scope", arg, scopes, 2), o->scope_given = true; break;
	case OPT_COMPAT: o->m.compat = pick("--compat", arg, compats, 2); break;
	case OPT_NORMALIZE: o->normalize = 1; break;
	case OPT_NO_NORMALIZE: o->normalize = 0; break;
	case OPT_T: o->m.t = prog_parse_double("--t", arg); break;
	case OPT_SEED: o->m.seed = (uint64_t)prog_parse_int("--seed", arg, 0, INT64_MAX); break;
	case OPT_DTYPE: o->dtype_name = arg; break;
	case OPT_PARTIAL: o->partial = pick("--partial", arg, partials, 3); break;
	case OPT_FUSE: o->fuse = pick("--fuse", arg, fusions, 3); break;
	case OPT_FIELD: o->field = arg; break;
	}
}

static void check_merge_options(struct merge_opts *o)
{
	if (o->method < 0)
		usage_error("give --method (or --fuse for predictions)");
	o->m.method = (enum xf_merge_method)o->method;
	if (o->n_weights && o->n_weights != o->n_inputs)
		usage_error("--weights: %d given for %d models", o->n_weights, o->n_inputs);
	if (o->base && o->m.method == XF_MERGE_LINEAR)
		usage_error("linear averages the models; it takes no --base (task-arithmetic uses one)");
	if (!o->base && xf_merge_needs_base(o->m.method))
		usage_error("--method %s needs --base", method_names[o->method]);
	if (o->m.method == XF_MERGE_SLERP && o->n_inputs != (o->base ? 1 : 2))
		usage_error("slerp interpolates two tensors: --base and one model, or two models");
	if (o->m.elect && o->m.method != XF_MERGE_DARE)
		usage_error("--elect goes with dare (ties always elects)");
	if (o->scope_given && o->m.method != XF_MERGE_TIES)
		usage_error("--scope goes with ties");
	if (o->density_given && o->m.method != XF_MERGE_TIES && o->m.method != XF_MERGE_DARE)
		usage_error("--density goes with ties and dare");
	if (!o->density_given && o->m.method == XF_MERGE_DARE)
		o->m.density = 0.5;
	if (o->normalize >= 0)
		o->m.normalize = o->normalize;
	else
		o->m.normalize = o->m.method == XF_MERGE_LINEAR || o->m.method == XF_MERGE_TIES ||
				 (o->m.method == XF_MERGE_DARE && o->m.elect && o->m.compat == XF_MERGE_OFFICIAL);
	o->m.n_models = o->n_inputs;
	o->m.weights = o->n_weights ? o->weights : NULL;
}

static void parse_options(int argc, char **argv, struct merge_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "method", required_argument, NULL, OPT_METHOD }, { "base", required_argument, NULL, OPT_BASE },
		{ "weights", required_argument, NULL, OPT_WEIGHTS }, { "lambda", required_argument, NULL, OPT_LAMBDA },
		{ "density", required_argument, NULL, OPT_DENSITY }, { "elect", no_argument, NULL, OPT_ELECT },
		{ "scope", required_argument, NULL, OPT_SCOPE }, { "compat", required_argument, NULL, OPT_COMPAT },
		{ "normalize", no_argument, NULL, OPT_NORMALIZE },
		{ "no-normalize", no_argument, NULL, OPT_NO_NORMALIZE }, { "t", required_argument, NULL, OPT_T },
		{ "seed", required_argument, NULL, OPT_SEED }, { "dtype", required_argument, NULL, OPT_DTYPE },
		{ "partial", required_argument, NULL, OPT_PARTIAL }, { "fuse", required_argument, NULL, OPT_FUSE },
		{ "field", required_argument, NULL, OPT_FIELD }, { NULL, 0, NULL, 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, PROG_COMMON_SHORT, longopts, NULL)) != -1)
		if (!prog_common_option(opt, optarg, &o->common))
			parse_option(opt, optarg, o);
	o->inputs = argv + optind;
	o->n_inputs = argc - optind;
	if (o->n_inputs == 0)
		usage_error("no models given");
	if ((o->fuse >= 0) == (o->method >= 0))
		usage_error("give either --method (merge models) or --fuse (fuse predictions)");
	if (o->fuse >= 0) {
		if (o->n_weights && o->n_weights != o->n_inputs)
			usage_error("--weights: %d given for %d inputs", o->n_weights, o->n_inputs);
		return;
	}
	if (o->field)
		usage_error("--field goes with --fuse");
	check_merge_options(o);
}

/* The output's declarations: the plan's tensors under the leader's meta, with its graph if still valid. */
static void output_header(const struct merge_opts *o, const struct xf_merge_plan *plan,
			  struct xf_model_source *leader, struct xf_header *h)
{
	const struct xf_header *lh = xf_model_source_header(leader);
	enum xf_dtype dtype = XF_DTYPE_COUNT;
	struct xf_err err = XF_ERR_INIT;

	if (o->dtype_name && (xf_dtype_parse(o->dtype_name, &dtype) < 0 || !xf_dtype_table[dtype].is_float ||
			      dtype == XF_DTYPE_F64))
		usage_error("--dtype: f32, f16 or bf16");
	h->kind = XF_KIND_MODEL;
	h->meta = lh ? json_deep_copy(lh->meta) : json_object();
	for (int t = 0; t < plan->n; t++) {
		const struct xf_merge_entry *e = &plan->entries[t];

		if (xf_header_add_field(h, e->name, dtype == XF_DTYPE_COUNT ? e->dtype : dtype, e->ndim, e->shape,
					&err) < 0)
			die_err(&err);
	}
	if (lh && lh->graph) {
		if (xf_graph_check(lh->graph, h, &err) == 0)
			h->graph = json_deep_copy(lh->graph);
		else
			note(1, "%s: its graph does not fit the merged tensors, so the output has none (%s)",
			     xf_model_source_path(leader), err.msg);
	}
	json_object_set_new(h->meta, "merge", json_pack("{s:s, s:i}", "method", method_names[o->method],
							   "models", o->n_inputs));
	prog_add_history(h);
}

static bool is_safetensors_name(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	return n > 12 && !strcmp(path + n - 12, ".safetensors");
}

static void progress_cb(void *ctx, int64_t done)
{
	prog_progress_update(ctx, done);
}

static void run_merge(struct merge_opts *o, struct xf_model_source **src, int n_src)
{
	struct xf_merge_plan plan;
	struct xf_merge_run run = { NULL, &plan, src, o->base != NULL, NULL, progress_cb, NULL };
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct prog_output *out;

	if (xf_merge_plan_build(n_src, src, o->partial, o->base && xf_merge_needs_base(o->m.method) ? 0 : -1,
				&plan, &err) < 0 ||
	    xf_merger_create(&o->m, &run.merger, &err) < 0)
		die_err(&err);
	if (plan.n_dropped)
		note(1, "%d tensors are not in every input and are left out", plan.n_dropped);
	output_header(o, &plan, src[0], &h);
	out = prog_open_output(&o->common, true);
	if (is_safetensors_name(o->common.output))
		xf_model_sink_safetensors(prog_output_fd(out), &h, xf_model_source_metadata(src[0]), &run.sink, &err);
	else
		xf_model_sink_stream(prog_output_writer(out), &h, &run.sink, &err);
	run.progress_ctx = prog_progress_start(&o->common, "merging",
					       plan.total * (1 + xf_merger_passes(run.merger)));
	if (!run.sink || xf_merge_run(&run, &err) < 0)
		die_err(&err);
	prog_progress_done(run.progress_ctx);
	prog_close_output(out);
	note(2, "%d tensors, %lld parameters merged", plan.n, (long long)plan.total);
	xf_model_sink_free(run.sink);
	xf_merger_free(run.merger);
	xf_merge_plan_release(&plan);
	xf_header_release(&h);
}

static void merge_models(struct merge_opts *o)
{
	int n_src = o->n_inputs + (o->base != NULL);
	struct xf_model_source **src = calloc((size_t)n_src, sizeof(*src));
	struct xf_err err = XF_ERR_INIT;

	if (!src)
		die("out of memory");
	for (int i = 0; i < n_src; i++) {
		const char *path = o->base ? (i ? o->inputs[i - 1] : o->base) : o->inputs[i];

		if (xf_model_source_open(path, &src[i], &err) < 0)
			die_err(&err);
		xf_model_source_set_threads(src[i], prog_threads(&o->common));
	}
	o->m.threads = prog_threads(&o->common);
	run_merge(o, src, n_src);
	for (int i = 0; i < n_src; i++)
		xf_model_source_close(src[i]);
	free(src);
}

int main(int argc, char **argv)
{
	static char help[sizeof(synopsis) + sizeof(help_tail)];
	struct merge_opts o = { .common = PROG_COMMON_INIT, .m = XF_MERGE_OPTS_INIT, .method = -1, .normalize = -1,
				.fuse = -1 };

	snprintf(help, sizeof(help), "%s%s", synopsis, help_tail);
	prog_init("xfer-merge", synopsis, help);
	prog_set_args(argc, argv);
	parse_options(argc, argv, &o);
	if (o.fuse >= 0) {
		struct xf_fuse_stream_opts f = { (enum xf_fuse_method)o.fuse, o.field, o.n_weights ? o.weights : NULL,
						 prog_threads(&o.common), prog_add_history };
		struct prog_output *out = prog_open_output(&o.common, true);
		struct xf_err err = XF_ERR_INIT;

		if (xf_fuse_streams(&f, o.n_inputs, (const char *const *)o.inputs, prog_output_writer(out), &err) < 0)
			die_err(&err);
		prog_close_output(out);
	} else {
		merge_models(&o);
	}
	free(o.weights);
	return 0;
}
