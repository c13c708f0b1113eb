/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a recording holds (`kafkalat record`), on top of the container of
 * recfile.h: its records, how a run writes them, and a recording read back
 * and merged with others into one struct rec for `kafkalat report` and
 * `kafkalat compare`. Pure logic: no libbpf.
 *
 * Records (recfile types), each payload a list of tagged fields (tlv.h):
 *   REC_TYPE_META, first: key/value strings (host, kernel, broker, labels,
 *     command line, histogram parameters...), in the order written;
 *   REC_TYPE_INTERVAL, one per interval: its time span, the interval's
 *     aggregates (agg.h: every API's histograms and counts), the histograms
 *     of each phase and cause of the attributed Produce requests, the
 *     interval's own band shares, top partitions and clients, its slowest
 *     requests with their attribution, the journal commits that began in it
 *     and the records the kernel lost in it;
 *   REC_TYPE_TRAILER, last, when the run ended cleanly: the run's bands
 *     (per-bucket sums and the slowest requests kept: the tail composition
 *     merges exactly), folded tail stacks, journal overlap, the counters of
 *     every stage and kafkalat's own cost.
 * A file without a trailer (a killed run) reads up to its last complete
 * record; its report says the tail composition is missing.
 *
 * Merging (rec_load of several files, or of a cluster's brokers): every
 * histogram and counter adds, band sums add and the slowest requests are
 * the slowest of the union, so a merge equals one recording of the union;
 * quantiles are taken from the merged histograms, never averaged.
 */
#ifndef KAFKALAT_RECORDING_H
#define KAFKALAT_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkalat/agg.h"
#include "kafkalat/attrib.h"
#include "kafkalat/bands.h"
#include "kafkalat/evdump.h"
#include "kafkalat/hist_sparse.h"
#include "kafkalat/recfile.h"
#include "kafkalat/report.h"
#include "kafkalat/report_tail.h"

/* The version of the records' contents (the container has its own). */
#define REC_SCHEMA 1u

enum rec_type {
	REC_TYPE_META = 1,
	REC_TYPE_INTERVAL = 2,
	REC_TYPE_TRAILER = 3,
};

#define REC_DEFAULT_PATH     "kafkalat.data"
#define REC_DEFAULT_INTERVAL 10	  /* s */
#define REC_DEFAULT_SLOWEST  100  /* slowest requests per interval */
#define REC_TOPS	     5	  /* top partitions and clients per interval */
#define REC_MAX_COMMITS	     4096 /* journal commits listed per interval */
/* The histograms' lowest discernible value (hist_coarsen): three
 * significant digits from 1 us, as HdrHistogram(1 us, 60 s, 3) keeps them.
 * The run's bands in the trailer keep nanoseconds. */
#define REC_LOWEST_NS 1000

/*
 * The metrics, each a histogram in ns per interval and merged:
 *   REC_M_LATENCY  Produce, the client's wait (t_arrival -> t_sent): "latency"
 *   REC_M_BROKER   Produce, the broker's (first read -> last write): "broker_latency"
 *   REC_M_PHASE+p  each attributed Produce request's time in phase p:
 *                  "phase.append" (every attributed request, zeros included)
 *   REC_M_CAUSE+c  its time in cause c over all phases, when > 0: "cause.journal"
 *   REC_M_API+k    every API's latency, wire (as agg AGG_LATENCY): "api.Fetch"
 */
enum {
	REC_M_LATENCY,
	REC_M_BROKER,
	REC_M_PHASE,
	REC_M_CAUSE = REC_M_PHASE + ATTRIB_PHASES,
	REC_M_API = REC_M_CAUSE + ATTRIB_CAUSES,
	REC_METRICS = REC_M_API + AGG_MAX_API,
};

/* "latency", "phase.append", "api.Produce"... into buf; NULL out of range. */
const char *rec_metric_name(unsigned int m, char *buf, size_t len);
/* The metric of a name rec_metric_name gives; -1 when none. */
int rec_metric_parse(const char *name);

struct rec_kv {
	char *key, *value;
};

/* A top partition or client of an interval's >= p99 band. */
struct rec_top {
	char *key; /* "topic-partition", "IP:PORT" */
	uint64_t requests;
	uint64_t total_ns; /* their summed latency */
};

/* One of an interval's slowest Produce requests, as attributed. */
struct rec_slow {
	int64_t t_arrival_ns; /* CLOCK_REALTIME */
	uint64_t latency_ns;
	uint64_t flow_ns; /* its flow-control bound, never in latency_ns */
	int64_t phase_ns[ATTRIB_PHASES];
	int64_t cause_ns[ATTRIB_CAUSES]; /* over all phases */
	int64_t root_ns[ATTRIB_CAUSES];	 /* head-of-line waits shared out (attrib.h) */
	char *partition;		 /* "" when unknown */
	char *client;			 /* "" when unknown */
	char *stack; /* the top cause's frames, innermost first, ';'-joined; "" none */
};

/* A jbd2 commit that began in an interval. */
struct rec_commit {
	int64_t t_start_ns; /* CLOCK_REALTIME */
	uint64_t dur_ns;
	uint32_t dev;
};

struct rec_interval {
	uint32_t file;		      /* index in rec.files */
	int64_t t_start_ns, t_end_ns; /* CLOCK_REALTIME */
	uint64_t requests;	      /* completed, every API */
	uint64_t produce;	      /* completed Produce requests */
	uint64_t produce_bytes, produce_records;
	uint64_t lost;			    /* records the kernel lost in it (both rings) */
	struct report_loss loss;	    /* by ring and kind; zero in older recordings */
	uint64_t attributed;		    /* Produce requests attributed in it */
	struct hist_sparse *m[REC_METRICS]; /* NULL: nothing recorded */
	/* the interval's own bands (of the requests attributed in it) */
	struct band_summary bands[BANDS];
	struct band_time ge_p99;	 /* >= p99 weighted by time, root causes included */
	struct rec_top top[2][REC_TOPS]; /* [0] partitions, [1] clients */
	uint32_t ntop[2];
	struct rec_slow *slow; /* slowest first */
	uint32_t nslow;
	struct rec_commit *commits; /* by start */
	uint32_t ncommits;
	uint64_t commits_more; /* began in it but not listed (REC_MAX_COMMITS) */
	uint64_t gap_ns;       /* --follow: its time with no broker attached */
};

struct rec_file {
	char *path;
	struct rec_kv *meta; /* in the order written */
	uint32_t nmeta;
	uint32_t intervals;
	bool complete; /* the trailer was read: the run ended cleanly */
	double duration_s;
};

/* A folded stack line of the merged trailers: "phase;frame;...;frame" and
 * its microseconds, summed over the files (flamegraph.pl's input). */
struct rec_folded {
	char *stack;
	uint64_t us;
};

struct rec {
	struct rec_file *files;
	uint32_t nfiles;
	struct rec_interval *iv; /* by t_start, then by file */
	uint32_t niv;
	int64_t t_start_ns, t_end_ns; /* the intervals' span */
	/* merged over every interval of every file */
	struct agg agg;		     /* as the live summary's total */
	struct hist *m[REC_METRICS]; /* NULL: nothing recorded */
	/* merged over the trailers; tail_files of nfiles had one */
	uint32_t tail_files;
	struct bands *bands; /* NULL when no file had a trailer or causes */
	struct report_tail tail;
	bool has_tail;
	struct rec_folded *folded; /* by stack */
	uint32_t nfolded;
	struct corr_counts counts;
	struct klt_stats kernel;
	struct evdump_stats lost; /* the trailers'; a file without one adds its
				   * intervals' ring totals */
	struct report_cost cost;
	double duration_s; /* the longest file's */
	/* --follow: the broker's lives of every file (CLOCK_REALTIME), and
	 * the intervals' time with no broker attached */
	struct lives lives;
	uint64_t gap_ns;
	uint32_t gap_intervals;
	/* intervals with a loss or touched requests (report_loss_any) */
	uint32_t loss_intervals;
	/* the files without a trailer: their intervals' loss, which
	 * rec_report_run adds to the trailers' (and lost's totals hold) */
	struct report_loss cut_loss;
};

/* The first value of key in a file's meta; NULL when absent. */
const char *rec_meta_get(const struct rec_file *f, const char *key);

/*
 * Reads and merges the files. 0, or a negative errno with a one-line
 * message in err ("FILE: offset N: what is wrong", or "FILE: ..." for a
 * file that does not open, or is not a recording); *r is then empty. A
 * file cut short after its meta (a killed run) is no error: it has
 * complete false.
 */
int rec_load(struct rec *r, const char *const *paths, uint32_t npaths, char *err, size_t errlen);
/* The same, from files already in memory (tests, fuzzing). */
int rec_load_mem(struct rec *r, const void *const *bufs, const size_t *lens,
		 const char *const *names, uint32_t n, char *err, size_t errlen);
void rec_free(struct rec *r);
/* The run as the live summary has it: pid, comm and ports from the first
 * file, counters and cost summed, tail (NULL without). */
void rec_report_run(const struct rec *r, struct report_run *out);

/*
 * Writing, as a run goes (the pipeline drives it: pipeline.h). Every call
 * returns 0 or a negative errno; after one the writer refuses the rest.
 */
struct rec_writer;

/* Text of a stack id, innermost frame first, ';'-joined ("" unknown). */
typedef void (*rec_stack_text_fn)(void *ctx, int32_t stack_id, char *buf, size_t len);

/* Takes f (closed by rec_writer_close). slowest: per interval (0: none). */
int rec_writer_new(struct rec_writer **out, struct recfile_writer *f, uint32_t slowest,
		   rec_stack_text_fn stack_text, void *stack_ctx);
int rec_writer_meta(struct rec_writer *w, const struct rec_kv *kv, uint32_t n);
/* A Produce request as attributed (its phases and causes). */
int rec_writer_attributed(struct rec_writer *w, const struct corr_request *r,
			  const struct attrib_result *res);
/* A journal commit the explainer saw (monotonic ns). */
int rec_writer_commit(struct rec_writer *w, uint32_t dev, uint64_t t_start, uint64_t t_end);
/* Ends an interval: iv is the aggregate of the requests completed in it,
 * the span is CLOCK_REALTIME ns, lost what the kernel lost in it;
 * wall_offset_ns turns monotonic times into realtime ones. */
int rec_writer_interval(struct rec_writer *w, const struct agg *iv, int64_t t_start_ns,
			int64_t t_end_ns, const struct report_loss *loss, int64_t wall_offset_ns);
/* --follow, before each rec_writer_interval: the interval's time with no
 * broker attached (written as a field of it, 0 included). */
void rec_writer_gap(struct rec_writer *w, uint64_t gap_ns);

struct rec_trailer_in {
	const struct bands *bands; /* NULL: the causes were not traced */
	const struct report_tail *tail;
	const char *folded; /* the folded stacks text, NULL none */
	size_t folded_len;
	const struct corr_counts *counts;
	const struct klt_stats *kernel;
	const struct evdump_stats *lost;
	const struct report_cost *cost;
	double duration_s;
	/* --follow: the broker's lives (monotonic), and realtime - monotonic */
	const struct lives *lives;
	int64_t lives_wall_offset_ns;
};
int rec_writer_trailer(struct rec_writer *w, const struct rec_trailer_in *t);
/* Closes the file (fsync): the first error of the run's writes, or of closing. */
int rec_writer_close(struct rec_writer *w);

#endif
