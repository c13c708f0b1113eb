/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel <-> user event ABI. Included by the BPF programs and by
 * userspace; explicit fixed-width fields only, a type tag first. Bump
 * KLT_ABI_VERSION on any layout change: trace files store it.
 */
#ifndef KAFKALAT_EVENTS_H
#define KAFKALAT_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define KLT_ABI_VERSION 5
/* Version 1 frame records lack the fields from t_wire_first_ns on, and
 * version 1-3 partition records the fields from producer_id on: readers take
 * them as unknown (KLT_FRAME_V1_SIZE, KLT_PART_V3_SIZE). */
#define KLT_ABI_VERSION_MIN 1

#define KLT_MAX_PORTS	    8
#define KLT_MAX_BROKERS	    8	/* processes traced at once */
#define KLT_CLIENT_ID_MAX   64	/* bytes of client_id kept; longer ones are truncated */
#define KLT_TOPIC_NAME_MAX  256 /* Kafka topic names are at most 249 bytes */
#define KLT_MAX_FRAME_BYTES (100u << 20)
#define KLT_MAX_API_KEY	    127
#define KLT_MAX_API_VERSION 63
#define KLT_RESP_TAIL	    5 /* response bytes kept from the end of each body */

enum klt_event_type {
	KLT_EV_CONN = 1,   /* a Kafka listener socket was first seen */
	KLT_EV_FRAME,	   /* one complete Kafka frame (request or response) */
	KLT_EV_TOPIC,	   /* a topic of the Produce request being framed */
	KLT_EV_PART,	   /* a partition of the Produce request being framed */
	KLT_EV_CLOSE,	   /* the socket was closed by the broker */
	KLT_EV_BAD,	   /* the connection cannot be decoded; no more frames from it */
	KLT_EV_DESYNC,	   /* a tentative frame boundary proved wrong; frames since resync void */
	KLT_EV_SENT,	   /* ABI 2: responses held in the socket left it */
	KLT_EV_FLOW,	   /* ABI 2: a connection's receive window was full, then reopened */
	KLT_EV_ARRIVAL,	   /* ABI 2: an arrival of unread bytes the kernel's ring let go */
	KLT_EV_FETCH_PART, /* ABI 3: a partition of the follower Fetch request being framed */
	KLT_EV_PEER,	   /* ABI 3, userspace: the traced broker at a connection's far end */
	KLT_EV_LOST,	   /* ABI 5: records that did not fit in the ring came before this */
};

/* What a lost record was (klt_lost_event.counts, klt_stats.drops): its
 * type, but a frame is a request of Produce, a request of another API
 * (KLT_EV_FRAME) or a response. */
#define KLT_LOST_KINDS	  16
#define KLT_LOST_RESPONSE 14
#define KLT_LOST_PRODUCE  15

/* How a watched syscall passes its bytes (sys_io_kind[nr] holds kind + 1). */
#define KLT_MAX_SYSCALL_NR 512
enum klt_io_kind {
	KLT_IO_BUF = 0,	     /* fd, buf, count: read write recvfrom sendto */
	KLT_IO_IOV = 1,	     /* fd, iov, iovcnt: readv writev */
	KLT_IO_MSG = 2,	     /* fd, msghdr: recvmsg sendmsg */
	KLT_IO_SENDFILE = 3, /* out_fd, in_fd, offset, count: file data, skipped unread */
	KLT_IO_ACCEPT = 4,   /* accept, accept4: the new fd is the return value */
	KLT_IO_CLOSE = 5,    /* close(fd) */
};

enum klt_dir {
	KLT_DIR_RX = 0, /* bytes the broker read: requests */
	KLT_DIR_TX = 1, /* bytes the broker wrote: responses */
};

/* Why a connection is undecodable (KLT_EV_BAD.reason). */
enum klt_bad_reason {
	KLT_BAD_NONE = 0,
	KLT_BAD_SIZE,	    /* frame size < minimum or > KLT_MAX_FRAME_BYTES */
	KLT_BAD_TLS,	    /* bytes look like a TLS record */
	KLT_BAD_HEADER,	    /* api_key/api_version/client_id out of range */
	KLT_BAD_BODY,	    /* a Produce body field inconsistent with its frame */
	KLT_BAD_STEPS,	    /* too many fields in one syscall to walk */
	KLT_BAD_REASON_MAX, /* keep last */
};

/* KLT_EV_CONN.flags */
#define KLT_CONN_PREEXISTING (1u << 0) /* accepted before kafkalat attached */
/* ABI 2: the socket has an upper-layer protocol (kTLS) or a sockmap: its
 * sequence numbers do not say which bytes a read took, so its requests have
 * no wire times (KLT_FRAME_ARRIVAL_UNKNOWN) and its responses none either */
#define KLT_CONN_WIRE_SKIPPED (1u << 1)

