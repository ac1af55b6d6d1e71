/* io: byte sources (file, stdin, memory; zstd detected) and sinks (buffered, zstd); see io.h. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "io.h"

#define SINK_BUFFER (1u << 20)
#define PIPE_BYTES (1 << 20)
static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

struct xf_source {
	int fd;                     /* -1 for memory */
	bool own_fd;                /* close fd on close (not for stdin) */
	const unsigned char *mem;   /* memory source */
	size_t mem_size, mem_pos;
	char name[256];             /* for messages */
	bool detected;              /* the first bytes were examined for the zstd magic */
	unsigned char peek[4];      /* bytes read while detecting, served before the rest */
	size_t peek_len, peek_pos;
	ZSTD_DStream *zd;           /* non-NULL once the input is known to be zstd */
	unsigned char *zin;         /* compressed input buffer */
	ZSTD_inBuffer in;
	size_t zret;                /* last ZSTD_decompressStream result: 0 between frames */
	bool raw_eof;               /* the underlying input is exhausted */
};

long xf_read_some(int fd, void *buf, size_t n, const char *name, struct xf_err *err)
{
	for (;;) {
		ssize_t got = read(fd, buf, n);

		if (got >= 0)
			return (long)got;
		if (errno != EINTR)
			return xf_err_set(err, XF_E_IO, "%s: read error: %s", name, strerror(errno));
	}
}

int xf_write_all(int fd, const void *buf, size_t n, const char *name, struct xf_err *err)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t put = write(fd, p, n);

		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0 && errno == EPIPE)
			return xf_err_set(err, XF_E_PIPE, "%s: write error: %s", name, strerror(errno));
		if (put <= 0)
			return xf_err_set(err, XF_E_IO, "%s: write error: %s", name,
					  put < 0 ? strerror(errno) : "no progress");
		p += put;
		n -= (size_t)put;
	}
	return 0;
}

/*
 * A 64 KiB pipe makes a stage of a pipeline sleep and wake every 64 KiB; at 1 MiB (the
 * default limit for unprivileged processes) xfer-cat passes data faster than cat does.
 * Best effort: a pipe that cannot grow stays as it is.
 */
static void widen_pipe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fcntl(fd, F_GETPIPE_SZ) < PIPE_BYTES)
		fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES);
}

static struct xf_source *source_new(const char *name, struct xf_err *err)
{
	struct xf_source *s = calloc(1, sizeof(*s));

	if (!s) {
		xf_err_nomem(err, sizeof(*s));
		return NULL;
	}
	s->fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

struct xf_source *xf_source_open(const char *path, struct xf_err *err)
{
	bool is_stdin = !strcmp(path, "-");
	struct xf_source *s = source_new(is_stdin ? "<stdin>" : path, err);

	if (!s)
		return NULL;
	s->fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	s->own_fd = !is_stdin;
	if (s->fd < 0) {
		xf_err_set(err, XF_E_IO, "cannot open '%s': %s", path, strerror(errno));
		free(s);
		return NULL;
	}
	widen_pipe(s->fd);
	return s;
}

struct xf_source *xf_source_memory(const void *data, size_t size, const char *name, struct xf_err *err)
{
	struct xf_source *s = source_new(name, err);

