/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The loader of the socket object (bpf/kafkalat.bpf.c): opens, configures,
 * loads and attaches its BPF programs as separate steps, and hands ring
 * buffer records to a callback (the common part in loader.h).
 */
#ifndef KAFKALAT_PROBE_H
#define KAFKALAT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkalat/events.h"
#include "kafkalat/loader.h"

#define PROBE_DEFAULT_RINGBUF (8u << 20)

struct probe_opts {
	int pids[KLT_MAX_BROKERS]; /* the brokers' tgids */
	int npids;
	uint16_t ports[KLT_MAX_PORTS];
	int nports;
	size_t ringbuf_bytes; /* power of two >= page size; 0 = default */
	bool verbose;	      /* libbpf debug output on stderr */
	bool follow;	      /* pids can change after load: probe_follow */
};

struct probe;

/* Each step returns 0 or a negative errno; probe_error() says what failed. */
int probe_open(struct probe **out, const struct probe_opts *opts);
int probe_load(struct probe *p);
int probe_attach(struct probe *p, loader_record_fn fn, void *ctx);
/* Consume records for up to timeout_ms (0: what is there now, no wait);
 * returns records consumed or -errno. */
int probe_poll(struct probe *p, int timeout_ms);
/* After attach: an fd that polls readable when the kernel side wakes the
 * reader (its ring past a quarter full), for the caller's own epoll. */
int probe_epoll_fd(const struct probe *p);
/* The per-CPU counters summed. */
int probe_stats(struct probe *p, struct klt_stats *sum);
const char *probe_error(const struct probe *p);
/* The exit status its failure calls for (loader_exit()). */
int probe_exit(const struct probe *p);
/* After attach: NULL if the syscalls' own tracepoints are in use, else why
 * not (the raw sys_enter/sys_exit pair, costlier, was attached instead). */
const char *probe_syscall_fallback(const struct probe *p);
void probe_destroy(struct probe *p);

/* --follow (probe_opts.follow): broker slot (its index in pids) is
 * process pid from now on (-1: none); the other slots are untouched. */
void probe_follow(struct probe *p, int slot, int pid);
/* The connections the kernel side kept for a process that exited: deleted.
 * Returns how many entries went, or -errno. */
int probe_forget(struct probe *p, int tgid);

/* Its programs' kernel time and runs (zero before probe_load). */
void probe_runs(const struct probe *p, struct probe_runs *out);

#endif
