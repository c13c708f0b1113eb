// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kafkalat compare's statistics (compare.h): samples, the bootstrap, the
 * gates and the verdict. The printers are in compare_out.c.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/attrib.h"
#include "kafkalat/compare.h"
#include "kafkalat/fmt.h"

#define NHIST (1 + ATTRIB_PHASES) /* latency, then each phase */
#define NQ    3

static const double quantiles[NQ] = {0.5, 0.99, 0.999};
static const char *const qnames[NQ] = {"p50", "p99", "p99.9"};

/* One side's samples, as columns: hist[h][i] is sample i's histogram of
 * metric h (NULL: empty). */
struct samples {
	uint32_t n, block;
	const struct hist_sparse **hist[NHIST];
	struct hist_sparse **owned; /* made from runs' dense histograms */
	uint32_t nowned;
	double *share;	  /* [i * ATTRIB_CAUSES + c]: the >= p99 band's cause share, % */
	uint64_t *band;	  /* [i]: the >= p99 band's requests */
	uint32_t *w;	  /* [b * n + i]: resample b's weights */
	uint32_t *starts; /* the blocks' possible starts, NULL: any */
	uint32_t nstarts;
	uint64_t produce; /* over every interval */
	double span_s;
};

struct ctx {
	const struct cmp_side *side;
	const struct cmp_opts *o;
	struct samples s[2];
	struct cmp_result *r;
	double *d; /* boot changes, one row at a time */
};

/* ---- the generator: splitmix64 seeds xoshiro256** (Blackman & Vigna) ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void cmp_rng_seed(struct cmp_rng *g, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t cmp_rng_next(struct cmp_rng *g)
{
	uint64_t *s = g->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Lemire's rejection keeps it unbiased (a plain modulo favours small values). */
uint64_t cmp_rng_below(struct cmp_rng *g, uint64_t n)
{
	uint64_t x, limit;

	if (n <= 1)
		return 0;
	limit = -n % n; /* 2^64 mod n */
	do
		x = cmp_rng_next(g);
	while (x < limit);
	return x % n;
}

/* ---- the moving-block bootstrap ---- */

/*
 * ceil(n^(1/3)): for the variance and the two-sided distribution of a
 * statistic the MSE-optimal block length grows as n^(1/3) (Hall, Horowitz &
 * Jing 1995); with the constant taken as 1, 20 intervals make blocks of 3,
 * 60 of 4: long enough for the few intervals a broker hiccup spans, short
 * enough to leave several blocks to draw from.
 */
uint32_t cmp_block_len(uint32_t n)
{
	uint32_t l = 1;

	while ((uint64_t)l * l * l < n)
		l++;
	return l;
}

uint32_t cmp_blocks(uint32_t n, uint32_t len)
{
	return len ? (n + len - 1) / len : 0;
}

/* Blocks of len consecutive samples from uniform starts: in starts[] when
 * given (blocks then stay within one recording), else in [0, n - len]. Not
 * circular: the ends are drawn a little less often, the usual price. */
void cmp_resample(struct cmp_rng *g, uint32_t n, uint32_t len, const uint32_t *starts,
		  uint32_t nstarts, uint32_t *w)
{
	uint32_t left = n;

	memset(w, 0, n * sizeof(*w));
	if (len > n)
		len = n;
	while (left) {
		uint32_t start = starts && nstarts ? starts[cmp_rng_below(g, nstarts)]
						   : (uint32_t)cmp_rng_below(g, n - len + 1);
		uint32_t take = left < len ? left : len;

		for (uint32_t k = 0; k < take; k++)
			w[start + k]++;
		left -= take;
	}
}

/* ---- the pooled quantile ---- */

/* As hist.c: ceil(q * count), within [1, count]. */
static uint64_t nearest_rank(uint64_t count, double q)
{
	double r = ceil(q * (double)count);

	if (!(r >= 1.0))
		return 1;
	return r >= (double)count ? count : (uint64_t)r;
}

static uint64_t pooled_through(const struct hist_sparse *const *s, const uint32_t *w, uint32_t n,
			       uint64_t value)
{
	uint64_t c = 0;

	for (uint32_t i = 0; i < n; i++)
		if (s[i] && (!w || w[i]))
			c += (w ? w[i] : 1) * hist_sparse_count_through(s[i], value);
	return c;
}

/*
 * The pooled histogram is never built: the answer is the lowest bucket
 * whose count through it, summed over the samples, reaches the rank, found
 * by binary search between the buckets of the pooled min and max (a dozen
 * steps of one count_through per sample, where a dense merge would walk
 * every one of HIST_BUCKETS per sample).
 */
