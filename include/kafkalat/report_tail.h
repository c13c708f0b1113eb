/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tail composition in the reports: the summary's bands, tops, journal
 * overlap and closing sentence (text and JSON), and one request's
 * attribution on its --requests and --slower lines.
 */
#ifndef KAFKALAT_REPORT_TAIL_H
#define KAFKALAT_REPORT_TAIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkalat/attrib.h"
#include "kafkalat/bands.h"
#include "kafkalat/explain.h"
#include "kafkalat/history.h"

#define REPORT_TOPS	  5
#define REPORT_STACK_TEXT 1024

/* The tail composition of a run, digested for the reporters (report_tail.c). */
struct report_tail {
	struct band_summary bands[BANDS];
	struct band_top top[BAND_TOPS][REPORT_TOPS];
	size_t ntop[BAND_TOPS];
	bool top_truncated; /* >= p99 held more requests than were kept */
	/* the frames of each top stack, innermost first, ';'-joined */
	char top_stack[REPORT_TOPS][REPORT_STACK_TEXT];
	/* >= p99 and >= p999 weighted by time (bands_time) */
	struct band_time time[2];
	struct journal_overlap journal;
	struct attrib_stats attrib;
	uint64_t no_wire; /* attributed, but not in the bands: no wire times */
	struct explain_stats stats;
	uint64_t lost_events;  /* cause records lost in the kernel (ring buffer full) */
	uint64_t stack_errors; /* stacks the kernel could not record */
	/* how file writes were traced: "tracepoints" (syscalls:sys_*_write...),
	 * "raw" (sys_enter/sys_exit), "none" */
	const char *file_events;
};

/* One request's attribution for --requests and --slower lines. */
struct report_attrib {
	const struct attrib_result *res;
	const char *stack; /* the top cause's stack, innermost first, ';'-joined; NULL none */
};

void report_tail_fill(struct report_tail *out, const struct explain *t);
/* What of the tail comes from the bands alone (bands, tops, time, top
 * stacks' text, no_wire); the rest of out is zeroed. */
void report_tail_fill_bands(struct report_tail *out, const struct bands *b,
			    bands_stack_text_fn stack_text, void *ctx);
void report_tail_text(FILE *out, const struct report_tail *rt);
/* The closing sentence alone, as report_tail_text ends its bands with it
 * ("\nWhy the tail is slow: ..."); nothing when >= p99 is empty. The
 * markdown report quotes it. */
void report_tail_story(FILE *out, const struct report_tail *rt);
struct json;
void report_tail_json(struct json *j, const struct report_tail *rt);
void report_attrib_json(struct json *j, const struct report_attrib *a);
void report_attrib_text(FILE *out, const struct report_attrib *a);
/* Words for a cause ("waiting for the filesystem journal (jbd2) to commit"). */
const char *report_cause_words(unsigned int cause);

#endif
