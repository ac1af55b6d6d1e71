/* score_run: metrics over candidates, ensembles, partial statistics and their reduction; see score_run.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "score_ensemble.h"
#include "score_ncti.h"
#include "score_osborn.h"
#include "score_partial.h"
#include "score_run.h"

bool xf_score_wanted(const char *list, const char *name)
{
	size_t len = strlen(name);

	if (!list || !strcmp(list, "all"))
		return true;
	for (const char *p = list; (p = strstr(p, name)); p += len)
		if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return true;
	return false;
}

const char *const xf_score_other_metrics[] = {
	"ncti", "NCTI: distance from neural collapse, min-max over the candidates (Wang et al. 2023)",
	"ms_leep", "ensembles: log of the models' mean LEEP prediction (Agostinelli et al. 2022)",
	"e_leep", "ensembles: LEEP of the product of the models' label spaces",
	"osborn", "ensembles: domain + task + cohesion terms, needs --source-feats (K B et al. 2023; lower is better)",
	NULL,
};

bool xf_score_metric_known(const char *name)
{
	for (int i = 0; xf_score_other_metrics[i]; i += 2)
		if (!strcmp(name, xf_score_other_metrics[i]))
			return true;
	return xf_metric_find(name) != NULL;
}

static bool all_metrics(const struct xf_score_run *run)
{
	return !run->metrics || !strcmp(run->metrics, "all");
}

__attribute__((format(printf, 2, 3)))
static void note(const struct xf_score_run *run, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!run->note)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	run->note(run->ctx, line);
}

static double seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
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

/* A metric failed: an error when it was named, else a skip reported once with the reason. */
static int failed(struct xf_score_run *run, const char *candidate, const char *metric, struct xf_err *why,
		  struct xf_err *err)
{
	if (!all_metrics(run) || why->code == XF_E_NOMEM) {
		*err = *why;
		if (err->code == XF_E_USAGE)
			err->code = XF_E_FORMAT; /* the request is fine; these inputs cannot answer it */
		return xf_err_prefix(err, "%s: %s", candidate, metric);
	}
	return xf_score_report_skip(run->report, metric, why->msg, err);
}

static int score_one(struct xf_score_run *run, const struct xf_metric *m, struct xf_score_candidate *c,
		     struct xf_score_cache *cache, bool reduced, struct xf_err *err)
{
	struct xf_err why = XF_ERR_INIT;
	double value, t0 = seconds();
	int rc = reduced ? check_reduced(m, &c->data, cache, &why) : xf_score_cache_check(cache, m->needs, &why);

	if (rc < 0 && why.code != XF_E_USAGE) {
		/* bad rows (one class, labels out of range, NaN): an error even under all, not a skip */
		*err = why;
		return xf_err_prefix(err, "%s", c->name);
	}
	if (rc < 0 || m->compute(&c->data, cache, &value, &why) < 0)
		return failed(run, c->name, m->name, &why, err);
	note(run, "%s: %s = %.10g (%.3f s)", c->name, m->name, value, seconds() - t0);
	return xf_score_report_add(run->report, c->name, m->name, value, m->higher_is_better, err);
}

static int score_candidate(struct xf_score_run *run, struct xf_score_candidate *c, struct xf_score_cache *cache,
			   bool reduced, struct xf_err *err)
{
	int rc = 0;

	c->data.threads = run->threads;
	for (const struct xf_metric *m = xf_metrics; m->name && rc == 0; m++)
		if (xf_score_wanted(run->metrics, m->name))
			rc = score_one(run, m, c, cache, reduced, err);
	return rc;
}

/* NCTI compares a set of models: each candidate's parts while its cache lives, then the scores. */
struct ncti_set {
	struct xf_ncti_parts *parts;
	int *member;     /* candidate index of each part */
	int n;
};

static int ncti_add(struct xf_score_run *run, struct xf_score_candidate *cands, int i, struct xf_score_cache *cache,
		    struct ncti_set *set, struct xf_err *err)
{
	struct xf_err why = XF_ERR_INIT;
	struct xf_ncti_parts *parts = &set->parts[set->n];

