/* image_tar: PNG images in a tar archive; see image_tar.h. */
#include <archive.h>
#include <archive_entry.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "file_atomic.h"
#include "image_tar.h"
#include "png_write.h"

struct tar_job {
	const float *images;
	int64_t n;
	int channels, height, width;
	const int64_t *labels;
	uint8_t *pixels;   /* one image, interleaved for libpng */
};

/* Channel-major floats to interleaved bytes. */
static void to_bytes(const struct tar_job *j, const float *img)
{
	int64_t plane = (int64_t)j->height * j->width;

	for (int64_t p = 0; p < plane; p++)
		for (int c = 0; c < j->channels; c++) {
			float v = img[c * plane + p];

			v = isnan(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
			j->pixels[p * j->channels + c] = (uint8_t)lrintf(v * 255);
		}
}

static int add_entry(struct archive *a, const char *name, const char *data, size_t size, struct xf_err *err)
{
	struct archive_entry *e = archive_entry_new();
	int rc = 0;

	if (!e)
		return xf_err_nomem(err, 0);
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	if (archive_write_header(a, e) != ARCHIVE_OK || archive_write_data(a, data, size) != (la_ssize_t)size)
		rc = xf_err_set(err, XF_E_IO, "tar: %s", archive_error_string(a));
	archive_entry_free(e);
	return rc;
}

/* Row i as a PNG in memory, then into the archive. */
static int add_image(struct archive *a, const struct tar_job *j, int64_t i, struct xf_err *err)
{
	char name[64], *data = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&data, &size);
	int rc;

	if (!mem)
		return xf_err_nomem(err, 0);
	to_bytes(j, j->images + i * j->channels * (int64_t)j->height * j->width);
	rc = xf_png_write(mem, j->pixels, j->width, j->height, j->channels, err);
	if (fclose(mem) != 0 && rc == 0)
		rc = xf_err_nomem(err, 0);
	if (j->labels)
		snprintf(name, sizeof(name), "%06lld-%lld.png", (long long)i, (long long)j->labels[i]);
	else
		snprintf(name, sizeof(name), "%06lld.png", (long long)i);
	rc = rc ? rc : add_entry(a, name, data, size, err);
	free(data);
	return rc;
}

static int emit_tar(FILE *fp, void *ctx, struct xf_err *err)
{
	struct tar_job *j = ctx;
	struct archive *a = archive_write_new();
	int rc = a ? 0 : xf_err_nomem(err, 0);

	if (rc == 0 && (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
			archive_write_open_FILE(a, fp) != ARCHIVE_OK))
		rc = xf_err_set(err, XF_E_IO, "tar: %s", archive_error_string(a));
	for (int64_t i = 0; rc == 0 && i < j->n; i++)
		rc = add_image(a, j, i, err);
	if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
		rc = xf_err_set(err, XF_E_IO, "tar: %s", archive_error_string(a));
	archive_write_free(a);
	return rc;
}

int xf_image_tar_write(const char *path, const float *images, int64_t n, int channels, int height, int width,
		       const int64_t *labels, struct xf_err *err)
{
	struct tar_job j = { images, n, channels, height, width, labels, NULL };
	int rc;

	if ((channels != 1 && channels != 3) || height < 1 || width < 1 || n < 0)
		return xf_err_set(err, XF_E_USAGE, "images of %d x %d x %d cannot be PNG files", channels, height, width);
	if (!(j.pixels = malloc((size_t)channels * (size_t)height * (size_t)width)))
		return xf_err_nomem(err, (size_t)channels * (size_t)height * (size_t)width);
	rc = xf_file_write_atomic(path, emit_tar, &j, err);
	free(j.pixels);
	return rc;
}
