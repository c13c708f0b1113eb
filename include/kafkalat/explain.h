/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The explainer: the causes object's records (cause_events.h) and the
 * correlator's completed Produce requests in, attributed requests out.
 * Decodes and checks each record, learns which topic-partition a file is
 * from its FILE_NAME record, classifies each off-CPU stack once (cause.h,
 * through the caller's symboliser), feeds the attribution (attrib.h), holds
 * each completed request until the cause stream has passed its end, then
 * attributes it, adds it to the bands (bands.h) and calls back. Keeps the
 * journal commits and block I/O (history.h) around the slowest requests,
 * and their off-CPU stacks for --folded (folded.h). Pure logic: no libbpf;
 * only the folded writer does I/O, on a stream it is given.
 */
#ifndef KAFKALAT_EXPLAIN_H
#define KAFKALAT_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkalat/attrib.h"
#include "kafkalat/correlate.h"

struct bands;
struct history;

struct explain_config {
	struct attrib_config attrib;
	uint64_t hold_ns;	  /* a request waits this long past t_end for its causes (300 ms) */
	uint32_t max_pending;	  /* requests held at most; older ones are attributed early */
	uint32_t max_slow;	  /* slowest requests kept for tops, journal and folded (4096) */
	uint32_t max_commits;	  /* journal commits kept (65536; the oldest give way) */
	uint32_t max_block;	  /* block requests kept (262144) */
	uint64_t block_window_ns; /* block requests older than this behind the newest go (10 s) */
	/* Futex waits from the scheduler: an off-CPU interval blocked in futex
	 * (KLC_STACKLESS_FUTEX) is also the futex wait, for a kernel side that
	 * does not trace the futex syscall itself (KLC_G_FILE_TP). */
	bool futex_from_offcpu;
};

/*
 * The caller's kernel stack symboliser: the frames of a stack id, innermost
 * first, as function names ("func" or "func+0x1f/0x80"); returns how many
 * (<= max) or a negative errno. The strings need only live until the next
 * call. NULL: stacks are not symbolised (every blocked wait is "other").
 */
typedef int (*explain_stack_fn)(void *ctx, int32_t stack_id, const char **frames, int max);

/* Called for each attributed request, in completion order; both are valid
 * only during the call. */
typedef void (*explain_result_fn)(const struct corr_request *r, const struct attrib_result *res,
				  void *ctx);

struct explain_stats {
	uint64_t records;	    /* cause records fed */
	uint64_t bad_records;	    /* wrong size or type */
	uint64_t file_names;	    /* FILE_NAME records */
	uint64_t segment_writes;    /* writes to a known log segment */
	uint64_t other_writes;	    /* writes and syncs of other files (ignored) */
	uint64_t unnamed_writes;    /* writes whose file was never named (lost records) */
	uint64_t names_full;	    /* file names not kept (table full) */
	uint64_t stacks;	    /* distinct stacks symbolised */
	uint64_t stacks_failed;	    /* stack ids the symboliser could not read */
	uint64_t early;		    /* requests attributed before their hold ended (max_pending) */
	uint64_t commits;	    /* journal commits seen */
	uint64_t commits_dropped;   /* pushed out of the history (max_commits) */
	uint64_t block_requests;    /* block completions seen */
	uint64_t block_dropped;	    /* pushed out before their window ended (max_block) */
	uint64_t dirty_throttles;   /* balance_dirty_pages pauses of broker threads */
	uint64_t folio_waits;	    /* waits for pages under writeback */
	uint64_t jbd2_handles;	    /* journal handles of broker threads */
	uint64_t oom;		    /* requests not attributed or not kept: out of memory */
	uint64_t topic_ids;	    /* topic ids learnt (explain_add_topic_id) */
	uint64_t unknown_topic_ids; /* request topics named by an id not (yet) learnt */
	uint64_t threads;	    /* KLC_EV_THREAD records */
	uint64_t threads_full;	    /* of which not kept (EXPLAIN_MAX_THREADS) */
	uint64_t batches;	    /* KLC_EV_BATCH records */
	uint64_t batch_writes;	    /* segment writes given their offsets by one */
	uint64_t loss_records;	    /* KLC_EV_LOST records */
	uint64_t lost[16];	    /* records they say were lost, by type - KLC_EV_FILE */
	uint64_t lost_touched;	    /* requests not attributed: a loss fell in their window */
};

struct explain;

void explain_config_default(struct explain_config *cfg);
/* cfg NULL: defaults. NULL on allocation failure. */
struct explain *explain_new(const struct explain_config *cfg, explain_stack_fn stack_fn,
			    void *stack_ctx, explain_result_fn result_fn, void *result_ctx);
void explain_free(struct explain *t);

/* One record of the causes ring buffer. 0, or -EINVAL (counted). */
int explain_feed(struct explain *t, const void *data, size_t len);
/* A completed Produce request with its response (acks != 0): copied and held.
 * Other requests are refused with -EINVAL (attribute nothing for them).
 * 0, or -ENOMEM (counted in oom). */
int explain_request(struct explain *t, const struct corr_request *r);
/* A topic's id (Produce v13 names topics by id only; the partition
 * directory's partition.metadata gives it): requests fed afterwards that
 * name it get the topic's name, and can be matched to segment writes.
 * Returns 0, -EINVAL for a bad name, -ENOSPC when the table is full. */
#define EXPLAIN_MAX_TOPIC_IDS 4096
int explain_add_topic_id(struct explain *t, const uint8_t id[16], const char *topic);
/* The cause stream has been read up to now_ns (CLOCK_MONOTONIC): attribute
 * the held requests whose t_end + hold_ns <= now_ns. */
void explain_advance(struct explain *t, uint64_t now_ns);
/* The same, at most max requests (the rest wait for the next call): lets a
 * caller break its work into short pieces. Returns how many it attributed. */
uint32_t explain_advance_n(struct explain *t, uint64_t now_ns, uint32_t max);
/* The run ended: attribute every held request. */
void explain_finish(struct explain *t);

const struct explain_stats *explain_stats(const struct explain *t);
/* The broker process of a thread (KLC_EV_THREAD), 0 when not announced. */
uint32_t explain_thread_tgid(const struct explain *t, uint32_t tid);
const struct attrib_stats *explain_attrib_stats(const struct explain *t);
/* The follower fetches the attribution of acks=all requests asks
 * (replication.h): the driver feeds them as their requests are read. */
struct repl *explain_repl(struct explain *t);
/* The bands with the slowest requests, and the histories of commits and
 * block I/O: for the reports (report_tail.h). */
const struct bands *explain_bands(const struct explain *t);
const struct history *explain_history(const struct explain *t);
/* The frames of a stack id seen in an attributed request, innermost first,
 * joined by sep, into buf (cut at a frame boundary); "" when unknown. */
void explain_stack_text(const struct explain *t, int32_t stack_id, const char *sep, char *buf,
			size_t len);
/* The off-CPU stacks of the >= p99 requests kept (max_slow), in folded form:
 * "<phase>;<outermost frame>;...;<innermost frame> <microseconds>\n", one
 * line per distinct (phase, stack). Returns the lines written or -errno. */
int explain_write_folded(const struct explain *t, FILE *out);

#endif
