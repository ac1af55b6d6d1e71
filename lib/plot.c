/*
 * plot: scatter plots as PNG or SVG; contracts in plot.h. One layout (frame, data-to-pixel
 * mapping, legend, title, footer) is computed from the data and options, then drawn either
 * into an RGB canvas that libpng encodes or as SVG elements. Files go through a temporary
 * that is renamed into place, so a failure leaves nothing behind.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "font.h"
#include "file_atomic.h"
#include "plot.h"
#include "png_write.h"
#include "rng.h"

#define DEFAULT_SIZE 1600
#define MIN_SIZE 64
#define MAX_SIZE 8192
#define MAX_POINT_SIZE 64      /* pixels; larger dots would make drawing 10^5 points crawl */
#define LEGEND_MAX 40          /* legend lines; the 40th says "...and N more" when c > 40 */
#define LEGEND_ROWS_MAX 20     /* lines per legend column before wrapping to the next */
#define NAME_MAX_CHARS 24      /* class names longer than this are shortened with "..." */
#define TITLE_MAX_CHARS 200
#define TEXT_CAP (4 * TITLE_MAX_CHARS + 8)   /* bytes of any fitted text, as UTF-8 */
#define SHUFFLE_SEED 0x706c6f74u             /* "plot": the same input draws the same picture */
#define SVG_ROUND_POINTS 4096                /* SVG points per round of class groups */
#define SVG_ROUNDS_MAX 16

#define WHITE 0xffffff
#define INK 0x222222           /* title and legend text */
#define MUTED 0x777777         /* footer text and the "...and N more" line */
#define MUTED_HEX "777777"
#define RULE 0xb0b0b0          /* frame and legend box lines */

/*
 * Tableau 10 (matplotlib's default cycle), then ten further colours chosen to stay apart
 * from those and from each other on white, taken from Kelly's colours of maximum contrast
 * and Trubetskoy's 20-colour list.
 */
static const uint32_t palette[XF_PLOT_COLOURS] = {
	0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
	0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
	0x000075, 0x800000, 0x808000, 0x469990, 0xf032e6,
	0x8db600, 0x222222, 0xa1caf1, 0xf99379, 0xc2b280,
};

uint32_t xf_plot_colour(int64_t k)
{
	int64_t i = k % XF_PLOT_COLOURS;

	return palette[i < 0 ? -i : i];
}

/* ---- the data and its layout ---- */

struct layout {
	int w, h;                  /* image size */
	int s;                     /* text scale: a character cell is 6s x 10s pixels */
	double r, alpha;           /* dot radius in pixels and opacity */
	double k;                  /* pixels per data unit, on both axes */
	double cx, cy;             /* pixel position of the data point (xmid, ymid) */
	double xmid, ymid;         /* centre of the data extent; px = cx + k * (x - xmid) */
	int fx, fy, fw, fh;        /* frame around the data area */
	int ts, tx, ty, tw;        /* title scale, top-left corner and width */
	char title[TEXT_CAP];      /* fitted title; "" for none */
	int foot_x, foot_y;        /* footer top-left corner */
	char foot[TEXT_CAP];       /* "N points", and skipped ones */
	int lx, ly, lw, lh;        /* legend box; lw = 0 without a legend */
	int64_t entries, more;     /* legend lines, and classes left out (0 if all are listed) */
	int rows, col_w, pad, line;   /* lines per column, column pitch, inner margin, line pitch */
	int name_chars;            /* names are fitted to this many characters */
};

struct plot {
	const double *xy;          /* n x 2, row-major */
	int64_t n;
	const int64_t *labels;     /* NULL: one colour, no legend */
	int64_t c;                 /* classes listed in the legend (0 without labels) */
	const char *const *names;  /* c names or NULL */
	int64_t drawn, skipped;    /* points with finite coordinates, and the others */
	double xmin, xmax, ymin, ymax;   /* extent of the drawn points */
	int64_t *order;            /* drawing order: a fixed-seed shuffle of 0..n-1 */
	struct layout lay;
};

static bool point_ok(const struct plot *p, int64_t i)
{
	return isfinite(p->xy[2 * i]) && isfinite(p->xy[2 * i + 1]);
}

static int64_t label_of(const struct plot *p, int64_t i)
{
	return p->labels ? p->labels[i] : 0;
}

