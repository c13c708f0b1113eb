// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Why a broker thread waited: the kernel side of the cause breakdown. A
 * separate object from kafkalat.bpf.c, loaded next to it unless
 * --no-causes, each group of programs (file, futex, sched, block, journal,
 * writeback) only if chosen. Everything per thread is filtered to the traced
 * brokers (broker.h) in the kernel; block I/O is of every device (it is
 * asynchronous: the broker's writes are often issued by a flusher or jbd2).
 * Records name threads only: each thread's broker comes once, in a
 * KLC_EV_THREAD before its first record. Tracepoints (tp_btf) only.
 *
 * No per-CPU scratch lives across a program run (syscall tracepoint
 * programs may be preempted); per-thread state is in task storage (syscalls)
 * or a preallocated hash keyed by tid (scheduler: no allocation under the
 * runqueue lock).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "kafkalat/cause_events.h"
#include "batch_walk.h"
#include "fdtable.h"
#include "bench_floor.h"
#include "bench_split.h"
#include "syscall_nr.h"
#define RING_STATS     struct klc_stats
#define RING_LOST_TYPE KLC_EV_LOST
#include "broker.h"
#include "ringbuf.h"

#define S_IFMT	00170000
#define S_IFREG 0100000

#define TASK_DEAD 0x80

#define FUTEX_CMD_MASK	      (~(128 | 256)) /* ~(PRIVATE | CLOCK_REALTIME) */
#define FUTEX_WAIT	      0
#define FUTEX_LOCK_PI	      6
#define FUTEX_WAIT_BITSET     9
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_LOCK_PI2	      13

#define MAX_FDS	    65536
#define MAX_THREADS 32768
#define MAX_RQS	    16384
#define MAX_STACKS  8192

/* off-CPU intervals and futex waits shorter than these are not emitted */
const volatile __u64 min_offcpu_ns = 0;
const volatile __u64 min_futex_ns = 0;
const volatile __u8 sys_kind[KLC_MAX_SYSCALL_NR] = {};
const volatile __u8 stackless[KLC_MAX_SYSCALL_NR] = {};

struct fd_key {
	__u32 tgid;
	__s32 fd;
};

/* A regular file's identity; is_reg 0 = the fd is something else. */
struct fd_info {
	__u64 ino;
	__u32 dev;
	__u32 is_reg;
};

/* The watched syscall in progress of a broker thread. */
struct pending_sys {
	__u64 t_start;
	__u64 buf;    /* write: the data; writev: the iovec array */
	__u64 count;  /* write: its size; writev: iovcnt */
	__u64 ino;    /* file: identity; futex: uaddr */
	__s64 offset; /* file: position or -1; futex: op */
	__u32 dev;
	__s32 fd;
	__u32 announced; /* the tgid this thread's KLC_EV_THREAD named; 0 none */
	__u8 kind;
	__u8 armed;
};

/* A broker thread off CPU, from switch-out to switch-in. */
struct offcpu {
	__u64 t_off;
	__u64 t_wakeup;
	char waker_comm[KLC_COMM_LEN]; /* 8-aligned: copied as two words */
	__s32 stack_id;
	__u32 prev_state;
	__u32 waker_tid;
	__u32 waker_tgid;
	__u32 announced; /* as pending_sys.announced */
	__u8 blocked;
};

struct rq_info {
	__u64 t_issue;
	__u64 sector;
	__u32 bytes;
	__u32 dev;
	__u32 part_dev;
	__u32 cmd_flags;
	__u32 tid;
	__u32 tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FDS);
	__type(key, struct fd_key);
	__type(value, struct fd_info);
} fds SEC(".maps");

/* Per traced broker, one bit for each fd below MAX_FDS, set once the fd is
 * known not to be a regular file (a socket, a pipe): most of a broker's
 * writes are its responses, and an array's lookup is a few inlined loads
 * where the hash above takes a call and a key hash. */
