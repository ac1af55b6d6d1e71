/*
 * Unit tests for lib/image.c and lib/imgset.c: decoding PNG/JPEG/PNM with exact values,
 * gray conversion, the torch-convention resize, corrupt input, and image datasets from
 * a directory, tar.gz/tar.xz/tar.zst/zip archives built here at run time, and the shared
 * MNIST sample when present. Run from the top of the source tree (reads tests/data/).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jpeglib.h>
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "imgset.h"
#include "scratch.h"
#include "tap.h"

#ifndef XF_TEST_DATA
#define XF_TEST_DATA "tests/data"
#endif
#define SHARED_DATA "/work/shared/data"

/* ---- helpers: growable buffers, encoders, files ---- */

struct membuf {
	uint8_t *data;
	size_t len, cap;
};

static void mem_put(struct membuf *m, const void *p, size_t n)
{
	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->data = realloc(m->data, m->cap);
		if (!m->data)
			abort();
	}
	memcpy(m->data + m->len, p, n);
	m->len += n;
}

static void mem_free(struct membuf *m)
{
	free(m->data);
	memset(m, 0, sizeof(*m));
}

struct png_spec {
	int w, h, type, depth;       /* IHDR fields */
	bool interlace;              /* Adam7 */
	const uint8_t *samples;      /* rows as libpng wants them (packed bits, 16-bit big-endian) */
	const png_color *palette;    /* for PNG_COLOR_TYPE_PALETTE */
	int n_palette;
	const png_byte *trns;        /* palette alpha (tRNS) */
	int n_trns;
	bool header_only;            /* stop after IHDR: for the size-limit test */
};

static void png_write_mem(png_structp png, png_bytep data, size_t n)
{
	mem_put(png_get_io_ptr(png), data, n);
}

static void png_flush_mem(png_structp png)
{
	(void)png;
}

static void make_png(struct membuf *m, const struct png_spec *sp)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	size_t row_bytes;

	png_set_write_fn(png, m, png_write_mem, png_flush_mem);
	png_set_IHDR(png, info, sp->w, sp->h, sp->depth, sp->type,
		     sp->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (sp->palette)
		png_set_PLTE(png, info, sp->palette, sp->n_palette);
	if (sp->trns)
		png_set_tRNS(png, info, sp->trns, sp->n_trns, NULL);
	png_write_info(png, info);
	if (!sp->header_only) {
		png_bytep *rows = malloc(sp->h * sizeof(*rows));
		row_bytes = png_get_rowbytes(png, info);
		for (int y = 0; y < sp->h; y++)
			rows[y] = (png_bytep)sp->samples + y * row_bytes;
		png_write_image(png, rows);
		png_write_end(png, NULL);
		free(rows);
	}
	png_destroy_write_struct(&png, &info);
}

/* A w x h JPEG (quality 95) of one colour, or of a diagonal gradient when pixel is NULL. */
static void make_jpeg(struct membuf *m, int w, int h, int comps, const uint8_t *pixel,
		      bool progressive)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	unsigned char *out = NULL;
	unsigned long out_len = 0;
	uint8_t *row = malloc(w * comps);

	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &out_len);
	c.image_width = w;
	c.image_height = h;
	c.input_components = comps;
	c.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 95, TRUE);
	if (progressive)
		jpeg_simple_progression(&c);
	jpeg_start_compress(&c, TRUE);
	for (int y = 0; y < h; y++) {
		for (int i = 0; i < w * comps; i++)
			row[i] = pixel ? pixel[i % comps] : (uint8_t)(y * 4 + i);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	mem_put(m, out, out_len);
	free(out);
	free(row);
}

/* out = dir/name; out has PATH_SIZE bytes */
#define PATH_SIZE 4096
static void path_in(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_SIZE, "%s/%s", dir, name) >= PATH_SIZE - 16)
		abort();
}

