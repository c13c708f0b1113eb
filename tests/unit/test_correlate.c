// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events_builder.h"
#include "kafkalat/correlate.h"
#include "kafkalat/report.h"

#define CAP_TOPICS	8
#define CAP_PARTS	16
#define MAX_PENDING_EXP 4096 /* src/correlate.c MAX_PENDING */

/* A completed request, deep-copied out of the callback. */
struct done {
	struct corr_request req;
	struct corr_topic topics[CAP_TOPICS];
	struct corr_part parts[CAP_PARTS];
};

struct fixture {
	struct corr *c;
	struct done *v;
	size_t n, cap;
};

static void on_complete(const struct corr_request *r, void *ctx)
{
	struct fixture *f = ctx;
	struct done *d;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->v = realloc(f->v, f->cap * sizeof(*f->v));
		assert_non_null(f->v);
	}
	d = &f->v[f->n++];
	memset(d, 0, sizeof(*d));
	d->req = *r;
	assert_true(r->ntopics <= CAP_TOPICS && r->nparts <= CAP_PARTS);
	if (r->ntopics)
		memcpy(d->topics, r->topics, r->ntopics * sizeof(*r->topics));
	if (r->nparts)
		memcpy(d->parts, r->parts, r->nparts * sizeof(*r->parts));
	d->req.topics = d->topics;
	d->req.parts = d->parts;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->c = corr_new(on_complete, f);
	assert_non_null(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	corr_free(f->c);
	free(f->v);
	free(f);
	return 0;
}

static const struct corr_counts *counts(struct fixture *f)
{
	return corr_counts(f->c);
}

static uint64_t unm_total(const uint64_t *v)
{
	uint64_t s = 0;

	for (int i = 0; i < CORR_UNM_MAX; i++)
		s += v[i];
	return s;
}

/* --- the basic sequence ------------------------------------------------ */

/* Two topics, three partitions, a client_id with control bytes. */
static void feed_basic_request(struct corr *c, uint64_t conn, int32_t corr)
{
	struct klt_frame_event rq = evb_produce(conn, corr, -1, 1000, 2000);

	assert_int_equal(evb_feed(c, evb_topic(conn, 0, "orders")), 0);
	assert_int_equal(evb_feed(c, evb_part(conn, 0, 3, 100, 2)), 0);
	assert_int_equal(evb_feed(c, evb_part(conn, 0, 4, 200, 3)), 0);
	assert_int_equal(evb_feed(c, evb_topic(conn, 1, "logs")), 0);
	assert_int_equal(evb_feed(c, evb_part(conn, 1, 0, 50, 1)), 0);
	evb_client_id(&rq, "app\x01id\x7f\n", 8);
	evb_produce_totals(&rq, 2, 3, 350, 6);
	rq.tid_last = 111;
	assert_int_equal(evb_feed(c, rq), 0);
}

static void feed_basic_response(struct corr *c, uint64_t conn, int32_t corr)
{
	struct klt_frame_event rs = evb_response(conn, corr, 5000, 6000);

	rs.tid_first = 222;
	assert_int_equal(evb_feed(c, rs), 0);
}

static void check_basic_parts(const struct done *d)
{
	assert_int_equal(d->req.ntopics, 2);
	assert_string_equal(d->topics[0].name, "orders");
	assert_false(d->topics[0].is_id);
	assert_string_equal(d->topics[1].name, "logs");
	assert_int_equal(d->req.nparts, 3);
	assert_int_equal(d->parts[0].topic_idx, 0);
	assert_int_equal(d->parts[0].partition, 3);
	assert_int_equal(d->parts[0].record_bytes, 100);
	assert_int_equal(d->parts[0].records, 2);
	assert_int_equal(d->parts[0].batches, 1);
	assert_int_equal(d->parts[1].partition, 4);
	assert_int_equal(d->parts[1].record_bytes, 200);
	assert_int_equal(d->parts[2].topic_idx, 1);
	assert_int_equal(d->parts[2].partition, 0);
	assert_int_equal(d->parts[2].records, 1);
}

static void check_basic_fields(const struct done *d)
{
	const struct corr_request *r = &d->req;

	assert_int_equal(r->conn_id, 1);
	assert_int_equal(r->local_port, EVB_BROKER_PORT);
	assert_int_equal(r->api_key, 0);
	assert_int_equal(r->api_version, 9);
	assert_int_equal(r->corr_id, 7);
	assert_string_equal(r->client_id, "app?id??");
	assert_int_equal(r->size, 100);
	assert_int_equal(r->tid_read, 111);
	assert_int_equal(r->tid_send, 222);
	assert_int_equal(r->t_first, 1000);
	assert_int_equal(r->t_read, 2000);
	assert_int_equal(r->t_resp, 5000);
	assert_int_equal(r->t_end, 6000);
	assert_true(r->produce_parsed);
	assert_false(r->has_txn);
	assert_int_equal(r->acks, -1);
	assert_int_equal(r->timeout_ms, 30000);
	assert_int_equal(r->record_bytes, 350);
	assert_int_equal(r->records, 6);
}

static void test_basic_ipv4(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 40000)), 0);
	feed_basic_request(f->c, 1, 7);
	assert_int_equal(f->n, 0);
	feed_basic_response(f->c, 1, 7);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->v[0].req.client, "127.0.0.1:40000");
	check_basic_fields(&f->v[0]);
	check_basic_parts(&f->v[0]);
	assert_int_equal(counts(f)->events, 8);
	assert_int_equal(counts(f)->connections, 1);
	assert_int_equal(counts(f)->preexisting, 0);
	assert_int_equal(counts(f)->requests, 1);
	assert_int_equal(counts(f)->responses, 1);
	assert_int_equal(counts(f)->completed, 1);
	assert_int_equal(counts(f)->bad_events, 0);
	corr_finish(f->c);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
}

static void test_basic_ipv6(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn6(1, "::1", 40001)), 0);
	feed_basic_request(f->c, 1, 7);
	feed_basic_response(f->c, 1, 7);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->v[0].req.client, "[::1]:40001");
	check_basic_fields(&f->v[0]);
	check_basic_parts(&f->v[0]);
}

static void test_v4_mapped_shown_as_ipv4(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn6(1, "::ffff:10.1.2.3", 5555)), 0);
	feed_basic_request(f->c, 1, 7);
	feed_basic_response(f->c, 1, 7);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->v[0].req.client, "10.1.2.3:5555");
}

static void test_format_addr(void **state)
{
	uint8_t a[16];
	char buf[CORR_ADDR_MAX];

	(void)state;
	evb_parse_ip(AF_INET6, "2001:db8::42", a);
	corr_format_addr(AF_INET6, a, 65535, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::42]:65535");
	evb_parse_ip(AF_INET, "192.168.0.1", a);
	corr_format_addr(AF_INET, a, 1, buf, sizeof(buf));
	assert_string_equal(buf, "192.168.0.1:1");
	corr_format_addr(AF_UNIX, a, 9, buf, sizeof(buf));
	assert_string_equal(buf, "?:9");
	corr_format_addr(AF_INET, a, 1, buf, 8); /* truncated, still a string */
	assert_string_equal(buf, "192.168");
}

