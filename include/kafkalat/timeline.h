/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A timeline: a time-ordered ring of fixed-size records that start with a
 * span (struct span), oldest first, at most max of them (the caller's limit,
 * passed to each push); when full, the oldest gives way. Records go in
 * either at the end in arrival order (timeline_push: histories whose
 * arrival order is their end order) or in start order (timeline_insert),
 * and the searches count records before a time by start or by end, which
 * the caller keeps in order. The buffer grows by doubling up to max, or is
 * reserved whole at once; eviction halves it again once a quarter full or
 * less (never below TIMELINE_MIN_CAP).
 */
#ifndef KAFKALAT_TIMELINE_H
#define KAFKALAT_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

struct span {
	uint64_t t0, t1;
};

#define TIMELINE_REC_MAX 64 /* largest record size */
#define TIMELINE_MIN_CAP 16 /* records of the first buffer */

/* Its size is part of attrib_stats' bytes: keep it small. */
struct timeline {
	unsigned char *buf;
	uint32_t esz, cap, head, len;
	uint64_t popped; /* records taken off the front so far */
	uint64_t hint;	 /* popped + the index the last search answered */
};

/* An empty timeline of records of esz bytes (<= TIMELINE_REC_MAX). */
void timeline_init(struct timeline *r, uint32_t esz);
/* Allocates room for max records now: pushes up to max never fail after. */
int timeline_reserve(struct timeline *r, uint32_t max);
void timeline_free(struct timeline *r);
/* Forgets every record, keeps the buffer. */
void timeline_clear(struct timeline *r);
/* Bytes held by the buffer. */
uint64_t timeline_bytes(const struct timeline *r);

/* Record i (< len), 0 the oldest. i < cap and head < cap: one subtraction
 * wraps, no division. Inline: every step of every search reads records
 * (design.md, kafkalat's own CPU). */
static inline void *timeline_at(const struct timeline *r, uint32_t i)
{
	uint32_t j = r->head + i;

	if (j >= r->cap)
		j -= r->cap;
	return r->buf + (size_t)j * r->esz;
}

static inline const struct span *timeline_span(const struct timeline *r, uint32_t i)
{
	return (const struct span *)timeline_at(r, i);
}
/* Takes the oldest record off (len > 0). */
void timeline_pop(struct timeline *r);
/* Appends rec, growing the buffer up to max (> 0) records: 0, 1 when the
 * oldest gave way, -ENOMEM (nothing changed). */
int timeline_push(struct timeline *r, const void *rec, uint32_t max);
/* timeline_push, then moves rec back into t0 order (records mostly come in
 * order: a short walk). */
int timeline_insert(struct timeline *r, const void *rec, uint32_t max);
/* Pops the leading records that ended (t1) before `before`; returns how
 * many. Then shrinks the buffer when a quarter full or less: a timeline
 * reserved whole is evicted by timeline_pop instead. */
uint32_t timeline_evict(struct timeline *r, uint64_t before);

/* In a timeline kept in t0 order: the number of records with t0 < t, and with t0 <= t. */
uint32_t timeline_count_before(const struct timeline *r, uint64_t t);
uint32_t timeline_count_upto(const struct timeline *r, uint64_t t);
/* In a timeline kept in t1 order: the number of records with t1 < t. */
uint32_t timeline_count_ended_before(const struct timeline *r, uint64_t t);

#endif
