/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef KAFKALAT_FNV_H
#define KAFKALAT_FNV_H

#include <stdint.h>

/* FNV-1a, 64 bits, of a NUL-terminated string: short keys, fast, and spread
 * well enough for open addressing over a power-of-two table. */
static inline uint64_t fnv1a64(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
	return h;
}

#endif
