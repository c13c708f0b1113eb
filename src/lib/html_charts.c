// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The HTML report's latency charts (html_parts.h): the percentile
 * spectrum, the percentiles over time and the heat map. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "kafkalat/fmt.h"
#include "kafkalat/html_parts.h"
#include "kafkalat/svg.h"

#define CHART_H	 320
#define SPEC_N	 201 /* points of the spectrum's curve */
#define SPEC_MAX 5.0 /* log10 1/(1-q) at the right: q = 0.99999 */

static const double spec_ticks[] = {0.5, 0.9, 0.99, 0.999, 0.9999};
static const char *const spec_tick_names[] = {"50%", "90%", "99%", "99.9%", "99.99%"};

static double spec_q(int i)
{
	return 1 - pow(10, -SPEC_MAX * i / (SPEC_N - 1));
}

static double spec_x(double q)
{
	return SVG_ML + SVG_PLOTW * log10(1 / (1 - q)) / SPEC_MAX;
}

/* One recording's curve: a polyline carrying its points (q:ns). */
static void spec_curve(FILE *out, const struct hist *h, const struct scale *y, const char *name,
		       const char *color, bool dashed)
{
	fprintf(out, "<polyline class=\"curve\" data-series=\"%s\" data-points=\"", name);
	for (int i = 0; i < SPEC_N; i++)
		fprintf(out, "%s%.6g:%" PRIu64, i ? " " : "", spec_q(i),
			hist_quantile(h, spec_q(i)));
	fprintf(out, "\" stroke=\"%s\"%s points=\"", color,
		dashed ? " stroke-dasharray=\"6 4\"" : "");
	for (int i = 0; i < SPEC_N; i++)
		fprintf(out, "%s%.1f,%.1f", i ? " " : "", spec_x(spec_q(i)),
			scale_px(y, (double)hist_quantile(h, spec_q(i))));
	fputs("\"/>\n", out);
}

/* Dots at the tick quantiles, each with its number as a tooltip. */
static void spec_dots(FILE *out, const struct hist *h, const struct scale *y, const char *name,
		      const char *color)
{
	char v[16];

	for (size_t i = 0; i < sizeof(spec_ticks) / sizeof(spec_ticks[0]); i++) {
		uint64_t ns = hist_quantile(h, spec_ticks[i]);

		fmt_ns(ns, v, sizeof(v));
		fprintf(out,
			"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" data-series=\"%s\" "
			"data-q=\"%g\" data-ns=\"%" PRIu64 "\"><title>%s %s: %s</title></circle>\n",
			spec_x(spec_ticks[i]), scale_px(y, (double)ns), color, name, spec_ticks[i],
			ns, name, spec_tick_names[i], v);
	}
}

