/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The latency tail of the attributed requests, by band. Every matched
 * request is added with its latency; the bands (< p50, p50-p99, >= p99,
 * >= p999) are decided at the end from the bands' own latency histogram
 * (hist.h): sums are kept per histogram bucket, so a band holds exactly the
 * buckets at and above (or below) the bucket of its quantile.
 *
 * The max_slow slowest requests are kept once, here (all of >= p99 while 1%
 * of the requests fit): the top partitions, clients and stacks of >= p99
 * and the bands weighted by time come from them, and so do the explainer's
 * journal overlap (history.h) and folded stacks (folded.h).
 */
#ifndef KAFKALAT_BANDS_H
#define KAFKALAT_BANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkalat/attrib.h"
#include "kafkalat/correlate.h"

enum band { BAND_LT_P50, BAND_P50_P99, BAND_GE_P99, BAND_GE_P999, BANDS };

struct band_summary {
	uint64_t requests;
	uint64_t lo_ns, hi_ns;		 /* latency bounds of the band (inclusive) */
	double phase_pct[ATTRIB_PHASES]; /* mean share of the request's latency, % */
	double cause_pct[ATTRIB_CAUSES]; /* over all phases, % */
};

enum band_top_kind { BAND_TOP_PARTITION, BAND_TOP_CLIENT, BAND_TOP_STACK, BAND_TOPS };

struct band_top {
	const char
	    *key; /* "topic-partition", "IP:PORT", "<cause>:<top frame>"; valid until freed */
	int32_t stack_id; /* BAND_TOP_STACK: a stack id seen with that key */
	uint64_t requests;
	uint64_t total_ns; /* their summed latency (partitions, clients) or cause time (stacks) */
};

/* The composition of a band weighted by time: each phase's and cause's share
 * of the band's summed latency (where the mean share of band_summary weighs
 * every request alike). From the slowest requests kept, so only >= p99 and
 * >= p999; complete says whether all of the band was kept. */
struct band_time {
	uint64_t requests; /* of the band, kept */
	bool complete;
	uint64_t total_ns;
	double phase_pct[ATTRIB_PHASES];
	double cause_pct[ATTRIB_CAUSES];
	/* root causes: cause_pct with each head-of-line wait shared out as the
	 * root causes of the request waited behind (attrib_result.root_ns) */
	double root_pct[ATTRIB_CAUSES];
	/* the head-of-line waits alone, by the root causes behind them */
	double hol_pct[ATTRIB_CAUSES];
	/* the flow-control bounds of the band's requests (never in total_ns) */
	uint64_t flow_requests, flow_total_ns, flow_max_ns;
	/* The follower whose releases the band's replication time waited for
	 * most (release_replica -1: none): that time, and the part of it in
	 * its appends of the batches by cause, % of total_ns. */
	int32_t release_replica;
	uint32_t release_tgid; /* 0 not traced */
	double release_pct;
	double release_append_pct[ATTRIB_CAUSES];
};

/* One of the slowest requests kept. */
struct slow_request {
	uint64_t latency;
	uint64_t t_arrival, t_sent; /* the window its latency measures */
	int64_t phase_ns[ATTRIB_PHASES];
	int64_t cause_ns[ATTRIB_CAUSES]; /* over all phases */
	uint32_t nstacks;
	struct attrib_stack stacks[ATTRIB_STACKS];
	/* the block I/O that overlapped [t_arrival, t_sent], as the keep hook
	 * found it when the request was kept (history.h); 0 without a hook */
	uint64_t nblock, block_longest_ns;
	uint32_t block_dev;
	uint32_t key[BAND_TOPS];	/* the tops' keys as the bands' string indexes, 0 none */
	int32_t stack_id;		/* the top cause's stack, -1 none */
	int64_t stack_ns;		/* the top cause's time */
	int64_t root_ns[ATTRIB_CAUSES]; /* attrib_result.root_ns */
	uint64_t flow_ns;		/* its flow-control bound */
	/* its release (attrib_result): -1 none; the time in the follower's
	 * append by cause. Not in recordings. */
	int32_t release_replica;
	uint32_t release_tgid;
	int64_t follower_ns[ATTRIB_CAUSES];
};

struct bands;

struct bands *bands_new(size_t max_slow);
void bands_free(struct bands *b);
/* Empty again, keeping the memory of the buckets used: for bands made anew
 * every interval, without the allocator churning 208 KiB blocks. 0, or
 * -ENOMEM (then b is still empty but holds no keys). */
int bands_reset(struct bands *b);
/* Called with each request as it is kept among the slowest, to add what
 * only the caller knows of its window. */
typedef void (*bands_keep_fn)(void *ctx, struct slow_request *s);
void bands_on_keep(struct bands *b, bands_keep_fn fn, void *ctx);
/* Adds a matched request with wire times (unmatched ones and those without
 * are ignored: count them apart).
 * 0, or -ENOMEM (the request is not counted). */
int bands_add(struct bands *b, const struct corr_request *r, const struct attrib_result *res);

/* Matched requests left out for want of wire times. */
uint64_t bands_no_wire(const struct bands *b);
const char *band_name(unsigned int band); /* "lt_p50", "p50_p99", ... */
void bands_summary(const struct bands *b, struct band_summary out[BANDS]);
/* The lowest latency of a band; UINT64_MAX when it is empty. */
uint64_t bands_low(const struct bands *b, enum band band);
/* The n largest keys of >= p99 by request count; returns how many were written.
 * *truncated (if not NULL) says whether >= p99 held more than max_slow requests. */
size_t bands_top(const struct bands *b, enum band_top_kind kind, struct band_top *out, size_t n,
		 bool *truncated);
void bands_time(const struct bands *b, enum band band, struct band_time *out);

/*
 * The bands as tagged fields (tlv.h) for a recording's trailer: the latency
 * histogram, the sums of each non-empty bucket and the kept requests, their
 * keys and (by stack_text) their stacks as text. bands_merge_encoded adds
 * such fields into b: sums add, and the kept requests are the slowest of
 * both, so bands merged from several runs equal the bands of their union.
 * Stacks of merged requests are named by ids of their text
 * (bands_stack_text). 0, -EINVAL (malformed: b is then partly merged) or
 * -ENOMEM.
 */
struct tlv_buf;
typedef void (*bands_stack_text_fn)(void *ctx, int32_t stack_id, char *buf, size_t len);
int bands_encode(const struct bands *b, struct tlv_buf *t, bands_stack_text_fn fn, void *ctx);
int bands_merge_encoded(struct bands *b, const void *buf, size_t len);
/* The text of a kept request's key (slow_request.key[]). */
const char *bands_key_text(const struct bands *b, uint32_t key);
/* The text of a merged request's stack id; "" for none. */
const char *bands_stack_text(const struct bands *b, int32_t stack_id);

/* The slowest requests kept: how many, and each, in no particular order. */
uint32_t bands_kept(const struct bands *b);
const struct slow_request *bands_kept_at(const struct bands *b, uint32_t i);

#endif