#define FD_WORDS       (MAX_FDS / 64)
#define FD_OTHER_WORDS (KLT_MAX_BROKERS * FD_WORDS)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FD_OTHER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} fd_other SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending_sys);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct offcpu);
} offcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, KLC_MAX_STACK * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_RQS);
	__type(key, __u64);
	__type(value, struct rq_info);
} rqs SEC(".maps");

/* (dev << 32 | transaction id) -> commit start */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} commits SEC(".maps");

/* A failed reservation is counted by its type too. */
static __always_inline void *event_reserve(__u64 size, __u32 type)
{
	return ring_reserve(size, type - KLC_EV_FILE);
}

static __always_inline void count_state_full(void)
{
	struct klc_stats *st = stats_get();

	if (st)
		__sync_fetch_and_add(&st->state_full, 1);
}

/* tid -> tgid of the threads whose KLC_EV_THREAD went out, for the rare
 * records (journal handles, throttling, folio waits); the frequent ones
 * keep the tgid announced in the per-thread state they look up anyway. A
 * thread forgotten (or its tid reused) is announced again: harmless. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, __u32);
} threads_seen SEC(".maps");

/* Which broker a thread belongs to, before its first record; 0 sent. */
static __always_inline int emit_thread(__u32 tid, __u32 tgid)
{
	struct klc_thread_event *e = event_reserve(sizeof(*e), KLC_EV_THREAD);

	if (!e)
		return -1;
	e->type = KLC_EV_THREAD;
	e->tid = tid;
	e->tgid = tgid;
	e->pad = 0;
	ring_submit(e);
	return 0;
}

/* The same where the thread's own state remembers it (*announced). */
static __always_inline void thread_note(__u32 tid, __u32 tgid, __u32 *announced)
{
	if (*announced != tgid && !emit_thread(tid, tgid))
		*announced = tgid;
}

static __always_inline void thread_announce(__u32 tid, __u32 tgid)
{
	__u32 *seen = bpf_map_lookup_elem(&threads_seen, &tid);

	if ((!seen || *seen != tgid) && !emit_thread(tid, tgid))
		bpf_map_update_elem(&threads_seen, &tid, &tgid, BPF_ANY);
}

static __always_inline void current_announce(void)
{
	__u64 id = bpf_get_current_pid_tgid();

	thread_announce((__u32)id, id >> 32);
}

/* ---- file writes and syncs, futex waits: sys_enter / sys_exit ---- */

/* The file's name and its directory's, once per fd (the cache below): the
 * reader learns which topic-partition a segment belongs to without racing
 * the broker's closes through /proc. */
static __always_inline int emit_file_name(__s32 fd, struct file *file, struct fd_info *info)
{
	struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
	struct klc_file_name_event *e;

	e = event_reserve(sizeof(*e), KLC_EV_FILE_NAME);
	if (!e)
		return -1;
	e->type = KLC_EV_FILE_NAME;
	e->fd = fd;
	e->ino = info->ino;
	e->dev = info->dev;
	e->pad = 0;
	e->name[0] = e->parent[0] = '\0';
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), BPF_CORE_READ(dentry, d_name.name));
	bpf_probe_read_kernel_str(e->parent, sizeof(e->parent),
				  BPF_CORE_READ(dentry, d_parent, d_name.name));
	ring_submit(e);
	return 0;
}

/* The word of broker slot's fd bits holding fd's, NULL past MAX_FDS. */
static __always_inline __u64 *fd_other_word(int slot, __s32 fd)
{
	__u32 key = (__u32)slot * FD_WORDS + (__u32)fd / 64;

	if ((__u32)fd >= MAX_FDS || (__u32)slot >= KLT_MAX_BROKERS)
		return NULL;
	return bpf_map_lookup_elem(&fd_other, &key);
}

/* fd -> its identity if a regular file, from fds or else the fdtable;
 * other: fd's word in fd_other (NULL past MAX_FDS), where a non-regular
 * fd is remembered. */
