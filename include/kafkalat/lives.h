/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The brokers' lives under --follow: each broker of the run (0, 1, ...: the
 * order they were first found in) is one process after another, each
 * traced between an attach and its exit, with the requests it completed
 * and those its exit left unanswered; between two lives of a broker, and
 * after its last one's exit, is its gap. The lives of different brokers
 * overlap. Times are in whichever clock the caller uses (the live run's
 * monotonic ns, a recording's realtime ns). Pure logic.
 */
#ifndef KAFKALAT_LIVES_H
#define KAFKALAT_LIVES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkalat/events.h"

#define LIVES_MAX (1u << 16) /* lives kept; later ones are not counted */

struct life {
	int broker; /* which of the run's brokers, 0..KLT_MAX_BROKERS-1 */
	/* its process; a recording of an older kafkalat may give a life
	 * several (all the run's brokers, which it followed as one) */
	int pids[KLT_MAX_BROKERS];
	int npids;
	int64_t t_start, t_end;	 /* t_end 0 while it lives */
	uint64_t requests;	 /* completed (a response), every API */
	uint64_t produce;	 /* of which Produce */
	uint64_t records;	 /* the records of those Produce requests */
	uint64_t exit_unmatched; /* requests its exit left without a response */
};

struct lives {
	struct life *v; /* by start; a broker's own never overlap */
	size_t n, cap;
	int nbrokers; /* 1 + the highest broker of a life */
	/* each broker's life going on, as its index + 1; 0 none */
	size_t cur[KLT_MAX_BROKERS];
};

/* Broker's next life begins at t, with process pid (after its previous
 * one ended). 0, -EINVAL for a broker out of range, -ERANGE past
 * LIVES_MAX, -ENOMEM. */
int lives_begin(struct lives *l, int64_t t, int broker, int pid);
/* Broker's life going on ends at t with exit_unmatched requests
 * unanswered; nothing when none goes on. */
void lives_end(struct lives *l, int broker, int64_t t, uint64_t exit_unmatched);
/* Broker's life going on, or NULL in its gap (or before its first). */
struct life *lives_current(struct lives *l, int broker);
/* A completed request of process tgid, counted in its life going on.
 * tgid 0 (a connection whose owner is unknown) counts in the only life
 * going on, or in none when several are. */
void lives_count(struct lives *l, uint32_t tgid, bool produce, uint64_t records);
/* The time of [from, to) when some broker, after its first life's start,
 * had no life going on: the gap an interval holds. */
int64_t lives_gap_ns(const struct lives *l, int64_t from, int64_t to);
/* The same for one broker alone. */
int64_t lives_broker_gap_ns(const struct lives *l, int broker, int64_t from, int64_t to);
/* When the life after v[i] of the same broker starts; end if none does. */
int64_t lives_next_start(const struct lives *l, size_t i, int64_t end);
/* The gaps after each life that ended, up to its broker's next life (or
 * end): how many, and their time summed over the brokers. */
size_t lives_gaps(const struct lives *l, int64_t end, int64_t *total_ns);
/* Appends a whole life (a recording's, read back): as lives_begin. */
int lives_add(struct lives *l, const struct life *x);
void lives_free(struct lives *l);

#endif
