// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A recording as GitHub-flavoured markdown (report_md.h). Every string that
 * comes from the recording goes through md_text, so a hostile host name or
 * label cannot end a table cell, start a line of its own or turn into
 * markup; the figures come from the merged histograms and the tail the
 * text summary uses, so the two reports agree.
 */
#include "kafkalat/report_md.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkalat/fmt.h"
#include "kafkalat/recording.h"

#define TOP_SHARES    3	  /* phases and causes named per band */
#define MIN_SHARE     1.0 /* %: smaller shares are noise in a ticket */
#define MAX_LOSS_ROWS 20  /* intervals with loss listed */

static const double quantiles[] = {0.5, 0.9, 0.99, 0.999, 1.0};
static const char *const quantile_names[] = {"p50", "p90", "p99", "p99.9", "max"};
#define NQ (sizeof(quantiles) / sizeof(quantiles[0]))

/* Markdown-safe text: the characters that make markup are backslash
 * escaped ('&' too: "&lt;" would be an entity), '|' so it cannot end a cell, and a line break is
 * <br> so it cannot end the row or the paragraph. */
static void md_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			fputs("<br>", out);
		else if (*s == '\r')
			continue;
		else if (strchr("\\`*_[]<>|#~&", *s))
			fprintf(out, "\\%c", *s);
		else
			fputc(*s, out);
	}
}

static void duration(FILE *out, uint64_t ns)
{
	char buf[16];

	fmt_ns(ns, buf, sizeof(buf));
	fputs(buf, out);
}

/* ---- the heading and metadata ---- */

/* The distinct values of key over the files, comma-joined; "?" for none. */
static void meta_values(FILE *out, const struct rec *r, const char *key)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < r->nfiles; i++) {
		const char *v = rec_meta_get(&r->files[i], key);
		bool seen = false;

		for (uint32_t j = 0; v && j < i; j++) {
			const char *w = rec_meta_get(&r->files[j], key);

			seen |= w && !strcmp(v, w);
		}
		if (!v || seen)
			continue;
		fputs(n++ ? ", " : "", out);
		md_text(out, v);
	}
	if (!n)
		fputs("?", out);
}

/* Whether meta k of file i is a key=value an earlier meta already had. */
static bool kv_seen(const struct rec *r, uint32_t i, uint32_t k)
{
	const struct rec_kv *kv = &r->files[i].meta[k];

	for (uint32_t j = 0; j <= i; j++) {
		const struct rec_file *f = &r->files[j];

		for (uint32_t m = 0; m < (j == i ? k : f->nmeta); m++)
			if (!strcmp(f->meta[m].key, kv->key) &&
			    !strcmp(f->meta[m].value, kv->value))
				return true;
	}
	return false;
}

/* Every distinct --label K=V of the files, as K=V. */
static void labels(FILE *out, const struct rec *r)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < r->nfiles; i++) {
		const struct rec_file *f = &r->files[i];

		for (uint32_t k = 0; k < f->nmeta; k++) {
			const char *key = f->meta[k].key, *v = f->meta[k].value;

			if (strncmp(key, "label.", 6) || kv_seen(r, i, k))
				continue;
			fputs(n++ ? ", " : " · **Labels** ", out);
			md_text(out, key + 6);
			fputc('=', out);
			md_text(out, v);
		}
	}
}

static void utc(FILE *out, int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;
	char buf[32];

	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm))
		snprintf(buf, sizeof(buf), "%" PRId64, ns);
	fputs(buf, out);
}

static void span(FILE *out, const struct rec *r)
{
	fputs(" · **Span** ", out);
	if (!r->niv) {
		fputs("no interval recorded", out);
		return;
	}
	utc(out, r->t_start_ns);
	fputs(" to ", out);
	utc(out, r->t_end_ns);
	fputs(" (", out);
	duration(out, (uint64_t)(r->t_end_ns - r->t_start_ns));
	fputs(")", out);
}

static void heading(FILE *out, const struct rec *r, const struct rec *base)
{
	fputs("## kafkalat: produce latency on ", out);
	meta_values(out, r, "host");
	fputs("\n\n**Hosts** ", out);
	meta_values(out, r, "host");
	fputs(" · **Kernel** ", out);
	meta_values(out, r, "kernel");
	span(out, r);
	fprintf(out, " · **Recordings** %" PRIu32, r->nfiles);
	labels(out, r);
	fputs("\n\n", out);
	if (!base)
		return;
	fputs("**Baseline** ", out);
	meta_values(out, base, "host");
	fputs(" · **Kernel** ", out);
	meta_values(out, base, "kernel");
	span(out, base);
	fprintf(out, " · **Recordings** %" PRIu32, base->nfiles);
	labels(out, base);
	fputs("\n\n", out);
}

/* ---- latency ---- */

static const struct hist *metric(const struct rec *r, unsigned m)
{
	return r && r->m[m] && r->m[m]->count ? r->m[m] : NULL;
}

static void quantile_cell(FILE *out, const struct hist *h, double q)
{
	fputs(" | ", out);
	if (h)
		duration(out, hist_quantile(h, q));
	else
		fputs("-", out);
}

