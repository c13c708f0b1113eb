// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What both loaders share: see include/kafkalat/loader.h. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kafkalat/events.h"
#include "kafkalat/exitcode.h"
#include "kafkalat/loader.h"

int loader_fail(struct loader *l, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->err, sizeof(l->err), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}

const char *loader_error(const struct loader *l)
{
	return l ? l->err : "out of memory";
}

int loader_exit(const struct loader *l)
{
	return l && l->exit ? l->exit : KLT_EXIT_FAILURE;
}

static int print_all(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	return vfprintf(stderr, fmt, args);
}

int loader_begin(struct loader *l, const char *what, bool verbose)
{
	struct stat st;

	l->what = what;
	/* NULL silences libbpf: errors are reported once, by the caller, with
	 * context */
	libbpf_set_print(verbose ? print_all : NULL);
	/* sysfs gives the file its size: an empty one holds no BTF either */
	if (access("/sys/kernel/btf/vmlinux", R_OK) || stat("/sys/kernel/btf/vmlinux", &st) ||
	    st.st_size == 0) {
		l->exit = KLT_EXIT_KERNEL;
		return loader_fail(l, -ENOENT,
				   "kernel BTF not found at /sys/kernel/btf/vmlinux (needs a "
				   "kernel built with CONFIG_DEBUG_INFO_BTF=y)");
	}
	return 0;
}

int loader_opened(struct loader *l, struct bpf_object *obj)
{
	int err = -errno;

	l->obj = obj;
	if (!obj)
		return loader_fail(l, err, "opening the %sBPF object failed: %s", l->what,
				   strerror(-err));
	return 0;
}

int loader_size_ring(struct loader *l, struct bpf_map *ring, size_t bytes)
{
	if (bpf_map__set_max_entries(ring, (__u32)bytes))
		return loader_fail(l, -EINVAL,
				   "ring buffer size %zu is not a power of two of pages", bytes);
	return 0;
}

int loader_loaded(struct loader *l, int err)
{
	if (err == -EPERM || err == -EACCES) {
		l->exit = KLT_EXIT_PRIVILEGE;
		return loader_fail(l, err,
				   "loading BPF programs is not permitted: run as root or with "
				   "CAP_BPF and CAP_PERFMON");
	}
	if (err)
		return loader_fail(l, err,
				   "loading the %sBPF programs failed: %s (rerun with -v for the "
				   "verifier log)",
				   l->what, strerror(-err));
	return 0;
}

static int add_link(struct loader *l, struct bpf_link *link)
{
	if (l->nlinks >= LOADER_MAX_LINKS) {
		bpf_link__destroy(link);
		return loader_fail(l, -E2BIG, "too many links");
	}
	l->links[l->nlinks++] = link;
	return 0;
}

int loader_attach(struct loader *l, struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach(prog);
	int err = -errno;

	if (!link)
		return loader_fail(l, err, "attaching %s failed: %s", bpf_program__name(prog),
				   strerror(-err));
	return add_link(l, link);
}

int loader_attach_syscall(struct loader *l, struct bpf_program *prog, const char *tp, bool hint)
{
	struct bpf_link *link = bpf_program__attach_tracepoint(prog, "syscalls", tp);
	int err = -errno;

	if (!link)
		return loader_fail(
		    l, err, "attaching to syscalls:%s failed: %s%s", tp, strerror(-err),
		    hint && err == -ENOENT ? " (is tracefs mounted at /sys/kernel/tracing?)" : "");
	return add_link(l, link);
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/* A syscall tracepoint link may fault, so the kernel waits out a grace
 * period as it goes (see docs/design.md for what that costs). */
void loader_detach(struct loader *l)
{
	pthread_t th[LOADER_MAX_LINKS];
	bool started[LOADER_MAX_LINKS];

	for (int i = 0; i < l->nlinks; i++)
		started[i] = !pthread_create(&th[i], NULL, destroy_link, l->links[i]);
	for (int i = 0; i < l->nlinks; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			bpf_link__destroy(l->links[i]);
	}
	l->nlinks = 0;
}

int loader_open_ring(struct loader *l, struct bpf_map *ring, loader_record_fn fn, void *ctx)
{
	int err;

	l->rb = ring_buffer__new(bpf_map__fd(ring), (ring_buffer_sample_fn)fn, ctx, NULL);
	if (!l->rb) {
		err = -errno;
		return loader_fail(l, err, "creating the ring buffer reader failed: %s",
				   strerror(-err));
	}
	return 0;
}

int loader_poll(struct loader *l, int timeout_ms)
{
	/* the kernel side wakes us only when the ring fills up: wait, then read
	 * whatever is there, woken or not (0: read only) */
	int n = timeout_ms ? ring_buffer__poll(l->rb, timeout_ms) : 0;

	if (n >= 0 || n == -EINTR)
		n = ring_buffer__consume(l->rb);
	/* the record callback stopped the read; the rest is read next time */
	if (n == -EAGAIN)
		return 0;
	if (n < 0 && n != -EINTR)
		return loader_fail(l, n, "reading the ring buffer failed: %s", strerror(-n));
	return n < 0 ? 0 : n;
}

int loader_epoll_fd(const struct loader *l)
{
	return ring_buffer__epoll_fd(l->rb);
}

int loader_sum_percpu(struct loader *l, struct bpf_map *map, void *sum, size_t size)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t n = size / sizeof(__u64);
	__u32 zero = 0;
	__u64 *per;
	int err;

	memset(sum, 0, size);
	if (ncpu <= 0)
		return loader_fail(l, ncpu, "cannot count CPUs");
	per = calloc((size_t)ncpu, size);
	if (!per)
		return -ENOMEM;
	err = bpf_map__lookup_elem(map, &zero, sizeof(zero), per, size * (size_t)ncpu, 0);
	for (int cpu = 1; !err && cpu < ncpu; cpu++)
		for (size_t i = 0; i < n; i++)
			per[i] += per[(size_t)cpu * n + i];
	if (!err)
		memcpy(sum, per, size);
	free(per);
	if (err)
		return loader_fail(l, err, "reading BPF counters failed: %s", strerror(-err));
	return 0;
}

