// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Journal commits and block I/O, and what overlapped the slowest requests:
 * see include/kafkalat/history.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/history.h"
#include "kafkalat/timeline.h"

#define BLOCK_SCAN_MAX	   200000	  /* block requests looked at per slow request */
#define COMMIT_SPAN_MAX_NS 60000000000ull /* no commit is assumed longer */

/* A commit or a block request: its span, and the device. */
struct dev_span {
	uint64_t t0, t1;
	uint32_t dev;
};

struct history {
	/* commits: reserved whole, a commit never fails to go in; blocks: every
	 * device's, a few to thousands a second, grown and shrunk with the
	 * window's need (a buffer reserved whole would be touched page by page
	 * as the ring turns, and RSS would creep up for hours: docs/soak.md) */
	struct timeline commits, blocks;
	uint32_t max_commits, max_block;
	uint64_t block_window_ns;
	uint64_t commits_total; /* ever added */
};

struct history *history_new(uint32_t max_commits, uint32_t max_block, uint64_t block_window_ns)
{
	struct history *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->max_commits = max_commits ? max_commits : 1;
	h->max_block = max_block ? max_block : 1;
	h->block_window_ns = block_window_ns;
	timeline_init(&h->commits, sizeof(struct dev_span));
	timeline_init(&h->blocks, sizeof(struct dev_span));
	if (timeline_reserve(&h->commits, h->max_commits)) {
		history_free(h);
		return NULL;
	}
	return h;
}

void history_free(struct history *h)
{
	if (!h)
		return;
	timeline_free(&h->commits);
	timeline_free(&h->blocks);
	free(h);
}

uint64_t history_bytes(const struct history *h)
{
	return timeline_bytes(&h->commits) + timeline_bytes(&h->blocks);
}

int history_add_commit(struct history *h, uint32_t dev, uint64_t t_start, uint64_t t_end)
{
	struct dev_span c = {.t0 = t_start, .t1 = t_end, .dev = dev};

	if (t_end < t_start)
		return -EINVAL;
	h->commits_total++;
	return timeline_push(&h->commits, &c, h->max_commits);
}

uint64_t history_commits_after(const struct history *h, uint64_t seen, history_commit_fn fn,
			       void *ctx)
{
	uint64_t first = h->commits_total - h->commits.len; /* the oldest still held */

	for (uint64_t i = seen > first ? seen : first; i < h->commits_total; i++) {
		const struct dev_span *c = timeline_at(&h->commits, (uint32_t)(i - first));

		fn(ctx, c->dev, c->t0, c->t1);
	}
	return h->commits_total;
}

int history_add_block(struct history *h, uint32_t dev, uint64_t t_issue, uint64_t t_complete)
{
	struct dev_span b = {.t0 = t_issue, .t1 = t_complete, .dev = dev};
	int ret;

	if (t_complete < t_issue)
		return -EINVAL;
	/* aged out: completed a window before this one */
	if (t_complete > h->block_window_ns)
		timeline_evict(&h->blocks, t_complete - h->block_window_ns);
	ret = timeline_push(&h->blocks, &b, h->max_block);
	return ret == -ENOMEM ? 1 : ret; /* no room to grow: this one gave way */
}

/* The block requests complete in order: start at the first completing at
 * or after the request's start. */
void history_note_blocks(const struct history *h, struct slow_request *s)
{
	const struct timeline *r = &h->blocks;

	for (uint32_t i = timeline_count_ended_before(r, s->t_arrival), n = 0;
	     i < r->len && n < BLOCK_SCAN_MAX; i++, n++) {
		const struct dev_span *b = timeline_at(r, i);

		if (b->t0 > s->t_sent || b->t1 < s->t_arrival)
			continue;
		s->nblock++;
		if (b->t1 - b->t0 > s->block_longest_ns) {
			s->block_longest_ns = b->t1 - b->t0;
			s->block_dev = b->dev;
		}
	}
}

/* The commits overlapping s, counted once each (seen) into out; whether any did. */
static bool commits_of(const struct history *h, const struct slow_request *s, uint8_t *seen,
		       struct journal_overlap *out)
{
	const struct timeline *r = &h->commits;
	bool any = false;

	for (uint32_t i = timeline_count_ended_before(r, s->t_arrival); i < r->len; i++) {
		const struct dev_span *c = timeline_at(r, i);

		if (c->t1 > s->t_sent + COMMIT_SPAN_MAX_NS)
			break;
		if (c->t0 > s->t_sent)
			continue;
		any = true;
		if (seen[i])
			continue;
		seen[i] = 1;
		out->commits++;
		if (c->t1 - c->t0 > out->commit_longest_ns) {
			out->commit_longest_ns = c->t1 - c->t0;
			out->commit_dev = c->dev;
		}
	}
	return any;
}

void history_journal(const struct history *h, const struct bands *b, struct journal_overlap *out)
{
	uint64_t lo = bands_low(b, BAND_GE_P999);
	uint8_t *seen = calloc(h->commits.len ? h->commits.len : 1, 1);

	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < bands_kept(b); i++) {
		const struct slow_request *s = bands_kept_at(b, i);

		if (s->latency < lo)
			continue;
		out->requests++;
		if (seen && commits_of(h, s, seen, out))
			out->requests_with_commit++;
		out->block_ios += s->nblock;
		if (s->block_longest_ns > out->block_longest_ns) {
			out->block_longest_ns = s->block_longest_ns;
			out->block_dev = s->block_dev;
		}
	}
	free(seen);
}
