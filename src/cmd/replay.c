// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kafkalat replay: a --dump-events file through the same correlator, tail
 * pipeline and reporters as the live run, without root or BPF. For looking
 * at a recorded run again (another machine, other report options) and for
 * measuring the user-space pipeline's cost on a fixed input.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kafkalat/agg.h"
#include "kafkalat/cause_events.h"
#include "kafkalat/correlate.h"
#include "kafkalat/evdump.h"
#include "kafkalat/grow.h"
#include "kafkalat/replay.h"
#include "kafkalat/report.h"
#include "kafkalat/explain.h"

#define MAX_STACKS 65536 /* the live run's stack map holds no more */

struct stack {
	int32_t id;
	uint32_t seq; /* order in the dump: the first of an id wins, as live */
	int n;
	const char *frames[EVDUMP_MAX_FRAMES];
};

struct replay {
	struct corr *corr;
	struct explain *explain;
	struct agg total;
	FILE *requests;
	struct stack *stacks; /* sorted by (id, seq) once collected */
	size_t nstacks, stacks_cap;
	struct evdump_stats stats;
	bool have_stats;
	bool futex_syscalls;	 /* the dump has futex syscall records */
	struct report_slow slow; /* --slower; its clock from EVDUMP_CLOCK */
	uint64_t t_min, t_max;	 /* first byte of the first request, end of the last */
	int oom;
};

static const char usage[] =
    "usage: kafkalat replay [-j] [--slower MS] [--requests FILE] [--folded FILE] DUMP\n"
    "\n"
    "Replays a file written by `kafkalat --dump-events DUMP` through the\n"
    "correlator and the tail breakdown, and prints the run's summary as the\n"
    "live run would have. Needs neither root nor BPF.\n"
    "\n"
    "  -j, --json          JSON lines; the summary is the last (docs/json.md)\n"
    "      --slower MS     each produce request slower than MS milliseconds, with\n"
    "                      its phases and top cause, as the live run prints them\n"
    "      --requests FILE every request as a JSON line, with its attribution\n"
    "      --folded FILE   the >= p99 requests' off-CPU stacks, folded\n"
    "  -h, --help          this text\n";

/* The first stack of the dump with this id (the ids are sorted). */
static int stack_frames(void *ctx, int32_t id, const char **frames, int max)
{
	struct replay *rp = ctx;
	size_t lo = 0, hi = rp->nstacks;
	const struct stack *st;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rp->stacks[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == rp->nstacks || rp->stacks[lo].id != id)
		return -ENOENT;
	st = &rp->stacks[lo];
	for (int k = 0; k < st->n && k < max; k++)
		frames[k] = st->frames[k];
	return st->n < max ? st->n : max;
}