static int check_size(int *v, const char *what, struct xf_err *err)
{
	if (*v == 0)
		*v = DEFAULT_SIZE;
	if (*v < MIN_SIZE || *v > MAX_SIZE)
		return xf_err_set(err, XF_E_USAGE, "plot %s %d is outside %d..%d", what, *v,
				  MIN_SIZE, MAX_SIZE);
	return 0;
}

static int check_args(const struct plot *p, struct xf_plot_opts *o, struct xf_err *err)
{
	if (p->n < 0)
		return xf_err_set(err, XF_E_USAGE, "plot: negative number of points (%" PRId64 ")", p->n);
	if (p->n > 0 && !p->xy)
		return xf_err_set(err, XF_E_USAGE, "plot: %" PRId64 " points but no coordinates", p->n);
	if (check_size(&o->width, "width", err) < 0 || check_size(&o->height, "height", err) < 0)
		return -1;
	if (!(o->point_size >= 0) || o->point_size > MAX_POINT_SIZE)
		return xf_err_set(err, XF_E_USAGE, "plot point size %g is outside 0..%d", o->point_size,
				  MAX_POINT_SIZE);
	if (p->labels && p->c < 0)
		return xf_err_set(err, XF_E_USAGE, "plot: %" PRId64 " classes", p->c);
	for (int64_t i = 0; p->labels && i < p->n; i++)
		if (p->labels[i] < 0 || p->labels[i] >= p->c)
			return xf_err_set(err, XF_E_USAGE, "plot: point %" PRId64 " has label %" PRId64
					  ", outside 0..%" PRId64, i, p->labels[i], p->c - 1);
	return 0;
}

/* Extent of the finite points; a plot with none shows the square -1..1. */
static int scan_extent(struct plot *p, struct xf_err *err)
{
	p->xmin = p->ymin = INFINITY;
	p->xmax = p->ymax = -INFINITY;
	for (int64_t i = 0; i < p->n; i++) {
		const double *q = p->xy + 2 * i;
		if (!point_ok(p, i)) {
			p->skipped++;
			continue;
		}
		p->xmin = fmin(p->xmin, q[0]);
		p->xmax = fmax(p->xmax, q[0]);
		p->ymin = fmin(p->ymin, q[1]);
		p->ymax = fmax(p->ymax, q[1]);
	}
	p->drawn = p->n - p->skipped;
	if (p->drawn == 0) {
		p->xmin = p->ymin = -1;
		p->xmax = p->ymax = 1;
	}
	if (!isfinite(p->xmax - p->xmin) || !isfinite(p->ymax - p->ymin))
		return xf_err_set(err, XF_E_USAGE, "plot: the coordinates span more than a double can hold");
	return 0;
}

static int make_order(struct plot *p, struct xf_err *err)
{
	size_t bytes = (size_t)(p->n > 0 ? p->n : 1) * sizeof(*p->order);
	struct xf_rng rng;

	if ((uint64_t)p->n > SIZE_MAX / sizeof(*p->order))
		return xf_err_nomem(err, SIZE_MAX);
	p->order = malloc(bytes);
	if (!p->order)
		return xf_err_nomem(err, bytes);
	for (int64_t i = 0; i < p->n; i++)
		p->order[i] = i;
	xf_rng_init(&rng, SHUFFLE_SEED, 0);
	xf_rng_shuffle(&rng, p->order, p->n);
	return 0;
}

/* ---- text fitting ---- */

