// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for the correlator: ring buffer records as a broken or
 * hostile kernel side (or a corrupt trace file) could deliver them. It must
 * never crash, and its counters must stay consistent with each other and
 * with the completions it reports.
 *
 * Input: a sequence of operations, each one byte `op` and its operands.
 *   op & 0x0f  0..8  a record of type 1..9 (CONN..FLOW): the following
 *                    bytes (up to the struct's size, zero-filled) are the
 *                    record; the type is set. Unless op & 0x80, conn_id is
 *                    folded to 8 connections, corr_id to 16 values and dir
 *                    to RX/TX so that records meet each other.
 *                    op & 0x40: fed with a length of (next byte % size).
 *              9     burst: copies of the last record fed, each with the
 *                    next correlation id if it is a frame: (next byte) * 32
 *                    of a request, (next byte) % 64 of anything else;
 *                    at most MAX_BURST_TOTAL copies per input
 *              10    corr_finish
 *              11    corr_note_lost(next byte)
 *              12    a KLT_EV_FETCH_PART record, as 0..8 do
 *              other a raw record: length = next byte, then that many bytes
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/correlate.h"
#include "../unit/events_builder.h"

#define MAX_BURST_TOTAL 5000 /* per input: MAX_PENDING (4096) is reachable */

struct state {
	struct corr *c;
	uint64_t bytes, einval, calls;
	unsigned int burst_budget; /* copies left for bursts: keeps runs fast */
	union evb_record last;
	size_t last_len;
};

struct input {
	const uint8_t *p;
	size_t n;
};

static void fail(const char *why)
{
	fprintf(stderr, "fuzz_correlate: %s\n", why);
	abort();
}

static uint8_t next_byte(struct input *in)
{
	uint8_t b;

	if (!in->n)
		return 0;
	b = *in->p++;
	in->n--;
	return b;
}

static void check_string(const char *s, size_t cap, int printable)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		fail("string not terminated");
	for (size_t i = 0; printable && i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			fail("control character in client_id");
}

static void on_complete(const struct corr_request *r, void *ctx)
{
	struct state *st = ctx;
	volatile uint32_t sink = 0;

	st->calls++;
	check_string(r->client, sizeof(r->client), 0);
	check_string(r->client_id, sizeof(r->client_id), 1);
	if ((r->ntopics && !r->topics) || (r->nparts && !r->parts))
		fail("arrays missing");
	for (size_t i = 0; i < r->ntopics; i++)
		check_string(r->topics[i].name, sizeof(r->topics[i].name), 0);
	for (size_t i = 0; i < r->nparts; i++)
		sink += r->parts[i].records; /* ASan checks every element is live */
	(void)sink;
	if (r->wire >= CORR_WIRE_MAX)
		fail("wire reason out of range");
	if (r->t_end && r->wire == CORR_WIRE_KNOWN && (!r->t_arrival || !r->t_sent))
		fail("wire times known but zero");
}

static uint64_t sum(const uint64_t *v, int n)
{
	uint64_t s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* What must hold after every operation. */
static void check_counts(const struct state *st)
{
	const struct corr_counts *n = corr_counts(st->c);
	uint64_t unm = sum(n->unmatched, CORR_UNM_MAX);

	if (st->calls != n->completed + n->acks0)
		fail("on_complete calls != completed + acks0");
	if (n->completed > n->responses)
		fail("more completed than responses");
	if (n->completed + n->acks0 + unm > n->requests)
		fail("more requests accounted for than seen");
	for (int r = 0; r < CORR_UNM_MAX; r++)
		if (n->produce_unmatched[r] > n->unmatched[r])
			fail("produce_unmatched > unmatched");
	if (sum(n->undecodable, KLT_BAD_REASON_MAX) != n->undecodable_conns)
		fail("undecodable reasons != undecodable connections");
	if (n->preexisting > n->connections)
		fail("preexisting > connections");
	/* an event takes at least its 4-byte type; a record may hold several */
	if (n->events > st->bytes / sizeof(uint32_t))
		fail("more events than bytes fed");
	if (n->bad_events < st->einval)
		fail("an -EINVAL record not counted in bad_events");
}

/* After corr_finish nothing waits: every request has an outcome. */
static void check_finished(const struct state *st)
{
	const struct corr_counts *n = corr_counts(st->c);

	if (n->requests > n->completed + n->acks0 + sum(n->unmatched, CORR_UNM_MAX) + n->partial)
		fail("a request vanished without an outcome");
}

static void feed(struct state *st, const void *data, size_t len)
{
	int err = corr_feed(st->c, data, len);

	st->bytes += len;
	if (err == -EINVAL)
		st->einval++;
	else if (err)
		fail("unexpected error");
	check_counts(st);
}

static void fold(union evb_record *r, unsigned int type)
{
	r->conn.conn_id %= 8; /* conn_id is at the same offset in every record */
	if (type == KLT_EV_FRAME) {
		r->frame.corr_id &= 15;
		r->frame.dir &= 1;
	}
}

static void op_typed(struct state *st, struct input *in, uint8_t op)
{
	unsigned int type = (op & 0x0f) == 12 ? KLT_EV_FETCH_PART : (op & 0x0f) + 1u;
	size_t size = evb_record_size(type);
	size_t len = op & 0x40 ? next_byte(in) % size : size;
	size_t take = in->n < size ? in->n : size;

	memset(&st->last, 0, sizeof(st->last));
	memcpy(&st->last, in->p, take);
	in->p += take;
	in->n -= take;
	st->last.conn.type = type;
	if (!(op & 0x80))
		fold(&st->last, type);
	st->last_len = len;
	feed(st, &st->last, len);
}

static bool is_request(const struct state *st)
{
	return st->last.conn.type == KLT_EV_FRAME && st->last_len >= sizeof(st->last.frame) &&
	       st->last.frame.dir == KLT_DIR_RX;
}

/* Requests in thousands reach MAX_PENDING; other records repeat a little
 * (each unmatched response scans the whole queue: keep runs fast). */
static void op_burst(struct state *st, struct input *in)
{
	uint8_t b = next_byte(in);
	unsigned int n = is_request(st) ? b * 32u : b % 64u;

	if (n > st->burst_budget)
		n = st->burst_budget;
	st->burst_budget -= n;
	for (unsigned int i = 0; i < n && st->last_len; i++) {
		if (st->last.conn.type == KLT_EV_FRAME && st->last_len >= sizeof(st->last.frame))
			st->last.frame.corr_id++;
		feed(st, &st->last, st->last_len);
	}
}

static void op_raw(struct state *st, struct input *in)
{
	size_t len = next_byte(in);
	uint8_t *buf;

	if (len > in->n)
		len = in->n;
	buf = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
	if (!buf)
		return;
	memcpy(buf, in->p, len);
	in->p += len;
	in->n -= len;
	feed(st, buf, len);
	free(buf);
}

static void step(struct state *st, struct input *in)
{
	uint8_t op = next_byte(in);
	unsigned int kind = op & 0x0f;

	if (kind <= 8 || kind == 12) {
		op_typed(st, in, op);
	} else if (kind == 9) {
		op_burst(st, in);
	} else if (kind == 10) {
		corr_finish(st->c);
		check_finished(st);
	} else if (kind == 11) {
		corr_note_lost(st->c, next_byte(in));
	} else {
		op_raw(st, in);
	}
	check_counts(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st;
	struct input in = {data, size};

	memset(&st, 0, sizeof(st));
	st.burst_budget = MAX_BURST_TOTAL;
	st.c = corr_new(on_complete, &st);
	if (!st.c)
		return 0;
	while (in.n)
		step(&st, &in);
	corr_finish(st.c);
	check_finished(&st);
	check_counts(&st);
	corr_free(st.c);
	return 0;
}
