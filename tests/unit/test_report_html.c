// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The HTML report: every section and chart present, nothing fetched or
 * run (no script, no URL but the SVG namespace), strings from the
 * recording escaped, the numbers drawn equal to the histograms', an empty
 * recording said so, the caps, and write errors. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "kafkalat/recording.h"
#include "kafkalat/report_html.h"
#include "rec_fixture.h"
#include "sink.h"

#define HOSTILE	    "<img src=x onerror=alert(1)>&"
#define HOSTILE_ESC "&lt;img src=x onerror=alert(1)&gt;&amp;"
#define NELEMS(a)   (sizeof(a) / sizeof((a)[0]))

static const char *const sections[] = {"meta",	  "summary",	  "spectrum", "over-time",
				       "heatmap", "composition",  "flame",    "tops",
				       "commits", "kafka-metrics"};
static const char *const charts[] = {"spectrum-chart", "over-time-chart", "heatmap-chart",
				     "bands-chart",    "tail-time-chart", "flame-chart",
				     "commits-chart"};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/* The shared fixture's recording: intervals of 10 s, a label. */
static void load(struct rec *r, unsigned int intervals, unsigned int per_interval, bool trailer)
{
	struct rec_fixture_opts o;

	rec_fixture_defaults(&o);
	o.intervals = intervals;
	o.per_interval = per_interval;
	o.trailer = trailer;
	o.label = HOSTILE;
	assert_int_equal(rec_fixture_load(r, &o), 0);
}

static const struct {
	const char *stack;
	uint64_t us;
} folded[] = {
    {"append;vfs_write;ext4_file_write_iter;" HOSTILE, 600000},
    {"append;vfs_write;jbd2_log_wait_commit", 400000},
    {"queue;futex_wait", 1}, /* < 0.1%: left out */
};

/* Replaces the recording's folded stacks with the ones above. */
static void set_folded(struct rec *r)
{
	for (uint32_t i = 0; i < r->nfolded; i++)
		free(r->folded[i].stack);
	free(r->folded);
	r->nfolded = NELEMS(folded);
	r->folded = calloc(r->nfolded, sizeof(*r->folded));
	assert_non_null(r->folded);
	for (uint32_t i = 0; i < r->nfolded; i++)
		r->folded[i] = (struct rec_folded){xstrdup(folded[i].stack), folded[i].us};
}

/* The page of r (and baseline), checked to have been written whole. */
static char *page(const struct rec *r, const struct rec *base)
{
	/* a path prefix: keeps every page as PREFIX.N.html, to look at */
	const char *keep = getenv("KLT_TEST_HTML");
	static int n;
	struct sink s;
	char path[4096];

	sink_open(&s);
	assert_int_equal(report_html(s.out, r, base), 0);
	sink_text(&s);
	if (keep) {
		FILE *f;

		snprintf(path, sizeof(path), "%s.%d.html", keep, n++);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(s.buf, f);
		fclose(f);
	}
	return s.buf;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The number in attr="N" after the first occurrence of after. */
static uint64_t attr_after(const char *html, const char *after, const char *attr)
{
	const char *p = strstr(html, after);
	char key[64];

	assert_non_null(p);
	snprintf(key, sizeof(key), "%s=\"", attr);
	p = strstr(p, key);
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 10);
}

/* want inside the row (<tr>...</tr>) that begins with row. */
static void assert_in_row(const char *html, const char *row, const char *want)
{
	const char *p = strstr(html, row), *end, *q;

	if (!p)
		fail_msg("missing %s", row);
	end = strstr(p, "</tr>");
	q = strstr(p, want);
	if (!end || !q || q > end)
		fail_msg("%s not in the row %s", want, row);
}

/* The sum of every attr="N" from p up to the end of its <svg>. */
static uint64_t sum_attr(const char *p, const char *attr)
{
	const char *end = strstr(p, "</svg>");
	char key[64];
	uint64_t sum = 0;

	assert_non_null(end);
	snprintf(key, sizeof(key), " %s=\"", attr);
	while ((p = strstr(p, key)) && p < end) {
		p += strlen(key);
		sum += strtoull(p, NULL, 10);
	}
	return sum;
}

static void test_sections_and_charts(void **state)
{
	struct rec r;
	char *html, id[64];

	(void)state;
	load(&r, 6, 2000, true);
	html = page(&r, NULL);
	for (size_t i = 0; i < NELEMS(sections); i++) {
		snprintf(id, sizeof(id), "<section id=\"%s\">", sections[i]);
		assert_contains(html, id);
	}
	for (size_t i = 0; i < NELEMS(charts); i++) {
		snprintf(id, sizeof(id), "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\"",
			 charts[i]);
		assert_contains(html, id);
	}
	assert_int_equal(count_of(html, "<section"), count_of(html, "</section>"));
	assert_int_equal(count_of(html, "<svg"), count_of(html, "</svg>"));
	free(html);
	rec_free(&r);
}

