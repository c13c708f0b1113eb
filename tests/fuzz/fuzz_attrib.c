// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Attribution on arbitrary event sequences and requests: no crash, no
 * out-of-bounds access, and phases and causes always add up, with acks=all
 * requests released by follower fetches. Small limits so that eviction,
 * dropping and thread recycling are reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/attrib.h"
#include "kafkalat/bands.h"
#include "kafkalat/replication.h"

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v = v << 8 | *in->p;
	return v;
}

/* Times on a small grid so that events overlap requests often. */
static uint64_t t_of(struct in *in)
{
	return 1000000 + take(in, 2) * 64;
}

static const char *const topics[] = {"t", "u", NULL};

static void check(const struct attrib_result *res)
{
	int64_t sum = res->unattributed_ns;

	for (int p = 0; p < ATTRIB_PHASES; p++) {
		int64_t c = 0;

		for (int k = 0; k < ATTRIB_CAUSES; k++) {
			if (res->cause_ns[p][k] < 0)
				abort();
			c += res->cause_ns[p][k];
		}
		if (c != res->phase_ns[p] || res->phase_ns[p] < 0)
			abort();
		sum += res->phase_ns[p];
	}
	if (sum != res->latency_ns || res->unattributed_ns < 0 || !res->top_frame ||
	    !res->top_waker_comm || !attrib_cause_name(res->top_cause))
		abort();
	if (res->unmatched == ATTRIB_MATCHED && (!res->handler || res->unattributed_ns))
		abort();
	if (res->hol_ns != res->cause_ns[ATTRIB_SOCKET_WAIT][ATTRIB_CAUSE_HOL] ||
	    res->root_cause >= ATTRIB_CAUSES || res->hol_root_cause >= ATTRIB_CAUSES ||
	    res->root_ns[ATTRIB_CAUSE_HOL])
		abort();
	/* the roots share the phases' time out, no more and no less */
	for (int c = 0; c < ATTRIB_CAUSES; c++) {
		if (res->root_ns[c] < 0)
			abort();
		sum -= res->root_ns[c];
	}
	if (sum != res->unattributed_ns)
		abort();
	/* released: post_append is 0 and replication ends at the release */
	if (res->released && (res->phase_ns[ATTRIB_POST_APPEND] || !res->repl_asked ||
			      res->follower_append_ns > res->phase_ns[ATTRIB_REPLICATION]))
		abort();
	if (!res->released &&
	    (res->phase_ns[ATTRIB_REPLICATION] || res->phase_ns[ATTRIB_RESPONSE_QUEUE]))
		abort();
}

/* Threads 1..4 are the leader's, 5..8 a follower's (tgid 2). */
static uint32_t tgid_of(const void *ctx, uint32_t tid)
{
	(void)ctx;
	return tid ? 1 + (tid > 4) : 0;
}

static void request(struct attrib *a, struct bands *b, struct in *in)
{
	struct corr_topic tp[2] = {{.name = "t"}, {.name = "u"}};
	struct corr_part parts[3];
	struct corr_request r = {.produce_parsed = true, .topics = tp, .ntopics = 2};
	struct attrib_result res;

	r.acks = take(in, 1) % 2 ? -1 : 1;
	r.tid_read = 1 + (uint32_t)take(in, 1) % 8;
	r.tid_send = 1 + (uint32_t)take(in, 1) % 8;
	r.t_first = t_of(in);
	r.t_read = r.t_first + take(in, 1) * 64;
	r.t_resp = r.t_read + take(in, 2) * 64;
	r.t_end = r.t_resp + take(in, 1) * 64;
	if (take(in, 1) % 8 == 0) /* sometimes out of order or odd */
		r.t_resp = t_of(in);
	/* on the wire around the broker's times, or not known; behind the
	 * connection's previous request */
	r.conn_id = take(in, 1) % 3;
	r.corr_id = (int32_t)take(in, 1);
	if (take(in, 1) % 4) {
		r.t_arrival = t_of(in);
		r.t_complete = r.t_arrival + take(in, 1) * 64;
		r.t_sent = r.t_end + take(in, 1) * 64;
	}
	r.has_prev = take(in, 1) % 2;
	r.prev_corr_id = r.corr_id - 1;
	r.prev_t_start = t_of(in);
	r.prev_t_done = r.prev_t_start + take(in, 2) * 64;
	r.nparts = take(in, 1) % 4;
	r.parts = parts;
	for (size_t i = 0; i < r.nparts; i++)
		parts[i] = (struct corr_part){.topic_idx = (uint32_t)take(in, 1) % 3,
					      .partition = (int32_t)(take(in, 1) % 3),
					      .record_bytes = (int32_t)(take(in, 1) % 4) * 100,
					      .records = (uint32_t)take(in, 1) % 4,
					      .producer_id = (int64_t)(take(in, 1) % 3) - 1,
					      .base_sequence = (int32_t)(take(in, 1) % 3)};
	attrib_request(a, &r, &res);
	check(&res);
	bands_add(b, &r, &res);
}

