/*
 * safetensors: the .safetensors reader and writer; the contract is in safetensors.h, the
 * format at https://huggingface.co/docs/safetensors. The header is untrusted input: every
 * size and offset in it is checked against the file's real size before anything is
 * allocated or read on its say-so.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "safetensors.h"

#define METADATA_KEY "__metadata__"

/* The format's dtype names; all data is little-endian. */
static const struct { const char *name; enum xf_dtype dtype; } st_dtypes[] = {
	{ "F64", XF_DTYPE_F64 }, { "F32", XF_DTYPE_F32 }, { "F16", XF_DTYPE_F16 },
	{ "BF16", XF_DTYPE_BF16 }, { "I64", XF_DTYPE_I64 }, { "I32", XF_DTYPE_I32 },
	{ "I16", XF_DTYPE_I16 }, { "I8", XF_DTYPE_I8 }, { "U64", XF_DTYPE_U64 },
	{ "U32", XF_DTYPE_U32 }, { "U16", XF_DTYPE_U16 }, { "U8", XF_DTYPE_U8 },
	{ "BOOL", XF_DTYPE_BOOL },
};

/* Valid in the format but with no xf dtype: named in the error rather than called unknown. */
static const char *const unsupported_dtypes[] = {
	"F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
};

struct entry {
	const char *name;            /* key in xf_safetensors.header, borrowed */
	enum xf_dtype dtype;         /* element type */
	int ndim;                    /* number of dimensions, 0..XF_MAX_DIMS */
	int64_t shape[XF_MAX_DIMS];  /* extent of each dimension */
	uint64_t begin, end;         /* data_offsets: byte range relative to the data area */
};

struct xf_safetensors {
	int fd;                  /* open read-only; read with pread, so no file position state */
	char *path;              /* for messages */
	uint64_t data_start;     /* file offset of the data area: 8 + header length */
	uint64_t data_size;      /* bytes from data_start to the end of the file, at open */
	json_t *header;          /* the parsed header; owns the names and the metadata */
	json_t *metadata;        /* "__metadata__" inside header, or NULL */
	int n_entries;           /* tensors, "__metadata__" excluded */
	struct entry *entries;   /* sorted by data_offsets */
};

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* safetensors data is little-endian; only a big-endian host has anything to swap. */
static void swap_if_big_endian(struct xf_tensor *t)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	xf_byteswap(t->data, xf_tensor_count(t), xf_dtype_size(t->dtype));
#else
	(void)t;
#endif
}

static bool host_is_little_endian(void)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return false;
#else
	return true;
#endif
}

/* Read exactly len bytes at off; hitting the end of the file is a format error (truncation). */
static int pread_full(int fd, void *buf, size_t len, uint64_t off, struct xf_err *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return xf_err_set(err, XF_E_IO, "read error at byte %llu: %s",
					  (unsigned long long)(off + done), strerror(errno));
		if (r == 0)
			return xf_err_set(err, XF_E_FORMAT, "truncated: file ends at byte %llu, needed %zu bytes "
					  "from byte %llu", (unsigned long long)(off + done), len,
					  (unsigned long long)off);
		done += (size_t)r;
	}
	return 0;
}

/* pread needs random access, so pipes and terminals are refused up front. */
static int regular_file_size(int fd, uint64_t *out, struct xf_err *err)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return xf_err_set(err, XF_E_IO, "cannot stat: %s", strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return xf_err_set(err, XF_E_USAGE, "not a regular file (safetensors needs random access)");
	*out = (uint64_t)sb.st_size;
	return 0;
}

static int parse_json(struct xf_safetensors *st, const char *text, size_t len, struct xf_err *err)
{
	json_error_t jerr;

	st->header = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!st->header)
		return xf_err_set(err, XF_E_FORMAT, "header is not valid JSON: %s (line %d, column %d, byte %llu)",
				  jerr.text, jerr.line, jerr.column, 8ULL + (unsigned long long)jerr.position);
	if (!json_is_object(st->header))
		return xf_err_set(err, XF_E_FORMAT, "header is not a JSON object");
	return 0;
}

