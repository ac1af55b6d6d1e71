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
#include "score_ensemble.h"
#include "score_input.h"
#include "score_partial.h"
#include "score_report.h"

static const char synopsis[] =
	"usage: xfer-score [-m all|METRIC,...] [--field PATTERN] [--labels NAME] [--probs NAME]\n"
	"                  [--format stream|tsv|json|text] [--ensemble K] [--partial | --reduce]\n"
	"                  [--name NAME] [-o FILE] [-j N] [FILE...]\n";

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
	"      --name NAME       the candidate's name (default: the file name; with --field, the\n"
	"                        field names); give every shard the same name for --reduce\n"
	"      --ensemble K      choose the best K source models (inputs with probabilities) by\n"
	"                        ms_leep or e_leep, greedily; without it they score all of them\n"
	"      --partial         write each candidate's sufficient statistics (a stream) instead of\n"
	"                        scores: for shards of the rows, e.g. one per job of an array\n"
	"      --reduce          score from partial streams: exactly the one-pass result for the\n"
	"                        metrics that can be combined (logme with N > D, logme_exact,\n"
	"                        hscore, gbc, gbc_spherical, nce, accuracy); the others need every\n"
	"                        row at once and are skipped\n"
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
	"  xfer-score --partial --name vit shard-3.xs -o stats-3.xs; xfer-score --reduce stats-*.xs\n";

enum { OPT_FIELD = PROG_OPT_FIRST_FREE, OPT_LABELS, OPT_PROBS, OPT_FORMAT, OPT_PARTIAL, OPT_REDUCE, OPT_NAME,
       OPT_ENSEMBLE };

struct score_opts {
	struct prog_common common;
	const char *metrics, *field, *labels, *probs, *name;
	enum xf_report_format format;
	bool partial, reduce;        /* write sufficient statistics / combine them */
	int ensemble;                /* --ensemble K: greedy choice of K source models; 0: all of them */
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
	len += (size_t)snprintf(text + len, size - len, "  %-18s%s\n  %-18s%s\n", "ms_leep",
				"ensembles: log of the models' mean LEEP prediction (Agostinelli et al. 2022)", "e_leep",
				"ensembles: LEEP of the product of the models' label spaces");
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
		{ "format", required_argument, NULL, OPT_FORMAT }, { "partial", no_argument, NULL, OPT_PARTIAL },
		{ "reduce", no_argument, NULL, OPT_REDUCE }, { "name", required_argument, NULL, OPT_NAME },
		{ "ensemble", required_argument, NULL, OPT_ENSEMBLE },
		{ NULL, 0, NULL, 0 }
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
		case OPT_PARTIAL: o->partial = true; break;
		case OPT_REDUCE: o->reduce = true; break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_ENSEMBLE: o->ensemble = (int)prog_parse_int("--ensemble", optarg, 1, 1000); break;
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
		enum xf_ensemble_metric e;

		if (!xf_metric_find(tok) && xf_ensemble_parse(tok, &e) < 0)
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

/* The checks that remain for merged statistics (the rows were checked by --partial). */
static int check_reduced(const struct xf_metric *m, const struct xf_score_data *d, struct xf_score_cache *cache,
			 struct xf_err *err)
{
	const int64_t *counts = xf_score_counts(cache, err);
	int64_t populated = 0;

	if (!m->reducible)
		return xf_err_set(err, XF_E_USAGE, "needs every row at once: it cannot be combined from partial statistics");
	if ((m->needs & XF_NEEDS_F) && d->d == 0)
		return xf_err_set(err, XF_E_USAGE, "no features (field x)");
	if ((m->needs & XF_NEEDS_P) && d->cs == 0)
		return xf_err_set(err, XF_E_USAGE, "no probabilities (field p)");
	for (int64_t k = 0; counts && k < d->c; k++)
		populated += counts[k] > 0;
	if (populated < 2)
		return xf_err_set(err, XF_E_FORMAT, "%lld rows with fewer than two classes: scores need two", (long long)d->n);
	return 0;
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
	bool reduced = !c->data.f && !c->data.p && !c->data.y; /* scored from merged statistics */
	int rc = reduced ? check_reduced(m, &c->data, cache, &err) : xf_score_cache_check(cache, m->needs, &err);