static void spec_axes(FILE *out, const struct scale *y)
{
	double y0 = CHART_H - SVG_MB;

	svg_axis_log_ns_y(out, y, SVG_ML, SVG_ML + SVG_PLOTW);
	fprintf(out, "<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">0%%</text>\n", spec_x(0), y0 + 16);
	for (size_t i = 0; i < sizeof(spec_ticks) / sizeof(spec_ticks[0]); i++)
		fprintf(out,
			"<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			spec_x(spec_ticks[i]), SVG_MT, spec_x(spec_ticks[i]), y0,
			spec_x(spec_ticks[i]), y0 + 16, spec_tick_names[i]);
}

void html_spectrum(struct html_ctx *c)
{
	const struct hist *h = html_latency(c->r), *b = c->base ? html_latency(c->base) : NULL;
	uint64_t lo, hi;
	struct scale y;

	html_section_begin(c->out, "spectrum", "Percentile spectrum");
	if (!h || hist_empty(h)) {
		html_note(c->out, "empty", "No Produce latency was recorded.");
		html_section_end(c->out);
		return;
	}
	if (b && hist_empty(b))
		b = NULL;
	lo = b && b->min < h->min ? b->min : h->min;
	hi = b && b->max > h->max ? b->max : h->max;
	scale_log_ns(&y, lo, hi, CHART_H - SVG_MB, SVG_MT);
	svg_begin(c->out, "spectrum-chart", SVG_W, CHART_H,
		  "Produce latency by percentile, x: 1/(1-q) on a log scale");
	spec_axes(c->out, &y);
	if (b) {
		spec_curve(c->out, b, &y, "baseline", "#888888", true);
		spec_dots(c->out, b, &y, "baseline", "#888888");
		svg_legend(c->out, 1, "#888888", true, "baseline");
	}
	spec_curve(c->out, h, &y, "latency", "#4e79a7", false);
	spec_dots(c->out, h, &y, "latency", "#4e79a7");
	svg_legend(c->out, 0, "#4e79a7", false, "this recording");
	svg_end(c->out);
	html_note(c->out, "caption",
		  "The client's latency at each quantile q, x on a 1/(1-q) log scale so each "
		  "further nine gets the same width; from the merged histogram.");
	html_section_end(c->out);
}

#define LOSS_MARK_H 5 /* px, in the top margin: it hides nothing drawn */

uint32_t html_loss_marks(FILE *out, const struct html_cols *cols, const struct scale *x, double y,
			 int legend)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < cols->n; i++) {
		const struct html_col *col = &cols->c[i];
		const struct report_loss *l = &col->loss;
		double x0 = scale_px(x, col->t0_s), x1 = scale_px(x, col->t1_s);

		if (!report_loss_any(l))
			continue;
		fprintf(out,
			"<rect class=\"loss\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" "
			"data-t=\"%.3f\" data-socket=\"%" PRIu64 "\" data-causes=\"%" PRIu64
			"\" data-touched=\"%" PRIu64 "\" data-touched-produce=\"%" PRIu64
			"\" data-unattributed=\"%" PRIu64 "\"><title>%.1f-%.1f s: ",
			x0, y - LOSS_MARK_H - 1, x1 - x0 > 0.5 ? x1 - x0 : 0.5, LOSS_MARK_H,
			col->t0_s, report_loss_ring(l, REPORT_RING_SOCKET),
			report_loss_ring(l, REPORT_RING_CAUSES), l->touched, l->produce_touched,
			l->causes_touched, col->t0_s, col->t1_s);
		report_loss_text(out, l, "");
		fputs("</title></rect>\n", out);
		n++;
	}
	if (n && legend >= 0)
		svg_legend(out, legend, "#d62728", false, "loss (ring full)");
	return n;
}

/* The caption's sentence on the marks, when there are any. */
static void loss_caption(FILE *out, uint32_t marked)
{
	if (marked)
		fprintf(out,
			" Red marks above the plot: the %u points with records lost (ring full) or "
			"requests the loss touched; their figures miss those requests.",
			marked);
}

static const char *const q_names[HTML_QS] = {"p50", "p99", "p99.9", "max"};
static const char *const q_colors[HTML_QS] = {"#59a14f", "#4e79a7", "#f28e2b", "#e15759"};

static double col_mid(const struct html_col *col)
{
	return (col->t0_s + col->t1_s) / 2;
}

/* One percentile of every column: a polyline carrying its t:ns points. */
static void time_series(FILE *out, const struct html_cols *cols, const struct scale *x,
			const struct scale *y, int q, bool base)
{
	fprintf(out, "<polyline class=\"curve\" data-series=\"%s%s\" data-points=\"",
		base ? "baseline-" : "", q_names[q]);
	for (uint32_t i = 0, n = 0; i < cols->n; i++)
		if (cols->c[i].count)
			fprintf(out, "%s%.3f:%" PRIu64, n++ ? " " : "", col_mid(&cols->c[i]),
				cols->c[i].q[q]);
	fprintf(out, "\" stroke=\"%s\"%s points=\"", q_colors[q],
		base ? " stroke-dasharray=\"6 4\" opacity=\"0.6\"" : "");
	for (uint32_t i = 0, n = 0; i < cols->n; i++)
		if (cols->c[i].count)
			fprintf(out, "%s%.1f,%.1f", n++ ? " " : "",
				scale_px(x, col_mid(&cols->c[i])),
				scale_px(y, (double)cols->c[i].q[q]));
	fputs("\"/>\n", out);
}

