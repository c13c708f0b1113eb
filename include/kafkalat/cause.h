/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Why a thread was off CPU, from its kernel stack at the moment it blocked
 * (docs/design.md, "Kernel side: the causes"). A table of kernel function
 * names (src/lib/cause.c) is matched against the frames; the
 * most specific evidence wins (a journal wait that ends in io_schedule is
 * `journal`, not `blkio`). cpu and runq come from scheduler states, never
 * from a stack: cause_classify() does not return them.
 */
#ifndef KAFKALAT_CAUSE_H
#define KAFKALAT_CAUSE_H

#include <stddef.h>

enum cause {
	CAUSE_CPU,	      /* running */
	CAUSE_RUNQ,	      /* runnable, waiting for a CPU */
	CAUSE_JOURNAL,	      /* jbd2 handle/commit waits, XFS log waits */
	CAUSE_WRITEBACK,      /* waiting for pages under writeback, stable pages */
	CAUSE_DIRTY_THROTTLE, /* balance_dirty_pages */
	CAUSE_BLKIO,	      /* other block I/O waits (io_schedule, tags, wbt) */
	CAUSE_INODE_LOCK,     /* i_rwsem, xfs_ilock */
	CAUSE_FUTEX,	      /* user-space locks and condition variables */
	CAUSE_PAGEFAULT,      /* blocked inside a page fault */
	CAUSE_RECLAIM,	      /* direct reclaim, compaction, memcg throttling */
	CAUSE_NET,	      /* socket buffer full, socket lock */
	CAUSE_OTHER,	      /* reported as "other:<top frame>" */
	CAUSE_MAX
};

/* "cpu", "runq", ..., "other"; NULL for a value outside the enum. */
const char *cause_name(enum cause c);
/* A cause record's type (KLC_EV_*) as "file", "offcpu", ...; NULL when it
 * is none. */
const char *cause_event_name(unsigned int type);

/*
 * Classify a kernel stack, frames[0] innermost (as a BPF stack map or
 * /proc/<tid>/stack gives them). A frame is a function name, optionally with
 * "+0x1f/0x80" and " [module]" after it and a "[<0>] " before it; compiler
 * suffixes (".isra.0", ".constprop.0", ".cold") match their function.
 * NULL frames are skipped. If top_frame is not NULL it is set to the frame
 * (as given) that decided the cause, or for CAUSE_OTHER to the innermost
 * frame that is not scheduler or tracing plumbing (schedule, __schedule,
 * bpf_trace_run*, ...), or to "unknown" if there is none.
 */
enum cause cause_classify(const char *const *frames, size_t n, const char **top_frame);

/*
 * A wait the kernel side recognised by its syscall without walking the stack
 * (stack ids KLC_STACK_ID_STACKLESS(kind) <= -2, cause_events.h): the cause
 * and the frames the walk would have given. One table for every reader.
 */
struct cause_stackless {
	enum cause cause;
	const char *frames[2]; /* innermost first; frames[0] is the deciding one */
	const char *folded;    /* the same outermost first, ';'-joined */
};

/* NULL unless stack_id is a known stackless kind. */
const struct cause_stackless *cause_stackless(int stack_id);

/* The function name inside a frame as described above: *name is set to its
 * first character and its length returned (0 if there is none). */
size_t cause_frame_name(const char *frame, const char **name);

#endif /* KAFKALAT_CAUSE_H */
