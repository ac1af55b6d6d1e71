/*
 * npy: NumPy .npy/.npz reading and writing; the contract is in npy.h, the format in numpy's
 * numpy/lib/format.py. Input is untrusted: every size in a header is checked before use, and
 * data buffers grow with the bytes actually read, so a header that lies costs at most 1 MiB.
 */
#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host, like the '<' wire dtypes of tensor.h"
#endif

#define MAGIC_LEN 6
#define GROW_START ((size_t)1 << 20)   /* first data buffer; doubled as bytes arrive */
#define GROWTH_DIGITS 21               /* numpy's GROWTH_AXIS_MAX_DIGITS: room for shape[0] */
#define HEADER_ALIGN 64                /* numpy's ARRAY_ALIGN */
#define IO_CHUNK ((size_t)1 << 16)     /* string encoding and member draining buffer */
#define MAX_IO ((size_t)1 << 30)       /* largest single read() or write() */
#define NPZ_MTIME 946684800            /* 2000-01-01: a fixed member time keeps .npz output reproducible */

static const unsigned char npy_magic[MAGIC_LEN] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

__attribute__((format(printf, 1, 2)))
static char *dup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* ---- UTF-8 / UTF-32 ---- */

static bool valid_cp(uint32_t cp)
{
	return cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
}

/*
 * Decode the UTF-8 sequence at s (n > 0 bytes left) into *cp; returns its length, or 0 when
 * it is malformed: truncated, overlong, a surrogate or above U+10FFFF (RFC 3629).
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, *cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, *cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, *cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return *cp >= min && valid_cp(*cp) ? len : 0;
}

/* Encode a valid code point at out (NULL: only measure); returns its length. */
static size_t utf8_put(uint32_t cp, char *out)
{
	unsigned char b[4];
	size_t len;

	if (cp < 0x80)
		b[0] = (unsigned char)cp, len = 1;
	else if (cp < 0x800)
		b[0] = 0xc0 | cp >> 6, b[1] = 0x80 | (cp & 0x3f), len = 2;
	else if (cp < 0x10000)
		b[0] = 0xe0 | cp >> 12, b[1] = 0x80 | (cp >> 6 & 0x3f), b[2] = 0x80 | (cp & 0x3f), len = 3;
	else
		b[0] = 0xf0 | cp >> 18, b[1] = 0x80 | (cp >> 12 & 0x3f), b[2] = 0x80 | (cp >> 6 & 0x3f),
		b[3] = 0x80 | (cp & 0x3f), len = 4;
	if (out)
		memcpy(out, b, len);
	return len;
}

/* Code points in the UTF-8 string s, or -1 if it is not valid UTF-8. */
static int64_t utf8_count(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	int64_t count = 0;
	uint32_t cp;

	while (n > 0) {
		size_t len = utf8_next(p, n, &cp);

		if (!len)
			return -1;
		p += len, n -= len, count++;
	}
	return count;
}

/* s (valid UTF-8, at most width code points) as width UTF-32LE units, NUL padded. */
static void utf32_store(const char *s, size_t width, unsigned char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	uint32_t cp;

	memset(out, 0, width * 4);
	for (size_t k = 0; n > 0 && k < width; k++, out += 4) {
		size_t len = utf8_next(p, n, &cp);

		if (!len)
			break;
		out[0] = cp & 0xff, out[1] = cp >> 8 & 0xff, out[2] = cp >> 16 & 0xff, out[3] = cp >> 24;
		p += len, n -= len;
	}
}

static uint32_t load_u32(const unsigned char *p, bool big)
{
	if (big)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* ---- header dict: a tiny lexer for the Python literal numpy writes ---- */

struct lex {
	const char *start;  /* the dict text, for offsets in messages */
	const char *p;      /* next character */
	const char *end;    /* one past the text */
};

static void skip_space(struct lex *lx)
{
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
		lx->p++;
}

/* Next non-space character, or 0 at the end of the text. */
static char peek(struct lex *lx)
{
	skip_space(lx);
	return lx->p < lx->end ? *lx->p : 0;
}

static int syntax_error(const struct lex *lx, const char *what, struct xf_err *err)
{
	return xf_err_set(err, XF_E_FORMAT, "header: %s at offset %td", what, lx->p - lx->start);
}

static int expect(struct lex *lx, char c, const char *what, struct xf_err *err)
{
	if (peek(lx) != c)
		return syntax_error(lx, what, err);
	lx->p++;
	return 0;
}

/* A quoted string without escapes (all a .npy header needs) into out[size]. */
static int lex_string(struct lex *lx, char *out, size_t size, struct xf_err *err)
{
	char q = peek(lx);
	const char *s;
	size_t n;

	if (q != '\'' && q != '"')
		return syntax_error(lx, "expected a quoted string", err);
	s = ++lx->p;
	while (lx->p < lx->end && *lx->p != q && *lx->p != '\\' && *lx->p != '\n' && *lx->p)
		lx->p++;
	if (lx->p >= lx->end || *lx->p != q)
		return syntax_error(lx, "unterminated or escaped string", err);
	n = (size_t)(lx->p - s);
	if (n >= size)
		return syntax_error(lx, "string too long", err);
	memcpy(out, s, n);
	out[n] = '\0';
	lx->p++;
	return 0;
}

static int lex_bool(struct lex *lx, bool *out, struct xf_err *err)
{
	size_t left;

	peek(lx);
	left = (size_t)(lx->end - lx->p);
	if (left >= 4 && !memcmp(lx->p, "True", 4))
		*out = true, lx->p += 4;
	else if (left >= 5 && !memcmp(lx->p, "False", 5))
		*out = false, lx->p += 5;
	else
		return syntax_error(lx, "expected True or False", err);
	if (peek(lx) != ',' && peek(lx) != '}')
		return syntax_error(lx, "expected True or False", err);
	return 0;
}

/* A non-negative decimal, allowing the 'L' Python 2 numpy wrote after longs. */
static int lex_int(struct lex *lx, int64_t *out, struct xf_err *err)
{
	const char *s;
	int64_t v = 0;

	peek(lx);
	s = lx->p;
	for (; lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9'; lx->p++) {
		int d = *lx->p - '0';

		if (v > (INT64_MAX - d) / 10)
			return xf_err_set(err, XF_E_LIMIT, "header: dimension at offset %td does not fit 64 bits",
					  s - lx->start);
		v = v * 10 + d;
	}
	if (lx->p == s)
		return syntax_error(lx, "expected a non-negative integer", err);
	if (lx->p < lx->end && (*lx->p == 'L' || *lx->p == 'l'))
		lx->p++;
	*out = v;
	return 0;
}

/* A tuple of dimensions: "()", "(5,)", "(2, 3)" or "(2, 3,)"; "(5)" is an int in Python, refused. */
static int lex_shape(struct lex *lx, struct xf_npy_info *out, struct xf_err *err)
{
	bool comma = false;

	if (expect(lx, '(', "expected a shape tuple", err) < 0)
		return -1;
	while (peek(lx) != ')') {
		if (out->ndim == XF_MAX_DIMS)
			return xf_err_set(err, XF_E_LIMIT, "header: shape has more than %d dimensions",
					  XF_MAX_DIMS);
		if (lex_int(lx, &out->shape[out->ndim++], err) < 0)
			return -1;
		comma = peek(lx) == ',';
		if (comma)
			lx->p++;
		else if (peek(lx) != ')')
			return syntax_error(lx, "expected ',' or ')' in the shape", err);
	}
	if (out->ndim == 1 && !comma)
		return syntax_error(lx, "shape (n) is not a tuple", err);
	lx->p++;
	return 0;
}

static int lex_descr(struct lex *lx, char *descr, size_t size, struct xf_err *err)
{
	char c = peek(lx);

	if (c == '[' || c == '{')
		return xf_err_set(err, XF_E_FORMAT, "structured arrays (a list descr) are not supported; "
				  "save each field as its own array");
	return lex_string(lx, descr, size, err);
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4, KEY_ALL = 7 };

static int lex_entry(struct lex *lx, unsigned *seen, char *descr, size_t size,
		     struct xf_npy_info *out, struct xf_err *err)
{
	char key[32];
	unsigned bit;

	if (lex_string(lx, key, sizeof(key), err) < 0 || expect(lx, ':', "expected ':'", err) < 0)
		return -1;
	bit = !strcmp(key, "descr") ? KEY_DESCR : !strcmp(key, "fortran_order") ? KEY_FORTRAN
	    : !strcmp(key, "shape") ? KEY_SHAPE : 0;
	if (!bit)
		return xf_err_set(err, XF_E_FORMAT, "header: unexpected key '%s'", key);
	if (*seen & bit)
		return xf_err_set(err, XF_E_FORMAT, "header: key '%s' appears twice", key);
	*seen |= bit;
	if (bit == KEY_DESCR)
		return lex_descr(lx, descr, size, err);
	if (bit == KEY_FORTRAN)
		return lex_bool(lx, &out->fortran_order, err);
	return lex_shape(lx, out, err);
}

/* The numeric dtypes we read: numpy kind and item size. */
static int numeric_dtype(char kind, size_t size, enum xf_dtype *out)
{
	static const struct { char kind; size_t size; enum xf_dtype dtype; } map[] = {
		{ 'f', 2, XF_DTYPE_F16 }, { 'f', 4, XF_DTYPE_F32 }, { 'f', 8, XF_DTYPE_F64 },
		{ 'i', 1, XF_DTYPE_I8 }, { 'i', 2, XF_DTYPE_I16 }, { 'i', 4, XF_DTYPE_I32 },
		{ 'i', 8, XF_DTYPE_I64 }, { 'u', 1, XF_DTYPE_U8 }, { 'u', 2, XF_DTYPE_U16 },
		{ 'u', 4, XF_DTYPE_U32 }, { 'u', 8, XF_DTYPE_U64 }, { 'b', 1, XF_DTYPE_BOOL },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].kind == kind && map[i].size == size) {
			*out = map[i].dtype;
			return 0;
		}
	return -1;
}

