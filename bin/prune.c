/*
 * xfer-prune: choose which rows of a data set to keep: the target-aware source pruning of
 * DP4TL (label and feature mapping) and the coreset and deduplication methods around it. Writes
 * the kept rows (re-reading a file rather than holding every row) or a table of their indices.
 * See xfer-prune(1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "linalg.h"
#include "prog.h"
#include "prune.h"
#include "samples.h"

static const char synopsis[] =
	"usage: xfer-prune --method lm|fm|codebook|kcenter|herding|moderate|random|semdedup\n"
	"                  --keep F|N [--per-class] [--target FILE] [--target-field NAME]\n"
	"                  [--field NAME] [--labels NAME] [--clusters K] [--groups kmeans|labels]\n"
	"                  [--eps E] [--rule icarl|welling] [--kmeans-iter N] [--minibatch B]\n"
	"                  [--seed S] [--indices] [-o FILE] [-j N] [FILE]\n";

static const char help_tail[] =
	"\n"
	"Choose rows of the source stream (stdin when no FILE) to keep, and write them (every field,\n"
	"in their order) or, with --indices, a table of their row indices with the reason.\n"
	"\n"
	"Methods:\n"
	"  lm         DP4TL label mapping: the source classes that the source model predicts most\n"
	"             often for the target rows (--target: a stream with the source model's\n"
	"             probabilities or logits over the source classes); keeps whole classes\n"
	"  fm         DP4TL feature mapping: k-means clusters of the source features (or the\n"
	"             classes, --groups labels) that attract the most target features (--target)\n"
	"  codebook   k-means, then evenly spaced members of each cluster (TL;DR's selection)\n"
	"  kcenter    k-center greedy: the farthest row from those kept, repeatedly\n"
	"  herding    rows whose running mean tracks the mean (iCaRL's rule)\n"
	"  moderate   rows of middling distance to their class's median (moderate coreset)\n"
	"  random     uniform (stratified with --per-class)\n"
	"  semdedup   drop near-duplicates within spherical k-means clusters (cosine > 1 - eps)\n"
	"\n"
	"Options:\n"
	"      --keep F|N        a fraction (0 < F < 1) or a count of rows to keep; for lm and fm,\n"
	"                        of classes or clusters (DP4TL's unit)\n"
	"      --per-class       apply the fraction within each class (codebook: always per cluster)\n"
	"      --target FILE     the target task (lm, fm)\n"
	"      --target-field F  lm: the predictions (default: probs, logits or p, the first present);\n"
	"                        fm: the target features (default: --field)\n"
	"      --field NAME      the features (default x); --labels NAME: the labels (default y)\n"
	"      --clusters K      k-means clusters (fm, codebook, semdedup; default: the classes for\n"
	"                        fm, the square root of the rows otherwise)\n"
	"      --groups G        fm: kmeans (default) or labels (the source classes as groups)\n"
	"      --eps E           semdedup: the threshold (default: chosen to keep --keep rows)\n"
	"      --rule R          herding: icarl (default: argmin) or welling (inner product)\n"
	"      --kmeans-iter N   Lloyd iterations at most (default 300); --minibatch B: mini-batch\n"
	"                        k-means with batches of B rows (N passes, default 10)\n"
	"      --seed S          k-means, k-center's first row, random (default 0)\n"
	"      --indices         write a table (index, group, score) of the kept rows instead\n"
	"  -o, --output FILE     write FILE (through a temporary, renamed on success)\n"
	"  -j, --threads N       threads (default: all cores)\n"
	"  -q, -v                no summary; more detail;  -h, -V\n"
	"\n"
	"Examples:\n"
	"  xfer-prune --method lm --keep 0.5 --target target-preds.xs source.xs -o pruned.xs\n"
	"  xfer-prune --method fm --keep 100 --clusters 500 --target target-feats.xs source-feats.xs --indices\n"
	"  xfer-prune --method kcenter --keep 0.1 --field x.fc1 features.xs -o coreset.xs\n"
	"  xfer-prune --method semdedup --eps 0.05 --clusters 100 embeddings.xs -o dedup.xs\n"
	"  xfer-prune --method random --keep 0.2 --per-class --seed 3 data.xs -o subset.xs\n";

enum method { M_LM, M_FM, M_CODEBOOK, M_KCENTER, M_HERDING, M_MODERATE, M_RANDOM, M_SEMDEDUP };

static const char *const method_names[] = { "lm", "fm", "codebook", "kcenter", "herding", "moderate", "random",
					    "semdedup" };

enum { OPT_METHOD = PROG_OPT_FIRST_FREE, OPT_KEEP, OPT_PER_CLASS, OPT_TARGET, OPT_TARGET_FIELD, OPT_FIELD,
       OPT_LABELS, OPT_CLUSTERS, OPT_GROUPS, OPT_EPS, OPT_RULE, OPT_KMEANS_ITER, OPT_MINIBATCH, OPT_SEED,
       OPT_INDICES };

struct prune_opts {
	struct prog_common common;
	int method;                   /* -1 until given */
	double fraction;              /* --keep below 1 */
	int64_t count;                /* --keep as a count */
	bool per_class, use_labels, welling, indices, iter_given;
	const char *target, *target_field, *field, *labels, *input;
	double eps;                   /* < 0: from --keep */
	struct xf_kmeans_opts km;     /* k 0: the default */
};

