/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The event histories around the requests: the journal (jbd2) commits and
 * the block I/O completions of the run, each in a timeline (timeline.h) in arrival
 * order, which is their end order. Both are bounded in count (the oldest
 * give way), block I/O also in age. Two overlap queries: the block I/O
 * during a request's window, asked as the request is kept among the
 * slowest (bands.h), and at the end the commits during the >= p999
 * requests kept.
 */
#ifndef KAFKALAT_HISTORY_H
#define KAFKALAT_HISTORY_H

#include <stdint.h>

#include "kafkalat/bands.h"

/* The journal commits and block I/O that overlapped the >= p999 requests. */
struct journal_overlap {
	uint64_t requests; /* >= p999 requests looked at (kept among the slowest) */
	uint64_t commits;  /* distinct jbd2 commits overlapping at least one of them */
	uint64_t commit_longest_ns;
	uint32_t commit_dev;	       /* of the longest */
	uint64_t requests_with_commit; /* of the requests, how many overlapped a commit */
	uint64_t block_ios;	       /* block requests overlapping them (summed per request) */
	uint64_t block_longest_ns;     /* issue to completion */
	uint32_t block_dev;	       /* of the longest */
};

struct history;

/* At most max_commits commits and max_block block requests (0 keeps one),
 * none of the latter completed block_window_ns before the newest. */
struct history *history_new(uint32_t max_commits, uint32_t max_block, uint64_t block_window_ns);
void history_free(struct history *h);
/* Bytes its timelines hold. */
uint64_t history_bytes(const struct history *h);
/* Each returns 0, 1 when the oldest record gave way (a block request: or
 * itself, with no memory to grow the timeline), or -EINVAL when the end is
 * before the start (not kept). */
int history_add_commit(struct history *h, uint32_t dev, uint64_t t_start, uint64_t t_end);
int history_add_block(struct history *h, uint32_t dev, uint64_t t_issue, uint64_t t_complete);

/* The block I/O overlapping [s->t_arrival, s->t_sent], into s's block fields. */
void history_note_blocks(const struct history *h, struct slow_request *s);
/* The commits added after the first seen ones (a count this returned
 * before; 0 at first), in the order added, those still held; returns the
 * count to pass next time. */
typedef void (*history_commit_fn)(void *ctx, uint32_t dev, uint64_t t_start, uint64_t t_end);
uint64_t history_commits_after(const struct history *h, uint64_t seen, history_commit_fn fn,
			       void *ctx);
void history_journal(const struct history *h, const struct bands *b, struct journal_overlap *out);

#endif
