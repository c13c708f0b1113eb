// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafkalat/hgrm.h"
#include "kafkalat/hist.h"

#define HEAD "       Value     Percentile TotalCount 1/(1-Percentile)\n\n"
/* 2048 sub-buckets (3 digits); 2^11 * 2^53 = 2^64: bucket 0 and 53 more */
#define BUCKETS_LINE "#[Buckets =           54, SubBuckets     =         2048]\n"

/*
 * 10, 20, 30 and 40 µs (below 2048 ns values are exact, so these are where
 * buckets are 8 to 32 ns wide) at one tick per half: the levels are 0, then
 * 50, 75 and 87.5% (each step half the distance left). Nearest rank gives
 * the 1st, 2nd, 3rd and 4th value; each is its bucket's midpoint clamped to
 * [min, max]: 20000 lies in [20000, 20015] (mid 20007), 30000 in
 * [30000, 30015] (mid 30007), 40000 in [40000, 40031] (mid 40015, clamped
 * to 40000). The deviation takes every value as its bucket's midpoint
 * within [min, max]: 10003 ([10000, 10007]), 20007, 30007 and 40000, about
 * the exact mean 25000: sqrt(499910107 / 4) = 11179.335 ns.
 */
static const char small_expected[] =
    HEAD "      10.000 0.000000000000          1           1.00\n"
	 "      20.007 0.500000000000          2           2.00\n"
	 "      30.007 0.750000000000          3           4.00\n"
	 "      40.000 0.875000000000          4           8.00\n"
	 "      40.000 1.000000000000          4\n"
	 "#[Mean    =       25.000, StdDeviation   =       11.179]\n"
	 "#[Max     =       40.000, Total count    =            4]\n" BUCKETS_LINE;

static const char empty_expected[] =
    HEAD "#[Mean    =        0.000, StdDeviation   =        0.000]\n"
	 "#[Max     =        0.000, Total count    =            0]\n" BUCKETS_LINE;

static struct hist *new_hist(void)
{
	struct hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	hist_init(h);
	return h;
}

