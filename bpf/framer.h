/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Kafka stream framer: a resumable state machine that walks one direction
 * of a connection's byte stream, however it is chunked, and yields every
 * frame's header and, for Produce requests, the body's metadata (acks,
 * timeout, topics, partitions, record-batch sizes and record counts) while
 * skipping record data without copying it; for follower Fetch requests
 * (v4-v14, replica_id >= 0), their topics and each partition's fetch
 * offset. Other bodies, consumer Fetch ones included, are skipped by length.
 *
 * It is shared by the BPF programs (which feed it the bytes of each socket
 * syscall, straight from user memory) and the unit tests (which feed it byte
 * buffers in every chunking). The includer defines:
 *   KW_READ(dst, n, in)  copy n (<= 64, <= in->avail) bytes of the stream at
 *                        in->addr; 0 on success
 * Each call of kw_step() does one bounded piece of work, so the BPF side can
 * drive it from bpf_loop() and the verifier sees one small body.
 */
#ifndef KAFKALAT_FRAMER_H
#define KAFKALAT_FRAMER_H

#include "kafkalat/events.h"

#ifndef KW_INLINE
#define KW_INLINE static __always_inline
#endif
/* The per-state step functions: global functions in BPF, so that the
 * verifier checks each once instead of every path through all of them. */
#ifndef KW_STEP_FN
#define KW_STEP_FN KW_INLINE
#endif
#define KW_CHECK(...)                   \
	do {                            \
		if (!(__VA_ARGS__))     \
			return KW_STOP; \
	} while (0)

enum kw_sync {
	KW_SYNCED = 0,	  /* at a proven frame boundary since the connection began */
	KW_TENTATIVE = 1, /* resynchronised at a plausible boundary, not proven yet */
	KW_RESYNC = 2,	  /* looking for a boundary at the start of each syscall */
	KW_BAD = 3,	  /* undecodable: no more frames */
};

enum kw_state {
	S_SIZE = 0,
	S_REQ_HDR,
	S_RESP_CORR,
	S_CLIENT_ID_LEN,
	S_CLIENT_ID,
	S_TAGS_COUNT,
	S_TAG_ID,
	S_TAG_LEN,
	S_TXN_LEN,
	S_ACKS,
	S_TIMEOUT,
	S_TOPICS_COUNT,
	S_TOPIC_NAME_LEN,
	S_TOPIC_NAME,
	S_PARTS_COUNT,
	S_PART_INDEX,
	S_RECORDS_LEN,
	S_BATCH_START,
	S_BATCH_LEN,
	S_BATCH_MAGIC,
	S_BATCH_PID,
	S_BATCH_SEQ,
	S_BATCH_COUNT,
	S_BATCH_NEXT,
	S_PART_END,
	S_PART_NEXT,
	S_TOPIC_NEXT,
	S_BODY_DONE,
	S_SKIP_FRAME,
	S_RESP_TAIL,
	S_FETCH_REPLICA,
	S_FETCH_OFFSET,
};

/* What a step produced for the caller to emit. */
enum kw_result {
	KW_NONE = 0,
	KW_FRAME,      /* a frame completed: emit it from the flow's fields */
	KW_TOPIC,      /* a topic name (or id) completed */
	KW_PART,       /* a partition's records field completed */
	KW_BADCONN,    /* the flow became undecodable: bad_reason, bad_detail */
	KW_DESYNC,     /* a tentative boundary proved wrong; back to resync */
	KW_STOP,       /* ignore the rest of this syscall's bytes */
	KW_FETCH_PART, /* a follower Fetch partition's fetch offset was read */
};

#define KW_CLIENT_ID_BUF                                                        \
	128 /* twice KLT_CLIENT_ID_MAX: lets the verifier bound copies by masks \
	     */
#define KW_TOPIC_BUF	       512
#define KW_BATCH_HDR	       61 /* record batch v2 header bytes up to and including recordsCount */
#define KW_MAGIC_END	       17 /* bytes of a batch or legacy message up to its magic byte */
#define KW_PID_AT	       43 /* a batch header's producerId (int64) */
#define KW_SEQ_AT	       53 /* its baseSequence (int32), after the producerEpoch */
#define KW_PRODUCE_MAX_VERSION 13
/* Fetch bodies walked: v4 (librdkafka's least) to v14; v15 moved replica_id
 * into a tagged field at the body's end, out of a one-pass walk's reach */
#define KW_FETCH_MIN_VERSION 4
#define KW_FETCH_MAX_VERSION 14
/* Correlation ids a TX flow remembers as Produce requests' (slot corr % 64):
 * a response's tail is kept only for them, so another API's body end (a
 * Fetch response written rather than sent with sendfile ends in record
 * bytes) never leaves the kernel. More requests in flight on one
 * connection only lose the oldest Produce responses' throttle. */
#define KW_CORR_SLOTS 64

