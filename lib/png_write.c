/* png_write: PNG encoding through libpng; see png_write.h. */
#include <png.h>
#include <setjmp.h>

#include "png_write.h"

struct png_job {
	png_structp png;
	png_infop info;
	char msg[200];   /* libpng's error text, set before it longjmps */
};

static void on_error(png_structp png, png_const_charp msg)
{
	struct png_job *job = png_get_error_ptr(png);

	snprintf(job->msg, sizeof(job->msg), "%s", msg);
	png_longjmp(png, 1);   /* returning would reach libpng's default handler, which prints */
}

static void on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/* The part under libpng's setjmp; all state is in *job, which the caller frees. */
static int encode(struct png_job *job, FILE *fp, const uint8_t *px, int width, int height, int channels,
		  struct xf_err *err)
{
	static const int types[5] = { 0, PNG_COLOR_TYPE_GRAY, 0, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA };

	if (setjmp(png_jmpbuf(job->png)))
		return xf_err_set(err, XF_E_IO, "%s", job->msg);
	png_init_io(job->png, fp);
	png_set_IHDR(job->png, job->info, (png_uint_32)width, (png_uint_32)height, 8, types[channels], PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(job->png, job->info);
	for (int y = 0; y < height; y++)
		png_write_row(job->png, px + (size_t)y * (size_t)width * (size_t)channels);
	png_write_end(job->png, job->info);
	return 0;
}

int xf_png_write(FILE *fp, const uint8_t *px, int width, int height, int channels, struct xf_err *err)
{
	struct png_job job = { 0 };
	int rc = -1;

	if (channels != 1 && channels != 3 && channels != 4)
		return xf_err_set(err, XF_E_USAGE, "PNG: %d channels; 1, 3 or 4", channels);
	job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
	if (job.png)
		job.info = png_create_info_struct(job.png);
	if (!job.png || !job.info)
		xf_err_set(err, XF_E_NOMEM, "cannot create a PNG encoder");
	else
		rc = encode(&job, fp, px, width, height, channels, err);
	png_destroy_write_struct(&job.png, &job.info);
	return rc;
}
