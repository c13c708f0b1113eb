// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `kafkalat report --format html` (report_html.h): the page, its tables,
 * and the charts of html_charts.c and html_tail.c in their order. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkalat/fmt.h"
#include "kafkalat/html_parts.h"
#include "kafkalat/report_html.h"
#include "kafkalat/svg.h"

/* No script, no URL: the policy makes the browser refuse any fetch the
 * page might still hold by mistake. */
static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'\">\n"
    "<title>kafkalat report</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;max-width:1000px}\n"
    "h2{border-bottom:1px solid #ccc;margin-top:1.6em}\n"
    "table{border-collapse:collapse;margin:.5em 0}\n"
    "th,td{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums} table.meta td.n{text-align:left}\n"
    "tr.sub th{padding-left:2em;font-weight:normal}\n"
    "svg{display:block;margin:.5em 0}\n"
    "svg text{font:11px sans-serif;fill:#333}\n"
    "svg .yl{text-anchor:end} svg .xl{text-anchor:middle}\n"
    "svg .grid{stroke:#e4e4e4} svg .tick{stroke:#999}\n"
    "svg .curve{fill:none;stroke-width:2}\n"
    "svg .hover{fill:transparent} svg .hover:hover{fill:rgba(0,0,0,.06)}\n"
    "svg .loss{fill:#d62728}\n"
    "svg .commit{fill:#b07aa1;opacity:.7} svg .bl{font-size:10px;pointer-events:none}\n"
    "svg .f text{font:11px monospace;fill:#000} svg .f:hover rect{stroke:#000}\n"
    ".legend span{margin-right:1em;white-space:nowrap}\n"
    ".legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\n"
    ".caption,.note{color:#555;font-size:13px} .empty{color:#a33}\n"
    "nav a{margin-right:1em}\n"
    "</style>\n</head>\n<body>\n<h1>kafkalat: Produce latency report</h1>\n"
    "<nav><a href=\"#meta\">recording</a><a href=\"#summary\">summary</a>"
    "<a href=\"#spectrum\">spectrum</a><a href=\"#over-time\">over time</a>"
    "<a href=\"#heatmap\">heat map</a><a href=\"#composition\">tail composition</a>"
    "<a href=\"#flame\">flame graph</a><a href=\"#tops\">tops</a>"
    "<a href=\"#commits\">journal</a><a href=\"#kafka-metrics\">Kafka metrics</a></nav>\n";

void html_section_begin(FILE *out, const char *id, const char *title)
{
	fprintf(out, "<section id=\"%s\">\n<h2>%s</h2>\n", id, title);
}

void html_section_end(FILE *out)
{
	fputs("</section>\n", out);
}

void html_note(FILE *out, const char *cls, const char *text)
{
	fprintf(out, "<p class=\"%s\">%s</p>\n", cls, text);
}

bool html_no_intervals(struct html_ctx *c)
{
	if (c->cols.n)
		return false;
	html_note(c->out, "empty", "The recording has no intervals: nothing to draw over time.");
	html_section_end(c->out);
	return true;
}

static void utc_time(int64_t ns, char *buf, size_t len)
{
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!gmtime_r(&s, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, len, "?");
}

static void row_uint(FILE *out, const char *key, const char *label, uint64_t v)
{
	fprintf(out,
		"<tr><th>%s</th><td class=\"n\" data-key=\"%s\" data-value=\"%" PRIu64 "\">%" PRIu64
		"</td></tr>\n",
		label, key, v, v);
}

static void row_text(FILE *out, const char *label, const char *v)
{
	fprintf(out, "<tr><th>%s</th><td>", label);
	html_esc(out, v);
	fputs("</td></tr>\n", out);
}

static void meta_file(FILE *out, const struct rec_file *f, uint32_t i)
{
	char dur[32];

	fputs("<h3>", out);
	html_esc(out, f->path);
	fprintf(out, "</h3>\n<table class=\"meta\" data-file=\"%u\">\n", i);
	row_text(out, "run", f->complete ? "complete" : "cut short (no trailer)");
	row_uint(out, "intervals", "intervals", f->intervals);
	snprintf(dur, sizeof(dur), "%.1f s", f->duration_s);
	row_text(out, "duration", dur);
	for (uint32_t k = 0; k < f->nmeta; k++) {
		fputs("<tr><th>", out);
		html_esc(out, f->meta[k].key);
		fputs("</th><td>", out);
		html_esc(out, f->meta[k].value);
		fputs("</td></tr>\n", out);
	}
	fputs("</table>\n", out);
}

