// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The request pipeline (pipeline.h): correlator -> explainer -> aggregates
 * and reports, fed by a driver.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/agg.h"
#include "kafkalat/cause_events.h"
#include "kafkalat/correlate.h"
#include "kafkalat/evdump.h"
#include "kafkalat/history.h"
#include "kafkalat/lives.h"
#include "kafkalat/pipeline.h"
#include "kafkalat/recording.h"
#include "kafkalat/replication.h"
#include "kafkalat/report_tail.h"

struct pipeline {
	struct pipeline_config cfg;
	struct corr *corr;
	struct explain *explain; /* NULL: causes not traced */
	struct agg interval, total;
	int64_t wall_offset_ns; /* realtime - monotonic, for the slow lines */
	bool slow_header_done;
	uint64_t t_first, t_end; /* the span of the requests completed */
	int err;
	int file_err[PIPELINE_FILES];
	int folded_lines;
	struct evdump_stats lost;    /* the kernel side's, at the end */
	uint64_t iv_start;	     /* the recording's interval: its start (monotonic) */
	struct report_loss iv_loss0; /* the run's losses when the interval began */
	uint64_t commits_seen;	     /* journal commits passed to the recording */
	struct report_tail tail;     /* large: lives here rather than on a stack */
	struct lives lives;	     /* --follow */
	uint64_t t_begin;	     /* the run's start (monotonic): the lives' origin */
};

static void dump(struct pipeline *p, enum evdump_kind kind, const void *data, size_t len)
{
	FILE *f = p->cfg.file[PIPELINE_DUMP];

	if (f && !p->file_err[PIPELINE_DUMP])
		p->file_err[PIPELINE_DUMP] = evdump_write(f, kind, data, len);
}

/* On the latency the client waited; without wire times, on the broker's
 * (the line says which it lacks). */
static bool is_slow(const struct pipeline *p, const struct corr_request *r)
{
	uint64_t ns;

	if (p->cfg.slower_ms < 0 || !r->t_end)
		return false;
	if (!corr_wire_latency(r, &ns))
		ns = corr_broker_latency(r);
	return (double)ns >= p->cfg.slower_ms * 1e6;
}

static void slow_line(struct pipeline *p, const struct corr_request *r,
		      const struct report_attrib *a)
{
	FILE *out = p->cfg.out;

	if (!out || !is_slow(p, r))
		return;
	if (p->cfg.json) {
		report_slow_json(out, r, p->wall_offset_ns, a);
		return;
	}
	if (!p->slow_header_done)
		report_slow_header(out);
	p->slow_header_done = true;
	report_slow_text(out, r, p->wall_offset_ns, a);
}

/* The --requests and --slower lines of a Produce request; a is its
 * attribution (NULL without causes, or not held for them). */
static void emit_produce(struct pipeline *p, const struct corr_request *r,
			 const struct report_attrib *a)
{
	if (p->cfg.file[PIPELINE_REQUESTS])
		report_request_json(p->cfg.file[PIPELINE_REQUESTS], r, a);
	slow_line(p, r, a);
}

static void on_attributed(const struct corr_request *r, const struct attrib_result *res, void *ctx)
{
	struct pipeline *p = ctx;
	struct report_attrib a = {.res = res};
	char stack[REPORT_STACK_TEXT];

	/* the writer keeps its first error for the interval's write to report */
	if (p->cfg.rec)
		rec_writer_attributed(p->cfg.rec, r, res);
	/* the stack goes on slow requests' lines only (docs/json.md) */
	if (is_slow(p, r) && res->top_stack_id != -1) {
		explain_stack_text(p->explain, res->top_stack_id, ";", stack, sizeof(stack));
		a.stack = stack;
	}
	emit_produce(p, r, &a);
}

static void on_complete(const struct corr_request *r, void *ctx)
{
	struct pipeline *p = ctx;

	if (agg_add(&p->interval, r) || agg_add(&p->total, r))
		p->err = -ENOMEM;
	if (r->t_first && (!p->t_first || r->t_first < p->t_first))
		p->t_first = r->t_first;
	if (r->t_end > p->t_end)
		p->t_end = r->t_end;
	if (p->cfg.follow)
		lives_count(&p->lives, r->tgid, r->api_key == 0, r->records);
	if (r->api_key != 0)
		return;
	/* held until its causes are in; its lines come from on_attributed */
	if (p->explain && r->t_end && r->acks != 0 && explain_request(p->explain, r) == 0) {
		/* the live run read both rings every poll: a request's causes
		 * are in the records well before those of hold_ns after it */
		if (p->cfg.clock_from_records)
			explain_advance(p->explain, p->t_end);
		return;
	}
	emit_produce(p, r, NULL);
}

