/* mpscan: the extent of one msgpack object, with depth and size limits; see mpscan.h. */
#include <stdint.h>

#include "mpscan.h"

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Decode the head of one item at p: its head size, the payload bytes that follow it,
 * and how many child items it has (arrays: n, maps: 2n). Returns 0, or -1 for 0xc1.
 * Heads longer than the available bytes report *head beyond len; the caller checks.
 */
static int item_head(const unsigned char *p, size_t len, size_t *head, uint64_t *payload,
		     uint64_t *children)
{
	unsigned c = p[0];
	static const unsigned char fixext_size[5] = { 1, 2, 4, 8, 16 };

	*payload = 0, *children = 0, *head = 1;
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return 0;
	if ((c & 0xf0) == 0x80 || (c & 0xf0) == 0x90) {
		*children = (c & 0x0f) * ((c & 0xf0) == 0x80 ? 2 : 1);
		return 0;
	}
	if ((c & 0xe0) == 0xa0) {
		*payload = c & 0x1f;
		return 0;
	}
	switch (c) {
	case 0xc1: return -1;
	case 0xc4: case 0xd9: case 0xc7: *head = 2; break;               /* bin8 str8 ext8 */
	case 0xc5: case 0xda: case 0xc8: *head = 3; break;               /* 16-bit lengths */
	case 0xc6: case 0xdb: case 0xc9: *head = 5; break;               /* 32-bit lengths */
	case 0xca: *head = 5; return 0;
	case 0xcb: *head = 9; return 0;
	case 0xcc: case 0xd0: *head = 2; return 0;
	case 0xcd: case 0xd1: *head = 3; return 0;
	case 0xce: case 0xd2: *head = 5; return 0;
	case 0xcf: case 0xd3: *head = 9; return 0;
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
		*head = 2, *payload = fixext_size[c - 0xd4]; return 0;
	case 0xdc: case 0xde: *head = 3; break;
	case 0xdd: case 0xdf: *head = 5; break;
	}
	if (*head > len)
		return 0;
	{
		uint64_t n = be(p + 1, (int)*head - 1);

		if (c >= 0xdc)
			*children = c >= 0xde ? 2 * n : n;
		else
			*payload = n;
		if (c >= 0xc7 && c <= 0xc9)
			*head += 1, *payload = n; /* ext: a type byte follows the length */
	}
	return 0;
}

void xf_mpscan_init(struct xf_mpscan *s)
{
	s->pending[0] = 1;
	s->depth = 0;
	s->pos = 0;
	s->items = 0;
}

int xf_mpscan_feed(struct xf_mpscan *s, const unsigned char *p, size_t len, size_t max_bytes,
		   size_t *need, const char **why)
{
	*why = "";
	while (s->depth >= 0) {
		size_t head;
		uint64_t payload, children;

		if (s->pos > len) {
			*need = s->pos; /* the rest of a str or bin payload */
			return XF_MPSCAN_MORE;
		}
		if (s->pending[s->depth] == 0) {
			s->depth--;
			continue;
		}
		if (s->pos >= len) {
			*need = s->pos + 1;
			return XF_MPSCAN_MORE;
		}
		if (item_head(p + s->pos, len - s->pos, &head, &payload, &children) < 0) {
			*why = "invalid msgpack byte 0xc1";
			return XF_MPSCAN_BAD;
		}
		if (head > len - s->pos) {
			*need = s->pos + head;
			return XF_MPSCAN_MORE;
		}
		if (payload > max_bytes || children > max_bytes || s->pos + head + payload > max_bytes) {
			*why = "frame exceeds the frame size limit";
			return XF_MPSCAN_LIMIT;
		}
		if (++s->items > XF_MP_MAX_ITEMS) {
			*why = "too many msgpack items in one frame";
			return XF_MPSCAN_LIMIT;
		}
		if (children && s->depth == XF_MP_MAX_DEPTH) {
			*why = "objects nested too deeply";
			return XF_MPSCAN_LIMIT;
		}
		s->pending[s->depth]--;
		s->pos += head + (size_t)payload;
		if (children)
			s->pending[++s->depth] = children;
	}
	if (s->pos > len) {
		*need = s->pos;
		return XF_MPSCAN_MORE;
	}
	return XF_MPSCAN_DONE;
}
