/*
 * image: PNG (libpng), JPEG (libjpeg) and PGM/PPM decoding from memory, and the
 * bilinear resize; contracts in image.h. Each decoder produces "raw" interleaved 8-bit
 * pixels with the source's own channel count (1 to 4), and one converter turns them
 * into the [H, W, 1] or [H, W, 3] tensor the caller asked for.
 */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "image.h"

/* A progressive JPEG with thousands of tiny scans is a known decoding-time bomb. */
#define JPEG_MAX_SCANS 1000

struct raw_image {
	uint8_t *pixels;  /* h * w * channels bytes, malloc'd; NULL until allocated */
	int64_t h, w;     /* size in pixels */
	int channels;     /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
};

static const char *display_name(const char *name)
{
	return name ? name : "image";
}

/* Checks the pixel limit and allocates raw->pixels; the limit comes before any allocation. */
static int raw_alloc(struct raw_image *raw, int64_t h, int64_t w, int channels, const char *name,
		     struct xf_err *err)
{
	size_t bytes;

	if (h <= 0 || w <= 0)
		return xf_err_set(err, XF_E_FORMAT, "'%s': image has zero size", display_name(name));
	if (h > XF_IMAGE_MAX_PIXELS / w)
		return xf_err_set(err, XF_E_LIMIT, "'%s': image is %" PRId64 "x%" PRId64
				  ", above the limit of %" PRId64 " pixels", display_name(name), h, w,
				  XF_IMAGE_MAX_PIXELS);
	bytes = (size_t)(h * w) * (size_t)channels;
	raw->pixels = malloc(bytes);
	if (!raw->pixels)
		return xf_err_nomem(err, bytes);
	raw->h = h;
	raw->w = w;
	raw->channels = channels;
	return 0;
}