static size_t put_utf8(char *out, uint32_t ch)
{
	if (ch < 0x80) {
		out[0] = (char)ch;
		return 1;
	}
	if (ch < 0x800) {
		out[0] = (char)(0xc0 | ch >> 6);
		out[1] = (char)(0x80 | (ch & 0x3f));
		return 2;
	}
	if (ch < 0x10000) {
		out[0] = (char)(0xe0 | ch >> 12);
		out[1] = (char)(0x80 | (ch >> 6 & 0x3f));
		out[2] = (char)(0x80 | (ch & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | ch >> 18);
	out[1] = (char)(0x80 | (ch >> 12 & 0x3f));
	out[2] = (char)(0x80 | (ch >> 6 & 0x3f));
	out[3] = (char)(0x80 | (ch & 0x3f));
	return 4;
}

/*
 * Copy at most max_chars characters of s into out (TEXT_CAP bytes) as valid UTF-8 that
 * XML accepts: control characters and U+FFFE/U+FFFF become '?', malformed bytes U+FFFD.
 * A longer string keeps max_chars - 3 characters and ends in "...". Returns the length
 * in characters.
 */
static int fit_text(const char *s, int max_chars, char *out)
{
	int64_t len = xf_font_length(s);
	int keep = len > max_chars ? max_chars - 3 : max_chars, n = 0;
	size_t pos = 0;
	uint32_t ch;

	if (keep < 0)
		keep = 0;
	while (n < keep && (ch = xf_font_next(&s)) != 0) {
		if (ch < 0x20 || ch == 0x7f || ch == 0xfffe || ch == 0xffff)
			ch = '?';
		pos += put_utf8(out + pos, ch);
		n++;
	}
	if (len > max_chars)
		for (; n < max_chars; n++)
			out[pos++] = '.';
	out[pos] = '\0';
	return n;
}

static void class_name(const struct plot *p, int64_t k, int max_chars, char *out)
{
	char num[24];
	const char *name = p->names ? p->names[k] : NULL;

	if (!name) {
		snprintf(num, sizeof(num), "%" PRId64, k);
		name = num;
	}
	fit_text(name, max_chars, out);
}

/* Whether legend line i is the last one of a cut legend, which counts the rest. */
static bool is_more_line(const struct layout *L, int64_t i)
{
	return L->more && i == L->entries - 1;
}

/* The text of legend line i: a class name, or the "...and N more" line. */
static void legend_text(const struct plot *p, int64_t i, char *out)
{
	if (is_more_line(&p->lay, i))
		snprintf(out, TEXT_CAP, "...and %" PRId64 " more", p->lay.more);
	else
		class_name(p, i, p->lay.name_chars, out);
}

/* ---- layout ---- */

/* Widest legend line in characters, with names fitted to L->name_chars. */
static int64_t legend_widest(const struct plot *p)
{
	int64_t widest = 0, len;
	char text[TEXT_CAP];

	for (int64_t i = 0; i < p->lay.entries; i++) {
		legend_text(p, i, text);
		len = xf_font_length(text);
		widest = len > widest ? len : widest;
	}
	return widest;
}

/*
 * Size the legend for L->entries lines in columns of at most L->rows, shortening names
 * until the box takes at most 40% of the image width; false if it never does.
 */
static bool legend_fits(struct plot *p)
{
	struct layout *L = &p->lay;
	int64_t cols = (L->entries + L->rows - 1) / L->rows;

	for (L->name_chars = NAME_MAX_CHARS; L->name_chars >= 4; L->name_chars--) {
		/* swatch 7s, gap 4s, the text, then 10s before the next column */
		L->col_w = (int)(21 + legend_widest(p) * XF_FONT_WIDTH) * L->s;
		L->lw = 2 * L->pad + (int)cols * L->col_w - 10 * L->s;
		if (L->lw <= 0.4 * L->w)
			return true;
	}
	return false;
}

/*
 * Legend geometry: up to LEGEND_ROWS_MAX lines per column (fewer if the image is short),
 * then more columns, at most LEGEND_MAX lines in all. Where even that is too wide, whole
 * columns are dropped into the "...and N more" line; an image too small for any legend
 * gets none.
 */
static void layout_legend(struct plot *p, int avail_h)
{
	struct layout *L = &p->lay;
	int64_t fewer;

	L->pad = 6 * L->s;
	L->line = 13 * L->s;
	L->rows = (avail_h - 2 * L->pad + (L->line - XF_FONT_HEIGHT * L->s)) / L->line;
	L->rows = L->rows < 1 ? 1 : L->rows > LEGEND_ROWS_MAX ? LEGEND_ROWS_MAX : L->rows;
	L->entries = p->c > LEGEND_MAX ? LEGEND_MAX : p->c;
	L->lw = L->lh = 0;
	if (L->entries == 0)
		return;
	if (L->entries < L->rows)
		L->rows = (int)L->entries;
	for (;;) {
		L->more = L->entries < p->c ? p->c - (L->entries - 1) : 0;
		if (legend_fits(p))
			break;
		if (L->entries == 1) {
			L->entries = L->lw = 0;
			return;
		}
		fewer = (L->entries - 1) / L->rows * L->rows;   /* one column less */
		L->entries = fewer > 0 ? fewer : 1;
	}
	L->lh = 2 * L->pad + (L->rows - 1) * L->line + XF_FONT_HEIGHT * L->s;
}

/*
 * Automatic dot size and opacity. The radius shrinks as 1/sqrt(n), which keeps the inked
 * fraction of the frame about constant; the opacity falls with n so that overlapping dots
 * build up visible density instead of merging into a flat blob.
 */
static void dot_style(struct layout *L, double side, int64_t n, double point_size)
{
	double r = 0.3 * side / sqrt(n > 1 ? (double)n : 1.0);

	L->r = point_size > 0 ? point_size / 2 : fmin(fmax(r, 0.9), fmax(1.5, side / 150));
	L->alpha = n <= 300 ? 1.0 : fmax(0.15, pow(300.0 / (double)n, 0.22));
}

/*
 * The frame: the data extent at one scale for both axes (equal aspect), inset by a dot
 * radius and a small margin, centred in the region x0..x1, y0..y1.
 */
static void layout_frame(struct plot *p, int x0, int y0, int x1, int y1, double point_size)
{
	struct layout *L = &p->lay;
	double rw = x1 - x0, rh = y1 - y0, side = fmin(rw, rh);
	double dx = p->xmax - p->xmin, dy = p->ymax - p->ymin, inset, kx, ky;

	dot_style(L, side, p->drawn, point_size);
	inset = fmin(L->r + 0.03 * side + 1, 0.45 * side);
	kx = dx > 0 ? (rw - 2 * inset) / dx : INFINITY;
	ky = dy > 0 ? (rh - 2 * inset) / dy : INFINITY;
	L->k = isfinite(fmin(kx, ky)) ? fmin(kx, ky) : 1.0;   /* one location: any scale */
	L->fw = (int)lround(dx * L->k + 2 * inset);
	L->fh = (int)lround(dy * L->k + 2 * inset);
	L->fx = x0 + (int)(rw - L->fw) / 2;
	L->fy = y0 + (int)(rh - L->fh) / 2;
	L->cx = L->fx + L->fw / 2.0;
	L->cy = L->fy + L->fh / 2.0;
	L->xmid = p->xmin + dx / 2;
	L->ymid = p->ymin + dy / 2;
}

/* Fit the title to the image width; returns the height it takes under the top margin m. */
static int layout_title(struct plot *p, const char *title, int m)
{
	struct layout *L = &p->lay;
	int max_chars, n;

	L->ts = L->s + 1;
	if (!title || !*title)
		return 0;
	max_chars = (L->w - 2 * m) / (XF_FONT_WIDTH * L->ts);
	n = fit_text(title, max_chars < TITLE_MAX_CHARS ? max_chars : TITLE_MAX_CHARS, L->title);
	L->tw = n * XF_FONT_WIDTH * L->ts;
	return XF_FONT_HEIGHT * L->ts + m / 2;
}

/*
 * Centre the frame and the legend beside it as one group between the margins, and the
 * title over the frame (kept inside the margins); the title and footer hug the frame.
 */
static void place_around_frame(struct layout *L, int m, int top, int bottom)
{
	int gap = L->lw ? m : 0, shift = m + (L->w - 2 * m - (L->fw + gap + L->lw)) / 2 - L->fx;

	L->fx += shift;
	L->cx += shift;
	L->lx = L->fx + L->fw + gap;
	L->ly = L->fy + L->lh <= L->h - bottom ? L->fy : L->h - bottom - L->lh;
	L->ly = L->ly < top ? top : L->ly;
	L->tx = L->fx + (L->fw - L->tw) / 2;
	L->tx = L->tx + L->tw > L->w - m ? L->w - m - L->tw : L->tx;
	L->tx = L->tx < m ? m : L->tx;
	L->ty = L->fy - m / 2 - XF_FONT_HEIGHT * L->ts;
}

static void layout_footer(struct plot *p, int m)
{
	struct layout *L = &p->lay;
	char text[128];
	int max_chars = (L->w - L->fx - m) / (XF_FONT_WIDTH * L->s);
	int len = snprintf(text, sizeof(text), "%" PRId64 " point%s", p->drawn, p->drawn == 1 ? "" : "s");

	if (p->skipped)
		snprintf(text + len, sizeof(text) - len, " (%" PRId64 " skipped: not finite)", p->skipped);
	fit_text(text, max_chars < TITLE_MAX_CHARS ? max_chars : TITLE_MAX_CHARS, L->foot);
	L->foot_x = L->fx;
	L->foot_y = L->fy + L->fh + 3 * L->s;
}

/*
 * Margins scale with the image; text is drawn at an integer scale (2 at 1600 pixels).
 * Top to bottom: title, frame with the legend to its right, footer. Space is reserved
 * for all of them, then they are placed around the frame, which equal aspect may make
 * much smaller than the space left for it.
 */
static void layout_plot(struct plot *p, const struct xf_plot_opts *o)
{
	struct layout *L = &p->lay;
	int side = o->width < o->height ? o->width : o->height;
	int m = side / 40 > 6 ? side / 40 : 6, top, bottom, right;

	L->w = o->width;
	L->h = o->height;
	L->s = side / 800 > 1 ? side / 800 : 1;
	top = m + layout_title(p, o->title, m);
	bottom = m > 14 * L->s ? m : 14 * L->s;
	layout_legend(p, L->h - top - bottom);
	right = L->w - m - (L->lw ? L->lw + m : 0);
	layout_frame(p, m, top, right, L->h - bottom, o->point_size);
	place_around_frame(L, m, top, bottom);
	layout_footer(p, m);
}

static int plot_prepare(struct plot *p, const struct xf_plot_opts *opts, struct xf_err *err)
{
	struct xf_plot_opts o = XF_PLOT_OPTS_INIT;

	if (opts)
		o = *opts;
	if (!p->labels)
		p->c = 0;
	if (check_args(p, &o, err) < 0 || scan_extent(p, err) < 0)
		return -1;
	layout_plot(p, &o);
	return make_order(p, err);
}

/* Where point i lands, in pixels. */
static void point_xy(const struct plot *p, int64_t i, double *x, double *y)
{
	const struct layout *L = &p->lay;

	*x = L->cx + L->k * (p->xy[2 * i] - L->xmid);
	*y = L->cy - L->k * (p->xy[2 * i + 1] - L->ymid);
}

/* Top-left corner of legend line i. */
static void legend_pos(const struct layout *L, int64_t i, int *x, int *y)
{
	*x = L->lx + L->pad + (int)(i / L->rows) * L->col_w;
	*y = L->ly + L->pad + (int)(i % L->rows) * L->line;
}

/* ---- PNG: an RGB canvas ---- */

struct canvas {
	uint8_t *px;   /* w * h RGB triples, row-major */
	int w, h;
};

static int canvas_alloc(struct canvas *cv, int w, int h, struct xf_err *err)
{
	size_t bytes = (size_t)w * (size_t)h * 3;

	cv->px = malloc(bytes);
	if (!cv->px)
		return xf_err_nomem(err, bytes);
	memset(cv->px, 0xff, bytes);   /* white */
	cv->w = w;
	cv->h = h;
	return 0;
}

static void fill_rect(struct canvas *cv, int x, int y, int w, int h, uint32_t rgb)
{
	int x1 = x + w < cv->w ? x + w : cv->w, y1 = y + h < cv->h ? y + h : cv->h;

	for (int j = y < 0 ? 0 : y; j < y1; j++)
		for (int i = x < 0 ? 0 : x; i < x1; i++) {
			uint8_t *q = cv->px + ((size_t)j * cv->w + i) * 3;
			q[0] = rgb >> 16 & 0xff;
			q[1] = rgb >> 8 & 0xff;
			q[2] = rgb & 0xff;
		}
}

static void outline_rect(struct canvas *cv, int x, int y, int w, int h, int t, uint32_t rgb)
{
	fill_rect(cv, x, y, w, t, rgb);
	fill_rect(cv, x, y + h - t, w, t, rgb);
	fill_rect(cv, x, y, t, h, rgb);
	fill_rect(cv, x + w - t, y, t, h, rgb);
}

/* "Over" compositing of colour rgb at opacity a onto pixel q. */
static void blend(uint8_t *q, uint32_t rgb, double a)
{
	for (int ch = 0; ch < 3; ch++) {
		double v = (double)(rgb >> (16 - 8 * ch) & 0xff);
		q[ch] = (uint8_t)(q[ch] + (v - q[ch]) * a + 0.5);
	}
}

/* An anti-aliased disc: each pixel's coverage is estimated from its centre's distance. */
static void draw_dot(struct canvas *cv, double cx, double cy, double r, uint32_t rgb, double alpha)
{
	int x0 = (int)floor(cx - r - 0.5), x1 = (int)ceil(cx + r + 0.5);
	int y0 = (int)floor(cy - r - 0.5), y1 = (int)ceil(cy + r + 0.5);

	for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < cv->h; y++) {
		double dy = y + 0.5 - cy;
		for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < cv->w; x++) {
			double dx = x + 0.5 - cx, cover = r + 0.5 - sqrt(dx * dx + dy * dy);
			if (cover > 0)
				blend(cv->px + ((size_t)y * cv->w + x) * 3, rgb, alpha * fmin(cover, 1.0));
		}
	}
}

