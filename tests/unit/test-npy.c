/*
 * Unit tests for lib/npy.c: .npy/.npz reading (numpy-made fixtures in tests/data/npy, see
 * make-fixtures.py there for the values), header parsing, bad input, streaming, writing, and
 * round trips checked by numpy itself when /usr/bin/python3 has it.
 * Fixtures are found under $XF_TEST_DATA (default tests/data), so run from the top directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"
#include "scratch.h"
#include "tap.h"

#define PYTHON "/usr/bin/python3"

static char tmpdir[64];

static const char *data_path(const char *name)
{
	static char path[512];
	const char *dir = getenv("XF_TEST_DATA");

	snprintf(path, sizeof(path), "%s/npy/%s", dir ? dir : "tests/data", name);
	return path;
}

static const char *tmp_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

/* ---- sources and builders ---- */

struct mem_src {
	const unsigned char *p;
	size_t len, pos;
	size_t chunk; /* most bytes per read (0: no limit), to exercise short reads */
};

static long mem_read(void *ctx, void *buf, size_t n, struct xf_err *err)
{
	struct mem_src *m = ctx;
	size_t k = m->len - m->pos;

	(void)err;
	if (k > n)
		k = n;
	if (m->chunk && k > m->chunk)
		k = m->chunk;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (long)k;
}

static long fd_source(void *ctx, void *buf, size_t n, struct xf_err *err)
{
	ssize_t got = read(*(int *)ctx, buf, n);

	return got < 0 ? xf_err_set(err, XF_E_IO, "read: %s", strerror(errno)) : (long)got;
}

/* A v1.0 .npy image with a hand-written dict, padded like numpy's; returns its length. */
static size_t make_npy(const char *dict, const void *data, size_t n, unsigned char *out, size_t size)
{
	size_t dlen = strlen(dict), hlen = dlen + 1;

	hlen += (64 - (10 + hlen) % 64) % 64;
	if (10 + hlen + n > size)
		abort();
	memcpy(out, "\x93NUMPY\x01\x00", 8);
	out[8] = (unsigned char)(hlen & 0xff), out[9] = (unsigned char)(hlen >> 8);
	memset(out + 10, ' ', hlen);
	memcpy(out + 10, dict, dlen);
	out[10 + hlen - 1] = '\n';
	if (n)
		memcpy(out + 10 + hlen, data, n);
	return 10 + hlen + n;
}

/* Read a whole in-memory .npy; returns the read_all status (err filled on failure). */
static int load_mem(const unsigned char *buf, size_t len, const char *name, struct xf_tensor *t,
		    struct xf_err *err)
{
	struct mem_src m = { buf, len, 0, 5 };
	struct xf_npy_reader *r = xf_npy_reader_open(mem_read, &m, name, err);
	int rc = r ? xf_npy_read_all(r, t, err) : -1;

	if (!r)
		xf_tensor_init(t);
	xf_npy_reader_close(r);
	return rc;
}

static void expect_error(int rc, const struct xf_err *err, int code, const char *needle, const char *what)
{
	if (!ok(rc < 0 && err->code == code && strstr(err->msg, needle), "%s", what))
		printf("#   rc %d, code %d, msg '%s'; wanted code %d and '%s'\n", rc, err->code, err->msg,
		       code, needle);
}

static void bad_npy(const char *dict, const void *data, size_t n, int code, const char *needle,
		    const char *what)
{
	unsigned char buf[1024];
	size_t len = make_npy(dict, data, n, buf, sizeof(buf));
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t;
	int rc = load_mem(buf, len, "x.npy", &t, &err);

	xf_tensor_release(&t);
	expect_error(rc, &err, code, needle, what);
}

/* ---- element access for checks ---- */

static int64_t get_i64(const struct xf_tensor *t, int64_t i)
{
	switch (t->dtype) {
	case XF_DTYPE_I8: return ((int8_t *)t->data)[i];
	case XF_DTYPE_I16: return ((int16_t *)t->data)[i];
	case XF_DTYPE_I32: return ((int32_t *)t->data)[i];
	case XF_DTYPE_I64: return ((int64_t *)t->data)[i];
	default: return INT64_MIN + 7;
	}
}

static uint64_t get_u64(const struct xf_tensor *t, int64_t i)
{
	switch (t->dtype) {
	case XF_DTYPE_U8: case XF_DTYPE_BOOL: return ((uint8_t *)t->data)[i];
	case XF_DTYPE_U16: return ((uint16_t *)t->data)[i];
	case XF_DTYPE_U32: return ((uint32_t *)t->data)[i];
	case XF_DTYPE_U64: return ((uint64_t *)t->data)[i];
	default: return 12345;
	}
}

static int same_strings(const struct xf_tensor *t, const char *const *want, int64_t n)
{
	if (t->dtype != XF_DTYPE_STR || t->ndim != 1 || t->shape[0] != n)
		return 0;
	for (int64_t i = 0; i < n; i++)
		if (strcmp(((char **)t->data)[i], want[i])) {
			printf("#   string %lld: got '%s', want '%s'\n", (long long)i,
			       ((char **)t->data)[i], want[i]);
			return 0;
		}
	return 1;
}

static int same_shape(const struct xf_tensor *t, enum xf_dtype dtype, int ndim, const int64_t *shape)
{
	return t->dtype == dtype && t->ndim == ndim && !memcmp(t->shape, shape, (size_t)ndim * 8) &&
	       xf_tensor_is_contiguous(t);
}

/* ---- .npz collection ---- */

#define MAX_ARRAYS 32

struct arrays {
	int n;
	char names[MAX_ARRAYS][64];
	struct xf_tensor t[MAX_ARRAYS];
};

static int collect(void *ctx, const char *name, struct xf_tensor *t, struct xf_err *err)
{
	struct arrays *a = ctx;

	if (a->n == MAX_ARRAYS) {
		xf_tensor_release(t);
		return xf_err_set(err, XF_E_LIMIT, "too many arrays");
	}
	snprintf(a->names[a->n], sizeof(a->names[0]), "%s", name);
	a->t[a->n++] = *t;
	return 0;
}

static const struct xf_tensor *find(const struct arrays *a, const char *name)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->names[i], name))
			return &a->t[i];
	return NULL;
}

static void release_arrays(struct arrays *a)
{
	for (int i = 0; i < a->n; i++)
		xf_tensor_release(&a->t[i]);
	a->n = 0;
}

/* ---- fixtures made by numpy ---- */

static const int64_t five = 5;

static void check_ints(const struct arrays *a, const char *name, enum xf_dtype dtype, const int64_t *want)
{
	const struct xf_tensor *t = find(a, name);
	int good = t && same_shape(t, dtype, 1, &five);

	for (int i = 0; good && i < 5; i++)
		good = get_i64(t, i) == want[i];
	ok(good, "dtypes.npz %s: dtype and 5 values", name);
}

