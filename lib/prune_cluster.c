/*
 * prune_cluster: the prune.h methods built on k-means (kmeans.h): codebook selection, after
 * TL;DR's per-cluster stride sampling, and SemDeDup's semantic deduplication. Sources and the
 * official code's behaviour: docs/prune.md sections 2 and 3.4.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmeans.h"
#include "prune.h"
#include "prune_common.h"

#define SIM_ROWS 1024     /* earlier members per similarity tile (one SGEMM) */
#define SIM_COLS 256      /* later members per similarity tile */

/* The k-means answer with the rows of each cluster listed. */
struct clustering {
	float *centres;       /* k x d */
	int64_t *assign;      /* n: each row's cluster */
	int64_t *rows;        /* rows grouped by cluster, ascending within each */
	int64_t *start;       /* k + 1: cluster c is rows[start[c] .. start[c + 1]) */
	int64_t k;
};

static void clustering_free(struct clustering *cl)
{
	free(cl->centres), free(cl->assign), free(cl->rows), free(cl->start);
}

static int cluster_rows(const struct xf_prune_data *p, const struct xf_kmeans_opts *opts, const char *method,
			struct clustering *cl, struct xf_err *err)
{
	struct xf_kmeans_result result;

	memset(cl, 0, sizeof(*cl));
	cl->k = opts->k;
	if (cl->k < 1 || cl->k > p->n)
		return xf_err_set(err, XF_E_USAGE, "%s: cannot make %lld clusters of %lld rows", method,
				  (long long)cl->k, (long long)p->n);
	cl->centres = malloc((size_t)(cl->k * p->d) * sizeof(*cl->centres));
	cl->assign = malloc((size_t)p->n * sizeof(*cl->assign));
	if (!cl->centres || !cl->assign)
		return xf_err_nomem(err, (size_t)(cl->k * p->d) * sizeof(float) + (size_t)p->n * sizeof(int64_t));
	if (xf_kmeans(p->x, p->n, p->d, opts, cl->centres, cl->assign, &result, err) < 0)
		return xf_err_prefix(err, "%s", method);
	return xf_prune_group_rows(cl->assign, p->n, cl->k, &cl->rows, &cl->start, err);
}

static double euclidean(const float *a, const float *b, int64_t d)
{
	double s = 0;

	for (int64_t k = 0; k < d; k++)
		s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
	return sqrt(s);
}

/* ---- codebook ---- */

/*
 * ceil(fraction m), at least 1 and at most m. A product within a relative 1e-9 above an
 * integer counts as that integer: 0.1 * 30 is 3.0000000000000004 in doubles and keeps 3.
 */
static int64_t members_to_keep(double fraction, int64_t m)
{
	double product = fraction * (double)m, up = ceil(product);

	if (up - product > 1 - 1e-9 * fmax(1, product))
		up -= 1;
	if (up < 1)
		return 1;
	return up > (double)m ? m : (int64_t)up;
}

int xf_prune_codebook(struct xf_prune_data *p, double fraction, const struct xf_kmeans_opts *km, struct xf_err *err)
{
	struct xf_kmeans_opts opts = XF_KMEANS_OPTS_INIT;
	struct clustering cl;

	if (xf_prune_begin(p, "codebook", true, false, err) < 0)
		return -1;
	if (!(fraction > 0 && fraction <= 1))
		return xf_err_set(err, XF_E_USAGE, "codebook: needs a fraction in (0, 1], got %g", fraction);
	if (p->n == 0)
		return 0;
	if (km)
		opts = *km;
	if (cluster_rows(p, &opts, "codebook", &cl, err) < 0) {
		clustering_free(&cl);
		return -1;
	}
	for (int64_t c = 0; c < cl.k; c++) {
		const int64_t *members = cl.rows + cl.start[c];
		int64_t m = cl.start[c + 1] - cl.start[c], take = m > 0 ? members_to_keep(fraction, m) : 0;

		for (int64_t j = 0; j < take; j++)     /* evenly spaced positions floor(j m / take) */
			p->keep[members[j * m / take]] = true;
	}
	for (int64_t i = 0; i < p->n; i++) {
		if (p->group)
			p->group[i] = cl.assign[i];
		if (p->score)
			p->score[i] = euclidean(p->x + i * p->d, cl.centres + cl.assign[i] * p->d, p->d);
	}
	clustering_free(&cl);
	return 0;
}

/* ---- SemDeDup ---- */

/* v / ||v|| into out (float), in double; a zero vector stays zero. */
static void unit_vector(const float *v, int64_t d, float *out)
{
	double norm2 = 0, norm;

	for (int64_t k = 0; k < d; k++)
		norm2 += (double)v[k] * v[k];
	norm = sqrt(norm2);
	for (int64_t k = 0; k < d; k++)
		out[k] = norm > 0 ? (float)(v[k] / norm) : 0.0f;
}

