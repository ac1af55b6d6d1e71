/*
 * npy: NumPy .npy and .npz input and output, for xfer-pack (x=feats.npy) and xfer-cat --to npy|npz.
 * The format is numpy's numpy/lib/format.py (NEP 1): "\x93NUMPY", version, header length,
 * a Python-literal dict {'descr', 'fortran_order', 'shape'}, then the raw array data.
 *
 *	struct xf_npy_reader *r = xf_npy_reader_open(read_fn, ctx, "feats.npy", &err);
 *	while ((n = xf_npy_read_rows(r, 4096, &batch, &err)) > 0) { ... xf_tensor_release(&batch); }
 *	xf_npy_reader_close(r);            (n < 0: err says why)
 *
 * Reading: every numeric dtype of tensor.h in '<', '>' (swapped to native), '|' and '=' order;
 * '|b1' (normalised to 0/1); '<U{n}'/'>U{n}' (UTF-32, decoded to UTF-8) and '|S{n}' (must be
 * UTF-8) become 1-D XF_DTYPE_STR tensors with trailing NULs stripped. Object ('|O') and
 * structured (list descr) arrays are refused. Fortran-order arrays come back transposed to
 * C order (the logical array numpy shows).
 * Writing: version 1.0 headers laid out as numpy writes them. bf16 has no numpy dtype and is
 * written as '<u2' (its raw bits; read back it is U16). STR is written as '<U{longest}'.
 * Ownership: tensors returned belong to the caller; writers never take ownership; a reader or
 * writer never closes the fd it was given.
 */
#ifndef XF_NPY_H
#define XF_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tensor.h"

#ifndef XF_READ_FN_DEFINED
#define XF_READ_FN_DEFINED
/* A byte source: bytes read (0 at EOF, short reads allowed), or -1 with err filled. */
typedef long (*xf_read_fn)(void *ctx, void *buf, size_t n, struct xf_err *err);
#endif

#define XF_NPY_MAX_HEADER 65536                 /* header dict bytes accepted (numpy's own default is 10000) */
#define XF_NPY_MAX_STR_CHARS (1 << 24)          /* n in '<U{n}' / '|S{n}' accepted and written */
#define XF_NPY_HEADER_SIZE 256                  /* a buffer this big holds any header xf_npy_header makes */
#ifndef XF_NPZ_MAX_MEMBER                       /* data bytes of one .npz member: 16 GiB (the fuzz build lowers it) */
#define XF_NPZ_MAX_MEMBER ((uint64_t)16 << 30)
#endif
#define XF_NPY_MAX_EMPTY_ROWS ((int64_t)1 << 32) /* rows in an [n, 0] array: no data bounds them */

/* What a .npy header declares. */
struct xf_npy_info {
	enum xf_dtype dtype;         /* dtype of the tensors the data becomes */
	int ndim;                    /* 0..XF_MAX_DIMS */
	int64_t shape[XF_MAX_DIMS];  /* logical (C-order) shape, as numpy reports it */
	bool fortran_order;          /* data is stored column-major */
	char byte_order;             /* '<', '>', '|' or '=' as written in descr */
	char kind;                   /* numpy kind: 'f', 'i', 'u', 'b', 'U' or 'S' */
	size_t item_size;            /* bytes per element in the file (4n for '<U{n}') */
	int version;                 /* format major version: 1, 2 or 3 */
	uint64_t data_offset;        /* bytes before the data: magic, version, length, dict */
	uint64_t data_bytes;         /* bytes of data the header declares */
};

/*
 * Parse the header dict text (without magic/length) into out. Keys in any order, Python
 * whitespace, an optional trailing comma, Python 2 'L' suffixes. Errors: XF_E_FORMAT for
 * malformed text, unknown/missing/repeated keys, object, structured or unsupported dtypes;
 * XF_E_LIMIT for more than XF_MAX_DIMS dimensions, oversized numbers or strings.
 * Sizes are not checked here (the reader does that).
 */
int xf_npy_parse_header(const char *text, size_t len, struct xf_npy_info *out, struct xf_err *err);

/*
 * Reader over a byte source. Open reads and checks the preamble and header: bad magic,
 * version other than 1.0/2.0/3.0, a header longer than XF_NPY_MAX_HEADER (XF_E_LIMIT), a
 * shape whose bytes overflow (XF_E_LIMIT, checked with xf_shape_bytes), string arrays that are
 * not 1-D, more than XF_NPY_MAX_EMPTY_ROWS rows of 0 bytes (XF_E_LIMIT: streaming them would
 * take forever). name is used only for messages ("'name': ..."); read/ctx must outlive the reader.
 * Returns NULL with err filled on failure.
 */
struct xf_npy_reader;
struct xf_npy_reader *xf_npy_reader_open(xf_read_fn read, void *ctx, const char *name,
					 struct xf_err *err);
const struct xf_npy_info *xf_npy_reader_info(const struct xf_npy_reader *r);

