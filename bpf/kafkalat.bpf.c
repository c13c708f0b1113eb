// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket syscalls of the broker processes (up to KLT_MAX_BROKERS): frame the
 * Kafka byte stream of every connection to their listener ports and emit
 * each frame's header, Produce metadata and follower Fetch partitions to one
 * ring buffer. The ports of all brokers are one set: a broker's connection
 * to another broker's port (a follower's fetch) is the other broker's
 * connection, seen from its accepting side only, since only accepted
 * sockets are on a listener port. Tracepoints only (no kprobes/fentry).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define KW_WIN_USER(dst, n, src) bpf_probe_read_user((dst), (n), (const void *)(src))
#define KW_WIN_KERN(dst, n, src) bpf_probe_read_kernel((dst), (n), (src))
#ifdef KLT_NO_WINDOW /* scripts/bench_walk.sh's other side: a read per token */
#define KW_READ(dst, n, in) bpf_probe_read_user((dst), (n), (const void *)(in)->addr)
#else
#define KW_READ(dst, n, in) \
	kw_win_read((in)->windowed ? read_window() : NULL, (dst), (n), (in)->addr, (in)->avail)
#endif
#define KW_STEP_FN __attribute__((noinline))
#include "readwin.h"

/* the framer's window on the syscall being walked (readwin.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kw_win);
} read_windows SEC(".maps");

static __always_inline struct kw_win *read_window(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&read_windows, &zero);
}

#include "framer.h"
#include "arrival.h"
#include "fdtable.h"
#include "bench_floor.h"
#include "bench_split.h"
#include "syscall_nr.h"
#define RING_STATS     struct klt_stats
#define RING_LOST_TYPE KLT_EV_LOST
#include "broker.h"
#include "ringbuf.h"

#define AF_INET	    2
#define AF_INET6    10
#define IPPROTO_TCP 6
#define TCP_LISTEN  10
#define E2BIG	    7
#define S_IFMT	    00170000
#define S_IFSOCK    0140000

#define MAX_CONNS 65536
#define MAX_IOV	  1024 /* UIO_MAXIOV */
#define MAX_STEPS (1 << 19)

const volatile __u16 targ_ports[KLT_MAX_PORTS] = {};
const volatile __u32 targ_nports = 0;

/* A typed view of a kernel pointer whose loads the verifier makes
 * fault-safe: a plain load each, where bpf_probe_read_kernel is a helper
 * call per field. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

static __always_inline struct tcp_sock *tcp_sk_view(const void *sk)
{
	return bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
}

__u64 conn_seq = 0;

struct conn_key {
	__u32 tgid;
	__s32 fd;
};

struct conn {
	__u64 conn_id;
	__u64 sk; /* the struct sock the fd resolved to: the key of arrivals */
	struct kw_flow rx;
	struct kw_flow tx;
	struct kw_names names;
};

struct pending_io {
	__u64 addr;
	__u64 t_enter;
	__u32 count;
	__s32 fd;
	__u8 kind;
	__u8 dir;
	__u8 armed; /* set at syscall entry, cleared at exit */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CONNS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct conn_key);
	__type(value, struct conn);
} conns SEC(".maps");

/* fds known not to be Kafka connections (files, other sockets) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_CONNS);
	__type(key, struct conn_key);
	__type(value, __u8);
} not_kafka SEC(".maps");

/* the syscall in progress of each broker thread: task storage is a pointer
 * away from the task, cheaper than a hash update and delete per syscall */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending_io);
} pending SEC(".maps");

/* What the wire says about one watched socket, outside any syscall. */
struct sk_wire {
	struct arr_ring rx; /* when its stream bytes became readable */
	__u64 conn_id;
	__u64 t_full;	  /* its receive window filled at this time; 0 while open */
	__u64 tx_waiting; /* a write returned with a response not yet sent */
	__u32 tx_pending; /* response bytes before this have not all left */
	__u32 pad;
};

/* Keyed by the struct sock: sk_data_ready and the transmit path run in
 * whichever task delivered or sent the data (on loopback the peer's), so
 * only the socket says it is watched. Made when a connection to a watched
 * port is established (or, for one open before attach, when it is first
 * classified) and removed when it closes: not preallocated, so its size
 * follows the connections there are. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CONNS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sk_wire);
} wires SEC(".maps");

/* a zeroed sk_wire to insert from: too large for the BPF stack */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sk_wire);
} wire_zero SEC(".maps");

/* Sockets with a response waiting to leave: while 0, the transmit hook
 * returns after this one load. */
__u64 tx_waiting_socks = 0;

/* a zeroed conn to insert from: too large for the BPF stack */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conn);
} conn_zero SEC(".maps");

static __always_inline int port_watched(__u16 port)
{
	for (__u32 i = 0; i < KLT_MAX_PORTS; i++)
		if (i < targ_nports && targ_ports[i] == port)
			return 1;
	return 0;
}

