// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The Prometheus textfile report: every line parses as the exposition
 * format has it, every family is declared once before its samples, the
 * values equal the histograms' own (bucket counts, quantiles) and the
 * tail's shares, hostile label values are escaped, and the atomic file
 * write replaces or leaves nothing behind. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kafkalat/recording.h"
#include "kafkalat/report_prom.h"
#include "rec_fixture.h"
#include "sink.h"

#define NOW_S	  1733338800.5
#define MS_NS	  1000000ull
#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define HOSTILE	  "a\"b\\c\nd"

/* ---- a recording built by hand: the values below are known ---- */

static struct hist *new_hist(void)
{
	struct hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	hist_init(h);
	return h;
}

/* 1..1000 ms, then ten 2.5 s stalls: le bounds fall inside buckets. */
static struct hist *latency_hist(uint64_t scale)
{
	struct hist *h = new_hist();

	for (uint64_t v = 1; v <= 1000; v++)
		hist_record(h, v * MS_NS * scale / 10);
	hist_record_n(h, 2500 * MS_NS + 1234, 10);
	return h;
}

static struct rec_kv *meta(const char *host, const char *label)
{
	struct rec_kv *kv = calloc(4, sizeof(*kv));

	assert_non_null(kv);
	kv[0] = (struct rec_kv){"host", (char *)host};
	kv[1] = (struct rec_kv){"kernel", "6.1.0-test"};
	kv[2] = (struct rec_kv){"label.env", (char *)label};
	kv[3] = (struct rec_kv){"label.a-b", "dash"};
	return kv;
}

static void mini_rec(struct rec *r, uint32_t nfiles)
{
	memset(r, 0, sizeof(*r));
	r->m[REC_M_LATENCY] = latency_hist(10);
	r->m[REC_M_BROKER] = latency_hist(7);
	r->m[REC_M_PHASE + 0] = latency_hist(1);
	r->files = calloc(nfiles, sizeof(*r->files));
	assert_non_null(r->files);
	r->nfiles = nfiles;
	for (uint32_t i = 0; i < nfiles; i++) {
		r->files[i].meta = meta(i ? "broker-2" : HOSTILE, HOSTILE);
		r->files[i].nmeta = 4;
	}
	r->niv = 3;
	r->t_start_ns = 1733338000ll * 1000000000ll;
	r->t_end_ns = r->t_start_ns + 30ll * 1000000000ll;
	r->agg.requests[0] = 1010;
	r->agg.requests[3] = 7;
	r->agg.requests[120] = 2; /* no such API */
	r->agg.produce_bytes = 123456789;
	r->lost.socket_lost = 5;
	r->lost.cause_lost = 6;
	r->counts.unmatched[CORR_UNM_CLOSED] = 4;
	r->counts.produce_unmatched[CORR_UNM_CLOSED] = 3;
	r->counts.unmatched_responses = 2;
	r->has_tail = true;
	r->tail.time[0].requests = 11;
	r->tail.time[0].cause_pct[CAUSE_JOURNAL] = 62.5;
	r->tail.time[0].cause_pct[CAUSE_RUNQ] = 37.5;
	r->tail.time[0].phase_pct[0] = 100.0;
}

static void mini_free(struct rec *r)
{
	for (unsigned m = 0; m < REC_METRICS; m++)
		free(r->m[m]);
	for (uint32_t i = 0; i < r->nfiles; i++)
		free(r->files[i].meta);
	free(r->files);
}

static char *prom_text(const struct rec *r)
{
	struct sink s;

	assert_int_equal(report_prom(sink_open(&s), r, NOW_S), 0);
	sink_text(&s);
	return s.buf;
}

/* ---- a reader of the exposition format, as strict as the spec ---- */

struct sample {
	char name[128];
	char labels[512]; /* as written, between the braces */
	double value;
};

static bool name_char(char c, bool first)
{
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (!first && c >= '0' && c <= '9');
}

/* A quoted label value: only \\, \" and \n escapes. Returns past the quote. */
static const char *label_value(const char *p)
{
	assert_int_equal(*p++, '"');
	for (; *p != '"'; p++) {
		assert_true(*p && *p != '\n');
		if (*p == '\\') {
			p++;
			assert_non_null(strchr("\\\"n", *p));
		}
	}
	return p + 1;
}

