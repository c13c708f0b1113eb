// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A recording in Prometheus text exposition format 0.0.4, for
 * node_exporter's textfile collector (report_prom.h lists the families).
 * Writes go straight to the stream; its error flag is checked once at the
 * end, so a full disk is one -EIO, not a half-handled write per line.
 */
#include "kafkalat/report_prom.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafkalat/kapi.h"
#include "kafkalat/recording.h"

#define NELEMS(a)   (sizeof(a) / sizeof((a)[0]))
#define MAX_LABELS  32
#define LABEL_NAME  64
#define FLOAT_TEXT  32
#define SAMPLE_NAME 128

struct label {
	const char *name, *value;
};

static const double quantiles[] = {0.5, 0.9, 0.99, 0.999, 1.0};

/* The shortest text that reads back as v (Go's ParseFloat, as Prometheus
 * parses it, accepts C's %g forms), so le="0.0001" rather than
 * "0.00010000000000000000479", and whole numbers without an exponent
 * (le="10", not "1e+01": le values are matched as text in queries). */
static const char *fmt_float(double v, char buf[FLOAT_TEXT])
{
	int prec = 1;

	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	for (; prec < 17; prec++) {
		snprintf(buf, FLOAT_TEXT, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (fabs(v) >= 1.0 && fabs(v) < 1e15 && prec < (int)floor(log10(fabs(v))) + 1)
		prec = (int)floor(log10(fabs(v))) + 1;
	snprintf(buf, FLOAT_TEXT, "%.*g", prec, v);
	return buf;
}

/* The length of the valid UTF-8 sequence at s, 0 when there is none
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80			  ? 1
		   : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
		   : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		   : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
						  : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* Label values escape backslash, double quote and newline; HELP text the
 * same but for the double quote (the format's two escaping rules). The
 * format is UTF-8 and Prometheus refuses a label value that is not: a
 * byte that does not start a valid sequence (a host name in Latin-1)
 * becomes U+FFFD. */
static void put_escaped(FILE *out, const char *str, bool quote)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		size_t n = utf8_len(s);

		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '"' && quote)
			fputs("\\\"", out);
		else if (n)
			fwrite(s, 1, n, out);
		else
			fputs("\xef\xbf\xbd", out);
		s += n ? n : 1;
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s ", name);
	put_escaped(out, help, false);
	fprintf(out, "\n# TYPE %s %s\n", name, type);
}

static void put_labels(FILE *out, const struct label *l, size_t n)
{
	if (!n)
		return;
	fputc('{', out);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", l[i].name);
		put_escaped(out, l[i].value, true);
		fputc('"', out);
	}
	fputc('}', out);
}

static void sample(FILE *out, const char *name, const struct label *l, size_t n, double v)
{
	char buf[FLOAT_TEXT];

	fputs(name, out);
	put_labels(out, l, n);
	fprintf(out, " %s\n", fmt_float(v, buf));
}

/* Counters print as integers: a double would round them past 2^53. */
static void sample_u64(FILE *out, const char *name, const struct label *l, size_t n, uint64_t v)
{
	fputs(name, out);
	put_labels(out, l, n);
	fprintf(out, " %" PRIu64 "\n", v);
}

static bool has_data(const struct hist *h)
{
	return h && h->count;
}

/* ---- histograms and quantiles ---- */

static void histogram(FILE *out, const char *name, const char *help, const struct hist *h)
{
	static const uint64_t le_ns[] = REPORT_PROM_LE_NS;
	char series[SAMPLE_NAME], le[FLOAT_TEXT];
	uint64_t count = has_data(h) ? h->count : 0;

	family(out, name, "histogram", help);
	snprintf(series, sizeof(series), "%s_bucket", name);
	for (size_t i = 0; i < NELEMS(le_ns); i++) {
		struct label l = {"le", fmt_float((double)le_ns[i] / 1e9, le)};

		sample_u64(out, series, &l, 1, count ? hist_count_through(h, le_ns[i]) : 0);
	}
	sample_u64(out, series, &(struct label){"le", "+Inf"}, 1, count);
	snprintf(series, sizeof(series), "%s_sum", name);
	sample(out, series, NULL, 0, count ? (double)h->sum / 1e9 : 0.0);
	snprintf(series, sizeof(series), "%s_count", name);
	sample_u64(out, series, NULL, 0, count);
}

/* The quantiles of h, after the labels in l (room for one more); an empty
 * histogram has no samples: absent, not a made-up 0. The label is q, not
 * quantile: Prometheus keeps that name to summaries (promtool's lint
 * refuses it on a gauge). */