/* A follower Fetch, as it is read: where it fetches from, for the release
 * of the acks=all batches it covers (replication.h). Its time is the end
 * of the leader's read of it, not its arrival: the high watermark moves
 * when the leader handles it, and a fetch waits in the socket, behind the
 * connection's previous one, for up to its long poll (docs/design.md,
 * "Replication", for what each gives). */
static void on_read(const struct corr_request *r, void *ctx)
{
	struct pipeline *p = ctx;
	struct repl *repl = p->explain ? explain_repl(p->explain) : NULL;
	uint64_t t = r->t_read ? r->t_read : r->t_first;

	if (!repl || r->api_key != 1 || !r->fetch_parsed || r->replica_id < 0)
		return;
	if (p->cfg.peer_fn && !repl_peer_noted(repl, r->conn_id)) {
		uint32_t tgid = 0;

		if (p->cfg.peer_fn(p->cfg.peer_ctx, r, &tgid) < 0)
			tgid = 0;
		pipeline_note_peer(p, r->conn_id, tgid);
	}
	for (size_t i = 0; i < r->nfetch_parts; i++) {
		const struct corr_fetch_part *fp = &r->fetch_parts[i];

		if (fp->topic_idx < r->ntopics)
			repl_add_fetch(repl, r->tgid, r->conn_id, r->replica_id,
				       r->topics[fp->topic_idx].name, fp->partition,
				       fp->fetch_offset, t);
	}
}

/* The driver's symboliser; every stack it names goes into the dump, after
 * the record that needed it, for a replay to name it the same. What the
 * explainer would pass over, frames past max and NULL ones, is dropped
 * here: the dump has no room for them, and the explainer sees what the
 * dump holds whether or not the run is dumped. */
static int stack_frames(void *ctx, int32_t stack_id, const char **frames, int max)
{
	struct pipeline *p = ctx;
	int n = p->cfg.stack_fn(p->cfg.stack_ctx, stack_id, frames, max), k = 0;
	FILE *f = p->cfg.file[PIPELINE_DUMP];

	if (n > max)
		n = max;
	for (int i = 0; i < n; i++)
		if (frames[i])
			frames[k++] = frames[i];
	if (n > 0)
		n = k;
	if (n > 0 && f && !p->file_err[PIPELINE_DUMP])
		p->file_err[PIPELINE_DUMP] = evdump_write_stack(f, stack_id, frames, n);
	return n;
}

struct pipeline *pipeline_new(const struct pipeline_config *cfg)
{
	struct pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->folded_lines = -1;
	agg_init(&p->interval);
	agg_init(&p->total);
	p->corr = corr_new(on_complete, p);
	if (!p->corr)
		goto fail;
	if (cfg->causes) {
		struct explain_config ec;

		explain_config_default(&ec);
		ec.futex_from_offcpu = cfg->futex_from_offcpu;
		p->explain =
		    explain_new(&ec, cfg->stack_fn ? stack_frames : NULL, p, on_attributed, p);
		if (!p->explain)
			goto fail;
		corr_set_read_fn(p->corr, on_read, p);
	}
	if (cfg->file[PIPELINE_DUMP]) {
		struct evdump_run run = {.causes = cfg->causes,
					 .futex_from_offcpu = cfg->futex_from_offcpu};

		p->file_err[PIPELINE_DUMP] = evdump_write_header(cfg->file[PIPELINE_DUMP]);
		dump(p, EVDUMP_RUN, &run, sizeof(run));
	}
	return p;
fail:
	pipeline_free(p);
	return NULL;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	explain_free(p->explain);
	corr_free(p->corr);
	agg_free(&p->interval);
	agg_free(&p->total);
	lives_free(&p->lives);
	free(p);
}

void pipeline_clock(struct pipeline *p, int64_t wall_offset_ns)
{
	p->wall_offset_ns = wall_offset_ns;
	dump(p, EVDUMP_CLOCK, &wall_offset_ns, sizeof(wall_offset_ns));
}

