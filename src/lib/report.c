// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafkalat/cause.h"
#include "kafkalat/cause_events.h"
#include "kafkalat/json.h"
#include "kafkalat/fmt.h"
#include "kafkalat/kapi.h"
#include "kafkalat/report.h"
#include "kafkalat/report_repl.h"

static const struct {
	const char *name;
	double q;
} quantiles[] = {
    {"p50", 0.50},
    {"p90", 0.90},
    {"p99", 0.99},
    {"p999", 0.999},
};

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

/* P50..MAX: the latency on the wire; BROKER_P99 the broker's own (first
 * read to last write); NOWIRE the requests without wire times, not in the
 * latency columns. */
void report_interval_header(FILE *out)
{
	fprintf(out, "%-8s  %-16s %9s %9s %9s %9s %9s %9s %10s %7s\n", "TIME", "API", "REQ/S",
		"P50", "P90", "P99", "P99.9", "MAX", "BROKER_P99", "NOWIRE");
}

static void fmt_rate(double rate, char *buf, size_t len)
{
	snprintf(buf, len, rate < 10 ? "%.1f" : "%.0f", rate);
}

static void interval_row(FILE *out, const char *timestr, const char *api, const struct agg *a,
			 int k, double secs)
{
	const struct hist *h = agg_latency(a, k), *b = agg_hist(a, AGG_BROKER, k);
	uint64_t n = agg_count(a, k);
	char q[4][16] = {"-", "-", "-", "-"}, mx[16] = "-", brk[16] = "-", rate[24];

	fmt_rate(secs > 0 ? (double)n / secs : 0.0, rate, sizeof(rate));
	if (h && !hist_empty(h)) {
		for (int i = 0; i < 4; i++)
			fmt_ns(hist_quantile(h, quantiles[i].q), q[i], sizeof(q[i]));
		fmt_ns(h->max, mx, sizeof(mx));
	}
	if (b && !hist_empty(b))
		fmt_ns(hist_quantile(b, 0.99), brk, sizeof(brk));
	fprintf(out, "%-8s  %-16s %9s %9s %9s %9s %9s %9s %10s %7" PRIu64 "\n", timestr, api, rate,
		q[0], q[1], q[2], q[3], mx, brk, agg_wire_unknown(a, k));
}

void report_interval_text(FILE *out, const struct agg *iv, double secs, const char *timestr,
			  const struct report_follow_iv *f)
{
	char pids[96];

	/* Produce always gets its row, idle or not: it is what the tool is for */
	interval_row(out, timestr, "Produce", iv, 0, secs);
	for (int k = 1; k < AGG_MAX_API; k++)
		if (agg_count(iv, k))
			interval_row(out, "", kapi_name((int16_t)k), iv, k, secs);
	if (f && f->gap_s > 0 && f->nbrokers <= 1) {
		fmt_pids(f->pids, f->npids, pids, sizeof(pids));
		fprintf(out, "%-8s  gap: no broker attached for %.3f s (pids traced: %s)\n", "",
			f->gap_s, pids);
	}
	for (int b = 0; f && f->nbrokers > 1 && b < f->nbrokers; b++)
		if (f->broker_gap_s[b] > 0)
			fprintf(out, "%-8s  gap: broker %d not attached for %.3f s\n", "", b + 1,
				f->broker_gap_s[b]);
	if (f && f->gap_s > 0 && f->nbrokers > 1) {
		fmt_pids(f->pids, f->npids, pids, sizeof(pids));
		fprintf(out, "%-8s  pids traced: %s\n", "", pids);
	}
	fflush(out);
}

static void json_quantiles(struct json *j, const char *key, const struct hist *h)
{
	json_key(j, key);
	json_obj_begin(j);
	for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++)
		json_kdouble(j, quantiles[i].name, h ? us(hist_quantile(h, quantiles[i].q)) : 0);
	json_kdouble(j, "max", h ? us(h->max) : 0);
	json_kdouble(j, "mean", h ? hist_mean(h) / 1e3 : 0);
	json_obj_end(j);
}

/* latency_us (on the wire), broker_latency_us and wire_unknown of api k */
static void json_latencies(struct json *j, const struct agg *a, int k)
{
	json_quantiles(j, "latency_us", agg_latency(a, k));
	json_quantiles(j, "broker_latency_us", agg_hist(a, AGG_BROKER, k));
	json_kuint(j, "wire_unknown", agg_wire_unknown(a, k));
}

static void json_apis(struct json *j, const struct agg *a)
{
	json_key(j, "apis");
	json_obj_begin(j);
	for (int k = 0; k < AGG_MAX_API; k++) {
		if (!agg_count(a, k))
			continue;
		json_key(j, kapi_name((int16_t)k));
		json_obj_begin(j);
		json_kuint(j, "requests", agg_count(a, k));
		json_latencies(j, a, k);
		json_obj_end(j);
	}
	json_obj_end(j);
}

