/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Recordings: a long-lived file of typed, compressed records, written as a
 * run goes so that a killed run stays readable up to its last complete
 * record. The container knows nothing of what the records hold.
 *
 * Format, all integers little-endian:
 *   header, 16 bytes: magic "KLTREC\r\n", u32 format version (1), u32 flags (0)
 *   then records, back to back, no padding:
 *     u32 type, u32 raw length, u32 stored length,
 *     u32 CRC-32 (zlib's crc32) of the stored bytes,
 *     the stored bytes: the raw payload deflated as a zlib stream.
 *   raw length <= RECFILE_MAX_RAW; stored length <= compressBound(raw length).
 * The "\r\n" in the magic exposes a text-mode transfer that mangled the file.
 *
 * The reader trusts no length: every one is checked against the limits and
 * against the bytes that are there, the CRC before inflating, and a payload
 * must inflate to exactly its raw length. Any input gives either records or
 * a one-line error naming the file and the byte offset; records are counted
 * from 1.
 */
#ifndef KAFKALAT_RECFILE_H
#define KAFKALAT_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECFILE_MAGIC	    "KLTREC\r\n"
#define RECFILE_VERSION	    1u
#define RECFILE_HEADER_SIZE 16u
#define RECFILE_RECORD_HEAD 16u
#define RECFILE_MAX_RAW	    (16u << 20)

struct recfile_writer;
struct recfile_reader;

/*
 * Writing. Every function returns 0 or -errno and prints nothing: the caller
 * reports an error once. keep_old renames an existing file at path to
 * path.old first, as perf does with perf.data; without it an existing file
 * is an error (-EEXIST). The file is mode 0600 whatever the umask.
 */
int recfile_create(struct recfile_writer **out, const char *path, bool keep_old);
/* One record, whole: after an error the file ends at the last complete
 * record where the file system allows, and the writer refuses further
 * records with the same error. */
int recfile_append(struct recfile_writer *w, uint32_t type, const void *raw, size_t len);
/* fsync, close and free: the first error of those. */
int recfile_close(struct recfile_writer *w);

/*
 * Reading. recfile_open checks the file header; on failure *out is still a
 * reader (NULL only on -ENOMEM) whose recfile_error says why. A file is
 * streamed, not held in memory. recfile_open_mem reads a buffer the caller
 * keeps alive; name stands for the file name in messages.
 */
int recfile_open(struct recfile_reader **out, const char *path);
int recfile_open_mem(struct recfile_reader **out, const void *buf, size_t len, const char *name);
/* 1 and the next record (raw valid until the next call), 0 at the clean end
 * of the file, or a negative errno (-EINVAL for malformed input) that every
 * later call returns again. */
int recfile_next(struct recfile_reader *r, uint32_t *type, const void **raw, size_t *len);
/* "FILE: offset N: what is wrong", or "" while there is no error. */
const char *recfile_error(const struct recfile_reader *r);
/* Byte offset of the next record (the end of the file after a clean end). */
uint64_t recfile_offset(const struct recfile_reader *r);
void recfile_free(struct recfile_reader *r);

#endif