/* Decimal item size after the kind letter: 1..9 digits and nothing else. */
static int descr_size(const char *s, size_t *out)
{
	size_t n = 0, i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 9; i++)
		n = n * 10 + (size_t)(s[i] - '0');
	if (i == 0 || s[i])
		return -1;
	*out = n;
	return 0;
}

/* descr: optional byte order, kind, size ("<f4", "|b1", ">U7", "|S3"); '?' is bool. */
static int parse_descr(const char *descr, struct xf_npy_info *out, struct xf_err *err)
{
	const char *s = descr;
	size_t n = 1;

	out->byte_order = *s && strchr("<>|=", *s) ? *s++ : '=';
	out->kind = *s ? *s++ : 0;
	if (out->kind == 'O')
		return xf_err_set(err, XF_E_FORMAT, "object arrays (pickled Python objects) are not "
				  "supported; save with a numeric or string dtype");
	if (out->kind == '?' && !*s)
		out->kind = 'b';
	else if (descr_size(s, &n) < 0)
		goto unsupported;
	if (out->kind == 'U' || out->kind == 'S') {
		if (n == 0)
			goto unsupported;
		if (n > XF_NPY_MAX_STR_CHARS)
			return xf_err_set(err, XF_E_LIMIT, "dtype '%s': strings of more than %d characters",
					  descr, XF_NPY_MAX_STR_CHARS);
		out->dtype = XF_DTYPE_STR;
		out->item_size = out->kind == 'U' ? 4 * n : n;
		return 0;
	}
	if (numeric_dtype(out->kind, n, &out->dtype) < 0)
		goto unsupported;
	out->item_size = n;
	return 0;
unsupported:
	return xf_err_set(err, XF_E_FORMAT, "unsupported dtype '%s' (xfer reads bool, integers, "
			  "float16/32/64 and '<U'/'|S' strings)", descr);
}

int xf_npy_parse_header(const char *text, size_t len, struct xf_npy_info *out, struct xf_err *err)
{
	struct lex lx = { text, text, text + len };
	unsigned seen = 0;
	char descr[64];

	memset(out, 0, sizeof(*out));
	if (expect(&lx, '{', "expected '{'", err) < 0)
		return -1;
	while (peek(&lx) != '}') {
		if (lex_entry(&lx, &seen, descr, sizeof(descr), out, err) < 0)
			return -1;
		if (peek(&lx) == ',')
			lx.p++;
		else if (peek(&lx) != '}')
			return syntax_error(&lx, "expected ',' or '}'", err);
	}
	lx.p++;
	skip_space(&lx);
	if (lx.p != lx.end)
		return syntax_error(&lx, "unexpected text after the dict", err);
	if (seen != KEY_ALL)
		return xf_err_set(err, XF_E_FORMAT, "header: no '%s' key", !(seen & KEY_DESCR) ? "descr"
				  : !(seen & KEY_SHAPE) ? "shape" : "fortran_order");
	return parse_descr(descr, out, err);
}

/* ---- reader ---- */

struct xf_npy_reader {
	xf_read_fn read;          /* the byte source */
	void *ctx;                /* its state */
	char *where;              /* "'x.npy'" or "'d.npz' member 'x.npy'", for messages */
	struct xf_npy_info info;  /* what the header declares */
	uint64_t limit;           /* most data bytes accepted */
	size_t row_bytes;         /* file bytes per index of dimension 0 */
	int64_t n_rows;           /* shape[0], or 1 for a 0-d array */
	int64_t rows_done;        /* rows returned so far */
	bool whole;               /* 0-d, or Fortran order with 2+ dimensions: read in one piece */
	struct xf_tensor held;    /* such a whole array, handed out by rows */
	bool started;             /* data reading has begun */
};

/* Read n bytes unless the source ends first; returns the bytes read, or -1. */
static long read_full(struct xf_npy_reader *r, void *buf, size_t n, struct xf_err *err)
{
	size_t have = 0;

	while (have < n) {
		long got = r->read(r->ctx, (char *)buf + have, n - have, err);

		if (got < 0)
			return -1;
		if (got == 0)
			break;
		assert((size_t)got <= n - have);
		have += (size_t)got;
	}
	return (long)have;
}

