// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kafkalat compare BASE... -- NEW...: a regression verdict between
 * recordings for a CI gate (compare.h). Exit 0 pass or improved, 1
 * regression, 2 error, 3 inconclusive.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/cli.h"
#include "kafkalat/compare.h"
#include "kafkalat/recording.h"

enum format { FMT_TEXT, FMT_JSON, FMT_MD };

struct args {
	struct cmp_opts o;
	struct cmp_gate gates[CMP_MAX_GATES];
	enum format fmt;
	char **paths[2];
	uint32_t npaths[2];
};

static const char usage[] =
    "usage: kafkalat compare [OPTIONS] BASE... -- NEW...\n"
    "\n"
    "Says whether the NEW recordings (kafkalat record) regressed against the\n"
    "BASE ones: p50, p99 and p99.9 of the latency and of each phase, and the\n"
    "causes' shares of the >= p99 band, each with a 95% bootstrap interval of\n"
    "its change. With 4 or more files a side each file is a sample, otherwise\n"
    "each interval is (record with a short interval so that there are 4 or more).\n"
    "\n"
    "  -j, --json           one JSON object (docs/compare-json.md)\n"
    "      --format FMT     text (default), json, or md (a PR comment)\n"
    "      --gate M=+X%     fail when metric M grew by more than X% (the lower\n"
    "                       bound of its interval), e.g. latency.p99=+10%,\n"
    "                       phase.append.p99.9=+25%, cause.journal=+10pt (points);\n"
    "                       repeatable; replaces the default gates\n"
    "                       latency.p99=+10% and latency.p99.9=+20%\n"
    "      --floor-us N     a quantile regresses only if it grew by more than N us\n"
    "                       (default 200)\n"
    "      --seed N         the bootstrap's seed (default 1): same seed, same output\n"
    "      --boot N         bootstrap resamples (default 2000)\n"
    "  -h, --help           this text\n"
    "\n"
    "Exit status: 0 pass or improved, 1 regression, 2 error, 3 inconclusive (too\n"
    "few samples or tail requests, request rates over 10% apart, different setups).\n"
    "\n"
    "EXAMPLES\n"
    "  kafkalat compare main-*.data -- pr-*.data\n"
    "  kafkalat compare --gate latency.p99=+5% --format md base.data -- new.data\n";