/* 1 - cos(row, unit_centre), in double; 1 for a zero row. */
static double cosine_distance(const float *row, const float *unit_centre, int64_t d)
{
	double dot = 0, norm2 = 0;

	for (int64_t k = 0; k < d; k++) {
		dot += (double)row[k] * unit_centre[k];
		norm2 += (double)row[k] * row[k];
	}
	return norm2 > 0 ? 1 - dot / sqrt(norm2) : 1;
}

struct ranked_row {
	double distance;      /* cosine distance to the cluster's centre */
	int64_t row;
};

static int farthest_first(const void *a, const void *b)
{
	const struct ranked_row *u = a, *v = b;

	if (u->distance != v->distance)
		return u->distance > v->distance ? -1 : 1;
	return (u->row > v->row) - (u->row < v->row);
}

/* Scratch for one cluster at a time, sized for the largest. */
struct dedup_work {
	struct ranked_row *ranked;   /* members, farthest from the centre first */
	float *unit;                 /* their unit rows, in that order */
	double *best;                /* per position: largest similarity to an earlier position */
	float *tile;                 /* SIM_ROWS x SIM_COLS similarities */
	float *centre;               /* the cluster's unit centre */
};

static int dedup_work_alloc(struct dedup_work *w, int64_t largest, int64_t d, struct xf_err *err)
{
	w->ranked = malloc((size_t)largest * sizeof(*w->ranked));
	w->unit = malloc((size_t)(largest * d) * sizeof(*w->unit));
	w->best = malloc((size_t)largest * sizeof(*w->best));
	w->tile = malloc((size_t)SIM_ROWS * SIM_COLS * sizeof(*w->tile));
	w->centre = malloc((size_t)d * sizeof(*w->centre));
	if (w->ranked && w->unit && w->best && w->tile && w->centre)
		return 0;
	return xf_err_nomem(err, (size_t)largest * (size_t)(d * 4 + 24));
}

static void dedup_work_free(struct dedup_work *w)
{
	free(w->ranked), free(w->unit), free(w->best), free(w->tile), free(w->centre);
}

/*
 * best[j] = max over i < j of <unit_i, unit_j> for the m unit rows (float SGEMMs over tiles
 * of SIM_ROWS x SIM_COLS, so the memory is fixed however large the cluster; -inf for j = 0).
 * The tiles depend on m alone, not on any thread count.
 */
static void earlier_max_similarity(const float *unit, int64_t m, int64_t d, float *tile, double *best)
{
	for (int64_t j0 = 0; j0 < m; j0 += SIM_COLS) {
		int64_t cols = m - j0 < SIM_COLS ? m - j0 : SIM_COLS;

		for (int64_t j = j0; j < j0 + cols; j++)
			best[j] = -INFINITY;
		for (int64_t i0 = 0; i0 < j0 + cols - 1; i0 += SIM_ROWS) {
			int64_t rows = j0 + cols - 1 - i0 < SIM_ROWS ? j0 + cols - 1 - i0 : SIM_ROWS;

			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)cols, (int)d, 1.0f,
				    unit + i0 * d, (int)d, unit + j0 * d, (int)d, 0.0f, tile, (int)cols);
			for (int64_t a = 0; a < rows; a++) {
				int64_t i = i0 + a, first = i + 1 > j0 ? i + 1 - j0 : 0;

				const float *sims = tile + a * cols;

				for (int64_t b = first; b < cols; b++)
					best[j0 + b] = sims[b] > best[j0 + b] ? sims[b] : best[j0 + b];
			}
		}
	}
}

/*
 * One cluster's SemDeDup scores: members ordered by cosine distance to the centre, farthest
 * first (SemDeDup's default keep_hard; ties: lower row), and each member's score the largest
 * cosine similarity to a member before it, clamped to [-1, 1] (float rounding can give
 * 1.0000001 for duplicates); NAN for the first member, which nothing can remove.
 */