/* sk, which may be NULL, is a socket on a watched port. */
static __always_inline int sk_port_watched(struct sock *sk)
{
	return sk && port_watched(sk->__sk_common.skc_num);
}

/* fd -> struct sock of a TCP connection, or NULL (CO-RE through the fdtable). */
static __always_inline struct sock *fd_to_tcp_sock(__s32 fd)
{
	struct file *file = fd_to_file(fd);
	struct socket *sock;
	struct sock *sk;
	umode_t mode;

	if (!file)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	return sk;
}

static __always_inline void emit_conn(struct conn *c, struct sock *sk, __s32 fd, __u32 flags)
{
	struct klt_conn_event *e = ring_reserve(sizeof(*e), KLT_EV_CONN);

	if (!e)
		return;
	e->type = KLT_EV_CONN;
	e->flags = flags;
	e->conn_id = c->conn_id;
	e->ts_ns = bpf_ktime_get_ns();
	e->tgid = current_tgid();
	e->fd = fd;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->pad = 0;
	__builtin_memset(e->local_addr, 0, sizeof(e->local_addr));
	__builtin_memset(e->remote_addr, 0, sizeof(e->remote_addr));
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->local_addr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->remote_addr, sk, __sk_common.skc_daddr);
	}
	ring_submit(e);
}

/* Whether sk's byte stream is not plain TCP's: an upper-layer protocol
 * (kTLS) or a sockmap psock takes the data, and copied_seq no longer says
 * which bytes a read returned. */
static __always_inline int wire_unusual(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk_view(sk);

	return tp->inet_conn.icsk_ulp_ops != NULL ||
	       tp->inet_conn.icsk_inet.sk.sk_user_data != NULL;
}

/* Start timing sk's arrivals: bytes before rcv_nxt arrived unseen. */
static __always_inline void wire_new(__u64 key, __u32 rcv_nxt)
{
	struct sk_wire *tmpl;
	struct klt_stats *st;
	__u32 zero = 0;

	tmpl = bpf_map_lookup_elem(&wire_zero, &zero);
	if (!tmpl)
		return;
	arr_init(&tmpl->rx, rcv_nxt);
	if (bpf_map_update_elem(&wires, &key, tmpl, BPF_NOEXIST) == -E2BIG && (st = stats_get()))
		__sync_fetch_and_add(&st->arrival_no_ring, 1);
}

/* sk is no longer watched: a response still waiting to leave is not awaited. */
static __always_inline void wire_forget(__u64 sk)
{
	struct sk_wire *w = bpf_map_lookup_elem(&wires, &sk);

	if (w && w->tx_waiting && __sync_lock_test_and_set(&w->tx_waiting, 0))
		__sync_fetch_and_add(&tx_waiting_socks, -1);
	bpf_map_delete_elem(&wires, &sk);
}

/* A connection of the broker's was classified: time its wire under conn_id.
 * One established after attach has had its arrivals timed since then; one
 * open before has its ring made now, and the bytes already readable have no
 * known arrival (the ring's floor). Returns 0, or KLT_CONN_WIRE_SKIPPED. */
static __always_inline __u32 wire_watch(struct sock *sk, __u64 conn_id)
{
	struct sk_wire *w;
	struct klt_stats *st;
	__u64 key = (__u64)sk;

	if (wire_unusual(sk)) {
		wire_forget(key);
		if ((st = stats_get()))
			__sync_fetch_and_add(&st->wire_skipped, 1);
		return KLT_CONN_WIRE_SKIPPED;
	}
	w = bpf_map_lookup_elem(&wires, &key);
	if (!w) {
		wire_new(key, tcp_sk_view(sk)->rcv_nxt);
		w = bpf_map_lookup_elem(&wires, &key);
	}
	if (w)
		w->conn_id = conn_id;
	return 0;
}

/*
 * The connection state of fd, creating it the first time a Kafka listener
 * socket is seen. Connections first seen here (not at accept) were open
 * before we attached: their streams are resynchronised.
 */
