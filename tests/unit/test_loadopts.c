// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests for `kafkalat load` option parsing and statistics extraction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafkalat/loadopts.h"

#define MAX_ARGS 64

/* Parses a NULL-terminated argument list (argv[0] "load" is added); getopt
 * permutes argv, so it gets a writable copy. */
static enum loadopts_status parse_list(struct load_opts *o, char *err, size_t errlen,
				       const char *first, va_list ap)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = "load";
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc <= MAX_ARGS);
		argv[argc++] = (char *)a;
	}
	argv[argc] = NULL;
	return loadopts_parse(o, argc, argv, err, errlen);
}

static enum loadopts_status parse(struct load_opts *o, char *err, size_t errlen, const char *first,
				  ...)
{
	va_list ap;

	va_start(ap, first);
	enum loadopts_status s = parse_list(o, err, errlen, first, ap);
	va_end(ap);
	return s;
}

/* Expects a usage error whose message contains `needle`. */
static void expect_error(const char *needle, const char *first, ...)
{
	struct load_opts o;
	char err[256];
	va_list ap;

	va_start(ap, first);
	enum loadopts_status s = parse_list(&o, err, sizeof(err), first, ap);
	va_end(ap);
	assert_int_equal(s, LOADOPTS_ERROR);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
	assert_null(strchr(err, '\n'));
}

static void test_defaults(void **state)
{
	struct load_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "-b", "h:1", "-t", "t", NULL), LOADOPTS_OK);
	assert_string_equal(o.bootstrap, "h:1");
	assert_string_equal(o.topic, "t");
	assert_int_equal(o.partitions, 0);
	assert_int_equal(o.rate, 0);
	assert_int_equal(o.size, 100);
	assert_null(o.acks); /* the profile's */
	assert_int_equal(o.duration_ns, 10000000000ull);
	assert_int_equal(o.count, 0);
	assert_false(o.json);
	assert_false(o.quiet);
	assert_null(o.messages_path);
	assert_int_equal(o.nprops, 0);
	assert_int_equal(o.producers, 1);
	assert_int_equal(o.profile, LOAD_PROFILE_LIBRDKAFKA);
	assert_int_equal(o.consumers, 0);
	assert_int_equal(o.consumer_mode, LOAD_CONSUME_ASSIGN);
	assert_int_equal(o.fetch_wait_ms, 500);
	assert_int_equal(o.consume_timeout_ns, 10000000000ull);
}

static void test_all_options(void **state)
{
	struct load_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--bootstrap", "a:1,b:2", "--topic", "x",
			       "--partitions", "8", "--rate", "2000", "--size", "0", "--acks",
			       "all", "-d", "2.5", "-X", "linger.ms=0", "-X", "max.in.flight=10",
			       "-X", "client.id=a=b", "--json", "-q", "--messages", "/tmp/m.jsonl",
			       "--producers", "8", "--profile", "java", "--consumers", "3",
			       "--consumer-mode", "group", "--fetch-wait-ms", "0",
			       "--consume-timeout", "0.25", NULL),
			 LOADOPTS_OK);
	assert_int_equal(o.profile, LOAD_PROFILE_JAVA);
	assert_int_equal(o.consumers, 3);
	assert_int_equal(o.consumer_mode, LOAD_CONSUME_GROUP);
	assert_int_equal(o.fetch_wait_ms, 0);
	assert_int_equal(o.consume_timeout_ns, 250000000ull);
	assert_string_equal(o.bootstrap, "a:1,b:2");
	assert_int_equal(o.partitions, 8);
	assert_int_equal(o.rate, 2000);
	assert_int_equal(o.size, 0);
	assert_string_equal(o.acks, "all");
	assert_int_equal(o.duration_ns, 2500000000ull);
	assert_true(o.json);
	assert_true(o.quiet);
	assert_string_equal(o.messages_path, "/tmp/m.jsonl");
	assert_int_equal(o.producers, 8);
	assert_int_equal(o.nprops, 3);
	assert_int_equal(o.props[0].key_len, strlen("linger.ms"));
	assert_memory_equal(o.props[0].key, "linger.ms", o.props[0].key_len);
	assert_string_equal(o.props[0].value, "0");
	/* only the first '=' separates: values may contain '=' */
	assert_int_equal(o.props[2].key_len, strlen("client.id"));
	assert_string_equal(o.props[2].value, "a=b");
}

