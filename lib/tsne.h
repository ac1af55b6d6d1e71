/*
 * tsne: t-SNE's gradient descent (docs: tsne.md sections 0 and 3) over a sparse P from
 * tsne_affinity.h, with the repulsion computed exactly, by Barnes-Hut (tsne_forces.h) or by
 * FFT-accelerated interpolation (tsne_fft.h). Three schedules: openTSNE's (the default),
 * FIt-SNE's and scikit-learn's, with the peers' known bugs left out (tsne.md section 9).
 */
#ifndef XF_TSNE_H
#define XF_TSNE_H

#include <stdbool.h>
#include <stdint.h>

#include "csr.h"
#include "err.h"

enum xf_tsne_profile { XF_TSNE_OPENTSNE, XF_TSNE_FITSNE, XF_TSNE_SKLEARN };
enum xf_tsne_method { XF_TSNE_AUTO, XF_TSNE_EXACT, XF_TSNE_BH, XF_TSNE_FFT };

struct xf_tsne_opts {
	int dim;                       /* 1, 2 or 3 */
	double dof;                    /* kernel (1 + d^2/dof)^-dof: 1 is t-SNE, < 1 heavier tails */
	double theta;                  /* Barnes-Hut accuracy (full cell width / distance) */
	int iters;                     /* all iterations, early exaggeration included; 0: the profile's */
	int exag_iters;                /* early exaggeration iterations */
	double exaggeration;           /* early exaggeration factor */
	double learning_rate;          /* 0: the profile's automatic rate */
	enum xf_tsne_profile profile;
	enum xf_tsne_method method;    /* AUTO: exact to 1000 points, then BH below 20,000 or in 3-D, else FFT */
	int threads;                   /* 0: all cores */
	/* called every 50 iterations and after the last with the KL divergence (NULL: none) */
	void (*report)(void *ctx, int iter, double kl);
	void *ctx;
};

#define XF_TSNE_OPTS_INIT { 2, 1.0, 0.5, 0, 250, 12.0, 0, XF_TSNE_OPENTSNE, XF_TSNE_AUTO, 0, NULL, NULL }

/* The method AUTO resolves to for n points in dim dimensions. */
enum xf_tsne_method xf_tsne_choose_method(int64_t n, int dim);
/* The profile's iteration count when o->iters is 0. */
int xf_tsne_iterations(const struct xf_tsne_opts *o);

/*
 * Optimise the embedding y (n x dim, row-major, holding the initial positions) against P.
 * *kl receives the final KL divergence (Z from the same repulsion method).
 */
int xf_tsne_optimize(const struct xf_csr *p, double *y, int64_t n, const struct xf_tsne_opts *o, double *kl,
		     struct xf_err *err);

/*
 * Initial positions from the first dim PCA scores (n x dim in y): scaled so the first column's
 * standard deviation is 1e-4, plus N(0, 1e-6^2) jitter from seed (openTSNE's initialisation).
 */
void xf_tsne_scale_init(double *y, int64_t n, int dim, uint64_t seed);
/* Random initial positions N(0, 1e-4^2) from seed. */
void xf_tsne_random_init(double *y, int64_t n, int dim, uint64_t seed);

#endif
