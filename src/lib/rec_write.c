// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Writing a recording as a run goes: see include/kafkalat/recording.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/grow.h"
#include "kafkalat/rec_fields.h"
#include "kafkalat/recording.h"
#include "kafkalat/strtab.h"
#include "kafkalat/tlv.h"

/* The phase and cause histograms of an interval, and its own bands. */
#define IV_HISTS (ATTRIB_PHASES + ATTRIB_CAUSES)

struct rec_writer {
	struct recfile_writer *f;
	struct tlv_buf t;
	uint8_t *hbuf;	     /* HIST_ENCODED_MAX */
	struct hist *coarse; /* a histogram as it goes out: at REC_LOWEST_NS */
	uint32_t slowest;
	rec_stack_text_fn stack_text;
	void *stack_ctx;
	struct hist *h[IV_HISTS]; /* allocated on first use */
	struct bands *bands;	  /* the interval's; NULL while none attributed */
	uint64_t attributed;
	uint64_t *commits; /* (dev, t_start, t_end) monotonic, of the interval */
	size_t ncommits, cap_commits;
	uint64_t commits_more;
	bool following; /* --follow: each interval says its gap */
	uint64_t gap_ns;
	int err;
};

int rec_writer_new(struct rec_writer **out, struct recfile_writer *f, uint32_t slowest,
		   rec_stack_text_fn stack_text, void *stack_ctx)
{
	struct rec_writer *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->hbuf = malloc(HIST_ENCODED_MAX);
	w->coarse = malloc(sizeof(*w->coarse));
	if (!w->hbuf || !w->coarse) {
		free(w->hbuf);
		free(w->coarse);
		free(w);
		return -ENOMEM;
	}
	tlv_init(&w->t);
	w->f = f;
	w->slowest = slowest;
	w->stack_text = stack_text;
	w->stack_ctx = stack_ctx;
	*out = w;
	return 0;
}

static int append(struct rec_writer *w, enum rec_type type)
{
	if (!w->err && w->t.err)
		w->err = w->t.err;
	if (!w->err)
		w->err = recfile_append(w->f, type, w->t.p, w->t.len);
	tlv_reset(&w->t);
	return w->err;
}

int rec_writer_meta(struct rec_writer *w, const struct rec_kv *kv, uint32_t n)
{
	tlv_u64(&w->t, RF_META_SCHEMA, REC_SCHEMA);
	for (uint32_t i = 0; i < n; i++) {
		size_t g = tlv_begin(&w->t, RF_META_KV);

		tlv_str(&w->t, RF_KV_KEY, kv[i].key);
		tlv_str(&w->t, RF_KV_VALUE, kv[i].value);
		tlv_end(&w->t, g);
	}
	return append(w, REC_TYPE_META);
}

static int record_hist(struct rec_writer *w, unsigned int i, int64_t ns)
{
	if (!w->h[i]) {
		w->h[i] = malloc(sizeof(struct hist));
		if (!w->h[i])
			return -ENOMEM;
		hist_init(w->h[i]);
	}
	hist_record(w->h[i], ns > 0 ? (uint64_t)ns : 0);
	return 0;
}

int rec_writer_attributed(struct rec_writer *w, const struct corr_request *r,
			  const struct attrib_result *res)
{
	int64_t cause[ATTRIB_CAUSES] = {0};
	int err = 0;

	if (w->err || res->unmatched != ATTRIB_MATCHED)
		return w->err;
	w->attributed++;
	for (int p = 0; p < ATTRIB_PHASES; p++) {
		err |= record_hist(w, (unsigned)p, res->phase_ns[p]);
		for (int c = 0; c < ATTRIB_CAUSES; c++)
			cause[c] += res->cause_ns[p][c];
	}
	for (int c = 0; c < ATTRIB_CAUSES; c++)
		if (cause[c] > 0)
			err |= record_hist(w, ATTRIB_PHASES + (unsigned)c, cause[c]);
	if (!w->bands && !(w->bands = bands_new(w->slowest ? w->slowest : 1)))
		err = -ENOMEM;
	if (!err)
		err = bands_add(w->bands, r, res);
	if (err)
		w->err = -ENOMEM;
	return w->err;
}

