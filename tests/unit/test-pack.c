/*
 * Unit tests for lib/pack_csv.c: CSV files packed into a stream in memory and read back, for
 * inputs the fuzzer (tests/fuzz/fuzz-csv.c) found mishandled: a table without labels (qsort
 * was handed NULL), and a wide table, whose blocks of 4096 rows were allocated (and zeroed)
 * before any row arrived: 16 GB for a header of a million columns.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pack.h"
#include "reader.h"
#include "scratch.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static char tmpdir[64];

/* Everything a writer writes. */
struct membuf {
	char *data;
	size_t len, cap;
};

static int mem_write(void *ctx, const void *buf, size_t n, struct xf_err *err)
{
	struct membuf *m = ctx;

	if (m->len + n > m->cap) {
		size_t cap = 2 * (m->len + n);
		char *p = realloc(m->data, cap);

		if (!p)
			return xf_err_nomem(err, cap);
		m->data = p, m->cap = cap;
	}
	memcpy(m->data + m->len, buf, n);
	m->len += n;
	return 0;
}

/* Writes text to a file in tmpdir and returns its path. */
static const char *put_file(const char *name, const char *text, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0)
		abort();
	return path;
}

/*
 * Pack the CSV at path (label column "y" when labels) into memory and read it back: the
 * rows, and the features per row (x's shape) in *width. -1 with the message printed on failure.
 */
static int64_t pack_csv(const char *path, bool labels, int64_t *width)
{
	struct xf_pack_csv_opts o = { labels ? "y" : NULL, NULL, 0 };
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct membuf m = { NULL, 0, 0 };
	struct xf_sink *sink = xf_sink_callback(mem_write, &m, "memory", NULL, &err);
	struct xf_writer *w = sink ? xf_writer_new(sink, &err) : NULL;
	struct xf_reader *r = NULL;
	struct xf_frame f = XF_FRAME_INIT;
	int64_t rows = 0;
	int rc = w ? xf_pack_csv(path, &o, &h, w, &err) : -1;

	if (rc == 0)
		rc = xf_sink_close(sink, &err);
	else
		xf_sink_abort(sink);
	xf_writer_free(w);
	xf_header_release(&h);
	if (rc == 0)
		r = xf_reader_from_source(xf_source_memory(m.data, m.len, "memory", &err), &err);
	while (r && (rc = xf_reader_next(r, &f, &err)) > 0) {
		if (f.type == XF_FRAME_BATCH)
			rows += f.n_rows;
		xf_frame_release(&f);
	}
	if (r)
		*width = xf_reader_header(r)->fields[0].shape[0];
	xf_reader_close(r);
	free(m.data);
	if (rc < 0 || !r) {
		printf("# %s\n", err.msg);
		return -1;
	}
	return rows;
}

static void test_without_labels(void)
{
	static const char csv[] = "a,b\n1,2\n3,4\n5,6\n";
	int64_t width = 0;

	is_int(pack_csv(put_file("plain.csv", csv, strlen(csv)), false, &width), 3, "a table without labels packs");
	is_int(width, 2, "its rows have 2 features");
	is_int(pack_csv(put_file("labels.csv", "a,y\n1,cat\n2,dog\n", 16), true, &width), 2,
	       "a table with named labels packs");
}

#ifndef UNDER_ASAN
/* Virtual memory in use, from /proc/self/statm, in bytes (0 when unknown). */
static uint64_t vm_size(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f && fscanf(f, "%llu", &pages) != 1)
		pages = 0;
	if (f)
		fclose(f);
	return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}
#endif

/*
 * Limit the address space to `extra` bytes above what the test uses already; true when the
 * limit is set (*old then restores it). Not under AddressSanitizer, which reserves memory in
 * ways a limit breaks.
 */
static bool limit_memory(rlim_t extra, struct rlimit *old)
{
#ifdef UNDER_ASAN
	(void)extra, (void)old;
	return false;
#else
	struct rlimit lim;

	if (getrlimit(RLIMIT_AS, old) < 0 || vm_size() == 0)
		return false;
	lim = *old;
	lim.rlim_cur = vm_size() + extra;
	return lim.rlim_cur < old->rlim_cur && setrlimit(RLIMIT_AS, &lim) == 0;
#endif
}

/* 100000 columns and 2 rows: 4096-row blocks took 1.6 GB; blocks now hold about a batch's bytes. */
static void test_wide_table(void)
{
	enum { COLS = 100000 };
	size_t len = 3 * (size_t)2 * COLS;
	char *csv = malloc(len), *p = csv;
	const char *path;
	struct rlimit old;
	int64_t width = 0, rows;
	bool limited;

	for (int line = 0; line < 3; line++)
		for (int c = 0; c < COLS; c++) {
			*p++ = line ? '0' + (char)((c + line) % 10) : 'f';
			*p++ = c + 1 < COLS ? ',' : '\n';
		}
	path = put_file("wide.csv", csv, len);
	limited = limit_memory((rlim_t)512 << 20, &old);
	rows = pack_csv(path, false, &width);
	if (limited)
		setrlimit(RLIMIT_AS, &old);
	else
		printf("# running without a memory limit\n");
	is_int(rows, 2, "a table of 100000 columns packs in 512 MB");
	is_int(width, COLS, "with 100000 features per row");
	free(csv);
}

int main(void)
{
	if (!scratch_make(tmpdir, sizeof(tmpdir), "test-pack"))
		return 99;
	test_without_labels();
	test_wide_table();
	scratch_remove(tmpdir);
	return done_testing();
}
