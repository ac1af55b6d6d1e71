/*
 * score_input: xfer-score's candidates, read from streams: the feature fields that match a
 * pattern, the labels and the probabilities, converted to double once, checked to agree
 * across candidates (same rows, same labels).
 */
#ifndef XF_SCORE_INPUT_H
#define XF_SCORE_INPUT_H

#include "reader.h"
#include "score.h"

struct xf_score_candidate {
	char name[512];
	struct xf_tensor f, y, p;      /* features (f8, n x d), labels (i8), probabilities (f8); empty if absent */
	struct xf_tensor source;       /* the same model's features of source-domain rows (f8, m x d), for OSBORN */
	struct xf_score_data data;     /* views of the above */
};

struct xf_score_inputs {
	const char *pattern;   /* feature fields, fnmatch pattern ("x") */
	const char *labels;    /* label field ("y") */
	const char *probs;     /* probability field ("p") */
};

/*
 * Read every candidate of one stream (one per matching feature field, or one holding only
 * probabilities when no field matches but probabilities are present) and append them to
 * *cands. prefix names them: "prefix" alone for a single candidate, "prefix:field" otherwise.
 */
int xf_score_read_candidates(struct xf_reader *r, const struct xf_score_inputs *in, const char *prefix,
			     struct xf_score_candidate **cands, int *n, struct xf_err *err);

/*
 * Read the source-domain features of candidate c from r (--source-feats): the stream's one
 * field matching in->pattern, with as many columns as c's features.
 */
int xf_score_read_source(struct xf_reader *r, const struct xf_score_inputs *in, struct xf_score_candidate *c,
			 struct xf_err *err);

/* All candidates must have the same rows and labels; returns -1 naming the first that differs. */
int xf_score_check_candidates(const struct xf_score_candidate *cands, int n, struct xf_err *err);

void xf_score_candidates_free(struct xf_score_candidate *cands, int n);

#endif