int rec_writer_commit(struct rec_writer *w, uint32_t dev, uint64_t t_start, uint64_t t_end)
{
	if (w->ncommits / 3 >= REC_MAX_COMMITS) {
		w->commits_more++;
		return 0;
	}
	if (grow_array((void **)&w->commits, &w->cap_commits, w->ncommits + 3, sizeof(uint64_t),
		       3 * REC_MAX_COMMITS)) {
		w->commits_more++;
		return 0;
	}
	w->commits[w->ncommits++] = dev;
	w->commits[w->ncommits++] = t_start;
	w->commits[w->ncommits++] = t_end;
	return 0;
}

static void put_hist(struct rec_writer *w, uint32_t tag, const struct hist *h)
{
	*w->coarse = *h;
	hist_coarsen(w->coarse, REC_LOWEST_NS);
	tlv_bytes(&w->t, tag, w->hbuf, hist_encode(w->coarse, w->hbuf, HIST_ENCODED_MAX));
}

static void put_metric(struct rec_writer *w, unsigned int m, const struct hist *h)
{
	char name[64];
	size_t g;

	if (!h || hist_empty(h))
		return;
	g = tlv_begin(&w->t, RF_IV_METRIC);
	tlv_str(&w->t, RF_M_ID, rec_metric_name(m, name, sizeof(name)));
	put_hist(w, RF_M_HIST, h);
	tlv_end(&w->t, g);
}

static void put_agg(struct rec_writer *w, const struct agg *a)
{
	size_t g = tlv_begin(&w->t, RF_IV_AGG), k;

	tlv_u64s(&w->t, RF_AGG_REQUESTS, a->requests, AGG_MAX_API);
	tlv_u64s(&w->t, RF_AGG_WIRE_UNKNOWN, a->wire_unknown, AGG_MAX_API);
	for (unsigned int which = 0; which < AGG_HISTS; which++)
		for (unsigned int api = 0; api < AGG_MAX_API; api++) {
			if (!a->h[which][api] || hist_empty(a->h[which][api]))
				continue;
			k = tlv_begin(&w->t, RF_AGG_HIST);
			tlv_u64(&w->t, RF_AH_WHICH, which);
			tlv_u64(&w->t, RF_AH_API, api);
			put_hist(w, RF_M_HIST, a->h[which][api]);
			tlv_end(&w->t, k);
		}
	tlv_u64s(&w->t, RF_AGG_PRODUCE_WIRE, a->produce_wire_unknown, CORR_WIRE_MAX);
	tlv_u64(&w->t, RF_AGG_ACKS0, a->produce_acks0);
	tlv_u64(&w->t, RF_AGG_BYTES, a->produce_bytes);
	tlv_u64(&w->t, RF_AGG_RECORDS, a->produce_records);
	if (a->flow && !hist_empty(a->flow))
		put_hist(w, RF_AGG_FLOW, a->flow);
	tlv_u64(&w->t, RF_AGG_FLOW_TOTAL, a->flow_total_ns);
	tlv_end(&w->t, g);
}