static void check_uints(const struct arrays *a, const char *name, enum xf_dtype dtype, const uint64_t *want)
{
	const struct xf_tensor *t = find(a, name);
	int good = t && same_shape(t, dtype, 1, &five);

	for (int i = 0; good && i < 5; i++)
		good = get_u64(t, i) == want[i];
	ok(good, "dtypes.npz %s: dtype and 5 values", name);
}

static void check_floats(const struct arrays *a, const char *name, enum xf_dtype dtype)
{
	static const double want[5] = { -2.5, 0.0, 1.0, 0.375, 1024.0 };
	const struct xf_tensor *t = find(a, name);
	int good = t && same_shape(t, dtype, 1, &five);

	for (int i = 0; good && i < 5; i++)
		good = xf_tensor_get_f64(t, i) == want[i];
	ok(good, "dtypes.npz %s: dtype and 5 values", name);
}

static void test_dtypes_npz(void)
{
	static const int64_t i1[5] = { -128, -1, 0, 1, 127 }, i2[5] = { -32768, -1, 0, 1, 32767 },
		i4[5] = { INT32_MIN, -1, 0, 1, INT32_MAX }, i8[5] = { INT64_MIN, -1, 0, 1, INT64_MAX };
	static const uint64_t u1[5] = { 0, 1, 2, 254, 255 }, u2[5] = { 0, 1, 2, 65534, 65535 },
		u4[5] = { 0, 1, 2, UINT32_MAX - 1, UINT32_MAX }, u8[5] = { 0, 1, 2, UINT64_MAX - 1, UINT64_MAX },
		b1[5] = { 1, 0, 1, 1, 0 };
	static const char *order[2] = { "le_", "be_" };
	struct xf_err err = XF_ERR_INIT;
	struct arrays a = { 0 };
	char name[16];

	is_int(xf_npz_read(data_path("dtypes.npz"), collect, &a, &err), 21, "dtypes.npz (np.savez, stored): 21 arrays");
	check_ints(&a, "i1", XF_DTYPE_I8, i1);
	check_uints(&a, "u1", XF_DTYPE_U8, u1);
	check_uints(&a, "b1", XF_DTYPE_BOOL, b1);
	for (int k = 0; k < 2; k++) {
		snprintf(name, sizeof(name), "%si2", order[k]), check_ints(&a, name, XF_DTYPE_I16, i2);
		snprintf(name, sizeof(name), "%si4", order[k]), check_ints(&a, name, XF_DTYPE_I32, i4);
		snprintf(name, sizeof(name), "%si8", order[k]), check_ints(&a, name, XF_DTYPE_I64, i8);
		snprintf(name, sizeof(name), "%su2", order[k]), check_uints(&a, name, XF_DTYPE_U16, u2);
		snprintf(name, sizeof(name), "%su4", order[k]), check_uints(&a, name, XF_DTYPE_U32, u4);
		snprintf(name, sizeof(name), "%su8", order[k]), check_uints(&a, name, XF_DTYPE_U64, u8);
		snprintf(name, sizeof(name), "%sf2", order[k]), check_floats(&a, name, XF_DTYPE_F16);
		snprintf(name, sizeof(name), "%sf4", order[k]), check_floats(&a, name, XF_DTYPE_F32);
		snprintf(name, sizeof(name), "%sf8", order[k]), check_floats(&a, name, XF_DTYPE_F64);
	}
	release_arrays(&a);
}

static void test_fixture_arrays(void)
{
	static const int64_t s234[3] = { 2, 3, 4 }, s23[2] = { 2, 3 }, s03[2] = { 0, 3 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t;
	int good;

	ok(xf_npy_load_file(data_path("f8-3d.npy"), &t, &err) == 0 && same_shape(&t, XF_DTYPE_F64, 3, s234),
	   "f8-3d.npy: <f8 [2, 3, 4]");
	good = t.data != NULL;
	for (int i = 0; good && i < 24; i++)
		good = ((double *)t.data)[i] == i / 4.0;
	ok(good, "f8-3d.npy: values arange(24)/4");
	xf_tensor_release(&t);

	ok(xf_npy_load_file(data_path("be-i2-2d.npy"), &t, &err) == 0 && same_shape(&t, XF_DTYPE_I16, 2, s23),
	   "be-i2-2d.npy: >i2 read as I16 [2, 3]");
	good = t.data != NULL;
	for (int i = 0; good && i < 6; i++)
		good = ((int16_t *)t.data)[i] == i - 3;
	ok(good, "be-i2-2d.npy: values swapped to native");
	xf_tensor_release(&t);

	ok(xf_npy_load_file(data_path("scalar.npy"), &t, &err) == 0 && t.ndim == 0 &&
	   t.dtype == XF_DTYPE_F64 && *(double *)t.data == 3.5, "scalar.npy: 0-d 3.5");
	xf_tensor_release(&t);

	ok(xf_npy_load_file(data_path("empty.npy"), &t, &err) == 0 && same_shape(&t, XF_DTYPE_F32, 2, s03),
	   "empty.npy: <f4 [0, 3]");
	xf_tensor_release(&t);

	ok(xf_npy_load_file(data_path("fortran.npy"), &t, &err) == 0 && same_shape(&t, XF_DTYPE_I32, 3, s234),
	   "fortran.npy: [2, 3, 4], C-contiguous");
	good = t.data != NULL;
	for (int i = 0; good && i < 24; i++)
		good = ((int32_t *)t.data)[i] == i;
	ok(good, "fortran.npy: transposed to the logical C-order values");
	xf_tensor_release(&t);
}

static void test_fixture_strings(void)
{
	static const char *uni[5] = { "a", "h\xc3\xa9llo", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "",
				      "\xf0\x9f\x99\x82x" };
	static const char *be[2] = { "ab", "\xc3\xa9" }, *bytes[4] = { "ab", "\xc3\xa9", "", "xyz" };
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t;

	ok(xf_npy_load_file(data_path("unicode.npy"), &t, &err) == 0 && same_strings(&t, uni, 5),
	   "unicode.npy: <U5 decoded to UTF-8, NULs stripped, non-ASCII and non-BMP");
	xf_tensor_release(&t);
	ok(xf_npy_load_file(data_path("be-unicode.npy"), &t, &err) == 0 && same_strings(&t, be, 2),
	   "be-unicode.npy: >U2");
	xf_tensor_release(&t);
	ok(xf_npy_load_file(data_path("bytes.npy"), &t, &err) == 0 && same_strings(&t, bytes, 4),
	   "bytes.npy: |S3 with UTF-8 bytes");
	xf_tensor_release(&t);
}

static void test_fixture_versions(void)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_npy_reader *r;
	struct xf_tensor t;
	int fd = open(data_path("v2.npy"), O_RDONLY);

	r = xf_npy_reader_open(fd_source, &fd, "v2.npy", &err);
	ok(r && xf_npy_reader_info(r)->version == 2 && xf_npy_read_all(r, &t, &err) == 0 &&
	   t.dtype == XF_DTYPE_U16 && t.shape[0] == 4 && ((uint16_t *)t.data)[3] == 3, "v2.npy: version 2.0 header");
	xf_tensor_release(&t);
	xf_npy_reader_close(r);
	close(fd);
	ok(xf_npy_load_file(data_path("v3.npy"), &t, &err) == 0 && t.dtype == XF_DTYPE_I64 &&
	   t.shape[0] == 3 && ((int64_t *)t.data)[2] == 2, "v3.npy: version 3.0 header");
	xf_tensor_release(&t);
}

