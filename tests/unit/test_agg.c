// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafkalat/agg.h"

/* A completed request of api_key with latency lat, on the wire (t_sent -
 * t_arrival) and in the broker (t_end - t_first). */
static struct corr_request req(int16_t api_key, uint64_t lat)
{
	struct corr_request r;

	memset(&r, 0, sizeof(r));
	r.api_key = api_key;
	r.t_first = 1000000;
	r.t_read = r.t_first + 10;
	r.t_resp = r.t_first + lat;
	r.t_end = r.t_first + lat;
	r.t_arrival = r.t_complete = r.t_first;
	r.t_sent = r.t_end;
	return r;
}

static struct corr_request produce(int16_t acks, uint64_t lat, uint64_t bytes, uint64_t records)
{
	struct corr_request r = req(0, lat);

	r.produce_parsed = true;
	r.acks = acks;
	r.record_bytes = bytes;
	r.records = records;
	if (acks == 0)
		r.t_resp = r.t_end = 0; /* completed at read time */
	return r;
}

static void add(struct agg *a, struct corr_request r)
{
	assert_int_equal(agg_add(a, &r), 0);
}

static void test_init_empty(void **state)
{
	struct agg a;

	(void)state;
	agg_init(&a);
	for (int k = 0; k < AGG_MAX_API; k++) {
		assert_null(agg_latency(&a, k));
		assert_int_equal(agg_count(&a, k), 0);
	}
	assert_null(agg_latency(&a, -1));
	assert_null(agg_latency(&a, AGG_MAX_API));
	assert_int_equal(agg_count(&a, -1), 0);
	assert_int_equal(agg_count(&a, AGG_MAX_API), 0);
	agg_free(&a);
}

static void test_add_latency(void **state)
{
	struct agg a;
	const struct hist *h;

	(void)state;
	agg_init(&a);
	add(&a, produce(1, 1500000, 100, 2));
	add(&a, produce(-1, 2500000, 300, 4));
	add(&a, req(3, 40000));
	h = agg_latency(&a, 0);
	assert_non_null(h);
	assert_int_equal(agg_count(&a, 0), 2);
	assert_int_equal(h->count, 2);
	assert_int_equal(h->min, 1500000);
	assert_int_equal(h->max, 2500000);
	assert_int_equal(h->sum, 4000000);
	assert_in_range(hist_quantile(h, 0.5), 1500000, 1501500); /* within 0.1% */
	assert_int_equal(agg_count(&a, 3), 1);
	assert_int_equal(agg_latency(&a, 3)->min, 40000);
	assert_null(agg_latency(&a, 1)); /* unseen api */
	assert_null(agg_latency(&a, 18));
	assert_int_equal(a.produce_bytes, 400);
	assert_int_equal(a.produce_records, 6);
	assert_int_equal(a.produce_acks0, 0);
	agg_free(&a);
}

static void test_acks0_apart(void **state)
{
	struct agg a;

	(void)state;
	agg_init(&a);
	add(&a, produce(0, 0, 64, 1));
	add(&a, produce(0, 0, 36, 2));
	assert_int_equal(a.produce_acks0, 2);
	assert_int_equal(agg_count(&a, 0), 0);
	assert_null(agg_latency(&a, 0)); /* not in the latency histogram */
	assert_int_equal(a.produce_bytes, 100);
	assert_int_equal(a.produce_records, 3);
	add(&a, produce(1, 5000, 10, 1));
	assert_int_equal(agg_latency(&a, 0)->count, 1);
	assert_int_equal(agg_latency(&a, 0)->max, 5000);
	agg_free(&a);
}

static void test_unparsed_produce_and_odd_times(void **state)
{
	struct agg a;
	struct corr_request r = req(0, 0);

	(void)state;
	agg_init(&a);
	r.acks = 0;		 /* not parsed: acks unknown, so timed like any request */
	r.t_end = r.t_first - 5; /* clock oddity: recorded as 0, not wrapped */
	add(&a, r);
	assert_int_equal(a.produce_acks0, 0);
	assert_int_equal(agg_count(&a, 0), 1);
	assert_int_equal(agg_latency(&a, 0)->max, 0);
	agg_free(&a);
}

