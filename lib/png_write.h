/*
 * png_write: encode 8-bit gray, RGB or RGBA pixels as PNG through libpng, to a FILE (a file or
 * a memory stream), with libpng's errors turned into struct xf_err instead of its default
 * print-and-abort.
 */
#ifndef XF_PNG_WRITE_H
#define XF_PNG_WRITE_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* px: height rows of width * channels bytes (channels 1 gray, 3 RGB, 4 RGBA). */
int xf_png_write(FILE *fp, const uint8_t *px, int width, int height, int channels, struct xf_err *err);

#endif