static void test_fixture_refused(void)
{
	char want[512];
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t;
	int rc;

	rc = xf_npy_load_file(data_path("object.npy"), &t, &err);
	snprintf(want, sizeof(want), "'%s': object arrays (pickled Python objects) are not supported; "
		 "save with a numeric or string dtype", data_path("object.npy"));
	ok(rc < 0 && err.code == XF_E_FORMAT && !strcmp(err.msg, want), "object.npy refused: %s", err.msg);
	rc = xf_npy_load_file(data_path("structured.npy"), &t, &err);
	expect_error(rc, &err, XF_E_FORMAT, "structured arrays", "structured.npy refused");
	rc = xf_npy_load_file(data_path("no-such.npy"), &t, &err);
	expect_error(rc, &err, XF_E_IO, "No such file", "missing file: XF_E_IO");
}

static void test_fixture_npz(void)
{
	static const char *labels[3] = { "cat", "chien", "\xe7\x8c\xab" };
	static const int64_t s34[2] = { 3, 4 };
	struct xf_err err = XF_ERR_INIT;
	struct arrays a = { 0 };
	const struct xf_tensor *x;
	int rc, good;

	is_int(xf_npz_read(data_path("compressed.npz"), collect, &a, &err), 2,
	       "compressed.npz (np.savez_compressed): 2 arrays");
	x = find(&a, "x");
	good = x && same_shape(x, XF_DTYPE_F32, 2, s34);
	for (int i = 0; good && i < 12; i++)
		good = ((float *)x->data)[i] == (float)i;
	ok(good, "compressed.npz x: <f4 [3, 4] arange");
	ok(find(&a, "labels") && same_strings(find(&a, "labels"), labels, 3), "compressed.npz labels: strings");
	release_arrays(&a);

	rc = xf_npz_read(data_path("lying.npz"), collect, &a, &err);
	expect_error(rc, &err, XF_E_FORMAT, "member 'big.npy': truncated: header declares 2147483648 rows "
		     "of 8 bytes, data ends after 2 rows", "lying.npz: 16 GiB claimed, 16 bytes present");
	rc = xf_npz_read(data_path("huge.npz"), collect, &a, &err);
	expect_error(rc, &err, XF_E_LIMIT, "huge.npy", "huge.npz: a 32 GiB member is over the cap");
	rc = xf_npz_read(data_path("f8-3d.npy"), collect, &a, &err);
	ok(rc < 0 && err.code == XF_E_FORMAT && a.n == 0, "a .npy is not an .npz: %s", err.msg);
	release_arrays(&a);
}

/* ---- header text ---- */

static void parse_ok(const char *text, enum xf_dtype dtype, int ndim, int64_t d0, bool fortran, const char *what)
{
	struct xf_npy_info in;
	struct xf_err err = XF_ERR_INIT;
	int rc = xf_npy_parse_header(text, strlen(text), &in, &err);

	if (!ok(rc == 0 && in.dtype == dtype && in.ndim == ndim && (!ndim || in.shape[0] == d0) &&
		in.fortran_order == fortran, "header parses: %s", what))
		printf("#   rc %d: %s\n", rc, err.msg);
}

static void parse_bad(const char *text, int code, const char *what)
{
	struct xf_npy_info in;
	struct xf_err err = XF_ERR_INIT;
	int rc = xf_npy_parse_header(text, strlen(text), &in, &err);

	if (!ok(rc < 0 && err.code == code, "header refused: %s", what))
		printf("#   rc %d, code %d: %s\n", rc, err.code, err.msg);
}

static void test_header_text(void)
{
	parse_ok("{'shape':(2,3),'descr':'<i4','fortran_order':False}", XF_DTYPE_I32, 2, 2, false,
		 "no spaces, keys reordered, no trailing comma");
	parse_ok("{ \"descr\" : \"<i4\" ,\n\t'fortran_order' : True ,\r\n 'shape' : ( 7 , 3 , ) , }   \n",
		 XF_DTYPE_I32, 2, 7, true, "double quotes, tabs, newlines, trailing commas");
	parse_ok("{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 4L), }", XF_DTYPE_F64, 2, 3, false,
		 "Python 2 longs");
	parse_ok("{'descr': '=f4', 'fortran_order': False, 'shape': (), }", XF_DTYPE_F32, 0, 0, false, "'=f4' 0-d");
	parse_ok("{'descr': '|f8', 'fortran_order': False, 'shape': (1,), }", XF_DTYPE_F64, 1, 1, false, "'|f8'");
	parse_ok("{'descr': '<i1', 'fortran_order': False, 'shape': (0,), }", XF_DTYPE_I8, 1, 0, false, "'<i1'");
	parse_ok("{'descr': '?', 'fortran_order': False, 'shape': (2,), }", XF_DTYPE_BOOL, 1, 2, false, "'?'");
	parse_ok("{'descr': '>U10', 'fortran_order': False, 'shape': (2,), }", XF_DTYPE_STR, 1, 2, false, "'>U10'");
	parse_bad("{'descr': '<f4', 'fortran_order': False}", XF_E_FORMAT, "missing shape");
	parse_bad("{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", XF_E_FORMAT, "(3) is not a tuple");
	parse_bad("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", XF_E_FORMAT, "repeated key");
	parse_bad("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", XF_E_FORMAT, "unknown key");
	parse_bad("{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}", XF_E_FORMAT, "complex dtype");
	parse_bad("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (3,)}", XF_E_FORMAT, "datetime dtype");
	parse_bad("{'descr': '<U0', 'fortran_order': False, 'shape': (3,)}", XF_E_FORMAT, "<U0");
	parse_bad("{'descr': '<U999999999', 'fortran_order': False, 'shape': (3,)}", XF_E_LIMIT, "huge <U");
	parse_bad("{'descr': '<f4', 'fortran_order': Falsey, 'shape': ()}", XF_E_FORMAT, "Falsey");
	parse_bad("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}", XF_E_FORMAT, "negative dimension");
	parse_bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", XF_E_LIMIT, "9 dimensions");
	parse_bad("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", XF_E_LIMIT,
		  "dimension above int64");
	parse_bad("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", XF_E_FORMAT, "text after the dict");
	parse_bad("{'descr': '<f\\x34', 'fortran_order': False, 'shape': ()}", XF_E_FORMAT, "escapes");
	parse_bad("[1, 2, 3]", XF_E_FORMAT, "not a dict");
	parse_bad("", XF_E_FORMAT, "empty text");
	parse_bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", XF_E_FORMAT, "cut short");
}

/* ---- bad files ---- */