/* A transparent band per column whose tooltip has its numbers. */
static void time_hover(FILE *out, const struct html_cols *cols, const struct scale *x, double top,
		       double bottom)
{
	char v[HTML_QS][16];

	for (uint32_t i = 0; i < cols->n; i++) {
		const struct html_col *col = &cols->c[i];
		double x0 = scale_px(x, col->t0_s), x1 = scale_px(x, col->t1_s);

		for (int q = 0; q < HTML_QS; q++)
			fmt_ns(col->q[q], v[q], sizeof(v[q]));
		fprintf(
		    out,
		    "<rect class=\"hover\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\">"
		    "<title>%.1f-%.1f s: %" PRIu64 " requests, p50 %s, p99 %s, p99.9 %s, "
		    "max %s</title></rect>\n",
		    x0, top, x1 - x0 > 0.5 ? x1 - x0 : 0.5, bottom - top, col->t0_s, col->t1_s,
		    col->count, v[0], v[1], v[2], v[3]);
	}
}

static uint64_t cols_extreme(const struct html_cols *cols, bool want_max)
{
	uint64_t v = want_max ? 0 : UINT64_MAX;

	for (uint32_t i = 0; i < cols->n; i++) {
		const struct html_col *col = &cols->c[i];

		if (!col->count)
			continue;
		if (want_max && col->q[HTML_Q_MAX] > v)
			v = col->q[HTML_Q_MAX];
		if (!want_max && col->q[HTML_Q_P50] < v)
			v = col->q[HTML_Q_P50];
	}
	return v;
}

/* The y scale of the time charts: both recordings' p50 to max. */
static void time_y(const struct html_ctx *c, struct scale *y, double px0, double px1)
{
	uint64_t lo = cols_extreme(&c->cols, false), hi = cols_extreme(&c->cols, true);

	if (c->base && c->bcols.n) {
		uint64_t blo = cols_extreme(&c->bcols, false), bhi = cols_extreme(&c->bcols, true);

		lo = blo < lo ? blo : lo;
		hi = bhi > hi ? bhi : hi;
	}
	if (lo == UINT64_MAX)
		lo = 1000, hi = 1000000;
	scale_log_ns(y, lo, hi, px0, px1);
}

static void time_x(const struct html_ctx *c, struct scale *x)
{
	*x = (struct scale){0, c->span_s > 0 ? c->span_s : 1, SVG_ML, SVG_ML + SVG_PLOTW, false};
}

void html_over_time(struct html_ctx *c)
{
	struct scale x, y;
	uint32_t marked;

	html_section_begin(c->out, "over-time", "Percentiles over time");
	if (html_no_intervals(c))
		return;
	time_x(c, &x);
	time_y(c, &y, CHART_H - SVG_MB, SVG_MT);
	svg_begin(c->out, "over-time-chart", SVG_W, CHART_H,
		  "Produce latency p50, p99, p99.9 and max per interval");
	svg_axis_log_ns_y(c->out, &y, SVG_ML, SVG_ML + SVG_PLOTW);
	svg_axis_time_x(c->out, &x, CHART_H - SVG_MB);
	for (int q = 0; q < HTML_QS; q++) {
		if (c->base)
			time_series(c->out, &c->bcols, &x, &y, q, true);
		time_series(c->out, &c->cols, &x, &y, q, false);
		svg_legend(c->out, q, q_colors[q], false, q_names[q]);
	}
	if (c->base)
		svg_legend(c->out, HTML_QS, "#888888", true, "baseline (dashed)");
	time_hover(c->out, &c->cols, &x, SVG_MT, CHART_H - SVG_MB);
	marked = html_loss_marks(c->out, &c->cols, &x, SVG_MT, HTML_QS + !!c->base);
	svg_end(c->out);
	fprintf(c->out,
		"<p class=\"caption\" data-merged=\"%u\" data-loss-marks=\"%u\">One point per "
		"interval (its own histogram); x in seconds from the start of the recording; a "
		"baseline is aligned by its own start.",
		c->cols.per_col, marked);
	loss_caption(c->out, marked);
	if (c->cols.per_col > 1)
		fprintf(c->out, " Capped at %d points: each merges %u adjacent intervals.",
			HTML_MAX_COLS, c->cols.per_col);
	fputs("</p>\n", c->out);
	html_section_end(c->out);
}

