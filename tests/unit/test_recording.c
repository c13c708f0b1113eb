// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Recordings: written by the writer, read back, merged (recording.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kafkalat/cause_events.h"
#include "kafkalat/tlv.h"
#include "rec_fixture.h"

static char *tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/tmp/kafkalat-test-rec-%d-%s", (int)getpid(), name);
	unlink(buf);
	return buf;
}

static void test_round_trip(void **state)
{
	struct rec_fixture_opts o;
	struct rec r;
	char name[64];

	(void)state;
	rec_fixture_defaults(&o);
	assert_int_equal(rec_fixture_load(&r, &o), 0);
	assert_int_equal(r.nfiles, 1);
	assert_true(r.files[0].complete);
	assert_int_equal(r.files[0].intervals, 6);
	assert_string_equal(rec_meta_get(&r.files[0], "broker.comm"), "refbroker");
	assert_null(rec_meta_get(&r.files[0], "nope"));
	assert_int_equal(r.niv, 6);
	assert_int_equal(agg_count(&r.agg, 0), 12000);
	assert_int_equal(r.m[REC_M_LATENCY]->count, 12000);
	assert_int_equal(r.m[REC_M_PHASE + ATTRIB_APPEND]->count, 12000);
	assert_non_null(r.m[REC_M_CAUSE + CAUSE_JOURNAL]);
	assert_null(r.m[REC_M_CAUSE + CAUSE_FUTEX]);
	for (uint32_t i = 0; i < r.niv; i++) {
		const struct rec_interval *iv = &r.iv[i];

		assert_int_equal(iv->produce, 2000);
		assert_int_equal(iv->attributed, 2000);
		assert_int_equal(iv->m[REC_M_LATENCY]->count, 2000);
		assert_int_equal(iv->nslow, REC_DEFAULT_SLOWEST);
		for (uint32_t k = 1; k < iv->nslow; k++)
			assert_true(iv->slow[k - 1].latency_ns >= iv->slow[k].latency_ns);
		assert_string_equal(iv->slow[0].stack,
				    "jbd2_log_wait_commit;ext4_sync_file;vfs_fsync_range;stack7");
		assert_int_equal(iv->ncommits, 1);
		assert_int_equal(iv->commits[0].dur_ns, 59000000);
		assert_int_equal(iv->t_end_ns - iv->t_start_ns, 10000000000ll);
		assert_int_equal(iv->bands[BAND_LT_P50].requests +
				     iv->bands[BAND_P50_P99].requests +
				     iv->bands[BAND_GE_P99].requests,
				 2000);
		assert_true(iv->ntop[0] > 0 && iv->ntop[1] > 0);
		assert_int_equal(iv->lost, i == 2 ? 3 : 0);
	}
	assert_true(r.has_tail);
	assert_int_equal(r.tail.bands[BAND_LT_P50].requests + r.tail.bands[BAND_P50_P99].requests +
			     r.tail.bands[BAND_GE_P99].requests,
			 12000);
	/* the slow ones stall in the journal: >= p99 is mostly append */
	assert_true(r.tail.bands[BAND_GE_P99].phase_pct[ATTRIB_APPEND] > 90.0);
	assert_string_equal(r.tail.top_stack[0],
			    "jbd2_log_wait_commit;ext4_sync_file;vfs_fsync_range;stack7");
	assert_int_equal(r.nfolded, 2);
	assert_string_equal(r.folded[0].stack,
			    "append;vfs_fsync_range;ext4_sync_file;jbd2_log_wait_commit");
	assert_int_equal(r.folded[0].us, 1200);
	assert_int_equal(r.counts.completed, 12000);
	assert_int_equal(r.lost.socket_lost, 3);
	assert_true(r.duration_s == 60.0);
	assert_string_equal(rec_metric_name(REC_M_PHASE + ATTRIB_APPEND, name, sizeof(name)),
			    "phase.append");
	assert_int_equal(rec_metric_parse("cause.journal"), REC_M_CAUSE + CAUSE_JOURNAL);
	assert_int_equal(rec_metric_parse("api.Fetch"), REC_M_API + 1);
	assert_int_equal(rec_metric_parse("nope"), -1);
	rec_free(&r);
}

static void assert_hists_equal(const struct hist *a, const struct hist *b)
{
	assert_true((a == NULL) == (b == NULL));
	if (a)
		assert_memory_equal(a, b, sizeof(*a));
}

/* Two brokers' recordings merged equal one recording of both's requests. */
/* --follow: the intervals' gap and the trailer's lives read back; a
 * recording without them has none. */
