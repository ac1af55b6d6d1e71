/*
 * Unit tests for lib/safetensors.c: the fixtures made by tests/data/safetensors/gen-fixtures.py,
 * a write/read round trip, the writer's output checked by an independent Python reader
 * (tests/data/safetensors/st-check.py), and bad input. Run from the top of the source tree,
 * or set XF_SRCDIR to it.
 */
#include <fcntl.h>
#include <float.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test-safetensors.XXXXXX";
static const char *srcdir = ".";

#define PATH_SIZE 4096

static const char *fixture(char *buf, const char *name)
{
	snprintf(buf, PATH_SIZE, "%s/tests/data/safetensors/%s", srcdir, name);
	return buf;
}

static const char *tmp_file(char *buf, const char *name)
{
	snprintf(buf, PATH_SIZE, "%s/%s", tmpdir, name);
	return buf;
}

/* A file of the 8-byte length n (which may lie), header text, then data_bytes bytes of 0x11. */
static void write_raw(const char *path, uint64_t n, const char *header, size_t data_bytes)
{
	FILE *f = fopen(path, "wb");
	unsigned char len8[8];

	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)(n >> (8 * i));
	fwrite(len8, 1, 8, f);
	fwrite(header, 1, strlen(header), f);
	for (size_t i = 0; i < data_bytes; i++)
		fputc(0x11, f);
	fclose(f);
}

static struct xf_safetensors *open_ok(const char *path, const char *what)
{
	struct xf_safetensors *st = NULL;
	struct xf_err err = XF_ERR_INIT;

	if (!ok(xf_safetensors_open(path, &st, &err) == 0, "open %s", what))
		printf("#   %s\n", err.msg);
	return st;
}

static struct xf_tensor read_ok(struct xf_safetensors *st, int i)
{
	struct xf_tensor t = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;

	if (!ok(xf_safetensors_read(st, i, &t, &err) == 0 && ((uintptr_t)t.data % XF_ALIGN) == 0,
		"read '%s' into an aligned tensor", xf_safetensors_name(st, i)))
		printf("#   %s\n", err.msg);
	return t;
}

static void check_info(const struct xf_safetensors *st, int i, const char *name, enum xf_dtype dtype,
		       int ndim, const int64_t *shape)
{
	enum xf_dtype d;
	int64_t s[XF_MAX_DIMS];
	int nd;

	xf_safetensors_info(st, i, &d, &nd, s);
	is_str(xf_safetensors_name(st, i), name, "entry name in file order");
	ok(d == dtype && nd == ndim && !memcmp(s, shape, (size_t)ndim * sizeof(*s)),
	   "'%s': dtype %s, ndim %d and shape as written", name, xf_dtype_name(dtype), ndim);
}

/* Exact values of every dtype, as gen-fixtures.py wrote them. */
static void check_dtype_values(struct xf_safetensors *st)
{
	static const uint16_t f16_bits[] = { 0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555 };
	static const uint16_t bf16_bits[] = { 0x3f80, 0xc040, 0x3e20, 0x7f7f, 0x7f80 };
	struct xf_tensor t[13];
	int n = xf_safetensors_count(st);

	for (int i = 0; i < 13 && i < n; i++)
		t[i] = read_ok(st, i);
	if (n != 13)
		return;
	ok(((double *)t[0].data)[0] == 1.0 / 3.0 && ((double *)t[0].data)[2] == 1e300 &&
	   ((double *)t[0].data)[3] == 5e-324, "F64 values exact");
	ok(((float *)t[1].data)[1] == -2.25f && ((float *)t[1].data)[2] == FLT_MAX &&
	   ((float *)t[1].data)[3] == FLT_TRUE_MIN, "F32 values exact");
	ok(!memcmp(t[2].data, f16_bits, sizeof(f16_bits)), "F16 bits exact");
	is_near(xf_f16_to_f32(((uint16_t *)t[2].data)[4]), 0.333251953125, 0, "F16 1/3 decodes");
	ok(!memcmp(t[3].data, bf16_bits, sizeof(bf16_bits)), "BF16 bits exact");
	is_near(xf_bf16_to_f32(((uint16_t *)t[3].data)[2]), 0.15625, 0, "BF16 0.15625 decodes");
	ok(((int8_t *)t[4].data)[0] == -128 && ((int8_t *)t[4].data)[3] == -1, "I8 values exact");
	ok(((int16_t *)t[5].data)[0] == INT16_MIN && ((int16_t *)t[5].data)[2] == 12345, "I16 values exact");
	ok(((int32_t *)t[6].data)[0] == INT32_MIN && ((int32_t *)t[6].data)[1] == INT32_MAX, "I32 values exact");
	ok(((int64_t *)t[7].data)[0] == INT64_MIN && ((int64_t *)t[7].data)[1] == INT64_MAX, "I64 values exact");
	ok(((uint8_t *)t[8].data)[1] == 255 && ((uint8_t *)t[8].data)[2] == 7, "U8 values exact");
	ok(((uint16_t *)t[9].data)[1] == UINT16_MAX, "U16 values exact");
	ok(((uint32_t *)t[10].data)[1] == UINT32_MAX, "U32 values exact");
	ok(((uint64_t *)t[11].data)[1] == UINT64_MAX && ((uint64_t *)t[11].data)[2] == 1ULL << 63,
	   "U64 values exact");
	ok(!memcmp(t[12].data, "\1\0\1\1", 4), "BOOL values exact");
	for (int i = 0; i < 13; i++)
		xf_tensor_release(&t[i]);
}

