/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The broker processes a BPF object traces: up to KLT_MAX_BROKERS tgids,
 * set by the loader. The set is read-only data: the verifier knows
 * targ_ntgids, so the comparisons past it are dead code the JIT drops, and
 * one broker costs one comparison (docs/design.md, "Several brokers").
 *
 * --follow (targ_follow) re-attaches to the broker's next process without
 * reloading: the set is then writable data the loader changes while the
 * programs run (docs/design.md, "Following a restarted broker"). The flag
 * is read-only too, so without --follow that branch is dead code.
 */
#ifndef KAFKALAT_BROKER_H
#define KAFKALAT_BROKER_H

#include <bpf/bpf_helpers.h>

#include "kafkalat/events.h"

const volatile __u32 targ_tgids[KLT_MAX_BROKERS] = {};
const volatile __u32 targ_ntgids = 0;
const volatile __u32 targ_follow = 0;

/* --follow's set: the count goes to 0 first and back last as the loader
 * changes it, so a half-written set matches nothing. */
__u32 follow_tgids[KLT_MAX_BROKERS] = {};
__u32 follow_ntgids = 0;

/* tgid's index in --follow's set, -1 if not in it. */
static __always_inline int follow_slot(__u32 tgid)
{
	__u32 n = *(volatile __u32 *)&follow_ntgids;

#pragma unroll
	for (__u32 i = 0; i < KLT_MAX_BROKERS; i++)
		if (i < n && follow_tgids[i] == tgid)
			return i;
	return -1;
}

/* tgid's index in the set of traced brokers, -1 if not traced. The count
 * is read once: a known constant to the verifier, which drops the
 * comparisons past it. */
static __always_inline int broker_slot(__u32 tgid)
{
	__u32 n = targ_ntgids;

	if (targ_follow)
		return follow_slot(tgid);
#pragma unroll
	for (__u32 i = 0; i < KLT_MAX_BROKERS; i++)
		if (i < n && targ_tgids[i] == tgid)
			return i;
	return -1;
}

/* tgid is one of the traced brokers. */
static __always_inline int tgid_traced(__u32 tgid)
{
	return broker_slot(tgid) >= 0;
}

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/* The current task is one of the brokers' threads. */
static __always_inline int is_broker(void)
{
	return tgid_traced(current_tgid());
}

#endif
