// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "kafkalat/cause_events.h"
#include "kafkalat/agg.h"
#include "kafkalat/fmt.h"
#include "kafkalat/report.h"
#include "sink.h"

/* Latencies that are bucket midpoints, so their quantiles are exact. */
/* 2 ms: [2^20, 2^21) in buckets of 1024 ns, 1953 * 1024 = 1999872, + 511 */
#define L_FAST 2000383u /* mid of the bucket of 2 ms: 2000.383 us */
/* 50 ms: [2^25, 2^26) in buckets of 32768 ns, 1525 * 32768 = 49971200, + 16383 */
#define L_SLOW 49987583u /* mid of the bucket of 50 ms: 49987.583 us */
/* 100 us: [2^16, 2^17) in buckets of 64 ns, 1562 * 64 = 99968, + 31 */
#define L_APIV 99999u /* mid of the bucket of 100 us: 99.999 us */

#define HOUR_NS (3600ll * 1000000000ll)

static char *read_all(const char *path, size_t *len)
{
	FILE *in = fopen(path, "rb");
	char *buf;
	long n;

	if (!in)
		return NULL;
	assert_int_equal(fseek(in, 0, SEEK_END), 0);
	n = ftell(in);
	assert_true(n >= 0);
	rewind(in);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, in), (size_t)n);
	buf[n] = '\0';
	fclose(in);
	*len = (size_t)n;
	return buf;
}

/* Compares with tests/data/<name>; KAFKALAT_UPDATE_GOLDEN=1 rewrites it. */
static void expect_golden(const char *name, const char *got)
{
	const char *dir = getenv("KAFKALAT_TEST_DATA");
	size_t len = 0, got_len = strlen(got);
	char path[512];
	char *want;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	if (getenv("KAFKALAT_UPDATE_GOLDEN")) {
		FILE *out = fopen(path, "wb");

		assert_non_null(out);
		assert_int_equal(fwrite(got, 1, got_len, out), got_len);
		assert_int_equal(fclose(out), 0);
	}
	want = read_all(path, &len);
	if (!want)
		fail_msg("cannot read %s (run from the repository root)", path);
	if (len != got_len || memcmp(want, got, len))
		fail_msg("%s differs; got:\n%s", path, got);
	free(want);
}