static void quantile_samples(FILE *out, const char *name, struct label *l, size_t n,
			     const struct hist *h)
{
	char q[FLOAT_TEXT];

	if (!has_data(h))
		return;
	for (size_t i = 0; i < NELEMS(quantiles); i++) {
		l[n] = (struct label){"q", fmt_float(quantiles[i], q)};
		sample(out, name, l, n + 1, (double)hist_quantile(h, quantiles[i]) / 1e9);
	}
}

/* Where the le bounds fall inside a histogram bucket, its values above le
 * count too: said in the HELP, from the histogram's own layout. */
static void latency_histogram(FILE *out, const char *name, const char *what, const struct hist *h)
{
	char help[512];

	snprintf(help, sizeof(help),
		 "%s. A bucket counts the values of the log-linear histogram bucket holding le: "
		 "those up to le*(1+1/%u) may count under le.",
		 what, HIST_SUB_BUCKETS);
	histogram(out, name, help, h);
}

static void latency_families(FILE *out, const struct rec *r)
{
	struct label l[2];

	latency_histogram(out, "kafkalat_produce_latency_seconds",
			  "Produce request latency, the client's wait (request arrival to response "
			  "sent)",
			  r->m[REC_M_LATENCY]);
	latency_histogram(
	    out, "kafkalat_produce_broker_latency_seconds",
	    "Produce request latency as the broker sees it (first read to last write)",
	    r->m[REC_M_BROKER]);
	family(out, "kafkalat_produce_latency_quantile_seconds", "gauge",
	       "Produce request latency at a quantile of the whole recording (within 0.1%).");
	quantile_samples(out, "kafkalat_produce_latency_quantile_seconds", l, 0,
			 r->m[REC_M_LATENCY]);
	family(out, "kafkalat_produce_broker_latency_quantile_seconds", "gauge",
	       "Broker's Produce latency at a quantile of the whole recording (within 0.1%).");
	quantile_samples(out, "kafkalat_produce_broker_latency_quantile_seconds", l, 0,
			 r->m[REC_M_BROKER]);
}

static void phase_family(FILE *out, const struct rec *r)
{
	const char *name = "kafkalat_produce_phase_seconds";
	struct label l[2];

	family(out, name, "gauge",
	       "Time an attributed Produce request spent in a phase, at a quantile of the whole "
	       "recording (within 0.1%).");
	for (unsigned p = 0; p < ATTRIB_PHASES; p++) {
		l[0] = (struct label){"phase", attrib_phase_name(p)};
		quantile_samples(out, name, l, 1, r->m[REC_M_PHASE + p]);
	}
}

/* ---- the tail composition ---- */

static void ratios(FILE *out, const char *name, const char *key, const double *pct, unsigned n,
		   const char *(*label)(unsigned), const char *band)
{
	for (unsigned i = 0; i < n; i++) {
		struct label l[2] = {{"band", band}, {key, label(i)}};

		sample(out, name, l, 2, pct[i] / 100.0);
	}
}

/* One family's samples, both bands, together as the format wants them. */
static void tail_family(FILE *out, const struct rec *r, bool phases)
{
	static const unsigned band[2] = {BAND_GE_P99, BAND_GE_P999};
	const char *name = phases ? "kafkalat_tail_phase_ratio" : "kafkalat_tail_cause_ratio";

	family(out, name, "gauge",
	       phases ? "Share (0..1) of the summed latency of the Produce requests in a band "
			"(ge_p99, ge_p999) spent in a phase."
		      : "Share (0..1) of the summed latency of the Produce requests in a band "
			"(ge_p99, ge_p999) spent in a cause, over all phases.");
	for (unsigned b = 0; r->has_tail && b < 2; b++) {
		const struct band_time *bt = &r->tail.time[b];

		if (!bt->requests)
			continue;
		if (phases)
			ratios(out, name, "phase", bt->phase_pct, ATTRIB_PHASES, attrib_phase_name,
			       band_name(band[b]));
		else
			ratios(out, name, "cause", bt->cause_pct, ATTRIB_CAUSES, attrib_cause_name,
			       band_name(band[b]));
	}
}

/* Weighted by time, as the closing sentence of the text report: the share
 * of the band's summed latency, so the ratios of a band add up to 1. */
static void tail_families(FILE *out, const struct rec *r)
{
	tail_family(out, r, true);
	tail_family(out, r, false);
}

/* ---- counters ---- */

static void request_family(FILE *out, const struct rec *r)
{
	const char *name = "kafkalat_requests_total";
	char unknown[16];

	family(out, name, "counter", "Requests completed with a response, by API.");
	for (int k = 0; k < AGG_MAX_API; k++) {
		const struct kapi_info *a = kapi_lookup((int16_t)k);
		struct label l = {"api", a ? a->name : unknown};

		/* Produce always, so that a quiet broker reads as 0, not absent */
		if (!r->agg.requests[k] && k != 0)
			continue;
		/* two undefined keys must not both be "Unknown" */
		snprintf(unknown, sizeof(unknown), "key_%d", k);
		sample_u64(out, name, &l, 1, r->agg.requests[k]);
	}
}

