/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reporters: the interval table, the final summary, slow-request lines and
 * per-request JSON lines, as text or JSON (contract in docs/json.md).
 * Live and offline runs share them.
 */
#ifndef KAFKALAT_REPORT_H
#define KAFKALAT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkalat/agg.h"
#include "kafkalat/attrib.h"
#include "kafkalat/correlate.h"
#include "kafkalat/tail.h"

#define REPORT_SCHEMA "kafkalat/1"

#define REPORT_TOPS	  5
#define REPORT_STACK_TEXT 1024

/* The tail composition of a run, digested for the reporters (report_tail.c). */
struct report_tail {
	struct attrib_band_summary bands[ATTRIB_BANDS];
	struct attrib_top top[ATTRIB_TOPS][REPORT_TOPS];
	size_t ntop[ATTRIB_TOPS];
	bool top_truncated; /* >= p99 held more requests than were kept */
	/* the frames of each top stack, innermost first, ';'-joined */
	char top_stack[REPORT_TOPS][REPORT_STACK_TEXT];
	/* >= p99 and >= p999 weighted by time (tail_band_time) */
	struct tail_band_time time[2];
	struct tail_journal journal;
	struct attrib_stats attrib;
	struct tail_stats stats;
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

/* kafkalat's own cost over the run (live runs only). */
struct report_cost {
	bool measured;	   /* false: not a live run (replay): nothing shown */
	double cpu_s;	   /* kafkalat's CPU time (user + system, every thread) */
	bool bpf_counted;  /* the kernel's BPF run-time statistics were on */
	uint64_t bpf_ns;   /* kernel time of kafkalat's BPF programs */
	uint64_t bpf_runs; /* their runs */
};

struct report_run {
	int pid;
	char comm[32];
	uint16_t ports[KLT_MAX_PORTS];
	int nports;
	double duration_s;
	uint64_t lost_events;	  /* failed ring buffer reservations */
	uint64_t conn_table_full; /* connections the kernel side could not track */
	uint64_t resync_skipped;  /* syscalls skipped while resynchronising */
	uint64_t kernel_syscalls; /* Kafka socket syscalls walked in the kernel */
	uint64_t kernel_steps;	  /* framer steps they took */
	const struct corr_counts *counts;
	const struct report_tail *tail; /* NULL: the causes were not traced */
	struct report_cost cost;
};

/* "850ns", "412us", "1.25ms", "3.10s": width-independent, 3 significant digits. */
void report_fmt_ns(uint64_t ns, char *buf, size_t len);
/* Realtime ns of a CLOCK_MONOTONIC ns, given the offset realtime - monotonic. */
void report_fmt_wall(uint64_t mono_ns, int64_t offset_ns, char *buf, size_t len);

void report_interval_header(FILE *out);
void report_interval_text(FILE *out, const struct agg *iv, double secs, const char *timestr);
void report_interval_json(FILE *out, const struct agg *iv, double secs, const char *timestr);
void report_summary_text(FILE *out, const struct agg *total, const struct report_run *run);
void report_summary_json(FILE *out, const struct agg *total, const struct report_run *run);
void report_slow_header(FILE *out);

/* The --slower lines of a run (live or replayed): the threshold, the format
 * and whether the text header was printed yet. */
struct report_slow {
	double slower_ms; /* < 0: no lines */
	bool json;
	int64_t wall_offset_ns; /* realtime - monotonic, for the lines' times */
	bool header_done;
};
bool report_is_slow(const struct report_slow *s, const struct corr_request *r);
/* r's line if it is slow (a: its attribution, or NULL), on stdout. */
void report_slow_line(struct report_slow *s, const struct corr_request *r,
		      const struct report_attrib *a);
/* Creates (truncates) path for writing, mode 0600 (request lines, folded
 * stacks, dumps: traces stay private). 0 or -errno. */
int report_create_private(const char *path, FILE **out);
/* a: the request's attribution, or NULL when causes are not traced */
void report_slow_text(FILE *out, const struct corr_request *r, int64_t wall_offset_ns,
		      const struct report_attrib *a);
void report_slow_json(FILE *out, const struct corr_request *r, int64_t wall_offset_ns,
		      const struct report_attrib *a);
/* One --requests line: a completed Produce request. */
void report_request_json(FILE *out, const struct corr_request *r, const struct report_attrib *a);

/* report_tail.c */
void report_tail_fill(struct report_tail *out, const struct tail *t);
void report_tail_text(FILE *out, const struct report_tail *rt);
struct json;
void report_tail_json(struct json *j, const struct report_tail *rt);
void report_attrib_json(struct json *j, const struct report_attrib *a);
void report_attrib_text(FILE *out, const struct report_attrib *a);
/* Words for a cause ("waiting for the filesystem journal (jbd2) to commit"). */
const char *report_cause_words(unsigned int cause);

#endif
