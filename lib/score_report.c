/* score_report: rank and write xfer-score's results; see score_report.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score_report.h"

struct result {
	char *candidate, *metric;
	double value, weight;
	bool higher_is_better;
	int64_t rank;
	int64_t metric_index;  /* order of the metric's first appearance, for sorting */
};

struct xf_score_report {
	struct result *rows;
	int64_t n, cap;
	json_t *skipped;      /* [{metric, why}] */
	enum xf_weighting weighting;
	double temperature;
};

int xf_report_parse_format(const char *name, enum xf_report_format *out)
{
	static const char *const names[] = { "stream", "tsv", "json", "text" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i])) {
			*out = (enum xf_report_format)i;
			return 0;
		}
	return -1;
}

int xf_weighting_parse(const char *name, enum xf_weighting *out)
{
	if (!strcmp(name, "softmax"))
		*out = XF_WEIGHTS_SOFTMAX;
	else if (!strcmp(name, "normalized"))
		*out = XF_WEIGHTS_NORMALIZED;
	else
		return -1;
	return 0;
}

struct xf_score_report *xf_score_report_new(struct xf_err *err)
{
	struct xf_score_report *r = calloc(1, sizeof(*r));

	if (r && !(r->skipped = json_array())) {
		free(r);
		r = NULL;
	}
	if (!r)
		xf_err_nomem(err, sizeof(*r));
	return r;
}

void xf_score_report_set_weights(struct xf_score_report *r, enum xf_weighting how, double temperature)
{
	r->weighting = how;
	r->temperature = temperature;
}

int xf_score_report_add(struct xf_score_report *r, const char *candidate, const char *metric, double value,
			bool higher_is_better, struct xf_err *err)
{
	struct result *row;

	if (r->n == r->cap) {
		int64_t cap = r->cap ? 2 * r->cap : 32;
		struct result *p = realloc(r->rows, cap * sizeof(*p));

		if (!p)
			return xf_err_nomem(err, cap * sizeof(*p));
		r->rows = p, r->cap = cap;
	}
	row = &r->rows[r->n];
	row->candidate = strdup(candidate);
	row->metric = strdup(metric);
	if (!row->candidate || !row->metric) {
		free(row->candidate), free(row->metric);
		return xf_err_nomem(err, 0);
	}
	row->value = value;
	row->higher_is_better = higher_is_better;
	r->n++;
	return 0;
}

int xf_score_report_skip(struct xf_score_report *r, const char *metric, const char *why, struct xf_err *err)
{
	size_t i;
	json_t *s;

	json_array_foreach(r->skipped, i, s)
		if (!strcmp(json_string_value(json_object_get(s, "metric")), metric))
			return 0; /* the first reason stands */
	if (json_array_append_new(r->skipped, json_pack("{s:s, s:s}", "metric", metric, "why", why)) < 0)
		return xf_err_nomem(err, 0);
	return 0;
}

/* Whether a beats b for this metric (NaN never beats anything). */
static bool better(const struct result *a, const struct result *b)
{
	if (isnan(a->value))
		return false;
	if (isnan(b->value))
		return true;
	return a->higher_is_better ? a->value > b->value : a->value < b->value;
}

static void rank_all(struct xf_score_report *r)
{
	for (int64_t i = 0; i < r->n; i++) {
		r->rows[i].rank = 1;
		for (int64_t j = 0; j < r->n; j++)
			if (!strcmp(r->rows[j].metric, r->rows[i].metric) && better(&r->rows[j], &r->rows[i]))
				r->rows[i].rank++;
	}
}

/* Order for people: metrics in the order they were computed, each by rank. */
static void number_metrics(struct xf_score_report *r)
{
	for (int64_t i = 0; i < r->n; i++) {
		r->rows[i].metric_index = i;
		for (int64_t j = 0; j < i; j++)
			if (!strcmp(r->rows[j].metric, r->rows[i].metric)) {
				r->rows[i].metric_index = r->rows[j].metric_index;
				break;
			}
	}
}

/* The score a weight grows with: the value, negated where lower is better (NaN: no weight). */
static double merit(const struct result *x)
{
	return x->higher_is_better ? x->value : -x->value;
}