uint64_t cmp_pooled_quantile(const struct hist_sparse *const *s, const uint32_t *w, uint32_t n,
			     double q)
{
	uint64_t total = 0, min = UINT64_MAX, max = 0, rank, v;
	unsigned int lo, hi;

	for (uint32_t i = 0; i < n; i++) {
		if (!s[i] || !s[i]->count || (w && !w[i]))
			continue;
		total += (w ? w[i] : 1) * s[i]->count;
		min = s[i]->min < min ? s[i]->min : min;
		max = s[i]->max > max ? s[i]->max : max;
	}
	if (!total)
		return 0;
	if (!(q > 0.0))
		return min;
	if (q >= 1.0)
		return max;
	rank = nearest_rank(total, q);
	lo = hist_bucket_of(min);
	hi = hist_bucket_of(max);
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (pooled_through(s, w, n, hist_bucket_low(mid)) >= rank)
			hi = mid;
		else
			lo = mid + 1;
	}
	v = hist_bucket_mid(lo);
	return v < min ? min : v > max ? max : v;
}

/*
 * The same for many weightings of the same samples (the resamples): each
 * sample's count through every bucket any sample has is taken once with
 * hist_sparse_count_through, a column per bucket, so a step of the binary
 * search is one weighted sum over a contiguous column instead of a binary
 * search per sample (5x faster on a 360-interval recording).
 */
struct cmp_cum {
	const struct hist_sparse *const *s;
	uint32_t n, nu;
	uint32_t *bucket; /* the buckets of every sample, increasing */
	uint64_t *c;	  /* [k * n + i]: sample i's count through bucket[k] */
};

#define CUM_MAX_CELLS (8u << 20) /* 64 MiB; larger sides take the slow path */

void cmp_cum_free(struct cmp_cum *t)
{
	if (!t)
		return;
	free(t->bucket);
	free(t->c);
	free(t);
}

static int cum_buckets(struct cmp_cum *t)
{
	uint8_t *seen = calloc(HIST_BUCKETS, 1);

	if (!seen)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n; i++)
		for (uint32_t j = 0; t->s[i] && j < t->s[i]->n; j++)
			seen[t->s[i]->bucket[j]] = 1;
	for (uint32_t b = 0; b < HIST_BUCKETS; b++)
		t->nu += seen[b];
	t->bucket = malloc((t->nu ? t->nu : 1) * sizeof(*t->bucket));
	for (uint32_t b = 0, k = 0; t->bucket && b < HIST_BUCKETS; b++)
		if (seen[b])
			t->bucket[k++] = b;
	free(seen);
	return t->bucket ? 0 : -ENOMEM;
}

int cmp_cum_new(struct cmp_cum **out, const struct hist_sparse *const *s, uint32_t n)
{
	struct cmp_cum *t = calloc(1, sizeof(*t));
	int err = t ? 0 : -ENOMEM;

	*out = NULL;
	if (!err) {
		t->s = s;
		t->n = n;
		err = cum_buckets(t);
	}
	if (!err && (uint64_t)t->nu * n > CUM_MAX_CELLS)
		err = -E2BIG;
	if (!err && !(t->c = malloc(((size_t)t->nu * n + 1) * sizeof(*t->c))))
		err = -ENOMEM;
	for (uint32_t k = 0; !err && k < t->nu; k++)
		for (uint32_t i = 0; i < n; i++)
			t->c[(size_t)k * n + i] =
			    s[i] ? hist_sparse_count_through(s[i], hist_bucket_low(t->bucket[k]))
				 : 0;
	if (err)
		cmp_cum_free(t);
	else
		*out = t;
	return err;
}

static uint64_t cum_through(const struct cmp_cum *t, const uint32_t *w, uint32_t k)
{
	const uint64_t *col = t->c + (size_t)k * t->n;
	uint64_t c = 0;

	for (uint32_t i = 0; i < t->n; i++)
		c += w[i] * col[i];
	return c;
}

