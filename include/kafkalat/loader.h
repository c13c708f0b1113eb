/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the loaders of the BPF objects (probe.h, probe_causes.h) have in
 * common: the error of the step that failed, libbpf's log, the links and
 * their detach, the ring buffer reader, the per-CPU counters and the
 * programs' run statistics. A loader embeds a struct loader and keeps only
 * its object's own: its skeleton, its configuration and what it attaches.
 */
#ifndef KAFKALAT_LOADER_H
#define KAFKALAT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called for each ring buffer record; a non-zero return stops the poll. */
typedef int (*loader_record_fn)(void *ctx, void *data, size_t len);

/* Kernel time and runs of an object's loaded programs, summed (the kernel
 * counts the time only while its BPF statistics are on). */
struct probe_runs {
	uint64_t run_ns;
	uint64_t runs;
};

/* One loaded program's runs, run time and verified size. */
struct loader_prog_stats {
	char name[32];
	uint64_t run_cnt;
	uint64_t run_time_ns;
	uint32_t verified_insns;
};

/* two per watched syscall, each on its own tracepoint, and the rest */
#define LOADER_MAX_LINKS 40

struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;
struct ring_buffer;

struct loader {
	const char *what; /* the object's name in messages: "" or "causes " */
	struct bpf_object *obj;
	struct ring_buffer *rb;
	struct bpf_link *links[LOADER_MAX_LINKS];
	int nlinks;
	char err[256];
	int exit; /* the exit status the failure calls for (exitcode.h); 0: 1 */
};

/* Every step returns 0 or a negative errno, and on failure leaves in
 * loader_error() what failed, to be printed once by the caller. */
int loader_fail(struct loader *l, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* NULL (the loader could not be allocated) reads "out of memory". */
const char *loader_error(const struct loader *l);
/* What the failure calls for: KLT_EXIT_KERNEL without BTF,
 * KLT_EXIT_PRIVILEGE when bpf(2) refused, else KLT_EXIT_FAILURE. */
int loader_exit(const struct loader *l);

/* Before the skeleton's open: libbpf's log (all of it with verbose, else
 * none) and the kernel BTF that CO-RE needs. */
int loader_begin(struct loader *l, const char *what, bool verbose);
/* After the skeleton's open: obj is NULL when it failed (errno says why). */
int loader_opened(struct loader *l, struct bpf_object *obj);
/* Before load: the ring buffer map's size (a power of two of pages). */
int loader_size_ring(struct loader *l, struct bpf_map *ring, size_t bytes);
/* After the skeleton's load, with what it returned. */
int loader_loaded(struct loader *l, int err);

/* A program at the hook its section names. */
int loader_attach(struct loader *l, struct bpf_program *prog);
/* A program on syscalls:<tp>; with hint, a missing tracepoint's message
 * asks whether tracefs is mounted. */
int loader_attach_syscall(struct loader *l, struct bpf_program *prog, const char *tp, bool hint);
/* Destroys the links side by side: each syscall tracepoint link waits for
 * a grace period when it goes, and their waits then overlap. */
void loader_detach(struct loader *l);

/* After attach: the reader of the ring buffer map. */
int loader_open_ring(struct loader *l, struct bpf_map *ring, loader_record_fn fn, void *ctx);
/* Consume records for up to timeout_ms (0: what is there now, no wait);
 * returns records consumed or -errno. */
int loader_poll(struct loader *l, int timeout_ms);
/* Polls readable when the kernel side wakes the reader. */
int loader_epoll_fd(const struct loader *l);

/* The one entry of a per-CPU array of __u64 counters (size bytes), summed
 * over the CPUs into sum. */
int loader_sum_percpu(struct loader *l, struct bpf_map *map, void *sum, size_t size);
/* Zero before the object is opened, and for a NULL loader. */
void loader_runs(const struct loader *l, struct probe_runs *out);
/* Of every loaded program (the times need kernel.bpf_stats_enabled=1);
 * returns how many, <= max. */
int loader_prog_stats(const struct loader *l, struct loader_prog_stats *out, int max);

/* --follow: the traced set in an object's writable data (bpf/broker.h),
 * changed while its programs run: the count goes to 0 first and to npids
 * last, so a program reading it halfway matches nothing. */
void loader_set_tgids(uint32_t *tgids, uint32_t *ntgids, const int *pids, int npids);
/* Deletes every entry of a hash map whose key begins with the u32 tgid
 * (a dead process's state); returns how many went, or -errno. */
int loader_forget_tgid(struct bpf_map *map, uint32_t tgid);
/* --follow: one slot of that set changed in place, the count unchanged:
 * a program reads the old process or the new, and the other brokers stay
 * traced throughout. pid -1 (no process's tgid) empties the slot. */
void loader_set_tgid(uint32_t *tgids, int slot, int pid);
/* Values [first, first + n) of an array map zeroed (a broker's per-slot
 * state, when --follow gives its slot to its next process): 0, or -errno. */
int loader_zero_range(struct bpf_map *map, uint32_t first, uint32_t n);

/* The reader and the links; the caller then destroys its skeleton. */
void loader_destroy(struct loader *l);

#endif
