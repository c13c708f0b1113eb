/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fuzz_causes: the decoding of fuzz input into cause records
 * (cause_events.h) and into a kernel stack symboliser, shared by the
 * fuzz targets that feed an explainer (fuzz_explain.c) or a whole pipeline
 * (fuzz_pipeline.c), so that both read their inputs alike. See
 * fuzz_explain.c for the encoding. static inline: a target pays nothing
 * for what it does not use.
 */
#ifndef KAFKALAT_TESTS_FUZZ_CAUSES_H
#define KAFKALAT_TESTS_FUZZ_CAUSES_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kafkalat/cause_events.h"

#define DEV   ((7u << 20) | 3u)
#define DEV2  ((8u << 20) | 1u)
#define ARENA (1u << 20) /* the symboliser's frame storage, bytes */

union rec {
	union klc_event ev;
	uint8_t raw[512];
	uint64_t align;
};

struct in {
	const uint8_t *p;
	size_t n;
	uint64_t t0; /* where the time grid of t_of() starts */
};

/* The symboliser's view of the whole input and its frame storage. */
struct sym {
	const uint8_t *data;
	size_t size;
	char *arena; /* ARENA bytes, reused by each call */
	size_t used;
	size_t long_max; /* an absurdly long frame is 300 + up to this many bytes */
};

static inline uint64_t take(struct in *in, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v = v << 8 | *in->p;
	return v;
}

/* Copies up to len input bytes into dst (the rest zero): no terminator. */
static inline void take_bytes(struct in *in, void *dst, size_t len)
{
	size_t n = len < in->n ? len : in->n;

	memcpy(dst, in->p, n);
	memset((char *)dst + n, 0, len - n);
	in->p += n;
	in->n -= n;
}

/* Times on a grid of 1 us over 65 ms so that records and requests meet. */
static inline uint64_t t_of(struct in *in)
{
	return in->t0 + take(in, 2) * 1024;
}

/* ---- the stack symboliser ---- */

static const char *const known_frames[] = {
    "bpf_prog_6deef7357e7b4530_on_switch",
    "bpf_trace_run4",
    "__bpf_trace_sched_switch",
    "__traceiter_sched_switch",
    "__schedule+0x2a/0x90",
    "schedule",
    "io_schedule",
    "wait_transaction_locked",
    "add_transaction_credits",
    "start_this_handle",
    "jbd2_log_wait_commit",
    "folio_wait_writeback",
    "folio_wait_bit_common",
    "balance_dirty_pages",
    "rwsem_down_write_slowpath",
    "down_write",
    "ext4_buffered_write_iter",
    "futex_wait_queue",
    "do_futex",
    "handle_mm_fault",
    "shrink_node",
    "sk_stream_wait_memory",
    "xfs_log_force_seq [xfs]",
    "blk_mq_get_tag.isra.0",
    "[<0>] schedule+0x1/0x2",
    "[<0>",
    "[<",
    "+0x1f/0x80",
    " ",
    "",
    "a;b;c",
    "x\ny",
    "\xff\xfe\"\\",
    NULL,
};

#define NKNOWN (sizeof(known_frames) / sizeof(known_frames[0]))

static inline char *arena_get(struct sym *s, size_t len)
{
	char *p;

	if (len + 1 > ARENA - s->used)
		return NULL;
	p = s->arena + s->used;
	s->used += len + 1;
	return p;
}

/* Frame i of a stack: runs of zero bytes read as a plausible stack. */
static inline const char *frame_of(struct sym *s, struct in *in, int i)
{
	uint8_t k = (uint8_t)take(in, 1);
	size_t len;
	char *p;

	if (k < 128)
		return known_frames[(k + (unsigned)i) % NKNOWN];
	if (k < 200) { /* input bytes, any of them */
		len = take(in, 1);
		if (!(p = arena_get(s, len)))
			return "";
		take_bytes(in, p, len);
		p[len] = '\0';
		return p;
	}
	if (k < 230) { /* absurdly long */
		len = 300 + take(in, 2) % s->long_max;
		if (!(p = arena_get(s, len)))
			return "";
		memset(p, "a;+[ "[k % 5], len);
		p[len] = '\0';
		return p;
	}
	/* a kernel-looking decoration around input bytes */
	len = take(in, 1) % 64;
	if (!(p = arena_get(s, len + 32)))
		return "";
	memcpy(p, k & 1 ? "[<0>] " : "", k & 1 ? 6 : 0);
	take_bytes(in, p + (k & 1 ? 6 : 0), len);
	snprintf(p + (k & 1 ? 6 : 0) + len, 26, "%s", k & 2 ? "+0x1f/0x80 [mod]" : ".cold");
	return p;
}

