/* tensor: the dtype table and tensor storage; see tensor.h. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor.h"

const struct xf_dtype_traits xf_dtype_table[XF_DTYPE_COUNT] = {
	[XF_DTYPE_F32] = { "<f4", 4, true, true },
	[XF_DTYPE_F64] = { "<f8", 8, true, true },
	[XF_DTYPE_F16] = { "<f2", 2, true, true },
	[XF_DTYPE_BF16] = { "bf16", 2, true, true },
	[XF_DTYPE_I8] = { "|i1", 1, false, true },
	[XF_DTYPE_I16] = { "<i2", 2, false, true },
	[XF_DTYPE_I32] = { "<i4", 4, false, true },
	[XF_DTYPE_I64] = { "<i8", 8, false, true },
	[XF_DTYPE_U8] = { "|u1", 1, false, false },
	[XF_DTYPE_U16] = { "<u2", 2, false, false },
	[XF_DTYPE_U32] = { "<u4", 4, false, false },
	[XF_DTYPE_U64] = { "<u8", 8, false, false },
	[XF_DTYPE_BOOL] = { "|b1", 1, false, false },
	[XF_DTYPE_STR] = { "str", sizeof(char *), false, false },
};
static_assert(XF_DTYPE_COUNT == 14, "a new dtype needs a row in xf_dtype_table");

/* Other spellings accepted on input: numpy's names and the byte-order-free short forms. */
static const struct { const char *alias; enum xf_dtype dtype; } dtype_aliases[] = {
	{ "float32", XF_DTYPE_F32 }, { "f4", XF_DTYPE_F32 }, { "=f4", XF_DTYPE_F32 },
	{ "float64", XF_DTYPE_F64 }, { "f8", XF_DTYPE_F64 }, { "=f8", XF_DTYPE_F64 },
	{ "float16", XF_DTYPE_F16 }, { "f2", XF_DTYPE_F16 }, { "=f2", XF_DTYPE_F16 },
	{ "bfloat16", XF_DTYPE_BF16 },
	{ "int8", XF_DTYPE_I8 }, { "i1", XF_DTYPE_I8 }, { "<i1", XF_DTYPE_I8 },
	{ "int16", XF_DTYPE_I16 }, { "i2", XF_DTYPE_I16 },
	{ "int32", XF_DTYPE_I32 }, { "i4", XF_DTYPE_I32 },
	{ "int64", XF_DTYPE_I64 }, { "i8", XF_DTYPE_I64 },
	{ "uint8", XF_DTYPE_U8 }, { "u1", XF_DTYPE_U8 }, { "<u1", XF_DTYPE_U8 },
	{ "uint16", XF_DTYPE_U16 }, { "u2", XF_DTYPE_U16 },
	{ "uint32", XF_DTYPE_U32 }, { "u4", XF_DTYPE_U32 },
	{ "uint64", XF_DTYPE_U64 }, { "u8", XF_DTYPE_U64 },
	{ "bool", XF_DTYPE_BOOL }, { "?", XF_DTYPE_BOOL }, { "b1", XF_DTYPE_BOOL },
};

const char *xf_dtype_name(enum xf_dtype dtype)
{
	return (unsigned)dtype < XF_DTYPE_COUNT ? xf_dtype_table[dtype].name : "?";
}

size_t xf_dtype_size(enum xf_dtype dtype)
{
	return (unsigned)dtype < XF_DTYPE_COUNT ? xf_dtype_table[dtype].size : 0;
}

int xf_dtype_parse(const char *name, enum xf_dtype *out)
{
	for (int i = 0; i < XF_DTYPE_COUNT; i++)
		if (!strcmp(name, xf_dtype_table[i].name)) {
			*out = (enum xf_dtype)i;
			return 0;
		}
	for (size_t i = 0; i < sizeof(dtype_aliases) / sizeof(dtype_aliases[0]); i++)
		if (!strcmp(name, dtype_aliases[i].alias)) {
			*out = dtype_aliases[i].dtype;
			return 0;
		}
	return -1;
}

int64_t xf_shape_count(int ndim, const int64_t *shape)
{
	int64_t n = 1;

	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return -1;
		if (shape[i] && n > INT64_MAX / shape[i])
			return -1;
		n *= shape[i];
	}
	return n;
}

const char *xf_shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
	size_t len = 0;

	len += snprintf(buf, size, "[");
	for (int i = 0; i < ndim && len < size; i++)
		len += snprintf(buf + len, size - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
	if (len < size)
		snprintf(buf + len, size - len, "]");
	return buf;
}

