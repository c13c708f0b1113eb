/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared by the BPF objects: syscall numbers at the tracepoints. */
#ifndef KAFKALAT_SYSCALL_NR_H
#define KAFKALAT_SYSCALL_NR_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* The syscall number in a syscalls:sys_enter_* record: an int; the rest of
 * vmlinux.h's "long id" is padding. */
static __always_inline long tp_enter_syscall_nr(struct trace_event_raw_sys_enter *ctx)
{
	return (__s32)ctx->id;
}

/* The syscall number from a task's entry registers (a raw sys_exit's
 * argument, or a blocked task's, bpf_task_pt_regs): pointers the verifier
 * knows, so a direct load; the one architecture difference here; -1 if
 * unknown. */
static __always_inline long regs_syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	return regs->syscallno;
#else
	return -1;
#endif
}

#endif