/* PIL's convert("L"): ITU-R 601-2 luma in 16-bit fixed point, rounded. */
static uint8_t luma(const uint8_t *rgb)
{
	return (uint8_t)((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
}

/* Raw pixels (any alpha ignored) to a new [h, w, 1 or 3] tensor. */
static int raw_to_tensor(const struct raw_image *raw, bool gray, struct xf_tensor *out,
			 struct xf_err *err)
{
	int64_t shape[3] = { raw->h, raw->w, gray ? 1 : 3 }, n = raw->h * raw->w;
	const uint8_t *src = raw->pixels;
	bool color = raw->channels >= 3;
	uint8_t *dst;

	if (xf_tensor_alloc(out, XF_DTYPE_U8, 3, shape, err) < 0)
		return -1;
	dst = out->data;
	for (int64_t i = 0; i < n; i++, src += raw->channels) {
		if (gray) {
			dst[i] = color ? luma(src) : src[0];
		} else {
			dst[3 * i] = src[0];
			dst[3 * i + 1] = color ? src[1] : src[0];
			dst[3 * i + 2] = color ? src[2] : src[0];
		}
	}
	return 0;
}

/* ---- PNG ---- */

struct png_job {
	const uint8_t *bytes;   /* the whole file */
	size_t size, pos;       /* its length and the read position */
	const char *name;       /* for messages */
	char msg[200];          /* libpng's error text, set before it longjmps */
	png_structp png;        /* libpng state */
	png_infop info;
	png_bytep *rows;        /* row pointers into raw.pixels, malloc'd */
	struct raw_image raw;   /* decoded pixels */
};

static void png_on_error(png_structp png, png_const_charp msg)
{
	struct png_job *job = png_get_error_ptr(png);

	snprintf(job->msg, sizeof(job->msg), "%s", msg);
	png_longjmp(png, 1);   /* returning would reach libpng's default handler, which prints */
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static void png_read_mem(png_structp png, png_bytep data, size_t n)
{
	struct png_job *job = png_get_io_ptr(png);

	if (n > job->size - job->pos)
		png_error(png, "truncated data");
	memcpy(data, job->bytes + job->pos, n);
	job->pos += n;
}

/*
 * The part that runs under libpng's setjmp. Everything it allocates hangs off *job
 * (which lives in the caller's frame), so the caller frees it whichever way we leave.
 * Transparency is not expanded and alpha is left in place; raw_to_tensor drops it.
 */
static int png_read_raw(struct png_job *job, struct xf_err *err)
{
	png_uint_32 w, h;
	int depth, type;

	if (setjmp(png_jmpbuf(job->png)))
		return xf_err_set(err, XF_E_FORMAT, "'%s': %s", display_name(job->name), job->msg);
	png_set_read_fn(job->png, job, png_read_mem);
	png_read_info(job->png, job->info);
	png_get_IHDR(job->png, job->info, &w, &h, &depth, &type, NULL, NULL, NULL);
	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(job->png);
	if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(job->png);
	if (depth == 16)
		png_set_scale_16(job->png);   /* rounds: (v * 255 + 32767) / 65535 */
	png_set_interlace_handling(job->png);
	png_read_update_info(job->png, job->info);
	if (raw_alloc(&job->raw, h, w, png_get_channels(job->png, job->info), job->name, err) < 0)
		return -1;
	if (png_get_rowbytes(job->png, job->info) != (size_t)w * (size_t)job->raw.channels)
		return xf_err_set(err, XF_E_FORMAT, "'%s': unexpected PNG row layout", display_name(job->name));
	job->rows = malloc(h * sizeof(*job->rows));
	if (!job->rows)
		return xf_err_nomem(err, h * sizeof(*job->rows));
	for (png_uint_32 y = 0; y < h; y++)
		job->rows[y] = job->raw.pixels + (size_t)y * w * job->raw.channels;
	png_read_image(job->png, job->rows);
	return 0;
}

static int decode_png(const uint8_t *bytes, size_t size, const char *name, bool gray,
		      struct xf_tensor *out, struct xf_err *err)
{
	struct png_job job = { .bytes = bytes, .size = size, .name = name };
	int rc = -1;

	job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, png_on_error, png_on_warning);
	if (job.png)
		job.info = png_create_info_struct(job.png);
	if (!job.png || !job.info)
		xf_err_set(err, XF_E_NOMEM, "'%s': cannot create a PNG decoder", display_name(name));
	else if (png_read_raw(&job, err) == 0)
		rc = raw_to_tensor(&job.raw, gray, out, err);
	png_destroy_read_struct(&job.png, &job.info, NULL);
	free(job.rows);
	free(job.raw.pixels);
	return rc;
}

/* ---- JPEG ---- */

struct jpeg_job {
	struct jpeg_error_mgr mgr;       /* first, so the error handlers can cast back */
	struct jpeg_progress_mgr progress;
	struct jpeg_decompress_struct cinfo;
	jmp_buf jmp;                     /* where error_exit returns to */
	char msg[JMSG_LENGTH_MAX];       /* libjpeg's error text */
	struct raw_image raw;            /* decoded pixels */
};

/* libjpeg's default error_exit calls exit(); ours jumps back to decode_jpeg. */
static void jpeg_on_error(j_common_ptr cinfo)
{
	struct jpeg_job *job = (struct jpeg_job *)cinfo->err;

	cinfo->err->format_message(cinfo, job->msg);
	longjmp(job->jmp, 1);
}

/*
 * Warnings (level -1) are silent, except a premature end of file: libjpeg would pad
 * the image with gray and carry on, and we want truncation to be an error.
 */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
	if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF)
		jpeg_on_error(cinfo);
}

static void jpeg_on_output(j_common_ptr cinfo)
{
	(void)cinfo;
}

static void jpeg_on_progress(j_common_ptr cinfo)
{
	struct jpeg_job *job = (struct jpeg_job *)cinfo->err;

	if (job->cinfo.input_scan_number > JPEG_MAX_SCANS) {
		snprintf(job->msg, sizeof(job->msg), "more than %d progressive scans", JPEG_MAX_SCANS);
		longjmp(job->jmp, 1);
	}
}

/* The part that runs under setjmp; as for PNG, all state lives in *job. */
static int jpeg_read_raw(struct jpeg_job *job, const uint8_t *bytes, size_t size,
			 const char *name, struct xf_err *err)
{
	struct jpeg_decompress_struct *cinfo = &job->cinfo;

	if (setjmp(job->jmp))
		return xf_err_set(err, XF_E_FORMAT, "'%s': %s", display_name(name), job->msg);
	jpeg_create_decompress(cinfo);
	cinfo->progress = &job->progress;
	jpeg_mem_src(cinfo, bytes, (unsigned long)size);
	jpeg_read_header(cinfo, TRUE);
	if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK)
		return xf_err_set(err, XF_E_FORMAT, "'%s': CMYK JPEG images are not supported",
				  display_name(name));
	cinfo->out_color_space = cinfo->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_calc_output_dimensions(cinfo);
	if (raw_alloc(&job->raw, cinfo->output_height, cinfo->output_width,
		      cinfo->out_color_components, name, err) < 0)
		return -1;
	jpeg_start_decompress(cinfo);
	while (cinfo->output_scanline < cinfo->output_height) {
		JSAMPROW row = job->raw.pixels +
			(size_t)cinfo->output_scanline * job->raw.w * job->raw.channels;
		jpeg_read_scanlines(cinfo, &row, 1);
	}
	jpeg_finish_decompress(cinfo);
	return 0;
}

