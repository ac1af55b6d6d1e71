/*
 * fuzz.h: what the libFuzzer targets share. Parsers that take a path (they stat, pread, mmap or
 * reopen their input) get the input as a memory file named /proc/self/fd/N; programs' writers
 * get a sink that discards everything.
 */
#ifndef XF_FUZZ_H
#define XF_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as the only content of one memory file, reused across runs; its path in path. */
static inline void fuzz_file(const uint8_t *data, size_t size, char path[32])
{
	static int fd = -1;

	if (fd < 0 && (fd = memfd_create("fuzz", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	snprintf(path, 32, "/proc/self/fd/%d", fd);
}

static inline int fuzz_discard(void *ctx, const void *buf, size_t n, struct xf_err *err)
{
	(void)ctx, (void)buf, (void)n, (void)err;
	return 0;
}

/* A stream writer whose bytes go nowhere; free both with fuzz_writer_free. */
static inline struct xf_writer *fuzz_writer(struct xf_sink **sink)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_writer *w;

	*sink = xf_sink_callback(fuzz_discard, NULL, "fuzz", NULL, &err);
	w = *sink ? xf_writer_new(*sink, &err) : NULL;
	if (!w)
		abort();
	return w;
}

static inline void fuzz_writer_free(struct xf_writer *w, struct xf_sink *sink)
{
	xf_writer_free(w);
	xf_sink_abort(sink);
}

#endif
