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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_starts_calm),
	    cmocka_unit_test(test_pressure_restores_base_at_once),
	    cmocka_unit_test(test_pressure_inside_quiet_run_restarts_it),
	    cmocka_unit_test(test_never_above_starting_priority),
	    cmocka_unit_test(test_equal_nice_is_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