struct kw_flow {
	__u64 frame_left; /* bytes of the current frame after the size not yet walked */
	__u64 skip;	  /* bytes to skip before the next token */
	__u64 rec_end;	  /* frame_left at the end of the current records field */
	__u64 batch_end;  /* frame_left at the end of the current record batch */
	__u64 t_first;
	__u64 record_bytes;
	__u64 records;
	__s64 fetch_offset; /* of the Fetch partition just read */
	__s64 part_pid;	    /* the partition's first batch's producerId; -1 none */
	__s32 part_seq;	    /* and its baseSequence */
	__u32 tid_first;
	__u32 size;
	__u32 flags; /* KLT_FRAME_* of the frame being walked */
	__u32 str_left;
	__u32 topics_left;
	__u32 parts_left;
	__u32 tags_left;
	__u32 topic_idx;
	__u32 nparts;
	__u32 part_records;
	__u32 part_batches;
	__u32 varint;
	__u32 bad_detail;
	__u32 tentative_frames;
	__u64 produce_slots;		/* TX: bit i: slot_corr[i] is a Produce request's */
	__s32 slot_corr[KW_CORR_SLOTS]; /* TX: the last request noted in each slot */
	__s32 corr_lo; /* TX: correlation ids of the requests framed on this connection */
	__s32 corr_hi;
	__s32 corr_id;
	__s32 timeout_ms;
	__s32 part_index;
	__s32 part_bytes;
	__s32 replica_id; /* of the Fetch request being walked */
	__u16 state;
	__u16 tags_ret;
	__s16 api_key;
	__s16 api_version;
	__s16 acks;
	__s16 client_id_full_len;
	__s16 topic_full_len;
	__u16 topic_len;
	__u16 client_id_len;
	__u8 have;
	__u8 varint_shift;
	__u8 sync;
	__u8 dir;
	__u8 bad_reason;
	__u8 topic_is_id;
	__u8 corr_known;	  /* TX: corr_lo/corr_hi are set */
	__u8 frame_emitted;	  /* a topic or partition of this frame was reported */
	__u8 part_trunc;	  /* the partition's last batch header was cut short */
	__u8 tok[24];		  /* 8 used; room lets the verifier bound copies by masks */
	__u8 tail[KLT_RESP_TAIL]; /* TX: the response's last bytes */
	__u8 tail_len;
};

/* Names are kept apart from the flow so that responses carry no buffers. */
struct kw_names {
	char client_id[KW_CLIENT_ID_BUF];
	char topic[KW_TOPIC_BUF];
};

struct kw_in {
	__u64 addr;  /* next unread byte of the current segment */
	__u64 avail; /* bytes left in the current segment */
	__u64 t_enter;
	__u32 tid;
	__u8 at_syscall_start; /* no byte of this syscall consumed yet */
	__u8 windowed;	       /* KW_READ may read through a window (BPF: readwin.h) */
};

KW_INLINE __u32 kw_be32(const __u8 *b)
{
	return ((__u32)b[0] << 24) | ((__u32)b[1] << 16) | ((__u32)b[2] << 8) | (__u32)b[3];
}

KW_INLINE __s64 kw_be64(const __u8 *b)
{
	return (__s64)((__u64)kw_be32(b) << 32 | kw_be32(b + 4));
}

KW_INLINE __u16 kw_be16(const __u8 *b)
{
	return (__u16)(((__u16)b[0] << 8) | (__u16)b[1]);
}

/* The request walked uses compact lengths and tagged fields: Produce v9+,
 * Fetch v12+ (a response flow's api_key is -1: never). */
KW_INLINE int kw_flexible(const struct kw_flow *f)
{
	return f->api_version >= (f->api_key == 1 ? 12 : 9);
}

KW_INLINE int kw_fetch_walked(const struct kw_flow *f)
{
	return f->api_key == 1 && f->api_version >= KW_FETCH_MIN_VERSION &&
	       f->api_version <= KW_FETCH_MAX_VERSION;
}

KW_INLINE void kw_consume(struct kw_flow *f, struct kw_in *in, __u64 n)
{
	in->addr += n;
	in->avail -= n;
	f->frame_left -= n;
	in->at_syscall_start = 0;
}

/* Back to looking for a frame boundary at the start of a syscall. */
KW_INLINE void kw_resync(struct kw_flow *f)
{
	f->state = S_SIZE;
	f->have = 0;
	f->skip = 0;
	f->frame_left = 0;
	f->sync = KW_RESYNC;
	f->tentative_frames = 0;
	f->frame_emitted = 0;
}

/* A header or size check failed: on a proven stream the connection is
 * undecodable; while resynchronising, the boundary was wrong. */
KW_INLINE int kw_reject(struct kw_flow *f, __u8 reason, __u32 detail)
{
	/* frames (or parts of this one) were reported: the reader must void them */
	int r = f->tentative_frames || f->frame_emitted ? KW_DESYNC : KW_STOP;

	if (f->sync == KW_SYNCED) {
		kw_resync(f);
		f->sync = KW_BAD;
		f->bad_reason = reason;
		f->bad_detail = detail;
		return KW_BADCONN;
	}
	kw_resync(f);
	return r;
}

/* A Produce body field is inconsistent with its frame: on a proven stream
 * the frame size is still trusted, so keep framing and give up only on this
 * body; at a boundary found by resync it means the boundary is wrong. */
KW_INLINE int kw_body_bad(struct kw_flow *f)
{
	if (f->sync == KW_TENTATIVE)
		return kw_reject(f, KLT_BAD_BODY, 0);
	f->flags &= ~(__u32)(KLT_FRAME_PRODUCE_PARSED | KLT_FRAME_FETCH_PARSED);
	f->skip = f->frame_left;
	f->have = 0;
	f->state = S_SKIP_FRAME;
	return KW_NONE;
}

/* Accumulate a fixed-size token of n (<= 8) bytes in f->tok. Returns 1 when
 * complete, 0 when the segment ran out, -1 when the frame cannot hold it. */
KW_INLINE int kw_fixed(struct kw_flow *f, struct kw_in *in, __u32 n)
{
	__u64 want, k;
	__u32 have = f->have & 7;

	want = n - have;
	if (want > f->frame_left && f->state != S_SIZE)
		return -1;
	k = want < in->avail ? want : in->avail;
	if (k > 8)
		k = 8;
	k &= 15;
	if (KW_READ(&f->tok[have], k, in))
		return -1;
	if (f->state == S_SIZE) {
		/* the size is not part of frame_left */
		in->addr += k;
		in->avail -= k;
		in->at_syscall_start = 0;
	} else {
		kw_consume(f, in, k);
	}
	f->have = (__u8)(have + k);
	if (f->have < n)
		return 0;
	f->have = 0;
	return 1;
}

