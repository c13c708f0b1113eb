// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/cli.h"

static const char usage[] =
    "Usage: kafkalat [-p PID] [-P PORT]... [-d SECONDS] [--slower MS] [-j]\n"
    "                [--requests FILE] [--folded FILE] [--no-causes] [--nice N]\n"
    "                [--bpf-stats] [--follow] [-v]\n"
    "                [interval [count]]\n"
    "       kafkalat load -b BOOTSTRAP -t TOPIC [...]   (kafkalat load --help)\n"
    "       kafkalat replay [-j] DUMP [...]             (kafkalat replay --help)\n"
    "\n"
    "Produce latency of a running Kafka broker, from its own socket syscalls,\n"
    "with BPF: every request is framed, matched with its response and timed from\n"
    "the first byte read to the last byte of the response written. Each produce\n"
    "request is then split into broker phases (read, queue, lock, append,\n"
    "post_append or, for acks=all, replication and response_queue, send) and\n"
    "kernel causes (cpu, runq, journal, writeback, blkio, replica_fetch,\n"
    "futex, ...) from the broker threads' scheduler, file and futex events, and\n"
    "the summary says what the p99 and p99.9 tail is made of.\n"
    "\n"
    "  -p, --pid PID         broker process, repeatable (at most 8; default: every\n"
    "                        process listening on the ports)\n"
    "  -P, --port PORT       Kafka listener port, repeatable (default 9092, at most 8)\n"
    "  -d, --duration SECS   stop after SECS seconds and print the summary\n"
    "      --slower MS       print each produce request slower than MS milliseconds\n"
    "  -j, --json            JSON lines on stdout (schema kafkalat/1, docs/json.md)\n"
    "      --requests FILE   write every produce request as a JSON line to FILE (0600)\n"
    "      --folded FILE     write the off-CPU kernel stacks of the >= p99 requests\n"
    "                        in folded form (flamegraph.pl, speedscope) to FILE (0600)\n"
    "      --no-causes       socket latency only: no phases, causes or tail composition\n"
    "      --dump-events FILE  write the kernel's raw records and the stacks' names\n"
    "                        to FILE (0600), for `kafkalat replay FILE`\n"
    "      --nice N          kafkalat's niceness while its rings have room (default 19;\n"
    "                        it then also yields the CPU every 100 us of work, so it\n"
    "                        gives way to the broker and its clients); it returns to\n"
    "                        its starting niceness whenever a ring fills past a\n"
    "                        quarter, so it keeps up; N at or below the starting\n"
    "                        niceness turns this off\n"
    "      --bpf-stats       count the kernel time of kafkalat's BPF programs while\n"
    "                        tracing and show it per request in the summary (turns\n"
    "                        on the kernel's run-time statistics for every BPF\n"
    "                        program until kafkalat exits: two clock reads, about\n"
    "                        50 ns here, per program run); kafkalat's own CPU per\n"
    "                        request is always shown\n"
    "      --ringbuf-mb MB   socket ring buffer size (power of two, default 8; the\n"
    "                        causes ring is half of it); what a full ring loses is\n"
    "                        counted by kind, and the requests it touched are left\n"
    "                        out (the summary's \"lost\")\n"
    "      --follow          when a broker exits, keep running: wait for a new\n"
    "                        process listening on its ports (looked for every\n"
    "                        100 ms, until Ctrl-C, SIGTERM or -d) and trace it;\n"
    "                        the other brokers stay traced throughout; intervals\n"
    "                        mark each broker's gap and the summary lists each\n"
    "                        process (life) of each broker with its requests\n"
    "  -v, --verbose         libbpf debug output (verifier log) on stderr\n"
    "  -h, --help            this help\n"
    "  -V, --version         version\n"
    "  interval [count]      print a table every interval seconds, count times\n"
    "\n"
    "Needs root (or CAP_BPF and CAP_PERFMON) and a kernel with BTF.\n"
    "Ctrl-C, SIGTERM, the end of -d or the last broker's exit (without --follow)\n"
    "print the summary.\n"
    "\n"
    "Exit status: 0 the run ended, 1 a runtime failure, 2 usage, 3 no broker to\n"
    "trace, 4 a capability missing (named), 5 no kernel BTF, 130/143 SIGINT or\n"
    "SIGTERM before tracing began, 141 stdout's reader went away.\n"
    "\n"
    "Examples:\n"
    "  kafkalat                      # broker on port 9092, summary at Ctrl-C\n"
    "  kafkalat -p 1234 5            # table every 5 s for broker pid 1234\n"
    "  kafkalat -P 9093 -d 30        # 30 s on port 9093, then the summary\n"
    "  kafkalat --slower 100         # one line per produce slower than 100 ms\n"
    "  kafkalat -j -d 10 | tail -1   # the JSON summary\n"
    "  kafkalat --requests /tmp/r.jsonl -d 60\n";

