// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The latency tail by band, its tops and the slowest requests: see
 * include/kafkalat/bands.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/bands.h"
#include "kafkalat/hist.h"
#include "kafkalat/strtab.h"
#include "kafkalat/topn.h"

struct bsum {
	double phase[ATTRIB_PHASES]; /* summed shares of latency */
	double cause[ATTRIB_CAUSES];
};

struct bands {
	struct hist h;
	struct bsum *blk[HIST_EXPONENTS]; /* per power of two, HIST_SUB_BUCKETS each, lazily */
	struct topn slow;		  /* struct slow_request by latency */
	struct strtab keys;
	bands_keep_fn keep_fn;
	void *keep_ctx;
	uint64_t no_wire; /* matched requests kept out: no wire times */
};

#define BAND_KEYS_MAX 65536

struct bands *bands_new(size_t max_slow)
{
	struct bands *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	hist_init(&b->h);
	if (topn_init(&b->slow, sizeof(struct slow_request), (uint32_t)max_slow) ||
	    strtab_init(&b->keys, BAND_KEYS_MAX)) {
		bands_free(b);
		return NULL;
	}
	return b;
}

void bands_free(struct bands *b)
{
	if (!b)
		return;
	for (int i = 0; i < HIST_EXPONENTS; i++)
		free(b->blk[i]);
	topn_free(&b->slow);
	strtab_free(&b->keys);
	free(b);
}

void bands_on_keep(struct bands *b, bands_keep_fn fn, void *ctx)
{
	b->keep_fn = fn;
	b->keep_ctx = ctx;
}

static const char *const band_names[BANDS] = {"lt_p50", "p50_p99", "ge_p99", "ge_p999"};

const char *band_name(unsigned int band)
{
	return band < BANDS ? band_names[band] : NULL;
}

uint64_t bands_no_wire(const struct bands *b)
{
	return b->no_wire;
}

uint32_t bands_kept(const struct bands *b)
{
	return b->slow.n;
}

const struct slow_request *bands_kept_at(const struct bands *b, uint32_t i)
{
	return topn_at(&b->slow, i);
}

/* The partition with the largest batch stands for the request. */
static uint32_t partition_key(struct bands *b, const struct corr_request *r)
{
	char key[KLT_TOPIC_NAME_MAX + 16];
	const struct corr_part *best = NULL;

	for (size_t i = 0; r->parts && i < r->nparts; i++)
		if (!best || r->parts[i].record_bytes > best->record_bytes)
			best = &r->parts[i];
	if (!best || !r->topics || best->topic_idx >= r->ntopics)
		return 0;
	snprintf(key, sizeof(key), "%s-%d", r->topics[best->topic_idx].name, (int)best->partition);
	return strtab_intern(&b->keys, key);
}

static void set_keys(struct bands *b, const struct corr_request *r, const struct attrib_result *res,
		     struct slow_request *s)
{
	char key[300];

	s->stack_id = -1;
	s->key[BAND_TOP_PARTITION] = partition_key(b, r);
	s->key[BAND_TOP_CLIENT] = strtab_intern(&b->keys, r->client);
	if (res->top_cause > CAUSE_RUNQ && res->top_cause < ATTRIB_CAUSE_QUEUED) {
		snprintf(key, sizeof(key), "%s:%s", attrib_cause_name(res->top_cause),
			 res->top_frame && *res->top_frame ? res->top_frame : "unknown");
		s->key[BAND_TOP_STACK] = strtab_intern(&b->keys, key);
		s->stack_id = res->top_stack_id;
		s->stack_ns = res->top_ns;
	}
}

