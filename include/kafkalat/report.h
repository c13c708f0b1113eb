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
#include "kafkalat/explain.h"
#include "kafkalat/lives.h"
#include "kafkalat/report_tail.h"

/* 2: latency_us is the client's wait on the wire (was first read to last
 * write, now broker_latency_us); phases recv, socket_wait, send_queue. */
#define REPORT_SCHEMA "kafkalat/2"

/* kafkalat's own cost over the run (live runs only). */
struct report_cost {
	bool measured;	   /* false: not a live run (replay): nothing shown */
	double cpu_s;	   /* kafkalat's CPU time (user + system, every thread) */
	bool bpf_counted;  /* the kernel's BPF run-time statistics were on */
	uint64_t bpf_ns;   /* kernel time of kafkalat's BPF programs */
	uint64_t bpf_runs; /* their runs */
};

/* One traced broker of a live run. */
struct report_broker {
	int pid;
	char comm[32];
	uint16_t ports[KLT_MAX_PORTS]; /* the run's ports it listens on */
	int nports;
};

struct repl; /* replication.h */
struct json; /* json.h */

/* What the kernel could not write (a full ring), of an interval or a run,
 * and the requests the loss touched (docs/design.md, "Overload"). */
struct report_loss {
	uint64_t socket[KLT_LOST_KINDS]; /* socket records by KLT_LOST_* */
	uint64_t causes[16];		 /* cause records by type - KLC_EV_FILE */
	uint64_t touched;		 /* requests touched: corr_touched */
	uint64_t produce_touched;	 /* of which Produce */
	uint64_t causes_touched;	 /* Produce requests unattributed: lost_causes */
};

bool report_loss_any(const struct report_loss *l);
/* Adds l's counts into to (an interval's into a run's, intervals merged). */
void report_loss_add(struct report_loss *to, const struct report_loss *l);

/* The two rings a loss is counted in, as the JSON report names them. */
enum report_ring { REPORT_RING_SOCKET, REPORT_RING_CAUSES, REPORT_RINGS };
/* "socket", "causes"; NULL out of range. */
const char *report_ring_name(unsigned int ring);
/* The records the kernel lost in a ring, every kind. */
uint64_t report_loss_ring(const struct report_loss *l, unsigned int ring);
/* One kind of a ring by its JSON name (socket_kinds, causes_kinds). */
typedef void (*report_loss_kind_fn)(void *ctx, const char *kind, uint64_t n);
/* Calls fn for the ring's kinds that have a name, in kind order: all of
 * them when zeros (a metric's series stay present), else those with a
 * count (the JSON's lists). Every format names the kinds through it. */
void report_loss_kinds(const struct report_loss *l, unsigned int ring, bool zeros,
		       report_loss_kind_fn fn, void *ctx);
/* "loss": whether any, and "lost": the counts by ring and kind and the
 * requests touched (docs/json.md). */
void report_loss_json(struct json *j, const struct report_loss *l);
/* A ring's loss as the text report writes it: "3 (response 2, sent 1)". */
void report_loss_ring_text(FILE *out, const struct report_loss *l, unsigned int ring);
/* One line, when there was any loss. */
void report_loss_text(FILE *out, const struct report_loss *l, const char *prefix);

/* An interval of a --follow run: the time in it with some broker not
 * attached, each broker's own (broker_gap_s[0..nbrokers)), and the
 * processes traced in it. */
struct report_follow_iv {
	double gap_s;
	double broker_gap_s[KLT_MAX_BROKERS];
	int nbrokers;
	int pids[KLT_MAX_BROKERS];
	int npids;
};

struct report_run {
	/* the first broker (several: brokers[] lists them all) */
	int pid;
	char comm[32];
	uint16_t ports[KLT_MAX_PORTS];
	int nports;
	double duration_s;
	uint64_t lost_events;	  /* failed ring buffer reservations */
	uint64_t conn_table_full; /* connections the kernel side could not track */
	uint64_t resync_skipped;  /* syscalls skipped while resynchronising */
	struct klt_stats kernel;  /* the kernel side's counters; zero in a replay */
	struct report_loss loss;  /* by ring and kind, and the requests touched */
	/* the traced brokers; none in a replay, whose brokers are the
	 * connections' tgids (counts->brokers) */
	struct report_broker brokers[KLT_MAX_BROKERS];
	int nbrokers;
	const struct corr_counts *counts;
	const struct report_tail *tail; /* NULL: the causes were not traced */
	const struct repl *repl;	/* acks=all releases (report_repl.h); NULL none */
	int64_t wall_offset_ns;		/* realtime - monotonic: the ISR changes' times */
	struct report_cost cost;
	/* --follow: the broker's lives; their times less origin_ns are the
	 * run's seconds, and a gap still open ends at end_ns. NULL: not
	 * followed. */
	const struct lives *lives;
	int64_t lives_origin_ns, lives_end_ns;
	/* a recording's intervals with a gap, and the gaps' time in them */
	uint32_t gap_intervals;
	uint64_t interval_gap_ns;
};

void report_interval_header(FILE *out);
/* f: the interval of a --follow run, NULL otherwise; loss: its loss, NULL none */
void report_interval_text(FILE *out, const struct agg *iv, double secs, const char *timestr,
			  const struct report_follow_iv *f);
void report_interval_json(FILE *out, const struct agg *iv, double secs, const char *timestr,
			  const struct report_follow_iv *f, const struct report_loss *loss);
void report_summary_text(FILE *out, const struct agg *total, const struct report_run *run);
void report_summary_json(FILE *out, const struct agg *total, const struct report_run *run);
void report_slow_header(FILE *out);

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

#endif