/* KLT_EV_FRAME.flags */
#define KLT_FRAME_TENTATIVE	 (1u << 0) /* boundary found by resync, not yet proven */
#define KLT_FRAME_PRODUCE_PARSED (1u << 1) /* Produce body walked: acks/timeout/parts valid */
#define KLT_FRAME_HAS_TXN	 (1u << 2) /* Produce carries a transactional_id */
#define KLT_FRAME_PARTS_TRUNC	 (1u << 3) /* a batch header was cut short by its records size */
/* request: the arrival of its first or last byte is unknown (it came before
 * attach or before the socket was watched, or too many arrivals came after
 * it); the unknown t_wire_* is 0 */
#define KLT_FRAME_ARRIVAL_UNKNOWN (1u << 4)
/* response: its last byte had not left the socket when the write returned
 * (Nagle, a full send window, a client not reading): t_wire_last_ns is 0 */
#define KLT_FRAME_SENT_LATER (1u << 5)
/* request: some of its bytes were processed from the socket backlog (a
 * reader held the socket lock when they came): their arrival time is late by
 * up to that lock hold */
#define KLT_FRAME_ARRIVAL_BACKLOG (1u << 6)
/* request: the arrival of its first or last byte (that t_wire_* is 0) fell
 * out of the kernel's per-socket ring before the broker read it; a
 * KLT_EV_ARRIVAL record on the connection carried it */
#define KLT_FRAME_ARRIVAL_EVICTED (1u << 7)
/* ABI 3: a follower Fetch body (v4-v14, replica_id >= 0) walked: ntopics and
 * nparts valid, its KLT_EV_TOPIC and KLT_EV_FETCH_PART records came first */
#define KLT_FRAME_FETCH_PARSED (1u << 8)

/* KLT_EV_TOPIC.flags */
#define KLT_TOPIC_IS_ID (1u << 0) /* name[0..16) is a topic UUID (Produce v13+) */
#define KLT_TOPIC_FETCH (1u << 1) /* ABI 3: a topic of a follower Fetch request */

struct klt_conn_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u64 ts_ns;
	__u32 tgid;
	__s32 fd;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 local_port;
	__u16 remote_port;
	__u16 pad;
	__u8 local_addr[16]; /* IPv4 in the first 4 bytes */
	__u8 remote_addr[16];
};

struct klt_frame_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u64 t_first_ns; /* entry of the syscall that carried the frame's first byte */
	__u64 t_last_ns;  /* exit of the syscall that carried its last byte */
	__u32 tid_first;
	__u32 tid_last;
	__u32 size; /* the frame's size field: bytes after the 4-byte size */
	__u8 dir;
	__u8 client_id_len;	  /* bytes stored in client_id (<= KLT_CLIENT_ID_MAX) */
	__s16 client_id_full_len; /* length on the wire; -1 = null */
	__s16 api_key;		  /* requests only */
	__s16 api_version;	  /* requests only */
	__s32 corr_id;
	/* Produce only (KLT_FRAME_PRODUCE_PARSED) */
	__s16 acks;
	__u16 ntopics;
	__s32 timeout_ms;
	__u32 nparts;
	__u32 pad;
	__u64 record_bytes;
	__u64 records;
	char client_id[KLT_CLIENT_ID_MAX];
	/* ABI 2. Request: when its first and its last byte became readable in
	 * the broker's kernel (sk_data_ready). Response: t_wire_last_ns is when
	 * its last byte left the socket (the exit of the write that sent it);
	 * t_wire_first_ns is 0. 0 = unknown (see the flags): a response with
	 * KLT_FRAME_SENT_LATER learns its time from a later KLT_EV_SENT. */
	__u64 t_wire_first_ns;
	__u64 t_wire_last_ns;
	/* ABI 2: the TCP sequence number one past the frame's last byte (wraps;
	 * compare with a signed 32-bit difference); valid unless
	 * KLT_FRAME_ARRIVAL_UNKNOWN (request) or the connection's
	 * KLT_CONN_WIRE_SKIPPED */
	__u32 seq_end;
	/* ABI 2, responses to Produce: their last tail_len bytes (0 when the
	 * body is shorter than KLT_RESP_TAIL, or the response answers another
	 * API, whose body may end in record data): Produce v1-v8 end with
	 * throttle_time_ms, v9+ with it and their tagged fields */
	__u8 tail_len;
	__u8 tail[KLT_RESP_TAIL];
	__u8 pad2[6];
};

/* The size of a version 1 frame record. */
#define KLT_FRAME_V1_SIZE __builtin_offsetof(struct klt_frame_event, t_wire_first_ns)

struct klt_topic_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u32 topic_idx; /* order within the request, from 0 */
	__u16 name_len;	 /* bytes stored in name; 16 for a topic id */
	__s16 name_full_len;
	char name[KLT_TOPIC_NAME_MAX];
};

