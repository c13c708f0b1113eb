// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The request pipeline: socket and cause records in, every output of a run
 * out, and a run's dump fed back in gives the same outputs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafkalat/evdump.h"
#include "kafkalat/pipeline.h"

#define SCENARIO_SINK struct pipeline
#define SCENARIO_FEED pipeline_cause_record
#include "events_builder.h"
#include "explain_scenario.h"
#include "sink.h"

#define CONN	1
#define WALL_NS (3600 * 1000000000ll) /* realtime - monotonic */

/* One socket record, as the probe's ring hands it over. */
#define SOCK(p, ev)                                                                \
	do {                                                                       \
		__typeof__(ev) e_ = (ev);                                          \
		assert_int_equal(pipeline_socket_record((p), &e_, sizeof(e_)), 0); \
	} while (0)

struct run {
	struct sink out, file[PIPELINE_FILES];
	struct pipeline *p;
};

static void start(struct run *r, bool causes, bool json, double slower_ms, bool dump)
{
	struct pipeline_config cfg = {
	    .out = sink_open(&r->out),
	    .json = json,
	    .slower_ms = slower_ms,
	    .causes = causes,
	    .stack_fn = stacks,
	    .file[PIPELINE_REQUESTS] = sink_open(&r->file[PIPELINE_REQUESTS]),
	    .file[PIPELINE_FOLDED] = sink_open(&r->file[PIPELINE_FOLDED])};

	if (dump)
		cfg.file[PIPELINE_DUMP] = sink_open(&r->file[PIPELINE_DUMP]);
	r->p = pipeline_new(&cfg);
	assert_non_null(r->p);
	pipeline_clock(r->p, WALL_NS);
}

/* The socket records of explain_scenario.h's request: partition 3 of
 * "orders", read and answered by NET. */
static void produce_at(struct pipeline *p, int32_t corr, double arrival, double base, double stall)
{
	struct klt_frame_event rq = evb_produce(CONN, corr, 1, US(base), US(base + 10));
	struct klt_frame_event rs =
	    evb_response(CONN, corr, US(base + 70 + stall), US(base + 80 + stall));

	evb_produce_totals(&rq, 1, 1, BYTES, 1);
	evb_wire(&rq, US(arrival), US(arrival));
	evb_wire(&rs, 0, US(base + 80 + stall));
	rq.tid_first = rq.tid_last = NET;
	rs.tid_first = rs.tid_last = NET;
	SOCK(p, evb_topic(CONN, 0, "orders"));
	SOCK(p, evb_part(CONN, 0, 3, BYTES, 1));
	SOCK(p, rq);
	SOCK(p, rs);
}

/* On the wire exactly while in the broker. */
static void produce(struct pipeline *p, int32_t corr, double base, double stall)
{
	produce_at(p, corr, base, base, stall);
}

/* Ends the run; the streams' texts are in r->out.buf and r->file[].buf. */
static void end(struct run *r)
{
	struct evdump_stats lost = {.cause_lost = 2, .stack_errors = 1};
	struct report_run run = {.duration_s = 1.5};

	snprintf(run.comm, sizeof(run.comm), "test");
	pipeline_end(r->p, &lost);
	pipeline_summary(r->p, &run);
	sink_text(&r->out);
	for (int f = 0; f < PIPELINE_FILES; f++)
		if (r->file[f].out)
			sink_text(&r->file[f]);
	for (int f = 0; f < PIPELINE_FILES; f++)
		assert_int_equal(pipeline_file_error(r->p, (enum pipeline_file)f), 0);
	assert_int_equal(pipeline_error(r->p), 0);
}

static void done(struct run *r)
{
	pipeline_free(r->p);
	free(r->out.buf);
	for (int f = 0; f < PIPELINE_FILES; f++)
		free(r->file[f].buf);
}

static int lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* A request held in the journal for 200 ms and a fast one behind it. */
static void journal_run(struct run *r, bool dump)
{
	start(r, true, true, 100, dump);
	SOCK(r->p, evb_conn4(CONN, "127.0.0.1", 4000));
	name(r->p, INO, "orders-3", "00000000000000000000.log");
	request_causes(r->p, 0, 200 * MS, 1);
	produce(r->p, 1, 0, 200 * MS);
	request_causes(r->p, 500 * MS, 0, -1);
	produce(r->p, 2, 500 * MS, 0);
}