int xf_shape_bytes(enum xf_dtype dtype, int ndim, const int64_t *shape, size_t limit,
		   size_t *out, struct xf_err *err)
{
	char s[160];
	int64_t n;
	size_t esize = xf_dtype_size(dtype);

	if (ndim < 0 || ndim > XF_MAX_DIMS)
		return xf_err_set(err, XF_E_LIMIT, "%d dimensions (at most %d)", ndim, XF_MAX_DIMS);
	n = xf_shape_count(ndim, shape);
	if (n < 0 || (uint64_t)n > SIZE_MAX / esize || (size_t)n * esize > limit)
		return xf_err_set(err, XF_E_LIMIT, "shape %s of %s is too large",
				  xf_shape_str(ndim, shape, s, sizeof(s)), xf_dtype_name(dtype));
	*out = (size_t)n * esize;
	return 0;
}

void xf_tensor_init(struct xf_tensor *t)
{
	*t = (struct xf_tensor)XF_TENSOR_INIT;
}

void xf_tensor_set_contiguous_strides(struct xf_tensor *t)
{
	int64_t s = 1;

	for (int i = t->ndim - 1; i >= 0; i--) {
		t->stride[i] = s;
		s *= t->shape[i];
	}
}

static void *aligned_alloc_bytes(size_t bytes, bool zero)
{
	void *p = NULL;

	if (posix_memalign(&p, XF_ALIGN, bytes ? bytes : 1))
		return NULL;
	if (zero)
		memset(p, 0, bytes);
	return p;
}

static int alloc_tensor(struct xf_tensor *t, enum xf_dtype dtype, int ndim, const int64_t *shape, bool zero,
			struct xf_err *err)
{
	size_t bytes;

	assert(dtype != XF_DTYPE_STR);
	xf_tensor_init(t);
	if (xf_shape_bytes(dtype, ndim, shape, SIZE_MAX / 2, &bytes, err) < 0)
		return -1;
	t->owner = aligned_alloc_bytes(bytes, zero);
	if (!t->owner)
		return xf_err_nomem(err, bytes);
	t->data = t->owner;
	t->dtype = dtype;
	t->ndim = ndim;
	if (ndim)
		memcpy(t->shape, shape, ndim * sizeof(*shape));
	xf_tensor_set_contiguous_strides(t);
	return 0;
}

int xf_tensor_alloc(struct xf_tensor *t, enum xf_dtype dtype, int ndim, const int64_t *shape,
		    struct xf_err *err)
{
	return alloc_tensor(t, dtype, ndim, shape, true, err);
}

/* For callers that write every element: skips zeroing, which costs a pass over fresh pages. */
int xf_tensor_alloc_uninit(struct xf_tensor *t, enum xf_dtype dtype, int ndim, const int64_t *shape,
			   struct xf_err *err)
{
	return alloc_tensor(t, dtype, ndim, shape, false, err);
}

int xf_tensor_alloc_str(struct xf_tensor *t, int64_t n, size_t text_bytes, char **text_out,
			struct xf_err *err)
{
	size_t ptr_bytes;

	xf_tensor_init(t);
	if (xf_shape_bytes(XF_DTYPE_STR, 1, &n, SIZE_MAX / 4, &ptr_bytes, err) < 0)
		return -1;
	if (text_bytes > SIZE_MAX / 4)
		return xf_err_set(err, XF_E_LIMIT, "string column of %zu bytes is too large", text_bytes);
	t->owner = aligned_alloc_bytes(ptr_bytes + text_bytes, true);
	if (!t->owner)
		return xf_err_nomem(err, ptr_bytes + text_bytes);
	t->data = t->owner;
	t->dtype = XF_DTYPE_STR;
	t->ndim = 1;
	t->shape[0] = n;
	t->stride[0] = 1;
	*text_out = (char *)t->owner + ptr_bytes;
	return 0;
}

void xf_tensor_release(struct xf_tensor *t)
{
	free(t->owner);
	xf_tensor_init(t);
}

int64_t xf_tensor_count(const struct xf_tensor *t)
{
	return xf_shape_count(t->ndim, t->shape);
}

size_t xf_tensor_bytes(const struct xf_tensor *t)
{
	return (size_t)xf_tensor_count(t) * xf_dtype_size(t->dtype);
}

bool xf_tensor_is_contiguous(const struct xf_tensor *t)
{
	int64_t s = 1;

	for (int i = t->ndim - 1; i >= 0; i--) {
		if (t->shape[i] != 1 && t->stride[i] != s)
			return false;
		s *= t->shape[i];
	}
	return true;
}

