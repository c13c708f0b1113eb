// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Reading recordings back and merging them: see include/kafkalat/recording.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/explain.h"
#include "kafkalat/grow.h"
#include "kafkalat/rec_fields.h"
#include "kafkalat/recording.h"
#include "kafkalat/strtab.h"
#include "kafkalat/tlv.h"

#define MAX_INTERVALS (1u << 24)
#define MAX_SLOW      (1u << 20) /* per interval */
#define MAX_FOLDED    (1u << 20) /* distinct folded stacks */

_Static_assert(sizeof(struct corr_counts) % 8 == 0, "corr_counts: u64 fields only");
_Static_assert(sizeof(struct klt_stats) % 8 == 0, "klt_stats: u64 fields only");
_Static_assert(sizeof(struct evdump_stats) % 8 == 0, "evdump_stats: u64 fields only");
_Static_assert(sizeof(struct attrib_stats) % 8 == 0, "attrib_stats: u64 fields only");
_Static_assert(sizeof(struct explain_stats) % 8 == 0, "explain_stats: u64 fields only");

struct loader {
	struct rec *r;
	const char *name; /* the file's, for messages */
	uint64_t offset;  /* of the record being read */
	uint64_t recno;
	char *err;
	size_t errlen;
	struct hist *scratch;
	struct agg iv_agg;
	size_t cap_iv, cap_files, cap_meta;
	struct strtab folded;
	uint64_t *folded_us;
	size_t cap_folded;
	struct journal_overlap journal;
	struct attrib_stats attrib;
	struct explain_stats explain;
	const char *file_events;
};

static int fail(struct loader *l, int err, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(l->err, l->errlen, "%s: offset %" PRIu64 ": record %" PRIu64 ": %s", l->name,
		 l->offset, l->recno, what);
	return err;
}

static struct rec_file *cur_file(struct loader *l)
{
	return &l->r->files[l->r->nfiles - 1];
}

/* ---- meta ---- */

static int parse_kv(struct loader *l, const struct tlv_cur *val)
{
	struct rec_file *f = cur_file(l);
	struct tlv_cur c = *val, v;
	char *key = NULL, *value = NULL;
	uint32_t tag;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == RF_KV_KEY && !key)
			err = tlv_get_str(&v, &key);
		else if (tag == RF_KV_VALUE && !value)
			err = tlv_get_str(&v, &value);
	}
	if (!err && (r || !key || !value))
		err = -EINVAL;
	if (!err && (err = grow_array((void **)&f->meta, &l->cap_meta, f->nmeta + 1,
				      sizeof(*f->meta), 1u << 16)) == 0)
		f->meta[f->nmeta++] = (struct rec_kv){.key = key, .value = value};
	if (err) {
		free(key);
		free(value);
	}
	return err;
}

static int parse_meta(struct loader *l, const struct tlv_cur *payload)
{
	struct tlv_cur c = *payload, v;
	uint64_t schema = 0;
	uint32_t tag;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == RF_META_SCHEMA)
			err = tlv_get_u64(&v, &schema) ? -EINVAL : 0;
		else if (tag == RF_META_KV)
			err = parse_kv(l, &v);
	}
	if (err == -ENOMEM)
		return fail(l, err, "out of memory");
	if (err || r)
		return fail(l, -EINVAL, "malformed meta record");
	if (schema != REC_SCHEMA)
		return fail(l, -EINVAL, "recording schema %" PRIu64 ", this kafkalat reads %u",
			    schema, REC_SCHEMA);
	return 0;
}

/* ---- histograms ---- */

static int decode_hist(struct loader *l, const struct tlv_cur *v)
{
	return hist_decode(l->scratch, v->p, tlv_cur_len(v));
}

/* Adds h to the merged metric m and keeps it sparse in the interval. */
static int take_metric(struct loader *l, struct rec_interval *iv, unsigned int m,
		       const struct hist *h)
{
	struct rec *r = l->r;

	if (hist_empty(h))
		return 0;
	if (!r->m[m]) {
		r->m[m] = malloc(sizeof(struct hist));
		if (!r->m[m])
			return -ENOMEM;
		hist_init(r->m[m]);
	}
	hist_merge(r->m[m], h);
	if (iv->m[m])
		return -EINVAL; /* twice in one interval */
	iv->m[m] = hist_sparse_new(h);
	return iv->m[m] ? 0 : -ENOMEM;
}