static void draw_text(struct canvas *cv, int x, int y, int s, const char *text, uint32_t rgb)
{
	uint32_t ch;

	for (; (ch = xf_font_next(&text)) != 0; x += XF_FONT_WIDTH * s) {
		const uint8_t *g = xf_font_glyph(ch);
		for (int row = 0; row < XF_FONT_HEIGHT; row++)
			for (int col = 0; col < XF_FONT_WIDTH - 1; col++)
				if (g[row] & (0x10 >> col))
					fill_rect(cv, x + col * s, y + row * s, s, s, rgb);
	}
}

static void draw_points(const struct plot *p, struct canvas *cv)
{
	double x, y;

	for (int64_t j = 0; j < p->n; j++) {
		int64_t i = p->order[j];
		if (!point_ok(p, i))
			continue;
		point_xy(p, i, &x, &y);
		draw_dot(cv, x, y, p->lay.r, xf_plot_colour(label_of(p, i)), p->lay.alpha);
	}
}

static void draw_legend(const struct plot *p, struct canvas *cv)
{
	const struct layout *L = &p->lay;
	int s = L->s, x, y;
	char text[TEXT_CAP];

	if (!L->lw)
		return;
	fill_rect(cv, L->lx, L->ly, L->lw, L->lh, WHITE);
	outline_rect(cv, L->lx, L->ly, L->lw, L->lh, 1, RULE);
	for (int64_t i = 0; i < L->entries; i++) {
		legend_pos(L, i, &x, &y);
		legend_text(p, i, text);
		if (is_more_line(L, i)) {
			draw_text(cv, x, y, s, text, MUTED);
			continue;
		}
		fill_rect(cv, x, y + s, 7 * s, 7 * s, xf_plot_colour(i));
		draw_text(cv, x + 11 * s, y, s, text, INK);
	}
}

