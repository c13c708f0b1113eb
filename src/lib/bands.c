// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The latency tail by band, its tops and the slowest requests: see
 * include/kafkalat/bands.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/bands.h"
#include "kafkalat/hist.h"
#include "kafkalat/rec_fields.h"
#include "kafkalat/strtab.h"
#include "kafkalat/tlv.h"
#include "kafkalat/topn.h"

/* Summed shares of latency in fixed point (BSUM_ONE is a whole request):
 * integers add in any order to the same sum, so bands merged from several
 * recordings equal the bands of their union exactly. A share is rounded to
 * 2^-32 of its request (a band's percentages to 1e-8); 2^32 requests fit
 * one bucket (0.1% of latency wide: 60 hours of 20k requests/s, all within
 * 0.1% of each other). */
#define BSUM_ONE 4294967296.0

struct bsum {
	uint64_t phase[ATTRIB_PHASES];
	uint64_t cause[ATTRIB_CAUSES];
};

/* the encoding's bitmask of non-zero sums has a bit for each */
_Static_assert(ATTRIB_PHASES + ATTRIB_CAUSES <= 64, "bsum wider than its mask");

struct bands {
	struct hist h;
	struct bsum *blk[HIST_EXPONENTS]; /* per power of two, HIST_SUB_BUCKETS each, lazily */
	struct topn slow;		  /* struct slow_request by latency */
	struct strtab keys;
	struct strtab stacks; /* texts of decoded requests' stacks: their ids */
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
	    strtab_init(&b->keys, BAND_KEYS_MAX) || strtab_init(&b->stacks, BAND_KEYS_MAX)) {
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
	strtab_free(&b->stacks);
	free(b);
}

