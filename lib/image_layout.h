/*
 * image_layout: xfer-project --image: fit a DeepInsight layout of the features of a training
 * matrix (normalise, embed the features as points by t-SNE or PCA of the transposed matrix,
 * then layout.h's hull, rectangle and grid), and keep it as a stream so the same layout maps
 * test data. The stream is one table segment of d rows (one per feature): row and col
 * (int32 pixel), rotated (float64 [2], for re-binning), lo and hi (float64, the normaliser's
 * per-feature parameters, when it has them), with meta.xfer_layout = {version, height, width,
 * rot, norm, scale}.
 */
#ifndef XF_IMAGE_LAYOUT_H
#define XF_IMAGE_LAYOUT_H

#include "layout.h"
#include "project.h"
#include "reader.h"
#include "writer.h"

enum xf_feature_embedding { XF_FEATURES_TSNE, XF_FEATURES_PCA };

struct xf_image_opts {
	int height, width;
	enum xf_feature_embedding embedding;   /* how features become 2-D points */
	enum xf_layout_norm_kind norm;         /* value normalisation (deepinsight.md 4.3) */
	struct xf_project_opts project;        /* t-SNE settings (cosine metric by default) */
};

/* Fit the layout of the d features of x (n x d, finite). */
int xf_image_fit(const double *x, int64_t n, int64_t d, const struct xf_image_opts *o, struct xf_layout *out,
		 struct xf_err *err);

/* The layout as a stream segment under base (its meta and history are kept). */
int xf_image_layout_write(struct xf_writer *w, const struct xf_header *base, const struct xf_layout *l,
			  struct xf_err *err);
/* The same, as the file path (through a temporary, renamed when complete). */
int xf_image_layout_save(const char *path, const struct xf_header *base, const struct xf_layout *l,
			 struct xf_err *err);
/* A layout from a stream written by xf_image_layout_write, validated. */
int xf_image_layout_read(struct xf_reader *r, struct xf_layout *out, struct xf_err *err);

#endif
