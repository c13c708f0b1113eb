// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kafkalat compare's statistics on synthetic recordings whose truth is
 * known: the same distribution on both sides, or one scaled by a factor.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafkalat/compare.h"

#include "rec_fixture.h"

/* What a synthetic side looks like. */
struct shape {
	uint32_t intervals, requests; /* per interval */
	double median_ns;	      /* of the body */
	double scale;		      /* every latency multiplied by it */
	double tail_share;	      /* requests sent to the slow tail */
	double rate_scale;	      /* produce requests counted per interval */
	double journal_pct;	      /* the >= p99 band's journal share */
	const char *kernel;	      /* meta "kernel" */
};

static const struct shape base_shape = {
    .intervals = 30,
    .requests = 2000,
    .median_ns = 2e6,
    .scale = 1.0,
    .tail_share = 0.02,
    .rate_scale = 1.0,
    .journal_pct = 30.0,
    .kernel = "6.1.0",
};

static double unif(struct cmp_rng *g)
{
	return (double)(cmp_rng_next(g) >> 11) * 0x1.0p-53;
}

static double gauss(struct cmp_rng *g)
{
	double u = unif(g), v = unif(g);

	return sqrt(-2.0 * log(u > 0 ? u : 1e-300)) * cos(2.0 * M_PI * v);
}

/* A request: a log-normal body, 2% of them in a tail 3-6x the median. */
static uint64_t one_latency(struct cmp_rng *g, const struct shape *sh, double level)
{
	double x = sh->median_ns * exp(0.25 * gauss(g));

	if (unif(g) < sh->tail_share)
		x = sh->median_ns * (3.0 + 3.0 * unif(g));
	return (uint64_t)(x * level * sh->scale);
}

/* One interval: latency and the append phase (half of it), its band. */
static void fill_interval(struct rec_interval *iv, struct cmp_rng *g, const struct shape *sh,
			  uint32_t i, double level, struct hist *lat, struct hist *app)
{
	hist_init(lat);
	hist_init(app);
	for (uint32_t k = 0; k < sh->requests; k++) {
		uint64_t v = one_latency(g, sh, level);

		hist_record(lat, v);
		hist_record(app, v / 2);
	}
	iv->t_start_ns = (int64_t)i * 1000000000;
	iv->t_end_ns = iv->t_start_ns + 1000000000;
	iv->produce = (uint64_t)(sh->requests * sh->rate_scale);
	iv->m[REC_M_LATENCY] = hist_sparse_new(lat);
	iv->m[REC_M_PHASE + ATTRIB_APPEND] = hist_sparse_new(app);
	assert_non_null(iv->m[REC_M_LATENCY]);
	iv->bands[BAND_GE_P99].requests = sh->requests / 100;
	iv->bands[BAND_GE_P99].cause_pct[CAUSE_JOURNAL] = sh->journal_pct + 5.0 * gauss(g);
}

/* A recording of sh: its intervals' levels an AR(1) process (phi 0.5), as
 * a real broker's are autocorrelated; m[] the dense merge of them. */
static struct rec *make_rec(const struct shape *sh, uint64_t seed)
{
	struct rec *r = calloc(1, sizeof(*r));
	struct hist *lat = malloc(sizeof(*lat)), *app = malloc(sizeof(*app));
	struct cmp_rng g;
	double ar = 0;

	assert_true(r && lat && app);
	cmp_rng_seed(&g, seed);
	r->niv = sh->intervals;
	r->iv = calloc(sh->intervals ? sh->intervals : 1, sizeof(*r->iv));
	r->m[REC_M_LATENCY] = malloc(sizeof(struct hist));
	r->m[REC_M_PHASE + ATTRIB_APPEND] = malloc(sizeof(struct hist));
	hist_init(r->m[REC_M_LATENCY]);
	hist_init(r->m[REC_M_PHASE + ATTRIB_APPEND]);
	for (uint32_t i = 0; i < sh->intervals; i++) {
		ar = 0.5 * ar + 0.03 * gauss(&g);
		fill_interval(&r->iv[i], &g, sh, i, exp(ar), lat, app);
		hist_merge(r->m[REC_M_LATENCY], lat);
		hist_merge(r->m[REC_M_PHASE + ATTRIB_APPEND], app);
	}
	r->has_tail = true;
	r->tail.bands[BAND_GE_P99].requests = sh->requests * sh->intervals / 100;
	r->tail.bands[BAND_GE_P99].cause_pct[CAUSE_JOURNAL] = sh->journal_pct;
	r->nfiles = 1;
	r->files = calloc(1, sizeof(*r->files));
	r->files[0].path = "synthetic";
	r->files[0].nmeta = 1;
	r->files[0].meta = calloc(1, sizeof(struct rec_kv));
	r->files[0].meta[0] = (struct rec_kv){.key = "kernel", .value = (char *)sh->kernel};
	free(lat);
	free(app);
	return r;
}

