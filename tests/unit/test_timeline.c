// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The timeline (a time-ordered ring): growth, the oldest giving way at max, insertion
 * in start order, eviction, and the three counts around the wrap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kafkalat/timeline.h"

struct rec {
	uint64_t t0, t1;
	uint32_t id;
};

static int push(struct timeline *r, uint32_t max, uint64_t t0, uint64_t t1, uint32_t id)
{
	struct rec x = {t0, t1, id};

	return timeline_push(r, &x, max);
}

static int insert(struct timeline *r, uint32_t max, uint64_t t0, uint64_t t1, uint32_t id)
{
	struct rec x = {t0, t1, id};

	return timeline_insert(r, &x, max);
}

static uint32_t id_at(const struct timeline *r, uint32_t i)
{
	return ((const struct rec *)timeline_at(r, i))->id;
}

static void test_empty(void **state)
{
	struct timeline r;

	(void)state;
	timeline_init(&r, sizeof(struct rec));
	assert_int_equal(r.len, 0);
	assert_int_equal(timeline_bytes(&r), 0);
	assert_int_equal(timeline_count_before(&r, 100), 0);
	assert_int_equal(timeline_count_upto(&r, UINT64_MAX), 0);
	assert_int_equal(timeline_count_ended_before(&r, 100), 0);
	assert_int_equal(timeline_evict(&r, UINT64_MAX), 0);
	timeline_free(&r);
}

/* Doubling from 16 up to max (40: 16, 32, then 40), then the oldest gives way. */
static void test_growth_and_max(void **state)
{
	struct timeline r;

	(void)state;
	timeline_init(&r, sizeof(struct rec));
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(push(&r, 40, i, i, i), 0);
	assert_int_equal(r.cap, 16);
	assert_int_equal(push(&r, 40, 16, 16, 16), 0);
	assert_int_equal(r.cap, 32);
	for (uint32_t i = 17; i < 40; i++)
		assert_int_equal(push(&r, 40, i, i, i), 0);
	assert_int_equal(r.cap, 40);
	assert_int_equal(timeline_bytes(&r), 40 * sizeof(struct rec));
	assert_int_equal(push(&r, 40, 40, 40, 40), 1);
	assert_int_equal(push(&r, 40, 41, 41, 41), 1);
	assert_int_equal(r.len, 40);
	assert_int_equal(r.popped, 2);
	assert_int_equal(id_at(&r, 0), 2);
	assert_int_equal(id_at(&r, 39), 41);
	timeline_free(&r);
}

