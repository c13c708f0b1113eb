// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kafkalat/cli.h"

#define MAX_ARGS 32

struct parse {
	struct cli_opts o;
	char err[256];
	char *argv[MAX_ARGS + 1];
	enum cli_result r;
};

/* cli_parse of "kafkalat" followed by the arguments up to NULL. */
static enum cli_result run_args(struct parse *p, va_list ap)
{
	int argc = 0;
	const char *a;

	p->argv[argc++] = "kafkalat";
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(argc < MAX_ARGS);
		p->argv[argc++] = (char *)a;
	}
	p->argv[argc] = NULL;
	memset(p->err, 'x', sizeof(p->err)); /* must be overwritten */
	p->err[sizeof(p->err) - 1] = '\0';
	p->r = cli_parse(argc, p->argv, &p->o, p->err, sizeof(p->err));
	return p->r;
}

static enum cli_result run(struct parse *p, ...)
{
	enum cli_result r;
	va_list ap;

	va_start(ap, p);
	r = run_args(p, ap);
	va_end(ap);
	return r;
}

/* Expects CLI_RUN with no error text. */
#define OK(p, ...)                                                      \
	do {                                                            \
		assert_int_equal(run((p), __VA_ARGS__, NULL), CLI_RUN); \
		assert_string_equal((p)->err, "");                      \
	} while (0)

/* Expects CLI_ERROR with exactly this one-line message. */
#define ERR(msg, ...)                                                     \
	do {                                                              \
		struct parse p_;                                          \
		assert_int_equal(run(&p_, __VA_ARGS__, NULL), CLI_ERROR); \
		assert_string_equal(p_.err, (msg));                       \
		assert_null(strchr(p_.err, '\n'));                        \
	} while (0)

/* --- defaults and options ------------------------------------------------ */

static void test_defaults(void **state)
{
	struct parse p;

	(void)state;
	assert_int_equal(run(&p, NULL), CLI_RUN);
	assert_string_equal(p.err, "");
	assert_int_equal(p.o.pids[0], 0);
	assert_int_equal(p.o.nports, 1);
	assert_int_equal(p.o.ports[0], CLI_DEFAULT_PORT);
	assert_int_equal(p.o.ports[0], 9092);
	assert_true(p.o.duration_s == 0);
	assert_true(p.o.interval_s == 0);
	assert_int_equal(p.o.count, 0);
	assert_true(p.o.slower_ms == -1);
	assert_false(p.o.json);
	assert_false(p.o.verbose);
	assert_null(p.o.requests_path);
	assert_int_equal(p.o.ringbuf_bytes, 0); /* 0: the loader's default */
}

static void test_short_options(void **state)
{
	struct parse p;

	(void)state;
	OK(&p, "-p", "1234", "-P", "9093", "-d", "30", "-j", "-v");
	assert_int_equal(p.o.pids[0], 1234);
	assert_int_equal(p.o.nports, 1);
	assert_int_equal(p.o.ports[0], 9093);
	assert_true(p.o.duration_s == 30);
	assert_true(p.o.json);
	assert_true(p.o.verbose);
	OK(&p, "-p1", "-P1", "-d0.5", "-jv");
	assert_int_equal(p.o.pids[0], 1);
	assert_int_equal(p.o.ports[0], 1);
	assert_true(p.o.duration_s == 0.5);
	assert_true(p.o.json && p.o.verbose);
}

/* -p repeated: several brokers, a repeat counted once, at most 8. */
static void test_several_pids(void **state)
{
	struct parse p;

	(void)state;
	OK(&p, "-p", "10", "--pid", "20", "-p", "10", "-P", "9092", "-P", "9093");
	assert_int_equal(p.o.npids, 2);
	assert_int_equal(p.o.pids[0], 10);
	assert_int_equal(p.o.pids[1], 20);
	assert_int_equal(p.o.nports, 2);
	OK(&p, "-P", "9092");
	assert_int_equal(p.o.npids, 0);
	ERR("at most 8 pids", "-p", "1", "-p", "2", "-p", "3", "-p", "4", "-p", "5", "-p", "6",
	    "-p", "7", "-p", "8", "-p", "9");
}

