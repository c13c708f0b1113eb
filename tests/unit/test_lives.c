// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The brokers' lives under --follow: counts go to the life going on of the
 * request's process, gaps are the time between a broker's lives (and after
 * its last), an interval's gap is its share of them. */
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
	int64_t gap;

	(void)state;
	assert_null(lives_current(&l, 0));
	lives_count(&l, 100, true, 5); /* before any life: nobody's */
	assert_int_equal(lives_begin(&l, 1000, 0, 100), 0);
	lives_count(&l, 100, true, 3);
	lives_count(&l, 0, false, 9);  /* owner unknown: the only life going on */
	lives_count(&l, 555, true, 1); /* no traced process */
	lives_end(&l, 0, 5000, 2);
	assert_null(lives_current(&l, 0));
	lives_count(&l, 0, true, 7); /* in the gap: nobody's */
	lives_count(&l, 100, true, 7);
	assert_int_equal(lives_begin(&l, 6500, 0, 200), 0);
	lives_count(&l, 200, true, 4);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.nbrokers, 1);
	assert_int_equal(l.v[0].pids[0], 100);
	assert_int_equal(l.v[0].npids, 1);
	assert_int_equal(l.v[0].requests, 2);
	assert_int_equal(l.v[0].produce, 1);
	assert_int_equal(l.v[0].records, 3);
	assert_int_equal(l.v[0].exit_unmatched, 2);
	assert_int_equal(l.v[0].t_end, 5000);
	assert_int_equal(l.v[1].pids[0], 200);
	assert_int_equal(l.v[1].records, 4);
	assert_int_equal(l.v[1].t_end, 0);
	assert_ptr_equal(lives_current(&l, 0), &l.v[1]);
	/* intervals: before, inside, across and after the gap */
	assert_int_equal(lives_gap_ns(&l, 0, 1000), 0); /* before the first life */
	assert_int_equal(lives_gap_ns(&l, 1000, 5000), 0);
	assert_int_equal(lives_gap_ns(&l, 4000, 6000), 1000);
	assert_int_equal(lives_gap_ns(&l, 5200, 5300), 100);
	assert_int_equal(lives_gap_ns(&l, 4000, 9000), 1500);
	assert_int_equal(lives_gap_ns(&l, 7000, 9000), 0); /* the last one lives on */
	assert_int_equal(lives_gap_ns(&l, 9000, 7000), 0);
	assert_int_equal(lives_broker_gap_ns(&l, 0, 4000, 9000), 1500);
	assert_int_equal(lives_gaps(&l, 9000, &gap), 1);
	assert_int_equal(gap, 1500);
	assert_int_equal(lives_next_start(&l, 0, 9000), 6500);
	assert_int_equal(lives_next_start(&l, 1, 9000), 9000);
	/* the run ends in a gap: it lasts to the end */
	lives_end(&l, 0, 8000, 0);
	lives_end(&l, 0, 8500, 3); /* no life going on: nothing changes */
	assert_int_equal(l.v[1].exit_unmatched, 0);
	assert_int_equal(lives_gaps(&l, 9000, &gap), 2);
	assert_int_equal(gap, 2500);
	assert_int_equal(lives_gap_ns(&l, 7000, 9000), 1000);
	lives_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
}

/*
 * Three brokers: 0 restarts twice, 1 lives throughout, 2 exits and comes
 * back once. Each counts its own process's requests, their gaps overlap
 * or not, and an interval's gap is the time some broker was missing.
 *
 *   broker 0: pid 10 [0, 100)  pid 11 [200, 300)  pid 12 [350, ...)
 *   broker 1: pid 20 [0, ...)
 *   broker 2: pid 30 [0, 250)  pid 31 [400, ...)
 */
