// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The HTML report's tail charts (html_parts.h): the tail composition by
 * band and over time, the flame graph and the journal commits. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "kafkalat/flame.h"
#include "kafkalat/fmt.h"
#include "kafkalat/html_parts.h"
#include "kafkalat/svg.h"

#define BAR_H	     14
#define BAR_GAP	     6
#define BAND_ROWH    (2 * BAR_H + BAR_GAP + 14)
#define STACK_H	     220
#define COMMIT_P99_H 140
#define COMMIT_LANE  40

/* One stacked horizontal bar of percentages, each part with its numbers. */
static void pct_bar(FILE *out, const char *band, const char *kind, const double *pct, unsigned n,
		    const char *(*name)(unsigned int), double y, const char *(*color)(unsigned int))
{
	double x = SVG_ML;
	char v[32];

	for (unsigned i = 0; i < n; i++) {
		double w = SVG_PLOTW * pct[i] / 100;

		if (pct[i] <= 0)
			continue;
		fmt_json_double(pct[i], v, sizeof(v));
		fprintf(
		    out,
		    "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" "
		    "data-band=\"%s\" data-%s=\"%s\" data-pct=\"%s\"><title>%s %s: %.1f%%</title>"
		    "</rect>\n",
		    x, y, w, BAR_H, color(i), band, kind, name(i), v, band, name(i), pct[i]);
		/* a label where it fits: the bars read without hovering */
		if (w > 7.0 * (double)(strlen(name(i)) + 5))
			fprintf(out, "<text class=\"bl\" x=\"%.2f\" y=\"%.1f\">%s %.0f%%</text>\n",
				x + 3, y + BAR_H - 3, name(i), pct[i]);
		x += w;
	}
}

static void band_row(FILE *out, const struct band_summary *s, unsigned b, double y, bool base)
{
	char lo[16], hi[16], band[32];

	fmt_ns(s->lo_ns, lo, sizeof(lo));
	fmt_ns(s->hi_ns, hi, sizeof(hi));
	fprintf(out,
		"<text x=\"%d\" y=\"%.1f\" data-requests=\"%" PRIu64 "\">%s: %" PRIu64
		" requests, %s-%s</text>\n",
		SVG_ML, y + 10, s->requests, base ? "baseline ge_p99" : band_name(b), s->requests,
		s->requests ? lo : "-", s->requests ? hi : "-");
	fprintf(out, "<text class=\"yl\" x=\"%d\" y=\"%.1f\">phases</text>", SVG_ML - 4, y + 25);
	snprintf(band, sizeof(band), "%s%s", base ? "baseline-" : "", band_name(b));
	pct_bar(out, band, "phase", s->phase_pct, ATTRIB_PHASES, attrib_phase_name, y + 14,
		svg_phase_color);
	fprintf(out, "<text class=\"yl\" x=\"%d\" y=\"%.1f\">causes</text>", SVG_ML - 4,
		y + 25 + BAR_H + BAR_GAP - 4);
	pct_bar(out, band, "cause", s->cause_pct, ATTRIB_CAUSES, attrib_cause_name,
		y + 14 + BAR_H + BAR_GAP - 4, svg_category_color);
}

/* The colour keys of the bars, as HTML (inline styles, no image). */
static void legend_html(FILE *out, const char *what, unsigned n, const char *(*name)(unsigned int),
			const char *(*color)(unsigned int))
{
	fprintf(out, "<p class=\"legend\">%s: ", what);
	for (unsigned i = 0; i < n; i++)
		fprintf(out, "<span><i style=\"background:%s\"></i>%s</span> ", color(i), name(i));
	fputs("</p>\n", out);
}

/* The bands, then the baseline's >= p99 (base NULL: none) to compare. */
static void bands_chart(FILE *out, const struct report_tail *t, const struct report_tail *base)
{
	svg_begin(out, "bands-chart", SVG_W, (BANDS + !!base) * BAND_ROWH + SVG_MT,
		  "Each band's mean share of latency by phase and by cause");
	for (unsigned b = 0; b < BANDS; b++)
		band_row(out, &t->bands[b], b, SVG_MT + b * BAND_ROWH, false);
	if (base)
		band_row(out, &base->bands[BAND_GE_P99], BAND_GE_P99, SVG_MT + BANDS * BAND_ROWH,
			 true);
	svg_end(out);
	legend_html(out, "Phases", ATTRIB_PHASES, attrib_phase_name, svg_phase_color);
	legend_html(out, "Causes", ATTRIB_CAUSES, attrib_cause_name, svg_category_color);
}

