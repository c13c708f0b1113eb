// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include "kafkalat/segment.h"

/* Kafka's legal topic characters: ASCII alphanumerics, '.', '_', '-'. */
static int topic_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static int parse_digits(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* "<topic>-<partition>": the directory name, dir_len bytes at dir. */
static int parse_dir(const char *dir, size_t dir_len, struct segment *out)
{
	const char *dash = NULL;
	uint64_t part;

	for (size_t i = 0; i < dir_len; i++) {
		if (!topic_char(dir[i]))
			return -EINVAL;
		if (dir[i] == '-')
			dash = dir + i;
	}
	if (!dash || dash == dir || (size_t)(dash - dir) > SEGMENT_TOPIC_MAX)
		return -EINVAL;
	if (parse_digits(dash + 1, dir_len - (size_t)(dash + 1 - dir), INT32_MAX, &part))
		return -EINVAL;
	memcpy(out->topic, dir, (size_t)(dash - dir));
	out->topic[dash - dir] = '\0';
	out->partition = (int32_t)part;
	return 0;
}

/* "<offset>.<ext>": the file name. */
static int parse_file(const char *name, struct segment *out)
{
	const char *dot = strchr(name, '.');

	if (!dot || dot - name != 20 || parse_digits(name, 20, UINT64_MAX, &out->base_offset))
		return -EINVAL;
	if (!strcmp(dot, ".log"))
		out->kind = SEGMENT_LOG;
	else if (!strcmp(dot, ".index"))
		out->kind = SEGMENT_INDEX;
	else if (!strcmp(dot, ".timeindex"))
		out->kind = SEGMENT_TIMEINDEX;
	else
		out->kind = SEGMENT_OTHER;
	return 0;
}

int segment_parse(const char *path, struct segment *out)
{
	const char *name, *dir;
	struct segment s;

	if (!path || path[0] != '/')
		return -EINVAL;
	name = strrchr(path, '/');
	if (name == path)
		return -EINVAL; /* a file in / has no partition directory */
	for (dir = name - 1; dir > path && *dir != '/'; dir--)
		;
	dir++;
	memset(&s, 0, sizeof(s));
	if (parse_dir(dir, (size_t)(name - dir), &s) || parse_file(name + 1, &s))
		return -EINVAL;
	*out = s;
	return 0;
}
