/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Recordings for the tests of what reads them (report formats, compare,
 * merging): synthetic attributed Produce requests written by the real
 * writer (rec_write.c) into a file, read back by rec_load. Deterministic
 * for a seed. Header-only: each test program includes it once.
 */
#ifndef KAFKALAT_TEST_REC_FIXTURE_H
#define KAFKALAT_TEST_REC_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafkalat/recording.h"

struct rec_fixture_opts {
	unsigned int intervals;	   /* 10 s each */
	unsigned int per_interval; /* Produce requests per interval */
	uint64_t seed;
	double scale;	   /* multiplies every latency (1.0: a median near 2 ms) */
	double slow_share; /* of requests with a journal stall of 50-200 ms (0.02) */
	bool trailer;	   /* end cleanly (false: a killed run) */
	const char *label; /* a "label.run" meta value, or NULL */
	/* --follow: interval 1 has a 2.5 s gap between two lives of broker 0
	 * (pids 100, then 200), which the trailer lists with broker 1's one
	 * life (pid 300) */
	bool follow;
	/* besides interval 2's lost records (socket: 2 responses; causes: 1
	 * offcpu), interval 4 loses a Produce request frame, touches 3
	 * requests (2 Produce) and leaves 1 unattributed, and the trailer
	 * counts the run's loss as the intervals' sum */
	bool loss;
};

static inline void rec_fixture_defaults(struct rec_fixture_opts *o)
{
	*o = (struct rec_fixture_opts){.intervals = 6,
				       .per_interval = 2000,
				       .seed = 1,
				       .scale = 1.0,
				       .slow_share = 0.02,
				       .trailer = true};
}

/* splitmix64: a small deterministic generator, for tests only */
static inline uint64_t rec_fixture_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rec_fixture_between(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + rec_fixture_rand(s) % (hi - lo + 1);
}

static inline void rec_fixture_stack(void *ctx, int32_t id, char *buf, size_t len)
{
	(void)ctx;
	snprintf(buf, len, "jbd2_log_wait_commit;ext4_sync_file;vfs_fsync_range;stack%d", id);
}

/* One attributed request: phases recv 5%, socket_wait, read, queue,
 * append (the journal stall, for the slow ones), post_append, send. */
static inline void rec_fixture_request(struct rec_fixture_opts *o, uint64_t *s, uint64_t t,
				       struct corr_request *r, struct attrib_result *a,
				       struct corr_topic *topic, struct corr_part *part)
{
	bool slow = (double)(rec_fixture_rand(s) % 1000000) < o->slow_share * 1e6;
	int64_t ph[ATTRIB_PHASES] = {0}, lat = 0;

	ph[ATTRIB_RECV] = (int64_t)(rec_fixture_between(s, 20, 80) * 1000 * o->scale) / 10;
	ph[ATTRIB_SOCKET_WAIT] = (int64_t)(rec_fixture_between(s, 10, 300) * 1000 * o->scale);
	ph[ATTRIB_READ] = (int64_t)(rec_fixture_between(s, 5, 30) * 1000 * o->scale);
	ph[ATTRIB_QUEUE] = (int64_t)(rec_fixture_between(s, 10, 200) * 1000 * o->scale);
	ph[ATTRIB_APPEND] = (int64_t)(rec_fixture_between(s, 200, 2000) * 1000 * o->scale);
	if (slow)
		ph[ATTRIB_APPEND] +=
		    (int64_t)(rec_fixture_between(s, 50, 200) * 1000000 * o->scale);
	ph[ATTRIB_POST_APPEND] = (int64_t)(rec_fixture_between(s, 10, 100) * 1000 * o->scale);
	ph[ATTRIB_SEND] = (int64_t)(rec_fixture_between(s, 5, 40) * 1000 * o->scale);
	for (int p = 0; p < ATTRIB_PHASES; p++)
		lat += ph[p];
	memset(r, 0, sizeof(*r));
	memset(a, 0, sizeof(*a));
	snprintf(topic->name, sizeof(topic->name), "orders");
	*part = (struct corr_part){.partition = (int32_t)rec_fixture_between(s, 0, 3),
				   .record_bytes = 1024,
				   .records = 1,
				   .batches = 1};
	snprintf(r->client, sizeof(r->client), "127.0.0.1:%u",
		 (unsigned)rec_fixture_between(s, 40000, 40003));
	r->api_key = 0;
	r->t_arrival = t;
	r->t_sent = t + (uint64_t)lat;
	r->t_first = t + (uint64_t)(ph[ATTRIB_RECV] + ph[ATTRIB_SOCKET_WAIT]);
	r->t_end = r->t_sent - (uint64_t)ph[ATTRIB_SEND_QUEUE];
	r->produce_parsed = true;
	r->acks = 1;
	r->record_bytes = 1024;
	r->records = 1;
	r->topics = topic;
	r->ntopics = 1;
	r->parts = part;
	r->nparts = 1;
	a->unmatched = ATTRIB_MATCHED;
	a->wire_known = true;
	a->latency_ns = lat;
	memcpy(a->phase_ns, ph, sizeof(ph));
	for (int p = 0; p < ATTRIB_PHASES; p++)
		a->cause_ns[p][p == ATTRIB_SOCKET_WAIT ? ATTRIB_CAUSE_HOL : CAUSE_CPU] = ph[p];
	if (slow) {
		int64_t stall = ph[ATTRIB_APPEND] / 2;

		a->cause_ns[ATTRIB_APPEND][CAUSE_CPU] -= stall;
		a->cause_ns[ATTRIB_APPEND][CAUSE_JOURNAL] = stall;
		a->top_cause = CAUSE_JOURNAL;
		a->top_frame = "jbd2_log_wait_commit";
		a->top_stack_id = 7;
		a->top_ns = stall;
		a->nstacks = 1;
		a->stacks[0] = (struct attrib_stack){
		    .stack_id = 7, .phase = ATTRIB_APPEND, .cause = CAUSE_JOURNAL, .ns = stall};
	} else {
		a->top_cause = CAUSE_CPU;
		a->top_stack_id = -1;
	}
	for (int p = 0; p < ATTRIB_PHASES; p++)
		for (int c = 0; c < ATTRIB_CAUSES; c++)
			a->root_ns[c] += a->cause_ns[p][c];
}

