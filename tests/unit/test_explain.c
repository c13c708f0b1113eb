// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The explainer on recorded-style cause records: names, stacks, the
 * hold-back, the journal overlap, folded output and bad records. Times in
 * microseconds from T, as in test_attrib.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafkalat/cause_events.h"
#include "kafkalat/bands.h"
#include "kafkalat/explain.h"
#include "kafkalat/history.h"
#include "explain_scenario.h"

struct results {
	int n;
	struct attrib_result last;
	uint32_t corr;
};

static void on_result(const struct corr_request *r, const struct attrib_result *res, void *ctx)
{
	struct results *rs = ctx;

	rs->n++;
	rs->last = *res;
	rs->corr = (uint32_t)r->corr_id;
}

static void test_journal_request(void **state)
{
	struct results rs = {0};
	struct explain *t = explain_new(NULL, stacks, NULL, on_result, &rs);
	struct klc_jbd2_commit_event c = {
	    .type = KLC_EV_JBD2_COMMIT, .dev = DEV, .t_start_ns = US(30), .t_end_ns = US(150 * MS)};
	struct klc_block_event b = {.type = KLC_EV_BLOCK,
				    .dev = 7u << 20,
				    .t_issue_ns = US(60),
				    .t_complete_ns = US(5 * MS),
				    .bytes = 4096};
	struct journal_overlap j;
	struct req q;
	char text[512];

	(void)state;
	name(t, INO, "orders-3", "00000000000000000000.log");
	one_request(t, &q, 1, 0, 200 * MS, 1);
	feed(t, &c, sizeof(c));
	feed(t, &b, sizeof(b));
	assert_int_equal(explain_request(t, &q.r), 0);
	/* held until the cause stream is 300 ms past its end */
	explain_advance(t, q.r.t_end + 299000000ull);
	assert_int_equal(rs.n, 0);
	explain_advance(t, q.r.t_end + 300000000ull);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.last.unmatched, ATTRIB_MATCHED);
	assert_int_equal(rs.last.handler, H1);
	assert_int_equal(rs.last.top_cause, CAUSE_JOURNAL);
	assert_int_equal(rs.last.top_phase, ATTRIB_APPEND);
	assert_string_equal(rs.last.top_frame, "wait_transaction_locked");
	assert_int_equal(rs.last.cause_ns[ATTRIB_APPEND][CAUSE_JOURNAL], 200 * 1000000 - 1000);
	assert_int_equal(explain_stats(t)->segment_writes, 1);
	assert_int_equal(explain_stats(t)->stacks, 2);
	explain_stack_text(t, 1, " <- ", text, sizeof(text));
	assert_string_equal(text,
			    "__schedule <- schedule <- wait_transaction_locked <- "
			    "add_transaction_credits <- start_this_handle <- "
			    "jbd2__journal_start <- __ext4_journal_start_sb <- ext4_dirty_inode "
			    "<- __mark_inode_dirty <- generic_update_time <- file_modified <- "
			    "ext4_buffered_write_iter <- vfs_write <- ksys_write <- "
			    "do_syscall_64");
	explain_stack_text(t, 1, " <- ", text, 40);
	assert_string_equal(text, "__schedule <- schedule");
	explain_stack_text(t, 3, ";", text, sizeof(text));
	assert_string_equal(text, "");
	history_journal(explain_history(t), explain_bands(t), &j);
	assert_int_equal(j.requests, 1);
	assert_int_equal(j.commits, 1);
	assert_int_equal(j.requests_with_commit, 1);
	assert_int_equal(j.commit_longest_ns, US(150 * MS) - US(30));
	assert_int_equal(j.commit_dev, DEV);
	assert_int_equal(j.block_ios, 1);
	assert_int_equal(j.block_longest_ns, US(5 * MS) - US(60));
	explain_free(t);
}

/* A causes-ring loss written between a request's first byte and the hold
 * after its end leaves it unattributed (lost_causes); one outside the
 * window is attributed as usual. */