static void parse_keep(const char *arg, struct prune_opts *o)
{
	double v = prog_parse_double("--keep", arg);

	if (!(v > 0) || !isfinite(v) || (v >= 1 && v != floor(v)))
		usage_error("--keep: '%s' is neither a fraction (0 < F < 1) nor a count", arg);
	if (v < 1)
		o->fraction = v, o->count = 0;
	else
		o->count = (int64_t)v, o->fraction = 0;
}

static void parse_option(int opt, const char *arg, struct prune_opts *o)
{
	switch (opt) {
	case OPT_METHOD:
		o->method = -1;
		for (int m = 0; m < 8; m++)
			if (!strcmp(arg, method_names[m]))
				o->method = m;
		if (o->method < 0)
			usage_error("--method: '%s' is not one of the methods (see --help)", arg);
		break;
	case OPT_KEEP: parse_keep(arg, o); break;
	case OPT_PER_CLASS: o->per_class = true; break;
	case OPT_TARGET: o->target = arg; break;
	case OPT_TARGET_FIELD: o->target_field = arg; break;
	case OPT_FIELD: o->field = arg; break;
	case OPT_LABELS: o->labels = arg; break;
	case OPT_CLUSTERS: o->km.k = prog_parse_int("--clusters", arg, 1, 1 << 24); break;
	case OPT_GROUPS:
		if (strcmp(arg, "kmeans") && strcmp(arg, "labels"))
			usage_error("--groups: kmeans or labels");
		o->use_labels = !strcmp(arg, "labels");
		break;
	case OPT_EPS:
		o->eps = prog_parse_double("--eps", arg);
		if (!(o->eps >= 0 && o->eps <= 2))
			usage_error("--eps: from 0 to 2 (a cosine distance)");
		break;
	case OPT_RULE:
		if (strcmp(arg, "icarl") && strcmp(arg, "welling"))
			usage_error("--rule: icarl or welling");
		o->welling = !strcmp(arg, "welling");
		break;
	case OPT_KMEANS_ITER: o->km.max_iter = (int)prog_parse_int("--kmeans-iter", arg, 1, 1 << 20), o->iter_given = true; break;
	case OPT_MINIBATCH: o->km.batch = prog_parse_int("--minibatch", arg, 1, INT64_MAX); break;
	case OPT_SEED: o->km.seed = (uint64_t)prog_parse_int("--seed", arg, 0, INT64_MAX); break;
	case OPT_INDICES: o->indices = true; break;
	}
}

