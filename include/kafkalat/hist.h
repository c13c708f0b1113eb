/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Log-linear latency histograms (HDR-style): values are grouped by their
 * power of two, each power split into HIST_SUB_BUCKETS linear sub-buckets, so
 * every recorded value lies within 1% of its bucket's representative value.
 * Fixed size, no allocation, mergeable across intervals, files and brokers.
 */
#ifndef KAFKALAT_HIST_H
#define KAFKALAT_HIST_H

#include <stdbool.h>
#include <stdint.h>

#define HIST_SUB_BITS	 7
#define HIST_SUB_BUCKETS (1u << HIST_SUB_BITS)
#define HIST_EXPONENTS	 (64 - HIST_SUB_BITS + 1)
#define HIST_BUCKETS	 (HIST_EXPONENTS * HIST_SUB_BUCKETS)

struct hist {
	uint64_t count;
	uint64_t sum; /* saturates at UINT64_MAX */
	uint64_t min; /* exact; UINT64_MAX when empty */
	uint64_t max; /* exact; 0 when empty */
	uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t value);
void hist_record_n(struct hist *h, uint64_t value, uint64_t n);
/* The value at quantile q in [0,1] (nearest rank), within 1% of the exact
 * answer; clamped to [min, max]. 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);
bool hist_empty(const struct hist *h);

/* Bucket index of a value, and the representative (midpoint) value and the
 * inclusive bounds of a bucket: exposed for tests and serialisation. */
unsigned int hist_bucket_of(uint64_t value);
uint64_t hist_bucket_low(unsigned int bucket);
uint64_t hist_bucket_high(unsigned int bucket);
uint64_t hist_bucket_mid(unsigned int bucket);

#endif