/* The length is checked against the limit and the file size before the header is allocated. */
static int read_header(struct xf_safetensors *st, struct xf_err *err)
{
	unsigned char len8[8];
	uint64_t file_size = 0, n;
	char *text;
	int rc;

	if (regular_file_size(st->fd, &file_size, err) < 0)
		return -1;
	if (file_size < 8)
		return xf_err_set(err, XF_E_FORMAT, "truncated: %llu bytes, too short for the 8-byte header length",
				  (unsigned long long)file_size);
	if (pread_full(st->fd, len8, 8, 0, err) < 0)
		return -1;
	n = get_le64(len8);
	if (n > XF_SAFETENSORS_MAX_HEADER)
		return xf_err_set(err, XF_E_LIMIT, "header length %llu is over the limit of %d bytes",
				  (unsigned long long)n, XF_SAFETENSORS_MAX_HEADER);
	if (n > file_size - 8)
		return xf_err_set(err, XF_E_FORMAT, "truncated: header length is %llu but only %llu bytes follow",
				  (unsigned long long)n, (unsigned long long)(file_size - 8));
	text = malloc(n ? n : 1);
	if (!text)
		return xf_err_nomem(err, n);
	rc = pread_full(st->fd, text, n, 8, err);
	if (rc == 0)
		rc = parse_json(st, text, n, err);
	free(text);
	st->data_start = 8 + n;
	st->data_size = file_size - 8 - n;
	return rc;
}

/* Names cannot contain NUL: jansson refuses "\u0000" in object keys. */
static int check_name(const char *name, struct xf_err *err)
{
	size_t len = strlen(name);

	if (len == 0)
		return xf_err_set(err, XF_E_FORMAT, "empty tensor name");
	if (len > XF_SAFETENSORS_MAX_NAME)
		return xf_err_set(err, XF_E_LIMIT, "tensor name '%.40s...' is %zu bytes (at most %d)", name, len,
				  XF_SAFETENSORS_MAX_NAME);
	return 0;
}

