// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The latency bands: which requests each band holds (from the bands' own
 * histogram, so its bucket bounds are the bands' bounds), their mean and
 * by-time composition, the tops of >= p99, the slowest requests kept and
 * the keep hook. Latencies below 2048 ns fall in buckets of width 1, so most
 * tests use them: every bound is then the latency itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kafkalat/bands.h"
#include "produce_req.h"

#define T   1000000000000ull /* 1000 s */
#define NET 100
#define EPS 1e-7 /* the shares are sums of quotients rounded to 2^-32 (bands.c) */

/* A matched request of latency lat to partition `partition` of "orders",
 * all of it appending on CPU; the tests change what they look at. */
static void request(struct req *q, struct attrib_result *res, int64_t lat, int32_t partition)
{
	produce_req_init(q, NET, T, T, T + (uint64_t)lat, T + (uint64_t)lat);
	produce_req_part(q, partition, 1000);
	q->r.t_arrival = q->r.t_complete = T;
	q->r.t_sent = T + (uint64_t)lat;
	memset(res, 0, sizeof(*res));
	res->wire_known = true;
	res->latency_ns = lat;
	res->phase_ns[ATTRIB_APPEND] = lat;
	res->cause_ns[ATTRIB_APPEND][CAUSE_CPU] = lat;
	res->top_cause = CAUSE_CPU;
	res->top_phase = ATTRIB_APPEND;
	res->top_stack_id = -1;
	res->top_frame = "";
}

static void add(struct bands *b, int64_t lat, int32_t partition)
{
	struct attrib_result res;
	struct req q;

	request(&q, &res, lat, partition);
	assert_int_equal(bands_add(b, &q.r, &res), 0);
}

/* What a band holds: its requests and latency bounds. */
struct want {
	uint64_t requests, lo_ns, hi_ns;
};

/* The summary's bands are as wanted, and bands_low agrees (an empty band's
 * bounds are 0, its low UINT64_MAX). */
static void expect_bands(const struct bands *b, const struct want want[BANDS],
			 struct band_summary sum[BANDS])
{
	bands_summary(b, sum);
	for (int band = 0; band < BANDS; band++) {
		assert_int_equal(sum[band].requests, want[band].requests);
		assert_int_equal(sum[band].lo_ns, want[band].lo_ns);
		assert_int_equal(sum[band].hi_ns, want[band].hi_ns);
		assert_int_equal(bands_low(b, (enum band)band),
				 want[band].requests ? want[band].lo_ns : UINT64_MAX);
	}
}

/* bands_time of a band, its count, completeness and time; bt is its result. */
static void expect_time(const struct bands *b, enum band band, uint64_t requests, bool complete,
			uint64_t total_ns, struct band_time *bt)
{
	bands_time(b, band, bt);
	assert_int_equal(bt->requests, requests);
	assert_int_equal(bt->complete, complete);
	assert_int_equal(bt->total_ns, total_ns);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(band_name(BAND_LT_P50), "lt_p50");
	assert_string_equal(band_name(BAND_P50_P99), "p50_p99");
	assert_string_equal(band_name(BAND_GE_P99), "ge_p99");
	assert_string_equal(band_name(BAND_GE_P999), "ge_p999");
	assert_null(band_name(BANDS));
}

static void test_empty(void **state)
{
	struct bands *b = bands_new(4);
	static const struct want none[BANDS] = {{0}};
	struct band_summary sum[BANDS];
	struct band_top top[2];
	struct band_time bt;
	bool trunc = true;

	(void)state;
	assert_non_null(b);
	expect_bands(b, none, sum);
	for (int band = 0; band < BANDS; band++) {
		for (int p = 0; p < ATTRIB_PHASES; p++)
			assert_true(sum[band].phase_pct[p] == 0.0);
		for (int c = 0; c < ATTRIB_CAUSES; c++)
			assert_true(sum[band].cause_pct[c] == 0.0);
		expect_time(b, (enum band)band, 0, false, 0, &bt);
	}
	for (int k = 0; k < BAND_TOPS; k++) {
		assert_int_equal(bands_top(b, (enum band_top_kind)k, top, 2, &trunc), 0);
		assert_false(trunc);
	}
	assert_int_equal(bands_kept(b), 0);
	bands_free(b);
	bands_free(NULL);
}

/* Latencies 1..100 ns: p50 is 50, p99 99 (nearest rank 99 of 100), p999
 * 100. Each band starts at its quantile's bucket, so the request exactly at
 * p99 is in >= p99, not in p50-p99. */
