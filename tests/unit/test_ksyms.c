// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The kallsyms parser on synthetic text (order, duplicates, modules,
 * malformed lines, lookups at boundaries, a 250k-symbol file) and on this
 * machine's /proc/kallsyms when it is readable with addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "kafkalat/ksyms.h"

static struct ksyms *parse_ok(const char *text)
{
	struct ksyms *ks = NULL;

	assert_int_equal(ksyms__parse(text, strlen(text), &ks), 0);
	assert_non_null(ks);
	return ks;
}

static void assert_maps(const struct ksyms *ks, uint64_t addr, const char *name, const char *module)
{
	const struct ksym *s = ksyms__map_addr(ks, addr);

	assert_non_null(s);
	assert_string_equal(s->name, name);
	if (module)
		assert_string_equal(s->module, module);
	else
		assert_null(s->module);
}

/* The first symbol named name in address order, or NULL: the tests' own
 * search, as the module looks symbols up by address only. */
static const struct ksym *find_name(const struct ksyms *ks, const char *name)
{
	for (size_t i = 0; i < ksyms__count(ks); i++)
		if (!strcmp(ksyms__at(ks, i)->name, name))
			return ksyms__at(ks, i);
	return NULL;
}

static const char unsorted[] = "ffffffff81000300 T third\n"
			       "ffffffff81000100 T first\n"
			       "ffffffffc0200000 t ext4_dirty_inode\t[ext4]\n"
			       "ffffffff81000200 t second\n"
			       "ffffffffc0100000 T jbd2_log_wait_commit\t[jbd2]\n";

static void test_sorted_lookup(void **state)
{
	struct ksyms *ks = parse_ok(unsorted);

	(void)state;
	assert_int_equal(ksyms__count(ks), 5);
	assert_int_equal(ksyms__skipped(ks), 0);
	for (size_t i = 1; i < ksyms__count(ks); i++)
		assert_true(ksyms__at(ks, i - 1)->addr <= ksyms__at(ks, i)->addr);
	assert_null(ksyms__at(ks, 5));
	/* boundaries: below the first, exactly at, one below the next, far above */
	assert_null(ksyms__map_addr(ks, 0));
	assert_null(ksyms__map_addr(ks, 0xffffffff810000ffULL));
	assert_maps(ks, 0xffffffff81000100ULL, "first", NULL);
	assert_maps(ks, 0xffffffff810001ffULL, "first", NULL);
	assert_maps(ks, 0xffffffff81000200ULL, "second", NULL);
	assert_maps(ks, 0xffffffff81000301ULL, "third", NULL);
	assert_maps(ks, 0xffffffffc0100010ULL, "jbd2_log_wait_commit", "jbd2");
	assert_maps(ks, 0xffffffffc0200000ULL, "ext4_dirty_inode", "ext4");
	assert_maps(ks, UINT64_MAX, "ext4_dirty_inode", "ext4");
	assert_int_equal(ksyms__map_addr(ks, 0xffffffff81000200ULL)->type, 't');
	ksyms__free(ks);
}

static void test_null(void **state)
{
	(void)state;
	assert_null(ksyms__map_addr(NULL, 1));
	assert_null(ksyms__at(NULL, 0));
	assert_int_equal(ksyms__count(NULL), 0);
	assert_int_equal(ksyms__skipped(NULL), 0);
	ksyms__free(NULL);
}

/* Aliases: the first listed wins for an address, and all are kept in the
 * order listed. */
static void test_duplicates(void **state)
{
	struct ksyms *ks = parse_ok("ffffffff81000000 T srso_alias_untrain_ret\n"
				    "ffffffff81000000 T _stext\n"
				    "ffffffff81000000 T _text\n"
				    "ffffffff81000040 t dup\n"
				    "ffffffff81000020 t dup\n"
				    "ffffffff81000080 T after\n");

	(void)state;
	assert_int_equal(ksyms__count(ks), 6);
	assert_maps(ks, 0xffffffff81000000ULL, "srso_alias_untrain_ret", NULL);
	assert_maps(ks, 0xffffffff8100001fULL, "srso_alias_untrain_ret", NULL);
	assert_string_equal(ksyms__at(ks, 1)->name, "_stext");
	assert_string_equal(ksyms__at(ks, 2)->name, "_text");
	assert_int_equal(ksyms__at(ks, 2)->addr, 0xffffffff81000000ULL);
	assert_maps(ks, 0xffffffff81000020ULL, "dup", NULL);
	assert_maps(ks, 0xffffffff81000079ULL, "dup", NULL);
	assert_int_equal(find_name(ks, "dup")->addr, 0xffffffff81000020ULL);
	ksyms__free(ks);
}