static void test_long_options(void **state)
{
	struct parse p;

	(void)state;
	OK(&p, "--pid", "77", "--port=19092", "--duration", "0.001", "--slower", "100", "--json",
	   "--requests", "/tmp/r.jsonl", "--ringbuf-mb", "64", "--verbose");
	assert_int_equal(p.o.pids[0], 77);
	assert_int_equal(p.o.nports, 1);
	assert_int_equal(p.o.ports[0], 19092);
	assert_true(p.o.duration_s == 0.001);
	assert_true(p.o.slower_ms == 100);
	assert_true(p.o.json);
	assert_string_equal(p.o.requests_path, "/tmp/r.jsonl");
	assert_int_equal(p.o.ringbuf_bytes, (size_t)64 << 20);
	assert_true(p.o.verbose);
	OK(&p, "--slower=0", "--ringbuf-mb=1");
	assert_true(p.o.slower_ms == 0);
	assert_int_equal(p.o.ringbuf_bytes, (size_t)1 << 20);
	OK(&p, "--ringbuf-mb", "4096");
	assert_int_equal(p.o.ringbuf_bytes, (size_t)4096 << 20);
	assert_int_equal(p.o.calm_nice, CLI_DEFAULT_CALM_NICE);
	assert_int_equal(CLI_DEFAULT_CALM_NICE, 19);
	OK(&p, "--nice", "0");
	assert_int_equal(p.o.calm_nice, 0);
	OK(&p, "--nice=-20");
	assert_int_equal(p.o.calm_nice, -20);
	OK(&p, "--nice", "19");
	assert_int_equal(p.o.calm_nice, 19);
	assert_false(p.o.bpf_stats);
	OK(&p, "--bpf-stats");
	assert_true(p.o.bpf_stats);
	assert_false(p.o.follow);
	OK(&p, "--follow");
	assert_true(p.o.follow);
}

static void test_ports(void **state)
{
	struct parse p;

	(void)state;
	OK(&p, "-P", "1", "-P", "65535", "-P", "1", "--port", "9092");
	assert_int_equal(p.o.nports, 3); /* duplicates kept once */
	assert_int_equal(p.o.ports[0], 1);
	assert_int_equal(p.o.ports[1], 65535);
	assert_int_equal(p.o.ports[2], 9092);
	OK(&p, "-P", "1", "-P", "2", "-P", "3", "-P", "4", "-P", "5", "-P", "6", "-P", "7", "-P",
	   "8");
	assert_int_equal(p.o.nports, KLT_MAX_PORTS);
	for (int i = 0; i < KLT_MAX_PORTS; i++)
		assert_int_equal(p.o.ports[i], i + 1);
}

static void test_positionals(void **state)
{
	struct parse p;

	(void)state;
	OK(&p, "5");
	assert_true(p.o.interval_s == 5);
	assert_int_equal(p.o.count, 0);
	OK(&p, "0.5", "3");
	assert_true(p.o.interval_s == 0.5);
	assert_int_equal(p.o.count, 3);
	OK(&p, "-p", "1234", "5");
	assert_int_equal(p.o.pids[0], 1234);
	assert_true(p.o.interval_s == 5);
	/* options after the positionals (GNU argument order) */
	OK(&p, "2", "10", "-j");
	assert_true(p.o.json);
	assert_true(p.o.interval_s == 2);
	assert_int_equal(p.o.count, 10);
	OK(&p, "-j", "--", "1");
	assert_true(p.o.interval_s == 1);
	OK(&p, "0.01", "2147483647");
	assert_int_equal(p.o.count, 2147483647L);
}

/* --- errors ------------------------------------------------------------------ */

static void test_bad_ports(void **state)
{
	(void)state;
	ERR("invalid port '0' (expected 1-65535)", "-P", "0");
	ERR("invalid port '65536' (expected 1-65535)", "-P", "65536");
	ERR("invalid port 'abc' (expected 1-65535)", "--port", "abc");
	ERR("invalid port '' (expected 1-65535)", "--port=");
	ERR("invalid port '-1' (expected 1-65535)", "-P", "-1");
	ERR("invalid port '9092x' (expected 1-65535)", "-P", "9092x");
	ERR("at most 8 ports", "-P", "1", "-P", "2", "-P", "3", "-P", "4", "-P", "5", "-P", "6",
	    "-P", "7", "-P", "8", "-P", "9");
}