static void test_boundaries(void **state)
{
	static const struct want hundred[BANDS] = {
	    {49, 1, 49}, {49, 50, 98}, {2, 99, 100}, {1, 100, 100}};
	static const struct want second_99[BANDS] = {
	    {50, 1, 50}, {48, 51, 98}, {3, 99, 100}, {1, 100, 100}};
	struct bands *b = bands_new(64);
	struct band_summary sum[BANDS];

	(void)state;
	for (int64_t lat = 100; lat >= 1; lat--) /* the order does not matter */
		add(b, lat, 0);
	expect_bands(b, hundred, sum);
	for (int band = 0; band < BANDS; band++) {
		assert_float_equal(sum[band].phase_pct[ATTRIB_APPEND], 100.0, EPS);
		assert_float_equal(sum[band].phase_pct[ATTRIB_READ], 0.0, EPS);
		assert_float_equal(sum[band].cause_pct[CAUSE_CPU], 100.0, EPS);
	}
	bands_free(b);

	/* a second request at 99: of 101, p50's rank is 51 (51 ns), p99's 100
	 * (the second 99) and p999's 101 (100) */
	b = bands_new(64);
	for (int64_t lat = 1; lat <= 100; lat++)
		add(b, lat, 0);
	add(b, 99, 0);
	expect_bands(b, second_99, sum);
	bands_free(b);
}

/* Bands of wide buckets: 985 requests of 1 ms, all CPU; 15 of 100 ms on
 * partition 3, 90% journal. The bounds are the buckets' (1 ms lies in
 * [2^19, 2^20), 1024 buckets of 512 ns: 1953 * 512 = 999936; 100 ms in
 * [2^26, 2^27), buckets of 65536 ns: 1525 * 65536 = 99942400). */
static void test_wide_buckets(void **state)
{
	/* none below p50: all of them are at the p50 bucket */
	static const struct want wide[BANDS] = {{0, 0, 0},
						{985, 999936, 999936 + 511},
						{15, 99942400, 99942400 + 65535},
						{15, 99942400, 99942400 + 65535}};
	struct bands *b = bands_new(64);
	struct band_summary sum[BANDS];
	struct band_top top[4];
	struct attrib_result res;
	struct req q;
	bool trunc;

	(void)state;
	assert_non_null(b);
	for (int i = 0; i < 1000; i++) {
		bool slow = i >= 985;
		int64_t lat = slow ? 100000000 : 1000000;

		request(&q, &res, lat, slow ? 3 : i % 3);
		res.cause_ns[ATTRIB_APPEND][CAUSE_CPU] = slow ? lat / 10 : lat;
		res.cause_ns[ATTRIB_APPEND][CAUSE_JOURNAL] = slow ? lat - lat / 10 : 0;
		res.top_cause = slow ? CAUSE_JOURNAL : CAUSE_CPU;
		res.top_frame = "wait_transaction_locked";
		res.top_stack_id = 9;
		res.top_ns = lat - lat / 10;
		assert_int_equal(bands_add(b, &q.r, &res), 0);
	}
	expect_bands(b, wide, sum);
	assert_float_equal(sum[BAND_P50_P99].phase_pct[ATTRIB_APPEND], 100.0, EPS);
	assert_float_equal(sum[BAND_P50_P99].cause_pct[CAUSE_CPU], 100.0, EPS);
	assert_float_equal(sum[BAND_GE_P99].cause_pct[CAUSE_JOURNAL], 90.0, EPS);
	assert_float_equal(sum[BAND_GE_P99].cause_pct[CAUSE_CPU], 10.0, EPS);
	assert_int_equal(bands_top(b, BAND_TOP_PARTITION, top, 4, &trunc), 1);
	assert_false(trunc);
	assert_string_equal(top[0].key, "orders-3");
	assert_int_equal(top[0].requests, 15);
	assert_int_equal(top[0].total_ns, 15 * 100000000ull);
	assert_int_equal(top[0].stack_id, -1);
	assert_int_equal(bands_top(b, BAND_TOP_CLIENT, top, 4, NULL), 1);
	assert_string_equal(top[0].key, "127.0.0.1:4000");
	assert_int_equal(top[0].requests, 15);
	assert_int_equal(bands_top(b, BAND_TOP_STACK, top, 4, NULL), 1);
	assert_string_equal(top[0].key, "journal:wait_transaction_locked");
	assert_int_equal(top[0].stack_id, 9);
	assert_int_equal(top[0].requests, 15);
	assert_int_equal(top[0].total_ns, 15 * 90000000ull);
	assert_int_equal(bands_top(b, BAND_TOPS, top, 4, NULL), 0);
	bands_free(b);
}