static void free_rec(struct rec *r)
{
	for (uint32_t i = 0; i < r->niv; i++)
		for (unsigned int m = 0; m < REC_METRICS; m++)
			hist_sparse_free(r->iv[i].m[m]);
	for (unsigned int m = 0; m < REC_METRICS; m++)
		free(r->m[m]);
	free(r->files[0].meta);
	free(r->files);
	free(r->iv);
	free(r);
}

/* n recordings a side of the two shapes, compared. */
struct pair {
	struct rec *rec[2][8];
	const struct rec *ptr[2][8];
	struct cmp_side side[2];
	struct cmp_result res;
};

static int compare_shapes(struct pair *p, const struct shape *a, const struct shape *b,
			  uint32_t runs, uint64_t seed, const struct cmp_opts *o)
{
	char err[256];

	for (int k = 0; k < 2; k++) {
		for (uint32_t i = 0; i < runs; i++) {
			p->rec[k][i] = make_rec(k ? b : a, seed * 1000 + (uint64_t)k * 100 + i);
			p->ptr[k][i] = p->rec[k][i];
		}
		p->side[k] = (struct cmp_side){.runs = p->ptr[k], .nruns = runs};
	}
	assert_int_equal(cmp_run(p->side, o, &p->res, err, sizeof(err)), 0);
	return (int)p->res.exit_code;
}

static void pair_free(struct pair *p)
{
	for (int k = 0; k < 2; k++)
		for (uint32_t i = 0; i < p->side[k].nruns; i++)
			free_rec(p->rec[k][i]);
	cmp_result_free(&p->res);
}

static const struct cmp_row *row(const struct cmp_result *r, const char *name)
{
	for (uint32_t i = 0; i < r->nrows; i++)
		if (!strcmp(r->rows[i].name, name))
			return &r->rows[i];
	fail_msg("no row %s", name);
	return NULL;
}

static int compare1(struct pair *p, const struct shape *a, const struct shape *b, uint64_t seed)
{
	struct cmp_opts o;

	cmp_opts_default(&o);
	return compare_shapes(p, a, b, 1, seed, &o);
}

static void test_identical(void **state)
{
	struct pair p = {0};

	(void)state;
	assert_int_equal(compare1(&p, &base_shape, &base_shape, 1), CMP_PASS);
	assert_false(p.res.by_run);
	assert_int_equal(p.res.n[0], 30);
	assert_int_equal(p.res.block[0], 4); /* ceil(30^(1/3)) */
	assert_int_equal(row(&p.res, "latency.p99")->verdict, CMP_V_SAME);
	assert_non_null(strstr(p.res.verdict, "pass"));
	pair_free(&p);
}

static void test_regression(void **state)
{
	struct shape worse = base_shape;
	struct pair p = {0};

	(void)state;
	worse.scale = 1.5;
	worse.journal_pct = 45.0;
	assert_int_equal(compare1(&p, &base_shape, &worse, 2), CMP_REGRESSION);
	assert_int_equal(row(&p.res, "latency.p99")->verdict, CMP_V_REGRESSED);
	assert_true(row(&p.res, "latency.p99")->lo > 30.0);
	assert_non_null(strstr(p.res.verdict, "REGRESSION: latency.p99 +"));
	assert_non_null(strstr(p.res.verdict, "phase append"));
	assert_non_null(strstr(p.res.verdict, "cause journal"));
	/* ungated: informational only */
	assert_int_equal(row(&p.res, "latency.p50")->verdict, CMP_V_UP);
	pair_free(&p);
}

static void test_below_floor(void **state)
{
	struct shape small = base_shape, worse;
	struct pair p = {0};

	(void)state;
	small.median_ns = 30e3; /* p99 ~150 us: +50% is ~75 us, under 200 us */
	worse = small;
	worse.scale = 1.5;
	assert_int_equal(compare1(&p, &small, &worse, 3), CMP_PASS);
	assert_int_equal(row(&p.res, "latency.p99")->verdict, CMP_V_UP);
	pair_free(&p);
}

static void test_too_few_samples(void **state)
{
	struct shape few = base_shape;
	struct pair p = {0};

	(void)state;
	few.intervals = 3;
	assert_int_equal(compare1(&p, &few, &few, 4), CMP_INCONCLUSIVE);
	assert_non_null(strstr(p.res.verdict, "only 3 intervals on the base side"));
	pair_free(&p);
}