static inline int rec_fixture_meta(struct rec_writer *w, const struct rec_fixture_opts *o)
{
	char run[64];
	struct rec_kv kv[] = {
	    {"kafkalat.version", "test"}, {"host", "fixture"},		{"kernel", "6.1.0-test"},
	    {"broker.pid", "4242"},	  {"broker.comm", "refbroker"}, {"broker.ports", "9092"},
	    {"label.run", run},
	};

	snprintf(run, sizeof(run), "%s", o->label ? o->label : "fixture");
	return rec_writer_meta(w, kv, sizeof(kv) / sizeof(kv[0]));
}

/* The loss of interval i. */
static inline const struct report_loss *rec_fixture_loss(const struct rec_fixture_opts *o,
							 unsigned int i,
							 const struct report_loss *lost3,
							 const struct report_loss *lost4)
{
	static const struct report_loss none;

	return i == 2 ? lost3 : i == 4 && o->loss ? lost4 : &none;
}

/* The run's loss in the trailer's counters: the intervals' sum, which
 * rec_report_run reads back (corr_touched adds the lost Produce frame). */
static inline void rec_fixture_trailer_loss(struct corr_counts *counts, struct report_tail *tail,
					    const struct report_loss *lost3,
					    const struct report_loss *lost4)
{
	for (unsigned int k = 0; k < KLT_LOST_KINDS; k++)
		counts->lost[k] = lost3->socket[k] + lost4->socket[k];
	counts->touched = lost4->touched - lost4->socket[KLT_LOST_PRODUCE];
	counts->produce_touched = lost4->produce_touched - lost4->socket[KLT_LOST_PRODUCE];
	for (unsigned int k = 0; k < 16; k++)
		tail->stats.lost[k] = lost3->causes[k] + lost4->causes[k];
	tail->stats.lost_touched = lost3->causes_touched + lost4->causes_touched;
}

/* The requests of every stream (its own seed and shape) into one
 * recording, interval by interval: the recording of their union. The meta
 * and the interval count are the first stream's. */