static int decode_jpeg(const uint8_t *bytes, size_t size, const char *name, bool gray,
		       struct xf_tensor *out, struct xf_err *err)
{
	struct jpeg_job job;
	int rc;

	memset(&job, 0, sizeof(job));
	job.cinfo.err = jpeg_std_error(&job.mgr);
	job.mgr.error_exit = jpeg_on_error;
	job.mgr.emit_message = jpeg_on_message;
	job.mgr.output_message = jpeg_on_output;
	job.progress.progress_monitor = jpeg_on_progress;
	rc = jpeg_read_raw(&job, bytes, size, name, err);
	if (rc == 0)
		rc = raw_to_tensor(&job.raw, gray, out, err);
	jpeg_destroy_decompress(&job.cinfo);
	free(job.raw.pixels);
	return rc;
}

/* ---- PGM / PPM (netpbm) ---- */

struct pnm_cursor {
	const uint8_t *p, *end;   /* unread bytes */
};

static bool is_pnm_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skips whitespace and '#' comments (which run to the end of the line). */
static void pnm_skip(struct pnm_cursor *c)
{
	while (c->p < c->end) {
		if (*c->p == '#') {
			while (c->p < c->end && *c->p != '\n' && *c->p != '\r')
				c->p++;
		} else if (is_pnm_space(*c->p)) {
			c->p++;
		} else {
			break;
		}
	}
}

/* A decimal number up to max; -1 when missing, malformed or too large. */
static int64_t pnm_number(struct pnm_cursor *c, int64_t max)
{
	int64_t v = 0;

	pnm_skip(c);
	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		return -1;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		v = v * 10 + (*c->p++ - '0');
		if (v > max)
			return -1;
	}
	return v;
}

static uint8_t pnm_scale(uint32_t v, uint32_t maxval)
{
	return maxval == 255 ? (uint8_t)v : (uint8_t)((v * 255u + maxval / 2) / maxval);
}

/* Samples of a raw (P5/P6) raster: one byte each, or two big-endian when maxval > 255. */
static int pnm_read_binary(struct pnm_cursor *c, uint32_t maxval, int64_t n, uint8_t *dst,
			   const char *name, struct xf_err *err)
{
	size_t width = maxval > 255 ? 2 : 1;

	if ((size_t)(c->end - c->p) / width < (size_t)n)
		return xf_err_set(err, XF_E_FORMAT, "'%s': truncated data", display_name(name));
	for (int64_t i = 0; i < n; i++, c->p += width) {
		uint32_t v = width == 2 ? (uint32_t)c->p[0] << 8 | c->p[1] : c->p[0];
		if (v > maxval)
			return xf_err_set(err, XF_E_FORMAT, "'%s': sample %u above maxval %u",
					  display_name(name), v, maxval);
		dst[i] = pnm_scale(v, maxval);
	}
	return 0;
}

static int pnm_read_plain(struct pnm_cursor *c, uint32_t maxval, int64_t n, uint8_t *dst,
			  const char *name, struct xf_err *err)
{
	for (int64_t i = 0; i < n; i++) {
		int64_t v = pnm_number(c, maxval);
		if (v < 0)
			return xf_err_set(err, XF_E_FORMAT, "'%s': %s at sample %" PRId64,
					  display_name(name), c->p >= c->end ? "truncated data" :
					  "bad or out-of-range sample", i);
		dst[i] = pnm_scale((uint32_t)v, maxval);
	}
	return 0;
}

static int decode_pnm(const uint8_t *bytes, size_t size, const char *name, bool gray,
		      struct xf_tensor *out, struct xf_err *err)
{
	struct pnm_cursor c = { bytes + 2, bytes + size };
	char kind = (char)bytes[1];
	int channels = kind == '3' || kind == '6' ? 3 : 1;
	struct raw_image raw = { 0 };
	int64_t w, h, maxval;
	int rc;