static void test_count_and_acks(void **state)
{
	struct load_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "-b", "h", "-t", "t", "--count",
			       "18446744073709551615", "--acks", "-1", NULL),
			 LOADOPTS_OK);
	assert_int_equal(o.count, UINT64_MAX);
	assert_string_equal(o.acks, "all");
	assert_int_equal(parse(&o, err, sizeof(err), "-b", "h", "-t", "t", "--acks", "0", NULL),
			 LOADOPTS_OK);
	assert_string_equal(o.acks, "0");
	assert_int_equal(
	    parse(&o, err, sizeof(err), "-b", "h", "-t", "t", "--producers", "256", NULL),
	    LOADOPTS_OK);
	assert_int_equal(o.producers, LOAD_MAX_PRODUCERS);
	assert_int_equal(
	    parse(&o, err, sizeof(err), "-b", "h", "-t", "t", "--producers", "1", NULL),
	    LOADOPTS_OK);
	assert_int_equal(o.producers, 1);
}

static void test_consumer_bounds(void **state)
{
	struct load_opts o;
	char err[256];

	(void)state;
	assert_int_equal(
	    parse(&o, err, sizeof(err), "-b", "h", "-t", "t", "--consumers", "256", NULL),
	    LOADOPTS_OK);
	assert_int_equal(o.consumers, LOAD_MAX_CONSUMERS);
	assert_int_equal(parse(&o, err, sizeof(err), "-b", "h", "-t", "t", "--consumers", "0",
			       "--profile", "librdkafka", NULL),
			 LOADOPTS_OK);
	assert_int_equal(o.consumers, 0);
	assert_int_equal(o.profile, LOAD_PROFILE_LIBRDKAFKA);
	assert_int_equal(parse(&o, err, sizeof(err), "-b", "h", "-t", "t", "--consumers", "1",
			       "--consumer-mode", "group", "--consumer-mode", "assign",
			       "--fetch-wait-ms", "300000", "--consume-timeout", "31536000", NULL),
			 LOADOPTS_OK);
	assert_int_equal(o.consumer_mode, LOAD_CONSUME_ASSIGN);
	assert_int_equal(o.fetch_wait_ms, LOAD_MAX_FETCH_WAIT_MS);
	assert_int_equal(o.consume_timeout_ns, 31536000ull * 1000000000ull);
}

/* The Java profile as Kafka 3.9 documents the producer's defaults. */
static void test_profiles(void **state)
{
	size_t n;
	const struct load_conf_pair *p = loadprofile_config(LOAD_PROFILE_JAVA, &n);
	static const struct load_conf_pair want[] = {
	    {"acks", "all"},
	    {"enable.idempotence", "true"},
	    {"linger.ms", "0"},
	    {"batch.size", "16384"},
	    {"compression.codec", "none"},
	    {"max.in.flight.requests.per.connection", "5"},
	    {"request.timeout.ms", "30000"},
	    {"delivery.timeout.ms", "120000"},
	    {"retries", "2147483647"},
	};

	(void)state;
	assert_string_equal(loadprofile_name(LOAD_PROFILE_JAVA), "java");
	assert_string_equal(loadprofile_name(LOAD_PROFILE_LIBRDKAFKA), "librdkafka");
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		size_t i = 0;
		while (i < n && strcmp(p[i].key, want[w].key) != 0)
			i++;
		if (i == n)
			fail_msg("java profile lacks %s", want[w].key);
		assert_string_equal(p[i].value, want[w].value);
	}
	p = loadprofile_config(LOAD_PROFILE_LIBRDKAFKA, &n);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].key, "acks");
	assert_string_equal(p[0].value, "1");
}

static void test_help(void **state)
{
	struct load_opts o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--help", NULL), LOADOPTS_HELP);
	assert_int_equal(parse(&o, err, sizeof(err), "-b", "h", "-h", NULL), LOADOPTS_HELP);
}

