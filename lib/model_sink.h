/*
 * model_sink: write a model tensor by tensor from float32 arrays, as a model stream or a
 * safetensors file, each tensor rounded to its declared dtype (f16 and bf16 to nearest
 * even). Only one tensor is held at a time, so a model larger than memory can be written.
 *
 *	struct xf_model_sink *s;
 *	xf_model_sink_stream(writer, &header, &s, &err);      or xf_model_sink_safetensors(fd, ...)
 *	for (i = 0; i < header.n_fields; i++) xf_model_sink_put(s, i, data, &err);
 *	xf_model_sink_end(s, &err);  xf_model_sink_free(s);
 */
#ifndef XF_MODEL_SINK_H
#define XF_MODEL_SINK_H

#include "header.h"
#include "writer.h"

struct xf_model_sink;

/* A model segment on w under h (kind model; fields declare names, float dtypes and shapes). */
int xf_model_sink_stream(struct xf_writer *w, const struct xf_header *h, struct xf_model_sink **out,
			 struct xf_err *err);

/*
 * A safetensors file on fd with h's fields (h's meta and graph are not written; metadata,
 * an object of strings or NULL, is). The header goes out now.
 */
int xf_model_sink_safetensors(int fd, const struct xf_header *h, json_t *metadata,
			      struct xf_model_sink **out, struct xf_err *err);

/* Tensor i (in field order: i must be the next one) from data, its element count of floats. */
int xf_model_sink_put(struct xf_model_sink *s, int i, const float *data, struct xf_err *err);

/* After the last tensor: the end frame (streams). */
int xf_model_sink_end(struct xf_model_sink *s, struct xf_err *err);

void xf_model_sink_free(struct xf_model_sink *s);

#endif