static void put_bands(struct rec_writer *w)
{
	struct band_summary sum[BANDS];
	struct band_time bt;
	uint64_t flow[3];
	size_t g;

	bands_summary(w->bands, sum);
	for (unsigned int b = 0; b < BANDS; b++) {
		g = tlv_begin(&w->t, RF_IV_BAND);
		tlv_u64(&w->t, RF_BAND_INDEX, b);
		tlv_u64(&w->t, RF_BAND_REQUESTS, sum[b].requests);
		tlv_u64(&w->t, RF_BAND_LO, sum[b].lo_ns);
		tlv_u64(&w->t, RF_BAND_HI, sum[b].hi_ns);
		tlv_f64s(&w->t, RF_BAND_PHASES, sum[b].phase_pct, ATTRIB_PHASES);
		tlv_f64s(&w->t, RF_BAND_CAUSES, sum[b].cause_pct, ATTRIB_CAUSES);
		tlv_end(&w->t, g);
	}
	bands_time(w->bands, BAND_GE_P99, &bt);
	g = tlv_begin(&w->t, RF_IV_TIME);
	tlv_u64(&w->t, RF_TIME_REQUESTS, bt.requests);
	tlv_u64(&w->t, RF_TIME_COMPLETE, bt.complete);
	tlv_u64(&w->t, RF_TIME_TOTAL, bt.total_ns);
	tlv_f64s(&w->t, RF_TIME_PHASES, bt.phase_pct, ATTRIB_PHASES);
	tlv_f64s(&w->t, RF_TIME_CAUSES, bt.cause_pct, ATTRIB_CAUSES);
	tlv_f64s(&w->t, RF_TIME_ROOTS, bt.root_pct, ATTRIB_CAUSES);
	tlv_f64s(&w->t, RF_TIME_HOL, bt.hol_pct, ATTRIB_CAUSES);
	flow[0] = bt.flow_requests;
	flow[1] = bt.flow_total_ns;
	flow[2] = bt.flow_max_ns;
	tlv_u64s(&w->t, RF_TIME_FLOW, flow, 3);
	tlv_end(&w->t, g);
}

static void put_tops(struct rec_writer *w)
{
	struct band_top top[REC_TOPS];

	for (unsigned int kind = 0; kind < 2; kind++) {
		size_t n = bands_top(w->bands, kind ? BAND_TOP_CLIENT : BAND_TOP_PARTITION, top,
				     REC_TOPS, NULL);

		for (size_t i = 0; i < n; i++) {
			size_t g = tlv_begin(&w->t, RF_IV_TOP);

			tlv_u64(&w->t, RF_TOP_KIND, kind);
			tlv_str(&w->t, RF_TOP_KEY, top[i].key);
			tlv_u64(&w->t, RF_TOP_REQUESTS, top[i].requests);
			tlv_u64(&w->t, RF_TOP_TOTAL, top[i].total_ns);
			tlv_end(&w->t, g);
		}
	}
}

static int by_latency_desc(const void *x, const void *y)
{
	const struct slow_request *a = *(const struct slow_request *const *)x;
	const struct slow_request *b = *(const struct slow_request *const *)y;

	return a->latency != b->latency ? (a->latency > b->latency ? -1 : 1) : 0;
}

static void put_one_slow(struct rec_writer *w, const struct slow_request *s, int64_t wall_offset)
{
	char stack[1024] = "";
	size_t g = tlv_begin(&w->t, RF_IV_SLOW);

	tlv_i64(&w->t, RF_SLOW_ARRIVAL, (int64_t)s->t_arrival + wall_offset);
	tlv_u64(&w->t, RF_SLOW_LATENCY, s->latency);
	tlv_u64(&w->t, RF_SLOW_FLOW, s->flow_ns);
	tlv_i64s(&w->t, RF_SLOW_PHASES, s->phase_ns, ATTRIB_PHASES);
	tlv_i64s(&w->t, RF_SLOW_CAUSES, s->cause_ns, ATTRIB_CAUSES);
	tlv_i64s(&w->t, RF_SLOW_ROOTS, s->root_ns, ATTRIB_CAUSES);
	tlv_str(&w->t, RF_SLOW_PARTITION, bands_key_text(w->bands, s->key[BAND_TOP_PARTITION]));
	tlv_str(&w->t, RF_SLOW_CLIENT, bands_key_text(w->bands, s->key[BAND_TOP_CLIENT]));
	if (s->stack_id != -1 && w->stack_text)
		w->stack_text(w->stack_ctx, s->stack_id, stack, sizeof(stack));
	tlv_str(&w->t, RF_SLOW_STACK, stack);
	tlv_end(&w->t, g);
}