/* Weights of the rows [first, end) of one metric (sorted together). */
static int weigh_metric(struct xf_score_report *r, int64_t first, int64_t end, struct xf_err *err)
{
	double top = -INFINITY, sum = 0;

	for (int64_t k = first; k < end; k++)
		if (!isnan(r->rows[k].value) && merit(&r->rows[k]) > top)
			top = merit(&r->rows[k]);
	for (int64_t k = first; k < end; k++) {
		struct result *x = &r->rows[k];

		if (r->weighting == XF_WEIGHTS_NORMALIZED && !x->higher_is_better)
			return xf_err_set(err, XF_E_USAGE, "--weights normalized: %s is lower-is-better; use softmax",
					  x->metric);
		if (isnan(x->value))
			x->weight = 0;
		else if (r->weighting == XF_WEIGHTS_SOFTMAX)
			x->weight = isinf(top) ? (merit(x) == top) : exp((merit(x) - top) / r->temperature);
		else
			x->weight = fmax(x->value, 0);
		sum += x->weight;
	}
	if (!(sum > 0))
		return xf_err_set(err, XF_E_FORMAT, "--weights: no candidate has a %s %s", r->weighting ==
				  XF_WEIGHTS_NORMALIZED ? "positive" : "finite", r->rows[first].metric);
	for (int64_t k = first; k < end; k++)
		r->rows[k].weight /= sum;
	return 0;
}

static int weigh_all(struct xf_score_report *r, struct xf_err *err)
{
	int rc = 0;

	for (int64_t first = 0, end; rc == 0 && first < r->n; first = end) {
		for (end = first + 1; end < r->n && r->rows[end].metric_index == r->rows[first].metric_index; end++)
			;
		rc = r->weighting == XF_WEIGHTS_NONE ? 0 : weigh_metric(r, first, end, err);
	}
	return rc;
}

