// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafkalat/json.h"

/* A writer into memory; the test reads `buf` after fclose(out). */
struct sink {
	FILE *out;
	char *buf;
	size_t len;
	struct json j;
};

static void sink_open(struct sink *s)
{
	s->buf = NULL;
	s->len = 0;
	s->out = open_memstream(&s->buf, &s->len);
	assert_non_null(s->out);
	json_init(&s->j, s->out);
}

/* Closes the stream and compares its whole content. */
static void sink_expect(struct sink *s, const char *want, size_t want_len)
{
	assert_int_equal(fclose(s->out), 0);
	assert_int_equal(s->len, want_len);
	assert_memory_equal(s->buf, want, want_len);
	free(s->buf);
}

#define EXPECT(s, lit) sink_expect((s), (lit), sizeof(lit) - 1)

static void test_nested(void **state)
{
	struct sink s;

	(void)state;
	sink_open(&s);
	json_obj_begin(&s.j);
	json_kstr(&s.j, "name", "kafkalat");
	json_kint(&s.j, "v", 1);
	json_key(&s.j, "a");
	json_arr_begin(&s.j);
	json_int(&s.j, 1);
	json_obj_begin(&s.j);
	json_obj_end(&s.j);
	json_arr_begin(&s.j);
	json_arr_end(&s.j);
	json_null(&s.j);
	json_bool(&s.j, true);
	json_bool(&s.j, false);
	json_arr_begin(&s.j);
	json_str(&s.j, "x");
	json_arr_end(&s.j);
	json_arr_end(&s.j);
	json_key(&s.j, "o");
	json_obj_begin(&s.j);
	json_kuint(&s.j, "u", 7);
	json_kdouble(&s.j, "d", 0.25);
	json_obj_end(&s.j);
	json_obj_end(&s.j);
	assert_false(s.j.error);
	assert_int_equal(s.j.depth, 0);
	EXPECT(&s, "{\"name\":\"kafkalat\",\"v\":1,\"a\":[1,{},[],null,true,false,[\"x\"]],"
		   "\"o\":{\"u\":7,\"d\":0.25}}");
}

static void test_top_level_scalar(void **state)
{
	struct sink s;

	(void)state;
	sink_open(&s);
	json_str(&s.j, NULL); /* a missing string is null */
	assert_false(s.j.error);
	EXPECT(&s, "null");
}

/* Every control character has an escape; the short forms where JSON has one. */
static void test_control_chars(void **state)
{
	static const char *const want[0x20] = {
	    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
	    "\\b",     "\\t",	  "\\n",     "\\u000b", "\\f",	   "\\r",     "\\u000e", "\\u000f",
	    "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
	    "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
	};
	char in, expect[16];
	struct sink s;
	int c;

	(void)state;
	for (c = 0; c < 0x20; c++) {
		in = (char)c;
		sink_open(&s);
		json_strn(&s.j, &in, 1);
		snprintf(expect, sizeof(expect), "\"%s\"", want[c]);
		sink_expect(&s, expect, strlen(expect));
	}
}

static void test_escapes(void **state)
{
	struct sink s;

	(void)state;
	sink_open(&s);
	json_str(&s.j, "a\"b\\c/d\x7f");
	EXPECT(&s, "\"a\\\"b\\\\c/d\x7f\"");

	sink_open(&s);
	json_strn(&s.j, "a\0b", 3); /* embedded NUL is data, not the end */
	EXPECT(&s, "\"a\\u0000b\"");

	sink_open(&s);
	json_obj_begin(&s.j);
	json_kstr(&s.j, "k\"\n", "");
	json_obj_end(&s.j);
	EXPECT(&s, "{\"k\\\"\\n\":\"\"}");
}

static void test_valid_utf8_passes(void **state)
{
	/* 2-, 3- and 4-byte sequences at the edges of their ranges. */
	static const char in[] = "\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 "
				 "\xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf \xc3\xa9";
	struct sink s;
	char want[sizeof(in) + 2];

	(void)state;
	sink_open(&s);
	json_str(&s.j, in);
	snprintf(want, sizeof(want), "\"%s\"", in);
	sink_expect(&s, want, strlen(want));
}