/* Magic, version and header length; the length is bounded before anything is allocated. */
static int read_preamble(struct xf_npy_reader *r, int *version, uint32_t *hlen, struct xf_err *err)
{
	unsigned char pre[12];
	size_t len_bytes;
	long got = read_full(r, pre, 8, err);

	if (got < 0)
		return -1;
	if (got == 0)
		return xf_err_set(err, XF_E_FORMAT, "empty input, not a .npy file");
	if (memcmp(pre, npy_magic, got < MAGIC_LEN ? (size_t)got : MAGIC_LEN))
		return xf_err_set(err, XF_E_FORMAT, "not a .npy file (bad magic)");
	if (got < 8)
		return xf_err_set(err, XF_E_FORMAT, "truncated header (%ld bytes)", got);
	if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
		return xf_err_set(err, XF_E_FORMAT, "unsupported .npy format version %u.%u", pre[6], pre[7]);
	*version = pre[6];
	len_bytes = pre[6] == 1 ? 2 : 4;
	got = read_full(r, pre + 8, len_bytes, err);
	if (got < 0)
		return -1;
	if ((size_t)got < len_bytes)
		return xf_err_set(err, XF_E_FORMAT, "truncated header (%ld bytes)", 8 + got);
	*hlen = pre[8] | (uint32_t)pre[9] << 8;
	if (len_bytes == 4)
		*hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
	if (*hlen > XF_NPY_MAX_HEADER)
		return xf_err_set(err, XF_E_LIMIT, "header of %lu bytes is above the limit of %d",
				  (unsigned long)*hlen, XF_NPY_MAX_HEADER);
	return 0;
}

/*
 * The header's sizes are untrusted: check the products of the whole shape and of the row
 * shape (a 0-row array may still declare huge rows) before anything depends on them.
 */
static int check_layout(struct xf_npy_reader *r, struct xf_err *err)
{
	struct xf_npy_info *in = &r->info;
	bool str = in->dtype == XF_DTYPE_STR;
	enum xf_dtype count_as = str ? XF_DTYPE_U8 : in->dtype;
	size_t per = str ? in->item_size : 1, total, row;
	char s[200];

	if (str && in->ndim != 1)
		return xf_err_set(err, XF_E_FORMAT, "string arrays must be 1-D, this one has shape %s",
				  xf_shape_str(in->ndim, in->shape, s, sizeof(s)));
	if (xf_shape_bytes(count_as, in->ndim, in->shape, SIZE_MAX / per, &total, err) < 0 ||
	    xf_shape_bytes(count_as, in->ndim ? in->ndim - 1 : 0, in->shape + 1, SIZE_MAX / per, &row,
			   err) < 0)
		return -1;
	in->data_bytes = (uint64_t)total * per;
	if (in->data_bytes > r->limit)
		return xf_err_set(err, XF_E_LIMIT, "shape %s needs %llu bytes, above the limit of %llu",
				  xf_shape_str(in->ndim, in->shape, s, sizeof(s)),
				  (unsigned long long)in->data_bytes, (unsigned long long)r->limit);
	r->row_bytes = row * per;
	r->n_rows = in->ndim ? in->shape[0] : 1;
	if (r->row_bytes == 0 && r->n_rows > XF_NPY_MAX_EMPTY_ROWS)
		return xf_err_set(err, XF_E_LIMIT, "%lld rows of 0 bytes (at most %lld)", (long long)r->n_rows,
				  (long long)XF_NPY_MAX_EMPTY_ROWS);
	r->whole = in->ndim == 0 || (in->fortran_order && in->ndim >= 2);
	return 0;
}

static int read_header(struct xf_npy_reader *r, struct xf_err *err)
{
	uint32_t hlen = 0;
	int version = 0, rc;
	char *text;
	long got;

	if (read_preamble(r, &version, &hlen, err) < 0)
		return -1;
	text = malloc(hlen ? hlen : 1);
	if (!text)
		return xf_err_nomem(err, hlen);
	got = read_full(r, text, hlen, err);
	if (got >= 0 && (size_t)got < hlen)
		rc = xf_err_set(err, XF_E_FORMAT, "truncated header: declares %lu bytes, input ends after %ld",
				(unsigned long)hlen, got);
	else
		rc = got < 0 ? -1 : xf_npy_parse_header(text, hlen, &r->info, err);
	free(text);
	if (rc < 0)
		return -1;
	r->info.version = version;
	r->info.data_offset = (version == 1 ? 10 : 12) + (uint64_t)hlen;
	return check_layout(r, err);
}

/* Takes ownership of where (freed on failure too). */
static struct xf_npy_reader *open_reader(xf_read_fn read, void *ctx, char *where, uint64_t limit,
					 struct xf_err *err)
{
	struct xf_npy_reader *r = calloc(1, sizeof(*r));

	if (!r || !where) {
		free(r);
		free(where);
		xf_err_nomem(err, sizeof(*r));
		return NULL;
	}
	r->read = read, r->ctx = ctx, r->where = where, r->limit = limit;
	xf_tensor_init(&r->held);
	if (read_header(r, err) < 0) {
		xf_err_prefix(err, "%s", where);
		xf_npy_reader_close(r);
		return NULL;
	}
	return r;
}

struct xf_npy_reader *xf_npy_reader_open(xf_read_fn read, void *ctx, const char *name,
					 struct xf_err *err)
{
	return open_reader(read, ctx, dup_printf("'%s'", name), UINT64_MAX, err);
}

const struct xf_npy_info *xf_npy_reader_info(const struct xf_npy_reader *r)
{
	return &r->info;
}

void xf_npy_reader_close(struct xf_npy_reader *r)
{
	if (!r)
		return;
	xf_tensor_release(&r->held);
	free(r->where);
	free(r);
}

/* Make buf (a U8 tensor holding `have` bytes) bigger: double it, up to want. */
static int grow(struct xf_tensor *buf, size_t have, size_t want, struct xf_err *err)
{
	struct xf_tensor bigger;
	size_t cap = (size_t)buf->shape[0];
	int64_t n = (int64_t)(cap > want / 2 ? want : cap * 2);

	if (xf_tensor_alloc(&bigger, XF_DTYPE_U8, 1, &n, err) < 0)
		return -1;
	memcpy(bigger.data, buf->data, have);
	xf_tensor_release(buf);
	*buf = bigger;
	return 0;
}

/*
 * Read want data bytes into a new U8 tensor buf. It starts at GROW_START and doubles as bytes
 * arrive, so memory follows the data really present, not what the header claims.
 * *got < want means the source ended early.
 */
static int read_bytes(struct xf_npy_reader *r, size_t want, struct xf_tensor *buf, size_t *got,
		      struct xf_err *err)
{
	int64_t cap = (int64_t)(want < GROW_START ? want : GROW_START);
	size_t have = 0;

	if (xf_tensor_alloc(buf, XF_DTYPE_U8, 1, &cap, err) < 0)
		return -1;
	while (have < want) {
		size_t room;
		long n;

		if (have == (size_t)buf->shape[0] && grow(buf, have, want, err) < 0)
			goto fail;
		room = (size_t)buf->shape[0] - have;
		n = r->read(r->ctx, (char *)buf->data + have, room < MAX_IO ? room : MAX_IO, err);
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		assert((size_t)n <= room);
		have += (size_t)n;
	}
	*got = have;
	return 0;
fail:
	xf_tensor_release(buf);
	return -1;
}

static int truncated(const struct xf_npy_reader *r, uint64_t have, struct xf_err *err)
{
	if (r->whole || r->row_bytes == 0)
		return xf_err_set(err, XF_E_FORMAT, "truncated: header declares %llu data bytes, "
				  "data ends after %llu", (unsigned long long)r->info.data_bytes,
				  (unsigned long long)have);
	return xf_err_set(err, XF_E_FORMAT, "truncated: header declares %lld rows of %zu bytes, "
			  "data ends after %lld rows", (long long)r->n_rows, r->row_bytes,
			  (long long)(r->rows_done + (int64_t)(have / r->row_bytes)));
}

