// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The markdown report: its latency tables hold the merged histograms'
 * quantiles as fmt_ns prints them (and the change against a baseline), its
 * tail table and quote come from the tail the text summary uses, hostile
 * text cannot break a table, and lost and unmatched counts are always
 * there. Also `report --format hgrm`: hgrm_write of the merged latency in
 * milliseconds reads back as the histogram's own quantiles and count. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafkalat/fmt.h"
#include "kafkalat/hgrm.h"
#include "kafkalat/recording.h"
#include "kafkalat/report_md.h"
#include "rec_fixture.h"
#include "sink.h"

#define MS_NS	  1000000ull
#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define HOSTILE	  "a|b\nc*d&lt;"
#define MAX_LOSS  20 /* intervals with loss the report lists */

static const double qs[] = {0.5, 0.9, 0.99, 0.999, 1.0};

/* ---- a recording built by hand ---- */

static struct hist *latency_hist(uint64_t scale)
{
	struct hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	hist_init(h);
	for (uint64_t v = 1; v <= 1000; v++)
		hist_record(h, v * MS_NS * scale / 10);
	hist_record_n(h, 2500 * MS_NS, 10);
	return h;
}

static void mini_rec(struct rec *r, uint64_t scale, const char *host)
{
	struct rec_kv *kv = calloc(3, sizeof(*kv));

	assert_non_null(kv);
	memset(r, 0, sizeof(*r));
	kv[0] = (struct rec_kv){"host", (char *)host};
	kv[1] = (struct rec_kv){"kernel", "6.1.0"};
	kv[2] = (struct rec_kv){"label.env", (char *)host};
	r->files = calloc(1, sizeof(*r->files));
	assert_non_null(r->files);
	r->files[0] = (struct rec_file){.meta = kv, .nmeta = 3};
	r->nfiles = 1;
	r->m[REC_M_LATENCY] = latency_hist(scale);
	r->m[REC_M_BROKER] = latency_hist(scale * 2);
	r->niv = 1;
	r->t_start_ns = 1733338000ll * 1000000000ll;
	r->t_end_ns = r->t_start_ns + 90ll * 1000000000ll;
	r->lost.socket_lost = 17;
	r->lost.cause_lost = 18;
	r->counts.unmatched[CORR_UNM_CLOSED] = 19;
	r->counts.produce_unmatched[CORR_UNM_CLOSED] = 20;
	r->counts.unmatched_responses = 21;
}

/* A tail: >= p99 mostly journal in the append phase. */
static void add_tail(struct rec *r)
{
	struct band_summary *b = &r->tail.bands[BAND_GE_P99];

	r->has_tail = true;
	r->tail_files = 1;
	b->requests = 11;
	b->lo_ns = 990 * MS_NS;
	b->hi_ns = 2500 * MS_NS;
	b->phase_pct[5] = 80;
	b->phase_pct[0] = 15;
	b->cause_pct[CAUSE_JOURNAL] = 70;
	b->cause_pct[CAUSE_CPU] = 0.5;
	r->tail.time[0].requests = 11;
	r->tail.time[0].total_ns = 11000 * MS_NS;
	r->tail.time[0].phase_pct[5] = 85;
	r->tail.time[0].cause_pct[CAUSE_JOURNAL] = 75;
	r->tail.top[BAND_TOP_PARTITION][0] = (struct band_top){"orders|x-3", 0, 9, 9000 * MS_NS};
	r->tail.ntop[BAND_TOP_PARTITION] = 1;
}

static void mini_free(struct rec *r)
{
	for (unsigned m = 0; m < REC_METRICS; m++)
		free(r->m[m]);
	free(r->files[0].meta);
	free(r->files);
}

static char *md_text(const struct rec *r, const struct rec *base)
{
	struct sink s;

	assert_int_equal(report_md(sink_open(&s), r, base), 0);
	sink_text(&s);
	return s.buf;
}

static const char *ns_text(uint64_t ns, char *buf, size_t len)
{
	fmt_ns(ns, buf, len);
	return buf;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The '|' of a line that are not escaped: a table's column count. */
static int cells(const char *line, size_t len)
{
	int n = 0;

	for (size_t i = 0; i < len; i++) {
		if (line[i] == '\\')
			i++;
		else
			n += line[i] == '|';
	}
	return n;
}

/* Every table row has its header's columns. */
static void check_tables(const char *t)
{
	int want = -1;

	for (const char *p = t; *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len && p[0] == '|') {
			if (want < 0)
				want = cells(p, len);
			assert_int_equal(cells(p, len), want);
		} else {
			want = -1;
		}
		p += len + (e != NULL);
	}
}