static void draw_plot(const struct plot *p, struct canvas *cv)
{
	const struct layout *L = &p->lay;

	outline_rect(cv, L->fx, L->fy, L->fw, L->fh, 1, RULE);
	draw_points(p, cv);
	draw_legend(p, cv);
	draw_text(cv, L->tx, L->ty, L->ts, L->title, INK);
	draw_text(cv, L->foot_x, L->foot_y, L->s, L->foot, MUTED);
}

static int emit_png(FILE *fp, const struct plot *p, const void *ctx, struct xf_err *err)
{
	const struct canvas *cv = ctx;

	(void)p;
	return xf_png_write(fp, cv->px, cv->w, cv->h, 3, err);
}

/* ---- SVG ---- */

/* Decimal with one fractional digit at most: "12.3", "12" (SVG size matters at 10^5 points). */
static int format_tenths(char *buf, double v)
{
	long long t = llround(v * 10);
	const char *sign = t < 0 ? "-" : "";

	t = t < 0 ? -t : t;
	if (t % 10)
		return sprintf(buf, "%s%lld.%lld", sign, t / 10, t % 10);
	return sprintf(buf, "%s%lld", sign, t / 10);
}

static void svg_escaped(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			fputs("&amp;", fp);
		else if (*s == '<')
			fputs("&lt;", fp);
		else if (*s == '>')
			fputs("&gt;", fp);
		else
			fputc(*s, fp);
	}
}