/* One byte of an unsigned varint (KIP-482 compact lengths and tags).
 * Returns 1 with f->varint complete, 0 for more, -1 when malformed. */
KW_INLINE int kw_uvarint(struct kw_flow *f, struct kw_in *in)
{
	int r = kw_fixed(f, in, 1);
	__u8 b;

	if (r <= 0)
		return r;
	b = f->tok[0];
	if (f->varint_shift == 0)
		f->varint = 0;
	if (f->varint_shift > 28)
		return -1;
	f->varint |= (__u32)(b & 0x7f) << f->varint_shift;
	if (b & 0x80) {
		f->varint_shift += 7;
		return 0;
	}
	f->varint_shift = 0;
	return 1;
}

/* A length: int16/int32 big-endian in classic versions, uvarint N+1 in
 * flexible ones (0 = null = -1). Returns 1 with *len, 0 for more, -1 bad. */
KW_INLINE int kw_length(struct kw_flow *f, struct kw_in *in, __u32 classic_bytes, __s64 *len)
{
	int r;

	if (kw_flexible(f)) {
		r = kw_uvarint(f, in);
		if (r > 0)
			*len = (__s64)f->varint - 1;
		return r;
	}
	r = kw_fixed(f, in, classic_bytes);
	if (r > 0)
		*len = classic_bytes == 2 ? (__s64)(__s16)kw_be16(f->tok)
					  : (__s64)(__s32)kw_be32(f->tok);
	return r;
}

/* Enter a tagged-field section; continue at ret when it is done. */
KW_INLINE void kw_tags(struct kw_flow *f, __u16 ret)
{
	f->tags_ret = ret;
	f->state = S_TAGS_COUNT;
}

/* After the request header: walk the Produce body, or skip any other body. */
KW_INLINE void kw_after_header(struct kw_flow *f)
{
	if (f->api_key == 0 && f->api_version >= 0 && f->api_version <= KW_PRODUCE_MAX_VERSION) {
		f->flags |= KLT_FRAME_PRODUCE_PARSED;
		f->state = f->api_version >= 3 ? S_TXN_LEN : S_ACKS;
		return;
	}
	if (kw_fetch_walked(f)) {
		f->state = S_FETCH_REPLICA;
		return;
	}
	f->skip = f->frame_left;
	f->state = S_SKIP_FRAME;
}

KW_INLINE void kw_frame_reset(struct kw_flow *f)
{
	f->flags = f->sync == KW_TENTATIVE ? KLT_FRAME_TENTATIVE : 0;
	f->api_key = -1;
	f->api_version = -1;
	f->corr_id = 0;
	f->acks = 0;
	f->timeout_ms = 0;
	f->client_id_len = 0;
	f->client_id_full_len = -1;
	f->topic_idx = 0;
	f->nparts = 0;
	f->record_bytes = 0;
	f->records = 0;
	f->replica_id = -1;
	f->fetch_offset = 0;
	f->varint_shift = 0;
	f->frame_emitted = 0;
}

KW_STEP_FN int kw_step_size(struct kw_flow *f, struct kw_in *in)
{
	__u32 min;
	int r;

	KW_CHECK(f && in);
	min = f->dir == KLT_DIR_RX ? 8 : 4;
	if (f->sync == KW_RESYNC) {
		if (!in->at_syscall_start && f->have == 0)
			return KW_STOP;
		f->sync = KW_TENTATIVE;
	}
	if (f->have == 0) {
		f->t_first = in->t_enter;
		f->tid_first = in->tid;
	}
	r = kw_fixed(f, in, 4);
	if (r <= 0)
		return KW_NONE;
	f->size = kw_be32(f->tok);
	if (f->tok[0] == 0x16 && f->tok[1] == 0x03)
		return kw_reject(f, KLT_BAD_TLS, f->size);
	if (f->size < min || f->size > KLT_MAX_FRAME_BYTES)
		return kw_reject(f, KLT_BAD_SIZE, f->size);
	kw_frame_reset(f);
	f->frame_left = f->size;
	f->state = f->dir == KLT_DIR_RX ? S_REQ_HDR : S_RESP_CORR;
	return KW_NONE;
}

KW_STEP_FN int kw_step_req_hdr(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_fixed(f, in, 8);
	if (r < 0)
		return kw_reject(f, KLT_BAD_HEADER, f->size);
	if (r == 0)
		return KW_NONE;
	f->api_key = (__s16)kw_be16(f->tok);
	f->api_version = (__s16)kw_be16(f->tok + 2);
	f->corr_id = (__s32)kw_be32(f->tok + 4);
	if (f->api_key < 0 || f->api_key > KLT_MAX_API_KEY)
		return kw_reject(f, KLT_BAD_HEADER, (__u16)f->api_key);
	if (f->api_version < 0 || f->api_version > KLT_MAX_API_VERSION)
		return kw_reject(f, KLT_BAD_HEADER, (__u16)f->api_version);
	/* ControlledShutdown v0 is the one request without a client_id */
	if (f->api_key == 7 && f->api_version == 0) {
		f->skip = f->frame_left;
		f->state = S_SKIP_FRAME;
	} else {
		f->state = S_CLIENT_ID_LEN;
	}
	return KW_NONE;
}