void xf_tensor_rows(const struct xf_tensor *t, int64_t begin, int64_t end, struct xf_tensor *out)
{
	assert(t->ndim >= 1 && 0 <= begin && begin <= end && end <= t->shape[0]);
	*out = *t;
	out->owner = NULL;
	out->shape[0] = end - begin;
	out->data = (char *)t->data + begin * t->stride[0] * xf_dtype_size(t->dtype);
}

/* Copy a strided tensor's elements into contiguous dst, dimension by dimension. */
static void gather(char *dst, const char *src, const struct xf_tensor *t, int dim, size_t esize,
		   size_t *pos)
{
	if (dim == t->ndim) {
		memcpy(dst + *pos, src, esize);
		*pos += esize;
		return;
	}
	for (int64_t i = 0; i < t->shape[dim]; i++)
		gather(dst, src + i * t->stride[dim] * esize, t, dim + 1, esize, pos);
}

static int copy_strings(const struct xf_tensor *src, struct xf_tensor *out, struct xf_err *err)
{
	char *const *s = src->data;
	int64_t n = src->shape[0];
	size_t total = 0;
	char *text;

	for (int64_t i = 0; i < n; i++)
		total += strlen(s[i * src->stride[0]]) + 1;
	if (xf_tensor_alloc_str(out, n, total, &text, err) < 0)
		return -1;
	for (int64_t i = 0; i < n; i++) {
		size_t len = strlen(s[i * src->stride[0]]) + 1;

		memcpy(text, s[i * src->stride[0]], len);
		((char **)out->data)[i] = text;
		text += len;
	}
	return 0;
}

int xf_tensor_copy(const struct xf_tensor *src, struct xf_tensor *out, struct xf_err *err)
{
	size_t pos = 0;

	if (src->dtype == XF_DTYPE_STR)
		return copy_strings(src, out, err);
	if (xf_tensor_alloc_uninit(out, src->dtype, src->ndim, src->shape, err) < 0)
		return -1;
	if (xf_tensor_is_contiguous(src))
		memcpy(out->data, src->data, xf_tensor_bytes(src));
	else if (xf_tensor_count(src) > 0)
		gather(out->data, src->data, src, 0, xf_dtype_size(src->dtype), &pos);
	return 0;
}

static int concat_strings(const struct xf_tensor *parts, int n, int64_t rows, struct xf_tensor *out,
			  struct xf_err *err)
{
	size_t bytes = 0;
	int64_t at = 0;
	char *text;

	for (int p = 0; p < n; p++)
		for (int64_t i = 0; i < parts[p].shape[0]; i++)
			bytes += strlen(((char **)parts[p].data)[i * parts[p].stride[0]]) + 1;
	if (xf_tensor_alloc_str(out, rows, bytes, &text, err) < 0)
		return -1;
	for (int p = 0; p < n; p++)
		for (int64_t i = 0; i < parts[p].shape[0]; i++) {
			const char *s = ((char **)parts[p].data)[i * parts[p].stride[0]];
			size_t len = strlen(s) + 1;

			memcpy(text, s, len);
			((char **)out->data)[at++] = text;
			text += len;
		}
	return 0;
}

int xf_tensor_concat_rows(const struct xf_tensor *parts, int n, struct xf_tensor *out, struct xf_err *err)
{
	int64_t shape[XF_MAX_DIMS], rows = 0;
	size_t pos = 0;

	assert(n > 0);
	for (int p = 0; p < n; p++) {
		if (parts[p].dtype != parts[0].dtype || parts[p].ndim != parts[0].ndim || parts[p].ndim < 1 ||
		    memcmp(parts[p].shape + 1, parts[0].shape + 1, (parts[0].ndim - 1) * sizeof(shape[0])))
			return xf_err_set(err, XF_E_USAGE, "tensors to stack differ in dtype or shape");
		rows += parts[p].shape[0];
	}
	if (parts[0].dtype == XF_DTYPE_STR)
		return concat_strings(parts, n, rows, out, err);
	memcpy(shape, parts[0].shape, parts[0].ndim * sizeof(shape[0]));
	shape[0] = rows;
	if (xf_tensor_alloc_uninit(out, parts[0].dtype, parts[0].ndim, shape, err) < 0)
		return -1;
	for (int p = 0; p < n; p++) {
		if (xf_tensor_is_contiguous(&parts[p])) {
			memcpy((char *)out->data + pos, parts[p].data, xf_tensor_bytes(&parts[p]));
			pos += xf_tensor_bytes(&parts[p]);
		} else if (xf_tensor_count(&parts[p]) > 0) {
			gather(out->data, parts[p].data, &parts[p], 0, xf_dtype_size(parts[p].dtype), &pos);
		}
	}
	return 0;
}