int pipeline_socket_record(struct pipeline *p, const void *data, size_t len)
{
	struct klt_peer_event e;

	dump(p, EVDUMP_SOCKET, data, len);
	if (len == sizeof(e))
		memcpy(&e, data, sizeof(e));
	if (len != sizeof(e) || e.type != KLT_EV_PEER)
		return corr_feed(p->corr, data, len);
	/* the driver's, not the kernel's: the correlator has no use for it */
	return p->explain ? repl_note_peer(explain_repl(p->explain), e.conn_id, e.peer_tgid) : 0;
}

int pipeline_note_peer(struct pipeline *p, uint64_t conn_id, uint32_t peer_tgid)
{
	struct klt_peer_event e = {.type = KLT_EV_PEER, .conn_id = conn_id, .peer_tgid = peer_tgid};

	return pipeline_socket_record(p, &e, sizeof(e));
}

int pipeline_cause_record(struct pipeline *p, const void *data, size_t len)
{
	if (!p->explain)
		return 0;
	dump(p, EVDUMP_CAUSE, data, len);
	return explain_feed(p->explain, data, len);
}

int pipeline_topic_id(struct pipeline *p, const uint8_t id[16], const char *topic)
{
	struct evdump_topic_id d = {0};
	int err;

	if (!p->explain)
		return 0;
	err = explain_add_topic_id(p->explain, id, topic);
	if (!err) {
		memcpy(d.id, id, sizeof(d.id));
		snprintf(d.name, sizeof(d.name), "%s", topic);
		dump(p, EVDUMP_TOPIC_ID, &d, sizeof(d));
	}
	return err;
}

void pipeline_note_lost(struct pipeline *p, uint64_t n)
{
	/* a stream with loss records says where each loss fell */
	if (!corr_counts(p->corr)->loss_records)
		corr_note_lost(p->corr, n);
}

/* The run's losses so far, as the loss records in the streams said. */
static void loss_totals(const struct pipeline *p, struct report_loss *l)
{
	const struct corr_counts *n = corr_counts(p->corr);

	memset(l, 0, sizeof(*l));
	memcpy(l->socket, n->lost, sizeof(l->socket));
	l->touched = corr_touched(n, &l->produce_touched);
	if (p->explain) {
		const struct explain_stats *st = explain_stats(p->explain);

		memcpy(l->causes, st->lost, sizeof(l->causes));
		l->causes_touched = st->lost_touched;
	}
}

/* The losses since the interval began; it begins again. */
static void interval_loss(struct pipeline *p, struct report_loss *iv)
{
	struct report_loss now;
	uint64_t *a = (uint64_t *)iv, *b = (uint64_t *)&now, *b0 = (uint64_t *)&p->iv_loss0;

	loss_totals(p, &now);
	for (size_t i = 0; i < sizeof(now) / sizeof(uint64_t); i++)
		a[i] = b[i] - b0[i];
	p->iv_loss0 = now;
}

/* Records lost after the last loss record of a ring (none was written after
 * them) are not in its stream: they go in as a loss record of their own,
 * at the end, where nothing tells when they were lost. */
void pipeline_kernel_lost(struct pipeline *p, const struct klt_stats *sock,
			  const struct klc_stats *causes)
{
	struct klt_lost_event se = {.type = KLT_EV_LOST};
	struct klc_lost_event ce = {.type = KLC_EV_LOST, .ts_ns = UINT64_MAX};
	struct report_loss seen;
	bool any_sock = false, any_cause = false;

	loss_totals(p, &seen);
	for (int k = 0; k < KLT_LOST_KINDS; k++)
		if (sock->drops[k] > seen.socket[k]) {
			se.counts[k] = (uint32_t)(sock->drops[k] - seen.socket[k]);
			any_sock = true;
		}
	for (int k = 0; p->explain && k < 16; k++)
		if (causes->drops[k] > seen.causes[k]) {
			ce.counts[k] = (uint32_t)(causes->drops[k] - seen.causes[k]);
			any_cause = true;
		}
	if (any_sock)
		pipeline_socket_record(p, &se, sizeof(se));
	if (any_cause)
		pipeline_cause_record(p, &ce, sizeof(ce));
}