KW_STEP_FN int kw_step_client_id_len(struct kw_flow *f, struct kw_in *in)
{
	int r;
	__s16 len;

	KW_CHECK(f && in);
	r = kw_fixed(f, in, 2);
	if (r < 0)
		return kw_reject(f, KLT_BAD_HEADER, f->size);
	if (r == 0)
		return KW_NONE;
	len = (__s16)kw_be16(f->tok);
	if (len < -1 || (__u64)(len < 0 ? 0 : len) > f->frame_left)
		return kw_reject(f, KLT_BAD_HEADER, (__u16)len);
	/* a second plausible header in a row proves the boundary: this frame
	 * and the ones after it are real */
	if (f->sync == KW_TENTATIVE && f->tentative_frames) {
		f->sync = KW_SYNCED;
		f->flags &= ~(__u32)KLT_FRAME_TENTATIVE;
	}
	f->client_id_full_len = len;
	f->str_left = len < 0 ? 0 : (__u32)len;
	f->state = S_CLIENT_ID;
	return KW_NONE;
}

/* Copy up to cap bytes of a string into buf, skip the rest. Returns 1 when
 * the string is complete. */
KW_INLINE int kw_copy_str(struct kw_flow *f, struct kw_in *in, char *buf, __u16 *have, __u32 cap,
			  __u32 mask)
{
	__u64 k = f->str_left < in->avail ? f->str_left : in->avail;
	__u32 off = *have;

	if (off < cap) {
		__u64 room = cap - off;
		__u64 n = k < room ? k : room;

		if (n > 63)
			n = 63;
		n &= 63;
		if (KW_READ(&buf[off & mask], n, in))
			return -1;
		*have = (__u16)(off + n);
		k = n;
	}
	kw_consume(f, in, k);
	f->str_left -= (__u32)k;
	return f->str_left == 0;
}

KW_STEP_FN int kw_step_client_id(struct kw_flow *f, struct kw_names *nm, struct kw_in *in)
{
	int r;

	KW_CHECK(f && nm && in);
	if (f->str_left) {
		r = kw_copy_str(f, in, nm->client_id, &f->client_id_len, KLT_CLIENT_ID_MAX,
				KLT_CLIENT_ID_MAX - 1);
		if (r < 0)
			return kw_reject(f, KLT_BAD_HEADER, 0);
		if (r == 0)
			return KW_NONE;
	}
	/* request header v2 (flexible Produce) ends with tagged fields */
	if (f->api_key == 0 && f->api_version >= 9 && f->api_version <= KW_PRODUCE_MAX_VERSION) {
		kw_tags(f, S_TXN_LEN);
		f->flags |= KLT_FRAME_PRODUCE_PARSED;
		return KW_NONE;
	}
	if (kw_fetch_walked(f) && kw_flexible(f)) {
		kw_tags(f, S_FETCH_REPLICA);
		return KW_NONE;
	}
	kw_after_header(f);
	return KW_NONE;
}

KW_STEP_FN int kw_step_tags(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_uvarint(f, in);
	if (r < 0)
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	switch (f->state) {
	case S_TAGS_COUNT:
		f->tags_left = f->varint;
		f->state = f->tags_left ? S_TAG_ID : f->tags_ret;
		break;
	case S_TAG_ID:
		f->state = S_TAG_LEN;
		break;
	default: /* S_TAG_LEN */
		if (f->varint > f->frame_left)
			return kw_body_bad(f);
		f->skip = f->varint;
		f->tags_left--;
		f->state = f->tags_left ? S_TAG_ID : f->tags_ret;
		break;
	}
	return KW_NONE;
}

KW_STEP_FN int kw_step_txn_len(struct kw_flow *f, struct kw_in *in)
{
	__s64 len = 0;
	int r;

	KW_CHECK(f && in);
	r = kw_length(f, in, 2, &len);
	if (r < 0 || (r > 0 && (len < -1 || len > (__s64)f->frame_left)))
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	if (len >= 0) {
		f->flags |= KLT_FRAME_HAS_TXN;
		f->skip = (__u64)len;
	}
	f->state = S_ACKS;
	return KW_NONE;
}

KW_STEP_FN int kw_step_acks_timeout(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_fixed(f, in, f->state == S_ACKS ? 2 : 4);
	if (r < 0)
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	if (f->state == S_ACKS) {
		f->acks = (__s16)kw_be16(f->tok);
		if (f->acks < -1 || f->acks > 1)
			return kw_body_bad(f);
		f->state = S_TIMEOUT;
	} else {
		f->timeout_ms = (__s32)kw_be32(f->tok);
		f->state = S_TOPICS_COUNT;
	}
	return KW_NONE;
}

/* An array count; one element takes at least min_elem bytes, which bounds
 * counts that no frame could hold. */
KW_INLINE int kw_count(struct kw_flow *f, struct kw_in *in, __u32 min_elem, __u32 *count)
{
	__s64 n = 0;
	int r = kw_length(f, in, 4, &n);

	if (r <= 0)
		return r;
	if (n < 0 || (__u64)n * min_elem > f->frame_left)
		return -1;
	*count = (__u32)n;
	return 1;
}

KW_INLINE void kw_topic_end(struct kw_flow *f)
{
	if (kw_flexible(f))
		kw_tags(f, S_TOPIC_NEXT);
	else
		f->state = S_TOPIC_NEXT;
}

/* After the last topic: Produce's tagged fields; Fetch's forgotten topics,
 * rack id and tagged fields say nothing wanted (S_BODY_DONE skips them). */
KW_INLINE void kw_topics_end(struct kw_flow *f)
{
	if (kw_flexible(f) && f->api_key == 0)
		kw_tags(f, S_BODY_DONE);
	else
		f->state = S_BODY_DONE;
}

/* A Fetch body: replica_id, then fixed fields up to the topics. A
 * consumer's (replica_id < 0) is skipped. */
