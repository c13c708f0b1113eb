// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Top-N records by key: see include/kafkalat/topn.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/topn.h"

int topn_init(struct topn *t, size_t esz, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	t->esz = esz;
	t->max = max ? max : 1;
	t->recs = calloc(t->max, esz);
	t->heap = calloc(t->max, sizeof(*t->heap));
	if (t->recs && t->heap)
		return 0;
	topn_free(t);
	return -ENOMEM;
}

void topn_free(struct topn *t)
{
	free(t->recs);
	free(t->heap);
	t->recs = NULL;
	t->heap = NULL;
	t->n = 0;
}

void topn_clear(struct topn *t)
{
	t->n = 0; /* slots are taken again from 0, zeroed by topn_put */
}

bool topn_wants(const struct topn *t, uint64_t key)
{
	return t->n < t->max || key > t->heap[0].key;
}

static void swap(struct topn_ent *h, uint32_t i, uint32_t j)
{
	struct topn_ent x = h[i];

	h[i] = h[j];
	h[j] = x;
}

static void sift_down(struct topn_ent *h, uint32_t n, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, m = i;

		if (l < n && h[l].key < h[m].key)
			m = l;
		if (l + 1 < n && h[l + 1].key < h[m].key)
			m = l + 1;
		if (m == i)
			return;
		swap(h, i, m);
		i = m;
	}
}

static void sift_up(struct topn_ent *h, uint32_t i)
{
	for (; i > 0 && h[(i - 1) / 2].key > h[i].key; i = (i - 1) / 2)
		swap(h, i, (i - 1) / 2);
}

void *topn_put(struct topn *t, uint64_t key)
{
	uint32_t slot;

	if (!topn_wants(t, key))
		return NULL;
	if (t->n == t->max) { /* the smallest kept gives way */
		slot = t->heap[0].slot;
		t->heap[0].key = key;
		sift_down(t->heap, t->n, 0);
	} else {
		slot = t->n;
		t->heap[t->n] = (struct topn_ent){key, slot};
		sift_up(t->heap, t->n++);
	}
	return memset(t->recs + slot * t->esz, 0, t->esz);
}

void *topn_at(const struct topn *t, uint32_t i)
{
	return t->recs + i * t->esz;
}

void *topn_heap_at(const struct topn *t, uint32_t i)
{
	return topn_at(t, t->heap[i].slot);
}
