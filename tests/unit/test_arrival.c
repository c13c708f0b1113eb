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
	struct arr_ring r = {0};

	(void)state;
	arr_init(&r, 1000);
	assert_int_equal(arr_lookup(&r, 1000), 0); /* nothing arrived yet */
	arr_push(&r, 1100, 50, 0);		   /* bytes [1000, 1100) at 50 */
	arr_push(&r, 1300, 70, 0);		   /* [1100, 1300) at 70 */
	arr_push(&r, 1301, 90, 0);		   /* [1300, 1301) at 90 */
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
	struct arr_ring r = {0};

	(void)state;
	arr_init(&r, 0xffffff00u);
	arr_push(&r, 0xffffff80u, 10, 0);
	arr_push(&r, 0x00000080u, 20, 0); /* [0xffffff80, 2^32 + 0x80) */
	arr_push(&r, 0x00001000u, 30, 0);
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
	struct arr_ring r = {0};

	(void)state;
	arr_init(&r, 0);
	for (__u32 i = 1; i <= ARR_SLOTS; i++)
		arr_push(&r, i * 10, i * 100, 0);
	assert_int_equal(arr_lookup(&r, 0), 100);
	assert_int_equal(arr_lookup(&r, ARR_SLOTS * 10 - 1), ARR_SLOTS * 100);
	arr_push(&r, ARR_SLOTS * 10 + 10, 99999, 0); /* reuses the slot of [0, 10) */
	assert_int_equal(r.floor, 10);
	assert_int_equal(arr_lookup(&r, 0), 0);
	assert_int_equal(arr_lookup(&r, 9), 0);
	assert_int_equal(arr_lookup(&r, 10), 200);
	assert_int_equal(arr_lookup(&r, ARR_SLOTS * 10), 99999);
	/* many more: still exact for what the ring holds */
	for (__u32 i = ARR_SLOTS + 2; i <= 5 * ARR_SLOTS; i++)
		arr_push(&r, i * 10, i * 100, 0);
	assert_int_equal(arr_lookup(&r, (4 * ARR_SLOTS) * 10 - 1), 0);
	assert_int_equal(arr_lookup(&r, (4 * ARR_SLOTS) * 10), (4 * ARR_SLOTS + 1) * 100);
	assert_int_equal(arr_lookup(&r, 5 * ARR_SLOTS * 10 - 1), 5 * ARR_SLOTS * 100);
}

/* The backlog flag travels with the arrival it marks. */
static void test_find_flags(void **state)
{
	struct arr_ring r = {0};
	__u32 flags = 7;

	(void)state;
	arr_init(&r, 0);
	assert_int_equal(arr_find(&r, 0, &flags), 0);
	assert_int_equal(flags, 0);
	arr_push(&r, 100, 10, 0);
	arr_push(&r, 200, 20, ARR_BACKLOG);
	arr_push(&r, 300, 30, 0);
	assert_int_equal(arr_find(&r, 99, &flags), 10);
	assert_int_equal(flags, 0);
	assert_int_equal(arr_find(&r, 100, &flags), 20);
	assert_int_equal(flags, ARR_BACKLOG);
	assert_int_equal(arr_find(&r, 299, &flags), 30);
	assert_int_equal(flags, 0);
	assert_int_equal(arr_find(&r, 300, &flags), 0); /* not arrived */
	assert_int_equal(flags, 0);
}

/* A frame's sequence numbers from the walk's offsets, across the wrap. */
static void test_walk_seq(void **state)
{
	(void)state;
	/* 100 bytes read from seq 1000, 30 in no segment yet, 20 left in this
	 * one: 50 walked */
	assert_int_equal(arr_walk_seq(1000, 100, 30, 20), 1050);
	assert_int_equal(arr_walk_seq(0xfffffff0u, 100, 0, 0), 0x54);
	/* a frame of size 96 ending before 0x54: its size field began 100
	 * bytes earlier, across the wrap */
	assert_int_equal(arr_frame_first(0x54, 96), 0xfffffff0u);
}

/* The receive window is full when what it would advertise is below a
 * segment; open when the advertised right edge is a segment past rcv_nxt. */
static void test_window(void **state)
{
	(void)state;
	assert_true(arr_window_full(0, 128, 1000));
	assert_true(arr_window_full(-5000, 128, 1000));
	/* 1999 free bytes at half payload: 999 < 1000 */
	assert_true(arr_window_full(1999, 128, 1000));
	assert_false(arr_window_full(2000, 128, 1000));
	assert_false(arr_window_full(1000, 256, 1000));
	assert_true(arr_window_open(5000, 2000, 6000, 1000));
	assert_false(arr_window_open(5000, 2000, 6001, 1000));
	assert_false(arr_window_open(5000, 2000, 7500, 1000));	      /* past the edge */
	assert_true(arr_window_open(0xfffffc00u, 3000, 0x100, 1000)); /* wraps */
}

/* Bytes before the watch and bytes whose slot was reused are told apart;
 * a reused slot with unread bytes is handed on first. */
static void test_unwatched_and_evicted(void **state)
{
	struct arr_ring r = {0};
	__u32 flags;

	(void)state;
	arr_init(&r, 1000);
	assert_null(arr_evicting(&r, 1000));
	for (__u32 i = 1; i <= ARR_SLOTS; i++)
		arr_push(&r, 1000 + i * 10, i, 0);
	/* the next push reuses the slot of [1000, 1010): unread below 1010 */
	assert_non_null(arr_evicting(&r, 1000));
	assert_int_equal(arr_evicting(&r, 1005)->seq_end, 1010);
	assert_int_equal(arr_evicting(&r, 1005)->t_ns, 1);
	assert_null(arr_evicting(&r, 1010)); /* all of it read */
	arr_push(&r, 1000 + (ARR_SLOTS + 1) * 10, 99, 0);
	assert_int_equal(arr_find(&r, 999, &flags), 0);
	assert_int_equal(flags, ARR_UNWATCHED);
	assert_int_equal(arr_find(&r, 1009, &flags), 0);
	assert_int_equal(flags, ARR_EVICTED);
	assert_int_equal(arr_find(&r, 1010, &flags), 2);
	assert_int_equal(flags, 0);
}

/* Past 2 GiB after the watch began, a byte just read is still found, not
 * taken for one that came before the watch (the 32-bit sequence space). */
static void test_long_stream_stays_watched(void **state)
{
	const __u32 step = 1u << 24; /* 256 arrivals go round the sequence space */
	struct arr_ring r = {0};
	__u32 flags, seq = 1000;

	(void)state;
	arr_init(&r, seq);
	for (__u32 i = 1; i <= 256 + ARR_SLOTS; i++) {
		seq += step;
		arr_push(&r, seq, i, 0);
		assert_int_equal(arr_find(&r, seq - 1, &flags), i);
		assert_int_equal(flags, 0);
	}
	assert_int_equal(arr_find(&r, r.floor - 1, &flags), 0);
	assert_int_equal(flags, ARR_EVICTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seq_diff_wraps),
	    cmocka_unit_test(test_lookup_exact),
	    cmocka_unit_test(test_lookup_across_wrap),
	    cmocka_unit_test(test_evicted_is_unknown),
	    cmocka_unit_test(test_find_flags),
	    cmocka_unit_test(test_walk_seq),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_unwatched_and_evicted),
	    cmocka_unit_test(test_long_stream_stays_watched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