KW_STEP_FN int kw_step_fetch_replica(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_fixed(f, in, 4);
	if (r < 0)
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	f->replica_id = (__s32)kw_be32(f->tok);
	if (f->replica_id < 0) {
		f->skip = f->frame_left;
		f->state = S_SKIP_FRAME;
		return KW_NONE;
	}
	f->flags |= KLT_FRAME_FETCH_PARSED;
	/* max_wait_ms, min_bytes, max_bytes, isolation_level; v7+ session id, epoch */
	f->skip = f->api_version >= 7 ? 21 : 13;
	f->state = S_TOPICS_COUNT;
	return KW_NONE;
}

/* A Fetch partition after its index: [current_leader_epoch (v9+)] skipped,
 * fetch_offset read, then last_fetched_epoch (v12+), log_start_offset (v5+)
 * and partition_max_bytes skipped. */
KW_STEP_FN int kw_step_fetch_offset(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_fixed(f, in, 8);
	if (r < 0)
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	f->fetch_offset = kw_be64(f->tok);
	f->nparts++;
	f->frame_emitted = 1;
	f->skip = (f->api_version >= 12 ? 4 : 0) + (f->api_version >= 5 ? 8 : 0) + 4;
	if (kw_flexible(f))
		kw_tags(f, S_PART_NEXT);
	else
		f->state = S_PART_NEXT;
	return KW_FETCH_PART;
}

KW_STEP_FN int kw_step_topics_count(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_count(f, in, 3, &f->topics_left);
	if (r < 0)
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	if (f->topics_left)
		f->state = S_TOPIC_NAME_LEN;
	else
		kw_topics_end(f);
	return KW_NONE;
}

KW_STEP_FN int kw_step_topic_name_len(struct kw_flow *f, struct kw_in *in)
{
	__s64 len = 0;
	int r;

	KW_CHECK(f && in);
	f->topic_len = 0;
	if (f->api_version >= 13) { /* KIP-516: a 16-byte topic id instead of the name */
		f->topic_is_id = 1;
		f->topic_full_len = 16;
		f->str_left = 16;
		f->state = S_TOPIC_NAME;
		return KW_NONE;
	}
	r = kw_length(f, in, 2, &len);
	if (r < 0 || (r > 0 && (len < 0 || len > (__s64)f->frame_left)))
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	f->topic_is_id = 0;
	f->topic_full_len = (__s16)len;
	f->str_left = (__u32)len;
	f->state = S_TOPIC_NAME;
	return KW_NONE;
}

KW_STEP_FN int kw_step_topic_name(struct kw_flow *f, struct kw_names *nm, struct kw_in *in)
{
	int r = 1;

	KW_CHECK(f && nm && in);
	if (f->str_left > f->frame_left)
		return kw_body_bad(f);
	if (f->str_left)
		r = kw_copy_str(f, in, nm->topic, &f->topic_len, KLT_TOPIC_NAME_MAX,
				KLT_TOPIC_NAME_MAX - 1);
	if (r < 0)
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	f->state = S_PARTS_COUNT;
	f->frame_emitted = 1;
	return KW_TOPIC;
}

KW_STEP_FN int kw_step_parts_count(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_count(f, in, 5, &f->parts_left);
	if (r < 0)
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	if (f->parts_left == 0)
		kw_topic_end(f);
	else
		f->state = S_PART_INDEX;
	return KW_NONE;
}

KW_STEP_FN int kw_step_part_index(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_fixed(f, in, 4);
	if (r < 0)
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	f->part_index = (__s32)kw_be32(f->tok);
	if (f->api_key == 1) {
		f->skip = f->api_version >= 9 ? 4 : 0;
		f->state = S_FETCH_OFFSET;
		return KW_NONE;
	}
	f->state = S_RECORDS_LEN;
	return KW_NONE;
}

KW_STEP_FN int kw_step_records_len(struct kw_flow *f, struct kw_in *in)
{
	__s64 len = 0;
	int r;

	KW_CHECK(f && in);
	r = kw_length(f, in, 4, &len);
	if (r < 0 || (r > 0 && (len < -1 || len > (__s64)f->frame_left)))
		return kw_body_bad(f);
	if (r == 0)
		return KW_NONE;
	f->part_bytes = (__s32)len;
	f->part_records = 0;
	f->part_batches = 0;
	f->part_trunc = 0;
	f->part_pid = -1;
	f->part_seq = -1;
	f->rec_end = f->frame_left - (__u64)(len < 0 ? 0 : len);
	f->state = S_BATCH_NEXT;
	return KW_NONE;
}

/* The rest of the records field cannot hold a batch header: skip it. */
KW_INLINE int kw_batch_trunc(struct kw_flow *f)
{
	f->part_trunc = 1;
	f->skip = f->frame_left - f->rec_end;
	f->state = S_PART_END;
	return KW_NONE;
}

/*
 * The records field: record batches (magic 2) or, in Produce v0-v2, legacy
 * messages (magic 0/1). Both start with an int64 offset and an int32 length
 * and have the magic byte at offset 16. For a batch, read recordsCount at
 * offset 57, and for a partition's first batch its producerId and
 * baseSequence before it (the identity attribution matches writes by); a
 * legacy message is one record (a compressed wrapper counts as
 * one, as in kproto). Record data is skipped unread.
 */
