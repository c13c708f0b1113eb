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

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* 22 characters: 132 bits, of which the last 4 must be zero. */
static int decode_uuid(const char *s, uint8_t id[16])
{
	uint32_t bits = 0;
	int nbits = 0, o = 0;

	for (int i = 0; i < 22; i++) {
		int v = b64url_value(s[i]);

		if (v < 0)
			return -EINVAL;
		bits = bits << 6 | (uint32_t)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			if (o < 16)
				id[o++] = (uint8_t)(bits >> nbits);
		}
	}
	return o == 16 && nbits == 4 && !(bits & 15) ? 0 : -EINVAL;
}

int segment_parse_topic_id(const char *text, size_t len, uint8_t id[16])
{
	static const char head[] = "version: 0\ntopic_id: ";
	const size_t hlen = sizeof(head) - 1;
	size_t rest;

	if (!text || len < hlen + 22 || memcmp(text, head, hlen))
		return -EINVAL;
	rest = len - hlen - 22;
	/* the id ends the file, or its line */
	if (rest && !(text[hlen + 22] == '\n' && rest == 1))
		return -EINVAL;
	return decode_uuid(text + hlen, id);
}
