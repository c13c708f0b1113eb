// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Folded stacks of the slowest requests: see include/kafkalat/folded.h. */
#include <errno.h>
#include <stdlib.h>

#include "kafkalat/folded.h"

struct folded {
	int32_t stack_id;
	uint8_t phase;
	uint64_t ns;
};

static int cmp_folded(const void *x, const void *y)
{
	const struct folded *a = x, *b = y;

	if (a->phase != b->phase)
		return a->phase < b->phase ? -1 : 1;
	return a->stack_id < b->stack_id ? -1 : a->stack_id > b->stack_id;
}

static size_t collect(const struct bands *b, struct folded *rows)
{
	uint64_t lo = bands_low(b, BAND_GE_P99);
	size_t n = 0;

	for (uint32_t i = 0; i < bands_kept(b); i++) {
		const struct slow_request *s = bands_kept_at(b, i);

		if (s->latency < lo)
			continue;
		for (uint32_t k = 0; k < s->nstacks && k < ATTRIB_STACKS; k++)
			rows[n++] = (struct folded){.stack_id = s->stacks[k].stack_id,
						    .phase = s->stacks[k].phase,
						    .ns = (uint64_t)s->stacks[k].ns};
	}
	qsort(rows, n, sizeof(*rows), cmp_folded);
	return n;
}

int folded_write(const struct bands *b, folded_frames_fn frames_of, const void *ctx, FILE *out)
{
	struct folded *rows = calloc((size_t)bands_kept(b) * ATTRIB_STACKS + 1, sizeof(*rows));
	size_t n, lines = 0;

	if (!rows)
		return -ENOMEM;
	n = collect(b, rows);
	for (size_t i = 0; i < n;) {
		const struct folded *r = &rows[i];
		const char *frames = frames_of(ctx, r->stack_id);
		uint64_t ns = 0;

		for (; i < n && !cmp_folded(&rows[i], r); i++)
			ns += rows[i].ns;
		if (ns < 1000)
			continue;
		fprintf(out, "%s;%s %llu\n", attrib_phase_name(r->phase),
			frames && *frames ? frames : "[unknown]", (unsigned long long)(ns / 1000));
		lines++;
	}
	free(rows);
	if (ferror(out))
		return -EIO;
	return (int)lines;
}
