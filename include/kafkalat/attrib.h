/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Attribution: one completed produce request (correlate.h) plus the kernel
 * waits of the broker's threads around it (cause_events.h, already decoded
 * and classified by the caller) → its handler thread, its phases
 * (read, queue, lock, append, post_append or, for acks=all, replication and
 * response_queue, send) and, per phase, the time of
 * the thread that owns the phase split into causes (cpu, runq, the off-CPU
 * causes of cause.h, and "queued"). Pure logic: no libbpf, no I/O.
 * The algorithm and its limits: docs/design.md, "Attribution".
 *
 * The history is bounded: per thread at most max_per_thread events of each
 * kind, none older than window_ns before the newest time seen, at most
 * max_threads threads. What is evicted or dropped is counted.
 *
 * Feed the events of a request's window before calling attrib_request() for
 * it: the cause events arrive on their own ring buffer, so the caller holds a
 * completed request back until the cause stream has passed its t_end.
 */
#ifndef KAFKALAT_ATTRIB_H
#define KAFKALAT_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkalat/cause.h"
#include "kafkalat/correlate.h"

/* In time order; each ends where the next begins, so they add up to the
 * latency: t_sent - t_arrival when the wire times are known, else the
 * broker's t_end - t_first (recv, socket_wait and send_queue then 0). */
enum attrib_phase {
	ATTRIB_RECV,	    /* t_arrival → t_complete: the client or the network still sending */
	ATTRIB_SOCKET_WAIT, /* t_complete → t_first: in the socket buffer, not yet read */
	ATTRIB_READ,	    /* t_first → t_read, network thread (tid_read) */
	ATTRIB_QUEUE,	    /* t_read → handler dequeues, handler */
	ATTRIB_LOCK,	    /* dequeue → first append start: lock wait, validation */
	ATTRIB_APPEND,	    /* first append start → last append end (fsync included) */
	ATTRIB_POST_APPEND, /* last append end → t_resp: handler, then the network thread */
	/* acks=all with a release found (replication.h): post_append is 0 and
	 * its time is these two */
	ATTRIB_REPLICATION, /* last append end → the leader read the releasing follower fetch */
	ATTRIB_RESPONSE_QUEUE, /* that read → t_resp: completing the purgatory, the response */
	ATTRIB_SEND,	       /* t_resp → t_end, network thread (tid_send) */
	ATTRIB_SEND_QUEUE,     /* t_end → t_sent: written, not yet out of the socket */
	ATTRIB_PHASES
};

/* The causes: enum cause (cause.h), then "queued": the request waited for
 * another thread (in the request queue, or for the network thread to pick
 * its response up) while that thread was not running it; then the causes of
 * socket_wait: "hol", head-of-line behind the connection's previous request
 * (Kafka reads nothing more from a connection while one of its requests is
 * in flight); "throttle_mute", the connection muted for a quota throttle
 * (the time after the previous Produce response left, up to its
 * throttle_time_ms);
 * "net_thread", the network thread that read it running other work (and
 * runq while that thread waited for a CPU); "unknown", none of these seen
 * (that thread asleep, or not traced). */
#define ATTRIB_CAUSE_QUEUED	   CAUSE_MAX
#define ATTRIB_CAUSE_HOL	   (CAUSE_MAX + 1)
#define ATTRIB_CAUSE_THROTTLE_MUTE (CAUSE_MAX + 2)
#define ATTRIB_CAUSE_NET_THREAD	   (CAUSE_MAX + 3)
#define ATTRIB_CAUSE_UNKNOWN	   (CAUSE_MAX + 4)
#define ATTRIB_CAUSE_REPLICA_FETCH (CAUSE_MAX + 5)
#define ATTRIB_CAUSES		   (CAUSE_MAX + 6)

/* The layout of recordings written before replication: 9 phases (no
 * replication, response_queue) and 17 causes (no replica_fetch). */
#define ATTRIB_PHASES_V1 9
#define ATTRIB_CAUSES_V1 (CAUSE_MAX + 5)
/* The phase of index i in that layout. */
unsigned int attrib_phase_from_v1(unsigned int i);

enum attrib_unmatched {
	ATTRIB_MATCHED = 0,
	ATTRIB_UNM_NOT_PRODUCE, /* not a parsed Produce request */
	ATTRIB_UNM_NO_RESPONSE, /* acks=0 or no response: no window end */
	ATTRIB_UNM_BAD_TIMES,	/* t_first <= t_read <= t_resp <= t_end does not hold */
	ATTRIB_UNM_NO_APPEND,	/* no write of a batch's size to its partition in the window */
	ATTRIB_UNM_AMBIGUOUS,	/* several threads fit equally (strict_ambiguous only) */
	ATTRIB_UNM_LOST_CAUSES, /* cause records it may need were lost (attrib_request_lost) */
	ATTRIB_UNM_MAX
};

