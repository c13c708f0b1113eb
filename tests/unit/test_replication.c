// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Replication: follower fetches, the release of acks=all batches, and the
 * split of post_append into replication and response_queue. Times in
 * microseconds from T. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kafkalat/attrib.h"
#include "kafkalat/bands.h"
#include "kafkalat/replication.h"
#include "kafkalat/report_tail.h"
#include "kafkalat/report_repl.h"
#include "attrib_sums.h"
#include "produce_req.h"
#include "sink.h"

#define T	    1000000000000ull /* 1000 s */
#define US(x)	    ((uint64_t)((double)T + (x)*1000.0))
#define MS	    1000 /* in US() units */
#define LEADER	    5000 /* tgid */
#define NET	    100
#define H1	    201
#define H2	    202
#define F1	    6001 /* replica 1's broker */
#define F2	    6002 /* replica 2's broker */
#define F2W	    601	 /* replica 2's fetcher thread: its appends */
#define CONN1	    11	 /* the followers' fetch connections on the leader */
#define CONN2	    12
#define TOPIC	    "orders"
#define PHASE(p)    (res.phase_ns[ATTRIB_##p])
#define CAUSE(p, c) (res.cause_ns[ATTRIB_##p][c])

static uint32_t tgid_of(const void *ctx, uint32_t tid)
{
	(void)ctx;
	return tid == F2W ? F2 : tid == NET || tid == H1 || tid == H2 ? LEADER : 0;
}

static void fetch(struct repl *r, int32_t replica, int64_t offset, double t)
{
	assert_int_equal(repl_add_fetch(r, LEADER, replica == 1 ? CONN1 : CONN2, replica, TOPIC, 0,
					offset, US(t)),
			 0);
}

static void off(struct attrib *a, uint32_t tid, double t_off, double t_on, double wake,
		enum cause cause)
{
	struct attrib_offcpu o = {
	    .tid = tid,
	    .t_off = US(t_off),
	    .t_on = US(t_on),
	    .t_wakeup = wake > 0 ? US(wake) : 0,
	    .blocked = wake >= 0,
	    .cause = cause,
	    .stack_id = -1,
	};

	assert_int_equal(attrib_add_offcpu(a, &o), 0);
}

/* A write of offsets base..last by producer pid's batch from sequence seq. */
static void write_id(struct attrib *a, uint32_t tid, int64_t base, int64_t last, int64_t pid,
		     int32_t seq, double t0, double t1)
{
	struct attrib_append w = {.tid = tid,
				  .topic = TOPIC,
				  .partition = 0,
				  .bytes = 1000,
				  .t_start = US(t0),
				  .t_end = US(t1),
				  .base_offset = base,
				  .last_offset = last,
				  .producer_id = pid,
				  .base_sequence = seq};

	assert_int_equal(attrib_add_write(a, &w), 0);
}

static void write_at(struct attrib *a, uint32_t tid, int64_t base, int64_t last, double t0,
		     double t1)
{
	write_id(a, tid, base, last, -1, -1, t0, t1);
}

struct world {
	struct attrib *a;
	struct repl *r;
	struct req q;
};

/* An attribution with replication, its threads' brokers known. */
static void world_new(struct world *w)
{
	w->a = attrib_new(NULL);
	w->r = repl_new(NULL);
	assert_non_null(w->a);
	assert_non_null(w->r);
	attrib_set_tgid_fn(w->a, tgid_of, NULL);
	attrib_set_replication(w->a, w->r);
}

/*
 * The leader: NET reads the request 0..10; H1, parked since -100 ms, is
 * woken at 30, runs at 31 (futex returns at 32) and writes offsets 100..109
 * 40..50, then parks. The response waits in the purgatory; NET sleeps
 * 12..850 (woken 845) and writes it 900..910. Replica 1 fetches from 100
 * at 20, from 110 at 300; replica 2 from 100 at 25, from 105 at 400, from
 * 110 at 800: it releases the batch.
 */
