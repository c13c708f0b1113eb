// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Log-linear histogram. Index layout (HDR-style, with S = HIST_SUB_BUCKETS):
 *   values 0 .. 2S-1 map to themselves (exact: bucket width 1);
 *   a value v in [2^k, 2^(k+1)) with k > HIST_SUB_BITS has shift s = k - HIST_SUB_BITS
 *   and index s*S + (v >> s), i.e. each power of two is cut into S equal
 *   sub-buckets of width 2^s.
 * The same formula (with s = 0) covers the exact range, so the index is
 * continuous and monotonic. A bucket's half-width 2^(s-1) over its smallest
 * value S*2^s is 1/(2S) = 0.39% for S = 128, hence the 1% guarantee.
 * UINT64_MAX has s = 63 - HIST_SUB_BITS and v >> s = 2S-1, giving the last
 * index (64 - HIST_SUB_BITS + 1) * S - 1 = HIST_BUCKETS - 1.
 */
#include "kafkalat/hist.h"

#include <math.h>
#include <string.h>

/* Saturating add: counts and sums must never wrap into small numbers. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

bool hist_empty(const struct hist *h)
{
	return h->count == 0;
}

/* Width exponent of the bucket holding value: 0 in the exact range. */
static unsigned int value_shift(uint64_t value)
{
	unsigned int k;

	if (value < 2 * (uint64_t)HIST_SUB_BUCKETS)
		return 0;
	k = 63 - (unsigned int)__builtin_clzll(value);
	return k - HIST_SUB_BITS;
}

unsigned int hist_bucket_of(uint64_t value)
{
	unsigned int s = value_shift(value);

	return s * HIST_SUB_BUCKETS + (unsigned int)(value >> s);
}

/* Inverse of hist_bucket_of: the shift of a bucket from its index. */
static unsigned int bucket_shift(unsigned int bucket)
{
	if (bucket < 2 * HIST_SUB_BUCKETS)
		return 0;
	return bucket / HIST_SUB_BUCKETS - 1;
}

/* Out-of-range indexes are clamped to the last bucket rather than trusted. */
static unsigned int clamp_bucket(unsigned int bucket)
{
	return bucket < HIST_BUCKETS ? bucket : HIST_BUCKETS - 1;
}

uint64_t hist_bucket_low(unsigned int bucket)
{
	unsigned int b = clamp_bucket(bucket);
	unsigned int s = bucket_shift(b);

	return (uint64_t)(b - s * HIST_SUB_BUCKETS) << s;
}

uint64_t hist_bucket_high(unsigned int bucket)
{
	unsigned int b = clamp_bucket(bucket);

	/* Written as low + (width - 1) so the last bucket ends at UINT64_MAX
	 * without overflowing. */
	return hist_bucket_low(b) + ((UINT64_C(1) << bucket_shift(b)) - 1);
}

uint64_t hist_bucket_mid(unsigned int bucket)
{
	uint64_t lo = hist_bucket_low(bucket);

	return lo + (hist_bucket_high(bucket) - lo) / 2;
}

void hist_record_n(struct hist *h, uint64_t value, uint64_t n)
{
	unsigned int b;

	if (n == 0)
		return; /* a zero count must not move min/max */
	b = hist_bucket_of(value);
	h->buckets[b] = sat_add(h->buckets[b], n);
	h->count = sat_add(h->count, n);
	h->sum = sat_add(h->sum, sat_mul(value, n));
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void hist_record(struct hist *h, uint64_t value)
{
	hist_record_n(h, value, 1);
}

static uint64_t clamp_value(const struct hist *h, uint64_t v)
{
	if (v < h->min)
		return h->min;
	return v > h->max ? h->max : v;
}

/* Nearest rank: ceil(q * count), at least 1. Done in double because count
 * may exceed what q * count can hold exactly; the result is clamped. */
static uint64_t nearest_rank(uint64_t count, double q)
{
	double r = ceil(q * (double)count);

	if (!(r >= 1.0))
		return 1;
	if (r >= (double)count)
		return count;
	return (uint64_t)r;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, cum = 0;
	unsigned int i;

	if (hist_empty(h))
		return 0;
	/* The extremes are known exactly; NaN is treated as 0. */
	if (!(q > 0.0))
		return h->min;
	if (q >= 1.0)
		return h->max;
	rank = nearest_rank(h->count, q);
	for (i = 0; i < HIST_BUCKETS; i++) {
		cum = sat_add(cum, h->buckets[i]);
		if (cum >= rank)
			return clamp_value(h, hist_bucket_mid(i));
	}
	return h->max; /* only reachable if saturation broke the count */
}

double hist_mean(const struct hist *h)
{
	if (hist_empty(h))
		return 0.0;
	return (double)h->sum / (double)h->count;
}