static inline int fake_stack(void *ctx, int32_t id, const char **frames, int max)
{
	struct sym *s = ctx;
	size_t off = (size_t)((uint32_t)id * 2654435761u) % s->size;
	struct in in = {s->data + off, s->size - off, 0};
	uint8_t mode = (uint8_t)take(&in, 1);
	int n;

	s->used = 0;
	if (mode == 0xfe)
		return -ENOENT;
	if (mode == 0xff)
		return 0;
	n = 1 + (int)(take(&in, 1) % (uint64_t)(max + 8)); /* may claim more than max */
	for (int i = 0; i < n && i < max; i++)
		frames[i] = frame_of(s, &in, i);
	return n;
}

/* ---- cause records ---- */

static const char *const parents[] = {"t-0", "u-1", "t-2", "tmp", "", "orders-with-dashes-12"};
static const char *const files[] = {"00000000000000000000.log", "00000000000000000100.log",
				    "00000000000000000000.index", "x.log"};

static inline void fill_name(struct in *in, char *dst, size_t len, const char *const *set, size_t n)
{
	uint8_t k = (uint8_t)take(in, 1);

	if (k % (n + 2) < n)
		snprintf(dst, len, "%s", set[k % (n + 2)]);
	else if (k % (n + 2) == n)
		take_bytes(in, dst, len); /* unterminated */
	else
		take_bytes(in, dst, take(in, 1) % len);
}

static inline uint32_t tid_of(struct in *in)
{
	return (uint32_t)(take(in, 1) % 9); /* 0 is invalid */
}