static void record_commit(void *ctx, uint32_t dev, uint64_t t_start, uint64_t t_end)
{
	rec_writer_commit(ctx, dev, t_start, t_end);
}

void pipeline_record_begin(struct pipeline *p, uint64_t now_ns)
{
	p->iv_start = now_ns;
	p->t_begin = now_ns;
}

int pipeline_broker_attached(struct pipeline *p, uint64_t now_ns, int broker, int pid)
{
	return lives_begin(&p->lives, (int64_t)now_ns, broker, pid);
}

uint64_t pipeline_broker_exited(struct pipeline *p, uint64_t now_ns, int broker, int pid,
				bool others_left)
{
	uint64_t n = corr_end_connections(p->corr, (uint32_t)pid, !others_left);

	if (p->cfg.follow)
		lives_end(&p->lives, broker, (int64_t)now_ns, n);
	return n;
}

static double gap_s(int64_t ns, double secs)
{
	return (double)ns / 1e9 < secs ? (double)ns / 1e9 : secs;
}

/* The interval [iv_start, now) of a --follow run: its gaps and brokers. */
static void follow_interval(const struct pipeline *p, uint64_t now_ns, double secs,
			    struct report_follow_iv *f)
{
	const struct lives *l = &p->lives;

	memset(f, 0, sizeof(*f));
	/* the driver's windows are nominal (live.c): never past the length
	 * printed but for rounding */
	f->gap_s = gap_s(lives_gap_ns(l, (int64_t)p->iv_start, (int64_t)now_ns), secs);
	f->nbrokers = l->nbrokers;
	for (int b = 0; b < l->nbrokers; b++)
		f->broker_gap_s[b] =
		    gap_s(lives_broker_gap_ns(l, b, (int64_t)p->iv_start, (int64_t)now_ns), secs);
	/* the lives of several brokers interleave: all are looked at */
	for (size_t i = 0; i < l->n; i++) {
		const struct life *x = &l->v[i];

		if ((x->t_end && x->t_end <= (int64_t)p->iv_start) || x->t_start >= (int64_t)now_ns)
			continue;
		for (int k = 0; k < x->npids && f->npids < KLT_MAX_BROKERS; k++)
			f->pids[f->npids++] = x->pids[k];
	}
}

int pipeline_record_interval(struct pipeline *p, uint64_t now_ns)
{
	struct report_loss loss;
	int err;

	if (!p->cfg.rec)
		return 0;
	if (p->cfg.follow)
		rec_writer_gap(p->cfg.rec, (uint64_t)lives_gap_ns(&p->lives, (int64_t)p->iv_start,
								  (int64_t)now_ns));
	if (p->explain)
		p->commits_seen = history_commits_after(explain_history(p->explain),
							p->commits_seen, record_commit, p->cfg.rec);
	interval_loss(p, &loss);
	err =
	    rec_writer_interval(p->cfg.rec, &p->interval, (int64_t)p->iv_start + p->wall_offset_ns,
				(int64_t)now_ns + p->wall_offset_ns, &loss, p->wall_offset_ns);
	agg_reset(&p->interval);
	p->iv_start = now_ns;
	return err;
}

uint32_t pipeline_advance(struct pipeline *p, uint64_t now_ns, uint32_t max)
{
	return p->explain ? explain_advance_n(p->explain, now_ns, max) : 0;
}

void pipeline_interval(struct pipeline *p, uint64_t now_ns, double secs, const char *when)
{
	struct report_follow_iv fiv, *f = NULL;
	struct report_loss loss;

	interval_loss(p, &loss);
	if (p->cfg.follow) {
		follow_interval(p, now_ns, secs, &fiv);
		f = &fiv;
	}
	if (p->cfg.out && p->cfg.json) {
		report_interval_json(p->cfg.out, &p->interval, secs, when, f, &loss);
	} else if (p->cfg.out) {
		report_interval_header(p->cfg.out);
		report_interval_text(p->cfg.out, &p->interval, secs, when, f);
		report_loss_text(p->cfg.out, &loss, "  ");
	}
	agg_reset(&p->interval);
	p->iv_start = now_ns;
}

static void flush_file(struct pipeline *p, enum pipeline_file f)
{
	FILE *s = p->cfg.file[f];

	if (s && fflush(s) && !p->file_err[f])
		p->file_err[f] = -errno;
	if (s && ferror(s) && !p->file_err[f])
		p->file_err[f] = -EIO;
}