static void test_too_few_tail(void **state)
{
	struct shape few = base_shape;
	struct pair p = {0};

	(void)state;
	few.requests = 100; /* 3000 requests: p99.9 has ~3 above it */
	assert_int_equal(compare1(&p, &few, &few, 5), CMP_INCONCLUSIVE);
	assert_int_equal(row(&p.res, "latency.p99.9")->verdict, CMP_V_INCONCLUSIVE);
	assert_non_null(strstr(p.res.verdict, "latency.p99.9"));
	pair_free(&p);
}

static void test_rates_apart(void **state)
{
	struct shape busier = base_shape;
	struct pair p = {0};

	(void)state;
	busier.rate_scale = 1.2;
	assert_int_equal(compare1(&p, &base_shape, &busier, 6), CMP_INCONCLUSIVE);
	assert_non_null(strstr(p.res.verdict, "rates 20.0% apart"));
	pair_free(&p);
}

static void test_setups_differ(void **state)
{
	struct shape other = base_shape;
	struct pair p = {0};

	(void)state;
	other.kernel = "6.8.0";
	assert_int_equal(compare1(&p, &base_shape, &other, 7), CMP_INCONCLUSIVE);
	assert_non_null(strstr(p.res.verdict, "different setups: kernel"));
	pair_free(&p);
}

/* acks and partitions count when both files have them; setup.* always. */
static int compare_meta(struct rec_kv *a, uint32_t na, struct rec_kv *b, uint32_t nb)
{
	struct pair p = {0};
	struct rec_kv *keep[2];
	struct cmp_opts o;
	char err[256];
	int rc;

	cmp_opts_default(&o);
	compare1(&p, &base_shape, &base_shape, 12);
	keep[0] = p.rec[0][0]->files[0].meta;
	keep[1] = p.rec[1][0]->files[0].meta;
	p.rec[0][0]->files[0] = (struct rec_file){.path = "a", .meta = a, .nmeta = na};
	p.rec[1][0]->files[0] = (struct rec_file){.path = "b", .meta = b, .nmeta = nb};
	cmp_result_free(&p.res);
	assert_int_equal(cmp_run(p.side, &o, &p.res, err, sizeof(err)), 0);
	rc = (int)p.res.exit_code;
	p.rec[0][0]->files[0].meta = keep[0];
	p.rec[1][0]->files[0].meta = keep[1];
	pair_free(&p);
	return rc;
}

static void test_setup_keys(void **state)
{
	struct rec_kv acks1[] = {{"acks", "1"}, {"label.run", "a"}};
	struct rec_kv acks_all[] = {{"acks", "all"}, {"label.run", "b"}};
	struct rec_kv none[] = {{"label.run", "c"}};
	struct rec_kv setup[] = {{"setup.disk", "nvme"}};

	(void)state;
	assert_int_equal(compare_meta(acks1, 2, acks1, 2), CMP_PASS); /* labels may differ */
	assert_int_equal(compare_meta(acks1, 2, acks_all, 2), CMP_INCONCLUSIVE);
	assert_int_equal(compare_meta(acks1, 2, none, 1), CMP_PASS); /* acks on one side only */
	assert_int_equal(compare_meta(setup, 1, none, 1), CMP_INCONCLUSIVE); /* setup.* strict */
	assert_int_equal(compare_meta(none, 1, setup, 1), CMP_INCONCLUSIVE);
	struct rec_kv java[] = {{"profile", "java"}};
	struct rec_kv rdk[] = {{"profile", "librdkafka"}};
	assert_int_equal(compare_meta(java, 1, rdk, 1), CMP_INCONCLUSIVE);
	assert_int_equal(compare_meta(java, 1, java, 1), CMP_PASS);
	assert_int_equal(compare_meta(java, 1, none, 1), CMP_PASS); /* one side only */
}

static void test_improved(void **state)
{
	struct shape better = base_shape;
	struct pair p = {0};

	(void)state;
	better.scale = 0.5;
	assert_int_equal(compare1(&p, &base_shape, &better, 8), CMP_PASS);
	assert_int_equal(row(&p.res, "latency.p99")->verdict, CMP_V_IMPROVED);
	assert_non_null(strstr(p.res.verdict, "improved: latency.p99 -"));
	pair_free(&p);
}