	if (cands[i].data.d == 0 && all_metrics(run))
		return 0; /* a probabilities-only candidate is not part of the set */
	if (xf_score_cache_check(cache, XF_NEEDS_F | XF_NEEDS_Y, &why) < 0 ||
	    xf_score_ncti_parts(&cands[i].data, cache, parts, &why) < 0)
		return failed(run, cands[i].name, "ncti", &why, err);
	note(run, "%s: ncti parts: seli %.10g, ncc %.10g, vc %.10g", cands[i].name, parts->seli, parts->ncc, parts->vc);
	set->member[set->n++] = i;
	return 0;
}

static int ncti_report(struct xf_score_run *run, struct xf_score_candidate *cands, struct ncti_set *set,
		       struct xf_err *err)
{
	double *scores = calloc(set->n + 1, sizeof(double));
	int rc = scores ? 0 : xf_err_nomem(err, 0);

	if (rc == 0 && set->n < 2) {
		struct xf_err why = XF_ERR_INIT;

		xf_err_set(&why, XF_E_USAGE, "compares a set of models: it needs two or more candidates with features");
		rc = failed(run, "candidates", "ncti", &why, err);
	} else if (rc == 0) {
		xf_score_ncti_combine(set->parts, set->n, scores);
		for (int k = 0; k < set->n && rc == 0; k++)
			rc = xf_score_report_add(run->report, cands[set->member[k]].name, "ncti", scores[k], true, err);
	}
	free(scores);
	return rc;
}

int xf_score_run_candidates(struct xf_score_run *run, struct xf_score_candidate *cands, int n, struct xf_err *err)
{
	bool ncti = xf_score_wanted(run->metrics, "ncti");
	struct ncti_set set = { calloc(n + 1, sizeof(*set.parts)), calloc(n + 1, sizeof(int)), 0 };
	int rc = set.parts && set.member ? 0 : xf_err_nomem(err, 0);

	for (int i = 0; i < n && rc == 0; i++) {
		struct xf_score_cache *cache = xf_score_cache_new(&cands[i].data, err);

		rc = cache ? score_candidate(run, &cands[i], cache, false, err) : -1;
		if (rc == 0 && ncti)
			rc = ncti_add(run, cands, i, cache, &set, err);
		xf_score_cache_free(cache);
		if (run->progress)
			run->progress(run->ctx, i + 1);
	}
	if (rc == 0 && ncti)
		rc = ncti_report(run, cands, &set, err);
	free(set.parts);
	free(set.member);
	return rc;
}

/* Report an ensemble's value under the names of its members joined by '+'. */
static int report_ensemble(struct xf_score_run *run, const char *metric, struct xf_score_candidate *const *members,
			   const int *chosen, int k, double value, bool higher_is_better, struct xf_err *err)
{
	char label[4096] = "";

	for (int i = 0; i < k; i++)
		snprintf(label + strlen(label), sizeof(label) - strlen(label), "%s%s", i ? "+" : "",
			 members[chosen[i]]->name);
	note(run, "%s: %s = %.10g", label, metric, value);
	return xf_score_report_add(run->report, label, metric, value, higher_is_better, err);
}

/* The ensemble's size: --ensemble K (chosen greedily), else the whole pool in order. */
static int *ensemble_members(const struct xf_score_run *run, int n, int *k, struct xf_err *err)
{
	int *chosen;

	*k = run->ensemble ? run->ensemble : n;
	if (!(chosen = calloc(*k + 1, sizeof(int))))
		xf_err_nomem(err, 0);
	for (int i = 0; chosen && !run->ensemble && i < *k; i++)
		chosen[i] = i;
	return chosen;
}