uint64_t cmp_cum_quantile(const struct cmp_cum *t, const uint32_t *w, double q)
{
	uint64_t total = 0, min = UINT64_MAX, max = 0, rank, v;
	uint32_t lo = 0, hi = t->nu ? t->nu - 1 : 0;

	for (uint32_t i = 0; i < t->n; i++) {
		const struct hist_sparse *x = t->s[i];

		if (!x || !x->count || !w[i])
			continue;
		total += w[i] * x->count;
		min = x->min < min ? x->min : min;
		max = x->max > max ? x->max : max;
	}
	if (!total)
		return 0;
	if (!(q > 0.0) || q >= 1.0)
		return q >= 1.0 ? max : min;
	rank = nearest_rank(total, q);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (cum_through(t, w, mid) >= rank)
			hi = mid;
		else
			lo = mid + 1;
	}
	v = hist_bucket_mid(t->bucket[lo]);
	return v < min ? min : v > max ? max : v;
}

static uint64_t pooled_count(const struct hist_sparse *const *s, uint32_t n)
{
	uint64_t c = 0;

	for (uint32_t i = 0; i < n; i++)
		c += s[i] ? s[i]->count : 0;
	return c;
}

/* The >= p99 band's share of cause c over the samples taken w[i] times,
 * each weighted by its band's requests. */
static double pooled_share(const struct samples *s, const uint32_t *w, unsigned int c)
{
	double num = 0, den = 0;

	for (uint32_t i = 0; i < s->n; i++) {
		double k = (double)(w ? w[i] : 1) * (double)s->band[i];

		num += k * s->share[(size_t)i * ATTRIB_CAUSES + c];
		den += k;
	}
	return den > 0 ? num / den : 0.0;
}

static uint64_t pooled_band(const struct samples *s)
{
	uint64_t c = 0;

	for (uint32_t i = 0; i < s->n; i++)
		c += s->band[i];
	return c;
}

/* ---- samples ---- */

static unsigned int hist_metric(unsigned int h)
{
	return h ? REC_M_PHASE + h - 1 : REC_M_LATENCY;
}

static void samples_free(struct samples *s)
{
	for (unsigned int h = 0; h < NHIST; h++)
		free(s->hist[h]);
	for (uint32_t i = 0; i < s->nowned; i++)
		hist_sparse_free(s->owned[i]);
	free(s->owned);
	free(s->share);
	free(s->band);
	free(s->w);
	free(s->starts);
	memset(s, 0, sizeof(*s));
}

static int samples_alloc(struct samples *s, uint32_t n, uint32_t owned)
{
	s->n = n;
	for (unsigned int h = 0; h < NHIST; h++)
		if (!(s->hist[h] = calloc(n ? n : 1, sizeof(*s->hist[h]))))
			return -ENOMEM;
	s->owned = calloc(owned ? owned : 1, sizeof(*s->owned));
	s->share = calloc((size_t)(n ? n : 1) * ATTRIB_CAUSES, sizeof(*s->share));
	s->band = calloc(n ? n : 1, sizeof(*s->band));
	return s->owned && s->share && s->band ? 0 : -ENOMEM;
}

static void take_band(struct samples *s, uint32_t i, const struct band_summary *b)
{
	s->band[i] = b->requests;
	for (unsigned int c = 0; c < ATTRIB_CAUSES; c++)
		s->share[(size_t)i * ATTRIB_CAUSES + c] = b->cause_pct[c];
}

/* Each run a sample: its merged dense histograms made sparse. */
static int samples_of_runs(struct samples *s, const struct cmp_side *side)
{
	int err = samples_alloc(s, side->nruns, side->nruns * NHIST);

	for (uint32_t i = 0; !err && i < side->nruns; i++) {
		const struct rec *r = side->runs[i];

		for (unsigned int h = 0; !err && h < NHIST; h++) {
			const struct hist *d = r->m[hist_metric(h)];

			if (!d || !d->count)
				continue;
			s->hist[h][i] = s->owned[s->nowned] = hist_sparse_new(d);
			err = s->owned[s->nowned++] ? 0 : -ENOMEM;
		}
		if (r->has_tail)
			take_band(s, i, &r->tail.bands[BAND_GE_P99]);
	}
	s->block = 1; /* runs are independent: drawn one by one */
	return err;
}

/* The starts of the blocks lying within one recording, as the last
 * interval of a run and the first of the next are not neighbours. */
static int block_starts(struct samples *s, const struct cmp_side *side)
{
	uint32_t off = 0;

	if (!(s->starts = calloc(s->n ? s->n : 1, sizeof(*s->starts))))
		return -ENOMEM;
	for (uint32_t i = 0; i < side->nruns; i++) {
		uint32_t niv = side->runs[i]->niv;

		for (uint32_t j = 0; j + s->block <= niv; j++)
			s->starts[s->nstarts++] = off + j;
		off += niv;
	}
	return 0;
}