static __always_inline struct conn *conn_get(__s32 fd, int accepted)
{
	struct conn_key key = {.tgid = current_tgid(), .fd = fd};
	struct conn *c = bpf_map_lookup_elem(&conns, &key);
	struct klt_stats *st;
	struct sock *sk;
	__u32 zero = 0;
	__u8 one = 1;
	__u16 family;
	__u32 flags;
	struct conn *tmpl;

	if (c)
		return c;
	if (bpf_map_lookup_elem(&not_kafka, &key))
		return NULL;
	sk = fd_to_tcp_sock(fd);
	family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
	if (!sk || (family != AF_INET && family != AF_INET6) ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_LISTEN ||
	    !port_watched(BPF_CORE_READ(sk, __sk_common.skc_num))) {
		bpf_map_update_elem(&not_kafka, &key, &one, BPF_ANY);
		return NULL;
	}
	tmpl = bpf_map_lookup_elem(&conn_zero, &zero);
	if (!tmpl)
		return NULL;
	if (bpf_map_update_elem(&conns, &key, tmpl, BPF_NOEXIST) && (st = stats_get())) {
		__sync_fetch_and_add(&st->conn_table_full, 1);
		return NULL;
	}
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return NULL;
	c->conn_id = __sync_fetch_and_add(&conn_seq, 1) + 1;
	c->sk = (__u64)sk;
	flags = wire_watch(sk, c->conn_id);
	if (flags)
		c->sk = 0; /* no wire times for this socket */
	c->rx.dir = KLT_DIR_RX;
	c->tx.dir = KLT_DIR_TX;
	c->rx.sync = accepted ? KW_SYNCED : KW_RESYNC;
	c->tx.sync = c->rx.sync;
	emit_conn(c, sk, fd, flags | (accepted ? 0 : KLT_CONN_PREEXISTING));
	return c;
}

static __always_inline void conn_forget(__s32 fd)
{
	struct conn_key key = {.tgid = current_tgid(), .fd = fd};
	struct conn *c = bpf_map_lookup_elem(&conns, &key);

	if (c && c->sk)
		wire_forget(c->sk);
	bpf_map_delete_elem(&conns, &key);
	bpf_map_delete_elem(&not_kafka, &key);
}

/* ---- emitting what the framer found ---- */

/* The arrivals of a request's first and last byte. */
struct wire_span {
	__u64 t_first;
	__u64 t_last;
	__u32 flags; /* KLT_FRAME_ARRIVAL_* */
	__u32 pad;
};

static __always_inline void emit_flow(struct sk_wire *w, __u64 now)
{
	struct klt_flow_event *e = ring_reserve(sizeof(*e), KLT_EV_FLOW);
	struct klt_stats *st;

	if (!e)
		return;
	e->type = KLT_EV_FLOW;
	e->flags = 0;
	e->conn_id = w->conn_id;
	e->t_full_ns = w->t_full;
	e->t_open_ns = now;
	ring_submit(e);
	if ((st = stats_get()))
		st->flow_events++;
}

/* KLT_FRAME_ARRIVAL_* for a frame whose ends' lookups said arr_flags: one
 * arriving before the watch makes the whole unknown; an evicted end is
 * resolved by the reader from KLT_EV_ARRIVAL. */
static __always_inline __u32 frame_arrival_flags(__u32 arr_flags)
{
	__u32 flags = 0;

	if (arr_flags & ARR_UNWATCHED)
		return KLT_FRAME_ARRIVAL_UNKNOWN;
	if (arr_flags & ARR_EVICTED)
		flags |= KLT_FRAME_ARRIVAL_EVICTED;
	if (arr_flags & ARR_BACKLOG)
		flags |= KLT_FRAME_ARRIVAL_BACKLOG;
	return flags;
}

/*
 * A read completed a request ending before seq_end on socket sk: when its
 * bytes arrived. It also ends a full-window period the read reopened. A
 * global function: the verifier checks it once on its own, instead of
 * unrolling the ring scans at every frame end of every walk step.
 */
__noinline int wire_rx_frame(__u64 sk, __u32 seq_first, __u32 seq_end, struct wire_span *out)
{
	struct sk_wire *w;
	struct tcp_sock *tp;
	__u32 f1, f2;

	if (!out)
		return 0;
	out->t_first = out->t_last = 0;
	out->flags = KLT_FRAME_ARRIVAL_UNKNOWN;
	w = bpf_map_lookup_elem(&wires, &sk);
	if (!w)
		return 0;
	out->t_first = arr_find(&w->rx, seq_first, &f1);
	out->t_last = arr_find(&w->rx, seq_end - 1, &f2);
	out->flags = frame_arrival_flags(f1 | f2);
	if (out->flags & KLT_FRAME_ARRIVAL_UNKNOWN)
		out->t_first = out->t_last = 0;
	tp = tcp_sk_view((void *)sk);
	if (w->t_full) {
		if (arr_window_open(tp->rcv_wup, tp->rcv_wnd, tp->rcv_nxt,
				    tp->inet_conn.icsk_ack.rcv_mss)) {
			emit_flow(w, bpf_ktime_get_ns());
			w->t_full = 0;
		}
	}
	return 0;
}

static __always_inline void emit_sent(struct sk_wire *w, __u32 seq_sent, __u64 now)
{
	struct klt_sent_event *e = ring_reserve(sizeof(*e), KLT_EV_SENT);
	struct klt_stats *st;

	if (!e)
		return;
	e->type = KLT_EV_SENT;
	e->flags = 0;
	e->conn_id = w->conn_id;
	e->ts_ns = now;
	e->seq_sent = seq_sent;
	e->pad = 0;
	ring_submit(e);
	if ((st = stats_get()))
		st->sent_events++;
}