static void test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(corr_unmatched_name(CORR_UNM_SKIPPED), "no_response");
	assert_string_equal(corr_unmatched_name(CORR_UNM_CLOSED), "closed");
	assert_string_equal(corr_unmatched_name(CORR_UNM_IN_FLIGHT), "in_flight");
	assert_string_equal(corr_unmatched_name(CORR_UNM_UNDECODABLE), "undecodable");
	assert_string_equal(corr_unmatched_name(CORR_UNM_LOST), "lost_events");
	assert_string_equal(corr_unmatched_name(CORR_UNM_MAX), "unknown");
	assert_string_equal(corr_bad_reason_name(KLT_BAD_NONE), "none");
	assert_string_equal(corr_bad_reason_name(KLT_BAD_SIZE), "bad_frame_size");
	assert_string_equal(corr_bad_reason_name(KLT_BAD_TLS), "tls");
	assert_string_equal(corr_bad_reason_name(KLT_BAD_HEADER), "bad_request_header");
	assert_string_equal(corr_bad_reason_name(KLT_BAD_BODY), "bad_body");
	assert_string_equal(corr_bad_reason_name(KLT_BAD_STEPS), "too_many_fields");
	assert_string_equal(corr_bad_reason_name(KLT_BAD_REASON_MAX), "unknown");
	assert_string_equal(corr_bad_reason_name(0xffffffffu), "unknown");
}

/* --- request fields ---------------------------------------------------- */

static void test_topic_id_hex(void **state)
{
	struct fixture *f = *state;
	static const uint8_t id[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				       0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

	assert_int_equal(evb_feed(f->c, evb_topic_id(3, 0, id)), 0);
	assert_int_equal(evb_feed(f->c, evb_part(3, 0, 1, 10, 1)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(3, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(3, 1, 30, 40)), 0);
	assert_int_equal(f->n, 1);
	assert_true(f->v[0].topics[0].is_id);
	assert_string_equal(f->v[0].topics[0].name, "00112233445566778899aabbccddeeff");
}

static void test_client_id_clamped_and_cleaned(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event rq = evb_produce(1, 1, 1, 10, 20);
	char want[KLT_CLIENT_ID_MAX + 1];

	memset(rq.client_id, 'x', sizeof(rq.client_id));
	rq.client_id[0] = '\0'; /* a NUL byte on the wire is kept visible */
	rq.client_id[63] = '\x1f';
	rq.client_id_len = 200; /* more than fits: clamped to what is stored */
	memset(want, 'x', KLT_CLIENT_ID_MAX);
	want[0] = '?';
	want[63] = '?';
	want[KLT_CLIENT_ID_MAX] = '\0';
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->v[0].req.client_id, want);
}

static void test_utf8_client_id_kept(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event rq = evb_produce(1, 1, 1, 10, 20);

	evb_client_id(&rq, "caf\xc3\xa9", 5);
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_string_equal(f->v[0].req.client_id, "caf\xc3\xa9");
}

static void test_topic_name_clamped(void **state)
{
	struct fixture *f = *state;
	struct klt_topic_event t = evb_topic(1, 0, "t");

	memset(t.name, 'n', sizeof(t.name));
	t.name_len = 1000;
	assert_int_equal(evb_feed(f->c, t), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(strlen(f->v[0].topics[0].name), KLT_TOPIC_NAME_MAX);
}

static void test_txn_flag_and_unparsed_produce(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event a = evb_produce(1, 1, 1, 10, 20);
	struct klt_frame_event b = evb_produce(1, 2, 0, 10, 20);

	a.flags |= KLT_FRAME_HAS_TXN;
	b.flags = 0; /* body not walked: acks unknown, so not acks=0 */
	evb_produce_totals(&b, 1, 1, 999, 9);
	assert_int_equal(evb_feed(f->c, a), 0);
	assert_int_equal(evb_feed(f->c, b), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 2, 50, 60)), 0);
	assert_int_equal(f->n, 2);
	assert_true(f->v[0].req.has_txn);
	assert_false(f->v[1].req.produce_parsed);
	assert_int_equal(f->v[1].req.acks, 0);
	assert_int_equal(f->v[1].req.record_bytes, 0);
	assert_int_equal(f->v[1].req.t_end, 60);
	assert_int_equal(counts(f)->acks0, 0);
}

static void test_topics_not_carried_over(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_topic(1, 0, "a")), 0);
	assert_int_equal(evb_feed(f->c, evb_part(1, 0, 0, 1, 1)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_request(1, 2, 3, 12, 21, 22)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 2, 50, 60)), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->v[0].req.ntopics, 1);
	assert_int_equal(f->v[0].req.nparts, 1);
	assert_int_equal(f->v[1].req.api_key, 3);
	assert_int_equal(f->v[1].req.ntopics, 0);
	assert_int_equal(f->v[1].req.nparts, 0);
}

/* --- ordering ------------------------------------------------------------ */

static void test_pipelining_200(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn4(9, "10.0.0.9", 50000)), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(evb_feed(f->c, evb_produce(9, 1000 + i, 1, 10u * i, 10u * i + 5)),
				 0);
	assert_int_equal(f->n, 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(evb_feed(f->c, evb_response(9, 1000 + i, 5000u + i, 6000u + i)),
				 0);
	assert_int_equal(f->n, 200);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(f->v[i].req.corr_id, 1000 + i);
		assert_int_equal(f->v[i].req.t_first, 10u * i);
		assert_int_equal(f->v[i].req.t_end, 6000u + i);
		assert_string_equal(f->v[i].req.client, "10.0.0.9:50000");
	}
	assert_int_equal(counts(f)->completed, 200);
	corr_finish(f->c);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
	assert_int_equal(counts(f)->unmatched_responses, 0);
}

static void feed_conns(struct corr *c, int nconn, int per_conn)
{
	char ip[32];

	for (int k = 0; k < nconn; k++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", k / 250, k % 250 + 1);
		assert_int_equal(evb_feed(c, evb_conn4(100 + k, ip, (uint16_t)(30000 + k))), 0);
	}
	for (int i = 0; i < per_conn; i++)
		for (int k = 0; k < nconn; k++)
			assert_int_equal(evb_feed(c, evb_produce(100 + k, k * 1000 + i, 1, 10, 20)),
					 0);
}

static void test_interleaved_50_conns(void **state)
{
	struct fixture *f = *state;
	char want[CORR_ADDR_MAX];

	feed_conns(f->c, 50, 4);
	/* responses by round, connections in reverse order */
	for (int i = 0; i < 4; i++)
		for (int k = 49; k >= 0; k--)
			assert_int_equal(
			    evb_feed(f->c, evb_response(100 + k, k * 1000 + i, 30, 40)), 0);
	assert_int_equal(f->n, 200);
	for (size_t j = 0; j < f->n; j++) {
		int i = (int)j / 50, k = 49 - (int)j % 50;

		assert_int_equal(f->v[j].req.conn_id, 100 + k);
		assert_int_equal(f->v[j].req.corr_id, k * 1000 + i);
		snprintf(want, sizeof(want), "10.0.0.%d:%d", k + 1, 30000 + k);
		assert_string_equal(f->v[j].req.client, want);
	}
	assert_int_equal(counts(f)->connections, 50);
	assert_int_equal(counts(f)->completed, 200);
	corr_finish(f->c);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
}

/* --- acks=0 -------------------------------------------------------------- */