/* Elements and rules that fetch. */
static const char *const fetching[] = {"<img",	 "<iframe", "<link",	   "<object", "<embed",
				       "<image", "<use",    "href=\"http", "@import", "<audio",
				       "<video", "<source", "<base"};

/* Nothing a browser would run or fetch. */
static void test_no_script_no_url(void **state)
{
	struct rec r, b;
	char *html;

	(void)state;
	load(&r, 6, 2000, true);
	load(&b, 4, 1000, true);
	html = page(&r, &b);
	for (char *p = html; *p; p++)
		assert_false(strncasecmp(p, "<script", 7) == 0);
	assert_int_equal(count_of(html, "https://"), 0);
	assert_int_equal(count_of(html, "http://"),
			 count_of(html, "xmlns=\"http://www.w3.org/2000/svg\""));
	assert_null(strstr(html, "url("));
	assert_null(strstr(html, "data:"));
	for (size_t i = 0; i < NELEMS(fetching); i++)
		assert_null(strcasestr(html, fetching[i]));
	/* the baseline is drawn beside: dashed curves, its >= p99 bars */
	assert_contains(html, "data-series=\"baseline\"");
	assert_contains(html, "data-series=\"baseline-p99\"");
	assert_contains(html, "data-band=\"baseline-ge_p99\"");
	free(html);
	rec_free(&r);
	rec_free(&b);
}

static void test_escaping(void **state)
{
	struct rec r;
	char *html;

	(void)state;
	load(&r, 3, 500, true);
	set_folded(&r);
	html = page(&r, NULL);
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "alert(1)>"));
	/* the meta value, the frame's tooltip and label */
	assert_true(count_of(html, HOSTILE_ESC) >= 3);
	free(html);
	rec_free(&r);
	/* a partition's name, in the tops summed from the intervals */
	load(&r, 2, 100, false);
	assert_true(r.iv[0].ntop[0] > 0);
	free(r.iv[0].top[0][0].key);
	r.iv[0].top[0][0].key = xstrdup(HOSTILE);
	html = page(&r, NULL);
	assert_null(strstr(html, "<img"));
	assert_contains(strstr(html, "<table id=\"tops-partitions\">"),
			"<tr><td>" HOSTILE_ESC "</td>");
	free(html);
	rec_free(&r);
}

/* The summary's numbers are the histograms' quantiles, in ns and in us
 * as the JSON report prints them. */
static void test_numbers(void **state)
{
	const struct hist *h;
	struct rec r;
	char *html, want[64];

	(void)state;
	load(&r, 6, 2000, true);
	h = agg_latency(&r.agg, 0);
	html = page(&r, NULL);
	assert_int_equal(attr_after(html, "data-json=\"produce.latency_us\"", "data-count"),
			 h->count);
	assert_int_equal(
	    attr_after(html, "data-json=\"produce.latency_us\"", "data-q=\"p50\" data-ns"),
	    hist_quantile(h, 0.5));
	assert_int_equal(
	    attr_after(html, "data-json=\"produce.latency_us\"", "data-q=\"p99\" data-ns"),
	    hist_quantile(h, 0.99));
	assert_int_equal(
	    attr_after(html, "data-json=\"produce.latency_us\"", "data-q=\"max\" data-ns"), h->max);
	snprintf(want, sizeof(want), "data-q=\"p999\" data-ns=\"%" PRIu64 "\" data-us=\"",
		 hist_quantile(h, 0.999));
	assert_contains(html, want);
	assert_int_equal(attr_after(html, "data-key=\"produce.requests\"", "data-value"), h->count);
	/* the spectrum's dot at 99% and the first interval's p99 */
	assert_int_equal(attr_after(html, "data-q=\"0.99\"", "data-ns"), hist_quantile(h, 0.99));
	snprintf(want, sizeof(want), "data-points=\"5.000:%" PRIu64,
		 hist_sparse_quantile(r.iv[0].m[REC_M_LATENCY], 0.99));
	assert_contains(html, want);
	/* the Kafka table's queue row is the queue phase's histogram */
	snprintf(want, sizeof(want), "data-q=\"0.99\" data-ns=\"%" PRIu64 "\"",
		 hist_quantile(r.m[REC_M_PHASE + ATTRIB_QUEUE], 0.99));
	assert_in_row(html, "<tr data-metric=\"RequestQueueTimeMs\">", want);
	/* the heat map's cells hold every request once */
	assert_int_equal(sum_attr(strstr(html, "id=\"heatmap-chart\""), "data-count"), h->count);
	free(html);
	rec_free(&r);
}

