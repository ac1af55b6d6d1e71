/*
 * score_report: xfer-score's results (candidate, metric, value), ranked per metric among the
 * candidates, written as a table stream or as TSV, JSON or a text table for people.
 */
#ifndef XF_SCORE_REPORT_H
#define XF_SCORE_REPORT_H

#include "writer.h"

struct xf_score_report;

enum xf_report_format { XF_REPORT_STREAM, XF_REPORT_TSV, XF_REPORT_JSON, XF_REPORT_TEXT };

/*
 * Per-source weights from a metric's values, for choosing one source (the nearest: rank 1)
 * or weighting several, e.g. in a distillation loss sum_s w_s KL(p_s || student):
 *  softmax     w = softmax(s / T), s the value (negated where lower is better);
 *  normalized  w = max(value, 0) / sum of them (metrics where higher is better and >= 0).
 * The weights of one metric sum to 1 over its candidates.
 */
enum xf_weighting { XF_WEIGHTS_NONE, XF_WEIGHTS_SOFTMAX, XF_WEIGHTS_NORMALIZED };

int xf_report_parse_format(const char *name, enum xf_report_format *out);
int xf_weighting_parse(const char *name, enum xf_weighting *out);
struct xf_score_report *xf_score_report_new(struct xf_err *err);
/* Add a weight column to the output (temperature > 0, used by softmax). */
void xf_score_report_set_weights(struct xf_score_report *r, enum xf_weighting how, double temperature);
/* Add one value; NaN ranks last. */
int xf_score_report_add(struct xf_score_report *r, const char *candidate, const char *metric, double value,
			bool higher_is_better, struct xf_err *err);
/* Note a metric that --metric all skipped, and why (once per metric: the first reason stands). */
int xf_score_report_skip(struct xf_score_report *r, const char *metric, const char *why, struct xf_err *err);
/*
 * Rank (1 = best; equal values share the better rank), weigh if asked, and write. The stream
 * form is one table segment with fields candidate, metric, value, rank (and weight) under
 * header h (history, meta). Fails if weights cannot be formed (normalized weights of a metric
 * with no positive value, or where lower is better).
 */
int xf_score_report_write(struct xf_score_report *r, enum xf_report_format format, struct xf_header *h,
			  struct xf_writer *w, struct xf_sink *sink, struct xf_err *err);
void xf_score_report_free(struct xf_score_report *r);

#endif
