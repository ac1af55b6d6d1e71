/*
 * mpscan: find where one msgpack object ends in a buffer, without building it, with limits.
 * The stream reader uses it to buffer exactly one frame before msgpack-c unpacks it, so that
 * a header claiming 2^32 elements or bytes cannot make anything allocate beyond the bytes
 * actually present. The scan resumes where it stopped as more bytes arrive.
 */
#ifndef XF_MPSCAN_H
#define XF_MPSCAN_H

#include <stddef.h>
#include <stdint.h>

#define XF_MP_MAX_DEPTH 32
#define XF_MP_MAX_ITEMS (1 << 24) /* bounds what msgpack-c allocates per frame (~24 bytes an item) */

enum xf_mpscan_result {
	XF_MPSCAN_DONE = 1,      /* the object is complete: its size is state.pos */
	XF_MPSCAN_MORE = 0,      /* incomplete: *need = a lower bound on its size */
	XF_MPSCAN_BAD = -1,      /* invalid msgpack; *why says what */
	XF_MPSCAN_LIMIT = -2,    /* over a size, item or depth limit; *why says which */
};

struct xf_mpscan {
	uint64_t pending[XF_MP_MAX_DEPTH + 1]; /* items still to read at each open level */
	int depth;                             /* innermost open level */
	size_t pos;                            /* bytes of the object scanned so far */
	size_t items;                          /* items seen so far */
};

void xf_mpscan_init(struct xf_mpscan *s);

/*
 * Continue scanning the object that starts at p, of which len bytes are available (len
 * only grows between calls). Objects larger than max_bytes, nested deeper than
 * XF_MP_MAX_DEPTH, with more than XF_MP_MAX_ITEMS items, or using the never-used byte
 * 0xc1 are BAD.
 */
int xf_mpscan_feed(struct xf_mpscan *s, const unsigned char *p, size_t len, size_t max_bytes,
		   size_t *need, const char **why);

#endif