static void test_reserve(void **state)
{
	struct timeline r;

	(void)state;
	timeline_init(&r, sizeof(struct rec));
	assert_int_equal(timeline_reserve(&r, 3), 0);
	assert_int_equal(r.cap, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(push(&r, 3, i, i, i), 0);
	assert_int_equal(push(&r, 3, 3, 3, 3), 1);
	assert_int_equal(r.cap, 3);
	assert_int_equal(id_at(&r, 0), 1);
	assert_int_equal(id_at(&r, 2), 3);
	timeline_free(&r);

	timeline_init(&r, sizeof(struct rec)); /* a ring of one: each push replaces */
	assert_int_equal(push(&r, 1, 5, 6, 1), 0);
	assert_int_equal(push(&r, 1, 7, 8, 2), 1);
	assert_int_equal(r.len, 1);
	assert_int_equal(id_at(&r, 0), 2);
	timeline_free(&r);
}

/* Out-of-order starts walk back into place; equal starts keep arrival order. */
static void test_insert_order(void **state)
{
	static const uint64_t t0[] = {10, 30, 20, 5, 30, 40};
	static const uint32_t want[] = {3, 0, 2, 1, 4, 5};
	struct timeline r;

	(void)state;
	timeline_init(&r, sizeof(struct rec));
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(insert(&r, 64, t0[i], t0[i] + 1, i), 0);
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(id_at(&r, i), want[i]);
	timeline_free(&r);
}

/* Eviction by end time stops at the first record still inside the window. */
static void test_evict(void **state)
{
	struct timeline r;

	(void)state;
	timeline_init(&r, sizeof(struct rec));
	insert(&r, 64, 0, 10, 0);
	insert(&r, 64, 5, 50, 1);
	insert(&r, 64, 6, 12, 2);
	assert_int_equal(timeline_evict(&r, 10), 0); /* t1 == before stays */
	assert_int_equal(timeline_evict(&r, 20), 1); /* 2 ended too, but behind 1 */
	assert_int_equal(r.len, 2);
	assert_int_equal(id_at(&r, 0), 1);
	assert_int_equal(timeline_evict(&r, 51), 2);
	assert_int_equal(r.len, 0);
	timeline_free(&r);
}

/* A burst grows the buffer to 1024; evicting down to a quarter or less
 * halves it (to the smallest power that keeps len above a quarter), the
 * records keep their order across the wrapped copy, and the counts and
 * hint stay right; a quarter plus one keeps the buffer. */
static void test_shrink_after_burst(void **state)
{
	struct timeline r;

	(void)state;
	timeline_init(&r, sizeof(struct rec));
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(push(&r, 4096, i, i, i), 0);
	assert_int_equal(r.cap, 1024);
	assert_int_equal(timeline_evict(&r, 743), 743); /* 257 left: over a quarter */
	assert_int_equal(r.cap, 1024);
	for (uint32_t i = 1000; i < 1100; i++) /* wraps: head is at 743 */
		assert_int_equal(push(&r, 4096, i, i, i), 0);
	assert_int_equal(timeline_count_before(&r, 1050), 1050 - 743);
	assert_int_equal(timeline_evict(&r, 1060), 1060 - 743); /* 40 left */
	assert_int_equal(r.cap, 128);
	assert_int_equal(timeline_bytes(&r), 128 * sizeof(struct rec));
	assert_int_equal(r.len, 40);
	for (uint32_t i = 0; i < 40; i++)
		assert_int_equal(id_at(&r, i), 1060 + i);
	assert_int_equal(timeline_count_before(&r, 1070), 10);
	assert_int_equal(timeline_evict(&r, UINT64_MAX), 40);
	assert_int_equal(r.cap, TIMELINE_MIN_CAP);
	assert_int_equal(push(&r, 4096, 2000, 2000, 2000), 0);
	assert_int_equal(id_at(&r, 0), 2000);
	timeline_free(&r);
}

/* Counts on a timeline that has wrapped: records 100..139 of t0 = 10 * id,
 * t1 = t0 + 5, the buffer's start in the middle of its 40 slots. */
static void test_counts(void **state)
{
	struct timeline r;

	(void)state;
	timeline_init(&r, sizeof(struct rec));
	for (uint32_t i = 0; i < 140; i++)
		push(&r, 40, 10 * i, 10 * i + 5, i);
	assert_int_equal(r.head, 20);
	assert_int_equal(id_at(&r, 0), 100);
	assert_int_equal(timeline_count_before(&r, 0), 0);
	assert_int_equal(timeline_count_before(&r, 1000), 0);
	assert_int_equal(timeline_count_before(&r, 1001), 1);
	assert_int_equal(timeline_count_before(&r, 1200), 20);
	assert_int_equal(timeline_count_before(&r, 1010), 1); /* the gallop goes back down */
	assert_int_equal(timeline_count_before(&r, 1391), 40);
	assert_int_equal(timeline_count_upto(&r, 1200), 21);
	assert_int_equal(timeline_count_upto(&r, UINT64_MAX), 40);
	assert_int_equal(timeline_count_ended_before(&r, 1005), 0);
	assert_int_equal(timeline_count_ended_before(&r, 1006), 1);
	assert_int_equal(timeline_count_ended_before(&r, UINT64_MAX), 40);
	timeline_clear(&r);
	assert_int_equal(r.len, 0);
	assert_int_equal(timeline_count_before(&r, 1200), 0);
	timeline_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_growth_and_max),
	    cmocka_unit_test(test_reserve),
	    cmocka_unit_test(test_insert_order),
	    cmocka_unit_test(test_evict),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_shrink_after_burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