KW_STEP_FN int kw_step_batch(struct kw_flow *f, struct kw_in *in)
{
	__u64 left;
	int r;

	KW_CHECK(f && in);
	left = f->frame_left - f->rec_end;
	switch (f->state) {
	case S_BATCH_NEXT:
		if (left == 0) {
			f->state = S_PART_END;
			return KW_NONE;
		}
		if (left < KW_MAGIC_END)
			return kw_batch_trunc(f);
		f->skip = 8;
		f->state = S_BATCH_LEN;
		return KW_NONE;
	case S_BATCH_LEN:
		r = kw_fixed(f, in, 4);
		if (r < 0)
			return kw_body_bad(f);
		if (r == 0)
			return KW_NONE;
		/* frame_left is now 12 bytes past the start of the batch */
		f->batch_end = (__u64)kw_be32(f->tok);
		if (f->batch_end < KW_MAGIC_END - 12 || f->batch_end > left)
			return kw_batch_trunc(f);
		f->batch_end = f->frame_left - f->batch_end;
		f->skip = 4;
		f->state = S_BATCH_MAGIC;
		return KW_NONE;
	case S_BATCH_MAGIC:
		r = kw_fixed(f, in, 1);
		if (r < 0)
			return kw_body_bad(f);
		if (r == 0)
			return KW_NONE;
		if (f->tok[0] != 2) {
			f->part_records++;
			f->part_batches++;
			f->skip = f->frame_left - f->batch_end;
			f->state = S_BATCH_NEXT;
			return KW_NONE;
		}
		if (f->frame_left - f->batch_end < KW_BATCH_HDR - KW_MAGIC_END)
			return kw_batch_trunc(f);
		if (f->part_batches) {
			f->skip = KW_BATCH_HDR - 4 - KW_MAGIC_END;
			f->state = S_BATCH_COUNT;
		} else {
			f->skip = KW_PID_AT - KW_MAGIC_END;
			f->state = S_BATCH_PID;
		}
		return KW_NONE;
	case S_BATCH_PID:
		r = kw_fixed(f, in, 8);
		if (r < 0)
			return kw_body_bad(f);
		if (r == 0)
			return KW_NONE;
		f->part_pid = kw_be64(f->tok);
		f->skip = KW_SEQ_AT - KW_PID_AT - 8;
		f->state = S_BATCH_SEQ;
		return KW_NONE;
	case S_BATCH_SEQ:
		r = kw_fixed(f, in, 4);
		if (r < 0)
			return kw_body_bad(f);
		if (r == 0)
			return KW_NONE;
		f->part_seq = (__s32)kw_be32(f->tok);
		f->state = S_BATCH_COUNT;
		return KW_NONE;
	default: /* S_BATCH_COUNT */
		r = kw_fixed(f, in, 4);
		if (r < 0)
			return kw_body_bad(f);
		if (r == 0)
			return KW_NONE;
		f->part_records += kw_be32(f->tok);
		f->part_batches++;
		f->skip = f->frame_left - f->batch_end;
		f->state = S_BATCH_NEXT;
		return KW_NONE;
	}
}

KW_STEP_FN int kw_step_part_end(struct kw_flow *f)
{
	KW_CHECK(f);
	f->nparts++;
	f->records += f->part_records;
	if (f->part_bytes > 0)
		f->record_bytes += (__u64)f->part_bytes;
	if (f->part_trunc)
		f->flags |= KLT_FRAME_PARTS_TRUNC;
	f->frame_emitted = 1;
	if (kw_flexible(f))
		kw_tags(f, S_PART_NEXT);
	else
		f->state = S_PART_NEXT;
	return KW_PART;
}

KW_STEP_FN int kw_step_next(struct kw_flow *f)
{
	KW_CHECK(f);
	if (f->state == S_PART_NEXT) {
		if (--f->parts_left)
			f->state = S_PART_INDEX;
		else
			kw_topic_end(f);
		return KW_NONE;
	}
	/* S_TOPIC_NEXT */
	f->topic_idx++;
	if (--f->topics_left)
		f->state = S_TOPIC_NAME_LEN;
	else
		kw_topics_end(f);
	return KW_NONE;
}

KW_INLINE int kw_answers_produce(const struct kw_flow *tx, __s32 corr)
{
	__u32 slot = (__u32)corr & (KW_CORR_SLOTS - 1);

	return (tx->produce_slots >> slot & 1) && tx->slot_corr[slot] == corr;
}

KW_STEP_FN int kw_step_resp_corr(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_fixed(f, in, 4);
	if (r < 0)
		return kw_reject(f, KLT_BAD_SIZE, f->size);
	if (r == 0)
		return KW_NONE;
	f->corr_id = (__s32)kw_be32(f->tok);
	/* a response's size proves little: the boundary is proven when it
	 * answers a request seen on this connection */
	if (f->sync == KW_TENTATIVE && f->corr_known && f->corr_id >= f->corr_lo &&
	    f->corr_id <= f->corr_hi) {
		f->sync = KW_SYNCED;
		f->flags &= ~(__u32)KLT_FRAME_TENTATIVE;
	}
	/* the last bytes hold Produce's throttle_time_ms: the connection is
	 * muted that long after the response */
	f->tail_len = 0;
	if (f->frame_left < KLT_RESP_TAIL || !kw_answers_produce(f, f->corr_id)) {
		f->skip = f->frame_left;
		f->state = S_SKIP_FRAME;
		return KW_NONE;
	}
	f->skip = f->frame_left - KLT_RESP_TAIL;
	f->state = S_RESP_TAIL;
	return KW_NONE;
}

KW_STEP_FN int kw_step_resp_tail(struct kw_flow *f, struct kw_in *in)
{
	int r;

	KW_CHECK(f && in);
	r = kw_fixed(f, in, KLT_RESP_TAIL);
	if (r < 0)
		return kw_reject(f, KLT_BAD_SIZE, f->size);
	if (r == 0)
		return KW_NONE;
	__builtin_memcpy(f->tail, f->tok, KLT_RESP_TAIL);
	f->tail_len = KLT_RESP_TAIL;
	f->state = S_SKIP_FRAME;
	return KW_NONE;
}