static void test_bad_preamble(void)
{
	static const unsigned char v1_long[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fort";
	static const unsigned char v2_huge[] = "\x93NUMPY\x02\x00\xf0\xff\xff\xff{";
	static const unsigned char v4[] = "\x93NUMPY\x04\x00\x10\x00";
	static const unsigned char magic[] = "\x93NUMPX\x01\x00\x10\x00{}";
	static const unsigned char garbage[] = "\x93NUMPY\x01\x00\x10\x00\x01\xfe\x80garbage\xff\xff\xff\n";
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t;
	int rc;

	rc = load_mem(v1_long, sizeof(v1_long) - 1, "x.npy", &t, &err);
	expect_error(rc, &err, XF_E_FORMAT, "'x.npy': truncated header", "truncated header");
	rc = load_mem(v1_long, 7, "x.npy", &t, &err);
	expect_error(rc, &err, XF_E_FORMAT, "truncated header", "input ends inside the magic");
	rc = load_mem(v2_huge, sizeof(v2_huge) - 1, "x.npy", &t, &err);
	expect_error(rc, &err, XF_E_LIMIT, "header of 4294967280 bytes", "huge header length");
	rc = load_mem(v4, sizeof(v4) - 1, "x.npy", &t, &err);
	expect_error(rc, &err, XF_E_FORMAT, "version 4.0", "format version 4.0");
	rc = load_mem(magic, sizeof(magic) - 1, "x.npy", &t, &err);
	expect_error(rc, &err, XF_E_FORMAT, "bad magic", "bad magic");
	rc = load_mem(magic, 0, "x.npy", &t, &err);
	expect_error(rc, &err, XF_E_FORMAT, "empty input", "empty input");
	rc = load_mem(garbage, sizeof(garbage) - 1, "x.npy", &t, &err);
	expect_error(rc, &err, XF_E_FORMAT, "header:", "garbage dict");
}

static void test_bad_data(void)
{
	static const float ten[10] = { 0 };
	static const uint32_t surrogate[2] = { 'a', 0xD800 };
	static const char bad_utf8[4] = { 'a', '\xc3', 'b', 'c' };
	static const unsigned char embedded_nul[3] = { 'a', 0, 'b' };
	struct xf_err err = XF_ERR_INIT;
	unsigned char buf[512];
	struct xf_npy_reader *r;
	struct xf_tensor t;
	struct mem_src m;
	size_t len;

	bad_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", ten, 30, XF_E_FORMAT,
		"'x.npy': truncated: header declares 4 rows of 12 bytes, data ends after 2 rows", "truncated data");
	bad_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", ten, 8, XF_E_LIMIT,
		"too large", "2^62 float32 elements: size overflow refused at open");
	bad_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4), }", NULL, 0,
		XF_E_LIMIT, "too large", "0 rows of an overflowing row shape");
	bad_npy("{'descr': '<i2', 'fortran_order': False, 'shape': (7777777777777777777, 0), }", NULL, 0,
		XF_E_LIMIT, "rows of 0 bytes", "2^62 rows of 0 bytes refused (found by fuzzing)");
	bad_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4611686018427387904,), }", ten, 8, XF_E_FORMAT,
		"data ends after 8 rows", "2^62 bytes claimed, 8 present: truncated, no huge allocation");
	bad_npy("{'descr': '<f8', 'fortran_order': True, 'shape': (1000000000, 1000000), }", ten, 40, XF_E_FORMAT,
		"truncated: header declares 8000000000000000 data bytes, data ends after 40", "Fortran, truncated");
	bad_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", ten, 4, XF_E_FORMAT,
		"truncated", "0-d, truncated");
	bad_npy("{'descr': '<U2', 'fortran_order': False, 'shape': (2, 2), }", ten, 32, XF_E_FORMAT, "1-D",
		"2-D string array refused");
	bad_npy("{'descr': '<U2', 'fortran_order': False, 'shape': (1,), }", surrogate, 8, XF_E_FORMAT,
		"string 0 holds a NUL or is not valid UTF-32", "surrogate code point refused");
	bad_npy("{'descr': '|S4', 'fortran_order': False, 'shape': (1,), }", bad_utf8, 4, XF_E_FORMAT,
		"not valid UTF-8", "|S with invalid UTF-8 refused");
	bad_npy("{'descr': '|S3', 'fortran_order': False, 'shape': (1,), }", embedded_nul, 3, XF_E_FORMAT,
		"holds a NUL", "|S with an embedded NUL refused");

	len = make_npy("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", NULL, 0, buf, sizeof(buf));
	m = (struct mem_src){ buf, len, 0, 0 };
	r = xf_npy_reader_open(mem_read, &m, "labels.npy", &err);
	is_str(r ? "" : err.msg, "'labels.npy': object arrays (pickled Python objects) are not supported; "
	       "save with a numeric or string dtype", "object dtype: the exact message");
	xf_npy_reader_close(r);
	(void)t;
}

static void test_bool_and_orders(void)
{
	static const unsigned char bools[4] = { 0, 2, 1, 255 };
	static const float native[2] = { 1.5f, -2.0f };
	struct xf_err err = XF_ERR_INIT;
	unsigned char buf[512];
	struct xf_tensor t;
	size_t len;

	len = make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", bools, 4, buf, sizeof(buf));
	ok(load_mem(buf, len, "b.npy", &t, &err) == 0 && t.dtype == XF_DTYPE_BOOL && get_u64(&t, 0) == 0 &&
	   get_u64(&t, 1) == 1 && get_u64(&t, 2) == 1 && get_u64(&t, 3) == 1, "|b1 bytes normalised to 0/1");
	xf_tensor_release(&t);
	len = make_npy("{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }", native, 8, buf, sizeof(buf));
	ok(load_mem(buf, len, "e.npy", &t, &err) == 0 && t.dtype == XF_DTYPE_F32 && ((float *)t.data)[1] == -2.0f,
	   "'=f4' read as native");
	xf_tensor_release(&t);
	len = make_npy("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", native, 8, buf, sizeof(buf));
	ok(load_mem(buf, len, "p.npy", &t, &err) == 0 && ((float *)t.data)[0] == 1.5f, "'|f4' read as native");
	xf_tensor_release(&t);
}

/* ---- streaming ---- */

/* 10 rows of 3 values i (float32), as '<f4' or '>f4', into buf. */
static size_t ramp_npy(bool big, unsigned char *buf, size_t size)
{
	float v[30];

	for (int i = 0; i < 30; i++)
		v[i] = (float)i;
	if (big)
		xf_byteswap(v, 30, 4);
	return make_npy(big ? "{'descr': '>f4', 'fortran_order': False, 'shape': (10, 3), }"
			    : "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 3), }", v, sizeof(v), buf, size);
}