static void test_acks0_completed_at_read(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_topic(1, 0, "fire")), 0);
	assert_int_equal(evb_feed(f->c, evb_part(1, 0, 2, 64, 4)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 5, 0, 100, 200)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.acks, 0);
	assert_int_equal(f->v[0].req.t_read, 200);
	assert_int_equal(f->v[0].req.t_resp, 0);
	assert_int_equal(f->v[0].req.t_end, 0);
	assert_int_equal(f->v[0].req.nparts, 1);
	assert_string_equal(f->v[0].topics[0].name, "fire");
	assert_int_equal(counts(f)->acks0, 1);
	/* the mock cluster answers acks=0 anyway: consumed silently */
	assert_int_equal(evb_feed(f->c, evb_response(1, 5, 300, 400)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(counts(f)->responses, 1);
	assert_int_equal(counts(f)->completed, 0);
	assert_int_equal(counts(f)->unmatched_responses, 0);
	corr_finish(f->c);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
}

static void test_acks0_never_answered(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 0, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 2, 0, 30, 40)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 3, 1, 50, 60)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 4, 0, 70, 80)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 3, 90, 100)), 0);
	assert_int_equal(f->n, 4);
	assert_int_equal(f->v[3].req.corr_id, 3);
	assert_int_equal(counts(f)->acks0, 3);
	assert_int_equal(counts(f)->completed, 1);
	corr_finish(f->c);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
	assert_int_equal(counts(f)->partial, 0);
}

/* --- requests without a response -------------------------------------- */

static void test_response_skips_requests(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_request(1, 2, 3, 12, 30, 40)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 3, 1, 50, 60)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 3, 70, 80)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.corr_id, 3);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_SKIPPED], 2);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_SKIPPED], 1);
	assert_int_equal(unm_total(counts(f)->unmatched), 2);
	/* the skipped ones are gone: their late responses match nothing */
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 90, 95)), 0);
	assert_int_equal(counts(f)->unmatched_responses, 1);
}

static void test_close_with_pending(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 1234)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_request(1, 2, 18, 3, 30, 40)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 3, 0, 50, 60)), 0);
	assert_int_equal(evb_feed(f->c, evb_close(1, 70)), 0);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_CLOSED], 2);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_CLOSED], 1);
	assert_int_equal(evb_feed(f->c, evb_close(1, 71)), 0);	/* twice: no effect */
	assert_int_equal(evb_feed(f->c, evb_close(77, 71)), 0); /* unknown: no effect */
	corr_finish(f->c);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_IN_FLIGHT], 0);
	assert_int_equal(unm_total(counts(f)->unmatched), 2);
}

/* The brokers exited (--follow): their waiting requests end unanswered
 * (closed) and the next process's responses match none of them, even on
 * the same correlation ids. */
static void test_end_connections(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 1234)), 0);
	assert_int_equal(evb_feed(f->c, evb_conn4(2, "127.0.0.1", 1235)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 2, 1, 50, 60)), 0);
	assert_int_equal(evb_feed(f->c, evb_request(2, 7, 18, 3, 50, 60)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(2, 8, 0, 70, 80)), 0); /* acks=0 */
	assert_int_equal(f->n, 2); /* the answered one and the acks=0 one */
	assert_int_equal(corr_end_connections(f->c, 4242, false), 2);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_CLOSED], 2);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_CLOSED], 1);
	/* the next life: new connection ids, the same correlation ids */
	assert_int_equal(evb_feed(f->c, evb_response(1, 2, 90, 95)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(2, 7, 90, 95)), 0);
	assert_int_equal(counts(f)->unmatched_responses, 2);
	assert_int_equal(evb_feed(f->c, evb_conn4(3, "127.0.0.1", 1236)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(3, 2, 1, 100, 110)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(3, 2, 120, 130)), 0);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->v[2].req.conn_id, 3);
	assert_int_equal(counts(f)->completed, 2);
	assert_int_equal(corr_end_connections(f->c, 4242, true), 0);
	corr_finish(f->c);
	assert_int_equal(unm_total(counts(f)->unmatched), 2);
}

/* One of several brokers exited: only its process's connections end; a
 * connection of unknown owner (no CONN record) ends with the last one. */
static void test_end_one_brokers_connections(void **state)
{
	struct fixture *f = *state;
	struct klt_conn_event other = evb_conn4(2, "127.0.0.1", 1235);

	other.tgid = 5000;
	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 1234)), 0); /* tgid 4242 */
	assert_int_equal(evb_feed(f->c, other), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(2, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(3, 1, 1, 10, 20)), 0); /* owner unknown */
	assert_int_equal(corr_end_connections(f->c, 4242, false), 1);
	assert_int_equal(evb_feed(f->c, evb_response(2, 1, 30, 40)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.tgid, 5000);
	assert_int_equal(evb_feed(f->c, evb_produce(2, 2, 1, 50, 60)), 0);
	assert_int_equal(corr_end_connections(f->c, 5000, true), 2);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_CLOSED], 3);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_CLOSED], 3);
	corr_finish(f->c);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_IN_FLIGHT], 0);
	assert_int_equal(counts(f)->completed, 1);
}

static void test_conn_id_reused_after_close(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 1111)), 0);
	assert_int_equal(evb_feed(f->c, evb_close(1, 5)), 0);
	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.2", 2222)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_string_equal(f->v[0].req.client, "127.0.0.2:2222");
	assert_int_equal(counts(f)->connections, 2);
}

static void test_finish_in_flight(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(2, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_request(2, 2, 1, 12, 10, 20)), 0);
	corr_finish(f->c);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_IN_FLIGHT], 3);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_IN_FLIGHT], 2);
	corr_finish(f->c); /* idempotent */
	assert_int_equal(counts(f)->unmatched[CORR_UNM_IN_FLIGHT], 3);
	assert_int_equal(f->n, 0);
}

static void test_note_lost(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_request(1, 2, 3, 12, 10, 20)), 0);
	corr_note_lost(f->c, 0); /* nothing lost: nothing dropped */
	assert_int_equal(counts(f)->unmatched[CORR_UNM_LOST], 0);
	corr_note_lost(f->c, 3);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_LOST], 2);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_LOST], 1);
	/* responses after the loss match nothing */
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(counts(f)->unmatched_responses, 1);
	assert_int_equal(f->n, 0);
	corr_finish(f->c);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_IN_FLIGHT], 0);
}

/* A loss record touches what was in flight on every connection: its
 * response, counted, is not completed; a lost request frame counts as
 * touched too. The next request on the connection completes as usual. */
static void test_loss_touches_in_flight(void **state)
{
	struct fixture *f = *state;
	uint64_t produce = 0;

	feed_basic_request(f->c, 1, 1);
	feed_basic_response(f->c, 1, 1);
	assert_int_equal(f->n, 1);
	feed_basic_request(f->c, 1, 2);
	assert_int_equal(evb_feed(f->c, evb_request(2, 5, 3, 12, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_lost(KLT_LOST_PRODUCE, 2)), 0);
	feed_basic_response(f->c, 1, 2);
	assert_int_equal(evb_feed(f->c, evb_response(2, 5, 30, 40)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(counts(f)->touched, 2);
	assert_int_equal(counts(f)->produce_touched, 1);
	assert_int_equal(counts(f)->loss_records, 1);
	assert_int_equal(counts(f)->lost[KLT_LOST_PRODUCE], 2);
	assert_int_equal(corr_touched(counts(f), &produce), 4);
	assert_int_equal(produce, 3);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
	/* recovered: the next one is whole */
	feed_basic_request(f->c, 1, 3);
	feed_basic_response(f->c, 1, 3);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->v[1].req.corr_id, 3);
	assert_false(f->v[1].req.has_prev); /* the one before it was touched */
	check_basic_parts(&f->v[1]);
	assert_int_equal(counts(f)->completed, 2);
}

/* A request in flight at a loss that gets no response is touched, not
 * unmatched: the lost record may have been its response. */
static void test_loss_touched_skipped(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_lost(KLT_LOST_RESPONSE, 1)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 2, 1, 30, 40)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 2, 50, 60)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.corr_id, 2);
	assert_int_equal(counts(f)->touched, 1);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
}

