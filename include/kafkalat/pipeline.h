/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The request pipeline: socket records through the correlator, cause
 * records through the explainer, completed requests into the aggregates,
 * and every output of a run: --requests and --slower lines, the interval
 * table, --folded stacks, the summary and the --dump-events recording.
 * A driver (live, replay) only feeds it records and the clock: the outputs
 * of a run and of its replay come from this one place. Pure logic: no
 * libbpf; it writes only to the streams it is given.
 */
#ifndef KAFKALAT_PIPELINE_H
#define KAFKALAT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkalat/cause_events.h"
#include "kafkalat/evdump.h"
#include "kafkalat/explain.h"
#include "kafkalat/report.h"

struct rec_writer; /* recording.h */

/* The streams a run writes besides its main output, each optional. */
enum pipeline_file {
	PIPELINE_REQUESTS, /* --requests: a JSON line per Produce request */
	PIPELINE_FOLDED,   /* --folded: the >= p99 requests' off-CPU stacks */
	PIPELINE_DUMP,	   /* --dump-events: the records as fed, for a replay (evdump.h) */
	PIPELINE_FILES,
};

struct pipeline_config {
	/* the interval table, the --slower lines and the summary (stdout);
	 * NULL: none of them */
	FILE *out;
	bool json;
	double slower_ms;	    /* < 0: no --slower lines */
	FILE *file[PIPELINE_FILES]; /* NULL: not written; the caller closes them */
	/* Cause records come (not --no-causes, and the causes object loaded):
	 * Produce requests are held for their causes, attributed, and the
	 * summary has the tail composition. Without, none of that. */
	bool causes;
	bool futex_from_offcpu;	   /* explain_config.futex_from_offcpu */
	explain_stack_fn stack_fn; /* the driver's kernel stack symboliser; NULL: none */
	void *stack_ctx;
	/* A driver without a clock of its own (a replay): the end of the newest
	 * completed request stands for it, and the held requests are attributed
	 * as each request is held. Otherwise pipeline_advance drives them. */
	bool clock_from_records;
	/* `kafkalat record`: the recording's writer (recording.h), owned by
	 * the driver; NULL: none. Intervals and the trailer go there. */
	struct rec_writer *rec;
	/* The traced broker owning the far end of a follower fetch's
	 * connection (r's ports), asked once per connection: 0 and *tgid,
	 * or a negative errno (not one of them). NULL: never asked (a
	 * replay: the dump's KLT_EV_PEER records say). */
	int (*peer_fn)(void *ctx, const struct corr_request *r, uint32_t *tgid);
	void *peer_ctx;
	/* --follow: the brokers' lives are kept (pipeline_broker_attached,
	 * pipeline_broker_exited), intervals say their gaps, the summary and
	 * the recording's trailer list the lives */
	bool follow;
};

struct pipeline;

/* NULL on allocation failure. Writes the dump's header: see
 * pipeline_file_error. */
struct pipeline *pipeline_new(const struct pipeline_config *cfg);
void pipeline_free(struct pipeline *p);

/* realtime - monotonic ns, before any record: the --slower lines' times. */
void pipeline_clock(struct pipeline *p, int64_t wall_offset_ns);
/* One record of the socket ring (events.h): 0, or -EINVAL (counted). */
int pipeline_socket_record(struct pipeline *p, const void *data, size_t len);
/* The traced broker process peer_tgid owns the far end of connection
 * conn_id (a follower's fetch connection on its leader): the driver found
 * it (/proc). Written into the dump as a KLT_EV_PEER record, which a replay
 * feeds back through pipeline_socket_record. 0 or -ENOMEM. */
int pipeline_note_peer(struct pipeline *p, uint64_t conn_id, uint32_t peer_tgid);
/* One record of the causes ring (cause_events.h): 0, or -EINVAL (counted
 * when causes are traced; ignored when not). */
