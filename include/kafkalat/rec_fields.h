/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tags of a recording's fields (recording.h, tlv.h), shared by its
 * writer and its reader. A tag never changes meaning within REC_SCHEMA;
 * new fields take new tags.
 */
#ifndef KAFKALAT_REC_FIELDS_H
#define KAFKALAT_REC_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "kafkalat/attrib.h"
#include "kafkalat/tlv.h"

/* REC_TYPE_META */
enum {
	RF_META_SCHEMA = 1, /* u64 REC_SCHEMA */
	RF_META_KV = 2,	    /* group: key, value */
	RF_KV_KEY = 1,
	RF_KV_VALUE = 2,
};

/* REC_TYPE_INTERVAL */
enum {
	RF_IV_START = 1, /* i64 CLOCK_REALTIME ns */
	RF_IV_END = 2,
	RF_IV_AGG = 3,	  /* group: the interval's aggregates (RF_AGG_*) */
	RF_IV_METRIC = 4, /* group: metric (RF_M_ID), histogram (RF_M_HIST) */
	RF_IV_BAND = 5,	  /* group: RF_BAND_* */
	RF_IV_TIME = 6,	  /* group: >= p99 by time, RF_TIME_* */
	RF_IV_TOP = 7,	  /* group: RF_TOP_* */
	RF_IV_SLOW = 8,	  /* group: RF_SLOW_* */
	RF_IV_COMMIT = 9, /* packed: zigzag start (realtime ns), duration, dev */
	RF_IV_COMMITS_MORE = 10,
	RF_IV_LOST = 11,
	RF_IV_ATTRIBUTED = 12,
	RF_IV_GAP = 13,	 /* --follow: ns of it with no broker attached */
	RF_IV_LOSS = 14, /* packed: struct report_loss (older recordings: none) */

	RF_AGG_REQUESTS = 1,	 /* packed varints, AGG_MAX_API */
	RF_AGG_WIRE_UNKNOWN = 2, /* packed varints, AGG_MAX_API */
	RF_AGG_HIST = 3,	 /* group: RF_AH_WHICH, RF_AH_API, RF_M_HIST */
	RF_AGG_PRODUCE_WIRE = 4, /* packed varints, CORR_WIRE_MAX */
	RF_AGG_ACKS0 = 5,
	RF_AGG_BYTES = 6,
	RF_AGG_RECORDS = 7,
	RF_AGG_FLOW = 8, /* histogram */
	RF_AGG_FLOW_TOTAL = 9,
	RF_AH_WHICH = 1,
	RF_AH_API = 2,

	RF_M_ID = 1, /* the metric's name (rec_metric_name) */
	RF_M_HIST = 3,

	RF_BAND_INDEX = 1,
	RF_BAND_REQUESTS = 2,
	RF_BAND_LO = 3,
	RF_BAND_HI = 4,
	/* packed doubles (8 bytes LE each), ATTRIB_PHASES; a reader also
	 * takes the ATTRIB_PHASES_V1 of older writers (rf_get_phases_*) */
	RF_BAND_PHASES = 5,
	RF_BAND_CAUSES = 6, /* packed doubles, ATTRIB_CAUSES (or ATTRIB_CAUSES_V1) */

	RF_TIME_REQUESTS = 1,
	RF_TIME_COMPLETE = 2,
	RF_TIME_TOTAL = 3,
	RF_TIME_PHASES = 4,
	RF_TIME_CAUSES = 5,
	RF_TIME_ROOTS = 6,
	RF_TIME_HOL = 7,
	RF_TIME_FLOW = 8, /* packed: requests, total, max */

	RF_TOP_KIND = 1, /* 0 partition, 1 client */
	RF_TOP_KEY = 2,
	RF_TOP_REQUESTS = 3,
	RF_TOP_TOTAL = 4,

	RF_SLOW_ARRIVAL = 1, /* i64 realtime ns */
	RF_SLOW_LATENCY = 2,
	RF_SLOW_FLOW = 3,
	RF_SLOW_PHASES = 4, /* packed zigzag varints */
	RF_SLOW_CAUSES = 5,
	RF_SLOW_ROOTS = 6,
	RF_SLOW_PARTITION = 7,
	RF_SLOW_CLIENT = 8,
	RF_SLOW_STACK = 9,
};

/* REC_TYPE_TRAILER */
enum {
	RF_TR_BANDS = 1,     /* bands_encode */
	RF_TR_FOLDED = 2,    /* text */
	RF_TR_COUNTS = 3,    /* packed varints: struct corr_counts's fields */
	RF_TR_KERNEL = 4,    /* packed: struct klt_stats */
	RF_TR_LOST = 5,	     /* packed: struct evdump_stats */
	RF_TR_ATTRIB = 6,    /* packed: struct attrib_stats */
	RF_TR_EXPLAIN = 7,   /* packed: struct explain_stats */
	RF_TR_JOURNAL = 8,   /* packed: struct journal_overlap, in field order */
	RF_TR_COST = 9,	     /* group: RF_COST_* */
	RF_TR_DURATION = 10, /* double, s */
	RF_TR_FILE_EVENTS = 11,
	RF_TR_CAUSES = 12, /* u64: 1 the causes were traced */
	RF_TR_LIFE = 13,   /* --follow: group, one per life of the broker (RF_LIFE_*) */

	RF_COST_CPU = 1, /* double, s */
	RF_COST_BPF_COUNTED = 2,
	RF_COST_BPF_NS = 3,
	RF_COST_BPF_RUNS = 4,

	RF_LIFE_PIDS = 1,   /* packed varints */
	RF_LIFE_START = 2,  /* i64 CLOCK_REALTIME ns */
	RF_LIFE_END = 3,    /* i64 CLOCK_REALTIME ns; absent while it lived */
	RF_LIFE_COUNTS = 4, /* packed: requests, produce, records, exit_unmatched */
	RF_LIFE_BROKER = 5, /* u64: which broker of the run (absent: 0) */
};

/*
 * Arrays indexed by phase or cause, packed: a reader takes the current
 * layout and the one of recordings written before replication
 * (ATTRIB_PHASES_V1 phases, ATTRIB_CAUSES_V1 causes: attrib.h), mapped to
 * the current one (the phases it lacks are 0). 0 or -EINVAL for any other
 * count; out holds ATTRIB_PHASES (ATTRIB_CAUSES) values.
 */
int rf_get_phases_i64(const struct tlv_cur *val, int64_t *out);
int rf_get_phases_f64(const struct tlv_cur *val, double *out);
int rf_get_causes_i64(const struct tlv_cur *val, int64_t *out);
int rf_get_causes_f64(const struct tlv_cur *val, double *out);
/* A phase index written by a writer of nphases phases; -1 out of range. */
int rf_phase(uint64_t i, unsigned int nphases);

#endif