static inline int rec_fixture_write_streams(const char *path, const struct rec_fixture_opts *o,
					    unsigned int nstreams)
{
	struct recfile_writer *f;
	struct rec_writer *w;
	struct agg iv;
	uint64_t s[8], t0 = 1000000000ull, total = 0;
	const int64_t wall = 1700000000000000000ll;
	const struct report_loss lost3 = {.socket = {[KLT_LOST_RESPONSE] = 2}, .causes = {[2] = 1}};
	const struct report_loss lost4 = {.socket = {[KLT_LOST_PRODUCE] = 1},
					  .touched = 3,
					  .produce_touched = 2,
					  .causes_touched = 1};
	struct bands *run = bands_new(4096);
	int err = nstreams > 8 ? -EINVAL : recfile_create(&f, path, false);

	if (err || !run)
		return err ? err : -ENOMEM;
	err = rec_writer_new(&w, f, REC_DEFAULT_SLOWEST, rec_fixture_stack, NULL);
	if (err)
		return err;
	for (unsigned int k = 0; k < nstreams; k++)
		s[k] = o[k].seed;
	agg_init(&iv);
	err = rec_fixture_meta(w, o);
	for (unsigned int i = 0; !err && i < o->intervals; i++) {
		uint64_t start = t0 + i * 10000000000ull;

		agg_reset(&iv);
		for (unsigned int st = 0; st < nstreams; st++)
			for (unsigned int k = 0; !err && k < o[st].per_interval; k++) {
				struct corr_request r;
				struct attrib_result a;
				struct corr_topic topic;
				struct corr_part part;
				uint64_t t =
				    start + (uint64_t)k * (10000000000ull / o[st].per_interval);

				rec_fixture_request((struct rec_fixture_opts *)&o[st], &s[st], t,
						    &r, &a, &topic, &part);
				err = agg_add(&iv, &r) ?: rec_writer_attributed(w, &r, &a)
							 ?: bands_add(run, &r, &a);
				total++;
			}
		if (!err)
			err = rec_writer_commit(w, 0x700001, start + 1000000, start + 60000000);
		if (o->follow)
			rec_writer_gap(w, i == 1 ? 2500000000ull : 0);
		if (!err)
			err = rec_writer_interval(w, &iv, (int64_t)start + wall,
						  (int64_t)(start + 10000000000ull) + wall,
						  rec_fixture_loss(o, i, &lost3, &lost4), wall);
	}
	if (!err && o->trailer) {
		struct corr_counts counts = {.requests = total, .completed = total};
		struct klt_stats kernel = {0};
		struct evdump_stats lost = {.socket_lost = 3, .cause_lost = o->loss};
		struct report_cost cost = {.measured = true, .cpu_s = 0.5};
		struct report_tail tail;
		/* broker 1 (pid 300) lives throughout */
		struct life lv[3] = {{.pids = {100},
				      .npids = 1,
				      .t_start = (int64_t)t0,
				      .t_end = (int64_t)t0 + 13000000000ll,
				      .requests = 7,
				      .produce = 5,
				      .records = 50,
				      .exit_unmatched = 1},
				     {.pids = {200},
				      .npids = 1,
				      .t_start = (int64_t)t0 + 15500000000ll,
				      .requests = 3,
				      .produce = 2,
				      .records = 20},
				     {.broker = 1,
				      .pids = {300},
				      .npids = 1,
				      .t_start = (int64_t)t0,
				      .requests = 4,
				      .produce = 4,
				      .records = 40}};
		struct lives lives = {.v = lv, .n = 3, .cap = 3, .nbrokers = 2};
		const char *folded =
		    "append;vfs_fsync_range;ext4_sync_file;jbd2_log_wait_commit 1200\n"
		    "queue;futex_wait 30\n";
		struct rec_trailer_in tr = {.bands = run,
					    .tail = &tail,
					    .folded = folded,
					    .folded_len = strlen(folded),
					    .counts = &counts,
					    .kernel = &kernel,
					    .lost = &lost,
					    .cost = &cost,
					    .duration_s = o->intervals * 10.0,
					    .lives = o->follow ? &lives : NULL,
					    .lives_wall_offset_ns = wall};

		report_tail_fill_bands(&tail, run, rec_fixture_stack, NULL);
		tail.file_events = "tracepoints";
		if (o->loss)
			rec_fixture_trailer_loss(&counts, &tail, &lost3, &lost4);
		err = rec_writer_trailer(w, &tr);
	}
	agg_free(&iv);
	bands_free(run);
	return rec_writer_close(w) ?: err;
}

static inline int rec_fixture_write(const char *path, const struct rec_fixture_opts *o)
{
	return rec_fixture_write_streams(path, o, 1);
}

/* Writes a fixture recording to a temporary file, loads it into r and
 * removes the file. 0 or a negative errno (err says why). */
static inline int rec_fixture_load(struct rec *r, const struct rec_fixture_opts *o)
{
	char path[] = "/tmp/kafkalat-fixture-XXXXXX", err[256] = "";
	int fd = mkstemp(path), res;
	const char *paths[1] = {path};

	if (fd < 0)
		return -1;
	close(fd);
	unlink(path);
	res = rec_fixture_write(path, o);
	if (!res)
		res = rec_load(r, paths, 1, err, sizeof(err));
	if (res)
		fprintf(stderr, "rec_fixture: %d %s\n", res, err);
	unlink(path);
	return res;
}

/* The recording with loss the report formats' tests share (opts.loss),
 * of 200 requests an interval. */
static inline int rec_fixture_load_loss(struct rec *r)
{
	struct rec_fixture_opts o;

	rec_fixture_defaults(&o);
	o.per_interval = 200;
	o.loss = true;
	return rec_fixture_load(r, &o);
}

#endif
