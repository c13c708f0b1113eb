// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* FNV-1a against the published test vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kafkalat/fnv.h"

static void test_vectors(void **state)
{
	(void)state;
	assert_int_equal(fnv1a64(""), UINT64_C(0xcbf29ce484222325)); /* the offset basis */
	assert_int_equal(fnv1a64("a"), UINT64_C(0xaf63dc4c8601ec8c));
	assert_int_equal(fnv1a64("foobar"), UINT64_C(0x85944171f73967e8));
}

/* Bytes above 0x7f hash as unsigned: the same on every char signedness. */
static void test_high_bytes(void **state)
{
	(void)state;
	assert_int_equal(fnv1a64("\xff"),
			 (UINT64_C(0xcbf29ce484222325) ^ 0xff) * UINT64_C(0x100000001b3));
	assert_true(fnv1a64("ab") != fnv1a64("ba"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_high_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
