/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel <-> user ABI of the causes object (bpf/causes.bpf.c): the
 * kernel waits of one broker process (file writes and syncs, futex waits,
 * off-CPU intervals with their waker), block I/O of every device, and the
 * journal and writeback tracepoints. Its own ring buffer, so its type tags
 * do not collide with events.h; they still start at 32 so that a trace
 * file may hold both. Explicit fixed-width fields, the type tag first,
 * every size a multiple of 8. Bump KLC_ABI_VERSION on any layout change.
 *
 * Times are CLOCK_MONOTONIC ns (bpf_ktime_get_ns). Device numbers are the
 * kernel's dev_t: major = dev >> 20, minor = dev & 0xfffff. Jiffies fields
 * are raw kernel jiffies (CONFIG_HZ).
 */
#ifndef KAFKALAT_CAUSE_EVENTS_H
#define KAFKALAT_CAUSE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define KLC_ABI_VERSION 6
/* Version 3 lacks KLC_EV_THREAD and KLC_EV_BATCH; version 4 batch records
 * lack the fields from producer_id on (KLC_BATCH_V4_SIZE: readers take them
 * as unknown); the other records are the same. */
#define KLC_ABI_VERSION_MIN 3

#define KLC_COMM_LEN	   16
#define KLC_MAX_SYSCALL_NR 512
#define KLC_MAX_STACK	   64 /* frames kept per kernel stack (deeper ones are cut) */

enum klc_event_type {
	KLC_EV_FILE = 32,      /* a write or sync on a regular file */
	KLC_EV_FUTEX,	       /* a futex wait (WAIT, WAIT_BITSET, LOCK_PI, ...) */
	KLC_EV_OFFCPU,	       /* a broker thread was off CPU (blocked or preempted) */
	KLC_EV_BLOCK,	       /* a block request completed (any device, any process) */
	KLC_EV_JBD2_COMMIT,    /* a jbd2 transaction commit, start to end */
	KLC_EV_JBD2_RUN,       /* jbd2_run_stats of a committed transaction */
	KLC_EV_JBD2_HANDLE,    /* jbd2_handle_stats of a broker thread's handle */
	KLC_EV_DIRTY_THROTTLE, /* writeback:balance_dirty_pages on a broker thread */
	KLC_EV_FOLIO_WAIT,     /* writeback:folio_wait_writeback on a broker thread */
	KLC_EV_FILE_NAME,      /* a regular file's name, once per fd until it is closed */
	KLC_EV_THREAD,	       /* ABI 4: a traced thread's process, before its first record */
	KLC_EV_BATCH,	       /* ABI 4: record batch offsets of the next KLC_EV_FILE write */
	KLC_EV_LOST,	       /* ABI 6: records that did not fit in the ring came before this */
	KLC_EV_MAX,	       /* keep last */
};

/* Syscalls watched (sys_kind[nr] holds the kind; 0 = not watched). */
enum klc_sys_kind {
	KLC_SYS_NONE = 0,
	KLC_SYS_WRITE,
	KLC_SYS_PWRITE64,
	KLC_SYS_WRITEV,
	KLC_SYS_PWRITEV,
	KLC_SYS_PWRITEV2,
	KLC_SYS_FSYNC,
	KLC_SYS_FDATASYNC,
	KLC_SYS_FUTEX,
	KLC_SYS_CLOSE, /* only invalidates the fd cache: no event */
	KLC_SYS_KIND_MAX,
};

/*
 * Blocked in a syscall whose kernel stack is always the same: the stack is
 * not walked (a stack walk is most of sched_switch's cost) and stack_id is
 * one of these instead. The kind of each syscall is set at load time
 * (stackless[nr]); syscalls numbered below 200 are never stackless: for an
 * exception the same register holds an error code, not a syscall number.
 */
enum klc_stackless {
	KLC_STACKLESS_NONE = 0,
	KLC_STACKLESS_FUTEX, /* futex wait: stack_id = -2 */
	KLC_STACKLESS_POLL,  /* epoll_wait and friends: stack_id = -3 */
	KLC_STACKLESS_SLEEP, /* clock_nanosleep: stack_id = -4 */
};
#define KLC_STACK_ID_STACKLESS(kind) (-1 - (int)(kind))
#define KLC_STACKLESS_MIN_NR	     200

/* Groups of programs, chosen at load time (causes_opts.groups). */
#define KLC_G_FILE	(1u << 0)
#define KLC_G_FUTEX	(1u << 1)
#define KLC_G_SCHED	(1u << 2)
#define KLC_G_BLOCK	(1u << 3)
#define KLC_G_JOURNAL	(1u << 4)
#define KLC_G_WRITEBACK (1u << 5)
#define KLC_G_ALL	0x3fu
/* File writes and syncs on their own syscall tracepoints instead of the raw
 * sys_enter/sys_exit (KLC_G_FILE): cheaper for the rest of the system. Not
 * with KLC_G_FILE or KLC_G_FUTEX; needs tracefs for the tracepoint ids. */
