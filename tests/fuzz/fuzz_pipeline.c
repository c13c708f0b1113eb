// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for the request pipeline, differential: a live run fed
 * socket records, cause records, topic ids and clock advances from the
 * input writes every output (--requests, --folded, --slower lines, interval
 * tables, the text or JSON summary) and a --dump-events recording into
 * memory; the recording is then fed to a second pipeline as src/cmd/replay.c
 * feeds it (two passes with evdump_read: the stacks and the clock, then the
 * records), and the replay's outputs must be the live run's, byte for byte,
 * as test_pipeline.c's round trip asserts. Both run under ASan and UBSan:
 * never a crash, a leak or undefined behaviour.
 *
 * What a dump does not hold, the replay cannot reproduce, so the live run
 * keeps to what it can (each is the live driver's, not the pipeline's):
 *  - the advance points: a request attributed at an advance misses the
 *    cause records fed after it, and a replay's clock taken from the
 *    records' ends (clock_from_records) attributes at other points. So
 *    either both take their clock from the records, as replay.c does (c0 &
 *    8), or the live run advances at the input's points and the replay is
 *    advanced at the same places of the dump (by byte offset), as
 *    test_pipeline.c advances both; interval tables go the same way;
 *  - losses in mid-run: the dump has the final counters only, which the
 *    replay notes at its end, so the live run notes them there too;
 *  - the configuration: replay.c infers causes and futex_from_offcpu from
 *    the dump's records; here both pipelines are given the live one's;
 *  - frames of 512 bytes or more (KSYM_NAME_LEN): the dump keeps 512 of a
 *    frame, so the symboliser's absurd frames stay shorter here.
 *
 * Input: 4 configuration bytes, then operations, each one byte `op` and its
 * operands (missing bytes read as 0):
 *   c0 & 1  no causes; & 2 JSON; & 4 futex_from_offcpu; & 8 both clocks from
 *           the records; >> 4 & 3 --slower: none, 0, 50 us, 5 ms; & 0x40
 *           losses at the end (from c3)
 *   c1, c2  the wall clock offset; c3 the losses (each counter c3 % k)
 *   op % 8  0, 1  a cause record (fuzz_causes.h: cause_record)
 *           2     a raw cause record (fuzz_causes.h: raw_record)
 *           3, 4  a socket record (see socket_record())
 *           5     a raw socket record: sel = next byte; type 1 + sel % 7, its
 *                 size of input bytes; unless sel & 0x80, conn_id and corr_id
 *                 folded to 3 connections and 8 ids; sel & 0x40: length
 *                 next byte % (size + 1)
 *           6     time: the grid of record times moves on by next 2 bytes *
 *                 4096 ns; unless the clocks come from the records, advance
 *                 to the grid's start + next byte * 256 us, attributing at
 *                 most next byte % 8 requests (0: all)
 *           7     next byte % 4: 0 a topic id (next byte: which, and its
 *                 name), 1 an interval table, 2 a flush of --requests, 3 a
 *                 burst of Produce requests with responses (see burst())
 * Times are on fuzz_causes.h's grid, so socket and cause records meet; the
 * symboliser is fuzz_causes.h's, frames at most 499 bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/evdump.h"
#include "kafkalat/grow.h"
#include "kafkalat/pipeline.h"
#include "fuzz_causes.h"
#include "../unit/events_builder.h"

static void fail(const char *why);

/* explain_scenario.h's request causes, fed to the live pipeline: they are
 * well formed, so refusing one is a failure. */
#define SCENARIO_SINK	       struct pipeline
#define SCENARIO_FEED	       pipeline_cause_record
#define assert_int_equal(a, b) ((a) == (b) ? (void)0 : fail("a scenario record refused"))
#include "../unit/explain_scenario.h"

#define T0	   T
#define CONNS	   3
#define MAX_BURST  64	 /* requests all bursts of an input add */
#define MAX_OPS	   512	 /* advances and intervals re-driven in the replay */
#define MAX_STACKS 65536 /* as replay.c */

