// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Flame graphs as inline SVG (flame.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/flame.h"
#include "kafkalat/fnv.h"
#include "kafkalat/svg.h"

#define FRAME_H	   16
#define CHAR_W	   6.6 /* px per character of the 11px monospace labels */
#define FLAME_W	   SVG_W
#define FLAME_TOPM 4

struct node {
	char *name;
	uint64_t value, base; /* us, new and baseline, of this frame and above */
	struct node *child;   /* by name */
	struct node *next;
};

struct flame {
	struct node root;
};

struct flame *flame_new(void)
{
	return calloc(1, sizeof(struct flame));
}

static void node_free(struct node *n)
{
	while (n) {
		struct node *next = n->next;

		node_free(n->child);
		free(n->name);
		free(n);
		n = next;
	}
}

void flame_free(struct flame *f)
{
	if (!f)
		return;
	node_free(f->root.child);
	free(f);
}

/* The child of p named name[0..len), created in name order when missing. */
static struct node *child_of(struct node *p, const char *name, size_t len)
{
	struct node **at = &p->child, *n;

	for (; *at; at = &(*at)->next) {
		int c = strncmp((*at)->name, name, len);

		if (c == 0 && (*at)->name[len] == '\0')
			return *at;
		if (c > 0)
			break;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strndup(name, len))) {
		free(n);
		return NULL;
	}
	n->next = *at;
	*at = n;
	return n;
}

int flame_add(struct flame *f, const char *stack, uint64_t us, bool base)
{
	struct node *n = &f->root;
	const char *s = stack;

	*(base ? &n->base : &n->value) += us;
	while (*s) {
		size_t len = strcspn(s, ";");

		if (len) {
			if (!(n = child_of(n, s, len)))
				return -ENOMEM;
			*(base ? &n->base : &n->value) += us;
		}
		s += len;
		if (*s == ';')
			s++;
	}
	return 0;
}

uint64_t flame_total(const struct flame *f)
{
	return f->root.value;
}

struct draw {
	FILE *out;
	bool diff;
	double total;	   /* the new profile's weight, us */
	double min_us;	   /* narrower frames are left out */
	double px_per_us;  /* width of the total / its weight */
	double base_scale; /* baseline us -> new-profile us */
	double max_delta;  /* the largest |change| of a frame, us, for the colours */
	int depth, height; /* frames deep; px */
	struct flame_out *res;
};

/* The deepest frame drawn, for the picture's height. */
static int depth_of(const struct node *n, double min_us)
{
	int d = 0;

	for (const struct node *c = n->child; c; c = c->next)
		if ((double)c->value >= min_us) {
			int cd = depth_of(c, min_us) + 1;

			d = cd > d ? cd : d;
		}
	return d;
}

static double delta_of(const struct draw *d, const struct node *n)
{
	return (double)n->value - (double)n->base * d->base_scale;
}

static void max_delta(struct draw *d, const struct node *n)
{
	for (const struct node *c = n->child; c; c = c->next) {
		double v = fabs(delta_of(d, c));

		if ((double)c->value >= d->min_us) {
			d->max_delta = v > d->max_delta ? v : d->max_delta;
			max_delta(d, c);
		}
	}
}

/* flamegraph.pl's "hot" palette, keyed by the name so a frame keeps its
 * colour from one report to the next; in a diff, red grew, blue shrank. */
static void frame_color(const struct draw *d, const struct node *n, char *buf, size_t len)
{
	uint64_t h = fnv1a64(n->name);

	if (d->diff) {
		double t = d->max_delta > 0 ? delta_of(d, n) / d->max_delta : 0;
		int c = (int)lround(210 * (1 - fabs(t)));

		snprintf(buf, len, t >= 0 ? "rgb(255,%d,%d)" : "rgb(%d,%d,255)", c, c);
		return;
	}
	snprintf(buf, len, "rgb(%d,%d,%d)", 205 + (int)(h % 51), (int)((h >> 8) % 231),
		 (int)((h >> 16) % 56));
}

/* A label that fits w px, cut at a character boundary (UTF-8). */
static void frame_label(FILE *out, const char *name, double w)
{
	size_t fit = w > 3 * CHAR_W ? (size_t)(w / CHAR_W) - 1 : 0, len = strlen(name);

	if (!fit)
		return;
	if (len <= fit) {
		html_esc(out, name);
		return;
	}
	fit = fit > 2 ? fit - 2 : 0;
	while (fit && ((unsigned char)name[fit] & 0xc0) == 0x80)
		fit--;
	html_esc_n(out, name, fit);
	fputs("..", out);
}

static void frame_title(const struct draw *d, const struct node *n)
{
	double total = d->total > 0 ? d->total : 1;

	fputs("<title>", d->out);
	html_esc(d->out, n->name);
	fprintf(d->out, " (%" PRIu64 " us, %.2f%%", n->value, 100.0 * (double)n->value / total);
	if (d->diff)
		fprintf(d->out, "; baseline %" PRIu64 " us, scaled %.0f us: %+.0f us", n->base,
			(double)n->base * d->base_scale, delta_of(d, n));
	fputs(")</title>", d->out);
}

static void draw_frame(struct draw *d, const struct node *n, double x, int depth)
{
	double w = (double)n->value * d->px_per_us;
	double y = d->height - FRAME_H * (depth + 1);
	char color[32];

	frame_color(d, n, color, sizeof(color));
	fprintf(d->out, "<g class=\"f\" data-frame-depth=\"%d\" data-us=\"%" PRIu64 "\"", depth,
		n->value);
	if (d->diff)
		fprintf(d->out, " data-base-us=\"%" PRIu64 "\"", n->base);
	fputc('>', d->out);
	frame_title(d, n);
	fprintf(d->out,
		"<rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%d\" fill=\"%s\"/>"
		"<text x=\"%.2f\" y=\"%.0f\">",
		x, y, w > 0.5 ? w - 0.5 : w, FRAME_H - 1, color, x + 3, y + 11);
	frame_label(d->out, n->name, w);
	fputs("</text></g>\n", d->out);
}

static void draw_children(struct draw *d, const struct node *n, double x, int depth)
{
	for (const struct node *c = n->child; c; c = c->next) {
		if ((double)c->value < d->min_us) {
			d->res->skipped += c->value || c->base ? 1 : 0;
			continue;
		}
		d->res->drawn++;
		draw_frame(d, c, x, depth);
		draw_children(d, c, x, depth + 1);
		x += (double)c->value * d->px_per_us;
	}
}

void flame_svg(FILE *out, const struct flame *f, const char *id, bool diff, double min_frac,
	       struct flame_out *res)
{
	double total = (double)f->root.value;
	struct draw d = {
	    .out = out,
	    .diff = diff,
	    .total = total,
	    .min_us = total * min_frac,
	    .px_per_us = total > 0 ? FLAME_W / total : 0,
	    .base_scale = f->root.base ? total / (double)f->root.base : 0,
	    .res = res,
	};

	*res = (struct flame_out){0};
	/* a frame narrower than min_frac is left out; so is every frame
	 * above it, which is narrower still */
	if (d.min_us < 1)
		d.min_us = 1;
	d.depth = depth_of(&f->root, d.min_us);
	d.height = FRAME_H * d.depth + FLAME_TOPM;
	if (diff)
		max_delta(&d, &f->root);
	svg_begin(out, id, FLAME_W, d.height,
		  diff ? "differential flame graph of the tail's off-CPU stacks"
		       : "flame graph of the tail's off-CPU stacks");
	draw_children(&d, &f->root, 0, 0);
	svg_end(out);
}
