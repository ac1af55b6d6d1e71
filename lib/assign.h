/*
 * assign: the linear assignment problem for a dense square cost matrix (minimum-cost perfect
 * matching of rows to columns), by the Hungarian method in its shortest-augmenting-path form
 * (Jonker-Volgenant; the algorithm behind scipy.optimize.linear_sum_assignment), O(m^3) time and
 * O(m) extra memory. Used by OSBORN's optimal transport term (docs/scores.md section 12).
 */
#ifndef XF_ASSIGN_H
#define XF_ASSIGN_H

#include <stdint.h>

#include "err.h"

/*
 * Minimum-cost assignment for the m x m row-major matrix cost: match[i] receives the column
 * given to row i (a permutation of 0..m-1) and *total the sum of the chosen costs, added in
 * row order. Either output may be NULL. m = 0 gives *total = 0.
 *
 * Deterministic: each augmenting step takes the lowest column among equally cheap ones, so
 * among several optimal matchings the same one is returned on every run (not necessarily the
 * one scipy returns; the totals agree).
 *
 * Errors (-1 with err; outputs untouched): m < 0 or m x m overflowing (XF_E_LIMIT); a NaN or
 * infinite cost (XF_E_FORMAT, naming the cell); a cost whose magnitude exceeds
 * XF_ASSIGN_MAX_COST(m), so that the dual potentials cannot overflow (XF_E_LIMIT).
 */
#define XF_ASSIGN_MAX_COST(m) (1e300 / (4.0 * ((double)(m) + 1)))
int xf_assign_min_cost(const double *cost, int64_t m, int64_t *match, double *total, struct xf_err *err);

#endif
