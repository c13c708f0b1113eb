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

struct arr_slot {
	__u32 seq_end; /* rcv_nxt after the arrival: one past its last byte */
	__u32 pad;
	__u64 t_ns;
};

struct arr_ring {
	__u64 pushes; /* arrivals ever pushed; slot pushes % ARR_SLOTS is next */
	/* bytes before floor have no known arrival: they came before the
	 * socket was watched, or their slot was reused */
	__u32 floor;
	__u32 pad;
	struct arr_slot slot[ARR_SLOTS];
};

/* A fresh ring: bytes before rcv_nxt arrived unseen. */
ARR_INLINE void arr_init(struct arr_ring *r, __u32 rcv_nxt)
{
	r->pushes = 0;
	r->floor = rcv_nxt;
	r->pad = 0;
}

/* Bytes up to seq_end became readable at t_ns. */
ARR_INLINE void arr_push(struct arr_ring *r, __u32 seq_end, __u64 t_ns)
{
	struct arr_slot *s = &r->slot[r->pushes % ARR_SLOTS];

	if (r->pushes >= ARR_SLOTS)
		r->floor = s->seq_end;
	s->seq_end = seq_end;
	s->t_ns = t_ns;
	r->pushes++;
}

/* When the stream byte at seq arrived: the time of the oldest arrival that
 * ends after it; 0 when unknown (before floor, or not arrived yet). Newest
 * first: a frame is looked up when the broker reads it, so few arrivals
 * follow it and the scan stops after them. */
ARR_INLINE __u64 arr_lookup(const struct arr_ring *r, __u32 seq)
{
	__u64 n = r->pushes < ARR_SLOTS ? r->pushes : ARR_SLOTS;
	__u64 t = 0;

	if (arr_seq_diff(seq, r->floor) < 0)
		return 0;
	for (__u32 i = 0; i < ARR_SLOTS; i++) {
		const struct arr_slot *s;

		if (i >= n)
			break;
		s = &r->slot[(r->pushes - 1 - i) % ARR_SLOTS];
		if (arr_seq_diff(s->seq_end, seq) <= 0)
			break; /* this one and older ones ended before seq */
		t = s->t_ns;
	}
	return t;
}

#endif /* KAFKALAT_ARRIVAL_H */