/* Native byte order, and booleans as 0/1 whatever byte the writer used for true. */
static void fix_elements(const struct xf_npy_info *in, void *data, int64_t count)
{
	unsigned char *b = data;

	if (in->byte_order == '>')
		xf_byteswap(data, count, in->item_size);
	if (in->dtype == XF_DTYPE_BOOL)
		for (int64_t i = 0; i < count; i++)
			b[i] = b[i] != 0;
}

/* Give the bytes in buf (a U8 tensor) the array's dtype and shape; the storage stays. */
static void retype(struct xf_tensor *buf, const struct xf_npy_info *in, int64_t rows)
{
	buf->dtype = in->dtype;
	buf->ndim = in->ndim;
	memcpy(buf->shape, in->shape, sizeof(buf->shape));
	if (in->ndim)
		buf->shape[0] = rows;
	xf_tensor_set_contiguous_strides(buf);
}

static size_t trimmed_units(const unsigned char *e, size_t n_units, size_t unit)
{
	static const unsigned char zero[4];

	while (n_units > 0 && !memcmp(e + (n_units - 1) * unit, zero, unit))
		n_units--;
	return n_units;
}

/*
 * The UTF-8 form of string element e (trailing NULs stripped, as numpy does) into out, or
 * only its length when out is NULL; -1 if it holds a NUL or invalid UTF-32 / UTF-8.
 */
static long element_utf8(const struct xf_npy_info *in, const unsigned char *e, char *out)
{
	bool wide = in->kind == 'U';
	size_t unit = wide ? 4 : 1, n = trimmed_units(e, in->item_size / unit, unit), len = 0;
	uint32_t cp;

	for (size_t i = 0, used = 1; i < n; i += used) {
		if (wide)
			cp = load_u32(e + 4 * i, in->byte_order == '>');
		else if (!(used = utf8_next(e + i, n - i, &cp)))
			return -1;
		if (cp == 0 || !valid_cp(cp))
			return -1;
		len += utf8_put(cp, out ? out + len : NULL);
	}
	return (long)len;
}

/* n string elements at raw (the first is element `first` of the array) into a STR tensor. */
static int decode_strings(const struct xf_npy_info *in, const unsigned char *raw, int64_t n,
			  int64_t first, struct xf_tensor *out, struct xf_err *err)
{
	size_t total = 0;
	char *text;
	long len;

	for (int64_t i = 0; i < n; i++) {
		len = element_utf8(in, raw + (size_t)i * in->item_size, NULL);
		if (len < 0)
			return xf_err_set(err, XF_E_FORMAT, "string %lld holds a NUL or is not valid %s",
					  (long long)(first + i), in->kind == 'U' ? "UTF-32" : "UTF-8");
		total += (size_t)len + 1;
	}
	if (xf_tensor_alloc_str(out, n, total, &text, err) < 0)
		return -1;
	for (int64_t i = 0; i < n; i++) {
		len = element_utf8(in, raw + (size_t)i * in->item_size, text);
		((char **)out->data)[i] = text;
		text[len] = '\0';
		text += len + 1;
	}
	return 0;
}

/* The next `rows` rows as a tensor; string rows are decoded here. */
static int read_chunk(struct xf_npy_reader *r, int64_t rows, struct xf_tensor *out,
		      struct xf_err *err)
{
	struct xf_tensor raw;
	size_t want = (size_t)rows * r->row_bytes, got;
	int rc;

	if (read_bytes(r, want, &raw, &got, err) < 0)
		return -1;
	if (got < want) {
		xf_tensor_release(&raw);
		return truncated(r, got, err);
	}
	if (r->info.dtype == XF_DTYPE_STR) {
		rc = decode_strings(&r->info, raw.data, rows, r->rows_done, out, err);
		xf_tensor_release(&raw);
		return rc;
	}
	fix_elements(&r->info, raw.data, (int64_t)(want / r->info.item_size));
	retype(&raw, &r->info, rows);
	*out = raw;
	return 0;
}

/* A 0-d array, or a Fortran-order one transposed to C order through a strided view. */
static int read_whole(struct xf_npy_reader *r, struct xf_tensor *out, struct xf_err *err)
{
	struct xf_tensor raw, view;
	size_t want = (size_t)r->info.data_bytes, got;
	int64_t s = 1;
	int rc;

	if (read_bytes(r, want, &raw, &got, err) < 0)
		return -1;
	if (got < want) {
		xf_tensor_release(&raw);
		return truncated(r, got, err);
	}
	fix_elements(&r->info, raw.data, (int64_t)(want / r->info.item_size));
	retype(&raw, &r->info, r->n_rows);
	if (!r->info.fortran_order || r->info.ndim < 2) {
		*out = raw;
		return 0;
	}
	view = raw;
	view.owner = NULL;
	for (int i = 0; i < view.ndim; i++) {
		view.stride[i] = s;
		s *= view.shape[i];
	}
	rc = xf_tensor_copy(&view, out, err);
	xf_tensor_release(&raw);
	return rc;
}

/*
 * Rows of an array that had to be read whole (Fortran order, 0-d): read it on the first call,
 * then copy out the rows asked for, so callers see the same batches as for any other array.
 */
static int next_held(struct xf_npy_reader *r, int64_t rows, struct xf_tensor *out, struct xf_err *err)
{
	struct xf_tensor view;

	if (!r->held.owner && read_whole(r, &r->held, err) < 0)
		return -1;
	if (r->info.ndim == 0 || (r->rows_done == 0 && rows == r->n_rows)) {
		*out = r->held;
		xf_tensor_init(&r->held);
		return 0;
	}
	xf_tensor_rows(&r->held, r->rows_done, r->rows_done + rows, &view);
	if (xf_tensor_copy(&view, out, err) < 0)
		return -1;
	if (r->rows_done + rows == r->n_rows)
		xf_tensor_release(&r->held);
	return 0;
}

int64_t xf_npy_read_rows(struct xf_npy_reader *r, int64_t max_rows, struct xf_tensor *out,
			 struct xf_err *err)
{
	int64_t rows = r->n_rows - r->rows_done;
	int rc;

	xf_tensor_init(out);
	if (max_rows <= 0)
		return xf_err_set(err, XF_E_USAGE, "%s: max_rows must be positive, not %lld", r->where,
				  (long long)max_rows);
	r->started = true;
	if (rows == 0)
		return 0;
	if (rows > max_rows)
		rows = max_rows;
	rc = r->whole ? next_held(r, rows, out, err) : read_chunk(r, rows, out, err);
	if (rc < 0)
		return xf_err_prefix(err, "%s", r->where);
	r->rows_done += rows;
	return rows;
}

int xf_npy_read_all(struct xf_npy_reader *r, struct xf_tensor *out, struct xf_err *err)
{
	int rc;

	xf_tensor_init(out);
	if (r->started)
		return xf_err_set(err, XF_E_USAGE, "%s: read_all after reading started", r->where);
	r->started = true;
	rc = r->whole ? read_whole(r, out, err) : read_chunk(r, r->n_rows, out, err);
	if (rc < 0)
		return xf_err_prefix(err, "%s", r->where);
	r->rows_done = r->n_rows;
	return 0;
}

