// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The off-CPU cause classifier: see include/kafkalat/cause.h. */
#include <stdbool.h>
#include <string.h>

#include "kafkalat/cause.h"
#include "kafkalat/cause_events.h"

static const char *const cause_names[CAUSE_MAX] = {
    [CAUSE_CPU] = "cpu",
    [CAUSE_RUNQ] = "runq",
    [CAUSE_JOURNAL] = "journal",
    [CAUSE_WRITEBACK] = "writeback",
    [CAUSE_DIRTY_THROTTLE] = "dirty_throttle",
    [CAUSE_BLKIO] = "blkio",
    [CAUSE_INODE_LOCK] = "inode_lock",
    [CAUSE_FUTEX] = "futex",
    [CAUSE_PAGEFAULT] = "pagefault",
    [CAUSE_RECLAIM] = "reclaim",
    [CAUSE_NET] = "net",
    [CAUSE_OTHER] = "other",
};

/*
 * Priorities: when frames of several causes are on one stack, the highest
 * wins (on a tie, the innermost frame). The order says which evidence is
 * more specific:
 *  - reclaim: a thread in direct reclaim pays for memory pressure, whatever
 *    it then waits on (writeback, I/O, a journal handle for an evicted inode);
 *  - journal: jbd2 and XFS log waits end in io_schedule or a bit wait;
 *  - dirty_throttle, writeback: named waits, beneath only reclaim/journal;
 *  - pagefault above inode_lock: a fault inside write() (copying the user's
 *    buffer) waits on mmap_lock, an rwsem, under the write path's frames;
 *  - net, futex: entry points that rarely wrap another wait;
 *  - blkio last: io_schedule and page/buffer bit waits are how every other
 *    I/O-bound cause sleeps, so they count only when nothing else does,
 *    and below the named block-layer waits, which make a better top frame.
 */
enum {
	P_IO_WAIT = 5, /* generic: io_schedule, page and buffer bit waits */
	P_BLKIO = 10,  /* named: tags, QoS throttling, direct I/O */
	P_FUTEX = 20,
	P_NET = 30,
	P_INODE_LOCK = 40,
	P_PAGEFAULT = 50,
	P_WRITEBACK = 60,
	P_DIRTY = 70,
	P_JOURNAL = 80,
	P_RECLAIM = 90,
};

/* How far out (callers) a rule's `within` frame may be: the lock's owner
 * calls down_write() directly or through one or two helpers. */
#define WITHIN_DEPTH 4
/* within = TOP: one object, compared by address */
static const char top_only[] = "innermost";
#define TOP top_only

/* name: a function name, or a prefix ending in '*'. within: if set, the
 * rule applies only when one of the next WITHIN_DEPTH outer frames matches
 * it (same syntax); TOP: only as the innermost frame that is not plumbing. */
struct cause_rule {
	const char *name;
	enum cause cause;
	int prio;
	const char *within;
};

static const struct cause_stackless stackless[] = {
    [KLC_STACKLESS_FUTEX] = {CAUSE_FUTEX,
			     {"futex_wait", "__x64_sys_futex"},
			     "__x64_sys_futex;futex_wait"},
    [KLC_STACKLESS_POLL] = {CAUSE_OTHER,
			    {"do_epoll_wait", "__x64_sys_epoll_wait"},
			    "__x64_sys_epoll_wait;do_epoll_wait"},
    [KLC_STACKLESS_SLEEP] = {CAUSE_OTHER,
			     {"hrtimer_nanosleep", "__x64_sys_clock_nanosleep"},
			     "__x64_sys_clock_nanosleep;hrtimer_nanosleep"},
};

const struct cause_stackless *cause_stackless(int stack_id)
{
	int kind = -1 - stack_id;

	if (kind <= KLC_STACKLESS_NONE || kind >= (int)(sizeof(stackless) / sizeof(stackless[0])))
		return NULL;
	return &stackless[kind];
}

