/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The aggregator: per-API latency histograms and counts of completed
 * requests over an interval or a whole run. Mergeable, so intervals add up
 * to the run and runs add up across brokers.
 */
#ifndef KAFKALAT_AGG_H
#define KAFKALAT_AGG_H

#include <stdint.h>

#include "kafkalat/correlate.h"
#include "kafkalat/hist.h"

#define AGG_MAX_API (KLT_MAX_API_KEY + 1)

struct agg {
	uint64_t requests[AGG_MAX_API]; /* completed with a response, per api key */
	struct hist *lat[AGG_MAX_API];	/* latency (ns) t_first -> t_end; allocated on first use */
	uint64_t produce_acks0;
	uint64_t produce_bytes;
	uint64_t produce_records;
};

void agg_init(struct agg *a);
void agg_free(struct agg *a);
void agg_reset(struct agg *a);
/* Returns 0 or -ENOMEM. acks=0 Produce requests are counted apart. */
int agg_add(struct agg *a, const struct corr_request *r);
/* The latency histogram of an api key, or NULL when none completed. */
const struct hist *agg_latency(const struct agg *a, int api_key);
uint64_t agg_count(const struct agg *a, int api_key);

#endif
