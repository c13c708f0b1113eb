// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The broker's lives under --follow: counts go to the life going on, gaps
 * are the time between lives (and after the last), an interval's gap is
 * its share of them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kafkalat/lives.h"

static void test_two_lives(void **state)
{
	struct lives l = {0};
	int a[] = {100}, b[] = {200, 201};
	int64_t gap;

	(void)state;
	assert_null(lives_current(&l));
	lives_count(&l, true, 5); /* before any life: nobody's */
	assert_int_equal(lives_begin(&l, 1000, a, 1), 0);
	lives_count(&l, true, 3);
	lives_count(&l, false, 9);
	lives_end(&l, 5000, 2);
	assert_null(lives_current(&l));
	lives_count(&l, true, 7); /* in the gap: nobody's */
	assert_int_equal(lives_begin(&l, 6500, b, 2), 0);
	lives_count(&l, true, 4);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0].pids[0], 100);
	assert_int_equal(l.v[0].npids, 1);
	assert_int_equal(l.v[0].requests, 2);
	assert_int_equal(l.v[0].produce, 1);
	assert_int_equal(l.v[0].records, 3);
	assert_int_equal(l.v[0].exit_unmatched, 2);
	assert_int_equal(l.v[0].t_end, 5000);
	assert_int_equal(l.v[1].npids, 2);
	assert_int_equal(l.v[1].pids[1], 201);
	assert_int_equal(l.v[1].records, 4);
	assert_int_equal(l.v[1].t_end, 0);
	assert_ptr_equal(lives_current(&l), &l.v[1]);
	/* intervals: before, inside, across and after the gap */
	assert_int_equal(lives_gap_ns(&l, 0, 1000), 0); /* before the first life */
	assert_int_equal(lives_gap_ns(&l, 1000, 5000), 0);
	assert_int_equal(lives_gap_ns(&l, 4000, 6000), 1000);
	assert_int_equal(lives_gap_ns(&l, 5200, 5300), 100);
	assert_int_equal(lives_gap_ns(&l, 4000, 9000), 1500);
	assert_int_equal(lives_gap_ns(&l, 7000, 9000), 0); /* the last one lives on */
	assert_int_equal(lives_gap_ns(&l, 9000, 7000), 0);
	assert_int_equal(lives_gaps(&l, 9000, &gap), 1);
	assert_int_equal(gap, 1500);
	/* the run ends in a gap: it lasts to the end */
	lives_end(&l, 8000, 0);
	lives_end(&l, 8500, 3); /* no life going on: nothing changes */
	assert_int_equal(l.v[1].exit_unmatched, 0);
	assert_int_equal(lives_gaps(&l, 9000, &gap), 2);
	assert_int_equal(gap, 2500);
	assert_int_equal(lives_gap_ns(&l, 7000, 9000), 1000);
	lives_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
}

/* An exit seen in the tick of the attach still leaves a life of length >0,
 * and a set of pids past KLT_MAX_BROKERS is cut. */
static void test_edges(void **state)
{
	struct lives l = {0};
	int many[KLT_MAX_BROKERS + 2];
	struct life x = {.t_start = 1, .t_end = 2};

	(void)state;
	for (int i = 0; i < KLT_MAX_BROKERS + 2; i++)
		many[i] = i + 1;
	assert_int_equal(lives_begin(&l, 10, many, KLT_MAX_BROKERS + 2), 0);
	assert_int_equal(l.v[0].npids, KLT_MAX_BROKERS);
	lives_end(&l, 10, 0);
	assert_int_equal(l.v[0].t_end, 11);
	assert_null(lives_current(&l));
	assert_int_equal(lives_add(&l, &x), 0);
	assert_int_equal(l.n, 2);
	lives_free(&l);
	for (unsigned i = 0; i < LIVES_MAX; i++)
		assert_int_equal(lives_begin(&l, (int64_t)i * 10 + 1, many, 1), 0);
	assert_int_equal(lives_begin(&l, 1, many, 1), -ERANGE);
	assert_int_equal(l.n, LIVES_MAX);
	lives_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_lives),
	    cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
