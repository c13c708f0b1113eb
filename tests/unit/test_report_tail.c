// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The tail reporters: the summary's tail section (text and JSON) from a
 * report_tail built by hand, a request's attribution in --requests and
 * --slower lines, the contract names of docs/json.md, and one run through
 * the explainer into report_tail_fill. */
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

#include "kafkalat/cause_events.h"
#include "kafkalat/json.h"
#include "kafkalat/report.h"
#include "kafkalat/explain.h"
#include "sink.h"
#include "explain_scenario.h"

#define HOUR_NS (3600ll * 1000000000ll)
#define MS_NS	1000000ull

/* The names docs/json.md promises, in the order they are written. */
static const char *const band_contract[] = {"lt_p50", "p50_p99", "ge_p99", "ge_p999"};
static const char *const phase_contract[] = {
    "recv",	   "socket_wait", "read",	    "queue", "lock",	  "append",
    "post_append", "replication", "response_queue", "send",  "send_queue"};
static const char *const cause_contract[] = {
    "cpu",	  "runq",	"journal",	"writeback", "dirty_throttle",
    "blkio",	  "inode_lock", "futex",	"pagefault", "reclaim",
    "net",	  "other",	"queued",	"hol",	     "throttle_mute",
    "net_thread", "unknown",	"replica_fetch"};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* report_tail_json inside an object of its own, as the summary writes it. */
static void tail_json(struct sink *s, const struct report_tail *rt)
{
	struct json j;

	json_init(&j, sink_open(s));
	json_obj_begin(&j);
	report_tail_json(&j, rt);
	json_obj_end(&j);
	assert_false(j.error);
}

/* report_attrib_json inside an object of its own. */
static void attrib_json(struct sink *s, const struct report_attrib *a)
{
	struct json j;

	json_init(&j, sink_open(s));
	json_obj_begin(&j);
	report_attrib_json(&j, a);
	json_obj_end(&j);
	assert_false(j.error);
}