/* clang-format off */
static const struct cause_rule rules[] = {
	/* ext4/jbd2: starting a handle while a commit locks the transaction
	 * (tests/data/stacks/ext4-wait-transaction-locked-*.txt: under ext4_dirty_inode), or while the log is full */
	{"wait_transaction_locked",	CAUSE_JOURNAL, P_JOURNAL, NULL},
	{"wait_transaction_switching",	CAUSE_JOURNAL, P_JOURNAL, NULL},
	{"add_transaction_credits",	CAUSE_JOURNAL, P_JOURNAL, NULL},
	{"start_this_handle",		CAUSE_JOURNAL, P_JOURNAL, NULL},
	{"__jbd2_log_wait_for_space",	CAUSE_JOURNAL, P_JOURNAL, NULL},
	/* the buffer to modify is being written by the running commit
	 * (tests/data/stacks/ext4-do-get-write-access-*.txt: the inode buffer,
	 * write() -> ext4_dirty_inode) */
	{"do_get_write_access",		CAUSE_JOURNAL, P_JOURNAL, NULL},
	/* fsync waiting for the commit of its transaction */
	{"jbd2_log_wait_commit",	CAUSE_JOURNAL, P_JOURNAL, NULL},
	{"jbd2_complete_transaction",	CAUSE_JOURNAL, P_JOURNAL, NULL},
	/* any other jbd2 function on a blocked stack is a journal wait
	 * (jbd2__journal_start, jbd2_journal_stop of a sync handle, fast
	 * commits' jbd2_fc_*, checkpointing) */
	{"jbd2*",			CAUSE_JOURNAL, P_JOURNAL, NULL},
	{"__jbd2*",			CAUSE_JOURNAL, P_JOURNAL, NULL},
	{"ext4_fc_commit",		CAUSE_JOURNAL, P_JOURNAL, NULL},
	/* fast commits: marking an inode dirty waits while a fast commit is
	 * writing it (write() -> ext4_dirty_inode ->
	 * ext4_fc_track_inode, tests/data/stacks/ext4-fc-track-inode-1.txt) */
	{"ext4_fc_track_inode",		CAUSE_JOURNAL, P_JOURNAL, NULL},
	{"ext4_fc_wait_committing_inode", CAUSE_JOURNAL, P_JOURNAL, NULL},
	/* XFS's journal: log space grants, iclog and CIL forces (fsync) */
	{"xlog_*",			CAUSE_JOURNAL, P_JOURNAL, NULL},
	{"xfs_log_force*",		CAUSE_JOURNAL, P_JOURNAL, NULL},

	/* dirty page throttling after a buffered write */
	{"balance_dirty_pages*",	CAUSE_DIRTY_THROTTLE, P_DIRTY, NULL},

	/* waiting for pages under writeback: fsync's data wait, stable pages
	 * (a page being written cannot be modified) */
	{"folio_wait_writeback*",	CAUSE_WRITEBACK, P_WRITEBACK, NULL},
	{"__folio_wait_writeback",	CAUSE_WRITEBACK, P_WRITEBACK, NULL},
	{"folio_wait_stable",		CAUSE_WRITEBACK, P_WRITEBACK, NULL},
	{"wait_on_page_writeback",	CAUSE_WRITEBACK, P_WRITEBACK, NULL},
	{"wait_for_stable_page",	CAUSE_WRITEBACK, P_WRITEBACK, NULL},
	{"__filemap_fdatawait_range",	CAUSE_WRITEBACK, P_WRITEBACK, NULL},
	{"filemap_fdatawait*",		CAUSE_WRITEBACK, P_WRITEBACK, NULL},
	/* syncfs/sync waiting for the flusher */
	{"wb_wait_for_completion",	CAUSE_WRITEBACK, P_WRITEBACK, NULL},

	/* the inode's i_rwsem, held by another writer (ext4 takes it in its
	 * write iterators; the VFS for truncate, create, unlink, rename) */
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "ext4_buffered_write_iter"},
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "ext4_dio_write_iter"},
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "ext4_file_write_iter"},
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "ext4_fallocate"},
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "generic_file_write_iter"},
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "do_truncate"},
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "open_last_lookups"},
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "filename_create"},
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "do_unlinkat"},
	{"rwsem_down_*",		CAUSE_INODE_LOCK, P_INODE_LOCK, "lock_rename*"},
	/* /proc/<tid>/stack hides down_write and rwsem_down_*_slowpath
	 * (__sched): there a wait for i_rwsem shows as its taker on top
	 * (tests/data/stacks/shared-file-i-rwsem-1.txt: ext4_buffered_write_iter,
	 * two appenders, one file) */
	{"ext4_buffered_write_iter",	CAUSE_INODE_LOCK, P_INODE_LOCK, TOP},
	{"ext4_dio_write_iter",		CAUSE_INODE_LOCK, P_INODE_LOCK, TOP},
	{"ext4_file_write_iter",	CAUSE_INODE_LOCK, P_INODE_LOCK, TOP},
	{"generic_file_write_iter",	CAUSE_INODE_LOCK, P_INODE_LOCK, TOP},
	{"do_truncate",			CAUSE_INODE_LOCK, P_INODE_LOCK, TOP},
	{"open_last_lookups",		CAUSE_INODE_LOCK, P_INODE_LOCK, TOP},
	/* XFS's inode locks (IOLOCK, ILOCK, MMAPLOCK) */
	{"xfs_ilock",			CAUSE_INODE_LOCK, P_INODE_LOCK, NULL},

	/* blocked in a page fault: mmap_lock, a major fault's read */
	{"exc_page_fault",		CAUSE_PAGEFAULT, P_PAGEFAULT, NULL},
	{"asm_exc_page_fault",		CAUSE_PAGEFAULT, P_PAGEFAULT, NULL},
	{"do_user_addr_fault",		CAUSE_PAGEFAULT, P_PAGEFAULT, NULL},
	{"handle_mm_fault",		CAUSE_PAGEFAULT, P_PAGEFAULT, NULL},
	{"__handle_mm_fault",		CAUSE_PAGEFAULT, P_PAGEFAULT, NULL},
	{"do_page_fault",		CAUSE_PAGEFAULT, P_PAGEFAULT, NULL},

	/* direct reclaim and compaction in the page allocator, memcg limits */
	{"__alloc_pages_slowpath*",	CAUSE_RECLAIM, P_RECLAIM, NULL},
	{"__alloc_pages_direct_*",	CAUSE_RECLAIM, P_RECLAIM, NULL},
	{"try_to_free_pages",		CAUSE_RECLAIM, P_RECLAIM, NULL},
	{"try_to_free_mem_cgroup_pages", CAUSE_RECLAIM, P_RECLAIM, NULL},
	{"do_try_to_free_pages",	CAUSE_RECLAIM, P_RECLAIM, NULL},
	{"shrink_node",			CAUSE_RECLAIM, P_RECLAIM, NULL},
	{"shrink_lruvec",		CAUSE_RECLAIM, P_RECLAIM, NULL},
	{"shrink_slab",			CAUSE_RECLAIM, P_RECLAIM, NULL},
	{"reclaim_throttle",		CAUSE_RECLAIM, P_RECLAIM, NULL},
	{"mem_cgroup_handle_over_high",	CAUSE_RECLAIM, P_RECLAIM, NULL},

	/* sockets: send buffer full, socket owned by another context */
	{"sk_stream_wait_memory",	CAUSE_NET, P_NET, NULL},
	{"sock_wait_for_wmem",		CAUSE_NET, P_NET, NULL},
	{"tcp_sendmsg_locked",		CAUSE_NET, P_NET, NULL},
	{"__lock_sock",			CAUSE_NET, P_NET, NULL},
	{"lock_sock_nested",		CAUSE_NET, P_NET, NULL},

	/* user-space locks: JVM monitors, pthread mutexes and condvars;
	 * futex_do_wait since 6.16, futex_wait_queue(_me) before */
	{"futex_do_wait",		CAUSE_FUTEX, P_FUTEX, NULL},
	{"futex_wait_queue*",		CAUSE_FUTEX, P_FUTEX, NULL},
	{"futex_wait",			CAUSE_FUTEX, P_FUTEX, NULL},
	{"__futex_wait",		CAUSE_FUTEX, P_FUTEX, NULL},
	{"futex_wait_multiple",		CAUSE_FUTEX, P_FUTEX, NULL},
	{"futex_lock_pi",		CAUSE_FUTEX, P_FUTEX, NULL},

	/* block I/O: how I/O-bound waits sleep. io_schedule* only shows in
	 * BPF stacks (/proc/<tid>/stack hides __sched functions), the bit
	 * waits and tag/QoS waits in both */
	{"io_schedule*",		CAUSE_BLKIO, P_IO_WAIT, NULL},
	{"blk_io_schedule",		CAUSE_BLKIO, P_IO_WAIT, NULL},
	{"blk_mq_get_tag",		CAUSE_BLKIO, P_BLKIO, NULL},
	{"rq_qos_wait",			CAUSE_BLKIO, P_BLKIO, NULL},
	{"wbt_wait",			CAUSE_BLKIO, P_BLKIO, NULL},
	{"submit_bio_wait",		CAUSE_BLKIO, P_BLKIO, NULL},
	{"bio_wait*",			CAUSE_BLKIO, P_BLKIO, NULL},
	{"folio_wait_bit_common",	CAUSE_BLKIO, P_IO_WAIT, NULL},
	{"__wait_on_buffer",		CAUSE_BLKIO, P_IO_WAIT, NULL},
	{"bit_wait_io",			CAUSE_BLKIO, P_IO_WAIT, NULL},
	{"__blkdev_direct_IO*",		CAUSE_BLKIO, P_BLKIO, NULL},
	{"__iomap_dio_rw",		CAUSE_BLKIO, P_BLKIO, NULL},
};

