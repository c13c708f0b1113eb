// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The HTML report's time columns (html_parts.h): what every time chart
 * draws, computed once per recording. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/html_parts.h"

uint64_t html_heat_edge(unsigned int k)
{
	return (uint64_t)llround(pow(10, HTML_HEAT_LO_EXP + k / 10.0));
}

const struct hist *html_latency(const struct rec *r)
{
	const struct hist *h = agg_latency(&r->agg, 0);

	return h ? h : r->m[REC_M_LATENCY];
}

/*
 * Time slots: the intervals of several files (a cluster's brokers) start
 * at about, not exactly, the same time, so an interval joins the slot of
 * the one before it when it starts in that slot's first half; each slot
 * is then one column, not one per broker drawn over each other.
 */
struct slotter {
	int64_t t0, half; /* the slot's first interval: its start, half its length */
	uint32_t n;	  /* slots so far */
};

/* The slot of interval iv (the intervals come by start). */
static uint32_t slot_of(struct slotter *s, const struct rec_interval *iv)
{
	if (!s->n || iv->t_start_ns >= s->t0 + s->half) {
		s->t0 = iv->t_start_ns;
		s->half = (iv->t_end_ns - iv->t_start_ns) / 2;
		if (s->half < 1)
			s->half = 1;
		s->n++;
	}
	return s->n - 1;
}

static uint32_t count_slots(const struct rec *r)
{
	struct slotter s = {0};

	for (uint32_t i = 0; i < r->niv; i++)
		slot_of(&s, &r->iv[i]);
	return s.n;
}

/* Each bucket into the bin its values fall in, as hist_count_through at
 * the bins' edges would count them, in one walk over the buckets. */
static void col_heat(struct html_col *c, const struct hist *h)
{
	unsigned k = 0;
	unsigned int last = hist_bucket_of(html_heat_edge(1) - 1);

	for (unsigned int b = 0; b < HIST_BUCKETS; b++) {
		/* the last bin takes everything above it too */
		while (b > last && k + 1 < HTML_HEAT_BINS) {
			k++;
			last = k + 1 < HTML_HEAT_BINS ? hist_bucket_of(html_heat_edge(k + 1) - 1)
						      : HIST_BUCKETS;
		}
		c->heat[k] += h->buckets[b];
	}
}

/* The column's root causes: each interval's weighted by its tail time. */
static void col_add_tail(struct html_col *c, const struct rec_interval *iv)
{
	uint64_t t = iv->ge_p99.total_ns;

	if (!t)
		return;
	for (unsigned k = 0; k < ATTRIB_CAUSES; k++)
		c->root_pct[k] =
		    (c->root_pct[k] * (double)c->tail_ns + iv->ge_p99.root_pct[k] * (double)t) /
		    (double)(c->tail_ns + t);
	c->tail_ns += t;
}

static void col_fill(struct html_col *c, const struct rec *r, struct hist *h)
{
	int64_t t0 = r->iv[c->iv0].t_start_ns, t1 = r->iv[c->iv0].t_end_ns;

	hist_init(h);
	for (uint32_t i = c->iv0; i < c->iv0 + c->niv; i++) {
		const struct rec_interval *iv = &r->iv[i];

		if (iv->m[REC_M_LATENCY])
			hist_sparse_add_to(iv->m[REC_M_LATENCY], h);
		t1 = iv->t_end_ns > t1 ? iv->t_end_ns : t1;
		col_add_tail(c, iv);
		report_loss_add(&c->loss, &iv->loss);
	}
	c->t0_s = (double)(t0 - r->t_start_ns) / 1e9;
	c->t1_s = (double)(t1 - r->t_start_ns) / 1e9;
	c->count = h->count;
	c->q[HTML_Q_P50] = hist_quantile(h, 0.5);
	c->q[HTML_Q_P99] = hist_quantile(h, 0.99);
	c->q[HTML_Q_P999] = hist_quantile(h, 0.999);
	c->q[HTML_Q_MAX] = h->count ? h->max : 0;
	col_heat(c, h);
}

/* Assigns the intervals to columns, per_col time slots each. */
static void cols_assign(struct html_cols *c, const struct rec *r)
{
	struct slotter s = {0};
	uint32_t col = 0;

	for (uint32_t i = 0; i < r->niv; i++) {
		col = slot_of(&s, &r->iv[i]) / c->per_col;
		if (!c->c[col].niv)
			c->c[col].iv0 = i;
		c->c[col].niv++;
	}
	c->n = r->niv ? col + 1 : 0;
}

int html_cols_build(struct html_cols *c, const struct rec *r)
{
	uint32_t slots = count_slots(r);
	struct hist *h;

	*c =
	    (struct html_cols){.per_col = 1, .span_s = (double)(r->t_end_ns - r->t_start_ns) / 1e9};
	if (!slots)
		return 0;
	c->per_col = (slots + HTML_MAX_COLS - 1) / HTML_MAX_COLS;
	c->c = calloc((slots + c->per_col - 1) / c->per_col, sizeof(*c->c));
	h = malloc(sizeof(*h));
	if (!c->c || !h) {
		free(h);
		html_cols_free(c);
		return -ENOMEM;
	}
	cols_assign(c, r);
	for (uint32_t i = 0; i < c->n; i++)
		col_fill(&c->c[i], r, h);
	free(h);
	return 0;
}

void html_cols_free(struct html_cols *c)
{
	free(c->c);
	c->c = NULL;
	c->n = 0;
}