static int stack_order(const void *a, const void *b)
{
	const struct stack *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void on_attributed(const struct corr_request *r, const struct attrib_result *res, void *ctx)
{
	struct replay *rp = ctx;
	struct report_attrib a = {.res = res};
	char stack[REPORT_STACK_TEXT];

	if (rp->requests)
		report_request_json(rp->requests, r, &a);
	/* the stack is printed on the slow lines only */
	if (report_is_slow(&rp->slow, r) && res->top_stack_id != -1) {
		explain_stack_text(rp->explain, res->top_stack_id, ";", stack, sizeof(stack));
		a.stack = stack;
	}
	report_slow_line(&rp->slow, r, &a);
}

static void on_complete(const struct corr_request *r, void *ctx)
{
	struct replay *rp = ctx;

	if (agg_add(&rp->total, r))
		rp->oom = 1;
	if (r->t_first && (!rp->t_min || r->t_first < rp->t_min))
		rp->t_min = r->t_first;
	if (r->t_end > rp->t_max)
		rp->t_max = r->t_end;
	if (r->api_key == 0 && r->t_end && r->acks != 0 && explain_request(rp->explain, r) == 0) {
		/* the live run drained both rings every 100 ms: a request's causes
		 * are in the dump well before the records 300 ms after it ended */
		explain_advance(rp->explain, rp->t_max);
		return;
	}
	if (r->api_key != 0)
		return;
	if (rp->requests)
		report_request_json(rp->requests, r, NULL);
	report_slow_line(&rp->slow, r, NULL);
}

/* The stacks first: the live run wrote each after the record needing it.
 * The same pass sees whether the run traced futex syscalls: without them
 * (file syscalls on their own tracepoints) the live run took futex waits
 * from the scheduler's stackless intervals, and so must the replay. */
static int collect_stacks(void *ctx, enum evdump_kind kind, const void *data, size_t len)
{
	struct replay *rp = ctx;
	struct stack *s;
	uint32_t type;

	if (kind == EVDUMP_CLOCK && len == sizeof(rp->slow.wall_offset_ns))
		memcpy(&rp->slow.wall_offset_ns, data, sizeof(rp->slow.wall_offset_ns));
	if (kind == EVDUMP_CAUSE && len >= sizeof(type)) {
		memcpy(&type, data, sizeof(type));
		rp->futex_syscalls |= type == KLC_EV_FUTEX;
	}
	if (kind != EVDUMP_STACK)
		return 0;
	if (rp->nstacks == MAX_STACKS)
		return -E2BIG;
	if (grow_array((void **)&rp->stacks, &rp->stacks_cap, rp->nstacks + 1, sizeof(*s),
		       MAX_STACKS))
		return -ENOMEM;
	s = &rp->stacks[rp->nstacks];
	s->seq = (uint32_t)rp->nstacks;
	s->n = evdump_parse_stack(data, len, &s->id, s->frames, EVDUMP_MAX_FRAMES);
	if (s->n < 0)
		return s->n;
	rp->nstacks++;
	return 0;
}

static int feed(void *ctx, enum evdump_kind kind, const void *data, size_t len)
{
	struct replay *rp = ctx;

	if (kind == EVDUMP_SOCKET)
		corr_feed(rp->corr, data, len);
	else if (kind == EVDUMP_CAUSE)
		explain_feed(rp->explain, data, len);
	else if (kind == EVDUMP_TOPIC_ID && len == sizeof(struct evdump_topic_id)) {
		struct evdump_topic_id d;

		memcpy(&d, data, sizeof(d));
		d.name[sizeof(d.name) - 1] = '\0';
		explain_add_topic_id(rp->explain, d.id, d.name);
	} else if (kind == EVDUMP_STATS && len == sizeof(rp->stats)) {
		memcpy(&rp->stats, data, sizeof(rp->stats));
		rp->have_stats = true;
		corr_note_lost(rp->corr, rp->stats.socket_lost);
	}
	return rp->oom ? -ENOMEM : 0;
}

static int map_file(const char *path, void **buf, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size <= 0) {
		int err = st.st_size <= 0 ? -EINVAL : -errno;

		close(fd);
		return err;
	}
	*len = (size_t)st.st_size;
	*buf = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return *buf == MAP_FAILED ? -errno : 0;
}

static int open_private(const char *path, FILE **out)
{
	int err = path ? report_create_private(path, out) : 0;

	if (err)
		fprintf(stderr, "kafkalat replay: cannot write %s: %s\n", path, strerror(-err));
	return err;
}

static void print_summary(struct replay *rp, bool json)
{
	static struct report_tail rt;
	struct report_run run = {.pid = 0, .nports = 0};

	report_tail_fill(&rt, rp->explain);
	rt.file_events = rp->futex_syscalls ? "raw" : "tracepoints";
	rt.lost_events = rp->stats.cause_lost;
	rt.stack_errors = rp->stats.stack_errors;
	run.tail = &rt;
	snprintf(run.comm, sizeof(run.comm), "replay");
	run.duration_s = rp->t_max > rp->t_min ? (double)(rp->t_max - rp->t_min) / 1e9 : 0;
	run.lost_events = rp->stats.socket_lost;
	run.conn_table_full = rp->stats.conn_table_full;
	run.resync_skipped = rp->stats.resync_skipped;
	run.counts = corr_counts(rp->corr);
	if (json)
		report_summary_json(stdout, &rp->total, &run);
	else
		report_summary_text(stdout, &rp->total, &run);
}

