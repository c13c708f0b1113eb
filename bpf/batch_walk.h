/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The offsets of the record batches a broker writes to a log segment, from
 * their headers alone: baseOffset (bytes 0..7), batchLength (8..11), magic
 * (16) and lastOffsetDelta (23..26), big endian; and the first batch's
 * producer identity, producerId (43..50) and baseSequence (53..56), which
 * attribution matches Produce requests by. The records are never read. Shared by the causes probe
 * (which reads each header's first BW_HEAD_BYTES from user memory) and the unit tests.
 */
#ifndef KAFKALAT_BATCH_WALK_H
#define KAFKALAT_BATCH_WALK_H

#define BW_HEAD_BYTES	57 /* up to the end of baseSequence */
#define BW_HEADER_LEN	61 /* a magic-2 batch header */
#define BW_LOG_OVERHEAD 12 /* baseOffset + batchLength, not counted in batchLength */
#define BW_MAX_BATCHES	64

struct bw {
	__u64 len; /* bytes of the write that may hold batches */
	__u64 off; /* the next batch header's position */
	__s64 base_offset;
	__s64 last_offset; /* of the last batch walked */
	__s64 producer_id; /* of the first batch */
	__s32 base_sequence;
	__u32 batches;
	__u32 ended; /* the walk stopped exactly at len */
};

static __always_inline __u64 bw_be(const __u8 *p, int n)
{
	__u64 v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Where the next header is, or 0 when the walk is over (at len, after a
 * header that is not a plausible magic-2 batch, or out of room). */
static __always_inline int bw_want(const struct bw *w)
{
	return w->len - w->off >= BW_HEADER_LEN && w->batches < BW_MAX_BATCHES;
}

/* Takes the header at w->off (h: its first BW_HEAD_BYTES); 1 to go on. */
static __always_inline int bw_take(struct bw *w, const __u8 *h)
{
	__u64 blen = bw_be(h + 8, 4);

	if (h[16] != 2 || blen < BW_HEADER_LEN - BW_LOG_OVERHEAD ||
	    blen > w->len - w->off - BW_LOG_OVERHEAD)
		return 0;
	if (!w->batches) {
		w->base_offset = (__s64)bw_be(h, 8);
		w->producer_id = (__s64)bw_be(h + 43, 8);
		w->base_sequence = (__s32)bw_be(h + 53, 4);
	}
	w->last_offset = (__s64)bw_be(h, 8) + (__s32)bw_be(h + 23, 4);
	w->batches++;
	w->off += BW_LOG_OVERHEAD + blen;
	if (w->off == w->len)
		w->ended = 1;
	return 1;
}

/* The last offset the walk proved: -1 unless it reached the write's end. */
static __always_inline __s64 bw_last(const struct bw *w)
{
	return w->ended ? w->last_offset : -1;
}

#endif
