// SPDX-License-Identifier: MIT
/*
 * The reference broker's replication rules (tests/broker/isr.c): the static
 * assignment, Kafka's caught-up rule (Replica.updateFetchState), the ISR
 * shrink test and the high watermark.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "isr.h"

#define MS 1000000ull

static void test_assign_ring(void **state)
{
	const int32_t ids[] = {3, 5, 8};
	int32_t r[3];

	(void)state;
	isr_assign(ids, 3, 3, 0, r);
	assert_int_equal(r[0], 3);
	assert_int_equal(r[1], 5);
	assert_int_equal(r[2], 8);
	isr_assign(ids, 3, 3, 4, r); /* 4 % 3 = 1: led by 5, then 8, then 3 */
	assert_int_equal(r[0], 5);
	assert_int_equal(r[1], 8);
	assert_int_equal(r[2], 3);
	isr_assign(ids, 3, 2, 2, r);
	assert_int_equal(r[0], 8);
	assert_int_equal(r[1], 3);
}

/* A fetch at the leader's LEO is caught up at its own arrival. */
static void test_caught_up_at_leo(void **state)
{
	struct follower f = {.caught_up_ns = 1 * MS, .last_fetch_ns = 1 * MS};

	(void)state;
	isr_fetch_update(&f, 100, 100, 50 * MS);
	assert_int_equal(f.caught_up_ns, 50 * MS);
	assert_int_equal(f.last_fetch_ns, 50 * MS);
	assert_int_equal(f.last_fetch_leader_leo, 100);
}

/*
 * Behind the leader's LEO now, but at the LEO the leader had at the previous
 * fetch: caught up as of that previous fetch, not now.
 */
static void test_caught_up_as_of_previous_fetch(void **state)
{
	struct follower f = {0};

	(void)state;
	isr_fetch_update(&f, 100, 100, 10 * MS); /* caught up at 10 */
	isr_fetch_update(&f, 100, 120, 20 * MS); /* behind: 120 appended meanwhile */
	assert_int_equal(f.caught_up_ns, 10 * MS);
	isr_fetch_update(&f, 120, 150, 30 * MS); /* reached 120, the LEO at the fetch at 20 */
	assert_int_equal(f.caught_up_ns, 20 * MS);
	isr_fetch_update(&f, 130, 160, 40 * MS); /* short of 150: no progress */
	assert_int_equal(f.caught_up_ns, 20 * MS);
	assert_int_equal(f.last_fetch_leader_leo, 160);
}

static void test_out_of_sync(void **state)
{
	struct follower f = {.leo = 90, .caught_up_ns = 100 * MS};

	(void)state;
	assert_false(isr_out_of_sync(&f, 100, 400 * MS, 300 * MS)); /* exactly lag: kept */
	assert_true(isr_out_of_sync(&f, 100, 401 * MS, 300 * MS));
	f.leo = 100; /* at the leader's LEO: never out of sync, however old */
	assert_false(isr_out_of_sync(&f, 100, 10000 * MS, 300 * MS));
	f.leo = 90; /* a fetch newer than the checker's clock: no wrap-around */
	assert_false(isr_out_of_sync(&f, 100, 50 * MS, 300 * MS));
}

static void test_min_leo_over_isr(void **state)
{
	struct follower f[2] = {{.id = 1, .in_isr = true, .leo = 70},
				{.id = 2, .in_isr = true, .leo = 80}};

	(void)state;
	assert_int_equal(isr_min_leo(f, 2, 100), 70);
	f[0].in_isr = false; /* out of the ISR: no longer holds the HW back */
	assert_int_equal(isr_min_leo(f, 2, 100), 80);
	f[1].in_isr = false; /* the leader alone */
	assert_int_equal(isr_min_leo(f, 2, 100), 100);
	assert_int_equal(isr_min_leo(f, 0, 42), 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_assign_ring),
	    cmocka_unit_test(test_caught_up_at_leo),
	    cmocka_unit_test(test_caught_up_as_of_previous_fetch),
	    cmocka_unit_test(test_out_of_sync),
	    cmocka_unit_test(test_min_leo_over_isr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