/* Each interval a sample, the runs one after the other in time order. */
static int samples_of_intervals(struct samples *s, const struct cmp_side *side)
{
	uint32_t n = 0, k = 0;
	int err;

	for (uint32_t i = 0; i < side->nruns; i++)
		n += side->runs[i]->niv;
	if ((err = samples_alloc(s, n, 0)))
		return err;
	for (uint32_t i = 0; i < side->nruns; i++) {
		const struct rec *r = side->runs[i];

		for (uint32_t j = 0; j < r->niv; j++, k++) {
			for (unsigned int h = 0; h < NHIST; h++)
				s->hist[h][k] = r->iv[j].m[hist_metric(h)];
			take_band(s, k, &r->iv[j].bands[BAND_GE_P99]);
		}
	}
	s->block = cmp_block_len(n);
	return block_starts(s, side);
}

/* Produce requests per second over the recordings' intervals. */
static void side_rate(struct samples *s, const struct cmp_side *side)
{
	for (uint32_t i = 0; i < side->nruns; i++) {
		const struct rec *r = side->runs[i];

		for (uint32_t j = 0; j < r->niv; j++) {
			s->produce += r->iv[j].produce;
			if (r->iv[j].t_end_ns > r->iv[j].t_start_ns)
				s->span_s +=
				    (double)(r->iv[j].t_end_ns - r->iv[j].t_start_ns) / 1e9;
		}
	}
}

static int draw_weights(struct samples *s, struct cmp_rng *g, uint32_t boot)
{
	if (!(s->w = malloc((size_t)boot * (s->n ? s->n : 1) * sizeof(*s->w))))
		return -ENOMEM;
	for (uint32_t b = 0; b < boot; b++)
		cmp_resample(g, s->n, s->block, s->starts, s->nstarts, s->w + (size_t)b * s->n);
	return 0;
}

/* ---- gates and rows ---- */

void cmp_opts_default(struct cmp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = CMP_DEFAULT_SEED;
	o->boot = CMP_DEFAULT_BOOT;
	o->floor_ns = CMP_DEFAULT_FLOOR_NS;
}

static const struct cmp_gate default_gates[] = {
    {"latency.p99", 10.0},
    {"latency.p99.9", 20.0},
};

static void row_name(char *buf, size_t len, enum cmp_kind kind, unsigned int m, unsigned int qi)
{
	if (kind == CMP_SHARE)
		snprintf(buf, len, "cause.%s", attrib_cause_name(m));
	else if (m == REC_M_LATENCY)
		snprintf(buf, len, "latency.%s", qnames[qi]);
	else
		snprintf(buf, len, "phase.%s.%s", attrib_phase_name(m - REC_M_PHASE), qnames[qi]);
}

static bool known_metric(const char *name)
{
	char buf[CMP_NAME_LEN];

	for (unsigned int h = 0; h < NHIST; h++)
		for (unsigned int q = 0; q < NQ; q++) {
			row_name(buf, sizeof(buf), CMP_QUANTILE, hist_metric(h), q);
			if (!strcmp(buf, name))
				return true;
		}
	for (unsigned int c = 0; c < ATTRIB_CAUSES; c++) {
		row_name(buf, sizeof(buf), CMP_SHARE, c, 0);
		if (!strcmp(buf, name))
			return true;
	}
	return false;
}

int cmp_gate_parse(const char *spec, struct cmp_gate *g, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	bool share = !strncmp(spec, "cause.", 6);
	const char *unit = share ? "pt" : "%";
	char *end;
	double v;

	if (!eq || (size_t)(eq - spec) >= sizeof(g->metric)) {
		snprintf(err, errlen, "bad gate '%s': want METRIC=+X%% or cause.NAME=+Xpt", spec);
		return -EINVAL;
	}
	/* "p99" alone is the latency's, as the man page's examples have it */
	snprintf(g->metric, sizeof(g->metric), "%s%.*s",
		 spec[0] == 'p' && spec[1] >= '0' && spec[1] <= '9' ? "latency." : "",
		 (int)(eq - spec), spec);
	if (!known_metric(g->metric)) {
		snprintf(err, errlen, "bad gate '%s': unknown metric '%s'", spec, g->metric);
		return -EINVAL;
	}
	errno = 0;
	v = strtod(eq[1] == '+' ? eq + 2 : eq + 1, &end);
	if (errno || end == eq + 1 || strcmp(end, unit) || !(v > 0) || v > 1e6) {
		snprintf(err, errlen, "bad gate '%s': want a threshold like +10%s", spec, unit);
		return -EINVAL;
	}
	g->threshold = v;
	return 0;
}