static void test_loss_window(void **state)
{
	struct results rs = {0};
	struct explain *t = explain_new(NULL, stacks, NULL, on_result, &rs);
	struct klc_lost_event lost = {.type = KLC_EV_LOST,
				      .t_first_ns = US(1000 * MS),
				      .ts_ns = US(1001 * MS),
				      .counts = {[KLC_EV_OFFCPU - KLC_EV_FILE] = 3}};
	struct req q;

	(void)state;
	name(t, INO, "orders-3", "00000000000000000000.log");
	one_request(t, &q, 1, 0, 100, 1);
	assert_int_equal(explain_request(t, &q.r), 0);
	/* 1 s after its end, past the 300 ms hold: not touched */
	feed(t, &lost, sizeof(lost));
	one_request(t, &q, 2, 999 * MS, 100, 1);
	assert_int_equal(explain_request(t, &q.r), 0);
	explain_advance(t, q.r.t_end + 300000000ull);
	assert_int_equal(rs.n, 2);
	assert_int_equal(rs.last.unmatched, ATTRIB_UNM_LOST_CAUSES);
	assert_int_equal(rs.corr, 2);
	assert_int_equal(rs.last.handler, 0);
	assert_int_equal(explain_stats(t)->lost_touched, 1);
	assert_int_equal(explain_stats(t)->loss_records, 1);
	assert_int_equal(explain_stats(t)->lost[KLC_EV_OFFCPU - KLC_EV_FILE], 3);
	assert_int_equal(explain_attrib_stats(t)->unmatched[ATTRIB_MATCHED], 1);
	assert_int_equal(explain_attrib_stats(t)->unmatched[ATTRIB_UNM_LOST_CAUSES], 1);
	explain_free(t);
}

/* Stacks are read once per id; an unreadable one is "other" and counted. */
static void test_stack_cache(void **state)
{
	char text[128];
	struct results rs = {0};
	struct explain *t = explain_new(NULL, stacks, NULL, on_result, &rs);

	(void)state;
	stack_calls = 0;
	for (int i = 0; i < 10; i++)
		offcpu(t, H1, i * MS, i * MS + 100, i * MS + 99, 1, 1, 77, "jbd2/loop3-8");
	offcpu(t, H1, 20 * MS, 20 * MS + 100, 20 * MS + 99, 1, 5, 1, "x");
	offcpu(t, H1, 21 * MS, 21 * MS + 100, 21 * MS + 99, 1, 5, 1, "x");
	assert_int_equal(stack_calls, 2);
	assert_int_equal(explain_stats(t)->stacks, 1);
	assert_int_equal(explain_stats(t)->stacks_failed, 1);
	/* waits the kernel recognised by their syscall are never walked */
	offcpu(t, H1, 30 * MS, 30 * MS + 100, 30 * MS + 99, 1, KLC_STACK_ID_STACKLESS(1), 1, "x");
	offcpu(t, H1, 31 * MS, 31 * MS + 100, 31 * MS + 99, 1, KLC_STACK_ID_STACKLESS(3), 1, "x");
	offcpu(t, H1, 32 * MS, 32 * MS + 100, 32 * MS + 99, 1, -9, 1, "x");
	assert_int_equal(stack_calls, 2);
	explain_stack_text(t, KLC_STACK_ID_STACKLESS(KLC_STACKLESS_FUTEX), " <- ", text,
			   sizeof(text));
	assert_string_equal(text, "futex_wait <- __x64_sys_futex");
	explain_stack_text(t, -9, " <- ", text, sizeof(text));
	assert_string_equal(text, "");
	explain_free(t);
}

