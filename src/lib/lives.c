// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The broker's lives under --follow: see include/kafkalat/lives.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/grow.h"
#include "kafkalat/lives.h"

int lives_add(struct lives *l, const struct life *x)
{
	int err = grow_array((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v), LIVES_MAX);

	if (err)
		return err;
	l->v[l->n++] = *x;
	return 0;
}

int lives_begin(struct lives *l, int64_t t, const int *pids, int npids)
{
	struct life x = {.t_start = t};

	if (npids > KLT_MAX_BROKERS)
		npids = KLT_MAX_BROKERS;
	for (int i = 0; i < npids; i++)
		x.pids[i] = pids[i];
	x.npids = npids < 0 ? 0 : npids;
	return lives_add(l, &x);
}

struct life *lives_current(struct lives *l)
{
	struct life *x = l->n ? &l->v[l->n - 1] : NULL;

	return x && !x->t_end ? x : NULL;
}

void lives_end(struct lives *l, int64_t t, uint64_t exit_unmatched)
{
	struct life *x = lives_current(l);

	if (!x)
		return;
	/* a life has a length: its end is never taken for "still going" */
	x->t_end = t > x->t_start ? t : x->t_start + 1;
	x->exit_unmatched += exit_unmatched;
}

void lives_count(struct lives *l, bool produce, uint64_t records)
{
	struct life *x = lives_current(l);

	if (!x)
		return;
	x->requests++;
	if (produce) {
		x->produce++;
		x->records += records;
	}
}

static int64_t overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
	int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;

	return hi > lo ? hi - lo : 0;
}

int64_t lives_gap_ns(const struct lives *l, int64_t from, int64_t to)
{
	int64_t gap;

	if (!l->n)
		return 0;
	if (from < l->v[0].t_start)
		from = l->v[0].t_start;
	if (to <= from)
		return 0;
	gap = to - from;
	for (size_t i = 0; i < l->n; i++)
		gap -=
		    overlap(l->v[i].t_start, l->v[i].t_end ? l->v[i].t_end : INT64_MAX, from, to);
	return gap;
}

size_t lives_gaps(const struct lives *l, int64_t end, int64_t *total_ns)
{
	uint64_t total = 0;
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		int64_t next = i + 1 < l->n ? l->v[i + 1].t_start : end;

		if (!l->v[i].t_end)
			continue;
		n++;
		/* a recording's lives are any numbers: no signed overflow */
		if (next > l->v[i].t_end)
			total += (uint64_t)next - (uint64_t)l->v[i].t_end;
	}
	*total_ns = total > INT64_MAX ? INT64_MAX : (int64_t)total;
	return n;
}

void lives_free(struct lives *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}
