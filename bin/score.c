/*
 * xfer-score: transferability metrics that rank candidate models or layers for a target task.
 * Reads one samples stream per candidate (or several feature fields of one stream) and writes
 * a table of (candidate, metric, value, rank). See xfer-score(1) and docs in schemas/.
 */
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "prog.h"
#include "score_run.h"

static const char synopsis[] =
	"usage: xfer-score [-m all|METRIC,...] [--field PATTERN] [--labels NAME] [--probs NAME]\n"
	"                  [--format stream|tsv|json|text] [--ensemble K] [--partial | --reduce]\n"
	"                  [--source-feats FILE]... [--osborn-weights D,T,C]\n"
	"                  [--weights softmax|normalized [--temperature T]] [--name NAME]\n"
	"                  [-o FILE] [-j N] [FILE...]\n";

static const char help_tail[] =
	"\n"
	"Rank candidate models (one stream each) or layers (several feature fields of one stream,\n"
	"chosen with --field) by how well their features or predictions are expected to transfer\n"
	"to the target task whose labels the streams carry. Higher is better unless marked.\n"
	"\n"
	"Options:\n"
	"  -m, --metric LIST     metrics to compute (default all: those whose inputs are present;\n"
	"                        the others are reported as skipped, with the reason)\n"
	"      --field PATTERN   feature fields to score (shell pattern; default x)\n"
	"      --labels NAME     the label field (default y): integers 0..C-1\n"
	"      --probs NAME      the source model's probabilities (default p), rows summing to 1\n"
	"      --format FORMAT   stream (a table segment: candidate, metric, value, rank; default),\n"
	"                        tsv, json, or text (a ranked table for people)\n"
	"      --weights HOW     add each candidate's weight among the candidates of a metric, for\n"
	"                        weighting source models (e.g. in distillation): softmax of the\n"
	"                        values (negated where lower is better) / T, or normalized: the\n"
	"                        values over their sum (positive higher-is-better metrics such as\n"
	"                        knn, linprobe, accuracy). Rank 1 is the nearest source.\n"
	"      --temperature T   softmax temperature (default 1)\n"
	"      --name NAME       the candidate's name (default: the file name; with --field, the\n"
	"                        field names); give every shard the same name for --reduce\n"
	"      --ensemble K      choose the best K source models (inputs with probabilities) by\n"
	"                        ms_leep or e_leep, greedily; without it they score all of them\n"
	"      --source-feats FILE  the source-domain features of one candidate's model, for osborn:\n"
	"                        give one per candidate, in the order of the candidates\n"
	"      --osborn-weights D,T,C  weights of osborn's domain, task and cohesion terms\n"
	"                        (default 1,1,1: the paper's unweighted sum)\n"
	"      --partial         write each candidate's sufficient statistics (a stream) instead of\n"
	"                        scores: for shards of the rows, e.g. one per job of an array\n"
	"      --reduce          score from partial streams: exactly the one-pass result for the\n"
	"                        metrics that can be combined (logme with N > D, logme_exact,\n"
	"                        hscore, gbc, gbc_spherical, nce, accuracy, nll); the others need\n"
	"                        every row at once and are skipped\n"
	"  -o, --output FILE     write FILE (through a temporary, renamed on success)\n"
	"  -j, --threads N       threads for BLAS and the kNN search (default: all cores, or\n"
	"                        OPENBLAS_NUM_THREADS)\n"
	"  -q, -v                quieter; timings per metric;  -h, --help;  -V, --version\n"
	"\n"
	"Metrics:\n";

static const char examples[] =
	"\n"
	"Examples:\n"
	"  xfer-score --format text resnet.xs vit.xs convnext.xs\n"
	"  xfer-score -m logme,hscore --field 'layer*' --format tsv features.xs\n"
	"  xfer-score -m leep,nce,accuracy --format json predictions.xs\n"
	"  xfer-score -m ms_leep --ensemble 3 --format text source-*.xs\n"
	"  xfer-score -m linprobe --weights normalized --format tsv src-a.xs src-b.xs src-c.xs\n"
	"  xfer-score --partial --name vit shard-3.xs -o stats-3.xs; xfer-score --reduce stats-*.xs\n";

