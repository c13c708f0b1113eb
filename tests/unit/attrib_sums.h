/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The invariant every attribution keeps (attrib.h): per phase the causes
 * add up to the phase, and the phases plus the unattributed time to the
 * latency; nothing negative. For the tests that call attrib_request.
 */
#ifndef KAFKALAT_TESTS_ATTRIB_SUMS_H
#define KAFKALAT_TESTS_ATTRIB_SUMS_H

#include "kafkalat/attrib.h"

static inline void attrib_check_sums(const struct attrib_result *res)
{
	int64_t sum = res->unattributed_ns;

	for (int p = 0; p < ATTRIB_PHASES; p++) {
		int64_t c = 0;

		assert_true(res->phase_ns[p] >= 0);
		for (int k = 0; k < ATTRIB_CAUSES; k++) {
			assert_true(res->cause_ns[p][k] >= 0);
			c += res->cause_ns[p][k];
		}
		assert_int_equal(c, res->phase_ns[p]);
		sum += res->phase_ns[p];
	}
	assert_int_equal(sum, res->latency_ns);
	assert_true(res->unattributed_ns >= 0);
}

#endif