/* The bound on the wait before arrival that no broker-side clock sees. */
static void json_flow(struct json *j, const struct agg *a)
{
	json_key(j, "flow_blocked");
	json_obj_begin(j);
	json_kuint(j, "requests", a->flow ? a->flow->count : 0);
	json_kdouble(j, "p99_us", a->flow ? us(hist_quantile(a->flow, 0.99)) : 0);
	json_kdouble(j, "max_us", a->flow ? us(a->flow->max) : 0);
	json_kdouble(j, "total_us", us(a->flow_total_ns));
	json_obj_end(j);
}

static void json_pids(struct json *j, const char *key, const int *pids, int npids)
{
	json_key(j, key);
	json_arr_begin(j);
	for (int i = 0; i < npids; i++)
		json_int(j, pids[i]);
	json_arr_end(j);
}

static uint64_t sum(const uint64_t *v, int n);

/* A loss in it, or requests it touched (those come when they complete). */
bool report_loss_any(const struct report_loss *l)
{
	return sum(l->socket, KLT_LOST_KINDS) || sum(l->causes, 16) || l->touched ||
	       l->causes_touched;
}

void report_loss_add(struct report_loss *to, const struct report_loss *l)
{
	uint64_t *t = (uint64_t *)to;
	const uint64_t *v = (const uint64_t *)l;

	/* every field a u64 counter: they add one by one */
	_Static_assert(sizeof(*l) == sizeof(uint64_t) * (KLT_LOST_KINDS + 16 + 3),
		       "struct report_loss holds only u64 counters");
	for (size_t i = 0; i < sizeof(*l) / sizeof(uint64_t); i++)
		t[i] += v[i];
}

static const char *cause_kind_name(unsigned int k)
{
	return cause_event_name(KLC_EV_FILE + k);
}

static const struct {
	const char *name;
	const char *(*kind)(unsigned int);
	unsigned int nkinds;
} rings[REPORT_RINGS] = {
    [REPORT_RING_SOCKET] = {"socket", corr_lost_kind_name, KLT_LOST_KINDS},
    [REPORT_RING_CAUSES] = {"causes", cause_kind_name, 16},
};

const char *report_ring_name(unsigned int ring)
{
	return ring < REPORT_RINGS ? rings[ring].name : NULL;
}

static const uint64_t *ring_counts(const struct report_loss *l, unsigned int ring)
{
	return ring == REPORT_RING_SOCKET ? l->socket : l->causes;
}

uint64_t report_loss_ring(const struct report_loss *l, unsigned int ring)
{
	return ring < REPORT_RINGS ? sum(ring_counts(l, ring), (int)rings[ring].nkinds) : 0;
}

void report_loss_kinds(const struct report_loss *l, unsigned int ring, bool zeros,
		       report_loss_kind_fn fn, void *ctx)
{
	const uint64_t *v = ring < REPORT_RINGS ? ring_counts(l, ring) : NULL;

	for (unsigned int k = 0; v && k < rings[ring].nkinds; k++)
		if ((v[k] || zeros) && rings[ring].kind(k))
			fn(ctx, rings[ring].kind(k), v[k]);
}

static void json_kind(void *ctx, const char *kind, uint64_t n)
{
	json_kuint(ctx, kind, n);
}

void report_loss_json(struct json *j, const struct report_loss *l)
{
	char key[32];

	json_key(j, "loss");
	json_bool(j, report_loss_any(l));
	json_key(j, "lost");
	json_obj_begin(j);
	for (unsigned int ring = 0; ring < REPORT_RINGS; ring++) {
		json_kuint(j, report_ring_name(ring), report_loss_ring(l, ring));
		snprintf(key, sizeof(key), "%s_kinds", report_ring_name(ring));
		json_key(j, key);
		json_obj_begin(j);
		report_loss_kinds(l, ring, false, json_kind, j);
		json_obj_end(j);
	}
	json_kuint(j, "touched_requests", l->touched);
	json_kuint(j, "touched_produce", l->produce_touched);
	json_kuint(j, "unattributed_lost_causes", l->causes_touched);
	json_obj_end(j);
}

struct text_kinds {
	FILE *out;
	const char *sep;
};

static void text_kind(void *ctx, const char *kind, uint64_t n)
{
	struct text_kinds *t = ctx;

	fprintf(t->out, "%s%s %" PRIu64, t->sep, kind, n);
	t->sep = ", ";
}

void report_loss_ring_text(FILE *out, const struct report_loss *l, unsigned int ring)
{
	struct text_kinds t = {out, " ("};

	fprintf(out, "%" PRIu64, report_loss_ring(l, ring));
	report_loss_kinds(l, ring, false, text_kind, &t);
	if (*t.sep == ',')
		fputc(')', out);
}

