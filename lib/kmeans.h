/*
 * kmeans: k-means clustering of feature rows, shared by xfer-prune's methods (feature mapping,
 * codebook selection, SemDeDup, prototypes): k-means++ seeding, Lloyd iterations whose
 * distances come from BLAS products (||x||^2 - 2 x.c + ||c||^2) and skip points that the
 * triangle inequality proves cannot change cluster (Hamerly's bounds), a mini-batch mode for
 * large N (Sculley 2010), and a spherical variant (cosine: rows and centres on the unit sphere).
 *
 *	struct xf_kmeans_opts o = XF_KMEANS_OPTS_INIT;
 *	o.k = 10; o.seed = 7;
 *	struct xf_kmeans_result r;
 *	if (xf_kmeans(x, n, d, &o, centres, assign, &r, &err) < 0) ...
 *
 * Results are deterministic for a given seed and do not depend on the thread count.
 *
 * A cluster that goes empty in a Lloyd iteration is given the row farthest from its current
 * centre (each such row used once per iteration), and that row's label changes with it
 * (scikit-learn moves the centre but keeps the label until the next assignment). Mini-batch
 * clusters that go empty are left as they are. In mini-batch mode max_iter counts passes over
 * the data; with per-centre rates 1/count the centres keep moving a little, so max_iter is in
 * practice what stops it: give a small one (10 passes is plenty for most data).
 */
#ifndef XF_KMEANS_H
#define XF_KMEANS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum xf_kmeans_init {
	XF_KMEANS_PLUSPLUS,   /* k-means++ (Arthur and Vassilvitskii 2007), greedy with 2 + log k trials as scikit-learn */
	XF_KMEANS_RANDOM,     /* k distinct rows chosen uniformly */
	XF_KMEANS_GIVEN,      /* the centres passed in (k x d) */
};

struct xf_kmeans_opts {
	int64_t k;                 /* clusters, 1 <= k <= n */
	enum xf_kmeans_init init;
	int max_iter;              /* Lloyd iterations (default 300, scikit-learn's) */
	double tol;                /* stop when the centres move less than tol times the mean
				      per-feature variance of the data, in squared Frobenius norm
				      (scikit-learn's rule; default 1e-4) */
	bool spherical;            /* cosine k-means: rows normalised, centres renormalised */
	int64_t batch;             /* > 0: mini-batch k-means with batches of this many rows */
	uint64_t seed;
	int threads;               /* 0 or less: all cores */
};

#define XF_KMEANS_OPTS_INIT { 8, XF_KMEANS_PLUSPLUS, 300, 1e-4, false, 0, 0, 0 }

struct xf_kmeans_result {
	double inertia;            /* sum of squared distances of rows to their centres (after the last assignment) */
	int iterations;
	int64_t empty_reseeded;    /* clusters that went empty and were given the row farthest from its centre */
};

/*
 * Cluster the n rows of x (n x d, row-major float32) into o->k clusters: centres (k x d) and
 * assign (n, the index of each row's centre, the nearest one after the last update; ties to the
 * lowest index). With XF_KMEANS_GIVEN, centres holds the initial centres on entry. -1 with err:
 * XF_E_USAGE for k outside 1..n or bad options, XF_E_FORMAT for NaN or infinity in x (naming the
 * row), XF_E_NOMEM.
 */
int xf_kmeans(const float *x, int64_t n, int64_t d, const struct xf_kmeans_opts *o, float *centres, int64_t *assign,
	      struct xf_kmeans_result *res, struct xf_err *err);

#endif