static void test_usage_text(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	loadopts_usage(f);
	fclose(f);
	assert_non_null(strstr(buf, "Usage: kafkalat load"));
	assert_non_null(strstr(buf, "Examples:"));
	assert_non_null(strstr(buf, "--acks 0|1|all"));
	assert_non_null(strstr(buf, "--messages FILE"));
	assert_non_null(strstr(buf, "t_produce_ns"));
	assert_non_null(strstr(buf, "--producers N"));
	assert_non_null(strstr(buf, "--consumers N"));
	assert_non_null(strstr(buf, "--consumer-mode assign|group"));
	assert_non_null(strstr(buf, "--fetch-wait-ms MS"));
	assert_non_null(strstr(buf, "--consume-timeout SECONDS"));
	assert_non_null(strstr(buf, "--profile librdkafka|java"));
	assert_non_null(strstr(buf, "Kafka 3.9"));
	free(buf);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("missing -b", "-t", "t", NULL);
	expect_error("missing -t", "-b", "h", NULL);
	expect_error("missing -b", "-b", "", "-t", "t", NULL);
	expect_error("--rate", "-b", "h", "-t", "t", "--rate", "abc", NULL);
	expect_error("--rate", "-b", "h", "-t", "t", "--rate", "-1", NULL);
	expect_error("--rate", "-b", "h", "-t", "t", "--rate", " 5", NULL);
	expect_error("--rate", "-b", "h", "-t", "t", "--rate", "5x", NULL);
	expect_error("--rate", "-b", "h", "-t", "t", "--rate", "1000000001", NULL);
	expect_error("--size", "-b", "h", "-t", "t", "--size", "1e3", NULL);
	expect_error("--partitions", "-b", "h", "-t", "t", "--partitions", "-2", NULL);
	expect_error("--count", "-b", "h", "-t", "t", "--count", "0", NULL);
	expect_error("--count", "-b", "h", "-t", "t", "--count", "18446744073709551616", NULL);
	expect_error("--acks", "-b", "h", "-t", "t", "--acks", "2", NULL);
	expect_error("-d", "-b", "h", "-t", "t", "-d", "0", NULL);
	expect_error("-d", "-b", "h", "-t", "t", "-d", "nan", NULL);
	expect_error("-d", "-b", "h", "-t", "t", "-d", "inf", NULL);
	expect_error("-d", "-b", "h", "-t", "t", "-d", "-3", NULL);
	expect_error("exclude", "-b", "h", "-t", "t", "-d", "3", "--count", "5", NULL);
	expect_error("KEY=VALUE", "-b", "h", "-t", "t", "-X", "linger.ms", NULL);
	expect_error("KEY=VALUE", "-b", "h", "-t", "t", "-X", "=1", NULL);
	expect_error("unknown option '--bogus'", "-b", "h", "-t", "t", "--bogus", NULL);
	expect_error("unknown option '-Z'", "-b", "h", "-t", "t", "-Z", NULL);
	expect_error("needs a value", "-b", "h", "-t", "t", "--size", NULL);
	expect_error("needs a value", "-b", NULL);
	expect_error("--messages", "-b", "h", "-t", "t", "--messages", "", NULL);
	expect_error("needs a value", "-b", "h", "-t", "t", "--messages", NULL);
	expect_error("--producers", "-b", "h", "-t", "t", "--producers", "0", NULL);
	expect_error("--producers", "-b", "h", "-t", "t", "--producers", "257", NULL);
	expect_error("--producers", "-b", "h", "-t", "t", "--producers", "-1", NULL);
	expect_error("--producers", "-b", "h", "-t", "t", "--producers", "8x", NULL);
	expect_error("--producers", "-b", "h", "-t", "t", "--producers", "", NULL);
	expect_error("needs a value", "-b", "h", "-t", "t", "--producers", NULL);
	expect_error("unexpected argument 'extra'", "-b", "h", "-t", "t", "extra", NULL);
	expect_error("--consumers", "-b", "h", "-t", "t", "--consumers", "257", NULL);
	expect_error("--consumers", "-b", "h", "-t", "t", "--consumers", "-1", NULL);
	expect_error("--consumers", "-b", "h", "-t", "t", "--consumers", "3x", NULL);
	expect_error("--consumers", "-b", "h", "-t", "t", "--consumers", "", NULL);
	expect_error("needs a value", "-b", "h", "-t", "t", "--consumers", NULL);
	expect_error("--consumer-mode: expected assign or group", "-b", "h", "-t", "t",
		     "--consumers", "1", "--consumer-mode", "share", NULL);
	expect_error("--consumer-mode: expected assign or group", "-b", "h", "-t", "t",
		     "--consumers", "1", "--consumer-mode", "", NULL);
	expect_error("--fetch-wait-ms", "-b", "h", "-t", "t", "--consumers", "1", "--fetch-wait-ms",
		     "300001", NULL);
	expect_error("--fetch-wait-ms", "-b", "h", "-t", "t", "--consumers", "1", "--fetch-wait-ms",
		     "-5", NULL);
	expect_error("--fetch-wait-ms", "-b", "h", "-t", "t", "--consumers", "1", "--fetch-wait-ms",
		     "1.5", NULL);
	expect_error("--consume-timeout", "-b", "h", "-t", "t", "--consumers", "1",
		     "--consume-timeout", "0", NULL);
	expect_error("--consume-timeout", "-b", "h", "-t", "t", "--consumers", "1",
		     "--consume-timeout", "31536001", NULL);
	expect_error("--consume-timeout", "-b", "h", "-t", "t", "--consumers", "1",
		     "--consume-timeout", "nan", NULL);
	expect_error("--consumer-mode needs --consumers", "-b", "h", "-t", "t", "--consumer-mode",
		     "group", NULL);
	expect_error("--fetch-wait-ms needs --consumers", "-b", "h", "-t", "t", "--consumers", "0",
		     "--fetch-wait-ms", "10", NULL);
	expect_error("--consume-timeout needs --consumers", "-b", "h", "-t", "t",
		     "--consume-timeout", "5", NULL);
	expect_error("--profile: expected librdkafka or java", "-b", "h", "-t", "t", "--profile",
		     "Java", NULL);
	expect_error("--profile", "-b", "h", "-t", "t", "--profile", "", NULL);
	expect_error("needs a value", "-b", "h", "-t", "t", "--profile", NULL);
}

