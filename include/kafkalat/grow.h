/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef KAFKALAT_GROW_H
#define KAFKALAT_GROW_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

/*
 * Room for need elements of elem bytes in *arr (capacity *cap elements),
 * doubling from 8: 0, -ERANGE when need is over limit, -ENOMEM. *arr and
 * *cap are unchanged on failure. arr is the address of the array pointer,
 * cast: grow_array((void **)&v, &cap, n + 1, sizeof(*v), LIMIT).
 */
static inline int grow_array(void **arr, size_t *cap, size_t need, size_t elem, size_t limit)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	void *n;

	if (need <= *cap)
		return 0;
	if (need > limit)
		return -ERANGE;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

#endif