static const char *labels(const char *p, struct sample *s)
{
	const char *start = p;

	while (*p != '}') {
		assert_true(name_char(*p, true));
		while (name_char(*p, false))
			p++;
		assert_int_equal(*p++, '=');
		p = label_value(p);
		if (*p == ',')
			p++;
	}
	assert_true((size_t)(p - start) < sizeof(s->labels));
	memcpy(s->labels, start, (size_t)(p - start));
	s->labels[p - start] = '\0';
	return p + 1;
}

static void parse_sample(const char *line, struct sample *s)
{
	const char *p = line;
	char *end;

	memset(s, 0, sizeof(*s));
	assert_true(name_char(*p, true));
	while (name_char(*p, false))
		p++;
	assert_true((size_t)(p - line) < sizeof(s->name));
	memcpy(s->name, line, (size_t)(p - line));
	if (*p == '{')
		p = labels(p + 1, s);
	assert_int_equal(*p++, ' ');
	s->value = strtod(p, &end);
	assert_true(end != p);
	assert_true(*end == '\0'); /* no timestamp: the textfile collector refuses them */
}

/* The family a sample belongs to: a histogram's series drop their suffix. */
static void family_of(const char *name, const char *hist_families, char *out, size_t len)
{
	static const char *const suffix[] = {"_bucket", "_sum", "_count"};

	snprintf(out, len, "%s", name);
	for (size_t i = 0; i < NELEMS(suffix); i++) {
		size_t n = strlen(name), k = strlen(suffix[i]);
		char fam[160];

		if (n <= k || strcmp(name + n - k, suffix[i]))
			continue;
		snprintf(fam, sizeof(fam), "\n%.*s\n", (int)(n - k), name);
		if (strstr(hist_families, fam))
			snprintf(out, len, "%.*s", (int)(n - k), name);
	}
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Every line a HELP, a TYPE or a sample; each family's HELP then TYPE once,
 * before its samples, and its samples together. Returns the sample count. */
static size_t check_format(const char *text)
{
	char *copy = strdup(text), *save = NULL, hists[4096] = "\n", cur[160] = "";
	size_t samples = 0;

	assert_non_null(copy);
	assert_true(text[0] && text[strlen(text) - 1] == '\n');
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char fam[160], help[200], type[200], kind[32];
		struct sample s;

		if (!strncmp(line, "# HELP ", 7)) {
			assert_int_equal(sscanf(line + 7, "%159s", fam), 1);
			snprintf(help, sizeof(help), "# HELP %s ", fam);
			snprintf(type, sizeof(type), "# TYPE %s ", fam);
			assert_int_equal(count_of(text, help), 1);
			assert_int_equal(count_of(text, type), 1);
			snprintf(cur, sizeof(cur), "%s", fam);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(sscanf(line + 7, "%159s %31s", fam, kind), 2);
			assert_string_equal(fam, cur); /* right after its HELP */
			assert_true(!strcmp(kind, "gauge") || !strcmp(kind, "counter") ||
				    !strcmp(kind, "histogram"));
			if (!strcmp(kind, "histogram"))
				snprintf(hists + strlen(hists), sizeof(hists) - strlen(hists),
					 "%s\n", fam);
			continue;
		}
		parse_sample(line, &s);
		family_of(s.name, hists, fam, sizeof(fam));
		assert_string_equal(fam, cur);
		samples++;
	}
	free(copy);
	return samples;
}

/* The value of the sample "name{labels}" (labels "" for none). */
static double value_of(const char *text, const char *name, const char *labels)
{
	char want[700];
	const char *p;

	if (labels[0])
		snprintf(want, sizeof(want), "\n%s{%s} ", name, labels);
	else
		snprintf(want, sizeof(want), "\n%s ", name);
	p = strstr(text, want);
	if (!p)
		fail_msg("no sample %s", want + 1);
	assert_null(strstr(p + 1, want)); /* a series once */
	return strtod(p + strlen(want), NULL);
}