struct klt_part_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u32 topic_idx;
	__s32 partition;
	__s32 record_bytes; /* size of the partition's records field; -1 = null */
	__u32 records;	    /* sum of record counts over its batches */
	__u32 batches;
	__u32 pad;
	/* ABI 4: the first record batch's producerId and baseSequence (its
	 * header's bytes 43..50 and 53..56); -1 when the records hold no magic-2
	 * batch, and producerId -1 for a producer that is not idempotent */
	__s64 producer_id;
	__s32 base_sequence;
	__u32 pad2;
};

/* The size of a version 1-3 partition record. */
#define KLT_PART_V3_SIZE __builtin_offsetof(struct klt_part_event, producer_id)

/* ABI 3: a partition of a follower Fetch request (replica_id >= 0), in
 * request order after its topic's KLT_EV_TOPIC. */
struct klt_fetch_part_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u32 topic_idx;
	__s32 partition;
	__s64 fetch_offset;
	__s32 replica_id;
	__u32 pad;
};

/* ABI 3, written by userspace into event dumps: the traced broker process
 * that owns the far end of a connection (a follower's fetch connection). */
struct klt_peer_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u32 peer_tgid;
	__u32 pad;
};

struct klt_close_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u64 ts_ns;
};

struct klt_bad_event {
	__u32 type;
	__u32 reason; /* enum klt_bad_reason */
	__u64 conn_id;
	__u64 ts_ns;
	__u8 dir;
	__u8 pad[3];
	__u32 detail; /* e.g. the offending size or api_key */
};

/* Response bytes a write left queued (KLT_FRAME_SENT_LATER) went out: every
 * response byte before seq_sent had left the socket at ts_ns. */
struct klt_sent_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u64 ts_ns;
	__u32 seq_sent;
	__u32 pad;
};

/* The broker's receive window on a connection was full (the client could not
 * send) from t_full_ns until t_open_ns, when a read reopened it. */
struct klt_flow_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u64 t_full_ns;
	__u64 t_open_ns;
};

/* Stream bytes up to seq_end (exclusive) became readable at t_ns, and were
 * still unread when the kernel's ring reused their slot. */
struct klt_arrival_event {
	__u32 type;
	__u32 flags; /* KLT_ARRIVAL_* */
	__u64 conn_id;
	__u64 t_ns;
	__u32 seq_end;
	__u32 pad;
};

/* KLT_EV_ARRIVAL.flags */
#define KLT_ARRIVAL_BACKLOG (1u << 0) /* processed from the socket backlog: late */

struct klt_desync_event {
	__u32 type;
	__u32 flags;
	__u64 conn_id;
	__u64 ts_ns;
	__u8 dir;
	__u8 pad[7];
};

/* ABI 5: records that did not fit in the ring (a full ring: the reader fell
 * behind) came before this one in the stream, counts[kind] of each kind
 * (KLT_LOST_*), the first at t_first_ns. Any one thread's records after its
 * own loss come after this record. */
struct klt_lost_event {
	__u32 type;
	__u32 flags;
	__u64 t_first_ns;
	__u64 ts_ns;
	__u32 counts[KLT_LOST_KINDS];
};

/* Per-CPU counters (array map "stats", one struct per CPU), __u64
 * each: the loader sums them field by field as an array. */
struct klt_stats {
	__u64 ringbuf_drops;   /* failed ring buffer reservations */
	__u64 conn_table_full; /* conn state could not be created */
	__u64 resync_skipped;  /* syscalls skipped while looking for a frame boundary */
	__u64 frames;	       /* frames emitted */
	__u64 syscalls;	       /* socket syscalls of Kafka connections walked */
	__u64 steps;	       /* framer steps (bpf_loop iterations) */
	__u64 arrivals;	       /* sk_data_ready on watched sockets */
	__u64 arrival_unknown; /* request frames with KLT_FRAME_ARRIVAL_UNKNOWN */
	__u64 sent_later;      /* response frames with KLT_FRAME_SENT_LATER */
	__u64 arrival_no_ring; /* watched sockets whose arrival ring could not be made */
	__u64 arrival_backlog; /* request frames with KLT_FRAME_ARRIVAL_BACKLOG */
	__u64 wire_skipped;    /* connections with KLT_CONN_WIRE_SKIPPED */
	__u64 sent_events;     /* KLT_EV_SENT emitted */
	__u64 flow_events;     /* KLT_EV_FLOW emitted */
	__u64 arrival_evicted; /* request frames with KLT_FRAME_ARRIVAL_EVICTED */
	__u64 arrival_events;  /* KLT_EV_ARRIVAL emitted */
	__u64 arrival_dropped; /* unread arrivals let go before the connection was classified */
	__u64 drops[KLT_LOST_KINDS]; /* ringbuf_drops by kind (KLT_LOST_*) */
};

#endif /* KAFKALAT_EVENTS_H */
