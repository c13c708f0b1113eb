// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kafkalat report: recordings read back and merged (recording.h), written
 * as the live summary (text, json), HdrHistogram's percentile distribution
 * (hgrm), a node_exporter textfile (prom), markdown (md) or a self-contained
 * HTML page (html).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafkalat/hgrm.h"
#include "kafkalat/recording.h"
#include "kafkalat/report.h"
#include "kafkalat/report_cmd.h"
#include "kafkalat/report_html.h"
#include "kafkalat/report_md.h"
#include "kafkalat/report_prom.h"

#define MAX_FILES 4096

static const char usage[] =
    "Usage: kafkalat report [FILE...] [--format text|json|html|prom|hgrm|md] [-o OUT]\n"
    "                       [--baseline FILE]...\n"
    "\n"
    "Reads recordings (`kafkalat record`; default kafkalat.data) and writes one\n"
    "report of them all: several files merge (a cluster's brokers, several\n"
    "nights): histograms and counters add, and percentiles come from the merged\n"
    "histograms, never from averages.\n"
    "\n"
    "  -f, --format FMT      text (default): the live summary\n"
    "                        json: the live JSON summary (docs/json.md)\n"
    "                        hgrm: HdrHistogram's percentile distribution of the\n"
    "                              produce latency, in milliseconds\n"
    "                        prom: a node_exporter textfile (-o: written to a\n"
    "                              temporary file and renamed into place)\n"
    "                        md:   markdown, for a ticket or a pull request\n"
    "                        html: one self-contained page (inline SVG, no\n"
    "                              script, no network)\n"
    "  -o, --output OUT      write to OUT instead of stdout\n"
    "      --baseline FILE   a recording to compare against in html and md\n"
    "                        (overlays, a differential flame graph); repeatable:\n"
    "                        the baselines merge\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0, 1 when writing failed, 2 for bad options or a recording\n"
    "that does not read (the message names the file and the byte offset).\n"
    "\n"
    "Examples:\n"
    "  kafkalat report\n"
    "  kafkalat report b1.data b2.data b3.data --format html -o cluster.html\n"
    "  kafkalat report --format prom -o /var/lib/node_exporter/kafkalat.prom\n"
    "  kafkalat report new.data --baseline old.data --format md\n";

enum format { FMT_TEXT, FMT_JSON, FMT_HTML, FMT_PROM, FMT_HGRM, FMT_MD };

static const char *const format_names[] = {"text", "json", "html", "prom", "hgrm", "md"};

struct report_opts {
	enum format format;
	const char *out_path;
	const char *files[MAX_FILES];
	uint32_t nfiles;
	const char *baselines[MAX_FILES];
	uint32_t nbaselines;
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "kafkalat report: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see kafkalat report --help)\n");
	return 2;
}

