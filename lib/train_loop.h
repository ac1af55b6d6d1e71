/*
 * train_loop: mini-batch training of a model graph (net_train.h) for classification: epochs
 * over shuffled rows, a loss (loss.h), an optimiser and its schedule (optim.h), evaluation on
 * validation rows after each epoch, and early stopping that keeps the best weights.
 */
#ifndef XF_TRAIN_LOOP_H
#define XF_TRAIN_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "loss.h"
#include "model.h"
#include "optim.h"

/* Rows already preprocessed for the model's (single) input. */
struct xf_dataset {
	const float *x;        /* n x count */
	int64_t n, count;
	const int64_t *y;      /* n labels in 0..c-1 */
	const float *teacher;  /* n x c teacher probabilities, or NULL */
};

struct xf_epoch_log {
	int epoch;             /* from 1 */
	double loss;           /* mean training loss over the epoch's batches */
	double accuracy;       /* training accuracy over the epoch (as the weights moved) */
	double valid_loss;     /* on the validation rows after the epoch, or NAN without them */
	double valid_accuracy;
	double lr;             /* at the epoch's last step */
	double seconds;
	bool best;             /* the best validation accuracy so far (kept) */
};

struct xf_fit_opts {
	int epochs;
	int64_t batch;
	double lr;
	struct xf_optim_opts optim;
	double warmup;              /* warm-up length, in epochs (may be fractional) */
	bool cosine;                /* cosine annealing after the warm-up, else constant */
	struct xf_loss_opts loss;   /* teacher taken from the dataset */
	double dropout;             /* on every relu and gelu output during training */
	int patience;               /* stop after this many epochs without a better validation accuracy (0: never) */
	const bool *trainable;      /* per model field, or NULL: all weights and biases */
	const double *lr_scale;     /* per model field: learning-rate multiplier, or NULL */
	double sam_rho;             /* sharpness-aware minimisation radius (0: plain steps) */
	uint64_t seed;
	int threads;
	void (*on_epoch)(void *ctx, const struct xf_epoch_log *log);
	void (*on_step)(void *ctx, int64_t step);
	void *ctx;
};

struct xf_fit_result {
	int epochs;                 /* run */
	int best_epoch;             /* whose weights m holds (the last without validation rows) */
	double valid_accuracy;      /* of those weights, or NAN */
};

/*
 * Train m in place on `train` (valid may be NULL). m's single graph input takes rows of
 * train->count floats; its first output is the logits over c classes. -1 with err.
 */
int xf_fit(struct xf_model *m, int c, const struct xf_dataset *train, const struct xf_dataset *valid,
	   const struct xf_fit_opts *o, struct xf_fit_result *res, struct xf_err *err);

/* Mean loss and accuracy of m on d (inference semantics; no teacher, no smoothing). */
int xf_evaluate(struct xf_model *m, int c, const struct xf_dataset *d, int64_t batch, int threads, double *loss,
		double *accuracy, struct xf_err *err);

#endif