/* Bytes of the stream went by unseen (sendfile data, too many iovecs): find
 * a boundary again. Returns 1 when what was reported since the last proven
 * boundary must be voided (the caller reports a desync). */
KW_INLINE int kw_lost_bytes(struct kw_flow *f)
{
	int void_reported = f->tentative_frames || f->frame_emitted;

	if (f->sync == KW_BAD)
		return 0;
	kw_resync(f);
	return void_reported;
}

/*
 * n bytes of file data (sendfile: a Fetch response's records) went out in
 * the response being written, unread: 0 when they fall where no field is
 * read (skipped bytes, or the response's end, whose tail is then unknown);
 * else the stream is lost until a boundary is found again: 1 when what was
 * reported since the last proven one must be voided.
 */
KW_INLINE int kw_skip_file(struct kw_flow *f, __u64 n)
{
	if (f->sync != KW_BAD && f->state != S_SIZE && f->frame_left >= n) {
		if (f->skip >= n) {
			f->skip -= n;
			f->frame_left -= n;
			return 0;
		}
		if (f->state == S_RESP_TAIL) {
			f->frame_left -= n;
			f->skip = f->frame_left;
			f->have = 0;
			f->tail_len = 0;
			f->state = S_SKIP_FRAME;
			return 0;
		}
	}
	return kw_lost_bytes(f);
}

/* The caller tells the TX flow which correlation ids its requests carry. */
KW_INLINE void kw_note_request_corr(struct kw_flow *tx, __s32 corr)
{
	if (!tx->corr_known || corr < tx->corr_lo)
		tx->corr_lo = corr;
	if (!tx->corr_known || corr > tx->corr_hi)
		tx->corr_hi = corr;
	tx->corr_known = 1;
}

/* ... and of which API each is: only Produce responses keep their tail. */
KW_INLINE void kw_note_request_api(struct kw_flow *tx, __s32 corr, __s16 api_key)
{
	__u32 slot = (__u32)corr & (KW_CORR_SLOTS - 1);

	tx->slot_corr[slot] = corr;
	if (api_key == 0)
		tx->produce_slots |= 1ull << slot;
	else
		tx->produce_slots &= ~(1ull << slot);
}

KW_INLINE int kw_dispatch(struct kw_flow *f, struct kw_names *nm, struct kw_in *in)
{
	switch (f->state) {
	case S_SIZE:
		return kw_step_size(f, in);
	case S_REQ_HDR:
		return kw_step_req_hdr(f, in);
	case S_RESP_CORR:
		return kw_step_resp_corr(f, in);
	case S_RESP_TAIL:
		return kw_step_resp_tail(f, in);
	case S_CLIENT_ID_LEN:
		return kw_step_client_id_len(f, in);
	case S_CLIENT_ID:
		return kw_step_client_id(f, nm, in);
	case S_TAGS_COUNT:
	case S_TAG_ID:
	case S_TAG_LEN:
		return kw_step_tags(f, in);
	case S_TXN_LEN:
		return kw_step_txn_len(f, in);
	case S_ACKS:
	case S_TIMEOUT:
		return kw_step_acks_timeout(f, in);
	case S_TOPICS_COUNT:
		return kw_step_topics_count(f, in);
	case S_TOPIC_NAME_LEN:
		return kw_step_topic_name_len(f, in);
	case S_TOPIC_NAME:
		return kw_step_topic_name(f, nm, in);
	case S_PARTS_COUNT:
		return kw_step_parts_count(f, in);
	case S_PART_INDEX:
		return kw_step_part_index(f, in);
	case S_RECORDS_LEN:
		return kw_step_records_len(f, in);
	case S_BATCH_NEXT:
	case S_BATCH_LEN:
	case S_BATCH_MAGIC:
	case S_BATCH_PID:
	case S_BATCH_SEQ:
	case S_BATCH_COUNT:
		return kw_step_batch(f, in);
	case S_PART_END:
		return kw_step_part_end(f);
	case S_FETCH_REPLICA:
		return kw_step_fetch_replica(f, in);
	case S_FETCH_OFFSET:
		return kw_step_fetch_offset(f, in);
	case S_PART_NEXT:
	case S_TOPIC_NEXT:
		return kw_step_next(f);
	case S_BODY_DONE:
		/* trailing bytes after a complete body: keep framing, note nothing */
		f->skip = f->frame_left;
		f->state = S_SKIP_FRAME;
		return KW_NONE;
	default: /* S_SKIP_FRAME: skip is drained by kw_step */
		f->skip = f->frame_left;
		return KW_NONE;
	}
}

/* Is there work left that consumes no bytes (a completed frame to report,
 * a state transition)? The caller keeps stepping while this is true even
 * when the segment is exhausted. */
KW_INLINE int kw_pending(const struct kw_flow *f)
{
	if (f->sync == KW_BAD || f->skip)
		return 0;
	if (f->state != S_SIZE && f->frame_left == 0)
		return 1;
	switch (f->state) {
	case S_BATCH_NEXT:
	case S_PART_END:
	case S_PART_NEXT:
	case S_TOPIC_NEXT:
	case S_BODY_DONE:
		return 1;
	case S_TOPIC_NAME_LEN:
		return f->api_version >= 13;
	case S_TOPIC_NAME:
	case S_CLIENT_ID:
		return f->str_left == 0;
	case S_TAGS_COUNT:
	case S_TAG_ID:
	case S_TAG_LEN:
	default:
		return 0;
	}
}

