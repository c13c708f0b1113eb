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
};

struct corr_topic {
	char name[KLT_TOPIC_NAME_MAX + 1]; /* NUL-terminated; hex for a topic id */
	bool is_id;
};

/* A topic id as corr_topic.name holds it: 32 lowercase hex digits. */
void corr_topic_id_hex(const uint8_t id[16], char out[33]);

struct corr_request {
	uint64_t conn_id;
	char client[CORR_ADDR_MAX]; /* "IP:PORT" of the client, "?" if unknown */
	uint16_t local_port;
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
	 * where unknown (arrived before attach, sent after the write returned,
	 * a trace of ABI 1). */
	uint64_t t_arrival, t_complete, t_sent;
	/* Produce only */
	bool produce_parsed;
	bool has_txn;
	int16_t acks;
	int32_t timeout_ms;
	uint64_t record_bytes;
	uint64_t records;
	size_t ntopics, nparts;
	const struct corr_topic *topics;
	const struct corr_part *parts;
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
};

/* Called for each request when its response is seen (or, for Produce with
 * acks=0, when it has been read). The request and its arrays are valid only
 * during the call. */
typedef void (*corr_complete_fn)(const struct corr_request *req, void *ctx);

struct corr;

struct corr *corr_new(corr_complete_fn on_complete, void *ctx);
void corr_free(struct corr *c);
/* One ring buffer record. Returns 0, or -EINVAL for a malformed record
 * (counted in bad_events; the stream goes on). */
int corr_feed(struct corr *c, const void *data, size_t len);
/* The run ended: requests still waiting are counted unmatched (in flight). */
void corr_finish(struct corr *c);
/* Ring buffer records were lost: matching may be wrong around the loss;
 * requests then waiting are counted unmatched (lost) rather than guessed. */
void corr_note_lost(struct corr *c, uint64_t n);
const struct corr_counts *corr_counts(const struct corr *c);

const char *corr_unmatched_name(enum corr_unmatched_reason r);
const char *corr_bad_reason_name(unsigned int reason);
/* "IP:PORT" ("[IPv6]:PORT") into buf. */
void corr_format_addr(uint16_t family, const uint8_t addr[16], uint16_t port, char *buf,
		      size_t len);

#endif