/* Stream the ramp in batches of max_rows; returns 1 when batch sizes and all values are right. */
static int stream_ramp(bool big, int64_t max_rows)
{
	unsigned char buf[512];
	struct mem_src m = { buf, ramp_npy(big, buf, sizeof(buf)), 0, 7 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_npy_reader *r = xf_npy_reader_open(mem_read, &m, "ramp.npy", &err);
	struct xf_tensor t;
	int64_t n, seen = 0, want;
	int good = r != NULL;

	while (good && (n = xf_npy_read_rows(r, max_rows, &t, &err)) > 0) {
		want = 10 - seen < max_rows ? 10 - seen : max_rows;
		good = n == want && t.ndim == 2 && t.shape[0] == n && t.shape[1] == 3;
		for (int64_t i = 0; good && i < 3 * n; i++)
			good = ((float *)t.data)[i] == (float)(3 * seen + i);
		seen += n;
		xf_tensor_release(&t);
	}
	good = good && n == 0 && seen == 10 && xf_npy_read_rows(r, max_rows, &t, &err) == 0;
	xf_npy_reader_close(r);
	return good;
}

static void test_streaming(void)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_npy_reader *r;
	struct xf_tensor t;
	int fd;

	ok(stream_ramp(false, 3), "stream 10 rows by 3 (short reads of 7 bytes): 3,3,3,1");
	ok(stream_ramp(false, 10), "stream 10 rows by 10");
	ok(stream_ramp(false, 1000), "stream 10 rows by 1000");
	ok(stream_ramp(true, 4), "stream '>f4' rows by 4, swapped");

	fd = open(data_path("unicode.npy"), O_RDONLY);
	r = xf_npy_reader_open(fd_source, &fd, "unicode.npy", &err);
	ok(r && xf_npy_read_rows(r, 2, &t, &err) == 2 && t.dtype == XF_DTYPE_STR &&
	   !strcmp(((char **)t.data)[1], "h\xc3\xa9llo"), "strings stream by rows too");
	xf_tensor_release(&t);
	ok(r && xf_npy_read_rows(r, 2, &t, &err) == 2 && !strcmp(((char **)t.data)[0], "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
	   "second string batch");
	xf_tensor_release(&t);
	ok(r && xf_npy_read_rows(r, 0, &t, &err) < 0 && err.code == XF_E_USAGE, "max_rows 0 is a usage error");
	xf_npy_reader_close(r);
	close(fd);

	fd = open(data_path("fortran.npy"), O_RDONLY);
	r = xf_npy_reader_open(fd_source, &fd, "fortran.npy", &err);
	ok(r && xf_npy_read_rows(r, 1, &t, &err) == 1 && t.ndim == 3 && t.shape[0] == 1 && t.shape[2] == 4 &&
	   ((int32_t *)t.data)[11] == 11, "Fortran order streamed: row 0, transposed");
	xf_tensor_release(&t);
	ok(r && xf_npy_read_rows(r, 5, &t, &err) == 1 && t.shape[0] == 1 && ((int32_t *)t.data)[0] == 12 &&
	   xf_tensor_is_contiguous(&t) && t.owner, "Fortran order streamed: row 1, a contiguous copy");
	xf_tensor_release(&t);
	ok(r && xf_npy_read_rows(r, 1, &t, &err) == 0, "Fortran order: then the end");
	xf_npy_reader_close(r);
	close(fd);

	fd = open(data_path("fortran.npy"), O_RDONLY);
	r = xf_npy_reader_open(fd_source, &fd, "fortran.npy", &err);
	ok(r && xf_npy_read_rows(r, 1, &t, &err) == 1, "Fortran order: reader closed with rows held");
	xf_tensor_release(&t);
	xf_npy_reader_close(r);
	close(fd);

	fd = open(data_path("scalar.npy"), O_RDONLY);
	r = xf_npy_reader_open(fd_source, &fd, "scalar.npy", &err);
	ok(r && xf_npy_read_rows(r, 8, &t, &err) == 1 && t.ndim == 0 && *(double *)t.data == 3.5,
	   "0-d: one call returning 1");
	xf_tensor_release(&t);
	ok(r && xf_npy_read_rows(r, 8, &t, &err) == 0, "0-d: then the end");
	xf_npy_reader_close(r);
	close(fd);

	{
		unsigned char buf[256];
		size_t len = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100, 0), }", NULL, 0,
				      buf, sizeof(buf));
		struct mem_src m = { buf, len, 0, 0 };
		int64_t n, total = 0, calls = 0;

		r = xf_npy_reader_open(mem_read, &m, "zero.npy", &err);
		while (r && (n = xf_npy_read_rows(r, 7, &t, &err)) > 0) {
			total += n, calls++;
			if (t.shape[1] != 0 || t.shape[0] != n)
				total = -1000;
			xf_tensor_release(&t);
		}
		ok(total == 100 && calls == 15, "[100, 0] streams by 7 as 15 batches of empty rows");
		xf_npy_reader_close(r);
	}

	fd = open(data_path("empty.npy"), O_RDONLY);
	r = xf_npy_reader_open(fd_source, &fd, "empty.npy", &err);
	ok(r && xf_npy_reader_info(r)->shape[1] == 3 && xf_npy_read_rows(r, 5, &t, &err) == 0 && !t.owner,
	   "0 rows: end at once, row shape in the info");
	xf_npy_reader_close(r);
	close(fd);
}

/* ---- writing ---- */

static int read_file(const char *path, unsigned char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size);
	close(fd);
	*len = n < 0 ? 0 : (size_t)n;
	return n < 0 ? -1 : 0;
}

static void test_header_writer(void)
{
	static const int64_t s234[3] = { 2, 3, 4 }, s03[2] = { 0, 3 };
	unsigned char want[4096];
	char buf[XF_NPY_HEADER_SIZE];
	struct xf_err err = XF_ERR_INIT;
	int64_t shape[2] = { 0, 5 };
	size_t len, len2, flen;

	ok(xf_npy_header(XF_DTYPE_F64, 3, s234, buf, sizeof(buf), &len, &err) == 0 &&
	   read_file(data_path("f8-3d.npy"), want, sizeof(want), &flen) == 0 && len == 128 && !memcmp(buf, want, len),
	   "header of <f8 [2, 3, 4] is byte-identical to numpy's");
	ok(xf_npy_header(XF_DTYPE_F32, 2, s03, buf, sizeof(buf), &len, &err) == 0 &&
	   read_file(data_path("empty.npy"), want, sizeof(want), &flen) == 0 && len == flen && !memcmp(buf, want, len),
	   "empty.npy is byte-identical to numpy's");
	xf_npy_header(XF_DTYPE_F32, 2, shape, buf, sizeof(buf), &len, &err);
	shape[0] = INT64_MAX;
	ok(xf_npy_header(XF_DTYPE_F32, 2, shape, buf, sizeof(buf), &len2, &err) == 0 && len == len2 && len % 64 == 0,
	   "header length does not depend on shape[0] (%zu)", len);
	ok(xf_npy_header(XF_DTYPE_BF16, 2, shape, buf, sizeof(buf), &len, &err) == 0 && strstr(buf + 10, "'<u2'"),
	   "bf16 is written as '<u2'");
	ok(xf_npy_header(XF_DTYPE_STR, 1, shape, buf, sizeof(buf), &len, &err) < 0 && err.code == XF_E_USAGE,
	   "STR has no fixed header");
	ok(xf_npy_header(XF_DTYPE_F32, 2, shape, buf, 64, &len, &err) < 0 && err.code == XF_E_USAGE,
	   "a small buffer is refused");
}

