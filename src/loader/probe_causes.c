// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "causes.skel.h"
#include "kafkalat/probe.h"
#include "kafkalat/probe_causes.h"

#define MAX_LINKS 40

struct causes {
	struct causes_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	struct causes_opts opts;
	char err[256];
};

/* Every program, its group, in attach order (an exit before its enter: an
 * enter without its exit would leave a syscall armed). */
static const struct {
	const char *name;
	unsigned int groups;
} progs[] = {
    {"sys_exit", KLC_G_FILE | KLC_G_FUTEX},
    {"sys_enter", KLC_G_FILE | KLC_G_FUTEX},
    {"file_sys_exit", KLC_G_FILE_TP},
    {"file_sys_enter", KLC_G_FILE_TP},
    {"sched_switch", KLC_G_SCHED},
    {"sched_waking", KLC_G_SCHED},
    {"block_rq_complete", KLC_G_BLOCK},
    {"block_rq_issue", KLC_G_BLOCK},
    {"jbd2_end_commit", KLC_G_JOURNAL},
    {"jbd2_start_commit", KLC_G_JOURNAL},
    {"jbd2_run_stats", KLC_G_JOURNAL},
    {"jbd2_handle_stats", KLC_G_JOURNAL},
    {"balance_dirty_pages", KLC_G_WRITEBACK},
    {"folio_wait_writeback", KLC_G_WRITEBACK},
};

#define FILE_GROUPS (KLC_G_FILE | KLC_G_FILE_TP)

/* The syscalls watched, by group. */
static const struct {
	long nr;
	enum klc_sys_kind kind;
	unsigned int groups;
} syscalls[] = {
    {SYS_write, KLC_SYS_WRITE, FILE_GROUPS},	   {SYS_pwrite64, KLC_SYS_PWRITE64, FILE_GROUPS},
    {SYS_writev, KLC_SYS_WRITEV, FILE_GROUPS},	   {SYS_pwritev, KLC_SYS_PWRITEV, FILE_GROUPS},
#ifdef SYS_pwritev2
    {SYS_pwritev2, KLC_SYS_PWRITEV2, FILE_GROUPS},
#endif
    {SYS_fsync, KLC_SYS_FSYNC, FILE_GROUPS},	   {SYS_fdatasync, KLC_SYS_FDATASYNC, FILE_GROUPS},
    {SYS_close, KLC_SYS_CLOSE, FILE_GROUPS},	   {SYS_futex, KLC_SYS_FUTEX, KLC_G_FUTEX},
};

/* Their tracepoints, for KLC_G_FILE_TP (close: the entry only). */
static const char *const file_tracepoints[] = {
    "write", "pwrite64", "writev", "pwritev", "pwritev2", "fsync", "fdatasync",
};