static void test_attributed(void **state)
{
	struct run r = {0};
	const char *req, *out;

	(void)state;
	journal_run(&r, false);
	/* held until the clock is 300 ms past the end */
	assert_int_equal(pipeline_advance(r.p, US(200 * MS + 80 + 299 * MS), 100), 0);
	assert_int_equal(pipeline_advance(r.p, US(200 * MS + 80 + 300 * MS), 100), 1);
	end(&r);
	req = r.file[PIPELINE_REQUESTS].buf;
	out = r.out.buf;
	/* both attributed, in completion order; the slow one's stack on both
	 * of its lines (docs/json.md), the fast one's on neither */
	assert_int_equal(lines(req), 2);
	assert_contains(req, "\"corr\":1,");
	assert_true(strstr(req, "\"corr\":1,") < strstr(req, "\"corr\":2,"));
	assert_contains(req, "\"handler_tid\":201");
	assert_contains(req, "\"top_cause\":\"journal\"");
	assert_contains(strstr(req, "\"corr\":1,"), "\"stack\":[\"__schedule\"");
	assert_null(strstr(strstr(req, "\"corr\":2,"), "\"stack\""));
	/* one slow line, then the summary with the tail composition */
	assert_int_equal(lines(out), 2);
	assert_true(!strncmp(out, "{\"schema\":\"kafkalat/2\",\"type\":\"slow\"", 36));
	assert_contains(out, "\"stack\":[\"__schedule\"");
	assert_contains(out, "\"type\":\"summary\"");
	assert_contains(out, "\"produce\":{\"requests\":2,");
	assert_contains(out, "\"attribution\":{\"requests\":2,");
	assert_contains(out, "\"lost_events\":2,\"stack_errors\":1,\"file_events\":\"raw\"");
	assert_contains(out, "\"ge_p99\":{\"requests\":1,");
	/* the slow request's journal wait, folded */
	assert_int_equal(pipeline_folded_lines(r.p), lines(r.file[PIPELINE_FOLDED].buf));
	assert_true(pipeline_folded_lines(r.p) >= 1);
	assert_contains(r.file[PIPELINE_FOLDED].buf, "wait_transaction_locked;");
	done(&r);
}

/* A request that arrived with the stalled one waits in the socket behind
 * it: its --slower line and its --requests line say behind which and why. */
static void test_head_of_line(void **state)
{
	struct run r = {0};
	const char *req, *out, *second;
	double b2 = 200 * MS + 80;

	(void)state;
	start(&r, true, false, 100, false);
	SOCK(r.p, evb_conn4(CONN, "127.0.0.1", 4000));
	name(r.p, INO, "orders-3", "00000000000000000000.log");
	request_causes(r.p, 0, 200 * MS, 1);
	produce_at(r.p, 1, 0, 0, 200 * MS);
	file(r.p, H1, KLC_SYS_WRITE, INO, BYTES, b2 + 40, b2 + 50);
	produce_at(r.p, 2, 1, b2, 0);
	end(&r);
	req = r.file[PIPELINE_REQUESTS].buf;
	out = r.out.buf;
	second = strstr(req, "\"corr\":2,");
	assert_non_null(second);
	/* request 1 waited behind nothing: the first hol object is request 2's */
	assert_true(strstr(req, "\"hol\":{") > second);
	assert_contains(second, "\"wire\":\"known\",\"flow_blocked_us\":0,"
				"\"latency_us\":200159,\"broker_latency_us\":80,");
	assert_contains(second, "\"top_cause\":\"hol\",\"top_phase\":\"socket_wait\","
				"\"top_us\":200079,");
	/* its own 80 us on a CPU, and its wait shared out like request 1's
	 * causes (200 080 us of them) */
	assert_contains(second, "\"root_cause\":\"journal\",\"root_corr\":1,\"root_causes_us\":{"
				"\"cpu\":135.999,\"runq\":3.999,\"journal\":199998.003,"
				"\"queued\":20.999},\"hol\":{"
				"\"us\":200079,\"behind_corr\":1,\"root_cause\":\"journal\","
				"\"root_phase\":\"append\",\"root_corr\":1}");
	assert_contains(out, "    top cause hol 200ms in socket_wait\n"
			     "    waited 200ms in the socket behind corr 1, root cause journal in "
			     "append of corr 1\n");
	done(&r);
}