enum {
	OPT_SLOWER = 256,
	OPT_LABEL,
	OPT_SLOWEST,
	OPT_REQUESTS,
	OPT_RINGBUF,
	OPT_FOLDED,
	OPT_NO_CAUSES,
	OPT_DUMP,
	OPT_NICE,
	OPT_BPF_STATS,
	OPT_FOLLOW
};

static const struct option long_opts[] = {
    {"pid", required_argument, NULL, 'p'},
    {"port", required_argument, NULL, 'P'},
    {"duration", required_argument, NULL, 'd'},
    {"slower", required_argument, NULL, OPT_SLOWER},
    {"json", no_argument, NULL, 'j'},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"ringbuf-mb", required_argument, NULL, OPT_RINGBUF},
    {"folded", required_argument, NULL, OPT_FOLDED},
    {"no-causes", no_argument, NULL, OPT_NO_CAUSES},
    {"dump-events", required_argument, NULL, OPT_DUMP},
    {"nice", required_argument, NULL, OPT_NICE},
    {"bpf-stats", no_argument, NULL, OPT_BPF_STATS},
    {"follow", no_argument, NULL, OPT_FOLLOW},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

int cli_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cli_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static enum cli_result errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CLI_ERROR;
}

static enum cli_result add_port(struct cli_opts *o, const char *arg, char *err, size_t errlen)
{
	long v;

	if (cli_parse_long(arg, 1, 65535, &v))
		return errorf(err, errlen, "invalid port '%s' (expected 1-65535)", arg);
	if (o->nports >= KLT_MAX_PORTS)
		return errorf(err, errlen, "at most %d ports", KLT_MAX_PORTS);
	for (int i = 0; i < o->nports; i++)
		if (o->ports[i] == v)
			return CLI_RUN;
	o->ports[o->nports++] = (uint16_t)v;
	return CLI_RUN;
}

static enum cli_result parse_option(int c, const char *arg, struct cli_opts *o, char *err,
				    size_t errlen)
{
	long l;
	double d;

	switch (c) {
	case 'p':
		if (cli_parse_long(arg, 1, 0x7fffffff, &l))
			return errorf(err, errlen, "invalid pid '%s'", arg);
		for (int i = 0; i < o->npids; i++)
			if (o->pids[i] == (int)l)
				return CLI_RUN;
		if (o->npids >= KLT_MAX_BROKERS)
			return errorf(err, errlen, "at most %d pids", KLT_MAX_BROKERS);
		o->pids[o->npids++] = (int)l;
		return CLI_RUN;
	case 'P':
		return add_port(o, arg, err, errlen);
	case 'd':
		if (cli_parse_double(arg, 0.001, 1e7, &o->duration_s))
			return errorf(err, errlen, "invalid duration '%s' (seconds > 0)", arg);
		return CLI_RUN;
	case OPT_SLOWER:
		if (cli_parse_double(arg, 0, 1e9, &o->slower_ms))
			return errorf(err, errlen, "invalid --slower '%s' (milliseconds >= 0)",
				      arg);
		return CLI_RUN;
	case 'j':
		o->json = true;
		return CLI_RUN;
	case OPT_REQUESTS:
		o->requests_path = arg;
		return CLI_RUN;
	case OPT_FOLDED:
		o->folded_path = arg;
		return CLI_RUN;
	case OPT_NO_CAUSES:
		o->no_causes = true;
		return CLI_RUN;
	case OPT_DUMP:
		o->dump_path = arg;
		return CLI_RUN;
	case OPT_BPF_STATS:
		o->bpf_stats = true;
		return CLI_RUN;
	case OPT_FOLLOW:
		o->follow = true;
		return CLI_RUN;
	case OPT_NICE:
		if (cli_parse_long(arg, -20, 19, &l))
			return errorf(err, errlen, "invalid --nice '%s' (expected -20 to 19)", arg);
		o->calm_nice = (int)l;
		return CLI_RUN;
	case OPT_RINGBUF:
		if (cli_parse_double(arg, 1, 4096, &d) || d != (double)(long)d ||
		    ((long)d & ((long)d - 1)))
			return errorf(err, errlen,
				      "invalid --ringbuf-mb '%s' (power of two, 1-4096)", arg);
		o->ringbuf_bytes = (size_t)d << 20;
		return CLI_RUN;
	case 'v':
		o->verbose = true;
		return CLI_RUN;
	case 'h':
		fputs(usage, stdout);
		return CLI_EXIT;
	case 'V':
		printf("kafkalat %s (event ABI %d)\n", KAFKALAT_VERSION, KLT_ABI_VERSION);
		return CLI_EXIT;
	default:
		return errorf(err, errlen, "unknown option (see kafkalat --help)");
	}
}