/* The request being framed when records were lost: its topics and
 * partitions do not add up to what its frame walked, so it is touched;
 * one whose records all came is not. */
static void test_loss_cuts_framing(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_topic(1, 0, "orders")), 0);
	assert_int_equal(evb_feed(f->c, evb_lost(KLT_EV_PART, 1)), 0);
	assert_int_equal(evb_feed(f->c, evb_part(1, 0, 4, 200, 3)), 0);
	{
		struct klt_frame_event rq = evb_produce(1, 1, 1, 10, 20);

		evb_produce_totals(&rq, 1, 2, 300, 5);
		assert_int_equal(evb_feed(f->c, rq), 0);
	}
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(f->n, 0);
	assert_int_equal(counts(f)->produce_touched, 1);
	/* a loss while another connection was idle: its next request is whole */
	assert_int_equal(evb_feed(f->c, evb_lost(KLT_EV_TOPIC, 1)), 0);
	feed_basic_request(f->c, 1, 2);
	feed_basic_response(f->c, 1, 2);
	assert_int_equal(f->n, 1);
	check_basic_parts(&f->v[0]);
	assert_int_equal(counts(f)->touched, 1);
	assert_int_equal(counts(f)->lost[KLT_EV_PART], 1);
	assert_int_equal(counts(f)->lost[KLT_EV_TOPIC], 1);
}

/* An evicted arrival that came after a loss may stand in for a lost one:
 * the request that needs it is touched. One whose arrivals were still in
 * the kernel's ring ends the doubt. */
static void test_loss_evicted_arrival(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event rq = evb_produce(1, 1, 1, 5000, 5010);

	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 4000)), 0);
	assert_int_equal(evb_feed(f->c, evb_lost(KLT_EV_ARRIVAL, 1)), 0);
	assert_int_equal(evb_feed(f->c, evb_arrival(1, 200, 1050)), 0);
	rq.size = 96;
	rq.seq_end = 1100;
	evb_wire(&rq, 0, 300);
	rq.flags |= KLT_FRAME_ARRIVAL_EVICTED;
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 5990, 6000)), 0);
	assert_int_equal(f->n, 0);
	assert_int_equal(counts(f)->touched, 1);
	rq = evb_produce(1, 2, 1, 7000, 7010);
	rq.size = 96;
	rq.seq_end = 1200;
	evb_wire(&rq, 6900, 6950);
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 2, 7990, 8000)), 0);
	assert_int_equal(evb_feed(f->c, evb_arrival(1, 8100, 1250)), 0);
	rq = evb_produce(1, 3, 1, 9000, 9010);
	rq.size = 96;
	rq.seq_end = 1300;
	evb_wire(&rq, 0, 8200);
	rq.flags |= KLT_FRAME_ARRIVAL_EVICTED;
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 3, 9990, 10000)), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->v[1].req.t_arrival, 8100);
	assert_int_equal(counts(f)->touched, 1);
}

static void test_max_pending_overflow(void **state)
{
	struct fixture *f = *state;
	int last = MAX_PENDING_EXP;

	for (int i = 0; i <= last; i++)
		assert_int_equal(evb_feed(f->c, evb_produce(1, i, 1, 10, 20)), 0);
	/* the oldest was dropped to make room */
	assert_int_equal(counts(f)->unmatched[CORR_UNM_SKIPPED], 1);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_SKIPPED], 1);
	assert_int_equal(evb_feed(f->c, evb_response(1, 0, 30, 40)), 0);
	assert_int_equal(counts(f)->unmatched_responses, 1);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(evb_feed(f->c, evb_response(1, last, 50, 60)), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->v[1].req.corr_id, last);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_SKIPPED], last - 1);
	corr_finish(f->c);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_IN_FLIGHT], 0);
	assert_int_equal(counts(f)->requests, last + 1);
}

/* --- undecodable, preexisting, desync ----------------------------------- */

static void test_bad_connection(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 1)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_request(1, 2, 3, 12, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_bad(1, KLT_BAD_TLS, KLT_DIR_RX)), 0);
	assert_int_equal(counts(f)->undecodable_conns, 1);
	assert_int_equal(counts(f)->undecodable[KLT_BAD_TLS], 1);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_UNDECODABLE], 2);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_UNDECODABLE], 1);
	/* later frames on that connection are ignored */
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 3, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 3, 30, 40)), 0);
	assert_int_equal(f->n, 0);
	assert_int_equal(counts(f)->requests, 2);
	assert_int_equal(counts(f)->responses, 0);
	assert_int_equal(counts(f)->unmatched_responses, 0);
	/* a second notice for the same connection is not counted again */
	assert_int_equal(evb_feed(f->c, evb_bad(1, KLT_BAD_SIZE, KLT_DIR_TX)), 0);
	assert_int_equal(counts(f)->undecodable_conns, 1);
	assert_int_equal(counts(f)->undecodable[KLT_BAD_SIZE], 0);
	corr_finish(f->c);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_IN_FLIGHT], 0);
}

static void test_bad_reasons_counted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_bad(1, KLT_BAD_HEADER, KLT_DIR_RX)), 0);
	assert_int_equal(evb_feed(f->c, evb_bad(2, KLT_BAD_HEADER, KLT_DIR_RX)), 0);
	assert_int_equal(evb_feed(f->c, evb_bad(3, KLT_BAD_STEPS, KLT_DIR_TX)), 0);
	assert_int_equal(evb_feed(f->c, evb_bad(4, 999, KLT_DIR_RX)), 0);
	assert_int_equal(counts(f)->undecodable_conns, 4);
	assert_int_equal(counts(f)->undecodable[KLT_BAD_HEADER], 2);
	assert_int_equal(counts(f)->undecodable[KLT_BAD_STEPS], 1);
	assert_int_equal(counts(f)->undecodable[KLT_BAD_NONE], 1); /* out of range */
	/* other connections are unaffected */
	assert_int_equal(evb_feed(f->c, evb_produce(5, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(5, 1, 30, 40)), 0);
	assert_int_equal(f->n, 1);
}

static void test_preexisting(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
	    evb_feed(f->c, evb_conn(1, AF_INET, "10.9.8.7", 999, KLT_CONN_PREEXISTING)), 0);
	assert_int_equal(counts(f)->preexisting, 1);
	/* answered before any match: its request was read before attach */
	assert_int_equal(evb_feed(f->c, evb_response(1, 41, 1, 2)), 0);
	assert_int_equal(counts(f)->partial, 1);
	assert_int_equal(counts(f)->unmatched_responses, 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 43, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 42, 3, 4)), 0);
	assert_int_equal(counts(f)->partial, 2);
	assert_int_equal(evb_feed(f->c, evb_response(1, 43, 30, 40)), 0);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->v[0].req.client, "10.9.8.7:999");
	/* after a match an unknown response is a real anomaly */
	assert_int_equal(evb_feed(f->c, evb_response(1, 99, 50, 60)), 0);
	assert_int_equal(counts(f)->partial, 2);
	assert_int_equal(counts(f)->unmatched_responses, 1);
}

static void test_unknown_response_new_conn(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 5)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 41, 1, 2)), 0);
	assert_int_equal(counts(f)->partial, 0);
	assert_int_equal(counts(f)->unmatched_responses, 1);
}