static void test_folded(void **state)
{
	struct results rs = {0};
	struct explain *t = explain_new(NULL, stacks, NULL, on_result, &rs);
	struct band_time bt;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	struct req q;

	(void)state;
	name(t, INO, "orders-3", "00000000000000000000.log");
	/* 200 fast requests and one slow one, 1 s apart */
	for (int i = 0; i < 200; i++) {
		one_request(t, &q, i, i * 1000.0 * MS, 0, -1);
		assert_int_equal(explain_request(t, &q.r), 0);
		explain_advance(t, q.r.t_end + 300000000ull);
	}
	one_request(t, &q, 999, 300000.0 * MS, 200 * MS, 1);
	assert_int_equal(explain_request(t, &q.r), 0);
	explain_finish(t);
	assert_int_equal(rs.n, 201);
	assert_int_equal(explain_attrib_stats(t)->unmatched[ATTRIB_MATCHED], 201);
	bands_time(explain_bands(t), BAND_GE_P99, &bt);
	assert_int_equal(bt.requests, 201);
	assert_true(bt.complete);
	assert_int_equal(bt.total_ns, 200 * 80000 + 200080000);
	bands_time(explain_bands(t), BAND_LT_P50, &bt);
	assert_int_equal(bt.requests, 0);
	out = open_memstream(&buf, &len);
	assert_int_equal(explain_write_folded(t, out), 1);
	fclose(out);
	assert_string_equal(buf,
			    "append;do_syscall_64;ksys_write;vfs_write;ext4_buffered_write_iter;"
			    "file_modified;generic_update_time;__mark_inode_dirty;"
			    "ext4_dirty_inode;__ext4_journal_start_sb;jbd2__journal_start;"
			    "start_this_handle;add_transaction_credits;"
			    "wait_transaction_locked;schedule;__schedule 199999\n");
	free(buf);
	explain_free(t);
}

/* Waits known by their syscall keep their (stackless) stack all the way to
 * the request, the tops and the folded output. */
static void test_stackless_kept(void **state)
{
	struct results rs = {0};
	struct explain *t = explain_new(NULL, stacks, NULL, on_result, &rs);
	int32_t futex_id = KLC_STACK_ID_STACKLESS(KLC_STACKLESS_FUTEX);
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	struct req q;

	(void)state;
	name(t, INO, "orders-3", "00000000000000000000.log");
	one_request(t, &q, 1, 0, 200 * MS, futex_id);
	assert_int_equal(explain_request(t, &q.r), 0);
	/* a wait whose walk failed (an error code as id) has no stack */
	offcpu(t, H1, 900 * MS, 901 * MS, 901 * MS - 1, 1, -14, 1, "x");
	explain_finish(t);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.last.top_cause, CAUSE_FUTEX);
	assert_int_equal(rs.last.top_stack_id, futex_id);
	assert_int_equal(rs.last.nstacks, 1); /* the queue wait is not the request's own */
	assert_int_equal(rs.last.stacks[0].stack_id, futex_id);
	out = open_memstream(&buf, &len);
	assert_int_equal(explain_write_folded(t, out), 1);
	fclose(out);
	assert_string_equal(buf, "append;__x64_sys_futex;futex_wait 199999\n");
	free(buf);
	explain_free(t);
}

/* A write to a file never named, to an index file, or not a segment at all. */
static void test_files(void **state)
{
	struct results rs = {0};
	struct explain *t = explain_new(NULL, NULL, NULL, on_result, &rs);
	struct req q;

	(void)state;
	name(t, 11, "orders-3", "00000000000000000000.index");
	name(t, 12, "tmp", "notes.txt");
	name(t, 13, "orders-with-dashes-12", "00000000000000000100.log");
	file(t, H1, KLC_SYS_WRITE, 10, BYTES, 40, 50);
	file(t, H1, KLC_SYS_WRITE, 11, BYTES, 40, 50);
	file(t, H1, KLC_SYS_PWRITE64, 12, BYTES, 40, 50);
	file(t, H1, KLC_SYS_FSYNC, 12, 0, 60, 70);
	file(t, H1, KLC_SYS_WRITEV, 13, -5, 60, 70); /* failed: not an append */
	assert_int_equal(explain_stats(t)->unnamed_writes, 1);
	assert_int_equal(explain_stats(t)->other_writes, 4);
	assert_int_equal(explain_stats(t)->segment_writes, 0);
	/* no append of the batch: unmatched, still reported */
	req_init(&q, 5, 0, 10, 70, 80);
	assert_int_equal(explain_request(t, &q.r), 0);
	explain_finish(t);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.last.unmatched, ATTRIB_UNM_NO_APPEND);
	/* acks=0 and non-Produce requests are not held */
	q.r.acks = 0;
	assert_int_equal(explain_request(t, &q.r), -EINVAL);
	q.r.acks = 1;
	q.r.api_key = 3;
	assert_int_equal(explain_request(t, &q.r), -EINVAL);
	explain_free(t);
}

