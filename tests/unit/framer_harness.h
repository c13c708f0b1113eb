/* SPDX-License-Identifier: MIT */
/*
 * framer_harness: drives bpf/framer.h in userspace exactly as
 * walk_syscall()/walk_step() in bpf/kafkalat.bpf.c do, and collects what the
 * BPF side would emit (frame, topic, part, fetch part, bad and desync events,
 * filled by framer.h's kw_fill_* as the BPF side fills them), and plays
 * sendfile() as skip_sendfile() does.
 *
 * A "syscall" is a list of iovec segments; the harness plays bpf_loop() with
 * its MAX_STEPS bound and MAX_IOV segment limit, so a test that passes here
 * passes the same bytes through the same state machine the kernel runs.
 *
 * KW_READ refuses reads outside the current segment: the kernel would read
 * user memory that is not part of the syscall's data (or fault), so such a
 * read is a framer bug, counted in kh->oob_reads.
 *
 * Header-only, static functions; allocation failure aborts (test code).
 */
#ifndef KAFKALAT_TESTS_FRAMER_HARNESS_H
#define KAFKALAT_TESTS_FRAMER_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Bounds of the segment being walked: KW_READ checks every copy against it. */
struct kh_seg_bounds {
	uintptr_t lo, hi;
	unsigned long oob;	   /* reads outside [lo, hi), or a token longer than 64 bytes */
	unsigned long user_copies; /* copies of user memory, as bpf_probe_read_user */
};

static struct kh_seg_bounds kh_bounds;

/* bpf_probe_read_user of the segment's bytes: max is what the caller may
 * ask for at most (a token's 64, the window's KW_WIN_BYTES). */
static inline int kh_read(void *dst, __u64 n, __u64 src, __u64 max)
{
	uintptr_t p = (uintptr_t)src;

	if (n == 0)
		return 0;
	kh_bounds.user_copies++;
	if (n > max || p < kh_bounds.lo || p > kh_bounds.hi || n > kh_bounds.hi - p) {
		kh_bounds.oob++;
		return -1;
	}
	memcpy(dst, (const void *)p, (size_t)n);
	return 0;
}

#define KW_WIN_USER(dst, n, src) kh_read((dst), (n), (src), KW_WIN_BYTES)
#define KW_WIN_KERN(dst, n, src) (memcpy((dst), (src), (size_t)(n)), 0)
#include "readwin.h"

/* the window the BPF side keeps per CPU: one walk at a time here */
static struct kw_win kh_win;

#define KW_READ(dst, n, in) kw_win_read(&kh_win, (dst), (n), (in)->addr, (in)->avail)
#include "arrival.h"
#include "framer.h"
#include "arrival.h"

#define KH_MAX_IOV   64	       /* MAX_IOV in kafkalat.bpf.c */
#define KH_MAX_STEPS (1 << 16) /* MAX_STEPS: the bpf_loop bound */

/* One frame as the ring buffer would carry it, with the events before it. */
struct kh_frame {
	struct klt_frame_event ev;
	struct klt_topic_event *topics;
	struct klt_part_event *parts;
	struct klt_fetch_part_event *fparts;
	size_t ntopics, nparts, nfparts;
	__u64 end;		  /* stream offset just past the frame's last byte */
	__u32 seq_first, seq_end; /* its sequence numbers as the BPF side has them */
	int voided;		  /* a later KLT_EV_DESYNC voided it */
};

struct kh {
	struct kw_flow f;
	struct kw_names nm;
	__u64 conn_id;
	struct kh_frame *frames; /* every KW_FRAME, in order, voided ones marked */
	size_t nframes, cap;
	struct klt_topic_event *ptopics; /* topics/parts of the frame being walked */
	struct klt_part_event *pparts;
	struct klt_fetch_part_event *pfparts;
	size_t nptopics, npparts, npfparts;
	struct klt_bad_event bad; /* the last KW_BADCONN */
	unsigned long nbad, ndesync, nstop, nvoided;
	unsigned long steps;	 /* kw_step calls of the last syscall */
	unsigned long iters;	 /* bpf_loop iterations of the last syscall */
	unsigned long max_steps; /* over all syscalls */
	unsigned long nsyscalls;
	__u64 pos;     /* stream offset of the next byte handed to the framer */
	__u64 seg_pos; /* stream offset of the current segment's first byte */
	__u32 isn;     /* sequence number of stream offset 0 (wraps like TCP's) */
	uintptr_t seg_base;
};

static inline void *kh_grow(void *p, size_t n, size_t size)
{
	void *q = realloc(p, (n ? n : 1) * size);

	if (!q) {
		fprintf(stderr, "framer_harness: out of memory\n");
		abort();
	}
	return q;
}

/* Room for element n of an array grown by doubling (capacity is the power
 * of two >= n), so appending one by one stays linear. */
static inline void *kh_push(void *p, size_t n, size_t size)
{
	if (n & (n - 1))
		return p;
	return kh_grow(p, n ? 2 * n : 1, size);
}

