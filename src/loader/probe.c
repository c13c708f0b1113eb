// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kafkalat.skel.h"
#include "kafkalat/probe.h"

/* two per watched syscall on their own tracepoints */
#define MAX_LINKS 32

struct probe {
	struct kafkalat_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	struct probe_opts opts;
	bool raw_syscalls;
	char fallback_reason[256];
	char err[256];
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

static bool verbose_libbpf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose_libbpf)
		return 0;
	if (!verbose_libbpf)
		return 0; /* errors are reported once, by the caller, with context */
	return vfprintf(stderr, fmt, args);
}

static int fail(struct probe *p, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

const char *probe_error(const struct probe *p)
{
	return p ? p->err : "out of memory";
}

int probe_open(struct probe **out, const struct probe_opts *opts)
{
	struct probe *p = calloc(1, sizeof(*p));
	int err;

	*out = p;
	if (!p)
		return -ENOMEM;
	p->opts = *opts;
	verbose_libbpf = opts->verbose;
	libbpf_set_print(libbpf_print);
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return fail(p, -ENOENT,
			    "kernel BTF not found at /sys/kernel/btf/vmlinux (needs a "
			    "kernel built with CONFIG_DEBUG_INFO_BTF=y)");
	p->skel = kafkalat_bpf__open();
	if (!p->skel) {
		err = -errno;
		return fail(p, err, "opening the BPF object failed: %s", strerror(-err));
	}
	return 0;
}

static int configure(struct probe *p)
{
	struct kafkalat_bpf *s = p->skel;
	size_t rb = p->opts.ringbuf_bytes ? p->opts.ringbuf_bytes : PROBE_DEFAULT_RINGBUF;

	s->rodata->targ_tgid = (__u32)p->opts.pid;
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
	if (bpf_map__set_max_entries(s->maps.events, (__u32)rb))
		return fail(p, -EINVAL, "ring buffer size %zu is not a power of two of pages", rb);
	return 0;
}

int probe_load(struct probe *p)
{
	int err = configure(p);

	if (err)
		return err;
	err = kafkalat_bpf__load(p->skel);
	if (err == -EPERM || err == -EACCES)
		return fail(p, err,
			    "loading BPF programs is not permitted: run as root or with "
			    "CAP_BPF and CAP_PERFMON");
	if (err)
		return fail(p, err,
			    "loading the BPF programs failed: %s (rerun with -v for the "
			    "verifier log)",
			    strerror(-err));
	return 0;
}

static int attach_prog(struct probe *p, struct bpf_program *prog)
{
	struct bpf_link *l = bpf_program__attach(prog);

	if (!l) {
		int err = -errno;

		return fail(p, err, "attaching %s failed: %s", bpf_program__name(prog),
			    strerror(-err));
	}
	p->links[p->nlinks++] = l;
	return 0;
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/*
 * Each syscall tracepoint link waits for a grace period when it goes (the
 * syscall tracepoints may fault: ~45 ms each here, a second for all of
 * them one after another). Destroyed side by side, the waits overlap.
 */
void probe_destroy_links(struct bpf_link **links, int n)
{
	pthread_t th[PROBE_MAX_PARALLEL_DETACH];
	bool started[PROBE_MAX_PARALLEL_DETACH] = {0};

	for (int i = 0; i < n; i++) {
		if (i < PROBE_MAX_PARALLEL_DETACH)
			started[i] = !pthread_create(&th[i], NULL, destroy_link, links[i]);
		else
			bpf_link__destroy(links[i]);
	}
	for (int i = 0; i < n && i < PROBE_MAX_PARALLEL_DETACH; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			bpf_link__destroy(links[i]);
	}
}

int probe_prog_info(const struct bpf_program *prog, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	int fd = bpf_program__fd(prog);

	memset(info, 0, sizeof(*info));
	return fd < 0 || bpf_obj_get_info_by_fd(fd, info, &len) ? -1 : 0;
}

void probe_object_runs(struct bpf_object *obj, struct probe_runs *out)
{
	struct bpf_program *prog;
	struct bpf_prog_info info;

	out->run_ns = out->runs = 0;
	if (!obj)
		return;
	bpf_object__for_each_program(prog, obj)
	{
		if (probe_prog_info(prog, &info))
			continue;
		out->run_ns += info.run_time_ns;
		out->runs += info.run_cnt;
	}
}

void probe_runs(const struct probe *p, struct probe_runs *out)
{
	probe_object_runs(p && p->skel ? p->skel->obj : NULL, out);
}

static void detach_all(struct probe *p)
{
	probe_destroy_links(p->links, p->nlinks);
	p->nlinks = 0;
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
			struct bpf_link *l;

			if (pass == 0 && io_syscalls[i].kind == KLT_IO_CLOSE)
				continue;
			prog = pass == 0 ? p->skel->progs.sock_exit
					 : enter_prog(p, io_syscalls[i].nargs);
			snprintf(name, sizeof(name), "sys_%s_%s", pass == 0 ? "exit" : "enter",
				 io_syscalls[i].tp);
			l = bpf_program__attach_tracepoint(prog, "syscalls", name);
			if (!l) {
				int err = -errno;

				detach_all(p);
				return fail(p, err, "attaching to syscalls:%s failed: %s", name,
					    strerror(-err));
			}
			p->links[p->nlinks++] = l;
		}
	}
	return 0;
}