/* ---- the tests ---- */

static void test_format(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 2);
	t = prom_text(&r);
	assert_true(check_format(t) > 50);
	mini_free(&r);
	free(t);
}

/* Each bucket is hist_count_through at its bound, the buckets never fall,
 * and +Inf, _count and _sum are the histogram's own. */
static void check_histogram(const char *t, const char *name, const struct hist *h)
{
	static const uint64_t le_ns[] = REPORT_PROM_LE_NS;
	static const char *const le[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
					 "0.01",   "0.025",   "0.05",	"0.1",	 "0.25",   "0.5",
					 "1",	   "2.5",     "5",	"10",	 "30",	   "60"};
	char series[128], labels[64];
	double prev = 0;

	assert_int_equal(NELEMS(le), NELEMS(le_ns));
	snprintf(series, sizeof(series), "%s_bucket", name);
	for (size_t i = 0; i < NELEMS(le); i++) {
		double v;

		snprintf(labels, sizeof(labels), "le=\"%s\"", le[i]);
		v = value_of(t, series, labels);
		assert_true(v == (double)hist_count_through(h, le_ns[i]));
		assert_true(v >= prev);
		prev = v;
	}
	assert_true(value_of(t, series, "le=\"+Inf\"") == (double)h->count);
	assert_true(prev <= (double)h->count);
	snprintf(series, sizeof(series), "%s_count", name);
	assert_true(value_of(t, series, "") == (double)h->count);
	snprintf(series, sizeof(series), "%s_sum", name);
	assert_true(value_of(t, series, "") == (double)h->sum / 1e9);
}

static void test_histograms(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 1);
	t = prom_text(&r);
	check_histogram(t, "kafkalat_produce_latency_seconds", r.m[REC_M_LATENCY]);
	check_histogram(t, "kafkalat_produce_broker_latency_seconds", r.m[REC_M_BROKER]);
	/* 2.5 s lies inside a bucket: the stalls at 2.5 s + 1234 ns count under it */
	assert_true(value_of(t, "kafkalat_produce_latency_seconds_bucket", "le=\"2.5\"") ==
		    (double)r.m[REC_M_LATENCY]->count);
	mini_free(&r);
	free(t);
}

/* Printed with the shortest text that reads back: exactly the quantile. */
static void test_quantiles(void **state)
{
	static const char *const q[] = {"0.5", "0.9", "0.99", "0.999", "1"};
	static const double qv[] = {0.5, 0.9, 0.99, 0.999, 1.0};
	char labels[128];
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 1);
	t = prom_text(&r);
	for (size_t i = 0; i < NELEMS(q); i++) {
		snprintf(labels, sizeof(labels), "q=\"%s\"", q[i]);
		assert_true(value_of(t, "kafkalat_produce_latency_quantile_seconds", labels) ==
			    (double)hist_quantile(r.m[REC_M_LATENCY], qv[i]) / 1e9);
		assert_true(
		    value_of(t, "kafkalat_produce_broker_latency_quantile_seconds", labels) ==
		    (double)hist_quantile(r.m[REC_M_BROKER], qv[i]) / 1e9);
		snprintf(labels, sizeof(labels), "phase=\"%s\",q=\"%s\"", attrib_phase_name(0),
			 q[i]);
		assert_true(value_of(t, "kafkalat_produce_phase_seconds", labels) ==
			    (double)hist_quantile(r.m[REC_M_PHASE], qv[i]) / 1e9);
	}
	assert_true(value_of(t, "kafkalat_produce_latency_quantile_seconds", "q=\"1\"") ==
		    2.500001234);
	/* a phase without a histogram has no samples rather than made-up zeros */
	snprintf(labels, sizeof(labels), "phase=\"%s\",q=", attrib_phase_name(1));
	assert_null(strstr(t, labels));
	mini_free(&r);
	free(t);
}