/* Writes dir/rel, creating the directories on the way. */
static void write_file(const char *dir, const char *rel, const void *data, size_t len)
{
	char path[PATH_SIZE];
	FILE *f;

	mkdir(dir, 0755);
	path_in(path, dir, rel);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static bool file_exists(const char *path)
{
	return access(path, R_OK) == 0;
}

/* Pointer to pixel (y, x) channel c of a contiguous [H, W, C] uint8 image. */
static int px(const struct xf_tensor *t, int64_t y, int64_t x, int64_t c)
{
	return ((const uint8_t *)t->data)[(y * t->shape[1] + x) * t->shape[2] + c];
}

static bool has_shape(const struct xf_tensor *t, int64_t h, int64_t w, int64_t c)
{
	return t->dtype == XF_DTYPE_U8 && t->ndim == 3 && t->shape[0] == h && t->shape[1] == w &&
	       t->shape[2] == c && xf_tensor_is_contiguous(t);
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* ---- stderr capture: the decoders must never print ---- */

static int saved_stderr = -1;
static FILE *captured;

static void capture_stderr(void)
{
	fflush(stderr);
	captured = tmpfile();
	saved_stderr = dup(2);
	dup2(fileno(captured), 2);
}

static void expect_silent_stderr(const char *what)
{
	char line[512];
	long n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	n = ftell(captured) > 0 ? ftell(captured) : lseek(fileno(captured), 0, SEEK_END);
	ok(n == 0, "%s: nothing written to stderr", what);
	rewind(captured);
	while (n > 0 && fgets(line, sizeof(line), captured))
		printf("#   stderr: %s", line);
	fclose(captured);
}

/* ---- decoding ---- */

static int decode(const struct membuf *m, const char *name, bool gray, struct xf_tensor *t)
{
	struct xf_err err = XF_ERR_INIT;
	int rc = xf_image_decode(m->data, m->len, name, gray, t, &err);

	if (rc < 0)
		printf("#   %s: %s\n", name, err.msg);
	return rc;
}

static void test_png_gray(void)
{
	static const uint8_t g[6] = { 0, 1, 127, 128, 254, 255 };
	struct png_spec sp = { .w = 3, .h = 2, .type = PNG_COLOR_TYPE_GRAY, .depth = 8, .samples = g };
	struct membuf m = { 0 };
	struct xf_tensor t;
	bool same = true;

	make_png(&m, &sp);
	ok(decode(&m, "gray.png", true, &t) == 0 && has_shape(&t, 2, 3, 1), "gray PNG as gray: [2,3,1]");
	for (int i = 0; i < 6; i++)
		same = same && ((uint8_t *)t.data)[i] == g[i];
	ok(same, "gray PNG samples exact");
	xf_tensor_release(&t);
	ok(decode(&m, "gray.png", false, &t) == 0 && has_shape(&t, 2, 3, 3), "gray PNG as RGB: [2,3,3]");
	ok(px(&t, 1, 0, 0) == 128 && px(&t, 1, 0, 1) == 128 && px(&t, 1, 0, 2) == 128 &&
	   px(&t, 0, 2, 1) == 127 && px(&t, 1, 1, 2) == 254, "gray replicated to R, G and B");
	xf_tensor_release(&t);
	mem_free(&m);
}

/*
 * PIL convert("L"): Y = (19595 R + 38470 G + 7471 B + 32768) >> 16.
 * red 255*19595 + 32768 = 5029493, >> 16 = 76; green 255*38470 + 32768 = 9842618 -> 150;
 * blue 255*7471 + 32768 = 1937873 -> 29; white 255*65536 + 32768 -> 255;
 * (10, 20, 30): 195950 + 769400 + 224130 + 32768 = 1222248 -> 18.
 */
static void test_png_rgb(void)
{
	static const uint8_t rgb[15] = { 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 10, 20, 30 };
	static const int luma[5] = { 76, 150, 29, 255, 18 };
	struct png_spec sp = { .w = 5, .h = 1, .type = PNG_COLOR_TYPE_RGB, .depth = 8, .samples = rgb };
	struct membuf m = { 0 };
	struct xf_tensor t;
	bool same = true;

	make_png(&m, &sp);
	ok(decode(&m, "rgb.png", false, &t) == 0 && has_shape(&t, 1, 5, 3), "RGB PNG: [1,5,3]");
	for (int i = 0; i < 15; i++)
		same = same && ((uint8_t *)t.data)[i] == rgb[i];
	ok(same, "RGB PNG samples exact");
	xf_tensor_release(&t);
	ok(decode(&m, "rgb.png", true, &t) == 0 && has_shape(&t, 1, 5, 1), "RGB PNG as gray: [1,5,1]");
	for (int i = 0; i < 5; i++)
		is_int(px(&t, 0, i, 0), luma[i], "PIL luma of an RGB pixel");
	xf_tensor_release(&t);
	mem_free(&m);
}

static void test_png_palette(void)
{
	static const png_color pal[3] = { { 10, 20, 30 }, { 200, 100, 50 }, { 0, 0, 255 } };
	static const png_byte trns[3] = { 255, 0, 128 };     /* alpha, dropped */
	static const uint8_t idx[4] = { 2, 0, 1, 1 };
	struct png_spec sp = { .w = 2, .h = 2, .type = PNG_COLOR_TYPE_PALETTE, .depth = 8,
			       .samples = idx, .palette = pal, .n_palette = 3, .trns = trns, .n_trns = 3 };
	struct membuf m = { 0 };
	struct xf_tensor t;

	make_png(&m, &sp);
	ok(decode(&m, "pal.png", false, &t) == 0 && has_shape(&t, 2, 2, 3),
	   "palette PNG with tRNS: [2,2,3]");
	ok(px(&t, 0, 0, 0) == 0 && px(&t, 0, 0, 2) == 255 && px(&t, 0, 1, 0) == 10 &&
	   px(&t, 0, 1, 1) == 20 && px(&t, 1, 1, 0) == 200 && px(&t, 1, 1, 1) == 100 &&
	   px(&t, 1, 1, 2) == 50, "palette expanded, transparency dropped");
	xf_tensor_release(&t);
	/* (200, 100, 50): 3919000 + 3847000 + 373550 + 32768 = 8172318 >> 16 = 124 */
	ok(decode(&m, "pal.png", true, &t) == 0 && px(&t, 1, 0, 0) == 124, "palette PNG as gray: 124");
	xf_tensor_release(&t);
	mem_free(&m);
}

/*
 * 16-bit samples, big-endian, reduced with rounding: v * 255 / 65535 for
 * 1000 -> 3.89 -> 4, 32767 -> 127.498 -> 127, 32896 -> 128.0 -> 128, 65535 -> 255,
 * 128 -> 0.498 -> 0, 129 -> 0.502 -> 1.
 */
static void test_png_16bit(void)
{
	static const uint16_t v[6] = { 1000, 32767, 32896, 65535, 128, 129 };
	static const int want[6] = { 4, 127, 128, 255, 0, 1 };
	uint8_t be[12];
	struct png_spec sp = { .w = 6, .h = 1, .type = PNG_COLOR_TYPE_GRAY, .depth = 16, .samples = be };
	uint8_t rgb16[12] = { 0x03, 0xe8, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0x80, 0x80, 0, 0x81 };
	struct png_spec sp_rgb = { .w = 2, .h = 1, .type = PNG_COLOR_TYPE_RGB, .depth = 16,
				   .samples = rgb16 };
	struct membuf m = { 0 };
	struct xf_tensor t;

	for (int i = 0; i < 6; i++) {
		be[2 * i] = v[i] >> 8;
		be[2 * i + 1] = v[i] & 255;
	}
	make_png(&m, &sp);
	ok(decode(&m, "g16.png", true, &t) == 0 && has_shape(&t, 1, 6, 1), "16-bit gray PNG: [1,6,1]");
	for (int i = 0; i < 6; i++)
		is_int(px(&t, 0, i, 0), want[i], "16-bit sample rounded to 8 bits");
	xf_tensor_release(&t);
	mem_free(&m);
	make_png(&m, &sp_rgb);
	ok(decode(&m, "rgb16.png", false, &t) == 0 && px(&t, 0, 0, 0) == 4 && px(&t, 0, 0, 1) == 127 &&
	   px(&t, 0, 0, 2) == 255 && px(&t, 0, 1, 0) == 0 && px(&t, 0, 1, 1) == 128 &&
	   px(&t, 0, 1, 2) == 1, "16-bit RGB PNG rounded per channel");
	xf_tensor_release(&t);
	mem_free(&m);
}

static void test_png_alpha(void)
{
	static const uint8_t rgba[8] = { 10, 20, 30, 0, 40, 50, 60, 255 };
	static const uint8_t ga[4] = { 77, 0, 99, 128 };
	struct png_spec sp = { .w = 2, .h = 1, .type = PNG_COLOR_TYPE_RGBA, .depth = 8, .samples = rgba };
	struct png_spec sp_ga = { .w = 2, .h = 1, .type = PNG_COLOR_TYPE_GRAY_ALPHA, .depth = 8,
				  .samples = ga };
	struct membuf m = { 0 };
	struct xf_tensor t;

	make_png(&m, &sp);
	ok(decode(&m, "rgba.png", false, &t) == 0 && has_shape(&t, 1, 2, 3) && px(&t, 0, 0, 0) == 10 &&
	   px(&t, 0, 0, 2) == 30 && px(&t, 0, 1, 1) == 50, "RGBA PNG: alpha dropped, colour kept");
	xf_tensor_release(&t);
	mem_free(&m);
	make_png(&m, &sp_ga);
	ok(decode(&m, "ga.png", true, &t) == 0 && has_shape(&t, 1, 2, 1) && px(&t, 0, 0, 0) == 77 &&
	   px(&t, 0, 1, 0) == 99, "gray+alpha PNG: alpha dropped");
	xf_tensor_release(&t);
	mem_free(&m);
}

static void test_png_interlaced_and_1bit(void)
{
	uint8_t rgb[5 * 7 * 3], bits[2] = { 0xa0, 0x40 };   /* rows 1 0 1, 0 1 0 */
	struct png_spec sp = { .w = 7, .h = 5, .type = PNG_COLOR_TYPE_RGB, .depth = 8,
			       .interlace = true, .samples = rgb };
	struct png_spec sp1 = { .w = 3, .h = 2, .type = PNG_COLOR_TYPE_GRAY, .depth = 1, .samples = bits };
	struct membuf m = { 0 };
	struct xf_tensor t;
	bool same = true;

	for (int i = 0; i < (int)sizeof(rgb); i++)
		rgb[i] = (uint8_t)(i * 7 + 3);
	make_png(&m, &sp);
	ok(decode(&m, "adam7.png", false, &t) == 0 && has_shape(&t, 5, 7, 3), "interlaced PNG: [5,7,3]");
	for (int i = 0; i < (int)sizeof(rgb); i++)
		same = same && ((uint8_t *)t.data)[i] == rgb[i];
	ok(same, "interlaced PNG samples exact");
	xf_tensor_release(&t);
	mem_free(&m);
	make_png(&m, &sp1);
	ok(decode(&m, "bits.png", true, &t) == 0 && has_shape(&t, 2, 3, 1) && px(&t, 0, 0, 0) == 255 &&
	   px(&t, 0, 1, 0) == 0 && px(&t, 0, 2, 0) == 255 && px(&t, 1, 1, 0) == 255 &&
	   px(&t, 1, 2, 0) == 0, "1-bit gray PNG scaled to 0/255");
	xf_tensor_release(&t);
	mem_free(&m);
}

/* A fixture written by Python's zlib, not libpng: one PNG filter type per row. */
static void test_png_fixture(void)
{
	const char *path = XF_TEST_DATA "/images/filters-3x5-rgb.png";
	struct membuf m = { 0 };
	struct xf_tensor t;
	uint8_t chunk[256];
	bool same = true;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!ok(f != NULL, "open %s", path))
		return;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mem_put(&m, chunk, n);
	fclose(f);
	ok(decode(&m, "filters-3x5-rgb.png", false, &t) == 0 && has_shape(&t, 5, 3, 3),
	   "independently written PNG: [5,3,3]");
	for (int y = 0; y < 5; y++)
		for (int x = 0; x < 3; x++)
			for (int c = 0; c < 3; c++)
				same = same && px(&t, y, x, c) == (37 * y + 91 * x + 53 * c) % 256;
	ok(same, "all five PNG row filters decode exactly");
	xf_tensor_release(&t);
	mem_free(&m);
}

static void test_jpeg(void)
{
	static const uint8_t colour[3] = { 200, 100, 50 }, level = 128;
	struct membuf m = { 0 };
	struct xf_tensor t;
	int worst = 0;

	make_jpeg(&m, 16, 8, 3, colour, false);
	ok(decode(&m, "u.jpg", false, &t) == 0 && has_shape(&t, 8, 16, 3), "RGB JPEG: [8,16,3]");
	for (int64_t i = 0; i < 8 * 16 * 3; i++) {
		int d = abs(((uint8_t *)t.data)[i] - colour[i % 3]);
		worst = d > worst ? d : worst;
	}
	ok(worst <= 2, "uniform RGB JPEG within 2 of (200,100,50) (worst %d)", worst);
	xf_tensor_release(&t);
	/* luma 124 as for the palette test; the decoded colour may be off by 2 */
	ok(decode(&m, "u.jpg", true, &t) == 0 && has_shape(&t, 8, 16, 1) &&
	   abs(px(&t, 3, 5, 0) - 124) <= 2,
	   "RGB JPEG as gray: about 124");
	xf_tensor_release(&t);
	mem_free(&m);

	make_jpeg(&m, 9, 9, 1, &level, true);
	ok(decode(&m, "g.jpg", true, &t) == 0 && has_shape(&t, 9, 9, 1) &&
	   abs(px(&t, 4, 4, 0) - 128) <= 1 && abs(px(&t, 8, 8, 0) - 128) <= 1,
	   "progressive gray JPEG: [9,9,1], about 128");
	xf_tensor_release(&t);
	ok(decode(&m, "g.jpg", false, &t) == 0 && has_shape(&t, 9, 9, 3) &&
	   px(&t, 2, 2, 0) == px(&t, 2, 2, 1) && px(&t, 2, 2, 1) == px(&t, 2, 2, 2),
	   "gray JPEG as RGB: channels equal");
	xf_tensor_release(&t);
	mem_free(&m);
}

static int decode_str(const char *s, size_t len, bool gray, struct xf_tensor *t, struct xf_err *err)
{
	return xf_image_decode(s, len, "x.pnm", gray, t, err);
}

/* P2 maxval 10: 3 -> (3*255 + 5) / 10 = 77 (76.5 rounds up), 10 -> 255, 7 -> 1790/10 = 179. */
static void test_pnm(void)
{
	static const char p5[] = "P5\n# comment\n3 1\n255\n\x00\x80\xff";
	static const char p2[] = "P2 3 1 10 # comment\n3 10\n7\n";
	static const char p6[] = "P6 2 1 255\n\x01\x02\x03\xfa\xfb\xfc";
	static const char p3[] = "P3\n1 1\n255\n255 0 0\n";
	static const char p5_16[] = "P5 2 1 65535\n\x03\xe8\xff\xff";
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t;

	ok(decode_str(p5, sizeof(p5) - 1, true, &t, &err) == 0 && has_shape(&t, 1, 3, 1) &&
	   px(&t, 0, 0, 0) == 0 && px(&t, 0, 1, 0) == 128 && px(&t, 0, 2, 0) == 255,
	   "PGM P5 with a comment");
	xf_tensor_release(&t);
	ok(decode_str(p2, sizeof(p2) - 1, true, &t, &err) == 0 && has_shape(&t, 1, 3, 1) &&
	   px(&t, 0, 0, 0) == 77 && px(&t, 0, 1, 0) == 255 && px(&t, 0, 2, 0) == 179,
	   "PGM P2, maxval 10 scaled with rounding");
	xf_tensor_release(&t);
	ok(decode_str(p6, sizeof(p6) - 1, false, &t, &err) == 0 && has_shape(&t, 1, 2, 3) &&
	   px(&t, 0, 0, 2) == 3 && px(&t, 0, 1, 0) == 250 && px(&t, 0, 1, 2) == 252, "PPM P6");
	xf_tensor_release(&t);
	ok(decode_str(p3, sizeof(p3) - 1, true, &t, &err) == 0 && px(&t, 0, 0, 0) == 76,
	   "PPM P3 red as gray: 76");
	xf_tensor_release(&t);
	ok(decode_str(p5_16, sizeof(p5_16) - 1, false, &t, &err) == 0 && has_shape(&t, 1, 2, 3) &&
	   px(&t, 0, 0, 0) == 4 && px(&t, 0, 1, 1) == 255, "16-bit PGM: 1000 -> 4, 65535 -> 255");
	xf_tensor_release(&t);
}

/* Expects XF_E_FORMAT (or another code) with a message starting "'name': ". */
static void expect_error(const void *bytes, size_t len, const char *name, int code,
			 const char *what)
{
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t = XF_TENSOR_INIT;
	char prefix[128];
	int rc = xf_image_decode(bytes, len, name, false, &t, &err);

	snprintf(prefix, sizeof(prefix), "'%s': ", name);
	ok(rc == -1 && err.code == code && starts_with(err.msg, prefix) && t.data == NULL,
	   "%s: error %d, '%s'", what, err.code, err.msg);
	xf_tensor_release(&t);
}

static size_t find_bytes(const struct membuf *m, const void *what, size_t n)
{
	for (size_t i = 0; i + n <= m->len; i++)
		if (!memcmp(m->data + i, what, n))
			return i;
	return SIZE_MAX;
}

static void test_decode_errors(void)
{
	uint8_t rgb[5 * 7 * 3] = { 0 };
	struct png_spec sp = { .w = 7, .h = 5, .type = PNG_COLOR_TYPE_RGB, .depth = 8,
			       .interlace = true, .samples = rgb };
	struct png_spec huge = { .w = 20000, .h = 20000, .type = PNG_COLOR_TYPE_GRAY, .depth = 8,
				 .header_only = true };
	struct membuf png = { 0 }, jpg = { 0 }, big = { 0 };
	static const char pgm_short[] = "P5 4 4 255\n\x01\x02";
	static const char pgm_above[] = "P2 2 1 10\n3 11\n";
	static const char pgm_bad[] = "P5 -3 4 255\n";
	static const char pgm_huge[] = "P5\n20000 20000\n255\n";
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor t;
	size_t at;

	capture_stderr();
	make_png(&png, &sp);
	expect_error(png.data, png.len / 2, "half.png", XF_E_FORMAT, "PNG cut in half");
	expect_error(png.data, 20, "short.png", XF_E_FORMAT, "PNG cut inside IHDR");
	at = find_bytes(&png, "IDAT", 4);
	png.data[at + 8] ^= 0x55;
	expect_error(png.data, png.len, "crc.png", XF_E_FORMAT, "PNG with a flipped IDAT byte");
	make_png(&big, &huge);
	mem_put(&big, "\0\0\0\0IDAT", 8);   /* libpng reads the header up to the first IDAT */
	expect_error(big.data, big.len, "huge.png", XF_E_LIMIT, "PNG of 20000x20000 pixels refused");
	big.len = 0;

	make_jpeg(&jpg, 64, 64, 3, NULL, false);
	expect_error(jpg.data, jpg.len / 2, "half.jpg", XF_E_FORMAT, "JPEG cut in half");
	expect_error(jpg.data, 10, "short.jpg", XF_E_FORMAT, "JPEG cut inside its header");
	at = find_bytes(&jpg, "\xff\xc0", 2);             /* SOF0: length, precision, height, width */
	memcpy(jpg.data + at + 5, "\x4e\x20\x4e\x20", 4); /* 20000 x 20000 */
	expect_error(jpg.data, jpg.len, "huge.jpg", XF_E_LIMIT, "JPEG of 20000x20000 pixels refused");
	mem_free(&jpg);
	make_jpeg(&jpg, 8, 8, 3, rgb, false);
	at = find_bytes(&jpg, "\xff\xc0", 2);
	mem_put(&big, jpg.data, at);
	mem_put(&big, "\x00\x01\x02", 3);             /* "extraneous bytes before marker" */
	mem_put(&big, jpg.data + at, jpg.len - at);
	ok(xf_image_decode(big.data, big.len, "stray.jpg", false, &t, &err) == 0 &&
	   has_shape(&t, 8, 8, 3), "JPEG with stray bytes between markers decodes (a libjpeg warning)");
	xf_tensor_release(&t);
	memset(jpg.data + 3, 0x5a, jpg.len - 3);
	expect_error(jpg.data, jpg.len, "garbage.jpg", XF_E_FORMAT, "JPEG magic then garbage");

	expect_error("hello, world", 12, "hello.png", XF_E_FORMAT, "text named .png");
	expect_error("", 0, "empty", XF_E_FORMAT, "empty buffer");
	expect_error(pgm_short, sizeof(pgm_short) - 1, "short.pgm", XF_E_FORMAT, "PGM raster too short");
	expect_error(pgm_above, sizeof(pgm_above) - 1, "above.pgm", XF_E_FORMAT,
		     "PGM sample above maxval");
	expect_error(pgm_bad, sizeof(pgm_bad) - 1, "bad.pgm", XF_E_FORMAT, "PGM with a negative width");
	expect_error(pgm_huge, sizeof(pgm_huge) - 1, "huge.pgm", XF_E_LIMIT, "PGM of 20000x20000 refused");
	expect_silent_stderr("corrupt images");
	mem_free(&png);
	mem_free(&jpg);
	mem_free(&big);
}

/* ---- resize ---- */

static void make_u8(struct xf_tensor *t, int64_t h, int64_t w, int64_t c, const uint8_t *v)
{
	int64_t shape[3] = { h, w, c };

	xf_tensor_alloc(t, XF_DTYPE_U8, 3, shape, NULL);
	memcpy(t->data, v, h * w * c);
}

static bool same_values(const struct xf_tensor *t, const uint8_t *want, int64_t n)
{
	bool same = true;

	for (int64_t i = 0; i < n; i++) {
		if (((uint8_t *)t->data)[i] != want[i]) {
			printf("#   element %lld: got %d, want %d\n", (long long)i,
			       ((uint8_t *)t->data)[i], want[i]);
			same = false;
		}
	}
	return same;
}

/*
 * 2x2 -> 4x4, scale 2/4 = 0.5: src = (d + 0.5) * 0.5 - 0.5 = -0.25 (clamped to 0), 0.25,
 * 0.75, 1.25 (i0 = 1, i1 clamped to 1). So the weights (lower, upper) along each axis are
 * (1, 0), (.75, .25), (.25, .75), (0, 1). Input [[0, 100], [200, 40]]:
 *   row 0: 0, 25, 75, 100;  row 3: 200, .75*200+.25*40 = 160, .25*200+.75*40 = 80, 40;
 *   row 1 = .75 row0 + .25 row3: 50, 18.75+40 = 58.75 -> 59, 56.25+20 = 76.25 -> 76, 85;
 *   row 2 = .25 row0 + .75 row3: 150, 6.25+120 = 126.25 -> 126, 18.75+60 = 78.75 -> 79, 55.
 * 4x4 -> 2x2, scale 2: src = (d + 0.5) * 2 - 0.5 = 0.5, 2.5, so each output is the mean of
 * a 2x2 block: (0+10+20+31)/4 = 15.25 -> 15, (20+30+40+50)/4 = 35,
 * (100+101+103+104)/4 = 102, (0+0+0+255)/4 = 63.75 -> 64.
 * 1x2 -> 1x1: src = 0.5, the mean; 10.5 -> 10 and 11.5 -> 12 (ties to even).
 */
static void test_resize(void)
{
	static const uint8_t up_in[4] = { 0, 100, 200, 40 };
	static const uint8_t up_want[16] = { 0, 25, 75, 100, 50, 59, 76, 85,
					     150, 126, 79, 55, 200, 160, 80, 40 };
	static const uint8_t down_in[16] = { 0, 10, 20, 30, 20, 31, 40, 50,
					     100, 101, 0, 0, 103, 104, 0, 255 };
	static const uint8_t down_want[4] = { 15, 35, 102, 64 };
	static const uint8_t tie_in[4] = { 10, 11, 11, 12 }, tie_want[2] = { 10, 12 };
	uint8_t id_in[5 * 7 * 3];
	struct xf_tensor in, out, f = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	int64_t shape[3] = { 2, 2, 1 };

	make_u8(&in, 2, 2, 1, up_in);
	ok(xf_image_resize(&in, 4, 4, &out, &err) == 0 && has_shape(&out, 4, 4, 1) &&
	   same_values(&out, up_want, 16), "resize 2x2 -> 4x4 matches the torch formula");
	xf_tensor_release(&in);
	xf_tensor_release(&out);

	make_u8(&in, 4, 4, 1, down_in);
	ok(xf_image_resize(&in, 2, 2, &out, &err) == 0 && has_shape(&out, 2, 2, 1) &&
	   same_values(&out, down_want, 4), "resize 4x4 -> 2x2: block means, no antialias");
	xf_tensor_release(&in);
	xf_tensor_release(&out);

	make_u8(&in, 1, 2, 2, tie_in);   /* two channels: (10, 11) and (11, 12) */
	ok(xf_image_resize(&in, 1, 1, &out, &err) == 0 && has_shape(&out, 1, 1, 2) &&
	   same_values(&out, tie_want, 2), "resize rounds halves to even, per channel");
	xf_tensor_release(&in);
	xf_tensor_release(&out);

	for (int i = 0; i < (int)sizeof(id_in); i++)
		id_in[i] = (uint8_t)(i * 37 + 11);
	make_u8(&in, 5, 7, 3, id_in);
	ok(xf_image_resize(&in, 5, 7, &out, &err) == 0 && has_shape(&out, 5, 7, 3) &&
	   same_values(&out, id_in, sizeof(id_in)), "identity resize copies exactly");
	xf_tensor_release(&out);
	ok(xf_image_resize(&in, 0, 7, &out, &err) == -1 && err.code == XF_E_USAGE && out.data == NULL,
	   "resize to 0 rows refused");
	xf_tensor_release(&in);
	xf_tensor_alloc(&f, XF_DTYPE_F32, 3, shape, NULL);
	ok(xf_image_resize(&f, 4, 4, &out, &err) == -1 && err.code == XF_E_USAGE, "float tensor refused");
	xf_tensor_release(&f);
}

/* ---- image sets ---- */

struct file {
	const char *name;   /* relative path */
	struct membuf data;
};

enum {
	F_ZEBRA, F_CAT_A, F_CAT_B, F_DOG_C, F_README, F_NOTES, F_DS_STORE, F_HIDDEN, F_MACOSX, N_FILES
};

/* The dataset used for directory and archive tests: 4 images in 3 classes plus junk. */
static void make_files(struct file *files)
{
	static const uint8_t a[12] = { 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255 };
	static const uint8_t z[4] = { 1, 2, 3, 4 }, jpeg_colour[3] = { 90, 160, 220 };
	static const char pgm[] = "P5 2 2 255\n\x00\x32\x64\x96";
	struct png_spec sa = { .w = 2, .h = 2, .type = PNG_COLOR_TYPE_RGB, .depth = 8, .samples = a };
	struct png_spec sz = { .w = 2, .h = 2, .type = PNG_COLOR_TYPE_GRAY, .depth = 8, .samples = z };
	static const char *const names[N_FILES] = {
		"Zebra/z.PNG", "cat/a.png", "cat/b.pgm", "dog/c.jpg", "README", "dog/notes.txt",
		".DS_Store", "cat/.hidden.png", "__MACOSX/cat/._a.png",
	};

	memset(files, 0, N_FILES * sizeof(*files));
	for (int i = 0; i < N_FILES; i++)
		files[i].name = names[i];
	make_png(&files[F_ZEBRA].data, &sz);
	make_png(&files[F_CAT_A].data, &sa);
	mem_put(&files[F_CAT_B].data, pgm, sizeof(pgm) - 1);
	make_jpeg(&files[F_DOG_C].data, 2, 2, 3, jpeg_colour, false);
	mem_put(&files[F_README].data, "images by class\n", 16);
	mem_put(&files[F_NOTES].data, "woof\n", 5);
	mem_put(&files[F_DS_STORE].data, "\0\0\0\1Bud1", 8);
	mem_put(&files[F_HIDDEN].data, "not an image", 12);
	mem_put(&files[F_MACOSX].data, "\0\5\26\7", 4);
}

static void free_files(struct file *files)
{
	for (int i = 0; i < N_FILES; i++)
		mem_free(&files[i].data);
}

/* Reads every image; returns the count, or -1 on error (message in err). */
static int64_t read_all(struct xf_imgset *s, struct xf_tensor *imgs, int64_t *labels,
			const char **ids, int64_t max, struct xf_err *err)
{
	int64_t n = 0;
	int rc = 0;

	while (n < max && (rc = xf_imgset_next(s, &imgs[n], &labels[n], &ids[n], err)) == 1) {
		ids[n] = strdup(ids[n]);   /* ids only live until the next call */
		n++;
	}
	if (n == max)
		rc = xf_imgset_next(s, &imgs[n], &labels[n], &ids[n], err);
	return rc < 0 ? -1 : n;
}

static void release_all(struct xf_tensor *imgs, const char **ids, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		xf_tensor_release(&imgs[i]);
		free((void *)ids[i]);
	}
}