/* 1..98 ns on CPU; 99 all read; 100 all append, 75 of it in the journal.
 * The mean share weighs the two of >= p99 alike, the time share by their
 * latency. */
static void time_run(struct bands *b)
{
	struct attrib_result res;
	struct req q;

	for (int64_t lat = 1; lat <= 98; lat++)
		add(b, lat, 0);
	request(&q, &res, 99, 0);
	res.phase_ns[ATTRIB_APPEND] = res.cause_ns[ATTRIB_APPEND][CAUSE_CPU] = 0;
	res.phase_ns[ATTRIB_READ] = res.cause_ns[ATTRIB_READ][CAUSE_CPU] = 99;
	assert_int_equal(bands_add(b, &q.r, &res), 0);
	request(&q, &res, 100, 0);
	res.cause_ns[ATTRIB_APPEND][CAUSE_CPU] = 25;
	res.cause_ns[ATTRIB_APPEND][CAUSE_JOURNAL] = 75;
	assert_int_equal(bands_add(b, &q.r, &res), 0);
}

static void test_time(void **state)
{
	struct bands *b = bands_new(64);
	struct band_summary sum[BANDS];
	struct band_time bt;

	(void)state;
	time_run(b);
	bands_summary(b, sum);
	assert_float_equal(sum[BAND_GE_P99].phase_pct[ATTRIB_READ], 50.0, EPS);
	assert_float_equal(sum[BAND_GE_P99].phase_pct[ATTRIB_APPEND], 50.0, EPS);
	assert_float_equal(sum[BAND_GE_P99].cause_pct[CAUSE_JOURNAL], 37.5, EPS);
	expect_time(b, BAND_GE_P99, 2, true, 199, &bt);
	assert_float_equal(bt.phase_pct[ATTRIB_READ], 9900.0 / 199, EPS);
	assert_float_equal(bt.phase_pct[ATTRIB_APPEND], 10000.0 / 199, EPS);
	assert_float_equal(bt.phase_pct[ATTRIB_QUEUE], 0.0, EPS);
	assert_float_equal(bt.cause_pct[CAUSE_CPU], 12400.0 / 199, EPS);
	assert_float_equal(bt.cause_pct[CAUSE_JOURNAL], 7500.0 / 199, EPS);
	expect_time(b, BAND_GE_P999, 1, true, 100, &bt);
	assert_float_equal(bt.phase_pct[ATTRIB_APPEND], 100.0, EPS);
	assert_float_equal(bt.cause_pct[CAUSE_JOURNAL], 75.0, EPS);
	assert_float_equal(bt.cause_pct[CAUSE_CPU], 25.0, EPS);
	/* only the bands the slowest requests kept can hold */
	expect_time(b, BAND_LT_P50, 0, false, 0, &bt);
	expect_time(b, BAND_P50_P99, 0, false, 0, &bt);
	expect_time(b, BANDS, 0, false, 0, &bt);
	bands_free(b);

	/* one kept: >= p99 holds two, so it is not complete; >= p999 is */
	b = bands_new(1);
	time_run(b);
	expect_time(b, BAND_GE_P99, 1, false, 100, &bt);
	assert_float_equal(bt.phase_pct[ATTRIB_APPEND], 100.0, EPS);
	assert_float_equal(bt.phase_pct[ATTRIB_READ], 0.0, EPS);
	expect_time(b, BAND_GE_P999, 1, true, 100, &bt);
	bands_free(b);
}

/* The slow requests of the tops' tests: latency, partition, client, the
 * top cause, its frame and stack. CPU, run queue and queued are no stack. */