static void html_meta(struct html_ctx *c)
{
	const struct rec *r = c->r;
	uint32_t complete = 0;
	char t0[40] = "-", t1[40] = "-";

	for (uint32_t i = 0; i < r->nfiles; i++)
		complete += r->files[i].complete;
	if (r->niv) {
		utc_time(r->t_start_ns, t0, sizeof(t0));
		utc_time(r->t_end_ns, t1, sizeof(t1));
	}
	html_section_begin(c->out, "meta", "Recording");
	fputs("<table id=\"meta-table\">\n", c->out);
	row_uint(c->out, "files", "files", r->nfiles);
	row_uint(c->out, "complete", "files complete", complete);
	row_uint(c->out, "intervals", "intervals", r->niv);
	row_text(c->out, "from", t0);
	row_text(c->out, "to", t1);
	fputs("</table>\n", c->out);
	if (!r->niv)
		html_note(c->out, "empty", "The recording holds no interval.");
	for (uint32_t i = 0; i < r->nfiles; i++)
		meta_file(c->out, &r->files[i], i);
	html_section_end(c->out);
}

static const struct {
	const char *name; /* as the JSON report's keys */
	double q;
} summary_q[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}};

/* One latency histogram's row: the JSON report's numbers, in us as it
 * prints them and in ns. */
static void latency_row(FILE *out, const char *label, const char *json, const struct hist *h)
{
	char us[32], v[16];

	fprintf(out, "<tr data-json=\"%s\" data-count=\"%" PRIu64 "\"><th>%s</th>", json,
		h ? h->count : 0, label);
	for (size_t i = 0; i <= sizeof(summary_q) / sizeof(summary_q[0]); i++) {
		bool max = i == sizeof(summary_q) / sizeof(summary_q[0]);
		uint64_t ns = !h ? 0 : max ? h->max : hist_quantile(h, summary_q[i].q);

		fmt_us_json(ns, us, sizeof(us));
		fmt_ns(ns, v, sizeof(v));
		fprintf(out,
			"<td class=\"n\" data-q=\"%s\" data-ns=\"%" PRIu64
			"\" data-us=\"%s\">%s</td>",
			max ? "max" : summary_q[i].name, ns, us, h && h->count ? v : "-");
	}
	fputs("</tr>\n", out);
}

static uint64_t sum_of(const uint64_t *v, int n)
{
	uint64_t s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s;
}

static void summary_counts(FILE *out, const struct rec *r, const struct report_run *run)
{
	fputs("<table id=\"summary-counts\">\n", out);
	row_uint(out, "produce.requests", "Produce requests", agg_count(&r->agg, 0));
	row_uint(out, "produce.wire_unknown", "without wire times (not in the latency)",
		 agg_wire_unknown(&r->agg, 0));
	row_uint(out, "produce.acks0", "acks=0 (no response)", r->agg.produce_acks0);
	row_uint(out, "produce.unmatched", "Produce unmatched",
		 sum_of(r->counts.produce_unmatched, CORR_UNM_MAX));
	row_uint(out, "unmatched.requests", "unmatched, all APIs",
		 sum_of(r->counts.unmatched, CORR_UNM_MAX));
	row_uint(out, "unmatched.responses", "responses without a request",
		 r->counts.unmatched_responses);
	row_uint(out, "undecodable.connections", "undecodable connections",
		 r->counts.undecodable_conns);
	row_uint(out, "lost_events", "lost events", run->lost_events);
	row_uint(out, "produce.records", "records", r->agg.produce_records);
	row_uint(out, "produce.record_bytes", "record bytes", r->agg.produce_bytes);
	fputs("</table>\n", out);
}

struct loss_rows {
	FILE *out;
	const char *ring;
};

/* A kind's row, keyed by its JSON path ("lost.socket_kinds.response"). */
static void loss_kind_row(void *ctx, const char *kind, uint64_t n)
{
	struct loss_rows *l = ctx;

	fprintf(l->out,
		"<tr class=\"sub\"><th>%s</th><td class=\"n\" data-key=\"lost.%s_kinds.%s\" "
		"data-value=\"%" PRIu64 "\">%" PRIu64 "</td></tr>\n",
		kind, l->ring, kind, n, n);
}