static int write_folded(struct replay *rp, const char *path)
{
	FILE *f = NULL;
	int n;

	if (!path)
		return 0;
	if (open_private(path, &f))
		return -1;
	n = explain_write_folded(rp->explain, f);
	if (fclose(f) || n < 0) {
		fprintf(stderr, "kafkalat replay: writing %s failed\n", path);
		return -1;
	}
	return 0;
}

static int run(const char *path, bool json, double slower_ms, const char *requests,
	       const char *folded)
{
	struct replay rp = {.slow = {.slower_ms = slower_ms, .json = json}};
	struct explain_config cfg;
	size_t len = 0, bad = 0;
	void *buf = NULL;
	int err, rc = 1;

	err = map_file(path, &buf, &len);
	if (err) {
		fprintf(stderr, "kafkalat replay: cannot read %s: %s\n", path,
			err == -EINVAL ? "empty" : strerror(-err));
		return 1;
	}
	agg_init(&rp.total);
	err = evdump_read(buf, len, collect_stacks, &rp, &bad);
	if (err)
		goto bad_dump;
	if (rp.nstacks)
		qsort(rp.stacks, rp.nstacks, sizeof(*rp.stacks), stack_order);
	explain_config_default(&cfg);
	cfg.futex_from_offcpu = !rp.futex_syscalls;
	rp.explain = explain_new(&cfg, stack_frames, &rp, on_attributed, &rp);
	rp.corr = corr_new(on_complete, &rp);
	if (!rp.explain || !rp.corr) {
		fprintf(stderr, "kafkalat replay: out of memory\n");
		goto out;
	}
	if (open_private(requests, &rp.requests))
		goto out;
	err = evdump_read(buf, len, feed, &rp, &bad);
	if (err) {
	bad_dump:
		fprintf(stderr, "kafkalat replay: %s: %s at byte %zu\n", path,
			err == -ENOMEM	? "out of memory"
			: err == -E2BIG ? "too many stacks"
					: "not a kafkalat dump of this version, or damaged",
			bad);
		goto out;
	}
	corr_finish(rp.corr);
	explain_finish(rp.explain);
	if (!rp.have_stats)
		fprintf(stderr,
			"kafkalat replay: %s has no loss counters (the run did not end "
			"cleanly): losses in the kernel are not known\n",
			path);
	print_summary(&rp, json);
	rc = write_folded(&rp, folded) ? 1 : 0;
	if (rp.requests && fclose(rp.requests)) {
		fprintf(stderr, "kafkalat replay: writing %s failed\n", requests);
		rc = 1;
	}
	rp.requests = NULL;
out:
	if (rp.requests)
		fclose(rp.requests);
	corr_free(rp.corr);
	explain_free(rp.explain);
	agg_free(&rp.total);
	free(rp.stacks);
	munmap(buf, len);
	return rc;
}

int replay_main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"json", no_argument, NULL, 'j'},	      {"requests", required_argument, NULL, 'r'},
	    {"folded", required_argument, NULL, 'f'}, {"slower", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},	      {0},
	};
	const char *requests = NULL, *folded = NULL;
	double slower_ms = -1;
	bool json = false;
	char *end;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'r':
			requests = optarg;
			break;
		case 'f':
			folded = optarg;
			break;
		case 's':
			slower_ms = strtod(optarg, &end);
			if (end == optarg || *end || !(slower_ms >= 0) || slower_ms > 1e9) {
				fprintf(stderr,
					"kafkalat replay: --slower: '%s' is not a number of "
					"milliseconds >= 0\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "kafkalat replay: %s\n%s",
			optind == argc ? "no dump file given" : "one dump file only", usage);
		return 2;
	}
	return run(argv[optind], json, slower_ms, requests, folded);
}