static int parse_metric(struct loader *l, struct rec_interval *iv, const struct tlv_cur *val)
{
	struct tlv_cur c = *val, v, hv = {0};
	char *name = NULL;
	uint32_t tag;
	int r, m, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == RF_M_ID && !name)
			err = tlv_get_str(&v, &name);
		else if (tag == RF_M_HIST)
			hv = v;
	}
	if (err || r || !name || !hv.p) {
		free(name);
		return err ? err : -EINVAL;
	}
	m = rec_metric_parse(name);
	free(name);
	/* a metric of a later writer, or an api, latency and broker_latency
	 * (those come from the aggregates) */
	if (m < REC_M_PHASE || m >= REC_M_API)
		return 0;
	if (decode_hist(l, &hv))
		return -EINVAL;
	return take_metric(l, iv, (unsigned)m, l->scratch);
}

/* ---- the interval's aggregates ---- */

static int agg_hist_field(struct loader *l, struct agg *a, const struct tlv_cur *val)
{
	struct tlv_cur c = *val, v, hv = {0};
	uint64_t which = AGG_HISTS, api = AGG_MAX_API;
	uint32_t tag;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == RF_AH_WHICH)
			err = tlv_get_u64(&v, &which);
		else if (tag == RF_AH_API)
			err = tlv_get_u64(&v, &api);
		else if (tag == RF_M_HIST)
			hv = v;
	}
	if (err || r || !hv.p || which >= AGG_HISTS || api >= AGG_MAX_API || decode_hist(l, &hv))
		return -EINVAL;
	if (agg_hist(a, (enum agg_hist)which, (int)api) &&
	    !hist_empty(agg_hist(a, (enum agg_hist)which, (int)api)))
		return -EINVAL; /* twice */
	return agg_merge_hist(a, (enum agg_hist)which, (int)api, l->scratch);
}

static int agg_field(struct loader *l, struct agg *a, uint32_t tag, const struct tlv_cur *v)
{
	switch (tag) {
	case RF_AGG_REQUESTS:
		return tlv_get_u64s(v, a->requests, AGG_MAX_API);
	case RF_AGG_WIRE_UNKNOWN:
		return tlv_get_u64s(v, a->wire_unknown, AGG_MAX_API);
	case RF_AGG_HIST:
		return agg_hist_field(l, a, v);
	case RF_AGG_PRODUCE_WIRE:
		return tlv_get_u64s(v, a->produce_wire_unknown, CORR_WIRE_MAX);
	case RF_AGG_ACKS0:
		return tlv_get_u64(v, &a->produce_acks0);
	case RF_AGG_BYTES:
		return tlv_get_u64(v, &a->produce_bytes);
	case RF_AGG_RECORDS:
		return tlv_get_u64(v, &a->produce_records);
	case RF_AGG_FLOW:
		return decode_hist(l, v) ? -EINVAL : agg_merge_flow(a, l->scratch);
	case RF_AGG_FLOW_TOTAL:
		return tlv_get_u64(v, &a->flow_total_ns);
	default:
		return 0;
	}
}

static int parse_agg(struct loader *l, const struct tlv_cur *val)
{
	struct tlv_cur c = *val, v;
	uint32_t tag;
	int r, err = 0;

	agg_reset(&l->iv_agg);
	while (!err && (r = tlv_next(&c, &tag, &v)) == 1)
		err = agg_field(l, &l->iv_agg, tag, &v);
	return err ? err : r;
}

/* The interval's metrics that the aggregates hold: Produce's latencies
 * and every API's. */