static long fd_read(void *ctx, void *buf, size_t n, struct xf_err *err)
{
	int fd = *(int *)ctx;

	for (;;) {
		ssize_t got = read(fd, buf, n < MAX_IO ? n : MAX_IO);

		if (got >= 0)
			return (long)got;
		if (errno != EINTR)
			return xf_err_set(err, XF_E_IO, "read error: %s", strerror(errno));
	}
}

/* A regular file's size is known: refuse a truncated one before allocating anything. */
static int check_file_size(const struct xf_npy_reader *r, int fd, struct xf_err *err)
{
	struct stat st;
	uint64_t size, avail;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	size = (uint64_t)st.st_size;
	avail = size > r->info.data_offset ? size - r->info.data_offset : 0;
	if (avail >= r->info.data_bytes)
		return 0;
	truncated(r, avail, err);
	return xf_err_prefix(err, "%s", r->where);
}

int xf_npy_load_file(const char *path, struct xf_tensor *out, struct xf_err *err)
{
	struct xf_npy_reader *r;
	int fd, rc = -1;

	xf_tensor_init(out);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return xf_err_set(err, XF_E_IO, "cannot open '%s': %s", path, strerror(errno));
	r = xf_npy_reader_open(fd_read, &fd, path, err);
	if (r && check_file_size(r, fd, err) == 0)
		rc = xf_npy_read_all(r, out, err);
	xf_npy_reader_close(r);
	close(fd);
	return rc;
}

/* ---- header writing ---- */

/* numpy's descr for a dtype we write; bf16 goes out as its raw bits, numpy having no bfloat16. */
static const char *write_descr(enum xf_dtype dtype)
{
	if ((unsigned)dtype >= XF_DTYPE_COUNT || dtype == XF_DTYPE_STR)
		return NULL;
	return dtype == XF_DTYPE_BF16 ? "<u2" : xf_dtype_name(dtype);
}

static int digits(int64_t v)
{
	int n = 1;

	while (v >= 10)
		v /= 10, n++;
	return n;
}

/* The shape as Python's repr of a tuple: "()", "(5,)", "(5, 3)". */
static void shape_repr(int ndim, const int64_t *shape, char *buf, size_t size)
{
	size_t len = (size_t)snprintf(buf, size, "(");

	for (int i = 0; i < ndim; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? ", " : "",
					(long long)shape[i]);
	snprintf(buf + len, size - len, ndim == 1 ? ",)" : ")");
}

/*
 * Preamble, dict and padding exactly as numpy's _write_array_header lays them out: sorted
 * keys, GROWTH_DIGITS of room for shape[0], then spaces and '\n' to a multiple of 64 (a
 * full 64 more when the text ends on a boundary, as numpy's formula gives).
 */
static int format_header(const char *descr, int ndim, const int64_t *shape, char *buf, size_t size,
			 size_t *len, struct xf_err *err)
{
	char tuple[8 * 22 + 8], dict[sizeof(tuple) + 96];
	size_t n, total;

	if (ndim < 0 || ndim > XF_MAX_DIMS)
		return xf_err_set(err, XF_E_USAGE, "%d dimensions (at most %d)", ndim, XF_MAX_DIMS);
	for (int i = 0; i < ndim; i++)
		if (shape[i] < 0)
			return xf_err_set(err, XF_E_USAGE, "negative dimension %lld", (long long)shape[i]);
	shape_repr(ndim, shape, tuple, sizeof(tuple));
	n = (size_t)snprintf(dict, sizeof(dict), "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
			     descr, tuple);
	if (n >= sizeof(dict))
		return xf_err_set(err, XF_E_USAGE, "descr '%s' is too long", descr);
	if (ndim > 0)
		n += (size_t)(GROWTH_DIGITS - digits(shape[0]));
	total = 10 + n + 1;
	total += HEADER_ALIGN - total % HEADER_ALIGN;
	if (total > size)
		return xf_err_set(err, XF_E_USAGE, "the header needs %zu bytes, the buffer has %zu", total, size);
	memcpy(buf, npy_magic, MAGIC_LEN);
	buf[6] = 1, buf[7] = 0;
	buf[8] = (char)((total - 10) & 0xff), buf[9] = (char)((total - 10) >> 8);
	memset(buf + 10, ' ', total - 11);
	memcpy(buf + 10, dict, strlen(dict));
	buf[total - 1] = '\n';
	*len = total;
	return 0;
}

int xf_npy_header(enum xf_dtype dtype, int ndim, const int64_t *shape, char *buf, size_t size,
		  size_t *len, struct xf_err *err)
{
	const char *descr = write_descr(dtype);

	if (!descr)
		return xf_err_set(err, XF_E_USAGE, "dtype %s has no fixed .npy descr", xf_dtype_name(dtype));
	return format_header(descr, ndim, shape, buf, size, len, err);
}

/* ---- data output, shared by the .npy and .npz writers ---- */

/* A destination for bytes: put() writes all n or fails with err filled. */
struct sink {
	int (*put)(void *ctx, const void *buf, size_t n, struct xf_err *err);
	void *ctx;
};

/* write() until done, restarting on EINTR (git's write_in_full); -1 with errno set. */
static int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n < MAX_IO ? n : MAX_IO);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		p += w, n -= (size_t)w;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t n, off_t at)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		p += w, n -= (size_t)w, at += w;
	}
	return 0;
}

static int write_error(const char *where, struct xf_err *err)
{
	int e = errno;

	return xf_err_set(err, e == EPIPE ? XF_E_PIPE : XF_E_IO, "%s: write error: %s", where, strerror(e));
}

/* Longest string of a STR tensor in code points, at least 1 (numpy's '<U1' for empty strings). */
static int str_width(const struct xf_tensor *t, size_t *width, struct xf_err *err)
{
	char *const *s = t->data;

	for (int64_t i = 0; i < t->shape[0]; i++) {
		int64_t n = utf8_count(s[i * t->stride[0]]);

		if (n < 0)
			return xf_err_set(err, XF_E_FORMAT, "string %lld is not valid UTF-8", (long long)i);
		if (n > XF_NPY_MAX_STR_CHARS)
			return xf_err_set(err, XF_E_LIMIT, "string %lld has more than %d characters",
					  (long long)i, XF_NPY_MAX_STR_CHARS);
		if ((size_t)n > *width)
			*width = (size_t)n;
	}
	return 0;
}

/* t's strings as width-character UTF-32LE elements, IO_CHUNK bytes at a time. */
static int put_strings(const struct xf_tensor *t, size_t width, const struct sink *sk,
		       struct xf_err *err)
{
	char *const *s = t->data;
	size_t item = width * 4, per = IO_CHUNK / item ? IO_CHUNK / item : 1;
	unsigned char *buf = malloc(per * item);
	int64_t i = 0;

	if (!buf)
		return xf_err_nomem(err, per * item);
	while (i < t->shape[0]) {
		size_t k;

		for (k = 0; k < per && i < t->shape[0]; k++, i++)
			utf32_store(s[i * t->stride[0]], width, buf + k * item);
		if (sk->put(sk->ctx, buf, k * item, err) < 0) {
			free(buf);
			return -1;
		}
	}
	free(buf);
	return 0;
}

/* t's data in C order (strings as UTF-32LE of the given width). */
static int put_tensor(const struct xf_tensor *t, size_t width, const struct sink *sk,
		      struct xf_err *err)
{
	struct xf_tensor tmp = XF_TENSOR_INIT;
	const struct xf_tensor *c = t;
	int rc;