static void test_follow_round_trip(void **state)
{
	struct rec_fixture_opts o;
	struct report_run run;
	struct rec r;

	(void)state;
	rec_fixture_defaults(&o);
	assert_int_equal(rec_fixture_load(&r, &o), 0);
	assert_int_equal(r.lives.n, 0);
	assert_int_equal(r.gap_intervals, 0);
	rec_report_run(&r, &run);
	assert_null(run.lives);
	rec_free(&r);
	o.follow = true;
	assert_int_equal(rec_fixture_load(&r, &o), 0);
	assert_int_equal(r.gap_intervals, 1);
	assert_int_equal(r.gap_ns, 2500000000ull);
	assert_int_equal(r.iv[1].gap_ns, 2500000000ull);
	assert_int_equal(r.iv[0].gap_ns, 0);
	assert_int_equal(r.lives.n, 3);
	assert_int_equal(r.lives.nbrokers, 2);
	assert_int_equal(r.lives.v[0].broker, 0);
	assert_int_equal(r.lives.v[2].broker, 1);
	assert_int_equal(r.lives.v[2].pids[0], 300);
	assert_int_equal(r.lives.v[2].records, 40);
	assert_int_equal(r.lives.v[0].pids[0], 100);
	assert_int_equal(r.lives.v[0].npids, 1);
	assert_int_equal(r.lives.v[0].t_start, r.t_start_ns);
	assert_int_equal(r.lives.v[0].t_end, r.t_start_ns + 13000000000ll);
	assert_int_equal(r.lives.v[0].records, 50);
	assert_int_equal(r.lives.v[0].exit_unmatched, 1);
	assert_int_equal(r.lives.v[1].pids[0], 200);
	assert_int_equal(r.lives.v[1].t_end, 0);
	assert_int_equal(r.lives.v[1].produce, 2);
	rec_report_run(&r, &run);
	assert_ptr_equal(run.lives, &r.lives);
	assert_int_equal(run.lives_origin_ns, r.t_start_ns);
	assert_int_equal(run.gap_intervals, 1);
	rec_free(&r);
}

static void test_merge_equals_union(void **state)
{
	struct rec_fixture_opts o[2];
	char pa[128], pb[128], pu[128], err[256];
	const char *ab[2] = {tmp_path(pa, sizeof(pa), "a"), tmp_path(pb, sizeof(pb), "b")};
	const char *u[1] = {tmp_path(pu, sizeof(pu), "u")};
	struct rec m, one;

	(void)state;
	rec_fixture_defaults(&o[0]);
	rec_fixture_defaults(&o[1]);
	o[1].seed = 99;
	o[1].per_interval = 1500;
	o[1].scale = 1.7;
	assert_int_equal(rec_fixture_write(pa, &o[0]), 0);
	assert_int_equal(rec_fixture_write(pb, &o[1]), 0);
	assert_int_equal(rec_fixture_write_streams(pu, o, 2), 0);
	assert_int_equal(rec_load(&m, ab, 2, err, sizeof(err)), 0);
	assert_int_equal(rec_load(&one, u, 1, err, sizeof(err)), 0);
	assert_int_equal(m.niv, 12);
	assert_int_equal(one.niv, 6);
	for (unsigned int k = 0; k < REC_METRICS; k++)
		assert_hists_equal(m.m[k], one.m[k]);
	for (unsigned int w = 0; w < AGG_HISTS; w++)
		for (int k = 0; k < AGG_MAX_API; k++)
			assert_hists_equal(agg_hist(&m.agg, w, k), agg_hist(&one.agg, w, k));
	assert_memory_equal(m.agg.requests, one.agg.requests, sizeof(m.agg.requests));
	assert_true(m.agg.produce_bytes == one.agg.produce_bytes);
	/* the tail composition, bands and the time of >= p99, exactly */
	assert_memory_equal(m.tail.bands, one.tail.bands, sizeof(m.tail.bands));
	assert_memory_equal(m.tail.time, one.tail.time, sizeof(m.tail.time));
	for (unsigned int k = 0; k < BAND_TOPS; k++) {
		assert_int_equal(m.tail.ntop[k], one.tail.ntop[k]);
		for (size_t i = 0; i < m.tail.ntop[k]; i++) {
			assert_string_equal(m.tail.top[k][i].key, one.tail.top[k][i].key);
			assert_int_equal(m.tail.top[k][i].requests, one.tail.top[k][i].requests);
			assert_int_equal(m.tail.top[k][i].total_ns, one.tail.top[k][i].total_ns);
		}
	}
	assert_int_equal(m.counts.completed, one.counts.completed);
	/* the folded stacks of both files add up */
	assert_int_equal(m.folded[0].us, 2400);
	rec_free(&m);
	rec_free(&one);
	unlink(pa);
	unlink(pb);
	unlink(pu);
}

