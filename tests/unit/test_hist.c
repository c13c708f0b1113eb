// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafkalat/hist.h"

#define N_RANDOM 100000

/* splitmix64: a seeded, portable PRNG so failures reproduce everywhere. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Log-uniform over [1 ns, 100 s]: latency data spans many decades. */
static uint64_t rng_latency(uint64_t *state)
{
	double u = (double)(rng_next(state) >> 11) / (double)(UINT64_C(1) << 53);

	return (uint64_t)llround(exp(u * log(1e11)));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank on a sorted array, as hist_quantile defines it. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
	double r = ceil(q * (double)n);
	size_t rank = r < 1.0 ? 1 : (size_t)r;

	return sorted[(rank > n ? n : rank) - 1];
}

/* The histogram is ~440 KiB: keep it off the stack. */
static struct hist *new_hist(void)
{
	struct hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	hist_init(h);
	return h;
}

static void test_empty(void **state)
{
	struct hist *h = new_hist();

	(void)state;
	assert_true(hist_empty(h));
	assert_int_equal(hist_quantile(h, 0.5), 0);
	assert_int_equal(hist_quantile(h, 0.0), 0);
	assert_int_equal(hist_quantile(h, 1.0), 0);
	assert_true(hist_mean(h) == 0.0);
	assert_int_equal(h->min, UINT64_MAX);
	assert_int_equal(h->max, 0);
	free(h);
}

static void test_small_values_exact(void **state)
{
	struct hist *h = new_hist();
	uint64_t v;

	(void)state;
	for (v = 0; v < 2 * HIST_SUB_BUCKETS; v++) {
		assert_int_equal(hist_bucket_of(v), v);
		assert_int_equal(hist_bucket_low(v), v);
		assert_int_equal(hist_bucket_high(v), v);
		assert_int_equal(hist_bucket_mid(v), v);
	}
	for (v = 1; v <= 100; v++)
		hist_record(h, v);
	assert_int_equal(hist_quantile(h, 0.5), 50);
	assert_int_equal(hist_quantile(h, 0.9), 90);
	assert_int_equal(hist_quantile(h, 0.99), 99);
	assert_int_equal(hist_quantile(h, 0.0), 1);
	assert_int_equal(hist_quantile(h, 1.0), 100);
	assert_true(hist_mean(h) == 50.5);
	free(h);
}

static void test_uint64_max(void **state)
{
	struct hist *h = new_hist();

	(void)state;
	assert_int_equal(hist_bucket_of(UINT64_MAX), HIST_BUCKETS - 1);
	assert_int_equal(hist_bucket_high(HIST_BUCKETS - 1), UINT64_MAX);
	hist_record(h, UINT64_MAX);
	hist_record(h, UINT64_MAX);
	assert_int_equal(h->count, 2);
	assert_int_equal(h->sum, UINT64_MAX); /* saturated, not wrapped */
	assert_int_equal(hist_quantile(h, 0.5), UINT64_MAX);
	assert_int_equal(h->buckets[HIST_BUCKETS - 1], 2);
	free(h);
}

static void test_record_n(void **state)
{
	struct hist *a = new_hist(), *b = new_hist();
	int i;

	(void)state;
	hist_record_n(a, 12345, 0); /* no-op, must not touch min/max */
	assert_true(hist_empty(a));
	assert_int_equal(a->min, UINT64_MAX);
	hist_record_n(a, 12345, 7);
	hist_record_n(a, 99, 3);
	for (i = 0; i < 7; i++)
		hist_record(b, 12345);
	for (i = 0; i < 3; i++)
		hist_record(b, 99);
	assert_memory_equal(a, b, sizeof(*a));
	assert_int_equal(a->count, 10);
	assert_int_equal(a->sum, 12345 * 7 + 99 * 3);
	assert_int_equal(a->min, 99);
	assert_int_equal(a->max, 12345);
	hist_record_n(a, UINT64_MAX / 2, 3); /* sum overflows: saturate */
	assert_int_equal(a->sum, UINT64_MAX);
	free(a);
	free(b);
}

static void test_buckets_consistent(void **state)
{
	unsigned int i;
	uint64_t lo, hi, mid;

	(void)state;
	assert_int_equal(hist_bucket_low(0), 0);
	for (i = 0; i < HIST_BUCKETS; i++) {
		lo = hist_bucket_low(i);
		hi = hist_bucket_high(i);
		mid = hist_bucket_mid(i);
		assert_true(lo <= mid && mid <= hi);
		assert_int_equal(hist_bucket_of(lo), i);
		assert_int_equal(hist_bucket_of(hi), i);
		assert_int_equal(hist_bucket_of(mid), i);
		/* The representative is within 0.05% of every value in the
		 * bucket (half a width over at least 1024 widths: 0.049%); the
		 * extremes are the worst case. */
		assert_true((double)(mid - lo) <= 0.0005 * (double)lo);
		assert_true((double)(hi - mid) <= 0.0005 * (double)hi);
		if (i + 1 < HIST_BUCKETS)
			assert_int_equal(hi + 1, hist_bucket_low(i + 1));
	}
	assert_int_equal(hist_bucket_high(HIST_BUCKETS - 1), UINT64_MAX);
}