enum { OPT_FIELD = PROG_OPT_FIRST_FREE, OPT_LABELS, OPT_PROBS, OPT_FORMAT, OPT_PARTIAL, OPT_REDUCE, OPT_NAME,
       OPT_ENSEMBLE, OPT_WEIGHTS, OPT_TEMPERATURE, OPT_SOURCE_FEATS, OPT_OSBORN_WEIGHTS };

struct score_opts {
	struct prog_common common;
	const char *metrics, *field, *labels, *probs, *name;
	enum xf_report_format format;
	enum xf_weighting weighting;
	double temperature;          /* of softmax weights */
	bool partial, reduce;        /* write sufficient statistics / combine them */
	int ensemble;                /* --ensemble K: greedy choice of K source models; 0: all of them */
	struct xf_osborn_weights osborn;
	const char **sources;        /* --source-feats, one per candidate */
	int n_sources;
	char **inputs;
	int n_inputs;
};


static char *build_help(void)
{
	size_t size = strlen(synopsis) + strlen(help_tail) + strlen(examples) + 8192, len;
	char *text = malloc(size);

	if (!text)
		die("out of memory");
	len = (size_t)snprintf(text, size, "%s%s", synopsis, help_tail);
	for (const struct xf_metric *m = xf_metrics; m->name && len < size; m++)
		len += (size_t)snprintf(text + len, size - len, "  %-18s%s%s\n", m->name, m->summary,
					m->higher_is_better ? "" : " (lower is better)");
	for (int i = 0; xf_score_other_metrics[i] && len < size; i += 2)
		len += (size_t)snprintf(text + len, size - len, "  %-18s%s\n", xf_score_other_metrics[i],
					xf_score_other_metrics[i + 1]);
	if (len < size)
		snprintf(text + len, size - len, "%s", examples);
	return text;
}

static void parse_osborn_weights(const char *arg, struct xf_osborn_weights *w)
{
	char tail;

	if (sscanf(arg, "%lf,%lf,%lf%c", &w->domain, &w->task, &w->cohesion, &tail) != 3 || !(w->domain >= 0) ||
	    !(w->task >= 0) || !(w->cohesion >= 0) || !isfinite(w->domain + w->task + w->cohesion))
		usage_error("--osborn-weights: '%s' is not three non-negative numbers D,T,C", arg);
}

