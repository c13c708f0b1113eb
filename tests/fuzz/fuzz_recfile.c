// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Recordings (kafkalat's long-lived files are read back from disk): the
 * input as a whole file; after a valid header with every CRC made right, so
 * that arbitrary stored bytes reach the inflater; and deflated as the one
 * record of a valid file. Every payload also goes through hist_decode, and
 * what decodes must encode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kafkalat/hist.h"
#include "kafkalat/recfile.h"

static struct hist h;
static uint8_t encoded[HIST_ENCODED_MAX];

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_hist(const void *raw, size_t len)
{
	if (hist_decode(&h, raw, len))
		return;
	if (hist_encode(&h, encoded, sizeof(encoded)) != len || memcmp(encoded, raw, len))
		abort();
}

/* Every record, then a clean end or an error naming the input; the number
 * of records. */
static size_t read_all(const uint8_t *buf, size_t size)
{
	struct recfile_reader *r;
	const void *raw;
	uint32_t type;
	size_t len, n = 0;
	int ret;

	if (recfile_open_mem(&r, buf, size, "in") == 0) {
		while ((ret = recfile_next(r, &type, &raw, &len)) == 1) {
			if (len > RECFILE_MAX_RAW || recfile_offset(r) > size)
				abort();
			check_hist(raw, len);
			n++;
		}
		if (ret == 0 && recfile_offset(r) != size)
			abort();
	}
	if (r && *recfile_error(r) && strncmp(recfile_error(r), "in: ", 4))
		abort();
	recfile_free(r);
	return n;
}

static void header(uint8_t *buf)
{
	memcpy(buf, RECFILE_MAGIC, 8);
	put_u32(buf + 8, RECFILE_VERSION);
	put_u32(buf + 12, 0);
}

/* The records' CRCs made right, as far as their stored lengths fit. */
static void fix_crcs(uint8_t *buf, size_t size)
{
	size_t off = RECFILE_HEADER_SIZE, stored;

	while (size - off >= RECFILE_RECORD_HEAD) {
		stored = get_u32(buf + off + 8);
		if (stored > size - off - RECFILE_RECORD_HEAD)
			return;
		put_u32(buf + off + 12, (uint32_t)crc32(0, buf + off + 16, (uInt)stored));
		off += RECFILE_RECORD_HEAD + stored;
	}
}

/* The input as the payload of the only record of a valid file. */
static void one_record(const uint8_t *data, size_t size)
{
	uLongf stored = compressBound(size);
	uint8_t *buf;

	if (size > RECFILE_MAX_RAW)
		return;
	buf = malloc(32 + stored);
	if (!buf || compress2(buf + 32, &stored, data, size, 6) != Z_OK) {
		free(buf);
		return;
	}
	header(buf);
	put_u32(buf + 16, 1);
	put_u32(buf + 20, (uint32_t)size);
	put_u32(buf + 24, (uint32_t)stored);
	put_u32(buf + 28, (uint32_t)crc32(0, buf + 32, (uInt)stored));
	if (read_all(buf, 32 + stored) != 1)
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size + RECFILE_HEADER_SIZE);

	if (!buf)
		return 0;
	read_all(data, size);
	header(buf);
	memcpy(buf + RECFILE_HEADER_SIZE, data, size);
	fix_crcs(buf, size + RECFILE_HEADER_SIZE);
	read_all(buf, size + RECFILE_HEADER_SIZE);
	free(buf);
	one_record(data, size);
	return 0;
}
