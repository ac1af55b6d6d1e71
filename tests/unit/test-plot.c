/*
 * Unit tests for lib/plot.c and lib/font.c: PNG plots decoded back with lib/image.h (size,
 * white background, exact class colours of a dot and a legend swatch, text ink), SVG
 * structure and element counts, non-finite points, legend truncation, argument errors,
 * and failed writes that must leave no file behind. Files go to a mkdtemp directory.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "font.h"
#include "image.h"
#include "plot.h"
#include "scratch.h"
#include "tap.h"

static char scratch[256];

/* ---- helpers ---- */

static const char *in_scratch(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", scratch, name);
	return p;
}

/* The whole file, NUL-terminated, or NULL; *size gets its length. */
static char *slurp(const char *path, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long len;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)len + 1)) && fread(buf, 1, (size_t)len, fp) == (size_t)len) {
		buf[len] = '\0';
		*size = (size_t)len;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

/* Decode a PNG file into an [H, W, 3] tensor; false (and a diagnostic) on failure. */
static bool load_png(const char *path, struct xf_tensor *img)
{
	struct xf_err err = XF_ERR_INIT;
	size_t size = 0;
	char *bytes = slurp(path, &size);
	int rc = bytes ? xf_image_decode(bytes, size, path, false, img, &err) : -1;

	if (rc < 0)
		printf("# cannot load '%s': %s\n", path, bytes ? err.msg : strerror(errno));
	free(bytes);
	return rc == 0;
}

static uint32_t pixel(const struct xf_tensor *img, int64_t y, int64_t x)
{
	const uint8_t *p = (const uint8_t *)img->data + (y * img->shape[1] + x) * 3;

	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static int64_t count_colour(const struct xf_tensor *img, uint32_t rgb)
{
	int64_t n = 0;

	for (int64_t y = 0; y < img->shape[0]; y++)
		for (int64_t x = 0; x < img->shape[1]; x++)
			n += pixel(img, y, x) == rgb;
	return n;
}

/* Longest horizontal run of colour rgb, and the x of its middle. */
static int64_t longest_run(const struct xf_tensor *img, uint32_t rgb, int64_t *mid_x)
{
	int64_t best = 0;

	for (int64_t y = 0; y < img->shape[0]; y++)
		for (int64_t x = 0, run = 0; x < img->shape[1]; x++) {
			run = pixel(img, y, x) == rgb ? run + 1 : 0;
			if (run > best) {
				best = run;
				*mid_x = x - run / 2;
			}
		}
	return best;
}

static int64_t count_substr(const char *s, const char *needle)
{
	int64_t n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* Entries in the scratch directory (temporaries left behind would show up here). */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* ---- font ---- */

static void test_font(void)
{
	const char *s = "a\xc3\xa9\xff" "b";
	bool all_inked = true;

	for (uint32_t ch = 33; ch <= 126; ch++) {
		const uint8_t *g = xf_font_glyph(ch);
		int bits = 0;
		for (int row = 0; row < XF_FONT_HEIGHT; row++)
			bits |= g[row];
		if (!bits || (bits & ~0x1f) || g[0]) {
			all_inked = false;
			printf("# glyph %u is empty, too wide or uses the top row\n", ch);
		}
	}
	ok(all_inked, "font: glyphs 33..126 are inked, 5 columns wide, top row blank");
	ok(!memcmp(xf_font_glyph(0x263a), xf_font_glyph('?'), XF_FONT_HEIGHT), "font: outside ASCII draws '?'");
	ok(!memcmp(xf_font_glyph(0xe9), xf_font_glyph('e'), XF_FONT_HEIGHT), "font: Latin-1 letters lose accents");
	is_int(xf_font_next(&s), 'a', "font: ASCII character");
	is_int(xf_font_next(&s), 0xe9, "font: two-byte UTF-8 sequence");
	is_int(xf_font_next(&s), 0xfffd, "font: malformed byte reads as U+FFFD");
	is_int(xf_font_next(&s), 'b', "font: continues after the malformed byte");
	is_int(xf_font_next(&s), 0, "font: end of string");
	is_int(xf_font_length("\xe2\x80\xa6" "and \xed\xa0\x80"), 8, "font: length counts characters");
}

/* ---- PNG ---- */

static void test_palette(void)
{
	bool distinct = true;

	for (int i = 0; i < XF_PLOT_COLOURS; i++)
		for (int j = 0; j < i; j++)
			distinct &= xf_plot_colour(i) != xf_plot_colour(j);
	ok(distinct, "palette: %d distinct colours", XF_PLOT_COLOURS);
	is_int(xf_plot_colour(XF_PLOT_COLOURS + 3), xf_plot_colour(3), "palette: cycles beyond its length");
}

/* A single point of class 2 among 3 classes: its dot and the swatches have exact colours. */
static void test_png_single_point(void)
{
	static const char *const names[] = { "zero", "one", "two" };
	struct xf_plot_opts opts = { 400, 300, "One point", 20 };
	struct xf_tensor img = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	double xy[2] = { 0.5, -0.25 };
	int64_t labels[1] = { 2 }, mid_x = -1;
	const char *path = in_scratch("one.png");

	is_int(xf_plot_png(path, xy, 1, labels, 3, names, &opts, &err), 0, "png: one point, none skipped");
	if (!ok(load_png(path, &img), "png: the file decodes"))
		return;
	ok(img.ndim == 3 && img.shape[0] == 300 && img.shape[1] == 400 && img.shape[2] == 3,
	   "png: 400 x 300 RGB");
	ok(pixel(&img, 0, 0) == 0xffffff && pixel(&img, 299, 399) == 0xffffff &&
	   pixel(&img, 0, 399) == 0xffffff && pixel(&img, 299, 0) == 0xffffff, "png: white corners");
	/* the dot has diameter 20, the swatches 7 x 7 at this size */
	ok(longest_run(&img, xf_plot_colour(2), &mid_x) >= 17, "png: the point is a dot in its class colour");
	ok(mid_x > 40 && mid_x < 300, "png: the dot lies in the plot area, left of the legend (x = %lld)",
	   (long long)mid_x);
	is_int(count_colour(&img, xf_plot_colour(0)), 49, "png: class 0 colour only in its legend swatch");
	is_int(count_colour(&img, xf_plot_colour(1)), 49, "png: class 1 colour only in its legend swatch");
	ok(count_colour(&img, 0x222222) > 100, "png: legend and title text are drawn");
	xf_tensor_release(&img);
}

/* Many points at one spot build up to the class colour; white stays where nothing is. */
static void test_png_density(void)
{
	enum { N = 5000 };
	struct xf_tensor img = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	double *xy = calloc(2 * N, sizeof(double));
	int64_t mid_x = -1, run;
	const char *path = in_scratch("dense.png");

	for (int i = 0; i < N; i++)
		xy[2 * i] = i < N / 2 ? 0 : 1;   /* two spots, no labels */
	is_int(xf_plot_png(path, xy, N, NULL, 0, NULL, NULL, &err), 0, "png: 5000 unlabelled points");
	free(xy);
	if (!ok(load_png(path, &img), "png: the file decodes"))
		return;
	is_int(img.shape[0] * 10000 + img.shape[1], 1600 * 10000 + 1600, "png: default size 1600 x 1600");
	run = longest_run(&img, xf_plot_colour(0), &mid_x);
	ok(run >= 8, "png: 2500 translucent dots at a spot saturate to the colour (run %lld)", (long long)run);
	xf_tensor_release(&img);
}

static void test_png_empty_and_nan(void)
{
	struct xf_tensor img = XF_TENSOR_INIT;
	struct xf_err err = XF_ERR_INIT;
	double xy[8] = { 0, 0, NAN, 1, 1, INFINITY, 2, 2 };
	int64_t labels[4] = { 0, 1, 0, 1 };
	struct xf_plot_opts opts = { 200, 200, NULL, 0 };

	is_int(xf_plot_png(in_scratch("empty.png"), NULL, 0, labels, 2, NULL, &opts, &err), 0,
	       "png: n = 0 makes an empty plot");
	if (ok(load_png(in_scratch("empty.png"), &img), "png: the empty plot decodes")) {
		is_int(count_colour(&img, xf_plot_colour(1)), 49, "png: the empty plot has its legend");
		xf_tensor_release(&img);
	}
	is_int(xf_plot_png(in_scratch("nan.png"), xy, 4, labels, 2, NULL, &opts, &err), 2,
	       "png: NaN and infinite points are skipped and counted");
}

/* ---- SVG ---- */

static void check_svg_structure(const char *svg, const char *what)
{
	ok(!strncmp(svg, "<?xml ", 6) && count_substr(svg, "<svg ") == 1 && ends_with(svg, "</svg>\n"),
	   "svg %s: one <svg> element, closed at the end", what);
	is_int(count_substr(svg, "<g ") + count_substr(svg, "<g>"), count_substr(svg, "</g>"),
	       "svg: groups are balanced");
	is_int(count_substr(svg, "<text"), count_substr(svg, "</text>"), "svg: texts are closed");
}

static void test_svg(void)
{
	enum { N = 9000 };
	static const char *const names[] = { "<a&b>", "caf\xc3\xa9", NULL };
	struct xf_plot_opts opts = { 800, 600, "Nine & thousand", 0 };
	struct xf_err err = XF_ERR_INIT;
	double *xy = malloc(2 * N * sizeof(double));
	int64_t *labels = malloc(N * sizeof(int64_t));
	size_t size = 0;
	char *svg;

	for (int i = 0; i < N; i++) {
		labels[i] = i % 3;
		xy[2 * i] = cos(i * 0.01) * (1 + labels[i]);
		xy[2 * i + 1] = sin(i * 0.013);
	}
	xy[2 * 7] = NAN;
	is_int(xf_plot_file(in_scratch("p.SVG"), xy, N, labels, 3, names, &opts, &err), 1,
	       "svg: written by suffix, one NaN point skipped");
	svg = slurp(in_scratch("p.SVG"), &size);
	if (!ok(svg != NULL, "svg: the file exists"))
		return;
	check_svg_structure(svg, "9000 points");
	is_int(count_substr(svg, "<circle "), N - 1, "svg: one circle per drawn point");
	is_int(count_substr(svg, "<text"), 3 + 2, "svg: three legend texts, title and footer");
	ok(strstr(svg, ">&lt;a&amp;b&gt;</text>") && strstr(svg, ">Nine &amp; thousand</text>"),
	   "svg: text is escaped");
	ok(strstr(svg, ">caf\xc3\xa9</text>") && strstr(svg, ">2</text>"), "svg: UTF-8 names and default names");
	ok(strstr(svg, ">8999 points (1 skipped: not finite)</text>") != NULL, "svg: footer counts points");
	ok(size < 70 * (size_t)N, "svg: about 40 bytes per point (%zu bytes)", size);
	free(svg);
	free(xy);
	free(labels);
}

static void test_svg_many_classes(void)
{
	enum { N = 500, C = 100 };
	struct xf_err err = XF_ERR_INIT;
	double xy[2 * N];
	int64_t labels[N];
	size_t size = 0;
	char *svg;

	for (int i = 0; i < N; i++) {
		labels[i] = i % C;
		xy[2 * i] = i % 23;
		xy[2 * i + 1] = i % 17;
	}
	is_int(xf_plot_svg(in_scratch("many.svg"), xy, N, labels, C, NULL, NULL, &err), 0, "svg: 100 classes");
	svg = slurp(in_scratch("many.svg"), &size);
	if (!ok(svg != NULL, "svg: the file exists"))
		return;
	check_svg_structure(svg, "100 classes");
	is_int(count_substr(svg, "<text"), 40 + 1, "svg: legend cut to 40 lines, plus the footer");
	ok(strstr(svg, ">...and 61 more</text>") != NULL, "svg: the last legend line counts the rest");
	free(svg);
}

/* ---- errors and files ---- */

static void test_errors(void)
{
	struct xf_err err = XF_ERR_INIT;
	double xy[4] = { 0, 0, 1, 1 };
	int64_t bad[2] = { 0, 3 };
	struct xf_plot_opts tiny = { 10, 400, NULL, 0 };
	char dir_target[600];
	int before;

	err.code = XF_E_OK;
	is_int(xf_plot_png("/nonexistent-xfer-dir/p.png", xy, 2, NULL, 0, NULL, NULL, &err), -1,
	       "errors: a missing directory fails");
	ok(err.code == XF_E_IO && strstr(err.msg, "/nonexistent-xfer-dir/p.png"),
	   "errors: XF_E_IO naming the file (%s)", err.msg);
	ok(access("/nonexistent-xfer-dir/p.png", F_OK) != 0, "errors: no file appears");

	snprintf(dir_target, sizeof(dir_target), "%s", in_scratch("dir.png"));
	mkdir(dir_target, 0777);
	before = count_entries(scratch);
	err.code = XF_E_OK;
	is_int(xf_plot_png(dir_target, xy, 2, NULL, 0, NULL, NULL, &err), -1,
	       "errors: renaming over a directory fails");
	is_int(err.code, XF_E_IO, "errors: as XF_E_IO");
	is_int(count_entries(scratch), before, "errors: the temporary is removed");

	if (access("/dev/full", W_OK) == 0) {
		err.code = XF_E_OK;
		is_int(xf_plot_png("/dev/full", xy, 2, NULL, 0, NULL, NULL, &err), -1,
		       "errors: a full device fails (written in place)");
		is_int(err.code, XF_E_IO, "errors: as XF_E_IO");
	}

	err.code = XF_E_OK;
	is_int(xf_plot_png(in_scratch("bad.png"), xy, 2, bad, 3, NULL, NULL, &err), -1,
	       "errors: a label outside 0..c-1 fails");
	ok(err.code == XF_E_USAGE && access(in_scratch("bad.png"), F_OK) != 0,
	   "errors: XF_E_USAGE, and no file (%s)", err.msg);
	err.code = XF_E_OK;
	is_int(xf_plot_svg(in_scratch("tiny.svg"), xy, 2, NULL, 0, NULL, &tiny, &err), -1,
	       "errors: width 10 is refused");
	is_int(err.code, XF_E_USAGE, "errors: as XF_E_USAGE");
	err.code = XF_E_OK;
	is_int(xf_plot_file(in_scratch("p.txt"), xy, 2, NULL, 0, NULL, NULL, &err), -1,
	       "errors: an unknown suffix fails");
	ok(err.code == XF_E_USAGE && access(in_scratch("p.txt"), F_OK) != 0, "errors: XF_E_USAGE, and no file");
}

/* Same input, same bytes; an existing file is replaced and no temporary is left. */
static void test_deterministic_replace(void)
{
	enum { N = 3000 };
	struct xf_err err = XF_ERR_INIT;
	double *xy = malloc(2 * N * sizeof(double));
	int64_t *labels = malloc(N * sizeof(int64_t));
	size_t size_a = 0, size_b = 0;
	char *a, *b;
	int before;

	for (int i = 0; i < N; i++) {
		labels[i] = i % 4;
		xy[2 * i] = sin(i * 1.7) + labels[i];
		xy[2 * i + 1] = cos(i * 2.3);
	}
	xf_plot_png(in_scratch("a.png"), xy, N, labels, 4, NULL, NULL, &err);
	before = count_entries(scratch);
	xf_plot_png(in_scratch("a.png"), xy, N, labels, 4, NULL, NULL, &err);
	xf_plot_png(in_scratch("b.png"), xy, N, labels, 4, NULL, NULL, &err);
	a = slurp(in_scratch("a.png"), &size_a);
	b = slurp(in_scratch("b.png"), &size_b);
	ok(a && b && size_a == size_b && !memcmp(a, b, size_a), "files: the same input gives the same PNG");
	is_int(count_entries(scratch), before + 1, "files: a.png replaced in place, no temporaries left");
	free(a);
	free(b);
	free(xy);
	free(labels);
}

/* Plotting to a symbolic link replaces the file it points at and keeps the link. */
static void test_symlink(void)
{
	struct xf_err err = XF_ERR_INIT;
	double xy[2] = { 0, 0 };
	struct stat st;
	size_t size = 0;
	char *svg;
	FILE *fp = fopen(in_scratch("target.svg"), "w");

	if (fp)
		fclose(fp);
	if (!ok(fp && symlink("target.svg", in_scratch("link.svg")) == 0, "symlink: set up link.svg"))
		return;
	is_int(xf_plot_svg(in_scratch("link.svg"), xy, 1, NULL, 0, NULL, NULL, &err), 0, "symlink: plot");
	ok(lstat(in_scratch("link.svg"), &st) == 0 && S_ISLNK(st.st_mode), "symlink: the link stays");
	svg = slurp(in_scratch("target.svg"), &size);
	ok(svg && count_substr(svg, "<circle ") == 1, "symlink: its target holds the plot");
	free(svg);
}

int main(void)
{
	if (!ok(scratch_make(scratch, sizeof(scratch), "test-plot"), "make a scratch directory"))
		return done_testing();
	test_font();
	test_palette();
	test_png_single_point();
	test_png_density();
	test_png_empty_and_nan();
	test_svg();
	test_svg_many_classes();
	test_errors();
	test_deterministic_replace();
	test_symlink();
	scratch_remove(scratch);
	return done_testing();
}
