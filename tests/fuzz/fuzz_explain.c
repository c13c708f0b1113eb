// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for the explainer and its reporters: cause records as
 * a broken or hostile kernel side could deliver them (every type, garbage
 * types, wrong lengths, unterminated names), completed Produce requests,
 * stacks whose frames are made of input bytes (absurd, huge, plumbing only,
 * more than asked for), time going forwards and backwards. It must never
 * crash or leak; every attributed request's phases and causes add up, the
 * bands hold every request they took, and every reporter writes valid JSON.
 *
 * Input: 4 configuration bytes, then operations, each one byte `op` and its
 * operands (missing bytes read as 0):
 *   c0 & 7 == 0     the default explain_config; otherwise small limits from
 *                   c0..c3 (hold, max_pending, max_slow, max_commits,
 *                   max_block, the block window, the attrib history);
 *                   c3 & 0x40 futex_from_offcpu
 *   op % 8  0..2    a cause record: sel = next byte; sel % 13 is the type
 *                   (0..9: KLC_EV_FILE.., 10: 0, 11: KLC_EV_MAX, 12:
 *                   KLC_EV_FILE - 1), sel >> 4 the length (< 12: the exact
 *                   size, 12/13: 8 short/long, 14: a byte after the
 *                   fields * 2, 15: sel % 4); then the type's fields (see
 *                   record_fields())
 *           3       a raw record: length = next 2 bytes % 513, then that
 *                   many bytes; flag = next byte: if flag & 1, the type is
 *                   KLC_EV_FILE + (flag >> 1) % 10 and the length exact
 *           4, 5    a completed request (see request())
 *           6       time: now += next 2 bytes * 4096 ns (0xffff: now goes
 *                   back to the grid's start), then explain_advance(now)
 *           7       next byte % 4: 0 explain_stack_text (ids -5..10), 1
 *                   history_journal and bands_time, 2 a burst of 5000 file
 *                   names, enough to turn the name table over (once per
 *                   input), 3 explain_write_folded mid-run
 * The stack symboliser reads its frames from the input at an offset derived
 * from the stack id: a mode byte (0xfe: -ENOENT, 0xff: no frames), a count
 * (may exceed max), then one byte per frame (< 128: a kernel-like name, the
 * frame's index added, so zero bytes read as a plausible stack; < 200: that
 * many input bytes; < 230: thousands of one character; else input bytes
 * decorated as /proc stacks decorate them).
 * At the end: explain_finish (even sizes only: odd ones leave requests held for
 * explain_free), then report_tail_fill, the text and JSON reporters and
 * explain_write_folded. Each attributed request also goes through
 * report_request_json, report_slow_text and report_slow_json, as in pipeline.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/cause_events.h"
#include "kafkalat/json.h"
#include "kafkalat/report.h"
#include "kafkalat/explain.h"

#define T0	   1000000000000ull
#define DEV	   ((7u << 20) | 3u)
#define DEV2	   ((8u << 20) | 1u)
#define NAME_BURST 5000
#define ARENA	   (1u << 20)

union rec {
	struct klc_file_event file;
	struct klc_futex_event futex;
	struct klc_offcpu_event offcpu;
	struct klc_block_event block;
	struct klc_jbd2_commit_event commit;
	struct klc_jbd2_run_event run;
	struct klc_jbd2_handle_event handle;
	struct klc_dirty_throttle_event throttle;
	struct klc_folio_wait_event folio;
	struct klc_file_name_event name;
	uint8_t raw[512];
	uint64_t align;
};

struct in {
	const uint8_t *p;
	size_t n;
};

/* The symboliser's view of the whole input and its frame storage. */
struct sym {
	const uint8_t *data;
	size_t size;
	char *arena; /* ARENA bytes, reused by each call */
	size_t used;
};

struct state {
	struct explain *t;
	FILE *null;
	uint64_t results, matched;
	bool burst_done;
};

static void fail(const char *why)
{
	fprintf(stderr, "fuzz_explain: %s\n", why);
	abort();
}

static uint64_t take(struct in *in, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v = v << 8 | *in->p;
	return v;
}

/* Copies up to len input bytes into dst (the rest zero): no terminator. */
static void take_bytes(struct in *in, void *dst, size_t len)
{
	size_t n = len < in->n ? len : in->n;

	memcpy(dst, in->p, n);
	memset((char *)dst + n, 0, len - n);
	in->p += n;
	in->n -= n;
}

/* Times on a grid of 1 us over 65 ms so that records and requests meet. */
static uint64_t t_of(struct in *in)
{
	return T0 + take(in, 2) * 1024;
}

/* ---- the stack symboliser ---- */

static const char *const known_frames[] = {
    "bpf_prog_6deef7357e7b4530_on_switch",
    "bpf_trace_run4",
    "__bpf_trace_sched_switch",
    "__traceiter_sched_switch",
    "__schedule+0x2a/0x90",
    "schedule",
    "io_schedule",
    "wait_transaction_locked",
    "add_transaction_credits",
    "start_this_handle",
    "jbd2_log_wait_commit",
    "folio_wait_writeback",
    "folio_wait_bit_common",
    "balance_dirty_pages",
    "rwsem_down_write_slowpath",
    "down_write",
    "ext4_buffered_write_iter",
    "futex_wait_queue",
    "do_futex",
    "handle_mm_fault",
    "shrink_node",
    "sk_stream_wait_memory",
    "xfs_log_force_seq [xfs]",
    "blk_mq_get_tag.isra.0",
    "[<0>] schedule+0x1/0x2",
    "[<0>",
    "[<",
    "+0x1f/0x80",
    " ",
    "",
    "a;b;c",
    "x\ny",
    "\xff\xfe\"\\",
    NULL,
};

#define NKNOWN (sizeof(known_frames) / sizeof(known_frames[0]))

static char *arena_get(struct sym *s, size_t len)
{
	char *p;

	if (len + 1 > ARENA - s->used)
		return NULL;
	p = s->arena + s->used;
	s->used += len + 1;
	return p;
}

/* Frame i of a stack: runs of zero bytes read as a plausible stack. */
static const char *frame_of(struct sym *s, struct in *in, int i)
{
	uint8_t k = (uint8_t)take(in, 1);
	size_t len;
	char *p;

	if (k < 128)
		return known_frames[(k + (unsigned)i) % NKNOWN];
	if (k < 200) { /* input bytes, any of them */
		len = take(in, 1);
		if (!(p = arena_get(s, len)))
			return "";
		take_bytes(in, p, len);
		p[len] = '\0';
		return p;
	}
	if (k < 230) { /* absurdly long */
		len = 300 + take(in, 2) % 8000;
		if (!(p = arena_get(s, len)))
			return "";
		memset(p, "a;+[ "[k % 5], len);
		p[len] = '\0';
		return p;
	}
	/* a kernel-looking decoration around input bytes */
	len = take(in, 1) % 64;
	if (!(p = arena_get(s, len + 32)))
		return "";
	memcpy(p, k & 1 ? "[<0>] " : "", k & 1 ? 6 : 0);
	take_bytes(in, p + (k & 1 ? 6 : 0), len);
	snprintf(p + (k & 1 ? 6 : 0) + len, 26, "%s", k & 2 ? "+0x1f/0x80 [mod]" : ".cold");
	return p;
}

static int fake_stack(void *ctx, int32_t id, const char **frames, int max)
{
	struct sym *s = ctx;
	size_t off = (size_t)((uint32_t)id * 2654435761u) % s->size;
	struct in in = {s->data + off, s->size - off};
	uint8_t mode = (uint8_t)take(&in, 1);
	int n;

	s->used = 0;
	if (mode == 0xfe)
		return -ENOENT;
	if (mode == 0xff)
		return 0;
	n = 1 + (int)(take(&in, 1) % (uint64_t)(max + 8)); /* may claim more than max */
	for (int i = 0; i < n && i < max; i++)
		frames[i] = frame_of(s, &in, i);
	return n;
}

/* ---- checks on each attributed request ---- */

static void check(const struct attrib_result *res)
{
	int64_t sum = res->unattributed_ns;

	for (int p = 0; p < ATTRIB_PHASES; p++) {
		int64_t c = 0;

		for (int k = 0; k < ATTRIB_CAUSES; k++) {
			if (res->cause_ns[p][k] < 0)
				fail("negative cause time");
			c += res->cause_ns[p][k];
		}
		if (c != res->phase_ns[p] || res->phase_ns[p] < 0)
			fail("causes do not add up to their phase");
		sum += res->phase_ns[p];
	}
	if (sum != res->latency_ns || res->unattributed_ns < 0)
		fail("phases do not add up to the latency");
	if (!attrib_cause_name(res->top_cause) || !attrib_phase_name(res->top_phase) ||
	    !attrib_unmatched_name(res->unmatched))
		fail("a name out of range");
	if (res->nstacks > ATTRIB_STACKS)
		fail("too many stacks");
}

/* As pipeline.c: every result goes through the per-request reporters. */
static void on_result(const struct corr_request *r, const struct attrib_result *res, void *ctx)
{
	struct state *st = ctx;
	char stack[REPORT_STACK_TEXT];
	struct report_attrib a = {.res = res};

	check(res);
	st->results++;
	st->matched += res->unmatched == ATTRIB_MATCHED;
	if (res->top_stack_id >= 0) {
		explain_stack_text(st->t, res->top_stack_id, ";", stack, sizeof(stack));
		if (strlen(stack) >= sizeof(stack))
			fail("stack text overrun");
		a.stack = stack;
	}
	report_request_json(st->null, r, &a);
	report_slow_text(st->null, r, (int64_t)r->t_first, &a);
	report_slow_json(st->null, r, -(int64_t)r->t_end, &a);
}

/* ---- cause records ---- */

static const char *const parents[] = {"t-0", "u-1", "t-2", "tmp", "", "orders-with-dashes-12"};
static const char *const files[] = {"00000000000000000000.log", "00000000000000000100.log",
				    "00000000000000000000.index", "x.log"};

static void fill_name(struct in *in, char *dst, size_t len, const char *const *set, size_t n)
{
	uint8_t k = (uint8_t)take(in, 1);

	if (k % (n + 2) < n)
		snprintf(dst, len, "%s", set[k % (n + 2)]);
	else if (k % (n + 2) == n)
		take_bytes(in, dst, len); /* unterminated */
	else
		take_bytes(in, dst, take(in, 1) % len);
}

static uint32_t tid_of(struct in *in)
{
	return (uint32_t)(take(in, 1) % 9); /* 0 is invalid */
}

static void record_fields(struct in *in, uint32_t type, union rec *rec)
{
	static const int64_t rets[] = {-5, 0, 100, 200, 300, 1000, INT64_MAX, INT64_MIN};
	/* none, the stackless kinds and one past them, odd negatives, cached ids,
	 * ids past the cache (classified every time) */
	static const int32_t stacks[16] = {-1, -2, -3, -4,    -5,    INT32_MIN, 0,	   1,
					   2,  3,  4,  65535, 65536, 70000,	INT32_MAX, -14};
	uint8_t f;

	switch (type) {
	case KLC_EV_FILE:
		rec->file.tid = tid_of(in);
		rec->file.kind = (uint8_t)(take(in, 1) % (KLC_SYS_KIND_MAX + 2));
		rec->file.ret = rets[take(in, 1) % 8];
		rec->file.t_start_ns = t_of(in);
		f = (uint8_t)take(in, 1);
		rec->file.t_end_ns =
		    f == 255 ? rec->file.t_start_ns - 1 : rec->file.t_start_ns + (uint64_t)f * 1024;
		rec->file.ino = 1 + take(in, 1) % 4;
		rec->file.dev = f & 1 ? DEV2 : DEV;
		rec->file.offset = -1;
		break;
	case KLC_EV_FUTEX:
		rec->futex.tid = tid_of(in);
		rec->futex.t_start_ns = t_of(in);
		rec->futex.t_end_ns = rec->futex.t_start_ns + take(in, 1) * 1024 - 1024;
		break;
	case KLC_EV_OFFCPU:
		rec->offcpu.tid = tid_of(in);
		f = (uint8_t)take(in, 1);
		rec->offcpu.t_off_ns = t_of(in);
		rec->offcpu.t_on_ns = rec->offcpu.t_off_ns + take(in, 2) * 64 - (f & 1 ? 1 : 0);
		rec->offcpu.t_wakeup_ns = f & 2 ? rec->offcpu.t_off_ns + take(in, 1) * 256 : 0;
		rec->offcpu.blocked = f & 4 ? (f & 8 ? 255 : 1) : 0;
		rec->offcpu.stack_id = stacks[take(in, 1) % 16];
		rec->offcpu.waker_tid = tid_of(in);
		if (f & 16)
			take_bytes(in, rec->offcpu.waker_comm, KLC_COMM_LEN);
		else
			snprintf(rec->offcpu.waker_comm, KLC_COMM_LEN, "%s",
				 f & 32 ? "jbd2/sda1-8" : "kafka-network");
		break;
	case KLC_EV_BLOCK:
		rec->block.dev = take(in, 1) & 1 ? DEV2 : DEV;
		rec->block.t_issue_ns = t_of(in);
		rec->block.t_complete_ns = t_of(in);
		rec->block.bytes = 4096;
		break;
	case KLC_EV_JBD2_COMMIT:
		rec->commit.dev = DEV;
		f = (uint8_t)take(in, 1);
		rec->commit.t_start_ns = f & 1 ? 0 : t_of(in);
		rec->commit.t_end_ns = t_of(in);
		break;
	case KLC_EV_FILE_NAME:
		rec->name.fd = 9;
		rec->name.ino = 1 + take(in, 1) % 4;
		rec->name.dev = take(in, 1) & 1 ? DEV2 : DEV;
		fill_name(in, rec->name.parent, KLC_PARENT_LEN, parents,
			  sizeof(parents) / sizeof(*parents));
		fill_name(in, rec->name.name, KLC_NAME_LEN, files, sizeof(files) / sizeof(*files));
		break;
	default: /* the counted-only records, and garbage types: raw fields */
		take_bytes(in, rec->raw + 4, take(in, 1) % 64);
	}
}

static void cause_record(struct explain *t, struct in *in)
{
	uint8_t sel = (uint8_t)take(in, 1), lm = sel >> 4;
	unsigned ti = sel % 13;
	uint32_t type = ti < 10 ? KLC_EV_FILE + ti : ti == 10 ? 0 : ti == 11 ? KLC_EV_MAX : 31;
	size_t size = ti < 10 ? klc_event_size(KLC_EV_FILE + ti) : sizeof(struct klc_file_event),
	       len;
	union rec rec;

	memset(&rec, 0, sizeof(rec));
	record_fields(in, type, &rec);
	memcpy(rec.raw, &type, sizeof(type));
	len = lm < 12	 ? size
	      : lm == 12 ? size - 8
	      : lm == 13 ? size + 8
	      : lm == 14 ? take(in, 1) * 2
			 : sel % 4;
	explain_feed(t, &rec, len);
}

static void raw_record(struct explain *t, struct in *in)
{
	size_t len = take(in, 2) % (sizeof(union rec) + 1);
	union rec rec;
	uint8_t flag;

	take_bytes(in, rec.raw, len);
	memset(rec.raw + len, 0, sizeof(rec) - len);
	flag = (uint8_t)take(in, 1);
	if (flag & 1) {
		uint32_t type = KLC_EV_FILE + (uint32_t)(flag >> 1) % 10;

		memcpy(rec.raw, &type, sizeof(type));
		len = klc_event_size(type);
	}
	explain_feed(t, len ? (const void *)&rec : NULL, len);
}

/* Enough segment names to turn the name table over (twice). */
static void name_burst(struct explain *t, struct in *in)
{
	struct klc_file_name_event e = {.type = KLC_EV_FILE_NAME, .fd = 9, .dev = DEV};
	uint64_t base = take(in, 1);

	snprintf(e.parent, sizeof(e.parent), "t-%u", (unsigned)(base % 3));
	for (uint64_t i = 0; i < NAME_BURST; i++) {
		e.ino = 5 + base * NAME_BURST + i; /* past the inodes of the other records */
		snprintf(e.name, sizeof(e.name), "%020llu.log", (unsigned long long)i);
		if (explain_feed(t, &e, sizeof(e)))
			fail("a good name refused");
	}
}

/* ---- requests ---- */

static void request(struct explain *t, struct in *in)
{
	static const char *const clients[] = {"127.0.0.1:4000", "[::1]:5000", "?"};
	static const int32_t bytes[] = {0, 100, 200, 300, -1, 1000};
	struct corr_topic topics[3];
	struct corr_part parts[4];
	struct corr_request r;
	uint8_t f = (uint8_t)take(in, 1);

	memset(&r, 0, sizeof(r));
	memset(topics, 0, sizeof(topics));
	r.api_key = take(in, 1) % 16 == 0 ? 3 : 0;
	r.produce_parsed = !(f & 1);
	r.acks = (int16_t)((int)(take(in, 1) % 3) - 1); /* -1, 0, 1 */
	r.tid_read = tid_of(in);
	r.tid_send = f & 64 ? r.tid_read : tid_of(in);
	r.t_first = t_of(in);
	r.t_read = r.t_first + take(in, 1) * 1024;
	r.t_resp = r.t_read + take(in, 2) * 64;
	r.t_end = r.t_resp + take(in, 1) * 1024;
	if (f & 2)
		r.t_resp = t_of(in); /* out of order */
	if (f & 4)
		r.t_end = 0;
	snprintf(topics[0].name, sizeof(topics[0].name), "t");
	snprintf(topics[1].name, sizeof(topics[1].name), "u");
	if (f & 8) {
		take_bytes(in, topics[2].name, take(in, 1));
		topics[2].name[sizeof(topics[2].name) - 1] = '\0';
	}
	r.ntopics = take(in, 1) % 4;
	r.topics = r.ntopics ? topics : NULL;
	r.nparts = take(in, 1) % 5;
	for (size_t i = 0; i < r.nparts; i++)
		parts[i] = (struct corr_part){.topic_idx = (uint32_t)(take(in, 1) % 4),
					      .partition = (int32_t)(take(in, 1) % 4) - 1,
					      .record_bytes = bytes[take(in, 1) % 6],
					      .records = 1,
					      .batches = 1};
	r.parts = r.nparts ? parts : NULL;
	for (size_t i = 0; i < r.nparts; i++)
		r.record_bytes += parts[i].record_bytes > 0 ? (uint64_t)parts[i].record_bytes : 0;
	if (f & 16) {
		take_bytes(in, r.client, sizeof(r.client) - 1);
		take_bytes(in, r.client_id, sizeof(r.client_id) - 1);
	} else {
		snprintf(r.client, sizeof(r.client), "%s", clients[f >> 5 & 1 ? 1 : f % 3]);
		snprintf(r.client_id, sizeof(r.client_id), "producer-%u", f);
	}
	r.corr_id = (int32_t)take(in, 2);
	explain_request(t, &r);
}

/* ---- the run ---- */

static void misc(struct state *st, struct in *in)
{
	struct band_time bt;
	struct journal_overlap j;
	char buf[64];
	size_t len;

	switch (take(in, 1) % 4) {
	case 0:
		len = take(in, 1) % sizeof(buf);
		explain_stack_text(st->t, (int32_t)(take(in, 1) % 16) - 5, len % 3 ? ";" : " <- ",
				   buf, len);
		if (len && strlen(buf) >= len)
			fail("stack text overrun");
		break;
	case 1:
		history_journal(explain_history(st->t), explain_bands(st->t), &j);
		bands_time(explain_bands(st->t), (enum band)(take(in, 1) % (BANDS + 2)), &bt);
		break;
	case 2:
		if (!st->burst_done)
			name_burst(st->t, in);
		st->burst_done = true;
		break;
	default:
		if (explain_write_folded(st->t, st->null) < 0)
			fail("folded output failed");
	}
}

static void config(struct in *in, struct explain_config *cfg)
{
	static const uint64_t holds[] = {0, 10000, 1000000, 300000000};
	static const uint64_t windows[] = {100000, 10000000, 1000000000, 10000000000ull};
	static const uint64_t hist[] = {1000000, 10000000, 5000000000ull};
	static const uint32_t strings[] = {1, 16, 4096};
	uint8_t c[4];

	for (int i = 0; i < 4; i++)
		c[i] = (uint8_t)take(in, 1);
	explain_config_default(cfg);
	cfg->futex_from_offcpu = c[3] & 0x40;
	if (!(c[0] & 7))
		return;
	cfg->hold_ns = holds[c[0] >> 3 & 3];
	cfg->max_pending = 1 + (c[0] >> 5);
	cfg->max_slow = 1 + c[1] % 8;
	cfg->max_commits = 1 + (c[1] >> 3) % 8;
	cfg->max_block = 1 + c[2] % 16;
	cfg->block_window_ns = windows[c[2] >> 4 & 3];
	cfg->attrib.max_per_thread = 8;
	cfg->attrib.max_threads = 4;
	cfg->attrib.max_strings = strings[c[3] % 3];
	cfg->attrib.window_ns = hist[(c[3] >> 2) % 3];
	cfg->attrib.strict_ambiguous = c[3] & 0x80;
}

/* The reporters on the final state: the JSON must come out valid. */
static void report(struct state *st, struct report_tail *rt)
{
	uint64_t banded = 0;
	char *buf = NULL;
	size_t len = 0;
	struct json j;
	FILE *mem;

	report_tail_fill(rt, st->t);
	rt->lost_events = st->results; /* any counts: the driver takes them from the kernel */
	rt->stack_errors = st->matched;
	for (int k = 0; k < BAND_TOPS; k++)
		if (rt->ntop[k] > REPORT_TOPS)
			fail("too many tops");
	for (int b = 0; b < BAND_GE_P999; b++)
		banded += rt->bands[b].requests;
	if (banded > rt->attrib.unmatched[ATTRIB_MATCHED] ||
	    banded + rt->stats.oom < rt->attrib.unmatched[ATTRIB_MATCHED] ||
	    rt->bands[BAND_GE_P999].requests > rt->bands[BAND_GE_P99].requests)
		fail("the bands lost requests");
	if (rt->attrib.unmatched[ATTRIB_MATCHED] != st->matched)
		fail("matched requests miscounted");
	report_tail_text(st->null, rt);
	if (!(mem = open_memstream(&buf, &len)))
		return;
	json_init(&j, mem);
	json_obj_begin(&j);
	report_tail_json(&j, rt);
	json_obj_end(&j);
	fclose(mem);
	if (j.error || j.depth)
		fail("invalid JSON");
	free(buf);
	if (explain_write_folded(st->t, st->null) < 0)
		fail("folded output failed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	static char *arena;
	static struct report_tail *rt;
	struct in in = {data, size};
	struct sym sym = {.data = data, .size = size};
	struct state st = {0};
	struct explain_config cfg;
	uint64_t now = T0;

	if (!null)
		null = fopen("/dev/null", "w");
	if (!arena)
		arena = malloc(ARENA);
	if (!rt)
		rt = malloc(sizeof(*rt));
	if (!null || !arena || !rt || size < 4)
		return 0;
	sym.arena = arena;
	st.null = null;
	config(&in, &cfg);
	st.t = explain_new(&cfg, fake_stack, &sym, on_result, &st);
	if (!st.t)
		return 0;
	while (in.n) {
		uint8_t op = (uint8_t)take(&in, 1);
		uint64_t d;

		switch (op % 8) {
		case 0:
		case 1:
		case 2:
			cause_record(st.t, &in);
			break;
		case 3:
			raw_record(st.t, &in);
			break;
		case 4:
		case 5:
			request(st.t, &in);
			break;
		case 6:
			d = take(&in, 2);
			now = d == 0xffff ? T0 : now + d * 4096;
			explain_advance(st.t, now);
			break;
		default:
			misc(&st, &in);
		}
	}
	if (!(size & 1)) /* odd sizes leave requests held for explain_free */
		explain_finish(st.t);
	report(&st, rt);
	explain_free(st.t);
	return 0;
}