static int put_slow(struct rec_writer *w, int64_t wall_offset)
{
	uint32_t n = bands_kept(w->bands);
	const struct slow_request **v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		v[i] = bands_kept_at(w->bands, i);
	qsort(v, n, sizeof(*v), by_latency_desc);
	for (uint32_t i = 0; i < n && i < w->slowest; i++)
		put_one_slow(w, v[i], wall_offset);
	free(v);
	return 0;
}

static void put_commits(struct rec_writer *w, int64_t wall_offset)
{
	for (size_t i = 0; i < w->ncommits; i += 3) {
		int64_t v[3] = {(int64_t)w->commits[i + 1] + wall_offset,
				(int64_t)(w->commits[i + 2] - w->commits[i + 1]),
				(int64_t)w->commits[i]};

		tlv_i64s(&w->t, RF_IV_COMMIT, v, 3);
	}
	if (w->commits_more)
		tlv_u64(&w->t, RF_IV_COMMITS_MORE, w->commits_more);
}

/* What the interval gathered goes; the next starts empty. */
static void reset_interval(struct rec_writer *w)
{
	for (unsigned int i = 0; i < IV_HISTS; i++)
		if (w->h[i])
			hist_init(w->h[i]);
	if (w->bands && bands_reset(w->bands) && !w->err)
		w->err = -ENOMEM;
	w->attributed = 0;
	w->ncommits = 0;
	w->commits_more = 0;
}

static uint64_t sum_u64(const uint64_t *v, int n)
{
	uint64_t s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s;
}

int rec_writer_interval(struct rec_writer *w, const struct agg *iv, int64_t t_start_ns,
			int64_t t_end_ns, const struct report_loss *loss, int64_t wall_offset_ns)
{
	if (w->err)
		return w->err;
	tlv_i64(&w->t, RF_IV_START, t_start_ns);
	tlv_i64(&w->t, RF_IV_END, t_end_ns);
	put_agg(w, iv);
	for (unsigned int i = 0; i < IV_HISTS; i++)
		put_metric(w, REC_M_PHASE + i, w->h[i]);
	if (w->attributed) {
		put_bands(w);
		put_tops(w);
		if (put_slow(w, wall_offset_ns))
			w->err = -ENOMEM;
	}
	put_commits(w, wall_offset_ns);
	tlv_u64(&w->t, RF_IV_LOST,
		sum_u64(loss->socket, KLT_LOST_KINDS) + sum_u64(loss->causes, 16));
	tlv_u64s(&w->t, RF_IV_LOSS, (const uint64_t *)loss, sizeof(*loss) / 8);
	tlv_u64(&w->t, RF_IV_ATTRIBUTED, w->attributed);
	if (w->following)
		tlv_u64(&w->t, RF_IV_GAP, w->gap_ns);
	w->gap_ns = 0;
	reset_interval(w);
	return append(w, REC_TYPE_INTERVAL);
}

void rec_writer_gap(struct rec_writer *w, uint64_t gap_ns)
{
	w->following = true;
	w->gap_ns = gap_ns;
}

static void put_lives(struct rec_writer *w, const struct lives *l, int64_t wall_offset_ns)
{
	for (size_t i = 0; l && i < l->n; i++) {
		const struct life *x = &l->v[i];
		uint64_t pids[KLT_MAX_BROKERS],
		    counts[4] = {x->requests, x->produce, x->records, x->exit_unmatched};
		size_t g = tlv_begin(&w->t, RF_TR_LIFE);

		for (int k = 0; k < x->npids; k++)
			pids[k] = (uint64_t)x->pids[k];
		tlv_u64s(&w->t, RF_LIFE_PIDS, pids, (size_t)x->npids);
		tlv_i64(&w->t, RF_LIFE_START, x->t_start + wall_offset_ns);
		if (x->t_end)
			tlv_i64(&w->t, RF_LIFE_END, x->t_end + wall_offset_ns);
		tlv_u64s(&w->t, RF_LIFE_COUNTS, counts, 4);
		if (x->broker)
			tlv_u64(&w->t, RF_LIFE_BROKER, (uint64_t)x->broker);
		tlv_end(&w->t, g);
	}
}

