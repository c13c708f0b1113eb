// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Interned strings: see include/kafkalat/strtab.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/fnv.h"
#include "kafkalat/strtab.h"

static uint32_t *slot_of(const struct strtab *t, const char *s)
{
	uint32_t i = (uint32_t)fnv1a64(s) & t->mask;

	while (t->idx[i] && strcmp(t->s[t->idx[i]], s) != 0)
		i = (i + 1) & t->mask;
	return &t->idx[i];
}

/* Doubles the table (the strings stay, the index is rebuilt). */
static int grow(struct strtab *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 16;
	char **ns = realloc(t->s, cap * sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	t->s = ns;
	free(t->idx);
	t->mask = cap * 2 - 1;
	t->idx = calloc((size_t)t->mask + 1, sizeof(*t->idx));
	if (!t->idx)
		return -ENOMEM;
	t->cap = cap;
	for (uint32_t i = 1; i < t->n; i++)
		*slot_of(t, t->s[i]) = i;
	return 0;
}

int strtab_init(struct strtab *t, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max + 1;
	if (grow(t))
		return -ENOMEM;
	t->s[0] = strdup("");
	t->n = 1;
	return t->s[0] ? 0 : -ENOMEM;
}

void strtab_free(struct strtab *t)
{
	for (uint32_t i = 0; t->s && i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	free(t->idx);
}

uint32_t strtab_intern(struct strtab *t, const char *s)
{
	uint32_t *slot;

	if (!s || !*s || !t->idx)
		return 0;
	slot = slot_of(t, s);
	if (*slot)
		return *slot;
	/* a failed grow leaves no index: nothing more is added */
	if (t->n >= t->max || (t->n == t->cap && grow(t)) || !t->idx || !(t->s[t->n] = strdup(s))) {
		t->full++;
		return 0;
	}
	*slot_of(t, s) = t->n;
	return t->n++;
}

const char *strtab_str(const struct strtab *t, uint32_t i)
{
	return t->s[i];
}
