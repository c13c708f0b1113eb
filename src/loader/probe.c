// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "kafkalat.skel.h"
#include "kafkalat/loader.h"
#include "kafkalat/probe.h"

struct probe {
	struct loader l;
	struct kafkalat_bpf *skel;
	struct probe_opts opts;
	bool raw_syscalls;
	char fallback_reason[256];
};

/* The syscalls kafkalat watches, how each passes its bytes, its own
 * tracepoint (syscalls/sys_{enter,exit}_<tp>) and how many arguments its
 * entry program reads. */
static const struct {
	long nr;
	enum klt_io_kind kind;
	enum klt_dir dir;
	const char *tp;
	int nargs;
} io_syscalls[] = {
    {SYS_read, KLT_IO_BUF, KLT_DIR_RX, "read", 3},
    {SYS_recvfrom, KLT_IO_BUF, KLT_DIR_RX, "recvfrom", 3},
    {SYS_readv, KLT_IO_IOV, KLT_DIR_RX, "readv", 3},
    {SYS_recvmsg, KLT_IO_MSG, KLT_DIR_RX, "recvmsg", 3},
    {SYS_write, KLT_IO_BUF, KLT_DIR_TX, "write", 3},
    {SYS_sendto, KLT_IO_BUF, KLT_DIR_TX, "sendto", 3},
    {SYS_writev, KLT_IO_IOV, KLT_DIR_TX, "writev", 3},
    {SYS_sendmsg, KLT_IO_MSG, KLT_DIR_TX, "sendmsg", 3},
    {SYS_sendfile, KLT_IO_SENDFILE, KLT_DIR_TX, "sendfile64", 4},
    {SYS_accept, KLT_IO_ACCEPT, KLT_DIR_RX, "accept", 3},
    {SYS_accept4, KLT_IO_ACCEPT, KLT_DIR_RX, "accept4", 3},
    {SYS_close, KLT_IO_CLOSE, KLT_DIR_RX, "close", 1},
};

#define NIO_SYSCALLS (sizeof(io_syscalls) / sizeof(io_syscalls[0]))

const char *probe_error(const struct probe *p)
{
	return loader_error(p ? &p->l : NULL);
}

int probe_exit(const struct probe *p)
{
	return loader_exit(p ? &p->l : NULL);
}

int probe_open(struct probe **out, const struct probe_opts *opts)
{
	struct probe *p = calloc(1, sizeof(*p));
	int err;

	*out = p;
	if (!p)
		return -ENOMEM;
	p->opts = *opts;
	err = loader_begin(&p->l, "", opts->verbose);
	if (err)
		return err;
	p->skel = kafkalat_bpf__open();
	return loader_opened(&p->l, p->skel ? p->skel->obj : NULL);
}

static int configure(struct probe *p)
{
	struct kafkalat_bpf *s = p->skel;
	size_t rb = p->opts.ringbuf_bytes ? p->opts.ringbuf_bytes : PROBE_DEFAULT_RINGBUF;

	if (p->opts.npids <= 0 || p->opts.npids > KLT_MAX_BROKERS)
		return loader_fail(&p->l, -EINVAL, "%d processes to trace (1 to %d)", p->opts.npids,
				   KLT_MAX_BROKERS);
	for (int i = 0; i < p->opts.npids; i++)
		s->rodata->targ_tgids[i] = (__u32)p->opts.pids[i];
	s->rodata->targ_ntgids = (__u32)p->opts.npids;
	s->rodata->targ_follow = p->opts.follow;
	if (p->opts.follow)
		loader_set_tgids(s->bss->follow_tgids, &s->bss->follow_ntgids, p->opts.pids,
				 p->opts.npids);
	for (int i = 0; i < p->opts.nports && i < KLT_MAX_PORTS; i++)
		s->rodata->targ_ports[i] = p->opts.ports[i];
	s->rodata->targ_nports = (__u32)p->opts.nports;
	s->rodata->wakeup_bytes = rb / 4;
	for (size_t i = 0; i < NIO_SYSCALLS; i++) {
		long nr = io_syscalls[i].nr;

		if (nr < 0 || nr >= KLT_MAX_SYSCALL_NR)
			continue;
		s->rodata->sys_io_kind[nr] = (__u8)(io_syscalls[i].kind + 1);
		s->rodata->sys_io_dir[nr] = (__u8)io_syscalls[i].dir;
	}
	return loader_size_ring(&p->l, s->maps.events, rb);
}

/* Whether tracefs lists every watched syscall's own tracepoints (the live
 * tracer mounts it first where it can). */
static bool have_syscall_tracepoints(void)
{
	static const char *const roots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
	char path[128];

	for (size_t r = 0; r < sizeof(roots) / sizeof(roots[0]); r++) {
		size_t i;

		for (i = 0; i < NIO_SYSCALLS; i++) {
			snprintf(path, sizeof(path), "%s/events/syscalls/sys_enter_%s", roots[r],
				 io_syscalls[i].tp);
			if (access(path, F_OK))
				break;
		}
		if (i == NIO_SYSCALLS)
			return true;
	}
	return false;
}