static void fail(const char *why)
{
	fprintf(stderr, "fuzz_pipeline: %s\n", why);
	abort();
}

/* ---- the runs' streams ---- */

struct mem {
	FILE *f;
	char *buf;
	size_t len;
};

static FILE *mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	if (!m->f)
		fail("open_memstream");
	return m->f;
}

static void mem_close(struct mem *m)
{
	if (m->f && fclose(m->f))
		fail("fclose");
	m->f = NULL;
}

struct run {
	struct mem out, file[PIPELINE_FILES];
	struct pipeline *p;
};

/* An advance or an interval table, at a byte offset of the dump: the live
 * run's record that came next was written there. */
struct op {
	size_t off;
	bool interval;
	uint64_t now;
	uint32_t max;
};

struct live {
	struct run r;
	struct op ops[MAX_OPS];
	size_t nops;
	bool clock_from_records;
	uint32_t burst_corr;
	unsigned burst_left; /* requests the bursts may still add: keeps runs fast */
};

static void start(struct run *r, const struct pipeline_config *base, bool dump, explain_stack_fn fn,
		  void *ctx)
{
	struct pipeline_config cfg = *base;

	cfg.out = mem_open(&r->out);
	cfg.file[PIPELINE_REQUESTS] = mem_open(&r->file[PIPELINE_REQUESTS]);
	cfg.file[PIPELINE_FOLDED] = mem_open(&r->file[PIPELINE_FOLDED]);
	cfg.file[PIPELINE_DUMP] = dump ? mem_open(&r->file[PIPELINE_DUMP]) : NULL;
	cfg.stack_fn = fn;
	cfg.stack_ctx = ctx;
	r->p = pipeline_new(&cfg);
}

static void finish(struct run *r, const struct evdump_stats *lost, const struct report_run *run)
{
	if (lost->socket_lost)
		pipeline_note_lost(r->p, lost->socket_lost);
	pipeline_end(r->p, lost);
	pipeline_summary(r->p, run);
	for (int f = 0; f < PIPELINE_FILES; f++)
		if (pipeline_file_error(r->p, (enum pipeline_file)f))
			fail("a stream could not be written");
	mem_close(&r->out);
	for (int f = 0; f < PIPELINE_FILES; f++)
		mem_close(&r->file[f]);
}

static void done(struct run *r)
{
	pipeline_free(r->p);
	mem_close(&r->out);
	free(r->out.buf);
	for (int f = 0; f < PIPELINE_FILES; f++) {
		mem_close(&r->file[f]);
		free(r->file[f].buf);
	}
}

/* ---- the live run ---- */

#define SOCK(p, ev)                                           \
	do {                                                  \
		__typeof__(ev) e_ = (ev);                     \
		pipeline_socket_record((p), &e_, sizeof(e_)); \
	} while (0)

/* Topic ids: a few, so that topic records and topic ids meet. */
static void topic_uuid(uint8_t which, uint8_t id[16])
{
	memset(id, 0, 16);
	id[0] = (uint8_t)(which % 3 + 1);
}

static const char *const topics[] = {"t", "u", "orders"};

/* A Produce request of conn, as the framer reports it. */
static struct klt_frame_event produce(struct in *in, uint8_t k, uint64_t conn, int32_t corr)
{
	uint64_t t = t_of(in);
	struct klt_frame_event e =
	    evb_produce(conn, corr, (int16_t)((int)(k >> 5) % 3 - 1), t, t + take(in, 1) * 1024);

	e.tid_first = tid_of(in);
	e.tid_last = k & 8 ? tid_of(in) : e.tid_first;
	e.api_version = k & 16 ? 13 : 9;
	evb_produce_totals(&e, (uint16_t)(1 + take(in, 1) % 2), (uint32_t)take(in, 1) % 4,
			   take(in, 1) * 100, 1);
	if (k & 4) {
		char id[KLT_CLIENT_ID_MAX];

		take_bytes(in, id, sizeof(id));
		evb_client_id(&e, id, take(in, 1));
	}
	return e;
}