/* One column's >= p99 root causes, stacked from the bottom. */
static void causes_column(FILE *out, const struct html_col *col, const struct scale *x)
{
	double x0 = scale_px(x, col->t0_s), x1 = scale_px(x, col->t1_s), y = SVG_MT + STACK_H;
	char v[32];

	for (unsigned k = 0; k < ATTRIB_CAUSES; k++) {
		double h = STACK_H * col->root_pct[k] / 100;

		if (col->root_pct[k] <= 0)
			continue;
		y -= h;
		fmt_json_double(col->root_pct[k], v, sizeof(v));
		fprintf(out,
			"<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
			"data-t=\"%.3f\" data-cause=\"%s\" data-pct=\"%s\"><title>%.1f-%.1f s, "
			">= p99 %s: %.1f%%</title></rect>\n",
			x0, y, x1 - x0 > 1.5 ? x1 - x0 - 1 : 0.5, h, svg_category_color(k),
			col->t0_s, attrib_cause_name(k), v, col->t0_s, col->t1_s,
			attrib_cause_name(k), col->root_pct[k]);
	}
}

static void causes_over_time(struct html_ctx *c)
{
	struct scale x = {0, c->span_s > 0 ? c->span_s : 1, SVG_ML, SVG_ML + SVG_PLOTW, false};

	svg_begin(c->out, "tail-time-chart", SVG_W, STACK_H + SVG_MT + SVG_MB,
		  "The >= p99 requests' root causes per interval, weighted by time");
	for (int p = 0; p <= 100; p += 25)
		fprintf(c->out,
			"<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
			"<text class=\"yl\" x=\"%d\" y=\"%.1f\">%d%%</text>\n",
			SVG_ML, SVG_MT + STACK_H * (1 - p / 100.0), SVG_ML + SVG_PLOTW,
			SVG_MT + STACK_H * (1 - p / 100.0), SVG_ML - 4,
			SVG_MT + STACK_H * (1 - p / 100.0) + 4, p);
	for (uint32_t i = 0; i < c->cols.n; i++)
		causes_column(c->out, &c->cols.c[i], &x);
	html_loss_marks(c->out, &c->cols, &x, SVG_MT, -1);
	svg_axis_time_x(c->out, &x, SVG_MT + STACK_H);
	svg_end(c->out);
}

void html_composition(struct html_ctx *c)
{
	html_section_begin(c->out, "composition", "Tail composition");
	if (c->r->has_tail)
		bands_chart(c->out, &c->r->tail,
			    c->base && c->base->has_tail ? &c->base->tail : NULL);
	else
		html_note(c->out, "empty",
			  "No tail composition: the causes were not traced, or no file ended "
			  "cleanly (its trailer holds the bands).");
	if (c->cols.n) {
		fputs("<h3>Root causes of the &ge; p99 requests over time</h3>\n", c->out);
		causes_over_time(c);
	}
	html_section_end(c->out);
}

static int flame_fill(struct flame *f, const struct rec *r, bool base)
{
	for (uint32_t i = 0; i < r->nfolded; i++)
		if (r->folded[i].stack && flame_add(f, r->folded[i].stack, r->folded[i].us, base))
			return -ENOMEM;
	return 0;
}

static void flame_caption(FILE *out, const struct flame_out *res, bool diff)
{
	fprintf(out,
		"<p class=\"caption\" data-frames=\"%" PRIu64 "\" data-skipped=\"%" PRIu64
		"\">Off-CPU time of the &ge; p99 requests by stack: the phase at the bottom, "
		"then the frames outermost first; width is time.",
		res->drawn, res->skipped);
	if (diff)
		fputs(" Differential: width by this recording, colour by the change from the "
		      "baseline scaled to the same total: red grew, blue shrank.",
		      out);
	if (res->skipped)
		fprintf(out,
			" Capped: %" PRIu64 " frames narrower than %.1f%% of the total "
			"are left out.",
			res->skipped, HTML_FLAME_MIN * 100);
	fputs("</p>\n", out);
}

int html_flame(struct html_ctx *c)
{
	struct flame *f = flame_new();
	bool diff = c->base && c->base->nfolded;
	struct flame_out res;
	int err = 0;

	html_section_begin(c->out, "flame", "Flame graph of the tail");
	if (!f || flame_fill(f, c->r, false) || (diff && flame_fill(f, c->base, true))) {
		err = -ENOMEM;
		goto out;
	}
	if (!flame_total(f)) {
		html_note(c->out, "empty", "No tail stacks were recorded.");
		goto out;
	}
	flame_svg(c->out, f, "flame-chart", diff, HTML_FLAME_MIN, &res);
	flame_caption(c->out, &res, diff);
out:
	html_section_end(c->out);
	flame_free(f);
	return err;
}

