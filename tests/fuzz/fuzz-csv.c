/*
 * libFuzzer target: CSV/TSV as xfer-pack reads it (the RFC 4180 reader, delimiter detection,
 * numbers, labels, ids; two passes), into a stream writer that discards its bytes. The input
 * size picks the options, so that the same bytes are read with and without label and id
 * columns: size % 4 = 1 or 3 takes the column "y" as labels, 2 or 3 the column "id" as ids.
 */
#include "fuzz.h"
#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xf_pack_csv_opts o = { size & 1 ? "y" : NULL, size & 2 ? "id" : NULL, 0 };
	struct xf_header h = XF_HEADER_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_sink *sink;
	struct xf_writer *w = fuzz_writer(&sink);
	char path[32];

	fuzz_file(data, size, path);
	h.kind = XF_KIND_SAMPLES;
	xf_pack_csv(path, &o, &h, w, &err);
	xf_header_release(&h);
	fuzz_writer_free(w, sink);
	return 0;
}