/*
 * A write returned with its response's bytes before seq_end not all sent:
 * have the transmit hook say when they leave. The bytes may leave between
 * the write's check and this mark, on another CPU: the check is made again
 * after the mark, and then the send is dated now.
 */
__noinline int wire_tx_later(__u64 sk, __u32 seq_end)
{
	struct sk_wire *w = bpf_map_lookup_elem(&wires, &sk);
	struct tcp_sock *tp;

	if (!w)
		return 0;
	w->tx_pending = seq_end;
	if (!w->tx_waiting && !__sync_lock_test_and_set(&w->tx_waiting, 1))
		__sync_fetch_and_add(&tx_waiting_socks, 1);
	tp = tcp_sk_view((void *)sk);
	if (arr_seq_diff(tp->snd_nxt, seq_end) >= 0 &&
	    __sync_lock_test_and_set(&w->tx_waiting, 0)) {
		__sync_fetch_and_add(&tx_waiting_socks, -1);
		emit_sent(w, seq_end, bpf_ktime_get_ns());
	}
	return 0;
}

/* The kernel's payload-per-buffer-byte estimate (1/256), where it has one. */
static __always_inline __u32 tcp_scaling_ratio(const struct tcp_sock *tp)
{
	if (bpf_core_field_exists(tp->scaling_ratio))
		return tp->scaling_ratio;
	return 128; /* tcp_win_from_space's fixed half before it had one */
}

/* One past the last TCP payload byte of an outgoing skb, from its header. */
static __always_inline int skb_tcp_end_seq(const struct sk_buff *skb, __u32 *end)
{
	unsigned char *head = skb->head;
	struct tcphdr th;
	__u32 hdr_end, payload;

	if (bpf_probe_read_kernel(&th, sizeof(th), head + skb->transport_header))
		return -1;
	/* skb->len counts from skb->data; the payload follows the TCP header */
	hdr_end = skb->transport_header + th.doff * 4 - (__u32)(skb->data - head);
	if (hdr_end > skb->len)
		return -1;
	payload = skb->len - hdr_end;
	*end = bpf_ntohl(th.seq) + payload;
	return 0;
}

/* What the walk of one syscall knows about the socket's sequence space. */
struct wire {
	__u64 sk;	 /* 0: no wire times on this socket */
	__u32 seq_start; /* sequence number of the syscall's first byte */
	__u32 snd_nxt;	 /* TX: at the write's exit, all before this left */
};

/* The frame's wire times: request bytes' arrivals from the ring, or whether
 * the response's last byte left before the write returned. seq_end is one
 * past the frame's last byte; st the counters, NULL when unavailable. */
static __always_inline void frame_wire(struct klt_frame_event *e, struct kw_flow *f,
				       struct wire *wr, __u32 seq_end, __u64 t_last,
				       struct klt_stats *st)
{
	struct wire_span span;

	e->t_wire_first_ns = 0;
	e->t_wire_last_ns = 0;
	e->seq_end = seq_end;
	if (f->dir == KLT_DIR_RX) {
		span.flags = KLT_FRAME_ARRIVAL_UNKNOWN;
		span.t_first = span.t_last = 0;
		if (wr->sk)
			wire_rx_frame(wr->sk, arr_frame_first(seq_end, f->size), seq_end, &span);
		e->t_wire_first_ns = span.t_first;
		e->t_wire_last_ns = span.t_last;
		e->flags |= span.flags;
		if (st) {
			if (span.flags & KLT_FRAME_ARRIVAL_UNKNOWN)
				st->arrival_unknown++;
			if (span.flags & KLT_FRAME_ARRIVAL_EVICTED)
				st->arrival_evicted++;
			if (span.flags & KLT_FRAME_ARRIVAL_BACKLOG)
				st->arrival_backlog++;
		}
		return;
	}
	if (wr->sk && arr_seq_diff(wr->snd_nxt, seq_end) >= 0) {
		e->t_wire_last_ns = t_last;
		return;
	}
	e->flags |= KLT_FRAME_SENT_LATER;
	if (wr->sk)
		wire_tx_later(wr->sk, seq_end);
	if (st)
		st->sent_later++;
}

/* A lost frame's kind: requests of Produce and of other APIs, and
 * responses, apart (the reader counts the requests the loss touched). */
static __always_inline __u32 frame_lost_kind(const struct kw_flow *f)
{
	if (f->dir == KLT_DIR_TX)
		return KLT_LOST_RESPONSE;
	return f->api_key == 0 ? KLT_LOST_PRODUCE : KLT_EV_FRAME;
}

