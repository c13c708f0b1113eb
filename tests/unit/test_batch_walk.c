// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* bpf/batch_walk.h: record batch offsets from their headers, as the causes
 * probe walks a log write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "../../bpf/batch_walk.h"

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* A magic-2 batch of total bytes (header included) at p, of producer
 * 5000 + base from sequence base * 10. */
static size_t put_batch(uint8_t *p, int64_t base, int32_t last_delta, size_t total)
{
	memset(p, 0xab, total); /* records: never looked at */
	put_be(p, (uint64_t)base, 8);
	put_be(p + 8, total - BW_LOG_OVERHEAD, 4);
	put_be(p + 12, 0, 4);
	p[16] = 2;
	put_be(p + 23, (uint32_t)last_delta, 4);
	put_be(p + 43, (uint64_t)(5000 + base), 8);
	put_be(p + 51, 0, 2);
	put_be(p + 53, (uint64_t)(base * 10), 4);
	return total;
}

/* The walk as the probe drives it, over buf[0..len). */
static struct bw walk(const uint8_t *buf, size_t len)
{
	struct bw w = {.len = len};

	for (int i = 0; i < BW_MAX_BATCHES && bw_want(&w); i++)
		if (!bw_take(&w, buf + w.off))
			break;
	return w;
}

static uint8_t buf[1 << 16];

static void test_batches(void **state)
{
	size_t n = 0;
	struct bw w;

	(void)state;
	n += put_batch(buf, 100, 4, 200);
	n += put_batch(buf + n, 105, 9, 61); /* header only: legal */
	n += put_batch(buf + n, 115, 0, 300);
	w = walk(buf, n);
	assert_int_equal(w.batches, 3);
	assert_int_equal(w.base_offset, 100);
	assert_int_equal(bw_last(&w), 115);
	/* the first batch's identity */
	assert_int_equal(w.producer_id, 5100);
	assert_int_equal(w.base_sequence, 1000);
	/* the write ends inside the last batch: its end unproven */
	w = walk(buf, n - 1);
	assert_int_equal(w.batches, 2);
	assert_int_equal(w.base_offset, 100);
	assert_int_equal(bw_last(&w), -1);
	/* not a batch: magic 1, or a length beyond the write */
	buf[16] = 1;
	assert_int_equal(walk(buf, n).batches, 0);
	buf[16] = 2;
	put_be(buf + 8, 100000, 4);
	assert_int_equal(walk(buf, n).batches, 0);
	put_be(buf + 8, 10, 4); /* shorter than a header */
	assert_int_equal(walk(buf, n).batches, 0);
	/* shorter than a header: nothing */
	put_batch(buf, 7, 0, 61);
	assert_int_equal(walk(buf, 60).batches, 0);
	assert_int_equal(walk(buf, 61).batches, 1);
	/* a producer that is not idempotent: producerId and baseSequence -1 */
	put_be(buf + 43, UINT64_MAX, 8);
	put_be(buf + 53, UINT32_MAX, 4);
	w = walk(buf, 61);
	assert_int_equal(w.producer_id, -1);
	assert_int_equal(w.base_sequence, -1);
}

/* At most BW_MAX_BATCHES headers: the rest is not walked, its end unknown. */
static void test_bounded(void **state)
{
	size_t n = 0;
	struct bw w;

	(void)state;
	for (int i = 0; i < BW_MAX_BATCHES + 5; i++)
		n += put_batch(buf + n, 1000 + i, 0, 80);
	w = walk(buf, n);
	assert_int_equal(w.batches, BW_MAX_BATCHES);
	assert_int_equal(w.base_offset, 1000);
	assert_int_equal(bw_last(&w), -1);
	w = walk(buf, 80 * BW_MAX_BATCHES);
	assert_int_equal(bw_last(&w), 1000 + BW_MAX_BATCHES - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batches),
	    cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
