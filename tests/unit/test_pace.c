// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <cmocka.h>

#include "kafkalat/pace.h"

static void test_starts_calm(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 0, 19);
	assert_int_equal(p.cur_nice, 19);
	assert_int_equal(pace_after_poll(&p, false), 19);
}

static void test_pressure_restores_base_at_once(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 0, 19);
	assert_int_equal(pace_after_poll(&p, true), 0);
	/* one quiet poll short of the run: still keeping up */
	for (int i = 0; i < PACE_QUIET_POLLS - 1; i++)
		assert_int_equal(pace_after_poll(&p, false), 0);
	assert_int_equal(pace_after_poll(&p, false), 19);
}

static void test_pressure_inside_quiet_run_restarts_it(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 5, 19);
	assert_int_equal(pace_after_poll(&p, true), 5);
	for (int i = 0; i < PACE_QUIET_POLLS - 1; i++)
		assert_int_equal(pace_after_poll(&p, false), 5);
	assert_int_equal(pace_after_poll(&p, true), 5);
	for (int i = 0; i < PACE_QUIET_POLLS - 1; i++)
		assert_int_equal(pace_after_poll(&p, false), 5);
	assert_int_equal(pace_after_poll(&p, false), 19);
	assert_int_equal(p.quiet_polls, PACE_QUIET_POLLS);
}

static void test_never_above_starting_priority(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 10, 0); /* --nice 0 while started at nice 10 */
	assert_int_equal(p.calm_nice, 10);
	assert_int_equal(pace_after_poll(&p, false), 10);
	assert_int_equal(pace_after_poll(&p, true), 10);
	for (int i = 0; i < 3 * PACE_QUIET_POLLS; i++)
		assert_int_equal(pace_after_poll(&p, false), 10);
}

static void test_equal_nice_is_off(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 0, 0);
	for (int i = 0; i < 3 * PACE_QUIET_POLLS; i++)
		assert_int_equal(pace_after_poll(&p, i % 7 == 0), 0);
}

static void test_yields_every_slice_while_calm(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 0, 19);
	pace_burst_begin(&p, 1000000);
	assert_false(pace_should_yield(&p, 1000000));
	assert_false(pace_should_yield(&p, 1000000 + PACE_SLICE_NS - 1));
	assert_true(pace_should_yield(&p, 1000000 + PACE_SLICE_NS));
	/* the next slice starts at the yield */
	assert_false(pace_should_yield(&p, 1000000 + 2 * PACE_SLICE_NS - 1));
	assert_true(pace_should_yield(&p, 1000000 + 2 * PACE_SLICE_NS));
	/* a new burst starts a new slice */
	pace_burst_begin(&p, 5000000);
	assert_false(pace_should_yield(&p, 5000000 + PACE_SLICE_NS / 2));
}

static void test_yields_capped_per_burst(void **state)
{
	struct pace p;
	uint64_t now = 0;

	(void)state;
	pace_init(&p, 0, 19);
	pace_burst_begin(&p, now);
	for (int i = 0; i < PACE_MAX_YIELDS; i++) {
		now += PACE_SLICE_NS;
		assert_true(pace_should_yield(&p, now));
	}
	now += 10 * PACE_SLICE_NS;
	assert_false(pace_should_yield(&p, now));
	pace_burst_begin(&p, now);
	assert_true(pace_should_yield(&p, now + PACE_SLICE_NS));
}

static void test_no_yield_while_catching_up_or_off(void **state)
{
	struct pace p;

	(void)state;
	pace_init(&p, 0, 19);
	pace_after_poll(&p, true);
	pace_burst_begin(&p, 0);
	assert_false(pace_should_yield(&p, 10 * PACE_SLICE_NS));
	for (int i = 0; i < PACE_QUIET_POLLS; i++)
		pace_after_poll(&p, false);
	assert_true(pace_should_yield(&p, 10 * PACE_SLICE_NS));
	pace_init(&p, 0, 0); /* --nice at the starting niceness */
	pace_burst_begin(&p, 0);
	assert_false(pace_should_yield(&p, 10 * PACE_SLICE_NS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_starts_calm),
	    cmocka_unit_test(test_pressure_restores_base_at_once),
	    cmocka_unit_test(test_pressure_inside_quiet_run_restarts_it),
	    cmocka_unit_test(test_never_above_starting_priority),
	    cmocka_unit_test(test_equal_nice_is_off),
	    cmocka_unit_test(test_yields_every_slice_while_calm),
	    cmocka_unit_test(test_yields_capped_per_burst),
	    cmocka_unit_test(test_no_yield_while_catching_up_or_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