/* The raw pair: every syscall of every process runs it, so it is the
 * fallback for kernels or mounts without the syscall tracepoints. */
static int attach_raw(struct probe *p)
{
	int err = attach_prog(p, p->skel->progs.sys_exit);

	if (!err)
		err = attach_prog(p, p->skel->progs.sys_enter);
	if (err)
		detach_all(p);
	return err;
}

int probe_attach(struct probe *p, probe_record_fn fn, void *ctx)
{
	int err = attach_syscall_tracepoints(p);

	p->raw_syscalls = err != 0;
	if (err) {
		snprintf(p->fallback_reason, sizeof(p->fallback_reason), "%s", p->err);
		err = attach_raw(p);
	}
	if (err)
		return err;
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), (ring_buffer_sample_fn)fn, ctx,
				 NULL);
	if (!p->rb) {
		err = -errno;
		return fail(p, err, "creating the ring buffer reader failed: %s", strerror(-err));
	}
	return 0;
}

const char *probe_syscall_fallback(const struct probe *p)
{
	return p && p->raw_syscalls ? p->fallback_reason : NULL;
}

int probe_epoll_fd(const struct probe *p)
{
	return ring_buffer__epoll_fd(p->rb);
}

int probe_poll(struct probe *p, int timeout_ms)
{
	/* the kernel side wakes us only when the ring fills up: wait, then read
	 * whatever is there, woken or not (0: read only) */
	int n = timeout_ms ? ring_buffer__poll(p->rb, timeout_ms) : 0;

	if (n >= 0 || n == -EINTR)
		n = ring_buffer__consume(p->rb);
	if (n < 0 && n != -EINTR)
		return fail(p, n, "reading the ring buffer failed: %s", strerror(-n));
	return n < 0 ? 0 : n;
}

int probe_stats(struct probe *p, struct klt_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct klt_stats *per;
	__u32 zero = 0;
	int err;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return fail(p, ncpu, "cannot count CPUs");
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	err = bpf_map__lookup_elem(p->skel->maps.stats, &zero, sizeof(zero), per,
				   sizeof(*per) * (size_t)ncpu, 0);
	if (err) {
		free(per);
		return fail(p, err, "reading BPF counters failed: %s", strerror(-err));
	}
	for (int i = 0; i < ncpu; i++) {
		sum->ringbuf_drops += per[i].ringbuf_drops;
		sum->conn_table_full += per[i].conn_table_full;
		sum->resync_skipped += per[i].resync_skipped;
		sum->frames += per[i].frames;
		sum->syscalls += per[i].syscalls;
		sum->steps += per[i].steps;
	}
	free(per);
	return 0;
}

void probe_destroy(struct probe *p)
{
	if (!p)
		return;
	ring_buffer__free(p->rb);
	detach_all(p);
	kafkalat_bpf__destroy(p->skel);
	free(p);
}