#define KLC_G_FILE_TP (1u << 6)

struct klc_file_event {
	__u32 type;
	__u32 tid;
	__u64 t_start_ns; /* syscall entry */
	__u64 t_end_ns;	  /* syscall exit */
	__s64 ret;	  /* bytes written, 0 for a sync, or -errno */
	__s64 offset;	  /* pwrite64/pwritev(2) position; -1 where not known */
	__u64 ino;	  /* inode number */
	__u32 dev;	  /* the inode's superblock device */
	__s32 fd;
	__u8 kind; /* enum klc_sys_kind */
	__u8 pad[7];
};

struct klc_futex_event {
	__u32 type;
	__u32 tid;
	__u64 t_start_ns;
	__u64 t_end_ns;
	__u64 uaddr;
	__s64 ret;
	__u32 op; /* as passed, with FUTEX_PRIVATE_FLAG / FUTEX_CLOCK_REALTIME */
	__u32 pad;
};

struct klc_offcpu_event {
	__u32 type;
	__u32 tid;
	__u64 t_off_ns;	   /* switched out */
	__u64 t_on_ns;	   /* switched back in */
	__u64 t_wakeup_ns; /* sched_waking; 0 when preempted or not seen */
	__s32 stack_id;	   /* kernel stack at switch-out (blocked only); -1 none; <= -2
			      stackless (KLC_STACK_ID_STACKLESS) */
	__u32 prev_state;  /* prev->__state at switch-out */
	__u32 waker_tid;   /* 0 when not seen */
	__u32 waker_tgid;
	__u32 cpu;    /* CPU it came back on */
	__u8 blocked; /* 1: went to sleep; 0: preempted (runnable) */
	__u8 pad[3];
	char waker_comm[KLC_COMM_LEN];
};

struct klc_block_event {
	__u32 type;
	__u32 dev; /* the disk (rq->q->disk) */
	__u64 t_issue_ns;
	__u64 t_complete_ns;
	__u64 sector;
	__u32 bytes;	 /* at issue */
	__u32 part_dev;	 /* the partition (rq->part), 0 if not known */
	__u32 cmd_flags; /* REQ_OP_* in the low 8 bits, REQ_* flags above */
	__s32 error;	 /* blk_status_t at completion */
	__u32 issue_tid; /* current at issue (often a kworker or the submitter) */
	__u32 issue_tgid;
};

struct klc_jbd2_commit_event {
	__u32 type;
	__u32 dev;
	__u64 t_start_ns; /* 0 if the start was not seen */
	__u64 t_end_ns;
	__u32 tid;	  /* the transaction id */
	__u32 commit_tid; /* the thread that committed (jbd2/<dev>) */
};

struct klc_jbd2_run_event {
	__u32 type;
	__u32 dev;
	__u64 ts_ns;
	__u64 wait; /* jiffies, all six as struct transaction_run_stats_s */
	__u64 request_delay;
	__u64 running;
	__u64 locked;
	__u64 flushing;
	__u64 logging;
	__u32 handle_count;
	__u32 blocks;
	__u32 blocks_logged;
	__u32 tid;
};

struct klc_jbd2_handle_event {
	__u32 type;
	__u32 dev;
	__u64 ts_ns;
	__u32 tid; /* transaction */
	__u32 thread;
	__u32 handle_type;
	__u32 line_no;
	__s32 interval; /* jiffies the handle was open */
	__s32 sync;
	__s32 requested_blocks;
	__s32 dirtied_blocks;
};

struct klc_dirty_throttle_event {
	__u32 type;
	__u32 tid;
	__u64 ts_ns;
	__s64 pause;  /* jiffies it will sleep (the task goes off CPU next) */
	__u64 period; /* jiffies */
	__u64 paused; /* jiffies since start_time */
	__u64 dirty_ratelimit;
	__u64 task_ratelimit;
	__u64 dirtied;
};

struct klc_folio_wait_event {
	__u32 type;
	__u32 tid;
	__u64 ts_ns;
	__u64 ino;
	__u64 index; /* folio index in the file, in pages */
	__u32 dev;
	__u32 pad;
};

/* Sent when a broker fd is first seen to be a regular file (before its first
 * FILE event): the last two path components, enough to tell a log segment's
 * topic-partition (<dir>/<topic>-<partition>/<offset>.log). Names longer than
 * the fields are cut (and NUL-terminated): the reader must not trust them. */