static const struct slow {
	int64_t lat;
	int32_t partition;
	const char *client;
	unsigned int cause;
	const char *frame;
	int32_t stack_id;
	int64_t top_ns;
} slow[] = {
    {110, 7, "10.0.0.1:1", CAUSE_JOURNAL, "wait_transaction_locked", 1, 60},
    {109, 2, "10.0.0.2:2", CAUSE_JOURNAL, "wait_transaction_locked", 1, 50},
    {108, 5, "10.0.0.1:1", CAUSE_FUTEX, "futex_wait_queue", 2, 90},
    {107, 3, "10.0.0.2:2", CAUSE_FUTEX, "futex_wait_queue", 2, 80},
    {106, 9, "10.0.0.3:3", CAUSE_BLKIO, NULL, 3, 10},
    {105, 3, "10.0.0.1:1", CAUSE_CPU, "", -1, 105},
    {104, 5, "10.0.0.2:2", CAUSE_CPU, "", -1, 104},
    {103, 2, "10.0.0.1:1", CAUSE_JOURNAL, "wait_transaction_locked", 1, 30},
    {102, 2, "10.0.0.3:3", CAUSE_RUNQ, "", -1, 40},
    {101, 7, "10.0.0.1:1", ATTRIB_CAUSE_QUEUED, "", -1, 50},
    {100, 7, "10.0.0.2:2", CAUSE_JOURNAL, "wait_transaction_locked", 1, 20},
};

#define NSLOW (sizeof(slow) / sizeof(slow[0]))

/* 989 requests of 10..13 ns (buckets of 248, 247, 247, 247: p50 is 12) to
 * partition 0, then the 11 slow ones: with 1000, p99's rank 990 is the
 * first slow one (100) and p999's 999 is 109. */
static void tops_run(struct bands *b)
{
	struct attrib_result res;
	struct req q;

	for (int i = 0; i < 989; i++)
		add(b, 10 + i % 4, 0);
	for (size_t i = 0; i < NSLOW; i++) {
		request(&q, &res, slow[i].lat, slow[i].partition);
		strcpy(q.r.client, slow[i].client);
		res.top_cause = slow[i].cause;
		res.top_frame = slow[i].frame;
		res.top_stack_id = slow[i].stack_id;
		res.top_ns = slow[i].top_ns;
		assert_int_equal(bands_add(b, &q.r, &res), 0);
	}
}

static void expect_top(const struct band_top *t, const char *key, uint64_t requests,
		       uint64_t total_ns, int32_t stack_id)
{
	assert_string_equal(t->key, key);
	assert_int_equal(t->requests, requests);
	assert_int_equal(t->total_ns, total_ns);
	assert_int_equal(t->stack_id, stack_id);
}

/* By requests, then by time, then by key; the fast requests' partition 0
 * is not of >= p99. */
static void test_top_order(void **state)
{
	static const struct want tops_bands[BANDS] = {
	    {248 + 247, 10, 11}, {247 + 247, 12, 13}, {11, 100, 110}, {2, 109, 110}};
	struct bands *b = bands_new(64);
	struct band_summary sum[BANDS];
	struct band_top top[8];
	bool trunc = true;

	(void)state;
	tops_run(b);
	expect_bands(b, tops_bands, sum);
	assert_int_equal(bands_kept(b), 64);

	assert_int_equal(bands_top(b, BAND_TOP_PARTITION, top, 8, &trunc), 5);
	assert_false(trunc);
	expect_top(&top[0], "orders-2", 3, 109 + 103 + 102, -1);
	expect_top(&top[1], "orders-7", 3, 110 + 101 + 100, -1);
	expect_top(&top[2], "orders-3", 2, 107 + 105, -1); /* ties orders-5: by key */
	expect_top(&top[3], "orders-5", 2, 108 + 104, -1);
	expect_top(&top[4], "orders-9", 1, 106, -1);
	/* fewer asked for: the first of the same order */
	assert_int_equal(bands_top(b, BAND_TOP_PARTITION, top, 3, &trunc), 3);
	assert_false(trunc);
	expect_top(&top[2], "orders-3", 2, 212, -1);
	assert_int_equal(bands_top(b, BAND_TOP_PARTITION, top, 0, NULL), 0);

	assert_int_equal(bands_top(b, BAND_TOP_CLIENT, top, 8, NULL), 3);
	expect_top(&top[0], "10.0.0.1:1", 5, 110 + 108 + 105 + 103 + 101, -1);
	expect_top(&top[1], "10.0.0.2:2", 4, 109 + 107 + 104 + 100, -1);
	expect_top(&top[2], "10.0.0.3:3", 2, 106 + 102, -1);

	/* the stacks' time is their top cause's, not the latency */
	assert_int_equal(bands_top(b, BAND_TOP_STACK, top, 8, NULL), 3);
	expect_top(&top[0], "journal:wait_transaction_locked", 4, 60 + 50 + 30 + 20, 1);
	expect_top(&top[1], "futex:futex_wait_queue", 2, 90 + 80, 2);
	expect_top(&top[2], "blkio:unknown", 1, 10, 3);
	bands_free(b);
}

