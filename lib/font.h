/*
 * font: a small built-in bitmap font for text drawn into raster images (plot legends and
 * titles), so that plots need no font library. Printable ASCII 32..126 in a 6 x 10 cell:
 * glyphs are 5 columns wide plus one column of spacing, with a blank top row, a 7-row cap
 * height (rows 1..7, the baseline under row 7) and 2 rows of descenders (rows 8..9).
 * The glyphs were designed for xfer; they are not taken from another font.
 */
#ifndef XF_FONT_H
#define XF_FONT_H

#include <stdint.h>

#define XF_FONT_WIDTH 6     /* cell width in pixels, including the spacing column */
#define XF_FONT_HEIGHT 10   /* cell height in pixels */
#define XF_FONT_ASCENT 8    /* rows from the top of the cell down to the baseline */

/*
 * The XF_FONT_HEIGHT rows of the glyph for character ch, top row first. In each row bit 4
 * (0x10) is the leftmost column and bit 0 the fifth. Latin-1 letters (U+00C0..U+00FF)
 * give their unaccented base letter, so that "é" reads as "e"; any other character
 * outside 32..126 gives the glyph of '?'.
 */
const uint8_t *xf_font_glyph(uint32_t ch);

/*
 * The next character of the UTF-8 string at *s, advancing *s past it; 0 at the end of
 * the string. A malformed byte is returned as U+FFFD and skipped alone, so that any byte
 * string can be measured and drawn.
 */
uint32_t xf_font_next(const char **s);

/* Number of characters in the UTF-8 string s, counted as xf_font_next does. */
int64_t xf_font_length(const char *s);

#endif