static __always_inline void emit_frame(struct conn *c, struct kw_flow *f, struct wire *wr,
				       __u32 seq_end, __u64 t_last)
{
	struct klt_frame_event *e = ring_reserve(sizeof(*e), frame_lost_kind(f));
	struct klt_stats *st;

	if (!e)
		return;
	st = stats_get();
	kw_fill_frame(e, f, &c->names, c->conn_id, t_last, (__u32)bpf_get_current_pid_tgid());
	frame_wire(e, f, wr, seq_end, t_last, st);
	if (st)
		st->frames++;
	ring_submit(e);
}

static __always_inline void emit_topic(struct conn *c, struct kw_flow *f)
{
	struct klt_topic_event *e = ring_reserve(sizeof(*e), KLT_EV_TOPIC);

	if (!e)
		return;
	kw_fill_topic(e, f, &c->names, c->conn_id);
	ring_submit(e);
}

static __always_inline void emit_part(struct conn *c, struct kw_flow *f)
{
	struct klt_part_event *e = ring_reserve(sizeof(*e), KLT_EV_PART);

	if (!e)
		return;
	kw_fill_part(e, f, c->conn_id);
	ring_submit(e);
}

static __always_inline void emit_fetch_part(struct conn *c, struct kw_flow *f)
{
	struct klt_fetch_part_event *e = ring_reserve(sizeof(*e), KLT_EV_FETCH_PART);

	if (!e)
		return;
	kw_fill_fetch_part(e, f, c->conn_id);
	ring_submit(e);
}

static __always_inline void emit_bad(struct conn *c, struct kw_flow *f)
{
	struct klt_bad_event *e = ring_reserve(sizeof(*e), KLT_EV_BAD);

	if (!e)
		return;
	kw_fill_bad(e, f, c->conn_id, bpf_ktime_get_ns());
	ring_submit(e);
}

static __always_inline void emit_desync(struct conn *c, struct kw_flow *f)
{
	struct klt_desync_event *e = ring_reserve(sizeof(*e), KLT_EV_DESYNC);

	if (!e)
		return;
	e->type = KLT_EV_DESYNC;
	e->flags = 0;
	e->conn_id = c->conn_id;
	e->ts_ns = bpf_ktime_get_ns();
	e->dir = f->dir;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	ring_submit(e);
}

/* ---- walking the bytes of one syscall ---- */

struct walk {
	struct conn *c;
	struct kw_flow *f;
	struct kw_in in;
	__u64 iov;  /* user address of the iovec array (KLT_IO_IOV/KLT_IO_MSG) */
	__u64 left; /* bytes of the syscall's return value not yet assigned to a segment */
	__u64 t_exit;
	__u64 ret; /* the syscall's return value: the bytes it moved */
	struct wire wire;
	__u32 iov_next;
	__u32 iov_cnt;
	__u8 kind;
	__u8 done;
};

/* Move to the next iovec with data; 0 when there is none. */
static __always_inline int walk_next_segment(struct walk *w)
{
	struct iovec iv;

	if (w->left == 0 || w->kind == KLT_IO_BUF || w->iov_next >= w->iov_cnt ||
	    w->iov_next >= MAX_IOV)
		return 0;
	if (bpf_probe_read_user(&iv, sizeof(iv), (void *)(w->iov + w->iov_next * sizeof(iv))))
		return 0;
	w->iov_next++;
	w->in.addr = (__u64)iv.iov_base;
	w->in.avail = iv.iov_len < w->left ? iv.iov_len : w->left;
	w->left -= w->in.avail;
	return 1;
}

static int walk_step(__u64 index __attribute__((unused)), void *ctx)
{
	struct walk *w = ctx;
	struct conn *c = w->c;
	struct kw_flow *f = w->f;
	struct klt_stats *st;
	int r;

	if (!c || !f)
		return 1;
	if (w->in.avail == 0 && !kw_pending(f)) {
		if (!walk_next_segment(w))
			goto out_done;
		return 0;
	}
	r = kw_step(f, &c->names, &w->in);
	switch (r) {
	case KW_FRAME:
		emit_frame(c, f, &w->wire,
			   arr_walk_seq(w->wire.seq_start, w->ret, w->left, w->in.avail),
			   w->t_exit);
		if (f->dir == KLT_DIR_RX) {
			kw_note_request_corr(&c->tx, f->corr_id);
			kw_note_request_api(&c->tx, f->corr_id, f->api_key);
		}
		return 0;
	case KW_TOPIC:
		emit_topic(c, f);
		return 0;
	case KW_PART:
		emit_part(c, f);
		return 0;
	case KW_FETCH_PART:
		emit_fetch_part(c, f);
		return 0;
	case KW_BADCONN:
		emit_bad(c, f);
		goto out_done;
	case KW_DESYNC:
		emit_desync(c, f);
		goto out_stop;
	case KW_STOP:
		goto out_stop;
	default:
		return 0;
	}
out_stop:
	if ((st = stats_get()))
		st->resync_skipped++;
out_done:
	w->done = 1;
	return 1;
}