static void world_init(struct world *w, int64_t last_offset)
{
	world_new(w);
	assert_int_equal(attrib_add_futex(w->a, H1, US(-100 * MS), US(32)), 0);
	off(w->a, H1, -100 * MS, 31, 30, CAUSE_FUTEX);
	write_at(w->a, H1, 100, last_offset, 40, 50);
	assert_int_equal(attrib_add_futex(w->a, H1, US(56), US(300 * MS)), 0);
	off(w->a, NET, 12, 850, 845, CAUSE_OTHER);
	fetch(w->r, 1, 100, 20);
	fetch(w->r, 2, 100, 25);
	fetch(w->r, 1, 110, 300);
	fetch(w->r, 2, 105, 400);
	fetch(w->r, 2, 110, 800);
	produce_req_init(&w->q, NET, US(0), US(10), US(900), US(910));
	produce_req_part(&w->q, 0, 1000);
	w->q.parts[0].records = 10;
	w->q.r.acks = -1;
	w->q.r.corr_id = 7;
}

static void world_free(struct world *w)
{
	attrib_free(w->a);
	repl_free(w->r);
}

static void run(struct world *w, struct attrib_result *res)
{
	assert_int_equal(attrib_request(w->a, &w->q.r, res), ATTRIB_MATCHED);
	attrib_check_sums(res);
}

/* A follower's fetcher writing the same batch (same size, same partition)
 * earlier than the leader's handler is another broker's thread: the
 * request on the leader's connection is the leader's handler's. */
static void test_follower_write_not_leader(void **state)
{
	struct world w;
	struct attrib_result res;

	(void)state;
	world_init(&w, 109);
	write_at(w.a, F2W, 100, 109, 15, 18);
	/* parked right after: an earlier hand-off bound than H1's */
	assert_int_equal(attrib_add_futex(w.a, F2W, US(19), US(300 * MS)), 0);
	w.q.r.tgid = LEADER;
	run(&w, &res);
	assert_int_equal(res.handler, H1);
	assert_true(res.released);
	assert_int_equal(res.release_replica, 2);
	assert_int_equal(PHASE(REPLICATION), US(800) - US(50));
	world_free(&w);
}

/*
 * Two producers' equal-sized batches to one partition, appended at once by
 * two handlers: H1 writes B's batch (offsets 100..109) 40..50, H2 A's
 * (110..119) 45..55. A, answered first, would take the earliest append by
 * time order. Replica 1 fetches from 110 at 300 (releasing 100..109) and
 * from 120 at 600 (releasing 110..119).
 */
static void swap_world(struct world *w, struct req *b, bool ids)
{
	world_new(w);
	write_id(w->a, H1, 100, 109, ids ? 8 : -1, ids ? 40 : -1, 40, 50);
	write_id(w->a, H2, 110, 119, ids ? 7 : -1, ids ? 30 : -1, 45, 55);
	fetch(w->r, 1, 100, 20);
	fetch(w->r, 1, 110, 300);
	fetch(w->r, 1, 120, 600);
	produce_req_init(&w->q, NET, US(0), US(10), US(900), US(910));
	produce_req_init(b, NET, US(2), US(12), US(950), US(960));
	produce_req_part(&w->q, 0, 1000);
	produce_req_part(b, 0, 1000);
	w->q.parts[0].records = b->parts[0].records = 10;
	w->q.r.acks = b->r.acks = -1;
	w->q.parts[0].producer_id = 7; /* A */
	w->q.parts[0].base_sequence = 30;
	b->parts[0].producer_id = 8; /* B */
	b->parts[0].base_sequence = 40;
}

/* With the writes' producer identity each request takes its own batch and
 * its offsets' release; without it, time order swaps them. */
