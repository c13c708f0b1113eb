/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The correlator: turns the ring buffer's event stream (connections, frames,
 * Produce topics/partitions, closes, undecodable and desync notices) into
 * completed requests, matched to their responses by (connection,
 * correlation id). Pure logic: no libbpf, no I/O, so golden traces and unit
 * tests drive it without root.
 */
#ifndef KAFKALAT_CORRELATE_H
#define KAFKALAT_CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkalat/events.h"

#define CORR_ADDR_MAX 64 /* "[ipv6]:port" fits */

struct corr_part {
	uint32_t topic_idx;
	int32_t partition;
	int32_t record_bytes;
	uint32_t records;
	uint32_t batches;
	/* the first batch's producerId and baseSequence; -1 unknown (an ABI
	 * 1-3 dump) or, producerId, a producer that is not idempotent */
	int64_t producer_id;
	int32_t base_sequence;
};

/* A partition of a follower Fetch request (KLT_EV_FETCH_PART). */
struct corr_fetch_part {
	uint32_t topic_idx;
	int32_t partition;
	int64_t fetch_offset;
};

struct corr_topic {
	char name[KLT_TOPIC_NAME_MAX + 1]; /* NUL-terminated; hex for a topic id */
	bool is_id;
};

/* A topic id as corr_topic.name holds it: 32 lowercase hex digits. */
void corr_topic_id_hex(const uint8_t id[16], char out[33]);

/* Why a completed request's wire latency (t_sent - t_arrival) is unknown. */
enum corr_wire {
	CORR_WIRE_KNOWN = 0,
	CORR_WIRE_BEFORE_ATTACH,   /* its first bytes arrived before they were watched */
	CORR_WIRE_SENT_UNRESOLVED, /* its response left after the write; no KLT_EV_SENT came */
	CORR_WIRE_SKIPPED, /* a kTLS/sockmap socket: no wire times (KLT_CONN_WIRE_SKIPPED) */
	CORR_WIRE_ABI1,	   /* a dump of event ABI 1: no wire times */
	CORR_WIRE_EVICTED, /* its arrival fell out of the kernel's ring, and the record of it too */
	CORR_WIRE_MAX,
};

struct corr_request {
	uint64_t conn_id;
	uint32_t tgid;		    /* the broker owning the connection; 0 if unknown */
	char client[CORR_ADDR_MAX]; /* "IP:PORT" of the client, "?" if unknown */
	uint16_t local_port;
	uint16_t remote_port;
	int16_t api_key;
	int16_t api_version;
	int32_t corr_id;
	char client_id[KLT_CLIENT_ID_MAX + 1];
	uint32_t size;
	uint32_t tid_read;
	uint32_t tid_send;
	uint64_t t_first, t_read, t_resp, t_end;
	/* On the wire, in the broker's kernel: the request's first and last
	 * byte became readable, its response's last byte left the socket; 0
	 * where unknown (wire says why). */
	uint64_t t_arrival, t_complete, t_sent;
	enum corr_wire wire;
	bool arrival_backlog; /* some bytes came through the socket backlog: arrival late */
	/* How long before this request's arrival its connection's receive
	 * window first filled, in the flow episode it arrived in: how long the
	 * client may have held it (a bound on a wait no broker-side clock
	 * sees; never in the latency). 0 outside an episode. */
	uint64_t flow_blocked_ns;
	/* The request answered before this one on the connection (read order),
	 * whose in-flight time this one may have waited behind in the socket:
	 * from its first known time (arrival, else its first read) to its
	 * response leaving (else its last write). has_prev false: none seen. */
	bool has_prev;
	int32_t prev_corr_id;
	uint64_t prev_t_start, prev_t_done;
	/* Kafka mutes a connection for a response's throttle_time_ms after
	 * sending it: this request's response's, and the previous one's (-1:
	 * unknown, not Produce v1+) */
	int32_t throttle_ms, prev_throttle_ms;
	/* Produce only */
	bool produce_parsed;
	bool has_txn;
	int16_t acks;
	int32_t timeout_ms;
	uint64_t record_bytes;
	uint64_t records;
	size_t ntopics, nparts;
	const struct corr_topic *topics; /* Produce's, or a follower Fetch's */
	const struct corr_part *parts;
	/* follower Fetch only (KLT_FRAME_FETCH_PARSED): its replica and
	 * partitions, topic_idx into topics */
	bool fetch_parsed;
	int32_t replica_id;
	size_t nfetch_parts;
	const struct corr_fetch_part *fetch_parts;
};

/* Requests of one traced broker (by the tgid of their connection). */
struct corr_broker_count {
	uint32_t tgid;
	uint64_t requests;	   /* request frames, all APIs */
	uint64_t produce;	   /* of which Produce */
	uint64_t fetch;		   /* of which Fetch */
	uint64_t follower_fetches; /* of which follower Fetch bodies walked */
};

enum corr_unmatched_reason {
	CORR_UNM_SKIPPED = 0, /* a later response on the connection came first */
	CORR_UNM_CLOSED,      /* the connection closed before a response */
	CORR_UNM_IN_FLIGHT,   /* still waiting when the run ended */
	CORR_UNM_UNDECODABLE, /* the connection became undecodable */
	CORR_UNM_LOST,	      /* events were lost in the ring buffer */
	CORR_UNM_MAX,
};