static void keep_slow(struct bands *b, const struct corr_request *r,
		      const struct attrib_result *res)
{
	struct slow_request s = {.latency = (uint64_t)res->latency_ns,
				 .t_arrival = r->t_arrival,
				 .t_sent = r->t_sent,
				 .nstacks = res->nstacks,
				 .flow_ns = r->flow_blocked_ns};

	if (!topn_wants(&b->slow, s.latency))
		return;
	set_keys(b, r, res, &s);
	memcpy(s.stacks, res->stacks, sizeof(s.stacks));
	memcpy(s.phase_ns, res->phase_ns, sizeof(s.phase_ns));
	memcpy(s.root_ns, res->root_ns, sizeof(s.root_ns));
	for (int p = 0; p < ATTRIB_PHASES; p++)
		for (int c = 0; c < ATTRIB_CAUSES; c++)
			s.cause_ns[c] += res->cause_ns[p][c];
	if (b->keep_fn)
		b->keep_fn(b->keep_ctx, &s);
	*(struct slow_request *)topn_put(&b->slow, s.latency) = s;
}
int bands_add(struct bands *b, const struct corr_request *r, const struct attrib_result *res)
{
	unsigned int bucket, e;
	struct bsum *s;
	double lat;

	if (res->unmatched != ATTRIB_MATCHED || res->latency_ns < 0)
		return 0;
	/* without wire times the latency would be a lower bound: not a sample */
	if (!res->wire_known) {
		b->no_wire++;
		return 0;
	}
	bucket = hist_bucket_of((uint64_t)res->latency_ns);
	e = bucket / HIST_SUB_BUCKETS;
	if (!b->blk[e] && !(b->blk[e] = calloc(HIST_SUB_BUCKETS, sizeof(struct bsum))))
		return -ENOMEM;
	hist_record(&b->h, (uint64_t)res->latency_ns);
	s = &b->blk[e][bucket % HIST_SUB_BUCKETS];
	lat = res->latency_ns > 0 ? (double)res->latency_ns : 1.0;
	for (int p = 0; p < ATTRIB_PHASES; p++) {
		s->phase[p] += (double)res->phase_ns[p] / lat;
		for (int c = 0; c < ATTRIB_CAUSES; c++)
			s->cause[c] += (double)res->cause_ns[p][c] / lat;
	}
	keep_slow(b, r, res);
	return 0;
}

/* The first histogram bucket of each band, and one past the last. */
static void band_ranges(const struct bands *b, unsigned int lo[BANDS], unsigned int hi[BANDS])
{
	unsigned int q50 = hist_bucket_of(hist_quantile(&b->h, 0.5));
	unsigned int q99 = hist_bucket_of(hist_quantile(&b->h, 0.99));
	unsigned int q999 = hist_bucket_of(hist_quantile(&b->h, 0.999));

	lo[BAND_LT_P50] = 0;
	hi[BAND_LT_P50] = lo[BAND_P50_P99] = q50;
	hi[BAND_P50_P99] = lo[BAND_GE_P99] = q99;
	lo[BAND_GE_P999] = q999;
	hi[BAND_GE_P99] = hi[BAND_GE_P999] = HIST_BUCKETS;
}

static void add_bucket(const struct bands *b, unsigned int i, struct band_summary *out)
{
	const struct bsum *s = &b->blk[i / HIST_SUB_BUCKETS][i % HIST_SUB_BUCKETS];

	if (!out->requests)
		out->lo_ns = hist_bucket_low(i);
	out->hi_ns = hist_bucket_high(i);
	out->requests += b->h.buckets[i];
	for (int p = 0; p < ATTRIB_PHASES; p++)
		out->phase_pct[p] += s->phase[p];
	for (int c = 0; c < ATTRIB_CAUSES; c++)
		out->cause_pct[c] += s->cause[c];
}

static void band_summary(const struct bands *b, unsigned int lo, unsigned int hi,
			 struct band_summary *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = lo; i < hi; i++) {
		if (!b->blk[i / HIST_SUB_BUCKETS]) /* nothing recorded in this power of two */
			i |= HIST_SUB_BUCKETS - 1;
		else if (b->h.buckets[i])
			add_bucket(b, i, out);
	}
	for (int p = 0; out->requests && p < ATTRIB_PHASES; p++)
		out->phase_pct[p] *= 100.0 / (double)out->requests;
	for (int c = 0; out->requests && c < ATTRIB_CAUSES; c++)
		out->cause_pct[c] *= 100.0 / (double)out->requests;
}

void bands_summary(const struct bands *b, struct band_summary out[BANDS])
{
	unsigned int lo[BANDS], hi[BANDS];

	band_ranges(b, lo, hi);
	for (unsigned int band = 0; band < BANDS; band++)
		band_summary(b, lo[band], hi[band], &out[band]);
}

uint64_t bands_low(const struct bands *b, enum band band)
{
	struct band_summary sum[BANDS];

	bands_summary(b, sum);
	return sum[band].requests ? sum[band].lo_ns : UINT64_MAX;
}

static void add_time(const struct slow_request *s, struct band_time *out)
{
	out->requests++;
	out->total_ns += s->latency;
	for (int p = 0; p < ATTRIB_PHASES; p++)
		out->phase_pct[p] += (double)s->phase_ns[p];
	for (int c = 0; c < ATTRIB_CAUSES; c++) {
		out->cause_pct[c] += (double)s->cause_ns[c];
		out->root_pct[c] += (double)s->root_ns[c];
		/* what the head-of-line wait added to each root cause */
		if (c != ATTRIB_CAUSE_HOL)
			out->hol_pct[c] += (double)(s->root_ns[c] - s->cause_ns[c]);
	}
	if (s->flow_ns) {
		out->flow_requests++;
		out->flow_total_ns += s->flow_ns;
		if (s->flow_ns > out->flow_max_ns)
			out->flow_max_ns = s->flow_ns;
	}
}