static void test_counters_and_shares(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 1);
	t = prom_text(&r);
	assert_true(value_of(t, "kafkalat_tail_cause_ratio", "band=\"ge_p99\",cause=\"journal\"") ==
		    0.625);
	assert_true(value_of(t, "kafkalat_tail_cause_ratio", "band=\"ge_p99\",cause=\"runq\"") ==
		    0.375);
	assert_true(value_of(t, "kafkalat_tail_cause_ratio", "band=\"ge_p99\",cause=\"cpu\"") == 0);
	assert_true(value_of(t, "kafkalat_tail_phase_ratio", "band=\"ge_p99\",phase=\"recv\"") ==
		    1.0);
	assert_null(strstr(t, "band=\"ge_p999\"")); /* no request in it */
	assert_true(value_of(t, "kafkalat_requests_total", "api=\"Produce\"") == 1010);
	assert_true(value_of(t, "kafkalat_requests_total", "api=\"Metadata\"") == 7);
	assert_true(value_of(t, "kafkalat_requests_total", "api=\"key_120\"") == 2);
	assert_true(value_of(t, "kafkalat_produce_bytes_total", "") == 123456789);
	assert_true(value_of(t, "kafkalat_lost_events_total", "ring=\"socket\"") == 5);
	assert_true(value_of(t, "kafkalat_lost_events_total", "ring=\"cause\"") == 6);
	assert_true(value_of(t, "kafkalat_unmatched_requests_total", "reason=\"closed\"") == 4);
	assert_true(value_of(t, "kafkalat_produce_unmatched_requests_total", "reason=\"closed\"") ==
		    3);
	assert_true(value_of(t, "kafkalat_unmatched_responses_total", "") == 2);
	assert_true(value_of(t, "kafkalat_recording_start_timestamp_seconds", "") == 1733338000);
	assert_true(value_of(t, "kafkalat_recording_end_timestamp_seconds", "") == 1733338030);
	assert_true(value_of(t, "kafkalat_last_success_timestamp_seconds", "") == NOW_S);
	mini_free(&r);
	free(t);
}

/* a"b\c<newline>d in a host and a label: escaped as the format says; a
 * label key's '-' becomes '_'. Two files, two info series. */
static void test_label_escaping(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 2);
	t = prom_text(&r);
	assert_true(value_of(t, "kafkalat_recording_info",
			     "host=\"a\\\"b\\\\c\\nd\",kernel=\"6.1.0-test\","
			     "label_env=\"a\\\"b\\\\c\\nd\",label_a_b=\"dash\"") == 1);
	assert_true(value_of(t, "kafkalat_recording_info",
			     "host=\"broker-2\",kernel=\"6.1.0-test\","
			     "label_env=\"a\\\"b\\\\c\\nd\",label_a_b=\"dash\"") == 1);
	assert_int_equal(count_of(t, "\nkafkalat_recording_info{"), 2);
	check_format(t);
	mini_free(&r);
	free(t);
}

/* Prometheus refuses a label value that is not UTF-8: a stray byte (or a
 * surrogate, or an overlong form) becomes U+FFFD, valid text stays. */
static void test_utf8(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 1);
	r.files[0].meta[0].value = "caf\xc3\xa9-\xff-\xed\xa0\x80-\xc0\xaf-\xe2\x82";
	t = prom_text(&r);
	assert_contains(t, "host=\"caf\xc3\xa9-\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd-"
			   "\xef\xbf\xbd\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd\",");
	mini_free(&r);
	free(t);
}

/* Two recordings of one host say the same: one series, not a duplicate. */
static void test_info_once(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	mini_rec(&r, 2);
	r.files[1].meta[0].value = HOSTILE;
	t = prom_text(&r);
	assert_int_equal(count_of(t, "\nkafkalat_recording_info{"), 1);
	mini_free(&r);
	free(t);
}

/* Nothing recorded: the families are there, zeros where a count is due,
 * no quantile of nothing and no span. */
