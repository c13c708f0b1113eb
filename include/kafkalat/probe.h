/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The loader: opens, configures, loads and attaches the BPF programs as
 * separate steps, and hands ring buffer records to a callback. The only
 * module that talks to libbpf.
 */
#ifndef KAFKALAT_PROBE_H
#define KAFKALAT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkalat/events.h"

#define PROBE_DEFAULT_RINGBUF (8u << 20)

struct probe_opts {
	int pid;
	uint16_t ports[KLT_MAX_PORTS];
	int nports;
	size_t ringbuf_bytes; /* power of two >= page size; 0 = default */
	bool verbose;	      /* libbpf debug output on stderr */
};

/* Called for each ring buffer record; a non-zero return stops the poll. */
typedef int (*probe_record_fn)(void *ctx, void *data, size_t len);

struct probe;

/* Each step returns 0 or a negative errno; probe_error() says what failed. */
int probe_open(struct probe **out, const struct probe_opts *opts);
int probe_load(struct probe *p);
int probe_attach(struct probe *p, probe_record_fn fn, void *ctx);
/* Consume records for up to timeout_ms (0: what is there now, no wait);
 * returns records consumed or -errno. */
int probe_poll(struct probe *p, int timeout_ms);
/* After attach: an fd that polls readable when the kernel side wakes the
 * reader (its ring past a quarter full), for the caller's own epoll. */
int probe_epoll_fd(const struct probe *p);
/* The per-CPU counters summed. */
int probe_stats(struct probe *p, struct klt_stats *sum);
const char *probe_error(const struct probe *p);
/* After attach: NULL if the syscalls' own tracepoints are in use, else why
 * not (the raw sys_enter/sys_exit pair, costlier, was attached instead). */
const char *probe_syscall_fallback(const struct probe *p);
void probe_destroy(struct probe *p);

/* Destroys links side by side: a syscall tracepoint link waits for a grace
 * period when it goes (~45 ms here), and their waits then overlap. */
#define PROBE_MAX_PARALLEL_DETACH 64
struct bpf_link;
void probe_destroy_links(struct bpf_link **links, int n);

/* Kernel time and runs of a BPF object's loaded programs, summed (the
 * kernel counts the time only while its BPF statistics are on). */
struct bpf_object;
struct bpf_program;
struct bpf_prog_info;
/* A loaded program's info (run counts, times, instructions); -1 if not loaded. */
int probe_prog_info(const struct bpf_program *prog, struct bpf_prog_info *info);
struct probe_runs {
	uint64_t run_ns;
	uint64_t runs;
};
void probe_object_runs(struct bpf_object *obj, struct probe_runs *out);
/* The same for this probe's programs (zero before probe_load). */
void probe_runs(const struct probe *p, struct probe_runs *out);

#endif