static uint64_t *random_values(size_t n, uint64_t seed)
{
	uint64_t *v = malloc(n * sizeof(*v));
	size_t i;

	assert_non_null(v);
	for (i = 0; i < n; i++)
		v[i] = rng_latency(&seed);
	return v;
}

static void test_random_quantiles(void **state)
{
	static const double qs[] = {0.0, 0.5, 0.9, 0.99, 0.999, 1.0};
	struct hist *h = new_hist();
	uint64_t *v = random_values(N_RANDOM, 42);
	double err, worst = 0.0;
	uint64_t exact, got;
	size_t i;

	(void)state;
	for (i = 0; i < N_RANDOM; i++)
		hist_record(h, v[i]);
	qsort(v, N_RANDOM, sizeof(*v), cmp_u64);
	assert_int_equal(h->min, v[0]);
	assert_int_equal(h->max, v[N_RANDOM - 1]);
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		exact = exact_quantile(v, N_RANDOM, qs[i]);
		got = hist_quantile(h, qs[i]);
		err = fabs((double)got - (double)exact) / (double)exact;
		if (err > worst)
			worst = err;
		assert_true(err <= 0.001);
	}
	print_message("max relative quantile error: %.5f%%\n", worst * 100.0);
	free(v);
	free(h);
}

/* Every rank, not just the named quantiles, lands within 0.1%. */
static void test_all_ranks(void **state)
{
	struct hist *h = new_hist();
	uint64_t *v = random_values(N_RANDOM, 7);
	double q, err, worst = 0.0;
	uint64_t exact;
	size_t r;

	(void)state;
	for (r = 0; r < N_RANDOM; r++)
		hist_record(h, v[r]);
	qsort(v, N_RANDOM, sizeof(*v), cmp_u64);
	for (r = 1; r <= N_RANDOM; r += 97) {
		q = (double)r / N_RANDOM;
		exact = exact_quantile(v, N_RANDOM, q);
		err = fabs((double)hist_quantile(h, q) - (double)exact) / (double)exact;
		if (err > worst)
			worst = err;
	}
	print_message("max relative error over ranks: %.5f%%\n", worst * 100.0);
	assert_true(worst <= 0.001);
	free(v);
	free(h);
}

/* 5, 5 and 300: buckets 5 (count 2) and 300 (exact below 2048). */
static const uint8_t small_encoding[] = {
    0x03,	/* count */
    0xb6, 0x02, /* sum 310 */
    0x05,	/* min */
    0xac, 0x02, /* max 300 */
    0x05, 0x02, /* bucket 5: 2 */
    0xa7, 0x02, /* 295 on, bucket 300: 1 */
    0x01,
};

static struct hist *encode_decode(const struct hist *h, uint8_t *buf)
{
	struct hist *back = new_hist();
	size_t n = hist_encode(h, buf, HIST_ENCODED_MAX);

	assert_true(n <= HIST_ENCODED_MAX);
	assert_int_equal(hist_decode(back, buf, n), 0);
	assert_memory_equal(back, h, sizeof(*h));
	return back;
}

