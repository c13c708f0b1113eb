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
#include "fuzz_causes.h"

#define T0	   1000000000000ull
#define NAME_BURST 5000

struct state {
	struct explain *t;
	FILE *null;
	uint64_t results, matched;
	uint64_t bandable; /* matched with wire times: what the bands hold */
	bool burst_done;
};

static void fail(const char *why)
{
	fprintf(stderr, "fuzz_explain: %s\n", why);
	abort();
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
	st->bandable += res->unmatched == ATTRIB_MATCHED && res->wire_known;
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
	if (banded > st->bandable || banded + rt->stats.oom < st->bandable ||
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
	struct in in = {data, size, T0};
	struct sym sym = {.data = data, .size = size, .long_max = 8000};
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
		union rec rec;
		size_t len;
		uint64_t d;

		switch (op % 8) {
		case 0:
		case 1:
		case 2:
			len = cause_record(&in, &rec);
			explain_feed(st.t, &rec, len);
			break;
		case 3:
			len = raw_record(&in, &rec);
			explain_feed(st.t, len ? (const void *)&rec : NULL, len);
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
