/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kafkalat compare BASE... -- NEW...: a regression verdict between
 * recordings (recording.h), for a CI performance gate that fails on a real
 * tail regression and not on noise. Pure statistics: no I/O but the
 * results written to a FILE.
 *
 * Samples: with 4 or more files a side, each file (run) is a sample and the
 * bootstrap draws runs independently; otherwise each interval is one and a
 * moving-block bootstrap keeps neighbouring intervals together, as their
 * latencies are autocorrelated (a GC pause, a compaction, a slow disk
 * spans several).
 *
 * Point estimates are the quantiles of each side's pooled histogram, never
 * averages of percentiles; the interval is the bootstrap percentile
 * interval of delta% = new/base - 1, each side resampled on its own, the
 * statistic being the quantile of the pooled resample. The ">= p99 cause
 * shares" compare percentage points. Everything is deterministic for a
 * seed (xoshiro256** seeded by splitmix64, both written here).
 */
#ifndef KAFKALAT_COMPARE_H
#define KAFKALAT_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkalat/hist_sparse.h"
#include "kafkalat/recording.h"

#define CMP_DEFAULT_BOOT     2000
#define CMP_DEFAULT_SEED     1
#define CMP_DEFAULT_FLOOR_NS 200000 /* 200 us */
#define CMP_MIN_SAMPLES	     4	    /* per side */
/* Requests above a gated quantile, per side: the pooled count less the
 * count through the quantile's bucket (hist_sparse_count_through), so
 * requests in its own bucket never count; for a share, the requests of
 * the >= p99 band. Below it the tail is too thin to judge. */
#define CMP_MIN_BEYOND	  10
#define CMP_MAX_RATE_DIFF 0.10 /* produce request rates at most 10% apart */
#define CMP_MIN_RUNS	  4    /* files a side for runs to be the samples */
#define CMP_MAX_GATES	  64
#define CMP_NAME_LEN	  48

/* The exit codes of kafkalat compare. */
enum cmp_exit { CMP_PASS = 0, CMP_REGRESSION = 1, CMP_ERROR = 2, CMP_INCONCLUSIVE = 3 };

enum cmp_verdict {
	CMP_V_SAME,	    /* "~": the interval holds 0 */
	CMP_V_UP,	    /* "up": significant, under the gate or ungated */
	CMP_V_DOWN,	    /* "down" */
	CMP_V_REGRESSED,    /* "REGRESSED": gated, beyond the threshold and the floor */
	CMP_V_IMPROVED,	    /* "improved": the same, downwards */
	CMP_V_INCONCLUSIVE, /* gated, but the data cannot say */
};

/* "latency.p99" = +10 (%), "cause.journal" = +10 (points). */
struct cmp_gate {
	char metric[CMP_NAME_LEN];
	double threshold;
};

struct cmp_opts {
	uint64_t seed;
	uint32_t boot;		      /* bootstrap resamples, B */
	double floor_ns;	      /* a quantile regresses only if it grew by more */
	const struct cmp_gate *gates; /* NULL: the defaults (latency.p99 +10%, p99.9 +20%) */
	uint32_t ngates;
};

/* A side: its recordings, each as rec_load read it alone. */
struct cmp_side {
	const struct rec *const *runs;
	uint32_t nruns;
};

enum cmp_kind { CMP_QUANTILE, CMP_SHARE };

struct cmp_row {
	char name[CMP_NAME_LEN]; /* "latency.p99", "phase.append.p99.9", "cause.journal" */
	enum cmp_kind kind;
	unsigned int metric; /* REC_M_LATENCY, REC_M_PHASE + p; CMP_SHARE: the cause */
	double q;	     /* CMP_QUANTILE */
	double base, new;    /* ns, or % of the >= p99 band's latency */
	double delta;	     /* new - base */
	double change;	     /* CMP_QUANTILE: delta% (new/base - 1, in %); CMP_SHARE: points */
	double lo, hi;	     /* the 95% interval of change */
	double p;	     /* two-sided */
	uint64_t beyond[2];  /* requests above the quantile, or in the >= p99 band */
	bool gated;
	double gate; /* % or points */
	enum cmp_verdict verdict;
	char why[300]; /* CMP_V_INCONCLUSIVE: the reason */
};

struct cmp_result {
	uint64_t seed;
	uint32_t boot;
	bool by_run;	   /* the samples are runs (else intervals) */
	uint32_t n[2];	   /* samples a side */
	uint32_t block[2]; /* block length a side (1: runs, drawn alone) */
	uint32_t files[2];
	double rate[2]; /* produce requests per second */
	double floor_ns;
	char reason[256]; /* why every gated metric is inconclusive, "" none */
	struct cmp_row *rows;
	uint32_t nrows;
	int grew_phase, grew_cause; /* rows growing most: phase p99, cause share; -1 none */
	enum cmp_exit exit_code;
	char verdict[512]; /* the one-line verdict */
};

/* Parses "latency.p99=+10%" or "cause.journal=+10pt": 0, or -EINVAL with err. */
int cmp_gate_parse(const char *spec, struct cmp_gate *g, char *err, size_t errlen);
void cmp_opts_default(struct cmp_opts *o);

/* Compares; 0, or a negative errno with a one-line err (out is then empty). */
int cmp_run(const struct cmp_side side[2], const struct cmp_opts *o, struct cmp_result *out,
	    char *err, size_t errlen);
void cmp_result_free(struct cmp_result *r);

void cmp_print_text(FILE *out, const struct cmp_result *r);
void cmp_print_json(FILE *out, const struct cmp_result *r);
void cmp_print_md(FILE *out, const struct cmp_result *r);
const char *cmp_verdict_name(enum cmp_verdict v);

/* Exposed for the tests. */
struct cmp_rng {
	uint64_t s[4];
};
void cmp_rng_seed(struct cmp_rng *g, uint64_t seed);
uint64_t cmp_rng_next(struct cmp_rng *g);
uint64_t cmp_rng_below(struct cmp_rng *g, uint64_t n); /* uniform in [0, n) */
/* The moving-block bootstrap's block length for n samples, and the blocks a
 * resample draws (the last one cut to make n). */
uint32_t cmp_block_len(uint32_t n);
uint32_t cmp_blocks(uint32_t n, uint32_t len);
/* Draws one resample's weights (how often each sample is taken, summing to
 * n), its blocks starting at one of starts[] (NULL: anywhere they fit). */
void cmp_resample(struct cmp_rng *g, uint32_t n, uint32_t len, const uint32_t *starts,
		  uint32_t nstarts, uint32_t *w);
/* hist_quantile of the histogram pooling s[i] taken w[i] times (w NULL: once). */
uint64_t cmp_pooled_quantile(const struct hist_sparse *const *s, const uint32_t *w, uint32_t n,
			     double q);

/* The same for many weightings w (none NULL) of the same n samples: each
 * sample's counts through every bucket, taken once. -E2BIG when too large
 * (then use cmp_pooled_quantile), -ENOMEM. */
struct cmp_cum;
int cmp_cum_new(struct cmp_cum **out, const struct hist_sparse *const *s, uint32_t n);
uint64_t cmp_cum_quantile(const struct cmp_cum *t, const uint32_t *w, double q);
void cmp_cum_free(struct cmp_cum *t);

/* kafkalat compare (src/cmd/compare.c). */
int compare_main(int argc, char **argv);

#endif
