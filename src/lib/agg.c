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
	for (int i = 0; i < AGG_MAX_API; i++)
		free(a->lat[i]);
	agg_init(a);
}

void agg_reset(struct agg *a)
{
	for (int i = 0; i < AGG_MAX_API; i++)
		if (a->lat[i])
			hist_init(a->lat[i]);
	memset(a->requests, 0, sizeof(a->requests));
	a->produce_acks0 = 0;
	a->produce_bytes = 0;
	a->produce_records = 0;
}

static struct hist *agg_hist(struct agg *a, int api_key)
{
	if (!a->lat[api_key]) {
		a->lat[api_key] = malloc(sizeof(struct hist));
		if (!a->lat[api_key])
			return NULL;
		hist_init(a->lat[api_key]);
	}
	return a->lat[api_key];
}

int agg_add(struct agg *a, const struct corr_request *r)
{
	struct hist *h;

	if (r->api_key < 0 || r->api_key >= AGG_MAX_API)
		return 0;
	if (r->api_key == 0) {
		a->produce_bytes += r->record_bytes;
		a->produce_records += r->records;
		if (r->produce_parsed && r->acks == 0) {
			a->produce_acks0++;
			return 0;
		}
	}
	h = agg_hist(a, r->api_key);
	if (!h)
		return -ENOMEM;
	a->requests[r->api_key]++;
	hist_record(h, r->t_end > r->t_first ? r->t_end - r->t_first : 0);
	return 0;
}

const struct hist *agg_latency(const struct agg *a, int api_key)
{
	if (api_key < 0 || api_key >= AGG_MAX_API)
		return NULL;
	return a->lat[api_key];
}

uint64_t agg_count(const struct agg *a, int api_key)
{
	if (api_key < 0 || api_key >= AGG_MAX_API)
		return 0;
	return a->requests[api_key];
}