/*
 * Checks one opened set against the fixture: `order` lists the files in the order the
 * set returns them, `prefix` is put in front of every id.
 */
static void check_set(struct xf_imgset *s, const char *what, const char *prefix, const int *order,
		      int64_t n_skipped)
{
	static const int label_of[4] = { 0, 1, 1, 2 };   /* Zebra < cat < dog in strcmp order */
	struct xf_tensor imgs[5];
	int64_t labels[5], n;
	const char *ids[5];
	struct xf_err err = XF_ERR_INIT;
	char want[64];

	is_int(xf_imgset_count(s), 4, what);
	is_int(xf_imgset_n_classes(s), 3, "three classes");
	is_str(xf_imgset_class(s, 0), "Zebra", "class 0 is Zebra (strcmp order)");
	is_str(xf_imgset_class(s, 1), "cat", "class 1 is cat");
	is_str(xf_imgset_class(s, 2), "dog", "class 2 is dog");
	ok(xf_imgset_class(s, 3) == NULL, "class 3 does not exist");
	is_int(xf_imgset_n_skipped(s), n_skipped, "non-image files skipped");
	n = read_all(s, imgs, labels, ids, 4, &err);
	if (!ok(n == 4, "%s: four images read", what))
		printf("#   %s\n", err.msg);
	for (int64_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "%s%s", prefix, order[i] == 0 ? "Zebra/z.PNG" :
			 order[i] == 1 ? "cat/a.png" : order[i] == 2 ? "cat/b.pgm" : "dog/c.jpg");
		is_str(ids[i], want, "id");
		is_int(labels[i], label_of[order[i]], "label");
		ok(has_shape(&imgs[i], 2, 2, 3), "image is [2,2,3]");
		if (order[i] == 1)
			ok(px(&imgs[i], 0, 0, 0) == 255 && px(&imgs[i], 0, 1, 1) == 255 &&
			   px(&imgs[i], 1, 0, 2) == 255 && px(&imgs[i], 0, 0, 1) == 0, "cat/a.png pixels");
		if (order[i] == 3)
			ok(abs(px(&imgs[i], 1, 1, 2) - 220) <= 2, "dog/c.jpg blue about 220");
	}
	release_all(imgs, ids, n);
	ok(xf_imgset_next(s, &imgs[0], &labels[0], &ids[0], &err) == 0, "still done after the end");
}

