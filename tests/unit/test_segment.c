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

/* partition.metadata as Apache Kafka and the reference broker write it. */
static void test_topic_id(void **state)
{
	static const uint8_t want[16] = {0x2b, 0x17, 0x2d, 0xe8, 0x37, 0x2a, 0xfa, 0xb0,
					 0x40, 0xcf, 0xf0, 0x9d, 0x35, 0xfb, 0x5e, 0xbc};
	static const char *const bad[] = {
	    "",
	    "version: 1\ntopic_id: Kxct6Dcq-rBAz_CdNftevA\n",  /* another version */
	    "version: 0\ntopic_id: Kxct6Dcq-rBAz_CdNftev\n",   /* 21 characters */
	    "version: 0\ntopic_id: Kxct6Dcq-rBAz_CdNftevAA\n", /* 23 */
	    "version: 0\ntopic_id: Kxct6Dcq+rBAz/CdNftevA\n",  /* standard base64 */
	    "version: 0\ntopic_id: Kxct6Dcq-rBAz_CdNftevB\n",  /* bits past 128 set */
	    "version: 0\ntopic_id: Kxct6Dcq-rBAz_CdNftevA\n\n",
	    "version: 0 topic_id: Kxct6Dcq-rBAz_CdNftevA\n",
	};
	const char *good = "version: 0\ntopic_id: Kxct6Dcq-rBAz_CdNftevA\n";
	uint8_t id[16];

	(void)state;
	assert_int_equal(segment_parse_topic_id(good, strlen(good), id), 0);
	assert_memory_equal(id, want, 16);
	/* without the final newline, as well */
	assert_int_equal(segment_parse_topic_id(good, strlen(good) - 1, id), 0);
	assert_memory_equal(id, want, 16);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(segment_parse_topic_id(bad[i], strlen(bad[i]), id), -EINVAL);
	/* lengths are trusted only as far as they go */
	for (size_t n = 0; n < strlen(good) - 1; n++)
		assert_int_equal(segment_parse_topic_id(good, n, id), -EINVAL);
	assert_int_equal(segment_parse_topic_id(NULL, 10, id), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_segments),
	    cmocka_unit_test(test_not_segments),
	    cmocka_unit_test(test_topic_length_limit),
	    cmocka_unit_test(test_topic_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