static void check_options(const struct prune_opts *o)
{
	bool dp4tl = o->method == M_LM || o->method == M_FM;

	if (o->method < 0)
		usage_error("--method is required");
	if (!o->fraction && !o->count && !(o->method == M_SEMDEDUP && o->eps >= 0))
		usage_error("--keep F|N is required%s", o->method == M_SEMDEDUP ? " (or --eps)" : "");
	if (dp4tl != (o->target != NULL))
		usage_error(dp4tl ? "--method %s needs --target FILE" : "--target goes with lm and fm", method_names[o->method]);
	if (o->per_class && (dp4tl || o->method == M_CODEBOOK || o->method == M_SEMDEDUP))
		usage_error("--per-class goes with kcenter, herding, moderate and random");
	if (o->per_class && o->count)
		usage_error("--per-class takes --keep as a fraction");
	if (o->use_labels && o->method != M_FM)
		usage_error("--groups goes with fm");
}

static void parse_options(int argc, char **argv, struct prune_opts *o)
{
	static const struct option longopts[] = {
		PROG_COMMON_LONG,
		{ "method", required_argument, NULL, OPT_METHOD }, { "keep", required_argument, NULL, OPT_KEEP },
		{ "per-class", no_argument, NULL, OPT_PER_CLASS }, { "target", required_argument, NULL, OPT_TARGET },
		{ "target-field", required_argument, NULL, OPT_TARGET_FIELD },
		{ "field", required_argument, NULL, OPT_FIELD }, { "labels", required_argument, NULL, OPT_LABELS },
		{ "clusters", required_argument, NULL, OPT_CLUSTERS }, { "groups", required_argument, NULL, OPT_GROUPS },
		{ "eps", required_argument, NULL, OPT_EPS }, { "rule", required_argument, NULL, OPT_RULE },
		{ "kmeans-iter", required_argument, NULL, OPT_KMEANS_ITER },
		{ "minibatch", required_argument, NULL, OPT_MINIBATCH }, { "seed", required_argument, NULL, OPT_SEED },
		{ "indices", no_argument, NULL, OPT_INDICES }, { NULL, 0, NULL, 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, PROG_COMMON_SHORT, longopts, NULL)) != -1)
		if (!prog_common_option(opt, optarg, &o->common))
			parse_option(opt, optarg, o);
	o->input = prog_single_input(argc, argv);
	check_options(o);
}

/* The source: features and labels in memory; the rest re-read from the file, or all in memory for stdin. */
struct source {
	struct xf_reader *r;     /* a file, re-read for the output (NULL for stdin) */
	struct xf_samples all;   /* stdin: every field */
	float *x;                /* n x d, or NULL when the method needs none */
	int64_t n, d;
	int64_t *y;              /* n labels, or NULL */
	int classes;
};

static bool needs_features(int method)
{
	return method != M_LM && method != M_RANDOM;
}

static bool needs_labels(const struct prune_opts *o)
{
	return o->method == M_LM || o->method == M_MODERATE || o->per_class || o->use_labels || o->labels;
}

/* Column t (rows x shape) into a new float array, checked finite. */
static float *floats_of(const struct xf_tensor *t, const char *path, const char *name, int64_t *d)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor f = XF_TENSOR_INIT;
	int64_t n = t->shape[0], count;

	if (t->dtype == XF_DTYPE_STR)
		die("%s: field '%s' holds strings", path, name);
	if (xf_tensor_convert(t, XF_DTYPE_F32, &f, &err) < 0)
		die("%s: field '%s': %s", path, name, err.msg);
	count = n ? xf_tensor_count(&f) / n : xf_shape_count(t->ndim - 1, t->shape + 1);
	for (int64_t i = 0; i < n * count; i++)
		if (!isfinite(((float *)f.data)[i]))
			die("%s: field '%s': row %lld holds NaN or infinity", path, name, (long long)(i / count));
	*d = count;
	return f.data; /* contiguous and owned: the allocation is the data */
}