static void test_no_causes(void **state)
{
	struct run r = {0};
	struct klc_futex_event f = {.type = KLC_EV_FUTEX, .tid = H1};
	struct klt_frame_event metadata_req = evb_request(CONN, 2, 3, 12, US(100), US(101));
	struct klt_frame_event metadata_resp = evb_response(CONN, 2, US(150), US(160));
	const char *out;

	(void)state;
	evb_wire(&metadata_req, US(100), US(100));
	evb_wire(&metadata_resp, 0, US(160));
	start(&r, false, false, 0, false);
	SOCK(r.p, evb_conn4(CONN, "127.0.0.1", 4000));
	/* without causes, their records and topic ids are not looked at */
	assert_int_equal(pipeline_cause_record(r.p, &f, 3), 0);
	assert_int_equal(pipeline_topic_id(r.p, (const uint8_t *)"0123456789abcdef", "t"), 0);
	produce(r.p, 1, 0, 0);
	SOCK(r.p, metadata_req);
	SOCK(r.p, metadata_resp);
	pipeline_interval(r.p, 0, 1.0, "12:00:00");
	pipeline_interval(r.p, 0, 1.0, "12:00:01");
	assert_int_equal(pipeline_advance(r.p, US(10000 * MS), 100), 0);
	end(&r);
	out = r.out.buf;
	/* the Produce request at once, unattributed; Metadata is not a line */
	assert_int_equal(lines(r.file[PIPELINE_REQUESTS].buf), 1);
	assert_null(strstr(r.file[PIPELINE_REQUESTS].buf, "\"attrib\""));
	assert_true(!strncmp(out, "TIME             CLIENT", 23));
	assert_contains(out, "\n01:16:40.000080  127.0.0.1:4000        producer-1       orders-3");
	/* each interval counts its own requests */
	assert_contains(out, "12:00:00  Produce                1.0    80.0us");
	assert_contains(out, "\n          Metadata               1.0    60.0us");
	assert_contains(out, "12:00:01  Produce                0.0         -");
	assert_int_equal(strstr(strstr(out, "12:00:01"), "Metadata") - out,
			 strstr(strstr(out, "Summary"), "Metadata") - out);
	assert_null(strstr(out, "Why the tail is slow"));
	assert_int_equal(pipeline_folded_lines(r.p), -1);
	assert_string_equal(r.file[PIPELINE_FOLDED].buf, "");
	done(&r);
}

/* A connection of process tgid to the broker's port. */
static struct klt_conn_event conn_of(uint64_t id, uint16_t port, uint32_t tgid)
{
	struct klt_conn_event e = evb_conn4(id, "127.0.0.1", port);

	e.tgid = tgid;
	return e;
}

/* --follow: a request the first life's exit left waiting is unmatched
 * (closed) and its correlation id's response in the next life matches
 * nothing; each life counts its own requests, intervals their gap. */