static void test_runs_as_samples(void **state)
{
	struct shape run = base_shape, worse;
	struct cmp_opts o;
	struct pair p = {0};

	(void)state;
	cmp_opts_default(&o);
	run.intervals = 5;
	worse = run;
	worse.scale = 1.5;
	assert_int_equal(compare_shapes(&p, &run, &worse, 5, 9, &o), CMP_REGRESSION);
	assert_true(p.res.by_run);
	assert_int_equal(p.res.n[1], 5);
	assert_int_equal(p.res.block[1], 1);
	pair_free(&p);
}

static void test_gate_option(void **state)
{
	struct shape worse = base_shape;
	struct cmp_gate g[2];
	struct cmp_opts o;
	struct pair p = {0};
	char err[160];

	(void)state;
	assert_int_equal(cmp_gate_parse("cause.journal=+10pt", &g[0], err, sizeof(err)), 0);
	assert_true(g[0].threshold == 10.0);
	assert_int_equal(cmp_gate_parse("phase.append.p99.9=25%", &g[1], err, sizeof(err)), 0);
	assert_int_equal(cmp_gate_parse("p99.9=+15%", &g[1], err, sizeof(err)), 0);
	assert_string_equal(g[1].metric, "latency.p99.9");
	assert_int_not_equal(cmp_gate_parse("latency.p98=+10%", &g[1], err, sizeof(err)), 0);
	assert_non_null(strstr(err, "unknown metric"));
	assert_int_not_equal(cmp_gate_parse("cause.journal=+10%", &g[1], err, sizeof(err)), 0);
	assert_int_not_equal(cmp_gate_parse("latency.p99=-5%", &g[1], err, sizeof(err)), 0);
	/* only the queued share gated: +15 points regress, latency does not count */
	cmp_opts_default(&o);
	o.gates = g;
	o.ngates = 1;
	worse.journal_pct = 45.0;
	assert_int_equal(compare_shapes(&p, &base_shape, &worse, 1, 10, &o), CMP_REGRESSION);
	assert_int_equal(row(&p.res, "cause.journal")->verdict, CMP_V_REGRESSED);
	assert_false(row(&p.res, "latency.p99")->gated);
	pair_free(&p);
}

static char *print_all(const struct cmp_result *r, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	cmp_print_text(f, r);
	cmp_print_json(f, r);
	cmp_print_md(f, r);
	fclose(f);
	return buf;
}

static void test_deterministic(void **state)
{
	struct shape worse = base_shape;
	struct pair p = {0}, q = {0};
	size_t la, lb;
	char *a, *b;

	(void)state;
	worse.scale = 1.1;
	compare1(&p, &base_shape, &worse, 11);
	compare1(&q, &base_shape, &worse, 11);
	a = print_all(&p.res, &la);
	b = print_all(&q.res, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	assert_non_null(strstr(a, "seed 1"));
	assert_non_null(strstr(a, "\"schema\":\"kafkalat-compare/1\""));
	printf("%s", a);
	free(a);
	free(b);
	pair_free(&p);
	pair_free(&q);
}

static void test_blocks(void **state)
{
	struct cmp_rng g;
	uint32_t w[20], sum = 0, runs = 0;

	(void)state;
	assert_int_equal(cmp_block_len(0), 1);
	assert_int_equal(cmp_block_len(1), 1);
	assert_int_equal(cmp_block_len(8), 2);
	assert_int_equal(cmp_block_len(9), 3);
	assert_int_equal(cmp_block_len(27), 3);
	assert_int_equal(cmp_block_len(28), 4);
	assert_int_equal(cmp_blocks(20, 3), 7);
	assert_int_equal(cmp_blocks(21, 3), 7);
	cmp_rng_seed(&g, 1);
	cmp_resample(&g, 20, 3, NULL, 0, w);
	for (int i = 0; i < 20; i++) {
		sum += w[i];
		runs += w[i] && (i == 0 || !w[i - 1]);
	}
	assert_int_equal(sum, 20);
	/* 7 blocks of consecutive samples: at most 7 separate stretches */
	assert_true(runs >= 1 && runs <= 7);
	/* blocks kept within [10, 13): only starts 10 and 11 */
	cmp_resample(&g, 20, 3, (const uint32_t[]){10, 11}, 2, w);
	for (int i = 0; i < 20; i++)
		assert_true(i >= 10 && i < 14 ? 1 : w[i] == 0);
	assert_true(w[11] > 0 && w[12] > 0);
	for (uint64_t n = 1; n < 50; n++)
		assert_true(cmp_rng_below(&g, n) < n);
}

static void test_pooled_equals_dense(void **state)
{
	struct hist *dense = malloc(sizeof(*dense)), *h = malloc(sizeof(*h));
	struct hist_sparse *s[6];
	static const double qs[] = {0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1};
	uint32_t w[6] = {1, 0, 3, 1, 2, 5};
	struct cmp_cum *t;
	struct cmp_rng g;

	(void)state;
	cmp_rng_seed(&g, 42);
	hist_init(dense);
	for (int i = 0; i < 6; i++) {
		hist_init(h);
		for (int k = 0; k < 500 + 300 * i; k++)
			hist_record(h, (uint64_t)exp(unif(&g) * 20.0 + (double)i));
		s[i] = hist_sparse_new(h);
		assert_non_null(s[i]);
		for (uint32_t t = 0; t < w[i]; t++)
			hist_sparse_add_to(s[i], dense);
	}
	assert_int_equal(cmp_cum_new(&t, (const struct hist_sparse *const *)s, 6), 0);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		uint64_t want = hist_quantile(dense, qs[k]);

		assert_int_equal(
		    cmp_pooled_quantile((const struct hist_sparse *const *)s, w, 6, qs[k]), want);
		assert_int_equal(cmp_cum_quantile(t, w, qs[k]), want);
	}
	cmp_cum_free(t);
	for (int i = 0; i < 6; i++)
		hist_sparse_free(s[i]);
	free(dense);
	free(h);
}