static int64_t *labels_of(const struct xf_tensor *t, const char *path, const char *name, int *classes)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor l = XF_TENSOR_INIT;
	int64_t *y;

	if (t->ndim != 1 || xf_tensor_convert(t, XF_DTYPE_I64, &l, &err) < 0)
		die("%s: field '%s' is not one integer label per row%s%s", path, name, err.msg[0] ? ": " : "", err.msg);
	y = l.data;
	*classes = 0;
	for (int64_t i = 0; i < t->shape[0]; i++) {
		if (y[i] < 0 || y[i] >= (1 << 20))
			die("%s: label %lld of row %lld is out of range (0 to 2^20-1)", path, (long long)y[i], (long long)i);
		*classes = y[i] + 1 > *classes ? (int)y[i] + 1 : *classes;
	}
	return y;
}

/* The header of a file, so that the labels can be read only when present. */
static const struct xf_header *first_header(struct xf_reader *r, const char *path)
{
	struct xf_frame f = XF_FRAME_INIT;
	struct xf_err err = XF_ERR_INIT;
	int rc = xf_reader_next(r, &f, &err);

	xf_frame_release(&f);
	if (rc < 0)
		die_input(path, &err);
	if (rc == 0)
		die("%s: empty input (no stream)", path);
	if (xf_reader_header(r)->kind == XF_KIND_MODEL)
		die("%s: a model stream; samples expected", path);
	return xf_reader_header(r);
}

static void read_source(const struct prune_opts *o, struct source *s)
{
	const char *field = o->field ? o->field : "x", *labels = o->labels ? o->labels : "y", *names[2];
	char any[XF_MAX_NAME + 1];
	struct xf_tensor cols[2] = { XF_TENSOR_INIT, XF_TENSOR_INIT };
	struct xf_err err = XF_ERR_INIT;
	bool want_y;
	int k = 0;

	memset(s, 0, sizeof(*s));
	s->r = prog_open_reader(o->input);
	if (!strcmp(o->input, "-")) {
		if (xf_samples_read(s->r, &s->all, &err) < 0)
			die_input(o->input, &err);
		xf_reader_close(s->r), s->r = NULL;
		want_y = needs_labels(o) || xf_header_find(&s->all.h, labels) >= 0;
	} else {
		const struct xf_header *h = first_header(s->r, o->input);

		want_y = needs_labels(o) || xf_header_find(h, labels) >= 0;
		if (h->n_fields == 0)
			die("%s: no fields", o->input);
		strcpy(any, h->fields[0].name);
	}
	if (needs_features(o->method))
		names[k++] = field;
	if (want_y)
		names[k++] = labels;
	if (k == 0 && s->r) /* random without labels: any field, to count the rows */
		names[k++] = any;
	for (int i = 0; i < k; i++) {
		int f = s->r ? -1 : xf_header_find(&s->all.h, names[i]);

		if (!s->r && f < 0)
			die("%s: no field '%s'", o->input, names[i]);
		if (!s->r)
			xf_tensor_rows(&s->all.cols[f], 0, s->all.n, &cols[i]);
	}
	if (s->r && xf_read_fields(s->r, k, names, (enum xf_dtype[]){ XF_DTYPE_COUNT, XF_DTYPE_COUNT }, cols, &err) < 0)
		die_input(o->input, &err);
	s->n = k ? cols[0].shape[0] : s->all.n;
	if (needs_features(o->method))
		s->x = floats_of(&cols[0], o->input, field, &s->d);
	if (want_y)
		s->y = labels_of(&cols[k - 1], o->input, labels, &s->classes);
	if (s->r)
		for (int i = 0; i < k; i++)
			xf_tensor_release(&cols[i]);
}

