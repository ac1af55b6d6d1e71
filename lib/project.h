/*
 * project: feature rows to a few dimensions for people to see (xfer-project): PCA, and t-SNE
 * with its whole preparation (PCA pre-reduction, nearest neighbours, perplexity calibration,
 * initialisation) before tsne.h's optimisation.
 */
#ifndef XF_PROJECT_H
#define XF_PROJECT_H

#include "pca.h"
#include "tsne.h"

enum xf_project_method { XF_PROJECT_PCA, XF_PROJECT_TSNE };
enum xf_knn_choice { XF_KNN_AUTO, XF_KNN_EXACT, XF_KNN_APPROX };
enum xf_init_choice { XF_INIT_PCA, XF_INIT_RANDOM };
/*
 * t-SNE's input distance: Euclidean, or cosine (1 - cos, squared before the perplexity search
 * as scikit-learn does for every metric; rows are scaled to unit length, no PCA pre-reduction).
 */
enum xf_metric_choice { XF_METRIC_EUCLIDEAN, XF_METRIC_COSINE };

#define XF_KNN_EXACT_MAX 25000   /* AUTO searches exactly up to this many points (beyond, the approximate search is faster) */

struct xf_project_opts {
	enum xf_project_method method;
	int dim;                      /* output dimensions */
	int64_t pca_dims;             /* t-SNE's PCA pre-reduction: 0 none, < 0 automatic (50 when D > 50) */
	enum xf_pca_solver solver;    /* for every PCA */
	double perplexity;
	enum xf_knn_choice knn;
	enum xf_init_choice init;
	enum xf_metric_choice metric;
	struct xf_tsne_opts tsne;     /* dim and threads are taken from here */
	uint64_t seed;
	/* diagnostics (NULL: none) */
	void (*note)(void *ctx, const char *line);
	void *ctx;
};

#define XF_PROJECT_OPTS_INIT { XF_PROJECT_TSNE, 2, -1, XF_PCA_AUTO, 30.0, XF_KNN_AUTO, XF_INIT_PCA, XF_METRIC_EUCLIDEAN, \
			       XF_TSNE_OPTS_INIT, 0, NULL, NULL }

/* What a run found: for the output's metadata and the user. */
struct xf_project_result {
	double kl;                    /* t-SNE: final KL divergence */
	double perplexity;            /* t-SNE: the perplexity used (lowered for small N) */
	int64_t neighbours, pca_dims; /* t-SNE: k, and the dimensions after pre-reduction (0: none) */
	enum xf_tsne_method method;   /* t-SNE: the repulsion method used */
	double explained;             /* PCA: share of the variance kept */
};

/*
 * Embed the n x d rows of x (finite) into y (n x o->dim). PCA: the top principal
 * component scores. t-SNE: as tsne.md describes, with the defaults of its section 3.
 */
int xf_project(const double *x, int64_t n, int64_t d, const struct xf_project_opts *o, double *y,
	       struct xf_project_result *res, struct xf_err *err);

#endif