static void test_tentative_desync(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event t2 = evb_produce(1, 2, 1, 30, 40);
	struct klt_frame_event t3 = evb_request(1, 3, 3, 12, 50, 60);

	t2.flags |= KLT_FRAME_TENTATIVE;
	t3.flags |= KLT_FRAME_TENTATIVE;
	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, t2), 0);
	assert_int_equal(evb_feed(f->c, t3), 0);
	/* a TX desync does not void requests */
	assert_int_equal(evb_feed(f->c, evb_desync(1, KLT_DIR_TX)), 0);
	assert_int_equal(counts(f)->partial, 0);
	assert_int_equal(evb_feed(f->c, evb_desync(1, KLT_DIR_RX)), 0);
	assert_int_equal(counts(f)->desyncs, 2);
	assert_int_equal(counts(f)->partial, 2);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 70, 80)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.corr_id, 1);
	corr_finish(f->c);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
	assert_int_equal(evb_feed(f->c, evb_desync(66, KLT_DIR_RX)), 0); /* unknown conn */
	assert_int_equal(counts(f)->desyncs, 3);
}

static void test_tentative_confirmed_by_response(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event t = evb_produce(1, 2, 1, 30, 40);
	struct klt_frame_event t3 = evb_produce(1, 3, 1, 50, 60);

	t.flags |= KLT_FRAME_TENTATIVE;
	t3.flags |= KLT_FRAME_TENTATIVE;
	assert_int_equal(evb_feed(f->c, t), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 2, 50, 60)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(counts(f)->completed, 1);
	/* a tentative request that never gets an answer is partial, not unmatched */
	assert_int_equal(evb_feed(f->c, t3), 0);
	corr_finish(f->c);
	assert_int_equal(counts(f)->partial, 1);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
}

/* --- malformed records and unknown connections ------------------------- */

static void test_malformed_records(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event fr = evb_produce(1, 1, 1, 10, 20);
	uint32_t type = 0;
	uint8_t big[512] = {0};

	assert_int_equal(corr_feed(f->c, NULL, 0), -EINVAL);
	assert_int_equal(corr_feed(f->c, &fr, 3), -EINVAL);
	assert_int_equal(corr_feed(f->c, &fr, KLT_FRAME_V1_SIZE - 1), -EINVAL);
	assert_int_equal(corr_feed(f->c, &type, sizeof(type)), -EINVAL);
	type = 99;
	memcpy(big, &type, sizeof(type));
	assert_int_equal(corr_feed(f->c, big, sizeof(big)), -EINVAL);
	type = KLT_EV_DESYNC;
	memcpy(big, &type, sizeof(type));
	assert_int_equal(corr_feed(f->c, big, sizeof(struct klt_desync_event) - 1), -EINVAL);
	assert_int_equal(counts(f)->bad_events, 6);
	assert_int_equal(counts(f)->events, 4);
	assert_int_equal(counts(f)->requests, 0);
	/* longer records than the struct are accepted (newer producer) */
	assert_int_equal(corr_feed(f->c, big, sizeof(big)), 0);
	assert_int_equal(counts(f)->desyncs, 1);
}

/* The wire times pass from the frames to the request, 0 where unknown,
 * and say why they are unknown. */
static void test_wire_times(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event rq = evb_produce(1, 5, 1, 1000, 2000);
	struct klt_frame_event rs = evb_response(1, 5, 5000, 6000);
	uint64_t ns = 7;

	evb_wire(&rq, 900, 1900);
	evb_wire(&rs, 0, 6000);
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, rs), 0);
	rq = evb_produce(1, 6, 1, 7000, 8000);
	rq.flags |= KLT_FRAME_ARRIVAL_UNKNOWN;
	evb_wire(&rq, 0, 7900);
	rs = evb_response(1, 6, 9000, 9500);
	evb_wire(&rs, 0, 9500);
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, rs), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->v[0].req.t_arrival, 900);
	assert_int_equal(f->v[0].req.t_complete, 1900);
	assert_int_equal(f->v[0].req.t_sent, 6000);
	assert_int_equal(f->v[0].req.wire, CORR_WIRE_KNOWN);
	assert_true(corr_wire_latency(&f->v[0].req, &ns));
	assert_int_equal(ns, 5100);
	assert_int_equal(corr_broker_latency(&f->v[0].req), 5000);
	assert_int_equal(f->v[1].req.t_arrival, 0);
	assert_int_equal(f->v[1].req.t_complete, 0);
	assert_int_equal(f->v[1].req.t_sent, 9500);
	assert_int_equal(f->v[1].req.wire, CORR_WIRE_BEFORE_ATTACH);
	assert_false(corr_wire_latency(&f->v[1].req, &ns));
	assert_string_equal(corr_wire_name(CORR_WIRE_BEFORE_ATTACH), "arrived_before_attach");
	assert_string_equal(corr_wire_name(CORR_WIRE_MAX), "unknown");
}

/* A request and its response as the kernel sees them on conn 1: arrived
 * over [arr, arr + 100], read at first, answered at end. */
static void feed_pair(struct fixture *f, int32_t corr, uint64_t arr, uint64_t first, uint64_t end,
		      uint64_t sent, uint32_t seq_later)
{
	struct klt_frame_event rq = evb_produce(1, corr, 1, first, first + 10);
	struct klt_frame_event rs = evb_response(1, corr, end - 10, end);

	evb_wire(&rq, arr, arr + 100);
	evb_wire(&rs, 0, sent);
	if (seq_later)
		evb_sent_later(&rs, seq_later);
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, rs), 0);
}

/* A response that left after its write waits for KLT_EV_SENT, and the
 * connection's later requests wait behind it; a SENT covers every response
 * ending at or before its sequence number, across the 2^32 wrap. */
static void test_sent_later_resolved_in_order(void **state)
{
	struct fixture *f = *state;

	feed_pair(f, 1, 1000, 2000, 3000, 0, 0xfffffff0u);
	feed_pair(f, 2, 1100, 3000, 4000, 0, 0x00000010u);
	feed_pair(f, 3, 1200, 4000, 5000, 0, 0x00000030u);
	assert_int_equal(f->n, 0);
	assert_int_equal(counts(f)->completed, 0);
	assert_int_equal(evb_feed(f->c, evb_sent(1, 4500, 0xfffffff0u)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.t_sent, 4500);
	assert_int_equal(f->v[0].req.wire, CORR_WIRE_KNOWN);
	assert_int_equal(evb_feed(f->c, evb_sent(1, 5600, 0x0000000fu)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(evb_feed(f->c, evb_sent(1, 5700, 0x00000030u)), 0);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->v[1].req.t_sent, 5700);
	assert_int_equal(f->v[2].req.t_sent, 5700);
	assert_int_equal(counts(f)->sent_events, 3);
	assert_int_equal(counts(f)->completed, 3);
}

/* A response that left during its write had every response byte before it
 * leave first: responses still waiting for a KLT_EV_SENT then will get none
 * (the kernel side sent none, or it was lost), so they complete unknown
 * at once, and the later requests with them. */
static void test_sent_later_given_up(void **state)
{
	struct fixture *f = *state;

	feed_pair(f, 1, 1000, 2000, 3000, 0, 500);
	feed_pair(f, 2, 1100, 3000, 4000, 0, 600);
	assert_int_equal(f->n, 0);
	feed_pair(f, 3, 1200, 4000, 5000, 5000, 0);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->v[0].req.wire, CORR_WIRE_SENT_UNRESOLVED);
	assert_int_equal(f->v[1].req.wire, CORR_WIRE_SENT_UNRESOLVED);
	assert_int_equal(f->v[2].req.wire, CORR_WIRE_KNOWN);
	assert_int_equal(f->v[2].req.t_sent, 5000);
}

/* Each request knows the one answered before it on its connection: from its
 * arrival (else its first read) to its response leaving (else its write). */
static void test_previous_request(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event rq = evb_produce(1, 3, 1, 5000, 5010);

	feed_pair(f, 1, 1000, 2000, 3000, 3100, 0);
	feed_pair(f, 2, 1100, 3000, 4000, 4200, 0);
	rq.flags |= KLT_FRAME_ARRIVAL_UNKNOWN;
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 3, 5990, 6000)), 0);
	feed_pair(f, 4, 6100, 6200, 7000, 7100, 0);
	assert_int_equal(f->n, 4);
	assert_false(f->v[0].req.has_prev);
	assert_true(f->v[1].req.has_prev);
	assert_int_equal(f->v[1].req.prev_corr_id, 1);
	assert_int_equal(f->v[1].req.prev_t_start, 1000);
	assert_int_equal(f->v[1].req.prev_t_done, 3100);
	assert_int_equal(f->v[2].req.wire, CORR_WIRE_BEFORE_ATTACH);
	assert_int_equal(f->v[3].req.prev_corr_id, 3);
	assert_int_equal(f->v[3].req.prev_t_start, 5000);
	assert_int_equal(f->v[3].req.prev_t_done, 6000);
}

