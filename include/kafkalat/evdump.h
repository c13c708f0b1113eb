/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Event dumps (--dump-events FILE): the raw records of both ring buffers as
 * kafkalat consumed them, and the frames of every kernel stack it
 * symbolised, so that a live run can be replayed through the correlator and
 * the explainer without root (golden traces in tests/data/traces/).
 *
 * Format (little-endian, as written on this machine): the 16-byte header
 * "KLTDUMP1", u32 events.h ABI, u32 cause_events.h ABI; then records: u32
 * kind (enum evdump_kind), u32 length, the payload, zero padding to 8 bytes.
 * A STACK payload is an s32 stack id, a u32 frame count, then the frames as
 * NUL-terminated names. The reader checks every length and never trusts one.
 */
#ifndef KAFKALAT_EVDUMP_H
#define KAFKALAT_EVDUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EVDUMP_MAGIC	  "KLTDUMP1"
#define EVDUMP_MAX_RECORD (1u << 16)
#define EVDUMP_MAX_FRAMES 128

enum evdump_kind {
	EVDUMP_SOCKET = 1, /* a socket probe record (events.h) */
	EVDUMP_CAUSE = 2,  /* a causes record (cause_events.h) */
	EVDUMP_STACK = 3,  /* a symbolised kernel stack */
	EVDUMP_STATS = 4,  /* the kernel's loss counters at the end (struct evdump_stats) */
	/* a topic id learnt from partition.metadata (struct evdump_topic_id) */
	EVDUMP_TOPIC_ID = 5,
	/* int64 CLOCK_REALTIME - CLOCK_MONOTONIC ns, before any record */
	EVDUMP_CLOCK = 6,
	/* how the run traced (struct evdump_run), right after the header;
	 * older dumps lack it and a replay infers it from the records */
	EVDUMP_RUN = 7,
	EVDUMP_KIND_MAX = EVDUMP_RUN,
};

/* What a replay must know to run the pipeline as the live run did, even
 * when the records cannot tell (a run with causes that saw none). */
struct evdump_run {
	uint8_t causes;		   /* cause records were traced */
	uint8_t futex_from_offcpu; /* futex waits came from the scheduler */
	uint8_t pad[6];
};

struct evdump_topic_id {
	uint8_t id[16];
	char name[256]; /* NUL-terminated */
};

/* What the kernel side could not deliver, written once when a run ends:
 * a replay reports the same losses as the live run. */
struct evdump_stats {
	uint64_t socket_lost;	  /* socket records lost (ring full) */
	uint64_t cause_lost;	  /* cause records lost (ring full) */
	uint64_t conn_table_full; /* connections the kernel could not track */
	uint64_t resync_skipped;  /* syscalls skipped while resynchronising */
	uint64_t stack_errors;	  /* stacks the kernel could not record */
};

/* Writing: 0 or -errno (the stream's error). */
int evdump_write_header(FILE *out);
int evdump_write(FILE *out, enum evdump_kind kind, const void *data, size_t len);
int evdump_write_stack(FILE *out, int32_t stack_id, const char *const *frames, int n);

/* Reading from memory. Each record is passed to fn (a non-zero return stops
 * the walk and is returned). Returns 0 at a clean end, -EINVAL for a bad
 * header, ABI, kind or length (*bad_offset set to where), or fn's value. */
typedef int (*evdump_record_fn)(void *ctx, enum evdump_kind kind, const void *data, size_t len);
int evdump_read(const void *buf, size_t len, evdump_record_fn fn, void *ctx, size_t *bad_offset);

/* A STACK payload's parts: frames point into data. Returns the frame count
 * (<= max) or -EINVAL. */
int evdump_parse_stack(const void *data, size_t len, int32_t *stack_id, const char **frames,
		       int max);

#endif