/* The target's field: lm's predictions over the source classes, fm's features. */
static float *read_target(const struct prune_opts *o, const struct source *s, int64_t *n, int64_t *width)
{
	static const char *const pred_names[] = { "probs", "logits", "p" };
	struct xf_samples t = XF_SAMPLES_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_reader *r = prog_open_reader(o->target);
	const char *name = o->target_field ? o->target_field : o->method == M_FM ? (o->field ? o->field : "x") : NULL;
	float *v;

	if (xf_samples_read(r, &t, &err) < 0)
		die_input(o->target, &err);
	xf_reader_close(r);
	for (int k = 0; !name && k < 3; k++)
		if (xf_header_find(&t.h, pred_names[k]) >= 0)
			name = pred_names[k];
	if (!name || xf_header_find(&t.h, name) < 0)
		die("%s: no field '%s'%s", o->target, name ? name : "probs",
		    name ? "" : " (nor logits or p): lm needs the source model's predictions on the target");
	v = floats_of(&t.cols[xf_header_find(&t.h, name)], o->target, name, width);
	*n = t.n;
	if (o->method == M_LM && *width != s->classes)
		die("%s: the predictions cover %lld classes, the source labels %d (0 to %d): the target must be "
		    "predicted by a model of the source classes", o->target, (long long)*width, s->classes, s->classes - 1);
	if (o->method == M_FM && *width != s->d)
		die("%s: %lld features per row, the source has %lld", o->target, (long long)*width, (long long)s->d);
	xf_samples_release(&t);
	return v;
}

/* The number of groups to keep for lm and fm: a count, or the fraction of the groups. */
static int groups_to_keep(const struct prune_opts *o, int groups)
{
	int64_t k = o->count ? o->count : xf_prune_budget(o->fraction, groups);

	if (k > groups)
		die("%s: --keep %lld groups, there are %d", o->input, (long long)k, groups);
	return (int)k;
}

static int64_t rows_to_keep(const struct prune_opts *o, const struct source *s)
{
	if (o->count > s->n)
		die("%s: --keep %lld rows, the data has %lld", o->input, (long long)o->count, (long long)s->n);
	return o->count;
}

static void run_method(struct prune_opts *o, struct source *s, struct xf_prune_data *p, json_t *record)
{
	struct xf_err err = XF_ERR_INIT;
	int64_t count = rows_to_keep(o, s), n_target = 0, width;
	float *target = o->target ? read_target(o, s, &n_target, &width) : NULL;
	double eps = o->eps;
	int rc = 0;

	if (!o->km.k)
		o->km.k = o->method == M_FM ? (s->classes > 0 ? s->classes : 100) : (int64_t)ceil(sqrt((double)s->n));
	o->km.k = o->km.k > s->n ? s->n : o->km.k;
	switch (o->method) {
	case M_LM: rc = xf_prune_lm(p, target, n_target, groups_to_keep(o, s->classes), &err); break;
	case M_FM:
		rc = xf_prune_fm(p, target, n_target, groups_to_keep(o, o->use_labels ? s->classes : (int)o->km.k),
				 o->use_labels, &o->km, &err);
		break;
	case M_CODEBOOK: rc = xf_prune_codebook(p, o->count ? (double)o->count / s->n : o->fraction, &o->km, &err); break;
	case M_KCENTER: rc = xf_prune_kcenter(p, count, o->fraction, o->per_class, o->km.seed, o->km.threads, &err); break;
	case M_HERDING: rc = xf_prune_herding(p, count, o->fraction, o->per_class, o->welling, &err); break;
	case M_MODERATE: rc = xf_prune_moderate(p, count, o->fraction, o->per_class, &err); break;
	case M_RANDOM: rc = xf_prune_random(p, count, o->fraction, o->per_class, o->km.seed, &err); break;
	case M_SEMDEDUP:
		rc = xf_prune_semdedup(p, eps, count ? count : xf_prune_budget(o->fraction, s->n), &o->km, &eps, &err);
		json_object_set_new(record, "eps", json_real(eps));
		break;
	}
	if (rc < 0)
		die_input(o->input, &err);
	free(target);
}

/* ---- output ---- */