static void unmatched_family(FILE *out, const char *name, const char *help, const uint64_t *n)
{
	family(out, name, "counter", help);
	for (unsigned u = 0; u < CORR_UNM_MAX; u++) {
		struct label l = {"reason", corr_unmatched_name((enum corr_unmatched_reason)u)};

		sample_u64(out, name, &l, 1, n[u]);
	}
}

static void counter(FILE *out, const char *name, const char *help, uint64_t v)
{
	family(out, name, "counter", help);
	sample_u64(out, name, NULL, 0, v);
}

/* The rings as kafkalat_lost_events_total labels them. */
static const char *const ring_labels[REPORT_RINGS] = {"socket", "cause"};

struct kind_samples {
	FILE *out;
	const char *name;
	const char *ring;
};

static void kind_sample(void *ctx, const char *kind, uint64_t n)
{
	const struct kind_samples *k = ctx;
	struct label l[2] = {{"ring", k->ring}, {"kind", kind}};

	sample_u64(k->out, k->name, l, 2, n);
}

/* The JSON report's "lost": every named kind of both rings, zeros
 * included (a series that appears only once it counts breaks rate()),
 * and the requests the loss touched. */
static void loss_families(FILE *out, const struct rec *r)
{
	struct kind_samples k = {out, "kafkalat_lost_events_by_kind_total", NULL};
	struct report_run run;

	rec_report_run(r, &run);
	family(out, k.name, "counter",
	       "Records the kernel lost for a full ring buffer, by ring and record kind.");
	for (unsigned int ring = 0; ring < REPORT_RINGS; ring++) {
		k.ring = ring_labels[ring];
		report_loss_kinds(&run.loss, ring, true, kind_sample, &k);
	}
	counter(out, "kafkalat_touched_requests_total",
		"Requests a loss may have cut short: in no latency, not unmatched.",
		run.loss.touched);
	counter(out, "kafkalat_produce_touched_requests_total",
		"Produce requests a loss may have cut short: in no latency, not unmatched.",
		run.loss.produce_touched);
	counter(out, "kafkalat_produce_unattributed_lost_causes_total",
		"Produce requests not attributed because cause records during them were lost.",
		run.loss.causes_touched);
	family(out, "kafkalat_loss_intervals", "gauge",
	       "Intervals of the recording with records lost or requests the loss touched.");
	sample_u64(out, "kafkalat_loss_intervals", NULL, 0, r->loss_intervals);
}

static void count_families(FILE *out, const struct rec *r)
{
	request_family(out, r);
	counter(out, "kafkalat_produce_bytes_total", "Bytes of the Produce requests completed.",
		r->agg.produce_bytes);
	counter(out, "kafkalat_produce_records_total", "Records of the Produce requests completed.",
		r->agg.produce_records);
	family(out, "kafkalat_lost_events_total", "counter",
	       "Records the kernel lost for a full ring buffer: the figures above miss them.");
	sample_u64(out, "kafkalat_lost_events_total",
		   &(struct label){"ring", ring_labels[REPORT_RING_SOCKET]}, 1,
		   r->lost.socket_lost);
	sample_u64(out, "kafkalat_lost_events_total",
		   &(struct label){"ring", ring_labels[REPORT_RING_CAUSES]}, 1, r->lost.cause_lost);
	loss_families(out, r);
	unmatched_family(out, "kafkalat_unmatched_requests_total",
			 "Requests of every API seen without their response, by why.",
			 r->counts.unmatched);
	unmatched_family(out, "kafkalat_produce_unmatched_requests_total",
			 "Produce requests seen without their response, by why.",
			 r->counts.produce_unmatched);
	counter(out, "kafkalat_unmatched_responses_total", "Responses whose request was not seen.",
		r->counts.unmatched_responses);
}

/* ---- the recording ---- */

static void span_families(FILE *out, const struct rec *r, double now_s)
{
	const char *start = "kafkalat_recording_start_timestamp_seconds";
	const char *end = "kafkalat_recording_end_timestamp_seconds";
	const char *last = "kafkalat_last_success_timestamp_seconds";

	family(out, start, "gauge", "Start of the recording's first interval, Unix time.");
	if (r->niv)
		sample(out, start, NULL, 0, (double)r->t_start_ns / 1e9);
	family(out, end, "gauge", "End of the recording's last interval, Unix time.");
	if (r->niv)
		sample(out, end, NULL, 0, (double)r->t_end_ns / 1e9);
	family(out, last, "gauge", "When kafkalat report last wrote these metrics, Unix time.");
	sample(out, last, NULL, 0, now_s);
}

