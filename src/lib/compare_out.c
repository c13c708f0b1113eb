// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kafkalat compare's printers (compare.h): a benchstat-like text table,
 * JSON (docs/compare-json.md) and a markdown table for a PR comment. All
 * three say the same: rows, samples, seed and the one-line verdict.
 */
#include <math.h>
#include <stdio.h>

#include "kafkalat/compare.h"
#include "kafkalat/fmt.h"
#include "kafkalat/json.h"

static const char *const verdict_names[] = {
    [CMP_V_SAME] = "~",
    [CMP_V_UP] = "up",
    [CMP_V_DOWN] = "down",
    [CMP_V_REGRESSED] = "REGRESSED",
    [CMP_V_IMPROVED] = "improved",
    [CMP_V_INCONCLUSIVE] = "inconclusive",
};

const char *cmp_verdict_name(enum cmp_verdict v)
{
	return (unsigned int)v < sizeof(verdict_names) / sizeof(verdict_names[0]) ? verdict_names[v]
										  : "?";
}

static const char *exit_name(enum cmp_exit e)
{
	switch (e) {
	case CMP_PASS:
		return "pass";
	case CMP_REGRESSION:
		return "regression";
	case CMP_INCONCLUSIVE:
		return "inconclusive";
	default:
		return "error";
	}
}

static void value_text(const struct cmp_row *w, double v, char *buf, size_t len)
{
	if (w->kind == CMP_SHARE)
		snprintf(buf, len, "%.1f%%", v);
	else
		fmt_ns((uint64_t)v, buf, len);
}

static void change_text(const struct cmp_row *w, double v, char *buf, size_t len)
{
	const char *u = w->kind == CMP_SHARE ? "pt" : "%";

	if (isinf(v))
		snprintf(buf, len, "%cinf%s", v > 0 ? '+' : '-', u);
	else
		snprintf(buf, len, "%+.1f%s", v, u);
}

static void gate_text(const struct cmp_row *w, char *buf, size_t len)
{
	if (w->gated)
		snprintf(buf, len, "+%g%s", w->gate, w->kind == CMP_SHARE ? "pt" : "%");
	else
		snprintf(buf, len, "-");
}

struct row_text {
	char base[24], new[24], change[24], lo[24], hi[24], gate[24];
};

static void row_texts(const struct cmp_row *w, struct row_text *t)
{
	value_text(w, w->base, t->base, sizeof(t->base));
	value_text(w, w->new, t->new, sizeof(t->new));
	change_text(w, w->change, t->change, sizeof(t->change));
	change_text(w, w->lo, t->lo, sizeof(t->lo));
	change_text(w, w->hi, t->hi, sizeof(t->hi));
	gate_text(w, t->gate, sizeof(t->gate));
}

static void samples_text(FILE *out, const struct cmp_result *r)
{
	if (r->by_run)
		fprintf(out, "samples: runs, base n=%u, new n=%u (bootstrap of runs)", r->n[0],
			r->n[1]);
	else
		fprintf(out,
			"samples: intervals, base n=%u, new n=%u (moving-block bootstrap, blocks "
			"of %u and %u)",
			r->n[0], r->n[1], r->block[0], r->block[1]);
	fprintf(out, "; B=%u, seed %llu\n", r->boot, (unsigned long long)r->seed);
	/* a run with an episode of its own (a noisy neighbour) looks like a
	 * regression to the intervals of one run: only runs measure that */
	if (!r->by_run)
		fprintf(out,
			"note: intervals show the noise within runs, not between them; "
			"a CI gate wants %d runs a side\n",
			CMP_MIN_RUNS);
}

/* Why the gated metrics are inconclusive: the reason they share, else each. */
static void inconclusive_text(FILE *out, const struct cmp_result *r, const char *bullet)
{
	if (r->reason[0]) {
		fprintf(out, "\n%sinconclusive: %s\n", bullet, r->reason);
		return;
	}
	for (uint32_t i = 0, first = 1; i < r->nrows; i++)
		if (r->rows[i].verdict == CMP_V_INCONCLUSIVE) {
			fprintf(out, "%s%sinconclusive: %s\n", first ? "\n" : "", bullet,
				r->rows[i].why);
			first = 0;
		}
}

void cmp_print_text(FILE *out, const struct cmp_result *r)
{
	char fl[24];

	fmt_ns((uint64_t)r->floor_ns, fl, sizeof(fl));
	fprintf(out, "base: %u file%s, %.1f produce/s; new: %u file%s, %.1f produce/s; floor %s\n",
		r->files[0], r->files[0] == 1 ? "" : "s", r->rate[0], r->files[1],
		r->files[1] == 1 ? "" : "s", r->rate[1], fl);
	samples_text(out, r);
	fprintf(out, "\n%-26s %9s %9s %9s %-22s %6s %6s  %s\n", "metric", "base", "new", "delta",
		"95% interval", "p", "gate", "verdict");
	for (uint32_t i = 0; i < r->nrows; i++) {
		const struct cmp_row *w = &r->rows[i];
		struct row_text t;
		char ci[56];

		row_texts(w, &t);
		snprintf(ci, sizeof(ci), "[%s, %s]", t.lo, t.hi);
		fprintf(out, "%-26s %9s %9s %9s %-22s %6.3f %6s  %s\n", w->name, t.base, t.new,
			t.change, ci, w->p, t.gate, cmp_verdict_name(w->verdict));
	}
	inconclusive_text(out, r, "");
	fprintf(out, "\nverdict: %s\n", r->verdict);
}