static void test_follow(void **state)
{
	struct run r = {0};
	struct pipeline_config cfg = {
	    .out = sink_open(&r.out), .json = true, .slower_ms = -1, .follow = true};
	struct report_run run = {.duration_s = 0.005};
	struct evdump_stats lost = {0};
	const char *out;

	(void)state;
	r.p = pipeline_new(&cfg);
	assert_non_null(r.p);
	pipeline_clock(r.p, WALL_NS);
	pipeline_record_begin(r.p, US(0));
	assert_int_equal(pipeline_broker_attached(r.p, US(0), 0, 100), 0);
	SOCK(r.p, conn_of(CONN, 4000, 100));
	produce(r.p, 1, 0, 0);
	SOCK(r.p, evb_produce(CONN, 2, 1, US(500), US(510)));
	assert_int_equal(pipeline_broker_exited(r.p, US(1000), 0, 100, false), 1);
	pipeline_interval(r.p, US(2000), 0.002, "12:00:00");
	assert_int_equal(pipeline_broker_attached(r.p, US(3000), 0, 200), 0);
	SOCK(r.p, conn_of(CONN, 4001, 200));
	SOCK(r.p, evb_response(CONN, 2, US(3100), US(3110)));
	produce(r.p, 3, 3200, 0);
	pipeline_interval(r.p, US(4000), 0.002, "12:00:02");
	pipeline_interval(r.p, US(6000), 0.002, "12:00:04");
	pipeline_end(r.p, &lost);
	pipeline_summary(r.p, &run);
	sink_text(&r.out);
	out = r.out.buf;
	assert_contains(out, "\"time\":\"12:00:00\",\"interval_s\":0.002,\"broker_pids\":[100],"
			     "\"gap\":true,\"gap_s\":0.001,\"produce\":{\"requests\":1,");
	assert_contains(out, "\"time\":\"12:00:02\",\"interval_s\":0.002,\"broker_pids\":[200],"
			     "\"gap\":true,\"gap_s\":0.001,\"produce\":{\"requests\":1,");
	assert_contains(out, "\"time\":\"12:00:04\",\"interval_s\":0.002,\"broker_pids\":[200],"
			     "\"gap\":false,\"gap_s\":0,");
	assert_contains(out,
			"\"lives\":[{\"broker\":1,\"pids\":[100],\"start_s\":0,\"end_s\":0.001,"
			"\"requests\":1,\"produce_requests\":1,\"records\":1,"
			"\"exit_unmatched\":1},{\"broker\":1,\"pids\":[200],\"start_s\":0.003,"
			"\"end_s\":null,\"requests\":1,\"produce_requests\":1,\"records\":1,"
			"\"exit_unmatched\":0}],\"gaps\":{\"count\":1,\"total_s\":0.002}");
	assert_contains(out, "\"unmatched\":{\"requests\":1,\"reasons\":{\"closed\":1},"
			     "\"responses\":1}");
	assert_null(strstr(out, "broker_gap_s"));
	done(&r);
}

/* --follow with two brokers, the first restarted: its exit at 1 ms ends
 * its connections alone (its waiting request unmatched, closed); the
 * second's request waiting across that exit is answered and counted in
 * its own life; the first's next process comes at 3 ms. */
static const char *one_of_two(struct run *r, bool json)
{
	struct pipeline_config cfg = {
	    .out = sink_open(&r->out), .json = json, .slower_ms = -1, .follow = true};
	struct report_run run = {.duration_s = 0.005};
	struct evdump_stats lost = {0};

	r->p = pipeline_new(&cfg);
	assert_non_null(r->p);
	pipeline_clock(r->p, WALL_NS);
	pipeline_record_begin(r->p, US(0));
	assert_int_equal(pipeline_broker_attached(r->p, US(0), 0, 100), 0);
	assert_int_equal(pipeline_broker_attached(r->p, US(0), 1, 300), 0);
	SOCK(r->p, conn_of(CONN, 4000, 100));
	SOCK(r->p, conn_of(7, 4100, 300));
	SOCK(r->p, evb_produce(CONN, 1, 1, US(500), US(510)));
	SOCK(r->p, evb_produce(7, 1, 1, US(600), US(610)));
	/* an exit that names neither connection's process ends neither */
	assert_int_equal(pipeline_broker_exited(r->p, US(900), 2, 999, true), 0);
	assert_int_equal(pipeline_broker_exited(r->p, US(1000), 0, 100, true), 1);
	SOCK(r->p, evb_response(7, 1, US(1500), US(1510)));
	pipeline_interval(r->p, US(2000), 0.002, "12:00:00");
	assert_int_equal(pipeline_broker_attached(r->p, US(3000), 0, 200), 0);
	SOCK(r->p, conn_of(8, 4001, 200));
	SOCK(r->p, evb_produce(8, 1, 1, US(3100), US(3110)));
	SOCK(r->p, evb_response(8, 1, US(3200), US(3210)));
	pipeline_interval(r->p, US(4000), 0.002, "12:00:02");
	pipeline_end(r->p, &lost);
	pipeline_summary(r->p, &run);
	return sink_text(&r->out);
}

