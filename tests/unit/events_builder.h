/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * events_builder: header-only helpers that build the klt_* records of the
 * kernel <-> user ABI (include/kafkalat/events.h) the way the BPF side fills
 * them, for correlator tests, golden sequences and fuzz seeds. All functions
 * are static inline; every record starts zeroed so padding is deterministic.
 *
 * Feed a record with evb_feed(c, record): it passes the record's own size.
 */
#ifndef KAFKALAT_TESTS_EVENTS_BUILDER_H
#define KAFKALAT_TESTS_EVENTS_BUILDER_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kafkalat/correlate.h"
#include "kafkalat/events.h"

#define EVB_BROKER_PORT 9092
#define EVB_TID_READ	1001 /* network thread that reads requests */
#define EVB_TID_SEND	1002 /* network thread that writes responses */

/* Any klt_* record, for decoders that fill one from raw bytes (the
 * fuzzers): room for the largest. */
union evb_record {
	struct klt_conn_event conn;
	struct klt_frame_event frame;
	struct klt_topic_event topic;
	struct klt_part_event part;
	struct klt_close_event close;
	struct klt_bad_event bad;
	struct klt_desync_event desync;
	struct klt_sent_event sent;
	struct klt_flow_event flow;
	struct klt_arrival_event arrival;
	struct klt_fetch_part_event fetch_part;
	uint8_t raw[sizeof(struct klt_topic_event)];
};

/* The size of a record of type KLT_EV_CONN..KLT_EV_FETCH_PART; 0 for others. */
static inline size_t evb_record_size(uint32_t type)
{
	switch (type) {
	case KLT_EV_CONN:
		return sizeof(struct klt_conn_event);
	case KLT_EV_FRAME:
		return sizeof(struct klt_frame_event);
	case KLT_EV_TOPIC:
		return sizeof(struct klt_topic_event);
	case KLT_EV_PART:
		return sizeof(struct klt_part_event);
	case KLT_EV_CLOSE:
		return sizeof(struct klt_close_event);
	case KLT_EV_BAD:
		return sizeof(struct klt_bad_event);
	case KLT_EV_DESYNC:
		return sizeof(struct klt_desync_event);
	case KLT_EV_SENT:
		return sizeof(struct klt_sent_event);
	case KLT_EV_FLOW:
		return sizeof(struct klt_flow_event);
	case KLT_EV_ARRIVAL:
		return sizeof(struct klt_arrival_event);
	case KLT_EV_FETCH_PART:
		return sizeof(struct klt_fetch_part_event);
	default:
		return 0;
	}
}

static inline void evb_parse_ip(int family, const char *ip, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(family, ip, out) != 1) {
		fprintf(stderr, "events_builder: bad address %s\n", ip);
		abort();
	}
}

/* A client connection accepted by the broker (flags: KLT_CONN_PREEXISTING). */
static inline struct klt_conn_event evb_conn(uint64_t id, int family, const char *ip, uint16_t port,
					     uint32_t flags)
{
	struct klt_conn_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_CONN;
	e.flags = flags;
	e.conn_id = id;
	e.ts_ns = 1;
	e.tgid = 4242;
	e.fd = (int32_t)(100 + id % 1000);
	e.family = (uint16_t)family;
	e.local_port = EVB_BROKER_PORT;
	e.remote_port = port;
	evb_parse_ip(family, family == AF_INET6 ? "::1" : "127.0.0.1", e.local_addr);
	evb_parse_ip(family, ip, e.remote_addr);
	return e;
}

static inline struct klt_conn_event evb_conn4(uint64_t id, const char *ip, uint16_t port)
{
	return evb_conn(id, AF_INET, ip, port, 0);
}

static inline struct klt_conn_event evb_conn6(uint64_t id, const char *ip, uint16_t port)
{
	return evb_conn(id, AF_INET6, ip, port, 0);
}

/* A request frame read by the broker: api_key/api_version as on the wire. */
static inline struct klt_frame_event evb_request(uint64_t conn, int32_t corr, int16_t api_key,
						 int16_t api_version, uint64_t t_first,
						 uint64_t t_last)
{
	struct klt_frame_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_FRAME;
	e.conn_id = conn;
	e.t_first_ns = t_first;
	e.t_last_ns = t_last;
	e.tid_first = EVB_TID_READ;
	e.tid_last = EVB_TID_READ;
	e.size = 100;
	e.dir = KLT_DIR_RX;
	e.client_id_full_len = -1;
	e.api_key = api_key;
	e.api_version = api_version;
	e.corr_id = corr;
	return e;
}