/* Only one of the two ways of tracing the syscalls is loaded: an unused
 * program would still be verified, and the exit programs, which walk the
 * framer, are the largest load (docs/design.md, "Kernel side: the socket
 * probe"). */
int probe_load(struct probe *p)
{
	int err = configure(p);
	bool own = have_syscall_tracepoints();

	if (err)
		return err;
	bpf_program__set_autoload(p->skel->progs.sys_exit, !own);
	bpf_program__set_autoload(p->skel->progs.sys_enter, !own);
	bpf_program__set_autoload(p->skel->progs.sock_exit, own);
	bpf_program__set_autoload(p->skel->progs.sock_enter1, own);
	bpf_program__set_autoload(p->skel->progs.sock_enter3, own);
	bpf_program__set_autoload(p->skel->progs.sock_enter4, own);
	p->raw_syscalls = !own;
	if (!own)
		snprintf(p->fallback_reason, sizeof(p->fallback_reason),
			 "tracefs lists no syscalls:sys_enter_* tracepoints for them");
	return loader_loaded(&p->l, kafkalat_bpf__load(p->skel));
}

void probe_runs(const struct probe *p, struct probe_runs *out)
{
	loader_runs(p ? &p->l : NULL, out);
}

static struct bpf_program *enter_prog(struct probe *p, int nargs)
{
	if (nargs >= 4)
		return p->skel->progs.sock_enter4;
	return nargs == 1 ? p->skel->progs.sock_enter1 : p->skel->progs.sock_enter3;
}

/* One program on each watched syscall's own tracepoint: exits first (an
 * entry without its exit would leave a syscall armed); close has no exit. */
static int attach_syscall_tracepoints(struct probe *p)
{
	char name[64];

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < NIO_SYSCALLS; i++) {
			struct bpf_program *prog;
			int err;

			if (pass == 0 && io_syscalls[i].kind == KLT_IO_CLOSE)
				continue;
			prog = pass == 0 ? p->skel->progs.sock_exit
					 : enter_prog(p, io_syscalls[i].nargs);
			snprintf(name, sizeof(name), "sys_%s_%s", pass == 0 ? "exit" : "enter",
				 io_syscalls[i].tp);
			err = loader_attach_syscall(&p->l, prog, name, false);
			if (err) {
				loader_detach(&p->l);
				return err;
			}
		}
	}
	return 0;
}

/* The raw pair: every syscall of every process runs it, so it is the
 * fallback for kernels or mounts without the syscall tracepoints. */
static int attach_raw(struct probe *p)
{
	int err = loader_attach(&p->l, p->skel->progs.sys_exit);

	if (!err)
		err = loader_attach(&p->l, p->skel->progs.sys_enter);
	if (err)
		loader_detach(&p->l);
	return err;
}

int probe_attach(struct probe *p, loader_record_fn fn, void *ctx)
{
	int err = p->raw_syscalls ? attach_raw(p) : attach_syscall_tracepoints(p);

	/* after the syscall programs, which classify the sockets the others
	 * time; a connection established between the two attaches gets its
	 * ring at classification, its first bytes unknown */
	if (!err)
		err = loader_attach(&p->l, p->skel->progs.inet_sock_set_state);
	if (!err)
		err = loader_attach(&p->l, p->skel->progs.sk_data_ready);
	if (!err)
		err = loader_attach(&p->l, p->skel->progs.net_dev_queue);
	if (err) {
		loader_detach(&p->l);
		return err;
	}
	return loader_open_ring(&p->l, p->skel->maps.events, fn, ctx);
}

const char *probe_syscall_fallback(const struct probe *p)
{
	return p && p->raw_syscalls ? p->fallback_reason : NULL;
}

int probe_epoll_fd(const struct probe *p)
{
	return loader_epoll_fd(&p->l);
}

int probe_poll(struct probe *p, int timeout_ms)
{
	return loader_poll(&p->l, timeout_ms);
}

int probe_stats(struct probe *p, struct klt_stats *sum)
{
	return loader_sum_percpu(&p->l, p->skel->maps.stats, sum, sizeof(*sum));
}

void probe_follow(struct probe *p, int slot, int pid)
{
	loader_set_tgid(p->skel->bss->follow_tgids, slot, pid);
}

int probe_forget(struct probe *p, int tgid)
{
	int a = loader_forget_tgid(p->skel->maps.conns, (uint32_t)tgid);
	int b = loader_forget_tgid(p->skel->maps.not_kafka, (uint32_t)tgid);

	return a < 0 ? a : b < 0 ? b : a + b;
}

void probe_destroy(struct probe *p)
{
	if (!p)
		return;
	loader_destroy(&p->l);
	kafkalat_bpf__destroy(p->skel);
	free(p);
}