/* ---- the tests ---- */

static void test_latency_table(void **state)
{
	char row[512], a[16], b[16], c[16], d[16], e[16], *t;
	const struct hist *h;
	struct rec r;

	(void)state;
	mini_rec(&r, 10, "broker-1");
	t = md_text(&r, NULL);
	assert_contains(t, "## kafkalat: produce latency on broker-1\n");
	assert_contains(t, "**Hosts** broker-1 · **Kernel** 6.1.0 · **Span** 2024-12-04 18:46:40Z "
			   "to 2024-12-04 18:48:10Z (90.00s) · **Recordings** 1 · **Labels** "
			   "env=broker-1\n");
	assert_contains(t, "| Produce | p50 | p90 | p99 | p99.9 | max |\n"
			   "|---|---:|---:|---:|---:|---:|\n");
	h = r.m[REC_M_LATENCY];
	snprintf(row, sizeof(row), "\n| latency | %s | %s | %s | %s | %s |\n",
		 ns_text(hist_quantile(h, qs[0]), a, 16), ns_text(hist_quantile(h, qs[1]), b, 16),
		 ns_text(hist_quantile(h, qs[2]), c, 16), ns_text(hist_quantile(h, qs[3]), d, 16),
		 ns_text(hist_quantile(h, qs[4]), e, 16));
	assert_contains(t, row);
	h = r.m[REC_M_BROKER];
	snprintf(row, sizeof(row), "\n| broker latency | %s | %s | %s | %s | %s |\n",
		 ns_text(hist_quantile(h, qs[0]), a, 16), ns_text(hist_quantile(h, qs[1]), b, 16),
		 ns_text(hist_quantile(h, qs[2]), c, 16), ns_text(hist_quantile(h, qs[3]), d, 16),
		 ns_text(hist_quantile(h, qs[4]), e, 16));
	assert_contains(t, row);
	check_tables(t);
	mini_free(&r);
	free(t);
}

/* Base, new and the change per quantile; the max is 2.5 s in both. */
static void test_baseline(void **state)
{
	char row[512], a[16], b[16], c[16], d[16], *t;
	struct rec r, base;
	uint64_t bl, nl, bb, nb;

	(void)state;
	mini_rec(&r, 10, "new");
	mini_rec(&base, 5, "old");
	t = md_text(&r, &base);
	assert_contains(t, "**Baseline** old · **Kernel** 6.1.0");
	bl = hist_quantile(base.m[REC_M_LATENCY], 0.99);
	nl = hist_quantile(r.m[REC_M_LATENCY], 0.99);
	bb = hist_quantile(base.m[REC_M_BROKER], 0.99);
	nb = hist_quantile(r.m[REC_M_BROKER], 0.99);
	snprintf(row, sizeof(row), "\n| p99 | %s | %s | %+.1f%% | %s | %s | %+.1f%% |\n",
		 ns_text(bl, a, 16), ns_text(nl, b, 16),
		 ((double)nl - (double)bl) * 100 / (double)bl, ns_text(bb, c, 16),
		 ns_text(nb, d, 16), ((double)nb - (double)bb) * 100 / (double)bb);
	assert_contains(t, row);
	assert_contains(t, "\n| max | 2.50s | 2.50s | +0.0% | 2.50s | 2.50s | +0.0% |\n");
	check_tables(t);
	mini_free(&r);
	mini_free(&base);
	free(t);
}

static void test_tail(void **state)
{
	size_t lines = 0;
	struct sink s;
	struct rec r;
	const char *story;
	char *t;

	(void)state;
	mini_rec(&r, 10, "broker-1");
	add_tail(&r);
	t = md_text(&r, NULL);
	assert_contains(t,
			"| >= p99 | 11 | 990ms to 2.50s | append 80%, recv 15% | journal 70% |\n");
	assert_contains(t, "| < p50 | 0 | - | - | - |\n");
	assert_contains(t, "| partition behind >= p99 | requests | summed latency |\n"
			   "|---|---:|---:|\n| orders\\|x-3 | 9 | 9.00s |\n");
	/* the summary's sentence, each line quoted, markup escaped */
	report_tail_story(sink_open(&s), &r.tail);
	story = sink_text(&s);
	assert_contains(story, "Why the tail is slow: the slowest produce requests (>= p99: 11");
	for (const char *p = story + 1; *p; p++)
		lines += *p == '\n';
	assert_int_equal(count_of(t, "\n> "), lines);
	assert_contains(t, "\n> Why the tail is slow: the slowest produce requests (\\>= p99: 11 ");
	assert_contains(t, "the append phase.\n> The largest cause is journal, 75%");
	free(s.buf);
	check_tables(t);
	mini_free(&r);
	free(t);
}