static void fill_ramp(struct xf_tensor *t, enum xf_dtype dtype, int ndim, const int64_t *shape, int first)
{
	struct xf_tensor f;
	struct xf_err err = XF_ERR_INIT;

	xf_tensor_alloc(&f, XF_DTYPE_F64, ndim, shape, &err);
	for (int64_t i = 0; i < xf_tensor_count(&f); i++)
		((double *)f.data)[i] = (double)(first + i);
	xf_tensor_convert(&f, dtype, t, &err);
	xf_tensor_release(&f);
}

/* Write rows 0..9 of [n, 3] f4 in batches of 4 through a writer on fd; declared row count or -1. */
static int write_ramp(int fd, const char *name, int64_t declared, struct xf_err *err)
{
	int64_t shape[2] = { declared, 3 };
	struct xf_npy_writer *w = xf_npy_writer_open(fd, name, XF_DTYPE_F32, 2, shape, err);
	struct xf_tensor t;

	if (!w)
		return -1;
	for (int first = 0; first < 10; first += 4) {
		shape[0] = first + 4 <= 10 ? 4 : 10 - first;
		fill_ramp(&t, XF_DTYPE_F32, 2, shape, 3 * first);
		if (xf_npy_writer_write(w, &t, err) < 0) {
			xf_tensor_release(&t);
			xf_npy_writer_abort(w);
			return -1;
		}
		xf_tensor_release(&t);
	}
	return xf_npy_writer_close(w, err);
}

static int is_ramp(const struct xf_tensor *t)
{
	if (t->dtype != XF_DTYPE_F32 || t->ndim != 2 || t->shape[0] != 10 || t->shape[1] != 3)
		return 0;
	for (int i = 0; i < 30; i++)
		if (((float *)t->data)[i] != (float)i)
			return 0;
	return 1;
}

