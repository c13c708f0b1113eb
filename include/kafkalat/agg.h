/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The aggregator: per-API latency histograms and counts of completed
 * requests over an interval or a whole run. Mergeable, so intervals add up
 * to the run and runs add up across brokers.
 *
 * The latency is the client's wait on the wire (corr_wire_latency). A
 * request whose wire times are unknown is counted (with why) and kept out
 * of it: its broker latency would be a lower bound, not a sample. Every
 * completed request's broker latency (first read to last write) has its own
 * histogram, and so does that of the wire-unknown ones.
 */
#ifndef KAFKALAT_AGG_H
#define KAFKALAT_AGG_H

#include <stdint.h>

#include "kafkalat/correlate.h"
#include "kafkalat/hist.h"

#define AGG_MAX_API (KLT_MAX_API_KEY + 1)

enum agg_hist {
	AGG_LATENCY,	   /* t_arrival -> t_sent, requests with wire times */
	AGG_BROKER,	   /* t_first -> t_end, every completed request */
	AGG_BROKER_NOWIRE, /* t_first -> t_end of those without wire times */
	AGG_HISTS,
};

struct agg {
	uint64_t requests[AGG_MAX_API];		      /* completed with a response, per api key */
	uint64_t wire_unknown[AGG_MAX_API];	      /* of which without wire times */
	struct hist *h[AGG_HISTS][AGG_MAX_API];	      /* allocated on first use */
	uint64_t produce_wire_unknown[CORR_WIRE_MAX]; /* Produce, by reason */
	uint64_t produce_acks0;
	uint64_t produce_bytes;
	uint64_t produce_records;
	/* Produce requests that arrived after a full receive window: the
	 * bounds (flow_blocked_ns > 0) and their sum */
	struct hist *flow;
	uint64_t flow_total_ns;
};

void agg_init(struct agg *a);
void agg_free(struct agg *a);
void agg_reset(struct agg *a);
/* Returns 0 or -ENOMEM. acks=0 Produce requests are counted apart. */
int agg_add(struct agg *a, const struct corr_request *r);
/* The latency histogram (wire) of an api key, or NULL when none. */
const struct hist *agg_latency(const struct agg *a, int api_key);
/* Any of the histograms; NULL when none. */
const struct hist *agg_hist(const struct agg *a, enum agg_hist which, int api_key);
uint64_t agg_count(const struct agg *a, int api_key);
/* Merging (recordings read back): into holds both; 0 or -ENOMEM. A
 * histogram alone goes into one slot (-EINVAL out of range), or the flow
 * bounds'. */
int agg_merge(struct agg *into, const struct agg *from);
int agg_merge_hist(struct agg *a, enum agg_hist which, int api_key, const struct hist *h);
int agg_merge_flow(struct agg *a, const struct hist *h);
uint64_t agg_wire_unknown(const struct agg *a, int api_key);

#endif
