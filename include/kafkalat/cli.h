/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Command-line options of the live tracer, parsed without side effects. */
#ifndef KAFKALAT_CLI_H
#define KAFKALAT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafkalat/events.h"

#define KAFKALAT_VERSION      "0.1.0"
#define CLI_DEFAULT_PORT      9092
#define CLI_DEFAULT_CALM_NICE 19

struct cli_opts {
	int pids[KLT_MAX_BROKERS]; /* -p, repeatable: the brokers */
	int npids;		   /* 0 = every process listening on ports[] */
	uint16_t ports[KLT_MAX_PORTS];
	int nports;
	double duration_s; /* 0 = until Ctrl-C, SIGTERM or the broker exits */
	double interval_s; /* 0 = summary only */
	long count;	   /* intervals to print; 0 = unlimited */
	double slower_ms;  /* < 0 = off */
	bool json;
	bool verbose;
	const char *requests_path;
	const char *folded_path; /* --folded FILE */
	bool no_causes;		 /* --no-causes: the socket probe only */
	const char *dump_path;	 /* --dump-events FILE */
	size_t ringbuf_bytes;
	int calm_nice;	/* --nice: niceness while the rings have room (pace.h) */
	bool bpf_stats; /* --bpf-stats: count our programs' kernel time */
	bool follow;	/* --follow: when the brokers exit, trace the next listeners */
	/* `kafkalat record`: what to record; NULL for the live tables */
	const struct record_opts *record;
};

#define CLI_MAX_LABELS 32

struct record_opts {
	const char *path;		    /* -o FILE (REC_DEFAULT_PATH) */
	uint32_t slowest;		    /* --slowest N: per interval */
	const char *labels[CLI_MAX_LABELS]; /* --label KEY=VALUE, checked */
	int nlabels;
	char **cmd; /* -- CMD ARGS...: NULL-terminated, or NULL */
	int argc;   /* the command line, for the recording's meta */
	char **argv;
};

enum cli_result {
	CLI_RUN = 0,  /* options valid: run */
	CLI_EXIT = 1, /* --help or --version printed: exit 0 */
	CLI_ERROR = 2 /* error written to err: exit 2 */
};

/* Parses argv (argv[0] is the program name). On CLI_ERROR, err holds one
 * line without a newline. Help and version go to stdout. */
enum cli_result cli_parse(int argc, char **argv, struct cli_opts *o, char *err, size_t errlen);

/* `kafkalat record [options] [-- CMD ARGS...]`: the live options that
 * apply, and r's. o->interval_s is the recording's interval (-I). */
enum cli_result cli_record_parse(int argc, char **argv, struct cli_opts *o, struct record_opts *r,
				 char *err, size_t errlen);

/* Checked number parsing: the whole string, within [min, max]. */
int cli_parse_double(const char *s, double min, double max, double *out);
int cli_parse_long(const char *s, long min, long max, long *out);

#endif
