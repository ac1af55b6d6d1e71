/*
 * train_data: a labelled samples stream as training rows for xfer-train's networks: the
 * feature field as float32 (uint8 scaled by 1/255, as xfer-embed feeds models), labels, and
 * optionally a teacher distribution mixed from probability fields (distillation); and a seeded
 * split into training and validation rows.
 */
#ifndef XF_TRAIN_DATA_H
#define XF_TRAIN_DATA_H

#include "reader.h"
#include "samples.h"
#include "train_loop.h"

#define XF_MAX_TEACHERS 64

struct xf_train_data {
	struct xf_dataset set;        /* rows, labels, teacher; points into the arrays below */
	float *x, *teacher;           /* owned */
	int64_t *y;                   /* owned */
	int ndim;                     /* the feature field's per-row shape */
	int64_t shape[XF_MAX_DIMS];
	int classes;                  /* 1 + the largest label (or the teachers' width, if larger) */
	json_t *meta;                 /* the stream's meta (classes, history); owned */
};

struct xf_teachers {
	int n;
	const char *fields[XF_MAX_TEACHERS];  /* probability fields [c] */
	double weights[XF_MAX_TEACHERS];      /* relative weights (normalised to sum 1) */
};

/*
 * Read every row of r. Checks: the fields exist; labels are integers 0..2^20-1; features and
 * teacher probabilities are finite; teacher rows are non-negative (each is renormalised to sum
 * 1). teachers may be NULL. The teacher distribution is sum_s w_s p_s. -1 with err.
 */
int xf_train_data_read(struct xf_reader *r, const char *field, const char *labels, const struct xf_teachers *teachers,
		       struct xf_train_data *d, struct xf_err *err);

/*
 * Move a seeded random `fraction` (0 < fraction < 1) of d's rows into valid (a new set; d keeps
 * the rest). -1 with err (XF_E_USAGE when either part would be empty, XF_E_NOMEM).
 */
int xf_train_data_split(struct xf_train_data *d, double fraction, uint64_t seed, struct xf_train_data *valid,
			struct xf_err *err);

void xf_train_data_release(struct xf_train_data *d);

#endif
