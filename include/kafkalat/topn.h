/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Top-N: keeps the max records with the largest keys seen. Records sit in
 * slots that do not move (a record that gives way leaves its slot to the
 * newcomer); a min-heap of (key, slot) pairs finds the one to give way, so
 * sifting moves 16 bytes, not a record. Equal keys: a newcomer never
 * pushes out a record whose key it only equals.
 *
 * Two orders walk the records: by slot, and by heap position. Neither
 * depends on anything but the sequence of keys put, so a caller whose
 * output follows the walk order is deterministic with either.
 */
#ifndef KAFKALAT_TOPN_H
#define KAFKALAT_TOPN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct topn_ent {
	uint64_t key;
	uint32_t slot;
};

struct topn {
	unsigned char *recs;   /* max records of esz bytes */
	struct topn_ent *heap; /* min-heap on key over the n records kept */
	size_t esz;
	uint32_t n, max;
};

/* max 0 keeps one. 0 or -ENOMEM. */
int topn_init(struct topn *t, size_t esz, uint32_t max);
void topn_free(struct topn *t);
/* Keeps nothing again (the memory stays). */
void topn_clear(struct topn *t);
/* Would a record of this key be kept? */
bool topn_wants(const struct topn *t, uint64_t key);
/* The zeroed slot for a new record of this key (when full, the smallest
 * kept gives way), or NULL when topn_wants() says no. */
void *topn_put(struct topn *t, uint64_t key);
/* Record i (< n) by slot, and the record at heap position i (0: the smallest). */
void *topn_at(const struct topn *t, uint32_t i);
void *topn_heap_at(const struct topn *t, uint32_t i);

#endif