/* Responses still in the socket when the connection closes or the run ends
 * complete with their sending time unknown. */
static void test_sent_unresolved(void **state)
{
	struct fixture *f = *state;

	feed_pair(f, 1, 1000, 2000, 3000, 0, 500);
	feed_pair(f, 2, 1100, 3000, 4000, 4000, 0);
	assert_int_equal(evb_feed(f->c, evb_close(1, 9000)), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->v[0].req.t_sent, 0);
	assert_int_equal(f->v[0].req.wire, CORR_WIRE_SENT_UNRESOLVED);
	assert_int_equal(f->v[1].req.wire, CORR_WIRE_KNOWN);
	feed_pair(f, 3, 1000, 2000, 3000, 0, 500);
	corr_finish(f->c);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->v[2].req.wire, CORR_WIRE_SENT_UNRESOLVED);
	assert_int_equal(counts(f)->completed, 3);
	assert_int_equal(unm_total(counts(f)->unmatched), 0);
}

/* A kTLS or sockmap connection has no wire times, whatever its frames say. */
static void test_wire_skipped(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
	    evb_feed(f->c, evb_conn(1, AF_INET, "127.0.0.1", 4000, KLT_CONN_WIRE_SKIPPED)), 0);
	feed_pair(f, 1, 1000, 2000, 3000, 0, 500);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.t_arrival, 0);
	assert_int_equal(f->v[0].req.t_sent, 0);
	assert_int_equal(f->v[0].req.wire, CORR_WIRE_SKIPPED);
	assert_int_equal(counts(f)->wire_skipped_conns, 1);
}

/* Arrival through the backlog is flagged and counted, its times kept. */
static void test_arrival_backlog(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event rq = evb_produce(1, 1, 1, 2000, 2010);
	struct klt_frame_event rs = evb_response(1, 1, 2990, 3000);

	evb_wire(&rq, 1000, 1100);
	rq.flags |= KLT_FRAME_ARRIVAL_BACKLOG;
	evb_wire(&rs, 0, 3000);
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, rs), 0);
	assert_int_equal(f->n, 1);
	assert_true(f->v[0].req.arrival_backlog);
	assert_int_equal(f->v[0].req.t_arrival, 1000);
	assert_int_equal(f->v[0].req.wire, CORR_WIRE_KNOWN);
	assert_int_equal(counts(f)->arrival_backlog, 1);
}

/* A request's bound is the time since the window first filled in its flow
 * episode; the episode ends with a request arriving after the window stayed
 * open longer than the episode's longest full period; what no request
 * arrived after is counted at the end. */
static void test_flow_blocked(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 4000)), 0);
	assert_int_equal(evb_feed(f->c, evb_flow(1, 100, 300)), 0);
	assert_int_equal(evb_feed(f->c, evb_flow(1, 400, 1500)), 0);
	feed_pair(f, 1, 1000, 2000, 3000, 3000, 0);
	feed_pair(f, 2, 2000, 3000, 4000, 4000, 0); /* arrived before 1's response left */
	feed_pair(f, 3, 2600, 4000, 5000, 5000, 0); /* open for 1100, the longest: still in */
	feed_pair(f, 4, 6000, 6100, 7000, 7000, 0); /* open longer: the episode is over */
	assert_int_equal(evb_feed(f->c, evb_flow(1, 7100, 7600)), 0);
	feed_pair(f, 5, 8000, 8100, 8500, 8500, 0);
	assert_int_equal(evb_feed(f->c, evb_flow(1, 9000, 9500)), 0);
	assert_int_equal(evb_feed(f->c, evb_flow(1, 9700, 9600)), 0); /* ends before it starts */
	assert_int_equal(evb_feed(f->c, evb_flow(9, 6000, 6500)), 0); /* no such connection */
	corr_finish(f->c);
	assert_int_equal(f->n, 5);
	assert_int_equal(f->v[0].req.flow_blocked_ns, 900);
	assert_int_equal(f->v[1].req.flow_blocked_ns, 1900);
	assert_int_equal(f->v[2].req.flow_blocked_ns, 2500);
	assert_int_equal(f->v[3].req.flow_blocked_ns, 0);
	assert_int_equal(f->v[4].req.flow_blocked_ns, 900);
	assert_int_equal(counts(f)->flow_events, 6);
	assert_int_equal(counts(f)->flow_unclaimed_ns, 500);
}

/* Arrivals the kernel's ring let go come as records before the request
 * that needs them; one no record had leaves the request without wire
 * times, for that reason. */
static void test_evicted_arrivals(void **state)
{
	struct fixture *f = *state;
	/* a 96-byte frame ending before seq 1100: bytes [1000, 1100) */
	struct klt_frame_event rq = evb_produce(1, 1, 1, 5000, 5010);
	struct klt_frame_event rs = evb_response(1, 1, 5990, 6000);

	assert_int_equal(evb_feed(f->c, evb_conn4(1, "127.0.0.1", 4000)), 0);
	assert_int_equal(evb_feed(f->c, evb_arrival(1, 100, 990)), 0);
	assert_int_equal(evb_feed(f->c, evb_arrival(1, 200, 1050)), 0);
	assert_int_equal(evb_feed(f->c, evb_arrival(9, 200, 1050)), 0); /* no such connection */
	rq.size = 96;
	rq.seq_end = 1100;
	evb_wire(&rq, 0, 300); /* the last byte's arrival is still in the ring */
	rq.flags |= KLT_FRAME_ARRIVAL_EVICTED;
	evb_wire(&rs, 0, 6000);
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, rs), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.t_arrival, 200);
	assert_int_equal(f->v[0].req.t_complete, 300);
	assert_int_equal(f->v[0].req.wire, CORR_WIRE_KNOWN);
	/* the next request's first byte's record is missing */
	rq = evb_produce(1, 2, 1, 7000, 7010);
	rs = evb_response(1, 2, 7990, 8000);
	rq.size = 96;
	rq.seq_end = 1200;
	evb_wire(&rq, 0, 400);
	rq.flags |= KLT_FRAME_ARRIVAL_EVICTED;
	evb_wire(&rs, 0, 8000);
	assert_int_equal(evb_feed(f->c, rq), 0);
	assert_int_equal(evb_feed(f->c, rs), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->v[1].req.t_arrival, 0);
	assert_int_equal(f->v[1].req.wire, CORR_WIRE_EVICTED);
	assert_int_equal(counts(f)->arrival_records, 3);
	assert_int_equal(counts(f)->arrival_evicted, 1);
}

