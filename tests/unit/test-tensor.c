/* Unit tests for lib/tensor.c: dtype table, shape arithmetic, conversions, half floats. */
#include <stdlib.h>

#include "tap.h"
#include "tensor.h"

static void test_dtype_table(void)
{
	enum xf_dtype d;

	for (int i = 0; i < XF_DTYPE_COUNT; i++) {
		ok(xf_dtype_table[i].name && xf_dtype_table[i].size > 0, "dtype %d has a name and a size", i);
		ok(xf_dtype_parse(xf_dtype_table[i].name, &d) == 0 && (int)d == i, "dtype %d name parses back", i);
	}
	ok(xf_dtype_parse("float32", &d) == 0 && d == XF_DTYPE_F32, "numpy name float32");
	ok(xf_dtype_parse(">f4", &d) < 0, "big-endian names are not dtypes of their own");
	ok(xf_dtype_parse("complex64", &d) < 0, "unknown dtype refused");
}

static void test_shapes(void)
{
	int64_t big[2] = { INT64_MAX / 2, 3 }, neg[2] = { 2, -1 }, ok_shape[3] = { 2, 3, 4 };
	struct xf_err err = XF_ERR_INIT;
	size_t bytes;

	is_int(xf_shape_count(3, ok_shape), 24, "count of [2,3,4]");
	is_int(xf_shape_count(2, big), -1, "overflowing count is -1");
	is_int(xf_shape_count(2, neg), -1, "negative dimension is -1");
	is_int(xf_shape_count(0, NULL), 1, "a scalar has one element");
	ok(xf_shape_bytes(XF_DTYPE_F64, 3, ok_shape, 1000, &bytes, &err) == 0 && bytes == 192, "bytes of [2,3,4] f8");
	ok(xf_shape_bytes(XF_DTYPE_F64, 3, ok_shape, 191, &bytes, &err) < 0 && err.code == XF_E_LIMIT,
	   "limit refuses one byte too many");
	ok(xf_shape_bytes(XF_DTYPE_F32, 9, ok_shape, 1000, &bytes, &err) < 0, "ndim above XF_MAX_DIMS refused");
}

static void test_views_and_copies(void)
{
	struct xf_tensor t, v, c;
	struct xf_err err = XF_ERR_INIT;
	int64_t shape[2] = { 4, 3 };
	float *x;

	ok(xf_tensor_alloc(&t, XF_DTYPE_F32, 2, shape, &err) == 0, "alloc 4x3");
	ok(((uintptr_t)t.data % XF_ALIGN) == 0, "data is 64-byte aligned");
	x = t.data;
	for (int i = 0; i < 12; i++)
		x[i] = (float)i;
	xf_tensor_rows(&t, 1, 3, &v);
	ok(v.owner == NULL && v.shape[0] == 2 && ((float *)v.data)[0] == 3.0f, "rows 1:3 is a view at row 1");
	ok(xf_tensor_copy(&v, &c, &err) == 0 && c.owner && ((float *)c.data)[5] == 8.0f, "copy of the view");
	xf_tensor_release(&c);
	/* a transposed view is not contiguous; copying gathers it */
	v = t;
	v.owner = NULL;
	v.shape[0] = 3, v.shape[1] = 4, v.stride[0] = 1, v.stride[1] = 3;
	ok(!xf_tensor_is_contiguous(&v), "transposed view is not contiguous");
	ok(xf_tensor_copy(&v, &c, &err) == 0 && ((float *)c.data)[1] == 3.0f && ((float *)c.data)[4] == 1.0f,
	   "copy gathers a strided view");
	xf_tensor_release(&c);
	xf_tensor_release(&t);
	ok(t.data == NULL && t.owner == NULL, "release resets");
}

static void test_convert(void)
{
	struct xf_tensor t, c;
	struct xf_err err = XF_ERR_INIT;
	int64_t n = 4;
	double *d;

	xf_tensor_alloc(&t, XF_DTYPE_F64, 1, &n, &err);
	d = t.data;
	d[0] = -1.7, d[1] = 0, d[2] = 2.9, d[3] = 127;
	ok(xf_tensor_convert(&t, XF_DTYPE_I8, &c, &err) == 0, "f8 -> i1");
	ok(((int8_t *)c.data)[0] == -1 && ((int8_t *)c.data)[2] == 2 && ((int8_t *)c.data)[3] == 127,
	   "conversion truncates toward zero");
	xf_tensor_release(&c);
	d[3] = 128;
	ok(xf_tensor_convert(&t, XF_DTYPE_I8, &c, &err) < 0 && err.code == XF_E_FORMAT, "128 does not fit i1");
	d[3] = NAN;
	ok(xf_tensor_convert(&t, XF_DTYPE_I32, &c, &err) < 0, "NaN does not convert to an integer");
	ok(xf_tensor_convert(&t, XF_DTYPE_F32, &c, &err) == 0 && isnan(((float *)c.data)[3]), "NaN stays NaN in f4");
	xf_tensor_release(&c);
	xf_tensor_release(&t);
}

static void test_half(void)
{
	/* values checked against numpy: np.float16(x).view('<u2') */
	is_int(xf_f32_to_f16(1.0f), 0x3c00, "f16 1.0");
	is_int(xf_f32_to_f16(-2.0f), 0xc000, "f16 -2.0");
	is_int(xf_f32_to_f16(65504.0f), 0x7bff, "f16 max");
	is_int(xf_f32_to_f16(65520.0f), 0x7c00, "f16 rounds to inf");
	is_int(xf_f32_to_f16(5.960464477539063e-08f), 0x0001, "f16 smallest subnormal");
	is_int(xf_f32_to_f16(0.1f), 0x2e66, "f16 0.1");
	is_int(xf_f32_to_f16(1.0009765625f + 0.00048828125f), 0x3c02, "f16 tie rounds to even");
	is_near(xf_f16_to_f32(0x3555), 0.333251953125, 0, "f16 0x3555");
	is_near(xf_f16_to_f32(0x0001), 5.960464477539063e-08, 0, "f16 subnormal back");
	ok(isinf(xf_f16_to_f32(0xfc00)) && xf_f16_to_f32(0xfc00) < 0, "f16 -inf");
	ok(isnan(xf_f16_to_f32(0x7e00)), "f16 NaN");
	is_int(xf_f32_to_bf16(1.0f), 0x3f80, "bf16 1.0");
	is_int(xf_f32_to_bf16(3.14159265f), 0x4049, "bf16 pi");
	is_near(xf_bf16_to_f32(0xc0a0), -5.0, 0, "bf16 -5");
	ok(isnan(xf_bf16_to_f32(xf_f32_to_bf16(NAN))), "bf16 NaN stays NaN");
}

int main(void)
{
	test_dtype_table();
	test_shapes();
	test_views_and_copies();
	test_convert();
	test_half();
	return done_testing();
}
