/*
 * libFuzzer target: .npy (header dict, dtypes, byte order, Fortran order, strings) read in
 * small row blocks through a memory source as xfer-pack reads it, and .npz (input starting
 * "PK") through libarchive's zip reader.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "io.h"
#include "npy.h"

#define MAX_BLOCKS 10000   /* an [n, 0] array may declare 2^32 empty rows */

static int take(void *ctx, const char *name, struct xf_tensor *t, struct xf_err *err)
{
	(void)ctx, (void)name, (void)err;
	xf_tensor_release(t);
	return 0;
}

static void npz(const uint8_t *data, size_t size)
{
	struct xf_err err = XF_ERR_INIT;
	char path[32];
	int fd;

	fuzz_file(data, size, path);
	if ((fd = open(path, O_RDONLY)) < 0)
		abort();
	xf_npz_read_fd(fd, "fuzz.npz", take, NULL, &err);
	close(fd);
}

static void npy(const uint8_t *data, size_t size)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_source *src = xf_source_memory(data, size, "fuzz", &err);
	struct xf_npy_reader *r = src ? xf_npy_reader_open(xf_source_read_fn, src, "fuzz.npy", &err) : NULL;
	struct xf_tensor t;

	for (int i = 0; r && i < MAX_BLOCKS && xf_npy_read_rows(r, 3, &t, &err) > 0; i++)
		xf_tensor_release(&t);
	xf_npy_reader_close(r);
	xf_source_close(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 2 && !memcmp(data, "PK", 2))
		npz(data, size);
	else
		npy(data, size);
	return 0;
}