int bands_reset(struct bands *b)
{
	hist_init(&b->h);
	for (int i = 0; i < HIST_EXPONENTS; i++)
		if (b->blk[i])
			memset(b->blk[i], 0, HIST_SUB_BUCKETS * sizeof(struct bsum));
	topn_clear(&b->slow);
	b->no_wire = 0;
	strtab_free(&b->keys);
	strtab_free(&b->stacks);
	if (strtab_init(&b->keys, BAND_KEYS_MAX) || strtab_init(&b->stacks, BAND_KEYS_MAX))
		return -ENOMEM;
	return 0;
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

/* "topic-partition" as "%s-%d" prints it, into key (KLT_TOPIC_NAME_MAX +
 * 16 bytes): snprintf was half of keeping a slow request (design.md,
 * kafkalat's own CPU). */
static void put_partition_key(char *key, const char *topic, int32_t partition)
{
	size_t n = strnlen(topic, KLT_TOPIC_NAME_MAX);
	uint32_t v = partition < 0 ? 0u - (uint32_t)partition : (uint32_t)partition;
	char digits[10];
	int nd = 0;

	memcpy(key, topic, n);
	key[n++] = '-';
	if (partition < 0)
		key[n++] = '-';
	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (nd)
		key[n++] = digits[--nd];
	key[n] = '\0';
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
	put_partition_key(key, r->topics[best->topic_idx].name, best->partition);
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

/* Most requests are not kept: topn_wants says so before any copying. The
 * slot topn_put gives is zeroed, and filled in place. */
static void keep_slow(struct bands *b, const struct corr_request *r,
		      const struct attrib_result *res)
{
	uint64_t latency = (uint64_t)res->latency_ns;
	int64_t sum[ATTRIB_CAUSES] = {0};
	struct slow_request *s;

	if (!topn_wants(&b->slow, latency))
		return;
	s = topn_put(&b->slow, latency);
	s->latency = latency;
	s->t_arrival = r->t_arrival;
	s->t_sent = r->t_sent;
	s->nstacks = res->nstacks;
	s->flow_ns = r->flow_blocked_ns;
	set_keys(b, r, res, s);
	memcpy(s->stacks, res->stacks, sizeof(s->stacks));
	memcpy(s->phase_ns, res->phase_ns, sizeof(s->phase_ns));
	memcpy(s->root_ns, res->root_ns, sizeof(s->root_ns));
	s->release_replica = res->released ? res->release_replica : -1;
	s->release_tgid = res->release_tgid;
	memcpy(s->follower_ns, res->follower_ns, sizeof(s->follower_ns));
	for (int p = 0; p < ATTRIB_PHASES; p++)
		for (int c = 0; c < ATTRIB_CAUSES; c++)
			sum[c] += res->cause_ns[p][c];
	memcpy(s->cause_ns, sum, sizeof(sum));
	if (b->keep_fn)
		b->keep_fn(b->keep_ctx, s);
}

/* The sums of a bucket, made on first use. */
static struct bsum *bucket_sums(struct bands *b, unsigned int bucket)
{
	unsigned int e = bucket / HIST_SUB_BUCKETS;

	if (!b->blk[e] && !(b->blk[e] = calloc(HIST_SUB_BUCKETS, sizeof(struct bsum))))
		return NULL;
	return &b->blk[e][bucket % HIST_SUB_BUCKETS];
}

static uint64_t share(int64_t ns, double lat)
{
	return ns > 0 ? (uint64_t)llround((double)ns / lat * BSUM_ONE) : 0;
}

int bands_add(struct bands *b, const struct corr_request *r, const struct attrib_result *res)
{
	struct bsum *s;
	double lat;

	if (res->unmatched != ATTRIB_MATCHED || res->latency_ns < 0)
		return 0;
	/* without wire times the latency would be a lower bound: not a sample */
	if (!res->wire_known) {
		b->no_wire++;
		return 0;
	}
	s = bucket_sums(b, hist_bucket_of((uint64_t)res->latency_ns));
	if (!s)
		return -ENOMEM;
	hist_record(&b->h, (uint64_t)res->latency_ns);
	lat = res->latency_ns > 0 ? (double)res->latency_ns : 1.0;
	for (int p = 0; p < ATTRIB_PHASES; p++) {
		s->phase[p] += share(res->phase_ns[p], lat);
		for (int c = 0; c < ATTRIB_CAUSES; c++)
			if (res->cause_ns[p][c] > 0) /* most cells are empty */
				s->cause[c] += share(res->cause_ns[p][c], lat);
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
		out->phase_pct[p] += (double)s->phase[p] / BSUM_ONE;
	for (int c = 0; c < ATTRIB_CAUSES; c++)
		out->cause_pct[c] += (double)s->cause[c] / BSUM_ONE;
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

/* Replication time by releasing follower, over a band's kept requests. */
struct releaser {
	int32_t replica;
	uint32_t tgid;
	int64_t ns;
	int64_t append_ns[ATTRIB_CAUSES];
};

#define RELEASERS 16

static void add_release(const struct slow_request *s, struct releaser *r, uint32_t *n)
{
	uint32_t i;

	if (s->release_replica < 0)
		return;
	for (i = 0; i < *n && r[i].replica != s->release_replica; i++)
		;
	if (i == *n) {
		if (*n == RELEASERS)
			return;
		r[(*n)++] = (struct releaser){.replica = s->release_replica};
	}
	if (s->release_tgid)
		r[i].tgid = s->release_tgid;
	r[i].ns += s->phase_ns[ATTRIB_REPLICATION];
	for (int c = 0; c < ATTRIB_CAUSES; c++)
		r[i].append_ns[c] += s->follower_ns[c];
}

static void take_releaser(const struct releaser *r, uint32_t n, double total, struct band_time *out)
{
	const struct releaser *top = NULL;

	out->release_replica = -1;
	for (uint32_t i = 0; i < n; i++)
		if (!top || r[i].ns > top->ns)
			top = &r[i];
	if (!top || total <= 0)
		return;
	out->release_replica = top->replica;
	out->release_tgid = top->tgid;
	out->release_pct = (double)top->ns * 100.0 / total;
	for (int c = 0; c < ATTRIB_CAUSES; c++)
		out->release_append_pct[c] = (double)top->append_ns[c] * 100.0 / total;
}

void bands_time(const struct bands *b, enum band band, struct band_time *out)
{
	struct band_summary sum[BANDS];
	struct releaser rel[RELEASERS];
	uint32_t nrel = 0;
	double total;

	memset(out, 0, sizeof(*out));
	out->release_replica = -1;
	if (band != BAND_GE_P99 && band != BAND_GE_P999)
		return;
	bands_summary(b, sum);
	if (!sum[band].requests)
		return;
	for (uint32_t i = 0; i < b->slow.n; i++)
		if (bands_kept_at(b, i)->latency >= sum[band].lo_ns) {
			add_time(bands_kept_at(b, i), out);
			add_release(bands_kept_at(b, i), rel, &nrel);
		}
	out->complete = out->requests == sum[band].requests;
	total = (double)out->total_ns;
	take_releaser(rel, nrel, total, out);
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

const char *bands_key_text(const struct bands *b, uint32_t key)
{
	return strtab_str(&b->keys, key);
}

const char *bands_stack_text(const struct bands *b, int32_t stack_id)
{
	return stack_id > 0 ? strtab_str(&b->stacks, (uint32_t)stack_id) : "";
}

/* ---- encoding (recording trailers) ---- */

enum {
	BT_HIST = 1, /* the latency histogram (hist_encode) */
	BT_SUMS = 2, /* per non-empty bucket, in order: a mask, the non-zero sums */
	BT_NO_WIRE = 3,
	BT_SLOW = 4, /* a kept request (group) */
	/* u64 ATTRIB_PHASES, before the sums: absent, the writer's layout is
	 * ATTRIB_PHASES_V1 phases and ATTRIB_CAUSES_V1 causes (attrib.h) */
	BT_PHASES = 5,
	/* in BT_SLOW */
	BS_LATENCY = 1,
	BS_TIMES = 2,  /* t_arrival, t_sent */
	BS_PHASES = 3, /* packed zigzag varints */
	BS_CAUSES = 4,
	BS_ROOTS = 5,
	BS_STACK = 6,	  /* group: text, phase, cause, ns */
	BS_BLOCK = 7,	  /* nblock, block_longest_ns, block_dev */
	BS_KEY = 8,	  /* group: kind, text */
	BS_TOP_STACK = 9, /* text, then stack_ns */
	BS_FLOW = 10,
	BSS_TEXT = 1,
	BSS_PHASE = 2,
	BSS_CAUSE = 3,
	BSS_NS = 4,
	BSK_KIND = 1,
	BSK_TEXT = 2,
	BST_NS = 2,
};

static void encode_sums(const struct bands *b, struct tlv_buf *t)
{
	size_t g = tlv_begin(t, BT_SUMS);

	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		const struct bsum *s;
		uint64_t mask = 0, v[ATTRIB_PHASES + ATTRIB_CAUSES];

		if (!b->h.buckets[i])
			continue;
		s = &b->blk[i / HIST_SUB_BUCKETS][i % HIST_SUB_BUCKETS];
		memcpy(v, s->phase, sizeof(s->phase));
		memcpy(v + ATTRIB_PHASES, s->cause, sizeof(s->cause));
		for (int k = 0; k < ATTRIB_PHASES + ATTRIB_CAUSES; k++)
			mask |= (uint64_t)(v[k] != 0) << k;
		tlv_put_varint(t, mask);
		for (int k = 0; k < ATTRIB_PHASES + ATTRIB_CAUSES; k++)
			if (v[k])
				tlv_put_varint(t, v[k]);
	}
	tlv_end(t, g);
}

static void encode_slow(const struct bands *b, const struct slow_request *s, struct tlv_buf *t,
			bands_stack_text_fn fn, void *ctx)
{
	size_t g = tlv_begin(t, BT_SLOW), k;
	char text[1024];
	int64_t times[2] = {(int64_t)s->t_arrival, (int64_t)s->t_sent};
	int64_t block[3] = {(int64_t)s->nblock, (int64_t)s->block_longest_ns, s->block_dev};

	tlv_u64(t, BS_LATENCY, s->latency);
	tlv_i64s(t, BS_TIMES, times, 2);
	tlv_i64s(t, BS_PHASES, s->phase_ns, ATTRIB_PHASES);
	tlv_i64s(t, BS_CAUSES, s->cause_ns, ATTRIB_CAUSES);
	tlv_i64s(t, BS_ROOTS, s->root_ns, ATTRIB_CAUSES);
	for (uint32_t i = 0; i < s->nstacks && i < ATTRIB_STACKS; i++) {
		k = tlv_begin(t, BS_STACK);
		text[0] = '\0';
		if (fn)
			fn(ctx, s->stacks[i].stack_id, text, sizeof(text));
		tlv_str(t, BSS_TEXT, text);
		tlv_u64(t, BSS_PHASE, s->stacks[i].phase);
		tlv_u64(t, BSS_CAUSE, s->stacks[i].cause);
		tlv_i64(t, BSS_NS, s->stacks[i].ns);
		tlv_end(t, k);
	}
	tlv_i64s(t, BS_BLOCK, block, 3);
	for (unsigned int kind = 0; kind < BAND_TOPS; kind++) {
		if (!s->key[kind])
			continue;
		k = tlv_begin(t, BS_KEY);
		tlv_u64(t, BSK_KIND, kind);
		tlv_str(t, BSK_TEXT, strtab_str(&b->keys, s->key[kind]));
		tlv_end(t, k);
	}
	if (s->stack_id != -1) {
		k = tlv_begin(t, BS_TOP_STACK);
		text[0] = '\0';
		if (fn)
			fn(ctx, s->stack_id, text, sizeof(text));
		tlv_str(t, BSS_TEXT, text);
		tlv_i64(t, BST_NS, s->stack_ns);
		tlv_end(t, k);
	}
	tlv_u64(t, BS_FLOW, s->flow_ns);
	tlv_end(t, g);
}

int bands_encode(const struct bands *b, struct tlv_buf *t, bands_stack_text_fn fn, void *ctx)
{
	size_t need = hist_encode(&b->h, NULL, 0);
	uint8_t *hbuf = malloc(need ? need : 1);

	if (!hbuf)
		return -ENOMEM;
	hist_encode(&b->h, hbuf, need);
	tlv_bytes(t, BT_HIST, hbuf, need);
	free(hbuf);
	tlv_u64(t, BT_PHASES, ATTRIB_PHASES);
	encode_sums(b, t);
	tlv_u64(t, BT_NO_WIRE, b->no_wire);
	for (uint32_t i = 0; i < b->slow.n; i++)
		encode_slow(b, topn_heap_at(&b->slow, i), t, fn, ctx);
	return t->err;
}

/* ---- decoding and merging ---- */

/* How the encoded bands being merged lay their phases and causes out. */
struct layout {
	unsigned int phases, causes;
};

static const struct layout layout_v1 = {ATTRIB_PHASES_V1, ATTRIB_CAUSES_V1};

static int merge_sums(struct bands *b, const struct hist *h, const struct tlv_cur *val,
		      const struct layout *l)
{
	struct tlv_cur c = *val;

	for (unsigned int i = 0; i < HIST_BUCKETS; i++) {
		uint64_t mask, v;
		struct bsum *s;

		if (!h->buckets[i])
			continue;
		if (tlv_get_varint(&c, &mask) || mask >> (l->phases + l->causes))
			return -EINVAL;
		s = bucket_sums(b, i);
		if (!s)
			return -ENOMEM;
		for (unsigned int k = 0; k < l->phases + l->causes; k++) {
			if (!(mask >> k & 1))
				continue;
			if (tlv_get_varint(&c, &v) || !v)
				return -EINVAL;
			if (k < l->phases)
				s->phase[rf_phase(k, l->phases)] += v;
			else
				s->cause[k - l->phases] += v;
		}
	}
	return tlv_cur_done(&c) ? 0 : -EINVAL;
}

/* A string field's text interned; 0 for "". */
static int intern_field(struct strtab *tab, const struct tlv_cur *val, uint32_t *idx)
{
	char *s;
	int err = tlv_get_str(val, &s);

	if (err)
		return err;
	*idx = strtab_intern(tab, s);
	free(s);
	return 0;
}

static int decode_stack(struct bands *b, const struct tlv_cur *val, struct attrib_stack *st,
			const struct layout *l)
{
	struct tlv_cur c = *val, v;
	uint64_t u;
	uint32_t tag, id = 0;
	int r, err = 0;

	st->stack_id = -1;
	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == BSS_TEXT)
			err = intern_field(&b->stacks, &v, &id);
		else if (tag == BSS_PHASE || tag == BSS_CAUSE)
			err = tlv_get_u64(&v, &u)				? -EINVAL
			      : u >= (tag == BSS_PHASE ? l->phases : CAUSE_MAX) ? -EINVAL
										: 0;
		else if (tag == BSS_NS)
			err = tlv_get_i64(&v, &st->ns);
		if (!err && tag == BSS_PHASE)
			st->phase = (uint8_t)rf_phase(u, l->phases);
		if (!err && tag == BSS_CAUSE)
			st->cause = (uint8_t)u;
	}
	if (id)
		st->stack_id = (int32_t)id;
	return err ? err : r;
}

static int decode_key(struct bands *b, const struct tlv_cur *val, struct slow_request *s)
{
	struct tlv_cur c = *val, v;
	uint64_t kind = BAND_TOPS;
	uint32_t tag, idx = 0;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == BSK_KIND)
			err = tlv_get_u64(&v, &kind);
		else if (tag == BSK_TEXT)
			err = intern_field(&b->keys, &v, &idx);
	}
	if (err || r)
		return err ? err : r;
	if (kind >= BAND_TOPS)
		return -EINVAL;
	s->key[kind] = idx;
	return 0;
}