	w = pnm_number(&c, INT32_MAX);
	h = pnm_number(&c, INT32_MAX);
	maxval = pnm_number(&c, 65535);
	if (w < 0 || h < 0 || maxval < 1)
		return xf_err_set(err, XF_E_FORMAT, "'%s': bad PNM header", display_name(name));
	if (kind == '5' || kind == '6') {
		if (c.p >= c.end || !is_pnm_space(*c.p))
			return xf_err_set(err, XF_E_FORMAT, "'%s': bad PNM header", display_name(name));
		c.p++;   /* exactly one whitespace byte separates maxval from the raster */
	}
	if (raw_alloc(&raw, h, w, channels, name, err) < 0)
		return -1;
	if (kind == '5' || kind == '6')
		rc = pnm_read_binary(&c, (uint32_t)maxval, h * w * channels, raw.pixels, name, err);
	else
		rc = pnm_read_plain(&c, (uint32_t)maxval, h * w * channels, raw.pixels, name, err);
	if (rc == 0)
		rc = raw_to_tensor(&raw, gray, out, err);
	free(raw.pixels);
	return rc;
}

/* ---- entry points ---- */

int xf_image_decode(const void *bytes, size_t size, const char *name, bool gray,
		    struct xf_tensor *out, struct xf_err *err)
{
	static const uint8_t png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	const uint8_t *b = bytes;

	xf_tensor_init(out);
	if (size >= 8 && !memcmp(b, png_magic, 8))
		return decode_png(b, size, name, gray, out, err);
	if (size >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return decode_jpeg(b, size, name, gray, out, err);
	if (size >= 3 && b[0] == 'P' && b[1] && strchr("2356", b[1]) && is_pnm_space(b[2]))
		return decode_pnm(b, size, name, gray, out, err);
	return xf_err_set(err, XF_E_FORMAT, "'%s': not a PNG, JPEG, PGM or PPM image", display_name(name));
}

/*
 * torch's area_pixel_compute_source_index plus guard_index_and_lambda: the source
 * coordinate of output index d, split into the lower neighbour *i0, the upper one
 * *i1 (clamped at the edge) and the weight *frac of the upper one.
 */
static void source_index(int64_t d, float scale, int64_t in_size, int64_t *i0, int64_t *i1,
			 float *frac)
{
	float s = scale * ((float)d + 0.5f) - 0.5f;

	if (s < 0)
		s = 0;
	*i0 = (int64_t)s;
	if (*i0 > in_size - 1)
		*i0 = in_size - 1;
	*i1 = *i0 < in_size - 1 ? *i0 + 1 : *i0;
	*frac = fminf(fmaxf(s - (float)*i0, 0.0f), 1.0f);
}

static uint8_t to_u8(float v)
{
	long r = lrintf(v);   /* default rounding mode: to nearest, ties to even */

	return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

static int check_image_tensor(const struct xf_tensor *in, int64_t h, int64_t w,
			      struct xf_err *err)
{
	if (in->dtype != XF_DTYPE_U8 || in->ndim != 3 || in->shape[0] < 1 || in->shape[1] < 1 ||
	    in->shape[2] < 1)
		return xf_err_set(err, XF_E_USAGE, "resize needs a non-empty uint8 [H, W, C] image");
	if (h < 1 || w < 1 || h > XF_IMAGE_MAX_PIXELS / w)
		return xf_err_set(err, XF_E_USAGE, "cannot resize to %" PRId64 "x%" PRId64, h, w);
	return 0;
}

int xf_image_resize(const struct xf_tensor *in, int64_t h, int64_t w, struct xf_tensor *out,
		    struct xf_err *err)
{
	int64_t shape[3] = { h, w, in->shape[2] }, c_n = in->shape[2];
	const int64_t *st = in->stride;
	float sy = (float)in->shape[0] / (float)h, sx = (float)in->shape[1] / (float)w;
	const uint8_t *src = in->data;
	uint8_t *dst;

	xf_tensor_init(out);
	if (check_image_tensor(in, h, w, err) < 0 ||
	    xf_tensor_alloc(out, XF_DTYPE_U8, 3, shape, err) < 0)
		return -1;
	dst = out->data;
	for (int64_t y = 0; y < h; y++) {
		int64_t y0, y1;
		float fy;

		source_index(y, sy, in->shape[0], &y0, &y1, &fy);
		for (int64_t x = 0; x < w; x++) {
			int64_t x0, x1;
			float fx;

			source_index(x, sx, in->shape[1], &x0, &x1, &fx);
			for (int64_t c = 0; c < c_n; c++, dst++) {
				float p00 = src[y0 * st[0] + x0 * st[1] + c * st[2]];
				float p01 = src[y0 * st[0] + x1 * st[1] + c * st[2]];
				float p10 = src[y1 * st[0] + x0 * st[1] + c * st[2]];
				float p11 = src[y1 * st[0] + x1 * st[1] + c * st[2]];

				*dst = to_u8((1 - fy) * ((1 - fx) * p00 + fx * p01) +
					     fy * ((1 - fx) * p10 + fx * p11));
			}
		}
	}
	return 0;
}