static enum cli_result parse_positionals(int argc, char **argv, struct cli_opts *o, char *err,
					 size_t errlen)
{
	if (argc > 2)
		return errorf(err, errlen, "unexpected argument '%s' (see kafkalat --help)",
			      argv[2]);
	if (argc >= 1 && cli_parse_double(argv[0], 0.01, 1e6, &o->interval_s))
		return errorf(err, errlen, "invalid interval '%s' (seconds > 0)", argv[0]);
	if (argc == 2 && cli_parse_long(argv[1], 1, 0x7fffffff, &o->count))
		return errorf(err, errlen, "invalid count '%s' (integer >= 1)", argv[1]);
	return CLI_RUN;
}

/* getopt says ':' with optopt the short option, or a long option's code. */
static enum cli_result missing_argument(char *err, size_t errlen)
{
	for (const struct option *lo = long_opts; lo->name; lo++)
		if (lo->val == optopt && optopt >= 256)
			return errorf(err, errlen,
				      "option --%s needs an argument (see kafkalat --help)",
				      lo->name);
	if (optopt > 0 && optopt < 256)
		return errorf(err, errlen, "option -%c needs an argument (see kafkalat --help)",
			      optopt);
	return errorf(err, errlen, "an option needs an argument (see kafkalat --help)");
}

enum cli_result cli_parse(int argc, char **argv, struct cli_opts *o, char *err, size_t errlen)
{
	enum cli_result r;
	int c;

	memset(o, 0, sizeof(*o));
	o->slower_ms = -1;
	o->calm_nice = CLI_DEFAULT_CALM_NICE;
	err[0] = '\0';
	optind = 0; /* 0, not 1: also resets glibc's place inside "-abc" groups */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:P:d:jvhV", long_opts, NULL)) != -1) {
		if (c == ':')
			return missing_argument(err, errlen);
		if (c == '?') {
			if (optopt)
				return errorf(err, errlen,
					      "unknown option '-%c' (see kafkalat --help)", optopt);
			return errorf(err, errlen, "unknown option '%s' (see kafkalat --help)",
				      argv[optind - 1]);
		}
		r = parse_option(c, optarg, o, err, errlen);
		if (r != CLI_RUN)
			return r;
	}
	r = parse_positionals(argc - optind, argv + optind, o, err, errlen);
	if (r != CLI_RUN)
		return r;
	if (o->folded_path && o->no_causes)
		return errorf(err, errlen, "--folded needs the causes: drop --no-causes");
	if (!o->nports)
		o->ports[o->nports++] = CLI_DEFAULT_PORT;
	return CLI_RUN;
}

/* ---- kafkalat record ---- */

static const char record_usage[] =
    "Usage: kafkalat record [-p PID] [-P PORT]... [-o FILE] [-d SECONDS] [-I SECONDS]\n"
    "                       [--label KEY=VALUE]... [--slowest N] [--no-causes]\n"
    "                       [--nice N] [--bpf-stats] [--ringbuf-mb MB] [--follow]\n"
    "                       [-v]\n"
    "                       [-- CMD [ARGS...]]\n"
    "\n"
    "Profiles the broker as kafkalat does and writes a compact recording for\n"
    "`kafkalat report` and `kafkalat compare`: a meta record (host, kernel,\n"
    "broker, log dirs' file systems, labels, command line), one record per\n"
    "interval (latency histograms of the total, each phase, cause and API;\n"
    "rates; band shares; top partitions and clients; the slowest requests with\n"
    "their attribution) and a trailer (tail stacks, journal overlap, kafkalat's\n"
    "own cost, lost events). Records are written as the run goes, zlib-\n"
    "compressed with a CRC each: a killed run stays readable up to its last\n"
    "complete record.\n"
    "\n"
    "  -o, --output FILE     the recording (default kafkalat.data; an existing\n"
    "                        one is renamed FILE.old first); mode 0600\n"
    "  -d, --duration SECS   stop after SECS seconds\n"
    "  -I, --interval SECS   one record per SECS seconds (default 10)\n"
    "      --label KEY=VALUE a label for the reports and metrics, repeatable\n"
    "                        (KEY: letters, digits, '_'; at most 32)\n"
    "      --slowest N       slowest requests kept per interval (default 100)\n"
    "  -p, --pid PID, -P, --port PORT, --no-causes, --nice N, --bpf-stats,\n"
    "  --ringbuf-mb MB, --follow, -v\n"
    "                        as for kafkalat (kafkalat --help); with --follow the\n"
    "                        intervals and the trailer carry the gaps and lives\n"
    "  -- CMD [ARGS...]      start CMD once tracing runs, and record until it\n"
    "                        exits (its exit status fails the recording)\n"
    "\n"
    "Ends at Ctrl-C, SIGTERM, the end of -d, the command's exit or the broker's\n"
    "(without --follow).\n"
    "Exit status: 0 recorded, 1 failed (the file keeps what was written), 2 usage;\n"
    "3, 4, 5, 130, 143 as for kafkalat.\n"
    "\n"
    "Examples:\n"
    "  kafkalat record -d 3600 -o nightly.data --label cluster=prod-eu\n"
    "  kafkalat record -I 1 -- kafkalat load -b 127.0.0.1:9092 -t t -d 60\n"
    "  kafkalat report kafkalat.data\n";