int pipeline_cause_record(struct pipeline *p, const void *data, size_t len);
/* A topic's id, learnt from its partition directory (explain_add_topic_id). */
int pipeline_topic_id(struct pipeline *p, const uint8_t id[16], const char *topic);
/* n socket records the kernel could not write, at an unknown place in the
 * stream: matching around them stops. Only a dump of event ABI 4 or older
 * needs it (its stream has no loss records); otherwise it does nothing. */
void pipeline_note_lost(struct pipeline *p, uint64_t n);
/* Before pipeline_end: the kernel side's counters, with the records each
 * ring lost by kind (drops[]). Those no loss record in the streams counted
 * go in as one at the end. */
void pipeline_kernel_lost(struct pipeline *p, const struct klt_stats *sock,
			  const struct klc_stats *causes);
/* Both rings have been read up to now_ns (CLOCK_MONOTONIC): attribute up to
 * max held requests whose causes are all in. Returns how many. */
uint32_t pipeline_advance(struct pipeline *p, uint64_t now_ns, uint32_t max);
/* The interval table of the requests completed since the last one; it ends
 * at now_ns (CLOCK_MONOTONIC), which places its gap under --follow; when is
 * the time of day it is stamped with. */
void pipeline_interval(struct pipeline *p, uint64_t now_ns, double secs, const char *when);
/* --follow: broker (0, 1, ...: the run's brokers in the order found) is
 * process pid from now_ns (CLOCK_MONOTONIC), the run's start for the first
 * ones: its next life. 0 or -ENOMEM/-ERANGE (then not counted apart). */
int pipeline_broker_attached(struct pipeline *p, uint64_t now_ns, int broker, int pid);
/* Process pid, one of the brokers, exited and every record of its is in:
 * its connections end, the requests left waiting are counted unmatched
 * (closed), under --follow in broker's life that ends at now_ns. The
 * connections of no known process end too when no broker is left
 * (others_left false). Returns how many were counted. */
uint64_t pipeline_broker_exited(struct pipeline *p, uint64_t now_ns, int broker, int pid,
				bool others_left);
/* The recording's first interval starts now (CLOCK_MONOTONIC ns). */
void pipeline_record_begin(struct pipeline *p, uint64_t now_ns);
/* The recording's interval of the requests completed since the last one,
 * ending now (CLOCK_MONOTONIC ns): 0, or the writer's -errno. */
int pipeline_record_interval(struct pipeline *p, uint64_t now_ns);
/* A stack id's frames, innermost first, ';'-joined ("" unknown). */
void pipeline_stack_text(const struct pipeline *p, int32_t stack_id, char *buf, size_t len);
/* Flushes the --requests lines, for a reader following the file. */
void pipeline_flush(struct pipeline *p);
/* The run ended and every record is in: the requests in flight and held
 * are accounted for, and the folded stacks and the dump's last record (what
 * the kernel side could not deliver) are written. Once. */
void pipeline_end(struct pipeline *p, const struct evdump_stats *lost);
/* The summary, after pipeline_end: run holds what only the driver knows
 * (pid, comm, ports, duration, the kernel side's work, the cost); the
 * losses, counts and tail composition are the pipeline's. Flushes every
 * stream. */
void pipeline_summary(struct pipeline *p, const struct report_run *run);

/* 0, or -ENOMEM once a completed request could not be counted: the run's
 * figures are incomplete and it should end. */
int pipeline_error(const struct pipeline *p);
/* 0, or the first -errno writing that stream. */
int pipeline_file_error(const struct pipeline *p, enum pipeline_file f);
/* Lines pipeline_end wrote to the folded stream; -1: none were written
 * (no stream, or no causes). */
int pipeline_folded_lines(const struct pipeline *p);
/* The first byte of the earliest request and the end of the newest
 * completed one, ns (0 when none): a replay's duration. */
void pipeline_span(const struct pipeline *p, uint64_t *first, uint64_t *last);

#endif
