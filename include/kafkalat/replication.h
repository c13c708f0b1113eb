/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Replication (acks=all): which follower Fetch released a produce batch.
 * The leader parks an acks=all request until its high watermark passes the
 * request's last offset, which happens when the last in-sync follower sends
 * a Fetch whose fetch_offset is past it (the follower fetched the batch,
 * appended it, and fetches again from its new log end). Fed every follower
 * Fetch at frame time (when read, not at its completion: a follower's fetch
 * waits up to replica.fetch.wait.max.ms in the leader's purgatory), it
 * answers, for a batch: each follower's covering fetch and the one that
 * released it; it keeps the replication lag per leader and follower and
 * infers ISR changes from who the leader waited for. Pure logic: no I/O.
 * The rules and their limits: docs/design.md, "Replication".
 *
 * Bounded: per (leader, topic, partition) at most REPL_MAX_FOLLOWERS
 * followers, each with at most max_per_follower fetches no older than
 * window_ns behind the newest one; at most max_partitions partitions,
 * max_peers connections and REPL_MAX_PAIRS (leader, follower) pairs.
 * What is evicted or not kept is counted.
 */
#ifndef KAFKALAT_REPLICATION_H
#define KAFKALAT_REPLICATION_H

#include <stdbool.h>
#include <stdint.h>

#include "kafkalat/hist.h"

#define REPL_MAX_FOLLOWERS 8   /* followers of one partition (KLT_MAX_BROKERS) */
#define REPL_MAX_PAIRS	   64  /* (leader, follower) lag histograms */
#define REPL_MAX_ISR	   256 /* ISR change events kept */

/* Why a batch (or request) has no release. */
enum repl_none {
	REPL_RELEASED = 0,
	REPL_NONE_OFFSETS,     /* the batch's offsets are unknown */
	REPL_NONE_NO_FETCHES,  /* no follower fetch of its partition seen: connection unknown */
	REPL_NONE_NO_COVERING, /* fetches seen, none past its last offset by t_resp */
	REPL_NONE_MAX
};

struct repl_config {
	uint64_t window_ns;	   /* fetches kept behind the newest one */
	uint32_t max_per_follower; /* fetches per (partition, follower) */
	uint32_t max_partitions;   /* (leader, topic, partition) tracked */
	uint32_t max_peers;	   /* connections whose far end is known */
};

struct repl_stats {
	uint64_t fetches;	      /* partitions of follower fetches accepted */
	uint64_t bad;		      /* rejected: no topic, negative offset or replica */
	uint64_t evicted;	      /* aged out of the window */
	uint64_t dropped;	      /* pushed out by max_per_follower */
	uint64_t full;		      /* not kept: partition or follower slots full, no memory */
	uint64_t peers;		      /* connections with a known far end */
	uint64_t peers_full;	      /* not kept: max_peers */
	uint64_t batches;	      /* repl_batch calls */
	uint64_t requests;	      /* repl_count_request calls */
	uint64_t released;	      /* requests with a release */
	uint64_t none[REPL_NONE_MAX]; /* requests without, by reason */
	uint64_t peer_unknown;	      /* released requests whose releasing broker is unknown */
	uint64_t isr_more;	      /* ISR changes not listed: REPL_MAX_ISR */
	uint64_t pairs_full;	      /* lags not kept: REPL_MAX_PAIRS */
};

/* The batch a produce request appended to one partition of the leader. */
struct repl_batch {
	uint32_t leader_tgid;
	const char *topic;
	int32_t partition;
	int64_t base_offset, last_offset; /* last < 0: unknown */
	uint64_t t_append_start;	  /* the leader's write began */
	uint64_t t_append_end;		  /* E: it ended */
	uint64_t t_resp;		  /* the response was written */
	int32_t corr_id;		  /* of the request, for the ISR events */
};

/* One follower of the batch's partition. */
struct repl_cover {
	int32_t replica_id;
	uint32_t tgid;	      /* its broker process; 0 unknown */
	uint64_t conn_id;     /* its fetch connection on the leader */
	uint64_t t_cover;     /* its covering fetch's read; 0 none seen */
	int64_t fetch_offset; /* that fetch's offset */
};

struct repl_release {
	enum repl_none none;
	uint64_t t_release; /* R: the releasing fetch's read */
	int32_t replica_id; /* the releasing follower; -1 none */
	uint32_t tgid;	    /* its broker; 0 unknown */
	uint64_t conn_id;
	bool by_shrink; /* released when the leader dropped that follower from the ISR */
	uint32_t nfollowers;
	struct repl_cover f[REPL_MAX_FOLLOWERS];
};

/* An ISR change, inferred from the wire. shrink: the first request the
 * leader released before this follower's covering fetch came; expand: the
 * first later request it released. */
struct repl_isr_event {
	uint64_t t_ns; /* the request's t_resp */
	uint32_t leader_tgid;
	const char *topic; /* valid until repl_free() */
	int32_t partition;
	int32_t replica_id;
	uint32_t follower_tgid; /* 0 unknown */
	int32_t corr_id;
	bool expand;
};

/* Replication lag of a (leader, follower): its covering fetch's read
 * minus the leader's append end, over the acks=all batches it covered
 * (whether or not it released them). */
struct repl_pair {
	uint32_t leader_tgid;
	int32_t replica_id;
	uint32_t follower_tgid; /* the last known; 0 unknown */
	uint64_t released;	/* batches it released */
	struct hist *lag;
};

struct repl;

void repl_config_default(struct repl_config *cfg);
/* cfg NULL: defaults. NULL on allocation failure or a zero limit. */
struct repl *repl_new(const struct repl_config *cfg);
void repl_free(struct repl *r);

/* A partition of a follower Fetch, as its request is read: 0, -EINVAL
 * (counted) or -ENOMEM (counted). t_read: when the leader read it (the
 * fetches' times below are these). */
int repl_add_fetch(struct repl *r, uint32_t leader_tgid, uint64_t conn_id, int32_t replica_id,
		   const char *topic, int32_t partition, int64_t fetch_offset, uint64_t t_read);
/* The traced broker process at the far end of conn_id (0: not traced). */
int repl_note_peer(struct repl *r, uint64_t conn_id, uint32_t peer_tgid);
/* The far end's process of conn_id; 0 unknown. repl_peer_noted: whether
 * repl_note_peer was told about conn_id at all (0 included). */
uint32_t repl_peer(const struct repl *r, uint64_t conn_id);
bool repl_peer_noted(const struct repl *r, uint64_t conn_id);

/* The release of b (always fills out; returns out->none). Lookup only. */
enum repl_none repl_find(const struct repl *r, const struct repl_batch *b,
			 struct repl_release *out);
/* repl_find, then accounts b: each covering follower's lag, and the ISR
 * changes it shows. Call once per batch, in t_resp order per partition. */
enum repl_none repl_batch(struct repl *r, const struct repl_batch *b, struct repl_release *out);
/* Counts a request's outcome: released (with its releasing broker known or
 * not) or why not. */
void repl_count_request(struct repl *r, enum repl_none why, bool peer_known);

const struct repl_stats *repl_stats(const struct repl *r);
/* The ISR events so far, in the order found. */
const struct repl_isr_event *repl_isr_events(const struct repl *r, uint32_t *n);
/* The (leader, follower) pairs seen, in the order first seen. */
const struct repl_pair *repl_pairs(const struct repl *r, uint32_t *n);
/* "offsets_unknown", "no_fetches", "no_covering_fetch"; NULL out of range. */
const char *repl_none_name(unsigned int why);

#endif
