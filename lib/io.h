/*
 * io: byte sources and sinks under the stream reader and writer. A source reads a file,
 * stdin or memory and decompresses zstd transparently (detected by its frame magic at the
 * start of input); a sink buffers writes, optionally compresses with zstd, and writes all
 * bytes or fails ("all or error": a short write is an error, EPIPE is XF_E_PIPE).
 */
#ifndef XF_IO_H
#define XF_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#ifndef XF_READ_FN_DEFINED
#define XF_READ_FN_DEFINED
/* Read up to n bytes: returns the count (short reads allowed), 0 at end of input, -1 on error. */
typedef long (*xf_read_fn)(void *ctx, void *buf, size_t n, struct xf_err *err);
#endif

/* Write all n bytes or fail: returns 0 or -1. */
typedef int (*xf_write_fn)(void *ctx, const void *buf, size_t n, struct xf_err *err);

struct xf_source;

/* Open a file, or stdin for "-"; name is used in messages ("<stdin>" for "-"). */
struct xf_source *xf_source_open(const char *path, struct xf_err *err);
/* A source over memory the caller keeps alive (tests, fuzzing). */
struct xf_source *xf_source_memory(const void *data, size_t size, const char *name, struct xf_err *err);
/* Read decompressed bytes; same contract as xf_read_fn. */
long xf_source_read(struct xf_source *s, void *buf, size_t n, struct xf_err *err);
/* An xf_read_fn over a source (ctx = the source), for parsers that take a callback. */
long xf_source_read_fn(void *source, void *buf, size_t n, struct xf_err *err);
const char *xf_source_name(const struct xf_source *s);
bool xf_source_is_zstd(const struct xf_source *s);
/* Start again from the beginning: works on regular files and memory, fails on pipes. */
int xf_source_rewind(struct xf_source *s, struct xf_err *err);
void xf_source_close(struct xf_source *s);

struct xf_sink;

struct xf_sink_opts {
	int zstd_level;   /* 0: no compression; 1..19 (or negative fast levels): zstd */
	int threads;      /* zstd worker threads (compressing alongside the caller); 0: in the calling thread */
};

/* A sink onto fd (not closed by the sink); name for messages. */
struct xf_sink *xf_sink_fd(int fd, const char *name, const struct xf_sink_opts *opts, struct xf_err *err);
/* A sink onto a write callback (tests inject failures with it). */
struct xf_sink *xf_sink_callback(xf_write_fn write, void *ctx, const char *name,
				 const struct xf_sink_opts *opts, struct xf_err *err);
int xf_sink_write(struct xf_sink *s, const void *buf, size_t n, struct xf_err *err);
/* Push buffered bytes down (ends a zstd block, not the frame). */
int xf_sink_flush(struct xf_sink *s, struct xf_err *err);
/* Finish (closes the zstd frame, flushes) and free; returns -1 if anything failed. */
int xf_sink_close(struct xf_sink *s, struct xf_err *err);
/* Free without finishing, after an error. */
void xf_sink_abort(struct xf_sink *s);
uint64_t xf_sink_bytes_in(const struct xf_sink *s);
/* Formatted text into a sink (a line of at most 1023 bytes); 0 or -1 as xf_sink_write. */
int xf_sink_printf(struct xf_sink *s, struct xf_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* write(2) all of buf, restarting on EINTR; EPIPE gives XF_E_PIPE. */
int xf_write_all(int fd, const void *buf, size_t n, const char *name, struct xf_err *err);
/* read(2) restarting on EINTR; returns count, 0 at EOF, -1 with err. */
long xf_read_some(int fd, void *buf, size_t n, const char *name, struct xf_err *err);

#endif
