// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Head-of-line waits on a recorded event sequence: socket records through
 * the correlator, cause records through the explainer, as the pipeline
 * wires them. Times in microseconds from T (explain_scenario.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events_builder.h"
#include "explain_scenario.h"

#define K     5
#define X     (10 * MS) /* each request's journal stall */
#define EACH  (80 + X)	/* one request, first read to last write */
#define ARR0  (-100)	/* request i arrives over ARR0 + i .. ARR0 + i + 5 */
#define CONN  1
#define JBD2C "jbd2/loop3-8"

struct run {
	struct explain *t;
	int n;
	int32_t corr[K];
	struct attrib_result res[K];
};

static void on_result(const struct corr_request *r, const struct attrib_result *res, void *ctx)
{
	struct run *rn = ctx;

	assert_true(rn->n < K);
	rn->corr[rn->n] = r->corr_id;
	rn->res[rn->n++] = *res;
}

static void on_complete(const struct corr_request *r, void *ctx)
{
	struct run *rn = ctx;

	assert_int_equal(explain_request(rn->t, r), 0);
}

/* The broker reads request i at i * EACH, its handler writes the batch
 * stalled X in the journal, the network thread answers at once and reads
 * the next: the connection is muted while each is in flight. */
static void causes(struct explain *t, double base)
{
	file(t, H1, KLC_SYS_WRITE, INO, BYTES, base + 40, base + 50 + X);
	offcpu(t, H1, base + 45, base + 45 + X, base + 44 + X, 1, 1, 77, JBD2C);
	offcpu(t, NET, base + 12, base + 57 + X, base + 55 + X, 1, -1, H1, "kafka-handler");
}

/* The same, but the handler is preempted for X instead (run queue). */
static void causes_runq(struct explain *t, double base)
{
	file(t, H1, KLC_SYS_WRITE, INO, BYTES, base + 40, base + 50 + X);
	offcpu(t, H1, base + 45, base + 45 + X, 0, 0, -1, 0, "");
	offcpu(t, NET, base + 12, base + 57 + X, base + 55 + X, 1, -1, H1, "kafka-handler");
}

static void request(struct corr *c, int32_t i)
{
	double base = (double)i * EACH;
	struct klt_frame_event rq = evb_produce(CONN, i, 1, US(base), US(base + 10));
	struct klt_frame_event rs = evb_response(CONN, i, US(base + 70 + X), US(base + EACH));

	rq.tid_first = rq.tid_last = NET;
	rs.tid_first = rs.tid_last = NET;
	evb_produce_totals(&rq, 1, 1, BYTES, 1);
	evb_wire(&rq, US(ARR0 + i), US(ARR0 + i + 5));
	evb_wire(&rs, 0, US(base + EACH));
	assert_int_equal(evb_feed(c, evb_topic(CONN, 0, "orders")), 0);
	assert_int_equal(evb_feed(c, evb_part(CONN, 0, 3, BYTES, 1)), 0);
	assert_int_equal(evb_feed(c, rq), 0);
	assert_int_equal(evb_feed(c, rs), 0);
}

/* K pipelined requests, each stalled X: request i waits i requests' time in
 * the socket, all of it head-of-line behind i - 1, whose root is request
 * 0's journal wait. */
static void test_pipelined_stalls(void **state)
{
	struct run rn = {0};
	struct corr *c;

	(void)state;
	rn.t = explain_new(NULL, stacks, NULL, on_result, &rn);
	c = corr_new(on_complete, &rn);
	assert_non_null(rn.t);
	assert_non_null(c);
	name(rn.t, INO, "orders-3", "00000000000000000000.log");
	for (int i = 0; i < K; i++)
		causes(rn.t, (double)i * EACH);
	assert_int_equal(evb_feed(c, evb_conn4(CONN, "127.0.0.1", 4000)), 0);
	for (int32_t i = 0; i < K; i++)
		request(c, i);
	explain_finish(rn.t);
	assert_int_equal(rn.n, K);
	for (int i = 0; i < K; i++) {
		const struct attrib_result *res = &rn.res[i];
		int64_t wait = (int64_t)(US(i * EACH) - US(ARR0 + i + 5));

		assert_int_equal(rn.corr[i], i);
		assert_int_equal(res->unmatched, ATTRIB_MATCHED);
		assert_true(res->wire_known);
		assert_int_equal(res->latency_ns, (int64_t)(US((i + 1) * EACH) - US(ARR0 + i)));
		assert_int_equal(res->phase_ns[ATTRIB_RECV], 5000);
		assert_int_equal(res->phase_ns[ATTRIB_SOCKET_WAIT], wait);
		assert_int_equal(res->cause_ns[ATTRIB_APPEND][CAUSE_JOURNAL], X * 1000 - 1000);
		if (i == 0) {
			/* nothing ahead: the network thread was running */
			assert_int_equal(res->hol_ns, 0);
			assert_int_equal(res->cause_ns[ATTRIB_SOCKET_WAIT][ATTRIB_CAUSE_NET_THREAD],
					 wait);
			assert_int_equal(res->top_cause, CAUSE_JOURNAL);
			assert_int_equal(res->root_cause, CAUSE_JOURNAL);
			assert_int_equal(res->root_corr_id, 0);
			continue;
		}
		assert_int_equal(res->hol_ns, wait);
		assert_int_equal(res->cause_ns[ATTRIB_SOCKET_WAIT][ATTRIB_CAUSE_HOL], wait);
		assert_int_equal(res->hol_corr_id, i - 1);
		assert_int_equal(res->hol_root_cause, CAUSE_JOURNAL);
		assert_int_equal(res->hol_root_phase, ATTRIB_APPEND);
		assert_int_equal(res->hol_root_corr_id, 0);
		assert_int_equal(res->top_cause, ATTRIB_CAUSE_HOL);
		assert_int_equal(res->top_phase, ATTRIB_SOCKET_WAIT);
		assert_int_equal(res->root_cause, CAUSE_JOURNAL);
		assert_int_equal(res->root_corr_id, 0);
	}
	corr_free(c);
	explain_free(rn.t);
}

/* The root composition the header states: own causes, and the
 * head-of-line wait shared out like the previous request's roots (the
 * rounding's rest on its largest root). */
static void expect_composed(const struct attrib_result *res, const struct attrib_result *prev)
{
	int64_t own[ATTRIB_CAUSES] = {0}, total = 0, given = 0, sum = 0;
	unsigned int largest = ATTRIB_CAUSE_UNKNOWN;

	for (int p = 0; p < ATTRIB_PHASES; p++)
		for (int c = 0; c < ATTRIB_CAUSES; c++)
			if (c != ATTRIB_CAUSE_HOL)
				own[c] += res->cause_ns[p][c];
	for (int c = 0; c < ATTRIB_CAUSES; c++)
		total += prev->root_ns[c];
	for (int c = 0; c < ATTRIB_CAUSES; c++) {
		int64_t share =
		    (int64_t)((double)res->hol_ns * (double)prev->root_ns[c] / (double)total);

		own[c] += share;
		given += share;
		if (largest == ATTRIB_CAUSE_UNKNOWN || prev->root_ns[c] > prev->root_ns[largest])
			largest = (unsigned int)c;
	}
	own[largest] += res->hol_ns - given;
	for (int c = 0; c < ATTRIB_CAUSES; c++) {
		assert_int_equal(res->root_ns[c], own[c]);
		sum += res->root_ns[c];
	}
	assert_int_equal(res->root_ns[ATTRIB_CAUSE_HOL], 0);
	assert_int_equal(sum, res->latency_ns);
}

/* A cascade: request 0 stalls X in the journal, request 1 X in the run
 * queue, request 2 not at all. Request 2 waited behind both: its root
 * causes hold each one's X (the chain's head, request 0, would name the
 * journal alone). */
static void test_cascade_roots(void **state)
{
	struct run rn = {0};
	struct corr *c;

	(void)state;
	rn.t = explain_new(NULL, stacks, NULL, on_result, &rn);
	c = corr_new(on_complete, &rn);
	assert_non_null(rn.t);
	assert_non_null(c);
	name(rn.t, INO, "orders-3", "00000000000000000000.log");
	causes(rn.t, 0);
	causes_runq(rn.t, EACH);
	file(rn.t, H1, KLC_SYS_WRITE, INO, BYTES, 2 * EACH + 40, 2 * EACH + 50);
	assert_int_equal(evb_feed(c, evb_conn4(CONN, "127.0.0.1", 4000)), 0);
	for (int32_t i = 0; i < 3; i++)
		request(c, i);
	explain_finish(rn.t);
	assert_int_equal(rn.n, 3);
	assert_int_equal(rn.res[0].root_cause, CAUSE_JOURNAL);
	assert_int_equal(rn.res[1].top_cause, ATTRIB_CAUSE_HOL);
	expect_composed(&rn.res[1], &rn.res[0]);
	expect_composed(&rn.res[2], &rn.res[1]);
	/* each X but the few µs of request 2's own arrival after them */
	assert_true(rn.res[2].root_ns[CAUSE_JOURNAL] >= X * 1000 - 10000);
	assert_true(rn.res[2].root_ns[CAUSE_RUNQ] >= X * 1000 - 10000);
	assert_int_equal(rn.res[2].hol_root_corr_id, 0);
	assert_int_equal(rn.res[2].root_corr_id, 0);
	corr_free(c);
	explain_free(rn.t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipelined_stalls),
	    cmocka_unit_test(test_cascade_roots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