static void test_dtypes_fixture(void)
{
	static const char *names[] = { "f64", "f32", "f16", "bf16", "i8", "i16", "i32", "i64",
				       "u8", "u16", "u32", "u64", "bool" };
	static const enum xf_dtype dtypes[] = {
		XF_DTYPE_F64, XF_DTYPE_F32, XF_DTYPE_F16, XF_DTYPE_BF16, XF_DTYPE_I8, XF_DTYPE_I16,
		XF_DTYPE_I32, XF_DTYPE_I64, XF_DTYPE_U8, XF_DTYPE_U16, XF_DTYPE_U32, XF_DTYPE_U64,
		XF_DTYPE_BOOL };
	static const int64_t shapes[][2] = { { 4 }, { 2, 2 }, { 5 }, { 5 }, { 2, 2 }, { 3 }, { 3, 1 },
					     { 3 }, { 1, 3 }, { 2 }, { 2 }, { 3 }, { 2, 2 } };
	static const int ndims[] = { 1, 2, 1, 1, 2, 1, 2, 1, 2, 1, 1, 1, 2 };
	char path[PATH_SIZE];
	struct xf_safetensors *st = open_ok(fixture(path, "dtypes.safetensors"), "dtypes.safetensors");

	if (!st)
		return;
	is_int(xf_safetensors_count(st), 13, "13 tensors, one per dtype");
	ok(xf_safetensors_metadata(st) == NULL, "no metadata");
	for (int i = 0; i < 13 && i < xf_safetensors_count(st); i++)
		check_info(st, i, names[i], dtypes[i], ndims[i], shapes[i]);
	is_int(xf_safetensors_find(st, "u16"), 9, "find by name");
	is_int(xf_safetensors_find(st, "nope"), -1, "find a missing name");
	check_dtype_values(st);
	xf_safetensors_close(st);
}

static void test_scalar_empty_fixture(void)
{
	static const int64_t empty[1] = { 0 }, empty3d[3] = { 2, 0, 3 }, none[1] = { 0 };
	char path[PATH_SIZE];
	struct xf_safetensors *st = open_ok(fixture(path, "scalar-empty.safetensors"), "scalar-empty");
	struct xf_tensor t;

	if (!st)
		return;
	is_int(xf_safetensors_count(st), 4, "4 tensors");
	if (xf_safetensors_count(st) == 4) {
		check_info(st, 0, "scalar", XF_DTYPE_F32, 0, none);
		check_info(st, 1, "empty", XF_DTYPE_F32, 1, empty);
		check_info(st, 2, "empty3d", XF_DTYPE_I64, 3, empty3d);
		check_info(st, 3, "after", XF_DTYPE_BOOL, 0, none);
		t = read_ok(st, 0);
		ok(t.data && *(float *)t.data == 3.5f && xf_tensor_count(&t) == 1, "0-d F32 is 3.5");
		xf_tensor_release(&t);
		t = read_ok(st, 2);
		ok(t.data && xf_tensor_count(&t) == 0 && t.ndim == 3, "empty [2, 0, 3] reads as empty");
		xf_tensor_release(&t);
		t = read_ok(st, 3);
		ok(t.data && *(uint8_t *)t.data == 1, "0-d BOOL is true");
		xf_tensor_release(&t);
	}
	xf_safetensors_close(st);
}