/* dir: KLT_DIR_RX/TX; sync: KW_SYNCED for accepted sockets, KW_RESYNC for
 * ones open before attach (conn_get() in the BPF side). */
static inline void kh_init(struct kh *h, __u8 dir, __u8 sync)
{
	memset(h, 0, sizeof(*h));
	h->conn_id = 1;
	h->f.dir = dir;
	h->f.sync = sync;
}

static inline void kh_drop_pending(struct kh *h)
{
	free(h->ptopics);
	free(h->pparts);
	free(h->pfparts);
	h->ptopics = NULL;
	h->pparts = NULL;
	h->pfparts = NULL;
	h->nptopics = h->npparts = h->npfparts = 0;
}

static inline void kh_free(struct kh *h)
{
	for (size_t i = 0; i < h->nframes; i++) {
		free(h->frames[i].topics);
		free(h->frames[i].parts);
		free(h->frames[i].fparts);
	}
	free(h->frames);
	kh_drop_pending(h);
	memset(h, 0, sizeof(*h));
}

static inline void kh_emit_frame(struct kh *h, __u64 t_last, __u32 tid)
{
	struct kh_frame *fr;

	if (h->nframes == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->frames = kh_grow(h->frames, h->cap, sizeof(*h->frames));
	}
	fr = &h->frames[h->nframes++];
	memset(fr, 0, sizeof(*fr));
	kw_fill_frame(&fr->ev, &h->f, &h->nm, h->conn_id, t_last, tid);
	fr->end = h->pos;
	/* the topics and parts seen since the last frame belong to this one */
	fr->topics = h->ptopics;
	fr->ntopics = h->nptopics;
	fr->parts = h->pparts;
	fr->nparts = h->npparts;
	fr->fparts = h->pfparts;
	fr->nfparts = h->npfparts;
	h->ptopics = NULL;
	h->pparts = NULL;
	h->pfparts = NULL;
	h->nptopics = h->npparts = h->npfparts = 0;
}

/* emit_topic() */
static inline void kh_emit_topic(struct kh *h)
{
	h->ptopics = kh_push(h->ptopics, h->nptopics, sizeof(*h->ptopics));
	kw_fill_topic(&h->ptopics[h->nptopics++], &h->f, &h->nm, h->conn_id);
}

/* emit_part() */
static inline void kh_emit_part(struct kh *h)
{
	h->pparts = kh_push(h->pparts, h->npparts, sizeof(*h->pparts));
	kw_fill_part(&h->pparts[h->npparts++], &h->f, h->conn_id);
}

/* emit_fetch_part() */
static inline void kh_emit_fetch_part(struct kh *h)
{
	h->pfparts = kh_push(h->pfparts, h->npfparts, sizeof(*h->pfparts));
	kw_fill_fetch_part(&h->pfparts[h->npfparts++], &h->f, h->conn_id);
}

/* emit_bad(), at time 0 */
static inline void kh_emit_bad(struct kh *h)
{
	kw_fill_bad(&h->bad, &h->f, h->conn_id, 0);
	h->nbad++;
}

/* KLT_EV_DESYNC: the reader (src/correlate.c) voids the tentative frames
 * at the tail of what it has seen; mark them so tests can tell. */
static inline void kh_emit_desync(struct kh *h)
{
	for (size_t i = h->nframes; i-- > 0;) {
		struct kh_frame *fr = &h->frames[i];

		if (fr->voided || !(fr->ev.flags & KLT_FRAME_TENTATIVE))
			break;
		fr->voided = 1;
		h->nvoided++;
	}
	h->ndesync++;
}

/* The walk state of one syscall (struct walk in kafkalat.bpf.c). */
struct kh_walk {
	struct kw_in in;
	const struct iovec *iov;
	__u64 left;
	__u64 ret;
	__u64 t_exit;
	__u32 seq_start; /* wire_read(): the syscall's first byte in sequence space */
	__u32 iov_next, iov_cnt;
	int done;
};

/* walk_next_segment(): move to the next iovec; 0 when there is none. */
static inline int kh_next_segment(struct kh *h, struct kh_walk *w)
{
	const struct iovec *iv;

	if (w->left == 0 || w->iov_next >= w->iov_cnt || w->iov_next >= KH_MAX_IOV)
		return 0;
	iv = &w->iov[w->iov_next++];
	h->seg_pos = h->pos;
	h->seg_base = (uintptr_t)iv->iov_base;
	w->in.addr = (__u64)(uintptr_t)iv->iov_base;
	w->in.avail = iv->iov_len < w->left ? iv->iov_len : w->left;
	w->left -= w->in.avail;
	kh_bounds.lo = h->seg_base;
	kh_bounds.hi = h->seg_base + (uintptr_t)w->in.avail;
	return 1;
}

