/*
 * Unit tests for the stream layer: mpscan, writer -> reader round trips through memory
 * (plain and zstd), every truncation, malformed frames, write failures injected at every
 * byte, row selection and whole-field reading.
 */
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "mp.h"
#include "mpscan.h"
#include "select.h"
#include "tap.h"
#include "writer.h"

struct membuf {
	unsigned char *p;
	size_t len, cap;
	size_t fail_after;   /* writes beyond this many bytes fail (SIZE_MAX: never) */
};

static int mem_write(void *ctx, const void *buf, size_t n, struct xf_err *err)
{
	struct membuf *m = ctx;

	if (m->len + n > m->fail_after)
		return xf_err_set(err, XF_E_IO, "injected write failure");
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return 0;
}

static void test_mpscan(void)
{
	/* {"a": [1, 2.5, "xy"]} = 81 a1 61 93 01 cb <8 bytes> a2 78 79 */
	static const unsigned char obj[] = { 0x81, 0xa1, 0x61, 0x93, 0x01, 0xcb, 0x40, 0x04, 0, 0, 0, 0, 0, 0, 0xa2, 0x78, 0x79 };
	static const unsigned char bad[] = { 0x91, 0xc1 }, big[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	unsigned char deep[40];
	struct xf_mpscan s;
	size_t need = 0, len;
	const char *why;
	int rc = XF_MPSCAN_MORE;

	xf_mpscan_init(&s);
	is_int(xf_mpscan_feed(&s, obj, sizeof(obj), 1 << 20, &need, &why), XF_MPSCAN_DONE, "a whole object is DONE");
	is_int(s.pos, sizeof(obj), "its size is found");
	xf_mpscan_init(&s);
	for (len = 1; len <= sizeof(obj) && (rc = xf_mpscan_feed(&s, obj, len, 1 << 20, &need, &why)) == XF_MPSCAN_MORE; len++)
		ok(need > len - 1 && need <= sizeof(obj), "fed %zu bytes: needs %zu", len, need);
	ok(rc == XF_MPSCAN_DONE && len == sizeof(obj), "fed byte by byte, DONE at the last byte");
	xf_mpscan_init(&s);
	is_int(xf_mpscan_feed(&s, bad, 2, 100, &need, &why), XF_MPSCAN_BAD, "0xc1 is BAD");
	xf_mpscan_init(&s);
	is_int(xf_mpscan_feed(&s, big, 5, 1 << 20, &need, &why), XF_MPSCAN_LIMIT, "an array of 2^32 items is over the limit at once");
	memset(deep, 0x91, sizeof(deep));
	xf_mpscan_init(&s);
	is_int(xf_mpscan_feed(&s, deep, sizeof(deep), 1 << 20, &need, &why), XF_MPSCAN_LIMIT, "nesting 40 deep is over the limit");
}

static void make_header(struct xf_header *h)
{
	int64_t two = 2;
	struct xf_err err = XF_ERR_INIT;
	char *names[] = { "cat", "dog" };

	*h = (struct xf_header)XF_HEADER_INIT;
	h->meta = json_pack("{s:s}", "note", "keep me");
	xf_header_add_field(h, "x", XF_DTYPE_F32, 1, &two, &err);
	xf_header_add_field(h, "y", XF_DTYPE_I64, 0, NULL, &err);
	xf_header_add_field(h, "id", XF_DTYPE_STR, 0, NULL, &err);
	xf_header_set_classes(h, 2, names, &err);
}

/* n rows: x = [i, -i], y = i % 2, id = "r<i>"; written in calls of `step` rows. */
static int write_rows(struct xf_writer *w, int64_t n, int64_t step, struct xf_err *err)
{
	for (int64_t at = 0; at < n; at += step) {
		int64_t k = n - at < step ? n - at : step, shape[2] = { k, 2 };
		struct xf_tensor cols[3];
		char *text;
		int rc;

		xf_tensor_alloc(&cols[0], XF_DTYPE_F32, 2, shape, err);
		xf_tensor_alloc(&cols[1], XF_DTYPE_I64, 1, shape, err);
		xf_tensor_alloc_str(&cols[2], k, (size_t)k * 24, &text, err);
		for (int64_t i = 0; i < k; i++) {
			((float *)cols[0].data)[2 * i] = (float)(at + i);
			((float *)cols[0].data)[2 * i + 1] = (float)-(at + i);
			((int64_t *)cols[1].data)[i] = (at + i) % 2;
			((char **)cols[2].data)[i] = text;
			text += sprintf(text, "r%lld", (long long)(at + i)) + 1;
		}
		rc = xf_writer_rows(w, k, cols, err);
		for (int c = 0; c < 3; c++)
			xf_tensor_release(&cols[c]);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* A stream of `segments` samples segments of n rows each, in small batches. */
static int make_stream(struct membuf *m, int segments, int64_t n, int zstd, struct xf_err *err)
{
	struct xf_sink_opts opts = { zstd, 1 };
	struct xf_sink *sink = xf_sink_callback(mem_write, m, "mem", &opts, err);
	struct xf_writer *w = sink ? xf_writer_new(sink, err) : NULL;
	struct xf_header h;
	int rc = w ? 0 : -1;

	make_header(&h);
	if (w)
		xf_writer_set_batch_bytes(w, 100);
	for (int s = 0; s < segments && rc == 0; s++) {
		rc = xf_writer_begin(w, &h, err);
		rc = rc ? rc : write_rows(w, n, 7, err);
		rc = rc ? rc : xf_writer_end(w, err);
	}
	xf_writer_free(w);
	if (sink && rc == 0)
		rc = xf_sink_close(sink, err);
	else
		xf_sink_abort(sink);
	xf_header_release(&h);
	return rc;
}

/* Read a stream from memory: returns frames read, or -1; counts batches and rows. */
static int read_all(const struct membuf *m, size_t len, int64_t *batches, int64_t *rows, struct xf_err *err)
{
	struct xf_source *src = xf_source_memory(m->p, len, "mem", err);
	struct xf_reader *r = xf_reader_from_source(src, err);
	struct xf_frame f;
	int64_t seg = 0; /* rows so far in the segment: values restart with each */
	int rc, frames = 0;

	*batches = *rows = 0;
	while ((rc = xf_reader_next(r, &f, err)) > 0) {
		frames++;
		seg = f.type == XF_FRAME_HEADER ? 0 : seg;
		if (f.type == XF_FRAME_BATCH) {
			(*batches)++;
			for (int64_t i = 0; i < f.n_rows; i++)
				if (((float *)f.cols[0].data)[2 * i] != (float)(seg + i) ||
				    ((int64_t *)f.cols[1].data)[i] != (seg + i) % 2)
					rc = xf_err_set(err, XF_E_FORMAT, "row %lld has wrong values", (long long)(seg + i));
			*rows += f.n_rows;
			seg += f.n_rows;
		}
		xf_frame_release(&f);
		if (rc < 0)
			break;
	}
	xf_reader_close(r);
	return rc < 0 ? -1 : frames;
}

static void test_round_trip(void)
{
	struct membuf m = { NULL, 0, 0, SIZE_MAX };
	struct xf_err err = XF_ERR_INIT;
	int64_t batches, rows;

	ok(make_stream(&m, 1, 50, 0, &err) == 0, "write 50 rows in calls of 7 with 100-byte batches");
	is_int(read_all(&m, m.len, &batches, &rows, &err), 2 + batches, "read back: header, batches, end");
	is_int(rows, 50, "50 rows");
	ok(batches >= 10, "rows were re-batched into small frames (%lld)", (long long)batches);
	free(m.p);
	m = (struct membuf){ NULL, 0, 0, SIZE_MAX };
	ok(make_stream(&m, 2, 20, 5, &err) == 0, "write two segments with zstd level 5");
	ok(m.len > 4 && m.p[0] == 0x28 && m.p[3] == 0xfd, "output starts with the zstd magic");
	ok(read_all(&m, m.len, &batches, &rows, &err) > 0 && rows == 40, "zstd stream reads back 40 rows");
	free(m.p);
}

static void test_truncation(void)
{
	struct membuf m = { NULL, 0, 0, SIZE_MAX };
	struct xf_err err = XF_ERR_INIT;
	int64_t batches, rows;
	int wrong = 0;

	make_stream(&m, 1, 12, 0, &err);
	for (size_t cut = 1; cut < m.len; cut++) {
		err = (struct xf_err)XF_ERR_INIT;
		if (read_all(&m, cut, &batches, &rows, &err) >= 0 || err.code != XF_E_FORMAT || !strstr(err.msg, "mem: "))
			wrong++;
	}
	is_int(wrong, 0, "every cut of a segment fails with a located format error");
	ok(read_all(&m, 0, &batches, &rows, &err) == 0, "empty input is an empty stream at this level");
	free(m.p);
}

static void test_write_failures(void)
{
	struct membuf good = { NULL, 0, 0, SIZE_MAX };
	struct xf_err err = XF_ERR_INIT;
	int silent = 0;

	make_stream(&good, 1, 30, 0, &err);
	for (size_t k = 0; k < good.len; k += 3) {
		struct membuf m = { NULL, 0, 0, k };

		err = (struct xf_err)XF_ERR_INIT;
		if (make_stream(&m, 1, 30, 0, &err) == 0 || err.code != XF_E_IO)
			silent++;
		free(m.p);
	}
	is_int(silent, 0, "a sink failing after any byte makes the writer fail with XF_E_IO");
	free(good.p);
}

/* Frames made by hand with msgpack-c, to reach the reader's checks one by one. */
static int read_frames(const char *const *json_frames, int n, struct xf_err *err)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct membuf m;
	int64_t b, r;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int i = 0; i < n; i++) {
		json_t *j = json_loads(json_frames[i], 0, NULL);

		xf_mp_pack_json(&pk, j);
		json_decref(j);
	}
	m = (struct membuf){ (unsigned char *)sb.data, sb.size, sb.size, SIZE_MAX };
	rc = read_all(&m, m.len, &b, &r, err);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void test_malformed(void)
{
#define HEAD "{\"t\":\"header\",\"xfer\":1,\"kind\":\"samples\",\"fields\":{\"id\":{\"dtype\":\"str\",\"shape\":[]}},\"meta\":{}}"
	static const struct { const char *frames[3]; const char *want; } cases[] = {
		{ { "{\"t\":\"end\",\"rows\":0}" }, "expected a header" },
		{ { "{\"t\":\"header\",\"xfer\":3,\"kind\":\"samples\",\"fields\":{},\"meta\":{}}" }, "newer" },
		{ { "{\"t\":\"header\",\"xfer\":1,\"kind\":\"frames\",\"fields\":{},\"meta\":{}}" }, "kind" },
		{ { "{\"t\":\"header\",\"xfer\":1,\"kind\":\"samples\",\"fields\":{\"x\":{\"dtype\":\"<c8\",\"shape\":[]}},\"meta\":{}}" }, "dtype" },
		{ { HEAD, "{\"t\":\"end\",\"rows\":3}" }, "counts 3 rows" },
		{ { HEAD, "{\"t\":\"batch\",\"n\":2,\"cols\":{\"id\":[\"a\"]}}" }, "array of 2 str" },
		{ { HEAD, "{\"t\":\"batch\",\"n\":1,\"cols\":{\"id\":[\"a\"],\"z\":[\"b\"]}}" }, "declared fields" },
		{ { HEAD, "{\"t\":\"frobnicate\"}" }, "unknown frame type" },
		{ { HEAD, HEAD }, "end frame is missing" },
		{ { HEAD, "{\"t\":\"tensor\",\"name\":\"id\"}" }, "tensor frame in a samples segment" },
	};
	struct xf_err err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = cases[i].frames[2] ? 3 : cases[i].frames[1] ? 2 : 1;

		err = (struct xf_err)XF_ERR_INIT;
		ok(read_frames(cases[i].frames, n, &err) < 0 && strstr(err.msg, cases[i].want),
		   "malformed case %zu: \"%s\" (%s)", i, cases[i].want, err.msg);
	}
}

static void test_select(void)
{
	struct xf_rowsel s;
	struct xf_err err = XF_ERR_INIT;
	int64_t from, total = 0, idx, cnt;

	ok(xf_rowsel_parse("3:8", &s, &err) == 0 && s.begin == 3 && s.end == 8, "parse 3:8");
	is_int(xf_rowsel_take(&s, 5, &from), 2, "rows 3,4 of the first batch of 5");
	is_int(from, 3, "starting at 3");
	is_int(xf_rowsel_take(&s, 5, &from), 3, "rows 5..7 of the second");
	is_int(from, 0, "starting at its row 0");
	ok(xf_rowsel_done(&s), "done after row 7");
	ok(xf_rowsel_parse("5", &s, &err) == 0 && s.end == 6, "a single row");
	ok(xf_rowsel_parse("8:3", &s, &err) < 0 && xf_rowsel_parse("-1:", &s, &err) < 0 &&
	   xf_rowsel_parse("1:x", &s, &err) < 0, "bad ranges refused");
	ok(xf_shard_parse("2/5", &idx, &cnt, &err) == 0 && idx == 2 && cnt == 5, "parse 2/5");
	ok(xf_shard_parse("5/5", &idx, &cnt, &err) < 0 && xf_shard_parse("0/0", &idx, &cnt, &err) < 0, "bad shards refused");
	for (int i = 0; i < 5; i++) {
		xf_shard_range(i, 5, 13, &s);
		ok(s.end - s.begin == 2 || s.end - s.begin == 3, "shard %d of 13 rows has 2 or 3", i);
		ok(s.begin == total, "shard %d starts where the last ended", i);
		total = s.end;
	}
	is_int(total, 13, "shards cover all 13 rows");
	xf_shard_range(3, 4, INT64_MAX, &s);
	is_int(s.end, INT64_MAX, "the last shard of INT64_MAX rows ends there (no overflow)");
}

static void test_read_fields(void)
{
	struct membuf m = { NULL, 0, 0, SIZE_MAX };
	struct xf_err err = XF_ERR_INIT;
	const char *names[] = { "y", "x", "id" };
	enum xf_dtype dtypes[] = { XF_DTYPE_F64, XF_DTYPE_COUNT, XF_DTYPE_COUNT };
	struct xf_tensor out[3];
	struct xf_reader *r;

	make_stream(&m, 2, 9, 0, &err);
	r = xf_reader_from_source(xf_source_memory(m.p, m.len, "mem", &err), &err);
	ok(xf_read_fields(r, 3, names, dtypes, out, &err) == 0, "read y, x, id of two segments");
	ok(out[0].dtype == XF_DTYPE_F64 && out[0].shape[0] == 18 && ((double *)out[0].data)[9] == 0.0 &&
	   ((double *)out[0].data)[10] == 1.0, "y as f64: 18 rows, the second segment restarts");
	ok(out[1].ndim == 2 && out[1].shape[1] == 2 && ((float *)out[1].data)[2 * 17 + 1] == -8.0f, "x stacked");
	is_str(((char **)out[2].data)[17], "r8", "ids stacked");
	for (int i = 0; i < 3; i++)
		xf_tensor_release(&out[i]);
	xf_reader_close(r);
	names[0] = "nope";
	r = xf_reader_from_source(xf_source_memory(m.p, m.len, "mem", &err), &err);
	ok(xf_read_fields(r, 1, names, NULL, out, &err) < 0 && strstr(err.msg, "no field \"nope\""),
	   "a missing field is named");
	xf_reader_close(r);
	free(m.p);
}

int main(void)
{
	test_mpscan();
	test_round_trip();
	test_truncation();
	test_write_failures();
	test_malformed();
	test_select();
	test_read_fields();
	return done_testing();
}