static void offcpu(struct attrib *a, struct in *in)
{
	struct attrib_offcpu o = {.tid = (uint32_t)take(in, 1) % 9};
	uint8_t f = (uint8_t)take(in, 1);

	o.t_off = t_of(in);
	o.t_on = o.t_off + take(in, 1) * 64;
	o.t_wakeup = f & 1 ? o.t_off + take(in, 1) * 64 : 0;
	o.blocked = f & 2;
	o.cause = (enum cause)(take(in, 1) % (CAUSE_MAX + 2));
	o.stack_id = f & 4 ? -1 : (int32_t)f;
	o.top_frame = f & 8 ? "wait_transaction_locked" : NULL;
	o.waker_tid = (uint32_t)take(in, 1) % 9;
	o.waker_comm = f & 16 ? "jbd2/sda1-8" : NULL;
	attrib_add_offcpu(a, &o);
}

static void write_(struct attrib *a, uint32_t tid, struct in *in)
{
	struct attrib_append w = {.tid = tid};
	uint8_t f = (uint8_t)take(in, 1);

	w.t_start = t_of(in);
	w.t_end = w.t_start + take(in, 1) * 64;
	w.topic = topics[take(in, 1) % 3];
	w.partition = (int32_t)(take(in, 1) % 3);
	w.bytes = take(in, 1) % 4 * 100;
	w.base_offset = f & 1 ? -1 : (int64_t)(take(in, 1) % 16);
	w.last_offset = f & 2 ? -1 : w.base_offset + (int64_t)(take(in, 1) % 4) - 1;
	w.producer_id = f & 4 ? -1 : (int64_t)(take(in, 1) % 3);
	w.base_sequence = (int32_t)(take(in, 1) % 3);
	attrib_add_write(a, &w);
}

static void fetch(struct repl *r, struct in *in)
{
	uint8_t f = (uint8_t)take(in, 1);

	if (f & 1)
		repl_note_peer(r, f >> 1 & 3, 2);
	repl_add_fetch(r, 1, f >> 1 & 3, (int32_t)(take(in, 1) % 4) - 1, topics[take(in, 1) % 3],
		       (int32_t)(take(in, 1) % 3), (int64_t)(take(in, 1) % 20) - 1, t_of(in));
}

static void step(struct attrib *a, struct repl *r, struct bands *b, struct in *in)
{
	uint8_t op = (uint8_t)take(in, 1);
	uint32_t tid = 1 + op / 8 % 8;
	uint64_t t0;

	switch (op % 7) {
	case 0:
	case 1:
		write_(a, tid, in);
		break;
	case 6:
		fetch(r, in);
		break;
	case 2:
		t0 = t_of(in);
		attrib_add_fsync(a, tid, topics[take(in, 1) % 3], 0, t0, t0 + take(in, 1) * 64);
		break;
	case 3:
		t0 = t_of(in);
		attrib_add_futex(a, tid, t0, t0 + take(in, 1) * 64 - 64);
		break;
	case 4:
		offcpu(a, in);
		break;
	default:
		request(a, b, in);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attrib_config cfg;
	struct attrib *a;
	struct repl_config rc;
	struct repl *r;
	struct bands *b;
	struct band_summary sum[BANDS];
	struct band_top top[4];
	struct in in = {data, size};

	attrib_config_default(&cfg);
	cfg.max_per_thread = 8;
	cfg.max_threads = 4;
	cfg.max_strings = 1;
	cfg.window_ns = 1000000;
	cfg.strict_ambiguous = size % 2;
	a = attrib_new(&cfg);
	repl_config_default(&rc);
	rc.window_ns = cfg.window_ns;
	rc.max_per_follower = 4;
	rc.max_partitions = 2;
	rc.max_peers = 2;
	r = repl_new(&rc);
	b = bands_new(3);
	if (a && b && r) {
		attrib_set_tgid_fn(a, tgid_of, NULL);
		attrib_set_replication(a, r);
		while (in.n)
			step(a, r, b, &in);
		bands_summary(b, sum);
		for (int k = 0; k < BAND_TOPS; k++)
			if (bands_top(b, (enum band_top_kind)k, top, 4, NULL) > 4)
				abort();
	}
	bands_free(b);
	attrib_free(a);
	repl_free(r);
	return 0;
}
