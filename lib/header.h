/*
 * header: a segment's header frame in memory: kind, declared fields, meta, graph.
 * The wire form is specified in schemas/stream.md; stream.c reads and writes it.
 * meta, graph and extra are jansson values owned by the header (JSON-representable by rule).
 */
#ifndef XF_HEADER_H
#define XF_HEADER_H

#include <jansson.h>
#include <stdbool.h>

#include "tensor.h"

/*
 * Format versions this code reads (schemas/stream.md, change log). A writer declares the
 * oldest version that has everything its segment uses: XF_FORMAT_OLDEST unless the graph
 * needs more (xf_graph_format_version), so that older readers keep reading what they can.
 */
#define XF_FORMAT_VERSION 2 /* the newest */
#define XF_FORMAT_OLDEST 1
#define XF_MAX_NAME 255   /* bytes in a field or tensor name */
#define XF_MAX_FIELDS 4096 /* fields in one header */

enum xf_kind { XF_KIND_SAMPLES = 0, XF_KIND_MODEL = 1, XF_KIND_TABLE = 2, XF_KIND_COUNT = 3 };

/*
 * One declared field. For samples and table segments, shape is per row (the batch column
 * has shape [n, shape...]); for model segments it is the whole tensor's shape.
 */
struct xf_field {
	char name[XF_MAX_NAME + 1]; /* UTF-8, unique in the segment, non-empty */
	enum xf_dtype dtype;        /* XF_DTYPE_STR only for samples/table, with ndim 0 */
	int ndim;                   /* dimensions of shape */
	int64_t shape[XF_MAX_DIMS]; /* see above */
};

struct xf_header {
	enum xf_kind kind;          /* what the segment holds */
	int n_fields;               /* entries in fields */
	struct xf_field *fields;    /* in wire order; owned */
	json_t *meta;               /* object; owned; never NULL in a parsed header */
	json_t *graph;              /* model architecture (model kind), or NULL; owned */
	json_t *extra;              /* other top-level keys, kept for pass-through; object or NULL */
};

#define XF_HEADER_INIT { XF_KIND_SAMPLES, 0, NULL, NULL, NULL, NULL }

const char *xf_kind_name(enum xf_kind kind);
int xf_kind_parse(const char *name, enum xf_kind *out);

/* Index of the field called name, or -1. */
int xf_header_find(const struct xf_header *h, const char *name);

/* Append a field (copies name); checks the name and that it is not declared twice. */
int xf_header_add_field(struct xf_header *h, const char *name, enum xf_dtype dtype, int ndim,
			const int64_t *shape, struct xf_err *err);

/* Deep copy; out is overwritten. */
int xf_header_copy(const struct xf_header *src, struct xf_header *out, struct xf_err *err);

/* Same kind, and fields equal in order, names, dtypes and shapes (model: also graph). */
bool xf_header_compatible(const struct xf_header *a, const struct xf_header *b);

/* Meta helpers. history: append {"prog","version","args"}. classes: array of str or NULL. */
int xf_header_add_history(struct xf_header *h, const char *prog, int argc, char **argv,
			  struct xf_err *err);
int xf_header_set_classes(struct xf_header *h, int n, char *const *names, struct xf_err *err);

/* Frees everything and resets to XF_HEADER_INIT. */
void xf_header_release(struct xf_header *h);

#endif