static const struct cmp_gate *find_gate(const struct cmp_opts *o, const char *name)
{
	const struct cmp_gate *g = o->gates ? o->gates : default_gates;
	uint32_t n = o->gates ? o->ngates : sizeof(default_gates) / sizeof(default_gates[0]);

	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(g[i].metric, name))
			return &g[i];
	return NULL;
}

static struct cmp_row *add_row(struct ctx *c, enum cmp_kind kind, unsigned int m, unsigned int qi)
{
	struct cmp_row *row = &c->r->rows[c->r->nrows++];
	const struct cmp_gate *g;

	memset(row, 0, sizeof(*row));
	row->kind = kind;
	row->metric = m;
	row->q = kind == CMP_QUANTILE ? quantiles[qi] : 0;
	row_name(row->name, sizeof(row->name), kind, m, qi);
	if ((g = find_gate(c->o, row->name))) {
		row->gated = true;
		row->gate = g->threshold;
	}
	return row;
}

/* ---- the bootstrap, per row ---- */

static double change_of(enum cmp_kind kind, double base, double new)
{
	if (kind == CMP_SHARE)
		return new - base;
	if (base > 0)
		return (new / base - 1.0) * 100.0;
	return new > 0 ? INFINITY : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The percentile interval and the two-sided p of the changes in c->d: p is
 * twice the smaller tail of the bootstrap distribution on either side of 0,
 * floored at 1/B (B resamples cannot say less). A permutation test would
 * be exact for runs, but it tests whether the two distributions are the
 * same, not whether a quantile moved, and shuffling intervals between the
 * sides one by one breaks their autocorrelation and so understates the
 * noise: the bootstrap serves both kinds of samples with one rule.
 */
static void interval_of(struct ctx *c, struct cmp_row *row)
{
	uint32_t boot = c->o->boot, le = 0, ge = 0, cut = (uint32_t)floor(0.025 * boot);

	for (uint32_t b = 0; b < boot; b++) {
		le += c->d[b] <= 0;
		ge += c->d[b] >= 0;
	}
	qsort(c->d, boot, sizeof(*c->d), cmp_double);
	row->lo = c->d[cut];
	row->hi = c->d[boot - 1 - cut];
	row->p = 2.0 * (double)(le < ge ? le : ge) / boot;
	row->p = row->p < 1.0 / boot ? 1.0 / boot : row->p > 1.0 ? 1.0 : row->p;
}

static uint64_t beyond(const struct samples *s, unsigned int h, uint64_t value)
{
	const struct hist_sparse *const *hs = s->hist[h];

	return pooled_count(hs, s->n) - pooled_through(hs, NULL, s->n, value);
}

/* Resample b's quantile of a side: from its table, or the slow way. */
static double side_quantile(const struct samples *s, const struct cmp_cum *t, unsigned int h,
			    uint32_t b, double q)
{
	const uint32_t *w = s->w + (size_t)b * s->n;

	return (double)(t ? cmp_cum_quantile(t, w, q)
			  : cmp_pooled_quantile(s->hist[h], w, s->n, q));
}

static void boot_quantile(struct ctx *c, struct cmp_cum *t[2], unsigned int h, double q)
{
	for (uint32_t b = 0; b < c->o->boot; b++)
		c->d[b] = change_of(CMP_QUANTILE, side_quantile(&c->s[0], t[0], h, b, q),
				    side_quantile(&c->s[1], t[1], h, b, q));
}

static void quantile_row(struct ctx *c, struct cmp_cum *t[2], unsigned int h, unsigned int qi)
{
	struct samples *s = c->s;
	struct cmp_row *row;
	double q = quantiles[qi];
	bool empty = !pooled_count(s[0].hist[h], s[0].n) && !pooled_count(s[1].hist[h], s[1].n);

	row = add_row(c, CMP_QUANTILE, hist_metric(h), qi);
	if (empty && !row->gated) {
		c->r->nrows--;
		return;
	}
	for (int k = 0; k < 2; k++) {
		uint64_t v = cmp_pooled_quantile(s[k].hist[h], NULL, s[k].n, q);

		*(k ? &row->new : &row->base) = (double)v;
		row->beyond[k] = beyond(&s[k], h, v);
	}
	boot_quantile(c, t, h, q);
	interval_of(c, row);
}

/* A metric's three quantiles, on tables built once. */
static void metric_rows(struct ctx *c, unsigned int h)
{
	struct cmp_cum *t[2] = {NULL, NULL};

	/* no table (too large, no memory): the slow path gives the same */
	for (int k = 0; k < 2; k++)
		if (cmp_cum_new(&t[k], c->s[k].hist[h], c->s[k].n))
			t[k] = NULL;
	for (unsigned int q = 0; q < NQ; q++)
		quantile_row(c, t, h, q);
	cmp_cum_free(t[0]);
	cmp_cum_free(t[1]);
}

static void share_row(struct ctx *c, unsigned int cause)
{
	struct samples *s = c->s;
	struct cmp_row *row = add_row(c, CMP_SHARE, cause, 0);

	row->base = pooled_share(&s[0], NULL, cause);
	row->new = pooled_share(&s[1], NULL, cause);
	if (!(row->base > 0) && !(row->new > 0) && !row->gated) {
		c->r->nrows--;
		return;
	}
	row->beyond[0] = pooled_band(&s[0]);
	row->beyond[1] = pooled_band(&s[1]);
	for (uint32_t b = 0; b < c->o->boot; b++)
		c->d[b] = pooled_share(&s[1], s[1].w + (size_t)b * s[1].n, cause) -
			  pooled_share(&s[0], s[0].w + (size_t)b * s[0].n, cause);
	interval_of(c, row);
}

/* ---- what makes a comparison inconclusive ---- */

static const char *meta_get(const struct rec_file *f, const char *key)
{
	for (uint32_t i = 0; i < f->nmeta; i++)
		if (!strcmp(f->meta[i].key, key))
			return f->meta[i].value;
	return NULL;
}

/* "kernel" and "setup.*" must match, absent or not; "acks",
 * "partitions" and "profile" when both files have them. */
static bool setup_key(const char *key, bool *strict)
{
	*strict = !strcmp(key, "kernel") || !strncmp(key, "setup.", 6);
	return *strict || !strcmp(key, "acks") || !strcmp(key, "partitions") ||
	       !strcmp(key, "profile");
}

static bool meta_differs(const struct rec_file *a, const struct rec_file *b, char *why, size_t len)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct rec_file *x = pass ? b : a, *y = pass ? a : b;

		for (uint32_t i = 0; i < x->nmeta; i++) {
			const char *key = x->meta[i].key, *vy;
			bool strict;

			if (!setup_key(key, &strict))
				continue;
			vy = meta_get(y, key);
			if ((!vy && !strict) || (vy && !strcmp(vy, x->meta[i].value)))
				continue;
			snprintf(why, len, "different setups: %s '%s' in %s, %s%s%s in %s", key,
				 x->meta[i].value, x->path, vy ? "'" : "", vy ? vy : "none",
				 vy ? "'" : "", y->path);
			return true;
		}
	}
	return false;
}

