/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A string table: interns strings, each kept once, and names them by a
 * small index that stays valid until strtab_free(). Index 0 is "" and also
 * stands for NULL and for a string that could not be kept, so a caller
 * stores indexes and never checks for failure. Bounded by max strings.
 */
#ifndef KAFKALAT_STRTAB_H
#define KAFKALAT_STRTAB_H

#include <stdint.h>

struct strtab {
	char **s; /* cap entries, n used */
	uint32_t n, cap, max;
	uint32_t *idx; /* open addressing over 2 * cap: string index, 0 empty */
	uint32_t mask;
	uint64_t full; /* strings not kept: max reached or out of memory */
};

/* Room for max strings besides "". 0 or -ENOMEM. */
int strtab_init(struct strtab *t, uint32_t max);
void strtab_free(struct strtab *t);
/* The index of s, added if new; 0 for NULL, "" or when s cannot be kept. */
uint32_t strtab_intern(struct strtab *t, const char *s);
/* The string of an index strtab_intern() returned. */
const char *strtab_str(const struct strtab *t, uint32_t i);

#endif