/* Threads name their broker; a batch record gives the next write of its
 * thread, with the same start, its offsets; anything else is refused. */
static void test_threads_and_batches(void **state)
{
	struct explain *t = explain_new(NULL, NULL, NULL, NULL, NULL);
	struct klc_thread_event th = {.type = KLC_EV_THREAD, .tid = H1, .tgid = 77};
	struct klc_batch_event b = {.type = KLC_EV_BATCH,
				    .tid = H1,
				    .t_start_ns = US(40),
				    .base_offset = 100,
				    .last_offset = 109,
				    .batches = 2,
				    .fd = 9};

	(void)state;
	assert_int_equal(explain_feed(t, &th, sizeof(th)), 0);
	th.tid = H1 + 1;
	th.tgid = 78;
	assert_int_equal(explain_feed(t, &th, sizeof(th)), 0);
	th.tgid = 79; /* the tid reused by another broker */
	assert_int_equal(explain_feed(t, &th, sizeof(th)), 0);
	assert_int_equal(explain_thread_tgid(t, H1), 77);
	assert_int_equal(explain_thread_tgid(t, H1 + 1), 79);
	assert_int_equal(explain_thread_tgid(t, 5), 0);
	th.tgid = 0;
	assert_int_equal(explain_feed(t, &th, sizeof(th)), -EINVAL);
	for (uint32_t i = 1; i <= 5000; i++) { /* the table grows */
		struct klc_thread_event e = {.type = KLC_EV_THREAD, .tid = 10000 + i, .tgid = i};

		assert_int_equal(explain_feed(t, &e, sizeof(e)), 0);
	}
	assert_int_equal(explain_thread_tgid(t, 12345), 2345);
	assert_int_equal(explain_thread_tgid(t, H1), 77);
	assert_int_equal(explain_stats(t)->threads, 5003);

	name(t, 13, "orders-2", "00000000000000000100.log");
	assert_int_equal(explain_feed(t, &b, sizeof(b)), 0);
	file(t, H1, KLC_SYS_WRITE, 13, BYTES, 40, 50);
	assert_int_equal(explain_stats(t)->batch_writes, 1);
	/* taken once: the next write has none */
	file(t, H1, KLC_SYS_WRITE, 13, BYTES, 40, 50);
	assert_int_equal(explain_stats(t)->batch_writes, 1);
	/* another start: not its write */
	assert_int_equal(explain_feed(t, &b, sizeof(b)), 0);
	file(t, H1, KLC_SYS_WRITE, 13, BYTES, 41, 50);
	assert_int_equal(explain_stats(t)->batch_writes, 1);
	assert_int_equal(explain_stats(t)->segment_writes, 3);
	/* unknown last offset is fine; inconsistent or empty ones are not */
	b.last_offset = -1;
	assert_int_equal(explain_feed(t, &b, sizeof(b)), 0);
	b.last_offset = 5;
	assert_int_equal(explain_feed(t, &b, sizeof(b)), -EINVAL);
	b.last_offset = 200;
	b.batches = 0;
	assert_int_equal(explain_feed(t, &b, sizeof(b)), -EINVAL);
	b.batches = 1;
	b.base_offset = -3;
	assert_int_equal(explain_feed(t, &b, sizeof(b)), -EINVAL);
	assert_int_equal(explain_feed(t, &b, sizeof(b) - 8), -EINVAL);
	assert_int_equal(explain_stats(t)->batches, 3);
	/* an ABI 4 record, without the producer identity, is read */
	b.base_offset = 300;
	b.last_offset = 309;
	assert_int_equal(explain_feed(t, &b, KLC_BATCH_V4_SIZE), 0);
	assert_int_equal(explain_feed(t, &b, KLC_BATCH_V4_SIZE - 8), -EINVAL);
	assert_int_equal(explain_stats(t)->batches, 4);
	explain_free(t);
}