struct corr_counts {
	uint64_t events;
	uint64_t bad_events; /* records of the wrong size or type: never from a sound kernel side */
	uint64_t connections;		  /* Kafka connections seen */
	uint64_t preexisting;		  /* of which open before attach */
	uint64_t requests;		  /* request frames, all APIs */
	uint64_t responses;		  /* response frames */
	uint64_t completed;		  /* requests matched with their response */
	uint64_t acks0;			  /* Produce with acks=0 (no response expected) */
	uint64_t partial;		  /* caught mid-flight at attach or voided by resync */
	uint64_t unmatched_responses;	  /* a response whose request was never seen */
	uint64_t unmatched[CORR_UNM_MAX]; /* requests without a response, all APIs */
	uint64_t produce_unmatched[CORR_UNM_MAX]; /* of which Produce */
	uint64_t undecodable_conns;
	uint64_t undecodable[KLT_BAD_REASON_MAX];
	uint64_t desyncs;
	uint64_t wire_skipped_conns;	  /* connections with KLT_CONN_WIRE_SKIPPED */
	uint64_t arrival_backlog;	  /* requests with KLT_FRAME_ARRIVAL_BACKLOG */
	uint64_t sent_events;		  /* KLT_EV_SENT records */
	uint64_t flow_events;		  /* KLT_EV_FLOW records */
	uint64_t flow_unclaimed_ns;	  /* full-window time no request's bound reached */
	uint64_t arrival_records;	  /* KLT_EV_ARRIVAL records */
	uint64_t arrival_records_dropped; /* of which not kept (MAX_EVICTED a connection) */
	uint64_t arrival_evicted;	  /* requests whose evicted arrival no record had */
	/* by broker, in order of their first connection; requests of
	 * connections without a KLT_EV_CONN are not in them */
	struct corr_broker_count brokers[KLT_MAX_BROKERS];
	int nbrokers;
	uint64_t fetch_parts; /* KLT_EV_FETCH_PART records */
	/* Records the kernel could not write (a full ring), by kind
	 * (KLT_LOST_*), as the loss records in the stream said, and how many
	 * of those came */
	uint64_t lost[KLT_LOST_KINDS];
	uint64_t loss_records;
	/* Requests seen that a loss may have cut short (docs/design.md,
	 * "Overload"): neither completed nor unmatched, never reported. With
	 * the lost request frames (lost[]) they are the requests the loss
	 * touched (corr_touched). */
	uint64_t touched, produce_touched;
};

/* Called for each request when its response has left the socket (a response
 * the kernel saw leave after its write waits for KLT_EV_SENT, and the
 * connection's later requests wait behind it: each connection completes in
 * order), or when that will never be known (closed, undecodable, lost
 * events, the run's end: t_sent 0). Produce with acks=0: when it has been
 * read. The request and its arrays are valid only during the call. */
typedef void (*corr_complete_fn)(const struct corr_request *req, void *ctx);

struct corr;

struct corr *corr_new(corr_complete_fn on_complete, void *ctx);
void corr_free(struct corr *c);
/* Called for each request as it is read (its frame complete), before its
 * response: its times from t_resp on are 0. A frame found by a resync may
 * still be voided after. Follower fetches are wanted then: they wait in
 * the leader up to replica.fetch.wait.max.ms. The request and its arrays
 * are valid only during the call. NULL: none. */
void corr_set_read_fn(struct corr *c, corr_complete_fn on_read, void *ctx);
/* One ring buffer record. Returns 0, or -EINVAL for a malformed record
 * (counted in bad_events; the stream goes on). */
int corr_feed(struct corr *c, const void *data, size_t len);
/* The run ended: requests still waiting are counted unmatched (in flight). */
void corr_finish(struct corr *c);
/* Process tgid, a traced broker, exited: its connections are gone with
 * it, their requests still waiting counted unmatched (closed), so none can
 * match a later process's responses; with unowned, also those of the
 * connections whose process is unknown (no KLT_EV_CONN seen). Returns how
 * many were counted. */
uint64_t corr_end_connections(struct corr *c, uint32_t tgid, bool unowned);
/* Ring buffer records were lost at an unknown place (an event dump of ABI
 * 4 or older, whose stream has no loss records): requests then waiting are
 * counted unmatched (lost) rather than guessed. */
void corr_note_lost(struct corr *c, uint64_t n);
/* Records were lost right before this point of the stream, counts[kind] of
 * each kind (what a KLT_EV_LOST record says): every request a lost record
 * may have belonged to is touched. */
void corr_note_lost_kinds(struct corr *c, const uint32_t counts[KLT_LOST_KINDS]);
/* The requests a loss touched: those seen (touched) and those whose request
 * frame was lost; *produce of which Produce. */
uint64_t corr_touched(const struct corr_counts *n, uint64_t *produce);
/* "conn", "request", "topic", ... for a KLT_LOST_* kind; NULL when none. */
const char *corr_lost_kind_name(unsigned int kind);
const struct corr_counts *corr_counts(const struct corr *c);

const char *corr_unmatched_name(enum corr_unmatched_reason r);
/* "known", "arrived_before_attach", "sent_unresolved", "wire_skipped", "abi1" */
const char *corr_wire_name(unsigned int w);
/* The client's wait, t_sent - t_arrival, into *ns; false when unknown. */
bool corr_wire_latency(const struct corr_request *r, uint64_t *ns);
/* The broker's own figure, t_end - t_first (first read to last write); 0
 * without a response. */
uint64_t corr_broker_latency(const struct corr_request *r);
const char *corr_bad_reason_name(unsigned int reason);
/* A Produce response's throttle_time_ms from the bytes the kernel kept of
 * its end (klt_frame_event.tail); -1 when not Produce v1+ or not knowable. */
int32_t corr_produce_throttle_ms(int16_t api_key, int16_t api_version,
				 const struct klt_frame_event *resp);
/* "IP:PORT" ("[IPv6]:PORT") into buf. */
void corr_format_addr(uint16_t family, const uint8_t addr[16], uint16_t port, char *buf,
		      size_t len);

#endif
