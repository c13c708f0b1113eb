// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The string table: indexes in order of first sight, growth past the
 * initial 16 slots, the limit, and what 0 stands for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "kafkalat/strtab.h"

static void test_empty(void **state)
{
	struct strtab t;

	(void)state;
	assert_int_equal(strtab_init(&t, 4), 0);
	assert_string_equal(strtab_str(&t, 0), "");
	assert_int_equal(strtab_intern(&t, NULL), 0);
	assert_int_equal(strtab_intern(&t, ""), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.full, 0);
	strtab_free(&t);
}

static void test_intern(void **state)
{
	struct strtab t;

	(void)state;
	assert_int_equal(strtab_init(&t, 4), 0);
	assert_int_equal(strtab_intern(&t, "orders-3"), 1);
	assert_int_equal(strtab_intern(&t, "orders-4"), 2);
	assert_int_equal(strtab_intern(&t, "orders-3"), 1);
	assert_string_equal(strtab_str(&t, 1), "orders-3");
	assert_string_equal(strtab_str(&t, 2), "orders-4");
	assert_int_equal(t.n, 3);
	strtab_free(&t);
}

/* 1000 strings: the table doubles from 16 six times; every index holds. */
static void test_growth(void **state)
{
	struct strtab t;
	char s[16];

	(void)state;
	assert_int_equal(strtab_init(&t, 1000), 0);
	assert_int_equal(t.cap, 16);
	for (uint32_t i = 0; i < 1000; i++) {
		snprintf(s, sizeof(s), "frame%u", i);
		assert_int_equal(strtab_intern(&t, s), i + 1);
	}
	assert_int_equal(t.cap, 1024);
	for (uint32_t i = 0; i < 1000; i++) {
		snprintf(s, sizeof(s), "frame%u", i);
		assert_int_equal(strtab_intern(&t, s), i + 1);
		assert_string_equal(strtab_str(&t, i + 1), s);
	}
	assert_int_equal(t.full, 0);
	strtab_free(&t);
}

/* Past max, new strings get 0 and are counted; known ones still resolve. */
static void test_limit(void **state)
{
	struct strtab t;

	(void)state;
	assert_int_equal(strtab_init(&t, 2), 0);
	assert_int_equal(strtab_intern(&t, "a"), 1);
	assert_int_equal(strtab_intern(&t, "b"), 2);
	assert_int_equal(strtab_intern(&t, "c"), 0);
	assert_int_equal(strtab_intern(&t, "d"), 0);
	assert_int_equal(t.full, 2);
	assert_int_equal(strtab_intern(&t, "b"), 2);
	assert_int_equal(t.full, 2);
	strtab_free(&t);

	assert_int_equal(strtab_init(&t, 0), 0);
	assert_int_equal(strtab_intern(&t, "a"), 0);
	assert_int_equal(t.full, 1);
	strtab_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_intern),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