/* The JSON report's "lost", row by row, and the intervals it fell in. */
static void loss_table(FILE *out, const struct rec *r, const struct report_loss *l)
{
	static const char *const labels[REPORT_RINGS] = {"socket ring records lost",
							 "causes ring records lost"};
	char key[32];

	fputs("<table id=\"summary-loss\">\n", out);
	for (unsigned int ring = 0; ring < REPORT_RINGS; ring++) {
		struct loss_rows rows = {out, report_ring_name(ring)};

		snprintf(key, sizeof(key), "lost.%s", report_ring_name(ring));
		row_uint(out, key, labels[ring], report_loss_ring(l, ring));
		report_loss_kinds(l, ring, false, loss_kind_row, &rows);
	}
	row_uint(out, "lost.touched_requests", "requests the loss touched (in no latency)",
		 l->touched);
	row_uint(out, "lost.touched_produce", "of which Produce", l->produce_touched);
	row_uint(out, "lost.unattributed_lost_causes", "Produce unattributed for lost causes",
		 l->causes_touched);
	row_uint(out, "loss_intervals", "intervals with loss (marked over time)",
		 r->loss_intervals);
	fputs("</table>\n", out);
}

static void html_summary(struct html_ctx *c)
{
	struct report_run run;

	rec_report_run(c->r, &run);
	html_section_begin(c->out, "summary", "Summary");
	fputs("<table id=\"summary-latency\">\n<tr><th></th><th>p50</th><th>p90</th><th>p99</th>"
	      "<th>p99.9</th><th>max</th></tr>\n",
	      c->out);
	latency_row(c->out, "latency (client's wait)", "produce.latency_us",
		    agg_latency(&c->r->agg, 0));
	latency_row(c->out, "broker latency (first read to last write)",
		    "produce.broker_latency_us", agg_hist(&c->r->agg, AGG_BROKER, 0));
	if (c->base)
		latency_row(c->out, "baseline latency", "baseline.produce.latency_us",
			    agg_latency(&c->base->agg, 0));
	fputs("</table>\n", c->out);
	summary_counts(c->out, c->r, &run);
	loss_table(c->out, c->r, &run.loss);
	html_note(c->out, "caption",
		  "The latency is the client's wait: from the request's first byte in the "
		  "broker's socket to its response's last byte out.");
	html_note(c->out, "caption",
		  "Lost: records the kernel could not write, its ring buffers full. The requests "
		  "the loss touched are in no latency and not unmatched; the Produce requests "
		  "unattributed for lost causes keep their latency. The charts over time mark "
		  "the intervals with a loss in red.");
	html_section_end(c->out);
}

struct top_row {
	const char *key;
	uint64_t requests, total_ns;
};

static void tops_table(FILE *out, const char *id, const char *what, const struct top_row *t,
		       size_t n)
{
	char sum[16];

	fprintf(out,
		"<table id=\"%s\">\n<tr><th>%s</th><th>requests</th><th>latency sum</th></tr>\n",
		id, what);
	for (size_t i = 0; i < n; i++) {
		fmt_ns(t[i].total_ns, sum, sizeof(sum));
		fputs("<tr><td>", out);
		html_esc(out, t[i].key);
		fprintf(out,
			"</td><td class=\"n\" data-requests=\"%" PRIu64 "\">%" PRIu64
			"</td><td class=\"n\" data-total-ns=\"%" PRIu64 "\">%s</td></tr>\n",
			t[i].requests, t[i].requests, t[i].total_ns, sum);
	}
	if (!n)
		fputs("<tr><td colspan=\"3\">none</td></tr>\n", out);
	fputs("</table>\n", out);
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct top_row *)a)->key, ((const struct top_row *)b)->key);
}