static uint64_t heat_max(const struct html_cols *cols)
{
	uint64_t m = 0;

	for (uint32_t i = 0; i < cols->n; i++)
		for (unsigned k = 0; k < HTML_HEAT_BINS; k++)
			m = cols->c[i].heat[k] > m ? cols->c[i].heat[k] : m;
	return m;
}

static void heat_cell(FILE *out, const struct html_col *col, unsigned k, const struct scale *x,
		      const struct scale *y, uint64_t max)
{
	double x0 = scale_px(x, col->t0_s), x1 = scale_px(x, col->t1_s);
	double y0 = scale_px(y, (double)html_heat_edge(k + 1)),
	       y1 = scale_px(y, (double)html_heat_edge(k));
	char color[8], lo[16], hi[16];

	svg_seq_color(log1p((double)col->heat[k]) / log1p((double)max), color, sizeof(color));
	fmt_ns(html_heat_edge(k), lo, sizeof(lo));
	fmt_ns(html_heat_edge(k + 1), hi, sizeof(hi));
	fprintf(out,
		"<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
		"data-bin=\"%u\" data-count=\"%" PRIu64 "\"><title>%.1f-%.1f s, %s%s-%s%s: %" PRIu64
		" requests</title></rect>\n",
		x0, y0, x1 - x0 > 0.5 ? x1 - x0 : 0.5, y1 - y0, color, k, col->heat[k], col->t0_s,
		col->t1_s, k ? "" : "<", lo, hi, k + 1 < HTML_HEAT_BINS ? "" : "+", col->heat[k]);
}

void html_heatmap(struct html_ctx *c)
{
	uint64_t max = heat_max(&c->cols);
	struct scale x, y;
	uint32_t marked;

	html_section_begin(c->out, "heatmap", "Latency heat map");
	if (html_no_intervals(c))
		return;
	time_x(c, &x);
	y = (struct scale){(double)html_heat_edge(0), (double)html_heat_edge(HTML_HEAT_BINS),
			   CHART_H - SVG_MB, SVG_MT, true};
	svg_begin(c->out, "heatmap-chart", SVG_W, CHART_H,
		  "Produce requests by latency (10 bins a decade) and time");
	for (uint32_t i = 0; i < c->cols.n; i++)
		for (unsigned k = 0; k < HTML_HEAT_BINS; k++)
			if (c->cols.c[i].heat[k])
				heat_cell(c->out, &c->cols.c[i], k, &x, &y, max);
	svg_axis_log_ns_y(c->out, &y, SVG_ML, SVG_ML + SVG_PLOTW);
	svg_axis_time_x(c->out, &x, CHART_H - SVG_MB);
	marked = html_loss_marks(c->out, &c->cols, &x, SVG_MT, 0);
	svg_end(c->out);
	fprintf(c->out,
		"<p class=\"caption\" data-columns=\"%u\" data-merged=\"%u\" "
		"data-loss-marks=\"%u\">Colour: requests per cell, log scale, up to %" PRIu64
		". Bins end at histogram bucket boundaries (within 0.1%%).",
		c->cols.n, c->cols.per_col, marked, max);
	loss_caption(c->out, marked);
	if (c->cols.per_col > 1)
		fprintf(c->out,
			" Capped at %d columns: every %u adjacent intervals are merged into one.",
			HTML_MAX_COLS, c->cols.per_col);
	fputs("</p>\n", c->out);
	html_section_end(c->out);
}