	if (rc < 0 || m->compute(&c->data, cache, &value, &err) < 0) {
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

static void write_partials(struct score_opts *o, struct xf_score_candidate *cands, int n, struct prog_output *out);
static void score_ensembles(const struct score_opts *o, struct xf_score_candidate *cands, int n,
			    struct xf_score_report *report);
static void reduce(const struct score_opts *o, struct xf_score_report *report);

int main(int argc, char **argv)
{
	struct score_opts o = { PROG_COMMON_INIT, NULL, NULL, NULL, NULL, NULL, XF_REPORT_STREAM, false, false, 0, NULL, 0 };
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
	if (o.partial) {
		read_all_candidates(&o, &cands, &n);
		write_partials(&o, cands, n, out);
		prog_close_output(out);
		xf_score_candidates_free(cands, n);
		free(help);
		return 0;
	}
	if (!(report = xf_score_report_new(&err)))
		die_err(&err);
	if (o.reduce) {
		reduce(&o, report);
	} else {
		read_all_candidates(&o, &cands, &n);
		score_all(&o, cands, n, report);
		score_ensembles(&o, cands, n, report);
	}
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

/*
 * A shard may hold a single class or a single row (the merged rows are checked for those);
 * what must hold here is what the metrics assume of every row: labels present and
 * non-negative, features finite, probabilities valid.
 */
static int check_partial(const struct xf_score_data *d, struct xf_err *err)
{
	if (!d->y)
		return xf_err_set(err, XF_E_USAGE, "no labels (field y): partial statistics are per class");
	for (int64_t i = 0; i < d->n; i++)
		if (d->y[i] < 0)
			return xf_err_set(err, XF_E_FORMAT, "label %lld of row %lld is negative", (long long)d->y[i],
					  (long long)i);
	return xf_score_check(d, (d->f ? XF_NEEDS_F : 0) | (d->p ? XF_NEEDS_P : 0), err);
}

/* --partial: each candidate's statistics, one segment each. */
static void write_partials(struct score_opts *o, struct xf_score_candidate *cands, int n, struct prog_output *out)
{
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;

	h.meta = json_object();
	prog_add_history(&h);
	for (int i = 0; i < n; i++) {
		struct xf_score_cache *cache = xf_score_cache_new(&cands[i].data, &err);
		struct xf_score_stats s;

		if (!cache || check_partial(&cands[i].data, &err) < 0 || xf_score_stats_take(cache, &s, &err) < 0)
			die("%s: %s", cands[i].name, err.msg);
		if (xf_score_stats_write(prog_output_writer(out), &h, cands[i].name, &s, &err) < 0)
			die_err(&err);
		xf_score_stats_release(&s);
		xf_score_cache_free(cache);
	}
	xf_header_release(&h);
	(void)o;
}

struct merged {
	struct xf_score_candidate *cands;
	struct xf_score_stats *stats;
	int n;
};

/* Merge one partial segment into the candidate of the same name (a new one if unseen). */
static int merge_partial(void *ctx, const char *name, struct xf_score_stats *s, struct xf_err *err)
{
	struct merged *m = ctx;
	int i = 0;

	while (i < m->n && strcmp(m->cands[i].name, name))
		i++;
	if (i < m->n)
		return xf_score_stats_merge(&m->stats[i], s, err);
	m->cands = realloc(m->cands, (m->n + 1) * sizeof(*m->cands));
	m->stats = realloc(m->stats, (m->n + 1) * sizeof(*m->stats));
	if (!m->cands || !m->stats)
		return xf_err_nomem(err, 0);
	memset(&m->cands[m->n], 0, sizeof(*m->cands));
	snprintf(m->cands[m->n].name, sizeof(m->cands[m->n].name), "%s", name);
	m->stats[m->n] = *s;
	memset(s, 0, sizeof(*s)); /* kept: the reader frees what is left */
	m->n++;
	return 0;
}

/* --reduce: read every partial stream, merge by candidate, score from the statistics. */
static void reduce(const struct score_opts *o, struct xf_score_report *report)
{
	struct merged m = { NULL, NULL, 0 };
	struct xf_err err = XF_ERR_INIT;
	bool all = !o->metrics || !strcmp(o->metrics, "all");
	json_t *skipped = json_object();

	for (int i = 0; i < o->n_inputs; i++) {
		struct xf_reader *r = prog_open_reader(o->inputs[i]);

		if (xf_score_stats_read(r, merge_partial, &m, &err) < 0)
			die_err(&err);
		xf_reader_close(r);
	}
	for (int i = 0; i < m.n; i++) {
		struct xf_score_cache *cache = xf_score_cache_from_stats(&m.stats[i], &m.cands[i].data, &err);

		if (!cache)
			die_err(&err);
		m.cands[i].data.threads = prog_threads(&o->common);
		for (const struct xf_metric *x = xf_metrics; x->name; x++)
			if (wanted(o->metrics, x->name))
				score_one(x, &m.cands[i], cache, all, report, skipped);
		xf_score_cache_free(cache);
	}
	free(m.cands);
	free(m.stats);
	json_decref(skipped);
}

/* An ensemble metric over the pool of candidates with probabilities (all, or the greedy best K). */
static void score_ensemble(const struct score_opts *o, enum xf_ensemble_metric e, const struct xf_score_data **pool,
			   const char **names, int n, struct xf_score_report *report)
{
	struct xf_err err = XF_ERR_INIT;
	int k = o->ensemble ? o->ensemble : n, *chosen = calloc(k + 1, sizeof(int));
	char label[4096] = "";
	double value;
	int rc;

	if (!chosen)
		die("out of memory");
	if (o->ensemble)
		rc = xf_ensemble_greedy(e, pool, n, k, chosen, &value, &err);
	else {
		for (int i = 0; i < n; i++)
			chosen[i] = i;
		rc = xf_ensemble_score(e, pool, n, &value, &err);
	}
	if (rc < 0) {
		if (o->metrics && strcmp(o->metrics, "all"))
			die("%s: %s", xf_ensemble_name(e), err.msg);
		rc = xf_score_report_skip(report, xf_ensemble_name(e), err.msg, &err);
	} else {
		for (int i = 0; i < k; i++)
			snprintf(label + strlen(label), sizeof(label) - strlen(label), "%s%s", i ? "+" : "", names[chosen[i]]);
		note(2, "%s: %s = %.10g", label, xf_ensemble_name(e), value);
		rc = xf_score_report_add(report, label, xf_ensemble_name(e), value, true, &err);
	}
	free(chosen);
	if (rc < 0)
		die_err(&err);
}

/* Ensemble metrics, when asked for (or with all, when two or more inputs have probabilities). */
static void score_ensembles(const struct score_opts *o, struct xf_score_candidate *cands, int n,
			    struct xf_score_report *report)
{
	const struct xf_score_data **pool = calloc(n + 1, sizeof(*pool));
	const char **names = calloc(n + 1, sizeof(*names));
	bool all = !o->metrics || !strcmp(o->metrics, "all");
	struct xf_err err = XF_ERR_INIT;
	int k = 0;

	if (!pool || !names)
		die("out of memory");
	for (int i = 0; i < n; i++)
		if (cands[i].data.p) {
			if (xf_score_check(&cands[i].data, XF_NEEDS_P | XF_NEEDS_Y, &err) < 0)
				die("%s: %s", cands[i].name, err.msg);
			names[k] = cands[i].name;
			pool[k++] = &cands[i].data;
		}
	if (o->ensemble && o->ensemble > k)
		die("--ensemble %d: only %d inputs have probabilities (field p)", o->ensemble, k);
	for (int e = 0; e < XF_ENSEMBLE_COUNT; e++) {
		if (!wanted(o->metrics, xf_ensemble_name(e)) || (all && k < 2 && !o->ensemble))
			continue;
		if (k == 0)
			die("%s: no input has probabilities (field p)", xf_ensemble_name(e));
		score_ensemble(o, (enum xf_ensemble_metric)e, pool, names, k, report);
	}
	free(pool);
	free(names);
}
