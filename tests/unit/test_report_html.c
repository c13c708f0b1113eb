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

#include "kafkalat/flame.h"
#include "kafkalat/recording.h"
#include "kafkalat/report_html.h"
#include "sink.h"

#define NS_S	    1000000000ll
#define T0	    (1700000000ll * NS_S)
#define HOSTILE	    "<img src=x onerror=alert(1)>&"
#define HOSTILE_ESC "&lt;img src=x onerror=alert(1)&gt;&amp;"
#define NELEMS(a)   (sizeof(a) / sizeof((a)[0]))

static const char *const sections[] = {"meta",	  "summary",	  "spectrum", "over-time",
				       "heatmap", "composition",  "flame",    "tops",
				       "commits", "kafka-metrics"};
static const char *const charts[] = {"spectrum-chart", "over-time-chart", "heatmap-chart",
				     "bands-chart",    "tail-time-chart", "flame-chart",
				     "commits-chart"};

static struct hist *hist_of(uint64_t lo, uint64_t n)
{
	struct hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	hist_init(h);
	/* a spread of n values from lo up to ~1000 lo, a few slow ones */
	for (uint64_t i = 0; i < n; i++)
		hist_record(h, lo + lo * (i * i % 997) / (i % 50 ? 10 : 1));
	return h;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static void build_interval(struct rec *r, uint32_t i)
{
	struct rec_interval *iv = &r->iv[i];
	struct hist *h = hist_of(500000 + 1000 * (i % 7), 200);

	iv->t_start_ns = T0 + (int64_t)i * 2 * NS_S;
	iv->t_end_ns = iv->t_start_ns + 2 * NS_S;
	iv->m[REC_M_LATENCY] = hist_sparse_new(h);
	assert_non_null(iv->m[REC_M_LATENCY]);
	hist_merge(r->m[REC_M_LATENCY], h);
	hist_merge(r->agg.h[AGG_LATENCY][0], h);
	r->agg.requests[0] += h->count;
	free(h);
	iv->ge_p99.total_ns = 1000000;
	iv->ge_p99.root_pct[CAUSE_JOURNAL] = 60;
	iv->ge_p99.root_pct[CAUSE_RUNQ] = 40;
	iv->ntop[0] = 1;
	iv->top[0][0] = (struct rec_top){xstrdup(i % 2 ? "t-1" : HOSTILE), 2, 3000000};
	iv->commits = calloc(1, sizeof(*iv->commits));
	assert_non_null(iv->commits);
	iv->ncommits = 1;
	iv->commits[0] = (struct rec_commit){iv->t_start_ns + NS_S / 2, 30000000, 8 << 20 | 1};
}

static const struct {
	const char *stack;
	uint64_t us;
} folded[] = {
    {"append;vfs_write;ext4_file_write_iter;" HOSTILE, 600000},
    {"append;vfs_write;jbd2_log_wait_commit", 400000},
    {"queue;futex_wait", 1}, /* < 0.1%: left out */
};

static void build_tail(struct rec *r)
{
	r->has_tail = true;
	for (unsigned b = 0; b < BANDS; b++) {
		r->tail.bands[b].requests = 100 >> b;
		r->tail.bands[b].lo_ns = 1000000u << b;
		r->tail.bands[b].hi_ns = 2000000u << b;
		r->tail.bands[b].phase_pct[ATTRIB_APPEND] = 70;
		r->tail.bands[b].phase_pct[ATTRIB_QUEUE] = 30;
		r->tail.bands[b].cause_pct[CAUSE_JOURNAL] = 55.5;
		r->tail.bands[b].cause_pct[CAUSE_CPU] = 44.5;
	}
	r->nfolded = NELEMS(folded);
	r->folded = calloc(r->nfolded, sizeof(*r->folded));
	assert_non_null(r->folded);
	for (uint32_t i = 0; i < r->nfolded; i++)
		r->folded[i] = (struct rec_folded){xstrdup(folded[i].stack), folded[i].us};
}

static void build_rec(struct rec *r, uint32_t niv, bool tail)
{
	memset(r, 0, sizeof(*r));
	agg_init(&r->agg);
	r->nfiles = 1;
	r->files = calloc(1, sizeof(*r->files));
	assert_non_null(r->files);
	r->files[0].path = xstrdup("run&1.data");
	r->files[0].nmeta = 1;
	r->files[0].meta = calloc(1, sizeof(*r->files[0].meta));
	assert_non_null(r->files[0].meta);
	r->files[0].meta[0] = (struct rec_kv){xstrdup("label"), xstrdup(HOSTILE)};
	r->files[0].intervals = niv;
	r->files[0].complete = tail;
	r->m[REC_M_LATENCY] = hist_of(1, 0);
	r->agg.h[AGG_LATENCY][0] = hist_of(1, 0);
	r->niv = niv;
	r->iv = calloc(niv ? niv : 1, sizeof(*r->iv));
	assert_non_null(r->iv);
	for (uint32_t i = 0; i < niv; i++)
		build_interval(r, i);
	r->t_start_ns = T0;
	r->t_end_ns = T0 + (int64_t)niv * 2 * NS_S;
	if (tail)
		build_tail(r);
}

static void free_rec(struct rec *r)
{
	for (uint32_t i = 0; i < r->niv; i++) {
		for (unsigned m = 0; m < REC_METRICS; m++)
			hist_sparse_free(r->iv[i].m[m]);
		free(r->iv[i].top[0][0].key);
		free(r->iv[i].commits);
	}
	for (unsigned m = 0; m < REC_METRICS; m++)
		free(r->m[m]);
	for (uint32_t i = 0; i < r->nfolded; i++)
		free(r->folded[i].stack);
	free(r->folded);
	free(r->iv);
	free(r->files[0].meta[0].key);
	free(r->files[0].meta[0].value);
	free(r->files[0].meta);
	free(r->files[0].path);
	free(r->files);
	agg_free(&r->agg);
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

static void test_sections_and_charts(void **state)
{
	struct rec r;
	char *html, id[64];

	(void)state;
	build_rec(&r, 10, true);
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
	free_rec(&r);
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
	build_rec(&r, 10, true);
	build_rec(&b, 4, true);
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
	free(html);
	free_rec(&r);
	free_rec(&b);
}

static void test_escaping(void **state)
{
	struct rec r;
	char *html;

	(void)state;
	build_rec(&r, 3, true);
	html = page(&r, NULL);
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "alert(1)>"));
	/* the meta value, the frame's tooltip, the partition */
	assert_true(count_of(html, HOSTILE_ESC) >= 3);
	assert_contains(html, "run&amp;1.data");
	free(html);
	free_rec(&r);
}

