/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The broker processes a BPF object traces: up to KLT_MAX_BROKERS tgids,
 * set by the loader. The set is read-only data: the verifier knows
 * targ_ntgids, so the comparisons past it are dead code the JIT drops, and
 * one broker costs one comparison (docs/design.md, "Several brokers").
 *
 * --follow (targ_follow) re-attaches to each broker's next process without
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

/* --follow's set: written whole before the programs run; then each
 * broker's slot changes alone, in one store (its next process, or
 * (__u32)-1, no process's tgid, while it has none), so the other brokers
 * stay traced throughout. */
__u32 follow_tgids[KLT_MAX_BROKERS] = {};
__u32 follow_ntgids = 0;

/* tgid's index in tgids[0..n), -1 if not there. */
static __always_inline int slot_in(const volatile __u32 *tgids, __u32 n, __u32 tgid)
{
#pragma unroll
	for (__u32 i = 0; i < KLT_MAX_BROKERS; i++)
		if (i < n && tgids[i] == tgid)
			return i;
	return -1;
}

/* tgid's index in the set of traced brokers, -1 if not traced. The
 * read-only count is a known constant to the verifier, which drops the
 * comparisons past it; --follow's is read once, as the loader may be
 * changing it. */
static __always_inline int broker_slot(__u32 tgid)
{
	if (targ_follow)
		return slot_in(follow_tgids, *(volatile __u32 *)&follow_ntgids, tgid);
	return slot_in(targ_tgids, targ_ntgids, tgid);
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