static void test_bad_values(void **state)
{
	(void)state;
	ERR("invalid pid '0'", "-p", "0");
	ERR("invalid pid 'abc'", "--pid", "abc");
	ERR("invalid pid '2147483648'", "-p", "2147483648");
	ERR("invalid duration '0' (seconds > 0)", "-d", "0");
	ERR("invalid duration 'x' (seconds > 0)", "--duration", "x");
	ERR("invalid duration 'inf' (seconds > 0)", "-d", "inf");
	ERR("invalid duration 'nan' (seconds > 0)", "-d", "nan");
	ERR("invalid --slower '-1' (milliseconds >= 0)", "--slower", "-1");
	ERR("invalid --slower '5ms' (milliseconds >= 0)", "--slower", "5ms");
	ERR("invalid --ringbuf-mb '3' (power of two, 1-4096)", "--ringbuf-mb", "3");
	ERR("invalid --ringbuf-mb '0' (power of two, 1-4096)", "--ringbuf-mb", "0");
	ERR("invalid --ringbuf-mb '8192' (power of two, 1-4096)", "--ringbuf-mb", "8192");
	ERR("invalid --ringbuf-mb '1.5' (power of two, 1-4096)", "--ringbuf-mb", "1.5");
	ERR("invalid --nice '20' (expected -20 to 19)", "--nice", "20");
	ERR("invalid --nice '-21' (expected -20 to 19)", "--nice", "-21");
	ERR("invalid --nice 'low' (expected -20 to 19)", "--nice", "low");
	ERR("option --nice needs an argument (see kafkalat --help)", "--nice");
}

static void test_bad_positionals(void **state)
{
	(void)state;
	ERR("invalid interval 'abc' (seconds > 0)", "abc");
	ERR("invalid interval '0' (seconds > 0)", "0");
	ERR("invalid interval '0.001' (seconds > 0)", "0.001");
	ERR("invalid count '0' (integer >= 1)", "1", "0");
	ERR("invalid count '1.5' (integer >= 1)", "1", "1.5");
	ERR("invalid count 'x' (integer >= 1)", "1", "x");
	ERR("unexpected argument '3' (see kafkalat --help)", "1", "2", "3");
	ERR("unexpected argument 'c' (see kafkalat --help)", "a", "b", "c", "d");
}

static void test_unknown_and_missing(void **state)
{
	(void)state;
	ERR("unknown option '--bogus' (see kafkalat --help)", "--bogus");
	ERR("unknown option '--bogus=1' (see kafkalat --help)", "--bogus=1");
	ERR("option -P needs an argument (see kafkalat --help)", "-P");
	ERR("option -p needs an argument (see kafkalat --help)", "-j", "-p");
	ERR("option -d needs an argument (see kafkalat --help)", "-d");
}

/* --- help and version --------------------------------------------------------- */

/* Runs cli_parse with stdout sent to a temporary file; returns its text. */
static char *run_captured(struct parse *p, const char *arg)
{
	FILE *tmp = tmpfile();
	int saved;
	char *text;
	long n;

	assert_non_null(tmp);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	run(p, arg, NULL);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	n = lseek(fileno(tmp), 0, SEEK_END);
	assert_true(n >= 0);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(pread(fileno(tmp), text, (size_t)n, 0), n);
	fclose(tmp);
	return text;
}

static void test_help(void **state)
{
	struct parse p;
	char *text;

	(void)state;
	text = run_captured(&p, "--help");
	assert_int_equal(p.r, CLI_EXIT);
	assert_int_equal(strncmp(text, "Usage: kafkalat [-p PID]", 24), 0);
	assert_non_null(strstr(text, "--ringbuf-mb MB"));
	assert_non_null(strstr(text, "--nice N"));
	free(text);
	text = run_captured(&p, "-h");
	assert_int_equal(p.r, CLI_EXIT);
	assert_int_equal(strncmp(text, "Usage: kafkalat", 15), 0);
	free(text);
}