/* The fields records are made of, folded so that records meet: 3
 * connections, 8 correlation ids, topics t, u (the cause records' partition
 * directories t-0, u-1, t-2) and orders, their batches' sizes those of the
 * cause records' writes. */
static void socket_record(struct pipeline *p, struct in *in)
{
	static const int32_t bytes[] = {0, 100, 200, 300, 1000, -1};
	uint8_t k = (uint8_t)take(in, 1);
	uint64_t conn = 1 + take(in, 1) % CONNS, t;
	int32_t corr = (int32_t)(take(in, 1) % 8);
	uint8_t id[16];

	switch (k % 8) {
	case 0:
		SOCK(p, evb_conn(conn, k & 8 ? AF_INET6 : AF_INET, k & 8 ? "::1" : "10.0.0.1",
				 (uint16_t)(4000 + conn), k & 16 ? KLT_CONN_PREEXISTING : 0));
		break;
	case 1:
	case 2:
		SOCK(p, produce(in, k, conn, corr));
		break;
	case 3: {
		struct klt_frame_event e;

		t = t_of(in);
		e = evb_response(conn, corr, t, t + take(in, 1) * 1024);
		e.tid_first = e.tid_last = tid_of(in);
		SOCK(p, e);
		break;
	}
	case 4:
		if (k & 8) {
			topic_uuid((uint8_t)take(in, 1), id);
			SOCK(p, evb_topic_id(conn, (uint32_t)take(in, 1) % 3, id));
		} else {
			SOCK(p, evb_topic(conn, (uint32_t)take(in, 1) % 3,
					  topics[k >> 4 & 1 ? 2 : k % 2]));
		}
		break;
	case 5: {
		struct klt_part_event e =
		    evb_part(conn, (uint32_t)take(in, 1) % 3, (int32_t)(take(in, 1) % 4) - 1,
			     bytes[take(in, 1) % 6], 1);

		e.producer_id = (int64_t)(take(in, 1) % 3) - 1;
		e.base_sequence = (int32_t)(take(in, 1) % 3);
		SOCK(p, e);
		break;
	}
	case 6:
		t = t_of(in);
		SOCK(p, evb_request(conn, corr, 3, 12, t, t + 1024));
		break;
	default:
		if (k & 8)
			SOCK(p, evb_close(conn, t_of(in)));
		else if (k & 16)
			SOCK(p,
			     evb_bad(conn, (uint32_t)take(in, 1) % KLT_BAD_REASON_MAX, k >> 5 & 1));
		else
			SOCK(p, evb_desync(conn, k >> 5 & 1));
	}
}

static void raw_socket_record(struct pipeline *p, struct in *in)
{
	uint8_t sel = (uint8_t)take(in, 1);
	/* CONN..FLOW, and FETCH_PART: topics and frames meet it by conn_id */
	uint32_t type = sel % 10 == 9 ? KLT_EV_FETCH_PART : KLT_EV_CONN + sel % 10;
	size_t size = evb_record_size(type), len = size;
	union evb_record rec;

	take_bytes(in, rec.raw, size);
	memcpy(rec.raw, &type, sizeof(type));
	if (!(sel & 0x80)) {
		rec.conn.conn_id = 1 + rec.conn.conn_id % CONNS; /* at the same place in all */
		if (type == KLT_EV_FRAME)
			rec.frame.corr_id &= 7;
	}
	if (sel & 0x40)
		len = take(in, 1) % (size + 1);
	pipeline_socket_record(p, &rec, len);
}

/* Requests 1 ms apart, enough for the bands to part. Plain: 1..n ms long,
 * to partition 0 of "t". With causes: explain_scenario.h's request to
 * partition 3 of "orders", read and answered by NET, with its causes, every
 * fourth stalled in the journal for up to 65 ms on a stack of the input's. */
