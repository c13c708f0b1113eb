// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests for the capability checks: which missing capabilities are
 * named, CAP_SYS_ADMIN standing in for CAP_BPF and CAP_PERFMON, a buffer
 * too small, and the process's own set read back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "kafkalat/caps.h"

#define BIT(n)	   (UINT64_C(1) << (n))
#define SYS_ADMIN  21
#define SYS_PTRACE 19
#define PERFMON	   38
#define BPF	   39

/* The set a root shell of this machine has: every capability but one. */
static const uint64_t ROOT = UINT64_C(0x000001fffeffffff);

static void test_root_has_all(void **state)
{
	char buf[64] = "x";

	(void)state;
	assert_int_equal(caps_missing(ROOT, CAPS_FOR_BPF | BIT(SYS_PTRACE), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_each_named(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(caps_missing(0, CAPS_FOR_BPF, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "CAP_BPF, CAP_PERFMON");
	assert_int_equal(caps_missing(BIT(PERFMON), CAPS_FOR_BPF, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "CAP_BPF");
	assert_int_equal(caps_missing(BIT(BPF), CAPS_FOR_BPF, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "CAP_PERFMON");
	assert_int_equal(caps_missing(CAPS_FOR_BPF, BIT(SYS_PTRACE), buf, sizeof(buf)), 1);
	assert_string_equal(buf, "CAP_SYS_PTRACE");
}

/* Without CAP_BPF and CAP_PERFMON, CAP_SYS_ADMIN grants both (kernels
 * before 5.8 know no other way). */
static void test_sys_admin_stands_in(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(caps_missing(BIT(SYS_ADMIN), CAPS_FOR_BPF, buf, sizeof(buf)), 0);
	assert_int_equal(caps_missing(ROOT & ~CAPS_FOR_BPF, CAPS_FOR_BPF, buf, sizeof(buf)), 0);
	assert_int_equal(
	    caps_missing(ROOT & ~(CAPS_FOR_BPF | BIT(SYS_ADMIN)), CAPS_FOR_BPF, buf, sizeof(buf)),
	    2);
	assert_string_equal(buf, "CAP_BPF, CAP_PERFMON");
	/* but not for the others */
	assert_int_equal(caps_missing(BIT(SYS_ADMIN), BIT(SYS_PTRACE), buf, sizeof(buf)), 1);
}

static void test_unnamed_and_short_buffer(void **state)
{
	char buf[64], tiny[8];

	(void)state;
	assert_null(caps_name(5));
	assert_int_equal(caps_missing(0, BIT(5) | BIT(63), buf, sizeof(buf)), 2);
	assert_string_equal(buf, "capability 63, capability 5");
	/* cut, terminated, every missing one still counted */
	assert_int_equal(caps_missing(0, CAPS_FOR_BPF, tiny, sizeof(tiny)), 2);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_int_equal(caps_missing(0, CAPS_FOR_BPF, NULL, 0), 2);
}

static void test_has(void **state)
{
	(void)state;
	assert_true(caps_has(BIT(0), 0));
	assert_true(caps_has(BIT(63), 63));
	assert_false(caps_has(~UINT64_C(0), 64));
	assert_false(caps_has(~UINT64_C(0), -1));
	assert_false(caps_has(ROOT, 24));
}

/* The process's own set is the one /proc/self/status shows. */
static void test_effective_matches_status(void **state)
{
	char line[256];
	unsigned long long want = 0;
	uint64_t eff = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/status", "r");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &want) == 1)
			found = true;
	fclose(f);
	assert_true(found);
	assert_int_equal(caps_effective(&eff), 0);
	assert_int_equal(eff, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root_has_all),
	    cmocka_unit_test(test_each_named),
	    cmocka_unit_test(test_sys_admin_stands_in),
	    cmocka_unit_test(test_unnamed_and_short_buffer),
	    cmocka_unit_test(test_has),
	    cmocka_unit_test(test_effective_matches_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
