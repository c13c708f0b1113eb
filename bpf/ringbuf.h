/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A BPF object's ring buffer to the reader and its per-CPU counters: the
 * maps "events" and "stats", the wakeup_bytes setting, and reserve/submit,
 * which count what the ring had no room for, in total and by kind. The
 * includer defines RING_STATS, the type of its counters, a struct with a
 * __u64 ringbuf_drops and a __u64 drops[RING_KINDS], and RING_LOST_TYPE,
 * the type tag of its loss records (RING_LOST_REC's layout). The loader
 * sizes the ring and sets wakeup_bytes.
 *
 * Where a loss falls in the stream matters to the reader (which requests
 * it may have cut short), so records that did not fit are also counted in
 * lost_pending, and the next reservation that fits first reserves a loss
 * record (RING_LOST_TYPE) carrying those counts: every record the kernel
 * lost comes before it in the stream, and the records of any one thread
 * after a loss of its own come after it. The success path pays one load of
 * lost_any (docs/design.md, "Overload").
 */
#ifndef KAFKALAT_RINGBUF_H
#define KAFKALAT_RINGBUF_H

#include <bpf/bpf_helpers.h>

#ifndef RING_STATS
#error "define RING_STATS, the object's counters, before including ringbuf.h"
#endif
#ifndef RING_LOST_TYPE
#error "define RING_LOST_TYPE, the type tag of a loss record, before including ringbuf.h"
#endif

#define RING_KINDS 16

/* The layout of klt_lost_event and klc_lost_event. */
struct ring_lost_rec {
	__u32 type;
	__u32 flags;
	__u64 t_first_ns; /* the first reservation that failed */
	__u64 t_ns;	  /* this record's: after the last one */
	__u32 counts[RING_KINDS];
};

/* failed reservations not yet in a loss record, by kind; lost_any says
 * whether any is, lost_since when the first failed */
__u64 lost_pending[RING_KINDS] = {};
__u32 lost_any = 0;
__u64 lost_since = 0;

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

/* The counts of the failed reservations go out in a loss record, when
 * one fits. A failure on another CPU meanwhile sets lost_any again: the
 * next reservation sends it. */
static __noinline void ring_send_lost(void)
{
	struct ring_lost_rec *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u32 any = 0;

	if (!e)
		return;
	lost_any = 0;
	e->type = RING_LOST_TYPE;
	e->flags = 0;
	e->t_first_ns = __sync_lock_test_and_set(&lost_since, 0);
	e->t_ns = bpf_ktime_get_ns();
	for (int i = 0; i < RING_KINDS; i++) {
		e->counts[i] = (__u32)__sync_lock_test_and_set(&lost_pending[i], 0);
		any |= e->counts[i];
	}
	if (any)
		bpf_ringbuf_submit(e, 0);
	else
		bpf_ringbuf_discard(e, 0);
}

/* NULL, counted in ringbuf_drops and by kind (< RING_KINDS), when the ring
 * is full. */
static __always_inline void *ring_reserve(__u64 size, __u32 kind)
{
	void *rec;
	RING_STATS *st;

	if (lost_any)
		ring_send_lost();
	rec = bpf_ringbuf_reserve(&events, size, 0);
	if (rec)
		return rec;
	kind &= RING_KINDS - 1;
	if ((st = stats_get())) {
		__sync_fetch_and_add(&st->ringbuf_drops, 1);
		__sync_fetch_and_add(&st->drops[kind], 1);
	}
	if (!lost_since)
		__sync_val_compare_and_swap(&lost_since, 0, bpf_ktime_get_ns());
	__sync_fetch_and_add(&lost_pending[kind], 1);
	lost_any = 1;
	return NULL;
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