static void expect_str(const char *in, size_t n, const char *want)
{
	struct sink s;

	sink_open(&s);
	json_strn(&s.j, in, n);
	sink_expect(&s, want, strlen(want));
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	expect_str("\x80", 1, "\"\\u0080\"");			    /* lone continuation */
	expect_str("\xff\xfe", 2, "\"\\u00ff\\u00fe\"");	    /* never valid */
	expect_str("\xc0\xaf", 2, "\"\\u00c0\\u00af\"");	    /* overlong '/' */
	expect_str("\xc1\xbf", 2, "\"\\u00c1\\u00bf\"");	    /* overlong */
	expect_str("\xe0\x80\xaf", 3, "\"\\u00e0\\u0080\\u00af\""); /* overlong */
	expect_str("\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\""); /* surrogate */
	expect_str("\xf0\x80\x80\xaf", 4, "\"\\u00f0\\u0080\\u0080\\u00af\"");
	expect_str("\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\""); /* >10FFFF */
	expect_str("\xf5\x80\x80\x80", 4, "\"\\u00f5\\u0080\\u0080\\u0080\"");
	/* Truncated sequences: at the end, and cut by an ASCII byte. */
	expect_str("a\xc3", 2, "\"a\\u00c3\"");
	expect_str("\xe2\x82", 2, "\"\\u00e2\\u0082\"");
	expect_str("\xe2\x82x\xc3\xa9", 5, "\"\\u00e2\\u0082x\xc3\xa9\"");
	expect_str("\xf0\x9f\x98", 3, "\"\\u00f0\\u009f\\u0098\"");
}

static void expect_double(double v, const char *want)
{
	struct sink s;

	sink_open(&s);
	json_double(&s.j, v);
	sink_expect(&s, want, strlen(want));
}

static void test_doubles(void **state)
{
	(void)state;
	expect_double(1.5, "1.5");
	expect_double(2.0, "2");
	expect_double(0.001, "0.001");
	expect_double(0.0, "0");
	expect_double(-0.0, "0");
	expect_double(-0.0004, "0"); /* rounds to zero: no "-0" */
	expect_double(-2.25, "-2.25");
	expect_double(1.23456, "1.235");
	expect_double(0.9999, "1");
	expect_double(100.0, "100");
	expect_double(1e15, "1000000000000000");
	expect_double(NAN, "null");
	expect_double(INFINITY, "null");
	expect_double(-INFINITY, "null");
}

static void test_double_max(void **state)
{
	struct sink s;

	(void)state;
	sink_open(&s);
	json_double(&s.j, -1.7976931348623157e308);
	assert_int_equal(fclose(s.out), 0);
	assert_int_equal(s.len, 310); /* sign + 309 digits, no decimals */
	assert_int_equal(s.buf[0], '-');
	assert_memory_equal(s.buf + 1, "17976931348623157", 17);
	free(s.buf);
}

static void test_int_limits(void **state)
{
	struct sink s;

	(void)state;
	sink_open(&s);
	json_arr_begin(&s.j);
	json_int(&s.j, INT64_MIN);
	json_int(&s.j, INT64_MAX);
	json_uint(&s.j, UINT64_MAX);
	json_uint(&s.j, 0);
	json_int(&s.j, -1);
	json_arr_end(&s.j);
	EXPECT(&s, "[-9223372036854775808,9223372036854775807,18446744073709551615,0,-1]");
}

static void test_max_depth(void **state)
{
	struct sink s;
	int i;

	(void)state;
	sink_open(&s);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		json_arr_begin(&s.j);
	assert_false(s.j.error);
	assert_int_equal(s.j.depth, JSON_MAX_DEPTH);
	for (i = 0; i < JSON_MAX_DEPTH; i++)
		json_arr_end(&s.j);
	assert_false(s.j.error);
	/* One array plus JSON_MAX_DEPTH objects: the last is level 33. */
	json_arr_begin(&s.j);
	for (i = 0; i < JSON_MAX_DEPTH; i++) {
		assert_false(s.j.error);
		json_obj_begin(&s.j);
		json_key(&s.j, "k");
	}
	assert_true(s.j.error);
	assert_int_equal(s.j.depth, JSON_MAX_DEPTH);
	assert_int_equal(fclose(s.out), 0);
	free(s.buf);
}

static void test_misuse(void **state)
{
	struct sink s;

	(void)state;
	sink_open(&s);
	json_obj_end(&s.j); /* nothing open */
	assert_true(s.j.error);
	assert_int_equal(fclose(s.out), 0);
	free(s.buf);

	sink_open(&s);
	json_key(&s.j, "k"); /* key outside an object */
	assert_true(s.j.error);
	assert_int_equal(fclose(s.out), 0);
	free(s.buf);

	sink_open(&s);
	json_obj_begin(&s.j);
	json_key(&s.j, "k");
	json_key(&s.j, "k2"); /* key after key */
	assert_true(s.j.error);
	assert_int_equal(fclose(s.out), 0);
	free(s.buf);

	sink_open(&s);
	json_obj_begin(&s.j);
	json_key(&s.j, "k");
	json_obj_end(&s.j); /* dangling key */
	assert_true(s.j.error);
	assert_int_equal(fclose(s.out), 0);
	free(s.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_top_level_scalar),
	    cmocka_unit_test(test_control_chars),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_valid_utf8_passes),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_doubles),
	    cmocka_unit_test(test_double_max),
	    cmocka_unit_test(test_int_limits),
	    cmocka_unit_test(test_max_depth),
	    cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