static int by_metric_rank(const void *pa, const void *pb)
{
	const struct result *a = pa, *b = pb;

	if (a->metric_index != b->metric_index)
		return a->metric_index < b->metric_index ? -1 : 1;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

static int write_tsv_row(const struct xf_score_report *r, const struct result *x, struct xf_sink *sink,
			 struct xf_err *err)
{
	if (r->weighting == XF_WEIGHTS_NONE)
		return xf_sink_printf(sink, err, "%s\t%s\t%.17g\t%lld\n", x->candidate, x->metric, x->value,
				      (long long)x->rank);
	return xf_sink_printf(sink, err, "%s\t%s\t%.17g\t%lld\t%.17g\n", x->candidate, x->metric, x->value,
			      (long long)x->rank, x->weight);
}

static int write_text_row(const struct xf_score_report *r, const struct result *x, struct xf_sink *sink,
			  struct xf_err *err)
{
	char weight[32] = "";

	if (r->weighting != XF_WEIGHTS_NONE)
		snprintf(weight, sizeof(weight), "%8.4f  ", x->weight);
	return xf_sink_printf(sink, err, "%-16s %5lld  %s%-24s %.10g%s\n", x->metric, (long long)x->rank, weight,
			      x->candidate, x->value, x->higher_is_better ? "" : "  (lower is better)");
}

static int write_text(const struct xf_score_report *r, bool tsv, struct xf_sink *sink, struct xf_err *err)
{
	bool weighed = r->weighting != XF_WEIGHTS_NONE;
	size_t i;
	json_t *s;
	int rc = tsv ? xf_sink_printf(sink, err, "candidate\tmetric\tvalue\trank%s\n", weighed ? "\tweight" : "")
		     : xf_sink_printf(sink, err, "%-16s %5s  %s%-24s %s\n", "metric", "rank", weighed ? "  weight  " : "",
				      "candidate", "value");

	for (int64_t k = 0; k < r->n && rc == 0; k++)
		rc = tsv ? write_tsv_row(r, &r->rows[k], sink, err) : write_text_row(r, &r->rows[k], sink, err);
	json_array_foreach(r->skipped, i, s)
		if (rc == 0 && !tsv)
			rc = xf_sink_printf(sink, err, "skipped %s: %s\n", json_string_value(json_object_get(s, "metric")),
				 json_string_value(json_object_get(s, "why")));
	return rc;
}

static int write_json(const struct xf_score_report *r, struct xf_sink *sink, struct xf_err *err)
{
	json_t *rows = json_array(), *doc;
	char *text;
	int rc;

	for (int64_t k = 0; k < r->n; k++) {
		const struct result *x = &r->rows[k];
		json_t *row = json_pack("{s:s, s:s, s:o, s:I, s:b}", "candidate", x->candidate, "metric", x->metric, "value",
					isfinite(x->value) ? json_real(x->value) : json_null(), "rank", (json_int_t)x->rank,
					"higher_is_better", x->higher_is_better);

		if (row && r->weighting != XF_WEIGHTS_NONE)
			json_object_set_new(row, "weight", json_real(x->weight));
		json_array_append_new(rows, row);
	}
	doc = json_pack("{s:o, s:O}", "results", rows, "skipped", r->skipped);
	text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(doc);
	if (!text)
		return xf_err_nomem(err, 0);
	rc = xf_sink_write(sink, text, strlen(text), err);
	free(text);
	return rc ? rc : xf_sink_write(sink, "\n", 1, err);
}

/* A STR column of n strings picked from the results by `which`. */
static int string_column(const struct xf_score_report *r, bool metric, struct xf_tensor *out, struct xf_err *err)
{
	size_t bytes = 0;
	char *text;

	for (int64_t k = 0; k < r->n; k++)
		bytes += strlen(metric ? r->rows[k].metric : r->rows[k].candidate) + 1;
	if (xf_tensor_alloc_str(out, r->n, bytes, &text, err) < 0)
		return -1;
	for (int64_t k = 0; k < r->n; k++) {
		const char *s = metric ? r->rows[k].metric : r->rows[k].candidate;

		((char **)out->data)[k] = strcpy(text, s);
		text += strlen(s) + 1;
	}
	return 0;
}

static int write_stream(const struct xf_score_report *r, struct xf_header *h, struct xf_writer *w,
			struct xf_err *err)
{
	struct xf_tensor cols[5] = { XF_TENSOR_INIT, XF_TENSOR_INIT, XF_TENSOR_INIT, XF_TENSOR_INIT, XF_TENSOR_INIT };
	bool weighed = r->weighting != XF_WEIGHTS_NONE;
	int64_t n = r->n;
	int rc;

	h->kind = XF_KIND_TABLE;
	rc = xf_header_add_field(h, "candidate", XF_DTYPE_STR, 0, NULL, err);
	rc = rc ? rc : xf_header_add_field(h, "metric", XF_DTYPE_STR, 0, NULL, err);
	rc = rc ? rc : xf_header_add_field(h, "value", XF_DTYPE_F64, 0, NULL, err);
	rc = rc ? rc : xf_header_add_field(h, "rank", XF_DTYPE_I64, 0, NULL, err);
	rc = rc || !weighed ? rc : xf_header_add_field(h, "weight", XF_DTYPE_F64, 0, NULL, err);
	rc = rc ? rc : string_column(r, false, &cols[0], err);
	rc = rc ? rc : string_column(r, true, &cols[1], err);
	rc = rc ? rc : xf_tensor_alloc(&cols[2], XF_DTYPE_F64, 1, &n, err);
	rc = rc ? rc : xf_tensor_alloc(&cols[3], XF_DTYPE_I64, 1, &n, err);
	rc = rc || !weighed ? rc : xf_tensor_alloc(&cols[4], XF_DTYPE_F64, 1, &n, err);
	for (int64_t k = 0; rc == 0 && k < n; k++) {
		((double *)cols[2].data)[k] = r->rows[k].value;
		((int64_t *)cols[3].data)[k] = r->rows[k].rank;
		if (weighed)
			((double *)cols[4].data)[k] = r->rows[k].weight;
	}
	rc = rc ? rc : xf_writer_begin(w, h, err);
	rc = rc ? rc : xf_writer_rows(w, n, cols, err);
	rc = rc ? rc : xf_writer_end(w, err);
	for (int i = 0; i < 5; i++)
		xf_tensor_release(&cols[i]);
	return rc;
}

int xf_score_report_write(struct xf_score_report *r, enum xf_report_format format, struct xf_header *h,
			  struct xf_writer *w, struct xf_sink *sink, struct xf_err *err)
{
	rank_all(r);
	number_metrics(r);
	qsort(r->rows, r->n, sizeof(*r->rows), by_metric_rank);
	if (weigh_all(r, err) < 0)
		return -1;
	switch (format) {
	case XF_REPORT_STREAM: return write_stream(r, h, w, err);
	case XF_REPORT_JSON: return write_json(r, sink, err);
	default: return write_text(r, format == XF_REPORT_TSV, sink, err);
	}
}

void xf_score_report_free(struct xf_score_report *r)
{
	if (!r)
		return;
	for (int64_t k = 0; k < r->n; k++)
		free(r->rows[k].candidate), free(r->rows[k].metric);
	free(r->rows);
	json_decref(r->skipped);
	free(r);
}