static int prog_info(const struct bpf_program *prog, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	int fd = bpf_program__fd(prog);

	memset(info, 0, sizeof(*info));
	return fd < 0 || bpf_obj_get_info_by_fd(fd, info, &len) ? -1 : 0;
}

void loader_runs(const struct loader *l, struct probe_runs *out)
{
	struct bpf_program *prog;
	struct bpf_prog_info info;

	out->run_ns = out->runs = 0;
	if (!l || !l->obj)
		return;
	bpf_object__for_each_program(prog, l->obj)
	{
		if (prog_info(prog, &info))
			continue;
		out->run_ns += info.run_time_ns;
		out->runs += info.run_cnt;
	}
}

int loader_prog_stats(const struct loader *l, struct loader_prog_stats *out, int max)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, l->obj)
	{
		struct bpf_prog_info info;

		if (n >= max || prog_info(prog, &info))
			continue;
		snprintf(out[n].name, sizeof(out[n].name), "%s", bpf_program__name(prog));
		out[n].run_cnt = info.run_cnt;
		out[n].run_time_ns = info.run_time_ns;
		out[n].verified_insns = info.verified_insns;
		n++;
	}
	return n;
}

void loader_set_tgids(uint32_t *tgids, uint32_t *ntgids, const int *pids, int npids)
{
	__atomic_store_n(ntgids, 0, __ATOMIC_SEQ_CST);
	for (int i = 0; i < npids && i < KLT_MAX_BROKERS; i++)
		__atomic_store_n(&tgids[i], (uint32_t)pids[i], __ATOMIC_SEQ_CST);
	__atomic_store_n(ntgids, (uint32_t)(npids < KLT_MAX_BROKERS ? npids : KLT_MAX_BROKERS),
			 __ATOMIC_SEQ_CST);
}

void loader_set_tgid(uint32_t *tgids, int slot, int pid)
{
	if (slot >= 0 && slot < KLT_MAX_BROKERS)
		__atomic_store_n(&tgids[slot], (uint32_t)pid, __ATOMIC_SEQ_CST);
}

int loader_zero_range(struct bpf_map *map, uint32_t first, uint32_t n)
{
	unsigned char zero[64] = {0};
	int fd = bpf_map__fd(map);

	if (bpf_map__value_size(map) > sizeof(zero) || first > bpf_map__max_entries(map) ||
	    n > bpf_map__max_entries(map) - first)
		return -EINVAL;
	for (uint32_t k = first; k < first + n; k++)
		if (bpf_map_update_elem(fd, &k, zero, BPF_ANY))
			return -errno;
	return 0;
}

int loader_forget_tgid(struct bpf_map *map, uint32_t tgid)
{
	unsigned char key[64], next[64];
	size_t size = bpf_map__key_size(map);
	int fd = bpf_map__fd(map), n = 0;
	void *prev = NULL;
	uint32_t owner;

	if (size < sizeof(owner) || size > sizeof(key))
		return -EINVAL;
	/* a deleted key cannot lead to the next: walk from the last one kept */
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(&owner, next, sizeof(owner));
		if (owner == tgid && !bpf_map_delete_elem(fd, next)) {
			n++;
			continue;
		}
		memcpy(key, next, size);
		prev = key;
	}
	return errno == ENOENT ? n : -errno;
}

void loader_destroy(struct loader *l)
{
	ring_buffer__free(l->rb);
	l->rb = NULL;
	loader_detach(l);
}