/* Every file against the first of the base side. */
static bool setups_differ(const struct cmp_side side[2], char *why, size_t len)
{
	const struct rec_file *ref = NULL;

	for (int k = 0; k < 2; k++)
		for (uint32_t i = 0; i < side[k].nruns; i++)
			for (uint32_t f = 0; f < side[k].runs[i]->nfiles; f++) {
				const struct rec_file *x = &side[k].runs[i]->files[f];

				if (!ref)
					ref = x;
				else if (meta_differs(ref, x, why, len))
					return true;
			}
	return false;
}

static const char *const side_name[2] = {"base", "new"};

/* The reasons that hold for every gated metric. */
static void global_checks(struct ctx *c)
{
	struct cmp_result *r = c->r;
	double rb = r->rate[0], rn = r->rate[1];

	for (int k = 0; k < 2 && !r->reason[0]; k++)
		if (r->n[k] < CMP_MIN_SAMPLES)
			snprintf(r->reason, sizeof(r->reason),
				 "only %u %s on the %s side (%d needed)", r->n[k],
				 r->by_run ? "runs" : "intervals", side_name[k], CMP_MIN_SAMPLES);
	if (!r->reason[0] && rb > 0 && rn > 0 && fabs(rn / rb - 1.0) > CMP_MAX_RATE_DIFF)
		snprintf(r->reason, sizeof(r->reason),
			 "produce request rates %.1f%% apart (base %.1f/s, new %.1f/s)",
			 (rn / rb - 1.0) * 100.0, rb, rn);
	if (!r->reason[0])
		setups_differ(c->side, r->reason, sizeof(r->reason));
}