static void test_killed_run(void **state)
{
	struct rec_fixture_opts o;
	struct rec r;

	(void)state;
	rec_fixture_defaults(&o);
	o.trailer = false;
	assert_int_equal(rec_fixture_load(&r, &o), 0);
	assert_false(r.files[0].complete);
	assert_false(r.has_tail);
	assert_null(r.bands);
	assert_int_equal(r.niv, 6);
	assert_int_equal(agg_count(&r.agg, 0), 12000);
	rec_free(&r);
}

static void assert_fixture_loss(const struct report_loss *l, uint64_t times)
{
	assert_int_equal(l->socket[KLT_LOST_RESPONSE], 2 * times);
	assert_int_equal(l->socket[KLT_LOST_PRODUCE], 1 * times);
	assert_int_equal(report_loss_ring(l, REPORT_RING_SOCKET), 3 * times);
	assert_int_equal(l->causes[KLC_EV_OFFCPU - KLC_EV_FILE], 1 * times);
	assert_int_equal(report_loss_ring(l, REPORT_RING_CAUSES), 1 * times);
	assert_int_equal(l->touched, 3 * times);
	assert_int_equal(l->produce_touched, 2 * times);
	assert_int_equal(l->causes_touched, 1 * times);
}

/* The run's loss is the trailer's; a killed run's, its intervals' sum;
 * a complete file merged with a killed one, both. */
static void test_loss(void **state)
{
	char pa[128], pb[128], err[256];
	const char *ab[2] = {tmp_path(pa, sizeof(pa), "a"), tmp_path(pb, sizeof(pb), "b")};
	struct rec_fixture_opts o;
	struct report_run run;
	struct rec r;

	(void)state;
	rec_fixture_defaults(&o);
	o.per_interval = 100;
	o.loss = true;
	assert_int_equal(rec_fixture_write(pa, &o), 0);
	o.trailer = false;
	assert_int_equal(rec_fixture_write(pb, &o), 0);
	for (uint32_t n = 1; n <= 2; n++) {
		assert_int_equal(rec_load(&r, ab + 2 - n, 1, err, sizeof(err)), 0);
		assert_int_equal(r.loss_intervals, 2);
		assert_true(report_loss_any(&r.iv[2].loss) && report_loss_any(&r.iv[4].loss));
		rec_report_run(&r, &run);
		assert_fixture_loss(&run.loss, 1);
		/* the kernel's totals: the trailer's, or the intervals' */
		assert_int_equal(r.lost.socket_lost, 3);
		assert_int_equal(r.lost.cause_lost, 1);
		rec_free(&r);
	}
	assert_int_equal(rec_load(&r, ab, 2, err, sizeof(err)), 0);
	assert_int_equal(r.loss_intervals, 4);
	rec_report_run(&r, &run);
	assert_fixture_loss(&run.loss, 2);
	assert_int_equal(r.lost.socket_lost, 6);
	assert_int_equal(r.lost.cause_lost, 2);
	rec_free(&r);
	unlink(pa);
	unlink(pb);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 24);

	assert_non_null(f);
	*len = fread(buf, 1, 1 << 24, f);
	fclose(f);
	return buf;
}

static int load_mem(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	const void *bufs[1] = {buf};
	const char *names[1] = {"bad.data"};
	struct rec r;
	int res = rec_load_mem(&r, bufs, &len, names, 1, err, errlen);

	if (!res)
		rec_free(&r);
	return res;
}

static void expect_error(const uint8_t *buf, size_t len, const char *what)
{
	char err[256] = "";

	assert_true(load_mem(buf, len, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "bad.data"));
	assert_null(strchr(err, '\n'));
	if (!strstr(err, what))
		fail_msg("error \"%s\" lacks \"%s\"", err, what);
}

/* Bad input: every kind gets a one-line error naming the file and where. */
static void test_bad_input(void **state)
{
	struct rec_fixture_opts o;
	char path[128], err[256];
	size_t len;
	uint8_t *buf;

	(void)state;
	rec_fixture_defaults(&o);
	o.intervals = 2;
	tmp_path(path, sizeof(path), "bad");
	assert_int_equal(rec_fixture_write(path, &o), 0);
	buf = slurp(path, &len);
	assert_int_equal(load_mem(buf, len, err, sizeof(err)), 0);
	expect_error(buf, len - 7, "offset"); /* truncated */
	expect_error(buf, 0, "empty");	      /* empty */
	expect_error((const uint8_t *)"PK\x03\x04 zip", 8, "not a kafkalat recording");
	buf[len - 20] ^= 0x40; /* CRC-corrupted */
	expect_error(buf, len, "CRC");
	buf[len - 20] ^= 0x40;
	buf[8] = 9; /* the container's version */
	expect_error(buf, len, "offset 8");
	free(buf);
	unlink(path);
}