static __noinline int fd_identify(__u64 *other, __s32 fd, struct fd_info *out)
{
	struct fd_key key = {.tgid = current_tgid(), .fd = fd};
	struct fd_info *cached;
	struct fd_info info = {};
	struct file *file;
	struct inode *inode;
	struct klc_stats *st;

	if (!out)
		return 0;
	cached = bpf_map_lookup_elem(&fds, &key);
	if (cached) {
		*out = *cached;
		return out->is_reg;
	}
	if ((st = stats_get()))
		__sync_fetch_and_add(&st->fd_lookups, 1);
	file = fd_to_file(fd);
	if (!file)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) == S_IFREG) {
		info.is_reg = 1;
		info.ino = BPF_CORE_READ(inode, i_ino);
		info.dev = BPF_CORE_READ(inode, i_sb, s_dev);
		/* a name lost in a full ring is sent again at the next use:
		 * without it every write to the segment stays unnamed */
		if (emit_file_name(fd, file, &info)) {
			*out = info;
			return 1;
		}
	}
	if (other && !info.is_reg)
		__sync_fetch_and_or(other, 1ULL << (fd & 63));
	else
		bpf_map_update_elem(&fds, &key, &info, BPF_ANY);
	*out = info;
	return info.is_reg;
}

/* fd of broker slot -> its identity if a regular file; cached until close
 * (regular files per (tgid, fd) in fds, the others as a bit in fd_other:
 * sockets, a broker's most written fds, leave after one inlined load). */
static __always_inline int fd_classify(int slot, __s32 fd, struct fd_info *out)
{
	__u64 *other = fd_other_word(slot, fd);

	if (other && (*other >> (fd & 63) & 1))
		return 0;
	return fd_identify(other, fd, out);
}

/* fd of broker slot closed: what was cached about it goes. */
static __always_inline void fd_forget(int slot, __s32 fd)
{
	__u64 *other = fd_other_word(slot, fd);
	struct fd_key key = {.tgid = current_tgid(), .fd = fd};

	if (other)
		__sync_fetch_and_and(other, ~(1ULL << (fd & 63)));
	bpf_map_delete_elem(&fds, &key);
}

static __always_inline int is_futex_wait(__u32 op)
{
	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_WAIT:
	case FUTEX_LOCK_PI:
	case FUTEX_WAIT_BITSET:
	case FUTEX_WAIT_REQUEUE_PI:
	case FUTEX_LOCK_PI2:
		return 1;
	default:
		return 0;
	}
}

/* The watched kind of syscall id of broker slot, 0 if none; a close ends
 * here (fd: its argument), dropping the fd's cache entries. */
static __always_inline __u8 watched_kind(int slot, long id, __s32 fd)
{
	__u8 kind;

	if (id < 0 || id >= KLC_MAX_SYSCALL_NR)
		return 0;
	kind = sys_kind[id];
	if (kind == KLC_SYS_CLOSE) {
		fd_forget(slot, fd);
		return 0;
	}
	return kind;
}

/* The syscall s describes is in progress: its start, in the thread's state. */
static __always_inline int arm_sys(struct pending_sys *s)
{
	struct pending_sys *p;

	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p) {
		count_state_full();
		return 0;
	}
	s->armed = 1;
	s->announced = p->announced;
	s->t_start = bpf_ktime_get_ns();
	*p = *s;
	return 0;
}

/* A file write or sync on fd, a regular file fi: buf, count and pos are
 * its second to fourth arguments (pwritev(2)'s pos_l is the whole 64-bit
 * offset on 64-bit). */