/* Each interval says whose gap it holds, each life its broker. */
static void test_follow_one_of_two(void **state)
{
	struct run r = {0};
	const char *out = one_of_two(&r, true);

	(void)state;
	assert_contains(out, "\"time\":\"12:00:00\",\"interval_s\":0.002,"
			     "\"broker_pids\":[100,300],\"gap\":true,\"gap_s\":0.001,"
			     "\"broker_gap_s\":[0.001,0],\"produce\":{\"requests\":1,");
	assert_contains(out, "\"time\":\"12:00:02\",\"interval_s\":0.002,"
			     "\"broker_pids\":[300,200],\"gap\":true,\"gap_s\":0.001,"
			     "\"broker_gap_s\":[0.001,0],\"produce\":{\"requests\":1,");
	assert_contains(out,
			"\"lives\":[{\"broker\":1,\"pids\":[100],\"start_s\":0,\"end_s\":0.001,"
			"\"requests\":0,\"produce_requests\":0,\"records\":0,"
			"\"exit_unmatched\":1},{\"broker\":2,\"pids\":[300],\"start_s\":0,"
			"\"end_s\":null,\"requests\":1,\"produce_requests\":1,\"records\":0,"
			"\"exit_unmatched\":0},{\"broker\":1,\"pids\":[200],\"start_s\":0.003,"
			"\"end_s\":null,\"requests\":1,\"produce_requests\":1,\"records\":0,"
			"\"exit_unmatched\":0}],\"gaps\":{\"count\":1,\"total_s\":0.002}");
	assert_contains(out, "\"unmatched\":{\"requests\":1,\"reasons\":{\"closed\":1},"
			     "\"responses\":0}");
	done(&r);
}

static void test_follow_one_of_two_text(void **state)
{
	struct run r = {0};
	const char *out = one_of_two(&r, false);

	(void)state;
	assert_contains(out, "  gap: broker 1 not attached for 0.001 s\n"
			     "          pids traced: 100,300\n");
	assert_contains(out, "  life 1: broker 1 pid 100, 0.000 s to 0.001 s: 0 requests "
			     "completed, 0 produce (0 records), 1 left unanswered by its exit\n"
			     "  gap: broker 1 not attached from 0.001 s to 0.003 s (0.002 s)\n"
			     "  life 2: broker 2 pid 300, 0.000 s to 0.005 s (still running): 1 "
			     "requests completed, 1 produce (0 records)\n"
			     "  life 3: broker 1 pid 200, 0.003 s to 0.005 s (still running)");
	assert_null(strstr(out, "no broker attached"));
	done(&r);
}

/* The replay's feeding, as src/cmd/replay.c does it. */
struct replayed {
	struct pipeline *p;
	struct evdump_stats lost;
	int kinds[EVDUMP_KIND_MAX + 1];
	struct evdump_run run;
	int first_kind;
};

/* The kinds of a dump and its run record, without feeding a pipeline. */
static int count_kinds(void *ctx, enum evdump_kind kind, const void *data, size_t len)
{
	struct replayed *rp = ctx;

	if (!rp->first_kind)
		rp->first_kind = kind;
	rp->kinds[kind]++;
	if (kind == EVDUMP_RUN && len == sizeof(rp->run))
		memcpy(&rp->run, data, sizeof(rp->run));
	return 0;
}

static int feed_back(void *ctx, enum evdump_kind kind, const void *data, size_t len)
{
	struct replayed *rp = ctx;

	count_kinds(ctx, kind, data, len);
	if (kind == EVDUMP_SOCKET)
		assert_int_equal(pipeline_socket_record(rp->p, data, len), 0);
	else if (kind == EVDUMP_CAUSE)
		assert_int_equal(pipeline_cause_record(rp->p, data, len), 0);
	else if (kind == EVDUMP_STATS)
		memcpy(&rp->lost, data, sizeof(rp->lost));
	return 0;
}