void report_loss_text(FILE *out, const struct report_loss *l, const char *prefix)
{
	if (!report_loss_any(l))
		return;
	fprintf(out, "%slost (ring full):", prefix);
	for (unsigned int ring = 0; ring < REPORT_RINGS; ring++) {
		fprintf(out, "%s %s ", ring ? "," : "", report_ring_name(ring));
		report_loss_ring_text(out, l, ring);
	}
	fprintf(out,
		"; requests touched %" PRIu64 " (Produce %" PRIu64 "), not in the latencies; "
		"Produce unattributed for lost causes %" PRIu64 "\n",
		l->touched, l->produce_touched, l->causes_touched);
}

void report_interval_json(FILE *out, const struct agg *iv, double secs, const char *timestr,
			  const struct report_follow_iv *f, const struct report_loss *loss)
{
	struct json j;

	json_init(&j, out);
	json_obj_begin(&j);
	json_kstr(&j, "schema", REPORT_SCHEMA);
	json_kstr(&j, "type", "interval");
	json_kstr(&j, "time", timestr);
	json_kdouble(&j, "interval_s", secs);
	if (f) {
		json_pids(&j, "broker_pids", f->pids, f->npids);
		json_key(&j, "gap");
		json_bool(&j, f->gap_s > 0);
		json_kdouble(&j, "gap_s", f->gap_s);
		/* several brokers: whose gap it was */
		if (f->nbrokers > 1) {
			json_key(&j, "broker_gap_s");
			json_arr_begin(&j);
			for (int b = 0; b < f->nbrokers; b++)
				json_double(&j, f->broker_gap_s[b]);
			json_arr_end(&j);
		}
	}
	json_key(&j, "produce");
	json_obj_begin(&j);
	json_kuint(&j, "requests", agg_count(iv, 0));
	json_kdouble(&j, "rate", secs > 0 ? (double)agg_count(iv, 0) / secs : 0);
	json_kuint(&j, "acks0", iv->produce_acks0);
	json_latencies(&j, iv, 0);
	json_flow(&j, iv);
	json_obj_end(&j);
	json_apis(&j, iv);
	report_loss_json(&j, loss);
	json_obj_end(&j);
	fputc('\n', out);
	fflush(out);
}

