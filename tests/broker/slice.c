// SPDX-License-Identifier: MIT
/* Offset -> segment byte range; see slice.h. */
#include "bytes.h"
#include "slice.h"

uint64_t slice_index_lookup(const uint8_t *index, uint32_t n, int64_t base, int64_t offset)
{
	uint32_t lo = 0, hi = n; /* first entry with a larger offset, by bisection */

	if (offset < base)
		return 0;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if ((int64_t)get_be32(index + (size_t)mid * 8) <= offset - base)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? get_be32(index + (size_t)(lo - 1) * 8 + 4) : 0;
}

/* One batch header at pos: its first and last offset and its size on disk. */
static int read_header(slice_read_fn rd, void *ctx, const struct slice_query *q, uint64_t pos,
		       int64_t *first, int64_t *last, uint64_t *size)
{
	uint8_t h[SLICE_HEADER_BYTES];
	uint32_t blen;

	if (q->end_pos - pos < SLICE_HEADER_BYTES || rd(ctx, h, sizeof(h), pos))
		return -1;
	blen = get_be32(h + 8); /* batchLength: bytes after this field */
	*size = 12 + (uint64_t)blen;
	if (blen < SLICE_HEADER_BYTES - 12 || *size > q->end_pos - pos)
		return -1;
	*first = get_be64(h);
	*last = *first + (int32_t)get_be32(h + 23);
	return *last < *first ? -1 : 0;
}

int slice_scan(slice_read_fn rd, void *ctx, const struct slice_query *q, uint64_t *pos,
	       uint64_t *len)
{
	uint64_t p = q->start_pos, size = 0;
	int64_t first, last;

	*pos = q->start_pos;
	*len = 0;
	/* forward to the batch that contains the offset */
	for (;; p += size) {
		if (p >= q->end_pos)
			return 0;
		if (read_header(rd, ctx, q, p, &first, &last, &size))
			return -1;
		if (last >= q->offset)
			break;
	}
	*pos = p;
	/* then whole batches while they fit and are below the limit */
	for (;;) {
		if (last >= q->limit)
			return 0;
		if (*len + size > q->max_bytes && !(*len == 0 && q->min_one))
			return 0;
		*len += size;
		p += size;
		if (p >= q->end_pos)
			return 0;
		if (read_header(rd, ctx, q, p, &first, &last, &size))
			return *len ? 0 : -1;
	}
}