	if (t->dtype == XF_DTYPE_STR)
		return put_strings(t, width, sk, err);
	if (!xf_tensor_is_contiguous(t)) {
		if (xf_tensor_copy(t, &tmp, err) < 0)
			return -1;
		c = &tmp;
	}
	rc = sk->put(sk->ctx, c->data, xf_tensor_bytes(c), err);
	xf_tensor_release(&tmp);
	return rc;
}

/* ---- .npy writer ---- */

enum write_mode {
	MODE_STREAM,   /* the header is final: rows go straight to the fd */
	MODE_PATCH,    /* provisional header at `start`, rewritten at close */
	MODE_BUFFER,   /* a pipe with an unknown row count: data kept in memory until close */
	MODE_STRINGS,  /* STR: batches kept until close, when the longest string is known */
};

struct xf_npy_writer {
	int fd;                      /* output; the caller's to close */
	char *where;                 /* "'name'", for messages */
	enum write_mode mode;        /* see above */
	enum xf_dtype dtype;         /* of every batch */
	int ndim;                    /* of every batch */
	int64_t shape[XF_MAX_DIMS];  /* shape[1:] is the row shape */
	int64_t declared;            /* rows promised at open (1 for 0-d), -1 if unknown */
	int64_t rows;                /* rows written so far (writes, for 0-d) */
	off_t start;                 /* offset of the header, for MODE_PATCH */
	unsigned char *mem;          /* MODE_BUFFER data */
	size_t mem_len, mem_cap;     /* bytes used and allocated in mem */
	struct xf_tensor *strs;      /* MODE_STRINGS: copies of the batches */
	size_t n_strs, cap_strs;     /* entries used and allocated in strs */
	bool failed;                 /* a write failed: close only frees */
};

static int fd_put(void *ctx, const void *buf, size_t n, struct xf_err *err)
{
	struct xf_npy_writer *w = ctx;

	return write_full(w->fd, buf, n) < 0 ? write_error(w->where, err) : 0;
}

static int mem_put(void *ctx, const void *buf, size_t n, struct xf_err *err)
{
	struct xf_npy_writer *w = ctx;

	if (n > SIZE_MAX / 2 - w->mem_len)
		return xf_err_set(err, XF_E_LIMIT, "%s: more data than memory can hold", w->where);
	if (w->mem_len + n > w->mem_cap) {
		size_t cap = w->mem_cap ? w->mem_cap : GROW_START;
		unsigned char *p;

		while (cap < w->mem_len + n)
			cap *= 2;
		p = realloc(w->mem, cap);
		if (!p)
			return xf_err_nomem(err, cap);
		w->mem = p, w->mem_cap = cap;
	}
	memcpy(w->mem + w->mem_len, buf, n);
	w->mem_len += n;
	return 0;
}

/* Whether the header can be rewritten later: a seekable fd not in append mode. */
static bool seekable(int fd, off_t *pos)
{
	int flags = fcntl(fd, F_GETFL);

	*pos = lseek(fd, 0, SEEK_CUR);
	return *pos >= 0 && flags >= 0 && !(flags & O_APPEND);
}

static int check_writer_args(enum xf_dtype dtype, int ndim, const int64_t *shape, struct xf_err *err)
{
	size_t row;

	if ((unsigned)dtype >= XF_DTYPE_COUNT)
		return xf_err_set(err, XF_E_USAGE, "unknown dtype %d", (int)dtype);
	if (ndim < 0 || ndim > XF_MAX_DIMS)
		return xf_err_set(err, XF_E_USAGE, "%d dimensions (at most %d)", ndim, XF_MAX_DIMS);
	if (dtype == XF_DTYPE_STR && ndim != 1)
		return xf_err_set(err, XF_E_USAGE, "string arrays must be 1-D, not %d-D", ndim);
	if (ndim > 0 && shape[0] < -1)
		return xf_err_set(err, XF_E_USAGE, "row count %lld", (long long)shape[0]);
	return ndim > 1 ? xf_shape_bytes(dtype, ndim - 1, shape + 1, SIZE_MAX / 2, &row, err) : 0;
}

/* Header for the rows counted so far (descr given for strings) to the fd, at `at` or appended. */
static int put_header(struct xf_npy_writer *w, const char *descr, bool at_start, struct xf_err *err)
{
	char buf[XF_NPY_HEADER_SIZE];
	size_t len;
	int rc;

	if (w->ndim)
		w->shape[0] = w->rows;
	if (format_header(descr ? descr : write_descr(w->dtype), w->ndim, w->shape, buf, sizeof(buf),
			  &len, err) < 0)
		return xf_err_prefix(err, "%s", w->where);
	rc = at_start ? pwrite_full(w->fd, buf, len, w->start) : write_full(w->fd, buf, len);
	return rc < 0 ? write_error(w->where, err) : 0;
}

static void free_writer(struct xf_npy_writer *w)
{
	for (size_t i = 0; i < w->n_strs; i++)
		xf_tensor_release(&w->strs[i]);
	free(w->strs);
	free(w->mem);
	free(w->where);
	free(w);
}

struct xf_npy_writer *xf_npy_writer_open(int fd, const char *name, enum xf_dtype dtype, int ndim,
					 const int64_t *shape, struct xf_err *err)
{
	struct xf_npy_writer *w;

	if (check_writer_args(dtype, ndim, shape, err) < 0)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->where = dup_printf("'%s'", name))) {
		free(w);
		xf_err_nomem(err, sizeof(*w));
		return NULL;
	}
	w->fd = fd, w->dtype = dtype, w->ndim = ndim;
	if (ndim)
		memcpy(w->shape, shape, (size_t)ndim * sizeof(*shape));
	w->declared = ndim ? shape[0] : 1;
	if (dtype == XF_DTYPE_STR)
		w->mode = MODE_STRINGS;
	else if (w->declared >= 0)
		w->mode = MODE_STREAM;
	else
		w->mode = seekable(fd, &w->start) ? MODE_PATCH : MODE_BUFFER;
	if (w->mode == MODE_STREAM || w->mode == MODE_PATCH) {
		w->rows = w->declared > 0 ? w->declared : 0;
		if (put_header(w, NULL, false, err) < 0) {
			free_writer(w);
			return NULL;
		}
		w->rows = 0;
	}
	return w;
}

/* A batch must match the writer's dtype and row shape, and not exceed a declared count. */
static int check_batch(const struct xf_npy_writer *w, const struct xf_tensor *t, struct xf_err *err)
{
	int64_t rows = w->ndim ? t->shape[0] : 1;
	char a[200], b[200];

	if (t->dtype != w->dtype)
		return xf_err_set(err, XF_E_USAGE, "%s: batch of %s, the array is %s", w->where,
				  xf_dtype_name(t->dtype), xf_dtype_name(w->dtype));
	if (t->ndim != w->ndim || (w->ndim > 1 && memcmp(t->shape + 1, w->shape + 1,
							 (size_t)(w->ndim - 1) * sizeof(int64_t))))
		return xf_err_set(err, XF_E_USAGE, "%s: batch of shape %s does not fit rows of %s",
				  w->where, xf_shape_str(t->ndim, t->shape, a, sizeof(a)),
				  xf_shape_str(w->ndim, w->shape, b, sizeof(b)));
	if (rows < 0 || rows > INT64_MAX - w->rows || (w->declared >= 0 && w->rows + rows > w->declared))
		return xf_err_set(err, XF_E_USAGE, "%s: more rows than the %lld declared", w->where,
				  (long long)w->declared);
	return 0;
}