static uint64_t sum(const uint64_t *v, int n)
{
	uint64_t s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* The correlator's wire records: what resolved the sent-later responses and
 * bounded the flow-control waits, and what was left over. */
static void wire_counts_text(FILE *out, const struct corr_counts *n)
{
	char unclaimed[16];

	if (n->wire_skipped_conns)
		fprintf(out, "  connections without wire times (kTLS or sockmap) %" PRIu64 "\n",
			n->wire_skipped_conns);
	if (!n->sent_events && !n->flow_events && !n->arrival_backlog && !n->arrival_records)
		return;
	fmt_ns(n->flow_unclaimed_ns, unclaimed, sizeof(unclaimed));
	fprintf(out,
		"  wire records: sent %" PRIu64 ", full receive windows %" PRIu64
		" (%s reaching no request), requests arriving through the socket backlog "
		"%" PRIu64 ", arrivals handed on by the kernel %" PRIu64 " (%" PRIu64
		" not kept, %" PRIu64 " requests still without one)\n",
		n->sent_events, n->flow_events, unclaimed, n->arrival_backlog, n->arrival_records,
		n->arrival_records_dropped, n->arrival_evicted);
}

static void summary_counts_text(FILE *out, const struct report_run *run)
{
	const struct corr_counts *n = run->counts;

	fprintf(out,
		"  connections %" PRIu64 " (%" PRIu64 " open before attach), requests %" PRIu64
		", responses %" PRIu64 "\n",
		n->connections, n->preexisting, n->requests, n->responses);
	fprintf(out,
		"  produce acks=0 %" PRIu64 ", produce unmatched %" PRIu64
		", unmatched (all apis) %" PRIu64 ", partial at attach %" PRIu64 "\n",
		n->acks0, sum(n->produce_unmatched, CORR_UNM_MAX), sum(n->unmatched, CORR_UNM_MAX),
		n->partial);
	for (int r = 0; r < CORR_UNM_MAX; r++)
		if (n->unmatched[r])
			fprintf(out, "    unmatched %-12s %" PRIu64 "\n",
				corr_unmatched_name((enum corr_unmatched_reason)r),
				n->unmatched[r]);
	if (n->unmatched_responses)
		fprintf(out, "  responses without a request %" PRIu64 "\n", n->unmatched_responses);
	fprintf(out, "  lost events %" PRIu64 ", undecodable connections %" PRIu64 "\n",
		run->lost_events, n->undecodable_conns);
	for (unsigned r = 0; r < KLT_BAD_REASON_MAX; r++)
		if (n->undecodable[r])
			fprintf(out, "    undecodable %-20s %" PRIu64 "\n", corr_bad_reason_name(r),
				n->undecodable[r]);
	report_loss_text(out, &run->loss, "  ");
	if (run->conn_table_full)
		fprintf(out, "  connections not tracked (kernel table full) %" PRIu64 "\n",
			run->conn_table_full);
	wire_counts_text(out, n);
}

/* kafkalat's own cost, per completed produce request when there were any. */
static void cost_text(FILE *out, const struct agg *total, const struct report_cost *c)
{
	uint64_t reqs = agg_count(total, 0);

	if (!c->measured)
		return;
	fprintf(out, "  kafkalat's own cost: CPU %.3f s", c->cpu_s);
	if (reqs)
		fprintf(out, " (%.2f us per produce request)", c->cpu_s * 1e6 / (double)reqs);
	if (!c->bpf_counted) {
		fprintf(out, "; BPF time not counted (--bpf-stats)\n");
		return;
	}
	fprintf(out, "; BPF programs %.3f s in %" PRIu64 " runs", (double)c->bpf_ns / 1e9,
		c->bpf_runs);
	if (reqs)
		fprintf(out, " (%.2f us and %.1f runs per produce request)",
			(double)c->bpf_ns / 1e3 / (double)reqs, (double)c->bpf_runs / (double)reqs);
	fputc('\n', out);
}

static void cost_json(struct json *j, const struct agg *total, const struct report_cost *c)
{
	uint64_t reqs = agg_count(total, 0);

	if (!c->measured)
		return;
	json_key(j, "cost");
	json_obj_begin(j);
	json_kdouble(j, "cpu_s", c->cpu_s);
	if (reqs)
		json_kdouble(j, "cpu_us_per_request", c->cpu_s * 1e6 / (double)reqs);
	json_key(j, "bpf_counted");
	json_bool(j, c->bpf_counted);
	if (c->bpf_counted) {
		json_kuint(j, "bpf_ns", c->bpf_ns);
		json_kuint(j, "bpf_runs", c->bpf_runs);
		if (reqs) {
			json_kdouble(j, "bpf_ns_per_request", (double)c->bpf_ns / (double)reqs);
			json_kdouble(j, "bpf_runs_per_request", (double)c->bpf_runs / (double)reqs);
		}
	}
	json_obj_end(j);
}

static void quantiles_text(FILE *out, const struct hist *h)
{
	char p50[16], p99[16], p999[16], mx[16];

	fmt_ns(hist_quantile(h, 0.5), p50, sizeof(p50));
	fmt_ns(hist_quantile(h, 0.99), p99, sizeof(p99));
	fmt_ns(hist_quantile(h, 0.999), p999, sizeof(p999));
	fmt_ns(h->max, mx, sizeof(mx));
	fprintf(out, "p50 %s, p99 %s, p99.9 %s, max %s", p50, p99, p999, mx);
}

/* What the latency is, what is left out of it and the bound beside it. */
static void wire_text(FILE *out, const struct agg *a)
{
	const struct hist *b = agg_hist(a, AGG_BROKER, 0), *nw = agg_hist(a, AGG_BROKER_NOWIRE, 0);
	uint64_t unknown = agg_wire_unknown(a, 0);
	char total[16];

	fprintf(out, "  latency: the client's wait, from the request's first byte in the broker's "
		     "socket to its response's last byte out\n");
	if (b && !hist_empty(b)) {
		fprintf(out,
			"  broker latency (first read to last write, as Kafka's TotalTimeMs): ");
		quantiles_text(out, b);
		fputc('\n', out);
	}
	fprintf(out, "  produce requests without wire times: %" PRIu64, unknown);
	for (unsigned w = 1; w < CORR_WIRE_MAX; w++)
		if (a->produce_wire_unknown[w])
			fprintf(out, " (%s %" PRIu64 ")", corr_wire_name(w),
				a->produce_wire_unknown[w]);
	if (unknown && nw && !hist_empty(nw)) {
		fprintf(out, ", not in the latency; their broker latency ");
		quantiles_text(out, nw);
	}
	fputc('\n', out);
	if (!a->flow || hist_empty(a->flow))
		return;
	fmt_ns(a->flow_total_ns, total, sizeof(total));
	fprintf(out,
		"  flow control (not in the latency): %" PRIu64
		" produce requests arrived after a full receive window, %s in all; bound ",
		a->flow->count, total);
	quantiles_text(out, a->flow);
	fputc('\n', out);
}

/* The requests counted for tgid's connections; NULL if none were. */
static const struct corr_broker_count *broker_counts(const struct corr_counts *n, int pid)
{
	for (int i = 0; n && i < n->nbrokers; i++)
		if ((int)n->brokers[i].tgid == pid)
			return &n->brokers[i];
	return NULL;
}

/* The run's brokers, or in a replay the tgids its connections had, with
 * no comm or ports: how many went into out. */
static int run_brokers(const struct report_run *run, struct report_broker *out)
{
	int n = 0;

	if (run->nbrokers > 0) {
		memcpy(out, run->brokers, (size_t)run->nbrokers * sizeof(*out));
		return run->nbrokers;
	}
	for (int i = 0; run->counts && i < run->counts->nbrokers; i++, n++) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].pid = (int)run->counts->brokers[i].tgid;
		snprintf(out[n].comm, sizeof(out[n].comm), "?");
	}
	return n;
}