/* A '|', a newline and markup in a host: escaped, the tables intact. */
static void test_hostile(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 10, HOSTILE);
	add_tail(&r);
	t = md_text(&r, NULL);
	assert_contains(t, "## kafkalat: produce latency on a\\|b<br>c\\*d\\&lt;\n");
	assert_contains(t, "**Labels** env=a\\|b<br>c\\*d\\&lt;\n");
	assert_null(strstr(t, HOSTILE));
	check_tables(t);
	mini_free(&r);
	free(t);
}

/* Without a tail or anything recorded, the report says so and still
 * counts what was lost. */
static void test_empty(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	memset(&r, 0, sizeof(r));
	t = md_text(&r, NULL);
	assert_contains(t, "## kafkalat: produce latency on ?\n");
	assert_contains(t, "**Span** no interval recorded");
	assert_contains(t, "\n| latency | - | - | - | - | - |\n");
	assert_contains(t, "No tail composition: 0 of 0 recordings ended cleanly");
	assert_contains(t, "**Lost events** 0 socket, 0 cause");
	check_tables(t);
	free(t);
}

static void test_accounting(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 10, "broker-1");
	t = md_text(&r, NULL);
	assert_contains(t, "**Lost events** 17 socket, 18 cause (the kernel's ring buffers were "
			   "full) · **Unmatched requests** 19 (Produce 20) · **Responses without a "
			   "request** 21\n");
	mini_free(&r);
	free(t);
}

static void test_write_error(void **state)
{
	FILE *full = fopen("/dev/full", "w");
	struct rec r;

	(void)state;
	assert_non_null(full);
	mini_rec(&r, 10, "broker-1");
	add_tail(&r);
	assert_int_equal(report_md(full, &r, NULL), -EIO);
	fclose(full);
	mini_free(&r);
}

/* ---- --format hgrm ---- */

/* `report --format hgrm` is hgrm_write(out, latency, 1e6, ticks): read
 * back, each row's value is the merged histogram's quantile at the row's
 * level in ms to the printed 3 decimals (a level printed to 12 decimals
 * may sit either side of a rank boundary), and the count is the total. */
static void check_row(const struct hist *h, const struct hgrm_row *row)
{
	for (int d = -1; d <= 1; d++) {
		uint64_t v = hist_quantile(h, row->percentile + d * 6e-13);

		if (fabs((double)v / 1e6 - row->value) <= 0.0005 + 1e-12 * row->value)
			return;
	}
	fail_msg("row %.3f at %.12f is not the quantile", row->value, row->percentile);
}