static void test_writer_modes(void)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_npy_reader *r;
	struct xf_tensor t;
	int fd, p[2];

	fd = open(tmp_path("patched.npy"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ok(write_ramp(fd, "patched.npy", -1, &err) == 0, "seekable, row count unknown: header patched");
	close(fd);
	ok(xf_npy_load_file(tmp_path("patched.npy"), &t, &err) == 0 && is_ramp(&t), "patched file reads back");
	xf_tensor_release(&t);

	fd = open(tmp_path("append.npy"), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	ok(write_ramp(fd, "append.npy", -1, &err) == 0, "O_APPEND: buffered");
	close(fd);
	ok(xf_npy_load_file(tmp_path("append.npy"), &t, &err) == 0 && is_ramp(&t), "O_APPEND file reads back");
	xf_tensor_release(&t);

	fd = open(tmp_path("declared.npy"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ok(write_ramp(fd, "declared.npy", 10, &err) == 0, "declared count: streamed");
	close(fd);
	fd = open(tmp_path("short.npy"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	expect_error(write_ramp(fd, "short.npy", 12, &err), &err, XF_E_USAGE, "12 rows declared, 10 written",
		     "declared count not met");
	close(fd);
	fd = open(tmp_path("long.npy"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	expect_error(write_ramp(fd, "long.npy", 5, &err), &err, XF_E_USAGE, "more rows than the 5 declared",
		     "declared count exceeded");
	close(fd);

	if (pipe(p) < 0)
		abort();
	ok(write_ramp(p[1], "pipe", -1, &err) == 0, "pipe, row count unknown: buffered until close");
	close(p[1]);
	r = xf_npy_reader_open(fd_source, &p[0], "pipe", &err);
	ok(r && xf_npy_read_all(r, &t, &err) == 0 && is_ramp(&t), "piped .npy reads back");
	xf_tensor_release(&t);
	xf_npy_reader_close(r);
	close(p[0]);
}

/* 300000 x 3 f4 (3.6 MB): the reader's buffer has to grow past its first MiB, and so does the writer's. */
static void test_big(void)
{
	int64_t shape[2] = { 300000, 3 }, n, seen = 0;
	struct xf_err err = XF_ERR_INIT;
	struct xf_npy_reader *r;
	struct xf_npy_writer *w;
	struct xf_tensor t, back;
	int fd, good;

	fill_ramp(&t, XF_DTYPE_F32, 2, shape, 0);
	shape[0] = -1;
	fd = open(tmp_path("big.npy"), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	w = xf_npy_writer_open(fd, "big.npy", XF_DTYPE_F32, 2, shape, &err);
	ok(w && xf_npy_writer_write(w, &t, &err) == 0 && xf_npy_writer_close(w, &err) == 0,
	   "3.6 MB through the in-memory (O_APPEND) writer");
	close(fd);
	ok(xf_npy_load_file(tmp_path("big.npy"), &back, &err) == 0 && back.shape[0] == 300000 &&
	   !memcmp(back.data, t.data, xf_tensor_bytes(&t)), "3.6 MB read whole, buffer grown");
	xf_tensor_release(&back);
	fd = open(tmp_path("big.npy"), O_RDONLY);
	r = xf_npy_reader_open(fd_source, &fd, "big.npy", &err);
	good = r != NULL;
	while (good && (n = xf_npy_read_rows(r, 131072, &back, &err)) > 0) {
		good = !memcmp(back.data, (float *)t.data + 3 * seen, (size_t)n * 12);
		seen += n;
		xf_tensor_release(&back);
	}
	ok(good && seen == 300000, "3.6 MB streamed in batches of 131072 rows (1.5 MB)");
	xf_npy_reader_close(r);
	close(fd);
	xf_tensor_release(&t);
}

static void test_writer_errors(void)
{
	struct xf_err err = XF_ERR_INIT;
	int64_t shape[2] = { -1, 3 };
	struct xf_npy_writer *w;
	struct xf_tensor t;
	int fd, p[2];

	fd = open("/dev/full", O_WRONLY);
	if (fd >= 0) {
		expect_error(write_ramp(fd, "full", 10, &err), &err, XF_E_IO, "'full': write error: No space left",
			     "/dev/full: write error with errno text");
		close(fd);
	} else {
		ok(1, "# skip no /dev/full");
	}
	if (pipe(p) < 0)
		abort();
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	expect_error(write_ramp(p[1], "pipe", 10, &err), &err, XF_E_PIPE, "Broken pipe", "EPIPE is XF_E_PIPE");
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);

	fd = open(tmp_path("mismatch.npy"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	w = xf_npy_writer_open(fd, "mismatch.npy", XF_DTYPE_F32, 2, shape, &err);
	shape[0] = 2, shape[1] = 4;
	fill_ramp(&t, XF_DTYPE_F32, 2, shape, 0);
	expect_error(xf_npy_writer_write(w, &t, &err), &err, XF_E_USAGE, "does not fit rows", "row shape mismatch");
	xf_tensor_release(&t);
	fill_ramp(&t, XF_DTYPE_F64, 2, shape, 0);
	expect_error(xf_npy_writer_write(w, &t, &err), &err, XF_E_USAGE, "batch of <f8", "dtype mismatch");
	xf_tensor_release(&t);
	xf_npy_writer_abort(w);
	close(fd);
}

static void write_str_batches(const char *path, const char *const *s, int n, int split)
{
	struct xf_err err = XF_ERR_INIT;
	int64_t shape[1] = { -1 };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct xf_npy_writer *w = xf_npy_writer_open(fd, path, XF_DTYPE_STR, 1, shape, &err);
	int rc = w ? 0 : -1;

	for (int b = 0; b < 2 && rc == 0; b++) {
		int first = b ? split : 0, count = b ? n - split : split;
		struct xf_tensor t;
		size_t total = 0;
		char *text;

		for (int i = 0; i < count; i++)
			total += strlen(s[first + i]) + 1;
		xf_tensor_alloc_str(&t, count, total, &text, &err);
		for (int i = 0; i < count; i++) {
			((char **)t.data)[i] = strcpy(text, s[first + i]);
			text += strlen(s[first + i]) + 1;
		}
		rc = xf_npy_writer_write(w, &t, &err);
		xf_tensor_release(&t);
	}
	ok(rc == 0 && xf_npy_writer_close(w, &err) == 0, "strings written in 2 batches: %s", err.msg);
	close(fd);
}

static void test_writer_values(void)
{
	static const char *uni[5] = { "a", "h\xc3\xa9llo", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "",
				      "\xf0\x9f\x99\x82x" };
	static const int64_t s234[3] = { 2, 3, 4 }, s23[2] = { 2, 3 };
	unsigned char a[4096], b[4096];
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t, v, back;
	size_t alen, blen;

	write_str_batches(tmp_path("unicode.npy"), uni, 5, 2);
	ok(read_file(tmp_path("unicode.npy"), a, sizeof(a), &alen) == 0 &&
	   read_file(data_path("unicode.npy"), b, sizeof(b), &blen) == 0 && alen == blen && !memcmp(a, b, alen),
	   "strings: byte-identical to numpy's unicode.npy");

	fill_ramp(&t, XF_DTYPE_F64, 3, s234, 0);
	for (int i = 0; i < 24; i++)
		((double *)t.data)[i] /= 4;
	ok(xf_npy_save_file(tmp_path("f8-3d.npy"), &t, &err) == 0 &&
	   read_file(tmp_path("f8-3d.npy"), a, sizeof(a), &alen) == 0 &&
	   read_file(data_path("f8-3d.npy"), b, sizeof(b), &blen) == 0 && alen == blen && !memcmp(a, b, alen),
	   "<f8 [2, 3, 4]: byte-identical to numpy's f8-3d.npy");
	xf_tensor_release(&t);

	fill_ramp(&t, XF_DTYPE_I32, 2, s23, 0);
	v = t, v.owner = NULL, v.shape[0] = 3, v.shape[1] = 2, v.stride[0] = 1, v.stride[1] = 3;
	ok(xf_npy_save_file(tmp_path("transposed.npy"), &v, &err) == 0 &&
	   xf_npy_load_file(tmp_path("transposed.npy"), &back, &err) == 0 && back.shape[0] == 3 &&
	   ((int32_t *)back.data)[1] == 3 && ((int32_t *)back.data)[2] == 1, "a strided view is written in C order");
	xf_tensor_release(&back);
	xf_tensor_release(&t);

	fill_ramp(&t, XF_DTYPE_BF16, 1, s23, 1);
	ok(xf_npy_save_file(tmp_path("bf16.npy"), &t, &err) == 0 &&
	   xf_npy_load_file(tmp_path("bf16.npy"), &back, &err) == 0 && back.dtype == XF_DTYPE_U16 &&
	   ((uint16_t *)back.data)[1] == ((uint16_t *)t.data)[1] && ((uint16_t *)t.data)[1] == 0x4000,
	   "bf16 round trip keeps the raw bits as U16");
	xf_tensor_release(&back);
	xf_tensor_release(&t);
}

/* ---- writing every dtype for numpy to check ---- */

static const enum xf_dtype all_numeric[] = {
	XF_DTYPE_F32, XF_DTYPE_F64, XF_DTYPE_F16, XF_DTYPE_BF16, XF_DTYPE_I8, XF_DTYPE_I16, XF_DTYPE_I32,
	XF_DTYPE_I64, XF_DTYPE_U8, XF_DTYPE_U16, XF_DTYPE_U32, XF_DTYPE_U64, XF_DTYPE_BOOL,
};
#define N_NUMERIC (int)(sizeof(all_numeric) / sizeof(all_numeric[0]))

static const char *short_name(enum xf_dtype d)
{
	static const char *names[XF_DTYPE_COUNT] = { "f4", "f8", "f2", "bf16", "i1", "i2", "i4", "i8",
						     "u1", "u2", "u4", "u8", "b1", "str" };
	return names[d];
}

/* dtype d as [2, 3] with values 0..5 (bool: 0,1,1,...), plus a 0-d 7 and an empty [0, 2]. */
static int write_all_dtypes(struct xf_npz_writer *z, struct xf_err *err)
{
	static const int64_t s23[2] = { 2, 3 }, s02[2] = { 0, 2 }, one = 1;
	struct xf_tensor t;
	char path[300];
	int rc = 0;

	for (int i = 0; i < N_NUMERIC && rc == 0; i++) {
		fill_ramp(&t, all_numeric[i], 2, s23, 0);
		snprintf(path, sizeof(path), "%s", tmp_path(short_name(all_numeric[i])));
		strcat(path, ".npy");
		rc = xf_npy_save_file(path, &t, err);
		if (rc == 0 && z)
			rc = xf_npz_writer_add(z, short_name(all_numeric[i]), &t, err);
		xf_tensor_release(&t);
	}
	fill_ramp(&t, XF_DTYPE_F64, 1, &one, 7);
	t.ndim = 0;
	if (rc == 0)
		rc = xf_npy_save_file(tmp_path("scalar.npy"), &t, err);
	if (rc == 0 && z)
		rc = xf_npz_writer_add(z, "scalar", &t, err);
	xf_tensor_release(&t);
	xf_tensor_alloc(&t, XF_DTYPE_I16, 2, s02, err);
	if (rc == 0)
		rc = xf_npy_save_file(tmp_path("empty.npy"), &t, err);
	if (rc == 0 && z)
		rc = xf_npz_writer_add(z, "empty", &t, err);
	xf_tensor_release(&t);
	return rc;
}

static const char check_py[] =
	"import sys, numpy as np\n"
	"d = sys.argv[1]\n"
	"want = {'f4': '<f4', 'f8': '<f8', 'f2': '<f2', 'bf16': '<u2', 'i1': '|i1', 'i2': '<i2', 'i4': '<i4',\n"
	"        'i8': '<i8', 'u1': '|u1', 'u2': '<u2', 'u4': '<u4', 'u8': '<u8', 'b1': '|b1'}\n"
	"bf = np.array([0, 16256, 16384, 16448, 16512, 16544], dtype='<u2').reshape(2, 3)\n"
	"def check(get, where):\n"
	"    for k, code in want.items():\n"
	"        a = get(k)\n"
	"        assert a.dtype.str == code and a.shape == (2, 3), (where, k, a.dtype.str, a.shape)\n"
	"        ref = bf if k == 'bf16' else np.arange(6).reshape(2, 3).astype(code)\n"
	"        assert (a == ref).all(), (where, k, a)\n"
	"    s = get('scalar'); assert s.shape == () and s.dtype == np.float64 and s == 7.0, (where, s)\n"
	"    e = get('empty'); assert e.shape == (0, 2) and e.dtype == np.int16, (where, e)\n"
	"    u = get('strings')\n"
	"    assert u.dtype.str == '<U5' and list(u) == ['a', 'h\\u00e9llo', '\\u65e5\\u672c\\u8a9e', '', '\\U0001f642x'], (where, u)\n"
	"check(lambda k: np.load(d + '/' + ('unicode' if k == 'strings' else k) + '.npy'), 'npy')\n"
	"for z in ('stored.npz', 'deflated.npz'):\n"
	"    with np.load(d + '/' + z) as f:\n"
	"        assert sorted(f.files) == sorted(list(want) + ['scalar', 'empty', 'strings']), f.files\n"
	"        check(lambda k: f[k], z)\n"
	"for k in ('patched', 'append', 'declared'):\n"
	"    a = np.load(d + '/' + k + '.npy')\n"
	"    assert a.dtype.str == '<f4' and (a == np.arange(30).reshape(10, 3)).all(), (k, a)\n"
	"print('# numpy agrees')\n";

static int have_numpy(void)
{
	return access(PYTHON, X_OK) == 0 && system(PYTHON " -c 'import numpy' 2>/dev/null") == 0;
}

static int add_strings(struct xf_npz_writer *z, struct xf_err *err)
{
	struct xf_tensor t;
	int rc = xf_npy_load_file(tmp_path("unicode.npy"), &t, err);

	if (rc == 0)
		rc = xf_npz_writer_add(z, "strings", &t, err);
	xf_tensor_release(&t);
	return rc;
}

static void test_npz_writer(void)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_npz_writer *z;
	struct arrays a = { 0 };
	const struct xf_tensor *t;
	struct stat st1, st2;

	z = xf_npz_writer_open(tmp_path("stored.npz"), 0, &err);
	ok(z && write_all_dtypes(z, &err) == 0 && add_strings(z, &err) == 0 && xf_npz_writer_close(z, &err) == 0,
	   "stored .npz and every dtype as .npy written: %s", err.msg);
	z = xf_npz_writer_open(tmp_path("deflated.npz"), XF_NPZ_DEFLATE, &err);
	ok(z && write_all_dtypes(z, &err) == 0 && add_strings(z, &err) == 0 && xf_npz_writer_close(z, &err) == 0,
	   "deflated .npz written: %s", err.msg);
	if (stat(tmp_path("stored.npz"), &st1) < 0 || stat(tmp_path("deflated.npz"), &st2) < 0)
		st1.st_size = st2.st_size = 0;
	ok(st2.st_size < st1.st_size, "deflate makes it smaller (%lld < %lld)", (long long)st2.st_size,
	   (long long)st1.st_size);

	is_int(xf_npz_read(tmp_path("deflated.npz"), collect, &a, &err), N_NUMERIC + 3, "deflated .npz reads back");
	t = find(&a, "i8");
	ok(t && t->dtype == XF_DTYPE_I64 && get_i64(t, 5) == 5, "member i8 reads back");
	t = find(&a, "empty");
	ok(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 2, "member empty reads back");
	t = find(&a, "scalar");
	ok(t && t->ndim == 0 && *(double *)t->data == 7.0, "member scalar reads back");
	release_arrays(&a);

	if (!have_numpy()) {
		ok(1, "# skip " PYTHON " with numpy not available");
		return;
	}
	{
		char cmd[600];
		FILE *f = fopen(tmp_path("check.py"), "w");

		fputs(check_py, f);
		fclose(f);
		snprintf(cmd, sizeof(cmd), PYTHON " %s %s", tmp_path("check.py"), tmpdir);
		ok(system(cmd) == 0, "numpy reads the C-written .npy and .npz files (np.load)");
	}
}

static void test_npz_pipe(void)
{
	static const int64_t s23[2] = { 2, 3 };
	struct xf_err err = XF_ERR_INIT;
	struct xf_npz_writer *z;
	struct arrays a = { 0 };
	struct xf_tensor t;
	int p[2], rc;

	if (pipe(p) < 0)
		abort();
	z = xf_npz_writer_open_fd(p[1], "pipe", 0, &err);
	fill_ramp(&t, XF_DTYPE_I16, 2, s23, 0);
	rc = z ? xf_npz_writer_add(z, "a", &t, &err) : -1;
	if (rc == 0)
		rc = xf_npz_writer_add(z, "b", &t, &err);
	xf_tensor_release(&t);
	ok(rc == 0 && xf_npz_writer_close(z, &err) == 0, ".npz written to a pipe");
	close(p[1]);
	is_int(xf_npz_read_fd(p[0], "<pipe>", collect, &a, &err), 2, ".npz read from a pipe (streaming zip)");
	ok(a.n == 2 && get_i64(&a.t[1], 4) == 4, "pipe member values");
	release_arrays(&a);
	close(p[0]);

	if (pipe(p) < 0)
		abort();
	{
		unsigned char buf[8192];
		size_t len;

		rc = read_file(data_path("dtypes.npz"), buf, sizeof(buf), &len);
		if (rc == 0 && write(p[1], buf, len) != (ssize_t)len)
			rc = -1;
	}
	close(p[1]);
	is_int(rc == 0 ? xf_npz_read_fd(p[0], "<pipe>", collect, &a, &err) : -1, 21,
	       "numpy's stored zip64 .npz read from a pipe");
	release_arrays(&a);
	close(p[0]);

	z = xf_npz_writer_open(tmp_path("bad.npz"), 0, &err);
	fill_ramp(&t, XF_DTYPE_I16, 2, s23, 0);
	expect_error(xf_npz_writer_add(z, "", &t, &err), &err, XF_E_USAGE, "needs a name", "empty member name");
	xf_tensor_release(&t);
	ok(xf_npz_writer_close(z, &err) == 0, "close after a refused add");
}

int main(void)
{
	if (!scratch_make(tmpdir, sizeof(tmpdir), "test-npy"))
		return 99;
	test_dtypes_npz();
	test_fixture_arrays();
	test_fixture_strings();
	test_fixture_versions();
	test_fixture_refused();
	test_fixture_npz();
	test_header_text();
	test_bad_preamble();
	test_bad_data();
	test_bool_and_orders();
	test_streaming();
	test_header_writer();
	test_writer_modes();
	test_writer_errors();
	test_big();
	test_writer_values();
	test_npz_writer();
	test_npz_pipe();
	scratch_remove(tmpdir);
	return done_testing();
}
