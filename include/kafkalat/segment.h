/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kafka log segment paths: <log dir>/<topic>-<partition>/<base offset>.log
 * (the base offset is 20 digits, zero-padded). A write to such a file is an
 * append to that topic-partition; the correlator matches it to the produce
 * request carrying a batch for the partition.
 */
#ifndef KAFKALAT_SEGMENT_H
#define KAFKALAT_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#define SEGMENT_TOPIC_MAX 249 /* Kafka's limit on topic names */

struct segment {
	char topic[SEGMENT_TOPIC_MAX + 1];
	int32_t partition;
	uint64_t base_offset;
	/* the kind of file in the partition directory */
	enum { SEGMENT_LOG, SEGMENT_INDEX, SEGMENT_TIMEINDEX, SEGMENT_OTHER } kind;
};

/* Parses an absolute path (as /proc/PID/fd/N reads). Returns 0, or -EINVAL
 * when the path is not a file in a topic-partition directory. Topic names
 * may contain '-' and '.': the partition is what follows the last '-'. */
int segment_parse(const char *path, struct segment *out);

/* The topic id in a partition directory's partition.metadata, as Kafka
 * writes it ("version: 0\ntopic_id: <22 URL-safe base64 chars>\n"): len
 * bytes of text, not NUL-terminated. Returns 0, or -EINVAL for any other
 * content (another version, a malformed or missing id). */
int segment_parse_topic_id(const char *text, size_t len, uint8_t id[16]);

#endif
