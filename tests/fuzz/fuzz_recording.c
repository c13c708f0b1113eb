// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Recordings' contents (rec_read.c): the input is a list of records, each
 * a type byte, a 16-bit little-endian length and the payload, made into a
 * valid container (deflated, CRCs right) so that arbitrary payloads reach
 * the field parser; read back as two files merged, and as one. Also the
 * mountinfo parser (record's meta reads /proc/PID/mountinfo). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kafkalat/mountinfo.h"
#include "kafkalat/recfile.h"
#include "kafkalat/recording.h"

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The container around the input's records; its length in *out_len. */
static uint8_t *build(const uint8_t *in, size_t size, size_t *out_len)
{
	size_t cap = RECFILE_HEADER_SIZE + size * 2 + 4096, n = RECFILE_HEADER_SIZE;
	uint8_t *out = malloc(cap);

	memcpy(out, RECFILE_MAGIC, 8);
	put_u32(out + 8, RECFILE_VERSION);
	put_u32(out + 12, 0);
	for (size_t i = 0; i + 3 <= size;) {
		uint32_t type = in[i];
		size_t len = (size_t)in[i + 1] | (size_t)in[i + 2] << 8;
		uLongf zlen;

		i += 3;
		if (len > size - i)
			len = size - i;
		zlen = compressBound(len);
		if (n + RECFILE_RECORD_HEAD + zlen > cap)
			break;
		if (compress2(out + n + RECFILE_RECORD_HEAD, &zlen, in + i, len, 1) != Z_OK)
			break;
		put_u32(out + n, type);
		put_u32(out + n + 4, (uint32_t)len);
		put_u32(out + n + 8, (uint32_t)zlen);
		put_u32(out + n + 12, (uint32_t)crc32(0, out + n + RECFILE_RECORD_HEAD, zlen));
		n += RECFILE_RECORD_HEAD + zlen;
		i += len;
	}
	*out_len = n;
	return out;
}

static void load(const uint8_t *file, size_t len, uint32_t copies)
{
	const void *bufs[2] = {file, file};
	const size_t lens[2] = {len, len};
	const char *names[2] = {"a", "b"};
	char err[256];
	struct rec r;

	if (rec_load_mem(&r, bufs, lens, names, copies, err, sizeof(err)) == 0) {
		struct report_run run;

		rec_report_run(&r, &run);
		rec_free(&r);
	} else if (!memchr(err, '\0', sizeof(err)) || strchr(err, '\n')) {
		abort(); /* the message is one line */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	uint8_t *file = build(data, size, &len);
	char *text = malloc(size + 1);
	struct mount_desc md;
	char dir[256];

	load(file, len, 1);
	load(file, len, 2);
	free(file);
	memcpy(text, data, size);
	text[size] = '\0';
	mountinfo_find(text, size, "/var/lib/kafka/data", &md);
	mountinfo_log_dir(text, dir, sizeof(dir));
	free(text);
	return 0;
}