static void burst(struct live *lv, struct in *in)
{
	uint8_t k = (uint8_t)take(in, 1);
	unsigned n = k % 32 < lv->burst_left ? k % 32 : lv->burst_left;
	uint64_t conn = 1 + take(in, 1) % CONNS, t = t_of(in);
	double stall = (double)take(in, 1) * 256, base = (double)(t - T0) / 1000;
	int32_t stack = (int32_t)(take(in, 1) % 8) - 2;

	lv->burst_left -= n;
	if (k & 32)
		name(lv->r.p, INO, "orders-3", "00000000000000000000.log");
	for (unsigned i = 0; i < n; i++, t += 1000000, base += MS) {
		int32_t corr = (int32_t)(1000 + lv->burst_corr++ % 1000);
		double st = i % 4 == 3 ? stall : 0;
		uint64_t t_end = k & 32 ? US(base + 80 + st) : t + (i + 1) * 1000000;
		struct klt_frame_event rq =
		    evb_produce(conn, corr, 1, t, k & 32 ? US(base + 10) : t + 1000);
		struct klt_frame_event rs = evb_response(conn, corr, t_end - 10000, t_end);

		evb_produce_totals(&rq, 1, 1, k & 32 ? BYTES : 100, 1);
		/* pipelined (k & 64: all arrived with the first) and, k & 128, sent
		 * after their writes, each told by a SENT after the burst */
		evb_wire(&rq, k & 64 ? t - i * 1000000 : t, t);
		evb_wire(&rs, 0, t_end);
		if (k & 128)
			evb_sent_later(&rs, (uint32_t)corr * 100);
		if (k & 32) {
			request_causes(lv->r.p, base, st, stack);
			rq.tid_first = rq.tid_last = rs.tid_first = rs.tid_last = NET;
		}
		SOCK(lv->r.p, evb_topic(conn, 0, k & 32 ? "orders" : "t"));
		SOCK(lv->r.p, evb_part(conn, 0, k & 32 ? 3 : 0, k & 32 ? BYTES : 100, 1));
		SOCK(lv->r.p, rq);
		SOCK(lv->r.p, rs);
	}
	if (k & 128)
		SOCK(lv->r.p, evb_sent(conn, t + 500000, UINT32_MAX / 2));
}

/* Where the dump's next record will be. */
static size_t dump_offset(struct live *lv)
{
	if (fflush(lv->r.file[PIPELINE_DUMP].f))
		fail("fflush");
	return lv->r.file[PIPELINE_DUMP].len;
}

static void schedule(struct live *lv, struct op op)
{
	if (lv->nops == MAX_OPS)
		return;
	op.off = dump_offset(lv);
	lv->ops[lv->nops++] = op;
	if (op.interval)
		pipeline_interval(lv->r.p, 0, 1.0, "12:00:00");
	else
		pipeline_advance(lv->r.p, op.now, op.max);
}

static void misc(struct live *lv, struct in *in)
{
	uint8_t id[16], which;

	switch (take(in, 1) % 4) {
	case 0:
		which = (uint8_t)take(in, 1);
		topic_uuid(which, id);
		pipeline_topic_id(lv->r.p, id, topics[which >> 2 & 1]);
		break;
	case 1:
		schedule(lv, (struct op){.interval = true});
		break;
	case 2:
		pipeline_flush(lv->r.p);
		break;
	default:
		burst(lv, in);
	}
}

static void clock_op(struct live *lv, struct in *in)
{
	struct op op;
	uint32_t max;

	in->t0 += take(in, 2) * 4096;
	if (lv->clock_from_records)
		return;
	op.now = in->t0 + take(in, 1) * 256 * 1000;
	max = (uint32_t)(take(in, 1) % 8);
	op.max = max ? max : UINT32_MAX;
	op.interval = false;
	schedule(lv, op);
}

static void live_run(struct live *lv, struct in *in)
{
	while (in->n) {
		uint8_t op = (uint8_t)take(in, 1);
		union rec rec;
		size_t len;

		switch (op % 8) {
		case 0:
		case 1:
			len = cause_record(in, &rec);
			pipeline_cause_record(lv->r.p, &rec, len);
			break;
		case 2:
			len = raw_record(in, &rec);
			pipeline_cause_record(lv->r.p, len ? (const void *)&rec : NULL, len);
			break;
		case 3:
		case 4:
			socket_record(lv->r.p, in);
			break;
		case 5:
			raw_socket_record(lv->r.p, in);
			break;
		case 6:
			clock_op(lv, in);
			break;
		default:
			misc(lv, in);
		}
	}
}