/* The change from base to new, "+12.5%"; "-" when either is missing or
 * the base is 0 (no change in % from nothing). */
static void delta_cell(FILE *out, const struct hist *base, const struct hist *cur, double q)
{
	uint64_t b = base ? hist_quantile(base, q) : 0;

	fputs(" | ", out);
	if (!cur || !b)
		fputs("-", out);
	else
		fprintf(out, "%+.1f%%",
			((double)hist_quantile(cur, q) - (double)b) * 100.0 / (double)b);
}

static void latency_table(FILE *out, const struct rec *r)
{
	static const unsigned m[2] = {REC_M_LATENCY, REC_M_BROKER};
	static const char *const what[2] = {"latency", "broker latency"};

	fputs("| Produce |", out);
	for (size_t q = 0; q < NQ; q++)
		fprintf(out, " %s |", quantile_names[q]);
	fputs("\n|---|", out);
	for (size_t q = 0; q < NQ; q++)
		fputs("---:|", out);
	fputc('\n', out);
	for (unsigned i = 0; i < 2; i++) {
		fprintf(out, "| %s", what[i]);
		for (size_t q = 0; q < NQ; q++)
			quantile_cell(out, metric(r, m[i]), quantiles[q]);
		fputs(" |\n", out);
	}
}

/* With a baseline: a row per quantile, base, new and the change of each. */
static void compare_table(FILE *out, const struct rec *r, const struct rec *base)
{
	static const unsigned m[2] = {REC_M_LATENCY, REC_M_BROKER};

	fputs("| Produce | latency, base | latency | change | broker latency, base | "
	      "broker latency | change |\n|---|---:|---:|---:|---:|---:|---:|\n",
	      out);
	for (size_t q = 0; q < NQ; q++) {
		fprintf(out, "| %s", quantile_names[q]);
		for (unsigned i = 0; i < 2; i++) {
			quantile_cell(out, metric(base, m[i]), quantiles[q]);
			quantile_cell(out, metric(r, m[i]), quantiles[q]);
			delta_cell(out, metric(base, m[i]), metric(r, m[i]), quantiles[q]);
		}
		fputs(" |\n", out);
	}
}

/* ---- the tail composition ---- */

static const char *const band_labels[BANDS] = {"< p50", "p50-p99", ">= p99", ">= p999"};

/* The largest shares, largest first: "append 62%, queue 20%". */
static void top_shares(FILE *out, const double *pct, unsigned n, const char *(*name)(unsigned))
{
	bool used[ATTRIB_CAUSES > ATTRIB_PHASES ? ATTRIB_CAUSES : ATTRIB_PHASES] = {false};
	unsigned shown = 0;

	fputs(" | ", out);
	for (; shown < TOP_SHARES; shown++) {
		unsigned best = n;

		for (unsigned i = 0; i < n; i++)
			if (!used[i] && (best == n || pct[i] > pct[best]))
				best = i;
		if (best == n || pct[best] < MIN_SHARE)
			break;
		used[best] = true;
		fprintf(out, "%s%s %.0f%%", shown ? ", " : "", name(best), pct[best]);
	}
	if (!shown)
		fputs("-", out);
}

static void band_row(FILE *out, unsigned b, const struct band_summary *s)
{
	fprintf(out, "| %s | %" PRIu64 " | ", band_labels[b], s->requests);
	if (s->requests) {
		duration(out, s->lo_ns);
		fputs(" to ", out);
		duration(out, s->hi_ns);
	} else {
		fputs("-", out);
	}
	top_shares(out, s->phase_pct, ATTRIB_PHASES, attrib_phase_name);
	top_shares(out, s->cause_pct, ATTRIB_CAUSES, attrib_cause_name);
	fputs(" |\n", out);
}

/* A killed run has no trailer, a run without causes no bands: say which
 * rather than print an empty table. */
static void no_tail(FILE *out, const struct rec *r)
{
	fprintf(out,
		"No tail composition: %" PRIu32 " of %" PRIu32
		" recordings ended cleanly (a killed run has none), and one holds it only "
		"when the causes were traced.\n\n",
		r->tail_files, r->nfiles);
}

static void tail_table(FILE *out, const struct rec *r)
{
	fputs("### Tail composition\n\n", out);
	if (!r->has_tail) {
		no_tail(out, r);
		return;
	}
	fputs("Bands by latency; the mean share of each request's latency.\n\n"
	      "| band | requests | latency | top phases | top causes |\n|---|---:|---|---|---|\n",
	      out);
	for (unsigned b = 0; b < BANDS; b++)
		band_row(out, b, &r->tail.bands[b]);
	fputc('\n', out);
}

static void top_table(FILE *out, const struct rec *r, unsigned kind, const char *what)
{
	const struct report_tail *rt = &r->tail;

	if (!rt->ntop[kind])
		return;
	fprintf(out, "| %s behind >= p99 | requests | summed latency |\n|---|---:|---:|\n", what);
	for (size_t i = 0; i < rt->ntop[kind]; i++) {
		const struct band_top *tp = &rt->top[kind][i];

		fputs("| ", out);
		md_text(out, tp->key ? tp->key : "?");
		fprintf(out, " | %" PRIu64 " | ", tp->requests);
		duration(out, tp->total_ns);
		fputs(" |\n", out);
	}
	fputc('\n', out);
}