static void test_dir(const char *tmp, const struct file *files)
{
	static const int sorted[4] = { 0, 1, 2, 3 };
	struct xf_imgset_opts opts = XF_IMGSET_OPTS_INIT;
	struct xf_err err = XF_ERR_INIT;
	struct xf_tensor imgs[5];
	int64_t labels[5], n;
	const char *ids[5];
	struct xf_imgset *s;
	char dir[PATH_SIZE];

	path_in(dir, tmp, "tree");
	for (int i = 0; i < N_FILES; i++)
		write_file(dir, files[i].name, files[i].data.data, files[i].data.len);
	if (!ok(xf_imgset_open(dir, &opts, &s, &err) == 0, "open a directory")) {
		printf("#   %s\n", err.msg);
		return;
	}
	/* README, dog/notes.txt, .DS_Store, cat/.hidden.png; __MACOSX/ is not entered */
	check_set(s, "directory: four images", "", sorted, 4);
	xf_imgset_close(s);

	opts.gray = true;
	opts.height = 3;
	opts.width = 5;
	ok(xf_imgset_open(dir, &opts, &s, &err) == 0, "open a directory with gray and 3x5");
	n = read_all(s, imgs, labels, ids, 4, &err);
	ok(n == 4 && has_shape(&imgs[0], 3, 5, 1) && has_shape(&imgs[3], 3, 5, 1),
	   "all resized to [3,5,1]");
	/* z.PNG [[1,2],[3,4]] to 3x5: corner (0,0) samples (0,0); (2,4) has sy 1.17, sx 1.3: (1,1) */
	ok(n == 4 && px(&imgs[0], 0, 0, 0) == 1 && px(&imgs[0], 2, 4, 0) == 4, "resized corners 1 and 4");
	/* (90,160,220): 1763550 + 6155200 + 1643620 + 32768 = 9595138 >> 16 = 146 */
	ok(n == 4 && abs(px(&imgs[3], 1, 2, 0) - 146) <= 2, "gray of the JPEG about 146");
	ok(n == 4 && px(&imgs[2], 2, 4, 0) == 150 && px(&imgs[1], 0, 0, 0) == 76,
	   "gray of the PGM and the red PNG pixel");
	release_all(imgs, ids, n > 0 ? n : 0);
	xf_imgset_close(s);
}

