// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* HdrHistogram percentile text (hgrm files are read back to check them):
 * any input is rows and a footer that keep the reader's promises, or one
 * error line naming a line. The rows must never fall and must end at the
 * footer's total. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafkalat/hgrm.h"

static void check_rows(const struct hgrm_row *rows, size_t n, const struct hgrm_footer *f)
{
	for (size_t i = 1; i < n; i++)
		if (rows[i].percentile < rows[i - 1].percentile ||
		    rows[i].value < rows[i - 1].value ||
		    rows[i].total_count < rows[i - 1].total_count || !rows[i - 1].has_inv)
			abort();
	if (n ? rows[n - 1].has_inv || rows[n - 1].total_count != f->total_count
	      : f->total_count != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hgrm_row *rows;
	struct hgrm_footer f;
	char err[96];
	size_t n;

	if (hgrm_read((const char *)data, size, &rows, &n, &f, err, sizeof(err)) == 0) {
		check_rows(rows, n, &f);
		free(rows);
		return 0;
	}
	if (rows || n || strncmp(err, "line ", 5) || strchr(err, '\n'))
		abort();
	return 0;
}
