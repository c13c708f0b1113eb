/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A histogram (hist.h) held by its non-empty buckets only: what a report
 * keeps per interval of a long recording, where a dense histogram per
 * interval and metric would not fit. Answers as the dense one does.
 */
#ifndef KAFKALAT_HIST_SPARSE_H
#define KAFKALAT_HIST_SPARSE_H

#include <stdint.h>

#include "kafkalat/hist.h"

struct hist_sparse {
	uint64_t count, sum, min, max; /* as struct hist */
	uint32_t n;		       /* non-empty buckets */
	uint32_t *bucket;	       /* their indexes, increasing */
	uint64_t *cum;		       /* the counts through each bucket, cumulated */
};

/* NULL on allocation failure. */
struct hist_sparse *hist_sparse_new(const struct hist *h);
void hist_sparse_free(struct hist_sparse *s);
/* hist_quantile's answer for the dense histogram. */
uint64_t hist_sparse_quantile(const struct hist_sparse *s, double q);
/* hist_count_through's answer for the dense histogram. */
uint64_t hist_sparse_count_through(const struct hist_sparse *s, uint64_t value);
/* Adds s into a dense histogram (hist_merge). */
void hist_sparse_add_to(const struct hist_sparse *s, struct hist *into);

#endif