/* Builds an archive at path; returns -1 when this libarchive cannot write that filter. */
static int make_archive(const char *path, const char *kind, const struct file *files,
			const int *order, int n, const char *prefix)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	char name[256];
	int r = ARCHIVE_OK;

	if (!strcmp(kind, "zip"))
		r = archive_write_set_format_zip(a);
	else
		r = archive_write_set_format_pax_restricted(a);
	if (!strcmp(kind, "tar.gz"))
		r = archive_write_add_filter_gzip(a);
	else if (!strcmp(kind, "tar.xz"))
		r = archive_write_add_filter_xz(a);
	else if (!strcmp(kind, "tar.zst"))
		r = archive_write_add_filter_zstd(a);
	if (r != ARCHIVE_OK || archive_write_open_filename(a, path) != ARCHIVE_OK) {
		archive_entry_free(e);
		archive_write_free(a);
		return -1;
	}
	snprintf(name, sizeof(name), "%s", prefix[0] ? prefix : "./");
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	archive_write_header(a, e);
	for (int i = 0; i < n; i++) {
		const struct file *f = &files[order[i]];
		archive_entry_clear(e);
		snprintf(name, sizeof(name), "%s%s", prefix, f->name);
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)f->data.len);
		archive_write_header(a, e);
		archive_write_data(a, f->data.data, f->data.len);
	}
	archive_entry_free(e);
	r = archive_write_close(a);
	archive_write_free(a);
	return r == ARCHIVE_OK ? 0 : -1;
}

