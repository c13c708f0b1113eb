// SPDX-License-Identifier: MIT
/*
 * Unit tests of the arrival ring shared with the BPF side (bpf/arrival.h):
 * sequence number comparison across the 32-bit wrap, and when a stream byte
 * arrived, exactly, or unknown (0) when no arrival in the ring covers it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#include "arrival.h"

static void test_seq_diff_wraps(void **state)
{
	(void)state;
	assert_int_equal(arr_seq_diff(10, 3), 7);
	assert_int_equal(arr_seq_diff(3, 10), -7);
	assert_int_equal(arr_seq_diff(0, 0), 0);
	/* 5 is 21 bytes after 0xfffffff0 once the space wraps */
	assert_int_equal(arr_seq_diff(5, 0xfffffff0u), 21);
	assert_int_equal(arr_seq_diff(0xfffffff0u, 5), -21);
	assert_int_equal(arr_seq_diff(0x7fffffffu, 0), 0x7fffffff);
	assert_true(arr_seq_diff(0x80000001u, 0) < 0); /* more than half: behind */
}

static void test_lookup_exact(void **state)
{
	struct arr_ring r;

	(void)state;
	arr_init(&r, 1000);
	assert_int_equal(arr_lookup(&r, 1000), 0); /* nothing arrived yet */
	arr_push(&r, 1100, 50);			   /* bytes [1000, 1100) at 50 */
	arr_push(&r, 1300, 70);			   /* [1100, 1300) at 70 */
	arr_push(&r, 1301, 90);			   /* [1300, 1301) at 90 */
	assert_int_equal(arr_lookup(&r, 999), 0);  /* before the watch: unknown */
	assert_int_equal(arr_lookup(&r, 1000), 50);
	assert_int_equal(arr_lookup(&r, 1099), 50);
	assert_int_equal(arr_lookup(&r, 1100), 70);
	assert_int_equal(arr_lookup(&r, 1299), 70);
	assert_int_equal(arr_lookup(&r, 1300), 90);
	assert_int_equal(arr_lookup(&r, 1301), 0); /* not arrived */
}

/* A stream whose sequence numbers wrap between two arrivals. */
static void test_lookup_across_wrap(void **state)
{
	struct arr_ring r;

	(void)state;
	arr_init(&r, 0xffffff00u);
	arr_push(&r, 0xffffff80u, 10);
	arr_push(&r, 0x00000080u, 20); /* [0xffffff80, 2^32 + 0x80) */
	arr_push(&r, 0x00001000u, 30);
	assert_int_equal(arr_lookup(&r, 0xfffffeffu), 0);
	assert_int_equal(arr_lookup(&r, 0xffffff00u), 10);
	assert_int_equal(arr_lookup(&r, 0xffffff7fu), 10);
	assert_int_equal(arr_lookup(&r, 0xffffff80u), 20);
	assert_int_equal(arr_lookup(&r, 0xffffffffu), 20);
	assert_int_equal(arr_lookup(&r, 0), 20);
	assert_int_equal(arr_lookup(&r, 0x7f), 20);
	assert_int_equal(arr_lookup(&r, 0x80), 30);
	assert_int_equal(arr_lookup(&r, 0xfff), 30);
	assert_int_equal(arr_lookup(&r, 0x1000), 0);
}

/* Once a slot is reused, the bytes it covered have no known arrival: the
 * lookup says unknown rather than the time of a later arrival. */
static void test_evicted_is_unknown(void **state)
{
	struct arr_ring r;

	(void)state;
	arr_init(&r, 0);
	for (__u32 i = 1; i <= ARR_SLOTS; i++)
		arr_push(&r, i * 10, i * 100);
	assert_int_equal(arr_lookup(&r, 0), 100);
	assert_int_equal(arr_lookup(&r, ARR_SLOTS * 10 - 1), ARR_SLOTS * 100);
	arr_push(&r, ARR_SLOTS * 10 + 10, 99999); /* reuses the slot of [0, 10) */
	assert_int_equal(r.floor, 10);
	assert_int_equal(arr_lookup(&r, 0), 0);
	assert_int_equal(arr_lookup(&r, 9), 0);
	assert_int_equal(arr_lookup(&r, 10), 200);
	assert_int_equal(arr_lookup(&r, ARR_SLOTS * 10), 99999);
	/* many more: still exact for what the ring holds */
	for (__u32 i = ARR_SLOTS + 2; i <= 5 * ARR_SLOTS; i++)
		arr_push(&r, i * 10, i * 100);
	assert_int_equal(arr_lookup(&r, (4 * ARR_SLOTS) * 10 - 1), 0);
	assert_int_equal(arr_lookup(&r, (4 * ARR_SLOTS) * 10), (4 * ARR_SLOTS + 1) * 100);
	assert_int_equal(arr_lookup(&r, 5 * ARR_SLOTS * 10 - 1), 5 * ARR_SLOTS * 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seq_diff_wraps),
	    cmocka_unit_test(test_lookup_exact),
	    cmocka_unit_test(test_lookup_across_wrap),
	    cmocka_unit_test(test_evicted_is_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