/* Thousands of segments come and go: a file still written keeps its name. */
static void test_name_turnover(void **state)
{
	struct results rs = {0};
	struct explain *t = explain_new(NULL, NULL, NULL, on_result, &rs);
	char file_name[64];

	(void)state;
	name(t, 1, "orders-0", "00000000000000000000.log");
	for (int i = 0; i < 20000; i++) {
		snprintf(file_name, sizeof(file_name), "%020d.log", i + 1);
		name(t, 100 + (uint64_t)i, "orders-1", file_name);
		if (i % 1000 == 0)
			file(t, H1, KLC_SYS_WRITE, 1, BYTES, i, i + 1);
	}
	file(t, H1, KLC_SYS_WRITE, 1, BYTES, 30000, 30001);
	file(t, H1, KLC_SYS_WRITE, 100 + 19999, BYTES, 30000, 30001);
	file(t, H1, KLC_SYS_WRITE, 100, BYTES, 30000, 30001); /* long gone */
	assert_int_equal(explain_stats(t)->segment_writes, 22);
	assert_int_equal(explain_stats(t)->unnamed_writes, 1);
	assert_int_equal(explain_stats(t)->names_full, 0);
	explain_free(t);
}

static void test_bad_records(void **state)
{
	struct results rs = {0};
	struct explain *t = explain_new(NULL, NULL, NULL, on_result, &rs);
	struct klc_file_event f = {.type = KLC_EV_FILE, .kind = KLC_SYS_WRITE};
	struct klc_offcpu_event o = {.type = KLC_EV_OFFCPU, .tid = 1, .t_off_ns = 10, .t_on_ns = 5};
	struct klc_file_name_event n = {.type = KLC_EV_FILE_NAME, .ino = 1};
	uint32_t type = 7;

	(void)state;
	assert_int_equal(explain_feed(t, NULL, 0), -EINVAL);
	assert_int_equal(explain_feed(t, &type, 2), -EINVAL);
	assert_int_equal(explain_feed(t, &type, sizeof(type)), -EINVAL);
	assert_int_equal(explain_feed(t, &f, sizeof(f) - 8), -EINVAL);
	assert_int_equal(explain_feed(t, &f, sizeof(f) + 8), -EINVAL);
	f.kind = KLC_SYS_FUTEX;
	assert_int_equal(explain_feed(t, &f, sizeof(f)), -EINVAL);
	assert_int_equal(explain_feed(t, &o, sizeof(o)), -EINVAL);
	/* names without their terminators are cut, not overrun */
	memset(n.name, 'a', sizeof(n.name));
	memset(n.parent, 'b', sizeof(n.parent));
	assert_int_equal(explain_feed(t, &n, sizeof(n)), 0);
	assert_int_equal(explain_stats(t)->bad_records, 7);
	assert_int_equal(explain_stats(t)->records, 8);
	explain_free(t);
}

/* With max_pending 2, the oldest held request goes early and is counted. */
static void test_max_pending(void **state)
{
	struct results rs = {0};
	struct explain_config cfg;
	struct explain *t;
	struct req q;

	(void)state;
	explain_config_default(&cfg);
	cfg.max_pending = 2;
	t = explain_new(&cfg, NULL, NULL, on_result, &rs);
	for (int i = 0; i < 3; i++) {
		req_init(&q, i, i * 100, i * 100 + 10, i * 100 + 70, i * 100 + 80);
		assert_int_equal(explain_request(t, &q.r), 0);
	}
	explain_advance(t, 0);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.corr, 0);
	assert_int_equal(explain_stats(t)->early, 1);
	explain_free(t);
}

/* explain_advance_n attributes the due requests in order, at most max at a
 * time, and leaves the ones not yet due. */
