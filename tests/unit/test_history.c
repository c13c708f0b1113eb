// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The commit and block I/O histories: bad spans, the oldest giving way,
 * block I/O aging out, the block overlap of a kept request (through the
 * bands' keep hook) and the journal summary of >= p999. Times in ns. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kafkalat/bands.h"
#include "kafkalat/history.h"
#include "kafkalat/timeline.h"
#include "produce_req.h"

#define DEV_A 8
#define DEV_B 9

static void test_bad_and_full(void **state)
{
	struct history *h = history_new(2, 0, 1000);

	(void)state;
	assert_non_null(h);
	assert_int_equal(history_add_commit(h, DEV_A, 20, 10), -EINVAL);
	assert_int_equal(history_add_block(h, DEV_A, 20, 10), -EINVAL);
	assert_int_equal(history_add_commit(h, DEV_A, 0, 10), 0);
	assert_int_equal(history_add_commit(h, DEV_A, 10, 20), 0);
	assert_int_equal(history_add_commit(h, DEV_A, 20, 30), 1);
	assert_int_equal(history_add_block(h, DEV_A, 0, 10), 0); /* max 0 keeps one */
	assert_int_equal(history_add_block(h, DEV_A, 5, 12), 1);
	history_free(h);
	history_free(NULL);
}

/* A burst of block I/O grows the block timeline; once it ages out, the
 * timeline is back to its smallest buffer: what a burst took does not stay
 * held for the rest of the run. The commits stay reserved whole. */
static void test_block_burst_released(void **state)
{
	struct history *h = history_new(16, 100000, 1000000);
	uint64_t reserved, rec;

	(void)state;
	assert_non_null(h);
	reserved = history_bytes(h);
	assert_int_equal(history_add_block(h, DEV_A, 0, 1), 0);
	rec = (history_bytes(h) - reserved) / TIMELINE_MIN_CAP;
	assert_int_equal(reserved, 16 * rec);
	for (uint64_t t = 1; t < 10000; t++)
		assert_int_equal(history_add_block(h, DEV_A, t, t + 1), 0);
	assert_int_equal(history_bytes(h), reserved + 16384 * rec);
	assert_int_equal(history_add_block(h, DEV_B, 100000000, 100000001), 0); /* all age out */
	assert_int_equal(history_bytes(h), reserved + TIMELINE_MIN_CAP * rec);
	history_free(h);
}

static void note(void *h, struct slow_request *s)
{
	history_note_blocks(h, s);
}

/* A request of [t_first, t_end] on the wire and in the broker, latency lat,
 * added to the bands. */
static void add(struct bands *b, uint64_t t_first, uint64_t t_end, int64_t lat)
{
	struct attrib_result res;
	struct req q;

	produce_req_init(&q, 100, t_first, t_first, t_end, t_end);
	produce_req_part(&q, 0, 1000);
	q.r.t_arrival = q.r.t_complete = t_first;
	q.r.t_sent = t_end;
	memset(&res, 0, sizeof(res));
	res.wire_known = true;
	res.latency_ns = res.phase_ns[ATTRIB_APPEND] = lat;
	res.cause_ns[ATTRIB_APPEND][CAUSE_CPU] = lat;
	assert_int_equal(bands_add(b, &q.r, &res), 0);
}

/* Block I/O aged out of the window (1.5 us) is gone before a request is kept. */
static void test_block_overlap(void **state)
{
	struct history *h = history_new(16, 16, 1500);
	struct bands *b = bands_new(4);
	const struct slow_request *s;

	(void)state;
	bands_on_keep(b, note, h);
	history_add_block(h, DEV_A, 100, 200);
	history_add_block(h, DEV_B, 150, 450);
	history_add_block(h, DEV_A, 600, 700);
	add(b, 180, 620, 440);			 /* overlaps all three */
	history_add_block(h, DEV_A, 2000, 2100); /* ages out 100..200 and 150..450 */
	add(b, 150, 2050, 1900);		 /* 600..700 and 2000..2100 */
	add(b, 800, 900, 100);			 /* none */
	assert_int_equal(bands_kept(b), 3);
	s = bands_kept_at(b, 0);
	assert_int_equal(s->nblock, 3);
	assert_int_equal(s->block_longest_ns, 300);
	assert_int_equal(s->block_dev, DEV_B);
	s = bands_kept_at(b, 1);
	assert_int_equal(s->nblock, 2);
	assert_int_equal(s->block_longest_ns, 100);
	assert_int_equal(s->block_dev, DEV_A);
	assert_int_equal(bands_kept_at(b, 2)->nblock, 0);
	bands_free(b);
	history_free(h);
}

/* Of 999 requests only the slowest is >= p999: two commits overlap it. */
static void test_journal(void **state)
{
	struct history *h = history_new(16, 16, 1000000000);
	struct bands *b = bands_new(8);
	struct journal_overlap j;

	(void)state;
	bands_on_keep(b, note, h);
	history_add_commit(h, DEV_A, 1000, 5000);   /* inside the slow request */
	history_add_commit(h, DEV_B, 9000, 30000);  /* overlaps its end */
	history_add_commit(h, DEV_A, 40000, 41000); /* after it */
	history_add_block(h, DEV_B, 2000, 2500);
	for (int i = 0; i < 998; i++)
		add(b, 50000 + (uint64_t)i * 100, 50000 + (uint64_t)i * 100 + 10, 10);
	add(b, 500, 10500, 10000000);
	history_journal(h, b, &j);
	assert_int_equal(j.requests, 1);
	assert_int_equal(j.commits, 2);
	assert_int_equal(j.requests_with_commit, 1);
	assert_int_equal(j.commit_longest_ns, 21000);
	assert_int_equal(j.commit_dev, DEV_B);
	assert_int_equal(j.block_ios, 1);
	assert_int_equal(j.block_longest_ns, 500);
	assert_int_equal(j.block_dev, DEV_B);
	bands_free(b);
	history_free(h);
}

/* No requests: nothing is >= p999. */
static void test_journal_empty(void **state)
{
	struct history *h = history_new(4, 4, 1000);
	struct bands *b = bands_new(4);
	struct journal_overlap j;

	(void)state;
	history_add_commit(h, DEV_A, 0, 10);
	history_journal(h, b, &j);
	assert_int_equal(j.requests, 0);
	assert_int_equal(j.commits, 0);
	bands_free(b);
	history_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_and_full),  cmocka_unit_test(test_block_burst_released),
	    cmocka_unit_test(test_block_overlap), cmocka_unit_test(test_journal),
	    cmocka_unit_test(test_journal_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