/* Several brokers: a line each with its requests. */
static void brokers_text(FILE *out, const struct report_run *run)
{
	struct report_broker b[KLT_MAX_BROKERS];
	int n = run_brokers(run, b);
	char ports[64];

	if (n < 2)
		return;
	for (int i = 0; i < n; i++) {
		const struct corr_broker_count *c = broker_counts(run->counts, b[i].pid);

		fmt_ports(b[i].ports, b[i].nports, ports, sizeof(ports));
		fprintf(out,
			"  broker pid %d (%s), port %s: %" PRIu64 " requests, %" PRIu64
			" produce, %" PRIu64 " fetch (%" PRIu64 " follower)\n",
			b[i].pid, b[i].comm, b[i].nports ? ports : "?", c ? c->requests : 0,
			c ? c->produce : 0, c ? c->fetch : 0, c ? c->follower_fetches : 0);
	}
}

static double life_s(const struct report_run *run, int64_t t)
{
	/* in double: a recording's times are any numbers */
	return ((double)t - (double)run->lives_origin_ns) / 1e9;
}

/* --follow: each life with its pids and requests, and the gaps; with
 * several brokers, whose each is. */
static void lives_text(FILE *out, const struct report_run *run)
{
	const struct lives *l = run->lives;
	bool several = l && l->nbrokers > 1;
	char pids[96], who[16] = "";

	for (size_t i = 0; l && i < l->n; i++) {
		const struct life *x = &l->v[i];
		int64_t next = lives_next_start(l, i, run->lives_end_ns);

		fmt_pids(x->pids, x->npids, pids, sizeof(pids));
		if (several)
			snprintf(who, sizeof(who), " %d", x->broker + 1);
		fprintf(out,
			"  life %zu: broker%s pid %s, %.3f s to %.3f s%s: %" PRIu64
			" requests completed, %" PRIu64 " produce (%" PRIu64 " records)",
			i + 1, who, pids, life_s(run, x->t_start),
			life_s(run, x->t_end ? x->t_end : run->lives_end_ns),
			x->t_end ? "" : " (still running)", x->requests, x->produce, x->records);
		if (x->t_end)
			fprintf(out, ", %" PRIu64 " left unanswered by its exit",
				x->exit_unmatched);
		fputc('\n', out);
		if (x->t_end && next > x->t_end)
			fprintf(out, "  gap: %s%s%s attached from %.3f s to %.3f s (%.3f s)\n",
				several ? "broker" : "no broker", several ? who : "",
				several ? " not" : "", life_s(run, x->t_end), life_s(run, next),
				((double)next - (double)x->t_end) / 1e9);
	}
	if (run->gap_intervals)
		fprintf(out, "  intervals with a gap: %u (%.3f s with %s attached)\n",
			run->gap_intervals, (double)run->interval_gap_ns / 1e9,
			several ? "a broker not" : "no broker");
}

void report_summary_text(FILE *out, const struct agg *total, const struct report_run *run)
{
	char ports[64];

	fmt_ports(run->ports, run->nports, ports, sizeof(ports));
	if (run->nbrokers > 1)
		fprintf(out, "\nSummary: %d brokers, port %s, %.1f s\n", run->nbrokers, ports,
			run->duration_s);
	else
		fprintf(out, "\nSummary: broker pid %d (%s), port %s, %.1f s\n", run->pid,
			run->comm, ports, run->duration_s);
	brokers_text(out, run);
	report_interval_header(out);
	report_interval_text(out, total, run->duration_s, "total", NULL);
	lives_text(out, run);
	wire_text(out, total);
	if (total->produce_records)
		fprintf(out, "  produce: %" PRIu64 " records, %" PRIu64 " record bytes\n",
			total->produce_records, total->produce_bytes);
	summary_counts_text(out, run);
	cost_text(out, total, &run->cost);
	if (run->tail)
		report_tail_text(out, run->tail);
	if (run->repl)
		report_repl_text(out, run->repl, run->wall_offset_ns);
	fflush(out);
}

static void json_reasons(struct json *j, const uint64_t *v, int n, const char *(*name)(int))
{
	json_key(j, "reasons");
	json_obj_begin(j);
	for (int r = 0; r < n; r++)
		if (v[r])
			json_kuint(j, name(r), v[r]);
	json_obj_end(j);
}

static const char *unm_name(int r)
{
	return corr_unmatched_name((enum corr_unmatched_reason)r);
}

static const char *bad_name(int r)
{
	return corr_bad_reason_name((unsigned)r);
}

