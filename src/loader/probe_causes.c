// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include <bpf/libbpf.h>

#include "causes.skel.h"
#include "kafkalat/loader.h"
#include "kafkalat/probe_causes.h"

struct causes {
	struct loader l;
	struct causes_bpf *skel;
	struct causes_opts opts;
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

const char *causes_error(const struct causes *c)
{
	return loader_error(c ? &c->l : NULL);
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
	err = loader_begin(&c->l, "causes ", opts->verbose);
	if (err)
		return err;
	c->skel = causes_bpf__open();
	return loader_opened(&c->l, c->skel ? c->skel->obj : NULL);
}

static int configure(struct causes *c)
{
	struct causes_bpf *s = c->skel;
	size_t rb = c->opts.ringbuf_bytes ? c->opts.ringbuf_bytes : CAUSES_DEFAULT_RINGBUF;
	unsigned int g = groups_of(c);
	struct bpf_program *prog;

	if (c->opts.npids <= 0 || c->opts.npids > KLT_MAX_BROKERS)
		return loader_fail(&c->l, -EINVAL, "%d processes to trace (1 to %d)", c->opts.npids,
				   KLT_MAX_BROKERS);
	if ((g & KLC_G_FILE_TP) && (g & (KLC_G_FILE | KLC_G_FUTEX)))
		return loader_fail(&c->l, -EINVAL,
				   "file syscalls on tracepoints exclude the file and futex "
				   "groups (each write would be seen twice)");
	for (int i = 0; i < c->opts.npids; i++)
		s->rodata->targ_tgids[i] = (__u32)c->opts.pids[i];
	s->rodata->targ_ntgids = (__u32)c->opts.npids;
	s->rodata->targ_follow = c->opts.follow;
	if (c->opts.follow)
		loader_set_tgids(s->bss->follow_tgids, &s->bss->follow_ntgids, c->opts.pids,
				 c->opts.npids);
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
	return loader_size_ring(&c->l, s->maps.events, rb);
}

int causes_load(struct causes *c)
{
	int err = configure(c);

	if (err)
		return err;
	return loader_loaded(&c->l, causes_bpf__load(c->skel));
}

/* One program on several syscall tracepoints: syscalls/sys_<dir>_<name>. */
static int attach_file_tracepoints(struct causes *c, struct bpf_program *prog, const char *dir)
{
	char name[64];
	int err;

	for (size_t i = 0; i < NELEMS(file_tracepoints) + 1; i++) {
		const char *sys = i < NELEMS(file_tracepoints) ? file_tracepoints[i] : "close";

		if (i == NELEMS(file_tracepoints) && strcmp(dir, "enter"))
			break; /* close has nothing to finish */
		snprintf(name, sizeof(name), "sys_%s_%s", dir, sys);
		err = loader_attach_syscall(&c->l, prog, name, true);
		/* pwritev2 is missing on some architectures: not fatal */
		if (err && strcmp(sys, "pwritev2"))
			return err;
	}
	return 0;
}

int causes_attach(struct causes *c, loader_record_fn fn, void *ctx)
{
	unsigned int g = groups_of(c);
	int err;

	for (size_t i = 0; i < NELEMS(progs); i++) {
		struct bpf_program *prog;

		if (!(progs[i].groups & g))
			continue;
		prog = bpf_object__find_program_by_name(c->skel->obj, progs[i].name);
		if (!prog)
			return loader_fail(&c->l, -ENOENT, "program %s missing from the object",
					   progs[i].name);
		if (progs[i].groups == KLC_G_FILE_TP)
			err = attach_file_tracepoints(
			    c, prog, strcmp(progs[i].name, "file_sys_exit") ? "enter" : "exit");
		else
			err = loader_attach(&c->l, prog);
		if (err)
			return err;
	}
	return loader_open_ring(&c->l, c->skel->maps.events, fn, ctx);
}

int causes_epoll_fd(const struct causes *c)
{
	return loader_epoll_fd(&c->l);
}

int causes_poll(struct causes *c, int timeout_ms)
{
	return loader_poll(&c->l, timeout_ms);
}

int causes_stats(struct causes *c, struct klc_stats *sum)
{
	return loader_sum_percpu(&c->l, c->skel->maps.stats, sum, sizeof(*sum));
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

int causes_prog_stats(struct causes *c, struct loader_prog_stats *out, int max)
{
	return loader_prog_stats(&c->l, out, max);
}

void causes_runs(const struct causes *c, struct probe_runs *out)
{
	loader_runs(c ? &c->l : NULL, out);
}

void causes_follow(struct causes *c, int slot, int pid)
{
	struct causes_bpf *s = c->skel;
	uint32_t words = bpf_map__max_entries(s->maps.fd_other) / KLT_MAX_BROKERS;

	/* the slot's fd bits are its last process's: they go while the slot
	 * matches no process, so that none of them is taken for the next's */
	loader_set_tgid(s->bss->follow_tgids, slot, -1);
	loader_zero_range(s->maps.fd_other, (uint32_t)slot * words, words);
	if (pid >= 0)
		loader_set_tgid(s->bss->follow_tgids, slot, pid);
}

int causes_forget(struct causes *c, int tgid)
{
	return loader_forget_tgid(c->skel->maps.fds, (uint32_t)tgid);
}

void causes_destroy(struct causes *c)
{
	if (!c)
		return;
	loader_destroy(&c->l);
	causes_bpf__destroy(c->skel);
	free(c);
}