/* A <text> whose character cell (as in the bitmap font) has its top-left corner at x, y. */
static void svg_text(FILE *fp, int x, int y, int s, const char *text, const char *extra)
{
	fprintf(fp, "<text x=\"%d\" y=\"%d\"%s%s>", x, y + XF_FONT_ASCENT * s, extra ? " " : "",
		extra ? extra : "");
	svg_escaped(fp, text);
	fputs("</text>\n", fp);
}

struct svg_item {
	int64_t round;   /* which slice of the shuffled order */
	uint64_t rank;   /* the class's place in that round's painting order */
	int64_t label;   /* the point's class */
	int64_t point;   /* the point's index in xy */
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int compare_items(const void *a, const void *b)
{
	const struct svg_item *u = a, *v = b;

	if (u->round != v->round)
		return u->round < v->round ? -1 : 1;
	if (u->rank != v->rank)
		return u->rank < v->rank ? -1 : 1;
	if (u->label != v->label)
		return u->label < v->label ? -1 : 1;
	return (u->point > v->point) - (u->point < v->point);
}

/*
 * SVG paints in document order and we want one <g> per colour, so the shuffled order is
 * cut into rounds; each round paints one group per class, the classes in an order that
 * changes from round to round (a hash of class and round), so none is always on top.
 */
static struct svg_item *svg_order(const struct plot *p, struct xf_err *err)
{
	int64_t rounds = p->drawn / SVG_ROUND_POINTS + 1, m = 0;
	size_t bytes = (size_t)(p->drawn > 0 ? p->drawn : 1) * sizeof(struct svg_item);
	struct svg_item *items;

