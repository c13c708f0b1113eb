// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/agg.h"

void agg_init(struct agg *a)
{
	memset(a, 0, sizeof(*a));
}

void agg_free(struct agg *a)
{
	for (int w = 0; w < AGG_HISTS; w++)
		for (int i = 0; i < AGG_MAX_API; i++)
			free(a->h[w][i]);
	free(a->flow);
	agg_init(a);
}

void agg_reset(struct agg *a)
{
	for (int w = 0; w < AGG_HISTS; w++)
		for (int i = 0; i < AGG_MAX_API; i++)
			if (a->h[w][i])
				hist_init(a->h[w][i]);
	if (a->flow)
		hist_init(a->flow);
	memset(a->requests, 0, sizeof(a->requests));
	memset(a->wire_unknown, 0, sizeof(a->wire_unknown));
	memset(a->produce_wire_unknown, 0, sizeof(a->produce_wire_unknown));
	a->produce_acks0 = 0;
	a->produce_bytes = 0;
	a->produce_records = 0;
	a->flow_total_ns = 0;
}

static int record(struct hist **h, uint64_t v)
{
	if (!*h) {
		*h = malloc(sizeof(struct hist));
		if (!*h)
			return -ENOMEM;
		hist_init(*h);
	}
	hist_record(*h, v);
	return 0;
}

static int add_flow(struct agg *a, const struct corr_request *r)
{
	if (!r->flow_blocked_ns)
		return 0;
	a->flow_total_ns += r->flow_blocked_ns;
	return record(&a->flow, r->flow_blocked_ns);
}

/* Why r has no wire latency; one made outside the correlator may not say. */
static enum corr_wire wire_reason(const struct corr_request *r)
{
	if (r->wire != CORR_WIRE_KNOWN && r->wire < CORR_WIRE_MAX)
		return r->wire;
	return r->t_arrival ? CORR_WIRE_SENT_UNRESOLVED : CORR_WIRE_BEFORE_ATTACH;
}

int agg_add(struct agg *a, const struct corr_request *r)
{
	int k = r->api_key;
	uint64_t wire;

	if (k < 0 || k >= AGG_MAX_API)
		return 0;
	if (k == 0) {
		a->produce_bytes += r->record_bytes;
		a->produce_records += r->records;
		if (r->produce_parsed && r->acks == 0) {
			a->produce_acks0++;
			return 0;
		}
		if (add_flow(a, r))
			return -ENOMEM;
	}
	a->requests[k]++;
	if (record(&a->h[AGG_BROKER][k], corr_broker_latency(r)))
		return -ENOMEM;
	if (corr_wire_latency(r, &wire))
		return record(&a->h[AGG_LATENCY][k], wire);
	a->wire_unknown[k]++;
	if (k == 0)
		a->produce_wire_unknown[wire_reason(r)]++;
	return record(&a->h[AGG_BROKER_NOWIRE][k], corr_broker_latency(r));
}

const struct hist *agg_hist(const struct agg *a, enum agg_hist which, int api_key)
{
	if (api_key < 0 || api_key >= AGG_MAX_API || (unsigned)which >= AGG_HISTS)
		return NULL;
	return a->h[which][api_key];
}

const struct hist *agg_latency(const struct agg *a, int api_key)
{
	return agg_hist(a, AGG_LATENCY, api_key);
}

uint64_t agg_count(const struct agg *a, int api_key)
{
	if (api_key < 0 || api_key >= AGG_MAX_API)
		return 0;
	return a->requests[api_key];
}

uint64_t agg_wire_unknown(const struct agg *a, int api_key)
{
	if (api_key < 0 || api_key >= AGG_MAX_API)
		return 0;
	return a->wire_unknown[api_key];
}

/* into += from, allocating into on first use. */
static int merge_hist(struct hist **into, const struct hist *from)
{
	if (!from || hist_empty(from))
		return 0;
	if (!*into) {
		*into = malloc(sizeof(struct hist));
		if (!*into)
			return -ENOMEM;
		hist_init(*into);
	}
	hist_merge(*into, from);
	return 0;
}

int agg_merge_hist(struct agg *a, enum agg_hist which, int api_key, const struct hist *h)
{
	if (api_key < 0 || api_key >= AGG_MAX_API || (unsigned)which >= AGG_HISTS)
		return -EINVAL;
	return merge_hist(&a->h[which][api_key], h);
}

int agg_merge_flow(struct agg *a, const struct hist *h)
{
	return merge_hist(&a->flow, h);
}

int agg_merge(struct agg *into, const struct agg *from)
{
	for (int k = 0; k < AGG_MAX_API; k++) {
		into->requests[k] += from->requests[k];
		into->wire_unknown[k] += from->wire_unknown[k];
		for (int w = 0; w < AGG_HISTS; w++)
			if (merge_hist(&into->h[w][k], from->h[w][k]))
				return -ENOMEM;
	}
	for (int i = 0; i < CORR_WIRE_MAX; i++)
		into->produce_wire_unknown[i] += from->produce_wire_unknown[i];
	into->produce_acks0 += from->produce_acks0;
	into->produce_bytes += from->produce_bytes;
	into->produce_records += from->produce_records;
	into->flow_total_ns += from->flow_total_ns;
	return merge_hist(&into->flow, from->flow);
}