static void test_archives(const char *tmp, const struct file *files)
{
	static const int write_order[N_FILES] = { F_DOG_C, F_README, F_CAT_B, F_MACOSX, F_ZEBRA,
						  F_HIDDEN, F_CAT_A, F_NOTES, F_DS_STORE };
	static const int read_order[4] = { 3, 2, 0, 1 };   /* images in write order */
	static const char *const kinds[] = { "tar.gz", "zip", "tar.xz", "tar.zst" };
	struct xf_err err = XF_ERR_INIT;
	struct xf_imgset *s;
	char path[PATH_SIZE], what[64];

	for (int k = 0; k < 4; k++) {
		const char *prefix = k == 1 ? "./" : "set/";
		path_in(path, tmp, "set.");
		strcat(path, kinds[k]);
		if (make_archive(path, kinds[k], files, write_order, N_FILES, prefix) < 0) {
			ok(k >= 2, "# skip this libarchive cannot write %s", kinds[k]);
			continue;
		}
		snprintf(what, sizeof(what), "%s: four images", kinds[k]);
		if (!ok(xf_imgset_open(path, NULL, &s, &err) == 0, "open a %s", kinds[k])) {
			printf("#   %s\n", err.msg);
			continue;
		}
		/* README, notes.txt, .DS_Store, .hidden.png and the __MACOSX entry */
		check_set(s, what, prefix, read_order, 5);
		xf_imgset_close(s);
	}
}