static int utc(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

/* --- a report_tail by hand --------------------------------------------------- */

static void set_pcts(double *v, unsigned n, const double *src)
{
	for (unsigned i = 0; i < n; i++)
		v[i] = src[i];
}

/*
 * 1000 attributed requests: < p50 100us-2ms mostly on CPU, p50-p99 2ms-10ms
 * half in the journal, >= p99 10ms-250ms where the CPU leads the mean
 * shares with 40% but the journal has 70% of the time (the story follows
 * the time, and names the CPU next), >= p999 one request of 200ms-250ms,
 * not kept. Four unattributed (no_append 3, ambiguous 1), two stacks among
 * the tops (one whose stack was not recorded), the journal overlap of
 * >= p999.
 */
static void fixed_tail(struct report_tail *rt)
{
	static const double ph[BANDS][ATTRIB_PHASES] = {
	    {0, 0, 5, 10, 5, 60, 10, 0, 0, 10},
	    {0, 0, 2, 3, 5, 80, 5, 0, 0, 5},
	    {0, 0, 1, 2, 7, 70, 10, 0, 0, 10},
	    {0, 0, 0.5, 0.5, 1, 95, 2, 0, 0, 1},
	};
	static const double tph[2][ATTRIB_PHASES] = {
	    {0, 0, 1, 1, 3, 85, 5, 0, 0, 5},
	    {0, 0, 0.5, 0.5, 1, 95, 2, 0, 0, 1},
	};
	double ca[BANDS][ATTRIB_CAUSES] = {{0}};

	memset(rt, 0, sizeof(*rt));
	ca[0][CAUSE_CPU] = 70;
	ca[0][CAUSE_RUNQ] = 10;
	ca[0][ATTRIB_CAUSE_QUEUED] = 20;
	ca[1][CAUSE_CPU] = 40;
	ca[1][CAUSE_JOURNAL] = 50;
	ca[1][ATTRIB_CAUSE_QUEUED] = 10;
	ca[2][CAUSE_CPU] = 40;
	ca[2][CAUSE_JOURNAL] = 35;
	ca[2][ATTRIB_CAUSE_QUEUED] = 20.5;
	ca[2][CAUSE_RUNQ] = 4;
	ca[2][CAUSE_WRITEBACK] = 0.5; /* below 1%: not in the text */
	ca[3][CAUSE_JOURNAL] = 90;
	ca[3][CAUSE_CPU] = 10;
	rt->bands[BAND_LT_P50] =
	    (struct band_summary){.requests = 900, .lo_ns = 100000, .hi_ns = 2000000};
	rt->bands[BAND_P50_P99] =
	    (struct band_summary){.requests = 90, .lo_ns = 2000000, .hi_ns = 10000000};
	rt->bands[BAND_GE_P99] =
	    (struct band_summary){.requests = 10, .lo_ns = 10000000, .hi_ns = 250000000};
	rt->bands[BAND_GE_P999] =
	    (struct band_summary){.requests = 1, .lo_ns = 200000000, .hi_ns = 250000000};
	for (unsigned b = 0; b < BANDS; b++) {
		set_pcts(rt->bands[b].phase_pct, ATTRIB_PHASES, ph[b]);
		set_pcts(rt->bands[b].cause_pct, ATTRIB_CAUSES, ca[b]);
	}
	rt->top[BAND_TOP_PARTITION][0] = (struct band_top){
	    .key = "orders-3", .stack_id = -1, .requests = 6, .total_ns = 600 * MS_NS};
	rt->top[BAND_TOP_PARTITION][1] = (struct band_top){
	    .key = "orders-1", .stack_id = -1, .requests = 4, .total_ns = 400 * MS_NS};
	rt->ntop[BAND_TOP_PARTITION] = 2;
	rt->top[BAND_TOP_CLIENT][0] = (struct band_top){
	    .key = "10.0.0.1:4000", .stack_id = -1, .requests = 10, .total_ns = 1000 * MS_NS};
	rt->ntop[BAND_TOP_CLIENT] = 1;
	rt->top[BAND_TOP_STACK][0] = (struct band_top){.key = "journal:wait_transaction_locked",
						       .stack_id = 1,
						       .requests = 7,
						       .total_ns = 700 * MS_NS};
	snprintf(rt->top_stack[0], sizeof(rt->top_stack[0]), "a;b;c");
	rt->top[BAND_TOP_STACK][1] = (struct band_top){.key = "other:folio_wait_bit_common",
						       .stack_id = -1,
						       .requests = 2,
						       .total_ns = 3500000};
	rt->ntop[BAND_TOP_STACK] = 2;
	rt->time[0] = (struct band_time){.requests = 10, .complete = true, .total_ns = 900 * MS_NS};
	set_pcts(rt->time[0].phase_pct, ATTRIB_PHASES, tph[0]);
	rt->time[0].cause_pct[CAUSE_JOURNAL] = 70;
	rt->time[0].cause_pct[CAUSE_CPU] = 15;
	rt->time[0].cause_pct[CAUSE_RUNQ] = 5;
	rt->time[0].cause_pct[ATTRIB_CAUSE_QUEUED] = 8.6;
	rt->time[0].cause_pct[CAUSE_WRITEBACK] = 1;
	rt->time[0].cause_pct[CAUSE_DIRTY_THROTTLE] = 0.4; /* below 1%: not in the text */
	/* no head-of-line waits: the root causes are the causes */
	memcpy(rt->time[0].root_pct, rt->time[0].cause_pct, sizeof(rt->time[0].root_pct));
	rt->time[0].flow_requests = 3;
	rt->time[0].flow_max_ns = 2 * MS_NS;
	rt->time[0].flow_total_ns = 5 * MS_NS;
	rt->time[1] = (struct band_time){.requests = 1, .total_ns = 250 * MS_NS};
	set_pcts(rt->time[1].phase_pct, ATTRIB_PHASES, tph[1]);
	rt->time[1].cause_pct[CAUSE_JOURNAL] = 90;
	rt->time[1].cause_pct[CAUSE_CPU] = 10;
	memcpy(rt->time[1].root_pct, rt->time[1].cause_pct, sizeof(rt->time[1].root_pct));
	rt->journal = (struct journal_overlap){.requests = 1,
					       .commits = 2,
					       .commit_longest_ns = 180 * MS_NS,
					       .commit_dev = (8u << 20) | 1u,
					       .requests_with_commit = 1,
					       .block_ios = 5,
					       .block_longest_ns = 90 * MS_NS,
					       .block_dev = 8u << 20};
	rt->attrib.unmatched[ATTRIB_MATCHED] = 1000;
	rt->attrib.unmatched[ATTRIB_UNM_NO_APPEND] = 3;
	rt->attrib.unmatched[ATTRIB_UNM_AMBIGUOUS] = 1;
	rt->attrib.ambiguous_resolved = 2;
	rt->attrib.by_batch_id = 3;
	rt->attrib.dropped = 5;
	rt->attrib.threads_full = 1;
	rt->attrib.bytes = 123456;
	rt->stats.segment_writes = 2000;
	rt->stats.unnamed_writes = 4;
	rt->stats.early = 1;
	rt->stats.commits = 50;
	rt->stats.block_requests = 700;
	rt->lost_events = 7;
	rt->stack_errors = 2;
	rt->file_events = "tracepoints";
	rt->no_wire = 5;
}

static const char tail_header[] =
    "\nTail composition of produce requests (bands by latency; the mean share of each "
    "request's latency):\n"
    "  band      requests  latency              recv socket_    read   queue    lock  append "
    "post_ap    send send_qu\n";

static void test_tail_text(void **state)
{
	struct report_tail rt;
	struct sink s;

	(void)state;
	fixed_tail(&rt);
	report_tail_text(sink_open(&s), &rt);
	expect_text(
	    &s,
	    "\nTail composition of produce requests (bands by latency; the mean share of each "
	    "request's latency):\n"
	    "  band      requests  latency              recv socket_    read   queue    lock  "
	    "append post_ap    send send_qu\n"
	    "  < p50          900  100us-2.00ms         0.0%    0.0%    5.0%   10.0%    5.0%   "
	    "60.0%   "
	    "10.0%   10.0%    0.0%\n"
	    "  p50-p99         90  2.00ms-10.0ms        0.0%    0.0%    2.0%    3.0%    5.0%   "
	    "80.0%    "
	    "5.0%    5.0%    0.0%\n"
	    "  >= p99          10  10.0ms-250ms         0.0%    0.0%    1.0%    2.0%    7.0%   "
	    "70.0%   "
	    "10.0%   10.0%    0.0%\n"
	    "  >= p999          1  200ms-250ms          0.0%    0.0%    0.5%    0.5%    1.0%   "
	    "95.0%    "
	    "2.0%    1.0%    0.0%\n"
	    "  causes:\n"
	    "  < p50    cpu 70.0%, queued 20.0%, runq 10.0%\n"
	    "  p50-p99  journal 50.0%, cpu 40.0%, queued 10.0%\n"
	    "  >= p99   cpu 40.0%, journal 35.0%, queued 20.5%, runq 4.0%\n"
	    "  >= p999  journal 90.0%, cpu 10.0%\n"
	    "  by time (each phase's and cause's share of the band's summed latency):\n"
	    "  >= p99   10 requests, 900ms: append 85%, post_append 5%, send 5%, lock 3%, read 1%, "
	    "queue 1%; journal 70%, cpu 15%, queued 9%, runq 5%, writeback 1%\n"
	    "           flow control: 3 of them arrived after a full receive window: up to 2.00ms "
	    "more each, 5.00ms in all, not in the latency\n"
	    "  >= p999  1 request (the slowest kept), 250ms: append 95%, post_append 2%, lock 1%, "
	    "send 1%; journal 90%, cpu 10%\n"
	    "  attributed 1000, not attributed 4 (no_append 3) (ambiguous 1); without wire times, "
	    "not "
	    "in the bands 5; cause events lost 7; "
	    "handler chosen by time order 2; handler chosen by batch id 3; writes to unnamed files "
	    "4; attributed before their "
	    "causes arrived 1\n"
	    "\nWhy the tail is slow: the slowest produce requests (>= p99: 10 requests of 10.0ms "
	    "to 250ms, 900ms in all) spent 85% of their time in the append phase.\n"
	    "  The largest cause is journal, 70% of their time: waiting for the filesystem journal "
	    "(jbd2) to commit.\n"
	    "  Next: cpu, 15%: running on a CPU.\n"
	    "  Where in the kernel (journal:wait_transaction_locked): a <- b <- c\n"
	    "  top kernel stacks behind >= p99 (cause:frame, requests, time):\n"
	    "    journal:wait_transaction_locked  7 requests, 700ms\n"
	    "      a <- b <- c\n"
	    "    other:folio_wait_bit_common  2 requests, 3.50ms\n"
	    "      (stack not recorded)\n"
	    "  top partitions behind >= p99: orders-3 (6), orders-1 (4)\n"
	    "  top clients behind >= p99: 10.0.0.1:4000 (10)\n"
	    "  journal commits overlapping the 1 >= p999 requests: 2 (1 of the requests "
	    "overlapped one), longest 180ms on 8:1\n"
	    "  block I/O overlapping them: 5, longest 90.0ms on 8:0\n");
}

/* The by-time story leads, not the mean shares: a cause with no stack
 * recorded names none; a second cause under 10% is not named; a truncated
 * top; long stacks cut at 16 frames in the story and 14 in the tops; no
 * commits and no block I/O. */
static void test_tail_text_variants(void **state)
{
	static const char sixteen[] =
	    "f1 <- f2 <- f3 <- f4 <- f5 <- f6 <- f7 <- f8 <- f9 <- f10 <- "
	    "f11 <- f12 <- f13 <- f14";
	struct report_tail rt;
	struct sink s;
	const char *t;

	(void)state;
	fixed_tail(&rt);
	memset(rt.time[0].cause_pct, 0, sizeof(rt.time[0].cause_pct));
	rt.time[0].cause_pct[CAUSE_OTHER] = 85;
	rt.time[0].cause_pct[CAUSE_CPU] = 9.9;
	rt.time[0].cause_pct[CAUSE_RUNQ] = 5.1;
	rt.time[1].requests = 0;      /* >= p999 not kept: no line of its own */
	rt.time[0].flow_requests = 0; /* no bound: no flow-control line */
	rt.top_truncated = true;
	snprintf(rt.top_stack[0], sizeof(rt.top_stack[0]),
		 "f1;f2;f3;f4;f5;f6;f7;f8;f9;f10;f11;f12;f13;f14;f15;f16;f17");
	rt.journal.commits = rt.journal.requests_with_commit = 0;
	rt.journal.block_ios = 0;
	rt.attrib.unmatched[ATTRIB_UNM_NO_APPEND] = 0;
	rt.attrib.ambiguous_resolved = 0;
	rt.attrib.by_batch_id = 0;
	rt.stats.unnamed_writes = rt.stats.early = 0;
	rt.no_wire = 0;
	report_tail_text(sink_open(&s), &rt);
	t = sink_text(&s);
	assert_contains(t, "  >= p99   10 requests, 900ms: append 85%, post_append 5%, send 5%, "
			   "lock 3%, read 1%, queue 1%; other 85%, cpu 10%, runq 5%\n"
			   "  attributed 1000, not attributed 1 (ambiguous 1); cause events lost "
			   "7\n");
	assert_contains(t, "  The largest cause is other, 85% of their time: blocked in the kernel "
			   "elsewhere.\n"
			   "  top kernel stacks");
	assert_null(strstr(t, "Next:"));
	assert_null(strstr(t, "Where in the kernel"));
	assert_contains(t, "    journal:wait_transaction_locked  7 requests, 700ms\n      f1 <- f2 "
			   "<- f3 <- f4 <- f5 <- f6 <- f7 <- f8 <- f9 <- f10 <- f11 <- f12 <- "
			   "f13 <- f14 <- ...\n");
	assert_contains(t, "  top clients behind >= p99: 10.0.0.1:4000 (10)\n"
			   "  (tops from the slowest requests kept, not all of >= p99)\n"
			   "  journal commits overlapping the 1 >= p999 requests: 0 (0 of the "
			   "requests overlapped one)\n"
			   "  block I/O overlapping them: 0\n");
	free(s.buf);

	/* the journal leads again: its stack is shown, cut at 16 frames */
	fixed_tail(&rt);
	snprintf(rt.top_stack[0], sizeof(rt.top_stack[0]),
		 "f1;f2;f3;f4;f5;f6;f7;f8;f9;f10;f11;f12;f13;f14;f15;f16;f17");
	report_tail_text(sink_open(&s), &rt);
	t = sink_text(&s);
	assert_contains(t, "  Where in the kernel (journal:wait_transaction_locked): ");
	assert_contains(t, sixteen);
	assert_contains(t, " <- f15 <- f16 <- ...\n");
	free(s.buf);
	/* exactly 16 frames: no "..." */
	snprintf(rt.top_stack[0], sizeof(rt.top_stack[0]),
		 "f1;f2;f3;f4;f5;f6;f7;f8;f9;f10;f11;f12;f13;f14;f15;f16");
	report_tail_text(sink_open(&s), &rt);
	assert_contains(sink_text(&s), " <- f15 <- f16\n  top kernel stacks");
	free(s.buf);
}

/* Nothing attributed: the bands say so with "-", and nothing else follows. */
/* Requests that waited in the socket behind others stalled in the journal:
 * the story names the wait and what it waited behind, and the journal's
 * stack; the root causes line counts the wait as the journal's. */
static void test_tail_text_hol(void **state)
{
	struct report_tail rt;
	struct band_time *bt = &rt.time[0];
	struct sink s;
	const char *t;

	(void)state;
	fixed_tail(&rt);
	memset(bt->phase_pct, 0, sizeof(bt->phase_pct));
	memset(bt->cause_pct, 0, sizeof(bt->cause_pct));
	memset(bt->root_pct, 0, sizeof(bt->root_pct));
	bt->phase_pct[ATTRIB_SOCKET_WAIT] = 93;
	bt->phase_pct[ATTRIB_APPEND] = 7;
	bt->cause_pct[ATTRIB_CAUSE_HOL] = 93;
	bt->cause_pct[CAUSE_JOURNAL] = 5;
	bt->cause_pct[CAUSE_CPU] = 2;
	bt->hol_pct[CAUSE_JOURNAL] = 93;
	bt->root_pct[CAUSE_JOURNAL] = 98;
	bt->root_pct[CAUSE_CPU] = 2;
	bt->flow_requests = 0;
	report_tail_text(sink_open(&s), &rt);
	t = sink_text(&s);
	assert_contains(t, "  >= p99   10 requests, 900ms: socket_wait 93%, append 7%; hol 93%, "
			   "journal 5%, cpu 2%\n"
			   "           root causes (head-of-line waits shared out as the causes of "
			   "the requests waited behind): journal 98%, cpu 2%\n");
	assert_contains(t,
			"spent 93% of their time in the socket_wait phase.\n"
			"  The largest cause is hol, 93% of their time: waiting in the socket "
			"behind an earlier request on its connection.\n"
			"  93% of the >= p99 time: waiting in the socket behind requests stalled "
			"in the journal; with those waits shared out as their causes, journal is "
			"98% of it.\n"
			"  Where in the kernel (journal:wait_transaction_locked): a <- b <- c\n");
	free(s.buf);
}

static void test_tail_text_empty(void **state)
{
	struct report_tail rt;
	struct sink s;
	char want[2048];

	(void)state;
	memset(&rt, 0, sizeof(rt));
	snprintf(want, sizeof(want),
		 "%s"
		 "  < p50            0  -                    0.0%%    0.0%%    0.0%%    0.0%%    "
		 "0.0%%    0.0%%    0.0%%    0.0%%    0.0%%\n"
		 "  p50-p99          0  -                    0.0%%    0.0%%    0.0%%    0.0%%    "
		 "0.0%%    0.0%%    0.0%%    0.0%%    0.0%%\n"
		 "  >= p99           0  -                    0.0%%    0.0%%    0.0%%    0.0%%    "
		 "0.0%%    0.0%%    0.0%%    0.0%%    0.0%%\n"
		 "  >= p999          0  -                    0.0%%    0.0%%    0.0%%    0.0%%    "
		 "0.0%%    0.0%%    0.0%%    0.0%%    0.0%%\n"
		 "  causes:\n"
		 "  < p50    -\n"
		 "  p50-p99  -\n"
		 "  >= p99   -\n"
		 "  >= p999  -\n"
		 "  attributed 0, not attributed 0; cause events lost 0\n",
		 tail_header);
	report_tail_text(sink_open(&s), &rt);
	expect_text(&s, want);
}

static void test_tail_json(void **state)
{
	struct report_tail rt;
	struct sink s;

	(void)state;
	fixed_tail(&rt);
	tail_json(&s, &rt);
	expect_text(
	    &s, "{\"attribution\":{\"requests\":1000,\"unmatched\":{\"requests\":4,\"reasons\":{"
		"\"no_append\":3,\"ambiguous\":1}},\"no_wire\":5,\"handler_by_time_order\":2,\"ha"
		"ndler_by_batch_id\":3,\"lost_events\":7,\"stack_errors\":2,\"file_events\":"
		"\"tracepoints\",\"bad_records\""
		":0,\"segment_writes\":2000,\"unnamed_writes\":4,\"topic_ids\":0,\"unknown_topic_"
		"ids\":0,\"early\":1,\"history_dropped\":6,\"history_bytes\":123456},\"bands\":{"
		"\"lt_p50\":{\"requests\":900,\"min_us\":100,\"max_us\":2000,\"phases_pct\":{\"re"
		"cv\":0,\"socket_wait\":0,\"read\":5,\"queue\":10,\"lock\":5,\"append\":60,\"post"
		"_append\":10,\"replication\":0,\"response_queue\":0,\"send\":10,\"send_queue\":0"
		"},\"causes_pct\":{\"cpu\":70,\"runq\":10,\"journal\":0,\"writeback\":0,\"dirty_t"
		"hrottle\":0,\"blkio\":0,\"inode_lock\":0,\"futex\":0,\"pagefault\":0,\"reclaim\""
		":0,\"net\":0,\"other\":0,\"queued\":20,\"hol\":0,\"throttle_mute\":0,\"net_threa"
		"d\":0,\"unknown\":0,\"replica_fetch\":0}},\"p50_p99\":{\"requests\":90,\"min_us"
		"\":2000,\"max_us\":10000,\"phases_pct\":{\"recv\":0,\"socket_wait\":0,\"read\":2"
		",\"queue\":3,\"lock\":5,\"append\":80,\"post_append\":5,\"replication\":0,\"resp"
		"onse_queue\":0,\"send\":5,\"send_queue\":0},\"causes_pct\":{\"cpu\":40,\"runq\":"
		"0,\"journal\":50,\"writeback\":0,\"dirty_throttle\":0,\"blkio\":0,\"inode_lock\""
		":0,\"futex\":0,\"pagefault\":0,\"reclaim\":0,\"net\":0,\"other\":0,\"queued\":10"
		",\"hol\":0,\"throttle_mute\":0,\"net_thread\":0,\"unknown\":0,\"replica_fetch\":"
		"0}},\"ge_p99\":{\"requests\":10,\"min_us\":10000,\"max_us\":250000,\"phases_pct"
		"\":{\"recv\":0,\"socket_wait\":0,\"read\":1,\"queue\":2,\"lock\":7,\"append\":70"
		",\"post_append\":10,\"replication\":0,\"response_queue\":0,\"send\":10,\"send_qu"
		"eue\":0},\"causes_pct\":{\"cpu\":40,\"runq\":4,\"journal\":35,\"writeback\":0.5,"
		"\"dirty_throttle\":0,\"blkio\":0,\"inode_lock\":0,\"futex\":0,\"pagefault\":0,\""
		"reclaim\":0,\"net\":0,\"other\":0,\"queued\":20.5,\"hol\":0,\"throttle_mute\":0,"
		"\"net_thread\":0,\"unknown\":0,\"replica_fetch\":0},\"by_time\":{\"requests\":10"
		",\"complete\":true,\"total_us\":900000,\"phases_pct\":{\"recv\":0,\"socket_wait"
		"\":0,\"read\":1,\"queue\":1,\"lock\":3,\"append\":85,\"post_append\":5,\"replica"
		"tion\":0,\"response_queue\":0,\"send\":5,\"send_queue\":0},\"causes_pct\":{\"cpu"
		"\":15,\"runq\":5,\"journal\":70,\"writeback\":1,\"dirty_throttle\":0.4,\"blkio\""
		":0,\"inode_lock\":0,\"futex\":0,\"pagefault\":0,\"reclaim\":0,\"net\":0,\"other"
		"\":0,\"queued\":8.6,\"hol\":0,\"throttle_mute\":0,\"net_thread\":0,\"unknown\":0"
		",\"replica_fetch\":0},\"root_causes_pct\":{\"cpu\":15,\"runq\":5,\"journal\":70,"
		"\"writeback\":1,\"dirty_throttle\":0.4,\"blkio\":0,\"inode_lock\":0,\"futex\":0,"
		"\"pagefault\":0,\"reclaim\":0,\"net\":0,\"other\":0,\"queued\":8.6,\"hol\":0,\"t"
		"hrottle_mute\":0,\"net_thread\":0,\"unknown\":0,\"replica_fetch\":0},\"hol_by_ro"
		"ot_pct\":{\"cpu\":0,\"runq\":0,\"journal\":0,\"writeback\":0,\"dirty_throttle\":"
		"0,\"blkio\":0,\"inode_lock\":0,\"futex\":0,\"pagefault\":0,\"reclaim\":0,\"net\""
		":0,\"other\":0,\"queued\":0,\"hol\":0,\"throttle_mute\":0,\"net_thread\":0,\"unk"
		"nown\":0,\"replica_fetch\":0},\"flow_blocked\":{\"requests\":3,\"max_us\":2000,"
		"\"total_us\":5000}}},\"ge_p999\":{\"requests\":1,\"min_us\":200000,\"max_us\":25"
		"0000,\"phases_pct\":{\"recv\":0,\"socket_wait\":0,\"read\":0.5,\"queue\":0.5,\"l"
		"ock\":1,\"append\":95,\"post_append\":2,\"replication\":0,\"response_queue\":0,"
		"\"send\":1,\"send_queue\":0},\"causes_pct\":{\"cpu\":10,\"runq\":0,\"journal\":9"
		"0,\"writeback\":0,\"dirty_throttle\":0,\"blkio\":0,\"inode_lock\":0,\"futex\":0,"
		"\"pagefault\":0,\"reclaim\":0,\"net\":0,\"other\":0,\"queued\":0,\"hol\":0,\"thr"
		"ottle_mute\":0,\"net_thread\":0,\"unknown\":0,\"replica_fetch\":0},\"by_time\":{"
		"\"requests\":1,\"complete\":false,\"total_us\":250000,\"phases_pct\":{\"recv\":0"
		",\"socket_wait\":0,\"read\":0.5,\"queue\":0.5,\"lock\":1,\"append\":95,\"post_ap"
		"pend\":2,\"replication\":0,\"response_queue\":0,\"send\":1,\"send_queue\":0},\"c"
		"auses_pct\":{\"cpu\":10,\"runq\":0,\"journal\":90,\"writeback\":0,\"dirty_thrott"
		"le\":0,\"blkio\":0,\"inode_lock\":0,\"futex\":0,\"pagefault\":0,\"reclaim\":0,\""
		"net\":0,\"other\":0,\"queued\":0,\"hol\":0,\"throttle_mute\":0,\"net_thread\":0,"
		"\"unknown\":0,\"replica_fetch\":0},\"root_causes_pct\":{\"cpu\":10,\"runq\":0,\""
		"journal\":90,\"writeback\":0,\"dirty_throttle\":0,\"blkio\":0,\"inode_lock\":0,"
		"\"futex\":0,\"pagefault\":0,\"reclaim\":0,\"net\":0,\"other\":0,\"queued\":0,\"h"
		"ol\":0,\"throttle_mute\":0,\"net_thread\":0,\"unknown\":0,\"replica_fetch\":0},"
		"\"hol_by_root_pct\":{\"cpu\":0,\"runq\":0,\"journal\":0,\"writeback\":0,\"dirty_"
		"throttle\":0,\"blkio\":0,\"inode_lock\":0,\"futex\":0,\"pagefault\":0,\"reclaim"
		"\":0,\"net\":0,\"other\":0,\"queued\":0,\"hol\":0,\"throttle_mute\":0,\"net_thre"
		"ad\":0,\"unknown\":0,\"replica_fetch\":0},\"flow_blocked\":{\"requests\":0,\"max"
		"_us\":0,\"total_us\":0}}}},\"top_partitions\":[{\"partition\":\"orders-3\",\"req"
		"uests\":6,\"latency_us_sum\":600000},{\"partition\":\"orders-1\",\"requests\":4,"
		"\"latency_us_sum\":400000}],\"top_clients\":[{\"client\":\"10.0.0.1:4000\",\"req"
		"uests\":10,\"latency_us_sum\":1000000}],\"top_stacks\":[{\"cause\":\"journal\","
		"\"frame\":\"wait_transaction_locked\",\"requests\":7,\"time_us\":700000,\"stack"
		"\":[\"a\",\"b\",\"c\"]},{\"cause\":\"other\",\"frame\":\"folio_wait_bit_common\""
		",\"requests\":2,\"time_us\":3500,\"stack\":[]}],\"journal\":{\"requests\":1,\"co"
		"mmits\":2,\"requests_with_commit\":1,\"longest_commit_us\":180000,\"commit_devic"
		"e\":\"8:1\",\"block_ios\":5,\"longest_block_io_us\":90000,\"block_device\":\"8:0"
		"\",\"commits_seen\":50,\"block_ios_seen\":700}}");
}

/* A stack key without a frame, one whose frame holds a colon, odd bytes. */
static void test_tail_json_stack_keys(void **state)
{
	struct report_tail rt;
	struct sink s;
	const char *j;

	(void)state;
	memset(&rt, 0, sizeof(rt));
	rt.top[BAND_TOP_STACK][0] = (struct band_top){.key = "blkio", .requests = 1};
	snprintf(rt.top_stack[0], sizeof(rt.top_stack[0]), "io_schedule");
	rt.top[BAND_TOP_STACK][1] =
	    (struct band_top){.key = "other:a:b\"c", .requests = 1, .total_ns = 1500};
	snprintf(rt.top_stack[1], sizeof(rt.top_stack[1]), "x;;y\n");
	rt.ntop[BAND_TOP_STACK] = 2;
	tail_json(&s, &rt);
	j = sink_text(&s);
	assert_contains(j, "\"top_stacks\":[{\"cause\":\"blkio\",\"requests\":1,\"time_us\":0,"
			   "\"stack\":[\"io_schedule\"]},{\"cause\":\"other\",\"frame\":"
			   "\"a:b\\\"c\",\"requests\":1,\"time_us\":1.5,\"stack\":[\"x\",\"\","
			   "\"y\\n\"]}],");
	free(s.buf);
}

static void test_tail_json_empty(void **state)
{
	struct report_tail rt;
	struct sink s;
	const char *j;

	(void)state;
	memset(&rt, 0, sizeof(rt));
	tail_json(&s, &rt);
	j = sink_text(&s);
	assert_contains(j, "{\"attribution\":{\"requests\":0,\"unmatched\":{\"requests\":0,"
			   "\"reasons\":{}},\"no_wire\":0,\"handler_by_time_order\":0,"
			   "\"handler_by_batch_id\":0,");
	assert_contains(j, "\"top_partitions\":[],\"top_clients\":[],\"top_stacks\":[],");
	assert_contains(j, "\"stack_errors\":0,\"file_events\":\"none\",\"bad_records\":0,");
	/* no devices without commits or block I/O */
	assert_contains(j, "\"journal\":{\"requests\":0,\"commits\":0,\"requests_with_commit\":0,"
			   "\"longest_commit_us\":0,\"block_ios\":0,\"longest_block_io_us\":0,"
			   "\"commits_seen\":0,\"block_ios_seen\":0}}");
	free(s.buf);
}

/* Every band, phase and cause name, in the contract's order. */
static void test_contract_names(void **state)
{
	struct report_tail rt;
	struct sink s;
	char want[16384];
	size_t off = 0;
	const char *j;

	(void)state;
	assert_int_equal(NELEMS(band_contract), BANDS);
	assert_int_equal(NELEMS(phase_contract), ATTRIB_PHASES);
	assert_int_equal(NELEMS(cause_contract), ATTRIB_CAUSES);
	for (unsigned i = 0; i < BANDS; i++)
		assert_string_equal(band_name(i), band_contract[i]);
	for (unsigned i = 0; i < ATTRIB_PHASES; i++)
		assert_string_equal(attrib_phase_name(i), phase_contract[i]);
	for (unsigned i = 0; i < ATTRIB_CAUSES; i++) {
		assert_string_equal(attrib_cause_name(i), cause_contract[i]);
		assert_string_not_equal(report_cause_words(i), "?");
		for (unsigned k = 0; k < i; k++)
			assert_string_not_equal(report_cause_words(i), report_cause_words(k));
	}
	assert_null(band_name(BANDS));
	assert_null(attrib_phase_name(ATTRIB_PHASES));
	assert_null(attrib_cause_name(ATTRIB_CAUSES));
	assert_string_equal(report_cause_words(ATTRIB_CAUSES), "?");

	/* the bands object of an empty run, built from the contract alone */
	off += (size_t)snprintf(want + off, sizeof(want) - off, "\"bands\":{");
	for (unsigned b = 0; b < NELEMS(band_contract); b++) {
		off += (size_t)snprintf(want + off, sizeof(want) - off,
					"%s\"%s\":{\"requests\":0,\"min_us\":0,\"max_us\":0,"
					"\"phases_pct\":{",
					b ? "," : "", band_contract[b]);
		for (unsigned p = 0; p < NELEMS(phase_contract); p++)
			off += (size_t)snprintf(want + off, sizeof(want) - off, "%s\"%s\":0",
						p ? "," : "", phase_contract[p]);
		off += (size_t)snprintf(want + off, sizeof(want) - off, "},\"causes_pct\":{");
		for (unsigned c = 0; c < NELEMS(cause_contract); c++)
			off += (size_t)snprintf(want + off, sizeof(want) - off, "%s\"%s\":0",
						c ? "," : "", cause_contract[c]);
		off += (size_t)snprintf(want + off, sizeof(want) - off, "}");
		if (b >= 2) { /* ge_p99, ge_p999: the same names weighted by time */
			off += (size_t)snprintf(want + off, sizeof(want) - off,
						",\"by_time\":{\"requests\":0,\"complete\":false,"
						"\"total_us\":0,\"phases_pct\":{");
			for (unsigned p = 0; p < NELEMS(phase_contract); p++)
				off +=
				    (size_t)snprintf(want + off, sizeof(want) - off, "%s\"%s\":0",
						     p ? "," : "", phase_contract[p]);
			off +=
			    (size_t)snprintf(want + off, sizeof(want) - off, "},\"causes_pct\":{");
			for (unsigned c = 0; c < NELEMS(cause_contract); c++)
				off +=
				    (size_t)snprintf(want + off, sizeof(want) - off, "%s\"%s\":0",
						     c ? "," : "", cause_contract[c]);
			for (unsigned k = 0; k < 2; k++) {
				off +=
				    (size_t)snprintf(want + off, sizeof(want) - off, "},\"%s\":{",
						     k ? "hol_by_root_pct" : "root_causes_pct");
				for (unsigned c = 0; c < NELEMS(cause_contract); c++)
					off += (size_t)snprintf(want + off, sizeof(want) - off,
								"%s\"%s\":0", c ? "," : "",
								cause_contract[c]);
			}
			off += (size_t)snprintf(want + off, sizeof(want) - off,
						"},\"flow_blocked\":{\"requests\":0,"
						"\"max_us\":0,\"total_us\":0}}");
		}
		off += (size_t)snprintf(want + off, sizeof(want) - off, "}");
	}
	off += (size_t)snprintf(want + off, sizeof(want) - off, "},");
	assert_true(off < sizeof(want));
	memset(&rt, 0, sizeof(rt));
	tail_json(&s, &rt);
	j = sink_text(&s);
	assert_contains(j, want);
	free(s.buf);

	/* a request's phases_us: post_append, or with its release found
	 * replication and response_queue instead */
	for (int released = 0; released < 2; released++) {
		struct attrib_result res = {
		    .unmatched = ATTRIB_MATCHED, .repl_asked = released, .released = released};
		struct report_attrib a = {.res = &res};
		bool first = true;

		off = (size_t)snprintf(want, sizeof(want), "\"phases_us\":{");
		for (unsigned p = 0; p < NELEMS(phase_contract); p++) {
			bool split = p == ATTRIB_REPLICATION || p == ATTRIB_RESPONSE_QUEUE;

			if (p == ATTRIB_POST_APPEND ? released : split && !released)
				continue;
			off += (size_t)snprintf(want + off, sizeof(want) - off, "%s\"%s\":0",
						first ? "" : ",", phase_contract[p]);
			first = false;
		}
		snprintf(want + off, sizeof(want) - off, "},");
		attrib_json(&s, &a);
		j = sink_text(&s);
		assert_contains(j, want);
		assert_int_equal(count_of(j, "\"phases_us\""), 1);
		free(s.buf);
	}
}

/* --- one request's attribution ---------------------------------------------- */

/* Matched: NET reads 1us, queued 30us, lock 9us, append 110us (100us in
 * the journal), post_append 50us, send 50us; 250us in all. */
static void matched(struct attrib_result *res)
{
	memset(res, 0, sizeof(*res));
	res->unmatched = ATTRIB_MATCHED;
	res->handler = 201;
	res->appends = 1;
	res->t_dequeue = 5000031000ull;
	res->t_append_start = 5000040000ull;
	res->t_append_end = 5000150000ull;
	res->latency_ns = 250000;
	res->phase_ns[ATTRIB_READ] = 1000;
	res->phase_ns[ATTRIB_QUEUE] = 30000;
	res->phase_ns[ATTRIB_LOCK] = 9000;
	res->phase_ns[ATTRIB_APPEND] = 110000;
	res->phase_ns[ATTRIB_POST_APPEND] = 50000;
	res->phase_ns[ATTRIB_SEND] = 50000;
	res->cause_ns[ATTRIB_READ][CAUSE_CPU] = 1000;
	res->cause_ns[ATTRIB_QUEUE][ATTRIB_CAUSE_QUEUED] = 29000;
	res->cause_ns[ATTRIB_QUEUE][CAUSE_RUNQ] = 1000;
	res->cause_ns[ATTRIB_LOCK][CAUSE_FUTEX] = 8000;
	res->cause_ns[ATTRIB_LOCK][CAUSE_CPU] = 1000;
	res->cause_ns[ATTRIB_APPEND][CAUSE_JOURNAL] = 100000;
	res->cause_ns[ATTRIB_APPEND][CAUSE_CPU] = 10000;
	res->cause_ns[ATTRIB_POST_APPEND][CAUSE_CPU] = 20000;
	res->cause_ns[ATTRIB_POST_APPEND][ATTRIB_CAUSE_QUEUED] = 30000;
	res->cause_ns[ATTRIB_SEND][CAUSE_CPU] = 40000;
	res->cause_ns[ATTRIB_SEND][CAUSE_NET] = 10000;
	res->top_cause = CAUSE_JOURNAL;
	res->top_phase = ATTRIB_APPEND;
	res->top_ns = 100000;
	res->top_stack_id = 1;
	res->top_frame = "wait_transaction_locked";
	res->top_waker_tid = 77;
	res->top_waker_comm = "jbd2/sda1-8";
	res->root_cause = CAUSE_JOURNAL;
	res->root_corr_id = 7;
}

/* No append found: read 1us and send 50us split, 199us unattributed. */
static void unmatched(struct attrib_result *res)
{
	memset(res, 0, sizeof(*res));
	res->unmatched = ATTRIB_UNM_NO_APPEND;
	res->latency_ns = 250000;
	res->phase_ns[ATTRIB_READ] = 1000;
	res->phase_ns[ATTRIB_SEND] = 50000;
	res->unattributed_ns = 199000;
	res->cause_ns[ATTRIB_READ][CAUSE_CPU] = 1000;
	res->cause_ns[ATTRIB_SEND][CAUSE_CPU] = 50000;
	res->top_cause = CAUSE_CPU;
	res->top_phase = ATTRIB_SEND;
	res->top_ns = 51000;
	res->top_stack_id = -1;
	res->top_frame = "";
	res->top_waker_comm = "";
	res->root_corr_id = 7;
}

static const char matched_json[] =
    "\"attrib\":\"matched\",\"handler_tid\":201,\"t_dequeue_ns\":5000031000,"
    "\"t_append_start_ns\":5000040000,\"t_append_end_ns\":5000150000,"
    "\"phases_us\":{\"recv\":0,\"socket_wait\":0,\"read\":1,\"queue\":30,\"lock\":9,"
    "\"append\":110,\"post_append\":50,\"send\":50,\"send_queue\":0},\"causes_us\":{\"cpu\":72,"
    "\"runq\":1,\"journal\":100,\"futex\":8,\"net\":10,"
    "\"queued\":59},\"top_cause\":\"journal\",\"top_phase\":\"append\",\"top_us\":100,"
    "\"top_waker\":\"jbd2/sda1-8\",\"root_cause\":\"journal\",\"root_corr\":7,"
    "\"stack\":[\"a\",\"b\",\"c\"]";

static const char matched_text[] =
    "    handler 201: recv 0ns socket_wait 0ns read 1.00us queue 30.0us lock 9.00us append 110us "
    "post_append 50.0us send 50.0us send_queue 0ns\n"
    "    top cause journal 100us in append (woken by jbd2/sda1-8): a <- b <- c\n";

static const char unmatched_json[] =
    "\"attrib\":\"no_append\",\"handler_tid\":0,\"phases_us\":{\"recv\":0,"
    "\"socket_wait\":0,\"read\":1,\"queue\":0,\"lock\":0,\"append\":0,\"post_append\":0,"
    "\"send\":50,\"send_queue\":0},\"unattributed_us\":199,\"causes_us\":{\"cpu\":51},"
    "\"top_cause\":\"cpu\",\"top_phase\":\"send\",\"top_us\":51,\"root_cause\":\"cpu\","
    "\"root_corr\":7";

static void test_attrib_matched(void **state)
{
	struct attrib_result res;
	struct report_attrib a = {.res = &res, .stack = "a;b;c"};
	struct sink s;
	char want[1024];

	(void)state;
	matched(&res);
	attrib_json(&s, &a);
	snprintf(want, sizeof(want), "{%s}", matched_json);
	expect_text(&s, want);
	report_attrib_text(sink_open(&s), &a);
	expect_text(&s, matched_text);

	/* no stack, no waker */
	a.stack = NULL;
	res.top_waker_tid = 0;
	attrib_json(&s, &a);
	assert_contains(sink_text(&s),
			",\"top_us\":100,\"root_cause\":\"journal\",\"root_corr\":7}");
	assert_null(strstr(s.buf, "top_waker"));
	assert_null(strstr(s.buf, "stack"));
	free(s.buf);
	report_attrib_text(sink_open(&s), &a);
	assert_contains(sink_text(&s), "    top cause journal 100us in append\n");
	free(s.buf);
	/* an empty stack is none; a waker without a name has "" in JSON only */
	a.stack = "";
	res.top_waker_tid = 9;
	res.top_waker_comm = "";
	attrib_json(&s, &a);
	assert_contains(sink_text(&s), ",\"top_us\":100,\"top_waker\":\"\",\"root_cause\":"
				       "\"journal\",\"root_corr\":7}");
	free(s.buf);
	report_attrib_text(sink_open(&s), &a);
	assert_contains(sink_text(&s), "    top cause journal 100us in append\n");
	free(s.buf);
}

/* CAUSE_OTHER is named after its frame: "other:<frame>", "other:unknown". */
static void test_attrib_other(void **state)
{
	struct attrib_result res;
	struct report_attrib a = {.res = &res, .stack = "folio_wait_bit_common;x"};
	struct sink s;

	(void)state;
	matched(&res);
	res.cause_ns[ATTRIB_APPEND][CAUSE_JOURNAL] = 0;
	res.cause_ns[ATTRIB_APPEND][CAUSE_OTHER] = 100000;
	res.top_cause = CAUSE_OTHER;
	res.top_frame = "folio_wait_bit_common";
	attrib_json(&s, &a);
	assert_contains(sink_text(&s), "\"causes_us\":{\"cpu\":72,\"runq\":1,\"futex\":8,"
				       "\"net\":10,\"other\":100,\"queued\":59},"
				       "\"top_cause\":\"other:folio_wait_bit_common\",");
	free(s.buf);
	report_attrib_text(sink_open(&s), &a);
	assert_contains(sink_text(&s), "    top cause other:folio_wait_bit_common 100us in append "
				       "(woken by jbd2/sda1-8): folio_wait_bit_common <- x\n");
	free(s.buf);
	res.top_frame = "";
	attrib_json(&s, &a);
	assert_contains(sink_text(&s), "\"top_cause\":\"other:unknown\",");
	free(s.buf);
	res.top_frame = NULL;
	report_attrib_text(sink_open(&s), &a);
	assert_contains(sink_text(&s), "    top cause other:unknown 100us in append");
	free(s.buf);
}

/* A request that waited behind another: its hol object and line. */
static void test_attrib_hol(void **state)
{
	struct attrib_result res;
	struct report_attrib a = {.res = &res};
	struct sink s;

	(void)state;
	matched(&res);
	res.hol_ns = 90000;
	res.hol_corr_id = 6;
	res.hol_root_cause = CAUSE_JOURNAL;
	res.hol_root_phase = ATTRIB_APPEND;
	res.hol_root_corr_id = 3;
	res.root_corr_id = 3;
	res.root_ns[CAUSE_CPU] = 60000;
	res.root_ns[CAUSE_JOURNAL] = 190000;
	attrib_json(&s, &a);
	assert_contains(sink_text(&s), "\"root_cause\":\"journal\",\"root_corr\":3,"
				       "\"root_causes_us\":{\"cpu\":60,\"journal\":190},\"hol\":{"
				       "\"us\":90,\"behind_corr\":6,\"root_cause\":\"journal\","
				       "\"root_phase\":\"append\",\"root_corr\":3}}");
	free(s.buf);
	report_attrib_text(sink_open(&s), &a);
	assert_contains(sink_text(&s), "    waited 90.0us in the socket behind corr 6, root cause "
				       "journal in append of corr 3\n");
	free(s.buf);
	res.unmatched = ATTRIB_UNM_NO_APPEND;
	report_attrib_text(sink_open(&s), &a);
	expect_text(&s, "    phases not attributed: no_append\n"
			"    waited 90.0us in the socket behind corr 6, root cause journal in "
			"append of corr 3\n");
}

static void test_attrib_unmatched(void **state)
{
	struct attrib_result res;
	struct report_attrib a = {.res = &res};
	struct sink s;
	char want[1024];

	(void)state;
	unmatched(&res);
	attrib_json(&s, &a);
	snprintf(want, sizeof(want), "{%s}", unmatched_json);
	expect_text(&s, want);
	report_attrib_text(sink_open(&s), &a);
	expect_text(&s, "    phases not attributed: no_append\n");
	res.unmatched = ATTRIB_UNM_AMBIGUOUS;
	report_attrib_text(sink_open(&s), &a);
	expect_text(&s, "    phases not attributed: ambiguous\n");
}

/* --- request lines with and without attribution ---------------------------- */

static const struct corr_topic topics[1] = {{.name = "orders"}};
static const struct corr_part parts[1] = {
    {.topic_idx = 0, .partition = 3, .record_bytes = 100, .records = 2, .batches = 1},
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
	r.t_arrival = 4999990000ull;
	r.t_complete = 4999990500ull;
	r.t_sent = 5000260000ull;
	r.produce_parsed = true;
	r.acks = -1;
	r.record_bytes = 100;
	r.records = 2;
	r.ntopics = 1;
	r.nparts = 1;
	r.topics = topics;
	r.parts = parts;
	return r;
}

static const char request_fields[] =
    "\"client\":\"127.0.0.1:40000\",\"corr\":7,\"api_version\":9,\"acks\":-1,"
    "\"client_id\":\"producer-1\",\"size\":420,\"partitions\":[{\"topic\":\"orders\","
    "\"partition\":3,\"bytes\":100,\"records\":2}],\"t_first_ns\":5000000000,"
    "\"t_read_ns\":5000001000,\"t_resp_ns\":5000200000,\"t_end_ns\":5000250000,"
    "\"t_arrival_ns\":4999990000,\"t_complete_ns\":4999990500,\"t_sent_ns\":5000260000,"
    "\"tid_read\":111,\"wire\":\"known\",\"flow_blocked_us\":0,\"latency_us\":270,"
    "\"broker_latency_us\":250";

static void test_request_json(void **state)
{
	struct corr_request r = sample();
	struct attrib_result res;
	struct report_attrib a = {.res = &res, .stack = "a;b;c"}, none = {.res = NULL};
	struct sink s;
	char want[2048];

	(void)state;
	snprintf(want, sizeof(want), "{%s}\n", request_fields);
	report_request_json(sink_open(&s), &r, NULL);
	expect_text(&s, want);
	report_request_json(sink_open(&s), &r, &none);
	expect_text(&s, want);
	matched(&res);
	snprintf(want, sizeof(want), "{%s,%s}\n", request_fields, matched_json);
	report_request_json(sink_open(&s), &r, &a);
	expect_text(&s, want);
	unmatched(&res);
	a.stack = NULL;
	snprintf(want, sizeof(want), "{%s,%s}\n", request_fields, unmatched_json);
	report_request_json(sink_open(&s), &r, &a);
	expect_text(&s, want);
}

static void test_slow_json(void **state)
{
	struct corr_request r = sample();
	struct attrib_result res;
	struct report_attrib a = {.res = &res, .stack = "a;b;c"};
	struct sink s;
	char want[2048];
	const char *head = "{\"schema\":\"kafkalat/2\",\"type\":\"slow\","
			   "\"time\":\"01:00:05.000250\",";

	(void)state;
	snprintf(want, sizeof(want), "%s%s}\n", head, request_fields);
	report_slow_json(sink_open(&s), &r, HOUR_NS, NULL);
	expect_text(&s, want);
	matched(&res);
	snprintf(want, sizeof(want), "%s%s,%s}\n", head, request_fields, matched_json);
	report_slow_json(sink_open(&s), &r, HOUR_NS, &a);
	expect_text(&s, want);
	unmatched(&res);
	a.stack = NULL;
	snprintf(want, sizeof(want), "%s%s,%s}\n", head, request_fields, unmatched_json);
	report_slow_json(sink_open(&s), &r, HOUR_NS, &a);
	expect_text(&s, want);
}

static void test_slow_text(void **state)
{
	struct corr_request r = sample();
	struct attrib_result res;
	struct report_attrib a = {.res = &res, .stack = "a;b;c"}, none = {.res = NULL};
	struct sink s;
	char want[1024];
	const char *line =
	    "01:00:05.000250  127.0.0.1:40000       producer-1       "
	    "orders-3                            100      270us      250us          -\n";

	(void)state;
	report_slow_text(sink_open(&s), &r, HOUR_NS, NULL);
	expect_text(&s, line);
	report_slow_text(sink_open(&s), &r, HOUR_NS, &none);
	expect_text(&s, line);
	matched(&res);
	snprintf(want, sizeof(want), "%s%s", line, matched_text);
	report_slow_text(sink_open(&s), &r, HOUR_NS, &a);
	expect_text(&s, want);
	unmatched(&res);
	snprintf(want, sizeof(want), "%s    phases not attributed: no_append\n", line);
	report_slow_text(sink_open(&s), &r, HOUR_NS, &a);
	expect_text(&s, want);
}

/* The summary carries the tail section only when the causes were traced. */
static void test_summary_tail(void **state)
{
	struct agg total;
	struct corr_counts n;
	struct report_run run;
	struct report_tail rt;
	struct sink s;
	const char *t;

	(void)state;
	agg_init(&total);
	memset(&n, 0, sizeof(n));
	memset(&run, 0, sizeof(run));
	run.counts = &n;
	snprintf(run.comm, sizeof(run.comm), "java");
	report_summary_text(sink_open(&s), &total, &run);
	assert_null(strstr(sink_text(&s), "Tail composition"));
	free(s.buf);
	report_summary_json(sink_open(&s), &total, &run);
	t = sink_text(&s);
	assert_null(strstr(t, "\"attribution\""));
	assert_null(strstr(t, "\"bands\""));
	free(s.buf);

	fixed_tail(&rt);
	run.tail = &rt;
	report_summary_text(sink_open(&s), &total, &run);
	t = sink_text(&s);
	assert_contains(t, tail_header);
	assert_contains(t, "  block I/O overlapping them: 5, longest 90.0ms on 8:0\n");
	free(s.buf);
	report_summary_json(sink_open(&s), &total, &run);
	t = sink_text(&s);
	assert_contains(t,
			"\"kernel\":{\"syscalls\":0,\"steps\":0,\"arrivals\":0,\"arrival_"
			"unknown\":0,\"sent_later\":0,\"arrival_no_ring\":0,\"arrival_backlog\":0,"
			"\"wire_skipped\":0,\"sent_events\":0,\"flow_events\":0,\"arrival_"
			"evicted\":0,\"arrival_events\":0,"
			"\"arrival_dropped\":0},\"attribution\":{"
			"\"requests\":1000,");
	assert_contains(t, "\"block_ios_seen\":700}}\n");
	assert_int_equal(strchr(t, '\n') - t, (long)strlen(t) - 1); /* one line */
	free(s.buf);
	agg_free(&total);
}

/* --- through the explainer ------------------------------------------------ */

/*
 * 300 requests 1 s apart: 100 fast (80us), 196 held 1 ms by a futex wait,
 * 3 held 100 ms and 1 held 200 ms in the journal. The p50 is the 150th (a
 * futex one), the p99 the 297th (the first journal one), the p999 the
 * 300th: < p50 is the fast ones, p50-p99 the futex ones, >= p99 the four
 * journal ones and >= p999 the slowest alone.
 */
static void test_fill_from_tail(void **state)
{
	struct explain *t = explain_new(NULL, stacks, NULL, NULL, NULL);
	struct klc_file_name_event nm = {.type = KLC_EV_FILE_NAME, .fd = 9, .ino = INO, .dev = DEV};
	struct report_tail *rt = calloc(1, sizeof(*rt));
	struct sink s;
	struct req q;
	const char *text;
	int i = 0;

	(void)state;
	assert_non_null(t);
	assert_non_null(rt);
	strcpy(nm.parent, "orders-3");
	strcpy(nm.name, "00000000000000000000.log");
	feed(t, &nm, sizeof(nm));
	for (; i < 300; i++) {
		double stall = i < 100 ? 0 : i < 296 ? 1 * MS : i < 299 ? 100 * MS : 200 * MS;

		one_request(t, &q, i, i * 1000.0 * MS, stall, i < 296 ? 2 : 1);
		assert_int_equal(explain_request(t, &q.r), 0);
		explain_advance(t, q.r.t_end + 300000000ull);
	}
	explain_finish(t);
	report_tail_fill(rt, t);
	assert_int_equal(rt->attrib.unmatched[ATTRIB_MATCHED], 300);
	assert_int_equal(rt->bands[BAND_LT_P50].requests, 100);
	assert_int_equal(rt->bands[BAND_P50_P99].requests, 196);
	assert_int_equal(rt->bands[BAND_GE_P99].requests, 4);
	assert_int_equal(rt->bands[BAND_GE_P999].requests, 1);
	for (unsigned b = 0; b < BANDS; b++)
		assert_true(rt->bands[b].lo_ns <= rt->bands[b].hi_ns);
	assert_true(rt->bands[BAND_GE_P999].lo_ns <= 200 * MS_NS + 80000);
	assert_true(rt->bands[BAND_GE_P999].hi_ns >= 200 * MS_NS + 80000);
	assert_true(rt->bands[BAND_GE_P99].lo_ns > 100 * MS_NS - 1000000);
	assert_true(rt->bands[BAND_GE_P99].cause_pct[CAUSE_JOURNAL] > 90.0);
	assert_true(rt->bands[BAND_P50_P99].cause_pct[CAUSE_FUTEX] > 80.0);
	assert_false(rt->top_truncated);
	/* by time: 3 x 100 ms + 200 ms, all kept, all but microseconds in the journal */
	assert_int_equal(rt->time[0].requests, 4);
	assert_true(rt->time[0].complete);
	assert_true(rt->time[0].total_ns >= 500 * MS_NS && rt->time[0].total_ns < 501 * MS_NS);
	assert_true(rt->time[0].cause_pct[CAUSE_JOURNAL] > 99.0);
	assert_true(rt->time[0].phase_pct[ATTRIB_APPEND] > 99.0);
	assert_int_equal(rt->time[1].requests, 1);
	assert_true(rt->time[1].complete);
	assert_int_equal(rt->ntop[BAND_TOP_PARTITION], 1);
	assert_string_equal(rt->top[BAND_TOP_PARTITION][0].key, "orders-3");
	assert_int_equal(rt->top[BAND_TOP_PARTITION][0].requests, 4);
	assert_int_equal(rt->ntop[BAND_TOP_CLIENT], 1);
	assert_string_equal(rt->top[BAND_TOP_CLIENT][0].key, "127.0.0.1:4000");
	assert_int_equal(rt->ntop[BAND_TOP_STACK], 1);
	assert_string_equal(rt->top[BAND_TOP_STACK][0].key, "journal:wait_transaction_locked");
	assert_int_equal(rt->top[BAND_TOP_STACK][0].requests, 4);
	assert_int_equal(rt->top[BAND_TOP_STACK][0].stack_id, 1);
	/* innermost first, the BPF frames skipped, offsets cut */
	assert_string_equal(rt->top_stack[0],
			    "__schedule;schedule;wait_transaction_locked;add_transaction_credits;"
			    "start_this_handle;jbd2__journal_start;__ext4_journal_start_sb;"
			    "ext4_dirty_inode;__mark_inode_dirty;generic_update_time;"
			    "file_modified;ext4_buffered_write_iter;vfs_write;ksys_write;"
			    "do_syscall_64");
	assert_int_equal(rt->journal.requests, 1);
	assert_int_equal(rt->journal.commits, 0);
	assert_int_equal(rt->stats.segment_writes, 300);
	assert_int_equal(rt->lost_events, 0);

	report_tail_text(sink_open(&s), rt);
	text = sink_text(&s);
	assert_contains(text, "  < p50          100  ");
	assert_contains(text, "  p50-p99        196  ");
	assert_contains(text, "  >= p99           4  ");
	assert_contains(text, "  >= p999          1  ");
	assert_contains(text, "  >= p99   4 requests, 500ms: append 100%; journal 100%\n"
			      "  >= p999  1 request, 200ms: append 100%; journal 100%\n");
	assert_contains(text, "\nWhy the tail is slow: the slowest produce requests (>= p99: 4 "
			      "requests of ");
	assert_contains(text,
			", 500ms in all) spent 100% of their time in the append phase.\n"
			"  The largest cause is journal, 100% of their time: waiting for the "
			"filesystem journal (jbd2) to commit.\n"
			"  Where in the kernel (journal:wait_transaction_locked): __schedule "
			"<- schedule <- wait_transaction_locked <- add_transaction_credits <- "
			"start_this_handle <- jbd2__journal_start <- __ext4_journal_start_sb "
			"<- ext4_dirty_inode <- __mark_inode_dirty <- generic_update_time <- "
			"file_modified <- ext4_buffered_write_iter <- vfs_write <- ksys_write "
			"<- do_syscall_64\n");
	/* 15 frames: the text shows 14 */
	assert_contains(text, "    journal:wait_transaction_locked  4 requests, ");
	assert_contains(text, "      __schedule <- schedule <- wait_transaction_locked <- "
			      "add_transaction_credits <- start_this_handle <- "
			      "jbd2__journal_start <- __ext4_journal_start_sb <- "
			      "ext4_dirty_inode <- __mark_inode_dirty <- generic_update_time <- "
			      "file_modified <- ext4_buffered_write_iter <- vfs_write <- "
			      "ksys_write <- ...\n");
	assert_contains(text, "  top partitions behind >= p99: orders-3 (4)\n");
	assert_contains(text, "  top clients behind >= p99: 127.0.0.1:4000 (4)\n");
	assert_contains(text, "  journal commits overlapping the 1 >= p999 requests: 0 (0 of "
			      "the requests overlapped one)\n");
	free(s.buf);

	tail_json(&s, rt);
	text = sink_text(&s);
	assert_contains(text, "{\"attribution\":{\"requests\":300,\"unmatched\":{\"requests\":0,"
			      "\"reasons\":{}},");
	assert_contains(text, "\"lt_p50\":{\"requests\":100,");
	assert_contains(text, "\"p50_p99\":{\"requests\":196,");
	assert_contains(text, "\"ge_p99\":{\"requests\":4,");
	assert_contains(text, "\"ge_p999\":{\"requests\":1,");
	assert_contains(text, "\"top_stacks\":[{\"cause\":\"journal\",\"frame\":"
			      "\"wait_transaction_locked\",\"requests\":4,");
	assert_contains(text, "\"stack\":[\"__schedule\",\"schedule\",\"wait_transaction_locked\","
			      "\"add_transaction_credits\",");
	assert_contains(text, "\"ksys_write\",\"do_syscall_64\"]}]");
	free(s.buf);
	free(rt);
	explain_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tail_text),	    cmocka_unit_test(test_tail_text_variants),
	    cmocka_unit_test(test_tail_text_hol),   cmocka_unit_test(test_tail_text_empty),
	    cmocka_unit_test(test_tail_json),	    cmocka_unit_test(test_tail_json_stack_keys),
	    cmocka_unit_test(test_tail_json_empty), cmocka_unit_test(test_contract_names),
	    cmocka_unit_test(test_attrib_matched),  cmocka_unit_test(test_attrib_other),
	    cmocka_unit_test(test_attrib_hol),	    cmocka_unit_test(test_attrib_unmatched),
	    cmocka_unit_test(test_request_json),    cmocka_unit_test(test_slow_json),
	    cmocka_unit_test(test_slow_text),	    cmocka_unit_test(test_summary_tail),
	    cmocka_unit_test(test_fill_from_tail),
	};

	return cmocka_run_group_tests(tests, utc, NULL);
}