/* throttle_time_ms from a Produce response's last bytes: v1-v8 end with
 * it, v9+ with it and an empty tag set; anything else is unknown. */
static void test_produce_throttle(void **state)
{
	struct klt_frame_event rs = evb_response(1, 1, 10, 20);
	const uint8_t v8[KLT_RESP_TAIL] = {0xaa, 0, 0, 0x01, 0xf4};
	const uint8_t v9[KLT_RESP_TAIL] = {0, 0, 0, 0x32, 0};
	const uint8_t v9_tags[KLT_RESP_TAIL] = {0, 0, 0, 0x32, 1};

	(void)state;
	rs.tail_len = KLT_RESP_TAIL;
	memcpy(rs.tail, v8, sizeof(v8));
	assert_int_equal(corr_produce_throttle_ms(0, 8, &rs), 500);
	assert_int_equal(corr_produce_throttle_ms(0, 1, &rs), 500);
	assert_int_equal(corr_produce_throttle_ms(0, 0, &rs), -1); /* no such field */
	assert_int_equal(corr_produce_throttle_ms(1, 8, &rs), -1); /* not Produce */
	memcpy(rs.tail, v9, sizeof(v9));
	assert_int_equal(corr_produce_throttle_ms(0, 9, &rs), 50);
	memcpy(rs.tail, v9_tags, sizeof(v9_tags));
	assert_int_equal(corr_produce_throttle_ms(0, 11, &rs), -1);
	rs.tail_len = 0;
	assert_int_equal(corr_produce_throttle_ms(0, 3, &rs), -1);
}

/* A frame record of ABI 1 (an older dump) is read with unknown wire times,
 * even when bytes follow it in the caller's buffer. */
static void test_abi1_frame_record(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event rq = evb_produce(1, 5, 1, 1000, 2000);
	struct klt_frame_event rs = evb_response(1, 5, 5000, 6000);

	evb_wire(&rq, 900, 1900);
	evb_wire(&rs, 0, 6000);
	assert_int_equal(corr_feed(f->c, &rq, KLT_FRAME_V1_SIZE), 0);
	assert_int_equal(corr_feed(f->c, &rs, KLT_FRAME_V1_SIZE), 0);
	assert_int_equal(counts(f)->bad_events, 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.t_end, 6000);
	assert_int_equal(f->v[0].req.t_arrival, 0);
	assert_int_equal(f->v[0].req.t_complete, 0);
	assert_int_equal(f->v[0].req.t_sent, 0);
	assert_int_equal(f->v[0].req.wire, CORR_WIRE_ABI1);
}

/* A partition record of ABI 1-3 has no producer identity: -1; ABI 4's
 * carries it to the request. */
static void test_part_identity(void **state)
{
	struct fixture *f = *state;
	struct klt_part_event p = evb_part(1, 0, 3, 100, 2);

	assert_int_equal(evb_feed(f->c, evb_topic(1, 0, "orders")), 0);
	p.producer_id = 4000000000ll;
	p.base_sequence = 17;
	assert_int_equal(corr_feed(f->c, &p, KLT_PART_V3_SIZE), 0);
	p.partition = 4;
	assert_int_equal(corr_feed(f->c, &p, sizeof(p)), 0);
	assert_int_equal(corr_feed(f->c, &p, KLT_PART_V3_SIZE - 1), -EINVAL);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 5, 1, 1000, 2000)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 5, 5000, 6000)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.nparts, 2);
	assert_int_equal(f->v[0].parts[0].producer_id, -1);
	assert_int_equal(f->v[0].parts[0].base_sequence, -1);
	assert_int_equal(f->v[0].parts[1].producer_id, 4000000000ll);
	assert_int_equal(f->v[0].parts[1].base_sequence, 17);
}

static void test_unknown_conn_still_matched(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_topic(77, 0, "t")), 0);
	assert_int_equal(evb_feed(f->c, evb_part(77, 0, 5, 10, 1)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(77, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(77, 1, 30, 40)), 0);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->v[0].req.client, "?");
	assert_int_equal(f->v[0].req.local_port, 0);
	assert_int_equal(f->v[0].req.nparts, 1);
	assert_int_equal(counts(f)->connections, 0);
	/* a late CONN names the client of the following requests */
	assert_int_equal(evb_feed(f->c, evb_conn4(77, "127.0.0.1", 4444)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(77, 2, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(77, 2, 30, 40)), 0);
	assert_string_equal(f->v[1].req.client, "127.0.0.1:4444");
	assert_int_equal(counts(f)->connections, 1);
}

static void test_no_callback(void **state)
{
	struct corr *c = corr_new(NULL, NULL);

	(void)state;
	assert_non_null(c);
	assert_int_equal(evb_feed(c, evb_produce(1, 1, 0, 10, 20)), 0);
	assert_int_equal(evb_feed(c, evb_produce(1, 2, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(c, evb_response(1, 2, 30, 40)), 0);
	assert_int_equal(corr_counts(c)->completed, 1);
	assert_int_equal(corr_counts(c)->acks0, 1);
	corr_free(c);
	corr_free(NULL);
}

/* --- golden sequence ------------------------------------------------------ */

/* The golden sequence: three clients (IPv4, IPv6, v4-mapped), pipelined
 * Produce with acks=all, acks=1 and acks=0, a Metadata request, a topic id,
 * a skipped request and a close. Each completion becomes one request line. */
static void feed_golden(struct corr *c)
{
	static const uint8_t id[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
				       5,    6,	   7,	 8,    9, 10, 11, 12};
	struct klt_frame_event p;

	evb_feed(c, evb_conn4(1, "192.0.2.10", 51000));
	evb_feed(c, evb_conn6(2, "2001:db8::7", 51001));
	evb_feed(c, evb_conn6(3, "::ffff:198.51.100.3", 51002));
	evb_feed(c, evb_topic(1, 0, "orders"));
	evb_feed(c, evb_part(1, 0, 0, 1024, 10));
	evb_feed(c, evb_part(1, 0, 1, 2048, 20));
	p = evb_produce(1, 100, -1, 1000000, 1000500);
	evb_produce_totals(&p, 1, 2, 3072, 30);
	evb_wire(&p, 999000, 999900);
	evb_feed(c, p);
	evb_feed(c, evb_topic(2, 0, "clicks"));
	evb_feed(c, evb_part(2, 0, 7, 512, 5));
	p = evb_produce(2, 7, 1, 1000100, 1000200);
	evb_client_id(&p, "py\tclient", 9);
	evb_produce_totals(&p, 1, 1, 512, 5);
	evb_feed(c, p);
	evb_feed(c, evb_topic_id(3, 0, id));
	evb_feed(c, evb_part(3, 0, 2, -1, 0));
	p = evb_produce(3, 1, 0, 1000300, 1000400);
	evb_feed(c, p);
	evb_feed(c, evb_request(1, 101, 3, 12, 1000600, 1000700));
	evb_feed(c, evb_topic(1, 0, "orders"));
	evb_feed(c, evb_part(1, 0, 1, 100, 1));
	evb_feed(c, evb_produce(1, 102, -1, 1000800, 1000900));
	evb_feed(c, evb_response(2, 7, 1003000, 1003100));
	p = evb_response(1, 100, 1005000, 1005250);
	evb_wire(&p, 0, 1005250);
	evb_feed(c, p);
	evb_feed(c, evb_response(1, 102, 1006000, 1006001)); /* skips Metadata 101 */
	evb_feed(c, evb_produce(2, 8, 1, 1007000, 1007100));
	evb_feed(c, evb_close(2, 1008000));
}

static char *read_all(const char *path, size_t *len)
{
	FILE *in = fopen(path, "rb");
	char *buf;
	long n;

	if (!in)
		return NULL;
	assert_int_equal(fseek(in, 0, SEEK_END), 0);
	n = ftell(in);
	assert_true(n >= 0);
	rewind(in);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, in), (size_t)n);
	buf[n] = '\0';
	fclose(in);
	*len = (size_t)n;
	return buf;
}