/* Opens path and reads to the end; returns the first error code (0 if none) and message. */
static int try_set(const char *path, const struct xf_imgset_opts *opts, struct xf_err *err)
{
	struct xf_imgset *s;
	struct xf_tensor t;
	int64_t label;
	const char *id;
	int rc;

	*err = (struct xf_err)XF_ERR_INIT;
	if (xf_imgset_open(path, opts, &s, err) < 0)
		return s == NULL ? err->code : -100;
	while ((rc = xf_imgset_next(s, &t, &label, &id, err)) == 1)
		xf_tensor_release(&t);
	xf_imgset_close(s);
	return rc < 0 ? err->code : 0;
}

static void tar_header(uint8_t h[512], const char *name, unsigned long long size)
{
	unsigned sum = 0;

	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	snprintf((char *)h + 124, 12, "%011llo", size);
	memcpy(h + 136, "00000000000", 12);
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

static void test_set_errors(const char *tmp, const struct file *files)
{
	static const uint8_t g4[4] = { 9, 9, 9, 9 }, g6[6] = { 9, 9, 9, 9, 9, 9 };
	struct png_spec s22 = { .w = 2, .h = 2, .type = PNG_COLOR_TYPE_GRAY, .depth = 8, .samples = g4 };
	struct png_spec s32 = { .w = 2, .h = 3, .type = PNG_COLOR_TYPE_GRAY, .depth = 8, .samples = g6 };
	struct xf_imgset_opts opts = XF_IMGSET_OPTS_INIT;
	struct membuf p22 = { 0 }, p32 = { 0 };
	struct xf_err err = XF_ERR_INIT;
	uint8_t tar[3 * 512] = { 0 };
	char dir[PATH_SIZE], want[4200];

	make_png(&p22, &s22);
	make_png(&p32, &s32);
	path_in(dir, tmp, "mixed");
	write_file(dir, "a/1.png", p22.data, p22.len);
	write_file(dir, "a/2.png", p32.data, p32.len);
	ok(try_set(dir, &opts, &err) == XF_E_FORMAT, "images of different sizes: error");
	is_str(err.msg, "'a/2.png' is 3x2, the first image was 2x2; use --size HxW", "size message");
	opts.height = opts.width = 2;
	ok(try_set(dir, &opts, &err) == 0, "the same with a 2x2 resize: fine");
	opts.width = 0;
	ok(try_set(dir, &opts, &err) == XF_E_USAGE, "height without width: usage error");

	path_in(dir, tmp, "orphan");
	write_file(dir, "a/1.png", p22.data, p22.len);
	write_file(dir, "x.png", p22.data, p22.len);
	ok(try_set(dir, NULL, &err) == XF_E_FORMAT && starts_with(err.msg, "'x.png': "),
	   "image without a class directory: '%s'", err.msg);

	path_in(dir, tmp, "empty");
	write_file(dir, "README", "x", 1);
	snprintf(want, sizeof(want), "no images found in '%s'", dir);
	ok(try_set(dir, NULL, &err) == XF_E_FORMAT, "no images: error");
	is_str(err.msg, want, "no images message");

	path_in(dir, tmp, "corrupt");
	write_file(dir, "a/1.png", files[F_HIDDEN].data.data, files[F_HIDDEN].data.len);
	ok(try_set(dir, NULL, &err) == XF_E_FORMAT && starts_with(err.msg, "'a/1.png': "),
	   "undecodable image names its id: '%s'", err.msg);

	path_in(dir, tmp, "missing");
	ok(try_set(dir, NULL, &err) == XF_E_IO, "missing path: I/O error");
	path_in(dir, tmp, "empty/README");
	ok(try_set(dir, NULL, &err) == XF_E_FORMAT, "a text file is not an archive: '%s'", err.msg);

	/* a tar entry claiming 300 MiB is refused from its header */
	tar_header(tar, "c/x.png", 300ull << 20);
	path_in(dir, tmp, "liar.tar");
	write_file(tmp, "liar.tar", tar, sizeof(tar));
	ok(try_set(dir, NULL, &err) == XF_E_LIMIT, "tar entry of 300 MiB refused: '%s'", err.msg);
	/* one claiming 1 MiB with 512 bytes present is a truncated archive */
	tar_header(tar, "c/x.png", 1ull << 20);
	write_file(tmp, "liar.tar", tar, sizeof(tar));
	ok(try_set(dir, NULL, &err) == XF_E_FORMAT, "truncated tar entry: '%s'", err.msg);
	mem_free(&p22);
	mem_free(&p32);
}

static void test_image_sets(void)
{
	struct file files[N_FILES];
	char tmp[PATH_SIZE];

	if (!ok(scratch_make(tmp, sizeof(tmp), "test-image"), "make a scratch directory"))
		return;
	make_files(files);
	capture_stderr();
	test_dir(tmp, files);
	test_archives(tmp, files);
	test_set_errors(tmp, files);
	expect_silent_stderr("image sets");
	free_files(files);
	scratch_remove(tmp);
}

/* ---- the shared MNIST sample, checked pixel for pixel against the .npy arrays ---- */

/* The uint8 payload of a version-1 .npy file (header length at bytes 8-9), or NULL. */
static uint8_t *load_npy(const char *path, size_t want, struct membuf *m)
{
	uint8_t chunk[65536];
	size_t n, off;
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mem_put(m, chunk, n);
	fclose(f);
	if (m->len < 10)
		return NULL;
	off = 10 + (m->data[8] | m->data[9] << 8);
	return m->len == off + want ? m->data + off : NULL;
}

static void test_mnist(void)
{
	const char *path = SHARED_DATA "/mnist-png-1000.tar.gz";
	struct xf_imgset_opts opts = { .gray = true };
	struct membuf npy = { 0 }, npy_labels = { 0 };
	struct xf_err err = XF_ERR_INIT;
	int64_t n = 0, bad_shape = 0, bad_label = 0, bad_pixels = 0, label;
	struct xf_imgset *s;
	struct xf_tensor t;
	const uint8_t *ref, *ref_labels;
	const char *id;
	char name[2];
	int rc;

	if (!file_exists(path)) {
		ok(1, "# skip %s is absent", path);
		return;
	}
	ref = load_npy(SHARED_DATA "/mnist10k-images.npy", 10000 * 784, &npy);
	ref_labels = load_npy(SHARED_DATA "/mnist10k-labels.npy", 10000, &npy_labels);
	if (!ok(xf_imgset_open(path, &opts, &s, &err) == 0, "open %s", path)) {
		printf("#   %s\n", err.msg);
		return;
	}
	is_int(xf_imgset_count(s), 1000, "MNIST sample: 1000 images");
	is_int(xf_imgset_n_classes(s), 10, "MNIST sample: 10 classes");
	for (int i = 0; i < 10 && i < xf_imgset_n_classes(s); i++) {
		snprintf(name, sizeof(name), "%d", i);
		is_str(xf_imgset_class(s, i), name, "MNIST class name is its digit");
	}
	while ((rc = xf_imgset_next(s, &t, &label, &id, &err)) == 1) {
		const char *slash = strrchr(id, '/');
		long row = slash ? strtol(slash + 1, NULL, 10) : -1;
		n++;
		bad_shape += !has_shape(&t, 28, 28, 1);
		bad_label += slash == NULL || slash[-1] != '0' + label;
		if (ref && ref_labels && row >= 0 && row < 10000)
			bad_pixels += memcmp(t.data, ref + row * 784, 784) != 0 ||
				      ref_labels[row] != label;
		xf_tensor_release(&t);
	}
	if (!ok(rc == 0 && n == 1000, "MNIST sample: all 1000 decoded"))
		printf("#   %s\n", err.msg);
	is_int(bad_shape, 0, "MNIST sample: every image is [28,28,1]");
	is_int(bad_label, 0, "MNIST sample: every label matches its directory");
	if (ref && ref_labels)
		is_int(bad_pixels, 0, "MNIST sample: pixels and labels equal mnist10k-*.npy rows");
	else
		ok(1, "# skip mnist10k-*.npy absent");
	xf_imgset_close(s);
	mem_free(&npy);
	mem_free(&npy_labels);
}

int main(void)
{
	test_png_gray();
	test_png_rgb();
	test_png_palette();
	test_png_16bit();
	test_png_alpha();
	test_png_interlaced_and_1bit();
	test_png_fixture();
	test_jpeg();
	test_pnm();
	test_decode_errors();
	test_resize();
	test_image_sets();
	test_mnist();
	return done_testing();
}