static void test_empty(void **state)
{
	struct rec r;
	char *t;

	(void)state;
	memset(&r, 0, sizeof(r));
	t = prom_text(&r);
	check_format(t);
	assert_true(value_of(t, "kafkalat_produce_latency_seconds_bucket", "le=\"+Inf\"") == 0);
	assert_true(value_of(t, "kafkalat_produce_latency_seconds_count", "") == 0);
	assert_true(value_of(t, "kafkalat_produce_latency_seconds_sum", "") == 0);
	assert_true(value_of(t, "kafkalat_requests_total", "api=\"Produce\"") == 0);
	assert_null(strstr(t, "q=\""));
	assert_null(strstr(t, "\nkafkalat_recording_start_timestamp_seconds "));
	assert_int_equal(count_of(t, "# TYPE "), count_of(t, "# HELP "));
	assert_true(count_of(t, "# TYPE ") >= 17);
	free(t);
}

static void test_write_error(void **state)
{
	FILE *full = fopen("/dev/full", "w"), *ro = fopen("/dev/null", "r");
	struct rec r;

	(void)state;
	assert_non_null(full);
	assert_non_null(ro);
	mini_rec(&r, 1);
	assert_int_equal(report_prom(full, &r, NOW_S), -EIO);
	assert_int_equal(report_prom(ro, &r, NOW_S), -EIO);
	fclose(full);
	fclose(ro);
	mini_free(&r);
}

/* ---- the atomic file ---- */

