/*
 * model_source: a model's tensors read one at a time as float32, from a model stream (the
 * first segment of an xfer stream) or a .safetensors file, for programs that must not hold
 * a whole model (xfer-merge).
 *
 *	struct xf_model_source *src;
 *	if (xf_model_source_open("ft.safetensors", &src, &err) < 0) return -1;
 *	int i = xf_model_source_find(src, "fc.weight");
 *	xf_model_source_get(src, i, buf, &data, &err);   buf: room for xf_model_source_count_of floats
 *	xf_model_source_close(src);
 *
 * Every tensor is declared before any data is read (the stream's header, the safetensors
 * header), so names, dtypes and shapes can be checked across models first. A safetensors
 * file is read at any tensor in any order. A stream delivers its tensor frames in its own
 * order: asking for a tensor that comes later keeps the frames before it in memory until
 * they are asked for, so reading in the stream's order (the header's, for every writer
 * here) holds one tensor at a time.
 */
#ifndef XF_MODEL_SOURCE_H
#define XF_MODEL_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "header.h"

struct xf_model_source;

/*
 * Open `path`: a name ending in .safetensors is read as safetensors, anything else ("-" is
 * stdin) as a stream whose first segment must be a model. -1 with err naming the path.
 */
int xf_model_source_open(const char *path, struct xf_model_source **out, struct xf_err *err);

/* Tensors, each one's name, dtype and shape (shape: room for XF_MAX_DIMS). */
int xf_model_source_count(const struct xf_model_source *src);
const char *xf_model_source_name(const struct xf_model_source *src, int i);
void xf_model_source_info(const struct xf_model_source *src, int i, enum xf_dtype *dtype, int *ndim,
			  int64_t *shape);
int64_t xf_model_source_count_of(const struct xf_model_source *src, int i);
/* Index of tensor `name`, or -1. */
int xf_model_source_find(const struct xf_model_source *src, const char *name);
/* The path as given, for messages. */
const char *xf_model_source_path(const struct xf_model_source *src);

/* The stream's header (meta, graph), or NULL for safetensors. */
const struct xf_header *xf_model_source_header(const struct xf_model_source *src);
/* The safetensors "__metadata__" object, or NULL (streams, or a file without one); borrowed. */
json_t *xf_model_source_metadata(const struct xf_model_source *src);

/*
 * Tensor i as float32: *data points at it, either straight into the file (a float32
 * safetensors tensor is mapped, not copied) or into buf (xf_model_source_count_of floats),
 * where other dtypes are widened (f16, bf16) or rounded (f64); integer tensors are refused.
 * *data stays valid until the next call on src. NaN or infinity is an error (XF_E_FORMAT)
 * naming the tensor, the file and the first bad position. Each tensor may be read once per
 * pass; -1 with err also for the reader's errors.
 */
int xf_model_source_get(struct xf_model_source *src, int i, float *buf, const float **data, struct xf_err *err);

/* Threads for the conversion and the check of values (default 1). */
void xf_model_source_set_threads(struct xf_model_source *src, int threads);

/* Start another pass over the tensors (files only; stdin cannot be read twice). */
int xf_model_source_rewind(struct xf_model_source *src, struct xf_err *err);

void xf_model_source_close(struct xf_model_source *src);

#endif