static void test_advance_in_pieces(void **state)
{
	struct results rs = {0};
	struct explain *t = explain_new(NULL, NULL, NULL, on_result, &rs);
	struct req q;

	(void)state;
	for (int i = 0; i < 5; i++) {
		req_init(&q, i, i * 100, i * 100 + 10, i * 100 + 70, i * 100 + 80);
		assert_int_equal(explain_request(t, &q.r), 0);
	}
	/* due: the first four (t_end + 300 ms <= now); the fifth ends at 480 us */
	assert_int_equal(explain_advance_n(t, US(380) + 300000000ull, 3), 3);
	assert_int_equal(rs.n, 3);
	assert_int_equal(rs.corr, 2);
	assert_int_equal(explain_advance_n(t, US(380) + 300000000ull, 3), 1);
	assert_int_equal(rs.corr, 3);
	assert_int_equal(explain_advance_n(t, US(380) + 300000000ull, 3), 0);
	assert_int_equal(explain_advance_n(t, US(480) + 300000000ull, 0), 0);
	assert_int_equal(rs.n, 4);
	assert_int_equal(explain_advance_n(t, US(480) + 300000000ull, 3), 1);
	assert_int_equal(rs.n, 5);
	assert_int_equal(rs.corr, 4);
	explain_free(t);
}

/* Produce v13 names topics by id: once the id is learnt, the request is
 * matched to its segment write by name; before, it cannot be. */
static void test_topic_ids(void **state)
{
	static const uint8_t id[16] = {0x2b, 0x17, 0x2d, 0xe8, 0x37, 0x2a, 0xfa, 0xb0,
				       0x40, 0xcf, 0xf0, 0x9d, 0x35, 0xfb, 0x5e, 0xbc};
	static const uint8_t other[16] = {1};
	struct results rs = {0};
	struct explain *t = explain_new(NULL, stacks, NULL, on_result, &rs);
	struct req q;

	(void)state;
	name(t, INO, "orders-3", "00000000000000000000.log");
	/* unknown id: not matched, counted */
	one_request(t, &q, 1, 0, 0, -1);
	strcpy(q.topic.name, "2b172de8372afab040cff09d35fb5ebc");
	q.topic.is_id = true;
	assert_int_equal(explain_request(t, &q.r), 0);
	explain_finish(t);
	assert_int_equal(rs.last.unmatched, ATTRIB_UNM_NO_APPEND);
	assert_int_equal(explain_stats(t)->unknown_topic_ids, 1);
	/* learnt while the request is held (the segment's name, and so the
	 * id, may come in the cause stream behind it): matched */
	one_request(t, &q, 2, 1000 * MS, 0, -1);
	strcpy(q.topic.name, "2b172de8372afab040cff09d35fb5ebc");
	q.topic.is_id = true;
	assert_int_equal(explain_request(t, &q.r), 0);
	assert_int_equal(explain_add_topic_id(t, other, "payments"), 0);
	assert_int_equal(explain_add_topic_id(t, id, "orders"), 0);
	assert_int_equal(explain_add_topic_id(t, id, "orders"), 0); /* again: no new entry */
	assert_int_equal(explain_stats(t)->topic_ids, 2);
	explain_finish(t);
	assert_int_equal(rs.n, 2);
	assert_int_equal(rs.last.unmatched, ATTRIB_MATCHED);
	assert_int_equal(rs.last.handler, H1);
	assert_int_equal(explain_stats(t)->unknown_topic_ids, 1);
	/* bad names are refused */
	assert_int_equal(explain_add_topic_id(t, id, ""), -EINVAL);
	assert_int_equal(explain_add_topic_id(t, id, NULL), -EINVAL);
	explain_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_request),
	    cmocka_unit_test(test_stack_cache),
	    cmocka_unit_test(test_folded),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_name_turnover),
	    cmocka_unit_test(test_bad_records),
	    cmocka_unit_test(test_max_pending),
	    cmocka_unit_test(test_stackless_kept),
	    cmocka_unit_test(test_topic_ids),
	    cmocka_unit_test(test_advance_in_pieces),
	    cmocka_unit_test(test_threads_and_batches),
	    cmocka_unit_test(test_loss_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
