/*
 * imgset: a labelled image dataset read from a directory tree or an archive (anything
 * libarchive reads: tar, tar.gz, tar.zst, tar.xz, zip, ...) laid out as .../CLASS/FILE.
 * Used by xfer-pack; images are decoded by image.h.
 *
 *	struct xf_imgset_opts opts = XF_IMGSET_OPTS_INIT;
 *	struct xf_imgset *s;
 *	struct xf_tensor img = XF_TENSOR_INIT;
 *	int64_t label; const char *id; int rc;
 *	if (xf_imgset_open("mnist-png.tar.gz", &opts, &s, &err) < 0) return -1;
 *	while ((rc = xf_imgset_next(s, &img, &label, &id, &err)) == 1) {
 *		... use img, label, id ...
 *		xf_tensor_release(&img);
 *	}
 *	xf_imgset_close(s);   (rc is 0 at the end, -1 on error)
 *
 * Layout rules, shared by directories and archives:
 *  - only regular files whose name ends in .png .jpg .jpeg .pgm .ppm or .pnm (any case)
 *    are images; the content is decoded by its magic bytes, whatever the extension;
 *  - other regular files are skipped (and counted, see xf_imgset_n_skipped), and so is
 *    every path with a component starting with '.' (.DS_Store, ._foo.png, .git/) or
 *    named __MACOSX; symbolic links to directories are not followed;
 *  - an image's class is the name of its immediate parent directory ("mnist-png/3/17.png"
 *    has class "3"); an image with no parent directory is an error;
 *  - classes get labels 0..K-1 in strcmp order of their names;
 *  - an image's id is its path as stored in the archive, or relative to the directory.
 */
#ifndef XF_IMGSET_H
#define XF_IMGSET_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "header.h"
#include "tensor.h"

/* Largest file or archive entry read, in bytes; refused before it is read (the fuzz build lowers it). */
#ifndef XF_IMGSET_MAX_FILE
#define XF_IMGSET_MAX_FILE ((int64_t)256 << 20)
#endif

struct xf_imgset;   /* opaque */

struct xf_imgset_opts {
	bool gray;                /* decode to [H, W, 1] luma instead of [H, W, 3] RGB */
	int64_t height, width;    /* resize every image to this; 0, 0 = keep their size */
	/* Images that do not decode: an error (NULL), or skipped after this is told why. */
	void (*on_corrupt)(void *ctx, const char *why);
	void *ctx;
};

#define XF_IMGSET_OPTS_INIT { false, 0, 0, NULL, NULL }

/*
 * Open the dataset at path (a directory, or an archive file; not "-": the archive is
 * read twice). This first pass lists every image and class without decoding anything:
 * an archive is read through once; a directory is walked recursively. opts may be NULL
 * for the defaults.
 *
 * Returns 0 with *out set (free it with xf_imgset_close), or -1 with *out NULL and err
 * set: XF_E_USAGE for a bad opts size (one of height/width 0, or negative);
 * XF_E_IO if path cannot be opened or a directory read fails; XF_E_FORMAT for an
 * unreadable archive (libarchive's message), an image outside a class directory or a
 * dataset with no images ("no images found in '<path>'"); XF_E_LIMIT for an image above
 * XF_IMGSET_MAX_FILE bytes; XF_E_NOMEM.
 */
int xf_imgset_open(const char *path, const struct xf_imgset_opts *opts, struct xf_imgset **out,
		   struct xf_err *err);

/* Number of images (at least 1) and of classes, as listed by xf_imgset_open. */
int64_t xf_imgset_count(const struct xf_imgset *s);
int xf_imgset_n_classes(const struct xf_imgset *s);

/* Name of class i (0 <= i < n_classes), valid until xf_imgset_close. */
const char *xf_imgset_class(const struct xf_imgset *s, int i);

/*
 * Regular files that were not taken as images (README, .DS_Store, ...), for a -v summary.
 * In a directory tree, skipped directories (.git/, __MACOSX/) are not entered, so their
 * files are not counted; in an archive every regular entry is seen.
 */
int64_t xf_imgset_n_skipped(const struct xf_imgset *s);

/*
 * Decode the next image: archive order for an archive (which is reopened and read
 * through once more), strcmp order of ids for a directory. Memory stays bounded by one
 * file's bytes plus one decoded image; an entry's bytes are read incrementally, so a
 * size field that lies cannot make us allocate more than the data actually present.
 *
 * An image that does not decode (xf_image_decode fails) is an error, or, when
 * opts->on_corrupt is set, passed to it with the message and skipped.
 *
 * Every image is resized to opts->height x opts->width when those are set (only if its
 * size differs), and must then have the same [H, W, C] as the first image.
 *
 * Returns 1 with *image a new uint8 [H, W, C] tensor owned by the caller, *label its
 * class and *id its id (valid until the next call); 0 when all images were returned;
 * -1 with err set: the errors of xf_image_decode (naming the id), XF_E_FORMAT for an
 * image whose size differs from the first ("'a/3.png' is 30x28, the first image was
 * 28x28; use --size HxW") or an archive that changed since xf_imgset_open, XF_E_IO,
 * XF_E_LIMIT, XF_E_NOMEM. After -1 the set can only be closed.
 */
int xf_imgset_next(struct xf_imgset *s, struct xf_tensor *image, int64_t *label, const char **id,
		   struct xf_err *err);

/* Images skipped as corrupt so far (opts->on_corrupt). */
int64_t xf_imgset_n_corrupt(const struct xf_imgset *s);

/*
 * Declare the fields of an image dataset in h, as xfer-pack writes them: "x" uint8
 * [C, H, W] (the first image's shape: call after it was decoded), "y" int64 labels, "id"
 * strings, and meta.classes with the class names.
 */
int xf_imgset_declare(const struct xf_imgset *s, struct xf_header *h, struct xf_err *err);

/*
 * Decode up to max images (xf_imgset_next) into new columns laid out as xf_imgset_declare
 * says: cols[0] x [n, C, H, W], cols[1] y [n], cols[2] id [n], owned by the caller. Returns
 * n (0 at the end, with the columns left empty) or -1 with err as xf_imgset_next.
 */
int64_t xf_imgset_read_rows(struct xf_imgset *s, int64_t max, struct xf_tensor cols[3], struct xf_err *err);

/* An [H, W, C] uint8 image into C planes of H x W (PyTorch's layout, which models use). */
void xf_image_to_chw(const struct xf_tensor *hwc, uint8_t *chw);

/* Free everything; NULL is fine. */
void xf_imgset_close(struct xf_imgset *s);

#endif
