// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The brokers' lives under --follow: see include/kafkalat/lives.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/grow.h"
#include "kafkalat/lives.h"

int lives_add(struct lives *l, const struct life *x)
{
	int err;

	if (x->broker < 0 || x->broker >= KLT_MAX_BROKERS)
		return -EINVAL;
	err = grow_array((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v), LIVES_MAX);
	if (err)
		return err;
	l->v[l->n++] = *x;
	if (x->broker >= l->nbrokers)
		l->nbrokers = x->broker + 1;
	return 0;
}

int lives_begin(struct lives *l, int64_t t, int broker, int pid)
{
	struct life x = {.broker = broker, .pids = {pid}, .npids = 1, .t_start = t};
	int err = lives_add(l, &x);

	if (!err)
		l->cur[broker] = l->n;
	return err;
}

struct life *lives_current(struct lives *l, int broker)
{
	if (broker < 0 || broker >= KLT_MAX_BROKERS || !l->cur[broker])
		return NULL;
	return &l->v[l->cur[broker] - 1];
}

void lives_end(struct lives *l, int broker, int64_t t, uint64_t exit_unmatched)
{
	struct life *x = lives_current(l, broker);

	if (!x)
		return;
	/* a life has a length: its end is never taken for "still going" */
	x->t_end = t > x->t_start ? t : x->t_start + 1;
	x->exit_unmatched += exit_unmatched;
	l->cur[broker] = 0;
}

/* The life going on of process tgid; for 0, the only life going on. */
static struct life *life_of(struct lives *l, uint32_t tgid)
{
	struct life *only = NULL;
	int going = 0;

	for (int b = 0; b < l->nbrokers; b++) {
		struct life *x = lives_current(l, b);

		if (!x)
			continue;
		going++;
		only = x;
		for (int k = 0; tgid && k < x->npids; k++)
			if ((uint32_t)x->pids[k] == tgid)
				return x;
	}
	return !tgid && going == 1 ? only : NULL;
}

void lives_count(struct lives *l, uint32_t tgid, bool produce, uint64_t records)
{
	struct life *x = life_of(l, tgid);

	if (!x)
		return;
	x->requests++;
	if (produce) {
		x->produce++;
		x->records += records;
	}
}

/* Broker at t: 1 in a life, 0 in a gap, -1 before its first life; *until
 * when that changes (INT64_MAX never). Its lives follow each other in v. */
static int broker_at(const struct lives *l, int broker, int64_t t, int64_t *until)
{
	int64_t next = INT64_MAX;

	for (size_t i = l->n; i-- > 0;) {
		const struct life *x = &l->v[i];

		if (x->broker != broker)
			continue;
		if (x->t_start > t) {
			next = x->t_start;
			continue;
		}
		if (!x->t_end || t < x->t_end) {
			*until = x->t_end ? x->t_end : INT64_MAX;
			return 1;
		}
		*until = next;
		return 0;
	}
	*until = next;
	return -1;
}

/* The time of [from, to) when one of brokers [b0, b1) was in a gap: the
 * window walked from one change of any of them to the next. */
static int64_t gap_within(const struct lives *l, int b0, int b1, int64_t from, int64_t to)
{
	int64_t gap = 0, t = from;

	while (t < to) {
		int64_t step = to, until;
		bool in_gap = false;

		for (int b = b0; b < b1; b++) {
			if (!broker_at(l, b, t, &until))
				in_gap = true;
			if (until < step)
				step = until;
		}
		if (in_gap)
			gap += step - t;
		t = step;
	}
	return gap;
}

int64_t lives_gap_ns(const struct lives *l, int64_t from, int64_t to)
{
	return gap_within(l, 0, l->nbrokers, from, to);
}

int64_t lives_broker_gap_ns(const struct lives *l, int broker, int64_t from, int64_t to)
{
	return gap_within(l, broker, broker + 1, from, to);
}

int64_t lives_next_start(const struct lives *l, size_t i, int64_t end)
{
	for (size_t k = i + 1; k < l->n; k++)
		if (l->v[k].broker == l->v[i].broker)
			return l->v[k].t_start;
	return end;
}

size_t lives_gaps(const struct lives *l, int64_t end, int64_t *total_ns)
{
	uint64_t total = 0;
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		int64_t next = lives_next_start(l, i, end);

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
