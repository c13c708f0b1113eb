// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Log-linear histogram. Index layout (HDR-style, with S = HIST_SUB_BUCKETS):
 *   values 0 .. 2S-1 map to themselves (exact: bucket width 1);
 *   a value v in [2^k, 2^(k+1)) with k > HIST_SUB_BITS has shift s = k - HIST_SUB_BITS
 *   and index s*S + (v >> s), i.e. each power of two is cut into S equal
 *   sub-buckets of width 2^s.
 * The same formula (with s = 0) covers the exact range, so the index is
 * continuous and monotonic. A bucket's half-width 2^(s-1) over its smallest
 * value S*2^s is 1/(2S) = 0.049% for S = 1024, hence the 0.1% guarantee.
 * UINT64_MAX has s = 63 - HIST_SUB_BITS and v >> s = 2S-1, giving the last
 * index (64 - HIST_SUB_BITS + 1) * S - 1 = HIST_BUCKETS - 1.
 */
#include "kafkalat/hist.h"
#include "kafkalat/tlv.h"

#include <errno.h>
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

uint64_t hist_rank(uint64_t count, double q)
{
	return nearest_rank(count, q);
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
	/* no count lies below min's bucket (hist_decode checks it): the scan of
	 * a latency histogram starts thousands of empty buckets up */
	for (i = hist_bucket_of(h->min); i < HIST_BUCKETS; i++) {
		cum = sat_add(cum, h->buckets[i]);
		if (cum >= rank)
			return clamp_value(h, hist_bucket_mid(i));
	}
	return h->max; /* only reachable if saturation broke the count */
}

uint64_t hist_count_through(const struct hist *h, uint64_t value)
{
	unsigned int i, last = hist_bucket_of(value);
	uint64_t cum = 0;

	for (i = 0; i <= last; i++)
		cum = sat_add(cum, h->buckets[i]);
	return cum;
}

double hist_mean(const struct hist *h)
{
	if (hist_empty(h))
		return 0.0;
	return (double)h->sum / (double)h->count;
}

double hist_stddev(const struct hist *h)
{
	double mean = hist_mean(h), var = 0.0, d;
	unsigned int i;

	if (hist_empty(h))
		return 0.0;
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		d = (double)clamp_value(h, hist_bucket_mid(i)) - mean;
		var += d * d * (double)h->buckets[i];
	}
	return sqrt(var / (double)h->count);
}

/* Below S * unit buckets are at most unit / 2 wide, so the bucket of a
 * multiple of unit has its midpoint within unit / 4 of it: rounding the
 * midpoint gives the multiple back, and coarsening is idempotent. */
static uint64_t coarse_limit(uint64_t unit)
{
	return (uint64_t)HIST_SUB_BUCKETS * unit;
}

/* The value a bucket's count stands for once coarsened. */
static uint64_t coarse_mid(unsigned int bucket, uint64_t unit)
{
	uint64_t mid = hist_bucket_mid(bucket);

	return mid >= coarse_limit(unit) ? mid : (mid + unit / 2) / unit * unit;
}

void hist_coarsen(struct hist *h, uint64_t unit)
{
	unsigned int last;

	if (unit <= 1 || hist_empty(h))
		return;
	last = hist_bucket_of(coarse_limit(unit) - 1);
	/* a bucket holding a multiple of unit keeps its count, so one pass
	 * upwards moves each count once */
	for (unsigned int i = 0; i <= last && i < HIST_BUCKETS; i++) {
		unsigned int j;

		if (!h->buckets[i])
			continue;
		j = hist_bucket_of(coarse_mid(i, unit));
		if (j != i) {
			h->buckets[j] = sat_add(h->buckets[j], h->buckets[i]);
			h->buckets[i] = 0;
		}
	}
	/* min and max go where their counts went: the decoder checks it */
	if (h->min < coarse_limit(unit))
		h->min = coarse_mid(hist_bucket_of(h->min), unit);
	if (h->max < coarse_limit(unit))
		h->max = coarse_mid(hist_bucket_of(h->max), unit);
}

void hist_merge(struct hist *into, const struct hist *from)
{
	unsigned int i;

	if (hist_empty(from))
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] = sat_add(into->buckets[i], from->buckets[i]);
	into->count = sat_add(into->count, from->count);
	into->sum = sat_add(into->sum, from->sum);
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

/* HIST_ENCODED_MAX counts 3 bytes for an index delta. */
_Static_assert(HIST_BUCKETS <= (1u << 21), "an index delta fits 3 varint bytes");

/* Where encoded bytes go; a NULL buf only counts them. */
struct hist_out {
	uint8_t *buf;
	size_t n;
};

static void put_varint(struct hist_out *o, uint64_t v)
{
	do {
		uint8_t b = v & 0x7f;

		v >>= 7;
		if (v)
			b |= 0x80;
		if (o->buf)
			o->buf[o->n] = b;
		o->n++;
	} while (v);
}

static void encode_into(const struct hist *h, struct hist_out *o)
{
	unsigned int i, prev = 0;

	put_varint(o, h->count);
	if (hist_empty(h))
		return;
	put_varint(o, h->sum);
	put_varint(o, h->min);
	put_varint(o, h->max);
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		put_varint(o, i - prev);
		put_varint(o, h->buckets[i]);
		prev = i;
	}
}

size_t hist_encode(const struct hist *h, uint8_t *buf, size_t cap)
{
	struct hist_out o = {.buf = NULL, .n = 0};

	encode_into(h, &o);
	if (o.n <= cap && buf) {
		o = (struct hist_out){.buf = buf, .n = 0};
		encode_into(h, &o);
	}
	return o.n;
}

/* The pairs, until their counts reach h->count. */
static int decode_buckets(struct hist *h, struct tlv_cur *in)
{
	uint64_t total = 0, delta, n;
	unsigned int idx = 0;
	bool first = true;

	while (total < h->count) {
		if (tlv_get_varint(in, &delta) || tlv_get_varint(in, &n))
			return -EINVAL;
		if ((!first && delta == 0) || delta > HIST_BUCKETS - 1 - idx)
			return -EINVAL;
		idx += (unsigned int)delta;
		if (n == 0 || n > h->count - total)
			return -EINVAL;
		if (first && idx != hist_bucket_of(h->min))
			return -EINVAL;
		h->buckets[idx] = n;
		total += n;
		first = false;
	}
	return idx == hist_bucket_of(h->max) ? 0 : -EINVAL;
}

static int decode_from(struct hist *h, struct tlv_cur *in)
{
	if (tlv_get_varint(in, &h->count))
		return -EINVAL;
	if (h->count == 0)
		return tlv_cur_done(in) ? 0 : -EINVAL;
	if (tlv_get_varint(in, &h->sum) || tlv_get_varint(in, &h->min) ||
	    tlv_get_varint(in, &h->max) || h->min > h->max)
		return -EINVAL;
	if (decode_buckets(h, in))
		return -EINVAL;
	return tlv_cur_done(in) ? 0 : -EINVAL;
}

int hist_decode(struct hist *h, const uint8_t *buf, size_t len)
{
	struct tlv_cur in;

	tlv_cur_init(&in, buf, len);
	hist_init(h);
	if (decode_from(h, &in) == 0)
		return 0;
	hist_init(h);
	return -EINVAL;
}
