// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Event dumps (--dump-events files are read back by tests and replays):
 * arbitrary bytes after a valid header through evdump_read, and every STACK
 * payload through evdump_parse_stack; the frames must lie inside the payload
 * and be terminated there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/cause_events.h"
#include "kafkalat/events.h"
#include "kafkalat/evdump.h"

static int check(void *ctx, enum evdump_kind kind, const void *data, size_t len)
{
	const char *frames[8];
	int32_t id;
	int n;

	(void)ctx;
	if (kind < EVDUMP_SOCKET || kind > EVDUMP_KIND_MAX || len > EVDUMP_MAX_RECORD)
		abort();
	if (kind != EVDUMP_STACK)
		return 0;
	n = evdump_parse_stack(data, len, &id, frames, 8);
	for (int i = 0; i < n; i++) {
		const char *f = frames[i];

		if (f < (const char *)data || f >= (const char *)data + len ||
		    !memchr(f, '\0', (size_t)((const char *)data + len - f)))
			abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t abi[2] = {KLT_ABI_VERSION, KLC_ABI_VERSION};
	uint8_t *buf = malloc(size + 16);
	size_t bad;

	if (!buf)
		return 0;
	memcpy(buf, EVDUMP_MAGIC, 8);
	memcpy(buf + 8, abi, sizeof(abi));
	memcpy(buf + 16, data, size);
	/* a valid header, then the input; and the input as a whole file */
	evdump_read(buf, size + 16, check, NULL, &bad);
	evdump_read(data, size, check, NULL, &bad);
	free(buf);
	return 0;
}