	if (s) {
		s->mem = data;
		s->mem_size = size;
	}
	return s;
}

const char *xf_source_name(const struct xf_source *s)
{
	return s->name;
}

bool xf_source_is_zstd(const struct xf_source *s)
{
	return s->zd != NULL;
}

static long raw_read(struct xf_source *s, void *buf, size_t n, struct xf_err *err)
{
	size_t k;

	if (s->peek_pos < s->peek_len) {
		k = s->peek_len - s->peek_pos < n ? s->peek_len - s->peek_pos : n;
		memcpy(buf, s->peek + s->peek_pos, k);
		s->peek_pos += k;
		return (long)k;
	}
	if (s->fd >= 0)
		return xf_read_some(s->fd, buf, n, s->name, err);
	k = s->mem_size - s->mem_pos < n ? s->mem_size - s->mem_pos : n;
	memcpy(buf, s->mem + s->mem_pos, k);
	s->mem_pos += k;
	return (long)k;
}

/* Read up to four bytes and keep them; zstd input gets a decompression context. */
static int detect(struct xf_source *s, struct xf_err *err)
{
	s->detected = true;
	while (s->peek_len < 4) {
		long got = raw_read(s, s->peek + s->peek_len, 4 - s->peek_len, err);

		if (got < 0)
			return -1;
		if (got == 0)
			break;
		s->peek_len += (size_t)got;
	}
	if (s->peek_len < 4 || memcmp(s->peek, zstd_magic, 4))
		return 0;
	if (!s->zd && !(s->zd = ZSTD_createDStream()))
		return xf_err_nomem(err, sizeof(void *));
	if (!s->zin && !(s->zin = malloc(ZSTD_DStreamInSize())))
		return xf_err_nomem(err, ZSTD_DStreamInSize());
	s->in = (ZSTD_inBuffer){ s->zin, 0, 0 };
	s->zret = 1;
	return 0;
}

static long zstd_read(struct xf_source *s, void *buf, size_t n, struct xf_err *err)
{
	ZSTD_outBuffer out = { buf, n, 0 };

	while (out.pos == 0) {
		if (s->in.pos == s->in.size && !s->raw_eof) {
			long got = raw_read(s, s->zin, ZSTD_DStreamInSize(), err);

			if (got < 0)
				return -1;
			s->raw_eof = got == 0;
			s->in = (ZSTD_inBuffer){ s->zin, (size_t)got, 0 };
		}
		if (s->in.pos == s->in.size && s->raw_eof) {
			if (s->zret != 0)
				return xf_err_set(err, XF_E_FORMAT, "%s: truncated zstd frame", s->name);
			return 0;
		}
		s->zret = ZSTD_decompressStream(s->zd, &out, &s->in);
		if (ZSTD_isError(s->zret))
			return xf_err_set(err, XF_E_FORMAT, "%s: zstd: %s", s->name, ZSTD_getErrorName(s->zret));
	}
	return (long)out.pos;
}

long xf_source_read(struct xf_source *s, void *buf, size_t n, struct xf_err *err)
{
	if (!s->detected && detect(s, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	return s->zd ? zstd_read(s, buf, n, err) : raw_read(s, buf, n, err);
}

long xf_source_read_fn(void *source, void *buf, size_t n, struct xf_err *err)
{
	return xf_source_read(source, buf, n, err);
}

int xf_source_rewind(struct xf_source *s, struct xf_err *err)
{
	if (s->fd >= 0 && lseek(s->fd, 0, SEEK_SET) < 0)
		return xf_err_set(err, XF_E_USAGE, "%s: cannot read the input twice (%s); give a file",
				  s->name, strerror(errno));
	s->mem_pos = 0;
	s->detected = false;
	s->peek_len = s->peek_pos = 0;
	s->raw_eof = false;
	if (s->zd)
		ZSTD_DCtx_reset(s->zd, ZSTD_reset_session_only);
	ZSTD_freeDStream(s->zd);
	s->zd = NULL;
	return 0;
}

void xf_source_close(struct xf_source *s)
{
	if (!s)
		return;
	if (s->own_fd && s->fd >= 0)
		close(s->fd);
	ZSTD_freeDStream(s->zd);
	free(s->zin);
	free(s);
}

struct xf_sink {
	xf_write_fn write;          /* where finished bytes go */
	void *ctx;
	int fd;                     /* for the fd sink's callback */
	char name[256];
	unsigned char *buf;         /* uncompressed bytes not yet pushed down */
	size_t len;
	ZSTD_CCtx *zc;              /* NULL: no compression */
	unsigned char *zout;
	size_t zout_cap;
	uint64_t bytes_in;          /* uncompressed bytes accepted */
};

static int fd_write(void *ctx, const void *buf, size_t n, struct xf_err *err)
{
	struct xf_sink *s = ctx;

	return xf_write_all(s->fd, buf, n, s->name, err);
}

static int setup_zstd(struct xf_sink *s, const struct xf_sink_opts *opts, struct xf_err *err)
{
	size_t r;

	s->zc = ZSTD_createCCtx();
	s->zout_cap = ZSTD_CStreamOutSize();
	s->zout = malloc(s->zout_cap);
	if (!s->zc || !s->zout)
		return xf_err_nomem(err, s->zout_cap);
	r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, opts->zstd_level);
	/* even one worker compresses in the background while we parse the next frames */
	if (!ZSTD_isError(r) && opts->threads >= 1)
		r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_nbWorkers, opts->threads);
	if (ZSTD_isError(r))
		return xf_err_set(err, XF_E_USAGE, "zstd: %s", ZSTD_getErrorName(r));
	return 0;
}

struct xf_sink *xf_sink_callback(xf_write_fn write, void *ctx, const char *name,
				 const struct xf_sink_opts *opts, struct xf_err *err)
{
	struct xf_sink *s = calloc(1, sizeof(*s));

	if (!s || !(s->buf = malloc(SINK_BUFFER))) {
		free(s);
		xf_err_nomem(err, SINK_BUFFER);
		return NULL;
	}
	s->write = write;
	s->ctx = ctx;
	s->fd = -1;
	snprintf(s->name, sizeof(s->name), "%s", name);
	if (opts && opts->zstd_level && setup_zstd(s, opts, err) < 0) {
		xf_sink_abort(s);
		return NULL;
	}
	return s;
}

struct xf_sink *xf_sink_fd(int fd, const char *name, const struct xf_sink_opts *opts, struct xf_err *err)
{
	struct xf_sink *s = xf_sink_callback(fd_write, NULL, name, opts, err);