static int metrics_from_agg(struct loader *l, struct rec_interval *iv)
{
	const struct agg *a = &l->iv_agg;
	const struct hist *h;
	int err = 0;

	for (int k = 0; k < AGG_MAX_API; k++) {
		iv->requests += a->requests[k];
		if ((h = agg_hist(a, AGG_LATENCY, k))) {
			err = err ? err : take_metric(l, iv, REC_M_API + (unsigned)k, h);
			if (k == 0)
				err = err ? err : take_metric(l, iv, REC_M_LATENCY, h);
		}
	}
	if ((h = agg_hist(a, AGG_BROKER, 0)))
		err = err ? err : take_metric(l, iv, REC_M_BROKER, h);
	iv->produce = a->requests[0];
	iv->produce_bytes = a->produce_bytes;
	iv->produce_records = a->produce_records;
	return err ? err : agg_merge(&l->r->agg, a);
}

/* ---- the interval's bands, tops, slowest and commits ---- */

static int parse_band(struct rec_interval *iv, const struct tlv_cur *val)
{
	struct band_summary s = {0};
	struct tlv_cur c = *val, v;
	uint64_t index = BANDS;
	uint32_t tag;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == RF_BAND_INDEX)
			err = tlv_get_u64(&v, &index);
		else if (tag == RF_BAND_REQUESTS)
			err = tlv_get_u64(&v, &s.requests);
		else if (tag == RF_BAND_LO)
			err = tlv_get_u64(&v, &s.lo_ns);
		else if (tag == RF_BAND_HI)
			err = tlv_get_u64(&v, &s.hi_ns);
		else if (tag == RF_BAND_PHASES)
			err = rf_get_phases_f64(&v, s.phase_pct);
		else if (tag == RF_BAND_CAUSES)
			err = rf_get_causes_f64(&v, s.cause_pct);
	}
	if (err || r || index >= BANDS)
		return -EINVAL;
	iv->bands[index] = s;
	return 0;
}

static int parse_time(struct rec_interval *iv, const struct tlv_cur *val)
{
	struct band_time *t = &iv->ge_p99;
	struct tlv_cur c = *val, v;
	uint64_t u, flow[3];
	uint32_t tag;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == RF_TIME_REQUESTS)
			err = tlv_get_u64(&v, &t->requests);
		else if (tag == RF_TIME_COMPLETE && !(err = tlv_get_u64(&v, &u)))
			t->complete = u != 0;
		else if (tag == RF_TIME_TOTAL)
			err = tlv_get_u64(&v, &t->total_ns);
		else if (tag == RF_TIME_PHASES)
			err = rf_get_phases_f64(&v, t->phase_pct);
		else if (tag == RF_TIME_CAUSES)
			err = rf_get_causes_f64(&v, t->cause_pct);
		else if (tag == RF_TIME_ROOTS)
			err = rf_get_causes_f64(&v, t->root_pct);
		else if (tag == RF_TIME_HOL)
			err = rf_get_causes_f64(&v, t->hol_pct);
		else if (tag == RF_TIME_FLOW && !(err = tlv_get_u64s(&v, flow, 3))) {
			t->flow_requests = flow[0];
			t->flow_total_ns = flow[1];
			t->flow_max_ns = flow[2];
		}
	}
	return err || r ? -EINVAL : 0;
}

static int parse_top(struct rec_interval *iv, const struct tlv_cur *val)
{
	struct rec_top t = {0};
	struct tlv_cur c = *val, v;
	uint64_t kind = 2;
	uint32_t tag;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == RF_TOP_KIND)
			err = tlv_get_u64(&v, &kind);
		else if (tag == RF_TOP_KEY && !t.key)
			err = tlv_get_str(&v, &t.key);
		else if (tag == RF_TOP_REQUESTS)
			err = tlv_get_u64(&v, &t.requests);
		else if (tag == RF_TOP_TOTAL)
			err = tlv_get_u64(&v, &t.total_ns);
	}
	if (!err && (r || kind >= 2 || !t.key))
		err = -EINVAL;
	if (!err && iv->ntop[kind] < REC_TOPS) {
		iv->top[kind][iv->ntop[kind]++] = t;
		return 0;
	}
	free(t.key);
	return err;
}

