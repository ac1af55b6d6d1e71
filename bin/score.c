/*
 * xfer-score: transferability metrics that rank candidate models or layers for a target task.
 * Reads one samples stream per candidate (or several feature fields of one stream) and writes
 * a table of (candidate, metric, value, rank). See xfer-score(1) and docs in schemas/.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linalg.h"
#include "prog.h"
#include "score_input.h"
#include "score_report.h"

static const char synopsis[] =
	"usage: xfer-score [-m all|METRIC,...] [--field PATTERN] [--labels NAME] [--probs NAME]\n"
	"                  [--format stream|tsv|json|text] [-o FILE] [-j N] [CANDIDATE.xs...]\n";

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
	"  xfer-score -m leep,nce,accuracy --format json predictions.xs\n";

enum { OPT_FIELD = PROG_OPT_FIRST_FREE, OPT_LABELS, OPT_PROBS, OPT_FORMAT };

struct score_opts {
	struct prog_common common;
	const char *metrics, *field, *labels, *probs;
	enum xf_report_format format;
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
	if (len < size)
		snprintf(text + len, size - len, "%s", examples);
	return text;
}

static void parse_options(int argc, char **argv, struct score_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "metric", required_argument, NULL, 'm' }, { "field", required_argument, NULL, OPT_FIELD },
		{ "labels", required_argument, NULL, OPT_LABELS }, { "probs", required_argument, NULL, OPT_PROBS },
		{ "format", required_argument, NULL, OPT_FORMAT }, { NULL, 0, NULL, 0 }
	};
	static char *stdin_only[] = { "-" };
	int opt;

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
		}
	}
	if (o->common.zstd_level && o->format != XF_REPORT_STREAM)
		usage_error("-z compresses streams; it does not apply to --format %s", o->format == XF_REPORT_TSV ? "tsv" :
			    o->format == XF_REPORT_JSON ? "json" : "text");
	o->inputs = optind < argc ? argv + optind : stdin_only;
	o->n_inputs = optind < argc ? argc - optind : 1;
}

/* Check --metric against the table before reading anything. */
static void check_metric_names(const char *list)
{
	char *copy, *tok, *save = NULL;

	if (!list || !strcmp(list, "all"))
		return;
	if (!(copy = strdup(list)))
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!xf_metric_find(tok))
			usage_error("--metric: unknown metric '%s' (see --help)", tok);
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
}

static bool wanted(const char *list, const char *name)
{
	size_t len = strlen(name);

	if (!list || !strcmp(list, "all"))
		return true;
	for (const char *p = list; (p = strstr(p, name)); p += len)
		if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

static double seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One metric on one candidate: the value, a skip (with --metric all) or death. */
static void score_one(const struct xf_metric *m, struct xf_score_candidate *c, struct xf_score_cache *cache,
		      bool all, struct xf_score_report *report, json_t *skipped)
{
	struct xf_err err = XF_ERR_INIT;
	double value, t0 = seconds();

	if (xf_score_cache_check(cache, m->needs, &err) < 0 || m->compute(&c->data, cache, &value, &err) < 0) {
		if (!all || err.code == XF_E_NOMEM)
			die("%s: %s: %s", c->name, m->name, err.msg);
		if (!json_object_get(skipped, m->name)) {
			json_object_set_new(skipped, m->name, json_string(err.msg));
			if (xf_score_report_skip(report, m->name, err.msg, &err) < 0)
				die_err(&err);
		}
		return;
	}
	note(2, "%s: %s = %.10g (%.3f s)", c->name, m->name, value, seconds() - t0);
	if (xf_score_report_add(report, c->name, m->name, value, m->higher_is_better, &err) < 0)
		die_err(&err);
}

static void score_all(const struct score_opts *o, struct xf_score_candidate *cands, int n,
		      struct xf_score_report *report)
{
	bool all = !o->metrics || !strcmp(o->metrics, "all");
	struct prog_progress *progress = prog_progress_start(&o->common, "candidates scored", n);
	json_t *skipped = json_object();
	struct xf_err err = XF_ERR_INIT;

	for (int i = 0; i < n; i++) {
		struct xf_score_cache *cache;

		cands[i].data.threads = prog_threads(&o->common);
		if (!(cache = xf_score_cache_new(&cands[i].data, &err)))
			die_err(&err);

		for (const struct xf_metric *m = xf_metrics; m->name; m++)
			if (wanted(o->metrics, m->name))
				score_one(m, &cands[i], cache, all, report, skipped);
		xf_score_cache_free(cache);
		prog_progress_update(progress, i + 1);
	}
	prog_progress_done(progress);
	json_decref(skipped);
}

int main(int argc, char **argv)
{
	struct score_opts o = { PROG_COMMON_INIT, NULL, NULL, NULL, NULL, XF_REPORT_STREAM, NULL, 0 };
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_score_candidate *cands = NULL;
	struct xf_score_report *report;
	struct prog_output *out;
	char *help = build_help();
	int n = 0;

	prog_init("xfer-score", synopsis, help);
	prog_set_args(argc, argv);
	parse_options(argc, argv, &o);
	check_metric_names(o.metrics);
	xf_linalg_set_threads(prog_threads(&o.common));
	out = prog_open_output(&o.common, o.format == XF_REPORT_STREAM);
	read_all_candidates(&o, &cands, &n);
	if (!(report = xf_score_report_new(&err)))
		die_err(&err);
	score_all(&o, cands, n, report);
	h.meta = json_object();
	prog_add_history(&h);
	if (xf_score_report_write(report, o.format, &h, prog_output_writer(out), prog_output_sink(out), &err) < 0)
		die_err(&err);
	prog_close_output(out);
	xf_header_release(&h);
	xf_score_report_free(report);
	xf_score_candidates_free(cands, n);
	free(help);
	return 0;
}
