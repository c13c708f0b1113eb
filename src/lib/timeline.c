// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Timelines: see include/kafkalat/timeline.h. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/timeline.h"

void timeline_init(struct timeline *r, uint32_t esz)
{
	memset(r, 0, sizeof(*r));
	r->esz = esz;
}

void timeline_free(struct timeline *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->len = r->head = 0;
}

void timeline_clear(struct timeline *r)
{
	r->len = 0;
}

uint64_t timeline_bytes(const struct timeline *r)
{
	return (uint64_t)r->cap * r->esz;
}

static int resize(struct timeline *r, uint32_t ncap)
{
	unsigned char *nb = malloc((size_t)ncap * r->esz);

	if (!nb)
		return -ENOMEM;
	for (uint32_t i = 0; i < r->len; i++)
		memcpy(nb + (size_t)i * r->esz, timeline_at(r, i), r->esz);
	free(r->buf);
	r->buf = nb;
	r->cap = ncap;
	r->head = 0;
	return 0;
}

int timeline_reserve(struct timeline *r, uint32_t max)
{
	return r->cap < max ? resize(r, max) : 0;
}

void timeline_pop(struct timeline *r)
{
	if (++r->head == r->cap)
		r->head = 0;
	r->len--;
	r->popped++;
}

int timeline_push(struct timeline *r, const void *rec, uint32_t max)
{
	uint32_t ncap = r->cap ? r->cap * 2 : TIMELINE_MIN_CAP;
	int gave_way = 0;

	if (r->len == r->cap && r->cap < max && resize(r, ncap < max ? ncap : max))
		return -ENOMEM;
	if (r->len == r->cap) {
		timeline_pop(r);
		gave_way = 1;
	}
	memcpy(timeline_at(r, r->len++), rec, r->esz);
	return gave_way;
}

int timeline_insert(struct timeline *r, const void *rec, uint32_t max)
{
	unsigned char tmp[TIMELINE_REC_MAX];
	int ret = timeline_push(r, rec, max);

	for (uint32_t i = r->len - 1;
	     ret >= 0 && i > 0 && timeline_span(r, i - 1)->t0 > timeline_span(r, i)->t0; i--) {
		memcpy(tmp, timeline_at(r, i - 1), r->esz);
		memcpy(timeline_at(r, i - 1), timeline_at(r, i), r->esz);
		memcpy(timeline_at(r, i), tmp, r->esz);
	}
	return ret;
}

/*
 * A burst doubles a timeline up to its cap; without shrinking, each
 * thread's buffers would follow the largest burst seen so far and the
 * process's memory would creep up over an hour of traffic (docs/soak.md).
 * Halving only at a quarter full keeps a steady thread from resizing back
 * and forth: a resize costs one copy of what is left, and each one is paid
 * for by the evictions that emptied three quarters of the buffer.
 */
static void shrink_idle(struct timeline *r)
{
	uint32_t ncap = r->cap;

	while (ncap > TIMELINE_MIN_CAP && r->len <= ncap / 4)
		ncap /= 2;
	if (ncap != r->cap)
		(void)resize(r, ncap); /* no memory: keep the larger buffer */
}

uint32_t timeline_evict(struct timeline *r, uint64_t before)
{
	uint32_t n = 0;

	for (; r->len && timeline_span(r, 0)->t1 < before; n++)
		timeline_pop(r);
	if (n)
		shrink_idle(r);
	return n;
}

/* The span field at byte offset key (t0 or t1) of record i. */
static uint64_t key_at(const struct timeline *r, size_t key, uint32_t i)
{
	return *(const uint64_t *)((const unsigned char *)timeline_at(r, i) + key);
}

/* The number of records with key < t in [lo, hi), given that all before lo
 * have key < t and none from hi on. */
static uint32_t bsearch_before(const struct timeline *r, size_t key, uint64_t t, uint32_t lo,
			       uint32_t hi)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (key_at(r, key, mid) < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A request's searches land close to each other and to the previous
 * request's, so the search gallops out from where the last one ended: a few
 * cache lines instead of a binary search's walk over a timeline of thousands.
 * The hint is only a starting point (records shift on insert and pop); the
 * answer does not depend on it.
 */
uint32_t timeline_count_before(const struct timeline *r, uint64_t t)
{
	uint64_t rel = r->hint - r->popped;
	uint32_t h = r->hint >= r->popped && rel <= r->len ? (uint32_t)rel : r->len / 2;
	uint32_t lo, hi, step = 1, ans;

	if (h < r->len && timeline_span(r, h)->t0 < t) {
		/* the answer is above h: every record up to h is before t */
		lo = h + 1;
		for (hi = lo; hi < r->len && timeline_span(r, hi)->t0 < t; step *= 2) {
			lo = hi + 1;
			hi = r->len - hi > step ? hi + step : r->len;
		}
	} else {
		/* the answer is at or below h */
		hi = h;
		for (lo = hi; lo > 0 && timeline_span(r, lo - 1)->t0 >= t; step *= 2) {
			hi = lo - 1;
			lo = lo > step ? lo - step : 0;
		}
	}
	ans = bsearch_before(r, offsetof(struct span, t0), t, lo, hi);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	if (ans != bsearch_before(r, offsetof(struct span, t0), t, 0, r->len))
		abort(); /* the fuzzers check the gallop against the plain search */
#endif
	((struct timeline *)r)->hint = r->popped + ans; /* a cache, not state: const for callers */
	return ans;
}

uint32_t timeline_count_upto(const struct timeline *r, uint64_t t)
{
	return t == UINT64_MAX ? r->len : timeline_count_before(r, t + 1);
}

uint32_t timeline_count_ended_before(const struct timeline *r, uint64_t t)
{
	return bsearch_before(r, offsetof(struct span, t1), t, 0, r->len);
}