static void test_replay_reproduces(void **state)
{
	struct run live = {0}, again = {0};
	struct replayed rp = {0};
	size_t bad;

	(void)state;
	journal_run(&live, true);
	assert_int_equal(pipeline_advance(live.p, US(2000 * MS), 100), 2);
	end(&live);
	/* the records as fed, the stacks as named, the clock first, the losses */
	start(&again, true, true, 100, false);
	rp.p = again.p;
	assert_int_equal(evdump_read(live.file[PIPELINE_DUMP].buf, live.file[PIPELINE_DUMP].len,
				     feed_back, &rp, &bad),
			 0);
	assert_int_equal(rp.first_kind, EVDUMP_RUN);
	assert_int_equal(rp.kinds[EVDUMP_RUN], 1);
	assert_int_equal(rp.run.causes, 1);
	assert_int_equal(rp.run.futex_from_offcpu, 0);
	assert_int_equal(rp.kinds[EVDUMP_CLOCK], 1);
	assert_int_equal(rp.kinds[EVDUMP_SOCKET], 1 + 2 * 4);
	assert_int_equal(rp.kinds[EVDUMP_CAUSE], 1 + 5 + 4);
	assert_int_equal(rp.kinds[EVDUMP_STACK], 2); /* journal and futex; -1 is none */
	assert_int_equal(rp.kinds[EVDUMP_STATS], 1);
	assert_int_equal(rp.lost.cause_lost, 2);
	/* the same pipeline, the same outputs */
	assert_int_equal(pipeline_advance(again.p, US(2000 * MS), 100), 2);
	end(&again);
	assert_string_equal(again.out.buf, live.out.buf);
	for (int f = PIPELINE_REQUESTS; f <= PIPELINE_FOLDED; f++)
		assert_string_equal(again.file[f].buf, live.file[f].buf);
	done(&live);
	done(&again);
}

/* The dump says how the run traced even where its records cannot: a run
 * with causes that saw no cause record, and a run without causes. */
static void test_dump_says_how_traced(void **state)
{
	for (int causes = 0; causes <= 1; causes++) {
		struct run live = {0};
		struct replayed rp = {0};
		size_t bad;

		start(&live, causes, false, -1, true);
		produce(live.p, 7, 1000, 0);
		end(&live);
		assert_int_equal(evdump_read(live.file[PIPELINE_DUMP].buf,
					     live.file[PIPELINE_DUMP].len, count_kinds, &rp, &bad),
				 0);
		assert_int_equal(rp.kinds[EVDUMP_CAUSE], 0);
		assert_int_equal(rp.kinds[EVDUMP_RUN], 1);
		assert_int_equal(rp.first_kind, EVDUMP_RUN);
		assert_int_equal(rp.run.causes, causes);
		done(&live);
	}
	(void)state;
}

#define FCONN  2    /* replica 2's fetch connection on the leader */
#define LEADER 4242 /* every connection's broker (events_builder.h) */
#define F2     6002 /* replica 2's broker */
#define F2W    601  /* its fetcher thread */
#define INO2   4343 /* its segment of orders-3 */

static void thread_of(struct pipeline *p, uint32_t tid, uint32_t tgid)
{
	struct klc_thread_event e = {.type = KLC_EV_THREAD, .tid = tid, .tgid = tgid};

	feed(p, &e, sizeof(e));
}

static void batch_of(struct pipeline *p, uint32_t tid, double t_start, int64_t base, int64_t last)
{
	struct klc_batch_event e = {.type = KLC_EV_BATCH,
				    .tid = tid,
				    .t_start_ns = US(t_start),
				    .base_offset = base,
				    .last_offset = last,
				    .batches = 1,
				    .fd = 9};

	feed(p, &e, sizeof(e));
}

/* Replica 2's Fetch of orders-3 from offset, read at t. */
static void follower_fetch(struct pipeline *p, int32_t corr, int64_t offset, double t)
{
	struct klt_topic_event tp = evb_topic(FCONN, 0, "orders");
	struct klt_fetch_part_event fp = {.type = KLT_EV_FETCH_PART,
					  .conn_id = FCONN,
					  .topic_idx = 0,
					  .partition = 3,
					  .fetch_offset = offset,
					  .replica_id = 2};
	struct klt_frame_event rq = evb_request(FCONN, corr, 1, 12, US(t - 1), US(t));

	tp.flags |= KLT_TOPIC_FETCH;
	rq.flags |= KLT_FRAME_FETCH_PARSED;
	rq.ntopics = 1;
	rq.nparts = 1;
	evb_wire(&rq, US(t - 2), US(t - 2)); /* it waited in the socket: the read counts */
	SOCK(p, tp);
	SOCK(p, fp);
	SOCK(p, rq);
}