/* Sets the client_id bytes (n may exceed what is stored: it is clamped as
 * the BPF side clamps, and client_id_full_len keeps the wire length). */
static inline void evb_client_id(struct klt_frame_event *e, const char *id, size_t n)
{
	size_t keep = n < KLT_CLIENT_ID_MAX ? n : KLT_CLIENT_ID_MAX;

	memset(e->client_id, 0, sizeof(e->client_id));
	memcpy(e->client_id, id, keep);
	e->client_id_len = (uint8_t)keep;
	e->client_id_full_len = (int16_t)n;
}

/* A parsed Produce v9 request with the given acks and totals. */
static inline struct klt_frame_event evb_produce(uint64_t conn, int32_t corr, int16_t acks,
						 uint64_t t_first, uint64_t t_last)
{
	struct klt_frame_event e = evb_request(conn, corr, 0, 9, t_first, t_last);

	e.flags = KLT_FRAME_PRODUCE_PARSED;
	e.acks = acks;
	e.timeout_ms = 30000;
	evb_client_id(&e, "producer-1", 10);
	return e;
}

/* Wire times of a frame: a request's first and last byte arrived, a
 * response's last byte left (first unused, 0). */
static inline void evb_wire(struct klt_frame_event *e, uint64_t first, uint64_t last)
{
	e->t_wire_first_ns = first;
	e->t_wire_last_ns = last;
}

/* A response whose last byte had not left when its write returned: it
 * ends before seq_end, and a later evb_sent says when it left. */
static inline void evb_sent_later(struct klt_frame_event *e, uint32_t seq_end)
{
	e->flags |= KLT_FRAME_SENT_LATER;
	e->t_wire_last_ns = 0;
	e->seq_end = seq_end;
}

/* Every response byte before seq_sent left the socket at ts. */
static inline struct klt_sent_event evb_sent(uint64_t conn, uint64_t ts, uint32_t seq_sent)
{
	struct klt_sent_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_SENT;
	e.conn_id = conn;
	e.ts_ns = ts;
	e.seq_sent = seq_sent;
	return e;
}

/* The connection's receive window was full from t_full until t_open. */
static inline struct klt_flow_event evb_flow(uint64_t conn, uint64_t t_full, uint64_t t_open)
{
	struct klt_flow_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_FLOW;
	e.conn_id = conn;
	e.t_full_ns = t_full;
	e.t_open_ns = t_open;
	return e;
}

/* Unread stream bytes before seq_end arrived at t; the kernel's ring let
 * the arrival go. */
static inline struct klt_arrival_event evb_arrival(uint64_t conn, uint64_t t, uint32_t seq_end)
{
	struct klt_arrival_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_ARRIVAL;
	e.conn_id = conn;
	e.t_ns = t;
	e.seq_end = seq_end;
	return e;
}

/* Totals of a Produce frame (the sums of its PART events). */
static inline void evb_produce_totals(struct klt_frame_event *e, uint16_t ntopics, uint32_t nparts,
				      uint64_t bytes, uint64_t records)
{
	e->ntopics = ntopics;
	e->nparts = nparts;
	e->record_bytes = bytes;
	e->records = records;
}

/* A response frame written by the broker. */
static inline struct klt_frame_event evb_response(uint64_t conn, int32_t corr, uint64_t t_first,
						  uint64_t t_last)
{
	struct klt_frame_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_FRAME;
	e.conn_id = conn;
	e.t_first_ns = t_first;
	e.t_last_ns = t_last;
	e.tid_first = EVB_TID_SEND;
	e.tid_last = EVB_TID_SEND;
	e.size = 50;
	e.dir = KLT_DIR_TX;
	e.corr_id = corr;
	return e;
}