/* Where this syscall's bytes sit in the socket's sequence space, read at its
 * exit: a read took the ret bytes before copied_seq, a write queued the ret
 * bytes before write_seq, and all bytes before snd_nxt have left. */
static __always_inline void wire_read(struct wire *wr, struct conn *c, __u8 dir, __u64 ret)
{
	struct tcp_sock *tp;

	if (!c->sk)
		return;
	tp = tcp_sk_view((void *)c->sk);
	wr->sk = c->sk;
	if (dir == KLT_DIR_RX) {
		wr->seq_start = tp->copied_seq - (__u32)ret;
	} else {
		wr->seq_start = tp->write_seq - (__u32)ret;
		wr->snd_nxt = tp->snd_nxt;
	}
}

/* windowed: whether the program runs with preemption off (a perf
 * tracepoint's), so that the per-CPU read window is this walk's alone */
static __always_inline void walk_syscall(struct conn *c, struct pending_io *p, __u64 ret,
					 int windowed)
{
	struct walk w = {};
	struct klt_stats *st;
	long n;

	w.c = c;
	w.f = p->dir == KLT_DIR_RX ? &c->rx : &c->tx;
	w.t_exit = bpf_ktime_get_ns();
	w.kind = p->kind;
	w.in.t_enter = p->t_enter;
	w.in.tid = (__u32)bpf_get_current_pid_tgid();
	w.in.at_syscall_start = 1;
	w.left = ret;
	w.ret = ret;
	wire_read(&w.wire, c, p->dir, ret);
	w.in.windowed = windowed;
	kw_win_reset(read_window());
	if (p->kind == KLT_IO_BUF) {
		w.in.addr = p->addr;
		w.in.avail = ret;
		w.left = 0;
	} else if (p->kind == KLT_IO_MSG) {
		struct user_msghdr msg;

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)p->addr))
			return;
		w.iov = (__u64)msg.msg_iov;
		w.iov_cnt = (__u32)msg.msg_iovlen;
	} else {
		w.iov = p->addr;
		w.iov_cnt = p->count;
	}
	n = bpf_loop(MAX_STEPS, walk_step, &w, 0);
	if ((st = stats_get())) {
		st->syscalls++;
		st->steps += n;
	}
	if (n >= MAX_STEPS && !w.done && w.f->sync != KW_BAD) {
		/* cannot happen with sane frames; do not guess at the rest */
		w.f->sync = KW_BAD;
		w.f->bad_reason = KLT_BAD_STEPS;
		w.f->bad_detail = (__u32)ret;
		emit_bad(c, w.f);
	}
}

/* sendfile() carries record data of a Fetch response: skip it unread. A
 * response ending in file data (Fetch v4-v11) is complete now: its frame
 * goes out with this syscall's times, from a walk of no bytes. */
static __always_inline void skip_sendfile(struct conn *c, struct pending_io *p, __u64 ret)
{
	struct kw_flow *f = &c->tx;
	struct walk w = {};

	/* headers went out inside file data we cannot read */
	if (kw_skip_file(f, ret)) {
		emit_desync(c, f);
		return;
	}
	if (!kw_pending(f))
		return;
	w.c = c;
	w.f = f;
	w.t_exit = bpf_ktime_get_ns();
	w.kind = KLT_IO_BUF;
	w.in.t_enter = p->t_enter;
	w.in.tid = (__u32)bpf_get_current_pid_tgid();
	w.ret = ret;
	wire_read(&w.wire, c, KLT_DIR_TX, ret);
	bpf_loop(4, walk_step, &w, 0);
}

static __always_inline void on_close(__s32 fd)
{
	struct conn_key key = {.tgid = current_tgid(), .fd = fd};
	struct klt_close_event *e;
	struct conn *c;

	c = bpf_map_lookup_elem(&conns, &key);
	if (c && (e = ring_reserve(sizeof(*e), KLT_EV_CLOSE))) {
		e->type = KLT_EV_CLOSE;
		e->flags = 0;
		e->conn_id = c->conn_id;
		e->ts_ns = bpf_ktime_get_ns();
		ring_submit(e);
	}
	conn_forget(fd);
}

/* A new connection: any state left for a reused fd number is stale. */
static __always_inline void on_accept(long ret)
{
	if (ret < 0)
		return;
	conn_forget((__s32)ret);
	conn_get((__s32)ret, 1);
}

/* ---- syscall tracepoints ---- */

static __always_inline int io_enter(__s32 fd, __u64 addr, __u64 count, __u8 kind, __u8 dir)
{
	struct conn_key key = {.tgid = current_tgid(), .fd = fd};
	struct pending_io *p;

	/* cheap early out for files and other sockets already classified */
	if (kind != KLT_IO_ACCEPT && bpf_map_lookup_elem(&not_kafka, &key))
		return 0;
	p = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return 0;
	p->addr = addr;
	p->count = count > 0xffffffffULL ? 0xffffffffU : (__u32)count;
	p->fd = fd;
	p->kind = kind;
	p->dir = dir;
	p->armed = 1;
	p->t_enter = bpf_ktime_get_ns();
	return 0;
}

