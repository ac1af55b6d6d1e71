/*
 * assign: minimum-cost assignment by shortest augmenting paths with dual potentials (the
 * Hungarian method as Jonker and Volgenant arrange it); see assign.h for the contract.
 * Rows are added one at a time; each addition is a Dijkstra search over columns on reduced
 * costs c[i][j] - u[i] - v[j], which the potentials keep non-negative.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "assign.h"

/*
 * Working state, 1-based so that column 0 can be the virtual column every search starts from
 * and row 0 can mean "no row".
 */
struct lap {
	const double *cost;   /* m x m, row-major, 0-based */
	int64_t m;
	double *u;            /* row potentials, 1..m (u[0] unused) */
	double *v;            /* column potentials, 0..m */
	double *minv;         /* shortest reduced distance to each column in the current search */
	int64_t *row_of;      /* row matched to column j (1..m), 0 if free; row_of[0]: the row being added */
	int64_t *way;         /* previous column on the shortest path to column j */
	unsigned char *used;  /* column j is settled in the current search */
};

/* Refuse what would make the search loop on NaN or overflow the potentials. */
static int check_costs(const double *cost, int64_t m, struct xf_err *err)
{
	double limit = XF_ASSIGN_MAX_COST(m);

	for (int64_t k = 0; k < m * m; k++) {
		if (!isfinite(cost[k]))
			return xf_err_set(err, XF_E_FORMAT, "assignment cost [%lld, %lld] is %s", (long long)(k / m),
					  (long long)(k % m), isnan(cost[k]) ? "NaN" : "infinite");
		if (fabs(cost[k]) > limit)
			return xf_err_set(err, XF_E_LIMIT, "assignment cost [%lld, %lld] = %g exceeds %g in magnitude",
					  (long long)(k / m), (long long)(k % m), cost[k], limit);
	}
	return 0;
}

static void lap_free(struct lap *l)
{
	free(l->u), free(l->v), free(l->minv), free(l->row_of), free(l->way), free(l->used);
}

static int lap_alloc(struct lap *l, const double *cost, int64_t m, struct xf_err *err)
{
	size_t k = (size_t)m + 1;

	*l = (struct lap){ .cost = cost, .m = m };
	l->u = calloc(k, sizeof(double));
	l->v = calloc(k, sizeof(double));
	l->minv = calloc(k, sizeof(double));
	l->row_of = calloc(k, sizeof(int64_t));
	l->way = calloc(k, sizeof(int64_t));
	l->used = calloc(k, 1);
	if (l->u && l->v && l->minv && l->row_of && l->way && l->used)
		return 0;
	lap_free(l);
	return xf_err_nomem(err, k * (4 * sizeof(double) + 1));
}

/*
 * One Dijkstra step from the settled column j0: relax the free columns through row_of[j0], and
 * return the closest unsettled column (the lowest on ties, for determinism), or -1 if none is
 * reachable, which finite costs rule out. *delta receives its distance.
 */
static int64_t relax(struct lap *l, int64_t j0, double *delta)
{
	int64_t i0 = l->row_of[j0], best = -1;
	const double *row = l->cost + (i0 - 1) * l->m;

	*delta = INFINITY;
	for (int64_t j = 1; j <= l->m; j++) {
		double cur;

		if (l->used[j])
			continue;
		cur = row[j - 1] - l->u[i0] - l->v[j];
		if (cur < l->minv[j])
			l->minv[j] = cur, l->way[j] = j0;
		if (l->minv[j] < *delta)
			*delta = l->minv[j], best = j;
	}
	return best;
}

/* Move the potentials by delta so that reduced costs stay non-negative and settled paths tight. */
static void shift_potentials(struct lap *l, double delta)
{
	for (int64_t j = 0; j <= l->m; j++)
		if (l->used[j]) {
			l->u[l->row_of[j]] += delta;
			l->v[j] -= delta;
		} else {
			l->minv[j] -= delta;
		}
}

/* Add row i: search a shortest path to a free column, then flip the matching along it. */
static int add_row(struct lap *l, int64_t i, struct xf_err *err)
{
	int64_t j0 = 0, j1;
	double delta;

	l->row_of[0] = i;
	for (int64_t j = 0; j <= l->m; j++)
		l->minv[j] = INFINITY, l->used[j] = 0;
	do {
		l->used[j0] = 1;
		if ((j1 = relax(l, j0, &delta)) < 0)
			return xf_err_set(err, XF_E_FORMAT, "assignment: row %lld has no augmenting path", (long long)i - 1);
		shift_potentials(l, delta);
		j0 = j1;
	} while (l->row_of[j0] != 0);
	do {
		j1 = l->way[j0];
		l->row_of[j0] = l->row_of[j1];
		j0 = j1;
	} while (j0 != 0);
	return 0;
}

int xf_assign_min_cost(const double *cost, int64_t m, int64_t *match, double *total, struct xf_err *err)
{
	struct lap l;
	double sum = 0;
	int rc = 0;

	if (m < 0 || (m > 0 && (uint64_t)m > SIZE_MAX / sizeof(double) / (uint64_t)m))
		return xf_err_set(err, XF_E_LIMIT, "assignment: cannot handle a %lld x %lld cost matrix", (long long)m,
				  (long long)m);
	if (check_costs(cost, m, err) < 0 || lap_alloc(&l, cost, m, err) < 0)
		return -1;
	for (int64_t i = 1; rc == 0 && i <= m; i++)
		rc = add_row(&l, i, err);
	if (rc == 0) {
		for (int64_t j = 1; j <= m; j++)
			l.way[l.row_of[j]] = j;   /* way is free now: reuse it as column-of-row */
		for (int64_t i = 1; i <= m; i++) {
			sum += cost[(i - 1) * m + l.way[i] - 1];
			if (match)
				match[i - 1] = l.way[i] - 1;
		}
		if (total)
			*total = sum;
	}
	lap_free(&l);
	return rc;
}