static void summary_produce_json(struct json *j, const struct agg *total,
				 const struct report_run *run)
{
	const struct corr_counts *n = run->counts;

	json_key(j, "produce");
	json_obj_begin(j);
	json_kuint(j, "requests", agg_count(total, 0));
	json_kuint(j, "acks0", total->produce_acks0);
	json_kuint(j, "unmatched", sum(n->produce_unmatched, CORR_UNM_MAX));
	json_kuint(j, "records", total->produce_records);
	json_kuint(j, "record_bytes", total->produce_bytes);
	json_latencies(j, total, 0);
	json_key(j, "wire_unknown_reasons");
	json_obj_begin(j);
	for (unsigned w = 1; w < CORR_WIRE_MAX; w++)
		if (total->produce_wire_unknown[w])
			json_kuint(j, corr_wire_name(w), total->produce_wire_unknown[w]);
	json_obj_end(j);
	json_quantiles(j, "wire_unknown_broker_latency_us", agg_hist(total, AGG_BROKER_NOWIRE, 0));
	json_flow(j, total);
	json_obj_end(j);
}

static void broker_json(struct json *j, const struct report_run *run)
{
	json_key(j, "broker");
	json_obj_begin(j);
	json_kint(j, "pid", run->pid);
	json_kstr(j, "comm", run->comm);
	json_key(j, "ports");
	json_arr_begin(j);
	for (int i = 0; i < run->nports; i++)
		json_uint(j, run->ports[i]);
	json_arr_end(j);
	json_obj_end(j);
}

/* Every broker with its requests (absent when none is known). */
static void brokers_json(struct json *j, const struct report_run *run)
{
	struct report_broker b[KLT_MAX_BROKERS];
	int n = run_brokers(run, b);

	if (!n)
		return;
	json_key(j, "brokers");
	json_arr_begin(j);
	for (int i = 0; i < n; i++) {
		const struct corr_broker_count *c = broker_counts(run->counts, b[i].pid);

		json_obj_begin(j);
		json_kint(j, "pid", b[i].pid);
		json_kstr(j, "comm", b[i].comm);
		json_key(j, "ports");
		json_arr_begin(j);
		for (int k = 0; k < b[i].nports; k++)
			json_uint(j, b[i].ports[k]);
		json_arr_end(j);
		json_kuint(j, "requests", c ? c->requests : 0);
		json_kuint(j, "produce_requests", c ? c->produce : 0);
		json_kuint(j, "fetch_requests", c ? c->fetch : 0);
		json_kuint(j, "follower_fetches", c ? c->follower_fetches : 0);
		json_obj_end(j);
	}
	json_arr_end(j);
}

/* The correlator's counts: connections, requests, what did not match. */
static void counts_json(struct json *j, const struct report_run *run)
{
	const struct corr_counts *n = run->counts;

	json_key(j, "connections");
	json_obj_begin(j);
	json_kuint(j, "seen", n->connections);
	json_kuint(j, "preexisting", n->preexisting);
	json_kuint(j, "untracked", run->conn_table_full);
	json_kuint(j, "wire_skipped", n->wire_skipped_conns);
	json_obj_end(j);
	json_kuint(j, "requests", n->requests);
	json_kuint(j, "responses", n->responses);
	json_kuint(j, "partial", n->partial);
	json_key(j, "unmatched");
	json_obj_begin(j);
	json_kuint(j, "requests", sum(n->unmatched, CORR_UNM_MAX));
	json_reasons(j, n->unmatched, CORR_UNM_MAX, unm_name);
	json_kuint(j, "responses", n->unmatched_responses);
	json_obj_end(j);
	json_key(j, "undecodable");
	json_obj_begin(j);
	json_kuint(j, "connections", n->undecodable_conns);
	json_reasons(j, n->undecodable, KLT_BAD_REASON_MAX, bad_name);
	json_obj_end(j);
	json_kuint(j, "resync_skipped_syscalls", run->resync_skipped);
	json_kuint(j, "desyncs", n->desyncs);
	json_kuint(j, "bad_events", n->bad_events);
}

/* The wire records as the correlator read them (a replay has them too). */
static void wire_json(struct json *j, const struct corr_counts *n)
{
	json_key(j, "wire");
	json_obj_begin(j);
	json_kuint(j, "sent_records", n->sent_events);
	json_kuint(j, "flow_records", n->flow_events);
	json_kdouble(j, "flow_unclaimed_us", us(n->flow_unclaimed_ns));
	json_kuint(j, "arrival_backlog", n->arrival_backlog);
	json_kuint(j, "arrival_records", n->arrival_records);
	json_kuint(j, "arrival_records_dropped", n->arrival_records_dropped);
	json_kuint(j, "arrival_unresolved", n->arrival_evicted);
	json_obj_end(j);
}

/* The kernel side's counters (live runs only). */
static void kernel_json(struct json *j, const struct report_run *run)
{
	json_key(j, "kernel");
	json_obj_begin(j);
	json_kuint(j, "syscalls", run->kernel.syscalls);
	json_kuint(j, "steps", run->kernel.steps);
	json_kuint(j, "arrivals", run->kernel.arrivals);
	json_kuint(j, "arrival_unknown", run->kernel.arrival_unknown);
	json_kuint(j, "sent_later", run->kernel.sent_later);
	json_kuint(j, "arrival_no_ring", run->kernel.arrival_no_ring);
	json_kuint(j, "arrival_backlog", run->kernel.arrival_backlog);
	json_kuint(j, "wire_skipped", run->kernel.wire_skipped);
	json_kuint(j, "sent_events", run->kernel.sent_events);
	json_kuint(j, "flow_events", run->kernel.flow_events);
	json_kuint(j, "arrival_evicted", run->kernel.arrival_evicted);
	json_kuint(j, "arrival_events", run->kernel.arrival_events);
	json_kuint(j, "arrival_dropped", run->kernel.arrival_dropped);
	json_obj_end(j);
}