/* walk_step(): one bpf_loop iteration; returns 1 to end the loop. */
static inline int kh_walk_step(struct kh *h, struct kh_walk *w, __u32 tid)
{
	int r;

	if (w->in.avail == 0 && !kw_pending(&h->f)) {
		if (!kh_next_segment(h, w))
			goto out_done;
		return 0;
	}
	r = kw_step(&h->f, &h->nm, &w->in);
	h->steps++;
	h->pos = h->seg_pos + (w->in.addr - h->seg_base);
	switch (r) {
	case KW_FRAME:
		kh_emit_frame(h, w->t_exit, tid);
		h->frames[h->nframes - 1].seq_end =
		    arr_walk_seq(w->seq_start, w->ret, w->left, w->in.avail);
		h->frames[h->nframes - 1].seq_first =
		    arr_frame_first(h->frames[h->nframes - 1].seq_end, h->f.size);
		return 0;
	case KW_TOPIC:
		kh_emit_topic(h);
		return 0;
	case KW_PART:
		kh_emit_part(h);
		return 0;
	case KW_FETCH_PART:
		kh_emit_fetch_part(h);
		return 0;
	case KW_BADCONN:
		kh_emit_bad(h);
		goto out_drop;
	case KW_DESYNC:
		kh_emit_desync(h);
		goto out_drop;
	case KW_STOP:
		h->nstop++;
		goto out_drop;
	default:
		return 0;
	}
out_drop:
	/* a frame cut off here never completes: its topics/parts are orphans */
	kh_drop_pending(h);
out_done:
	w->done = 1;
	return 1;
}

/*
 * walk_syscall() for a vectored syscall that returned ret bytes (KLT_IO_IOV;
 * a plain read is one segment: the BPF side differs only in not reading an
 * iovec array, which saves it one bpf_loop iteration). The syscall's bytes
 * continue the stream at h->pos.
 */
static inline void kh_syscall_ret(struct kh *h, const struct iovec *iov, size_t niov, __u64 ret,
				  __u64 t_enter, __u32 tid)
{
	__u64 start = h->pos;
	struct kh_walk w;
	unsigned long n;

	memset(&w, 0, sizeof(w));
	w.iov = iov;
	w.iov_cnt = (__u32)niov;
	w.left = ret;
	w.ret = ret;
	w.t_exit = t_enter + 1;
	w.in.t_enter = t_enter;
	w.in.tid = tid;
	w.in.at_syscall_start = 1;
	w.in.windowed = 1;
	w.seq_start = h->isn + (__u32)start;
	h->steps = 0;
	kw_win_reset(&kh_win);
	for (n = 0; n < KH_MAX_STEPS; n++)
		if (kh_walk_step(h, &w, tid))
			break;
	h->iters = n;
	h->nsyscalls++;
	if (h->steps > h->max_steps)
		h->max_steps = h->steps;
	if (n >= KH_MAX_STEPS && !w.done && h->f.sync != KW_BAD) {
		h->f.sync = KW_BAD;
		h->f.bad_reason = KLT_BAD_STEPS;
		h->f.bad_detail = (__u32)ret;
		kh_emit_bad(h);
	}
	/* bytes the walk did not reach are still part of the stream */
	h->pos = start + ret;
	kh_bounds.lo = kh_bounds.hi = 0;
}

static inline void kh_syscall(struct kh *h, const struct iovec *iov, size_t niov, __u64 t_enter,
			      __u32 tid)
{
	__u64 ret = 0;

	for (size_t i = 0; i < niov; i++)
		ret += iov[i].iov_len;
	kh_syscall_ret(h, iov, niov, ret, t_enter, tid);
}

/* sendfile() of n bytes (skip_sendfile()): skipped unread, and a response
 * they complete is emitted at once, from a walk of no bytes. */
static inline void kh_sendfile(struct kh *h, __u64 n, __u64 t_enter, __u32 tid)
{
	struct kh_walk w;

	if (kw_skip_file(&h->f, n)) {
		kh_emit_desync(h);
		kh_drop_pending(h);
	}
	h->pos += n;
	h->nsyscalls++;
	if (!kw_pending(&h->f))
		return;
	memset(&w, 0, sizeof(w));
	w.ret = n;
	w.t_exit = t_enter + 1;
	w.in.t_enter = t_enter;
	w.in.tid = tid;
	w.seq_start = h->isn + (__u32)(h->pos - n);
	h->seg_pos = h->pos;
	h->seg_base = 0;
	for (int i = 0; i < 4; i++)
		if (kh_walk_step(h, &w, tid))
			break;
}

/* A plain read()/write() of n bytes at p. */
static inline void kh_read_buf(struct kh *h, const void *p, size_t n, __u64 t_enter, __u32 tid)
{
	struct iovec iv = {.iov_base = (void *)(uintptr_t)p, .iov_len = n};

	kh_syscall(h, &iv, 1, t_enter, tid);
}

#endif /* KAFKALAT_TESTS_FRAMER_HARNESS_H */
