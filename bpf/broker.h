/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The broker process a BPF object traces: its tgid, set by the loader. */
#ifndef KAFKALAT_BROKER_H
#define KAFKALAT_BROKER_H

#include <bpf/bpf_helpers.h>

const volatile __u32 targ_tgid = 0;

/* The current task is one of the broker's threads. */
static __always_inline int is_broker(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == targ_tgid;
}

#endif