/* --follow: "lives" (each with its pids, span and requests) and "gaps". */
static void lives_json(struct json *j, const struct report_run *run)
{
	const struct lives *l = run->lives;
	int64_t gap_ns;
	size_t ngaps;

	if (!l && !run->gap_intervals)
		return;
	ngaps = l ? lives_gaps(l, run->lives_end_ns, &gap_ns) : 0;
	if (!l)
		gap_ns = (int64_t)run->interval_gap_ns;
	json_key(j, "lives");
	json_arr_begin(j);
	for (size_t i = 0; l && i < l->n; i++) {
		const struct life *x = &l->v[i];

		json_obj_begin(j);
		json_kint(j, "broker", x->broker + 1);
		json_pids(j, "pids", x->pids, x->npids);
		json_kdouble(j, "start_s", life_s(run, x->t_start));
		json_key(j, "end_s");
		if (x->t_end)
			json_double(j, life_s(run, x->t_end));
		else
			json_null(j);
		json_kuint(j, "requests", x->requests);
		json_kuint(j, "produce_requests", x->produce);
		json_kuint(j, "records", x->records);
		json_kuint(j, "exit_unmatched", x->exit_unmatched);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "gaps");
	json_obj_begin(j);
	json_kuint(j, "count", ngaps);
	json_kdouble(j, "total_s", (double)gap_ns / 1e9);
	if (run->gap_intervals)
		json_kuint(j, "intervals", run->gap_intervals);
	json_obj_end(j);
}

void report_summary_json(FILE *out, const struct agg *total, const struct report_run *run)
{
	struct json j;

	json_init(&j, out);
	json_obj_begin(&j);
	json_kstr(&j, "schema", REPORT_SCHEMA);
	json_kstr(&j, "type", "summary");
	broker_json(&j, run);
	brokers_json(&j, run);
	lives_json(&j, run);
	json_kdouble(&j, "duration_s", run->duration_s);
	json_kuint(&j, "lost_events", run->lost_events);
	report_loss_json(&j, &run->loss);
	summary_produce_json(&j, total, run);
	json_apis(&j, total);
	counts_json(&j, run);
	wire_json(&j, run->counts);
	kernel_json(&j, run);
	cost_json(&j, total, &run->cost);
	if (run->tail)
		report_tail_json(&j, run->tail);
	if (run->repl)
		report_repl_json(&j, run->repl, run->wall_offset_ns);
	json_obj_end(&j);
	fputc('\n', out);
	fflush(out);
}

/* "t1-0,t1-1,t2-3" into buf, truncated with "..." */
static void format_partitions(const struct corr_request *r, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->nparts && off + 1 < len; i++) {
		const struct corr_part *p = &r->parts[i];
		const char *topic = p->topic_idx < r->ntopics ? r->topics[p->topic_idx].name : "?";
		int n =
		    snprintf(buf + off, len - off, "%s%s-%d", i ? "," : "", topic, p->partition);

		if (n < 0 || (size_t)n >= len - off) {
			if (len > 4)
				memcpy(buf + len - 4, "...", 4);
			return;
		}
		off += (size_t)n;
	}
	if (!r->nparts)
		snprintf(buf, len, "-");
}

/* LATENCY on the wire ("-" when unknown), BROKER first read to last write,
 * FLOW the full-window bound before its arrival. */
void report_slow_header(FILE *out)
{
	fprintf(out, "%-15s  %-21s %-16s %-28s %10s %10s %10s %10s\n", "TIME", "CLIENT",
		"CLIENT_ID", "TOPIC-PARTITIONS", "BYTES", "LATENCY", "BROKER", "FLOW");
}

/* Without an attribution (no causes traced), what a request waited behind
 * is still known from its own times; its root cause is not. */
static void hol_text(FILE *out, const struct corr_request *r)
{
	int64_t hol = attrib_hol_ns(r);
	char t[16];

	if (hol <= 0)
		return;
	fmt_ns((uint64_t)hol, t, sizeof(t));
	fprintf(out, "    waited %s in the socket behind corr %d\n", t, r->prev_corr_id);
}

static void hol_json(struct json *j, const struct corr_request *r)
{
	int64_t hol = attrib_hol_ns(r);

	if (hol <= 0)
		return;
	json_key(j, "hol");
	json_obj_begin(j);
	json_kdouble(j, "us", (double)hol / 1e3);
	json_kint(j, "behind_corr", r->prev_corr_id);
	json_obj_end(j);
}