static char *make_dir(void)
{
	char *dir = strdup("/tmp/test_report_prom.XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

/* Files in dir, "." and ".." aside. */
static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_write_file_replaces(void **state)
{
	char *dir = make_dir(), path[256], *got, *want;
	struct stat st;
	struct rec r;
	FILE *f;

	(void)state;
	mini_rec(&r, 1);
	snprintf(path, sizeof(path), "%s/kafkalat.prom", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("old\n", f);
	fclose(f);
	assert_int_equal(report_prom_write_file(path, &r, NOW_S), 0);
	got = read_all(path);
	want = prom_text(&r);
	assert_string_equal(got, want);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(dir_entries(dir), 1); /* no temporary file left */
	unlink(path);
	rmdir(dir);
	mini_free(&r);
	free(got);
	free(want);
	free(dir);
}

static void test_write_file_fails_clean(void **state)
{
	char *dir = make_dir(), path[256];
	struct rec r;

	(void)state;
	mini_rec(&r, 1);
	snprintf(path, sizeof(path), "%s/missing/kafkalat.prom", dir);
	assert_int_equal(report_prom_write_file(path, &r, NOW_S), -ENOENT);
	assert_int_equal(dir_entries(dir), 0);
	/* the rename fails after the temporary file was written: it goes */
	snprintf(path, sizeof(path), "%s/adir", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(report_prom_write_file(path, &r, NOW_S), -EISDIR);
	assert_int_equal(dir_entries(dir), 1);
	rmdir(path);
	rmdir(dir);
	mini_free(&r);
	free(dir);
}

/* A recording written and read back by the real writer and loader: every
 * figure is the merged recording's own, its shares the trailer's tail. */
static void test_fixture(void **state)
{
	static const char *const q[] = {"0.5", "0.9", "0.99", "0.999", "1"};
	static const double qv[] = {0.5, 0.9, 0.99, 0.999, 1.0};
	struct rec_fixture_opts o;
	char labels[160];
	struct rec r;
	char *t;

	(void)state;
	rec_fixture_defaults(&o);
	assert_int_equal(rec_fixture_load(&r, &o), 0);
	assert_true(r.has_tail);
	t = prom_text(&r);
	check_format(t);
	check_histogram(t, "kafkalat_produce_latency_seconds", r.m[REC_M_LATENCY]);
	check_histogram(t, "kafkalat_produce_broker_latency_seconds", r.m[REC_M_BROKER]);
	for (size_t i = 0; i < NELEMS(q); i++) {
		snprintf(labels, sizeof(labels), "q=\"%s\"", q[i]);
		assert_true(value_of(t, "kafkalat_produce_latency_quantile_seconds", labels) ==
			    (double)hist_quantile(r.m[REC_M_LATENCY], qv[i]) / 1e9);
		snprintf(labels, sizeof(labels), "phase=\"append\",q=\"%s\"", q[i]);
		assert_true(value_of(t, "kafkalat_produce_phase_seconds", labels) ==
			    (double)hist_quantile(r.m[REC_M_PHASE + ATTRIB_APPEND], qv[i]) / 1e9);
	}
	for (unsigned c = 0; c < ATTRIB_CAUSES; c++) {
		snprintf(labels, sizeof(labels), "band=\"ge_p99\",cause=\"%s\"",
			 attrib_cause_name(c));
		assert_true(value_of(t, "kafkalat_tail_cause_ratio", labels) ==
			    r.tail.time[0].cause_pct[c] / 100.0);
	}
	assert_true(value_of(t, "kafkalat_tail_cause_ratio", "band=\"ge_p99\",cause=\"journal\"") >
		    0.1);
	assert_true(value_of(t, "kafkalat_requests_total", "api=\"Produce\"") ==
		    (double)r.agg.requests[0]);
	assert_true(value_of(t, "kafkalat_lost_events_total", "ring=\"socket\"") == 3);
	assert_true(value_of(t, "kafkalat_recording_info",
			     "host=\"fixture\",kernel=\"6.1.0-test\",label_run=\"fixture\"") == 1);
	assert_true(value_of(t, "kafkalat_recording_end_timestamp_seconds", "") ==
		    (double)r.t_end_ns / 1e9);
	rec_free(&r);
	free(t);
}

/* A recording with loss: every kind of both rings a series (zeros too),
 * the kinds adding up to each ring's total, the touched requests. */
static void test_loss(void **state)
{
	static const char *const socket_zero[] = {
	    "conn",   "request", "topic", "partition", "close",		 "undecodable",
	    "desync", "sent",	 "flow",  "arrival",   "fetch_partition"};
	const char *name = "kafkalat_lost_events_by_kind_total";
	char labels[128];
	struct rec r;
	char *t;

	(void)state;
	assert_int_equal(rec_fixture_load_loss(&r), 0);
	t = prom_text(&r);
	check_format(t);
	assert_contains(t, "# TYPE kafkalat_lost_events_by_kind_total counter\n");
	assert_true(value_of(t, name, "ring=\"socket\",kind=\"response\"") == 2);
	assert_true(value_of(t, name, "ring=\"socket\",kind=\"produce_request\"") == 1);
	for (size_t i = 0; i < NELEMS(socket_zero); i++) {
		snprintf(labels, sizeof(labels), "ring=\"socket\",kind=\"%s\"", socket_zero[i]);
		assert_true(value_of(t, name, labels) == 0);
	}
	assert_true(value_of(t, name, "ring=\"cause\",kind=\"offcpu\"") == 1);
	assert_true(value_of(t, name, "ring=\"cause\",kind=\"file\"") == 0);
	assert_true(value_of(t, name, "ring=\"cause\",kind=\"lost\"") == 0);
	/* 13 socket kinds and 13 cause record types have a name */
	assert_int_equal(count_of(t, "\nkafkalat_lost_events_by_kind_total{ring=\"socket\""), 13);
	assert_int_equal(count_of(t, "\nkafkalat_lost_events_by_kind_total{ring=\"cause\""), 13);
	assert_true(value_of(t, "kafkalat_lost_events_total", "ring=\"socket\"") == 3);
	assert_true(value_of(t, "kafkalat_lost_events_total", "ring=\"cause\"") == 1);
	assert_true(value_of(t, "kafkalat_touched_requests_total", "") == 3);
	assert_true(value_of(t, "kafkalat_produce_touched_requests_total", "") == 2);
	assert_true(value_of(t, "kafkalat_produce_unattributed_lost_causes_total", "") == 1);
	assert_true(value_of(t, "kafkalat_loss_intervals", "") == 2);
	assert_true(value_of(t, "kafkalat_unmatched_requests_total", "reason=\"closed\"") == 0);
	rec_free(&r);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_histograms),
	    cmocka_unit_test(test_quantiles),
	    cmocka_unit_test(test_counters_and_shares),
	    cmocka_unit_test(test_label_escaping),
	    cmocka_unit_test(test_info_once),
	    cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_write_error),
	    cmocka_unit_test(test_write_file_replaces),
	    cmocka_unit_test(test_write_file_fails_clean),
	    cmocka_unit_test(test_fixture),
	    cmocka_unit_test(test_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