static int keep_strings(struct xf_npy_writer *w, const struct xf_tensor *t, struct xf_err *err)
{
	if (w->n_strs == w->cap_strs) {
		size_t cap = w->cap_strs ? 2 * w->cap_strs : 8;
		struct xf_tensor *p = realloc(w->strs, cap * sizeof(*p));

		if (!p)
			return xf_err_nomem(err, cap * sizeof(*p));
		w->strs = p, w->cap_strs = cap;
	}
	if (xf_tensor_copy(t, &w->strs[w->n_strs], err) < 0)
		return -1;
	w->n_strs++;
	return 0;
}

int xf_npy_writer_write(struct xf_npy_writer *w, const struct xf_tensor *t, struct xf_err *err)
{
	struct sink sk = { w->mode == MODE_BUFFER ? mem_put : fd_put, w };
	int rc;

	if (w->failed)
		return xf_err_set(err, XF_E_USAGE, "%s: write after an earlier error", w->where);
	if (check_batch(w, t, err) < 0)
		return -1;
	rc = w->mode == MODE_STRINGS ? keep_strings(w, t, err) : put_tensor(t, 0, &sk, err);
	if (rc < 0) {
		w->failed = true;
		return -1;
	}
	w->rows += w->ndim ? t->shape[0] : 1;
	return 0;
}

static int flush_strings(struct xf_npy_writer *w, struct xf_err *err)
{
	struct sink sk = { fd_put, w };
	size_t width = 1;
	char descr[32];

	for (size_t i = 0; i < w->n_strs; i++)
		if (str_width(&w->strs[i], &width, err) < 0)
			return xf_err_prefix(err, "%s: batch %zu", w->where, i);
	snprintf(descr, sizeof(descr), "<U%zu", width);
	if (put_header(w, descr, false, err) < 0)
		return -1;
	for (size_t i = 0; i < w->n_strs; i++)
		if (put_strings(&w->strs[i], width, &sk, err) < 0)
			return -1;
	return 0;
}

static int finish(struct xf_npy_writer *w, struct xf_err *err)
{
	if (w->declared >= 0 && w->rows != w->declared)
		return xf_err_set(err, XF_E_USAGE, "%s: %lld rows declared, %lld written", w->where,
				  (long long)w->declared, (long long)w->rows);
	switch (w->mode) {
	case MODE_PATCH:
		return put_header(w, NULL, true, err);
	case MODE_BUFFER:
		if (put_header(w, NULL, false, err) < 0)
			return -1;
		return fd_put(w, w->mem, w->mem_len, err);
	case MODE_STRINGS:
		return flush_strings(w, err);
	default:
		return 0;
	}
}

int xf_npy_writer_close(struct xf_npy_writer *w, struct xf_err *err)
{
	int rc;

	if (!w)
		return 0;
	if (w->failed)
		rc = xf_err_set(err, XF_E_IO, "%s: not finished after an earlier error", w->where);
	else
		rc = finish(w, err);
	free_writer(w);
	return rc;
}

void xf_npy_writer_abort(struct xf_npy_writer *w)
{
	if (w)
		free_writer(w);
}

int xf_npy_save_file(const char *path, const struct xf_tensor *t, struct xf_err *err)
{
	struct xf_npy_writer *w;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return xf_err_set(err, XF_E_IO, "cannot create '%s': %s", path, strerror(errno));
	w = xf_npy_writer_open(fd, path, t->dtype, t->ndim, t->shape, err);
	if (w && xf_npy_writer_write(w, t, err) < 0)
		xf_npy_writer_abort(w);
	else if (w)
		rc = xf_npy_writer_close(w, err);
	if (close(fd) < 0 && rc == 0)
		rc = xf_err_set(err, XF_E_IO, "'%s': close: %s", path, strerror(errno));
	return rc;
}

/* ---- .npz reader ---- */

/* libarchive's complaint as an xf_err: its errno when it is a system error, else a format error. */
static int archive_fail(struct archive *a, struct xf_err *err)
{
	int e = archive_errno(a);
	const char *msg = archive_error_string(a);
	int code = e == ENOMEM ? XF_E_NOMEM : e > 0 && e != EILSEQ && e != EINVAL ? XF_E_IO : XF_E_FORMAT;

	return xf_err_set(err, code, "%s", msg ? msg : "zip error");
}

static long archive_source(void *ctx, void *buf, size_t n, struct xf_err *err)
{
	la_ssize_t got = archive_read_data(ctx, buf, n);

	return got < 0 ? archive_fail(ctx, err) : (long)got;
}

/* Read the rest of the member (data past the array, if any), so libarchive checks its CRC. */
static int drain_member(struct archive *a, struct xf_err *err)
{
	char buf[IO_CHUNK / 8];
	la_ssize_t got;

	while ((got = archive_read_data(a, buf, sizeof(buf))) > 0)
		;
	return got < 0 ? archive_fail(a, err) : 0;
}

static bool is_array_member(struct archive_entry *e, const char *path, size_t len)
{
	mode_t type = archive_entry_filetype(e);

	return (type == AE_IFREG || type == 0) && len >= 4 && !strcmp(path + len - 4, ".npy");
}

/* One member: 'NAME.npy' is read and handed to fn (returns 1); others are skipped (0). */
static int read_member(struct archive *a, struct archive_entry *e, const char *zipname,
		       xf_npz_array_fn fn, void *ctx, struct xf_err *err)
{
	const char *path = archive_entry_pathname_utf8(e);
	struct xf_npy_reader *r;
	struct xf_tensor t;
	size_t len;
	char *name;
	int rc;

	if (!path && !(path = archive_entry_pathname(e)))
		return xf_err_set(err, XF_E_FORMAT, "'%s': a member has an unreadable name", zipname);
	len = strlen(path);
	if (!is_array_member(e, path, len))
		return 0;
	if (archive_entry_size_is_set(e) &&
	    (uint64_t)archive_entry_size(e) > XF_NPZ_MAX_MEMBER + XF_NPY_MAX_HEADER + 12)
		return xf_err_set(err, XF_E_LIMIT, "'%s' member '%s': %lld bytes, above the limit of %llu",
				  zipname, path, (long long)archive_entry_size(e),
				  (unsigned long long)XF_NPZ_MAX_MEMBER);
	r = open_reader(archive_source, a, dup_printf("'%s' member '%s'", zipname, path),
			XF_NPZ_MAX_MEMBER, err);
	if (!r)
		return -1;
	rc = xf_npy_read_all(r, &t, err);
	if (rc == 0 && drain_member(a, err) < 0) {
		rc = xf_err_prefix(err, "%s", r->where);
		xf_tensor_release(&t);
	}
	xf_npy_reader_close(r);
	if (rc < 0)
		return -1;
	name = strndup(path, len - 4);
	if (!name) {
		xf_tensor_release(&t);
		return xf_err_nomem(err, len);
	}
	rc = fn(ctx, name, &t, err);
	free(name);
	return rc < 0 ? -1 : 1;
}

