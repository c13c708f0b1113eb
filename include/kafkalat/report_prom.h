/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `kafkalat report --format prom`: a recording as a node_exporter
 * textfile-collector file, Prometheus text exposition format 0.0.4. Every
 * family has its # HELP and # TYPE once; names are kafkalat_..., values in
 * base units (seconds, bytes); no sample carries a timestamp (the textfile
 * collector refuses them). The families:
 *
 *   kafkalat_produce_latency_seconds          histogram, the client's wait
 *   kafkalat_produce_broker_latency_seconds   histogram, the broker's own
 *   kafkalat_produce_latency_quantile_seconds gauge {q}
 *   kafkalat_produce_broker_latency_quantile_seconds gauge {q}
 *   kafkalat_produce_phase_seconds            gauge {phase, q}
 *   kafkalat_tail_phase_ratio                 gauge {band, phase}, 0..1
 *   kafkalat_tail_cause_ratio                 gauge {band, cause}, 0..1
 *   kafkalat_requests_total                   counter {api}
 *   kafkalat_produce_bytes_total, kafkalat_produce_records_total
 *   kafkalat_lost_events_total                counter {ring}
 *   kafkalat_lost_events_by_kind_total        counter {ring, kind}, every kind
 *   kafkalat_touched_requests_total           counter, the loss touched them
 *   kafkalat_produce_touched_requests_total   counter, of which Produce
 *   kafkalat_produce_unattributed_lost_causes_total counter
 *   kafkalat_loss_intervals                   gauge, intervals with a loss
 *   kafkalat_unmatched_requests_total         counter {reason}, every API
 *   kafkalat_produce_unmatched_requests_total counter {reason}, of which Produce
 *   kafkalat_unmatched_responses_total
 *   kafkalat_recording_start_timestamp_seconds, ..._end_timestamp_seconds
 *   kafkalat_recording_info                   gauge 1 {host, kernel, label_K...}
 *   kafkalat_last_success_timestamp_seconds   gauge, now_s
 *
 * The quantiles are gauges, not a summary: they are of the whole recording,
 * not of a sliding window as a summary's are; so their label is q="0.99"
 * (the label quantile belongs to summaries). The histograms' le bounds are
 * the fixed REPORT_PROM_LE_NS: the log-linear buckets of hist.h do not
 * align with them, so a bucket {le} counts every value of the histogram
 * bucket holding le (hist_count_through): values up to le*(1 + 1/HIST_SUB_BUCKETS)
 * (the bucket's width, under 0.1%) may count under it.
 */
#ifndef KAFKALAT_REPORT_PROM_H
#define KAFKALAT_REPORT_PROM_H

#include <stdio.h>

struct rec;

/* The histograms' le bounds in ns, 100 us to 60 s in 1-2.5-5 steps, then +Inf. */
#define REPORT_PROM_LE_NS                                                                         \
	{                                                                                         \
		100000ull, 250000ull, 500000ull, 1000000ull, 2500000ull, 5000000ull, 10000000ull, \
		    25000000ull, 50000000ull, 100000000ull, 250000000ull, 500000000ull,           \
		    1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull, 30000000000ull,  \
		    60000000000ull                                                                \
	}

/* Writes r to out. now_s (Unix seconds) is the last-success timestamp.
 * 0, -EIO when writing failed, or -ENOMEM. */
int report_prom(FILE *out, const struct rec *r, double now_s);

/*
 * Writes r into path atomically, as the textfile collector needs (it must
 * never read half a file): into path.tmp.<pid>, mode 0644, fsync'd, then
 * renamed onto path. 0, or -errno with the temporary file removed and path
 * untouched.
 */
int report_prom_write_file(const char *path, const struct rec *r, double now_s);

#endif
