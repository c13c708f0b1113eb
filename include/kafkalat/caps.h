/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The capabilities kafkalat needs, checked before it attaches so that a
 * missing one is named instead of surfacing as a bare EPERM from bpf(2).
 * A set is a 64-bit mask, bit n for capability n (as CapEff in
 * /proc/PID/status).
 */
#ifndef KAFKALAT_CAPS_H
#define KAFKALAT_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Loading and attaching the tracing programs: CAP_BPF and CAP_PERFMON, each
 * of which CAP_SYS_ADMIN also grants (kernel/bpf/syscall.c bpf_capable(),
 * include/linux/capability.h perfmon_capable()). */
#define CAPS_FOR_BPF (UINT64_C(1) << 39 | UINT64_C(1) << 38)

/* The calling thread's effective set: 0, or a negative errno. */
int caps_effective(uint64_t *eff);

/* Whether eff holds capability cap (0..63). */
bool caps_has(uint64_t eff, int cap);

/* The capabilities of need missing from eff (CAP_SYS_ADMIN standing in for
 * CAP_BPF and CAP_PERFMON), as "CAP_BPF, CAP_PERFMON" in buf; returns how
 * many are missing. */
int caps_missing(uint64_t eff, uint64_t need, char *buf, size_t len);

/* "CAP_BPF" for 39; NULL for a capability this table does not name. */
const char *caps_name(int cap);

#endif