/* A gated row's own reason: too few requests beyond its quantile (in its
 * band, for a share) on a side for the tail to be measured at all. */
static bool row_inconclusive(const struct cmp_result *r, struct cmp_row *row)
{
	if (r->reason[0]) {
		snprintf(row->why, sizeof(row->why), "%s", r->reason);
		return true;
	}
	for (int k = 0; k < 2; k++) {
		if (row->beyond[k] >= CMP_MIN_BEYOND)
			continue;
		if (row->kind == CMP_SHARE)
			snprintf(row->why, sizeof(row->why),
				 "%s: %llu requests in the >= p99 band on the %s side (%d needed)",
				 row->name, (unsigned long long)row->beyond[k], side_name[k],
				 CMP_MIN_BEYOND);
		else
			snprintf(row->why, sizeof(row->why),
				 "%s: %llu requests above it on the %s side (%d needed)", row->name,
				 (unsigned long long)row->beyond[k], side_name[k], CMP_MIN_BEYOND);
		return true;
	}
	return false;
}

/* The floor keeps a large % of a tiny time (50 us -> 75 us) from failing CI. */
static bool past_floor(const struct cmp_result *r, const struct cmp_row *row, double delta)
{
	return row->kind == CMP_SHARE || delta > r->floor_ns;
}

static void row_verdict(const struct cmp_result *r, struct cmp_row *row)
{
	row->delta = row->new - row->base;
	row->change = change_of(row->kind, row->base, row->new);
	if (row->gated && row_inconclusive(r, row))
		row->verdict = CMP_V_INCONCLUSIVE;
	else if (row->lo <= 0 && row->hi >= 0)
		row->verdict = CMP_V_SAME;
	else if (row->gated && row->lo > row->gate && past_floor(r, row, row->delta))
		row->verdict = CMP_V_REGRESSED;
	else if (row->gated && row->hi < -row->gate && past_floor(r, row, -row->delta))
		row->verdict = CMP_V_IMPROVED;
	else
		row->verdict = row->lo > 0 ? CMP_V_UP : CMP_V_DOWN;
}

/* ---- the verdict ---- */

/* The row of a kind growing most (a phase's p99 in ns, a cause in points),
 * significant growth first. */
static int grew_most(const struct cmp_result *r, enum cmp_kind kind)
{
	int best = -1;
	bool best_sig = false;

	for (uint32_t i = 0; i < r->nrows; i++) {
		const struct cmp_row *w = &r->rows[i];
		bool sig = w->lo > 0;

		if (w->kind != kind || !(w->delta > 0))
			continue;
		if (kind == CMP_QUANTILE && (w->metric < REC_M_PHASE || w->q != 0.99))
			continue;
		if (best < 0 || sig > best_sig ||
		    (sig == best_sig && w->delta > r->rows[best].delta)) {
			best = (int)i;
			best_sig = sig;
		}
	}
	return best;
}

static size_t grew_text(const struct cmp_result *r, char *buf, size_t len)
{
	char d[32];
	int n = 0;

	if (r->grew_phase >= 0) {
		const struct cmp_row *w = &r->rows[r->grew_phase];

		fmt_ns((uint64_t)w->delta, d, sizeof(d));
		n = snprintf(buf, len, "; grew most: phase %s (p99 +%s)",
			     attrib_phase_name(w->metric - REC_M_PHASE), d);
	}
	if (r->grew_cause >= 0 && n >= 0 && (size_t)n < len) {
		const struct cmp_row *w = &r->rows[r->grew_cause];

		n += snprintf(buf + n, len - (size_t)n, "%s cause %s (%+.1fpt)",
			      r->grew_phase >= 0 ? "," : "; grew most:",
			      attrib_cause_name(w->metric), w->delta);
	}
	return n > 0 ? (size_t)n : 0;
}

/* "latency.p99 +48.2% [+40.1%, +57.0%]" for each row with that verdict. */
static size_t list_rows(const struct cmp_result *r, enum cmp_verdict v, char *buf, size_t len)
{
	size_t n = 0;

	for (uint32_t i = 0; i < r->nrows && n < len; i++) {
		const struct cmp_row *w = &r->rows[i];
		const char *u = w->kind == CMP_SHARE ? "pt" : "%";
		int k;

		if (w->verdict != v)
			continue;
		k = snprintf(buf + n, len - n, "%s%s %+.1f%s [%+.1f%s, %+.1f%s]", n ? ", " : "",
			     w->name, w->change, u, w->lo, u, w->hi, u);
		n += k > 0 ? (size_t)k : 0;
	}
	return n < len ? n : len - 1;
}

