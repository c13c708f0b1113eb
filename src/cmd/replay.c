// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kafkalat replay: a --dump-events file through the live run's pipeline
 * (pipeline.h), without root or BPF. For looking
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

#include "kafkalat/cause_events.h"
#include "kafkalat/evdump.h"
#include "kafkalat/grow.h"
#include "kafkalat/outputs.h"
#include "kafkalat/pipeline.h"
#include "kafkalat/replay.h"

#define MAX_STACKS 65536 /* the live run's stack map holds no more */

struct stack {
	int32_t id;
	uint32_t seq; /* order in the dump: the first of an id wins, as live */
	int n;
	const char *frames[EVDUMP_MAX_FRAMES];
};

struct replay {
	struct pipeline *pipe;
	struct stack *stacks; /* sorted by (id, seq) once collected */
	size_t nstacks, stacks_cap;
	struct evdump_stats stats;
	bool have_stats;
	struct evdump_run run; /* EVDUMP_RUN, else inferred from the records */
	bool have_run;
	bool cause_records;	/* the dump has cause records */
	bool futex_syscalls;	/* the dump has futex syscall records */
	int64_t wall_offset_ns; /* EVDUMP_CLOCK */
};

static const char usage[] =
    "usage: kafkalat replay [-j] [--slower MS] [--requests FILE] [--folded FILE] DUMP\n"
    "\n"
    "Replays a file written by `kafkalat --dump-events DUMP` through the\n"
    "same pipeline as the live run (correlator, attribution, reporters), and\n"
    "prints the summary the live run printed. Needs neither root nor BPF.\n"
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

/* The stacks first: the live run wrote each after the record needing it.
 * The same pass reads how the run traced; a dump without that record says
 * it through its records: cause records mean causes were traced, and
 * without futex syscall records (file syscalls on their own tracepoints)
 * the live run took futex waits from the scheduler's stackless intervals. */
static int collect_stacks(void *ctx, enum evdump_kind kind, const void *data, size_t len)
{
	struct replay *rp = ctx;
	struct stack *s;
	uint32_t type;

	if (kind == EVDUMP_CLOCK && len == sizeof(rp->wall_offset_ns))
		memcpy(&rp->wall_offset_ns, data, sizeof(rp->wall_offset_ns));
	if (kind == EVDUMP_RUN && len == sizeof(rp->run)) {
		memcpy(&rp->run, data, sizeof(rp->run));
		rp->have_run = true;
	}
	rp->cause_records |= kind == EVDUMP_CAUSE;
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
		pipeline_socket_record(rp->pipe, data, len);
	else if (kind == EVDUMP_CAUSE)
		pipeline_cause_record(rp->pipe, data, len);
	else if (kind == EVDUMP_TOPIC_ID && len == sizeof(struct evdump_topic_id)) {
		struct evdump_topic_id d;

		memcpy(&d, data, sizeof(d));
		d.name[sizeof(d.name) - 1] = '\0';
		pipeline_topic_id(rp->pipe, d.id, d.name);
	} else if (kind == EVDUMP_STATS && len == sizeof(rp->stats)) {
		memcpy(&rp->stats, data, sizeof(rp->stats));
		rp->have_stats = true;
		pipeline_note_lost(rp->pipe, rp->stats.socket_lost);
	}
	return pipeline_error(rp->pipe);
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

static void print_summary(struct replay *rp)
{
	struct report_run run = {.pid = 0, .nports = 0};
	uint64_t first, last;

	snprintf(run.comm, sizeof(run.comm), "replay");
	pipeline_span(rp->pipe, &first, &last);
	run.duration_s = last > first ? (double)(last - first) / 1e9 : 0;
	pipeline_summary(rp->pipe, &run);
}

/* The pipeline as the live run had it: with its causes if it traced them,
 * futex waits from where it took them, the stacks from the dump, and the
 * records' own times for its clock. */
static int start_pipeline(struct replay *rp, const struct outputs *out, bool json, double slower_ms)
{
	struct pipeline_config cfg = {.out = stdout,
				      .json = json,
				      .slower_ms = slower_ms,
				      .causes = rp->have_run ? rp->run.causes : rp->cause_records,
				      .futex_from_offcpu = rp->have_run ? rp->run.futex_from_offcpu
									: !rp->futex_syscalls,
				      .stack_fn = stack_frames,
				      .stack_ctx = rp,
				      .clock_from_records = true};

	memcpy(cfg.file, out->file, sizeof(cfg.file));
	rp->pipe = pipeline_new(&cfg);
	if (!rp->pipe)
		return -ENOMEM;
	pipeline_clock(rp->pipe, rp->wall_offset_ns);
	return 0;
}

static int run(const char *path, bool json, double slower_ms, struct outputs *out)
{
	struct replay rp = {0};
	size_t len = 0, bad = 0;
	void *buf = NULL;
	int err, rc = 1;

	err = map_file(path, &buf, &len);
	if (err) {
		fprintf(stderr, "kafkalat replay: cannot read %s: %s\n", path,
			err == -EINVAL ? "empty" : strerror(-err));
		return 1;
	}
	err = evdump_read(buf, len, collect_stacks, &rp, &bad);
	if (err)
		goto bad_dump;
	if (rp.nstacks)
		qsort(rp.stacks, rp.nstacks, sizeof(*rp.stacks), stack_order);
	if (outputs_open(out))
		goto out;
	if (start_pipeline(&rp, out, json, slower_ms)) {
		fprintf(stderr, "kafkalat replay: out of memory\n");
		goto out;
	}
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
	if (!rp.have_stats)
		fprintf(stderr,
			"kafkalat replay: %s has no loss counters (the run did not end "
			"cleanly): losses in the kernel are not known\n",
			path);
	pipeline_end(rp.pipe, &rp.stats);
	print_summary(&rp);
	rc = 0;
out:
	if (outputs_close(out, rp.pipe))
		rc = 1;
	pipeline_free(rp.pipe);
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
	struct outputs out = {.prog = "kafkalat replay"};
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
			out.path[PIPELINE_REQUESTS] = optarg;
			break;
		case 'f':
			out.path[PIPELINE_FOLDED] = optarg;
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
	return run(argv[optind], json, slower_ms, &out);
}