/* Four kept of the eleven of >= p99: the tops are of those four, and say
 * they are short; >= p999 (109, 110) is whole. */
static void test_top_truncated(void **state)
{
	struct bands *b = bands_new(4);
	struct band_top top[8];
	struct band_time bt;
	bool trunc = false;

	(void)state;
	tops_run(b);
	assert_int_equal(bands_kept(b), 4);
	assert_int_equal(bands_top(b, BAND_TOP_PARTITION, top, 8, &trunc), 4);
	assert_true(trunc);
	expect_top(&top[0], "orders-7", 1, 110, -1);
	expect_top(&top[1], "orders-2", 1, 109, -1);
	expect_top(&top[2], "orders-5", 1, 108, -1);
	expect_top(&top[3], "orders-3", 1, 107, -1);
	trunc = false;
	assert_int_equal(bands_top(b, BAND_TOP_STACK, top, 1, &trunc), 1);
	assert_true(trunc);
	expect_top(&top[0], "futex:futex_wait_queue", 2, 170, 2);
	expect_time(b, BAND_GE_P99, 4, false, 110 + 109 + 108 + 107, &bt);
	expect_time(b, BAND_GE_P999, 2, true, 110 + 109, &bt);
	bands_free(b);

	/* ten alike, two kept: one key, two requests, short */
	b = bands_new(2);
	for (int i = 0; i < 10; i++)
		add(b, 5000, 1);
	assert_int_equal(bands_top(b, BAND_TOP_PARTITION, top, 4, &trunc), 1);
	assert_true(trunc);
	expect_top(&top[0], "orders-1", 2, 10000, -1);
	bands_free(b);
}

struct keeps {
	int calls;
	int64_t lat[16];
	uint64_t t_end[16];
	int64_t cpu[16];
};

/* Records what it is shown, and leaves its mark where the caller's figures
 * go: the call's number as nblock. */
static void on_keep(void *ctx, struct slow_request *s)
{
	struct keeps *k = ctx;

	assert_true(k->calls < 16);
	k->lat[k->calls] = (int64_t)s->latency;
	k->t_end[k->calls] = s->t_sent;
	k->cpu[k->calls] = s->cause_ns[CAUSE_CPU];
	s->nblock = (uint64_t)++k->calls;
	s->block_dev = 8;
}

/* Into four: 10..60 are each kept as they come; 5 and a second 30 are not
 * (smaller than, or only equal to, the smallest kept); 45 is. */
static void test_keep_hook(void **state)
{
	static const int64_t lats[] = {10, 20, 30, 40, 50, 60, 5, 30, 45};
	static const int64_t kept_lat[] = {10, 20, 30, 40, 50, 60, 45};
	/* slots stay put: 50, 60 and 45 took over those of 10, 20 and 30 */
	static const uint64_t slot_lat[] = {50, 60, 45, 40}, slot_call[] = {5, 6, 7, 4};
	struct bands *b = bands_new(4);
	struct keeps k = {0};
	struct attrib_result res;
	struct req q;

	(void)state;
	bands_on_keep(b, on_keep, &k);
	for (size_t i = 0; i < sizeof(lats) / sizeof(lats[0]); i++)
		add(b, lats[i], 0);
	request(&q, &res, 1000, 0); /* unmatched: never kept */
	res.unmatched = ATTRIB_UNM_NO_APPEND;
	assert_int_equal(bands_add(b, &q.r, &res), 0);
	assert_int_equal(k.calls, 7);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(k.lat[i], kept_lat[i]);
		assert_int_equal(k.t_end[i], T + (uint64_t)kept_lat[i]);
		assert_int_equal(k.cpu[i], kept_lat[i]);
	}
	assert_int_equal(bands_kept(b), 4);
	for (uint32_t i = 0; i < 4; i++) {
		const struct slow_request *s = bands_kept_at(b, i);

		assert_int_equal(s->latency, slot_lat[i]);
		assert_int_equal(s->nblock, slot_call[i]);
		assert_int_equal(s->block_dev, 8);
		assert_int_equal(s->t_arrival, T);
		assert_int_equal(s->stack_id, -1);
	}
	bands_free(b);
}

