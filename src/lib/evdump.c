// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Event dumps: writer and bounds-checked reader (evdump.h). */
#include <errno.h>
#include <string.h>

#include "kafkalat/cause_events.h"
#include "kafkalat/events.h"
#include "kafkalat/evdump.h"

#define HEADER_LEN 16

static int check_stream(FILE *out)
{
	return ferror(out) ? -EIO : 0;
}

int evdump_write_header(FILE *out)
{
	uint32_t abi[2] = {KLT_ABI_VERSION, KLC_ABI_VERSION};

	fwrite(EVDUMP_MAGIC, 1, 8, out);
	fwrite(abi, sizeof(abi), 1, out);
	return check_stream(out);
}

int evdump_write(FILE *out, enum evdump_kind kind, const void *data, size_t len)
{
	static const char zeros[8];
	uint32_t head[2] = {(uint32_t)kind, (uint32_t)len};

	if (len > EVDUMP_MAX_RECORD)
		return -E2BIG;
	fwrite(head, sizeof(head), 1, out);
	fwrite(data, 1, len, out);
	fwrite(zeros, 1, (8 - len % 8) % 8, out);
	return check_stream(out);
}

int evdump_write_stack(FILE *out, int32_t stack_id, const char *const *frames, int n)
{
	char buf[EVDUMP_MAX_RECORD];
	uint32_t count = 0;
	size_t off = 8;

	for (int i = 0; i < n && i < EVDUMP_MAX_FRAMES; i++) {
		size_t l = strnlen(frames[i], 512);

		if (off + l + 1 > sizeof(buf))
			break;
		memcpy(buf + off, frames[i], l);
		buf[off + l] = '\0';
		off += l + 1;
		count++;
	}
	memcpy(buf, &stack_id, 4);
	memcpy(buf + 4, &count, 4);
	return evdump_write(out, EVDUMP_STACK, buf, off);
}

int evdump_read(const void *buf, size_t len, evdump_record_fn fn, void *ctx, size_t *bad_offset)
{
	const unsigned char *p = buf;
	uint32_t abi[2];
	size_t off = HEADER_LEN;
	int rc;

	*bad_offset = 0;
	if (len < HEADER_LEN || memcmp(p, EVDUMP_MAGIC, 8))
		return -EINVAL;
	memcpy(abi, p + 8, sizeof(abi));
	/* socket records of older ABIs are read as far as they go (correlate.c) */
	if (abi[0] < KLT_ABI_VERSION_MIN || abi[0] > KLT_ABI_VERSION ||
	    abi[1] < KLC_ABI_VERSION_MIN || abi[1] > KLC_ABI_VERSION)
		return -EINVAL;
	while (off < len) {
		uint32_t head[2];
		size_t padded;

		*bad_offset = off;
		if (len - off < sizeof(head))
			return -EINVAL;
		memcpy(head, p + off, sizeof(head));
		padded = head[1] + (8 - head[1] % 8) % 8;
		if (head[0] < EVDUMP_SOCKET || head[0] > EVDUMP_KIND_MAX ||
		    head[1] > EVDUMP_MAX_RECORD || padded > len - off - sizeof(head))
			return -EINVAL;
		rc = fn(ctx, (enum evdump_kind)head[0], p + off + sizeof(head), head[1]);
		if (rc)
			return rc;
		off += sizeof(head) + padded;
	}
	return 0;
}

int evdump_parse_stack(const void *data, size_t len, int32_t *stack_id, const char **frames,
		       int max)
{
	const char *p = data;
	uint32_t count;
	size_t off = 8;
	int n = 0;

	if (len < 8)
		return -EINVAL;
	memcpy(stack_id, p, 4);
	memcpy(&count, p + 4, 4);
	if (count > EVDUMP_MAX_FRAMES)
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++) {
		const char *nul = off < len ? memchr(p + off, '\0', len - off) : NULL;

		if (!nul)
			return -EINVAL;
		if (n < max)
			frames[n++] = p + off;
		off = (size_t)(nul - p) + 1;
	}
	return n;
}
