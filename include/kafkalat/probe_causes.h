/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The loader of the causes object (bpf/causes.bpf.c): why broker threads
 * wait. Separate from the socket probe (probe.h) and loaded only when asked
 * for: open, configure + load, attach are separate steps; its own ring
 * buffer and per-CPU counters. Only the chosen groups of programs are
 * loaded and attached (KLC_G_* in cause_events.h).
 */
#ifndef KAFKALAT_PROBE_CAUSES_H
#define KAFKALAT_PROBE_CAUSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkalat/cause_events.h"
#include "kafkalat/events.h"
#include "kafkalat/loader.h"

#define CAUSES_DEFAULT_RINGBUF (4u << 20)

struct causes_opts {
	int pids[KLT_MAX_BROKERS]; /* the brokers' tgids */
	int npids;
	unsigned int groups;	/* KLC_G_*; 0 = KLC_G_ALL */
	size_t ringbuf_bytes;	/* power of two >= page size; 0 = default */
	uint64_t min_offcpu_ns; /* shorter off-CPU intervals are not emitted */
	uint64_t min_futex_ns;	/* shorter futex waits are not emitted */
	bool verbose;		/* libbpf debug output (the verifier log) on stderr */
	bool follow;		/* pids can change after load: causes_follow */
};

struct causes;

/* Each step returns 0 or a negative errno; causes_error() says what failed. */
int causes_open(struct causes **out, const struct causes_opts *opts);
int causes_load(struct causes *c);
int causes_attach(struct causes *c, loader_record_fn fn, void *ctx);
/* Consume records for up to timeout_ms (0: what is there now, no wait);
 * returns records consumed or -errno. */
int causes_poll(struct causes *c, int timeout_ms);
/* After attach: polls readable when the kernel side wakes the reader. */
int causes_epoll_fd(const struct causes *c);
/* The per-CPU counters summed. */
int causes_stats(struct causes *c, struct klc_stats *sum);
/* The kernel stack of a KLC_EV_OFFCPU stack_id: up to max addresses into
 * ips, innermost first; returns how many, or -errno (-ENOENT: gone). */
int causes_stack(struct causes *c, int stack_id, uint64_t *ips, int max);
/* Runs, run time and verified size of every loaded program (the times
 * need kernel.bpf_stats_enabled=1); returns how many, <= max. */
int causes_prog_stats(struct causes *c, struct loader_prog_stats *out, int max);
/* Kernel time and runs of all its programs, summed. */
void causes_runs(const struct causes *c, struct probe_runs *out);
const char *causes_error(const struct causes *c);
void causes_destroy(struct causes *c);
/* --follow (causes_opts.follow): broker slot (its index in pids) is
 * process pid from now on (-1: none), with none of the fd bits of the
 * slot's last process; the other slots are untouched. */
void causes_follow(struct causes *c, int slot, int pid);
/* The files the kernel side kept for a process that exited: forgotten.
 * Returns how many entries went, or -errno. */
int causes_forget(struct causes *c, int tgid);

#endif