static void test_batch_identity(void **state)
{
	struct world w;
	struct req b;
	struct attrib_result res;

	(void)state;
	swap_world(&w, &b, true);
	run(&w, &res);
	assert_int_equal(res.handler, H2);
	assert_false(res.ambiguous);
	assert_true(res.released);
	assert_int_equal(res.t_release, US(600));
	assert_int_equal(PHASE(APPEND), 10000); /* 45..55 */
	assert_int_equal(PHASE(REPLICATION), US(600) - US(55));
	assert_int_equal(attrib_request(w.a, &b.r, &res), ATTRIB_MATCHED);
	assert_int_equal(res.handler, H1);
	assert_false(res.ambiguous);
	assert_int_equal(res.t_release, US(300));
	assert_int_equal(attrib_stats(w.a)->by_batch_id, 2);
	assert_int_equal(attrib_stats(w.a)->ambiguous_resolved, 0);
	world_free(&w);

	/* a write of another identity cannot be the batch: left unmatched */
	swap_world(&w, &b, true);
	w.q.parts[0].base_sequence = 31;
	assert_int_equal(attrib_request(w.a, &w.q.r, &res), ATTRIB_UNM_NO_APPEND);
	world_free(&w);

	swap_world(&w, &b, false);
	run(&w, &res);
	assert_int_equal(res.handler, H1);
	assert_true(res.ambiguous);
	assert_int_equal(res.t_release, US(300));
	assert_int_equal(attrib_request(w.a, &b.r, &res), ATTRIB_MATCHED);
	assert_int_equal(res.handler, H2);
	assert_int_equal(res.t_release, US(600));
	assert_int_equal(attrib_stats(w.a)->by_batch_id, 0);
	assert_int_equal(attrib_stats(w.a)->ambiguous_resolved, 1);
	world_free(&w);

	/* requests without identity (not idempotent) keep time order */
	swap_world(&w, &b, true);
	w.q.parts[0].producer_id = -1;
	run(&w, &res);
	assert_int_equal(res.handler, H1);
	assert_true(res.ambiguous);
	world_free(&w);
}

/* Two followers, replica 2 the slow one: it released the batch. */
static void test_slow_follower_releases(void **state)
{
	struct world w;
	struct attrib_result res;
	const struct repl_pair *pairs;
	uint32_t n;

	(void)state;
	world_init(&w, 109);
	run(&w, &res);
	assert_true(res.repl_asked && res.released);
	assert_int_equal(res.release_replica, 2);
	assert_int_equal(res.release_tgid, 0); /* its connection's peer is not known */
	assert_int_equal(res.t_release, US(800));
	assert_int_equal(res.latency_ns, 910000);
	assert_int_equal(PHASE(READ), 10000);
	assert_int_equal(PHASE(QUEUE), 22000);
	assert_int_equal(PHASE(LOCK), 8000);
	assert_int_equal(PHASE(APPEND), 10000);
	assert_int_equal(PHASE(POST_APPEND), 0);
	assert_int_equal(PHASE(REPLICATION), 750000); /* 50..800 */
	assert_int_equal(PHASE(RESPONSE_QUEUE), 100000);
	assert_int_equal(PHASE(SEND), 10000);
	/* replica 2 is not traced: all its round trip */
	assert_int_equal(CAUSE(REPLICATION, ATTRIB_CAUSE_REPLICA_FETCH), 750000);
	assert_int_equal(res.follower_append_ns, 0);
	/* NET asleep 800..845 (the response waited: queued), runnable to 850, then on CPU */
	assert_int_equal(CAUSE(RESPONSE_QUEUE, ATTRIB_CAUSE_QUEUED), 45000);
	assert_int_equal(CAUSE(RESPONSE_QUEUE, CAUSE_RUNQ), 5000);
	assert_int_equal(CAUSE(RESPONSE_QUEUE, CAUSE_CPU), 50000);
	assert_int_equal(res.root_cause, ATTRIB_CAUSE_REPLICA_FETCH);
	assert_int_equal(res.root_phase, ATTRIB_REPLICATION);
	assert_int_equal(res.root_broker, 0);
	/* lags: replica 1 250 us, replica 2 750 us after the append's end */
	pairs = repl_pairs(w.r, &n);
	assert_int_equal(n, 2);
	assert_int_equal(pairs[0].replica_id, 1);
	assert_int_equal(pairs[0].lag->max, 250000);
	assert_int_equal(pairs[0].released, 0);
	assert_int_equal(pairs[1].replica_id, 2);
	assert_int_equal(pairs[1].lag->max, 750000);
	assert_int_equal(pairs[1].released, 1);
	assert_int_equal(repl_stats(w.r)->released, 1);
	assert_int_equal(repl_stats(w.r)->peer_unknown, 1);
	repl_isr_events(w.r, &n);
	assert_int_equal(n, 0);
	world_free(&w);
}