/* b follows a inside the same flame frame (<g>...</g>). */
static void assert_in_frame(const char *html, const char *a, const char *b)
{
	const char *p = strstr(html, a), *end, *q;

	if (!p)
		fail_msg("missing %s", a);
	end = strstr(p, "</g>");
	q = strstr(p, b);
	if (!end || !q || q > end)
		fail_msg("%s not in the frame of %s", b, a);
}

/* Widths add up the merged stacks; the narrow frame is left out, and said;
 * a baseline colours what grew red and what shrank blue. */
static void test_flame(void **state)
{
	struct rec r, b;
	char *html;

	(void)state;
	load(&r, 2, 500, true);
	set_folded(&r);
	html = page(&r, NULL);
	assert_contains(html, "data-frame-depth=\"1\" data-us=\"1000000\"><title>vfs_write "
			      "(1000000 us, 100.00%)");
	assert_contains(html, "data-frame-depth=\"0\" data-us=\"1000000\"><title>append ");
	assert_contains(html, "data-frames=\"5\" data-skipped=\"1\"");
	assert_contains(html, "Capped: 1 frames narrower than 0.1% of the total");
	assert_null(strstr(html, "futex_wait"));
	free(html);
	load(&b, 2, 500, true);
	set_folded(&b);
	b.folded[0].us = 100000;
	html = page(&r, &b);
	assert_contains(html, "Differential");
	assert_in_frame(html, HOSTILE_ESC " (600000 us", "fill=\"rgb(255,");
	assert_in_frame(html, "<title>jbd2_log_wait_commit (400000 us", ",255)\"");
	free(html);
	rec_free(&r);
	rec_free(&b);
}

static void test_empty(void **state)
{
	struct rec r;
	char *html, id[64];

	(void)state;
	load(&r, 0, 0, false);
	html = page(&r, NULL);
	for (size_t i = 0; i < NELEMS(sections); i++) {
		snprintf(id, sizeof(id), "<section id=\"%s\">", sections[i]);
		assert_contains(html, id);
	}
	assert_contains(html, "The recording holds no interval.");
	assert_contains(html, "No Produce latency was recorded.");
	assert_contains(html, "No tail stacks were recorded.");
	assert_null(strstr(html, "<svg"));
	assert_null(strstr(html, "<polyline"));
	assert_null(strstr(html, "nan"));
	assert_null(strstr(html, "inf"));
	free(html);
	rec_free(&r);
}

/* More intervals than columns: adjacent ones merged, and the page says so. */
static void test_heatmap_cap(void **state)
{
	struct rec r;
	char *html;

	(void)state;
	load(&r, 601, 1, false);
	html = page(&r, NULL);
	assert_contains(html, "data-columns=\"301\" data-merged=\"2\" data-loss-marks=\"1\"");
	assert_contains(html, "Capped at 600 columns");
	/* interval 2's loss marks its merged column, intervals 2 and 3 */
	assert_contains(html, "data-t=\"20.000\" data-socket=\"2\" data-causes=\"1\" "
			      "data-touched=\"0\" data-touched-produce=\"0\" "
			      "data-unattributed=\"0\"><title>20.0-40.0 s: lost (ring full)");
	/* without a trailer, the tops are the intervals' own, summed */
	assert_contains(html, "Summed over the intervals' own tops");
	assert_in_row(strstr(html, "<table id=\"tops-partitions\">"), "<tr><td>orders-",
		      "data-requests=\"");
	free(html);
	rec_free(&r);
}

/* Two brokers' recordings merged: their intervals, a second apart, share
 * columns rather than drawing over each other. */
static void test_merged_files(void **state)
{
	char p0[] = "/tmp/kafkalat-html-XXXXXX", p1[] = "/tmp/kafkalat-html-XXXXXX", err[256];
	const char *paths[] = {p0, p1};
	struct rec_fixture_opts o;
	struct rec r;
	char *html;

	(void)state;
	rec_fixture_defaults(&o);
	o.per_interval = 500;
	for (int i = 0; i < 2; i++) {
		int fd = mkstemp((char *)paths[i]);

		assert_true(fd >= 0);
		close(fd);
		unlink(paths[i]);
		o.seed = (uint64_t)i + 1;
		assert_int_equal(rec_fixture_write(paths[i], &o), 0);
	}
	assert_int_equal(rec_load(&r, paths, 2, err, sizeof(err)), 0);
	unlink(p0);
	unlink(p1);
	assert_int_equal(r.niv, 2 * o.intervals);
	for (uint32_t i = 0; i < r.niv; i++)
		if (r.iv[i].file == 1) {
			r.iv[i].t_start_ns += 1000000000;
			r.iv[i].t_end_ns += 1000000000;
		}
	html = page(&r, NULL);
	assert_contains(html, "data-columns=\"6\" data-merged=\"1\"");
	assert_int_equal(sum_attr(strstr(html, "id=\"heatmap-chart\""), "data-count"),
			 2 * o.intervals * o.per_interval);
	assert_int_equal(count_of(html, "<table class=\"meta\""), 2);
	free(html);
	rec_free(&r);
}

