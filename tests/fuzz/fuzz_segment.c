// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* segment_parse on arbitrary paths (readlink of /proc/PID/fd/N is outside
 * input), segment_parse_topic_id on arbitrary partition.metadata contents. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1);
	struct segment s;

	uint8_t id[16];

	if (!path)
		return 0;
	/* exactly size bytes: no terminator to lean on. An id needs the header
	 * (21 bytes) and 22 characters; the final newline may be missing (as
	 * test_segment accepts), so 43 bytes can hold one */
	if (segment_parse_topic_id((const char *)data, size, id) == 0 && size < 43)
		abort();
	memcpy(path, data, size);
	path[size] = '\0';
	if (segment_parse(path, &s) == 0) {
		/* what was parsed must be a prefix of a '-' inside the input */
		if (strlen(s.topic) == 0 || strlen(s.topic) > SEGMENT_TOPIC_MAX ||
		    !strstr(path, s.topic) || s.partition < 0)
			abort();
	}
	free(path);
	return 0;
}