static const struct option record_opts_long[] = {
    {"pid", required_argument, NULL, 'p'},
    {"port", required_argument, NULL, 'P'},
    {"output", required_argument, NULL, 'o'},
    {"duration", required_argument, NULL, 'd'},
    {"interval", required_argument, NULL, 'I'},
    {"label", required_argument, NULL, OPT_LABEL},
    {"slowest", required_argument, NULL, OPT_SLOWEST},
    {"ringbuf-mb", required_argument, NULL, OPT_RINGBUF},
    {"no-causes", no_argument, NULL, OPT_NO_CAUSES},
    {"nice", required_argument, NULL, OPT_NICE},
    {"bpf-stats", no_argument, NULL, OPT_BPF_STATS},
    {"follow", no_argument, NULL, OPT_FOLLOW},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* KEY=VALUE, KEY a Prometheus label name without the reserved "__". */
static bool valid_label(const char *s)
{
	const char *eq = strchr(s, '=');

	if (!eq || eq == s || (eq - s >= 2 && s[0] == '_' && s[1] == '_'))
		return false;
	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return false;
	for (const char *p = s; p < eq; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	for (const char *p = eq + 1; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static enum cli_result record_option(int c, const char *arg, struct cli_opts *o,
				     struct record_opts *r, char *err, size_t errlen)
{
	long l;

	switch (c) {
	case 'o':
		if (!*arg)
			return errorf(err, errlen, "empty -o file name");
		r->path = arg;
		return CLI_RUN;
	case 'I':
		if (cli_parse_double(arg, 0.1, 86400, &o->interval_s))
			return errorf(err, errlen, "invalid interval '%s' (0.1-86400 seconds)",
				      arg);
		return CLI_RUN;
	case OPT_LABEL:
		if (!valid_label(arg))
			return errorf(err, errlen,
				      "invalid --label '%s' (KEY=VALUE; KEY of letters, digits "
				      "and '_')",
				      arg);
		if (r->nlabels >= CLI_MAX_LABELS)
			return errorf(err, errlen, "at most %d labels", CLI_MAX_LABELS);
		r->labels[r->nlabels++] = arg;
		return CLI_RUN;
	case OPT_SLOWEST:
		if (cli_parse_long(arg, 0, 100000, &l))
			return errorf(err, errlen, "invalid --slowest '%s' (0-100000)", arg);
		r->slowest = (uint32_t)l;
		return CLI_RUN;
	case 'h':
		fputs(record_usage, stdout);
		return CLI_EXIT;
	default:
		return parse_option(c, arg, o, err, errlen);
	}
}

enum cli_result cli_record_parse(int argc, char **argv, struct cli_opts *o, struct record_opts *r,
				 char *err, size_t errlen)
{
	enum cli_result res;
	int c;

	memset(o, 0, sizeof(*o));
	memset(r, 0, sizeof(*r));
	o->slower_ms = -1;
	o->calm_nice = CLI_DEFAULT_CALM_NICE;
	o->interval_s = 10;
	o->record = r;
	r->path = "kafkalat.data";
	r->slowest = 100;
	r->argc = argc;
	r->argv = argv;
	err[0] = '\0';
	optind = 0;
	opterr = 0;
	/* '+': the first non-option ends the options (the command follows --) */
	while ((c = getopt_long(argc, argv, "+:p:P:o:d:I:vh", record_opts_long, NULL)) != -1) {
		if (c == ':')
			return missing_argument(err, errlen);
		if (c == '?')
			return errorf(err, errlen,
				      "unknown option '%s' (see kafkalat record --help)",
				      argv[optind - 1]);
		res = record_option(c, optarg, o, r, err, errlen);
		if (res != CLI_RUN)
			return res;
	}
	if (optind < argc && strcmp(argv[optind - 1], "--"))
		return errorf(err, errlen,
			      "unexpected argument '%s' (a command goes after --: see kafkalat "
			      "record --help)",
			      argv[optind]);
	if (optind < argc)
		r->cmd = argv + optind;
	else if (optind > 0 && !strcmp(argv[optind - 1], "--"))
		return errorf(err, errlen, "no command after --");
	if (!o->nports)
		o->ports[o->nports++] = CLI_DEFAULT_PORT;
	return CLI_RUN;
}