static __always_inline int arm_file(__u8 kind, __s32 fd, const struct fd_info *fi, __u64 buf,
				    __u64 count, __u64 pos)
{
	struct pending_sys s = {};

	s.kind = kind;
	s.fd = fd;
	s.ino = fi->ino;
	s.dev = fi->dev;
	s.buf = buf;
	s.count = count;
	s.offset = -1;
	if (kind == KLC_SYS_PWRITE64 || kind == KLC_SYS_PWRITEV || kind == KLC_SYS_PWRITEV2)
		s.offset = (__s64)pos;
	return arm_sys(&s);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct pending_sys s = {};
	struct fd_info fi;
	__s32 fd;
	__u32 op;
	__u8 kind;
	int slot;

	BENCH_SPLIT_COUNT(sys_enter, is_broker());
	BENCH_FLOOR_RETURN();
	slot = broker_slot(current_tgid());
	if (slot < 0)
		return 0;
	fd = (__s32)PT_REGS_PARM1_CORE_SYSCALL(regs);
	kind = watched_kind(slot, id, fd);
	if (!kind)
		return 0;
	if (kind == KLC_SYS_FUTEX) {
		op = (__u32)PT_REGS_PARM2_CORE_SYSCALL(regs);
		if (!is_futex_wait(op))
			return 0;
		s.kind = kind;
		s.ino = PT_REGS_PARM1_CORE_SYSCALL(regs);
		s.offset = op;
		s.fd = -1;
		return arm_sys(&s);
	}
	if (!fd_classify(slot, fd, &fi))
		return 0;
	return arm_file(kind, fd, &fi, PT_REGS_PARM2_CORE_SYSCALL(regs),
			PT_REGS_PARM3_CORE_SYSCALL(regs), PT_REGS_PARM4_CORE_SYSCALL(regs));
}

/*
 * The same for the file syscalls alone, on their own tracepoints
 * (syscalls/sys_enter_write, ...; attached one by one by the loader): the
 * raw sys_enter/sys_exit above run for every syscall of every process, and
 * the socket probe already has its pair there. Futex waits then come from
 * the scheduler's stackless off-CPU intervals instead. Most of a broker's
 * writes are to sockets: they leave at the fd's cache entry, before the
 * other arguments are read.
 */
SEC("tracepoint")
int file_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 arg1 = 0, arg2 = 0, arg3 = 0;
	__s32 fd = (__s32)ctx->args[0];
	struct fd_info fi;
	__u8 kind;
	int slot;

	BENCH_SPLIT_COUNT(file_sys_enter, is_broker());
	BENCH_FLOOR_RETURN();
	slot = broker_slot(current_tgid());
	if (slot < 0)
		return 0;
	kind = watched_kind(slot, tp_enter_syscall_nr(ctx), fd);
	if (!kind || !fd_classify(slot, fd, &fi))
		return 0;
	/* The record holds only the syscall's own arguments (fsync: one): a
	 * direct read past it makes the kernel refuse the attachment, so the
	 * optional ones are probed (their values are used only where they exist). */
	bpf_probe_read_kernel(&arg1, sizeof(arg1), &ctx->args[1]);
	bpf_probe_read_kernel(&arg2, sizeof(arg2), &ctx->args[2]);
	bpf_probe_read_kernel(&arg3, sizeof(arg3), &ctx->args[3]);
	return arm_file(kind, fd, &fi, arg1, arg2, arg3);
}

struct batch_scan {
	struct bw w;
	__u64 addr;
};

static int batch_step(__u64 index __attribute__((unused)), void *ctx)
{
	struct batch_scan *b = ctx;
	__u8 h[BW_HEAD_BYTES];

	if (!bw_want(&b->w) || bpf_probe_read_user(h, sizeof(h), (void *)(b->addr + b->w.off)))
		return 1;
	return !bw_take(&b->w, h);
}

/*
 * A write of ret bytes whose data starts with a magic-2 record batch: its
 * batches' offsets, from their headers (at most BW_MAX_BATCHES), before the
 * write's own record. Of a writev, the first iovec only: a broker appends
 * one buffer of whole batches per write.
 */
