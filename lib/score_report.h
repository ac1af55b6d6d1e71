/*
 * score_report: xfer-score's results (candidate, metric, value), ranked per metric among the
 * candidates, written as a table stream or as TSV, JSON or a text table for people.
 */
#ifndef XF_SCORE_REPORT_H
#define XF_SCORE_REPORT_H

#include "writer.h"

struct xf_score_report;

enum xf_report_format { XF_REPORT_STREAM, XF_REPORT_TSV, XF_REPORT_JSON, XF_REPORT_TEXT };

int xf_report_parse_format(const char *name, enum xf_report_format *out);
struct xf_score_report *xf_score_report_new(struct xf_err *err);
/* Add one value; NaN ranks last. */
int xf_score_report_add(struct xf_score_report *r, const char *candidate, const char *metric, double value,
			bool higher_is_better, struct xf_err *err);
/* Note a metric that --metric all skipped, and why (once per metric: the first reason stands). */
int xf_score_report_skip(struct xf_score_report *r, const char *metric, const char *why, struct xf_err *err);
/*
 * Rank (1 = best; equal values share the better rank) and write. The stream form is one
 * table segment with fields candidate, metric, value, rank under header h (history, meta).
 */
int xf_score_report_write(struct xf_score_report *r, enum xf_report_format format, struct xf_header *h,
			  struct xf_writer *w, struct xf_sink *sink, struct xf_err *err);
void xf_score_report_free(struct xf_score_report *r);

#endif