static int fail(const char *msg, const char *arg)
{
	fprintf(stderr, "kafkalat compare: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
	return CMP_ERROR;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' ? -EINVAL : 0;
}

static int parse_option(struct args *a, int c, const char *arg)
{
	char err[160];
	double d;
	long l;

	switch (c) {
	case 'j':
		a->fmt = FMT_JSON;
		return 0;
	case 'f':
		if (!strcmp(arg, "text") || !strcmp(arg, "json") || !strcmp(arg, "md")) {
			a->fmt = arg[0] == 't' ? FMT_TEXT : arg[0] == 'j' ? FMT_JSON : FMT_MD;
			return 0;
		}
		return fail("--format: want text, json or md, not", arg);
	case 'g':
		if (a->o.ngates == CMP_MAX_GATES)
			return fail("too many --gate", NULL);
		if (cmp_gate_parse(arg, &a->gates[a->o.ngates], err, sizeof(err)))
			return fail(err, NULL);
		a->o.gates = a->gates;
		a->o.ngates++;
		return 0;
	case 'F':
		if (cli_parse_double(arg, 0, 1e9, &d))
			return fail("--floor-us: want microseconds, not", arg);
		a->o.floor_ns = d * 1e3;
		return 0;
	case 's':
		return parse_u64(arg, &a->o.seed) ? fail("--seed: want a number, not", arg) : 0;
	case 'B':
		if (cli_parse_long(arg, 1, 1000000, &l))
			return fail("--boot: want 1 to 1000000, not", arg);
		a->o.boot = (uint32_t)l;
		return 0;
	default:
		return fail("bad option (see kafkalat compare --help)", NULL);
	}
}

/* Options and BASE before "--", NEW after it. 0 run, 1 help, 2 error. */
static int parse_args(struct args *a, int argc, char **argv)
{
	static const struct option longs[] = {
	    {"json", no_argument, NULL, 'j'},	    {"format", required_argument, NULL, 'f'},
	    {"gate", required_argument, NULL, 'g'}, {"floor-us", required_argument, NULL, 'F'},
	    {"seed", required_argument, NULL, 's'}, {"boot", required_argument, NULL, 'B'},
	    {"help", no_argument, NULL, 'h'},	    {0},
	};
	int sep = 1, c;

	while (sep < argc && strcmp(argv[sep], "--"))
		sep++;
	optind = 1;
	while ((c = getopt_long(sep, argv, "jh", longs, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (parse_option(a, c, optarg))
			return 2;
	}
	if (sep == argc)
		return fail("want BASE... -- NEW... (see --help)", NULL);
	a->paths[0] = argv + optind;
	a->npaths[0] = (uint32_t)(sep - optind);
	a->paths[1] = argv + sep + 1;
	a->npaths[1] = (uint32_t)(argc - sep - 1);
	if (!a->npaths[0] || !a->npaths[1])
		return fail(a->npaths[0] ? "no NEW recording after --"
					 : "no BASE recording before --",
			    NULL);
	return 0;
}

/* One struct rec per file: each is a run, and its intervals keep their file. */
static int load_side(struct rec *recs, const struct rec **ptrs, char **paths, uint32_t n)
{
	char err[512];

	for (uint32_t i = 0; i < n; i++) {
		if (rec_load(&recs[i], (const char *const *)&paths[i], 1, err, sizeof(err)))
			return fail(err, NULL);
		ptrs[i] = &recs[i];
	}
	return 0;
}

static void print_result(const struct args *a, const struct cmp_result *r)
{
	if (a->fmt == FMT_JSON)
		cmp_print_json(stdout, r);
	else if (a->fmt == FMT_MD)
		cmp_print_md(stdout, r);
	else
		cmp_print_text(stdout, r);
}

static int run(const struct args *a, struct rec *recs[2], const struct rec **ptrs[2])
{
	struct cmp_side side[2];
	struct cmp_result r;
	char err[256];
	int ret;

	for (int k = 0; k < 2; k++) {
		if ((ret = load_side(recs[k], ptrs[k], a->paths[k], a->npaths[k])))
			return ret;
		side[k] = (struct cmp_side){.runs = ptrs[k], .nruns = a->npaths[k]};
	}
	if (cmp_run(side, &a->o, &r, err, sizeof(err)))
		return fail(err, NULL);
	print_result(a, &r);
	ret = (int)r.exit_code;
	cmp_result_free(&r);
	return ret;
}

int compare_main(int argc, char **argv)
{
	struct args a = {.fmt = FMT_TEXT};
	struct rec *recs[2] = {NULL, NULL};
	const struct rec **ptrs[2] = {NULL, NULL};
	int ret;

	cmp_opts_default(&a.o);
	if ((ret = parse_args(&a, argc, argv)))
		return ret == 1 ? 0 : CMP_ERROR;
	for (int k = 0; k < 2; k++) {
		recs[k] = calloc(a.npaths[k], sizeof(*recs[k]));
		ptrs[k] = calloc(a.npaths[k], sizeof(*ptrs[k]));
	}
	if (recs[0] && recs[1] && ptrs[0] && ptrs[1])
		ret = run(&a, recs, ptrs);
	else
		ret = fail("out of memory", NULL);
	for (int k = 0; k < 2; k++) {
		for (uint32_t i = 0; recs[k] && i < a.npaths[k]; i++)
			rec_free(&recs[k][i]);
		free(recs[k]);
		free(ptrs[k]);
	}
	fflush(stdout);
	return ret;
}