static void test_version(void **state)
{
	struct parse p;
	char *text;

	(void)state;
	text = run_captured(&p, "--version");
	assert_int_equal(p.r, CLI_EXIT);
	assert_int_equal(strncmp(text, "kafkalat ", 9), 0);
	assert_non_null(strstr(text, "(event ABI "));
	assert_non_null(strchr(text, '\n'));
	free(text);
	text = run_captured(&p, "-V");
	assert_int_equal(p.r, CLI_EXIT);
	free(text);
}

/* --- number helpers --------------------------------------------------------- */

static void test_parse_numbers(void **state)
{
	double d = -7;
	long l = -7;

	(void)state;
	assert_int_equal(cli_parse_double("2.5", 0, 10, &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(cli_parse_double("10", 0, 10, &d), 0);
	assert_int_equal(cli_parse_double("", 0, 10, &d), -EINVAL);
	assert_int_equal(cli_parse_double(NULL, 0, 10, &d), -EINVAL);
	assert_int_equal(cli_parse_double("10.01", 0, 10, &d), -ERANGE);
	assert_int_equal(cli_parse_double("1e400", 0, 1e9, &d), -ERANGE);
	assert_int_equal(cli_parse_double("1 ", 0, 10, &d), -ERANGE);
	assert_true(d == 10);
	assert_int_equal(cli_parse_long("-5", -10, 10, &l), 0);
	assert_int_equal(l, -5);
	assert_int_equal(cli_parse_long("0x10", 0, 100, &l), -ERANGE);
	assert_int_equal(cli_parse_long("99999999999999999999", 0, 100, &l), -ERANGE);
	assert_int_equal(cli_parse_long("", 0, 100, &l), -EINVAL);
	assert_int_equal(cli_parse_long(NULL, 0, 100, &l), -EINVAL);
	assert_int_equal(l, -5);
}

/* --- regressions of bugs found by these tests ----------------------------- */

/* An unknown short option was reported as a missing argument (glibc
 * sets optopt for both cases). */
static void test_regression_unknown_short_option(void **state)
{
	(void)state;
	ERR("unknown option '-x' (see kafkalat --help)", "-x");
}

/* A long option without its argument: optopt is the option's val (>= 256),
 * printed with %c: NUL for --slower cuts the message to "option -", and
 * --requests/--ringbuf-mb put the bytes 0x01/0x02 into it. */
static void test_regression_long_option_missing_argument(void **state)
{
	struct parse p;

	(void)state;
	assert_int_equal(run(&p, "--slower", NULL), CLI_ERROR);
	assert_non_null(strstr(p.err, "--slower"));
	assert_int_equal(run(&p, "--requests", NULL), CLI_ERROR);
	for (const char *c = p.err; *c; c++)
		assert_true((unsigned char)*c >= 0x20);
	assert_non_null(strstr(p.err, "--requests"));
}

/* optind = 1 does not reset glibc's position inside a cluster of short
 * options: after "-hv" returned at 'h', the next cli_parse goes on with 'v'
 * of the previous argv. (optind = 0 re-initialises, as loadopts.c does.) */
static void test_regression_state_leaks_between_calls(void **state)
{
	struct parse p;
	char *text;

	(void)state;
	text = run_captured(&p, "-hv");
	free(text);
	OK(&p, "-j");
	assert_false(p.o.verbose);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_short_options),
	    cmocka_unit_test(test_several_pids),
	    cmocka_unit_test(test_long_options),
	    cmocka_unit_test(test_ports),
	    cmocka_unit_test(test_positionals),
	    cmocka_unit_test(test_bad_ports),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_bad_positionals),
	    cmocka_unit_test(test_unknown_and_missing),
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_parse_numbers),
	    cmocka_unit_test(test_regression_unknown_short_option),
	    cmocka_unit_test(test_regression_long_option_missing_argument),
	    cmocka_unit_test(test_regression_state_leaks_between_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