/* Replica 2 traced (its connection's peer known): its fetcher's append of
 * the batch 100..790 was stuck in the journal 110..740: the root cause is
 * the journal, on that broker. */
static void test_follower_journal(void **state)
{
	struct world w;
	struct attrib_result res;

	(void)state;
	world_init(&w, 109);
	assert_int_equal(repl_note_peer(w.r, CONN2, F2), 0);
	write_at(w.a, F2W, 100, 109, 100, 790);
	off(w.a, F2W, 110, 750, 740, CAUSE_JOURNAL);
	run(&w, &res);
	assert_int_equal(res.release_replica, 2);
	assert_int_equal(res.release_tgid, F2);
	assert_int_equal(PHASE(REPLICATION), 750000);
	assert_int_equal(res.follower_append_ns, 690000);
	assert_int_equal(CAUSE(REPLICATION, CAUSE_CPU), 50000); /* 100..110, 750..790 */
	assert_int_equal(CAUSE(REPLICATION, CAUSE_JOURNAL), 630000);
	assert_int_equal(CAUSE(REPLICATION, CAUSE_RUNQ), 10000);
	assert_int_equal(CAUSE(REPLICATION, ATTRIB_CAUSE_REPLICA_FETCH), 60000);
	assert_int_equal(res.root_cause, CAUSE_JOURNAL);
	assert_int_equal(res.root_ns[CAUSE_JOURNAL], 630000);
	assert_int_equal(res.root_phase, ATTRIB_REPLICATION);
	assert_int_equal(res.root_broker, F2);
	assert_int_equal(repl_stats(w.r)->peer_unknown, 0);
	world_free(&w);
}

/* Replica 2's fetcher was stuck appending the batch before ours (90..99,
 * 60..600, in the journal 70..580) before it fetched and appended ours
 * (610..790): both appends are its hold on the request, the journal the
 * root cause, on that broker. */
static void test_follower_earlier_append(void **state)
{
	struct world w;
	struct attrib_result res;

	(void)state;
	world_init(&w, 109);
	assert_int_equal(repl_note_peer(w.r, CONN2, F2), 0);
	write_at(w.a, F2W, 90, 99, 60, 600);
	off(w.a, F2W, 70, 590, 580, CAUSE_JOURNAL);
	write_at(w.a, F2W, 100, 109, 610, 790);
	run(&w, &res);
	assert_int_equal(res.release_replica, 2);
	assert_int_equal(PHASE(REPLICATION), 750000);
	assert_int_equal(res.follower_append_ns, 720000); /* 60..600, 610..790 */
	assert_int_equal(CAUSE(REPLICATION, CAUSE_JOURNAL), 510000);
	assert_int_equal(CAUSE(REPLICATION, CAUSE_RUNQ), 10000);
	assert_int_equal(CAUSE(REPLICATION, CAUSE_CPU), 200000);
	assert_int_equal(CAUSE(REPLICATION, ATTRIB_CAUSE_REPLICA_FETCH), 30000);
	assert_int_equal(res.root_cause, CAUSE_JOURNAL);
	assert_int_equal(res.root_broker, F2);
	world_free(&w);
}

/* The follower's write of another batch (offsets past ours) is not its
 * append of ours. */
static void test_follower_other_batch(void **state)
{
	struct world w;
	struct attrib_result res;

	(void)state;
	world_init(&w, 109);
	repl_note_peer(w.r, CONN2, F2);
	write_at(w.a, F2W, 110, 119, 100, 790);
	run(&w, &res);
	assert_int_equal(res.follower_append_ns, 0);
	assert_int_equal(CAUSE(REPLICATION, ATTRIB_CAUSE_REPLICA_FETCH), 750000);
	world_free(&w);
}

/* The batch header walk stopped short (last offset -1): the request's
 * record count gives it, 100 + 10 - 1. */