static int utc(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

/* --- formatting ------------------------------------------------------------ */

static void expect_ns(uint64_t ns, const char *want)
{
	char buf[32];

	fmt_ns(ns, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_fmt_ns(void **state)
{
	(void)state;
	expect_ns(0, "0ns");
	expect_ns(999, "999ns");
	expect_ns(1000, "1.00us");
	expect_ns(1234, "1.23us");
	expect_ns(12345, "12.3us");
	expect_ns(123456, "123us");
	expect_ns(1234567, "1.23ms");
	expect_ns(12345678, "12.3ms");
	expect_ns(123456789, "123ms");
	expect_ns(1234567890, "1.23s");
	expect_ns(12345678901ull, "12.35s");
}

static void test_fmt_ns_truncates(void **state)
{
	char buf[4];

	(void)state;
	fmt_ns(1234567, buf, sizeof(buf));
	assert_string_equal(buf, "1.2");
}

/* 3 significant digits also where rounding carries into the next decade. */
static void test_regression_fmt_ns_rounding_carry(void **state)
{
	(void)state;
	expect_ns(99999, "100us");
	expect_ns(9999, "10.0us");
	expect_ns(999999, "1.00ms");
	expect_ns(9999999, "10.0ms");
	expect_ns(999999999, "1.00s");
}

/* The --follow messages' lists: joined, "none" for no pid, cut short. */
static void test_fmt_lists(void **state)
{
	const int pids[] = {100, 20001};
	const uint16_t ports[] = {9092, 19093};
	char buf[32], tiny[6];

	(void)state;
	fmt_pids(pids, 2, buf, sizeof(buf));
	assert_string_equal(buf, "100,20001");
	fmt_pids(pids, 0, buf, sizeof(buf));
	assert_string_equal(buf, "none");
	fmt_pids(pids, 2, tiny, sizeof(tiny));
	assert_string_equal(tiny, "100,2");
	fmt_ports(ports, 2, buf, sizeof(buf));
	assert_string_equal(buf, "9092,19093");
	fmt_ports(ports, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	fmt_ports(ports, 2, tiny, sizeof(tiny));
	assert_string_equal(tiny, "9092,");
}

static void test_fmt_wall(void **state)
{
	char buf[32];

	(void)state;
	fmt_wall(5250000000ull, HOUR_NS, buf, sizeof(buf));
	assert_string_equal(buf, "01:00:05.250000");
	fmt_wall(123456789, 0, buf, sizeof(buf));
	assert_string_equal(buf, "00:00:00.123456");
	fmt_wall(0, 86399ll * 1000000000ll + 999999999ll, buf, sizeof(buf));
	assert_string_equal(buf, "23:59:59.999999");
}

/* --- fixtures --------------------------------------------------------------- */

static struct corr_request completed(int16_t api_key, uint64_t lat)
{
	struct corr_request r;

	memset(&r, 0, sizeof(r));
	r.api_key = api_key;
	r.t_first = 1000000000;
	r.t_read = r.t_first + 1000;
	r.t_resp = r.t_first + lat - 100;
	r.t_end = r.t_first + lat;
	/* on the wire as long as in the broker: the figures read alike */
	r.t_arrival = r.t_complete = r.t_first;
	r.t_sent = r.t_end;
	if (api_key == 0) {
		r.produce_parsed = true;
		r.acks = -1;
		r.record_bytes = 1000;
		r.records = 10;
	}
	return r;
}

static void add_n(struct agg *a, struct corr_request r, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(agg_add(a, &r), 0);
}

/* 100 Produce (95 fast, 5 slow), 3 acks=0, 2 Metadata, 1 ApiVersions. */
static void fixed_agg(struct agg *a)
{
	struct corr_request acks0 = completed(0, 0);

	agg_init(a);
	acks0.acks = 0;
	acks0.t_resp = acks0.t_end = 0;
	add_n(a, completed(0, L_FAST), 95);
	add_n(a, completed(0, L_SLOW), 5);
	add_n(a, acks0, 3);
	add_n(a, completed(3, L_FAST), 2);
	add_n(a, completed(18, L_APIV), 1);
}

static void fixed_counts(struct corr_counts *n)
{
	memset(n, 0, sizeof(*n));
	n->events = 1000;
	n->connections = 5;
	n->preexisting = 1;
	n->requests = 110;
	n->responses = 104;
	n->completed = 103;
	n->acks0 = 3;
	n->partial = 1;
	n->unmatched_responses = 1;
	n->unmatched[CORR_UNM_SKIPPED] = 2;
	n->produce_unmatched[CORR_UNM_SKIPPED] = 1;
	n->unmatched[CORR_UNM_CLOSED] = 1;
	n->produce_unmatched[CORR_UNM_CLOSED] = 1;
	n->undecodable_conns = 2;
	n->undecodable[KLT_BAD_TLS] = 1;
	n->undecodable[KLT_BAD_SIZE] = 1;
	n->wire_skipped_conns = 1;
	n->sent_events = 4;
	n->flow_events = 3;
	n->flow_unclaimed_ns = 2500000;
	n->arrival_backlog = 2;
	n->arrival_records = 5;
	n->arrival_records_dropped = 1;
	n->arrival_evicted = 2;
}

static void fixed_run(struct report_run *run, const struct corr_counts *n)
{
	memset(run, 0, sizeof(*run));
	run->pid = 4242;
	snprintf(run->comm, sizeof(run->comm), "java");
	run->ports[0] = 9092;
	run->ports[1] = 9093;
	run->nports = 2;
	run->duration_s = 12.5;
	run->lost_events = 3;
	run->loss.socket[KLT_LOST_PRODUCE] = 2;
	run->loss.socket[KLT_EV_SENT] = 1;
	run->loss.touched = 5;
	run->loss.produce_touched = 4;
	run->conn_table_full = 1;
	run->resync_skipped = 2;
	run->kernel.arrivals = 97;
	run->kernel.arrival_unknown = 4;
	run->kernel.sent_later = 1;
	run->counts = n;
}

static void test_fixture_midpoints(void **state)
{
	(void)state;
	assert_int_equal(hist_bucket_mid(hist_bucket_of(2000000)), L_FAST);
	assert_int_equal(hist_bucket_mid(hist_bucket_of(50000000)), L_SLOW);
	assert_int_equal(hist_bucket_mid(hist_bucket_of(100000)), L_APIV);
}

/* --- summary ---------------------------------------------------------------- */

static void summary_json(struct sink *s)
{
	struct agg a;
	struct corr_counts n;
	struct report_run run;

	fixed_agg(&a);
	fixed_counts(&n);
	fixed_run(&run, &n);
	report_summary_json(sink_open(s), &a, &run);
	agg_free(&a);
}

static void test_summary_json_golden(void **state)
{
	struct sink s;

	(void)state;
	summary_json(&s);
	expect_golden("report_summary.golden.json", sink_text(&s));
	free(s.buf);
}

static void test_summary_json_contract(void **state)
{
	struct sink s;
	const char *j;

	(void)state;
	summary_json(&s);
	j = sink_text(&s);
	assert_int_equal(strncmp(j, "{\"schema\":\"kafkalat/2\",", 23), 0);
	assert_int_equal(strchr(j, '\n') - j, (long)strlen(j) - 1); /* one line */
	assert_contains(j, "\"broker\":{\"pid\":4242,");
	assert_contains(j, "\"ports\":[9092,9093]}");
	assert_contains(j, ",\"duration_s\":12.5,");
	assert_contains(j, ",\"lost_events\":3,");
	assert_contains(j, "\"produce\":{\"requests\":100,\"acks0\":3,\"unmatched\":2,");
	assert_contains(j, "\"latency_us\":{\"p50\":2000.383,\"p90\":2000.383,"
			   "\"p99\":49987.583,\"p999\":49987.583,\"max\":49987.583,");
	assert_contains(
	    j, "\"apis\":{\"Produce\":{\"requests\":100,\"latency_us\":{\"p50\":2000.383,");
	assert_contains(j, "\"Metadata\":{\"requests\":2,\"latency_us\":{\"p50\":2000.383,");
	assert_contains(j, "\"ApiVersions\":{\"requests\":1,\"latency_us\":{\"p50\":99.999,");
	assert_contains(j, "\"undecodable\":{\"connections\":2,"
			   "\"reasons\":{\"bad_frame_size\":1,\"tls\":1}}");
	assert_contains(j, "\"connections\":{\"seen\":5,\"preexisting\":1,\"untracked\":1,"
			   "\"wire_skipped\":1}");
	assert_contains(j, "\"bad_events\":0,\"wire\":{\"sent_records\":4,\"flow_records\":3,"
			   "\"flow_unclaimed_us\":2500,\"arrival_backlog\":2,\"arrival_records\":5,"
			   "\"arrival_records_dropped\":1,\"arrival_unresolved\":2},\"kernel\":{");
	free(s.buf);
}

static void test_summary_json_empty(void **state)
{
	struct agg a;
	struct corr_counts n;
	struct report_run run;
	struct sink s;
	const char *j;

	(void)state;
	agg_init(&a);
	memset(&n, 0, sizeof(n));
	fixed_run(&run, &n);
	run.nports = 0;
	report_summary_json(sink_open(&s), &a, &run);
	j = sink_text(&s);
	assert_contains(j, "\"ports\":[]");
	assert_contains(j, "\"produce\":{\"requests\":0,\"acks0\":0,\"unmatched\":0,");
	assert_contains(j, "\"latency_us\":{\"p50\":0,\"p90\":0,\"p99\":0,\"p999\":0,\"max\":0,");
	assert_contains(j, "\"apis\":{}");
	assert_contains(j, "\"undecodable\":{\"connections\":0,\"reasons\":{}}");
	free(s.buf);
	agg_free(&a);
}

static void test_summary_text(void **state)
{
	struct agg a;
	struct corr_counts n;
	struct report_run run;
	struct sink s;
	const char *t;

	(void)state;
	fixed_agg(&a);
	fixed_counts(&n);
	fixed_run(&run, &n);
	report_summary_text(sink_open(&s), &a, &run);
	t = sink_text(&s);
	assert_contains(t, "\nSummary: broker pid 4242 (java), port 9092,9093, 12.5 s\n");
	assert_contains(t, "total     Produce                8.0    2.00ms    2.00ms    50.0ms"
			   "    50.0ms    50.0ms     50.0ms       0\n");
	assert_contains(t, "  broker latency (first read to last write, as Kafka's TotalTimeMs): "
			   "p50 2.00ms, p99 50.0ms, p99.9 50.0ms, max 50.0ms\n");
	assert_contains(t, "  produce requests without wire times: 0\n");
	assert_contains(t, "  produce: 1030 records, 103000 record bytes\n");
	assert_contains(t, "  connections 5 (1 open before attach), requests 110, responses 104\n");
	assert_contains(t, "  produce acks=0 3, produce unmatched 2, unmatched (all apis) 3, "
			   "partial at attach 1\n");
	assert_contains(t, "    unmatched no_response  2\n");
	assert_contains(t, "    unmatched closed       1\n");
	assert_contains(t, "  responses without a request 1\n");
	assert_contains(t, "  lost events 3, undecodable connections 2\n");
	assert_contains(t, "    undecodable tls                  1\n");
	assert_contains(
	    t, "  connections not tracked (kernel table full) 1\n"
	       "  connections without wire times (kTLS or sockmap) 1\n"
	       "  wire records: sent 4, full receive windows 3 (2.50ms reaching no "
	       "request), requests arriving through the socket backlog 2, arrivals handed on "
	       "by the kernel 5 (1 not kept, 2 requests still without one)\n");
	free(s.buf);
	agg_free(&a);
}

/* Requests without wire times are counted by reason and shown apart; the
 * flow-control bound is its own line; both in JSON too. */
static void test_summary_wire_unknown_and_flow(void **state)
{
	struct agg a;
	struct corr_counts n;
	struct report_run run;
	struct corr_request r = completed(0, L_SLOW);
	struct sink s;
	const char *t;

	(void)state;
	fixed_agg(&a);
	fixed_counts(&n);
	fixed_run(&run, &n);
	r.t_sent = 0;
	r.wire = CORR_WIRE_SENT_UNRESOLVED;
	add_n(&a, r, 2);
	r = completed(0, L_FAST);
	r.t_arrival = 0;
	r.wire = CORR_WIRE_BEFORE_ATTACH;
	add_n(&a, r, 1);
	r = completed(0, L_FAST);
	r.flow_blocked_ns = 3000000;
	add_n(&a, r, 1);
	report_summary_text(sink_open(&s), &a, &run);
	t = sink_text(&s);
	assert_contains(t, "  produce requests without wire times: 3 (arrived_before_attach 1) "
			   "(sent_unresolved 2), not in the latency; their broker latency p50 "
			   "50.0ms, p99 50.0ms, p99.9 50.0ms, max 50.0ms\n");
	assert_contains(t, "  flow control (not in the latency): 1 produce requests arrived after "
			   "a full receive window, 3.00ms in all; bound p50 3.00ms, p99 3.00ms, "
			   "p99.9 3.00ms, max 3.00ms\n");
	free(s.buf);
	report_summary_json(sink_open(&s), &a, &run);
	t = sink_text(&s);
	assert_contains(t, "\"wire_unknown\":3,\"wire_unknown_reasons\":{"
			   "\"arrived_before_attach\":1,\"sent_unresolved\":2},"
			   "\"wire_unknown_broker_latency_us\":{\"p50\":49987.583,");
	assert_contains(t, "\"flow_blocked\":{\"requests\":1,\"p99_us\":3000,"
			   "\"max_us\":3000,\"total_us\":3000}},");
	free(s.buf);
	agg_free(&a);
}

/* kafkalat's own cost: per produce request (100 in fixed_agg), BPF time
 * only when it was counted, nothing at all for a replay */
static void test_summary_cost(void **state)
{
	struct agg a, none;
	struct corr_counts n;
	struct report_run run;
	struct sink s;

	(void)state;
	fixed_agg(&a);
	agg_init(&none);
	fixed_counts(&n);
	fixed_run(&run, &n);
	run.cost = (struct report_cost){.measured = true,
					.cpu_s = 0.25,
					.bpf_counted = true,
					.bpf_ns = 1000000,
					.bpf_runs = 5050};
	report_summary_json(sink_open(&s), &a, &run);
	assert_contains(
	    sink_text(&s),
	    ",\"cost\":{\"cpu_s\":0.25,\"cpu_us_per_request\":2500,\"bpf_counted\":true,"
	    "\"bpf_ns\":1000000,\"bpf_runs\":5050,\"bpf_ns_per_request\":10000,"
	    "\"bpf_runs_per_request\":50.5}");
	free(s.buf);
	report_summary_text(sink_open(&s), &a, &run);
	assert_contains(sink_text(&s), "  kafkalat's own cost: CPU 0.250 s (2500.00 us per produce "
				       "request); BPF programs 0.001 s in 5050 runs (10.00 us and "
				       "50.5 runs per produce request)\n");
	free(s.buf);

	run.cost.bpf_counted = false;
	report_summary_json(sink_open(&s), &a, &run);
	assert_contains(
	    sink_text(&s),
	    ",\"cost\":{\"cpu_s\":0.25,\"cpu_us_per_request\":2500,\"bpf_counted\":false}");
	free(s.buf);
	report_summary_text(sink_open(&s), &a, &run);
	assert_contains(sink_text(&s), "  kafkalat's own cost: CPU 0.250 s (2500.00 us per produce "
				       "request); BPF time not counted (--bpf-stats)\n");
	free(s.buf);

	/* no produce request: no per-request figures */
	run.cost.bpf_counted = true;
	report_summary_json(sink_open(&s), &none, &run);
	assert_contains(sink_text(&s), ",\"cost\":{\"cpu_s\":0.25,\"bpf_counted\":true,"
				       "\"bpf_ns\":1000000,\"bpf_runs\":5050}");
	free(s.buf);
	report_summary_text(sink_open(&s), &none, &run);
	assert_contains(sink_text(&s),
			"  kafkalat's own cost: CPU 0.250 s; BPF programs 0.001 s in "
			"5050 runs\n");
	free(s.buf);

	run.cost.measured = false;
	report_summary_json(sink_open(&s), &a, &run);
	assert_null(strstr(sink_text(&s), "\"cost\""));
	free(s.buf);
	report_summary_text(sink_open(&s), &a, &run);
	assert_null(strstr(sink_text(&s), "own cost"));
	free(s.buf);
	agg_free(&a);
	agg_free(&none);
}

/* --- intervals -------------------------------------------------------------- */

static const char interval_header[] = "TIME      API                  REQ/S       P50       P90  "
				      "     P99     P99.9       MAX BROKER_P99  NOWIRE\n";

static void test_interval_header(void **state)
{
	struct sink s;

	(void)state;
	report_interval_header(sink_open(&s));
	expect_text(&s, interval_header);
}

static void test_interval_rows(void **state)
{
	struct agg a;
	struct sink s;

	(void)state;
	fixed_agg(&a);
	report_interval_text(sink_open(&s), &a, 2.0, "12:00:01", NULL);
	expect_text(&s, "12:00:01  Produce                 50    2.00ms    2.00ms    50.0ms    "
			"50.0ms    50.0ms     50.0ms       0\n"
			"          Metadata               1.0    2.00ms    2.00ms    2.00ms    "
			"2.00ms    2.00ms     2.00ms       0\n"
			"          ApiVersions            0.5     100us     100us     100us     "
			"100us     100us      100us       0\n");
	agg_free(&a);
}

static void test_interval_idle(void **state)
{
	struct agg a;
	struct sink s;

	(void)state;
	agg_init(&a);
	report_interval_text(sink_open(&s), &a, 1.0, "12:00:02", NULL);
	expect_text(&s,
		    "12:00:02  Produce                0.0         -         -         -         "
		    "-         -          -       0\n");
	report_interval_text(sink_open(&s), &a, 0.0, "x", NULL);
	expect_text(&s,
		    "x         Produce                0.0         -         -         -         "
		    "-         -          -       0\n");
	agg_free(&a);
}

static void test_interval_json(void **state)
{
	struct agg a;
	struct sink s;
	const char *text;
	struct report_loss none = {0},
			   lost = {.socket = {[KLT_EV_FRAME] = 3, [KLT_LOST_RESPONSE] = 1},
				   .causes = {[KLC_EV_OFFCPU - KLC_EV_FILE] = 5},
				   .touched = 7,
				   .produce_touched = 6,
				   .causes_touched = 2};

	(void)state;
	agg_init(&a);
	report_interval_json(sink_open(&s), &a, 1.0, "12:00:02", NULL, &none);
	expect_text(&s, "{\"schema\":\"kafkalat/2\",\"type\":\"interval\",\"time\":\"12:00:02\","
			"\"interval_s\":1,\"produce\":{\"requests\":0,\"rate\":0,\"acks0\":0,"
			"\"latency_us\":{\"p50\":0,\"p90\":0,\"p99\":0,\"p999\":0,\"max\":0,"
			"\"mean\":0},\"broker_latency_us\":{\"p50\":0,\"p90\":0,\"p99\":0,"
			"\"p999\":0,\"max\":0,\"mean\":0},\"wire_unknown\":0,\"flow_blocked\":{"
			"\"requests\":0,\"p99_us\":0,\"max_us\":0,\"total_us\":0}},\"apis\":{},"
			"\"loss\":false,\"lost\":{\"socket\":0,\"socket_kinds\":{},\"causes\":0,"
			"\"causes_kinds\":{},\"touched_requests\":0,\"touched_produce\":0,"
			"\"unattributed_lost_causes\":0}}\n");
	add_n(&a, completed(0, L_FAST), 4);
	report_interval_json(sink_open(&s), &a, 2.0, "t", NULL, &lost);
	text = sink_text(&s);
	assert_contains(text, "\"produce\":{\"requests\":4,\"rate\":2,\"acks0\":0,"
			      "\"latency_us\":{\"p50\":2000.383,");
	assert_contains(text,
			"\"loss\":true,\"lost\":{\"socket\":4,\"socket_kinds\":{\"request\":3,"
			"\"response\":1},\"causes\":5,\"causes_kinds\":{\"offcpu\":5},"
			"\"touched_requests\":7,\"touched_produce\":6,"
			"\"unattributed_lost_causes\":2}}\n");
	free(s.buf);
	agg_free(&a);
}

/* --- per-request lines ------------------------------------------------------ */

static const struct corr_topic topics[2] = {{.name = "orders"}, {.name = "logs"}};
static const struct corr_part parts[3] = {
    {.topic_idx = 0, .partition = 3, .record_bytes = 100, .records = 2, .batches = 1},
    {.topic_idx = 0, .partition = 4, .record_bytes = 200, .records = 3, .batches = 1},
    {.topic_idx = 1, .partition = 0, .record_bytes = 50, .records = 1, .batches = 1},
};

static struct corr_request sample(void)
{
	struct corr_request r;

	memset(&r, 0, sizeof(r));
	r.conn_id = 1;
	snprintf(r.client, sizeof(r.client), "127.0.0.1:40000");
	r.api_version = 9;
	r.corr_id = 7;
	snprintf(r.client_id, sizeof(r.client_id), "producer-1");
	r.size = 420;
	r.tid_read = 111;
	r.t_first = 5000000000ull;
	r.t_read = 5000001000ull;
	r.t_resp = 5000200000ull;
	r.t_end = 5000250000ull;
	r.produce_parsed = true;
	r.acks = -1;
	r.record_bytes = 350;
	r.records = 6;
	r.wire = CORR_WIRE_BEFORE_ATTACH;
	r.ntopics = 2;
	r.nparts = 3;
	r.topics = topics;
	r.parts = parts;
	return r;
}

static void test_request_json(void **state)
{
	struct corr_request r = sample();
	struct sink s;

	(void)state;
	r.t_arrival = 4999000000ull;
	r.t_complete = 4999000500ull;
	r.t_sent = r.t_end;
	r.wire = CORR_WIRE_KNOWN;
	r.flow_blocked_ns = 1500;
	r.throttle_ms = 20;
	r.arrival_backlog = true;
	report_request_json(sink_open(&s), &r, NULL);
	expect_text(&s, "{\"client\":\"127.0.0.1:40000\",\"corr\":7,\"api_version\":9,\"acks\":-1,"
			"\"client_id\":\"producer-1\",\"size\":420,\"partitions\":["
			"{\"topic\":\"orders\",\"partition\":3,\"bytes\":100,\"records\":2},"
			"{\"topic\":\"orders\",\"partition\":4,\"bytes\":200,\"records\":3},"
			"{\"topic\":\"logs\",\"partition\":0,\"bytes\":50,\"records\":1}],"
			"\"t_first_ns\":5000000000,\"t_read_ns\":5000001000,"
			"\"t_resp_ns\":5000200000,\"t_end_ns\":5000250000,"
			"\"t_arrival_ns\":4999000000,\"t_complete_ns\":4999000500,"
			"\"t_sent_ns\":5000250000,\"tid_read\":111,\"wire\":\"known\","
			"\"arrival_backlog\":true,\"flow_blocked_us\":1.5,\"throttle_ms\":20,"
			"\"latency_us\":1250,"
			"\"broker_latency_us\":250}\n");
}

static void test_request_json_acks0_and_odd(void **state)
{
	struct corr_request r = sample();
	struct corr_part odd = {.topic_idx = 9, .partition = -1, .record_bytes = -1};
	struct sink s;
	const char *j;

	(void)state;
	r.acks = 0;
	r.t_resp = r.t_end = 0;
	r.nparts = 1;
	r.parts = &odd;
	snprintf(r.client_id, sizeof(r.client_id), "a\"b\\c\xff");
	report_request_json(sink_open(&s), &r, NULL);
	j = sink_text(&s);
	assert_contains(j, "\"acks\":0,\"client_id\":\"a\\\"b\\\\c\\u00ff\",");
	assert_contains(j, "\"partitions\":[{\"topic\":\"?\",\"partition\":-1,\"bytes\":-1,"
			   "\"records\":0}]");
	assert_contains(j, "\"t_resp_ns\":0,\"t_end_ns\":0,");
	/* unknown wire times are null, never 0 */
	assert_contains(j, "\"t_arrival_ns\":null,\"t_complete_ns\":null,\"t_sent_ns\":null,");
	assert_contains(j, "\"tid_read\":111,\"flow_blocked_us\":0,\"latency_us\":null,"
			   "\"broker_latency_us\":null}\n");
	free(s.buf);
}

static void test_slow_header(void **state)
{
	struct sink s;

	(void)state;
	report_slow_header(sink_open(&s));
	expect_text(&s,
		    "TIME             CLIENT                CLIENT_ID        TOPIC-PARTITIONS    "
		    "              BYTES    LATENCY     BROKER       FLOW\n");
}

static void test_slow_text(void **state)
{
	struct corr_request r = sample();
	struct sink s;

	(void)state;
	report_slow_text(sink_open(&s), &r, HOUR_NS, NULL);
	expect_text(&s, "01:00:05.000250  127.0.0.1:40000       producer-1       "
			"orders-3,orders-4,logs-0            350          -      250us          -\n"
			"    wire times unknown: arrived_before_attach\n");
	r.t_arrival = r.t_complete = r.t_first - 1000000;
	r.t_sent = r.t_end + 2000;
	r.wire = CORR_WIRE_KNOWN;
	r.flow_blocked_ns = 3000000;
	report_slow_text(sink_open(&s), &r, HOUR_NS, NULL);
	expect_text(&s,
		    "01:00:05.000250  127.0.0.1:40000       producer-1       "
		    "orders-3,orders-4,logs-0            350     1.25ms      250us     3.00ms\n");
	r.nparts = 0;
	r.record_bytes = 0;
	report_slow_text(sink_open(&s), &r, HOUR_NS, NULL);
	/* "-" padded to 28, then bytes and latency right-aligned in 10 */
	expect_text(&s, "01:00:05.000250  127.0.0.1:40000       producer-1       "
			"-                           "
			"          0     1.25ms      250us     3.00ms\n");
}

static void test_slow_text_many_partitions(void **state)
{
	struct corr_request r = sample();
	struct corr_part many[60];
	struct sink s;
	const char *t, *end;

	(void)state;
	for (int i = 0; i < 60; i++)
		many[i] = (struct corr_part){.topic_idx = 0, .partition = 1000 + i};
	r.parts = many;
	r.nparts = 60;
	report_slow_text(sink_open(&s), &r, HOUR_NS, NULL);
	t = sink_text(&s);
	end = strstr(t, "... ");
	assert_non_null(end);
	assert_int_equal(strncmp(t + 56, "orders-1000,orders-1001,", 24), 0);
	assert_int_equal(end + 3 - (t + 56), 255); /* the field's buffer, full */
	free(s.buf);
}

static void test_slow_json(void **state)
{
	struct corr_request r = sample();
	struct sink s;
	const char *j;

	(void)state;
	report_slow_json(sink_open(&s), &r, HOUR_NS, NULL);
	j = sink_text(&s);
	assert_contains(j,
			"{\"schema\":\"kafkalat/2\",\"type\":\"slow\",\"time\":\"01:00:05.000250\","
			"\"client\":\"127.0.0.1:40000\",\"corr\":7,");
	assert_contains(j, "\"wire\":\"arrived_before_attach\",\"flow_blocked_us\":0,"
			   "\"latency_us\":null,\"broker_latency_us\":250}\n");
	free(s.buf);
}

/* Not attributed (no causes traced): a request's lines still say how long it
 * waited behind the request before it on its connection, from its times:
 * here from its arrival (1 ms before its first read) until that request's
 * response left, 0.6 ms later. */
static void test_hol_without_causes(void **state)
{
	struct corr_request r = sample();
	struct sink s;

	(void)state;
	r.wire = CORR_WIRE_KNOWN;
	r.t_arrival = r.t_complete = r.t_first - 1000000;
	r.t_sent = r.t_end;
	r.has_prev = true;
	r.prev_corr_id = 6;
	r.prev_t_start = r.t_first - 3000000;
	r.prev_t_done = r.t_first - 400000;
	report_slow_text(sink_open(&s), &r, HOUR_NS, NULL);
	expect_text(&s, "01:00:05.000250  127.0.0.1:40000       producer-1       "
			"orders-3,orders-4,logs-0            350     1.25ms      250us          -\n"
			"    waited 600us in the socket behind corr 6\n");
	report_request_json(sink_open(&s), &r, NULL);
	assert_contains(sink_text(&s), "\"broker_latency_us\":250,\"hol\":{\"us\":600,"
				       "\"behind_corr\":6}}\n");
	free(s.buf);
	r.has_prev = false;
	report_slow_text(sink_open(&s), &r, HOUR_NS, NULL);
	assert_null(strstr(sink_text(&s), "waited"));
	free(s.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fmt_ns),
	    cmocka_unit_test(test_fmt_ns_truncates),
	    cmocka_unit_test(test_regression_fmt_ns_rounding_carry),
	    cmocka_unit_test(test_fmt_wall),
	    cmocka_unit_test(test_fmt_lists),
	    cmocka_unit_test(test_fixture_midpoints),
	    cmocka_unit_test(test_summary_json_golden),
	    cmocka_unit_test(test_summary_json_contract),
	    cmocka_unit_test(test_summary_json_empty),
	    cmocka_unit_test(test_summary_text),
	    cmocka_unit_test(test_summary_wire_unknown_and_flow),
	    cmocka_unit_test(test_summary_cost),
	    cmocka_unit_test(test_interval_header),
	    cmocka_unit_test(test_interval_rows),
	    cmocka_unit_test(test_interval_idle),
	    cmocka_unit_test(test_interval_json),
	    cmocka_unit_test(test_request_json),
	    cmocka_unit_test(test_request_json_acks0_and_odd),
	    cmocka_unit_test(test_slow_header),
	    cmocka_unit_test(test_slow_text),
	    cmocka_unit_test(test_slow_text_many_partitions),
	    cmocka_unit_test(test_slow_json),
	    cmocka_unit_test(test_hol_without_causes),
	};

	return cmocka_run_group_tests(tests, utc, NULL);
}