static void test_several_brokers(void **state)
{
	struct lives l = {0};
	int64_t gap;

	(void)state;
	assert_int_equal(lives_begin(&l, 0, 0, 10), 0);
	assert_int_equal(lives_begin(&l, 0, 1, 20), 0);
	assert_int_equal(lives_begin(&l, 0, 2, 30), 0);
	lives_count(&l, 20, true, 2);
	lives_count(&l, 0, true, 1); /* several going on: the owner is unknown */
	lives_end(&l, 0, 100, 1);
	lives_count(&l, 10, true, 5); /* its life ended: counted nowhere */
	lives_count(&l, 30, false, 0);
	assert_int_equal(lives_begin(&l, 200, 0, 11), 0);
	lives_count(&l, 11, true, 3);
	lives_end(&l, 2, 250, 0);
	lives_end(&l, 0, 300, 2);
	assert_int_equal(lives_begin(&l, 350, 0, 12), 0);
	assert_int_equal(lives_begin(&l, 400, 2, 31), 0);
	lives_count(&l, 31, true, 7);
	lives_count(&l, 20, true, 1);
	assert_int_equal(l.n, 6);
	assert_int_equal(l.nbrokers, 3);
	assert_int_equal(l.v[0].requests, 0); /* pid 10 */
	assert_int_equal(l.v[0].exit_unmatched, 1);
	assert_int_equal(l.v[1].produce, 2); /* pid 20 */
	assert_int_equal(l.v[1].records, 3);
	assert_int_equal(l.v[2].requests, 1); /* pid 30 */
	assert_int_equal(l.v[2].produce, 0);
	assert_int_equal(l.v[3].records, 3); /* pid 11 */
	assert_int_equal(l.v[3].exit_unmatched, 2);
	assert_int_equal(l.v[5].records, 7); /* pid 31 */
	assert_ptr_equal(lives_current(&l, 0), &l.v[4]);
	assert_ptr_equal(lives_current(&l, 1), &l.v[1]);
	assert_ptr_equal(lives_current(&l, 2), &l.v[5]);
	assert_null(lives_current(&l, 3));
	/* some broker missing: [100, 200) 0, [250, 400) 2, [300, 350) 0 */
	assert_int_equal(lives_gap_ns(&l, 0, 500), 250);
	assert_int_equal(lives_gap_ns(&l, 150, 275), 75);
	assert_int_equal(lives_gap_ns(&l, 200, 250), 0);
	assert_int_equal(lives_gap_ns(&l, 400, 500), 0);
	assert_int_equal(lives_broker_gap_ns(&l, 0, 0, 500), 150);
	assert_int_equal(lives_broker_gap_ns(&l, 1, 0, 500), 0);
	assert_int_equal(lives_broker_gap_ns(&l, 2, 0, 500), 150);
	assert_int_equal(lives_broker_gap_ns(&l, 2, 260, 270), 10);
	/* each gap up to its own broker's next life */
	assert_int_equal(lives_next_start(&l, 0, 500), 200);
	assert_int_equal(lives_next_start(&l, 2, 500), 400);
	assert_int_equal(lives_gaps(&l, 500, &gap), 3);
	assert_int_equal(gap, 100 + 50 + 150);
	lives_free(&l);
	assert_int_equal(l.nbrokers, 0);
}

/* An exit seen in the tick of the attach still leaves a life of length >0;
 * a broker out of range has no lives. */
static void test_edges(void **state)
{
	struct lives l = {0};
	struct life x = {.t_start = 1, .t_end = 2}, bad = {.broker = KLT_MAX_BROKERS};

	(void)state;
	assert_int_equal(lives_begin(&l, 10, 0, 1), 0);
	lives_end(&l, 0, 10, 0);
	assert_int_equal(l.v[0].t_end, 11);
	assert_null(lives_current(&l, 0));
	assert_int_equal(lives_add(&l, &x), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(lives_add(&l, &bad), -EINVAL);
	assert_int_equal(lives_begin(&l, 20, -1, 1), -EINVAL);
	assert_int_equal(lives_begin(&l, 20, KLT_MAX_BROKERS, 1), -EINVAL);
	assert_null(lives_current(&l, KLT_MAX_BROKERS));
	lives_end(&l, -1, 30, 0);
	assert_int_equal(l.n, 2);
	lives_free(&l);
	for (unsigned i = 0; i < LIVES_MAX; i++)
		assert_int_equal(lives_begin(&l, (int64_t)i * 10 + 1, 0, 1), 0);
	assert_int_equal(lives_begin(&l, 1, 0, 1), -ERANGE);
	assert_int_equal(l.n, LIVES_MAX);
	lives_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_lives),
	    cmocka_unit_test(test_several_brokers),
	    cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