static int parse_dtype(const json_t *v, enum xf_dtype *out, struct xf_err *err)
{
	const char *s = json_string_value(v);

	if (!s)
		return xf_err_set(err, XF_E_FORMAT, "dtype is missing or not a string");
	for (size_t i = 0; i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
		if (!strcmp(s, st_dtypes[i].name)) {
			*out = st_dtypes[i].dtype;
			return 0;
		}
	for (size_t i = 0; i < sizeof(unsupported_dtypes) / sizeof(unsupported_dtypes[0]); i++)
		if (!strcmp(s, unsupported_dtypes[i]))
			return xf_err_set(err, XF_E_FORMAT, "dtype %s is not supported (xfer has no such "
					  "element type)", s);
	return xf_err_set(err, XF_E_FORMAT, "unknown dtype '%.40s'", s);
}

static int parse_shape(const json_t *v, struct entry *e, struct xf_err *err)
{
	size_t ndim = json_array_size(v);

	if (!json_is_array(v))
		return xf_err_set(err, XF_E_FORMAT, "shape is missing or not an array");
	if (ndim > XF_MAX_DIMS)
		return xf_err_set(err, XF_E_LIMIT, "shape has %zu dimensions (at most %d)", ndim, XF_MAX_DIMS);
	for (size_t d = 0; d < ndim; d++) {
		const json_t *x = json_array_get(v, d);

		if (!json_is_integer(x) || json_integer_value(x) < 0)
			return xf_err_set(err, XF_E_FORMAT, "shape[%zu] is not a non-negative integer", d);
		e->shape[d] = json_integer_value(x);
	}
	e->ndim = (int)ndim;
	return 0;
}

/* The range must lie inside the data area, which is where a truncated file shows up. */
static int parse_offsets(const json_t *v, struct entry *e, uint64_t data_size, struct xf_err *err)
{
	const json_t *b = json_array_get(v, 0), *x = json_array_get(v, 1);

	if (json_array_size(v) != 2 || !json_is_integer(b) || !json_is_integer(x) ||
	    json_integer_value(b) < 0 || json_integer_value(x) < json_integer_value(b))
		return xf_err_set(err, XF_E_FORMAT, "data_offsets is not [begin, end] with 0 <= begin <= end");
	e->begin = (uint64_t)json_integer_value(b);
	e->end = (uint64_t)json_integer_value(x);
	if (e->end > data_size)
		return xf_err_set(err, XF_E_FORMAT, "data_offsets [%llu, %llu] run past the end of the data "
				  "(%llu bytes; truncated file?)", (unsigned long long)e->begin,
				  (unsigned long long)e->end, (unsigned long long)data_size);
	return 0;
}

static int check_size(const struct entry *e, struct xf_err *err)
{
	char s[160];
	size_t bytes;

	if (xf_shape_bytes(e->dtype, e->ndim, e->shape, SIZE_MAX / 2, &bytes, err) < 0)
		return -1;
	if (e->end - e->begin != bytes)
		return xf_err_set(err, XF_E_FORMAT, "data_offsets [%llu, %llu] hold %llu bytes, shape %s needs %zu",
				  (unsigned long long)e->begin, (unsigned long long)e->end,
				  (unsigned long long)(e->end - e->begin),
				  xf_shape_str(e->ndim, e->shape, s, sizeof(s)), bytes);
	return 0;
}

static int parse_entry(const char *name, const json_t *v, uint64_t data_size, struct entry *e,
		       struct xf_err *err)
{
	if (check_name(name, err) < 0)
		return -1;
	e->name = name;
	if (!json_is_object(v))
		return xf_err_set(err, XF_E_FORMAT, "tensor '%s': entry is not an object", name);
	if (parse_dtype(json_object_get(v, "dtype"), &e->dtype, err) < 0 ||
	    parse_shape(json_object_get(v, "shape"), e, err) < 0 ||
	    parse_offsets(json_object_get(v, "data_offsets"), e, data_size, err) < 0 ||
	    check_size(e, err) < 0)
		return xf_err_prefix(err, "tensor '%s'", name);
	return 0;
}

/* null is accepted as "no metadata", as the reference implementation's Option does. */
static int parse_metadata(json_t *v, json_t **out, struct xf_err *err)
{
	const char *key;
	json_t *value;

	if (json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return xf_err_set(err, XF_E_FORMAT, METADATA_KEY " is not an object");
	json_object_foreach(v, key, value)
		if (!json_is_string(value))
			return xf_err_set(err, XF_E_FORMAT, METADATA_KEY " '%.80s' is not a string", key);
	*out = v;
	return 0;
}

/* Order by data_offsets; the name breaks ties between empty tensors so the order is stable. */
static int compare_entries(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;

	if (a->begin != b->begin)
		return a->begin < b->begin ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int parse_entries(struct xf_safetensors *st, struct xf_err *err)
{
	size_t n = json_object_size(st->header);
	const char *key;
	json_t *value;

	st->entries = calloc(n ? n : 1, sizeof(*st->entries));
	if (!st->entries)
		return xf_err_nomem(err, n * sizeof(*st->entries));
	json_object_foreach(st->header, key, value) {
		if (!strcmp(key, METADATA_KEY)) {
			if (parse_metadata(value, &st->metadata, err) < 0)
				return -1;
			continue;
		}
		if (parse_entry(key, value, st->data_size, &st->entries[st->n_entries], err) < 0)
			return -1;
		st->n_entries++;
	}
	qsort(st->entries, (size_t)st->n_entries, sizeof(*st->entries), compare_entries);
	return 0;
}

/* Sorted by begin, two tensors overlap exactly when one begins before its predecessor ends. */
static int check_overlaps(const struct xf_safetensors *st, struct xf_err *err)
{
	for (int i = 1; i < st->n_entries; i++) {
		const struct entry *a = &st->entries[i - 1], *b = &st->entries[i];

		if (b->begin < a->end)
			return xf_err_set(err, XF_E_FORMAT, "tensors '%.100s' [%llu, %llu] and '%.100s' [%llu, %llu] "
					  "overlap", a->name, (unsigned long long)a->begin,
					  (unsigned long long)a->end, b->name, (unsigned long long)b->begin,
					  (unsigned long long)b->end);
	}
	return 0;
}

int xf_safetensors_open(const char *path, struct xf_safetensors **out, struct xf_err *err)
{
	struct xf_safetensors *st = calloc(1, sizeof(*st));

	*out = NULL;
	if (!st)
		return xf_err_nomem(err, sizeof(*st));
	st->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (st->fd < 0) {
		xf_err_set(err, XF_E_IO, "cannot open '%s': %s", path, strerror(errno));
		free(st);
		return -1;
	}
	st->path = strdup(path);
	if (!st->path) {
		xf_safetensors_close(st);
		return xf_err_nomem(err, strlen(path) + 1);
	}
	if (read_header(st, err) < 0 || parse_entries(st, err) < 0 || check_overlaps(st, err) < 0) {
		xf_err_prefix(err, "%s", path);
		xf_safetensors_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

int xf_safetensors_count(const struct xf_safetensors *st)
{
	return st->n_entries;
}

const char *xf_safetensors_name(const struct xf_safetensors *st, int i)
{
	assert(i >= 0 && i < st->n_entries);
	return st->entries[i].name;
}

void xf_safetensors_info(const struct xf_safetensors *st, int i, enum xf_dtype *dtype, int *ndim,
			 int64_t *shape)
{
	const struct entry *e;

	assert(i >= 0 && i < st->n_entries);
	e = &st->entries[i];
	if (dtype)
		*dtype = e->dtype;
	if (ndim)
		*ndim = e->ndim;
	if (shape)
		memcpy(shape, e->shape, (size_t)e->ndim * sizeof(*shape));
}

int xf_safetensors_find(const struct xf_safetensors *st, const char *name)
{
	for (int i = 0; i < st->n_entries; i++)
		if (!strcmp(st->entries[i].name, name))
			return i;
	return -1;
}

int xf_safetensors_read_into(struct xf_safetensors *st, int i, void *buf, struct xf_err *err)
{
	const struct entry *e;

	assert(i >= 0 && i < st->n_entries);
	e = &st->entries[i];
	if (pread_full(st->fd, buf, e->end - e->begin, st->data_start + e->begin, err) < 0)
		return xf_err_prefix(err, "%s: tensor '%s'", st->path, e->name);
	if (!host_is_little_endian()) {
		struct xf_tensor view = XF_TENSOR_INIT;

		view.dtype = e->dtype;
		view.ndim = e->ndim;
		memcpy(view.shape, e->shape, sizeof(view.shape));
		xf_tensor_set_contiguous_strides(&view);
		view.data = buf;
		swap_if_big_endian(&view);
	}
	return 0;
}

int xf_safetensors_map(struct xf_safetensors *st, int i, struct xf_safetensors_map *map, struct xf_err *err)
{
	const struct entry *e;
	uint64_t size, begin, page = (uint64_t)sysconf(_SC_PAGESIZE);
	void *addr;

	assert(i >= 0 && i < st->n_entries);
	e = &st->entries[i];
	*map = (struct xf_safetensors_map){ NULL, 0, NULL };
	if (e->end == e->begin)
		return 0;
	/* A file cut short since open would fault on access rather than fail a read: check first. */
	if (regular_file_size(st->fd, &size, err) < 0)
		return xf_err_prefix(err, "%s", st->path);
	if (size < st->data_start + e->end)
		return xf_err_set(err, XF_E_FORMAT, "%s: tensor '%s': truncated: the file has %llu bytes, needs %llu",
				  st->path, e->name, (unsigned long long)size,
				  (unsigned long long)(st->data_start + e->end));
	begin = (st->data_start + e->begin) / page * page;
	map->len = st->data_start + e->end - begin;
	addr = mmap(NULL, map->len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, st->fd, (off_t)begin);
	if (addr == MAP_FAILED) {
		map->len = 0;
		return xf_err_set(err, XF_E_IO, "%s: tensor '%s': cannot map: %s", st->path, e->name, strerror(errno));
	}
	/* Two calls: the advice values are an enumeration, not flags to combine. */
	madvise(addr, map->len, MADV_SEQUENTIAL);
	madvise(addr, map->len, MADV_WILLNEED);
	map->addr = addr;
	map->data = (const char *)addr + (st->data_start + e->begin - begin);
	return 0;
}

void xf_safetensors_unmap(struct xf_safetensors_map *map)
{
	if (map->addr)
		munmap(map->addr, map->len);
	*map = (struct xf_safetensors_map){ NULL, 0, NULL };
}

int xf_safetensors_read(struct xf_safetensors *st, int i, struct xf_tensor *out, struct xf_err *err)
{
	const struct entry *e;

	assert(i >= 0 && i < st->n_entries);
	e = &st->entries[i];
	if (xf_tensor_alloc(out, e->dtype, e->ndim, e->shape, err) < 0)
		return xf_err_prefix(err, "%s: tensor '%s'", st->path, e->name);
	if (pread_full(st->fd, out->data, e->end - e->begin, st->data_start + e->begin, err) < 0) {
		xf_tensor_release(out);
		return xf_err_prefix(err, "%s: tensor '%s'", st->path, e->name);
	}
	swap_if_big_endian(out);
	return 0;
}

json_t *xf_safetensors_metadata(const struct xf_safetensors *st)
{
	return st->metadata;
}

void xf_safetensors_close(struct xf_safetensors *st)
{
	if (!st)
		return;
	if (st->fd >= 0)
		close(st->fd);
	json_decref(st->header);
	free(st->entries);
	free(st->path);
	free(st);
}

/* Writer. */

static const char *st_dtype_name(enum xf_dtype dtype)
{
	for (size_t i = 0; i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
		if (st_dtypes[i].dtype == dtype)
			return st_dtypes[i].name;
	return NULL;
}

static int add_metadata(json_t *root, json_t *metadata, struct xf_err *err)
{
	const char *key;
	json_t *value;

	if (!json_is_object(metadata))
		return xf_err_set(err, XF_E_USAGE, "metadata is not a JSON object");
	json_object_foreach(metadata, key, value)
		if (!json_is_string(value))
			return xf_err_set(err, XF_E_USAGE, "metadata '%.80s' is not a string", key);
	if (json_object_set(root, METADATA_KEY, metadata) < 0)
		return xf_err_nomem(err, 0);
	return 0;
}

static json_t *shape_json(const struct xf_tensor *t)
{
	json_t *shape = json_array();

	for (int d = 0; shape && d < t->ndim; d++)
		if (json_array_append_new(shape, json_integer(t->shape[d])) < 0) {
			json_decref(shape);
			return NULL;
		}
	return shape;
}

static int check_writer_name(const json_t *root, const char *name, struct xf_err *err)
{
	size_t len = strlen(name);

	if (len == 0 || len > XF_SAFETENSORS_MAX_NAME || !strcmp(name, METADATA_KEY))
		return xf_err_set(err, XF_E_USAGE, "invalid tensor name '%.40s' (empty, over %d bytes, or "
				  METADATA_KEY ")", name, XF_SAFETENSORS_MAX_NAME);
	if (json_object_get(root, name))
		return xf_err_set(err, XF_E_USAGE, "duplicate tensor name '%s'", name);
	return 0;
}

/* Append name's entry to the header, its data following the previous tensor's at *offset. */
static int add_tensor(json_t *root, const char *name, const struct xf_tensor *t, uint64_t *offset,
		      struct xf_err *err)
{
	const char *dtype = st_dtype_name(t->dtype);
	json_t *entry;
	size_t bytes;

	if (check_writer_name(root, name, err) < 0)
		return -1;
	if (!dtype)
		return xf_err_set(err, XF_E_USAGE, "tensor '%s': dtype %s has no safetensors equivalent", name,
				  xf_dtype_name(t->dtype));
	if (xf_shape_bytes(t->dtype, t->ndim, t->shape, SIZE_MAX / 2, &bytes, err) < 0)
		return xf_err_prefix(err, "tensor '%s'", name);
	if (bytes > (uint64_t)INT64_MAX - *offset)
		return xf_err_set(err, XF_E_LIMIT, "tensor '%s': data past 2^63 bytes", name);
	entry = json_pack("{s:s, s:o, s:[I, I]}", "dtype", dtype, "shape", shape_json(t), "data_offsets",
			  (json_int_t)*offset, (json_int_t)(*offset + bytes));
	if (!entry)
		return xf_err_nomem(err, 0);
	if (json_object_set_new(root, name, entry) < 0)
		return xf_err_set(err, XF_E_USAGE, "tensor name '%.40s' is not valid UTF-8", name);
	*offset += bytes;
	return 0;
}

/* The 8-byte length and the header, padded with spaces to a multiple of 8 like the reference. */
static int dump_header(const json_t *root, unsigned char **out, size_t *len, struct xf_err *err)
{
	char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t n, padded;

	if (!text)
		return xf_err_nomem(err, 0);
	n = strlen(text);
	padded = (n + 7) / 8 * 8;
	if (padded > XF_SAFETENSORS_MAX_HEADER) {
		free(text);
		return xf_err_set(err, XF_E_LIMIT, "header of %zu bytes is over the limit of %d", padded,
				  XF_SAFETENSORS_MAX_HEADER);
	}
	*out = malloc(8 + padded);
	if (!*out) {
		free(text);
		return xf_err_nomem(err, 8 + padded);
	}
	put_le64(*out, padded);
	memcpy(*out + 8, text, n);
	memset(*out + 8 + n, ' ', padded - n);
	*len = 8 + padded;
	free(text);
	return 0;
}

static int build_header(int n, const char *const *names, const struct xf_tensor *tensors, json_t *metadata,
			unsigned char **out, size_t *len, struct xf_err *err)
{
	json_t *root = json_object();
	uint64_t offset = 0;
	int rc = 0;

	if (!root)
		return xf_err_nomem(err, 0);
	if (metadata)
		rc = add_metadata(root, metadata, err);
	for (int i = 0; i < n && rc == 0; i++)
		rc = add_tensor(root, names[i], &tensors[i], &offset, err);
	if (rc == 0)
		rc = dump_header(root, out, len, err);
	json_decref(root);
	return rc;
}

/* Strided views and big-endian hosts go through a contiguous little-endian copy. */
static int write_tensor(int fd, const struct xf_tensor *t, struct xf_err *err)
{
	struct xf_tensor tmp = XF_TENSOR_INIT;
	int rc;

	if (xf_tensor_is_contiguous(t) && host_is_little_endian())
		return xf_write_all(fd, t->data, xf_tensor_bytes(t), "safetensors output", err);
	if (xf_tensor_copy(t, &tmp, err) < 0)
		return -1;
	swap_if_big_endian(&tmp);
	rc = xf_write_all(fd, tmp.data, xf_tensor_bytes(&tmp), "safetensors output", err);
	xf_tensor_release(&tmp);
	return rc;
}

int xf_safetensors_write_header(int fd, int n, const char *const *names, const struct xf_tensor *specs,
				json_t *metadata, struct xf_err *err)
{
	unsigned char *header = NULL;
	size_t len = 0;
	int rc;

	if (n < 0)
		return xf_err_set(err, XF_E_USAGE, "negative tensor count %d", n);
	assert(n == 0 || (names && specs));
	if (build_header(n, names, specs, metadata, &header, &len, err) < 0)
		return -1;
	rc = xf_write_all(fd, header, len, "safetensors output", err);
	free(header);
	return rc;
}

int xf_safetensors_write_data(int fd, const char *name, const struct xf_tensor *t, struct xf_err *err)
{
	if (write_tensor(fd, t, err) < 0)
		return xf_err_prefix(err, "tensor '%s'", name);
	return 0;
}

int xf_safetensors_write(int fd, int n, const char *const *names, const struct xf_tensor *tensors,
			 json_t *metadata, struct xf_err *err)
{
	if (xf_safetensors_write_header(fd, n, names, tensors, metadata, err) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (xf_safetensors_write_data(fd, names[i], &tensors[i], err) < 0)
			return -1;
	return 0;
}