/* hgrm_write's output as a string, for the caller to free. */
static char *write_str(const struct hist *h, double unit_ns, unsigned ticks, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(hgrm_write(f, h, unit_ns, ticks), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* A histogram written, then read back. */
struct parsed {
	char *text;
	struct hgrm_row *rows;
	size_t n;
	struct hgrm_footer f;
};

static void write_read(struct parsed *p, const struct hist *h, double unit_ns)
{
	char err[128];
	size_t len;

	p->text = write_str(h, unit_ns, HGRM_TICKS_DEFAULT, &len);
	if (hgrm_read(p->text, len, &p->rows, &p->n, &p->f, err, sizeof(err)))
		fail_msg("%s", err);
}

static void parsed_free(struct parsed *p)
{
	free(p->rows);
	free(p->text);
}

static int read_str(const char *text, struct hgrm_row **rows, size_t *n, struct hgrm_footer *f,
		    char *err, size_t errlen)
{
	return hgrm_read(text, strlen(text), rows, n, f, err, errlen);
}

static void test_small_exact(void **state)
{
	struct hist *h = new_hist();
	size_t len;
	char *s;

	(void)state;
	for (uint64_t v = 10000; v <= 40000; v += 10000)
		hist_record(h, v);
	s = write_str(h, 1000.0, 1, &len);
	assert_string_equal(s, small_expected);
	free(s);
	free(h);
}

static void test_empty(void **state)
{
	struct hist *h = new_hist();
	struct parsed p;

	(void)state;
	write_read(&p, h, 1000.0);
	assert_string_equal(p.text, empty_expected);
	assert_null(p.rows);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.f.total_count, 0);
	assert_int_equal(p.f.buckets, HGRM_BUCKETS);
	assert_int_equal(p.f.sub_buckets, HGRM_SUB_BUCKETS);
	parsed_free(&p);
	free(h);
}

/* Five ticks per half: tenths up to 50%, twentieths up to 75%, and so on. */
static void test_default_levels(void **state)
{
	static const double want[] = {0,    .1, .2,   .3,  .4,	 .5,	.55, .6,    .65,  .7,	.75,
				      .775, .8, .825, .85, .875, .8875, .9,  .9125, .925, .9375};
	struct hist *h = new_hist();
	struct parsed p;

	(void)state;
	for (uint64_t v = 1; v <= 100000; v++)
		hist_record(h, v);
	write_read(&p, h, 1.0);
	assert_true(p.n > sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_float_equal(p.rows[i].percentile, want[i], 1e-12);
	parsed_free(&p);
	free(h);
}

/* splitmix64, log-uniform over [1 ns, 100 s]: latency spans many decades. */
static uint64_t rng_latency(uint64_t *st)
{
	uint64_t z = (*st += UINT64_C(0x9e3779b97f4a7c15));
	double u;

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	u = (double)((z ^ (z >> 31)) >> 11) / (double)(UINT64_C(1) << 53);
	return (uint64_t)llround(exp(u * log(1e11)));
}

/* A row's value is hist_quantile at its level, to the printed precision.
 * The level is printed to 12 decimals, so a rank boundary may sit between
 * the printed and the exact level: either side is accepted. */
static void check_row(const struct hist *h, const struct hgrm_row *r, double unit_ns)
{
	for (int d = -1; d <= 1; d++) {
		uint64_t v = hist_quantile(h, r->percentile + d * 6e-13);

		if (fabs((double)v / unit_ns - r->value) <= 0.0005 + 1e-9 * r->value &&
		    hist_count_through(h, v) == r->total_count)
			return;
	}
	fail_msg("row %.3f at %.12f does not match", r->value, r->percentile);
}

static void round_trip(double unit_ns)
{
	struct hist *h = new_hist();
	const struct hgrm_row *last;
	uint64_t st = 42;
	struct parsed p;

	for (int i = 0; i < 100000; i++)
		hist_record(h, rng_latency(&st));
	write_read(&p, h, unit_ns);
	assert_true(p.n > 2);
	for (size_t i = 0; i + 1 < p.n; i++)
		check_row(h, &p.rows[i], unit_ns);
	last = &p.rows[p.n - 1];
	assert_false(last->has_inv);
	assert_true(last->percentile == 1.0);
	assert_int_equal(last->total_count, h->count);
	assert_int_equal(p.f.total_count, h->count);
	assert_true(fabs(p.f.max - (double)h->max / unit_ns) <= 0.0005);
	assert_true(fabs(last->value - (double)h->max / unit_ns) <= 0.0005);
	assert_true(fabs(p.f.mean - hist_mean(h) / unit_ns) <= 0.0005);
	parsed_free(&p);
	free(h);
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip(1.0); /* whole nanoseconds: the max is exact */
	round_trip(1000.0);
}

static void test_bad_args(void **state)
{
	struct hist *h = new_hist();
	FILE *f = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(hgrm_write(f, h, 0.0, 5), -EINVAL);
	assert_int_equal(hgrm_write(f, h, NAN, 5), -EINVAL);
	assert_int_equal(hgrm_write(f, h, 1000.0, 0), -EINVAL);
	fclose(f);
	free(h);
}

static void test_write_error(void **state)
{
	struct hist *h = new_hist();
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	if (!f) {
		free(h);
		skip();
	}
	hist_record(h, 1000);
	assert_int_equal(hgrm_write(f, h, 1000.0, 5), -ENOSPC);
	fclose(f);
	free(h);
}

#define R1   "       1.000 0.000000000000          1           1.00\n"
#define R2   "       2.003 0.500000000000          2           2.00\n"
#define RL   "       4.000 1.000000000000          4\n"
#define MEAN "#[Mean    =        2.500, StdDeviation   =        1.117]\n"
#define MAX4 "#[Max     =        4.000, Total count    =            4]\n"
#define FOOT MEAN MAX4 BUCKETS_LINE

struct bad {
	const char *text;
	const char *err;
};

static const struct bad bads[] = {
    {"", "line 1: missing header"},
    {"Value Percentile TotalCount\n\n" R1 RL FOOT, "line 1: bad header"},
    {HEAD, "line 3: missing footer"},
    {"       Value     Percentile TotalCount 1/(1-Percentile)\n" R1, "line 2: expected a blank"},
    {HEAD "       1.0x0 0.000000000000          1           1.00\n" RL FOOT, "line 3: bad number"},
    {HEAD "         inf 0.000000000000          1           1.00\n" RL FOOT, "line 3: bad number"},
    {HEAD "      -1.000 0.000000000000          1           1.00\n" RL FOOT, "line 3: bad number"},
    {HEAD R1 "       2.003 1.500000000000          2           2.00\n" RL FOOT,
     "line 4: percentile 1.500000000000 above 1"},
    {HEAD R2 R1 RL FOOT, "line 4: percentile falls"},
    {HEAD R1 "       0.500 0.500000000000          2           2.00\n" RL FOOT,
     "line 4: value falls"},
    {HEAD R1 "       2.003 0.500000000000          0           2.00\n" RL FOOT,
     "line 4: total count falls"},
    {HEAD R1 "       2.003 0.500000000000          2\n" RL FOOT,
     "line 4: missing 1/(1-Percentile)"},
    {HEAD R1 RL R2 FOOT, "line 5: row after the 100% row"},
    {HEAD R1 R2 FOOT, "line 5: rows end without the 100% row"},
    {HEAD R1 RL MEAN "#[Max     =        4.000, Total count    =            5]\n" BUCKETS_LINE,
     "line 6: total count 5, rows end at 4"},
    {HEAD MEAN MAX4 BUCKETS_LINE, "line 4: total count 4 without rows"},
    {HEAD R1 RL MEAN, "line 6: missing Max line"},
    {HEAD R1 RL MEAN MAX4, "line 7: missing Buckets line"},
    {HEAD R1 RL "#[Mean    =        2.500]\n" MAX4 BUCKETS_LINE, "line 5: bad Mean line"},
    {HEAD R1 RL MEAN "#[Max     =        4.000]\n" BUCKETS_LINE, "line 6: bad Max line"},
    {HEAD R1 RL MEAN MAX4 "#[Buckets = 57]\n", "line 7: bad Buckets line"},
    {HEAD R1 RL FOOT "\n", "line 8: text after the footer"},
    {HEAD R1 RL FOOT "x", "line 8: text after the footer"},
};

static void test_rejects(void **state)
{
	struct hgrm_row *rows = (void *)1;
	struct hgrm_footer f;
	char err[128];
	size_t n = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		assert_int_equal(read_str(bads[i].text, &rows, &n, &f, err, sizeof(err)), -EINVAL);
		if (strncmp(err, bads[i].err, strlen(bads[i].err)))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, bads[i].err);
		assert_null(rows);
		assert_int_equal(n, 0);
	}
}