static __always_inline void emit_batches(struct pending_sys *p, __s64 ret)
{
	struct batch_scan b = {};
	struct klc_batch_event *e;
	struct iovec iv;

	if (ret < BW_HEADER_LEN || p->kind == KLC_SYS_FSYNC || p->kind == KLC_SYS_FDATASYNC)
		return;
	b.addr = p->buf;
	b.w.len = p->count < (__u64)ret ? p->count : (__u64)ret;
	if (p->kind == KLC_SYS_WRITEV || p->kind == KLC_SYS_PWRITEV ||
	    p->kind == KLC_SYS_PWRITEV2) {
		if (!p->count || bpf_probe_read_user(&iv, sizeof(iv), (void *)p->buf))
			return;
		b.addr = (__u64)iv.iov_base;
		b.w.len = iv.iov_len < (__u64)ret ? iv.iov_len : (__u64)ret;
	}
	/* a broker's append is mostly one batch: the loop only for more */
	if (!batch_step(0, &b) && bw_want(&b.w))
		bpf_loop(BW_MAX_BATCHES - 1, batch_step, &b, 0);
	if (!b.w.batches || !(e = event_reserve(sizeof(*e), KLC_EV_BATCH)))
		return;
	e->type = KLC_EV_BATCH;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->t_start_ns = p->t_start;
	e->base_offset = b.w.base_offset;
	e->last_offset = bw_last(&b.w);
	e->batches = b.w.batches;
	e->fd = p->fd;
	e->producer_id = b.w.producer_id;
	e->base_sequence = b.w.base_sequence;
	e->pad = 0;
	ring_submit(e);
}

static __noinline int emit_file(struct pending_sys *p, __s64 ret, __u64 now)
{
	struct klc_file_event *e;

	if (!p)
		return 0;
	thread_note((__u32)bpf_get_current_pid_tgid(), current_tgid(), &p->announced);
	emit_batches(p, ret);
	e = event_reserve(sizeof(*e), KLC_EV_FILE);
	if (!e)
		return 0;
	e->type = KLC_EV_FILE;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->t_start_ns = p->t_start;
	e->t_end_ns = now;
	e->ret = ret;
	e->offset = p->offset;
	e->ino = p->ino;
	e->dev = p->dev;
	e->fd = p->fd;
	e->kind = p->kind;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	ring_submit(e);
	return 0;
}

static __noinline int emit_futex(struct pending_sys *p, __s64 ret, __u64 now)
{
	struct klc_futex_event *e;

	if (!p || now - p->t_start < min_futex_ns)
		return 0;
	thread_note((__u32)bpf_get_current_pid_tgid(), current_tgid(), &p->announced);
	e = event_reserve(sizeof(*e), KLC_EV_FUTEX);
	if (!e)
		return 0;
	e->type = KLC_EV_FUTEX;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->t_start_ns = p->t_start;
	e->t_end_ns = now;
	e->uaddr = p->ino;
	e->ret = ret;
	e->op = (__u32)p->offset;
	e->pad = 0;
	ring_submit(e);
	return 0;
}

static __always_inline int exit_sys(long ret)
{
	struct pending_sys *p;

	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->armed)
		return 0;
	p->armed = 0;
	if (p->kind == KLC_SYS_FUTEX)
		return emit_futex(p, ret, bpf_ktime_get_ns());
	return emit_file(p, ret, bpf_ktime_get_ns());
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long nr;

	BENCH_SPLIT_COUNT(sys_exit, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	/* most syscalls are not watched, and close has nothing to finish:
	 * leave before the task storage lookup */
	nr = regs_syscall_nr(regs);
	if (nr >= 0 && (nr >= KLC_MAX_SYSCALL_NR || !sys_kind[nr] || sys_kind[nr] == KLC_SYS_CLOSE))
		return 0;
	return exit_sys(ret);
}

SEC("tracepoint")
int file_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	BENCH_SPLIT_COUNT(file_sys_exit, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	return exit_sys(ctx->ret);
}

/* ---- scheduler: off-CPU intervals and their wakers ---- */

/* The syscall a task is blocked in (its entry registers); -1 when unknown. */
static __always_inline long task_syscall_nr(struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

	if (!regs)
		return -1;
	return regs_syscall_nr(regs);
}

/* The kernel stack of a thread going to sleep, or a stackless kind. */
static __always_inline __s32 blocked_stack(void *ctx, struct task_struct *prev)
{
	long nr = task_syscall_nr(prev);
	__s32 id;

	if (nr >= KLC_STACKLESS_MIN_NR && nr < KLC_MAX_SYSCALL_NR && stackless[nr])
		return KLC_STACK_ID_STACKLESS(stackless[nr]);
	id = bpf_get_stackid(ctx, &stacks, 0);
	if (id < 0) {
		struct klc_stats *st = stats_get();

		if (st)
			__sync_fetch_and_add(&st->stack_errors, 1);
	}
	return id;
}

