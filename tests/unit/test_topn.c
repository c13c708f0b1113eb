// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Top-N: what is kept, who gives way, equal keys, slots that stay put and
 * the heap order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "kafkalat/topn.h"

struct rec {
	uint64_t key;
	uint32_t id;
};

static bool put(struct topn *t, uint64_t key, uint32_t id)
{
	struct rec *r = topn_put(t, key);

	if (!r)
		return false;
	*r = (struct rec){key, id};
	return true;
}

static uint32_t id_at(const struct topn *t, uint32_t slot)
{
	return ((const struct rec *)topn_at(t, slot))->id;
}

static void test_empty(void **state)
{
	struct topn t;

	(void)state;
	assert_int_equal(topn_init(&t, sizeof(struct rec), 3), 0);
	assert_int_equal(t.n, 0);
	assert_true(topn_wants(&t, 0));
	topn_free(&t);
	topn_free(&t); /* twice is harmless */
}

/* Keys 5 1 4 2 3 6 into 3: 1's slot goes to 2, then 3, then 6; 0 is refused. */
static void test_keeps_largest(void **state)
{
	static const uint64_t keys[] = {5, 1, 4, 2, 3, 6};
	struct topn t;

	(void)state;
	assert_int_equal(topn_init(&t, sizeof(struct rec), 3), 0);
	for (uint32_t i = 0; i < 6; i++)
		assert_true(put(&t, keys[i], i));
	assert_false(put(&t, 0, 6));
	assert_int_equal(t.n, 3);
	assert_int_equal(id_at(&t, 0), 0); /* 5 never moved */
	assert_int_equal(id_at(&t, 1), 5); /* 6 */
	assert_int_equal(id_at(&t, 2), 2); /* 4 */
	assert_int_equal(((struct rec *)topn_heap_at(&t, 0))->key, 4);
	assert_false(topn_wants(&t, 4));
	assert_true(topn_wants(&t, 5));
	topn_free(&t);
}

/* A newcomer equal to the smallest kept is refused: the first come stay. */
static void test_equal_keys(void **state)
{
	struct topn t;

	(void)state;
	assert_int_equal(topn_init(&t, sizeof(struct rec), 2), 0);
	assert_true(put(&t, 7, 1));
	assert_true(put(&t, 7, 2));
	assert_false(put(&t, 7, 3));
	assert_int_equal(id_at(&t, 0), 1);
	assert_int_equal(id_at(&t, 1), 2);
	topn_free(&t);
}

/* max 0 keeps one; a slot comes back zeroed. */
static void test_one(void **state)
{
	struct topn t;
	struct rec *r;

	(void)state;
	assert_int_equal(topn_init(&t, sizeof(struct rec), 0), 0);
	assert_int_equal(t.max, 1);
	assert_true(put(&t, 10, 1));
	assert_null(topn_put(&t, 9));
	r = topn_put(&t, 11);
	assert_non_null(r);
	assert_int_equal(r->key, 0);
	assert_int_equal(r->id, 0);
	topn_free(&t);
}

/* Many keys: the heap stays a min-heap and keeps exactly the largest. */
static void test_heap_order(void **state)
{
	struct topn t;
	uint64_t sum = 0;

	(void)state;
	assert_int_equal(topn_init(&t, sizeof(struct rec), 100), 0);
	for (uint32_t i = 0; i < 10000; i++)
		put(&t, (uint64_t)(i * 7919u) % 10000, i);
	assert_int_equal(t.n, 100);
	for (uint32_t i = 1; i < t.n; i++)
		assert_true(t.heap[(i - 1) / 2].key <= t.heap[i].key);
	for (uint32_t i = 0; i < t.n; i++)
		sum += ((struct rec *)topn_heap_at(&t, i))->key;
	assert_int_equal(sum, 100 * 9900 + 99 * 100 / 2); /* 9900..9999 */
	assert_int_equal(((struct rec *)topn_heap_at(&t, 0))->key, 9900);
	topn_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),      cmocka_unit_test(test_keeps_largest),
	    cmocka_unit_test(test_equal_keys), cmocka_unit_test(test_one),
	    cmocka_unit_test(test_heap_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