static void test_last_from_records(void **state)
{
	struct world w;
	struct attrib_result res;

	(void)state;
	world_init(&w, -1);
	run(&w, &res);
	assert_true(res.released);
	assert_int_equal(res.t_release, US(800));
	world_free(&w);
}

/* Offsets unknown (no KLC_EV_BATCH): post_append stays whole, counted. */
static void test_offsets_unknown(void **state)
{
	struct attrib *a = attrib_new(NULL);
	struct repl *r = repl_new(NULL);
	struct attrib_result res;
	struct req q;

	(void)state;
	attrib_set_replication(a, r);
	assert_int_equal(attrib_add_append(a, H1, TOPIC, 0, 1000, US(40), US(50)), 0);
	assert_int_equal(repl_add_fetch(r, 0, CONN1, 1, TOPIC, 0, 110, US(300)), 0);
	produce_req_init(&q, NET, US(0), US(10), US(900), US(910));
	produce_req_part(&q, 0, 1000);
	q.r.acks = -1;
	assert_int_equal(attrib_request(a, &q.r, &res), ATTRIB_MATCHED);
	attrib_check_sums(&res);
	assert_true(res.repl_asked);
	assert_false(res.released);
	assert_int_equal(res.repl_none, REPL_NONE_OFFSETS);
	assert_int_equal(PHASE(POST_APPEND), 850000);
	assert_int_equal(PHASE(REPLICATION), 0);
	assert_int_equal(PHASE(RESPONSE_QUEUE), 0);
	assert_int_equal(repl_stats(r)->none[REPL_NONE_OFFSETS], 1);
	assert_int_equal(repl_stats(r)->requests, 1);
	assert_string_equal(repl_none_name(REPL_NONE_OFFSETS), "offsets_unknown");
	/* acks=1: not asked */
	q.r.acks = 1;
	assert_int_equal(attrib_add_append(a, H1, TOPIC, 0, 1000, US(1040), US(1050)), 0);
	q.r.t_first = US(1000);
	q.r.t_read = US(1010);
	q.r.t_resp = US(1900);
	q.r.t_end = US(1910);
	assert_int_equal(attrib_request(a, &q.r, &res), ATTRIB_MATCHED);
	assert_false(res.repl_asked);
	assert_int_equal(repl_stats(r)->requests, 1);
	attrib_free(a);
	repl_free(r);
}

static struct repl_batch batch(int64_t base, int64_t last, double e, double resp, int32_t corr)
{
	return (struct repl_batch){.leader_tgid = LEADER,
				   .topic = TOPIC,
				   .partition = 0,
				   .base_offset = base,
				   .last_offset = last,
				   .t_append_start = US(e - 5),
				   .t_append_end = US(e),
				   .t_resp = US(resp),
				   .corr_id = corr};
}

/* The covering fetch: the first past the last offset once the write began;
 * one at exactly last + 1 covers, one at last does not; an earlier one
 * (another leader epoch) does not count. */
static void test_covering_edges(void **state)
{
	struct repl *r = repl_new(NULL);
	struct repl_batch b = batch(100, 109, 50, 900, 1);
	struct repl_release rel;

	(void)state;
	fetch(r, 1, 200, 10); /* before the write: stale */
	fetch(r, 1, 109, 60);
	fetch(r, 1, 110, 70);
	fetch(r, 1, 111, 80);
	assert_int_equal(repl_find(r, &b, &rel), REPL_RELEASED);
	assert_int_equal(rel.t_release, US(70));
	assert_int_equal(rel.f[0].fetch_offset, 110);
	assert_false(rel.by_shrink);
	/* a covering fetch after t_resp cannot have released it: the leader
	 * waited for the follower until it dropped it from the ISR */
	b = batch(110, 110, 75, 79, 2);
	assert_int_equal(repl_find(r, &b, &rel), REPL_RELEASED);
	assert_true(rel.by_shrink);
	assert_int_equal(rel.replica_id, 1);
	assert_int_equal(rel.t_release, US(79));
	assert_int_equal(rel.nfollowers, 1);
	assert_int_equal(rel.f[0].t_cover, US(80));
	/* another partition: no fetches of it */
	b.partition = 1;
	assert_int_equal(repl_find(r, &b, &rel), REPL_NONE_NO_FETCHES);
	b.partition = 0;
	b.last_offset = -1;
	assert_int_equal(repl_find(r, &b, &rel), REPL_NONE_OFFSETS);
	/* bad fetches are refused and counted */
	assert_int_equal(repl_add_fetch(r, LEADER, CONN1, -1, TOPIC, 0, 5, US(1)), -EINVAL);
	assert_int_equal(repl_add_fetch(r, LEADER, CONN1, 1, NULL, 0, 5, US(1)), -EINVAL);
	assert_int_equal(repl_add_fetch(r, LEADER, CONN1, 1, TOPIC, 0, -5, US(1)), -EINVAL);
	assert_int_equal(repl_stats(r)->bad, 3);
	repl_free(r);
}