/*
 * Read up to max_rows (> 0) rows along dimension 0 into a new tensor out of shape
 * [rows, shape[1:]]. Returns rows read (always min(max_rows, rows left)), 0 at the end (out
 * left empty), -1 on error. Memory grows with the bytes actually read, never with what the
 * header claims. A source that ends early is XF_E_FORMAT "'x.npy': truncated: header declares
 * N rows of B bytes, data ends after M rows". A Fortran-order array of 2+ dimensions is read
 * whole (and transposed) by the first call, then handed out by rows; a 0-d array counts as
 * one row and comes back as a 0-d tensor.
 */
int64_t xf_npy_read_rows(struct xf_npy_reader *r, int64_t max_rows, struct xf_tensor *out,
			 struct xf_err *err);

/* The whole array as one tensor (0 rows gives an empty tensor of the declared shape); only before any read_rows. */
int xf_npy_read_all(struct xf_npy_reader *r, struct xf_tensor *out, struct xf_err *err);

/* Free the reader; NULL is fine. */
void xf_npy_reader_close(struct xf_npy_reader *r);

/* Read a whole .npy file (side arrays); the size is checked against the file size before reading. */
int xf_npy_load_file(const char *path, struct xf_tensor *out, struct xf_err *err);

/*
 * Write a version 1.0 preamble+header for dtype/shape into buf (size bytes), set *len.
 * The length is a multiple of 64 and does not depend on shape[0] (numpy's growth-axis
 * padding), so a writer that learns the row count at the end can rewrite it in place.
 * Errors: XF_E_USAGE for STR (the writers choose '<U{n}' themselves), bad ndim, negative
 * dimensions, or a buffer smaller than needed (XF_NPY_HEADER_SIZE is always enough).
 */
int xf_npy_header(enum xf_dtype dtype, int ndim, const int64_t *shape, char *buf, size_t size,
		  size_t *len, struct xf_err *err);

/*
 * Streaming .npy writer on fd (written from its current offset; never closed by us).
 * shape[1..ndim) is the row shape; shape[0] is the row count if known, or -1.
 *  - known count, or ndim 0: header first, rows streamed, close checks the count matches;
 *  - unknown count on a seekable fd: provisional header, rows streamed, header patched at close;
 *  - unknown count on a pipe (or O_APPEND fd): data kept in memory, everything written at close;
 *  - STR (ndim 1): strings kept in memory, written at close as '<U{longest}'.
 * Writes loop over short writes and EINTR; failures are XF_E_IO with the errno text (XF_E_PIPE
 * for EPIPE). name is for messages.
 */
struct xf_npy_writer;
struct xf_npy_writer *xf_npy_writer_open(int fd, const char *name, enum xf_dtype dtype, int ndim,
					 const int64_t *shape, struct xf_err *err);
/* Append t: same dtype and ndim, same shape[1:] (a 0-d array is written once). XF_E_USAGE otherwise. */
int xf_npy_writer_write(struct xf_npy_writer *w, const struct xf_tensor *t, struct xf_err *err);
/* Finish (patch or flush) and free; must be checked. After an earlier failure it only frees and returns -1. */
int xf_npy_writer_close(struct xf_npy_writer *w, struct xf_err *err);
/* Free without finishing (on an error path); NULL is fine. */
void xf_npy_writer_abort(struct xf_npy_writer *w);
/* Write t to path (created or truncated, mode 0666 & ~umask); a failed save may leave a partial file. */
int xf_npy_save_file(const char *path, const struct xf_tensor *t, struct xf_err *err);

/*
 * .npz: a zip archive (stored or deflated, as np.savez / np.savez_compressed write it) whose
 * members 'NAME.npy' are arrays NAME; other members are skipped. For each array, in archive
 * order, fn(ctx, NAME, t, err) is called with t handed over (the callback owns it, whatever it
 * returns); a negative return stops reading and is returned as -1 (the callback fills err).
 * Members are read incrementally and capped at XF_NPZ_MAX_MEMBER data bytes (XF_E_LIMIT);
 * CRCs are checked. Returns the number of arrays, or -1.
 */
typedef int (*xf_npz_array_fn)(void *ctx, const char *name, struct xf_tensor *t, struct xf_err *err);
int xf_npz_read(const char *path, xf_npz_array_fn fn, void *ctx, struct xf_err *err);
/* The same from an fd (a pipe works: libarchive's streaming zip reader); name is for messages. */
int xf_npz_read_fd(int fd, const char *name, xf_npz_array_fn fn, void *ctx, struct xf_err *err);

/* .npz writer through libarchive's zip writer: members 'NAME.npy', stored unless XF_NPZ_DEFLATE. */
enum xf_npz_flags { XF_NPZ_DEFLATE = 1 << 0 };
struct xf_npz_writer;
/* Create or truncate path. */
struct xf_npz_writer *xf_npz_writer_open(const char *path, int flags, struct xf_err *err);
/* Write to fd from its current position (pipes fine; fd is not closed); name is for messages. */
struct xf_npz_writer *xf_npz_writer_open_fd(int fd, const char *name, int flags, struct xf_err *err);
/* Add t (any layout; STR must be 1-D) as member 'name.npy'; name must be non-empty. */
int xf_npz_writer_add(struct xf_npz_writer *w, const char *name, const struct xf_tensor *t,
		      struct xf_err *err);
/* Write the central directory, free w (and close the file if opened by path); must be checked. */
int xf_npz_writer_close(struct xf_npz_writer *w, struct xf_err *err);

#endif
