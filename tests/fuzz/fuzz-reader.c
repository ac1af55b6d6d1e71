/*
 * libFuzzer target: the stream reader (zstd detection, frame scanning, msgpack, headers,
 * ndarrays, segment rules) over arbitrary bytes. Any crash, leak or sanitizer report is a bug.
 */
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_source *src = xf_source_memory(data, size, "fuzz", &err);
	struct xf_reader *r = src ? xf_reader_from_source(src, &err) : NULL;
	struct xf_frame f;

	if (!r)
		return 0;
	xf_reader_set_max_frame(r, 1 << 20);
	while (xf_reader_next(r, &f, &err) > 0)
		xf_frame_release(&f);
	xf_reader_close(r);
	return 0;
}