static int slow_field(struct rec_slow *s, uint32_t tag, const struct tlv_cur *v)
{
	char **str = tag == RF_SLOW_PARTITION ? &s->partition
		     : tag == RF_SLOW_CLIENT  ? &s->client
		     : tag == RF_SLOW_STACK   ? &s->stack
					      : NULL;

	if (str)
		return *str ? -EINVAL : tlv_get_str(v, str);
	switch (tag) {
	case RF_SLOW_ARRIVAL:
		return tlv_get_i64(v, &s->t_arrival_ns);
	case RF_SLOW_LATENCY:
		return tlv_get_u64(v, &s->latency_ns);
	case RF_SLOW_FLOW:
		return tlv_get_u64(v, &s->flow_ns);
	case RF_SLOW_PHASES:
		return rf_get_phases_i64(v, s->phase_ns);
	case RF_SLOW_CAUSES:
		return rf_get_causes_i64(v, s->cause_ns);
	case RF_SLOW_ROOTS:
		return rf_get_causes_i64(v, s->root_ns);
	default:
		return 0;
	}
}

/* A string a later reader may take for granted. */
static int default_str(char **s)
{
	if (*s)
		return 0;
	*s = strdup("");
	return *s ? 0 : -ENOMEM;
}

static int parse_slow(struct rec_interval *iv, size_t *cap, const struct tlv_cur *val)
{
	struct rec_slow s = {0};
	struct tlv_cur c = *val, v;
	uint32_t tag;
	int r, err = 0;

	while (!err && (r = tlv_next(&c, &tag, &v)) == 1)
		err = slow_field(&s, tag, &v);
	if (!err && r)
		err = -EINVAL;
	if (!err)
		err = default_str(&s.partition) ?: default_str(&s.client) ?: default_str(&s.stack);
	if (!err)
		err = grow_array((void **)&iv->slow, cap, iv->nslow + 1, sizeof(s), MAX_SLOW);
	if (!err) {
		iv->slow[iv->nslow++] = s;
		return 0;
	}
	free(s.partition);
	free(s.client);
	free(s.stack);
	return err == -ERANGE ? -EINVAL : err;
}

static int parse_commit(struct rec_interval *iv, size_t *cap, const struct tlv_cur *v)
{
	int64_t c[3];
	int err = tlv_get_i64s(v, c, 3);

	if (err || c[1] < 0 || c[2] < 0 || c[2] > UINT32_MAX)
		return -EINVAL;
	err = grow_array((void **)&iv->commits, cap, iv->ncommits + 1, sizeof(*iv->commits),
			 REC_MAX_COMMITS);
	if (err)
		return err == -ERANGE ? -EINVAL : err;
	iv->commits[iv->ncommits++] = (struct rec_commit){
	    .t_start_ns = c[0], .dur_ns = (uint64_t)c[1], .dev = (uint32_t)c[2]};
	return 0;
}

struct iv_caps {
	size_t slow, commits;
};

static int add_counters(const struct tlv_cur *v, void *into, size_t size)
{
	size_t n = size / 8;
	long have = tlv_count_varints(v);
	uint64_t *tmp = calloc(n, 8), *dst = into;
	int err = !tmp				 ? -ENOMEM
		  : have < 0 || (size_t)have > n ? -EINVAL
						 : tlv_get_u64s(v, tmp, (size_t)have);

	for (size_t i = 0; !err && i < n; i++)
		dst[i] += tmp[i];
	free(tmp);
	return err;
}

static int interval_field(struct loader *l, struct rec_interval *iv, struct iv_caps *caps,
			  uint32_t tag, const struct tlv_cur *v)
{
	switch (tag) {
	case RF_IV_START:
		return tlv_get_i64(v, &iv->t_start_ns);
	case RF_IV_END:
		return tlv_get_i64(v, &iv->t_end_ns);
	case RF_IV_AGG:
		return parse_agg(l, v) ?: metrics_from_agg(l, iv);
	case RF_IV_METRIC:
		return parse_metric(l, iv, v);
	case RF_IV_BAND:
		return parse_band(iv, v);
	case RF_IV_TIME:
		return parse_time(iv, v);
	case RF_IV_TOP:
		return parse_top(iv, v);
	case RF_IV_SLOW:
		return parse_slow(iv, &caps->slow, v);
	case RF_IV_COMMIT:
		return parse_commit(iv, &caps->commits, v);
	case RF_IV_COMMITS_MORE:
		return tlv_get_u64(v, &iv->commits_more);
	case RF_IV_LOST:
		return tlv_get_u64(v, &iv->lost);
	case RF_IV_LOSS:
		return add_counters(v, &iv->loss, sizeof(iv->loss));
	case RF_IV_ATTRIBUTED:
		return tlv_get_u64(v, &iv->attributed);
	case RF_IV_GAP:
		return tlv_get_u64(v, &iv->gap_ns);
	default:
		return 0;
	}
}