/* A record that is not meta first, and a wrong schema, in valid containers. */
static void test_bad_records(void **state)
{
	char path[128];
	struct recfile_writer *f;
	struct tlv_buf t;
	size_t len;
	uint8_t *buf;

	(void)state;
	tlv_init(&t);
	tmp_path(path, sizeof(path), "schema");
	assert_int_equal(recfile_create(&f, path, false), 0);
	tlv_u64(&t, 1, 77);
	assert_int_equal(recfile_append(f, REC_TYPE_META, t.p, t.len), 0);
	assert_int_equal(recfile_close(f), 0);
	buf = slurp(path, &len);
	expect_error(buf, len, "schema 77");
	free(buf);
	unlink(path);
	assert_int_equal(recfile_create(&f, path, false), 0);
	assert_int_equal(recfile_append(f, REC_TYPE_INTERVAL, t.p, t.len), 0);
	assert_int_equal(recfile_close(f), 0);
	buf = slurp(path, &len);
	expect_error(buf, len, "not a meta record");
	free(buf);
	unlink(path);
	tlv_free(&t);
}

/* A recording of the layout before replication (9 phases, 17 causes),
 * written by main's writer from this fixture (intervals 1, per_interval
 * 200, slow_share 0.05; tests/data/recordings/main-9phases.kld): it loads
 * and reads as the same fixture written now, its phases moved to their
 * places and the phases and cause it lacks 0. */
static void test_old_layout(void **state)
{
	struct rec_fixture_opts o;
	struct rec old, now;
	char path[512], err[256] = "";
	const char *dir = getenv("KAFKALAT_TEST_DATA"), *paths[1] = {path};

	(void)state;
	snprintf(path, sizeof(path), "%s/recordings/main-9phases.kld", dir ? dir : "tests/data");
	assert_int_equal(rec_load(&old, paths, 1, err, sizeof(err)), 0);
	rec_fixture_defaults(&o);
	o.intervals = 1;
	o.per_interval = 200;
	o.slow_share = 0.05;
	assert_int_equal(rec_fixture_load(&now, &o), 0);
	assert_int_equal(old.niv, 1);
	assert_true(old.has_tail && now.has_tail);
	assert_int_equal(old.iv[0].nslow, now.iv[0].nslow);
	for (uint32_t k = 0; k < old.iv[0].nslow; k++) {
		const struct rec_slow *a = &old.iv[0].slow[k], *b = &now.iv[0].slow[k];

		assert_memory_equal(a->phase_ns, b->phase_ns, sizeof(a->phase_ns));
		assert_memory_equal(a->cause_ns, b->cause_ns, sizeof(a->cause_ns));
		assert_memory_equal(a->root_ns, b->root_ns, sizeof(a->root_ns));
	}
	assert_true(old.iv[0].slow[0].phase_ns[ATTRIB_SEND] > 0);
	for (int b = 0; b < BANDS; b++) {
		assert_int_equal(old.tail.bands[b].requests, now.tail.bands[b].requests);
		assert_memory_equal(old.tail.bands[b].phase_pct, now.tail.bands[b].phase_pct,
				    sizeof(old.tail.bands[b].phase_pct));
		assert_memory_equal(old.tail.bands[b].cause_pct, now.tail.bands[b].cause_pct,
				    sizeof(old.tail.bands[b].cause_pct));
		assert_memory_equal(old.iv[0].bands[b].phase_pct, now.iv[0].bands[b].phase_pct,
				    sizeof(old.iv[0].bands[b].phase_pct));
	}
	assert_true(old.tail.bands[BAND_LT_P50].phase_pct[ATTRIB_SEND] > 0);
	assert_true(old.tail.bands[BAND_LT_P50].phase_pct[ATTRIB_REPLICATION] == 0);
	assert_memory_equal(old.iv[0].ge_p99.phase_pct, now.iv[0].ge_p99.phase_pct,
			    sizeof(old.iv[0].ge_p99.phase_pct));
	assert_int_equal(old.m[REC_M_PHASE + ATTRIB_SEND]->count, 200);
	assert_int_equal(old.m[REC_M_PHASE + ATTRIB_SEND]->sum,
			 now.m[REC_M_PHASE + ATTRIB_SEND]->sum);
	assert_null(old.m[REC_M_PHASE + ATTRIB_REPLICATION]);
	rec_free(&old);
	rec_free(&now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_follow_round_trip),
	    cmocka_unit_test(test_merge_equals_union),
	    cmocka_unit_test(test_killed_run),
	    cmocka_unit_test(test_loss),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_bad_records),
	    cmocka_unit_test(test_old_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
