// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer target: random text through the kallsyms parser, checking that
 * what comes out is consistent: symbols sorted, every symbol found again by
 * address (the first of its address), counts within the number of lines. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/ksyms.h"

static void check(const struct ksyms *ks, size_t size)
{
	size_t n = ksyms__count(ks);

	if (n == 0 || n + ksyms__skipped(ks) > size)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct ksym *s = ksyms__at(ks, i), *m = ksyms__map_addr(ks, s->addr);
		int first = i == 0 || ksyms__at(ks, i - 1)->addr != s->addr;

		if (i && ksyms__at(ks, i - 1)->addr > s->addr)
			abort();
		if (!m || m->addr != s->addr || (first && m != s))
			abort();
		if (!s->name[0] || strlen(s->name) > KSYMS_MAX_NAME || (s->module && !s->module[0]))
			abort();
	}
	if (ksyms__at(ks, 0)->addr && ksyms__map_addr(ks, ksyms__at(ks, 0)->addr - 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so ASan catches any read past the end */
	char *text = malloc(size ? size : 1);
	struct ksyms *ks = NULL;

	if (!text)
		return 0;
	memcpy(text, data, size);
	if (ksyms__parse(text, size, &ks) == 0)
		check(ks, size);
	ksyms__free(ks);
	free(text);
	return 0;
}