static void row_json(struct json *j, const struct cmp_row *w)
{
	json_obj_begin(j);
	json_kstr(j, "metric", w->name);
	json_kstr(j, "kind", w->kind == CMP_SHARE ? "share" : "quantile");
	if (w->kind == CMP_QUANTILE)
		json_kdouble(j, "q", w->q);
	json_kstr(j, "unit", w->kind == CMP_SHARE ? "pct" : "ns");
	json_kdouble(j, "base", w->base);
	json_kdouble(j, "new", w->new);
	json_kdouble(j, "delta", w->delta);
	json_kstr(j, "change_unit", w->kind == CMP_SHARE ? "pt" : "%");
	json_kdouble(j, "change", w->change);
	json_kdouble(j, "lo", w->lo);
	json_kdouble(j, "hi", w->hi);
	json_kdouble(j, "p", w->p);
	json_key(j, "beyond");
	json_arr_begin(j);
	json_uint(j, w->beyond[0]);
	json_uint(j, w->beyond[1]);
	json_arr_end(j);
	json_key(j, "gate");
	if (w->gated)
		json_double(j, w->gate);
	else
		json_null(j);
	json_kstr(j, "verdict", cmp_verdict_name(w->verdict));
	if (w->verdict == CMP_V_INCONCLUSIVE)
		json_kstr(j, "why", w->why);
	json_obj_end(j);
}

static void side_json(struct json *j, const char *key, const struct cmp_result *r, int k)
{
	json_key(j, key);
	json_obj_begin(j);
	json_kuint(j, "files", r->files[k]);
	json_kuint(j, "samples", r->n[k]);
	json_kuint(j, "block", r->block[k]);
	json_kdouble(j, "produce_per_s", r->rate[k]);
	json_obj_end(j);
}

void cmp_print_json(FILE *out, const struct cmp_result *r)
{
	struct json j;

	json_init(&j, out);
	json_obj_begin(&j);
	json_kstr(&j, "schema", "kafkalat-compare/1");
	json_kuint(&j, "seed", r->seed);
	json_kuint(&j, "bootstrap", r->boot);
	json_kstr(&j, "samples", r->by_run ? "runs" : "intervals");
	json_kdouble(&j, "floor_ns", r->floor_ns);
	side_json(&j, "base", r, 0);
	side_json(&j, "new", r, 1);
	json_key(&j, "metrics");
	json_arr_begin(&j);
	for (uint32_t i = 0; i < r->nrows; i++)
		row_json(&j, &r->rows[i]);
	json_arr_end(&j);
	json_kstr(&j, "grew_phase", r->grew_phase >= 0 ? r->rows[r->grew_phase].name : "");
	json_kstr(&j, "grew_cause", r->grew_cause >= 0 ? r->rows[r->grew_cause].name : "");
	json_kstr(&j, "inconclusive", r->reason);
	json_kstr(&j, "result", exit_name(r->exit_code));
	json_kint(&j, "exit", r->exit_code);
	json_kstr(&j, "verdict", r->verdict);
	json_obj_end(&j);
	fputc('\n', out);
}

/* Rows the reader of a PR cares about: gated, or significant. */
void cmp_print_md(FILE *out, const struct cmp_result *r)
{
	fprintf(out, "**kafkalat compare: %s**\n\n", r->verdict);
	fprintf(out, "| metric | base | new | delta | 95%% interval | p | gate | verdict |\n");
	fprintf(out, "|---|---:|---:|---:|---|---:|---:|---|\n");
	for (uint32_t i = 0; i < r->nrows; i++) {
		const struct cmp_row *w = &r->rows[i];
		struct row_text t;

		if (!w->gated && w->verdict == CMP_V_SAME)
			continue;
		row_texts(w, &t);
		fprintf(out, "| `%s` | %s | %s | %s | [%s, %s] | %.3f | %s | %s%s%s |\n", w->name,
			t.base, t.new, t.change, t.lo, t.hi, w->p, t.gate,
			w->verdict == CMP_V_REGRESSED ? "**" : "", cmp_verdict_name(w->verdict),
			w->verdict == CMP_V_REGRESSED ? "**" : "");
	}
	inconclusive_text(out, r, "- ");
	fprintf(out, "\nUnchanged ungated metrics are left out (`kafkalat compare` shows them). ");
	samples_text(out, r);
}
