/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A BPF object's ring buffer to the reader and its per-CPU counters: the
 * maps "events" and "stats", the wakeup_bytes setting, and reserve/submit,
 * which count what the ring had no room for. The includer defines
 * RING_STATS, the type of its counters, a struct with a __u64
 * ringbuf_drops. The loader sizes the ring and sets wakeup_bytes.
 */
#ifndef KAFKALAT_RINGBUF_H
#define KAFKALAT_RINGBUF_H

#include <bpf/bpf_helpers.h>

#ifndef RING_STATS
#error "define RING_STATS, the object's counters, before including ringbuf.h"
#endif

const volatile __u64 wakeup_bytes = 1 << 20;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, RING_STATS);
} stats SEC(".maps");

/* resized by the loader before load */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

static __always_inline RING_STATS *stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

/* NULL, counted in ringbuf_drops, when the ring is full. */
static __always_inline void *ring_reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);
	RING_STATS *st;

	if (!rec && (st = stats_get()))
		__sync_fetch_and_add(&st->ringbuf_drops, 1);
	return rec;
}

/* Waking the reader for every record costs an interrupt per record: it
 * polls on its own timer and is woken only when the ring holds more than
 * wakeup_bytes, so that it keeps up (it then takes its priority back:
 * pace.h). */
static __always_inline void ring_submit(void *rec)
{
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes
			  ? BPF_RB_FORCE_WAKEUP
			  : BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(rec, flags);
}

#endif