static int score_ensemble(struct xf_score_run *run, enum xf_ensemble_metric e, struct xf_score_candidate *const *members,
			  int n, struct xf_err *err)
{
	const struct xf_score_data **pool = calloc(n + 1, sizeof(*pool));
	struct xf_err why = XF_ERR_INIT;
	int k, *chosen = ensemble_members(run, n, &k, err), rc = chosen && pool ? 0 : xf_err_nomem(err, 0);
	double value;

	for (int i = 0; rc == 0 && i < n; i++)
		pool[i] = &members[i]->data;
	if (rc == 0) {
		rc = run->ensemble ? xf_ensemble_greedy(e, pool, n, k, chosen, &value, &why)
				   : xf_ensemble_score(e, pool, n, &value, &why);
		rc = rc < 0 ? failed(run, "ensemble", xf_ensemble_name(e), &why, err)
			    : report_ensemble(run, xf_ensemble_name(e), members, chosen, k, value, true, err);
	}
	free(chosen);
	free(pool);
	return rc;
}

/* OSBORN's inputs: each member's target features and probabilities, and its source features. */
static int osborn_models(struct xf_score_candidate *const *members, int n, struct xf_osborn_model *models,
			 struct xf_err *err)
{
	for (int i = 0; i < n; i++) {
		const struct xf_score_candidate *c = members[i];
		struct xf_score_data source = { c->source.data ? c->source.shape[0] : 0, c->data.d, c->source.data,
						NULL, 0, NULL, 0, 0 };

		if (!c->data.f || !c->source.data)
			return xf_err_set(err, XF_E_USAGE, "'%s' has no %s", c->name, c->data.f ? "source-domain features "
					  "(--source-feats)" : "features on the target");
		if (xf_score_check(&source, XF_NEEDS_F, err) < 0)
			return xf_err_prefix(err, "'%s': source features", c->name);
		models[i] = (struct xf_osborn_model){ &c->data, c->source.data, source.n };
	}
	return 0;
}

static int score_osborn(struct xf_score_run *run, struct xf_score_candidate *const *members, int n,
			struct xf_err *err)
{
	struct xf_osborn_model *models = calloc(n + 1, sizeof(*models));
	struct xf_osborn_terms *terms = NULL;
	struct xf_err why = XF_ERR_INIT;
	int k, *chosen = ensemble_members(run, n, &k, err), rc = chosen && models ? 0 : xf_err_nomem(err, 0);
	double value = 0;

	if (rc == 0 && osborn_models(members, n, models, &why) == 0 && (terms = xf_osborn_terms_new(models, n, &why)) &&
	    (!run->ensemble || xf_osborn_greedy(terms, &run->osborn, k, chosen, &value, &why) == 0)) {
		if (!run->ensemble)
			value = xf_osborn_score(terms, &run->osborn, chosen, k);
		rc = report_ensemble(run, "osborn", members, chosen, k, value, false, err);
	} else if (rc == 0) {
		rc = failed(run, "ensemble", "osborn", &why, err);
	}
	xf_osborn_terms_free(terms);
	free(chosen);
	free(models);
	return rc;
}

/* The ensemble metrics wanted: under all, only when there is a pool to choose from. */
static bool ensemble_wanted(const struct xf_score_run *run, const char *metric, int pool)
{
	return xf_score_wanted(run->metrics, metric) && !(all_metrics(run) && pool < 2 && !run->ensemble);
}