/* acks=all: the leader writes offsets 100..109 at 40..50; replica 2, whose
 * broker is known, fetches from 100 at 20, appends the batch 52..58 and
 * fetches from 110 at 60: replication 50..60, response_queue 60..70. */
static void replicated_run(struct run *r)
{
	struct klt_frame_event rq = evb_produce(CONN, 1, -1, US(0), US(10));
	struct klt_frame_event rs = evb_response(CONN, 1, US(70), US(80));

	start(r, true, true, -1, true);
	SOCK(r->p, evb_conn4(CONN, "127.0.0.1", 4000));
	SOCK(r->p, evb_conn4(FCONN, "127.0.0.1", 41000));
	assert_int_equal(pipeline_note_peer(r->p, FCONN, F2), 0);
	thread_of(r->p, H1, LEADER);
	thread_of(r->p, NET, LEADER);
	thread_of(r->p, F2W, F2);
	name(r->p, INO, "orders-3", "00000000000000000000.log");
	name(r->p, INO2, "orders-3", "00000000000000000000.log");
	follower_fetch(r->p, 1, 100, 20);
	batch_of(r->p, H1, 40, 100, 109);
	request_causes(r->p, 0, 0, -1);
	batch_of(r->p, F2W, 52, 100, 109);
	file(r->p, F2W, KLC_SYS_WRITE, INO2, BYTES, 52, 58);
	follower_fetch(r->p, 2, 110, 60);
	evb_produce_totals(&rq, 1, 1, BYTES, 10);
	evb_wire(&rq, US(0), US(0));
	evb_wire(&rs, 0, US(80));
	rq.tid_first = rq.tid_last = NET;
	rs.tid_first = rs.tid_last = NET;
	SOCK(r->p, evb_topic(CONN, 0, "orders"));
	SOCK(r->p, evb_part(CONN, 0, 3, BYTES, 10));
	SOCK(r->p, rq);
	SOCK(r->p, rs);
	assert_int_equal(pipeline_advance(r->p, US(2000 * MS), 100), 1);
	end(r);
}

/* Through the pipeline: the follower fetches fed as read, the peer, the
 * batch offsets and the follower's thread give the split; a replay of the
 * dump (its KLT_EV_PEER record included) gives the same outputs. */
static void test_replication_split(void **state)
{
	struct run live = {0}, again = {0};
	struct replayed rp = {0};
	const char *req;
	size_t bad;

	(void)state;
	replicated_run(&live);
	req = live.file[PIPELINE_REQUESTS].buf;
	assert_contains(req, "\"phases_us\":{\"recv\":0,\"socket_wait\":0,\"read\":10,"
			     "\"queue\":22,\"lock\":8,\"append\":10,\"replication\":10,"
			     "\"response_queue\":10,\"send\":10,\"send_queue\":0}");
	assert_contains(req, "\"release\":{\"replica\":2,\"tgid\":6002,"
			     "\"t_release_ns\":1000000060000,\"follower_append_us\":6}");
	assert_contains(live.out.buf, "\"replication\":{\"requests\":1,\"released\":1,");
	assert_contains(live.out.buf, "{\"leader_pid\":4242,\"replica\":2,\"follower_pid\":6002,"
				      "\"batches\":1,\"released\":1,");
	start(&again, true, true, -1, false);
	rp.p = again.p;
	assert_int_equal(evdump_read(live.file[PIPELINE_DUMP].buf, live.file[PIPELINE_DUMP].len,
				     feed_back, &rp, &bad),
			 0);
	assert_int_equal(pipeline_advance(again.p, US(2000 * MS), 100), 1);
	end(&again);
	assert_string_equal(again.out.buf, live.out.buf);
	assert_string_equal(again.file[PIPELINE_REQUESTS].buf, live.file[PIPELINE_REQUESTS].buf);
	done(&live);
	done(&again);
}