static void test_malformed(void **state)
{
	static const char text[] = "\n" /* blank */
				   "ffffffff81000000 T good\n"
				   "ffffffff81000010\n"			 /* no type */
				   "ffffffff81000020 T\n"		 /* no name */
				   "ffffffff81000030 TT bad\n"		 /* type */
				   "0xffffffff81000040 T hex_prefix\n"	 /* "0x" */
				   " ffffffff81000050 T leading_blank\n" /* blank */
				   "-1 T negative\n"			 /* sign */
				   "1ffffffff81000060 T too_long\n"	 /* 17 digits */
				   "fffffffg81000070 T bad_digit\n"
				   "ffffffff81000080 T name [mod\n"  /* no ']' */
				   "ffffffff81000090 T name []\n"    /* empty module */
				   "ffffffff810000a0 T name [m] x\n" /* after module */
				   "ffffffff810000b0 T na]me\n"
				   "ffffffff810000c0 T two names\n"
				   "ffffffff810000d0 T ok2\t[mod]  \r\n" /* trailing blanks ok */
				   "ffffffff810000e0 T cut";		 /* no newline */
	struct ksyms *ks = parse_ok(text);

	(void)state;
	assert_int_equal(ksyms__count(ks), 2);
	assert_int_equal(ksyms__skipped(ks), 15);
	assert_maps(ks, 0xffffffff810000e0ULL, "ok2", "mod");
	assert_null(find_name(ks, "cut"));
	ksyms__free(ks);
}

static void test_embedded_nul_and_long_name(void **state)
{
	char text[1200];
	struct ksyms *ks = NULL;
	size_t len;

	(void)state;
	memcpy(text, "ffffffff81000000 T a\0b\nffffffff81000010 T ok\n", 45);
	assert_int_equal(ksyms__parse(text, 45, &ks), 0);
	assert_int_equal(ksyms__count(ks), 1);
	assert_int_equal(ksyms__skipped(ks), 1);
	ksyms__free(ks);

	len = (size_t)snprintf(text, sizeof(text), "ffffffff81000000 T %0*d\n", KSYMS_MAX_NAME + 1,
			       7);
	assert_int_equal(ksyms__parse(text, len, &ks), -ENOENT);
	len = (size_t)snprintf(text, sizeof(text), "ffffffff81000000 T %0*d\n", KSYMS_MAX_NAME, 7);
	assert_int_equal(ksyms__parse(text, len, &ks), 0);
	ksyms__free(ks);
}

static void test_errors(void **state)
{
	struct ksyms *ks = NULL;

	(void)state;
	assert_int_equal(ksyms__parse("", 0, &ks), -ENOENT);
	assert_int_equal(ksyms__parse("garbage\n", 8, &ks), -ENOENT);
	assert_int_equal(ksyms__parse(NULL, 0, &ks), -EINVAL);
	assert_int_equal(ksyms__parse("x", 1, NULL), -EINVAL);
	assert_int_equal(ksyms__parse("x", (size_t)KSYMS_MAX_TEXT + 1, &ks), -EFBIG);
	/* kptr_restrict: every address shown as zero */
	assert_int_equal(ksyms__parse("0000000000000000 T a\n0000000000000000 T b\n", 42, &ks),
			 -EPERM);
	assert_null(ks);
	errno = 0;
	assert_null(ksyms__load("/nonexistent/kallsyms"));
	assert_int_equal(errno, ENOENT);
}

/* 250k symbols in shuffled order: every symbol maps back to itself. */
static void test_large(void **state)
{
	enum { N = 250000 };
	size_t cap = (size_t)N * 48, len = 0;
	char *text = malloc(cap);
	struct ksyms *ks = NULL;
	struct timespec t0, t1;

	(void)state;
	assert_non_null(text);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t k = (i * 7919) % N; /* 7919 is prime, coprime with N */

		len += (size_t)snprintf(text + len, cap - len, "%016llx t fn_%llu%s\n",
					(unsigned long long)(0xffffffff81000000ULL + k * 32),
					(unsigned long long)k, k % 10 ? "" : "\t[mod]");
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ksyms__parse(text, len, &ks), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("parsed %d symbols in %.1f ms\n", N,
		      (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			  (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	assert_int_equal(ksyms__count(ks), N);
	for (uint64_t k = 0; k < N; k += 997) {
		char name[32];
		const struct ksym *s = ksyms__map_addr(ks, 0xffffffff81000000ULL + k * 32 + 31);

		snprintf(name, sizeof(name), "fn_%llu", (unsigned long long)k);
		assert_non_null(s);
		assert_string_equal(s->name, name);
		assert_ptr_equal(ksyms__at(ks, k), s);
		assert_int_equal(s->module != NULL, k % 10 == 0);
	}
	ksyms__free(ks);
	free(text);
}

static void test_proc_kallsyms(void **state)
{
	struct timespec t0, t1;
	const struct ksym *s;
	struct ksyms *ks;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ks = ksyms__load(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!ks) {
		/* not root: addresses hidden (EPERM) or no /proc */
		assert_true(errno == EPERM || errno == ENOENT || errno == EACCES);
		skip();
	}
	print_message("/proc/kallsyms: %zu symbols, %zu skipped, %.1f ms\n", ksyms__count(ks),
		      ksyms__skipped(ks),
		      (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			  (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	assert_true(ksyms__count(ks) > 10000);
	assert_int_equal(ksyms__skipped(ks), 0);
	s = find_name(ks, "schedule");
	assert_non_null(s);
	/* an alias listed before it at the same address would win the lookup */
	assert_int_equal(ksyms__map_addr(ks, s->addr)->addr, s->addr);
	assert_string_equal(ksyms__map_addr(ks, s->addr + 1)->name, "schedule");
	assert_non_null(find_name(ks, "do_syscall_64"));
	ksyms__free(ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sorted_lookup),
	    cmocka_unit_test(test_null),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_embedded_nul_and_long_name),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_large),
	    cmocka_unit_test(test_proc_kallsyms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