/* A label name from a meta key "label.K": K with every character a label
 * name may not hold turned to '_' ([a-zA-Z_][a-zA-Z0-9_]*). */
static void label_name(const char *key, char buf[LABEL_NAME])
{
	size_t n = (size_t)snprintf(buf, LABEL_NAME, "label_%s", key + strlen("label."));

	for (size_t i = 0; i < n && i < LABEL_NAME - 1; i++)
		if (!(buf[i] == '_' || (buf[i] >= 'a' && buf[i] <= 'z') ||
		      (buf[i] >= 'A' && buf[i] <= 'Z') || (buf[i] >= '0' && buf[i] <= '9')))
			buf[i] = '_';
}

/* The labels of a file's info series: host and kernel, then its --label
 * K=V in the order given, each name once (a series may not repeat one). */
static size_t info_labels(const struct rec_file *f, struct label *l,
			  char names[MAX_LABELS][LABEL_NAME])
{
	size_t n = 2;

	l[0] = (struct label){"host", ""};
	l[1] = (struct label){"kernel", ""};
	for (uint32_t i = 0; i < f->nmeta; i++) {
		const struct rec_kv *kv = &f->meta[i];
		bool dup = false;

		if (!strcmp(kv->key, "host") || !strcmp(kv->key, "kernel")) {
			struct label *t = &l[kv->key[0] == 'h' ? 0 : 1];

			t->value = t->value[0] ? t->value : kv->value;
			continue;
		}
		if (strncmp(kv->key, "label.", 6) || n == MAX_LABELS)
			continue;
		label_name(kv->key, names[n]);
		for (size_t j = 2; j < n; j++)
			dup |= !strcmp(names[j], names[n]);
		if (!dup) {
			l[n] = (struct label){names[n], kv->value};
			n++;
		}
	}
	return n;
}

/* A file's info labels as written, "{host=...}", into *text. 0 or -ENOMEM. */
static int info_text(const struct rec_file *f, char **text)
{
	char names[MAX_LABELS][LABEL_NAME];
	struct label l[MAX_LABELS];
	size_t n = info_labels(f, l, names), len = 0;
	FILE *m = open_memstream(text, &len);

	if (!m)
		return -ENOMEM;
	put_labels(m, l, n);
	if (!fclose(m))
		return 0;
	free(*text);
	*text = NULL;
	return -ENOMEM;
}

/* One series per file, but merged files that say the same (two recordings
 * of one host) make one: a family may not repeat a label set. 0 or -ENOMEM. */
static int info_family(FILE *out, const struct rec *r)
{
	const char *name = "kafkalat_recording_info";
	char **seen = calloc(r->nfiles ? r->nfiles : 1, sizeof(*seen));
	uint32_t nseen = 0;
	int err = seen ? 0 : -ENOMEM;

	family(out, name, "gauge",
	       "1 for each recording merged: its host, kernel and --label K=V labels.");
	for (uint32_t i = 0; !err && i < r->nfiles; i++) {
		bool dup = false;

		err = info_text(&r->files[i], &seen[nseen]);
		for (uint32_t j = 0; !err && j < nseen; j++)
			dup |= !strcmp(seen[j], seen[nseen]);
		if (!err && !dup)
			fprintf(out, "%s%s 1\n", name, seen[nseen++]);
		else if (!err)
			free(seen[nseen]);
	}
	for (uint32_t j = 0; j < nseen; j++)
		free(seen[j]);
	free(seen);
	return err;
}

int report_prom(FILE *out, const struct rec *r, double now_s)
{
	int err;

	latency_families(out, r);
	phase_family(out, r);
	tail_families(out, r);
	count_families(out, r);
	span_families(out, r, now_s);
	err = info_family(out, r);
	if (fflush(out) == EOF || ferror(out))
		return -EIO;
	return err;
}

/* ---- the atomic file ---- */

/* The metrics into fd, flushed to the disk before the rename, so a crash
 * leaves the old file or the new one, never a short one. */
static int write_fd(int fd, const struct rec *r, double now_s)
{
	FILE *f = fdopen(fd, "w");
	int err;

	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	err = report_prom(f, r, now_s);
	if (!err && fsync(fd))
		err = -errno;
	if (fclose(f) && !err)
		err = -EIO;
	return err;
}

int report_prom_write_file(const char *path, const struct rec *r, double now_s)
{
	char tmp[PATH_MAX];
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* a temporary file left by a killed run of the same pid goes first:
	 * O_EXCL then never writes through a link planted in its place */
	if (unlink(tmp) && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* node_exporter runs as its own user: 0644 whatever the umask (the
	 * metrics are no secret, unlike the request lines of report.h) */
	err = fchmod(fd, 0644) ? -errno : 0;
	if (err)
		close(fd);
	else
		err = write_fd(fd, r, now_s);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}
