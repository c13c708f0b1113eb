// SPDX-License-Identifier: MIT
/*
 * The reference broker's offset -> segment byte range (tests/broker/slice.c)
 * on a segment laid out in memory: batches of known offsets and sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "slice.h"

#define SEG_MAX 4096

struct seg {
	uint8_t b[SEG_MAX];
	uint64_t size;
	unsigned reads;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A batch of count offsets from base, size bytes on disk (header fields only). */
static void add_batch(struct seg *s, int64_t base, uint32_t count, uint32_t size)
{
	uint8_t *h = s->b + s->size;

	memset(h, 0xee, size); /* payload bytes the scan must never need */
	put32(h, (uint32_t)((uint64_t)base >> 32));
	put32(h + 4, (uint32_t)base);
	put32(h + 8, size - 12);
	put32(h + 23, count - 1);
	s->size += size;
}

static int mem_read(void *ctx, uint8_t *buf, size_t n, uint64_t off)
{
	struct seg *s = ctx;

	s->reads++;
	if (off + n > s->size)
		return -1;
	memcpy(buf, s->b + off, n);
	return 0;
}

/* Segment based at 100: batches [100..109] 200 B, [110..114] 100 B, [115] 300 B, [116..119] 150 B.
 */
static void layout(struct seg *s)
{
	memset(s, 0, sizeof(*s));
	add_batch(s, 100, 10, 200);
	add_batch(s, 110, 5, 100);
	add_batch(s, 115, 1, 300);
	add_batch(s, 116, 4, 150);
}

static void scan(struct seg *s, uint64_t start, int64_t offset, int64_t limit, uint64_t max,
		 bool min_one, int want_rc, uint64_t want_pos, uint64_t want_len)
{
	struct slice_query q = {start, s->size, offset, limit, max, min_one};
	uint64_t pos = 99, len = 99;

	assert_int_equal(slice_scan(mem_read, s, &q, &pos, &len), want_rc);
	assert_int_equal(pos, want_pos);
	assert_int_equal(len, want_len);
}

static void test_from_start(void **state)
{
	struct seg s;

	(void)state;
	layout(&s);
	scan(&s, 0, 100, 120, 1 << 20, true, 0, 0, 750);   /* everything */
	scan(&s, 0, 112, 120, 1 << 20, true, 0, 200, 550); /* from the batch holding 112 */
	scan(&s, 0, 119, 120, 1 << 20, true, 0, 600, 150); /* the last batch */
	scan(&s, 0, 120, 120, 1 << 20, true, 0, 0, 0);	   /* past the end: nothing */
}

static void test_limits(void **state)
{
	struct seg s;

	(void)state;
	layout(&s);
	scan(&s, 0, 100, 120, 300, true, 0, 0, 300); /* whole batches that fit */
	scan(&s, 0, 100, 120, 299, true, 0, 0, 200);
	scan(&s, 0, 110, 120, 50, true, 0, 200, 100);	 /* KIP-74: one batch though larger */
	scan(&s, 0, 110, 120, 50, false, 0, 200, 0);	 /* unless another partition had data */
	scan(&s, 0, 100, 116, 1 << 20, true, 0, 0, 600); /* the high watermark: below 116 */
	scan(&s, 0, 100, 115, 1 << 20, true, 0, 0, 300);
	scan(&s, 0, 100, 105, 1 << 20, true, 0, 0, 0); /* HW inside the first batch */
}

static void test_index_start(void **state)
{
	struct seg s;

	(void)state;
	layout(&s);
	s.reads = 0;
	scan(&s, 600, 117, 120, 1 << 20, true, 0, 600, 150);
	assert_int_equal(s.reads, 1); /* from the index position, one header */
}

static void test_corrupt(void **state)
{
	struct seg s;

	(void)state;
	layout(&s);
	put32(s.b + 8, 5000); /* the first batch claims more than the segment */
	scan(&s, 0, 100, 120, 1 << 20, true, -1, 0, 0);
	layout(&s);
	put32(s.b + 300 + 8, 5000); /* the third: the first two are still served */
	scan(&s, 0, 100, 120, 1 << 20, true, 0, 0, 300);
	layout(&s);
	s.size = 210; /* a torn header after the first batch */
	scan(&s, 0, 100, 120, 1 << 20, true, 0, 0, 200);
}

static void test_index_lookup(void **state)
{
	uint8_t idx[3 * 8];

	(void)state;
	put32(idx, 0); /* offset 100 at 0 */
	put32(idx + 4, 0);
	put32(idx + 8, 15); /* 115 at 300 */
	put32(idx + 12, 300);
	put32(idx + 16, 16); /* 116 at 600 */
	put32(idx + 20, 600);
	assert_int_equal(slice_index_lookup(idx, 3, 100, 99), 0);
	assert_int_equal(slice_index_lookup(idx, 3, 100, 114), 0);
	assert_int_equal(slice_index_lookup(idx, 3, 100, 115), 300);
	assert_int_equal(slice_index_lookup(idx, 3, 100, 116), 600);
	assert_int_equal(slice_index_lookup(idx, 3, 100, 5000), 600);
	assert_int_equal(slice_index_lookup(idx, 0, 100, 5000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_from_start),	 cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_index_start),	 cmocka_unit_test(test_corrupt),
	    cmocka_unit_test(test_index_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