/* Lines too long or holding a NUL, and an error buffer too small to hold
 * the message, which is cut, never overrun. */
static void test_rejects_raw(void **state)
{
	static const char nul[] = HEAD "  1.000\0 0.0 1 1.00\n";
	struct hgrm_row *rows;
	struct hgrm_footer f;
	char err[128], tiny[8];
	char *longline = malloc(400);
	size_t n;

	(void)state;
	assert_non_null(longline);
	memset(longline, ' ', 399);
	longline[399] = '\0';
	assert_int_equal(read_str(longline, &rows, &n, &f, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: line longer than 255 bytes");
	assert_int_equal(hgrm_read(nul, sizeof(nul) - 1, &rows, &n, &f, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 3: NUL byte");
	assert_int_equal(read_str("", &rows, &n, &f, tiny, sizeof(tiny)), -EINVAL);
	assert_string_equal(tiny, "line 1:");
	assert_int_equal(read_str("", &rows, &n, &f, NULL, 0), -EINVAL);
	free(longline);
}

/* The reader takes what the writer gives, and the small case's numbers. */
static void test_read_small(void **state)
{
	struct hgrm_row *rows;
	struct hgrm_footer f;
	char err[128];
	size_t n;

	(void)state;
	assert_int_equal(read_str(small_expected, &rows, &n, &f, err, sizeof(err)), 0);
	assert_int_equal(n, 5);
	assert_float_equal(rows[1].value, 20.007, 1e-12);
	assert_float_equal(rows[3].percentile, 0.875, 1e-12);
	assert_float_equal(rows[3].inv_tail, 8.0, 1e-12);
	assert_true(rows[3].has_inv);
	assert_false(rows[4].has_inv);
	assert_int_equal(f.total_count, 4);
	assert_float_equal(f.stddev, 11.179, 1e-12);
	free(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_exact),	   cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_default_levels), cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_bad_args),	   cmocka_unit_test(test_write_error),
	    cmocka_unit_test(test_rejects),	   cmocka_unit_test(test_rejects_raw),
	    cmocka_unit_test(test_read_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
