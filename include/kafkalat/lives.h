/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The broker's lives under --follow: each process (or set of processes)
 * traced between an attach and its exit, with the requests it completed
 * and those its exit left unanswered, and the gaps between them, when no
 * broker was attached. Times are in whichever clock the caller uses (the
 * live run's monotonic ns, a recording's realtime ns). Pure logic.
 */
#ifndef KAFKALAT_LIVES_H
#define KAFKALAT_LIVES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkalat/events.h"

#define LIVES_MAX (1u << 16) /* lives kept; later ones are not counted */

struct life {
	int pids[KLT_MAX_BROKERS];
	int npids;
	int64_t t_start, t_end;	 /* t_end 0 while it lives */
	uint64_t requests;	 /* completed (a response), every API */
	uint64_t produce;	 /* of which Produce */
	uint64_t records;	 /* the records of those Produce requests */
	uint64_t exit_unmatched; /* requests its exit left without a response */
};

struct lives {
	struct life *v; /* by start; they never overlap */
	size_t n, cap;
};

/* A life begins at t (after the previous one ended). 0, -ERANGE past
 * LIVES_MAX, -ENOMEM. */
int lives_begin(struct lives *l, int64_t t, const int *pids, int npids);
/* The living one ends at t with exit_unmatched requests unanswered. */
void lives_end(struct lives *l, int64_t t, uint64_t exit_unmatched);
/* The life going on, or NULL in a gap (or before the first). */
struct life *lives_current(struct lives *l);
/* A completed request of the life going on (none in a gap). */
void lives_count(struct lives *l, bool produce, uint64_t records);
/* The time of [from, to) after the first life's start with no life going
 * on: the gap an interval holds. */
int64_t lives_gap_ns(const struct lives *l, int64_t from, int64_t to);
/* The gaps between lives and after the last: how many, and their time up
 * to end (a gap still open at end ends there). */
size_t lives_gaps(const struct lives *l, int64_t end, int64_t *total_ns);
/* Appends a whole life (a recording's, read back): as lives_begin. */
int lives_add(struct lives *l, const struct life *x);
void lives_free(struct lives *l);

#endif