	if (s) {
		s->ctx = s;
		s->fd = fd;
		widen_pipe(fd);
	}
	return s;
}

/* Compress data (mode e_continue) or finish the frame (e_end), writing all output produced. */
static int compress_out(struct xf_sink *s, const void *data, size_t n, ZSTD_EndDirective mode,
			struct xf_err *err)
{
	ZSTD_inBuffer in = { data, n, 0 };
	size_t left;

	do {
		ZSTD_outBuffer out = { s->zout, s->zout_cap, 0 };

		left = ZSTD_compressStream2(s->zc, &out, &in, mode);
		if (ZSTD_isError(left))
			return xf_err_set(err, XF_E_IO, "%s: zstd: %s", s->name, ZSTD_getErrorName(left));
		if (out.pos && s->write(s->ctx, s->zout, out.pos, err) < 0)
			return -1;
	} while (mode == ZSTD_e_continue ? in.pos < in.size : left != 0);
	return 0;
}

static int push_down(struct xf_sink *s, const void *data, size_t n, struct xf_err *err)
{
	if (s->zc)
		return compress_out(s, data, n, ZSTD_e_continue, err);
	return s->write(s->ctx, data, n, err);
}

static int drain_buffer(struct xf_sink *s, struct xf_err *err)
{
	size_t n = s->len;

	s->len = 0;
	return n ? push_down(s, s->buf, n, err) : 0;
}

int xf_sink_write(struct xf_sink *s, const void *buf, size_t n, struct xf_err *err)
{
	s->bytes_in += n;
	if (s->len + n <= SINK_BUFFER) {
		memcpy(s->buf + s->len, buf, n);
		s->len += n;
		return 0;
	}
	if (drain_buffer(s, err) < 0)
		return -1;
	if (n >= SINK_BUFFER / 2)
		return push_down(s, buf, n, err); /* large payloads skip the copy */
	memcpy(s->buf, buf, n);
	s->len = n;
	return 0;
}

int xf_sink_flush(struct xf_sink *s, struct xf_err *err)
{
	if (drain_buffer(s, err) < 0)
		return -1;
	return s->zc ? compress_out(s, NULL, 0, ZSTD_e_flush, err) : 0;
}

int xf_sink_close(struct xf_sink *s, struct xf_err *err)
{
	int rc = drain_buffer(s, err);

	if (rc == 0 && s->zc)
		rc = compress_out(s, NULL, 0, ZSTD_e_end, err);
	xf_sink_abort(s);
	return rc;
}

void xf_sink_abort(struct xf_sink *s)
{
	if (!s)
		return;
	ZSTD_freeCCtx(s->zc);
	free(s->zout);
	free(s->buf);
	free(s);
}

int xf_sink_printf(struct xf_sink *s, struct xf_err *err, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return xf_sink_write(s, buf, n < 0 ? 0 : n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1, err);
}

uint64_t xf_sink_bytes_in(const struct xf_sink *s)
{
	return s->bytes_in;
}