/* The summary's numbers are the histograms' quantiles, in ns and in us
 * as the JSON report prints them. */
static void test_numbers(void **state)
{
	const struct hist *h;
	struct rec r;
	char *html, want[64];

	(void)state;
	build_rec(&r, 10, true);
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
	snprintf(want, sizeof(want), "data-points=\"1.000:%" PRIu64,
		 hist_sparse_quantile(r.iv[0].m[REC_M_LATENCY], 0.99));
	assert_contains(html, want);
	free(html);
	free_rec(&r);
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
	build_rec(&r, 2, true);
	html = page(&r, NULL);
	assert_contains(html, "data-frame-depth=\"1\" data-us=\"1000000\"><title>vfs_write "
			      "(1000000 us, 100.00%)");
	assert_contains(html, "data-frame-depth=\"0\" data-us=\"1000000\"><title>append ");
	assert_contains(html, "data-frames=\"5\" data-skipped=\"1\"");
	assert_contains(html, "Capped: 1 frames narrower than 0.1% of the total");
	assert_null(strstr(html, "futex_wait"));
	free(html);
	build_rec(&b, 2, true);
	b.folded[0].us = 100000;
	html = page(&r, &b);
	assert_contains(html, "Differential");
	assert_in_frame(html, HOSTILE_ESC " (600000 us", "fill=\"rgb(255,");
	assert_in_frame(html, "<title>jbd2_log_wait_commit (400000 us", ",255)\"");
	free(html);
	free_rec(&r);
	free_rec(&b);
}

static void test_empty(void **state)
{
	struct rec r;
	char *html, id[64];

	(void)state;
	build_rec(&r, 0, false);
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
	free_rec(&r);
}

/* More intervals than columns: adjacent ones merged, and the page says so. */
static void test_heatmap_cap(void **state)
{
	struct rec r;
	char *html;

	(void)state;
	build_rec(&r, 1300, false);
	html = page(&r, NULL);
	assert_contains(html, "data-columns=\"434\" data-merged=\"3\"");
	assert_contains(html, "Capped at 600 columns");
	free(html);
	free_rec(&r);
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
	build_rec(&r, 3, true);
	assert_int_equal(report_html(full, &r, NULL), -EIO);
	assert_int_equal(report_html(mem, &r, NULL), -EIO);
	fclose(full);
	fclose(mem);
	free_rec(&r);
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
	    cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Until src/lib/recording.c lands: the run as the summary reads it. */
__attribute__((weak)) void rec_report_run(const struct rec *r, struct report_run *out)
{
	memset(out, 0, sizeof(*out));
	out->counts = &r->counts;
	out->lost_events = r->lost.socket_lost + r->lost.cause_lost;
}

/* Until src/lib/hist_sparse.c lands: the same answers through a dense copy. */
__attribute__((weak)) struct hist_sparse *hist_sparse_new(const struct hist *h)
{
	struct hist_sparse *s = calloc(1, sizeof(*s));

	s->bucket = calloc(HIST_BUCKETS, sizeof(*s->bucket));
	s->cum = calloc(HIST_BUCKETS, sizeof(*s->cum));
	s->count = h->count, s->sum = h->sum, s->min = h->min, s->max = h->max;
	for (uint32_t b = 0; b < HIST_BUCKETS; b++)
		if (h->buckets[b]) {
			s->bucket[s->n] = b;
			s->cum[s->n] = (s->n ? s->cum[s->n - 1] : 0) + h->buckets[b];
			s->n++;
		}
	return s;
}

__attribute__((weak)) void hist_sparse_free(struct hist_sparse *s)
{
	if (s) {
		free(s->bucket);
		free(s->cum);
	}
	free(s);
}

__attribute__((weak)) void hist_sparse_add_to(const struct hist_sparse *s, struct hist *into)
{
	struct hist *h = malloc(sizeof(*h));

	hist_init(h);
	for (uint32_t i = 0; i < s->n; i++)
		h->buckets[s->bucket[i]] = s->cum[i] - (i ? s->cum[i - 1] : 0);
	h->count = s->count, h->sum = s->sum, h->min = s->min, h->max = s->max;
	hist_merge(into, h);
	free(h);
}

__attribute__((weak)) uint64_t hist_sparse_quantile(const struct hist_sparse *s, double q)
{
	struct hist *h = malloc(sizeof(*h));
	uint64_t v;

	hist_init(h);
	hist_sparse_add_to(s, h);
	v = hist_quantile(h, q);
	free(h);
	return v;
}
