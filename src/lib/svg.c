// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* HTML escaping and inline-SVG helpers for the HTML report (svg.h). */
#include <math.h>
#include <string.h>

#include "kafkalat/fmt.h"
#include "kafkalat/svg.h"

void html_esc_n(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++) {
		switch (s[i]) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fputc(s[i], out);
		}
	}
}

void html_esc(FILE *out, const char *s)
{
	html_esc_n(out, s ? s : "", SIZE_MAX);
}

void fmt_json_double(double v, char *buf, size_t len)
{
	char *end;

	if (!isfinite(v)) {
		snprintf(buf, len, "null");
		return;
	}
	snprintf(buf, len, "%.3f", v);
	/* json.c trims the same way: "12.500" -> "12.5", "3.000" -> "3" */
	end = buf + strlen(buf);
	if (strchr(buf, '.')) {
		while (end[-1] == '0')
			*--end = '\0';
		if (end[-1] == '.')
			*--end = '\0';
	}
	if (strcmp(buf, "-0") == 0)
		memmove(buf, buf + 1, 2);
}

void fmt_us_json(uint64_t ns, char *buf, size_t len)
{
	fmt_json_double((double)ns / 1e3, buf, len);
}

double scale_px(const struct scale *s, double v)
{
	double lo = s->lo, hi = s->hi, t;

	if (s->log) {
		v = log10(v > lo ? v : lo);
		lo = log10(lo);
		hi = log10(hi);
	}
	t = hi > lo ? (v - lo) / (hi - lo) : 0;
	if (t < 0)
		t = 0;
	if (t > 1)
		t = 1;
	return s->px0 + t * (s->px1 - s->px0);
}

void scale_log_ns(struct scale *s, uint64_t lo, uint64_t hi, double px0, double px1)
{
	double a = floor(log10(lo ? (double)lo : 1)), b = ceil(log10(hi ? (double)hi : 1));

	if (b <= a)
		b = a + 1;
	*s = (struct scale){pow(10, a), pow(10, b), px0, px1, true};
}

void svg_begin(FILE *out, const char *id, int w, int h, const char *title)
{
	/* the namespace is a name, never fetched: the only URL in the page */
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" role=\"img\"><title>",
		id, w, h, w, h);
	html_esc(out, title);
	fputs("</title>\n", out);
}

void svg_end(FILE *out)
{
	fputs("</svg>\n", out);
}

void svg_axis_log_ns_y(FILE *out, const struct scale *y, double x0, double x1)
{
	char label[16];

	for (double v = y->lo; v <= y->hi * 1.0001; v *= 10) {
		double py = scale_px(y, v);

		fmt_ns((uint64_t)llround(v), label, sizeof(label));
		fprintf(out,
			"<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"yl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			x0, py, x1, py, x0 - 4, py + 4, label);
	}
}

/* A step of 1, 2 or 5 times a power of ten giving at most ~10 ticks. */
static double nice_step(double span)
{
	double p = pow(10, floor(log10(span > 0 ? span / 10 : 1)));

	if (span / p <= 10)
		return p;
	if (span / (2 * p) <= 10)
		return 2 * p;
	return 5 * p;
}

void svg_axis_time_x(FILE *out, const struct scale *x, double y0)
{
	double step = nice_step(x->hi - x->lo);

	for (double t = 0; t <= x->hi + step * 1e-6; t += step) {
		double px = scale_px(x, t);

		fprintf(out,
			"<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"xl\" x=\"%.1f\" y=\"%.1f\">%gs</text>\n",
			px, y0, px, y0 + 4, px, y0 + 16, t);
	}
}

void svg_legend(FILE *out, int i, const char *color, bool dashed, const char *text)
{
	double x = SVG_W - SVG_MR + 12, y = SVG_MT + 8 + 18 * i;

	fprintf(out,
		"<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
		"stroke-width=\"3\"%s/><text x=\"%.0f\" y=\"%.0f\">",
		x, y, x + 20, y, color, dashed ? " stroke-dasharray=\"5 3\"" : "", x + 26, y + 4);
	html_esc(out, text);
	fputs("</text>\n", out);
}

/* Tableau 20: distinguishable, and printable in grey. */
static const char *const category[] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#bab0ac", "#1f77b4", "#aec7e8", "#ffbb78", "#98df8a",
    "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#393b79",
};

const char *svg_category_color(unsigned int i)
{
	return category[i % (sizeof(category) / sizeof(category[0]))];
}

/* ColorBrewer Set2 then Dark2's first: phases, apart from the causes' colours. */
static const char *const phase[] = {"#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854",
				    "#ffd92f", "#e5c494", "#b3b3b3", "#1b9e77"};

const char *svg_phase_color(unsigned int i)
{
	return phase[i % (sizeof(phase) / sizeof(phase[0]))];
}

/* ColorBrewer YlOrRd, 9 classes: a sequential palette readable by the
 * colour-blind; interpolated between its stops. */
static const unsigned char ylorrd[9][3] = {
    {255, 255, 204}, {255, 237, 160}, {254, 217, 118}, {254, 178, 76}, {253, 141, 60},
    {252, 78, 42},   {227, 26, 28},   {189, 0, 38},    {128, 0, 38},
};

void svg_seq_color(double t, char *buf, size_t len)
{
	double f;
	int i, c[3];

	t = t < 0 ? 0 : t > 1 ? 1 : t;
	f = t * 8;
	i = (int)f;
	if (i >= 8)
		i = 7;
	f -= i;
	for (int k = 0; k < 3; k++)
		c[k] = (int)lround(ylorrd[i][k] + f * (ylorrd[i + 1][k] - ylorrd[i][k]));
	snprintf(buf, len, "#%02x%02x%02x", c[0], c[1], c[2]);
}