/* The commits along the time axis: bars as long as the commit lasted. */
static void commit_bars(struct html_ctx *c, const struct scale *x, double y, uint64_t *drawn)
{
	const struct rec *r = c->r;
	char d[16];

	for (uint32_t i = 0; i < r->niv; i++)
		for (uint32_t k = 0; k < r->iv[i].ncommits && *drawn < HTML_MAX_COMMITS; k++) {
			const struct rec_commit *cm = &r->iv[i].commits[k];
			double t = (double)(cm->t_start_ns - r->t_start_ns) / 1e9;
			double x0 = scale_px(x, t), x1 = scale_px(x, t + (double)cm->dur_ns / 1e9);

			fmt_ns(cm->dur_ns, d, sizeof(d));
			fprintf(c->out,
				"<rect class=\"commit\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
				"height=\"%d\" data-t=\"%.6f\" data-dur-ns=\"%" PRIu64 "\">"
				"<title>jbd2 commit on dev %u:%u at %.3f s, %s</title></rect>\n",
				x0, y, x1 - x0 > 1 ? x1 - x0 : 1, COMMIT_LANE, t, cm->dur_ns,
				cm->dev >> 20, cm->dev & 0xfffff, t, d);
			(*drawn)++;
		}
}

static uint64_t commits_total(const struct rec *r, uint64_t *more)
{
	uint64_t n = 0;

	*more = 0;
	for (uint32_t i = 0; i < r->niv; i++) {
		n += r->iv[i].ncommits;
		*more += r->iv[i].commits_more;
	}
	return n;
}

static void commits_chart(struct html_ctx *c, uint64_t *drawn)
{
	struct scale x = {0, c->span_s > 0 ? c->span_s : 1, SVG_ML, SVG_ML + SVG_PLOTW, false};
	double lane = SVG_MT + COMMIT_P99_H + 10;
	struct scale y;
	uint64_t lo = UINT64_MAX, hi = 0;

	for (uint32_t i = 0; i < c->cols.n; i++)
		if (c->cols.c[i].count) {
			lo = c->cols.c[i].q[HTML_Q_P99] < lo ? c->cols.c[i].q[HTML_Q_P99] : lo;
			hi = c->cols.c[i].q[HTML_Q_P99] > hi ? c->cols.c[i].q[HTML_Q_P99] : hi;
		}
	scale_log_ns(&y, lo == UINT64_MAX ? 1000 : lo, hi ? hi : 1000000, SVG_MT + COMMIT_P99_H,
		     SVG_MT);
	svg_begin(c->out, "commits-chart", SVG_W, (int)lane + COMMIT_LANE + SVG_MB,
		  "p99 per interval above the journal commits on the same time axis");
	svg_axis_log_ns_y(c->out, &y, SVG_ML, SVG_ML + SVG_PLOTW);
	fprintf(c->out, "<polyline class=\"curve\" stroke=\"%s\" data-series=\"p99\" points=\"",
		svg_category_color(0));
	for (uint32_t i = 0, n = 0; i < c->cols.n; i++)
		if (c->cols.c[i].count)
			fprintf(c->out, "%s%.1f,%.1f", n++ ? " " : "",
				scale_px(&x, (c->cols.c[i].t0_s + c->cols.c[i].t1_s) / 2),
				scale_px(&y, (double)c->cols.c[i].q[HTML_Q_P99]));
	fputs("\"/>\n", c->out);
	fprintf(c->out, "<text class=\"yl\" x=\"%d\" y=\"%.1f\">commits</text>\n", SVG_ML - 4,
		lane + COMMIT_LANE / 2.0 + 4);
	commit_bars(c, &x, lane, drawn);
	html_loss_marks(c->out, &c->cols, &x, SVG_MT, -1);
	svg_axis_time_x(c->out, &x, lane + COMMIT_LANE);
	svg_end(c->out);
}

void html_commits(struct html_ctx *c)
{
	uint64_t more, total = commits_total(c->r, &more), drawn = 0;

	html_section_begin(c->out, "commits", "Journal commits");
	if (html_no_intervals(c))
		return;
	commits_chart(c, &drawn);
	fprintf(c->out,
		"<p class=\"caption\" data-commits=\"%" PRIu64 "\" data-drawn=\"%" PRIu64
		"\" data-unlisted=\"%" PRIu64 "\">%" PRIu64 " jbd2 commits listed",
		total, drawn, more, total);
	if (more)
		fprintf(c->out, ", %" PRIu64 " more began but were not listed", more);
	if (drawn < total)
		fprintf(c->out, "; capped: the first %" PRIu64 " drawn", drawn);
	fputs(". Each bar spans a commit's start to its end.</p>\n", c->out);
	html_section_end(c->out);
}