static void test_metadata_fixture(void)
{
	char path[PATH_SIZE];
	struct xf_safetensors *st = open_ok(fixture(path, "metadata.safetensors"), "metadata.safetensors");
	struct xf_tensor t;
	json_t *md;

	if (!st)
		return;
	md = xf_safetensors_metadata(st);
	ok(md && json_object_size(md) == 2, "metadata has 2 keys");
	is_str(json_string_value(json_object_get(md, "format")), "pt", "metadata format");
	is_str(json_string_value(json_object_get(md, "note")), "h\xc3\xa9llo \xe2\x9c\x93", "metadata UTF-8 text");
	is_int(xf_safetensors_count(st), 2, "2 tensors (with a gap and odd padding)");
	if (xf_safetensors_count(st) == 2) {
		is_str(xf_safetensors_name(st, 0), "a", "file order, not JSON key order");
		t = read_ok(st, 1);
		ok(t.data && *(uint8_t *)t.data == 9, "tensor after a gap reads 9");
		xf_tensor_release(&t);
	}
	xf_safetensors_close(st);
}

/* Open must fail with code and a message containing needle. */
static void expect_bad_file(const char *what, const char *path, int code, const char *needle)
{
	struct xf_safetensors *st = NULL;
	struct xf_err err = XF_ERR_INIT;
	int rc = xf_safetensors_open(path, &st, &err);

	if (!ok(rc < 0 && !st && err.code == code && strstr(err.msg, needle), "%s refused: %s", what, err.msg))
		printf("#   code %d, wanted %d and '%s'\n", err.code, code, needle);
	xf_safetensors_close(st);
}

static void expect_bad(const char *what, const char *header, size_t data_bytes, int code, const char *needle)
{
	char path[PATH_SIZE];

	tmp_file(path, "bad.safetensors");
	write_raw(path, strlen(header), header, data_bytes);
	expect_bad_file(what, path, code, needle);
}

static void test_bad_lengths(void)
{
	char path[PATH_SIZE], missing[PATH_SIZE];

	tmp_file(path, "len.safetensors");

	write_raw(path, 0, "", 0);
	if (truncate(path, 0) < 0)
		abort();
	expect_bad_file("empty file", path, XF_E_FORMAT, "truncated");
	if (truncate(path, 5) < 0)
		abort();
	expect_bad_file("5-byte file", path, XF_E_FORMAT, "truncated");
	write_raw(path, 100, "{}", 0);
	expect_bad_file("header length beyond the end", path, XF_E_FORMAT, "truncated: header length is 100");
	write_raw(path, 1ULL << 63, "{}", 0);
	expect_bad_file("header length 2^63", path, XF_E_LIMIT, "over the limit");
	write_raw(path, 100000001, "{}", 0);
	expect_bad_file("header length over 100 MB", path, XF_E_LIMIT, "over the limit");
	expect_bad_file("missing file", tmp_file(missing, "nonexistent"), XF_E_IO, "cannot open");
	expect_bad_file("a directory", tmpdir, XF_E_USAGE, "not a regular file");
	expect_bad("tensor data cut short", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
		   XF_E_FORMAT, "run past the end");
}

static void test_bad_json(void)
{
	expect_bad("invalid JSON", "{\"a\": {\"dtype\": \"F32\",", 0, XF_E_FORMAT, "line 1, column");
	expect_bad("JSON error on line 2", "{\n \"a\": nope}", 0, XF_E_FORMAT, "line 2");
	expect_bad("trailing garbage", "{}  x", 0, XF_E_FORMAT, "not valid JSON");
	expect_bad("empty header", "", 0, XF_E_FORMAT, "not valid JSON");
	expect_bad("invalid UTF-8", "{\"\xff\": 1}", 0, XF_E_FORMAT, "not valid JSON");
	expect_bad("header an array", "[1, 2]", 0, XF_E_FORMAT, "not a JSON object");
	expect_bad("header a string", "\"x\"", 0, XF_E_FORMAT, "not a JSON object");
	expect_bad("duplicate names",
		   "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
		   "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, XF_E_FORMAT, "duplicate");
	expect_bad("NUL in a name", "{\"a\\u0000b\":{}}", 0, XF_E_FORMAT, "not valid JSON");
	expect_bad("empty name", "{\"\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0,
		   XF_E_FORMAT, "empty tensor name");
	expect_bad("entry not an object", "{\"a\": 3}", 0, XF_E_FORMAT, "not an object");
	expect_bad("metadata value not a string", "{\"__metadata__\": {\"k\": 1}}", 0, XF_E_FORMAT,
		   "'k' is not a string");
	expect_bad("metadata not an object", "{\"__metadata__\": [\"k\"]}", 0, XF_E_FORMAT, "not an object");
}

static void test_long_names(void)
{
	char header[600], name[300], path[PATH_SIZE];
	struct xf_safetensors *st;

	memset(name, 'n', 256);
	name[256] = '\0';
	snprintf(header, sizeof(header), "{\"%s\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", name);
	expect_bad("256-byte name", header, 1, XF_E_LIMIT, "256 bytes");
	name[255] = '\0';
	snprintf(header, sizeof(header), "{\"%s\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", name);
	write_raw(tmp_file(path, "names.safetensors"), strlen(header), header, 1);
	st = open_ok(path, "a 255-byte name");
	ok(st && strlen(xf_safetensors_name(st, 0)) == 255, "255-byte name kept");
	xf_safetensors_close(st);
}

#define ENTRY(dtype, shape, offsets) \
	"{\"a\":{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offsets "}}"

