/*
 * tensor: n-dimensional arrays of one dtype, and the dtype table.
 *
 * Ownership, stated once: a tensor owns its data when `owner` is not NULL, and
 * xf_tensor_release frees it; a view (owner NULL) borrows data and must not outlive
 * the tensor it was taken from. A tensor returned by a reader belongs to the caller;
 * writers never take ownership.
 *
 * Data is row-major; owned buffers are 64-byte aligned. Strings (dtype XF_DTYPE_STR)
 * are a tensor of `char *`, each pointing at a NUL-terminated UTF-8 string inside the
 * same allocation, so one release frees all of them.
 *
 *	struct xf_tensor t = XF_TENSOR_INIT;
 *	int64_t shape[2] = { n, d };
 *	if (xf_tensor_alloc(&t, XF_DTYPE_F32, 2, shape, &err) < 0) return -1;
 *	float *x = t.data;  ... xf_tensor_release(&t);
 */
#ifndef XF_TENSOR_H
#define XF_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define XF_MAX_DIMS 8
#define XF_ALIGN 64

/* Values are fixed: never renumber, never reuse a retired one. */
enum xf_dtype {
	XF_DTYPE_F32 = 0,   /* "<f4" */
	XF_DTYPE_F64 = 1,   /* "<f8" */
	XF_DTYPE_F16 = 2,   /* "<f2", IEEE half */
	XF_DTYPE_BF16 = 3,  /* "bf16": bfloat16, on the wire "<u2" plus an "xfer_dtype" key */
	XF_DTYPE_I8 = 4,    /* "|i1" */
	XF_DTYPE_I16 = 5,   /* "<i2" */
	XF_DTYPE_I32 = 6,   /* "<i4" */
	XF_DTYPE_I64 = 7,   /* "<i8" */
	XF_DTYPE_U8 = 8,    /* "|u1" */
	XF_DTYPE_U16 = 9,   /* "<u2" */
	XF_DTYPE_U32 = 10,  /* "<u4" */
	XF_DTYPE_U64 = 11,  /* "<u8" */
	XF_DTYPE_BOOL = 12, /* "|b1" */
	XF_DTYPE_STR = 13,  /* "str": a column of strings (msgpack array of str on the wire) */
	XF_DTYPE_COUNT = 14
};

struct xf_dtype_traits {
	const char *name;   /* the numpy dtype string, or "bf16" / "str" */
	size_t size;        /* bytes per element (sizeof(char *) for STR) */
	bool is_float;      /* f16, bf16, f32, f64 */
	bool is_signed;     /* signed integer or float */
};

extern const struct xf_dtype_traits xf_dtype_table[XF_DTYPE_COUNT];

struct xf_tensor {
	enum xf_dtype dtype;             /* element type */
	int ndim;                        /* number of dimensions, 0..XF_MAX_DIMS */
	int64_t shape[XF_MAX_DIMS];      /* extent of each dimension */
	int64_t stride[XF_MAX_DIMS];     /* elements between neighbours of each dimension */
	void *data;                      /* first element */
	void *owner;                     /* allocation to free, NULL for a view */
};

#define XF_TENSOR_INIT { XF_DTYPE_F32, 0, {0}, {0}, NULL, NULL }

/* Name and size of a dtype; xf_dtype_parse maps a name ("<f4", "float32", "bf16", "str") to it. */
const char *xf_dtype_name(enum xf_dtype dtype);
size_t xf_dtype_size(enum xf_dtype dtype);
int xf_dtype_parse(const char *name, enum xf_dtype *out);

/* Product of shape[0..ndim); -1 if it overflows int64 or a dimension is negative. */
int64_t xf_shape_count(int ndim, const int64_t *shape);

/*
 * Bytes needed for ndim/shape of dtype, checked: fills err and returns -1 on a negative
 * dimension, ndim out of range, or a total above `limit` bytes (or SIZE_MAX).
 */
int xf_shape_bytes(enum xf_dtype dtype, int ndim, const int64_t *shape, size_t limit,
		   size_t *out, struct xf_err *err);

void xf_tensor_init(struct xf_tensor *t);
/* Allocate zeroed, contiguous, 64-byte aligned storage (not for STR). */
int xf_tensor_alloc(struct xf_tensor *t, enum xf_dtype dtype, int ndim, const int64_t *shape,
		    struct xf_err *err);
/* The same without zeroing, for callers that write every element. */
int xf_tensor_alloc_uninit(struct xf_tensor *t, enum xf_dtype dtype, int ndim, const int64_t *shape,
			   struct xf_err *err);
/* A 1-D STR tensor of n strings whose bytes (NULs included) total at most text_bytes. */
int xf_tensor_alloc_str(struct xf_tensor *t, int64_t n, size_t text_bytes, char **text_out,
			struct xf_err *err);
/* Frees owned storage and resets to XF_TENSOR_INIT; safe on a view or an empty tensor. */
void xf_tensor_release(struct xf_tensor *t);

/* Number of elements, bytes of contiguous data, and whether strides are row-major contiguous. */
int64_t xf_tensor_count(const struct xf_tensor *t);
size_t xf_tensor_bytes(const struct xf_tensor *t);
bool xf_tensor_is_contiguous(const struct xf_tensor *t);
void xf_tensor_set_contiguous_strides(struct xf_tensor *t);

/* View of rows [begin, end) along dimension 0 (a borrowed slice). */
void xf_tensor_rows(const struct xf_tensor *t, int64_t begin, int64_t end, struct xf_tensor *out);

/* Deep copy of a tensor (contiguous result; STR strings copied too). */
int xf_tensor_copy(const struct xf_tensor *src, struct xf_tensor *out, struct xf_err *err);

/*
 * Convert to another numeric dtype into a new contiguous tensor. Floats to integers
 * round toward zero and are refused when out of range or not finite.
 */
int xf_tensor_convert(const struct xf_tensor *src, enum xf_dtype dtype, struct xf_tensor *out,
		      struct xf_err *err);

/*
 * Stack n tensors along dimension 0 into one new contiguous tensor; all must share dtype
 * and trailing shape (STR included).
 */
int xf_tensor_concat_rows(const struct xf_tensor *parts, int n, struct xf_tensor *out, struct xf_err *err);

/* A growable list of owned tensors, e.g. the batches of a column waiting to be stacked. */
struct xf_tensor_list {
	struct xf_tensor *items;  /* n tensors, each owned by the list */
	int n, cap;
};

#define XF_TENSOR_LIST_INIT { NULL, 0, 0 }

/* Append t, taking it over (t is reset); on failure t is left to the caller. */
int xf_tensor_list_take(struct xf_tensor_list *l, struct xf_tensor *t, struct xf_err *err);
/* Release every tensor and the list's storage. */
void xf_tensor_list_release(struct xf_tensor_list *l);

/* Element i (flat, row-major over a contiguous tensor) as double; not for STR. */
double xf_tensor_get_f64(const struct xf_tensor *t, int64_t i);

/* IEEE half and bfloat16 <-> float. */
float xf_f16_to_f32(uint16_t h);
uint16_t xf_f32_to_f16(float f);
float xf_bf16_to_f32(uint16_t b);
uint16_t xf_f32_to_bf16(float f);

/* Reverse the byte order of n elements of size elem_size in place (big-endian input). */
void xf_byteswap(void *data, int64_t n, size_t elem_size);

/* Shape as "[2, 3]" into buf. */
const char *xf_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);

#endif