static void test_out_of_range_api_ignored(void **state)
{
	struct agg a;

	(void)state;
	agg_init(&a);
	add(&a, req(-1, 10));
	add(&a, req(AGG_MAX_API, 10));
	add(&a, req(KLT_MAX_API_KEY, 10));
	for (int k = 0; k < KLT_MAX_API_KEY; k++)
		assert_int_equal(agg_count(&a, k), 0);
	assert_int_equal(agg_count(&a, KLT_MAX_API_KEY), 1);
	agg_free(&a);
}

static void fill(struct agg *a, uint64_t base, int n)
{
	for (int i = 0; i < n; i++) {
		add(a, produce(1, base + (uint64_t)i * 997, 10, 1));
		add(a, req(18, base / 10 + (uint64_t)i));
	}
	add(a, produce(0, 0, 5, 5));
}

static void test_reset(void **state)
{
	struct agg a;

	(void)state;
	agg_init(&a);
	fill(&a, 1000, 5);
	agg_reset(&a);
	for (int k = 0; k < AGG_MAX_API; k++)
		assert_int_equal(agg_count(&a, k), 0);
	assert_int_equal(a.produce_acks0, 0);
	assert_int_equal(a.produce_bytes, 0);
	assert_int_equal(a.produce_records, 0);
	/* histograms are kept allocated for the next interval, but empty */
	assert_true(agg_latency(&a, 0) == NULL || hist_empty(agg_latency(&a, 0)));
	add(&a, produce(1, 777, 1, 1));
	assert_int_equal(agg_count(&a, 0), 1);
	assert_int_equal(agg_latency(&a, 0)->min, 777);
	assert_int_equal(agg_latency(&a, 0)->count, 1);
	agg_free(&a);
	assert_null(agg_latency(&a, 0)); /* free leaves an empty, reusable agg */
	agg_free(&a);
}

/* Requests without wire times are counted by reason and kept out of the
 * latency; every request's broker latency is kept, and the flow bounds. */
static void test_wire_unknown_and_flow(void **state)
{
	struct agg a;
	struct corr_request r = produce(1, 3000, 1, 1);

	(void)state;
	agg_init(&a);
	r.t_arrival = r.t_first - 2000; /* waited 2000 in the socket */
	r.flow_blocked_ns = 700;
	add(&a, r);
	r = produce(1, 9000, 1, 1);
	r.t_sent = 0;
	r.wire = CORR_WIRE_SENT_UNRESOLVED;
	add(&a, r);
	r = produce(1, 8000, 1, 1);
	r.t_arrival = 0;
	r.wire = CORR_WIRE_BEFORE_ATTACH;
	r.flow_blocked_ns = 300;
	add(&a, r);
	add(&a, req(3, 100));
	assert_int_equal(agg_count(&a, 0), 3);
	assert_int_equal(agg_wire_unknown(&a, 0), 2);
	assert_int_equal(agg_wire_unknown(&a, 3), 0);
	assert_int_equal(agg_wire_unknown(&a, -1), 0);
	assert_int_equal(a.produce_wire_unknown[CORR_WIRE_SENT_UNRESOLVED], 1);
	assert_int_equal(a.produce_wire_unknown[CORR_WIRE_BEFORE_ATTACH], 1);
	assert_int_equal(agg_latency(&a, 0)->count, 1);
	assert_int_equal(agg_latency(&a, 0)->max, 5000);
	assert_int_equal(agg_hist(&a, AGG_BROKER, 0)->count, 3);
	assert_int_equal(agg_hist(&a, AGG_BROKER, 0)->max, 9000);
	assert_int_equal(agg_hist(&a, AGG_BROKER_NOWIRE, 0)->count, 2);
	assert_int_equal(agg_hist(&a, AGG_BROKER_NOWIRE, 0)->min, 8000);
	assert_null(agg_hist(&a, AGG_HISTS, 0));
	assert_int_equal(a.flow->count, 2);
	assert_int_equal(a.flow->max, 700);
	assert_int_equal(a.flow_total_ns, 1000);
	agg_reset(&a);
	assert_int_equal(a.flow_total_ns, 0);
	assert_int_equal(a.produce_wire_unknown[CORR_WIRE_BEFORE_ATTACH], 0);
	assert_int_equal(agg_wire_unknown(&a, 0), 0);
	agg_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_empty),
	    cmocka_unit_test(test_add_latency),
	    cmocka_unit_test(test_acks0_apart),
	    cmocka_unit_test(test_unparsed_produce_and_odd_times),
	    cmocka_unit_test(test_out_of_range_api_ignored),
	    cmocka_unit_test(test_reset),
	    cmocka_unit_test(test_wire_unknown_and_flow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