/* A broker thread leaves the CPU: its interval starts (in place when the
 * thread has an entry already: an update would allocate and free one). */
static __always_inline void switch_out(void *ctx, struct task_struct *prev, bool preempt,
				       unsigned int prev_state, __u64 now)
{
	struct offcpu *o, s = {};
	__u32 tid = prev->pid;

	/* a thread switching out for the last time (TASK_DEAD) leaves no state */
	if (prev_state & TASK_DEAD) {
		bpf_map_delete_elem(&offcpu, &tid);
		return;
	}
	s.t_off = now;
	s.prev_state = prev_state;
	s.blocked = !preempt && prev_state != 0; /* TASK_RUNNING */
	s.stack_id = s.blocked ? blocked_stack(ctx, prev) : -1;
	o = bpf_map_lookup_elem(&offcpu, &tid);
	if (o) {
		s.announced = o->announced;
		*o = s;
	} else if (bpf_map_update_elem(&offcpu, &tid, &s, BPF_NOEXIST))
		count_state_full();
}

/* A broker thread back on a CPU: its interval ends and goes to the reader. */
static __always_inline void switch_in(struct task_struct *next, __u64 now)
{
	struct klc_offcpu_event *e;
	struct offcpu *o;
	__u32 tid = next->pid;

	o = bpf_map_lookup_elem(&offcpu, &tid);
	if (!o || !o->t_off)
		return;
	if (now - o->t_off >= min_offcpu_ns)
		thread_note(tid, next->tgid, &o->announced);
	if (now - o->t_off >= min_offcpu_ns && (e = event_reserve(sizeof(*e), KLC_EV_OFFCPU))) {
		e->type = KLC_EV_OFFCPU;
		e->tid = tid;
		e->t_off_ns = o->t_off;
		e->t_on_ns = now;
		e->t_wakeup_ns = o->t_wakeup;
		e->stack_id = o->stack_id;
		e->prev_state = o->prev_state;
		e->waker_tid = o->waker_tid;
		e->waker_tgid = o->waker_tgid;
		e->cpu = bpf_get_smp_processor_id();
		e->blocked = o->blocked;
		e->pad[0] = e->pad[1] = e->pad[2] = 0;
		__builtin_memcpy(e->waker_comm, o->waker_comm, KLC_COMM_LEN);
		ring_submit(e);
	}
	o->t_off = 0; /* closed: the entry stays for the thread's next switch */
}

/* Most switches on the machine are not the broker's: they leave after two
 * loads, before the clock is read. */
SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	int out = tgid_traced(prev->tgid), in = tgid_traced(next->tgid);
	__u64 now;

	BENCH_SPLIT_COUNT(sched_switch, out || in);
	BENCH_FLOOR_RETURN();
	if (!out && !in)
		return 0;
	now = bpf_ktime_get_ns();
	if (out)
		switch_out(ctx, prev, preempt, prev_state, now);
	if (in)
		switch_in(next, now);
	return 0;
}

/* Runs on the waker's CPU with the waker as current: who woke whom, when. */
SEC("tp_btf/sched_waking")
int BPF_PROG(sched_waking, struct task_struct *p)
{
	struct task_struct *waker;
	struct offcpu *o;
	__u32 tid;

	BENCH_SPLIT_COUNT(sched_waking, tgid_traced(p->tgid));
	BENCH_FLOOR_RETURN();
	if (!tgid_traced(p->tgid))
		return 0;
	tid = p->pid;
	o = bpf_map_lookup_elem(&offcpu, &tid);
	if (!o || !o->t_off || o->t_wakeup)
		return 0;
	/* the waker's ids and name by direct loads (comm is NUL-padded), where
	 * bpf_get_current_pid_tgid and bpf_get_current_comm are calls */
	waker = bpf_get_current_task_btf();
	o->t_wakeup = bpf_ktime_get_ns();
	o->waker_tid = waker->pid;
	o->waker_tgid = waker->tgid;
	__builtin_memcpy(o->waker_comm, waker->comm, KLC_COMM_LEN);
	return 0;
}