static const char *first_why(const struct cmp_result *r)
{
	for (uint32_t i = 0; i < r->nrows; i++)
		if (r->rows[i].verdict == CMP_V_INCONCLUSIVE)
			return r->rows[i].why;
	return "";
}

static void verdict_line(struct cmp_result *r)
{
	bool reg = false, inc = false, imp = false;
	size_t n, len = sizeof(r->verdict);
	char *buf = r->verdict;

	for (uint32_t i = 0; i < r->nrows; i++) {
		reg |= r->rows[i].verdict == CMP_V_REGRESSED;
		inc |= r->rows[i].verdict == CMP_V_INCONCLUSIVE;
		imp |= r->rows[i].verdict == CMP_V_IMPROVED;
	}
	r->grew_phase = grew_most(r, CMP_QUANTILE);
	r->grew_cause = grew_most(r, CMP_SHARE);
	r->exit_code = reg ? CMP_REGRESSION : inc ? CMP_INCONCLUSIVE : CMP_PASS;
	if (reg) {
		n = (size_t)snprintf(buf, len, "REGRESSION: ");
		n += list_rows(r, CMP_V_REGRESSED, buf + n, len - n);
		grew_text(r, buf + n, len - n);
	} else if (inc) {
		snprintf(buf, len, "INCONCLUSIVE: %s", first_why(r));
	} else if (imp) {
		n = (size_t)snprintf(buf, len, "improved: ");
		list_rows(r, CMP_V_IMPROVED, buf + n, len - n);
	} else {
		snprintf(buf, len, "pass: no gated metric regressed");
	}
}

/* ---- the comparison ---- */

static int build_samples(struct ctx *c)
{
	struct cmp_result *r = c->r;
	struct cmp_rng g;
	int err = 0;

	r->by_run = c->side[0].nruns >= CMP_MIN_RUNS && c->side[1].nruns >= CMP_MIN_RUNS;
	cmp_rng_seed(&g, c->o->seed);
	for (int k = 0; k < 2 && !err; k++) {
		err = r->by_run ? samples_of_runs(&c->s[k], &c->side[k])
				: samples_of_intervals(&c->s[k], &c->side[k]);
		/* the resamples are drawn once and shared by every metric, so
		 * the metrics move together as they did in the runs */
		err = err ? err : draw_weights(&c->s[k], &g, c->o->boot);
		side_rate(&c->s[k], &c->side[k]);
		r->n[k] = c->s[k].n;
		r->block[k] = c->s[k].block;
		r->files[k] = c->side[k].nruns;
		r->rate[k] = c->s[k].span_s > 0 ? (double)c->s[k].produce / c->s[k].span_s : 0;
	}
	return err;
}

static void compute_rows(struct ctx *c)
{
	for (unsigned int h = 0; h < NHIST; h++)
		metric_rows(c, h);
	for (unsigned int cause = 0; cause < ATTRIB_CAUSES; cause++)
		share_row(c, cause);
	global_checks(c);
	for (uint32_t i = 0; i < c->r->nrows; i++)
		row_verdict(c->r, &c->r->rows[i]);
	verdict_line(c->r);
}

int cmp_run(const struct cmp_side side[2], const struct cmp_opts *o, struct cmp_result *out,
	    char *err, size_t errlen)
{
	struct ctx c = {.side = side, .o = o, .r = out};
	int ret;

	memset(out, 0, sizeof(*out));
	if (!o->boot || o->boot > 1000000) {
		snprintf(err, errlen, "bootstrap resamples must be in [1, 1000000]");
		return -EINVAL;
	}
	out->seed = o->seed;
	out->boot = o->boot;
	out->floor_ns = o->floor_ns;
	out->rows = calloc(NHIST * NQ + ATTRIB_CAUSES, sizeof(*out->rows));
	c.d = malloc(o->boot * sizeof(*c.d));
	ret = out->rows && c.d ? build_samples(&c) : -ENOMEM;
	if (!ret)
		compute_rows(&c);
	for (int k = 0; k < 2; k++)
		samples_free(&c.s[k]);
	free(c.d);
	if (ret) {
		snprintf(err, errlen, "%s", strerror(-ret));
		cmp_result_free(out);
	}
	return ret;
}

void cmp_result_free(struct cmp_result *r)
{
	free(r->rows);
	memset(r, 0, sizeof(*r));
}
