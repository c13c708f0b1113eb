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
#include "kafkalat/correlate.h"

#define REPORT_SCHEMA "kafkalat/1"

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
void report_slow_text(FILE *out, const struct corr_request *r, int64_t wall_offset_ns);
void report_slow_json(FILE *out, const struct corr_request *r, int64_t wall_offset_ns);
/* One --requests line: a completed Produce request. */
void report_request_json(FILE *out, const struct corr_request *r);

#endif