/*
 * ISR changes. Batches (offsets, append end, t_resp):
 *   A 100..109 at 50, answered 900: both cover (300, 800): no change;
 *   B 110..119 at 1000, answered 1100: replica 2 covers at 1050, replica 1
 *     only at 5000: the leader waited for replica 1 until it dropped it
 *     from the ISR: shrink at B, which released B;
 *   B' 110..119 appended at 1090 (before the shrink), answered 1150:
 *     replica 2 at 1095: released by the same shrink, at 1100, no event;
 *   C 120..129 at 2000, answered 2100: replica 2 at 2050, replica 1 at
 *     5000 again: still out (not waited for), no event;
 *   D 130..139 at 6000, answered 6300: replica 2 at 6100, replica 1 at 6200
 *     covered it by its answer (and released it): expand at D.
 */
static void test_isr_shrink_expand(void **state)
{
	struct repl *r = repl_new(NULL);
	struct repl_release rel;
	struct repl_batch b;
	const struct repl_isr_event *ev;
	uint32_t n;

	(void)state;
	fetch(r, 1, 100, 20);
	fetch(r, 2, 100, 25);
	fetch(r, 1, 110, 300);
	fetch(r, 2, 110, 800);
	fetch(r, 2, 120, 1050);
	fetch(r, 2, 120, 1095);
	fetch(r, 2, 130, 2050);
	fetch(r, 1, 130, 5000);
	fetch(r, 2, 140, 6100);
	fetch(r, 1, 140, 6200);
	b = batch(100, 109, 50, 900, 1);
	assert_int_equal(repl_batch(r, &b, &rel), REPL_RELEASED);
	assert_int_equal(rel.replica_id, 2);
	repl_isr_events(r, &n);
	assert_int_equal(n, 0);
	b = batch(110, 119, 1000, 1100, 2);
	assert_int_equal(repl_batch(r, &b, &rel), REPL_RELEASED);
	assert_int_equal(rel.replica_id, 1);
	assert_true(rel.by_shrink);
	assert_int_equal(rel.t_release, US(1100));
	assert_int_equal(rel.f[0].t_cover, US(5000));
	ev = repl_isr_events(r, &n);
	assert_int_equal(n, 1);
	assert_false(ev[0].expand);
	assert_int_equal(ev[0].replica_id, 1);
	assert_int_equal(ev[0].corr_id, 2);
	assert_int_equal(ev[0].t_ns, US(1100));
	assert_string_equal(ev[0].topic, TOPIC);
	b = batch(110, 119, 1090, 1150, 5);
	assert_int_equal(repl_batch(r, &b, &rel), REPL_RELEASED);
	assert_int_equal(rel.replica_id, 1);
	assert_true(rel.by_shrink);
	assert_int_equal(rel.t_release, US(1100));
	b = batch(120, 129, 2000, 2100, 3);
	assert_int_equal(repl_batch(r, &b, &rel), REPL_RELEASED);
	assert_int_equal(rel.replica_id, 2);
	assert_false(rel.by_shrink);
	repl_isr_events(r, &n);
	assert_int_equal(n, 1);
	b = batch(130, 139, 6000, 6300, 4);
	assert_int_equal(repl_batch(r, &b, &rel), REPL_RELEASED);
	assert_int_equal(rel.replica_id, 1);
	ev = repl_isr_events(r, &n);
	assert_int_equal(n, 2);
	assert_true(ev[1].expand);
	assert_int_equal(ev[1].replica_id, 1);
	assert_int_equal(ev[1].corr_id, 4);
	assert_int_equal(ev[1].t_ns, US(6300));
	repl_free(r);
}

