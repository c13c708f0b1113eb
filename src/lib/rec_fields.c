// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Packed per-phase and per-cause arrays of recordings, old layouts included:
 * see include/kafkalat/rec_fields.h. */
#include <errno.h>
#include <string.h>

#include "kafkalat/rec_fields.h"

_Static_assert(ATTRIB_PHASES_V1 < ATTRIB_PHASES && ATTRIB_CAUSES_V1 < ATTRIB_CAUSES,
	       "the old layouts are the shorter ones");

int rf_phase(uint64_t i, unsigned int nphases)
{
	if (nphases == ATTRIB_PHASES)
		return i < ATTRIB_PHASES ? (int)i : -1;
	return i < ATTRIB_PHASES_V1 ? (int)attrib_phase_from_v1((unsigned int)i) : -1;
}

int rf_get_phases_i64(const struct tlv_cur *val, int64_t *out)
{
	int64_t v[ATTRIB_PHASES_V1];
	long n = tlv_count_varints(val);

	if (n == ATTRIB_PHASES)
		return tlv_get_i64s(val, out, ATTRIB_PHASES);
	if (n != ATTRIB_PHASES_V1 || tlv_get_i64s(val, v, ATTRIB_PHASES_V1))
		return -EINVAL;
	memset(out, 0, ATTRIB_PHASES * sizeof(*out));
	for (unsigned int i = 0; i < ATTRIB_PHASES_V1; i++)
		out[attrib_phase_from_v1(i)] = v[i];
	return 0;
}

int rf_get_phases_f64(const struct tlv_cur *val, double *out)
{
	double v[ATTRIB_PHASES_V1];

	if (tlv_cur_len(val) == ATTRIB_PHASES * 8)
		return tlv_get_f64s(val, out, ATTRIB_PHASES);
	if (tlv_get_f64s(val, v, ATTRIB_PHASES_V1))
		return -EINVAL;
	for (unsigned int i = 0; i < ATTRIB_PHASES; i++)
		out[i] = 0;
	for (unsigned int i = 0; i < ATTRIB_PHASES_V1; i++)
		out[attrib_phase_from_v1(i)] = v[i];
	return 0;
}

int rf_get_causes_i64(const struct tlv_cur *val, int64_t *out)
{
	long n = tlv_count_varints(val);

	if (n != ATTRIB_CAUSES && n != ATTRIB_CAUSES_V1)
		return -EINVAL;
	memset(out, 0, ATTRIB_CAUSES * sizeof(*out));
	return tlv_get_i64s(val, out, (size_t)n);
}

int rf_get_causes_f64(const struct tlv_cur *val, double *out)
{
	size_t n = tlv_cur_len(val) / 8;

	if (n != ATTRIB_CAUSES && n != ATTRIB_CAUSES_V1)
		return -EINVAL;
	for (unsigned int i = 0; i < ATTRIB_CAUSES; i++)
		out[i] = 0;
	return tlv_get_f64s(val, out, n);
}