/* Compares with tests/data/<name>; KAFKALAT_UPDATE_GOLDEN=1 rewrites it. */
static void expect_golden(const char *name, const char *got, size_t got_len)
{
	const char *dir = getenv("KAFKALAT_TEST_DATA");
	char path[512];
	size_t len = 0;
	char *want;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	if (getenv("KAFKALAT_UPDATE_GOLDEN")) {
		FILE *out = fopen(path, "wb");

		assert_non_null(out);
		assert_int_equal(fwrite(got, 1, got_len, out), got_len);
		assert_int_equal(fclose(out), 0);
	}
	want = read_all(path, &len);
	if (!want)
		fail_msg("cannot read %s (run from the repository root)", path);
	if (len != got_len || memcmp(want, got, len))
		fail_msg("%s differs; got:\n%s", path, got);
	free(want);
}

static void test_golden_sequence(void **state)
{
	struct fixture *f = *state;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	feed_golden(f->c);
	corr_finish(f->c);
	for (size_t i = 0; i < f->n; i++)
		report_request_json(out, &f->v[i].req, NULL);
	assert_int_equal(fclose(out), 0);
	expect_golden("correlate_requests.golden.jsonl", buf, len);
	free(buf);
	assert_int_equal(counts(f)->connections, 3);
	assert_int_equal(counts(f)->requests, 6);
	assert_int_equal(counts(f)->responses, 3);
	assert_int_equal(counts(f)->completed, 3);
	assert_int_equal(counts(f)->acks0, 1);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_SKIPPED], 1);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_SKIPPED], 0);
	assert_int_equal(counts(f)->unmatched[CORR_UNM_CLOSED], 1);
	assert_int_equal(counts(f)->produce_unmatched[CORR_UNM_CLOSED], 1);
	assert_int_equal(unm_total(counts(f)->unmatched), 2);
}

/* --- regressions of bugs found by these tests ----------------------------- */

/* A large Produce request is framed over several reads; the broker may write
 * the response to the previous pipelined request in between. That TX frame
 * must not discard the RX request's topics and partitions seen so far. */
static void test_regression_response_mid_request_drops_topics(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_topic(1, 0, "a")), 0);
	assert_int_equal(evb_feed(f->c, evb_part(1, 0, 0, 10, 1)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(evb_feed(f->c, evb_topic(1, 1, "b")), 0);
	assert_int_equal(evb_feed(f->c, evb_part(1, 1, 5, 20, 2)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 2, 1, 25, 50)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 2, 60, 70)), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->v[1].req.ntopics, 2);
	assert_int_equal(f->v[1].req.nparts, 2);
	assert_string_equal(f->v[1].topics[f->v[1].parts[1].topic_idx].name, "b");
}

/* The same for a desync notice of the TX direction: it says nothing about
 * the request being framed on RX. */
static void test_regression_tx_desync_drops_rx_topics(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(evb_feed(f->c, evb_topic(1, 0, "a")), 0);
	assert_int_equal(evb_feed(f->c, evb_part(1, 0, 0, 10, 1)), 0);
	assert_int_equal(evb_feed(f->c, evb_desync(1, KLT_DIR_TX)), 0);
	assert_int_equal(evb_feed(f->c, evb_produce(1, 1, 1, 10, 20)), 0);
	assert_int_equal(evb_feed(f->c, evb_response(1, 1, 30, 40)), 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->v[0].req.ntopics, 1);
	assert_int_equal(f->v[0].req.nparts, 1);
}

/* A tentative acks=0 Produce voided by a desync is counted twice: in acks0
 * (at read) and in partial; count_unmatched() keeps acks=0 out of partial. */
static void test_regression_acks0_tentative_counted_twice(void **state)
{
	struct fixture *f = *state;
	struct klt_frame_event t = evb_produce(1, 1, 0, 10, 20);
	const struct corr_counts *n = counts(f);

	t.flags |= KLT_FRAME_TENTATIVE;
	assert_int_equal(evb_feed(f->c, t), 0);
	assert_int_equal(evb_feed(f->c, evb_desync(1, KLT_DIR_RX)), 0);
	corr_finish(f->c);
	assert_int_equal(n->requests,
			 n->completed + n->acks0 + n->partial + unm_total(n->unmatched));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_basic_ipv4),
	    T(test_end_connections),
	    T(test_end_one_brokers_connections),
	    T(test_basic_ipv6),
	    T(test_v4_mapped_shown_as_ipv4),
	    cmocka_unit_test(test_format_addr),
	    cmocka_unit_test(test_reason_names),
	    T(test_topic_id_hex),
	    T(test_client_id_clamped_and_cleaned),
	    T(test_utf8_client_id_kept),
	    T(test_topic_name_clamped),
	    T(test_txn_flag_and_unparsed_produce),
	    T(test_topics_not_carried_over),
	    T(test_pipelining_200),
	    T(test_interleaved_50_conns),
	    T(test_acks0_completed_at_read),
	    T(test_acks0_never_answered),
	    T(test_response_skips_requests),
	    T(test_close_with_pending),
	    T(test_conn_id_reused_after_close),
	    T(test_finish_in_flight),
	    T(test_note_lost),
	    T(test_max_pending_overflow),
	    T(test_bad_connection),
	    T(test_bad_reasons_counted),
	    T(test_preexisting),
	    T(test_unknown_response_new_conn),
	    T(test_tentative_desync),
	    T(test_tentative_confirmed_by_response),
	    T(test_malformed_records),
	    T(test_unknown_conn_still_matched),
	    T(test_wire_times),
	    T(test_sent_later_resolved_in_order),
	    T(test_sent_later_given_up),
	    T(test_previous_request),
	    T(test_sent_unresolved),
	    T(test_wire_skipped),
	    T(test_arrival_backlog),
	    T(test_flow_blocked),
	    T(test_evicted_arrivals),
	    T(test_loss_touches_in_flight),
	    T(test_loss_touched_skipped),
	    T(test_loss_cuts_framing),
	    T(test_loss_evicted_arrival),
	    cmocka_unit_test(test_produce_throttle),
	    T(test_abi1_frame_record),
	    T(test_part_identity),
	    cmocka_unit_test(test_no_callback),
	    T(test_golden_sequence),
	    T(test_regression_response_mid_request_drops_topics),
	    T(test_regression_tx_desync_drops_rx_topics),
	    T(test_regression_acks0_tentative_counted_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