static int decode_top_stack(struct bands *b, const struct tlv_cur *val, struct slow_request *s)
{
	struct tlv_cur c = *val, v;
	uint32_t tag, id = 0;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == BSS_TEXT)
			err = intern_field(&b->stacks, &v, &id);
		else if (tag == BST_NS)
			err = tlv_get_i64(&v, &s->stack_ns);
	}
	s->stack_id = id ? (int32_t)id : -1;
	return err ? err : r;
}

static int slow_field(struct bands *b, uint32_t tag, const struct tlv_cur *v,
		      struct slow_request *s, const struct layout *l)
{
	int64_t pair[3];
	int err;

	switch (tag) {
	case BS_LATENCY:
		return tlv_get_u64(v, &s->latency);
	case BS_TIMES:
		err = tlv_get_i64s(v, pair, 2);
		s->t_arrival = (uint64_t)pair[0];
		s->t_sent = (uint64_t)pair[1];
		return err;
	case BS_PHASES:
		return rf_get_phases_i64(v, s->phase_ns);
	case BS_CAUSES:
		return rf_get_causes_i64(v, s->cause_ns);
	case BS_ROOTS:
		return rf_get_causes_i64(v, s->root_ns);
	case BS_STACK:
		if (s->nstacks >= ATTRIB_STACKS)
			return -EINVAL;
		return decode_stack(b, v, &s->stacks[s->nstacks++], l);
	case BS_BLOCK:
		err = tlv_get_i64s(v, pair, 3);
		s->nblock = (uint64_t)pair[0];
		s->block_longest_ns = (uint64_t)pair[1];
		s->block_dev = (uint32_t)pair[2];
		return err;
	case BS_KEY:
		return decode_key(b, v, s);
	case BS_TOP_STACK:
		return decode_top_stack(b, v, s);
	case BS_FLOW:
		return tlv_get_u64(v, &s->flow_ns);
	default:
		return 0; /* a later writer's field */
	}
}

