/*
 * prune_common: checks and bookkeeping shared by the files that implement prune.h (defined in
 * prune_select.c). Internal: programs include prune.h only.
 */
#ifndef XF_PRUNE_COMMON_H
#define XF_PRUNE_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "prune.h"

/*
 * Check p for `method` (the name that starts every message): n >= 0, x present and finite
 * when need_x (XF_E_FORMAT naming the first bad row), labels present when need_labels and in
 * 0..classes-1 whenever given (XF_E_FORMAT naming the row), keep present. Then reset every
 * row's answer: not kept, group -1, score NAN (group and score may be NULL: not wanted).
 */
int xf_prune_begin(struct xf_prune_data *p, const char *method, bool need_x, bool need_labels, struct xf_err *err);

/*
 * The number of rows to keep out of n: count when count > 0 (XF_E_USAGE if it exceeds n),
 * else xf_prune_budget(fraction, n) for a fraction in (0, 1] (XF_E_USAGE for any other).
 */
int xf_prune_resolve_budget(const char *method, int64_t count, double fraction, int64_t n, int64_t *out,
			    struct xf_err *err);

/*
 * Rows grouped by their label (label[i] in 0..groups-1): the rows of group g are
 * (*rows)[(*start)[g] .. (*start)[g + 1]), ascending. The caller frees both arrays.
 */
int xf_prune_group_rows(const int64_t *label, int64_t n, int64_t groups, int64_t **rows, int64_t **start,
			struct xf_err *err);

/* Record row i's answer; group and score are written only where p asks for them. */
static inline void xf_prune_mark(struct xf_prune_data *p, int64_t i, bool keep, int64_t group, double score)
{
	p->keep[i] = keep;
	if (p->group)
		p->group[i] = group;
	if (p->score)
		p->score[i] = score;
}

#endif