/* ---- the replay, as src/cmd/replay.c does it ---- */

struct stack {
	int32_t id;
	const void *data; /* the STACK record, in the dump */
	size_t len;
};

struct replay {
	struct run r;
	const char *dump;
	const struct op *ops;
	size_t nops, next;
	struct stack *stacks; /* the first of each id, as the live run wrote them */
	size_t nstacks, cap;
	struct evdump_stats stats;
	int64_t wall_offset_ns;
};

static int collect(void *ctx, enum evdump_kind kind, const void *data, size_t len)
{
	struct replay *rp = ctx;
	const char *frames[1];
	int32_t id;

	if (kind == EVDUMP_CLOCK && len == sizeof(rp->wall_offset_ns))
		memcpy(&rp->wall_offset_ns, data, sizeof(rp->wall_offset_ns));
	if (kind != EVDUMP_STACK)
		return 0;
	if (evdump_parse_stack(data, len, &id, frames, 1) < 0)
		fail("a stack the live run wrote does not parse");
	for (size_t i = 0; i < rp->nstacks; i++)
		if (rp->stacks[i].id == id)
			return 0;
	if (grow_array((void **)&rp->stacks, &rp->cap, rp->nstacks + 1, sizeof(*rp->stacks),
		       MAX_STACKS))
		return -ENOMEM;
	rp->stacks[rp->nstacks++] = (struct stack){id, data, len};
	return 0;
}

static int dump_stack(void *ctx, int32_t id, const char **frames, int max)
{
	struct replay *rp = ctx;
	const char *all[EVDUMP_MAX_FRAMES];
	int32_t sid;
	int n;

	for (size_t i = 0; i < rp->nstacks; i++) {
		if (rp->stacks[i].id != id)
			continue;
		n = evdump_parse_stack(rp->stacks[i].data, rp->stacks[i].len, &sid, all,
				       EVDUMP_MAX_FRAMES);
		for (int k = 0; k < n && k < max; k++)
			frames[k] = all[k];
		return n < max ? n : max;
	}
	return -ENOENT;
}

/* The live run's advances and interval tables up to offset off. */
static void redrive(struct replay *rp, size_t off)
{
	for (; rp->next < rp->nops && rp->ops[rp->next].off <= off; rp->next++) {
		const struct op *op = &rp->ops[rp->next];

		if (op->interval)
			pipeline_interval(rp->r.p, 0, 1.0, "12:00:00");
		else
			pipeline_advance(rp->r.p, op->now, op->max);
	}
}

static int replay_record(void *ctx, enum evdump_kind kind, const void *data, size_t len)
{
	struct replay *rp = ctx;
	struct evdump_topic_id d;

	redrive(rp, (size_t)((const char *)data - rp->dump) - 2 * sizeof(uint32_t));
	if (kind == EVDUMP_SOCKET)
		pipeline_socket_record(rp->r.p, data, len);
	else if (kind == EVDUMP_CAUSE)
		pipeline_cause_record(rp->r.p, data, len);
	else if (kind == EVDUMP_TOPIC_ID && len == sizeof(d)) {
		memcpy(&d, data, sizeof(d));
		d.name[sizeof(d.name) - 1] = '\0';
		pipeline_topic_id(rp->r.p, d.id, d.name);
	} else if (kind == EVDUMP_STATS && len == sizeof(rp->stats))
		memcpy(&rp->stats, data, sizeof(rp->stats));
	return pipeline_error(rp->r.p);
}

/* ---- the comparison ---- */

