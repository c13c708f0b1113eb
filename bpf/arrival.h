/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * When the bytes of a TCP stream arrived: a small ring of (end of the
 * readable data, time) per watched socket, pushed at each sk_data_ready and
 * looked up when a read completes a frame. Shared by the BPF programs and the
 * unit tests (include after <linux/types.h> or vmlinux.h), like framer.h.
 *
 * Sequence numbers are the socket's 32-bit TCP sequence space: they wrap, so
 * every comparison is a signed difference (RFC 1982 serial arithmetic).
 */
#ifndef KAFKALAT_ARRIVAL_H
#define KAFKALAT_ARRIVAL_H

#ifndef ARR_INLINE
#define ARR_INLINE static __always_inline
#endif

/* Arrivals kept per socket: a read that completes a frame finds its first
 * byte's arrival if fewer than this many arrivals came after it. */
#define ARR_SLOTS 32

/* a - b in the wrapping sequence space: < 0 when a is before b. */
ARR_INLINE __s32 arr_seq_diff(__u32 a, __u32 b)
{
	return (__s32)(a - b);
}

/* The sequence number of the next byte a syscall's walk reaches. The syscall
 * moved ret bytes starting at seq_start; left of them are not yet in a
 * segment and avail remain in the current one. Derived at a frame's end
 * rather than advanced per framer step: a counter carried through every step
 * multiplies the states the verifier explores. */
ARR_INLINE __u32 arr_walk_seq(__u32 seq_start, __u64 ret, __u64 left, __u64 avail)
{
	return seq_start + (__u32)(ret - left - avail);
}

/* The first byte of a Kafka frame that ends before seq_end: its 4-byte size
 * and the size bytes it announced. */
ARR_INLINE __u32 arr_frame_first(__u32 seq_end, __u32 size)
{
	return seq_end - 4 - size;
}

/* arr_slot.flags: the arrival was processed from the socket backlog (a
 * reader held the socket lock when the segment came): late by that hold */
#define ARR_BACKLOG (1u << 0)
/* arr_find(): the byte's slot was reused before it was read (the reader
 * learns its arrival from the record emitted at the reuse, arr_evicting) */
#define ARR_EVICTED (1u << 1)
/* arr_find(): the byte arrived before the socket was watched */
#define ARR_UNWATCHED (1u << 2)

struct arr_slot {
	__u32 seq_end; /* rcv_nxt after the arrival: one past its last byte */
	__u32 flags;   /* ARR_* */
	__u64 t_ns;
};

struct arr_ring {
	__u64 pushes; /* arrivals ever pushed; slot pushes % ARR_SLOTS is next */
	/* bytes before floor have no arrival in the ring: they came before
	 * the socket was watched (before watched_from), or their slot was
	 * reused */
	__u32 floor;
	__u32 watched_from;
	struct arr_slot slot[ARR_SLOTS];
};

/* A fresh ring: bytes before rcv_nxt arrived unseen. */
ARR_INLINE void arr_init(struct arr_ring *r, __u32 rcv_nxt)
{
	r->pushes = 0;
	r->floor = rcv_nxt;
	r->watched_from = rcv_nxt;
}

/* The slot the next push reuses, if it holds bytes not yet read (before
 * copied_seq all are): its arrival must be handed on or be lost. NULL when
 * there is none. */
ARR_INLINE const struct arr_slot *arr_evicting(const struct arr_ring *r, __u32 copied_seq)
{
	const struct arr_slot *s;

	if (r->pushes < ARR_SLOTS)
		return 0;
	s = &r->slot[r->pushes % ARR_SLOTS];
	return arr_seq_diff(s->seq_end, copied_seq) > 0 ? s : 0;
}

/* How far watched_from may trail the floor. A byte looked up is being read,
 * so at most a receive buffer (MiBs) behind the newest arrival: never this
 * far. Further back, arr_seq_diff against watched_from would wrap once 2 GiB
 * had arrived since the watch began and call every byte unwatched. */
#define ARR_WATCHED_REACH (1u << 30)

/* Bytes up to seq_end became readable at t_ns. */
ARR_INLINE void arr_push(struct arr_ring *r, __u32 seq_end, __u64 t_ns, __u32 flags)
{
	struct arr_slot *s = &r->slot[r->pushes % ARR_SLOTS];

	if (r->pushes >= ARR_SLOTS)
		r->floor = s->seq_end;
	if (arr_seq_diff(r->floor, r->watched_from) > (__s32)ARR_WATCHED_REACH)
		r->watched_from = r->floor - ARR_WATCHED_REACH;
	s->seq_end = seq_end;
	s->flags = flags;
	s->t_ns = t_ns;
	r->pushes++;
}

/* When the stream byte at seq arrived, and the ARR_* flags of that arrival: the time of the oldest
 * arrival that ends after it; 0 when unknown (before floor, or not arrived yet). Newest first: a
 * frame is looked up when the broker reads it, so few arrivals follow it and the scan stops after
 * them. */
ARR_INLINE __u64 arr_find(const struct arr_ring *r, __u32 seq, __u32 *flags)
{
	__u64 n = r->pushes < ARR_SLOTS ? r->pushes : ARR_SLOTS;
	__u64 t = 0;

	*flags = 0;
	if (arr_seq_diff(seq, r->watched_from) < 0) {
		*flags = ARR_UNWATCHED;
		return 0;
	}
	if (arr_seq_diff(seq, r->floor) < 0) {
		*flags = ARR_EVICTED;
		return 0;
	}
	for (__u32 i = 0; i < ARR_SLOTS; i++) {
		const struct arr_slot *s;

		if (i >= n)
			break;
		s = &r->slot[(r->pushes - 1 - i) % ARR_SLOTS];
		if (arr_seq_diff(s->seq_end, seq) <= 0)
			break; /* this one and older ones ended before seq */
		t = s->t_ns;
		*flags = s->flags;
	}
	return t;
}

/* arr_find() without the flags. */
ARR_INLINE __u64 arr_lookup(const struct arr_ring *r, __u32 seq)
{
	__u32 flags;

	return arr_find(r, seq, &flags);
}

/*
 * Whether a receive window is full: the window the socket would advertise
 * now is below one segment, so the kernel advertises zero (its
 * __tcp_select_window) and the peer cannot send. free is the receive buffer
 * not yet used (sk_rcvbuf - backlog - rmem_alloc); scaling_ratio is the
 * kernel's estimate of payload per buffer byte, in 1/256.
 */
ARR_INLINE int arr_window_full(__s64 free, __u32 scaling_ratio, __u32 rcv_mss)
{
	if (free <= 0)
		return 1;
	return ((__u64)free * scaling_ratio >> 8) < rcv_mss;
}

/* Whether an advertised window lets the peer send a segment: rcv_wup +
 * rcv_wnd is its right edge, rcv_nxt the next byte expected. */
ARR_INLINE int arr_window_open(__u32 rcv_wup, __u32 rcv_wnd, __u32 rcv_nxt, __u32 rcv_mss)
{
	return arr_seq_diff(rcv_wup + rcv_wnd, rcv_nxt) >= (__s32)rcv_mss;
}

#endif /* KAFKALAT_ARRIVAL_H */
