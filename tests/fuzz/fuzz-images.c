/*
 * libFuzzer target: an image dataset in an archive as xfer-pack reads it: libarchive (tar,
 * zip, cpio, compressed or not), the CLASS/FILE layout rules, and every image decoded (PNG,
 * JPEG, PGM/PPM), into a stream writer that discards its bytes. The input size picks the
 * options: bit 0 decodes to gray, bit 1 resizes to 5x7, bit 2 skips corrupt images (else the
 * first one is an error). The fuzz build lowers the pixel and file size limits (FUZZ_LIMITS
 * in the Makefile), so that what they allow fits in -malloc_limit_mb.
 */
#include "fuzz.h"
#include "pack.h"

static void skip(void *ctx, const char *why)
{
	(void)ctx, (void)why;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xf_imgset_opts o = XF_IMGSET_OPTS_INIT;
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_sink *sink;
	struct xf_writer *w = fuzz_writer(&sink);
	char path[32];

	o.gray = size & 1;
	if (size & 2)
		o.height = 5, o.width = 7;
	if (size & 4)
		o.on_corrupt = skip;
	fuzz_file(data, size, path);
	xf_pack_images(path, &o, &h, w, &err);
	xf_header_release(&h);
	fuzz_writer_free(w, sink);
	return 0;
}
