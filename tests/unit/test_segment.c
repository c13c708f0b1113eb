// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kafkalat/segment.h"

static void expect_ok(const char *path, const char *topic, int32_t partition, uint64_t base,
		      int kind)
{
	struct segment s;

	assert_int_equal(segment_parse(path, &s), 0);
	assert_string_equal(s.topic, topic);
	assert_int_equal(s.partition, partition);
	assert_int_equal(s.base_offset, base);
	assert_int_equal(s.kind, kind);
}

static void test_segments(void **state)
{
	(void)state;
	expect_ok("/var/kafka/orders-3/00000000000000123456.log", "orders", 3, 123456, SEGMENT_LOG);
	expect_ok("/d/t-0/00000000000000000000.index", "t", 0, 0, SEGMENT_INDEX);
	expect_ok("/d/t-0/00000000000000000000.timeindex", "t", 0, 0, SEGMENT_TIMEINDEX);
	expect_ok("/d/t-0/00000000000000000000.snapshot", "t", 0, 0, SEGMENT_OTHER);
	/* dashes and dots in topic names: the partition follows the last dash */
	expect_ok("/d/my-topic.v2-17/00000000000000000042.log", "my-topic.v2", 17, 42, SEGMENT_LOG);
	expect_ok("/d/__consumer_offsets-49/00000000000000000000.log", "__consumer_offsets", 49, 0,
		  SEGMENT_LOG);
	expect_ok("/d/t-2147483647/18446744073709551615.log", "t", 2147483647, UINT64_MAX,
		  SEGMENT_LOG);
}

static void test_not_segments(void **state)
{
	static const char *const bad[] = {
	    "",
	    "relative/t-0/00000000000000000000.log",
	    "/00000000000000000000.log",
	    "/d/t/00000000000000000000.log",		/* no partition */
	    "/d/t-/00000000000000000000.log",		/* empty partition */
	    "/d/-3/00000000000000000000.log",		/* empty topic */
	    "/d/t-x/00000000000000000000.log",		/* not a number */
	    "/d/t-2147483648/00000000000000000000.log", /* partition > int32 */
	    "/d/t-0/0000000000000000000.log",		/* 19 digits */
	    "/d/t-0/000000000000000000000.log",		/* 21 digits */
	    "/d/t-0/18446744073709551616.log",		/* offset > uint64 */
	    "/d/t-0/0000000000000000000a.log",
	    "/d/t-0/00000000000000000000",	 /* no extension */
	    "/d/t p-0/00000000000000000000.log", /* illegal topic character */
	    "/var/log/syslog",
	    "/d/t-0/",
	};
	struct segment s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (segment_parse(bad[i], &s) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(segment_parse(NULL, &s), -EINVAL);
}

static void test_topic_length_limit(void **state)
{
	char path[512], topic[SEGMENT_TOPIC_MAX + 2];
	struct segment s;

	(void)state;
	memset(topic, 'a', sizeof(topic) - 1);
	topic[SEGMENT_TOPIC_MAX] = '\0';
	snprintf(path, sizeof(path), "/d/%s-1/00000000000000000000.log", topic);
	assert_int_equal(segment_parse(path, &s), 0);
	assert_int_equal(strlen(s.topic), SEGMENT_TOPIC_MAX);
	topic[SEGMENT_TOPIC_MAX] = 'a';
	topic[SEGMENT_TOPIC_MAX + 1] = '\0';
	snprintf(path, sizeof(path), "/d/%s-1/00000000000000000000.log", topic);
	assert_int_equal(segment_parse(path, &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_segments),
	    cmocka_unit_test(test_not_segments),
	    cmocka_unit_test(test_topic_length_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