	if ((uint64_t)p->drawn > SIZE_MAX / sizeof(struct svg_item) || !(items = malloc(bytes))) {
		xf_err_nomem(err, bytes);
		return NULL;
	}
	rounds = rounds > SVG_ROUNDS_MAX ? SVG_ROUNDS_MAX : rounds;
	for (int64_t j = 0; j < p->n; j++) {
		int64_t i = p->order[j], label = label_of(p, i);
		if (!point_ok(p, i))
			continue;
		items[m].round = m * rounds / p->drawn;
		items[m].rank = mix64((uint64_t)label * 0x9e3779b97f4a7c15ULL + (uint64_t)items[m].round);
		items[m].label = label;
		items[m].point = i;
		m++;
	}
	qsort(items, (size_t)m, sizeof(*items), compare_items);
	return items;
}

static void svg_points(FILE *fp, const struct plot *p, const struct svg_item *items)
{
	char r[32], line[128];

	format_tenths(r, p->lay.r);
	for (int64_t m = 0; m < p->drawn; m++) {
		double x, y;
		int len;
		if (m == 0 || items[m].round != items[m - 1].round || items[m].label != items[m - 1].label) {
			if (m > 0)
				fputs("</g>\n", fp);
			fprintf(fp, "<g fill=\"#%06" PRIx32 "\" fill-opacity=\"%.3g\">\n",
				xf_plot_colour(items[m].label), p->lay.alpha);
		}
		point_xy(p, items[m].point, &x, &y);
		len = sprintf(line, "<circle cx=\"");
		len += format_tenths(line + len, x);
		len += sprintf(line + len, "\" cy=\"");
		len += format_tenths(line + len, y);
		len += sprintf(line + len, "\" r=\"%s\"/>\n", r);
		fwrite(line, 1, (size_t)len, fp);
	}
	if (p->drawn > 0)
		fputs("</g>\n", fp);
}

static void svg_legend(FILE *fp, const struct plot *p)
{
	const struct layout *L = &p->lay;
	int s = L->s, x, y;
	char text[TEXT_CAP];

	if (!L->lw)
		return;
	fprintf(fp, "<g class=\"legend\">\n<rect x=\"%d.5\" y=\"%d.5\" width=\"%d\" height=\"%d\" "
		"fill=\"#ffffff\" stroke=\"#%06x\"/>\n", L->lx, L->ly, L->lw - 1, L->lh - 1, RULE);
	for (int64_t i = 0; i < L->entries; i++) {
		legend_pos(L, i, &x, &y);
		legend_text(p, i, text);
		if (is_more_line(L, i)) {
			svg_text(fp, x, y, s, text, "fill=\"#" MUTED_HEX "\"");
			continue;
		}
		fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%06" PRIx32 "\"/>\n",
			x, y + s, 7 * s, 7 * s, xf_plot_colour(i));
		svg_text(fp, x + 11 * s, y, s, text, NULL);
	}
	fputs("</g>\n", fp);
}