int xf_tensor_list_take(struct xf_tensor_list *l, struct xf_tensor *t, struct xf_err *err)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 16;
		struct xf_tensor *p = realloc(l->items, cap * sizeof(*p));

		if (!p)
			return xf_err_nomem(err, cap * sizeof(*p));
		l->items = p, l->cap = cap;
	}
	l->items[l->n++] = *t;
	xf_tensor_init(t);
	return 0;
}

void xf_tensor_list_release(struct xf_tensor_list *l)
{
	for (int i = 0; i < l->n; i++)
		xf_tensor_release(&l->items[i]);
	free(l->items);
	*l = (struct xf_tensor_list)XF_TENSOR_LIST_INIT;
}

double xf_tensor_get_f64(const struct xf_tensor *t, int64_t i)
{
	const void *p = (const char *)t->data + i * xf_dtype_size(t->dtype);

	switch (t->dtype) {
	case XF_DTYPE_F32: return *(const float *)p;
	case XF_DTYPE_F64: return *(const double *)p;
	case XF_DTYPE_F16: return xf_f16_to_f32(*(const uint16_t *)p);
	case XF_DTYPE_BF16: return xf_bf16_to_f32(*(const uint16_t *)p);
	case XF_DTYPE_I8: return *(const int8_t *)p;
	case XF_DTYPE_I16: return *(const int16_t *)p;
	case XF_DTYPE_I32: return *(const int32_t *)p;
	case XF_DTYPE_I64: return (double)*(const int64_t *)p;
	case XF_DTYPE_U8: return *(const uint8_t *)p;
	case XF_DTYPE_U16: return *(const uint16_t *)p;
	case XF_DTYPE_U32: return *(const uint32_t *)p;
	case XF_DTYPE_U64: return (double)*(const uint64_t *)p;
	case XF_DTYPE_BOOL: return *(const uint8_t *)p != 0;
	default: return NAN;
	}
}

/* Store v as dtype at p; returns -1 when v does not fit an integer dtype. */
static int put_f64(void *p, enum xf_dtype dtype, double v)
{
	double lo = 0, hi = 0;

	switch (dtype) {
	case XF_DTYPE_F32: *(float *)p = (float)v; return 0;
	case XF_DTYPE_F64: *(double *)p = v; return 0;
	case XF_DTYPE_F16: *(uint16_t *)p = xf_f32_to_f16((float)v); return 0;
	case XF_DTYPE_BF16: *(uint16_t *)p = xf_f32_to_bf16((float)v); return 0;
	case XF_DTYPE_BOOL: *(uint8_t *)p = v != 0; return isnan(v) ? -1 : 0;
	case XF_DTYPE_I8: lo = INT8_MIN, hi = INT8_MAX; break;
	case XF_DTYPE_I16: lo = INT16_MIN, hi = INT16_MAX; break;
	case XF_DTYPE_I32: lo = INT32_MIN, hi = INT32_MAX; break;
	case XF_DTYPE_I64: lo = -9223372036854775808.0, hi = 9223372036854774784.0; break;
	case XF_DTYPE_U8: hi = UINT8_MAX; break;
	case XF_DTYPE_U16: hi = UINT16_MAX; break;
	case XF_DTYPE_U32: hi = UINT32_MAX; break;
	case XF_DTYPE_U64: hi = 18446744073709549568.0; break;
	default: return -1;
	}
	v = trunc(v);
	if (!(v >= lo && v <= hi))
		return -1;
	switch (dtype) {
	case XF_DTYPE_I8: *(int8_t *)p = (int8_t)v; break;
	case XF_DTYPE_I16: *(int16_t *)p = (int16_t)v; break;
	case XF_DTYPE_I32: *(int32_t *)p = (int32_t)v; break;
	case XF_DTYPE_I64: *(int64_t *)p = (int64_t)v; break;
	case XF_DTYPE_U8: *(uint8_t *)p = (uint8_t)v; break;
	case XF_DTYPE_U16: *(uint16_t *)p = (uint16_t)v; break;
	case XF_DTYPE_U32: *(uint32_t *)p = (uint32_t)v; break;
	default: *(uint64_t *)p = (uint64_t)v; break;
	}
	return 0;
}

