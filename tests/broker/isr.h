/* SPDX-License-Identifier: MIT */
/*
 * The replication rules of the reference broker as pure functions (no locks,
 * no broker): the static assignment, Kafka's caught-up rule, the ISR
 * shrink test and the high watermark. replica.c applies them under its
 * mutex; tests/unit/test_isr.c checks them.
 */
#ifndef REFBROKER_ISR_H
#define REFBROKER_ISR_H

#include <stdbool.h>
#include <stdint.h>

/* What the leader knows of one follower of a partition (Kafka's Replica). */
struct follower {
	int32_t id;
	bool in_isr;
	int64_t leo;		       /* fetch offset of its latest fetch */
	uint64_t caught_up_ns;	       /* lastCaughtUpTimeMs */
	uint64_t last_fetch_ns;	       /* lastFetchTimeMs */
	int64_t last_fetch_leader_leo; /* lastFetchLeaderLogEndOffset */
};

/*
 * Replicas of partition p over n brokers (ids sorted): the leader
 * ids[p % n] first, then the next rf - 1 in ring order.
 */
void isr_assign(const int32_t *ids, uint32_t n, uint32_t rf, int32_t p, int32_t *out);

/*
 * Replica.updateFetchState for a fetch at offset arriving at t, the
 * leader's log end being leader_leo: at the leader's LEO it is caught up
 * now; at least at the leader's LEO of the previous fetch, caught up as of
 * that previous fetch.
 */
void isr_fetch_update(struct follower *f, int64_t offset, int64_t leader_leo, uint64_t t);

/* isFollowerOutOfSync: behind the leader's LEO and not caught up for more than lag_ns. */
bool isr_out_of_sync(const struct follower *f, int64_t leader_leo, uint64_t now, uint64_t lag_ns);

/* min LEO over the ISR, the leader's included. */
int64_t isr_min_leo(const struct follower *f, uint32_t nf, int64_t leader_leo);

#endif