static int emit_svg(FILE *fp, const struct plot *p, const void *ctx, struct xf_err *err)
{
	const struct layout *L = &p->lay;
	struct svg_item *items = svg_order(p, err);
	char attrs[64];

	(void)ctx;
	if (!items)
		return -1;
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\">\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
		"<rect x=\"%d.5\" y=\"%d.5\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#%06x\"/>\n",
		L->w, L->h, L->w, L->h, L->w, L->h, L->fx, L->fy, L->fw - 1, L->fh - 1, RULE);
	svg_points(fp, p, items);
	free(items);
	fprintf(fp, "<g font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"%d\" fill=\"#%06x\">\n",
		XF_FONT_HEIGHT * L->s, INK);
	svg_legend(fp, p);
	if (L->title[0]) {
		snprintf(attrs, sizeof(attrs), "text-anchor=\"middle\" font-size=\"%d\"", XF_FONT_HEIGHT * L->ts);
		svg_text(fp, L->tx + L->tw / 2, L->ty, L->ts, L->title, attrs);
	}
	snprintf(attrs, sizeof(attrs), "fill=\"#%06x\"", MUTED);
	svg_text(fp, L->foot_x, L->foot_y, L->s, L->foot, attrs);
	fputs("</g>\n</svg>\n", fp);
	return 0;
}

/* ---- files ---- */

typedef int (*emit_fn)(FILE *fp, const struct plot *p, const void *ctx, struct xf_err *err);

struct emit_job {
	emit_fn emit;
	const struct plot *p;
	const void *ctx;
};

static int emit_job(FILE *fp, void *job, struct xf_err *err)
{
	struct emit_job *j = job;

	return j->emit(fp, j->p, j->ctx, err);
}

static int write_file(const char *path, emit_fn emit, const struct plot *p, const void *ctx,
		      struct xf_err *err)
{
	struct emit_job job = { emit, p, ctx };

	return xf_file_write_atomic(path, emit_job, &job, err);
}

/* ---- entry points ---- */

typedef int (*plot_fn)(const char *, const double *, int64_t, const int64_t *, int64_t,
		       const char *const *, const struct xf_plot_opts *, struct xf_err *);

static int skipped_count(const struct plot *p)
{
	return p->skipped > INT_MAX ? INT_MAX : (int)p->skipped;
}

int xf_plot_png(const char *path, const double *xy, int64_t n, const int64_t *labels, int64_t c,
		const char *const *names, const struct xf_plot_opts *opts, struct xf_err *err)
{
	struct plot p = { .xy = xy, .n = n, .labels = labels, .c = c, .names = names };
	struct canvas cv = { 0 };
	int rc = plot_prepare(&p, opts, err);

	if (rc == 0)
		rc = canvas_alloc(&cv, p.lay.w, p.lay.h, err);
	if (rc == 0) {
		draw_plot(&p, &cv);
		rc = write_file(path, emit_png, &p, &cv, err);
	}
	free(cv.px);
	free(p.order);
	return rc < 0 ? -1 : skipped_count(&p);
}

int xf_plot_svg(const char *path, const double *xy, int64_t n, const int64_t *labels, int64_t c,
		const char *const *names, const struct xf_plot_opts *opts, struct xf_err *err)
{
	struct plot p = { .xy = xy, .n = n, .labels = labels, .c = c, .names = names };
	int rc = plot_prepare(&p, opts, err);

	if (rc == 0)
		rc = write_file(path, emit_svg, &p, NULL, err);
	free(p.order);
	return rc < 0 ? -1 : skipped_count(&p);
}

static bool has_suffix(const char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);

	return n >= k && !strcasecmp(path + n - k, suffix);
}

int xf_plot_file(const char *path, const double *xy, int64_t n, const int64_t *labels, int64_t c,
		 const char *const *names, const struct xf_plot_opts *opts, struct xf_err *err)
{
	plot_fn fn = has_suffix(path, ".png") ? xf_plot_png : has_suffix(path, ".svg") ? xf_plot_svg : NULL;

	if (!fn)
		return xf_err_set(err, XF_E_USAGE, "'%s': unknown plot format (the name must end in .png or .svg)",
				  path);
	return fn(path, xy, n, labels, c, names, opts, err);
}