static void hgrm_round_trip(const struct hist *h)
{
	struct hgrm_footer foot;
	struct hgrm_row *rows;
	size_t n, len;
	char *text = NULL, err[128];
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(hgrm_write(f, h, 1e6, HGRM_TICKS_DEFAULT), 0);
	assert_int_equal(fclose(f), 0);
	if (hgrm_read(text, len, &rows, &n, &foot, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(n > 10);
	for (size_t i = 0; i < n; i++)
		check_row(h, &rows[i]);
	assert_int_equal(rows[n - 1].total_count, h->count);
	assert_int_equal(foot.total_count, h->count);
	assert_true(fabs(foot.max - (double)h->max / 1e6) <= 0.0005);
	free(rows);
	free(text);
}

/* The merged latency of a fixture recording (the real writer and loader,
 * two files' worth of intervals), and a hand-made one with a stall. */
static void test_hgrm_round_trip(void **state)
{
	struct rec_fixture_opts o;
	struct rec r;

	(void)state;
	rec_fixture_defaults(&o);
	assert_int_equal(rec_fixture_load(&r, &o), 0);
	hgrm_round_trip(r.m[REC_M_LATENCY]);
	rec_free(&r);
	mini_rec(&r, 3, "broker-1");
	hgrm_round_trip(r.m[REC_M_LATENCY]);
	mini_free(&r);
}

/* A fixture recording: the tables hold its quantiles, the quote is the
 * text summary's sentence for its tail. */
static void test_fixture(void **state)
{
	struct rec_fixture_opts o;
	char row[160], v[16];
	struct rec r;
	char *t;

	(void)state;
	rec_fixture_defaults(&o);
	assert_int_equal(rec_fixture_load(&r, &o), 0);
	t = md_text(&r, NULL);
	assert_contains(t, "## kafkalat: produce latency on fixture\n");
	assert_contains(t, "**Labels** run=fixture\n");
	snprintf(row, sizeof(row), "\n| latency | %s |",
		 ns_text(hist_quantile(r.m[REC_M_LATENCY], 0.5), v, sizeof(v)));
	assert_contains(t, row);
	assert_contains(t, "\n> Why the tail is slow: the slowest produce requests (\\>= p99: ");
	assert_contains(t, "\n> The largest cause is ");
	assert_contains(t, "| >= p99 | ");
	assert_contains(t, "**Lost events** 3 socket, 0 cause");
	check_tables(t);
	rec_free(&r);
	free(t);
}

/* A recording with loss: the JSON report's "lost" by ring and kind, the
 * requests touched, and each interval with a loss in a row of its own. */
static void test_loss(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	assert_int_equal(rec_fixture_load_loss(&r), 0);
	t = md_text(&r, NULL);
	assert_contains(t, "### What the figures miss\n\n**Lost events** 3 socket, 1 cause");
	assert_contains(t, "\n\n**Lost records by kind** socket 3 (response 2, produce_request 1) "
			   "· causes 1 (offcpu 1) · **Requests the loss touched** 3 (Produce 2), "
			   "in no latency · **Produce unattributed for lost causes** 1\n");
	assert_contains(t,
			"\n\n**Intervals with loss** 2 of 6\n\n"
			"| interval (UTC) | socket lost | causes lost | touched (Produce) | "
			"unattributed |\n|---|---|---|---:|---:|\n"
			"| 2023-11-14 22:13:41Z, 10.00s | 2 (response 2) | 1 (offcpu 1) | 0 (0) | "
			"0 |\n"
			"| 2023-11-14 22:14:01Z, 10.00s | 1 (produce_request 1) | 0 | 3 (2) | 1 "
			"|\n");
	assert_true(t[strlen(t) - 1] == '\n' && !strstr(t, "more intervals with loss"));
	check_tables(t);
	rec_free(&r);
	free(t);
}

/* No loss: the zeros are said, no table. More intervals with loss than
 * rows: the rest counted. */
static void test_loss_none_and_cap(void **state)
{
	struct rec_interval iv[MAX_LOSS + 3];
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 10, "broker-1");
	t = md_text(&r, NULL);
	assert_contains(t, "\n\n**Lost records by kind** socket 0 · causes 0 · **Requests the "
			   "loss touched** 0 (Produce 0), in no latency · **Produce unattributed "
			   "for lost causes** 0\n\n**Intervals with loss** 0 of 1\n");
	assert_null(strstr(t, "| interval (UTC)"));
	free(t);
	memset(iv, 0, sizeof(iv));
	for (unsigned i = 0; i < NELEMS(iv); i++) {
		iv[i].t_start_ns = r.t_start_ns + i * 1000000000ll;
		iv[i].t_end_ns = iv[i].t_start_ns + 1000000000ll;
		iv[i].loss.socket[KLT_EV_SENT] = i + 1;
	}
	r.iv = iv;
	r.niv = NELEMS(iv);
	r.loss_intervals = NELEMS(iv);
	t = md_text(&r, NULL);
	assert_int_equal(count_of(t, "\n| 2024-12-04 "), MAX_LOSS);
	assert_contains(t, "| 2024-12-04 18:46:40Z, 1.00s | 1 (sent 1) | 0 | 0 (0) | 0 |\n");
	assert_contains(t, "| 2024-12-04 18:46:59Z, 1.00s | 20 (sent 20) | 0 | 0 (0) | 0 |\n"
			   "\nAnd 3 more intervals with loss.\n");
	check_tables(t);
	r.iv = NULL;
	mini_free(&r);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_latency_table),
	    cmocka_unit_test(test_baseline),
	    cmocka_unit_test(test_tail),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_accounting),
	    cmocka_unit_test(test_write_error),
	    cmocka_unit_test(test_hgrm_round_trip),
	    cmocka_unit_test(test_fixture),
	    cmocka_unit_test(test_loss),
	    cmocka_unit_test(test_loss_none_and_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