static int parse_interval(struct loader *l, const struct tlv_cur *payload)
{
	struct rec *r = l->r;
	struct rec_interval *iv;
	struct iv_caps caps = {0};
	struct tlv_cur c = *payload, v;
	uint32_t tag;
	int res, err;

	err = grow_array((void **)&r->iv, &l->cap_iv, r->niv + 1, sizeof(*r->iv), MAX_INTERVALS);
	if (err)
		return fail(l, err, "%s", err == -ERANGE ? "too many intervals" : "out of memory");
	iv = &r->iv[r->niv++];
	memset(iv, 0, sizeof(*iv));
	iv->file = r->nfiles - 1;
	while (!err && (res = tlv_next(&c, &tag, &v)) == 1)
		err = interval_field(l, iv, &caps, tag, &v);
	if (err == -ENOMEM)
		return fail(l, err, "out of memory");
	if (err || res || iv->t_end_ns < iv->t_start_ns ||
	    iv->gap_ns > (uint64_t)iv->t_end_ns - (uint64_t)iv->t_start_ns)
		return fail(l, -EINVAL, "malformed interval record");
	if (iv->gap_ns) {
		r->gap_ns += iv->gap_ns;
		r->gap_intervals++;
	}
	r->loss_intervals += report_loss_any(&iv->loss);
	cur_file(l)->intervals++;
	return 0;
}

/* ---- the trailer ---- */

/* A struct of u64 counters, added field by field. */
/* A struct of counters, packed: an older writer's has fewer (the counters
 * added since are 0), never more. */
static int add_journal(struct loader *l, const struct tlv_cur *v)
{
	struct journal_overlap *j = &l->journal;
	uint64_t x[8];

	if (tlv_get_u64s(v, x, 8))
		return -EINVAL;
	j->requests += x[0];
	j->commits += x[1];
	if (x[2] > j->commit_longest_ns) {
		j->commit_longest_ns = x[2];
		j->commit_dev = (uint32_t)x[3];
	}
	j->requests_with_commit += x[4];
	j->block_ios += x[5];
	if (x[6] > j->block_longest_ns) {
		j->block_longest_ns = x[6];
		j->block_dev = (uint32_t)x[7];
	}
	return 0;
}

static int add_folded_line(struct loader *l, const char *line, size_t len)
{
	char buf[8192], *sp, *end;
	unsigned long long us;
	uint32_t idx, known;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, line, len);
	buf[len] = '\0';
	sp = strrchr(buf, ' ');
	if (!sp || sp == buf || !sp[1])
		return -EINVAL;
	*sp = '\0';
	us = strtoull(sp + 1, &end, 10);
	if (*end || sp[1] == '-')
		return -EINVAL;
	known = l->folded.n;
	idx = strtab_intern(&l->folded, buf);
	if (!idx)
		return -ENOMEM;
	if (grow_array((void **)&l->folded_us, &l->cap_folded, (size_t)idx + 1, 8, MAX_FOLDED + 1))
		return -ENOMEM;
	if (idx >= known) /* new: its slot is fresh */
		l->folded_us[idx] = 0;
	l->folded_us[idx] += us;
	return 0;
}

static int add_folded(struct loader *l, const struct tlv_cur *v)
{
	const char *p = (const char *)v->p, *end = (const char *)v->end;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int err = add_folded_line(l, p, len);

		if (err)
			return err;
		p += len + 1;
	}
	return 0;
}

static int merge_bands(struct loader *l, const struct tlv_cur *v)
{
	struct explain_config ec;

	if (!l->r->bands) {
		explain_config_default(&ec);
		l->r->bands = bands_new(ec.max_slow);
		if (!l->r->bands)
			return -ENOMEM;
	}
	return bands_merge_encoded(l->r->bands, v->p, tlv_cur_len(v));
}

