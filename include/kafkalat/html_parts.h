/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The HTML report's parts (report_html.h), shared by report_html.c (the
 * page, tables) and html_charts.c (the charts): the recording cut into
 * time columns, and one writer per section.
 */
#ifndef KAFKALAT_HTML_PARTS_H
#define KAFKALAT_HTML_PARTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkalat/attrib.h"
#include "kafkalat/recording.h"

/* The heat map's latency bins: 10 a decade from 1 us up (the last reaches
 * 63 s), values below and above folded into the first and last. */
#define HTML_HEAT_BINS	 78
#define HTML_HEAT_LO_EXP 3.0   /* log10 ns of the first bin's low edge */
#define HTML_MAX_COLS	 600   /* time columns; more intervals are merged */
#define HTML_FLAME_MIN	 0.001 /* frames narrower than 0.1% are left out */
#define HTML_MAX_COMMITS 20000 /* commits drawn */
#define HTML_Q_P50	 0
#define HTML_Q_P99	 1
#define HTML_Q_P999	 2
#define HTML_Q_MAX	 3
#define HTML_QS		 4

/* The intervals of a time slot (one per file, started at about the same
 * time), or when there are more than HTML_MAX_COLS slots, of adjacent
 * ones, merged. */
struct html_col {
	double t0_s, t1_s; /* from the recording's start */
	uint32_t iv0, niv; /* its intervals, rec.iv[iv0..iv0+niv) */
	uint64_t count;	   /* latency samples */
	uint64_t q[HTML_QS];
	uint64_t heat[HTML_HEAT_BINS];
	uint64_t tail_ns; /* >= p99 summed latency (band_time total_ns) */
	double root_pct[ATTRIB_CAUSES];
	struct report_loss loss; /* its intervals' */
};

struct html_cols {
	struct html_col *c;
	uint32_t n;
	uint32_t per_col; /* time slots merged per column (1: none) */
	double span_s;
};

struct html_ctx {
	FILE *out;
	const struct rec *r, *base; /* base NULL: no baseline */
	struct html_cols cols, bcols;
	double span_s; /* the x axis: the longer of both recordings */
};

/* 0 or -ENOMEM; an empty recording has no column. */
int html_cols_build(struct html_cols *c, const struct rec *r);
void html_cols_free(struct html_cols *c);
/* The heat map bin edges: bin k is [edge(k), edge(k+1)) ns. */
uint64_t html_heat_edge(unsigned int k);
/* The client's latency, merged: the JSON report's (agg), else REC_M_LATENCY. */
const struct hist *html_latency(const struct rec *r);

struct scale;
/* A red mark along y (the plot's top) over each column with a loss, its
 * tooltip the text report's loss line, its counts in data- attributes;
 * and a legend entry at legend when any. Returns the columns marked. */
uint32_t html_loss_marks(FILE *out, const struct html_cols *cols, const struct scale *x, double y,
			 int legend);

/* Each writes its <section>. -ENOMEM only from the flame graph. */
void html_spectrum(struct html_ctx *c);
void html_over_time(struct html_ctx *c);
void html_heatmap(struct html_ctx *c);
void html_composition(struct html_ctx *c);
int html_flame(struct html_ctx *c);
void html_commits(struct html_ctx *c);

/* <section id=id><h2>title</h2> ... </section> */
void html_section_begin(FILE *out, const char *id, const char *title);
void html_section_end(FILE *out);
/* A paragraph of class cls (its text is HTML: not escaped). */
void html_note(FILE *out, const char *cls, const char *text);
/* With no interval: says so, ends the section and returns true. */
bool html_no_intervals(struct html_ctx *c);

#endif
