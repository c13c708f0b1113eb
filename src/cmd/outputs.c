// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include "kafkalat/outputs.h"
#include "kafkalat/report.h"

int outputs_open(struct outputs *o)
{
	for (int f = 0; f < PIPELINE_FILES; f++) {
		int err = o->path[f] ? report_create_private(o->path[f], &o->file[f]) : 0;

		if (err) {
			fprintf(stderr, "%s: cannot write %s: %s\n", o->prog, o->path[f],
				strerror(-err));
			return -1;
		}
	}
	return 0;
}

int outputs_close(struct outputs *o, const struct pipeline *p)
{
	int rc = 0;

	for (int f = 0; f < PIPELINE_FILES; f++) {
		int err;

		if (!o->file[f])
			continue;
		err = p ? pipeline_file_error(p, (enum pipeline_file)f) : 0;
		if (fclose(o->file[f]) && !err)
			err = -errno;
		o->file[f] = NULL;
		if (err) {
			fprintf(stderr, "%s: writing %s failed: %s\n", o->prog, o->path[f],
				strerror(-err));
			rc = -1;
		} else if (f == PIPELINE_FOLDED && p && pipeline_folded_lines(p) >= 0) {
			fprintf(stderr, "%s: %d folded stacks of the >= p99 requests in %s\n",
				o->prog, pipeline_folded_lines(p), o->path[f]);
		}
	}
	return rc;
}
