/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A time-ordered ring: fixed-size records that start with a span (struct
 * span), oldest first, at most max of them (the caller's limit, passed to
 * each push); when full, the oldest gives way.
 * Records go in either at the end in arrival order (ring_push: histories
 * whose arrival order is their end order) or in start order (ring_insert),
 * and the searches count records before a time by start or by end, which
 * the caller keeps in order. The buffer grows by doubling up to max, or is
 * reserved whole at once.
 */
#ifndef KAFKALAT_RING_H
#define KAFKALAT_RING_H

#include <stdint.h>

struct span {
	uint64_t t0, t1;
};

#define RING_REC_MAX 64 /* largest record size */

/* Its size is part of attrib_stats' bytes: keep it small. */
struct ring {
	unsigned char *buf;
	uint32_t esz, cap, head, len;
	uint64_t popped; /* records taken off the front so far */
	uint64_t hint;	 /* popped + the index the last search answered */
};

/* An empty ring of records of esz bytes (<= RING_REC_MAX). */
void ring_init(struct ring *r, uint32_t esz);
/* Allocates room for max records now: pushes up to max never fail after. */
int ring_reserve(struct ring *r, uint32_t max);
void ring_free(struct ring *r);
/* Forgets every record, keeps the buffer. */
void ring_clear(struct ring *r);
/* Bytes held by the buffer. */
uint64_t ring_bytes(const struct ring *r);

/* Record i (< len), 0 the oldest. */
void *ring_at(const struct ring *r, uint32_t i);
const struct span *ring_span(const struct ring *r, uint32_t i);
/* Takes the oldest record off (len > 0). */
void ring_pop(struct ring *r);
/* Appends rec, growing the buffer up to max (> 0) records: 0, 1 when the
 * oldest gave way, -ENOMEM (nothing changed). */
int ring_push(struct ring *r, const void *rec, uint32_t max);
/* ring_push, then moves rec back into t0 order (records mostly come in
 * order: a short walk). */
int ring_insert(struct ring *r, const void *rec, uint32_t max);
/* Pops the leading records that ended (t1) before `before`; returns how many. */
uint32_t ring_evict(struct ring *r, uint64_t before);

/* In a ring kept in t0 order: the number of records with t0 < t, and with t0 <= t. */
uint32_t ring_count_before(const struct ring *r, uint64_t t);
uint32_t ring_count_upto(const struct ring *r, uint64_t t);
/* In a ring kept in t1 order: the number of records with t1 < t. */
uint32_t ring_count_ended_before(const struct ring *r, uint64_t t);

#endif