static void test_encode_exact(void **state)
{
	struct hist *h = new_hist();
	uint8_t buf[64];

	(void)state;
	assert_int_equal(hist_encode(h, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 0);
	free(encode_decode(h, buf));
	hist_record_n(h, 5, 2);
	hist_record(h, 300);
	assert_int_equal(hist_encode(h, buf, sizeof(buf)), sizeof(small_encoding));
	assert_memory_equal(buf, small_encoding, sizeof(small_encoding));
	free(encode_decode(h, buf));
	/* too small a buffer: the size, and nothing written */
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(hist_encode(h, buf, sizeof(small_encoding) - 1), sizeof(small_encoding));
	assert_int_equal(buf[0], 0xaa);
	assert_int_equal(buf[sizeof(small_encoding) - 2], 0xaa);
	assert_int_equal(hist_encode(h, NULL, 0), sizeof(small_encoding));
	free(h);
}

/* Every field and bucket survives, and encoding again gives the same bytes. */
static void test_encode_round_trip(void **state)
{
	uint8_t *buf = malloc(HIST_ENCODED_MAX), *again = malloc(HIST_ENCODED_MAX);
	uint64_t *v = random_values(N_RANDOM, 11);
	struct hist *h = new_hist(), *back;
	size_t n;

	(void)state;
	assert_non_null(buf);
	assert_non_null(again);
	for (size_t i = 0; i < N_RANDOM; i++)
		hist_record(h, v[i]);
	hist_record(h, 0);
	hist_record_n(h, UINT64_MAX, 3);
	back = encode_decode(h, buf);
	n = hist_encode(h, buf, HIST_ENCODED_MAX);
	assert_int_equal(hist_encode(back, again, HIST_ENCODED_MAX), n);
	assert_memory_equal(again, buf, n);
	free(back);
	/* every bucket full, as high as the count allows without saturating
	 * (UINT64_MAX / 56320 buckets, 49 bits: 7-byte varints): it
	 * round-trips */
	hist_init(h);
	for (unsigned int b = 0; b < HIST_BUCKETS; b++)
		hist_record_n(h, hist_bucket_low(b), UINT64_MAX / HIST_BUCKETS);
	free(encode_decode(h, buf));
	/* every bucket saturated, the longest encoding: count, sum and max of
	 * 10 bytes, min 0 of 1, then per bucket a 1-byte delta (the first 0,
	 * the others 1) and a 10-byte count; it fits HIST_ENCODED_MAX */
	hist_init(h);
	for (unsigned int b = 0; b < HIST_BUCKETS; b++)
		hist_record_n(h, hist_bucket_low(b), UINT64_MAX);
	assert_int_equal(hist_encode(h, NULL, 0), 3 * 10 + 1 + HIST_BUCKETS * (1 + 10));
	assert_true(hist_encode(h, NULL, 0) <= HIST_ENCODED_MAX);
	print_message("every bucket: %zu bytes (bound %u)\n", hist_encode(h, NULL, 0),
		      (unsigned int)HIST_ENCODED_MAX);
	/* one delta of the whole range, 56319: three varint bytes */
	hist_init(h);
	hist_record(h, 0);
	hist_record(h, UINT64_MAX);
	assert_int_equal(hist_encode(h, NULL, 0), 1 + 10 + 1 + 10 + (1 + 1) + (3 + 1));
	free(encode_decode(h, buf));
	free(h);
	free(v);
	free(buf);
	free(again);
}

static void expect_rejected(const uint8_t *buf, size_t len)
{
	struct hist *h = new_hist(), *empty = new_hist();

	hist_record(h, 1);
	assert_int_equal(hist_decode(h, buf, len), -EINVAL);
	assert_memory_equal(h, empty, sizeof(*h));
	free(h);
	free(empty);
}

#define REJECT(...)                                         \
	do {                                                \
		static const uint8_t bad[] = {__VA_ARGS__}; \
		expect_rejected(bad, sizeof(bad));          \
	} while (0)

static void test_decode_rejects(void **state)
{
	uint8_t longer[sizeof(small_encoding) + 1];

	(void)state;
	expect_rejected(NULL, 0);
	for (size_t n = 1; n < sizeof(small_encoding); n++)
		expect_rejected(small_encoding, n);
	memcpy(longer, small_encoding, sizeof(small_encoding));
	longer[sizeof(small_encoding)] = 0;
	expect_rejected(longer, sizeof(longer));		/* a trailing byte */
	REJECT(0x00, 0x00);					/* after an empty histogram */
	REJECT(0x01, 0x05, 0x06, 0x05, 0x05, 0x01);		/* min > max */
	REJECT(0x01, 0x00, 0x00, 0x00, 0x80, 0xb8, 0x03, 0x01); /* index 56320 */
	REJECT(0x03, 0xb6, 0x02, 0x05, 0xac, 0x02, 0x05, 0x02, 0xfb, 0xb7, 0x03,
	       0x01);						/* 5 + 56315 */
	REJECT(0x03, 0x0f, 0x05, 0x05, 0x05, 0x02, 0x00, 0x01); /* bucket 5 twice */
	REJECT(0x03, 0xb6, 0x02, 0x05, 0xac, 0x02, 0x05, 0x00, 0xa7, 0x02, 0x03); /* a zero count */
	REJECT(0x03, 0xb6, 0x02, 0x05, 0xac, 0x02, 0x05, 0x04);			  /* over count */
	REJECT(0x04, 0xb6, 0x02, 0x05, 0xac, 0x02, 0x05, 0x02, 0xa7, 0x02, 0x01); /* short */
	REJECT(0x03, 0xb6, 0x02, 0x06, 0xac, 0x02, 0x05, 0x02, 0xa7, 0x02, 0x01); /* min's bucket */
	REJECT(0x03, 0xb6, 0x02, 0x05, 0xae, 0x02, 0x05, 0x02, 0xa7, 0x02, 0x01); /* max's bucket */
	REJECT(0x83, 0x00, 0xb6, 0x02, 0x05, 0xac, 0x02, 0x05, 0x02, 0xa7, 0x02,
	       0x01);								  /* overlong */
	REJECT(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02);	  /* 65 bits */
	REJECT(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x01); /* 11 bytes */
}

static struct hist *hist_of(const uint64_t *v, size_t n)
{
	struct hist *h = new_hist();

	for (size_t i = 0; i < n; i++)
		hist_record(h, v[i]);
	return h;
}

/* Histograms read back from files and merged equal one of all the values. */
static void test_merge_decoded(void **state)
{
	uint64_t *v = random_values(N_RANDOM, 3);
	size_t split = N_RANDOM / 3;
	struct hist *a = hist_of(v, split), *b = hist_of(v + split, N_RANDOM - split);
	struct hist *all = hist_of(v, N_RANDOM), *empty = new_hist(), *a2, *b2;
	uint8_t *buf = malloc(HIST_ENCODED_MAX);

	(void)state;
	assert_non_null(buf);
	a2 = encode_decode(a, buf);
	b2 = encode_decode(b, buf);
	hist_merge(a2, b2);
	assert_memory_equal(a2, all, sizeof(*all));
	hist_merge(a2, empty);
	assert_memory_equal(a2, all, sizeof(*all));
	hist_merge(empty, all);
	assert_memory_equal(empty, all, sizeof(*all));
	free(a);
	free(b);
	free(a2);
	free(b2);
	free(all);
	free(empty);
	free(buf);
	free(v);
}

/* Counts through a value's bucket, and the deviation over bucket values. */
static void test_count_through_stddev(void **state)
{
	struct hist *h = new_hist();

	(void)state;
	assert_int_equal(hist_count_through(h, 1000), 0);
	assert_true(hist_stddev(h) == 0.0);
	/* 5000 and 5002 lie in [4096, 8192), cut into buckets 4 wide: both in
	 * [5000, 5003] (5000 = 1250 * 4), whose midpoint is 5001. */
	hist_record_n(h, 10, 3);
	hist_record(h, 5000);
	hist_record(h, 5002);
	assert_int_equal(hist_count_through(h, 9), 0);
	assert_int_equal(hist_count_through(h, 10), 3);
	assert_int_equal(hist_count_through(h, 4999), 3);
	assert_int_equal(hist_count_through(h, 5003), 5);
	assert_int_equal(hist_count_through(h, UINT64_MAX), 5);
	/* 10 three times (exact below 2048) and 5000 and 5002 both as 5001,
	 * over the exact mean 10032 / 5 = 2006.4. */
	assert_float_equal(hist_stddev(h), sqrt((3 * 1996.4 * 1996.4 + 2 * 2994.6 * 2994.6) / 5),
			   1e-9);
	free(h);
}

/* Coarsening to 1 us: counts kept, idempotent, commutes with merging, and
 * what it gives decodes (min and max in the first and last buckets). */
static void test_coarsen(void **state)
{
	struct hist *a = new_hist(), *b = new_hist(), *m = new_hist(), *c = new_hist();
	static uint8_t buf[HIST_ENCODED_MAX];
	uint64_t seed = 7;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		hist_record(i % 2 ? a : b, (seed >> 20) % 3000000);
	}
	hist_record(a, 1499); /* rounds to 1 us */
	*m = *a;
	hist_merge(m, b);
	hist_coarsen(m, 1000);
	hist_coarsen(a, 1000);
	hist_coarsen(b, 1000);
	*c = *a;
	hist_merge(c, b);
	assert_memory_equal(c, m, sizeof(*m));
	assert_int_equal(m->count, 20001);
	*c = *m;
	hist_coarsen(c, 1000);
	assert_memory_equal(c, m, sizeof(*m));
	for (unsigned int i = 0; i < hist_bucket_of(1024000); i++)
		if (m->buckets[i])
			assert_int_equal(hist_bucket_mid(i) / 100 % 10 < 3 ||
					     hist_bucket_mid(i) / 100 % 10 > 6,
					 1); /* within 0.25 us of a whole us */
	assert_int_equal(hist_decode(c, buf, hist_encode(m, buf, sizeof(buf))), 0);
	assert_int_equal(a->min % 1000, 0);
	free(a);
	free(b);
	free(m);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_small_values_exact),
	    cmocka_unit_test(test_uint64_max),
	    cmocka_unit_test(test_record_n),
	    cmocka_unit_test(test_buckets_consistent),
	    cmocka_unit_test(test_random_quantiles),
	    cmocka_unit_test(test_all_ranks),
	    cmocka_unit_test(test_encode_exact),
	    cmocka_unit_test(test_encode_round_trip),
	    cmocka_unit_test(test_decode_rejects),
	    cmocka_unit_test(test_merge_decoded),
	    cmocka_unit_test(test_count_through_stddev),
	    cmocka_unit_test(test_coarsen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