static int add_cost(struct rec *r, const struct tlv_cur *val)
{
	struct tlv_cur c = *val, v;
	uint64_t u;
	double cpu;
	uint32_t tag;
	int res, err = 0;

	if (!r->cost.measured)
		r->cost.bpf_counted = true;
	r->cost.measured = true;
	while (!err && (res = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == RF_COST_CPU && !(err = tlv_get_f64(&v, &cpu)))
			r->cost.cpu_s += cpu;
		else if (tag == RF_COST_BPF_COUNTED && !(err = tlv_get_u64(&v, &u)))
			r->cost.bpf_counted &= u != 0;
		else if (tag == RF_COST_BPF_NS && !(err = tlv_get_u64(&v, &u)))
			r->cost.bpf_ns += u;
		else if (tag == RF_COST_BPF_RUNS && !(err = tlv_get_u64(&v, &u)))
			r->cost.bpf_runs += u;
	}
	return err || res ? -EINVAL : 0;
}

static int file_events(struct loader *l, const struct tlv_cur *v)
{
	static const char *const known[] = {"tracepoints", "raw", "none"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (tlv_cur_len(v) == strlen(known[i]) && !memcmp(v->p, known[i], strlen(known[i])))
			l->file_events = known[i];
	return 0;
}

/* A life of a --follow run's broker: its pids, span and counts. */
static int add_life(struct rec *r, const struct tlv_cur *payload)
{
	struct tlv_cur c = *payload, v;
	struct life x = {0};
	uint64_t pids[KLT_MAX_BROKERS], counts[4], broker = 0;
	uint32_t tag;
	long n;
	int res, err = 0;

	while (!err && (res = tlv_next(&c, &tag, &v)) == 1) {
		if (tag == RF_LIFE_PIDS) {
			x.npids = 0;
			n = tlv_count_varints(&v);
			err = n < 0 || n > KLT_MAX_BROKERS ? -EINVAL
							   : tlv_get_u64s(&v, pids, (size_t)n);
			for (long i = 0; !err && i < n; i++)
				if (pids[i] > INT32_MAX)
					err = -EINVAL;
				else
					x.pids[x.npids++] = (int)pids[i];
		} else if (tag == RF_LIFE_START) {
			err = tlv_get_i64(&v, &x.t_start);
		} else if (tag == RF_LIFE_END) {
			err = tlv_get_i64(&v, &x.t_end);
		} else if (tag == RF_LIFE_BROKER) {
			err = tlv_get_u64(&v, &broker);
			if (!err && broker >= KLT_MAX_BROKERS)
				err = -EINVAL;
			x.broker = (int)broker;
		} else if (tag == RF_LIFE_COUNTS && !(err = tlv_get_u64s(&v, counts, 4))) {
			x.requests = counts[0];
			x.produce = counts[1];
			x.records = counts[2];
			x.exit_unmatched = counts[3];
		}
	}
	/* realtime ns, after 1970: their differences cannot overflow */
	if (err || res || x.t_start < 0 || x.t_end < 0 || (x.t_end && x.t_end <= x.t_start))
		return err == -ENOMEM ? err : -EINVAL;
	return lives_add(&r->lives, &x) == -ENOMEM ? -ENOMEM : 0;
}

static int trailer_field(struct loader *l, uint32_t tag, const struct tlv_cur *v)
{
	struct rec *r = l->r;
	double d;

	switch (tag) {
	case RF_TR_BANDS:
		return merge_bands(l, v);
	case RF_TR_FOLDED:
		return add_folded(l, v);
	case RF_TR_COUNTS:
		return add_counters(v, &r->counts, sizeof(r->counts));
	case RF_TR_KERNEL:
		return add_counters(v, &r->kernel, sizeof(r->kernel));
	case RF_TR_LOST:
		return add_counters(v, &r->lost, sizeof(r->lost));
	case RF_TR_ATTRIB:
		return add_counters(v, &l->attrib, sizeof(l->attrib));
	case RF_TR_EXPLAIN:
		return add_counters(v, &l->explain, sizeof(l->explain));
	case RF_TR_JOURNAL:
		return add_journal(l, v);
	case RF_TR_COST:
		return add_cost(r, v);
	case RF_TR_DURATION:
		if (tlv_get_f64(v, &d) || !(d >= 0))
			return -EINVAL;
		cur_file(l)->duration_s = d;
		if (d > r->duration_s)
			r->duration_s = d;
		return 0;
	case RF_TR_FILE_EVENTS:
		return file_events(l, v);
	case RF_TR_LIFE:
		return add_life(r, v);
	default:
		return 0;
	}
}

static int parse_trailer(struct loader *l, const struct tlv_cur *payload)
{
	struct tlv_cur c = *payload, v;
	uint32_t tag;
	int res, err = 0;

	while (!err && (res = tlv_next(&c, &tag, &v)) == 1)
		err = trailer_field(l, tag, &v);
	if (err == -ENOMEM)
		return fail(l, err, "out of memory");
	if (err || res)
		return fail(l, -EINVAL, "malformed trailer record");
	cur_file(l)->complete = true;
	l->r->tail_files++;
	return 0;
}

/* ---- files ---- */

static int add_file(struct loader *l, const char *name)
{
	struct rec *r = l->r;
	int err = grow_array((void **)&r->files, &l->cap_files, r->nfiles + 1, sizeof(*r->files),
			     1u << 16);

	if (err) {
		snprintf(l->err, l->errlen, "%s: too many files", name);
		return err;
	}
	memset(&r->files[r->nfiles], 0, sizeof(r->files[0]));
	l->cap_meta = 0;
	r->files[r->nfiles].path = strdup(name);
	if (!r->files[r->nfiles++].path) {
		snprintf(l->err, l->errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	return 0;
}

static int one_record(struct loader *l, uint32_t type, const void *raw, size_t len)
{
	struct rec_file *f = cur_file(l);
	struct tlv_cur payload;

	tlv_cur_init(&payload, raw, len);
	if (l->recno == 1 && type != REC_TYPE_META)
		return fail(l, -EINVAL, "not a meta record (type %u): not a kafkalat recording",
			    type);
	if (f->complete)
		return fail(l, -EINVAL, "a record after the trailer");
	switch (type) {
	case REC_TYPE_META:
		return l->recno == 1 ? parse_meta(l, &payload)
				     : fail(l, -EINVAL, "a second meta record");
	case REC_TYPE_INTERVAL:
		return parse_interval(l, &payload);
	case REC_TYPE_TRAILER:
		return parse_trailer(l, &payload);
	default:
		return fail(l, -EINVAL, "unknown record type %u", type);
	}
}

/* A file without a trailer (a killed run) has no run's loss: its
 * intervals' stands in for it, by kind and in the kernel's totals, so the
 * loss shows in the summary too. */
static void add_cut_loss(struct rec *r)
{
	uint32_t file = r->nfiles - 1;
	struct report_loss l = {0};

	if (r->files[file].complete)
		return;
	for (uint32_t i = 0; i < r->niv; i++)
		if (r->iv[i].file == file)
			report_loss_add(&l, &r->iv[i].loss);
	report_loss_add(&r->cut_loss, &l);
	r->lost.socket_lost += report_loss_ring(&l, REPORT_RING_SOCKET);
	r->lost.cause_lost += report_loss_ring(&l, REPORT_RING_CAUSES);
}

static int read_records(struct loader *l, struct recfile_reader *rd, const char *name)
{
	const void *raw;
	uint32_t type;
	size_t len;
	int res, err;

	err = add_file(l, name);
	l->name = cur_file(l)->path ? cur_file(l)->path : name;
	l->recno = 0;
	for (;;) {
		if (err)
			return err;
		l->offset = recfile_offset(rd);
		res = recfile_next(rd, &type, &raw, &len);
		if (res < 0) {
			snprintf(l->err, l->errlen, "%s", recfile_error(rd));
			return res;
		}
		if (res == 0)
			break;
		l->recno++;
		err = one_record(l, type, raw, len);
	}
	if (l->recno == 0) {
		l->offset = recfile_offset(rd);
		return fail(l, -EINVAL, "no records: not a complete recording header");
	}
	add_cut_loss(l->r);
	return 0;
}

/* ---- finishing ---- */

static int by_start(const void *x, const void *y)
{
	const struct rec_interval *a = x, *b = y;

	if (a->t_start_ns != b->t_start_ns)
		return a->t_start_ns < b->t_start_ns ? -1 : 1;
	return a->file < b->file ? -1 : a->file > b->file;
}

static int by_stack(const void *x, const void *y)
{
	return strcmp(((const struct rec_folded *)x)->stack, ((const struct rec_folded *)y)->stack);
}

static int finish_folded(struct loader *l)
{
	struct rec *r = l->r;

	if (l->folded.n <= 1)
		return 0;
	r->folded = calloc(l->folded.n, sizeof(*r->folded));
	if (!r->folded)
		return -ENOMEM;
	for (uint32_t i = 1; i < l->folded.n; i++) {
		r->folded[r->nfolded].stack = strdup(strtab_str(&l->folded, i));
		if (!r->folded[r->nfolded].stack)
			return -ENOMEM;
		r->folded[r->nfolded++].us = l->folded_us[i];
	}
	qsort(r->folded, r->nfolded, sizeof(*r->folded), by_stack);
	return 0;
}

static void stack_text(void *ctx, int32_t stack_id, char *buf, size_t len)
{
	snprintf(buf, len, "%s", bands_stack_text(ctx, stack_id));
}

static int finish(struct loader *l)
{
	struct rec *r = l->r;

	if (r->niv) {
		qsort(r->iv, r->niv, sizeof(*r->iv), by_start);
		r->t_start_ns = r->iv[0].t_start_ns;
		for (uint32_t i = 0; i < r->niv; i++)
			if (r->iv[i].t_end_ns > r->t_end_ns)
				r->t_end_ns = r->iv[i].t_end_ns;
	}
	if (r->bands) {
		report_tail_fill_bands(&r->tail, r->bands, stack_text, r->bands);
		r->tail.journal = l->journal;
		r->tail.attrib = l->attrib;
		r->tail.stats = l->explain;
		r->tail.file_events = l->file_events ? l->file_events : "none";
		r->tail.lost_events = r->lost.cause_lost;
		r->tail.stack_errors = r->lost.stack_errors;
		r->has_tail = true;
	}
	if (finish_folded(l)) {
		snprintf(l->err, l->errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int loader_init(struct loader *l, struct rec *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	memset(l, 0, sizeof(*l));
	agg_init(&r->agg);
	agg_init(&l->iv_agg);
	l->r = r;
	l->err = err;
	l->errlen = errlen;
	l->scratch = malloc(sizeof(struct hist));
	if (!l->scratch || strtab_init(&l->folded, MAX_FOLDED)) {
		free(l->scratch);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int loader_done(struct loader *l, int err)
{
	if (!err)
		err = finish(l);
	free(l->scratch);
	agg_free(&l->iv_agg);
	strtab_free(&l->folded);
	free(l->folded_us);
	if (err)
		rec_free(l->r);
	return err;
}

int rec_load(struct rec *r, const char *const *paths, uint32_t npaths, char *err, size_t errlen)
{
	struct loader l;
	int res = loader_init(&l, r, err, errlen);

	for (uint32_t i = 0; !res && i < npaths; i++) {
		struct recfile_reader *rd = NULL;

		res = recfile_open(&rd, paths[i]);
		if (res)
			snprintf(err, errlen, "%s", rd ? recfile_error(rd) : "out of memory");
		else
			res = read_records(&l, rd, paths[i]);
		recfile_free(rd);
	}
	return loader_done(&l, res);
}

int rec_load_mem(struct rec *r, const void *const *bufs, const size_t *lens,
		 const char *const *names, uint32_t n, char *err, size_t errlen)
{
	struct loader l;
	int res = loader_init(&l, r, err, errlen);

	for (uint32_t i = 0; !res && i < n; i++) {
		struct recfile_reader *rd = NULL;

		res = recfile_open_mem(&rd, bufs[i], lens[i], names[i]);
		if (res)
			snprintf(err, errlen, "%s", rd ? recfile_error(rd) : "out of memory");
		else
			res = read_records(&l, rd, names[i]);
		recfile_free(rd);
	}
	return loader_done(&l, res);
}