/* 200 A/A pairs from one distribution: how often the default gates fire. */
static void test_aa_false_alarms(void **state)
{
	uint32_t regress = 0, moved = 0, pairs = 200;
	struct shape aa = base_shape;

	(void)state;
	aa.intervals = 20;
	aa.requests = 1000;
	for (uint32_t i = 0; i < pairs; i++) {
		struct pair p = {0};

		regress += compare1(&p, &aa, &aa, 100 + i) == CMP_REGRESSION;
		moved += row(&p.res, "latency.p99")->verdict != CMP_V_SAME;
		pair_free(&p);
	}
	/* the second figure is the interval's own calibration: near 5% */
	printf("A/A: %u regression verdicts in %u pairs (%.1f%%); latency.p99's interval "
	       "missed 0 in %u (%.1f%%)\n",
	       regress, pairs, 100.0 * regress / pairs, moved, 100.0 * moved / pairs);
	assert_true(regress * 50 <= pairs); /* <= 2% */
}

/* Recordings written by the real writer and read by rec_load. */
static int compare_fixtures(const struct rec_fixture_opts *a, const struct rec_fixture_opts *b,
			    struct cmp_result *res)
{
	struct rec r[2];
	const struct rec *p[2] = {&r[0], &r[1]};
	struct cmp_side side[2] = {{&p[0], 1}, {&p[1], 1}};
	struct cmp_opts o;
	char err[256];

	assert_int_equal(rec_fixture_load(&r[0], a), 0);
	assert_int_equal(rec_fixture_load(&r[1], b), 0);
	cmp_opts_default(&o);
	assert_int_equal(cmp_run(side, &o, res, err, sizeof(err)), 0);
	rec_free(&r[0]);
	rec_free(&r[1]);
	return (int)res->exit_code;
}

static void test_fixture_recordings(void **state)
{
	struct rec_fixture_opts a, b;
	struct cmp_result res;

	(void)state;
	rec_fixture_defaults(&a);
	a.intervals = 12;
	b = a;
	b.seed = 2;
	assert_int_equal(compare_fixtures(&a, &b, &res), CMP_PASS);
	assert_int_equal(row(&res, "latency.p99")->verdict, CMP_V_SAME);
	cmp_result_free(&res);
	b.scale = 1.5;
	assert_int_equal(compare_fixtures(&a, &b, &res), CMP_REGRESSION);
	assert_non_null(strstr(res.verdict, "REGRESSION: latency.p99 +"));
	assert_non_null(strstr(res.verdict, "phase append"));
	cmp_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_identical),	    cmocka_unit_test(test_regression),
	    cmocka_unit_test(test_below_floor),	    cmocka_unit_test(test_too_few_samples),
	    cmocka_unit_test(test_too_few_tail),    cmocka_unit_test(test_rates_apart),
	    cmocka_unit_test(test_setups_differ),   cmocka_unit_test(test_setup_keys),
	    cmocka_unit_test(test_improved),	    cmocka_unit_test(test_runs_as_samples),
	    cmocka_unit_test(test_gate_option),	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_blocks),	    cmocka_unit_test(test_pooled_equals_dense),
	    cmocka_unit_test(test_aa_false_alarms), cmocka_unit_test(test_fixture_recordings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
