/* SPDX-License-Identifier: MIT */
/*
 * Offset -> file position in a segment, as Kafka's OffsetIndex.lookup plus
 * FileRecords.searchForOffsetWithSize: the sparse index gives the position
 * of a batch at or before the offset, then batch headers (baseOffset,
 * batchLength, lastOffsetDelta) are read forward from there. Only headers
 * are read, never record payloads. Pure logic over a read callback, so the
 * unit tests run it on memory.
 */
#ifndef REFBROKER_SLICE_H
#define REFBROKER_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a batch header the scan reads: up to lastOffsetDelta (23..26). */
#define SLICE_HEADER_BYTES 27

/* Reads n bytes at off; 0 on success, -1 when they are not all there. */
typedef int (*slice_read_fn)(void *ctx, uint8_t *buf, size_t n, uint64_t off);

struct slice_query {
	uint64_t start_pos; /* a batch boundary at or before the offset (index lookup) */
	uint64_t end_pos;   /* segment size: nothing is read at or past it */
	int64_t offset;	    /* the batch containing it comes first */
	int64_t limit;	    /* only batches whose last offset is below it */
	uint64_t max_bytes;
	bool min_one; /* one whole batch even when larger than max_bytes (KIP-74) */
};

/*
 * Finds the whole batches to return: *pos where the first starts, *len their
 * total size (0: none readable). -1 on a read error or a header that does
 * not fit the segment.
 */
int slice_scan(slice_read_fn rd, void *ctx, const struct slice_query *q, uint64_t *pos,
	       uint64_t *len);

/*
 * Position of the last index entry whose offset is <= offset (0 if none).
 * index: n 8-byte entries (offset - base, position), big-endian, ascending.
 */
uint64_t slice_index_lookup(const uint8_t *index, uint32_t n, int64_t base, int64_t offset);

#endif