static void cluster_scores(const struct xf_prune_data *p, const int64_t *members, int64_t m, const float *centre,
			   struct dedup_work *w, double *score)
{
	unit_vector(centre, p->d, w->centre);
	for (int64_t r = 0; r < m; r++)
		w->ranked[r] = (struct ranked_row){ cosine_distance(p->x + members[r] * p->d, w->centre, p->d),
						    members[r] };
	qsort(w->ranked, (size_t)m, sizeof(*w->ranked), farthest_first);
	for (int64_t r = 0; r < m; r++)
		unit_vector(p->x + w->ranked[r].row * p->d, p->d, w->unit + r * p->d);
	earlier_max_similarity(w->unit, m, p->d, w->tile, w->best);
	score[w->ranked[0].row] = NAN;
	for (int64_t r = 1; r < m; r++)
		score[w->ranked[r].row] = fmin(1, fmax(-1, w->best[r]));
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The threshold t (eps = 1 - t) for about `count` kept rows. A row stays when its score is
 * NAN (first in its cluster: F rows) or <= t, so kept(t) = F + #{score <= t} is a step
 * function of t and the search is exact: t is the largest threshold with kept(t) <= count --
 * the fewest removals that bring the rows down to count. When ties in the scores step over
 * count, fewer than count stay; when F alone exceeds count, t = -1 (eps = 2) and more stay.
 * Between two distinct scores t is their midpoint, so running again with eps = 1 - t gives
 * the same rows.
 */
static int threshold_for_count(const double *score, int64_t n, int64_t count, double *threshold, struct xf_err *err)
{
	double *sorted = malloc((size_t)n * sizeof(*sorted));
	int64_t m = 0, allowed;

	if (!sorted)
		return xf_err_nomem(err, (size_t)n * sizeof(*sorted));
	for (int64_t i = 0; i < n; i++)
		if (!isnan(score[i]))
			sorted[m++] = score[i];
	qsort(sorted, (size_t)m, sizeof(*sorted), compare_doubles);
	allowed = count - (n - m);      /* non-first rows that may stay */
	if (allowed >= m) {
		*threshold = 1;
	} else if (allowed < 0 || sorted[allowed] <= -1) {
		*threshold = -1;
	} else {
		double next = sorted[allowed], below = -1;    /* the first score that must go */

		for (int64_t i = allowed - 1; i >= 0; i--)
			if (sorted[i] < next) {
				below = sorted[i];
				break;
			}
		*threshold = (below + next) / 2;
	}
	free(sorted);
	return 0;
}

static int semdedup_scores(const struct xf_prune_data *p, const struct clustering *cl, double *score,
			   struct xf_err *err)
{
	struct dedup_work w;
	int64_t largest = 0;

	for (int64_t c = 0; c < cl->k; c++)
		largest = cl->start[c + 1] - cl->start[c] > largest ? cl->start[c + 1] - cl->start[c] : largest;
	if (dedup_work_alloc(&w, largest, p->d, err) < 0) {
		dedup_work_free(&w);
		return -1;
	}
	for (int64_t c = 0; c < cl->k; c++)
		if (cl->start[c + 1] > cl->start[c])
			cluster_scores(p, cl->rows + cl->start[c], cl->start[c + 1] - cl->start[c],
				       cl->centres + c * p->d, &w, score);
	dedup_work_free(&w);
	return 0;
}

static int semdedup_check(const struct xf_prune_data *p, double eps, int64_t count, struct xf_err *err)
{
	if (isnan(eps))
		return xf_err_set(err, XF_E_USAGE, "semdedup: eps is NaN");
	if (eps < 0 && (count > p->n || (count < 1 && p->n > 0)))
		return xf_err_set(err, XF_E_USAGE, "semdedup: cannot keep %lld of %lld rows", (long long)count,
				  (long long)p->n);
	if (p->d > INT_MAX)
		return xf_err_set(err, XF_E_LIMIT, "semdedup: %lld features are too many for BLAS", (long long)p->d);
	return 0;
}

/*
 * count is used only when eps < 0. The threshold is applied as: drop when score > 1 - eps;
 * with eps chosen here, eps_used = 1 - t for the t of threshold_for_count.
 */
int xf_prune_semdedup(struct xf_prune_data *p, double eps, int64_t count, const struct xf_kmeans_opts *km,
		      double *eps_used, struct xf_err *err)
{
	struct xf_kmeans_opts opts = XF_KMEANS_OPTS_INIT;
	double *score = p->score, threshold = 1 - eps;
	struct clustering cl;
	int rc;

	if (xf_prune_begin(p, "semdedup", true, false, err) < 0 || semdedup_check(p, eps, count, err) < 0)
		return -1;
	if (eps_used)
		*eps_used = eps < 0 ? 0 : eps;
	if (p->n == 0)
		return 0;
	if (km)
		opts = *km;
	opts.spherical = true;
	if (!score && !(score = malloc((size_t)p->n * sizeof(*score))))
		return xf_err_nomem(err, (size_t)p->n * sizeof(*score));
	rc = cluster_rows(p, &opts, "semdedup", &cl, err);
	if (rc == 0)
		rc = semdedup_scores(p, &cl, score, err);
	if (rc == 0 && eps < 0)
		rc = threshold_for_count(score, p->n, count, &threshold, err);
	for (int64_t i = 0; i < p->n && rc == 0; i++) {
		p->keep[i] = isnan(score[i]) || !(score[i] > threshold);
		if (p->group)
			p->group[i] = cl.assign[i];
	}
	if (rc == 0 && eps_used && eps < 0)
		*eps_used = 1 - threshold;
	if (score != p->score)
		free(score);
	clustering_free(&cl);
	return rc;
}