#define KLC_NAME_LEN   64
#define KLC_PARENT_LEN 264 /* a 249-byte topic, '-', a partition number */

struct klc_file_name_event {
	__u32 type;
	__s32 fd;
	__u64 ino;
	__u32 dev;
	__u32 pad;
	char name[KLC_NAME_LEN];
	char parent[KLC_PARENT_LEN];
};

/* Sent once per traced thread before its first record (again after the
 * probe forgets it): the broker process a tid belongs to. */
struct klc_thread_event {
	__u32 type;
	__u32 tid;
	__u32 tgid;
	__u32 pad;
};

/* Sent right before the KLC_EV_FILE of a write to a regular file whose
 * first bytes are a magic-2 record batch: the offsets its batch headers
 * (61 bytes each, never the records) say. Joined to the next KLC_EV_FILE
 * of the same tid with the same t_start_ns. */
struct klc_batch_event {
	__u32 type;
	__u32 tid;
	__u64 t_start_ns;  /* equal to the KLC_EV_FILE t_start_ns of the write */
	__s64 base_offset; /* first batch's baseOffset (bytes 0..7, big endian) */
	__s64 last_offset; /* last batch's baseOffset + lastOffsetDelta, when the
			      walk reached it; else -1 */
	__u32 batches;	   /* batch headers walked */
	__s32 fd;
	/* ABI 5: the first batch's producerId (bytes 43..50) and baseSequence
	 * (53..56); producerId -1 for a producer that is not idempotent */
	__s64 producer_id;
	__s32 base_sequence;
	__u32 pad;
};

/* The size of a version 4 batch record. */
#define KLC_BATCH_V4_SIZE __builtin_offsetof(struct klc_batch_event, producer_id)

/* ABI 6: records that did not fit in the ring came before this one,
 * counts[type - KLC_EV_FILE] of each type, the first at t_first_ns (the
 * layout of klt_lost_event). */
struct klc_lost_event {
	__u32 type;
	__u32 flags;
	__u64 t_first_ns;
	__u64 ts_ns;
	__u32 counts[16];
};

/* Per-CPU counters (array map "stats", one struct per CPU), __u64
 * each: the loader sums them field by field as an array. */
struct klc_stats {
	__u64 ringbuf_drops;   /* failed ring buffer reservations */
	__u64 drops[16];       /* the same by type - KLC_EV_FILE */
	__u64 fd_lookups;      /* fds classified through the fdtable */
	__u64 stack_errors;    /* bpf_get_stackid failed: stack_id < 0 */
	__u64 state_full;      /* per-thread or per-request state could not be stored */
	__u64 block_unmatched; /* completions without their issue */
};

/* The size of a record of this type; 0 when it is not a KLC_EV_* type. */
/* Any one record, for a reader that copies it out of the ring first. */
union klc_event {
	struct klc_file_event file;
	struct klc_futex_event futex;
	struct klc_offcpu_event offcpu;
	struct klc_block_event block;
	struct klc_jbd2_commit_event commit;
	struct klc_jbd2_run_event run;
	struct klc_jbd2_handle_event handle;
	struct klc_dirty_throttle_event throttle;
	struct klc_folio_wait_event folio;
	struct klc_file_name_event name;
	struct klc_thread_event thread;
	struct klc_batch_event batch;
	struct klc_lost_event lost;
};

static inline __u32 klc_event_size(__u32 type)
{
	switch (type) {
	case KLC_EV_FILE:
		return sizeof(struct klc_file_event);
	case KLC_EV_FUTEX:
		return sizeof(struct klc_futex_event);
	case KLC_EV_OFFCPU:
		return sizeof(struct klc_offcpu_event);
	case KLC_EV_BLOCK:
		return sizeof(struct klc_block_event);
	case KLC_EV_JBD2_COMMIT:
		return sizeof(struct klc_jbd2_commit_event);
	case KLC_EV_JBD2_RUN:
		return sizeof(struct klc_jbd2_run_event);
	case KLC_EV_JBD2_HANDLE:
		return sizeof(struct klc_jbd2_handle_event);
	case KLC_EV_DIRTY_THROTTLE:
		return sizeof(struct klc_dirty_throttle_event);
	case KLC_EV_FOLIO_WAIT:
		return sizeof(struct klc_folio_wait_event);
	case KLC_EV_FILE_NAME:
		return sizeof(struct klc_file_name_event);
	case KLC_EV_THREAD:
		return sizeof(struct klc_thread_event);
	case KLC_EV_BATCH:
		return sizeof(struct klc_batch_event);
	case KLC_EV_LOST:
		return sizeof(struct klc_lost_event);
	default:
		return 0;
	}
}

#endif /* KAFKALAT_CAUSE_EVENTS_H */