static int merge_slow(struct bands *b, const struct tlv_cur *val, const struct layout *l)
{
	struct slow_request s = {.stack_id = -1, .release_replica = -1};
	struct tlv_cur c = *val, v;
	uint32_t tag;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1)
		err = slow_field(b, tag, &v, &s, l);
	if (err || r)
		return err ? err : r;
	if (topn_wants(&b->slow, s.latency))
		*(struct slow_request *)topn_put(&b->slow, s.latency) = s;
	return 0;
}

static int merge_field(struct bands *b, uint32_t tag, const struct tlv_cur *v, struct hist **h,
		       struct layout *l)
{
	uint64_t n;

	switch (tag) {
	case BT_HIST:
		if (*h)
			return -EINVAL;
		*h = malloc(sizeof(**h));
		if (!*h)
			return -ENOMEM;
		return hist_decode(*h, v->p, tlv_cur_len(v));
	case BT_PHASES:
		if (tlv_get_u64(v, &n) || n != ATTRIB_PHASES)
			return -EINVAL;
		*l = (struct layout){ATTRIB_PHASES, ATTRIB_CAUSES};
		return 0;
	case BT_SUMS:
		return *h ? merge_sums(b, *h, v, l) : -EINVAL;
	case BT_NO_WIRE:
		if (tlv_get_u64(v, &n))
			return -EINVAL;
		b->no_wire += n;
		return 0;
	case BT_SLOW:
		return merge_slow(b, v, l);
	default:
		return 0;
	}
}

int bands_merge_encoded(struct bands *b, const void *buf, size_t len)
{
	struct tlv_cur c, v;
	struct hist *h = NULL;
	struct layout l = layout_v1;
	uint32_t tag;
	int r, err = 0;

	tlv_cur_init(&c, buf, len);
	while (!err && (r = tlv_next(&c, &tag, &v)) == 1)
		err = merge_field(b, tag, &v, &h, &l);
	if (!err && r)
		err = r;
	if (!err && !h)
		err = -EINVAL;
	if (!err)
		hist_merge(&b->h, h);
	free(h);
	return err;
}
