/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * explain_scenario: cause records and produce requests built by hand for the
 * explainer's tests (test_explain.c, test_report_tail.c). Times are in
 * microseconds from T. Include after <cmocka.h>; static inline, so a test
 * that does not use a builder pays nothing for it.
 */
#ifndef KAFKALAT_TESTS_EXPLAIN_SCENARIO_H
#define KAFKALAT_TESTS_EXPLAIN_SCENARIO_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kafkalat/cause_events.h"
#include "kafkalat/correlate.h"
#include "kafkalat/explain.h"
#include "produce_req.h"

#define T     1000000000000ull
#define US(x) ((uint64_t)((double)T + (x)*1000.0))
#define MS    1000
#define NET   100
#define H1    201
#define DEV   ((7u << 20) | 3u)
#define INO   4242
#define BYTES 1000

/* The records go to an explainer, or to what the includer names: its type
 * (SCENARIO_SINK) and a function taking it like explain_feed (SCENARIO_FEED). */
#ifndef SCENARIO_SINK
#define SCENARIO_SINK struct explain
#define SCENARIO_FEED explain_feed
#endif

static const char *const journal_stack[] = {
    "bpf_prog_ee59474bdff6754c_kw_step_client_id_len",
    "bpf_trace_run4",
    "__schedule+0x2a/0x90",
    "schedule",
    "wait_transaction_locked",
    "add_transaction_credits",
    "start_this_handle",
    "jbd2__journal_start",
    "__ext4_journal_start_sb",
    "ext4_dirty_inode",
    "__mark_inode_dirty",
    "generic_update_time",
    "file_modified",
    "ext4_buffered_write_iter",
    "vfs_write",
    "ksys_write",
    "do_syscall_64",
};
static const char *const futex_stack[] = {"__schedule", "schedule", "futex_wait_queue",
					  "futex_wait", "do_futex", "__x64_sys_futex"};

/* how often the explainer asked for a stack's frames */
static int stack_calls;

/* stack 1: the journal; 2: a futex; others cannot be read */
static inline int stacks(void *ctx, int32_t id, const char **frames, int max)
{
	const char *const *s = id == 1 ? journal_stack : futex_stack;
	int n = id == 1 ? (int)(sizeof(journal_stack) / sizeof(*s))
			: (int)(sizeof(futex_stack) / sizeof(*s));

	(void)ctx;
	stack_calls++;
	if (id != 1 && id != 2)
		return -ENOENT;
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++)
		frames[i] = s[i];
	return n;
}

static inline void feed(SCENARIO_SINK *t, const void *rec, size_t len)
{
	assert_int_equal(SCENARIO_FEED(t, rec, len), 0);
}

static inline void name(SCENARIO_SINK *t, uint64_t ino, const char *parent, const char *file)
{
	struct klc_file_name_event e = {.type = KLC_EV_FILE_NAME, .fd = 9, .ino = ino, .dev = DEV};

	strncpy(e.parent, parent, sizeof(e.parent) - 1);
	strncpy(e.name, file, sizeof(e.name) - 1);
	feed(t, &e, sizeof(e));
}

static inline void file(SCENARIO_SINK *t, uint32_t tid, uint8_t kind, uint64_t ino, int64_t ret,
			double t0, double t1)
{
	struct klc_file_event e = {.type = KLC_EV_FILE,
				   .tid = tid,
				   .t_start_ns = US(t0),
				   .t_end_ns = US(t1),
				   .ret = ret,
				   .offset = -1,
				   .ino = ino,
				   .dev = DEV,
				   .fd = 9,
				   .kind = kind};

	feed(t, &e, sizeof(e));
}

static inline void offcpu(SCENARIO_SINK *t, uint32_t tid, double off, double on, double wake,
			  int blocked, int32_t stack, uint32_t waker, const char *comm)
{
	struct klc_offcpu_event e = {.type = KLC_EV_OFFCPU,
				     .tid = tid,
				     .t_off_ns = US(off),
				     .t_on_ns = US(on),
				     .t_wakeup_ns = wake > 0 ? US(wake) : 0,
				     .stack_id = stack,
				     .waker_tid = waker,
				     .blocked = (uint8_t)blocked};

	strncpy(e.waker_comm, comm, sizeof(e.waker_comm));
	feed(t, &e, sizeof(e));
}

static inline void futex(SCENARIO_SINK *t, uint32_t tid, double t0, double t1)
{
	struct klc_futex_event e = {
	    .type = KLC_EV_FUTEX, .tid = tid, .t_start_ns = US(t0), .t_end_ns = US(t1)};

	feed(t, &e, sizeof(e));
}

/* One request to partition 3 of "orders", read and answered by NET. */
static inline void req_init(struct req *q, int32_t corr, double first, double read, double resp,
			    double end)
{
	produce_req_init(q, NET, US(first), US(read), US(resp), US(end));
	q->r.corr_id = corr;
	produce_req_part(q, 3, BYTES);
	/* on the wire exactly while in the broker: no socket wait */
	q->r.t_arrival = q->r.t_complete = q->r.t_first;
	q->r.t_sent = q->r.t_end;
}

/* The causes of one request: NET reads 0..10, H1 wakes from the queue at 31,
 * writes its batch 40..(40 + stall), blocked in the journal, NET sends the
 * response. */
static inline void request_causes(SCENARIO_SINK *t, double base, double stall, int32_t stack)
{
	futex(t, H1, base - 100 * MS, base + 32);
	offcpu(t, H1, base - 100 * MS, base + 31, base + 30, 1, 2, NET, "kafka-network");
	file(t, H1, KLC_SYS_WRITE, INO, BYTES, base + 40, base + 50 + stall);
	if (stall > 0)
		offcpu(t, H1, base + 45, base + 45 + stall, base + 44 + stall, 1, stack, 77,
		       "jbd2/loop3-8");
	offcpu(t, NET, base + 12, base + 57 + stall, base + 55 + stall, 1, -1, H1, "kafka-handler");
}

/* That request, with its causes. */
static inline void one_request(SCENARIO_SINK *t, struct req *q, int32_t corr, double base,
			       double stall, int32_t stack)
{
	request_causes(t, base, stall, stack);
	req_init(q, corr, base, base + 10, base + 70 + stall, base + 80 + stall);
}

#endif