/* Conversions to f8 never fail: one typed loop per source, not a switch per element. */
static bool to_f64_fast(const struct xf_tensor *src, double *dst, int64_t n)
{
	switch (src->dtype) {
	case XF_DTYPE_F32:
		for (int64_t i = 0; i < n; i++)
			dst[i] = ((const float *)src->data)[i];
		return true;
	case XF_DTYPE_U8:
		for (int64_t i = 0; i < n; i++)
			dst[i] = ((const uint8_t *)src->data)[i];
		return true;
	case XF_DTYPE_I32:
		for (int64_t i = 0; i < n; i++)
			dst[i] = ((const int32_t *)src->data)[i];
		return true;
	case XF_DTYPE_I64:
		for (int64_t i = 0; i < n; i++)
			dst[i] = (double)((const int64_t *)src->data)[i];
		return true;
	default:
		return false;
	}
}

/* 64-bit integers are copied exactly, not through double, when both sides are integers. */
static bool exact_int_copy(enum xf_dtype from, enum xf_dtype to)
{
	return (from == XF_DTYPE_I64 && to == XF_DTYPE_I64) || (from == XF_DTYPE_U64 && to == XF_DTYPE_U64);
}

int xf_tensor_convert(const struct xf_tensor *src, enum xf_dtype dtype, struct xf_tensor *out,
		      struct xf_err *err)
{
	struct xf_tensor tmp = XF_TENSOR_INIT;
	const struct xf_tensor *c = src;
	int64_t n;
	size_t osize = xf_dtype_size(dtype);

	if (src->dtype == XF_DTYPE_STR || dtype == XF_DTYPE_STR)
		return xf_err_set(err, XF_E_USAGE, "cannot convert %s to %s", xf_dtype_name(src->dtype),
				  xf_dtype_name(dtype));
	if (src->dtype == dtype || exact_int_copy(src->dtype, dtype))
		return xf_tensor_copy(src, out, err);
	if (!xf_tensor_is_contiguous(src)) {
		if (xf_tensor_copy(src, &tmp, err) < 0)
			return -1;
		c = &tmp;
	}
	if (xf_tensor_alloc_uninit(out, dtype, c->ndim, c->shape, err) < 0)
		goto fail;
	n = xf_tensor_count(c);
	if (dtype == XF_DTYPE_F64 && to_f64_fast(c, out->data, n))
		n = 0;
	for (int64_t i = 0; i < n; i++) {
		double v = xf_tensor_get_f64(c, i);

		if (put_f64((char *)out->data + i * osize, dtype, v) < 0) {
			xf_err_set(err, XF_E_FORMAT, "element %lld (%g) does not fit %s", (long long)i, v,
				   xf_dtype_name(dtype));
			xf_tensor_release(out);
			goto fail;
		}
	}
	xf_tensor_release(&tmp);
	return 0;
fail:
	xf_tensor_release(&tmp);
	return -1;
}

float xf_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
	float f;

	if (exp == 0x1f)
		bits = sign | 0x7f800000 | (mant << 13);
	else if (exp)
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	else if (!mant)
		bits = sign;
	else {
		f = (float)mant * (1.0f / 16777216.0f); /* subnormal: mant * 2^-24 */
		return sign ? -f : f;
	}
	memcpy(&f, &bits, 4);
	return f;
}

/* Round to nearest even, as numpy does. */
uint16_t xf_f32_to_f16(float f)
{
	uint32_t x, sign, mant;
	int32_t exp;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000;
	exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
	mant = x & 0x7fffff;
	if (((x >> 23) & 0xff) == 0xff)
		return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
	if (exp >= 0x1f)
		return (uint16_t)(sign | 0x7c00);
	if (exp <= 0) {
		uint32_t m, half, rest;
		int shift;

		if (exp < -10)
			return (uint16_t)sign;
		m = mant | 0x800000;
		shift = 14 - exp;
		half = 1u << (shift - 1);
		rest = m & ((1u << shift) - 1);
		m >>= shift;
		if (rest > half || (rest == half && (m & 1)))
			m++;
		return (uint16_t)(sign | m);
	}
	{
		uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13), rest = mant & 0x1fff;

		if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
			h++; /* may carry into the exponent, giving the right rounding to inf too */
		return (uint16_t)h;
	}
}

float xf_bf16_to_f32(uint16_t b)
{
	uint32_t bits = (uint32_t)b << 16;
	float f;

	memcpy(&f, &bits, 4);
	return f;
}

uint16_t xf_f32_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40); /* keep NaN a NaN */
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

void xf_byteswap(void *data, int64_t n, size_t elem_size)
{
	unsigned char *p = data;

	if (elem_size < 2)
		return;
	for (int64_t i = 0; i < n; i++, p += elem_size)
		for (size_t a = 0, b = elem_size - 1; a < b; a++, b--) {
			unsigned char c = p[a];

			p[a] = p[b];
			p[b] = c;
		}
}