/* ---- block I/O: every device ---- */

SEC("tp_btf/block_rq_issue")
int BPF_PROG(block_rq_issue, struct request *rq)
{
	BENCH_SPLIT_COUNT(block_rq_issue, is_broker());
	BENCH_FLOOR_RETURN();
	__u64 key = (__u64)rq;
	struct rq_info r = {};
	__u64 id = bpf_get_current_pid_tgid();

	r.t_issue = bpf_ktime_get_ns();
	r.sector = BPF_CORE_READ(rq, __sector);
	r.bytes = BPF_CORE_READ(rq, __data_len);
	r.cmd_flags = BPF_CORE_READ(rq, cmd_flags);
	r.dev = BPF_CORE_READ(rq, q, disk, part0, bd_dev);
	r.part_dev = BPF_CORE_READ(rq, part, bd_dev);
	r.tid = (__u32)id;
	r.tgid = id >> 32;
	if (bpf_map_update_elem(&rqs, &key, &r, BPF_ANY))
		count_state_full();
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq;
	struct klc_block_event *e;
	struct klc_stats *st;
	struct rq_info *r;

	BENCH_SPLIT_COUNT(block_rq_complete, is_broker());
	BENCH_FLOOR_RETURN();
	r = bpf_map_lookup_elem(&rqs, &key);
	if (!r) {
		if ((st = stats_get()))
			__sync_fetch_and_add(&st->block_unmatched, 1);
		return 0;
	}
	e = event_reserve(sizeof(*e), KLC_EV_BLOCK);
	if (e) {
		e->type = KLC_EV_BLOCK;
		e->dev = r->dev;
		e->t_issue_ns = r->t_issue;
		e->t_complete_ns = bpf_ktime_get_ns();
		e->sector = r->sector;
		e->bytes = r->bytes;
		e->part_dev = r->part_dev;
		e->cmd_flags = r->cmd_flags;
		e->error = error;
		e->issue_tid = r->tid;
		e->issue_tgid = r->tgid;
		ring_submit(e);
	}
	bpf_map_delete_elem(&rqs, &key);
	return 0;
}

/* ---- journal (jbd2): every filesystem ---- */

SEC("tp_btf/jbd2_start_commit")
int BPF_PROG(jbd2_start_commit, journal_t *journal, transaction_t *commit)
{
	BENCH_SPLIT_COUNT(jbd2_start_commit, is_broker());
	BENCH_FLOOR_RETURN();
	__u64 key = (__u64)BPF_CORE_READ(journal, j_fs_dev, bd_dev) << 32 |
		    (__u32)BPF_CORE_READ(commit, t_tid);
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&commits, &key, &now, BPF_ANY);
	return 0;
}

SEC("tp_btf/jbd2_end_commit")
int BPF_PROG(jbd2_end_commit, journal_t *journal, transaction_t *commit)
{
	BENCH_SPLIT_COUNT(jbd2_end_commit, is_broker());
	BENCH_FLOOR_RETURN();
	__u32 dev = BPF_CORE_READ(journal, j_fs_dev, bd_dev);
	__u32 tid = BPF_CORE_READ(commit, t_tid);
	__u64 key = (__u64)dev << 32 | tid;
	struct klc_jbd2_commit_event *e;
	__u64 *t0 = bpf_map_lookup_elem(&commits, &key);

	e = event_reserve(sizeof(*e), KLC_EV_JBD2_COMMIT);
	if (e) {
		e->type = KLC_EV_JBD2_COMMIT;
		e->dev = dev;
		e->t_start_ns = t0 ? *t0 : 0;
		e->t_end_ns = bpf_ktime_get_ns();
		e->tid = tid;
		e->commit_tid = (__u32)bpf_get_current_pid_tgid();
		ring_submit(e);
	}
	if (t0)
		bpf_map_delete_elem(&commits, &key);
	return 0;
}