/* The fetch history keeps window_ns behind the newest arrival and at most
 * max_per_follower fetches: what goes is counted, and a batch whose
 * covering fetch went finds none. */
static void test_eviction(void **state)
{
	struct repl_config cfg;
	struct repl *r;
	struct repl_release rel;
	struct repl_batch b = batch(100, 109, 50, 900, 1);

	(void)state;
	repl_config_default(&cfg);
	cfg.window_ns = 1000000000ull; /* 1 s */
	cfg.max_per_follower = 4;
	r = repl_new(&cfg);
	assert_non_null(r);
	fetch(r, 1, 110, 300);
	assert_int_equal(repl_find(r, &b, &rel), REPL_RELEASED);
	fetch(r, 1, 120, 2000 * MS); /* 300 us is more than 1 s behind */
	assert_int_equal(repl_stats(r)->evicted, 1);
	/* none by t_resp: taken as waited for until an ISR shrink */
	assert_int_equal(repl_find(r, &b, &rel), REPL_RELEASED);
	assert_true(rel.by_shrink);
	assert_int_equal(rel.f[0].t_cover, US(2000 * MS)); /* the next one past 109 */
	for (int i = 1; i <= 4; i++)
		fetch(r, 1, 120 + i, 2000 * MS + i);
	assert_int_equal(repl_stats(r)->dropped, 1);
	assert_int_equal(repl_stats(r)->fetches, 6);
	cfg.max_per_follower = 0;
	assert_null(repl_new(&cfg));
	repl_free(r);
}

/* The summary's section: the first slow-follower world's request, then
 * replica 1 leaving and coming back. The JSON quantiles are the lag
 * histograms' (within 0.1%), the text's rounded to three digits. */
static void test_summary(void **state)
{
	struct world w;
	struct attrib_result res;
	struct repl_release rel;
	struct repl_batch b;
	struct sink s;
	struct json j;

	(void)state;
	setenv("TZ", "UTC", 1); /* the events' times of day */
	tzset();
	world_init(&w, 109);
	repl_note_peer(w.r, CONN2, F2);
	run(&w, &res);
	fetch(w.r, 2, 120, 1050);
	fetch(w.r, 1, 120, 5000);
	fetch(w.r, 2, 130, 6100);
	fetch(w.r, 1, 130, 6200);
	b = batch(110, 119, 1000, 1100, 8);
	repl_batch(w.r, &b, &rel);
	b = batch(120, 129, 6000, 6300, 9);
	repl_batch(w.r, &b, &rel);
	report_repl_text(sink_open(&s), w.r, 0);
	expect_text(&s, "\nReplication (acks=all): 1 requests released by a follower fetch, 0 "
			"without a release found\n"
			"  leader pid 5000 <- replica 1: 3 batches covered, released 1; lag p50 "
			"250us p99 4.00ms p99.9 4.00ms max 4.00ms\n"
			"  leader pid 5000 <- replica 2 (pid 6002): 3 batches covered, released 1; "
			"lag p50 100us p99 750us p99.9 750us max 750us\n"
			"  ISR changes, inferred from the followers' fetches by each answer:\n"
			"    00:16:40.001100  leader pid 5000 orders-0: replica 1 out of the ISR "
			"(corr 8 answered before its fetch came)\n"
			"    00:16:40.006300  leader pid 5000 orders-0: replica 1 back in the ISR "
			"(its fetch covered corr 9 before the answer)\n");
	json_init(&j, sink_open(&s));
	json_obj_begin(&j);
	report_repl_json(&j, w.r, 0);
	json_obj_end(&j);
	expect_text(
	    &s, "{\"replication\":{\"requests\":1,\"released\":1,\"release_broker_unknown\":0,"
		"\"no_release\":{\"offsets_unknown\":0,\"no_fetches\":0,\"no_covering_fetch\":0},"
		"\"followers\":[{\"leader_pid\":5000,\"replica\":1,\"follower_pid\":0,"
		"\"batches\":3,\"released\":1,\"lag_p50_us\":250.047,\"lag_p99_us\":4000,"
		"\"lag_p99.9_us\":4000,\"lag_max_us\":4000},{\"leader_pid\":5000,\"replica\":2,"
		"\"follower_pid\":6002,\"batches\":3,\"released\":1,\"lag_p50_us\":99.999,"
		"\"lag_p99_us\":749.823,\"lag_p99.9_us\":749.823,\"lag_max_us\":750}],"
		"\"isr_changes\":[{\"time\":\"00:16:40.001100\",\"t_ns\":1000001100000,"
		"\"change\":\"shrink\",\"leader_pid\":5000,\"topic\":\"orders\",\"partition\":0,"
		"\"replica\":1,\"follower_pid\":0,\"corr\":8},{\"time\":\"00:16:40.006300\","
		"\"t_ns\":1000006300000,\"change\":\"expand\",\"leader_pid\":5000,\"topic\":"
		"\"orders\",\"partition\":0,\"replica\":1,\"follower_pid\":0,\"corr\":9}],"
		"\"isr_changes_more\":0,\"fetches\":9,\"fetches_evicted\":0,\"fetches_dropped\":0,"
		"\"fetches_not_kept\":0}}");
	world_free(&w);
}

