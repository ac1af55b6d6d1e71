/*
 * pack: data in (xfer-pack). Each function adds its fields (and meta.classes) to a header the
 * caller prepared (kind, meta.history), then writes one segment through w.
 *  - arrays: named .npy files (streamed in row blocks, bounded memory) and .npz members;
 *  - CSV/TSV with a header row: numeric columns become x (float32), optional label and id columns;
 *  - image datasets laid out CLASS/FILE in a directory or archive: x uint8 [C, H, W], y, id;
 *  - safetensors weights: a model segment, with a graph from an --arch JSON file.
 */
#ifndef XF_PACK_H
#define XF_PACK_H

#include "imgset.h"
#include "writer.h"

struct xf_pack_array {
	const char *name;   /* field name */
	const char *path;   /* .npy file, or .npz (then name is a prefix: NULL takes members' names) */
};

int xf_pack_arrays(const struct xf_pack_array *arrays, int n, struct xf_header *h, struct xf_writer *w,
		   struct xf_err *err);

struct xf_pack_csv_opts {
	const char *label_column;  /* NULL: no labels */
	const char *id_column;     /* NULL: no ids */
	char delimiter;            /* 0: tab if the header line has one, else comma */
};

int xf_pack_csv(const char *path, const struct xf_pack_csv_opts *o, struct xf_header *h, struct xf_writer *w,
		struct xf_err *err);
int xf_pack_images(const char *path, const struct xf_imgset_opts *o, struct xf_header *h, struct xf_writer *w,
		   struct xf_err *err);
/* arch_path: JSON file holding the graph, or NULL for weights without an architecture. */
int xf_pack_safetensors(const char *path, const char *arch_path, struct xf_header *h, struct xf_writer *w,
			struct xf_err *err);

#endif
