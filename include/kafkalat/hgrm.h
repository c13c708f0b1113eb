/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HdrHistogram's percentile-distribution text (".hgrm", as its
 * outputPercentileDistribution prints it), written from a struct hist and
 * read back. Values are nanoseconds divided by unit_ns (1000: microseconds).
 *
 * Rows step through percentile levels as HdrHistogram does: from 0, each
 * halving of the distance to 100% is cut into ticks_per_half equal steps,
 * until a level's value lies in the highest bucket; a last row at 100%
 * without the 1/(1-Percentile) column ends them. A row's value is
 * hist_quantile at its level and its count the values recorded up to and
 * including that value's bucket. The footer's Buckets and SubBuckets give
 * the layout in HdrHistogram's terms, as it prints them for three
 * significant digits over the 64-bit range: 54 buckets of 2048
 * sub-buckets, each bucket after the first using its upper half. The
 * first covers 0..2047 (our exact range, two groups of HIST_SUB_BUCKETS);
 * each of the other 53 one power of two from 2^11 up to 2^64.
 */
#ifndef KAFKALAT_HGRM_H
#define KAFKALAT_HGRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kafkalat/hist.h"

#define HGRM_TICKS_DEFAULT 5
#define HGRM_BUCKETS	   (HIST_EXPONENTS - 1)
#define HGRM_SUB_BUCKETS   (2 * HIST_SUB_BUCKETS)

struct hgrm_row {
	double value;
	double percentile; /* a fraction, 0 to 1 */
	uint64_t total_count;
	double inv_tail; /* 1/(1-percentile); 0 when has_inv is false */
	bool has_inv;	 /* false only on the closing 100% row */
};

struct hgrm_footer {
	double mean;
	double stddev;
	double max;
	uint64_t total_count;
	int buckets;
	int sub_buckets;
};

/* 0, -EINVAL for a unit_ns that is not a positive number or zero ticks, or
 * -errno when writing fails. */
int hgrm_write(FILE *out, const struct hist *h, double unit_ns, unsigned ticks_per_half);

/*
 * Parses len bytes of text, which need not end in a NUL. On success 0, the
 * rows in *rows (malloc'd, for the caller to free; NULL when there are
 * none), their number and the footer. Otherwise -EINVAL (or -ENOMEM) with
 * *rows NULL and one line in err: "line N: what is wrong". Checked: the
 * header and blank line, every number's form, percentiles in [0, 1] and
 * never falling, values and counts never falling, only the last row at 100%
 * and without the last column, the footer's three lines, the last row's
 * count equal to the footer's total, and nothing after the footer.
 */
int hgrm_read(const char *text, size_t len, struct hgrm_row **rows, size_t *nrows,
	      struct hgrm_footer *foot, char *err, size_t errlen);

#endif