static void no_text(void *ctx, int32_t stack_id, char *buf, size_t len)
{
	(void)ctx;
	(void)stack_id;
	snprintf(buf, len, "%s", "");
}

/* The tail's story names the follower replication waited for and what its
 * append was stuck in: the journal world's request, alone in >= p99. */
static void test_story(void **state)
{
	struct world w;
	struct attrib_result res;
	struct report_tail rt;
	struct bands *b = bands_new(8);
	struct sink s;

	(void)state;
	world_init(&w, 109);
	repl_note_peer(w.r, CONN2, F2);
	write_at(w.a, F2W, 100, 109, 100, 790);
	off(w.a, F2W, 110, 750, 740, CAUSE_JOURNAL);
	run(&w, &res);
	w.q.r.t_arrival = w.q.r.t_first; /* wire times: the bands take them */
	w.q.r.t_complete = w.q.r.t_first;
	w.q.r.t_sent = w.q.r.t_end;
	w.q.r.wire = CORR_WIRE_KNOWN;
	res.wire_known = true;
	assert_non_null(b);
	bands_add(b, &w.q.r, &res);
	report_tail_fill_bands(&rt, b, no_text, NULL);
	assert_int_equal(rt.time[0].release_replica, 2);
	assert_int_equal(rt.time[0].release_tgid, F2);
	report_tail_story(sink_open(&s), &rt);
	expect_text(&s, "\nWhy the tail is slow: the slowest produce requests (>= p99: 1 request "
			"of 910us to 910us, 910us in all) spent 82% of their time in the "
			"replication phase.\n"
			"  The largest cause is journal, 69% of their time: waiting for the "
			"filesystem journal (jbd2) to commit.\n"
			"  82% of their time was replication waiting for replica 2 (pid 6002), 76% "
			"in its appends (journal 69%: waiting for the filesystem "
			"journal (jbd2) to commit).\n"
			"  Next: cpu, 15%: running on a CPU.\n");
	bands_free(b);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slow_follower_releases),
	    cmocka_unit_test(test_batch_identity),
	    cmocka_unit_test(test_follower_write_not_leader),
	    cmocka_unit_test(test_follower_journal),
	    cmocka_unit_test(test_follower_earlier_append),
	    cmocka_unit_test(test_follower_other_batch),
	    cmocka_unit_test(test_last_from_records),
	    cmocka_unit_test(test_offsets_unknown),
	    cmocka_unit_test(test_covering_edges),
	    cmocka_unit_test(test_isr_shrink_expand),
	    cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_summary),
	    cmocka_unit_test(test_story),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