static int parse_format(const char *s, enum format *f)
{
	for (unsigned int i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (!strcmp(s, format_names[i])) {
			*f = (enum format)i;
			return 0;
		}
	return -1;
}

/* 0 to run, 1 after --help, 2 on a usage error (printed). */
static int parse(int argc, char **argv, struct report_opts *o)
{
	static const struct option longs[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"baseline", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:o:h", longs, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (c == ':')
			return usage_error("option %s needs an argument", argv[optind - 1]);
		if (c == '?')
			return usage_error("unknown option '%s'", argv[optind - 1]);
		if (c == 'f' && parse_format(optarg, &o->format))
			return usage_error("unknown format '%s' (text, json, html, prom, hgrm, md)",
					   optarg);
		if (c == 'o')
			o->out_path = optarg;
		if (c == 'b' && o->nbaselines < MAX_FILES)
			o->baselines[o->nbaselines++] = optarg;
	}
	for (int i = optind; i < argc; i++) {
		if (o->nfiles >= MAX_FILES)
			return usage_error("at most %s files", "4096");
		o->files[o->nfiles++] = argv[i];
	}
	if (!o->nfiles)
		o->files[o->nfiles++] = REC_DEFAULT_PATH;
	if (o->nbaselines && o->format != FMT_HTML && o->format != FMT_MD)
		return usage_error("--baseline goes with --format html or md, not %s",
				   format_names[o->format]);
	return 0;
}

/* Files cut short are reported, once each: their figures stop early. */
static void note_incomplete(const struct rec *r)
{
	for (uint32_t i = 0; i < r->nfiles; i++)
		if (!r->files[i].complete)
			fprintf(
			    stderr,
			    "kafkalat report: %s: the recording ends before its trailer (its run "
			    "was killed, or its disk filled): %u intervals, no tail "
			    "composition from it\n",
			    r->files[i].path, r->files[i].intervals);
}

static int write_text(FILE *out, const struct rec *r, bool json)
{
	struct report_run run;

	rec_report_run(r, &run);
	if (json) {
		report_summary_json(out, &r->agg, &run);
		return 0;
	}
	fprintf(out, "Recording%s:", r->nfiles > 1 ? "s (merged)" : "");
	for (uint32_t i = 0; i < r->nfiles; i++)
		fprintf(out, " %s (%u intervals%s)", r->files[i].path, r->files[i].intervals,
			r->files[i].complete ? "" : ", cut short");
	fputc('\n', out);
	report_summary_text(out, &r->agg, &run);
	return 0;
}

static int write_hgrm(FILE *out, const struct rec *r)
{
	if (!r->m[REC_M_LATENCY]) {
		fprintf(stderr, "kafkalat report: no produce request with wire times was recorded: "
				"no distribution to write\n");
		return -ENODATA;
	}
	return hgrm_write(out, r->m[REC_M_LATENCY], 1e6, HGRM_TICKS_DEFAULT);
}

static int write_report(FILE *out, const struct report_opts *o, const struct rec *r,
			const struct rec *base)
{
	(void)base;
	switch (o->format) {
	case FMT_TEXT:
		return write_text(out, r, false);
	case FMT_JSON:
		return write_text(out, r, true);
	case FMT_HGRM:
		return write_hgrm(out, r);
	case FMT_PROM:
		return report_prom(out, r, (double)time(NULL));
	case FMT_MD:
		return report_md(out, r, base);
	case FMT_HTML:
		return report_html(out, r, base);
	}
	return -EINVAL;
}

static int load(struct rec *r, const char *const *files, uint32_t n)
{
	char err[512];
	int res = rec_load(r, files, n, err, sizeof(err));

	if (res) {
		fprintf(stderr, "kafkalat report: %s\n", err);
		return 2;
	}
	note_incomplete(r);
	return 0;
}

/* To stdout, or to OUT (0644: a report is for people, unlike the traces). */
static int emit(const struct report_opts *o, const struct rec *r, const struct rec *base)
{
	FILE *out = stdout;
	int err;

	/* node_exporter must never read half a file: written aside, renamed */
	if (o->format == FMT_PROM && o->out_path) {
		err = report_prom_write_file(o->out_path, r, (double)time(NULL));
		if (err)
			fprintf(stderr, "kafkalat report: %s: %s\n", o->out_path, strerror(-err));
		return err ? 1 : 0;
	}
	if (o->out_path && !(out = fopen(o->out_path, "w"))) {
		fprintf(stderr, "kafkalat report: %s: %s\n", o->out_path, strerror(errno));
		return 1;
	}
	err = write_report(out, o, r, base);
	if (fflush(out) || ferror(out))
		err = err ? err : -EIO;
	if (out != stdout && fclose(out))
		err = err ? err : -errno;
	if (err && err != -ENODATA)
		fprintf(stderr, "kafkalat report: writing %s: %s\n",
			o->out_path ? o->out_path : "stdout", strerror(-err));
	return err ? 1 : 0;
}

int report_main(int argc, char **argv)
{
	static struct report_opts o;
	struct rec r, base = {0};
	int rc = parse(argc, argv, &o);

	if (rc)
		return rc == 1 ? 0 : rc;
	if ((rc = load(&r, o.files, o.nfiles)))
		return rc;
	if (o.nbaselines && (rc = load(&base, o.baselines, o.nbaselines))) {
		rec_free(&r);
		return rc;
	}
	rc = emit(&o, &r, o.nbaselines ? &base : NULL);
	rec_free(&r);
	if (o.nbaselines)
		rec_free(&base);
	return rc;
}
