// SPDX-License-Identifier: MIT
/*
 * Replication hook. The replication module owns this file and fills it: it
 * learns a follower's fetch offset here (Kafka's updateFollowerFetchState),
 * moves the high watermark with partition_set_hw() and then wakes the
 * delayed fetches with fetch_purgatory_wake(). Without replication there
 * are no followers and nothing to do.
 */
#include "broker.h"

void replica_on_fetch(struct broker *b, struct partition *p, int32_t replica_id,
		      int64_t fetch_offset, uint64_t t_arrival_ns)
{
	(void)b;
	(void)p;
	(void)replica_id;
	(void)fetch_offset;
	(void)t_arrival_ns;
}