#ifdef KLT_SELF_TIME
/* scripts/bench_walk.sh: the walks of broker syscalls, timed */
__u64 self_ns = 0, self_runs = 0;
#endif
static __always_inline int io_exit(long ret, int windowed)
{
	struct pending_io *pp, p;
	struct conn *c;

	pp = bpf_task_storage_get(&pending, bpf_get_current_task_btf(), 0, 0);
	if (!pp || !pp->armed)
		return 0;
	pp->armed = 0;
	if (pp->kind == KLT_IO_ACCEPT) {
		on_accept(ret);
		return 0;
	}
	if (ret <= 0)
		return 0;
	p = *pp;
#ifdef KLT_SELF_TIME
	__u64 t0 = bpf_ktime_get_ns();
#endif
	c = conn_get(p.fd, 0);
	if (!c)
		return 0;
	if (p.kind == KLT_IO_SENDFILE)
		skip_sendfile(c, &p, (__u64)ret);
	else
		walk_syscall(c, &p, (__u64)ret, windowed);
#ifdef KLT_SELF_TIME
	__sync_fetch_and_add(&self_ns, bpf_ktime_get_ns() - t0);
	__sync_fetch_and_add(&self_runs, 1);
#endif
	return 0;
}

/*
 * Stream bytes became readable on a socket: time them if it is a watched
 * connection's. This runs for every socket's data on the machine, in the task
 * that delivered it: one lookup decides. Payload is never read.
 */
/* The ring is about to reuse a slot whose bytes the broker has not read (a
 * muted connection with a deep backlog): hand its arrival to the reader. */
