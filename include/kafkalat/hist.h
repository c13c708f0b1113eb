/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Log-linear latency histograms (HDR-style): values are grouped by their
 * power of two, each power split into HIST_SUB_BUCKETS (1024) linear
 * sub-buckets, so every recorded value lies within 0.05% of its bucket's
 * representative value: three significant digits, as HdrHistogram's
 * numberOfSignificantValueDigits = 3 keeps them.
 * Fixed size, no allocation, mergeable across intervals, files and brokers.
 */
#ifndef KAFKALAT_HIST_H
#define KAFKALAT_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS	 10
#define HIST_SUB_BUCKETS (1u << HIST_SUB_BITS)
#define HIST_EXPONENTS	 (64 - HIST_SUB_BITS + 1)
#define HIST_BUCKETS	 (HIST_EXPONENTS * HIST_SUB_BUCKETS)
/* The longest encoding: four 10-byte varints, then for every bucket an
 * index delta of at most 3 bytes (HIST_BUCKETS = 56320 < 2^21) and a
 * 10-byte count. */
#define HIST_ENCODED_MAX (4 * 10 + HIST_BUCKETS * (3 + 10))

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
/* The value at quantile q in [0,1] (nearest rank), within 0.1% of the exact
 * answer; clamped to [min, max]. 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/* The rank hist_quantile looks for among count values: ceil(q * count),
 * in [1, count]. */
uint64_t hist_rank(uint64_t count, double q);
/* The values recorded in value's bucket and every bucket below it. */
uint64_t hist_count_through(const struct hist *h, uint64_t value);
double hist_mean(const struct hist *h);
/* The population standard deviation, each value taken as its bucket's
 * representative clamped to [min, max], as hist_quantile reports it. */
double hist_stddev(const struct hist *h);
bool hist_empty(const struct hist *h);
/* Adds from into into: the result equals one histogram of both inputs'
 * values (exactly, short of saturation). */
void hist_merge(struct hist *into, const struct hist *from);

/*
 * Coarsens h to a lowest discernible value of unit, as HdrHistogram's
 * lowestDiscernibleValue does: below HIST_SUB_BUCKETS * unit, where buckets
 * are at most unit / 2 wide, each bucket's count moves to the bucket of its
 * midpoint rounded to a multiple of unit, and min and max with theirs
 * (within 0.75 unit of the truth); above, nothing changes. The sum stays
 * exact. A recording keeps its histograms at 1 us: values of 1 us to 1 ms
 * then take 1000 buckets instead of 10240. Coarsening commutes with
 * merging, and coarsening twice changes nothing.
 */
void hist_coarsen(struct hist *h, uint64_t unit);

/*
 * The compact form, for files: unsigned LEB128 varints. An empty histogram
 * is its count, 0. Otherwise count, sum, min and max, then one pair per
 * non-empty bucket in increasing order: the index's distance from the
 * previous one (the first: from 0), and the bucket's count. Every form has
 * one encoding, so decoding then encoding gives back the same bytes.
 * hist_encode returns the bytes needed and writes them only if cap holds
 * them all. hist_decode checks every field: indexes in range and
 * increasing, bucket counts non-zero and summing to count, min <= max and
 * in the first and last buckets, minimal varints that fit 64 bits, no bytes
 * left over; 0, or -EINVAL with h empty. A histogram whose count saturated
 * does not decode.
 */
size_t hist_encode(const struct hist *h, uint8_t *buf, size_t cap);
int hist_decode(struct hist *h, const uint8_t *buf, size_t len);

/* Bucket index of a value, and the representative (midpoint) value and the
 * inclusive bounds of a bucket: exposed for tests and serialisation. */
unsigned int hist_bucket_of(uint64_t value);
uint64_t hist_bucket_low(unsigned int bucket);
uint64_t hist_bucket_high(unsigned int bucket);
uint64_t hist_bucket_mid(unsigned int bucket);

#endif