static void test_too_many_props(void **state)
{
	char *argv[2 * LOAD_MAX_PROPS + 8];
	int argc = 0;
	struct load_opts o;
	char err[256];

	(void)state;
	argv[argc++] = "load";
	argv[argc++] = "-b";
	argv[argc++] = "h";
	argv[argc++] = "-t";
	argv[argc++] = "t";
	for (int i = 0; i <= LOAD_MAX_PROPS; i++) {
		argv[argc++] = "-X";
		argv[argc++] = "a=b";
	}
	argv[argc] = NULL;
	assert_int_equal(loadopts_parse(&o, argc, argv, err, sizeof(err)), LOADOPTS_ERROR);
	assert_non_null(strstr(err, "at most"));
	/* exactly the limit is fine */
	argc -= 2;
	argv[argc] = NULL;
	assert_int_equal(loadopts_parse(&o, argc, argv, err, sizeof(err)), LOADOPTS_OK);
	assert_int_equal(o.nprops, LOAD_MAX_PROPS);
}

/* getopt keeps state between calls; the parser must reset it. */
static void test_reparse(void **state)
{
	struct load_opts o;
	char err[256];

	(void)state;
	expect_error("unknown option", "-b", "h", "-t", "t", "-Z", NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		    parse(&o, err, sizeof(err), "-b", "h", "-t", "t", "--count", "7", NULL),
		    LOADOPTS_OK);
		assert_int_equal(o.count, 7);
	}
}

/*
 * Shape of librdkafka 2.0.2 statistics against the mock cluster (fields cut
 * down), plus a bootstrap entry (nodeid -1) whose requests must not count and
 * a "Produce" key inside toppars that must be ignored.
 */
static const char stats_sample[] =
    "{ \"name\": \"rdkafka#producer-1\", \"client_id\": \"rdkafka\", \"type\": \"producer\", "
    "\"ts\":492849909, \"msg_cnt\":0, \"brokers\":{ "
    "\"127.0.0.1:35893/bootstrap\": { \"name\":\"127.0.0.1:35893/bootstrap\", \"nodeid\":-1, "
    "\"req\": { \"Produce\": 99, \"Metadata\": 1 }, \"toppars\":{ } }, "
    "\"127.0.0.1:35893/2\": { \"name\":\"127.0.0.1:35893/2\", \"nodeid\":2, "
    "\"nodename\":\"127.0.0.1:35893\", \"source\":\"configured\", \"state\":\"UP\", "
    "\"tx\":7, \"int_latency\": { \"min\":0, \"max\":0, \"p99_99\": 0, \"cnt\":0 }, "
    "\"req\": { \"Produce\": 4, \"ListOffsets\": 0, \"Metadata\": 1, \"ApiVersion\": 2 }, "
    "\"toppars\":{ \"t1-0\": { \"topic\": \"t1\", \"partition\": 0, \"Produce\": 1000 }, "
    "\"t1-1\": { \"topic\": \"t1\", \"partition\": 1 } } }, "
    "\"127.0.0.1:38105/1\": { \"name\":\"127.0.0.1:38105/1\", \"nodeid\":1, "
    "\"name_with_escape\":\"a\\\"b\\\\\", \"list\":[1,[2,{\"x\":null}],true,false,-1.5e3], "
    "\"req\": { \"Produce\": 1, \"Metadata\": 0 }, \"toppars\":{ } } }, "
    "\"topics\":{ \"t1\": { \"topic\": \"t1\", \"batchsize\": { \"p99\": 0 } } }, "
    "\"tx\":14 }";