/*
 * One bounded piece of work on the current segment. The caller loops while
 * in->avail > 0 or the result is not KW_NONE with pending zero-byte work;
 * see kw_pending().
 */
KW_INLINE int kw_step(struct kw_flow *f, struct kw_names *nm, struct kw_in *in)
{
	if (f->sync == KW_BAD)
		return KW_STOP;
	/* a skip and the token after it in one step: skips follow most tokens */
	if (f->skip) {
		__u64 n = f->skip < in->avail ? f->skip : in->avail;

		if (f->skip > f->frame_left)
			return kw_body_bad(f);
		kw_consume(f, in, n);
		f->skip -= n;
		if (f->skip)
			return KW_NONE;
	}
	if (f->frame_left == 0 && (f->state == S_SKIP_FRAME || f->state == S_BODY_DONE)) {
		f->state = S_SIZE;
		f->have = 0;
		if (f->sync == KW_TENTATIVE)
			f->tentative_frames++;
		return KW_FRAME;
	}
	/* tokens that follow each other without a skip or an event: up to five
	 * per step while the bytes are there */
	for (int i = 0; i < 5; i++) {
		int r = kw_dispatch(f, nm, in);

		if (r != KW_NONE || f->skip || f->frame_left == 0 || f->state == S_SIZE ||
		    (!in->avail && !kw_pending(f)))
			return r;
	}
	return KW_NONE;
}

/* ---- the records of what kw_step() found, as the ring buffer carries them:
 * every byte written, for a ring record is not zeroed ---- */

/* KW_FRAME: t_last and tid_last are those of the syscall that completed it. */
KW_INLINE void kw_fill_frame(struct klt_frame_event *e, const struct kw_flow *f,
			     const struct kw_names *nm, __u64 conn_id, __u64 t_last, __u32 tid_last)
{
	e->type = KLT_EV_FRAME;
	e->flags = f->flags;
	e->conn_id = conn_id;
	e->t_first_ns = f->t_first;
	e->t_last_ns = t_last;
	e->tid_first = f->tid_first;
	e->tid_last = tid_last;
	e->size = f->size;
	e->dir = f->dir;
	e->api_key = f->api_key;
	e->api_version = f->api_version;
	e->corr_id = f->corr_id;
	e->acks = f->acks;
	e->ntopics = (__u16)f->topic_idx;
	e->timeout_ms = f->timeout_ms;
	e->nparts = f->nparts;
	e->pad = 0;
	e->record_bytes = f->record_bytes;
	e->records = f->records;
	e->tail_len = f->dir == KLT_DIR_TX ? f->tail_len : 0;
	__builtin_memcpy(e->tail, f->tail, KLT_RESP_TAIL);
	__builtin_memset(e->pad2, 0, sizeof(e->pad2));
	e->client_id_full_len = f->client_id_full_len;
	e->client_id_len =
	    f->client_id_len > KLT_CLIENT_ID_MAX ? KLT_CLIENT_ID_MAX : (__u8)f->client_id_len;
	if (f->dir == KLT_DIR_RX)
		__builtin_memcpy(e->client_id, nm->client_id, KLT_CLIENT_ID_MAX);
	else
		__builtin_memset(e->client_id, 0, KLT_CLIENT_ID_MAX);
}

/* KW_TOPIC */
KW_INLINE void kw_fill_topic(struct klt_topic_event *e, const struct kw_flow *f,
			     const struct kw_names *nm, __u64 conn_id)
{
	e->type = KLT_EV_TOPIC;
	e->flags = (f->topic_is_id ? KLT_TOPIC_IS_ID : 0) | (f->api_key == 1 ? KLT_TOPIC_FETCH : 0);
	e->conn_id = conn_id;
	e->topic_idx = f->topic_idx;
	e->name_len = f->topic_len > KLT_TOPIC_NAME_MAX ? KLT_TOPIC_NAME_MAX : f->topic_len;
	e->name_full_len = f->topic_full_len;
	__builtin_memcpy(e->name, nm->topic, KLT_TOPIC_NAME_MAX);
}

/* KW_PART */
KW_INLINE void kw_fill_part(struct klt_part_event *e, const struct kw_flow *f, __u64 conn_id)
{
	e->type = KLT_EV_PART;
	e->flags = f->part_trunc ? KLT_FRAME_PARTS_TRUNC : 0;
	e->conn_id = conn_id;
	e->topic_idx = f->topic_idx;
	e->partition = f->part_index;
	e->record_bytes = f->part_bytes;
	e->records = f->part_records;
	e->batches = f->part_batches;
	e->pad = 0;
	e->producer_id = f->part_pid;
	e->base_sequence = f->part_seq;
	e->pad2 = 0;
}

/* KW_FETCH_PART */
KW_INLINE void kw_fill_fetch_part(struct klt_fetch_part_event *e, const struct kw_flow *f,
				  __u64 conn_id)
{
	e->type = KLT_EV_FETCH_PART;
	e->flags = 0;
	e->conn_id = conn_id;
	e->topic_idx = f->topic_idx;
	e->partition = f->part_index;
	e->fetch_offset = f->fetch_offset;
	e->replica_id = f->replica_id;
	e->pad = 0;
}

/* KW_BADCONN, or a syscall with more to walk than the loop allows */
KW_INLINE void kw_fill_bad(struct klt_bad_event *e, const struct kw_flow *f, __u64 conn_id,
			   __u64 ts_ns)
{
	e->type = KLT_EV_BAD;
	e->reason = f->bad_reason;
	e->conn_id = conn_id;
	e->ts_ns = ts_ns;
	e->dir = f->dir;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	e->detail = f->bad_detail;
}

#endif /* KAFKALAT_FRAMER_H */
