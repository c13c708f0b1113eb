// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Histograms by their non-empty buckets: see include/kafkalat/hist_sparse.h. */
#include <stdlib.h>

#include "kafkalat/hist_sparse.h"

/* As hist_merge: a count never wraps into a small one. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

struct hist_sparse *hist_sparse_new(const struct hist *h)
{
	struct hist_sparse *s = calloc(1, sizeof(*s));
	uint32_t n = 0, k = 0;
	uint64_t cum = 0;

	if (!s)
		return NULL;
	s->count = h->count;
	s->sum = h->sum;
	s->min = h->min;
	s->max = h->max;
	for (unsigned int i = 0; i < HIST_BUCKETS; i++)
		n += h->buckets[i] != 0;
	if (n) {
		s->bucket = malloc(n * sizeof(*s->bucket));
		s->cum = malloc(n * sizeof(*s->cum));
		if (!s->bucket || !s->cum) {
			hist_sparse_free(s);
			return NULL;
		}
	}
	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		cum += h->buckets[i];
		s->bucket[k] = i;
		s->cum[k++] = cum;
	}
	s->n = n;
	return s;
}

void hist_sparse_free(struct hist_sparse *s)
{
	if (!s)
		return;
	free(s->bucket);
	free(s->cum);
	free(s);
}

/* The first non-empty bucket whose cumulated count reaches rank. */
static uint32_t first_reaching(const struct hist_sparse *s, uint64_t rank)
{
	uint32_t lo = 0, hi = s->n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->cum[mid] >= rank)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

uint64_t hist_sparse_quantile(const struct hist_sparse *s, double q)
{
	uint64_t v;

	if (!s->count || !s->n)
		return 0;
	if (!(q > 0.0))
		return s->min;
	if (q >= 1.0)
		return s->max;
	v = hist_bucket_mid(s->bucket[first_reaching(s, hist_rank(s->count, q))]);
	if (v < s->min)
		return s->min;
	return v > s->max ? s->max : v;
}

uint64_t hist_sparse_count_through(const struct hist_sparse *s, uint64_t value)
{
	unsigned int last = hist_bucket_of(value);
	uint32_t lo = 0, hi = s->n;

	/* the number of non-empty buckets at or below last */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->bucket[mid] <= last)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? s->cum[lo - 1] : 0;
}

void hist_sparse_add_to(const struct hist_sparse *s, struct hist *into)
{
	uint64_t prev = 0;

	if (!s->count)
		return;
	for (uint32_t k = 0; k < s->n; k++) {
		uint64_t n = s->cum[k] - prev;

		into->buckets[s->bucket[k]] = sat_add(into->buckets[s->bucket[k]], n);
		prev = s->cum[k];
	}
	into->count = sat_add(into->count, s->count);
	into->sum = sat_add(into->sum, s->sum);
	if (s->min < into->min)
		into->min = s->min;
	if (s->max > into->max)
		into->max = s->max;
}