static __always_inline void hand_on_evicted(struct sk_wire *w, __u32 copied_seq)
{
	const struct arr_slot *s = arr_evicting(&w->rx, copied_seq);
	struct klt_arrival_event *e;
	struct klt_stats *st;

	if (!s)
		return;
	st = stats_get();
	if (!w->conn_id) {
		/* not yet accepted: no connection to name */
		if (st)
			st->arrival_dropped++;
		return;
	}
	e = ring_reserve(sizeof(*e), KLT_EV_ARRIVAL);
	if (!e)
		return;
	e->type = KLT_EV_ARRIVAL;
	e->flags = s->flags & ARR_BACKLOG ? KLT_ARRIVAL_BACKLOG : 0;
	e->conn_id = w->conn_id;
	e->t_ns = s->t_ns;
	e->seq_end = s->seq_end;
	e->pad = 0;
	ring_submit(e);
	if (st)
		st->arrival_events++;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(sk_data_ready, struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tcp_sock *tp;
	struct sk_wire *w;
	struct klt_stats *st;
	__u64 now;
	__s64 free;

	BENCH_SPLIT_COUNT(sk_data_ready, port_watched(sk->__sk_common.skc_num));
	BENCH_FLOOR_RETURN();
	/* the local port first: a load and a compare send most sockets away
	 * (on loopback, the client's own) before the hash lookup */
	if (!port_watched(sk->__sk_common.skc_num))
		return 0;
	w = bpf_map_lookup_elem(&wires, &key);
	if (!w)
		return 0;
	tp = tcp_sk_view(sk);
	now = bpf_ktime_get_ns();
	hand_on_evicted(w, tp->copied_seq);
	/* from the backlog, the segment waited for the lock's owner to release it */
	arr_push(&w->rx, tp->rcv_nxt, now, sk->sk_lock.owned ? ARR_BACKLOG : 0);
	if (!w->t_full) {
		free =
		    (__s64)sk->sk_rcvbuf - sk->sk_backlog.len - sk->sk_backlog.rmem_alloc.counter;
		if (arr_window_full(free, tcp_scaling_ratio(tp), tp->inet_conn.icsk_ack.rcv_mss))
			w->t_full = now;
	}
	if ((st = stats_get()))
		st->arrivals++;
	return 0;
}

/*
 * A TCP connection changed state. One to a watched port that becomes
 * established gets its arrival ring now, before the broker accepts it: a
 * client's first request often arrives before accept() returns. A closed
 * one's ring goes. Other protocols and ports leave at the first checks.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
	BENCH_SPLIT_COUNT(inet_sock_set_state,
			  sk->sk_protocol == IPPROTO_TCP && port_watched(sk->__sk_common.skc_num));
	BENCH_FLOOR_RETURN();
	if (sk->sk_protocol != IPPROTO_TCP || !port_watched(sk->__sk_common.skc_num))
		return 0;
	if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV)
		wire_new((__u64)sk, tcp_sk_view(sk)->rcv_nxt);
	else if (newstate == TCP_CLOSE)
		wire_forget((__u64)sk);
	return 0;
}

/*
 * A packet leaves for a device. While a watched socket has a response
 * waiting to leave (rare: Nagle, a full send window, a client not reading),
 * say up to which byte its responses have left. Every other packet on the
 * machine returns after one load.
 */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(net_dev_queue, struct sk_buff *skb)
{
	struct sk_wire *w;
	struct sock *sk;
	__u64 key;
	__u32 end;

	BENCH_SPLIT_COUNT(net_dev_queue, sk_port_watched(skb->sk));
	BENCH_FLOOR_RETURN();
	if (!tx_waiting_socks)
		return 0;
	sk = skb->sk;
	if (!sk || !port_watched(sk->__sk_common.skc_num))
		return 0;
	key = (__u64)sk;
	w = bpf_map_lookup_elem(&wires, &key);
	if (!w || !w->tx_waiting)
		return 0;
	if (skb_tcp_end_seq(skb, &end))
		return 0;
	/* each segment dates the responses it completes, the last one too */
	emit_sent(w, end, bpf_ktime_get_ns());
	if (arr_seq_diff(end, w->tx_pending) >= 0 && __sync_lock_test_and_set(&w->tx_waiting, 0))
		__sync_fetch_and_add(&tx_waiting_socks, -1);
	return 0;
}

/*
 * Where the syscalls' own tracepoints are missing, two programs on the raw
 * syscall tracepoints (tp_btf, the syscall's registers) serve every watched
 * syscall, at the price of running for every syscall of every process.
 * Rodata tables indexed by syscall number give each one's I/O shape and
 * direction; other processes leave at the first comparison.
 */
const volatile __u8 sys_io_kind[KLT_MAX_SYSCALL_NR] = {};
const volatile __u8 sys_io_dir[KLT_MAX_SYSCALL_NR] = {};

/* A watched syscall's entry; count is its third argument, sendfile's fourth. */
static __always_inline int enter_watched(long id, __u64 fd, __u64 addr, __u64 arg2, __u64 arg3)
{
	__u8 kind;

	if (id < 0 || id >= KLT_MAX_SYSCALL_NR)
		return 0;
	kind = sys_io_kind[id];
	if (!kind--)
		return 0;
	if (kind == KLT_IO_CLOSE) {
		on_close((__s32)fd);
		return 0;
	}
	return io_enter((__s32)fd, addr, kind == KLT_IO_SENDFILE ? arg3 : arg2, kind,
			sys_io_dir[id]);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	BENCH_SPLIT_COUNT(sys_enter, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	return enter_watched(id, PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs),
			     PT_REGS_PARM3_CORE_SYSCALL(regs), PT_REGS_PARM4_CORE_SYSCALL(regs));
}

/*
 * The same on each watched syscall's own tracepoint (syscalls/sys_enter_read,
 * ...; the loader attaches one program to many): the raw pair above runs for
 * every syscall of every process, these only for the syscalls watched. The
 * kernel refuses a program that reads past the record of the syscall it is
 * attached to, so there is one program per argument count.
 */
SEC("tracepoint")
int sock_enter3(struct trace_event_raw_sys_enter *ctx)
{
	BENCH_SPLIT_COUNT(sock_enter3, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	return enter_watched(tp_enter_syscall_nr(ctx), ctx->args[0], ctx->args[1], ctx->args[2], 0);
}

SEC("tracepoint")
int sock_enter4(struct trace_event_raw_sys_enter *ctx)
{
	BENCH_SPLIT_COUNT(sock_enter4, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	return enter_watched(tp_enter_syscall_nr(ctx), ctx->args[0], ctx->args[1], ctx->args[2],
			     ctx->args[3]);
}

SEC("tracepoint")
int sock_enter1(struct trace_event_raw_sys_enter *ctx)
{
	BENCH_SPLIT_COUNT(sock_enter1, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	return enter_watched(tp_enter_syscall_nr(ctx), ctx->args[0], 0, 0, 0);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long nr;

	BENCH_SPLIT_COUNT(sys_exit, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	/* most of a broker's syscalls are not watched: leave before the task
	 * storage lookup */
	nr = regs_syscall_nr(regs);
	if (nr >= 0 && (nr >= KLT_MAX_SYSCALL_NR || !sys_io_kind[nr]))
		return 0;
	/* a raw tracepoint's program may be preempted (faultable syscall
	 * tracepoints), and another walk on this CPU would reuse the window */
	return io_exit(ret, 0);
}

SEC("tracepoint")
int sock_exit(struct trace_event_raw_sys_exit *ctx)
{
	BENCH_SPLIT_COUNT(sock_exit, is_broker());
	BENCH_FLOOR_RETURN();
	if (!is_broker())
		return 0;
	return io_exit(ctx->ret, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