static const struct {
	const char *key;
	uint64_t v;
} loss_rows[] = {
    {"lost.socket", 3},
    {"lost.socket_kinds.response", 2},
    {"lost.socket_kinds.produce_request", 1},
    {"lost.causes", 1},
    {"lost.causes_kinds.offcpu", 1},
    {"lost.touched_requests", 3},
    {"lost.touched_produce", 2},
    {"lost.unattributed_lost_causes", 1},
    {"loss_intervals", 2},
};

/* The loss table holds the JSON report's "lost" under its keys, and the
 * charts over time mark the intervals with a loss (2 and 4), with the
 * text report's loss line as the tooltip. */
static void test_loss(void **state)
{
	char want[128], *html;
	const char *table, *over, *heat;
	struct rec r;

	(void)state;
	assert_int_equal(rec_fixture_load_loss(&r), 0);
	html = page(&r, NULL);
	table = strstr(html, "<table id=\"summary-loss\">");
	assert_non_null(table);
	for (size_t i = 0; i < NELEMS(loss_rows); i++) {
		snprintf(want, sizeof(want), "data-key=\"%s\"", loss_rows[i].key);
		assert_int_equal(attr_after(table, want, "data-value"), loss_rows[i].v);
	}
	/* only the kinds with a count, as in the JSON */
	assert_int_equal(count_of(table, "<tr class=\"sub\">"), 3);
	assert_contains(table, "<tr class=\"sub\"><th>response</th>");
	over = strstr(html, "id=\"over-time-chart\"");
	heat = strstr(html, "id=\"heatmap-chart\"");
	/* over time, heat map, root causes and commits: 2 each */
	assert_int_equal(count_of(html, "<rect class=\"loss\""), 4 * 2);
	assert_contains(over, "<rect class=\"loss\" x=\"");
	assert_contains(over,
			"data-t=\"20.000\" data-socket=\"2\" data-causes=\"1\" "
			"data-touched=\"0\" data-touched-produce=\"0\" "
			"data-unattributed=\"0\"><title>20.0-30.0 s: lost (ring full): socket "
			"2 (response 2), causes 1 (offcpu 1); requests touched 0 (Produce 0), "
			"not in the latencies; Produce unattributed for lost causes 0\n"
			"</title></rect>");
	assert_contains(over, "data-t=\"40.000\" data-socket=\"1\" data-causes=\"0\" "
			      "data-touched=\"3\" data-touched-produce=\"2\" "
			      "data-unattributed=\"1\"><title>40.0-50.0 s: ");
	assert_contains(over, ">loss (ring full)</text>");
	assert_contains(over, "data-loss-marks=\"2\">One point per interval");
	assert_contains(heat, "data-loss-marks=\"2\">Colour:");
	assert_contains(over, "Red marks above the plot: the 2 points with records lost");
	free(html);
	rec_free(&r);
}

/* A recording without loss: the zeros are shown, nothing marked. */
static void test_no_loss(void **state)
{
	struct rec r;
	char *html;

	(void)state;
	load(&r, 2, 100, true);
	html = page(&r, NULL);
	assert_int_equal(attr_after(html, "data-key=\"lost.socket\"", "data-value"), 0);
	assert_int_equal(attr_after(html, "data-key=\"lost.touched_requests\"", "data-value"), 0);
	assert_int_equal(attr_after(html, "data-key=\"loss_intervals\"", "data-value"), 0);
	assert_null(strstr(html, "class=\"loss\""));
	assert_null(strstr(html, "Red marks"));
	free(html);
	rec_free(&r);
}

static void test_write_error(void **state)
{
	struct rec r;
	FILE *full = fopen("/dev/full", "w");
	char small[256];
	FILE *mem = fmemopen(small, sizeof(small), "w");

	(void)state;
	assert_non_null(full);
	assert_non_null(mem);
	load(&r, 3, 500, true);
	assert_int_equal(report_html(full, &r, NULL), -EIO);
	assert_int_equal(report_html(mem, &r, NULL), -EIO);
	fclose(full);
	fclose(mem);
	rec_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sections_and_charts),
	    cmocka_unit_test(test_no_script_no_url),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_flame),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_heatmap_cap),
	    cmocka_unit_test(test_merged_files),
	    cmocka_unit_test(test_write_error),
	    cmocka_unit_test(test_loss),
	    cmocka_unit_test(test_no_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