static void parse_options(int argc, char **argv, struct score_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "metric", required_argument, NULL, 'm' }, { "field", required_argument, NULL, OPT_FIELD },
		{ "labels", required_argument, NULL, OPT_LABELS }, { "probs", required_argument, NULL, OPT_PROBS },
		{ "format", required_argument, NULL, OPT_FORMAT }, { "partial", no_argument, NULL, OPT_PARTIAL },
		{ "reduce", no_argument, NULL, OPT_REDUCE }, { "name", required_argument, NULL, OPT_NAME },
		{ "ensemble", required_argument, NULL, OPT_ENSEMBLE }, { "weights", required_argument, NULL, OPT_WEIGHTS },
		{ "temperature", required_argument, NULL, OPT_TEMPERATURE },
		{ "source-feats", required_argument, NULL, OPT_SOURCE_FEATS },
		{ "osborn-weights", required_argument, NULL, OPT_OSBORN_WEIGHTS },
		{ NULL, 0, NULL, 0 }
	};
	static char *stdin_only[] = { "-" };
	int opt;

	if (!(o->sources = calloc(argc + 1, sizeof(*o->sources))))
		die("out of memory");

	while ((opt = getopt_long(argc, argv, PROG_COMMON_SHORT "m:", longopts, NULL)) != -1) {
		if (prog_common_option(opt, optarg, &o->common))
			continue;
		switch (opt) {
		case 'm': o->metrics = optarg; break;
		case OPT_FIELD: o->field = optarg; break;
		case OPT_LABELS: o->labels = optarg; break;
		case OPT_PROBS: o->probs = optarg; break;
		case OPT_FORMAT:
			if (xf_report_parse_format(optarg, &o->format) < 0)
				usage_error("--format: '%s' is not stream, tsv, json or text", optarg);
			break;
		case OPT_PARTIAL: o->partial = true; break;
		case OPT_REDUCE: o->reduce = true; break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_ENSEMBLE: o->ensemble = (int)prog_parse_int("--ensemble", optarg, 1, 1000); break;
		case OPT_WEIGHTS:
			if (xf_weighting_parse(optarg, &o->weighting) < 0)
				usage_error("--weights: '%s' is not softmax or normalized", optarg);
			break;
		case OPT_SOURCE_FEATS: o->sources[o->n_sources++] = optarg; break;
		case OPT_OSBORN_WEIGHTS: parse_osborn_weights(optarg, &o->osborn); break;
		case OPT_TEMPERATURE:
			if (!((o->temperature = prog_parse_double("--temperature", optarg)) > 0))
				usage_error("--temperature: '%s' is not positive", optarg);
			break;
		}
	}
	if (o->partial && (o->reduce || o->metrics || o->format != XF_REPORT_STREAM))
		usage_error("--partial writes statistics as a stream: no --reduce, --metric or --format with it");
	if (o->common.zstd_level && o->format != XF_REPORT_STREAM)
		usage_error("-z compresses streams; it does not apply to --format %s", o->format == XF_REPORT_TSV ? "tsv" :
			    o->format == XF_REPORT_JSON ? "json" : "text");
	o->inputs = optind < argc ? argv + optind : stdin_only;
	o->n_inputs = optind < argc ? argc - optind : 1;
	if (o->ensemble && (o->partial || o->reduce))
		usage_error("--ensemble scores probabilities of several inputs; not with --partial or --reduce");
	if (o->n_sources && (o->partial || o->reduce))
		usage_error("--source-feats is for osborn, which needs every row: not with --partial or --reduce");
	if (o->temperature && o->weighting != XF_WEIGHTS_SOFTMAX)
		usage_error("--temperature sets the softmax of --weights softmax");
	if (o->weighting && o->partial)
		usage_error("--weights applies to scores, not to --partial statistics");
	if (o->name && (o->n_inputs > 1 || o->reduce))
		usage_error("--name names the candidate of a single input");
}

/* Check --metric against the table before reading anything. */
static void check_metric_names(const char *list)
{
	char *copy, *tok, *save = NULL;

	if (!list || !strcmp(list, "all"))
		return;
	if (!(copy = strdup(list)))
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!xf_score_metric_known(tok))
			usage_error("--metric: unknown metric '%s' (see --help)", tok);
	}
	free(copy);
}

/* The file name without directories and stream suffixes: runs/vit.xs.zst -> vit. */
static void base_name(const char *path, char *out, size_t size)
{
	char copy[512], *dot;

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(out, size, "%s", strcmp(path, "-") ? basename(copy) : "stdin");
	while ((dot = strrchr(out, '.')) && (!strcmp(dot, ".zst") || !strcmp(dot, ".xs")))
		*dot = '\0';
}

static void read_all_candidates(const struct score_opts *o, struct xf_score_candidate **cands, int *n)
{
	struct xf_score_inputs in = { o->field ? o->field : "x", o->labels ? o->labels : "y", o->probs ? o->probs : "p" };
	struct xf_err err = XF_ERR_INIT;

	for (int i = 0; i < o->n_inputs; i++) {
		struct xf_reader *r = prog_open_reader(o->inputs[i]);
		char prefix[512];

		if (o->name)
			snprintf(prefix, sizeof(prefix), "%s", o->name);
		else
			base_name(o->inputs[i], prefix, sizeof(prefix));
		if (xf_score_read_candidates(r, &in, o->n_inputs > 1 || !o->field ? prefix : "", cands, n, &err) < 0)
			die_err(&err);
		xf_reader_close(r);
	}
	/* one stream of several layers: name them by field alone */
	for (int i = 0; o->n_inputs == 1 && o->field && i < *n; i++)
		if ((*cands)[i].name[0] == ':')
			memmove((*cands)[i].name, (*cands)[i].name + 1, strlen((*cands)[i].name));
	if (xf_score_check_candidates(*cands, *n, &err) < 0)
		die_err(&err);
	if (o->n_sources && o->n_sources != *n)
		usage_error("--source-feats: %d files for %d candidates; give one per candidate", o->n_sources, *n);
	for (int i = 0; i < o->n_sources; i++) {
		struct xf_reader *r = prog_open_reader(o->sources[i]);

		if (xf_score_read_source(r, &in, &(*cands)[i], &err) < 0)
			die_err(&err);
		xf_reader_close(r);
	}
}