static void test_bad_entries(void)
{
	expect_bad("unknown dtype", ENTRY("\"Q4\"", "[1]", "[0,1]"), 1, XF_E_FORMAT, "unknown dtype 'Q4'");
	expect_bad("dtype not a string", ENTRY("3", "[1]", "[0,1]"), 1, XF_E_FORMAT, "not a string");
	expect_bad("F8_E4M3", ENTRY("\"F8_E4M3\"", "[1]", "[0,1]"), 1, XF_E_FORMAT, "F8_E4M3 is not supported");
	expect_bad("F8_E5M2", ENTRY("\"F8_E5M2\"", "[1]", "[0,1]"), 1, XF_E_FORMAT, "F8_E5M2 is not supported");
	expect_bad("negative dimension", ENTRY("\"F32\"", "[2,-1]", "[0,4]"), 4, XF_E_FORMAT, "shape[1]");
	expect_bad("fractional dimension", ENTRY("\"F32\"", "[2.0]", "[0,8]"), 8, XF_E_FORMAT, "shape[0]");
	expect_bad("dimension 2^62", ENTRY("\"F32\"", "[4611686018427387904]", "[0,4]"), 4, XF_E_LIMIT,
		   "too large");
	expect_bad("shape overflowing int64", ENTRY("\"U8\"", "[4611686018427387904,4]", "[0,4]"), 4, XF_E_LIMIT,
		   "too large");
	expect_bad("9 dimensions", ENTRY("\"U8\"", "[1,1,1,1,1,1,1,1,1]", "[0,1]"), 1, XF_E_LIMIT,
		   "9 dimensions");
	expect_bad("shape missing", "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, XF_E_FORMAT,
		   "shape is missing");
	expect_bad("size mismatch", ENTRY("\"F32\"", "[2,2]", "[0,12]"), 16, XF_E_FORMAT, "shape [2, 2] needs 16");
	expect_bad("offsets past the data", ENTRY("\"U8\"", "[4]", "[4,8]"), 6, XF_E_FORMAT, "run past the end");
	expect_bad("offsets reversed", ENTRY("\"U8\"", "[0]", "[4,0]"), 6, XF_E_FORMAT, "0 <= begin <= end");
	expect_bad("negative offset", ENTRY("\"U8\"", "[1]", "[-1,0]"), 6, XF_E_FORMAT, "0 <= begin <= end");
	expect_bad("three offsets", ENTRY("\"U8\"", "[1]", "[0,1,2]"), 6, XF_E_FORMAT, "data_offsets");
	expect_bad("offset 2^64", ENTRY("\"U8\"", "[1]", "[18446744073709551615,0]"), 6, XF_E_FORMAT,
		   "not valid JSON");
	expect_bad("overlapping tensors",
		   "{\"a\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]},"
		   "\"b\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[2,6]}}", 6, XF_E_FORMAT, "overlap");
	expect_bad("same range twice",
		   "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
		   "\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, XF_E_FORMAT, "overlap");
}

/* The file shrinks between open and read: an error, not a short tensor. */
static void test_shrinking_file(void)
{
	const char *header = ENTRY("\"F32\"", "[4]", "[0,16]");
	char path[PATH_SIZE];
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t;
	struct xf_safetensors *st;

	write_raw(tmp_file(path, "shrink.safetensors"), strlen(header), header, 16);
	st = open_ok(path, "a 4-float file");
	if (!st)
		return;
	if (truncate(path, 8 + (off_t)strlen(header) + 10) < 0)
		abort();
	ok(xf_safetensors_read(st, 0, &t, &err) < 0 && err.code == XF_E_FORMAT && strstr(err.msg, "truncated") &&
	   !t.data, "read after truncation refused: %s", err.msg);
	xf_safetensors_close(st);
}

struct fixture_set {
	int n;
	const char *names[20];
	struct xf_tensor t[20];     /* what is written: some are views of owned[] */
	struct xf_tensor owned[20]; /* allocations to release */
	int n_owned;
};

static struct xf_tensor *add(struct fixture_set *s, const char *name, enum xf_dtype dtype, int ndim,
			     const int64_t *shape, const void *values)
{
	struct xf_tensor *o = &s->owned[s->n_owned++];
	struct xf_err err = XF_ERR_INIT;

	if (xf_tensor_alloc(o, dtype, ndim, shape, &err) < 0)
		abort();
	memcpy(o->data, values, xf_tensor_bytes(o));
	s->names[s->n] = name;
	s->t[s->n] = *o;
	s->t[s->n].owner = NULL;
	return &s->t[s->n++];
}

static void build_set(struct fixture_set *s)
{
	static const float f32[] = { 0, 0.5f, 1, 1.5f, 2, 2.5f };
	static const int16_t i16[] = { 1, 2, 3, 4, 5, 6 };
	static const int8_t i8[] = { -128, 127 };
	static const int32_t i32[] = { INT32_MIN, INT32_MAX };
	static const int64_t i64[] = { INT64_MIN, INT64_MAX };
	static const uint8_t u8[] = { 0, 255 }, flag[] = { 1, 0, 1 };
	static const uint16_t u16[] = { 0, UINT16_MAX }, bf16[] = { 0x3f80, 0xbf00 };
	static const uint32_t u32[] = { 0, UINT32_MAX };
	static const uint64_t u64[] = { 0, UINT64_MAX };
	static const double f64 = 2.5;
	static const int64_t s23[] = { 2, 3 }, s32[] = { 3, 2 }, s2[] = { 2 }, s3[] = { 3 }, s0[] = { 0 },
			     s40[] = { 4, 0 }, scalar[1] = { 0 };
	uint16_t f16[2] = { xf_f32_to_f16(0.1f), xf_f32_to_f16(-1.0f) };
	struct xf_tensor *t;

	memset(s, 0, sizeof(*s));
	add(s, "w.f32", XF_DTYPE_F32, 2, s23, f32);
	t = add(s, "w.t", XF_DTYPE_F32, 2, s23, f32); /* the transpose, a strided view */
	t->shape[0] = 3, t->shape[1] = 2, t->stride[0] = 1, t->stride[1] = 3;
	t = add(s, "rows", XF_DTYPE_I16, 2, s32, i16);
	xf_tensor_rows(t, 1, 3, t);
	add(s, "h", XF_DTYPE_F16, 1, s2, f16);
	add(s, "b", XF_DTYPE_BF16, 1, s2, bf16);
	add(s, "i8", XF_DTYPE_I8, 1, s2, i8);
	add(s, "i32", XF_DTYPE_I32, 1, s2, i32);
	add(s, "i64", XF_DTYPE_I64, 1, s2, i64);
	add(s, "u8", XF_DTYPE_U8, 1, s2, u8);
	add(s, "u16", XF_DTYPE_U16, 1, s2, u16);
	add(s, "u32", XF_DTYPE_U32, 1, s2, u32);
	add(s, "u64", XF_DTYPE_U64, 1, s2, u64);
	add(s, "flag", XF_DTYPE_BOOL, 1, s3, flag);
	add(s, "none", XF_DTYPE_F32, 1, s0, f32);
	add(s, "none2", XF_DTYPE_U8, 2, s40, u8);
	add(s, "s", XF_DTYPE_F64, 0, scalar, &f64);
}

static void release_set(struct fixture_set *s)
{
	for (int i = 0; i < s->n_owned; i++)
		xf_tensor_release(&s->owned[i]);
}

static int write_file(const char *path, const struct fixture_set *s, json_t *md, struct xf_err *err)
{
	FILE *f = fopen(path, "wb");
	int rc = xf_safetensors_write(fileno(f), s->n, s->names, s->t, md, err);

	fclose(f);
	return rc;
}

static void compare_with_original(struct xf_safetensors *st, const struct fixture_set *s)
{
	struct xf_err err = XF_ERR_INIT;

	for (int i = 0; i < s->n && i < xf_safetensors_count(st); i++) {
		struct xf_tensor got = read_ok(st, i), want;

		xf_tensor_copy(&s->t[i], &want, &err);
		ok(!strcmp(xf_safetensors_name(st, i), s->names[i]) && got.dtype == want.dtype &&
		   got.ndim == want.ndim && !memcmp(got.shape, want.shape, sizeof(got.shape)) &&
		   !memcmp(got.data, want.data, xf_tensor_bytes(&want)), "round trip of '%s'", s->names[i]);
		xf_tensor_release(&got);
		xf_tensor_release(&want);
	}
}

static void check_padding(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char buf[16];
	uint64_t n = 0;
	char last = 0;

	if (!f || fread(buf, 1, 9, f) != 9)
		abort();
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	fseek(f, (long)(8 + n - 1), SEEK_SET);
	last = (char)fgetc(f);
	fclose(f);
	ok(n % 8 == 0 && buf[8] == '{' && (last == ' ' || last == '}'),
	   "header length %llu is a multiple of 8, starts with {, padded with spaces", (unsigned long long)n);
}

static void test_round_trip(void)
{
	char path[PATH_SIZE];
	json_t *md = json_pack("{s:s, s:s}", "format", "pt", "t", "\xc3\xbc");
	struct xf_err err = XF_ERR_INIT;
	struct fixture_set s;
	struct xf_safetensors *st;

	build_set(&s);
	tmp_file(path, "round.safetensors");
	if (!ok(write_file(path, &s, md, &err) == 0, "write %d tensors and metadata", s.n))
		printf("#   %s\n", err.msg);
	check_padding(path);
	st = open_ok(path, "what we wrote");
	if (st) {
		is_int(xf_safetensors_count(st), s.n, "same number of tensors");
		ok(json_equal(xf_safetensors_metadata(st), md), "same metadata");
		compare_with_original(st, &s);
		xf_safetensors_close(st);
	}
	json_decref(md);
	release_set(&s);
}

static const char oracle_expected[] =
	"metadata: {\"format\": \"pt\", \"t\": \"\\u00fc\"}\n"
	"w.f32 F32 [2, 3] 0.0 0.5 1.0 1.5 2.0 2.5\n"
	"w.t F32 [3, 2] 0.0 1.5 0.5 2.0 1.0 2.5\n"
	"rows I16 [2, 2] 3 4 5 6\n"
	"h F16 [2] 0.0999755859375 -1.0\n"
	"b BF16 [2] 1.0 -0.5\n"
	"i8 I8 [2] -128 127\n"
	"i32 I32 [2] -2147483648 2147483647\n"
	"i64 I64 [2] -9223372036854775808 9223372036854775807\n"
	"u8 U8 [2] 0 255\n"
	"u16 U16 [2] 0 65535\n"
	"u32 U32 [2] 0 4294967295\n"
	"u64 U64 [2] 0 18446744073709551615\n"
	"flag BOOL [3] 1 0 1\n"
	"none F32 [0]\n"
	"none2 U8 [4, 0]\n"
	"s F64 [] 2.5\n";

/* The writer's output as read by st-check.py --strict, which knows nothing of our code. */
static void test_oracle(void)
{
	char path[PATH_SIZE], script[PATH_SIZE], out_path[PATH_SIZE], cmd[3 * PATH_SIZE + 64], out[4096] = "";
	json_t *md = json_pack("{s:s, s:s}", "format", "pt", "t", "\xc3\xbc");
	struct xf_err err = XF_ERR_INIT;
	struct fixture_set s;
	size_t len;
	FILE *f;
	int rc;

	if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
		ok(1, "# skip /usr/bin/python3 with numpy is unavailable");
		json_decref(md);
		return;
	}
	build_set(&s);
	write_file(tmp_file(path, "oracle.safetensors"), &s, md, &err);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s --strict %s > %s 2>&1", fixture(script, "st-check.py"),
		 path, tmp_file(out_path, "oracle.out"));
	rc = system(cmd);
	f = fopen(out_path, "r");
	len = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
	out[len] = '\0';
	if (f)
		fclose(f);
	is_int(rc, 0, "st-check.py --strict accepts the writer's output");
	is_str(out, oracle_expected, "st-check.py reads back every value");
	json_decref(md);
	release_set(&s);
}

