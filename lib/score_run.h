/*
 * score_run: xfer-score's work once the candidates are read: every requested metric on every
 * candidate (sharing one cache per candidate), the ensemble metrics over the candidates with
 * probabilities, partial statistics out, and their merging and scoring (--reduce). Results,
 * and metrics skipped under --metric all, go into a struct xf_score_report.
 */
#ifndef XF_SCORE_RUN_H
#define XF_SCORE_RUN_H

#include "reader.h"
#include "score_input.h"
#include "score_osborn.h"
#include "score_report.h"
#include "writer.h"

struct xf_score_run {
	const char *metrics;               /* comma-separated names, or NULL / "all" */
	int threads;                       /* workers for metrics with their own loops (0: all cores) */
	int ensemble;                      /* --ensemble K: greedy choice of K models; 0: all of them */
	struct xf_osborn_weights osborn;   /* weights of OSBORN's domain, task and cohesion terms */
	struct xf_score_report *report;    /* where results go */
	/* optional diagnostics: a line per value with its time, and candidates done */
	void (*note)(void *ctx, const char *line);
	void (*progress)(void *ctx, int64_t done);
	void *ctx;
};

/* Whether the metric list names metric (NULL or "all" names every one). */
bool xf_score_wanted(const char *list, const char *metric);
/* Whether name is a metric: of the table, an ensemble metric, or ncti (a set of models). */
bool xf_score_metric_known(const char *name);

/* The metrics beside the table's, for --help: name and summary pairs, NULL-terminated. */
extern const char *const xf_score_other_metrics[];

/*
 * Per-candidate metrics, and NCTI over the candidates with features (it normalises each
 * model's components over the set). A metric named explicitly that fails is an error; under
 * all, a skip.
 */
int xf_score_run_candidates(struct xf_score_run *run, struct xf_score_candidate *cands, int n,
			    struct xf_err *err);
/*
 * Ensemble metrics over the candidates that have probabilities (when asked for, or under all
 * with two or more): ms_leep, e_leep, and osborn (which also needs features and source-domain
 * features, and where lower is better).
 */
int xf_score_run_ensembles(struct xf_score_run *run, struct xf_score_candidate *cands, int n, struct xf_err *err);

/* --partial: each candidate's statistics as a segment under h (which carries meta.history). */
int xf_score_write_partials(struct xf_writer *w, const struct xf_header *h, struct xf_score_candidate *cands, int n,
			    struct xf_err *err);

/* --reduce: partial streams merged by candidate name, then scored. */
struct xf_score_merged;
struct xf_score_merged *xf_score_merged_new(struct xf_err *err);
int xf_score_merge_stream(struct xf_score_merged *m, struct xf_reader *r, struct xf_err *err);
int xf_score_run_merged(struct xf_score_run *run, struct xf_score_merged *m, struct xf_err *err);
void xf_score_merged_free(struct xf_score_merged *m);

#endif