static void write_indices(const struct xf_prune_data *p, json_t *record, struct xf_writer *w)
{
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor cols[3] = { XF_TENSOR_INIT, XF_TENSOR_INIT, XF_TENSOR_INIT };
	int64_t kept = 0, k = 0;

	for (int64_t i = 0; i < p->n; i++)
		kept += p->keep[i];
	h.kind = XF_KIND_TABLE;
	h.meta = json_pack("{s:O}", "prune", record);
	if (xf_header_add_field(&h, "index", XF_DTYPE_I64, 0, NULL, &err) < 0 ||
	    xf_header_add_field(&h, "group", XF_DTYPE_I64, 0, NULL, &err) < 0 ||
	    xf_header_add_field(&h, "score", XF_DTYPE_F64, 0, NULL, &err) < 0 ||
	    xf_tensor_alloc(&cols[0], XF_DTYPE_I64, 1, &kept, &err) < 0 || xf_tensor_alloc(&cols[1], XF_DTYPE_I64, 1, &kept, &err) < 0 ||
	    xf_tensor_alloc(&cols[2], XF_DTYPE_F64, 1, &kept, &err) < 0)
		die_err(&err);
	for (int64_t i = 0; i < p->n; i++)
		if (p->keep[i]) {
			((int64_t *)cols[0].data)[k] = i, ((int64_t *)cols[1].data)[k] = p->group[i];
			((double *)cols[2].data)[k++] = p->score[i];
		}
	prog_add_history(&h);
	if (xf_writer_begin(w, &h, &err) < 0 || xf_writer_rows(w, kept, cols, &err) < 0 || xf_writer_end(w, &err) < 0)
		die_err(&err);
	for (int i = 0; i < 3; i++)
		xf_tensor_release(&cols[i]);
	xf_header_release(&h);
}

/* Rows [0, n) of cols (under header h) whose keep flag is set, as one call to the writer. */
static void write_kept(struct xf_writer *w, const struct xf_header *h, const struct xf_tensor *cols, int64_t n,
		       const bool *keep)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor *out = calloc((size_t)h->n_fields + 1, sizeof(*out));
	struct xf_tensor_list parts = XF_TENSOR_LIST_INIT;
	int64_t kept = 0;

	if (!out)
		die("out of memory");
	for (int64_t i = 0; i < n; i++)
		kept += keep[i];
	for (int f = 0; f < h->n_fields; f++) {
		for (int64_t i = 0; i < n; i++) {
			int64_t j = i;
			struct xf_tensor view, copy = XF_TENSOR_INIT;

			if (!keep[i])
				continue;
			while (j < n && keep[j])
				j++;
			xf_tensor_rows(&cols[f], i, j, &view);
			if (xf_tensor_copy(&view, &copy, &err) < 0 || xf_tensor_list_take(&parts, &copy, &err) < 0)
				die_err(&err);
			i = j;
		}
		if (parts.n && xf_tensor_concat_rows(parts.items, parts.n, &out[f], &err) < 0)
			die_err(&err);
		xf_tensor_list_release(&parts);
	}
	if (kept && xf_writer_rows(w, kept, out, &err) < 0)
		die_err(&err);
	for (int f = 0; f < h->n_fields; f++)
		xf_tensor_release(&out[f]);
	free(out);
}

static void begin(struct xf_writer *w, const struct xf_header *in, json_t *record)
{
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;

	if (xf_header_copy(in, &h, &err) < 0)
		die_err(&err);
	json_object_set(h.meta, "prune", record);
	prog_add_history(&h);
	if (xf_writer_begin(w, &h, &err) < 0)
		die_err(&err);
	xf_header_release(&h);
}

/* The file again, frame by frame: only one frame of rows in memory. */
static void stream_kept(struct source *s, const char *path, const bool *keep, json_t *record, struct xf_writer *w)
{
	struct xf_frame f = XF_FRAME_INIT;
	struct xf_err err = XF_ERR_INIT;
	int64_t row = 0;
	int rc;

	if (xf_reader_rewind(s->r, &err) < 0)
		die_input(path, &err);
	while ((rc = xf_reader_next(s->r, &f, &err)) > 0) {
		if (f.type == XF_FRAME_HEADER)
			begin(w, xf_reader_header(s->r), record);
		else if (f.type == XF_FRAME_BATCH && row + f.n_rows > s->n)
			die("%s: changed while it was read (more rows the second time)", path);
		else if (f.type == XF_FRAME_BATCH)
			write_kept(w, xf_reader_header(s->r), f.cols, f.n_rows, keep + row), row += f.n_rows;
		else if (f.type == XF_FRAME_END && xf_writer_end(w, &err) < 0)
			die_err(&err);
		xf_frame_release(&f);
	}
	if (rc < 0)
		die_input(path, &err);
}

