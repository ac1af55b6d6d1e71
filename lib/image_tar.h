/*
 * image_tar: images as PNG files in a tar archive, for looking at what a program made of
 * the data (xfer-project --image --images-to FILE.tar). Files are named NNNNNN.png, or
 * NNNNNN-LABEL.png when labels are given, in row order.
 */
#ifndef XF_IMAGE_TAR_H
#define XF_IMAGE_TAR_H

#include <stdint.h>

#include "err.h"

/*
 * n images of channels x height x width float values (channel-major), clipped to [0, 1] and
 * scaled to 8 bits; 1 channel is gray, 3 are RGB. Written through a temporary and renamed.
 */
int xf_image_tar_write(const char *path, const float *images, int64_t n, int channels, int height, int width,
		       const int64_t *labels, struct xf_err *err);

#endif