/* Blocked in these, a thread's kernel stack is always the same. */
static const struct {
	long nr;
	enum klc_stackless kind;
} stackless_syscalls[] = {
    {SYS_futex, KLC_STACKLESS_FUTEX},		{SYS_epoll_wait, KLC_STACKLESS_POLL},
    {SYS_epoll_pwait, KLC_STACKLESS_POLL},
#ifdef SYS_epoll_pwait2
    {SYS_epoll_pwait2, KLC_STACKLESS_POLL},
#endif
    {SYS_clock_nanosleep, KLC_STACKLESS_SLEEP},
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static int print_debug(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	return vfprintf(stderr, fmt, args);
}

/* errors are reported once, by the caller, with context */
static int print_none(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static int fail(struct causes *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

const char *causes_error(const struct causes *c)
{
	return c ? c->err : "out of memory";
}

static unsigned int groups_of(const struct causes *c)
{
	return c->opts.groups ? c->opts.groups & (KLC_G_ALL | KLC_G_FILE_TP) : KLC_G_ALL;
}

static unsigned int prog_groups(const char *name)
{
	for (size_t i = 0; i < NELEMS(progs); i++)
		if (!strcmp(progs[i].name, name))
			return progs[i].groups;
	return 0;
}

int causes_open(struct causes **out, const struct causes_opts *opts)
{
	struct causes *c = calloc(1, sizeof(*c));
	int err;

	*out = c;
	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	libbpf_set_print(opts->verbose ? print_debug : print_none);
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return fail(c, -ENOENT,
			    "kernel BTF not found at /sys/kernel/btf/vmlinux (needs a "
			    "kernel built with CONFIG_DEBUG_INFO_BTF=y)");
	c->skel = causes_bpf__open();
	if (!c->skel) {
		err = -errno;
		return fail(c, err, "opening the causes BPF object failed: %s", strerror(-err));
	}
	return 0;
}

static int configure(struct causes *c)
{
	struct causes_bpf *s = c->skel;
	size_t rb = c->opts.ringbuf_bytes ? c->opts.ringbuf_bytes : CAUSES_DEFAULT_RINGBUF;
	unsigned int g = groups_of(c);
	struct bpf_program *prog;

	if (c->opts.pid <= 0)
		return fail(c, -EINVAL, "no process to trace (pid %d)", c->opts.pid);
	if ((g & KLC_G_FILE_TP) && (g & (KLC_G_FILE | KLC_G_FUTEX)))
		return fail(c, -EINVAL,
			    "file syscalls on tracepoints exclude the file and futex "
			    "groups (each write would be seen twice)");
	s->rodata->targ_tgid = (__u32)c->opts.pid;
	s->rodata->wakeup_bytes = rb / 4;
	s->rodata->min_offcpu_ns = c->opts.min_offcpu_ns;
	s->rodata->min_futex_ns = c->opts.min_futex_ns;
	for (size_t i = 0; i < NELEMS(syscalls); i++)
		if ((syscalls[i].groups & g) && syscalls[i].nr >= 0 &&
		    syscalls[i].nr < KLC_MAX_SYSCALL_NR)
			s->rodata->sys_kind[syscalls[i].nr] = (__u8)syscalls[i].kind;
	for (size_t i = 0; i < NELEMS(stackless_syscalls); i++)
		if (stackless_syscalls[i].nr >= KLC_STACKLESS_MIN_NR &&
		    stackless_syscalls[i].nr < KLC_MAX_SYSCALL_NR)
			s->rodata->stackless[stackless_syscalls[i].nr] =
			    (__u8)stackless_syscalls[i].kind;
	bpf_object__for_each_program(prog, s->obj)
	{
		if (!(prog_groups(bpf_program__name(prog)) & g))
			bpf_program__set_autoload(prog, false);
	}
	/* maps of groups not loaded: as small as they can be */
	if (!(g & KLC_G_SCHED)) {
		bpf_map__set_max_entries(s->maps.stacks, 1);
		bpf_map__set_max_entries(s->maps.offcpu, 1);
	}
	if (!(g & KLC_G_BLOCK))
		bpf_map__set_max_entries(s->maps.rqs, 1);
	if (!(g & KLC_G_JOURNAL))
		bpf_map__set_max_entries(s->maps.commits, 1);
	if (!(g & FILE_GROUPS))
		bpf_map__set_max_entries(s->maps.fds, 1);
	if (bpf_map__set_max_entries(s->maps.events, (__u32)rb))
		return fail(c, -EINVAL, "ring buffer size %zu is not a power of two of pages", rb);
	return 0;
}

int causes_load(struct causes *c)
{
	int err = configure(c);

	if (err)
		return err;
	err = causes_bpf__load(c->skel);
	if (err == -EPERM || err == -EACCES)
		return fail(c, err,
			    "loading BPF programs is not permitted: run as root or with "
			    "CAP_BPF and CAP_PERFMON");
	if (err)
		return fail(c, err,
			    "loading the causes BPF programs failed: %s (rerun with -v for the "
			    "verifier log)",
			    strerror(-err));
	return 0;
}

/* One program on several syscall tracepoints: syscalls/sys_<dir>_<name>. */
static int attach_file_tracepoints(struct causes *c, struct bpf_program *prog, const char *dir)
{
	char name[64];
	int err;

	for (size_t i = 0; i < NELEMS(file_tracepoints) + 1; i++) {
		const char *sys = i < NELEMS(file_tracepoints) ? file_tracepoints[i] : "close";
		struct bpf_link *l;

		if (i == NELEMS(file_tracepoints) && strcmp(dir, "enter"))
			break; /* close has nothing to finish */
		if (c->nlinks >= MAX_LINKS)
			return fail(c, -E2BIG, "too many links");
		snprintf(name, sizeof(name), "sys_%s_%s", dir, sys);
		l = bpf_program__attach_tracepoint(prog, "syscalls", name);
		if (!l) {
			err = -errno;
			/* pwritev2 is missing on some architectures: not fatal */
			if (!strcmp(sys, "pwritev2"))
				continue;
			return fail(
			    c, err, "attaching to syscalls:%s failed: %s%s", name, strerror(-err),
			    err == -ENOENT ? " (is tracefs mounted at /sys/kernel/tracing?)" : "");
		}
		c->links[c->nlinks++] = l;
	}
	return 0;
}

int causes_attach(struct causes *c, causes_record_fn fn, void *ctx)
{
	unsigned int g = groups_of(c);
	int err;

	for (size_t i = 0; i < NELEMS(progs) && c->nlinks < MAX_LINKS; i++) {
		struct bpf_program *prog;
		struct bpf_link *l;

		if (!(progs[i].groups & g))
			continue;
		prog = bpf_object__find_program_by_name(c->skel->obj, progs[i].name);
		if (!prog)
			return fail(c, -ENOENT, "program %s missing from the object",
				    progs[i].name);
		if (progs[i].groups == KLC_G_FILE_TP) {
			err = attach_file_tracepoints(
			    c, prog, strcmp(progs[i].name, "file_sys_exit") ? "enter" : "exit");
			if (err)
				return err;
			continue;
		}
		l = bpf_program__attach(prog);
		if (!l) {
			err = -errno;
			return fail(c, err, "attaching %s failed: %s", progs[i].name,
				    strerror(-err));
		}
		c->links[c->nlinks++] = l;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), (ring_buffer_sample_fn)fn, ctx,
				 NULL);
	if (!c->rb) {
		err = -errno;
		return fail(c, err, "creating the ring buffer reader failed: %s", strerror(-err));
	}
	return 0;
}

int causes_epoll_fd(const struct causes *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int causes_poll(struct causes *c, int timeout_ms)
{
	/* the kernel side wakes us only when the ring fills up: wait, then read
	 * whatever is there, woken or not (0: read only) */
	int n = timeout_ms ? ring_buffer__poll(c->rb, timeout_ms) : 0;

	if (n >= 0 || n == -EINTR)
		n = ring_buffer__consume(c->rb);
	if (n < 0 && n != -EINTR)
		return fail(c, n, "reading the ring buffer failed: %s", strerror(-n));
	return n < 0 ? 0 : n;
}

int causes_stats(struct causes *c, struct klc_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct klc_stats *per;
	__u32 zero = 0;
	int err;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return fail(c, ncpu, "cannot count CPUs");
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	err = bpf_map__lookup_elem(c->skel->maps.stats, &zero, sizeof(zero), per,
				   sizeof(*per) * (size_t)ncpu, 0);
	if (err) {
		free(per);
		return fail(c, err, "reading BPF counters failed: %s", strerror(-err));
	}
	for (int i = 0; i < ncpu; i++) {
		sum->ringbuf_drops += per[i].ringbuf_drops;
		for (size_t k = 0; k < NELEMS(sum->drops); k++)
			sum->drops[k] += per[i].drops[k];
		sum->fd_lookups += per[i].fd_lookups;
		sum->stack_errors += per[i].stack_errors;
		sum->state_full += per[i].state_full;
		sum->block_unmatched += per[i].block_unmatched;
	}
	free(per);
	return 0;
}

int causes_stack(struct causes *c, int stack_id, uint64_t *ips, int max)
{
	uint64_t buf[KLC_MAX_STACK];
	__u32 key = (__u32)stack_id;
	int n = 0;

	if (stack_id < 0)
		return -ENOENT;
	if (bpf_map__lookup_elem(c->skel->maps.stacks, &key, sizeof(key), buf, sizeof(buf), 0))
		return -errno;
	for (int i = 0; i < KLC_MAX_STACK && buf[i] && n < max; i++)
		ips[n++] = buf[i];
	return n;
}

int causes_prog_stats(struct causes *c, struct causes_prog_stats *out, int max)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, c->skel->obj)
	{
		struct bpf_prog_info info;

		if (n >= max || probe_prog_info(prog, &info))
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", bpf_program__name(prog));
		out[n].run_cnt = info.run_cnt;
		out[n].run_time_ns = info.run_time_ns;
		out[n].verified_insns = info.verified_insns;
		n++;
	}
	return n;
}

void causes_runs(const struct causes *c, struct probe_runs *out)
{
	probe_object_runs(c && c->skel ? c->skel->obj : NULL, out);
}

void causes_destroy(struct causes *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	probe_destroy_links(c->links, c->nlinks);
	causes_bpf__destroy(c->skel);
	free(c);
}