/* The replay has no clock: the newest end of request stands for it. */
static void test_clock_from_records(void **state)
{
	struct sink req;
	struct pipeline_config cfg = {
	    .causes = true, .clock_from_records = true, .file[PIPELINE_REQUESTS] = sink_open(&req)};
	struct pipeline *p = pipeline_new(&cfg);
	uint64_t first, last;

	(void)state;
	SOCK(p, evb_conn4(CONN, "127.0.0.1", 4000));
	produce(p, 1, 0, 0);
	produce(p, 2, 100 * MS, 0);
	fflush(req.out);
	assert_int_equal(req.len, 0);
	/* the third ends 300 ms after the first: that one goes */
	produce(p, 3, 300 * MS, 0);
	fflush(req.out);
	assert_int_equal(lines(req.buf), 1);
	assert_contains(req.buf, "\"corr\":1,");
	pipeline_span(p, &first, &last);
	assert_int_equal(first, US(0));
	assert_int_equal(last, US(300 * MS + 80));
	pipeline_end(p, &(struct evdump_stats){0});
	assert_int_equal(lines(sink_text(&req)), 3);
	free(req.buf);
	pipeline_free(p);
}

/* A symboliser that claims more frames than asked for, some of them NULL
 * (the explainer passes over both, found by fuzz_pipeline). */
static int sloppy_stacks(void *ctx, int32_t id, const char **frames, int max)
{
	(void)ctx;
	(void)id;
	for (int i = 0; i < max; i++)
		frames[i] = i % 2 ? NULL : journal_stack[i / 2 % 17];
	return max + 8;
}

struct dumped_stack {
	int n;
	const char *frames[EVDUMP_MAX_FRAMES];
};

static int find_stack(void *ctx, enum evdump_kind kind, const void *data, size_t len)
{
	struct dumped_stack *ds = ctx;
	int32_t id;

	if (kind == EVDUMP_STACK)
		ds->n = evdump_parse_stack(data, len, &id, ds->frames, EVDUMP_MAX_FRAMES);
	return 0;
}

/* The dump holds the frames the explainer used: as many as asked for, the
 * NULL ones dropped. */
static void test_sloppy_symboliser(void **state)
{
	struct sink dump;
	struct pipeline_config cfg = {.causes = true, .stack_fn = sloppy_stacks};
	struct dumped_stack ds = {.n = -1};
	struct pipeline *p;
	size_t bad;

	(void)state;
	cfg.file[PIPELINE_DUMP] = sink_open(&dump);
	p = pipeline_new(&cfg);
	assert_non_null(p);
	offcpu(p, H1, 0, 100, 90, 1, 1, 77, "jbd2/loop3-8");
	pipeline_end(p, &(struct evdump_stats){0});
	sink_text(&dump);
	assert_int_equal(evdump_read(dump.buf, dump.len, find_stack, &ds, &bad), 0);
	assert_int_equal(ds.n, KLC_MAX_STACK / 2);
	for (int i = 0; i < ds.n; i++)
		assert_string_equal(ds.frames[i], journal_stack[i % 17]);
	pipeline_free(p);
	free(dump.buf);
}

/* A stream that cannot be written is told, not hidden. */
static void test_file_error(void **state)
{
	FILE *full = fopen("/dev/full", "w");
	struct pipeline_config cfg = {.slower_ms = -1};
	struct pipeline *p;

	(void)state;
	if (!full)
		skip();
	cfg.file[PIPELINE_DUMP] = full;
	p = pipeline_new(&cfg);
	assert_non_null(p);
	SOCK(p, evb_conn4(CONN, "127.0.0.1", 4000));
	produce(p, 1, 0, 0);
	pipeline_end(p, &(struct evdump_stats){0});
	pipeline_summary(p, &(struct report_run){0});
	assert_int_equal(pipeline_file_error(p, PIPELINE_DUMP), -ENOSPC);
	assert_int_equal(pipeline_file_error(p, PIPELINE_REQUESTS), 0);
	pipeline_free(p);
	fclose(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_attributed),
	    cmocka_unit_test(test_head_of_line),
	    cmocka_unit_test(test_no_causes),
	    cmocka_unit_test(test_follow),
	    cmocka_unit_test(test_follow_one_of_two),
	    cmocka_unit_test(test_follow_one_of_two_text),
	    cmocka_unit_test(test_replay_reproduces),
	    cmocka_unit_test(test_replication_split),
	    cmocka_unit_test(test_dump_says_how_traced),
	    cmocka_unit_test(test_clock_from_records),
	    cmocka_unit_test(test_file_error),
	    cmocka_unit_test(test_sloppy_symboliser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