static void note_line(void *ctx, const char *line)
{
	(void)ctx;
	note(2, "%s", line);
}

static void show_progress(void *ctx, int64_t done)
{
	prog_progress_update(ctx, done);
}

/* --partial: each candidate's statistics, one segment each. */
static void write_partials(const struct score_opts *o, struct prog_output *out)
{
	struct xf_score_candidate *cands = NULL;
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;
	int n = 0;

	read_all_candidates(o, &cands, &n);
	h.meta = json_object();
	prog_add_history(&h);
	if (xf_score_write_partials(prog_output_writer(out), &h, cands, n, &err) < 0)
		die_err(&err);
	xf_header_release(&h);
	xf_score_candidates_free(cands, n);
}

/* --reduce: merge every partial stream by candidate, then score. */
static void reduce(const struct score_opts *o, struct xf_score_run *run)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_score_merged *m = xf_score_merged_new(&err);

	for (int i = 0; m && i < o->n_inputs; i++) {
		struct xf_reader *r = prog_open_reader(o->inputs[i]);

		if (xf_score_merge_stream(m, r, &err) < 0)
			die_err(&err);
		xf_reader_close(r);
	}
	if (!m || xf_score_run_merged(run, m, &err) < 0)
		die_err(&err);
	xf_score_merged_free(m);
}

static void score_inputs(const struct score_opts *o, struct xf_score_run *run)
{
	struct xf_score_candidate *cands = NULL;
	struct xf_err err = XF_ERR_INIT;
	int n = 0;

	read_all_candidates(o, &cands, &n);
	run->ctx = prog_progress_start(&o->common, "candidates scored", n);
	if (xf_score_run_candidates(run, cands, n, &err) < 0 || xf_score_run_ensembles(run, cands, n, &err) < 0)
		die_err(&err);
	prog_progress_done(run->ctx);
	xf_score_candidates_free(cands, n);
}

int main(int argc, char **argv)
{
	struct score_opts o = { PROG_COMMON_INIT, NULL, NULL, NULL, NULL, NULL, XF_REPORT_STREAM, XF_WEIGHTS_NONE, 0,
				false, false, 0, { 1, 1, 1 }, NULL, 0, NULL, 0 };
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_score_run run = { NULL, 0, 0, { 1, 1, 1 }, NULL, note_line, show_progress, NULL };
	struct prog_output *out;
	char *help = build_help();

	prog_init("xfer-score", synopsis, help);
	prog_set_args(argc, argv);
	parse_options(argc, argv, &o);
	check_metric_names(o.metrics);
	xf_linalg_set_threads(prog_threads(&o.common));
	out = prog_open_output(&o.common, o.format == XF_REPORT_STREAM);
	if (o.partial) {
		write_partials(&o, out);
	} else {
		run.metrics = o.metrics, run.threads = prog_threads(&o.common), run.ensemble = o.ensemble;
		run.osborn = o.osborn;
		if (!(run.report = xf_score_report_new(&err)))
			die_err(&err);
		xf_score_report_set_weights(run.report, o.weighting, o.temperature ? o.temperature : 1);
		if (o.reduce)
			reduce(&o, &run);
		else
			score_inputs(&o, &run);
		h.meta = json_object();
		prog_add_history(&h);
		if (xf_score_report_write(run.report, o.format, &h, prog_output_writer(out), prog_output_sink(out), &err) < 0)
			die_err(&err);
		xf_header_release(&h);
		xf_score_report_free(run.report);
	}
	prog_close_output(out);
	free(help);
	free(o.sources);
	return 0;
}