int xf_score_run_ensembles(struct xf_score_run *run, struct xf_score_candidate *cands, int n, struct xf_err *err)
{
	struct xf_score_candidate **members = calloc(n + 1, sizeof(*members));
	int k = 0, rc = members ? 0 : xf_err_nomem(err, 0);

	for (int i = 0; rc == 0 && i < n; i++)
		if (cands[i].data.p) {
			if ((rc = xf_score_check(&cands[i].data, XF_NEEDS_P | XF_NEEDS_Y, err)) < 0)
				xf_err_prefix(err, "%s", cands[i].name);
			members[k++] = &cands[i];
		}
	if (rc == 0 && run->ensemble > k)
		rc = xf_err_set(err, XF_E_FORMAT, "--ensemble %d: only %d inputs have probabilities (field p)",
				run->ensemble, k);
	for (int e = 0; rc == 0 && e <= XF_ENSEMBLE_COUNT; e++) {
		const char *name = e < XF_ENSEMBLE_COUNT ? xf_ensemble_name(e) : "osborn";

		if (!ensemble_wanted(run, name, k))
			continue;
		if (!k)
			rc = xf_err_set(err, XF_E_FORMAT, "%s: no input has probabilities (field p)", name);
		else
			rc = e < XF_ENSEMBLE_COUNT ? score_ensemble(run, (enum xf_ensemble_metric)e, members, k, err)
						   : score_osborn(run, members, k, err);
	}
	free(members);
	return rc;
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

int xf_score_write_partials(struct xf_writer *w, const struct xf_header *h, struct xf_score_candidate *cands, int n,
			    struct xf_err *err)
{
	int rc = 0;

	for (int i = 0; i < n && rc == 0; i++) {
		struct xf_score_cache *cache = xf_score_cache_new(&cands[i].data, err);
		struct xf_score_stats s;

		rc = cache ? check_partial(&cands[i].data, err) : -1;
		rc = rc ? rc : xf_score_stats_take(cache, &s, err);
		if (rc < 0)
			xf_err_prefix(err, "%s", cands[i].name);
		else {
			rc = xf_score_stats_write(w, h, cands[i].name, &s, err);
			xf_score_stats_release(&s);
		}
		xf_score_cache_free(cache);
	}
	return rc;
}

struct xf_score_merged {
	struct xf_score_candidate *cands;   /* names only: their data come from the statistics */
	struct xf_score_stats *stats;
	int n;
};

struct xf_score_merged *xf_score_merged_new(struct xf_err *err)
{
	struct xf_score_merged *m = calloc(1, sizeof(*m));

	if (!m)
		xf_err_nomem(err, sizeof(*m));
	return m;
}

/* Merge one partial segment into the candidate of the same name (a new one if unseen). */
static int merge_partial(void *ctx, const char *name, struct xf_score_stats *s, struct xf_err *err)
{
	struct xf_score_merged *m = ctx;
	void *p;
	int i = 0;

	while (i < m->n && strcmp(m->cands[i].name, name))
		i++;
	if (i < m->n)
		return xf_score_stats_merge(&m->stats[i], s, err);
	if (!(p = realloc(m->cands, (m->n + 1) * sizeof(*m->cands))))
		return xf_err_nomem(err, 0);
	m->cands = p;
	if (!(p = realloc(m->stats, (m->n + 1) * sizeof(*m->stats))))
		return xf_err_nomem(err, 0);
	m->stats = p;
	memset(&m->cands[m->n], 0, sizeof(*m->cands));
	snprintf(m->cands[m->n].name, sizeof(m->cands[m->n].name), "%s", name);
	m->stats[m->n] = *s;
	memset(s, 0, sizeof(*s)); /* kept: the reader frees what is left */
	m->n++;
	return 0;
}

int xf_score_merge_stream(struct xf_score_merged *m, struct xf_reader *r, struct xf_err *err)
{
	return xf_score_stats_read(r, merge_partial, m, err);
}

int xf_score_run_merged(struct xf_score_run *run, struct xf_score_merged *m, struct xf_err *err)
{
	struct xf_err why = XF_ERR_INIT;
	int rc = 0;

	if (xf_score_wanted(run->metrics, "ncti")) {
		xf_err_set(&why, XF_E_USAGE, "needs every row at once: it cannot be combined from partial statistics");
		rc = failed(run, "reduce", "ncti", &why, err);
	}

	for (int i = 0; i < m->n && rc == 0; i++) {
		struct xf_score_cache *cache = xf_score_cache_from_stats(&m->stats[i], &m->cands[i].data, err);

		rc = cache ? score_candidate(run, &m->cands[i], cache, true, err) : -1;
		xf_score_cache_free(cache);
	}
	return rc;
}

void xf_score_merged_free(struct xf_score_merged *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n; i++)
		xf_score_stats_release(&m->stats[i]);
	free(m->cands);
	free(m->stats);
	free(m);
}