struct attrib_config {
	uint64_t window_ns;	 /* history kept behind the newest time seen (5 s) */
	uint32_t max_per_thread; /* events of each kind per thread (8192) */
	uint32_t max_threads;	 /* threads tracked (1024) */
	uint32_t max_strings;	 /* distinct frames and comms kept (4096) */
	uint64_t lock_gap_ns;	 /* futex end → append start still "the lock wait" (200 us) */
	uint64_t append_gap_ns; /* append end → a non-futex block still inside the append (1 ms) */
	bool strict_ambiguous;	/* report ties as unmatched instead of resolving by time order */
};

struct repl; /* replication.h */

/* An off-CPU interval of a broker thread (klc_offcpu_event), with the cause
 * the caller classified from its stack (cause_classify(); CAUSE_OTHER when
 * there was none) and that function's top frame. Strings are copied. */
struct attrib_offcpu {
	uint32_t tid;
	uint64_t t_off, t_on;
	uint64_t t_wakeup; /* 0 when not seen */
	bool blocked;	   /* went to sleep (false: preempted, runnable all along) */
	enum cause cause;
	int32_t stack_id;      /* -1 none; <= -2 a stackless wait (cause_events.h) */
	const char *top_frame; /* may be NULL */
	uint32_t waker_tid;    /* 0 when not seen */
	const char *waker_comm;
};

struct attrib_stats {
	uint64_t events;	     /* accepted by attrib_add_* */
	uint64_t bad_events;	     /* rejected: end before start, zero tid */
	uint64_t evicted;	     /* aged out of the window */
	uint64_t dropped;	     /* pushed out by max_per_thread */
	uint64_t threads;	     /* tracked now */
	uint64_t threads_full;	     /* events dropped: no thread slot free */
	uint64_t strings_full;	     /* frames/comms not kept: max_strings */
	uint64_t bytes;		     /* memory held by the history */
	uint64_t requests;	     /* attrib_request calls */
	uint64_t ambiguous_resolved; /* matched by time order among equal candidates */
	uint64_t by_batch_id;	     /* handler's writes matched by producer identity */
	uint64_t unmatched[ATTRIB_UNM_MAX];
};

/* An off-CPU stack behind a request's time: the blocked part of its own
 * threads' intervals (not the run-queue delay after the wake-up). */
#define ATTRIB_STACKS 8

struct attrib_stack {
	int32_t stack_id;
	uint8_t phase; /* enum attrib_phase */
	uint8_t cause; /* enum cause */
	int64_t ns;    /* time inside the phase */
};

struct attrib_result {
	enum attrib_unmatched unmatched; /* ATTRIB_MATCHED or why not */
	bool ambiguous;			 /* the handler was chosen by time order among ties */
	uint32_t handler;		 /* tid; 0 when unmatched */
	uint32_t appends;		 /* writes and syncs attributed */
	uint64_t t_dequeue, t_append_start, t_append_end; /* the derived boundaries */
	/* the request's wire times are known (corr_request.wire): latency_ns
	 * is t_sent - t_arrival; otherwise it is broker_latency_ns */
	bool wire_known;
	int64_t latency_ns;
	int64_t broker_latency_ns; /* t_end - t_first, clamped */
	int64_t phase_ns[ATTRIB_PHASES];
	/* For unmatched requests only read and send are split: the rest is here.
	 * sum(phase_ns) + unattributed_ns == latency_ns, always. */
	int64_t unattributed_ns;
	/* sum over c of cause_ns[p][c] == phase_ns[p], always */
	int64_t cause_ns[ATTRIB_PHASES][ATTRIB_CAUSES];
	/* The largest cause over all phases, cpu only if nothing else; for an
	 * off-CPU cause, the longest interval behind it. top_frame points into
	 * the attrib's string table ("" if none): valid until attrib_free(). */
	unsigned int top_cause;
	enum attrib_phase top_phase;
	int64_t top_ns;
	int32_t top_stack_id;
	const char *top_frame;
	uint32_t top_waker_tid;
	const char *top_waker_comm;
	/* Head-of-line: the part of socket_wait (hol_ns, cause "hol") spent
	 * behind the connection's previous request, hol_corr_id, whose root
	 * (below) was hol_root_cause in hol_root_phase, at the head of a chain
	 * starting with request hol_root_corr_id. ATTRIB_CAUSE_UNKNOWN when that
	 * request was not attributed (not a Produce request) or is forgotten. */
	int64_t hol_ns;
	int32_t hol_corr_id;
	unsigned int hol_root_cause;
	enum attrib_phase hol_root_phase;
	int32_t hol_root_corr_id;
	/* This request's time by root cause: its own causes, with its
	 * head-of-line wait shared out like the root causes of the request it
	 * waited behind (so transitively: in a cascade each request ahead adds
	 * its own causes); root_ns[hol] is 0 and the rest sum to the phases.
	 * root_cause is the largest, root_phase where it was spent (by this
	 * request, else by the one it waited behind), root_corr_id the head of
	 * its chain: itself unless its top cause is hol. */
	int64_t root_ns[ATTRIB_CAUSES];
	unsigned int root_cause;
	enum attrib_phase root_phase;
	int32_t root_corr_id;
	/* The longest (stack, phase) pairs, merged; at most ATTRIB_STACKS, so
	 * a request blocked on more distinct stacks keeps its longest ones. */
	uint32_t nstacks;
	struct attrib_stack stacks[ATTRIB_STACKS];
	/* Replication: repl_asked when r is acks=all and a replication
	 * module is set (attrib_set_replication); released when its release
	 * was found, else repl_none says why (enum repl_none). Released:
	 * t_release is its
	 * fetch's read, release_replica the follower that sent it (-1 none)
	 * and release_tgid its broker (0 unknown). follower_append_ns: the
	 * part of replication inside that follower's append of the batch.
	 * root_broker: the broker the root cause was spent on, 0 the leader
	 * (the follower's tgid when it was in its append). */
	bool repl_asked, released;
	unsigned int repl_none;
	uint64_t t_release;
	int32_t release_replica;
	uint32_t release_tgid;
	int64_t follower_append_ns;
	int64_t follower_ns[ATTRIB_CAUSES]; /* follower_append_ns by cause */
	uint32_t root_broker;
};