static void tops(FILE *out, const struct rec *r)
{
	if (!r->has_tail)
		return;
	top_table(out, r, BAND_TOP_PARTITION, "partition");
	top_table(out, r, BAND_TOP_CLIENT, "client");
	if (r->tail.top_truncated)
		fputs("Tops from the slowest requests kept, not all of >= p99.\n\n", out);
}

/* The text summary's closing sentence, word for word (report_tail_story),
 * as a quote: each of its lines one quoted line. 0 or -ENOMEM. */
static int story(FILE *out, const struct rec *r)
{
	char *text = NULL, *save = NULL;
	size_t len = 0;
	FILE *m;

	if (!r->has_tail)
		return 0;
	m = open_memstream(&text, &len);
	if (!m)
		return -ENOMEM;
	report_tail_story(m, &r->tail);
	if (fclose(m)) {
		free(text);
		return -ENOMEM;
	}
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		fputs("> ", out);
		md_text(out, line + strspn(line, " "));
		fputs("\n", out);
	}
	fputs(len > 1 ? "\n" : "", out);
	free(text);
	return 0;
}

/* ---- what the figures miss ---- */

static uint64_t sum(const uint64_t *v, unsigned n)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < n; i++)
		s += v[i];
	return s;
}

static void accounting(FILE *out, const struct rec *r)
{
	const struct corr_counts *c = &r->counts;

	fprintf(out,
		"**Lost events** %" PRIu64 " socket, %" PRIu64
		" cause (the kernel's ring buffers were full) · **Unmatched requests** %" PRIu64
		" (Produce %" PRIu64 ") · **Responses without a request** %" PRIu64 "\n",
		r->lost.socket_lost, r->lost.cause_lost, sum(c->unmatched, CORR_UNM_MAX),
		sum(c->produce_unmatched, CORR_UNM_MAX), c->unmatched_responses);
}

/* The JSON report's "lost": by ring and kind, and the requests touched. */
static void loss_line(FILE *out, const struct report_loss *l)
{
	fputs("\n**Lost records by kind** socket ", out);
	report_loss_ring_text(out, l, REPORT_RING_SOCKET);
	fputs(" · causes ", out);
	report_loss_ring_text(out, l, REPORT_RING_CAUSES);
	fprintf(out,
		" · **Requests the loss touched** %" PRIu64 " (Produce %" PRIu64
		"), in no latency · **Produce unattributed for lost causes** %" PRIu64 "\n",
		l->touched, l->produce_touched, l->causes_touched);
}

static void loss_row(FILE *out, const struct rec_interval *iv)
{
	const struct report_loss *l = &iv->loss;

	fputs("| ", out);
	utc(out, iv->t_start_ns);
	fputs(", ", out);
	duration(out, (uint64_t)(iv->t_end_ns - iv->t_start_ns));
	fputs(" | ", out);
	report_loss_ring_text(out, l, REPORT_RING_SOCKET);
	fputs(" | ", out);
	report_loss_ring_text(out, l, REPORT_RING_CAUSES);
	fprintf(out, " | %" PRIu64 " (%" PRIu64 ") | %" PRIu64 " |\n", l->touched,
		l->produce_touched, l->causes_touched);
}

/* The intervals with a loss, the first MAX_LOSS_ROWS of them in a table. */
static void loss_intervals(FILE *out, const struct rec *r)
{
	uint32_t shown = 0;

	fprintf(out, "\n**Intervals with loss** %" PRIu32 " of %" PRIu32 "\n", r->loss_intervals,
		r->niv);
	if (!r->loss_intervals)
		return;
	fputs("\n| interval (UTC) | socket lost | causes lost | touched (Produce) | "
	      "unattributed |\n|---|---|---|---:|---:|\n",
	      out);
	for (uint32_t i = 0; i < r->niv && shown < MAX_LOSS_ROWS; i++)
		if (report_loss_any(&r->iv[i].loss)) {
			loss_row(out, &r->iv[i]);
			shown++;
		}
	if (r->loss_intervals > shown)
		fprintf(out, "\nAnd %" PRIu32 " more intervals with loss.\n",
			r->loss_intervals - shown);
}

static void missed(FILE *out, const struct rec *r)
{
	struct report_run run;

	rec_report_run(r, &run);
	fputs("### What the figures miss\n\n", out);
	accounting(out, r);
	loss_line(out, &run.loss);
	loss_intervals(out, r);
}

int report_md(FILE *out, const struct rec *r, const struct rec *baseline)
{
	int err;

	heading(out, r, baseline);
	if (baseline)
		compare_table(out, r, baseline);
	else
		latency_table(out, r);
	fputc('\n', out);
	tail_table(out, r);
	tops(out, r);
	err = story(out, r);
	missed(out, r);
	if (fflush(out) == EOF || ferror(out))
		return -EIO;
	return err;
}