/* stdin's rows, held in memory. */
static void write_all_kept(const struct source *s, const bool *keep, json_t *record, struct xf_writer *w)
{
	struct xf_err err = XF_ERR_INIT;

	begin(w, &s->all.h, record);
	write_kept(w, &s->all.h, s->all.cols, s->all.n, keep);
	if (xf_writer_end(w, &err) < 0)
		die_err(&err);
}

static void summarise(const struct prune_opts *o, const struct xf_prune_data *p, json_t *record)
{
	int64_t kept = 0;
	int groups = 0;

	for (int64_t i = 0; i < p->n; i++)
		kept += p->keep[i];
	json_object_set_new(record, "kept", json_integer(kept));
	json_object_set_new(record, "rows", json_integer(p->n));
	if (o->method == M_LM || o->method == M_FM) {
		int64_t top = 0;
		bool *seen;

		for (int64_t i = 0; i < p->n; i++)
			top = p->group[i] > top ? p->group[i] : top;
		if (!(seen = calloc((size_t)top + 1, sizeof(bool))))
			die("out of memory");
		for (int64_t i = 0; i < p->n; i++)
			if (p->keep[i] && !seen[p->group[i]])
				seen[p->group[i]] = true, groups++;
		free(seen);
		json_object_set_new(record, "groups_kept", json_integer(groups));
	}
	note(1, "%s: kept %lld of %lld rows (%.1f%%)", method_names[o->method], (long long)kept, (long long)p->n,
	     p->n ? 100.0 * (double)kept / (double)p->n : 0);
	if (groups)
		note(1, "%s: %d groups kept", method_names[o->method], groups);
}

int main(int argc, char **argv)
{
	static char help[sizeof(synopsis) + sizeof(help_tail)];
	struct prune_opts o = { .common = PROG_COMMON_INIT, .method = -1, .eps = -1, .km = XF_KMEANS_OPTS_INIT };
	struct source s;
	struct xf_prune_data p;
	struct prog_output *out;
	json_t *record;

	o.km.k = 0;
	snprintf(help, sizeof(help), "%s%s", synopsis, help_tail);
	prog_init("xfer-prune", synopsis, help);
	prog_set_args(argc, argv);
	parse_options(argc, argv, &o);
	o.km.threads = prog_threads(&o.common);
	if (o.km.batch && !o.iter_given)
		o.km.max_iter = 10;
	xf_linalg_set_threads(o.km.threads);
	read_source(&o, &s);
	p = (struct xf_prune_data){ s.x, s.n, s.d, s.y, s.classes, calloc((size_t)s.n + 1, sizeof(bool)),
				    calloc((size_t)s.n + 1, sizeof(int64_t)), calloc((size_t)s.n + 1, sizeof(double)) };
	if (!p.keep || !p.group || !p.score)
		die("out of memory");
	record = json_pack("{s:s, s:f, s:I, s:I}", "method", method_names[o.method], "fraction", o.fraction, "count",
			   (json_int_t)o.count, "seed", (json_int_t)o.km.seed);
	run_method(&o, &s, &p, record);
	summarise(&o, &p, record);
	out = prog_open_output(&o.common, true);
	if (o.indices)
		write_indices(&p, record, prog_output_writer(out));
	else if (s.r)
		stream_kept(&s, o.input, p.keep, record, prog_output_writer(out));
	else
		write_all_kept(&s, p.keep, record, prog_output_writer(out));
	prog_close_output(out);
	json_decref(record);
	free(p.keep), free(p.group), free(p.score), free(s.x), free(s.y);
	xf_samples_release(&s.all);
	if (s.r)
		xf_reader_close(s.r);
	return 0;
}