/* Scheduler and tracing plumbing: never the "top frame" of other:<frame>
 * (a BPF stack taken at sched_switch starts with these). */
static const char *const plumbing[] = {
	"schedule", "__schedule", "schedule_timeout", "schedule_hrtimeout*",
	"schedule_preempt_disabled", "schedule_idle", "io_schedule*",
	"preempt_schedule*", "__cond_resched", "finish_task_switch*",
	"__traceiter_*", "__bpf_trace_*", "bpf_trace_run*", "bpf_prog_*",
	"__probestub_*", "perf_trace_*",
};
/* clang-format on */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const char *cause_name(enum cause c)
{
	return (unsigned)c < CAUSE_MAX ? cause_names[c] : NULL;
}

/* Skips "[<0>] " (as /proc/<tid>/stack prints) and stops at the offset
 * "+0x..", a blank or a module "[mod]". */
size_t cause_frame_name(const char *frame, const char **name)
{
	const char *s = frame;

	*name = frame;
	if (!frame)
		return 0;
	if (s[0] == '[' && s[1] == '<') {
		const char *e = strstr(s, "] ");

		if (!e)
			return 0;
		s = e + 2;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	*name = s;
	return strcspn(s, "+ \t[\n");
}

/* The name without a compiler suffix (".isra.0", ".constprop.0", ".cold").
 * A leading '.' is kept: no kernel function starts with one. */
static size_t base_len(const char *name, size_t len)
{
	const char *dot = len > 1 ? memchr(name + 1, '.', len - 1) : NULL;

	return dot ? (size_t)(dot - name) : len;
}

static bool pattern_matches(const char *pat, const char *name, size_t len)
{
	size_t plen = strlen(pat);

	if (plen && pat[plen - 1] == '*')
		return plen - 1 <= len && memcmp(pat, name, plen - 1) == 0;
	return plen == len && memcmp(pat, name, len) == 0;
}

static bool frame_matches(const char *pat, const char *frame)
{
	const char *name;
	size_t len = cause_frame_name(frame, &name);

	return len && pattern_matches(pat, name, base_len(name, len));
}

/* Does one of the WITHIN_DEPTH callers of frames[i] match pat? */
static bool called_within(const char *pat, const char *const *frames, size_t n, size_t i)
{
	for (size_t j = i + 1; j < n && j <= i + WITHIN_DEPTH; j++)
		if (frames[j] && frame_matches(pat, frames[j]))
			return true;
	return false;
}

static bool context_holds(const struct cause_rule *rule, const char *const *frames, size_t n,
			  size_t i, bool top)
{
	if (!rule->within)
		return true;
	if (rule->within == TOP)
		return top;
	return called_within(rule->within, frames, n, i);
}

/* The best rule for frames[i], or NULL; top: frames[i] is the innermost
 * frame that is not plumbing. */
static const struct cause_rule *best_rule(const char *const *frames, size_t n, size_t i, bool top)
{
	const struct cause_rule *best = NULL;

	for (size_t r = 0; r < ARRAY_SIZE(rules); r++) {
		const struct cause_rule *rule = &rules[r];

		if ((best && rule->prio <= best->prio) || !frame_matches(rule->name, frames[i]))
			continue;
		if (!context_holds(rule, frames, n, i, top))
			continue;
		best = rule;
	}
	return best;
}

static bool is_plumbing(const char *frame)
{
	for (size_t p = 0; p < ARRAY_SIZE(plumbing); p++)
		if (frame_matches(plumbing[p], frame))
			return true;
	return false;
}

/* Index of the innermost frame that is not plumbing; n if none. */
static size_t top_index(const char *const *frames, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *name;

		if (frames[i] && cause_frame_name(frames[i], &name) && !is_plumbing(frames[i]))
			return i;
	}
	return n;
}

enum cause cause_classify(const char *const *frames, size_t n, const char **top_frame)
{
	const struct cause_rule *best = NULL;
	const char *where = NULL;
	size_t top;

	if (!frames)
		n = 0;
	top = top_index(frames, n);
	for (size_t i = 0; i < n; i++) {
		const struct cause_rule *r = frames[i] ? best_rule(frames, n, i, i == top) : NULL;

		/* strictly greater: on a tie the innermost frame stays */
		if (r && (!best || r->prio > best->prio)) {
			best = r;
			where = frames[i];
		}
	}
	if (top_frame)
		*top_frame = best ? where : top < n ? frames[top] : "unknown";
	return best ? best->cause : CAUSE_OTHER;
}

static const char *const event_names[KLC_EV_MAX - KLC_EV_FILE] = {
    "file",	      "futex",	    "offcpu",	 "block",  "jbd2_commit", "jbd2_run", "jbd2_handle",
    "dirty_throttle", "folio_wait", "file_name", "thread", "batch",	  "lost",
};

const char *cause_event_name(unsigned int type)
{
	return type >= KLC_EV_FILE && type < KLC_EV_MAX ? event_names[type - KLC_EV_FILE] : NULL;
}
