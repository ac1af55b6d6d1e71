/*
 * safetensors: read and write Hugging Face .safetensors files as xf_tensors.
 * Format (https://huggingface.co/docs/safetensors): u64 little-endian N, N bytes of JSON
 * header (name -> {dtype, shape, data_offsets}, optional "__metadata__" of strings, padded
 * with spaces), then the raw little-endian tensor data.
 *
 *	struct xf_safetensors *st;
 *	if (xf_safetensors_open("model.safetensors", &st, &err) < 0) return -1;
 *	for (int i = 0; i < xf_safetensors_count(st); i++) {
 *		struct xf_tensor t;
 *		if (xf_safetensors_read(st, i, &t, &err) < 0) break;
 *		... use t, named xf_safetensors_name(st, i) ...; xf_tensor_release(&t);
 *	}
 *	xf_safetensors_close(st);
 *
 * The reader holds only the header in memory; tensors are read one at a time, so a model
 * larger than memory can be converted tensor by tensor.
 */
#ifndef XF_SAFETENSORS_H
#define XF_SAFETENSORS_H

#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "tensor.h"

#define XF_SAFETENSORS_MAX_HEADER 100000000 /* header bytes, the reference implementation's limit */
#define XF_SAFETENSORS_MAX_NAME 255         /* bytes in a tensor name (our limit, not the format's) */

struct xf_safetensors; /* an open file and its validated header */

/*
 * Open `path` (a regular file: reading needs pread) and validate the whole header before
 * returning: header length, JSON syntax (with line and column), duplicate names, dtypes,
 * shapes, and that every tensor's data_offsets are exactly its size and lie inside the
 * data area without overlapping another tensor. Gaps between tensors and trailing bytes
 * are tolerated. Returns 0 and sets *out, or -1 with err filled: XF_E_IO (open, stat,
 * read), XF_E_FORMAT (malformed or truncated file, unsupported dtype such as F8_E4M3),
 * XF_E_LIMIT (header over 100 MB, more than XF_MAX_DIMS dimensions, absurd shape),
 * XF_E_USAGE (not a regular file, e.g. a pipe), XF_E_NOMEM. Messages name the path.
 */
int xf_safetensors_open(const char *path, struct xf_safetensors **out, struct xf_err *err);

/* Number of tensors ("__metadata__" is not one). */
int xf_safetensors_count(const struct xf_safetensors *st);

/*
 * Entries 0..count-1 are in ascending data_offsets order, i.e. file order, so reading them
 * in index order reads the file sequentially; empty tensors that tie are ordered by name.
 * The name is borrowed, valid until close, non-empty UTF-8 of at most
 * XF_SAFETENSORS_MAX_NAME bytes without NULs. i out of range is a programmer error (assert).
 */
const char *xf_safetensors_name(const struct xf_safetensors *st, int i);

/*
 * dtype, ndim and shape of entry i; shape must have room for XF_MAX_DIMS values. Any
 * out-parameter may be NULL.
 */
void xf_safetensors_info(const struct xf_safetensors *st, int i, enum xf_dtype *dtype, int *ndim,
			 int64_t *shape);

/* Index of the tensor called `name`, or -1 if there is none (linear search). */
int xf_safetensors_find(const struct xf_safetensors *st, const char *name);

/*
 * Read entry i into *out, a new contiguous 64-byte aligned tensor that belongs to the
 * caller (xf_tensor_release it). On failure *out is left empty (XF_TENSOR_INIT) and -1
 * is returned: XF_E_IO on a read error, XF_E_FORMAT if the file got shorter since open,
 * XF_E_NOMEM.
 */
int xf_safetensors_read(struct xf_safetensors *st, int i, struct xf_tensor *out, struct xf_err *err);

/*
 * Read entry i into buf, which holds at least its bytes (dtype size x elements), in the
 * host's byte order: for callers that reuse one buffer across tensors. -1 with err as
 * xf_safetensors_read (buf's content is then undefined).
 */
int xf_safetensors_read_into(struct xf_safetensors *st, int i, void *buf, struct xf_err *err);

/*
 * Map entry i's bytes read-only, as stored (little-endian), instead of copying them: for
 * large tensors read once. map->data is NULL for an empty tensor. The file's size is checked
 * first (XF_E_FORMAT if it got shorter since open); a file cut short while mapped makes the
 * access fault, as with any mapping. -1 with err: also XF_E_IO when mmap fails.
 */
struct xf_safetensors_map {
	void *addr;          /* the mapping (page aligned), or NULL */
	size_t len;
	const void *data;    /* the tensor's first byte inside it */
};
int xf_safetensors_map(struct xf_safetensors *st, int i, struct xf_safetensors_map *map, struct xf_err *err);
void xf_safetensors_unmap(struct xf_safetensors_map *map);

/*
 * The "__metadata__" object (every value a string), or NULL if the file has none.
 * Borrowed: valid until close; json_incref it to keep it longer; do not modify it.
 */
json_t *xf_safetensors_metadata(const struct xf_safetensors *st);

/* Close the file and free everything; NULL is allowed. */
void xf_safetensors_close(struct xf_safetensors *st);

/*
 * Write a complete safetensors file to fd, sequentially from its current position (a
 * pipe works): tensors in the given order, data contiguous from offset 0, the header
 * padded with spaces to a multiple of 8 bytes as the reference implementation does.
 * tensors[i] is named names[i]; strided views are allowed (copied one at a time). Names
 * must be unique, non-empty, valid UTF-8 of at most XF_SAFETENSORS_MAX_NAME bytes and not
 * "__metadata__"; dtypes must not be STR. metadata is NULL or an object of string values;
 * it is borrowed, as are the tensors. Returns 0, or -1 with err filled: XF_E_USAGE for
 * the argument problems above, XF_E_LIMIT for a header over 100 MB, XF_E_IO / XF_E_PIPE
 * when a write fails (then part of the file may have been written; the caller removes it),
 * XF_E_NOMEM. Short writes and EINTR are retried.
 */
int xf_safetensors_write(int fd, int n, const char *const *names, const struct xf_tensor *tensors,
			 json_t *metadata, struct xf_err *err);

/*
 * The same in two steps, for tensors produced one at a time (bounded memory): the header,
 * from specs that need only dtype, ndim and shape (data may be NULL), then each tensor's data
 * in the same order with xf_safetensors_write_data, each matching its spec (the caller's
 * duty: the file is malformed otherwise).
 */
int xf_safetensors_write_header(int fd, int n, const char *const *names, const struct xf_tensor *specs,
				json_t *metadata, struct xf_err *err);
int xf_safetensors_write_data(int fd, const char *name, const struct xf_tensor *t, struct xf_err *err);

#endif