void pipeline_stack_text(const struct pipeline *p, int32_t stack_id, char *buf, size_t len)
{
	buf[0] = '\0';
	if (p && p->explain)
		explain_stack_text(p->explain, stack_id, ";", buf, len);
}

void pipeline_flush(struct pipeline *p)
{
	flush_file(p, PIPELINE_REQUESTS);
}

static void write_folded(struct pipeline *p)
{
	FILE *f = p->cfg.file[PIPELINE_FOLDED];
	int n;

	if (!f || !p->explain)
		return;
	n = explain_write_folded(p->explain, f);
	if (n < 0)
		p->file_err[PIPELINE_FOLDED] = n;
	else
		p->folded_lines = n;
}

void pipeline_end(struct pipeline *p, const struct evdump_stats *lost)
{
	struct evdump_stats ds = *lost;

	p->lost = *lost;
	corr_finish(p->corr);
	if (p->explain) {
		explain_finish(p->explain);
		write_folded(p);
	} else {
		ds.cause_lost = ds.stack_errors = 0;
	}
	/* the losses go into the dump too: its replay reports what this run did */
	dump(p, EVDUMP_STATS, &ds, sizeof(ds));
}

/* The folded stacks as text, for the recording: NULL when none (or no
 * memory: the trailer then lacks them). */
static char *folded_text(struct pipeline *p, size_t *len)
{
	char *buf = NULL;
	FILE *f;

	*len = 0;
	if (!p->explain || !(f = open_memstream(&buf, len)))
		return NULL;
	if (explain_write_folded(p->explain, f) < 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

static void record_trailer(struct pipeline *p, const struct report_run *rr)
{
	struct rec_trailer_in t = {.bands = p->explain ? explain_bands(p->explain) : NULL,
				   .tail = rr->tail,
				   .counts = rr->counts,
				   .kernel = &rr->kernel,
				   .lost = &p->lost,
				   .cost = &rr->cost,
				   .duration_s = rr->duration_s,
				   .lives = rr->lives,
				   .lives_wall_offset_ns = p->wall_offset_ns};
	char *folded = folded_text(p, &t.folded_len);

	t.folded = folded;
	/* an error stays with the writer: closing it reports it */
	rec_writer_trailer(p->cfg.rec, &t);
	free(folded);
}

void pipeline_summary(struct pipeline *p, const struct report_run *run)
{
	struct report_run rr = *run;

	rr.lost_events = p->lost.socket_lost;
	rr.conn_table_full = p->lost.conn_table_full;
	rr.resync_skipped = p->lost.resync_skipped;
	rr.counts = corr_counts(p->corr);
	loss_totals(p, &rr.loss);
	if (p->explain) {
		report_tail_fill(&p->tail, p->explain);
		p->tail.file_events = p->cfg.futex_from_offcpu ? "tracepoints" : "raw";
		p->tail.lost_events = p->lost.cause_lost;
		p->tail.stack_errors = p->lost.stack_errors;
		rr.tail = &p->tail;
		rr.repl = explain_repl(p->explain);
		rr.wall_offset_ns = p->wall_offset_ns;
	}
	if (p->cfg.follow) {
		rr.lives = &p->lives;
		rr.lives_origin_ns = (int64_t)p->t_begin;
		rr.lives_end_ns = (int64_t)p->t_begin + (int64_t)(rr.duration_s * 1e9);
	}
	if (p->cfg.rec)
		record_trailer(p, &rr);
	if (p->cfg.out && p->cfg.json)
		report_summary_json(p->cfg.out, &p->total, &rr);
	else if (p->cfg.out)
		report_summary_text(p->cfg.out, &p->total, &rr);
	for (int f = 0; f < PIPELINE_FILES; f++)
		flush_file(p, (enum pipeline_file)f);
}

int pipeline_error(const struct pipeline *p)
{
	return p->err;
}

int pipeline_file_error(const struct pipeline *p, enum pipeline_file f)
{
	return p->file_err[f];
}

int pipeline_folded_lines(const struct pipeline *p)
{
	return p->folded_lines;
}

void pipeline_span(const struct pipeline *p, uint64_t *first, uint64_t *last)
{
	*first = p->t_first;
	*last = p->t_end;
}