static int by_requests(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	if (x->requests != y->requests)
		return x->requests < y->requests ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* The intervals' tops summed by key, largest first; returns how many. */
static size_t tops_summed(const struct rec *r, int kind, struct top_row *t)
{
	size_t n = 0, m = 0;

	for (uint32_t i = 0; i < r->niv; i++)
		for (uint32_t k = 0; k < r->iv[i].ntop[kind] && k < REC_TOPS; k++)
			if (r->iv[i].top[kind][k].key)
				t[n++] = (struct top_row){r->iv[i].top[kind][k].key,
							  r->iv[i].top[kind][k].requests,
							  r->iv[i].top[kind][k].total_ns};
	qsort(t, n, sizeof(*t), by_key);
	for (size_t i = 0; i < n; i++) {
		if (m && strcmp(t[m - 1].key, t[i].key) == 0) {
			t[m - 1].requests += t[i].requests;
			t[m - 1].total_ns += t[i].total_ns;
		} else {
			t[m++] = t[i];
		}
	}
	qsort(t, m, sizeof(*t), by_requests);
	return m < REPORT_TOPS ? m : REPORT_TOPS;
}

static int tops_kind(struct html_ctx *c, int kind, const char *id, const char *what)
{
	const struct rec *r = c->r;
	struct top_row *t;
	size_t n = 0;

	t = calloc((size_t)r->niv * REC_TOPS + REPORT_TOPS, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (r->has_tail) {
		const int tk = kind ? BAND_TOP_CLIENT : BAND_TOP_PARTITION;

		for (; n < r->tail.ntop[tk] && n < REPORT_TOPS; n++)
			t[n] = (struct top_row){
			    r->tail.top[tk][n].key ? r->tail.top[tk][n].key : "",
			    r->tail.top[tk][n].requests, r->tail.top[tk][n].total_ns};
	} else {
		n = tops_summed(r, kind, t);
	}
	tops_table(c->out, id, what, t, n);
	free(t);
	return 0;
}

static int html_tops(struct html_ctx *c)
{
	int err;

	html_section_begin(c->out, "tops", "Top partitions and clients of the &ge; p99 requests");
	html_note(c->out, "caption",
		  c->r->has_tail ? "From the run's slowest requests (the trailer)."
				 : "Summed over the intervals' own tops (no trailer).");
	err = tops_kind(c, 0, "tops-partitions", "partition");
	if (!err)
		err = tops_kind(c, 1, "tops-clients", "client");
	html_section_end(c->out);
	return err;
}

/* Kafka's RequestMetrics (kafka.network.RequestChannel) in our phases.
 * Kafka's clock starts when the network thread has read the whole request
 * (our t_read) and stops when the response's send completes (our t_end). */
static const struct kafka_row {
	const char *metric;
	unsigned phases; /* bit p: attrib_phase p; 0: not measured */
	const char *note;
} kafka_rows[] = {
    {"RequestQueueTimeMs", 1u << ATTRIB_QUEUE, "= queue: read to a handler's dequeue"},
    {"LocalTimeMs", 1u << ATTRIB_LOCK | 1u << ATTRIB_APPEND,
     "&asymp; lock + append: dequeue to the last append's end (the handler's own work "
     "after the append is in post_append)"},
    {"RemoteTimeMs + ResponseQueueTimeMs",
     1u << ATTRIB_POST_APPEND | 1u << ATTRIB_REPLICATION | 1u << ATTRIB_RESPONSE_QUEUE,
     "&asymp; post_append, or for acks=all with its release found replication (the "
     "purgatory wait, to the releasing follower fetch) + response_queue; then the "
     "response's wait for its network thread"},
    {"ThrottleTimeMs", 0,
     "not a phase: a quota mute delays the connection's next request (cause "
     "throttle_mute, in its socket_wait)"},
    {"ResponseSendTimeMs", 1u << ATTRIB_SEND, "= send: the response's writes"},
    {"TotalTimeMs",
     1u << ATTRIB_QUEUE | 1u << ATTRIB_LOCK | 1u << ATTRIB_APPEND | 1u << ATTRIB_POST_APPEND |
	 1u << ATTRIB_REPLICATION | 1u << ATTRIB_RESPONSE_QUEUE | 1u << ATTRIB_SEND,
     "&asymp; queue through send; excludes recv, socket_wait, read and send_queue"},
    {"(outside Kafka's clock)",
     1u << ATTRIB_RECV | 1u << ATTRIB_SOCKET_WAIT | 1u << ATTRIB_READ | 1u << ATTRIB_SEND_QUEUE,
     "recv + socket_wait + read + send_queue: the client's wait Kafka does not see"},
};

static void kafka_cells(FILE *out, const struct hist *h)
{
	static const double qs[] = {0.5, 0.99, 0.999};
	char v[16], us[32];

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		uint64_t ns = h ? hist_quantile(h, qs[i]) : 0;

		fmt_ns(ns, v, sizeof(v));
		fprintf(out, "<td class=\"n\" data-q=\"%g\" data-ns=\"%" PRIu64 "\">%s</td>", qs[i],
			ns, h && h->count ? v : "-");
	}
	fmt_json_double(h ? hist_mean(h) / 1e3 : 0, us, sizeof(us));
	fmt_ns(h ? (uint64_t)hist_mean(h) : 0, v, sizeof(v));
	fprintf(out, "<td class=\"n\" data-mean-us=\"%s\">%s</td>", us, h && h->count ? v : "-");
}

/* A row of several phases: means add, quantiles do not. */
static void kafka_row(FILE *out, const struct rec *r, const struct kafka_row *k)
{
	double mean = 0;
	unsigned n = 0, p1 = 0;
	uint64_t count = 0;
	char v[16], us[32];

	for (unsigned p = 0; p < ATTRIB_PHASES; p++)
		if (k->phases & 1u << p) {
			n++;
			p1 = p;
			if (r->m[REC_M_PHASE + p]) {
				mean += hist_mean(r->m[REC_M_PHASE + p]);
				count += r->m[REC_M_PHASE + p]->count;
			}
		}
	fprintf(out, "<tr data-metric=\"%s\"><th>%s</th>", k->metric, k->metric);
	if (n == 1) {
		kafka_cells(out, r->m[REC_M_PHASE + p1]);
	} else {
		fmt_json_double(mean / 1e3, us, sizeof(us));
		fmt_ns((uint64_t)mean, v, sizeof(v));
		fprintf(out,
			"<td colspan=\"3\" class=\"note\">%s</td><td class=\"n\" "
			"data-mean-us=\"%s\">%s</td>",
			n ? "sum of phases: quantiles do not add" : "n/a", us, count ? v : "-");
	}
	fprintf(out, "<td class=\"note\">%s</td></tr>\n", k->note);
	for (unsigned p = 0; n > 1 && p < ATTRIB_PHASES; p++)
		if (k->phases & 1u << p) {
			fprintf(out, "<tr class=\"sub\" data-phase=\"%s\"><th>%s</th>",
				attrib_phase_name(p), attrib_phase_name(p));
			kafka_cells(out, r->m[REC_M_PHASE + p]);
			fputs("<td></td></tr>\n", out);
		}
}

static void html_kafka(struct html_ctx *c)
{
	html_section_begin(c->out, "kafka-metrics", "In Kafka's request metrics");
	fputs("<table id=\"kafka-table\">\n<tr><th>Kafka (Produce)</th><th>p50</th><th>p99</th>"
	      "<th>p99.9</th><th>mean</th><th>from our phases</th></tr>\n",
	      c->out);
	for (size_t i = 0; i < sizeof(kafka_rows) / sizeof(kafka_rows[0]); i++)
		kafka_row(c->out, c->r, &kafka_rows[i]);
	fputs("</table>\n", c->out);
	html_note(c->out, "note",
		  "To cross-check a broker's dashboards (kafka.network:type=RequestMetrics,"
		  "request=Produce). Kafka's clock starts when the network thread has read the "
		  "whole request and stops when the response is written; ours runs from the "
		  "request's first byte in the socket to the response's last byte out, so "
		  "recv, socket_wait, read and send_queue are outside TotalTimeMs. Our "
		  "post_append holds Kafka's RemoteTimeMs (acks=all replication), "
		  "ResponseQueueTimeMs and the handler's work after the append, which Kafka "
		  "counts in LocalTimeMs. Phase histograms are of the attributed requests; a "
		  "row of several phases shows the sum of their means, exact, but no "
		  "quantiles: the quantile of a sum is not the sum of quantiles.");
	html_section_end(c->out);
}

static int write_page(struct html_ctx *c)
{
	int err;

	fputs(page_head, c->out);
	html_meta(c);
	html_summary(c);
	html_spectrum(c);
	html_over_time(c);
	html_heatmap(c);
	html_composition(c);
	err = html_flame(c);
	if (!err)
		err = html_tops(c);
	if (err)
		return err;
	html_commits(c);
	html_kafka(c);
	fputs("<p class=\"caption\">kafkalat</p>\n</body>\n</html>\n", c->out);
	return 0;
}

int report_html(FILE *out, const struct rec *r, const struct rec *baseline)
{
	struct html_ctx c = {.out = out, .r = r, .base = baseline};
	int err = html_cols_build(&c.cols, r);

	if (!err && baseline)
		err = html_cols_build(&c.bcols, baseline);
	if (!err) {
		c.span_s = c.cols.span_s;
		if (baseline && c.bcols.span_s > c.span_s)
			c.span_s = c.bcols.span_s;
		err = write_page(&c);
	}
	html_cols_free(&c.cols);
	html_cols_free(&c.bcols);
	if (err)
		return err;
	/* every write above went to the stream: its error flag says if one failed */
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