int xf_npz_read_fd(int fd, const char *name, xf_npz_array_fn fn, void *ctx, struct xf_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int count = 0, rc, got;

	if (!a)
		return xf_err_nomem(err, 0);
	archive_read_support_format_zip(a);
	if (archive_read_open_fd(a, fd, IO_CHUNK) != ARCHIVE_OK)
		goto archive_error;
	while ((rc = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
			goto archive_error;
		if ((got = read_member(a, e, name, fn, ctx, err)) < 0) {
			count = -1;
			break;
		}
		count += got;
	}
	archive_read_free(a);
	return count;
archive_error:
	archive_fail(a, err);
	xf_err_prefix(err, "'%s'", name);
	archive_read_free(a);
	return -1;
}

int xf_npz_read(const char *path, xf_npz_array_fn fn, void *ctx, struct xf_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return xf_err_set(err, XF_E_IO, "cannot open '%s': %s", path, strerror(errno));
	rc = xf_npz_read_fd(fd, path, fn, ctx, err);
	close(fd);
	return rc;
}

/* ---- .npz writer ---- */

struct xf_npz_writer {
	struct archive *a;  /* libarchive zip writer */
	int fd;             /* output */
	bool own_fd;        /* opened by xf_npz_writer_open: closed at close */
	char *where;        /* "'out.npz'", for messages */
	int write_errno;    /* errno of a failed write, 0 if none */
	bool failed;        /* an add failed; close only frees */
};

static la_ssize_t zip_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct xf_npz_writer *w = ctx;

	if (write_full(w->fd, buf, n) < 0) {
		w->write_errno = errno;
		archive_set_error(a, errno, "write error: %s", strerror(errno));
		return -1;
	}
	return (la_ssize_t)n;
}

static int zip_fail(struct xf_npz_writer *w, struct xf_err *err)
{
	const char *msg = archive_error_string(w->a);

	w->failed = true;
	if (w->write_errno)
		return xf_err_set(err, w->write_errno == EPIPE ? XF_E_PIPE : XF_E_IO, "%s: write error: %s",
				  w->where, strerror(w->write_errno));
	return xf_err_set(err, XF_E_IO, "%s: %s", w->where, msg ? msg : "zip writer failed");
}

/* archive_write_data may take less than offered; loop, and never spin on a 0. */
static int zip_put(void *ctx, const void *buf, size_t n, struct xf_err *err)
{
	struct xf_npz_writer *w = ctx;
	const char *p = buf;

	while (n > 0) {
		la_ssize_t got = archive_write_data(w->a, p, n < MAX_IO ? n : MAX_IO);

		if (got <= 0)
			return zip_fail(w, err);
		p += got, n -= (size_t)got;
	}
	return 0;
}

static void free_npz_writer(struct xf_npz_writer *w)
{
	if (w->a)
		archive_write_free(w->a);
	free(w->where);
	free(w);
}

struct xf_npz_writer *xf_npz_writer_open_fd(int fd, const char *name, int flags, struct xf_err *err)
{
	struct xf_npz_writer *w = calloc(1, sizeof(*w));
	const char *method = flags & XF_NPZ_DEFLATE ? "deflate" : "store";

	if (!w || !(w->where = dup_printf("'%s'", name)) || !(w->a = archive_write_new())) {
		if (w)
			free_npz_writer(w);
		xf_err_nomem(err, sizeof(*w));
		return NULL;
	}
	w->fd = fd;
	if (archive_write_set_format_zip(w->a) != ARCHIVE_OK ||
	    archive_write_set_format_option(w->a, "zip", "compression", method) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, zip_write, NULL, NULL) != ARCHIVE_OK) {
		zip_fail(w, err);
		free_npz_writer(w);
		return NULL;
	}
	return w;
}

struct xf_npz_writer *xf_npz_writer_open(const char *path, int flags, struct xf_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	struct xf_npz_writer *w;

	if (fd < 0) {
		xf_err_set(err, XF_E_IO, "cannot create '%s': %s", path, strerror(errno));
		return NULL;
	}
	w = xf_npz_writer_open_fd(fd, path, flags, err);
	if (!w)
		close(fd);
	else
		w->own_fd = true;
	return w;
}

/* The member's header into buf, its data size into *data_bytes, the string width into *width. */
static int member_header(const struct xf_tensor *t, char *buf, size_t size, size_t *len,
			 uint64_t *data_bytes, size_t *width, struct xf_err *err)
{
	char descr[32];
	size_t bytes;

	*width = 1;
	if (t->dtype == XF_DTYPE_STR) {
		if (t->ndim != 1)
			return xf_err_set(err, XF_E_USAGE, "string arrays must be 1-D, not %d-D", t->ndim);
		if (str_width(t, width, err) < 0)
			return -1;
		snprintf(descr, sizeof(descr), "<U%zu", *width);
		*data_bytes = (uint64_t)t->shape[0] * *width * 4;
		return format_header(descr, t->ndim, t->shape, buf, size, len, err);
	}
	if (xf_shape_bytes(t->dtype, t->ndim, t->shape, SIZE_MAX / 2, &bytes, err) < 0)
		return -1;
	*data_bytes = bytes;
	return xf_npy_header(t->dtype, t->ndim, t->shape, buf, size, len, err);
}

static int add_member(struct xf_npz_writer *w, struct archive_entry *e, const struct xf_tensor *t,
		      struct xf_err *err)
{
	char header[XF_NPY_HEADER_SIZE];
	struct sink sk = { zip_put, w };
	uint64_t data_bytes = 0;
	size_t len = 0, width = 1;

	if (member_header(t, header, sizeof(header), &len, &data_bytes, &width, err) < 0)
		return -1;
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, NPZ_MTIME, 0);
	archive_entry_set_size(e, (la_int64_t)(len + data_bytes));
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		return zip_fail(w, err);
	if (zip_put(w, header, len, err) < 0 || put_tensor(t, width, &sk, err) < 0) {
		w->failed = true;
		return -1;
	}
	return archive_write_finish_entry(w->a) != ARCHIVE_OK ? zip_fail(w, err) : 0;
}

int xf_npz_writer_add(struct xf_npz_writer *w, const char *name, const struct xf_tensor *t,
		      struct xf_err *err)
{
	struct archive_entry *e;
	char *path;
	int rc;

	if (w->failed)
		return xf_err_set(err, XF_E_USAGE, "%s: add after an earlier error", w->where);
	if (!*name)
		return xf_err_set(err, XF_E_USAGE, "%s: an array needs a name", w->where);
	path = dup_printf("%s.npy", name);
	e = archive_entry_new();
	if (!path || !e) {
		free(path);
		archive_entry_free(e);
		return xf_err_nomem(err, strlen(name));
	}
	archive_entry_set_pathname_utf8(e, path);
	rc = add_member(w, e, t, err);
	if (rc < 0 && !w->failed)
		xf_err_prefix(err, "%s member '%s'", w->where, path);
	archive_entry_free(e);
	free(path);
	return rc;
}

int xf_npz_writer_close(struct xf_npz_writer *w, struct xf_err *err)
{
	int rc = 0;

	if (!w)
		return 0;
	if (w->failed)
		rc = xf_err_set(err, XF_E_IO, "%s: not finished after an earlier error", w->where);
	else if (archive_write_close(w->a) != ARCHIVE_OK)
		rc = zip_fail(w, err);
	if (w->own_fd && close(w->fd) < 0 && rc == 0)
		rc = xf_err_set(err, XF_E_IO, "%s: close: %s", w->where, strerror(errno));
	free_npz_writer(w);
	return rc;
}