SEC("tp_btf/jbd2_run_stats")
int BPF_PROG(jbd2_run_stats, dev_t dev, tid_t tid, struct transaction_run_stats_s *rs)
{
	BENCH_SPLIT_COUNT(jbd2_run_stats, is_broker());
	BENCH_FLOOR_RETURN();
	struct klc_jbd2_run_event *e = event_reserve(sizeof(*e), KLC_EV_JBD2_RUN);

	if (!e)
		return 0;
	e->type = KLC_EV_JBD2_RUN;
	e->dev = dev;
	e->ts_ns = bpf_ktime_get_ns();
	e->wait = BPF_CORE_READ(rs, rs_wait);
	e->request_delay = BPF_CORE_READ(rs, rs_request_delay);
	e->running = BPF_CORE_READ(rs, rs_running);
	e->locked = BPF_CORE_READ(rs, rs_locked);
	e->flushing = BPF_CORE_READ(rs, rs_flushing);
	e->logging = BPF_CORE_READ(rs, rs_logging);
	e->handle_count = BPF_CORE_READ(rs, rs_handle_count);
	e->blocks = BPF_CORE_READ(rs, rs_blocks);
	e->blocks_logged = BPF_CORE_READ(rs, rs_blocks_logged);
	e->tid = tid;
	ring_submit(e);
	return 0;
}

/* In the context of the thread that stopped the handle: the broker's only. */
SEC("tp_btf/jbd2_handle_stats")
int BPF_PROG(jbd2_handle_stats, dev_t dev, tid_t tid, unsigned int type, unsigned int line_no,
	     int interval, int sync, int requested_blocks, int dirtied_blocks)
{
	struct klc_jbd2_handle_event *e;

	BENCH_SPLIT_COUNT(jbd2_handle_stats, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	current_announce();
	e = event_reserve(sizeof(*e), KLC_EV_JBD2_HANDLE);
	if (!e)
		return 0;
	e->type = KLC_EV_JBD2_HANDLE;
	e->dev = dev;
	e->ts_ns = bpf_ktime_get_ns();
	e->tid = tid;
	e->thread = (__u32)bpf_get_current_pid_tgid();
	e->handle_type = type;
	e->line_no = line_no;
	e->interval = interval;
	e->sync = sync;
	e->requested_blocks = requested_blocks;
	e->dirtied_blocks = dirtied_blocks;
	ring_submit(e);
	return 0;
}

/* ---- writeback: broker threads throttled or waiting on a folio ---- */

SEC("tp_btf/balance_dirty_pages")
int BPF_PROG(balance_dirty_pages, struct bdi_writeback *wb, struct dirty_throttle_control *dtc,
	     unsigned long dirty_ratelimit, unsigned long task_ratelimit, unsigned long dirtied,
	     unsigned long period, long pause, unsigned long start_time)
{
	struct klc_dirty_throttle_event *e;

	BENCH_SPLIT_COUNT(balance_dirty_pages, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	current_announce();
	e = event_reserve(sizeof(*e), KLC_EV_DIRTY_THROTTLE);
	if (!e)
		return 0;
	e->type = KLC_EV_DIRTY_THROTTLE;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->pause = pause;
	e->period = period;
	e->paused = bpf_jiffies64() - start_time;
	e->dirty_ratelimit = dirty_ratelimit;
	e->task_ratelimit = task_ratelimit;
	e->dirtied = dirtied;
	ring_submit(e);
	return 0;
}

SEC("tp_btf/folio_wait_writeback")
int BPF_PROG(folio_wait_writeback, struct folio *folio, struct address_space *mapping)
{
	struct klc_folio_wait_event *e;

	BENCH_SPLIT_COUNT(folio_wait_writeback, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker() || !mapping)
		return 0;
	current_announce();
	e = event_reserve(sizeof(*e), KLC_EV_FOLIO_WAIT);
	if (!e)
		return 0;
	e->type = KLC_EV_FOLIO_WAIT;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->ino = BPF_CORE_READ(mapping, host, i_ino);
	e->dev = BPF_CORE_READ(mapping, host, i_sb, s_dev);
	e->index = BPF_CORE_READ(folio, index);
	e->pad = 0;
	ring_submit(e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
