/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * produce_req: a correlated Produce request built by hand, as the correlator
 * hands it to attribution (test_attrib.c) and to the explainer
 * (explain_scenario.h): acks=1, one topic, up to PRODUCE_REQ_PARTS partitions,
 * read and answered by one network thread. Times in nanoseconds.
 */
#ifndef KAFKALAT_TESTS_PRODUCE_REQ_H
#define KAFKALAT_TESTS_PRODUCE_REQ_H

#include <stdint.h>
#include <string.h>

#include "kafkalat/correlate.h"

#define PRODUCE_REQ_PARTS 4

struct req {
	struct corr_request r;
	struct corr_topic topic;
	struct corr_part parts[PRODUCE_REQ_PARTS];
};

/* Topic "orders", no partitions yet (produce_req_part adds them). */
static inline void produce_req_init(struct req *q, uint32_t net_tid, uint64_t t_first,
				    uint64_t t_read, uint64_t t_resp, uint64_t t_end)
{
	memset(q, 0, sizeof(*q));
	strcpy(q->topic.name, "orders");
	q->r.api_version = 7;
	q->r.produce_parsed = true;
	q->r.acks = 1;
	q->r.tid_read = q->r.tid_send = net_tid;
	q->r.t_first = t_first;
	q->r.t_read = t_read;
	q->r.t_resp = t_resp;
	q->r.t_end = t_end;
	q->r.ntopics = 1;
	q->r.topics = &q->topic;
	q->r.parts = q->parts;
	strcpy(q->r.client, "127.0.0.1:4000");
}

static inline void produce_req_part(struct req *q, int32_t partition, int32_t bytes)
{
	if (q->r.nparts < PRODUCE_REQ_PARTS)
		q->parts[q->r.nparts++] = (struct corr_part){.partition = partition,
							     .record_bytes = bytes,
							     .producer_id = -1,
							     .base_sequence = -1};
}

#endif
