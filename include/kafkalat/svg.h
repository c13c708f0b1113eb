/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small writer of HTML text and inline SVG for the HTML report
 * (report_html.h): escaping, numbers as the JSON report prints them, scales
 * and axes, palettes. Everything writes to a FILE*; a write error shows in
 * the stream's error flag, which the report checks once at the end.
 */
#ifndef KAFKALAT_SVG_H
#define KAFKALAT_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes s with & < > " ' escaped: safe in text and in quoted attributes. */
void html_esc(FILE *out, const char *s);
void html_esc_n(FILE *out, const char *s, size_t n);
/* v as json_double prints it ("%.3f", trailing zeros trimmed), so an
 * attribute compares equal with the JSON report's number. */
void fmt_json_double(double v, char *buf, size_t len);
/* ns in microseconds as the JSON report prints it ("1234.5"). */
void fmt_us_json(uint64_t ns, char *buf, size_t len);

/* A linear or log10 scale from a domain to pixels. */
struct scale {
	double lo, hi;	 /* domain; for log, both > 0 */
	double px0, px1; /* pixels of lo and hi */
	bool log;
};

double scale_px(const struct scale *s, double v);
/* A log latency scale in ns over [lo, hi] widened to whole decades. */
void scale_log_ns(struct scale *s, uint64_t lo, uint64_t hi, double px0, double px1);

/* The chart geometry every time and latency chart shares. */
#define SVG_W	  960
#define SVG_ML	  72  /* left margin: the latency axis labels */
#define SVG_MR	  150 /* right margin: the legend */
#define SVG_MT	  14
#define SVG_MB	  36
#define SVG_PLOTW (SVG_W - SVG_ML - SVG_MR)

/* <svg id=... width height viewBox role=img> with its <title>; close with
 * svg_end. */
void svg_begin(FILE *out, const char *id, int w, int h, const char *title);
void svg_end(FILE *out);
/* Horizontal grid lines and labels at each decade of a log ns y scale
 * between x0 and x1. */
void svg_axis_log_ns_y(FILE *out, const struct scale *y, double x0, double x1);
/* Ticks and labels of a time x scale in seconds from the start. */
void svg_axis_time_x(FILE *out, const struct scale *x, double y0);
/* One entry of a legend at the right of a chart: a swatch and its text. */
void svg_legend(FILE *out, int i, const char *color, bool dashed, const char *text);

/* A distinct colour for category i (phases, causes, series). */
const char *svg_category_color(unsigned int i);
/* A distinct colour for phase i, unlike the categories' first ones. */
const char *svg_phase_color(unsigned int i);
/* The sequential palette (light yellow to dark red) at t in [0, 1]: "#rrggbb". */
void svg_seq_color(double t, char *buf, size_t len);

#endif
