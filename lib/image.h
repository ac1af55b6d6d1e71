/*
 * image: decode one PNG, JPEG or PGM/PPM image held in memory into a uint8 [H, W, C]
 * tensor, and resize such a tensor bilinearly. Used by xfer-pack through imgset.h.
 * Nothing here prints: libpng and libjpeg warnings are silenced, their errors become
 * struct xf_err messages.
 *
 *	struct xf_tensor img = XF_TENSOR_INIT, small = XF_TENSOR_INIT;
 *	if (xf_image_decode(buf, n, "cat/1.png", false, &img, &err) < 0) return -1;
 *	if (xf_image_resize(&img, 32, 32, &small, &err) < 0) ...
 *	xf_tensor_release(&img); ... xf_tensor_release(&small);
 */
#ifndef XF_IMAGE_H
#define XF_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tensor.h"

/* Largest image decoded, in pixels (H * W): 2^28, i.e. 16384 x 16384 (the fuzz build lowers it). */
#ifndef XF_IMAGE_MAX_PIXELS
#define XF_IMAGE_MAX_PIXELS ((int64_t)1 << 28)
#endif

/*
 * Decode the image in bytes[0..size) into *out, a new contiguous XF_DTYPE_U8 tensor of
 * shape [H, W, C] that belongs to the caller (xf_tensor_release). C is 1 when gray is
 * true, 3 otherwise. `name` is only used in messages (NULL reads as "image").
 *
 * The format is recognised by its magic bytes, never by a file name:
 *  - PNG: any bit depth and colour type, interlaced or not. Palettes are expanded,
 *    16-bit samples reduced to 8 bits with rounding (v * 255 / 65535), alpha and tRNS
 *    transparency dropped without compositing (as PIL's convert("RGB") does).
 *  - JPEG (baseline or progressive; gray or YCbCr, not CMYK). A truncated file is an
 *    error; recoverable corruption that libjpeg only warns about is tolerated silently.
 *  - PGM/PPM, plain (P2, P3) or raw (P5, P6), maxval 1..65535; samples are scaled to
 *    0..255 as (v * 255 + maxval / 2) / maxval.
 * Channel conversion: gray to RGB replicates the value; RGB to gray is ITU-R 601 luma
 * in PIL's convert("L") integer form, Y = (19595 R + 38470 G + 7471 B + 32768) >> 16.
 *
 * Returns 0, or -1 with *out left empty and err set to: XF_E_FORMAT "'<name>': ..." for
 * unknown, corrupt or truncated data; XF_E_LIMIT for more than XF_IMAGE_MAX_PIXELS
 * pixels (checked before the pixel buffer is allocated); XF_E_NOMEM.
 */
int xf_image_decode(const void *bytes, size_t size, const char *name, bool gray,
		    struct xf_tensor *out, struct xf_err *err);

/*
 * Bilinear resize of in, a uint8 [H, W, C] tensor (any strides), into *out, a new
 * contiguous uint8 [h, w, C] tensor owned by the caller.
 *
 * Convention: that of torch.nn.functional.interpolate(mode="bilinear",
 * align_corners=False, antialias=False), which is also OpenCV's INTER_LINEAR. For an
 * output row y the source coordinate is sy = (y + 0.5) * H / h - 0.5, clamped below at
 * 0 (as torch does); y0 = floor(sy), y1 = min(y0 + 1, H - 1), ly = sy - y0; the same
 * along columns; out = (1-ly)((1-lx) p00 + lx p01) + ly((1-lx) p10 + lx p11). It is
 * computed in float and rounded to nearest, ties to even (like torch.round), then
 * clamped to 0..255. Downscaling does no antialiasing; h == H and w == W copy exactly.
 *
 * Returns 0, or -1 with err set: XF_E_USAGE for a tensor that is not uint8 [H, W, C]
 * or for h, w outside 1..XF_IMAGE_MAX_PIXELS (or h * w above it); XF_E_NOMEM.
 */
int xf_image_resize(const struct xf_tensor *in, int64_t h, int64_t w, struct xf_tensor *out,
		    struct xf_err *err);

#endif