static void put_cost(struct rec_writer *w, const struct report_cost *c)
{
	size_t g = tlv_begin(&w->t, RF_TR_COST);

	tlv_f64(&w->t, RF_COST_CPU, c->cpu_s);
	tlv_u64(&w->t, RF_COST_BPF_COUNTED, c->bpf_counted);
	tlv_u64(&w->t, RF_COST_BPF_NS, c->bpf_ns);
	tlv_u64(&w->t, RF_COST_BPF_RUNS, c->bpf_runs);
	tlv_end(&w->t, g);
}

/* Structs of u64 counters go whole, field by field: merging adds them. */
#define PUT_COUNTERS(w, tag, s) tlv_u64s(&(w)->t, tag, (const uint64_t *)(s), sizeof(*(s)) / 8)

static void put_journal(struct rec_writer *w, const struct journal_overlap *j)
{
	uint64_t v[8] = {j->requests,
			 j->commits,
			 j->commit_longest_ns,
			 j->commit_dev,
			 j->requests_with_commit,
			 j->block_ios,
			 j->block_longest_ns,
			 j->block_dev};

	tlv_u64s(&w->t, RF_TR_JOURNAL, v, 8);
}

static void stack_text_bands(void *ctx, int32_t stack_id, char *buf, size_t len)
{
	struct rec_writer *w = ctx;

	buf[0] = '\0';
	if (w->stack_text)
		w->stack_text(w->stack_ctx, stack_id, buf, len);
}

int rec_writer_trailer(struct rec_writer *w, const struct rec_trailer_in *in)
{
	size_t g;

	if (w->err)
		return w->err;
	tlv_u64(&w->t, RF_TR_CAUSES, in->bands != NULL);
	if (in->bands) {
		g = tlv_begin(&w->t, RF_TR_BANDS);
		if (bands_encode(in->bands, &w->t, stack_text_bands, w))
			w->err = -ENOMEM;
		tlv_end(&w->t, g);
	}
	if (in->folded)
		tlv_bytes(&w->t, RF_TR_FOLDED, in->folded, in->folded_len);
	PUT_COUNTERS(w, RF_TR_COUNTS, in->counts);
	PUT_COUNTERS(w, RF_TR_KERNEL, in->kernel);
	PUT_COUNTERS(w, RF_TR_LOST, in->lost);
	if (in->tail) {
		PUT_COUNTERS(w, RF_TR_ATTRIB, &in->tail->attrib);
		PUT_COUNTERS(w, RF_TR_EXPLAIN, &in->tail->stats);
		put_journal(w, &in->tail->journal);
		tlv_str(&w->t, RF_TR_FILE_EVENTS, in->tail->file_events);
	}
	put_cost(w, in->cost);
	put_lives(w, in->lives, in->lives_wall_offset_ns);
	tlv_f64(&w->t, RF_TR_DURATION, in->duration_s);
	return append(w, REC_TYPE_TRAILER);
}

int rec_writer_close(struct rec_writer *w)
{
	int err, cerr;

	if (!w)
		return 0;
	err = w->err;
	cerr = recfile_close(w->f);
	reset_interval(w);
	bands_free(w->bands);
	for (unsigned int i = 0; i < IV_HISTS; i++)
		free(w->h[i]);
	free(w->commits);
	free(w->hbuf);
	free(w->coarse);
	tlv_free(&w->t);
	free(w);
	return err ? err : cerr;
}