static inline void record_fields(struct in *in, uint32_t type, union rec *rec)
{
	static const int64_t rets[] = {-5, 0, 100, 200, 300, 1000, INT64_MAX, INT64_MIN};
	/* none, the stackless kinds and one past them, odd negatives, cached ids,
	 * ids past the cache (classified every time) */
	static const int32_t stacks[16] = {-1, -2, -3, -4,    -5,    INT32_MIN, 0,	   1,
					   2,  3,  4,  65535, 65536, 70000,	INT32_MAX, -14};
	uint8_t f;

	switch (type) {
	case KLC_EV_FILE:
		rec->ev.file.tid = tid_of(in);
		rec->ev.file.kind = (uint8_t)(take(in, 1) % (KLC_SYS_KIND_MAX + 2));
		rec->ev.file.ret = rets[take(in, 1) % 8];
		rec->ev.file.t_start_ns = t_of(in);
		f = (uint8_t)take(in, 1);
		rec->ev.file.t_end_ns = f == 255 ? rec->ev.file.t_start_ns - 1
						 : rec->ev.file.t_start_ns + (uint64_t)f * 1024;
		rec->ev.file.ino = 1 + take(in, 1) % 4;
		rec->ev.file.dev = f & 1 ? DEV2 : DEV;
		rec->ev.file.offset = -1;
		break;
	case KLC_EV_FUTEX:
		rec->ev.futex.tid = tid_of(in);
		rec->ev.futex.t_start_ns = t_of(in);
		rec->ev.futex.t_end_ns = rec->ev.futex.t_start_ns + take(in, 1) * 1024 - 1024;
		break;
	case KLC_EV_OFFCPU:
		rec->ev.offcpu.tid = tid_of(in);
		f = (uint8_t)take(in, 1);
		rec->ev.offcpu.t_off_ns = t_of(in);
		rec->ev.offcpu.t_on_ns =
		    rec->ev.offcpu.t_off_ns + take(in, 2) * 64 - (f & 1 ? 1 : 0);
		rec->ev.offcpu.t_wakeup_ns =
		    f & 2 ? rec->ev.offcpu.t_off_ns + take(in, 1) * 256 : 0;
		rec->ev.offcpu.blocked = f & 4 ? (f & 8 ? 255 : 1) : 0;
		rec->ev.offcpu.stack_id = stacks[take(in, 1) % 16];
		rec->ev.offcpu.waker_tid = tid_of(in);
		if (f & 16)
			take_bytes(in, rec->ev.offcpu.waker_comm, KLC_COMM_LEN);
		else
			snprintf(rec->ev.offcpu.waker_comm, KLC_COMM_LEN, "%s",
				 f & 32 ? "jbd2/sda1-8" : "kafka-network");
		break;
	case KLC_EV_BLOCK:
		rec->ev.block.dev = take(in, 1) & 1 ? DEV2 : DEV;
		rec->ev.block.t_issue_ns = t_of(in);
		rec->ev.block.t_complete_ns = t_of(in);
		rec->ev.block.bytes = 4096;
		break;
	case KLC_EV_JBD2_COMMIT:
		rec->ev.commit.dev = DEV;
		f = (uint8_t)take(in, 1);
		rec->ev.commit.t_start_ns = f & 1 ? 0 : t_of(in);
		rec->ev.commit.t_end_ns = t_of(in);
		break;
	case KLC_EV_FILE_NAME:
		rec->ev.name.fd = 9;
		rec->ev.name.ino = 1 + take(in, 1) % 4;
		rec->ev.name.dev = take(in, 1) & 1 ? DEV2 : DEV;
		fill_name(in, rec->ev.name.parent, KLC_PARENT_LEN, parents,
			  sizeof(parents) / sizeof(*parents));
		fill_name(in, rec->ev.name.name, KLC_NAME_LEN, files,
			  sizeof(files) / sizeof(*files));
		break;
	case KLC_EV_THREAD:
		rec->ev.thread.tid = tid_of(in);
		rec->ev.thread.tgid = (uint32_t)take(in, 1) % 3;
		break;
	case KLC_EV_BATCH:
		/* often the start of the file record that may follow */
		rec->ev.batch.tid = tid_of(in);
		rec->ev.batch.t_start_ns = t_of(in);
		f = (uint8_t)take(in, 1);
		rec->ev.batch.base_offset = f & 1 ? -1 : (int64_t)take(in, 2);
		rec->ev.batch.last_offset =
		    f & 2 ? -1 : rec->ev.batch.base_offset + (int64_t)take(in, 1) - 8;
		rec->ev.batch.batches = f & 4 ? 0 : 1 + (uint32_t)take(in, 1) % 64;
		rec->ev.batch.producer_id = f & 8 ? -1 : (int64_t)take(in, 1) % 3;
		rec->ev.batch.base_sequence = (int32_t)take(in, 1) % 3;
		break;
	default: /* the counted-only records, and garbage types: raw fields */
		take_bytes(in, rec->raw + 4, take(in, 1) % 64);
	}
}

/* A cause record of any type, of its size or not: its length. */
static inline size_t cause_record(struct in *in, union rec *rec)
{
	uint8_t sel = (uint8_t)take(in, 1), lm = sel >> 4;
	unsigned ti = sel % 15, nt = KLC_EV_MAX - KLC_EV_FILE;
	uint32_t type = ti < nt ? KLC_EV_FILE + ti : ti == nt ? 0 : ti == nt + 1 ? KLC_EV_MAX : 31;
	size_t size = ti < nt ? klc_event_size(KLC_EV_FILE + ti) : sizeof(struct klc_file_event);

	memset(rec, 0, sizeof(*rec));
	record_fields(in, type, rec);
	memcpy(rec->raw, &type, sizeof(type));
	return lm < 12	  ? size
	       : lm == 12 ? size - 8
	       : lm == 13 ? size + 8
	       : lm == 14 ? take(in, 1) * 2
			  : sel % 4;
}

/* Input bytes as a record, or a known type's size of them: its length. */
static inline size_t raw_record(struct in *in, union rec *rec)
{
	size_t len = take(in, 2) % (sizeof(union rec) + 1);
	uint8_t flag;

	take_bytes(in, rec->raw, len);
	memset(rec->raw + len, 0, sizeof(*rec) - len);
	flag = (uint8_t)take(in, 1);
	if (flag & 1) {
		uint32_t type = KLC_EV_FILE + (uint32_t)(flag >> 1) % (KLC_EV_MAX - KLC_EV_FILE);

		memcpy(rec->raw, &type, sizeof(type));
		len = klc_event_size(type);
	}
	return len;
}

#endif