void report_slow_text(FILE *out, const struct corr_request *r, int64_t wall_offset_ns,
		      const struct report_attrib *a)
{
	char when[32], lat[16] = "-", brk[16], flow[16] = "-", parts[256];
	uint64_t wire;

	fmt_wall(r->t_end, wall_offset_ns, when, sizeof(when));
	if (corr_wire_latency(r, &wire))
		fmt_ns(wire, lat, sizeof(lat));
	fmt_ns(corr_broker_latency(r), brk, sizeof(brk));
	if (r->flow_blocked_ns)
		fmt_ns(r->flow_blocked_ns, flow, sizeof(flow));
	format_partitions(r, parts, sizeof(parts));
	fprintf(out, "%-15s  %-21s %-16s %-28s %10" PRIu64 " %10s %10s %10s\n", when, r->client,
		r->client_id, parts, r->record_bytes, lat, brk, flow);
	if (r->wire != CORR_WIRE_KNOWN)
		fprintf(out, "    wire times unknown: %s\n", corr_wire_name(r->wire));
	if (a && a->res)
		report_attrib_text(out, a);
	else
		hol_text(out, r);
	fflush(out);
}

static void json_partitions(struct json *j, const struct corr_request *r)
{
	json_key(j, "partitions");
	json_arr_begin(j);
	for (size_t i = 0; i < r->nparts; i++) {
		const struct corr_part *p = &r->parts[i];

		json_obj_begin(j);
		json_kstr(j, "topic",
			  p->topic_idx < r->ntopics ? r->topics[p->topic_idx].name : "?");
		json_kint(j, "partition", p->partition);
		json_kint(j, "bytes", p->record_bytes);
		json_kuint(j, "records", p->records);
		json_obj_end(j);
	}
	json_arr_end(j);
}

/* A wire time: 0 is unknown, never a time (CLOCK_MONOTONIC is never 0). */
static void json_ktime_or_null(struct json *j, const char *key, uint64_t t)
{
	if (t) {
		json_kuint(j, key, t);
		return;
	}
	json_key(j, key);
	json_null(j);
}

static void json_request_fields(struct json *j, const struct corr_request *r)
{
	uint64_t wire;

	json_kstr(j, "client", r->client);
	json_kint(j, "corr", r->corr_id);
	json_kint(j, "api_version", r->api_version);
	json_kint(j, "acks", r->acks);
	json_kstr(j, "client_id", r->client_id);
	json_kuint(j, "size", r->size);
	json_partitions(j, r);
	json_kuint(j, "t_first_ns", r->t_first);
	json_kuint(j, "t_read_ns", r->t_read);
	json_kuint(j, "t_resp_ns", r->t_resp);
	json_kuint(j, "t_end_ns", r->t_end);
	json_ktime_or_null(j, "t_arrival_ns", r->t_arrival);
	json_ktime_or_null(j, "t_complete_ns", r->t_complete);
	json_ktime_or_null(j, "t_sent_ns", r->t_sent);
	json_kuint(j, "tid_read", r->tid_read);
	if (r->t_end)
		json_kstr(j, "wire", corr_wire_name(r->wire));
	if (r->arrival_backlog) {
		json_key(j, "arrival_backlog");
		json_bool(j, true);
	}
	json_kdouble(j, "flow_blocked_us", us(r->flow_blocked_ns));
	/* only a throttle: it explains the next request's throttle_mute */
	if (r->throttle_ms > 0)
		json_kint(j, "throttle_ms", r->throttle_ms);
	json_key(j, "latency_us");
	if (r->t_end && corr_wire_latency(r, &wire))
		json_double(j, us(wire));
	else
		json_null(j);
	json_key(j, "broker_latency_us");
	if (r->t_end)
		json_double(j, us(corr_broker_latency(r)));
	else
		json_null(j);
}

void report_slow_json(FILE *out, const struct corr_request *r, int64_t wall_offset_ns,
		      const struct report_attrib *a)
{
	char when[32];
	struct json j;

	fmt_wall(r->t_end, wall_offset_ns, when, sizeof(when));
	json_init(&j, out);
	json_obj_begin(&j);
	json_kstr(&j, "schema", REPORT_SCHEMA);
	json_kstr(&j, "type", "slow");
	json_kstr(&j, "time", when);
	json_request_fields(&j, r);
	if (a && a->res)
		report_attrib_json(&j, a);
	else
		hol_json(&j, r);
	json_obj_end(&j);
	fputc('\n', out);
	fflush(out);
}

void report_request_json(FILE *out, const struct corr_request *r, const struct report_attrib *a)
{
	struct json j;

	json_init(&j, out);
	json_obj_begin(&j);
	json_request_fields(&j, r);
	if (a && a->res)
		report_attrib_json(&j, a);
	else
		hol_json(&j, r);
	json_obj_end(&j);
	fputc('\n', out);
}

int report_create_private(const char *path, FILE **out)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err;

	if (fd >= 0 && (*out = fdopen(fd, "w")))
		return 0;
	err = errno;
	if (fd >= 0)
		close(fd);
	return -err;
}