static void same(const char *what, const struct mem *live, const struct mem *again)
{
	if (live->len == again->len && !memcmp(live->buf, again->buf, live->len))
		return;
	fprintf(stderr, "--- live %s (%zu bytes)\n%s\n--- replayed (%zu bytes)\n%s\n", what,
		live->len, live->buf, again->len, again->buf);
	fail("the replay's output differs from the live run's");
}

static void compare(struct live *lv, struct replay *rp)
{
	uint64_t f1, l1, f2, l2;

	same("output", &lv->r.out, &rp->r.out);
	same("--requests", &lv->r.file[PIPELINE_REQUESTS], &rp->r.file[PIPELINE_REQUESTS]);
	same("--folded", &lv->r.file[PIPELINE_FOLDED], &rp->r.file[PIPELINE_FOLDED]);
	if (pipeline_folded_lines(lv->r.p) != pipeline_folded_lines(rp->r.p))
		fail("folded line counts differ");
	if (pipeline_error(lv->r.p) != pipeline_error(rp->r.p))
		fail("errors differ");
	pipeline_span(lv->r.p, &f1, &l1);
	pipeline_span(rp->r.p, &f2, &l2);
	if (f1 != f2 || l1 != l2)
		fail("spans differ");
}

static void config(struct in *in, struct pipeline_config *cfg, struct live *lv,
		   struct evdump_stats *lost, int64_t *wall)
{
	static const double slower[] = {-1, 0, 0.05, 5};
	uint8_t c[4];

	for (int i = 0; i < 4; i++)
		c[i] = (uint8_t)take(in, 1);
	memset(cfg, 0, sizeof(*cfg));
	cfg->causes = !(c[0] & 1);
	cfg->json = c[0] & 2;
	cfg->futex_from_offcpu = c[0] & 4;
	cfg->clock_from_records = lv->clock_from_records = c[0] & 8;
	cfg->slower_ms = slower[c[0] >> 4 & 3];
	*wall = ((int64_t)c[1] << 8 | c[2]) * 1000000007ll - 1;
	memset(lost, 0, sizeof(*lost));
	if (c[0] & 0x40)
		*lost = (struct evdump_stats){c[3] % 3, c[3] % 5, c[3] % 7, c[3] % 11, c[3] % 13};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *arena;
	static struct live lv;
	struct report_run run = {.pid = 42, .nports = 1, .ports = {9092}, .duration_s = 1.5};
	struct sym sym = {.data = data, .size = size, .long_max = 200};
	struct in in = {data, size, T0};
	struct replay rp = {0};
	struct pipeline_config cfg;
	struct evdump_stats lost;
	const struct mem *dump;
	int64_t wall;
	size_t bad;

	if (!arena)
		arena = malloc(ARENA);
	if (!arena || size < 4)
		return 0;
	sym.arena = arena;
	memset(&lv, 0, sizeof(lv));
	lv.burst_left = MAX_BURST;
	snprintf(run.comm, sizeof(run.comm), "fuzz");
	config(&in, &cfg, &lv, &lost, &wall);
	start(&lv.r, &cfg, true, fake_stack, &sym);
	if (!lv.r.p)
		fail("pipeline_new");
	pipeline_clock(lv.r.p, wall);
	live_run(&lv, &in);
	finish(&lv.r, &lost, &run);

	/* the replay: the stacks and the clock first, then the records */
	dump = &lv.r.file[PIPELINE_DUMP];
	rp.dump = dump->buf;
	rp.ops = lv.ops;
	rp.nops = lv.nops;
	if (evdump_read(dump->buf, dump->len, collect, &rp, &bad))
		fail("the live run's dump does not read");
	start(&rp.r, &cfg, false, dump_stack, &rp);
	if (!rp.r.p)
		fail("pipeline_new");
	pipeline_clock(rp.r.p, rp.wall_offset_ns);
	if (evdump_read(dump->buf, dump->len, replay_record, &rp, &bad))
		fail("the replay stopped");
	redrive(&rp, SIZE_MAX);
	finish(&rp.r, &rp.stats, &run);
	compare(&lv, &rp);
	done(&lv.r);
	done(&rp.r);
	free(rp.stacks);
	return 0;
}