struct attrib;

void attrib_config_default(struct attrib_config *cfg);
/* cfg NULL: defaults. NULL on allocation failure or a zero limit. */
struct attrib *attrib_new(const struct attrib_config *cfg);
void attrib_free(struct attrib *a);

/* One write to a log segment. */
struct attrib_append {
	uint32_t tid;
	const char *topic;
	int32_t partition;
	uint64_t bytes;
	uint64_t t_start, t_end;
	/* from its record batch headers (KLC_EV_BATCH): the first batch's
	 * baseOffset, the last record's offset; -1 unknown. Its producerId
	 * and baseSequence: -1 unknown or not idempotent */
	int64_t base_offset, last_offset;
	int64_t producer_id;
	int32_t base_sequence;
};

/* Each returns 0, -EINVAL (bad times or tid: counted) or -ENOMEM (dropped:
 * counted). topic NULL (fsync only): a sync of a file not known as a segment. */
int attrib_add_write(struct attrib *a, const struct attrib_append *w);
/* A write whose offsets are unknown. */
int attrib_add_append(struct attrib *a, uint32_t tid, const char *topic, int32_t partition,
		      uint64_t bytes, uint64_t t_start, uint64_t t_end);
int attrib_add_fsync(struct attrib *a, uint32_t tid, const char *topic, int32_t partition,
		     uint64_t t_start, uint64_t t_end);
int attrib_add_futex(struct attrib *a, uint32_t tid, uint64_t t_start, uint64_t t_end);
int attrib_add_offcpu(struct attrib *a, const struct attrib_offcpu *o);
/* The broker process of a thread (klc_thread_event), 0 unknown: attrib
 * asks for the leader of a request (its handler's) and a follower's
 * writer threads. */
typedef uint32_t (*attrib_tgid_fn)(const void *ctx, uint32_t tid);
void attrib_set_tgid_fn(struct attrib *a, attrib_tgid_fn fn, const void *ctx);
/* Where acks=all requests find their release: NULL none (post_append then
 * stays whole). Not owned; outlives a. */
void attrib_set_replication(struct attrib *a, struct repl *r);

/* Attributes r (always fills out; returns out->unmatched). The appends it
 * matched are claimed: a later request cannot take them. */
enum attrib_unmatched attrib_request(struct attrib *a, const struct corr_request *r,
				     struct attrib_result *out);
/* r's result without looking for its handler: cause records it may need
 * were lost, so a handler found could be another's (docs/design.md,
 * "Overload"). Read and send are split as for any unmatched request. */
enum attrib_unmatched attrib_request_lost(struct attrib *a, const struct corr_request *r,
					  struct attrib_result *out);
const struct attrib_stats *attrib_stats(const struct attrib *a);
/* r's head-of-line wait alone (attrib_result.hol_ns, behind r->prev_corr_id),
 * for a request that is not attributed: from its own times, 0 without wire
 * times. */
int64_t attrib_hol_ns(const struct corr_request *r);

/* JSON names: "recv", "socket_wait", "read", "queue", ...; causes as
 * cause_name() plus "queued", "hol", "throttle_mute", "net_thread",
 * "unknown", "replica_fetch";
 * unmatched reasons "matched", "not_produce", "no_response", ... NULL when
 * out of range. */
const char *attrib_phase_name(unsigned int p);
const char *attrib_cause_name(unsigned int c);
const char *attrib_unmatched_name(unsigned int u);

#endif