void bands_time(const struct bands *b, enum band band, struct band_time *out)
{
	struct band_summary sum[BANDS];
	double total;

	memset(out, 0, sizeof(*out));
	if (band != BAND_GE_P99 && band != BAND_GE_P999)
		return;
	bands_summary(b, sum);
	if (!sum[band].requests)
		return;
	for (uint32_t i = 0; i < b->slow.n; i++)
		if (bands_kept_at(b, i)->latency >= sum[band].lo_ns)
			add_time(bands_kept_at(b, i), out);
	out->complete = out->requests == sum[band].requests;
	total = (double)out->total_ns;
	for (int p = 0; total > 0 && p < ATTRIB_PHASES; p++)
		out->phase_pct[p] *= 100.0 / total;
	for (int c = 0; total > 0 && c < ATTRIB_CAUSES; c++) {
		out->cause_pct[c] *= 100.0 / total;
		out->root_pct[c] *= 100.0 / total;
		out->hol_pct[c] *= 100.0 / total;
	}
}

struct row {
	uint32_t key;
	int32_t stack_id;
	uint64_t ns;
};

static int cmp_row(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	return a->key != b->key ? (a->key < b->key ? -1 : 1) : 0;
}

static int cmp_top(const void *x, const void *y)
{
	const struct band_top *a = x, *b = y;

	if (a->requests != b->requests)
		return a->requests > b->requests ? -1 : 1;
	if (a->total_ns != b->total_ns)
		return a->total_ns > b->total_ns ? -1 : 1;
	return strcmp(a->key, b->key);
}

/* The kept slow requests of >= p99 with a key of this kind, one row each.
 * *in_band counts all kept ones of >= p99. */
static size_t slow_rows(const struct bands *b, enum band_top_kind kind, struct row *rows,
			uint64_t *in_band)
{
	unsigned int lo[BANDS], hi[BANDS];
	size_t n = 0;

	band_ranges(b, lo, hi);
	*in_band = 0;
	for (uint32_t i = 0; i < b->slow.n; i++) {
		const struct slow_request *s = topn_heap_at(&b->slow, i);

		if (hist_bucket_of(s->latency) < lo[BAND_GE_P99])
			continue;
		(*in_band)++;
		if (!s->key[kind])
			continue;
		rows[n++] = (struct row){
		    .key = s->key[kind],
		    .stack_id = kind == BAND_TOP_STACK ? s->stack_id : -1,
		    .ns = kind == BAND_TOP_STACK ? (uint64_t)s->stack_ns : s->latency,
		};
	}
	return n;
}

/* Rows of equal keys merged into tops; returns their count. */
static size_t merge_rows(const struct bands *b, struct row *rows, size_t n, struct band_top *tops)
{
	size_t m = 0;

	qsort(rows, n, sizeof(*rows), cmp_row);
	for (size_t i = 0; i < n; i++) {
		if (!m || rows[i - 1].key != rows[i].key)
			tops[m++] = (struct band_top){.key = strtab_str(&b->keys, rows[i].key),
						      .stack_id = -1};
		tops[m - 1].requests++;
		tops[m - 1].total_ns += rows[i].ns;
		if (rows[i].stack_id != -1)
			tops[m - 1].stack_id = rows[i].stack_id;
	}
	return m;
}

static uint64_t ge_p99_count(const struct bands *b)
{
	unsigned int lo[BANDS], hi[BANDS];
	uint64_t n = 0;

	band_ranges(b, lo, hi);
	for (unsigned int i = lo[BAND_GE_P99]; i < HIST_BUCKETS; i++)
		n += b->h.buckets[i];
	return n;
}

size_t bands_top(const struct bands *b, enum band_top_kind kind, struct band_top *out, size_t n,
		 bool *truncated)
{
	struct band_top *tops;
	struct row *rows;
	uint64_t in_band;
	size_t m = 0;

	if (truncated)
		*truncated = false;
	if ((unsigned)kind >= BAND_TOPS || !b->slow.n)
		return 0;
	rows = calloc(b->slow.n, sizeof(*rows));
	tops = calloc(b->slow.n, sizeof(*tops));
	if (rows && tops) {
		m = merge_rows(b, rows, slow_rows(b, kind, rows, &in_band), tops);
		qsort(tops, m, sizeof(*tops), cmp_top);
		m = m < n ? m : n;
		if (m)
			memcpy(out, tops, m * sizeof(*out));
		if (truncated)
			*truncated = ge_p99_count(b) > in_band;
	}
	free(rows);
	free(tops);
	return m;
}