/* Every unmatched reason and a negative latency: nothing counted or kept. */
static void test_unmatched_ignored(void **state)
{
	static const struct want none[BANDS] = {{0}}, one[BANDS] = {{0}, {0}, {1, 7, 7}, {1, 7, 7}};
	struct bands *b = bands_new(4);
	struct band_summary sum[BANDS];
	struct keeps k = {0};
	struct attrib_result res;
	struct req q;

	(void)state;
	bands_on_keep(b, on_keep, &k);
	for (int u = ATTRIB_UNM_NOT_PRODUCE; u < ATTRIB_UNM_MAX; u++) {
		request(&q, &res, 1000, 0);
		res.unmatched = (enum attrib_unmatched)u;
		assert_int_equal(bands_add(b, &q.r, &res), 0);
	}
	request(&q, &res, -1, 0);
	assert_int_equal(bands_add(b, &q.r, &res), 0);
	expect_bands(b, none, sum);
	assert_int_equal(bands_kept(b), 0);
	assert_int_equal(k.calls, 0);
	/* a matched one after them is the only one */
	add(b, 7, 0);
	expect_bands(b, one, sum);
	assert_int_equal(bands_kept(b), 1);
	assert_int_equal(k.calls, 1);
	bands_free(b);
}

/* 1..98 ns on CPU; 99 and 100 waited 90 of their time in the socket
 * behind a request stalled in the journal, 100 with a flow bound of 40:
 * the root causes count the head-of-line waits as the journal's. */
static void test_time_hol_roots(void **state)
{
	struct bands *b = bands_new(64);
	struct attrib_result res;
	struct band_time bt;
	struct req q;

	(void)state;
	for (int64_t lat = 1; lat <= 98; lat++)
		add(b, lat, 0);
	for (int64_t lat = 99; lat <= 100; lat++) {
		request(&q, &res, lat, 0);
		res.phase_ns[ATTRIB_APPEND] = res.cause_ns[ATTRIB_APPEND][CAUSE_CPU] = lat - 90;
		res.phase_ns[ATTRIB_SOCKET_WAIT] = 90;
		res.cause_ns[ATTRIB_SOCKET_WAIT][ATTRIB_CAUSE_HOL] = 90;
		res.hol_ns = 90;
		res.root_ns[CAUSE_CPU] = lat - 90;
		res.root_ns[CAUSE_JOURNAL] = 90; /* the request waited behind */
		q.r.flow_blocked_ns = lat == 100 ? 40 : 0;
		assert_int_equal(bands_add(b, &q.r, &res), 0);
	}
	expect_time(b, BAND_GE_P99, 2, true, 199, &bt);
	assert_float_equal(bt.phase_pct[ATTRIB_SOCKET_WAIT], 18000.0 / 199, EPS);
	assert_float_equal(bt.cause_pct[ATTRIB_CAUSE_HOL], 18000.0 / 199, EPS);
	assert_float_equal(bt.cause_pct[CAUSE_JOURNAL], 0.0, EPS);
	assert_float_equal(bt.root_pct[ATTRIB_CAUSE_HOL], 0.0, EPS);
	assert_float_equal(bt.root_pct[CAUSE_JOURNAL], 18000.0 / 199, EPS);
	assert_float_equal(bt.root_pct[CAUSE_CPU], 1900.0 / 199, EPS);
	assert_float_equal(bt.hol_pct[CAUSE_JOURNAL], 18000.0 / 199, EPS);
	assert_float_equal(bt.hol_pct[CAUSE_CPU], 0.0, EPS);
	assert_int_equal(bt.flow_requests, 1);
	assert_int_equal(bt.flow_total_ns, 40);
	assert_int_equal(bt.flow_max_ns, 40);
	bands_free(b);
}

/* A latency without wire times is a lower bound: not in the bands. */
static void test_wire_unknown_ignored(void **state)
{
	struct bands *b = bands_new(8);
	struct attrib_result res;
	struct band_summary sum[BANDS];
	struct req q;

	(void)state;
	request(&q, &res, 1000, 0);
	res.wire_known = false;
	assert_int_equal(bands_add(b, &q.r, &res), 0);
	bands_summary(b, sum);
	for (int band = 0; band < BANDS; band++)
		assert_int_equal(sum[band].requests, 0);
	assert_int_equal(bands_kept(b), 0);
	assert_int_equal(bands_no_wire(b), 1);
	bands_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_boundaries),
	    cmocka_unit_test(test_wide_buckets),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_time_hol_roots),
	    cmocka_unit_test(test_wire_unknown_ignored),
	    cmocka_unit_test(test_top_order),
	    cmocka_unit_test(test_top_truncated),
	    cmocka_unit_test(test_keep_hook),
	    cmocka_unit_test(test_unmatched_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