static void test_empty_write(void)
{
	char path[PATH_SIZE];
	struct xf_err err = XF_ERR_INIT;
	struct xf_safetensors *st;
	struct stat sb;
	FILE *f = fopen(tmp_file(path, "none.safetensors"), "wb");

	ok(xf_safetensors_write(fileno(f), 0, NULL, NULL, NULL, &err) == 0, "write no tensors");
	fclose(f);
	ok(stat(path, &sb) == 0 && sb.st_size == 16, "an empty file is 8 + \"{}\" padded to 8 bytes");
	st = open_ok(path, "the empty file");
	ok(st && xf_safetensors_count(st) == 0 && !xf_safetensors_metadata(st), "no tensors, no metadata");
	xf_safetensors_close(st);
}

static void expect_write_error(const char *what, int fd, int n, const char *const *names,
			       const struct xf_tensor *t, json_t *md, int code, const char *needle)
{
	struct xf_err err = XF_ERR_INIT;
	int rc = xf_safetensors_write(fd, n, names, t, md, &err);

	if (!ok(rc < 0 && err.code == code && strstr(err.msg, needle), "%s refused: %s", what, err.msg))
		printf("#   code %d, wanted %d and '%s'\n", err.code, code, needle);
}

static void test_write_errors(void)
{
	static const char *dup[] = { "x", "x" }, *reserved[] = { "__metadata__" }, *empty[] = { "" },
			  *bad_utf8[] = { "\xff" }, *one[] = { "x" };
	struct xf_tensor t[2], str = XF_TENSOR_INIT;
	json_t *md = json_pack("{s:i}", "k", 1);
	int64_t n = 2;
	char *text;
	int fd = open("/dev/null", O_WRONLY), pipefd[2];
	struct xf_err err = XF_ERR_INIT;

	xf_tensor_alloc(&t[0], XF_DTYPE_F32, 1, &n, &err);
	t[1] = t[0];
	expect_write_error("duplicate names", fd, 2, dup, t, NULL, XF_E_USAGE, "duplicate tensor name 'x'");
	expect_write_error("name __metadata__", fd, 1, reserved, t, NULL, XF_E_USAGE, "invalid tensor name");
	expect_write_error("empty name", fd, 1, empty, t, NULL, XF_E_USAGE, "invalid tensor name");
	expect_write_error("invalid UTF-8 name", fd, 1, bad_utf8, t, NULL, XF_E_USAGE, "not valid UTF-8");
	expect_write_error("metadata value not a string", fd, 1, one, t, md, XF_E_USAGE, "'k' is not a string");
	xf_tensor_alloc_str(&str, 1, 2, &text, &err);
	expect_write_error("STR tensor", fd, 1, one, &str, NULL, XF_E_USAGE, "no safetensors equivalent");
	close(fd);
	fd = open("/dev/full", O_WRONLY);
	if (fd >= 0) {
		expect_write_error("/dev/full", fd, 1, one, t, NULL, XF_E_IO, "No space left");
		close(fd);
	} else {
		ok(1, "# skip no /dev/full");
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe(pipefd) == 0) {
		close(pipefd[0]);
		expect_write_error("closed pipe", pipefd[1], 1, one, t, NULL, XF_E_PIPE, "write error");
		close(pipefd[1]);
	}
	xf_tensor_release(&str);
	xf_tensor_release(&t[0]);
	json_decref(md);
}

static void remove_tmpdir(void)
{
	static const char *files[] = { "bad.safetensors", "len.safetensors", "names.safetensors",
				       "shrink.safetensors", "round.safetensors", "oracle.safetensors",
				       "oracle.out", "none.safetensors" };

	char path[PATH_SIZE];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(tmp_file(path, files[i]));
	rmdir(tmpdir);
}

int main(void)
{
	if (getenv("XF_SRCDIR"))
		srcdir = getenv("XF_SRCDIR");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_dtypes_fixture();
	test_scalar_empty_fixture();
	test_metadata_fixture();
	test_bad_lengths();
	test_bad_json();
	test_long_names();
	test_bad_entries();
	test_shrinking_file();
	test_round_trip();
	test_oracle();
	test_empty_write();
	test_write_errors();
	remove_tmpdir();
	return done_testing();
}