static inline struct klt_topic_event evb_topic(uint64_t conn, uint32_t idx, const char *name)
{
	struct klt_topic_event e;
	size_t n = strlen(name);

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_TOPIC;
	e.conn_id = conn;
	e.topic_idx = idx;
	e.name_len = (uint16_t)(n < KLT_TOPIC_NAME_MAX ? n : KLT_TOPIC_NAME_MAX);
	e.name_full_len = (int16_t)n;
	memcpy(e.name, name, e.name_len);
	return e;
}

/* A Produce v13 topic, known by its 16-byte UUID. */
static inline struct klt_topic_event evb_topic_id(uint64_t conn, uint32_t idx, const uint8_t id[16])
{
	struct klt_topic_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_TOPIC;
	e.flags = KLT_TOPIC_IS_ID;
	e.conn_id = conn;
	e.topic_idx = idx;
	e.name_len = 16;
	e.name_full_len = 16;
	memcpy(e.name, id, 16);
	return e;
}

static inline struct klt_part_event evb_part(uint64_t conn, uint32_t topic_idx, int32_t partition,
					     int32_t bytes, uint32_t records)
{
	struct klt_part_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_PART;
	e.conn_id = conn;
	e.topic_idx = topic_idx;
	e.partition = partition;
	e.record_bytes = bytes;
	e.records = records;
	e.batches = 1;
	e.producer_id = -1;
	e.base_sequence = -1;
	return e;
}

static inline struct klt_close_event evb_close(uint64_t conn, uint64_t ts)
{
	struct klt_close_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_CLOSE;
	e.conn_id = conn;
	e.ts_ns = ts;
	return e;
}

static inline struct klt_bad_event evb_bad(uint64_t conn, uint32_t reason, uint8_t dir)
{
	struct klt_bad_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_BAD;
	e.reason = reason;
	e.conn_id = conn;
	e.ts_ns = 1;
	e.dir = dir;
	e.detail = 0x16030100;
	return e;
}

static inline struct klt_desync_event evb_desync(uint64_t conn, uint8_t dir)
{
	struct klt_desync_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_DESYNC;
	e.conn_id = conn;
	e.ts_ns = 1;
	e.dir = dir;
	return e;
}

static inline int evb_feed_conn(struct corr *c, struct klt_conn_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

static inline int evb_feed_frame(struct corr *c, struct klt_frame_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

static inline int evb_feed_topic(struct corr *c, struct klt_topic_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

static inline int evb_feed_part(struct corr *c, struct klt_part_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

static inline int evb_feed_close(struct corr *c, struct klt_close_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

static inline int evb_feed_bad(struct corr *c, struct klt_bad_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

static inline int evb_feed_desync(struct corr *c, struct klt_desync_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

static inline int evb_feed_sent(struct corr *c, struct klt_sent_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

static inline int evb_feed_flow(struct corr *c, struct klt_flow_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

static inline int evb_feed_arrival(struct corr *c, struct klt_arrival_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

/* A loss record: n records of kind (KLT_LOST_*) did not fit in the ring. */
static inline struct klt_lost_event evb_lost(uint32_t kind, uint32_t n)
{
	struct klt_lost_event e;

	memset(&e, 0, sizeof(e));
	e.type = KLT_EV_LOST;
	e.t_first_ns = e.ts_ns = 1;
	e.counts[kind % KLT_LOST_KINDS] = n;
	return e;
}

static inline int evb_feed_lost(struct corr *c, struct klt_lost_event e)
{
	return corr_feed(c, &e, sizeof(e));
}

/* evb_feed(c, record): feeds any klt_* record with its exact size. */
// clang-format off
#define evb_feed(c, ev)                                      \
	_Generic((ev),                                       \
		struct klt_conn_event: evb_feed_conn,        \
		struct klt_frame_event: evb_feed_frame,      \
		struct klt_topic_event: evb_feed_topic,      \
		struct klt_part_event: evb_feed_part,        \
		struct klt_close_event: evb_feed_close,      \
		struct klt_bad_event: evb_feed_bad,          \
		struct klt_desync_event: evb_feed_desync,    \
		struct klt_sent_event: evb_feed_sent,        \
		struct klt_flow_event: evb_feed_flow,        \
		struct klt_arrival_event: evb_feed_arrival,  \
		struct klt_lost_event: evb_feed_lost)((c), (ev))
// clang-format on

#endif