static void test_stats_sample(void **state)
{
	uint64_t n = 0;

	(void)state;
	assert_int_equal(loadstats_produce_requests(stats_sample, strlen(stats_sample), &n), 0);
	assert_int_equal(n, 5);
}

static void test_stats_no_brokers(void **state)
{
	static const char empty[] = "{\"name\":\"x\",\"brokers\":{}}";
	static const char none[] = "{\"name\":\"x\",\"tx\":1}";
	uint64_t n = 42;

	(void)state;
	assert_int_equal(loadstats_produce_requests(empty, strlen(empty), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(loadstats_produce_requests(none, strlen(none), &n), -1);
	assert_int_equal(loadstats_produce_requests("", 0, &n), -1);
	assert_int_equal(loadstats_produce_requests(NULL, 0, &n), -1);
}

/* Every truncation of the sample must be handled without reading past the
 * end (ASan checks: each prefix is copied into an exact-size allocation). */
static void test_stats_truncated(void **state)
{
	size_t len = strlen(stats_sample);
	size_t brokers_end = strstr(stats_sample, ", \"topics\"") - stats_sample;

	(void)state;
	for (size_t i = 0; i < len; i++) {
		char *buf = malloc(i ? i : 1);
		uint64_t n = 0;
		assert_non_null(buf);
		memcpy(buf, stats_sample, i);
		int rc = loadstats_produce_requests(buf, i, &n);
		/* once the brokers object is complete, the count is known */
		if (i < brokers_end)
			assert_int_equal(rc, -1);
		else
			assert_true(rc == -1 || n == 5);
		free(buf);
	}
}

static void test_stats_malformed(void **state)
{
	static const char *const bad[] = {
	    "[]",
	    "{\"brokers\":[]}",
	    "{\"brokers\":{\"b\":{\"nodeid\":\"x\"}}}",
	    "{\"brokers\":{\"b\":{\"nodeid\":1,\"req\":{\"Produce\":\"x\"}}}}",
	    "{\"brokers\":{\"b\":{\"nodeid\":1,\"req\":{\"Produce\":-}}}}",
	    "{\"brokers\":{\"b\" {}}}",
	    "{\"brokers\":{\"b\":{} \"c\":{}}}",
	    "{\"brokers\":{\"b\":{\"nodeid\":99999999999999999999999}}}",
	    "{\"a\":\"unterminated",
	    "{\"a\":\"\\",
	};
	uint64_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (loadstats_produce_requests(bad[i], strlen(bad[i]), &n) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void test_stats_deep_nesting(void **state)
{
	size_t depth = 10000;
	char *buf = malloc(2 * depth + 16);
	size_t len = 0;
	uint64_t n;

	(void)state;
	assert_non_null(buf);
	len += (size_t)sprintf(buf, "{\"a\":");
	for (size_t i = 0; i < depth; i++)
		buf[len++] = '[';
	for (size_t i = 0; i < depth; i++)
		buf[len++] = ']';
	buf[len++] = '}';
	assert_int_equal(loadstats_produce_requests(buf, len, &n), -1);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),	       cmocka_unit_test(test_all_options),
	    cmocka_unit_test(test_count_and_acks),     cmocka_unit_test(test_consumer_bounds),
	    cmocka_unit_test(test_profiles),	       cmocka_unit_test(test_help),
	    cmocka_unit_test(test_usage_text),	       cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_too_many_props),     cmocka_unit_test(test_reparse),
	    cmocka_unit_test(test_stats_sample),       cmocka_unit_test(test_stats_no_brokers),
	    cmocka_unit_test(test_stats_truncated),    cmocka_unit_test(test_stats_malformed),
	    cmocka_unit_test(test_stats_deep_nesting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
